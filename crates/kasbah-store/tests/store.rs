//! End-to-end tests of the store: durability, exactly-once replay, search, isolation, retention.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::time::Duration;

use kasbah_query::{Output, parse};
use kasbah_store::{
    Batch, Retention, SearchRequest, Store, StoreConfig, StoredEvent, TenantId, TenantScope,
};

const T1: TenantId = TenantId(1);
const T2: TenantId = TenantId(2);
const SEC: i64 = 1_000_000_000;
const BASE: i64 = 1_710_000_000 * SEC;

fn ev(ts: i64, fields: serde_json::Value) -> StoredEvent {
    let mut m = fields.as_object().cloned().unwrap_or_default();
    m.insert(
        "@timestamp".into(),
        serde_json::Value::String(format!("{ts}")),
    );
    StoredEvent {
        ts,
        doc: serde_json::to_vec(&m).unwrap(),
    }
}

fn batch(tenant: TenantId, events: Vec<StoredEvent>) -> Batch {
    Batch { tenant, events }
}

fn cfg() -> StoreConfig {
    StoreConfig {
        commit_interval: Duration::from_secs(3600),
        writer_heap_bytes: 20 << 20,
        ..StoreConfig::default()
    }
}

fn count(store: &Store, tenant: TenantId, q: &str) -> u64 {
    let query = parse(q).unwrap();
    let req = SearchRequest {
        query: &query,
        from: None,
        to: None,
        limit: 10,
        offset: 0,
    };
    store.search(&TenantScope::One(tenant), &req).unwrap().total
}

fn events(
    store: &Store,
    tenant: TenantId,
    q: &str,
    limit: usize,
    offset: usize,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let query = parse(q).unwrap();
    let req = SearchRequest {
        query: &query,
        from: None,
        to: None,
        limit,
        offset,
    };
    match store
        .search(&TenantScope::One(tenant), &req)
        .unwrap()
        .output
    {
        Output::Events(e) => e,
        Output::Table(_) => panic!("expected events"),
    }
}

fn sample(n: usize) -> Vec<StoredEvent> {
    (0..n)
        .map(|i| {
            let proc_name = if i % 10 == 0 {
                "PowerShell.exe"
            } else {
                "svchost.exe"
            };
            ev(
                BASE + i as i64 * SEC,
                serde_json::json!({
                    "process.name": proc_name,
                    "host.name": format!("ws-{}", i % 3),
                    "event.code": 4688,
                    "message": format!("process {i} started by mimikatz_{i} operator"),
                }),
            )
        })
        .collect()
}

#[test]
fn acknowledged_events_are_searchable_before_and_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    store.append_blocking(batch(T1, sample(100))).unwrap();
    // Not committed yet: found in the pending list.
    assert_eq!(count(&store, T1, "process.name:powershell.exe"), 10);
    assert_eq!(count(&store, T1, "*"), 100);
    store.flush().unwrap();
    // Committed: the index answers, the same counts.
    assert_eq!(count(&store, T1, "process.name:powershell.exe"), 10);
    assert_eq!(count(&store, T1, "process.name:POWERSHELL.EXE"), 10);
    assert_eq!(count(&store, T1, "event.code:4688"), 100);
    // Numbers compare numerically, from the index alone.
    assert_eq!(count(&store, T1, "event.code:4688.0"), 100);
    assert_eq!(count(&store, T1, "event.code:4689"), 0);
    assert_eq!(count(&store, T1, "host.name:ws-1"), 33);
    assert_eq!(count(&store, T1, "*"), 100);
    assert_eq!(count(&store, T1, "started"), 100);
    assert_eq!(count(&store, T1, "nothing-like-this"), 0);
    // `message` is searched by its words, not kept as a keyword.
    assert_eq!(
        count(&store, T1, "message:\"started by mimikatz_7 operator\""),
        1
    );
    assert_eq!(
        count(&store, T1, "message:started"),
        0,
        "a field value is the whole value"
    );
    // Newest first, with paging.
    let page = events(&store, T1, "*", 5, 0);
    assert_eq!(page.len(), 5);
    assert_eq!(page[0]["@timestamp"], format!("{}", BASE + 99 * SEC));
    let next = events(&store, T1, "*", 5, 5);
    assert_eq!(next[0]["@timestamp"], format!("{}", BASE + 94 * SEC));
    store.append_blocking(batch(T1, sample(5))).unwrap();
    // Committed plus pending, each once.
    assert_eq!(count(&store, T1, "*"), 105);
}

