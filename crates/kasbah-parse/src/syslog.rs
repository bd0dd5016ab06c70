//! Syslog: RFC 5424, RFC 3164 (BSD) and the vendor variants seen in practice, framed by newlines
//! or by RFC 6587 octet counting.
//!
//! Accepted headers (PRI `<N>` is optional everywhere except RFC 5424):
//!
//! * RFC 5424: `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`, with
//!   `-` for nil values, fractional seconds and offsets, several SD elements with the `\"` `\\`
//!   `\]` escapes, and a UTF-8 BOM before MSG;
//! * RFC 3164: `[<PRI>]TIMESTAMP [HOSTNAME ]TAG[PID]: MSG` where TIMESTAMP is BSD
//!   (`Oct 11 22:14:15`, year from `ParseOptions::received`), BSD with fraction and/or a year after
//!   the time, `Mmm dd yyyy hh:mm:ss` (Cisco ASA), or RFC 3339 / ISO 8601 (rsyslog's
//!   high-precision format, many appliances); hostname and tag are each optional;
//! * Cisco IOS: `[<PRI>][SEQ: ][*|.]Mmm dd hh:mm:ss.mmm[ TZ]: %FAC-SEV-MNEMONIC: text`, also after
//!   a relay's own BSD header.
//!
//! The header fills `log.syslog.*`, `host.name`, `process.name`/`process.pid`, `log.level` and
//! `event.severity`; RFC 5424 structured data becomes original fields `<SD-ID>.<PARAM-NAME>`. The
//! message is then handed on by payload: `CEF:` and `LEEF:` to their parsers, authentication
//! programs (sshd, sudo, su, PAM, ...) to [`crate::auth`] and kernel netfilter lines to
//! [`crate::kv`] for ECS enrichment; anything else stays a plain `message`.
//!
//! Detection falls back to syslog for text nobody recognises, so a line without any header still
//! becomes an event carrying only `message`: nothing is dropped silently. Only a headerless line that
//! is not text at all (NUL bytes, or mostly undecodable bytes: a binary file forced as syslog) is
//! reported as `KP005`. A header that announces RFC 5424 but breaks its grammar is `KP002`
//! (structured data) or `KP004` (timestamp).
//!
//! The header scanner is hand-written over bytes, allocation-free and linear; the hot path runs at
//! well over a million lines per second per core.

use std::sync::OnceLock;

use compact_str::CompactString;
use kasbah_event::{Event, FieldId, Timestamp, TzOffset, Value, ecs};

use crate::driver::{Cx, LineParser, ParseOptions, for_each_line};
use crate::error::{ErrorCode, ParseError};
use crate::{norm, time};

/// A field name not declared in [`ecs`], interned once per process on first use (never per record).
///
/// If the process-wide interner is already full (hostile input elsewhere interned a million names)
/// the value is kept on the event by name instead.
pub(crate) struct StaticField {
    name: &'static str,
    id: OnceLock<Option<FieldId>>,
}

impl StaticField {
    /// A field called `name`.
    pub(crate) const fn new(name: &'static str) -> Self {
        StaticField {
            name,
            id: OnceLock::new(),
        }
    }

    /// Sets the field on `e`.
    pub(crate) fn set(&self, e: &mut Event, value: impl Into<Value>) {
        match *self.id.get_or_init(|| FieldId::try_intern(self.name)) {
            Some(id) => e.set(id, value),
            None => e.fields.set_name(self.name, value),
        }
    }

    /// Sets the field unless `s` is empty.
    pub(crate) fn set_str(&self, e: &mut Event, s: &str) {
        if !s.is_empty() {
            self.set(e, s);
        }
    }
}

/// Sets a field named by the record itself (an SD parameter, a `key=value` key).
///
/// A repeated name becomes a list. A name that collides with an ECS field already set by the
/// parser is dropped, so a record cannot overwrite, say, `event.kind` or `host.name` by naming a
/// parameter after it.
pub(crate) fn set_original(e: &mut Event, name: &str, value: Value) {
    match FieldId::try_intern(name) {
        Some(id) => match e.fields.get(id) {
            None => e.set(id, value),
            Some(_) if id.is_ecs() => {}
            Some(_) => norm::push_value(e, id, value),
        },
        None => e.fields.set_name(name, value),
    }
}

/// At most this many characters of input are quoted in error messages.
const EXCERPT: usize = 48;

