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
        dns_query_rrname = "dns.query.rrname",
        dns_query_rrtype = "dns.query.rrtype",
        http_hostname = "http.hostname",
        http_port = "http.http_port",
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

/// The first string of a string or list field (v3 `dns.queries.rrname` is a list).
fn first_text(e: &Doc<'_>, id: FieldId) -> Option<CompactString> {
    match e.get(id)? {
        Value::Str(s) if !s.is_empty() => Some(s.clone()),
        Value::List(l) => l.iter().find_map(Value::as_str).map(CompactString::new),
        _ => None,
    }
}

fn set_port(e: &mut Doc<'_>, from: FieldId, to: FieldId) {
    if let Some(p) = e.int(from).and_then(|p| u16::try_from(p).ok()) {
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
    let Some(event_type) = e.text(ids.event_type) else {
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
    if let Some(h) = e.text(ids.host) {
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
            if let Some(a) = e
                .text(ids.anomaly_event)
                .or_else(|| e.text(ids.anomaly_type))
            {
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
    if let Some(ip) = e.text(ids.src_ip) {
        e.set_ip(ecs::SOURCE_IP, &ip);
    }
    set_port(e, ids.src_port, ecs::SOURCE_PORT);
    if let Some(ip) = e.text(ids.dest_ip) {
        e.set_ip(ecs::DESTINATION_IP, &ip);
    }
    set_port(e, ids.dest_port, ecs::DESTINATION_PORT);
    if let Some(p) = e.text(ids.proto) {
        e.set(ecs::NETWORK_TRANSPORT, p.to_ascii_lowercase());
    }
    // `failed`: the app-layer parser could not tell; that is no protocol name.
    if let Some(p) = e
        .text(ids.app_proto)
        .filter(|p| p != "failed" && p != "unknown")
    {
        e.set(ecs::NETWORK_PROTOCOL, p.to_ascii_lowercase());
    }
    e.copy_text(ids.community_id, ecs::NETWORK_COMMUNITY_ID);
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
        let a = e.copy_int(to_server, src);
        let b = e.copy_int(to_client, dst);
        if let (Some(a), Some(b)) = (a, b) {
            e.set(total, a.saturating_add(b));
        }
    }
    for (from, src, total) in [
        (ids.netflow_bytes, ecs::SOURCE_BYTES, ecs::NETWORK_BYTES),
        (ids.netflow_pkts, ecs::SOURCE_PACKETS, ecs::NETWORK_PACKETS),
    ] {
        if let Some(v) = e.copy_int(from, src) {
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
            && let Some(d) = b.checked_sub(a).filter(|d| *d >= 0)
        {
            e.set(ecs::EVENT_DURATION, d);
        }
    }
}

fn alert(e: &mut Doc<'_>, ids: &Ids) {
    e.set(ecs::EVENT_KIND, "alert");
    set_category(e, &["network", "intrusion_detection"]);
    if let Some(sid) = e.int(ids.alert_signature_id) {
        e.set(ecs::RULE_ID, format_compact!("{sid}"));
    }
    if let Some(rev) = e.int(ids.alert_rev) {
        e.set(ids.rule_version, format_compact!("{rev}"));
    }
    if let Some(sig) = e.text(ids.alert_signature) {
        e.set(ecs::RULE_NAME, sig.clone());
        e.set_default(ecs::MESSAGE, sig);
    }
    e.copy_text(ids.alert_category, ecs::RULE_CATEGORY);
    e.copy_int(ids.alert_severity, ecs::EVENT_SEVERITY);
    match e.text(ids.alert_action).as_deref() {
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
    // The question: v1/v2 `rrname`, v3 `queries[]`, alert metadata (Suricata 6/7) `query[]`.
    let Some(name) = e
        .text(ids.dns_rrname)
        .or_else(|| first_text(e, ids.dns_queries_rrname))
        .or_else(|| first_text(e, ids.dns_query_rrname))
    else {
        return;
    };
    e.set(ecs::DNS_QUESTION_NAME, name);
    let qtype = e
        .text(ids.dns_rrtype)
        .or_else(|| first_text(e, ids.dns_queries_rrtype))
        .or_else(|| first_text(e, ids.dns_query_rrtype));
    if let Some(t) = qtype {
        e.set(ecs::DNS_QUESTION_TYPE, t);
    }
    e.copy_text(ids.dns_rcode, ecs::DNS_RESPONSE_CODE);
    match e.get_str(ids.dns_type) {
        Some("request") => e.set(ids.dns_type, "query"),
        Some("response") => e.set(ids.dns_type, "answer"),
        _ => {}
    }
    // Answers: v1 `rdata` of an answer record, v2/v3 detailed `answers[].rdata`, else v2
    // `grouped.*` (Suricata writes both layouts when both are configured; they hold the same data).
    let mut data: Vec<Value> = Vec::new();
    match e.get(ids.dns_answers_rdata) {
        Some(Value::List(l)) => data.extend(l.iter().filter(|v| v.as_str().is_some()).cloned()),
        Some(v @ Value::Str(_)) => data.push(v.clone()),
        _ => {}
    }
    if let Some(r) = e.text(ids.dns_rdata) {
        data.push(Value::Str(r));
    }
    let grouped = data.is_empty();
    for (name, v) in e.e.fields.iter() {
        if grouped && name.starts_with("dns.grouped.") {
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
    if let Some(url) = e.text(ids.http_url) {
        e.set_url(&url);
    }
    e.copy_text(ids.http_hostname, ecs::URL_DOMAIN);
    if let Some(p) = e.int(ids.http_port).and_then(|p| u16::try_from(p).ok()) {
        e.set(ecs::URL_PORT, p);
    }
    if let Some(m) = e.text(ids.http_method) {
        e.set(ecs::HTTP_REQUEST_METHOD, m);
    }
    e.copy_int(ids.http_status, ecs::HTTP_RESPONSE_STATUS_CODE);
    e.copy_text(ids.http_user_agent, ecs::USER_AGENT_ORIGINAL);
    e.copy_text(ids.http_refer, ecs::HTTP_REQUEST_REFERRER);
    if let Some(p) = e.text(ids.http_protocol)
        && let Some(v) = p.strip_prefix("HTTP/")
    {
        e.set(ecs::HTTP_VERSION, v);
    }
    e.copy_int(ids.http_length, ecs::HTTP_RESPONSE_BODY_BYTES);
    e.copy_text(ids.http_content_type, ids.http_response_mime_type);
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
    e.copy_text(ids.tls_sni, ecs::TLS_SERVER_NAME);
    if let Some(v) = e.text(ids.tls_version)
        && let Some((proto, version)) = tls_version(&v)
    {
        e.set(ecs::TLS_VERSION, version);
        e.set(ids.tls_version_protocol, proto);
    }
    e.copy_text(ids.tls_subject, ids.tls_server_subject);
    e.copy_text(ids.tls_issuerdn, ids.tls_server_issuer);
    if let Some(fp) = e.text(ids.tls_fingerprint) {
        let hex: String = fp
            .chars()
            .filter(|c| *c != ':')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        e.set(ids.tls_server_hash_sha1, hex);
    }
    e.copy_text(ids.tls_ja3_hash, ids.tls_client_ja3);
    e.copy_text(ids.tls_ja3s_hash, ids.tls_server_ja3s);
    e.copy_text(ids.tls_notbefore, ids.tls_server_not_before);
    e.copy_text(ids.tls_notafter, ids.tls_server_not_after);
}

fn fileinfo(e: &mut Doc<'_>, ids: &Ids) {
    if let Some(f) = e.text(ids.fileinfo_filename) {
        let name = norm::basename(&f);
        if !name.is_empty() {
            e.set(ecs::FILE_NAME, name);
        }
    }
    e.copy_int(ids.fileinfo_size, ecs::FILE_SIZE);
    e.copy_text(ids.fileinfo_md5, ecs::FILE_HASH_MD5);
    e.copy_text(ids.fileinfo_sha1, ecs::FILE_HASH_SHA1);
    e.copy_text(ids.fileinfo_sha256, ecs::FILE_HASH_SHA256);
}

#[cfg(test)]
mod tests {
    use kasbah_event::{Event, Value};
    use proptest::prelude::*;

    use super::tls_version;
    use crate::format::Format;
    use crate::json::testutil::{list, parse, s, tz, v};

    fn eve(json: &str) -> Event {
        parse(json, Format::Eve).one().clone()
    }

    const ALERT: &str = r#"{"timestamp":"2024-05-01T10:11:12.345678+0200","flow_id":1473468411254395,"in_iface":"eth0","event_type":"alert","src_ip":"10.0.0.5","src_port":49822,"dest_ip":"203.0.113.9","dest_port":80,"proto":"TCP","community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","tx_id":0,"alert":{"action":"allowed","gid":1,"signature_id":2013028,"rev":7,"signature":"ET POLICY curl User-Agent Outbound","category":"Attempted Information Leak","severity":2,"metadata":{"signature_severity":["Informational"]}},"http":{"hostname":"example.com","url":"/a/b.php?x=1","http_user_agent":"curl/8.5.0","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":612,"http_content_type":"text/html","http_refer":"http://ref.example/"},"app_proto":"http","flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":400,"bytes_toclient":1200,"start":"2024-05-01T10:11:12.000000+0200"},"host":"sensor-1"}"#;

    #[test]
    fn alert_maps_rule_endpoints_http_and_counters() {
        let e = eve(ALERT);
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T08:11:12.345678Z");
        assert_eq!(e.tz, tz(7200));
        assert_eq!(s(&e, "event.kind").as_deref(), Some("alert"));
        assert_eq!(s(&e, "event.module").as_deref(), Some("suricata"));
        assert_eq!(s(&e, "event.dataset").as_deref(), Some("suricata.alert"));
        assert_eq!(
            v(&e, "event.category"),
            Some(list(&["network", "intrusion_detection"]))
        );
        assert_eq!(s(&e, "event.type").as_deref(), Some("allowed"));
        assert_eq!(s(&e, "event.action").as_deref(), Some("allowed"));
        assert_eq!(s(&e, "event.outcome").as_deref(), Some("success"));
        assert_eq!(v(&e, "event.severity"), Some(Value::Int(2)));
        assert_eq!(s(&e, "rule.id").as_deref(), Some("2013028"));
        assert_eq!(s(&e, "rule.version").as_deref(), Some("7"));
        assert_eq!(
            s(&e, "rule.name").as_deref(),
            Some("ET POLICY curl User-Agent Outbound")
        );
        assert_eq!(
            s(&e, "message").as_deref(),
            Some("ET POLICY curl User-Agent Outbound")
        );
        assert_eq!(
            s(&e, "rule.category").as_deref(),
            Some("Attempted Information Leak")
        );
        assert_eq!(s(&e, "source.ip").as_deref(), Some("10.0.0.5"));
        assert_eq!(v(&e, "source.port"), Some(Value::Int(49822)));
        assert_eq!(s(&e, "destination.ip").as_deref(), Some("203.0.113.9"));
        assert_eq!(v(&e, "destination.port"), Some(Value::Int(80)));
        assert_eq!(s(&e, "network.transport").as_deref(), Some("tcp"));
        assert_eq!(s(&e, "network.protocol").as_deref(), Some("http"));
        assert_eq!(
            s(&e, "network.community_id").as_deref(),
            Some("1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
        );
        assert_eq!(v(&e, "source.bytes"), Some(Value::Int(400)));
        assert_eq!(v(&e, "destination.bytes"), Some(Value::Int(1200)));
        assert_eq!(v(&e, "network.bytes"), Some(Value::Int(1600)));
        assert_eq!(v(&e, "source.packets"), Some(Value::Int(4)));
        assert_eq!(v(&e, "network.packets"), Some(Value::Int(7)));
        assert_eq!(s(&e, "observer.name").as_deref(), Some("sensor-1"));
        assert_eq!(s(&e, "host.name").as_deref(), Some("sensor-1"));
        assert_eq!(s(&e, "observer.product").as_deref(), Some("Suricata"));
        assert_eq!(s(&e, "url.domain").as_deref(), Some("example.com"));
        assert_eq!(s(&e, "url.original").as_deref(), Some("/a/b.php?x=1"));
        assert_eq!(s(&e, "url.path").as_deref(), Some("/a/b.php"));
        assert_eq!(s(&e, "url.query").as_deref(), Some("x=1"));
        assert_eq!(s(&e, "http.request.method").as_deref(), Some("GET"));
        assert_eq!(v(&e, "http.response.status_code"), Some(Value::Int(200)));
        assert_eq!(s(&e, "user_agent.original").as_deref(), Some("curl/8.5.0"));
        assert_eq!(
            s(&e, "http.request.referrer").as_deref(),
            Some("http://ref.example/")
        );
        assert_eq!(s(&e, "http.version").as_deref(), Some("1.1"));
        assert_eq!(v(&e, "http.response.body.bytes"), Some(Value::Int(612)));
        assert_eq!(
            s(&e, "http.response.mime_type").as_deref(),
            Some("text/html")
        );
        // Originals stay under their EVE names.
        assert_eq!(
            s(&e, "alert.signature").as_deref(),
            Some("ET POLICY curl User-Agent Outbound")
        );
        assert_eq!(s(&e, "src_ip").as_deref(), Some("10.0.0.5"));
        assert_eq!(v(&e, "flow_id"), Some(Value::Int(1473468411254395)));
        assert_eq!(
            v(&e, "alert.metadata.signature_severity"),
            Some(list(&["Informational"]))
        );
        // Alerts have no flow end: no duration.
        assert_eq!(v(&e, "event.duration"), None);
    }

    #[test]
    fn blocked_and_other_alert_actions() {
        let e = eve(&ALERT.replace("\"allowed\"", "\"blocked\""));
        assert_eq!(s(&e, "event.action").as_deref(), Some("blocked"));
        assert_eq!(s(&e, "event.type").as_deref(), Some("denied"));
        assert_eq!(s(&e, "event.outcome").as_deref(), Some("failure"));
        let e = eve(&ALERT.replace("\"allowed\"", "\"pass\""));
        assert_eq!(s(&e, "event.action").as_deref(), Some("pass"));
        assert_eq!(s(&e, "event.outcome"), None);
    }

    #[test]
    fn flow_and_netflow_counters_and_duration() {
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:05.000000+0000","event_type":"flow","src_ip":"2001:db8::1","src_port":5353,"dest_ip":"2001:DB8::2","dest_port":53,"proto":"UDP","app_proto":"failed","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":80,"bytes_toclient":120,"start":"2024-05-01T10:00:00.000000+0000","end":"2024-05-01T10:00:02.500000+0000","age":2,"state":"established","reason":"timeout","alerted":false}}"#,
        );
        assert_eq!(s(&e, "event.kind").as_deref(), Some("event"));
        assert_eq!(v(&e, "event.category"), Some(Value::str("network")));
        assert_eq!(v(&e, "event.type"), Some(list(&["connection", "end"])));
        assert_eq!(v(&e, "event.duration"), Some(Value::Int(2_500_000_000)));
        assert_eq!(s(&e, "destination.ip").as_deref(), Some("2001:db8::2"));
        assert_eq!(s(&e, "network.transport").as_deref(), Some("udp"));
        // `failed` means the protocol could not be identified.
        assert_eq!(s(&e, "network.protocol"), None);
        assert_eq!(v(&e, "network.bytes"), Some(Value::Int(200)));
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:05.000000+0000","event_type":"netflow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"ICMP","netflow":{"pkts":3,"bytes":252,"start":"2024-05-01T10:00:00.000000+0000","end":"2024-05-01T10:00:01.000000+0000","age":1}}"#,
        );
        assert_eq!(v(&e, "source.bytes"), Some(Value::Int(252)));
        assert_eq!(v(&e, "source.packets"), Some(Value::Int(3)));
        assert_eq!(v(&e, "network.packets"), Some(Value::Int(3)));
        assert_eq!(v(&e, "destination.bytes"), None);
        assert_eq!(v(&e, "event.duration"), Some(Value::Int(1_000_000_000)));
        // Extreme or reversed spans give no duration (and no overflow).
        for (a, b) in [
            ("1677-09-22T00:12:44+0000", "2262-04-11T23:47:16+0000"),
            ("2024-05-01T10:00:01+0000", "2024-05-01T10:00:00+0000"),
        ] {
            let e = eve(&format!(
                r#"{{"timestamp":"2024-05-01T10:00:00+0000","event_type":"flow","flow":{{"start":"{a}","end":"{b}"}}}}"#
            ));
            assert_eq!(v(&e, "event.duration"), None, "{a} {b}");
        }
    }

    #[test]
    fn dns_v1_query_and_answer_records() {
        let q = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"10.0.0.53","proto":"UDP","dns":{"type":"query","id":16000,"rrname":"twitter.com","rrtype":"A","tx_id":0}}"#,
        );
        assert_eq!(s(&q, "dns.question.name").as_deref(), Some("twitter.com"));
        assert_eq!(s(&q, "dns.question.type").as_deref(), Some("A"));
        assert_eq!(s(&q, "dns.type").as_deref(), Some("query"));
        assert_eq!(v(&q, "dns.answers.data"), None);
        assert_eq!(v(&q, "event.type"), Some(Value::str("protocol")));
        let a = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","dns":{"type":"answer","id":16000,"rcode":"NOERROR","rrname":"twitter.com","rrtype":"A","ttl":8,"rdata":"199.16.156.6"}}"#,
        );
        assert_eq!(s(&a, "dns.response_code").as_deref(), Some("NOERROR"));
        assert_eq!(v(&a, "dns.answers.data"), Some(list(&["199.16.156.6"])));
    }

    #[test]
    fn dns_v2_detailed_and_grouped_answers() {
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"www.example.com","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.example.com","rrtype":"CNAME","ttl":300,"rdata":"example.com"},{"rrname":"example.com","rrtype":"A","ttl":300,"rdata":"93.184.216.34"}]}}"#,
        );
        assert_eq!(
            s(&e, "dns.question.name").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            v(&e, "dns.answers.data"),
            Some(list(&["example.com", "93.184.216.34"]))
        );
        assert_eq!(v(&e, "dns.answers.rrtype"), Some(list(&["CNAME", "A"])));
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"rrname":"www.example.com","rrtype":"A","rcode":"NOERROR","grouped":{"CNAME":["example.com"],"A":["93.184.216.34","93.184.216.35"]}}}"#,
        );
        assert_eq!(
            v(&e, "dns.answers.data"),
            Some(list(&["example.com", "93.184.216.34", "93.184.216.35"]))
        );
        // Both layouts in one record: the answers are not counted twice.
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","rrname":"a.example","answers":[{"rdata":"192.0.2.1"}],"grouped":{"A":["192.0.2.1"]}}}"#,
        );
        assert_eq!(v(&e, "dns.answers.data"), Some(list(&["192.0.2.1"])));
    }

    #[test]
    fn dns_metadata_of_alerts() {
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"alert","alert":{"signature_id":1,"signature":"x"},"dns":{"query":[{"type":"query","id":1,"rrname":"evil.example","rrtype":"TXT"}]}}"#,
        );
        assert_eq!(s(&e, "dns.question.name").as_deref(), Some("evil.example"));
        assert_eq!(s(&e, "dns.question.type").as_deref(), Some("TXT"));
    }

    #[test]
    fn dns_v3_request_and_response() {
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","dns":{"version":3,"type":"response","id":7,"rcode":"NXDOMAIN","queries":[{"rrname":"nope.example","rrtype":"AAAA"}],"answers":[]}}"#,
        );
        assert_eq!(s(&e, "dns.question.name").as_deref(), Some("nope.example"));
        assert_eq!(s(&e, "dns.question.type").as_deref(), Some("AAAA"));
        assert_eq!(s(&e, "dns.response_code").as_deref(), Some("NXDOMAIN"));
        // v3 names its record types request / response; ECS says query / answer.
        assert_eq!(s(&e, "dns.type").as_deref(), Some("answer"));
        assert_eq!(v(&e, "dns.answers.data"), None);
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"dns","dns":{"version":3,"type":"request","id":7,"queries":[{"rrname":"a.example","rrtype":"A"}]}}"#,
        );
        assert_eq!(s(&e, "dns.type").as_deref(), Some("query"));
    }

    #[test]
    fn tls_fileinfo_anomaly_drop_stats() {
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"tls","app_proto":"tls","tls":{"subject":"CN=example.com","issuerdn":"CN=R3, O=Let's Encrypt, C=US","serial":"04:2A","fingerprint":"ab:cd:ef:01","sni":"example.com","version":"TLS 1.3","notbefore":"2024-01-01T00:00:00","notafter":"2024-04-01T00:00:00","ja3":{"hash":"e7d705a3286e19ea42f587b344ee6865","string":"771,4865"},"ja3s":{"hash":"f4febc55ea12b31ae17cfb7e614afda8"}}}"#,
        );
        assert_eq!(
            s(&e, "tls.client.server_name").as_deref(),
            Some("example.com")
        );
        assert_eq!(s(&e, "tls.version").as_deref(), Some("1.3"));
        assert_eq!(s(&e, "tls.version_protocol").as_deref(), Some("tls"));
        assert_eq!(s(&e, "tls.server.hash.sha1").as_deref(), Some("ABCDEF01"));
        assert_eq!(
            s(&e, "tls.server.issuer").as_deref(),
            Some("CN=R3, O=Let's Encrypt, C=US")
        );
        assert_eq!(
            s(&e, "tls.client.ja3").as_deref(),
            Some("e7d705a3286e19ea42f587b344ee6865")
        );
        assert_eq!(
            s(&e, "tls.server.ja3s").as_deref(),
            Some("f4febc55ea12b31ae17cfb7e614afda8")
        );
        assert_eq!(
            s(&e, "tls.server.not_after").as_deref(),
            Some("2024-04-01T00:00:00")
        );
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"fileinfo","fileinfo":{"filename":"/downloads/setup.exe","magic":"PE32 executable","state":"CLOSED","md5":"d41d8cd98f00b204e9800998ecf8427e","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","stored":false,"size":73802,"tx_id":0},"http":{"hostname":"dl.example","url":"/downloads/setup.exe"}}"#,
        );
        assert_eq!(v(&e, "event.category"), Some(Value::str("file")));
        assert_eq!(s(&e, "file.name").as_deref(), Some("setup.exe"));
        assert_eq!(v(&e, "file.size"), Some(Value::Int(73802)));
        assert_eq!(
            s(&e, "file.hash.md5").as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(s(&e, "url.domain").as_deref(), Some("dl.example"));
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"anomaly","anomaly":{"type":"decode","event":"decoder.ipv4.trunc_pkt","layer":"proto_detect"}}"#,
        );
        assert_eq!(
            s(&e, "event.action").as_deref(),
            Some("decoder.ipv4.trunc_pkt")
        );
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"drop","proto":"TCP","drop":{"len":60,"reason":"rules"}}"#,
        );
        assert_eq!(v(&e, "event.type"), Some(list(&["connection", "denied"])));
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"stats","stats":{"uptime":120,"decoder":{"pkts":1000}}}"#,
        );
        assert_eq!(s(&e, "event.kind").as_deref(), Some("metric"));
        assert_eq!(v(&e, "event.category"), None);
        assert_eq!(v(&e, "stats.decoder.pkts"), Some(Value::Int(1000)));
        let e =
            eve(r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"ssh","app_proto":"ssh"}"#);
        assert_eq!(v(&e, "event.type"), Some(Value::str("protocol")));
        assert_eq!(s(&e, "network.protocol").as_deref(), Some("ssh"));
    }

    #[test]
    fn invalid_endpoint_values_are_not_mapped() {
        let e = eve(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":"flow","src_ip":"not-an-ip","src_port":70000,"dest_port":-1,"dest_ip":"10.0.0.300","proto":""}"#,
        );
        for f in [
            "source.ip",
            "source.port",
            "destination.port",
            "destination.ip",
            "network.transport",
        ] {
            assert_eq!(v(&e, f), None, "{f}");
        }
        assert_eq!(s(&e, "src_ip").as_deref(), Some("not-an-ip"));
        // An event_type that is not text is not EVE.
        let p = parse(
            r#"{"timestamp":"2024-05-01T10:00:00+0000","event_type":5}"#,
            Format::Eve,
        );
        assert_eq!(p.bad_codes(), vec![(1, "KP005")]);
    }

    #[test]
    fn tls_version_forms() {
        let t = |s: &str| tls_version(s).map(|(p, v)| format!("{p} {v}"));
        assert_eq!(t("TLS 1.2").as_deref(), Some("tls 1.2"));
        assert_eq!(t("TLSv1.3").as_deref(), Some("tls 1.3"));
        assert_eq!(t("TLSv12").as_deref(), Some("tls 1.2"));
        assert_eq!(t("SSLv3").as_deref(), Some("ssl 3.0"));
        assert_eq!(t("SSLv2").as_deref(), Some("ssl 2.0"));
        assert_eq!(t("UNDETERMINED"), None);
        assert_eq!(t("TLS"), None);
        assert_eq!(t("TLSv123"), None);
        assert_eq!(t("TLS x"), None);
        assert_eq!(t("DTLSv1.2"), None);
    }

    proptest! {
        #[test]
        fn random_eve_documents_map_their_endpoints(
            src in any::<std::net::Ipv4Addr>(), dst in any::<std::net::Ipv6Addr>(),
            sp in any::<u16>(), dp in any::<u16>(), bytes in 0i64..1<<40,
            kind in prop::sample::select(vec!["alert", "flow", "dns", "http", "tls", "fileinfo", "stats", "smb"]),
            proto in prop::sample::select(vec!["TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP"]),
        ) {
            let json = format!(
                r#"{{"timestamp":"2024-05-01T10:00:00.5+0000","event_type":"{kind}","src_ip":"{src}","src_port":{sp},"dest_ip":"{dst}","dest_port":{dp},"proto":"{proto}","flow":{{"bytes_toserver":{bytes},"bytes_toclient":1}}}}"#
            );
            let e = eve(&json);
            prop_assert_eq!(s(&e, "source.ip"), Some(src.to_string()));
            prop_assert_eq!(s(&e, "destination.ip"), Some(dst.to_string()));
            prop_assert_eq!(v(&e, "source.port"), Some(Value::Int(i64::from(sp))));
            prop_assert_eq!(v(&e, "destination.port"), Some(Value::Int(i64::from(dp))));
            prop_assert_eq!(s(&e, "network.transport"), Some(proto.to_ascii_lowercase()));
            prop_assert_eq!(v(&e, "network.bytes"), Some(Value::Int(bytes + 1)));
            prop_assert_eq!(s(&e, "event.dataset"), Some(format!("suricata.{kind}")));
            prop_assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.500Z");
        }
    }
}
