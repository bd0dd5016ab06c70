//! The typed syntax tree of a search: a filter [`Expr`] followed by [`Pipe`]s.
//!
//! The parser only builds normal forms (no single-child `And`/`Or`, globs with a wildcard,
//! `Exists` for `field:*`), and [`std::fmt::Display`] prints each node in canonical syntax that
//! parses back to the same tree; stores walk the public tree to build their own index queries.

use std::net::IpAddr;
use std::ops::Bound;

pub use crate::glob::{Glob, GlobPart};

/// A whole search: which events, then what to do with them.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// Which events (everything before the first `|`; [`Expr::All`] when empty or `*`).
    pub filter: Expr,
    /// The commands after the filter, in order.
    pub pipes: Vec<Pipe>,
}

/// A boolean expression over one event (or one row of a table, in `where`).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Matches everything (`*`, or an empty filter).
    All,
    /// All children match (two or more children).
    And(Vec<Expr>),
    /// At least one child matches (two or more children).
    Or(Vec<Expr>),
    /// The child does not match.
    Not(Box<Expr>),
    /// A test on one field, or on the full text.
    Pred(Predicate),
}

/// One test.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    /// The field tested; `None` for full text (`message` and `event.original`).
    pub field: Option<String>,
    /// What the value must satisfy.
    pub test: Test,
}

/// What a value must satisfy.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// Equal to, or matching, a pattern (`field:value`, `field:pre*`, `field:"a phrase"`).
    Eq(Pattern),
    /// Inside a range (`[a TO b]`, `{a TO b}`, `>`, `>=`, `<`, `<=`).
    Range {
        /// Lower bound.
        lo: Bound<Scalar>,
        /// Upper bound.
        hi: Bound<Scalar>,
    },
    /// An IP address inside a network (`source.ip:10.0.0.0/8`).
    Cidr(IpNet),
    /// The field is present with a non-null value (`field:*`).
    Exists,
}

/// A value to compare with, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// A literal value: the whole field value equals it, ignoring case (numerically when the
    /// field is a number). In full text: the word (or its words, in order) is a token of the text.
    Exact(String),
    /// A pattern with `*` or `?` over the whole value; in full text, over one token.
    Wildcard(Glob),
    /// A quoted phrase: its tokens appear consecutively in the value, ignoring case.
    Phrase(String),
}

/// A bound of a range.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// An integer.
    Int(i64),
    /// A finite floating-point number.
    Float(f64),
    /// A string, compared ignoring case.
    Str(String),
    /// An instant, UTC nanoseconds (written as RFC 3339).
    Time(i64),
}

/// An IPv4 or IPv6 network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// A network; `None` if the prefix is longer than the address (32 or 128 bits).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<IpNet> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    /// Parses `addr/prefix`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = s.split_once('/')?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        IpNet::new(a.parse().ok()?, p.parse().ok()?)
    }

    /// The address as written (host bits are not cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `text` (a field value) is an address in this network: how a CIDR filter tests a
    /// string, in the evaluator and in the store's index alike.
    pub fn contains_text(&self, text: &str) -> bool {
        text.trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| self.contains(ip))
    }

    /// Whether `ip` is inside the network. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`) count
    /// as their IPv4 address, as many sources log IPv4 clients that way.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A command after `|`.
#[derive(Clone, Debug, PartialEq)]
pub enum Pipe {
    /// `where <expr>`: keep the events (or table rows) that match.
    Where(Expr),
    /// `fields a, b, c*`: keep only these fields (or columns); `*` wildcards allowed.
    Fields(Vec<String>),
    /// `stats count(), dc(f) ... [by a, b]`: aggregate into a table.
    Stats(Stats),
    /// `sort -count, +field`: order rows.
    Sort(Vec<SortKey>),
    /// `head N`: the first N rows (default 10).
    Head(usize),
    /// `timechart span=1h [aggs] [by f]`: aggregate per time bucket of `@timestamp`.
    Timechart {
        /// Bucket width in nanoseconds (buckets are aligned on the Unix epoch, UTC).
        span_ns: i64,
        /// Aggregations (default `count()`) and at most one `by` field.
        stats: Stats,
    },
    /// `top [N] field`: the N most common values with count and percent.
    Top {
        /// How many values.
        n: usize,
        /// Which field.
        field: String,
    },
    /// `rare [N] field`: the N least common values with count and percent.
    Rare {
        /// How many values.
        n: usize,
        /// Which field.
        field: String,
    },
}

/// Aggregations and the fields to group by.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// One output column each.
    pub aggs: Vec<Agg>,
    /// Group-by fields (none: one row).
    pub by: Vec<String>,
}

/// One aggregation.
#[derive(Clone, Debug, PartialEq)]
pub struct Agg {
    /// The function.
    pub func: AggFunc,
    /// Its field (`None` only for `count()`).
    pub field: Option<String>,
    /// The output column name (`as name`, else e.g. `count` or `dc(user.name)`).
    pub name: String,
}

