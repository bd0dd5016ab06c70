//! EVTX parser (to be completed).

use crate::driver::Cx;
use crate::error::{ErrorCode, ParseError};

/// Parses an EVTX file.
pub(crate) fn parse(_input: &[u8], cx: &mut Cx<'_>) {
    cx.bad(
        1,
        ParseError::new(ErrorCode::Unsupported, "evtx parser not implemented"),
    );
}
