//! Learned detection over raw log messages, with no I/O:
//! - [`Miner`] / [`SharedMiner`]: online template mining (every message gets a template id and
//!   its parameters; bounded memory; state save/restore);
//! - [`anomaly::Detector`]: per-entity anomaly models over template ids (new and rare templates,
//!   an n-gram next-template model, count vectors per window), learned incrementally.
//!
//! See `docs/ml.md` for the algorithms, defaults, measured accuracy and limits.

pub mod anomaly;
pub mod mask;
pub mod miner;
pub mod shared;

pub use mask::{Masks, WILDCARD};
pub use miner::{Change, Mined, Miner, MinerConfig, MinerState, Template, TemplateId};
pub use shared::SharedMiner;

/// Errors of this crate. The code at the start of each message is stable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range.
    #[error("ML001 invalid configuration: {0}")]
    Config(String),
    /// A saved state could not be read or written.
    #[error("ML002 invalid saved state: {0}")]
    State(#[source] serde_json::Error),
    /// A saved state was written by an incompatible version.
    #[error("ML003 saved state has format version {found}, this build reads version {expected}")]
    Version {
        /// Version in the state.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
}
