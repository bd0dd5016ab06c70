//! Per-entity anomaly detection over template ids: what is normal is learned from sequences of
//! templates per entity (host, service, session, block id), and deviations are reported with
//! the reason an analyst can check.
//!
//! The [`Model`] holds four kinds of knowledge, all counts that learn incrementally:
//! - template frequencies: a template never seen is **new**, one seen in very few sessions is
//!   **rare**;
//! - an n-gram next-template model in the spirit of DeepLog (Du et al., CCS 2017) without a
//!   neural network: for every context of up to `history` previous templates (with start and
//!   end markers), the counts of the templates that followed. A transition is **unexpected**
//!   when the next template is not among the `top_k` most frequent continuations of the
//!   longest context seen in training (backing off to shorter contexts);
//! - count vectors per session or window: per template, the largest count seen in one normal
//!   session; a session that exceeds it is an **unusual count** (bursts, retry loops). When
//!   sessions are repetitive (few distinct count vectors, as for HDFS blocks or request ids),
//!   the model also keeps the distinct count vectors of normal sessions, projected onto the
//!   *structural* templates (incidental ones, present in a minority of sessions with varying
//!   counts, such as reads, only count as present): a session whose projected vector no normal
//!   session had has **unseen counts**, the invariant-mining idea without solving for the
//!   invariants. A session whose counts are a known normal shape is out of order at most, so
//!   its unexpected transitions weigh a third each (three make an anomaly).
//!
//! [`Model::score_session`] scores a whole sequence (the HDFS block setting); [`Detector`]
//! is the streaming form for a server: it is fed `(entity, template, time)` and emits
//! [`Finding`]s as they happen, with bounded memory (entities evicted least recently used).

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};

use crate::{Error, TemplateId};

/// A template's largest count per session judges ("unusual count") only once the template was
/// seen in this many learned sessions: the maximum of one or two sessions says little.
const MIN_COUNT_SESSIONS: u64 = 5;

/// Marks the start of a sequence in contexts.
const START: TemplateId = TemplateId(u32::MAX);
/// Marks the end of a sequence as a pseudo next template.
const END: TemplateId = TemplateId(u32::MAX - 1);

/// Settings of the anomaly model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    /// Longest context of the next-template model (DeepLog's window `h`).
    pub history: usize,
    /// A transition is normal when the next template is among this many most frequent
    /// continuations of its context (DeepLog's `g`).
    pub top_k: usize,
    /// A context must have been followed this many times before it may judge a transition;
    /// sparser contexts defer to shorter ones (sparse long contexts are the main source of
    /// false alarms of n-gram models).
    pub min_support: u32,
    /// The same for one-template contexts, the last resort (0: they always judge, as in
    /// DeepLog). Streams cut into windows at arbitrary points (a host's log) need some support
    /// here, or a pair seen once in learning decides.
    pub min_support_last: u32,
    /// A template seen in fewer training sessions than this is rare (judged once ten times as
    /// many sessions were learned).
    pub rare_sessions: u64,
    /// Model the end of a sequence (a session that stops where no normal session stopped).
    pub model_end: bool,
    /// Report counts above the largest seen in a normal session.
    pub check_counts: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            history: 3,
            top_k: 9,
            min_support: 200,
            min_support_last: 0,
            rare_sessions: 2,
            model_end: true,
            check_counts: true,
        }
    }
}

impl ModelConfig {
    /// Checks the values a user may have set.
    pub fn validate(&self) -> Result<(), Error> {
        if self.history == 0
            || self.history > 16
            || self.top_k == 0
            || self.top_k > MAX_CONTINUATIONS
        {
            return Err(Error::Config(format!(
                "history must be in 1..=16 and top_k in 1..={MAX_CONTINUATIONS}"
            )));
        }
        Ok(())
    }
}

/// Why a sequence or an event is anomalous.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A template never seen while learning.
    NewTemplate {
        /// The template.
        template: TemplateId,
    },
    /// A template seen in very few learning sessions.
    RareTemplate {
        /// The template.
        template: TemplateId,
        /// In how many learning sessions it was seen.
        sessions: u64,
    },
    /// The next template was not among the usual continuations of the previous ones.
    UnexpectedTransition {
        /// The previous templates (the context used), oldest first; `None` is the start.
        after: Vec<Option<TemplateId>>,
        /// The template that came next; `None` is the end of the sequence.
        next: Option<TemplateId>,
        /// The usual continuations, most frequent first.
        expected: Vec<Option<TemplateId>>,
    },
    /// No learned session had this combination of template counts.
    UnseenCounts {
        /// Templates whose count differs from the nearest learned session, with both counts.
        differences: Vec<CountDifference>,
    },
    /// A template occurred more often than in any learning session.
    UnusualCount {
        /// The template.
        template: TemplateId,
        /// Its count in this session or window.
        count: u32,
        /// The largest count seen in one learning session.
        max_learned: u32,
    },
}

