//! The index schema of a partition and the conversion of a stored event into an index document.
//!
//! | field  | type | use |
//! |---|---|---|
//! | `ts`   | i64, fast | event time (UTC ns): time ranges, `@timestamp` lookups, newest-first order |
//! | `f`    | JSON, keyword-indexed (lower-cased) | `field:value` filters |
//! | `c2`   | JSON, fast only (original case), [`COLUMNS`], [`MEASURES`], [`ADDRESSES`] | `stats count() by`; measures and addresses by value |
//! | `s1`   | JSON, keyword-indexed: vendor field → ECS field holding the same value | `field:value` |
//! | `text` | text with positions | full-text search over `message` and `event.original` |
//! | `doc`  | bytes, stored (zstd) | the event as returned by search |
//!
//! Every event field goes into `f` under its dotted name except `message` and `event.original`,
//! which are only in `text` and `doc`: they are long, nearly unique per event, and searched by
//! their words (a keyword term and a column per message would double the store's size). Numeric
//! [`MEASURES`] and IPv4 [`ADDRESSES`] are only in their column, and `@timestamp` equal to the
//! event time only in `ts`.
//!
//! A vendor field whose value equals an ECS field's in the same event (`srcip` and `source.ip`)
//! has no terms of its own in `f`; `s1` links it to the ECS field, whose terms search uses
//! instead ([`link_same_values`]). About a third of a firewall event's terms were such copies.
//!
//! Columns cost more than terms to build and to merge, so only a curated set of ECS fields, the
//! ones dashboards group by, and the measures get one (`c2`); `stats ... by` any other field
//! reads documents. Partitions written before (layout 1 without columns and `s1`) have every
//! field of `f` as a column and every field's terms, and those of the first curated set (`c1`,
//! without the measures) the measures' terms; the schema is read from each index, so all kinds
//! open and are searched the same way. The set of a column field never changes: a different set
//! gets a new field name ([`ColumnSet`]), so a partition always says which fields it has columns
//! for.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::{Serialize, Serializer};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf};
use tantivy::schema::{
    BytesOptions, Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument};

use rustc_hash::{FxHashMap, FxHasher};

use crate::shape::{self, ShapeWriter};

/// Name of the keyword tokenizer: whole value, lower-cased.
pub const KEYWORD: &str = "kasbah_kw";
/// Name of the full-text tokenizer: alphanumeric runs, lower-cased.
pub const WORDS: &str = "kasbah_words";
/// Longest keyword value indexed; longer values are found by scanning (see `search`).
pub const MAX_KEYWORD_BYTES: usize = 4096;
/// Longest word indexed in full text.
pub const MAX_WORD_BYTES: usize = 255;

/// Fields kept out of the keyword index.
pub const NOT_KEYWORD_INDEXED: &[&str] = &["event.original", "message"];

/// Numeric measures (byte, packet counts, durations): nearly unique numbers, rarely searched by
/// exact value, that cost a term per event (about 23 bytes per firewall event). Partitions with
/// the `c2` column set keep them, when they hold numbers, in columns only; `field:value` on them
/// is a range of the column (`search::Needle::lookup`). Sorted.
pub const MEASURES: &[&str] = &[
    "destination.bytes",
    "destination.packets",
    "event.duration",
    "http.request.body.bytes",
    "http.request.bytes",
    "http.response.body.bytes",
    "http.response.bytes",
    "network.bytes",
    "network.packets",
    "source.bytes",
    "source.packets",
];

/// Address fields: nearly unique per event in network logs, where their terms were the largest
/// part of the keyword index (41 bytes per firewall event for `source.ip` and `destination.ip`
/// on the benchmark). Partitions with the `c2` column set keep them, when they hold an IPv4
/// address, in columns only; `field:value` on them is an equal range of the column (a scan of
/// the column's ordinals, about a millisecond per million events). Sorted.
pub const ADDRESSES: &[&str] = &[
    "client.ip",
    "destination.ip",
    "host.ip",
    "server.ip",
    "source.ip",
];

/// [`COLUMNS`], [`MEASURES`] and [`ADDRESSES`], sorted: the fields of the `c2` column set.
static C2_FIELDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    let mut all: Vec<&'static str> = COLUMNS
        .iter()
        .chain(MEASURES)
        .chain(ADDRESSES)
        .copied()
        .collect();
    all.sort_unstable();
    all.dedup();
    all
});

/// The fields a partition keeps columns for. A set never changes: another set is another field,
/// so a partition always says which fields it has columns for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnSet {
    /// Field `c1`: [`COLUMNS`] (partitions from 2026-11 to 2026-12-07).
    C1,
    /// Field `c2`: [`COLUMNS`], [`MEASURES`] and [`ADDRESSES`]; measures holding numbers and
    /// addresses holding IPv4 addresses have no keyword terms.
    C2,
}

impl ColumnSet {
    /// Name of the JSON field holding the columns.
    pub fn name(self) -> &'static str {
        match self {
            ColumnSet::C1 => "c1",
            ColumnSet::C2 => "c2",
        }
    }

    /// The fields with a column, sorted.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ColumnSet::C1 => COLUMNS,
            ColumnSet::C2 => &C2_FIELDS,
        }
    }

    /// Whether numeric [`MEASURES`] and IPv4 [`ADDRESSES`] live in columns only.
    pub fn column_only(self) -> bool {
        self == ColumnSet::C2
    }
}

/// A partition's column field and its set.
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    /// The JSON fast field.
    pub field: Field,
    /// Which fields it holds.
    pub set: ColumnSet,
}

/// The fields that get a column in new partitions (sorted: looked up by binary search). These are
/// the ECS fields dashboards and hunts group by; anything else is counted from documents.
pub const COLUMNS: &[&str] = &[
    "destination.ip",
    "destination.port",
    "dns.question.name",
    "event.action",
    "event.category",
    "event.code",
    "event.dataset",
    "event.kind",
    "event.module",
    "event.outcome",
    "event.provider",
    "event.severity",
    "event.type",
    "host.ip",
    "host.name",
    "http.request.method",
    "http.response.status_code",
    "log.level",
    "log.template_id",
    "network.direction",
    "network.protocol",
    "network.transport",
    "observer.name",
    "observer.product",
    "observer.vendor",
    "process.name",
    "process.parent.name",
    "rule.id",
    "rule.name",
    "service.name",
    "source.ip",
    "url.domain",
    "url.path",
    "user.domain",
    "user.name",
    "user.target.name",
    "winlog.channel",
    "winlog.event_id",
    "winlog.provider_name",
];

/// Name of the field recording, per event, which vendor fields hold the same value as an ECS
/// field (`s1.<vendor name>` = the ECS name) instead of having keyword terms of their own.
pub const SAME_FIELD: &str = "s1";

/// Handles on the schema's fields.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// Event time.
    pub ts: Field,
    /// The event's fields as a JSON object.
    pub f: Field,
    /// The curated columns (`None` in partitions of layout 1, where `f` itself is columnar).
    pub cols: Option<Columns>,
    /// Whether `f` is columnar (every field has a column).
    pub f_fast: bool,
    /// Vendor fields equal to an ECS field (`None` in partitions of layout 1: every field has
    /// its own terms there).
    pub same: Option<Field>,
    /// Full text.
    pub text: Field,
    /// The stored document.
    pub doc: Field,
}

