//! The online template miner: every message gets a template id and its parameters.
//!
//! Like Drain, messages are routed by their number of words and their first word to a small
//! leaf of candidate groups and join the most similar one, or start a new group. What makes one
//! default configuration work across log types:
//! - masking below the word ([`crate::mask`]) so `uid=0` and `uid=1` are the same word, and a
//!   message's obviously variable words take no part in the similarity;
//! - similarity counts only the positions where both sides are literal (not the first word,
//!   equal by routing), so a group that has learned its variables is not penalised for them;
//! - a position where a group's messages differ keeps its values while there are at most
//!   [`MinerConfig::max_constant_values`]: such a position is still a constant that tells
//!   templates apart (`VM Paused` / `VM Resumed`), and each combination of its values is
//!   reported as a template of its own (a *variant*); past the limit it is a variable;
//! - when two literal words differ, the pattern keeps what they share at punctuation
//!   boundaries (`name=<*>,` rather than `<*>`), which is how the ground truth writes templates.
//!
//! Memory and time are bounded: at [`MinerConfig::max_templates`] the least recently used groups
//! are evicted in batches (amortised O(1) per message), a leaf holds at most 256 groups, a
//! group at most 32 variants. A first word with digits or variables routes to a shared wildcard
//! leaf so that variable first words cannot create unbounded leaves.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::mask::{Masks, Tokens, WILDCARD, find_wildcard, has_wildcard};

/// Identifies a template for the lifetime of a miner and across save/restore. Ids are never
/// reused, also after eviction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateId(pub u32);

impl std::fmt::Display for TemplateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What mining one message did to the template store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The message matched an existing template unchanged.
    Matched,
    /// The message joined a template and made one of its words more general.
    Generalised,
    /// The message started a new template.
    Created,
}

/// The result of mining one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mined<'a> {
    /// The template the message belongs to.
    pub id: TemplateId,
    /// The raw words of the message at the template's variable positions, in order. A word
    /// whose template word is partly literal (`uid=<*>`) contributes the variable part when it
    /// can be located, the whole word otherwise.
    pub params: Vec<&'a str>,
    /// Whether the template was created, generalised or merely matched.
    pub change: Change,
}

/// Tuning of the miner. The defaults are the configuration measured on Loghub and meant for
/// every log type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MinerConfig {
    /// Minimum share of literal positions that must agree for a message to join a template.
    pub similarity: f32,
    /// Maximum number of templates kept; least recently used ones are evicted past it.
    pub max_templates: usize,
    /// Maximum number of words per message; the rest is folded into one last variable word.
    pub max_words: usize,
    /// A word position where a group's messages differ stays a constant that tells templates
    /// apart (`VM Paused` / `VM Resumed`) while it has at most this many distinct values; past
    /// it the position is a variable. 1 disables the distinction (plain Drain behaviour).
    pub max_constant_values: usize,
    /// Which variable shapes are masked before clustering.
    pub masks: Masks,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            similarity: 0.5,
            max_templates: 100_000,
            max_words: 128,
            max_constant_values: 4,
            masks: Masks::default(),
        }
    }
}

impl MinerConfig {
    /// Checks the values a user may have set.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(Error::Config(format!(
                "similarity must be in (0, 1], got {}",
                self.similarity
            )));
        }
        if self.max_templates == 0 || self.max_words == 0 {
            return Err(Error::Config(
                "max_templates and max_words must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A template as reported: its words (with `<*>` for variables) and how often it was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// The template's id.
    pub id: TemplateId,
    /// The words of the template; variables are `<*>`, possibly inside a word (`uid=<*>`).
    pub words: Vec<Box<str>>,
    /// How many messages were reported with this template.
    pub count: u64,
}

impl Template {
    /// The template as one string, words separated by one space.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }
}

/// What a group knows about one word position where its messages differed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Position {
    /// All messages agree (or the word is a variable by its shape).
    Fixed,
    /// Few distinct values so far, with counts: still possibly a constant that tells two
    /// templates apart (`VM Paused` / `VM Resumed`).
    Few(Vec<(Box<str>, u64)>),
    /// Too many distinct values: a variable.
    Many,
}

/// One assignment of values to a group's `Few` positions, reported as its own template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Variant {
    id: TemplateId,
    values: Vec<Box<str>>,
    count: u64,
}

