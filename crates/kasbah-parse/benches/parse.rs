//! Criterion micro-benchmarks of `parse_bytes` per format, on the bundled samples repeated to
//! about 1 MiB (so the numbers are per core, in memory, output discarded), and on one real EVTX
//! file from `../shared/evtx` when present, and on generated syslog streams of 200,000 lines
//! (`syslog_lines`, per line). End-to-end figures come from `bench/parse.sh`.

#![allow(missing_docs)] // criterion_group! generates an undocumented `benches` function.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kasbah_parse::{Format, Item, Origin, ParseOptions, parse_bytes};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repeated(path: &Path, target: usize) -> Option<Vec<u8>> {
    let one = std::fs::read(path).ok()?;
    if one.is_empty() {
        return None;
    }
    let mut buf = Vec::with_capacity(target + one.len());
    while buf.len() < target {
        buf.extend_from_slice(&one);
        if !one.ends_with(b"\n") {
            buf.push(b'\n');
        }
    }
    Some(buf)
}

fn run(input: &[u8], format: Format) -> u64 {
    let opts = ParseOptions::default();
    let origin = Origin::File(Arc::from("bench"));
    let mut n = 0u64;
    parse_bytes(input, Some(format), &origin, &opts, &mut |item| {
        if let Item::Event(e) = item {
            n += 1;
            black_box(e);
        }
    });
    n
}

fn formats(c: &mut Criterion) {
    let samples = repo().join("samples");
    let cases = [
        ("syslog", Format::Syslog, "syslog/messages.log"),
        ("auth", Format::Auth, "linux/auth.log"),
        ("auditd", Format::Auditd, "linux/audit.log"),
        ("access", Format::Access, "web/access.log"),
        ("zeek", Format::Zeek, "network/conn.log"),
        ("eve", Format::Eve, "network/eve.json"),
        ("jsonl", Format::Jsonl, "network/eve.json"),
        ("kv", Format::Kv, "firewall/fortigate.log"),
        ("cef", Format::Cef, "firewall/ids.cef"),
        ("leef", Format::Leef, "firewall/mail.leef"),
    ];
    let mut g = c.benchmark_group("parse");
    g.sample_size(20);
    for (name, format, rel) in cases {
        let Some(input) = repeated(&samples.join(rel), 1 << 20) else {
            continue;
        };
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| b.iter(|| run(black_box(&input), format)));
    }
    // Windows XML is one document; repeat the events inside one <Events> wrapper.
    if let Ok(xml) = std::fs::read_to_string(samples.join("windows/events.xml")) {
        let body: String = xml
            .lines()
            .filter(|l| l.starts_with("<Event "))
            .collect::<Vec<_>>()
            .join("\n");
        let mut doc = String::from("<Events>\n");
        while doc.len() < 1 << 20 {
            doc.push_str(&body);
            doc.push('\n');
        }
        doc.push_str("</Events>\n");
        g.throughput(Throughput::Bytes(doc.len() as u64));
        g.bench_function("xml", |b| {
            b.iter(|| run(black_box(doc.as_bytes()), Format::WinXml))
        });
    }
    let shared =
        std::env::var_os("KASBAH_SHARED").map_or_else(|| repo().join("../shared"), PathBuf::from);
    let evtx = shared.join(
        "evtx/EVTX-ATTACK-SAMPLES/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx",
    );
    if let Ok(bytes) = std::fs::read(&evtx) {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("evtx", |b| b.iter(|| run(black_box(&bytes), Format::Evtx)));
    } else {
        eprintln!("skipping the evtx bench: {} not found", evtx.display());
    }
    g.finish();
}

/// Generated syslog streams with a line per event and varying values: BSD (RFC 3164) systemd
/// lines, RFC 5424 with structured data, and sshd authentication failures (200,000 lines each).
fn syslog_lines(c: &mut Criterion) {
    use std::fmt::Write;
    const N: usize = 200_000;
    let (mut bsd, mut rfc5424, mut sshd) = (String::new(), String::new(), String::new());
    for i in 0..N {
        let (s, h) = (i % 60, i % 50);
        let _ = writeln!(
            bsd,
            "<30>Oct 11 22:14:{s:02} web-{h:02} systemd[1]: Started Session {i} of user alice."
        );
        let _ = writeln!(
            rfc5424,
            "<165>1 2024-05-01T10:00:{s:02}.123+02:00 host-{h}.example.com app 1234 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] An application event log entry {i}"
        );
        let _ = writeln!(
            sshd,
            "Oct 11 22:14:{s:02} bastion sshd[{i}]: Failed password for invalid user admin from 203.0.113.{h} port {} ssh2",
            1024 + i % 60000
        );
    }
    let mut g = c.benchmark_group("syslog_lines");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    for (name, input) in [("rfc3164", &bsd), ("rfc5424+sd", &rfc5424), ("sshd", &sshd)] {
        g.bench_function(name, |b| {
            b.iter(|| run(black_box(input.as_bytes()), Format::Syslog))
        });
    }
    g.finish();
}

criterion_group!(benches, formats, syslog_lines);
criterion_main!(benches);
