//! From the AST to matchers: value modifiers are applied once here (placeholder expansion,
//! windash, UTF-16 and Base64 encodings, wildcards to anchored literal searches), field names
//! are resolved to ids for every log-source variant, and the condition becomes an expression
//! over the compiled searches.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kasbah_event::FieldId;
use memchr::memmem;
use rustc_hash::FxHashMap;

use crate::ast::{
    CmpOp, Condition, Detection, FieldMatch, Modifier, Quantity, Search, SigmaString, SigmaValue,
    StrPart,
};
use crate::condition::pattern_matches;
use crate::diag::{Code, Problem};
use crate::matcher::{
    Anchor, FastSet, FieldRef, LazyContains, LazyRegex, Matcher, NumCmp, ReFlags, StrKind, StrTest,
    Substring, Target, Test, TimePart, lower,
};

/// Longest `re` pattern compiled at its first use rather than when its rule loads.
const LAZY_REGEX_MAX: usize = 2048;
/// Largest [`expanded_size`] of a pattern compiled at its first use: far below what could reach
/// the compiler's size limit (a few hundred bytes per unit at most).
const LAZY_REGEX_UNITS: u64 = 20_000;

/// An upper bound of the work compiling `h` takes, in units of about one NFA state: literals
/// count their bytes, classes their ranges (four per range for UTF-8 sequences), repetitions
/// their body times their largest count.
fn expanded_size(h: &regex_syntax::hir::Hir) -> u64 {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => l.0.len() as u64,
        HirKind::Class(Class::Unicode(c)) => 4 * c.ranges().len() as u64,
        HirKind::Class(Class::Bytes(c)) => c.ranges().len() as u64,
        HirKind::Repetition(r) => {
            let times = u64::from(r.max.unwrap_or(r.min).max(r.min)).saturating_add(1);
            expanded_size(&r.sub).saturating_mul(times)
        }
        HirKind::Capture(c) => expanded_size(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => {
            hs.iter().map(expanded_size).fold(1u64, u64::saturating_add)
        }
    }
}

/// Options that change how rules compile.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Values of `expand` placeholders: `%name%` -> the values it stands for (OR-ed). Rules that
    /// use a placeholder missing here are skipped with `KS024`.
    pub placeholders: FxHashMap<String, Vec<String>>,
    /// Size limit of one compiled regex, in bytes (the `regex` crate's `size_limit`).
    pub regex_size_limit: usize,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            placeholders: FxHashMap::default(),
            regex_size_limit: 16 << 20,
        }
    }
}

/// Fewest case-insensitive contains/exact values worth gathering into a [`FastSet`].
const FAST_SET_MIN: usize = 4;

/// Most alternatives one value may expand to (windash before an encoding, placeholders).
const MAX_EXPANSION: usize = 1024;

/// Field renames for one log-source variant: rule field name -> event field name.
pub(crate) type Renames = FxHashMap<String, String>;

/// Compilation context of one rule: options and the renames of each variant of its group.
pub(crate) struct Ctx<'a> {
    pub opts: &'a CompileOptions,
    pub renames: &'a [Renames],
}

/// A compiled search identifier: an OR of ANDs of matchers.
#[derive(Debug)]
pub(crate) struct CSearch {
    pub any_of: Vec<Vec<Matcher>>,
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Expr {
    Search(u32),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    AtLeast(u32, Vec<Expr>),
}

impl<'a> Ctx<'a> {
    pub(crate) fn field(&self, name: &str, line: u32) -> Result<FieldRef, Problem> {
        let intern = |n: &str| {
            FieldId::try_intern(n)
                .ok_or_else(|| Problem::new(line, Code::Limits, "the field-name table is full"))
        };
        let mut ids: Vec<FieldId> = Vec::with_capacity(self.renames.len().max(1));
        if self.renames.is_empty() {
            ids.push(intern(name)?);
        } else {
            for r in self.renames {
                ids.push(intern(r.get(name).map_or(name, String::as_str))?);
            }
            if ids.iter().all(|i| Some(i) == ids.first()) {
                ids.truncate(1);
            }
        }
        Ok(FieldRef {
            ids: ids.into_boxed_slice(),
            name: name.into(),
            event_time: name == "@timestamp",
        })
    }

