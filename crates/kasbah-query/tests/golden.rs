//! Golden tests: the queries of `golden/queries.txt` over the hand-made events of
//! `golden/events.jsonl`; the output (canonical query and result, or the error) must equal
//! `golden/queries.expected`. Bless with `KASBAH_BLESS=1` and read the diff: it is the contract.

use std::fmt::Write;
use std::path::Path;

use kasbah_query::{Output, Row, execute, parse};

fn render(src: &str, events: &[Row]) -> String {
    let mut out = format!("=== {src}\n");
    let query = match parse(src) {
        Ok(q) => q,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            return out;
        }
    };
    let _ = writeln!(out, "canonical: {query}");
    let hits = events.iter().filter(|e| query.filter.matches(e)).cloned();
    match execute(&query.pipes, hits) {
        Err(e) => {
            let _ = writeln!(out, "exec error: {e}");
        }
        Ok(Output::Events(rows)) => {
            let _ = writeln!(out, "events: {}", rows.len());
            for r in rows {
                // Keys sorted: serde_json's map keeps insertion order when another crate of the
                // workspace enables `preserve_order`, and the golden file must not depend on that.
                let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                    r.into_iter().collect();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&sorted).unwrap_or_default()
                );
            }
        }
        Ok(Output::Table(t)) => {
            let _ = writeln!(
                out,
                "table: {}",
                serde_json::to_string(&t.columns).unwrap_or_default()
            );
            for r in t.rows {
                let _ = writeln!(out, "{}", serde_json::Value::Array(r));
            }
        }
    }
    out
}

#[test]
fn golden_queries() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let events: Vec<Row> = std::fs::read_to_string(dir.join("events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON object per line"))
        .collect();
    let queries = std::fs::read_to_string(dir.join("queries.txt")).expect("queries.txt");
    let mut actual = String::new();
    for line in queries.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        actual.push_str(&render(line, &events));
        actual.push('\n');
    }
    let expected_path = dir.join("queries.expected");
    if std::env::var_os("KASBAH_BLESS").is_some() {
        std::fs::write(&expected_path, &actual).expect("write expected");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path)
        .expect("queries.expected missing: run with KASBAH_BLESS=1");
    if expected != actual {
        let first = expected
            .split("\n\n")
            .zip(actual.split("\n\n"))
            .find(|(e, a)| e != a);
        panic!(
            "golden output differs (bless with KASBAH_BLESS=1 if intended); first difference:\n--- expected\n{}\n+++ actual\n{}",
            first.map(|f| f.0).unwrap_or("(length differs)"),
            first.map(|f| f.1).unwrap_or("")
        );
    }
}
