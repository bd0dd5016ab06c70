//! The data directory layout and its version.
//!
//! ```text
//! <data-dir>/
//!   VERSION                 "kasbah-data 1": refused by builds that do not know the layout
//!   wal/                    write-ahead log segments and the `checkpoint` file
//!   tenants/<id>/p<n>/      one tantivy index per partition (commit payload = partition state)
//!   meta.db                 tenants, tokens, ... (SQLite, owned by kasbah-meta)
//! ```
//!
//! A future layout change bumps [`VERSION`] and ships a migration that runs on open.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Result, StoreError};

/// The layout version this build writes and reads.
pub const VERSION: u32 = 1;

const MAGIC: &str = "kasbah-data";

/// Creates the directory layout, or checks the version of an existing one.
pub fn prepare(root: &Path) -> Result<()> {
    fs::create_dir_all(root).map_err(StoreError::io(root))?;
    let path = root.join("VERSION");
    match fs::read_to_string(&path) {
        Ok(s) => {
            let found = s.trim().to_string();
            let ok = found
                .strip_prefix(MAGIC)
                .map(str::trim)
                .and_then(|v| v.parse::<u32>().ok())
                == Some(VERSION);
            if !ok {
                return Err(StoreError::Layout {
                    path,
                    found,
                    expected: VERSION,
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = root.join("VERSION.tmp");
            let mut f = fs::File::create(&tmp).map_err(StoreError::io(&tmp))?;
            writeln!(f, "{MAGIC} {VERSION}").map_err(StoreError::io(&tmp))?;
            f.sync_all().map_err(StoreError::io(&tmp))?;
            fs::rename(&tmp, &path).map_err(StoreError::io(&path))?;
        }
        Err(e) => return Err(StoreError::Io { path, source: e }),
    }
    for sub in ["wal", "tenants"] {
        let d = root.join(sub);
        fs::create_dir_all(&d).map_err(StoreError::io(&d))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_accepts_then_refuses_a_foreign_version() {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("VERSION")).unwrap(),
            "kasbah-data 1\n"
        );
        prepare(dir.path()).unwrap();
        fs::write(dir.path().join("VERSION"), "kasbah-data 99\n").unwrap();
        let err = prepare(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Layout { .. }), "{err}");
    }
}