    pub(crate) fn search(&self, s: &Search) -> Result<CSearch, Problem> {
        let mut any_of = Vec::with_capacity(s.any_of.len());
        for alt in &s.any_of {
            let mut all = Vec::with_capacity(alt.len());
            for fm in alt {
                all.push(self.matcher(fm)?);
            }
            any_of.push(all);
        }
        Ok(CSearch { any_of })
    }

    pub(crate) fn matcher(&self, fm: &FieldMatch) -> Result<Matcher, Problem> {
        let target = match &fm.field {
            Some(f) => Target::Field(self.field(f, fm.line)?),
            None => Target::Keywords,
        };
        let mut values = Vec::with_capacity(fm.values.len());
        for v in &fm.values {
            values.push(self.value(fm, v)?);
        }
        let all = fm.has(Modifier::All);
        let mut fast = None;
        if !all {
            // OR-ed values: gather the case-insensitive contains/exact ones into one pass.
            let flat: Vec<Test> = values.into_iter().flatten().collect();
            let is_fast = |t: &Test| {
                matches!(t, Test::Str(st) if !st.cased
                    && matches!(st.kind, StrKind::Contains(_) | StrKind::Exact(_)))
            };
            let n_fast = flat.iter().filter(|t| is_fast(t)).count();
            if n_fast >= FAST_SET_MIN {
                let mut set = FastSet::default();
                let mut contains: Vec<Box<str>> = Vec::new();
                let mut rest = Vec::new();
                for t in flat {
                    match t {
                        Test::Str(StrTest {
                            kind: StrKind::Exact(p),
                            cased: false,
                            ..
                        }) => {
                            set.lits.push(p.clone());
                            set.exact.insert(p);
                        }
                        Test::Str(StrTest {
                            kind: StrKind::Contains(f),
                            cased: false,
                            ..
                        }) => {
                            let p: Box<str> = f.needle().into();
                            set.lits.push(p.clone());
                            contains.push(p);
                        }
                        other => rest.push(other),
                    }
                }
                if !contains.is_empty() {
                    set.contains = Some(LazyContains::new(contains));
                }
                fast = Some(Box::new(set));
                values = if rest.is_empty() {
                    Vec::new()
                } else {
                    vec![rest]
                };
            } else {
                values = vec![flat];
            }
        }
        Ok(Matcher {
            target,
            values,
            all,
            neq: fm.has(Modifier::Neq),
            fast,
        })
    }