/// The log thread lists a batch as searchable and acknowledges it while the indexer may be in
/// the middle of a commit; the commit then keeps in the pending list exactly the batches its
/// partitions do not hold. With commits running back to back beside the appender, every
/// acknowledged event must be found, and found once, at every step.
#[test]
fn acknowledged_events_are_counted_once_while_commits_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), cfg()).unwrap());
    // The tenant's first batch opens its view; the rest are listed by the log thread.
    store.append_blocking(batch(T1, sample(10))).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flusher = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut commits = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.flush().unwrap();
                commits += 1;
            }
            commits
        })
    };
    let mut acknowledged = 10u64;
    for round in 0..60 {
        let n = 20 + round % 7;
        store.append_blocking(batch(T1, sample(n))).unwrap();
        acknowledged += n as u64;
        assert_eq!(count(&store, T1, "*"), acknowledged, "round {round}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let commits = flusher.join().unwrap();
    assert!(commits > 1, "the commits ran beside the appends");
    store.flush().unwrap();
    assert_eq!(count(&store, T1, "*"), acknowledged);
    assert_eq!(count(&store, T1, "process.name:powershell.exe"), {
        // `sample(n)` names PowerShell every tenth event, from its first.
        let per = |n: u64| n.div_ceil(10);
        per(10) + (0..60u64).map(|r| per(20 + r % 7)).sum::<u64>()
    });
}

#[test]
fn time_range_bounds_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    store.append_blocking(batch(T1, sample(50))).unwrap();
    store.flush().unwrap();
    store.append_blocking(batch(T1, sample(50))).unwrap();
    let query = parse("*").unwrap();
    let req = SearchRequest {
        query: &query,
        from: Some(BASE + 10 * SEC),
        to: Some(BASE + 19 * SEC),
        limit: 100,
        offset: 0,
    };
    // 10 seconds in each of the committed and the pending copy.
    assert_eq!(store.search(&TenantScope::One(T1), &req).unwrap().total, 20);
}

#[test]
fn tenants_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    store.append_blocking(batch(T1, sample(30))).unwrap();
    store.append_blocking(batch(T2, sample(7))).unwrap();
    store.flush().unwrap();
    assert_eq!(count(&store, T1, "*"), 30);
    assert_eq!(count(&store, T2, "*"), 7);
    assert_eq!(count(&store, TenantId(3), "*"), 0);
    let query = parse("*").unwrap();
    let req = SearchRequest {
        query: &query,
        from: None,
        to: None,
        limit: 1,
        offset: 0,
    };
    assert_eq!(store.search(&TenantScope::All, &req).unwrap().total, 37);
}

/// Copies a data directory as it is on disk now: what a crash at this instant would leave. A
/// file deleted while the copy runs (a segment merged away) is left out, as after a crash.
fn crash_copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            crash_copy(&e.path(), &dest);
        } else if let Err(err) = std::fs::copy(e.path(), dest) {
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
        }
    }
}

/// A batch whose tenant cannot be opened (here a file stands where its directory belongs) is
/// acknowledged, kept in the log past every commit, indexed by a retry once the tenant opens, and
/// replayed exactly once after a restart; the other tenant is served all along.
#[test]
fn a_batch_that_cannot_be_indexed_is_kept_and_retried() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("tenants").join(T2.0.to_string());
    {
        let store = Store::open(dir.path(), cfg()).unwrap();
        store.append_blocking(batch(T1, sample(10))).unwrap();
        std::fs::write(&blocker, b"not a directory").unwrap();
        // Acknowledged: durable in the log even though it cannot be indexed.
        store.append_blocking(batch(T2, sample(7))).unwrap();
        store.append_blocking(batch(T2, sample(4))).unwrap();
        store.append_blocking(batch(T1, sample(5))).unwrap();
        store.flush().unwrap();
        store.flush().unwrap();
        assert_eq!(count(&store, T1, "*"), 15);
        let m = store.metrics();
        assert!(m.index_errors.load(Relaxed) >= 1);
        assert_eq!(m.held_events.load(Relaxed), 11);
        // Commits ran past the held batches: a crash now must still recover them.
        crash_copy(dir.path(), crashed.path());
        // Once the tenant can be opened, the next commit indexes them, in order, once.
        std::fs::remove_file(&blocker).unwrap();
        store.flush().unwrap();
        assert_eq!(m.held_events.load(Relaxed), 0);
        assert_eq!(count(&store, T2, "*"), 11);
        assert_eq!(count(&store, T2, "process.name:PowerShell.exe"), 2);
        assert_eq!(count(&store, T1, "*"), 15);
    }
    let _ = std::fs::remove_file(crashed.path().join("tenants").join(T2.0.to_string()));
    // Replayed once, and not again at the next start.
    assert_counts_after_open(crashed.path(), 15, 11);
    assert_counts_after_open(crashed.path(), 15, 11);
}

