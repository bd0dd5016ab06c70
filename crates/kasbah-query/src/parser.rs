//! The parser: query text to [`Query`], by recursive descent over characters.
//!
//! Lexing depends on the position, which is why there is no separate lexer: after `field:` a
//! value may contain `:` (IPv6, times, `C:\path`), in a filter a word ends at `:` or a
//! comparison, and in pipe arguments at `,`. Every error carries the 1-based column (in
//! characters) of the offending input and a stable [`ErrorCode`]. Recursion is bounded by
//! [`MAX_DEPTH`] and the input by [`MAX_QUERY_BYTES`], so hostile queries cannot overflow the
//! stack or take more than linear time.

use std::ops::Bound;

use crate::ast::{
    Agg, AggFunc, Expr, IpNet, Pattern, Pipe, Predicate, Query, Scalar, SortKey, Stats,
    TIMESTAMP_FIELD, Test,
};
use crate::error::{ErrorCode, QueryError};
use crate::glob::{Glob, GlobPart, is_token_char};
use crate::time::{parse_rfc3339, parse_span};

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Deepest nesting of parentheses and `NOT`/`-` accepted.
pub const MAX_DEPTH: usize = 100;
/// Rows `head` returns without a number, and values `top`/`rare` return without one.
pub const DEFAULT_HEAD: usize = 10;
/// Bucket width of `timechart` without `span=`.
pub const DEFAULT_SPAN_NS: i64 = 3_600_000_000_000;

/// Characters a backslash escapes anywhere in an unquoted word. A backslash before any other
/// character is kept literally, so that Windows paths (`C:\Windows\System32`) need no doubling.
pub(crate) fn is_escapable(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\\' | '*'
                | '?'
                | '"'
                | '('
                | ')'
                | ':'
                | '|'
                | '<'
                | '>'
                | '='
                | '!'
                | ','
                | '['
                | ']'
                | '{'
                | '}'
                | '-'
                | '+'
                | '/'
        )
}

/// Parses a query. See `docs/search.md` for the language.
pub fn parse(src: &str) -> Result<Query, QueryError> {
    if src.len() > MAX_QUERY_BYTES {
        return Err(err(
            ErrorCode::Limits,
            0,
            format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mut p = Parser {
        s: src.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let filter = if p.at_stop() {
        Expr::All
    } else {
        p.parse_or(None)?
    };
    let mut pipes = Vec::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None => break,
            Some('|') => {
                p.pos += 1;
                pipes.push(p.pipe()?);
            }
            Some(')') => return Err(err(ErrorCode::Trailing, p.pos, "unmatched ')'")),
            Some(c) => {
                let what = match pipes.last() {
                    Some(pipe) => format!("unexpected '{c}' after the {} command", pipe_name(pipe)),
                    None => format!("unexpected '{c}'"),
                };
                return Err(err(ErrorCode::Trailing, p.pos, what));
            }
        }
    }
    Ok(Query { filter, pipes })
}

fn pipe_name(p: &Pipe) -> &'static str {
    match p {
        Pipe::Where(_) => "where",
        Pipe::Fields(_) => "fields",
        Pipe::Stats(_) => "stats",
        Pipe::Sort(_) => "sort",
        Pipe::Head(_) => "head",
        Pipe::Timechart { .. } => "timechart",
        Pipe::Top { .. } => "top",
        Pipe::Rare { .. } => "rare",
    }
}

fn err(code: ErrorCode, pos: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        code,
        column: pos + 1,
        message: message.into(),
    }
}

type R<T> = Result<T, QueryError>;

/// Where a word is read; decides which characters end it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// A filter term or field name: ends at `:` and comparison operators too.
    Term,
    /// A field value after `:` or an operator: may contain `:`, `<`, `,`...
    Value,
    /// A bound inside `[a TO b]`: also ends at `]` and `}`.
    Range,
    /// A pipe argument: also ends at `,` and `=`.
    Arg,
}

