//! Zeek logs, in both of Zeek's writers' shapes:
//!
//! * **TSV** with headers: `#separator` (written with `\x` escapes), `#set_separator`,
//!   `#empty_field`, `#unset_field`, `#path`, `#open`, `#fields`, `#types`, `#close`. Headers may
//!   repeat mid-file (concatenated or rotated logs); each `#fields` starts a new schema. Values are
//!   typed from `#types`: `time`, `double` and `interval` become floats, `count` / `int` / `port`
//!   integers, `bool` `T`/`F` booleans, `set[..]` / `vector[..]` lists split on the set separator;
//!   the unset marker (`-`) omits the field, the empty marker (`(empty)`) gives an empty string or
//!   list, and `\xHH` escapes are decoded.
//! * **JSON**, one object per line (`LogAscii::use_json`), `ts` as epoch seconds or ISO 8601; the
//!   log type comes from `_path` when the shipper added it, else it is inferred from the fields.
//!   The choice is made per line, so both shapes may be mixed.
//!
//! Every field keeps its Zeek name (`id.orig_h`, `uid`, `query`); [`map`] adds ECS fields per log
//! type (conn, dns, http, ssl, files, notice, ssh, x509, weird, dhcp, smtp) and the connection
//! 4-tuple for any log that has one. `event.dataset` is `zeek.<path>`.

use std::borrow::Cow;
use std::sync::OnceLock;

use compact_str::{CompactString, format_compact};
use kasbah_event::{FieldId, Fields, Value, ecs};

use crate::driver::{Cx, LineParser, for_each_line};
use crate::error::{ErrorCode, ParseError};
use crate::json::{Doc, Flattener, Held, Mode, field_ids};
use crate::norm;

/// Parses a whole Zeek log (TSV with headers, JSON lines, or both).
pub(crate) fn parse(input: &[u8], cx: &mut Cx<'_>) {
    for_each_line(input, &mut ZeekParser::default(), cx);
}

/// The scalar kind of a Zeek column type.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// `time`, `double`, `interval`.
    Float,
    /// `count`, `int`, `port`.
    Int,
    /// `bool`.
    Bool,
    /// `string`, `addr`, `subnet`, `enum`, `pattern` and anything unknown.
    Str,
    /// No `#types` header: integers are inferred, everything else is text.
    Infer,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Type {
    kind: Kind,
    /// `set[..]` or `vector[..]`.
    list: bool,
}

impl Type {
    fn parse(t: &str) -> Type {
        let (list, inner) = match t
            .strip_prefix("set[")
            .or_else(|| t.strip_prefix("vector["))
            .and_then(|r| r.strip_suffix(']'))
        {
            Some(inner) => (true, inner),
            None => (false, t),
        };
        let kind = match inner {
            "time" | "double" | "interval" => Kind::Float,
            "count" | "int" | "port" => Kind::Int,
            "bool" => Kind::Bool,
            _ => Kind::Str,
        };
        Type { kind, list }
    }
}

/// Where a column's values go.
#[derive(Clone, Debug)]
enum Slot {
    Id(FieldId),
    Name(Box<str>),
}

#[derive(Clone, Debug)]
struct Column {
    slot: Slot,
    ty: Type,
    /// The `ts` column: the event time.
    is_ts: bool,
}

/// Splits `s` on `sep`; a one-byte separator (always, in practice: a tab) is found with `memchr`
/// instead of the general substring search.
enum Split<'a> {
    Byte {
        s: &'a str,
        pos: usize,
        sep: u8,
        done: bool,
    },
    Str(std::str::Split<'a, &'a str>),
}

fn split<'a>(s: &'a str, sep: &'a str) -> Split<'a> {
    match sep.as_bytes() {
        [b] => Split::Byte {
            s,
            pos: 0,
            sep: *b,
            done: false,
        },
        _ => Split::Str(s.split(sep)),
    }
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match self {
            Split::Byte { s, pos, sep, done } => {
                if *done {
                    return None;
                }
                let rest = s.as_bytes().get(*pos..)?;
                match memchr::memchr(*sep, rest) {
                    Some(i) => {
                        let field = s.get(*pos..*pos + i);
                        *pos += i + 1;
                        field
                    }
                    None => {
                        *done = true;
                        s.get(*pos..)
                    }
                }
            }
            Split::Str(it) => it.next(),
        }
    }
}

/// Decodes Zeek's `\xHH` escapes (and `\\`) in `s`; borrows when there are none.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            if b.get(i + 1) == Some(&b'x') {
                let hex = b
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 4;
                    continue;
                }
            } else if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Parses Zeek log lines, keeping the header state of the current log.
pub struct ZeekParser {
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    path: Option<CompactString>,
    names: Vec<String>,
    types: Vec<String>,
    columns: Vec<Column>,
    /// `columns` must be rebuilt from `names` / `types`.
    dirty: bool,
    /// A header line has been seen (a data line before `#fields` is then a syntax error, not a
    /// wrong format).
    seen_header: bool,
    json: Flattener,
    /// The fields of the TSV event being filled.
    held: Held,
}

impl Default for ZeekParser {
    fn default() -> Self {
        ZeekParser {
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            path: None,
            names: Vec::new(),
            types: Vec::new(),
            columns: Vec::new(),
            dirty: false,
            seen_header: false,
            json: Flattener::new(),
            held: Held::default(),
        }
    }
}

impl ZeekParser {
    fn header(&mut self, line: &str) {
        self.seen_header = true;
        if let Some(rest) = line.strip_prefix("#separator") {
            // The one header written with a space, since the separator is not known yet.
            let sep = unescape(rest.trim_start_matches(' '));
            *self = ZeekParser {
                sep: if sep.is_empty() {
                    "\t".into()
                } else {
                    sep.into_owned()
                },
                seen_header: true,
                json: std::mem::take(&mut self.json),
                held: std::mem::take(&mut self.held),
                ..ZeekParser::default()
            };
            return;
        }
        let (key, value) = line.split_once(self.sep.as_str()).unwrap_or((line, ""));
        match key {
            "#set_separator" => self.set_sep = unescape(value).into_owned(),
            "#empty_field" => self.empty = unescape(value).into_owned(),
            "#unset_field" => self.unset = unescape(value).into_owned(),
            "#path" => self.path = Some(CompactString::new(unescape(value))),
            "#fields" => {
                self.names = split(value, &self.sep)
                    .map(|n| unescape(n).into_owned())
                    .collect();
                self.types.clear();
                self.dirty = true;
            }
            "#types" => {
                self.types = split(value, &self.sep).map(str::to_owned).collect();
                self.dirty = true;
            }
            // `#open`, `#close` and comments carry nothing for the events.
            _ => {}
        }
        if self.set_sep.is_empty() {
            self.set_sep = ",".into();
        }
    }

