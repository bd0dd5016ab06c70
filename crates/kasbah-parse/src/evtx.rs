//! Windows EVTX event log files (`.evtx`), read with the `evtx` crate.
//!
//! Accepted: whole log files (`ElfFile` header, then 64 KiB chunks), including dirty, wrapped
//! and truncated ones, and bare chunks carved out of a file (`ElfChnk` at offset 0). Every
//! record becomes one event, numbered by its record number in the file (its record header's;
//! the same as `EventRecordID` unless the log was exported, which renumbers from 1); its fields
//! are those of the shared Windows normaliser (`windows.rs`), the same as for XML and JSON.
//!
//! How: the crate walks the chunks in record order and renders each record to XML (its
//! compiled-template fast path); the XML is then walked by the same scanner as `winxml.rs`
//! straight into the event. XML is the crate's native rendering, keeps every attribute, and
//! leaves Windows paths unescaped, so walking it borrows almost every value. The raw record kept
//! with `ParseOptions::keep_raw` is that XML (without its `<?xml?>` prolog).
//!
//! Damage is reported record by record and never stops the walk: a record the crate cannot
//! read is a `KP006` bad record with its number; records that a chunk's header declares
//! (`first..=last`) but that neither became events nor were reported (the crate skips over a
//! damaged area to the next readable record) are reported as `KP006` with their numbers, so
//! `events + bad records` equals the declared count; a chunk whose header is unreadable is one
//! `KP006`. The end of a truncated file is read as far as it goes and the records cut off are
//! `KP007`. Input that is not EVTX at all is `KP005`.

use std::error::Error;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use evtx::err::EvtxError;
use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use kasbah_event::Timestamp;

use crate::driver::Cx;
use crate::error::{ErrorCode, ParseError};
use crate::windows::Normaliser;

/// Size of the file header block.
const FILE_HEADER: usize = 4096;
/// Size of a chunk.
const CHUNK: usize = 65536;
/// The most records a chunk can hold: its 65,024 bytes of record space over the 28 bytes of the
/// smallest record (a 24-byte header and a 4-byte size copy). A header declaring more is damaged.
const MAX_RECORDS_PER_CHUNK: u64 = ((CHUNK - 512) / 28) as u64;

fn settings() -> ParserSettings {
    ParserSettings::new().indent(false)
}

/// Parses an EVTX file (or bare chunks).
pub(crate) fn parse(input: &[u8], cx: &mut Cx<'_>) {
    // The `evtx` crate is written not to panic, and is fuzzed; should it still panic on some
    // hostile input, the file's remaining records are reported lost instead of taking the
    // process down.
    let outcome = catch_unwind(AssertUnwindSafe(|| parse_file(input, cx)));
    if outcome.is_err() {
        cx.bad(
            1,
            ParseError::new(
                ErrorCode::CorruptEvtx,
                "the EVTX reader failed on this file; records after the last reported one are lost",
            ),
        );
    }
}

fn parse_file(input: &[u8], cx: &mut Cx<'_>) {
    let mut r = Reader {
        norm: Normaliser::new(),
        settings: Arc::new(settings()),
        next_id: 1,
    };
    if input.starts_with(b"ElfChnk\0") {
        r.bare_chunks(input, cx);
        return;
    }
    if !input.starts_with(b"ElfFile\0") {
        cx.bad(
            1,
            ParseError::new(
                ErrorCode::WrongFormat,
                "not an EVTX file: it does not start with the `ElfFile` signature",
            ),
        );
        return;
    }
    if input.len() < FILE_HEADER {
        cx.bad(
            1,
            ParseError::new(
                ErrorCode::Truncated,
                format!(
                    "the input ends inside the EVTX file header ({} of {FILE_HEADER} bytes)",
                    input.len()
                ),
            ),
        );
        return;
    }
    let mut parser = match EvtxParser::from_read_seek(Cursor::new(input)) {
        Ok(p) => p.with_configuration(settings()),
        Err(err) => {
            cx.bad(
                1,
                ParseError::new(
                    ErrorCode::CorruptEvtx,
                    format!("unreadable EVTX file header: {}", describe(&err)),
                ),
            );
            return;
        }
    };
    for chunk in parser.chunks() {
        match chunk {
            Ok(mut data) => r.guarded_chunk(&mut data, None, cx),
            Err(err) => r.chunk_error(&err, cx),
        }
    }
    // The crate stops before a chunk the file does not hold in full; read what is there.
    let whole = (input.len() - FILE_HEADER) / CHUNK;
    if let Some(tail) = input.get(FILE_HEADER + whole * CHUNK..) {
        r.partial_chunk(tail, whole as u64, cx);
    }
}

