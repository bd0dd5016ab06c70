use std::sync::Arc;

use super::*;
use crate::driver::{Item, Origin};
use crate::error::BadRecord;
use crate::format::Format;

/// The receive time every test uses: 2024-06-15T12:00:00Z.
pub(crate) fn opts() -> ParseOptions {
    ParseOptions {
        received: Timestamp::from_secs_nanos(1_718_452_800, 0).expect("valid"),
        keep_raw: false,
        ..ParseOptions::default()
    }
}

/// Parses `input` as `format`, returning events and bad records.
pub(crate) fn parse_all(input: &[u8], format: Format) -> (Vec<Event>, Vec<BadRecord>) {
    let origin = Origin::Input(Arc::from("test"));
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    crate::parse_bytes(input, Some(format), &origin, &opts(), &mut |i| match i {
        Item::Event(e) => events.push(*e),
        Item::Bad(b) => bad.push(b),
    });
    (events, bad)
}

/// The single event `line` gives as `format`.
pub(crate) fn one(line: &str, format: Format) -> Event {
    let (mut events, bad) = parse_all(line.as_bytes(), format);
    assert!(bad.is_empty(), "{}: {bad:?}", excerpt(line));
    assert_eq!(events.len(), 1, "{}", excerpt(line));
    events.remove(0)
}

/// A field as its display text (`None` if absent).
pub(crate) fn f(e: &Event, name: &str) -> Option<String> {
    e.get_name(name).map(ToString::to_string)
}

/// Nanoseconds this thread has run on a CPU (Linux), so that the rate is per core even on a busy
/// machine; `None` elsewhere.
fn thread_cpu_nanos() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Lines per second parsing `input` (best of a few runs): by wall clock and by this thread's CPU
/// time.
fn rate(input: &[u8], lines: usize, keep_raw: bool) -> (f64, f64) {
    let origin = Origin::File(Arc::from("bench"));
    let o = ParseOptions { keep_raw, ..opts() };
    let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let mut n = 0usize;
        let start = std::time::Instant::now();
        let cpu_start = thread_cpu_nanos();
        crate::parse_bytes(input, Some(Format::Syslog), &origin, &o, &mut |i| {
            if let Item::Event(e) = i {
                n += e.fields.len();
            }
        });
        wall = wall.min(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_nanos()) {
            cpu = cpu.min((b - a) as f64 / 1e9);
        }
        assert!(n > lines);
    }
    (lines as f64 / wall, lines as f64 / cpu)
}

#[test]
#[ignore = "throughput measurement: cargo test --release -p kasbah-parse throughput -- --ignored --nocapture"]
fn throughput() {
    use std::fmt::Write;
    const N: usize = 200_000;
    let mut bsd = String::new();
    let mut rfc5424 = String::new();
    let mut sshd = String::new();
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
    for (name, input) in [("rfc3164", &bsd), ("rfc5424+sd", &rfc5424), ("sshd", &sshd)] {
        let mb = input.len() as f64 / 1e6;
        let (wall, cpu) = rate(input.as_bytes(), N, false);
        let (wall_raw, cpu_raw) = rate(input.as_bytes(), N, true);
        println!(
            "{name:>11}: {:.2} M lines/s per CPU-second ({:.0} MB/s), {:.2} M by wall clock; \
             keeping raw lines: {:.2} M per CPU-second, {:.2} M by wall clock",
            cpu / 1e6,
            cpu * mb / N as f64,
            wall / 1e6,
            cpu_raw / 1e6,
            wall_raw / 1e6
        );
    }
}
