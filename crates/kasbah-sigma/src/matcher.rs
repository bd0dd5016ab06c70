//! Compiled value tests and their evaluation against events.
//!
//! Everything here runs once per candidate rule per event, so it is written to not allocate:
//! field names are resolved to [`FieldId`]s at compile time; numbers are rendered into a stack
//! buffer when a rule compares them as text; case-insensitive comparisons use a per-event cache
//! of lower-cased field values kept in [`Scratch`] (each value is lowered at most once per event,
//! however many rules look at it, into a buffer reused across events). Patterns are lower-cased
//! once at compile time with the same character mapping, so non-ASCII text compares correctly.
//! Regexes come from the `regex` crate: linear time, with a size limit set at compile time.

use std::fmt::Write as _;
use std::net::IpAddr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use kasbah_event::{Event, FieldId, Value};
use memchr::memmem;

use crate::ast::CmpOp;

/// Lower-cases `s` into `out`, character by character (`char::to_lowercase`), the same mapping
/// for patterns and haystacks. ASCII text takes a fast path.
pub(crate) fn lower_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        if let Some(tail) = out.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
    } else {
        out.reserve(s.len());
        for c in s.chars() {
            out.extend(c.to_lowercase());
        }
    }
}

/// The lower-cased text of `v` in the per-event cache (`buf`, `idx`), lowering it on first use.
/// Values are keyed by address: the event is borrowed, unchanged, for the whole evaluation.
pub(crate) fn lowered_in(
    buf: &mut String,
    idx: &mut Vec<(usize, u32, u32)>,
    v: &Value,
    text: &str,
) -> (usize, usize) {
    let key = v as *const Value as usize;
    if let Some(&(_, s, e)) = idx.iter().find(|(k, _, _)| *k == key) {
        return (s as usize, e as usize);
    }
    let start = buf.len();
    lower_into(text, buf);
    let end = buf.len();
    if let (Ok(s), Ok(e)) = (u32::try_from(start), u32::try_from(end)) {
        idx.push((key, s, e));
    }
    (start, end)
}

/// `s` lower-cased with [`lower_into`].
pub(crate) fn lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    lower_into(s, &mut out);
    out
}

/// A field reference resolved for each log-source variant of the rule's group (a field may be
/// renamed in one variant, e.g. `Image` is `NewProcessName` in Security 4688 events).
#[derive(Clone, Debug)]
pub(crate) struct FieldRef {
    /// One id per variant, or a single id used for all.
    pub ids: Box<[FieldId]>,
    /// The name as the rule wrote it (for messages).
    pub name: Box<str>,
    /// The rule wrote `@timestamp`: the event's own time.
    pub event_time: bool,
}

impl FieldRef {
    #[inline]
    pub fn id(&self, variant: usize) -> Option<FieldId> {
        self.ids.get(variant).or_else(|| self.ids.first()).copied()
    }

    #[inline]
    pub fn get<'e>(&self, ev: &'e Event, variant: usize) -> Option<&'e Value> {
        self.id(variant).and_then(|id| ev.fields.get(id))
    }
}

/// A `*value*` needle. Its searcher is built at the first search: most values belong to rules
/// the prefilter never lets through, or are gathered into a [`FastSet`], and building a searcher
/// for each of SigmaHQ's contains values was a visible share of loading.
#[derive(Debug)]
pub(crate) struct Substring {
    needle: Box<str>,
    finder: std::sync::OnceLock<memmem::Finder<'static>>,
}

impl Substring {
    pub(crate) fn new(needle: Box<str>) -> Self {
        Substring {
            needle,
            finder: std::sync::OnceLock::new(),
        }
    }

    /// The needle, as searched for.
    pub(crate) fn needle(&self) -> &str {
        &self.needle
    }

    #[inline]
    fn is_in(&self, hay: &[u8]) -> bool {
        self.finder
            .get_or_init(|| memmem::Finder::new(self.needle.as_bytes()).into_owned())
            .find(hay)
            .is_some()
    }
}

/// How a literal string pattern is anchored.
#[derive(Debug)]
pub(crate) enum StrKind {
    /// The whole value.
    Exact(Box<str>),
    /// `value*`.
    Prefix(Box<str>),
    /// `*value`.
    Suffix(Box<str>),
    /// `*value*`.
    Contains(Box<Substring>),
    /// Several `*`: anchored head and tail, and middle pieces found in order.
    Segments {
        head: Box<str>,
        middle: Vec<memmem::Finder<'static>>,
        tail: Box<str>,
        min_len: usize,
    },
    /// `?` wildcards or windash classes: a linear-time regex built from the pattern (at its
    /// first use).
    Regex(LazyRegex),
}