/// A cluster of messages of the same length that are similar enough to share one pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    id: TemplateId,
    words: Vec<Box<str>>,
    positions: Vec<Position>,
    variants: Vec<Variant>,
    count: u64,
    last_seen: u64,
}

impl Group {
    /// The group's own id (also the template id while it has no variants).
    pub fn id(&self) -> TemplateId {
        self.id
    }

    fn is_few(&self, i: usize) -> bool {
        matches!(self.positions.get(i), Some(Position::Few(_)))
    }

    /// The template words for a variant: the group's words with the variant's values at the
    /// `Few` positions.
    fn variant_words(&self, values: &[Box<str>]) -> Vec<Box<str>> {
        let mut vals = values.iter();
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if self.is_few(i) {
                    vals.next().cloned().unwrap_or_else(|| w.clone())
                } else {
                    w.clone()
                }
            })
            .collect()
    }

    fn reported(&self) -> Vec<Template> {
        if self.variants.is_empty() {
            return vec![Template {
                id: self.id,
                words: self.words.clone(),
                count: self.count,
            }];
        }
        self.variants
            .iter()
            .map(|v| Template {
                id: v.id,
                words: self.variant_words(&v.values),
                count: v.count,
            })
            .collect()
    }
}

/// The key of a leaf: number of words and a hash of the first word (0 when it is variable).
type LeafKey = (u32, u64);

/// Whether a first word is literal, and so part of the leaf key.
fn first_is_key(first: &str) -> bool {
    !first.bytes().any(|c| c.is_ascii_digit() || c == b'*')
}

/// Computes the leaf of a tokenized message. Public to the crate for sharding.
pub(crate) fn leaf_key(t: &Tokens) -> LeafKey {
    let first = t.masked(0);
    let h = if !first_is_key(first) {
        0
    } else {
        let mut h = FxHasher::default();
        first.hash(&mut h);
        h.finish() | 1
    };
    (t.len() as u32, h)
}

/// Where new ids come from: a plain counter, or a counter shared by the shards of a
/// [`crate::SharedMiner`].
#[derive(Debug)]
pub(crate) enum IdSource {
    Local(u32),
    Shared(std::sync::Arc<std::sync::atomic::AtomicU32>),
}

