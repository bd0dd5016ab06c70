//! Kasbah's Sigma engine: every rule of the Sigma 2 specification, compiled once, matched fast.
//!
//! The crate does no I/O: callers hand it rule texts with their paths ([`RuleSet`]) and events
//! ([`kasbah_event::Event`]); it returns detections. Pipeline:
//!
//! 1. **Parse** ([`parse`], [`yaml`], [`condition`]): YAML with line numbers to a typed AST
//!    ([`ast`]); every document that is not valid Sigma gets a [`Diagnostic`] with file, line
//!    and a stable `KSxxx` code, and never a panic.
//! 2. **Resolve log sources** ([`logsource`]): `product/category/service` become conditions on
//!    the event (`Channel`, `EventID`, `event.module`...) through YAML mappings (embedded
//!    defaults, user-extensible), with per-source field renames.
//! 3. **Compile** ([`compile`], [`matcher`]): modifiers applied once, fields interned, wildcards
//!    turned into anchored literal searches, filters AND-ed into their rules.
//! 4. **Match** ([`Engine`]): rules grouped by log source, a cross-rule Aho-Corasick prefilter
//!    over the literals each rule requires, allocation-free case-insensitive comparisons.
//! 5. **Correlate** ([`Correlator`]): Sigma correlation rules over detections, in event time.
//!
//! ```
//! use kasbah_sigma::{Config, Engine, RuleSet, Scratch};
//! use kasbah_event::{Event, FieldId, Source, Timestamp};
//! use std::sync::Arc;
//!
//! let mut set = RuleSet::new();
//! set.add("whoami.yml", "title: Whoami\nlogsource: {product: windows, category: process_creation}\n\
//!     detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n");
//! let engine = Engine::build(&set, &Config::default());
//!
//! let mut ev = Event::new(Timestamp::from_nanos(0), Source::Input { name: Arc::from("doc") });
//! ev.fields.set_name("Channel", "Microsoft-Windows-Sysmon/Operational");
//! ev.fields.set_name("EventID", 1i64);
//! ev.fields.set_name("Image", "C:\\Windows\\System32\\WHOAMI.EXE");
//!
//! let mut hits = Vec::new();
//! engine.matches(&ev, &mut Scratch::new(), &mut hits);
//! assert_eq!(engine.rule(hits[0].rule).map(|r| r.meta.title.as_str()), Some("Whoami"));
//! ```

pub mod ast;
pub mod compile;
pub mod condition;
pub mod correlation;
pub mod diag;
pub mod engine;
pub mod logsource;
pub mod matcher;
pub mod parse;
mod prefilter;
pub mod ruleset;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use ast::Level;
pub use compile::CompileOptions;
pub use correlation::{Capture, CorrelationAlert, Correlator, EngineRef};
pub use diag::{Code, Diagnostic, Severity};
pub use engine::{Config, Engine, EngineStats, Hit, RuleId, RuleInfo, RuleKind};
pub use logsource::Mappings;
pub use matcher::Scratch;
pub use ruleset::RuleSet;

/// A fingerprint of the parser's source (the AST and diagnostic types, the YAML reader, the
/// parser of rules and conditions): what a cache of parsed rules must match, besides the build,
/// since a parse encoded by one version may mean something else to another.
pub const PARSE_FINGERPRINT: u64 = {
    const fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
        let mut i = 0;
        while i < bytes.len() {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            i += 1;
        }
        h
    }
    let mut h = 0xcbf2_9ce4_8422_2325;
    h = fnv1a(h, include_bytes!("ast.rs"));
    h = fnv1a(h, include_bytes!("diag.rs"));
    h = fnv1a(h, include_bytes!("yaml.rs"));
    h = fnv1a(h, include_bytes!("yaml/block.rs"));
    h = fnv1a(h, include_bytes!("parse.rs"));
    h = fnv1a(h, include_bytes!("condition.rs"));
    h
};
