//! Partitions written before the curated columns (layout 1, every field of `f` columnar), and
//! before measures moved to columns (column set `c1`), open and are searched exactly like new
//! ones, next to new partitions of the same tenant.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use kasbah_query::{Output, parse};

use crate::partition::{self, Partition};
use crate::{Batch, SearchRequest, Store, StoreConfig, StoredEvent, TenantId, TenantScope, schema};

const T: TenantId = TenantId(1);
const SEC: i64 = 1_000_000_000;
const BASE: i64 = 1_710_000_000 * SEC;

fn event(i: i64) -> StoredEvent {
    let doc = serde_json::json!({
        "@timestamp": format!("{}", BASE + i * SEC),
        "host.name": format!("fw-{}", i % 3),
        "srcport": 1000 + i % 4,
        "source.port": 1000 + i % 4,
        "action": if i % 5 == 0 { "deny" } else { "accept" },
        "message": format!("connection {i} from gateway"),
    });
    StoredEvent {
        ts: BASE + i * SEC,
        doc: serde_json::to_vec(&doc).unwrap(),
    }
}

fn run(store: &Store, q: &str) -> crate::SearchResult {
    let query = parse(q).unwrap();
    let req = SearchRequest {
        query: &query,
        from: None,
        to: None,
        limit: 1000,
        offset: 0,
    };
    store.search(&TenantScope::One(T), &req).unwrap()
}

fn rows(store: &Store, q: &str) -> Vec<Vec<serde_json::Value>> {
    match run(store, q).output {
        Output::Table(t) => t.rows,
        Output::Events(e) => panic!("expected a table, got {e:?}"),
    }
}

/// Writes a sealed partition 1 of schema `schema` holding `events`, as an older build left it
/// (log checkpoint 0), under the tenant directory of `dir`; returns that directory.
fn old_partition(
    dir: &std::path::Path,
    schema: tantivy::schema::Schema,
    events: &[StoredEvent],
) -> std::path::PathBuf {
    let tdir = dir.join("tenants").join("1");
    std::fs::create_dir_all(&tdir).unwrap();
    let (part, mut writer) = Partition::create_with(&tdir, 1, 0, 0, 20 << 20, 1, schema).unwrap();
    let mut meta = part.meta().unwrap();
    for ev in events {
        let doc =
            schema::document(&part.fields, ev.ts, &ev.doc, &mut Default::default(), None).unwrap();
        writer.add_document(doc).unwrap();
        meta.min_ts = meta.min_ts.min(ev.ts);
        meta.max_ts = meta.max_ts.max(ev.ts);
        meta.docs += 1;
    }
    meta.sealed = true;
    let mut prepared = writer.prepare_commit().unwrap();
    prepared.set_payload(&partition::payload(&meta, &part.shapes));
    prepared.commit().unwrap();
    writer.wait_merging_threads().unwrap();
    tdir
}

