//! ArcSight Common Event Format (CEF), bare or after a syslog header.
//!
//! A record is `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
//! Header fields escape `\|` and `\\`; the extension is space-separated `key=value` pairs whose
//! values may contain spaces (a value runs until the next ` key=`) and escape `\=`, `\\`, `\n`
//! and `\r`. Producers are sloppy, so unknown escapes and stray backslashes (Windows paths) are
//! kept literally, a missing trailing `|` after the severity is accepted, and any prefix before
//! `CEF:` (a syslog header) is read with [`crate::syslog::parse_header`] or skipped.
//!
//! Mapping idea: the header becomes `cef.*` fields plus `observer.*`, `event.code` and
//! `event.severity`/`log.level`; every extension key is kept under its own name (`src`, `cs1`,
//! ...) and the keys of the CEF dictionary (short or full names) also fill their ECS fields.
//! Custom fields with labels (`cs1Label=Rule cs1=x`) also appear under the label (`Rule`).
//! The mapping table lives in `docs/formats/cef.md`.
//!
//! The small vendor helpers shared with [`crate::leef`] (extension scanner, MAC and protocol
//! normalisation, vendor time stamps and zone names, severity bands) live here too.

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::NaiveDate;
use compact_str::CompactString;
use kasbah_event::{Event, FieldId, Timestamp, TzOffset, Value, ecs};

use crate::driver::{Cx, LineParser};
use crate::error::ParseError;
use crate::norm;

/// True if `line` holds a CEF record (`CEF:<digits>|`), at its start or after a prefix.
pub(crate) fn sniff(line: &str) -> bool {
    find_marker(line, "CEF:").is_some()
}

/// Byte offset of `marker` (`CEF:` or `LEEF:`) in `line` when it starts the line or follows a
/// space or `:` and is followed by a version (`0|`, `1.0|`, `2.0|`).
pub(crate) fn find_marker(line: &str, marker: &str) -> Option<usize> {
    let b = line.as_bytes();
    let at_marker = |at: usize| {
        let before_ok = at == 0 || matches!(b.get(at - 1), Some(b' ' | b':' | b'\t' | b'>'));
        let mut i = at + marker.len();
        let mut digits = 0;
        while let Some(c) = b.get(i) {
            if c.is_ascii_digit() {
                digits += 1;
            } else if *c != b'.' {
                break;
            }
            i += 1;
        }
        before_ok && digits > 0 && b.get(i) == Some(&b'|')
    };
    // Bare records start with the marker: no search needed.
    if b.starts_with(marker.as_bytes()) && at_marker(0) {
        return Some(0);
    }
    memchr::memmem::find_iter(b, marker.as_bytes()).find(|&at| at_marker(at))
}

/// What an extension key fills besides its original-name field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Map {
    None,
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    SrcMac,
    DstMac,
    SrcHost,
    DstHost,
    SrcUser,
    DstUser,
    SrcUid,
    DstUid,
    SrcNtDomain,
    DstNtDomain,
    Transport,
    AppProto,
    Action,
    Outcome,
    Reason,
    Url,
    Method,
    UserAgent,
    Referrer,
    FileName,
    FilePath,
    FileHash,
    FileSize,
    Message,
    Rt,
    Start,
    End,
    Dtz,
    BytesIn,
    BytesOut,
    SrcProc,
    SrcPid,
    DstProc,
    DstPid,
    DvcIp,
    DvcHost,
    DvcMac,
    DvcExternalId,
    Direction,
    InIface,
    OutIface,
    SrcNatIp,
    SrcNatPort,
    DstNatIp,
    DstNatPort,
    ExternalId,
}

/// The CEF dictionary: short key names and the full names some producers send instead.
const KEYS: &[(&str, Map)] = &[
    ("act", Map::Action),
    ("deviceAction", Map::Action),
    ("app", Map::AppProto),
    ("applicationProtocol", Map::AppProto),
    ("cat", Map::None),
    ("cnt", Map::None),
    ("cs1", Map::None),
    ("cs2", Map::None),
    ("cs3", Map::None),
    ("cs4", Map::None),
    ("cs5", Map::None),
    ("cs6", Map::None),
    ("cn1", Map::None),
    ("cn2", Map::None),
    ("cn3", Map::None),
    ("cfp1", Map::None),
    ("cfp2", Map::None),
    ("cfp3", Map::None),
    ("cfp4", Map::None),
    ("c6a1", Map::None),
    ("c6a2", Map::None),
    ("c6a3", Map::None),
    ("c6a4", Map::None),
    ("dhost", Map::DstHost),
    ("destinationHostName", Map::DstHost),
    ("dmac", Map::DstMac),
    ("destinationMacAddress", Map::DstMac),
    ("dntdom", Map::DstNtDomain),
    ("destinationNtDomain", Map::DstNtDomain),
    ("dpid", Map::DstPid),
    ("destinationProcessId", Map::DstPid),
    ("dproc", Map::DstProc),
    ("destinationProcessName", Map::DstProc),
    ("dpt", Map::DstPort),
    ("destinationPort", Map::DstPort),
    ("dst", Map::DstIp),
    ("destinationAddress", Map::DstIp),
    ("dtz", Map::Dtz),
    ("deviceTimeZone", Map::Dtz),
    ("duid", Map::DstUid),
    ("destinationUserId", Map::DstUid),
    ("duser", Map::DstUser),
    ("destinationUserName", Map::DstUser),
    ("dvc", Map::DvcIp),
    ("deviceAddress", Map::DvcIp),
    ("dvchost", Map::DvcHost),
    ("deviceHostName", Map::DvcHost),
    ("dvcmac", Map::DvcMac),
    ("deviceMacAddress", Map::DvcMac),
    ("dvcpid", Map::None),
    ("deviceExternalId", Map::DvcExternalId),
    ("deviceDirection", Map::Direction),
    ("deviceInboundInterface", Map::InIface),
    ("deviceOutboundInterface", Map::OutIface),
    ("end", Map::End),
    ("endTime", Map::End),
    ("externalId", Map::ExternalId),
    ("fileHash", Map::FileHash),
    ("filePath", Map::FilePath),
    ("fname", Map::FileName),
    ("fileName", Map::FileName),
    ("fsize", Map::FileSize),
    ("fileSize", Map::FileSize),
    ("in", Map::BytesIn),
    ("bytesIn", Map::BytesIn),
    ("msg", Map::Message),
    ("message", Map::Message),
    ("out", Map::BytesOut),
    ("bytesOut", Map::BytesOut),
    ("outcome", Map::Outcome),
    ("eventOutcome", Map::Outcome),
    ("proto", Map::Transport),
    ("transportProtocol", Map::Transport),
    ("reason", Map::Reason),
    ("request", Map::Url),
    ("requestUrl", Map::Url),
    ("requestClientApplication", Map::UserAgent),
    ("requestContext", Map::Referrer),
    ("requestMethod", Map::Method),
    ("rt", Map::Rt),
    ("deviceReceiptTime", Map::Rt),
    ("shost", Map::SrcHost),
    ("sourceHostName", Map::SrcHost),
    ("smac", Map::SrcMac),
    ("sourceMacAddress", Map::SrcMac),
    ("sntdom", Map::SrcNtDomain),
    ("sourceNtDomain", Map::SrcNtDomain),
    ("spid", Map::SrcPid),
    ("sourceProcessId", Map::SrcPid),
    ("sproc", Map::SrcProc),
    ("sourceProcessName", Map::SrcProc),
    ("spt", Map::SrcPort),
    ("sourcePort", Map::SrcPort),
    ("src", Map::SrcIp),
    ("sourceAddress", Map::SrcIp),
    ("start", Map::Start),
    ("startTime", Map::Start),
    ("suid", Map::SrcUid),
    ("sourceUserId", Map::SrcUid),
    ("suser", Map::SrcUser),
    ("sourceUserName", Map::SrcUser),
    ("sourceTranslatedAddress", Map::SrcNatIp),
    ("sourceTranslatedPort", Map::SrcNatPort),
    ("destinationTranslatedAddress", Map::DstNatIp),
    ("destinationTranslatedPort", Map::DstNatPort),
];

