//! `key=value` logs, the lingua franca of firewalls: FortiGate, Linux netfilter (iptables, UFW),
//! pfSense/OPNsense-style and generic appliance or application `k=v` lines, bare or behind any
//! syslog header [`crate::syslog`] reads.
//!
//! Tokens are `key=value` pairs whose value is bare, `"double"` or `'single'` quoted (backslash
//! escapes `\"`, `\'`, `\\` inside quotes), separated by spaces; a line that consistently separates
//! its pairs with `,` or `;` is split on that instead (values may then contain spaces). Keys are
//! ASCII letters, digits and `_ - . @`. Tokens without `=`:
//!
//! * before the first pair: the log prefix (`[UFW BLOCK]`, an iptables `--log-prefix`), kept as
//!   `log_prefix` (minus a kernel uptime stamp) and searched for a verdict word;
//! * after pairs in netfilter lines: flags (`DF`, `SYN`, `ACK`, `OPT (...)`), kept as the list
//!   `flags`;
//! * after a bare value elsewhere: the rest of that value (`msg=User login failed`).
//!
//! Every pair is kept under its exact key (bare integers typed as integers, a repeated key as a
//! list); ECS fields are then filled by case-insensitive key: addresses, ports, MACs, bytes and
//! packets of `source`/`destination`, `network.transport` (protocol numbers to names),
//! `event.action` and its verdict (`allowed`/`denied` in `event.type`, `event.outcome`),
//! `user.name`, `observer.*`, `rule.*`, `message` and the event time (`date`+`time`[+`tz`] or an
//! epoch in s/ms/us/ns). See `docs/formats/kv.md` for the table.
//!
//! A line without a single pair is not this format (`KP005`).

use std::borrow::Cow;

use compact_str::CompactString;
use kasbah_event::{Event, Timestamp, TzOffset, Value, ecs};

use crate::driver::{Cx, LineParser, ParseOptions};
use crate::error::{ErrorCode, ParseError};
use crate::syslog::{self, StaticField, set_original};
use crate::{norm, time};

/// At most this many tokens (pairs and flags) of one record become fields; the rest of the line is
/// kept whole in `kv.unparsed`. Real firewall lines have under a hundred pairs, and setting a field
/// scans the ones already set, so an unbounded count would make hostile lines quadratic.
const MAX_TOKENS: usize = 256;

static LOG_PREFIX: StaticField = StaticField::new("log_prefix");
static UNPARSED: StaticField = StaticField::new("kv.unparsed");
static FLAGS: StaticField = StaticField::new("flags");
static INGRESS_IFACE: StaticField = StaticField::new("observer.ingress.interface.name");
static EGRESS_IFACE: StaticField = StaticField::new("observer.egress.interface.name");
static OBSERVER_TYPE: StaticField = StaticField::new("observer.type");
static OBSERVER_SERIAL: StaticField = StaticField::new("observer.serial_number");
static NETWORK_IANA: StaticField = StaticField::new("network.iana_number");
static NETWORK_APPLICATION: StaticField = StaticField::new("network.application");
static SOURCE_NAT_IP: StaticField = StaticField::new("source.nat.ip");
static DESTINATION_USER: StaticField = StaticField::new("destination.user.name");
static EVENT_REASON: StaticField = StaticField::new("event.reason");

/// One token of a line, as byte ranges into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// `key=value`; `quote` is the quote character if the value was quoted.
    Pair {
        key: (usize, usize),
        value: (usize, usize),
        quote: Option<u8>,
    },
    /// A token without `=`.
    Bare { start: usize, end: usize },
}

/// Bytes a key may hold: ASCII letters and digits, `_`, `-`, `.`, `@` (a table: this is tested
/// for every byte of every key).
const KEY_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@');
        c += 1;
    }
    t
};

fn is_key_byte(c: u8) -> bool {
    KEY_BYTES[usize::from(c)]
}