struct Reader {
    norm: Normaliser,
    settings: Arc<ParserSettings>,
    /// One past the highest record id seen: the number given to damage with no id of its own.
    next_id: u64,
}

/// Which of a chunk's declared record ids were accounted for.
struct Declared {
    first: u64,
    seen: Vec<u64>,
}

impl Declared {
    fn new(first: u64, last: u64) -> Option<Declared> {
        let n = last.checked_sub(first)?.checked_add(1)?;
        (n <= MAX_RECORDS_PER_CHUNK).then(|| Declared {
            first,
            seen: vec![0; n.div_ceil(64) as usize],
        })
    }

    fn len(&self) -> u64 {
        self.seen.len() as u64 * 64
    }

    fn mark(&mut self, id: u64) {
        if let Some(i) = id.checked_sub(self.first).filter(|i| *i < self.len())
            && let Some(w) = self.seen.get_mut((i / 64) as usize)
        {
            *w |= 1 << (i % 64);
        }
    }

    fn is_seen(&self, id: u64) -> bool {
        id.checked_sub(self.first)
            .and_then(|i| {
                self.seen
                    .get((i / 64) as usize)
                    .map(|w| w & (1 << (i % 64)) != 0)
            })
            .unwrap_or(true)
    }
}

/// The error and its causes, `outer: inner: innermost`, without the crate's generic wrapper
/// messages (the record number is said by the bad record itself).
fn describe(err: &dyn Error) -> String {
    let generic = |m: &str| {
        m.starts_with("Failed to parse record number")
            || m.starts_with("An error occurred while trying to")
    };
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn Error> = Some(err);
    while let Some(e) = cur {
        let m = e.to_string();
        if !generic(&m) && !parts.last().is_some_and(|p| p.ends_with(&m)) {
            parts.push(m);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    parts.join(": ")
}

/// The record id an error names, if it names one.
fn record_id_of(err: &EvtxError) -> Option<u64> {
    match err {
        EvtxError::FailedToParseRecord { record_id, .. } => Some(*record_id),
        _ => None,
    }
}

fn jiff_to_timestamp(t: evtx::Timestamp) -> Option<Timestamp> {
    i64::try_from(t.as_nanosecond())
        .ok()
        .map(Timestamp::from_nanos)
}

impl Reader {
    /// A chunk the crate could not even load (bad signature, unreadable header).
    fn chunk_error(&mut self, err: &EvtxError, cx: &mut Cx<'_>) {
        let record = self.next_id;
        cx.bad(
            record,
            ParseError::new(
                ErrorCode::CorruptEvtx,
                format!("unreadable chunk, its records are lost: {}", describe(err)),
            ),
        );
    }

    /// [`Reader::chunk`], turning a panic of the crate into a bad record for the chunk.
    fn guarded_chunk(
        &mut self,
        data: &mut EvtxChunkData,
        real_len: Option<usize>,
        cx: &mut Cx<'_>,
    ) {
        let number = data.number.unwrap_or_default();
        let outcome = catch_unwind(AssertUnwindSafe(|| self.chunk(data, real_len, cx)));
        if outcome.is_err() {
            cx.bad(
                self.next_id,
                ParseError::new(
                    ErrorCode::CorruptEvtx,
                    format!(
                        "the EVTX reader failed on chunk {number}; its remaining records are lost"
                    ),
                ),
            );
        }
    }

    /// Reads every record of one chunk. `real_len` is how many of its bytes the input really
    /// holds when it is cut short (the rest is zero padding).
    fn chunk(&mut self, data: &mut EvtxChunkData, real_len: Option<usize>, cx: &mut Cx<'_>) {
        let number = data.number.unwrap_or_default();
        let (first, last) = (
            data.header.first_event_record_id,
            data.header.last_event_record_id,
        );
        let mut declared = Declared::new(first, last);
        // Why records went missing, for the ones the crate skipped without naming them.
        let mut unlocated: Option<String> = None;
        let mut chunk_failure: Option<String> = None;
        match data.parse(self.settings.clone()) {
            Err(err) => chunk_failure = Some(describe(&err)),
            Ok(mut chunk) => {
                for rec in chunk.iter() {
                    let rec = match rec {
                        Ok(rec) => rec,
                        Err(err) => {
                            match record_id_of(&err) {
                                Some(id) => {
                                    if let Some(d) = declared.as_mut() {
                                        d.mark(id);
                                    }
                                    self.saw(id);
                                    cx.bad(id, corrupt(id, number, &err));
                                }
                                None => {
                                    if declared.is_none() {
                                        cx.bad(
                                            self.next_id,
                                            ParseError::new(
                                                ErrorCode::CorruptEvtx,
                                                format!("chunk {number}: {}", describe(&err)),
                                            ),
                                        );
                                    } else if unlocated.is_none() {
                                        unlocated = Some(describe(&err));
                                    }
                                }
                            }
                            continue;
                        }
                    };
                    let id = rec.event_record_id;
                    if let Some(d) = declared.as_mut() {
                        d.mark(id);
                    }
                    self.saw(id);
                    let end = rec.binxml_offset + u64::from(rec.binxml_size) + 4;
                    if real_len.is_some_and(|len| end > len as u64) {
                        cx.bad(
                            id,
                            ParseError::new(
                                ErrorCode::Truncated,
                                format!("the input ends inside record {id} (chunk {number})"),
                            ),
                        );
                        continue;
                    }
                    let fallback = jiff_to_timestamp(rec.timestamp);
                    match rec.into_xml_bytes() {
                        Ok(ser) => self.emit(ser.data, id, fallback, cx),
                        Err(err) => cx.bad(id, corrupt(id, number, &err)),
                    }
                }
            }
        }
        let Some(d) = declared else {
            if let Some(why) = chunk_failure {
                cx.bad(
                    self.next_id,
                    ParseError::new(
                        ErrorCode::CorruptEvtx,
                        format!("unreadable chunk {number}, its records are lost: {why}"),
                    ),
                );
            }
            return;
        };
        // Every declared record not yet accounted for is reported by its id.
        let (code, why) = match (&chunk_failure, &unlocated) {
            _ if real_len.is_some() => {
                (ErrorCode::Truncated, "the input ends before it".to_owned())
            }
            (Some(why), _) => (ErrorCode::CorruptEvtx, format!("unreadable chunk: {why}")),
            (None, Some(why)) => (
                ErrorCode::CorruptEvtx,
                format!("damaged record area: {why}"),
            ),
            (None, None) => (
                ErrorCode::CorruptEvtx,
                "no readable record has this number (damaged record area)".to_owned(),
            ),
        };
        for id in first..=last {
            if !d.is_seen(id) {
                self.saw(id);
                cx.bad(
                    id,
                    ParseError::new(
                        code,
                        format!("record {id} of chunk {number} is missing: {why}"),
                    ),
                );
            }
        }
    }

    fn saw(&mut self, id: u64) {
        self.next_id = self.next_id.max(id.saturating_add(1));
    }

    /// The last, incomplete chunk of a truncated file (or of bare chunks).
    fn partial_chunk(&mut self, tail: &[u8], number: u64, cx: &mut Cx<'_>) {
        if tail.iter().all(|b| *b == 0) {
            return;
        }
        if tail.len() < 512 || !tail.starts_with(b"ElfChnk\0") {
            cx.bad(
                self.next_id,
                ParseError::new(
                    ErrorCode::Truncated,
                    format!(
                        "the input ends with {} bytes that are not a complete chunk (chunk {number})",
                        tail.len()
                    ),
                ),
            );
            return;
        }
        // Zero padding reads as "no more records"; records that reach past the real end are
        // reported as truncated instead of rendered.
        let mut padded = tail.to_vec();
        padded.resize(CHUNK, 0);
        match EvtxChunkData::new(padded, false) {
            Ok(mut data) => {
                data.number = Some(number);
                self.guarded_chunk(&mut data, Some(tail.len()), cx);
            }
            Err(err) => cx.bad(
                self.next_id,
                ParseError::new(
                    ErrorCode::Truncated,
                    format!("the input ends inside chunk {number}: {}", describe(&err)),
                ),
            ),
        }
    }

    /// A file of bare chunks (carved from a log): every 64 KiB from the start.
    fn bare_chunks(&mut self, input: &[u8], cx: &mut Cx<'_>) {
        for (i, window) in input.chunks(CHUNK).enumerate() {
            let number = i as u64;
            if window.len() < CHUNK {
                self.partial_chunk(window, number, cx);
                break;
            }
            if window.iter().all(|b| *b == 0) {
                continue;
            }
            match EvtxChunkData::new(window.to_vec(), false) {
                Ok(mut data) => {
                    data.number = Some(number);
                    self.guarded_chunk(&mut data, None, cx);
                }
                Err(err) => cx.bad(
                    self.next_id,
                    ParseError::new(
                        ErrorCode::CorruptEvtx,
                        format!(
                            "unreadable chunk {number}, its records are lost: {}",
                            describe(&err)
                        ),
                    ),
                ),
            }
        }
    }

    /// Walks one record's XML rendering into an event and emits it.
    fn emit(&mut self, xml: Vec<u8>, id: u64, fallback: Option<Timestamp>, cx: &mut Cx<'_>) {
        // The crate renders UTF-8; anything else is replaced rather than trusted.
        let xml = match String::from_utf8(xml) {
            Ok(s) => s,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        };
        let mut e = cx.new_event(id, None);
        match crate::winxml::read_rendered(&xml, &mut self.norm, &mut e, fallback) {
            Ok(start) => {
                if cx.opts.keep_raw {
                    e.raw = xml.get(start..).map(|r| Box::from(r.trim_end()));
                }
                cx.emit(e);
            }
            Err(err) => cx.bad(
                id,
                ParseError::new(
                    ErrorCode::CorruptEvtx,
                    format!(
                        "record {id} rendered to XML that cannot be read (byte {}): {}",
                        err.at, err.msg
                    ),
                ),
            ),
        }
    }
}

fn corrupt(id: u64, chunk: u64, err: &EvtxError) -> ParseError {
    ParseError::new(
        ErrorCode::CorruptEvtx,
        format!("corrupt record {id} (chunk {chunk}): {}", describe(err)),
    )
}

#[cfg(test)]
mod tests {
    use kasbah_event::Event;

    use super::*;
    use crate::driver::{Item, Origin, ParseOptions};

    fn run(input: &[u8]) -> (Vec<Event>, Vec<(u64, ErrorCode, String)>) {
        let opts = ParseOptions::default();
        let origin = Origin::File(Arc::from("t.evtx"));
        let mut events = Vec::new();
        let mut bad = Vec::new();
        let mut sink = |i: Item| match i {
            Item::Event(e) => events.push(*e),
            Item::Bad(b) => bad.push((b.record, b.error.code, b.error.message)),
        };
        let mut cx = Cx::new(&opts, &origin, &mut sink);
        parse(input, &mut cx);
        (events, bad)
    }

    /// A file header with the signature and nothing else (the reader does not need more).
    fn header() -> Vec<u8> {
        let mut h = vec![0u8; FILE_HEADER];
        h[..8].copy_from_slice(b"ElfFile\0");
        h[32..36].copy_from_slice(&128u32.to_le_bytes());
        h[40..42].copy_from_slice(&4096u16.to_le_bytes());
        h
    }

    #[test]
    fn not_evtx_is_wrong_format() {
        for input in [&b""[..], b"hello world\n", b"ElfFil", b"<Event/>"] {
            let (events, bad) = run(input);
            assert!(events.is_empty());
            assert_eq!(bad.len(), 1, "{input:?}");
            assert_eq!((bad[0].0, bad[0].1), (1, ErrorCode::WrongFormat));
        }
    }

    #[test]
    fn short_header_is_truncated() {
        let (events, bad) = run(&header()[..100]);
        assert!(events.is_empty());
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].1, ErrorCode::Truncated);
        assert!(bad[0].2.contains("100 of 4096 bytes"), "{}", bad[0].2);
    }

    #[test]
    fn empty_log_has_no_records_and_no_errors() {
        let (events, bad) = run(&header());
        assert!(events.is_empty() && bad.is_empty(), "{bad:?}");
        // Zero padding after the header is empty chunk space, not damage.
        let mut padded = header();
        padded.resize(FILE_HEADER + 3 * CHUNK + 100, 0);
        let (events, bad) = run(&padded);
        assert!(events.is_empty() && bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn garbage_chunks_are_reported_not_fatal() {
        let mut input = header();
        input.extend(std::iter::repeat_n(0x41u8, CHUNK));
        input.extend(std::iter::repeat_n(0x42u8, 1000));
        let (events, bad) = run(&input);
        assert!(events.is_empty());
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0].1, ErrorCode::CorruptEvtx);
        assert!(bad[0].2.contains("unreadable chunk"), "{}", bad[0].2);
        assert_eq!(bad[1].1, ErrorCode::Truncated);
    }

    #[test]
    fn a_chunk_header_alone_declares_records_that_are_reported_missing() {
        // A chunk whose header says it holds records 7..=9 but whose record area is empty.
        let mut chunk = vec![0u8; CHUNK];
        chunk[..8].copy_from_slice(b"ElfChnk\0");
        for (at, v) in [(8, 7u64), (16, 9), (24, 7), (32, 9)] {
            chunk[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        chunk[40..44].copy_from_slice(&128u32.to_le_bytes());
        chunk[48..52].copy_from_slice(&600u32.to_le_bytes());
        let mut input = header();
        input.extend_from_slice(&chunk);
        let (events, bad) = run(&input);
        assert!(events.is_empty());
        let ids: Vec<u64> = bad.iter().map(|b| b.0).collect();
        assert_eq!(ids, vec![7, 8, 9], "{bad:?}");
        assert!(bad.iter().all(|b| b.1 == ErrorCode::CorruptEvtx));

        // The same chunk on its own (carved), and cut short.
        let (events, bad) = run(&chunk);
        assert!(events.is_empty());
        assert_eq!(bad.len(), 3, "{bad:?}");
        let (_, bad) = run(&chunk[..2000]);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad.iter().all(|b| b.1 == ErrorCode::Truncated), "{bad:?}");

        // A header claiming an impossible number of records is not expanded into that many.
        chunk[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        let (_, bad) = run(&chunk);
        assert!(bad.len() <= 1, "{bad:?}");
    }

    #[test]
    fn declared_ranges_are_bounded() {
        assert!(Declared::new(5, 4).is_none());
        assert!(Declared::new(0, u64::MAX).is_none());
        assert!(Declared::new(1, MAX_RECORDS_PER_CHUNK + 1).is_none());
        let mut d = Declared::new(10, 12).expect("plausible");
        d.mark(11);
        d.mark(99);
        assert!(!d.is_seen(10) && d.is_seen(11) && !d.is_seen(12));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let _ = run(&data);
        }

        #[test]
        fn arbitrary_chunks_after_a_header_never_panic(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..(CHUNK + 600)),
            signature in proptest::bool::ANY,
        ) {
            let mut input = header();
            let start = input.len();
            input.extend_from_slice(&data);
            if signature && input.len() >= start + 8 {
                input[start..start + 8].copy_from_slice(b"ElfChnk\0");
            }
            let (events, bad) = run(&input);
            proptest::prop_assert!(events.len() + bad.len() <= MAX_RECORDS_PER_CHUNK as usize + 2);
        }
    }
}
