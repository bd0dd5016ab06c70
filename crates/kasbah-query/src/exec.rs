//! Running the pipes over a stream of rows.
//!
//! Events stream through `where`, `fields` and `head` one at a time; `stats`, `timechart`,
//! `top` and `rare` fold them into groups and produce a [`Table`]; `sort` followed by `head N`
//! keeps only the best N. Whatever must be held in memory is bounded by [`Limits`]: past a limit
//! execution stops with an [`ExecError`] rather than grow, and `values()` keeps its first
//! [`Limits::max_values`] values in sorted order.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write;

use serde::Serialize;
use serde_json::{Number, Value};

use crate::ast::{Agg, AggFunc, Expr, Pipe, SortKey, Stats, TIMESTAMP_FIELD};
use crate::error::ExecError;
use crate::glob::{Glob, GlobPart};
use crate::matcher::{Num, Row, ci_cmp, text_cmp, time_of, value_num};
use crate::time::{format_rfc3339, parse_rfc3339};

/// Column holding the bucket start in `timechart` output.
pub const TIME_COLUMN: &str = "_time";

/// Memory bounds of execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most groups `stats`, `timechart`, `top` and `rare` may build.
    pub max_groups: usize,
    /// Most rows held in memory for `sort` (without a following `head`) and for event output.
    pub max_rows: usize,
    /// Most values `values()` keeps per group (the smallest, in sort order).
    pub max_values: usize,
    /// Most distinct values all `dc()` aggregations together may remember.
    pub max_distinct: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_groups: 100_000,
            max_rows: 100_000,
            max_values: 100,
            max_distinct: 1_000_000,
        }
    }
}

/// What a query produces: events (no aggregation) or a table. Serialises as
/// `{"events": [...]}` or `{"table": {"columns": [...], "rows": [[...], ...]}}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// The events that passed, in input order unless sorted.
    Events(Vec<Row>),
    /// Rows of an aggregation.
    Table(Table),
}

/// A table: named columns and rows of values in column order.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    fn to_rows(&self) -> impl Iterator<Item = Row> + '_ {
        self.rows.iter().map(|r| {
            self.columns
                .iter()
                .cloned()
                .zip(r.iter().cloned())
                .collect::<Row>()
        })
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Runs `pipes` over `rows` (the events that passed the filter) with the default [`Limits`].
pub fn execute<'a>(
    pipes: &'a [Pipe],
    rows: impl Iterator<Item = Row> + 'a,
) -> Result<Output, ExecError> {
    execute_with(pipes, rows, &Limits::default())
}

enum Data<'a> {
    Events(Box<dyn Iterator<Item = Row> + 'a>),
    Table(Table),
}

/// Runs `pipes` over `rows` with explicit limits.
pub fn execute_with<'a>(
    pipes: &'a [Pipe],
    rows: impl Iterator<Item = Row> + 'a,
    limits: &Limits,
) -> Result<Output, ExecError> {
    let mut data = Data::Events(Box::new(rows));
    let mut i = 0;
    while let Some(pipe) = pipes.get(i) {
        i += 1;
        data = match (pipe, data) {
            (Pipe::Where(e), Data::Events(it)) => {
                Data::Events(Box::new(it.filter(move |r| e.matches(r))))
            }
            (Pipe::Where(e), Data::Table(t)) => Data::Table(where_table(e, t)),
            (Pipe::Fields(names), Data::Events(it)) => {
                let sel = Selector::new(names);
                Data::Events(Box::new(it.map(move |r| sel.project(r))))
            }
            (Pipe::Fields(names), Data::Table(t)) => Data::Table(Selector::new(names).table(t)),
            (Pipe::Head(n), Data::Events(it)) => Data::Events(Box::new(it.take(*n))),
            (Pipe::Head(n), Data::Table(mut t)) => {
                t.rows.truncate(*n);
                Data::Table(t)
            }
            (Pipe::Sort(keys), Data::Events(it)) => {
                // `sort | head N` keeps the best N only.
                let head = match pipes.get(i) {
                    Some(Pipe::Head(n)) if *n <= limits.max_rows => {
                        i += 1;
                        Some(*n)
                    }
                    _ => None,
                };
                Data::Events(Box::new(sort_events(keys, it, head, limits)?.into_iter()))
            }
            (Pipe::Sort(keys), Data::Table(mut t)) => {
                sort_table(keys, &mut t);
                Data::Table(t)
            }
            (Pipe::Stats(stats), data) => {
                let mut agg = Aggregator::new(stats, None, limits);
                feed(&mut agg, data)?;
                Data::Table(agg.finish())
            }
            (Pipe::Timechart { span_ns, stats }, data) => {
                let mut agg = Aggregator::new(stats, Some(*span_ns), limits);
                feed(&mut agg, data)?;
                Data::Table(agg.finish())
            }
            (Pipe::Top { n, field }, data) => Data::Table(top(field, *n, true, data, limits)?),
            (Pipe::Rare { n, field }, data) => Data::Table(top(field, *n, false, data, limits)?),
        };
    }
    match data {
        Data::Table(t) => Ok(Output::Table(t)),
        Data::Events(it) => {
            let mut out = Vec::new();
            for r in it {
                if out.len() == limits.max_rows {
                    return Err(ExecError::TooManyRows {
                        limit: limits.max_rows,
                    });
                }
                out.push(r);
            }
            Ok(Output::Events(out))
        }
    }
}

