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
//! Parsers copy a vendor field into its ECS name (`srcip` and `source.ip`, `policyid` and
//! `rule.id`), so a value often occurs twice in one event. Such a value is stored once, and its
//! later positions as references to the first (each a separate zstd match otherwise):
//!
//! ```text
//! 0x02  shape id  reference count  (position, source << 2 | kind [, exponent])...  JSON array of the other values
//! ```
//!
//! all integers LEB128 (the exponent one byte), positions increasing, each source an earlier
//! position. The kind ([`RefKind`]) says how the value is made from its source: the same value;
//! an integer's canonical text, or the integer such a text holds (`"82"` and `82`); or an integer
//! times a power of ten (ECS durations in nanoseconds from a vendor's seconds).
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
/// First byte of a document stored as shape, references and values.
pub const SHAPED_REFS: u8 = 0x02;

/// A value stored as a copy of an earlier value of the same document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ref {
    /// Position of the value in the shape's key order.
    pub at: u32,
    /// Position of the value it copies (`from < at`).
    pub from: u32,
    /// How the value is made from the source.
    pub kind: RefKind,
}

/// How a referenced value is made from its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// The same value.
    Same,
    /// A string holding an integer's canonical text ([`canonical_int`]), or the integer of such
    /// a string.
    Retyped,
    /// The integer source times ten to this power (1 to [`MAX_EXPONENT`]).
    Scaled(u8),
}

/// Largest power of ten of [`RefKind::Scaled`].
pub const MAX_EXPONENT: u8 = 19;
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

/// Appends the header of a shaped document: marker, shape id and, if any, the references.
pub fn write_header(id: u32, refs: &[Ref], out: &mut Vec<u8>) {
    if refs.is_empty() {
        out.push(SHAPED);
        write_leb(u64::from(id), out);
        return;
    }
    out.push(SHAPED_REFS);
    write_leb(u64::from(id), out);
    write_leb(refs.len() as u64, out);
    for r in refs {
        write_leb(u64::from(r.at), out);
        let (kind, exponent) = match r.kind {
            RefKind::Same => (0, None),
            RefKind::Retyped => (1, None),
            RefKind::Scaled(e) => (2, Some(e)),
        };
        write_leb(u64::from(r.from) << 2 | kind, out);
        if let Some(e) = exponent {
            out.push(e);
        }
    }
}

fn write_leb(mut v: u64, out: &mut Vec<u8>) {
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

/// Reads a LEB128 integer of at most `max_bytes` bytes from the front of `buf`.
fn read_leb(buf: &mut &[u8], max_bytes: usize) -> Option<u64> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(max_bytes) {
        v |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Some(v);
        }
    }
    None
}

/// The header of a shaped document.
#[derive(Debug, PartialEq)]
struct Header<'d> {
    id: u32,
    refs: Vec<Ref>,
    values: &'d [u8],
}

/// The shape id, the references and the values of a shaped document.
fn read_header(doc: &[u8]) -> Option<Header<'_>> {
    let (&marker, mut rest) = doc.split_first()?;
    if marker != SHAPED && marker != SHAPED_REFS {
        return None;
    }
    let id = u32::try_from(read_leb(&mut rest, 5)?).ok()?;
    let mut refs = Vec::new();
    if marker == SHAPED_REFS {
        let n = read_leb(&mut rest, 5)?;
        // Each reference takes at least two bytes: a count beyond that is corrupt.
        if n > rest.len() as u64 / 2 {
            return None;
        }
        let mut last = None;
        for _ in 0..n {
            let at = u32::try_from(read_leb(&mut rest, 5)?).ok()?;
            let src = read_leb(&mut rest, 6)?;
            let from = u32::try_from(src >> 2).ok()?;
            let kind = match src & 3 {
                0 => RefKind::Same,
                1 => RefKind::Retyped,
                2 => {
                    let (&e, tail) = rest.split_first()?;
                    rest = tail;
                    if e == 0 || e > MAX_EXPONENT {
                        return None;
                    }
                    RefKind::Scaled(e)
                }
                _ => return None,
            };
            if from >= at || last.is_some_and(|l| l >= at) {
                return None;
            }
            last = Some(at);
            refs.push(Ref { at, from, kind });
        }
    }
    Some(Header {
        id,
        refs,
        values: rest,
    })
}

