//! The condition language: `selection and not 1 of filter_*`, with precedence
//! `not` > `and` > `or`, parentheses, and the quantifiers `1 of`, `N of`, `any of`, `all of`
//! over identifier patterns or `them`.
//!
//! A hand-written tokenizer and precedence-climbing parser; nesting is bounded so hostile rules
//! cannot overflow the stack. Keywords are case-insensitive. Sigma 1 aggregations (`| count()`)
//! and `near` are recognised and refused with their own code: Sigma 2 expresses them as
//! correlation rules.

use crate::ast::{Condition, Quantity};
use crate::diag::Code;

/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_NESTING: usize = 64;

/// A condition error: the code and a message with the column (1-based, in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionError {
    /// `KS010` (syntax) or `KS012` (aggregation).
    pub code: Code,
    /// What is wrong.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Of,
    All,
    Any,
    Them,
    Number(u32),
    Ident(String),
}

fn describe(t: Option<&(Tok, usize)>) -> String {
    match t.map(|(t, _)| t) {
        None => "end of condition".into(),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
        Some(Tok::And) => "'and'".into(),
        Some(Tok::Or) => "'or'".into(),
        Some(Tok::Not) => "'not'".into(),
        Some(Tok::Of) => "'of'".into(),
        Some(Tok::All) => "'all'".into(),
        Some(Tok::Any) => "'any'".into(),
        Some(Tok::Them) => "'them'".into(),
        Some(Tok::Number(n)) => format!("'{n}'"),
        Some(Tok::Ident(s)) => format!("'{s}'"),
    }
}

fn syntax(message: String) -> ConditionError {
    ConditionError {
        code: Code::ConditionSyntax,
        message,
    }
}

fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>, ConditionError> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    let mut col = 0usize;
    while let Some((start, c)) = it.next() {
        col += 1;
        let at = col;
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push((Tok::LParen, at)),
            ')' => out.push((Tok::RParen, at)),
            '|' => {
                return Err(ConditionError {
                    code: Code::Aggregation,
                    message: format!(
                        "Sigma 1 aggregation ('|' at column {at}) is not supported; use a correlation rule"
                    ),
                });
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = it.peek() {
                    if n.is_whitespace() || matches!(n, '(' | ')' | '|') {
                        break;
                    }
                    end = i + n.len_utf8();
                    col += 1;
                    it.next();
                }
                let word = s.get(start..end).unwrap_or_default();
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "of" => Tok::Of,
                    "all" => Tok::All,
                    "any" => Tok::Any,
                    "them" => Tok::Them,
                    "near" => {
                        return Err(ConditionError {
                            code: Code::Aggregation,
                            message:
                                "Sigma 1 'near' is not supported; use a temporal correlation rule"
                                    .into(),
                        });
                    }
                    _ if word.bytes().all(|b| b.is_ascii_digit()) => match word.parse() {
                        Ok(n) => Tok::Number(n),
                        Err(_) => {
                            return Err(syntax(format!(
                                "number '{word}' at column {at} is too large"
                            )));
                        }
                    },
                    _ => Tok::Ident(word.to_owned()),
                };
                out.push((tok, at));
            }
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn unexpected(&self, wanted: &str) -> ConditionError {
        let got = describe(self.toks.get(self.pos));
        match self.toks.get(self.pos) {
            Some((_, col)) => syntax(format!("expected {wanted} at column {col}, found {got}")),
            None => syntax(format!("expected {wanted}, found {got}")),
        }
    }

    fn enter(&mut self) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(syntax(format!(
                "condition nested deeper than {MAX_NESTING} levels"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(flatten(items, false))
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut items = vec![self.unary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(flatten(items, true))
    }

    fn unary(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let tok = self.peek().cloned();
        match tok {
            Some(Tok::LParen) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.unexpected("')'"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Tok::All | Tok::Any | Tok::Number(_)) => {
                let q = match tok {
                    Some(Tok::All) => Quantity::All,
                    Some(Tok::Number(0)) => {
                        return Err(syntax("'0 of' can never match".into()));
                    }
                    Some(Tok::Number(n)) => Quantity::AtLeast(n),
                    _ => Quantity::AtLeast(1),
                };
                self.pos += 1;
                if self.peek() != Some(&Tok::Of) {
                    return Err(self.unexpected("'of'"));
                }
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Tok::Them) => {
                        self.pos += 1;
                        Ok(Condition::Of(q, None))
                    }
                    Some(Tok::Ident(p)) => {
                        self.pos += 1;
                        Ok(Condition::Of(q, Some(p)))
                    }
                    _ => Err(self.unexpected("an identifier pattern or 'them'")),
                }
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                Ok(Condition::Search(name))
            }
            _ => Err(self.unexpected("a search identifier, 'not', '(' or a quantifier")),
        }
    }
}

