//! The body shared by every fuzz target: parse with a small record limit and check invariants.

use std::sync::Arc;

use kasbah_parse::{Format, Item, Origin, ParseOptions, parse_bytes};

/// Parses `data` as `format` (detected when `None`) and checks that the counts agree with what
/// reached the sink.
pub fn run(data: &[u8], format: Option<Format>) {
    let opts = ParseOptions {
        max_record_bytes: 64 * 1024,
        ..ParseOptions::default()
    };
    let origin = Origin::File(Arc::from("fuzz"));
    let (mut events, mut bad) = (0u64, 0u64);
    let (_, stats) = parse_bytes(data, format, &origin, &opts, &mut |item| match item {
        Item::Event(_) => events += 1,
        Item::Bad(_) => bad += 1,
    });
    assert_eq!((stats.events, stats.bad), (events, bad));
}
