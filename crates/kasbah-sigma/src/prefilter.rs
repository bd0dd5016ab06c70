//! The cross-rule literal prefilter: most rules are never evaluated for most events.
//!
//! For each rule we derive a set of literals such that, if the rule matches an event, at least
//! one of them occurs (case-insensitively) in some value of the event:
//! * a string test requires its longest literal piece (`*\cmd.exe` requires `\cmd.exe`);
//! * an OR (of values, of alternatives, of searches) requires the union of its parts' sets,
//!   and is unconstrained if any part is;
//! * an AND requires any one of its parts' sets: we keep the most selective (longest shortest
//!   literal, then fewest literals);
//! * `not`, numbers, `null`, `exists`, regexes, CIDR and field references are unconstrained.
//!
//! Literals shorter than [`MIN_LITERAL`] bytes are treated as unconstrained (they would match
//! nearly every event).
//!
//! **The index.** A literal is represented by one of its *grams*: its rarest 8-byte window
//! (rarest among all rule literals, a good proxy for the vocabulary of the logs), or for
//! literals of 4 to 7 bytes their rarest 4-byte window. A rule is a candidate when the gram of
//! one of its literals occurs in the event; any piece of a present literal is present, so this
//! never drops a rule that would match (it may add a few candidates, which the matchers then
//! reject). Per event, every value is lower-cased once into one buffer (the same per-event
//! cache the matchers use); at every position of it, the 4 bytes there are tested against a
//! bitmap of the first 4 bytes of every gram (a multiply, a shift and a bit test, in cache), and
//! only the rare positions that pass are looked up exactly.
//!
//! We measured an Aho-Corasick automaton over the ~19,000 literals of SigmaHQ first: it is
//! exact, but its search is bound by memory latency (about 55 MB/s on this corpus, 8 times slower
//! than this index), and its construction alone took a third of the rule-loading budget.

use kasbah_event::{Event, Value};
use rustc_hash::FxHashMap;

use crate::compile::{CSearch, Expr};
use crate::matcher::{Matcher, Scratch, StrKind, Target, Test, lower, with_text};

/// Shortest literal worth indexing, in bytes.
pub const MIN_LITERAL: usize = 4;

/// A requirement: `None` = unconstrained; `Some(lits)` = one of `lits` must occur.
type Req = Option<Vec<Box<str>>>;

fn score(lits: &[Box<str>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = lits.iter().map(|l| l.len()).min().unwrap_or(usize::MAX);
    (shortest, std::cmp::Reverse(lits.len()))
}

fn best_of(reqs: impl Iterator<Item = Req>) -> Req {
    reqs.flatten().max_by_key(|l| score(l))
}

fn union_of(reqs: impl Iterator<Item = Req>) -> Req {
    let mut out = Vec::new();
    for r in reqs {
        out.extend(r?);
    }
    Some(out)
}

fn literal_req(lit: &str) -> Req {
    let l = lower(lit);
    (l.len() >= MIN_LITERAL).then(|| vec![l.into_boxed_str()])
}

fn test_req(t: &Test) -> Req {
    match t {
        Test::Str(s) => match &s.kind {
            StrKind::Exact(p) | StrKind::Prefix(p) | StrKind::Suffix(p) => literal_req(p),
            StrKind::Contains(f) => std::str::from_utf8(f.needle()).ok().and_then(literal_req),
            StrKind::Segments {
                head, middle, tail, ..
            } => {
                let mids = middle
                    .iter()
                    .filter_map(|f| std::str::from_utf8(f.needle()).ok());
                let longest = [head.as_ref(), tail.as_ref()]
                    .into_iter()
                    .chain(mids)
                    .max_by_key(|l| l.len())?;
                literal_req(longest)
            }
            StrKind::Regex(_) => {
                if s.lit.is_empty() {
                    None
                } else {
                    literal_req(&s.lit)
                }
            }
        },
        _ => None,
    }
}

fn matcher_req(m: &Matcher) -> Req {
    if m.neq {
        return None;
    }
    if let Target::Field(f) = &m.target
        && f.event_time
    {
        return None;
    }
    let per_value = m
        .values
        .iter()
        .map(|alts| union_of(alts.iter().map(test_req)));
    if m.all {
        best_of(per_value)
    } else {
        let fast = m
            .fast
            .iter()
            .map(|f| union_of(f.lits.iter().map(|l| literal_req(l))));
        union_of(per_value.chain(fast))
    }
}

fn search_req(s: &CSearch) -> Req {
    union_of(
        s.any_of
            .iter()
            .map(|all| best_of(all.iter().map(matcher_req))),
    )
}

/// The literal requirement of a rule's condition.
pub(crate) fn expr_req(e: &Expr, searches: &[CSearch]) -> Req {
    match e {
        Expr::Search(i) => searches.get(*i as usize).and_then(search_req),
        Expr::Not(_) => None,
        Expr::And(v) => best_of(v.iter().map(|x| expr_req(x, searches))),
        Expr::Or(v) => union_of(v.iter().map(|x| expr_req(x, searches))),
        Expr::AtLeast(0, _) => None,
        Expr::AtLeast(_, v) => union_of(v.iter().map(|x| expr_req(x, searches))),
    }
}

/// Bits of the prefix bitmap (32 KiB).
const BITMAP_BITS: u32 = 18;

#[inline]
fn gram_hash(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITMAP_BITS)) as usize
}

/// `bytes` (at most 8) packed little-endian into a u64.
#[inline]
fn pack(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(b)
}

const fn mask(len: usize) -> u64 {
    if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (len * 8)) - 1
    }
}

