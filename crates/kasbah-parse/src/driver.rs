//! Drives a parser over an input: record splitting, size limits, error reporting, counting.

use std::net::SocketAddr;
use std::sync::Arc;

use kasbah_event::{Event, Source, TenantId, Timestamp, TzOffset};

use crate::error::{BadRecord, ErrorCode, ParseError};
use crate::format::Format;

/// A record's bytes as text, invalid UTF-8 replaced by U+FFFD. Validates with `str::from_utf8`
/// first: it checks ASCII a word at a time, while `String::from_utf8_lossy` walks byte by byte
/// (4% of a syslog input's CPU), and nearly every record is valid.
pub fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Options shared by every parser.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// Tenant stamped on every event.
    pub tenant: TenantId,
    /// Receive time stamped on every event; also the reference for year-less timestamps.
    pub received: Timestamp,
    /// Zone assumed for timestamps that carry none (RFC 3164, auth.log, CLF without offset).
    /// `None`: UTC.
    pub default_tz: Option<TzOffset>,
    /// Records (lines, messages, JSON documents) longer than this are skipped with `KP001`.
    pub max_record_bytes: usize,
    /// Keep the original record on each event (`Event::raw`).
    pub keep_raw: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            tenant: TenantId::DEFAULT,
            received: Timestamp::now(),
            default_tz: None,
            max_record_bytes: 1 << 20,
            keep_raw: true,
        }
    }
}

/// Where the input comes from; each event's [`Source`] is derived from it.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A file, by the path the user gave.
    File(Arc<str>),
    /// A network peer of a named input.
    Peer {
        /// Input name.
        input: Arc<str>,
        /// Peer address.
        addr: SocketAddr,
    },
    /// A named input without peer address.
    Input(Arc<str>),
}

/// What a parse produces, in input order.
#[derive(Debug)]
pub enum Item {
    /// A parsed event.
    Event(Box<Event>),
    /// A skipped record.
    Bad(BadRecord),
}

/// Counts kept while parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Events emitted.
    pub events: u64,
    /// Records skipped.
    pub bad: u64,
}

/// The parsing context: options, origin and the sink events go to.
pub struct Cx<'a> {
    /// Options in force.
    pub opts: &'a ParseOptions,
    origin: &'a Origin,
    sink: &'a mut dyn FnMut(Item),
    stats: ParseStats,
}

impl<'a> Cx<'a> {
    /// A context that sends items to `sink`.
    pub fn new(opts: &'a ParseOptions, origin: &'a Origin, sink: &'a mut dyn FnMut(Item)) -> Self {
        Cx {
            opts,
            origin,
            sink,
            stats: ParseStats::default(),
        }
    }

    /// A fresh event for record number `record`, with tenant, receive time and source set, and
    /// `raw` kept if the options say so.
    pub fn new_event(&self, record: u64, raw: Option<&str>) -> Event {
        let source = match self.origin {
            Origin::File(path) => Source::File {
                path: path.clone(),
                record,
            },
            Origin::Peer { input, addr } => Source::Peer {
                input: input.clone(),
                addr: *addr,
            },
            Origin::Input(name) => Source::Input { name: name.clone() },
        };
        let mut e = Event::new(self.opts.received, source);
        e.tenant = self.opts.tenant;
        if self.opts.keep_raw {
            e.raw = raw.map(Box::from);
        }
        e
    }

    /// Emits an event.
    pub fn emit(&mut self, event: Event) {
        self.stats.events += 1;
        (self.sink)(Item::Event(Box::new(event)));
    }

    /// Reports a skipped record.
    pub fn bad(&mut self, record: u64, error: ParseError) {
        self.stats.bad += 1;
        (self.sink)(Item::Bad(BadRecord { record, error }));
    }

    /// Counts so far.
    pub fn stats(&self) -> ParseStats {
        self.stats
    }
}

/// A parser fed one line or framed message at a time; the form the server's stream inputs use.
pub trait LineParser: Send {
    /// Parses one record (without its line terminator). Emits zero or more events through `cx`
    /// (zero for headers and for records buffered until their event is complete).
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError>;