/// Opens the store in `dir` and checks how many events each tenant has.
fn assert_counts_after_open(dir: &std::path::Path, t1: u64, t2: u64) {
    let store = Store::open(dir, cfg()).unwrap();
    assert_eq!((count(&store, T1, "*"), count(&store, T2, "*")), (t1, t2));
}

/// A tenant that cannot be indexed is refused alone once its held batches fill their share (a
/// quarter of the in-flight bound): the other tenant keeps being accepted, and the refused
/// tenant is accepted again once its batches are indexed.
#[test]
fn a_tenant_that_cannot_be_indexed_is_held_back_alone() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        max_inflight_bytes: 256 << 10,
        ..cfg()
    };
    let store = Store::open(dir.path(), cfg).unwrap();
    store.append_blocking(batch(T1, sample(10))).unwrap();
    let blocker = dir.path().join("tenants").join(T2.0.to_string());
    std::fs::write(&blocker, b"not a directory").unwrap();
    let mut accepted = 0;
    let refused = loop {
        match store.append_blocking(batch(T2, sample(100))) {
            Ok(_) => accepted += 100,
            Err(e) => break e,
        }
        assert!(accepted <= 10_000, "a held tenant was never refused");
    };
    assert!(
        matches!(refused, kasbah_store::StoreError::Overloaded(_)),
        "{refused}"
    );
    assert!(accepted > 0);
    // Held bytes left the shared account: the other tenant is still accepted, beyond what the
    // held batches would have left of the in-flight bound.
    for _ in 0..3 {
        store.append_blocking(batch(T1, sample(100))).unwrap();
    }
    assert_eq!(store.metrics().held_events.load(Relaxed), accepted);
    std::fs::remove_file(&blocker).unwrap();
    store.flush().unwrap();
    assert_eq!(store.metrics().held_events.load(Relaxed), 0);
    assert_eq!(count(&store, T2, "*"), accepted);
    assert_eq!(count(&store, T1, "*"), 310);
    store.append_blocking(batch(T2, sample(100))).unwrap();
    assert_eq!(count(&store, T2, "*"), accepted + 100);
}

/// `flush` after an acknowledgement commits the acknowledged batch: the log thread queues a batch
/// for the indexer before acknowledging it (acknowledging first let a flush overtake the batch).
#[test]
fn a_flush_after_an_acknowledgement_commits_the_batch() {
    use std::sync::atomic::Ordering::Relaxed;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    store.append_blocking(batch(T1, sample(1))).unwrap();
    store.flush().unwrap();
    for n in 2..=300 {
        store.append_blocking(batch(T1, sample(1))).unwrap();
        store.flush().unwrap();
        assert_eq!(store.metrics().committed_events.load(Relaxed), n);
    }
}

/// A tenant whose partition is damaged does not keep the store from opening: the other tenant is
/// served, and the damaged tenant's events (replayed and new) are held until it opens again.
#[test]
fn a_damaged_tenant_does_not_keep_the_others_from_starting() {
    use std::sync::atomic::Ordering::Relaxed;
    let live = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(live.path(), cfg()).unwrap();
        store.append_blocking(batch(T1, sample(10))).unwrap();
        store.append_blocking(batch(T2, sample(5))).unwrap();
        store.flush().unwrap();
        // Acknowledged, not committed when the copy is taken: replayed at the next open.
        store.append_blocking(batch(T2, sample(3))).unwrap();
        crash_copy(live.path(), dir.path());
    }
    let t2 = dir.path().join("tenants").join(T2.0.to_string());
    let meta = std::fs::read_dir(&t2)
        .unwrap()
        .map(|e| e.unwrap().path().join("meta.json"))
        .find(|p| p.exists())
        .unwrap();
    let good = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, b"{ damaged").unwrap();
    {
        let store = Store::open(dir.path(), cfg()).unwrap();
        assert!(store.metrics().index_errors.load(Relaxed) >= 1);
        assert_eq!(count(&store, T1, "*"), 10);
        store.append_blocking(batch(T1, sample(4))).unwrap();
        store.append_blocking(batch(T2, sample(2))).unwrap();
        store.flush().unwrap();
        assert_eq!(count(&store, T1, "*"), 14);
        assert_eq!(store.metrics().held_events.load(Relaxed), 5);
    }
    std::fs::write(&meta, good).unwrap();
    assert_counts_after_open(dir.path(), 14, 10);
}

