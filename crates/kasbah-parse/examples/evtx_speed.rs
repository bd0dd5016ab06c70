//! Measures EVTX throughput: the `evtx` crate's own record iteration vs Kasbah's full parse.
//!
//! `cargo run --release -p kasbah-parse --example evtx_speed [DIR]` (default `../shared/evtx`,
//! or `$KASBAH_SHARED/evtx`). Single-threaded; files are read into memory first.
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// CPU time of this thread in seconds (the machine may be shared: wall time would count the
/// time other processes run), falling back to wall time off Linux.
struct Clock(Option<f64>, Instant);

fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

impl Clock {
    fn start() -> Self {
        Clock(cpu_secs(), Instant::now())
    }
    fn secs(&self) -> f64 {
        match (self.0, cpu_secs()) {
            (Some(a), Some(b)) => b - a,
            _ => self.1.elapsed().as_secs_f64(),
        }
    }
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
    println!("{} files, {} MB", files.len(), bytes / 1_000_000);
    let settings = || evtx::ParserSettings::new().indent(false);
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    type Run = (&'static str, fn(&[u8], &evtx::ParserSettings) -> usize);
    let runs: Vec<Run> = vec![
        ("evtx records_xml_bytes", |b, s| {
            let mut p = evtx::EvtxParser::from_read_seek(std::io::Cursor::new(b))
                .unwrap()
                .with_configuration(s.clone());
            p.records_bytes().filter(Result::is_ok).count()
        }),
        ("evtx chunks()+iter+into_xml_bytes", |b, s| {
            let mut p = evtx::EvtxParser::from_read_seek(std::io::Cursor::new(b))
                .unwrap()
                .with_configuration(s.clone());
            let st = std::sync::Arc::new(s.clone());
            let mut n = 0;
            for c in p.chunks() {
                let Ok(mut c) = c else { continue };
                let Ok(mut ch) = c.parse(st.clone()) else {
                    continue;
                };
                for r in ch.iter() {
                    if let Ok(r) = r {
                        if r.into_xml_bytes().is_ok() {
                            n += 1;
                        }
                    }
                }
            }
            n
        }),
        ("evtx records_json_bytes", |b, s| {
            let mut p = evtx::EvtxParser::from_read_seek(std::io::Cursor::new(b))
                .unwrap()
                .with_configuration(s.clone());
            p.records_json_bytes().filter(Result::is_ok).count()
        }),
        ("evtx records_json_value", |b, s| {
            let mut p = evtx::EvtxParser::from_read_seek(std::io::Cursor::new(b))
                .unwrap()
                .with_configuration(s.clone());
            p.records_json_value().filter(Result::is_ok).count()
        }),
        ("evtx chunks_xml_bytes", |b, s| {
            let mut p = evtx::EvtxParser::from_read_seek(std::io::Cursor::new(b))
                .unwrap()
                .with_configuration(s.clone());
            p.chunks_xml_bytes(false).map(|c| c.records().count()).sum()
        }),
        ("evtx chunks_json_bytes", |b, s| {
            let mut p = evtx::EvtxParser::from_read_seek(std::io::Cursor::new(b))
                .unwrap()
                .with_configuration(s.clone());
            p.chunks_json_bytes(false)
                .map(|c| c.records().count())
                .sum()
        }),
    ];
    let s = settings();
    let kasbah = |keep_raw: bool| {
        move |b: &[u8]| -> (usize, usize) {
            let opts = kasbah_parse::ParseOptions {
                keep_raw,
                ..Default::default()
            };
            let origin = kasbah_parse::Origin::File(std::sync::Arc::from("bench"));
            let (mut n, mut bad) = (0, 0);
            kasbah_parse::parse_bytes(
                b,
                Some(kasbah_parse::Format::Evtx),
                &origin,
                &opts,
                &mut |i| match i {
                    kasbah_parse::Item::Event(e) => {
                        std::hint::black_box(&e);
                        n += 1
                    }
                    kasbah_parse::Item::Bad(_) => bad += 1,
                },
            );
            (n, bad)
        }
    };
    let only_kasbah = std::env::var_os("ONLY_KASBAH").is_some();
    for keep_raw in [false, true] {
        let f = kasbah(keep_raw);
        let mut best = f64::MAX;
        let (mut n, mut bad) = (0, 0);
        for _ in 0..rounds {
            let t = Clock::start();
            (n, bad) = files
                .iter()
                .map(|b| f(b))
                .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1));
            best = best.min(t.secs());
        }
        println!(
            "{:32} {n:7} events {bad} bad {:8.1} ms  {:9.0} rec/s",
            format!("kasbah parse (keep_raw={keep_raw})"),
            best * 1e3,
            n as f64 / best
        );
    }
    if only_kasbah {
        return;
    }
    for (name, f) in &runs {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..rounds {
            let t = Clock::start();
            n = files.iter().map(|b| f(b, &s)).sum::<usize>();
            best = best.min(t.secs());
        }
        println!(
            "{name:32} {n:7} records  {:8.1} ms  {:9.0} rec/s",
            best * 1e3,
            n as f64 / best
        );
    }
}
