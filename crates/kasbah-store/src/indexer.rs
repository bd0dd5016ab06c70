//! The indexer: owns every partition writer, adds logged batches to the tenant's active partition,
//! commits on an interval, rolls partitions over, applies retention and advances the log
//! checkpoint.
//!
//! Visibility: a batch is searchable as soon as it is logged. The log thread lists it in the
//! tenant's *pending* list, which searches scan in memory, and acknowledges it; the indexer adds it
//! to the partition writer later. A commit swaps in a new view atomically: fresh searchers, and a
//! pending list that keeps only the batches above the commit's LSN, so a search sees each event
//! exactly once. Acknowledging from the log thread, not from here, keeps a commit (a second or
//! more of segment serialisation, during which this thread adds nothing) from stalling every
//! input: they keep parsing and logging into the queue, which this thread then drains.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kasbah_event::TenantId;
use tantivy::{IndexWriter, Searcher};

use crate::error::{Result, StoreError};
use crate::partition::{self, Partition, PartitionMeta};
use crate::schema;
use crate::shape::ShapeWriter;
use crate::wal::{self, Batch, Lsn};
use crate::{Metrics, Retention, StoreConfig, now_ns};

/// A partition as searches see it.
#[derive(Clone)]
pub struct PartView {
    /// Partition number.
    pub id: u32,
    /// State as of the searcher's commit.
    pub meta: PartitionMeta,
    /// Point-in-time searcher.
    pub searcher: Searcher,
    /// Field handles.
    pub fields: schema::Fields,
    /// Key sequences of its stored documents.
    pub shapes: Arc<crate::shape::Shapes>,
}

/// Batches logged but not yet committed to the index (searched in memory), with their LSNs.
pub type Pending = Arc<RwLock<Vec<(Lsn, Arc<Batch>)>>>;

/// What a search of one tenant reads: committed partitions plus pending batches.
#[derive(Clone, Default)]
pub struct TenantView {
    /// Partitions, newest first.
    pub partitions: Vec<PartView>,
    /// Logged batches not yet in `partitions`.
    pub pending: Pending,
}

/// The shared, swappable view of one tenant.
pub type SharedView = Arc<RwLock<Arc<TenantView>>>;

/// All tenants' views, shared between the indexer and searches.
pub type Views = Arc<RwLock<HashMap<TenantId, SharedView>>>;

struct Active {
    part: Arc<Partition>,
    writer: IndexWriter,
    meta: PartitionMeta,
    dirty: bool,
    /// Classification of the last event's keys, reused while keys repeat.
    kinds: schema::KindsCache,
    /// The partition's shapes, extended as new key sequences arrive.
    shapes: ShapeWriter,
}

impl Active {
    /// A partition taking events, nothing added yet.
    fn new(part: Arc<Partition>, writer: IndexWriter, meta: PartitionMeta) -> Self {
        Active {
            shapes: ShapeWriter::new(part.shapes.clone()),
            part,
            writer,
            meta,
            dirty: false,
            kinds: schema::KindsCache::default(),
        }
    }
}

struct TenantState {
    dir: PathBuf,
    sealed: Vec<(Arc<Partition>, PartitionMeta)>,
    active: Option<Active>,
    next_id: u32,
    /// Highest LSN this tenant holds durably (replay skips at or below it).
    checkpoint: u64,
    view: SharedView,
}

/// The acknowledgement callback of an append.
pub type Done = Box<dyn FnOnce(Result<Lsn>) + Send>;

/// Who lists a logged batch as pending (searchable) and acknowledges it.
pub enum Ack {
    /// The log thread did both: the tenant's view existed.
    Listed,
    /// The indexer does both once it has opened the tenant (its first batch; replay has no one
    /// to acknowledge).
    ByIndexer(Option<Done>),
}

/// Messages to the indexer thread.
pub enum Msg {
    /// A logged batch, its size in the backpressure account, and how it is acknowledged.
    Batch(Lsn, Arc<Batch>, u64, Ack),
    /// Commit now and report.
    Flush(std::sync::mpsc::Sender<Result<()>>),
    /// Seal the active partitions and report.
    Seal(std::sync::mpsc::Sender<Result<()>>),
    /// Apply retention now and report.
    ApplyRetention(std::sync::mpsc::Sender<Result<()>>),
    /// Set a tenant's retention.
    Retention(TenantId, Retention),
}