/// The first characters of `s`, for error messages.
pub(crate) fn excerpt(s: &str) -> &str {
    match s.char_indices().nth(EXCERPT) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// At most this many SD parameters become fields (setting a field scans those already set, so an
/// unbounded count would be quadratic); the structured data from the first one left out is kept
/// whole in `syslog.sd_unparsed`.
const MAX_SD_PARAMS: usize = 256;

static EVENT_SEQUENCE: StaticField = StaticField::new("event.sequence");
static SD_UNPARSED: StaticField = StaticField::new("syslog.sd_unparsed");
static CISCO_FACILITY: StaticField = StaticField::new("cisco.facility");
static CISCO_SEVERITY: StaticField = StaticField::new("cisco.severity");
static CISCO_MNEMONIC: StaticField = StaticField::new("cisco.mnemonic");

/// Which grammar a header followed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// RFC 5424.
    Rfc5424,
    /// RFC 3164 and its vendor variants.
    Rfc3164,
}

/// A syslog header as read from a line; every text part borrows from the line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Header<'a> {
    pub(crate) variant: Variant,
    pub(crate) pri: Option<u8>,
    pub(crate) version: Option<u8>,
    pub(crate) time: Option<(Timestamp, Option<TzOffset>)>,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) app: Option<&'a str>,
    pub(crate) procid: Option<&'a str>,
    pub(crate) msgid: Option<&'a str>,
    /// RFC 5424 structured data, already validated (`None` when nil).
    pub(crate) sd: Option<&'a str>,
    /// Cisco's message sequence number.
    pub(crate) seq: Option<&'a str>,
    /// The message after the header.
    pub(crate) msg: &'a str,
}

impl<'a> Header<'a> {
    fn new(variant: Variant, pri: Option<u8>) -> Self {
        Header {
            variant,
            pri,
            version: None,
            time: None,
            hostname: None,
            app: None,
            procid: None,
            msgid: None,
            sd: None,
            seq: None,
            msg: "",
        }
    }
}

/// Reads `<N>` with N in 0..=191; returns N and the bytes consumed.
fn read_pri(b: &[u8]) -> Option<(u8, usize)> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let mut v = 0u32;
    let mut i = 1;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        if i > 3 {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
        i += 1;
    }
    if i == 1 || b.get(i) != Some(&b'>') || v > 191 {
        return None;
    }
    Some((v as u8, i + 1))
}

/// Reads a syslog header at the start of `line`.
///
/// `Ok(None)`: no header at all (no PRI and no timestamp in front). `Err`: a header that announces
/// RFC 5424 but does not follow it.
pub(crate) fn scan<'a>(
    line: &'a str,
    opts: &ParseOptions,
) -> Result<Option<Header<'a>>, ParseError> {
    let b = line.as_bytes();
    let Some((pri, n)) = read_pri(b) else {
        return Ok(scan_3164(None, line, opts));
    };
    let rest = line.get(n..).unwrap_or("");
    // RFC 5424: VERSION (1-2 digits, no leading zero) SP, then a timestamp or `-`.
    let rb = rest.as_bytes();
    let vlen = rb.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    if (1..=2).contains(&vlen)
        && rb.first() != Some(&b'0')
        && rb.get(vlen) == Some(&b' ')
        && rb
            .get(vlen + 1)
            .is_some_and(|c| *c == b'-' || c.is_ascii_digit())
    {
        let version = rest
            .get(..vlen)
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(1);
        let after = rest.get(vlen + 1..).unwrap_or("");
        return scan_5424(pri, version, after, opts).map(Some);
    }
    Ok(scan_3164(Some(pri), rest, opts))
}

/// The message part of `line` after its syslog header, or all of `line` (for sniffers).
pub(crate) fn strip_header(line: &str) -> &str {
    let opts = ParseOptions {
        received: Timestamp::from_nanos(0),
        ..ParseOptions::default()
    };
    match scan(line, &opts) {
        Ok(Some(h)) => h.msg,
        _ => line,
    }
}

/// Splits off the next space-terminated RFC 5424 header field; `-` and missing fields are nil.
fn next_field<'a>(rest: &mut &'a str) -> Option<&'a str> {
    if rest.is_empty() {
        return None;
    }
    let (tok, after) = rest.split_once(' ').unwrap_or((rest, ""));
    *rest = after;
    (!tok.is_empty() && tok != "-").then_some(tok)
}

