//! Suricata EVE JSON: one JSON object per line with `timestamp`, `event_type` and the flow's
//! 5-tuple, plus one object named after the event type (`alert`, `flow`, `dns`, `http`, `tls`,
//! `fileinfo`, ...).
//!
//! Documents are flattened by [`crate::json`] (so every original field stays under its own dotted
//! name: `src_ip`, `alert.signature`, `flow.bytes_toserver`); this module adds the ECS view:
//! endpoints and counters for every event type, `event.kind` / `category` / `type` per event
//! type, and the protocol objects (`dns`, `http`, `tls`, `fileinfo`) wherever they appear, since
//! alerts carry the app-layer metadata of their flow too. DNS is read in all three EVE layouts:
//! v1 (one event per query / answer record), v2 (`answers` detailed or `grouped` by type) and v3
//! (`queries` / `answers` arrays, `type` request / response).
//!
//! Two original names coincide with ECS names and are normalised in place so that one query works
//! across sources: `tls.version` (`TLS 1.2` -> `1.2`, with `tls.version_protocol: tls`) and the v3
//! `dns.type` (`request` / `response` -> `query` / `answer`).

use std::sync::OnceLock;

use compact_str::{CompactString, format_compact};
use kasbah_event::{FieldId, Value, ecs};

use crate::json::{Doc, field_ids};
use crate::norm;

field_ids! {
    /// Original EVE names and ECS names not declared in [`ecs`].
    struct Ids {
        event_type = "event_type",
        host = "host",
        src_ip = "src_ip",
        dest_ip = "dest_ip",
        src_port = "src_port",
        dest_port = "dest_port",
        proto = "proto",
        app_proto = "app_proto",
        community_id = "community_id",
        alert_action = "alert.action",
        alert_signature_id = "alert.signature_id",
        alert_signature = "alert.signature",
        alert_category = "alert.category",
        alert_severity = "alert.severity",
        alert_rev = "alert.rev",
        flow_bytes_toserver = "flow.bytes_toserver",
        flow_bytes_toclient = "flow.bytes_toclient",
        flow_pkts_toserver = "flow.pkts_toserver",
        flow_pkts_toclient = "flow.pkts_toclient",
        flow_start = "flow.start",
        flow_end = "flow.end",
        netflow_bytes = "netflow.bytes",
        netflow_pkts = "netflow.pkts",
        netflow_start = "netflow.start",
        netflow_end = "netflow.end",
        dns_type = "dns.type",
        dns_rrname = "dns.rrname",
        dns_rrtype = "dns.rrtype",
        dns_rcode = "dns.rcode",
        dns_rdata = "dns.rdata",
        dns_answers_rdata = "dns.answers.rdata",
        dns_queries_rrname = "dns.queries.rrname",
        dns_queries_rrtype = "dns.queries.rrtype",
        http_hostname = "http.hostname",
        http_url = "http.url",
        http_method = "http.http_method",
        http_status = "http.status",
        http_user_agent = "http.http_user_agent",
        http_refer = "http.http_refer",
        http_protocol = "http.protocol",
        http_length = "http.length",
        http_content_type = "http.http_content_type",
        tls_sni = "tls.sni",
        tls_version = "tls.version",
        tls_subject = "tls.subject",
        tls_issuerdn = "tls.issuerdn",
        tls_fingerprint = "tls.fingerprint",
        tls_ja3_hash = "tls.ja3.hash",
        tls_ja3s_hash = "tls.ja3s.hash",
        tls_notbefore = "tls.notbefore",
        tls_notafter = "tls.notafter",
        fileinfo_filename = "fileinfo.filename",
        fileinfo_size = "fileinfo.size",
        fileinfo_md5 = "fileinfo.md5",
        fileinfo_sha1 = "fileinfo.sha1",
        fileinfo_sha256 = "fileinfo.sha256",
        anomaly_event = "anomaly.event",
        anomaly_type = "anomaly.type",
        observer_type = "observer.type",
        rule_version = "rule.version",
        http_response_mime_type = "http.response.mime_type",
        tls_version_protocol = "tls.version_protocol",
        tls_server_subject = "tls.server.subject",
        tls_server_issuer = "tls.server.issuer",
        tls_server_hash_sha1 = "tls.server.hash.sha1",
        tls_server_not_before = "tls.server.not_before",
        tls_server_not_after = "tls.server.not_after",
        tls_client_ja3 = "tls.client.ja3",
        tls_server_ja3s = "tls.server.ja3s",
    }
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(Ids::new)
}

/// A non-empty string field, copied (short strings stay inline).
fn text(e: &Doc<'_>, id: FieldId) -> Option<CompactString> {
    e.get_str(id)
        .filter(|s| !s.is_empty())
        .map(CompactString::new)
}