/// The tokens of a line: a hand-written single pass, no backtracking.
struct Tokens<'a> {
    b: &'a [u8],
    pos: usize,
    delim: Option<u8>,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str, delim: Option<u8>) -> Self {
        Tokens {
            b: s.as_bytes(),
            pos: 0,
            delim,
        }
    }

    fn is_sep(&self, c: u8) -> bool {
        c == b' ' || c == b'\t' || Some(c) == self.delim
    }

    /// Where a bare value or token ends: whitespace, or the delimiter in delimited mode.
    fn ends_bare(&self, c: u8) -> bool {
        match self.delim {
            Some(d) => c == d,
            None => c == b' ' || c == b'\t',
        }
    }

    /// The first position at or after `from` whose byte satisfies `stop` (the end if none).
    /// Scanning a slice, not indexing byte by byte, lets the compiler drop the bounds checks: the
    /// tokenizer was the largest cost of key=value parsing.
    fn find_stop(&self, from: usize, stop: impl Fn(u8) -> bool) -> usize {
        let rest = self.b.get(from..).unwrap_or_default();
        from + rest.iter().position(|&c| stop(c)).unwrap_or(rest.len())
    }
}

impl Iterator for Tokens<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        let b = self.b;
        let start = self.find_stop(self.pos, |c| !self.is_sep(c));
        self.pos = start;
        if start >= b.len() {
            return None;
        }
        let i = self.find_stop(start, |c| !is_key_byte(c));
        if i > start && b.get(i) == Some(&b'=') {
            let key = (start, i);
            let vs = i + 1;
            if let Some(&q) = b.get(vs).filter(|c| **c == b'"' || **c == b'\'') {
                let mut j = vs + 1;
                // An escaped byte never closes the value.
                while let Some(rest) = b.get(j..) {
                    match rest.iter().position(|&c| c == q || c == b'\\') {
                        Some(k) if rest.get(k) == Some(&b'\\') => j += k + 2,
                        Some(k) => {
                            j += k;
                            break;
                        }
                        None => {
                            j = b.len();
                            break;
                        }
                    }
                }
                let end = j.min(b.len());
                self.pos = (j + 1).min(b.len());
                return Some(Tok::Pair {
                    key,
                    value: (vs + 1, end),
                    quote: Some(q),
                });
            }
            let j = self.find_stop(vs, |c| self.ends_bare(c));
            self.pos = j;
            let (mut a, mut z) = (vs, j);
            if self.delim.is_some() {
                while a < z && matches!(b.get(a), Some(b' ' | b'\t')) {
                    a += 1;
                }
                while z > a && matches!(b.get(z - 1), Some(b' ' | b'\t')) {
                    z -= 1;
                }
            }
            return Some(Tok::Pair {
                key,
                value: (a, z),
                quote: None,
            });
        }
        let j = self.find_stop(start + 1, |c| self.ends_bare(c));
        self.pos = j;
        let mut end = j.min(b.len());
        if self.delim.is_some() {
            while end > start && matches!(b.get(end - 1), Some(b' ' | b'\t')) {
                end -= 1;
            }
        }
        Some(Tok::Bare { start, end })
    }
}

fn slice(s: &str, (a, z): (usize, usize)) -> &str {
    s.get(a..z).unwrap_or("")
}

/// `,` or `;` if every token of `s` split on it is a pair (at least two) and no bare value hides a
/// further ` key=` (which would mean spaces separate the pairs and the delimiter is inside values).
fn detect_delim(s: &str) -> Option<u8> {
    [b',', b';'].into_iter().find(|&d| {
        if memchr::memchr(d, s.as_bytes()).is_none() {
            return false;
        }
        let b = s.as_bytes();
        let mut pairs = 0usize;
        for t in Tokens::new(s, Some(d)) {
            let Tok::Pair { key, value, quote } = t else {
                return false;
            };
            // Every pair but the first must follow the delimiter (not just whitespace).
            if pairs > 0 {
                let before = b
                    .get(..key.0)
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .find(|c| !matches!(c, b' ' | b'\t'));
                if before != Some(&d) {
                    return false;
                }
            }
            if quote.is_none() {
                let v = slice(s, value);
                if v.contains([' ', '\t'])
                    && Tokens::new(v, None).any(|t| matches!(t, Tok::Pair { .. }))
                {
                    return false;
                }
            }
            pairs += 1;
        }
        pairs >= 2
    })
}

