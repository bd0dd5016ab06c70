//! Zeek parser (to be completed).

use crate::driver::{Cx, LineParser, for_each_line};
use crate::error::ParseError;

/// Parses a whole Zeek log (TSV with headers, or JSON lines).
pub(crate) fn parse(input: &[u8], cx: &mut Cx<'_>) {
    for_each_line(input, &mut ZeekParser, cx);
}

/// Parses Zeek TSV lines, keeping the header state.
#[derive(Default)]
pub struct ZeekParser;

impl LineParser for ZeekParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "zeek parser not implemented",
        ))
    }
}
