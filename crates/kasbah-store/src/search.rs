//! Search execution: a parsed query runs over a tenant's partitions and pending batches.
//!
//! The filter is translated into an index query that selects a *superset* of the matching events
//! (`pushdown`). When the translation is exact (terms, full-text words and phrases, boolean logic
//! over them, time ranges) the index answers alone: counts and the newest-first page come from the index
//! and only the page's documents are read. Otherwise every candidate is read and the query's own
//! evaluator decides, so results never depend on what the index can express. Pipes (`stats`,
//! `sort`, ...) run over the matching events through `kasbah_query::execute`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use kasbah_event::TenantId;
use kasbah_query::{Expr, Output, Pattern, Query, Row, Test};
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, Occur, PhraseQuery, Query as TQuery, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{IndexRecordOption, Value as _};
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use crate::error::{Result, StoreError};
use crate::indexer::{PartView, TenantView};
use crate::schema::{self, Fields, MAX_KEYWORD_BYTES, MAX_WORD_BYTES, NOT_KEYWORD_INDEXED};

/// Which tenants a search may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantScope {
    /// One tenant (every ordinary user and token).
    One(TenantId),
    /// Some tenants (global administrators only; the caller checks).
    Many(Vec<TenantId>),
    /// Every tenant (global administrators only; the caller checks).
    All,
}

/// A search.
#[derive(Clone, Debug)]
pub struct SearchRequest<'a> {
    /// The parsed query.
    pub query: &'a Query,
    /// Earliest event time, UTC ns, inclusive.
    pub from: Option<i64>,
    /// Latest event time, UTC ns, inclusive.
    pub to: Option<i64>,
    /// Events to return (without pipes).
    pub limit: usize,
    /// Events to skip (paging, without pipes).
    pub offset: usize,
}

/// What a search found.
pub struct SearchResult {
    /// Events matching the filter (before pipes).
    pub total: u64,
    /// The page of events, newest first, or the table the pipes produced.
    pub output: Output,
    /// Partitions read.
    pub partitions: usize,
    /// Whether the index answered the filter alone (false: candidates were verified one by one).
    pub exact: bool,
    /// Documents read and verified in memory.
    pub verified: u64,
}

/// A translated filter: the index query and whether it is exact.
struct Pushed {
    /// Selects a superset of the matching events.
    query: Box<dyn TQuery>,
    /// The superset is the exact set.
    exact: bool,
}

fn all() -> Pushed {
    Pushed {
        query: Box::new(AllQuery),
        exact: true,
    }
}

/// A searched value in every form the index may hold it as, parsed once however many field
/// paths it is looked up in: the lower-cased keyword; for numbers every numeric type a JSON
/// number is indexed as (the query evaluator compares numerically, so `3389` must also find
/// `3389.0`); booleans; and the instant of an RFC 3339 time, which tantivy indexes as a date.
struct Needle {
    lower: String,
    float: Option<f64>,
    int: Option<i64>,
    uint: Option<u64>,
    boolean: Option<bool>,
    date: Option<tantivy::DateTime>,
    /// The value, if it is an IPv4 address.
    ipv4: Option<String>,
}

impl Needle {
    fn new(value: &str) -> Needle {
        let v = value.trim();
        let float = v.parse::<f64>().ok().filter(|f| f.is_finite());
        let int = v.parse::<i64>().ok();
        Needle {
            lower: value.to_lowercase(),
            float,
            int,
            uint: if int.is_none() {
                v.parse::<u64>().ok()
            } else {
                None
            },
            boolean: v.to_ascii_lowercase().parse::<bool>().ok(),
            date: schema::as_date(value),
            ipv4: v
                .parse::<std::net::Ipv4Addr>()
                .is_ok()
                .then(|| v.to_string()),
        }
    }

    /// Whether [`Needle::terms`] select exactly the events whose value the evaluator finds
    /// equal. A date term also holds other spellings of the instant (`+00:00` for `Z`), which
    /// the evaluator, comparing text, does not match: those candidates are checked.
    fn exact(&self) -> bool {
        self.date.is_none()
    }

    /// Events whose event time (`ts`) is this value's instant: where `@timestamp` is found when
    /// it has no terms of its own (`schema::unindex_timestamp`). Only for dates, whose lookup
    /// is checked anyway ([`Needle::exact`]).
    fn instant(&self, fields: &Fields) -> Option<Box<dyn TQuery>> {
        let ns = self.date?.into_timestamp_nanos();
        let at = Bound::Included(Term::from_field_i64(fields.ts, ns));
        Some(Box::new(RangeQuery::new(at.clone(), at)))
    }