    fn build_columns(&mut self) {
        let typed = self.types.len() == self.names.len();
        self.columns = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let ty = match self.types.get(i).filter(|_| typed) {
                    Some(t) => Type::parse(t),
                    None => Type {
                        kind: Kind::Infer,
                        list: false,
                    },
                };
                Column {
                    slot: FieldId::try_intern(name)
                        .map_or_else(|| Slot::Name(name.as_str().into()), Slot::Id),
                    ty,
                    is_ts: name == "ts",
                }
            })
            .collect();
        self.dirty = false;
    }

    fn scalar(&self, kind: Kind, raw: &str) -> Value {
        match kind {
            Kind::Float => match raw.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => Value::str(&unescape(raw)),
            },
            Kind::Int => raw
                .parse::<i64>()
                .map(Value::Int)
                .or_else(|_| raw.parse::<u64>().map(Value::from))
                .unwrap_or_else(|_| Value::str(&unescape(raw))),
            Kind::Bool => match raw {
                "T" => Value::Bool(true),
                "F" => Value::Bool(false),
                _ => Value::str(&unescape(raw)),
            },
            Kind::Str => Value::str(&unescape(raw)),
            Kind::Infer => Value::infer(&unescape(raw)),
        }
    }

    fn value(&self, ty: Type, raw: &str) -> Value {
        if ty.list {
            if raw == self.empty {
                return Value::List(Vec::new());
            }
            return Value::List(
                split(raw, &self.set_sep)
                    .map(|el| self.scalar(ty.kind, el))
                    .collect(),
            );
        }
        if raw == self.empty {
            return Value::str("");
        }
        self.scalar(ty.kind, raw)
    }

    fn data(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        if self.names.is_empty() {
            return Err(if self.seen_header {
                ParseError::syntax("data line before any #fields header")
            } else {
                ParseError::wrong_format("Zeek log (no #separator / #fields header)")
            });
        }
        if self.dirty {
            self.build_columns();
        }
        let found = match self.sep.as_bytes() {
            [b] => memchr::memchr_iter(*b, line.as_bytes()).count() + 1,
            _ => line.split(self.sep.as_str()).count(),
        };
        if found != self.columns.len() {
            return Err(ParseError::syntax(format!(
                "expected {} fields (from #fields), found {found}",
                self.columns.len()
            )));
        }
        let mut e = cx.new_event(record, Some(line));
        e.fields = Fields::with_capacity(self.columns.len() + 24);
        e.set(ecs::EVENT_KIND, "event");
        e.set(ecs::EVENT_MODULE, "zeek");
        self.held.start(&e);
        for (col, raw) in self.columns.iter().zip(split(line, &self.sep)) {
            if raw == self.unset {
                continue;
            }
            let v = self.value(col.ty, raw);
            if col.is_ts
                && let Some(t) = crate::time::epoch(raw)
            {
                e.timestamp = t;
            }
            match &col.slot {
                Slot::Id(id) => self.held.set(&mut e, *id, v),
                Slot::Name(n) => e.fields.set_name(n, v),
            }
        }
        map(self.path.as_deref(), &mut Doc::new(&mut e, &mut self.held));
        cx.emit(e);
        Ok(())
    }

    fn json_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let mut e = cx.new_event(record, Some(line));
        e.fields = self.json.new_fields();
        e.set(ecs::EVENT_KIND, "event");
        e.set(ecs::EVENT_MODULE, "zeek");
        let bytes = line.trim_start().as_bytes();
        let info = self
            .json
            .flatten(bytes, &mut e, Mode::Normal, cx.opts.default_tz)
            .map_err(|err| err.to_parse_error(ErrorCode::Json))?;
        if bytes
            .get(info.end..)
            .is_some_and(|rest| !rest.iter().all(u8::is_ascii_whitespace))
        {
            return Err(ParseError::new(
                ErrorCode::Json,
                format!(
                    "invalid JSON at byte {}: expected the end of the line after the document",
                    info.end + 1
                ),
            ));
        }
        if !info.has_ts() {
            return Err(ParseError::wrong_format("Zeek JSON log (no ts field)"));
        }
        if let Some((t, tz)) = info.time {
            e.timestamp = t;
            e.tz = tz;
        }
        map_json(&mut self.json.doc(&mut e));
        cx.emit(e);
        Ok(())
    }
}

