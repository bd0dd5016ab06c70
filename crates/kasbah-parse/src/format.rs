//! The formats Kasbah parses.

use std::fmt;
use std::str::FromStr;

/// A log format. `kasbah parse --format NAME` accepts [`Format::name`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// JSON lines or JSON arrays: ECS/Beats documents, Elasticsearch `_bulk` bodies, Windows event
    /// JSON, and any other JSON object (flattened to dotted names).
    Jsonl,
    /// Syslog RFC 3164 and RFC 5424, newline or RFC 6587 octet-counting framing.
    Syslog,
    /// ArcSight Common Event Format, bare or after a syslog header.
    Cef,
    /// IBM QRadar Log Event Extended Format 1.0 and 2.0.
    Leef,
    /// Windows EVTX binary event log files.
    Evtx,
    /// Windows events rendered as XML (`<Event xmlns=...>`, wevtutil / Get-WinEvent exports).
    WinXml,
    /// Zeek logs: TSV with `#fields` headers, or JSON.
    Zeek,
    /// Suricata EVE JSON.
    Eve,
    /// Apache / Nginx access logs (common and combined).
    Access,
    /// Linux `auth.log` / `secure`: sshd, sudo, su, PAM.
    Auth,
    /// Linux auditd records, multi-line events joined by serial.
    Auditd,
    /// `key=value` logs (firewalls: FortiGate, iptables, pfSense-style).
    Kv,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 12] = [
        Format::Jsonl,
        Format::Syslog,
        Format::Cef,
        Format::Leef,
        Format::Evtx,
        Format::WinXml,
        Format::Zeek,
        Format::Eve,
        Format::Access,
        Format::Auth,
        Format::Auditd,
        Format::Kv,
    ];

    /// The short name used on the command line and in `event.module`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Syslog => "syslog",
            Format::Cef => "cef",
            Format::Leef => "leef",
            Format::Evtx => "evtx",
            Format::WinXml => "xml",
            Format::Zeek => "zeek",
            Format::Eve => "eve",
            Format::Access => "access",
            Format::Auth => "auth",
            Format::Auditd => "auditd",
            Format::Kv => "kv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown format name.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown format {0:?} (expected one of: jsonl, syslog, cef, leef, evtx, xml, zeek, eve, access, auth, auditd, kv)"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let alias = match lower.as_str() {
            "json" | "ndjson" | "ecs" | "bulk" => Some(Format::Jsonl),
            "winxml" | "windows-xml" => Some(Format::WinXml),
            "suricata" => Some(Format::Eve),
            "apache" | "nginx" | "clf" => Some(Format::Access),
            "audit" => Some(Format::Auditd),
            "keyvalue" | "key-value" => Some(Format::Kv),
            _ => None,
        };
        alias
            .or_else(|| Format::ALL.into_iter().find(|f| f.name() == lower))
            .ok_or(UnknownFormat(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().ok(), Some(f));
        }
        assert_eq!("Suricata".parse::<Format>().ok(), Some(Format::Eve));
        assert!("pcap".parse::<Format>().is_err());
    }
}