    /// Events whose `path` holds this value: its terms in `f`, and for a field a partition keeps
    /// in a column only (a numeric measure, an IPv4 address: `schema::unindex_column_only`) the
    /// equal range of its column. The flag says whether the selection is exact
    /// ([`Needle::exact`], and a number beyond 2^53 may meet a float column, where neighbours
    /// round alike).
    fn lookup(&self, fields: &Fields, path: &str) -> (Box<dyn TQuery>, bool) {
        let terms = any_of(self.terms(fields, path));
        match self.column(fields, path) {
            Some((range, exact)) => (
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, terms),
                    (Occur::Should, range),
                ])),
                exact && self.exact(),
            ),
            None => (terms, self.exact()),
        }
    }

    /// The equal range of `path`'s column when the partition keeps that field in a column only
    /// and this value is of the kind kept there, and whether it is exact.
    fn column(&self, fields: &Fields, path: &str) -> Option<(Box<dyn TQuery>, bool)> {
        let cols = fields.cols.filter(|c| c.set.column_only())?;
        let mut t = Term::from_field_json_path(cols.field, path, true);
        let exact = if schema::MEASURES.binary_search(&path).is_ok() {
            let f = self.float?;
            // tantivy converts the bound to each segment's column type (i64, u64 or f64).
            match self.int {
                Some(i) => t.append_type_and_fast_value(i),
                None => t.append_type_and_fast_value(f),
            }
            f.abs() <= 9_007_199_254_740_992.0
        } else if schema::ADDRESSES.binary_search(&path).is_ok() {
            // Only IPv4 addresses lose their terms; their text has no case to fold.
            t.append_type_and_str(self.ipv4.as_deref()?);
            true
        } else {
            return None;
        };
        let at = Bound::Included(t);
        Some((Box::new(RangeQuery::new(at.clone(), at)), exact))
    }

    /// The terms of `path` in the keyword field `f` holding this value.
    fn terms(&self, fields: &Fields, path: &str) -> Vec<Term> {
        let term = || Term::from_field_json_path(fields.f, path, true);
        let mut out = Vec::new();
        let mut t = term();
        t.append_type_and_str(&self.lower);
        out.push(t);
        if let Some(f) = self.float {
            let mut t = term();
            t.append_type_and_fast_value(f);
            out.push(t);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                let mut t = term();
                t.append_type_and_fast_value(f as i64);
                out.push(t);
            }
        }
        if let Some(i) = self.int {
            let mut t = term();
            t.append_type_and_fast_value(i);
            out.push(t);
        } else if let Some(u) = self.uint {
            let mut t = term();
            t.append_type_and_fast_value(u);
            out.push(t);
        }
        if let Some(b) = self.boolean {
            let mut t = term();
            t.append_type_and_fast_value(b);
            out.push(t);
        }
        if let Some(d) = self.date {
            let mut t = term();
            t.append_type_and_fast_value(d);
            out.push(t);
        }
        out
    }
}

/// What a filter is translated against: one partition's fields and searcher, and its field
/// paths, enumerated at most once however many bare words the filter has.
struct Scope<'a> {
    fields: &'a Fields,
    searcher: &'a Searcher,
    paths: std::cell::OnceCell<Option<Vec<String>>>,
}

impl<'a> Scope<'a> {
    fn new(fields: &'a Fields, searcher: &'a Searcher) -> Self {
        Scope {
            fields,
            searcher,
            paths: std::cell::OnceCell::new(),
        }
    }

    /// The partition's field paths (`None`: more than [`MAX_PATHS`]).
    fn paths(&self) -> Option<&[String]> {
        self.paths
            .get_or_init(|| field_paths(self.fields, self.searcher))
            .as_deref()
    }
}

/// The ECS fields that `field` was linked to in some event of the partition (the values of
/// `s1.<field>` in its segments' term dictionaries; a handful per vendor field).
fn same_as(fields: &Fields, searcher: &Searcher, field: &str) -> Vec<String> {
    let Some(same) = fields.same else {
        return Vec::new();
    };
    if field.contains('.') {
        return Vec::new(); // only names without dots are linked
    }
    let mut out: Vec<String> = Vec::new();
    let _ = str_values(searcher, same, field, |value| {
        if let Ok(name) = std::str::from_utf8(value)
            && !out.iter().any(|o| o == name)
        {
            out.push(name.to_string());
        }
        Some(())
    });
    out
}

/// Calls `f` with each string value of `path` in the term dictionaries of the JSON field `field`,
/// once per segment holding it. `None` when `f` stops it or a dictionary cannot be read.
fn str_values(
    searcher: &Searcher,
    field: tantivy::schema::Field,
    path: &str,
    mut f: impl FnMut(&[u8]) -> Option<()>,
) -> Option<()> {
    // Term dictionary keys of a JSON field: path (dots as byte 1), byte 0, type byte, value.
    let mut prefix = path.replace('.', "\u{1}").into_bytes();
    prefix.extend_from_slice(&[0, b's']);
    let mut end = prefix.clone();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    for seg in searcher.segment_readers() {
        let inv = seg.inverted_index(field).ok()?;
        let mut stream = inv
            .terms()
            .range()
            .ge(&prefix)
            .lt(&end)
            .into_stream()
            .ok()?;
        while stream.advance() {
            f(stream.key().get(prefix.len()..)?)?;
        }
    }
    Some(())
}

