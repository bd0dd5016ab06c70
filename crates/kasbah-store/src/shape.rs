//! Stored documents as a *shape* (the event's keys, kept once per partition) and its values.
//!
//! Events of one source have the same keys in the same order: a FortiGate traffic log has about
//! 70, each written into every stored document. zstd finds them again in earlier events, but
//! each key between two values is a separate match, and those matches were about a third of the
//! compressed document store (bench/RESULTS.md). A partition therefore keeps its list of key
//! sequences (shapes) in its commit payload, and a stored document is
//!
//! ```text
//! 0x01  shape id (LEB128)  JSON array of the values, in the shape's key order
//! ```
//!
//! A document that starts with `{` is a plain JSON object: partitions written before shapes,
//! events whose keys repeat, and events of a partition whose shape list is full
//! ([`MAX_SHAPES`], [`MAX_SHAPE_BYTES`]) keep that form.
//!
//! The shape list only grows and is committed in the same payload as the documents that use it
//! (tantivy's commit is atomic), so a committed document never names a shape that is missing
//! after a crash; shapes registered after the last commit are lost with the documents that used
//! them, and replay registers them again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kasbah_query::Row;

/// First byte of a document stored as shape and values.
pub const SHAPED: u8 = 0x01;
/// Most shapes a partition keeps: sources with ever-changing keys (free-form JSON) would otherwise
/// grow the commit payload without bound.
pub const MAX_SHAPES: usize = 2048;
/// Most bytes of keys a partition keeps across its shapes.
pub const MAX_SHAPE_BYTES: usize = 1 << 20;

/// The keys of one shape.
pub type Keys = Arc<[Box<str>]>;

/// A partition's shapes: read by searches, extended by the indexer.
#[derive(Debug, Default)]
pub struct Shapes {
    list: RwLock<Vec<Keys>>,
}

impl Shapes {
    /// The shapes of a committed partition.
    pub fn new(list: Vec<Vec<String>>) -> Self {
        let list = list
            .into_iter()
            .map(|keys| keys.into_iter().map(String::into_boxed_str).collect())
            .collect();
        Shapes {
            list: RwLock::new(list),
        }
    }

    /// The keys of shape `id`.
    pub fn get(&self, id: u32) -> Option<Keys> {
        self.list.read().ok()?.get(id as usize).cloned()
    }

    /// Every shape, for the commit payload.
    pub fn to_vec(&self) -> Vec<Keys> {
        self.list.read().map(|l| l.clone()).unwrap_or_default()
    }

    fn push(&self, keys: Keys) -> Option<u32> {
        let mut list = self.list.write().ok()?;
        let id = u32::try_from(list.len()).ok()?;
        list.push(keys);
        Some(id)
    }
}

/// The indexer's side of a partition's shapes: finds or registers the shape of an event.
#[derive(Debug)]
pub struct ShapeWriter {
    shapes: Arc<Shapes>,
    ids: HashMap<Keys, u32>,
    bytes: usize,
}

impl ShapeWriter {
    /// A writer over `shapes` (those already committed keep their ids).
    pub fn new(shapes: Arc<Shapes>) -> Self {
        let list = shapes.to_vec();
        let bytes = list.iter().map(|k| key_bytes(k)).sum();
        let ids = list
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, i as u32))
            .collect();
        ShapeWriter { shapes, ids, bytes }
    }

    /// The id of the shape with these keys, registered if new; `None` when the partition's list is
    /// full (the event is then stored as plain JSON).
    pub fn id<'k>(&mut self, keys: impl ExactSizeIterator<Item = &'k str>) -> Option<u32> {
        let keys: Keys = keys.map(Box::from).collect();
        if let Some(&id) = self.ids.get(&keys) {
            return Some(id);
        }
        let bytes = key_bytes(&keys);
        if self.ids.len() >= MAX_SHAPES || self.bytes + bytes > MAX_SHAPE_BYTES {
            return None;
        }
        let id = self.shapes.push(keys.clone())?;
        self.bytes += bytes;
        self.ids.insert(keys, id);
        Some(id)
    }
}

fn key_bytes(keys: &[Box<str>]) -> usize {
    keys.iter().map(|k| k.len() + 3).sum()
}

/// Appends the header of a shaped document (marker and shape id).
pub fn write_header(id: u32, out: &mut Vec<u8>) {
    out.push(SHAPED);
    let mut v = id;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
}