impl Fields {
    /// The column (`field` of an aggregation) holding `field` in this partition, if any.
    pub fn column(&self, field: &str) -> Option<String> {
        if self.f_fast {
            Some(format!("f.{field}"))
        } else if let Some(c) = self.cols
            && c.set.fields().binary_search(&field).is_ok()
        {
            Some(format!("{}.{field}", c.set.name()))
        } else {
            None
        }
    }
}

/// Builds the schema of a new partition.
pub fn schema() -> (Schema, Fields) {
    schema_with(ColumnSet::C2)
}

/// The schema of a new partition with the given column set (tests write the older set).
pub(crate) fn schema_with(set: ColumnSet) -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Fast only: tantivy answers ranges of a fast field from the column, so terms of `ts` (as
    // partitions before 2026-12 have) were never read and cost 6 bytes per event.
    let ts = b.add_i64_field("ts", NumericOptions::default().set_fast());
    // No field norms: nothing is scored (results are ordered by time), they would only cost.
    let kw = TextFieldIndexing::default()
        .set_tokenizer(KEYWORD)
        .set_index_option(IndexRecordOption::Basic)
        .set_fieldnorms(false);
    let f = b.add_json_field(
        "f",
        JsonObjectOptions::default()
            .set_indexing_options(kw)
            .set_expand_dots_enabled(),
    );
    let cols = b.add_json_field(
        set.name(),
        JsonObjectOptions::default()
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let same = b.add_json_field(
        SAME_FIELD,
        JsonObjectOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(KEYWORD)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        ),
    );
    let words = TextFieldIndexing::default()
        .set_tokenizer(WORDS)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions)
        .set_fieldnorms(false);
    let text = b.add_text_field("text", TextOptions::default().set_indexing_options(words));
    let doc = b.add_bytes_field("doc", BytesOptions::default().set_stored());
    (
        b.build(),
        Fields {
            ts,
            f,
            cols: Some(Columns { field: cols, set }),
            f_fast: false,
            same: Some(same),
            text,
            doc,
        },
    )
}

/// The schema of partitions written by layout 1 before columns were curated: every field of `f`
/// is columnar. Kept to test that such partitions are still read correctly.
#[cfg(test)]
pub fn schema_v1() -> Schema {
    let mut b = Schema::builder();
    b.add_i64_field("ts", NumericOptions::default().set_indexed().set_fast());
    let kw = TextFieldIndexing::default()
        .set_tokenizer(KEYWORD)
        .set_index_option(IndexRecordOption::Basic);
    b.add_json_field(
        "f",
        JsonObjectOptions::default()
            .set_indexing_options(kw)
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let words = TextFieldIndexing::default()
        .set_tokenizer(WORDS)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    b.add_text_field("text", TextOptions::default().set_indexing_options(words));
    b.add_bytes_field("doc", BytesOptions::default().set_stored());
    b.build()
}

/// Looks the fields up in an existing index's schema.
pub fn fields(schema: &Schema) -> Option<Fields> {
    let f = schema.get_field("f").ok()?;
    Some(Fields {
        ts: schema.get_field("ts").ok()?,
        f,
        cols: [ColumnSet::C2, ColumnSet::C1].into_iter().find_map(|set| {
            let field = schema.get_field(set.name()).ok()?;
            Some(Columns { field, set })
        }),
        f_fast: schema.get_field_entry(f).is_fast(),
        same: schema.get_field(SAME_FIELD).ok(),
        text: schema.get_field("text").ok()?,
        doc: schema.get_field("doc").ok()?,
    })
}

/// Registers Kasbah's tokenizers on an index (needed on every open).
pub fn register_tokenizers(index: &Index) {
    let t = index.tokenizers();
    t.register(
        KEYWORD,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_KEYWORD_BYTES + 1))
            .filter(LowerCaser)
            .build(),
    );
    t.register(
        WORDS,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_WORD_BYTES + 1))
            .filter(LowerCaser)
            .build(),
    );
}

/// The words of `s` as the full-text index sees them.
pub fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Builds the index document of one event. `None` if the stored bytes are not a JSON object.
/// `cache` remembers the classification of the previous event's keys: events of one source
/// usually have the same keys in the same order, and comparing them costs less than sorting.
/// With `shapes`, the document is stored as its shape and values ([`crate::shape`]) instead of
/// the JSON object `doc`.
pub fn document(
    fields: &Fields,
    ts: i64,
    doc: &[u8],
    cache: &mut KindsCache,
    shapes: Option<&mut ShapeWriter>,
) -> Option<TantivyDocument> {
    let mut entries = crate::flat::entries(doc).or_else(|| serde_entries(doc))?;
    let set = fields.cols.map_or(COLUMNS, |c| c.set.fields());
    let mut kinds = cache.classify(&entries, set);
    // Only keys that do not repeat are a shape (the values then follow them one for one).
    let shape = match (&kinds, shapes) {
        (Some(_), Some(w)) => cache.shape(w),
        _ => None,
    };
    // Keys that do not repeat are those of the cache, which may then serve the links too.
    let unique_keys = kinds.is_some();
    if !unique_keys {
        entries = last_wins(entries);
        kinds = classify(&entries, set);
    }
    let mut kinds = kinds?;
    unindex_timestamp(&entries, &mut kinds, ts);
    let same = match fields.same {
        Some(_) if unique_keys => cache.links(&entries, &mut kinds),
        Some(_) => link_same_values(&entries, &mut kinds),
        None => Vec::new(),
    };
    // After linking: a vendor field equal to a measure links to it like to any ECS field.
    if fields.cols.is_some_and(|c| c.set.column_only()) {
        unindex_column_only(&entries, &mut kinds);
    }
    // The document holds the stored bytes, the text and the indexed values once more: sized
    // for that up front instead of growing by doubling.
    let mut d = TantivyDocument::with_capacity(doc.len() * 5 / 2 + 256);
    d.add_i64(fields.ts, ts);
    for text in full_text(&entries) {
        d.add_text(fields.text, text);
    }
    d.add_field_value(fields.f, Node::Top(&entries, &kinds, KEYWORD_INDEXED));
    if let Some(cols) = fields.cols
        && kinds.iter().any(|k| k & COLUMN != 0)
    {
        d.add_field_value(cols.field, Node::Top(&entries, &kinds, COLUMN));
    }
    if let Some(field) = fields.same
        && !same.is_empty()
    {
        d.add_field_value(field, Node::Same(&entries, &same));
    }
    match shape {
        Some(id) => {
            value_refs(&entries, cache);
            let refs = &cache.refs;
            let mut out = Vec::with_capacity(doc.len());
            shape::write_header(id, refs, &mut out);
            let mut copies = refs.iter().map(|r| r.at as usize).peekable();
            let stored = entries
                .iter()
                .enumerate()
                .filter_map(|(i, (_, v))| copies.next_if_eq(&i).is_none().then_some(v));
            write_values(&mut out, stored);
            d.add_bytes(fields.doc, &out);
        }
        None => d.add_bytes(fields.doc, doc),
    }
    Some(d)
}

/// Writes values as a JSON array, as `serde_json` does; strings, nearly all of them, through the
/// event writer's escaper, which copies runs of text instead of looking up every byte.
fn write_values<'v, 'a: 'v>(out: &mut Vec<u8>, values: impl Iterator<Item = &'v Val<'a>>) {
    out.push(b'[');
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing into a Vec cannot fail.
        let _ = match v {
            Val::Str(s) => kasbah_event::write_json_str(out, s),
            v => serde_json::to_writer(&mut *out, v).map_err(std::io::Error::other),
        };
    }
    out.push(b']');
}