/// True if `msg` is mostly `key=value`: at least 3 pairs, and pairs are more than half the tokens.
pub(crate) fn looks_kv(msg: &str) -> bool {
    if memchr::memchr(b'=', msg.as_bytes()).is_none() {
        return false;
    }
    let (mut pairs, mut total) = (0usize, 0usize);
    for t in Tokens::new(msg, detect_delim(msg)).take(512) {
        total += 1;
        if matches!(t, Tok::Pair { .. }) {
            pairs += 1;
        }
    }
    pairs >= 3 && pairs * 2 > total
}

/// True if `line` looks like a kv record (after any syslog header).
pub(crate) fn sniff(line: &str) -> bool {
    looks_kv(syslog::strip_header(line))
}

/// A pair found on a line, by byte ranges.
#[derive(Clone, Copy, Debug)]
struct RawPair {
    key: (usize, usize),
    value: (usize, usize),
    quote: Option<u8>,
}

/// The tokens of one line, grouped. Kept in the parser so its buffers are reused.
#[derive(Default, Debug)]
struct Scan {
    pairs: Vec<RawPair>,
    flags: Vec<(usize, usize)>,
    /// End of the text before the first pair.
    prefix_end: usize,
    /// Netfilter (`IN=`, `OUT=`): bare tokens after pairs are flags.
    netfilter: bool,
    /// Where the text left unparsed after [`MAX_TOKENS`] tokens starts.
    unparsed: Option<usize>,
}

fn is_netfilter(msg: &str) -> bool {
    (msg.starts_with("IN=") || msg.contains(" IN=")) && msg.contains(" OUT=")
}

impl Scan {
    fn run(&mut self, msg: &str) {
        self.pairs.clear();
        self.flags.clear();
        self.unparsed = None;
        self.netfilter = is_netfilter(msg);
        let delim = if self.netfilter {
            None
        } else {
            detect_delim(msg)
        };
        let mut first = None;
        // What the previous token was: a bare-valued pair (index) or a flag (index).
        enum Last {
            BarePair(usize),
            Flag(usize),
            Other,
        }
        let mut last = Last::Other;
        for t in Tokens::new(msg, delim) {
            if self.pairs.len() + self.flags.len() >= MAX_TOKENS {
                self.unparsed = Some(match t {
                    Tok::Pair { key, .. } => key.0,
                    Tok::Bare { start, .. } => start,
                });
                break;
            }
            match t {
                Tok::Pair { key, value, quote } => {
                    first.get_or_insert(key.0);
                    self.pairs.push(RawPair { key, value, quote });
                    last = if quote.is_none() && delim.is_none() && !self.netfilter {
                        Last::BarePair(self.pairs.len() - 1)
                    } else {
                        Last::Other
                    };
                }
                Tok::Bare { start, end } => {
                    if first.is_none() {
                        continue;
                    }
                    let text = slice(msg, (start, end));
                    match last {
                        Last::Flag(i) if text.starts_with('(') => {
                            if let Some(f) = self.flags.get_mut(i) {
                                f.1 = end;
                            }
                        }
                        Last::BarePair(i) => {
                            if let Some(p) = self.pairs.get_mut(i) {
                                p.value.1 = end;
                            }
                        }
                        _ => {
                            self.flags.push((start, end));
                            last = Last::Flag(self.flags.len() - 1);
                        }
                    }
                }
            }
        }
        self.prefix_end = first.unwrap_or(msg.len());
    }
}

/// The text of a value, with quote escapes undone.
fn value_text<'a>(msg: &'a str, p: &RawPair) -> Cow<'a, str> {
    let raw = slice(msg, p.value);
    match p.quote {
        Some(q) if raw.contains('\\') => {
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    match chars.next() {
                        Some(n) if n == '\\' || n == char::from(q) => out.push(n),
                        Some(n) => {
                            out.push('\\');
                            out.push(n);
                        }
                        None => out.push('\\'),
                    }
                } else {
                    out.push(c);
                }
            }
            Cow::Owned(out)
        }
        _ => Cow::Borrowed(raw),
    }
}

/// A key in ASCII lower case, in `buf`; `None` if longer than the buffer (no mapping has such keys).
fn lower<'b>(key: &str, buf: &'b mut [u8; 24]) -> Option<&'b str> {
    let k = key.as_bytes();
    let dst = buf.get_mut(..k.len())?;
    dst.copy_from_slice(k);
    dst.make_ascii_lowercase();
    std::str::from_utf8(dst).ok()
}

