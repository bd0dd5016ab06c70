//! `kasbah rules check`: load Sigma rule folders and report what loaded, what was skipped and
//! why. The loading itself is `kasbah_detect::loader`, shared with `kasbah hunt` and the server.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use kasbah_detect::{LoadOptions, Loaded};
use kasbah_sigma::Diagnostic;
use serde::Serialize;

pub mod update;

/// Where rules come from and how they compile (shared by `rules check` and `hunt`).
#[derive(Args, Debug, Clone)]
pub struct RuleOpts {
    /// Values of `expand` placeholders: a YAML file mapping each name to a value or a list
    /// (`admins: [root, adm_*]`). Rules using unconfigured placeholders are skipped (KS024).
    #[arg(long, value_name = "FILE")]
    pub placeholders: Option<PathBuf>,
    /// Extra log-source mappings (YAML), added to the built-in ones; an entry with the same
    /// product/category/service replaces the built-in one.
    #[arg(long = "mappings", value_name = "FILE")]
    pub mappings: Vec<PathBuf>,
    /// Read and parse every rule file, without the cache of parsed rules (kept in
    /// $KASBAH_CACHE_DIR, else $XDG_CACHE_HOME/kasbah or ~/.cache/kasbah; an entry is used while
    /// its file's size and modification time are unchanged, by the build that wrote it).
    #[arg(long)]
    pub no_rule_cache: bool,
}

/// The directory of the parsed-rule cache: `$KASBAH_CACHE_DIR`, else `$XDG_CACHE_HOME/kasbah`,
/// else `~/.cache/kasbah` (none when no such variable is set).
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("KASBAH_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kasbah")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("kasbah")))
}

impl RuleOpts {
    /// The loader's options.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            placeholders: self.placeholders.clone(),
            mappings: self.mappings.clone(),
            cache: if self.no_rule_cache {
                None
            } else {
                cache_dir()
            },
        }
    }
}

/// The `.yml` / `.yaml` files under `paths` (files given directly are kept whatever their name).
pub(crate) fn rule_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    Ok(kasbah_detect::loader::rule_files(paths)?)
}

/// Reads, parses and compiles every rule under `paths` (in parallel).
pub fn load(paths: &[PathBuf], opts: &RuleOpts) -> anyhow::Result<Loaded> {
    let loaded = kasbah_detect::loader::load(paths, &opts.load_options())?;
    if let Some(e) = &loaded.cache_error {
        eprintln!("kasbah: warning: rule cache: {e}");
    }
    Ok(loaded)
}

/// `kasbah rules` subcommands.
#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// Load rule folders and report what loaded, what was skipped and why.
    Check(CheckArgs),
    /// Download a Sigma rule package, verify it, report what changed, and install it.
    Update(update::UpdateArgs),
}

/// Output of `rules check`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// A summary and one line per skipped rule.
    Text,
    /// One JSON object: `{"loaded": N, "skipped": [{"path", "line", "code", "message"}], ...}`.
    Json,
}

/// Arguments of `kasbah rules check`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 every rule loaded, 1 error, 2 usage, 3 some rules were skipped.\nDiagnostic codes (KSxxx) are listed in docs/errors.md."
)]
pub struct CheckArgs {
    /// Rule files or folders (searched recursively for .yml / .yaml).
    #[arg(required = true, value_name = "DIR")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
    /// Also list warnings (rules loaded with a caveat, such as an unmapped log source).
    #[arg(long)]
    warnings: bool,
    #[command(flatten)]
    rules: RuleOpts,
}

#[derive(Serialize)]
struct Report<'a> {
    files: usize,
    loaded: usize,
    rules: usize,
    correlations: usize,
    filters: usize,
    /// Files taken from the cache of parsed rules.
    from_cache: usize,
    skipped: Vec<&'a Diagnostic>,
    warnings: Vec<&'a Diagnostic>,
    load_ms: u128,
}

/// Runs `kasbah rules <cmd>`.
pub fn run(cmd: RulesCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCmd::Check(args) => check(args),
        RulesCmd::Update(args) => update::run(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(&args.paths, &args.rules)?;
    let stats = loaded.engine.stats();
    let skipped: Vec<&Diagnostic> = loaded.skipped().collect();
    let warnings: Vec<&Diagnostic> = loaded.warnings().collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        CheckFormat::Json => {
            let report = Report {
                files: loaded.files,
                loaded: loaded.loaded(),
                rules: stats.rules,
                correlations: stats.correlations,
                filters: stats.filters,
                from_cache: loaded.from_cache,
                skipped: skipped.clone(),
                warnings: warnings.clone(),
                load_ms: loaded.elapsed.as_millis(),
            };
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        }
        CheckFormat::Text => {
            writeln!(
                out,
                "{} files: {} loaded ({} rules, {} correlations, {} filters applied), {} skipped, {} warnings, in {:.0?}",
                loaded.files,
                loaded.loaded(),
                stats.rules,
                stats.correlations,
                stats.filters,
                skipped.len(),
                warnings.len(),
                loaded.elapsed
            )?;
            if loaded.from_cache > 0 {
                writeln!(
                    out,
                    "{} files unchanged since they were parsed, taken from the rule cache (--no-rule-cache to parse them all)",
                    loaded.from_cache
                )?;
            }
            let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
            for d in skipped.iter().chain(warnings.iter()) {
                *by_code.entry(d.code.as_str()).or_default() += 1;
            }
            if !by_code.is_empty() {
                let codes: Vec<String> = by_code.iter().map(|(c, n)| format!("{c} x{n}")).collect();
                writeln!(out, "by code: {}", codes.join(", "))?;
            }
            for d in &skipped {
                writeln!(out, "skipped: {d}")?;
            }
            if args.warnings {
                for d in &warnings {
                    writeln!(out, "warning: {d}")?;
                }
            }
        }
    }
    out.flush()?;
    let ok = skipped.is_empty();
    // The process exits next; skip freeing the engine piece by piece.
    std::mem::forget(loaded);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_SKIPPED)
    })
}