/// The shape id and the values of a shaped document.
fn read_header(doc: &[u8]) -> Option<(u32, &[u8])> {
    let rest = doc.strip_prefix(&[SHAPED])?;
    let mut id = 0u32;
    for (i, &b) in rest.iter().enumerate().take(5) {
        id |= u32::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((id, &rest[i + 1..]));
        }
    }
    None
}

/// The event of a stored document, in either form. `None` if it is neither a JSON object nor a
/// shaped document whose shape is known and whose values match it.
pub fn decode(shapes: &Shapes, doc: &[u8]) -> Option<Row> {
    let Some((id, values)) = read_header(doc) else {
        return plain(doc);
    };
    let keys = shapes.get(id)?;
    let values: Vec<serde_json::Value> = serde_json::from_slice(values).ok()?;
    if values.len() != keys.len() {
        return None;
    }
    Some(
        keys.iter()
            .map(|k| k.to_string())
            .zip(values)
            .collect::<Row>(),
    )
}

/// The event of a document stored as a JSON object (and of an event of the write-ahead log).
pub fn plain(doc: &[u8]) -> Option<Row> {
    match serde_json::from_slice::<serde_json::Value>(doc).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_ids_of_every_length() {
        for id in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_header(id, &mut out);
            out.extend_from_slice(b"[1]");
            assert_eq!(read_header(&out), Some((id, &b"[1]"[..])), "{id}");
        }
        // Truncated or overlong ids are refused, not misread.
        assert_eq!(read_header(&[SHAPED, 0x80]), None);
        assert_eq!(
            read_header(&[SHAPED, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            None
        );
        assert_eq!(read_header(b"{}"), None);
    }

    #[test]
    fn shapes_are_registered_once_and_decoded_by_id() {
        let shapes = Arc::new(Shapes::default());
        let mut w = ShapeWriter::new(shapes.clone());
        let a = w.id(["a", "b"].into_iter());
        let b = w.id(["b", "a"].into_iter());
        assert_eq!(a, Some(0));
        assert_eq!(b, Some(1));
        assert_eq!(w.id(["a", "b"].into_iter()), Some(0));
        let mut doc = Vec::new();
        write_header(1, &mut doc);
        doc.extend_from_slice(br#"[1,"x"]"#);
        let row = decode(&shapes, &doc).unwrap();
        assert_eq!(row["b"], serde_json::json!(1));
        assert_eq!(row["a"], serde_json::json!("x"));
        // A writer reopened over committed shapes keeps their ids.
        let mut again = ShapeWriter::new(Arc::new(Shapes::new(vec![
            vec!["a".into(), "b".into()],
            vec!["b".into(), "a".into()],
        ])));
        assert_eq!(again.id(["b", "a"].into_iter()), Some(1));
        assert_eq!(again.id(["c"].into_iter()), Some(2));
    }

    #[test]
    fn plain_json_and_broken_documents() {
        let shapes = Shapes::default();
        assert_eq!(decode(&shapes, br#"{"a":1}"#).unwrap()["a"], 1);
        assert!(decode(&shapes, b"[1]").is_none());
        // Unknown shape, wrong number of values, garbage after the header.
        let mut doc = Vec::new();
        write_header(0, &mut doc);
        doc.extend_from_slice(b"[1]");
        assert!(decode(&shapes, &doc).is_none());
        let shapes = Shapes::new(vec![vec!["a".into(), "b".into()]]);
        assert!(decode(&shapes, &doc).is_none());
        doc.truncate(2);
        doc.extend_from_slice(b"[1,");
        assert!(decode(&shapes, &doc).is_none());
    }

    #[test]
    fn the_list_stops_growing_at_its_bounds() {
        let mut w = ShapeWriter::new(Arc::new(Shapes::default()));
        for i in 0..MAX_SHAPES {
            let k = format!("k{i}");
            assert!(w.id([k.as_str()].into_iter()).is_some());
        }
        assert_eq!(w.id(["one more"].into_iter()), None);
        // Known shapes still resolve when the list is full.
        assert_eq!(w.id(["k7"].into_iter()), Some(7));
        let mut w = ShapeWriter::new(Arc::new(Shapes::default()));
        let long = "x".repeat(MAX_SHAPE_BYTES);
        assert_eq!(w.id([long.as_str()].into_iter()), None);
    }
}
