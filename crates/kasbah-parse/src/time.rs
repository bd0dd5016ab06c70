//! Timestamp readers shared by the parsers: RFC 3339 / ISO 8601, BSD syslog (`Oct 11 22:14:15`,
//! no year), Common Log Format (`10/Oct/2000:13:55:36 -0700`) and Unix epochs.
//!
//! All are hand-written byte scanners: they run once per record on the hot path, accept the
//! lenient variants vendors emit, and return `None` rather than guess on anything else.

use chrono::{Datelike, NaiveDate};
use kasbah_event::{Timestamp, TzOffset};

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Seconds since the epoch of a civil date-time, validating every part.
fn civil(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, mo, d)?;
    let days = i64::from(date.num_days_from_ce()) - 719_163;
    // A leap second (:60) is folded into the next second.
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

fn fraction(b: &[u8], mut i: usize) -> (u32, usize) {
    let mut nanos = 0u32;
    let mut scale = 100_000_000u32;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    (nanos, i)
}

/// Reads `+hh:mm`, `+hhmm`, `+hh` or `Z` at `i`; returns the offset and the end index.
fn zone(b: &[u8], i: usize) -> Option<(TzOffset, usize)> {
    match b.get(i)? {
        b'Z' | b'z' => Some((TzOffset::UTC, i + 1)),
        c @ (b'+' | b'-') => {
            let h = digits(b, i + 1, 2)?;
            let (m, end) = if b.get(i + 3) == Some(&b':') {
                (digits(b, i + 4, 2)?, i + 6)
            } else if let Some(m) = digits(b, i + 3, 2) {
                (m, i + 5)
            } else {
                (0, i + 3)
            };
            let secs = (h * 3600 + m * 60) as i32;
            let secs = if *c == b'-' { -secs } else { secs };
            Some((TzOffset::from_secs(secs)?, end))
        }
        _ => None,
    }
}

/// Parses an RFC 3339 / ISO 8601 timestamp at the start of `s` (`2024-05-01T10:00:00.123+02:00`,
/// also with a space instead of `T`, without seconds fraction, or without zone, in which case
/// `default_tz` applies). Returns the instant, the zone written (if any) and the bytes consumed.
pub fn rfc3339_prefix(
    s: &str,
    default_tz: Option<TzOffset>,
) -> Option<(Timestamp, Option<TzOffset>, usize)> {
    let b = s.as_bytes();
    let y = digits(b, 0, 4)? as i32;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (mo, d) = (digits(b, 5, 2)?, digits(b, 8, 2)?);
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (h, mi) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    let (sec, i) = if b.get(16) == Some(&b':') {
        (digits(b, 17, 2)?, 19)
    } else {
        (0, 16)
    };
    let (nanos, i) = fraction(b, i);
    let secs = civil(y, mo, d, h, mi, sec)?;
    let (written, end) = match zone(b, i) {
        Some((z, end)) => (Some(z), end),
        None => (None, i),
    };
    let offset = written.or(default_tz).map_or(0, TzOffset::secs);
    let ts = Timestamp::from_secs_nanos(secs - i64::from(offset), nanos)?;
    Some((ts, written, end))
}

/// [`rfc3339_prefix`] that must consume the whole string.
pub fn rfc3339(s: &str, default_tz: Option<TzOffset>) -> Option<(Timestamp, Option<TzOffset>)> {
    let (t, z, end) = rfc3339_prefix(s.trim(), default_tz)?;
    (end == s.trim().len()).then_some((t, z))
}

/// Month number from its English abbreviation (`Jan` = 1), case-insensitive.
pub fn month(abbr: &[u8]) -> Option<u32> {
    const M: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let a = abbr.get(..3)?;
    M.iter()
        .position(|m| m.eq_ignore_ascii_case(a))
        .map(|i| i as u32 + 1)
}

/// Parses a BSD syslog timestamp at the start of `s`: `Mmm dd hh:mm:ss` (day space- or zero-padded),
/// optionally with a fraction (`.123456`) and an optional year after it (`Oct 11 22:14:15 2024`).
/// Without a year, the year is the one that puts the time closest before `reference` (a line from
/// December read in January belongs to the previous year). Returns the instant and bytes consumed.
pub fn bsd_prefix(
    s: &str,
    reference: Timestamp,
    tz: Option<TzOffset>,
) -> Option<(Timestamp, usize)> {
    let b = s.as_bytes();
    let mo = month(b)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let d = if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let d = digits(b, i, 2)?;
        i += 2;
        d
    } else {
        let d = digits(b, i, 1)?;
        i += 1;
        d
    };
    if b.get(i) != Some(&b' ') || b.get(i + 3) != Some(&b':') || b.get(i + 6) != Some(&b':') {
        return None;
    }
    let (h, mi, sec) = (
        digits(b, i + 1, 2)?,
        digits(b, i + 4, 2)?,
        digits(b, i + 7, 2)?,
    );
    let (nanos, mut end) = fraction(b, i + 9);
    let mut year = None;
    if b.get(end) == Some(&b' ')
        && let Some(y) = digits(b, end + 1, 4)
        && !b
            .get(end + 5)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b':')
    {
        year = Some(y as i32);
        end += 5;
    }
    let offset = i64::from(tz.map_or(0, TzOffset::secs));
    let at = |y: i32| -> Option<Timestamp> {
        Timestamp::from_secs_nanos(civil(y, mo, d, h, mi, sec)? - offset, nanos)
    };
    let ts = match year {
        Some(y) => at(y)?,
        None => {
            let ref_year = reference.to_utc().year();
            // Allow a day of clock skew into the future before assuming last year.
            let limit = reference.as_nanos() + 86_400_000_000_000;
            match at(ref_year) {
                Some(t) if t.as_nanos() <= limit => t,
                // Feb 29 of a non-leap year and future dates both fall back a year.
                _ => at(ref_year - 1).or_else(|| at(ref_year - 4))?,
            }
        }
    };
    Some((ts, end))
}