/// A fixed open-addressing hash table from key names to their interned id and mapping, built
/// once: one hash and one comparison per lookup on the hot path.
pub(crate) struct KeyTable<M: Copy> {
    slots: Vec<u16>,
    entries: Vec<(&'static str, FieldId, M)>,
}

impl<M: Copy> KeyTable<M> {
    pub(crate) fn new(keys: &[(&'static str, M)]) -> Self {
        let size = (keys.len() * 4).next_power_of_two().max(16);
        let mask = size - 1;
        let mut slots = vec![0u16; size];
        let mut entries = Vec::with_capacity(keys.len());
        for (k, m) in keys {
            entries.push((*k, FieldId::intern(k), *m));
            let mut h = fnv(k.as_bytes()) & mask;
            while slots.get(h).is_some_and(|s| *s != 0) {
                h = (h + 1) & mask;
            }
            if let Some(slot) = slots.get_mut(h) {
                *slot = entries.len() as u16;
            }
        }
        KeyTable { slots, entries }
    }

    pub(crate) fn get(&self, key: &str) -> Option<(FieldId, M)> {
        let mask = self.slots.len() - 1;
        let mut h = fnv(key.as_bytes()) & mask;
        loop {
            let slot = *self.slots.get(h)?;
            let (k, id, m) = self.entries.get(usize::from(slot).checked_sub(1)?)?;
            if *k == key {
                return Some((*id, *m));
            }
            h = (h + 1) & mask;
        }
    }
}

fn fnv(b: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in b {
        h = (h ^ u32::from(c)).wrapping_mul(0x0100_0193);
    }
    h as usize
}

/// Field ids interned once per process.
struct Ids {
    /// The dictionary with each key's interned id.
    keys: KeyTable<Map>,
    version: FieldId,
    device_vendor: FieldId,
    device_product: FieldId,
    device_version: FieldId,
    signature_id: FieldId,
    name: FieldId,
    severity: FieldId,
    observer_hostname: FieldId,
    observer_mac: FieldId,
    observer_ingress: FieldId,
    observer_egress: FieldId,
    source_nat_ip: FieldId,
    source_nat_port: FieldId,
    destination_nat_ip: FieldId,
    destination_nat_port: FieldId,
    user_target_id: FieldId,
    event_start: FieldId,
    event_end: FieldId,
    event_reason: FieldId,
    file_hash_sha512: FieldId,
}

impl Ids {
    fn get() -> &'static Ids {
        static IDS: OnceLock<Ids> = OnceLock::new();
        IDS.get_or_init(|| Ids {
            keys: KeyTable::new(KEYS),
            version: FieldId::intern("cef.version"),
            device_vendor: FieldId::intern("cef.device_vendor"),
            device_product: FieldId::intern("cef.device_product"),
            device_version: FieldId::intern("cef.device_version"),
            signature_id: FieldId::intern("cef.signature_id"),
            name: FieldId::intern("cef.name"),
            severity: FieldId::intern("cef.severity"),
            observer_hostname: FieldId::intern("observer.hostname"),
            observer_mac: FieldId::intern("observer.mac"),
            observer_ingress: FieldId::intern("observer.ingress.interface.name"),
            observer_egress: FieldId::intern("observer.egress.interface.name"),
            source_nat_ip: FieldId::intern("source.nat.ip"),
            source_nat_port: FieldId::intern("source.nat.port"),
            destination_nat_ip: FieldId::intern("destination.nat.ip"),
            destination_nat_port: FieldId::intern("destination.nat.port"),
            user_target_id: FieldId::intern("user.target.id"),
            event_start: FieldId::intern("event.start"),
            event_end: FieldId::intern("event.end"),
            event_reason: FieldId::intern("event.reason"),
            file_hash_sha512: FieldId::intern("file.hash.sha512"),
        })
    }

    fn lookup(&self, key: &str) -> Option<(FieldId, Map)> {
        self.keys.get(key)
    }
}

/// Fills `e` from a CEF message (`msg` starts at `CEF:`), used by the syslog parser for
/// CEF payloads. Zone-less times use the extension's `dtz` or the zone the syslog header wrote.
pub(crate) fn parse_message(msg: &str, e: &mut Event) -> Result<(), ParseError> {
    parse_cef(msg, e, None)
}

/// The payload starting at `marker` (`CEF:`, `LEEF:`) of a line that may carry a syslog header;
/// the header, when the syslog parser recognises one, fills host/time/app fields of `e`. Some
/// relays make the marker the syslog tag, so the payload is looked up in the whole line when the
/// message part does not hold it.
pub(crate) fn payload_after_header<'a>(
    line: &'a str,
    marker: &str,
    e: &mut Event,
    opts: &crate::driver::ParseOptions,
) -> Result<&'a str, ParseError> {
    let msg = crate::syslog::parse_header(line, e, opts).unwrap_or(line);
    find_marker(msg, marker)
        .and_then(|at| msg.get(at..))
        .or_else(|| find_marker(line, marker).and_then(|at| line.get(at..)))
        .ok_or_else(|| ParseError::wrong_format(marker.trim_end_matches(':')))
}

/// The seven header fields, unescaped.
struct Header<'a> {
    fields: [Cow<'a, str>; 7],
}