    /// End of input: emits whatever is still buffered.
    fn finish(&mut self, _cx: &mut Cx<'_>) {}
}

/// A [`LineParser`] for a line-oriented format; `None` for formats that need the whole input
/// (EVTX, Windows XML). JSON-based formats parse one document per line.
pub fn line_parser(format: Format) -> Option<Box<dyn LineParser>> {
    match format {
        Format::Jsonl | Format::Eve => Some(Box::new(crate::json::JsonLines::new(format))),
        Format::Syslog => Some(Box::new(crate::syslog::SyslogParser)),
        Format::Cef => Some(Box::new(crate::cef::CefParser)),
        Format::Leef => Some(Box::new(crate::leef::LeefParser)),
        Format::Zeek => Some(Box::new(crate::zeek::ZeekParser::default())),
        Format::Access => Some(Box::new(crate::access::AccessParser)),
        Format::Auth => Some(Box::new(crate::auth::AuthParser)),
        Format::Auditd => Some(Box::new(crate::auditd::AuditdParser::default())),
        Format::Kv => Some(Box::new(crate::kv::KvParser::default())),
        Format::Evtx | Format::WinXml => None,
    }
}

/// The parser for messages received from the network as syslog: each message goes to the
/// syslog parser, or to the key=value parser when its payload is `key=value` pairs after a
/// syslog header (FortiGate, pfSense and other firewalls send that, often without an app tag),
/// exactly as format detection would decide for a file.
pub fn network_syslog_parser() -> Box<dyn LineParser> {
    Box::new(NetworkSyslog {
        syslog: crate::syslog::SyslogParser,
        kv: crate::kv::KvParser::default(),
    })
}

struct NetworkSyslog {
    syslog: crate::syslog::SyslogParser,
    kv: crate::kv::KvParser,
}

impl LineParser for NetworkSyslog {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        if crate::syslog::routes_to_kv(line, cx.opts) {
            self.kv.parse_line(line, record, cx)
        } else {
            self.syslog.parse_line(line, record, cx)
        }
    }
}

/// Splits `input` into lines and feeds them to `parser`: strips `\r\n`, a leading UTF-8 BOM and
/// blank lines, replaces invalid UTF-8 with U+FFFD, and skips lines over the size limit.
pub fn for_each_line(input: &[u8], parser: &mut dyn LineParser, cx: &mut Cx<'_>) {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let max = cx.opts.max_record_bytes;
    let mut lineno = 0u64;
    let mut start = 0usize;
    while start < input.len() {
        lineno += 1;
        let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i);
        let mut line = &input[start..end];
        start = end + 1;
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if line.len() > max {
            cx.bad(
                lineno,
                ParseError::new(
                    ErrorCode::TooLong,
                    format!("line of {} bytes exceeds the limit of {max}", line.len()),
                ),
            );
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = text_of(line);
        if let Err(e) = parser.parse_line(&text, lineno, cx) {
            cx.bad(lineno, e);
        }
    }
    parser.finish(cx);
}

