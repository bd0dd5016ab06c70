//! syslog parser (to be completed).

use crate::driver::{Cx, LineParser, for_each_line};
use crate::error::ParseError;

/// True if `line` looks like a syslog message.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Reads a syslog header (RFC 5424, RFC 3164 with or without PRI) at the start of `line`, sets the
/// header fields (time, host, app, pid, facility, severity) on `e`, and returns the message part.
/// `None` if `line` has no syslog header.
pub(crate) fn parse_header<'a>(
    _line: &'a str,
    _e: &mut kasbah_event::Event,
    _opts: &crate::driver::ParseOptions,
) -> Option<&'a str> {
    None
}

/// Parses a whole syslog input (newline or octet-counting framing).
pub(crate) fn parse(input: &[u8], cx: &mut Cx<'_>) {
    for_each_line(input, &mut SyslogParser, cx);
}

/// Parses one syslog message at a time.
#[derive(Default)]
pub struct SyslogParser;

impl LineParser for SyslogParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "syslog parser not implemented",
        ))
    }
}
