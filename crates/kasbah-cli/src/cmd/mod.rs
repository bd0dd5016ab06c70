//! One module per subcommand, plus the exit codes they share.

pub mod anomalies;
pub mod audit;
pub mod formats;
pub mod hunt;
pub mod parse;
pub mod rules;
pub mod search;
pub mod serve;
pub mod templates;
pub mod token;
pub mod user;

/// Something could not be done at all (unreadable input, bad option value).
pub const EXIT_ERROR: u8 = 1;
/// The work was done but some records were skipped as unparseable.
pub const EXIT_SKIPPED: u8 = 3;

/// Reads a time argument: a date (`2024-03-15`, midnight UTC) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<kasbah_event::Timestamp, String> {
    let s = s.trim();
    let full;
    let s = if s.len() == 10 {
        full = format!("{s}T00:00:00Z");
        full.as_str()
    } else {
        s
    };
    kasbah_parse::time::rfc3339(s, None)
        .map(|(t, _)| t)
        .ok_or_else(|| format!("'{s}' is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_arguments() {
        assert_eq!(
            super::parse_time("1970-01-02").map(|t| t.as_nanos()),
            Ok(86_400_000_000_000)
        );
        assert!(super::parse_time("1970-01-01T00:00:01Z").is_ok());
        assert!(super::parse_time("yesterday").is_err());
    }
}