/// A string test: pattern kind, and whether it compares case-sensitively.
#[derive(Debug)]
pub(crate) struct StrTest {
    pub kind: StrKind,
    /// Case-sensitive (`cased`). Otherwise the pattern is stored lower-cased and compared with
    /// the lower-cased value (regexes carry `(?i)` instead).
    pub cased: bool,
    /// The longest literal piece of the pattern (as written), for the prefilter.
    pub lit: Box<str>,
}

impl StrTest {
    /// Matches `hay`, which is already lower-cased when the test is case-insensitive
    /// (except for `Regex`, which gets the original text).
    pub fn matches(&self, hay: &str) -> bool {
        match &self.kind {
            StrKind::Exact(p) => hay == &**p,
            StrKind::Prefix(p) => hay.as_bytes().starts_with(p.as_bytes()),
            StrKind::Suffix(p) => hay.as_bytes().ends_with(p.as_bytes()),
            StrKind::Contains(f) => f.is_in(hay.as_bytes()),
            StrKind::Segments {
                head,
                middle,
                tail,
                min_len,
            } => {
                let b = hay.as_bytes();
                if b.len() < *min_len || !b.starts_with(head.as_bytes()) {
                    return false;
                }
                if !b.ends_with(tail.as_bytes()) {
                    return false;
                }
                let Some(mut rest) = b.get(head.len()..b.len() - tail.len()) else {
                    return false;
                };
                for f in middle {
                    match f.find(rest) {
                        Some(i) => rest = rest.get(i + f.needle().len()..).unwrap_or_default(),
                        None => return false,
                    }
                }
                true
            }
            StrKind::Regex(r) => r.is_match(hay),
        }
    }

    /// True if the test wants the original text rather than the lower-cased one.
    pub fn wants_original(&self) -> bool {
        self.cased || matches!(self.kind, StrKind::Regex(_))
    }
}

/// A part of a date that a time modifier extracts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// A numeric comparison (`gt`, `lte`... or plain equality).
#[derive(Copy, Clone, Debug)]
pub(crate) struct NumCmp {
    pub op: CmpOp,
    pub value: f64,
}

/// One compiled value test.
#[derive(Debug)]
pub(crate) enum Test {
    /// A string pattern against the value's text.
    Str(StrTest),
    /// Equality with a number; `text` is the number as written, for text values.
    Num { value: f64, text: Box<str> },
    /// Equality with a boolean.
    Bool(bool),
    /// Absent, null, empty string or empty list.
    Null,
    /// Presence (`exists: true`) or absence.
    Exists(bool),
    /// A user regex (`re`), with literals one of which every match contains (for the
    /// prefilter; empty when none could be derived).
    Re {
        re: LazyRegex,
        lits: Box<[Box<str>]>,
    },
    /// An IP network.
    Cidr { net: IpAddr, prefix: u8 },
    /// `gt`/`gte`/`lt`/`lte`.
    Cmp(NumCmp),
    /// A time part of a date value compared with a number.
    Time(TimePart, NumCmp),
    /// Compare with another field of the event.
    FieldRef {
        other: FieldRef,
        anchor: Anchor,
        cased: bool,
    },
}

/// How a field reference compares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Exact,
    Prefix,
    Suffix,
    Contains,
}

/// What a matcher looks at.
#[derive(Debug)]
pub(crate) enum Target {
    /// One field.
    Field(FieldRef),
    /// Keywords: every string value of the event (any field).
    Keywords,
}

/// One `field|modifiers: values` entry, compiled.
#[derive(Debug)]
pub(crate) struct Matcher {
    pub target: Target,
    /// One entry per value; each is a set of alternatives (a value expands to several with
    /// `base64offset`, `windash` before an encoding, or `expand`).
    pub values: Vec<Vec<Test>>,
    /// `all`: every value must match (otherwise any).
    pub all: bool,
    /// `neq`: the field must be present and match none of the values.
    pub neq: bool,
    /// Case-insensitive `contains` and exact values gathered for a one-pass test (only when the
    /// values are OR-ed); the rest stay in `values`.
    pub fast: Option<Box<FastSet>>,
}

/// A stack buffer for rendering numbers as text without allocating.
struct NumBuf {
    buf: [u8; 48],
    len: usize,
    overflow: bool,
}

