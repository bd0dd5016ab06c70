//! IBM QRadar Log Event Extended Format (LEEF) 1.0 and 2.0, bare or after a syslog header.
//!
//! * LEEF 1.0: `LEEF:1.0|Vendor|Product|Version|EventID|` then TAB-separated `key=value`.
//! * LEEF 2.0: `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|` then `key=value` separated by
//!   the delimiter, given as a character (`^`), as hex (`x09`, `0x5E`), or empty for TAB. A
//!   2.0 header without the delimiter field (seen in the wild) is read with TAB.
//!
//! Real feeds bend the rules, so: a value containing the delimiter keeps it (a segment without
//! `key=` continues the previous value); TABs that a syslog relay rewrote as `#011` are
//! recognised; attributes separated by spaces instead of the delimiter are split like CEF
//! extensions (a value runs until the next ` key=`); `\|` in the header is unescaped.
//!
//! Mapping idea: header -> `leef.*` fields, `observer.*` and `event.code`; every attribute is kept
//! under its own name and the predefined LEEF keys (`src`, `usrName`, `sev`, `devTime`...) also
//! fill ECS fields. `devTime` is read with `devTimeFormat` (a Java `SimpleDateFormat` pattern, of
//! which the common letters are supported), else as epoch milliseconds, RFC 3339 or
//! `MMM dd yyyy HH:mm:ss`. See `docs/formats/leef.md`.

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::NaiveDate;
use kasbah_event::{Event, FieldId, Timestamp, TzOffset, Value, ecs};

use crate::cef;
use crate::driver::{Cx, LineParser};
use crate::error::ParseError;
use crate::norm;

/// True if `line` holds a LEEF record (`LEEF:<version>|`), at its start or after a prefix.
pub(crate) fn sniff(line: &str) -> bool {
    cef::find_marker(line, "LEEF:").is_some()
}

/// What a predefined attribute fills besides its original-name field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Map {
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    SrcPreNatIp,
    DstPreNatIp,
    SrcPostNatIp,
    DstPostNatIp,
    SrcPreNatPort,
    DstPreNatPort,
    SrcPostNatPort,
    DstPostNatPort,
    SrcMac,
    DstMac,
    User,
    Account,
    Domain,
    Transport,
    Severity,
    DevTime,
    DevTimeFormat,
    IdentSrc,
    IdentHost,
    IdentMac,
    IdentGroup,
    SrcBytes,
    DstBytes,
    SrcPackets,
    DstPackets,
    TotalPackets,
    Url,
    Policy,
    GroupId,
    Login,
    Logout,
    Action,
    Message,
    Reason,
}

/// The predefined LEEF attributes (plus `action`, `msg`, `reason`, which most producers add).
const KEYS: &[(&str, Map)] = &[
    ("src", Map::SrcIp),
    ("dst", Map::DstIp),
    ("srcPort", Map::SrcPort),
    ("dstPort", Map::DstPort),
    ("srcPreNAT", Map::SrcPreNatIp),
    ("dstPreNAT", Map::DstPreNatIp),
    ("srcPostNAT", Map::SrcPostNatIp),
    ("dstPostNAT", Map::DstPostNatIp),
    ("srcPreNATPort", Map::SrcPreNatPort),
    ("dstPreNATPort", Map::DstPreNatPort),
    ("srcPostNATPort", Map::SrcPostNatPort),
    ("dstPostNATPort", Map::DstPostNatPort),
    ("srcMAC", Map::SrcMac),
    ("dstMAC", Map::DstMac),
    ("usrName", Map::User),
    ("accountName", Map::Account),
    ("domain", Map::Domain),
    ("proto", Map::Transport),
    ("sev", Map::Severity),
    ("devTime", Map::DevTime),
    ("devTimeFormat", Map::DevTimeFormat),
    ("identSrc", Map::IdentSrc),
    ("identHostName", Map::IdentHost),
    ("identMAC", Map::IdentMac),
    ("identGrpName", Map::IdentGroup),
    ("srcBytes", Map::SrcBytes),
    ("dstBytes", Map::DstBytes),
    ("srcPackets", Map::SrcPackets),
    ("dstPackets", Map::DstPackets),
    ("totalPackets", Map::TotalPackets),
    ("url", Map::Url),
    ("policy", Map::Policy),
    ("groupID", Map::GroupId),
    ("isLoginEvent", Map::Login),
    ("isLogoutEvent", Map::Logout),
    ("action", Map::Action),
    ("msg", Map::Message),
    ("reason", Map::Reason),
];

struct Ids {
    keys: cef::KeyTable<Map>,
    version: FieldId,
    vendor: FieldId,
    product: FieldId,
    product_version: FieldId,
    event_id: FieldId,
    delimiter: FieldId,
    source_nat_ip: FieldId,
    source_nat_port: FieldId,
    destination_nat_ip: FieldId,
    destination_nat_port: FieldId,
    group_id: FieldId,
    event_reason: FieldId,
}

