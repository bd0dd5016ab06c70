//! End-to-end tests of the real `kasbah` binary: output contract, summary, exit codes, and bad
//! input (wrong format, garbage, huge lines) handled without a panic.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn kasbah() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kasbah"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    kasbah()
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run kasbah")
}

fn events(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A scratch file under the target dir, unique per test.
fn scratch(name: &str, content: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-tests");
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write scratch file");
    p
}

#[test]
fn formats_lists_every_format() {
    let out = run(&["formats"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for f in [
        "jsonl", "syslog", "cef", "leef", "evtx", "xml", "zeek", "eve", "access", "auth", "auditd",
        "kv",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(f)),
            "{f} missing from:\n{text}"
        );
    }
}

#[test]
fn parses_every_bundled_sample_without_loss() {
    // The samples' year-less times (auth.log, RFC 3164) belong to the year before this time.
    let out = run(&["parse", "--received", "2024-03-15T00:00:00Z", "samples/"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{err}");
    let evs = events(&out);
    // 20 auth + 4 auditd (joined) + 10 access + 5 zeek + 5 eve + 4 kv + 3 cef + 2 leef + 5 syslog + 7 windows
    assert_eq!(evs.len(), 65, "stderr:\n{err}");
    assert!(err.contains("10 files, 65 events, 0 bad records"), "{err}");
    for e in &evs {
        let ts = e["@timestamp"].as_str().expect("@timestamp on every event");
        assert!(ts.starts_with("2024-03-14T"), "unexpected time {ts} in {e}");
        assert!(e["event.module"].is_string(), "event.module missing in {e}");
    }
}

#[test]
fn normalises_to_ecs_and_keeps_original_names() {
    let out = run(&[
        "parse",
        "samples/linux/auth.log",
        "samples/windows/events.xml",
        "samples/network/conn.log",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let evs = events(&out);
    let login = evs
        .iter()
        .find(|e| {
            e["event.outcome"] == "success"
                && e["user.name"] == "deploy"
                && e["source.ip"] == "203.0.113.45"
        })
        .expect("the successful SSH login as deploy");
    assert_eq!(login["source.port"], 51302);
    assert_eq!(login["host.name"], "web01");

    let mimikatz = evs
        .iter()
        .find(|e| e["EventID"] == 1 && e["Channel"] == "Microsoft-Windows-Sysmon/Operational")
        .expect("the Sysmon process creation");
    assert_eq!(mimikatz["Image"], "C:\\Users\\Public\\m.exe");
    assert_eq!(mimikatz["process.executable"], "C:\\Users\\Public\\m.exe");
    assert_eq!(mimikatz["process.name"], "m.exe");
    assert_eq!(mimikatz["process.parent.name"], "powershell.exe");
    assert_eq!(mimikatz["@timestamp"], "2024-03-14T10:13:15.221Z");

    let c2 = evs
        .iter()
        .find(|e| e["id.resp_p"] == 4444)
        .expect("the Zeek conn to port 4444");
    assert_eq!(c2["destination.ip"], "198.51.100.99");
    assert_eq!(c2["source.ip"], "10.1.2.10");
    assert_eq!(c2["network.transport"], "tcp");
}

#[test]
fn forced_wrong_format_reports_every_record_and_exits_3() {
    let out = run(&["parse", "--format", "cef", "samples/web/access.log"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("samples/web/access.log: record 1: KP005"),
        "{err}"
    );
    assert!(err.contains("0 events, 10 bad records"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_file_is_an_error_and_bad_usage_exits_2() {
    let out = run(&["parse", "no/such/file.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read no/such/file.log"));
    let out = run(&["parse", "--format", "pcap", "samples/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'pcap'"));
}

#[test]
fn garbage_huge_lines_and_invalid_utf8_never_crash() {
    let mut garbage = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..200_000 {
        // xorshift: deterministic pseudo-random bytes
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push((x & 0xff) as u8);
    }
    let mut huge = b"<13>Mar 14 10:00:00 host app: ok before\n".to_vec();
    huge.extend(std::iter::repeat_n(b'A', 10 << 20));
    huge.extend_from_slice(
        b"\n<13>Mar 14 10:00:01 host app: ok after\n<13>Mar 14 10:00:02 host app: bad \xff\xfe utf-8 \xc3\x28\n",
    );
    let g = scratch("garbage.bin", &garbage);
    let h = scratch("huge.log", &huge);
    for format in [
        "auto", "jsonl", "syslog", "cef", "leef", "evtx", "xml", "zeek", "eve", "access", "auth",
        "auditd", "kv",
    ] {
        for f in [&g, &h] {
            let out = kasbah()
                .args(["parse", "--format", format])
                .arg(f)
                .output()
                .expect("run kasbah");
            let code = out.status.code();
            assert!(
                matches!(code, Some(0 | 3)),
                "--format {format} {}: exit {code:?}\n{}",
                f.display(),
                stderr(&out)
            );
        }
    }
    let out = kasbah()
        .args(["parse", "--format", "syslog"])
        .arg(&h)
        .output()
        .expect("run kasbah");
    let err = stderr(&out);
    assert!(err.contains("record 2: KP001"), "{err}");
    let evs = events(&out);
    assert_eq!(evs.len(), 3, "the lines around the huge one survive: {err}");
    assert!(evs.iter().any(|e| e["message"] == "ok after"));
    // Invalid UTF-8 is replaced, not a reason to drop the record.
    assert!(
        evs.iter()
            .any(|e| e["message"] == "bad \u{FFFD}\u{FFFD} utf-8 \u{FFFD}(")
    );
}

#[test]
fn closed_stdout_ends_quietly() {
    let mut child = kasbah()
        .args(["parse", "samples/"])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kasbah");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn parses_the_shared_evtx_corpus() {
    let shared =
        std::env::var_os("KASBAH_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from);
    let dir = shared.join("evtx/EVTX-ATTACK-SAMPLES");
    if !dir.is_dir() {
        eprintln!("skipping: {} not found (set KASBAH_SHARED)", dir.display());
        return;
    }
    let out = kasbah()
        .args(["parse", "--output", "none"])
        .arg(&dir)
        .output()
        .expect("run kasbah");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // 277 files; every record of the corpus (the issue counts 8,255) is an event.
    assert!(err.contains("277 files"), "{err}");
    let events: u64 = err
        .split(" files, ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("summary line");
    assert!(events >= 8_255, "{err}");
}

#[test]
fn hunt_places_year_less_samples_in_the_received_year() {
    let out = run(&[
        "hunt",
        "-q",
        "--received",
        "2024-03-15",
        "-r",
        "rules",
        "--format",
        "jsonl",
        "samples/",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let detections = events(&out);
    assert!(detections.len() >= 16, "{}", detections.len());
    for d in &detections {
        let ts = d["timestamp"].as_str().expect("timestamp");
        assert!(ts.starts_with("2024-03-14T"), "{ts}: {}", d["rule_title"]);
    }
}

#[test]
fn a_dash_reads_standard_input() {
    use std::io::Write;
    let mut child = kasbah()
        .args(["parse", "--format", "auth", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kasbah");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"Mar 14 09:58:01 web01 sshd[123]: Accepted publickey for deploy from 10.0.0.5 port 5000 ssh2\n",
        )
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["host.name"], "web01");
    assert_eq!(ev[0]["user.name"], "deploy");
    assert!(
        stderr(&out).contains("1 files, 1 events"),
        "{}",
        stderr(&out)
    );
}