/// Parses a whole input in `format` (detected when `None`), sending every event and every bad
/// record to `sink`. Returns the format used and the counts.
pub fn parse_bytes(
    input: &[u8],
    format: Option<Format>,
    origin: &Origin,
    opts: &ParseOptions,
    sink: &mut dyn FnMut(Item),
) -> (Format, ParseStats) {
    let format = format.unwrap_or_else(|| crate::detect(input));
    let mut cx = Cx::new(opts, origin, sink);
    match format {
        Format::Evtx => crate::evtx::parse(input, &mut cx),
        Format::WinXml => crate::winxml::parse(input, &mut cx),
        Format::Jsonl | Format::Eve => crate::json::parse(input, format, &mut cx),
        Format::Syslog => crate::syslog::parse(input, &mut cx),
        Format::Zeek => crate::zeek::parse(input, &mut cx),
        other => {
            // Every remaining format is line-oriented.
            if let Some(mut p) = line_parser(other) {
                for_each_line(input, p.as_mut(), &mut cx);
            }
        }
    }
    (format, cx.stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl LineParser for Echo {
        fn parse_line(
            &mut self,
            line: &str,
            record: u64,
            cx: &mut Cx<'_>,
        ) -> Result<(), ParseError> {
            if line == "bad" {
                return Err(ParseError::syntax("bad line"));
            }
            let mut e = cx.new_event(record, Some(line));
            e.set(kasbah_event::ecs::MESSAGE, line);
            cx.emit(e);
            Ok(())
        }
    }

    #[test]
    fn lines_are_split_numbered_and_limited() {
        let opts = ParseOptions {
            max_record_bytes: 8,
            ..Default::default()
        };
        let origin = Origin::File(Arc::from("t.log"));
        let mut items = Vec::new();
        let mut sink = |i: Item| items.push(i);
        let mut cx = Cx::new(&opts, &origin, &mut sink);
        for_each_line(
            b"\xEF\xBB\xBFone\r\n\n  \nbad\nfar too long line\n\xFFx",
            &mut Echo,
            &mut cx,
        );
        let stats = cx.stats();
        assert_eq!(stats, ParseStats { events: 2, bad: 2 });
        let summary: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Event(e) => format!(
                    "{:?}:{}",
                    e.source,
                    e.get(kasbah_event::ecs::MESSAGE)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                Item::Bad(b) => format!("bad {} {}", b.record, b.error.code),
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                "File { path: \"t.log\", record: 1 }:one".to_string(),
                "bad 4 KP002".to_string(),
                "bad 5 KP001".to_string(),
                "File { path: \"t.log\", record: 6 }:\u{FFFD}x".to_string(),
            ]
        );
    }

    #[test]
    fn a_network_syslog_stream_mixes_payloads_line_by_line() {
        // A relay forwards a firewall's key=value logs, an IDS's CEF, a SIEM's LEEF and sshd on
        // one connection: each line goes to the parser of its own payload. CEF and LEEF carry
        // key=value extensions and were read as generic key=value records before.
        let lines = [
            "<189>Mar  1 00:00:00 fw-edge-00 date=2024-03-01 time=00:00:00 devname=\"fw-edge-00\" srcip=10.0.0.1 dstip=10.0.0.2 action=\"deny\"",
            "<134>Mar  1 00:00:04 ids-01 CEF:0|Vendor|IDS|5.5|2688|Suspicious traffic|9|rt=1709251204000 src=192.0.2.1 dst=10.0.0.3 dpt=443 act=Block request=http://h/p?id\\=8",
            "<134>Mar  1 00:00:05 qradar LEEF:1.0|Vendor|Prod|1.0|EvtA|src=192.0.2.9\tdst=10.0.0.4\tusrName=bob",
            "<38>Mar  1 00:00:06 srv-01 sshd[7]: Failed password for root from 192.0.2.5 port 4242 ssh2",
        ];
        let opts = crate::testutil::reference_opts();
        let origin = Origin::File(Arc::from("tcp"));
        let mut items = Vec::new();
        let mut sink = |i: Item| items.push(i);
        let mut cx = Cx::new(&opts, &origin, &mut sink);
        let mut parser = network_syslog_parser();
        for (n, line) in lines.iter().enumerate() {
            parser.parse_line(line, n as u64 + 1, &mut cx).unwrap();
        }
        let got: Vec<(String, String)> = items
            .iter()
            .map(|i| match i {
                Item::Event(e) => (
                    crate::testutil::s(e, "event.module")
                        .unwrap_or("")
                        .to_string(),
                    crate::testutil::s(e, "event.dataset")
                        .unwrap_or("")
                        .to_string(),
                ),
                Item::Bad(b) => panic!("bad record: {b}"),
            })
            .collect();
        let modules: Vec<&str> = got.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(modules, ["kv", "cef", "leef", "syslog"], "{got:?}");
        let Item::Event(cef) = &items[1] else {
            unreachable!()
        };
        // The CEF fields, with its escapes undone and its own time (rt) as event time.
        assert_eq!(
            crate::testutil::s(cef, "url.original"),
            Some("http://h/p?id=8")
        );
        assert_eq!(crate::testutil::s(cef, "source.ip"), Some("192.0.2.1"));
        assert_eq!(
            cef.timestamp.to_string(),
            "2024-03-01T00:00:04Z",
            "event time from rt"
        );
    }
}
