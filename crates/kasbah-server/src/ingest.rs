//! The ingestion path shared by every input: parse records into events, mine their templates,
//! match them against the tenant's rules and anomaly model, encode them for the store, append, and wait for the
//! durable acknowledgement; then hand what the rules found to the detection worker.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kasbah_detect::{Detector, Findings, Mode, ScanScratch};
use kasbah_event::{Event, FieldId, OutputOptions, TenantId};
use kasbah_parse::{BadRecord, Format, Item, Origin, ParseOptions};
use kasbah_store::{Batch, Lsn, Store, StoreError, StoredEvent};

/// Bad records reported back to a sender (the rest are only counted).
pub const MAX_REPORTED_ERRORS: usize = 20;

/// Scratch capacity kept per thread by [`encode`]; a larger event's buffer is given back.
const ENCODE_SCRATCH_BYTES: usize = 64 << 10;

thread_local! {
    static ENCODE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Encodes one event in the stored form (flat JSON with receive time and provenance).
///
/// The JSON is written into a per-thread buffer and copied out at its exact size: growing a fresh
/// `Vec` by doubling (a firewall event is about 2 KiB) cost 8% of an input thread's CPU in
/// reallocations and page faults, and left up to half of every pending event's memory unused.
pub fn encode(event: &Event) -> StoredEvent {
    let opts = OutputOptions {
        received: true,
        raw: event.raw.is_some(),
        source: true,
    };
    let mut buf = ENCODE.take();
    buf.clear();
    // Writing to a Vec cannot fail.
    let _ = kasbah_event::write_json(&mut buf, event, opts);
    let doc = buf.as_slice().to_vec();
    if buf.capacity() <= ENCODE_SCRATCH_BYTES {
        ENCODE.set(buf);
    }
    StoredEvent {
        ts: event.timestamp.as_nanos(),
        doc,
    }
}

thread_local! {
    static SCAN: RefCell<ScanScratch> = RefCell::new(ScanScratch::new());
}

/// What every event goes through before it is stored, for one tenant.
#[derive(Clone)]
pub struct Prep<'a> {
    /// The tenant.
    pub tenant: TenantId,
    /// Template mining (`log.template_id`).
    pub templates: Option<&'a crate::templates::Templates>,
    /// Rule matching (the tenant's detector at the time the input started).
    pub detector: Option<Arc<Detector>>,
    /// Anomaly models (only with rule matching: the detector stamps event ids).
    pub anomalies: Option<&'a crate::anomaly::Anomalies>,
}

impl Prep<'_> {
    /// Annotates, matches and encodes one event; what the rules found goes to `found`.
    pub fn event(&self, e: &mut Event, found: &mut Findings) -> StoredEvent {
        self.scan(e, found);
        encode(e)
    }

    /// Annotates and matches one event.
    fn scan(&self, e: &mut Event, found: &mut Findings) {
        let mined = self.templates.and_then(|t| t.annotate(self.tenant, e));
        if let Some(d) = &self.detector {
            SCAN.with(|s| d.scan(self.tenant, e, &mut s.borrow_mut(), Mode::Live, found));
            if let (Some(a), Some((template, miner))) = (self.anomalies, mined) {
                a.observe(self.tenant, e, template, &miner, d, found);
            }
        }
    }
}

/// A batch ready to append, with what the rules found in it.
#[derive(Debug)]
pub struct Prepared {
    /// The events.
    pub batch: Batch,
    /// Alert drafts and correlation captures, submitted once the batch is durable.
    pub findings: Findings,
}

/// The result of parsing one input.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Events, in batches of at most the requested size.
    pub batches: Vec<Prepared>,
    /// Events in all batches.
    pub events: u64,
    /// Records skipped, counted.
    pub bad: u64,
    /// The first few skipped records, for the response.
    pub errors: Vec<BadRecord>,
    /// The format used.
    pub format: Option<Format>,
}