/// Finds the values of a shaped document that repeat an earlier value of the same event (a
/// vendor field and its ECS copy), into `cache.refs`: those are stored as references
/// ([`shape::Ref`]). Non-empty strings and integers of two digits or more are stored so; an
/// integer and a string holding its canonical text (`82` and `"82"`) are the same value
/// retyped, and an integer ending in zeros may be an earlier integer scaled (`31000000000`, the
/// ECS nanoseconds of a vendor's `duration=31`).
fn value_refs(entries: &[Entry<'_>], cache: &mut KindsCache) {
    cache.refs.clear();
    cache.firsts.clear();
    for (at, (_, v)) in entries.iter().enumerate() {
        let Some(key) = ref_key(v) else { continue };
        let first = *cache.firsts.entry(key.fingerprint()).or_insert(at as u32);
        let single_digit =
            matches!(v, Val::Num(_)) && key.int().is_some_and(|n| (0..10).contains(&n));
        if single_digit {
            continue;
        }
        let kind = if first as usize != at {
            same_value(entries, first as usize, v).map(|k| (first, k))
        } else if matches!(v, Val::Num(_)) {
            scaled_source(key, entries, &cache.firsts)
                .map(|(from, e)| (from, shape::RefKind::Scaled(e)))
        } else {
            None
        };
        if let Some((from, kind)) = kind {
            cache.refs.push(shape::Ref {
                at: at as u32,
                from,
                kind,
            });
        }
    }
}

/// How `v` copies the value at `first` (whose key has the same fingerprint): `None` for a
/// fingerprint collision, which is simply stored in full.
fn same_value(entries: &[Entry<'_>], first: usize, v: &Val<'_>) -> Option<shape::RefKind> {
    let (_, src) = entries.get(first)?;
    match (src, v) {
        (Val::Str(a), Val::Str(b)) if a == b => Some(shape::RefKind::Same),
        (Val::Num(a), Val::Num(b)) if a == b => Some(shape::RefKind::Same),
        (Val::Num(_), Val::Str(_)) | (Val::Str(_), Val::Num(_))
            if ref_key(src).and_then(RefKey::int) == ref_key(v).and_then(RefKey::int) =>
        {
            Some(shape::RefKind::Retyped)
        }
        _ => None,
    }
}

/// An earlier integer (not a string) that `key`, an integer ending in zeros, is a power of ten
/// times: its position and the exponent, the smallest one first.
fn scaled_source(
    key: RefKey<'_>,
    entries: &[Entry<'_>],
    firsts: &FxHashMap<u64, u32>,
) -> Option<(u32, u8)> {
    let mut n = key.int().filter(|n| *n != 0)?;
    for e in 1..=shape::MAX_EXPONENT {
        if n % 10 != 0 {
            return None;
        }
        n /= 10;
        let Some(&from) = firsts.get(&RefKey::Int(n).fingerprint()) else {
            continue;
        };
        if let Some((_, Val::Num(src))) = entries.get(from as usize)
            && shape::json_int(src) == Some(n)
        {
            return Some((from, e));
        }
    }
    None
}

/// What a value is compared by in [`value_refs`].
#[derive(Clone, Copy, PartialEq)]
enum RefKey<'v> {
    /// An integer, or a string holding its canonical text.
    Int(i128),
    Text(&'v str),
}

impl RefKey<'_> {
    fn int(self) -> Option<i128> {
        match self {
            RefKey::Int(n) => Some(n),
            RefKey::Text(_) => None,
        }
    }

    fn fingerprint(self) -> u64 {
        use std::hash::Hasher;
        let mut h = FxHasher::default();
        match self {
            RefKey::Int(n) => {
                h.write_u8(0);
                h.write_i128(n);
            }
            RefKey::Text(s) => {
                h.write_u8(1);
                h.write(s.as_bytes());
            }
        }
        h.finish()
    }
}

/// The key of a value that may be stored as or referred to by a reference: non-empty strings
/// and integers.
fn ref_key<'v>(v: &'v Val<'_>) -> Option<RefKey<'v>> {
    match v {
        Val::Str(s) if s.is_empty() => None,
        Val::Str(s) => Some(shape::canonical_int(s).map_or(RefKey::Text(s), RefKey::Int)),
        Val::Num(n) => shape::json_int(n).map(RefKey::Int),
        _ => None,
    }
}

/// `@timestamp` gets no keyword terms when it is the instant of `ts` (always, for events of the
/// server): the `ts` column answers `@timestamp:<time>` and bare times instead
/// (`search::Needle::instant`), and a nearly unique term per event was about 7 of the index's
/// bytes per event. Any other `@timestamp` keeps its terms.
fn unindex_timestamp(entries: &[Entry<'_>], kinds: &mut [u8], ts: i64) {
    let at = entries.iter().position(|(k, _)| k == "@timestamp");
    if let Some(i) = at
        && let (_, Val::Str(s)) = &entries[i]
        && as_date(s).is_some_and(|d| d.into_timestamp_nanos() == ts)
    {
        kinds[i] &= !KEYWORD_INDEXED;
    }
}

/// Numeric [`MEASURES`] and IPv4 [`ADDRESSES`] keep their column and lose their keyword terms;
/// any other value of those fields (a measure as a string from a loose source, an IPv6 address,
/// a list) keeps its terms.
fn unindex_column_only(entries: &[Entry<'_>], kinds: &mut [u8]) {
    for (kind, (_, v)) in kinds.iter_mut().zip(entries) {
        if *kind & COLUMN == 0 {
            continue;
        }
        let column_only = match v {
            Val::Num(_) => *kind & MEASURE != 0,
            Val::Str(s) => *kind & ADDRESS != 0 && s.parse::<std::net::Ipv4Addr>().is_ok(),
            _ => false,
        };
        if column_only {
            *kind &= !KEYWORD_INDEXED;
        }
    }
}

/// The values of the full-text field: `message`, then `event.original`, whatever the key order
/// of the document. A syslog line's original holds its message (after the header): then only
/// the original is indexed, since every word and phrase of the message is found in it, and the
/// message's words would be indexed twice.
fn full_text<'e>(entries: &'e [Entry<'_>]) -> impl Iterator<Item = &'e str> {
    let text = |key: &str| {
        entries.iter().find_map(|(k, v)| match v {
            Val::Str(s) if k == key => Some(s.as_ref()),
            _ => None,
        })
    };
    let original = text("event.original");
    let message = text("message").filter(|m| !original.is_some_and(|o| holds_words_of(o, m)));
    message.into_iter().chain(original)
}

/// Whether `part` occurs in `whole` starting and ending at word boundaries, so that its words
/// (as the full-text tokenizer cuts them) are a run of `whole`'s words.
fn holds_words_of(whole: &str, part: &str) -> bool {
    if part.is_empty() {
        return true;
    }
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    whole.match_indices(part).any(|(at, _)| {
        let before = whole[..at].chars().next_back();
        let after = whole[at + part.len()..].chars().next();
        let first = part.chars().next();
        let last = part.chars().next_back();
        // A word character on both sides of an edge would glue two words together.
        let glued = (word(before) && word(first)) || (word(after) && word(last));
        !glued
    })
}

/// What the indexer knows of the key sequences it saw recently (see [`document`]): events of one
/// source have the same keys in the same order, and sources interleave (a firewall, then an SSH
/// line, then the firewall again), so the last few sequences are kept, not only the last one.
#[derive(Default)]
pub struct KindsCache {
    /// Recently seen key sequences, at most [`MAX_SEQUENCES`].
    seqs: Vec<Sequence>,
    /// The entry of `seqs` of the last [`KindsCache::classify`] that succeeded.
    current: Option<usize>,
    /// Uses so far, to find the least recently used entry.
    clock: u64,
    /// Scratch of [`value_refs`]: fingerprint of a value -> its first position in the event.
    firsts: FxHashMap<u64, u32>,
    /// The references of the last event ([`value_refs`]).
    refs: Vec<shape::Ref>,
}

/// One key sequence of a [`KindsCache`].
struct Sequence {
    /// Fingerprint of `keys` ([`keys_fingerprint`]).
    fingerprint: u64,
    keys: Vec<Box<str>>,
    kinds: Vec<u8>,
    /// The shape id of `keys` once looked up (`Some(None)`: the partition's list is full).
    shape: Option<Option<u32>>,
    /// The links of the last full search ([`link_same_values`]) for `keys`, and the events
    /// since (0: none yet).
    links: Vec<(usize, usize)>,
    links_age: u32,
    last_used: u64,
}

impl Sequence {
    fn has_keys(&self, entries: &[Entry<'_>]) -> bool {
        self.keys.len() == entries.len()
            && self.keys.iter().zip(entries).all(|(a, (b, _))| **a == **b)
    }
}

/// Key sequences a [`KindsCache`] keeps: sources that interleave in one partition (a syslog relay
/// forwards a few dozen kinds of lines), bounded because keys of free-form JSON never repeat.
const MAX_SEQUENCES: usize = 32;

/// Events of one key sequence between two full searches for links: in between only the pairs
/// found last time are checked (a vendor field pairs with the same ECS field event after event).
const RELINK_EVERY: u32 = 256;

fn keys_fingerprint(entries: &[Entry<'_>]) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    for (k, _) in entries {
        h.write(k.as_bytes());
        // Keys cannot hold this byte (JSON text is UTF-8), so `ab`,`c` and `a`,`bc` differ.
        h.write_u8(0xff);
    }
    h.finish()
}

impl KindsCache {
    /// The kinds of `entries`, from the cache when their key sequence was seen recently.
    /// `None` if a key repeats.
    /// `set` is the partition's column set, the same on every call (a cache serves one partition).
    fn classify(&mut self, entries: &[Entry<'_>], set: &[&str]) -> Option<Vec<u8>> {
        self.clock += 1;
        // Consecutive events of one source: no hashing at all.
        let last = self
            .current
            .filter(|&i| self.seqs.get(i).is_some_and(|q| q.has_keys(entries)));
        let found = match last {
            Some(i) => Ok(i),
            None => {
                let fingerprint = keys_fingerprint(entries);
                self.seqs
                    .iter()
                    .position(|q| q.fingerprint == fingerprint && q.has_keys(entries))
                    .ok_or(fingerprint)
            }
        };
        let fingerprint = match found {
            Ok(i) => {
                self.current = Some(i);
                let seq = &mut self.seqs[i];
                seq.last_used = self.clock;
                return Some(seq.kinds.clone());
            }
            Err(fingerprint) => fingerprint,
        };
        let kinds = classify(entries, set)?;
        let seq = Sequence {
            fingerprint,
            keys: entries.iter().map(|(k, _)| Box::from(k.as_ref())).collect(),
            kinds: kinds.clone(),
            shape: None,
            links: Vec::new(),
            links_age: 0,
            last_used: self.clock,
        };
        let slot = if self.seqs.len() < MAX_SEQUENCES {
            self.seqs.push(seq);
            self.seqs.len() - 1
        } else {
            let lru = (0..self.seqs.len())
                .min_by_key(|&i| self.seqs[i].last_used)
                .unwrap_or(0);
            self.seqs[lru] = seq;
            lru
        };
        self.current = Some(slot);
        Some(kinds)
    }

    /// The sequence of the last successful [`KindsCache::classify`].
    fn current(&mut self) -> Option<&mut Sequence> {
        self.current.and_then(|i| self.seqs.get_mut(i))
    }

    /// [`link_same_values`] for `entries` with the keys of the last successful
    /// [`KindsCache::classify`]: a full search every [`RELINK_EVERY`] events of the sequence,
    /// otherwise only the last full search's pairs, each checked against this event's values
    /// (875 comparisons for a firewall event became about 15). A pair missed in between only
    /// keeps the vendor field's own terms, which search finds as well.
    fn links(&mut self, entries: &[Entry<'_>], kinds: &mut [u8]) -> Vec<(usize, usize)> {
        let Some(seq) = self.current() else {
            return link_same_values(entries, kinds);
        };
        if seq.links_age == 0 || seq.links_age >= RELINK_EVERY {
            seq.links = link_same_values(entries, kinds);
            seq.links_age = 1;
            return seq.links.clone();
        }
        seq.links_age += 1;
        let indexed = |k: u8| k & KEYWORD_INDEXED != 0;
        let mut out = Vec::with_capacity(seq.links.len());
        for &(i, j) in &seq.links {
            let (Some((_, v)), Some((_, e))) = (entries.get(i), entries.get(j)) else {
                continue;
            };
            if indexed(kinds[i]) && indexed(kinds[j]) && scalar(v) && v == e {
                kinds[i] &= !KEYWORD_INDEXED;
                out.push((i, j));
            }
        }
        out
    }

    /// The shape id of the keys of the last [`KindsCache::classify`] that succeeded.
    fn shape(&mut self, w: &mut ShapeWriter) -> Option<u32> {
        let seq = self.current()?;
        *seq.shape
            .get_or_insert_with(|| w.id(seq.keys.iter().map(|k| &**k)))
    }
}

/// Kind of a top-level field: goes to the keyword index (`f`).
const KEYWORD_INDEXED: u8 = 1;
/// Kind of a top-level field: has a column (`c1`, `c2`).
const COLUMN: u8 = 2;
/// Kind of a top-level field: one of the [`MEASURES`].
const MEASURE: u8 = 4;
/// Kind of a top-level field: one of the [`ADDRESSES`].
const ADDRESS: u8 = 8;

/// The kinds of each entry, from one sort of the keys merged with the sorted column set `set`
/// (this runs for every new key sequence: a binary search per key cost more). `None` if a key
/// repeats.
fn classify(entries: &[Entry<'_>], set: &[&str]) -> Option<Vec<u8>> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
    let mut kinds = vec![0u8; entries.len()];
    let mut columns = set.iter().peekable();
    let mut measures = MEASURES.iter().peekable();
    let mut addresses = ADDRESSES.iter().peekable();
    // Whether the sorted set behind `it` holds `key`, keys coming in increasing order.
    fn holds(it: &mut std::iter::Peekable<std::slice::Iter<'_, &str>>, key: &str) -> bool {
        while it.next_if(|c| **c < key).is_some() {}
        it.peek().is_some_and(|c| **c == key)
    }
    let mut prev: Option<&str> = None;
    for i in order {
        let key: &str = &entries[i].0;
        if prev == Some(key) {
            return None;
        }
        prev = Some(key);
        let mut kind = 0;
        if !NOT_KEYWORD_INDEXED.contains(&key) {
            kind |= KEYWORD_INDEXED;
        }
        if holds(&mut columns, key) {
            kind |= COLUMN;
        }
        if holds(&mut measures, key) {
            kind |= MEASURE;
        }
        if holds(&mut addresses, key) {
            kind |= ADDRESS;
        }
        kinds[i] = kind;
    }
    Some(kinds)
}

/// Vendor fields that hold exactly the value of an ECS field of the same event (FortiGate's
/// `srcip` and `source.ip`, CEF's `dpt` and `destination.port`, ...): their keyword terms would
/// repeat the ECS field's, so they get none; `s1.<vendor name>` names the ECS field instead and
/// search looks the value up there (`search::pushdown`). Same JSON value means same terms, so
/// the lookup stays exact. Returns `(vendor entry, ECS entry)` pairs and clears the vendor
/// entries' keyword kind.
///
/// A vendor name has no dot; an ECS name has one, is lower-case (the marker is lower-cased like
/// every keyword) and is keyword-indexed itself, so links never chain. Only scalars are linked.
fn link_same_values(entries: &[Entry<'_>], kinds: &mut [u8]) -> Vec<(usize, usize)> {
    let ecs = |(k, v): &Entry<'_>| {
        k.contains('.')
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
            && scalar(v)
    };
    let targets: Vec<usize> = (0..entries.len())
        .filter(|&j| kinds[j] & KEYWORD_INDEXED != 0 && ecs(&entries[j]))
        .collect();
    let mut links = Vec::new();
    if targets.is_empty() {
        return links;
    }
    for (i, (key, value)) in entries.iter().enumerate() {
        if kinds[i] & KEYWORD_INDEXED == 0 || key.contains('.') || !scalar(value) {
            continue;
        }
        if let Some(&j) = targets.iter().find(|&&j| entries[j].1 == *value) {
            kinds[i] &= !KEYWORD_INDEXED;
            links.push((i, j));
        }
    }
    links
}

fn scalar(v: &Val<'_>) -> bool {
    matches!(v, Val::Str(_) | Val::Num(_) | Val::Bool(_))
}

/// The top-level fields of a stored event in document order, keys and strings borrowed where the
/// JSON has no escapes. Parsing into a `serde_json::Map` and converting it to tantivy's
/// `OwnedValue` tree (as before) cost as much CPU as the rest of document building; tantivy
/// reads [`Node`] directly.
struct Top<'a>(Vec<Entry<'a>>);

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top<'de>, A::Error> {
                entries(map).map(Top)
            }
        }
        d.deserialize_map(V)
    }
}

/// The entries of a stored document read by `serde_json` (what [`crate::flat`] declines).
pub(crate) fn serde_entries(doc: &[u8]) -> Option<Vec<Entry<'_>>> {
    serde_json::from_slice::<Top<'_>>(doc).ok().map(|Top(e)| e)
}

/// The entries of a JSON object in document order, repeated keys included.
fn entries<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<Entry<'de>>, A::Error> {
    let mut out = Vec::with_capacity(map.size_hint().unwrap_or(32));
    while let Some(Key(k)) = map.next_key()? {
        out.push((k, map.next_value()?));
    }
    Ok(out)
}

/// A key, borrowed from the input unless it had to be unescaped.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON value of a stored event, strings borrowed from the input unless they had to be
/// unescaped (a `serde_json::Value` would allocate every string of every event).
#[derive(Debug, PartialEq)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    /// Compared as `serde_json::Value` compares numbers (same kind and value).
    Num(serde_json::Number),
    Str(Cow<'a, str>),
    Arr(Vec<Val<'a>>),
    /// In document order; a repeated key keeps its last value at its first position, as
    /// `serde_json::Map` does.
    Obj(Vec<Entry<'a>>),
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Val<'de>, E> {
                Ok(Val::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Val<'de>, E> {
                Ok(Val::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Val<'de>, E> {
                Ok(Val::Num(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Val<'de>, E> {
                Ok(Val::Num(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Val<'de>, E> {
                serde_json::Number::from_f64(n)
                    .map(Val::Num)
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Val<'de>, E> {
                Ok(Val::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Val<'de>, E> {
                Ok(Val::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Val<'de>, E> {
                Ok(Val::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Val<'de>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Val::Arr(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Val<'de>, A::Error> {
                entries(map).map(|e| Val::Obj(last_wins(e)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Written as serde_json writes the same `serde_json::Value` (the stored shapes' values).
impl Serialize for Val<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Null => s.serialize_unit(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Num(n) => n.serialize(s),
            Val::Str(x) => s.serialize_str(x),
            Val::Arr(a) => s.collect_seq(a),
            Val::Obj(m) => s.collect_map(m.iter().map(|(k, v)| (k.as_ref(), v))),
        }
    }
}

impl<'a> Val<'a> {
    /// The leaf tantivy makes of this value, exactly as it converts the same `serde_json::Value`
    /// (strings starting with a digit are tried as RFC 3339 dates).
    fn leaf(&'a self) -> ReferenceValueLeaf<'a> {
        match self {
            Val::Null | Val::Arr(_) | Val::Obj(_) => ReferenceValueLeaf::Null,
            Val::Bool(b) => ReferenceValueLeaf::Bool(*b),
            Val::Num(n) => {
                if let Some(v) = n.as_i64() {
                    ReferenceValueLeaf::I64(v)
                } else if let Some(v) = n.as_u64() {
                    ReferenceValueLeaf::U64(v)
                } else {
                    ReferenceValueLeaf::F64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Val::Str(s) => match as_date(s) {
                Some(d) => ReferenceValueLeaf::Date(d),
                None => ReferenceValueLeaf::Str(s),
            },
        }
    }
}

/// The date tantivy makes of a JSON string value, if it makes one: every string starting with a
/// digit is tried as an RFC 3339 time. One needs at least `YYYY-MM-DDTHH:MM:SSZ`, so IP
/// addresses and numbers skip the attempt (and its allocation).
pub fn as_date(s: &str) -> Option<tantivy::DateTime> {
    let b = s.as_bytes();
    if !(b.first().is_some_and(u8::is_ascii_digit) && b.len() >= 20 && b[4] == b'-' && b[7] == b'-')
    {
        return None;
    }
    let owned = serde_json::Value::String(s.to_string());
    match (&owned).as_value() {
        ReferenceValue::Leaf(ReferenceValueLeaf::Date(d)) => Some(d),
        _ => None,
    }
}

/// Keeps the last value of a repeated key, at its first position, as `serde_json::Map` does (the
/// query evaluator reads documents that way, so the index must not hold the earlier values).
fn last_wins(entries: Vec<Entry<'_>>) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match out.iter_mut().find(|(o, _)| *o == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

pub(crate) type Entry<'a> = (Cow<'a, str>, Val<'a>);

/// A value of the event as tantivy's document builder walks it.
#[derive(Clone, Copy, Debug)]
enum Node<'a> {
    /// The top-level fields whose kind (see [`classify`]) has a bit of the mask.
    Top(&'a [Entry<'a>], &'a [u8], u8),
    /// A value inside the event (converted exactly as `OwnedValue::from(serde_json::Value)`).
    Json(&'a Val<'a>),
    /// The `s1` object: each linked vendor field with the name of its ECS field.
    Same(&'a [Entry<'a>], &'a [(usize, usize)]),
    /// A name, as a string value.
    Name(&'a str),
}

/// The fields of an object [`Node`].
enum Entries<'a> {
    Top(
        std::iter::Zip<std::slice::Iter<'a, Entry<'a>>, std::slice::Iter<'a, u8>>,
        u8,
    ),
    Map(std::slice::Iter<'a, Entry<'a>>),
    Same(&'a [Entry<'a>], std::slice::Iter<'a, (usize, usize)>),
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a str, Node<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Entries::Top(it, mask) => it
                .find(|(_, kind)| **kind & *mask != 0)
                .map(|((k, v), _)| (k.as_ref(), Node::Json(v))),
            Entries::Map(it) => it.next().map(|(k, v)| (k.as_ref(), Node::Json(v))),
            Entries::Same(entries, it) => {
                let &(i, j) = it.next()?;
                Some((
                    entries.get(i)?.0.as_ref(),
                    Node::Name(entries.get(j)?.0.as_ref()),
                ))
            }
        }
    }
}

type JsonToNode<'a> = fn(&'a Val<'a>) -> Node<'a>;

impl<'a> Value<'a> for Node<'a> {
    type ArrayIter = std::iter::Map<std::slice::Iter<'a, Val<'a>>, JsonToNode<'a>>;
    type ObjectIter = Entries<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            Node::Top(entries, kinds, mask) => {
                ReferenceValue::Object(Entries::Top(entries.iter().zip(kinds.iter()), mask))
            }
            Node::Json(Val::Arr(a)) => {
                ReferenceValue::Array(a.iter().map(Node::Json as JsonToNode<'a>))
            }
            Node::Json(Val::Obj(m)) => ReferenceValue::Object(Entries::Map(m.iter())),
            Node::Same(entries, links) => {
                ReferenceValue::Object(Entries::Same(entries, links.iter()))
            }
            Node::Name(name) => ReferenceValue::Leaf(ReferenceValueLeaf::Str(name)),
            Node::Json(v) => ReferenceValue::Leaf(v.leaf()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document building of layout 1: parse into a `serde_json::Map`, convert to `OwnedValue`.
    fn document_v1(fields: &Fields, ts: i64, doc: &[u8]) -> Option<TantivyDocument> {
        use tantivy::schema::OwnedValue;
        let serde_json::Value::Object(mut map) =
            serde_json::from_slice::<serde_json::Value>(doc).ok()?
        else {
            return None;
        };
        let mut d = TantivyDocument::new();
        d.add_i64(fields.ts, ts);
        for key in ["message", "event.original"] {
            if let Some(serde_json::Value::String(s)) = map.get(key) {
                d.add_text(fields.text, s);
            }
        }
        let cols: serde_json::Map<String, serde_json::Value> = map
            .iter()
            .filter(|&(k, _)| COLUMNS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for key in NOT_KEYWORD_INDEXED {
            map.remove(*key);
        }
        d.add_field_value(fields.f, &OwnedValue::from(map));
        if let Some(c) = fields.cols
            && !cols.is_empty()
        {
            d.add_field_value(c.field, &OwnedValue::from(cols));
        }
        d.add_bytes(fields.doc, doc);
        Some(d)
    }

    /// A document's typed values (dates stay dates), objects sorted by key: serde_json's map may
    /// sort keys or keep their order depending on its features.
    fn typed(d: &TantivyDocument) -> Vec<(Field, tantivy::schema::OwnedValue)> {
        use tantivy::schema::OwnedValue;
        fn sorted(v: OwnedValue) -> OwnedValue {
            match v {
                OwnedValue::Object(mut kv) => {
                    kv.sort_by(|a, b| a.0.cmp(&b.0));
                    OwnedValue::Object(kv.into_iter().map(|(k, v)| (k, sorted(v))).collect())
                }
                OwnedValue::Array(a) => OwnedValue::Array(a.into_iter().map(sorted).collect()),
                v => v,
            }
        }
        d.field_values()
            .map(|(f, v)| (f, sorted(OwnedValue::from(v.as_value()))))
            .collect()
    }

    #[test]
    fn borrowed_documents_index_like_converted_ones() {
        // The first curated column set: the conversion of layout 1 knows no column-only fields.
        let (_, fields) = schema_with(ColumnSet::C1);
        let docs = [
            r#"{"@timestamp":"2024-03-14T10:02:41Z","host.name":"Srv-1","message":"a b","event.original":"raw","n":3,"u":18446744073709551615,"x":1.5,"b":true,"z":null,"event.category":["authentication","iam"],"nested":{"k":"v","a":[1,{"d":"2024-01-01T00:00:00Z"}]},"esc\u0041ped":"q\"uote","source.ip":"10.0.0.1"}"#,
            r#"{"dup":"first","host.name":"h","dup":"second","message":7}"#,
            r#"{"event.original":"only raw","message":"then message"}"#,
            r#"{}"#,
            r#"{"neg":-5,"big":1e3,"tiny":-0.0,"nested":{"k":"v","k":"w","\u00e9":"caf\u00e9"},"d":"2024-13-99","d2":"2024-03-14 10:02:41Z","d3":"2024-03-14t10:02:41.5+02:00","d4":"2024-03-14T10:02:41","d5":"1709251200000000000000","ip":"2001:db8::1","deep":[[{"a":[null,false]}]]}"#,
            // The same keys as the first document in another order: the key cache must not
            // reuse the first document's kinds.
            r#"{"source.ip":"10.0.0.2","host.name":"Srv-2","@timestamp":"2024-03-14T10:02:42Z","message":"c","event.original":"raw2","n":4,"u":1,"x":2.5,"b":false,"z":null,"event.category":"iam","nested":{},"esc\u0041ped":""}"#,
        ];
        let mut cache = KindsCache::default();
        let shapes = std::sync::Arc::new(crate::shape::Shapes::default());
        let mut writer = ShapeWriter::new(shapes.clone());
        // Twice in a row and then all again: the cache sees repeated and changed key sequences.
        for doc in docs.iter().flat_map(|d| [*d, *d]).chain(docs) {
            let new = document(&fields, 5, doc.as_bytes(), &mut cache, None).unwrap();
            let fresh =
                document(&fields, 5, doc.as_bytes(), &mut KindsCache::default(), None).unwrap();
            let old = document_v1(&fields, 5, doc.as_bytes()).unwrap();
            assert_eq!(typed(&new), typed(&old), "{doc}");
            assert_eq!(typed(&new), typed(&fresh), "{doc}");
            // Stored as shape and values: the same index values, and the same event read back.
            let shaped =
                document(&fields, 5, doc.as_bytes(), &mut cache, Some(&mut writer)).unwrap();
            let without_doc = |d: &TantivyDocument| -> Vec<_> {
                typed(d)
                    .into_iter()
                    .filter(|(f, _)| *f != fields.doc)
                    .collect()
            };
            assert_eq!(without_doc(&shaped), without_doc(&new), "{doc}");
            let stored = shaped
                .get_first(fields.doc)
                .and_then(|v| v.as_bytes())
                .unwrap();
            let plain = crate::shape::plain(doc.as_bytes()).unwrap();
            assert_eq!(crate::shape::decode(&shapes, stored), Some(plain), "{doc}");
            // Repeated keys keep the plain form.
            assert_eq!(stored[0] == b'{', doc.contains("\"dup\""), "{doc}");
        }
        // One shape per distinct key sequence (the repeated-key document has none).
        assert_eq!(shapes.to_vec().len(), docs.len() - 1);
        for bad in ["[1]", "3", "{", "", "{\"a\":}"] {
            assert!(
                document(&fields, 5, bad.as_bytes(), &mut cache, Some(&mut writer)).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_message_inside_its_original_is_indexed_once() {
        let (_, fields) = schema();
        let texts = |doc: &str| -> Vec<String> {
            let d = document(&fields, 1, doc.as_bytes(), &mut KindsCache::default(), None).unwrap();
            d.get_all(fields.text)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        // The syslog case: the original is the header plus the message.
        assert_eq!(
            texts(
                r#"{"message":"Failed password for root","event.original":"<38>Mar  1 srv sshd[7]: Failed password for root"}"#
            ),
            vec!["<38>Mar  1 srv sshd[7]: Failed password for root"]
        );
        // Not inside, or inside only across a word boundary: both are indexed, message first.
        assert_eq!(
            texts(r#"{"event.original":"raw line","message":"parsed text"}"#),
            vec!["parsed text", "raw line"]
        );
        assert_eq!(
            texts(r#"{"event.original":"Failed passwords","message":"Failed password"}"#),
            vec!["Failed password", "Failed passwords"]
        );
        assert_eq!(
            texts(r#"{"event.original":"xFailed","message":"Failed"}"#),
            vec!["Failed", "xFailed"]
        );
        // A later occurrence at boundaries is enough; punctuation edges are boundaries.
        assert_eq!(
            texts(r#"{"event.original":"ab a: b!","message":"a: b!"}"#),
            vec!["ab a: b!"]
        );
        assert_eq!(texts(r#"{"message":"only"}"#), vec!["only"]);
    }

    #[test]
    fn vendor_fields_equal_to_ecs_fields_are_linked_not_indexed() {
        use tantivy::schema::OwnedValue;
        let (_, fields) = schema();
        let doc = br#"{"srcip":"10.0.0.1","source.ip":"10.0.0.1","dstport":22,"destination.port":22,"act":"Deny","event.action":"deny","x":1,"Mixed.Case":1,"list":["a"],"tags.list":["a"],"host.name":"h1"}"#;
        let d = document(&fields, 1, doc, &mut KindsCache::default(), None).unwrap();
        let obj = |field: Field| -> Vec<String> {
            let mut keys: Vec<String> = typed(&d)
                .into_iter()
                .filter(|(f, _)| *f == field)
                .flat_map(|(_, v)| match v {
                    OwnedValue::Object(kv) => kv
                        .into_iter()
                        .map(|(k, v)| match v {
                            OwnedValue::Str(s) => format!("{k}={s}"),
                            _ => k,
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            keys.sort();
            keys
        };
        // Equal scalar values under a dotless name and a lower-case dotted name are linked; case
        // differences, arrays and mixed-case targets keep their own terms.
        assert_eq!(
            obj(fields.same.unwrap()),
            vec!["dstport=destination.port", "srcip=source.ip"]
        );
        assert_eq!(
            obj(fields.f),
            vec![
                "Mixed.Case",
                "act=Deny",
                "destination.port",
                "event.action=deny",
                "host.name=h1",
                "list",
                "tags.list",
                "x"
            ]
        );
        // `source.ip` holds an IPv4 address: in its column only (`c2`), the link still names it.
        assert!(typed(&d).iter().any(|(f, v)| Some(*f) == fields.cols.map(|c| c.field)
            && matches!(v, OwnedValue::Object(kv) if kv.iter().any(|(k, _)| k == "source.ip"))));
        // Layout 1 partitions have no links.
        let old = super::fields(&schema_v1()).unwrap();
        assert!(old.same.is_none());
    }

    /// A JSON value of bounded depth with the kinds that stress the value writer: escapes,
    /// non-ASCII text, extreme and fractional numbers, nested lists and objects.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<u64>().prop_map(|n| serde_json::json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::json!(f)),
            "[a-z0-9 \\\"\\\\\u{e9}\u{1F600}\n.:-]{0,12}".prop_map(serde_json::Value::String),
            // A small pool, so that values repeat within an event (stored as references),
            // also as an integer and its text, or as text that only looks like an integer.
            (-12i64..40).prop_map(|n| serde_json::json!(n)),
            "(82|-7|0|10|100|-70|007|-0|1e3|99|abc|)".prop_map(serde_json::Value::String),
            Just(serde_json::json!(82.0)),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Stored values are written byte for byte as `serde_json` writes them.
        #[test]
        fn values_are_written_as_serde_json_writes_them(
            values in proptest::collection::vec(json_value(), 0..8),
        ) {
            let doc = serde_json::to_vec(&serde_json::Value::Array(values)).expect("serialise");
            let vals: Vec<Val<'_>> = serde_json::from_slice(&doc).expect("parse");
            let mut out = Vec::new();
            write_values(&mut out, vals.iter());
            proptest::prop_assert_eq!(out, serde_json::to_vec(&vals).expect("serialise"));
        }

        /// Whatever the event, its shaped form reads back as the JSON object it was (repeated
        /// keys: as the evaluator reads them, last value wins), through one writer and one
        /// key cache shared by every case, as the indexer shares them within a partition.
        #[test]
        fn shaped_documents_read_back_as_written(
            events in proptest::collection::vec(
                proptest::collection::vec(("(@timestamp|source\\.ip|source\\.bytes|[a-e]|x\\.y)", json_value()), 0..8),
                1..6,
            ),
        ) {
            let mut partition = Partition::new();
            for entries in events {
                // Written by hand so that keys may repeat.
                let body: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::Value::String(k.clone())))
                    .collect();
                partition.write_and_read_back(&format!("{{{}}}", body.join(",")))?;
            }
        }

        /// Events whose values repeat (unique keys, so every one is shaped): the references
        /// (copies, an integer and its text, an integer scaled by a power of ten) read back as
        /// the values they stand for, whatever their types.
        #[test]
        fn repeated_values_read_back_as_written(
            events in proptest::collection::vec(proptest::collection::vec(pooled_value(), 1..12), 1..8),
        ) {
            let mut partition = Partition::new();
            for values in events {
                let body: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("\"k{i}\":{v}")).collect();
                partition.write_and_read_back(&format!("{{{}}}", body.join(",")))?;
            }
        }
    }

    /// One partition's document building, as the indexer does it: one shape writer and one key
    /// cache for every event.
    struct Partition {
        fields: Fields,
        shapes: std::sync::Arc<crate::shape::Shapes>,
        writer: ShapeWriter,
        cache: KindsCache,
    }

    impl Partition {
        fn new() -> Self {
            let (_, fields) = schema();
            let shapes = std::sync::Arc::new(crate::shape::Shapes::default());
            let writer = ShapeWriter::new(shapes.clone());
            Partition {
                fields,
                shapes,
                writer,
                cache: KindsCache::default(),
            }
        }

        /// Builds the document of the JSON object `doc` and checks that its stored form decodes
        /// to that object.
        fn write_and_read_back(
            &mut self,
            doc: &str,
        ) -> Result<(), proptest::test_runner::TestCaseError> {
            let d = document(
                &self.fields,
                7,
                doc.as_bytes(),
                &mut self.cache,
                Some(&mut self.writer),
            );
            let d = d.ok_or_else(|| proptest::test_runner::TestCaseError::fail(doc.to_owned()))?;
            let stored = d
                .get_first(self.fields.doc)
                .and_then(|v| v.as_bytes())
                .unwrap_or_default();
            proptest::prop_assert_eq!(
                crate::shape::decode(&self.shapes, stored),
                crate::shape::plain(doc.as_bytes()),
                "{}",
                doc
            );
            Ok(())
        }
    }

    /// Values drawn from a small pool, so that they repeat, as integers and as text, and as
    /// multiples of ten of each other.
    fn pooled_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        prop_oneof![
            (-3i64..40).prop_map(|n| serde_json::json!(n)),
            (0u64..4, 1u32..19).prop_map(|(m, e)| serde_json::json!(m * 10u64.pow(e))),
            Just(serde_json::json!(10_000_000_000_000_000_000u64)),
            Just(serde_json::json!(-31_000_000_000i64)),
            Just(serde_json::json!(u64::MAX)),
            Just(serde_json::json!(31.0)),
            "(82|-7|0|1|10|100|-31|007|-0|1e3|abc|)".prop_map(serde_json::Value::String),
            Just(serde_json::Value::Null),
            Just(serde_json::json!(["10"])),
        ]
    }

    #[test]
    fn interleaved_key_sequences_keep_their_kinds_shapes_and_links() {
        let shapes = std::sync::Arc::new(crate::shape::Shapes::default());
        let mut writer = ShapeWriter::new(shapes.clone());
        let mut cache = KindsCache::default();
        // More sequences than the cache keeps, visited in turn: each comes back evicted or not.
        let n_seqs = MAX_SEQUENCES + 8;
        for round in 0..3 {
            for n in 0..n_seqs {
                let doc = format!(
                    r#"{{"k{n}":"x","srcip":"10.0.0.{round}","source.ip":"10.0.0.{round}","host.name":"h"}}"#
                );
                let Top(entries) = serde_json::from_slice::<Top<'_>>(doc.as_bytes()).unwrap();
                // Twice in a row: the second time from the last-used entry.
                for _ in 0..2 {
                    let mut kinds = cache.classify(&entries, COLUMNS).unwrap();
                    assert_eq!(Some(&kinds), classify(&entries, COLUMNS).as_ref(), "{doc}");
                    // Shape ids are given in first-seen order and stay with their keys.
                    assert_eq!(cache.shape(&mut writer), Some(n as u32), "{doc}");
                    let mut full = kinds.clone();
                    let expected = link_same_values(&entries, &mut full);
                    assert_eq!(cache.links(&entries, &mut kinds), expected, "{doc}");
                    assert_eq!(expected, vec![(1, 2)]);
                    assert_eq!(kinds, full);
                }
            }
            assert!(cache.seqs.len() <= MAX_SEQUENCES);
        }
        // A key sequence that repeats a key is not cached and leaves the current one alone.
        let doc = br#"{"a":1,"a":2}"#;
        let Top(entries) = serde_json::from_slice::<Top<'_>>(doc).unwrap();
        assert_eq!(cache.classify(&entries, COLUMNS), None);
        assert_eq!(cache.shape(&mut writer), Some(n_seqs as u32 - 1));
    }

    #[test]
    fn cached_links_are_checked_event_by_event() {
        let mut cache = KindsCache::default();
        let mut last_full = Vec::new();
        for n in 0..600 {
            // Equal, then different, then equal again; an array never links.
            let port = if n % 3 == 1 { 23 } else { 22 };
            let doc = format!(
                r#"{{"srcip":"10.0.0.{}","source.ip":"10.0.0.1","dstport":{port},"destination.port":22,"l":[1],"tags.l":[1]}}"#,
                if n % 5 == 4 { 2 } else { 1 }
            );
            let Top(entries) = serde_json::from_slice::<Top<'_>>(doc.as_bytes()).unwrap();
            let mut kinds = cache.classify(&entries, COLUMNS).unwrap();
            let mut full_kinds = kinds.clone();
            let full = link_same_values(&entries, &mut full_kinds);
            let got = cache.links(&entries, &mut kinds);
            // Never a link the full search would not make; a field is unindexed only if linked.
            assert!(
                got.iter().all(|p| full.contains(p)),
                "{n}: {got:?} {full:?}"
            );
            for (i, k) in kinds.iter().enumerate() {
                let linked = got.iter().any(|&(v, _)| v == i);
                assert_eq!(k & KEYWORD_INDEXED == 0, linked, "{n}: entry {i}");
            }
            // Exactly the pairs of the last full search that hold for this event.
            if n % RELINK_EVERY as usize == 0 {
                last_full.clone_from(&full);
            }
            let want: Vec<_> = full
                .iter()
                .filter(|p| last_full.contains(p))
                .copied()
                .collect();
            assert_eq!(got, want, "{n}");
        }
    }

    #[test]
    fn columns_are_sorted_and_unique() {
        for set in [COLUMNS, MEASURES, ADDRESSES, ColumnSet::C2.fields()] {
            assert!(set.windows(2).all(|w| w[0] < w[1]));
            assert!(!set.iter().any(|c| NOT_KEYWORD_INDEXED.contains(c)));
        }
        let in_columns = ADDRESSES.iter().filter(|a| COLUMNS.contains(a)).count();
        assert_eq!(
            ColumnSet::C2.fields().len(),
            COLUMNS.len() + MEASURES.len() + ADDRESSES.len() - in_columns
        );
    }

    #[test]
    fn only_curated_fields_have_columns_in_new_partitions() {
        let (_, fields) = schema();
        assert_eq!(fields.column("host.name").as_deref(), Some("c2.host.name"));
        assert_eq!(
            fields.column("source.bytes").as_deref(),
            Some("c2.source.bytes")
        );
        assert_eq!(fields.column("srcport"), None);
        // Partitions of the first curated set keep theirs.
        let (c1, _) = schema_with(ColumnSet::C1);
        let c1 = super::fields(&c1).unwrap();
        assert_eq!(c1.column("host.name").as_deref(), Some("c1.host.name"));
        assert_eq!(c1.column("source.bytes"), None);
        let old = super::fields(&schema_v1()).unwrap();
        assert_eq!(old.column("srcport").as_deref(), Some("f.srcport"));
    }

    #[test]
    fn numeric_measures_and_ipv4_addresses_have_columns_and_no_terms() {
        let doc = br#"{"source.bytes":11265,"destination.bytes":"n/a","sentbyte":11265,"host.name":"h","event.duration":1.5,"source.ip":"10.0.0.1","srcip":"10.0.0.1","destination.ip":"2001:db8::1","host.ip":["10.0.0.2"],"client.ip":"10.0.0.300"}"#;
        let keyword_paths = |set: ColumnSet| -> Vec<String> {
            let (_, fields) = schema_with(set);
            let d = document(&fields, 1, doc, &mut KindsCache::default(), None).unwrap();
            let mut keys: Vec<String> = typed(&d)
                .into_iter()
                .filter(|(f, _)| *f == fields.f)
                .flat_map(|(_, v)| match v {
                    tantivy::schema::OwnedValue::Object(kv) => {
                        kv.into_iter().map(|(k, _)| k).collect()
                    }
                    _ => Vec::new(),
                })
                .collect();
            keys.sort();
            keys
        };
        // A string measure, an IPv6 address, a list and a string that is not an address keep
        // their terms; vendor copies link to the measure or address (no terms either).
        assert_eq!(
            keyword_paths(ColumnSet::C2),
            vec![
                "client.ip",
                "destination.bytes",
                "destination.ip",
                "host.ip",
                "host.name"
            ]
        );
        assert_eq!(
            keyword_paths(ColumnSet::C1),
            vec![
                "client.ip",
                "destination.bytes",
                "destination.ip",
                "event.duration",
                "host.ip",
                "host.name",
                "source.bytes",
                "source.ip"
            ]
        );
    }
}