fn feed(agg: &mut Aggregator<'_>, data: Data<'_>) -> Result<(), ExecError> {
    match data {
        Data::Events(it) => {
            for r in it {
                agg.add(&r)?;
            }
        }
        Data::Table(t) => {
            for r in t.to_rows() {
                agg.add(&r)?;
            }
        }
    }
    Ok(())
}

fn where_table(e: &Expr, t: Table) -> Table {
    let keep: Vec<bool> = t.to_rows().map(|r| e.matches(&r)).collect();
    let rows = t
        .rows
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect();
    Table {
        columns: t.columns,
        rows,
    }
}

/// `fields` selectors: names, or patterns when they contain `*`.
struct Selector {
    items: Vec<Sel>,
}

enum Sel {
    Name(String),
    Pattern(Glob),
}

impl Selector {
    fn new(names: &[String]) -> Selector {
        let items = names
            .iter()
            .map(|n| {
                if !n.contains('*') {
                    return Sel::Name(n.clone());
                }
                let parts = n
                    .split('*')
                    .enumerate()
                    .flat_map(|(i, lit)| {
                        let star = (i > 0).then_some(GlobPart::Any);
                        star.into_iter().chain([GlobPart::Literal(lit.to_owned())])
                    })
                    .collect();
                Glob::new(parts).map_or_else(|_| Sel::Name(n.clone()), Sel::Pattern)
            })
            .collect();
        Selector { items }
    }

    /// Names of `available` selected, in selector order, each once.
    fn select<'n>(&self, available: impl Iterator<Item = &'n String> + Clone) -> Vec<&'n String> {
        let mut out: Vec<&String> = Vec::new();
        for s in &self.items {
            for name in available.clone() {
                let hit = match s {
                    Sel::Name(n) => n == name,
                    Sel::Pattern(g) => g.is_match(name),
                };
                if hit && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    fn project(&self, mut row: Row) -> Row {
        let names: Vec<String> = self.select(row.keys()).into_iter().cloned().collect();
        let mut out = Row::new();
        for n in names {
            if let Some(v) = row.remove(&n) {
                out.insert(n, v);
            }
        }
        out
    }

    fn table(&self, t: Table) -> Table {
        let idx: Vec<usize> = self
            .select(t.columns.iter())
            .into_iter()
            .filter_map(|n| t.index(n))
            .collect();
        Table {
            columns: idx
                .iter()
                .filter_map(|&i| t.columns.get(i).cloned())
                .collect(),
            rows: t
                .rows
                .iter()
                .map(|r| {
                    idx.iter()
                        .map(|&i| r.get(i).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect(),
        }
    }
}

/// Sort order of values: numbers (and numeric text) numerically, then RFC 3339 times as
/// instants, then other text ignoring case, then booleans, then anything else by its JSON text.
/// Missing values and nulls always come last. A total order (Rust's sort may panic otherwise):
/// each class has its own comparison, and numbers compare as `f64` with `total_cmp`.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    enum Key<'v> {
        Num(f64),
        Time(i64),
        Text(&'v str),
        Bool(bool),
        Other(String),
    }
    impl Key<'_> {
        fn rank(&self) -> u8 {
            match self {
                Key::Num(_) => 0,
                Key::Time(_) => 1,
                Key::Text(_) => 2,
                Key::Bool(_) => 3,
                Key::Other(_) => 4,
            }
        }
    }
    fn key(v: &Value) -> Key<'_> {
        match v {
            Value::Bool(b) => Key::Bool(*b),
            Value::String(s) => match (value_num(v), time_of(s)) {
                (Some(n), _) => Key::Num(n.as_f64()),
                (None, Some(t)) => Key::Time(t),
                (None, None) => Key::Text(s),
            },
            other => match value_num(other) {
                Some(n) => Key::Num(n.as_f64()),
                None => Key::Other(other.to_string()),
            },
        }
    }
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let (p, q) = (key(x), key(y));
            p.rank().cmp(&q.rank()).then_with(|| match (&p, &q) {
                (Key::Num(m), Key::Num(n)) => m.total_cmp(n),
                (Key::Time(m), Key::Time(n)) => m.cmp(n),
                (Key::Text(m), Key::Text(n)) => ci_cmp(m, n),
                (Key::Bool(m), Key::Bool(n)) => m.cmp(n),
                (Key::Other(m), Key::Other(n)) => m.cmp(n),
                _ => Ordering::Equal,
            })
        }
    }
}

/// Compares by the keys, missing values last whatever the direction.
fn compare_by(keys: &[SortKey], get: impl Fn(&str, usize) -> Option<Ordering>) -> Ordering {
    for (i, k) in keys.iter().enumerate() {
        if let Some(o) = get(&k.field, i).filter(|o| o.is_ne()) {
            return o;
        }
    }
    Ordering::Equal
}

fn key_order(k: &SortKey, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let missing = |v: Option<&Value>| v.is_none_or(Value::is_null);
    let o = compare_values(a, b);
    if k.descending && !missing(a) && !missing(b) {
        o.reverse()
    } else {
        o
    }
}

