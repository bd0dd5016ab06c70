//! Detection on ingestion: every event that becomes durable passes through the tenant's enabled
//! Sigma rules, and what they find becomes alerts.
//!
//! ```text
//! parse ─► Detector::scan (same thread, per event) ─► Store::append ─► WAL fsync ─► ack
//!                └─ Findings (drafts + captures) ──────────────── submit ─► worker thread
//!                                            worker: LiveCorrelator per tenant (lateness-bounded
//!                                            reorder) ─► suppressions ─► AlertRepo (dedup) ─► stats
//! ```
//!
//! Matching happens while parsing, so it costs no second pass over the events and the findings
//! of a batch are only submitted once the batch is durable: a refused batch raises no alert. One
//! worker thread owns the correlation state and writes alerts in one transaction per burst of
//! batches. At start, the worker rebuilds each tenant's correlation windows from the stored
//! events of the last correlation timespan (plus the lateness), so windows survive restarts
//! and crashes; alerts of that rebuild are not raised again.
//!
//! Tenants share one detector until they import rules of their own: a tenant with imports gets a
//! detector compiled from the server's parsed rules plus its imports, swapped in at run time
//! (`Detection::set_imports`); the worker then moves that tenant's windows to the new engine by
//! the same rebuild.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use kasbah_detect::{Detector, Findings, LiveCorrelator, Mode, RuleReport, RuleStats, ScanScratch};
use kasbah_event::{Event, TenantId};
use kasbah_meta::RuleImport;
use kasbah_meta::{AlertRepo, NewAlert, Suppression};
use kasbah_parse::{Format, Item, Origin, ParseOptions};
use kasbah_sigma::{CorrelationAlert, Diagnostic, RuleId, RuleSet};
use kasbah_store::Store;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::config::DetectionConfig;

/// Latency samples kept for the percentiles.
const LATENCY_SAMPLES: usize = 10_000;
/// Most events a retro-hunt reads.
pub const MAX_RETRO_EVENTS: u64 = 20_000_000;

/// Counters of the detection path.
#[derive(Debug, Default)]
pub struct DetectionMetrics {
    /// Batches waiting for the worker.
    pub queued: AtomicU64,
    /// Rule matches (before deduplication).
    pub hits: AtomicU64,
    /// Alerts created.
    pub created: AtomicU64,
    /// Drafts merged into an existing alert.
    pub merged: AtomicU64,
    /// Drafts swallowed by a suppression.
    pub suppressed: AtomicU64,
    /// Correlation captures that arrived beyond the lateness bound.
    pub late: AtomicU64,
    /// Drafts lost because the alert database failed.
    pub failed: AtomicU64,
    /// Correlation alerts raised.
    pub correlations: AtomicU64,
    /// Correlation captures made by a tenant's previous detector, arriving after it was
    /// replaced (rules imported or removed); the windows were rebuilt from the store instead.
    pub stale_captures: AtomicU64,
}

enum Job {
    Found {
        tenant: TenantId,
        findings: Findings,
        received: Instant,
    },
    /// Releases the correlation buffers and answers once every earlier job is recorded (end of
    /// a bulk load such as the demo seed).
    Flush(Sender<()>),
    /// A tenant's detector was replaced: its windows move to the new engine.
    Swap(TenantId),
}

/// A tenant's live correlation state, with the detector whose engine it follows.
struct Live {
    detector: Arc<Detector>,
    lc: LiveCorrelator<'static>,
}

impl Live {
    fn new(detector: Arc<Detector>, lateness: Duration) -> Live {
        let lc = LiveCorrelator::new(detector.engine().clone(), lateness);
        Live { detector, lc }
    }
}

struct Inner {
    /// The detector of tenants without imported rules.
    base: Arc<Detector>,
    /// The rules `base` was compiled from, parsed: a tenant's detector compiles them with the
    /// tenant's imports.
    base_set: RuleSet,
    engine_cfg: kasbah_sigma::Config,
    /// Tenants with imported rules, and their own detectors.
    tenants: RwLock<FxHashMap<TenantId, Arc<Detector>>>,
    id_seed: u64,
    alerts: Arc<dyn AlertRepo>,
    store: Arc<Store>,
    cfg: DetectionConfig,
    stats: Mutex<RuleStats>,
    suppressions: RwLock<FxHashMap<TenantId, Arc<Vec<Suppression>>>>,
    metrics: DetectionMetrics,
    latencies: Mutex<VecDeque<u32>>,
    pending: AtomicU64,
}

