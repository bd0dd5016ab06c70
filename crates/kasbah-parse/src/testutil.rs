//! Helpers shared by the parser unit tests: parse a string in one format and look at the result.

use std::sync::Arc;

use kasbah_event::{Event, Timestamp, Value};

use crate::{ErrorCode, Format, Item, Origin, ParseOptions, parse_bytes};

/// Options with the fixed receive time the tests use (2024-06-15T12:00:00Z), so year-less
/// timestamps resolve the same way every run.
pub(crate) fn reference_opts() -> ParseOptions {
    ParseOptions {
        received: Timestamp::from_secs_nanos(1_718_452_800, 0).expect("valid"),
        ..ParseOptions::default()
    }
}

/// Everything `input` gives as `format`, in order.
pub(crate) fn items(input: &str, format: Format, opts: &ParseOptions) -> Vec<Item> {
    let origin = Origin::File(Arc::from("test"));
    let mut items = Vec::new();
    parse_bytes(input.as_bytes(), Some(format), &origin, opts, &mut |i| {
        items.push(i)
    });
    items
}

/// The events of `input`; panics on a bad record.
pub(crate) fn events(input: &str, format: Format, opts: &ParseOptions) -> Vec<Event> {
    items(input, format, opts)
        .into_iter()
        .map(|i| match i {
            Item::Event(e) => *e,
            Item::Bad(b) => panic!("unexpected bad record: {b}"),
        })
        .collect()
}

/// The single event `input` gives; panics on anything else.
pub(crate) fn one(input: &str, format: Format, opts: &ParseOptions) -> Event {
    let mut items = items(input, format, opts);
    assert_eq!(items.len(), 1, "expected one item for {input:?}");
    match items.remove(0) {
        Item::Event(e) => *e,
        Item::Bad(b) => panic!("unexpected bad record: {b}"),
    }
}

/// The code of the first item, which must be a bad record.
pub(crate) fn first_bad(input: &str, format: Format, opts: &ParseOptions) -> ErrorCode {
    match items(input, format, opts).into_iter().next() {
        Some(Item::Bad(b)) => b.error.code,
        other => panic!("expected a bad record, got {other:?}"),
    }
}

/// A string field by name.
pub(crate) fn s<'a>(e: &'a Event, name: &str) -> Option<&'a str> {
    e.get_name(name).and_then(Value::as_str)
}

/// An integer field by name.
pub(crate) fn i(e: &Event, name: &str) -> Option<i64> {
    e.get_name(name).and_then(Value::as_i64)
}