impl LineParser for ZeekParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        if line.starts_with('#') {
            self.header(line);
            Ok(())
        } else if line.trim_start().starts_with('{') {
            self.json_line(line, record, cx)
        } else {
            self.data(line, record, cx)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ECS mapping

field_ids! {
    /// Zeek field names, and ECS names not declared in [`ecs`].
    struct Ids {
        path = "_path",
        orig_h = "id.orig_h",
        orig_p = "id.orig_p",
        resp_h = "id.resp_h",
        resp_p = "id.resp_p",
        proto = "proto",
        service = "service",
        duration = "duration",
        orig_bytes = "orig_bytes",
        resp_bytes = "resp_bytes",
        orig_pkts = "orig_pkts",
        resp_pkts = "resp_pkts",
        conn_state = "conn_state",
        history = "history",
        local_orig = "local_orig",
        local_resp = "local_resp",
        community_id = "community_id",
        query = "query",
        qtype_name = "qtype_name",
        rcode_name = "rcode_name",
        answers = "answers",
        trans_id = "trans_id",
        method = "method",
        host = "host",
        uri = "uri",
        user_agent = "user_agent",
        status_code = "status_code",
        referrer = "referrer",
        version = "version",
        request_body_len = "request_body_len",
        response_body_len = "response_body_len",
        trans_depth = "trans_depth",
        server_name = "server_name",
        cipher = "cipher",
        curve = "curve",
        ja3 = "ja3",
        ja3s = "ja3s",
        established = "established",
        resumed = "resumed",
        fuid = "fuid",
        md5 = "md5",
        sha1 = "sha1",
        sha256 = "sha256",
        mime_type = "mime_type",
        filename = "filename",
        total_bytes = "total_bytes",
        seen_bytes = "seen_bytes",
        note = "note",
        msg = "msg",
        src = "src",
        dst = "dst",
        p = "p",
        auth_success = "auth_success",
        hassh = "hassh",
        cert_subject = "certificate.subject",
        cert_issuer = "certificate.issuer",
        cert_serial = "certificate.serial",
        cert_not_before = "certificate.not_valid_before",
        cert_not_after = "certificate.not_valid_after",
        san_dns = "san.dns",
        name = "name",
        peer = "peer",
        notice = "notice",
        client_addr = "client_addr",
        server_addr = "server_addr",
        assigned_addr = "assigned_addr",
        mac = "mac",
        lease_time = "lease_time",
        msg_types = "msg_types",
        mailfrom = "mailfrom",
        rcptto = "rcptto",
        helo = "helo",
        subject = "subject",
        dns_id = "dns.id",
        http_request_body_bytes = "http.request.body.bytes",
        tls_version_protocol = "tls.version_protocol",
        tls_cipher = "tls.cipher",
        tls_established = "tls.established",
        tls_resumed = "tls.resumed",
        tls_client_ja3 = "tls.client.ja3",
        tls_server_ja3s = "tls.server.ja3s",
        file_mime_type = "file.mime_type",
        x509_subject = "x509.subject.distinguished_name",
        x509_issuer = "x509.issuer.distinguished_name",
        x509_serial = "x509.serial_number",
        x509_not_before = "x509.not_before",
        x509_not_after = "x509.not_after",
        x509_alt_names = "x509.alternative_names",
        email_from = "email.from.address",
        email_to = "email.to.address",
        email_subject = "email.subject",
    }
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(Ids::new)
}

fn has(e: &Doc<'_>, id: FieldId) -> bool {
    e.get(id).is_some()
}

/// Copies a list (or single string) field of strings as a list.
fn set_list(e: &mut Doc<'_>, from: FieldId, to: FieldId) {
    match e.get(from) {
        Some(Value::List(l)) if !l.is_empty() => {
            let l = Value::List(l.clone());
            e.set(to, l);
        }
        Some(Value::Str(s)) if !s.is_empty() => {
            let l = Value::List(vec![Value::Str(s.clone())]);
            e.set(to, l);
        }
        _ => {}
    }
}

fn bool_of(e: &Doc<'_>, id: FieldId) -> Option<bool> {
    match e.get(id)? {
        Value::Bool(b) => Some(*b),
        Value::Str(s) if s == "T" || s == "true" => Some(true),
        Value::Str(s) if s == "F" || s == "false" => Some(false),
        _ => None,
    }
}

fn category(e: &mut Doc<'_>, cats: &[&str], kind: &str) {
    match cats {
        [] => {}
        [one] => e.set(ecs::EVENT_CATEGORY, *one),
        many => e.set(
            ecs::EVENT_CATEGORY,
            Value::List(many.iter().map(|c| Value::str(c)).collect()),
        ),
    }
    e.set(ecs::EVENT_TYPE, kind);
}

/// The log type of a record without `_path`, from fields only that log has.
fn infer_path(e: &Doc<'_>, ids: &Ids) -> Option<&'static str> {
    let h = |id| has(e, id);
    Some(
        if h(ids.conn_state) || (h(ids.history) && h(ids.orig_bytes)) {
            "conn"
        } else if h(ids.qtype_name) || h(ids.rcode_name) || (h(ids.query) && h(ids.trans_id)) {
            "dns"
        } else if (h(ids.method) && h(ids.uri)) || (h(ids.status_code) && h(ids.trans_depth)) {
            "http"
        } else if (h(ids.server_name) || h(ids.curve)) && (h(ids.cipher) || h(ids.established)) {
            "ssl"
        } else if h(ids.note) {
            "notice"
        } else if h(ids.cert_serial) || h(ids.cert_subject) {
            "x509"
        } else if h(ids.fuid) && (h(ids.mime_type) || h(ids.seen_bytes)) {
            "files"
        } else if h(ids.auth_success) || h(ids.hassh) {
            "ssh"
        } else if h(ids.assigned_addr) || h(ids.lease_time) || h(ids.msg_types) {
            "dhcp"
        } else if h(ids.mailfrom) || h(ids.rcptto) || h(ids.helo) {
            "smtp"
        } else if h(ids.name) && h(ids.peer) && h(ids.notice) {
            "weird"
        } else {
            return None;
        },
    )
}

/// Maps a Zeek JSON record: the log type from `_path`, else inferred.
pub(crate) fn map_json(e: &mut Doc<'_>) {
    let path = e.text(ids().path);
    map(path.as_deref(), e);
}

/// Adds the ECS view of a Zeek record of log type `path` (inferred from the fields if `None`).
pub(crate) fn map(path: Option<&str>, e: &mut Doc<'_>) {
    let ids = ids();
    let inferred;
    let path = match path {
        Some(p) => Some(p),
        None => {
            inferred = infer_path(e, ids);
            inferred
        }
    };
    e.set(ecs::EVENT_MODULE, "zeek");
    if let Some(p) = path {
        e.set(ecs::EVENT_DATASET, format_compact!("zeek.{p}"));
    }
    endpoints(e, ids);
    match path.unwrap_or("") {
        "conn" => conn(e, ids),
        "dns" => dns(e, ids),
        "http" => http(e, ids),
        "ssl" => ssl(e, ids),
        "files" => files(e, ids),
        "notice" => notice(e, ids),
        "ssh" => ssh(e, ids),
        "x509" => x509(e, ids),
        "weird" => {
            category(e, &["network"], "info");
            e.copy_text(ids.name, ecs::EVENT_ACTION);
        }
        "dhcp" => dhcp(e, ids),
        "smtp" => smtp(e, ids),
        _ => {}
    }
}

/// The connection 4-tuple and transport, for every log that has them.
fn endpoints(e: &mut Doc<'_>, ids: &Ids) {
    let proto = e.text(ids.proto).map(|p| p.to_ascii_lowercase());
    // For ICMP, Zeek writes the message type and code in the port columns: they are no ports.
    let ports = proto.as_deref() != Some("icmp");
    if let Some(ip) = e.text(ids.orig_h) {
        e.set_ip(ecs::SOURCE_IP, &ip);
    }
    if let Some(p) = e.int(ids.orig_p).and_then(|p| u16::try_from(p).ok())
        && ports
    {
        e.set(ecs::SOURCE_PORT, p);
    }
    if let Some(ip) = e.text(ids.resp_h) {
        e.set_ip(ecs::DESTINATION_IP, &ip);
    }
    if let Some(p) = e.int(ids.resp_p).and_then(|p| u16::try_from(p).ok())
        && ports
    {
        e.set(ecs::DESTINATION_PORT, p);
    }
    if let Some(p) = proto {
        e.set(ecs::NETWORK_TRANSPORT, p);
    }
    e.copy_text(ids.community_id, ecs::NETWORK_COMMUNITY_ID);
}

fn conn(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network"], "connection");
    if let Some(s) = e.text(ids.service) {
        // Several analysers may have matched (`ssl,http`); ECS holds one protocol.
        let first = s.split(',').next().unwrap_or("").trim();
        if !first.is_empty() {
            e.set(ecs::NETWORK_PROTOCOL, first.to_ascii_lowercase());
        }
    }
    if let Some(d) = e.get(ids.duration).and_then(Value::as_f64) {
        let nanos = (d * 1e9).round();
        if nanos.is_finite() && (0.0..9.2e18).contains(&nanos) {
            e.set(ecs::EVENT_DURATION, nanos as i64);
        }
    }
    let pairs = [
        (
            ids.orig_bytes,
            ids.resp_bytes,
            ecs::SOURCE_BYTES,
            ecs::DESTINATION_BYTES,
            ecs::NETWORK_BYTES,
        ),
        (
            ids.orig_pkts,
            ids.resp_pkts,
            ecs::SOURCE_PACKETS,
            ecs::DESTINATION_PACKETS,
            ecs::NETWORK_PACKETS,
        ),
    ];
    for (orig, resp, src, dst, total) in pairs {
        let a = e.copy_int(orig, src);
        let b = e.copy_int(resp, dst);
        if let (Some(a), Some(b)) = (a, b) {
            e.set(total, a.saturating_add(b));
        }
    }
    let direction = match (bool_of(e, ids.local_orig), bool_of(e, ids.local_resp)) {
        (Some(true), Some(true)) => Some("internal"),
        (Some(true), Some(false)) => Some("outbound"),
        (Some(false), Some(true)) => Some("inbound"),
        (Some(false), Some(false)) => Some("external"),
        _ => None,
    };
    if let Some(d) = direction {
        e.set(ecs::NETWORK_DIRECTION, d);
    }
}

fn dns(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network"], "protocol");
    e.set_default(ecs::NETWORK_PROTOCOL, "dns");
    e.copy_text(ids.query, ecs::DNS_QUESTION_NAME);
    e.copy_text(ids.qtype_name, ecs::DNS_QUESTION_TYPE);
    e.copy_text(ids.rcode_name, ecs::DNS_RESPONSE_CODE);
    set_list(e, ids.answers, ecs::DNS_ANSWERS_DATA);
    e.copy_int(ids.trans_id, ids.dns_id);
}

/// Splits `host[:port]` (the HTTP Host header, or a CONNECT target); IPv6 literals are bracketed.
pub(crate) fn host_port(hp: &str) -> (&str, Option<u16>) {
    match hp.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.ends_with(']')) => {
            match p.parse() {
                Ok(port) => (h.trim_start_matches('[').trim_end_matches(']'), Some(port)),
                Err(_) => (hp, None),
            }
        }
        _ => (hp.trim_start_matches('[').trim_end_matches(']'), None),
    }
}

