//! Kasbah's detection pipeline, between the Sigma engine and the alert store.
//!
//! * [`loader`]: rules read from files and folders (shared by `kasbah hunt`, `kasbah rules` and
//!   the server), with placeholders and extra log-source mappings, and a cache of parsed rule
//!   files (`cache.rs`) so that loading the same folders again skips the YAML.
//! * [`detector`]: one compiled engine for every tenant, each tenant's disabled rules, and the
//!   [`Findings`] of a batch: alert drafts merged by dedup key and correlation captures.
//! * [`alert`]: entities (host, user, IP, process), notable fields and dedup keys of alerts.
//! * [`live`]: correlation on a live stream, with a reorder buffer bounded by the allowed
//!   lateness.
//! * [`stats`]: per-rule hit counters, hourly rates, the alert budget and top values.
//! * [`suppress`]: which suppression covers an alert.
//! * [`anomaly`]: per-tenant anomaly models over mined template ids, raising alert drafts.
//!
//! The crate does no network I/O and keeps no database: the server composes it with the store
//! and the metadata repository.

pub mod alert;
pub mod anomaly;
mod cache;
pub mod detector;
pub mod live;
pub mod loader;
pub mod stats;
pub mod suppress;

pub use detector::{Detector, Findings, Mode, ScanScratch};
pub use live::LiveCorrelator;
pub use loader::{LoadError, LoadOptions, Loaded};
pub use stats::{RuleReport, RuleStats};
