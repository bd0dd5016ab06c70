//! auth parser (to be completed).

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;

/// True if `line` looks like a auth record.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Parses auth records line by line.
#[derive(Default)]
pub struct AuthParser;

impl LineParser for AuthParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "auth parser not implemented",
        ))
    }
}
