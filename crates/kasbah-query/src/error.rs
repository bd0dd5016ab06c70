//! Errors of the search language: parse errors that point at a column, and the limits that
//! execution enforces instead of running out of memory. Codes are stable (`docs/errors.md`).

use serde::{Serialize, Serializer};
use thiserror::Error;

/// Stable error codes (`KQ0xx` parsing, `KQ1xx` execution). Once released a code keeps its meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// KQ001: the query exceeds a safety limit (length, nesting depth).
    Limits,
    /// KQ002: a character or word that cannot appear here.
    Syntax,
    /// KQ003: a field, comparison or option without its value.
    MissingValue,
    /// KQ004: an opening parenthesis, bracket or quote that is never closed.
    Unclosed,
    /// KQ005: an operator (`AND`, `OR`, `NOT`, `-`) or pipe without its operand.
    MissingOperand,
    /// KQ006: a number that cannot be read or is out of range.
    BadNumber,
    /// KQ007: an IP network (`10.0.0.0/8`) that is not valid.
    BadCidr,
    /// KQ008: a time that is not RFC 3339, or a bad `span`.
    BadTime,
    /// KQ009: a malformed range (`[a TO b]`).
    BadRange,
    /// KQ010: a pipe command that does not exist.
    UnknownPipe,
    /// KQ011: an aggregation function that does not exist.
    UnknownFunction,
    /// KQ012: invalid arguments of a pipe command (missing field, duplicate column name...).
    PipeArgs,
    /// KQ013: input left over after a complete query (an unmatched `)`).
    Trailing,
    /// KQ014: a wildcard pattern too large to compile.
    Pattern,
    /// KQ101: an aggregation produced more groups than the limit.
    TooManyGroups,
    /// KQ102: more rows than the limit had to be held in memory (`sort` or event output).
    TooManyRows,
    /// KQ103: `dc()` had to remember more distinct values than the limit.
    TooManyDistinct,
}

impl ErrorCode {
    /// The stable code, e.g. `"KQ003"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Limits => "KQ001",
            ErrorCode::Syntax => "KQ002",
            ErrorCode::MissingValue => "KQ003",
            ErrorCode::Unclosed => "KQ004",
            ErrorCode::MissingOperand => "KQ005",
            ErrorCode::BadNumber => "KQ006",
            ErrorCode::BadCidr => "KQ007",
            ErrorCode::BadTime => "KQ008",
            ErrorCode::BadRange => "KQ009",
            ErrorCode::UnknownPipe => "KQ010",
            ErrorCode::UnknownFunction => "KQ011",
            ErrorCode::PipeArgs => "KQ012",
            ErrorCode::Trailing => "KQ013",
            ErrorCode::Pattern => "KQ014",
            ErrorCode::TooManyGroups => "KQ101",
            ErrorCode::TooManyRows => "KQ102",
            ErrorCode::TooManyDistinct => "KQ103",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query that cannot be parsed: where (1-based column, counted in characters) and why.
/// Serialises as `{"code": "KQ003", "column": 14, "message": "..."}` for API error bodies.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize)]
#[error("column {column}: {message} [{code}]")]
pub struct QueryError {
    /// The stable code.
    pub code: ErrorCode,
    /// 1-based column in characters (not bytes) of the offending input; one past the end when
    /// the query ends too early.
    pub column: usize,
    /// What is wrong, for a human.
    pub message: String,
}

/// A limit hit while executing pipes. Execution stops rather than grow memory without bound.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ExecError {
    /// More groups than [`crate::Limits::max_groups`].
    #[error("more than {limit} groups; narrow the search or group by fewer values [KQ101]")]
    TooManyGroups {
        /// The limit.
        limit: usize,
    },
    /// More rows than [`crate::Limits::max_rows`] to hold in memory.
    #[error("more than {limit} rows to hold in memory; add `head N` or narrow the search [KQ102]")]
    TooManyRows {
        /// The limit.
        limit: usize,
    },
    /// More distinct values than [`crate::Limits::max_distinct`] across `dc()` aggregations.
    #[error("more than {limit} distinct values counted by dc(); narrow the search [KQ103]")]
    TooManyDistinct {
        /// The limit.
        limit: usize,
    },
}

impl ExecError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ExecError::TooManyGroups { .. } => ErrorCode::TooManyGroups,
            ExecError::TooManyRows { .. } => ErrorCode::TooManyRows,
            ExecError::TooManyDistinct { .. } => ErrorCode::TooManyDistinct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_points_at_the_column_with_the_code() {
        let e = QueryError {
            code: ErrorCode::MissingValue,
            column: 17,
            message: "expected a value after ':'".into(),
        };
        assert_eq!(
            e.to_string(),
            "column 17: expected a value after ':' [KQ003]"
        );
    }

    #[test]
    fn query_error_serialises_with_its_code() {
        let e = QueryError {
            code: ErrorCode::BadCidr,
            column: 3,
            message: "m".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).ok().as_deref(),
            Some(r#"{"code":"KQ007","column":3,"message":"m"}"#)
        );
    }

    #[test]
    fn exec_errors_carry_their_code() {
        let e = ExecError::TooManyGroups { limit: 5 };
        assert_eq!(e.code().as_str(), "KQ101");
        assert!(e.to_string().contains("more than 5 groups"));
        assert!(e.to_string().ends_with("[KQ101]"));
    }
}
