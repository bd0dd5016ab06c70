//! The Kasbah rule pack (`rules/` at the repository root), end to end through the real binary:
//! every rule loads, fires on its hand-made true-positive log (`rules/tests/<stem>/tp.*`) and
//! stays silent on its false-positive log (`fp.*`); the whole pack finds the expected rules on
//! the bundled sample incident (`samples/`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kasbah(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args(args)
        .env_remove("KASBAH_RULES")
        .current_dir(root())
        .output()
        .expect("run kasbah")
}

/// The rule files of the pack, as paths relative to the repository root, sorted.
fn rule_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("rules"))
        .expect("read rules/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .map(|n| format!("rules/{n}"))
        .collect();
    v.sort();
    v
}

/// The id a detection of this file reports: the last document's (the correlation, when the
/// file holds correlation inputs and the correlation).
fn reported_id(rule: &str) -> String {
    let text = std::fs::read_to_string(root().join(rule)).expect("read rule");
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .next_back()
        .unwrap_or_else(|| panic!("{rule}: no id"))
        .trim()
        .to_owned()
}

/// The single test file `rules/tests/<stem>/<kind>.*`.
fn test_file(rule: &str, kind: &str) -> String {
    let stem = Path::new(rule)
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("stem");
    let dir = root().join("rules/tests").join(stem);
    let found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{rule}: no test folder {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.split('.').next() == Some(kind))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{rule}: expected exactly one {kind}.* file in {}",
        dir.display()
    );
    format!("rules/tests/{stem}/{}", found[0])
}

/// Runs a hunt and returns the rule id of every detection.
fn hunt(rules: &str, input: &str) -> Vec<String> {
    let out = kasbah(&["hunt", "-q", "-r", rules, input, "--format", "jsonl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hunt -r {rules} {input} failed (bad records or error): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl detection");
            v["rule_id"].as_str().expect("rule_id").to_owned()
        })
        .collect()
}

#[test]
fn pack_has_rules_and_every_one_loads() {
    let files = rule_files();
    assert!(files.len() >= 15, "only {} rules in rules/", files.len());
    let out = kasbah(&["rules", "check", "--format", "json", "rules"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(v["skipped"], serde_json::json!([]), "skipped rules: {v}");
    // Every document loads: rules and correlations together.
    let docs: usize = files
        .iter()
        .map(|f| {
            let t = std::fs::read_to_string(root().join(f)).expect("read");
            t.lines().filter(|l| l.starts_with("id: ")).count()
        })
        .sum();
    let loaded = v["loaded"].as_u64().expect("loaded count") as usize;
    assert_eq!(loaded, docs, "documents loaded out of those in rules/");
}

#[test]
fn rule_ids_are_unique() {
    let mut seen = BTreeSet::new();
    for f in rule_files() {
        let t = std::fs::read_to_string(root().join(&f)).expect("read");
        for id in t.lines().filter_map(|l| l.strip_prefix("id: ")) {
            assert!(seen.insert(id.trim().to_owned()), "{f}: duplicate id {id}");
        }
        assert!(t.contains("author: Kasbah"), "{f}: author");
        assert!(t.contains("attack."), "{f}: ATT&CK tags");
        assert!(t.contains("falsepositives:"), "{f}: falsepositives");
    }
}

#[test]
fn every_rule_fires_on_its_true_positive_and_not_on_its_false_positive() {
    let mut failures = Vec::new();
    for rule in rule_files() {
        let id = reported_id(&rule);
        let tp = test_file(&rule, "tp");
        let hits = hunt(&rule, &tp);
        if !hits.contains(&id) {
            failures.push(format!(
                "{rule}: no detection of {id} on {tp} (got {hits:?})"
            ));
        }
        let fp = test_file(&rule, "fp");
        let hits = hunt(&rule, &fp);
        if !hits.is_empty() {
            failures.push(format!("{rule}: detections on {fp}: {hits:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn false_positive_logs_are_not_empty() {
    // A false-positive test only means something if its log parses into events.
    for rule in rule_files() {
        let fp = test_file(&rule, "fp");
        let out = kasbah(&["parse", &fp]);
        assert_eq!(out.status.code(), Some(0), "{fp}");
        let events = String::from_utf8_lossy(&out.stdout).lines().count();
        assert!(events >= 2, "{fp}: only {events} events");
    }
}

#[test]
fn pack_detects_the_sample_incident() {
    // Rule file -> expected on samples/ (the incident of docs/samples.md).
    let expected = [
        ("kasbah_web_scanner_user_agent", true),
        ("kasbah_web_sql_injection", true),
        ("kasbah_web_path_traversal", true),
        ("kasbah_web_shell_access", true),
        ("kasbah_ssh_brute_force", true),
        ("kasbah_ssh_success_after_brute_force", true),
        ("kasbah_linux_sudo_shadow_read", true),
        ("kasbah_linux_user_created", true),
        ("kasbah_linux_download_exec_tmp", true),
        ("kasbah_net_c2_port_zeek", true),
        ("kasbah_net_c2_port_firewall", true),
        ("kasbah_win_logon_failure_burst", true),
        ("kasbah_win_logon_after_failures", true),
        ("kasbah_win_encoded_powershell", true),
        ("kasbah_win_mimikatz", true),
        ("kasbah_win_log_cleared", true),
        // Behaviours the samples do not show.
        ("kasbah_win_password_spraying", false),
        ("kasbah_win_lsass_access", false),
        ("kasbah_win_psexec_service", false),
        ("kasbah_win_suspicious_service_install", false),
        ("kasbah_win_user_created", false),
        ("kasbah_win_admin_remote_logon", false),
        ("kasbah_win_inhibit_recovery", false),
        ("kasbah_linux_log_tampering", false),
    ];
    assert_eq!(
        expected.len(),
        rule_files().len(),
        "list every rule of rules/ here"
    );
    let all = hunt("rules", "samples");
    // The firewall rule sees the one FortiGate deny to port 4444, not the same connection as
    // Zeek or Suricata (sensors) report it: `category: firewall` means firewall logs only.
    let firewall = reported_id("rules/kasbah_net_c2_port_firewall.yml");
    assert_eq!(all.iter().filter(|id| **id == firewall).count(), 1);
    let hits: BTreeSet<String> = all.into_iter().collect();
    for (stem, fires) in expected {
        let id = reported_id(&format!("rules/{stem}.yml"));
        assert_eq!(
            hits.contains(&id),
            fires,
            "{stem} ({id}) expected {} on samples/",
            if fires { "to fire" } else { "silent" }
        );
    }
}