fn sort_events(
    keys: &[SortKey],
    it: Box<dyn Iterator<Item = Row> + '_>,
    head: Option<usize>,
    limits: &Limits,
) -> Result<Vec<Row>, ExecError> {
    let cmp = |a: &(Row, usize), b: &(Row, usize)| {
        compare_by(keys, |f, i| {
            keys.get(i).map(|k| key_order(k, a.0.get(f), b.0.get(f)))
        })
        .then(a.1.cmp(&b.1))
    };
    let mut buf: Vec<(Row, usize)> = Vec::new();
    for (seq, r) in it.enumerate() {
        match head {
            Some(n) => {
                buf.push((r, seq));
                // Keep the best n; sorting every n arrivals amortises to O(log n) per row.
                if buf.len() > n.saturating_mul(2).max(64) {
                    buf.sort_by(cmp);
                    buf.truncate(n);
                }
            }
            None => {
                if buf.len() == limits.max_rows {
                    return Err(ExecError::TooManyRows {
                        limit: limits.max_rows,
                    });
                }
                buf.push((r, seq));
            }
        }
    }
    buf.sort_by(cmp);
    if let Some(n) = head {
        buf.truncate(n);
    }
    Ok(buf.into_iter().map(|(r, _)| r).collect())
}

fn sort_table(keys: &[SortKey], t: &mut Table) {
    let idx: Vec<Option<usize>> = keys.iter().map(|k| t.index(&k.field)).collect();
    t.rows.sort_by(|a, b| {
        compare_by(keys, |_, i| {
            let col = idx.get(i).copied().flatten();
            let k = keys.get(i)?;
            Some(key_order(
                k,
                col.and_then(|c| a.get(c)),
                col.and_then(|c| b.get(c)),
            ))
        })
    });
}

/// Calls `f` on each non-null scalar of `v`.
fn for_each_scalar(
    v: &Value,
    f: &mut impl FnMut(&Value) -> Result<(), ExecError>,
) -> Result<(), ExecError> {
    match v {
        Value::Null => Ok(()),
        Value::Array(items) => {
            // Flat events hold arrays of scalars; deeper nesting is not looked into.
            for x in items.iter().filter(|x| !x.is_array()) {
                for_each_scalar(x, f)?;
            }
            Ok(())
        }
        x => f(x),
    }
}

static NULL: Value = Value::Null;

/// The text a value groups and counts distinct by.
fn key_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        // Distinct from the text "null".
        Value::Null => out.push('\u{0}'),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Most key combinations one event may contribute when `by` fields hold arrays.
const MAX_FANOUT: usize = 256;

/// Running state of one aggregation in one group.
enum Acc {
    Count(u64),
    Dc(HashSet<String>),
    Min(Extreme),
    Max(Extreme),
    Sum {
        int: i128,
        float: f64,
        all_int: bool,
        n: u64,
    },
    Avg {
        sum: f64,
        n: u64,
    },
    Values(BTreeSet<String>),
}

/// Smallest or largest seen: numbers win over text when there are any.
#[derive(Default)]
struct Extreme {
    num: Option<(Num, Value)>,
    text: Option<String>,
}

impl Acc {
    fn new(f: AggFunc) -> Acc {
        match f {
            AggFunc::Count => Acc::Count(0),
            AggFunc::Dc => Acc::Dc(HashSet::new()),
            AggFunc::Min => Acc::Min(Extreme::default()),
            AggFunc::Max => Acc::Max(Extreme::default()),
            AggFunc::Sum => Acc::Sum {
                int: 0,
                float: 0.0,
                all_int: true,
                n: 0,
            },
            AggFunc::Avg => Acc::Avg { sum: 0.0, n: 0 },
            AggFunc::Values => Acc::Values(BTreeSet::new()),
        }
    }

    fn result(self) -> Value {
        match self {
            Acc::Count(c) => Value::from(c),
            Acc::Dc(set) => Value::from(set.len()),
            Acc::Min(e) | Acc::Max(e) => match (e.num, e.text) {
                (Some((_, v)), _) => v,
                (None, Some(t)) => Value::String(t),
                (None, None) => Value::Null,
            },
            Acc::Sum { n: 0, .. } => Value::Null,
            Acc::Sum {
                int, all_int: true, ..
            } => i64::try_from(int).map_or(float_value(int as f64), Value::from),
            Acc::Sum { float, .. } => float_value(float),
            Acc::Avg { n: 0, .. } => Value::Null,
            Acc::Avg { sum, n } => float_value(sum / n as f64),
            Acc::Values(set) => Value::Array(set.into_iter().map(Value::String).collect()),
        }
    }
}

fn float_value(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Shared mutable budgets of one aggregation run.
struct Budget {
    distinct: usize,
    max_distinct: usize,
    max_values: usize,
}

impl Extreme {
    /// Offers `x`; keeps it when it is further in direction `want` than what is kept.
    fn offer(&mut self, x: &Value, want: Ordering) {
        match value_num(x) {
            Some(n) => {
                if !matches!(&self.num, Some((cur, _)) if n.cmp_num(*cur) != Some(want)) {
                    let v = match n {
                        Num::Int(i) => Value::from(i),
                        Num::Big(u) => Value::from(u),
                        Num::Float(f) => float_value(f),
                    };
                    self.num = Some((n, v));
                }
            }
            None => {
                if let Value::String(s) = x
                    && !matches!(&self.text, Some(cur) if text_cmp(s, cur) != want)
                {
                    self.text = Some(s.clone());
                }
            }
        }
    }
}

/// Whether `v` holds at least one non-null scalar.
fn has_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => items.iter().any(|x| !x.is_null() && !x.is_array()),
        _ => true,
    }
}