fn scan_5424<'a>(
    pri: u8,
    version: u8,
    s: &'a str,
    opts: &ParseOptions,
) -> Result<Header<'a>, ParseError> {
    let mut h = Header::new(Variant::Rfc5424, Some(pri));
    h.version = Some(version);
    let mut rest = s;
    if let Some(ts) = next_field(&mut rest) {
        match time::rfc3339_prefix(ts, opts.default_tz) {
            Some((t, z, n)) if n == ts.len() => h.time = Some((t, z)),
            _ => {
                return Err(ParseError::new(
                    ErrorCode::Timestamp,
                    format!(
                        "RFC 5424 TIMESTAMP must be RFC 3339 or '-', found {:?}",
                        excerpt(ts)
                    ),
                ));
            }
        }
    }
    h.hostname = next_field(&mut rest);
    h.app = next_field(&mut rest);
    h.procid = next_field(&mut rest);
    h.msgid = next_field(&mut rest);
    let after_sd = if rest.starts_with('[') {
        let n = walk_sd(rest, |_, _, _| {})?;
        h.sd = rest.get(..n);
        rest.get(n..).unwrap_or("")
    } else if rest == "-" || rest.starts_with("- ") {
        rest.get(1..).unwrap_or("")
    } else {
        // Some senders omit STRUCTURED-DATA altogether; what follows is the message.
        rest
    };
    let msg = after_sd.strip_prefix(' ').unwrap_or(after_sd);
    h.msg = msg.strip_prefix('\u{FEFF}').unwrap_or(msg);
    Ok(h)
}

fn sd_error(what: &str, at: usize) -> ParseError {
    ParseError::syntax(format!(
        "RFC 5424 STRUCTURED-DATA: expected {what} at byte {at}"
    ))
}

/// Walks RFC 5424 structured data at the start of `s` (which starts with `[`), calling `f` with each
/// SD-ID, `Some((PARAM-NAME, raw PARAM-VALUE))` per parameter or `None` for an element without
/// parameters, and the offset of its element. Returns the length of the structured data.
pub(crate) fn walk_sd<'a>(
    s: &'a str,
    mut f: impl FnMut(&'a str, Option<(&'a str, &'a str)>, usize),
) -> Result<usize, ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let element = i;
        i += 1;
        let id_start = i;
        while let Some(&c) = b.get(i) {
            match c {
                b' ' | b']' => break,
                b'=' | b'"' | b'[' => return Err(sd_error("an SD-ID", i)),
                _ => i += 1,
            }
        }
        if i == id_start {
            return Err(sd_error("an SD-ID", i));
        }
        let id = s.get(id_start..i).unwrap_or("");
        let mut params = 0usize;
        loop {
            match b.get(i) {
                Some(b']') => {
                    i += 1;
                    break;
                }
                Some(b' ') => {
                    while b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    if b.get(i) == Some(&b']') {
                        continue;
                    }
                    let name_start = i;
                    while let Some(&c) = b.get(i) {
                        if matches!(c, b'=' | b' ' | b']' | b'"') {
                            break;
                        }
                        i += 1;
                    }
                    if i == name_start || b.get(i) != Some(&b'=') {
                        return Err(sd_error("PARAM-NAME=", i));
                    }
                    let name = s.get(name_start..i).unwrap_or("");
                    i += 1;
                    if b.get(i) != Some(&b'"') {
                        return Err(sd_error("'\"' opening a PARAM-VALUE", i));
                    }
                    i += 1;
                    let value_start = i;
                    loop {
                        match b.get(i) {
                            // An escape: the next byte never ends the value.
                            Some(b'\\') => i += 2,
                            Some(b'"') => break,
                            Some(_) => i += 1,
                            None => return Err(sd_error("'\"' closing a PARAM-VALUE", b.len())),
                        }
                    }
                    f(
                        id,
                        Some((name, s.get(value_start..i).unwrap_or(""))),
                        element,
                    );
                    params += 1;
                    i += 1;
                }
                Some(_) => return Err(sd_error("' ' or ']'", i)),
                None => return Err(sd_error("']' closing an SD-ELEMENT", b.len())),
            }
        }
        if params == 0 {
            f(id, None, element);
        }
    }
    Ok(i)
}

/// Undoes the RFC 5424 PARAM-VALUE escapes `\"`, `\\` and `\]`; any other backslash is kept.
pub(crate) fn sd_unescape(raw: &str) -> CompactString {
    if !raw.contains('\\') {
        return CompactString::new(raw);
    }
    let mut out = CompactString::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\' | ']')) => out.push(n),
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
    out
}

