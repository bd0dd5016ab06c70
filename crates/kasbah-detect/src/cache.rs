//! A cache of parsed rule files: loading the same rule folders again skips reading and parsing
//! their YAML, the larger half of loading SigmaHQ's 3,750 rules.
//!
//! One cache file per set of rule folders, in the cache directory the caller names. For every
//! rule file it holds the path, the size and modification time the file had when it was
//! parsed, and its documents and diagnostics encoded with postcard. An entry is used only when
//! the file's size and modification time are unchanged (as make and cargo decide), and only by
//! the build of Kasbah that wrote it: the encoding follows the AST's Rust types, so the header
//! carries a fingerprint of the running executable and of the parser's source. Anything unexpected (another build, a
//! truncated or corrupt file, a checksum mismatch) only makes the loader parse the files again
//! and rewrite the cache; the cache never changes what a rule means.
//!
//! A cache file is rewritten whenever a file was parsed anew or is gone; files not rewritten for
//! 30 days are removed then.
//!
//! Layout (integers little-endian): `KSRULES1`, the build fingerprint (u64), the entry count
//! (u32), then per entry: path length (u32) and path, size (u64), modification time (i64
//! seconds, u32 nanoseconds), payload length (u32), payload checksum (u64), payload.

use std::fs::Metadata;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::UNIX_EPOCH;

use kasbah_sigma::Diagnostic;
use kasbah_sigma::ast::Document;
use rustc_hash::{FxHashMap, FxHasher};

const MAGIC: &[u8; 8] = b"KSRULES1";

/// A file's size and modification time when it was parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    size: u64,
    secs: i64,
    nanos: u32,
}

impl Stamp {
    /// The stamp of a file's metadata (none when the platform gives no modification time).
    pub(crate) fn of(meta: &Metadata) -> Option<Stamp> {
        let mtime = meta.modified().ok()?;
        let (secs, nanos) = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => (i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
            Err(e) => (-i64::try_from(e.duration().as_secs()).ok()?, 0),
        };
        Some(Stamp {
            size: meta.len(),
            secs,
            nanos,
        })
    }
}

/// One file's parse, encoded: its own bytes, or a slice of the cache file read.
#[derive(Clone)]
pub(crate) struct Entry {
    pub stamp: Stamp,
    bytes: Arc<Vec<u8>>,
    range: Range<usize>,
    /// The checksum read with the payload (verified when it is decoded).
    sum: Option<u64>,
}

impl Entry {
    /// Encodes a file's documents and diagnostics.
    pub(crate) fn encode(stamp: Stamp, docs: &[Document], diags: &[Diagnostic]) -> Option<Entry> {
        let payload = postcard::to_allocvec(&(docs, diags)).ok()?;
        Some(Entry {
            stamp,
            range: 0..payload.len(),
            bytes: Arc::new(payload),
            sum: None,
        })
    }

    fn payload(&self) -> &[u8] {
        self.bytes.get(self.range.clone()).unwrap_or_default()
    }

