//! Evaluating a filter on one row: Kasbah's flat JSON event (dotted keys) or a row of a table.
//!
//! Semantics, as documented for analysts in `docs/search.md`:
//! - values compare ignoring case; a number compares numerically with a numeric literal;
//! - an array matches when any element matches; `null` matches nothing;
//! - full text (bare words and field-less phrases) looks at `message` and `event.original`,
//!   split into tokens (runs of letters and digits): a word must be a whole token, a
//!   phrase (or a word with punctuation, `powershell.exe`) consecutive tokens, a wildcard one
//!   token (or the whole text when its literals contain punctuation);
//! - a bare word or field-less phrase also matches when it equals the whole value of any other
//!   field (`203.0.113.45` finds a firewall event whose only copy of it is `source.ip`), as
//!   `field:value` would compare it.
//!
//! Nothing here allocates per row except turning numbers into text for wildcard and phrase
//! tests, and every test is linear in the value (wildcards run on the `regex` crate).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::ops::Bound;

use serde_json::{Map, Number, Value};

use crate::ast::{Expr, Pattern, Predicate, Scalar, Test};
use crate::glob::is_token_char;
use crate::time::parse_rfc3339;

/// One event (or table row): a flat JSON object with dotted keys.
pub type Row = Map<String, Value>;

/// The fields full-text terms search.
pub const FULL_TEXT_FIELDS: [&str; 2] = ["message", "event.original"];

/// Arrays nested deeper than this are not looked into (events are flat; this bounds recursion).
const MAX_ARRAY_DEPTH: usize = 8;

impl Expr {
    /// Whether `row` satisfies the expression.
    pub fn matches(&self, row: &Row) -> bool {
        match self {
            Expr::All => true,
            Expr::And(items) => items.iter().all(|e| e.matches(row)),
            Expr::Or(items) => items.iter().any(|e| e.matches(row)),
            Expr::Not(e) => !e.matches(row),
            Expr::Pred(p) => p.matches(row),
        }
    }
}

impl Predicate {
    /// Whether `row` satisfies the test.
    pub fn matches(&self, row: &Row) -> bool {
        match &self.field {
            None => {
                FULL_TEXT_FIELDS.iter().any(|f| {
                    row.get(*f).is_some_and(|v| {
                        any_scalar(v, 0, &mut |x| with_text(x, |t| full_text(&self.test, t)))
                    })
                }) || self.any_field_equals(row)
            }
            Some(f) => row
                .get(f)
                .is_some_and(|v| any_scalar(v, 0, &mut |x| value_test(&self.test, x))),
        }
    }

    /// For a bare word or field-less phrase: whether it equals the whole value of a field other
    /// than the full-text ones.
    fn any_field_equals(&self, row: &Row) -> bool {
        let Test::Eq(Pattern::Exact(s) | Pattern::Phrase(s)) = &self.test else {
            return false;
        };
        row.iter().any(|(k, v)| {
            !FULL_TEXT_FIELDS.contains(&k.as_str()) && any_scalar(v, 0, &mut |x| exact_eq(x, s))
        })
    }
}

/// Calls `f` on each non-null scalar of `v` (the value itself, or the elements of an array)
/// until it returns true.
pub(crate) fn any_scalar(v: &Value, depth: usize, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => {
            depth < MAX_ARRAY_DEPTH && items.iter().any(|x| any_scalar(x, depth + 1, f))
        }
        x => f(x),
    }
}

/// Runs `f` on the text of a scalar (numbers and booleans as they print).
fn with_text(v: &Value, f: impl FnOnce(&str) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Number(n) => f(&n.to_string()),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        _ => false,
    }
}

fn value_test(test: &Test, v: &Value) -> bool {
    match test {
        Test::Exists => true,
        Test::Eq(Pattern::Exact(s)) => exact_eq(v, s),
        Test::Eq(Pattern::Wildcard(g)) => with_text(v, |t| g.is_match(t)),
        Test::Eq(Pattern::Phrase(p)) => with_text(v, |t| phrase_in(t, p)),
        Test::Range { lo, hi } => in_range(v, lo, hi),
        Test::Cidr(net) => match v {
            Value::String(s) => net.contains_text(s),
            _ => false,
        },
    }
}

fn full_text(test: &Test, text: &str) -> bool {
    match test {
        Test::Eq(Pattern::Exact(s) | Pattern::Phrase(s)) => phrase_in(text, s),
        Test::Eq(Pattern::Wildcard(g)) if g.is_token_like() => tokens(text).any(|t| g.is_match(t)),
        Test::Eq(Pattern::Wildcard(g)) => g.is_match(text),
        // The parser builds no other full-text test; treat one like a test on the text itself.
        other => value_test(other, &Value::String(text.to_owned())),
    }
}