impl NumBuf {
    fn new() -> Self {
        NumBuf {
            buf: [0; 48],
            len: 0,
            overflow: false,
        }
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl std::fmt::Write for NumBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
            None => {
                self.overflow = true;
                Err(std::fmt::Error)
            }
        }
    }
}

/// Calls `f` with the text of a scalar value (numbers rendered without allocating, null as "").
/// Lists are not scalars: callers iterate them.
#[inline]
pub(crate) fn with_text<R>(v: &Value, f: impl FnOnce(&str) -> R) -> R {
    match v {
        Value::Str(s) => f(s),
        Value::Null | Value::List(_) => f(""),
        Value::Bool(true) => f("true"),
        Value::Bool(false) => f("false"),
        Value::Int(i) => {
            let mut b = NumBuf::new();
            let _ = write!(b, "{i}");
            f(b.as_str())
        }
        Value::Float(x) => {
            let mut b = NumBuf::new();
            if write!(b, "{x}").is_err() || b.overflow {
                return f(&x.to_string());
            }
            f(b.as_str())
        }
    }
}

/// Per-thread working memory for matching; reuse one per thread across events.
#[derive(Default)]
pub struct Scratch {
    /// Lower-cased values of the current event.
    pub(crate) lower: String,
    /// (value address, start, end) into `lower`.
    pub(crate) lower_idx: Vec<(usize, u32, u32)>,
    /// Event counter for the epoch-marked arrays below.
    pub(crate) epoch: u32,
    pub(crate) rule_seen: Vec<u32>,
    pub(crate) lit_seen: Vec<u32>,
    pub(crate) group_variant: Vec<u16>,
    pub(crate) group_epoch: Vec<u32>,
    pub(crate) channel_mark: Vec<u32>,
    pub(crate) candidates: Vec<u32>,
    /// Rules evaluated so far (for benchmarks).
    pub(crate) evaluated: u64,
}

impl Scratch {
    /// Fresh scratch memory.
    pub fn new() -> Self {
        Scratch::default()
    }

    /// Number of rule evaluations done with this scratch (candidates that passed the
    /// prefilter and whose log source matched).
    #[doc(hidden)]
    pub fn evaluated(&self) -> u64 {
        self.evaluated
    }

    /// Starts a new event: forgets the cached lower-cased values.
    pub(crate) fn reset_event(&mut self) {
        self.lower.clear();
        self.lower_idx.clear();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped: clear the marks so stale ones cannot collide.
            self.rule_seen.iter_mut().for_each(|x| *x = 0);
            self.lit_seen.iter_mut().for_each(|x| *x = 0);
            self.group_epoch.iter_mut().for_each(|x| *x = 0);
            self.channel_mark.iter_mut().for_each(|x| *x = 0);
            self.epoch = 1;
        }
    }

    /// The lower-cased text of `v` (a scalar), cached for the event.
    pub(crate) fn lowered(&mut self, v: &Value, text: &str) -> (usize, usize) {
        lowered_in(&mut self.lower, &mut self.lower_idx, v, text)
    }

    pub(crate) fn slice(&self, r: (usize, usize)) -> &str {
        self.lower.get(r.0..r.1).unwrap_or_default()
    }
}

fn is_nullish(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Str(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        _ => false,
    }
}

