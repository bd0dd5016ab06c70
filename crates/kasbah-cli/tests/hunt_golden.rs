//! Golden hunt output: every SigmaHQ rule (`rules/`, `rules-emerging-threats/`,
//! `rules-threat-hunting/`) over EVTX-ATTACK-SAMPLES with the real binary must produce exactly the
//! detections recorded in `tests/golden/hunt_evtx_attack_samples.tsv`, one line per detection:
//! `file (relative to the samples folder) <TAB> record <TAB> rule id`, sorted. The file holds no
//! event content, only which rule fired on which record.
//!
//! A change in parsing, mapping or matching that adds or loses a detection shows up here as a diff.
//! The run sorts its timeline through temporary files (`--sort-buffer 1`), so the external merge
//! is checked here too: same detections, in event-time order.
//!
//! After an intended change, regenerate with
//! `KASBAH_BLESS=1 cargo test -p kasbah-cli --test hunt_golden` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn sigmahq_over_evtx_attack_samples_matches_golden() {
    let shared = std::env::var_os("KASBAH_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let samples = shared.join("evtx/EVTX-ATTACK-SAMPLES");
    let sigma = shared.join("sigma");
    if !samples.is_dir() || !sigma.join("rules").is_dir() {
        eprintln!(
            "SKIPPED: {} or {} not found (set KASBAH_SHARED)",
            samples.display(),
            sigma.display()
        );
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .arg("hunt")
        .args(["--sort-buffer", "1", "--no-progress"])
        .args(["-r"])
        .arg(sigma.join("rules"))
        .args(["-r"])
        .arg(sigma.join("rules-emerging-threats"))
        .args(["-r"])
        .arg(sigma.join("rules-threat-hunting"))
        .args(["--format", "jsonl"])
        .arg(&samples)
        .env_remove("KASBAH_RULES")
        .output()
        .expect("run kasbah hunt");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("timeline: sorted through"),
        "the 1 MiB buffer spilled: {stderr}"
    );
    let prefix = format!("{}/", samples.display());
    let mut last = String::new();
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let d: serde_json::Value = serde_json::from_str(l).expect("JSON detection");
            let ts = d["timestamp"].as_str().expect("timestamp").to_string();
            assert!(last <= ts, "timeline out of order: {last} then {ts}");
            last = ts;
            let file = d["file"].as_str().expect("file");
            format!(
                "{}\t{}\t{}",
                file.strip_prefix(&prefix).unwrap_or(file),
                d["record"],
                d["rule_id"].as_str().expect("rule_id")
            )
        })
        .collect();
    got.sort();
    let got = got.join("\n") + "\n";
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/hunt_evtx_attack_samples.tsv");
    if std::env::var_os("KASBAH_BLESS").is_some() {
        std::fs::write(&golden, &got).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file");
    if got != expected {
        let g: std::collections::BTreeSet<&str> = got.lines().collect();
        let e: std::collections::BTreeSet<&str> = expected.lines().collect();
        let lost: Vec<&&str> = e.difference(&g).take(20).collect();
        let new: Vec<&&str> = g.difference(&e).take(20).collect();
        panic!(
            "hunt output differs from {}: {} expected, {} got\nlost (first 20): {lost:#?}\nnew (first 20): {new:#?}",
            golden.display(),
            e.len(),
            g.len()
        );
    }
}
