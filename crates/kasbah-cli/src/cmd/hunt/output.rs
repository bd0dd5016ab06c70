//! How `kasbah hunt` presents detections: timeline rows (table, CSV, JSON lines) and the
//! summary (levels, top rules, ATT&CK tactics and techniques).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

use kasbah_event::{Event, OutputOptions, Source, Value, write_json};
use kasbah_sigma::{CorrelationAlert, Engine, Level, RuleId, RuleInfo};

use super::{Detection, OutFormat};

fn details(ev: &Event, info: &RuleInfo) -> String {
    let parts: Vec<String> = kasbah_detect::alert::notable(ev, info)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    parts.join(" ¦ ")
}

fn host(ev: &Event) -> Option<String> {
    ev.host()
        .or_else(|| ev.get_name("Computer").and_then(Value::as_str))
        .map(str::to_owned)
}

/// A detection of `rule` on `ev`.
pub(crate) fn detection(ev: &Event, rule: RuleId, info: &RuleInfo, keep_event: bool) -> Detection {
    let (file, record) = match &ev.source {
        Source::File { path, record } => (path.clone(), *record),
        _ => (Arc::from(""), 0),
    };
    let event = keep_event.then(|| {
        let mut buf = Vec::with_capacity(512);
        let _ = write_json(&mut buf, ev, OutputOptions::default());
        String::from_utf8_lossy(&buf).into_owned()
    });
    Detection {
        ts: ev.timestamp,
        rule,
        file,
        record,
        host: host(ev),
        details: details(ev, info),
        event,
    }
}

/// A fired correlation as a timeline row; its "event" is the correlation's facts.
pub(crate) fn correlation_detection(a: &CorrelationAlert, _info: &RuleInfo) -> Detection {
    let group: serde_json::Map<String, serde_json::Value> = a
        .group
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let host = a
        .group
        .iter()
        .find(|(k, _)| {
            matches!(
                k.as_str(),
                "Computer" | "host.name" | "ComputerName" | "Hostname"
            )
        })
        .map(|(_, v)| v.clone());
    let facts = serde_json::json!({
        "group": group,
        "value": a.value,
        "events": a.events,
        "first": a.first.to_rfc3339(),
        "last": a.last.to_rfc3339(),
    });
    let details = a
        .group
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .chain(std::iter::once(format!("value: {}", a.value)))
        .chain(std::iter::once(format!("since: {}", a.first.to_rfc3339())))
        .collect::<Vec<_>>()
        .join(" ¦ ");
    Detection {
        ts: a.last,
        rule: a.rule,
        file: Arc::from(""),
        record: 0,
        host,
        details,
        event: Some(facts.to_string()),
    }
}

fn json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

