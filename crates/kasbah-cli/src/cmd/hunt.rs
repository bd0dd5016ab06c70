//! `kasbah hunt`: Sigma rules over log files, offline. Files are parsed with format
//! auto-detection, in parallel (rayon over files, and over batches of events within a large
//! file); every event goes through the compiled engine; correlation rules run afterwards over
//! the detections in event-time order. Output is a timeline sorted by event time, as a table,
//! CSV or JSON lines, followed by a summary on stderr.

mod output;
mod timeline;

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kasbah_event::{Event, Timestamp};
use kasbah_parse::{Item, Origin, ParseOptions, ParseStats, parse_bytes};
use kasbah_sigma::{Capture, Correlator, Engine, Hit, Level, RuleId, Scratch};
use rayon::prelude::*;

use super::parse::FormatArg;
use super::rules::{self, RuleOpts};
use timeline::Timeline;

/// Events evaluated per task when a file is split across threads.
const BATCH: usize = 2048;

/// Input parsed while the rules load (bytes of files, largest first): enough for a small
/// corpus to be ready when the engine is, bounded so that memory stays flat on a large one.
const EARLY_PARSE_BYTES: u64 = 8 << 20;

/// `--min-level` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// Everything.
    Informational,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
}

impl LevelArg {
    fn level(self) -> Level {
        match self {
            LevelArg::Informational => Level::Informational,
            LevelArg::Low => Level::Low,
            LevelArg::Medium => Level::Medium,
            LevelArg::High => Level::High,
            LevelArg::Critical => Level::Critical,
        }
    }
}

/// Output formats of `kasbah hunt`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// A timeline for people: time, level, rule, host, details.
    Table,
    /// The timeline as CSV (timestamp, level, rule_id, rule_title, host, file, record, tags,
    /// details).
    Csv,
    /// One JSON object per detection, with the matched event.
    Jsonl,
}

/// Arguments of `kasbah hunt`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 done (with or without detections), 1 error (unreadable \
input or rules, no rule loaded), 2 usage, 3 done but some input records could not be parsed."
)]
pub struct HuntArgs {
    /// Log files or folders (walked recursively). EVTX, JSON lines, syslog and every other
    /// format `kasbah formats` lists are detected automatically.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Sigma rule files or folders (repeatable). Defaults to $KASBAH_RULES.
    #[arg(
        short = 'r',
        long = "rules",
        value_name = "RULES_DIR",
        env = "KASBAH_RULES",
        value_delimiter = ':'
    )]
    rules: Vec<PathBuf>,
    /// Report only detections at or above this level.
    #[arg(long, value_enum, default_value_t = LevelArg::Informational)]
    min_level: LevelArg,
    /// Only events at or after this time (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_parser = super::parse_time)]
    from: Option<Timestamp>,
    /// Only events before this time (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_parser = super::parse_time)]
    to: Option<Timestamp>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutFormat::Table)]
    format: OutFormat,
    /// Write the detections to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Input format; `auto` detects it per file.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    input_format: FormatArg,
    /// Treat the records as received at this time instead of now: year-less timestamps
    /// (RFC 3164 syslog, auth.log) are placed in the year that puts them at or before it.
    #[arg(long, value_name = "TIME", value_parser = super::parse_time)]
    received: Option<Timestamp>,
    /// No summary on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Memory for sorting the timeline, in MiB: beyond it, sorted runs go to temporary files
    /// and are merged at the end (as `sort -S`), so memory stays flat on any corpus.
    #[arg(long, value_name = "MIB", default_value_t = 32)]
    sort_buffer: usize,
    #[command(flatten)]
    rule_opts: RuleOpts,
}

/// One line of the timeline.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub ts: Timestamp,
    pub rule: RuleId,
    pub file: Arc<str>,
    pub record: u64,
    pub host: Option<String>,
    /// A few notable fields, `Key: value ¦ ...`.
    pub details: String,
    /// The matched event as JSON (only kept for JSON output), or the correlation's facts.
    pub event: Option<String>,
}

/// What parsing a file reported besides its events.
struct ParsedFile {
    /// Messages about bad records.
    bad: Vec<String>,
    format: &'static str,
    stats: ParseStats,
}

