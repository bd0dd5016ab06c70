//! The SigmaHQ rule repository against the engine: every rule of `rules/`,
//! `rules-emerging-threats/`, `rules-threat-hunting/` (and the placeholder rules, once their
//! placeholders are configured) must load, and each rule of the `regression_data` conformance
//! suite must match the events recorded for it.
//!
//! The data lives in `../shared/sigma` (override with `KASBAH_SHARED`); the tests skip with a
//! message when it is absent. The EVTX form of the conformance suite needs the EVTX parser and
//! lives in `crates/kasbah-cli/tests/sigma_conformance.rs`; here the suite's JSON rendering of the
//! same events is used.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kasbah_sigma::{Code, Config, Engine, RuleSet, Scratch};

mod support;
use support::event_from_evtx_json;

fn shared() -> Option<PathBuf> {
    let p = match std::env::var_os("KASBAH_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let sigma = p.join("sigma");
    if sigma.is_dir() {
        Some(sigma)
    } else {
        eprintln!(
            "SKIPPED: SigmaHQ data not found at {} (set KASBAH_SHARED)",
            sigma.display()
        );
        None
    }
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

/// The line-based reader of block-style YAML either declines a file or reads exactly the tree
/// the general parser reads (nodes and lines), on every YAML file of this repository's rule pack
/// and mappings and of SigmaHQ; and it reads nearly all of them (it is there for speed).
#[test]
fn yaml_readers_agree_on_real_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [root.join("../../rules"), root.join("mappings")] {
        walk(&dir, "yml", &mut files);
        walk(&dir, "yaml", &mut files);
    }
    assert!(files.len() > 10, "the repository's rules were not found");
    if let Some(sigma) = shared() {
        walk(&sigma, "yml", &mut files);
    }
    let mut declined = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        match kasbah_sigma::yaml::parse_both(&text) {
            (Some(block), general) => assert!(
                Ok(&block) == general.as_ref(),
                "the YAML readers disagree on {}",
                f.display()
            ),
            (None, _) => declined.push(f),
        }
    }
    eprintln!(
        "block reader: {} of {} files, declined {}",
        files.len() - declined.len(),
        files.len(),
        declined.len()
    );
    for f in declined.iter().take(10) {
        eprintln!("  declined {}", f.display());
    }
    assert!(
        declined.len() * 20 <= files.len(),
        "{} declined",
        declined.len()
    );
}

fn load(dirs: &[PathBuf]) -> RuleSet {
    let mut files = Vec::new();
    for d in dirs {
        walk(d, "yml", &mut files);
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
    set
}

/// Minimum number of rules that must load from the three main folders (3,754 files). Raise it
/// when the engine learns more; never lower it silently.
const FLOOR: usize = 3_750;

#[test]
fn sigmahq_rules_load() {
    let Some(sigma) = shared() else { return };
    let dirs: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d))
        .collect();
    let t = Instant::now();
    let set = load(&dirs);
    let parsed = t.elapsed();
    let engine = Engine::build(&set, &Config::default());
    let total = t.elapsed();
    let stats = engine.stats();
    let errors: Vec<_> = engine
        .diagnostics()
        .iter()
        .filter(|d| d.is_error())
        .collect();
    let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
    for d in &errors {
        *by_code.entry(d.code.as_str()).or_default() += 1;
    }
    eprintln!(
        "{} files: {} rules loaded, {} skipped {by_code:?}; {} groups, {} literals, {} unfiltered; read+parse {parsed:?}, total {total:?}",
        set.files(),
        stats.rules,
        errors.len(),
        stats.groups,
        stats.literals,
        stats.unfiltered
    );
    for d in &errors {
        eprintln!("  skipped: {d}");
    }
    let warnings = engine.diagnostics().len() - errors.len();
    eprintln!("{warnings} warnings (KS101 unmapped log sources and similar)");
    assert!(
        stats.rules >= FLOOR,
        "only {} rules loaded (floor {FLOOR})",
        stats.rules
    );
}

#[test]
fn placeholder_rules_load_once_configured() {
    let Some(sigma) = shared() else { return };
    let set = load(&[sigma.join("rules-placeholder")]);
    let engine = Engine::build(&set, &Config::default());
    let unconfigured = engine
        .diagnostics()
        .iter()
        .filter(|d| d.code == Code::Placeholder)
        .count();
    assert!(unconfigured > 0, "placeholder rules need configuration");
    // Configure every placeholder the rules use.
    let mut cfg = Config::default();
    for d in set.documents() {
        let text = format!("{d:?}");
        let mut rest = text.as_str();
        while let Some(i) = rest.find('%') {
            let after = &rest[i + 1..];
            match after.find('%') {
                Some(j)
                    if j > 0
                        && after[..j]
                            .chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
                {
                    cfg.compile
                        .placeholders
                        .insert(after[..j].to_owned(), vec!["example".into()]);
                    rest = &after[j + 1..];
                }
                _ => rest = after,
            }
        }
    }
    let engine = Engine::build(&set, &cfg);
    let errors: Vec<_> = engine
        .diagnostics()
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(engine.stats().rules, set.documents().len());
}

fn concatenated_json(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .filter_map(Result::ok)
        .collect()
}

/// Minimum pass rate (percent) of the JSON conformance suite.
const CONFORMANCE_FLOOR: f64 = 95.0;

#[test]
fn regression_data_json_conformance() {
    let Some(sigma) = shared() else { return };
    let set = load(&[
        sigma.join("rules"),
        sigma.join("rules-emerging-threats"),
        sigma.join("rules-threat-hunting"),
    ]);
    let engine = Engine::build(&set, &Config::default());
    let mut infos = Vec::new();
    walk(&sigma.join("regression_data"), "yml", &mut infos);
    let (mut pass, mut fail) = (0usize, Vec::new());
    let mut scratch = Scratch::new();
    for info in &infos {
        let text = std::fs::read_to_string(info).unwrap_or_default();
        // Only active EVTX tests (some info.yml have theirs commented out, or are raw logs).
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
        let dir = info.parent().unwrap_or(Path::new("."));
        let mut jsons = Vec::new();
        walk(dir, "json", &mut jsons);
        let Some(rule) = engine
            .rules()
            .iter()
            .position(|r| r.meta.id.as_deref() == Some(id.as_str()))
        else {
            fail.push(format!("{id}: rule not loaded ({})", dir.display()));
            continue;
        };
        let mut matched = false;
        let mut events = 0;
        for j in &jsons {
            let text = std::fs::read_to_string(j).unwrap_or_default();
            for doc in concatenated_json(&text) {
                let Some(ev) = event_from_evtx_json(&doc) else {
                    continue;
                };
                events += 1;
                let mut hits = Vec::new();
                engine.matches(&ev, &mut scratch, &mut hits);
                if hits.iter().any(|h| h.rule.0 as usize == rule) {
                    matched = true;
                }
            }
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
    eprintln!("regression_data (JSON): {pass}/{total} rules matched ({rate:.1}%)");
    for f in &fail {
        eprintln!("  FAIL {f}");
    }
    assert!(total > 0, "no regression tests found");
    assert!(
        rate >= CONFORMANCE_FLOOR,
        "conformance {rate:.1}% below {CONFORMANCE_FLOOR}%"
    );
}
