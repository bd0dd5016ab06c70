//! Measures the Sigma engine on EVTX files before Kasbah's own EVTX parser is merged: events
//! come from the `evtx` crate's JSON (converted as `tests/support` does), then every event is
//! matched against the rules. Prints load, parse and match times separately.
//!
//! `cargo run --release -p kasbah-sigma --example bench_evtx -- RULES_DIR... -- EVTX_PATH...`

use std::path::{Path, PathBuf};
use std::time::Instant;

use kasbah_sigma::{Config, Engine, RuleSet, Scratch};
use rayon::prelude::*;

#[path = "../tests/support/mod.rs"]
mod support;

fn walk(p: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            let mut v: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            v.sort();
            for e in v {
                walk(&e, ext, out);
            }
        }
    } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)) {
        out.push(p.to_path_buf());
    }
}

/// CPU time of the calling thread (Linux), to measure on a busy machine.
fn thread_cpu() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sep = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let (rule_dirs, evtx_paths) = args.split_at(sep);
    let t0 = Instant::now();
    let mut rule_files = Vec::new();
    for d in rule_dirs {
        walk(Path::new(d), "yml", &mut rule_files);
    }
    let texts: Vec<(String, String)> = rule_files
        .par_iter()
        .filter_map(|f| Some((f.display().to_string(), std::fs::read_to_string(f).ok()?)))
        .collect();
    let mut set = RuleSet::new();
    set.add_all(&texts);
    let engine = Engine::build(&set, &Config::default());
    drop(set);
    let t_load = t0.elapsed();

    let mut files = Vec::new();
    for p in evtx_paths.iter().skip(1) {
        walk(Path::new(p), "evtx", &mut files);
    }
    let t1 = Instant::now();
    let per_file: Vec<Vec<kasbah_event::Event>> = files
        .par_iter()
        .map(|f| {
            let Ok(buf) = std::fs::read(f) else {
                return Vec::new();
            };
            let Ok(p) = evtx::EvtxParser::from_buffer(buf) else {
                return Vec::new();
            };
            let mut p = p.with_configuration(evtx::ParserSettings::new().num_threads(1));
            p.records_json_value()
                .filter_map(Result::ok)
                .filter_map(|r| support::event_from_evtx_json(&r.data))
                .collect()
        })
        .collect();
    let t_parse = t1.elapsed();
    let events: usize = per_file.iter().map(Vec::len).sum();

    let t2 = Instant::now();
    let results: Vec<(usize, Vec<usize>)> = per_file
        .par_iter()
        .map_init(Scratch::new, |scratch, evs| {
            let mut hits = Vec::new();
            let mut per_rule = Vec::new();
            for ev in evs {
                hits.clear();
                engine.matches(ev, scratch, &mut hits);
                per_rule.extend(hits.iter().map(|h| h.rule.0 as usize));
            }
            (per_rule.len(), per_rule)
        })
        .collect();
    let t_match = t2.elapsed();
    let detections: usize = results.iter().map(|r| r.0).sum();
    let mut counts = std::collections::BTreeMap::new();
    for (_, rules) in &results {
        for r in rules {
            *counts.entry(*r).or_insert(0usize) += 1;
        }
    }
    let s = engine.stats();
    println!(
        "rules: {} loaded ({} groups, {} literals, {} unfiltered) in {:?}",
        s.rules, s.groups, s.literals, s.unfiltered, t_load
    );
    println!(
        "events: {} from {} files, evtx->json->event in {:?}",
        events,
        files.len(),
        t_parse
    );
    println!(
        "match: {:?} ({:.0} events/s), {} detections by {} rules",
        t_match,
        events as f64 / t_match.as_secs_f64(),
        detections,
        counts.len()
    );
    if let Some(n) = std::env::var("KASBAH_REPEAT")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        let mut scratch = Scratch::new();
        let mut hits = Vec::new();
        let t = Instant::now();
        let c0 = thread_cpu();
        for _ in 0..n {
            for ev in per_file.iter().flatten() {
                hits.clear();
                engine.matches(ev, &mut scratch, &mut hits);
            }
        }
        let per = t.elapsed() / (n * events.max(1) as u32);
        let cpu = (thread_cpu() - c0) / (n * events.max(1) as u32);
        println!(
            "single thread, {n} passes: {per:?} wall, {cpu:?} CPU per event, {:.1} rules evaluated per event",
            scratch.evaluated() as f64 / (n as f64 * events.max(1) as f64)
        );
        let (mut bytes, mut nfields) = (0usize, 0usize);
        for ev in per_file.iter().flatten() {
            for (_, v) in ev.fields.iter() {
                if let kasbah_event::Value::Str(s) = v {
                    bytes += s.len();
                }
                nfields += 1;
            }
        }
        println!(
            "{:.0} bytes of text in {:.1} fields per event",
            bytes as f64 / events as f64,
            nfields as f64 / events as f64
        );
    }
    if std::env::var_os("KASBAH_UNFILTERED").is_some() {
        for r in engine.unfiltered_rules() {
            if let Some(i) = engine.rule(r) {
                println!(
                    "unfiltered: {} | {} | {}",
                    i.logsource, i.meta.title, i.meta.path
                );
            }
        }
    }
    if let Ok(path) = std::env::var("KASBAH_DUMP_TEXT") {
        let mut out = String::new();
        for ev in per_file.iter().flatten() {
            for (_, v) in ev.fields.iter() {
                if let kasbah_event::Value::Str(s) = v {
                    out.push_str(&s.to_lowercase().replace('\n', " "));
                    out.push('\n');
                }
            }
        }
        let _ = std::fs::write(path, out);
    }
    if std::env::var_os("KASBAH_EXHAUSTIVE").is_some() {
        let t3 = Instant::now();
        let mut scratch = Scratch::new();
        let mut total = 0;
        let mut hits = Vec::new();
        for ev in per_file.iter().flatten() {
            hits.clear();
            engine.matches_exhaustive(ev, &mut scratch, &mut hits);
            total += hits.len();
        }
        println!(
            "exhaustive (1 thread, no prefilter): {:?}, {} detections",
            t3.elapsed(),
            total
        );
    }
}
