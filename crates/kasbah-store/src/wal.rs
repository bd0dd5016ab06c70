//! The write-ahead log: every accepted batch is appended and fsynced here before it is
//! acknowledged, and replayed into the index after a crash.
//!
//! The log is a directory of segment files named by the first log sequence number (LSN) they hold
//! (`00000000000000000001.wal`). A segment is a run of records:
//!
//! ```text
//! u32 body length | u32 CRC-32 of body | body
//! body = u64 lsn | u32 tenant | u32 event count | count x (i64 event time ns | u32 len | doc bytes)
//! ```
//!
//! all little-endian. One record is one batch, so one LSN acknowledges a whole request. A torn
//! record at the tail of the last segment (a crash during `write`) is cut off when the log is
//! opened: it was never acknowledged, because acknowledgement waits for `fsync`. A bad record in an
//! older segment is reported and the rest of that segment skipped; it cannot be re-framed safely.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use kasbah_event::TenantId;

use crate::error::{Result, StoreError};

/// A log sequence number: the position of one batch in the log, from 1.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

/// One event as stored: its event time and its flat JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Event time, UTC nanoseconds.
    pub ts: i64,
    /// The event as one flat JSON object (the `kasbah parse` form).
    pub doc: Vec<u8>,
}

/// A batch of events of one tenant: the unit of acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The owning tenant.
    pub tenant: TenantId,
    /// The events.
    pub events: Vec<StoredEvent>,
}

impl Batch {
    /// Bytes this batch occupies in the log (used for backpressure accounting).
    pub fn encoded_len(&self) -> usize {
        8 + 8 + 4 + 4 + self.events.iter().map(|e| 12 + e.doc.len()).sum::<usize>()
    }
}

const HEADER: usize = 8;
/// Refuse records larger than this when reading (a corrupt length must not allocate gigabytes).
const MAX_RECORD: usize = 1 << 30;