impl Reason {
    /// The reason in words for an analyst. `text` gives a template's text (`None` when it is
    /// not known any more); templates are shown as `#id "text"`.
    pub fn explain(&self, text: &dyn Fn(TemplateId) -> Option<String>) -> String {
        let t = |id: TemplateId| match text(id) {
            Some(x) => format!("#{id} \"{x}\""),
            None => format!("#{id}"),
        };
        let o = |id: Option<TemplateId>| id.map_or_else(|| "(start/end)".to_owned(), t);
        match self {
            Reason::NewTemplate { template } => format!("new template {}", t(*template)),
            Reason::RareTemplate { template, sessions } => {
                format!(
                    "rare template {} (seen in {sessions} learned sessions)",
                    t(*template)
                )
            }
            Reason::UnexpectedTransition {
                after,
                next,
                expected,
            } => format!(
                "unexpected {} after {}; usual next: {}",
                o(*next),
                after.iter().map(|x| o(*x)).collect::<Vec<_>>().join(" → "),
                expected
                    .iter()
                    .map(|x| x.map_or_else(|| "(end)".to_owned(), |i| format!("#{i}")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reason::UnseenCounts { differences } => format!(
                "no learned session had these counts; nearest differs in {}",
                differences
                    .iter()
                    .map(|d| format!("{} ×{} (usually ×{})", t(d.template), d.count, d.usual))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Reason::UnusualCount {
                template,
                count,
                max_learned,
            } => format!(
                "{} occurred {count} times (at most {max_learned} in a learned session)",
                t(*template)
            ),
        }
    }
}

/// How a session's count of one template differs from the nearest normal session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountDifference {
    /// The template.
    pub template: TemplateId,
    /// Its count in the scored session.
    pub count: u32,
    /// Its count in the nearest learned session.
    pub usual: u32,
}

impl Reason {
    /// The weight of the reason in a score: new templates, broken sequences and unseen count
    /// vectors weigh most.
    pub fn weight(&self) -> f64 {
        match self {
            Reason::NewTemplate { .. } => 1.0,
            Reason::UnexpectedTransition { .. } => 1.0,
            Reason::UnseenCounts { .. } => 1.0,
            Reason::UnusualCount { .. } => 0.8,
            Reason::RareTemplate { .. } => 0.6,
        }
    }
}

/// The verdict on one sequence: a score (sum of the reasons' weights) and the reasons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Sum of the weights of the reasons; 0 for a sequence that looks normal.
    pub score: f64,
    /// The reasons, in sequence order (at most one per template and transition).
    pub reasons: Vec<Reason>,
    /// The weight each reason contributed, parallel to `reasons`.
    pub weights: Vec<f64>,
}

impl Score {
    /// Whether the score reaches `threshold`.
    pub fn is_anomalous(&self, threshold: f64) -> bool {
        self.score >= threshold
    }
}

/// Continuations of one context: (next template, count), most frequent first after learning.
type Continuations = Vec<(TemplateId, u32)>;

/// What the model knows of one template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TemplateStats {
    /// Learned sessions containing it.
    sessions: u64,
    /// Largest count in one learned session.
    max: u32,
    /// Distinct counts per session seen (at most `MAX_DISTINCT_COUNTS`).
    counts: Vec<u32>,
}

/// Memory bounds of a model, whatever it learns from: contexts of the n-gram model, continuations
/// per context, templates with statistics. Past them new entries are not learned (documented in
/// docs/ml.md); real log sources stay far below.
const MAX_CONTEXTS: usize = 1 << 20;
const MAX_CONTINUATIONS: usize = 64;
const MAX_TEMPLATE_STATS: usize = 1 << 20;

/// Distinct per-session counts remembered per template; three already make it "varying".
const MAX_DISTINCT_COUNTS: usize = 8;
/// Distinct count vectors remembered; past it the count-vector check turns itself off.
const MAX_SHAPES: usize = 100_000;
/// The nearest learned vector is searched among this many, to explain unseen counts.
const NEAREST_SCAN: usize = 2_000;

/// A session's count vector: (template, count) sorted by template.
type Shape = Vec<(TemplateId, u32)>;

/// What is normal, learned from sequences of template ids.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Model {
    cfg: ModelConfig,
    sessions: u64,
    templates: FxHashMap<TemplateId, TemplateStats>,
    /// Hash of (order, context) → continuations.
    #[serde(with = "pairs")]
    contexts: FxHashMap<u64, Continuations>,
    /// Distinct count vectors of learned sessions.
    shapes: Vec<Shape>,
    /// Hashes of `shapes`, to keep them distinct.
    shape_index: rustc_hash::FxHashSet<u64>,
    /// Set when more than `MAX_SHAPES` distinct vectors were seen.
    shapes_overflow: bool,
    /// Projections of `shapes` under the current structural/incidental split; rebuilt lazily
    /// after learning.
    #[serde(skip)]
    projected: std::sync::OnceLock<rustc_hash::FxHashSet<u64>>,
}