/// The first string of a string or list field (v3 `dns.queries.rrname` is a list).
fn first_text(e: &Doc<'_>, id: FieldId) -> Option<CompactString> {
    match e.get(id)? {
        Value::Str(s) if !s.is_empty() => Some(s.clone()),
        Value::List(l) => l.iter().find_map(Value::as_str).map(CompactString::new),
        _ => None,
    }
}

fn int(e: &Doc<'_>, id: FieldId) -> Option<i64> {
    e.get(id).and_then(Value::as_i64)
}

fn set_text(e: &mut Doc<'_>, from: FieldId, to: FieldId) {
    if let Some(v) = text(e, from) {
        e.set(to, v);
    }
}

fn set_int(e: &mut Doc<'_>, from: FieldId, to: FieldId) -> Option<i64> {
    let v = int(e, from)?;
    e.set(to, v);
    Some(v)
}

fn set_port(e: &mut Doc<'_>, from: FieldId, to: FieldId) {
    if let Some(p) = int(e, from).and_then(|p| u16::try_from(p).ok()) {
        e.set(to, p);
    }
}

/// Sets `event.category` (a string, or a list when there are several).
fn set_category(e: &mut Doc<'_>, cats: &[&str]) {
    match cats {
        [] => {}
        [one] => e.set(ecs::EVENT_CATEGORY, *one),
        many => e.set(
            ecs::EVENT_CATEGORY,
            Value::List(many.iter().map(|c| Value::str(c)).collect()),
        ),
    }
}

fn set_type(e: &mut Doc<'_>, types: &[&str]) {
    match types {
        [] => {}
        [one] => e.set(ecs::EVENT_TYPE, *one),
        many => e.set(
            ecs::EVENT_TYPE,
            Value::List(many.iter().map(|c| Value::str(c)).collect()),
        ),
    }
}

/// Adds the ECS view of a flattened EVE document. Returns false (leaving `e` as it was) if it
/// has no string `event_type`.
pub(crate) fn map(e: &mut Doc<'_>) -> bool {
    let ids = ids();
    let Some(event_type) = text(e, ids.event_type) else {
        return false;
    };
    e.set(ecs::EVENT_MODULE, "suricata");
    e.set(
        ecs::EVENT_DATASET,
        format_compact!("suricata.{}", event_type.to_ascii_lowercase()),
    );
    e.set(ecs::OBSERVER_VENDOR, "OISF");
    e.set(ecs::OBSERVER_PRODUCT, "Suricata");
    e.set(ids.observer_type, "ids");
    if let Some(h) = text(e, ids.host) {
        e.set(ecs::OBSERVER_NAME, h.clone());
        e.set_default(ecs::HOST_NAME, h);
    }
    endpoints(e, ids);
    counters(e, ids);
    match event_type.as_str() {
        "alert" => alert(e, ids),
        "drop" => {
            set_category(e, &["network"]);
            set_type(e, &["connection", "denied"]);
            e.set(ecs::EVENT_ACTION, "drop");
        }
        "flow" | "netflow" => {
            set_category(e, &["network"]);
            set_type(e, &["connection", "end"]);
        }
        "http" => {
            set_category(e, &["network", "web"]);
            set_type(e, &["protocol"]);
        }
        "fileinfo" => {
            set_category(e, &["file"]);
            set_type(e, &["info"]);
        }
        "anomaly" => {
            set_category(e, &["network"]);
            set_type(e, &["info"]);
            if let Some(a) = text(e, ids.anomaly_event).or_else(|| text(e, ids.anomaly_type)) {
                e.set(ecs::EVENT_ACTION, a);
            }
        }
        "stats" => e.set(ecs::EVENT_KIND, "metric"),
        // dns, tls, ssh, smtp and the other application-layer transaction logs.
        _ => {
            set_category(e, &["network"]);
            set_type(e, &["protocol"]);
        }
    }
    dns(e, ids);
    http(e, ids);
    tls(e, ids);
    fileinfo(e, ids);
    true
}

fn endpoints(e: &mut Doc<'_>, ids: &Ids) {
    if let Some(ip) = text(e, ids.src_ip) {
        e.set_ip(ecs::SOURCE_IP, &ip);
    }
    set_port(e, ids.src_port, ecs::SOURCE_PORT);
    if let Some(ip) = text(e, ids.dest_ip) {
        e.set_ip(ecs::DESTINATION_IP, &ip);
    }
    set_port(e, ids.dest_port, ecs::DESTINATION_PORT);
    if let Some(p) = text(e, ids.proto) {
        e.set(ecs::NETWORK_TRANSPORT, p.to_ascii_lowercase());
    }
    // `failed`: the app-layer parser could not tell; that is no protocol name.
    if let Some(p) = text(e, ids.app_proto).filter(|p| p != "failed" && p != "unknown") {
        e.set(ecs::NETWORK_PROTOCOL, p.to_ascii_lowercase());
    }
    set_text(e, ids.community_id, ecs::NETWORK_COMMUNITY_ID);
}