    fn value(&self, fm: &FieldMatch, v: &SigmaValue) -> Result<Vec<Test>, Problem> {
        let has = |m| fm.has(m);
        let bad = |code, msg: String| Problem::new(fm.line, code, msg);
        if has(Modifier::Exists) {
            return match v {
                SigmaValue::Bool(b) => Ok(vec![Test::Exists(*b)]),
                _ => Err(bad(
                    Code::ModifierValue,
                    "'exists' takes true or false".into(),
                )),
            };
        }
        let number = || -> Result<f64, Problem> {
            match v {
                SigmaValue::Int(i, _) => Ok(*i as f64),
                SigmaValue::Float(f, _) => Ok(*f),
                SigmaValue::Str { raw, .. } => raw.trim().parse().map_err(|_| {
                    bad(
                        Code::ModifierValue,
                        format!("expected a number, found '{raw}'"),
                    )
                }),
                _ => Err(bad(
                    Code::ModifierValue,
                    format!("expected a number, found '{}'", v.text()),
                )),
            }
        };
        let op = fm.modifiers.iter().find_map(|m| match m {
            Modifier::Gt => Some(CmpOp::Gt),
            Modifier::Gte => Some(CmpOp::Gte),
            Modifier::Lt => Some(CmpOp::Lt),
            Modifier::Lte => Some(CmpOp::Lte),
            _ => None,
        });
        let part = fm.modifiers.iter().find_map(|m| match m {
            Modifier::Minute => Some(TimePart::Minute),
            Modifier::Hour => Some(TimePart::Hour),
            Modifier::Day => Some(TimePart::Day),
            Modifier::Week => Some(TimePart::Week),
            Modifier::Month => Some(TimePart::Month),
            Modifier::Year => Some(TimePart::Year),
            _ => None,
        });
        if let Some(part) = part {
            let cmp = NumCmp {
                op: op.unwrap_or(CmpOp::Eq),
                value: number()?,
            };
            return Ok(vec![Test::Time(part, cmp)]);
        }
        if let Some(op) = op {
            return Ok(vec![Test::Cmp(NumCmp {
                op,
                value: number()?,
            })]);
        }
        if has(Modifier::Cidr) {
            return Ok(vec![parse_cidr(v.text()).ok_or_else(|| {
                bad(
                    Code::ModifierValue,
                    format!("'{}' is not an IPv4 or IPv6 network (a.b.c.d/n)", v.text()),
                )
            })?]);
        }
        if has(Modifier::Re) {
            let SigmaValue::Str { raw, .. } = v else {
                return Err(bad(
                    Code::ModifierValue,
                    format!("'re' takes a string, found '{}'", v.text()),
                ));
            };
            let flags = ReFlags {
                case_insensitive: has(Modifier::ReCaseInsensitive),
                multi_line: has(Modifier::ReMultiLine),
                dot_matches_new_line: has(Modifier::ReDotAll),
            };
            let fail = |msg: String| {
                let detail = msg.lines().last().unwrap_or_default().trim().to_owned();
                bad(Code::Regex, format!("regular expression '{raw}': {detail}"))
            };
            let hir = flags.parser().parse(raw).map_err(|e| fail(e.to_string()))?;
            // Patterns whose expansion could approach the size limit are compiled now, so the
            // load reports them; the others only needed their syntax checked (see LazyRegex).
            let limit = self.opts.regex_size_limit;
            let re = if raw.len() > LAZY_REGEX_MAX || expanded_size(&hir) > LAZY_REGEX_UNITS {
                LazyRegex::eager(raw, flags, limit).map_err(fail)?
            } else {
                LazyRegex::lazy(raw, flags, limit)
            };
            let lits = required_literals(&hir);
            return Ok(vec![Test::Re { re, lits }]);
        }
        let anchor = if has(Modifier::Contains) {
            Anchor::Contains
        } else if has(Modifier::StartsWith) {
            Anchor::Prefix
        } else if has(Modifier::EndsWith) {
            Anchor::Suffix
        } else if fm.field.is_none() {
            // Keywords are full-text terms: found anywhere in a value.
            Anchor::Contains
        } else {
            Anchor::Exact
        };
        let cased = has(Modifier::Cased);
        if has(Modifier::FieldRef) {
            let SigmaValue::Str { raw, .. } = v else {
                return Err(bad(
                    Code::ModifierValue,
                    format!("'fieldref' takes a field name, found '{}'", v.text()),
                ));
            };
            return Ok(vec![Test::FieldRef {
                other: self.field(raw.trim(), fm.line)?,
                anchor,
                cased,
            }]);
        }
        let stringy = fm.modifiers.iter().any(|m| {
            matches!(
                m,
                Modifier::Contains
                    | Modifier::StartsWith
                    | Modifier::EndsWith
                    | Modifier::Windash
                    | Modifier::Expand
                    | Modifier::Cased
            ) || m.is_encoding()
        });
        let s = match v {
            SigmaValue::Null => return Ok(vec![Test::Null]),
            SigmaValue::Bool(b) if !stringy => return Ok(vec![Test::Bool(*b)]),
            SigmaValue::Int(i, t) if !stringy => {
                return Ok(vec![Test::Num {
                    value: *i as f64,
                    text: t.as_str().into(),
                }]);
            }
            SigmaValue::Float(f, t) if !stringy => {
                return Ok(vec![Test::Num {
                    value: *f,
                    text: t.as_str().into(),
                }]);
            }
            SigmaValue::Str { value, .. } => value.clone(),
            other => SigmaString::literal(other.text()),
        };
        let mut strings = vec![s];
        if has(Modifier::Expand) {
            strings = self.expand(&strings, fm.line)?;
        }
        if has(Modifier::Windash) {
            strings = strings
                .iter()
                .map(mark_windash)
                .flat_map(|s| dash_variants(&s, MAX_EXPANDED_DASHES).unwrap_or_else(|| vec![s]))
                .collect();
        }
        if fm.modifiers.iter().any(|m| m.is_encoding()) {
            strings = encode(&strings, &fm.modifiers, fm.line)?;
        }
        let mut tests = Vec::with_capacity(strings.len());
        for s in strings {
            let s = anchor_string(s, anchor);
            tests.push(Test::Str(str_test(&s, cased, self.opts, fm.line)?));
        }
        Ok(tests)
    }