/// A filter on field `f` given as `own` (its own terms or column): events where `f` had the value
/// of an ECS field carry that field's terms only (`schema::link_same_values`), so it also selects,
/// for each ECS field `f` was linked to in the partition, the linked events where `target(ecs)`
/// holds. Exact if every part is; `None` if a target cannot be translated.
fn with_links(
    scope: &Scope<'_>,
    f: &str,
    own: (Box<dyn TQuery>, bool),
    mut target: impl FnMut(&str) -> Option<(Box<dyn TQuery>, bool)>,
) -> Option<Pushed> {
    let (own, mut exact) = own;
    let linked = same_as(scope.fields, scope.searcher, f);
    let Some(same) = scope.fields.same.filter(|_| !linked.is_empty()) else {
        return Some(Pushed { query: own, exact });
    };
    let mut qs: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Should, own)];
    for ecs in linked {
        let mut t = Term::from_field_json_path(same, f, false);
        t.append_type_and_str(&ecs);
        let link: Box<dyn TQuery> = Box::new(TermQuery::new(t, IndexRecordOption::Basic));
        let (value, e) = target(&ecs)?;
        exact &= e;
        let both = BooleanQuery::new(vec![(Occur::Must, link), (Occur::Must, value)]);
        qs.push((Occur::Should, Box::new(both)));
    }
    Some(Pushed {
        query: Box::new(BooleanQuery::new(qs)),
        exact,
    })
}

/// Most distinct field paths a partition may have for a bare word to be looked up in every
/// field; beyond it (keys made of data) the search reads every event instead.
const MAX_PATHS: usize = 4096;

/// Documents where some field (keyword-indexed, or linked to one that is) has the whole value
/// `value`, as `field:value` finds them, and whether that is exact ([`Needle::exact`]). `None`
/// when no index query can select them: a value too long for a keyword, an IPv6 address
/// (spellings differ), or too many field paths.
fn any_field_query(scope: &Scope<'_>, value: &str) -> Option<(Box<dyn TQuery>, bool)> {
    if value.len() > MAX_KEYWORD_BYTES
        || (value.contains(':') && value.parse::<std::net::IpAddr>().is_ok())
    {
        return None;
    }
    let needle = Needle::new(value);
    // Linked vendor fields (`s1`) hold no terms; their value is an ECS field's, found there.
    let terms = scope
        .paths()?
        .iter()
        .flat_map(|p| needle.terms(scope.fields, p))
        .collect();
    let mut qs: Vec<(Occur, Box<dyn TQuery>)> = vec![(Occur::Should, any_of(terms))];
    let mut exact = needle.exact();
    // Times without terms are in `ts`, numeric measures without terms in their columns.
    if let Some(at) = needle.instant(scope.fields) {
        qs.push((Occur::Should, at));
    }
    for m in schema::MEASURES.iter().chain(schema::ADDRESSES) {
        if let Some((range, e)) = needle.column(scope.fields, m) {
            qs.push((Occur::Should, range));
            exact &= e;
        }
    }
    let query = if qs.len() == 1 {
        qs.remove(0).1
    } else {
        Box::new(BooleanQuery::new(qs))
    };
    Some((query, exact))
}

/// The distinct field paths of `f` in the partition's segments, by seeking from one path to the
/// next in each term dictionary (a term is `path`, end-of-path byte 0, type byte, value).
fn field_paths(fields: &Fields, searcher: &Searcher) -> Option<Vec<String>> {
    let mut out: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for seg in searcher.segment_readers() {
        let Ok(inv) = seg.inverted_index(fields.f) else {
            continue;
        };
        let mut from: Vec<u8> = Vec::new();
        while let Ok(mut stream) = inv.terms().range().ge(&from).into_stream() {
            if !stream.advance() {
                break;
            }
            let key = stream.key();
            let Some(end) = key.iter().position(|&c| c == 0) else {
                break;
            };
            // Path segments are separated by byte 1 (dots of expanded names).
            let path: String = String::from_utf8_lossy(&key[..end]).replace('\u{1}', ".");
            out.insert(path);
            if out.len() > MAX_PATHS {
                return None;
            }
            from.clear();
            from.extend_from_slice(&key[..end]);
            from.push(1);
        }
    }
    Some(out.into_iter().collect())
}