/// Allowed (`Some(true)`) or denied (`Some(false)`) for a firewall verdict word.
fn verdict(action: &str) -> Option<bool> {
    const ALLOWED: &[&str] = &[
        "allow",
        "allowed",
        "accept",
        "accepted",
        "pass",
        "passed",
        "permit",
        "permitted",
        "close",
        "timeout",
        "client-rst",
        "server-rst",
    ];
    const DENIED: &[&str] = &[
        "deny",
        "denied",
        "drop",
        "dropped",
        "block",
        "blocked",
        "reject",
        "rejected",
        "discard",
        "discarded",
    ];
    if ALLOWED.iter().any(|a| a.eq_ignore_ascii_case(action)) {
        Some(true)
    } else if DENIED.iter().any(|a| a.eq_ignore_ascii_case(action)) {
        Some(false)
    } else {
        None
    }
}

/// `Some(true)` for a login action, `Some(false)` for a logout (`action=login` on appliances).
fn session_action(lower: &str) -> Option<bool> {
    match lower {
        "login" | "logon" | "log-in" | "auth" | "authenticate" | "authentication" => Some(true),
        "logout" | "logoff" | "log-out" => Some(false),
        _ => None,
    }
}

/// Success or failure from a status word (`status=failed`, `result=success`).
fn status_outcome(v: &str) -> Option<bool> {
    const OK: &[&str] = &["success", "succeeded", "successful", "ok"];
    const FAILED: &[&str] = &["fail", "failed", "failure", "error", "denied"];
    if OK.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        Some(true)
    } else if FAILED.iter().any(|w| w.eq_ignore_ascii_case(v)) {
        Some(false)
    } else {
        None
    }
}

/// ECS `network.transport` for a protocol name or IANA number.
fn transport(v: &str) -> Option<Cow<'static, str>> {
    if let Ok(n) = v.parse::<u8>() {
        return Some(Cow::Borrowed(match n {
            1 => "icmp",
            2 => "igmp",
            6 => "tcp",
            17 => "udp",
            47 => "gre",
            50 => "esp",
            51 => "ah",
            58 => "ipv6-icmp",
            132 => "sctp",
            _ => return None,
        }));
    }
    if v.is_empty() || v.len() > 16 || !v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    Some(match lower.as_str() {
        "icmpv6" | "ipv6icmp" | "icmp6" => Cow::Borrowed("ipv6-icmp"),
        _ => Cow::Owned(lower),
    })
}

/// A MAC address in ECS form (`00-1A-2B-3C-4D-5E`) from `:`/`-` separated hex octets.
fn ecs_mac(octets: &[&str]) -> Option<CompactString> {
    if octets.len() != 6
        || !octets
            .iter()
            .all(|o| o.len() == 2 && o.bytes().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    let mut out = CompactString::with_capacity(17);
    for (i, o) in octets.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&o.to_ascii_uppercase());
    }
    Some(out)
}

fn set_mac(e: &mut Event, id: kasbah_event::FieldId, v: &str) {
    let octets: Vec<&str> = v.split([':', '-']).collect();
    if let Some(m) = ecs_mac(&octets) {
        e.set(id, m);
    }
}

/// An epoch in seconds (optionally fractional), milliseconds, microseconds or nanoseconds, told
/// apart by the number of digits; or an RFC 3339 time.
fn any_time(v: &str, tz: Option<TzOffset>) -> Option<(Timestamp, Option<TzOffset>)> {
    let digits = v.bytes().all(|c| c.is_ascii_digit());
    if digits {
        let n: i64 = v.parse().ok()?;
        return match v.len() {
            9 | 10 => Timestamp::from_secs_nanos(n, 0),
            13 => Timestamp::from_secs_nanos(n / 1000, (n % 1000) as u32 * 1_000_000),
            16 => Timestamp::from_secs_nanos(n / 1_000_000, (n % 1_000_000) as u32 * 1000),
            19 => Some(Timestamp::from_nanos(n)),
            _ => None,
        }
        .map(|t| (t, None));
    }
    if let Some(t) = time::epoch(v) {
        return Some((t, None));
    }
    time::rfc3339(v, tz)
}