/// Splits the header after `CEF:` into its seven fields and the extension. A severity without
/// its closing `|` (no extension) is accepted.
fn split_header(s: &str) -> Result<(Header<'_>, &str), ParseError> {
    let b = s.as_bytes();
    let mut spans = [(0usize, 0usize, false); 7];
    let mut n = 0;
    let (mut start, mut escaped, mut i) = (0usize, false, 0usize);
    while n < 7 {
        let Some(&c) = b.get(i) else { break };
        match c {
            b'\\' if matches!(b.get(i + 1), Some(b'|' | b'\\')) => {
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
    let rest = match n {
        7 => s.get(start..).unwrap_or(""),
        6 => {
            spans[6] = (start, s.len(), escaped);
            ""
        }
        _ => {
            return Err(ParseError::syntax(format!(
                "expected 7 `|`-separated CEF header fields (Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|), found {n}"
            )));
        }
    };
    let field = |(a, z, esc): (usize, usize, bool)| -> Cow<'_, str> {
        let raw = s.get(a..z).unwrap_or("");
        if esc {
            Cow::Owned(unescape_header(raw))
        } else {
            Cow::Borrowed(raw)
        }
    };
    let fields = spans.map(field);
    Ok((Header { fields }, rest))
}

fn unescape_header(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && (n == '|' || n == '\\')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Values of the extension that are applied after all keys are read (they depend on each other
/// or have a precedence).
#[derive(Default)]
struct Deferred<'a> {
    rt: Option<Cow<'a, str>>,
    start: Option<Cow<'a, str>>,
    end: Option<Cow<'a, str>>,
    dtz: Option<Cow<'a, str>>,
    sproc: Option<Cow<'a, str>>,
    dproc: Option<Cow<'a, str>>,
    spid: Option<Cow<'a, str>>,
    dpid: Option<Cow<'a, str>>,
    has_msg: bool,
    labels: Vec<(&'a str, Cow<'a, str>)>,
    pairs: usize,
}

/// Extension pairs kept per record. Real records have a few dozen; the cap bounds the work on
/// hostile ones (the event's field map is a vector scanned per insert).
pub(crate) const MAX_PAIRS: usize = 1024;

fn parse_cef(msg: &str, e: &mut Event, default_tz: Option<TzOffset>) -> Result<(), ParseError> {
    let body = msg
        .strip_prefix("CEF:")
        .ok_or_else(|| ParseError::wrong_format("CEF"))?;
    let (header, ext) = split_header(body)?;
    let ids = Ids::get();
    let [version, vendor, product, dev_version, sig, name, sev] = &header.fields;
    let version = version.trim();
    if version.is_empty() || !version.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(ParseError::syntax(format!(
            "expected a CEF version number after `CEF:`, found {version:?}"
        )));
    }
    e.set(ecs::EVENT_KIND, "event");
    e.set(ecs::EVENT_MODULE, "cef");
    e.set(ids.version, Value::infer(version));
    e.set(ids.device_vendor, &**vendor);
    e.set(ids.device_product, &**product);
    e.set(ids.device_version, &**dev_version);
    e.set(ids.signature_id, &**sig);
    e.set(ids.name, &**name);
    e.set(ids.severity, Value::infer(sev.trim()));
    norm::set_str(e, ecs::OBSERVER_VENDOR, vendor);
    norm::set_str(e, ecs::OBSERVER_PRODUCT, product);
    norm::set_str(e, ecs::OBSERVER_VERSION, dev_version);
    norm::set_str(e, ecs::EVENT_CODE, sig);
    if let Some((n, level)) = severity(sev) {
        e.set(ecs::EVENT_SEVERITY, n);
        if let Some(level) = level {
            e.set(ecs::LOG_LEVEL, level);
        }
    }

    let mut d = Deferred::default();
    scan_pairs(ext, true, |key, value| apply(e, ids, &mut d, key, value));

    if !d.has_msg {
        norm::set_str(e, ecs::MESSAGE, name);
    }
    if let Some(p) = d.dproc.as_deref().or(d.sproc.as_deref()) {
        set_process(e, p);
    }
    if let Some(p) = d.dpid.as_deref().or(d.spid.as_deref()) {
        norm::set_int(e, ecs::PROCESS_PID, p);
    }
    // The zone for zone-less times: the device's own `dtz`, else the zone the syslog header
    // wrote, else the configured default.
    let dtz = d.dtz.as_deref().and_then(zone);
    let fallback_tz = dtz.or(e.tz).or(default_tz);
    let reference = e.received;
    let when = |s: Option<&str>| s.and_then(|s| vendor_time(s, fallback_tz, reference));
    let rt = when(d.rt.as_deref());
    let start = when(d.start.as_deref());
    let end = when(d.end.as_deref());
    if let Some((t, _)) = start {
        e.set(ids.event_start, t.to_rfc3339());
    }
    if let Some((t, _)) = end {
        e.set(ids.event_end, t.to_rfc3339());
    }
    // The device's receipt time is the event time; without it the session end, then start.
    if let Some((t, written)) = rt.or(end).or(start) {
        e.timestamp = t;
        if let Some(z) = written.or(dtz) {
            e.tz = Some(z);
        }
    }
    apply_labels(e, ids, &d.labels);
    Ok(())
}

/// Stores one extension pair under its own name and fills its ECS field.
fn apply<'a>(e: &mut Event, ids: &Ids, d: &mut Deferred<'a>, key: &'a str, value: Cow<'a, str>) {
    d.pairs += 1;
    if d.pairs > MAX_PAIRS {
        return;
    }
    let Some((id, map)) = ids.lookup(key) else {
        if key.len() > 5 && key.ends_with("Label") {
            d.labels
                .push((key.get(..key.len() - 5).unwrap_or(""), value.clone()));
        }
        e.fields.set_name(key, Value::infer(&value));
        return;
    };
    e.set(id, Value::infer(&value));
    let v: &str = &value;
    if v.is_empty() || v == "-" {
        return;
    }
    match map {
        Map::None => {}
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
        Map::SrcMac => set_mac(e, ecs::SOURCE_MAC, v),
        Map::DstMac => set_mac(e, ecs::DESTINATION_MAC, v),
        Map::DvcMac => set_mac(e, ids.observer_mac, v),
        Map::SrcHost => e.set(ecs::SOURCE_DOMAIN, v),
        Map::DstHost => e.set(ecs::DESTINATION_DOMAIN, v),
        Map::SrcUser => e.set(ecs::USER_NAME, v),
        Map::DstUser => e.set(ecs::USER_TARGET_NAME, v),
        Map::SrcUid => e.set(ecs::USER_ID, v),
        Map::DstUid => e.set(ids.user_target_id, v),
        Map::SrcNtDomain => e.set(ecs::USER_DOMAIN, v),
        Map::DstNtDomain => e.set(ecs::USER_TARGET_DOMAIN, v),
        Map::Transport => e.set(ecs::NETWORK_TRANSPORT, transport(v)),
        Map::AppProto => e.set(ecs::NETWORK_PROTOCOL, v.to_ascii_lowercase()),
        Map::Action => e.set(ecs::EVENT_ACTION, v),
        Map::Outcome => {
            if let Some(o) = outcome(v) {
                e.set(ecs::EVENT_OUTCOME, o);
            }
        }
        Map::Reason => e.set(ids.event_reason, v),
        Map::Url => norm::set_url(e, v),
        Map::Method => e.set(ecs::HTTP_REQUEST_METHOD, v),
        Map::UserAgent => e.set(ecs::USER_AGENT_ORIGINAL, v),
        Map::Referrer => e.set(ecs::HTTP_REQUEST_REFERRER, v),
        Map::FileName => e.set(ecs::FILE_NAME, v),
        Map::FilePath => norm::set_file_path(e, v),
        Map::FileHash => set_hash(e, ids, v),
        Map::FileSize => {
            norm::set_int(e, ecs::FILE_SIZE, v);
        }
        Map::Message => {
            e.set(ecs::MESSAGE, v);
            d.has_msg = true;
        }
        Map::BytesIn => {
            norm::set_int(e, ecs::SOURCE_BYTES, v);
        }
        Map::BytesOut => {
            norm::set_int(e, ecs::DESTINATION_BYTES, v);
        }
        Map::DvcIp => {
            norm::set_ip(e, ecs::OBSERVER_IP, v);
        }
        Map::DvcHost => e.set(ids.observer_hostname, v),
        Map::DvcExternalId => e.set(ecs::OBSERVER_NAME, v),
        Map::Direction => match v {
            "0" => e.set(ecs::NETWORK_DIRECTION, "inbound"),
            "1" => e.set(ecs::NETWORK_DIRECTION, "outbound"),
            _ => {}
        },
        Map::InIface => e.set(ids.observer_ingress, v),
        Map::OutIface => e.set(ids.observer_egress, v),
        Map::SrcNatIp => {
            norm::set_ip(e, ids.source_nat_ip, v);
        }
        Map::SrcNatPort => {
            norm::set_port(e, ids.source_nat_port, v);
        }
        Map::DstNatIp => {
            norm::set_ip(e, ids.destination_nat_ip, v);
        }
        Map::DstNatPort => {
            norm::set_port(e, ids.destination_nat_port, v);
        }
        Map::ExternalId => e.set(ecs::EVENT_ID, v),
        Map::Rt => d.rt = Some(value),
        Map::Start => d.start = Some(value),
        Map::End => d.end = Some(value),
        Map::Dtz => d.dtz = Some(value),
        Map::SrcProc => d.sproc = Some(value),
        Map::DstProc => d.dproc = Some(value),
        Map::SrcPid => d.spid = Some(value),
        Map::DstPid => d.dpid = Some(value),
    }
}

/// `process.executable` + `process.name` for a path, `process.name` for a bare name.
fn set_process(e: &mut Event, p: &str) {
    if p.contains(['/', '\\']) {
        norm::set_executable(e, ecs::PROCESS_EXECUTABLE, ecs::PROCESS_NAME, p);
    } else {
        norm::set_str(e, ecs::PROCESS_NAME, p);
    }
}

/// Copies each labelled custom field (`cs1Label=Policy cs1=x`) to a field named by its label.
/// A label never replaces an existing field nor takes an ECS name.
fn apply_labels(e: &mut Event, ids: &Ids, labels: &[(&str, Cow<'_, str>)]) {
    for (base, label) in labels {
        let label = label.trim();
        if label.is_empty() || label == "-" {
            continue;
        }
        if FieldId::lookup(label).is_some_and(FieldId::is_ecs) || e.get_name(label).is_some() {
            continue;
        }
        let id = ids
            .lookup(base)
            .map(|(id, _)| id)
            .or_else(|| FieldId::lookup(base));
        if let Some(v) = id.and_then(|id| e.get(id)).cloned() {
            e.fields.set_name(label, v);
        }
    }
}

fn set_hash(e: &mut Event, ids: &Ids, v: &str) {
    if !v.bytes().all(|c| c.is_ascii_hexdigit()) {
        return;
    }
    let id = match v.len() {
        32 => ecs::FILE_HASH_MD5,
        40 => ecs::FILE_HASH_SHA1,
        64 => ecs::FILE_HASH_SHA256,
        128 => ids.file_hash_sha512,
        _ => return,
    };
    e.set(id, v.to_ascii_lowercase());
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

/// Scans space-separated `key=value` pairs where values may contain spaces: a value runs until
/// the next ` key=` (a key is letters, digits, `_` and `.`). With `escapes`, the CEF escapes
/// `\=`, `\\`, `\n`, `\r` (and `\|`) are honoured and undone; other backslashes are literal.
/// Text before the first key is skipped. Trailing spaces of a value are separators and dropped.
/// Linear time: every byte is looked at once.
pub(crate) fn scan_pairs<'a>(s: &'a str, escapes: bool, mut f: impl FnMut(&'a str, Cow<'a, str>)) {
    let b = s.as_bytes();
    let mut key: Option<&'a str> = None;
    let mut val_start = 0usize;
    let mut tok_start = 0usize;
    let mut tok_ok = true;
    let mut has_escape = false;
    let mut i = 0usize;
    let mut emit = |key: Option<&'a str>, a: usize, z: usize, esc: bool| {
        if let Some(k) = key {
            let raw = s.get(a..z).unwrap_or("").trim_end_matches(' ');
            let v = if esc {
                Cow::Owned(unescape_ext(raw))
            } else {
                Cow::Borrowed(raw)
            };
            f(k, v);
        }
    };
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' if escapes && matches!(b.get(i + 1), Some(b'=' | b'\\' | b'n' | b'r' | b'|')) => {
                has_escape = true;
                tok_ok = false;
                i += 2;
                continue;
            }
            b' ' => {
                tok_start = i + 1;
                tok_ok = true;
            }
            b'=' => {
                if tok_ok && tok_start < i && (key.is_none() || tok_start > val_start) {
                    // A new key: the current value ends at the space before it.
                    emit(key, val_start, tok_start.saturating_sub(1), has_escape);
                    key = s.get(tok_start..i);
                    val_start = i + 1;
                    tok_start = i + 1;
                    has_escape = false;
                } else {
                    tok_ok = false;
                }
            }
            c if !is_key_byte(c) => tok_ok = false,
            _ => {}
        }
        i += 1;
    }
    emit(key, val_start, s.len(), has_escape);
}