fn cidr_query(column: String, net: kasbah_query::IpNet) -> Box<dyn TQuery> {
    Box::new(crate::cidr::CidrQuery { column, net })
}

/// Most keyword terms a CIDR filter collects from a field without a column before the partition
/// is checked event by event instead.
const MAX_CIDR_TERMS: usize = 65_536;

/// The keyword terms of `path` (string values) that are addresses in `net`, as one query: each
/// distinct value is tested once, as the evaluator tests a value (terms hold the whole value,
/// lower-cased, which changes no address). `None` beyond [`MAX_CIDR_TERMS`].
fn cidr_terms(scope: &Scope<'_>, path: &str, net: &kasbah_query::IpNet) -> Option<Box<dyn TQuery>> {
    let f = scope.fields.f;
    let mut terms = Vec::new();
    str_values(scope.searcher, f, path, |value| {
        if crate::cidr::in_net(value, net) {
            let mut t = Term::from_field_json_path(f, path, true);
            t.append_type_and_str(std::str::from_utf8(value).ok()?);
            terms.push(t);
            if terms.len() > MAX_CIDR_TERMS {
                return None;
            }
        }
        Some(())
    })?;
    terms.sort();
    terms.dedup();
    Some(Box::new(TermSetQuery::new(terms)))
}

fn any_of(terms: Vec<Term>) -> Box<dyn TQuery> {
    let mut qs: Vec<(Occur, Box<dyn TQuery>)> = terms
        .into_iter()
        .map(|t| {
            (
                Occur::Should,
                Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn TQuery>,
            )
        })
        .collect();
    if qs.len() == 1
        && let Some((_, q)) = qs.pop()
    {
        return q;
    }
    Box::new(BooleanQuery::new(qs))
}

fn words_query(fields: &Fields, text: &str) -> Option<Box<dyn TQuery>> {
    let words: Vec<String> = schema::words(text).collect();
    if words.is_empty() || words.iter().any(|w| w.len() > MAX_WORD_BYTES) {
        return None;
    }
    let terms: Vec<Term> = words
        .iter()
        .map(|w| Term::from_field_text(fields.text, w))
        .collect();
    Some(if terms.len() == 1 {
        Box::new(TermQuery::new(
            terms.into_iter().next()?,
            IndexRecordOption::Basic,
        ))
    } else {
        Box::new(PhraseQuery::new(terms))
    })
}

fn ts_range(fields: &Fields, from: Option<i64>, to: Option<i64>) -> Option<Box<dyn TQuery>> {
    if from.is_none() && to.is_none() {
        return None;
    }
    let lo = from.map_or(Bound::Unbounded, |f| {
        Bound::Included(Term::from_field_i64(fields.ts, f))
    });
    let hi = to.map_or(Bound::Unbounded, |t| {
        Bound::Included(Term::from_field_i64(fields.ts, t))
    });
    Some(Box::new(RangeQuery::new(lo, hi)))
}

fn scalar_ns(b: &Bound<kasbah_query::Scalar>) -> Option<Bound<i64>> {
    use kasbah_query::Scalar;
    Some(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(Scalar::Time(t)) => Bound::Included(*t),
        Bound::Excluded(Scalar::Time(t)) => Bound::Excluded(*t),
        _ => return None,
    })
}

