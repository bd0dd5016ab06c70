//! Tokenizing a log message into words and masking the obvious variables in each word.
//!
//! A message is split on ASCII whitespace into words. Each word gets a *masked* form in which
//! the parts that are variables by their shape alone (IP addresses and endpoints, numbers, hex
//! ids, paths, UUIDs, URLs, timestamps, booleans) are replaced by [`WILDCARD`]. Masking works
//! below the word: `uid=0` becomes `uid=<*>` and `[173.234.31.186]` becomes `[<*>]`, so
//! templates keep their literal punctuation, as the Loghub ground truth does.
//!
//! Everything here is a hand-written single pass over the bytes (linear time, no regex); the
//! scratch buffers are reused between messages so the hot path does not allocate.

use serde::{Deserialize, Serialize};

/// The placeholder for a variable part of a message, as in Loghub's templates.
pub const WILDCARD: &str = "<*>";

/// Which classes of variables are masked before clustering. All are on by default; they are
/// shape-based and safe for every log type, so a user never needs to tune them per source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Masks {
    /// IPv4 addresses with an optional `:port` (one variable) and IPv6 addresses.
    pub ip: bool,
    /// Decimal numbers, signed numbers, and tokens that are mostly digits (`blk_-123`, `v6.1.7601`).
    pub number: bool,
    /// `0x…` values, long hex strings (hashes, object ids) and MAC addresses.
    pub hex: bool,
    /// Unix paths (`/a/b`) and Windows paths (`C:\a`, `\\host\share`).
    pub path: bool,
    /// UUIDs (`8-4-4-4-12` hex).
    pub uuid: bool,
    /// URLs (`scheme://…`).
    pub url: bool,
    /// ISO 8601 dates and date-times (`2024-03-15`, `2024-03-15T10:00:00Z`).
    pub timestamp: bool,
    /// `true`, `false` and `null` in any case.
    pub boolean: bool,
}

impl Default for Masks {
    fn default() -> Self {
        Masks {
            ip: true,
            number: true,
            hex: true,
            path: true,
            uuid: true,
            url: true,
            timestamp: true,
            boolean: true,
        }
    }
}

/// A message split into words, each with its raw and masked text. Reusable: [`Tokens::fill`]
/// clears and refills it without freeing the buffers.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    /// Byte ranges of the words in the message they were made from.
    raw: Vec<(u32, u32)>,
    /// Byte ranges of the masked words in `buf`.
    masked: Vec<(u32, u32)>,
    buf: String,
}

impl Tokens {
    /// Empty scratch space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits `msg` into at most `max_words` words and masks them. Words past the limit are
    /// folded into the last word, which is then a variable: a message is never dropped and its
    /// template never grows without bound.
    pub fn fill(&mut self, msg: &str, masks: &Masks, max_words: usize) {
        self.raw.clear();
        self.masked.clear();
        self.buf.clear();
        let max_words = max_words.max(1);
        let b = msg.as_bytes();
        let mut i = 0;
        // Messages longer than u32 offsets are cut: a log message is never 4 GiB.
        let n = b.len().min(u32::MAX as usize);
        while i < n {
            while i < n && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= n {
                break;
            }
            let start = i;
            if self.raw.len() + 1 == max_words {
                // The rest of the message, trailing spaces trimmed, is one variable word.
                let mut end = n;
                while end > start && b[end - 1].is_ascii_whitespace() {
                    end -= 1;
                }
                let rest = msg.get(start..end).unwrap_or("");
                let ms = self.buf.len();
                if rest.bytes().any(|c| c.is_ascii_whitespace()) {
                    self.buf.push_str(WILDCARD);
                } else {
                    mask_word(rest, masks, &mut self.buf);
                }
                self.raw.push((start as u32, end as u32));
                self.masked.push((ms as u32, self.buf.len() as u32));
                break;
            }
            while i < n && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            let ms = self.buf.len();
            mask_word(msg.get(start..i).unwrap_or(""), masks, &mut self.buf);
            self.raw.push((start as u32, i as u32));
            self.masked.push((ms as u32, self.buf.len() as u32));
        }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.masked.len()
    }