fn num_of(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn ip_in(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let addr = match (addr, net) {
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => addr,
    };
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The date parts of a value, as written (no zone conversion, as the Sigma spec says).
fn date_of(v: &Value) -> Option<NaiveDateTime> {
    match v {
        Value::Int(i) => epoch_to_date(*i as f64),
        Value::Float(f) => epoch_to_date(*f),
        Value::Str(s) => parse_date(s.trim()),
        _ => None,
    }
}

fn epoch_to_date(x: f64) -> Option<NaiveDateTime> {
    // Seconds, milliseconds, microseconds or nanoseconds, by magnitude.
    let secs = if x.abs() >= 1e17 {
        x / 1e9
    } else if x.abs() >= 1e14 {
        x / 1e6
    } else if x.abs() >= 1e11 {
        x / 1e3
    } else {
        x
    };
    if !secs.is_finite() || secs.abs() > 1e13 {
        return None;
    }
    chrono::DateTime::from_timestamp(secs.floor() as i64, 0).map(|d| d.naive_utc())
}

/// `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM[:SS[.fff]]` and a zone suffix
/// (which is ignored).
pub(crate) fn parse_date(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = b.get(r)?;
        if d.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(d).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    if b.len() == 10 {
        return date.and_hms_opt(0, 0, 0);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let h = num(11..13)?;
    let m = num(14..16)?;
    let sec = if b.get(16) == Some(&b':') {
        num(17..19)?
    } else {
        0
    };
    date.and_hms_opt(h, m, sec.min(59))
}

fn time_part(d: &NaiveDateTime, p: TimePart) -> f64 {
    f64::from(match p {
        TimePart::Minute => d.minute(),
        TimePart::Hour => d.hour(),
        TimePart::Day => d.day(),
        TimePart::Week => d.iso_week().week(),
        TimePart::Month => d.month(),
        TimePart::Year => return f64::from(d.year()),
    })
}

/// One scalar value under test, with its lower-cased form computed on first need (once per
/// matcher, however many patterns look at it).
struct Subject<'v> {
    v: &'v Value,
    lowered: Option<(usize, usize)>,
}

impl<'v> Subject<'v> {
    fn new(v: &'v Value) -> Self {
        Subject { v, lowered: None }
    }

    /// Runs `f` on the lower-cased text (numbers and booleans are lower case already).
    #[inline]
    fn with_lower<R>(&mut self, scratch: &mut Scratch, f: impl FnOnce(&str) -> R) -> R {
        match self.v {
            Value::Str(s) => {
                let r = match self.lowered {
                    Some(r) => r,
                    None => {
                        let r = scratch.lowered(self.v, s);
                        self.lowered = Some(r);
                        r
                    }
                };
                f(scratch.slice(r))
            }
            v => with_text(v, f),
        }
    }
}

fn str_matches(t: &StrTest, subj: &mut Subject<'_>, scratch: &mut Scratch) -> bool {
    if t.wants_original() {
        with_text(subj.v, |s| t.matches(s))
    } else {
        subj.with_lower(scratch, |s| t.matches(s))
    }
}

/// Tests one present, scalar value (lists are handled by the caller).
fn test_scalar(
    t: &Test,
    subj: &mut Subject<'_>,
    ev: &Event,
    variant: usize,
    scratch: &mut Scratch,
) -> bool {
    let v = subj.v;
    match t {
        Test::Str(st) => str_matches(st, subj, scratch),
        Test::Num { value, text } => match v {
            Value::Int(i) => (*i as f64) == *value,
            Value::Float(f) => f == value,
            Value::Str(s) => {
                let s = s.trim();
                s == &**text || s.parse::<f64>().is_ok_and(|x| x == *value)
            }
            _ => false,
        },
        Test::Bool(b) => match v {
            Value::Bool(x) => x == b,
            Value::Str(s) => s
                .trim()
                .eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        },
        Test::Null => is_nullish(v),
        Test::Exists(want) => *want,
        Test::Re { re, .. } => with_text(v, |s| re.is_match(s)),
        Test::Cidr { net, prefix } => with_text(v, |s| {
            let s = s.trim();
            let s = s
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(s);
            s.parse::<IpAddr>().is_ok_and(|a| ip_in(a, *net, *prefix))
        }),
        Test::Cmp(c) => num_of(v).is_some_and(|x| c.op.test(x, c.value)),
        Test::Time(p, c) => date_of(v).is_some_and(|d| c.op.test(time_part(&d, *p), c.value)),
        Test::FieldRef {
            other,
            anchor,
            cased,
        } => {
            let Some(o) = other.get(ev, variant) else {
                return false;
            };
            if matches!(o, Value::List(_)) {
                return false;
            }
            field_ref_test(v, o, *anchor, *cased, scratch)
        }
    }
}

fn field_ref_test(
    v: &Value,
    o: &Value,
    anchor: Anchor,
    cased: bool,
    scratch: &mut Scratch,
) -> bool {
    let cmp = |hay: &str, pat: &str| match anchor {
        Anchor::Exact => hay == pat,
        Anchor::Prefix => hay.starts_with(pat),
        Anchor::Suffix => hay.ends_with(pat),
        Anchor::Contains => memmem::find(hay.as_bytes(), pat.as_bytes()).is_some(),
    };
    if cased {
        return with_text(v, |h| with_text(o, |p| cmp(h, p)));
    }
    let hr = with_text(v, |h| scratch.lowered(v, h));
    let pr = with_text(o, |p| scratch.lowered(o, p));
    cmp(scratch.slice(hr), scratch.slice(pr))
}

fn event_time_value(ev: &Event) -> Value {
    Value::Str(ev.timestamp.to_rfc3339().into())
}

/// Many case-insensitive `contains` / exact values of one matcher (`CommandLine|contains:` with
/// fifty values), tested in one pass: an Aho-Corasick automaton and a hash set, instead of one
/// search per value.
#[derive(Debug, Default)]
pub(crate) struct FastSet {
    pub contains: Option<LazyContains>,
    pub exact: rustc_hash::FxHashSet<Box<str>>,
    /// Every literal, for the prefilter.
    pub lits: Vec<Box<str>>,
}

/// A `re` value, checked when the rule loads but compiled at its first use: of SigmaHQ's
/// regular expressions few ever run in a given hunt (the prefilter keeps their rules out), and
/// compiling them all was a quarter of the time it takes to load the rules. Patterns that might
/// exceed the size limit (counted repetitions, very long ones) are compiled when they load
/// instead, so a load still reports every regular expression that cannot run.
///
/// Matchers only ask whether a value matches, never where, so the regex is one forward lazy
/// DFA over a Thompson NFA, with a PikeVM over the same NFA for the values the lazy DFA gives up
/// on (a Unicode word boundary next to non-ASCII text). Both are linear in the value's length.
/// `regex`'s own engine also builds a reverse NFA (to find where a match starts) and literal
/// prefilters: building half as much halves the time of a build, which a small hunt pays for
/// every regex it reaches.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    pattern: Box<str>,
    flags: ReFlags,
    size_limit: usize,
    re: std::sync::OnceLock<Option<Box<ForwardRegex>>>,
}

/// The flags of a regular expression (`re|i`, `re|m`, `re|s`, or `(?i)` in the pattern).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReFlags {
    pub case_insensitive: bool,
    pub multi_line: bool,
    pub dot_matches_new_line: bool,
}