/// Byte and packet counters: `flow.*` (to-server = source) or unidirectional `netflow.*`.
fn counters(e: &mut Doc<'_>, ids: &Ids) {
    let pairs = [
        (
            ids.flow_bytes_toserver,
            ids.flow_bytes_toclient,
            ecs::SOURCE_BYTES,
            ecs::DESTINATION_BYTES,
            ecs::NETWORK_BYTES,
        ),
        (
            ids.flow_pkts_toserver,
            ids.flow_pkts_toclient,
            ecs::SOURCE_PACKETS,
            ecs::DESTINATION_PACKETS,
            ecs::NETWORK_PACKETS,
        ),
    ];
    for (to_server, to_client, src, dst, total) in pairs {
        let a = set_int(e, to_server, src);
        let b = set_int(e, to_client, dst);
        if let (Some(a), Some(b)) = (a, b) {
            e.set(total, a.saturating_add(b));
        }
    }
    for (from, src, total) in [
        (ids.netflow_bytes, ecs::SOURCE_BYTES, ecs::NETWORK_BYTES),
        (ids.netflow_pkts, ecs::SOURCE_PACKETS, ecs::NETWORK_PACKETS),
    ] {
        if let Some(v) = set_int(e, from, src) {
            e.set(total, v);
        }
    }
    let span = [
        (ids.flow_start, ids.flow_end),
        (ids.netflow_start, ids.netflow_end),
    ];
    for (start, end) in span {
        let t = |id| {
            e.get_str(id)
                .and_then(|s| crate::time::rfc3339(s, None))
                .map(|(t, _)| t.as_nanos())
        };
        if let (Some(a), Some(b)) = (t(start), t(end))
            && b >= a
        {
            e.set(ecs::EVENT_DURATION, b - a);
        }
    }
}

fn alert(e: &mut Doc<'_>, ids: &Ids) {
    e.set(ecs::EVENT_KIND, "alert");
    set_category(e, &["network", "intrusion_detection"]);
    if let Some(sid) = int(e, ids.alert_signature_id) {
        e.set(ecs::RULE_ID, format_compact!("{sid}"));
    }
    if let Some(rev) = int(e, ids.alert_rev) {
        e.set(ids.rule_version, format_compact!("{rev}"));
    }
    if let Some(sig) = text(e, ids.alert_signature) {
        e.set(ecs::RULE_NAME, sig.clone());
        e.set_default(ecs::MESSAGE, sig);
    }
    set_text(e, ids.alert_category, ecs::RULE_CATEGORY);
    set_int(e, ids.alert_severity, ecs::EVENT_SEVERITY);
    match text(e, ids.alert_action).as_deref() {
        Some("allowed") => {
            e.set(ecs::EVENT_ACTION, "allowed");
            set_type(e, &["allowed"]);
            e.set(ecs::EVENT_OUTCOME, "success");
        }
        Some("blocked") => {
            e.set(ecs::EVENT_ACTION, "blocked");
            set_type(e, &["denied"]);
            e.set(ecs::EVENT_OUTCOME, "failure");
        }
        Some(other) => {
            e.set(ecs::EVENT_ACTION, other);
            set_type(e, &["info"]);
        }
        None => set_type(e, &["info"]),
    }
}

fn dns(e: &mut Doc<'_>, ids: &Ids) {
    let Some(name) = text(e, ids.dns_rrname).or_else(|| first_text(e, ids.dns_queries_rrname))
    else {
        return;
    };
    e.set(ecs::DNS_QUESTION_NAME, name);
    if let Some(t) = text(e, ids.dns_rrtype).or_else(|| first_text(e, ids.dns_queries_rrtype)) {
        e.set(ecs::DNS_QUESTION_TYPE, t);
    }
    set_text(e, ids.dns_rcode, ecs::DNS_RESPONSE_CODE);
    match e.get_str(ids.dns_type) {
        Some("request") => e.set(ids.dns_type, "query"),
        Some("response") => e.set(ids.dns_type, "answer"),
        _ => {}
    }
    // Answers: v1 `rdata` of an answer record, v2/v3 detailed `answers[].rdata`, v2 `grouped.*`.
    let mut data: Vec<Value> = Vec::new();
    match e.get(ids.dns_answers_rdata) {
        Some(Value::List(l)) => data.extend(l.iter().filter(|v| v.as_str().is_some()).cloned()),
        Some(v @ Value::Str(_)) => data.push(v.clone()),
        _ => {}
    }
    if let Some(r) = text(e, ids.dns_rdata) {
        data.push(Value::Str(r));
    }
    for (name, v) in e.e.fields.iter() {
        if name.starts_with("dns.grouped.") {
            match v {
                Value::List(l) => data.extend(l.iter().filter(|v| v.as_str().is_some()).cloned()),
                Value::Str(_) => data.push(v.clone()),
                _ => {}
            }
        }
    }
    if !data.is_empty() {
        e.set(ecs::DNS_ANSWERS_DATA, Value::List(data));
    }
}

