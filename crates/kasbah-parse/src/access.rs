//! access parser (to be completed).

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;

/// True if `line` looks like a access record.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Parses access records line by line.
#[derive(Default)]
pub struct AccessParser;

impl LineParser for AccessParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "access parser not implemented",
        ))
    }
}
