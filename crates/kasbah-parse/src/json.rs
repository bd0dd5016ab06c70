//! JSON documents: JSON lines, top-level arrays of objects, concatenated or pretty-printed
//! documents, and Elasticsearch `_bulk` bodies.
//!
//! Every document is an object and becomes one event. Nested objects are flattened to dotted
//! names (`{"process":{"name":"x"}}` -> `process.name`), so ECS / Beats documents land on their ECS
//! fields unchanged. Arrays of scalars become [`Value::List`]; arrays of objects follow
//! Elasticsearch's object-array semantics: each leaf path collects the values of every element
//! into one list (`{"a":[{"b":1},{"b":2}]}` -> `a.b: [1, 2]`), nested arrays are flattened into
//! the same list. Empty objects produce no field.
//!
//! Recognised shapes are routed to their mapping after flattening: Suricata EVE
//! ([`crate::eve`]), Zeek JSON ([`crate::zeek`]) and Windows events
//! ([`crate::windows::normalise_json`], falling back to plain flattening when it declines).
//!
//! Speed: the document is walked once by a hand-written scanner that writes each leaf straight
//! into the event (no intermediate `serde_json::Value`). Keys are resolved through a per-parser
//! table of path nodes keyed by (parent node, key bytes), so the dotted name is built and interned
//! only the first time a path is seen; recognised keys (time keys, EVE / Zeek / Windows / bulk
//! markers) carry precomputed flags, so routing costs no string comparison per document.
//!
//! Grammar: strict RFC 8259 with two leniencies that keep data rather than drop it: invalid
//! UTF-8 and lone UTF-16 surrogates in strings become U+FFFD, and numbers too large for `f64`
//! are kept as their text.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use compact_str::CompactString;
use kasbah_event::{Event, FieldId, Fields, Timestamp, TzOffset, Value, ecs};

use crate::driver::{Cx, LineParser};
use crate::error::{ErrorCode, ParseError};
use crate::format::Format;

/// Deepest nesting accepted; deeper documents are bad records (and cannot blow the stack).
const MAX_DEPTH: u32 = 128;
/// Path nodes cached per parser; past this the table is rebuilt between documents, so hostile
/// input with endless distinct keys cannot grow memory without bound.
const MAX_NODES: usize = 1 << 16;
/// The root pseudo-node (the document itself).
const ROOT: u32 = 0;

// ---------------------------------------------------------------------------------------------
// Key hashing

/// Process-wide random seeds for [`KeyHasher`].
fn seeds() -> (u64, u64) {
    static SEEDS: OnceLock<(u64, u64)> = OnceLock::new();
    *SEEDS.get_or_init(|| {
        let s = std::hash::RandomState::new();
        (
            s.hash_one(0x6b61_7362_6168_u64),
            s.hash_one(0x6a73_6f6e_u64) | 1,
        )
    })
}

/// 64x64 -> 128-bit multiply, high and low halves folded together.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A fast seeded hash for short byte keys. Keys come from untrusted input, so a plain
/// multiplicative hash (FxHash) would let an attacker pick keys that collide in the low bits and
/// make the table quadratic; the folded full-width multiply with secret seeds spreads every input
/// bit over the whole hash.
#[derive(Clone, Copy)]
struct KeyHasher {
    h: u64,
    k: u64,
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.h = fold_mul(self.h ^ u64::from_le_bytes(w), self.k);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..rest.len()) {
                dst.copy_from_slice(rest);
            }
            self.h = fold_mul(self.h ^ u64::from_le_bytes(w), self.k ^ rest.len() as u64);
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.h = fold_mul(self.h ^ n as u64, self.k);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.h, self.k.rotate_left(23))
    }
}

#[derive(Clone, Copy)]
struct KeyHash;

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        let (h, k) = seeds();
        KeyHasher { h, k }
    }
}

// ---------------------------------------------------------------------------------------------
// Path nodes and their flags

/// Time-key priority (1 = best) in the low 4 bits; 0: not a time key.
const F_TIME: u32 = 0xF;
/// Top-level `event_type` (Suricata EVE).
const F_EVENT_TYPE: u32 = 1 << 4;
/// Top-level `timestamp` (Suricata EVE).
const F_TIMESTAMP: u32 = 1 << 5;
/// Top-level `ts` (Zeek).
const F_TS: u32 = 1 << 6;
/// Top-level `uid`, `fuid`, `_path` or `id.orig_h` (Zeek).
const F_ZEEK: u32 = 1 << 7;
/// `Event.System` (Windows event rendered by the evtx crate).
const F_WIN_SYSTEM: u32 = 1 << 8;
/// Top-level `winlog` (Winlogbeat).
const F_WINLOG: u32 = 1 << 9;
/// Top-level `index` / `create` / `update` / `delete` (a `_bulk` action).
const F_BULK_ACTION: u32 = 1 << 10;
/// A key inside a `_bulk` action that is not a bulk parameter (so it is not an action line).
const F_BULK_OTHER: u32 = 1 << 11;

/// Top-level keys that may hold the event time, best first. Documented in docs/formats/jsonl.md.
const TIME_KEYS: [&str; 12] = [
    "@timestamp",
    "timestamp",
    "time",
    "ts",
    "eventTime",
    "EventTime",
    "TimeGenerated",
    "published",
    "CreationTime",
    "datetime",
    "date",
    "_time",
];
/// The time of a Windows event rendered by the evtx crate, used when no top-level key has one.
const WIN_TIME_PATH: &str = "Event.System.TimeCreated.#attributes.SystemTime";

/// Parameters an Elasticsearch bulk action may carry besides `_index`-style metadata.
const BULK_PARAMS: [&str; 9] = [
    "routing",
    "pipeline",
    "require_alias",
    "require_data_stream",
    "retry_on_conflict",
    "if_seq_no",
    "if_primary_term",
    "version",
    "version_type",
];

/// Where a path's values go: an interned field, or (interner full) the overflow map by name.
#[derive(Clone, Copy)]
enum Slot {
    Id(FieldId),
    Overflow,
}

struct Node {
    slot: Slot,
    flags: u32,
    /// The full dotted path.
    path: Box<str>,
    /// The last path component, decoded.
    key: Box<[u8]>,
    /// 1 + index into `Flattener::pending` while an array collects values for this node.
    pending: u32,
    /// Predictions (0: none): the sibling that followed this key last time, and the first key of
    /// this node's object last time. Documents of one producer repeat their key order, so most
    /// keys are resolved by one short comparison instead of a hash lookup.
    next: u32,
    first: u32,
}

fn node_flags(parent: u32, parent_flags: u32, key: &str, path: &str) -> u32 {
    let mut f = 0;
    if parent == ROOT {
        if let Some(i) = TIME_KEYS.iter().position(|k| *k == key) {
            f |= i as u32 + 1;
        }
        f |= match key {
            "event_type" => F_EVENT_TYPE,
            "timestamp" => F_TIMESTAMP,
            "ts" => F_TS,
            "uid" | "fuid" | "_path" | "id.orig_h" => F_ZEEK,
            "winlog" => F_WINLOG,
            "index" | "create" | "update" | "delete" => F_BULK_ACTION,
            _ => 0,
        };
    } else if parent_flags & F_BULK_ACTION != 0
        && !key.starts_with('_')
        && !BULK_PARAMS.contains(&key)
    {
        f |= F_BULK_OTHER;
    }
    if path == "id.orig_h" {
        f |= F_ZEEK;
    }
    if path == "Event.System" {
        f |= F_WIN_SYSTEM;
    }
    if path == WIN_TIME_PATH {
        f |= TIME_KEYS.len() as u32 + 1;
    }
    f
}

// ---------------------------------------------------------------------------------------------
// Errors

/// What went wrong while scanning a document.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum JsonErrorKind {
    /// Unexpected byte; the text says what was expected.
    Expected(&'static str),
    /// The bytes ran out inside the document.
    Eof,
    /// Nesting deeper than [`MAX_DEPTH`].
    Depth,
    /// Valid JSON start, but not an object.
    NotObject,
}

/// A scanning error at byte `pos` of the document.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub(crate) pos: usize,
    pub(crate) kind: JsonErrorKind,
}

impl JsonError {
    fn at(pos: usize, what: &'static str) -> Self {
        JsonError {
            pos,
            kind: JsonErrorKind::Expected(what),
        }
    }

    /// The record-level error; `eof_code` says what running out of bytes means in context
    /// (end of line: `Json`; end of input: `Truncated`; size limit: `TooLong`).
    pub(crate) fn to_parse_error(self, eof_code: ErrorCode) -> ParseError {
        match self.kind {
            JsonErrorKind::Expected(what) => ParseError::new(
                ErrorCode::Json,
                format!("invalid JSON at byte {}: expected {what}", self.pos + 1),
            ),
            JsonErrorKind::Eof => ParseError::new(
                eof_code,
                match eof_code {
                    ErrorCode::TooLong => "JSON document exceeds the record size limit".to_string(),
                    ErrorCode::Truncated => "input ends inside a JSON document".to_string(),
                    _ => "JSON document ends early (unclosed string, object or array)".to_string(),
                },
            ),
            JsonErrorKind::Depth => ParseError::new(
                ErrorCode::Json,
                format!("JSON nested deeper than {MAX_DEPTH} levels"),
            ),
            JsonErrorKind::NotObject => {
                ParseError::new(ErrorCode::WrongFormat, "expected a JSON object ('{')")
            }
        }
    }
}

type JResult<T> = Result<T, JsonError>;