/// Reads a timestamp at the start of `s` in any form syslog senders use. Returns the instant, the
/// zone written (if any) and the bytes consumed.
fn read_time(s: &str, opts: &ParseOptions) -> Option<(Timestamp, Option<TzOffset>, usize)> {
    let c = *s.as_bytes().first()?;
    if c.is_ascii_digit() {
        time::rfc3339_prefix(s, opts.default_tz)
    } else if c.is_ascii_alphabetic() {
        match time::bsd_prefix(s, opts.received, opts.default_tz) {
            Some((t, n)) => Some((t, None, n)),
            None => year_before_time(s, opts.default_tz),
        }
    } else {
        None
    }
}

/// `Mmm dd yyyy hh:mm:ss[.fff]` (Cisco ASA and others put the year before the time).
fn year_before_time(s: &str, tz: Option<TzOffset>) -> Option<(Timestamp, Option<TzOffset>, usize)> {
    use std::io::Write;
    let b = s.as_bytes();
    let mo = time::month(b)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_len = b
        .iter()
        .skip(i)
        .take(3)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day = s.get(i..i + day_len)?.parse::<u32>().ok()?;
    i += day_len;
    if b.get(i) != Some(&b' ') || b.get(i + 5) != Some(&b' ') {
        return None;
    }
    let year = s.get(i + 1..i + 5)?;
    if !year.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t_start = i + 6;
    let t_len = b
        .iter()
        .skip(t_start)
        .take(18)
        .take_while(|c| c.is_ascii_digit() || **c == b':' || **c == b'.')
        .count();
    let clock = s.get(t_start..t_start + t_len)?;
    let mut buf = [0u8; 40];
    let mut w = &mut buf[..];
    write!(w, "{year}-{mo:02}-{day:02}T{clock}").ok()?;
    let len = 40 - w.len();
    let iso = std::str::from_utf8(buf.get(..len)?).ok()?;
    let (t, _, n) = time::rfc3339_prefix(iso, tz)?;
    // All of the clock must have been read (`hh:mm:ss` at least).
    (n == len && t_len >= 8).then_some((t, None, t_start + t_len))
}

/// Cisco's `SEQ: ` message counter; returns it and what follows.
fn cisco_seq(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take(11).take_while(u8::is_ascii_digit).count();
    if n == 0
        || n > 10
        || s.as_bytes().get(n) != Some(&b':')
        || s.as_bytes().get(n + 1) != Some(&b' ')
    {
        return None;
    }
    Some((s.get(..n)?, s.get(n + 2..)?))
}

/// A device timestamp: optional Cisco clock-state mark (`*` unsynchronised, `.` lost sync), the
/// time, and an optional zone name (`UTC`, `CET`...) when a Cisco mnemonic follows it (`UTC: %`).
/// Returns the instant, the zone written and the rest after it.
fn device_time<'a>(
    s: &'a str,
    opts: &ParseOptions,
) -> Option<(Timestamp, Option<TzOffset>, &'a str)> {
    let unmarked = s.strip_prefix(['*', '.']).unwrap_or(s);
    let (mut t, mut tz, n) = read_time(unmarked, opts)?;
    let mut rest = unmarked.get(n..)?;
    // `... 18:46:11.123 UTC: %SYS-5-...`
    if let Some(after) = rest.strip_prefix(' ') {
        let zl = after
            .bytes()
            .take(6)
            .take_while(u8::is_ascii_uppercase)
            .count();
        // Only before a Cisco mnemonic: elsewhere `ABC:` is a program name.
        let cisco_next = after
            .get(zl..)
            .is_some_and(|r| r.starts_with(": %") || r == ":");
        if (2..=5).contains(&zl) && cisco_next {
            let zone = after.get(..zl).unwrap_or("");
            if matches!(zone, "UTC" | "GMT") && tz.is_none() {
                let utc = ParseOptions {
                    default_tz: Some(TzOffset::UTC),
                    ..opts.clone()
                };
                if let Some((t2, _, _)) = read_time(unmarked, &utc) {
                    t = t2;
                    tz = Some(TzOffset::UTC);
                }
            }
            rest = after.get(zl..)?;
        }
    }
    match rest.as_bytes().first() {
        None | Some(b' ' | b':') => Some((t, tz, rest)),
        _ => None,
    }
}

/// The longest program name accepted as a TAG.
const MAX_TAG: usize = 96;

