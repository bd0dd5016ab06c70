//! Criterion micro-benchmarks of the search language: parsing, `matches` per filter kind and a
//! `stats` over 10,000 generated events. The 1M-event figures in `bench/RESULTS.md` come from
//! `examples/throughput.rs`.

#![allow(missing_docs)] // criterion_group! generates an undocumented `benches` function.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kasbah_query::{Row, execute, parse};
use serde_json::{Value, json};

fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .filter_map(|i| {
            let process = ["svchost.exe", "PowerShell.exe", "cmd.exe"][i % 3];
            let v = json!({
                "@timestamp": format!("2024-03-14T10:{:02}:{:02}.123456789Z", i / 60 % 60, i % 60),
                "host.name": format!("host{:02}", i % 50),
                "user.name": if i % 10 == 0 { "SYSTEM".to_owned() } else { format!("user{}", i * 7 % 1000) },
                "process.name": process,
                "source.ip": format!("{}.0.{}.{}", if i % 4 == 0 { 10 } else { 203 }, i % 256, i * 3 % 256),
                "bytes": i * 37 % 10_000,
                "message": format!("Failed password for user{} from 203.0.113.{} port {} ssh2", i % 1000, i % 256, i % 65_536),
            });
            match v {
                Value::Object(m) => Some(m),
                _ => None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let example = "process.name:powershell.exe AND NOT user.name:SYSTEM | stats count() by host.name | sort -count | head 10";
    c.bench_function("parse/issue-example", |b| {
        b.iter(|| parse(black_box(example)))
    });

    let data = rows(10_000);
    let mut g = c.benchmark_group("matches");
    g.throughput(Throughput::Elements(data.len() as u64));
    for src in [
        "process.name:powershell.exe AND NOT user.name:SYSTEM",
        "process.name:power*",
        "source.ip:10.0.0.0/8",
        "bytes:[100 TO 500]",
        "@timestamp>=2024-03-14T10:30:00Z",
        "\"failed password\"",
    ] {
        let Ok(q) = parse(src) else { continue };
        g.bench_function(src, |b| {
            b.iter(|| data.iter().filter(|r| q.filter.matches(r)).count())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("execute");
    g.throughput(Throughput::Elements(data.len() as u64));
    for src in [
        "| stats count() by host.name",
        "| stats dc(user.name), avg(bytes) by host.name",
    ] {
        let Ok(q) = parse(src) else { continue };
        g.bench_function(src, |b| b.iter(|| execute(&q.pipes, data.iter().cloned())));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
