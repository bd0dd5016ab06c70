//! Canonical syntax: every tree the parser builds prints as text that parses back to the same
//! tree (checked by a property test). Used to echo normalised queries to analysts and in logs.

use std::fmt::{self, Display, Formatter, Write};
use std::ops::Bound;

use crate::ast::{Agg, Expr, Pattern, Pipe, Predicate, Query, Scalar, SortKey, Stats, Test};
use crate::glob::GlobPart;
use crate::parser::{is_escapable, looks_like_cidr};
use crate::time::{format_rfc3339, format_span};

/// Where a word is written: decides what must be escaped (see the parser's word contexts).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// A bare term, a field name or a pipe argument.
    Term,
    /// A value after `field:`, which may hold `:`, `=`, `,`...
    Value,
}

/// Writes `s` as an unquoted word, escaping what the parser would otherwise read as syntax.
fn write_word(f: &mut Formatter<'_>, s: &str, ctx: Ctx, at_start: bool) -> fmt::Result {
    // `10.0.0.0/8` unescaped would read back as a network.
    let slash = ctx == Ctx::Value && at_start && looks_like_cidr(s);
    let mut chars = s.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let first = at_start && i == 0;
        // A backslash is literal unless an escapable character follows, so Windows paths print
        // as written; at the end of the text, what follows is unknown and it is escaped.
        let next_escapable = chars.peek().is_none_or(|&(_, n)| is_escapable(n));
        let escape = is_escapable(c)
            && match (ctx, c) {
                (_, '\\') => next_escapable,
                (_, '*' | '?' | '"' | '(' | ')' | '|') => true,
                (_, c) if c.is_whitespace() => true,
                (_, '/') => slash,
                (Ctx::Term, ':' | '<' | '>' | '=' | '!' | ',') => true,
                (Ctx::Term, '-' | '+' | '[' | ']' | '{' | '}') => first,
                (Ctx::Value, '[' | '{' | '<' | '>') => first,
                _ => false,
            };
        if escape {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    Ok(())
}

fn write_quoted(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// A name (field, column) as a word.
struct Name<'a>(&'a str);

impl Display for Name<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_word(f, self.0, Ctx::Term, true)
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.filter)?;
        for p in &self.pipes {
            write!(f, " | {p}")?;
        }
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        fn join(
            f: &mut Formatter<'_>,
            items: &[Expr],
            sep: &str,
            paren: fn(&Expr) -> bool,
        ) -> fmt::Result {
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                if paren(e) {
                    write!(f, "({e})")?;
                } else {
                    write!(f, "{e}")?;
                }
            }
            Ok(())
        }
        match self {
            Expr::All => f.write_char('*'),
            Expr::And(items) => join(f, items, " AND ", |e| {
                matches!(e, Expr::And(_) | Expr::Or(_))
            }),
            Expr::Or(items) => join(f, items, " OR ", |e| matches!(e, Expr::Or(_))),
            Expr::Not(e) if matches!(**e, Expr::And(_) | Expr::Or(_)) => write!(f, "NOT ({e})"),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::Pred(p) => write!(f, "{p}"),
        }
    }
}

/// A pattern: a bare word in full text, a value after `field:`.
fn write_pattern(f: &mut Formatter<'_>, p: &Pattern, ctx: Ctx) -> fmt::Result {
    match p {
        Pattern::Exact(s) if s.is_empty() => f.write_str("\"\""),
        Pattern::Exact(s) => write_word(f, s, ctx, true),
        Pattern::Phrase(s) => write_quoted(f, s),
        Pattern::Wildcard(g) => {
            for (i, part) in g.parts().iter().enumerate() {
                match part {
                    GlobPart::Literal(s) => write_word(f, s, ctx, i == 0)?,
                    GlobPart::Any => f.write_char('*')?,
                    GlobPart::One => f.write_char('?')?,
                }
            }
            Ok(())
        }
    }
}

impl Display for Scalar {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(i) => write!(f, "{i}"),
            // `{:?}` keeps a `.0` or exponent, so the number reads back as a float.
            Scalar::Float(x) => write!(f, "{x:?}"),
            Scalar::Str(s) => write_quoted(f, s),
            Scalar::Time(t) => f.write_str(&format_rfc3339(*t)),
        }
    }
}

impl Display for Predicate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "{}", Name(field))?;
        }
        let sep = if self.field.is_some() { ":" } else { "" };
        match &self.test {
            Test::Eq(p) => {
                f.write_str(sep)?;
                let ctx = if self.field.is_some() {
                    Ctx::Value
                } else {
                    Ctx::Term
                };
                write_pattern(f, p, ctx)
            }
            Test::Exists => write!(f, "{sep}*"),
            Test::Cidr(n) => write!(f, "{sep}{}/{}", n.addr(), n.prefix()),
            Test::Range { lo, hi } => match (lo, hi) {
                (Bound::Included(v), Bound::Unbounded) => write!(f, ">={v}"),
                (Bound::Excluded(v), Bound::Unbounded) => write!(f, ">{v}"),
                (Bound::Unbounded, Bound::Included(v)) => write!(f, "<={v}"),
                (Bound::Unbounded, Bound::Excluded(v)) => write!(f, "<{v}"),
                _ => {
                    f.write_str(sep)?;
                    match lo {
                        Bound::Included(v) => write!(f, "[{v}")?,
                        Bound::Excluded(v) => write!(f, "{{{v}")?,
                        Bound::Unbounded => f.write_str("[*")?,
                    }
                    f.write_str(" TO ")?;
                    match hi {
                        Bound::Included(v) => write!(f, "{v}]"),
                        Bound::Excluded(v) => write!(f, "{v}}}"),
                        Bound::Unbounded => f.write_str("*]"),
                    }
                }
            },
        }
    }
}

fn write_names(f: &mut Formatter<'_>, names: &[String]) -> fmt::Result {
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", Name(n))?;
    }
    Ok(())
}

impl Display for Agg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.func.as_str())?;
        match &self.field {
            Some(field) => write!(f, "({})", Name(field))?,
            None => f.write_str("()")?,
        }
        if self.name != Agg::default_name(self.func, self.field.as_deref()) {
            write!(f, " as {}", Name(&self.name))?;
        }
        Ok(())
    }
}

impl Display for Stats {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, a) in self.aggs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        if !self.by.is_empty() {
            f.write_str(" by ")?;
            write_names(f, &self.by)?;
        }
        Ok(())
    }
}

impl Display for SortKey {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.descending {
            f.write_char('-')?;
        }
        write!(f, "{}", Name(&self.field))
    }
}

impl Display for Pipe {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Pipe::Where(e) => write!(f, "where {e}"),
            Pipe::Fields(names) => {
                f.write_str("fields ")?;
                write_names(f, names)
            }
            Pipe::Stats(s) => write!(f, "stats {s}"),
            Pipe::Sort(keys) => {
                f.write_str("sort ")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}")?;
                }
                Ok(())
            }
            Pipe::Head(n) => write!(f, "head {n}"),
            Pipe::Timechart { span_ns, stats } => {
                write!(f, "timechart span={} {stats}", format_span(*span_ns))
            }
            Pipe::Top { n, field } => write!(f, "top {n} {}", Name(field)),
            Pipe::Rare { n, field } => write!(f, "rare {n} {}", Name(field)),
        }
    }
}
