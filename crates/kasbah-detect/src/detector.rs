//! The detection step of ingestion: one compiled engine shared by every tenant, each tenant's
//! enabled rules, and the [`Findings`] of a batch (alert drafts merged by dedup key, and the
//! captures correlation rules need).
//!
//! Events that match a reported, enabled rule get an `event.id` (kept if the event already had
//! one) so alerts can link to them in the store; other events are not touched.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use kasbah_event::{Event, FieldId, TenantId, Value};
use kasbah_meta::NewAlert;
use kasbah_sigma::{Capture, Engine, Hit, RuleId, Scratch};
use rustc_hash::FxHashMap;

use crate::alert;

/// The `event.id` field.
const EVENT_ID: &str = "event.id";

/// Where the scanned events come from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Events about to be stored: matched events get an `event.id` (kept if they have one) so
    /// alerts can link to them.
    Live,
    /// Events already in the store (retro-hunts): only their stored `event.id` is used, since
    /// an id given now would name nothing in the store; drafts are marked retrospective.
    Retro,
}

/// Per-thread scratch space of [`Detector::scan`].
#[derive(Default)]
pub struct ScanScratch {
    scratch: Scratch,
    hits: Vec<Hit>,
}

impl ScanScratch {
    /// Empty scratch space.
    pub fn new() -> Self {
        ScanScratch::default()
    }
}

/// What a batch of events produced.
#[derive(Debug, Default)]
pub struct Findings {
    /// Alert drafts, merged by dedup key within the batch.
    pub alerts: Vec<NewAlert>,
    index: FxHashMap<String, usize>,
    /// Detections of rules that feed correlations.
    pub captures: Vec<Capture>,
    /// Matches of enabled rules (before merging).
    pub hits: u64,
    /// The [`Detector::generation`] that produced the captures: captures name correlations by
    /// their place in one engine, so they mean nothing to another.
    pub generation: u64,
}

impl Findings {
    /// Adds a draft, merging it into one with the same key.
    pub fn push(&mut self, a: NewAlert) {
        self.hits += a.count;
        match self.index.get(&a.dedup_key) {
            Some(&i) => {
                if let Some(slot) = self.alerts.get_mut(i) {
                    alert::merge(slot, a);
                }
            }
            None => {
                self.index.insert(a.dedup_key.clone(), self.alerts.len());
                self.alerts.push(a);
            }
        }
    }

    /// Merges one more match into the draft with this key, if there is one (the cheap path for
    /// repeated matches: no details are built).
    fn merge_hit(&mut self, key: &str, ts: i64, event_id: Option<&str>) -> bool {
        let Some(a) = self.index.get(key).and_then(|&i| self.alerts.get_mut(i)) else {
            return false;
        };
        a.count += 1;
        a.first_seen = a.first_seen.min(ts);
        a.last_seen = a.last_seen.max(ts);
        if let Some(id) = event_id {
            alert::add_event_id(&mut a.event_ids, id);
        }
        self.hits += 1;
        true
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty() && self.captures.is_empty()
    }

    /// Moves everything of `other` into `self` (both from the same detector).
    pub fn absorb(&mut self, other: Findings) {
        for a in other.alerts {
            self.push(a);
        }
        // Captures of two detectors never mix: the newer detector's win (see `scan`).
        if other.captures.is_empty()
            || (other.generation < self.generation && !self.captures.is_empty())
        {
            return;
        }
        if other.generation != self.generation {
            self.captures.clear();
            self.generation = other.generation;
        }
        self.captures.extend(other.captures);
    }
}

/// Rules disabled in a tenant, indexed by [`RuleId`].
type Mask = Arc<Vec<bool>>;

/// Source of [`Detector::generation`]s.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);
/// Counter of the `event.id`s of every detector of the process (a tenant's detector and the
/// shared one must never hand out the same id).
static NEXT_EVENT_ID: AtomicU64 = AtomicU64::new(0);

