//! `kasbah formats`: the formats `--format` accepts.

use std::process::ExitCode;

use kasbah_parse::Format;

fn describe(f: Format) -> &'static str {
    match f {
        Format::Jsonl => {
            "JSON lines / arrays: ECS & Beats documents, Elasticsearch _bulk, Windows event JSON"
        }
        Format::Syslog => "syslog RFC 3164 / RFC 5424, newline or RFC 6587 octet-counting framing",
        Format::Cef => "ArcSight CEF, bare or after a syslog header",
        Format::Leef => "IBM QRadar LEEF 1.0 / 2.0",
        Format::Evtx => "Windows EVTX event log files",
        Format::WinXml => "Windows events as XML (wevtutil, Get-WinEvent exports)",
        Format::Zeek => "Zeek logs: TSV with #fields headers, or JSON",
        Format::Eve => "Suricata EVE JSON",
        Format::Access => "Apache / Nginx access logs (common, combined)",
        Format::Auth => "Linux auth.log / secure (sshd, sudo, su, PAM)",
        Format::Auditd => "Linux auditd records (multi-line events joined by serial)",
        Format::Kv => "key=value logs (firewalls)",
    }
}

/// Prints the table of formats.
pub fn run() -> anyhow::Result<ExitCode> {
    for f in Format::ALL {
        println!("{:<8} {}", f.name(), describe(f));
    }
    Ok(ExitCode::SUCCESS)
}