fn unescape_ext(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let rep = match chars.peek() {
                Some('=') => Some('='),
                Some('\\') => Some('\\'),
                Some('|') => Some('|'),
                Some('n') => Some('\n'),
                Some('r') => Some('\r'),
                _ => None,
            };
            if let Some(r) = rep {
                out.push(r);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Escapes a value for a CEF extension (the inverse of the scanner's unescaping).
#[cfg(test)]
pub(crate) fn escape_ext(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// A severity as a number and its band: CEF `0`-`10` (or any integer) or the words
/// `Low`, `Medium`, `High`, `Very-High`. Bands: 0-3 low, 4-6 medium, 7-8 high, 9-10 very-high.
pub(crate) fn severity(s: &str) -> Option<(i64, Option<&'static str>)> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        let band = match n {
            0..=3 => Some("low"),
            4..=6 => Some("medium"),
            7..=8 => Some("high"),
            9..=10 => Some("very-high"),
            _ => None,
        };
        return Some((n, band));
    }
    let word = |w: &str| s.eq_ignore_ascii_case(w);
    if word("low") {
        Some((3, Some("low")))
    } else if word("medium") {
        Some((6, Some("medium")))
    } else if word("high") {
        Some((8, Some("high")))
    } else if word("very-high") || word("veryhigh") || word("very high") || word("very_high") {
        Some((10, Some("very-high")))
    } else {
        None
    }
}

/// `event.outcome` from a vendor outcome word (`success`, `/Failure`, `failed`...).
pub(crate) fn outcome(s: &str) -> Option<&'static str> {
    let s = s.trim().trim_start_matches('/').to_ascii_lowercase();
    if s.starts_with("succe") || s == "ok" {
        Some("success")
    } else if s.starts_with("fail") {
        Some("failure")
    } else if s == "unknown" {
        Some("unknown")
    } else {
        None
    }
}

/// `network.transport`: lower-case name, IANA protocol numbers translated.
pub(crate) fn transport(s: &str) -> CompactString {
    let name = match s.trim() {
        "1" => "icmp",
        "2" => "igmp",
        "6" => "tcp",
        "17" => "udp",
        "47" => "gre",
        "50" => "esp",
        "51" => "ah",
        "58" => "ipv6-icmp",
        "132" => "sctp",
        other => return CompactString::new(other.to_ascii_lowercase()),
    };
    CompactString::new(name)
}

/// Sets a MAC field in the ECS form (`AA-BB-CC-DD-EE-FF`) from `aa:bb:..`, `aa-bb-..`,
/// `aabb.ccdd.eeff` or 12 bare hex digits; invalid text is left out of the ECS field.
pub(crate) fn set_mac(e: &mut Event, id: FieldId, s: &str) {
    let mut hex = [0u8; 12];
    let mut n = 0;
    for c in s.trim().bytes() {
        if c.is_ascii_hexdigit() {
            match hex.get_mut(n) {
                Some(h) => *h = c.to_ascii_uppercase(),
                None => return,
            }
            n += 1;
        } else if !matches!(c, b':' | b'-' | b'.') {
            return;
        }
    }
    if n != 12 {
        return;
    }
    let mut out = CompactString::default();
    for (i, pair) in hex.chunks(2).enumerate() {
        if i > 0 {
            out.push('-');
        }
        for &c in pair {
            out.push(char::from(c));
        }
    }
    e.set(id, out);
}

/// Reads a zone written after a time: `Z`, `UTC`, `GMT`, `+02:00`, `+0200`, `-5`, `GMT+01:00`,
/// `UTC-3` or a common abbreviation (`CEST`, `EST`, `PDT`...). IANA names are not known.
pub(crate) fn zone(s: &str) -> Option<TzOffset> {
    let s = s.trim();
    let upper =
        |p: &str| s.len() >= p.len() && s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    for p in ["GMT", "UTC", "UT", "Z"] {
        if upper(p) {
            let rest = s.get(p.len()..).unwrap_or("").trim();
            return if rest.is_empty() {
                Some(TzOffset::UTC)
            } else {
                offset(rest)
            };
        }
    }
    if s.starts_with(['+', '-']) {
        return offset(s);
    }
    const ABBR: &[(&str, i32)] = &[
        ("EST", -5 * 60),
        ("EDT", -4 * 60),
        ("CST", -6 * 60),
        ("CDT", -5 * 60),
        ("MST", -7 * 60),
        ("MDT", -6 * 60),
        ("PST", -8 * 60),
        ("PDT", -7 * 60),
        ("AKST", -9 * 60),
        ("AKDT", -8 * 60),
        ("HST", -10 * 60),
        ("WET", 0),
        ("WEST", 60),
        ("BST", 60),
        ("CET", 60),
        ("CEST", 2 * 60),
        ("MET", 60),
        ("MEST", 2 * 60),
        ("EET", 2 * 60),
        ("EEST", 3 * 60),
        ("MSK", 3 * 60),
        ("SGT", 8 * 60),
        ("HKT", 8 * 60),
        ("AWST", 8 * 60),
        ("JST", 9 * 60),
        ("KST", 9 * 60),
        ("ACST", 9 * 60 + 30),
        ("AEST", 10 * 60),
        ("AEDT", 11 * 60),
        ("NZST", 12 * 60),
        ("NZDT", 13 * 60),
    ];
    ABBR.iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(s))
        .and_then(|(_, m)| TzOffset::from_secs(m * 60))
}

