//! Measures EVTX throughput: the `evtx` crate's own record iteration against Kasbah's full
//! parse (records to normalised events), single-threaded, files read into memory first.
//!
//! `cargo run --release -p kasbah-parse --example evtx_speed [DIR]` (default
//! `$KASBAH_SHARED/evtx`, else `../shared/evtx`). `ROUNDS=n` (default 3) keeps the best of n
//! runs; times are this thread's CPU time (the machine may be shared), falling back to wall time
//! off Linux.
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use evtx::{EvtxParser, ParserSettings};
use kasbah_parse::{Format, Item, Origin, ParseOptions, parse_bytes};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
        {
            out.push(p);
        }
    }
}

fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Seconds of the best of `rounds` runs of `f`, and what `f` returned.
fn best_of<T>(rounds: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..rounds.max(1) {
        let (cpu, wall) = (cpu_secs(), Instant::now());
        let r = f();
        let secs = match (cpu, cpu_secs()) {
            (Some(a), Some(b)) => b - a,
            _ => wall.elapsed().as_secs_f64(),
        };
        best = best.min(secs);
        out = Some(r);
    }
    (best, out.unwrap())
}

fn parser(b: &[u8]) -> EvtxParser<Cursor<&[u8]>> {
    EvtxParser::from_read_seek(Cursor::new(b))
        .unwrap()
        .with_configuration(ParserSettings::new().indent(false))
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let shared = std::env::var("KASBAH_SHARED").unwrap_or_else(|_| "../shared".into());
            Path::new(&shared).join("evtx")
        });
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    paths.sort();
    let files: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    println!(
        "{} files, {:.1} MB, {}",
        files.len(),
        bytes as f64 / 1e6,
        dir.display()
    );
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let report = |name: &str, secs: f64, n: usize| {
        println!(
            "{name:44} {n:7} records {:8.1} ms {:9.0} records/s",
            secs * 1e3,
            n as f64 / secs
        );
    };

    for keep_raw in [false, true] {
        let opts = ParseOptions {
            keep_raw,
            ..ParseOptions::default()
        };
        let origin = Origin::File(Arc::from("bench.evtx"));
        let (secs, (n, bad)) = best_of(rounds, || {
            let (mut n, mut bad) = (0, 0);
            for b in &files {
                parse_bytes(b, Some(Format::Evtx), &origin, &opts, &mut |i| match i {
                    Item::Event(e) => {
                        std::hint::black_box(&e);
                        n += 1;
                    }
                    Item::Bad(_) => bad += 1,
                });
            }
            (n, bad)
        });
        assert_eq!(bad, 0);
        report(
            &format!("kasbah parse_bytes (keep_raw={keep_raw})"),
            secs,
            n,
        );
    }
    if std::env::var_os("ONLY_KASBAH").is_some() {
        return;
    }
    type Run = (&'static str, fn(&[u8]) -> usize);
    let runs: [Run; 5] = [
        ("evtx records_bytes (XML)", |b| {
            parser(b).records_bytes().filter(Result::is_ok).count()
        }),
        ("evtx records_json_bytes", |b| {
            parser(b).records_json_bytes().filter(Result::is_ok).count()
        }),
        ("evtx records_json_value", |b| {
            parser(b).records_json_value().filter(Result::is_ok).count()
        }),
        ("evtx chunks + into_xml_bytes (Kasbah's path)", |b| {
            let settings = Arc::new(ParserSettings::new().indent(false));
            let mut p = parser(b);
            let mut n = 0;
            for mut data in p.chunks().flatten() {
                if let Ok(mut chunk) = data.parse(settings.clone()) {
                    n += chunk
                        .iter()
                        .flatten()
                        .filter(|r| r.clone().into_xml_bytes().is_ok())
                        .count();
                }
            }
            n
        }),
        ("evtx chunks_xml_bytes (doc-hidden, CLI's)", |b| {
            parser(b)
                .chunks_xml_bytes(false)
                .map(|c| c.records().count())
                .sum()
        }),
    ];
    for (name, f) in runs {
        let (secs, n) = best_of(rounds, || files.iter().map(|b| f(b)).sum::<usize>());
        report(name, secs, n);
    }
}
