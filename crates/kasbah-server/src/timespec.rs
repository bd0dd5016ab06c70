//! Time bounds of API requests: RFC 3339, a date, epoch seconds or milliseconds, `now`, or a time
//! relative to now (`-15m`, `now-24h`, `-7d`).

use serde_json::Value;

const NS: i64 = 1_000_000_000;

/// Parses a time bound given as a JSON string or number; `now` is the reference, UTC ns.
pub fn parse_value(v: &Value, now: i64) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(epoch)
            .ok_or_else(|| format!("{n} is not an epoch time")),
        Value::String(s) => parse(s, now),
        other => Err(format!("{other} is not a time")),
    }
}

/// Epoch seconds, or milliseconds when the number is too large to be seconds.
fn epoch(n: i64) -> i64 {
    if n.abs() < 100_000_000_000 {
        n.saturating_mul(NS)
    } else {
        n.saturating_mul(1_000_000)
    }
}

/// Parses a time bound.
pub fn parse(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let rel = s.strip_prefix("now").unwrap_or(s);
    if let Some(r) = rel.strip_prefix('-') {
        let (num, unit) = r.split_at(r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len()));
        let n: i64 = num
            .parse()
            .map_err(|_| format!("`{s}`: expected a number after '-'"))?;
        let mult = match unit {
            "s" => NS,
            "m" => 60 * NS,
            "h" => 3600 * NS,
            "d" => 86_400 * NS,
            "w" => 7 * 86_400 * NS,
            _ => return Err(format!("`{s}`: unit must be s, m, h, d or w")),
        };
        return Ok(now.saturating_sub(n.saturating_mul(mult)));
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(epoch(n));
    }
    let full;
    let text = if s.len() == 10 {
        full = format!("{s}T00:00:00Z");
        full.as_str()
    } else {
        s
    };
    kasbah_parse::time::rfc3339(text, None)
        .map(|(t, _)| t.as_nanos())
        .ok_or_else(|| {
            format!("`{s}` is not a time: use RFC 3339, YYYY-MM-DD, epoch seconds, now or -15m")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = 1_000_000 * NS;
        assert_eq!(parse("now", now), Ok(now));
        assert_eq!(parse("-15m", now), Ok(now - 900 * NS));
        assert_eq!(parse("now-1d", now), Ok(now - 86_400 * NS));
        assert_eq!(parse("1970-01-02", now), Ok(86_400 * NS));
        assert_eq!(parse("1970-01-01T00:00:01Z", now), Ok(NS));
        assert_eq!(parse("86400", now), Ok(86_400 * NS));
        assert_eq!(
            parse_value(&serde_json::json!(1_700_000_000_000i64), now),
            Ok(1_700_000_000_000 * 1_000_000)
        );
        assert!(parse("-5y", now).is_err());
        assert!(parse("yesterday", now).is_err());
    }
}