/// `+hh`, `+h`, `+hhmm`, `+hh:mm`, `+h:mm` (sign required).
fn offset(s: &str) -> Option<TzOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => (rest.get(..2)?, rest.get(2..)?),
        None => (rest, "0"),
    };
    if h.is_empty() || h.len() > 2 || m.len() > 2 {
        return None;
    }
    let h: i32 = h
        .parse()
        .ok()
        .filter(|_| h.bytes().all(|c| c.is_ascii_digit()))?;
    let m: i32 = m
        .parse()
        .ok()
        .filter(|_| m.bytes().all(|c| c.is_ascii_digit()))?;
    if h > 23 || m > 59 {
        return None;
    }
    TzOffset::from_secs(sign * (h * 3600 + m * 60))
}

/// Reads the time stamps vendors put in CEF/LEEF extensions: epoch milliseconds (12 digits or
/// more) or seconds (with an optional fraction), RFC 3339, and
/// `MMM dd[ yyyy] HH:mm:ss[.SSS][ zone]`. Zone-less times use `default_tz`; year-less ones take
/// the year that puts them closest before `reference`. Returns the instant and the zone written.
pub(crate) fn vendor_time(
    s: &str,
    default_tz: Option<TzOffset>,
    reference: Timestamp,
) -> Option<(Timestamp, Option<TzOffset>)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_digit)
        && b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
    {
        if (12..=15).contains(&s.len()) && !s.contains('.') {
            let ms: i64 = s.parse().ok()?;
            return Timestamp::from_secs_nanos(
                ms.div_euclid(1000),
                (ms.rem_euclid(1000) as u32) * 1_000_000,
            )
            .map(|t| (t, None));
        }
        return crate::time::epoch(s).map(|t| (t, None));
    }
    if let Some(r) = crate::time::rfc3339(s, default_tz) {
        return Some(r);
    }
    month_first(s, default_tz, reference)
}