impl Ids {
    fn get() -> &'static Ids {
        static IDS: OnceLock<Ids> = OnceLock::new();
        IDS.get_or_init(|| Ids {
            keys: cef::KeyTable::new(KEYS),
            version: FieldId::intern("leef.version"),
            vendor: FieldId::intern("leef.vendor"),
            product: FieldId::intern("leef.product"),
            product_version: FieldId::intern("leef.product_version"),
            event_id: FieldId::intern("leef.event_id"),
            delimiter: FieldId::intern("leef.delimiter"),
            source_nat_ip: FieldId::intern("source.nat.ip"),
            source_nat_port: FieldId::intern("source.nat.port"),
            destination_nat_ip: FieldId::intern("destination.nat.ip"),
            destination_nat_port: FieldId::intern("destination.nat.port"),
            group_id: FieldId::intern("group.id"),
            event_reason: FieldId::intern("event.reason"),
        })
    }

    fn lookup(&self, key: &str) -> Option<(FieldId, Map)> {
        self.keys.get(key)
    }
}

/// Fills `e` from a LEEF message (`msg` starts at `LEEF:`), used by the syslog parser for
/// LEEF payloads.
pub(crate) fn parse_message(msg: &str, e: &mut Event) -> Result<(), ParseError> {
    parse_leef(msg, e, None)
}

/// Splits `n` `|`-terminated header fields off `s` (`\|` escapes a pipe); returns the fields and
/// the rest. `None` if fewer than `n` terminators.
fn header_fields<const N: usize>(s: &str) -> Option<([Cow<'_, str>; N], &str)> {
    let b = s.as_bytes();
    let mut spans = [(0usize, 0usize, false); N];
    let (mut n, mut start, mut escaped, mut i) = (0usize, 0usize, false, 0usize);
    while n < N {
        let c = *b.get(i)?;
        match c {
            b'\\' if b.get(i + 1) == Some(&b'|') => {
                escaped = true;
                i += 2;
            }
            b'|' => {
                if let Some(span) = spans.get_mut(n) {
                    *span = (start, i, escaped);
                }
                n += 1;
                start = i + 1;
                escaped = false;
                i += 1;
            }
            _ => i += 1,
        }
    }
    let fields = spans.map(|(a, z, esc)| {
        let raw = s.get(a..z).unwrap_or("");
        if esc {
            Cow::Owned(raw.replace("\\|", "|"))
        } else {
            Cow::Borrowed(raw)
        }
    });
    Some((fields, s.get(start..).unwrap_or("")))
}

/// The attribute delimiter named by a LEEF 2.0 header field: empty (TAB), one character, or hex
/// (`x09`, `0x09`, `X5E`). `None` if the field is not a delimiter specification.
fn delimiter_spec(f: &str) -> Option<Option<char>> {
    if f.is_empty() {
        return Some(None);
    }
    let mut chars = f.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(Some(c));
    }
    let hex = f
        .strip_prefix("0x")
        .or_else(|| f.strip_prefix("0X"))
        .or_else(|| f.strip_prefix('x'))
        .or_else(|| f.strip_prefix('X'))?;
    if hex.is_empty() || hex.len() > 4 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let code = u32::from_str_radix(hex, 16).ok()?;
    char::from_u32(code).filter(|c| *c != '\0').map(Some)
}

