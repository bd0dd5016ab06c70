//! Parsers for the log formats a SOC receives, each producing normalised [`Event`]s.
//!
//! The crate does no I/O beyond reading the bytes it is given: callers (the CLI, the server)
//! read files or sockets and hand bytes over. Every parser follows the same invariants:
//!
//! * **never panic, never hang** on any input: bad records become [`BadRecord`]s with their line
//!   or record number and a stable [`ErrorCode`], are counted, and parsing goes on;
//! * **linear time** in the input size (no backtracking regexes, bounded record size);
//! * **original fields kept** under their own names beside the ECS fields they map to.
//!
//! Entry points: [`parse_bytes`] for a whole input with format auto-detection ([`detect`]), and
//! [`LineParser`] for message-at-a-time streams (the server's syslog inputs).

mod access;
mod auditd;
mod auth;
mod cef;
mod detect;
mod driver;
mod error;
mod eve;
mod evtx;
mod format;
mod json;
mod kv;
mod leef;
pub mod norm;
mod syslog;
#[cfg(test)]
mod testutil;
pub mod time;
mod windows;
mod winxml;
mod zeek;

pub use detect::detect;
pub use driver::{
    Cx, Item, LineParser, Origin, ParseOptions, ParseStats, for_each_line, line_parser,
    network_syslog_parser, parse_bytes, text_of,
};
pub use error::{BadRecord, ErrorCode, ParseError};
pub use format::Format;
pub use kasbah_event::{Event, Source, Value, ecs};