#[test]
fn restart_replays_uncommitted_batches_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), cfg()).unwrap();
        store.append_blocking(batch(T1, sample(40))).unwrap();
        store.flush().unwrap();
        store.append_blocking(batch(T1, sample(25))).unwrap();
        store.append_blocking(batch(T2, sample(3))).unwrap();
        // The last two batches are acknowledged (in the log) but not committed to the index.
        crash_copy(dir.path(), crashed.path());
    }
    let store = Store::open(crashed.path(), cfg()).unwrap();
    assert_eq!(
        store
            .metrics()
            .replayed_events
            .load(std::sync::atomic::Ordering::Relaxed),
        28
    );
    assert_eq!(count(&store, T1, "*"), 65);
    assert_eq!(count(&store, T2, "*"), 3);
    drop(store);
    // A clean restart replays nothing more.
    let store = Store::open(crashed.path(), cfg()).unwrap();
    assert_eq!(count(&store, T1, "*"), 65);
    assert_eq!(
        store
            .metrics()
            .replayed_events
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn stored_events_read_back_whole_across_restarts_and_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let first = sample(30);
    // Another key sequence (a new shape), with every kind of JSON value.
    let second: Vec<StoredEvent> = (0..20)
        .map(|i| {
            ev(
                BASE + (100 + i) * SEC,
                serde_json::json!({"srcip": "10.0.0.1", "n": i, "f": 1.5, "neg": -3, "b": true,
                    "z": null, "nested": {"a": [1, null, "x\"y\u{e9}"]}, "list": ["p", 2]}),
            )
        })
        .collect();
    // A repeated key: kept as a plain JSON object, read as the evaluator reads it (last wins).
    let dup = StoredEvent {
        ts: BASE + 200 * SEC,
        doc: br#"{"k":"first","@timestamp":"dup","k":"last"}"#.to_vec(),
    };
    let mut all = first.clone();
    all.extend(second.clone());
    all.push(dup.clone());
    {
        let store = Store::open(dir.path(), cfg()).unwrap();
        store.append_blocking(batch(T1, first)).unwrap();
        store.flush().unwrap();
        store.append_blocking(batch(T1, second)).unwrap();
        store.append_blocking(batch(T1, vec![dup])).unwrap();
        // The new shape is registered but not committed: lost with its documents, replayed.
        crash_copy(dir.path(), crashed.path());
        store.flush().unwrap();
    }
    let by_time = |mut rows: Vec<kasbah_query::Row>| {
        rows.sort_by_key(|r| r["@timestamp"].to_string());
        rows
    };
    let want = by_time(rows_of(&all));
    for d in [dir.path(), crashed.path()] {
        let store = Store::open(d, cfg()).unwrap();
        assert_eq!(
            by_time(events(&store, T1, "*", 100, 0)),
            want,
            "{}",
            d.display()
        );
        assert_eq!(count(&store, T1, "k:last"), 1);
        assert_eq!(count(&store, T1, "n:7"), 1);
        // Scans that read documents decode them too (a wildcard is verified per document).
        assert_eq!(count(&store, T1, "srcip:10.0.0.*"), 20);
        store.flush().unwrap();
    }
}

#[test]
fn retention_drops_old_partitions_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    // An old partition (events from 2024), sealed, then a recent one.
    store.append_blocking(batch(T1, sample(20))).unwrap();
    store.seal().unwrap();
    let now = kasbah_event::Timestamp::now().as_nanos();
    store
        .append_blocking(batch(
            T1,
            vec![ev(now, serde_json::json!({"message": "fresh"}))],
        ))
        .unwrap();
    store.seal().unwrap();
    store
        .set_retention(
            T1,
            Retention {
                max_age: Some(Duration::from_secs(30 * 86400)),
                max_bytes: None,
            },
        )
        .unwrap();
    store.apply_retention().unwrap();
    assert_eq!(count(&store, T1, "*"), 1);
    assert_eq!(count(&store, T1, "fresh"), 1);
    let tdir = dir.path().join("tenants").join("1");
    assert_eq!(std::fs::read_dir(tdir).unwrap().count(), 1);
}

