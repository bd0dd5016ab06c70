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
//! (rarest among all rule literals, estimated with a small counting sketch: a good proxy for
//! the vocabulary of the logs), or for literals of 4 to 7 bytes their rarest 4-byte window. A
//! rule is a candidate when the gram of one of its literals occurs in the event; any piece of a
//! present literal is present, so this never drops a rule that would match (it may add a few
//! candidates, which the matchers then reject). Per event, every value is lower-cased once into
//! one buffer (the same per-event cache the matchers use); at every position of it, the 8-byte
//! window there is tested against a bitmap of hashed 8-grams and its first 4 bytes against one
//! of hashed 4-grams (a multiply, a shift and a bit test each, in cache), and only the rare
//! positions that pass are looked up exactly.
//!
//! We measured an Aho-Corasick automaton over the ~19,000 literals of SigmaHQ first: it is
//! exact, but its search is bound by memory latency (about 55 MB/s on this corpus, 8 times slower
//! than this index), and its construction alone took a third of the rule-loading budget.

use kasbah_event::{Event, FieldId, Value};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::compile::{CSearch, Expr};
use crate::matcher::{Matcher, Scratch, StrKind, Target, Test, lower, with_text};

/// Shortest literal worth indexing, in bytes.
pub const MIN_LITERAL: usize = 4;

/// A requirement: `None` = unconstrained; `Some(lits)` = one of `lits` must occur.
/// One thing whose presence an event must show for a rule to possibly match.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Atom {
    /// A lower-cased literal somewhere in the event's values.
    Lit(Box<str>),
    /// A field with exactly this value (integers in decimal, text lower-cased).
    Eq(FieldId, Box<str>),
}

impl Atom {
    /// Selectivity proxy: a literal's length; a field value counts as a long literal.
    fn weight(&self) -> usize {
        match self {
            Atom::Lit(l) => l.len(),
            Atom::Eq(..) => 8,
        }
    }
}

/// A requirement: `None` = unconstrained; `Some(atoms)` = one of `atoms` must hold.
type Req = Option<Vec<Atom>>;

fn score(atoms: &[Atom]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = atoms.iter().map(Atom::weight).min().unwrap_or(usize::MAX);
    (shortest.min(8), std::cmp::Reverse(atoms.len()))
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
    (l.len() >= MIN_LITERAL).then(|| vec![Atom::Lit(l.into_boxed_str())])
}

/// The canonical key of an integral number (what [`Prefilter`] derives from event values).
fn int_key(x: f64) -> Option<Box<str>> {
    (x.fract() == 0.0 && x.abs() < 9.0e15).then(|| (x as i64).to_string().into_boxed_str())
}