    /// Decodes the documents and diagnostics, after checking the payload's checksum.
    pub(crate) fn decode(&self) -> Option<(Vec<Document>, Vec<Diagnostic>)> {
        let payload = self.payload();
        if self.sum.is_some_and(|s| s != checksum(payload)) {
            return None;
        }
        postcard::from_bytes(payload).ok()
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    bytes.hash(&mut h);
    h.finish()
}

/// The running build's identity: the version, the fingerprint of the parser's source, and the
/// executable's size and modification time. A rebuild changes it, so a cache written by another
/// build (another layout of the AST, another parser) is never read.
fn build_fingerprint() -> Option<u64> {
    static FP: OnceLock<Option<u64>> = OnceLock::new();
    *FP.get_or_init(|| {
        let exe = std::env::current_exe().ok()?;
        let stamp = Stamp::of(&std::fs::metadata(exe).ok()?)?;
        let mut h = FxHasher::default();
        env!("CARGO_PKG_VERSION").hash(&mut h);
        kasbah_sigma::PARSE_FINGERPRINT.hash(&mut h);
        (stamp.size, stamp.secs, stamp.nanos).hash(&mut h);
        Some(h.finish())
    })
}

/// The cache file for a set of rule folders, in `dir`.
pub(crate) fn file_for(dir: &Path, roots: &[PathBuf]) -> PathBuf {
    let mut h = FxHasher::default();
    for r in roots {
        std::fs::canonicalize(r)
            .unwrap_or_else(|_| r.clone())
            .hash(&mut h);
    }
    dir.join(format!("rules-{:016x}.bin", h.finish()))
}

/// A reader over the cache file's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Reads a cache file; `None` when it is absent, from another build, or damaged in its layout.
/// (A damaged payload is found when it is decoded, in parallel: its entry is then parsed anew.)
pub(crate) fn read(file: &Path) -> Option<FxHashMap<String, Entry>> {
    let build = build_fingerprint()?;
    let bytes = Arc::new(std::fs::read(file).ok()?);
    let mut r = Reader(&bytes);
    if r.take(MAGIC.len())? != MAGIC || r.u64()? != build {
        return None;
    }
    let n = r.u32()? as usize;
    let mut entries = FxHashMap::with_capacity_and_hasher(n.min(1 << 20), Default::default());
    for _ in 0..n {
        let len = r.u32()? as usize;
        let path = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
        let size = r.u64()?;
        let secs = r.u64()? as i64;
        let nanos = r.u32()?;
        let len = r.u32()? as usize;
        let sum = r.u64()?;
        let start = bytes.len() - r.0.len();
        r.take(len)?;
        let stamp = Stamp { size, secs, nanos };
        entries.insert(
            path,
            Entry {
                stamp,
                bytes: bytes.clone(),
                range: start..start + len,
                sum: Some(sum),
            },
        );
    }
    r.0.is_empty().then_some(entries)
}

/// Writes a cache file atomically (a temporary file renamed over it), so that a reader never
/// sees half of one and concurrent writers leave one of their versions.
pub(crate) fn write<'a>(
    file: &Path,
    entries: impl Iterator<Item = (&'a str, &'a Entry)>,
) -> std::io::Result<()> {
    let build = build_fingerprint().ok_or_else(|| std::io::Error::other("no build fingerprint"))?;
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&build.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut n = 0u32;
    let len32 = |n: usize| u32::try_from(n).map_err(std::io::Error::other);
    for (path, e) in entries {
        out.extend_from_slice(&len32(path.len())?.to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&e.stamp.size.to_le_bytes());
        out.extend_from_slice(&(e.stamp.secs as u64).to_le_bytes());
        out.extend_from_slice(&e.stamp.nanos.to_le_bytes());
        let payload = e.payload();
        out.extend_from_slice(&len32(payload.len())?.to_le_bytes());
        // An entry read from the cache (and decoded, so verified) keeps its checksum.
        let sum = e.sum.unwrap_or_else(|| checksum(payload));
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(payload);
        n += 1;
    }
    if let Some(c) = out.get_mut(count_at..count_at + 4) {
        c.copy_from_slice(&n.to_le_bytes());
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    prune(dir);
    let mut tmp_name = file.as_os_str().to_owned();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tmp_name.push(format!(".{}.{seq}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&out))
        .and_then(|()| std::fs::rename(&tmp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Cache files unused for this long are removed (rule folders hunted once, temporary ones).
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Removes the cache files of `dir` not written for [`KEEP_UNUSED`] (best effort).
fn prune(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("rules-") && name.ends_with(".bin")) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEEP_UNUSED);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_sigma::RuleSet;

    const RULE: &str = "title: T\nid: 5d3c1a3e-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\nlevel: high\n";

    fn entry() -> Entry {
        let mut set = RuleSet::new();
        set.add("a.yml", RULE);
        let stamp = Stamp {
            size: 1,
            secs: 2,
            nanos: 3,
        };
        Entry::encode(stamp, set.documents(), set.diagnostics()).expect("encodes")
    }

    #[test]
    fn entries_round_trip_and_damage_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.bin");
        let e = entry();
        write(&file, [("a.yml", &e)].into_iter()).expect("write");
        let back = read(&file).expect("read");
        let got = back.get("a.yml").expect("entry");
        assert_eq!(got.stamp, e.stamp);
        let (docs, diags) = got.decode().expect("decode");
        let mut set = RuleSet::new();
        set.add("a.yml", RULE);
        assert_eq!(docs, set.documents());
        assert_eq!(diags, set.diagnostics());

        // A flipped byte in a payload, a truncation, trailing bytes, another build: refused.
        let good = std::fs::read(&file).expect("read");
        let mut bad = good.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        std::fs::write(&file, &bad).expect("write");
        let damaged = read(&file).expect("layout intact");
        assert!(damaged.get("a.yml").and_then(Entry::decode).is_none());
        std::fs::write(&file, &good[..good.len() - 1]).expect("write");
        assert!(read(&file).is_none());
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&file, &longer).expect("write");
        assert!(read(&file).is_none());
        let mut other = good.clone();
        if let Some(b) = other.get_mut(MAGIC.len()) {
            *b ^= 1;
        }
        std::fs::write(&file, &other).expect("write");
        assert!(read(&file).is_none());
        std::fs::write(&file, &good).expect("write");
        assert!(read(&file).is_some());
    }

    #[test]
    fn cache_files_are_per_set_of_folders() {
        let d = Path::new("/tmp");
        let a = file_for(d, &[PathBuf::from("/x/rules")]);
        let b = file_for(d, &[PathBuf::from("/x/rules"), PathBuf::from("/x/more")]);
        assert_ne!(a, b);
        assert_eq!(a, file_for(d, &[PathBuf::from("/x/rules")]));
    }
}