fn set_host_port(e: &mut Doc<'_>, hp: &str) {
    let (host, port) = host_port(hp);
    if !host.is_empty() {
        e.set(ecs::URL_DOMAIN, host);
    }
    if let Some(p) = port {
        e.set(ecs::URL_PORT, p);
    }
}

fn http(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network", "web"], "protocol");
    e.set_default(ecs::NETWORK_PROTOCOL, "http");
    let method = e.text(ids.method);
    if let Some(uri) = e.text(ids.uri) {
        if method.as_deref() == Some("CONNECT") {
            // The target of a CONNECT is `host:port`, not a path.
            e.set(ecs::URL_ORIGINAL, uri.clone());
            set_host_port(e, &uri);
        } else {
            e.set_url(&uri);
        }
    }
    if let Some(m) = method {
        e.set(ecs::HTTP_REQUEST_METHOD, m);
    }
    if let Some(host) = e.text(ids.host) {
        set_host_port(e, &host);
    }
    e.copy_text(ids.user_agent, ecs::USER_AGENT_ORIGINAL);
    e.copy_int(ids.status_code, ecs::HTTP_RESPONSE_STATUS_CODE);
    e.copy_text(ids.referrer, ecs::HTTP_REQUEST_REFERRER);
    e.copy_int(ids.request_body_len, ids.http_request_body_bytes);
    e.copy_int(ids.response_body_len, ecs::HTTP_RESPONSE_BODY_BYTES);
    e.copy_text(ids.version, ecs::HTTP_VERSION);
}

fn ssl(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network"], "protocol");
    e.set_default(ecs::NETWORK_PROTOCOL, "tls");
    e.copy_text(ids.server_name, ecs::TLS_SERVER_NAME);
    if let Some(v) = e.text(ids.version)
        && let Some((proto, version)) = crate::eve::tls_version(&v)
    {
        e.set(ecs::TLS_VERSION, version);
        e.set(ids.tls_version_protocol, proto);
    }
    e.copy_text(ids.cipher, ids.tls_cipher);
    e.copy_text(ids.ja3, ids.tls_client_ja3);
    e.copy_text(ids.ja3s, ids.tls_server_ja3s);
    if let Some(b) = bool_of(e, ids.established) {
        e.set(ids.tls_established, b);
    }
    if let Some(b) = bool_of(e, ids.resumed) {
        e.set(ids.tls_resumed, b);
    }
}

fn files(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["file"], "info");
    e.copy_text(ids.md5, ecs::FILE_HASH_MD5);
    e.copy_text(ids.sha1, ecs::FILE_HASH_SHA1);
    e.copy_text(ids.sha256, ecs::FILE_HASH_SHA256);
    e.copy_text(ids.mime_type, ids.file_mime_type);
    if let Some(f) = e.text(ids.filename) {
        let name = norm::basename(&f);
        if !name.is_empty() {
            e.set(ecs::FILE_NAME, name);
        }
    }
    if e.copy_int(ids.total_bytes, ecs::FILE_SIZE).is_none() {
        e.copy_int(ids.seen_bytes, ecs::FILE_SIZE);
    }
}

fn notice(e: &mut Doc<'_>, ids: &Ids) {
    e.set(ecs::EVENT_KIND, "alert");
    category(e, &["network", "intrusion_detection"], "info");
    e.copy_text(ids.note, ecs::RULE_NAME);
    e.copy_text(ids.msg, ecs::MESSAGE);
    // Notices raised outside a connection name their hosts in `src` / `dst` / `p`.
    if !has(e, ecs::SOURCE_IP)
        && let Some(ip) = e.text(ids.src)
    {
        e.set_ip(ecs::SOURCE_IP, &ip);
    }
    if !has(e, ecs::DESTINATION_IP)
        && let Some(ip) = e.text(ids.dst)
    {
        e.set_ip(ecs::DESTINATION_IP, &ip);
    }
    if !has(e, ecs::DESTINATION_PORT)
        && let Some(p) = e.int(ids.p).and_then(|p| u16::try_from(p).ok())
    {
        e.set(ecs::DESTINATION_PORT, p);
    }
}

fn ssh(e: &mut Doc<'_>, ids: &Ids) {
    e.set_default(ecs::NETWORK_PROTOCOL, "ssh");
    match bool_of(e, ids.auth_success) {
        Some(ok) => {
            category(e, &["network", "authentication"], "info");
            e.set(ecs::EVENT_OUTCOME, if ok { "success" } else { "failure" });
        }
        None => category(e, &["network"], "protocol"),
    }
}

fn x509(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network"], "info");
    e.copy_text(ids.cert_subject, ids.x509_subject);
    e.copy_text(ids.cert_issuer, ids.x509_issuer);
    e.copy_text(ids.cert_serial, ids.x509_serial);
    for (from, to) in [
        (ids.cert_not_before, ids.x509_not_before),
        (ids.cert_not_after, ids.x509_not_after),
    ] {
        // A Zeek `time`: epoch seconds (TSV, JSON) or ISO 8601 (JSON with ISO timestamps).
        let t = match e.get(from) {
            Some(Value::Float(f)) => kasbah_event::Timestamp::from_secs_f64(*f),
            Some(Value::Int(i)) => kasbah_event::Timestamp::from_secs_nanos(*i, 0),
            Some(Value::Str(s)) => crate::time::rfc3339(s, None).map(|(t, _)| t),
            _ => None,
        };
        if let Some(t) = t {
            e.set(to, t.to_rfc3339());
        }
    }
    set_list(e, ids.san_dns, ids.x509_alt_names);
}

