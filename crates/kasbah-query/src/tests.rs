//! Parser tests: every syntax form (the tree it builds and its canonical text), the errors with
//! their columns, and property tests (no panic on any input; canonical text round-trips).

use std::ops::Bound;

use proptest::prelude::*;

use crate::ast::*;
use crate::error::ErrorCode;
use crate::parse;

fn q(src: &str) -> Query {
    parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

fn filter(src: &str) -> Expr {
    q(src).filter
}

fn p(field: &str, test: Test) -> Expr {
    Expr::Pred(Predicate {
        field: Some(field.into()),
        test,
    })
}

fn text(test: Test) -> Expr {
    Expr::Pred(Predicate { field: None, test })
}

fn exact(s: &str) -> Test {
    Test::Eq(Pattern::Exact(s.into()))
}

fn phrase(s: &str) -> Test {
    Test::Eq(Pattern::Phrase(s.into()))
}

fn glob(parts: Vec<GlobPart>) -> Test {
    Test::Eq(Pattern::Wildcard(Glob::new(parts).expect("glob")))
}

fn lit(s: &str) -> GlobPart {
    GlobPart::Literal(s.into())
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn range(lo: Bound<Scalar>, hi: Bound<Scalar>) -> Test {
    Test::Range { lo, hi }
}

/// Parses, checks the canonical text, and checks that the canonical text parses to the same tree.
fn canon(src: &str, expected: &str) {
    let query = q(src);
    let shown = query.to_string();
    assert_eq!(shown, expected, "canonical form of {src:?}");
    assert_eq!(q(&shown), query, "{shown:?} reparses to the same tree");
}

fn fails(src: &str, code: ErrorCode, column: usize, msg: &str) {
    match parse(src) {
        Ok(query) => panic!("{src:?} parsed as {query:?}"),
        Err(e) => {
            assert_eq!((e.code, e.column), (code, column), "{src:?}: {e}");
            assert!(
                e.message.contains(msg),
                "{src:?}: {e} should mention {msg:?}"
            );
        }
    }
}

#[test]
fn the_issue_example() {
    let query = q(
        "process.name:powershell.exe AND NOT user.name:SYSTEM | stats count() by host.name | sort -count | head 10",
    );
    assert_eq!(
        query.filter,
        Expr::And(vec![
            p("process.name", exact("powershell.exe")),
            not(p("user.name", exact("SYSTEM"))),
        ])
    );
    assert_eq!(
        query.pipes,
        vec![
            Pipe::Stats(Stats {
                aggs: vec![Agg {
                    func: AggFunc::Count,
                    field: None,
                    name: "count".into()
                }],
                by: vec!["host.name".into()],
            }),
            Pipe::Sort(vec![SortKey {
                field: "count".into(),
                descending: true
            }]),
            Pipe::Head(10),
        ]
    );
    canon(
        "process.name:powershell.exe AND NOT user.name:SYSTEM | stats count() by host.name | sort -count | head 10",
        "process.name:powershell.exe AND NOT user.name:SYSTEM | stats count() by host.name | sort -count | head 10",
    );
}

#[test]
fn field_values() {
    assert_eq!(filter("user.name:root"), p("user.name", exact("root")));
    assert_eq!(filter("user.name: root"), p("user.name", exact("root")));
    assert_eq!(filter("@timestamp:2024"), p("@timestamp", exact("2024")));
    // Values may hold ':' (IPv6, Windows paths, times) and other punctuation.
    assert_eq!(
        filter("source.ip:fe80::1"),
        p("source.ip", exact("fe80::1"))
    );
    assert_eq!(
        filter(r"file.path:C:\Windows\System32\cmd.exe"),
        p("file.path", exact(r"C:\Windows\System32\cmd.exe"))
    );
    assert_eq!(
        filter("url.query:a=1,b<2"),
        p("url.query", exact("a=1,b<2"))
    );
    // Escapes.
    assert_eq!(filter(r"a:x\ y"), p("a", exact("x y")));
    assert_eq!(filter(r"a:\(x\)"), p("a", exact("(x)")));
    assert_eq!(filter(r"a:C:\\Temp"), p("a", exact(r"C:\Temp")));
    assert_eq!(filter(r"a:\*"), p("a", exact("*")));
    assert_eq!(filter(r"a:end\"), p("a", exact(r"end\")));
    // Field names with the characters ECS and original logs use.
    assert_eq!(
        filter("id.orig_h:1.2.3.4"),
        p("id.orig_h", exact("1.2.3.4"))
    );
    assert_eq!(
        filter("EventData.Image:x"),
        p("EventData.Image", exact("x"))
    );
    assert_eq!(filter(r"weird\ key:x"), p("weird key", exact("x")));
    // `=` and `==` are `:`; `!=` negates.
    assert_eq!(filter("user=root"), p("user", exact("root")));
    assert_eq!(filter("user == root"), p("user", exact("root")));
    assert_eq!(filter("user!=root"), not(p("user", exact("root"))));
    assert_eq!(
        filter("user != ro*"),
        not(p("user", glob(vec![lit("ro"), GlobPart::Any])))
    );
    canon(r"a:x\ y", r"a:x\ y");
    canon("user=root", "user:root");
    canon(
        r"file.path:C:\Windows\cmd.exe",
        r"file.path:C:\Windows\cmd.exe",
    );
    canon(r"a:C:\\Temp", r"a:C:\Temp");
    canon(r"a:x\\", r"a:x\\");
    canon(r"a:x\\\*", r"a:x\\\*");
    canon(r"a:C:\\*", r"a:C:\\*");
    canon("a:-5", "a:-5");
    canon(r"a:\[x", r"a:\[x");
    canon("a:x:y=z,w", "a:x:y=z,w");
    canon(r"x\:y", r"x\:y");
}

#[test]
fn wildcards() {
    assert_eq!(
        filter("process.name:power*.exe"),
        p(
            "process.name",
            glob(vec![lit("power"), GlobPart::Any, lit(".exe")])
        )
    );
    assert_eq!(filter("a:?b"), p("a", glob(vec![GlobPart::One, lit("b")])));
    assert_eq!(filter(r"a:b\*"), p("a", exact("b*")));
    assert_eq!(filter(r"a:b\?"), p("a", exact("b?")));
    assert_eq!(
        filter(r"file.path:C:\Windows\\*"),
        p("file.path", glob(vec![lit(r"C:\Windows\"), GlobPart::Any]))
    );
    assert_eq!(
        filter("pass*"),
        text(glob(vec![lit("pass"), GlobPart::Any]))
    );
    // `*` alone: exists on a field, everything in full text; `**` is the same.
    assert_eq!(filter("a:*"), p("a", Test::Exists));
    assert_eq!(filter("a:**"), p("a", Test::Exists));
    assert_eq!(filter("*"), Expr::All);
    assert_eq!(filter(""), Expr::All);
    assert_eq!(filter("   "), Expr::All);
    canon("a:x**y?", "a:x*y?");
    canon(r"a:\*x*", r"a:\*x*");
    canon("a:*", "a:*");
    canon("*", "*");
}

#[test]
fn phrases_and_full_text() {
    assert_eq!(
        filter(r#""failed password""#),
        text(phrase("failed password"))
    );
    assert_eq!(
        filter(r#"message:"failed password""#),
        p("message", phrase("failed password"))
    );
    assert_eq!(
        filter(r#"a:"x \"y\" \\ \z""#),
        p("a", phrase(r#"x "y" \ \z"#))
    );
    // Wildcards inside quotes are literal.
    assert_eq!(filter(r#""a*""#), text(phrase("a*")));
    // Quotes without any token are exact values ("" is the empty value).
    assert_eq!(filter(r#"a:"""#), p("a", exact("")));
    assert_eq!(filter(r#"a:"-""#), p("a", exact("-")));
    assert_eq!(filter("failed"), text(exact("failed")));
    assert_eq!(filter("10.0.0.1"), text(exact("10.0.0.1")));
    assert_eq!(
        filter("failed password"),
        Expr::And(vec![text(exact("failed")), text(exact("password"))])
    );
    canon(r#""a \"b\"""#, r#""a \"b\"""#);
    canon(r#"a:"""#, r#"a:"""#);
    canon(r#"a:"-""#, "a:-");
}

#[test]
fn ranges_and_comparisons() {
    let i = |n| Bound::Included(Scalar::Int(n));
    let x = |n| Bound::Excluded(Scalar::Int(n));
    assert_eq!(
        filter("bytes:[100 TO 500]"),
        p("bytes", range(i(100), i(500)))
    );
    assert_eq!(
        filter("bytes:{100 TO 500}"),
        p("bytes", range(x(100), x(500)))
    );
    assert_eq!(
        filter("bytes:[100 to 500}"),
        p("bytes", range(i(100), x(500)))
    );
    assert_eq!(
        filter("bytes:[ 100  TO  * ]"),
        p("bytes", range(i(100), Bound::Unbounded))
    );
    assert_eq!(
        filter("bytes:[* TO *]"),
        p("bytes", range(Bound::Unbounded, Bound::Unbounded))
    );
    assert_eq!(
        filter("bytes>=100"),
        p("bytes", range(i(100), Bound::Unbounded))
    );
    assert_eq!(
        filter("bytes > 100"),
        p("bytes", range(x(100), Bound::Unbounded))
    );
    assert_eq!(
        filter("bytes<-1"),
        p("bytes", range(Bound::Unbounded, x(-1)))
    );
    assert_eq!(
        filter("bytes:<=7"),
        p("bytes", range(Bound::Unbounded, i(7)))
    );
    assert_eq!(
        filter("ratio>0.5"),
        p(
            "ratio",
            range(Bound::Excluded(Scalar::Float(0.5)), Bound::Unbounded)
        )
    );
    assert_eq!(
        filter(r#"name:["a" TO m]"#),
        p(
            "name",
            range(
                Bound::Included(Scalar::Str("a".into())),
                Bound::Included(Scalar::Str("m".into()))
            )
        )
    );
    assert_eq!(
        filter("@timestamp>=2024-03-14T10:00:00Z"),
        p(
            "@timestamp",
            range(
                Bound::Included(Scalar::Time(1_710_410_400_000_000_000)),
                Bound::Unbounded
            )
        )
    );
    assert_eq!(
        filter("@timestamp:[2024-03-14 TO 2024-03-15}"),
        p(
            "@timestamp",
            range(
                Bound::Included(Scalar::Time(1_710_374_400_000_000_000)),
                Bound::Excluded(Scalar::Time(1_710_460_800_000_000_000))
            )
        )
    );
    assert_eq!(
        filter(r#"@timestamp>="2024-03-14T10:00:00Z""#),
        filter("@timestamp>=2024-03-14T10:00:00Z")
    );
    assert_eq!(
        filter(r#"event.created>="2024-03-14""#),
        p(
            "event.created",
            range(
                Bound::Included(Scalar::Str("2024-03-14".into())),
                Bound::Unbounded
            )
        )
    );
    canon("bytes:[100 TO 500]", "bytes:[100 TO 500]");
    canon("bytes:{100 TO 500]", "bytes:{100 TO 500]");
    canon("bytes:[* TO 5}", "bytes<5");
    canon("bytes:[* TO *]", "bytes:[* TO *]");
    canon("bytes >= 1e3", "bytes>=1000.0");
    canon(
        "@timestamp>=2024-03-14T12:00:00.5+02:00",
        "@timestamp>=2024-03-14T10:00:00.5Z",
    );
    canon(r#"v>"10""#, r#"v>"10""#);
}

#[test]
fn cidr() {
    let net = |s| Test::Cidr(IpNet::parse(s).expect("net"));
    assert_eq!(
        filter("source.ip:10.0.0.0/8"),
        p("source.ip", net("10.0.0.0/8"))
    );
    assert_eq!(
        filter("source.ip:2001:db8::/32"),
        p("source.ip", net("2001:db8::/32"))
    );
    assert_eq!(filter("source.ip:::/0"), p("source.ip", net("::/0")));
    // Escaping the slash, or quoting, makes it text.
    assert_eq!(filter(r"a:10.0.0.0\/8"), p("a", exact("10.0.0.0/8")));
    assert_eq!(filter("path:/usr/bin/sh"), p("path", exact("/usr/bin/sh")));
    canon("source.ip:10.0.0.0/8", "source.ip:10.0.0.0/8");
    canon("source.ip:2001:db8::/32", "source.ip:2001:db8::/32");
    canon(r"a:10.0.0.0\/8", r"a:10.0.0.0\/8");
}

#[test]
fn boolean_logic() {
    let a = || p("a", exact("1"));
    let b = || p("b", exact("2"));
    let c = || p("c", exact("3"));
    assert_eq!(filter("a:1 b:2"), Expr::And(vec![a(), b()]));
    assert_eq!(filter("a:1 and b:2"), Expr::And(vec![a(), b()]));
    assert_eq!(
        filter("a:1 OR b:2 c:3"),
        Expr::Or(vec![a(), Expr::And(vec![b(), c()])])
    );
    assert_eq!(filter("a:1 or b:2 or c:3"), Expr::Or(vec![a(), b(), c()]));
    assert_eq!(
        filter("(a:1 OR b:2) c:3"),
        Expr::And(vec![Expr::Or(vec![a(), b()]), c()])
    );
    assert_eq!(filter("NOT a:1"), not(a()));
    assert_eq!(filter("not not a:1"), not(not(a())));
    assert_eq!(filter("-a:1"), not(a()));
    assert_eq!(filter("-(a:1 b:2)"), not(Expr::And(vec![a(), b()])));
    assert_eq!(
        filter("a:(1 OR 5)"),
        Expr::Or(vec![a(), p("a", exact("5"))])
    );
    assert_eq!(
        filter("a:(1 -5 \"x y\")"),
        Expr::And(vec![a(), not(p("a", exact("5"))), p("a", phrase("x y"))])
    );
    // Keywords need a boundary: these are words.
    assert_eq!(filter("ORACLE"), text(exact("ORACLE")));
    assert_eq!(filter("android"), text(exact("android")));
    assert_eq!(filter("not:x"), p("not", exact("x")));
    // A `-` inside a word or after a space is not negation.
    assert_eq!(filter("a-b"), text(exact("a-b")));
    // Parenthesised groups keep their structure.
    assert_eq!(
        filter("(a:1 b:2) c:3"),
        Expr::And(vec![Expr::And(vec![a(), b()]), c()])
    );
    canon("(a:1 b:2) c:3", "(a:1 AND b:2) AND c:3");
    canon("a:1 OR (b:2 OR c:3)", "a:1 OR (b:2 OR c:3)");
    canon("-(a:1 b:2) OR NOT c:3", "NOT (a:1 AND b:2) OR NOT c:3");
    canon("a:(1 OR 5)", "a:1 OR a:5");
    canon(
        "user=root -host.name:(a OR b) | stats count as n",
        "user:root AND NOT (host.name:a OR host.name:b) | stats count() as n",
    );
}

#[test]
fn pipes() {
    let pipes = |s: &str| q(s).pipes;
    assert_eq!(
        pipes("| where count > 5"),
        vec![Pipe::Where(p(
            "count",
            range(Bound::Excluded(Scalar::Int(5)), Bound::Unbounded)
        ))]
    );
    assert_eq!(
        pipes("* | fields a, b c*"),
        vec![Pipe::Fields(vec!["a".into(), "b".into(), "c*".into()])]
    );
    assert_eq!(pipes("| TABLE a"), vec![Pipe::Fields(vec!["a".into()])]);
    assert_eq!(pipes("|head"), vec![Pipe::Head(10)]);
    assert_eq!(
        pipes("| head 3 | limit 0"),
        vec![Pipe::Head(3), Pipe::Head(0)]
    );
    assert_eq!(
        pipes("| sort -count, +host.name, user asc, x desc, y"),
        vec![Pipe::Sort(
            [
                ("count", true),
                ("host.name", false),
                ("user", false),
                ("x", true),
                ("y", false)
            ]
            .into_iter()
            .map(|(f, d)| SortKey {
                field: f.into(),
                descending: d
            })
            .collect()
        )]
    );
    assert_eq!(
        pipes("| top user.name | rare 3 process.name"),
        vec![
            Pipe::Top {
                n: 10,
                field: "user.name".into()
            },
            Pipe::Rare {
                n: 3,
                field: "process.name".into()
            }
        ]
    );
    let Pipe::Stats(s) = &pipes(
        "| stats count, count(user.name), DC(user.name) as users, min(b) max(b), avg(b), sum(b), values(c) by h, u",
    )[0] else {
        panic!("stats")
    };
    let names: Vec<&str> = s.aggs.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "count",
            "count(user.name)",
            "users",
            "min(b)",
            "max(b)",
            "avg(b)",
            "sum(b)",
            "values(c)"
        ]
    );
    assert_eq!(s.aggs[2].func, AggFunc::Dc);
    assert_eq!(s.aggs[2].field.as_deref(), Some("user.name"));
    assert_eq!(s.by, ["h", "u"]);
    assert_eq!(
        pipes("| timechart span=5m count() by host.name"),
        vec![Pipe::Timechart {
            span_ns: 300_000_000_000,
            stats: Stats {
                aggs: vec![Agg {
                    func: AggFunc::Count,
                    field: None,
                    name: "count".into()
                }],
                by: vec!["host.name".into()],
            }
        }]
    );
    let Pipe::Timechart { span_ns, stats } = &pipes("| timechart")[0] else {
        panic!("timechart")
    };
    assert_eq!(
        (*span_ns, stats.aggs.len(), stats.by.len()),
        (3_600_000_000_000, 1, 0)
    );
    let Pipe::Timechart { span_ns, stats } = &pipes("| timechart avg(b) by h span=1d")[0] else {
        panic!("timechart")
    };
    assert_eq!(
        (*span_ns, stats.aggs[0].func),
        (86_400_000_000_000, AggFunc::Avg)
    );

    canon("| where count > 5 | head", "* | where count>5 | head 10");
    canon(
        "a | stats count as n, dc(u) by h | sort n desc, +h | fields h, n",
        "a | stats count() as n, dc(u) by h | sort -n, h | fields h, n",
    );
    canon(
        "| timechart count() by h | top 5 h | rare x",
        "* | timechart span=1h count() by h | top 5 h | rare 10 x",
    );
    canon("| WHERE a:1 OR b:2", "* | where a:1 OR b:2");
}

#[test]
fn keywords_are_case_insensitive() {
    assert_eq!(
        q("a:1 And b:2 oR c:3 | STATS COUNT() BY h | Sort -count"),
        q("a:1 AND b:2 OR c:3 | stats count() by h | sort -count")
    );
    assert_eq!(filter("x:[1 to 2]"), filter("x:[1 TO 2]"));
}

#[test]
fn time_bounds() {
    let t = |s| crate::time::parse_rfc3339(s).expect("time");
    assert_eq!(
        q("@timestamp>=2024-03-14 @timestamp<2024-03-15 failed").time_bounds(),
        (Some(t("2024-03-14")), Some(t("2024-03-15") - 1))
    );
    assert_eq!(
        q("(@timestamp>2024-03-14 AND x) @timestamp:[* TO 2024-03-16] @timestamp<=2024-03-17")
            .time_bounds(),
        (Some(t("2024-03-14") + 1), Some(t("2024-03-16")))
    );
    assert_eq!(
        q("a | where @timestamp>=2024-03-14 | where @timestamp<=2024-03-15 | head | where @timestamp<2000-01-01").time_bounds(),
        (Some(t("2024-03-14")), Some(t("2024-03-15")))
    );
    // Under OR or NOT a bound does not restrict the whole query.
    assert_eq!(q("@timestamp>=2024-03-14 OR x").time_bounds(), (None, None));
    assert_eq!(q("NOT @timestamp>=2024-03-14").time_bounds(), (None, None));
    assert_eq!(q("failed").time_bounds(), (None, None));
}

#[test]
fn errors_point_at_the_column() {
    use ErrorCode::*;
    fails(
        "process.name:",
        MissingValue,
        14,
        "expected a value after ':'",
    );
    fails(
        "process.name: | head",
        MissingValue,
        15,
        "expected a value after ':'",
    );
    fails("(a:1 OR b:2", Unclosed, 1, "unclosed '('");
    fails("x (a:1 (b:2)", Unclosed, 3, "unclosed '('");
    fails("a:(1 OR 2", Unclosed, 3, "unclosed '('");
    fails(r#"message:"failed password"#, Unclosed, 9, "unclosed quote");
    fails("a:1)", Trailing, 4, "unmatched ')'");
    fails("a | head 5 x", Trailing, 12, "after the head command");
    fails("a | nosuch x", UnknownPipe, 5, "unknown command 'nosuch'");
    fails("a |", MissingOperand, 4, "expected a command");
    fails("a | | head", MissingOperand, 5, "expected a command");
    fails("a | head ten", BadNumber, 10, "expected a count for head");
    fails("a | head -1", BadNumber, 10, "expected a count");
    fails(
        "a | top 99999999999999999999999 x",
        BadNumber,
        9,
        "expected a count",
    );
    fails("bytes>1e999", BadNumber, 7, "out of range");
    fails("source.ip:10.0.0.0/33", BadCidr, 11, "invalid IP network");
    fails("source.ip:10.0.0/8", BadCidr, 11, "invalid IP network");
    fails(
        "source.ip:2001:db8::/200",
        BadCidr,
        11,
        "invalid IP network",
    );
    fails("@timestamp>=yesterday", BadTime, 13, "RFC 3339");
    fails("@timestamp:[2024-03-14 TO 5]", BadTime, 27, "RFC 3339");
    fails("a | timechart span=1y", BadTime, 20, "bad span");
    fails("a | timechart span=0m", BadTime, 20, "bad span");
    fails("bytes:[1 5]", BadRange, 10, "expected TO");
    fails("bytes:[1 TO 5", Unclosed, 7, "unclosed range");
    fails("bytes:[1 TO", Unclosed, 7, "unclosed range");
    fails("bytes:[1 TO 5 6]", BadRange, 15, "expected ']'");
    fails(
        "bytes:[ TO 5]",
        BadRange,
        9,
        "expected a lower bound before TO",
    );
    fails("bytes:[]", BadRange, 8, "expected a lower bound");
    fails("bytes>*", BadRange, 7, "needs a value");
    fails("bytes>", MissingValue, 7, "expected a value after '>'");
    fails("a AND", MissingOperand, 6, "after AND");
    fails("a OR OR b", MissingOperand, 6, "after OR");
    fails("NOT", MissingOperand, 4, "after NOT");
    fails("a:1 AND )", MissingOperand, 9, "after AND");
    fails("()", MissingOperand, 2, "empty parentheses");
    fails("- a", MissingOperand, 1, "after '-'");
    fails("a -", MissingOperand, 3, "after '-'");
    fails(":x", Syntax, 1, "unexpected ':'");
    fails("a:1 >5", Syntax, 5, "unexpected '>'");
    fails(
        "pro*ess:x",
        Syntax,
        1,
        "wildcards are not allowed in field names",
    );
    fails("| stats", PipeArgs, 8, "expected an aggregation");
    fails(
        "| stats median(x)",
        UnknownFunction,
        9,
        "unknown function 'median'",
    );
    fails("| stats dc()", PipeArgs, 9, "dc needs a field");
    fails("| stats avg", PipeArgs, 9, "avg needs a field");
    fails("| stats count(", Unclosed, 14, "unclosed '('");
    fails("| stats count(a b)", PipeArgs, 17, "expected ')'");
    fails(
        "| stats count() as",
        MissingValue,
        19,
        "expected a column name",
    );
    fails(
        "| stats count(), count()",
        PipeArgs,
        18,
        "duplicate column name 'count'",
    );
    fails(
        "| stats count() as h by h",
        PipeArgs,
        9,
        "duplicate column name 'h'",
    );
    fails("| stats count() by h, h", PipeArgs, 17, "appears twice");
    fails(
        "| stats count() by",
        PipeArgs,
        19,
        "expected a field name after by",
    );
    fails(
        "| timechart count() by a, b",
        PipeArgs,
        28,
        "one field at most",
    );
    fails(
        "| timechart span=1h span=1m",
        PipeArgs,
        21,
        "span given twice",
    );
    fails("| sort", PipeArgs, 7, "expected a field to sort by");
    fails("| sort -a asc", PipeArgs, 9, "conflicting sort order");
    fails("| top", PipeArgs, 6, "expected a field");
    fails("| fields", PipeArgs, 9, "expected a field name");
    fails("| where", MissingOperand, 8, "expected an expression");
    // Columns count characters, not bytes.
    fails("é:ü AND", MissingOperand, 8, "after AND");
    // Limits.
    fails(&"(".repeat(200), Limits, 51, "nesting deeper than 100");
    fails(&"NOT ".repeat(200), Limits, 401, "nesting deeper");
    fails(&"a".repeat(70_000), Limits, 1, "longer than");
}

#[test]
fn error_display_format() {
    let e = parse("process.name:").expect_err("missing value");
    assert_eq!(
        e.to_string(),
        "column 14: expected a value after ':' [KQ003]"
    );
}

// ---- property tests ----

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_@][a-zA-Z0-9_.]{0,8}".prop_filter("not a keyword", |s| {
        !["and", "or", "not", "to", "by", "as"].contains(&s.to_ascii_lowercase().as_str())
    })
}

/// Text with the characters that need escaping.
fn any_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-zA-Z0-9 .:/\\*?"()\[\]{}<>=!,|+\-é]{1,10}"#)
        .expect("regex")
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        any::<i64>().prop_map(Scalar::Int),
        (-1.0e12f64..1.0e12).prop_map(Scalar::Float),
        any_text().prop_map(Scalar::Str),
        (-9_000_000_000_000_000_000i64..9_000_000_000_000_000_000).prop_map(Scalar::Time),
    ]
}

fn bound() -> impl Strategy<Value = Bound<Scalar>> {
    prop_oneof![
        Just(Bound::Unbounded),
        scalar().prop_map(Bound::Included),
        scalar().prop_map(Bound::Excluded),
    ]
}

fn glob_part() -> impl Strategy<Value = GlobPart> {
    prop_oneof![
        any_text().prop_map(GlobPart::Literal),
        Just(GlobPart::Any),
        Just(GlobPart::One),
    ]
}

/// Patterns the parser can build for a field value (`full_text`: for a bare term).
fn pattern(full_text: bool) -> impl Strategy<Value = Pattern> {
    let exact = any_text().prop_filter("a bare keyword cannot be written", move |s| {
        !full_text || !["and", "or", "not"].contains(&s.to_ascii_lowercase().as_str())
    });
    prop_oneof![
        exact.prop_map(Pattern::Exact),
        any_text()
            .prop_filter("phrases have a token", |s| s
                .chars()
                .any(char::is_alphanumeric))
            .prop_map(Pattern::Phrase),
        proptest::collection::vec(glob_part(), 1..5).prop_filter_map("a real wildcard", |parts| {
            let g = Glob::new(parts).ok()?;
            (g.has_wildcard() && !g.is_match_all()).then_some(Pattern::Wildcard(g))
        }),
    ]
}

fn timestamp_bound() -> impl Strategy<Value = Bound<Scalar>> {
    let t = (-9_000_000_000_000_000_000i64..9_000_000_000_000_000_000).prop_map(Scalar::Time);
    prop_oneof![
        Just(Bound::Unbounded),
        t.clone().prop_map(Bound::Included),
        t.prop_map(Bound::Excluded),
    ]
}

fn predicate() -> impl Strategy<Value = Expr> {
    let net = prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| IpNet::new(a.into(), p)),
        (any::<[u8; 16]>(), 0u8..=128).prop_map(|(a, p)| IpNet::new(a.into(), p)),
    ];
    prop_oneof![
        (name(), pattern(false)).prop_map(|(f, pat)| p(&f, Test::Eq(pat))),
        pattern(true).prop_map(|pat| text(Test::Eq(pat))),
        (name(), bound(), bound())
            .prop_filter("@timestamp takes times", |(f, _, _)| f != "@timestamp")
            .prop_map(|(f, lo, hi)| p(&f, range(lo, hi))),
        (timestamp_bound(), timestamp_bound()).prop_map(|(lo, hi)| p("@timestamp", range(lo, hi))),
        (name(), net).prop_filter_map("valid net", |(f, n)| Some(p(&f, Test::Cidr(n?)))),
        name().prop_map(|f| p(&f, Test::Exists)),
        Just(Expr::All),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    predicate().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn stats(max_by: usize) -> impl Strategy<Value = Stats> {
    let func = proptest::sample::select(AggFunc::ALL.to_vec());
    let agg = (func, name(), proptest::option::of(name()), any::<bool>()).prop_map(
        |(func, field, rename, field_for_count)| {
            let field = (func != AggFunc::Count || field_for_count).then_some(field);
            let name = rename.unwrap_or_else(|| Agg::default_name(func, field.as_deref()));
            Agg { func, field, name }
        },
    );
    (
        proptest::collection::vec(agg, 1..4),
        proptest::collection::vec(name(), 0..=max_by),
    )
        .prop_filter("unique column names", |(aggs, by)| {
            let mut names: Vec<&String> = aggs.iter().map(|a| &a.name).chain(by).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            names.len() == n
        })
        .prop_map(|(aggs, by)| Stats { aggs, by })
}

fn pipe() -> impl Strategy<Value = Pipe> {
    prop_oneof![
        expr().prop_map(Pipe::Where),
        proptest::collection::vec(name(), 1..4).prop_map(Pipe::Fields),
        stats(2).prop_map(Pipe::Stats),
        proptest::collection::vec(
            (name(), any::<bool>()).prop_map(|(field, descending)| SortKey { field, descending }),
            1..4
        )
        .prop_map(Pipe::Sort),
        (0usize..1000).prop_map(Pipe::Head),
        (1i64..100_000, stats(1)).prop_map(|(ms, stats)| Pipe::Timechart {
            span_ns: ms * 1_000_000,
            stats
        }),
        (0usize..100, name()).prop_map(|(n, field)| Pipe::Top { n, field }),
        (0usize..100, name()).prop_map(|(n, field)| Pipe::Rare { n, field }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_text(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_query_like_text(s in r#"[a-z:*?"()\[\]{}<>=!|,\\ \-/0-9.]{0,60}"#) {
        if let Ok(query) = parse(&s) {
            // Whatever parses prints canonically and reads back the same.
            let shown = query.to_string();
            let back = parse(&shown);
            prop_assert_eq!(back.as_ref(), Ok(&query), "{}", shown);
        } else if let Err(e) = parse(&s) {
            prop_assert!(e.column >= 1 && e.column <= s.chars().count() + 1);
        }
    }

    #[test]
    fn generated_trees_round_trip(filter in expr(), pipes in proptest::collection::vec(pipe(), 0..4)) {
        let query = Query { filter, pipes };
        let shown = query.to_string();
        let back = parse(&shown);
        prop_assert_eq!(back.as_ref(), Ok(&query), "{}", shown);
    }
}
