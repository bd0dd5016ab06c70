//! Throughput of the miner on one core: mines every line of a file (held in memory) and
//! prints lines/s of CPU time for learning (`mine`) and for reporting (`lookup`), excluding I/O.
//!
//! Then the same lines through a `SharedMiner` (4 shards) from 1 and 2 threads: summed CPU
//! time per line (the per-core cost with locking) and wall time.
//!
//!   cargo run --release -p kasbah-ml --example mine_speed -- FILE

/// CPU time of this thread in seconds (Linux `schedstat`), so that other work sharing the
/// machine does not count; falls back to wall time elsewhere.
fn cpu_secs(wall: std::time::Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns / 1e9)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: mine_speed FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut m = kasbah_ml::Miner::default();
    let wall = std::time::Instant::now();
    let t0 = cpu_secs(wall);
    let mut sink = 0u64;
    for l in &lines {
        sink = sink.wrapping_add(u64::from(m.mine(l).id.0));
    }
    let t1 = cpu_secs(wall);
    let mine = t1 - t0;
    for l in &lines {
        sink = sink.wrapping_add(m.lookup(l).map_or(0, |r| u64::from(r.id.0)));
    }
    let lookup = cpu_secs(wall) - t1;
    println!(
        "{} lines, {} templates: mine {:.0} lines/s, lookup {:.0} lines/s (checksum {sink})",
        lines.len(),
        m.templates().len(),
        lines.len() as f64 / mine,
        lines.len() as f64 / lookup
    );

    for threads in [1, 2] {
        let shared = match kasbah_ml::SharedMiner::new(kasbah_ml::MinerConfig::default(), 4) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        let wall = std::time::Instant::now();
        let per = lines.len().div_ceil(threads);
        let cpu: f64 = std::thread::scope(|s| {
            let handles: Vec<_> = lines
                .chunks(per)
                .map(|chunk| {
                    let shared = &shared;
                    s.spawn(move || {
                        let w = std::time::Instant::now();
                        let t0 = cpu_secs(w);
                        let mut sink = 0u64;
                        for l in chunk {
                            sink = sink.wrapping_add(u64::from(shared.mine(l).id.0));
                        }
                        std::hint::black_box(sink);
                        cpu_secs(w) - t0
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).sum()
        });
        let secs = wall.elapsed().as_secs_f64();
        println!(
            "SharedMiner, {threads} thread(s): {:.0} lines/s per core (CPU), {:.0} lines/s wall",
            lines.len() as f64 / cpu,
            lines.len() as f64 / secs
        );
    }
}