/// Reads and parses one file, handing each event to `on_event`.
fn read_and_parse(
    path: &std::path::Path,
    format: Option<kasbah_parse::Format>,
    opts: &ParseOptions,
    on_event: &mut dyn FnMut(Box<Event>),
) -> anyhow::Result<ParsedFile> {
    let display: Arc<str> = Arc::from(path.display().to_string());
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {display}"))?;
    let origin = Origin::File(display.clone());
    let mut bad = Vec::new();
    let (format, stats) = parse_bytes(&bytes, format, &origin, opts, &mut |item| match item {
        Item::Event(e) => on_event(e),
        Item::Bad(b) => bad.push(format!("kasbah: {display}: {b}")),
    });
    Ok(ParsedFile {
        bad,
        format: format.name(),
        stats,
    })
}

/// A whole file parsed ahead of matching (the files parsed while rules load).
// The parser hands out boxed events and batches move the boxes, not the events.
#[allow(clippy::vec_box)]
type Early = anyhow::Result<(Vec<Box<Event>>, ParsedFile)>;

fn parse_whole(
    path: &std::path::Path,
    format: Option<kasbah_parse::Format>,
    opts: &ParseOptions,
) -> Early {
    let mut events = Vec::new();
    let file = read_and_parse(path, format, opts, &mut |e| events.push(e))?;
    Ok((events, file))
}

#[derive(Default)]
struct FileOutcome {
    events: u64,
    bad: u64,
    format: &'static str,
    captures: Vec<Capture>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new());
}

/// What is needed to turn matches into detections.
pub(crate) struct Detector<'e> {
    pub engine: &'e Engine,
    pub min_level: Level,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub keep_event: bool,
}

impl Detector<'_> {
    /// Matches a batch of events, returning the detections to report and the correlation
    /// captures.
    pub(crate) fn detect(&self, events: &[Box<Event>]) -> (Vec<Detection>, Vec<Capture>) {
        let mut dets = Vec::new();
        let mut caps = Vec::new();
        let mut hits: Vec<Hit> = Vec::new();
        SCRATCH.with(|s| {
            let mut scratch = s.borrow_mut();
            for ev in events {
                if self.from.is_some_and(|f| ev.timestamp < f)
                    || self.to.is_some_and(|t| ev.timestamp >= t)
                {
                    continue;
                }
                hits.clear();
                self.engine.matches(ev, &mut scratch, &mut hits);
                if hits.is_empty() {
                    continue;
                }
                self.engine.captures(ev, &hits, &mut caps);
                for h in &hits {
                    let Some(info) = self.engine.rule(h.rule) else {
                        continue;
                    };
                    if !info.reported || info.level() < self.min_level {
                        continue;
                    }
                    dets.push(output::detection(ev, h.rule, info, self.keep_event));
                }
            }
        });
        (dets, caps)
    }
}

/// Adds a batch's detections to the timeline; the first spill error is kept for the end.
fn keep(timeline: &Mutex<Timeline>, error: &Mutex<Option<std::io::Error>>, dets: Vec<Detection>) {
    if dets.is_empty() {
        return;
    }
    let r = match timeline.lock() {
        Ok(mut t) => t.extend(dets),
        Err(_) => return,
    };
    if let (Err(e), Ok(mut slot)) = (r, error.lock()) {
        slot.get_or_insert(e);
    }
}

