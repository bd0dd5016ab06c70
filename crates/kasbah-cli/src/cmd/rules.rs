//! `kasbah rules check`: load Sigma rule folders and report what loaded, what was skipped and
//! why. Also the rule loading shared with `kasbah hunt` (reading files is the binary's job; the
//! `kasbah-sigma` crate only sees texts).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use kasbah_sigma::{Config, Diagnostic, Engine, Mappings, RuleSet};
use rayon::prelude::*;
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
}

/// Rules loaded and compiled, with timings.
pub struct Loaded {
    /// The compiled engine (its diagnostics include the parse ones).
    pub engine: Engine,
    /// Rule files read.
    pub files: usize,
    /// Time spent reading, parsing and compiling.
    pub elapsed: Duration,
}

impl Loaded {
    /// Detection and correlation rules loaded.
    pub fn loaded(&self) -> usize {
        let s = self.engine.stats();
        s.rules + s.correlations
    }

    /// Diagnostics of documents that were skipped.
    pub fn skipped(&self) -> impl Iterator<Item = &Diagnostic> {
        self.engine.diagnostics().iter().filter(|d| d.is_error())
    }

    /// Diagnostics of documents that loaded with a caveat.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.engine.diagnostics().iter().filter(|d| !d.is_error())
    }
}

/// The `.yml` / `.yaml` files under `paths` (files given directly are kept whatever their name).
pub(crate) fn rule_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .with_context(|| format!("cannot read rules at {}", p.display()))?;
        if meta.is_dir() {
            out.extend(
                crate::files::expand(std::slice::from_ref(p))?
                    .into_iter()
                    .filter(|f| {
                        f.extension().is_some_and(|e| {
                            e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml")
                        })
                    }),
            );
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn placeholders(path: &Path) -> anyhow::Result<rustc_hash::FxHashMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read placeholders {}", path.display()))?;
    let docs = kasbah_sigma::yaml::parse(&text)
        .map_err(|p| anyhow::anyhow!("{}:{}: {}: {}", path.display(), p.line, p.code, p.message))?;
    let mut out = rustc_hash::FxHashMap::default();
    for doc in &docs {
        let Some(entries) = doc.as_map() else {
            anyhow::bail!(
                "{}:{}: placeholders must map names to values",
                path.display(),
                doc.line
            );
        };
        for (k, v) in entries {
            let name = k.as_str().unwrap_or_default().trim_matches('%').to_owned();
            let values: Vec<String> = match (v.as_str(), v.as_seq()) {
                (Some(s), _) => vec![s.to_owned()],
                (None, Some(items)) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => anyhow::bail!(
                    "{}:{}: placeholder '{name}' must be a value or a list of values",
                    path.display(),
                    v.line
                ),
            };
            out.insert(name, values);
        }
    }
    Ok(out)
}

/// Builds the engine configuration from the options.
pub fn config(opts: &RuleOpts) -> anyhow::Result<Config> {
    let mut cfg = Config::default();
    if let Some(p) = &opts.placeholders {
        cfg.compile.placeholders = placeholders(p)?;
    }
    for m in &opts.mappings {
        let text = std::fs::read_to_string(m)
            .with_context(|| format!("cannot read mappings {}", m.display()))?;
        let path: Arc<str> = Arc::from(m.display().to_string());
        match Mappings::parse(&path, &text) {
            Ok(extra) => cfg.mappings.extend(extra),
            Err(diags) => {
                let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
                anyhow::bail!("invalid mappings:\n  {}", lines.join("\n  "));
            }
        }
    }
    Ok(cfg)
}

/// Reads, parses and compiles every rule under `paths` (in parallel).
pub fn load(paths: &[PathBuf], opts: &RuleOpts) -> anyhow::Result<Loaded> {
    let start = Instant::now();
    let cfg = config(opts)?;
    let files = rule_files(paths)?;
    let texts: Vec<Result<(String, String), (String, String)>> = files
        .par_iter()
        .map(|f| {
            let name = f.display().to_string();
            match std::fs::read(f) {
                Ok(b) => Ok((name, String::from_utf8_lossy(&b).into_owned())),
                Err(e) => Err((name, e.to_string())),
            }
        })
        .collect();
    let mut set = RuleSet::new();
    let mut ok = Vec::with_capacity(texts.len());
    for t in texts {
        match t {
            Ok(x) => ok.push(x),
            Err((name, e)) => {
                let p: Arc<str> = Arc::from(name.as_str());
                set.push_diagnostic(Diagnostic::new(
                    &p,
                    0,
                    kasbah_sigma::Code::Structure,
                    format!("cannot read: {e}"),
                ));
            }
        }
    }
    set.add_all(&ok);
    drop(ok);
    let engine = Engine::build(&set, &cfg);
    Ok(Loaded {
        engine,
        files: files.len(),
        elapsed: start.elapsed(),
    })
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
