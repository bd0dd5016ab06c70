//! Fuzz target: any text given to the search-language parser must return a query or an error
//! (never panic, never hang); a query must print as canonical text that parses back to the same
//! tree, and must run over a few events without panicking.
#![no_main]

use std::sync::OnceLock;

use kasbah_query::{Limits, Row, execute_with, parse};
use libfuzzer_sys::fuzz_target;

fn events() -> &'static [Row] {
    static EVENTS: OnceLock<Vec<Row>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        [
            r#"{"@timestamp":"2024-03-14T10:02:41Z","host.name":"web01","user.name":"root","source.ip":"203.0.113.45","bytes":120,"message":"Failed password for root from 203.0.113.45 port 52114 ssh2"}"#,
            r#"{"@timestamp":"2024-03-14T10:12:00.5Z","host.name":"WS-042","user.name":["CORP\\alice","x"],"process.name":"PowerShell.exe","source.ip":"2001:db8::7","bytes":"830","event.original":"a=b c=d"}"#,
            r#"{"@timestamp":"not a time","host.name":null,"bytes":1.5,"ok":true}"#,
        ]
        .iter()
        .filter_map(|s| serde_json::from_str(s).ok())
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = parse(src) else {
        return;
    };
    let shown = query.to_string();
    match parse(&shown) {
        Ok(back) => assert_eq!(back, query, "canonical text {shown:?} of {src:?}"),
        Err(e) => panic!("canonical text {shown:?} of {src:?} does not parse: {e}"),
    }
    let _ = query.time_bounds();
    let limits = Limits {
        max_groups: 1000,
        max_rows: 1000,
        max_values: 10,
        max_distinct: 1000,
    };
    let hits = events().iter().filter(|e| query.filter.matches(e)).cloned();
    let _ = execute_with(&query.pipes, hits, &limits);
});