/// The gram index over all rules.
pub(crate) struct Prefilter {
    /// Bitmap of the hashed first 4 bytes of every gram.
    prefix: Vec<u64>,
    /// Exact 4-byte grams -> key id.
    grams4: FxHashMap<u64, u32>,
    /// Exact 8-byte grams -> key id.
    grams8: FxHashMap<u64, u32>,
    /// Key id -> rules requiring it.
    key_rules: Vec<Vec<u32>>,
    /// The literals (for diagnostics).
    pub lits: Vec<Box<str>>,
}

/// The rarest window of `len` bytes of `lit` by `freq`, ties broken towards the end.
fn rarest(lit: &[u8], len: usize, freq: &FxHashMap<u64, u32>) -> u64 {
    let mut best = (u32::MAX, 0u64);
    for w in lit.windows(len) {
        let k = pack(w);
        let f = freq.get(&k).copied().unwrap_or(0);
        if f <= best.0 {
            best = (f, k);
        }
    }
    best.1
}

impl Prefilter {
    /// Builds the index; `reqs[r]` is rule `r`'s requirement (`None`: always evaluated).
    pub fn build(reqs: &[Req]) -> Prefilter {
        let mut lits: Vec<Box<str>> = reqs.iter().flatten().flatten().cloned().collect();
        lits.sort_unstable();
        lits.dedup();
        // Frequency of every 4- and 8-gram among the literals.
        let mut freq: [FxHashMap<u64, u32>; 2] = Default::default();
        for l in &lits {
            for (i, len) in [4usize, 8].into_iter().enumerate() {
                for w in l.as_bytes().windows(len) {
                    *freq[i].entry(pack(w)).or_default() += 1;
                }
            }
        }
        let mut prefix = vec![0u64; 1 << (BITMAP_BITS - 6)];
        let mut grams: [FxHashMap<u64, u32>; 2] = Default::default();
        let mut key_rules: Vec<Vec<u32>> = Vec::new();
        let mut lit_key: FxHashMap<&str, u32> = FxHashMap::default();
        for l in &lits {
            let b = l.as_bytes();
            let (table, key) = if b.len() >= 8 {
                (1, rarest(b, 8, &freq[1]))
            } else {
                (0, rarest(b, 4, &freq[0]))
            };
            let h = gram_hash(key & mask(4));
            if let Some(w) = prefix.get_mut(h >> 6) {
                *w |= 1 << (h & 63);
            }
            let next = key_rules.len() as u32;
            let id = *grams[table].entry(key).or_insert(next);
            if id == next {
                key_rules.push(Vec::new());
            }
            lit_key.insert(l, id);
        }
        for (r, req) in reqs.iter().enumerate() {
            let Some(req) = req else { continue };
            for l in req {
                if let Some(v) = lit_key
                    .get(l.as_ref())
                    .and_then(|id| key_rules.get_mut(*id as usize))
                    && v.last() != Some(&(r as u32))
                {
                    v.push(r as u32);
                }
            }
        }
        let [grams4, grams8] = grams;
        Prefilter {
            prefix,
            grams4,
            grams8,
            key_rules,
            lits,
        }
    }

    /// Number of distinct literals.
    pub fn literals(&self) -> usize {
        self.lits.len()
    }

    /// Lower-cases every value of `ev` into the scratch buffer, scans it, and pushes onto
    /// `scratch.candidates` each rule (not yet seen in this event) one of whose grams occurs.
    pub fn scan(&self, ev: &Event, scratch: &mut Scratch) {
        if scratch.lit_seen.len() < self.key_rules.len() {
            scratch.lit_seen.resize(self.key_rules.len(), 0);
        }
        for (_, v) in ev.fields.iter() {
            match v {
                Value::List(items) => {
                    for i in items {
                        Self::append(i, scratch);
                    }
                }
                _ => Self::append(v, scratch),
            }
        }
        let Scratch {
            lower,
            epoch,
            lit_seen,
            rule_seen,
            candidates,
            ..
        } = scratch;
        self.scan_bytes(lower.as_bytes(), *epoch, lit_seen, rule_seen, candidates);
    }

    fn append(v: &Value, scratch: &mut Scratch) {
        match v {
            Value::Null | Value::List(_) => return,
            // Lower-cased once for the event; the matchers reuse this copy.
            Value::Str(s) => {
                scratch.lowered(v, s);
            }
            // Numbers and booleans render in lower case.
            _ => with_text(v, |t| scratch.lower.push_str(t)),
        }
        // A separator, so that grams rarely span two values (they could only add candidates).
        scratch.lower.push('\0');
    }

    fn scan_bytes(
        &self,
        b: &[u8],
        epoch: u32,
        lit_seen: &mut [u32],
        rule_seen: &mut [u32],
        candidates: &mut Vec<u32>,
    ) {
        let mut hit = |id: u32| {
            let Some(seen) = lit_seen.get_mut(id as usize) else {
                return;
            };
            if *seen == epoch {
                return;
            }
            *seen = epoch;
            for &r in self
                .key_rules
                .get(id as usize)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(s) = rule_seen.get_mut(r as usize)
                    && *s != epoch
                {
                    *s = epoch;
                    candidates.push(r);
                }
            }
        };
        let n = b.len();
        for i in 0..n.saturating_sub(3) {
            let w = match b.get(i..i + 8) {
                Some(x) => u64::from_le_bytes(x.try_into().unwrap_or([0; 8])),
                None => pack(b.get(i..).unwrap_or_default()),
            };
            let k4 = w & mask(4);
            let h = gram_hash(k4);
            if self
                .prefix
                .get(h >> 6)
                .is_none_or(|x| x & (1 << (h & 63)) == 0)
            {
                continue;
            }
            if let Some(id) = self.grams4.get(&k4) {
                hit(*id);
            }
            if n - i >= 8
                && let Some(id) = self.grams8.get(&w)
            {
                hit(*id);
            }
        }
    }
}