/// Translates a filter into an index query selecting a superset of its matches.
/// `None`: the index cannot narrow it (every event is a candidate).
fn pushdown(scope: &Scope<'_>, e: &Expr) -> Option<Pushed> {
    let fields = scope.fields;
    match e {
        Expr::All => Some(all()),
        Expr::And(v) => {
            let mut exact = true;
            let mut qs = Vec::new();
            for c in v {
                match pushdown(scope, c) {
                    Some(p) => {
                        exact &= p.exact;
                        qs.push((Occur::Must, p.query));
                    }
                    None => exact = false,
                }
            }
            if qs.is_empty() {
                return None;
            }
            Some(Pushed {
                query: Box::new(BooleanQuery::new(qs)),
                exact,
            })
        }
        Expr::Or(v) => {
            let mut exact = true;
            let mut qs = Vec::new();
            for c in v {
                let p = pushdown(scope, c)?;
                exact &= p.exact;
                qs.push((Occur::Should, p.query));
            }
            Some(Pushed {
                query: Box::new(BooleanQuery::new(qs)),
                exact,
            })
        }
        Expr::Not(inner) => {
            let p = pushdown(scope, inner)?;
            if !p.exact {
                return None;
            }
            let q = BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, p.query),
            ]);
            Some(Pushed {
                query: Box::new(q),
                exact: true,
            })
        }
        Expr::Pred(p) => match (&p.field, &p.test) {
            // Full text, or the whole value of any field (`kasbah_query`'s semantics): the
            // words query, or a term of every field path of the partition. Exact: the index cuts
            // words as the evaluator does (runs of letters and digits), `message` and
            // `event.original` are its only values, and a phrase never spans two of them
            // (tantivy leaves a position gap between values).
            (None, Test::Eq(Pattern::Exact(w) | Pattern::Phrase(w))) => {
                let text = words_query(fields, w)?;
                let (any, exact) = any_field_query(scope, w)?;
                Some(Pushed {
                    query: Box::new(BooleanQuery::new(vec![
                        (Occur::Should, text),
                        (Occur::Should, any),
                    ])),
                    exact,
                })
            }
            // A quoted value on a field matches words inside the value: the keyword index (whole
            // values) cannot answer it, so it is verified by scanning.
            // `message:...` and `event.original:...`: only their words are indexed; a value or
            // phrase of the field implies its words in order, so the phrase query is a superset.
            (Some(f), Test::Eq(Pattern::Exact(v) | Pattern::Phrase(v)))
                if NOT_KEYWORD_INDEXED.contains(&f.as_str()) =>
            {
                Some(Pushed {
                    query: words_query(fields, v)?,
                    exact: false,
                })
            }
            (Some(f), Test::Eq(Pattern::Exact(v))) => {
                // IPv6 addresses compare by value in memory (`2001:db8::1` = `2001:0db8::1`),
                // which no single keyword term can find.
                if v.len() > MAX_KEYWORD_BYTES
                    || (v.contains(':') && v.parse::<std::net::IpAddr>().is_ok())
                {
                    return None;
                }
                let needle = Needle::new(v);
                let (mut own, exact) = needle.lookup(fields, f);
                if f == "@timestamp"
                    && let Some(at) = needle.instant(fields)
                {
                    own = Box::new(BooleanQuery::new(vec![
                        (Occur::Should, own),
                        (Occur::Should, at),
                    ]));
                }
                with_links(scope, f, (own, exact), |ecs| {
                    Some(needle.lookup(fields, ecs))
                })
            }
            // From the field's column, where the partition has one (every value of the field
            // is there, IPv4 addresses without terms included); otherwise from its keyword
            // terms and, for a vendor field, the fields it is linked to.
            (Some(f), Test::Cidr(net)) => {
                let cidr = |path: &str| match fields.column(path) {
                    Some(column) => Some((cidr_query(column, *net), true)),
                    None => Some((cidr_terms(scope, path, net)?, true)),
                };
                match fields.column(f) {
                    Some(column) => Some(Pushed {
                        query: cidr_query(column, *net),
                        exact: true,
                    }),
                    None => with_links(scope, f, cidr(f)?, cidr),
                }
            }
            (Some(f), Test::Range { lo, hi }) if f == "@timestamp" => {
                let lo = match scalar_ns(lo)? {
                    Bound::Included(x) => Bound::Included(Term::from_field_i64(fields.ts, x)),
                    Bound::Excluded(x) => Bound::Excluded(Term::from_field_i64(fields.ts, x)),
                    Bound::Unbounded => Bound::Unbounded,
                };
                let hi = match scalar_ns(hi)? {
                    Bound::Included(x) => Bound::Included(Term::from_field_i64(fields.ts, x)),
                    Bound::Excluded(x) => Bound::Excluded(Term::from_field_i64(fields.ts, x)),
                    Bound::Unbounded => Bound::Unbounded,
                };
                Some(Pushed {
                    query: Box::new(RangeQuery::new(lo, hi)),
                    exact: true,
                })
            }
            _ => None,
        },
    }
}

/// Reads the stored event of a document.
fn stored(part: &PartView, addr: DocAddress) -> Result<Option<Row>> {
    let doc: TantivyDocument = part.searcher.doc(addr)?;
    Ok(doc
        .get_first(part.fields.doc)
        .and_then(|v| v.as_bytes())
        .and_then(|b| crate::shape::decode(&part.shapes, b)))
}

struct Plan {
    from: Option<i64>,
    to: Option<i64>,
}

impl Plan {
    fn in_range(&self, ts: i64) -> bool {
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts <= t)
    }
}

fn partition_query(part: &PartView, filter: &Expr, plan: &Plan) -> (Box<dyn TQuery>, bool) {
    let pushed = pushdown(&Scope::new(&part.fields, &part.searcher), filter);
    let exact = pushed.as_ref().is_some_and(|p| p.exact);
    let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    if let Some(p) = pushed {
        clauses.push((Occur::Must, p.query));
    }
    if let Some(r) = ts_range(&part.fields, plan.from, plan.to) {
        clauses.push((Occur::Must, r));
    }
    let q: Box<dyn TQuery> = match clauses.len() {
        0 => Box::new(AllQuery),
        _ => Box::new(BooleanQuery::new(clauses)),
    };
    (q, exact)
}

