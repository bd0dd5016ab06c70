//! Kasbah's embedded event store.
//!
//! ```text
//! append(batch) ──► WAL thread: group commit, fsync, list as pending, ack ──► indexer thread ──► tantivy partitions
//!                                                     │ pending (searchable at once)
//! search(tenant, query) ◄── committed partitions + pending batches ◄┘
//! ```
//!
//! * **Durable acknowledgement.** [`Store::append`] calls back only after the batch is in the
//!   write-ahead log and `fsync` returned; batches arriving together share one `fsync`.
//! * **Exactly once after a crash.** Each partition commits its last LSN with its documents; on
//!   open the log is replayed from the checkpoint and batches a partition already holds are skipped.
//! * **Multi-tenant.** Each tenant has its own partitions under `tenants/<id>/`; a search names the
//!   tenants it may read.
//! * **Backpressure.** Bytes accepted but not yet committed to the index are bounded; beyond the
//!   bound `append` fails with [`StoreError::Overloaded`] and nothing is half-accepted.
//!
//! The data directory layout is documented in `docs/storage.md` and versioned by [`layout`].

mod cidr;
mod error;
mod flat;
mod indexer;
pub mod layout;
mod partition;
mod schema;
pub mod search;
mod shape;
#[cfg(test)]
mod upgrade_tests;
pub mod wal;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use error::{Result, StoreError};
pub use indexer::{TenantView, Views};
pub use kasbah_event::TenantId;
pub use partition::PartitionMeta;
pub use search::{SearchRequest, SearchResult, TenantScope};
pub use wal::{Batch, Lsn, StoredEvent};

use indexer::{Ack, Done, Indexer, Msg};
use wal::WalWriter;

/// How long to keep a tenant's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Drop partitions whose newest event is older than this.
    pub max_age: Option<Duration>,
    /// Drop the oldest partitions while the tenant uses more bytes than this.
    pub max_bytes: Option<u64>,
}

/// Tuning of the store. The defaults suit one machine with a few cores.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Commit the index at least this often.
    pub commit_interval: Duration,
    /// ... or when this many documents are uncommitted.
    pub max_uncommitted_docs: u64,
    /// Roll a partition over after this many documents.
    pub partition_max_docs: u64,
    /// Roll a partition over after this long (wall clock).
    pub partition_max_age: Duration,
    /// Refuse appends while more than this many bytes are accepted but not committed to the index.
    pub max_inflight_bytes: u64,
    /// Roll log segments at this size.
    pub wal_segment_bytes: u64,
    /// Indexing memory per partition writer.
    pub writer_heap_bytes: usize,
    /// Indexing threads per partition writer.
    pub writer_threads: usize,
    /// Retention of tenants without their own policy.
    pub default_retention: Retention,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            commit_interval: Duration::from_secs(5),
            max_uncommitted_docs: 500_000,
            partition_max_docs: 20_000_000,
            partition_max_age: Duration::from_secs(24 * 3600),
            max_inflight_bytes: 512 << 20,
            wal_segment_bytes: 64 << 20,
            writer_heap_bytes: 128 << 20,
            writer_threads: 1,
            default_retention: Retention {
                max_age: Some(Duration::from_secs(90 * 24 * 3600)),
                max_bytes: None,
            },
        }
    }
}

/// Counters and gauges of the store, read by `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Batches durably logged.
    pub logged_batches: AtomicU64,
    /// Events durably logged.
    pub logged_events: AtomicU64,
    /// Bytes written to the log.
    pub logged_bytes: AtomicU64,
    /// `fsync` calls of the log (one per group commit).
    pub wal_syncs: AtomicU64,
    /// Events added to the index.
    pub indexed_events: AtomicU64,
    /// Events committed in the index.
    pub committed_events: AtomicU64,
    /// Events refused because the store was overloaded.
    pub rejected_overload: AtomicU64,
    /// Stored documents that could not be indexed (not a JSON object): counted and skipped (the
    /// server writes only objects, so these come from a damaged or foreign log).
    pub bad_documents: AtomicU64,
    /// Logged events whose batch could not be indexed yet (its tenant or partition could not
    /// be opened): kept in the log and retried at every commit.
    pub held_events: AtomicU64,
    /// Failed index operations.
    pub index_errors: AtomicU64,
    /// Events dropped by retention.
    pub dropped_by_retention: AtomicU64,
    /// Bytes accepted but not yet committed to the index.
    pub inflight_bytes: AtomicU64,
    /// Bytes in the log.
    pub wal_bytes: AtomicU64,
    /// Events replayed from the log at the last open.
    pub replayed_events: AtomicU64,
}