fn parse_leef(msg: &str, e: &mut Event, default_tz: Option<TzOffset>) -> Result<(), ParseError> {
    let body = msg
        .strip_prefix("LEEF:")
        .ok_or_else(|| ParseError::wrong_format("LEEF"))?;
    let Some(([version, vendor, product, product_version], rest)) = header_fields::<4>(body) else {
        return Err(ParseError::syntax(
            "expected a LEEF header `LEEF:Version|Vendor|Product|Version|EventID|`",
        ));
    };
    let v = version.trim();
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(ParseError::syntax(format!(
            "expected a LEEF version number after `LEEF:`, found {v:?}"
        )));
    }
    let major2 = v.starts_with('2');
    // The event id ends at the next `|`; without one (no attributes) it runs to the end.
    let (event_id, rest): (Cow<'_, str>, &str) = match header_fields::<1>(rest) {
        Some(([id], rest)) => (id, rest),
        None => (Cow::Borrowed(rest), ""),
    };
    let (delim, attrs, spec): (Cow<'_, str>, &str, Option<&str>) = if major2 {
        match rest.split_once('|') {
            Some((f, attrs)) => match delimiter_spec(f) {
                Some(c) => (Cow::Owned(c.unwrap_or('\t').to_string()), attrs, Some(f)),
                None => (Cow::Borrowed("\t"), rest, None),
            },
            None => (Cow::Borrowed("\t"), rest, None),
        }
    } else {
        (Cow::Borrowed("\t"), rest, None)
    };

    let ids = Ids::get();
    e.set(ecs::EVENT_KIND, "event");
    e.set(ecs::EVENT_MODULE, "leef");
    e.set(ids.version, v);
    e.set(ids.vendor, &*vendor);
    e.set(ids.product, &*product);
    e.set(ids.product_version, &*product_version);
    e.set(ids.event_id, &*event_id);
    if let Some(spec) = spec {
        e.set(ids.delimiter, spec);
    }
    norm::set_str(e, ecs::OBSERVER_VENDOR, &vendor);
    norm::set_str(e, ecs::OBSERVER_PRODUCT, &product);
    norm::set_str(e, ecs::OBSERVER_VERSION, &product_version);
    norm::set_str(e, ecs::EVENT_CODE, &event_id);

    let mut d = Deferred::default();
    let mut apply_pair = |k: &str, v: Cow<'_, str>| apply(e, ids, &mut d, k, &v);
    // Without an explicit delimiter (LEEF 1.0), relays' rewrites of the TAB are recognised.
    let lenient = spec.is_none() && !attrs.contains('\t');
    if lenient && attrs.contains("#011") {
        split_attrs(attrs, "#011", &mut apply_pair);
    } else if lenient && attrs.contains(' ') {
        cef::scan_pairs(attrs, false, &mut apply_pair);
    } else {
        split_attrs(attrs, &delim, &mut apply_pair);
    }

    // Identity attributes describe the source when the record has no network source.
    if let Some(ip) = d.ident_src.as_deref()
        && e.get(ecs::SOURCE_IP).is_none()
    {
        norm::set_ip(e, ecs::SOURCE_IP, ip);
    }
    if let Some(host) = d.ident_host.as_deref() {
        e.fields.set_default(ecs::SOURCE_DOMAIN, host);
    }
    if let Some(mac) = d.ident_mac.as_deref()
        && e.get(ecs::SOURCE_MAC).is_none()
    {
        cef::set_mac(e, ecs::SOURCE_MAC, mac);
    }
    if let Some(t) = d.dev_time.as_deref() {
        let tz = e.tz.or(default_tz);
        let parsed = match d.dev_time_format.as_deref() {
            Some(f) => java_time(t, f, tz).or_else(|| cef::vendor_time(t, tz, e.received)),
            None => cef::vendor_time(t, tz, e.received),
        };
        if let Some((ts, written)) = parsed {
            e.timestamp = ts;
            if written.is_some() {
                e.tz = written;
            }
        }
    }
    Ok(())
}

/// Splits attributes on `delim`. A segment that does not start with `key=` belongs to the
/// previous value (which then contains the delimiter).
fn split_attrs<'a>(attrs: &'a str, delim: &str, f: &mut impl FnMut(&'a str, Cow<'a, str>)) {
    let mut cur: Option<(&'a str, usize, usize)> = None;
    let mut pos = 0usize;
    let mut flush = |cur: Option<(&'a str, usize, usize)>| {
        if let Some((k, a, z)) = cur {
            f(k, Cow::Borrowed(attrs.get(a..z).unwrap_or("")));
        }
    };
    for seg in attrs.split(delim) {
        let seg_start = pos;
        let seg_end = pos + seg.len();
        pos = seg_end + delim.len();
        if seg.trim().is_empty() {
            // Doubled delimiters separate nothing.
            continue;
        }
        let key = seg.split_once('=').map(|(k, _)| k).filter(|k| {
            let k = k.trim();
            !k.is_empty()
                && k.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        });
        match key {
            Some(k) => {
                flush(cur.take());
                let value_start = seg_start + k.len() + 1;
                cur = Some((k.trim(), value_start, seg_end));
            }
            None => {
                if let Some((_, _, z)) = cur.as_mut() {
                    *z = seg_end;
                }
            }
        }
    }
    flush(cur);
}

#[derive(Default)]
struct Deferred<'a> {
    ident_src: Option<Cow<'a, str>>,
    ident_host: Option<Cow<'a, str>>,
    ident_mac: Option<Cow<'a, str>>,
    dev_time: Option<String>,
    dev_time_format: Option<String>,
    pairs: usize,
}

