//! JSON parser (to be completed).

use crate::driver::{Cx, LineParser, for_each_line};
use crate::error::ParseError;
use crate::format::Format;

/// Which JSON-based format `head` (starting with `{` or `[`) holds.
pub(crate) fn sniff_kind(_head: &[u8]) -> Format {
    Format::Jsonl
}

/// Parses a whole JSON input: JSON lines, an array, or concatenated documents.
pub(crate) fn parse(input: &[u8], format: Format, cx: &mut Cx<'_>) {
    for_each_line(input, &mut JsonLines::new(format), cx);
}

/// Parses one JSON document per line.
pub struct JsonLines {
    #[allow(dead_code)]
    format: Format,
}

impl JsonLines {
    /// A parser for `format` (`Jsonl` or `Eve`).
    pub fn new(format: Format) -> Self {
        JsonLines { format }
    }
}

impl LineParser for JsonLines {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "json parser not implemented",
        ))
    }
}