/// A zone as firewalls write it: `+0200`, `-07:00`, `UTC`, `GMT`, `Z`; as an RFC 3339 suffix.
fn zone_suffix(tz: &str) -> Option<&str> {
    let tz = tz.trim();
    if tz.eq_ignore_ascii_case("utc") || tz.eq_ignore_ascii_case("gmt") || tz == "Z" {
        return Some("Z");
    }
    let b = tz.as_bytes();
    let ok = matches!(b.first(), Some(b'+' | b'-'))
        && (tz.len() == 3 || tz.len() == 5 || tz.len() == 6)
        && b.iter().skip(1).all(|c| c.is_ascii_digit() || *c == b':');
    ok.then_some(tz)
}

/// The offset of a zone written as [`zone_suffix`] accepts.
fn zone_offset(tz: &str) -> Option<TzOffset> {
    let z = zone_suffix(tz)?;
    if z == "Z" {
        return Some(TzOffset::UTC);
    }
    let sign = if z.starts_with('-') { -1 } else { 1 };
    let digits: String = z.chars().filter(char::is_ascii_digit).collect();
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits
        .get(2..)
        .filter(|m| !m.is_empty())
        .map_or(Some(0), |m| m.parse().ok())?;
    if h > 23 || m > 59 {
        return None;
    }
    TzOffset::from_secs(sign * (h * 3600 + m * 60))
}

/// `date` + `time` (+ `tz`) as one instant.
fn date_time(
    date: &str,
    clock: &str,
    tz: Option<&str>,
    default_tz: Option<TzOffset>,
) -> Option<(Timestamp, Option<TzOffset>)> {
    use std::io::Write;
    if date.len() != 10 || clock.len() > 18 {
        return None;
    }
    let mut buf = [0u8; 48];
    let mut w = &mut buf[..];
    for c in date.bytes() {
        w.write_all(&[if c == b'/' { b'-' } else { c }]).ok()?;
    }
    write!(w, "T{clock}{}", tz.and_then(zone_suffix).unwrap_or("")).ok()?;
    let len = 48 - w.len();
    time::rfc3339(std::str::from_utf8(buf.get(..len)?).ok()?, default_tz)
}

/// What the mapping pass learnt that needs the whole record.
#[derive(Default)]
struct Found<'a> {
    date: Option<Cow<'a, str>>,
    clock: Option<Cow<'a, str>>,
    tz: Option<Cow<'a, str>>,
    instant: Option<(Timestamp, Option<TzOffset>)>,
    action: Option<Cow<'a, str>>,
    /// Success or failure from a `status`/`result` key.
    status: Option<bool>,
    /// FortiGate's log `type` (`traffic`, `utm`, `event`).
    log_type: Option<Cow<'a, str>>,
    network: bool,
    fortinet: bool,
}

/// The vendor a record came from, for `event.dataset` and `observer.*`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Vendor {
    Fortigate,
    Netfilter,
    Generic,
}

