//! Times and durations as the language writes them: RFC 3339 instants (UTC nanoseconds, the
//! form of `@timestamp`) and `timechart` spans (`30s`, `5m`, `1h`, `1d`).
//!
//! Hand-written rather than a date crate: the forms are few, and this path runs once per row
//! when a range or `timechart` reads `@timestamp`.

const NS_PER_SEC: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (era-based civil-to-days conversion).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads `n` ASCII digits at `*i`.
fn digits(b: &[u8], i: &mut usize, n: usize) -> Option<i64> {
    let mut v = 0i64;
    for _ in 0..n {
        let c = *b.get(*i)?;
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
        *i += 1;
    }
    Some(v)
}

/// Parses an RFC 3339 instant to UTC nanoseconds. Accepted: `2024-03-14`, `2024-03-14T10:02`,
/// `2024-03-14T10:02:41`, with optional fraction (up to 9 digits) and `Z` or `±HH:MM`; a space
/// may replace the `T`; no zone means UTC. `None` for anything else or outside the `i64`
/// nanosecond range (years 1678-2262).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let y = digits(b, &mut i, 4)?;
    (b.get(i) == Some(&b'-')).then_some(())?;
    i += 1;
    let mo = digits(b, &mut i, 2)?;
    (b.get(i) == Some(&b'-')).then_some(())?;
    i += 1;
    let d = digits(b, &mut i, 2)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let (mut h, mut mi, mut sec, mut frac) = (0, 0, 0, 0);
    let mut offset = 0i64;
    if i < b.len() {
        if !matches!(b.get(i), Some(b'T' | b't' | b' ')) {
            return None;
        }
        i += 1;
        h = digits(b, &mut i, 2)?;
        (b.get(i) == Some(&b':')).then_some(())?;
        i += 1;
        mi = digits(b, &mut i, 2)?;
        if b.get(i) == Some(&b':') {
            i += 1;
            sec = digits(b, &mut i, 2)?;
            if b.get(i) == Some(&b'.') {
                i += 1;
                let start = i;
                while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    if i - start < 9 {
                        frac = frac * 10 + i64::from(c - b'0');
                    }
                    i += 1;
                }
                let n = i - start;
                if n == 0 {
                    return None;
                }
                for _ in n..9 {
                    frac *= 10;
                }
            }
        }
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') => i += 1,
            Some(&sign @ (b'+' | b'-')) => {
                i += 1;
                let oh = digits(b, &mut i, 2)?;
                (b.get(i) == Some(&b':')).then_some(())?;
                i += 1;
                let om = digits(b, &mut i, 2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                offset = (oh * 3600 + om * 60) * if sign == b'+' { 1 } else { -1 };
            }
            Some(_) => return None,
        }
        // Leap seconds (60) are accepted and folded into the next second, as most SIEMs do.
        if i != b.len() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(NS_PER_SEC)?.checked_add(frac)
}

/// Formats UTC nanoseconds as RFC 3339 with `Z` and only the fractional digits needed.
pub fn format_rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_SEC);
    let frac = ns.rem_euclid(NS_PER_SEC);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

const UNITS: [(&str, i64); 6] = [
    ("w", 7 * 86_400 * NS_PER_SEC),
    ("d", 86_400 * NS_PER_SEC),
    ("h", 3600 * NS_PER_SEC),
    ("m", 60 * NS_PER_SEC),
    ("s", NS_PER_SEC),
    ("ms", 1_000_000),
];

/// Parses a span: a positive integer and a unit (`ms`, `s`, `m`, `h`, `d`, `w`), e.g. `15m`.
pub fn parse_span(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit = unit.to_ascii_lowercase();
    let &(_, mul) = UNITS.iter().find(|(u, _)| *u == unit)?;
    n.checked_mul(mul).filter(|&v| v > 0)
}

/// Formats a span with the largest unit that divides it, e.g. `90m` stays `90m`, `2h` for 7200 s.
pub fn format_span(ns: i64) -> String {
    for (unit, mul) in UNITS {
        if ns % mul == 0 {
            return format!("{}{unit}", ns / mul);
        }
    }
    format!("{}ms", ns / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_analysts_type() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:01"), Some(60 * NS_PER_SEC));
        assert_eq!(parse_rfc3339("1970-01-01 00:00:01.5"), Some(1_500_000_000));
        assert_eq!(
            parse_rfc3339("2024-03-14T10:02:41.123456789Z"),
            Some(1_710_410_561_123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2024-03-14T12:02:41+02:00"),
            parse_rfc3339("2024-03-14T10:02:41Z")
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-NS_PER_SEC));
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for bad in [
            "",
            "2024",
            "2024-13-01",
            "2023-02-29",
            "2024-03-14T25:00:00Z",
            "2024-03-14T10:00:00X",
            "2024-03-14T10:00:00.Z",
            "2024-03-14T10",
            "9999-01-01T00:00:00Z",
            "2024-03-14T10:00:00+2",
            "２０２４-03-14",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29").is_some());
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            format_rfc3339(1_710_410_561_120_000_000),
            "2024-03-14T10:02:41.12Z"
        );
        for ns in [
            0,
            1,
            -1,
            i64::MAX,
            i64::MIN + 1_000_000_000,
            951_782_400 * NS_PER_SEC,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ns)), Some(ns), "{ns}");
        }
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("1h"), Some(3600 * NS_PER_SEC));
        assert_eq!(parse_span("15M"), Some(900 * NS_PER_SEC));
        assert_eq!(parse_span("250ms"), Some(250_000_000));
        assert_eq!(parse_span("0s"), None);
        assert_eq!(parse_span("h"), None);
        assert_eq!(parse_span("5y"), None);
        assert_eq!(parse_span("99999999999999w"), None);
        assert_eq!(format_span(7200 * NS_PER_SEC), "2h");
        assert_eq!(format_span(90 * 60 * NS_PER_SEC), "90m");
        assert_eq!(format_span(86_400 * 7 * NS_PER_SEC), "1w");
        assert_eq!(format_span(1_500_000_000), "1500ms");
    }
}