impl PartialEq for Model {
    fn eq(&self, o: &Self) -> bool {
        self.cfg == o.cfg
            && self.sessions == o.sessions
            && self.templates == o.templates
            && self.contexts == o.contexts
            && self.shapes == o.shapes
            && self.shapes_overflow == o.shapes_overflow
    }
}

/// JSON maps need string keys; contexts are stored as a list of pairs instead.
mod pairs {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        m: &FxHashMap<u64, Continuations>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut v: Vec<(&u64, &Continuations)> = m.iter().collect();
        v.sort_by_key(|(k, _)| **k);
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<FxHashMap<u64, Continuations>, D::Error> {
        let v: Vec<(u64, Continuations)> = Vec::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

fn context_key(ctx: &[TemplateId]) -> u64 {
    let mut h = FxHasher::default();
    ctx.len().hash(&mut h);
    ctx.hash(&mut h);
    h.finish()
}

fn opt(t: TemplateId) -> Option<TemplateId> {
    (t != START && t != END).then_some(t)
}

impl Model {
    /// An empty model.
    pub fn new(cfg: ModelConfig) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(Model {
            cfg,
            ..Model::default()
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Number of sessions learned.
    pub fn sessions(&self) -> u64 {
        self.sessions
    }

    /// The padded sequence: `history` start markers, the templates, then the end marker.
    fn padded(&self, seq: &[TemplateId]) -> Vec<TemplateId> {
        let mut p = Vec::with_capacity(seq.len() + self.cfg.history + 1);
        p.extend(std::iter::repeat_n(START, self.cfg.history));
        p.extend_from_slice(seq);
        if self.cfg.model_end {
            p.push(END);
        }
        p
    }

    /// Learns one normal sequence (a whole session, or a window of a stream).
    pub fn learn_session(&mut self, seq: &[TemplateId]) {
        self.sessions += 1;
        let mut counts: FxHashMap<TemplateId, u32> = FxHashMap::default();
        for &t in seq {
            *counts.entry(t).or_default() += 1;
        }
        for (&t, &c) in &counts {
            if self.templates.len() >= MAX_TEMPLATE_STATS && !self.templates.contains_key(&t) {
                continue;
            }
            let e = self.templates.entry(t).or_default();
            e.sessions += 1;
            e.max = e.max.max(c);
            if !e.counts.contains(&c) && e.counts.len() < MAX_DISTINCT_COUNTS {
                e.counts.push(c);
            }
        }
        let mut shape: Shape = counts.into_iter().collect();
        shape.sort_unstable();
        let mut h = FxHasher::default();
        shape.hash(&mut h);
        if self.shape_index.insert(h.finish()) {
            if self.shapes.len() < MAX_SHAPES {
                self.shapes.push(shape);
            } else {
                self.shapes_overflow = true;
            }
        }
        self.projected = std::sync::OnceLock::new();
        let p = self.padded(seq);
        let h = self.cfg.history;
        for i in h..p.len() {
            let Some(&next) = p.get(i) else { break };
            for order in 1..=h {
                let Some(ctx) = p.get(i - order..i) else {
                    continue;
                };
                self.learn_transition(ctx, next);
            }
        }
    }

    fn learn_transition(&mut self, ctx: &[TemplateId], next: TemplateId) {
        let key = context_key(ctx);
        if self.contexts.len() >= MAX_CONTEXTS && !self.contexts.contains_key(&key) {
            return;
        }
        let conts = self.contexts.entry(key).or_default();
        match conts.iter().position(|(t, _)| *t == next) {
            Some(i) => {
                if let Some(e) = conts.get_mut(i) {
                    e.1 = e.1.saturating_add(1);
                }
                // Keep most frequent first: bubble the entry up (one step per increment is
                // enough to keep the order exact, since counts grow by one).
                let mut j = i;
                while j > 0 && conts.get(j - 1).map(|e| e.1) < conts.get(j).map(|e| e.1) {
                    conts.swap(j - 1, j);
                    j -= 1;
                }
            }
            // Full: the least frequent continuation (last) makes room, so a continuation that
            // becomes common later can still enter.
            None if conts.len() >= MAX_CONTINUATIONS => {
                if let Some(last) = conts.last_mut() {
                    *last = (next, 1);
                }
            }
            None => conts.push((next, 1)),
        }
    }

    /// Checks one transition: `None` when it is usual, the reason otherwise.
    fn check_transition(&self, before: &[TemplateId], next: TemplateId) -> Option<Reason> {
        let h = self.cfg.history.min(before.len());
        for order in (1..=h).rev() {
            let Some(ctx) = before.get(before.len() - order..) else {
                continue;
            };
            let Some(conts) = self.contexts.get(&context_key(ctx)) else {
                continue;
            };
            let top = conts.iter().take(self.cfg.top_k);
            if top.clone().any(|(t, _)| *t == next) {
                return None;
            }
            let support: u64 = conts.iter().map(|(_, c)| u64::from(*c)).sum();
            let needed = if order > 1 {
                self.cfg.min_support
            } else {
                self.cfg.min_support_last
            };
            if support < u64::from(needed) {
                continue;
            }
            return Some(Reason::UnexpectedTransition {
                after: ctx.iter().map(|&t| opt(t)).collect(),
                next: opt(next),
                expected: top.map(|(t, _)| opt(*t)).collect(),
            });
        }
        // No context was ever seen (the previous template is new, which is reported on its
        // own; do not report the same fact twice), or none has enough support to judge.
        None
    }

    /// Whether enough sessions were learned for "seen in few sessions" to mean rare.
    fn rarity_known(&self) -> bool {
        self.sessions >= 10 * self.cfg.rare_sessions.max(1)
    }

    /// Incidental templates: present in a minority of sessions, with varying counts (reads,
    /// retries). Their counts are not part of a session's shape, only their presence.
    fn incidental(&self, t: TemplateId) -> bool {
        self.templates
            .get(&t)
            .is_some_and(|s| s.counts.len() >= 3 && s.sessions * 2 < self.sessions)
    }

    /// Whether count vectors are informative: enough sessions, and few distinct vectors
    /// among them (sessions repeat a structure). Hosts' windows never repeat exactly; there
    /// the check stays off by itself.
    fn shapes_active(&self) -> bool {
        !self.shapes_overflow
            && self.sessions >= 50
            && (self.shapes.len() as u64) * 10 <= self.sessions
    }

    fn projection(&self, shape: &[(TemplateId, u32)]) -> u64 {
        let mut h = FxHasher::default();
        for &(t, c) in shape {
            t.hash(&mut h);
            (if self.incidental(t) { u32::MAX } else { c }).hash(&mut h);
        }
        h.finish()
    }

    fn projected(&self) -> &rustc_hash::FxHashSet<u64> {
        self.projected
            .get_or_init(|| self.shapes.iter().map(|s| self.projection(s)).collect())
    }

    /// The differences between `shape` and the nearest learned shape (L1 over structural
    /// counts, incidental templates compared by presence).
    fn nearest_differences(&self, shape: &[(TemplateId, u32)]) -> Vec<CountDifference> {
        let value = |t: TemplateId, c: u32| {
            if self.incidental(t) {
                u32::from(c > 0)
            } else {
                c
            }
        };
        let diff = |learned: &Shape| -> Vec<CountDifference> {
            let mut out = Vec::new();
            let (mut i, mut j) = (0, 0);
            loop {
                let a = shape.get(i);
                let b = learned.get(j);
                let (t, count, usual) = match (a, b) {
                    (None, None) => break,
                    (Some(&(ta, ca)), Some(&(tb, cb))) if ta == tb => {
                        i += 1;
                        j += 1;
                        (ta, ca, cb)
                    }
                    (Some(&(ta, ca)), Some(&(tb, _))) if ta < tb => {
                        i += 1;
                        (ta, ca, 0)
                    }
                    (Some(&(ta, ca)), None) => {
                        i += 1;
                        (ta, ca, 0)
                    }
                    (_, Some(&(tb, cb))) => {
                        j += 1;
                        (tb, 0, cb)
                    }
                };
                if value(t, count) != value(t, usual) {
                    out.push(CountDifference {
                        template: t,
                        count,
                        usual,
                    });
                }
            }
            out
        };
        let cost = |d: &Vec<CountDifference>| -> u64 {
            d.iter()
                .map(|x| u64::from(value(x.template, x.count).abs_diff(value(x.template, x.usual))))
                .sum()
        };
        self.shapes
            .iter()
            .take(NEAREST_SCAN)
            .map(diff)
            .min_by_key(cost)
            .unwrap_or_default()
    }

    /// The unseen-counts reason for a session's count vector, if the check is active and no
    /// learned session had its projection.
    fn check_counts_vector(&self, counts: FxHashMap<TemplateId, u32>) -> Option<Reason> {
        if !self.shapes_active() {
            return None;
        }
        let mut shape: Shape = counts.into_iter().collect();
        shape.sort_unstable();
        if self.projected().contains(&self.projection(&shape)) {
            return None;
        }
        Some(Reason::UnseenCounts {
            differences: self.nearest_differences(&shape),
        })
    }

    /// Scores one sequence against the model.
    pub fn score_session(&self, seq: &[TemplateId]) -> Score {
        let mut s = Score::default();
        let mut counts: FxHashMap<TemplateId, u32> = FxHashMap::default();
        let mut seen_reason: rustc_hash::FxHashSet<TemplateId> = Default::default();
        for &t in seq {
            *counts.entry(t).or_default() += 1;
        }
        let p = self.padded(seq);
        let h = self.cfg.history;
        for i in h..p.len() {
            let Some(&next) = p.get(i) else { break };
            if next != END && seen_reason.insert(next) {
                match self.templates.get(&next) {
                    None => s.reasons.push(Reason::NewTemplate { template: next }),
                    Some(st) if self.rarity_known() && st.sessions < self.cfg.rare_sessions => {
                        s.reasons.push(Reason::RareTemplate {
                            template: next,
                            sessions: st.sessions,
                        })
                    }
                    _ => {}
                }
            }
            if let Some(r) = p.get(i - h..i).and_then(|b| self.check_transition(b, next))
                && !s.reasons.contains(&r)
            {
                s.reasons.push(r);
            }
        }
        if self.cfg.check_counts {
            let mut over: Vec<(TemplateId, u32, u32)> = counts
                .iter()
                .filter_map(|(&t, &c)| {
                    let st = self.templates.get(&t)?;
                    (c > st.max && st.sessions >= MIN_COUNT_SESSIONS).then_some((t, c, st.max))
                })
                .collect();
            over.sort();
            s.reasons
                .extend(over.into_iter().map(|(template, count, max_learned)| {
                    Reason::UnusualCount {
                        template,
                        count,
                        max_learned,
                    }
                }));
        }
        let active = self.shapes_active();
        let unseen = self.check_counts_vector(counts);
        let known_shape = active && unseen.is_none();
        s.reasons.extend(unseen);
        s.weights = s
            .reasons
            .iter()
            .map(|r| match r {
                // Known counts in an unknown order: weaker evidence.
                Reason::UnexpectedTransition { .. } if known_shape => 0.34,
                r => r.weight(),
            })
            .collect();
        s.score = s.weights.iter().sum();
        s
    }

    /// Serialises the model to JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(Error::State)
    }

    /// Reads a model written by [`Model::to_json`].
    pub fn from_json(s: &str) -> Result<Self, Error> {
        let m: Model = serde_json::from_str(s).map_err(Error::State)?;
        m.cfg.validate()?;
        Ok(m)
    }
}

/// Settings of the streaming detector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorConfig {
    /// The model's settings.
    pub model: ModelConfig,
    /// A window of an entity closes after this many seconds without events, or when it
    /// holds `window_events` events; it is then learned or checked as one sequence.
    pub window_secs: u64,
    /// Largest window, in events.
    pub window_events: usize,
    /// Most entities tracked at once; the least recently seen are flushed past it.
    pub max_entities: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            model: ModelConfig::default(),
            window_secs: 3600,
            window_events: 1000,
            max_entities: 100_000,
        }
    }
}

