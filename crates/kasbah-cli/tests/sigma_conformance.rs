//! SigmaHQ's `regression_data` as a conformance suite for parser + engine together: each
//! `info.yml` names a rule that must match the events of its `.evtx` file, read with Kasbah's own
//! EVTX parser (`kasbah_parse::parse_bytes`). The pass rate is printed and must stay above a
//! floor. (The engine alone is checked against the suite's JSON rendering in
//! `crates/kasbah-sigma/tests/sigmahq.rs`.)

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kasbah_parse::{Item, Origin, ParseOptions, parse_bytes};
use kasbah_sigma::{Config, Engine, RuleSet, Scratch};
use rayon::prelude::*;

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

/// Minimum pass rate (percent).
const FLOOR: f64 = 95.0;

fn shared() -> PathBuf {
    std::env::var_os("KASBAH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// Every SigmaHQ rule (the three folders), compiled.
fn sigmahq_engine(sigma: &Path) -> Engine {
    let mut files = Vec::new();
    for d in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        walk(&sigma.join(d), "yml", &mut files);
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(f).unwrap_or_default(),
            )
        })
        .collect();
    let mut set = RuleSet::new();
    set.add_all(&texts);
    Engine::build(&set, &Config::default())
}

/// The literal prefilter only skips rules that cannot match: on every event of the EVTX attack
/// samples, with every SigmaHQ rule, the prefiltered engine gives exactly the hits of evaluating
/// every rule of the event's log source. (The prefilter picks grams by an estimate of their
/// frequency and tests them through hashed bitmaps; a slip there would lose detections
/// silently.)
#[test]
fn prefilter_is_exact_on_the_evtx_samples() {
    let shared = shared();
    let (sigma, samples) = (
        shared.join("sigma"),
        shared.join("evtx/EVTX-ATTACK-SAMPLES"),
    );
    if !sigma.join("rules").is_dir() || !samples.is_dir() {
        eprintln!(
            "SKIPPED: {} not found (set KASBAH_SHARED)",
            shared.display()
        );
        return;
    }
    let engine = sigmahq_engine(&sigma);
    let mut evtx = Vec::new();
    walk(&samples, "evtx", &mut evtx);
    let opts = ParseOptions::default();
    // (events, events with hits, hits) per file, files in parallel: the exhaustive evaluation
    // is slow in a debug build.
    let counts: Vec<(u64, u64, usize)> = evtx
        .par_iter()
        .map(|f| {
            let mut scratch = Scratch::new();
            let mut n = (0u64, 0u64, 0usize);
            let bytes = std::fs::read(f).unwrap_or_default();
            let origin = Origin::File(Arc::from(f.display().to_string()));
            parse_bytes(&bytes, None, &origin, &opts, &mut |item| {
                if let Item::Event(ev) = item {
                    let (mut fast, mut all) = (Vec::new(), Vec::new());
                    engine.matches(&ev, &mut scratch, &mut fast);
                    engine.matches_exhaustive(&ev, &mut scratch, &mut all);
                    assert_eq!(fast, all, "{}: {:?}", f.display(), ev.fields);
                    n.0 += 1;
                    n.1 += u64::from(!fast.is_empty());
                    n.2 += fast.len();
                }
            });
            n
        })
        .collect();
    let (events, hit_events, hits_total) = counts
        .iter()
        .fold((0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
    eprintln!("{events} events, {hit_events} with hits, {hits_total} hits");
    // The corpus is the one `kasbah hunt` reports 1,556 detections on.
    assert!(events > 8_000, "{events} events");
    assert!(hits_total > 1_000, "{hits_total} hits");
}

#[test]
fn regression_data_evtx_conformance() {
    let sigma = shared().join("sigma");
    if !sigma.join("regression_data").is_dir() {
        eprintln!("SKIPPED: {} not found (set KASBAH_SHARED)", sigma.display());
        return;
    }
    let engine = sigmahq_engine(&sigma);
    let mut infos = Vec::new();
    walk(&sigma.join("regression_data"), "yml", &mut infos);
    let opts = ParseOptions::default();
    let mut scratch = Scratch::new();
    let (mut pass, mut fail) = (0usize, Vec::new());
    for info in &infos {
        let text = std::fs::read_to_string(info).unwrap_or_default();
        if !text.lines().any(|l| l.trim_start() == "type: evtx") {
            continue;
        }
        let Some(id) = text
            .lines()
            .skip_while(|l| !l.starts_with("rule_metadata"))
            .find_map(|l| l.trim().strip_prefix("- id:").map(|s| s.trim().to_owned()))
        else {
            continue;
        };
        let Some(rule) = engine
            .rules()
            .iter()
            .position(|r| r.meta.id.as_deref() == Some(id.as_str()))
        else {
            fail.push(format!("{id}: rule not loaded"));
            continue;
        };
        let mut evtx = Vec::new();
        walk(info.parent().unwrap_or(Path::new(".")), "evtx", &mut evtx);
        let (mut matched, mut events) = (false, 0u64);
        for f in &evtx {
            let bytes = std::fs::read(f).unwrap_or_default();
            let origin = Origin::File(Arc::from(f.display().to_string()));
            parse_bytes(&bytes, None, &origin, &opts, &mut |item| {
                if let Item::Event(ev) = item {
                    events += 1;
                    let mut hits = Vec::new();
                    engine.matches(&ev, &mut scratch, &mut hits);
                    matched |= hits.iter().any(|h| h.rule.0 as usize == rule);
                }
            });
        }
        if matched {
            pass += 1;
        } else {
            fail.push(format!(
                "{id} {}: no match in {events} events",
                engine.rules()[rule].meta.title
            ));
        }
    }
    let total = pass + fail.len();
    let rate = 100.0 * pass as f64 / total.max(1) as f64;
    eprintln!("regression_data (EVTX): {pass}/{total} ({rate:.1}%)");
    for f in &fail {
        eprintln!("  FAIL {f}");
    }
    assert!(total > 0);
    assert!(rate >= FLOOR, "{rate:.1}% < {FLOOR}%");
}

/// Every SigmaHQ rule file, read back from the cache of parsed rules, gives exactly the documents
/// and diagnostics of parsing the YAML.
#[test]
fn sigmahq_rules_read_back_from_the_cache_unchanged() {
    let sigma = shared().join("sigma");
    if !sigma.join("rules").is_dir() {
        eprintln!("SKIPPED: {} not found (set KASBAH_SHARED)", sigma.display());
        return;
    }
    let roots: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = kasbah_detect::LoadOptions {
        cache: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let parsed = kasbah_detect::loader::parse_with(&roots, &[], &opts).expect("parse");
    assert_eq!(parsed.from_cache, 0);
    let cached = kasbah_detect::loader::parse_with(&roots, &[], &opts).expect("parse");
    assert_eq!(cached.from_cache, cached.files);
    assert!(cached.files > 3_000, "{} files", cached.files);
    assert_eq!(cached.set.documents(), parsed.set.documents());
    assert_eq!(cached.set.diagnostics(), parsed.set.diagnostics());
}
