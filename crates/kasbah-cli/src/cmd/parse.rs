//! `kasbah parse`: files in, normalised events out (JSON lines), a summary on stderr.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use kasbah_event::{OutputOptions, Timestamp, write_json};
use kasbah_parse::{Format, Item, Origin, ParseOptions, parse_bytes};

/// `--format` values: `auto` or a [`Format`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect per file.
    Auto,
    /// JSON lines / arrays (ECS, Beats, _bulk, Windows JSON).
    Jsonl,
    /// Syslog RFC 3164 / 5424.
    Syslog,
    /// ArcSight CEF.
    Cef,
    /// IBM LEEF.
    Leef,
    /// Windows EVTX.
    Evtx,
    /// Windows event XML.
    Xml,
    /// Zeek TSV or JSON.
    Zeek,
    /// Suricata EVE JSON.
    Eve,
    /// Apache / Nginx access logs.
    Access,
    /// Linux auth.log / secure.
    Auth,
    /// Linux auditd.
    Auditd,
    /// key=value.
    Kv,
}

impl FormatArg {
    /// The forced format, or `None` for auto-detection.
    pub(crate) fn format(self) -> Option<Format> {
        Some(match self {
            FormatArg::Auto => return None,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Syslog => Format::Syslog,
            FormatArg::Cef => Format::Cef,
            FormatArg::Leef => Format::Leef,
            FormatArg::Evtx => Format::Evtx,
            FormatArg::Xml => Format::WinXml,
            FormatArg::Zeek => Format::Zeek,
            FormatArg::Eve => Format::Eve,
            FormatArg::Access => Format::Access,
            FormatArg::Auth => Format::Auth,
            FormatArg::Auditd => Format::Auditd,
            FormatArg::Kv => Format::Kv,
        })
    }
}

/// Output encodings of `kasbah parse`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    /// One JSON object per event.
    Jsonl,
    /// Nothing but the summary: validate files, or measure parsing alone.
    None,
}

/// Arguments of `kasbah parse`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 all records parsed, 1 error, 2 usage, 3 some records skipped."
)]
pub struct ParseArgs {
    /// Files or directories (walked recursively) to parse; `-` reads standard input.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Input format; `auto` detects it per file.
    #[arg(short, long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Output encoding.
    #[arg(short, long, value_enum, default_value_t = OutputArg::Jsonl)]
    output: OutputArg,
    /// Include the original record as `event.original`.
    #[arg(long)]
    raw: bool,
    /// Include `log.file.path` / `log.file.record` and `event.ingested`.
    #[arg(long)]
    provenance: bool,
    /// Skip records longer than this many bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_record_bytes: usize,
    /// Treat the records as received at this time (RFC 3339) instead of now. Year-less
    /// timestamps (RFC 3164 syslog, auth.log) are placed in the year that puts them at or before
    /// it: use it to parse old logs.
    #[arg(long, value_name = "TIME", value_parser = super::parse_time)]
    received: Option<Timestamp>,
    /// Print no summary on stderr.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Default)]
struct Totals {
    files: u64,
    events: u64,
    bad: u64,
    per_format: BTreeMap<&'static str, (u64, u64, u64)>,
}

fn is_stdin(p: &std::path::Path) -> bool {
    p.as_os_str() == "-"
}

/// The files to read, in order: folders expanded, `-` (standard input) kept where it is.
fn inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    if !paths.iter().any(|p| is_stdin(p)) {
        return crate::files::expand(paths);
    }
    let mut out = Vec::new();
    for p in paths {
        if is_stdin(p) {
            out.push(p.clone());
        } else {
            out.extend(crate::files::expand(std::slice::from_ref(p))?);
        }
    }
    Ok(out)
}

/// Runs `kasbah parse`.
pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let files = inputs(&args.paths)?;
    let mut opts = ParseOptions {
        max_record_bytes: args.max_record_bytes,
        keep_raw: args.raw,
        ..ParseOptions::default()
    };
    if let Some(t) = args.received {
        opts.received = t;
    }
    let out_opts = OutputOptions {
        received: args.provenance,
        raw: args.raw,
        source: args.provenance,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let progress = ProgressBar::new(files.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut totals = Totals::default();
    let mut write_err = None;
    for path in &files {
        let (display, bytes) = if is_stdin(path) {
            let mut b = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut b)
                .context("cannot read standard input")?;
            ("<stdin>".to_owned(), b)
        } else {
            let display = path.display().to_string();
            let b = std::fs::read(path).with_context(|| format!("cannot read {display}"))?;
            (display, b)
        };
        progress.set_message(display.clone());
        let origin = Origin::File(Arc::from(display.as_str()));
        let mut buf = Vec::with_capacity(512);
        let (format, stats) = parse_bytes(
            &bytes,
            args.format.format(),
            &origin,
            &opts,
            &mut |item| match item {
                Item::Event(_) if args.output == OutputArg::None => {}
                Item::Event(e) => {
                    buf.clear();
                    if write_json(&mut buf, &e, out_opts).is_ok() {
                        buf.push(b'\n');
                        if let Err(err) = out.write_all(&buf) {
                            write_err.get_or_insert(err);
                        }
                    }
                }
                Item::Bad(b) => {
                    if !args.quiet {
                        progress.suspend(|| eprintln!("kasbah: {display}: {b}"));
                    }
                }
            },
        );
        if let Some(err) = write_err.take() {
            // A closed pipe (`| head`) ends the run quietly.
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(err).context("cannot write output");
        }
        totals.files += 1;
        totals.events += stats.events;
        totals.bad += stats.bad;
        let f = totals.per_format.entry(format.name()).or_default();
        f.0 += 1;
        f.1 += stats.events;
        f.2 += stats.bad;
        progress.inc(1);
    }
    progress.finish_and_clear();
    if let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e).context("cannot write output");
    }
    if !args.quiet {
        eprintln!(
            "kasbah: {} files, {} events, {} bad records",
            totals.files, totals.events, totals.bad
        );
        for (name, (files, events, bad)) in &totals.per_format {
            eprintln!("kasbah:   {name:<8} {files:>6} files {events:>10} events {bad:>8} bad");
        }
    }
    Ok(if totals.bad > 0 {
        ExitCode::from(super::EXIT_SKIPPED)
    } else {
        ExitCode::SUCCESS
    })
}