/// A logged batch that could not be indexed yet (its tenant or partition could not be opened, or
/// its writer failed). It stays in memory and in the log, which is not truncated past it, and is
/// retried at every commit; the tenant's later batches queue behind it so that the tenant's
/// checkpoint (replay skips at or below it) never passes it.
struct Held {
    lsn: Lsn,
    batch: Arc<Batch>,
    /// Its size in its tenant's held account.
    bytes: u64,
    /// Whether it is in the tenant's pending list already.
    listed: bool,
}

/// Bytes of held batches per tenant, shared with [`crate::Store::append`], which refuses a tenant
/// whose held batches reach [`held_limit`]: a tenant that cannot be indexed is held back by
/// itself, while the other tenants, whose in-flight account held batches leave, go on.
pub type HeldBytes = Arc<RwLock<HashMap<TenantId, u64>>>;

/// The held bytes at which a tenant's appends are refused: a quarter of the in-flight bound.
pub fn held_limit(cfg: &StoreConfig) -> u64 {
    cfg.max_inflight_bytes / 4
}

/// Why [`Indexer::add`] failed, and whether the batch was listed as pending before.
struct AddError {
    error: StoreError,
    listed: bool,
}

/// The indexer's state.
pub struct Indexer {
    root: PathBuf,
    wal_dir: PathBuf,
    cfg: StoreConfig,
    tenants: HashMap<TenantId, TenantState>,
    views: Views,
    metrics: Arc<Metrics>,
    retention: HashMap<TenantId, Retention>,
    /// Highest LSN received.
    last: Lsn,
    /// Backpressure bytes added since the last commit.
    uncommitted_bytes: u64,
    uncommitted_docs: u64,
    last_commit: Instant,
    last_retention: Instant,
    /// Batches waiting to be indexed, in log order.
    held: VecDeque<Held>,
    /// Their bytes per tenant.
    held_bytes: HeldBytes,
}

