//! leef parser (to be completed).

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;

/// True if `line` looks like a leef record.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Fills `e` from a LEEF message (`msg` starts at `LEEF:`), used by the syslog parser for
/// LEEF payloads.
pub(crate) fn parse_message(_msg: &str, _e: &mut kasbah_event::Event) -> Result<(), ParseError> {
    Err(ParseError::new(
        crate::error::ErrorCode::Unsupported,
        "leef parser not implemented",
    ))
}

/// Parses leef records line by line.
#[derive(Default)]
pub struct LeefParser;

impl LineParser for LeefParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "leef parser not implemented",
        ))
    }
}