/// Visits every event of the views matching the filter and time range: `f(ts, row)`.
/// Returns the number of documents verified in memory.
fn for_each_match(
    views: &[Arc<TenantView>],
    filter: &Expr,
    plan: &Plan,
    partitions: &mut usize,
    mut f: impl FnMut(i64, Row) -> bool,
) -> Result<u64> {
    let mut verified = 0u64;
    for view in views {
        for part in view
            .partitions
            .iter()
            .filter(|p| p.meta.overlaps(plan.from, plan.to))
        {
            *partitions += 1;
            let (q, exact) = partition_query(part, filter, plan);
            let mut docs: Vec<DocAddress> = part
                .searcher
                .search(&q, &DocSetCollector)?
                .into_iter()
                .collect();
            docs.sort();
            let mut current: Option<(
                u32,
                tantivy::store::StoreReader,
                Option<tantivy::columnar::Column<i64>>,
            )> = None;
            for addr in docs {
                if current.as_ref().is_none_or(|c| c.0 != addr.segment_ord) {
                    let seg = part.searcher.segment_reader(addr.segment_ord);
                    let store = seg
                        // Documents are read in address order: one block at a time is enough.
                        .get_store_reader(crate::partition::DOCSTORE_CACHE_BLOCKS)
                        .map_err(|e| StoreError::Index(e.into()))?;
                    let ts = seg.fast_fields().i64("ts").ok();
                    current = Some((addr.segment_ord, store, ts));
                }
                let Some((_, store, ts_col)) = current.as_ref() else {
                    continue;
                };
                let ts = ts_col
                    .as_ref()
                    .and_then(|c| c.first(addr.doc_id))
                    .unwrap_or(0);
                let doc: TantivyDocument = store.get(addr.doc_id)?;
                let Some(row) = doc
                    .get_first(part.fields.doc)
                    .and_then(|v| v.as_bytes())
                    .and_then(|b| crate::shape::decode(&part.shapes, b))
                else {
                    continue;
                };
                if !exact {
                    verified += 1;
                    if !filter.matches(&row) {
                        continue;
                    }
                }
                if !f(ts, row) {
                    return Ok(verified);
                }
            }
        }
        let pending: Vec<_> = view.pending.read().map(|p| p.clone()).unwrap_or_default();
        for (_, batch) in pending {
            for ev in &batch.events {
                if !plan.in_range(ev.ts) {
                    continue;
                }
                let Some(row) = crate::shape::plain(&ev.doc) else {
                    continue;
                };
                verified += 1;
                if filter.matches(&row) && !f(ev.ts, row) {
                    return Ok(verified);
                }
            }
        }
    }
    Ok(verified)
}

/// Visits every event of the views matching `filter` in `[from, to)`, in no particular order,
/// until `f` returns false. Returns the number of events visited.
pub fn scan(
    views: &[Arc<TenantView>],
    filter: &Expr,
    from: Option<i64>,
    to: Option<i64>,
    mut f: impl FnMut(i64, Row) -> bool,
) -> Result<u64> {
    let plan = Plan { from, to };
    let mut n = 0usize;
    let mut seen = 0u64;
    for_each_match(views, filter, &plan, &mut n, |ts, row| {
        seen += 1;
        f(ts, row)
    })?;
    Ok(seen)
}