impl IdSource {
    fn next(&mut self) -> TemplateId {
        match self {
            IdSource::Local(n) => {
                *n = n.saturating_add(1);
                TemplateId(*n)
            }
            IdSource::Shared(a) => {
                TemplateId(a.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1)
            }
        }
    }
    fn current(&self) -> u32 {
        match self {
            IdSource::Local(n) => *n,
            IdSource::Shared(a) => a.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// At most this many groups per leaf (word count and first word): a message is compared with
/// at most this many groups, so mining stays linear in the message whatever the input.
const MAX_LEAF: usize = 256;

/// At most this many variants per group; past it the busiest `Few` position becomes a variable.
const MAX_VARIANTS: usize = 32;

/// A single-threaded template miner. For several threads use [`crate::SharedMiner`].
#[derive(Debug)]
pub struct Miner {
    cfg: MinerConfig,
    slots: Vec<Option<Group>>,
    free: Vec<u32>,
    /// Group and variant ids to the slot of their group.
    by_id: FxHashMap<TemplateId, u32>,
    leaves: FxHashMap<LeafKey, Vec<u32>>,
    tick: u64,
    ids: IdSource,
    live: usize,
    scratch: Tokens,
}

impl Default for Miner {
    fn default() -> Self {
        Self::with_ids(MinerConfig::default(), IdSource::Local(0))
    }
}

impl Miner {
    /// A miner with the given configuration.
    pub fn new(cfg: MinerConfig) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(Self::with_ids(cfg, IdSource::Local(0)))
    }

    pub(crate) fn with_ids(cfg: MinerConfig, ids: IdSource) -> Self {
        Miner {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: FxHashMap::default(),
            leaves: FxHashMap::default(),
            tick: 0,
            ids,
            live: 0,
            scratch: Tokens::new(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &MinerConfig {
        &self.cfg
    }

    /// Mines one message: finds or creates its template and returns the template id and the
    /// message's parameters.
    pub fn mine<'a>(&mut self, msg: &'a str) -> Mined<'a> {
        let mut t = std::mem::take(&mut self.scratch);
        t.fill(msg, &self.cfg.masks, self.cfg.max_words);
        let r = self.mine_tokens(msg, &t, true);
        self.scratch = t;
        r
    }

    /// Finds the template of a message without learning anything (no new template, no
    /// generalisation, no counts). `None` when no template is similar enough. The only state
    /// it may touch: a combination of constant values that has no id yet gets one.
    pub fn lookup<'a>(&mut self, msg: &'a str) -> Option<Mined<'a>> {
        let mut t = std::mem::take(&mut self.scratch);
        t.fill(msg, &self.cfg.masks, self.cfg.max_words);
        let r = self.mine_tokens(msg, &t, false);
        self.scratch = t;
        (r.id != TemplateId(0)).then_some(r)
    }

    /// Mines (`learn`) or looks up a message already tokenized with this miner's settings.
    pub(crate) fn mine_tokens<'a>(&mut self, msg: &'a str, t: &Tokens, learn: bool) -> Mined<'a> {
        let key = leaf_key(t);
        let best = self.best_match(key, t);
        let none = Mined {
            id: TemplateId(0),
            params: Vec::new(),
            change: Change::Matched,
        };
        if !learn {
            let Some(slot) = best else {
                return none;
            };
            let Some(g) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
                return none;
            };
            // A combination of constant values not reported since the group last changed
            // gets its variant id now; no pattern or count changes.
            let id = if g.positions.iter().any(|p| matches!(p, Position::Few(_))) {
                let (id, new) = variant_of(g, t, &mut self.ids, false);
                if new {
                    self.by_id.insert(id, slot);
                }
                id
            } else {
                g.id
            };
            return Mined {
                id,
                params: params_of(msg, t, g),
                change: Change::Matched,
            };
        }
        self.tick += 1;
        let (slot, change) = match best {
            Some(slot) => {
                let changed = self.absorb(slot, t);
                (
                    slot,
                    if changed {
                        Change::Generalised
                    } else {
                        Change::Matched
                    },
                )
            }
            None => (self.create(key, t), Change::Created),
        };
        let tick = self.tick;
        let Some(g) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return none;
        };
        g.count += 1;
        g.last_seen = tick;
        let id = if g.positions.iter().any(|p| matches!(p, Position::Few(_))) {
            let (id, new) = variant_of(g, t, &mut self.ids, true);
            if new {
                self.by_id.insert(id, slot);
            }
            id
        } else {
            g.id
        };
        Mined {
            id,
            params: params_of(msg, t, g),
            change,
        }
    }

    /// The most similar group in the message's leaf that passes the similarity threshold.
    fn best_match(&self, key: LeafKey, t: &Tokens) -> Option<u32> {
        let leaf = self.leaves.get(&key)?;
        let mut best: Option<(f32, usize, u32)> = None;
        for &slot in leaf {
            let Some(g) = self.slots.get(slot as usize).and_then(Option::as_ref) else {
                continue;
            };
            let Some((sim, exact)) = similarity(g, t) else {
                continue;
            };
            if sim >= self.cfg.similarity
                && best.is_none_or(|(bs, be, _)| sim > bs || (sim == bs && exact > be))
            {
                best = Some((sim, exact, slot));
            }
        }
        best.map(|(_, _, s)| s)
    }

    /// Generalises group `slot` so that it covers the message and records the values seen at
    /// the positions that differ; true when the pattern changed.
    fn absorb(&mut self, slot: u32, t: &Tokens) -> bool {
        let max_values = self.cfg.max_constant_values;
        let Some(g) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return false;
        };
        let mut changed = false;
        let mut few_changed = false;
        let prior = g.count;
        for (i, w) in g.words.iter_mut().enumerate() {
            let m = t.masked(i);
            let Some(pos) = g.positions.get_mut(i) else {
                continue;
            };
            if **w != *m && !glob_match(w, m) {
                if matches!(pos, Position::Fixed) {
                    *pos = if max_values >= 2
                        && m != WILDCARD
                        && !has_wildcard(w)
                        && !name_like(w)
                        && !name_like(m)
                    {
                        Position::Few(vec![(w.clone(), prior)])
                    } else {
                        Position::Many
                    };
                    few_changed = true;
                }
                *w = generalise(w, m).into_boxed_str();
                changed = true;
            }
            if let Position::Few(vals) = pos {
                let n = vals.len();
                match vals.iter_mut().find(|(v, _)| **v == *m) {
                    Some((_, c)) => *c += 1,
                    None if n < max_values && m != WILDCARD && !name_like(m) => {
                        vals.push((Box::from(m), 1));
                    }
                    None => {
                        *pos = Position::Many;
                        few_changed = true;
                    }
                }
            }
        }
        if few_changed {
            // The set of constant positions changed: the old variants no longer describe
            // the group. Their ids are retired (never reused).
            for v in g.variants.drain(..) {
                self.by_id.remove(&v.id);
            }
        }
        changed
    }

    fn create(&mut self, key: LeafKey, t: &Tokens) -> u32 {
        if self.live >= self.cfg.max_templates {
            self.evict();
        }
        if self.leaves.get(&key).is_some_and(|l| l.len() >= MAX_LEAF) {
            self.evict_from_leaf(key);
        }
        let g = Group {
            id: self.ids.next(),
            words: (0..t.len()).map(|i| Box::from(t.masked(i))).collect(),
            positions: vec![Position::Fixed; t.len()],
            variants: Vec::new(),
            count: 0,
            last_seen: self.tick,
        };
        self.insert(key, g)
    }

    fn insert(&mut self, key: LeafKey, g: Group) -> u32 {
        let ids: Vec<TemplateId> = std::iter::once(g.id)
            .chain(g.variants.iter().map(|v| v.id))
            .collect();
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s as usize) {
                    *x = Some(g);
                }
                s
            }
            None => {
                self.slots.push(Some(g));
                (self.slots.len() - 1) as u32
            }
        };
        for id in ids {
            self.by_id.insert(id, slot);
        }
        self.leaves.entry(key).or_default().push(slot);
        self.live += 1;
        slot
    }

    /// Evicts the least recently used group of a full leaf.
    fn evict_from_leaf(&mut self, key: LeafKey) {
        let Some(leaf) = self.leaves.get_mut(&key) else {
            return;
        };
        let oldest = leaf
            .iter()
            .enumerate()
            .filter_map(|(i, &s)| {
                let g = self.slots.get(s as usize)?.as_ref()?;
                Some((g.last_seen, i))
            })
            .min();
        let Some((_, i)) = oldest else {
            return;
        };
        let slot = leaf.swap_remove(i);
        if let Some(g) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            self.by_id.remove(&g.id);
            for v in &g.variants {
                self.by_id.remove(&v.id);
            }
            self.free.push(slot);
            self.live -= 1;
        }
    }

    /// Evicts the least recently used sixteenth of the groups (at least one), so that the
    /// O(n) scan is paid once per n/16 new groups.
    fn evict(&mut self) {
        let mut ages: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|g| (g.last_seen, i as u32)))
            .collect();
        let k = (ages.len() / 16).max(1).min(ages.len());
        if k == 0 {
            return;
        }
        ages.select_nth_unstable(k - 1);
        let doomed: rustc_hash::FxHashSet<u32> = ages[..k].iter().map(|&(_, s)| s).collect();
        for &s in &doomed {
            if let Some(g) = self.slots.get_mut(s as usize).and_then(Option::take) {
                self.by_id.remove(&g.id);
                for v in &g.variants {
                    self.by_id.remove(&v.id);
                }
                self.free.push(s);
                self.live -= 1;
            }
        }
        self.leaves.retain(|_, v| {
            v.retain(|s| !doomed.contains(s));
            !v.is_empty()
        });
    }

    /// The template with this id, if it is still reported.
    pub fn template(&self, id: TemplateId) -> Option<Template> {
        let slot = *self.by_id.get(&id)?;
        let g = self.slots.get(slot as usize)?.as_ref()?;
        g.reported().into_iter().find(|t| t.id == id)
    }

    /// All templates currently reported, in id order.
    pub fn templates(&self) -> Vec<Template> {
        let mut v: Vec<Template> = self
            .slots
            .iter()
            .flatten()
            .flat_map(Group::reported)
            .collect();
        v.sort_by_key(|t| t.id);
        v
    }

    /// Number of groups kept (the unit of the memory bound).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no template is kept.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// A snapshot of the miner that [`Miner::from_state`] restores exactly.
    pub fn state(&self) -> MinerState {
        let mut groups: Vec<Group> = self.slots.iter().flatten().cloned().collect();
        groups.sort_by_key(|g| g.id);
        MinerState {
            version: MinerState::VERSION,
            config: self.cfg.clone(),
            last_id: self.ids.current(),
            tick: self.tick,
            groups,
        }
    }

    /// Rebuilds a miner from a snapshot.
    pub fn from_state(state: MinerState) -> Result<Self, Error> {
        state.check()?;
        let mut m = Self::with_ids(state.config, IdSource::Local(state.last_id));
        m.tick = state.tick;
        m.load_groups(state.groups);
        Ok(m)
    }

    pub(crate) fn load_groups(&mut self, groups: Vec<Group>) {
        for g in groups {
            if self.by_id.contains_key(&g.id) || g.positions.len() != g.words.len() {
                continue;
            }
            let key = group_key(&g, &self.cfg);
            self.insert(key, g);
        }
    }

    pub(crate) fn tick(&self) -> u64 {
        self.tick
    }
}