/// Reads a TAG at the start of `s`: `app[pid]: ` or `app: ` (the colon followed by a space or the
/// end). Returns the app, the pid and the rest.
pub(crate) fn try_tag(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let b = s.as_bytes();
    if b.first() == Some(&b'%') {
        // Cisco mnemonics (`%SYS-5-CONFIG_I:`) are message, not program names.
        return None;
    }
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'[' | b':' => break,
            b'=' | b'"' | b'\'' | b'<' | b'>' | b'{' | b'}' | b',' | b';' | b'|' | b'\t' => {
                return None;
            }
            _ => i += 1,
        }
        if i > MAX_TAG {
            return None;
        }
    }
    if i == 0 {
        return None;
    }
    let app = s.get(..i)?;
    let colon_end = |j: usize| -> Option<usize> {
        (b.get(j) == Some(&b':') && matches!(b.get(j + 1), None | Some(b' '))).then_some(j + 1)
    };
    match b.get(i) {
        Some(b'[') => {
            let close = b
                .iter()
                .skip(i + 1)
                .take(40)
                .position(|c| *c == b']' || *c == b' ')?;
            let j = i + 1 + close;
            if b.get(j) != Some(&b']') {
                return None;
            }
            let end = colon_end(j + 1)?;
            let pid = s.get(i + 1..j).filter(|p| !p.is_empty());
            Some((app, pid, s.get(end..)?))
        }
        Some(b':') => Some((app, None, s.get(colon_end(i)?..)?)),
        _ => None,
    }
}

/// Host names as syslog senders write them: DNS names, IPv4, IPv6.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':' | b'%'))
}

fn starts_with_payload(s: &str) -> bool {
    s.starts_with("CEF:") || s.starts_with("LEEF:")
}

fn scan_3164<'a>(pri: Option<u8>, s: &'a str, opts: &ParseOptions) -> Option<Header<'a>> {
    let mut h = Header::new(Variant::Rfc3164, pri);
    let mut rest = s;
    // Cisco IOS counter in front of the device time.
    if let Some((seq, after)) = cisco_seq(rest)
        && (pri.is_some() || device_time(after, opts).is_some())
    {
        h.seq = Some(seq);
        rest = after;
    }
    if let Some((t, tz, after)) = device_time(rest, opts) {
        h.time = Some((t, tz));
        if let Some(msg) = after.strip_prefix(':') {
            // Cisco: the time ends with `:` and no host or tag follows.
            h.msg = msg.trim_start_matches(' ');
            return Some(h);
        }
        rest = after.trim_start_matches(' ');
        if !starts_with_payload(rest) && try_tag(rest).is_none() && cisco_seq(rest).is_none() {
            let end = rest.find(' ').unwrap_or(rest.len());
            let token = rest.get(..end).unwrap_or("");
            if is_hostname(token) {
                h.hostname = Some(token);
                rest = rest.get(end..).unwrap_or("").trim_start_matches(' ');
            }
        }
    } else if pri.is_none() {
        return None;
    }
    // A relay's header in front of a Cisco device's own counter and time.
    if h.seq.is_none()
        && let Some((seq, after)) = cisco_seq(rest)
    {
        let inner = device_time(after, opts);
        if inner.is_some() || after.starts_with('%') {
            h.seq = Some(seq);
            rest = after;
            if let Some((t, tz, a)) = inner {
                if h.time.is_none() {
                    h.time = Some((t, tz));
                }
                rest = a.strip_prefix(':').unwrap_or(a);
            }
            h.msg = rest.trim_start_matches(' ');
            return Some(h);
        }
    }
    if !starts_with_payload(rest) {
        if let Some((app, pid, after)) = try_tag(rest) {
            h.app = Some(app);
            h.procid = pid;
            rest = after;
        } else if let Some(after) = rest.strip_prefix(':') {
            // `asa-host : %ASA-6-302013: ...`: an empty tag.
            rest = after;
        }
    }
    h.msg = rest.trim_start_matches(' ');
    Some(h)
}

fn facility_name(code: u8) -> &'static str {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "security", "console", "clock", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}

