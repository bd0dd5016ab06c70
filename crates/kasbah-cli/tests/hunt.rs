//! End-to-end tests of `kasbah rules check` and `kasbah hunt` (the real binary): JSON report,
//! exit codes, errors, and — with the shared data — SigmaHQ over EVTX-ATTACK-SAMPLES.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kasbah(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args(args)
        .env_remove("KASBAH_RULES")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("run kasbah")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hunt-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    for (n, t) in files {
        std::fs::write(d.join(n), t).expect("write");
    }
    d
}

fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("KASBAH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if p.join("sigma/rules").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: shared data not found at {} (set KASBAH_SHARED)",
            p.display()
        );
        None
    }
}

const GOOD: &str = "title: Good\nid: g-1\nlevel: high\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n";
const BAD: &str = "title: Bad\nid: b-1\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|sometimes: x\n  condition: sel\n";

#[test]
fn rules_check_reports_loaded_and_skipped_as_json() {
    let d = dir(
        "check",
        &[
            ("good.yml", GOOD),
            ("bad.yml", BAD),
            ("notes.txt", "ignored"),
        ],
    );
    let out = kasbah(&[
        "rules",
        "check",
        "--format",
        "json",
        d.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(v["loaded"], 1);
    assert_eq!(v["files"], 2);
    let skipped = v["skipped"].as_array().expect("skipped list");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["code"], "KS020");
    assert_eq!(skipped[0]["line"], 6);
    assert!(
        skipped[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("bad.yml"))
    );
    assert!(
        skipped[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("sometimes"))
    );

    let text = kasbah(&["rules", "check", d.to_str().unwrap_or_default()]);
    assert_eq!(text.status.code(), Some(3));
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(t.contains("1 loaded"), "{t}");
    assert!(t.contains("bad.yml:6: KS020"), "{t}");

    let ok = dir("check-ok", &[("good.yml", GOOD)]);
    let out = kasbah(&["rules", "check", ok.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn placeholders_and_mappings_options() {
    let rule = "title: P\nlogsource: {product: acme}\ndetection:\n  sel:\n    user|expand: '%admins%'\n  condition: sel\n";
    let d = dir("placeholders", &[("p.yml", rule)]);
    let out = kasbah(&[
        "rules",
        "check",
        "--format",
        "json",
        d.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["skipped"][0]["code"], "KS024");
    let cfg = dir(
        "placeholders-cfg",
        &[
            ("ph.yml", "admins: [root, 'adm_*']\n"),
            (
                "map.yml",
                "logsources:\n  - product: acme\n    when: {vendor: ACME}\n",
            ),
        ],
    );
    let out = kasbah(&[
        "rules",
        "check",
        "--format",
        "json",
        "--placeholders",
        cfg.join("ph.yml").to_str().unwrap_or_default(),
        d.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["loaded"], 1);
    assert_eq!(v["warnings"][0]["code"], "KS101", "acme is not mapped yet");
    let out = kasbah(&[
        "rules",
        "check",
        "--format",
        "json",
        "--placeholders",
        cfg.join("ph.yml").to_str().unwrap_or_default(),
        "--mappings",
        cfg.join("map.yml").to_str().unwrap_or_default(),
        d.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["loaded"], 1);
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(0));
    let bad_map = dir("bad-map", &[("map.yml", "logsources: 3\n")]);
    let out = kasbah(&[
        "rules",
        "check",
        "--mappings",
        bad_map.join("map.yml").to_str().unwrap_or_default(),
        d.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("KS060"), "{}", stderr(&out));
}

#[test]
fn hunt_usage_and_errors() {
    let rules = dir("hunt-rules", &[("good.yml", GOOD)]);
    let r = rules.to_str().unwrap_or_default();
    // No rules.
    let out = kasbah(&["hunt", "samples"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no rules"), "{}", stderr(&out));
    // Bad option values are usage errors.
    assert_eq!(
        kasbah(&["hunt", "-r", r, "--min-level", "severe", "samples"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        kasbah(&["hunt", "-r", r, "--from", "soon", "samples"])
            .status
            .code(),
        Some(2)
    );
    // Missing input.
    let out = kasbah(&["hunt", "-r", r, "no/such/dir"]);
    assert_eq!(out.status.code(), Some(1));
    // Rules that all fail to load.
    let bad = dir("hunt-bad-rules", &[("bad.yml", BAD)]);
    let out = kasbah(&["hunt", "-r", bad.to_str().unwrap_or_default(), "samples"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no rule could be loaded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hunt_prints_a_summary() {
    let rules = dir("hunt-summary", &[("good.yml", GOOD)]);
    let input = dir("hunt-input", &[("empty.log", "")]);
    let out = kasbah(&[
        "hunt",
        "-r",
        rules.to_str().unwrap_or_default(),
        "--format",
        "jsonl",
        input.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("kasbah hunt: 1 files"), "{e}");
    assert!(e.contains("rules: 1 loaded"), "{e}");
    assert!(e.contains("detections: 0"), "{e}");
    assert!(out.stdout.is_empty());
}

#[test]
fn sigmahq_rules_check() {
    let Some(shared) = shared() else { return };
    let dirs: Vec<String> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| shared.join("sigma").join(d).display().to_string())
        .collect();
    let mut args = vec!["rules", "check", "--format", "json"];
    args.extend(dirs.iter().map(String::as_str));
    let out = kasbah(&args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let loaded = v["loaded"].as_u64().unwrap_or(0);
    eprintln!(
        "SigmaHQ: {loaded} loaded, {} skipped",
        v["skipped"].as_array().map_or(0, Vec::len)
    );
    assert!(loaded >= 3_750, "{loaded}");
}

/// SigmaHQ over EVTX-ATTACK-SAMPLES: JSON lines with the documented keys, in time order.
#[test]
fn hunt_evtx_attack_samples() {
    let Some(shared) = shared() else { return };
    let rules = shared.join("sigma/rules");
    let samples = shared.join("evtx/EVTX-ATTACK-SAMPLES");
    let out = kasbah(&[
        "hunt",
        "-r",
        rules.to_str().unwrap_or_default(),
        "--format",
        "jsonl",
        "--no-progress",
        samples.to_str().unwrap_or_default(),
    ]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    eprintln!("{} detections\n{}", lines.len(), stderr(&out));
    assert!(lines.len() > 1_000, "{} detections", lines.len());
    let mut last = String::new();
    for l in &lines {
        for k in [
            "timestamp",
            "rule_id",
            "rule_title",
            "level",
            "tags",
            "file",
            "host",
            "event",
        ] {
            assert!(l.get(k).is_some(), "{k} missing: {l}");
        }
        let ts = l["timestamp"].as_str().unwrap_or_default().to_owned();
        assert!(ts >= last, "timeline not sorted: {ts} after {last}");
        last = ts;
    }
    assert!(
        stderr(&out).contains("ATT&CK techniques"),
        "{}",
        stderr(&out)
    );
}