/// The leaf of a stored group: recomputed from its words (masking a masked word is the
/// identity, so the group lands where its messages are routed).
pub(crate) fn group_key(g: &Group, cfg: &MinerConfig) -> LeafKey {
    let mut tokens = Tokens::new();
    tokens.fill(&g.words.join(" "), &cfg.masks, cfg.max_words);
    if tokens.len() == g.words.len() {
        leaf_key(&tokens)
    } else {
        (g.words.len() as u32, 0)
    }
}

/// The variant of group `g` for this message, created if new (with a count of 1 when
/// `count`); true when created.
fn variant_of(g: &mut Group, t: &Tokens, ids: &mut IdSource, count: bool) -> (TemplateId, bool) {
    let few: Vec<usize> = (0..t.len()).filter(|&i| g.is_few(i)).collect();
    if let Some(v) = g.variants.iter_mut().find(|v| {
        v.values.len() == few.len() && v.values.iter().zip(&few).all(|(x, &i)| **x == *t.masked(i))
    }) {
        v.count += u64::from(count);
        return (v.id, false);
    }
    if g.variants.len() >= MAX_VARIANTS {
        // Too many combinations: the position with most values is a variable after all.
        let busiest = g
            .positions
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Position::Few(v) => Some((v.len(), i)),
                _ => None,
            })
            .max();
        if let Some((_, i)) = busiest
            && let Some(p) = g.positions.get_mut(i)
        {
            *p = Position::Many;
        }
        g.variants.clear();
        return (g.id, false);
    }
    let values = few.iter().map(|&i| Box::from(t.masked(i))).collect();
    let id = ids.next();
    g.variants.push(Variant {
        id,
        values,
        count: u64::from(count),
    });
    (id, true)
}

