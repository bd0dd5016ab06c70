//! Golden-file tests: every fixture under `tests/golden/<format>/` is parsed with that format
//! forced and must produce exactly `<fixture>.expected.jsonl` (events as `kasbah parse` prints
//! them, bad records as `{"bad": N, "code": "KPxxx"}`). Fixtures are also auto-detected as their
//! format unless their name contains `.nodetect.`.
//!
//! After an intended change, regenerate with `KASBAH_BLESS=1 cargo test -p kasbah-parse --test golden`
//! and review the diff.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kasbah_event::{OutputOptions, Timestamp, write_json};
use kasbah_parse::{Format, Item, Origin, ParseOptions, detect, parse_bytes};

fn fixtures() -> Vec<(Format, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return out;
    };
    for dir in dirs.flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let format: Format = name
            .parse()
            .unwrap_or_else(|_| panic!("golden dir {name} is not a format"));
        for f in std::fs::read_dir(dir.path())
            .expect("list golden dir")
            .flatten()
        {
            let p = f.path();
            let fname = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !fname.ends_with(".expected.jsonl") && !fname.starts_with('.') {
                out.push((format, p));
            }
        }
    }
    out.sort();
    out
}

/// Renders the parse of `input` the way the golden files store it.
pub fn render(input: &[u8], format: Format) -> String {
    let opts = ParseOptions {
        // Fixed so that year-less timestamps resolve the same way every run.
        received: Timestamp::from_secs_nanos(1_718_452_800, 0).expect("2024-06-15T12:00:00Z"),
        keep_raw: false,
        ..ParseOptions::default()
    };
    let origin = Origin::File(Arc::from("fixture"));
    let mut out = Vec::new();
    parse_bytes(
        input,
        Some(format),
        &origin,
        &opts,
        &mut |item| match item {
            Item::Event(e) => {
                write_json(&mut out, &e, OutputOptions::default()).expect("write to vec");
                out.push(b'\n');
            }
            Item::Bad(b) => {
                out.extend_from_slice(
                    format!("{{\"bad\":{},\"code\":\"{}\"}}\n", b.record, b.error.code).as_bytes(),
                );
            }
        },
    );
    String::from_utf8(out).expect("JSON output is UTF-8")
}

#[test]
fn golden_files_match() {
    let bless = std::env::var_os("KASBAH_BLESS").is_some();
    let mut failures = Vec::new();
    let all = fixtures();
    for (format, path) in &all {
        let input = std::fs::read(path).expect("read fixture");
        let got = render(&input, *format);
        let expected_path = PathBuf::from(format!("{}.expected.jsonl", path.display()));
        if bless {
            std::fs::write(&expected_path, &got).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{}: output differs from {}\n--- got ---\n{got}--- expected ---\n{expected}",
                path.display(),
                expected_path.display()
            ));
        }
        let name = path.to_string_lossy();
        if !name.contains(".nodetect.") {
            let detected = detect(&input);
            if detected != *format {
                failures.push(format!(
                    "{}: detected as {detected}, expected {format}",
                    path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
