//! Accuracy floor on Loghub-2k (corrected ground truth): the ten systems' average grouping
//! accuracy (GA) and parsing accuracy (PA) with the default configuration, plus OpenSSH on its
//! own. Floors sit a little below the figures recorded in bench/RESULTS.md so that a regression
//! fails. Reads `../shared/loghub` (or `$KASBAH_SHARED/loghub`); skips when it is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kasbah_ml::Miner;

const SYSTEMS: [&str; 10] = [
    "HDFS",
    "Hadoop",
    "Spark",
    "Zookeeper",
    "OpenStack",
    "Android",
    "HealthApp",
    "Apache",
    "OpenSSH",
    "Windows",
];

fn shared() -> PathBuf {
    std::env::var_os("KASBAH_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

/// Splits one CSV record (RFC 4180 quoting); the structured files have no embedded newlines.
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// (Content, EventTemplate) of each row.
fn read(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("readable ground truth");
    let mut lines = text.lines();
    let header = csv_fields(lines.next().expect("header"));
    let col = |n: &str| header.iter().position(|h| h == n).expect("column");
    let (c, t) = (col("Content"), col("EventTemplate"));
    lines
        .map(csv_fields)
        .map(|f| {
            let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            (norm(&f[c]), norm(&f[t]))
        })
        .collect()
}

/// (GA, PA) of the miner's two-pass output on one system.
fn ga_pa(rows: &[(String, String)]) -> (f64, f64) {
    let mut m = Miner::default();
    for (c, _) in rows {
        m.mine(c);
    }
    let mut pred = Vec::new();
    let mut correct_templates = 0usize;
    for (c, t) in rows {
        let r = m.lookup(c).expect("every mined line is found again");
        let text = m.template(r.id).map(|t| t.text()).unwrap_or_default();
        correct_templates += usize::from(&text == t);
        pred.push(r.id);
    }
    let mut truth_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut pred_groups: HashMap<_, Vec<usize>> = HashMap::new();
    for (i, ((_, t), p)) in rows.iter().zip(&pred).enumerate() {
        truth_groups.entry(t).or_default().push(i);
        pred_groups.entry(*p).or_default().push(i);
    }
    let correct: usize = pred_groups
        .values()
        .filter(|members| truth_groups[rows[members[0]].1.as_str()] == **members)
        .map(Vec::len)
        .sum();
    let n = rows.len() as f64;
    (correct as f64 / n, correct_templates as f64 / n)
}

#[test]
fn loghub_2k_accuracy_floor() {
    let root = shared().join("loghub");
    if !root.is_dir() {
        eprintln!("SKIPPED: {} not found (set KASBAH_SHARED)", root.display());
        return;
    }
    let mut sum = (0.0, 0.0);
    for s in SYSTEMS {
        let rows = read(
            &root
                .join(s)
                .join(format!("{s}_2k.log_structured_corrected.csv")),
        );
        let (ga, pa) = ga_pa(&rows);
        eprintln!("{s:10} GA {ga:.3} PA {pa:.3}");
        if s == "OpenSSH" {
            assert!(ga >= 0.99 && pa >= 0.98, "OpenSSH GA {ga:.3} PA {pa:.3}");
        }
        sum.0 += ga;
        sum.1 += pa;
    }
    let (ga, pa) = (sum.0 / 10.0, sum.1 / 10.0);
    eprintln!("average    GA {ga:.3} PA {pa:.3}");
    assert!(ga >= 0.975, "average GA {ga:.3} below the floor");
    assert!(pa >= 0.82, "average PA {pa:.3} below the floor");
}