/// Runs `kasbah hunt`.
pub fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    if args.rules.is_empty() {
        anyhow::bail!("no rules: pass -r RULES_DIR (or set KASBAH_RULES)");
    }
    let files = crate::files::expand(&args.paths)?;
    let mut opts = ParseOptions {
        keep_raw: false,
        ..ParseOptions::default()
    };
    if let Some(t) = args.received {
        opts.received = t;
    }
    let format = args.input_format.format();
    // Large files first, so that one big file does not finish last alone.
    let mut order: Vec<(u64, &PathBuf)> = files
        .iter()
        .map(|f| (std::fs::metadata(f).map(|m| m.len()).unwrap_or(0), f))
        .collect();
    order.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    let total_bytes: u64 = order.iter().map(|(size, _)| size).sum();

    // Rule loading has sequential steps that leave a core idle; the first files are parsed
    // meanwhile, up to a bounded amount so that memory stays flat on any corpus.
    let early_files = order
        .iter()
        .scan(0u64, |used, (size, _)| {
            *used += size;
            Some(*used)
        })
        .take_while(|used| *used <= EARLY_PARSE_BYTES)
        .count();
    let (loaded, early) = rayon::join(
        || rules::load(&args.rules, &args.rule_opts),
        || {
            order
                .get(..early_files)
                .unwrap_or_default()
                .par_iter()
                .map(|(_, path)| parse_whole(path, format, &opts))
                .collect::<Vec<_>>()
        },
    );
    let loaded = loaded?;
    if loaded.loaded() == 0 {
        anyhow::bail!(
            "no rule could be loaded from {} files (see `kasbah rules check`)",
            loaded.files
        );
    }
    let engine = &loaded.engine;
    let detector = Detector {
        engine,
        min_level: args.min_level.level(),
        from: args.from,
        to: args.to,
        keep_event: args.format == OutFormat::Jsonl,
    };
    let progress = if args.no_progress || args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let p = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        p.set_style(
            ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {wide_bar} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        p
    };
    let events_seen = AtomicU64::new(0);
    let scan_start = Instant::now();
    let bad_lines: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let timeline = Mutex::new(Timeline::new(args.sort_buffer.saturating_mul(1 << 20)));
    let spill_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let mut early = early.into_iter();
    let work: Vec<(u64, &PathBuf, Option<Early>)> = order
        .into_iter()
        .map(|(size, path)| (size, path, early.next()))
        .collect();
    let outcomes: Vec<anyhow::Result<FileOutcome>> = work
        .into_par_iter()
        .map(|(size, path, parsed)| {
            let results: Mutex<Vec<Vec<Capture>>> = Mutex::new(Vec::new());
            let mut outcome = FileOutcome::default();
            let bad = rayon::scope(|s| {
                // Batches but the last go to other threads: a large file is matched in parallel.
                let spawn = |b: Vec<Box<Event>>| {
                    let (detector, results, seen) = (&detector, &results, &events_seen);
                    let (timeline, spill_error) = (&timeline, &spill_error);
                    s.spawn(move |_| {
                        let (d, c) = detector.detect(&b);
                        seen.fetch_add(b.len() as u64, Ordering::Relaxed);
                        keep(timeline, spill_error, d);
                        if let Ok(mut v) = results.lock() {
                            v.push(c);
                        }
                    });
                };
                let mut batch: Vec<Box<Event>> = Vec::with_capacity(BATCH);
                let mut push = |e: Box<Event>| {
                    batch.push(e);
                    if batch.len() == BATCH {
                        spawn(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                    }
                };
                let file = match parsed {
                    Some(early) => {
                        let (events, file) = early?;
                        events.into_iter().for_each(&mut push);
                        file
                    }
                    None => read_and_parse(path, format, &opts, &mut push)?,
                };
                let (d, c) = detector.detect(&batch);
                events_seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
                keep(&timeline, &spill_error, d);
                if let Ok(mut v) = results.lock() {
                    v.push(c);
                }
                outcome.events = file.stats.events;
                outcome.bad = file.stats.bad;
                outcome.format = file.format;
                anyhow::Ok(file.bad)
            })?;
            for c in results.into_inner().unwrap_or_default() {
                outcome.captures.extend(c);
            }
            if !bad.is_empty()
                && let Ok(mut v) = bad_lines.lock()
            {
                v.extend(bad);
            }
            progress.inc(size);
            let n = events_seen.load(Ordering::Relaxed);
            let secs = scan_start.elapsed().as_secs_f64().max(1e-3);
            progress.set_message(format!("{n} events, {:.0} events/s", n as f64 / secs));
            Ok(outcome)
        })
        .collect();
    progress.finish_and_clear();
    let scan_elapsed = scan_start.elapsed();

    let mut summary = output::Summary {
        files: files.len() as u64,
        rules_loaded: loaded.loaded(),
        rules_skipped: loaded.skipped().count(),
        rule_files: loaded.files,
        rules_from_cache: loaded.from_cache,
        load_secs: loaded.elapsed.as_secs_f64(),
        ..Default::default()
    };
    for d in loaded.skipped() {
        *summary.skipped_codes.entry(d.code.as_str()).or_default() += 1;
    }
    let mut captures = Vec::new();
    for o in outcomes {
        let o = o?;
        summary.events += o.events;
        summary.bad += o.bad;
        *summary.formats.entry(o.format).or_default() += 1;
        captures.extend(o.captures);
    }
    if let Some(e) = spill_error.into_inner().ok().flatten() {
        return Err(e).context("cannot write the timeline's temporary files");
    }
    if !args.quiet {
        for l in bad_lines.into_inner().unwrap_or_default().iter().take(20) {
            eprintln!("{l}");
        }
        if summary.bad > 20 {
            eprintln!("kasbah: ... {} bad records in total", summary.bad);
        }
    }

    // Correlations, in event time.
    let mut timeline = timeline
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a scan thread failed"))?;
    let correlated: Vec<Detection> = Correlator::run_batch(engine, captures)
        .iter()
        .filter_map(|a| {
            let info = engine.rule(a.rule)?;
            (info.reported && info.level() >= detector.min_level)
                .then(|| output::correlation_detection(a, info))
        })
        .collect();
    timeline
        .extend(correlated)
        .context("cannot write the timeline's temporary files")?;

    // The timeline, merged from memory and the temporary runs, counted as it is written.
    let color = args.output.is_none() && std::io::stdout().is_terminal();
    let mut per_rule: BTreeMap<RuleId, u64> = BTreeMap::new();
    let spilled = timeline.runs();
    let sorted = timeline
        .into_sorted()
        .context("cannot read the timeline's temporary files")?;
    let write_all = |mut w: &mut dyn Write, color: bool| -> anyhow::Result<()> {
        output::write_header(&mut w, args.format)?;
        for d in sorted {
            let d = d.context("cannot read the timeline's temporary files")?;
            *per_rule.entry(d.rule).or_default() += 1;
            if let Some(info) = engine.rule(d.rule) {
                *summary.by_level.entry(info.level()).or_default() += 1;
                output::count_attack(&info.meta.tags, &mut summary);
            }
            summary.detections += 1;
            output::write_one(&mut w, args.format, &d, engine, color)?;
        }
        w.flush()?;
        Ok(())
    };
    let written = match &args.output {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            write_all(&mut BufWriter::new(f), false)
        }
        None => {
            let stdout = std::io::stdout();
            write_all(&mut BufWriter::new(stdout.lock()), color)
        }
    };
    if let Err(e) = written {
        let broken_pipe = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
        if !broken_pipe {
            return Err(e.context("cannot write output"));
        }
    }
    summary.scan_secs = scan_elapsed.as_secs_f64();
    summary.total_secs = start.elapsed().as_secs_f64();
    summary.rules_hit = per_rule.len();
    summary.spilled_runs = spilled;
    let mut top: Vec<(RuleId, u64)> = per_rule.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    summary.top = top.into_iter().take(10).collect();
    if !args.quiet {
        output::print_summary(&summary, engine, std::io::stderr().is_terminal());
    }
    // The process exits next: freeing the engine's many small allocations one by one would only
    // delay that.
    std::mem::forget(loaded);
    Ok(if summary.bad > 0 {
        ExitCode::from(super::EXIT_SKIPPED)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::Source;
    use kasbah_sigma::{Config, RuleSet};

    /// The header and every detection, as `run` writes them.
    fn write_timeline(
        out: &mut Vec<u8>,
        format: OutFormat,
        dets: &[Detection],
        engine: &Engine,
        color: bool,
    ) -> std::io::Result<()> {
        output::write_header(out, format)?;
        for d in dets {
            output::write_one(out, format, d, engine, color)?;
        }
        Ok(())
    }

    fn engine() -> Engine {
        let mut set = RuleSet::new();
        set.add(
            "r.yml",
            "title: Whoami\nid: w-1\nlevel: medium\ntags: [attack.discovery, attack.t1033]\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n---\ntitle: Any process\nid: p-1\nlevel: low\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|contains: '.exe'\n  condition: sel\n---\ntitle: Many whoami\nid: c-1\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [w-1]\n  group-by: [Computer]\n  timespan: 1h\n  condition: {gte: 2}\n  generate: true\n",
        );
        let e = Engine::build(&set, &Config::default());
        assert!(
            e.diagnostics().iter().all(|d| !d.is_error()),
            "{:?}",
            e.diagnostics()
        );
        e
    }

    fn ev(secs: i64, image: &str) -> Box<Event> {
        let mut e = Event::new(
            Timestamp::from_nanos(secs * 1_000_000_000),
            Source::File {
                path: Arc::from("sec.evtx"),
                record: secs as u64,
            },
        );
        e.fields
            .set_name("Channel", "Microsoft-Windows-Sysmon/Operational");
        e.fields.set_name("EventID", 1i64);
        e.fields.set_name("Computer", "WS01");
        e.fields.set_name("Image", image);
        e.fields.set_name("CommandLine", "whoami /all");
        Box::new(e)
    }

    #[test]
    fn detects_filters_levels_and_times() {
        let engine = engine();
        let events = vec![
            ev(10, "C:\\W\\whoami.exe"),
            ev(20, "C:\\W\\notepad.exe"),
            ev(30, "C:\\W\\whoami.exe"),
        ];
        let d = Detector {
            engine: &engine,
            min_level: Level::Informational,
            from: None,
            to: None,
            keep_event: true,
        };
        let (dets, caps) = d.detect(&events);
        assert_eq!(dets.len(), 5);
        assert_eq!(caps.len(), 2, "two whoami captures for the correlation");
        let medium = Detector {
            min_level: Level::Medium,
            ..d
        };
        let (dets, _) = medium.detect(&events);
        assert_eq!(dets.len(), 2);
        assert!(dets.iter().all(|x| x.host.as_deref() == Some("WS01")));
        assert!(
            dets[0].details.contains("Image: C:\\W\\whoami.exe"),
            "{}",
            dets[0].details
        );
        let window = Detector {
            from: Some(Timestamp::from_nanos(15_000_000_000)),
            to: Some(Timestamp::from_nanos(30_000_000_000)),
            ..medium
        };
        assert!(window.detect(&events).0.is_empty());
    }

    #[test]
    fn output_formats() {
        let engine = engine();
        let d = Detector {
            engine: &engine,
            min_level: Level::Medium,
            from: None,
            to: None,
            keep_event: true,
        };
        let (dets, caps) = d.detect(&[ev(10, "C:\\W\\whoami.exe"), ev(20, "C:\\W\\whoami.exe")]);
        let alerts = Correlator::run_batch(&engine, caps);
        assert_eq!(alerts.len(), 1);
        let mut all = dets;
        for a in &alerts {
            let info = engine.rule(a.rule).expect("rule");
            all.push(output::correlation_detection(a, info));
        }

        let mut jsonl = Vec::new();
        write_timeline(&mut jsonl, OutFormat::Jsonl, &all, &engine, false).expect("write");
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&jsonl)
            .lines()
            .map(|l| serde_json::from_str(l).expect("valid JSON line"))
            .collect();
        assert_eq!(lines.len(), 3);
        let first = &lines[0];
        for k in [
            "timestamp",
            "rule_id",
            "rule_title",
            "level",
            "tags",
            "file",
            "host",
            "event",
        ] {
            assert!(first.get(k).is_some(), "{k} missing in {first}");
        }
        assert_eq!(first["rule_id"], "w-1");
        assert_eq!(first["tags"][1], "attack.t1033");
        assert_eq!(first["file"], "sec.evtx");
        assert_eq!(first["host"], "WS01");
        assert_eq!(first["event"]["Image"], "C:\\W\\whoami.exe");
        assert_eq!(lines[2]["kind"], "correlation");
        assert_eq!(lines[2]["event"]["group"]["Computer"], "WS01");
        assert_eq!(lines[2]["event"]["value"], 2.0);

        let mut csv = Vec::new();
        write_timeline(&mut csv, OutFormat::Csv, &all, &engine, false).expect("write");
        let csv = String::from_utf8_lossy(&csv);
        let mut rows = csv.lines();
        assert_eq!(
            rows.next(),
            Some("timestamp,level,rule_id,rule_title,host,file,record,tags,details")
        );
        assert!(rows.next().is_some_and(|r| r.starts_with(
            "1970-01-01T00:00:10Z,medium,w-1,Whoami,WS01,sec.evtx,10,attack.discovery;attack.t1033,"
        )));

        let mut table = Vec::new();
        write_timeline(&mut table, OutFormat::Table, &all, &engine, false).expect("write");
        let table = String::from_utf8_lossy(&table);
        assert!(
            table
                .lines()
                .next()
                .is_some_and(|l| l.starts_with("1970-01-01 00:00:10  medium")),
            "{table}"
        );
        assert!(!table.contains('\x1b'), "no colour when not asked");
    }
}