impl ReFlags {
    /// A parser of patterns with these flags (to check a pattern and derive its literals).
    pub(crate) fn parser(self) -> regex_syntax::Parser {
        regex_syntax::ParserBuilder::new()
            .case_insensitive(self.case_insensitive)
            .multi_line(self.multi_line)
            .dot_matches_new_line(self.dot_matches_new_line)
            .build()
    }
}

impl LazyRegex {
    /// A regular expression whose syntax was checked; built at the first match.
    pub(crate) fn lazy(pattern: &str, flags: ReFlags, size_limit: usize) -> Self {
        LazyRegex {
            pattern: pattern.into(),
            flags,
            size_limit,
            re: std::sync::OnceLock::new(),
        }
    }

    /// A regular expression compiled now, or the reason it cannot be.
    pub(crate) fn eager(pattern: &str, flags: ReFlags, size_limit: usize) -> Result<Self, String> {
        let lazy = Self::lazy(pattern, flags, size_limit);
        let re = lazy.build()?;
        let _ = lazy.re.set(Some(re));
        Ok(lazy)
    }

    fn build(&self) -> Result<Box<ForwardRegex>, String> {
        ForwardRegex::new(&self.pattern, self.flags, self.size_limit).map(Box::new)
    }

    #[inline]
    pub(crate) fn is_match(&self, hay: &str) -> bool {
        // The syntax was checked at load time and the pattern is small: the build cannot fail
        // but on an exhausted machine; such a regex then matches nothing.
        self.re
            .get_or_init(|| self.build().ok())
            .as_ref()
            .is_some_and(|re| re.is_match(hay))
    }
}

type DfaCaches = regex_automata::util::pool::Pool<
    regex_automata::hybrid::dfa::Cache,
    Box<dyn Fn() -> regex_automata::hybrid::dfa::Cache + Send + Sync>,
>;
type PikeCaches = regex_automata::util::pool::Pool<
    regex_automata::nfa::thompson::pikevm::Cache,
    Box<dyn Fn() -> regex_automata::nfa::thompson::pikevm::Cache + Send + Sync>,
>;

/// A compiled regex that answers "is there a match" (see [`LazyRegex`]). Each thread searches
/// with its own cache, taken from a pool.
pub(crate) struct ForwardRegex {
    /// The lazy DFA, which also holds the NFA it was built from (for the PikeVM).
    dfa: regex_automata::hybrid::dfa::DFA,
    caches: DfaCaches,
    /// Built at the first value the lazy DFA gives up on.
    pike: std::sync::OnceLock<Option<(regex_automata::nfa::thompson::pikevm::PikeVM, PikeCaches)>>,
}

impl std::fmt::Debug for ForwardRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardRegex").finish_non_exhaustive()
    }
}

