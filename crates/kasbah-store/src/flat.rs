//! A reader for the flat JSON objects the store's documents are: the indexer parses every event
//! it indexes, and `serde_json`'s visitor machinery (with a UTF-8 check of each string) was about
//! 8% of the server's CPU on syslog ingestion.
//!
//! Documents are written by `kasbah_event::write_json`: one object, no whitespace, scalar values
//! and arrays of them. This reader checks the UTF-8 of the whole document once, then walks it
//! byte by byte, borrowing every string without escapes. It reads only that form and *declines*
//! anything else (whitespace, a nested object, a malformed or unusual number, a lone surrogate,
//! invalid JSON): the caller then parses with `serde_json` as before. What it accepts it reads
//! exactly as the `serde_json` path does, which `tests` and the property test check.

use std::borrow::Cow;

use crate::schema::{Entry, Val};

/// The entries of `doc`, in document order with repeated keys, or `None` to let `serde_json`
/// read it.
pub(crate) fn entries(doc: &[u8]) -> Option<Vec<Entry<'_>>> {
    let text = std::str::from_utf8(doc).ok()?;
    let mut r = Reader { text, at: 0 };
    r.eat(b'{')?;
    let mut out = Vec::with_capacity(64);
    if r.peek() == Some(b'}') {
        r.at += 1;
    } else {
        loop {
            let key = r.string()?;
            r.eat(b':')?;
            let value = r.value(0)?;
            out.push((key, value));
            match r.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    (r.at == doc.len()).then_some(out)
}

/// Deepest array nesting read (deeper documents go to `serde_json`, which has its own limit).
const MAX_DEPTH: usize = 32;

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn value(&mut self, depth: usize) -> Option<Val<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Val::Str),
            b't' => self.literal("true").map(|()| Val::Bool(true)),
            b'f' => self.literal("false").map(|()| Val::Bool(false)),
            b'n' => self.literal("null").map(|()| Val::Null),
            b'-' | b'0'..=b'9' => self.number().map(Val::Num),
            b'[' if depth < MAX_DEPTH => {
                self.at += 1;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Some(Val::Arr(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    match self.next()? {
                        b',' => {}
                        b']' => return Some(Val::Arr(items)),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// A number: plain integers directly, anything else (fractions, exponents, `-0`, leading
    /// zeros, 19 digits or more) through `serde_json`, so the result is its own.
    fn number(&mut self) -> Option<serde_json::Number> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut end = start;
        while bytes
            .get(end)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            end += 1;
        }
        let slice = self.text.get(start..end)?;
        self.at = end;
        let (negative, digits) = match slice.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, slice),
        };
        let plain = !digits.is_empty()
            && digits.len() < 19
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && !(negative && digits == "0");
        if !plain {
            return serde_json::from_str::<serde_json::Number>(slice).ok();
        }
        let n: u64 = digits.parse().ok()?;
        Some(if negative {
            serde_json::Number::from(-(i64::try_from(n).ok()?))
        } else {
            serde_json::Number::from(n)
        })
    }

    /// A string at `"`: borrowed unless it holds escapes. Runs between escapes are found by
    /// [`Reader::run_end`] with `memchr2`: a byte-by-byte scan was the indexer's largest cost of
    /// its own (half of it went).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let text = self.text;
        // Only a string with escapes is copied, from its first escape on.
        let mut owned: Option<String> = None;
        loop {
            let run = self.at;
            let end = self.run_end()?;
            let part = text.get(run..end)?;
            self.at = end + 1;
            if text.as_bytes().get(end) == Some(&b'"') {
                return Some(match owned {
                    None => Cow::Borrowed(part),
                    Some(mut out) => {
                        out.push_str(part);
                        Cow::Owned(out)
                    }
                });
            }
            // A backslash.
            let out = owned.get_or_insert_with(|| String::with_capacity(part.len() + 16));
            out.push_str(part);
            match self.next()? {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => out.push(self.unicode()?),
                _ => return None,
            }
        }
    }

    /// The position of the next quote or backslash from `self.at`; `None` if there is none or a
    /// control character (invalid in a JSON string) comes before it. (A plain loop over the
    /// first bytes before `memchr2`, for short values, took more instructions, not fewer.)
    fn run_end(&self) -> Option<usize> {
        let rest = self.text.as_bytes().get(self.at..)?;
        let n = memchr::memchr2(b'"', b'\\', rest)?;
        let control = rest.get(..n)?.iter().fold(false, |c, &b| c | (b < 0x20));
        (!control).then_some(self.at + n)
    }

    /// The character of `\uXXXX` (after the `u`), joining a surrogate pair.
    fn unicode(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xE000).contains(&hi) {
            return char::from_u32(hi);
        }
        if hi >= 0xDC00 {
            return None; // a low surrogate first
        }
        self.eat(b'\\')?;
        self.eat(b'u')?;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the `serde_json` path reads.
    fn slow(doc: &[u8]) -> Option<Vec<Entry<'_>>> {
        crate::schema::serde_entries(doc)
    }

    /// Either declines or reads exactly what `serde_json` reads.
    fn agree(doc: &[u8]) -> bool {
        match entries(doc) {
            None => true,
            Some(fast) => slow(doc).as_ref() == Some(&fast),
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let accepted: &[&str] = &[
            r#"{}"#,
            r#"{"a":"b","n":42,"neg":-7,"z":0,"t":true,"f":false,"x":null}"#,
            r#"{"list":["network","x"],"nested":[[1,2],[]],"empty":[]}"#,
            r#"{"path":"C:\\Windows\\cmd.exe","q":"say \"hi\"","ctl":"\u0001\t\n","sl":"a\/b"}"#,
            r#"{"bmp":"\u00e9\u65e5","pair":"\ud83d\udee1","raw":"é 日本 🛡"}"#,
            r#"{"f":1.5,"e":1e3,"E":-2.5E-3,"big":18446744073709551615,"huge":123456789012345678901234,"negzero":-0,"min":-9223372036854775808}"#,
            r#"{"dup":1,"dup":2}"#,
            r#"{"k\"ey":"v","":""}"#,
        ];
        for doc in accepted {
            let fast = entries(doc.as_bytes());
            assert!(fast.is_some(), "declined {doc}");
            assert_eq!(fast, slow(doc.as_bytes()), "{doc}");
        }
        let declined: &[&str] = &[
            r#"{"a":{"b":1}}"#,
            r#"{ "a":1}"#,
            r#"{"a":1} "#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00\ud800"}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":01}"#,
            r#"{"a":1,}"#,
            r#"{"a":tru}"#,
            r#"["a"]"#,
            r#"{"a":"unterminated}"#,
            "{\"a\":\"raw\u{1}control\"}",
            r#"{"a":NaN}"#,
            r#"{"a":1.}"#,
        ];
        for doc in declined {
            assert!(entries(doc.as_bytes()).is_none(), "accepted {doc}");
        }
        assert!(entries(b"{\"a\":\"\xff\"}").is_none(), "invalid UTF-8");
    }

    proptest! {
        /// Any bytes, and documents written the way events are: declined or read as
        /// `serde_json` reads them.
        #[test]
        fn never_disagrees_with_serde_json(
            bytes in proptest::collection::vec(proptest::sample::select(b"{}[]\":,\\/-+.0123456789eEtruefalsn ab\xc3\xa9u".to_vec()), 0..48),
            pairs in proptest::collection::vec(("(?s).{0,12}", proptest::prop_oneof![
                proptest::arbitrary::any::<i64>().prop_map(serde_json::Value::from),
                proptest::arbitrary::any::<f64>().prop_map(serde_json::Value::from),
                "(?s).{0,16}".prop_map(serde_json::Value::from),
                proptest::arbitrary::any::<bool>().prop_map(serde_json::Value::from),
                proptest::collection::vec("[a-z\\\\\"]{0,6}", 0..3).prop_map(serde_json::Value::from),
            ]), 0..8),
        ) {
            proptest::prop_assert!(agree(&bytes));
            let mut doc = String::from("{");
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    doc.push(',');
                }
                doc.push_str(&serde_json::to_string(k).expect("string"));
                doc.push(':');
                doc.push_str(&serde_json::to_string(v).expect("value"));
            }
            doc.push('}');
            proptest::prop_assert!(entries(doc.as_bytes()).is_some(), "declined {}", doc);
            proptest::prop_assert!(agree(doc.as_bytes()), "{}", doc);
        }
    }
}