fn update(
    acc: &mut Acc,
    agg: &Agg,
    row: &Row,
    budget: &mut Budget,
    text: &mut String,
) -> Result<(), ExecError> {
    let field = agg.field.as_ref().and_then(|f| row.get(f));
    if let Acc::Count(c) = acc {
        if agg.field.is_none() || field.is_some_and(has_value) {
            *c += 1;
        }
        return Ok(());
    }
    let Some(v) = field else { return Ok(()) };
    for_each_scalar(v, &mut |x| {
        match acc {
            Acc::Count(_) => {}
            Acc::Dc(set) => {
                text.clear();
                key_text(x, text);
                if !set.contains(text.as_str()) {
                    if budget.distinct >= budget.max_distinct {
                        return Err(ExecError::TooManyDistinct {
                            limit: budget.max_distinct,
                        });
                    }
                    budget.distinct += 1;
                    set.insert(text.clone());
                }
            }
            Acc::Min(e) => e.offer(x, Ordering::Less),
            Acc::Max(e) => e.offer(x, Ordering::Greater),
            Acc::Sum {
                int,
                float,
                all_int,
                n,
            } => {
                if let Some(num) = value_num(x) {
                    *n += 1;
                    *float += num.as_f64();
                    match num {
                        Num::Int(i) => *int = int.saturating_add(i128::from(i)),
                        _ => *all_int = false,
                    }
                }
            }
            Acc::Avg { sum, n } => {
                if let Some(num) = value_num(x) {
                    *n += 1;
                    *sum += num.as_f64();
                }
            }
            Acc::Values(set) => {
                text.clear();
                key_text(x, text);
                if !set.contains(text.as_str()) {
                    set.insert(text.clone());
                    if set.len() > budget.max_values {
                        set.pop_last();
                    }
                }
            }
        }
        Ok(())
    })
}

struct Group {
    /// Bucket start (timechart only).
    time: Option<i64>,
    key: Vec<Value>,
    accs: Vec<Acc>,
}

/// Folds rows into groups keyed by the `by` values (and the time bucket for `timechart`).
struct Aggregator<'q> {
    stats: &'q Stats,
    span: Option<i64>,
    groups: Vec<Group>,
    /// Key text (values joined by U+001F) to index in `groups`.
    index: HashMap<String, usize>,
    max_groups: usize,
    budget: Budget,
    /// Rows that fell into at least one group.
    rows_grouped: u64,
    /// Rows without a value for a `by` field are left out (`top`, `rare`).
    skip_missing: bool,
    key_buf: String,
    text_buf: String,
}

