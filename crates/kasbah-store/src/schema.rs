//! The index schema of a partition and the conversion of a stored event into an index document.
//!
//! | field  | type | use |
//! |---|---|---|
//! | `ts`   | i64, indexed + fast | event time (UTC ns): time ranges and newest-first order |
//! | `f`    | JSON, keyword-indexed (lower-cased) + fast (original case) | `field:value` filters, aggregations |
//! | `text` | text with positions | full-text search over `message` and `event.original` |
//! | `doc`  | bytes, stored (zstd) | the event as returned by search |
//!
//! Every event field goes into `f` under its dotted name except `message` and `event.original`,
//! which are only in `text` and `doc`: they are long, nearly unique per event, and searched by
//! their words (a keyword term and a column per message would double the store's size).

use tantivy::schema::{
    BytesOptions, Field, IndexRecordOption, JsonObjectOptions, NumericOptions, OwnedValue, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument};

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

/// Handles on the schema's fields.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// Event time.
    pub ts: Field,
    /// The event's fields as a JSON object.
    pub f: Field,
    /// Full text.
    pub text: Field,
    /// The stored document.
    pub doc: Field,
}

/// Builds the schema of a new partition.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let ts = b.add_i64_field("ts", NumericOptions::default().set_indexed().set_fast());
    let kw = TextFieldIndexing::default()
        .set_tokenizer(KEYWORD)
        .set_index_option(IndexRecordOption::Basic);
    let f = b.add_json_field(
        "f",
        JsonObjectOptions::default()
            .set_indexing_options(kw)
            .set_fast("raw")
            .set_expand_dots_enabled(),
    );
    let words = TextFieldIndexing::default()
        .set_tokenizer(WORDS)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text = b.add_text_field("text", TextOptions::default().set_indexing_options(words));
    let doc = b.add_bytes_field("doc", BytesOptions::default().set_stored());
    (b.build(), Fields { ts, f, text, doc })
}

/// Looks the fields up in an existing index's schema.
pub fn fields(schema: &Schema) -> Option<Fields> {
    Some(Fields {
        ts: schema.get_field("ts").ok()?,
        f: schema.get_field("f").ok()?,
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
pub fn document(fields: &Fields, ts: i64, doc: &[u8]) -> Option<TantivyDocument> {
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
    for key in NOT_KEYWORD_INDEXED {
        map.remove(*key);
    }
    d.add_field_value(fields.f, &OwnedValue::from(map));
    d.add_bytes(fields.doc, doc);
    Some(d)
}
