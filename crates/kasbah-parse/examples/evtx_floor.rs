//! The physical floor for EVTX parsing: the `evtx` crate alone iterating every record of every
//! `.evtx` file under the given paths, single-threaded, with no Kasbah code involved. Used by
//! `bench/parse.sh` to put `kasbah parse -f evtx` in perspective.
//!
//! `cargo run --release --example evtx_floor -- [--mode json-value|json|xml] PATH...`

use std::path::{Path, PathBuf};
use std::time::Instant;

use evtx::{EvtxParser, ParserSettings};

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            entries.sort();
            for e in entries {
                walk(&e, out);
            }
        }
    } else if p
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
    {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut mode = "json-value".to_string();
    if let Some(i) = args.iter().position(|a| a == "--mode") {
        if i + 1 < args.len() {
            mode = args.remove(i + 1);
        }
        args.remove(i);
    }
    let mut files = Vec::new();
    for a in &args {
        walk(Path::new(a), &mut files);
    }
    let start = Instant::now();
    let (mut records, mut errors, mut bytes) = (0u64, 0u64, 0u64);
    for f in &files {
        let Ok(buf) = std::fs::read(f) else { continue };
        bytes += buf.len() as u64;
        let Ok(parser) = EvtxParser::from_buffer(buf) else {
            errors += 1;
            continue;
        };
        let mut parser = parser.with_configuration(ParserSettings::new().num_threads(1));
        match mode.as_str() {
            "xml" => parser.records().for_each(|r| match r {
                Ok(_) => records += 1,
                Err(_) => errors += 1,
            }),
            "json" => parser.records_json().for_each(|r| match r {
                Ok(_) => records += 1,
                Err(_) => errors += 1,
            }),
            _ => parser.records_json_value().for_each(|r| match r {
                Ok(_) => records += 1,
                Err(_) => errors += 1,
            }),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "evtx crate ({mode}): {} files, {records} records, {errors} errors, {:.1} MB in {secs:.3} s ({:.0} records/s)",
        files.len(),
        bytes as f64 / 1e6,
        records as f64 / secs
    );
}