fn apply(e: &mut Event, ids: &Ids, d: &mut Deferred<'_>, key: &str, value: &str) {
    d.pairs += 1;
    if d.pairs > cef::MAX_PAIRS {
        return;
    }
    let Some((id, map)) = ids.lookup(key) else {
        e.fields.set_name(key, Value::infer(value));
        return;
    };
    e.set(id, Value::infer(value));
    let v = value.trim();
    if v.is_empty() || v == "-" {
        return;
    }
    match map {
        Map::SrcIp => {
            norm::set_ip(e, ecs::SOURCE_IP, v);
        }
        Map::DstIp => {
            norm::set_ip(e, ecs::DESTINATION_IP, v);
        }
        Map::SrcPort => {
            norm::set_port(e, ecs::SOURCE_PORT, v);
        }
        Map::DstPort => {
            norm::set_port(e, ecs::DESTINATION_PORT, v);
        }
        // Pre-NAT addresses are the ones the endpoints used; they fill the plain fields unless
        // `src`/`dst` say otherwise. Post-NAT ones are the translations.
        Map::SrcPreNatIp => {
            if e.get(ecs::SOURCE_IP).is_none() {
                norm::set_ip(e, ecs::SOURCE_IP, v);
            }
        }
        Map::DstPreNatIp => {
            if e.get(ecs::DESTINATION_IP).is_none() {
                norm::set_ip(e, ecs::DESTINATION_IP, v);
            }
        }
        Map::SrcPreNatPort => {
            if e.get(ecs::SOURCE_PORT).is_none() {
                norm::set_port(e, ecs::SOURCE_PORT, v);
            }
        }
        Map::DstPreNatPort => {
            if e.get(ecs::DESTINATION_PORT).is_none() {
                norm::set_port(e, ecs::DESTINATION_PORT, v);
            }
        }
        Map::SrcPostNatIp => {
            norm::set_ip(e, ids.source_nat_ip, v);
        }
        Map::DstPostNatIp => {
            norm::set_ip(e, ids.destination_nat_ip, v);
        }
        Map::SrcPostNatPort => {
            norm::set_port(e, ids.source_nat_port, v);
        }
        Map::DstPostNatPort => {
            norm::set_port(e, ids.destination_nat_port, v);
        }
        Map::SrcMac => cef::set_mac(e, ecs::SOURCE_MAC, v),
        Map::DstMac => cef::set_mac(e, ecs::DESTINATION_MAC, v),
        Map::User => e.set(ecs::USER_NAME, v),
        Map::Account => e.fields.set_default(ecs::USER_NAME, v),
        Map::Domain => e.set(ecs::USER_DOMAIN, v),
        Map::Transport => e.set(ecs::NETWORK_TRANSPORT, cef::transport(v)),
        Map::Severity => {
            if let Some((n, level)) = cef::severity(v) {
                e.set(ecs::EVENT_SEVERITY, n);
                if let Some(level) = level {
                    e.set(ecs::LOG_LEVEL, level);
                }
            }
        }
        Map::DevTime => d.dev_time = Some(v.to_owned()),
        Map::DevTimeFormat => d.dev_time_format = Some(v.to_owned()),
        Map::IdentSrc => d.ident_src = Some(Cow::Owned(v.to_owned())),
        Map::IdentHost => d.ident_host = Some(Cow::Owned(v.to_owned())),
        Map::IdentMac => d.ident_mac = Some(Cow::Owned(v.to_owned())),
        Map::IdentGroup => e.set(ecs::GROUP_NAME, v),
        Map::SrcBytes => {
            norm::set_int(e, ecs::SOURCE_BYTES, v);
        }
        Map::DstBytes => {
            norm::set_int(e, ecs::DESTINATION_BYTES, v);
        }
        Map::SrcPackets => {
            norm::set_int(e, ecs::SOURCE_PACKETS, v);
        }
        Map::DstPackets => {
            norm::set_int(e, ecs::DESTINATION_PACKETS, v);
        }
        Map::TotalPackets => {
            norm::set_int(e, ecs::NETWORK_PACKETS, v);
        }
        Map::Url => norm::set_url(e, v),
        Map::Policy => e.set(ecs::RULE_NAME, v),
        Map::GroupId => e.set(ids.group_id, v),
        Map::Login if v.eq_ignore_ascii_case("true") => {
            e.set(ecs::EVENT_CATEGORY, "authentication");
            e.set(ecs::EVENT_TYPE, "start");
        }
        Map::Logout if v.eq_ignore_ascii_case("true") => {
            e.set(ecs::EVENT_CATEGORY, "authentication");
            e.set(ecs::EVENT_TYPE, "end");
        }
        Map::Login | Map::Logout => {}
        Map::Action => e.set(ecs::EVENT_ACTION, v),
        Map::Message => e.set(ecs::MESSAGE, v),
        Map::Reason => e.set(ids.event_reason, v),
    }
}

