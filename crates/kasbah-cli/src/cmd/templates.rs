//! `kasbah templates`: mines the log templates of text files, one message per line.
//!
//! Two passes: the first learns templates from every line of every file, the second reports
//! each line with its template in the final state, so that one template id means the same
//! thing throughout the output (an online miner's early answers can be refined by later lines).
//!
//! `--format jsonl` prints one object per input line, then one per template:
//! `{"type":"line","file":F,"line":N,"template_id":I,"template":T,"params":[…]}` and
//! `{"type":"template","template_id":I,"template":T,"count":C}` (most frequent first).
//! `--format table` prints the template summary only.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use kasbah_ml::{Miner, MinerConfig, MinerState};
use serde::Serialize;

/// Output formats of `kasbah templates`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TemplatesFormat {
    /// The template summary as an aligned table.
    Table,
    /// One JSON object per line, then one per template (see `docs/ml.md`).
    Jsonl,
}

/// Arguments of `kasbah templates`.
#[derive(Args, Debug)]
pub struct TemplatesArgs {
    /// Files of log messages, one per line (`-` for standard input, which is held in memory
    /// for the second pass; files are read twice).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TemplatesFormat::Table)]
    pub format: TemplatesFormat,
    /// Load the miner's state from this file if it exists, and save it back afterwards.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Most templates kept in memory (least recently used are evicted).
    #[arg(long, default_value_t = MinerConfig::default().max_templates)]
    pub max_templates: usize,
}

/// Calls `f(line_number, line)` for each line of `path` (`-` is standard input, which is read
/// once into memory so that it can be replayed). Invalid UTF-8 is replaced, `\r\n` accepted.
pub(crate) fn for_each_line(
    path: &Path,
    stdin_buf: &mut Option<Vec<u8>>,
    mut f: impl FnMut(u64, &str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        if stdin_buf.is_none() {
            let mut b = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut b)
                .context("cannot read standard input")?;
            *stdin_buf = Some(b);
        }
        Box::new(stdin_buf.as_deref().unwrap_or_default())
    } else {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, f))
    };
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let got = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if got == 0 {
            return Ok(());
        }
        n += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        f(n, &String::from_utf8_lossy(line))?;
    }
}

/// Distinct templates listed in the summary at most (the per-line output has them all).
const MAX_SUMMARY: usize = 1_000_000;

/// Loads a miner from `state` if the file exists, else makes a fresh one.
fn load_miner(state: Option<&Path>, cfg: MinerConfig) -> anyhow::Result<Miner> {
    if let Some(p) = state.filter(|p| p.exists()) {
        let s =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let st = MinerState::from_json(&s).with_context(|| format!("in {}", p.display()))?;
        return Ok(Miner::from_state(st)?);
    }
    Ok(Miner::new(cfg)?)
}

#[derive(Serialize)]
struct LineOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    file: &'a str,
    line: u64,
    template_id: u32,
    template: &'a str,
    params: &'a [&'a str],
}

#[derive(Serialize)]
struct TemplateOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    template_id: u32,
    template: &'a str,
    count: u64,
}

/// Runs `kasbah templates`.
pub fn run(args: TemplatesArgs) -> anyhow::Result<ExitCode> {
    let cfg = MinerConfig {
        max_templates: args.max_templates,
        ..MinerConfig::default()
    };
    let mut miner = load_miner(args.state.as_deref(), cfg)?;
    let mut stdin_buf = None;
    for f in &args.files {
        for_each_line(f, &mut stdin_buf, |_, l| {
            miner.mine(l);
            Ok(())
        })?;
    }
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    // Counts as reported in the second pass (the miner's own counts include earlier runs
    // restored from --state).
    // Templates as reported in the second pass, with their text at first report and their
    // count; evicted templates keep their entry. Capped so that the summary stays bounded.
    let mut seen: rustc_hash::FxHashMap<u32, (String, u64)> = Default::default();
    let mut uncounted = 0u64;
    for f in &args.files {
        let name = f.display().to_string();
        for_each_line(f, &mut stdin_buf, |n, l| {
            // Every line was mined in the first pass, so a lookup finds it unless its
            // template was evicted; then it is mined again.
            let r = match miner.lookup(l) {
                Some(r) => r,
                None => miner.mine(l),
            };
            let fresh;
            let text: &str = match seen.get_mut(&r.id.0) {
                Some(e) => {
                    e.1 += 1;
                    &e.0
                }
                None => {
                    fresh = miner.template(r.id).map(|t| t.text()).unwrap_or_default();
                    if seen.len() < MAX_SUMMARY {
                        seen.insert(r.id.0, (fresh.clone(), 1));
                    } else {
                        uncounted += 1;
                    }
                    &fresh
                }
            };
            if args.format == TemplatesFormat::Jsonl {
                serde_json::to_writer(
                    &mut out,
                    &LineOut {
                        kind: "line",
                        file: &name,
                        line: n,
                        template_id: r.id.0,
                        template: text,
                        params: &r.params,
                    },
                )?;
                out.write_all(b"\n")?;
            }
            Ok(())
        })?;
    }
    let mut summary: Vec<(u32, String, u64)> =
        seen.into_iter().map(|(id, (t, c))| (id, t, c)).collect();
    summary.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    match args.format {
        TemplatesFormat::Jsonl => {
            for (id, text, count) in &summary {
                serde_json::to_writer(
                    &mut out,
                    &TemplateOut {
                        kind: "template",
                        template_id: *id,
                        template: text,
                        count: *count,
                    },
                )?;
                out.write_all(b"\n")?;
            }
        }
        TemplatesFormat::Table => {
            writeln!(out, "{:>8}  {:>6}  TEMPLATE", "COUNT", "ID")?;
            for (id, text, count) in &summary {
                writeln!(out, "{count:>8}  {id:>6}  {text}")?;
            }
            let lines: u64 = summary.iter().map(|t| t.2).sum::<u64>() + uncounted;
            writeln!(out, "{} templates, {lines} lines", summary.len())?;
        }
    }
    if uncounted > 0 {
        eprintln!(
            "kasbah: {uncounted} lines of templates past the first {MAX_SUMMARY} are not in the summary"
        );
    }
    out.flush()?;
    if let Some(p) = &args.state {
        let json = miner.state().to_json()?;
        std::fs::write(p, json).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