/// Runs a search over the given tenant views.
pub fn search(views: &[Arc<TenantView>], req: &SearchRequest<'_>) -> Result<SearchResult> {
    let (qf, qt) = req.query.time_bounds();
    let from = match (req.from, qf) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let to = match (req.to, qt) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let plan = Plan { from, to };
    let filter = &req.query.filter;
    let mut partitions = 0usize;

    if let Some(fast) = stats_by_columns(views, filter, &plan, &req.query.pipes, &mut partitions)? {
        return Ok(fast);
    }
    if !req.query.pipes.is_empty() {
        // Stream the matching events into the pipes: `... | head 10` reads ten events, not the
        // whole store. A producer thread walks the partitions; the pipes pull through a bounded
        // channel, and once they stop pulling the producer only counts (for `total`).
        let (tx, rx) = std::sync::mpsc::sync_channel::<Row>(1024);
        let (output, (total, verified)) = std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let mut total = 0u64;
                let mut open = true;
                let mut n = 0usize;
                let verified = for_each_match(views, filter, &plan, &mut n, |_, row| {
                    total += 1;
                    if open && tx.send(row).is_err() {
                        open = false;
                    }
                    true
                });
                (verified, total, n)
            });
            let output = kasbah_query::execute(&req.query.pipes, rx.into_iter());
            let (verified, total, n) = match producer.join() {
                Ok(x) => x,
                Err(_) => (
                    Err(StoreError::Query("search worker panicked".into())),
                    0,
                    0,
                ),
            };
            partitions += n;
            (output, (total, verified))
        });
        let verified = verified?;
        let output = output.map_err(|e| StoreError::Query(e.to_string()))?;
        return Ok(SearchResult {
            total,
            output,
            partitions,
            exact: false,
            verified,
        });
    }

    let want = req.offset.saturating_add(req.limit);
    // Newest-first page: (ts, tiebreak, row) in a min-heap of size `want`.
    let mut heap: BinaryHeap<Reverse<(i64, u64, RowOrd)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Reverse<(i64, u64, RowOrd)>>, ts: i64, row: Row| {
        seq += 1;
        if want == 0 {
            return;
        }
        if heap.len() < want {
            heap.push(Reverse((ts, seq, RowOrd(row))));
        } else if heap.peek().is_some_and(|Reverse((min, _, _))| ts > *min) {
            heap.pop();
            heap.push(Reverse((ts, seq, RowOrd(row))));
        }
    };
    let mut total = 0u64;
    let mut verified = 0u64;
    let mut all_exact = true;
    for view in views {
        for part in view
            .partitions
            .iter()
            .filter(|p| p.meta.overlaps(plan.from, plan.to))
        {
            partitions += 1;
            let (q, exact) = partition_query(part, filter, &plan);
            if exact {
                let top =
                    TopDocs::with_limit(want.max(1)).order_by_fast_field::<i64>("ts", Order::Desc);
                let (count, hits) = part.searcher.search(&q, &(Count, top))?;
                total += count as u64;
                for (ts, addr) in hits.into_iter().take(want) {
                    if let Some(row) = stored(part, addr)? {
                        push(&mut heap, ts.unwrap_or(0), row);
                    }
                }
            } else {
                all_exact = false;
                let single = [Arc::new(TenantView {
                    partitions: vec![part.clone()],
                    pending: Default::default(),
                })];
                let mut n = 0usize;
                verified += for_each_match(&single, filter, &plan, &mut n, |ts, row| {
                    total += 1;
                    push(&mut heap, ts, row);
                    true
                })?;
            }
        }
        let pending_only = [Arc::new(TenantView {
            partitions: Vec::new(),
            pending: view.pending.clone(),
        })];
        let mut n = 0usize;
        verified += for_each_match(&pending_only, filter, &plan, &mut n, |ts, row| {
            total += 1;
            push(&mut heap, ts, row);
            true
        })?;
    }
    let mut page: Vec<(i64, u64, Row)> = heap
        .into_iter()
        .map(|Reverse((ts, s, r))| (ts, s, r.0))
        .collect();
    page.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let events = page
        .into_iter()
        .skip(req.offset)
        .take(req.limit)
        .map(|(_, _, r)| r)
        .collect();
    Ok(SearchResult {
        total,
        output: Output::Events(events),
        partitions,
        exact: all_exact,
        verified,
    })
}

/// Placeholder bucket key for events without the grouped field (they group under null).
const MISSING: &str = "\u{1}kasbah-missing";