#[test]
fn overload_is_refused_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        StoreConfig {
            max_inflight_bytes: 1,
            ..cfg()
        },
    )
    .unwrap();
    // The first batch is always accepted (an empty pipeline takes one batch of any size).
    store.append_blocking(batch(T1, sample(3))).unwrap();
    let err = store.append_blocking(batch(T1, sample(3))).unwrap_err();
    assert!(
        matches!(err, kasbah_store::StoreError::Overloaded(_)),
        "{err}"
    );
    assert_eq!(
        store
            .metrics()
            .rejected_overload
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    store.flush().unwrap();
    // Once committed, room again.
    store.append_blocking(batch(T1, sample(3))).unwrap();
    assert_eq!(count(&store, T1, "*"), 6);
}

#[test]
fn layout_version_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), cfg()).unwrap());
    std::fs::write(dir.path().join("VERSION"), "kasbah-data 7\n").unwrap();
    assert!(Store::open(dir.path(), cfg()).is_err());
}

fn run(store: &Store, q: &str) -> kasbah_store::SearchResult {
    let query = parse(q).unwrap();
    let req = SearchRequest {
        query: &query,
        from: None,
        to: None,
        limit: 10,
        offset: 0,
    };
    store.search(&TenantScope::One(T1), &req).unwrap()
}

/// The events as the query evaluator sees them.
fn rows_of(docs: &[StoredEvent]) -> Vec<kasbah_query::Row> {
    docs.iter()
        .map(|e| serde_json::from_slice(&e.doc).unwrap())
        .collect()
}

/// How many of `rows` the evaluator says `q` matches: what a search must count.
fn evaluator_count(rows: &[kasbah_query::Row], q: &str) -> u64 {
    let query = parse(q).unwrap();
    rows.iter().filter(|r| query.filter.matches(r)).count() as u64
}

fn table(store: &Store, q: &str) -> kasbah_query::Table {
    match run(store, q).output {
        Output::Table(t) => t,
        Output::Events(e) => panic!("expected a table, got {e:?}"),
    }
}

#[test]
fn stats_from_columns_agree_with_stats_from_documents() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    store.append_blocking(batch(T1, sample(90))).unwrap();
    store.flush().unwrap();
    store.append_blocking(batch(T1, sample(9))).unwrap();
    store
        .append_blocking(batch(
            T1,
            vec![ev(BASE, serde_json::json!({"message": "no host"}))],
        ))
        .unwrap();
    // Committed (columns) plus pending (documents), with the null group for the event without host.
    let t = table(&store, "* | stats count() by host.name | sort host.name");
    assert_eq!(t.columns, vec!["host.name", "count"]);
    assert_eq!(
        t.rows,
        vec![
            vec![serde_json::json!("ws-0"), serde_json::json!(33)],
            vec![serde_json::json!("ws-1"), serde_json::json!(33)],
            vec![serde_json::json!("ws-2"), serde_json::json!(33)],
            vec![serde_json::Value::Null, serde_json::json!(1)],
        ]
    );
    // Without `sort`, the rows come sorted by the `by` values all the same (search.md).
    let unsorted = table(&store, "* | stats count() by host.name");
    assert_eq!(unsorted.rows, t.rows);
    // Answered from columns: only the 10 pending events were read.
    let r = run(&store, "* | stats count() by host.name");
    assert_eq!((r.total, r.verified), (100, 10));
    // A non-exact filter (wildcard) takes the document path: same answer shape and counts.
    let by_docs = table(
        &store,
        "process.name:power* | stats count() by host.name, process.name | sort host.name",
    );
    let by_cols = table(
        &store,
        "process.name:powershell.exe | stats count() by host.name, process.name | sort host.name",
    );
    assert_eq!(by_docs.rows, by_cols.rows);
    assert_eq!(by_cols.rows.len(), 3);
    // Numbers stay numbers.
    let t = table(&store, "* | stats count() by event.code");
    assert!(
        t.rows
            .contains(&vec![serde_json::json!(4688), serde_json::json!(99)]),
        "{:?}",
        t.rows
    );
}