/// Parses `s` with a Java `SimpleDateFormat` pattern. Supported letters: `y` `M` (numbers,
/// `MMM` names) `d` `H` `k` `h` `K` `a` `m` `s` `S` `E` (skipped) `z` `Z` `X`; quoted literals;
/// any other character must match itself. Returns the instant and the zone written.
pub(crate) fn java_time(
    s: &str,
    pattern: &str,
    default_tz: Option<TzOffset>,
) -> Option<(Timestamp, Option<TzOffset>)> {
    let s = s.trim();
    let b = s.as_bytes();
    let p: Vec<char> = pattern.chars().collect();
    let (mut year, mut month, mut day) = (None::<i32>, None::<u32>, None::<u32>);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut twelve = false;
    let mut zone: Option<TzOffset> = None;
    let (mut i, mut j) = (0usize, 0usize);
    while let Some(&c) = p.get(j) {
        let mut run = 1;
        while p.get(j + run) == Some(&c) && c.is_ascii_alphabetic() {
            run += 1;
        }
        // Adjacent numeric fields (`yyyyMMdd`) must read exactly their width.
        let next_numeric = p.get(j + run).is_some_and(|n| {
            matches!(n, 'y' | 'M' | 'd' | 'H' | 'h' | 'k' | 'K' | 'm' | 's' | 'S')
        });
        let width = |max: usize| if next_numeric { run.max(1) } else { max };
        match c {
            'y' | 'u' => {
                let (v, ni) = digits(b, i, width(4))?;
                year = Some(if ni - i <= 2 && run <= 2 {
                    2000 + v as i32
                } else {
                    v as i32
                });
                i = ni;
            }
            'M' | 'L' if run >= 3 => {
                month = Some(crate::time::month(b.get(i..)?)?);
                i = skip_alpha(b, i);
            }
            'M' | 'L' => (month, i) = digits(b, i, width(2)).map(|(v, ni)| (Some(v), ni))?,
            'd' => (day, i) = digits(b, i, width(2)).map(|(v, ni)| (Some(v), ni))?,
            'H' | 'k' => (hour, i) = digits(b, i, width(2))?,
            'h' | 'K' => {
                (hour, i) = digits(b, i, width(2))?;
                twelve = true;
            }
            'm' => (minute, i) = digits(b, i, width(2))?,
            's' => (second, i) = digits(b, i, width(2))?,
            'S' => {
                let start = i;
                let (_, ni) = digits(b, i, width(9))?;
                let mut scale = 100_000_000u32;
                for &d in b.get(start..ni)?.iter().take(9) {
                    nanos += u32::from(d - b'0') * scale;
                    scale /= 10;
                }
                i = ni;
            }
            'a' => {
                let t = s.get(i..i + 2)?;
                pm = Some(t.eq_ignore_ascii_case("PM"));
                if !pm.unwrap_or(false) && !t.eq_ignore_ascii_case("AM") {
                    return None;
                }
                i += 2;
            }
            'E' => i = skip_alpha(b, i),
            'z' | 'Z' | 'X' => {
                let end = b
                    .iter()
                    .skip(i)
                    .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b':')))
                    .map_or(b.len(), |n| i + n);
                zone = Some(cef::zone(s.get(i..end)?)?);
                i = end;
            }
            '\'' => {
                // A quoted literal; `''` is a single quote, inside or outside quotes.
                if p.get(j + 1) == Some(&'\'') {
                    i = expect_char(s, i, '\'')?;
                    j += 2;
                    continue;
                }
                let mut k = j + 1;
                loop {
                    match p.get(k) {
                        None => break,
                        Some('\'') if p.get(k + 1) == Some(&'\'') => {
                            i = expect_char(s, i, '\'')?;
                            k += 2;
                        }
                        Some('\'') => break,
                        Some(&lc) => {
                            i = expect_char(s, i, lc)?;
                            k += 1;
                        }
                    }
                }
                j = k + 1;
                continue;
            }
            c if c.is_ascii_alphabetic() => return None,
            c => {
                for _ in 0..run {
                    i = expect_char(s, i, c)?;
                }
            }
        }
        j += run;
    }
    if i != b.len() {
        return None;
    }
    if twelve {
        hour %= 12;
        if pm == Some(true) {
            hour += 12;
        }
    } else if pm == Some(true) && hour < 12 {
        hour += 12;
    }
    let dt = NaiveDate::from_ymd_opt(year?, month?, day?)?.and_hms_nano_opt(
        hour,
        minute,
        second.min(59),
        nanos,
    )?;
    let offset = zone.or(default_tz).map_or(0, TzOffset::secs);
    let ts = Timestamp::from_secs_nanos(dt.and_utc().timestamp() - i64::from(offset), nanos)?;
    Some((ts, zone))
}

fn digits(b: &[u8], i: usize, max: usize) -> Option<(u32, usize)> {
    let mut v = 0u32;
    let mut j = i;
    while j < i + max.min(9) {
        match b.get(j) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + u32::from(c - b'0');
                j += 1;
            }
            _ => break,
        }
    }
    (j > i).then_some((v, j))
}

fn skip_alpha(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    i
}

fn expect_char(s: &str, i: usize, c: char) -> Option<usize> {
    s.get(i..)?.starts_with(c).then(|| i + c.len_utf8())
}

/// Parses LEEF records line by line, each bare or after a syslog header.
#[derive(Default)]
pub struct LeefParser;