    /// Whether the message had no words at all.
    pub fn is_empty(&self) -> bool {
        self.masked.is_empty()
    }

    /// The masked form of word `i` (empty when out of range).
    pub fn masked(&self, i: usize) -> &str {
        self.masked
            .get(i)
            .and_then(|&(s, e)| self.buf.get(s as usize..e as usize))
            .unwrap_or("")
    }

    /// The raw text of word `i` in `msg`, the message these tokens were filled from.
    pub fn raw<'m>(&self, msg: &'m str, i: usize) -> &'m str {
        self.raw
            .get(i)
            .and_then(|&(s, e)| msg.get(s as usize..e as usize))
            .unwrap_or("")
    }
}

/// Characters that may wrap a word and are kept literally around its masked core.
const OPENERS: ByteSet = ByteSet::of(b"([{<\"'");
const CLOSERS: ByteSet = ByteSet::of(b")]}>,;:.!?\"'");
/// Delimiters that separate the segments of a word (`key=value`, `a,b`, `(x)`).
const SEGMENT_DELIMS: ByteSet = ByteSet::of(b",;:=|\"'+[](){}!<>");
/// Delimiters that separate atoms inside a segment (`a.b`, `a-b`, `a/b`, `a@b`).
const ATOM_DELIMS: ByteSet = ByteSet::of(b".-@#$%&/\\");

/// A set of bytes as a 256-entry table: one load per test on the hot path.
struct ByteSet([bool; 256]);

impl ByteSet {
    const fn of(chars: &[u8]) -> Self {
        let mut t = [false; 256];
        let mut i = 0;
        while i < chars.len() {
            t[chars[i] as usize] = true;
            i += 1;
        }
        ByteSet(t)
    }

    #[inline]
    fn contains(&self, c: &u8) -> bool {
        self.0[*c as usize]
    }
}

/// The position of the first `<*>` in `s`. Scans for `*` with memchr: much cheaper than a
/// substring search on the hot path.
pub(crate) fn find_wildcard(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    memchr::memchr_iter(b'*', b).find_map(|i| {
        (i > 0 && b.get(i - 1) == Some(&b'<') && b.get(i + 1) == Some(&b'>')).then(|| i - 1)
    })
}

/// Whether `s` contains a `<*>`.
pub(crate) fn has_wildcard(s: &str) -> bool {
    find_wildcard(s).is_some()
}

/// Appends the masked form of one whitespace-free word to `out`.
pub fn mask_word(word: &str, masks: &Masks, out: &mut String) {
    let b = word.as_bytes();
    // Fast path: most words are plain letters, which only the boolean and long-hex rules can
    // turn into a variable.
    if b.iter().all(u8::is_ascii_alphabetic) {
        if variable_atom(word, masks) {
            out.push_str(WILDCARD);
        } else {
            out.push_str(word);
        }
        return;
    }
    let mut s = 0;
    while s < b.len() && OPENERS.contains(&b[s]) {
        s += 1;
    }
    let mut e = b.len();
    while e > s && CLOSERS.contains(&b[e - 1]) {
        e -= 1;
    }
    let start = out.len();
    // `s` and `e` sit next to ASCII bytes, so these are character boundaries; `get` keeps
    // that an invariant rather than a panic.
    out.push_str(word.get(..s).unwrap_or(""));
    let core = word.get(s..e).unwrap_or("");
    if !core.is_empty() {
        if whole_variable(core, masks) {
            push_var(out, start);
        } else {
            mask_core(core, masks, out, start);
        }
    }
    out.push_str(word.get(e..).unwrap_or(""));
}

/// Shapes that make a whole word (without its wrapping punctuation) one variable.
fn whole_variable(core: &str, m: &Masks) -> bool {
    let b = core.as_bytes();
    let colon = memchr::memchr(b':', b).is_some();
    let digit = b.iter().any(u8::is_ascii_digit);
    (m.ip && digit && is_ip_endpoint(core))
        || (m.ip && colon && is_ipv6(core))
        || (m.uuid && is_uuid(core))
        || (m.url && colon && memchr::memmem::find(b, b"://").is_some())
        || (m.path && is_path(core))
        || (m.timestamp && is_iso_date(core))
        || (m.hex && is_mac(core))
}

