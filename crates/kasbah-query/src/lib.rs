//! Kasbah's search language: what analysts type to find events and summarise them.
//!
//! ```text
//! process.name:powershell.exe AND NOT user.name:SYSTEM | stats count() by host.name | sort -count | head 10
//! ```
//!
//! A filter (field values, wildcards, ranges, phrases, CIDR networks, boolean logic, full
//! text) then pipes (`where`, `fields`, `stats`, `sort`, `head`, `timechart`, `top`, `rare`).
//! The crate does no I/O:
//!
//! - [`parse`] turns text into a typed [`Query`] or a [`QueryError`] with a column and a stable
//!   `KQxxx` code; [`Query`] prints back as canonical syntax (`Display`).
//! - [`Expr::matches`] tests one event (a flat JSON object, [`Row`]); stores walk [`Expr`] to
//!   build index queries and use [`Query::time_bounds`] to prune time partitions.
//! - [`execute`] runs the pipes over the matching events with bounded memory ([`Limits`]).
//!
//! The language reference for analysts is `docs/search.md`.
//!
//! ```
//! use kasbah_query::{execute, parse, Output, Row};
//! use serde_json::json;
//!
//! let q = parse("event.outcome:failure source.ip:203.0.113.0/24 | stats count() by user.name").unwrap();
//! let events: Vec<Row> = [
//!     json!({"event.outcome": "failure", "source.ip": "203.0.113.45", "user.name": "root"}),
//!     json!({"event.outcome": "FAILURE", "source.ip": "203.0.113.9", "user.name": "root"}),
//!     json!({"event.outcome": "success", "source.ip": "203.0.113.45", "user.name": "deploy"}),
//! ]
//! .into_iter()
//! .filter_map(|v| v.as_object().cloned())
//! .collect();
//! let hits = events.into_iter().filter(|e| q.filter.matches(e));
//! let Output::Table(t) = execute(&q.pipes, hits).unwrap() else { panic!() };
//! assert_eq!(t.columns, ["user.name", "count"]);
//! assert_eq!(t.rows, [[json!("root"), json!(2)]]);
//! ```

pub mod ast;
mod display;
pub mod error;
pub mod exec;
pub mod glob;
pub mod matcher;
pub mod parser;
pub mod time;

#[cfg(test)]
mod tests;

pub use ast::{
    Agg, AggFunc, Expr, IpNet, Pattern, Pipe, Predicate, Query, Scalar, SortKey, Stats, Test,
};
pub use error::{ErrorCode, ExecError, QueryError};
pub use exec::{Limits, Output, Table, compare_values, execute, execute_with};
pub use glob::{Glob, GlobPart};
pub use matcher::Row;
pub use parser::parse;
