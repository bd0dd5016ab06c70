//! Throughput of the search language on generated events: parse time per query, `matches` per
//! filter and `execute` per pipe over N flat events (default 1,000,000) held in memory. Prints a
//! Markdown table for `bench/RESULTS.md`.
//!
//! `cargo run --release -p kasbah-query --example throughput [-- N]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use kasbah_query::{Output, Row, execute, parse};
use serde_json::{Value, json};

/// Deterministic pseudo-random numbers (64-bit LCG), so every run sees the same events.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PROCS: [&str; 8] = [
    "svchost.exe",
    "PowerShell.exe",
    "cmd.exe",
    "explorer.exe",
    "chrome.exe",
    "sshd",
    "nginx",
    "rundll32.exe",
];

/// One event in Kasbah's flat JSON form, about 500 bytes, like an sshd or process event.
fn event(rng: &mut Lcg, i: u64) -> Row {
    let ts = 1_710_374_400_000_000_000i64 + i as i64 * 86_400_000_000; // ~1 day per 1,000 events
    let secs = ts / 1_000_000_000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let day = 14 + secs / 86_400 - 19_796;
    let user = if rng.below(10) == 0 {
        "SYSTEM".to_owned()
    } else {
        format!("user{}", rng.below(1000))
    };
    let ip = if rng.below(4) == 0 {
        format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.below(256)
        )
    } else {
        format!("203.0.{}.{}", rng.below(256), rng.below(256))
    };
    let failed = rng.below(3) == 0;
    let msg = if failed {
        format!(
            "Failed password for {user} from {ip} port {} ssh2",
            rng.below(65_536)
        )
    } else {
        format!(
            "Accepted publickey for {user} from {ip} port {} ssh2: RSA SHA256:x",
            rng.below(65_536)
        )
    };
    let v = json!({
        "@timestamp": format!("2024-03-{day:02}T{h:02}:{m:02}:{s:02}.{:09}Z", ts % 1_000_000_000),
        "event.kind": "event",
        "event.category": "authentication",
        "event.outcome": if failed { "failure" } else { "success" },
        "host.name": format!("host{:02}", rng.below(50)),
        "user.name": user,
        "process.name": PROCS[rng.below(PROCS.len() as u64) as usize],
        "process.pid": rng.below(65_536),
        "source.ip": ip,
        "source.port": rng.below(65_536),
        "bytes": rng.below(10_000),
        "message": msg,
    });
    match v {
        Value::Object(m) => m,
        _ => Row::new(),
    }
}

/// A query as a Markdown table cell.
fn cell(src: &str) -> String {
    format!("`{}`", src.replace('|', "\\|"))
}

fn per_sec(n: usize, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    if r >= 1e6 {
        format!("{:.1} M/s", r / 1e6)
    } else {
        format!("{:.0} k/s", r / 1e3)
    }
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = black_box(f());
        let d = t.elapsed();
        if best.as_ref().is_none_or(|(b, _)| d < *b) {
            best = Some((d, out));
        }
    }
    best.unwrap_or_else(|| (Duration::ZERO, f()))
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = Lcg(42);
    let t = Instant::now();
    let rows: Vec<Row> = (0..n as u64).map(|i| event(&mut rng, i)).collect();
    eprintln!("generated {n} events in {:.2?}", t.elapsed());

    println!("| what | query | time | rate | result |");
    println!("|---|---|---|---|---|");
    let parse_cases = [
        "process.name:powershell.exe AND NOT user.name:SYSTEM | stats count() by host.name | sort -count | head 10",
        "(event.outcome:failure OR \"failed password\") source.ip:10.0.0.0/8 bytes:[100 TO 500] @timestamp>=2024-03-14T10:00:00Z host.name:(web* OR db*) | timechart span=5m count(), dc(user.name) by host.name",
    ];
    for src in parse_cases {
        let k = 100_000;
        let (d, _) = best_of(3, || {
            for _ in 0..k {
                black_box(parse(black_box(src)).is_ok());
            }
        });
        println!(
            "| parse | {} | {:.2} µs/query | {} | ok |",
            cell(src),
            d.as_secs_f64() * 1e6 / k as f64,
            per_sec(k, d)
        );
    }

    let filters = [
        "process.name:powershell.exe AND NOT user.name:SYSTEM",
        "process.name:power*",
        "source.ip:10.0.0.0/8",
        "bytes:[100 TO 500]",
        "@timestamp>=2024-06-01T00:00:00Z",
        "failed",
        "\"failed password\"",
        "user.name:user1* OR host.name:host0?",
    ];
    for src in filters {
        let q = match parse(src) {
            Ok(q) => q,
            Err(e) => panic!("{src}: {e}"),
        };
        let (d, hits) = best_of(3, || rows.iter().filter(|r| q.filter.matches(r)).count());
        // The same test on 1,000 events that stay in cache: the cost of the test itself, without
        // the memory latency of walking a million `serde_json` maps.
        let hot = rows.get(..1000.min(n)).unwrap_or_default();
        let reps = 1000;
        let (hd, _) = best_of(3, || {
            (0..reps)
                .map(|_| hot.iter().filter(|r| q.filter.matches(r)).count())
                .sum::<usize>()
        });
        println!(
            "| matches | {} | {:.0} ns/event ({:.0} ns hot) | {} | {hits} hits |",
            cell(src),
            d.as_nanos() as f64 / n as f64,
            hd.as_nanos() as f64 / (reps * hot.len().max(1)) as f64,
            per_sec(n, d)
        );
    }

    // execute() takes owned rows (as a store hands them over); the clone is measured alone.
    let (clone_d, _) = best_of(3, || rows.iter().cloned().map(black_box).count());
    println!(
        "| clone (baseline, included below) | - | {:.0} ns/event | {} | - |",
        clone_d.as_nanos() as f64 / n as f64,
        per_sec(n, clone_d)
    );
    let pipes = [
        "| stats count() by host.name",
        "| stats count(), dc(user.name), avg(bytes), max(bytes) by host.name",
        "| stats dc(source.ip)",
        "| timechart span=1d count() by event.outcome",
        "| top user.name",
        "| sort -bytes | head 10",
        "| where bytes > 9990 | fields host.name, bytes",
    ];
    for src in pipes {
        let q = match parse(src) {
            Ok(q) => q,
            Err(e) => panic!("{src}: {e}"),
        };
        let (d, out) = best_of(3, || execute(&q.pipes, rows.iter().cloned()));
        let result = match out {
            Ok(Output::Table(t)) => format!("{} rows", t.rows.len()),
            Ok(Output::Events(e)) => format!("{} events", e.len()),
            Err(e) => e.to_string(),
        };
        println!(
            "| execute | {} | {:.0} ns/event | {} | {result} |",
            cell(src),
            d.as_nanos() as f64 / n as f64,
            per_sec(n, d)
        );
    }
}