fn flatten(mut items: Vec<Condition>, and: bool) -> Condition {
    if items.len() == 1 {
        return items.pop().unwrap_or(Condition::And(Vec::new()));
    }
    let mut out = Vec::with_capacity(items.len());
    for c in items {
        match (c, and) {
            (Condition::And(inner), true) | (Condition::Or(inner), false) => out.extend(inner),
            (c, _) => out.push(c),
        }
    }
    if and {
        Condition::And(out)
    } else {
        Condition::Or(out)
    }
}

/// Parses a condition expression.
pub fn parse(text: &str) -> Result<Condition, ConditionError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(syntax("empty condition".into()));
    }
    let mut p = P {
        toks,
        pos: 0,
        depth: 0,
    };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(p.unexpected("'and', 'or' or end of condition"));
    }
    Ok(c)
}

/// True if the identifier `name` matches the pattern (`*` matches any run; the only wildcard
/// Sigma defines for identifier patterns).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return false,
    };
    let Some(mut tail) = name.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = match rest.split_last() {
        Some(x) => x,
        None => return false,
    };
    for m in middle {
        match tail.find(m) {
            Some(i) => tail = tail.get(i + m.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: &str) -> Condition {
        Condition::Search(n.into())
    }

    #[test]
    fn precedence_not_and_or() {
        assert_eq!(
            parse("a or b and not c").expect("ok"),
            Condition::Or(vec![
                s("a"),
                Condition::And(vec![s("b"), Condition::Not(Box::new(s("c")))])
            ])
        );
        assert_eq!(
            parse("(a or b) and c").expect("ok"),
            Condition::And(vec![Condition::Or(vec![s("a"), s("b")]), s("c")])
        );
        assert_eq!(
            parse("a and b and c").expect("ok"),
            Condition::And(vec![s("a"), s("b"), s("c")])
        );
        assert_eq!(
            parse("not not a").expect("ok"),
            Condition::Not(Box::new(Condition::Not(Box::new(s("a")))))
        );
        assert_eq!(
            parse("A AND NOT B").expect("ok"),
            Condition::And(vec![s("A"), Condition::Not(Box::new(s("B")))])
        );
    }

    #[test]
    fn quantifiers() {
        assert_eq!(
            parse("1 of selection_*").expect("ok"),
            Condition::Of(Quantity::AtLeast(1), Some("selection_*".into()))
        );
        assert_eq!(
            parse("all of them").expect("ok"),
            Condition::Of(Quantity::All, None)
        );
        assert_eq!(
            parse("any of sel*").expect("ok"),
            Condition::Of(Quantity::AtLeast(1), Some("sel*".into()))
        );
        assert_eq!(
            parse("2 of them").expect("ok"),
            Condition::Of(Quantity::AtLeast(2), None)
        );
        assert_eq!(
            parse("selection and not 1 of filter_main_* and not 1 of filter_optional_*")
                .expect("ok"),
            Condition::And(vec![
                s("selection"),
                Condition::Not(Box::new(Condition::Of(
                    Quantity::AtLeast(1),
                    Some("filter_main_*".into())
                ))),
                Condition::Not(Box::new(Condition::Of(
                    Quantity::AtLeast(1),
                    Some("filter_optional_*".into())
                ))),
            ])
        );
    }

    #[test]
    fn errors() {
        for (t, code) in [
            ("", Code::ConditionSyntax),
            ("a and", Code::ConditionSyntax),
            ("(a or b", Code::ConditionSyntax),
            ("a b", Code::ConditionSyntax),
            ("1 selection", Code::ConditionSyntax),
            ("all of", Code::ConditionSyntax),
            ("0 of them", Code::ConditionSyntax),
            (")", Code::ConditionSyntax),
            ("selection | count() > 5", Code::Aggregation),
            ("a near b", Code::Aggregation),
            ("99999999999 of them", Code::ConditionSyntax),
        ] {
            let e = parse(t).expect_err(t);
            assert_eq!(e.code, code, "{t}: {}", e.message);
        }
        let e = parse("a and or b").expect_err("bad");
        assert!(e.message.contains("column 7"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
        let nots = format!("{}a", "not ".repeat(10_000));
        assert!(parse(&nots).is_err());
        let ok = format!("{}a{}", "(".repeat(20), ")".repeat(20));
        assert_eq!(parse(&ok).expect("ok"), s("a"));
    }

    #[test]
    fn identifier_patterns() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(pattern_matches("sel*", "sel"));
        assert!(pattern_matches("*_main_*", "filter_main_x"));
        assert!(pattern_matches("*", "anything"));
        assert!(pattern_matches("a*b*c", "aXbYc"));
        assert!(!pattern_matches("a*b*c", "aXbY"));
        assert!(!pattern_matches("a*a", "a"));
        assert!(!pattern_matches("filter_*", "selection"));
        assert!(pattern_matches("exact", "exact"));
        assert!(!pattern_matches("exact", "exactly"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(t in ".{0,200}") {
            let _ = parse(&t);
        }

        #[test]
        fn never_panics_tokens(t in "((not|and|or|of|all|1|them|sel_[a-c]\\*?|\\(|\\)) ){0,40}") {
            let _ = parse(&t);
        }
    }
}
