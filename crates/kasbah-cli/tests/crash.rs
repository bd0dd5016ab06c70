//! `kill -9` under load, then restart: every acknowledged event is searchable exactly once.

mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use server::{Options, Server, post, scratch};

#[test]
fn kill_9_under_load_loses_no_acknowledged_event_and_duplicates_none() {
    let dir = scratch("crash");
    let mut s = Server::start(
        &dir.join("data"),
        Options {
            config: "[storage]\ncommit_interval_secs = 1\n",
            tls: None,
            ..Options::default()
        },
    );
    let tok = s.token("t", "ingest,read");
    let url = s.url("/api/v1/ingest");
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let in_doubt = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (url, tok, stop, acked, in_doubt) = (url.clone(), tok.clone(), stop.clone(), acked.clone(), in_doubt.clone());
            std::thread::spawn(move || {
                let mut batch = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut body = Vec::new();
                    for i in 0..200 {
                        let doc = json!({"message": format!("load event {w} {batch} {i}"), "uid": format!("{w}-{batch}-{i}")});
                        body.extend_from_slice(doc.to_string().as_bytes());
                        body.push(b'\n');
                    }
                    batch += 1;
                    match post(&url, Some(&tok), &body).0 {
                        200 => {
                            acked.fetch_add(200, Ordering::Relaxed);
                        }
                        // No answer: the server died while the request was in flight.
                        0 => {
                            in_doubt.fetch_add(200, Ordering::Relaxed);
                            break;
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    // SIGKILL: no flush, no commit, no goodbye.
    s.child.kill().expect("kill -9");
    let _ = s.child.wait();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let acked = acked.load(Ordering::Relaxed);
    let in_doubt = in_doubt.load(Ordering::Relaxed);
    assert!(acked > 0, "the load did not get going");
    s.restart();
    let total = s.total(&tok, "*");
    assert!(
        total >= acked,
        "lost acknowledged events: {total} searchable < {acked} acknowledged"
    );
    assert!(
        total <= acked + in_doubt,
        "{total} searchable > {acked} acknowledged + {in_doubt} in flight"
    );
    assert_eq!(total % 200, 0, "a request is stored entirely or not at all");
    let distinct = s.search(&tok, "* | stats dc(uid) as n");
    assert_eq!(
        distinct["rows"][0][0], total,
        "duplicates after replay: {distinct}"
    );
    eprintln!(
        "acknowledged {acked}, in flight at the kill {in_doubt}, searchable after restart {total}"
    );
}