/// The detection service of a server.
pub struct Detection {
    inner: Arc<Inner>,
    imports: Mutex<()>,
    tx: Mutex<Option<Sender<Job>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What checking an import found.
#[derive(Debug)]
pub struct ImportCheck {
    /// Ids (or titles) of its detection and correlation rules.
    pub rule_ids: Vec<String>,
    /// Ids (or names, or titles) of its filters.
    pub filters: Vec<String>,
    /// Caveats of documents that load (e.g. a filter naming no loaded rule).
    pub warnings: Vec<Diagnostic>,
}

/// What a retro-hunt asks for.
#[derive(Debug)]
pub struct RetroRequest {
    /// Only these rules (`None`: every rule enabled for the tenant).
    pub rules: Option<Vec<RuleId>>,
    /// Rules that are not loaded on the server (a new rule set): when set, these run instead
    /// of the server's, all of them, and `rules` is ignored.
    pub adhoc: Option<Arc<Detector>>,
    /// Only events matching this filter.
    pub filter: kasbah_query::Expr,
    /// Events at or after this time, ns.
    pub from: Option<i64>,
    /// Events before this time, ns.
    pub to: Option<i64>,
}

/// What a retro-hunt did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetroOutcome {
    /// Events read.
    pub events: u64,
    /// Rule matches.
    pub matches: u64,
    /// Alerts created.
    pub created: u64,
    /// Drafts merged into existing retrospective alerts.
    pub merged: u64,
    /// Drafts suppressed.
    pub suppressed: u64,
    /// The event limit was reached.
    pub truncated: bool,
}

fn now_ns() -> i64 {
    kasbah_event::Timestamp::now().as_nanos()
}

fn secs_ns(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
}

/// Turns a stored event back into an event the engine can match.
pub fn stored_event(row: &kasbah_query::Row, tenant: TenantId) -> Option<Event> {
    let bytes = serde_json::to_vec(row).ok()?;
    let opts = ParseOptions {
        tenant,
        keep_raw: false,
        ..ParseOptions::default()
    };
    let mut got = None;
    let mut sink = |item: Item| {
        if let Item::Event(e) = item {
            got = Some(*e);
        }
    };
    kasbah_parse::parse_bytes(
        &bytes,
        Some(Format::Jsonl),
        &Origin::Input(Arc::from("store")),
        &opts,
        &mut sink,
    );
    got
}

impl Inner {
    fn suppressions_of(&self, tenant: TenantId) -> Option<Arc<Vec<Suppression>>> {
        self.suppressions.read().ok()?.get(&tenant).cloned()
    }