/// A word with escapes resolved: each character and whether it was escaped.
struct Word {
    start: usize,
    chars: Vec<(char, bool)>,
}

impl Word {
    fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }
    fn text(&self) -> String {
        self.chars.iter().map(|&(c, _)| c).collect()
    }
    fn has_escapes(&self) -> bool {
        self.chars.iter().any(|&(_, e)| e)
    }
    /// The word is exactly `s` (ASCII case-insensitively), unescaped.
    fn is_plain(&self, s: &str) -> bool {
        !self.has_escapes()
            && self.chars.len() == s.len()
            && self
                .chars
                .iter()
                .zip(s.chars())
                .all(|(&(c, _), k)| c.eq_ignore_ascii_case(&k))
    }
    fn has_wildcard(&self) -> bool {
        self.chars
            .iter()
            .any(|&(c, e)| !e && (c == '*' || c == '?'))
    }
    fn glob_parts(&self) -> Vec<GlobPart> {
        let mut parts = Vec::new();
        for &(c, escaped) in &self.chars {
            match (c, escaped) {
                ('*', false) => parts.push(GlobPart::Any),
                ('?', false) => parts.push(GlobPart::One),
                _ => match parts.last_mut() {
                    Some(GlobPart::Literal(s)) => s.push(c),
                    _ => parts.push(GlobPart::Literal(c.to_string())),
                },
            }
        }
        parts
    }
}

/// A pattern read from a word: a literal, a glob, or `*` alone.
enum WordPattern {
    MatchAll,
    Pattern(Pattern),
}

/// `a.b.c.d/n` or `hex:...:/n`: written like an IP network, so it must be a valid one.
pub(crate) fn looks_like_cidr(t: &str) -> bool {
    let Some((a, p)) = t.split_once('/') else {
        return false;
    };
    let prefix_ok = !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let v4 = a.contains('.') && a.chars().all(|c| c.is_ascii_digit() || c == '.');
    let v6 = a.contains(':')
        && a.chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    prefix_ok && (v4 || v6)
}

/// Whether `text` has at least one full-text token.
fn has_token(text: &str) -> bool {
    text.chars().any(is_token_char)
}

fn quoted_pattern(text: String) -> Pattern {
    if has_token(&text) {
        Pattern::Phrase(text)
    } else {
        Pattern::Exact(text)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }
}