/// `field`: the single event field the test reads, when it is the same in every variant.
fn test_req(t: &Test, field: Option<FieldId>) -> Req {
    match t {
        Test::Str(s) => match &s.kind {
            // Short exact values (`EventType: CreateKey`, `LogonType: '3'`) index better by
            // field value than as literals.
            StrKind::Exact(p) if !s.cased && p.len() < 8 && field.is_some() => {
                field.map(|f| vec![Atom::Eq(f, p.clone())])
            }
            StrKind::Exact(p) | StrKind::Prefix(p) | StrKind::Suffix(p) => literal_req(p),
            StrKind::Contains(f) => literal_req(f.needle()),
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
        // Only plain decimal integers: a value written `0x10` also matches the text "0x10".
        Test::Num { value, text } => {
            let key = int_key(*value)?;
            (*key == **text).then_some(())?;
            Some(vec![Atom::Eq(field?, key)])
        }
        Test::Bool(b) => Some(vec![Atom::Eq(
            field?,
            if *b { "true" } else { "false" }.into(),
        )]),
        // Literals every match starts (or ends) with, when the regex has a finite set of them.
        Test::Re { lits, .. } if !lits.is_empty() => {
            Some(lits.iter().map(|l| Atom::Lit(l.clone())).collect())
        }
        _ => None,
    }
}

fn matcher_req(m: &Matcher) -> Req {
    if m.neq {
        return None;
    }
    let field = match &m.target {
        Target::Field(f) if f.event_time => return None,
        Target::Field(f) if f.ids.len() == 1 => f.ids.first().copied(),
        _ => None,
    };
    let per_value = m
        .values
        .iter()
        .map(|alts| union_of(alts.iter().map(|t| test_req(t, field))));
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

/// Bits of the 8-gram bitmap (32 KiB).
const BITS8: u32 = 18;
/// Bits of the 4-gram bitmap (4 KiB): only literals of 4 to 7 bytes are indexed by a 4-gram.
const BITS4: u32 = 15;

/// Multiplicative (Fibonacci) hash of a packed window onto `bits` bits.
#[inline]
fn fib_hash(key: u64, bits: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

/// The grams of one length: a bitmap of their hashes, where a clear bit proves a window is no
/// gram in one multiply and a load that stays in the L1 cache, in front of the exact table.
struct GramTable {
    bits: u32,
    bitmap: Vec<u64>,
    /// Gram -> key id.
    ids: FxHashMap<u64, u32>,
}

impl GramTable {
    fn new(bits: u32) -> Self {
        GramTable {
            bits,
            bitmap: vec![0; 1 << (bits - 6)],
            ids: FxHashMap::default(),
        }
    }

    /// The key id of `gram`, `next` if it is new.
    fn insert(&mut self, gram: u64, next: u32) -> u32 {
        let h = fib_hash(gram, self.bits);
        if let Some(w) = self.bitmap.get_mut(h >> 6) {
            *w |= 1 << (h & 63);
        }
        *self.ids.entry(gram).or_insert(next)
    }

    #[inline]
    fn get(&self, window: u64) -> Option<u32> {
        let h = fib_hash(window, self.bits);
        let maybe = self
            .bitmap
            .get(h >> 6)
            .is_some_and(|x| x & (1 << (h & 63)) != 0);
        if maybe {
            self.ids.get(&window).copied()
        } else {
            None
        }
    }
}

/// `bytes` (at most 8) packed little-endian into a u64.
#[inline]
fn pack(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(b)
}

/// Lower-cases the ASCII letters of eight packed bytes (bytes >= 0x80 are left as they are:
/// text with non-ASCII characters is lower-cased before it gets here).
#[inline]
fn lower8(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte b < 0x80: (b + 0x3F) has bit 7 set iff b >= 'A'; (b + 0x25) iff b > 'Z'.
    let ascii = !w & HIGH;
    let low7 = w & !HIGH;
    let ge_a = low7.wrapping_add(ONES * 0x3F);
    let gt_z = low7.wrapping_add(ONES * 0x25);
    let upper = ge_a & !gt_z & ascii;
    w | (upper >> 2)
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
    /// 8-byte grams. Keying the bitmap on the whole window (not on its first 4 bytes, as a
    /// first version did) matters: on Windows events, 28% of positions began like some gram
    /// (`\win`, `.exe`) and went on to table lookups; under 10% now do.
    grams8: GramTable,
    /// 4-byte grams.
    grams4: GramTable,
    /// Fields indexed by value: `eq_slot[field id]` is the index in `eq` (or `u32::MAX`).
    eq_slot: Vec<u32>,
    /// Per indexed field: value key -> key id.
    eq: Vec<FxHashMap<Box<str>, u32>>,
    /// Key id -> rules requiring it.
    key_rules: Vec<Vec<u32>>,
    /// The literals (for diagnostics).
    pub lits: Vec<Box<str>>,
    /// The fields a literal can be in (by field id): those the filtered rules' matchers read.
    /// `None` when one of them is a keyword search, which reads every field.
    scope: Option<Vec<bool>>,
}

/// The fields whose values can hold a literal of the given rules (`searches` of each rule that
/// has a requirement): every field their matchers read, in every field-name variant. `None` if
/// one of them searches keywords (any field). A firewall event has some 75 fields and the
/// built-in rules read a handful of them, so scanning only those skips most of the bytes.
pub(crate) fn literal_scope<'a>(
    searches: impl Iterator<Item = &'a [CSearch]>,
) -> Option<Vec<bool>> {
    let mut scope: Vec<bool> = Vec::new();
    for s in searches.flatten() {
        for m in s.any_of.iter().flatten() {
            match &m.target {
                Target::Keywords => return None,
                Target::Field(f) => {
                    for id in f.ids.iter() {
                        let i = id.index();
                        if scope.len() <= i {
                            scope.resize(i + 1, false);
                        }
                        if let Some(x) = scope.get_mut(i) {
                            *x = true;
                        }
                    }
                }
            }
        }
    }
    Some(scope)
}

/// How common each window is among the rule literals: only a heuristic (any window of a present
/// literal is present too, so the choice affects selectivity, never correctness).
///
/// Exact counts over hundreds of thousands of distinct 8-grams made a hash table of several
/// MiB, missed the cache at every window and cost 30 ms on SigmaHQ, the largest sequential
/// step of building an engine. So 8-grams are counted in a 1 MiB table of saturating 8-bit
/// counters indexed by hash (a collision only makes a window look a little more common), and
/// 4-grams, asked for only for the few literals of 4 to 7 bytes, are counted exactly for just
/// those windows.
struct GramFreq {
    /// Exact counts of the 4-grams of short literals.
    four: FxHashMap<u64, u32>,
    /// Saturating counts of 8-grams, by their hash.
    eight: Vec<u8>,
}

/// Bits of the 8-gram frequency sketch.
const SKETCH_BITS: u32 = 20;

impl GramFreq {
    fn new(lits: &[Box<str>]) -> GramFreq {
        let (four, eight) = rayon::join(
            || {
                let mut four: FxHashMap<u64, u32> = lits
                    .iter()
                    .filter(|l| l.len() < 8)
                    .flat_map(|l| l.as_bytes().windows(4).map(|w| (pack(w), 0)))
                    .collect();
                for l in lits {
                    for w in l.as_bytes().windows(4) {
                        if let Some(n) = four.get_mut(&pack(w)) {
                            *n += 1;
                        }
                    }
                }
                four
            },
            || {
                let mut eight = vec![0u8; 1 << SKETCH_BITS];
                for l in lits {
                    for w in l.as_bytes().windows(8) {
                        if let Some(n) = eight.get_mut(fib_hash(pack(w), SKETCH_BITS)) {
                            *n = n.saturating_add(1);
                        }
                    }
                }
                eight
            },
        );
        GramFreq { four, eight }
    }

    fn get(&self, len: usize, key: u64) -> u32 {
        if len == 8 {
            self.eight
                .get(fib_hash(key, SKETCH_BITS))
                .map_or(0, |&n| u32::from(n))
        } else {
            self.four.get(&key).copied().unwrap_or(0)
        }
    }
}

/// The rarest window of `len` bytes of `lit` by `freq`, ties broken towards the end.
fn rarest(lit: &[u8], len: usize, freq: &GramFreq) -> u64 {
    let mut best = (u32::MAX, 0u64);
    for w in lit.windows(len) {
        let k = pack(w);
        let f = freq.get(len, k);
        if f <= best.0 {
            best = (f, k);
        }
    }
    best.1
}

impl Prefilter {
    /// Builds the index; `reqs[r]` is rule `r`'s requirement (`None`: always evaluated), `scope`
    /// the fields their literals can be in ([`literal_scope`]).
    pub fn build(reqs: &[Req], scope: Option<Vec<bool>>) -> Prefilter {
        let mut lits: Vec<Box<str>> = reqs
            .iter()
            .flatten()
            .flatten()
            .filter_map(|a| match a {
                Atom::Lit(l) => Some(l.clone()),
                Atom::Eq(..) => None,
            })
            .collect();
        lits.par_sort_unstable();
        lits.dedup();
        let freq = GramFreq::new(&lits);
        // (8-byte gram?, gram) per literal.
        let picked: Vec<(bool, u64)> = lits
            .par_iter()
            .map(|l| {
                let b = l.as_bytes();
                let long = b.len() >= 8;
                (long, rarest(b, if long { 8 } else { 4 }, &freq))
            })
            .collect();
        drop(freq);
        let mut grams8 = GramTable::new(BITS8);
        let mut grams4 = GramTable::new(BITS4);
        let mut key_rules: Vec<Vec<u32>> = Vec::new();
        let mut lit_key: FxHashMap<&str, u32> =
            FxHashMap::with_capacity_and_hasher(lits.len(), Default::default());
        for (l, &(long, gram)) in lits.iter().zip(&picked) {
            let next = key_rules.len() as u32;
            let table = if long { &mut grams8 } else { &mut grams4 };
            let id = table.insert(gram, next);
            if id == next {
                key_rules.push(Vec::new());
            }
            lit_key.insert(l, id);
        }
        let mut eq: Vec<(FieldId, FxHashMap<Box<str>, u32>)> = Vec::new();
        for (r, req) in reqs.iter().enumerate() {
            let Some(req) = req else { continue };
            for atom in req {
                let id = match atom {
                    Atom::Lit(l) => lit_key.get(l.as_ref()).copied(),
                    Atom::Eq(f, v) => {
                        let pos = match eq.iter().position(|(x, _)| x == f) {
                            Some(p) => p,
                            None => {
                                eq.push((*f, FxHashMap::default()));
                                eq.len() - 1
                            }
                        };
                        let next = key_rules.len() as u32;
                        let id = eq
                            .get_mut(pos)
                            .map(|(_, m)| *m.entry(v.clone()).or_insert(next));
                        if id == Some(next) {
                            key_rules.push(Vec::new());
                        }
                        id
                    }
                };
                if let Some(v) = id.and_then(|id| key_rules.get_mut(id as usize))
                    && v.last() != Some(&(r as u32))
                {
                    v.push(r as u32);
                }
            }
        }
        let mut eq_slot = vec![u32::MAX; eq.iter().map(|(f, _)| f.index() + 1).max().unwrap_or(0)];
        for (i, (f, _)) in eq.iter().enumerate() {
            if let Some(s) = eq_slot.get_mut(f.index()) {
                *s = i as u32;
            }
        }
        let eq = eq.into_iter().map(|(_, m)| m).collect();
        Prefilter {
            grams8,
            grams4,
            eq_slot,
            eq,
            key_rules,
            lits,
            scope,
        }
    }

    /// Number of distinct literals.
    pub fn literals(&self) -> usize {
        self.lits.len()
    }

    /// Scans every value of `ev` and pushes onto `scratch.candidates` each rule (not yet seen
    /// in this event) one of whose grams occurs, or whose indexed field value the event has.
    pub fn scan(&self, ev: &Event, scratch: &mut Scratch) {
        if scratch.lit_seen.len() < self.key_rules.len() {
            scratch.lit_seen.resize(self.key_rules.len(), 0);
        }
        match &self.scope {
            None => {
                for (_, v) in ev.fields.iter() {
                    self.scan_field(v, scratch);
                }
            }
            Some(scope) => {
                let read = |id: FieldId| scope.get(id.index()).copied().unwrap_or(false);
                for (id, v) in ev.fields.iter_ids() {
                    if read(id) {
                        self.scan_field(v, scratch);
                    }
                }
                // A rule reading an alias reads the field it points to.
                for (alias, target) in ev.fields.aliases() {
                    if read(alias)
                        && !read(target)
                        && let Some(v) = ev.fields.get(target)
                    {
                        self.scan_field(v, scratch);
                    }
                }
            }
        }
        // Fields indexed by value (`EventID: 4624`, `LogonType: 3`): one pass over the event's
        // fields (and aliases), each looked up in a dense table by id.
        if self.eq.is_empty() {
            return;
        }
        let keys_of = |id: FieldId| {
            self.eq_slot
                .get(id.index())
                .and_then(|s| self.eq.get(*s as usize))
        };
        for (id, v) in ev.fields.iter_ids() {
            if let Some(keys) = keys_of(id) {
                self.eq_field(v, keys, scratch);
            }
        }
        for (alias, target) in ev.fields.aliases() {
            if let (Some(keys), Some(v)) = (keys_of(alias), ev.fields.get(target)) {
                self.eq_field(v, keys, scratch);
            }
        }
    }

    fn scan_field(&self, v: &Value, scratch: &mut Scratch) {
        match v {
            Value::List(items) => {
                for i in items {
                    self.scan_value(i, scratch);
                }
            }
            _ => self.scan_value(v, scratch),
        }
    }

    fn eq_field(&self, v: &Value, keys: &FxHashMap<Box<str>, u32>, scratch: &mut Scratch) {
        match v {
            Value::List(items) => {
                for i in items {
                    self.eq_value(i, keys, scratch);
                }
            }
            _ => self.eq_value(v, keys, scratch),
        }
    }

    /// Looks up the keys a value can match: its canonical integer and its lower-cased text.
    fn eq_value(&self, v: &Value, keys: &FxHashMap<Box<str>, u32>, scratch: &mut Scratch) {
        let number = match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let mut ids: [Option<u32>; 2] = [None, None];
        if let Some(k) = number.and_then(int_key) {
            ids[0] = keys.get(&k).copied();
        }
        ids[1] = match v {
            Value::Str(s) => {
                let r = scratch.lowered(v, s);
                keys.get(scratch.slice(r)).copied()
            }
            Value::Null | Value::List(_) => None,
            _ => with_text(v, |t| keys.get(t).copied()),
        };
        let Scratch {
            epoch,
            lit_seen,
            rule_seen,
            candidates,
            ..
        } = scratch;
        for id in ids.into_iter().flatten() {
            self.hit(id, *epoch, lit_seen, rule_seen, candidates);
        }
    }

    fn hit(
        &self,
        id: u32,
        epoch: u32,
        lit_seen: &mut [u32],
        rule_seen: &mut [u32],
        candidates: &mut Vec<u32>,
    ) {
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
    }

    /// Scans one scalar value. ASCII text (nearly everything in logs) is lower-cased on the fly,
    /// eight bytes at a time; other text is lower-cased into the per-event cache the matchers
    /// share; numbers and booleans are lower case already.
    fn scan_value(&self, v: &Value, scratch: &mut Scratch) {
        let Scratch {
            lower,
            lower_idx,
            epoch,
            lit_seen,
            rule_seen,
            candidates,
            ..
        } = scratch;
        match v {
            Value::Null | Value::List(_) => {}
            Value::Str(s) if s.is_ascii() => {
                self.scan_bytes(s.as_bytes(), *epoch, lit_seen, rule_seen, candidates);
            }
            Value::Str(s) => {
                let (a, b) = crate::matcher::lowered_in(lower, lower_idx, v, s);
                let text = lower.get(a..b).unwrap_or_default();
                self.scan_bytes(text.as_bytes(), *epoch, lit_seen, rule_seen, candidates);
            }
            _ => with_text(v, |t| {
                self.scan_bytes(t.as_bytes(), *epoch, lit_seen, rule_seen, candidates);
            }),
        }
    }

    fn scan_bytes(
        &self,
        b: &[u8],
        epoch: u32,
        lit_seen: &mut [u32],
        rule_seen: &mut [u32],
        candidates: &mut Vec<u32>,
    ) {
        let mut hit = |id: u32| self.hit(id, epoch, lit_seen, rule_seen, candidates);
        let n = b.len();
        for i in 0..n.saturating_sub(3) {
            let w = match b.get(i..i + 8) {
                Some(x) => {
                    let w = lower8(u64::from_le_bytes(x.try_into().unwrap_or([0; 8])));
                    if let Some(id) = self.grams8.get(w) {
                        hit(id);
                    }
                    w
                }
                None => lower8(pack(b.get(i..).unwrap_or_default())),
            };
            if let Some(id) = self.grams4.get(w & mask(4)) {
                hit(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower8_matches_ascii_lowercase() {
        let samples: [&[u8; 8]; 5] = [
            b"ABCDEFGH",
            b"@[`{AZaz",
            b"C:\\WINDO",
            b"\x7f\x00Zz09_-",
            b"MiXeD.eX",
        ];
        for s in samples {
            let w = u64::from_le_bytes(*s);
            let mut want = *s;
            want.make_ascii_lowercase();
            assert_eq!(lower8(w).to_le_bytes(), want, "{s:?}");
        }
        for b in 0u8..0x80 {
            let w = u64::from_le_bytes([b; 8]);
            assert_eq!(lower8(w).to_le_bytes(), [b.to_ascii_lowercase(); 8], "{b}");
        }
    }
}