impl ForwardRegex {
    fn new(pattern: &str, flags: ReFlags, size_limit: usize) -> Result<Self, String> {
        use regex_automata::{hybrid, nfa::thompson, util::syntax};
        let nfa = thompson::Compiler::new()
            .syntax(
                syntax::Config::new()
                    .case_insensitive(flags.case_insensitive)
                    .multi_line(flags.multi_line)
                    .dot_matches_new_line(flags.dot_matches_new_line),
            )
            .configure(
                thompson::Config::new()
                    .which_captures(thompson::WhichCaptures::Implicit)
                    .nfa_size_limit(Some(size_limit)),
            )
            .build(pattern)
            .map_err(|e| e.to_string())?;
        let dfa = hybrid::dfa::Builder::new()
            .configure(
                hybrid::dfa::Config::new()
                    // Word boundaries are handled on ASCII text; elsewhere the DFA gives up
                    // and the PikeVM answers.
                    .unicode_word_boundary(true)
                    .cache_capacity(size_limit.min(2 << 20)),
            )
            .build_from_nfa(nfa)
            .map_err(|e| e.to_string())?;
        let for_caches = dfa.clone();
        Ok(ForwardRegex {
            caches: regex_automata::util::pool::Pool::new(Box::new(move || {
                for_caches.create_cache()
            })),
            dfa,
            pike: std::sync::OnceLock::new(),
        })
    }

    fn is_match(&self, hay: &str) -> bool {
        let input = regex_automata::Input::new(hay).earliest(true);
        let found = self.dfa.try_search_fwd(&mut self.caches.get(), &input);
        match found {
            Ok(found) => found.is_some(),
            Err(_) => {
                let pike = self.pike.get_or_init(|| {
                    let vm = regex_automata::nfa::thompson::pikevm::PikeVM::new_from_nfa(
                        self.dfa.get_nfa().clone(),
                    )
                    .ok()?;
                    let for_caches = vm.clone();
                    let caches: PikeCaches =
                        regex_automata::util::pool::Pool::new(Box::new(move || {
                            for_caches.create_cache()
                        }));
                    Some((vm, caches))
                });
                // The PikeVM accepts every NFA the DFA was built from; without it, no match.
                pike.as_ref()
                    .is_some_and(|(vm, caches)| vm.is_match(&mut caches.get(), input))
            }
        }
    }
}

/// The `contains` values of a [`FastSet`], searched with a multi-needle searcher built at the
/// first search. Most rules are never evaluated (the prefilter keeps them out), so building every
/// searcher when rules load cost more than all the searches of a hunt.
#[derive(Debug)]
pub(crate) struct LazyContains {
    needles: Vec<Box<str>>,
    searcher: std::sync::OnceLock<Option<MultiSearch>>,
}

/// How a set of needles is searched.
#[derive(Debug)]
enum MultiSearch {
    /// Up to 64 needles: a packed SIMD searcher (Teddy, Rabin-Karp on short values),
    /// built from the needles directly, where an automaton would first build a trie and an NFA
    /// (which, with their allocations, were a sixth of the page faults of a small hunt).
    Packed(aho_corasick::packed::Searcher),
    /// More needles, or no SIMD: an Aho-Corasick automaton.
    Automaton(aho_corasick::AhoCorasick),
}

impl LazyContains {
    /// The needles, lower-cased like the haystacks they will be searched in.
    pub(crate) fn new(needles: Vec<Box<str>>) -> Self {
        LazyContains {
            needles,
            searcher: std::sync::OnceLock::new(),
        }
    }

    fn build(&self) -> Option<MultiSearch> {
        let needles = || self.needles.iter().map(|c| c.as_bytes());
        if self.needles.iter().all(|n| !n.is_empty())
            && let Some(p) = aho_corasick::packed::Config::new()
                .builder()
                .extend(needles())
                .build()
        {
            return Some(MultiSearch::Packed(p));
        }
        aho_corasick::AhoCorasick::builder()
            // Small and quick to build; the automaton's literal prefilter (memchr / Teddy)
            // does most of the searching anyway.
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(needles())
            .ok()
            .map(MultiSearch::Automaton)
    }

    #[inline]
    fn is_match(&self, hay: &str) -> bool {
        match self.searcher.get_or_init(|| self.build()) {
            Some(MultiSearch::Packed(p)) => p.find(hay).is_some(),
            Some(MultiSearch::Automaton(ac)) => ac.is_match(hay),
            // Over the automaton's size limits: the same answer, one search per needle.
            None => self.needles.iter().any(|n| hay.contains(&**n)),
        }
    }
}

impl FastSet {
    #[inline]
    fn matches(&self, lowered: &str) -> bool {
        self.exact.contains(lowered) || self.contains.as_ref().is_some_and(|c| c.is_match(lowered))
    }
}