fn encode(lsn: Lsn, batch: &Batch, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&lsn.0.to_le_bytes());
    out.extend_from_slice(&batch.tenant.0.to_le_bytes());
    out.extend_from_slice(&(batch.events.len() as u32).to_le_bytes());
    for e in &batch.events {
        out.extend_from_slice(&e.ts.to_le_bytes());
        out.extend_from_slice(&(e.doc.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.doc);
    }
    let body_len = (out.len() - start - HEADER) as u32;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a record could not be decoded.
#[derive(Debug, PartialEq, Eq)]
enum Bad {
    /// The file ends inside the record.
    Short,
    /// The checksum or the structure is wrong.
    Corrupt,
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (h, t) = b.split_at_checked(n)?;
    *b = t;
    Some(h)
}

fn u32_at(b: &mut &[u8]) -> Option<u32> {
    take(b, 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
}

fn u64_at(b: &mut &[u8]) -> Option<u64> {
    take(b, 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
}

fn decode_body(mut b: &[u8]) -> Option<(Lsn, Batch)> {
    let lsn = Lsn(u64_at(&mut b)?);
    let tenant = TenantId(u32_at(&mut b)?);
    let count = u32_at(&mut b)? as usize;
    let mut events = Vec::with_capacity(count.min(b.len() / 12));
    for _ in 0..count {
        let ts = u64_at(&mut b)? as i64;
        let len = u32_at(&mut b)? as usize;
        let doc = take(&mut b, len)?.to_vec();
        events.push(StoredEvent { ts, doc });
    }
    b.is_empty().then_some((lsn, Batch { tenant, events }))
}

/// A decoded record: its LSN, its batch and its size in bytes.
type Decoded = (Lsn, Batch, usize);

/// Reads the next record from `r`; `Ok(None)` at a clean end of file.
fn read_record(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
) -> std::io::Result<Result<Option<Decoded>, Bad>> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        let n = r.read(&mut header[got..])?;
        if n == 0 {
            return Ok(if got == 0 { Ok(None) } else { Err(Bad::Short) });
        }
        got += n;
    }
    let (len, crc) = header.split_at(4);
    let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
    if len > MAX_RECORD {
        return Ok(Err(Bad::Corrupt));
    }
    // Read through `take` rather than pre-sizing: a corrupt length must not allocate a gigabyte.
    buf.clear();
    r.by_ref().take(len as u64).read_to_end(buf)?;
    if buf.len() < len {
        return Ok(Err(Bad::Short));
    }
    if crc32fast::hash(buf) != crc {
        return Ok(Err(Bad::Corrupt));
    }
    Ok(match decode_body(buf) {
        Some((lsn, batch)) => Ok(Some((lsn, batch, HEADER + len))),
        None => Err(Bad::Corrupt),
    })
}

fn segment_name(first: Lsn) -> String {
    format!("{:020}.wal", first.0)
}

/// The segments of a log directory, oldest first, with their first LSN.
fn segments(dir: &Path) -> Result<Vec<(Lsn, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(StoreError::io(dir))? {
        let entry = entry.map_err(StoreError::io(dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        if let Ok(first) = stem.parse::<u64>() {
            out.push((Lsn(first), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io(dir))
}

/// What opening the log found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The last LSN in the log (0 when empty).
    pub last: Lsn,
    /// Bytes cut off the tail of the last segment (an unacknowledged torn write).
    pub truncated_bytes: u64,
}

/// The appending side of the log. Only one exists per data directory.
pub struct WalWriter {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    segment_bytes: u64,
    max_segment_bytes: u64,
    next: Lsn,
    buf: Vec<u8>,
}

impl WalWriter {
    /// Opens (or creates) the log in `dir`, repairing a torn tail.
    pub fn open(dir: &Path, max_segment_bytes: u64) -> Result<(WalWriter, Recovery)> {
        fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let segs = segments(dir)?;
        let mut recovery = Recovery::default();
        let (path, segment_bytes) = match segs.last() {
            None => {
                let path = dir.join(segment_name(Lsn(1)));
                File::create(&path).map_err(StoreError::io(&path))?;
                sync_dir(dir)?;
                (path, 0)
            }
            Some((first, path)) => {
                // Find the last good record of the last segment; earlier segments are complete.
                let file = File::open(path).map_err(StoreError::io(path))?;
                let mut r = BufReader::with_capacity(1 << 20, file);
                let mut good = 0u64;
                let mut buf = Vec::new();
                recovery.last = Lsn(first.0.saturating_sub(1));
                while let Ok(Some((lsn, _, n))) =
                    read_record(&mut r, &mut buf).map_err(StoreError::io(path))?
                {
                    good += n as u64;
                    recovery.last = lsn;
                }
                let len = fs::metadata(path).map_err(StoreError::io(path))?.len();
                if len > good {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(StoreError::io(path))?;
                    f.set_len(good).map_err(StoreError::io(path))?;
                    f.sync_all().map_err(StoreError::io(path))?;
                    recovery.truncated_bytes = len - good;
                    tracing::warn!(path = %path.display(), bytes = len - good, "cut a torn record off the write-ahead log");
                }
                (path.clone(), good)
            }
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        let writer = WalWriter {
            dir: dir.to_path_buf(),
            file,
            path,
            segment_bytes,
            max_segment_bytes,
            next: Lsn(recovery.last.0 + 1),
            buf: Vec::new(),
        };
        Ok((writer, recovery))
    }

    /// The LSN the next batch will get.
    pub fn next_lsn(&self) -> Lsn {
        self.next
    }

    /// Appends the batches and fsyncs once (group commit); returns the LSN of each.
    pub fn append(&mut self, batches: &[&Batch]) -> Result<Vec<Lsn>> {
        if self.segment_bytes >= self.max_segment_bytes {
            self.roll()?;
        }
        self.buf.clear();
        let mut lsns = Vec::with_capacity(batches.len());
        for b in batches {
            encode(self.next, b, &mut self.buf);
            lsns.push(self.next);
            self.next.0 += 1;
        }
        let path = &self.path;
        self.file
            .write_all(&self.buf)
            .map_err(StoreError::io(path))?;
        self.file.sync_data().map_err(StoreError::io(path))?;
        self.segment_bytes += self.buf.len() as u64;
        if self.buf.capacity() > 64 << 20 {
            self.buf = Vec::new();
        }
        Ok(lsns)
    }

    fn roll(&mut self) -> Result<()> {
        let path = self.dir.join(segment_name(self.next));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(StoreError::io(&path))?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.path = path;
        self.segment_bytes = 0;
        Ok(())
    }
}

/// Deletes segments whose every record is at or before `checkpoint` (never the newest segment).
/// Returns the number of segments deleted.
pub fn truncate(dir: &Path, checkpoint: Lsn) -> Result<usize> {
    let segs = segments(dir)?;
    let mut deleted = 0;
    for pair in segs.windows(2) {
        let [(_, path), (next_first, _)] = pair else {
            continue;
        };
        if next_first.0.saturating_sub(1) <= checkpoint.0 {
            fs::remove_file(path).map_err(StoreError::io(path))?;
            deleted += 1;
        } else {
            break;
        }
    }
    if deleted > 0 {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

/// Total bytes of the log's segments.
pub fn size(dir: &Path) -> u64 {
    segments(dir)
        .map(|s| {
            s.iter()
                .filter_map(|(_, p)| fs::metadata(p).ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Calls `f` for every batch after `after`, in LSN order. Returns how many corrupt records were
/// skipped (each is logged).
pub fn replay(
    dir: &Path,
    after: Lsn,
    mut f: impl FnMut(Lsn, Batch) -> Result<()>,
) -> Result<usize> {
    let segs = segments(dir)?;
    let mut corrupt = 0;
    for (i, (_, path)) in segs.iter().enumerate() {
        // Skip segments that end before the checkpoint.
        if let Some((next_first, _)) = segs.get(i + 1)
            && next_first.0.saturating_sub(1) <= after.0
        {
            continue;
        }
        let file = File::open(path).map_err(StoreError::io(path))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut buf = Vec::new();
        loop {
            match read_record(&mut r, &mut buf).map_err(StoreError::io(path))? {
                Ok(None) => break,
                Ok(Some((lsn, batch, _))) => {
                    if lsn > after {
                        f(lsn, batch)?;
                    }
                }
                Err(bad) => {
                    corrupt += 1;
                    tracing::error!(path = %path.display(), ?bad, "corrupt write-ahead log record; rest of segment skipped");
                    break;
                }
            }
        }
    }
    Ok(corrupt)
}

/// Reads the checkpoint file (0 when absent).
pub fn read_checkpoint(dir: &Path) -> Lsn {
    fs::read_to_string(dir.join("checkpoint"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map(Lsn)
        .unwrap_or_default()
}

/// Durably records that every batch up to `lsn` is committed in the index.
pub fn write_checkpoint(dir: &Path, lsn: Lsn) -> Result<()> {
    let tmp = dir.join("checkpoint.tmp");
    let path = dir.join("checkpoint");
    let mut f = File::create(&tmp).map_err(StoreError::io(&tmp))?;
    f.write_all(format!("{}\n", lsn.0).as_bytes())
        .map_err(StoreError::io(&tmp))?;
    f.sync_all().map_err(StoreError::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(StoreError::io(&path))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(tenant: u32, docs: &[&str]) -> Batch {
        Batch {
            tenant: TenantId(tenant),
            events: docs
                .iter()
                .enumerate()
                .map(|(i, d)| StoredEvent {
                    ts: i as i64 * 1000,
                    doc: d.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    fn all(dir: &Path, after: Lsn) -> Vec<(Lsn, Batch)> {
        let mut out = Vec::new();
        replay(dir, after, |l, b| {
            out.push((l, b));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn append_then_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, rec) = WalWriter::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.last, Lsn(0));
        let a = batch(1, &["{\"a\":1}", "{\"b\":2}"]);
        let b = batch(2, &["{}"]);
        assert_eq!(w.append(&[&a, &b]).unwrap(), vec![Lsn(1), Lsn(2)]);
        let got = all(dir.path(), Lsn(0));
        assert_eq!(got, vec![(Lsn(1), a.clone()), (Lsn(2), b.clone())]);
        assert_eq!(all(dir.path(), Lsn(1)), vec![(Lsn(2), b)]);
        drop(w);
        let (w, rec) = WalWriter::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.last, Lsn(2));
        assert_eq!(w.next_lsn(), Lsn(3));
    }

    #[test]
    fn torn_tail_is_cut_and_numbering_continues() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = WalWriter::open(dir.path(), 1 << 20).unwrap();
        w.append(&[&batch(1, &["x"])]).unwrap();
        w.append(&[&batch(1, &["y"])]).unwrap();
        drop(w);
        let seg = segments(dir.path()).unwrap()[0].1.clone();
        let len = fs::metadata(&seg).unwrap().len();
        // Simulate a crash in the middle of writing the second record.
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let (mut w, rec) = WalWriter::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(rec.last, Lsn(1));
        assert!(rec.truncated_bytes > 0);
        assert_eq!(w.append(&[&batch(1, &["z"])]).unwrap(), vec![Lsn(2)]);
        let got = all(dir.path(), Lsn(0));
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1.events[0].doc, b"z");
    }

    #[test]
    fn corrupt_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = WalWriter::open(dir.path(), 1 << 20).unwrap();
        w.append(&[&batch(1, &["hello"])]).unwrap();
        drop(w);
        let seg = segments(dir.path()).unwrap()[0].1.clone();
        let mut bytes = fs::read(&seg).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&seg, &bytes).unwrap();
        // Replay reports it instead of returning a wrong event.
        let mut n = 0;
        let corrupt = replay(dir.path(), Lsn(0), |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((n, corrupt), (0, 1));
    }

    #[test]
    fn segments_roll_and_truncate_after_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = WalWriter::open(dir.path(), 64).unwrap();
        for _ in 0..5 {
            w.append(&[&batch(
                1,
                &["0123456789012345678901234567890123456789012345678901234567890"],
            )])
            .unwrap();
        }
        assert_eq!(segments(dir.path()).unwrap().len(), 5);
        assert_eq!(truncate(dir.path(), Lsn(3)).unwrap(), 3);
        let got = all(dir.path(), Lsn(0));
        assert_eq!(got.iter().map(|(l, _)| l.0).collect::<Vec<_>>(), vec![4, 5]);
        write_checkpoint(dir.path(), Lsn(3)).unwrap();
        assert_eq!(read_checkpoint(dir.path()), Lsn(3));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut r = &bytes[..];
            let mut buf = Vec::new();
            while let Ok(Ok(Some(_))) = read_record(&mut r, &mut buf) {}
        }

        #[test]
        fn records_round_trip(docs in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..8), lsn in 1u64.., tenant in proptest::num::u32::ANY) {
            let b = Batch { tenant: TenantId(tenant), events: docs.into_iter().enumerate().map(|(i, doc)| StoredEvent { ts: i as i64, doc }).collect() };
            let mut out = Vec::new();
            encode(Lsn(lsn), &b, &mut out);
            let mut r = &out[..];
            let mut buf = Vec::new();
            let got = read_record(&mut r, &mut buf).unwrap().unwrap().unwrap();
            proptest::prop_assert_eq!((got.0, got.1), (Lsn(lsn), b));
        }
    }
}