/// Parses `input` for `tenant`, cutting the events into batches of `batch_events`.
pub fn parse(
    input: &[u8],
    format: Option<Format>,
    origin: &Origin,
    opts: &ParseOptions,
    prep: &Prep<'_>,
    batch_events: usize,
) -> Parsed {
    let tenant = prep.tenant;
    let mut out = Parsed::default();
    let mut current: Vec<StoredEvent> = Vec::new();
    let mut found = Findings::default();
    // Events of an uploaded file keep its name (`log.file.path`, as `kasbah parse` prints it) so
    // that a case's evidence files can be told apart in search. It is added after the rules ran,
    // so a file name never makes a rule match (`kasbah hunt` over the same file agrees).
    let file = match origin {
        Origin::File(name) => Some(name.clone()),
        _ => None,
    };
    let file_field = FieldId::intern("log.file.path");
    let mut sink = |item: Item| match item {
        Item::Event(mut e) => {
            prep.scan(&mut e, &mut found);
            if let Some(f) = &file {
                e.fields.set_default(file_field, f.as_ref());
            }
            current.push(encode(&e));
            out.events += 1;
            if current.len() >= batch_events {
                out.batches.push(Prepared {
                    batch: Batch {
                        tenant,
                        events: std::mem::take(&mut current),
                    },
                    findings: std::mem::take(&mut found),
                });
            }
        }
        Item::Bad(b) => {
            out.bad += 1;
            if out.errors.len() < MAX_REPORTED_ERRORS {
                out.errors.push(b);
            }
        }
    };
    let (fmt, _) = kasbah_parse::parse_bytes(input, format, origin, opts, &mut sink);
    if !current.is_empty() {
        out.batches.push(Prepared {
            batch: Batch {
                tenant,
                events: current,
            },
            findings: found,
        });
    }
    out.format = Some(fmt);
    out
}

/// Appends a batch and waits for its durable acknowledgement.
pub async fn commit(store: &Arc<Store>, batch: impl Into<Arc<Batch>>) -> Result<Lsn, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    store.append(batch, move |r| {
        let _ = tx.send(r);
    });
    rx.await.map_err(|_| StoreError::Closed)?
}

/// Hands the findings of a durable batch to detection.
pub fn detected(state: &crate::state::AppState, tenant: TenantId, f: Findings, received: Instant) {
    if let Some(d) = &state.detection {
        d.submit(tenant, f, received);
    }
}

/// Appends a batch, waiting for room while the store is overloaded (for inputs that can hold
/// their sender back: TCP streams and uploads). Gives up after `patience`.
pub async fn commit_patiently(
    store: &Arc<Store>,
    batch: Batch,
    patience: Duration,
) -> Result<Lsn, StoreError> {
    let batch = Arc::new(batch);
    let deadline = tokio::time::Instant::now() + patience;
    let mut wait = Duration::from_millis(10);
    loop {
        match commit(store, Arc::clone(&batch)).await {
            Err(StoreError::Overloaded(n)) => {
                if tokio::time::Instant::now() + wait > deadline {
                    return Err(StoreError::Overloaded(n));
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_into_batches_and_reports_bad_records() {
        let input = b"{\"message\":\"a\"}\n{\"message\":\"b\"}\nnot json\n{\"message\":\"c\"}\n";
        let origin = Origin::Input(Arc::from("test"));
        let opts = ParseOptions::default();
        let prep = Prep {
            tenant: TenantId(4),
            templates: None,
            detector: None,
            anomalies: None,
        };
        let p = parse(input, Some(Format::Jsonl), &origin, &opts, &prep, 2);
        assert_eq!(p.events, 3);
        assert_eq!(p.bad, 1);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.batches.len(), 2);
        assert!(p.batches.iter().all(|b| b.batch.tenant == TenantId(4)));
        let doc: serde_json::Value =
            serde_json::from_slice(&p.batches[0].batch.events[0].doc).unwrap();
        assert_eq!(doc["message"], "a");
        assert!(doc.get("event.ingested").is_some());
    }
}