/// A serialisable snapshot of a miner (configuration, groups, id counter).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerState {
    /// Format version of the snapshot.
    pub version: u32,
    /// The miner's configuration.
    pub config: MinerConfig,
    /// The last id handed out, so restored miners never reuse an id.
    pub last_id: u32,
    /// Logical clock (messages mined).
    pub tick: u64,
    /// The groups, in id order.
    pub groups: Vec<Group>,
}

impl MinerState {
    /// The snapshot format written by this version.
    pub const VERSION: u32 = 1;

    /// Serialises to JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(Error::State)
    }

    /// Reads a snapshot written by [`MinerState::to_json`].
    pub fn from_json(s: &str) -> Result<Self, Error> {
        let st: MinerState = serde_json::from_str(s).map_err(Error::State)?;
        st.check()?;
        Ok(st)
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.version != Self::VERSION {
            return Err(Error::Version {
                found: self.version,
                expected: Self::VERSION,
            });
        }
        self.config.validate()
    }
}

/// Similarity of a template to a message of the same length: the share of positions where both
/// are literal that agree. Positions where the template or the message has a whole-word
/// variable are neutral. `None` when the words cannot be aligned.
fn similarity(g: &Group, t: &Tokens) -> Option<(f32, usize)> {
    if g.words.len() != t.len() {
        return None;
    }
    let mut exact = 0usize;
    let mut compared = 0usize;
    for (i, w) in g.words.iter().enumerate() {
        let m = t.masked(i);
        // A message word that is a variable by shape, or a position the group has learned is
        // a variable, says nothing. A position with few values so far still counts against.
        // The first word chose the leaf: when it is literal it is equal by construction and
        // is no evidence either.
        if (i == 0 && first_is_key(m))
            || m == WILDCARD
            || (&**w == WILDCARD
                && matches!(
                    g.positions.get(i),
                    Some(Position::Many) | Some(Position::Fixed)
                ))
        {
            continue;
        }
        compared += 1;
        let agrees = match g.positions.get(i) {
            // A position that may still be a constant agrees only with a value it has seen.
            Some(Position::Few(vals)) => vals.iter().any(|(v, _)| **v == *m),
            _ => **w == *m || glob_match(w, m),
        };
        if agrees {
            exact += 1;
        }
    }
    if compared == 0 {
        return Some((1.0, 0));
    }
    Some((exact as f32 / compared as f32, exact))
}