/// A finding of the streaming detector: an entity, when, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The entity (host, block id, …).
    pub entity: String,
    /// Time of the event that raised it (seconds, caller's clock).
    pub time: u64,
    /// The reason.
    pub reason: Reason,
    /// The reason's weight.
    pub score: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct EntityWindow {
    /// While learning, the whole window; while detecting, the last `history` templates.
    seq: Vec<TemplateId>,
    counts: FxHashMap<TemplateId, u32>,
    /// Events in the window (detection keeps only the tail of `seq`).
    events: usize,
    last: u64,
}

/// The streaming detector: feed `(entity, template, time)`; in learning mode the windows of
/// each entity train the model, in detection mode each event is checked as it arrives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detector {
    cfg: DetectorConfig,
    model: Model,
    entities: FxHashMap<String, EntityWindow>,
}

impl Detector {
    /// A detector with an empty model.
    pub fn new(cfg: DetectorConfig) -> Result<Self, Error> {
        let model = Model::new(cfg.model.clone())?;
        Ok(Detector {
            cfg,
            model,
            entities: FxHashMap::default(),
        })
    }

    /// The learned model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Learns from one event of an entity. Each entity's events form windows (closed after
    /// `window_secs` of silence or `window_events` events) that are learned as sequences.
    pub fn learn(&mut self, entity: &str, template: TemplateId, time: u64) {
        self.expire(entity, time, true);
        self.make_room(entity, true);
        let w = self.entities.entry(entity.to_owned()).or_default();
        w.seq.push(template);
        *w.counts.entry(template).or_default() += 1;
        w.last = time;
        if w.seq.len() >= self.cfg.window_events {
            self.close(entity, true, time);
        }
    }

