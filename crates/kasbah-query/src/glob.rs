//! Wildcard patterns (`*` any run of characters, `?` one character), compiled once to an
//! anchored, case-insensitive regular expression of the `regex` crate, so that matching is
//! linear in the value whatever the pattern (no backtracking on `*a*a*a*b`).

use regex::{Regex, RegexBuilder};

/// Compiled programs above this size are refused (the query is bounded, this is a backstop).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One piece of a wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobPart {
    /// Characters matched literally (case-insensitively).
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    Any,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern over a whole value. Two globs are equal when their parts are.
#[derive(Clone, Debug)]
pub struct Glob {
    parts: Vec<GlobPart>,
    regex: Regex,
    token_like: bool,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

/// Characters that make up full-text tokens: letters and digits, as the store's full-text index
/// cuts words (`_` separates words there too), so the index answers full text exactly.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_alphanumeric()
}

impl Glob {
    /// Compiles `parts` after normalising them (adjacent literals merged, runs of `*` collapsed,
    /// empty literals dropped). Fails only when the pattern is too large to compile.
    pub fn new(parts: Vec<GlobPart>) -> Result<Glob, regex::Error> {
        let mut norm: Vec<GlobPart> = Vec::with_capacity(parts.len());
        for p in parts {
            match (norm.last_mut(), p) {
                (_, GlobPart::Literal(s)) if s.is_empty() => {}
                (Some(GlobPart::Literal(prev)), GlobPart::Literal(s)) => prev.push_str(&s),
                (Some(GlobPart::Any), GlobPart::Any) => {}
                (_, p) => norm.push(p),
            }
        }
        let mut src = String::from("(?is)\\A(?:");
        for p in &norm {
            match p {
                GlobPart::Literal(s) => src.push_str(&regex::escape(s)),
                GlobPart::Any => src.push_str(".*"),
                GlobPart::One => src.push('.'),
            }
        }
        src.push_str(")\\z");
        let regex = RegexBuilder::new(&src)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()?;
        let token_like = norm.iter().all(|p| match p {
            GlobPart::Literal(s) => s.chars().all(is_token_char),
            GlobPart::Any | GlobPart::One => true,
        });
        Ok(Glob {
            parts: norm,
            regex,
            token_like,
        })
    }

    /// The normalised parts.
    pub fn parts(&self) -> &[GlobPart] {
        &self.parts
    }

    /// True when the pattern has a `*` or `?` (a glob without one is an exact value).
    pub fn has_wildcard(&self) -> bool {
        self.parts
            .iter()
            .any(|p| !matches!(p, GlobPart::Literal(_)))
    }

    /// True when the pattern is `*` alone (matches every value).
    pub fn is_match_all(&self) -> bool {
        self.parts == [GlobPart::Any]
    }

    /// True when every literal character is a token character, so the pattern can match
    /// single full-text tokens (`pass*`), as opposed to `*-enc*` which spans punctuation.
    pub fn is_token_like(&self) -> bool {
        self.token_like
    }

    /// The anchored, case-insensitive regular expression (for stores that run regex queries).
    pub fn regex_source(&self) -> &str {
        self.regex.as_str()
    }

    /// Whether the whole of `s` matches, ignoring case.
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(parts: Vec<GlobPart>) -> Glob {
        Glob::new(parts).expect("small glob compiles")
    }
    fn lit(s: &str) -> GlobPart {
        GlobPart::Literal(s.into())
    }

    #[test]
    fn matches_whole_value_case_insensitively() {
        let p = g(vec![GlobPart::Any, lit("\\powershell.exe")]);
        assert!(p.is_match("C:\\Windows\\System32\\WindowsPowerShell\\PowerShell.EXE"));
        assert!(!p.is_match("C:\\powershell.exe.bak"));
        let q = g(vec![lit("a"), GlobPart::One, lit("c")]);
        assert!(q.is_match("abc") && q.is_match("AÉC"));
        assert!(!q.is_match("ac") && !q.is_match("abbc"));
        // Regex metacharacters in literals are literal.
        let r = g(vec![lit("a.b(c)+"), GlobPart::Any]);
        assert!(r.is_match("a.b(c)+x"));
        assert!(!r.is_match("axb(c)+x"));
        // `*` crosses newlines: values can be multi-line.
        assert!(g(vec![lit("a"), GlobPart::Any, lit("b")]).is_match("a\nb"));
    }

    #[test]
    fn normalises_parts() {
        let p = g(vec![
            lit("a"),
            lit(""),
            lit("b"),
            GlobPart::Any,
            GlobPart::Any,
            GlobPart::One,
        ]);
        assert_eq!(p.parts(), &[lit("ab"), GlobPart::Any, GlobPart::One]);
        assert!(p.has_wildcard());
        assert!(!g(vec![lit("x")]).has_wildcard());
        assert!(g(vec![GlobPart::Any, GlobPart::Any]).is_match_all());
        assert!(g(vec![lit("pass"), GlobPart::Any]).is_token_like());
        assert!(!g(vec![GlobPart::Any, lit("-enc"), GlobPart::Any]).is_token_like());
    }

    #[test]
    fn pathological_pattern_stays_linear() {
        let mut parts = Vec::new();
        for _ in 0..50 {
            parts.push(GlobPart::Any);
            parts.push(lit("a"));
        }
        parts.push(lit("b"));
        let p = g(parts);
        let hay = "a".repeat(100_000);
        assert!(!p.is_match(&hay));
    }
}