/// The value a reference stands for, made from its source; `None` if the source cannot make it.
fn copy_of(src: &serde_json::Value, kind: RefKind) -> Option<serde_json::Value> {
    use serde_json::Value;
    match (kind, src) {
        (RefKind::Same, _) => Some(src.clone()),
        (RefKind::Retyped, Value::Number(n)) if json_int(n).is_some() => {
            Some(Value::String(n.to_string()))
        }
        (RefKind::Retyped, Value::String(s)) => {
            canonical_int(s).and_then(int_number).map(Value::Number)
        }
        (RefKind::Scaled(e), Value::Number(n)) => {
            let scaled = json_int(n)?.checked_mul(10i128.checked_pow(u32::from(e))?)?;
            int_number(scaled).map(Value::Number)
        }
        _ => None,
    }
}

/// The integer `s` holds if it is written as serde_json writes integers (no sign but `-`, no
/// leading zero, no `-0`) within the range of a JSON integer (`i64` or `u64`): such a string and
/// the number turn into each other without loss.
pub fn canonical_int(s: &str) -> Option<i128> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let well_formed = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if !well_formed {
        return None;
    }
    if s.starts_with('-') {
        s.parse::<i64>().ok().map(i128::from)
    } else {
        s.parse::<u64>().ok().map(i128::from)
    }
}