// ---------------------------------------------------------------------------------------------
// Byte scanning primitives

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first `"`, `\` or control byte at or after `i` (or `b.len()`), eight bytes at a
/// time: for each byte class, `(x - 0x01..) & !x & 0x80..` flags zero bytes of `x`, and the lowest
/// flag is exact because borrows only propagate upwards from a true match.
#[inline]
fn find_special(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let w = u64::from_le_bytes(a);
        let q = w ^ (LO * u64::from(b'"'));
        let s = w ^ (LO * u64::from(b'\\'));
        let m = ((q.wrapping_sub(LO) & !q)
            | (s.wrapping_sub(LO) & !s)
            | (w.wrapping_sub(LO * 0x20) & !w))
            & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    let mut v = 0u32;
    for &c in s {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// A string read from the input: borrowed bytes, or decoded into the caller's buffer.
enum StrRead {
    Raw(usize, usize),
    Decoded,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// Refuses nesting deeper than [`MAX_DEPTH`] (bounds recursion on hostile input).
    #[inline]
    fn check_depth(&self, depth: u32) -> JResult<()> {
        if depth > MAX_DEPTH {
            return Err(JsonError {
                pos: self.pos,
                kind: JsonErrorKind::Depth,
            });
        }
        Ok(())
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn err_here(&self, what: &'static str) -> JsonError {
        if self.pos >= self.b.len() {
            JsonError {
                pos: self.pos,
                kind: JsonErrorKind::Eof,
            }
        } else {
            JsonError::at(self.pos, what)
        }
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> JResult<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err_here(what))
        }
    }

    /// Reads a string whose opening quote is at `pos`. Text without escapes is returned as a
    /// range of the input; text with escapes is decoded and appended to `out`.
    fn string(&mut self, out: &mut Vec<u8>) -> JResult<StrRead> {
        self.expect(b'"', "'\"'")?;
        let start = self.pos;
        let i = find_special(self.b, start);
        match self.b.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                return Ok(StrRead::Raw(start, i));
            }
            Some(b'\\') => {}
            Some(_) => return Err(JsonError::at(i, "no raw control character in a string")),
            None => {
                return Err(JsonError {
                    pos: i,
                    kind: JsonErrorKind::Eof,
                });
            }
        }
        out.extend_from_slice(self.b.get(start..i).unwrap_or_default());
        let mut i = i;
        loop {
            match self.b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(StrRead::Decoded);
                }
                Some(b'\\') => i = self.escape(i, out)?,
                Some(_) => {
                    let j = find_special(self.b, i);
                    if j == i {
                        return Err(JsonError::at(i, "no raw control character in a string"));
                    }
                    out.extend_from_slice(self.b.get(i..j).unwrap_or_default());
                    i = j;
                }
                None => {
                    return Err(JsonError {
                        pos: i,
                        kind: JsonErrorKind::Eof,
                    });
                }
            }
        }
    }

    /// Decodes the escape at `i` (a backslash) into `out`; returns the index after it.
    fn escape(&self, i: usize, out: &mut Vec<u8>) -> JResult<usize> {
        let b = self.b;
        let simple = match b.get(i + 1) {
            None => {
                return Err(JsonError {
                    pos: i + 1,
                    kind: JsonErrorKind::Eof,
                });
            }
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => 0,
            Some(_) => return Err(JsonError::at(i + 1, "a valid escape after '\\'")),
        };
        if simple != 0 {
            out.push(simple);
            return Ok(i + 2);
        }
        let Some(hi) = hex4(b, i + 2) else {
            return Err(if b.len() < i + 6 {
                JsonError {
                    pos: b.len(),
                    kind: JsonErrorKind::Eof,
                }
            } else {
                JsonError::at(i + 2, "four hex digits after '\\u'")
            });
        };
        if (0xD800..0xDC00).contains(&hi) {
            // A high surrogate must be followed by an escaped low one to form a character.
            if b.get(i + 6) == Some(&b'\\')
                && b.get(i + 7) == Some(&b'u')
                && let Some(lo) = hex4(b, i + 8).filter(|lo| (0xDC00..0xE000).contains(lo))
            {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                push_char(out, char::from_u32(c).unwrap_or('\u{FFFD}'));
                return Ok(i + 12);
            }
            push_char(out, '\u{FFFD}');
            return Ok(i + 6);
        }
        push_char(out, char::from_u32(hi).unwrap_or('\u{FFFD}'));
        Ok(i + 6)
    }

    /// Reads a number at `pos`; returns its value and its text range.
    fn number(&mut self) -> JResult<(Value, usize)> {
        let b = self.b;
        let start = self.pos;
        let mut i = start;
        let neg = b.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let mut v: u64 = 0;
        let mut overflow = false;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    match v
                        .checked_mul(10)
                        .and_then(|x| x.checked_add(u64::from(c - b'0')))
                    {
                        Some(x) => v = x,
                        None => overflow = true,
                    }
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.err_here("a digit"));
            }
        }
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return Err(self.err_here("a digit after '.'"));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            float = true;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                self.pos = i;
                return Err(self.err_here("a digit in the exponent"));
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            float = true;
        }
        self.pos = i;
        let value = if float || overflow {
            let text = b
                .get(start..i)
                .and_then(|t| std::str::from_utf8(t).ok())
                .unwrap_or("");
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                // Out of f64 range: keep the digits rather than lose them.
                _ => Value::str(text),
            }
        } else if neg {
            0i64.checked_sub_unsigned(v)
                .map_or(Value::Float(-(v as f64)), Value::Int)
        } else {
            i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
        };
        Ok((value, start))
    }

    fn literal(&mut self, word: &'static [u8], what: &'static str) -> JResult<()> {
        match self.b.get(self.pos..self.pos + word.len()) {
            Some(w) if w == word => {
                self.pos += word.len();
                Ok(())
            }
            _ => {
                // Running out of bytes on a correct prefix is truncation, not a bad literal.
                let rest = self.b.get(self.pos..).unwrap_or_default();
                if rest.len() < word.len() && word.starts_with(rest) {
                    Err(JsonError {
                        pos: self.b.len(),
                        kind: JsonErrorKind::Eof,
                    })
                } else {
                    Err(JsonError::at(self.pos, what))
                }
            }
        }
    }
}

/// Text of input bytes, replacing invalid UTF-8 (copying only then).
fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn compact(bytes: &[u8]) -> CompactString {
    match std::str::from_utf8(bytes) {
        Ok(s) => CompactString::new(s),
        Err(_) => CompactString::new(String::from_utf8_lossy(bytes)),
    }
}

// ---------------------------------------------------------------------------------------------
// Time values

/// Reads an event time from the text of a string or number value: RFC 3339 / ISO 8601, a Common
/// Log Format time, or a Unix epoch whose unit is inferred from its magnitude.
pub(crate) fn time_from_text(
    s: &str,
    default_tz: Option<TzOffset>,
) -> Option<(Timestamp, Option<TzOffset>)> {
    let s = s.trim();
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Some(r) = crate::time::rfc3339(s, default_tz) {
            return Some(r);
        }
        if let Some(t) = epoch_auto(s) {
            return Some((t, None));
        }
        if let Some((t, z)) = crate::time::clf(s) {
            return Some((t, Some(z)));
        }
    }
    None
}

/// A Unix epoch as text (`1700000000`, `1700000000.25`, `1700000000123`, `1.7e9`), in seconds,
/// milliseconds, microseconds or nanoseconds depending on the number of integer digits (up to
/// 11, 14, 17, more). Times before 1973 are refused: they are durations or counters, not dates.
pub(crate) fn epoch_auto(s: &str) -> Option<Timestamp> {
    const MIN_NANOS: i64 = 100_000_000 * 1_000_000_000;
    let s = s.trim();
    if s.bytes().any(|c| c == b'e' || c == b'E') {
        let f: f64 = s.parse().ok()?;
        let secs = if f >= 1e17 {
            f / 1e9
        } else if f >= 1e14 {
            f / 1e6
        } else if f >= 1e11 {
            f / 1e3
        } else {
            f
        };
        return Timestamp::from_secs_f64(secs).filter(|t| t.as_nanos() >= MIN_NANOS);
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || int.len() > 19
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = int.parse().ok()?;
    let (unit, frac_digits): (u64, usize) = match int.len() {
        0..=11 => (1_000_000_000, 9),
        12..=14 => (1_000_000, 6),
        15..=17 => (1_000, 3),
        _ => (1, 0),
    };
    let mut f = 0u64;
    let mut taken = 0;
    for c in frac.bytes().take(frac_digits) {
        f = f * 10 + u64::from(c - b'0');
        taken += 1;
    }
    for _ in taken..frac_digits {
        f *= 10;
    }
    let nanos = whole.checked_mul(unit)?.checked_add(f)?;
    let nanos = i64::try_from(nanos).ok()?;
    (nanos >= MIN_NANOS).then_some(Timestamp::from_nanos(nanos))
}

// ---------------------------------------------------------------------------------------------
// Which fields an event holds

/// The set of field ids an event holds, as generation stamps indexed by id: starting a new event
/// is O(1), and so are membership tests and inserts. It may over-approximate (an id marked but not
/// set only costs a scan later) but never under-approximate, since unmarked ids are appended
/// without a duplicate check. Stamps live in pages of 4096 ids allocated on first use, so a
/// process with a million interned names does not give every parser a 4 MB table.
#[derive(Default)]
pub(crate) struct Held {
    pages: Vec<Option<Box<[u32; PAGE]>>>,
    generation: u32,
}

const PAGE: usize = 4096;

impl Held {
    /// Starts tracking `e`, marking the fields it already has.
    pub(crate) fn start(&mut self, e: &Event) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            for page in self.pages.iter_mut().flatten() {
                page.fill(0);
            }
            self.generation = 1;
        }
        for (id, _) in e.fields.iter_ids() {
            self.insert(id);
        }
    }

    /// Marks `id`; true if it was not marked yet.
    #[inline]
    pub(crate) fn insert(&mut self, id: FieldId) -> bool {
        let (page, slot) = (id.index() / PAGE, id.index() % PAGE);
        if page >= self.pages.len() {
            self.pages.resize_with(page + 1, || None);
        }
        let Some(entry) = self.pages.get_mut(page) else {
            return false;
        };
        let stamps = entry.get_or_insert_with(|| Box::new([0; PAGE]));
        match stamps.get_mut(slot) {
            Some(g) if *g == self.generation => false,
            Some(g) => {
                *g = self.generation;
                true
            }
            None => false,
        }
    }

    #[inline]
    fn contains(&self, id: FieldId) -> bool {
        let (page, slot) = (id.index() / PAGE, id.index() % PAGE);
        self.pages
            .get(page)
            .and_then(Option::as_ref)
            .and_then(|p| p.get(slot))
            == Some(&self.generation)
    }

    /// Sets `id` on `e`: appended if new, replaced otherwise.
    #[inline]
    pub(crate) fn set(&mut self, e: &mut Event, id: FieldId, value: impl Into<Value>) {
        if self.insert(id) {
            e.fields.push_new(id, value);
        } else {
            e.fields.set(id, value);
        }
    }
}

/// An event being mapped, with the ids it holds: what ECS mappings read and write through.
pub(crate) struct Doc<'a> {
    pub(crate) e: &'a mut Event,
    held: &'a mut Held,
}

impl<'a> Doc<'a> {
    /// A view of `e`, whose fields `held` tracks.
    pub(crate) fn new(e: &'a mut Event, held: &'a mut Held) -> Self {
        Doc { e, held }
    }

    #[inline]
    pub(crate) fn get(&self, id: FieldId) -> Option<&Value> {
        if self.held.contains(id) {
            self.e.fields.get(id)
        } else {
            None
        }
    }

    #[inline]
    pub(crate) fn get_str(&self, id: FieldId) -> Option<&str> {
        self.get(id).and_then(Value::as_str)
    }

    /// A non-empty string field, copied (short strings stay inline).
    pub(crate) fn text(&self, id: FieldId) -> Option<CompactString> {
        self.get_str(id)
            .filter(|s| !s.is_empty())
            .map(CompactString::new)
    }

    /// A field read as an integer (numbers, or text holding one).
    pub(crate) fn int(&self, id: FieldId) -> Option<i64> {
        self.get(id).and_then(Value::as_i64)
    }

    /// Copies a non-empty string field to another name.
    pub(crate) fn copy_text(&mut self, from: FieldId, to: FieldId) {
        if let Some(v) = self.text(from) {
            self.set(to, v);
        }
    }

    /// Copies an integer field to another name, returning it.
    pub(crate) fn copy_int(&mut self, from: FieldId, to: FieldId) -> Option<i64> {
        let v = self.int(from)?;
        self.set(to, v);
        Some(v)
    }

    #[inline]
    pub(crate) fn set(&mut self, id: FieldId, value: impl Into<Value>) {
        self.held.set(self.e, id, value);
    }

    pub(crate) fn set_default(&mut self, id: FieldId, value: impl Into<Value>) {
        if self.get(id).is_none() {
            self.set(id, value);
        }
    }

    /// [`crate::norm::set_ip`].
    pub(crate) fn set_ip(&mut self, id: FieldId, s: &str) -> bool {
        self.held.insert(id);
        crate::norm::set_ip(self.e, id, s)
    }

    /// [`crate::norm::set_url`].
    pub(crate) fn set_url(&mut self, url: &str) {
        for id in [
            ecs::URL_ORIGINAL,
            ecs::URL_SCHEME,
            ecs::URL_DOMAIN,
            ecs::URL_PORT,
            ecs::URL_PATH,
            ecs::URL_QUERY,
        ] {
            self.held.insert(id);
        }
        crate::norm::set_url(self.e, url);
    }
}

// ---------------------------------------------------------------------------------------------
// The flattener

/// How the top level of a document is read.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every key.
    Normal,
    /// The source of a bulk `update`: only the object under `doc`, flattened as the root.
    UpdateDoc,
}

/// What the walk learned about a document besides its fields.
#[derive(Clone, Debug, Default)]
pub(crate) struct DocInfo {
    /// Bytes consumed (the document ends at `end`).
    pub(crate) end: usize,
    /// Union of the flags of every path seen.
    flags: u32,
    /// Number of top-level keys.
    top_keys: u32,
    /// Node of the first top-level key.
    first_top: u32,
    /// Whether the first top-level value was an object.
    first_top_object: bool,
    /// Update mode: whether a `doc` object was found.
    found_doc: bool,
    /// Priority of the best time key that parsed, and its value.
    time_prio: u32,
    pub(crate) time: Option<(Timestamp, Option<TzOffset>)>,
}

impl DocInfo {
    /// A Suricata EVE document: top-level `event_type` and `timestamp`.
    pub(crate) fn looks_eve(&self) -> bool {
        self.flags & (F_EVENT_TYPE | F_TIMESTAMP) == F_EVENT_TYPE | F_TIMESTAMP
    }

    /// A Zeek JSON log record: top-level `ts` and one of `uid`, `fuid`, `_path`, `id.orig_h`.
    pub(crate) fn looks_zeek(&self) -> bool {
        self.flags & F_TS != 0 && self.flags & F_ZEEK != 0
    }

    /// Has a top-level `ts` (every Zeek log has one).
    pub(crate) fn has_ts(&self) -> bool {
        self.flags & F_TS != 0
    }

    /// A Windows event: `Event.System` (evtx crate rendering) or top-level `winlog` (Winlogbeat).
    fn looks_windows(&self) -> bool {
        self.flags & (F_WIN_SYSTEM | F_WINLOG) != 0
    }
}

/// Walks JSON documents and writes their leaves into events as flattened fields.
pub(crate) struct Flattener {
    nodes: Vec<Node>,
    children: HashMap<Box<[u8]>, u32, KeyHash>,
    /// Lookup key being built: parent node (LE bytes) then the decoded key.
    key: Vec<u8>,
    /// Decoded string values with escapes.
    scratch: Vec<u8>,
    /// Values collected by the outermost array being walked, per node, in first-seen order.
    pending: Vec<(u32, Vec<Value>)>,
    array_depth: u32,
    /// Inside a value that is validated but not kept.
    discard: u32,
    default_tz: Option<TzOffset>,
    /// Field count of the previous document, to size the next event's map once.
    last_len: usize,
    /// The fields of the event being filled.
    held: Held,
}

impl Default for Flattener {
    fn default() -> Self {
        Self::new()
    }
}

impl Flattener {
    pub(crate) fn new() -> Self {
        let mut f = Flattener {
            nodes: Vec::new(),
            children: HashMap::with_hasher(KeyHash),
            key: Vec::with_capacity(64),
            scratch: Vec::with_capacity(256),
            pending: Vec::new(),
            array_depth: 0,
            discard: 0,
            default_tz: None,
            last_len: 16,
            held: Held::default(),
        };
        f.reset_nodes();
        f
    }

    /// An empty field map sized like the previous document's, so it is allocated once.
    pub(crate) fn new_fields(&self) -> Fields {
        Fields::with_capacity(self.last_len.clamp(16, 256))
    }

    fn reset_nodes(&mut self) {
        self.nodes.clear();
        self.children.clear();
        self.nodes.push(Node {
            slot: Slot::Overflow,
            flags: 0,
            path: Box::from(""),
            key: Box::from([].as_slice()),
            pending: 0,
            next: 0,
            first: 0,
        });
    }

    /// Flattens the document at the start of `doc` (which must begin with `{`) into `e`.
    /// Bytes after the document are not looked at.
    pub(crate) fn flatten(
        &mut self,
        doc: &[u8],
        e: &mut Event,
        mode: Mode,
        default_tz: Option<TzOffset>,
    ) -> JResult<DocInfo> {
        if self.nodes.len() > MAX_NODES {
            self.reset_nodes();
        }
        self.default_tz = default_tz;
        self.pending.clear();
        self.array_depth = 0;
        self.discard = 0;
        // Fields the caller set before (event.kind, event.module) must be replaced, not repeated.
        self.held.start(e);
        let mut cur = Cursor { b: doc, pos: 0 };
        let mut info = DocInfo::default();
        match cur.peek() {
            Some(b'{') => {}
            None => return Err(cur.err_here("'{'")),
            Some(_) => {
                return Err(JsonError {
                    pos: 0,
                    kind: JsonErrorKind::NotObject,
                });
            }
        }
        let r = self.object(&mut cur, ROOT, 1, mode, &mut info, e);
        // Clear per-node array bookkeeping even when the walk failed half-way.
        for (n, _) in self.pending.drain(..) {
            if let Some(node) = self.nodes.get_mut(n as usize) {
                node.pending = 0;
            }
        }
        r?;
        self.last_len = e.fields.len() + 2;
        info.end = cur.pos;
        Ok(info)
    }

    /// The node for the key in `self.key` (after the 4 parent bytes) under `parent`.
    #[inline]
    fn resolve(&mut self, parent: u32) -> u32 {
        if let Some(&n) = self.children.get(self.key.as_slice()) {
            return n;
        }
        let key = self.key.get(4..).unwrap_or_default();
        let key_text = lossy(key).into_owned();
        let (parent_path, parent_flags) = self
            .nodes
            .get(parent as usize)
            .map_or(("", 0), |p| (&*p.path, p.flags));
        let path = if parent == ROOT {
            key_text.clone()
        } else {
            let mut p = String::with_capacity(parent_path.len() + 1 + key_text.len());
            p.push_str(parent_path);
            p.push('.');
            p.push_str(&key_text);
            p
        };
        let flags = node_flags(parent, parent_flags, &key_text, &path);
        let slot = FieldId::try_intern(&path).map_or(Slot::Overflow, Slot::Id);
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            slot,
            flags,
            path: path.into_boxed_str(),
            key: Box::from(key),
            pending: 0,
            next: 0,
            first: 0,
        });
        self.children
            .insert(self.key.clone().into_boxed_slice(), id);
        id
    }

    fn object(
        &mut self,
        cur: &mut Cursor<'_>,
        parent: u32,
        depth: u32,
        mode: Mode,
        info: &mut DocInfo,
        e: &mut Event,
    ) -> JResult<()> {
        cur.check_depth(depth)?;
        cur.expect(b'{', "'{'")?;
        cur.ws();
        if cur.peek() == Some(b'}') {
            cur.pos += 1;
            return Ok(());
        }
        let top = parent == ROOT && depth == 1;
        let update_top = top && mode == Mode::UpdateDoc && self.discard == 0;
        let mut prev = ROOT;
        loop {
            if cur.peek() != Some(b'"') {
                return Err(cur.err_here("'\"' starting a key"));
            }
            self.scratch.clear();
            let read = cur.string(&mut self.scratch)?;
            let key: &[u8] = match read {
                StrRead::Raw(a, b) => cur.b.get(a..b).unwrap_or_default(),
                StrRead::Decoded => &self.scratch,
            };
            let is_doc = key == b"doc";
            let node = if self.discard > 0 || update_top {
                ROOT
            } else {
                let guess = match prev {
                    ROOT => self.nodes.get(parent as usize).map_or(0, |n| n.first),
                    p => self.nodes.get(p as usize).map_or(0, |n| n.next),
                };
                match self.nodes.get(guess as usize) {
                    Some(n) if guess != ROOT && *n.key == *key => guess,
                    _ => {
                        self.key.clear();
                        self.key.extend_from_slice(&parent.to_le_bytes());
                        self.key.extend_from_slice(key);
                        let n = self.resolve(parent);
                        let at = if prev == ROOT { parent } else { prev };
                        if let Some(p) = self.nodes.get_mut(at as usize) {
                            if prev == ROOT {
                                p.first = n;
                            } else {
                                p.next = n;
                            }
                        }
                        n
                    }
                }
            };
            prev = node;
            cur.ws();
            cur.expect(b':', "':' after a key")?;
            cur.ws();
            if update_top {
                // Only `doc` holds the document of an update; its keys become top-level keys.
                if is_doc && cur.peek() == Some(b'{') {
                    info.found_doc = true;
                    self.object(cur, ROOT, depth, Mode::Normal, info, e)?;
                } else {
                    self.discard += 1;
                    let r = self.value(cur, ROOT, depth, info, e);
                    self.discard -= 1;
                    r?;
                }
            } else {
                if top && self.discard == 0 {
                    if info.top_keys == 0 {
                        info.first_top = node;
                        info.first_top_object = cur.peek() == Some(b'{');
                    }
                    info.top_keys += 1;
                }
                self.value(cur, node, depth, info, e)?;
            }
            cur.ws();
            match cur.peek() {
                Some(b',') => {
                    cur.pos += 1;
                    cur.ws();
                }
                Some(b'}') => {
                    cur.pos += 1;
                    return Ok(());
                }
                _ => return Err(cur.err_here("',' or '}' after a value")),
            }
        }
    }

    fn value(
        &mut self,
        cur: &mut Cursor<'_>,
        node: u32,
        depth: u32,
        info: &mut DocInfo,
        e: &mut Event,
    ) -> JResult<()> {
        if self.discard == 0
            && let Some(n) = self.nodes.get(node as usize)
        {
            info.flags |= n.flags;
        }
        match cur.peek() {
            Some(b'{') => self.object(cur, node, depth + 1, Mode::Normal, info, e),
            Some(b'[') => self.array(cur, node, depth + 1, info, e),
            Some(b'"') => {
                self.scratch.clear();
                let value = match cur.string(&mut self.scratch)? {
                    _ if self.discard > 0 => return Ok(()),
                    StrRead::Raw(a, b) => Value::Str(compact(cur.b.get(a..b).unwrap_or_default())),
                    StrRead::Decoded => Value::Str(compact(&self.scratch)),
                };
                self.time_candidate(node, &value, None, info);
                self.leaf(node, value, e);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let (value, start) = cur.number()?;
                if self.discard > 0 {
                    return Ok(());
                }
                let text = cur
                    .b
                    .get(start..cur.pos)
                    .and_then(|t| std::str::from_utf8(t).ok());
                self.time_candidate(node, &value, text, info);
                self.leaf(node, value, e);
                Ok(())
            }
            Some(b't') => {
                cur.literal(b"true", "a value")?;
                self.leaf(node, Value::Bool(true), e);
                Ok(())
            }
            Some(b'f') => {
                cur.literal(b"false", "a value")?;
                self.leaf(node, Value::Bool(false), e);
                Ok(())
            }
            Some(b'n') => {
                cur.literal(b"null", "a value")?;
                self.leaf(node, Value::Null, e);
                Ok(())
            }
            _ => Err(cur.err_here("a value")),
        }
    }

    fn array(
        &mut self,
        cur: &mut Cursor<'_>,
        node: u32,
        depth: u32,
        info: &mut DocInfo,
        e: &mut Event,
    ) -> JResult<()> {
        cur.check_depth(depth)?;
        cur.expect(b'[', "'['")?;
        let outermost = self.array_depth == 0 && self.discard == 0;
        if outermost {
            // Registers the array's own path first, so `[]` gives an empty list and scalar
            // elements come before the object leaves in the event.
            self.pending_slot(node);
        }
        self.array_depth += 1;
        cur.ws();
        let empty = cur.peek() == Some(b']');
        let r = if empty {
            cur.pos += 1;
            Ok(())
        } else {
            loop {
                if let Err(err) = self.value(cur, node, depth, info, e) {
                    break Err(err);
                }
                cur.ws();
                match cur.peek() {
                    Some(b',') => {
                        cur.pos += 1;
                        cur.ws();
                    }
                    Some(b']') => {
                        cur.pos += 1;
                        break Ok(());
                    }
                    _ => break Err(cur.err_here("',' or ']' after an array element")),
                }
            }
        };
        self.array_depth -= 1;
        r?;
        if outermost {
            let mut pending = std::mem::take(&mut self.pending);
            for (i, (n, values)) in pending.drain(..).enumerate() {
                if let Some(nd) = self.nodes.get_mut(n as usize) {
                    nd.pending = 0;
                }
                // The array's own path keeps an empty list only for a literally empty array.
                if i == 0 && values.is_empty() && !empty {
                    continue;
                }
                self.set(n, Value::List(values), e);
            }
            self.pending = pending;
        }
        Ok(())
    }

    /// Index in `pending` of the list collecting values for `node`.
    fn pending_slot(&mut self, node: u32) -> usize {
        match self.nodes.get(node as usize).map(|n| n.pending) {
            Some(p) if p > 0 => p as usize - 1,
            _ => {
                self.pending.push((node, Vec::new()));
                let i = self.pending.len();
                if let Some(n) = self.nodes.get_mut(node as usize) {
                    n.pending = i as u32;
                }
                i - 1
            }
        }
    }

    #[inline]
    fn leaf(&mut self, node: u32, value: Value, e: &mut Event) {
        if self.discard > 0 {
            return;
        }
        if self.array_depth > 0 {
            let i = self.pending_slot(node);
            if let Some((_, list)) = self.pending.get_mut(i) {
                list.push(value);
            }
        } else {
            self.set(node, value, e);
        }
    }

    /// The mapping view of `e`, the event this flattener just filled.
    pub(crate) fn doc<'a>(&'a mut self, e: &'a mut Event) -> Doc<'a> {
        Doc::new(e, &mut self.held)
    }

    #[inline]
    fn set(&mut self, node: u32, value: Value, e: &mut Event) {
        match self.nodes.get(node as usize).map(|n| n.slot) {
            // A repeated key, or two spellings of one path (`"a.b"` and `{"a":{"b"}}`), replaces.
            Some(Slot::Id(id)) => self.held.set(e, id, value),
            Some(Slot::Overflow) => {
                if let Some(n) = self.nodes.get(node as usize) {
                    e.fields.set_name(&n.path, value);
                }
            }
            None => {}
        }
    }

    /// Remembers the event time if `node` is a time key better than any found so far.
    #[inline]
    fn time_candidate(&self, node: u32, value: &Value, text: Option<&str>, info: &mut DocInfo) {
        let prio = self
            .nodes
            .get(node as usize)
            .map_or(0, |n| n.flags & F_TIME);
        if prio == 0 || self.array_depth > 0 || (info.time_prio != 0 && info.time_prio <= prio) {
            return;
        }
        let parsed = match (value, text) {
            (Value::Str(s), _) => time_from_text(s, self.default_tz),
            (Value::Int(_) | Value::Float(_), Some(t)) => epoch_auto(t).map(|t| (t, None)),
            _ => None,
        };
        if let Some(t) = parsed {
            info.time = Some(t);
            info.time_prio = prio;
        }
    }

    /// The `_bulk` action this document is, if it is an action line: exactly one top-level key
    /// among `index` / `create` / `update` / `delete`, whose object holds only bulk metadata.
    fn bulk_action(&self, info: &DocInfo) -> Option<&str> {
        if info.top_keys != 1 || !info.first_top_object || info.flags & F_BULK_OTHER != 0 {
            return None;
        }
        let n = self.nodes.get(info.first_top as usize)?;
        (n.flags & F_BULK_ACTION != 0).then_some(&*n.path)
    }
}

// ---------------------------------------------------------------------------------------------
// Documents to events

/// Field ids used by the JSON parser itself, interned once.
struct Ids {
    index: FieldId,
    id: FieldId,
    /// Per bulk action: its name, and the ids of `<action>._index` and `<action>._id`.
    actions: [(&'static str, FieldId, FieldId); 4],
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let action = |a: &'static str| {
            (
                a,
                FieldId::intern(&format!("{a}._index")),
                FieldId::intern(&format!("{a}._id")),
            )
        };
        Ids {
            index: FieldId::intern("_index"),
            id: FieldId::intern("_id"),
            actions: [
                action("index"),
                action("create"),
                action("update"),
                action("delete"),
            ],
        }
    })
}

/// A bulk action whose source document comes next.
struct PendingAction {
    /// Where the action line was.
    record: u64,
    update: bool,
    index: Option<CompactString>,
    id: Option<CompactString>,
}

/// What became of one document.
enum Outcome {
    /// Consumed `n` bytes (an event was emitted, or it was a bulk action line).
    Done(usize),
    /// Parsed `n` bytes, but the document is not of the required kind.
    Rejected(usize, ParseError),
    /// Not valid JSON.
    Invalid(JsonError),
}

/// Parses JSON documents into events: the driver's entry point for `jsonl` and `eve`, and the
/// [`LineParser`] for one document (or array) per line.
pub struct JsonLines {
    format: Format,
    flat: Flattener,
    bulk: Option<PendingAction>,
}

impl JsonLines {
    /// A parser for `format` (`Jsonl`, or `Eve` to require Suricata EVE documents).
    pub fn new(format: Format) -> Self {
        JsonLines {
            format,
            flat: Flattener::new(),
            bulk: None,
        }
    }

    /// Parses the document at the start of `doc` (an object), emitting its event.
    fn document(&mut self, doc: &[u8], record: u64, cx: &mut Cx<'_>) -> Outcome {
        let mut e = cx.new_event(record, None);
        e.fields = self.flat.new_fields();
        // Set first so that the document's own values (ECS documents carry them) replace these
        // in place, and every event lists them first.
        e.set(ecs::EVENT_KIND, "event");
        e.set(
            ecs::EVENT_MODULE,
            if self.format == Format::Eve {
                "suricata"
            } else {
                "jsonl"
            },
        );
        let pending = self.bulk.take();
        let mode = match &pending {
            Some(p) if p.update => Mode::UpdateDoc,
            _ => Mode::Normal,
        };
        let info = match self.flat.flatten(doc, &mut e, mode, cx.opts.default_tz) {
            Ok(info) => info,
            Err(err) => return Outcome::Invalid(err),
        };
        let end = info.end;
        match &pending {
            Some(p) if p.update && !info.found_doc => {
                // A scripted update or upsert without `doc`: no document to index.
                return Outcome::Done(end);
            }
            Some(_) => {}
            None => {
                if let Some(action) = self.flat.bulk_action(&info) {
                    let meta = ids().actions.iter().find(|(a, _, _)| *a == action);
                    if let Some((name, index, id)) = meta.filter(|(a, _, _)| *a != "delete") {
                        let get = |id: FieldId| e.fields.get_str(id).map(CompactString::new);
                        self.bulk = Some(PendingAction {
                            record,
                            update: *name == "update",
                            index: get(*index),
                            id: get(*id),
                        });
                    }
                    return Outcome::Done(end);
                }
            }
        }
        let text = doc.get(..end).unwrap_or_default();
        let mut windows = false;
        if info.looks_windows() && self.format != Format::Eve {
            // Rare in a mixed stream, so the second parse into a tree is affordable.
            if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(text) {
                let mut w = cx.new_event(record, None);
                if crate::windows::normalise_json(&tree, &mut w) {
                    e = w;
                    windows = true;
                }
            }
        }
        if !windows {
            let eve = info.looks_eve() && crate::eve::map(&mut self.flat.doc(&mut e));
            if !eve && self.format == Format::Eve {
                return Outcome::Rejected(
                    end,
                    ParseError::wrong_format("Suricata EVE (no event_type and timestamp)"),
                );
            }
            if !eve && info.looks_zeek() {
                crate::zeek::map_json(&mut self.flat.doc(&mut e));
            }
            if let Some((t, tz)) = info.time {
                e.timestamp = t;
                e.tz = tz;
            }
        }
        if let Some(p) = pending {
            let ids = ids();
            let mut d = self.flat.doc(&mut e);
            if windows {
                // The Windows mapping filled a different event.
                d.held.start(d.e);
            }
            if let Some(index) = p.index {
                d.set(ids.index, index);
            }
            if let Some(id) = p.id {
                d.set(ids.id, id);
            }
        }
        if cx.opts.keep_raw {
            e.raw = Some(Box::from(lossy(text).as_ref()));
        }
        cx.emit(e);
        Outcome::Done(end)
    }

    /// Reports a bulk action left without its document at the end of the input.
    fn finish_bulk(&mut self, cx: &mut Cx<'_>) {
        if let Some(p) = self.bulk.take() {
            cx.bad(
                p.record,
                ParseError::new(
                    ErrorCode::Truncated,
                    "input ends after a _bulk action line, before its document",
                ),
            );
        }
    }

    /// Parses the elements of the array whose `[` is at `start`, numbering them with `number`
    /// (called once per element); resynchronises on bad elements by bracket matching. Returns the
    /// position after the array and reports problems through `cx`.
    fn array(
        &mut self,
        input: &[u8],
        start: usize,
        number: &mut dyn FnMut() -> u64,
        cx: &mut Cx<'_>,
    ) -> usize {
        let max = cx.opts.max_record_bytes;
        let mut pos = start + 1;
        let mut first = true;
        loop {
            pos = skip_ws(input, pos);
            let Some(&c) = input.get(pos) else {
                let n = number();
                cx.bad(
                    n,
                    ParseError::new(ErrorCode::Truncated, "input ends inside a JSON array"),
                );
                return pos;
            };
            if c == b']' && first {
                return pos + 1;
            }
            first = false;
            let record = number();
            if c == b'{' {
                let limit = start_limit(input, pos, max);
                let slice = input.get(pos..limit).unwrap_or_default();
                match self.document(slice, record, cx) {
                    Outcome::Done(n) => pos += n,
                    Outcome::Rejected(n, err) => {
                        cx.bad(record, err);
                        pos += n;
                    }
                    Outcome::Invalid(err) => {
                        cx.bad(record, err.to_parse_error(eof_code(limit, input.len())));
                        pos = skip_element(input, pos);
                    }
                }
            } else {
                cx.bad(
                    record,
                    ParseError::new(
                        ErrorCode::WrongFormat,
                        "array element is not a JSON object (expected '{')",
                    ),
                );
                pos = skip_element(input, pos);
            }
            pos = skip_ws(input, pos);
            match input.get(pos) {
                Some(b',') => pos += 1,
                Some(b']') => return pos + 1,
                None => {
                    cx.bad(
                        record,
                        ParseError::new(ErrorCode::Truncated, "input ends inside a JSON array"),
                    );
                    return pos;
                }
                Some(_) => cx.bad(
                    record,
                    ParseError::new(
                        ErrorCode::Json,
                        "invalid JSON: expected ',' or ']' after an array element",
                    ),
                ),
            }
        }
    }
}

fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = input.get(pos) {
        pos += 1;
    }
    pos
}

/// End of the window a record starting at `pos` may use.
fn start_limit(input: &[u8], pos: usize, max: usize) -> usize {
    pos.saturating_add(max).min(input.len())
}

/// What running out of bytes means for a window ending at `limit`.
fn eof_code(limit: usize, len: usize) -> ErrorCode {
    if limit < len {
        ErrorCode::TooLong
    } else {
        ErrorCode::Truncated
    }
}

/// The end of the (possibly broken) array element starting at `pos`: bracket matching outside
/// strings (a raw newline ends a string, since JSON strings cannot hold one), stopping before a
/// `,` or closing bracket of the enclosing array. Always advances.
fn skip_element(input: &[u8], pos: usize) -> usize {
    let mut depth = 0u32;
    let mut in_str = false;
    let mut i = pos;
    while let Some(&c) = input.get(i) {
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' | b'\n' => in_str = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                if depth == 0 {
                    i += 1;
                    break;
                }
            }
            b',' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    if i == pos {
        i += 1;
    }
    i.min(input.len())
}

fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Start of the line after the one containing `pos`.
fn next_line(input: &[u8], pos: usize) -> usize {
    input
        .get(pos..)
        .and_then(|rest| memchr::memchr(b'\n', rest))
        .map_or(input.len(), |i| pos + i + 1)
}

/// Why a byte cannot start a document.
fn not_a_document(c: u8) -> ParseError {
    match c {
        b'[' => ParseError::new(
            ErrorCode::WrongFormat,
            "a JSON array must hold objects (expected '{' after '[')",
        ),
        b'}' | b']' | b',' | b':' => ParseError::new(
            ErrorCode::Json,
            "invalid JSON: expected '{' or '[' to start a document",
        ),
        b'"' | b'-' | b'0'..=b'9' => ParseError::new(
            ErrorCode::WrongFormat,
            "a JSON document must be an object (expected '{')",
        ),
        _ => ParseError::new(
            ErrorCode::WrongFormat,
            "not a JSON document (expected '{' or '[')",
        ),
    }
}

/// Parses a whole JSON input: JSON lines, arrays of objects (records numbered by element),
/// concatenated or pretty-printed documents (numbered by starting line) and `_bulk` bodies.
///
/// A bad document is reported at its starting line; parsing resumes on the next line if the
/// error was found on the document's first line (JSON lines), else at the first line at or after
/// the error that starts with `{` or `[` in column 0 (the next pretty-printed document). Every
/// byte is scanned a bounded number of times, so the whole parse is linear.
pub(crate) fn parse(input: &[u8], format: Format, cx: &mut Cx<'_>) {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut p = JsonLines::new(format);
    let max = cx.opts.max_record_bytes;
    let mut pos = 0usize;
    let mut line = 1u64;
    let mut element = 0u64;
    loop {
        let next = skip_ws(input, pos);
        line += count_lines(input.get(pos..next).unwrap_or_default());
        pos = next;
        let Some(&c) = input.get(pos) else { break };
        let (start, start_line) = (pos, line);
        // An array holds documents only if its first element is an object (or it is empty);
        // a line like `[2024-05-01 10:00] text` is not JSON and must not swallow what follows.
        let array = c == b'[' && matches!(input.get(skip_ws(input, pos + 1)), Some(b'{' | b']'));
        // `{"Records": [{...}, ...]}`: AWS CloudTrail (and other logs delivered to object
        // storage) wrap one event per element; each element is its own event.
        let records = if c == b'{' {
            records_wrapper(input, pos)
        } else {
            None
        };
        match c {
            b'[' if array => {
                let mut number = || {
                    element += 1;
                    element
                };
                pos = p.array(input, start, &mut number, cx);
            }
            b'{' if let Some(array_start) = records => {
                let mut number = || {
                    element += 1;
                    element
                };
                pos = p.array(input, array_start, &mut number, cx);
                let after = skip_ws(input, pos);
                if input.get(after) == Some(&b'}') {
                    pos = after + 1;
                } else {
                    cx.bad(
                        start_line,
                        ParseError::new(
                            ErrorCode::Json,
                            "expected '}' closing the {\"Records\": [...]} wrapper",
                        ),
                    );
                    pos = next_line(input, after).max(start + 1).min(input.len());
                }
            }
            b'{' => {
                let limit = start_limit(input, start, max);
                let slice = input.get(start..limit).unwrap_or_default();
                match p.document(slice, start_line, cx) {
                    Outcome::Done(n) => pos = start + n,
                    Outcome::Rejected(n, err) => {
                        cx.bad(start_line, err);
                        pos = start + n;
                    }
                    Outcome::Invalid(err) => {
                        cx.bad(start_line, err.to_parse_error(eof_code(limit, input.len())));
                        let err_pos = (start + err.pos).min(input.len());
                        let err_line =
                            start_line + count_lines(input.get(start..err_pos).unwrap_or_default());
                        if err_line == start_line {
                            pos = next_line(input, start);
                        } else {
                            // Start of the error's line, then on to a line opening a document.
                            let before = input.get(start..err_pos).unwrap_or_default();
                            pos = memchr::memrchr(b'\n', before).map_or(start, |i| start + i + 1);
                            while let Some(&b) = input.get(pos) {
                                if b == b'{' || b == b'[' {
                                    break;
                                }
                                pos = next_line(input, pos);
                            }
                        }
                        pos = pos.max(start + 1).min(input.len());
                    }
                }
            }
            other => {
                cx.bad(start_line, not_a_document(other));
                pos = next_line(input, start);
            }
        }
        line = start_line + count_lines(input.get(start..pos).unwrap_or_default());
    }
    p.finish_bulk(cx);
}

/// If the object at `pos` opens with `"Records": [{` (the CloudTrail file shape), the position
/// of its `[`.
fn records_wrapper(input: &[u8], pos: usize) -> Option<usize> {
    let key = skip_ws(input, pos + 1);
    if !input.get(key..)?.starts_with(b"\"Records\"") {
        return None;
    }
    let colon = skip_ws(input, key + 9);
    (input.get(colon) == Some(&b':')).then_some(())?;
    let bracket = skip_ws(input, colon + 1);
    (input.get(bracket) == Some(&b'[')).then_some(())?;
    let first = skip_ws(input, bracket + 1);
    matches!(input.get(first), Some(b'{' | b']')).then_some(bracket)
}

/// Which JSON-based format `head` (starting with `{` or `[`) holds, from its first document:
/// Suricata EVE, Zeek JSON, or generic JSON.
pub(crate) fn sniff_kind(head: &[u8]) -> Format {
    let head = head.get(..head.len().min(1 << 20)).unwrap_or_default();
    let start = skip_ws(head, 0);
    let mut pos = start;
    if head.get(pos) == Some(&b'[') {
        pos = skip_ws(head, pos + 1);
    }
    let Some(doc) = head.get(pos..) else {
        return Format::Jsonl;
    };
    let mut flat = Flattener::new();
    let mut e = Event::new(
        Timestamp::from_nanos(0),
        kasbah_event::Source::Input {
            name: std::sync::Arc::from("detect"),
        },
    );
    match flat.flatten(doc, &mut e, Mode::Normal, None) {
        Ok(info) if flat.bulk_action(&info).is_some() => Format::Jsonl,
        Ok(info) if info.looks_eve() && !info.looks_windows() => Format::Eve,
        Ok(info) if info.looks_zeek() && !info.looks_windows() => Format::Zeek,
        _ => Format::Jsonl,
    }
}

impl LineParser for JsonLines {
    /// One line: a document, several concatenated documents, or an array of documents (all
    /// numbered with the line).
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let input = line.as_bytes();
        let mut pos = skip_ws(input, 0);
        while let Some(&c) = input.get(pos) {
            match c {
                b'{' => {
                    let slice = input.get(pos..).unwrap_or_default();
                    match self.document(slice, record, cx) {
                        Outcome::Done(n) => pos += n,
                        Outcome::Rejected(_, err) => return Err(err),
                        Outcome::Invalid(err) => return Err(err.to_parse_error(ErrorCode::Json)),
                    }
                }
                b'[' if matches!(input.get(skip_ws(input, pos + 1)), Some(b'{' | b']')) => {
                    pos = self.array(input, pos, &mut || record, cx);
                }
                other => return Err(not_a_document(other)),
            }
            pos = skip_ws(input, pos);
        }
        Ok(())
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        self.finish_bulk(cx);
    }
}

/// Declares a struct of field ids interned once from their names:
/// `field_ids!(struct Ids { src_ip = "src_ip", ... })` gives `Ids::new()`.
macro_rules! field_ids {
    ($(#[$m:meta])* struct $name:ident { $($f:ident = $s:literal,)* }) => {
        $(#[$m])*
        struct $name { $($f: kasbah_event::FieldId,)* }
        impl $name {
            fn new() -> Self {
                $name { $($f: kasbah_event::FieldId::intern($s),)* }
            }
        }
    };
}
pub(crate) use field_ids;

/// Test helpers shared by the JSON, EVE and Zeek tests.
#[cfg(test)]
pub(crate) mod testutil {
    use std::sync::Arc;

    use kasbah_event::{Event, Timestamp, TzOffset, Value};

    use crate::driver::{Cx, Item, LineParser, Origin, ParseOptions, parse_bytes};
    use crate::error::BadRecord;
    use crate::format::Format;

    /// Events and bad records of a parse.
    pub(crate) struct Parsed {
        pub(crate) events: Vec<Event>,
        pub(crate) bad: Vec<BadRecord>,
    }

    impl Parsed {
        /// The only event.
        pub(crate) fn one(&self) -> &Event {
            assert_eq!(self.events.len(), 1, "bad: {:?}", self.bad);
            &self.events[0]
        }

        /// `(record, code)` of every bad record.
        pub(crate) fn bad_codes(&self) -> Vec<(u64, &'static str)> {
            self.bad
                .iter()
                .map(|b| (b.record, b.error.code.code()))
                .collect()
        }

        /// Record number of every event.
        pub(crate) fn records(&self) -> Vec<u64> {
            self.events.iter().map(record).collect()
        }
    }

    pub(crate) fn record(e: &Event) -> u64 {
        match e.source {
            kasbah_event::Source::File { record, .. } => record,
            _ => 0,
        }
    }

    pub(crate) fn opts() -> ParseOptions {
        ParseOptions {
            received: Timestamp::from_secs_nanos(1_718_452_800, 0).expect("in range"),
            keep_raw: true,
            ..ParseOptions::default()
        }
    }

    pub(crate) fn parse_with(input: &[u8], format: Format, opts: &ParseOptions) -> Parsed {
        let origin = Origin::File(Arc::from("t"));
        let mut out = Parsed {
            events: Vec::new(),
            bad: Vec::new(),
        };
        let (_, stats) = parse_bytes(input, Some(format), &origin, opts, &mut |i| match i {
            Item::Event(e) => out.events.push(*e),
            Item::Bad(b) => out.bad.push(b),
        });
        assert_eq!(stats.events as usize, out.events.len());
        assert_eq!(stats.bad as usize, out.bad.len());
        out
    }

    pub(crate) fn parse(input: &str, format: Format) -> Parsed {
        parse_with(input.as_bytes(), format, &opts())
    }

    /// Feeds lines one at a time to a [`LineParser`], as the server's stream inputs do.
    pub(crate) fn parse_lines(lines: &[&str], mut p: Box<dyn LineParser>) -> Parsed {
        let opts = opts();
        let origin = Origin::File(Arc::from("t"));
        let mut out = Parsed {
            events: Vec::new(),
            bad: Vec::new(),
        };
        {
            let mut sink = |i: Item| match i {
                Item::Event(e) => out.events.push(*e),
                Item::Bad(b) => out.bad.push(b),
            };
            let mut cx = Cx::new(&opts, &origin, &mut sink);
            for (n, l) in lines.iter().enumerate() {
                if let Err(e) = p.parse_line(l, n as u64 + 1, &mut cx) {
                    cx.bad(n as u64 + 1, e);
                }
            }
            p.finish(&mut cx);
        }
        out
    }

    /// A field as text (`Display` of its value), for compact assertions.
    pub(crate) fn s(e: &Event, name: &str) -> Option<String> {
        e.get_name(name).map(ToString::to_string)
    }

    pub(crate) fn v(e: &Event, name: &str) -> Option<Value> {
        e.get_name(name).cloned()
    }

    pub(crate) fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::str(s)).collect())
    }

    pub(crate) fn tz(secs: i32) -> Option<TzOffset> {
        TzOffset::from_secs(secs)
    }
}

#[cfg(test)]
mod tests {
    use kasbah_event::{Event, TzOffset, Value};
    use proptest::prelude::*;

    use super::testutil::{list, opts, parse, parse_lines, parse_with, s, tz, v};
    use super::*;
    use crate::driver::ParseOptions;

    fn doc(json: &str) -> Event {
        parse(json, Format::Jsonl).one().clone()
    }

    #[test]
    fn nested_objects_flatten_to_dotted_names() {
        let e = doc(r#"{"process":{"name":"cmd.exe","pid":42,"parent":{"pid":1}},"message":"m"}"#);
        assert_eq!(s(&e, "process.name").as_deref(), Some("cmd.exe"));
        assert_eq!(v(&e, "process.pid"), Some(Value::Int(42)));
        assert_eq!(v(&e, "process.parent.pid"), Some(Value::Int(1)));
        assert_eq!(s(&e, "message").as_deref(), Some("m"));
        assert_eq!(s(&e, "event.kind").as_deref(), Some("event"));
        assert_eq!(s(&e, "event.module").as_deref(), Some("jsonl"));
        // The presets come first, then the document's fields in order.
        let names: Vec<&str> = e.fields.iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "event.kind",
                "event.module",
                "process.name",
                "process.pid",
                "process.parent.pid",
                "message"
            ]
        );
    }

    #[test]
    fn ecs_documents_keep_their_own_event_fields() {
        let e = doc(r#"{"event":{"kind":"alert","module":"sysmon","dataset":"x"}}"#);
        assert_eq!(s(&e, "event.kind").as_deref(), Some("alert"));
        assert_eq!(s(&e, "event.module").as_deref(), Some("sysmon"));
        assert_eq!(e.fields.len(), 3);
    }

    #[test]
    fn scalars_of_every_type() {
        let e = doc(
            r#"{"t":true,"f":false,"n":null,"i":-12,"z":0,"min":-9223372036854775808,"max":9223372036854775807,"u":18446744073709551615,"huge":123456789012345678901234567890,"fl":1.5,"ex":-2.5e-3,"E":1E2,"inf":1e400,"s":"x"}"#,
        );
        assert_eq!(v(&e, "t"), Some(Value::Bool(true)));
        assert_eq!(v(&e, "f"), Some(Value::Bool(false)));
        assert_eq!(v(&e, "n"), Some(Value::Null));
        assert_eq!(v(&e, "i"), Some(Value::Int(-12)));
        assert_eq!(v(&e, "z"), Some(Value::Int(0)));
        assert_eq!(v(&e, "min"), Some(Value::Int(i64::MIN)));
        assert_eq!(v(&e, "max"), Some(Value::Int(i64::MAX)));
        assert_eq!(v(&e, "u"), Some(Value::Float(u64::MAX as f64)));
        assert_eq!(v(&e, "huge"), Some(Value::Float(1.2345678901234568e29)));
        assert_eq!(v(&e, "fl"), Some(Value::Float(1.5)));
        assert_eq!(v(&e, "ex"), Some(Value::Float(-0.0025)));
        assert_eq!(v(&e, "E"), Some(Value::Float(100.0)));
        // Beyond f64: the digits are kept as text rather than turned into infinity.
        assert_eq!(v(&e, "inf"), Some(Value::str("1e400")));
        assert_eq!(v(&e, "s"), Some(Value::str("x")));
    }

    #[test]
    fn string_escapes_and_unicode() {
        let e = doc(
            r#"{"a":"q\"b\\s\/f\bf\fn\nr\rt\t","u":"\u00e9\u20AC","pair":"\ud83d\ude00","lone":"x\ud800y","low":"\udc00","raw":"héllo 😀","k\u0065y":1}"#,
        );
        assert_eq!(s(&e, "a").as_deref(), Some("q\"b\\s/f\u{8}f\u{c}n\nr\rt\t"));
        assert_eq!(s(&e, "u").as_deref(), Some("é€"));
        assert_eq!(s(&e, "pair").as_deref(), Some("😀"));
        assert_eq!(s(&e, "lone").as_deref(), Some("x\u{FFFD}y"));
        assert_eq!(s(&e, "low").as_deref(), Some("\u{FFFD}"));
        assert_eq!(s(&e, "raw").as_deref(), Some("héllo 😀"));
        // Keys are decoded too, and match their unescaped spelling.
        assert_eq!(v(&e, "key"), Some(Value::Int(1)));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let p = parse_with(b"{\"a\":\"x\xffy\",\"k\xfe\":1}\n", Format::Jsonl, &opts());
        let e = p.one();
        assert_eq!(s(e, "a").as_deref(), Some("x\u{FFFD}y"));
        assert_eq!(v(e, "k\u{FFFD}"), Some(Value::Int(1)));
    }

    #[test]
    fn arrays_of_scalars_are_lists() {
        let e =
            doc(r#"{"tags":["a","b"],"n":[1,2.5,null,true],"empty":[],"nested":[[1,2],[3],[]]}"#);
        assert_eq!(v(&e, "tags"), Some(list(&["a", "b"])));
        assert_eq!(
            v(&e, "n"),
            Some(Value::List(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::Null,
                Value::Bool(true)
            ]))
        );
        assert_eq!(v(&e, "empty"), Some(Value::List(vec![])));
        // Nested arrays flatten into one list, as Elasticsearch indexes them.
        assert_eq!(
            v(&e, "nested"),
            Some(Value::List(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Int(3)
            ]))
        );
    }

    #[test]
    fn arrays_of_objects_collect_values_per_path() {
        let e = doc(
            r#"{"dns":{"answers":[{"data":"1.2.3.4","ttl":60},{"data":"5.6.7.8"},{"x":{"y":[1,2]}}]},"mixed":[1,{"a":2},3],"objs":[{}]}"#,
        );
        assert_eq!(
            v(&e, "dns.answers.data"),
            Some(list(&["1.2.3.4", "5.6.7.8"]))
        );
        assert_eq!(
            v(&e, "dns.answers.ttl"),
            Some(Value::List(vec![Value::Int(60)]))
        );
        assert_eq!(
            v(&e, "dns.answers.x.y"),
            Some(Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
        // An array of objects has no value at its own path.
        assert_eq!(v(&e, "dns.answers"), None);
        assert_eq!(
            v(&e, "mixed"),
            Some(Value::List(vec![Value::Int(1), Value::Int(3)]))
        );
        assert_eq!(v(&e, "mixed.a"), Some(Value::List(vec![Value::Int(2)])));
        assert_eq!(v(&e, "objs"), None);
    }

    #[test]
    fn empty_objects_give_no_field_and_duplicates_replace() {
        let e = doc(r#"{"a":{},"b":1,"b":2,"c.d":1,"c":{"d":3}}"#);
        assert_eq!(v(&e, "a"), None);
        assert_eq!(v(&e, "b"), Some(Value::Int(2)));
        // `"c.d"` and `{"c":{"d"}}` are one field: the last wins, in the first one's place.
        assert_eq!(v(&e, "c.d"), Some(Value::Int(3)));
        assert_eq!(e.fields.len(), 4);
    }

    #[test]
    fn key_order_changes_between_documents_are_handled() {
        // The key-order prediction must never confuse paths when documents differ.
        let p = parse(
            concat!(
                r#"{"a":1,"b":{"c":2,"d":3},"e":4}"#,
                "\n",
                r#"{"b":{"d":5,"c":6},"a":7,"x":{"c":8}}"#,
                "\n",
                r#"{"e":9,"b":{"c":{"z":1}},"a":10}"#,
                "\n"
            ),
            Format::Jsonl,
        );
        assert_eq!(p.events.len(), 3);
        let e = &p.events[1];
        assert_eq!(v(e, "b.d"), Some(Value::Int(5)));
        assert_eq!(v(e, "b.c"), Some(Value::Int(6)));
        assert_eq!(v(e, "a"), Some(Value::Int(7)));
        assert_eq!(v(e, "x.c"), Some(Value::Int(8)));
        let e = &p.events[2];
        assert_eq!(v(e, "b.c.z"), Some(Value::Int(1)));
        assert_eq!(v(e, "b.c"), None);
        assert_eq!(v(e, "a"), Some(Value::Int(10)));
    }

    #[test]
    fn node_table_is_rebuilt_past_its_bound() {
        // Documents with ever new keys: the table is reset between documents, results stay right.
        let mut input = String::new();
        for d in 0..3 {
            input.push('{');
            for k in 0..(MAX_NODES / 2 + 10) {
                if k > 0 {
                    input.push(',');
                }
                input.push_str(&format!("\"n{d}_{k}\":{k}"));
            }
            input.push_str("}\n");
        }
        input.push_str("{\"n0_5\":\"again\"}\n");
        let p = parse(&input, Format::Jsonl);
        assert_eq!(p.events.len(), 4, "{:?}", p.bad);
        assert_eq!(v(&p.events[2], "n2_77"), Some(Value::Int(77)));
        assert_eq!(v(&p.events[3], "n0_5"), Some(Value::str("again")));
    }

    #[test]
    fn malformed_documents_are_kp003_with_what_was_expected() {
        let cases: &[(&str, &str)] = &[
            (r#"{"a":tru}"#, "expected a value"),
            (r#"{"a":1,}"#, "expected '\"' starting a key"),
            (r#"{"a" 1}"#, "expected ':' after a key"),
            (r#"{"a":1 "b":2}"#, "expected ',' or '}' after a value"),
            (r#"{"a":01}"#, "expected ',' or '}' after a value"),
            (r#"{"a":-}"#, "expected a digit"),
            (r#"{"a":1.}"#, "expected a digit after '.'"),
            (r#"{"a":1e}"#, "expected a digit in the exponent"),
            (r#"{"a":"\q"}"#, "expected a valid escape after '\\'"),
            (r#"{"a":"\u12G4"}"#, "expected four hex digits after '\\u'"),
            (
                "{\"a\":\"x\ty\"}",
                "expected no raw control character in a string",
            ),
            (
                r#"{"a":[1 2]}"#,
                "expected ',' or ']' after an array element",
            ),
            (r#"{'a':1}"#, "expected '\"' starting a key"),
            (r#"{"a":NaN}"#, "expected a value"),
        ];
        for (input, what) in cases {
            let p = parse(&format!("{input}\n{{\"ok\":1}}\n"), Format::Jsonl);
            assert_eq!(p.bad_codes(), vec![(1, "KP003")], "{input}");
            assert!(
                p.bad[0].error.message.contains(what),
                "{input}: {}",
                p.bad[0].error
            );
            // Parsing goes on with the next line.
            assert_eq!(p.records(), vec![2], "{input}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
        let p = parse(&format!("{deep}\n{{\"ok\":1}}\n"), Format::Jsonl);
        assert_eq!(p.bad_codes(), vec![(1, "KP003")]);
        assert!(p.bad[0].error.message.contains("nested deeper"));
        assert_eq!(p.records(), vec![2]);
        let ok = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
        let e = doc(&ok);
        assert_eq!(e.fields.len(), 3);
        let arrays = format!("{{\"a\":{}1{}}}", "[".repeat(300), "]".repeat(300));
        assert_eq!(
            parse(&arrays, Format::Jsonl).bad_codes(),
            vec![(1, "KP003")]
        );
    }

    #[test]
    fn truncation_and_size_limit() {
        let p = parse("{\"a\":1}\n{\"b\":[1,2", Format::Jsonl);
        assert_eq!(p.records(), vec![1]);
        assert_eq!(p.bad_codes(), vec![(2, "KP007")]);
        let p = parse("{\"a\":tr", Format::Jsonl);
        assert_eq!(p.bad_codes(), vec![(1, "KP007")]);
        let small = ParseOptions {
            max_record_bytes: 20,
            ..opts()
        };
        let input = "{\"a\":\"0123456789012345678901234567890\"}\n{\"b\":1}\n";
        let p = parse_with(input.as_bytes(), Format::Jsonl, &small);
        assert_eq!(p.bad_codes(), vec![(1, "KP001")]);
        assert_eq!(p.records(), vec![2]);
    }

    #[test]
    fn non_json_lines_are_wrong_format() {
        let p = parse(
            "<34>Oct 11 22:14:15 host su: fail\n\"just a string\"\n42\n}\n[2024-05-01] x\n{\"ok\":1}\n",
            Format::Jsonl,
        );
        assert_eq!(
            p.bad_codes(),
            vec![
                (1, "KP005"),
                (2, "KP005"),
                (3, "KP005"),
                (4, "KP003"),
                (5, "KP005")
            ]
        );
        assert_eq!(p.records(), vec![6]);
    }

    #[test]
    fn resynchronises_after_a_bad_line_of_json_lines() {
        let input = concat!(
            "{\"a\":1}\n",
            "{\"a\":2,\n", // truncated line: the next document still parses
            "{\"a\":3}\n",
            "{\"a\":\"unterminated\n",
            "{\"a\":4}\n",
            "{\"a\":5} trailing\n",
            "{\"a\":6}{\"a\":7}\n",
        );
        let p = parse(input, Format::Jsonl);
        assert_eq!(
            p.bad_codes(),
            vec![(2, "KP003"), (4, "KP003"), (6, "KP005")]
        );
        let a: Vec<String> = p.events.iter().filter_map(|e| s(e, "a")).collect();
        assert_eq!(a, ["1", "3", "4", "5", "6", "7"]);
        assert_eq!(p.records(), vec![1, 3, 5, 6, 7, 7]);
    }

    #[test]
    fn pretty_printed_documents_are_numbered_by_first_line() {
        let input = "{\n  \"a\": 1,\n  \"b\": {\n    \"c\": [1,\n 2]\n  }\n}\n\n{\n  \"a\": 2\n}\n{\"a\":3}\n";
        let p = parse(input, Format::Jsonl);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(p.records(), vec![1, 9, 12]);
        assert_eq!(
            v(&p.events[0], "b.c"),
            Some(Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
    }

    #[test]
    fn broken_pretty_printed_document_skips_to_the_next_one() {
        let input =
            "{\n  \"a\": 1,\n  \"b\": oops,\n  \"c\": {\n    \"d\": 2\n  }\n}\n{\n  \"a\": 2\n}\n";
        let p = parse(input, Format::Jsonl);
        assert_eq!(p.bad_codes(), vec![(1, "KP003")]);
        assert_eq!(p.records(), vec![8]);
        assert_eq!(s(&p.events[0], "a").as_deref(), Some("2"));
    }

    #[test]
    fn top_level_arrays_number_records_by_element() {
        let input = "[\n  {\"a\": 1},\n  {\"a\": 2, \"b\": [1, {\"c\": 3}]},\n  {\"a\": 3}\n]\n[{\"a\":4}]\n[]\n";
        let p = parse(input, Format::Jsonl);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(p.records(), vec![1, 2, 3, 4]);
        assert_eq!(
            v(&p.events[1], "b.c"),
            Some(Value::List(vec![Value::Int(3)]))
        );
    }

    #[test]
    fn bad_array_elements_are_skipped_by_bracket_matching() {
        let input = "[{\"a\":1}, {\"a\": tru, \"s\": \"}]\"}, 7, {\"a\":3} {\"a\":4}, {\"a\":5}]\n{\"a\":6}\n";
        let p = parse(input, Format::Jsonl);
        assert_eq!(
            p.bad_codes(),
            vec![(2, "KP003"), (3, "KP005"), (4, "KP003")]
        );
        let a: Vec<String> = p.events.iter().filter_map(|e| s(e, "a")).collect();
        assert_eq!(a, ["1", "3", "4", "5", "6"]);
        // Array elements are numbered by index; the document after the array by its line.
        assert_eq!(p.records(), vec![1, 4, 5, 6, 2]);
        let p = parse("[{\"a\":1},", Format::Jsonl);
        assert_eq!(p.records(), vec![1]);
        assert_eq!(p.bad_codes(), vec![(2, "KP007")]);
    }

    #[test]
    fn elasticsearch_bulk_bodies() {
        let input = concat!(
            "{\"index\":{\"_index\":\"logs-web\",\"_id\":\"1\"}}\n",
            "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"message\":\"one\"}\n",
            "{\"create\":{\"_index\":\"logs-web\"}}\n",
            "{\"message\":\"two\"}\n",
            "{\"update\":{\"_index\":\"logs-app\",\"_id\":\"9\",\"retry_on_conflict\":3}}\n",
            "{\"doc\":{\"message\":\"three\",\"user\":{\"name\":\"bob\"}},\"doc_as_upsert\":true}\n",
            "{\"update\":{\"_id\":\"10\"}}\n",
            "{\"script\":{\"source\":\"ctx._source.n++\"},\"upsert\":{\"n\":1}}\n",
            "{\"delete\":{\"_index\":\"logs-web\",\"_id\":\"1\"}}\n",
            "{\"index\":{}}\n",
            "{\"index\":{\"_index\":\"is-the-document\"}}\n",
            "{\"index\":{\"_index\":\"x\",\"unexpected\":1}}\n",
        );
        let p = parse(input, Format::Jsonl);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(p.records(), vec![2, 4, 6, 11, 12]);
        let e = &p.events[0];
        assert_eq!(s(e, "_index").as_deref(), Some("logs-web"));
        assert_eq!(s(e, "_id").as_deref(), Some("1"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00Z");
        assert_eq!(s(&p.events[1], "_id"), None);
        let e = &p.events[2];
        assert_eq!(s(e, "message").as_deref(), Some("three"));
        assert_eq!(s(e, "user.name").as_deref(), Some("bob"));
        assert_eq!(s(e, "doc_as_upsert"), None);
        assert_eq!(s(e, "_index").as_deref(), Some("logs-app"));
        // After `{"index":{}}`, the next line is the document even though it looks like an action.
        assert_eq!(
            s(&p.events[3], "index._index").as_deref(),
            Some("is-the-document")
        );
        // A key that is no bulk parameter: an ordinary document.
        assert_eq!(s(&p.events[4], "index.unexpected").as_deref(), Some("1"));
    }

    #[test]
    fn bulk_action_without_document_is_reported() {
        let p = parse("{\"index\":{\"_index\":\"a\"}}\n", Format::Jsonl);
        assert_eq!(p.bad_codes(), vec![(1, "KP007")]);
        let p = parse(
            "{\"index\":{\"_index\":\"a\"}}\n{\"broken\":}\n{\"a\":1}\n",
            Format::Jsonl,
        );
        assert_eq!(p.bad_codes(), vec![(2, "KP003")]);
        // The failed source consumed the action: the next line is an ordinary document.
        assert_eq!(s(p.one(), "_index"), None);
    }

    #[test]
    fn event_time_from_time_keys_in_order() {
        let e =
            doc(r#"{"time":"2020-01-01T00:00:00Z","@timestamp":"2024-05-01T10:00:00.5+02:00"}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T08:00:00.500Z");
        assert_eq!(e.tz, tz(7200));
        let e = doc(r#"{"@timestamp":1700000000123}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2023-11-14T22:13:20.123Z");
        assert_eq!(e.tz, None);
        // An unreadable better key falls back to the next one.
        let e = doc(r#"{"@timestamp":"yesterday","ts":1562074033.123456}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2019-07-02T13:27:13.123456Z");
        let e = doc(r#"{"eventTime":"2021-03-04T05:06:07Z"}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2021-03-04T05:06:07Z");
        let e = doc(r#"{"date":"10/Oct/2000:13:55:36 -0700"}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2000-10-10T20:55:36Z");
        assert_eq!(e.tz, tz(-25200));
        let e = doc(r#"{"timestamp":"1700000000"}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2023-11-14T22:13:20Z");
        let e = doc(r#"{"timestamp":1.7e9}"#);
        assert_eq!(e.timestamp.to_rfc3339(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn implausible_or_nested_times_are_ignored() {
        let received = opts().received;
        for json in [
            r#"{"time":0.5}"#,
            r#"{"time":12}"#,
            r#"{"a":{"@timestamp":"2024-05-01T10:00:00Z"}}"#,
            r#"{"@timestamp":["2024-05-01T10:00:00Z"]}"#,
            r#"{"@timestamp":"2024-13-01T10:00:00Z"}"#,
            r#"{"@timestamp":true}"#,
        ] {
            assert_eq!(doc(json).timestamp, received, "{json}");
        }
    }

    #[test]
    fn zone_less_times_use_the_default_zone() {
        let o = ParseOptions {
            default_tz: TzOffset::from_secs(-5 * 3600),
            ..opts()
        };
        let p = parse_with(br#"{"timestamp":"2024-05-01 10:00:00"}"#, Format::Jsonl, &o);
        let e = p.one();
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T15:00:00Z");
        assert_eq!(e.tz, None);
    }

    #[test]
    fn epoch_units_follow_magnitude() {
        let t = |s: &str| epoch_auto(s).map(|t| t.to_rfc3339());
        assert_eq!(t("1700000000").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(
            t("1700000000.5").as_deref(),
            Some("2023-11-14T22:13:20.500Z")
        );
        assert_eq!(
            t("1700000000123").as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(
            t("1700000000123.5").as_deref(),
            Some("2023-11-14T22:13:20.123500Z")
        );
        assert_eq!(
            t("1700000000123456").as_deref(),
            Some("2023-11-14T22:13:20.123456Z")
        );
        assert_eq!(
            t("1700000000123456789").as_deref(),
            Some("2023-11-14T22:13:20.123456789Z")
        );
        assert_eq!(t("99999999"), None);
        assert_eq!(t("-1700000000"), None);
        assert_eq!(t("17000000001234567890"), None);
        assert_eq!(t("1.7e9").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(t("abc"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn raw_record_is_the_document_text() {
        let p = parse("  {\"a\":1}  \n[{\"b\":2}]\n", Format::Jsonl);
        assert_eq!(p.events[0].raw.as_deref(), Some("{\"a\":1}"));
        assert_eq!(p.events[1].raw.as_deref(), Some("{\"b\":2}"));
    }

    #[test]
    fn windows_documents_fall_back_to_flattening() {
        // `windows::normalise_json` belongs to another module; whatever it returns, the event
        // must keep the document's fields.
        let e = doc(
            r##"{"Event":{"System":{"EventID":4624,"TimeCreated":{"#attributes":{"SystemTime":"2024-05-01T10:00:00.123Z"}}},"EventData":{"TargetUserName":"bob"}}}"##,
        );
        if e.get_name("Event.EventData.TargetUserName").is_some() {
            assert_eq!(v(&e, "Event.System.EventID"), Some(Value::Int(4624)));
            assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.123Z");
        }
        let e = doc(
            r#"{"@timestamp":"2024-05-01T10:00:00Z","winlog":{"event_id":"4688","channel":"Security"}}"#,
        );
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00Z");
    }

    #[test]
    fn eve_and_zeek_documents_are_routed() {
        let p = parse(
            concat!(
                r#"{"timestamp":"2024-05-01T10:00:00.000001+0000","event_type":"dns","src_ip":"10.0.0.1","dns":{"type":"query","rrname":"a.example"}}"#,
                "\n",
                r#"{"ts":1714557600.25,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,"id.resp_h":"10.0.0.2","id.resp_p":53,"proto":"udp","query":"b.example","qtype_name":"A"}"#,
                "\n",
                r#"{"event_type":"dns","message":"no timestamp: not EVE"}"#,
                "\n"
            ),
            Format::Jsonl,
        );
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        let e = &p.events[0];
        assert_eq!(s(e, "event.dataset").as_deref(), Some("suricata.dns"));
        assert_eq!(s(e, "dns.question.name").as_deref(), Some("a.example"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.000001Z");
        assert_eq!(e.tz, tz(0));
        let e = &p.events[1];
        assert_eq!(s(e, "event.dataset").as_deref(), Some("zeek.dns"));
        assert_eq!(s(e, "dns.question.name").as_deref(), Some("b.example"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.250Z");
        assert_eq!(s(&p.events[2], "event.module").as_deref(), Some("jsonl"));
    }

    #[test]
    fn forced_eve_rejects_other_documents() {
        let p = parse(
            concat!(
                r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"flow"}"#,
                "\n",
                r#"{"message":"plain"}"#,
                "\n",
                "not json\n",
                r#"{"Event":{"System":{"EventID":1}}}"#,
                "\n",
            ),
            Format::Eve,
        );
        assert_eq!(p.records(), vec![1]);
        assert_eq!(
            p.bad_codes(),
            vec![(2, "KP005"), (3, "KP005"), (4, "KP005")]
        );
        assert_eq!(s(&p.events[0], "event.module").as_deref(), Some("suricata"));
    }

    #[test]
    fn sniffing_the_first_document() {
        let eve = br#"{"timestamp":"2024-05-01T10:00:00+0000","flow_id":1,"event_type":"alert"}"#;
        assert_eq!(sniff_kind(eve), Format::Eve);
        assert_eq!(
            sniff_kind(b"[\n {\"timestamp\":\"x\",\"event_type\":\"flow\"}]"),
            Format::Eve
        );
        assert_eq!(
            sniff_kind(br#"{"ts":1.5,"uid":"C1","id.orig_h":"1.2.3.4"}"#),
            Format::Zeek
        );
        assert_eq!(
            sniff_kind(br#"{"_path":"dns","ts":"2024-05-01T10:00:00Z"}"#),
            Format::Zeek
        );
        assert_eq!(sniff_kind(br#"{"ts":1.5}"#), Format::Jsonl);
        assert_eq!(
            sniff_kind(br#"{"@timestamp":"x","message":"m"}"#),
            Format::Jsonl
        );
        assert_eq!(sniff_kind(br#"{"index":{"_index":"a"}}"#), Format::Jsonl);
        assert_eq!(
            sniff_kind(br#"{"Event":{"System":{"EventID":1}},"ts":1,"uid":"x"}"#),
            Format::Jsonl
        );
        assert_eq!(sniff_kind(b"{broken"), Format::Jsonl);
        assert_eq!(sniff_kind(b"["), Format::Jsonl);
        assert_eq!(crate::detect(eve), Format::Eve);
    }

    #[test]
    fn line_parser_handles_documents_arrays_and_bulk() {
        let p = parse_lines(
            &[
                "{\"a\":1}",
                "{\"a\":2} {\"a\":3}",
                "[{\"a\":4},{\"a\":5}]",
                "{\"index\":{\"_index\":\"i\"}}",
                "{\"a\":6}",
                "{\"a\":",
                "junk",
                "{\"create\":{}}",
            ],
            crate::driver::line_parser(Format::Jsonl).expect("jsonl is line-based"),
        );
        let a: Vec<String> = p.events.iter().filter_map(|e| s(e, "a")).collect();
        assert_eq!(a, ["1", "2", "3", "4", "5", "6"]);
        assert_eq!(p.records(), vec![1, 2, 2, 3, 3, 5]);
        assert_eq!(s(&p.events[5], "_index").as_deref(), Some("i"));
        assert_eq!(
            p.bad_codes(),
            vec![(6, "KP003"), (7, "KP005"), (8, "KP007")]
        );
    }

    #[test]
    fn held_tracks_the_ids_of_one_event_at_a_time() {
        let mut e = Event::new(
            opts().received,
            kasbah_event::Source::Input {
                name: std::sync::Arc::from("t"),
            },
        );
        e.set(kasbah_event::ecs::EVENT_KIND, "event");
        // An id in a later page than the first.
        let far = (0..PAGE + 10)
            .map(|i| FieldId::intern(&format!("held.test.{i}")))
            .max()
            .expect("ids");
        assert!(far.index() >= PAGE);
        let mut h = Held::default();
        h.start(&e);
        assert!(h.contains(kasbah_event::ecs::EVENT_KIND));
        assert!(!h.contains(far));
        assert!(h.insert(far));
        assert!(!h.insert(far));
        assert!(h.contains(far));
        h.set(&mut e, far, 1i64);
        h.set(&mut e, far, 2i64);
        assert_eq!(e.fields.get(far), Some(&Value::Int(2)));
        assert_eq!(e.fields.len(), 2);
        // A new event forgets the old ids, also when the generation counter wraps.
        h.generation = u32::MAX;
        let fresh = Event::new(e.received, e.source.clone());
        h.start(&fresh);
        assert_eq!(h.generation, 1);
        assert!(!h.contains(far));
        assert!(!h.contains(kasbah_event::ecs::EVENT_KIND));
    }

    /// Every JSON file under `dir`, recursively.
    fn json_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                json_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }

    #[test]
    fn sigma_regression_windows_json_parses() {
        // Real Windows events rendered by the evtx crate (pretty-printed, one or more per file),
        // read from the shared data set, which is not part of the repository.
        let shared = std::env::var_os("KASBAH_SHARED").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
            std::path::PathBuf::from,
        );
        let dir = shared.join("sigma/regression_data");
        let mut files = Vec::new();
        json_files(&dir, &mut files);
        if files.is_empty() {
            eprintln!(
                "skipped: no JSON under {} (set KASBAH_SHARED)",
                dir.display()
            );
            return;
        }
        let mut events = 0;
        for f in &files {
            let bytes = std::fs::read(f).expect("read shared file");
            assert_eq!(crate::detect(&bytes), Format::Jsonl, "{}", f.display());
            let p = parse_with(&bytes, Format::Jsonl, &opts());
            assert!(p.bad.is_empty(), "{}: {:?}", f.display(), p.bad);
            assert!(!p.events.is_empty(), "{}", f.display());
            for e in &p.events {
                // Both the Windows mapping and the fallback take the time from the record.
                assert_ne!(e.timestamp, opts().received, "{}", f.display());
            }
            events += p.events.len();
        }
        assert!(events >= files.len());
    }

    // ---- property tests ----------------------------------------------------------------------

    /// The reference flattening, written the obvious way over a `serde_json::Value` tree.
    fn reference(v: &serde_json::Value) -> Vec<(String, Value)> {
        fn set(out: &mut Vec<(String, Value)>, k: String, v: Value) {
            match out.iter_mut().find(|(n, _)| *n == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        fn join(p: &str, k: &str) -> String {
            if p.is_empty() {
                k.to_string()
            } else {
                format!("{p}.{k}")
            }
        }
        fn collect(v: &serde_json::Value, path: &str, acc: &mut Vec<(String, Vec<Value>)>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        collect(x, &join(path, k), acc);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, path, acc)),
                scalar => match acc.iter_mut().find(|(n, _)| n == path) {
                    Some(slot) => slot.1.push(Value::from_json(scalar)),
                    None => acc.push((path.to_string(), vec![Value::from_json(scalar)])),
                },
            }
        }
        fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<(String, Value)>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        walk(x, &join(path, k), out);
                    }
                }
                serde_json::Value::Array(a) => {
                    let mut acc = vec![(path.to_string(), Vec::new())];
                    a.iter().for_each(|x| collect(x, path, &mut acc));
                    for (i, (p, vals)) in acc.into_iter().enumerate() {
                        if i == 0 && vals.is_empty() && !a.is_empty() {
                            continue;
                        }
                        set(out, p, Value::List(vals));
                    }
                }
                scalar => set(out, path.to_string(), Value::from_json(scalar)),
            }
        }
        let mut out = Vec::new();
        walk(v, "", &mut out);
        out
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        // Keys without dots (the reference does not merge spellings) and without the names that
        // route documents elsewhere; with escapes and non-ASCII text.
        let key = prop::sample::select(vec![
            "a", "b", "c", "id", "name", "x y", "é", "k\"q", "t\\u", "😀", "tab\t", "",
        ])
        .prop_map(str::to_string);
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e300f64..1e300).prop_map(serde_json::Value::from),
            ".{0,30}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = serde_json::Value> {
        prop::collection::vec(
            (
                prop::sample::select(vec!["p", "q", "r", "s", "msg"]),
                json_value(),
            ),
            0..6,
        )
        .prop_map(|kv| {
            serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        })
    }

    fn fields_of(e: &Event) -> Vec<(String, Value)> {
        e.fields
            .iter()
            .filter(|(k, _)| *k != "event.kind" && *k != "event.module")
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn flattening_matches_the_reference(docs in prop::collection::vec(json_object(), 1..4), pretty in any::<bool>()) {
            let mut input = String::new();
            for d in &docs {
                let text = if pretty {
                    serde_json::to_string_pretty(d).expect("serialise")
                } else {
                    serde_json::to_string(d).expect("serialise")
                };
                input.push_str(&text);
                input.push('\n');
            }
            let p = parse(&input, Format::Jsonl);
            prop_assert!(p.bad.is_empty(), "{:?}", p.bad);
            prop_assert_eq!(p.events.len(), docs.len());
            for (e, d) in p.events.iter().zip(&docs) {
                prop_assert_eq!(fields_of(e), reference(d));
            }
            // The same documents as one array.
            let array = serde_json::to_string(&docs).expect("serialise");
            let p = parse(&array, Format::Jsonl);
            prop_assert_eq!(p.events.len(), docs.len());
            for (e, d) in p.events.iter().zip(&docs) {
                prop_assert_eq!(fields_of(e), reference(d));
            }
        }

        #[test]
        fn validity_agrees_with_serde_json(text in "[ {}\\[\\]\",:0-9a-z.eE+\\-\\\\]{0,40}") {
            let input = format!("{{{text}");
            let ours = parse(&input, Format::Jsonl);
            let theirs = serde_json::from_str::<serde_json::Value>(&input);
            // serde_json's `from_str` rejects trailing bytes; we read them as more documents
            // (`{}[]` is an object and an empty array: one event). So what we accept must be
            // accepted as the first document of a stream.
            if ours.bad.is_empty() && ours.events.len() == 1 {
                let first = serde_json::Deserializer::from_str(&input)
                    .into_iter::<serde_json::Value>()
                    .next();
                prop_assert!(matches!(first, Some(Ok(_))), "we accepted {input:?}");
            }
            if let Ok(serde_json::Value::Object(_)) = theirs {
                prop_assert!(ours.bad.is_empty() && ours.events.len() == 1, "we rejected {input:?}");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            for f in [Format::Jsonl, Format::Eve] {
                let p = parse_with(&bytes, f, &opts());
                prop_assert!(p.events.len() + p.bad.len() <= bytes.len() + 1);
            }
            let _ = sniff_kind(&bytes);
        }

        #[test]
        fn json_like_text_never_panics(text in "[ \n{}\\[\\]\",:0-9a-z_.@\\-\\\\]{0,200}") {
            for f in [Format::Jsonl, Format::Eve] {
                let _ = parse(&text, f);
            }
            let lines: Vec<&str> = text.lines().collect();
            let _ = parse_lines(&lines, Box::new(JsonLines::new(Format::Jsonl)));
        }
    }
}
