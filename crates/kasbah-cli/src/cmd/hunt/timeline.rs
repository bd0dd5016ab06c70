//! The hunt's timeline, sorted by event time with bounded memory: detections stay in memory up to
//! a budget, then are sorted and written to an anonymous temporary file as one sorted run; the
//! output is a k-way merge of the runs and what is left in memory (an external merge sort, as
//! GNU `sort` does). A hunt over a large corpus with many detections thus holds at most the
//! budget, not every detection with its event.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::sync::Arc;

use kasbah_event::Timestamp;
use kasbah_sigma::RuleId;

use super::Detection;

/// Fixed cost of a detection in memory besides its strings (struct, allocations).
const OVERHEAD: usize = 160;

/// Runs kept open at most: beyond, they are merged into one (a second merge pass), so a huge
/// timeline never runs into the limit of open files.
const MAX_RUNS: usize = 64;

/// The timeline's order: event time, then file, record and rule (ties cannot remain: a rule hits
/// a record once).
type Key = (Timestamp, Arc<str>, u64, RuleId);

fn key(d: &Detection) -> Key {
    (d.ts, d.file.clone(), d.record, d.rule)
}

fn cost(d: &Detection) -> usize {
    OVERHEAD
        + d.file.len()
        + d.host.as_ref().map_or(0, String::len)
        + d.details.len()
        + d.event.as_ref().map_or(0, String::len)
}

/// Detections collected in any order, read back sorted.
pub(crate) struct Timeline {
    buf: Vec<Detection>,
    bytes: usize,
    budget: usize,
    runs: Vec<File>,
    total: u64,
}

impl Timeline {
    /// A timeline that spills beyond `budget` bytes of detections.
    pub(crate) fn new(budget: usize) -> Timeline {
        Timeline {
            buf: Vec::new(),
            bytes: 0,
            budget,
            runs: Vec::new(),
            total: 0,
        }
    }

    /// Adds detections; may write a sorted run to a temporary file.
    pub(crate) fn extend(&mut self, dets: impl IntoIterator<Item = Detection>) -> io::Result<()> {
        for d in dets {
            self.bytes += cost(&d);
            self.buf.push(d);
            self.total += 1;
            if self.bytes > self.budget {
                self.spill()?;
            }
        }
        Ok(())
    }

    /// Detections added so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// Temporary files written so far.
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> io::Result<()> {
        self.buf.sort_unstable_by_key(key);
        let run = write_run(self.buf.drain(..).map(Ok))?;
        self.runs.push(run);
        self.bytes = 0;
        if self.runs.len() >= MAX_RUNS {
            let merged = merge(std::mem::take(&mut self.runs), Vec::new())?;
            self.runs.push(write_run(merged)?);
        }
        Ok(())
    }

    /// Every detection, in timeline order.
    pub(crate) fn into_sorted(mut self) -> io::Result<Sorted> {
        self.buf.sort_unstable_by_key(key);
        merge(self.runs, self.buf)
    }
}

/// Writes sorted detections to an anonymous temporary file, rewound for reading.
fn write_run(dets: impl Iterator<Item = io::Result<Detection>>) -> io::Result<File> {
    let mut w = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
    for d in dets {
        encode(&mut w, &d?)?;
    }
    let mut f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    f.rewind()?;
    Ok(f)
}

/// The k-way merge of sorted runs and a sorted in-memory rest.
fn merge(runs: Vec<File>, rest: Vec<Detection>) -> io::Result<Sorted> {
    let mut sources: Vec<Source> = runs
        .into_iter()
        .map(|f| Source::Run(BufReader::with_capacity(1 << 16, f)))
        .collect();
    sources.push(Source::Memory(rest.into_iter()));
    let mut heads = Vec::with_capacity(sources.len());
    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter_mut().enumerate() {
        let d = s.next()?;
        if let Some(d) = &d {
            heap.push(Reverse((key(d), i)));
        }
        heads.push(d);
    }
    Ok(Sorted {
        sources,
        heads,
        heap,
    })
}

/// Where sorted detections come from: a run on disk or the in-memory rest.
enum Source {
    Run(BufReader<File>),
    Memory(std::vec::IntoIter<Detection>),
}

impl Source {
    fn next(&mut self) -> io::Result<Option<Detection>> {
        match self {
            Source::Run(r) => decode(r),
            Source::Memory(it) => Ok(it.next()),
        }
    }
}

/// The merge of the sorted sources.
pub(crate) struct Sorted {
    sources: Vec<Source>,
    heads: Vec<Option<Detection>>,
    heap: BinaryHeap<Reverse<(Key, usize)>>,
}

impl Iterator for Sorted {
    type Item = io::Result<Detection>;