/// `MMM dd[ yyyy] HH:mm:ss[.SSS][ zone]`.
fn month_first(
    s: &str,
    default_tz: Option<TzOffset>,
    reference: Timestamp,
) -> Option<(Timestamp, Option<TzOffset>)> {
    let b = s.as_bytes();
    let mo = crate::time::month(b)?;
    let mut i = 3;
    // Full month names ("March") are accepted too.
    while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    let skip_spaces = |mut i: usize| {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    i = skip_spaces(i);
    let (day, ni) = number(b, i, 2)?;
    i = skip_spaces(ni);
    let mut year = None;
    if b.get(i + 4) == Some(&b' ')
        && let Some((y, ni)) = number(b, i, 4).filter(|(_, ni)| *ni == i + 4)
    {
        year = Some(y as i32);
        i = skip_spaces(ni);
    }
    let time_at = i;
    let (h, ni) = number(b, i, 2)?;
    let (mi, ni) = number(b, expect(b, ni, b':')?, 2)?;
    let (sec, mut ni) = number(b, expect(b, ni, b':')?, 2)?;
    let mut nanos = 0u32;
    if matches!(b.get(ni), Some(b'.' | b',')) {
        let mut scale = 100_000_000u32;
        ni += 1;
        while let Some(c) = b.get(ni).filter(|c| c.is_ascii_digit()) {
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
            ni += 1;
        }
    }
    let rest = s.get(ni..).unwrap_or("").trim();
    let written = if rest.is_empty() { None } else { zone(rest) };
    let tz = written.or(default_tz);
    let ts = match year {
        Some(y) => {
            let dt =
                NaiveDate::from_ymd_opt(y, mo, day)?.and_hms_nano_opt(h, mi, sec.min(59), nanos)?;
            let secs = dt.and_utc().timestamp() - i64::from(tz.map_or(0, TzOffset::secs));
            Timestamp::from_secs_nanos(secs, nanos)?
        }
        None => {
            // Rebuild `Mmm dd hh:mm:ss.fff` for the shared year inference.
            let month = s.get(..3)?;
            let clock = s.get(time_at..ni)?;
            let text = format!("{month} {day:02} {clock}");
            crate::time::bsd_prefix(&text, reference, tz)?.0
        }
    };
    Some((ts, written))
}

/// Up to `max` digits at `i` (at least one); the value and the index after them.
fn number(b: &[u8], i: usize, max: usize) -> Option<(u32, usize)> {
    let mut v = 0u32;
    let mut j = i;
    while j < i + max {
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

fn expect(b: &[u8], i: usize, c: u8) -> Option<usize> {
    (b.get(i) == Some(&c)).then_some(i + 1)
}

/// Parses CEF records line by line, each bare or after a syslog header.
#[derive(Default)]
pub struct CefParser;

impl LineParser for CefParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let mut e = cx.new_event(record, Some(line));
        let payload = payload_after_header(line, "CEF:", &mut e, cx.opts)?;
        parse_cef(payload, &mut e, cx.opts.default_tz)?;
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
    use crate::{ErrorCode, Format, Item, Origin, ParseOptions, parse_bytes};

    use crate::testutil::{self, i, reference_opts as opts, s};

    fn run_with(input: &str, opts: &ParseOptions) -> Vec<Item> {
        testutil::items(input, Format::Cef, opts)
    }

    fn one(input: &str) -> Event {
        testutil::one(input, Format::Cef, &opts())
    }

    fn bad(input: &str) -> ErrorCode {
        testutil::first_bad(input, Format::Cef, &opts())
    }

    fn pairs(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        scan_pairs(s, true, |k, v| out.push((k.to_string(), v.into_owned())));
        out
    }

    #[test]
    fn header_and_dictionary_map_to_ecs() {
        let e = one(
            "CEF:0|Trend Micro|TippingPoint|5.5.1|7004|SQL Injection: UNION SELECT|8|rt=Mar 14 2024 09:51:31 UTC src=203.0.113.45 spt=51277 dst=10.1.2.10 dpt=80 proto=TCP act=Permit request=http://shop.example.org/products.php?id\\=1 suser=alice duser=bob smac=00:0c:29:aa:bb:cc in=1200 out=5400",
        );
        assert_eq!(s(&e, "cef.device_vendor"), Some("Trend Micro"));
        assert_eq!(s(&e, "observer.vendor"), Some("Trend Micro"));
        assert_eq!(s(&e, "observer.product"), Some("TippingPoint"));
        assert_eq!(s(&e, "observer.version"), Some("5.5.1"));
        assert_eq!(s(&e, "event.code"), Some("7004"));
        assert_eq!(s(&e, "cef.signature_id"), Some("7004"));
        assert_eq!(s(&e, "message"), Some("SQL Injection: UNION SELECT"));
        assert_eq!(i(&e, "event.severity"), Some(8));
        assert_eq!(s(&e, "log.level"), Some("high"));
        assert_eq!(s(&e, "event.kind"), Some("event"));
        assert_eq!(s(&e, "event.module"), Some("cef"));
        assert_eq!(s(&e, "source.ip"), Some("203.0.113.45"));
        assert_eq!(i(&e, "source.port"), Some(51277));
        assert_eq!(s(&e, "destination.ip"), Some("10.1.2.10"));
        assert_eq!(i(&e, "destination.port"), Some(80));
        assert_eq!(s(&e, "network.transport"), Some("tcp"));
        assert_eq!(s(&e, "proto"), Some("TCP"));
        assert_eq!(s(&e, "event.action"), Some("Permit"));
        assert_eq!(
            s(&e, "request"),
            Some("http://shop.example.org/products.php?id=1")
        );
        assert_eq!(s(&e, "url.domain"), Some("shop.example.org"));
        assert_eq!(s(&e, "url.query"), Some("id=1"));
        assert_eq!(s(&e, "user.name"), Some("alice"));
        assert_eq!(s(&e, "user.target.name"), Some("bob"));
        assert_eq!(s(&e, "source.mac"), Some("00-0C-29-AA-BB-CC"));
        assert_eq!(s(&e, "smac"), Some("00:0c:29:aa:bb:cc"));
        assert_eq!(i(&e, "source.bytes"), Some(1200));
        assert_eq!(i(&e, "destination.bytes"), Some(5400));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T09:51:31Z");
        assert_eq!(e.tz, Some(TzOffset::UTC));
        assert!(matches!(e.source, Source::File { record: 1, .. }));
    }

    #[test]
    fn header_escapes_and_missing_trailing_pipe() {
        let e = one("CEF:0|Ven\\|dor|Pro\\\\duct|1.0|100|Name with \\| pipe|5");
        assert_eq!(s(&e, "cef.device_vendor"), Some("Ven|dor"));
        assert_eq!(s(&e, "cef.device_product"), Some("Pro\\duct"));
        assert_eq!(s(&e, "cef.name"), Some("Name with | pipe"));
        assert_eq!(i(&e, "cef.severity"), Some(5));
        assert_eq!(s(&e, "log.level"), Some("medium"));
        // A pipe inside the extension needs no escaping.
        let e = one("CEF:0|V|P|1|2|N|3|msg=a|b c=d");
        assert_eq!(s(&e, "msg"), Some("a|b"));
        assert_eq!(s(&e, "c"), Some("d"));
    }

    #[test]
    fn extension_values_with_spaces_and_escapes() {
        assert_eq!(
            pairs(
                "msg=hello world  x=1 path=C:\\Windows\\System32 eq=a\\=b nl=l1\\nl2\\r bs=a\\\\b"
            ),
            vec![
                ("msg".into(), "hello world".into()),
                ("x".into(), "1".into()),
                ("path".into(), "C:\\Windows\\System32".into()),
                ("eq".into(), "a=b".into()),
                ("nl".into(), "l1\nl2\r".into()),
                ("bs".into(), "a\\b".into()),
            ]
        );
        // An `=` inside a token is part of the value; keys need a space before them.
        assert_eq!(
            pairs("request=http://x/?a=b&c=d cmd=--user=root -x=1 empty= last=z "),
            vec![
                ("request".into(), "http://x/?a=b&c=d".into()),
                ("cmd".into(), "--user=root -x=1".into()),
                ("empty".into(), "".into()),
                ("last".into(), "z".into()),
            ]
        );
        // Junk before the first key is skipped; a stray trailing backslash is kept.
        assert_eq!(pairs("junk text k=v\\"), vec![("k".into(), "v\\".into())]);
        assert_eq!(pairs(""), Vec::<(String, String)>::new());
        assert_eq!(pairs("no pairs at all"), Vec::<(String, String)>::new());
        // A stray backslash before a space does not swallow the separator.
        assert_eq!(
            pairs("filePath=C:\\Temp\\ fname=x"),
            vec![
                ("filePath".into(), "C:\\Temp\\".into()),
                ("fname".into(), "x".into())
            ]
        );
    }

    #[test]
    fn custom_labels_become_fields() {
        let e = one(
            "CEF:0|V|P|1|2|N|3|cs1Label=Policy Name cs1=Web attacks cn1Label=Hits cn1=3 cs2=unlabelled cs3Label=source.ip cs3=1.2.3.4 cs4Label=cn1 cs4=x flexString1Label=Tenant flexString1=acme",
        );
        assert_eq!(s(&e, "cs1"), Some("Web attacks"));
        assert_eq!(s(&e, "cs1Label"), Some("Policy Name"));
        assert_eq!(s(&e, "Policy Name"), Some("Web attacks"));
        assert_eq!(i(&e, "Hits"), Some(3));
        assert_eq!(s(&e, "cs2"), Some("unlabelled"));
        assert_eq!(s(&e, "Tenant"), Some("acme"));
        // Labels never take ECS names nor overwrite fields.
        assert!(e.get(ecs::SOURCE_IP).is_none());
        assert_eq!(i(&e, "cn1"), Some(3));
    }

    #[test]
    fn severities() {
        assert_eq!(severity("0"), Some((0, Some("low"))));
        assert_eq!(severity("10"), Some((10, Some("very-high"))));
        assert_eq!(severity("Very-High"), Some((10, Some("very-high"))));
        assert_eq!(severity("medium"), Some((6, Some("medium"))));
        assert_eq!(severity("42"), Some((42, None)));
        assert_eq!(severity("Unknown"), None);
        let e = one("CEF:0|V|P|1|2|N|High|");
        assert_eq!(i(&e, "event.severity"), Some(8));
        assert_eq!(s(&e, "cef.severity"), Some("High"));
        let e = one("CEF:0|V|P|1|2|N|Unknown|");
        assert!(e.get(ecs::EVENT_SEVERITY).is_none());
        assert!(e.get(ecs::LOG_LEVEL).is_none());
    }

    #[test]
    fn times_in_every_documented_shape() {
        let r = Timestamp::from_secs_nanos(1_718_452_800, 0).expect("valid");
        let t = |s: &str, tz: Option<TzOffset>| {
            vendor_time(s, tz, r).map(|(t, z)| (t.to_rfc3339(), z.map(|z| z.secs())))
        };
        assert_eq!(
            t("1710410760000", None),
            Some(("2024-03-14T10:06:00Z".into(), None))
        );
        assert_eq!(
            t("1710410760", None),
            Some(("2024-03-14T10:06:00Z".into(), None))
        );
        assert_eq!(
            t("Mar 14 2024 09:51:31.250 +02:00", None),
            Some(("2024-03-14T07:51:31.250Z".into(), Some(7200)))
        );
        assert_eq!(
            t("Mar 14 2024 09:51:31 CEST", None),
            Some(("2024-03-14T07:51:31Z".into(), Some(7200)))
        );
        assert_eq!(
            t("Mar  4 2024 09:51:31 GMT-05:00", None),
            Some(("2024-03-04T14:51:31Z".into(), Some(-18000)))
        );
        let plus1 = TzOffset::from_secs(3600);
        assert_eq!(
            t("Mar 14 2024 09:51:31", plus1),
            Some(("2024-03-14T08:51:31Z".into(), None))
        );
        // Year-less: the year that puts it before the reference (2024-06-15).
        assert_eq!(
            t("Dec 24 23:00:00.5 UTC", None),
            Some(("2023-12-24T23:00:00.500Z".into(), Some(0)))
        );
        assert_eq!(
            t("Jun 01 10:00:00", None),
            Some(("2024-06-01T10:00:00Z".into(), None))
        );
        assert_eq!(
            t("2024-03-14T09:51:31.5+01:00", None),
            Some(("2024-03-14T08:51:31.500Z".into(), Some(3600)))
        );
        // An unknown zone name falls back to the default.
        assert_eq!(
            t("Mar 14 2024 09:51:31 Europe/Berlin", plus1),
            Some(("2024-03-14T08:51:31Z".into(), None))
        );
        assert_eq!(t("Feb 30 2024 09:51:31", None), None);
        assert_eq!(t("Mar 14 2024 25:51:31", None), None);
        assert_eq!(t("yesterday", None), None);
        assert_eq!(t("", None), None);
    }

    #[test]
    fn zones() {
        let z = |s: &str| zone(s).map(TzOffset::secs);
        assert_eq!(z("Z"), Some(0));
        assert_eq!(z("utc"), Some(0));
        assert_eq!(z("+0530"), Some(19_800));
        assert_eq!(z("-03"), Some(-10_800));
        assert_eq!(z("GMT+1"), Some(3600));
        assert_eq!(z("UTC-04:30"), Some(-16_200));
        assert_eq!(z("PST"), Some(-28_800));
        assert_eq!(z("+25:00"), None);
        assert_eq!(z("Europe/Paris"), None);
        assert_eq!(z("+"), None);
    }

    #[test]
    fn rt_dtz_and_fallback_times() {
        let e = one(
            "CEF:0|V|P|1|2|N|3|rt=Mar 14 2024 09:51:31 dtz=+0100 start=1710406000000 end=1710406060000",
        );
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T08:51:31Z");
        assert_eq!(e.tz, TzOffset::from_secs(3600));
        assert_eq!(s(&e, "event.start"), Some("2024-03-14T08:46:40Z"));
        assert_eq!(s(&e, "event.end"), Some("2024-03-14T08:47:40Z"));
        // Without rt, the end time is the event time.
        let e = one("CEF:0|V|P|1|2|N|3|start=1710406000000 end=1710406060000");
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T08:47:40Z");
        assert_eq!(e.tz, None);
        // An unreadable rt keeps the receive time (the record is not lost).
        let e = one("CEF:0|V|P|1|2|N|3|rt=not a time");
        assert_eq!(e.timestamp, e.received);
        assert_eq!(s(&e, "rt"), Some("not a time"));
        // default_tz applies to zone-less times without dtz.
        let o = ParseOptions {
            default_tz: TzOffset::from_secs(-3600),
            ..opts()
        };
        let items = run_with("CEF:0|V|P|1|2|N|3|rt=Mar 14 2024 09:51:31", &o);
        let Some(Item::Event(e)) = items.first() else {
            panic!("expected event")
        };
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T10:51:31Z");
        assert_eq!(e.tz, None);
    }

    #[test]
    fn syslog_prefixes_are_skipped() {
        let e = one(
            "<134>Mar 14 09:51:31 ids01 CEF:0|Trend Micro|TippingPoint|5.5.1|7004|SQLi|8|src=203.0.113.45",
        );
        assert_eq!(s(&e, "source.ip"), Some("203.0.113.45"));
        assert_eq!(s(&e, "cef.device_product"), Some("TippingPoint"));
        let e = one("Mar 14 09:51:31 fw CEF: CEF:1|V|P|1|2|N|3|src=10.0.0.1");
        assert_eq!(i(&e, "cef.version"), Some(1));
        assert!(sniff("<134>Mar 14 09:51:31 ids01 CEF:0|V|P|1|2|N|3|"));
        assert!(sniff("CEF:0|V|P|1|2|N|3|"));
        assert!(!sniff("CEF:x|V|P"));
        assert!(!sniff("NOTCEF:0|V|P|1|2|N|3|"));
        assert!(!sniff("Mar 14 09:51:31 host sshd[1]: Accepted password"));
    }

    #[test]
    fn process_file_and_network_keys() {
        let e = one(
            "CEF:0|V|P|1|2|N|3|sproc=explorer.exe spid=100 dproc=C:\\Windows\\System32\\cmd.exe dpid=4242 fname=evil.exe filePath=C:\\Users\\a\\evil.exe fileHash=D41D8CD98F00B204E9800998ECF8427E fsize=1024 app=HTTPS requestMethod=POST requestClientApplication=curl/8.0 deviceDirection=1 sourceTranslatedAddress=198.51.100.7 sourceTranslatedPort=40000 dvc=10.0.0.254 dvchost=fw01 outcome=/Failure reason=Blocked by policy externalId=abc-1 proto=17",
        );
        assert_eq!(
            s(&e, "process.executable"),
            Some("C:\\Windows\\System32\\cmd.exe")
        );
        assert_eq!(s(&e, "process.name"), Some("cmd.exe"));
        assert_eq!(i(&e, "process.pid"), Some(4242));
        assert_eq!(s(&e, "file.name"), Some("evil.exe"));
        assert_eq!(s(&e, "file.path"), Some("C:\\Users\\a\\evil.exe"));
        assert_eq!(s(&e, "file.directory"), Some("C:\\Users\\a"));
        assert_eq!(
            s(&e, "file.hash.md5"),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(i(&e, "file.size"), Some(1024));
        assert_eq!(s(&e, "network.protocol"), Some("https"));
        assert_eq!(s(&e, "http.request.method"), Some("POST"));
        assert_eq!(s(&e, "user_agent.original"), Some("curl/8.0"));
        assert_eq!(s(&e, "network.direction"), Some("outbound"));
        assert_eq!(s(&e, "source.nat.ip"), Some("198.51.100.7"));
        assert_eq!(i(&e, "source.nat.port"), Some(40000));
        assert_eq!(s(&e, "observer.ip"), Some("10.0.0.254"));
        assert_eq!(s(&e, "observer.hostname"), Some("fw01"));
        assert_eq!(s(&e, "event.outcome"), Some("failure"));
        assert_eq!(s(&e, "event.reason"), Some("Blocked by policy"));
        assert_eq!(s(&e, "event.id"), Some("abc-1"));
        assert_eq!(s(&e, "network.transport"), Some("udp"));
        // Source process only when there is no destination process.
        let e = one("CEF:0|V|P|1|2|N|3|sproc=/usr/bin/curl spid=7");
        assert_eq!(s(&e, "process.executable"), Some("/usr/bin/curl"));
        assert_eq!(i(&e, "process.pid"), Some(7));
    }

    #[test]
    fn full_key_names_and_placeholders() {
        let e = one(
            "CEF:0|V|P|1|2|N|3|sourceAddress=2001:db8::1 destinationPort=443 sourceUserName=- msg=",
        );
        assert_eq!(s(&e, "source.ip"), Some("2001:db8::1"));
        assert_eq!(i(&e, "destination.port"), Some(443));
        assert_eq!(s(&e, "sourceUserName"), Some("-"));
        assert!(e.get(ecs::USER_NAME).is_none());
        // An empty msg leaves the Name as the message.
        assert_eq!(s(&e, "message"), Some("N"));
        // Invalid values stay in the original field only.
        let e = one("CEF:0|V|P|1|2|N|3|src=999.1.1.1 spt=70000 smac=zz");
        assert!(e.get(ecs::SOURCE_IP).is_none());
        assert!(e.get(ecs::SOURCE_PORT).is_none());
        assert!(e.get(ecs::SOURCE_MAC).is_none());
        assert_eq!(s(&e, "src"), Some("999.1.1.1"));
    }

    #[test]
    fn malformed_records() {
        assert_eq!(bad("CEF:0|V|P|1"), ErrorCode::Syntax);
        assert_eq!(bad("CEF:x|V|P|1|2|N|3|"), ErrorCode::WrongFormat);
        assert_eq!(bad("just a syslog line"), ErrorCode::WrongFormat);
        assert_eq!(bad("{\"json\": true}"), ErrorCode::WrongFormat);
        let mut e = Event::new(
            Timestamp::from_nanos(0),
            Source::Input {
                name: Arc::from("t"),
            },
        );
        assert_eq!(
            parse_message("CEF:|V|P|1|2|N|3|", &mut e).map_err(|e| e.code),
            Err(ErrorCode::Syntax)
        );
        assert_eq!(
            parse_message("LEEF:1.0|V|P|1|2|", &mut e).map_err(|e| e.code),
            Err(ErrorCode::WrongFormat)
        );
    }

    #[test]
    fn parse_message_uses_the_header_zone() {
        let mut e = Event::new(
            Timestamp::from_secs_nanos(1_718_452_800, 0).expect("valid"),
            Source::Input {
                name: Arc::from("t"),
            },
        );
        e.tz = TzOffset::from_secs(7200);
        parse_message(
            "CEF:0|V|P|1|2|N|3|rt=Mar 14 2024 09:51:31 src=10.0.0.1",
            &mut e,
        )
        .expect("valid CEF");
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T07:51:31Z");
        assert_eq!(s(&e, "source.ip"), Some("10.0.0.1"));
    }

    #[test]
    fn fuzz_regression_path_with_trailing_separators() {
        // cargo fuzz (cef): a multi-byte file name followed by separators made
        // `norm::set_file_path` slice inside a character.
        let e = one("CEF:0|V|P|1|2|N|3|filePath=C:\\U//////////]]]]]\u{FFFD} fname=x");
        assert_eq!(s(&e, "file.path"), Some("C:\\U//////////]]]]]\u{FFFD}"));
        let e = one("CEF:0|V|P|1|2|N|3|filePath=C:\\Temp\\é\\\\ fname=x");
        assert_eq!(s(&e, "file.directory"), Some("C:\\Temp"));
        // The input cargo fuzz found, byte for byte.
        let crash: &[u8] = b"CEF:0|Symantec|Endpoint Protection|14.3|30|Vir)ud|\x85dry-High|rt=Mar O\x00ser=RCO\x04\x00\x00\x00\x00\x00\x00\x00n sntdn sntdom=COmnfP ARe=in filePath=C:\\U//////////]]]]]\x96 CEF]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]:]]]]]]]]]]]]ry-High|rt=ser=COR\x04\x00///////";
        let origin = Origin::File(Arc::from("t"));
        let mut events = 0;
        parse_bytes(crash, Some(Format::Cef), &origin, &opts(), &mut |i| {
            events += usize::from(matches!(i, Item::Event(_)));
        });
        assert_eq!(events, 1);
    }

    #[test]
    fn pairs_are_capped() {
        let ext: Vec<String> = (0..3000).map(|n| format!("k{n}={n}")).collect();
        let e = one(&format!("CEF:0|V|P|1|2|N|3|{}", ext.join(" ")));
        assert_eq!(i(&e, "k1023"), Some(1023));
        assert!(e.get_name("k1024").is_none());
    }

    #[test]
    fn key_table_finds_every_key_and_nothing_else() {
        let t = KeyTable::new(KEYS);
        for (k, m) in KEYS {
            assert_eq!(t.get(k).map(|(id, m)| (id.name(), m)), Some((*k, *m)));
        }
        for k in [
            "",
            "srcx",
            "SRC",
            "cs7",
            "deviceactio",
            "x".repeat(300).as_str(),
        ] {
            assert!(t.get(k).is_none(), "{k}");
        }
    }

    #[test]
    fn macs_and_transports() {
        let mut e = Event::new(
            Timestamp::from_nanos(0),
            Source::Input {
                name: Arc::from("t"),
            },
        );
        set_mac(&mut e, ecs::SOURCE_MAC, "aabb.ccdd.eeff");
        assert_eq!(s(&e, "source.mac"), Some("AA-BB-CC-DD-EE-FF"));
        set_mac(&mut e, ecs::DESTINATION_MAC, "aa:bb:cc:dd:ee:ff:00");
        assert!(e.get(ecs::DESTINATION_MAC).is_none());
        assert_eq!(transport("6"), "tcp");
        assert_eq!(transport("UDP"), "udp");
        assert_eq!(transport("58"), "ipv6-icmp");
        assert_eq!(outcome("Success"), Some("success"));
        assert_eq!(outcome("failed"), Some("failure"));
        assert_eq!(outcome("maybe"), None);
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_]{0,12}"
    }

    fn value_strategy() -> impl Strategy<Value = String> {
        // Any text (escapes, `=`, pipes, newlines, spaces, unicode) not ending in a space.
        proptest::string::string_regex(
            "[a-zA-Z0-9 =\\\\|\n\r:/.é-]{0,24}[a-zA-Z0-9=\\\\|\n\r:/.é-]",
        )
        .expect("valid regex")
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = run_with(&s, &opts());
            let _ = run_with(&format!("CEF:0|{s}"), &opts());
            let _ = run_with(&format!("CEF:0|a|b|c|d|e|5|{s}"), &opts());
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let origin = Origin::File(Arc::from("t"));
            parse_bytes(&b, Some(Format::Cef), &origin, &opts(), &mut |_| {});
        }

        #[test]
        fn extension_round_trips(kvs in proptest::collection::vec((key_strategy(), value_strategy()), 1..8)) {
            let ext: Vec<String> = kvs.iter().map(|(k, v)| format!("{k}={}", escape_ext(v))).collect();
            let got = pairs(&ext.join(" "));
            prop_assert_eq!(got, kvs);
        }

        #[test]
        fn records_round_trip(vendor in "[a-zA-Z |\\\\]{1,10}", sev in 0i64..=10, kvs in proptest::collection::vec((key_strategy(), value_strategy()), 0..6)) {
            let esc = vendor.replace('\\', "\\\\").replace('|', "\\|");
            let ext: Vec<String> = kvs.iter().map(|(k, v)| format!("x{k}={}", escape_ext(v))).collect();
            let line = format!("CEF:0|{esc}|Prod|1.0|sig|Name|{sev}|{}", ext.join(" "));
            let e = one(&line);
            prop_assert_eq!(s(&e, "cef.device_vendor"), Some(vendor.as_str()));
            prop_assert_eq!(i(&e, "event.severity"), Some(sev));
            for (k, _) in &kvs {
                // Later duplicates win; values are typed like every extension value.
                let last = kvs.iter().rev().find(|(k2, _)| k2 == k).map(|(_, v)| Value::infer(v));
                prop_assert_eq!(e.get_name(&format!("x{k}")).cloned(), last);
            }
        }
    }
}
