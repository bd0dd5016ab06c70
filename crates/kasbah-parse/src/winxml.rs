//! Windows XML parser (to be completed).

use crate::driver::Cx;
use crate::error::{ErrorCode, ParseError};

/// Parses Windows events rendered as XML.
pub(crate) fn parse(_input: &[u8], cx: &mut Cx<'_>) {
    cx.bad(
        1,
        ParseError::new(ErrorCode::Unsupported, "xml parser not implemented"),
    );
}
