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
//! nearly every event and slow the scan). All literals of all rules go into one Aho-Corasick
//! automaton (ASCII case-insensitive); each event's values are scanned once, and only the rules
//! whose literal set was hit, plus the unconstrained ones, are evaluated. This is exact: the
//! prefilter never drops a rule that would match (values with non-ASCII characters are scanned
//! in their lower-cased form, the same form the matchers compare).

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use kasbah_event::{Event, Value};
use rustc_hash::FxHashMap;

use crate::compile::{CSearch, Expr};
use crate::matcher::{Matcher, Scratch, StrKind, Target, Test, lower, with_text};

/// Shortest literal worth indexing, in bytes.
pub const MIN_LITERAL: usize = 3;

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
        && f.event_time {
            return None;
        }
    let per_value = m
        .values
        .iter()
        .map(|alts| union_of(alts.iter().map(test_req)));
    if m.all {
        best_of(per_value)
    } else {
        union_of(per_value)
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

/// The literal index over all rules.
pub(crate) struct Prefilter {
    ac: Option<AhoCorasick>,
    /// Literal id -> rules requiring it.
    lit_rules: Vec<Vec<u32>>,
}

impl Prefilter {
    /// Builds the index; `reqs[r]` is rule `r`'s requirement (`None`: always evaluated).
    pub fn build(reqs: &[Req]) -> Prefilter {
        let mut ids: FxHashMap<Box<str>, usize> = FxHashMap::default();
        let mut lits: Vec<Box<str>> = Vec::new();
        let mut lit_rules: Vec<Vec<u32>> = Vec::new();
        for (r, req) in reqs.iter().enumerate() {
            let Some(req) = req else { continue };
            for l in req {
                let id = *ids.entry(l.clone()).or_insert_with(|| {
                    lits.push(l.clone());
                    lit_rules.push(Vec::new());
                    lits.len() - 1
                });
                if let Some(v) = lit_rules.get_mut(id)
                    && v.last() != Some(&(r as u32)) {
                        v.push(r as u32);
                    }
            }
        }
        let ac = if lits.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(lits.iter().map(|l| l.as_bytes()))
                .ok()
        };
        // Without an automaton (build failure) every rule must be evaluated: callers treat
        // `ac == None` with literals as "no filtering" through `is_active`.
        Prefilter { ac, lit_rules }
    }

    /// Number of distinct literals.
    pub fn literals(&self) -> usize {
        self.lit_rules.len()
    }

    /// True if the automaton is usable (otherwise every rule is a candidate).
    pub fn is_active(&self) -> bool {
        self.ac.is_some() || self.lit_rules.is_empty()
    }

    /// Scans every value of `ev` and pushes onto `scratch.candidates` each rule (not yet seen
    /// in this event) one of whose literals occurs.
    pub fn scan(&self, ev: &Event, scratch: &mut Scratch) {
        let Some(ac) = &self.ac else { return };
        if scratch.lit_seen.len() < self.lit_rules.len() {
            scratch.lit_seen.resize(self.lit_rules.len(), 0);
        }
        for (_, v) in ev.fields.iter() {
            match v {
                Value::List(items) => {
                    for i in items {
                        self.scan_value(ac, i, scratch);
                    }
                }
                _ => self.scan_value(ac, v, scratch),
            }
        }
    }

    fn scan_value(&self, ac: &AhoCorasick, v: &Value, scratch: &mut Scratch) {
        match v {
            Value::Null | Value::List(_) => {}
            Value::Str(s) if !s.is_ascii() => {
                // Scan the lower-cased form, as the matchers compare it.
                let (a, b) = scratch.lowered(v, s);
                let Scratch {
                    lower,
                    epoch,
                    lit_seen,
                    rule_seen,
                    candidates,
                    ..
                } = scratch;
                let text = lower.get(a..b).unwrap_or_default();
                self.scan_text(ac, text, *epoch, lit_seen, rule_seen, candidates);
            }
            _ => with_text(v, |t| {
                let Scratch {
                    epoch,
                    lit_seen,
                    rule_seen,
                    candidates,
                    ..
                } = scratch;
                self.scan_text(ac, t, *epoch, lit_seen, rule_seen, candidates)
            }),
        }
    }

    fn scan_text(
        &self,
        ac: &AhoCorasick,
        text: &str,
        epoch: u32,
        lit_seen: &mut [u32],
        rule_seen: &mut [u32],
        candidates: &mut Vec<u32>,
    ) {
        if text.len() < MIN_LITERAL {
            return;
        }
        for m in ac.find_overlapping_iter(text) {
            let lit = m.pattern().as_usize();
            let Some(seen) = lit_seen.get_mut(lit) else {
                continue;
            };
            if *seen == epoch {
                continue;
            }
            *seen = epoch;
            for &r in self
                .lit_rules
                .get(lit)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(s) = rule_seen.get_mut(r as usize)
                    && *s != epoch {
                        *s = epoch;
                        candidates.push(r);
                    }
            }
        }
    }
}
