//! Fuzz target: the line-based reader of block-style YAML either declines the input or reads
//! exactly the tree the general parser reads (same nodes, same lines), and neither panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (block, general) = kasbah_sigma::yaml::parse_both(text);
    if let Some(block) = block {
        assert_eq!(Ok(&block), general.as_ref(), "the readers disagree on {text:?}");
    }
});
