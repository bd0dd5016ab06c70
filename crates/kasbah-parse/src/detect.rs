//! Format auto-detection from the first bytes of an input.
//!
//! Binary and document formats are recognised by their magic (EVTX's `ElfFile`, XML's `<Event`,
//! JSON's `{`/`[`, Zeek's `#separator` header). Line formats are decided by a vote over the first
//! lines: each line goes to the most specific format whose sniffer accepts it, and the format with
//! the most lines wins. Detection never fails: text nobody recognises is parsed as syslog, whose
//! parser keeps any line as a message.

use crate::format::Format;

/// How many non-empty lines vote.
const SAMPLE_LINES: usize = 32;

/// Guesses the format of `input`.
pub fn detect(input: &[u8]) -> Format {
    if input.starts_with(b"ElfFile\0") || input.starts_with(b"ElfChnk\0") {
        return Format::Evtx;
    }
    // XML saved by Windows PowerShell and Event Viewer is often UTF-16 with a byte order mark.
    if input.starts_with(b"\xFF\xFE<\0") || input.starts_with(b"\xFE\xFF\0<") {
        return Format::WinXml;
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let start = input
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(input.len());
    let head = &input[start..];
    if head.starts_with(b"<?xml") || head.starts_with(b"<Event") || head.starts_with(b"<Events") {
        return Format::WinXml;
    }
    if head.starts_with(b"#separator") || head.starts_with(b"#fields") {
        return Format::Zeek;
    }
    if head.starts_with(b"{") || head.starts_with(b"[") {
        return crate::json::sniff_kind(head);
    }
    let mut votes = [0usize; Format::ALL.len()];
    let sample = &head[..head.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(sample);
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(SAMPLE_LINES)
    {
        let f = sniff_line(line);
        if let Some(i) = Format::ALL.iter().position(|x| *x == f) {
            votes[i] += 1;
        }
    }
    let best = votes
        .iter()
        .enumerate()
        .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))
        .map(|(i, _)| Format::ALL[i]);
    match best {
        Some(f) if votes.iter().any(|v| *v > 0) => f,
        _ => Format::Syslog,
    }
}

/// The most specific format that accepts one line.
pub(crate) fn sniff_line(line: &str) -> Format {
    if crate::auditd::sniff(line) {
        Format::Auditd
    } else if crate::cef::sniff(line) {
        Format::Cef
    } else if crate::leef::sniff(line) {
        Format::Leef
    } else if crate::access::sniff(line) {
        Format::Access
    } else if crate::auth::sniff(line) {
        Format::Auth
    } else if crate::syslog::sniff(line) {
        Format::Syslog
    } else if crate::kv::sniff(line) {
        Format::Kv
    } else {
        Format::Syslog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_formats() {
        assert_eq!(detect(b"ElfFile\0rest"), Format::Evtx);
        assert_eq!(detect(b"  <?xml version=\"1.0\"?><Events>"), Format::WinXml);
        assert_eq!(detect(b"\xFF\xFE<\0?\0x\0"), Format::WinXml);
        assert_eq!(detect(b"#separator \\x09\n#fields\tts"), Format::Zeek);
        assert_eq!(detect(b""), Format::Syslog);
        assert_eq!(detect(b"\x00\x01\x02garbage"), Format::Syslog);
    }
}