/// Fills ECS fields from the pairs (originals are already set).
fn map_ecs(msg: &str, scan: &Scan, e: &mut Event, opts: &ParseOptions) -> Vendor {
    let mut f = Found::default();
    let mut buf = [0u8; 24];
    for p in &scan.pairs {
        let Some(k) = lower(slice(msg, p.key), &mut buf) else {
            continue;
        };
        let v = value_text(msg, p);
        let vs: &str = &v;
        match k {
            "src" | "srcip" | "src_ip" | "srcaddr" | "src_addr" | "source_ip" | "sourceip"
            | "source_address" | "saddr" | "ip.src" | "client_ip" | "clientip" | "remote_ip"
            | "remote_addr" => {
                f.network |= norm::set_ip(e, ecs::SOURCE_IP, vs);
            }
            "dst"
            | "dstip"
            | "dst_ip"
            | "dstaddr"
            | "dst_addr"
            | "destination_ip"
            | "destinationip"
            | "destination_address"
            | "daddr"
            | "ip.dst" => {
                f.network |= norm::set_ip(e, ecs::DESTINATION_IP, vs);
            }
            "spt" | "sport" | "srcport" | "src_port" | "source_port" | "s_port" => {
                f.network |= norm::set_port(e, ecs::SOURCE_PORT, vs);
            }
            "dpt" | "dport" | "dstport" | "dst_port" | "destination_port" | "d_port" => {
                f.network |= norm::set_port(e, ecs::DESTINATION_PORT, vs);
            }
            "mac" => {
                // netfilter: destination MAC, source MAC, ethertype.
                let octets: Vec<&str> = vs.split(':').collect();
                if octets.len() >= 12
                    && let (Some(d), Some(s)) = (octets.get(..6), octets.get(6..12))
                {
                    if let Some(m) = ecs_mac(d) {
                        e.set(ecs::DESTINATION_MAC, m);
                    }
                    if let Some(m) = ecs_mac(s) {
                        e.set(ecs::SOURCE_MAC, m);
                    }
                }
            }
            "srcmac" | "src_mac" | "smac" | "source_mac" => set_mac(e, ecs::SOURCE_MAC, vs),
            "dstmac" | "dst_mac" | "dmac" | "destination_mac" => {
                set_mac(e, ecs::DESTINATION_MAC, vs);
            }
            "sentbyte" | "sentbytes" | "sent_bytes" | "bytes_sent" | "bytes_out" | "out_bytes"
            | "src_bytes" => {
                norm::set_int(e, ecs::SOURCE_BYTES, vs);
            }
            "rcvdbyte" | "rcvdbytes" | "rcvd_bytes" | "bytes_received" | "recv_bytes"
            | "bytes_in" | "in_bytes" | "dst_bytes" => {
                norm::set_int(e, ecs::DESTINATION_BYTES, vs);
            }
            "sentpkt" | "sentpkts" | "packets_sent" | "pkts_sent" | "src_packets" => {
                norm::set_int(e, ecs::SOURCE_PACKETS, vs);
            }
            "rcvdpkt" | "rcvdpkts" | "packets_received" | "pkts_received" | "dst_packets" => {
                norm::set_int(e, ecs::DESTINATION_PACKETS, vs);
            }
            "bytes" => {
                norm::set_int(e, ecs::NETWORK_BYTES, vs);
            }
            "packets" => {
                norm::set_int(e, ecs::NETWORK_PACKETS, vs);
            }
            "proto" | "protocol" | "ip_proto" => {
                if vs.bytes().all(|c| c.is_ascii_digit()) && !vs.is_empty() {
                    NETWORK_IANA.set(e, vs);
                }
                if let Some(t) = transport(vs) {
                    e.set(ecs::NETWORK_TRANSPORT, &*t);
                }
            }
            "action" | "act" | "fw_action" | "disposition" | "verdict" if !vs.is_empty() => {
                f.action = Some(v.clone());
            }
            "user" | "username" | "user_name" | "usrname" | "srcuser" | "src_user" | "suser"
            | "login" => norm::set_str(e, ecs::USER_NAME, vs),
            "dstuser" | "dst_user" | "duser" => DESTINATION_USER.set_str(e, vs),
            "devname" | "devicename" | "device_name" | "dvchost" | "observer" | "fw"
            | "firewall" => {
                norm::set_str(e, ecs::OBSERVER_NAME, vs);
            }
            "hostname" | "host" => norm::set_str(e, ecs::HOST_NAME, vs),
            "devid" => {
                OBSERVER_SERIAL.set_str(e, vs);
                f.fortinet |= vs.starts_with("FG") || vs.starts_with("FW");
            }
            "logid" => {
                norm::set_str(e, ecs::EVENT_CODE, vs);
                f.fortinet = true;
            }
            "msg" | "message" => norm::set_str(e, ecs::MESSAGE, vs),
            "date" => f.date = Some(v.clone()),
            "time" if vs.contains(':') && vs.len() <= 18 && !vs.contains('T') => {
                f.clock = Some(v.clone());
            }
            "tz" | "timezone" => f.tz = Some(v.clone()),
            "time" | "eventtime" | "epoch" | "timestamp" | "ts" | "unixtime" | "unix_time"
                if f.instant.is_none() =>
            {
                f.instant = any_time(vs, opts.default_tz);
            }
            "in" | "srcintf" | "src_intf" | "inbound_interface" | "ingress_interface" => {
                INGRESS_IFACE.set_str(e, vs);
            }
            "out" | "dstintf" | "dst_intf" | "outbound_interface" | "egress_interface" => {
                EGRESS_IFACE.set_str(e, vs);
            }
            "dir" | "direction" => {
                let d = match vs.to_ascii_lowercase().as_str() {
                    "in" | "ingress" => "ingress",
                    "out" | "egress" => "egress",
                    "inbound" => "inbound",
                    "outbound" => "outbound",
                    "internal" => "internal",
                    "external" => "external",
                    _ => "",
                };
                norm::set_str(e, ecs::NETWORK_DIRECTION, d);
            }
            "policyid" | "policy_id" | "ruleid" | "rule_id" | "rule" | "rulenum" => {
                norm::set_str(e, ecs::RULE_ID, vs);
            }
            "policyname" | "policy_name" | "rulename" | "rule_name" => {
                norm::set_str(e, ecs::RULE_NAME, vs);
            }
            "level" => norm::set_str(e, ecs::LOG_LEVEL, &vs.to_ascii_lowercase()),
            "app" | "application" if !vs.is_empty() => {
                NETWORK_APPLICATION.set(e, vs.to_ascii_lowercase());
            }
            "transip" if vs.parse::<std::net::IpAddr>().is_ok() => {
                SOURCE_NAT_IP.set(e, vs);
            }
            "url" => norm::set_url(e, vs),
            "reason" => EVENT_REASON.set_str(e, vs),
            "status" | "result" | "outcome" => f.status = status_outcome(vs).or(f.status),
            "type" => f.log_type = Some(v.clone()),
            "duration" => {
                if let Ok(s) = vs.parse::<i64>()
                    && let Some(ns) = s.checked_mul(1_000_000_000)
                {
                    e.set(ecs::EVENT_DURATION, ns);
                }
            }
            _ => {}
        }
    }
    // Time: an absolute epoch wins, then date + time (+ tz).
    let written_tz = f.tz.as_deref().and_then(zone_offset);
    if let Some((t, z)) = f.instant {
        e.timestamp = t;
        e.tz = z.or(written_tz).or(e.tz);
    } else if let (Some(d), Some(c)) = (&f.date, &f.clock) {
        if let Some((t, z)) = date_time(d, c, f.tz.as_deref(), opts.default_tz) {
            e.timestamp = t;
            e.tz = z;
        }
    } else if let Some(d) = &f.date
        && let Some((t, z)) = time::rfc3339(d, opts.default_tz)
    {
        e.timestamp = t;
        e.tz = z;
    }
    // Verdict: the action key, else a verdict word in the log prefix (`[UFW BLOCK]`).
    let prefix = prefix_text(msg, scan);
    let action: Option<Cow<'_, str>> = f.action.or_else(|| {
        prefix
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| verdict(w).is_some())
            .map(Cow::Borrowed)
    });
    let mut categories = Vec::with_capacity(2);
    let mut types = Vec::with_capacity(2);
    let mut outcome = f.status;
    if let Some(a) = &action {
        let lower = a.to_ascii_lowercase();
        match (verdict(a), session_action(&lower)) {
            (Some(allowed), _) => {
                types.push(Value::str(if allowed { "allowed" } else { "denied" }));
                outcome = Some(allowed);
            }
            (None, Some(start)) => {
                categories.push(Value::str("authentication"));
                types.push(Value::str(if start { "start" } else { "end" }));
            }
            (None, None) => {}
        }
        e.set(ecs::EVENT_ACTION, lower);
    }
    if f.fortinet && f.log_type.as_deref() == Some("utm") {
        categories.insert(0, Value::str("intrusion_detection"));
    }
    if f.network || !types.is_empty() {
        if categories.is_empty() || f.network {
            categories.push(Value::str("network"));
        }
        if types.is_empty() {
            types.push(Value::str("connection"));
        }
    }
    if !categories.is_empty() {
        e.set(ecs::EVENT_CATEGORY, Value::List(categories));
        e.set(ecs::EVENT_TYPE, Value::List(types));
    }
    if let Some(ok) = outcome {
        e.set(ecs::EVENT_OUTCOME, if ok { "success" } else { "failure" });
    }
    let vendor = if f.fortinet {
        Vendor::Fortigate
    } else if scan.netfilter {
        Vendor::Netfilter
    } else {
        Vendor::Generic
    };
    match vendor {
        Vendor::Fortigate => {
            e.set(ecs::OBSERVER_VENDOR, "Fortinet");
            e.set(ecs::OBSERVER_PRODUCT, "FortiGate");
            OBSERVER_TYPE.set(e, "firewall");
        }
        Vendor::Netfilter => {
            // Seen from the logging host: only IN is arriving, only OUT is leaving.
            let iface = |k: &str| {
                scan.pairs
                    .iter()
                    .find(|p| slice(msg, p.key) == k)
                    .is_some_and(|p| p.value.1 > p.value.0)
            };
            match (iface("IN"), iface("OUT")) {
                (true, false) => e.set(ecs::NETWORK_DIRECTION, "ingress"),
                (false, true) => e.set(ecs::NETWORK_DIRECTION, "egress"),
                _ => {}
            }
            let ufw = prefix.contains("UFW");
            e.set(ecs::OBSERVER_PRODUCT, if ufw { "ufw" } else { "iptables" });
            OBSERVER_TYPE.set(e, "firewall");
        }
        Vendor::Generic => {}
    }
    vendor
}