/// `00:0c:29:aa:bb:cc` -> ECS form `00-0C-29-AA-BB-CC`.
fn ecs_mac(mac: &str) -> CompactString {
    mac.chars()
        .map(|c| {
            if c == ':' {
                '-'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

fn dhcp(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network"], "protocol");
    e.set_default(ecs::NETWORK_PROTOCOL, "dhcp");
    if let Some(ip) = e.text(ids.client_addr) {
        e.set_ip(ecs::SOURCE_IP, &ip);
    }
    if let Some(ip) = e.text(ids.server_addr) {
        e.set_ip(ecs::DESTINATION_IP, &ip);
    }
    if let Some(mac) = e.text(ids.mac) {
        e.set(ecs::SOURCE_MAC, ecs_mac(&mac));
    }
}

fn smtp(e: &mut Doc<'_>, ids: &Ids) {
    category(e, &["network", "email"], "protocol");
    e.set_default(ecs::NETWORK_PROTOCOL, "smtp");
    let strip =
        |s: &str| CompactString::new(s.trim().trim_start_matches('<').trim_end_matches('>'));
    if let Some(from) = e.text(ids.mailfrom) {
        e.set(ids.email_from, strip(&from));
    }
    let to: Vec<Value> = match e.get(ids.rcptto) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(|s| Value::Str(strip(s)))
            .collect(),
        Some(Value::Str(s)) => vec![Value::Str(strip(s))],
        _ => Vec::new(),
    };
    if !to.is_empty() {
        e.set(ids.email_to, Value::List(to));
    }
    e.copy_text(ids.subject, ids.email_subject);
}

#[cfg(test)]
mod tests {
    use kasbah_event::Value;
    use proptest::prelude::*;

    use super::*;
    use crate::format::Format;
    use crate::json::testutil::{Parsed, list, parse, parse_lines, s, v};

    fn tsv(path: &str, fields: &str, types: &str, rows: &[&str]) -> String {
        let mut out = format!(
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n#open\t2024-05-01-10-00-00\n#fields\t{fields}\n#types\t{types}\n"
        );
        for r in rows {
            out.push_str(r);
            out.push('\n');
        }
        out.push_str("#close\t2024-05-01-11-00-00\n");
        out
    }

    const CONN_FIELDS: &str = "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents";
    const CONN_TYPES: &str = "time\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]";

    fn conn(rows: &[&str]) -> Parsed {
        parse(&tsv("conn", CONN_FIELDS, CONN_TYPES, rows), Format::Zeek)
    }

    #[test]
    fn tsv_conn_is_typed_and_mapped() {
        let p = conn(&[
            "1714557600.123456\tCHhAvVGS1DHFjwGM9\t10.0.0.5\t52344\t93.184.216.34\t443\ttcp\tssl,http\t1.500000\t517\t4301\tSF\tT\tF\t0\tShADadFf\t9\t893\t8\t4721\t(empty)",
        ]);
        let e = p.one();
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.123456Z");
        assert_eq!(e.tz, None);
        assert_eq!(v(e, "ts"), Some(Value::Float(1714557600.123456)));
        assert_eq!(s(e, "uid").as_deref(), Some("CHhAvVGS1DHFjwGM9"));
        assert_eq!(v(e, "id.orig_p"), Some(Value::Int(52344)));
        assert_eq!(v(e, "duration"), Some(Value::Float(1.5)));
        assert_eq!(v(e, "local_orig"), Some(Value::Bool(true)));
        assert_eq!(v(e, "tunnel_parents"), Some(Value::List(vec![])));
        assert_eq!(s(e, "event.kind").as_deref(), Some("event"));
        assert_eq!(s(e, "event.module").as_deref(), Some("zeek"));
        assert_eq!(s(e, "event.dataset").as_deref(), Some("zeek.conn"));
        assert_eq!(s(e, "event.category").as_deref(), Some("network"));
        assert_eq!(s(e, "event.type").as_deref(), Some("connection"));
        assert_eq!(s(e, "source.ip").as_deref(), Some("10.0.0.5"));
        assert_eq!(v(e, "source.port"), Some(Value::Int(52344)));
        assert_eq!(s(e, "destination.ip").as_deref(), Some("93.184.216.34"));
        assert_eq!(v(e, "destination.port"), Some(Value::Int(443)));
        assert_eq!(s(e, "network.transport").as_deref(), Some("tcp"));
        assert_eq!(s(e, "network.protocol").as_deref(), Some("ssl"));
        assert_eq!(v(e, "event.duration"), Some(Value::Int(1_500_000_000)));
        assert_eq!(v(e, "source.bytes"), Some(Value::Int(517)));
        assert_eq!(v(e, "destination.bytes"), Some(Value::Int(4301)));
        assert_eq!(v(e, "network.bytes"), Some(Value::Int(4818)));
        assert_eq!(v(e, "source.packets"), Some(Value::Int(9)));
        assert_eq!(v(e, "network.packets"), Some(Value::Int(17)));
        assert_eq!(s(e, "network.direction").as_deref(), Some("outbound"));
        assert_eq!(
            e.raw
                .as_deref()
                .map(|r| r.starts_with("1714557600.123456\t")),
            Some(true)
        );
    }

    #[test]
    fn unset_fields_are_omitted_and_empty_ones_kept() {
        let p = conn(&[
            "1714557600.5\tC2\t10.0.0.5\t1\t10.0.0.6\t2\tudp\t-\t-\t-\t-\tS0\tF\tT\t0\tD\t1\t40\t0\t0\t-",
        ]);
        let e = p.one();
        for f in [
            "service",
            "duration",
            "orig_bytes",
            "tunnel_parents",
            "event.duration",
            "network.protocol",
            "network.bytes",
        ] {
            assert_eq!(v(e, f), None, "{f}");
        }
        assert_eq!(s(e, "network.direction").as_deref(), Some("inbound"));
        assert_eq!(v(e, "destination.bytes"), None);
        assert_eq!(v(e, "source.port"), Some(Value::Int(1)));
        let p = conn(&[
            "1714557600.5	C3	fe80::1	135	ff02::1	136	icmp	-	-	-	-	OTH	T	F	0	-	1	72	0	0	(empty)",
        ]);
        let e = p.one();
        assert_eq!(s(e, "network.transport").as_deref(), Some("icmp"));
        assert_eq!(v(e, "source.port"), None);
        assert_eq!(v(e, "destination.port"), None);
        assert_eq!(v(e, "id.orig_p"), Some(Value::Int(135)));
        assert_eq!(v(e, "destination.packets"), Some(Value::Int(0)));
    }

    #[test]
    fn escapes_sets_vectors_and_large_counts() {
        let text = tsv(
            "x",
            "ts\tname\tnames\tnums\tbig\tflag\tratio\tempty_s",
            "time\tstring\tset[string]\tvector[count]\tcount\tbool\tdouble\tstring",
            &[
                "1714557600\ttab\\x09here\\x2c\\\\ \\x2d x\\xc3\\xa9\ta\\x2cb,c\t1,2,3\t18446744073709551615\tF\t-0.25\t(empty)",
                "1714557601\t\\x2d\t(empty)\t(empty)\t0\tX\tnan?\t-",
            ],
        );
        let p = parse(&text, Format::Zeek);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        let e = &p.events[0];
        assert_eq!(s(e, "name").as_deref(), Some("tab\there,\\ - xé"));
        assert_eq!(v(e, "names"), Some(list(&["a,b", "c"])));
        assert_eq!(
            v(e, "nums"),
            Some(Value::List(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Int(3)
            ]))
        );
        assert_eq!(v(e, "big"), Some(Value::Float(u64::MAX as f64)));
        assert_eq!(v(e, "flag"), Some(Value::Bool(false)));
        assert_eq!(v(e, "ratio"), Some(Value::Float(-0.25)));
        assert_eq!(v(e, "empty_s"), Some(Value::str("")));
        let e = &p.events[1];
        // An escaped dash is a real "-", not the unset marker.
        assert_eq!(s(e, "name").as_deref(), Some("-"));
        assert_eq!(v(e, "names"), Some(Value::List(vec![])));
        // Values that do not fit their type are kept as text.
        assert_eq!(v(e, "flag"), Some(Value::str("X")));
        assert_eq!(v(e, "ratio"), Some(Value::str("nan?")));
        assert_eq!(v(e, "empty_s"), None);
        assert_eq!(s(e, "event.dataset").as_deref(), Some("zeek.x"));
    }

    #[test]
    fn custom_separators_and_markers() {
        let text = "#separator \\x7c\n#set_separator|;\n#empty_field|EMPTY\n#unset_field|NONE\n#path|dns\n#fields|ts|query|answers|rcode_name\n#types|time|string|vector[string]|string\n1714557600.0|a.example|1.2.3.4;5.6.7.8|NOERROR\n1714557601.0|b.example|EMPTY|NONE\n";
        let p = parse(text, Format::Zeek);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(
            v(&p.events[0], "answers"),
            Some(list(&["1.2.3.4", "5.6.7.8"]))
        );
        assert_eq!(
            v(&p.events[0], "dns.answers.data"),
            Some(list(&["1.2.3.4", "5.6.7.8"]))
        );
        assert_eq!(v(&p.events[1], "answers"), Some(Value::List(vec![])));
        assert_eq!(v(&p.events[1], "rcode_name"), None);
        assert_eq!(v(&p.events[1], "dns.answers.data"), None);
    }

    #[test]
    fn headers_repeat_for_concatenated_logs() {
        let mut text = tsv(
            "conn",
            CONN_FIELDS,
            CONN_TYPES,
            &[
                "1714557600.0\tC1\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t(empty)",
            ],
        );
        text.push_str(&tsv(
            "dns",
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name\trcode_name\tanswers\tTTLs",
            "time\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tstring\tstring\tvector[string]\tvector[interval]",
            &["1714557601.0\tC3\t10.0.0.1\t5353\t10.0.0.53\t53\tudp\t4242\texample.com\tA\tNOERROR\t93.184.216.34\t300.000000"],
        ));
        let p = parse(&text, Format::Zeek);
        assert!(p.bad.is_empty(), "{:?}", p.bad);
        assert_eq!(p.events.len(), 2);
        assert_eq!(p.records(), vec![9, 19]);
        let e = &p.events[1];
        assert_eq!(s(e, "event.dataset").as_deref(), Some("zeek.dns"));
        assert_eq!(s(e, "dns.question.name").as_deref(), Some("example.com"));
        assert_eq!(s(e, "dns.question.type").as_deref(), Some("A"));
        assert_eq!(s(e, "dns.response_code").as_deref(), Some("NOERROR"));
        assert_eq!(v(e, "dns.answers.data"), Some(list(&["93.184.216.34"])));
        assert_eq!(v(e, "dns.id"), Some(Value::Int(4242)));
        assert_eq!(v(e, "TTLs"), Some(Value::List(vec![Value::Float(300.0)])));
        assert_eq!(s(e, "network.protocol").as_deref(), Some("dns"));
        // The new header block replaced the schema: no conn field leaks into DNS events.
        assert_eq!(v(e, "conn_state"), None);
    }

    #[test]
    fn malformed_tsv_lines() {
        let text = "#separator \\x09\n#path\tconn\n1714557600.0\tC1\n#fields\tts\tuid\n#types\ttime\tstring\n1714557600.0\tC1\textra\n1714557600.0\n1714557600.0\tC2\n";
        let p = parse(text, Format::Zeek);
        assert_eq!(
            p.bad_codes(),
            vec![(3, "KP002"), (6, "KP002"), (7, "KP002")]
        );
        assert!(p.bad[0].error.message.contains("before any #fields"));
        assert!(p.bad[1].error.message.contains("expected 2 fields"));
        assert_eq!(p.records(), vec![8]);
        // No header at all: not a Zeek log.
        let p = parse("Oct 11 22:14:15 host sshd[1]: hello\n", Format::Zeek);
        assert_eq!(p.bad_codes(), vec![(1, "KP005")]);
    }

    #[test]
    fn missing_types_infer_integers() {
        let p = parse(
            "#fields\tts\tid.orig_h\tid.orig_p\tnote\n1714557600.5\t10.0.0.1\t22\tSSH::Password_Guessing\n",
            Format::Zeek,
        );
        let e = p.one();
        assert_eq!(v(e, "id.orig_p"), Some(Value::Int(22)));
        assert_eq!(v(e, "ts"), Some(Value::str("1714557600.5")));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.500Z");
        // No #path: the log type is inferred from the fields.
        assert_eq!(s(e, "event.dataset").as_deref(), Some("zeek.notice"));
        assert_eq!(s(e, "rule.name").as_deref(), Some("SSH::Password_Guessing"));
    }

    #[test]
    fn tsv_http_log() {
        let text = tsv(
            "http",
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\ttrans_depth\tmethod\thost\turi\treferrer\tversion\tuser_agent\trequest_body_len\tresponse_body_len\tstatus_code\tstatus_msg\ttags\tresp_mime_types",
            "time\tstring\taddr\tport\taddr\tport\tcount\tstring\tstring\tstring\tstring\tstring\tstring\tcount\tcount\tcount\tstring\tset[enum]\tvector[string]",
            &[
                "1714557600.25\tCx\t10.0.0.5\t49822\t203.0.113.9\t80\t1\tPOST\texample.com\t/login.php?u=a%20b\thttp://example.com/\t1.1\tMozilla/5.0 (X11; Linux x86_64)\t42\t1024\t302\tFound\t(empty)\ttext/html",
            ],
        );
        let e = parse(&text, Format::Zeek).one().clone();
        assert_eq!(v(&e, "event.category"), Some(list(&["network", "web"])));
        assert_eq!(s(&e, "http.request.method").as_deref(), Some("POST"));
        assert_eq!(s(&e, "url.domain").as_deref(), Some("example.com"));
        assert_eq!(s(&e, "url.original").as_deref(), Some("/login.php?u=a%20b"));
        assert_eq!(s(&e, "url.path").as_deref(), Some("/login.php"));
        assert_eq!(s(&e, "url.query").as_deref(), Some("u=a%20b"));
        assert_eq!(
            s(&e, "user_agent.original").as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64)")
        );
        assert_eq!(v(&e, "http.response.status_code"), Some(Value::Int(302)));
        assert_eq!(
            s(&e, "http.request.referrer").as_deref(),
            Some("http://example.com/")
        );
        assert_eq!(v(&e, "http.request.body.bytes"), Some(Value::Int(42)));
        assert_eq!(v(&e, "http.response.body.bytes"), Some(Value::Int(1024)));
        assert_eq!(s(&e, "http.version").as_deref(), Some("1.1"));
        assert_eq!(v(&e, "resp_mime_types"), Some(list(&["text/html"])));
    }

    #[test]
    fn json_logs_with_and_without_path() {
        let lines = [
            r#"{"_path":"ssl","_write_ts":"2024-05-01T10:00:01.000000Z","ts":"2024-05-01T10:00:00.500000Z","uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":50000,"id.resp_h":"1.1.1.1","id.resp_p":443,"version":"TLSv13","cipher":"TLS_AES_128_GCM_SHA256","server_name":"one.one.one.one","resumed":false,"established":true}"#,
            r#"{"ts":1714557600.0,"fuid":"F1","tx_hosts":["1.1.1.1"],"rx_hosts":["10.0.0.5"],"source":"HTTP","mime_type":"application/x-dosexec","filename":"C:\\tmp\\a.exe","total_bytes":1000,"md5":"aa","sha1":"bb","sha256":"cc"}"#,
            r#"{"ts":1714557600.0,"uid":"C2","id.orig_h":"10.0.0.9","id.orig_p":1,"id.resp_h":"10.0.0.10","id.resp_p":22,"version":2,"auth_success":false,"auth_attempts":3,"client":"SSH-2.0-libssh","server":"SSH-2.0-OpenSSH_9.6"}"#,
            r#"{"ts":1714557600.0,"id":"FeJ1","certificate.version":3,"certificate.serial":"0A1B","certificate.subject":"CN=example.com","certificate.issuer":"CN=CA","certificate.not_valid_before":1704067200.0,"certificate.not_valid_after":"2025-01-01T00:00:00Z","san.dns":["example.com","www.example.com"]}"#,
            r#"{"ts":1714557600.0,"uid":"C3","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"name":"bad_TCP_checksum","notice":false,"peer":"zeek","source":"TCP"}"#,
            r#"{"ts":1714557600.0,"uids":["C4"],"client_addr":"10.0.0.77","server_addr":"10.0.0.1","mac":"00:0c:29:aa:bb:cc","host_name":"laptop","assigned_addr":"10.0.0.77","lease_time":86400.0,"msg_types":["DISCOVER","OFFER","REQUEST","ACK"]}"#,
            r#"{"ts":1714557600.0,"uid":"C5","id.orig_h":"10.0.0.5","id.orig_p":40000,"id.resp_h":"10.0.0.25","id.resp_p":25,"trans_depth":1,"helo":"mail.example","mailfrom":"<a@example.com>","rcptto":["<b@example.com>","c@example.com"],"subject":"Invoice"}"#,
            r#"{"ts":1714557600.0,"note":"Scan::Port_Scan","msg":"10.0.0.9 scanned at least 15 unique ports","src":"10.0.0.9","dst":"10.0.0.10","p":443,"actions":["Notice::ACTION_LOG"]}"#,
            r#"{"ts":1714557600.0,"something":"else"}"#,
            r#"{"uid":"no ts"}"#,
            r#"{"ts":1714557600.0,"a":1} trailing"#,
            r#"{"ts":"#,
        ];
        let p = parse_lines(
            &lines,
            crate::driver::line_parser(Format::Zeek).expect("line based"),
        );
        assert_eq!(
            p.bad_codes(),
            vec![(10, "KP005"), (11, "KP003"), (12, "KP003")]
        );
        let ds: Vec<Option<String>> = p.events.iter().map(|e| s(e, "event.dataset")).collect();
        assert_eq!(
            ds,
            [
                Some("zeek.ssl"),
                Some("zeek.files"),
                Some("zeek.ssh"),
                Some("zeek.x509"),
                Some("zeek.weird"),
                Some("zeek.dhcp"),
                Some("zeek.smtp"),
                Some("zeek.notice"),
                None
            ]
            .map(|o| o.map(String::from))
        );
        let e = &p.events[0];
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.500Z");
        assert_eq!(s(e, "tls.version").as_deref(), Some("1.3"));
        assert_eq!(s(e, "tls.version_protocol").as_deref(), Some("tls"));
        assert_eq!(
            s(e, "tls.client.server_name").as_deref(),
            Some("one.one.one.one")
        );
        assert_eq!(
            s(e, "tls.cipher").as_deref(),
            Some("TLS_AES_128_GCM_SHA256")
        );
        assert_eq!(v(e, "tls.established"), Some(Value::Bool(true)));
        let e = &p.events[1];
        assert_eq!(s(e, "file.name").as_deref(), Some("a.exe"));
        assert_eq!(
            s(e, "file.mime_type").as_deref(),
            Some("application/x-dosexec")
        );
        assert_eq!(s(e, "file.hash.sha256").as_deref(), Some("cc"));
        assert_eq!(v(e, "file.size"), Some(Value::Int(1000)));
        assert_eq!(v(e, "tx_hosts"), Some(list(&["1.1.1.1"])));
        let e = &p.events[2];
        assert_eq!(s(e, "event.outcome").as_deref(), Some("failure"));
        assert_eq!(
            v(e, "event.category"),
            Some(list(&["network", "authentication"]))
        );
        assert_eq!(v(e, "destination.port"), Some(Value::Int(22)));
        let e = &p.events[3];
        assert_eq!(s(e, "x509.serial_number").as_deref(), Some("0A1B"));
        assert_eq!(
            s(e, "x509.not_before").as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            s(e, "x509.not_after").as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            v(e, "x509.alternative_names"),
            Some(list(&["example.com", "www.example.com"]))
        );
        assert_eq!(
            s(&p.events[4], "event.action").as_deref(),
            Some("bad_TCP_checksum")
        );
        let e = &p.events[5];
        assert_eq!(s(e, "source.ip").as_deref(), Some("10.0.0.77"));
        assert_eq!(s(e, "destination.ip").as_deref(), Some("10.0.0.1"));
        assert_eq!(s(e, "source.mac").as_deref(), Some("00-0C-29-AA-BB-CC"));
        let e = &p.events[6];
        assert_eq!(s(e, "email.from.address").as_deref(), Some("a@example.com"));
        assert_eq!(
            v(e, "email.to.address"),
            Some(list(&["b@example.com", "c@example.com"]))
        );
        assert_eq!(s(e, "email.subject").as_deref(), Some("Invoice"));
        let e = &p.events[7];
        assert_eq!(s(e, "event.kind").as_deref(), Some("alert"));
        assert_eq!(s(e, "rule.name").as_deref(), Some("Scan::Port_Scan"));
        assert_eq!(
            s(e, "message").as_deref(),
            Some("10.0.0.9 scanned at least 15 unique ports")
        );
        assert_eq!(s(e, "source.ip").as_deref(), Some("10.0.0.9"));
        assert_eq!(v(e, "destination.port"), Some(Value::Int(443)));
        assert_eq!(s(&p.events[8], "event.module").as_deref(), Some("zeek"));
    }

    #[test]
    fn tsv_and_json_lines_may_mix() {
        let mut text = tsv("conn", CONN_FIELDS, CONN_TYPES, &[]);
        text.push_str(r#"{"_path":"conn","ts":1714557600.0,"uid":"CJ","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":2,"proto":"tcp","conn_state":"REJ","local_orig":false,"local_resp":false}"#);
        text.push('\n');
        let p = parse(&text, Format::Zeek);
        let e = p.one();
        assert_eq!(s(e, "event.dataset").as_deref(), Some("zeek.conn"));
        assert_eq!(s(e, "network.direction").as_deref(), Some("external"));
    }

    #[test]
    fn host_header_and_connect_targets() {
        assert_eq!(host_port("example.com"), ("example.com", None));
        assert_eq!(host_port("example.com:8080"), ("example.com", Some(8080)));
        assert_eq!(host_port("[2001:db8::1]:443"), ("2001:db8::1", Some(443)));
        assert_eq!(host_port("2001:db8::1"), ("2001:db8::1", None));
        assert_eq!(host_port("[2001:db8::1]"), ("2001:db8::1", None));
        assert_eq!(host_port("host:notaport"), ("host:notaport", None));
        assert_eq!(host_port(":80"), (":80", None));
        let p = parse_lines(
            &[
                r#"{"_path":"http","ts":1714557600.0,"method":"CONNECT","uri":"203.0.113.51:443","host":"proxy.example:3128"}"#,
            ],
            crate::driver::line_parser(Format::Zeek).expect("line based"),
        );
        let e = p.one();
        assert_eq!(s(e, "url.original").as_deref(), Some("203.0.113.51:443"));
        assert_eq!(v(e, "url.path"), None);
        // The Host header names the server that was asked, after the CONNECT target.
        assert_eq!(s(e, "url.domain").as_deref(), Some("proxy.example"));
        assert_eq!(v(e, "url.port"), Some(Value::Int(3128)));
    }

    #[test]
    fn unescape_forms() {
        assert_eq!(unescape("plain"), "plain");
        assert_eq!(unescape("a\\x41\\x4a"), "aAJ");
        assert_eq!(unescape("bad\\xZZ\\x4"), "bad\\xZZ\\x4");
        assert_eq!(unescape("trailing\\"), "trailing\\");
        assert_eq!(unescape("\\xff"), "\u{FFFD}");
        assert!(matches!(unescape("no escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn type_names() {
        assert_eq!(
            Type::parse("set[addr]"),
            Type {
                kind: Kind::Str,
                list: true
            }
        );
        assert_eq!(
            Type::parse("vector[interval]"),
            Type {
                kind: Kind::Float,
                list: true
            }
        );
        assert_eq!(
            Type::parse("port"),
            Type {
                kind: Kind::Int,
                list: false
            }
        );
        assert_eq!(
            Type::parse("bool"),
            Type {
                kind: Kind::Bool,
                list: false
            }
        );
        assert_eq!(
            Type::parse("table[string] of count"),
            Type {
                kind: Kind::Str,
                list: false
            }
        );
    }

    fn zeek_text() -> impl Strategy<Value = String> {
        // Escaped text as Zeek writes it: no raw separators, `\xHH` for them.
        "[a-zA-Z0-9 ._:/=\\-]{0,12}".prop_map(|s| s.replace('-', "\\x2d"))
    }

    proptest! {
        #[test]
        fn tsv_round_trips(rows in prop::collection::vec(
            (1_000_000_000u32..2_000_000_000, 0u32..1_000_000, zeek_text(), any::<u16>(), any::<i64>(),
             any::<bool>(), prop::collection::vec(zeek_text(), 0..4), prop::option::of(-1e12f64..1e12)),
            1..8))
        {
            let mut text = String::from("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tcustom\n#fields\tts\ts\tp\ti\tb\tset\td\n#types\ttime\tstring\tport\tint\tbool\tset[string]\tdouble\n");
            for (secs, micros, st, port, i, b, set, d) in &rows {
                let set_text = if set.is_empty() { "(empty)".to_string() } else { set.join(",") };
                let st_text = if st.is_empty() { "(empty)".to_string() } else { st.clone() };
                let d_text = d.map_or("-".to_string(), |d| d.to_string());
                text.push_str(&format!(
                    "{secs}.{micros:06}\t{st_text}\t{port}\t{i}\t{}\t{set_text}\t{d_text}\n",
                    if *b { "T" } else { "F" }
                ));
            }
            let p = parse(&text, Format::Zeek);
            prop_assert!(p.bad.is_empty(), "{:?}", p.bad);
            prop_assert_eq!(p.events.len(), rows.len());
            for (e, (secs, micros, st, port, i, b, set, d)) in p.events.iter().zip(&rows) {
                prop_assert_eq!(e.timestamp.as_nanos(), i64::from(*secs) * 1_000_000_000 + i64::from(*micros) * 1000);
                prop_assert_eq!(s(e, "s"), Some(st.replace("\\x2d", "-")));
                prop_assert_eq!(v(e, "p"), Some(Value::Int(i64::from(*port))));
                prop_assert_eq!(v(e, "i"), Some(Value::Int(*i)));
                prop_assert_eq!(v(e, "b"), Some(Value::Bool(*b)));
                let expected: Vec<Value> = set.iter().map(|x| Value::str(&x.replace("\\x2d", "-"))).collect();
                prop_assert_eq!(v(e, "set"), Some(Value::List(expected)));
                prop_assert_eq!(v(e, "d"), d.map(Value::Float));
                prop_assert_eq!(s(e, "event.dataset"), Some("zeek.custom".to_string()));
            }
        }

        #[test]
        fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = crate::json::testutil::parse_with(&bytes, Format::Zeek, &crate::json::testutil::opts());
        }

        #[test]
        fn header_like_input_never_panics(text in "(#(separator|set_separator|empty_field|unset_field|fields|types|path)[ \\t]?[a-z\\\\x0-9\\[\\],\\t(){}\":.-]{0,30}\n|[a-z0-9\\t,(){}\":.\\\\-]{0,30}\n){0,12}") {
            let _ = parse(&text, Format::Zeek);
        }
    }
}