#[test]
fn pipes_stream_and_still_count_every_match() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    store.append_blocking(batch(T1, sample(3000))).unwrap();
    store.flush().unwrap();
    let r = run(&store, "process.name:power* | head 3");
    assert_eq!(r.total, 300);
    match r.output {
        Output::Events(e) => assert_eq!(e.len(), 3),
        Output::Table(_) => panic!("head keeps events"),
    }
}

#[test]
fn vendor_fields_equal_to_ecs_fields_are_found_exactly() {
    // schema::link_same_values: `srcip` equal to `source.ip` has no terms of its own; searches
    // on it go through `s1` and must match exactly what the evaluator says.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    // After 120 events cycling through four key sequences, 60 alternate between the first two,
    // which have the same keys: the indexer then reuses the last event's links
    // (`KindsCache::links`) and must check them against each event's values.
    let docs: Vec<StoredEvent> = (0..180i64)
        .map(|i| {
            let ip = format!("10.0.0.{}", i % 4);
            let port = [22, 3389, 443][(i % 3) as usize];
            let pattern = if i < 120 { i % 4 } else { i % 2 };
            let fields = match pattern {
                // Same values under both names: linked.
                0 => serde_json::json!({"srcip": ip, "source.ip": ip, "dstport": port,
                                        "destination.port": port, "action": "deny",
                                        "event.action": "deny"}),
                // Different values: both indexed.
                1 => serde_json::json!({"srcip": ip, "source.ip": "192.0.2.1", "dstport": port,
                                        "destination.port": 1, "action": "Deny",
                                        "event.action": "deny"}),
                // Only the vendor name.
                2 => serde_json::json!({"srcip": ip, "dstport": port, "action": "accept"}),
                // Only the ECS name.
                _ => serde_json::json!({"source.ip": ip, "destination.port": port,
                                        "event.action": "accept"}),
            };
            ev(BASE + i * SEC, fields)
        })
        .collect();
    let rows = rows_of(&docs);
    store.append_blocking(batch(T1, docs)).unwrap();
    store.flush().unwrap();
    for q in [
        "srcip:10.0.0.0",
        "srcip:10.0.0.1",
        "source.ip:10.0.0.0",
        "source.ip:192.0.2.1",
        "dstport:3389",
        "dstport:3389.0",
        "destination.port:3389",
        "action:deny",
        "action:DENY AND srcip:10.0.0.0",
        "NOT srcip:10.0.0.0",
        "NOT action:deny",
        "srcip:10.0.0.2 OR dstport:22",
        "event.action:deny AND NOT dstport:443",
    ] {
        let want = evaluator_count(&rows, q);
        let r = run(&store, q);
        assert_eq!((r.total, r.exact), (want, true), "{q}");
    }
    // Linked fields still answer `stats` (from documents: vendor names have no column).
    let t = table(&store, "srcip:10.0.0.0 | stats count() by srcip, action");
    let want = evaluator_count(&rows, "srcip:10.0.0.0 AND action:deny");
    assert_eq!(want, 45);
    assert_eq!(
        t.rows,
        vec![vec![
            serde_json::json!("10.0.0.0"),
            serde_json::json!("deny"),
            serde_json::json!(want)
        ]]
    );
}