impl LineParser for LeefParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let mut e = cx.new_event(record, Some(line));
        let payload = cef::payload_after_header(line, "LEEF:", &mut e, cx.opts)?;
        parse_leef(payload, &mut e, cx.opts.default_tz)?;
        cx.emit(e);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kasbah_event::Source;
    use proptest::prelude::*;

    use super::*;
    use crate::{ErrorCode, Format, Item, Origin, parse_bytes};

    use crate::testutil::{self, i, reference_opts as opts, s};

    fn run(input: &str) -> Vec<Item> {
        testutil::items(input, Format::Leef, &opts())
    }

    fn one(input: &str) -> Event {
        testutil::one(input, Format::Leef, &opts())
    }

    fn bad(input: &str) -> ErrorCode {
        testutil::first_bad(input, Format::Leef, &opts())
    }

    #[test]
    fn leef1_with_tabs() {
        let e = one(
            "LEEF:1.0|Microsoft|MSExchange|2016|LOGON_FAILED|devTime=Mar 14 2024 09:59:10\tdevTimeFormat=MMM dd yyyy HH:mm:ss\tsrc=203.0.113.45\tdst=10.1.2.30\tusrName=j.smith@example.org\tsev=6\tcat=Authentication\treason=Invalid password\tsrcPort=51000\tproto=6",
        );
        assert_eq!(s(&e, "leef.version"), Some("1.0"));
        assert_eq!(s(&e, "leef.vendor"), Some("Microsoft"));
        assert_eq!(s(&e, "observer.vendor"), Some("Microsoft"));
        assert_eq!(s(&e, "observer.product"), Some("MSExchange"));
        assert_eq!(s(&e, "observer.version"), Some("2016"));
        assert_eq!(s(&e, "event.code"), Some("LOGON_FAILED"));
        assert_eq!(s(&e, "leef.event_id"), Some("LOGON_FAILED"));
        assert_eq!(s(&e, "source.ip"), Some("203.0.113.45"));
        assert_eq!(i(&e, "source.port"), Some(51000));
        assert_eq!(s(&e, "destination.ip"), Some("10.1.2.30"));
        assert_eq!(s(&e, "user.name"), Some("j.smith@example.org"));
        assert_eq!(i(&e, "event.severity"), Some(6));
        assert_eq!(s(&e, "log.level"), Some("medium"));
        assert_eq!(s(&e, "cat"), Some("Authentication"));
        assert_eq!(s(&e, "reason"), Some("Invalid password"));
        assert_eq!(s(&e, "event.reason"), Some("Invalid password"));
        assert_eq!(s(&e, "network.transport"), Some("tcp"));
        assert_eq!(s(&e, "event.kind"), Some("event"));
        assert_eq!(s(&e, "event.module"), Some("leef"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T09:59:10Z");
        assert_eq!(e.tz, None);
        assert!(e.get_name("leef.delimiter").is_none());
    }

    #[test]
    fn leef2_delimiters() {
        let e = one(
            "<13>Mar 14 10:06:00 mailgw LEEF:2.0|Proofpoint|TAP|3.2|CLICK_PERMITTED|^|devTime=1710410760000^src=10.1.2.44^usrName=j.smith@example.org^url=http://login.example/auth?a=1^sev=7",
        );
        assert_eq!(s(&e, "leef.delimiter"), Some("^"));
        assert_eq!(s(&e, "source.ip"), Some("10.1.2.44"));
        assert_eq!(s(&e, "url.domain"), Some("login.example"));
        assert_eq!(s(&e, "url.query"), Some("a=1"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T10:06:00Z");
        for spec in ["x5E", "0x5e", "X5E"] {
            let e = one(&format!("LEEF:2.0|V|P|1|ID|{spec}|a=1^b=two words^c=3"));
            assert_eq!(s(&e, "b"), Some("two words"), "{spec}");
            assert_eq!(i(&e, "c"), Some(3));
        }
        // Empty delimiter field and hex TAB mean TAB.
        for spec in ["", "x09", "0x09"] {
            let e = one(&format!("LEEF:2.0|V|P|1|ID|{spec}|a=1\tb=x y\tc=3"));
            assert_eq!(s(&e, "b"), Some("x y"), "{spec:?}");
        }
        // A 2.0 header without a delimiter field.
        let e = one("LEEF:2.0|V|P|1|ID|a=1\tb=2");
        assert_eq!(i(&e, "a"), Some(1));
        assert_eq!(i(&e, "b"), Some(2));
    }

    #[test]
    fn sloppy_attributes() {
        // A value that contains the delimiter keeps it.
        let e = one("LEEF:2.0|V|P|1|ID|^|msg=a^b^c^d=4");
        assert_eq!(s(&e, "msg"), Some("a^b^c"));
        assert_eq!(s(&e, "message"), Some("a^b^c"));
        assert_eq!(i(&e, "d"), Some(4));
        // rsyslog's `#011` for TAB.
        let e = one("LEEF:1.0|V|P|1|ID|src=10.0.0.1#011dst=10.0.0.2#011usrName=bob");
        assert_eq!(s(&e, "destination.ip"), Some("10.0.0.2"));
        assert_eq!(s(&e, "user.name"), Some("bob"));
        // Spaces instead of TABs.
        let e = one("LEEF:1.0|V|P|1|ID|src=10.0.0.1 msg=two words dst=10.0.0.2");
        assert_eq!(s(&e, "msg"), Some("two words"));
        assert_eq!(s(&e, "destination.ip"), Some("10.0.0.2"));
        // Equals signs in values, empty segments, junk before the first key.
        let e = one("LEEF:1.0|V|P|1|ID|junk\t\turl=/a?b=c\t\tx=");
        assert_eq!(s(&e, "url"), Some("/a?b=c"));
        assert_eq!(s(&e, "x"), Some(""));
        assert!(e.get_name("junk").is_none());
        // No attributes at all, with or without the trailing pipe.
        let e = one("LEEF:1.0|V|P|1|ID|");
        assert_eq!(s(&e, "event.code"), Some("ID"));
        let e = one("LEEF:1.0|V|P|1|ID");
        assert_eq!(s(&e, "event.code"), Some("ID"));
        // Escaped pipe in the header.
        let e = one("LEEF:1.0|V\\|W|P|1|ID|");
        assert_eq!(s(&e, "leef.vendor"), Some("V|W"));
    }

    #[test]
    fn predefined_keys() {
        let e = one(
            "LEEF:1.0|V|P|1|ID|srcPreNAT=10.0.0.5\tsrcPostNAT=198.51.100.5\tsrcPreNATPort=1234\tsrcPostNATPort=4321\tdstPostNAT=10.9.9.9\tdstPostNATPort=8080\tsrcMAC=00:11:22:33:44:55\tdstMAC=66-77-88-99-aa-bb\taccountName=svc\tdomain=CORP\tsrcBytes=10\tdstBytes=20\tsrcPackets=1\tdstPackets=2\ttotalPackets=3\tpolicy=Allow-Web\tgroupID=7\tidentGrpName=admins\tisLoginEvent=true\taction=allowed\tproto=UDP",
        );
        assert_eq!(s(&e, "source.ip"), Some("10.0.0.5"));
        assert_eq!(i(&e, "source.port"), Some(1234));
        assert_eq!(s(&e, "source.nat.ip"), Some("198.51.100.5"));
        assert_eq!(i(&e, "source.nat.port"), Some(4321));
        assert_eq!(s(&e, "destination.nat.ip"), Some("10.9.9.9"));
        assert_eq!(i(&e, "destination.nat.port"), Some(8080));
        assert_eq!(s(&e, "source.mac"), Some("00-11-22-33-44-55"));
        assert_eq!(s(&e, "destination.mac"), Some("66-77-88-99-AA-BB"));
        assert_eq!(s(&e, "user.name"), Some("svc"));
        assert_eq!(s(&e, "user.domain"), Some("CORP"));
        assert_eq!(i(&e, "source.bytes"), Some(10));
        assert_eq!(i(&e, "destination.bytes"), Some(20));
        assert_eq!(i(&e, "source.packets"), Some(1));
        assert_eq!(i(&e, "destination.packets"), Some(2));
        assert_eq!(i(&e, "network.packets"), Some(3));
        assert_eq!(s(&e, "rule.name"), Some("Allow-Web"));
        assert_eq!(s(&e, "group.id"), Some("7"));
        assert_eq!(s(&e, "group.name"), Some("admins"));
        assert_eq!(s(&e, "event.category"), Some("authentication"));
        assert_eq!(s(&e, "event.type"), Some("start"));
        assert_eq!(s(&e, "event.action"), Some("allowed"));
        assert_eq!(s(&e, "network.transport"), Some("udp"));
        // src wins over srcPreNAT whatever the order; identity fields fill in the source.
        let e = one(
            "LEEF:1.0|V|P|1|ID|srcPreNAT=10.0.0.5\tsrc=10.0.0.6\tidentSrc=10.0.0.7\tidentHostName=ws01\tidentMAC=001122334455\tusrName=amy\taccountName=svc",
        );
        assert_eq!(s(&e, "source.ip"), Some("10.0.0.6"));
        assert_eq!(s(&e, "source.domain"), Some("ws01"));
        assert_eq!(s(&e, "source.mac"), Some("00-11-22-33-44-55"));
        assert_eq!(s(&e, "user.name"), Some("amy"));
        let e = one("LEEF:1.0|V|P|1|ID|identSrc=10.0.0.7\tisLogoutEvent=false");
        assert_eq!(s(&e, "source.ip"), Some("10.0.0.7"));
        assert!(e.get(ecs::EVENT_CATEGORY).is_none());
    }

    #[test]
    fn dev_time_formats() {
        let t = |s: &str, p: &str| {
            java_time(s, p, None).map(|(t, z)| (t.to_rfc3339(), z.map(TzOffset::secs)))
        };
        assert_eq!(
            t("Mar 14 2024 09:59:10", "MMM dd yyyy HH:mm:ss"),
            Some(("2024-03-14T09:59:10Z".into(), None))
        );
        assert_eq!(
            t("2024-03-14 09:59:10.123 +0200", "yyyy-MM-dd HH:mm:ss.SSS Z"),
            Some(("2024-03-14T07:59:10.123Z".into(), Some(7200)))
        );
        assert_eq!(
            t("2024-03-14T09:59:10.5Z", "yyyy-MM-dd'T'HH:mm:ss.SX"),
            Some(("2024-03-14T09:59:10.500Z".into(), Some(0)))
        );
        assert_eq!(
            t("20240314095910", "yyyyMMddHHmmss"),
            Some(("2024-03-14T09:59:10Z".into(), None))
        );
        assert_eq!(
            t("14/03/24 9:59:10 PM CET", "dd/MM/yy h:mm:ss a z"),
            Some(("2024-03-14T20:59:10Z".into(), Some(3600)))
        );
        assert_eq!(
            t(
                "Thu, 14 March 2024 12:00:00 AM",
                "EEE, d MMMM yyyy hh:mm:ss a"
            ),
            Some(("2024-03-14T00:00:00Z".into(), None))
        );
        assert_eq!(
            t("it's 2024-03-14", "'it''s' yyyy-MM-dd"),
            Some(("2024-03-14T00:00:00Z".into(), None))
        );
        assert_eq!(t("2024-03-14", "yyyy-MM-dd HH"), None);
        assert_eq!(t("2024-13-14", "yyyy-MM-dd"), None);
        assert_eq!(t("2024-03-14 extra", "yyyy-MM-dd"), None);
        assert_eq!(t("2024-W11", "YYYY-'W'ww"), None);
        assert_eq!(t("", ""), None);
        // Through the parser: a format that does not match falls back to the generic readers,
        // and an unreadable time keeps the receive time.
        let e = one("LEEF:1.0|V|P|1|ID|devTime=1710410760000\tdevTimeFormat=epoch");
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T10:06:00Z");
        let e = one("LEEF:1.0|V|P|1|ID|devTime=Mar 14 2024 09:59:10 +01:00");
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T08:59:10Z");
        assert_eq!(e.tz, TzOffset::from_secs(3600));
        let e = one("LEEF:1.0|V|P|1|ID|devTime=garbage");
        assert_eq!(e.timestamp, e.received);
    }

    #[test]
    fn attributes_are_capped() {
        let attrs: Vec<String> = (0..3000).map(|n| format!("k{n}={n}")).collect();
        let e = one(&format!("LEEF:2.0|V|P|1|ID|^|{}", attrs.join("^")));
        assert_eq!(i(&e, "k1023"), Some(1023));
        assert!(e.get_name("k1024").is_none());
    }

    #[test]
    fn delimiter_specs() {
        assert_eq!(delimiter_spec(""), Some(None));
        assert_eq!(delimiter_spec("^"), Some(Some('^')));
        assert_eq!(delimiter_spec("x09"), Some(Some('\t')));
        assert_eq!(delimiter_spec("0x7C"), Some(Some('|')));
        assert_eq!(delimiter_spec("x0"), None);
        assert_eq!(delimiter_spec("src=1"), None);
        assert_eq!(delimiter_spec("xZZ"), None);
    }

    #[test]
    fn malformed_records() {
        assert_eq!(bad("LEEF:1.0|V|P"), ErrorCode::Syntax);
        assert_eq!(bad("plain text"), ErrorCode::WrongFormat);
        assert_eq!(bad("CEF:0|V|P|1|2|N|3|"), ErrorCode::WrongFormat);
        let mut e = Event::new(
            Timestamp::from_nanos(0),
            Source::Input {
                name: Arc::from("t"),
            },
        );
        assert_eq!(
            parse_message("LEEF:one|V|P|1|ID|", &mut e).map_err(|e| e.code),
            Err(ErrorCode::Syntax)
        );
        assert!(parse_message("LEEF:2.0|V|P|1|ID|^|a=1", &mut e).is_ok());
        assert_eq!(s(&e, "a").or(i(&e, "a").map(|_| "1")), Some("1"));
        assert!(sniff(
            "<13>Mar 14 10:06:00 mailgw LEEF:2.0|Proofpoint|TAP|3.2|X|^|a=1"
        ));
        assert!(!sniff("LEEF:|V|P|1|ID|"));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = run(&s);
            let _ = run(&format!("LEEF:2.0|{s}"));
            let _ = run(&format!("LEEF:1.0|a|b|c|d|{s}"));
            let _ = java_time(&s, &s, None);
            let _ = java_time(&s, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", None);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let origin = Origin::File(Arc::from("t"));
            parse_bytes(&b, Some(Format::Leef), &origin, &opts(), &mut |_| {});
        }

        #[test]
        fn attributes_round_trip(
            delim in prop_oneof![Just('\t'), Just('^'), Just('|'), Just(';')],
            kvs in proptest::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,10}", "[a-zA-Z0-9 =:/.,é-]{0,20}", 1..8),
        ) {
            let spec = format!("x{:02X}", u32::from(delim));
            let attrs: Vec<String> = kvs.iter().map(|(k, v)| format!("k{k}={v}")).collect();
            let line = format!("LEEF:2.0|Vendor|Product|1.0|ID|{spec}|{}", attrs.join(&delim.to_string()));
            let e = one(&line);
            for (k, v) in &kvs {
                prop_assert_eq!(e.get_name(&format!("k{k}")).cloned(), Some(Value::infer(v)));
            }
        }
    }
}
