//! Parse errors with stable codes.
//!
//! Codes never change meaning once released; `docs/errors.md` lists them.

use std::fmt;

/// Stable identifiers of what went wrong with one record.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `KP001`: the record exceeds `ParseOptions::max_record_bytes`.
    TooLong,
    /// `KP002`: the record does not follow the format's syntax.
    Syntax,
    /// `KP003`: invalid JSON.
    Json,
    /// `KP004`: a timestamp that cannot be read or is out of range.
    Timestamp,
    /// `KP005`: the record is not of the (forced) format at all.
    WrongFormat,
    /// `KP006`: a corrupt EVTX chunk or record.
    CorruptEvtx,
    /// `KP007`: the input ends in the middle of a record.
    Truncated,
    /// `KP008`: invalid XML.
    Xml,
    /// `KP009`: an input or feature this parser does not handle.
    Unsupported,
}

impl ErrorCode {
    /// The stable code, e.g. `KP002`.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorCode::TooLong => "KP001",
            ErrorCode::Syntax => "KP002",
            ErrorCode::Json => "KP003",
            ErrorCode::Timestamp => "KP004",
            ErrorCode::WrongFormat => "KP005",
            ErrorCode::CorruptEvtx => "KP006",
            ErrorCode::Truncated => "KP007",
            ErrorCode::Xml => "KP008",
            ErrorCode::Unsupported => "KP009",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why one record could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ParseError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human explanation (what was expected, what was found).
    pub message: String,
}

impl ParseError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ParseError {
            code,
            message: message.into(),
        }
    }

    /// A [`ErrorCode::Syntax`] error.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Syntax, message)
    }

    /// A [`ErrorCode::WrongFormat`] error.
    pub fn wrong_format(expected: &str) -> Self {
        Self::new(ErrorCode::WrongFormat, format!("not a {expected} record"))
    }
}

/// A record that was skipped, with where it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord {
    /// 1-based line (text formats) or record number (EVTX, JSON arrays).
    pub record: u64,
    /// What went wrong.
    pub error: ParseError,
}

impl fmt::Display for BadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.error)
    }
}