impl<'q> Aggregator<'q> {
    fn new(stats: &'q Stats, span: Option<i64>, limits: &Limits) -> Aggregator<'q> {
        let mut a = Aggregator {
            stats,
            span,
            groups: Vec::new(),
            index: HashMap::new(),
            max_groups: limits.max_groups.max(1),
            budget: Budget {
                distinct: 0,
                max_distinct: limits.max_distinct,
                max_values: limits.max_values,
            },
            rows_grouped: 0,
            skip_missing: false,
            key_buf: String::new(),
            text_buf: String::new(),
        };
        // Without `by`, one row even when nothing matched (a count of 0 is an answer).
        if stats.by.is_empty() && span.is_none() {
            a.index.insert(String::new(), 0);
            a.groups.push(Group {
                time: None,
                key: Vec::new(),
                accs: stats.aggs.iter().map(|g| Acc::new(g.func)).collect(),
            });
        }
        a
    }

    fn add(&mut self, row: &Row) -> Result<(), ExecError> {
        let time = match self.span {
            None => None,
            Some(span) => {
                let Some(ts) = row
                    .get(TIMESTAMP_FIELD)
                    .and_then(Value::as_str)
                    .and_then(parse_rfc3339)
                else {
                    return Ok(());
                };
                // The parser never builds a span below 1 ms; a hand-built tree might.
                let span = span.max(1);
                Some(ts.div_euclid(span).saturating_mul(span))
            }
        };
        // The values of each `by` field (arrays give one group per element).
        // A missing value groups under null (shown, not silently dropped), except for
        // `top`/`rare`, which rank the values a field has.
        let mut choices: Vec<Vec<&Value>> = Vec::with_capacity(self.stats.by.len());
        for f in &self.stats.by {
            let vals: Vec<&Value> = match row.get(f) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .filter(|x| !x.is_null() && !x.is_array())
                    .collect(),
                Some(v) => vec![v],
            };
            if vals.is_empty() {
                if self.skip_missing {
                    return Ok(());
                }
                choices.push(vec![&NULL]);
            } else {
                choices.push(vals);
            }
        }
        self.rows_grouped += 1;
        let mut pick = vec![0usize; choices.len()];
        for _ in 0..MAX_FANOUT {
            self.key_buf.clear();
            if let Some(t) = time {
                let _ = write!(self.key_buf, "{t}\u{1f}");
            }
            for (c, &p) in choices.iter().zip(&pick) {
                if let Some(v) = c.get(p) {
                    key_text(v, &mut self.key_buf);
                }
                self.key_buf.push('\u{1f}');
            }
            let gi = match self.index.get(self.key_buf.as_str()) {
                Some(&gi) => gi,
                None => {
                    if self.groups.len() >= self.max_groups {
                        return Err(ExecError::TooManyGroups {
                            limit: self.max_groups,
                        });
                    }
                    let key = choices
                        .iter()
                        .zip(&pick)
                        .filter_map(|(c, &p)| c.get(p).map(|v| (*v).clone()))
                        .collect();
                    self.groups.push(Group {
                        time,
                        key,
                        accs: self.stats.aggs.iter().map(|g| Acc::new(g.func)).collect(),
                    });
                    self.index
                        .insert(self.key_buf.clone(), self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            if let Some(g) = self.groups.get_mut(gi) {
                for (acc, agg) in g.accs.iter_mut().zip(&self.stats.aggs) {
                    update(acc, agg, row, &mut self.budget, &mut self.text_buf)?;
                }
            }
            // Next combination (odometer); done when it wraps around.
            let mut advanced = false;
            for (p, c) in pick.iter_mut().zip(&choices).rev() {
                *p += 1;
                if *p < c.len() {
                    advanced = true;
                    break;
                }
                *p = 0;
            }
            if !advanced {
                break;
            }
        }
        Ok(())
    }

    fn sorted_groups(&mut self) -> Vec<Group> {
        let mut groups = std::mem::take(&mut self.groups);
        groups.sort_by(|a, b| {
            a.time.cmp(&b.time).then_with(|| {
                a.key
                    .iter()
                    .zip(&b.key)
                    .map(|(x, y)| compare_values(Some(x), Some(y)))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
        });
        groups
    }

    /// `timechart` without `by`: adds the empty buckets between the first and the last, so
    /// that a quiet hour shows as 0 instead of vanishing from the chart (within the group limit).
    fn fill_gaps(&self, groups: &mut Vec<Group>) {
        let (Some(span), Some(first), Some(last)) = (
            self.span.map(|s| s.max(1)),
            groups.first().and_then(|g| g.time),
            groups.last().and_then(|g| g.time),
        ) else {
            return;
        };
        let buckets = (i128::from(last) - i128::from(first)) / i128::from(span) + 1;
        if buckets <= groups.len() as i128 || buckets > self.max_groups as i128 {
            return;
        }
        let mut filled = Vec::with_capacity(usize::try_from(buckets).unwrap_or_default());
        let mut have = std::mem::take(groups).into_iter().peekable();
        let mut t = first;
        while t <= last {
            match have.next_if(|g| g.time == Some(t)) {
                Some(g) => filled.push(g),
                None => filled.push(Group {
                    time: Some(t),
                    key: Vec::new(),
                    accs: self.stats.aggs.iter().map(|a| Acc::new(a.func)).collect(),
                }),
            }
            let Some(next) = t.checked_add(span) else {
                break;
            };
            t = next;
        }
        *groups = filled;
    }

    fn finish(mut self) -> Table {
        let mut columns = Vec::new();
        if self.span.is_some() {
            columns.push(TIME_COLUMN.to_owned());
        }
        columns.extend(self.stats.by.iter().cloned());
        columns.extend(self.stats.aggs.iter().map(|a| a.name.clone()));
        let mut groups = self.sorted_groups();
        if self.stats.by.is_empty() {
            self.fill_gaps(&mut groups);
        }
        let rows = groups
            .into_iter()
            .map(|g| {
                let mut row = Vec::with_capacity(columns.len());
                if let Some(t) = g.time {
                    row.push(Value::String(format_rfc3339(t)));
                }
                row.extend(g.key);
                row.extend(g.accs.into_iter().map(Acc::result));
                row
            })
            .collect();
        Table { columns, rows }
    }
}

/// `top` (most common first) and `rare` (least common first): value, count, percent of the rows
/// that have the field.
fn top(
    field: &str,
    n: usize,
    most: bool,
    data: Data<'_>,
    limits: &Limits,
) -> Result<Table, ExecError> {
    let stats = Stats {
        aggs: vec![Agg {
            func: AggFunc::Count,
            field: None,
            name: "count".to_owned(),
        }],
        by: vec![field.to_owned()],
    };
    let mut agg = Aggregator::new(&stats, None, limits);
    agg.skip_missing = true;
    feed(&mut agg, data)?;
    let total = agg.rows_grouped;
    let mut rows: Vec<(Value, u64)> = agg
        .sorted_groups()
        .into_iter()
        .filter_map(|g| {
            let count = match g.accs.first() {
                Some(Acc::Count(c)) => *c,
                _ => 0,
            };
            g.key.into_iter().next().map(|k| (k, count))
        })
        .collect();
    // Stable: equal counts keep the value order of `sorted_groups`.
    rows.sort_by(|a, b| if most { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) });
    rows.truncate(n);
    Ok(Table {
        columns: vec![field.to_owned(), "count".to_owned(), "percent".to_owned()],
        rows: rows
            .into_iter()
            .map(|(k, c)| {
                let pct = if total == 0 {
                    0.0
                } else {
                    (c as f64 * 10_000.0 / total as f64).round() / 100.0
                };
                vec![k, Value::from(c), float_value(pct)]
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use serde_json::json;

    fn rows(vals: Vec<Value>) -> Vec<Row> {
        vals.into_iter()
            .filter_map(|v| v.as_object().cloned())
            .collect()
    }

    /// Filters `events` with the query and runs its pipes.
    fn run_with(src: &str, events: &[Row], limits: &Limits) -> Result<Output, ExecError> {
        let q = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let hits: Vec<Row> = events
            .iter()
            .filter(|r| q.filter.matches(r))
            .cloned()
            .collect();
        execute_with(&q.pipes, hits.into_iter(), limits)
    }

    fn table(src: &str, events: &[Row]) -> Table {
        match run_with(src, events, &Limits::default()) {
            Ok(Output::Table(t)) => t,
            other => panic!("{src}: expected a table, got {other:?}"),
        }
    }

    fn events(src: &str, events: &[Row]) -> Vec<Row> {
        match run_with(src, events, &Limits::default()) {
            Ok(Output::Events(e)) => e,
            other => panic!("{src}: expected events, got {other:?}"),
        }
    }

    fn auth() -> Vec<Row> {
        rows(vec![
            json!({"@timestamp": "2024-03-14T10:00:05Z", "host.name": "web01", "user.name": "root", "event.outcome": "failure", "source.ip": "203.0.113.45", "bytes": 100}),
            json!({"@timestamp": "2024-03-14T10:20:00Z", "host.name": "web01", "user.name": "admin", "event.outcome": "failure", "source.ip": "203.0.113.45", "bytes": 300}),
            json!({"@timestamp": "2024-03-14T10:40:00.5Z", "host.name": "web02", "user.name": "root", "event.outcome": "failure", "source.ip": "198.51.100.7", "bytes": "250"}),
            json!({"@timestamp": "2024-03-14T11:05:00Z", "host.name": "web01", "user.name": "deploy", "event.outcome": "success", "source.ip": "10.0.0.5", "bytes": 50.5}),
            json!({"@timestamp": "2024-03-14T12:59:59Z", "host.name": "db01", "user.name": ["root", "postgres"], "event.outcome": "success", "source.ip": "10.0.0.9"}),
            json!({"@timestamp": "not a time", "host.name": null, "event.outcome": "unknown"}),
        ])
    }

    fn col<'t>(t: &'t Table, name: &str) -> Vec<&'t Value> {
        let i = t.index(name).unwrap_or_else(|| panic!("no column {name}"));
        t.rows.iter().filter_map(|r| r.get(i)).collect()
    }

    #[test]
    fn no_pipes_returns_the_matching_events() {
        let e = events("event.outcome:failure", &auth());
        assert_eq!(e.len(), 3);
        assert_eq!(e[2]["host.name"], "web02");
    }

    #[test]
    fn where_filters_events_and_tables() {
        assert_eq!(events("| where bytes >= 250", &auth()).len(), 2);
        let t = table("| stats count() by host.name | where count > 1", &auth());
        assert_eq!(t.rows, [[json!("web01"), json!(3)]]);
        let t = table(
            "| stats count() by host.name | where host.name:web*",
            &auth(),
        );
        assert_eq!(col(&t, "host.name"), [&json!("web01"), &json!("web02")]);
    }

    #[test]
    fn fields_projects() {
        let e = events(
            "user.name:admin | fields user.name, @timestamp, missing",
            &auth(),
        );
        assert_eq!(e.len(), 1);
        // Events keep the key order of `Row` (sorted, unless serde_json's `preserve_order` is on).
        let mut keys: Vec<&String> = e[0].keys().collect();
        keys.sort();
        assert_eq!(keys, ["@timestamp", "user.name"]);
        let e = events("user.name:admin | fields *.name", &auth());
        assert_eq!(e[0].keys().collect::<Vec<_>>(), ["host.name", "user.name"]);
        let t = table(
            "| stats count(), dc(user.name) by host.name | fields dc*, host.name",
            &auth(),
        );
        assert_eq!(t.columns, ["dc(user.name)", "host.name"]);
        assert_eq!(t.rows[0], [json!(2), json!("db01")]);
    }

    #[test]
    fn stats_aggregations() {
        let t = table(
            "| stats count(), count(bytes), dc(user.name) as users, min(bytes), max(bytes), avg(bytes), sum(bytes), values(user.name)",
            &auth(),
        );
        assert_eq!(
            t.columns,
            [
                "count",
                "count(bytes)",
                "users",
                "min(bytes)",
                "max(bytes)",
                "avg(bytes)",
                "sum(bytes)",
                "values(user.name)"
            ]
        );
        // Numeric strings count as numbers; arrays contribute each element.
        assert_eq!(
            t.rows,
            [[
                json!(6),
                json!(4),
                json!(4),
                json!(50.5),
                json!(300),
                json!(175.125),
                json!(700.5),
                json!(["admin", "deploy", "postgres", "root"])
            ]]
        );
    }

    #[test]
    fn stats_by_groups_sorted_with_missing_values_last() {
        let t = table("| stats count() by host.name", &auth());
        assert_eq!(t.columns, ["host.name", "count"]);
        assert_eq!(
            t.rows,
            [
                [json!("db01"), json!(1)],
                [json!("web01"), json!(3)],
                [json!("web02"), json!(1)],
                [Value::Null, json!(1)]
            ]
        );
        // "null" the text is not a missing value.
        let r = rows(vec![json!({"k": "null"}), json!({"k": null}), json!({})]);
        let t = table("| stats count() by k", &r);
        assert_eq!(t.rows, [[json!("null"), json!(1)], [Value::Null, json!(2)]]);
        // An array `by` value counts the event once per element.
        let t = table(
            "user.name:* | stats count() by user.name, event.outcome",
            &auth(),
        );
        assert_eq!(
            t.rows,
            [
                [json!("admin"), json!("failure"), json!(1)],
                [json!("deploy"), json!("success"), json!(1)],
                [json!("postgres"), json!("success"), json!(1)],
                [json!("root"), json!("failure"), json!(2)],
                [json!("root"), json!("success"), json!(1)],
            ]
        );
    }

    #[test]
    fn stats_on_nothing_gives_one_row_without_by_and_none_with_by() {
        let t = table(
            "nosuchthing | stats count(), avg(bytes), values(x)",
            &auth(),
        );
        assert_eq!(t.rows, [[json!(0), Value::Null, json!([])]]);
        let t = table("nosuchthing | stats count() by host.name", &auth());
        assert!(t.rows.is_empty());
    }

    #[test]
    fn min_max_of_text_and_sum_of_integers() {
        let r = rows(vec![
            json!({"s": "beta", "n": 9_000_000_000_000_000_000i64}),
            json!({"s": "Alpha", "n": 9_000_000_000_000_000_000i64}),
        ]);
        let t = table("| stats min(s), max(s), sum(n)", &r);
        let times = rows(vec![
            json!({"@timestamp": "2024-03-14T10:00:00.5Z"}),
            json!({"@timestamp": "2024-03-14T10:00:00Z"}),
        ]);
        let m = table("| stats min(@timestamp), max(@timestamp)", &times);
        assert_eq!(
            m.rows,
            [[
                json!("2024-03-14T10:00:00Z"),
                json!("2024-03-14T10:00:00.5Z")
            ]]
        );
        // The sum overflows i64 and falls back to a float rather than wrapping.
        assert_eq!(t.rows, [[json!("Alpha"), json!("beta"), json!(1.8e19)]]);
    }

    #[test]
    fn sort_and_head() {
        let e = events("| sort -bytes | head 2", &auth());
        assert_eq!(
            e.iter().map(|r| r["bytes"].clone()).collect::<Vec<_>>(),
            [json!(300), json!("250")]
        );
        // Missing values last in both directions; ties keep input order.
        let e = events("| sort bytes", &auth());
        let hosts: Vec<&Value> = e
            .iter()
            .map(|r| r.get("host.name").unwrap_or(&Value::Null))
            .collect();
        assert_eq!(
            hosts,
            [
                &json!("web01"),
                &json!("web01"),
                &json!("web02"),
                &json!("web01"),
                &json!("db01"),
                &Value::Null
            ]
        );
        let t = table(
            "| stats count() by host.name | sort -count, host.name",
            &auth(),
        );
        assert_eq!(
            col(&t, "host.name"),
            [
                &json!("web01"),
                &json!("db01"),
                &json!("web02"),
                &Value::Null
            ]
        );
        let t = table(
            "| stats count() by host.name | sort host.name desc | head 1",
            &auth(),
        );
        assert_eq!(t.rows, [[json!("web02"), json!(1)]]);
        assert_eq!(events("| head", &auth()).len(), 6);
        assert_eq!(events("| head 0", &auth()).len(), 0);
    }

    #[test]
    fn sort_head_keeps_only_the_best_n_of_a_long_stream() {
        let many: Vec<Row> = (0..10_000)
            .map(|i| rows(vec![json!({"n": (i * 7919) % 10_000})]).remove(0))
            .collect();
        let limits = Limits {
            max_rows: 100,
            ..Limits::default()
        };
        let q = parse("| sort -n | head 3").expect("parses");
        let Ok(Output::Events(e)) = execute_with(&q.pipes, many.clone().into_iter(), &limits)
        else {
            panic!("events")
        };
        assert_eq!(
            e.iter().map(|r| r["n"].clone()).collect::<Vec<_>>(),
            [json!(9999), json!(9998), json!(9997)]
        );
        // Without head the rows to sort are bounded.
        let q = parse("| sort -n").expect("parses");
        assert_eq!(
            execute_with(&q.pipes, many.into_iter(), &limits),
            Err(ExecError::TooManyRows { limit: 100 })
        );
    }

    #[test]
    fn timechart_buckets_on_timestamp() {
        let t = table("| timechart span=1h count(), sum(bytes)", &auth());
        assert_eq!(t.columns, ["_time", "count", "sum(bytes)"]);
        assert_eq!(
            t.rows,
            [
                [json!("2024-03-14T10:00:00Z"), json!(3), json!(650)],
                [json!("2024-03-14T11:00:00Z"), json!(1), json!(50.5)],
                [json!("2024-03-14T12:00:00Z"), json!(1), Value::Null],
            ]
        );
        // Quiet buckets between the first and the last show as 0 (without `by`).
        let t = table("| timechart span=20m count()", &auth());
        assert_eq!(
            t.rows.iter().map(|r| r[1].clone()).collect::<Vec<_>>(),
            [
                json!(1),
                json!(1),
                json!(1),
                json!(1),
                json!(0),
                json!(0),
                json!(0),
                json!(0),
                json!(1)
            ]
        );
        assert_eq!(t.rows[4][0], json!("2024-03-14T11:20:00Z"));
        // Not beyond the group limit: then only the buckets with events.
        let few = Limits {
            max_groups: 6,
            ..Limits::default()
        };
        let Ok(Output::Table(t)) = run_with("| timechart span=20m count()", &auth(), &few) else {
            panic!("table")
        };
        assert_eq!(t.rows.len(), 5);
        let t = table(
            "event.outcome:failure | timechart span=30m count() by host.name",
            &auth(),
        );
        assert_eq!(t.columns, ["_time", "host.name", "count"]);
        assert_eq!(
            t.rows,
            [
                [json!("2024-03-14T10:00:00Z"), json!("web01"), json!(2)],
                [json!("2024-03-14T10:30:00Z"), json!("web02"), json!(1)],
            ]
        );
    }

    #[test]
    fn timechart_survives_a_hand_built_zero_span() {
        let pipes = [Pipe::Timechart {
            span_ns: 0,
            stats: Stats {
                aggs: vec![Agg {
                    func: AggFunc::Count,
                    field: None,
                    name: "count".into(),
                }],
                by: vec![],
            },
        }];
        let Ok(Output::Table(t)) = execute(&pipes, auth().into_iter()) else {
            panic!("table")
        };
        assert_eq!(t.rows.len(), 5, "one bucket per distinct nanosecond");
    }

    #[test]
    fn top_and_rare() {
        let t = table("| top user.name", &auth());
        assert_eq!(t.columns, ["user.name", "count", "percent"]);
        // 5 events have a user; root appears in 3 of them.
        assert_eq!(t.rows[0], [json!("root"), json!(3), json!(60.0)]);
        assert_eq!(t.rows.len(), 4);
        let t = table("| top 1 host.name", &auth());
        assert_eq!(t.rows, [[json!("web01"), json!(3), json!(60.0)]]);
        let t = table("| rare 2 host.name", &auth());
        assert_eq!(
            t.rows,
            [
                [json!("db01"), json!(1), json!(20.0)],
                [json!("web02"), json!(1), json!(20.0)]
            ]
        );
    }

    #[test]
    fn limits_stop_execution_instead_of_growing() {
        let many: Vec<Row> = (0..1000)
            .map(|i| rows(vec![json!({"k": i, "u": format!("u{i}")})]).remove(0))
            .collect();
        let small = Limits {
            max_groups: 10,
            max_rows: 10,
            max_values: 3,
            max_distinct: 50,
        };
        assert_eq!(
            run_with("| stats count() by k", &many, &small),
            Err(ExecError::TooManyGroups { limit: 10 })
        );
        assert_eq!(
            run_with("| top k", &many, &small),
            Err(ExecError::TooManyGroups { limit: 10 })
        );
        assert_eq!(
            run_with("| stats dc(u)", &many, &small),
            Err(ExecError::TooManyDistinct { limit: 50 })
        );
        assert_eq!(
            run_with("*", &many, &small),
            Err(ExecError::TooManyRows { limit: 10 })
        );
        // values() keeps the smallest few, whatever the order of arrival.
        let Ok(Output::Table(t)) = run_with("| stats values(u)", &many, &small) else {
            panic!("table")
        };
        assert_eq!(t.rows, [[json!(["u0", "u1", "u10"])]]);
        // Within limits all is well.
        assert!(run_with("| head 10", &many, &small).is_ok());
    }

    #[test]
    fn output_serialises_for_the_api() {
        let t = table("| stats count() by host.name | head 1", &auth());
        assert_eq!(
            serde_json::to_value(Output::Table(t)).ok(),
            Some(json!({"table": {"columns": ["host.name", "count"], "rows": [["db01", 1]]}}))
        );
        let e = events("user.name:admin | fields user.name", &auth());
        assert_eq!(
            serde_json::to_value(Output::Events(e)).ok(),
            Some(json!({"events": [{"user.name": "admin"}]}))
        );
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e20f64..1e20).prop_map(Value::from),
            "[0-9]{1,20}(\\.[0-9]{1,3})?".prop_map(Value::from),
            "2024-03-1[0-9]T10:00:0[0-9](\\.[0-9]{1,3})?(Z|\\+01:00)".prop_map(Value::from),
            "[a-zA-Z0-9 ]{0,6}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            Just(json!([1, "a"])),
        ]
    }

    proptest::proptest! {
        /// Sorting must see a total order, or Rust's sort may panic.
        #[test]
        fn compare_values_is_a_total_order(a in any_value(), b in any_value(), c in any_value()) {
            let cmp = |x: &Value, y: &Value| compare_values(Some(x), Some(y));
            proptest::prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
            if cmp(&a, &b).is_le() && cmp(&b, &c).is_le() {
                proptest::prop_assert!(cmp(&a, &c).is_le(), "{} <= {} <= {}", a, b, c);
            }
        }

        #[test]
        fn sorting_any_values_never_panics(mut v in proptest::collection::vec(any_value(), 0..50)) {
            v.sort_by(|x, y| compare_values(Some(x), Some(y)));
            proptest::prop_assert!(v.windows(2).all(|w| compare_values(w.first(), w.get(1)).is_le()));
        }
    }

    #[test]
    fn compare_values_orders_numbers_text_and_missing() {
        let mut v = vec![
            json!("b"),
            Value::Null,
            json!(10),
            json!("9"),
            json!("A"),
            json!(true),
            json!(2.5),
        ];
        v.sort_by(|a, b| compare_values(Some(a), Some(b)));
        assert_eq!(
            v,
            [
                json!(2.5),
                json!("9"),
                json!(10),
                json!("A"),
                json!("b"),
                json!(true),
                Value::Null
            ]
        );
        assert_eq!(compare_values(None, Some(&json!(1))), Ordering::Greater);
        // Times sort as instants whatever their fractional digits or offsets.
        let mut t = vec![
            json!("2024-03-14T10:00:00.5Z"),
            json!("2024-03-14T10:00:00Z"),
            json!("2024-03-14T11:00:00+02:00"),
        ];
        t.sort_by(|a, b| compare_values(Some(a), Some(b)));
        assert_eq!(
            t,
            [
                json!("2024-03-14T11:00:00+02:00"),
                json!("2024-03-14T10:00:00Z"),
                json!("2024-03-14T10:00:00.5Z")
            ]
        );
    }
}