impl Indexer {
    /// Opens every tenant's partitions found under `root/tenants`.
    pub fn open(
        root: PathBuf,
        wal_dir: PathBuf,
        cfg: StoreConfig,
        views: Views,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let mut ix = Indexer {
            root,
            wal_dir,
            cfg,
            tenants: HashMap::new(),
            views,
            metrics,
            retention: HashMap::new(),
            last: Lsn(0),
            uncommitted_bytes: 0,
            uncommitted_docs: 0,
            last_commit: Instant::now(),
            last_retention: Instant::now(),
            held: VecDeque::new(),
            held_bytes: HeldBytes::default(),
        };
        let tdir = ix.root.join("tenants");
        fs::create_dir_all(&tdir).map_err(StoreError::io(&tdir))?;
        for entry in fs::read_dir(&tdir).map_err(StoreError::io(&tdir))? {
            let entry = entry.map_err(StoreError::io(&tdir))?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            {
                // One tenant's damaged partition does not keep the others from starting: its
                // batches are held (and its appends refused once they fill its share) until it
                // opens, which every commit tries again.
                if let Err(e) = ix.tenant(TenantId(id)) {
                    tracing::error!(error = %e, tenant = id, "a tenant's partitions could not be opened; its events are held until they can");
                    ix.metrics.index_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(ix)
    }

    /// The held bytes per tenant, for the append path.
    pub fn held_bytes(&self) -> HeldBytes {
        self.held_bytes.clone()
    }

    /// Sets the highest LSN already covered (the log checkpoint) before replay.
    pub fn set_last(&mut self, lsn: Lsn) {
        self.last = self.last.max(lsn);
    }

    fn tenant(&mut self, id: TenantId) -> Result<&mut TenantState> {
        if !self.tenants.contains_key(&id) {
            let dir = self.root.join("tenants").join(id.0.to_string());
            fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
            let mut parts = Vec::new();
            for entry in fs::read_dir(&dir).map_err(StoreError::io(&dir))? {
                let entry = entry.map_err(StoreError::io(&dir))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.ends_with(".tmp") {
                    // A partition whose creation did not finish: it was never used.
                    let _ = fs::remove_dir_all(entry.path());
                    continue;
                }
                if let Some(pid) = partition::parse_dir_name(name) {
                    let p = Partition::open(&entry.path(), pid)?;
                    let meta = p.meta()?;
                    parts.push((Arc::new(p), meta));
                }
            }
            parts.sort_by_key(|(p, _)| p.id);
            let next_id = parts.last().map_or(1, |(p, _)| p.id + 1);
            let checkpoint = parts.iter().map(|(_, m)| m.lsn).max().unwrap_or(0);
            // The newest unsealed partition becomes active again.
            let mut active = None;
            if parts.last().is_some_and(|(_, m)| !m.sealed)
                && let Some((part, meta)) = parts.pop()
            {
                let writer = part.writer(self.cfg.writer_heap_bytes, self.cfg.writer_threads)?;
                active = Some(Active::new(part, writer, meta));
            }
            let shared: SharedView = Arc::default();
            let st = TenantState {
                dir,
                sealed: parts,
                active,
                next_id,
                checkpoint,
                view: shared.clone(),
            };
            self.views
                .write()
                .map_err(|_| StoreError::Closed)?
                .insert(id, shared);
            self.tenants.insert(id, st);
            if let Some(st) = self.tenants.get_mut(&id) {
                publish(st);
            }
        }
        self.tenants.get_mut(&id).ok_or(StoreError::Closed)
    }

    /// Takes a logged batch (from the log thread, or from replay with zero backpressure bytes):
    /// indexes it, or holds it when it cannot be indexed yet ([`Held`]), then sends the
    /// acknowledgement the indexer owes. Acknowledging a held batch is right: it is durable in the
    /// log, which is kept from it on.
    pub fn offer(&mut self, lsn: Lsn, batch: Arc<Batch>, bytes: u64, ack: Ack) {
        self.last = self.last.max(lsn);
        let tenant = batch.tenant;
        let listed = matches!(ack, Ack::Listed);
        if self.held.iter().any(|h| h.batch.tenant == tenant) {
            self.hold(lsn, batch, bytes, listed);
        } else if let Err(e) = self.add(lsn, &batch, bytes, listed) {
            tracing::error!(
                error = %e.error,
                tenant = tenant.0,
                lsn = lsn.0,
                "indexing failed; the batch is kept in the write-ahead log and retried at every commit"
            );
            self.metrics.index_errors.fetch_add(1, Ordering::Relaxed);
            self.hold(lsn, batch, bytes, e.listed);
        }
        if let Ack::ByIndexer(Some(done)) = ack {
            done(Ok(lsn));
        }
    }

    /// Holds a batch. Its bytes leave the in-flight account, which every tenant shares, for its
    /// tenant's held account, which refuses only that tenant's appends once full.
    fn hold(&mut self, lsn: Lsn, batch: Arc<Batch>, bytes: u64, listed: bool) {
        self.metrics
            .held_events
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
        self.metrics.release_inflight(bytes);
        let size = batch.encoded_len() as u64;
        if let Ok(mut held) = self.held_bytes.write() {
            *held.entry(batch.tenant).or_default() += size;
        }
        self.held.push_back(Held {
            lsn,
            batch,
            bytes: size,
            listed,
        });
    }

    /// A held batch is indexed: its bytes leave its tenant's held account.
    fn unhold(&mut self, h: &Held) {
        self.metrics
            .held_events
            .fetch_sub(h.batch.events.len() as u64, Ordering::Relaxed);
        if let Ok(mut held) = self.held_bytes.write()
            && let Some(b) = held.get_mut(&h.batch.tenant)
        {
            *b = b.saturating_sub(h.bytes);
            if *b == 0 {
                held.remove(&h.batch.tenant);
            }
        }
    }

    /// Retries the held batches in log order; a tenant whose batch fails again keeps the rest of
    /// its batches held.
    fn retry_held(&mut self) {
        let mut failed = HashSet::new();
        let mut still = VecDeque::new();
        while let Some(mut h) = self.held.pop_front() {
            if !failed.contains(&h.batch.tenant) {
                // Zero bytes: they left the in-flight account when the batch was held.
                match self.add(h.lsn, &h.batch, 0, h.listed) {
                    Ok(()) => {
                        self.unhold(&h);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.error, tenant = h.batch.tenant.0, lsn = h.lsn.0, "indexing a held batch failed again");
                        h.listed = e.listed;
                        failed.insert(h.batch.tenant);
                    }
                }
            }
            still.push_back(h);
        }
        self.held = still;
    }

    /// Adds a logged batch to its tenant's active partition, listing it as pending first unless
    /// it is `listed` already. Opening the tenant or creating its partition, what fails in
    /// practice, comes before anything is listed or added.
    fn add(
        &mut self,
        lsn: Lsn,
        batch: &Arc<Batch>,
        bytes: u64,
        listed: bool,
    ) -> std::result::Result<(), AddError> {
        let unlisted = |error| AddError {
            error,
            listed: false,
        };
        let cfg = self.cfg.clone();
        let metrics = self.metrics.clone();
        let st = self.tenant(batch.tenant).map_err(unlisted)?;
        if lsn.0 <= st.checkpoint {
            return Ok(()); // already in a committed partition (replay after a partial commit)
        }
        if st.active.is_none() {
            let id = st.next_id;
            let (part, writer) = Partition::create(
                &st.dir,
                id,
                st.checkpoint,
                now_ns(),
                cfg.writer_heap_bytes,
                cfg.writer_threads,
            )
            .map_err(unlisted)?;
            st.next_id += 1;
            let meta = part.meta().map_err(unlisted)?;
            st.active = Some(Active::new(Arc::new(part), writer, meta));
        }
        if !listed {
            list_pending(&st.view, lsn, batch.clone());
        }
        let Some(active) = st.active.as_mut() else {
            return Err(AddError {
                error: StoreError::Closed,
                listed: true,
            });
        };
        let mut added = 0u64;
        for ev in &batch.events {
            match schema::document(
                &active.part.fields,
                ev.ts,
                &ev.doc,
                &mut active.kinds,
                Some(&mut active.shapes),
            ) {
                Some(doc) => {
                    // tantivy fails here only once its indexing thread is gone: the writer
                    // cannot commit any more either, so the log is never truncated past this
                    // batch and a restart replays it exactly once.
                    active.writer.add_document(doc).map_err(|e| AddError {
                        error: e.into(),
                        listed: true,
                    })?;
                    active.meta.min_ts = active.meta.min_ts.min(ev.ts);
                    active.meta.max_ts = active.meta.max_ts.max(ev.ts);
                    added += 1;
                }
                None => {
                    metrics.bad_documents.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        active.meta.docs += added;
        active.meta.lsn = lsn.0;
        active.dirty = true;
        metrics.indexed_events.fetch_add(added, Ordering::Relaxed);
        self.uncommitted_docs += added;
        self.uncommitted_bytes += bytes;
        Ok(())
    }

    /// The highest LSN the log may be checkpointed and truncated at: the last one received, or
    /// just below the oldest held batch.
    fn durable_upto(&self) -> Lsn {
        match self.held.front() {
            Some(h) => Lsn(h.lsn.0.saturating_sub(1)).min(self.last),
            None => self.last,
        }
    }

    /// Whether a commit is due.
    pub fn commit_due(&self) -> bool {
        self.uncommitted_docs > 0
            && (self.last_commit.elapsed() >= self.cfg.commit_interval
                || self.uncommitted_docs >= self.cfg.max_uncommitted_docs)
    }

    /// Time until the next periodic task.
    pub fn next_deadline(&self) -> Duration {
        let commit = self
            .cfg
            .commit_interval
            .saturating_sub(self.last_commit.elapsed());
        let retention = Duration::from_secs(60).saturating_sub(self.last_retention.elapsed());
        commit.min(retention).max(Duration::from_millis(5))
    }

    /// Retries held batches, commits every tenant with new documents, then advances and truncates
    /// the log up to the oldest held batch.
    pub fn commit(&mut self) -> Result<()> {
        if !self.held.is_empty() {
            self.retry_held();
        }
        let cfg = self.cfg.clone();
        let now = now_ns();
        for st in self.tenants.values_mut() {
            let Some(active) = st.active.as_mut() else {
                continue;
            };
            if !active.dirty {
                continue;
            }
            let roll = active.meta.docs >= cfg.partition_max_docs
                || now.saturating_sub(active.meta.created)
                    >= cfg.partition_max_age.as_nanos() as i64;
            active.meta.sealed = roll;
            let mut prepared = active.writer.prepare_commit()?;
            prepared.set_payload(&partition::payload(&active.meta, &active.part.shapes));
            prepared.commit()?;
            active.part.reload()?;
            active.dirty = false;
            st.checkpoint = st.checkpoint.max(active.meta.lsn);
            if roll && let Some(a) = st.active.take() {
                a.writer.wait_merging_threads()?;
                st.sealed.push((a.part, a.meta));
            }
            publish(st);
        }
        let upto = self.durable_upto();
        wal::write_checkpoint(&self.wal_dir, upto)?;
        let deleted = wal::truncate(&self.wal_dir, upto)?;
        if deleted > 0 {
            tracing::debug!(
                deleted,
                checkpoint = upto.0,
                "write-ahead log segments deleted"
            );
        }
        self.metrics
            .committed_events
            .fetch_add(self.uncommitted_docs, Ordering::Relaxed);
        self.metrics.release_inflight(self.uncommitted_bytes);
        self.metrics
            .wal_bytes
            .store(wal::size(&self.wal_dir), Ordering::Relaxed);
        self.uncommitted_bytes = 0;
        self.uncommitted_docs = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Records a tenant's retention policy.
    pub fn set_retention(&mut self, tenant: TenantId, r: Retention) {
        self.retention.insert(tenant, r);
    }

    /// Drops partitions beyond each tenant's retention (age of the newest event, then total size).
    pub fn apply_retention(&mut self, force: bool) -> Result<()> {
        if !force && self.last_retention.elapsed() < Duration::from_secs(60) {
            return Ok(());
        }
        self.last_retention = Instant::now();
        let now = now_ns();
        for (tenant, st) in self.tenants.iter_mut() {
            let policy = self
                .retention
                .get(tenant)
                .copied()
                .unwrap_or(self.cfg.default_retention);
            let mut drop_ids = Vec::new();
            if let Some(age) = policy.max_age {
                let cutoff = now.saturating_sub(age.as_nanos().min(i64::MAX as u128) as i64);
                drop_ids.extend(
                    st.sealed
                        .iter()
                        .filter(|(_, m)| m.max_ts < cutoff)
                        .map(|(p, _)| p.id),
                );
            }
            if let Some(max) = policy.max_bytes {
                let mut sizes: Vec<(i64, u32, u64)> = st
                    .sealed
                    .iter()
                    .filter(|(p, _)| !drop_ids.contains(&p.id))
                    .map(|(p, m)| (m.max_ts, p.id, p.disk_bytes()))
                    .collect();
                let mut total: u64 = sizes.iter().map(|s| s.2).sum::<u64>()
                    + st.active.as_ref().map_or(0, |a| a.part.disk_bytes());
                sizes.sort();
                for (_, id, bytes) in sizes {
                    if total <= max {
                        break;
                    }
                    drop_ids.push(id);
                    total = total.saturating_sub(bytes);
                }
            }
            if drop_ids.is_empty() {
                continue;
            }
            let (gone, kept): (Vec<_>, Vec<_>) = st
                .sealed
                .drain(..)
                .partition(|(p, _)| drop_ids.contains(&p.id));
            st.sealed = kept;
            publish(st);
            for (p, m) in gone {
                tracing::info!(
                    tenant = tenant.0,
                    partition = p.id,
                    docs = m.docs,
                    "retention: dropping partition"
                );
                self.metrics
                    .dropped_by_retention
                    .fetch_add(m.docs, Ordering::Relaxed);
                let dir = p.dir.clone();
                drop(p);
                fs::remove_dir_all(&dir).map_err(StoreError::io(&dir))?;
            }
        }
        Ok(())
    }

    /// Seals every tenant's active partition now (used by retention tests and rollover on demand).
    pub fn seal_all(&mut self) -> Result<()> {
        for st in self.tenants.values_mut() {
            if let Some(mut a) = st.active.take() {
                a.meta.sealed = true;
                let mut prepared = a.writer.prepare_commit()?;
                prepared.set_payload(&partition::payload(&a.meta, &a.part.shapes));
                prepared.commit()?;
                a.part.reload()?;
                a.writer.wait_merging_threads()?;
                st.checkpoint = st.checkpoint.max(a.meta.lsn);
                st.sealed.push((a.part, a.meta));
                publish(st);
            }
        }
        Ok(())
    }

    /// Commits, then stops every writer.
    pub fn close(mut self) -> Result<()> {
        self.commit()?;
        for st in self.tenants.values_mut() {
            if let Some(a) = st.active.take() {
                a.writer.wait_merging_threads()?;
            }
        }
        Ok(())
    }

    /// The thread body: consume messages until the channel closes.
    pub fn run(mut self, rx: std::sync::mpsc::Receiver<Msg>) -> Result<()> {
        use std::sync::mpsc::RecvTimeoutError;
        loop {
            match rx.recv_timeout(self.next_deadline()) {
                Ok(Msg::Batch(lsn, batch, bytes, ack)) => self.offer(lsn, batch, bytes, ack),
                Ok(Msg::Seal(reply)) => {
                    let r = self.commit().and_then(|()| self.seal_all());
                    let _ = reply.send(r);
                }
                Ok(Msg::ApplyRetention(reply)) => {
                    let _ = reply.send(self.apply_retention(true));
                }
                Ok(Msg::Flush(reply)) => {
                    let r = self.commit();
                    let _ = reply.send(r);
                }
                Ok(Msg::Retention(t, r)) => self.set_retention(t, r),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.commit_due()
                && let Err(e) = self.commit()
            {
                tracing::error!(error = %e, "commit failed; will retry");
                self.metrics.index_errors.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(e) = self.apply_retention(false) {
                tracing::error!(error = %e, "retention failed");
            }
        }
        self.close()
    }
}

/// Lists a logged batch in a tenant's pending list: searchable from now until a commit covers it.
/// Holds the view's read lock while pushing, so a [`publish`] (which takes the write lock) never
/// swaps the list out from under a push.
pub(crate) fn list_pending(view: &SharedView, lsn: Lsn, batch: Arc<Batch>) {
    if let Ok(v) = view.read()
        && let Ok(mut pending) = v.pending.write()
    {
        pending.push((lsn, batch));
    }
}

/// Publishes a tenant's current partitions to searches, with the pending batches they do not
/// hold yet (above the tenant's checkpoint), in one swap.
fn publish(st: &TenantState) {
    let mut partitions: Vec<PartView> = st
        .sealed
        .iter()
        .map(|(p, m)| (p, m.clone()))
        .chain(st.active.as_ref().map(|a| (&a.part, committed_meta(a))))
        .map(|(p, meta)| PartView {
            id: p.id,
            meta,
            searcher: p.searcher(),
            fields: p.fields,
            shapes: p.shapes.clone(),
        })
        .collect();
    partitions.sort_by_key(|p| std::cmp::Reverse(p.meta.max_ts));
    if let Ok(mut v) = st.view.write() {
        let kept: Vec<(Lsn, Arc<Batch>)> = v
            .pending
            .read()
            .map(|p| {
                p.iter()
                    .filter(|(lsn, _)| lsn.0 > st.checkpoint)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        *v = Arc::new(TenantView {
            partitions,
            pending: Arc::new(RwLock::new(kept)),
        });
    }
}

/// The active partition's state as of its last commit (what its searcher holds).
fn committed_meta(a: &Active) -> PartitionMeta {
    if a.dirty {
        a.part.meta().unwrap_or_else(|_| a.meta.clone())
    } else {
        a.meta.clone()
    }
}