/// Words with a slash (`com.tencent.mm/.ui.LauncherUI`, `a/b`) name things (components, paths):
/// when they differ they are variables, never the constants that tell two templates apart.
fn name_like(w: &str) -> bool {
    w.contains('/')
}

/// Characters at which a template word may be cut when two literal words differ.
fn is_boundary(c: u8) -> bool {
    b"=:,;()[]{}\"'|+!#@/-$".contains(&c)
}

/// The most specific pattern covering two different words: their common prefix and suffix cut
/// at punctuation, with one variable between (`name=a,` and `name=bc,` give `name=<*>,`).
pub(crate) fn generalise(a: &str, b: &str) -> String {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let max = ab.len().min(bb.len());
    // Longest common prefix ending just after a boundary or a wildcard.
    let mut p = 0;
    let mut cut = 0;
    while p < max && ab[p] == bb[p] {
        p += 1;
        if is_boundary(ab[p - 1]) || a.get(..p).is_some_and(|x| x.ends_with(WILDCARD)) {
            cut = p;
        }
    }
    let prefix_cut = cut;
    // Longest common suffix starting at a boundary or a wildcard, not overlapping the prefix.
    let mut s = 0;
    let mut scut = 0;
    while s < max - prefix_cut && ab[ab.len() - 1 - s] == bb[bb.len() - 1 - s] {
        s += 1;
        let from = ab.len() - s;
        if is_boundary(ab[from]) || a.get(from..).is_some_and(|x| x.starts_with(WILDCARD)) {
            scut = s;
        }
    }
    let prefix = a.get(..prefix_cut).unwrap_or("");
    let suffix = a.get(a.len() - scut..).unwrap_or("");
    let mut out = String::with_capacity(prefix.len() + suffix.len() + 3);
    out.push_str(prefix);
    if !out.ends_with(WILDCARD) {
        out.push_str(WILDCARD);
    }
    if let Some(rest) = suffix.strip_prefix(WILDCARD) {
        out.push_str(rest);
    } else {
        out.push_str(suffix);
    }
    out
}

/// Whether `text` matches `pattern`, where each `<*>` stands for one or more characters.
/// Leftmost-greedy matching of the literal pieces is exact for this pattern language and
/// linear in practice.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    glob_captures(pattern, text, None)
}