fn mask_core(core: &str, m: &Masks, out: &mut String, word_start: usize) {
    let b = core.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if SEGMENT_DELIMS.contains(&b[i]) {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !SEGMENT_DELIMS.contains(&b[i]) {
            i += 1;
        }
        let seg = core.get(start..i).unwrap_or("");
        if m.ip && is_ipv4(seg.strip_prefix('/').unwrap_or(seg)) {
            // An endpoint inside a word (`10.0.0.1:50010:Got`) is one variable, like a whole
            // word endpoint.
            if b.get(i) == Some(&b':') {
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() && j - i <= 5 {
                    j += 1;
                }
                if j > i + 1 && (j == b.len() || SEGMENT_DELIMS.contains(&b[j])) {
                    i = j;
                }
            }
            push_var(out, word_start);
            continue;
        }
        if (m.path && is_path(seg)) || (m.uuid && is_uuid(seg)) || (m.number && mostly_digits(seg))
        {
            push_var(out, word_start);
        } else {
            let before = out.len();
            mask_segment(seg, m, out, word_start);
            // A dotted name with a variable inside (`customer-187-141-sta.isp.com.mx`,
            // `5.36.59.76.dsl.isp.om`) is a host name made from an id: one variable.
            if out
                .get(before..)
                .is_some_and(|w| w != WILDCARD && has_wildcard(w))
                && seg.bytes().filter(|&c| c == b'.').count() >= 2
            {
                out.truncate(before);
                push_var(out, word_start);
            }
        }
    }
}

fn mask_segment(seg: &str, m: &Masks, out: &mut String, word_start: usize) {
    let b = seg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if ATOM_DELIMS.contains(&b[i]) {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !ATOM_DELIMS.contains(&b[i]) {
            i += 1;
        }
        let atom = seg.get(start..i).unwrap_or("");
        if variable_atom(atom, m) {
            push_var(out, word_start);
        } else {
            out.push_str(atom);
        }
    }
}

fn variable_atom(a: &str, m: &Masks) -> bool {
    let b = a.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if m.number && (digits == b.len() || digits >= 4) {
        return true;
    }
    if m.hex {
        if b.len() > 2 && (a.starts_with("0x") || a.starts_with("0X")) {
            return b[2..].iter().all(u8::is_ascii_hexdigit);
        }
        if b.iter().all(u8::is_ascii_hexdigit) && (b.len() >= 8 || (b.len() >= 6 && digits > 0)) {
            return true;
        }
    }
    m.boolean
        && matches!(b.len(), 4 | 5)
        && (a.eq_ignore_ascii_case("true")
            || a.eq_ignore_ascii_case("false")
            || a.eq_ignore_ascii_case("null"))
}

/// Appends a wildcard to the word being built from `word_start`, keeping the template in the
/// canonical form of the Loghub-2.0 ground truth: adjacent variables (`<*><*>`, `<*>.<*>`) are
/// one variable and a minus sign before a number belongs to the number.
fn push_var(out: &mut String, word_start: usize) {
    let w = out.get(word_start..).unwrap_or("");
    if w.ends_with(WILDCARD) {
        return;
    }
    if w.ends_with("<*>.") {
        out.pop();
        return;
    }
    if let Some(before) = w.strip_suffix('-') {
        let sign = before
            .bytes()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != b'_' && c != b'>');
        if sign {
            out.pop();
        }
    }
    out.push_str(WILDCARD);
}

/// More digits than other alphanumerics, and at least two: `-24.0`, `v6.1.7601.23505`,
/// `blk_-7724713468912166542`, but not `ssh2` or `u0`.
fn mostly_digits(s: &str) -> bool {
    let mut digits = 0usize;
    let mut other = 0usize;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            digits += 1;
        } else if c.is_ascii_alphanumeric() {
            other += 1;
        }
    }
    digits >= 2 && digits > other
}