struct Parser {
    s: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }
    fn peek_at(&self, off: usize) -> Option<char> {
        self.s.get(self.pos + off).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    /// End of input, of the filter (`|`) or of a group (`)`).
    fn at_stop(&self) -> bool {
        matches!(self.peek(), None | Some('|') | Some(')'))
    }
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                ErrorCode::Limits,
                self.pos,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Length of keyword `kw` at the cursor (ASCII case-insensitive) when it stands alone.
    fn keyword(&self, kw: &str) -> Option<usize> {
        let n = kw.len();
        for (i, k) in kw.chars().enumerate() {
            if !self.peek_at(i)?.eq_ignore_ascii_case(&k) {
                return None;
            }
        }
        match self.peek_at(n) {
            None => Some(n),
            Some(c) if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '|' | ',') => Some(n),
            Some(_) => None,
        }
    }

    fn ends_word(&self, c: char, ctx: Ctx) -> bool {
        if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '|') {
            return true;
        }
        match ctx {
            Ctx::Term => {
                matches!(c, ':' | '<' | '>' | '=') || (c == '!' && self.peek_at(1) == Some('='))
            }
            Ctx::Value => false,
            Ctx::Range => matches!(c, ']' | '}'),
            Ctx::Arg => matches!(c, ',' | '='),
        }
    }

    /// Reads a word, resolving escapes; empty if the cursor is at a character that ends words.
    fn word(&mut self, ctx: Ctx) -> Word {
        let start = self.pos;
        let mut chars = Vec::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                match self.peek_at(1) {
                    Some(n) if is_escapable(n) => {
                        chars.push((n, true));
                        self.pos += 2;
                    }
                    _ => {
                        chars.push(('\\', false));
                        self.pos += 1;
                    }
                }
                continue;
            }
            if self.ends_word(c, ctx) {
                break;
            }
            chars.push((c, false));
            self.pos += 1;
        }
        Word { start, chars }
    }

    /// Reads `"..."` (the cursor is on the opening quote); `\"` and `\\` are escapes.
    fn quoted(&mut self) -> R<String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(err(ErrorCode::Unclosed, start, "unclosed quote")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') if matches!(self.peek_at(1), Some('"' | '\\')) => {
                    if let Some(c) = self.peek_at(1) {
                        out.push(c);
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// After an operator: there must be an operand.
    fn need_operand(&mut self, op: &str) -> R<()> {
        self.skip_ws();
        if self.at_stop() || self.keyword("AND").is_some() || self.keyword("OR").is_some() {
            return Err(err(
                ErrorCode::MissingOperand,
                self.pos,
                format!("expected a search term after {op}"),
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self, group: Option<&str>) -> R<Expr> {
        let mut items = vec![self.parse_and(group)?];
        loop {
            self.skip_ws();
            let Some(n) = self.keyword("OR") else { break };
            self.pos += n;
            self.need_operand("OR")?;
            items.push(self.parse_and(group)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn parse_and(&mut self, group: Option<&str>) -> R<Expr> {
        let mut items = vec![self.parse_unary(group)?];
        loop {
            self.skip_ws();
            if self.at_stop() || self.keyword("OR").is_some() {
                break;
            }
            if let Some(n) = self.keyword("AND") {
                self.pos += n;
                self.need_operand("AND")?;
            }
            items.push(self.parse_unary(group)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn parse_unary(&mut self, group: Option<&str>) -> R<Expr> {
        self.enter()?;
        self.skip_ws();
        let e = if let Some(n) = self.keyword("NOT") {
            self.pos += n;
            self.need_operand("NOT")?;
            Expr::Not(Box::new(self.parse_unary(group)?))
        } else if self.peek() == Some('-') {
            // A lone `-` is a negation missing its term, not a search for "-" (quote that).
            if self
                .peek_at(1)
                .is_none_or(|c| c.is_whitespace() || matches!(c, '|' | ')'))
            {
                return Err(err(
                    ErrorCode::MissingOperand,
                    self.pos,
                    "expected a search term right after '-'",
                ));
            }
            self.pos += 1;
            Expr::Not(Box::new(self.parse_unary(group)?))
        } else {
            self.parse_primary(group)?
        };
        self.leave();
        Ok(e)
    }

    fn parse_primary(&mut self, group: Option<&str>) -> R<Expr> {
        self.skip_ws();
        match self.peek() {
            None | Some('|') | Some(')') => Err(err(
                ErrorCode::MissingOperand,
                self.pos,
                "expected a search term",
            )),
            Some('(') => self.paren_group(group),
            Some('"') => {
                let text = self.quoted()?;
                Ok(pred(
                    group.map(str::to_owned),
                    Test::Eq(quoted_pattern(text)),
                ))
            }
            Some(c) => {
                if let Some(field) = group {
                    return self.field_value(field);
                }
                let w = self.word(Ctx::Term);
                if w.is_empty() {
                    return Err(err(
                        ErrorCode::Syntax,
                        self.pos,
                        format!("unexpected '{c}'"),
                    ));
                }
                if self.peek() == Some(':') {
                    let field = field_name(&w)?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.at_stop() {
                        return Err(err(
                            ErrorCode::MissingValue,
                            self.pos,
                            "expected a value after ':'",
                        ));
                    }
                    return self.field_value(&field);
                }
                let save = self.pos;
                self.skip_ws();
                if let Some(op) = self.op() {
                    let field = field_name(&w)?;
                    return self.comparison(&field, op);
                }
                self.pos = save;
                match word_pattern(&w)? {
                    WordPattern::MatchAll => Ok(Expr::All),
                    WordPattern::Pattern(p) => Ok(pred(None, Test::Eq(p))),
                }
            }
        }
    }

    /// `( expr )`, the cursor on `(`; inside a field group bare values test that field.
    fn paren_group(&mut self, group: Option<&str>) -> R<Expr> {
        let start = self.pos;
        self.pos += 1;
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(err(
                ErrorCode::MissingOperand,
                self.pos,
                "empty parentheses: expected a search term",
            ));
        }
        let e = self.parse_or(group)?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(err(ErrorCode::Unclosed, start, "unclosed '('"));
        }
        self.pos += 1;
        self.leave();
        Ok(e)
    }

    /// A comparison operator at the cursor, consumed.
    fn op(&mut self) -> Option<Op> {
        let (op, n) = match (self.peek()?, self.peek_at(1)) {
            ('>', Some('=')) => (Op::Ge, 2),
            ('<', Some('=')) => (Op::Le, 2),
            ('=', Some('=')) => (Op::Eq, 2),
            ('!', Some('=')) => (Op::Ne, 2),
            ('>', _) => (Op::Gt, 1),
            ('<', _) => (Op::Lt, 1),
            ('=', _) => (Op::Eq, 1),
            _ => return None,
        };
        self.pos += n;
        Some(op)
    }

    fn comparison(&mut self, field: &str, op: Op) -> R<Expr> {
        self.skip_ws();
        if self.at_stop() {
            return Err(err(
                ErrorCode::MissingValue,
                self.pos,
                format!("expected a value after '{}'", op.as_str()),
            ));
        }
        let bound_at = self.pos;
        let v = match op {
            Op::Eq => return self.field_value(field),
            Op::Ne => return Ok(Expr::Not(Box::new(self.field_value(field)?))),
            _ => match self.scalar(field, Ctx::Value)? {
                Bound::Unbounded => {
                    return Err(err(
                        ErrorCode::BadRange,
                        bound_at,
                        format!("'{}' needs a value, not '*'", op.as_str()),
                    ));
                }
                Bound::Included(v) | Bound::Excluded(v) => v,
            },
        };
        let (lo, hi) = match op {
            Op::Gt => (Bound::Excluded(v), Bound::Unbounded),
            Op::Ge => (Bound::Included(v), Bound::Unbounded),
            Op::Lt => (Bound::Unbounded, Bound::Excluded(v)),
            _ => (Bound::Unbounded, Bound::Included(v)),
        };
        Ok(pred(Some(field.to_owned()), Test::Range { lo, hi }))
    }

    /// The value of `field` at the cursor (not whitespace, not a stop).
    fn field_value(&mut self, field: &str) -> R<Expr> {
        let f = Some(field.to_owned());
        match self.peek() {
            Some('(') => self.paren_group(Some(field)),
            Some('"') => {
                let text = self.quoted()?;
                Ok(pred(f, Test::Eq(quoted_pattern(text))))
            }
            Some('[' | '{') => self.range(field),
            Some('>' | '<') => match self.op() {
                Some(op) => self.comparison(field, op),
                None => Err(err(ErrorCode::Syntax, self.pos, "expected a comparison")),
            },
            Some(c) => {
                let w = self.word(Ctx::Value);
                if w.is_empty() {
                    return Err(err(
                        ErrorCode::Syntax,
                        self.pos,
                        format!("unexpected '{c}'"),
                    ));
                }
                let text = w.text();
                if !w.has_escapes() && looks_like_cidr(&text) {
                    return match IpNet::parse(&text) {
                        Some(net) => Ok(pred(f, Test::Cidr(net))),
                        None => Err(err(
                            ErrorCode::BadCidr,
                            w.start,
                            format!(
                                "invalid IP network '{text}': expected address/prefix with a prefix of at most 32 (IPv4) or 128 (IPv6)"
                            ),
                        )),
                    };
                }
                match word_pattern(&w)? {
                    WordPattern::MatchAll => Ok(pred(f, Test::Exists)),
                    WordPattern::Pattern(p) => Ok(pred(f, Test::Eq(p))),
                }
            }
            None => Err(err(
                ErrorCode::MissingValue,
                self.pos,
                "expected a value after ':'",
            )),
        }
    }

    /// `[lo TO hi]`, `{lo TO hi}` or mixed; the cursor on the opening bracket.
    fn range(&mut self, field: &str) -> R<Expr> {
        let start = self.pos;
        let inclusive_lo = self.peek() == Some('[');
        self.pos += 1;
        self.skip_ws();
        let lo = self.range_bound(field, start, "a lower bound")?;
        self.skip_ws();
        let Some(n) = self.keyword("TO") else {
            if self.peek().is_none() {
                return Err(err(ErrorCode::Unclosed, start, "unclosed range"));
            }
            return Err(err(
                ErrorCode::BadRange,
                self.pos,
                "expected TO between the bounds of a range ([100 TO 500])",
            ));
        };
        self.pos += n;
        self.skip_ws();
        let hi = self.range_bound(field, start, "an upper bound")?;
        self.skip_ws();
        let inclusive_hi = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            None => return Err(err(ErrorCode::Unclosed, start, "unclosed range")),
            Some(c) => {
                return Err(err(
                    ErrorCode::BadRange,
                    self.pos,
                    format!("expected ']' or '}}' to close the range, found '{c}'"),
                ));
            }
        };
        self.pos += 1;
        let close = |b: Bound<Scalar>, incl: bool| match b {
            Bound::Included(v) if !incl => Bound::Excluded(v),
            other => other,
        };
        Ok(pred(
            Some(field.to_owned()),
            Test::Range {
                lo: close(lo, inclusive_lo),
                hi: close(hi, inclusive_hi),
            },
        ))
    }

    fn range_bound(&mut self, field: &str, start: usize, what: &str) -> R<Bound<Scalar>> {
        match self.peek() {
            None => Err(err(ErrorCode::Unclosed, start, "unclosed range")),
            Some(']' | '}') => Err(err(
                ErrorCode::BadRange,
                self.pos,
                format!("expected {what} in the range"),
            )),
            Some(_) if self.keyword("TO").is_some() => Err(err(
                ErrorCode::BadRange,
                self.pos,
                format!("expected {what} before TO (use * for none)"),
            )),
            Some(_) => self.scalar(field, Ctx::Range),
        }
    }

    /// A range bound or comparison value: `*` (unbounded), a quoted string, or a word read as a
    /// number, an RFC 3339 time or a string. `@timestamp` takes times only.
    fn scalar(&mut self, field: &str, ctx: Ctx) -> R<Bound<Scalar>> {
        let start = self.pos;
        let v = if self.peek() == Some('"') {
            let text = self.quoted()?;
            // Analysts often quote times; for @timestamp a quoted time is still a time.
            match parse_rfc3339(&text) {
                Some(ns) if field == TIMESTAMP_FIELD => Scalar::Time(ns),
                _ => Scalar::Str(text),
            }
        } else {
            let w = self.word(ctx);
            if w.is_empty() {
                let found = self
                    .peek()
                    .map(|c| format!(", found '{c}'"))
                    .unwrap_or_default();
                return Err(err(
                    ErrorCode::MissingValue,
                    self.pos,
                    format!("expected a value{found}"),
                ));
            }
            if w.is_plain("*") {
                return Ok(Bound::Unbounded);
            }
            scalar_from_text(&w.text(), start)?
        };
        if field == TIMESTAMP_FIELD && !matches!(v, Scalar::Time(_)) {
            return Err(err(
                ErrorCode::BadTime,
                start,
                "expected an RFC 3339 time for @timestamp, like 2024-03-14T10:00:00Z or 2024-03-14",
            ));
        }
        Ok(Bound::Included(v))
    }

    // ---- pipes ----

    /// The end of a pipe's arguments.
    fn at_pipe_end(&self) -> bool {
        matches!(self.peek(), None | Some('|'))
    }

    fn pipe(&mut self) -> R<Pipe> {
        self.skip_ws();
        let w = self.word(Ctx::Arg);
        if w.is_empty() {
            return Err(err(
                ErrorCode::MissingOperand,
                self.pos,
                "expected a command after '|'",
            ));
        }
        let name = w.text().to_ascii_lowercase();
        self.skip_ws();
        match name.as_str() {
            "where" => {
                if self.at_stop() {
                    return Err(err(
                        ErrorCode::MissingOperand,
                        self.pos,
                        "expected an expression after where",
                    ));
                }
                Ok(Pipe::Where(self.parse_or(None)?))
            }
            "fields" | "table" => Ok(Pipe::Fields(self.field_list("fields")?)),
            "stats" => Ok(Pipe::Stats(self.stats(false)?)),
            "sort" => self.sort(),
            "head" | "limit" => Ok(Pipe::Head(self.opt_count(&name, true)?)),
            "timechart" => self.timechart(),
            "top" | "rare" => {
                let n = self.opt_count(&name, false)?;
                self.skip_ws();
                let f = self.word(Ctx::Arg);
                if f.is_empty() {
                    return Err(err(
                        ErrorCode::PipeArgs,
                        self.pos,
                        format!("expected a field: {name} 10 user.name"),
                    ));
                }
                let field = f.text();
                Ok(if name == "top" {
                    Pipe::Top { n, field }
                } else {
                    Pipe::Rare { n, field }
                })
            }
            _ => Err(err(
                ErrorCode::UnknownPipe,
                w.start,
                format!(
                    "unknown command '{}'; expected where, fields, stats, sort, head, timechart, top or rare",
                    w.text()
                ),
            )),
        }
    }

    /// An optional row count (`head`, `top`, `rare`); [`DEFAULT_HEAD`] when absent.
    /// With `only`, whatever follows must be the count; else only a digit-led word is one.
    fn opt_count(&mut self, cmd: &str, only: bool) -> R<usize> {
        self.skip_ws();
        let digits = self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+');
        if self.at_pipe_end() || !(digits || only) {
            return Ok(DEFAULT_HEAD);
        }
        let w = self.word(Ctx::Arg);
        let t = w.text();
        match t.parse::<usize>() {
            Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(err(
                ErrorCode::BadNumber,
                w.start,
                format!("expected a count for {cmd}, like {cmd} 10; found '{t}'"),
            )),
        }
    }

    /// `a, b, c` (commas or spaces); at least one.
    fn field_list(&mut self, cmd: &str) -> R<Vec<String>> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let w = self.word(Ctx::Arg);
            if w.is_empty() {
                return Err(err(
                    ErrorCode::PipeArgs,
                    self.pos,
                    format!("expected a field name after {cmd}"),
                ));
            }
            out.push(w.text());
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
                continue;
            }
            if self.at_pipe_end()
                || self.peek_span()
                || self.peek().is_some_and(|c| self.ends_word(c, Ctx::Arg))
            {
                return Ok(out);
            }
        }
    }

    /// `agg [as name], ... [by f, ...]`; with `default_count`, no aggregation means `count()`.
    fn stats(&mut self, default_count: bool) -> R<Stats> {
        let mut aggs: Vec<(usize, Agg)> = Vec::new();
        loop {
            self.skip_ws();
            if self.at_pipe_end() || self.keyword("by").is_some() {
                break;
            }
            if self.peek_span() {
                break;
            }
            let start = self.pos;
            aggs.push((start, self.agg()?));
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
                continue;
            }
            if self.at_pipe_end()
                || self.keyword("by").is_some()
                || self.peek().is_some_and(|c| self.ends_word(c, Ctx::Arg))
                || self.peek_span()
            {
                break;
            }
        }
        if aggs.is_empty() {
            if !default_count {
                return Err(err(
                    ErrorCode::PipeArgs,
                    self.pos,
                    "expected an aggregation like count() or dc(field)",
                ));
            }
            aggs.push((
                self.pos,
                Agg {
                    func: AggFunc::Count,
                    field: None,
                    name: Agg::default_name(AggFunc::Count, None),
                },
            ));
        }
        let mut by = Vec::new();
        self.skip_ws();
        let by_at = self.pos;
        if let Some(n) = self.keyword("by") {
            self.pos += n;
            by = self.field_list("by")?;
        }
        for (i, (at, a)) in aggs.iter().enumerate() {
            if aggs[..i].iter().any(|(_, b)| b.name == a.name) || by.contains(&a.name) {
                return Err(err(
                    ErrorCode::PipeArgs,
                    *at,
                    format!("duplicate column name '{}'; rename it with 'as'", a.name),
                ));
            }
        }
        if let Some(dup) = by.iter().enumerate().find(|(i, f)| by[..*i].contains(f)) {
            return Err(err(
                ErrorCode::PipeArgs,
                by_at,
                format!("'{}' appears twice after by", dup.1),
            ));
        }
        Ok(Stats {
            aggs: aggs.into_iter().map(|(_, a)| a).collect(),
            by,
        })
    }

    /// `span=` at the cursor.
    fn peek_span(&self) -> bool {
        "span="
            .chars()
            .enumerate()
            .all(|(i, k)| self.peek_at(i).is_some_and(|c| c.eq_ignore_ascii_case(&k)))
    }

    fn agg(&mut self) -> R<Agg> {
        let w = self.word(Ctx::Arg);
        if w.is_empty() {
            let found = self
                .peek()
                .map(|c| format!(", found '{c}'"))
                .unwrap_or_default();
            return Err(err(
                ErrorCode::PipeArgs,
                self.pos,
                format!("expected an aggregation like count() or dc(field){found}"),
            ));
        }
        let Some(func) = AggFunc::from_name(&w.text()) else {
            return Err(err(
                ErrorCode::UnknownFunction,
                w.start,
                format!(
                    "unknown function '{}'; expected count, dc, min, max, avg, sum or values",
                    w.text()
                ),
            ));
        };
        let mut field = None;
        if self.peek() == Some('(') {
            let open = self.pos;
            self.pos += 1;
            self.skip_ws();
            if self.at_pipe_end() {
                return Err(err(ErrorCode::Unclosed, open, "unclosed '('"));
            }
            if self.peek() != Some(')') {
                let f = self.word(Ctx::Arg);
                if f.is_empty() {
                    return Err(err(
                        ErrorCode::PipeArgs,
                        self.pos,
                        format!("expected a field name in {}()", func.as_str()),
                    ));
                }
                field = Some(f.text());
                self.skip_ws();
            }
            match self.peek() {
                Some(')') => self.pos += 1,
                None | Some('|') => return Err(err(ErrorCode::Unclosed, open, "unclosed '('")),
                Some(c) => {
                    return Err(err(
                        ErrorCode::PipeArgs,
                        self.pos,
                        format!("expected ')' after the field, found '{c}'"),
                    ));
                }
            }
        }
        if func != AggFunc::Count && field.is_none() {
            return Err(err(
                ErrorCode::PipeArgs,
                w.start,
                format!("{0} needs a field: {0}(field)", func.as_str()),
            ));
        }
        let mut name = Agg::default_name(func, field.as_deref());
        self.skip_ws();
        if let Some(n) = self.keyword("as") {
            self.pos += n;
            self.skip_ws();
            let a = self.word(Ctx::Arg);
            if a.is_empty() {
                return Err(err(
                    ErrorCode::MissingValue,
                    self.pos,
                    "expected a column name after 'as'",
                ));
            }
            name = a.text();
        }
        Ok(Agg { func, field, name })
    }

    fn sort(&mut self) -> R<Pipe> {
        let mut keys = Vec::new();
        loop {
            self.skip_ws();
            let sign = match self.peek() {
                Some('-') => Some(true),
                Some('+') => Some(false),
                _ => None,
            };
            if sign.is_some() {
                self.pos += 1;
            }
            let w = self.word(Ctx::Arg);
            if w.is_empty() {
                return Err(err(
                    ErrorCode::PipeArgs,
                    self.pos,
                    "expected a field to sort by, like sort -count",
                ));
            }
            self.skip_ws();
            let word_order = if let Some(n) = self.keyword("desc") {
                self.pos += n;
                Some(true)
            } else if let Some(n) = self.keyword("asc") {
                self.pos += n;
                Some(false)
            } else {
                None
            };
            let descending = match (sign, word_order) {
                (Some(a), Some(b)) if a != b => {
                    return Err(err(
                        ErrorCode::PipeArgs,
                        w.start,
                        "conflicting sort order: use either -field or field desc",
                    ));
                }
                (Some(d), _) | (None, Some(d)) => d,
                (None, None) => false,
            };
            keys.push(SortKey {
                field: w.text(),
                descending,
            });
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
                continue;
            }
            return Ok(Pipe::Sort(keys));
        }
    }

    fn timechart(&mut self) -> R<Pipe> {
        let mut span_ns = None;
        self.span_option(&mut span_ns)?;
        let stats = self.stats(true)?;
        if stats.by.len() > 1 {
            return Err(err(
                ErrorCode::PipeArgs,
                self.pos,
                "timechart splits by one field at most",
            ));
        }
        self.span_option(&mut span_ns)?;
        Ok(Pipe::Timechart {
            span_ns: span_ns.unwrap_or(DEFAULT_SPAN_NS),
            stats,
        })
    }

    /// `span=1h` at the cursor, if present.
    fn span_option(&mut self, span: &mut Option<i64>) -> R<()> {
        self.skip_ws();
        if !self.peek_span() {
            return Ok(());
        }
        let at = self.pos;
        self.pos += 5;
        if span.is_some() {
            return Err(err(ErrorCode::PipeArgs, at, "span given twice"));
        }
        let w = self.word(Ctx::Arg);
        match parse_span(&w.text()) {
            Some(ns) => {
                *span = Some(ns);
                Ok(())
            }
            None => Err(err(
                ErrorCode::BadTime,
                w.start,
                format!(
                    "bad span '{}': expected a positive number and a unit (ms, s, m, h, d, w), like span=5m",
                    w.text()
                ),
            )),
        }
    }
}

fn pred(field: Option<String>, test: Test) -> Expr {
    Expr::Pred(Predicate { field, test })
}

fn field_name(w: &Word) -> R<String> {
    if w.has_wildcard() {
        return Err(err(
            ErrorCode::Syntax,
            w.start,
            "wildcards are not allowed in field names",
        ));
    }
    Ok(w.text())
}

fn word_pattern(w: &Word) -> R<WordPattern> {
    if !w.has_wildcard() {
        return Ok(WordPattern::Pattern(Pattern::Exact(w.text())));
    }
    let glob = Glob::new(w.glob_parts()).map_err(|e| {
        err(
            ErrorCode::Pattern,
            w.start,
            format!("wildcard pattern too large: {e}"),
        )
    })?;
    Ok(if glob.is_match_all() {
        WordPattern::MatchAll
    } else {
        WordPattern::Pattern(Pattern::Wildcard(glob))
    })
}

/// A number (integer first), an RFC 3339 time, or else a string.
pub(crate) fn scalar_from_text(t: &str, at: usize) -> R<Scalar> {
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Scalar::Int(i));
    }
    // Rust also reads "inf" and "NaN" as floats; only digit-led text counts as a number.
    let numeric_start = t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'));
    if numeric_start && let Ok(f) = t.parse::<f64>() {
        if !f.is_finite() {
            return Err(err(
                ErrorCode::BadNumber,
                at,
                format!("number out of range: {t}"),
            ));
        }
        return Ok(Scalar::Float(f));
    }
    Ok(match parse_rfc3339(t) {
        Some(ns) => Scalar::Time(ns),
        None => Scalar::Str(t.to_owned()),
    })
}