/// Sets the fields of a scanned header on `e`.
pub(crate) fn apply_header(h: &Header<'_>, e: &mut Event) {
    if let Some(p) = h.pri {
        let (facility, severity) = (p >> 3, p & 7);
        let sev_name = norm::syslog_severity_name(severity);
        e.set(ecs::LOG_SYSLOG_PRIORITY, i64::from(p));
        e.set(ecs::LOG_SYSLOG_FACILITY_CODE, i64::from(facility));
        e.set(
            ecs::LOG_SYSLOG_FACILITY_NAME,
            Value::Str(CompactString::const_new(facility_name(facility))),
        );
        e.set(ecs::LOG_SYSLOG_SEVERITY_CODE, i64::from(severity));
        e.set(
            ecs::LOG_SYSLOG_SEVERITY_NAME,
            Value::Str(CompactString::const_new(sev_name)),
        );
        e.set(
            ecs::LOG_LEVEL,
            Value::Str(CompactString::const_new(sev_name)),
        );
        e.set(ecs::EVENT_SEVERITY, i64::from(severity));
    }
    if let Some(v) = h.version {
        e.set(ecs::LOG_SYSLOG_VERSION, i64::from(v));
    }
    if let Some((t, tz)) = h.time {
        e.timestamp = t;
        e.tz = tz;
    }
    if let Some(host) = h.hostname {
        e.set(ecs::LOG_SYSLOG_HOSTNAME, host);
        e.set(ecs::HOST_NAME, host);
    }
    if let Some(app) = h.app {
        e.set(ecs::LOG_SYSLOG_APPNAME, app);
        e.set(ecs::PROCESS_NAME, app);
    }
    if let Some(procid) = h.procid {
        e.set(ecs::LOG_SYSLOG_PROCID, procid);
        if let Ok(pid) = procid.parse::<u32>() {
            e.set(ecs::PROCESS_PID, pid);
        }
    }
    if let Some(msgid) = h.msgid {
        e.set(ecs::LOG_SYSLOG_MSGID, msgid);
    }
    if let Some(seq) = h.seq {
        EVENT_SEQUENCE.set(e, Value::infer(seq));
    }
    if let Some(sd) = h.sd {
        let mut count = 0usize;
        let mut unparsed = None;
        // Validated by `scan`; a second walk cannot fail.
        let _ = walk_sd(sd, |id, param, element| {
            count += 1;
            if count > MAX_SD_PARAMS {
                unparsed.get_or_insert(element);
                return;
            }
            match param {
                Some((name, raw)) => {
                    let mut key = CompactString::with_capacity(id.len() + 1 + name.len());
                    key.push_str(id);
                    key.push('.');
                    key.push_str(name);
                    set_original(e, &key, Value::Str(sd_unescape(raw)));
                }
                None => set_original(e, id, Value::Bool(true)),
            }
        });
        if let Some(rest) = unparsed.and_then(|i| sd.get(i..)) {
            SD_UNPARSED.set(e, rest);
        }
    }
}

/// Reads a syslog header (RFC 5424, RFC 3164 with or without PRI) at the start of `line`, sets the
/// header fields (time, host, app, pid, facility, severity) on `e`, and returns the message part.
/// `None` if `line` has no syslog header (or a broken RFC 5424 one); `e` is then untouched.
pub(crate) fn parse_header<'a>(
    line: &'a str,
    e: &mut kasbah_event::Event,
    opts: &crate::driver::ParseOptions,
) -> Option<&'a str> {
    let h = scan(line, opts).ok().flatten()?;
    apply_header(&h, e);
    Some(h.msg)
}

/// True if `line` looks like a syslog message: it has a header (possibly behind an RFC 6587
/// octet count) and its message is not a `key=value` record, which the kv parser maps better.
/// CEF and LEEF payloads hold `key=value` extensions but are this parser's (see [`payload`]).
pub(crate) fn sniff(line: &str) -> bool {
    let line = strip_octet_count(line);
    let opts = ParseOptions {
        received: Timestamp::from_nanos(0),
        ..ParseOptions::default()
    };
    match scan(line, &opts) {
        Ok(Some(h)) => !kv_payload(&h),
        Ok(None) => false,
        // An RFC 5424 header with a flaw is still syslog.
        Err(_) => true,
    }
}

/// Whether the message behind a syslog header is a `key=value` record for the kv parser: not
/// CEF or LEEF (their extensions are `key=value`, but this parser reads them), not from an
/// authentication daemon (whose messages this parser maps), and mostly pairs.
fn kv_payload(h: &Header<'_>) -> bool {
    !(h.msg.starts_with("CEF:")
        || h.msg.starts_with("LEEF:")
        || h.app.is_some_and(crate::auth::is_auth_app))
        && crate::kv::looks_kv(h.msg)
}