    fn expand(&self, strings: &[SigmaString], line: u32) -> Result<Vec<SigmaString>, Problem> {
        let mut out = Vec::new();
        for s in strings {
            let mut partial: Vec<SigmaString> = vec![SigmaString::default()];
            for part in &s.parts {
                let StrPart::Lit(text) = part else {
                    for p in &mut partial {
                        p.push(part.clone());
                    }
                    continue;
                };
                for piece in split_placeholders(text) {
                    match piece {
                        Piece::Text(t) => {
                            for p in &mut partial {
                                p.push(StrPart::Lit(t.to_owned()));
                            }
                        }
                        Piece::Placeholder(name) => {
                            let Some(values) = self.opts.placeholders.get(name) else {
                                return Err(Problem::new(
                                    line,
                                    Code::Placeholder,
                                    format!(
                                        "placeholder %{name}% has no configured values (kasbah hunt --placeholders FILE)"
                                    ),
                                ));
                            };
                            let mut next = Vec::with_capacity(partial.len() * values.len());
                            for p in &partial {
                                for v in values {
                                    let mut q = p.clone();
                                    for vp in SigmaString::parse(v).parts {
                                        q.push(vp);
                                    }
                                    next.push(q);
                                }
                            }
                            if next.len() > MAX_EXPANSION {
                                return Err(Problem::new(
                                    line,
                                    Code::Placeholder,
                                    format!(
                                        "placeholders expand to more than {MAX_EXPANSION} values"
                                    ),
                                ));
                            }
                            partial = next;
                        }
                    }
                }
            }
            out.extend(partial);
        }
        Ok(out)
    }
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits `%name%` placeholders out of a literal (`%` not forming a placeholder stays text).
fn split_placeholders(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        let after = rest.get(i + 1..).unwrap_or_default();
        let Some(j) = after.find('%') else { break };
        let name = after.get(..j).unwrap_or_default();
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            if i > 0 {
                out.push(Piece::Text(rest.get(..i).unwrap_or_default()));
            }
            out.push(Piece::Placeholder(name));
            rest = after.get(j + 1..).unwrap_or_default();
        } else {
            out.push(Piece::Text(rest.get(..=i).unwrap_or_default()));
            rest = after;
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Marks command-line flag dashes: a `-` or `/` after a non-word character (or at the start) and
/// before a word character, as pySigma's windash does.
fn mark_windash(s: &SigmaString) -> SigmaString {
    let mut out = SigmaString::default();
    for (pi, part) in s.parts.iter().enumerate() {
        let StrPart::Lit(text) = part else {
            out.push(part.clone());
            continue;
        };
        let prev_part_last = match pi.checked_sub(1).and_then(|i| s.parts.get(i)) {
            Some(StrPart::Lit(t)) => t.chars().last(),
            _ => None,
        };
        let next_part_first = match s.parts.get(pi + 1) {
            Some(StrPart::Lit(t)) => t.chars().next(),
            _ => None,
        };
        let chars: Vec<char> = text.chars().collect();
        let mut lit = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = if i == 0 {
                prev_part_last
            } else {
                chars.get(i - 1).copied()
            };
            let next = chars.get(i + 1).copied().or(next_part_first);
            if matches!(c, '-' | '/') && !is_word(prev) && is_word(next) {
                out.push(StrPart::Lit(std::mem::take(&mut lit)));
                out.push(StrPart::Dash);
            } else {
                lit.push(c);
            }
        }
        out.push(StrPart::Lit(lit));
    }
    out
}

/// Most windash dashes a value may have and still be expanded into plain strings (5^3 = 125
/// strings); a value with more keeps its dash classes and is matched by a regex.
const MAX_EXPANDED_DASHES: usize = 3;

/// The strings a windash value stands for, one per choice of dash (the value itself when it has
/// no dash); `None` past `max_dashes`. Plain literals are tested with substring searches and
/// gathered with the matcher's other values into one searcher, where a dash class would need a
/// regex compiled at its first use (a regex build costs as much as hundreds of searches, and a
/// small hunt pays every build it reaches).
fn dash_variants(s: &SigmaString, max_dashes: usize) -> Option<Vec<SigmaString>> {
    let dashes = s.parts.iter().filter(|p| **p == StrPart::Dash).count();
    if dashes > max_dashes {
        return None;
    }
    let mut acc = vec![SigmaString::default()];
    for part in &s.parts {
        if *part == StrPart::Dash {
            acc = acc
                .iter()
                .flat_map(|a| {
                    DASHES.iter().map(move |d| {
                        let mut x = a.clone();
                        x.push(StrPart::Lit(d.to_string()));
                        x
                    })
                })
                .collect();
        } else {
            acc.iter_mut().for_each(|a| a.push(part.clone()));
        }
    }
    Some(acc)
}

/// The characters a windash dash stands for.
pub(crate) const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Applies the encoding modifiers in order; wildcards cannot be encoded, dashes expand.
fn encode(
    strings: &[SigmaString],
    mods: &[Modifier],
    line: u32,
) -> Result<Vec<SigmaString>, Problem> {
    let bad = |msg: String| Problem::new(line, Code::ModifierValue, msg);
    // Expand windash classes into concrete strings first.
    let mut plain: Vec<String> = Vec::new();
    for s in strings {
        if s.has_wildcards() {
            return Err(bad(format!(
                "'{s}': wildcards cannot be used with base64 or utf16 encodings"
            )));
        }
        // Every dash expands here: an encoded value cannot hold a class.
        let Some(variants) = dash_variants(s, MAX_EXPANSION.ilog(DASHES.len()) as usize) else {
            return Err(bad(format!(
                "'{s}': windash expands to more than {MAX_EXPANSION} strings"
            )));
        };
        plain.extend(variants.iter().map(|v| {
            v.parts
                .iter()
                .filter_map(|p| match p {
                    StrPart::Lit(l) => Some(l.as_str()),
                    _ => None,
                })
                .collect::<String>()
        }));
    }
    let mut values: Vec<Vec<u8>> = plain.into_iter().map(String::into_bytes).collect();
    for m in mods {
        values = match m {
            Modifier::Utf16Le | Modifier::Utf16Be | Modifier::Utf16 => values
                .iter()
                .map(|v| {
                    let text = String::from_utf8_lossy(v);
                    let mut out = Vec::with_capacity(v.len() * 2 + 2);
                    if *m == Modifier::Utf16 {
                        out.extend_from_slice(&[0xFF, 0xFE]);
                    }
                    for u in text.encode_utf16() {
                        let b = if *m == Modifier::Utf16Be {
                            u.to_be_bytes()
                        } else {
                            u.to_le_bytes()
                        };
                        out.extend_from_slice(&b);
                    }
                    out
                })
                .collect(),
            Modifier::Base64 => values.iter().map(|v| B64.encode(v).into_bytes()).collect(),
            Modifier::Base64Offset => values
                .iter()
                .flat_map(|v| base64_offsets(v).into_iter().map(String::into_bytes))
                .collect(),
            _ => values,
        };
    }
    Ok(values
        .into_iter()
        .map(|v| SigmaString::literal(&String::from_utf8_lossy(&v)))
        .collect())
}

/// The three encodings of `v` at offsets 0, 1 and 2 of a Base64 stream, without the characters
/// that depend on the unknown surrounding bytes.
pub(crate) fn base64_offsets(v: &[u8]) -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    for shift in 0..3usize {
        let mut buf = vec![b' '; shift];
        buf.extend_from_slice(v);
        let enc = B64.encode(&buf);
        // Leading characters that encode the padding bytes, and trailing characters mixing in
        // the unknown next bytes, are dropped.
        let start = [0, 2, 3][shift];
        let end_trim = match (v.len() + shift) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = enc.len().saturating_sub(end_trim);
        if let Some(s) = enc.get(start..end)
            && !s.is_empty()
        {
            out.push(s.to_owned());
        }
    }
    out
}

fn anchor_string(mut s: SigmaString, anchor: Anchor) -> SigmaString {
    let (pre, post) = match anchor {
        Anchor::Exact => (false, false),
        Anchor::Prefix => (false, true),
        Anchor::Suffix => (true, false),
        Anchor::Contains => (true, true),
    };
    if pre && s.parts.first() != Some(&StrPart::AnyRun) {
        s.parts.insert(0, StrPart::AnyRun);
    }
    if post {
        s.push(StrPart::AnyRun);
    }
    s
}

/// Compiles a Sigma string into the cheapest test that implements it.
pub(crate) fn str_test(
    s: &SigmaString,
    cased: bool,
    opts: &CompileOptions,
    line: u32,
) -> Result<StrTest, Problem> {
    let lit: Box<str> = s
        .parts
        .iter()
        .filter_map(|p| match p {
            StrPart::Lit(l) => Some(l.as_str()),
            _ => None,
        })
        .max_by_key(|l| l.len())
        .unwrap_or_default()
        .into();
    let needs_regex = s
        .parts
        .iter()
        .any(|p| matches!(p, StrPart::AnyChar | StrPart::Dash));
    if needs_regex {
        let parts = s.parts.as_slice();
        let (parts, open_start) = match parts.split_first() {
            Some((StrPart::AnyRun, rest)) => (rest, true),
            _ => (parts, false),
        };
        let (parts, open_end) = match parts.split_last() {
            Some((StrPart::AnyRun, rest)) => (rest, true),
            _ => (parts, false),
        };
        let mut re = String::from("(?s)");
        if !cased {
            re.push_str("(?i)");
        }
        if !open_start {
            re.push('^');
        }
        for p in parts {
            match p {
                StrPart::Lit(l) => re.push_str(&regex::escape(l)),
                StrPart::AnyRun => re.push_str(".*"),
                StrPart::AnyChar => re.push('.'),
                StrPart::Dash => re.push_str("[-/\u{2013}\u{2014}\u{2015}]"),
            }
        }
        if !open_end {
            re.push('$');
        }
        // Built from escaped literals, `.`, `.*` and one class: always valid, and small unless
        // the value is long, in which case it is compiled now so the load reports a failure.
        let (flags, limit) = (ReFlags::default(), opts.regex_size_limit);
        let r = if re.len() > LAZY_REGEX_MAX {
            LazyRegex::eager(&re, flags, limit)
                .map_err(|e| Problem::new(line, Code::Regex, format!("pattern '{s}': {e}")))?
        } else {
            LazyRegex::lazy(&re, flags, limit)
        };
        return Ok(StrTest {
            kind: StrKind::Regex(r),
            cased,
            lit,
        });
    }
    let norm = |l: &str| -> Box<str> {
        if cased {
            l.into()
        } else {
            lower(l).into_boxed_str()
        }
    };
    let kind = match s.parts.as_slice() {
        [] => StrKind::Exact("".into()),
        [StrPart::Lit(l)] => StrKind::Exact(norm(l)),
        [StrPart::AnyRun] => StrKind::Prefix("".into()),
        [StrPart::Lit(l), StrPart::AnyRun] => StrKind::Prefix(norm(l)),
        [StrPart::AnyRun, StrPart::Lit(l)] => StrKind::Suffix(norm(l)),
        [StrPart::AnyRun, StrPart::Lit(l), StrPart::AnyRun] => {
            let n = norm(l);
            StrKind::Contains(Box::new(Substring::new(n)))
        }
        parts => {
            let lits: Vec<Box<str>> = parts
                .iter()
                .filter_map(|p| match p {
                    StrPart::Lit(l) => Some(norm(l)),
                    _ => None,
                })
                .collect();
            let starts_open = matches!(parts.first(), Some(StrPart::AnyRun));
            let ends_open = matches!(parts.last(), Some(StrPart::AnyRun));
            let mut lits = lits.into_iter();
            let head = if starts_open {
                Box::from("")
            } else {
                lits.next().unwrap_or_default()
            };
            let mut rest: Vec<Box<str>> = lits.collect();
            let tail = if ends_open {
                Box::from("")
            } else {
                rest.pop().unwrap_or_default()
            };
            let min_len = head.len() + tail.len() + rest.iter().map(|l| l.len()).sum::<usize>();
            StrKind::Segments {
                head,
                middle: rest
                    .iter()
                    .map(|l| memmem::Finder::new(l.as_bytes()).into_owned())
                    .collect(),
                tail,
                min_len,
            }
        }
    };
    Ok(StrTest { kind, cased, lit })
}

/// Literals one of which occurs in every match of the regex `hir` (lower-cased), for the
/// prefilter. Empty when they cannot be derived (alternations too large, leading classes...).
fn required_literals(hir: &regex_syntax::hir::Hir) -> Box<[Box<str>]> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    // Literals a match must start with (then, failing that, end with): any of them occurs in
    // the matched text, hence in the value. Case variants of `(?i)` collapse once lower-cased.
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut ex = Extractor::new();
        ex.kind(kind).limit_total(256);
        let seq = ex.extract(hir);
        let Some(lits) = seq.literals() else { continue };
        if lits.is_empty() {
            continue;
        }
        let mut out: Vec<Box<str>> = Vec::with_capacity(lits.len());
        for l in lits {
            let Ok(t) = std::str::from_utf8(l.as_bytes()) else {
                return Box::default();
            };
            out.push(lower(t).into_boxed_str());
        }
        out.sort_unstable();
        out.dedup();
        if out.iter().all(|l| l.len() >= crate::prefilter::MIN_LITERAL) {
            return out.into_boxed_slice();
        }
    }
    Box::default()
}

