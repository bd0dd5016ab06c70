//! Errors of the event store.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The index library failed.
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The data directory was written by an incompatible version.
    #[error("{path}: data directory layout {found} is not supported (this build reads {expected})")]
    Layout {
        /// The version file.
        path: PathBuf,
        /// What the file says.
        found: String,
        /// What this build writes.
        expected: u32,
    },
    /// Too much accepted data is waiting to be written or indexed: the caller should retry later.
    #[error("overloaded: {0} bytes waiting; retry later")]
    Overloaded(u64),
    /// The store is shutting down or its writer thread died.
    #[error("the store is closed")]
    Closed,
    /// The write-ahead log could not be written: nothing of the batch was accepted.
    #[error("write-ahead log: {0}")]
    Wal(String),
    /// The query cannot be run.
    #[error("query: {0}")]
    Query(String),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// Short for `Result<T, StoreError>`.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
