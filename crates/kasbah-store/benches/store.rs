//! Criterion benchmark of the store's write path: batches of normalised syslog events (FortiGate
//! traffic, sshd, CEF and RFC 5424 lines, as `kasbah serve` stores them by default, without
//! `event.original`) appended through the write-ahead log, indexed and committed. The six events
//! of `events.jsonl` are varied (digits of every value after the first of a run are rewritten)
//! so that terms are as diverse as in a real stream. End-to-end figures with parsing and the network come from `bench/ingest.sh`.
//!
//! The measure is the CPU time of the whole process (every thread: write-ahead log, indexer,
//! tantivy's indexing and compression threads), read from `/proc/self/stat`: on this 2-core VM
//! wall time follows the disk and the neighbours, CPU time follows the code.

#![allow(missing_docs)] // criterion_group! generates an undocumented `benches` function.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kasbah_store::{Batch, Store, StoreConfig, StoredEvent, TenantId};

const EVENTS: usize = 20_000;
const BATCH: usize = 1_000;

/// Rewrites the digits of `s` that follow another digit, so numbers keep their length and form.
fn vary(s: &str, seed: &mut u64) -> String {
    let mut prev_digit = false;
    s.chars()
        .map(|c| {
            let digit = c.is_ascii_digit();
            let out = if digit && prev_digit {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'0' + ((*seed >> 33) % 10) as u8)
            } else {
                c
            };
            prev_digit = digit;
            out
        })
        .collect()
}

fn vary_value(v: &serde_json::Value, seed: &mut u64) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(vary(s, seed)),
        Value::Number(n) => serde_json::from_str(&vary(&n.to_string(), seed))
            .unwrap_or_else(|_| Value::Number(n.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| vary_value(x, seed)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), vary_value(x, seed)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn events() -> Vec<StoredEvent> {
    let templates: Vec<serde_json::Value> = include_str!("events.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!templates.is_empty(), "benches/events.jsonl has no events");
    let mut seed = 7u64;
    (0..EVENTS)
        .map(|i| StoredEvent {
            ts: 1_709_251_200_000_000_000 + i as i64 * 1_000_000,
            doc: serde_json::to_vec(&vary_value(&templates[i % templates.len()], &mut seed))
                .unwrap_or_default(),
        })
        .collect()
}

/// CPU time (user + system) of this process, every thread, in seconds.
struct CpuTime;

fn cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat (after the parenthesised command name): utime, stime
    // in clock ticks (100 per second on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

impl Measurement for CpuTime {
    type Intermediate = f64;
    type Value = f64;
    fn start(&self) -> f64 {
        cpu_seconds()
    }
    fn end(&self, start: f64) -> f64 {
        cpu_seconds() - start
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, v: &f64) -> f64 {
        *v
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values.iter_mut() {
            *v *= 1000.0;
        }
        "ms CPU"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        if let Throughput::Elements(n) = throughput {
            for v in values.iter_mut() {
                *v = *n as f64 / *v;
            }
        }
        "events per CPU-second"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "s"
    }
}

fn bench_store(c: &mut Criterion<CpuTime>) {
    let events = events();
    let bytes: usize = events.iter().map(|e| e.doc.len()).sum();
    let mut g = c.benchmark_group("store");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function(
        format!(
            "append+index+commit {EVENTS} events, {} B avg",
            bytes / EVENTS
        ),
        |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("temporary directory"),
                |dir| {
                    let store = Store::open(dir.path(), StoreConfig::default()).expect("store");
                    for chunk in events.chunks(BATCH) {
                        let batch = Batch {
                            tenant: TenantId(1),
                            events: chunk.to_vec(),
                        };
                        black_box(store.append_blocking(batch).expect("append"));
                    }
                    store.flush().expect("flush");
                    store.shutdown().expect("shutdown");
                    dir
                },
                criterion::BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_store
}
criterion_main!(benches);