#[test]
fn partitions_of_the_first_column_set_keep_measure_and_address_terms() {
    // A firewall-like event with numeric measures, a vendor copy of one, and a string measure.
    let event = |i: i64| {
        let bytes = 1000 + i % 7;
        let mut doc = serde_json::json!({
            "@timestamp": format!("{}", BASE + i * SEC),
            "source.bytes": bytes,
            "sentbyte": bytes,
            "destination.bytes": if i % 10 == 0 { serde_json::json!("n/a") } else { serde_json::json!(i * 3) },
            "event.duration": (i % 4) as f64 / 2.0,
            "source.ip": if i % 11 == 0 { "2001:db8::3".to_string() } else { format!("10.0.0.{}", i % 6) },
            "srcip": format!("10.0.0.{}", i % 6),
            "destination.ip": format!("192.0.2.{}", i % 5),
        });
        if i % 9 == 0 {
            doc["source.bytes"] = serde_json::json!(bytes as f64);
        }
        StoredEvent {
            ts: BASE + i * SEC,
            doc: serde_json::to_vec(&doc).unwrap(),
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (c1, _) = schema::schema_with(schema::ColumnSet::C1);
    let old: Vec<StoredEvent> = (0..60).map(event).collect();
    let tdir = old_partition(dir.path(), c1, &old);
    let cfg = StoreConfig {
        writer_heap_bytes: 20 << 20,
        ..StoreConfig::default()
    };
    let store = Store::open(dir.path(), cfg).unwrap();
    let new: Vec<StoredEvent> = (60..120).map(event).collect();
    let all: Vec<kasbah_query::Row> = old
        .iter()
        .chain(&new)
        .map(|e| serde_json::from_slice(&e.doc).unwrap())
        .collect();
    store
        .append_blocking(Batch {
            tenant: T,
            events: new,
        })
        .unwrap();
    let queries = [
        "source.bytes:1003",
        "source.bytes:1003.0",
        "sentbyte:1003",
        "1003",
        "NOT source.bytes:1003",
        "destination.bytes:n/a",
        "destination.bytes:99",
        "99",
        "event.duration:1.5",
        "event.duration:1",
        "source.bytes:1003 AND NOT event.duration:0",
        "source.ip:10.0.0.3",
        "srcip:10.0.0.3",
        "10.0.0.3",
        "NOT source.ip:10.0.0.3",
        "destination.ip:192.0.2.4 AND source.ip:10.0.0.4",
        "source.ip:2001:db8::3",
        "192.0.2.1",
    ];
    let check = |when: &str, partitions: usize| {
        for q in queries {
            let want = {
                let query = parse(q).unwrap();
                all.iter().filter(|r| query.filter.matches(r)).count() as u64
            };
            assert!(want > 0, "{q} selects something");
            let r = run(&store, q);
            // IPv6 values compare by address whatever their spelling: always checked.
            let exact = !q.contains("2001:");
            assert_eq!(
                (r.total, r.exact, r.partitions),
                (want, exact, partitions),
                "{when}: {q}"
            );
        }
    };
    // The new events pending (evaluated in memory), then committed to a `c2` partition.
    check("pending", 1);
    store.flush().unwrap();
    let part = Partition::open(&tdir.join(partition::dir_name(2)), 2).unwrap();
    assert_eq!(part.fields.cols.map(|c| c.set), Some(schema::ColumnSet::C2));
    check("committed", 2);
    // Measures grouped from the columns of the new partition and documents of the old one.
    let by_bytes = rows(&store, "* | stats count() by source.bytes");
    let total: u64 = by_bytes.iter().map(|r| r[1].as_u64().unwrap()).sum();
    assert_eq!(total, 120);
}

#[test]
fn layout_1_partitions_are_read_with_their_own_schema() {
    let dir = tempfile::tempdir().unwrap();
    let old: Vec<StoredEvent> = (0..60).map(event).collect();
    let tdir = old_partition(dir.path(), schema::schema_v1(), &old);
    let p1 = Partition::open(&tdir.join(partition::dir_name(1)), 1).unwrap();
    assert!(p1.fields.f_fast && p1.fields.cols.is_none());
    drop(p1);
    let cfg = StoreConfig {
        writer_heap_bytes: 20 << 20,
        ..StoreConfig::default()
    };
    let store = Store::open(dir.path(), cfg).unwrap();
    // New events go to a new partition with the curated columns.
    store
        .append_blocking(Batch {
            tenant: T,
            events: (60..90).map(event).collect(),
        })
        .unwrap();
    store.flush().unwrap();
    let new = Partition::open(&tdir.join(partition::dir_name(2)), 2).unwrap();
    assert!(!new.fields.f_fast && new.fields.cols.is_some());

    // Terms, full text and their combination: exact from the index in both partitions.
    for (q, n) in [
        ("action:deny", 18),
        ("srcport:1001", 23),
        ("source.port:1001", 23),
        ("gateway", 90),
        ("connection AND host.name:FW-1", 30),
    ] {
        let r = run(&store, q);
        assert_eq!((r.total, r.exact, r.partitions), (n, true, 2), "{q}");
    }
    // A curated field: answered from the columns of each partition (`exact`: no document read).
    let r = run(&store, "* | stats count() by host.name");
    assert_eq!((r.total, r.exact), (90, true));
    let want = vec![
        vec![serde_json::json!("fw-0"), serde_json::json!(30)],
        vec![serde_json::json!("fw-1"), serde_json::json!(30)],
        vec![serde_json::json!("fw-2"), serde_json::json!(30)],
    ];
    assert_eq!(rows(&store, "* | stats count() by host.name"), want);
    // The same answer from documents (a non-exact filter takes the general path).
    assert_eq!(
        rows(&store, "host.name:fw* | stats count() by host.name"),
        want
    );
    // A field without a column in the new partition: counted from documents, same numbers.
    let by_port = rows(&store, "* | stats count() by srcport, action");
    let by_ecs = rows(&store, "* | stats count() by source.port, action");
    assert_eq!(by_port, by_ecs);
    assert_eq!(by_port.len(), 8);
    let total: u64 = by_port.iter().map(|r| r[2].as_u64().unwrap()).sum();
    assert_eq!(total, 90);
    let r = run(&store, "* | stats count() by srcport");
    assert_eq!((r.total, r.exact), (90, false));
}
