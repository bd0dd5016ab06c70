//! Loads Sigma rule folders and prints how long each phase takes:
//! `cargo run --release -p kasbah-sigma --example load_rules -- DIR...`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kasbah_sigma::{Config, Engine, RuleSet};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

fn main() {
    let t0 = Instant::now();
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        walk(Path::new(&a), &mut files);
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| Some((f.display().to_string(), std::fs::read_to_string(f).ok()?)))
        .collect();
    let t_read = t0.elapsed();
    let mut set = RuleSet::new();
    set.add_all(&texts);
    let t_parse = t0.elapsed();
    if std::env::var_os("KASBAH_PARSE_ONLY").is_some() {
        println!(
            "parsed {} documents in {:?}",
            set.documents().len(),
            t_parse - t_read
        );
        return;
    }
    let engine = Engine::build(&set, &Config::default());
    let t_build = t0.elapsed();
    let s = engine.stats();
    println!(
        "{} files, {} rules, {} correlations, {} groups, {} literals, {} unfiltered, {} diagnostics",
        set.files(),
        s.rules,
        s.correlations,
        s.groups,
        s.literals,
        s.unfiltered,
        engine.diagnostics().len()
    );
    println!(
        "read {:?}, parse {:?}, build {:?}, total {:?}",
        t_read,
        t_parse - t_read,
        t_build - t_parse,
        t_build
    );
    if std::env::var_os("KASBAH_DUMP_LITERALS").is_some() {
        for l in engine.prefilter_literals() {
            println!("{l}");
        }
    }
}
