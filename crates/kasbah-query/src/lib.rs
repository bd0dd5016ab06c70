//! Placeholder of the search-language API, replaced by the `query` branch.
#![allow(missing_docs)]
use std::ops::Bound;

pub type Row = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

#[derive(Clone, Debug)]
pub struct Query {
    pub filter: Expr,
    pub pipes: Vec<Pipe>,
}
impl Query {
    pub fn time_bounds(&self) -> (Option<i64>, Option<i64>) {
        (None, None)
    }
}
#[derive(Clone, Debug)]
pub enum Expr {
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Pred(Predicate),
}
#[derive(Clone, Debug)]
pub struct Predicate {
    pub field: Option<String>,
    pub test: Test,
}
#[derive(Clone, Debug)]
pub enum Test {
    Eq(Pattern),
    Range { lo: Bound<Scalar>, hi: Bound<Scalar> },
    Exists,
}
#[derive(Clone, Debug)]
pub enum Pattern {
    Exact(String),
    Phrase(String),
}
#[derive(Clone, Debug)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Str(String),
    Time(i64),
}
#[derive(Clone, Debug)]
pub enum Pipe {
    Head(usize),
}
pub enum Output {
    Events(Vec<Row>),
    Table(Table),
}
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}
pub fn parse(src: &str) -> Result<Query, QueryError> {
    let s = src.trim();
    let filter = if s.is_empty() || s == "*" {
        Expr::All
    } else if let Some((f, v)) = s.split_once(':') {
        Expr::Pred(Predicate { field: Some(f.to_string()), test: Test::Eq(Pattern::Exact(v.to_string())) })
    } else {
        Expr::Pred(Predicate { field: None, test: Test::Eq(Pattern::Exact(s.to_string())) })
    };
    Ok(Query { filter, pipes: vec![] })
}
impl Expr {
    pub fn matches(&self, row: &Row) -> bool {
        match self {
            Expr::All => true,
            Expr::And(v) => v.iter().all(|e| e.matches(row)),
            Expr::Or(v) => v.iter().any(|e| e.matches(row)),
            Expr::Not(e) => !e.matches(row),
            Expr::Pred(p) => match (&p.field, &p.test) {
                (Some(f), Test::Eq(Pattern::Exact(v))) => row.get(f).is_some_and(|x| match x {
                    serde_json::Value::String(s) => s.eq_ignore_ascii_case(v),
                    o => o.to_string() == *v,
                }),
                (None, Test::Eq(Pattern::Exact(v))) => row.get("message").and_then(|m| m.as_str()).is_some_and(|m| m.to_lowercase().split(|c: char| !c.is_alphanumeric()).any(|t| t == v.to_lowercase())),
                _ => false,
            },
        }
    }
}
pub fn execute(pipes: &[Pipe], rows: impl Iterator<Item = Row>) -> Result<Output, ExecError> {
    let mut v: Vec<Row> = rows.collect();
    for p in pipes {
        let Pipe::Head(n) = p;
        v.truncate(*n);
    }
    Ok(Output::Events(v))
}