/// The value of an integral JSON number (`None` for a float).
pub fn json_int(n: &serde_json::Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// The JSON number of `v`, as serde_json reads the integer's text (non-negative ones as `u64`);
/// `None` beyond the range of `i64` and `u64`.
fn int_number(v: i128) -> Option<serde_json::Number> {
    match u64::try_from(v) {
        Ok(u) => Some(serde_json::Number::from(u)),
        Err(_) => i64::try_from(v).ok().map(serde_json::Number::from),
    }
}

/// The event of a stored document, in either form. `None` if it is neither a JSON object nor a
/// shaped document whose shape is known and whose values match it.
pub fn decode(shapes: &Shapes, doc: &[u8]) -> Option<Row> {
    let Some(Header { id, refs, values }) = read_header(doc) else {
        return plain(doc);
    };
    let keys = shapes.get(id)?;
    let stored: Vec<serde_json::Value> = serde_json::from_slice(values).ok()?;
    if stored.len() + refs.len() != keys.len() {
        return None;
    }
    let values = if refs.is_empty() {
        stored
    } else {
        let mut all: Vec<serde_json::Value> = Vec::with_capacity(keys.len());
        let mut stored = stored.into_iter();
        let mut refs = refs.iter().peekable();
        for at in 0..keys.len() {
            let v = match refs.next_if(|r| r.at as usize == at) {
                Some(r) => copy_of(all.get(r.from as usize)?, r.kind)?,
                None => stored.next()?,
            };
            all.push(v);
        }
        all
    };
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
            write_header(id, &[], &mut out);
            out.extend_from_slice(b"[1]");
            let expected = Header {
                id,
                refs: Vec::new(),
                values: &b"[1]"[..],
            };
            assert_eq!(read_header(&out), Some(expected), "{id}");
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
        write_header(1, &[], &mut doc);
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
        write_header(0, &[], &mut doc);
        doc.extend_from_slice(b"[1]");
        assert!(decode(&shapes, &doc).is_none());
        let shapes = Shapes::new(vec![vec!["a".into(), "b".into()]]);
        assert!(decode(&shapes, &doc).is_none());
        doc.truncate(2);
        doc.extend_from_slice(b"[1,");
        assert!(decode(&shapes, &doc).is_none());
    }

    const SAME: RefKind = RefKind::Same;
    const RETYPED: RefKind = RefKind::Retyped;

    /// A document of shape 0 with these references (position, source, kind) and stored values.
    fn encoded(list: &[(u32, u32, RefKind)], values: &[u8]) -> Vec<u8> {
        let refs: Vec<Ref> = list
            .iter()
            .map(|&(at, from, kind)| Ref { at, from, kind })
            .collect();
        let mut doc = Vec::new();
        write_header(0, &refs, &mut doc);
        doc.extend_from_slice(values);
        doc
    }

    #[test]
    fn references_are_copies_of_earlier_values() {
        let keys = [
            "srcip",
            "port",
            "source.ip",
            "source.port",
            "rule",
            "rule.id",
        ];
        let shapes = Shapes::new(vec![keys.iter().map(|k| k.to_string()).collect()]);
        let doc = encoded(
            &[(2, 0, SAME), (3, 1, SAME), (5, 4, RETYPED)],
            br#"["10.0.0.1",4433,82]"#,
        );
        assert_eq!(doc[0], SHAPED_REFS);
        let row = decode(&shapes, &doc).unwrap();
        let expected = serde_json::json!({
            "srcip": "10.0.0.1", "port": 4433, "source.ip": "10.0.0.1",
            "source.port": 4433, "rule": 82, "rule.id": "82"
        });
        assert_eq!(serde_json::Value::Object(row), expected);
        // A retyped string turns back into its integer.
        let doc = encoded(
            &[(1, 0, RETYPED), (2, 0, SAME), (3, 1, SAME)],
            br#"["-7","x","y"]"#,
        );
        let row = decode(&shapes, &doc).unwrap();
        assert_eq!(row["port"], serde_json::json!(-7));
        assert_eq!(row["source.ip"], serde_json::json!("-7"));
        assert_eq!(row["source.port"], serde_json::json!(-7));
        // Durations: nanoseconds from seconds, and the largest scales that still fit.
        let scaled = |e| RefKind::Scaled(e);
        let doc = encoded(
            &[(1, 0, scaled(9)), (2, 0, scaled(1)), (3, 2, scaled(18))],
            br#"[-31,"x","y"]"#,
        );
        assert!(
            decode(&shapes, &doc).is_none(),
            "-310 * 10^18 overflows i64"
        );
        let doc = encoded(
            &[(1, 0, scaled(9)), (2, 0, scaled(1)), (4, 3, scaled(19))],
            br#"[31,1,"z"]"#,
        );
        let row = decode(&shapes, &doc).unwrap();
        assert_eq!(row["port"], serde_json::json!(31_000_000_000u64));
        assert_eq!(row["source.ip"], serde_json::json!(310));
        assert_eq!(
            row["rule"],
            serde_json::json!(10_000_000_000_000_000_000u64)
        );
    }

    #[test]
    fn broken_references_are_refused() {
        let shapes = Shapes::new(vec![vec!["a".into(), "b".into(), "c".into()]]);
        assert!(decode(&shapes, &encoded(&[(1, 0, SAME)], b"[1,2]")).is_some());
        // A source at or after its position, positions out of order, past the keys.
        assert!(decode(&shapes, &encoded(&[(1, 1, SAME)], b"[1,2]")).is_none());
        assert!(decode(&shapes, &encoded(&[(2, 0, SAME), (1, 0, SAME)], b"[1]")).is_none());
        assert!(decode(&shapes, &encoded(&[(5, 0, SAME)], b"[1,2]")).is_none());
        // Too many or too few values for the shape.
        assert!(decode(&shapes, &encoded(&[(1, 0, SAME)], b"[1,2,3]")).is_none());
        assert!(decode(&shapes, &encoded(&[(1, 0, SAME)], b"[1]")).is_none());
        // A retyped copy of something that is not an integer or its text.
        assert!(decode(&shapes, &encoded(&[(1, 0, RETYPED)], br#"["x",2]"#)).is_none());
        assert!(decode(&shapes, &encoded(&[(1, 0, RETYPED)], b"[1.5,2]")).is_none());
        assert!(decode(&shapes, &encoded(&[(1, 0, RETYPED)], br#"["01",2]"#)).is_none());
        // A scaled copy of a string, or by no or too large a power; an unknown kind.
        assert!(
            decode(
                &shapes,
                &encoded(&[(1, 0, RefKind::Scaled(2))], br#"["1",2]"#)
            )
            .is_none()
        );
        assert!(decode(&shapes, &encoded(&[(1, 0, RefKind::Scaled(1))], b"[2,2]")).is_some());
        assert!(
            decode(
                &shapes,
                &[SHAPED_REFS, 0, 1, 1, 2, 0, b'[', b'1', b',', b'2', b']']
            )
            .is_none()
        );
        assert!(
            decode(
                &shapes,
                &[SHAPED_REFS, 0, 1, 1, 2, 20, b'[', b'1', b',', b'2', b']']
            )
            .is_none()
        );
        assert!(
            decode(
                &shapes,
                &[SHAPED_REFS, 0, 1, 1, 3, b'[', b'1', b',', b'2', b']']
            )
            .is_none()
        );
        // A count the document cannot hold, truncated references.
        assert!(decode(&shapes, &[SHAPED_REFS, 0, 0x7f, 1]).is_none());
        assert!(decode(&shapes, &[SHAPED_REFS, 0, 1, 1]).is_none());
    }

    #[test]
    fn canonical_integers() {
        for s in [
            "0",
            "7",
            "82",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            assert!(canonical_int(s).is_some(), "{s}");
            let n: serde_json::Number = serde_json::from_str(s).unwrap();
            assert_eq!(n.to_string(), s);
        }
        for s in [
            "",
            "-",
            "-0",
            "007",
            "+1",
            "1.0",
            "1e3",
            " 1",
            "18446744073709551616",
        ] {
            assert!(canonical_int(s).is_none(), "{s}");
        }
        assert!(canonical_int("-9223372036854775809").is_none());
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