/// Whether a line of a network syslog stream is the kv parser's: what [`sniff`] and the kv
/// parser's sniffer decide together, with one header scan and one look at the pairs (they cost
/// two scans and two tokenisations of every firewall line).
pub(crate) fn routes_to_kv(line: &str, opts: &ParseOptions) -> bool {
    match scan(strip_octet_count(line), opts) {
        Ok(Some(h)) => kv_payload(&h),
        Ok(None) => crate::kv::looks_kv(line),
        // An RFC 5424 header with a flaw is still syslog.
        Err(_) => false,
    }
}

/// `LEN SP` of an RFC 6587 frame when followed by `<`, else `None`.
fn frame_header(b: &[u8]) -> Option<(usize, usize)> {
    let n = b.iter().take(11).take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 10 || b.get(n) != Some(&b' ') {
        return None;
    }
    let len = std::str::from_utf8(b.get(..n)?)
        .ok()?
        .parse::<usize>()
        .ok()?;
    Some((len, n + 1))
}

fn strip_octet_count(line: &str) -> &str {
    match frame_header(line.as_bytes()) {
        Some((_, n)) if line.as_bytes().get(n) == Some(&b'<') => line.get(n..).unwrap_or(line),
        _ => line,
    }
}

/// True if `input` uses RFC 6587 octet counting: it starts with `LEN SP <`.
fn is_octet_counted(input: &[u8]) -> bool {
    matches!(frame_header(input), Some((_, n)) if input.get(n) == Some(&b'<'))
}

/// Parses a whole syslog input (newline or octet-counting framing).
pub(crate) fn parse(input: &[u8], cx: &mut Cx<'_>) {
    let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    if is_octet_counted(body) {
        parse_octet_counted(body, cx);
    } else {
        for_each_line(input, &mut SyslogParser, cx);
    }
}

/// RFC 6587 octet counting: `LEN SP MSG` repeated; MSG may contain newlines. Whitespace between
/// frames is tolerated. A frame longer than what remains is reported `KP007` and parsing resumes at
/// the next line that starts a frame; text that is not a frame is reported `KP002` up to the end
/// of its line (or parsed as a message if it carries a syslog header). Records are numbered by
/// frame.
fn parse_octet_counted(input: &[u8], cx: &mut Cx<'_>) {
    let mut parser = SyslogParser;
    let max = cx.opts.max_record_bytes;
    let mut pos = 0usize;
    let mut record = 0u64;
    loop {
        while input.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) else {
            break;
        };
        record += 1;
        match frame_header(rest) {
            Some((len, hlen)) => {
                let start = pos + hlen;
                let end = start.saturating_add(len);
                if end > input.len() {
                    cx.bad(
                        record,
                        ParseError::new(
                            ErrorCode::Truncated,
                            format!(
                                "octet-counted frame announces {len} bytes but only {} remain",
                                input.len() - start
                            ),
                        ),
                    );
                    pos = next_frame_line(input, start).unwrap_or(input.len());
                    continue;
                }
                pos = end;
                if len > max {
                    cx.bad(
                        record,
                        ParseError::new(
                            ErrorCode::TooLong,
                            format!("frame of {len} bytes exceeds the limit of {max}"),
                        ),
                    );
                    continue;
                }
                let mut msg = input.get(start..end).unwrap_or_default();
                while let Some(m) = msg.strip_suffix(b"\n").or_else(|| msg.strip_suffix(b"\r")) {
                    msg = m;
                }
                if msg.iter().all(u8::is_ascii_whitespace) {
                    record -= 1;
                    continue;
                }
                let text = crate::driver::text_of(msg);
                if let Err(e) = parser.parse_line(&text, record, cx) {
                    cx.bad(record, e);
                }
            }
            None => {
                let eol = memchr::memchr(b'\n', rest).map_or(input.len(), |i| pos + i);
                let line = input.get(pos..eol).unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                pos = eol + 1;
                if line.first() == Some(&b'<') && line.len() <= max {
                    // A newline-framed message among octet-counted ones.
                    let text = crate::driver::text_of(line);
                    if let Err(e) = parser.parse_line(&text, record, cx) {
                        cx.bad(record, e);
                    }
                } else {
                    cx.bad(
                        record,
                        ParseError::syntax(format!(
                            "expected an octet-counted frame `LEN <PRI>...`, found {:?}",
                            excerpt(&String::from_utf8_lossy(
                                line.get(..line.len().min(200)).unwrap_or_default()
                            ))
                        )),
                    );
                }
            }
        }
    }
}