fn key_json(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if s == MISSING => serde_json::Value::Null,
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => serde_json::Value::from(f as i64),
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

/// Walks nested terms-aggregation buckets, adding `doc_count` per key path.
fn walk_buckets(
    node: &serde_json::Value,
    depth: usize,
    levels: usize,
    key: &mut Vec<serde_json::Value>,
    out: &mut HashMap<Vec<serde_json::Value>, u64>,
) {
    let Some(buckets) = node.get("buckets").and_then(|b| b.as_array()) else {
        return;
    };
    for b in buckets {
        key.push(
            b.get("key")
                .map(key_json)
                .unwrap_or(serde_json::Value::Null),
        );
        if depth + 1 == levels {
            *out.entry(key.clone()).or_default() +=
                b.get("doc_count").and_then(|c| c.as_u64()).unwrap_or(0);
        } else if let Some(child) = b.get("g") {
            walk_buckets(child, depth + 1, levels, key, out);
        }
        key.pop();
    }
}

/// `FILTER | stats count() by a[, b] | ...` answered from the columnar fast fields, without
/// reading documents: the common dashboard query over millions of events. `None` when the query
/// does not have that shape, the filter is not exact in every partition, or a partition has no
/// column for a grouped field (`Fields::column`; the general path then answers).
fn stats_by_columns(
    views: &[Arc<TenantView>],
    filter: &Expr,
    plan: &Plan,
    pipes: &[kasbah_query::Pipe],
    partitions: &mut usize,
) -> Result<Option<SearchResult>> {
    use kasbah_query::{AggFunc, Pipe};
    use tantivy::aggregation::agg_req::Aggregations;
    use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
    let Some(Pipe::Stats(st)) = pipes.first() else {
        return Ok(None);
    };
    if st.by.is_empty()
        || st.by.len() > 2
        || st.aggs.is_empty()
        || !st
            .aggs
            .iter()
            .all(|a| a.func == AggFunc::Count && a.field.is_none())
    {
        return Ok(None);
    }
    if st
        .by
        .iter()
        .any(|f| f.starts_with('@') || NOT_KEYWORD_INDEXED.contains(&f.as_str()))
    {
        return Ok(None);
    }
    let parts: Vec<&PartView> = views
        .iter()
        .flat_map(|v| v.partitions.iter())
        .filter(|p| p.meta.overlaps(plan.from, plan.to))
        .collect();
    let mut plans = Vec::with_capacity(parts.len());
    for p in &parts {
        let (q, exact) = partition_query(p, filter, plan);
        if !exact {
            return Ok(None);
        }
        // Which columns a partition has depends on its schema (schema.rs): a field without one
        // in any partition sends the whole query to the general path.
        let Some(columns) = st
            .by
            .iter()
            .map(|f| p.fields.column(f))
            .collect::<Option<Vec<String>>>()
        else {
            return Ok(None);
        };
        // Nested terms aggregations, innermost last.
        let mut agg = serde_json::Value::Null;
        for column in columns.iter().rev() {
            let mut terms =
                serde_json::json!({"terms": {"field": column, "size": 65_000, "missing": MISSING}});
            if !agg.is_null() {
                terms["aggs"] = serde_json::json!({ "g": agg });
            }
            agg = terms;
        }
        let aggs: Aggregations = serde_json::from_value(serde_json::json!({ "g": agg }))
            .map_err(|e| StoreError::Query(format!("aggregation: {e}")))?;
        plans.push((q, aggs));
    }
    let mut counts: HashMap<Vec<serde_json::Value>, u64> = HashMap::new();
    let mut total = 0u64;
    for (p, (q, aggs)) in parts.iter().zip(plans) {
        *partitions += 1;
        let ctx = AggContextParams::new(
            AggregationLimitsGuard::new(Some(1 << 30), Some(200_000)),
            Default::default(),
        );
        let collector = AggregationCollector::from_aggs(aggs, ctx);
        let (n, res) = match p.searcher.search(q.as_ref(), &(Count, collector)) {
            Ok(x) => x,
            // Too many groups or a column of mixed types: the general path decides.
            Err(_) => return Ok(None),
        };
        total += n as u64;
        let json = serde_json::to_value(&res).map_err(|e| StoreError::Query(e.to_string()))?;
        if let Some(root) = json.get("g") {
            walk_buckets(root, 0, st.by.len(), &mut Vec::new(), &mut counts);
        }
    }
    // Pending (uncommitted) events, in memory.
    let mut verified = 0u64;
    for v in views {
        let pending = [Arc::new(TenantView {
            partitions: Vec::new(),
            pending: v.pending.clone(),
        })];
        let mut n = 0usize;
        verified += for_each_match(&pending, filter, plan, &mut n, |_, row| {
            total += 1;
            let key = st
                .by
                .iter()
                .map(|f| row.get(f).cloned().unwrap_or(serde_json::Value::Null))
                .collect();
            *counts.entry(key).or_default() += 1;
            true
        })?;
    }
    let columns: Vec<String> = st
        .by
        .iter()
        .cloned()
        .chain(st.aggs.iter().map(|a| a.name.clone()))
        .collect();
    // Sorted by the `by` values like the general path (a hash map has no order).
    let mut counts: Vec<(Vec<serde_json::Value>, u64)> = counts.into_iter().collect();
    counts.sort_by(|(a, _), (b, _)| {
        a.iter()
            .zip(b)
            .map(|(x, y)| kasbah_query::compare_values(Some(x), Some(y)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let rows = counts.into_iter().map(|(key, n)| {
        let mut row = Row::new();
        for (f, k) in st.by.iter().zip(key) {
            row.insert(f.clone(), k);
        }
        for a in &st.aggs {
            row.insert(a.name.clone(), serde_json::Value::from(n));
        }
        row
    });
    let output = kasbah_query::execute(pipes.get(1..).unwrap_or_default(), rows)
        .map_err(|e| StoreError::Query(e.to_string()))?;
    let output = match output {
        Output::Events(rows) => Output::Table(kasbah_query::Table {
            rows: rows
                .iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or(serde_json::Value::Null))
                        .collect()
                })
                .collect(),
            columns,
        }),
        table => table,
    };
    Ok(Some(SearchResult {
        total,
        output,
        partitions: *partitions,
        exact: true,
        verified,
    }))
}

/// A row that sorts as equal to every other (the heap orders by time and arrival only).
struct RowOrd(Row);

impl PartialEq for RowOrd {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for RowOrd {}
impl PartialOrd for RowOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for RowOrd {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}