fn http(e: &mut Doc<'_>, ids: &Ids) {
    if let Some(url) = text(e, ids.http_url) {
        e.set_url(&url);
    }
    set_text(e, ids.http_hostname, ecs::URL_DOMAIN);
    if let Some(m) = text(e, ids.http_method) {
        e.set(ecs::HTTP_REQUEST_METHOD, m);
    }
    set_int(e, ids.http_status, ecs::HTTP_RESPONSE_STATUS_CODE);
    set_text(e, ids.http_user_agent, ecs::USER_AGENT_ORIGINAL);
    set_text(e, ids.http_refer, ecs::HTTP_REQUEST_REFERRER);
    if let Some(p) = text(e, ids.http_protocol)
        && let Some(v) = p.strip_prefix("HTTP/")
    {
        e.set(ecs::HTTP_VERSION, v);
    }
    set_int(e, ids.http_length, ecs::HTTP_RESPONSE_BODY_BYTES);
    set_text(e, ids.http_content_type, ids.http_response_mime_type);
}

/// `TLS 1.2` / `TLSv1.2` / `SSLv3` -> (`tls` / `ssl`, `1.2` / `3.0`).
pub(crate) fn tls_version(v: &str) -> Option<(&'static str, CompactString)> {
    let lower = v.trim().to_ascii_lowercase();
    let (proto, rest) = if let Some(r) = lower.strip_prefix("tls") {
        ("tls", r)
    } else if let Some(r) = lower.strip_prefix("ssl") {
        ("ssl", r)
    } else {
        return None;
    };
    let rest = rest.trim_start_matches([' ', 'v']);
    if rest.is_empty() || !rest.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    // Zeek writes `TLSv12`: two digits without a dot.
    let mut digits = rest.chars();
    let version = match (
        rest.contains('.'),
        digits.next(),
        digits.next(),
        digits.next(),
    ) {
        (true, ..) => CompactString::new(rest),
        (false, Some(major), None, _) => format_compact!("{major}.0"),
        (false, Some(major), Some(minor), None) => format_compact!("{major}.{minor}"),
        _ => return None,
    };
    Some((proto, version))
}

fn tls(e: &mut Doc<'_>, ids: &Ids) {
    set_text(e, ids.tls_sni, ecs::TLS_SERVER_NAME);
    if let Some(v) = text(e, ids.tls_version)
        && let Some((proto, version)) = tls_version(&v)
    {
        e.set(ecs::TLS_VERSION, version);
        e.set(ids.tls_version_protocol, proto);
    }
    set_text(e, ids.tls_subject, ids.tls_server_subject);
    set_text(e, ids.tls_issuerdn, ids.tls_server_issuer);
    if let Some(fp) = text(e, ids.tls_fingerprint) {
        let hex: String = fp
            .chars()
            .filter(|c| *c != ':')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        e.set(ids.tls_server_hash_sha1, hex);
    }
    set_text(e, ids.tls_ja3_hash, ids.tls_client_ja3);
    set_text(e, ids.tls_ja3s_hash, ids.tls_server_ja3s);
    set_text(e, ids.tls_notbefore, ids.tls_server_not_before);
    set_text(e, ids.tls_notafter, ids.tls_server_not_after);
}

fn fileinfo(e: &mut Doc<'_>, ids: &Ids) {
    if let Some(f) = text(e, ids.fileinfo_filename) {
        let name = norm::basename(&f);
        if !name.is_empty() {
            e.set(ecs::FILE_NAME, name);
        }
    }
    set_int(e, ids.fileinfo_size, ecs::FILE_SIZE);
    set_text(e, ids.fileinfo_md5, ecs::FILE_HASH_MD5);
    set_text(e, ids.fileinfo_sha1, ecs::FILE_HASH_SHA1);
    set_text(e, ids.fileinfo_sha256, ecs::FILE_HASH_SHA256);
}
