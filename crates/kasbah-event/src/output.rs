//! The JSON form of an event: one flat object with dotted keys.
//!
//! This is the contract of `kasbah parse`: `@timestamp` (UTC), the ECS fields at their dotted names,
//! and the original fields under their own names, in the order the parser set them.

use std::io::{self, Write};

use crate::{Event, Source, TenantId, Value};

/// What to include besides the fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputOptions {
    /// Add `event.ingested` (the receive time). Off for reproducible output.
    pub received: bool,
    /// Add `event.original` (the raw record).
    pub raw: bool,
    /// Add `log.file.path` and `log.file.record` for file sources.
    pub source: bool,
}

fn key(out: &mut impl Write, first: &mut bool, k: &str) -> io::Result<()> {
    if !*first {
        out.write_all(b",")?;
    }
    *first = false;
    json_str(out, k)?;
    out.write_all(b":")
}

/// Writes `s` as a JSON string, byte for byte as `serde_json` does. Plain text (nearly all log
/// text) is copied whole; quotes and backslashes (a FortiGate line's original) are found with
/// `memchr2` and the runs between them copied; control characters, rare, go to `serde_json`'s
/// escaper. That escaper looks every byte up in a table: it was 7% of the server's CPU on
/// syslog ingestion. Public for the other writer of the same JSON, the store's document values.
pub fn json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    let b = s.as_bytes();
    // Passes of one boolean each, without an early exit: the compiler vectorises those (a
    // fold of two booleans, or of a byte of flags, it did not).
    let escape = b
        .iter()
        .fold(false, |e, &x| e | (x < 0x20) | (x == b'"') | (x == b'\\'));
    if !escape {
        out.write_all(b"\"")?;
        out.write_all(b)?;
        return out.write_all(b"\"");
    }
    if b.iter().fold(false, |c, &x| c | (x < 0x20)) {
        return Ok(serde_json::to_writer(&mut *out, s)?);
    }
    out.write_all(b"\"")?;
    let mut run = 0;
    for i in memchr::memchr2_iter(b'"', b'\\', b) {
        out.write_all(b.get(run..i).unwrap_or_default())?;
        out.write_all(if b.get(i) == Some(&b'"') {
            b"\\\""
        } else {
            b"\\\\"
        })?;
        run = i + 1;
    }
    out.write_all(b.get(run..).unwrap_or_default())?;
    out.write_all(b"\"")
}

fn value(out: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Null => out.write_all(b"null"),
        Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.write_all(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Float(f) if f.is_finite() => write!(out, "{f}"),
        Value::Float(_) => out.write_all(b"null"),
        Value::Str(s) => json_str(out, s.as_str()),
        Value::List(l) => {
            out.write_all(b"[")?;
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                value(out, x)?;
            }
            out.write_all(b"]")
        }
    }
}

/// Writes `event` as one JSON object (no trailing newline).
pub fn write_json(out: &mut impl Write, event: &Event, opts: OutputOptions) -> io::Result<()> {
    let mut first = true;
    out.write_all(b"{")?;
    key(out, &mut first, "@timestamp")?;
    json_str(out, &event.timestamp.to_rfc3339())?;
    if let Some(tz) = event.tz {
        key(out, &mut first, "event.timezone")?;
        json_str(out, &tz.to_string())?;
    }
    if opts.received {
        key(out, &mut first, "event.ingested")?;
        json_str(out, &event.received.to_rfc3339())?;
    }
    if event.tenant != TenantId::DEFAULT {
        key(out, &mut first, "kasbah.tenant")?;
        write!(out, "{}", event.tenant.0)?;
    }
    if opts.source
        && let Source::File { path, record } = &event.source
    {
        key(out, &mut first, "log.file.path")?;
        json_str(out, path)?;
        key(out, &mut first, "log.file.record")?;
        write!(out, "{record}")?;
    }
    for (k, v) in event.fields.iter() {
        if k == "@timestamp" {
            continue;
        }
        key(out, &mut first, k)?;
        value(out, v)?;
    }
    if opts.raw
        && let Some(raw) = &event.raw
    {
        key(out, &mut first, "event.original")?;
        json_str(out, raw)?;
    }
    out.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Timestamp, TzOffset, ecs};

    #[test]
    fn writes_flat_dotted_object() {
        let mut e = Event::new(
            Timestamp::from_secs_nanos(1_700_000_000, 0).expect("in range"),
            Source::File {
                path: Arc::from("a.log"),
                record: 3,
            },
        );
        e.tz = TzOffset::from_secs(3600);
        e.set(ecs::PROCESS_NAME, "cmd.exe");
        e.set(ecs::PROCESS_PID, 42i64);
        e.fields.set_name(
            "Weird \"key\"",
            Value::List(vec![Value::Null, Value::Float(f64::NAN)]),
        );
        let mut buf = Vec::new();
        write_json(
            &mut buf,
            &e,
            OutputOptions {
                source: true,
                ..Default::default()
            },
        )
        .expect("write to vec");
        let s = String::from_utf8(buf).expect("utf8");
        assert_eq!(
            s,
            r#"{"@timestamp":"2023-11-14T22:13:20Z","event.timezone":"+01:00","log.file.path":"a.log","log.file.record":3,"process.name":"cmd.exe","process.pid":42,"Weird \"key\"":[null,null]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&s).expect("valid json");
        assert_eq!(parsed["process.pid"], 42);
    }

    /// Strings and integers are written exactly as `serde_json` writes them: quotes,
    /// backslashes, every control character, non-ASCII text, and the integer extremes.
    #[test]
    fn strings_and_integers_are_written_as_serde_json_writes_them() {
        let cases = [
            "",
            "plain",
            "a\"b",
            "back\\slash",
            "tab\there",
            "nl\n",
            "\u{0}",
            "\u{1f}",
            " ",
            "\u{7f}",
            "é ü 日本",
            "/slash/",
            "emoji 🛡",
            "end\\",
        ];
        // Escapes on both sides of each 16-byte chunk's edges, and every control character.
        let edges: String = (0..50)
            .map(|i| {
                if [0, 15, 16, 31, 32, 47, 49].contains(&i) {
                    '"'
                } else {
                    'x'
                }
            })
            .collect();
        let controls: String = (0u8..0x20).map(char::from).collect();
        let long = format!(
            "{}{controls}{}\\",
            "date=2024 devname=\"fw\" ".repeat(5),
            "y".repeat(33)
        );
        for s in cases
            .into_iter()
            .chain([edges.as_str(), controls.as_str(), long.as_str()])
        {
            let mut out = Vec::new();
            json_str(&mut out, s).expect("vec");
            assert_eq!(out, serde_json::to_vec(s).expect("serialise"), "{s:?}");
        }
        for i in [0, -1, 42, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            value(&mut out, &Value::Int(i)).expect("vec");
            assert_eq!(out, i.to_string().into_bytes());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in "(?s).{0,80}", bytes in proptest::collection::vec(0u8..0x80, 0..120)) {
            let ascii = String::from_utf8(bytes).expect("ASCII");
            for s in [s, ascii] {
                let mut out = Vec::new();
                json_str(&mut out, &s).expect("vec");
                proptest::prop_assert_eq!(out, serde_json::to_vec(&s).expect("serialise"));
            }
        }
    }
}