impl Matcher {
    /// Evaluates the matcher on `ev` in log-source variant `variant`.
    pub(crate) fn eval(&self, ev: &Event, variant: usize, scratch: &mut Scratch) -> bool {
        match &self.target {
            Target::Keywords => self.eval_keywords(ev, scratch),
            Target::Field(f) => {
                let owned;
                let v = if f.event_time {
                    owned = event_time_value(ev);
                    Some(&owned)
                } else {
                    f.get(ev, variant)
                };
                let Some(v) = v else {
                    // Absent: only `null` and `exists: false` can match.
                    if self.neq {
                        return false;
                    }
                    let absent = |t: &Test| matches!(t, Test::Null | Test::Exists(false));
                    return if self.all {
                        self.values.iter().all(|alts| alts.iter().any(absent))
                    } else {
                        self.values.iter().flatten().any(absent)
                    };
                };
                if self.neq {
                    if matches!(v, Value::Null) {
                        return false;
                    }
                    return !self.any_scalar(v, ev, variant, scratch);
                }
                if self.all {
                    self.values.iter().all(|alts| {
                        alts.iter().any(|t| match t {
                            Test::Exists(want) => *want,
                            Test::Null => is_nullish(v),
                            _ => for_scalars(v, |s| {
                                test_scalar(t, &mut Subject::new(s), ev, variant, scratch)
                            }),
                        })
                    })
                } else {
                    self.any_scalar(v, ev, variant, scratch)
                }
            }
        }
    }

    /// True if some value test (or the fast set) matches `v` (any element of a list).
    fn any_scalar(&self, v: &Value, ev: &Event, variant: usize, scratch: &mut Scratch) -> bool {
        // Presence tests look at the whole value, not at list elements.
        for t in self.values.iter().flatten() {
            match t {
                Test::Exists(want) if *want => return true,
                Test::Null if is_nullish(v) => return true,
                _ => {}
            }
        }
        for_scalars(v, |s| {
            let mut subj = Subject::new(s);
            if let Some(fast) = &self.fast
                && subj.with_lower(scratch, |l| fast.matches(l))
            {
                return true;
            }
            self.values.iter().flatten().any(|t| {
                !matches!(t, Test::Exists(_) | Test::Null)
                    && test_scalar(t, &mut subj, ev, variant, scratch)
            })
        })
    }

    fn eval_keywords(&self, ev: &Event, scratch: &mut Scratch) -> bool {
        let mut test_all_values = |pred: &mut dyn FnMut(&mut Subject<'_>, &mut Scratch) -> bool| {
            ev.fields
                .iter()
                .any(|(_, v)| for_scalars(v, |s| pred(&mut Subject::new(s), scratch)))
        };
        if self.all {
            self.values.iter().all(|alts| {
                test_all_values(&mut |subj, scratch| {
                    alts.iter().any(|t| test_scalar(t, subj, ev, 0, scratch))
                })
            })
        } else {
            test_all_values(&mut |subj, scratch| {
                if let Some(fast) = &self.fast
                    && subj.with_lower(scratch, |l| fast.matches(l))
                {
                    return true;
                }
                self.values
                    .iter()
                    .flatten()
                    .any(|t| test_scalar(t, subj, ev, 0, scratch))
            })
        }
    }
}