/// The start of the first line after `from` that begins an octet-counted frame.
fn next_frame_line(input: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let nl = at + memchr::memchr(b'\n', input.get(at..)?)?;
        let next = nl + 1;
        if is_octet_counted(input.get(next..)?) {
            return Some(next);
        }
        at = next;
    }
}

/// True for text a human would call a log line: no NUL, and undecodable bytes or control
/// characters make up at most a tenth of it.
fn is_text(line: &str) -> bool {
    let mut total = 0usize;
    let mut bad = 0usize;
    for c in line.chars() {
        total += 1;
        if c == '\0' {
            return false;
        }
        if c == '\u{FFFD}' || (c.is_control() && !matches!(c, '\t' | '\x1b')) {
            bad += 1;
        }
    }
    bad * 10 <= total
}

/// Cisco `%FAC-SEV-MNEMONIC: text`: sets the code fields and returns the text.
fn cisco_mnemonic<'a>(msg: &'a str, e: &mut Event) -> Option<&'a str> {
    let body = msg.strip_prefix('%')?;
    let (code, text) = body
        .split_once(": ")
        .or_else(|| body.strip_suffix(':').map(|c| (c, "")))?;
    let (facility, rest) = code.split_once('-')?;
    let (severity, mnemonic) = rest.split_once('-')?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 40
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    };
    if !ok(facility) || !ok(mnemonic) || severity.len() != 1 {
        return None;
    }
    let sev = severity.parse::<u8>().ok().filter(|s| *s <= 7)?;
    CISCO_FACILITY.set(e, facility);
    CISCO_SEVERITY.set(e, i64::from(sev));
    CISCO_MNEMONIC.set(e, mnemonic);
    e.set(ecs::EVENT_CODE, code);
    Some(text)
}

/// Parses one syslog message at a time.
#[derive(Default)]
pub struct SyslogParser;

impl LineParser for SyslogParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let header = scan(line, cx.opts)?;
        if header.is_none() && !is_text(line) {
            return Err(ParseError::new(
                ErrorCode::WrongFormat,
                "not a syslog record: no syslog header and the line is not text",
            ));
        }
        let mut e = cx.new_event(record, Some(line));
        e.set(
            ecs::EVENT_KIND,
            Value::Str(CompactString::const_new("event")),
        );
        e.set(
            ecs::EVENT_MODULE,
            Value::Str(CompactString::const_new("syslog")),
        );
        let Some(h) = header else {
            e.set(
                ecs::EVENT_DATASET,
                Value::Str(CompactString::const_new("syslog.plain")),
            );
            e.set(ecs::MESSAGE, line);
            cx.emit(e);
            return Ok(());
        };
        let dataset = match h.variant {
            Variant::Rfc5424 => "syslog.rfc5424",
            Variant::Rfc3164 => "syslog.rfc3164",
        };
        e.set(
            ecs::EVENT_DATASET,
            Value::Str(CompactString::const_new(dataset)),
        );
        apply_header(&h, &mut e);
        payload(&h, &mut e);
        cx.emit(e);
        Ok(())
    }
}

/// Sets `message` and hands the message to the parser that knows its payload.
fn payload(h: &Header<'_>, e: &mut Event) {
    let msg = h.msg;
    if msg.starts_with("CEF:") {
        e.set(ecs::MESSAGE, msg);
        // Until (or unless) the payload parses, the plain message stands.
        let _ = crate::cef::parse_message(msg, e);
        return;
    }
    if msg.starts_with("LEEF:") {
        e.set(ecs::MESSAGE, msg);
        let _ = crate::leef::parse_message(msg, e);
        return;
    }
    let text = if h.variant == Variant::Rfc3164 && msg.starts_with('%') {
        cisco_mnemonic(msg, e).unwrap_or(msg)
    } else {
        msg
    };
    if !text.is_empty() {
        e.set(ecs::MESSAGE, text);
    }
    match h.app {
        Some("kernel") => {
            crate::kv::enrich_netfilter(msg, e);
        }
        Some(app) => {
            crate::auth::enrich(Some(app), msg, e);
        }
        None if msg.starts_with("pam_") => {
            crate::auth::enrich(None, msg, e);
        }
        None => {}
    }
}

#[cfg(test)]
pub(crate) mod tests;