/// Like [`glob_match`], appending each variable's text to `caps` in order (on failure some
/// may have been appended: the caller truncates). Allocation-free.
fn glob_captures<'t>(pattern: &str, text: &'t str, mut caps: Option<&mut Vec<&'t str>>) -> bool {
    let Some(i) = find_wildcard(pattern) else {
        return pattern == text;
    };
    let (first, rest) = (
        pattern.get(..i).unwrap_or(""),
        pattern.get(i + WILDCARD.len()..).unwrap_or(""),
    );
    let (mids, last) = match rest.rsplit_once(WILDCARD) {
        Some((mids, last)) => (Some(mids), last),
        None => (None, rest),
    };
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let end_limit = text.len() - last.len();
    if text.get(end_limit..) != Some(last) {
        return false;
    }
    let mut pos = first.len();
    for mid in mids.into_iter().flat_map(|m| m.split(WILDCARD)) {
        // A variable takes at least one character.
        let from = pos + 1;
        if from > end_limit {
            return false;
        }
        let Some(off) = text.get(from..end_limit).and_then(|s| s.find(mid)) else {
            return false;
        };
        if let (Some(c), Some(x)) = (caps.as_deref_mut(), text.get(pos..from + off)) {
            c.push(x);
        }
        pos = from + off + mid.len();
    }
    if pos >= end_limit {
        return false;
    }
    if let (Some(c), Some(x)) = (caps, text.get(pos..end_limit)) {
        c.push(x);
    }
    true
}