fn is_ipv4(s: &str) -> bool {
    if !(7..=15).contains(&s.len()) {
        return false;
    }
    let mut parts = 0;
    for p in s.split('.') {
        parts += 1;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    parts == 4
}

/// `1.2.3.4`, `/1.2.3.4`, `1.2.3.4:80`, `/1.2.3.4:80`.
fn is_ip_endpoint(s: &str) -> bool {
    let s = s.strip_prefix('/').unwrap_or(s);
    match s.rsplit_once(':') {
        Some((ip, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|c| c.is_ascii_digit()) =>
        {
            is_ipv4(ip)
        }
        _ => is_ipv4(s),
    }
}

fn is_ipv6(s: &str) -> bool {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    s.len() >= 3
        && s.bytes().filter(|&c| c == b':').count() >= 2
        && s.contains("::") | (s.bytes().filter(|&c| c == b':').count() >= 5)
        && s.bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b':' || *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn is_path(s: &str) -> bool {
    let b = s.as_bytes();
    match b {
        [b'/', c, ..] => *c != b'/' && !c.is_ascii_whitespace(),
        [d, b':', b'\\', ..] => d.is_ascii_alphabetic(),
        [b'\\', b'\\', c, ..] => c.is_ascii_alphanumeric(),
        _ => false,
    }
}

/// `YYYY-MM-DD` optionally followed by a time.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(w: &str) -> String {
        let mut s = String::new();
        mask_word(w, &Masks::default(), &mut s);
        s
    }

    #[test]
    fn masks_variables_below_the_word() {
        assert_eq!(m("uid=0"), "uid=<*>");
        assert_eq!(m("[173.234.31.186]"), "[<*>]");
        assert_eq!(m("10.251.73.220:50010"), "<*>");
        assert_eq!(m("/10.251.42.84"), "<*>");
        assert_eq!(m("52.80.34.196:"), "<*>:");
        assert_eq!(m("10.251.30.85:50010:Got"), "<*>:Got");
        assert_eq!(
            m("rhost=customer-187-141-143-180-sta.isp.com.mx"),
            "rhost=<*>"
        );
        assert_eq!(m("ns.example.com"), "ns.example.com");
        assert_eq!(m("blk_-7724713468912166542"), "<*>");
        assert_eq!(m("Translation=-24.0"), "Translation=<*>");
        assert_eq!(m("flags=0x1,"), "flags=<*>,");
        assert_eq!(m("ws=null,"), "ws=<*>,");
        assert_eq!(m("AppWindowToken{9f4ef63"), "AppWindowToken{<*>");
        assert_eq!(m("/usr/lib/x.so"), "<*>");
        assert_eq!(m("C:\\Windows\\x.dll"), "<*>");
        assert_eq!(m("123e4567-e89b-12d3-a456-426614174000"), "<*>");
        assert_eq!(m("2024-03-15T10:00:00Z"), "<*>");
        assert_eq!(m("00:1a:2b:3c:4d:5e"), "<*>");
        assert_eq!(m("http://x.org/a?b=1"), "<*>");
    }

    #[test]
    fn keeps_words_that_only_contain_digits() {
        for w in [
            "ssh2",
            "u0",
            "jk2_init()",
            "E_FAIL",
            "BLOCK*",
            "hadoop-metrics2.properties",
        ] {
            assert_eq!(m(w), w);
        }
    }

    #[test]
    fn masks_can_be_switched_off() {
        let none = Masks {
            ip: false,
            number: false,
            hex: false,
            path: false,
            uuid: false,
            url: false,
            timestamp: false,
            boolean: false,
        };
        let mut s = String::new();
        mask_word("uid=0", &none, &mut s);
        assert_eq!(s, "uid=0");
    }

    #[test]
    fn long_messages_fold_into_a_last_variable() {
        let mut t = Tokens::new();
        t.fill("a b c d e", &Masks::default(), 3);
        assert_eq!(t.len(), 3);
        assert_eq!(t.masked(2), WILDCARD);
        assert_eq!(t.raw("a b c d e", 2), "c d e");
        t.fill("  \t ", &Masks::default(), 3);
        assert!(t.is_empty());
    }
}