    /// Turns fired correlations into drafts of reported, enabled rules; `received` is when
    /// the batch that completed them arrived (for the latency), when known.
    fn correlation_drafts(
        &self,
        detector: &Detector,
        tenant: TenantId,
        fired: &[CorrelationAlert],
        retro: bool,
        received: Option<Instant>,
        out: &mut Vec<(NewAlert, Option<Instant>)>,
    ) {
        let engine = detector.engine();
        for a in fired {
            let Some(info) = engine.rule(a.rule) else {
                continue;
            };
            if info.reported && detector.is_enabled(tenant, a.rule) {
                let d = kasbah_detect::alert::from_correlation(tenant, a, info, retro);
                out.push((d, received));
                if !retro {
                    self.metrics.correlations.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Releases every tenant's reorder buffer (shutdown, end of a bulk load) into drafts.
    fn drain_all(
        &self,
        live: &mut FxHashMap<TenantId, Live>,
        out: &mut Vec<(NewAlert, Option<Instant>)>,
    ) {
        for (tenant, l) in live.iter_mut() {
            let mut fired = Vec::new();
            l.lc.drain(&mut fired);
            self.correlation_drafts(&l.detector, *tenant, &fired, false, None, out);
        }
    }

    /// The detector a tenant's events go through.
    fn detector_for(&self, tenant: TenantId) -> Arc<Detector> {
        self.tenants
            .read()
            .ok()
            .and_then(|m| m.get(&tenant).cloned())
            .unwrap_or_else(|| self.base.clone())
    }

    /// Applies suppressions and records drafts; returns (created, merged, suppressed).
    fn record(&self, drafts: Vec<(NewAlert, Option<Instant>)>, live: bool) -> (u64, u64, u64) {
        if drafts.is_empty() {
            return (0, 0, 0);
        }
        let wall = now_ns();
        let mut kept = Vec::with_capacity(drafts.len());
        let mut started = Vec::with_capacity(drafts.len());
        let mut swallowed: FxHashMap<i64, u64> = FxHashMap::default();
        let mut suppressed = 0u64;
        let mut lists: FxHashMap<TenantId, Option<Arc<Vec<Suppression>>>> = FxHashMap::default();
        for (a, t) in drafts {
            let list = lists
                .entry(a.tenant)
                .or_insert_with(|| self.suppressions_of(a.tenant));
            if let Some(s) = list
                .as_deref()
                .and_then(|l| kasbah_detect::suppress::covering(l, &a, wall))
            {
                *swallowed.entry(s.id).or_default() += a.count;
                suppressed += 1;
                continue;
            }
            kept.push(a);
            started.push(t);
        }
        if !swallowed.is_empty() {
            let hits: Vec<(i64, u64)> = swallowed.into_iter().collect();
            if let Err(e) = self.alerts.count_suppressed(&hits) {
                tracing::warn!(error = %e, "could not count suppressed alerts");
            }
        }
        self.metrics
            .suppressed
            .fetch_add(suppressed, Ordering::Relaxed);
        let window = secs_ns(self.cfg.dedup_window_secs);
        let result = match self.alerts.record_alerts(&kept, window) {
            Ok(r) => r,
            Err(e) => {
                self.metrics
                    .failed
                    .fetch_add(kept.len() as u64, Ordering::Relaxed);
                tracing::error!(error = %e, alerts = kept.len(), "alerts could not be recorded");
                return (0, 0, suppressed);
            }
        };
        let (mut created, mut merged) = (0u64, 0u64);
        let mut stats = self.stats.lock().ok();
        let mut lat = self.latencies.lock().ok();
        for ((a, (_, new)), t) in kept.iter().zip(result.iter()).zip(started) {
            if *new {
                created += 1;
            } else {
                merged += 1;
            }
            if live {
                if let Some(s) = stats.as_mut() {
                    s.record(a.tenant, &a.rule_id, &a.entities, a.count, *new, wall);
                }
                if let (Some(l), Some(t)) = (lat.as_mut(), t) {
                    if l.len() >= LATENCY_SAMPLES {
                        l.pop_front();
                    }
                    l.push_back(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
            }
        }
        self.metrics.created.fetch_add(created, Ordering::Relaxed);
        self.metrics.merged.fetch_add(merged, Ordering::Relaxed);
        (created, merged, suppressed)
    }

    fn process(&self, live: &mut FxHashMap<TenantId, Live>, jobs: Vec<Job>) {
        let now = Instant::now();
        let lateness = Duration::from_secs(self.cfg.lateness_secs);
        let mut drafts = Vec::new();
        let mut barriers = Vec::new();
        let mut done = 0u64;
        for job in jobs {
            match job {
                Job::Flush(tx) => {
                    self.drain_all(live, &mut drafts);
                    barriers.push(tx);
                }
                Job::Swap(tenant) => {
                    // What the old engine's windows already hold fires now (as at a flush);
                    // then the windows are rebuilt from the store with the new engine.
                    if let Some(mut old) = live.remove(&tenant) {
                        let mut fired = Vec::new();
                        old.lc.drain(&mut fired);
                        self.correlation_drafts(
                            &old.detector,
                            tenant,
                            &fired,
                            false,
                            None,
                            &mut drafts,
                        );
                    }
                    if let Some(l) = self.rebuild_tenant(tenant) {
                        live.insert(tenant, l);
                    }
                }
                Job::Found {
                    tenant,
                    findings,
                    received,
                } => {
                    done += 1;
                    self.metrics
                        .hits
                        .fetch_add(findings.hits, Ordering::Relaxed);
                    if !findings.captures.is_empty() {
                        let detector = self.detector_for(tenant);
                        if findings.generation != detector.generation() {
                            self.metrics
                                .stale_captures
                                .fetch_add(findings.captures.len() as u64, Ordering::Relaxed);
                        } else {
                            let l = live
                                .entry(tenant)
                                .or_insert_with(|| Live::new(detector.clone(), lateness));
                            let late = l.lc.late();
                            let mut fired = Vec::new();
                            l.lc.push(findings.captures, now, &mut fired);
                            self.metrics
                                .late
                                .fetch_add(l.lc.late() - late, Ordering::Relaxed);
                            self.correlation_drafts(
                                &l.detector,
                                tenant,
                                &fired,
                                false,
                                Some(received),
                                &mut drafts,
                            );
                        }
                    }
                    drafts.extend(findings.alerts.into_iter().map(|a| (a, Some(received))));
                }
            }
        }
        self.record(drafts, true);
        // Counted down only once recorded, so `queued == 0` means every submitted batch's
        // alerts are visible.
        self.metrics.queued.fetch_sub(done, Ordering::Relaxed);
        for b in barriers {
            let _ = b.send(());
        }
    }

    fn tick(&self, live: &mut FxHashMap<TenantId, Live>) {
        let now = Instant::now();
        let mut drafts = Vec::new();
        for (tenant, l) in live.iter_mut() {
            let mut fired = Vec::new();
            l.lc.tick(now, &mut fired);
            self.correlation_drafts(&l.detector, *tenant, &fired, false, None, &mut drafts);
        }
        self.record(drafts, true);
    }

    /// Rebuilds a tenant's correlation windows from its stored events of the last correlation
    /// timespan (plus the lateness); what fires while rebuilding was raised before.
    fn rebuild_tenant(&self, tenant: TenantId) -> Option<Live> {
        let detector = self.detector_for(tenant);
        let horizon = detector.engine().correlation_horizon()?;
        let lateness = Duration::from_secs(self.cfg.lateness_secs);
        let span = horizon.saturating_add(secs_ns(self.cfg.lateness_secs));
        let all = kasbah_query::parse("*").ok()?;
        let newest = self.store.newest(tenant)?;
        let mut scratch = ScanScratch::new();
        let mut captures = Vec::new();
        let scanned = self.store.scan(
            tenant,
            &all.filter,
            Some(newest.saturating_sub(span)),
            None,
            |_, row| {
                if let Some(ev) = stored_event(&row, tenant) {
                    detector.captures(&ev, &mut scratch, &mut captures);
                }
                true
            },
        );
        if let Err(e) = scanned {
            tracing::warn!(tenant = tenant.0, error = %e, "correlation state not rebuilt");
            return None;
        }
        if captures.is_empty() {
            return None;
        }
        let n = captures.len();
        let mut l = Live::new(detector, lateness);
        // Everything is released (in event-time order) and what fires is discarded.
        let mut discard = Vec::new();
        l.lc.push(captures, Instant::now(), &mut discard);
        l.lc.drain(&mut discard);
        tracing::info!(
            tenant = tenant.0,
            captures = n,
            "correlation windows rebuilt"
        );
        Some(l)
    }

    fn run(&self, rx: Receiver<Job>) {
        let mut live: FxHashMap<TenantId, Live> = FxHashMap::default();
        for tenant in self.store.tenants() {
            if let Some(l) = self.rebuild_tenant(tenant) {
                live.insert(tenant, l);
            }
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(job) => {
                    let mut jobs = vec![job];
                    while jobs.len() < 512 {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    self.process(&mut live, jobs);
                }
                Err(RecvTimeoutError::Timeout) => self.tick(&mut live),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let pending: usize = live.values().map(|l| l.lc.pending()).sum();
            self.pending.store(pending as u64, Ordering::Relaxed);
        }
        // Shutdown: windows whose events all arrived are evaluated; open ones are rebuilt from
        // the store at the next start.
        let mut drafts = Vec::new();
        self.drain_all(&mut live, &mut drafts);
        self.record(drafts, true);
    }
}

impl Detection {
    /// Starts the detection worker over the parsed rules (compiled into the shared detector
    /// here) and the tenants' imported rule files. `id_seed` makes the `event.id`s of this
    /// process unique (a random number).
    pub fn start(
        rules: kasbah_detect::loader::Parsed,
        imports: &[RuleImport],
        id_seed: u64,
        alerts: Arc<dyn AlertRepo>,
        store: Arc<Store>,
        cfg: DetectionConfig,
    ) -> Detection {
        let engine = kasbah_sigma::Engine::build(&rules.set, &rules.config);
        let base = Arc::new(Detector::new(Arc::new(engine), id_seed));
        let mut by_tenant: FxHashMap<TenantId, Vec<RuleImport>> = FxHashMap::default();
        for i in imports {
            by_tenant.entry(i.tenant).or_default().push(i.clone());
        }
        let mut tenants = FxHashMap::default();
        for (t, list) in by_tenant {
            let built = build_tenant(&rules.set, &rules.config, &list, id_seed);
            for d in built.engine().diagnostics().iter().filter(|d| d.is_error()) {
                tracing::warn!(tenant = t.0, rule = %d, "imported rule skipped");
            }
            tenants.insert(t, Arc::new(built));
        }
        let inner = Arc::new(Inner {
            base,
            base_set: rules.set,
            engine_cfg: rules.config,
            tenants: RwLock::new(tenants),
            id_seed,
            alerts,
            store,
            cfg,
            stats: Mutex::new(RuleStats::new()),
            suppressions: RwLock::default(),
            metrics: DetectionMetrics::default(),
            latencies: Mutex::new(VecDeque::new()),
            pending: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel();
        let worker_inner = inner.clone();
        let worker = std::thread::Builder::new()
            .name("kasbah-detect".into())
            .spawn(move || worker_inner.run(rx))
            .ok();
        Detection {
            inner,
            imports: Mutex::new(()),
            tx: Mutex::new(Some(tx)),
            worker: Mutex::new(worker),
        }
    }

    /// Held while a tenant's imports change (check, store, switch), so two changes cannot
    /// interleave.
    pub fn imports_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.imports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The shared detector (tenants without imported rules).
    pub fn base(&self) -> &Arc<Detector> {
        &self.inner.base
    }

    /// The detector of a tenant: its own when it imported rules, else the shared one.
    pub fn detector(&self, tenant: TenantId) -> Arc<Detector> {
        self.inner.detector_for(tenant)
    }

    /// Checks a file of Sigma documents a tenant wants to import, against the server's rules
    /// and the tenant's other imports: every document must load, ids must be new, and at least
    /// one rule or filter must result.
    pub fn check_import(
        &self,
        existing: &[RuleImport],
        name: &str,
        yaml: &str,
    ) -> Result<ImportCheck, Vec<Diagnostic>> {
        let path = import_path(None, name);
        let mut set = self.inner.base_set.clone();
        add_imports(&mut set, existing);
        set.add(&path, yaml);
        let engine = kasbah_sigma::Engine::build(&set, &self.inner.engine_cfg);
        let mine = |d: &&Diagnostic| *d.path == *path;
        let errors: Vec<Diagnostic> = engine
            .diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .filter(mine)
            .cloned()
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let rule_ids: Vec<String> = engine
            .rules()
            .iter()
            .filter(|r| *r.meta.path == *path)
            .map(|r| r.id_or_title().to_owned())
            .collect();
        let filters: Vec<String> = set
            .documents()
            .iter()
            .filter_map(|d| match d {
                kasbah_sigma::ast::Document::Filter(f) if *f.meta.path == *path => Some(
                    f.meta
                        .id
                        .clone()
                        .or_else(|| f.meta.name.clone())
                        .unwrap_or_else(|| f.meta.title.clone()),
                ),
                _ => None,
            })
            .collect();
        if rule_ids.is_empty() && filters.is_empty() {
            return Err(vec![Diagnostic::new(
                &Arc::from(path.as_str()),
                0,
                kasbah_sigma::Code::Structure,
                "the file holds no rule, correlation or filter",
            )]);
        }
        let warnings = engine
            .diagnostics()
            .iter()
            .filter(|d| !d.is_error())
            .filter(mine)
            .cloned()
            .collect();
        Ok(ImportCheck {
            rule_ids,
            filters,
            warnings,
        })
    }

    /// Compiles a tenant's imported rule files into its own detector (or goes back to the
    /// shared one when there are none), applies its rule states, and moves its correlation
    /// windows to the new engine. Blocking: compiling takes as long as loading the rules.
    pub fn set_imports(&self, tenant: TenantId, imports: &[RuleImport]) -> kasbah_meta::Result<()> {
        let inner = &self.inner;
        let next = (!imports.is_empty()).then(|| {
            Arc::new(build_tenant(
                &inner.base_set,
                &inner.engine_cfg,
                imports,
                inner.id_seed,
            ))
        });
        if let Some(d) = &next {
            apply_states(&inner.alerts.rule_states(tenant)?, tenant, d);
        }
        if let Ok(mut m) = inner.tenants.write() {
            match next {
                Some(d) => m.insert(tenant, d),
                None => m.remove(&tenant),
            };
        }
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            let _ = tx.send(Job::Swap(tenant));
        }
        Ok(())
    }

    /// Compiles rules given as text (a retro-hunt's new rule set) with the server's placeholders
    /// and mappings. Errors are the diagnostics of the documents that did not load.
    pub fn compile_adhoc(
        &self,
        yaml: &str,
    ) -> Result<Arc<Detector>, Vec<kasbah_sigma::Diagnostic>> {
        let opts = kasbah_detect::LoadOptions {
            placeholders: self.inner.cfg.placeholders.clone(),
            mappings: self.inner.cfg.mappings.clone(),
            cache: None,
        };
        let texts = [("request".to_owned(), yaml.to_owned())];
        let loaded = kasbah_detect::loader::load_with(&[], &texts, &opts).map_err(|e| {
            vec![kasbah_sigma::Diagnostic::new(
                &Arc::from("config"),
                0,
                kasbah_sigma::Code::Structure,
                e.to_string(),
            )]
        })?;
        let errors: Vec<_> = loaded.skipped().cloned().collect();
        if !errors.is_empty() || loaded.loaded() == 0 {
            return Err(errors);
        }
        let engine = loaded.engine;
        Ok(Arc::new(Detector::new(
            Arc::new(engine),
            self.inner.id_seed,
        )))
    }

    /// Counters.
    pub fn metrics(&self) -> &DetectionMetrics {
        &self.inner.metrics
    }

    /// The configuration in force.
    pub fn config(&self) -> &DetectionConfig {
        &self.inner.cfg
    }

    /// Hands the findings of a durable batch to the worker.
    pub fn submit(&self, tenant: TenantId, findings: Findings, received: Instant) {
        if findings.is_empty() {
            return;
        }
        if let Ok(tx) = self.tx.lock()
            && let Some(tx) = tx.as_ref()
        {
            self.inner.metrics.queued.fetch_add(1, Ordering::Relaxed);
            if tx
                .send(Job::Found {
                    tenant,
                    findings,
                    received,
                })
                .is_err()
            {
                self.inner.metrics.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Releases the correlation buffers (instead of waiting for late events) and waits until
    /// everything submitted before the call has been recorded (blocking).
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        let sent = self
            .tx
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|s| s.send(Job::Flush(tx)).is_ok()))
            .unwrap_or(false);
        if sent {
            let _ = rx.recv_timeout(Duration::from_secs(60));
        }
    }

    /// Reloads a tenant's rule states and suppressions from the repository.
    pub fn reload(&self, tenant: TenantId) -> kasbah_meta::Result<()> {
        let states = self.inner.alerts.rule_states(tenant)?;
        apply_states(&states, tenant, &self.inner.base);
        let own = self
            .inner
            .tenants
            .read()
            .ok()
            .and_then(|m| m.get(&tenant).cloned());
        if let Some(d) = own {
            apply_states(&states, tenant, &d);
        }
        let sup = self.inner.alerts.suppressions(tenant, now_ns(), false)?;
        if let Ok(mut m) = self.inner.suppressions.write() {
            m.insert(tenant, Arc::new(sup));
        }
        Ok(())
    }

    /// Per-rule statistics of a tenant, with the configured budget applied.
    pub fn rule_report(&self, tenant: TenantId) -> Vec<RuleReport> {
        self.inner
            .stats
            .lock()
            .map(|s| s.report(tenant, self.inner.cfg.alert_budget_per_hour, now_ns()))
            .unwrap_or_default()
    }

    /// Correlation captures waiting in reorder buffers (all tenants).
    pub fn pending(&self) -> u64 {
        self.inner.pending.load(Ordering::Relaxed)
    }

    /// Ingest-to-alert latency percentiles over the last samples: `(p50, p99, samples)`.
    pub fn latency(&self) -> (Duration, Duration, usize) {
        let mut v: Vec<u32> = self
            .inner
            .latencies
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default();
        if v.is_empty() {
            return (Duration::ZERO, Duration::ZERO, 0);
        }
        v.sort_unstable();
        let at = |q: f64| {
            let i = ((v.len() - 1) as f64 * q).round() as usize;
            Duration::from_micros(u64::from(v.get(i).copied().unwrap_or(0)))
        };
        (at(0.50), at(0.99), v.len())
    }

    /// Runs rules over stored events of a tenant, raising retrospective alerts (blocking).
    pub fn retro_hunt(
        &self,
        tenant: TenantId,
        req: &RetroRequest,
    ) -> Result<RetroOutcome, kasbah_store::StoreError> {
        let inner = &self.inner;
        let own = inner.detector_for(tenant);
        let detector: &Detector = req.adhoc.as_deref().unwrap_or(&own);
        let wanted: Option<FxHashSet<RuleId>> = req
            .rules
            .as_ref()
            .filter(|_| req.adhoc.is_none())
            .map(|ids| ids.iter().copied().collect());
        let mut out = RetroOutcome::default();
        let mut scratch = ScanScratch::new();
        let mut found = Findings::default();
        inner
            .store
            .scan(tenant, &req.filter, req.from, req.to, |_, row| {
                if out.events >= MAX_RETRO_EVENTS {
                    out.truncated = true;
                    return false;
                }
                out.events += 1;
                if let Some(mut ev) = stored_event(&row, tenant) {
                    detector.scan(tenant, &mut ev, &mut scratch, Mode::Retro, &mut found);
                }
                true
            })?;
        out.matches = found.hits;
        // Correlations over the whole range, in event time.
        let fired = kasbah_sigma::Correlator::run_batch(detector.engine(), found.captures);
        let mut drafts: Vec<(NewAlert, Option<Instant>)> =
            found.alerts.into_iter().map(|a| (a, None)).collect();
        inner.correlation_drafts(detector, tenant, &fired, true, None, &mut drafts);
        drafts.retain(|(a, _)| {
            wanted
                .as_ref()
                .is_none_or(|w| detector.rule_id(&a.rule_id).is_some_and(|r| w.contains(&r)))
        });
        for (a, _) in &mut drafts {
            // Retrospective alerts never merge into live ones.
            a.dedup_key.insert_str(0, "retro\u{1f}");
        }
        (out.created, out.merged, out.suppressed) = inner.record(drafts, false);
        Ok(out)
    }

    /// Stops the worker after it has recorded everything submitted.
    pub fn shutdown(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(h) = self.worker.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }
}

/// The path imported rules are known by (in diagnostics and rule listings): never a file, so
/// no handler reads it from disk. `id` is `None` while an import is checked.
pub fn import_path(id: Option<i64>, name: &str) -> String {
    match id {
        Some(id) => format!("{IMPORT_PREFIX}{id}/{name}"),
        None => format!("{IMPORT_PREFIX}new/{name}"),
    }
}

/// How the paths of imported rules start.
pub const IMPORT_PREFIX: &str = "tenant-import/";

/// The imported file id in a rule's path, for imported rules.
pub fn import_id(path: &str) -> Option<i64> {
    let rest = path.strip_prefix(IMPORT_PREFIX)?;
    rest.split('/').next()?.parse().ok()
}

/// Adds a tenant's imported files to a rule set.
fn add_imports(set: &mut RuleSet, list: &[RuleImport]) {
    for imp in list {
        set.add(&import_path(Some(imp.id), &imp.name), &imp.yaml);
    }
}

/// A tenant's detector: the server's rules and the tenant's imports in one engine, so imported
/// correlations can use the server's rules and imported filters tune them for this tenant only.
fn build_tenant(
    base: &RuleSet,
    cfg: &kasbah_sigma::Config,
    imports: &[RuleImport],
    id_seed: u64,
) -> Detector {
    let mut set = base.clone();
    add_imports(&mut set, imports);
    let engine = kasbah_sigma::Engine::build(&set, cfg);
    Detector::new(Arc::new(engine), id_seed)
}

/// Applies a tenant's stored rule states (disabled rules) to a detector.
fn apply_states(states: &[kasbah_meta::RuleState], tenant: TenantId, d: &Detector) {
    let off: Vec<RuleId> = states
        .iter()
        .filter(|s| !s.enabled)
        .filter_map(|s| d.rule_id(&s.rule_id))
        .collect();
    d.set_disabled(tenant, off);
}
