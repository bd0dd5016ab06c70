//! cef parser (to be completed).

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;

/// True if `line` looks like a cef record.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Fills `e` from a CEF message (`msg` starts at `CEF:`), used by the syslog parser for
/// CEF payloads.
pub(crate) fn parse_message(_msg: &str, _e: &mut kasbah_event::Event) -> Result<(), ParseError> {
    Err(ParseError::new(
        crate::error::ErrorCode::Unsupported,
        "cef parser not implemented",
    ))
}

/// Parses cef records line by line.
#[derive(Default)]
pub struct CefParser;

impl LineParser for CefParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "cef parser not implemented",
        ))
    }
}