/// Equality ignoring case, without allocating.
pub(crate) fn ci_eq(a: &str, b: &str) -> bool {
    if a.len() == b.len() && a.eq_ignore_ascii_case(b) {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return false;
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Ordering ignoring case (then by bytes, so that the order is total).
pub(crate) fn ci_cmp(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
        .then_with(|| a.cmp(b))
}

/// The instant of a text that is an RFC 3339 time (cheap rejection of other text first).
pub(crate) fn time_of(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let plausible =
        b.len() >= 10 && b.first().is_some_and(u8::is_ascii_digit) && b.get(4) == Some(&b'-');
    plausible.then(|| parse_rfc3339(s)).flatten()
}

/// Ordering of two texts for `min` and `max`: as instants when both are RFC 3339 times
/// (`10:00:00.5Z` after `10:00:00Z`, which text order gets wrong), else ignoring case.
pub(crate) fn text_cmp(a: &str, b: &str) -> Ordering {
    match (time_of(a), time_of(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        _ => ci_cmp(a, b),
    }
}

fn exact_eq(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => {
            ci_eq(x, s)
                // IPv6 has many spellings (`2001:db8::1` = `2001:0db8:0:0::1`).
                || (s.contains(':')
                    && x.contains(':')
                    && matches!((x.parse::<IpAddr>(), s.parse::<IpAddr>()), (Ok(a), Ok(b)) if a == b))
        }
        Value::Number(n) => match (num(n), text_num(s)) {
            (a, Some(b)) => a.cmp_num(b) == Some(Ordering::Equal),
            (_, None) => false,
        },
        Value::Bool(b) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        _ => false,
    }
}

/// A number of either kind, compared exactly when both are integers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    Int(i64),
    Big(u64),
    Float(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Big(u) => u as f64,
            Num::Float(f) => f,
        }
    }
    pub(crate) fn cmp_num(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (Num::Big(a), Num::Big(b)) => Some(a.cmp(&b)),
            (Num::Big(_), Num::Int(_)) => Some(Ordering::Greater),
            (Num::Int(_), Num::Big(_)) => Some(Ordering::Less),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }
}

pub(crate) fn num(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i)
    } else if let Some(u) = n.as_u64() {
        Num::Big(u)
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Text that is a plain decimal number (`42`, `-1.5`, `1e3`), not `inf` or `0x10`.
pub(crate) fn text_num(s: &str) -> Option<Num> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Num::Int(i));
    }
    let digit_led = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if !digit_led {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Num::Float)
}

/// The number a value holds: JSON numbers and numeric strings (`"500"` from key=value logs).
pub(crate) fn value_num(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => Some(num(n)),
        Value::String(s) => text_num(s),
        _ => None,
    }
}

fn scalar_cmp(v: &Value, s: &Scalar) -> Option<Ordering> {
    match s {
        Scalar::Int(i) => value_num(v)?.cmp_num(Num::Int(*i)),
        Scalar::Float(f) => value_num(v)?.cmp_num(Num::Float(*f)),
        Scalar::Time(t) => match v {
            Value::String(x) => parse_rfc3339(x).map(|ns| ns.cmp(t)),
            _ => None,
        },
        Scalar::Str(s) => match v {
            Value::String(x) => Some(ci_cmp(x, s)),
            _ => None,
        },
    }
}

fn in_range(v: &Value, lo: &Bound<Scalar>, hi: &Bound<Scalar>) -> bool {
    let lo_ok = match lo {
        Bound::Unbounded => true,
        Bound::Included(s) => matches!(scalar_cmp(v, s), Some(Ordering::Greater | Ordering::Equal)),
        Bound::Excluded(s) => scalar_cmp(v, s) == Some(Ordering::Greater),
    };
    let hi_ok = match hi {
        Bound::Unbounded => true,
        Bound::Included(s) => matches!(scalar_cmp(v, s), Some(Ordering::Less | Ordering::Equal)),
        Bound::Excluded(s) => scalar_cmp(v, s) == Some(Ordering::Less),
    };
    lo_ok && hi_ok
}

fn not_token_char(c: char) -> bool {
    !is_token_char(c)
}

fn non_empty(t: &&str) -> bool {
    !t.is_empty()
}