#[test]
fn bare_words_also_match_whole_field_values() {
    // A bare word is full text or the whole value of any field: an analyst pasting an address
    // finds the firewall events that hold it only in `source.ip` (or in a vendor field linked
    // to it), from pending batches and from the index alike, and exactly as the evaluator says.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let docs: Vec<StoredEvent> = (0..90i64)
        .map(|i| {
            let ip = format!("10.9.0.{}", i % 3);
            let fields = match i % 3 {
                0 => serde_json::json!({"srcip": ip, "source.ip": ip, "dstport": 3389,
                                        "destination.port": 3389, "action": "deny"}),
                1 => serde_json::json!({"message": format!("Failed password from {ip} port 22 (pam_unix)"),
                                        "user.name": "Admin", "tags": ["lateral movement", "t1021"]}),
                _ => serde_json::json!({"url.path": "/admin/login", "http.response.status_code": 403,
                                        "event.outcome": "failure"}),
            };
            ev(BASE + i * SEC, fields)
        })
        .collect();
    let rows = rows_of(&docs);
    store.append_blocking(batch(T1, docs)).unwrap();
    let queries = [
        ("10.9.0.0", 30),
        ("10.9.0.1", 30),
        ("3389", 30),
        ("3389.0", 30),
        ("deny", 30),
        ("DENY", 30),
        ("admin", 30),
        ("/admin/login", 30),
        ("403", 30),
        ("failure", 30),
        ("failed", 30),
        ("login", 0),
        (r#""lateral movement""#, 30),
        ("lateral", 0),
        ("t1021", 30),
        ("22", 30),
        ("NOT deny", 60),
        ("deny OR failure", 60),
        ("10.9.0.2 AND 3389", 0),
        // `_` separates words, in the index as in the evaluator.
        ("pam", 30),
        ("pam_unix", 30),
        (r#""22 pam""#, 30),
        ("unix", 30),
    ];
    for pass in ["pending", "committed"] {
        for (q, want) in queries {
            let eval = evaluator_count(&rows, q);
            assert_eq!(eval, want, "evaluator, {q}");
            let r = run(&store, q);
            assert_eq!(r.total, want, "{pass}: {q}");
            if pass == "committed" {
                assert!(r.exact, "answered by the index alone: {q}");
            }
        }
        store.flush().unwrap();
    }
}

#[test]
fn rfc3339_values_are_found_by_field_and_bare() {
    // tantivy indexes strings that parse as RFC 3339 times as dates, not text: a search for such
    // a value must still find it, as the evaluator does (by its text).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let docs: Vec<StoredEvent> = (0..10i64)
        .map(|i| {
            let created = if i % 2 == 0 {
                "2024-03-14T10:02:41Z"
            } else {
                "2024-03-14T10:02:41+00:00"
            };
            ev(
                BASE + i * SEC,
                serde_json::json!({"event.created": created, "n": i}),
            )
        })
        .collect();
    let rows = rows_of(&docs);
    store.append_blocking(batch(T1, docs)).unwrap();
    store.flush().unwrap();
    for q in [
        r#"event.created:"2024-03-14T10:02:41Z""#,
        r#"event.created:"2024-03-14T10:02:41+00:00""#,
        r#""2024-03-14T10:02:41Z""#,
        r#"NOT event.created:"2024-03-14T10:02:41Z""#,
        "event.created:2024-03-14T10:02:41Z",
        "event.created=2024-03-14T10:02:41Z",
        "NOT event.created:2024-03-14T10:02:41Z",
    ] {
        let want = evaluator_count(&rows, q);
        assert_eq!(run(&store, q).total, want, "{q}");
    }
}

#[test]
fn event_times_are_found_without_timestamp_terms() {
    // `@timestamp` equal to the event time has no keyword terms (the `ts` column holds it): an
    // equality or a bare time must still find exactly what the evaluator finds, committed or not.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let at = |s: i64| {
        let t = time_of(s);
        (BASE + s * SEC, t)
    };
    let mut docs: Vec<StoredEvent> = (0..6i64)
        .map(|i| {
            let (ts, text) = at(i / 2);
            let mut m = serde_json::Map::new();
            m.insert("@timestamp".into(), text.into());
            m.insert("n".into(), i.into());
            StoredEvent {
                ts,
                doc: serde_json::to_vec(&m).unwrap(),
            }
        })
        .collect();
    // The same instant spelt differently, and a `@timestamp` that is not the event time: both
    // keep their terms.
    docs.push(StoredEvent {
        ts: BASE,
        doc: br#"{"@timestamp":"2024-03-09T16:00:00+00:00","n":6}"#.to_vec(),
    });
    docs.push(StoredEvent {
        ts: BASE + 100 * SEC,
        doc: format!(r#"{{"@timestamp":"{}","n":7}}"#, time_of(1)).into_bytes(),
    });
    // Another field holding an event time: found by a bare time, not by `@timestamp:`.
    docs.push(StoredEvent {
        ts: BASE + 200 * SEC,
        doc: format!(
            r#"{{"@timestamp":"{}","event.created":"{}","n":8}}"#,
            time_of(200),
            time_of(2)
        )
        .into_bytes(),
    });
    let rows = rows_of(&docs);
    let queries = [
        format!("@timestamp:\"{}\"", time_of(0)),
        format!("@timestamp:\"{}\"", time_of(1)),
        "@timestamp:\"2024-03-09T16:00:00+00:00\"".to_string(),
        format!("\"{}\"", time_of(2)),
        format!("\"{}\"", time_of(1)),
        format!("NOT @timestamp:\"{}\"", time_of(1)),
        format!("@timestamp:\"{}\" AND n:1", time_of(0)),
    ];
    store.append_blocking(batch(T1, docs)).unwrap();
    let check = |when: &str| {
        for q in &queries {
            let want = evaluator_count(&rows, q);
            assert!(want > 0 || q.starts_with("NOT"), "{q} selects something");
            assert_eq!(run(&store, q).total, want, "{when}: {q}");
        }
    };
    check("pending");
    store.flush().unwrap();
    check("committed");
}

/// The RFC 3339 text of `BASE + s` seconds, as the server writes `@timestamp`.
fn time_of(s: i64) -> String {
    kasbah_event::Timestamp::from_nanos(BASE + s * SEC).to_rfc3339()
}

#[test]
fn cidr_filters_are_answered_from_columns() {
    // `field:net` on a field with a column tests each distinct value of the column once; it
    // must select exactly what the evaluator selects, IPv4 (no terms), IPv6, mapped and
    // malformed values, lists and numbers alike.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let mut docs: Vec<StoredEvent> = (0..256i64)
        .map(|k| {
            // Every second octet: a /9 then matches many separate runs of sorted values.
            let ip = format!("10.{k}.0.{}", 1 + k % 3);
            ev(
                BASE + k * SEC,
                serde_json::json!({"source.ip": ip, "srcip": ip, "n": k % 4,
                    "host.ip": [format!("192.168.{}.1", k % 2), "fe80::1"],
                    // A vendor field linked to nothing: only its own terms.
                    "peer": format!("10.{}.9.9", 255 - k)}),
            )
        })
        .collect();
    let odd = [
        serde_json::json!("2001:db8::7"),
        serde_json::json!("::ffff:10.9.9.9"),
        serde_json::json!(" 10.3.3.3 "),
        serde_json::json!("10.foo"),
        serde_json::json!("not an address"),
        serde_json::json!(167772161),
        serde_json::json!(["10.7.7.7", "172.16.0.1"]),
        serde_json::json!("172.31.255.255"),
        serde_json::json!("11.0.0.1"),
    ];
    for (i, v) in odd.into_iter().enumerate() {
        docs.push(ev(
            BASE + (300 + i as i64) * SEC,
            serde_json::json!({"source.ip": v, "n": 9, "srcip": v, "peer": v}),
        ));
    }
    // Malformed values sorting between addresses of one /24: over 64 separate runs of matching
    // values, which take the per-document path of `CidrQuery`.
    for j in 0..100i64 {
        for v in [format!("10.0.0.{j}"), format!("10.0.0.{j}-x")] {
            docs.push(ev(
                BASE + (400 + j) * SEC,
                serde_json::json!({"source.ip": v, "n": 8}),
            ));
        }
    }
    let rows = rows_of(&docs);
    let queries = [
        ("source.ip:10.0.0.0/8", true),
        ("source.ip:10.0.0.0/9", true),
        ("source.ip:10.128.0.0/9", true),
        ("source.ip:10.4.0.0/16", true),
        ("source.ip:10.4.0.2/32", true),
        ("source.ip:10.0.0.0/24", true),
        ("source.ip:172.16.0.0/12", true),
        ("source.ip:2001:db8::/32", true),
        ("source.ip:0.0.0.0/0", true),
        ("host.ip:192.168.1.0/24", true),
        ("host.ip:fe80::/10", true),
        ("NOT source.ip:10.0.0.0/9", true),
        ("source.ip:10.0.0.0/9 AND n:3", true),
        // Vendor fields have no column: their own terms, and the columns they are linked to.
        ("srcip:10.0.0.0/9", true),
        ("srcip:10.4.0.0/16", true),
        ("peer:10.128.0.0/9", true),
        ("peer:10.0.0.0/8 AND srcip:10.0.0.0/9", true),
    ];
    store.append_blocking(batch(T1, docs)).unwrap();
    let check = |when: &str| {
        for (q, exact) in queries {
            let want = evaluator_count(&rows, q);
            assert!(want > 0, "{q} selects something");
            let r = run(&store, q);
            assert_eq!(r.total, want, "{when}: {q}");
            if when == "committed" {
                assert_eq!(r.exact, exact, "{q}");
            }
        }
    };
    check("pending");
    store.flush().unwrap();
    check("committed");
}
