//! auditd parser (to be completed).

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;

/// True if `line` looks like a auditd record.
pub(crate) fn sniff(_line: &str) -> bool {
    false
}

/// Parses auditd records line by line.
#[derive(Default)]
pub struct AuditdParser;

impl LineParser for AuditdParser {
    fn parse_line(
        &mut self,
        _line: &str,
        _record: u64,
        _cx: &mut Cx<'_>,
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            crate::error::ErrorCode::Unsupported,
            "auditd parser not implemented",
        ))
    }
}
