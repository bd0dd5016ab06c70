//! Expanding command-line paths into the files to read.

use std::path::PathBuf;

/// Expands `paths`: files are kept as given, directories are walked recursively (sorted, hidden
/// entries skipped) so output order is reproducible.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    Ok(kasbah_detect::loader::expand(paths)?)
}
