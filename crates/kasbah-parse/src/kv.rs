//! kv parser (to be completed).

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;

/// True if `line` looks like a kv record.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Parses kv records line by line.
#[derive(Default)]
pub struct KvParser;

impl LineParser for KvParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "kv parser not implemented",
        ))
    }
}