/// The message's parameters: for each reported template word with a variable, the raw text
/// the variables stand for (the whole raw word when masking changed its literal parts).
/// Reported words are the group's, except at `Few` positions where they are the message's own.
fn params_of<'a>(msg: &'a str, t: &Tokens, g: &Group) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (i, w) in g.words.iter().enumerate() {
        let w: &str = if g.is_few(i) { t.masked(i) } else { w };
        if !has_wildcard(w) {
            continue;
        }
        let raw = t.raw(msg, i);
        if w == WILDCARD {
            out.push(raw);
            continue;
        }
        let start = out.len();
        if !glob_captures(w, raw, Some(&mut out)) {
            out.truncate(start);
            out.push(raw);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine_all(lines: &[&str]) -> (Miner, Vec<TemplateId>) {
        let mut m = Miner::default();
        let ids = lines.iter().map(|l| m.mine(l).id).collect();
        (m, ids)
    }

    #[test]
    fn groups_messages_that_differ_in_variables() {
        let users = ["admin", "bob", "test", "oracle", "guest", "ftp"];
        let mut lines: Vec<String> = users
            .iter()
            .enumerate()
            .map(|(i, u)| format!("Invalid user {u} from 10.0.0.{i}"))
            .collect();
        lines.push("Connection closed by 10.0.0.1 [preauth]".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (mut m, ids) = mine_all(&refs);
        assert_ne!(ids[0], ids[6]);
        // Past four distinct user names the position is a variable: one template for all.
        let a = m.lookup("Invalid user admin from 10.0.0.9").map(|r| r.id);
        let b = m.lookup("Invalid user zed from 10.0.0.9").map(|r| r.id);
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(
            a.and_then(|id| m.template(id)).map(|t| t.text()).as_deref(),
            Some("Invalid user <*> from <*>")
        );
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn few_valued_words_stay_constants() {
        let mut m = Miner::default();
        for i in 0..20 {
            let state = ["Paused", "Resumed", "Started"][i % 3];
            m.mine(&format!(
                "[instance: {i:08x}-aaaa-bbbb-cccc-dddddddddddd] VM {state} (Lifecycle Event)"
            ));
        }
        let p = m
            .lookup("[instance: 1] VM Paused (Lifecycle Event)")
            .map(|r| r.id);
        let r = m
            .lookup("[instance: 2] VM Resumed (Lifecycle Event)")
            .map(|r| r.id);
        assert!(p.is_some() && r.is_some());
        assert_ne!(p, r);
        assert_eq!(
            p.and_then(|id| m.template(id)).map(|t| t.text()).as_deref(),
            Some("[instance: <*>] VM Paused (Lifecycle Event)")
        );
        assert_eq!(m.len(), 1, "one group, three reported templates");
        assert_eq!(m.templates().len(), 3);
    }

    #[test]
    fn differing_names_with_a_slash_are_variables() {
        let mut m = Miner::default();
        for app in ["com.a/.Main", "com.b/.Main", "org.c/.Start"] {
            m.mine(&format!(
                "resuming activity ComponentInfo{{{app}}} for user"
            ));
        }
        assert_eq!(m.templates().len(), 1);
        assert_eq!(
            m.templates().first().map(Template::text).as_deref(),
            Some("resuming activity ComponentInfo{<*>} for user")
        );
    }

    #[test]
    fn returns_params_in_order() {
        let mut m = Miner::default();
        for (i, u) in ["alice", "bob", "carol", "dave", "erin"].iter().enumerate() {
            m.mine(&format!("session opened for user {u} by (uid={i})"));
        }
        let r = m.mine("session opened for user bob by (uid=1000)");
        assert_eq!(r.change, Change::Matched);
        assert_eq!(r.params, vec!["bob", "1000"]);
        let r = m.mine("session closed for user bob");
        assert_eq!(r.change, Change::Created);
        assert!(r.params.is_empty());
    }

    #[test]
    fn generalise_keeps_shared_punctuation() {
        assert_eq!(generalise("name=com.a,", "name=org.bc,"), "name=<*>,");
        assert_eq!(generalise("abc", "xyz"), "<*>");
        assert_eq!(generalise("tag=\"<*>\"", "tag=\"View"), "tag=\"<*>");
        assert!(glob_match("name=<*>,", "name=x.y,"));
        assert!(!glob_match("name=<*>,", "name=,"));
        assert!(!glob_match("a<*>b<*>c", "abc"));
        assert!(glob_match("a<*>b<*>c", "axbyc"));
    }

    #[test]
    fn eviction_bounds_memory_and_never_reuses_ids() {
        let cfg = MinerConfig {
            max_templates: 32,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(cfg).expect("valid config");
        let mut seen = rustc_hash::FxHashSet::default();
        for i in 0..1000 {
            let msg = format!("event{} happened here", (b'a' + (i % 26) as u8) as char)
                + &"x".repeat(i % 7 + 1);
            let r = m.mine(&msg);
            if r.change == Change::Created {
                assert!(seen.insert(r.id), "id {} reused", r.id);
            }
            assert!(m.len() <= 32);
        }
    }

    #[test]
    fn leaves_are_bounded() {
        let mut m = Miner::default();
        // Same first word and length, nothing else in common: one leaf, all different.
        for i in 0..2000u32 {
            let a = (b'a' + (i % 26) as u8) as char;
            let b = (b'a' + (i / 26 % 26) as u8) as char;
            let c = (b'a' + (i / 676 % 26) as u8) as char;
            m.mine(&format!("event {a}{a}{a} {b}{b}{b} {c}{c}{c}"));
        }
        assert!(m.leaves.values().all(|l| l.len() <= MAX_LEAF));
        assert!(m.len() <= MAX_LEAF);
    }

    #[test]
    fn state_round_trips() {
        let (m, ids) = mine_all(&["a b 1", "a b 2", "c d e"]);
        let json = m.state().to_json().expect("serialises");
        assert!(json.contains("\"groups\""));
        let mut r =
            Miner::from_state(MinerState::from_json(&json).expect("parses")).expect("restores");
        assert_eq!(r.templates(), m.templates());
        assert_eq!(r.mine("a b 3").id, ids[0]);
        let new = r.mine("something else entirely").id;
        assert!(new.0 > ids[2].0);
        assert!(MinerState::from_json("{}").is_err());
    }

    #[test]
    fn bad_config_is_refused() {
        for similarity in [0.0, 1.5, f32::NAN] {
            let cfg = MinerConfig {
                similarity,
                ..MinerConfig::default()
            };
            assert!(Miner::new(cfg).is_err());
        }
    }
}