    fn next(&mut self) -> Option<io::Result<Detection>> {
        let Reverse((_, i)) = self.heap.pop()?;
        let d = self.heads.get_mut(i)?.take()?;
        match self.sources.get_mut(i)?.next() {
            Ok(Some(n)) => {
                self.heap.push(Reverse((key(&n), i)));
                if let Some(h) = self.heads.get_mut(i) {
                    *h = Some(n);
                }
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(d))
    }
}

// Runs are written and read by this process only, during one hunt: a plain length-prefixed
// binary form is enough.

fn put_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn put_opt(w: &mut impl Write, s: Option<&str>) -> io::Result<()> {
    match s {
        None => w.write_all(&[0]),
        Some(s) => {
            w.write_all(&[1])?;
            put_str(w, s)
        }
    }
}

fn encode(w: &mut impl Write, d: &Detection) -> io::Result<()> {
    w.write_all(&d.ts.as_nanos().to_le_bytes())?;
    w.write_all(&d.rule.0.to_le_bytes())?;
    w.write_all(&d.record.to_le_bytes())?;
    put_str(w, &d.file)?;
    put_opt(w, d.host.as_deref())?;
    put_str(w, &d.details)?;
    put_opt(w, d.event.as_deref())
}

fn get<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn get_str(r: &mut impl Read) -> io::Result<String> {
    let n = u64::from_le_bytes(get(r)?);
    let mut v = Vec::new();
    r.take(n).read_to_end(&mut v)?;
    if v.len() as u64 != n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    String::from_utf8(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn get_opt(r: &mut impl Read) -> io::Result<Option<String>> {
    match get::<1>(r)? {
        [0] => Ok(None),
        _ => get_str(r).map(Some),
    }
}

/// The next detection of a run, or `None` at its end.
fn decode(r: &mut BufReader<File>) -> io::Result<Option<Detection>> {
    let mut ts = [0u8; 8];
    match r.read_exact(&mut ts) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let rule = RuleId(u32::from_le_bytes(get(r)?));
    let record = u64::from_le_bytes(get(r)?);
    let file: Arc<str> = Arc::from(get_str(r)?);
    let host = get_opt(r)?;
    let details = get_str(r)?;
    let event = get_opt(r)?;
    Ok(Some(Detection {
        ts: Timestamp::from_nanos(i64::from_le_bytes(ts)),
        rule,
        file,
        record,
        host,
        details,
        event,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(ts: i64, file: &str, record: u64, rule: u32, big: bool) -> Detection {
        Detection {
            ts: Timestamp::from_nanos(ts),
            rule: RuleId(rule),
            file: Arc::from(file),
            record,
            host: (!record.is_multiple_of(3)).then(|| format!("host-{record}")),
            details: format!("CommandLine: x{record} ¦ é"),
            event: big.then(|| format!("{{\"n\":{record},\"pad\":\"{}\"}}", "y".repeat(200))),
        }
    }

    /// Every field of a detection, comparable.
    type Row = (
        i64,
        String,
        u64,
        u32,
        Option<String>,
        String,
        Option<String>,
    );

    fn collect(t: Timeline) -> Vec<Row> {
        t.into_sorted()
            .expect("merge")
            .map(|d| {
                let d = d.expect("read back");
                (
                    d.ts.as_nanos(),
                    d.file.to_string(),
                    d.record,
                    d.rule.0,
                    d.host,
                    d.details,
                    d.event,
                )
            })
            .collect()
    }

    #[test]
    fn spilled_runs_merge_into_the_same_order_as_an_in_memory_sort() {
        // A deterministic shuffle of times with many ties broken by file, record and rule.
        let mut all = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..5_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let file = if x.is_multiple_of(2) {
                "a.evtx"
            } else {
                "b.evtx"
            };
            all.push(det(
                (x % 97) as i64,
                file,
                i,
                (x % 5) as u32,
                i.is_multiple_of(2),
            ));
        }
        let mut spilled = Timeline::new(16 * 1024);
        spilled.extend(all.clone()).expect("spill");
        assert!(
            spilled.runs() > 10,
            "the small budget forced runs: {}",
            spilled.runs()
        );
        // A budget so small that the runs pass MAX_RUNS and are merged on disk first.
        let mut cascaded = Timeline::new(2 * 1024);
        cascaded.extend(all.clone()).expect("spill");
        assert!(cascaded.runs() < MAX_RUNS, "{} runs open", cascaded.runs());
        assert_eq!(spilled.len(), 5_000);
        let mut memory = Timeline::new(usize::MAX);
        memory.extend(all).expect("in memory");
        assert_eq!(memory.runs(), 0);
        let (a, b, c) = (collect(spilled), collect(memory), collect(cascaded));
        assert_eq!(c, b, "merged runs keep the order");
        assert_eq!(a.len(), 5_000);
        assert!(
            a.windows(2)
                .all(|w| (w[0].0, &w[0].1, w[0].2, w[0].3) <= (w[1].0, &w[1].1, w[1].2, w[1].3))
        );
        assert_eq!(a, b, "every field read back, in the same order");
    }

    #[test]
    fn an_empty_timeline_has_nothing_to_merge() {
        assert!(collect(Timeline::new(0)).is_empty());
    }
}