/// The text before the first pair, without a kernel uptime stamp (`[12345.678901]`).
fn prefix_text<'a>(msg: &'a str, scan: &Scan) -> &'a str {
    let p = msg.get(..scan.prefix_end).unwrap_or("").trim();
    if let Some(rest) = p.strip_prefix('[')
        && let Some((stamp, after)) = rest.split_once(']')
        && stamp
            .trim()
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'.')
    {
        return after.trim();
    }
    p
}

/// Sets the original fields: every pair under its key, then `log_prefix` and `flags`.
fn set_originals(msg: &str, scan: &Scan, e: &mut Event) {
    for p in &scan.pairs {
        let key = slice(msg, p.key);
        let value = match p.quote {
            Some(_) => Value::str(&value_text(msg, p)),
            None => Value::infer(slice(msg, p.value)),
        };
        set_original(e, key, value);
    }
    let prefix = prefix_text(msg, scan);
    if !prefix.is_empty() {
        LOG_PREFIX.set(e, prefix);
    }
    if let Some(rest) = scan.unparsed.and_then(|i| msg.get(i..)) {
        UNPARSED.set(e, rest);
    }
    if !scan.flags.is_empty() {
        FLAGS.set(
            e,
            Value::List(
                scan.flags
                    .iter()
                    .map(|f| Value::str(slice(msg, *f)))
                    .collect(),
            ),
        );
    }
}