/// The engine and the per-tenant rule states.
pub struct Detector {
    engine: Arc<Engine>,
    generation: u64,
    by_id: FxHashMap<String, RuleId>,
    disabled: RwLock<FxHashMap<TenantId, Mask>>,
    id_prefix: u64,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("rules", &self.engine.rules().len())
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// A detector over `engine`. `id_seed` makes the `event.id`s it assigns unique to this
    /// process (pass a random number).
    pub fn new(engine: Arc<Engine>, id_seed: u64) -> Detector {
        let by_id = engine
            .rules()
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id_or_title().to_owned(), RuleId(i as u32)))
            .collect();
        Detector {
            engine,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            by_id,
            disabled: RwLock::default(),
            id_prefix: id_seed,
        }
    }

    /// The compiled engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A number no other detector of this process has: tells whose captures a [`Findings`]
    /// holds when a tenant's detector is replaced (rules imported or removed).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The rule with this id (or title, for rules without an id).
    pub fn rule_id(&self, id: &str) -> Option<RuleId> {
        self.by_id.get(id).copied()
    }

    /// Sets the rules disabled in a tenant (every other rule is enabled).
    pub fn set_disabled(&self, tenant: TenantId, rules: impl IntoIterator<Item = RuleId>) {
        let mut mask = vec![false; self.engine.rules().len()];
        let mut any = false;
        for r in rules {
            if let Some(m) = mask.get_mut(r.0 as usize) {
                *m = true;
                any = true;
            }
        }
        if let Ok(mut d) = self.disabled.write() {
            if any {
                d.insert(tenant, Arc::new(mask));
            } else {
                d.remove(&tenant);
            }
        }
    }

    fn mask(&self, tenant: TenantId) -> Option<Mask> {
        self.disabled.read().ok()?.get(&tenant).cloned()
    }

    /// Whether a rule runs for a tenant.
    pub fn is_enabled(&self, tenant: TenantId, rule: RuleId) -> bool {
        self.mask(tenant)
            .is_none_or(|m| !m.get(rule.0 as usize).copied().unwrap_or(false))
    }

    /// A new unique event id.
    pub fn new_event_id(&self) -> String {
        let n = NEXT_EVENT_ID.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:016x}", self.id_prefix)
    }

    /// Matches one event of `tenant`, adding its alert drafts and captures to `out`.
    pub fn scan(
        &self,
        tenant: TenantId,
        ev: &mut Event,
        s: &mut ScanScratch,
        mode: Mode,
        out: &mut Findings,
    ) {
        s.hits.clear();
        self.engine.matches(ev, &mut s.scratch, &mut s.hits);
        if s.hits.is_empty() {
            return;
        }
        if out.generation != self.generation {
            // Captures of a replaced detector would name the wrong correlations here; the
            // worker rebuilds the tenant's windows from the store when a detector changes.
            out.captures.clear();
            out.generation = self.generation;
        }
        self.engine.captures(ev, &s.hits, &mut out.captures);
        let mask = self.mask(tenant);
        // The event's id and entities, the same for every rule it matches: computed once, at
        // the first reported match.
        let mut about: Option<(Option<String>, Vec<kasbah_event::Entity>)> = None;
        for h in &s.hits {
            let Some(info) = self.engine.rule(h.rule) else {
                continue;
            };
            let off = mask
                .as_ref()
                .is_some_and(|m| m.get(h.rule.0 as usize).copied().unwrap_or(false));
            if !info.reported || off {
                continue;
            }
            let (event_id, entities) =
                about.get_or_insert_with(|| (self.event_id(ev, mode), alert::entities(ev)));
            let key = alert::dedup_key(info.id_or_title(), entities);
            if !out.merge_hit(&key, ev.timestamp.as_nanos(), event_id.as_deref()) {
                out.push(alert::draft(
                    tenant,
                    ev,
                    info,
                    entities.clone(),
                    key,
                    event_id.as_deref(),
                    mode == Mode::Retro,
                ));
            }
        }
    }

    /// The event's `event.id`; live events without one get a new one stamped on them.
    pub fn event_id(&self, ev: &mut Event, mode: Mode) -> Option<String> {
        match (ev.get_name(EVENT_ID), mode) {
            (Some(Value::Str(s)), _) if !s.is_empty() => Some(s.to_string()),
            (_, Mode::Retro) => None,
            (_, Mode::Live) => {
                let id = self.new_event_id();
                ev.fields.set(FieldId::intern(EVENT_ID), id.as_str());
                Some(id)
            }
        }
    }

    /// Matches one event for its correlation captures only (rebuilding correlation state): no
    /// draft, no id.
    pub fn captures(&self, ev: &Event, s: &mut ScanScratch, out: &mut Vec<Capture>) {
        s.hits.clear();
        self.engine.matches(ev, &mut s.scratch, &mut s.hits);
        if !s.hits.is_empty() {
            self.engine.captures(ev, &s.hits, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::{Source, Timestamp};
    use kasbah_sigma::{Config, RuleSet};

    fn detector() -> Detector {
        let mut set = RuleSet::new();
        set.add(
            "r.yml",
            "title: Whoami\nid: w-1\nlevel: medium\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n---\ntitle: Any exe\nid: p-1\nlevel: low\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '.exe'\n  condition: sel\n---\ntitle: Many whoami\nid: c-1\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [w-1]\n  group-by: [Computer]\n  timespan: 1h\n  condition: {gte: 2}\n  generate: true\n",
        );
        Detector::new(Arc::new(Engine::build(&set, &Config::default())), 0xabc)
    }

    fn ev(image: &str, host: &str) -> Event {
        let mut e = Event::new(
            Timestamp::from_nanos(1),
            Source::Input {
                name: Arc::from("t"),
            },
        );
        e.fields
            .set_name("Channel", "Microsoft-Windows-Sysmon/Operational");
        e.fields.set_name("EventID", 1i64);
        e.fields.set_name("Computer", host);
        e.fields.set_name("Image", image);
        e
    }

    #[test]
    fn scan_drafts_alerts_ids_and_captures() {
        let d = detector();
        let mut s = ScanScratch::new();
        let mut f = Findings::default();
        let mut a = ev("C:\\whoami.exe", "WS1");
        d.scan(TenantId(1), &mut a, &mut s, Mode::Live, &mut f);
        let mut b = ev("C:\\whoami.exe", "WS1");
        d.scan(TenantId(1), &mut b, &mut s, Mode::Live, &mut f);
        let mut c = ev("C:\\notepad.txt", "WS1");
        d.scan(TenantId(1), &mut c, &mut s, Mode::Live, &mut f);
        assert_eq!(f.hits, 4, "two events, two rules each");
        assert_eq!(f.alerts.len(), 2, "merged by rule and entities");
        assert!(
            f.alerts
                .iter()
                .all(|x| x.count == 2 && x.event_ids.len() == 2)
        );
        assert_eq!(f.captures.len(), 2, "w-1 feeds the correlation");
        let id_a = a.get_name("event.id").and_then(Value::as_str).expect("id");
        let id_b = b.get_name("event.id").and_then(Value::as_str).expect("id");
        assert_ne!(id_a, id_b);
        assert_eq!(id_a.len(), 32);
        assert!(
            c.get_name("event.id").is_none(),
            "unmatched events keep no id"
        );
    }

    #[test]
    fn disabled_rules_do_not_alert_in_their_tenant_only() {
        let d = detector();
        let w = d.rule_id("w-1").expect("rule");
        d.set_disabled(TenantId(1), [w]);
        assert!(!d.is_enabled(TenantId(1), w));
        assert!(d.is_enabled(TenantId(2), w));
        let mut s = ScanScratch::new();
        let mut f1 = Findings::default();
        d.scan(
            TenantId(1),
            &mut ev("C:\\whoami.exe", "H"),
            &mut s,
            Mode::Live,
            &mut f1,
        );
        assert_eq!(f1.alerts.len(), 1);
        assert_eq!(f1.alerts[0].rule_id, "p-1");
        assert_eq!(f1.captures.len(), 1, "captures still feed correlations");
        let mut f2 = Findings::default();
        d.scan(
            TenantId(2),
            &mut ev("C:\\whoami.exe", "H"),
            &mut s,
            Mode::Live,
            &mut f2,
        );
        assert_eq!(f2.alerts.len(), 2);
        d.set_disabled(TenantId(1), []);
        assert!(d.is_enabled(TenantId(1), w));
    }

    #[test]
    fn retro_scans_link_only_ids_the_store_has() {
        let d = detector();
        let mut s = ScanScratch::new();
        let mut f = Findings::default();
        let mut stored = ev("C:\\whoami.exe", "H");
        stored.fields.set_name("event.id", "kept-1");
        d.scan(TenantId(1), &mut stored, &mut s, Mode::Retro, &mut f);
        let mut unlinked = ev("C:\\whoami.exe", "H");
        d.scan(TenantId(1), &mut unlinked, &mut s, Mode::Retro, &mut f);
        assert!(unlinked.get_name("event.id").is_none(), "no id invented");
        assert!(f.alerts.iter().all(|a| a.retro && a.count == 2));
        assert!(
            f.alerts
                .iter()
                .all(|a| a.event_ids == vec!["kept-1".to_string()])
        );
    }
}
