//! Event timestamps: UTC nanoseconds plus the offset the source wrote them in.

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// An instant in UTC, nanoseconds since the Unix epoch (covers years 1678 to 2262).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// The UTC offset of the original timestamp, in seconds east of UTC.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TzOffset(i32);

impl Timestamp {
    /// From nanoseconds since the epoch.
    pub const fn from_nanos(n: i64) -> Self {
        Timestamp(n)
    }

    /// From whole seconds and a nanosecond part; `None` if out of range.
    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Option<Self> {
        secs.checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(i64::from(nanos)))
            .map(Timestamp)
    }

    /// From fractional seconds since the epoch (Zeek, Suricata flow times); `None` if out of range.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        let nanos = secs * 1e9;
        if nanos.is_finite() && nanos.abs() < 9.2e18 {
            Some(Timestamp(nanos as i64))
        } else {
            None
        }
    }

    /// From a chrono date-time in any zone.
    pub fn from_datetime<Tz: chrono::TimeZone>(dt: &DateTime<Tz>) -> Option<Self> {
        dt.timestamp_nanos_opt().map(Timestamp)
    }

    /// The current time.
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// As a chrono UTC date-time.
    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// RFC 3339 in UTC with as many fractional digits as needed (`2024-05-01T10:00:00.5Z`).
    pub fn to_rfc3339(self) -> String {
        self.to_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// RFC 3339 in the given original offset.
    pub fn to_rfc3339_in(self, tz: TzOffset) -> String {
        match FixedOffset::east_opt(tz.0) {
            Some(off) => self
                .to_utc()
                .with_timezone(&off)
                .to_rfc3339_opts(SecondsFormat::AutoSi, false),
            None => self.to_rfc3339(),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl TzOffset {
    /// UTC itself.
    pub const UTC: TzOffset = TzOffset(0);

    /// From seconds east of UTC; `None` outside +-24 h.
    pub fn from_secs(secs: i32) -> Option<Self> {
        (secs.abs() < 86_400).then_some(TzOffset(secs))
    }

    /// Seconds east of UTC.
    pub fn secs(self) -> i32 {
        self.0
    }
}

impl fmt::Display for TzOffset {
    /// ECS `event.timezone` form: `+02:00`, `-05:30`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_and_original_offset() {
        let t = Timestamp::from_secs_nanos(1_700_000_000, 500_000_000).expect("in range");
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.500Z");
        let tz = TzOffset::from_secs(2 * 3600).expect("valid");
        assert_eq!(t.to_rfc3339_in(tz), "2023-11-15T00:13:20.500+02:00");
        assert_eq!(tz.to_string(), "+02:00");
        assert_eq!(
            TzOffset::from_secs(-19800)
                .map(|t| t.to_string())
                .as_deref(),
            Some("-05:30")
        );
    }

    #[test]
    fn rejects_out_of_range() {
        assert!(Timestamp::from_secs_nanos(i64::MAX / 10, 0).is_none());
        assert!(Timestamp::from_secs_f64(f64::NAN).is_none());
        assert!(TzOffset::from_secs(90_000).is_none());
    }
}