/// Enriches a kernel syslog message that is a netfilter log line (`IN=... OUT=... SRC=...`).
pub(crate) fn enrich_netfilter(msg: &str, e: &mut Event) -> bool {
    if !is_netfilter(msg) || !msg.contains("SRC=") {
        return false;
    }
    let mut scan = Scan::default();
    scan.run(msg);
    set_originals(msg, &scan, e);
    let opts = ParseOptions {
        received: e.received,
        ..ParseOptions::default()
    };
    map_ecs(msg, &scan, e, &opts);
    true
}

/// Parses kv records line by line.
#[derive(Default)]
pub struct KvParser {
    scan: Scan,
}

impl LineParser for KvParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let header = syslog::scan(line, cx.opts).ok().flatten();
        let msg = header.as_ref().map_or(line, |h| h.msg);
        self.scan.run(msg);
        if self.scan.pairs.is_empty() {
            return Err(ParseError::new(
                ErrorCode::WrongFormat,
                format!(
                    "not a key=value record: no key=value pair in {:?}",
                    syslog::excerpt(msg)
                ),
            ));
        }
        let mut e = cx.new_event(record, Some(line));
        e.set(
            ecs::EVENT_KIND,
            Value::Str(CompactString::const_new("event")),
        );
        e.set(
            ecs::EVENT_MODULE,
            Value::Str(CompactString::const_new("kv")),
        );
        if let Some(h) = &header {
            syslog::apply_header(h, &mut e);
        }
        set_originals(msg, &self.scan, &mut e);
        let vendor = map_ecs(msg, &self.scan, &mut e, cx.opts);
        let dataset = match vendor {
            Vendor::Fortigate => "kv.fortigate",
            Vendor::Netfilter => "kv.netfilter",
            Vendor::Generic => "kv.generic",
        };
        e.set(
            ecs::EVENT_DATASET,
            Value::Str(CompactString::const_new(dataset)),
        );
        cx.emit(e);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