/// Calls `f` on `v`, or on each element if `v` is a list, until it returns true.
#[inline]
fn for_scalars<'v>(v: &'v Value, mut f: impl FnMut(&'v Value) -> bool) -> bool {
    match v {
        Value::List(items) => items.iter().any(|i| !matches!(i, Value::List(_)) && f(i)),
        _ => f(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_is_charwise_and_fast_for_ascii() {
        assert_eq!(lower("C:\\Windows\\CMD.EXE"), "c:\\windows\\cmd.exe");
        assert_eq!(lower("ÄÖÜ Straße ΣΑΣ"), "äöü straße σασ");
        // Kelvin sign lowers to ASCII k, both in patterns and values.
        assert_eq!(lower("\u{212A}"), "k");
    }

    #[test]
    fn numbers_render_without_allocating() {
        assert_eq!(with_text(&Value::Int(4688), str::to_owned), "4688");
        assert_eq!(with_text(&Value::Float(1.5), str::to_owned), "1.5");
        assert_eq!(with_text(&Value::Float(1e300), |s| s.len()), 301);
        assert_eq!(with_text(&Value::Bool(true), str::to_owned), "true");
        assert_eq!(with_text(&Value::Null, str::to_owned), "");
    }

    #[test]
    fn segments_match_in_order() {
        let t = StrTest {
            kind: StrKind::Segments {
                head: "a".into(),
                middle: vec![memmem::Finder::new("b").into_owned()],
                tail: "c".into(),
                min_len: 3,
            },
            cased: false,
            lit: "".into(),
        };
        assert!(t.matches("abc"));
        assert!(t.matches("a--b--c"));
        assert!(!t.matches("ac"));
        assert!(!t.matches("acb"));
        assert!(!t.matches("xabc"));
        // head and tail may not overlap
        let t = StrTest {
            kind: StrKind::Segments {
                head: "ab".into(),
                middle: vec![],
                tail: "ba".into(),
                min_len: 4,
            },
            cased: false,
            lit: "".into(),
        };
        assert!(!t.matches("aba"));
        assert!(t.matches("abba"));
    }

    #[test]
    fn cidr_and_dates() {
        let n: IpAddr = "10.0.0.0".parse().expect("ip");
        assert!(ip_in("10.1.2.3".parse().expect("ip"), n, 8));
        assert!(!ip_in("11.1.2.3".parse().expect("ip"), n, 8));
        assert!(ip_in("::ffff:10.0.0.1".parse().expect("ip"), n, 8));
        assert!(ip_in("1.2.3.4".parse().expect("ip"), n, 0));
        let n6: IpAddr = "fe80::".parse().expect("ip");
        assert!(ip_in("fe80::1".parse().expect("ip"), n6, 10));
        assert!(!ip_in("fec0::1".parse().expect("ip"), n6, 10));
        assert!(!ip_in("10.0.0.1".parse().expect("ip"), n6, 10));
        let d = parse_date("2024-03-14 22:05:09.123").expect("date");
        assert_eq!(time_part(&d, TimePart::Hour), 22.0);
        assert_eq!(time_part(&d, TimePart::Minute), 5.0);
        assert_eq!(time_part(&d, TimePart::Month), 3.0);
        assert_eq!(time_part(&d, TimePart::Week), 11.0);
        assert!(parse_date("2024-13-01").is_none());
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("2024-03-14T25:00:00Z").is_none());
        let e = epoch_to_date(1_700_000_000_000.0).expect("ms epoch");
        assert_eq!(e.year(), 2023);
    }

    #[test]
    fn forward_regex_falls_back_to_the_pikevm() {
        let re = ForwardRegex::new(r"\bcaf\w\b", ReFlags::default(), 1 << 20).expect("builds");
        assert!(re.is_match("a cafe b"));
        assert!(re.pike.get().is_none(), "ASCII text needs no fallback");
        assert!(re.is_match("un café noir"));
        assert!(
            re.pike.get().is_some_and(Option::is_some),
            "non-ASCII text falls back"
        );
        assert!(!re.is_match("cafés"));
        let ci = ReFlags {
            case_insensitive: true,
            ..ReFlags::default()
        };
        let re = ForwardRegex::new("^mimi[a-z]+$", ci, 1 << 20).expect("builds");
        assert!(re.is_match("MimiKatz"));
        assert!(!re.is_match("a mimikatz"));
        assert!(ForwardRegex::new(r"\w{1000}{1000}", ReFlags::default(), 1 << 20).is_err());
    }

    #[test]
    fn contains_sets_search_packed_or_with_an_automaton() {
        let set = |n: usize| {
            LazyContains::new(
                (0..n)
                    .map(|i| format!("needle{i}x").into_boxed_str())
                    .collect(),
            )
        };
        for (n, packed) in [(4, true), (64, true), (65, false)] {
            let c = set(n);
            // Short and long values: Rabin-Karp below Teddy's minimum length, Teddy above.
            assert!(c.is_match("needle0x"));
            assert!(c.is_match(&format!("{}needle{}x tail", "-".repeat(100), n - 1)));
            assert!(!c.is_match("needle"));
            assert!(!c.is_match(&format!("{}needle{n}x", "-".repeat(100))));
            let kind = c.searcher.get().and_then(Option::as_ref);
            // Teddy needs SIMD; without it every set takes the automaton.
            #[cfg(target_arch = "x86_64")]
            let packed = packed && std::is_x86_feature_detected!("ssse3");
            #[cfg(not(target_arch = "x86_64"))]
            let packed = false;
            assert_eq!(
                matches!(kind, Some(MultiSearch::Packed(_))),
                packed,
                "{n} needles: {kind:?}"
            );
        }
    }
}
