//! Fuzz target: `xml` parsing of arbitrary bytes must never panic or hang.
#![no_main]

use kasbah_fuzz_common::run;
#[allow(unused_imports)]
use kasbah_parse::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| run(data, Some(Format::WinXml)));