/// Aggregation functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `count()`: rows; `count(f)`: rows where `f` has a value.
    Count,
    /// `dc(f)`: distinct values.
    Dc,
    /// `min(f)`: smallest value (numbers numerically, else text).
    Min,
    /// `max(f)`: largest value.
    Max,
    /// `avg(f)`: mean of the numeric values.
    Avg,
    /// `sum(f)`: sum of the numeric values.
    Sum,
    /// `values(f)`: the distinct values, sorted (at most [`crate::Limits::max_values`]).
    Values,
}

impl AggFunc {
    /// All functions, for error messages and documentation.
    pub const ALL: [AggFunc; 7] = [
        AggFunc::Count,
        AggFunc::Dc,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::Avg,
        AggFunc::Sum,
        AggFunc::Values,
    ];

    /// The name in the language.
    pub fn as_str(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Dc => "dc",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Avg => "avg",
            AggFunc::Sum => "sum",
            AggFunc::Values => "values",
        }
    }

    /// The function of that name, ignoring case (`distinct_count` is accepted for `dc`).
    pub fn from_name(name: &str) -> Option<AggFunc> {
        let lower = name.to_ascii_lowercase();
        if lower == "distinct_count" {
            return Some(AggFunc::Dc);
        }
        AggFunc::ALL.into_iter().find(|f| f.as_str() == lower)
    }
}

impl Agg {
    /// The column name an aggregation gets without `as`: `count` for `count()`, else `func(field)`.
    pub fn default_name(func: AggFunc, field: Option<&str>) -> String {
        match field {
            None => func.as_str().to_owned(),
            Some(f) => format!("{}({f})", func.as_str()),
        }
    }
}

/// One sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// Field or column.
    pub field: String,
    /// Largest first.
    pub descending: bool,
}

/// The field holding the event time.
pub const TIMESTAMP_FIELD: &str = "@timestamp";

impl Query {
    /// The `@timestamp` interval every matching event must lie in, from range predicates that
    /// are AND-ed at the top level of the filter (and of `where` commands that directly follow
    /// it): `(earliest, latest)` in UTC nanoseconds, **both inclusive**; `None` where unbounded.
    /// A store can skip partitions outside it. An empty interval has `earliest > latest`.
    pub fn time_bounds(&self) -> (Option<i64>, Option<i64>) {
        let mut lo: Option<i64> = None;
        let mut hi: Option<i64> = None;
        let leading_wheres = self.pipes.iter().map_while(|p| match p {
            Pipe::Where(e) => Some(e),
            _ => None,
        });
        for e in std::iter::once(&self.filter).chain(leading_wheres) {
            collect_time_bounds(e, &mut lo, &mut hi);
        }
        (lo, hi)
    }
}

fn collect_time_bounds(e: &Expr, lo: &mut Option<i64>, hi: &mut Option<i64>) {
    match e {
        Expr::And(children) => {
            for c in children {
                collect_time_bounds(c, lo, hi);
            }
        }
        Expr::Pred(Predicate {
            field: Some(f),
            test: Test::Range { lo: l, hi: h },
        }) if f == TIMESTAMP_FIELD => {
            let l = match l {
                Bound::Included(Scalar::Time(t)) => Some(*t),
                Bound::Excluded(Scalar::Time(t)) => Some(t.saturating_add(1)),
                _ => None,
            };
            let h = match h {
                Bound::Included(Scalar::Time(t)) => Some(*t),
                Bound::Excluded(Scalar::Time(t)) => Some(t.saturating_sub(1)),
                _ => None,
            };
            if let Some(l) = l {
                *lo = Some(lo.map_or(l, |x| x.max(l)));
            }
            if let Some(h) = h {
                *hi = Some(hi.map_or(h, |x| x.min(h)));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipnet_contains() {
        let n = IpNet::parse("10.0.0.0/8").expect("valid");
        assert!(n.contains("10.200.3.4".parse().expect("ip")));
        assert!(!n.contains("11.0.0.1".parse().expect("ip")));
        assert!(n.contains("::ffff:10.1.2.3".parse().expect("ip")));
        assert!(!n.contains("2001:db8::1".parse().expect("ip")));
        let all = IpNet::parse("0.0.0.0/0").expect("valid");
        assert!(all.contains("255.255.255.255".parse().expect("ip")));
        let host = IpNet::parse("192.168.1.7/32").expect("valid");
        assert!(host.contains("192.168.1.7".parse().expect("ip")));
        assert!(!host.contains("192.168.1.8".parse().expect("ip")));
        let v6 = IpNet::parse("2001:db8::/32").expect("valid");
        assert!(v6.contains("2001:db8:ffff::1".parse().expect("ip")));
        assert!(!v6.contains("2001:db9::1".parse().expect("ip")));
        assert!(IpNet::parse("::/0").is_some());
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0/8",
            "10.0.0.0/+8",
            "x/8",
            "10.0.0.0",
        ] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn agg_names() {
        assert_eq!(AggFunc::from_name("DC"), Some(AggFunc::Dc));
        assert_eq!(AggFunc::from_name("distinct_count"), Some(AggFunc::Dc));
        assert_eq!(AggFunc::from_name("median"), None);
        assert_eq!(Agg::default_name(AggFunc::Count, None), "count");
        assert_eq!(
            Agg::default_name(AggFunc::Dc, Some("user.name")),
            "dc(user.name)"
        );
    }
}
