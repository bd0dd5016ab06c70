//! `kasbah templates` and `kasbah anomalies` driven through the real binary, compared with
//! golden files in `tests/ml/`. The fixtures are hand-made. After an intended change,
//! regenerate with `KASBAH_BLESS=1 cargo test -p kasbah-cli --test ml` and review the diff:
//! the golden files are the output contract.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ml")
}

fn kasbah(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args(args)
        .current_dir(dir())
        .output()
        .expect("kasbah runs");
    assert!(
        out.status.success(),
        "kasbah {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn golden(name: &str, actual: &str) {
    let path = dir().join(name);
    if std::env::var_os("KASBAH_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("golden file exists (bless it)");
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

#[test]
fn templates_jsonl_matches_golden() {
    let out = kasbah(&["templates", "--format", "jsonl", "templates_input.log"]);
    golden("templates.golden.jsonl", &out);
    // Contract checks that do not depend on the golden file.
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let input = std::fs::read_to_string(dir().join("templates_input.log")).expect("fixture");
    let per_line: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "line").collect();
    assert_eq!(per_line.len(), input.lines().count());
    for (i, v) in per_line.iter().enumerate() {
        assert_eq!(v["line"], i as u64 + 1);
    }
    let summary_total: u64 = lines
        .iter()
        .filter(|v| v["type"] == "template")
        .map(|v| v["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(summary_total, per_line.len() as u64);
}

#[test]
fn templates_summary_counts_every_line_even_with_eviction() {
    let out = kasbah(&[
        "templates",
        "--format",
        "jsonl",
        "--max-templates",
        "2",
        "templates_input.log",
    ]);
    let values: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let lines = values.iter().filter(|v| v["type"] == "line").count() as u64;
    let counted: u64 = values
        .iter()
        .filter(|v| v["type"] == "template")
        .map(|v| v["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(counted, lines);
    // Every line's template is in the summary with the same text.
    for v in values.iter().filter(|v| v["type"] == "line") {
        assert!(values.iter().any(|t| t["type"] == "template"
            && t["template_id"] == v["template_id"]
            && t["template"] == v["template"]));
    }
}

#[test]
fn templates_table_and_stdin_agree() {
    let table = kasbah(&["templates", "templates_input.log"]);
    golden("templates.golden.txt", &table);
    let out = Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args(["templates", "-"])
        .stdin(std::fs::File::open(dir().join("templates_input.log")).expect("fixture"))
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), table);
}

#[test]
fn anomalies_learn_then_score_matches_golden() {
    let state = std::env::temp_dir().join(format!("kasbah-ml-test-{}.json", std::process::id()));
    let state_s = state.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&state);
    kasbah(&[
        "anomalies",
        "learn",
        "--state",
        &state_s,
        "anomalies_learn.log",
    ]);
    let out = kasbah(&[
        "anomalies",
        "score",
        "--state",
        &state_s,
        "--format",
        "jsonl",
        "anomalies_score.log",
    ]);
    let table = kasbah(&[
        "anomalies",
        "score",
        "--state",
        &state_s,
        "anomalies_score.log",
    ]);
    let _ = std::fs::remove_file(&state);
    golden("anomalies.golden.jsonl", &out);
    golden("anomalies.golden.txt", &table);
    // The normal host is not reported; the two broken ones are, with their reasons.
    assert!(!out.contains("\"web1\""));
    assert!(out.contains("\"web2\"") && out.contains("unexpected_transition"));
    assert!(out.contains("\"web3\"") && out.contains("new_template"));
}

#[test]
fn anomalies_windows_cut_long_lived_entities_into_sessions() {
    let state = std::env::temp_dir().join(format!("kasbah-ml-window-{}.json", std::process::id()));
    let state_s = state.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&state);
    kasbah(&[
        "anomalies",
        "learn",
        "--window",
        "3",
        "--state",
        &state_s,
        "anomalies_learn.log",
    ]);
    let saved = std::fs::read_to_string(&state).expect("state written");
    let out = kasbah(&[
        "anomalies",
        "score",
        "--window",
        "3",
        "--state",
        &state_s,
        "--format",
        "jsonl",
        "anomalies_score.log",
    ]);
    let _ = std::fs::remove_file(&state);
    // 4 hosts x 9 events in windows of 3: 12 sessions learned.
    let v: serde_json::Value = serde_json::from_str(&saved).expect("JSON state");
    assert_eq!(v["model"]["sessions"], 12);
    assert_eq!(v["window"], 3, "the window is saved and reused by score");
    assert!(!out.contains("\"web1\""), "{out}");
    assert!(
        out.contains("\"web3\"") && out.contains("new_template"),
        "{out}"
    );
}

#[test]
fn anomalies_score_without_state_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args([
            "anomalies",
            "score",
            "--state",
            "/nonexistent/x.json",
            "anomalies_score.log",
        ])
        .current_dir(dir())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("anomalies learn"));
}