/// Parses a Common Log Format timestamp: `10/Oct/2000:13:55:36 -0700` (the part between brackets).
pub fn clf(s: &str) -> Option<(Timestamp, TzOffset)> {
    let b = s.as_bytes();
    let d = digits(b, 0, 2)?;
    let mo = month(b.get(3..6)?)?;
    if b.get(2) != Some(&b'/') || b.get(6) != Some(&b'/') || b.get(11) != Some(&b':') {
        return None;
    }
    let y = digits(b, 7, 4)? as i32;
    let (h, mi, sec) = (digits(b, 12, 2)?, digits(b, 15, 2)?, digits(b, 18, 2)?);
    let (nanos, mut i) = fraction(b, 20);
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (tz, _) = zone(b, i).unwrap_or((TzOffset::UTC, i));
    let secs = civil(y, mo, d, h, mi, sec)? - i64::from(tz.secs());
    Some((Timestamp::from_secs_nanos(secs, nanos)?, tz))
}

/// Parses a Unix epoch in seconds with an optional fraction (`1331901000.123456`), or in
/// milliseconds when it has 13 digits and no fraction.
pub fn epoch(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 13 || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    if int.len() == 13 && frac.is_empty() {
        return Timestamp::from_secs_nanos(whole / 1000, (whole % 1000) as u32 * 1_000_000);
    }
    let mut nanos = 0u32;
    let mut scale = 100_000_000u32;
    for c in frac.bytes().take(9) {
        nanos += u32::from(c - b'0') * scale;
        scale /= 10;
    }
    Timestamp::from_secs_nanos(whole, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        rfc3339(s, None)
            .map(|(t, _)| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn rfc3339_variants() {
        assert_eq!(ts("2003-10-11T22:14:15.003Z"), "2003-10-11T22:14:15.003Z");
        assert_eq!(
            ts("2003-08-24T05:14:15.000003-07:00"),
            "2003-08-24T12:14:15.000003Z"
        );
        assert_eq!(ts("2024-01-02 03:04:05"), "2024-01-02T03:04:05Z");
        assert_eq!(ts("2024-01-02T03:04:05+0200"), "2024-01-02T01:04:05Z");
        assert_eq!(ts("2024-02-30T03:04:05Z"), "");
        assert_eq!(ts("2024-01-02T25:04:05Z"), "");
        assert_eq!(ts("garbage"), "");
        let (_, z) = rfc3339("2024-01-02T03:04:05+05:30", None).expect("valid");
        assert_eq!(z.map(|z| z.secs()), Some(19_800));
    }

    #[test]
    fn bsd_year_inference() {
        let reference = rfc3339("2024-01-05T00:00:00Z", None).expect("valid").0;
        let (t, n) = bsd_prefix("Dec 31 23:59:59 host x", reference, None).expect("valid");
        assert_eq!(t.to_rfc3339(), "2023-12-31T23:59:59Z");
        assert_eq!(n, 15);
        let (t, _) = bsd_prefix("Jan  4 10:00:00 host", reference, None).expect("valid");
        assert_eq!(t.to_rfc3339(), "2024-01-04T10:00:00Z");
        let (t, n) = bsd_prefix("Oct 11 22:14:15.250 2022 host", reference, None).expect("valid");
        assert_eq!(t.to_rfc3339(), "2022-10-11T22:14:15.250Z");
        assert_eq!(n, 24);
        assert!(bsd_prefix("Foo 11 22:14:15", reference, None).is_none());
        assert!(bsd_prefix("Oct 11 22:14", reference, None).is_none());
    }

    #[test]
    fn clf_and_epoch() {
        let (t, z) = clf("10/Oct/2000:13:55:36 -0700").expect("valid");
        assert_eq!(t.to_rfc3339(), "2000-10-10T20:55:36Z");
        assert_eq!(z.secs(), -25_200);
        assert!(clf("10/Foo/2000:13:55:36 -0700").is_none());
        assert_eq!(
            epoch("1331901000.000103")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2012-03-16T12:30:00.000103Z")
        );
        assert_eq!(
            epoch("1700000000123").map(|t| t.to_rfc3339()).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert!(epoch("12a").is_none());
        assert!(epoch("").is_none());
    }
}