fn parse_cidr(s: &str) -> Option<Test> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let net: IpAddr = addr.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some(Test::Cidr { net, prefix })
}

/// Compiles a condition over the searches of `det` (indices into `det.searches`, shifted by
/// `base` when the searches are appended to another rule's, as filters are).
pub(crate) fn condition(c: &Condition, det: &Detection, base: u32) -> Expr {
    let idx = |name: &str| {
        det.searches
            .iter()
            .position(|s| s.name == name)
            .map(|i| base + i as u32)
    };
    match c {
        Condition::Search(n) => match idx(n) {
            Some(i) => Expr::Search(i),
            // Checked at parse time; an unknown name can only come from a bug: never match.
            None => Expr::Or(Vec::new()),
        },
        Condition::Of(q, pattern) => {
            let items: Vec<Expr> = det
                .searches
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    pattern
                        .as_deref()
                        .is_none_or(|p| pattern_matches(p, &s.name))
                })
                .map(|(i, _)| Expr::Search(base + i as u32))
                .collect();
            match q {
                Quantity::All => Expr::And(items),
                Quantity::AtLeast(1) => Expr::Or(items),
                Quantity::AtLeast(n) => Expr::AtLeast(*n, items),
            }
        }
        Condition::Not(inner) => Expr::Not(Box::new(condition(inner, det, base))),
        Condition::And(v) => Expr::And(v.iter().map(|c| condition(c, det, base)).collect()),
        Condition::Or(v) => Expr::Or(v.iter().map(|c| condition(c, det, base)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_offsets_are_the_known_triples() {
        // The classic example: "/c" shifted by 0, 1 and 2 bytes.
        let v = base64_offsets(b"http://");
        assert_eq!(v, vec!["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]);
        // Each variant occurs in the encoding of a text containing the value at that offset.
        for prefix in ["", "a", "ab", "abc"] {
            let text = format!("{prefix}http://evil");
            let enc = B64.encode(text.as_bytes());
            assert!(
                v.iter().any(|x| enc.contains(x.as_str())),
                "{prefix}: {enc}"
            );
        }
    }

    #[test]
    fn placeholders_split() {
        let p = split_placeholders("a%x%b%%c%y_1%");
        let s: Vec<String> = p
            .iter()
            .map(|p| match p {
                Piece::Text(t) => format!("T({t})"),
                Piece::Placeholder(n) => format!("P({n})"),
            })
            .collect();
        assert_eq!(s, vec!["T(a)", "P(x)", "T(b%)", "P(c)", "T(y_1%)"]);
        assert_eq!(split_placeholders("100% sure").len(), 1);
    }

    #[test]
    fn windash_marks_flag_dashes_only() {
        let m = mark_windash(&SigmaString::parse(" -enc a-b /c --x"));
        let dashes = m.parts.iter().filter(|p| **p == StrPart::Dash).count();
        // " -enc" and " /c" are flags; "a-b" is not; "--x": the second dash is preceded by '-'
        // (not a word char) and followed by 'x', so it is one.
        assert_eq!(dashes, 3, "{m:?}");
        let m = mark_windash(&SigmaString::parse("-nop"));
        assert_eq!(m.parts.first(), Some(&StrPart::Dash));
    }

    #[test]
    fn windash_values_expand_into_plain_strings() {
        let plain = |pattern: &str| -> Vec<String> {
            dash_variants(
                &mark_windash(&SigmaString::parse(pattern)),
                MAX_EXPANDED_DASHES,
            )
            .expect("within the limit")
            .iter()
            .map(|s| {
                assert!(!s.parts.contains(&StrPart::Dash), "{s:?}");
                s.to_string()
            })
            .collect()
        };
        assert_eq!(
            plain(" -enc "),
            [
                " -enc ",
                " /enc ",
                " \u{2013}enc ",
                " \u{2014}enc ",
                " \u{2015}enc "
            ]
        );
        let two = plain("-a *-b");
        assert_eq!(two.len(), 25);
        assert!(two.contains(&"/a *\u{2015}b".to_owned()), "{two:?}");
        // Not a flag: nothing to expand.
        assert_eq!(plain("x-y"), ["x-y"]);
        // Past the limit, the dash classes stay (a regex matches them).
        let many = mark_windash(&SigmaString::parse(" -a -b -c -d"));
        assert!(dash_variants(&many, MAX_EXPANDED_DASHES).is_none());
        assert_eq!(
            many.parts.iter().filter(|p| **p == StrPart::Dash).count(),
            4
        );
        let opts = CompileOptions::default();
        let windash = mark_windash(&SigmaString::parse("* -enc *"));
        for s in dash_variants(&windash, MAX_EXPANDED_DASHES).expect("one dash") {
            let t = str_test(&s, false, &opts, 1).expect("compiles");
            assert!(matches!(t.kind, StrKind::Contains(_)), "{s}: {:?}", t.kind);
        }
    }

    #[test]
    fn regex_required_literals() {
        let l = |p: &str, i: bool| {
            let flags = ReFlags {
                case_insensitive: i,
                ..ReFlags::default()
            };
            flags
                .parser()
                .parse(p)
                .map(|hir| required_literals(&hir).to_vec())
                .unwrap_or_default()
        };
        assert_eq!(l("mimikatz", false), vec!["mimikatz".into()]);
        assert_eq!(
            l("(Invoke-Expression|IEX)\\(", false),
            vec!["iex(".into(), "invoke-expression(".into()]
        );
        // Case-insensitive variants collapse once lower-cased (Unicode folding adds the long s;
        // the extractor may shorten literals to stay within its limits).
        let ci = l("sekurlsa", true);
        assert!(ci.iter().any(|x| &**x == "sekurl"), "{ci:?}");
        assert!(ci.iter().all(|x| x.ends_with("ekurl")), "{ci:?}");
        // Leading classes: the suffix is used instead.
        assert_eq!(l("[a-z]+\\.ps1", false), vec![".ps1".into()]);
        // Nothing usable.
        assert!(l("\\w+", false).is_empty());
        assert!(
            l("a|bc", false).is_empty(),
            "a literal shorter than the minimum"
        );
        assert!(l("(", false).is_empty());
    }

    #[test]
    fn cidr_parsing() {
        assert!(matches!(
            parse_cidr("10.0.0.0/8"),
            Some(Test::Cidr { prefix: 8, .. })
        ));
        assert!(matches!(
            parse_cidr("::1"),
            Some(Test::Cidr { prefix: 128, .. })
        ));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("banana/8").is_none());
    }
}