impl Metrics {
    /// Takes `bytes` out of the in-flight account (committed, or moved to a tenant's held
    /// account), never below zero.
    pub(crate) fn release_inflight(&self, bytes: u64) {
        let _ = self
            .inflight_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(b.saturating_sub(bytes))
            });
    }
}

struct AppendReq {
    batch: Arc<Batch>,
    bytes: u64,
    done: Done,
}

/// The event store of one data directory.
pub struct Store {
    root: PathBuf,
    cfg: StoreConfig,
    views: Views,
    metrics: Arc<Metrics>,
    held: indexer::HeldBytes,
    wal_tx: Mutex<Option<Sender<AppendReq>>>,
    index_tx: Mutex<Option<Sender<Msg>>>,
    threads: Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>,
}

/// Current wall-clock time in UTC nanoseconds.
pub(crate) fn now_ns() -> i64 {
    kasbah_event::Timestamp::now().as_nanos()
}

impl Store {
    /// Opens (or creates) the store in `root`, replays the log, and starts its threads.
    pub fn open(root: &Path, cfg: StoreConfig) -> Result<Store> {
        layout::prepare(root)?;
        let wal_dir = root.join("wal");
        let metrics = Arc::new(Metrics::default());
        let views: Views = Arc::default();
        let mut indexer = Indexer::open(
            root.to_path_buf(),
            wal_dir.clone(),
            cfg.clone(),
            views.clone(),
            metrics.clone(),
        )?;
        let (writer, recovery) = WalWriter::open(&wal_dir, cfg.wal_segment_bytes)?;
        let checkpoint = wal::read_checkpoint(&wal_dir);
        indexer.set_last(checkpoint);
        let mut replayed = 0u64;
        let corrupt = wal::replay(&wal_dir, checkpoint, |lsn, batch| {
            replayed += batch.events.len() as u64;
            indexer.offer(lsn, Arc::new(batch), 0, Ack::ByIndexer(None));
            Ok(())
        })?;
        indexer.set_last(recovery.last);
        indexer.commit()?;
        metrics.replayed_events.store(replayed, Ordering::Relaxed);
        if replayed > 0 || corrupt > 0 || recovery.truncated_bytes > 0 {
            tracing::info!(
                replayed,
                corrupt,
                torn_bytes = recovery.truncated_bytes,
                "recovered from the write-ahead log"
            );
        }

        let held = indexer.held_bytes();
        let (index_tx, index_rx) = channel::<Msg>();
        let (wal_tx, wal_rx) = channel::<AppendReq>();
        let ix_thread = std::thread::Builder::new()
            .name("kasbah-indexer".into())
            .spawn(move || {
                if let Err(e) = indexer.run(index_rx) {
                    tracing::error!(error = %e, "indexer stopped");
                }
            })
            .map_err(StoreError::io(root))?;
        let m = metrics.clone();
        let itx = index_tx.clone();
        let wal_views = views.clone();
        let wal_thread = std::thread::Builder::new()
            .name("kasbah-wal".into())
            .spawn(move || wal_loop(writer, wal_rx, itx, wal_views, m))
            .map_err(StoreError::io(root))?;
        Ok(Store {
            root: root.to_path_buf(),
            cfg,
            views,
            metrics,
            held,
            wal_tx: Mutex::new(Some(wal_tx)),
            index_tx: Mutex::new(Some(index_tx)),
            threads: Mutex::new(Some((wal_thread, ix_thread))),
        })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Queues a batch; `done` is called once it is durable (or refused). Never blocks on I/O.
    /// Takes an `Arc` so a caller retrying after [`StoreError::Overloaded`] does not copy events.
    pub fn append(
        &self,
        batch: impl Into<Arc<Batch>>,
        done: impl FnOnce(Result<Lsn>) + Send + 'static,
    ) {
        let batch: Arc<Batch> = batch.into();
        let bytes = batch.encoded_len() as u64;
        let events = batch.events.len() as u64;
        // A tenant whose batches cannot be indexed is refused once its held batches fill their
        // share; the others go on.
        let held = self
            .held
            .read()
            .ok()
            .and_then(|h| h.get(&batch.tenant).copied())
            .unwrap_or(0);
        if held > 0 && held + bytes > indexer::held_limit(&self.cfg) {
            self.metrics
                .rejected_overload
                .fetch_add(events, Ordering::Relaxed);
            done(Err(StoreError::Overloaded(held)));
            return;
        }
        let inflight = self
            .metrics
            .inflight_bytes
            .fetch_add(bytes, Ordering::AcqRel);
        if inflight + bytes > self.cfg.max_inflight_bytes && inflight > 0 {
            self.metrics
                .inflight_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            self.metrics
                .rejected_overload
                .fetch_add(events, Ordering::Relaxed);
            done(Err(StoreError::Overloaded(inflight)));
            return;
        }
        let req = AppendReq {
            batch,
            bytes,
            done: Box::new(done),
        };
        let sent = match self.wal_tx.lock() {
            Ok(g) => match g.as_ref() {
                Some(tx) => tx.send(req).map_err(|e| e.0),
                None => Err(req),
            },
            Err(_) => Err(req),
        };
        if let Err(req) = sent {
            self.metrics
                .inflight_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            (req.done)(Err(StoreError::Closed));
        }
    }

    /// Appends and waits until the batch is durable.
    pub fn append_blocking(&self, batch: Batch) -> Result<Lsn> {
        let (tx, rx) = channel();
        self.append(batch, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    fn to_indexer(&self, msg: Msg) -> Result<()> {
        let g = self.index_tx.lock().map_err(|_| StoreError::Closed)?;
        g.as_ref()
            .ok_or(StoreError::Closed)?
            .send(msg)
            .map_err(|_| StoreError::Closed)
    }

    /// Commits everything acknowledged so far to the index.
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = channel();
        self.to_indexer(Msg::Flush(tx))?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Seals every active partition (the next event starts a new one).
    pub fn seal(&self) -> Result<()> {
        let (tx, rx) = channel();
        self.to_indexer(Msg::Seal(tx))?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Applies retention now instead of at the next periodic check.
    pub fn apply_retention(&self) -> Result<()> {
        let (tx, rx) = channel();
        self.to_indexer(Msg::ApplyRetention(tx))?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Sets a tenant's retention policy.
    pub fn set_retention(&self, tenant: TenantId, r: Retention) -> Result<()> {
        self.to_indexer(Msg::Retention(tenant, r))
    }

    /// The current view of a tenant (`None` if it has no data yet).
    pub fn view(&self, tenant: TenantId) -> Option<Arc<TenantView>> {
        let views = self.views.read().ok()?;
        let shared = views.get(&tenant)?;
        let v = shared.read().ok()?.clone();
        Some(v)
    }

    /// Runs a search over the tenants of `scope`.
    pub fn search(&self, scope: &TenantScope, req: &SearchRequest<'_>) -> Result<SearchResult> {
        let tenants = match scope {
            TenantScope::One(t) => vec![*t],
            TenantScope::Many(list) => list.clone(),
            TenantScope::All => self.tenants(),
        };
        let views: Vec<Arc<TenantView>> =
            tenants.into_iter().filter_map(|t| self.view(t)).collect();
        search::search(&views, req)
    }

    /// Visits a tenant's events matching `filter` in `[from, to)` (ns), in no particular order,
    /// until `f` returns false (retro-hunts, rebuilding correlation state). Returns the number
    /// of events visited.
    pub fn scan(
        &self,
        tenant: TenantId,
        filter: &kasbah_query::Expr,
        from: Option<i64>,
        to: Option<i64>,
        f: impl FnMut(i64, kasbah_query::Row) -> bool,
    ) -> Result<u64> {
        let views: Vec<Arc<TenantView>> = self.view(tenant).into_iter().collect();
        search::scan(&views, filter, from, to, f)
    }

    /// The newest event time of a tenant, ns (`None` without data).
    pub fn newest(&self, tenant: TenantId) -> Option<i64> {
        let v = self.view(tenant)?;
        let parts = v.partitions.iter().map(|p| p.meta.max_ts);
        let pending = v.pending.read().ok().and_then(|p| {
            p.iter()
                .flat_map(|(_, b)| b.events.iter().map(|e| e.ts))
                .max()
        });
        parts.chain(pending).max()
    }

    /// Tenants with data.
    pub fn tenants(&self) -> Vec<TenantId> {
        self.views
            .read()
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Stops accepting, writes out the log, commits the index and joins the threads. Idempotent.
    pub fn shutdown(&self) -> Result<()> {
        if let Ok(mut g) = self.wal_tx.lock() {
            g.take();
        }
        let threads = self.threads.lock().ok().and_then(|mut t| t.take());
        let Some((wal, ix)) = threads else {
            return Ok(());
        };
        // The log thread drains its queue and exits when its channel closes; then closing ours
        // lets the indexer commit and exit.
        let _ = wal.join();
        if let Ok(mut g) = self.index_tx.lock() {
            g.take();
        }
        ix.join().map_err(|_| StoreError::Closed)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The log thread: gather what is queued, write it, fsync once, list as pending (searchable),
/// acknowledge, hand over to the indexer.
fn wal_loop(
    mut writer: WalWriter,
    rx: Receiver<AppendReq>,
    index_tx: Sender<Msg>,
    views: Views,
    m: Arc<Metrics>,
) {
    const MAX_GROUP_BYTES: u64 = 16 << 20;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut bytes = group[0].bytes;
        while bytes < MAX_GROUP_BYTES {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.bytes;
                    group.push(r);
                }
                Err(_) => break,
            }
        }
        let batches: Vec<&Batch> = group.iter().map(|r| r.batch.as_ref()).collect();
        match writer.append(&batches) {
            Ok(lsns) => {
                m.wal_syncs.fetch_add(1, Ordering::Relaxed);
                m.logged_bytes.fetch_add(bytes, Ordering::Relaxed);
                m.wal_bytes.fetch_add(bytes, Ordering::Relaxed);
                for (req, lsn) in group.into_iter().zip(lsns) {
                    m.logged_batches.fetch_add(1, Ordering::Relaxed);
                    m.logged_events
                        .fetch_add(req.batch.events.len() as u64, Ordering::Relaxed);
                    // Durable now; acknowledged once searchable. A tenant's first batch waits
                    // for the indexer, which opens the tenant and its view.
                    let view = views
                        .read()
                        .ok()
                        .and_then(|v| v.get(&req.batch.tenant).cloned());
                    // A listed batch is queued for the indexer before it is acknowledged, so a
                    // `flush` the caller sends after the acknowledgement comes after it in the
                    // indexer's queue and commits it.
                    let (ack, done) = match view {
                        Some(view) => {
                            indexer::list_pending(&view, lsn, req.batch.clone());
                            (Ack::Listed, Some(req.done))
                        }
                        None => (Ack::ByIndexer(Some(req.done)), None),
                    };
                    let unsent = index_tx.send(Msg::Batch(lsn, req.batch, req.bytes, ack));
                    if let Err(e) = unsent
                        && let Msg::Batch(_, _, _, Ack::ByIndexer(Some(done))) = e.0
                    {
                        done(Ok(lsn));
                    }
                    if let Some(done) = done {
                        done(Ok(lsn));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write-ahead log append failed; the batches are refused");
                let msg = e.to_string();
                for req in group {
                    m.inflight_bytes.fetch_sub(req.bytes, Ordering::AcqRel);
                    (req.done)(Err(StoreError::Wal(msg.clone())));
                }
            }
        }
    }
}