    /// Checks one event of an entity and returns the findings it raises: new or rare
    /// template, unexpected transition, count above the learned maximum; and, when an
    /// entity's window closes (also another entity's, evicted to bound memory), unseen counts.
    pub fn observe(&mut self, entity: &str, template: TemplateId, time: u64) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.expire(entity, time, false).into_iter().collect();
        let h = self.model.cfg.history;
        out.extend(self.make_room(entity, false));
        let model = &self.model;
        let w = self.entities.entry(entity.to_owned()).or_default();
        let mut ctx: Vec<TemplateId> = std::iter::repeat_n(START, h).collect();
        ctx.extend_from_slice(&w.seq);
        let ctx = ctx.get(ctx.len().saturating_sub(h)..).unwrap_or(&[]);
        let mut reasons = Vec::new();
        match model.templates.get(&template) {
            None => reasons.push(Reason::NewTemplate { template }),
            Some(st) if model.rarity_known() && st.sessions < model.cfg.rare_sessions => reasons
                .push(Reason::RareTemplate {
                    template,
                    sessions: st.sessions,
                }),
            Some(_) => {}
        }
        if let Some(r) = model.check_transition(ctx, template) {
            reasons.push(r);
        }
        let c = w.counts.entry(template).or_default();
        *c += 1;
        if model.cfg.check_counts
            && let Some(max) = model
                .templates
                .get(&template)
                .filter(|st| st.sessions >= MIN_COUNT_SESSIONS)
                .map(|st| st.max)
            && *c == max + 1
        {
            reasons.push(Reason::UnusualCount {
                template,
                count: *c,
                max_learned: max,
            });
        }
        // Only the last `history` templates are needed to check the next event.
        if w.seq.len() >= h {
            w.seq.drain(..=w.seq.len() - h);
        }
        w.seq.push(template);
        w.events += 1;
        w.last = time;
        let full = w.events >= self.cfg.window_events;
        out.extend(reasons.into_iter().map(|reason| Finding {
            entity: entity.to_owned(),
            time,
            score: reason.weight(),
            reason,
        }));
        if full {
            out.extend(self.close(entity, false, time));
        }
        out
    }

    /// Before a new entity is added at `max_entities`, evicts the least recently seen ones
    /// (their windows are learned or checked, per `learning`).
    fn make_room(&mut self, entity: &str, learning: bool) -> Vec<Finding> {
        if !self.entities.contains_key(entity) && self.entities.len() >= self.cfg.max_entities {
            return self.evict_oldest(learning);
        }
        Vec::new()
    }

    /// Closes the entity's window if it is older than `window_secs`.
    fn expire(&mut self, entity: &str, time: u64, learning: bool) -> Option<Finding> {
        let old = self.entities.get(entity).is_some_and(|w| {
            !w.counts.is_empty() && time.saturating_sub(w.last) > self.cfg.window_secs
        });
        if old {
            return self.close(entity, learning, time);
        }
        None
    }

    /// Closes an entity's window: learns it, or checks its count vector.
    fn close(&mut self, entity: &str, learning: bool, time: u64) -> Option<Finding> {
        let w = self.entities.remove(entity)?;
        if learning {
            self.model.learn_session(&w.seq);
            return None;
        }
        let reason = self.model.check_counts_vector(w.counts)?;
        Some(Finding {
            entity: entity.to_owned(),
            time,
            score: reason.weight(),
            reason,
        })
    }

    /// Closes the least recently seen sixteenth of the entities.
    fn evict_oldest(&mut self, learning: bool) -> Vec<Finding> {
        let mut ages: Vec<(u64, String)> = self
            .entities
            .iter()
            .map(|(k, w)| (w.last, k.clone()))
            .collect();
        let k = (ages.len() / 16).max(1).min(ages.len());
        if k == 0 {
            return Vec::new();
        }
        ages.select_nth_unstable_by(k - 1, |a, b| a.0.cmp(&b.0));
        ages.into_iter()
            .take(k)
            .filter_map(|(t, e)| self.close(&e, learning, t))
            .collect()
    }

    /// Ends learning: every open window is learned as a sequence.
    pub fn finish_learning(&mut self) {
        let keys: Vec<String> = self.entities.keys().cloned().collect();
        for k in keys {
            self.close(&k, true, 0);
        }
    }

    /// Closes every open window in detection mode (end of input, or shutdown) and returns
    /// the unseen-counts findings.
    pub fn flush(&mut self, time: u64) -> Vec<Finding> {
        let keys: Vec<String> = self.entities.keys().cloned().collect();
        keys.iter()
            .filter_map(|k| self.close(k, false, time))
            .collect()
    }

    /// Serialises the detector (model and open windows) to JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(Error::State)
    }

    /// Reads a detector written by [`Detector::to_json`].
    pub fn from_json(s: &str) -> Result<Self, Error> {
        let d: Detector = serde_json::from_str(s).map_err(Error::State)?;
        d.cfg.model.validate()?;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<TemplateId> {
        v.iter().map(|&i| TemplateId(i)).collect()
    }

    fn trained() -> Model {
        let mut m = Model::new(ModelConfig::default()).expect("config");
        for _ in 0..10 {
            m.learn_session(&ids(&[1, 2, 3, 3, 4]));
            m.learn_session(&ids(&[1, 2, 3, 4]));
        }
        m
    }

    #[test]
    fn normal_sequences_score_zero() {
        let m = trained();
        assert_eq!(m.score_session(&ids(&[1, 2, 3, 4])), Score::default());
        assert!(
            !m.shapes_active(),
            "20 sessions are too few to judge count vectors"
        );
        assert_eq!(m.score_session(&ids(&[1, 2, 3, 3, 4])).score, 0.0);
    }

    #[test]
    fn explains_what_is_unusual() {
        let m = trained();
        let s = m.score_session(&ids(&[1, 2, 9, 4]));
        assert!(s.reasons.contains(&Reason::NewTemplate {
            template: TemplateId(9)
        }));
        let s = m.score_session(&ids(&[1, 3, 2, 4]));
        assert!(s.is_anomalous(1.0));
        assert!(s.reasons.iter().any(|r| matches!(
            r,
            Reason::UnexpectedTransition {
                next: Some(TemplateId(3)),
                ..
            }
        )));
        // Stopping early is a transition to the end that no normal session made.
        let s = m.score_session(&ids(&[1, 2]));
        assert!(
            s.reasons
                .iter()
                .any(|r| matches!(r, Reason::UnexpectedTransition { next: None, .. }))
        );
        let s = m.score_session(&ids(&[1, 2, 3, 3, 3, 4]));
        assert!(s.reasons.contains(&Reason::UnusualCount {
            template: TemplateId(3),
            count: 3,
            max_learned: 2
        }));
    }

    #[test]
    fn count_vectors_of_repetitive_sessions() {
        let mut m = Model::new(ModelConfig::default()).expect("config");
        for i in 0..60u32 {
            let mut s = ids(&[1, 2, 2, 3]);
            // Template 9 is incidental: in a minority of sessions, any number of times.
            if i % 3 == 0 {
                s.extend(std::iter::repeat_n(TemplateId(9), (i % 5 + 1) as usize));
            }
            s.push(TemplateId(4));
            m.learn_session(&s);
        }
        assert!(m.shapes_active());
        // Incidental counts never seen before are fine.
        assert_eq!(
            m.score_session(&ids(&[1, 2, 2, 3, 9, 9, 9, 9, 9, 9, 9, 4]))
                .score,
            0.8
        );
        let s = m.score_session(&ids(&[1, 2, 2, 2, 3, 4]));
        assert!(s.is_anomalous(1.0));
        assert!(s.reasons.contains(&Reason::UnseenCounts {
            differences: vec![CountDifference {
                template: TemplateId(2),
                count: 3,
                usual: 2
            }]
        }));
        // Known counts in another order: each unexpected transition weighs a third.
        let s = m.score_session(&ids(&[1, 2, 3, 2, 4]));
        assert!(s.weights.iter().all(|&w| w == 0.34), "{s:?}");
        assert!(!s.is_anomalous(1.0));
    }

    #[test]
    fn streaming_windows_check_counts_and_stay_bounded() {
        let cfg = DetectorConfig {
            window_secs: 10,
            max_entities: 4,
            ..DetectorConfig::default()
        };
        let mut d = Detector::new(cfg).expect("config");
        for e in 0..60u64 {
            // Sessions of one entity, separated by more than `window_secs`.
            for (k, t) in [1, 2, 2, 3].into_iter().enumerate() {
                d.learn("req", TemplateId(t), e * 100 + k as u64);
            }
        }
        d.finish_learning();
        assert_eq!(d.model().sessions(), 60);
        let mut found = Vec::new();
        for (k, t) in [1, 2, 2, 2, 3].into_iter().enumerate() {
            found.extend(d.observe("x", TemplateId(t), k as u64));
        }
        assert!(
            found
                .iter()
                .all(|f| !matches!(f.reason, Reason::UnseenCounts { .. }))
        );
        // The window closes after silence: its counts are checked then.
        let later = d.observe("x", TemplateId(1), 1000);
        assert!(
            later
                .iter()
                .any(|f| f.entity == "x" && matches!(f.reason, Reason::UnseenCounts { .. })),
            "{later:?}"
        );
        for e in 0..10 {
            d.observe(&format!("host{e}"), TemplateId(1), 2000 + e);
        }
        assert!(d.entities.len() <= 4);
        // Windows holding only the first template of a session are not a normal shape.
        let flushed = d.flush(3000);
        assert!(!flushed.is_empty());
        assert!(
            flushed
                .iter()
                .all(|f| matches!(f.reason, Reason::UnseenCounts { .. }))
        );
        assert!(d.entities.is_empty());
    }

    #[test]
    fn reasons_read_as_sentences() {
        let name = |id: TemplateId| (id.0 == 3).then(|| "disk <*> full".to_owned());
        let r = Reason::UnexpectedTransition {
            after: vec![None, Some(TemplateId(3))],
            next: Some(TemplateId(9)),
            expected: vec![Some(TemplateId(4)), None],
        };
        assert_eq!(
            r.explain(&name),
            "unexpected #9 after (start/end) → #3 \"disk <*> full\"; usual next: #4, (end)"
        );
        let r = Reason::UnseenCounts {
            differences: vec![CountDifference {
                template: TemplateId(3),
                count: 2,
                usual: 1,
            }],
        };
        assert_eq!(
            r.explain(&name),
            "no learned session had these counts; nearest differs in #3 \"disk <*> full\" ×2 (usually ×1)"
        );
    }

    #[test]
    fn continuations_are_bounded_and_a_late_common_one_still_enters() {
        let mut m = Model::new(ModelConfig::default()).expect("config");
        for i in 0..200 {
            m.learn_session(&ids(&[1, 100 + i]));
        }
        for _ in 0..5 {
            m.learn_session(&ids(&[1, 7]));
        }
        assert!(m.contexts.values().all(|c| c.len() <= MAX_CONTINUATIONS));
        assert_eq!(m.score_session(&ids(&[1, 7])).reasons, vec![]);
    }

    #[test]
    fn model_round_trips() {
        let m = trained();
        let back = Model::from_json(&m.to_json().expect("json")).expect("parses");
        assert_eq!(back, m);
        assert!(Model::from_json("[]").is_err());
    }

    #[test]
    fn streaming_detector_learns_windows_and_flags_events() {
        let mut d = Detector::new(DetectorConfig::default()).expect("config");
        for host in ["a", "b", "c"] {
            for (i, t) in [1, 2, 3, 4].into_iter().enumerate() {
                d.learn(host, TemplateId(t), i as u64);
            }
        }
        d.finish_learning();
        assert_eq!(d.model().sessions(), 3);
        let mut found = Vec::new();
        for t in [1, 2, 3, 4] {
            found.extend(d.observe("x", TemplateId(t), 10));
        }
        assert!(found.is_empty(), "{found:?}");
        let f = d.observe("x", TemplateId(7), 11);
        assert!(
            f.iter()
                .any(|f| matches!(f.reason, Reason::NewTemplate { .. }))
        );
        let back = Detector::from_json(&d.to_json().expect("json")).expect("parses");
        assert_eq!(back.model(), d.model());
    }
}