/// The full-text tokens of `s`: maximal runs of letters and digits.
pub fn tokens(s: &str) -> impl Iterator<Item = &str> + Clone {
    s.split(not_token_char as fn(char) -> bool)
        .filter(non_empty as fn(&&str) -> bool)
}

/// Whether the tokens of `needle` appear consecutively among those of `text`, ignoring case.
/// A needle without any token (`-`, `::`) must appear literally instead.
pub(crate) fn phrase_in(text: &str, needle: &str) -> bool {
    let mut first = tokens(needle);
    let Some(head) = first.next() else {
        return !needle.is_empty() && text.contains(needle);
    };
    let mut rest = tokens(text);
    // Linear in the text for a fixed needle: each start is tried against at most the needle's
    // token count.
    while let Some(t) = rest.next() {
        if ci_eq(t, head) {
            let mut probe = rest.clone();
            if first
                .clone()
                .all(|n| probe.next().is_some_and(|t| ci_eq(t, n)))
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use serde_json::json;

    fn row(v: Value) -> Row {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn m(q: &str, r: &Row) -> bool {
        parse(q)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .filter
            .matches(r)
    }

    #[test]
    fn tokens_and_phrases() {
        assert_eq!(
            tokens("Failed password for root from 10.0.0.1").collect::<Vec<_>>(),
            [
                "Failed", "password", "for", "root", "from", "10", "0", "0", "1"
            ]
        );
        assert!(phrase_in("Failed password for root", "failed PASSWORD"));
        assert!(phrase_in("a b a b c", "a b c"));
        assert!(!phrase_in("Failed password", "password failed"));
        assert!(!phrase_in("passwords", "password"));
        assert!(phrase_in("x -> y", "->"));
        assert!(!phrase_in("x y", ""));
        assert!(phrase_in("Ünïcode TEXT", "ünïcode text"));
    }

    #[test]
    fn field_values() {
        let r = row(json!({
            "process.name": "PowerShell.exe",
            "process.pid": 4242,
            "bytes": "512",
            "ratio": 0.5,
            "ok": true,
            "tags": ["a", "Beta", null],
            "source.ip": "10.1.2.3",
            "v6": "2001:db8::1",
            "nothing": null,
            "path": "C:\\Windows\\System32\\cmd.exe",
        }));
        // Exact, case-insensitive, whole value.
        assert!(m("process.name:powershell.exe", &r));
        assert!(!m("process.name:powershell", &r));
        assert!(!m("process.name:cmd.exe", &r));
        // Numbers numerically, numeric strings too.
        assert!(m("process.pid:4242", &r) && m("process.pid:4242.0", &r));
        assert!(!m("process.pid:424", &r));
        assert!(m("ratio:0.5", &r) && m("ratio:.5", &r));
        assert!(m("bytes:512", &r));
        assert!(m("ok:TRUE", &r) && !m("ok:false", &r));
        // Arrays: any element.
        assert!(m("tags:beta", &r) && !m("tags:gamma", &r));
        // Wildcards over the whole value.
        assert!(m("process.name:power*", &r) && m("process.name:*SHELL.EXE", &r));
        assert!(m("process.name:p?wershell.exe", &r));
        assert!(!m("process.name:shell*", &r));
        assert!(m("process.pid:42*", &r));
        assert!(
            !m(r"path:C:\Windows\System32\*", &r),
            "`\\*` is a literal star"
        );
        assert!(m(r"path:C:\Windows\System32\\*", &r));
        assert!(m(r"path:*\\cmd.exe", &r));
        // Exists.
        assert!(m("process.name:*", &r) && !m("nothing:*", &r) && !m("missing:*", &r));
        assert!(!m("nothing:null", &r));
        // CIDR.
        assert!(m("source.ip:10.0.0.0/8", &r) && !m("source.ip:192.168.0.0/16", &r));
        assert!(m("v6:2001:db8::/32", &r) && !m("v6:10.0.0.0/8", &r));
        assert!(m("v6:2001:0db8:0:0::1", &r));
        // Phrases on a field.
        assert!(m(r#"path:"system32 cmd""#, &r));
        assert!(!m(r#"path:"cmd system32""#, &r));
    }

    #[test]
    fn ranges() {
        let r = row(json!({"bytes": 300, "s": "250", "name": "mallory",
            "@timestamp": "2024-03-14T10:02:41.5Z", "f": 1.5}));
        assert!(m("bytes:[100 TO 500]", &r) && m("bytes:[300 TO 300]", &r));
        assert!(!m("bytes:{300 TO 500]", &r) && !m("bytes:[100 TO 300}", &r));
        assert!(m("bytes>=300", &r) && !m("bytes>300", &r) && m("bytes<301", &r));
        assert!(m("bytes <= 300", &r) && !m("bytes < 300", &r));
        assert!(m("bytes:>100", &r));
        assert!(m("s>200", &r) && !m("s>250", &r));
        assert!(m("f>1", &r) && m("f<1.6", &r) && !m("f>=2", &r));
        assert!(m("bytes:[100 TO *]", &r) && m("bytes:[* TO *]", &r));
        assert!(m("name:[m TO n]", &r) && m("name>=MALLORY", &r) && !m("name>n", &r));
        assert!(!m("name>5", &r), "text is not a number");
        assert!(!m(r#"bytes>"1""#, &r), "a number is not text");
        assert!(!m("missing>5", &r));
        assert!(m("@timestamp>=2024-03-14T10:02:41Z", &r));
        assert!(!m("@timestamp>2024-03-14T10:02:41.5Z", &r));
        assert!(m("@timestamp:[2024-03-14 TO 2024-03-15}", &r));
        assert!(m("@timestamp<2024-03-14T12:00:00+01:00", &r));
        assert!(!m("@timestamp<2024-03-14T11:00:00+01:00", &r));
    }

    #[test]
    fn full_text() {
        let r = row(json!({
            "message": "Failed password for invalid user admin from 203.0.113.45 port 22 ssh2",
            "event.original": "<38>sshd[123]: Failed password ...",
            "user.name": "nobody",
        }));
        assert!(m("failed", &r) && m("PASSWORD", &r) && m("sshd", &r));
        assert!(!m("fail", &r), "whole tokens only");
        assert!(m("fail*", &r) && m("ss?2", &r) && !m("ss?", &r));
        assert!(m(r#""failed password""#, &r) && !m(r#""password failed""#, &r));
        assert!(
            m("203.0.113.45", &r),
            "punctuated words are phrases of tokens"
        );
        assert!(!m("203.0.113.46", &r));
        assert!(m("*rom 203*", &r), "two wildcard terms, each a token");
        assert!(!m(r"*rom\ 204*", &r));
        assert!(
            m(r"*from\ 203*", &r),
            "a wildcard with punctuation spans the text"
        );
        // A bare word or phrase also equals whole values of other fields, compared as
        // `field:value` compares (case, numbers, IPv6 spellings), but is not searched inside them.
        assert!(
            m("nobody", &r) && m("NOBODY", &r),
            "whole value of user.name"
        );
        assert!(
            !m("nob", &r) && !m("nob*", &r),
            "not a word inside another field"
        );
        let fw = row(
            json!({"source.ip": "203.0.113.9", "destination.port": 3389, "v6": "2001:db8::1", "ok": true, "tags": ["a b", "c"]}),
        );
        assert!(m("203.0.113.9", &fw) && !m("203.0.113", &fw));
        assert!(m("3389", &fw) && m("3389.0", &fw) && !m("338", &fw));
        assert!(m(r#""2001:0db8::1""#, &fw) && m("true", &fw));
        assert!(m(r#""a b""#, &fw) && m("c", &fw) && !m("a", &fw));
        // `_` separates words, as in the store's full-text index.
        let u = row(json!({"message": "spawned cmd_exe via wmi_prvse"}));
        assert!(m("cmd", &u) && m("cmd_exe", &u) && m(r#""exe via wmi""#, &u) && m("prvse", &u));
        assert!(m("failed AND NOT root", &r) && !m("failed -admin", &r));
        assert!(m("root OR admin", &r) && !m("root OR alice", &r));
        let arr = row(json!({"message": ["first line", "second alert"]}));
        assert!(m("alert", &arr) && m(r#""first line""#, &arr) && !m(r#""line second""#, &arr));
        assert!(!m("anything", &row(json!({"x": 1}))));
    }

    #[test]
    fn boolean_logic() {
        let r = row(json!({"a": "1", "b": "2"}));
        assert!(m("a:1 b:2", &r) && !m("a:1 b:3", &r));
        assert!(m("a:1 OR b:3", &r) && m("(a:9 OR b:2) a:1", &r));
        assert!(m("NOT a:2", &r) && !m("-a:1", &r) && m("-(a:1 b:3)", &r));
        assert!(m("a:(1 OR 5)", &r) && !m("a:(5 OR 6)", &r) && m("a:(-5)", &r));
        assert!(m("a!=2", &r) && !m("a!=1", &r) && m("a=1", &r) && m("a==1", &r));
        assert!(m("*", &r) && m("", &r));
    }
}