fn csv_field(out: &mut impl Write, s: &str) -> io::Result<()> {
    if s.contains([',', '"', '\n', '\r']) {
        out.write_all(b"\"")?;
        out.write_all(s.replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(s.as_bytes())
    }
}

fn paint(level: Level, color: bool) -> (&'static str, &'static str) {
    if !color {
        return ("", "");
    }
    let c = match level {
        Level::Critical => "\x1b[1;31m",
        Level::High => "\x1b[31m",
        Level::Medium => "\x1b[33m",
        Level::Low => "\x1b[32m",
        Level::Informational => "\x1b[2m",
    };
    (c, "\x1b[0m")
}

/// Writes what comes before the first detection (the CSV header).
pub(crate) fn write_header(out: &mut impl Write, format: OutFormat) -> io::Result<()> {
    if format == OutFormat::Csv {
        writeln!(
            out,
            "timestamp,level,rule_id,rule_title,host,file,record,tags,details"
        )?;
    }
    Ok(())
}

/// Writes one detection of the timeline.
pub(crate) fn write_one(
    out: &mut impl Write,
    format: OutFormat,
    d: &Detection,
    engine: &Engine,
    color: bool,
) -> io::Result<()> {
    let Some(info) = engine.rule(d.rule) else {
        return Ok(());
    };
    let ts = d.ts.to_rfc3339();
    let level = info.level();
    match format {
        OutFormat::Jsonl => {
            out.write_all(b"{\"timestamp\":")?;
            json_str(out, &ts)?;
            out.write_all(b",\"rule_id\":")?;
            json_str(out, info.meta.id.as_deref().unwrap_or_default())?;
            out.write_all(b",\"rule_title\":")?;
            json_str(out, &info.meta.title)?;
            out.write_all(b",\"level\":")?;
            json_str(out, level.as_str())?;
            out.write_all(b",\"kind\":")?;
            json_str(
                out,
                match info.kind {
                    kasbah_sigma::RuleKind::Detection => "detection",
                    kasbah_sigma::RuleKind::Correlation(_) => "correlation",
                },
            )?;
            out.write_all(b",\"tags\":")?;
            serde_json::to_writer(&mut *out, &info.meta.tags).map_err(io::Error::other)?;
            out.write_all(b",\"file\":")?;
            json_str(out, &d.file)?;
            write!(out, ",\"record\":{}", d.record)?;
            out.write_all(b",\"host\":")?;
            match &d.host {
                Some(h) => json_str(out, h)?,
                None => out.write_all(b"null")?,
            }
            out.write_all(b",\"rule_file\":")?;
            json_str(out, &info.meta.path)?;
            out.write_all(b",\"event\":")?;
            out.write_all(d.event.as_deref().unwrap_or("null").as_bytes())?;
            out.write_all(b"}\n")?;
        }
        OutFormat::Csv => {
            for (i, f) in [
                ts.as_str(),
                level.as_str(),
                info.meta.id.as_deref().unwrap_or_default(),
                info.meta.title.as_str(),
                d.host.as_deref().unwrap_or_default(),
                &d.file,
                &d.record.to_string(),
                &info.meta.tags.join(";"),
                &d.details,
            ]
            .iter()
            .enumerate()
            {
                if i > 0 {
                    out.write_all(b",")?;
                }
                csv_field(out, f)?;
            }
            out.write_all(b"\n")?;
        }
        OutFormat::Table => {
            let (on, off) = paint(level, color);
            let ts = ts.get(..19).unwrap_or(&ts).replace('T', " ");
            writeln!(
                out,
                "{ts}  {on}{:<13}{off} {}  [{}]  {}",
                level.as_str(),
                info.meta.title,
                d.host.as_deref().unwrap_or("-"),
                d.details
            )?;
        }
    }
    Ok(())
}

/// What the summary reports.
#[derive(Default)]
pub(crate) struct Summary {
    pub files: u64,
    pub events: u64,
    pub bad: u64,
    pub formats: BTreeMap<&'static str, u64>,
    pub rule_files: usize,
    /// Rule files taken from the cache of parsed rules.
    pub rules_from_cache: usize,
    pub rules_loaded: usize,
    pub rules_skipped: usize,
    pub skipped_codes: BTreeMap<&'static str, usize>,
    pub load_secs: f64,
    pub scan_secs: f64,
    pub total_secs: f64,
    pub detections: u64,
    pub rules_hit: usize,
    pub by_level: BTreeMap<Level, u64>,
    pub top: Vec<(RuleId, u64)>,
    pub tactics: BTreeMap<String, u64>,
    pub techniques: BTreeMap<String, u64>,
    /// Sorted runs the timeline wrote to temporary files (0: it fit in `--sort-buffer`).
    pub spilled_runs: usize,
}

/// ATT&CK tactics as Sigma tags write them (`attack.defense-evasion`; older rules use `_`).
/// Counts the ATT&CK tactics and techniques of one detection's tags.
pub(crate) fn count_attack(tags: &[String], s: &mut Summary) {
    use kasbah_detect::alert::Attack;
    for a in kasbah_detect::alert::attack(tags) {
        match a {
            Attack::Tactic(t) => *s.tactics.entry(t).or_default() += 1,
            Attack::Technique(t) => *s.techniques.entry(t).or_default() += 1,
        }
    }
}

fn top_n(m: &BTreeMap<String, u64>, n: usize) -> String {
    let mut v: Vec<(&String, &u64)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .take(n)
        .map(|(k, c)| format!("{k} ({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints the summary on stderr.
pub(crate) fn print_summary(s: &Summary, engine: &Engine, color: bool) {
    let formats: Vec<String> = s.formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    eprintln!(
        "kasbah hunt: {} files ({}), {} events, {} bad records; scanned in {:.2} s ({:.0} events/s), total {:.2} s",
        s.files,
        formats.join(", "),
        s.events,
        s.bad,
        s.scan_secs,
        s.events as f64 / s.scan_secs.max(1e-6),
        s.total_secs
    );
    let codes: Vec<String> = s
        .skipped_codes
        .iter()
        .map(|(c, n)| format!("{c} x{n}"))
        .collect();
    eprintln!(
        "rules: {} loaded from {} files{} in {:.2} s, {} skipped{}",
        s.rules_loaded,
        s.rule_files,
        if s.rules_from_cache > 0 {
            format!(" ({} unchanged, from the rule cache)", s.rules_from_cache)
        } else {
            String::new()
        },
        s.load_secs,
        s.rules_skipped,
        if codes.is_empty() {
            String::new()
        } else {
            format!(" ({}; see `kasbah rules check`)", codes.join(", "))
        }
    );
    let levels: Vec<String> = Level::ALL
        .iter()
        .rev()
        .map(|l| {
            let (on, off) = paint(*l, color);
            format!(
                "{on}{}{off} {}",
                l.as_str(),
                s.by_level.get(l).copied().unwrap_or(0)
            )
        })
        .collect();
    eprintln!(
        "detections: {} by {} rules: {}",
        s.detections,
        s.rules_hit,
        levels.join(", ")
    );
    if s.spilled_runs > 0 {
        eprintln!(
            "timeline: sorted through {} temporary files (beyond --sort-buffer)",
            s.spilled_runs
        );
    }
    if !s.top.is_empty() {
        eprintln!("top rules:");
        for (r, n) in &s.top {
            if let Some(info) = engine.rule(*r) {
                let (on, off) = paint(info.level(), color);
                eprintln!(
                    "  {n:>7}  {on}{:<13}{off} {}",
                    info.level().as_str(),
                    info.meta.title
                );
            }
        }
    }
    if !s.tactics.is_empty() {
        eprintln!("ATT&CK tactics: {}", top_n(&s.tactics, 14));
    }
    if !s.techniques.is_empty() {
        eprintln!("ATT&CK techniques: {}", top_n(&s.techniques, 15));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tags_are_counted() {
        let mut s = Summary::default();
        count_attack(
            &[
                "attack.execution".into(),
                "attack.t1059.001".into(),
                "attack.defense_evasion".into(),
                "attack.g0016".into(),
                "cve.2021-44228".into(),
            ],
            &mut s,
        );
        assert_eq!(s.tactics.get("execution"), Some(&1));
        assert_eq!(s.tactics.get("defense-evasion"), Some(&1));
        assert_eq!(s.techniques.get("T1059.001"), Some(&1));
        assert_eq!(s.techniques.len(), 1);
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut out = Vec::new();
        csv_field(&mut out, "plain").expect("write");
        out.push(b'|');
        csv_field(&mut out, "a,\"b\"").expect("write");
        assert_eq!(String::from_utf8_lossy(&out), "plain|\"a,\"\"b\"\"\"");
    }
}
