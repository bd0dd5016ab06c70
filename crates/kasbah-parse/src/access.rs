//! Apache and Nginx access logs.
//!
//! Accepted shapes, told apart by their fields, not configured:
//! * common: `client ident user [time] "request" status bytes`;
//! * combined (also Nginx's default `main`): common + `"referrer" "user-agent"`;
//! * vhost_combined: `vhost[:port]` before the client;
//! * any of these followed by extra fields (Nginx `"$http_x_forwarded_for"`, request times,
//!   `key=value` pairs), kept in order.
//!
//! Quoted fields use Apache's escapes (`\"`, `\\`, `\xhh`); a `"` closes a field only when a
//! space or the end of line follows, so a stray quote inside a user agent does not break the
//! line. Request lines that are not `METHOD target [HTTP/x]` (TLS handshakes sent to a plain
//! port, `-`, empty, binary junk) still give an event, without `url.*`, the raw request kept in
//! `request`.
//!
//! Mapping: client -> `source.address` + `source.ip`/`source.domain`, user -> `user.name`,
//! request -> `http.request.method`, `url.*`, `http.version`; status -> `http.response.status_code`
//! and `event.outcome` (`failure` from 400 up, as Elastic's web modules do); bytes ->
//! `http.response.body.bytes` (`-`, Apache's "no body", is 0). The time keeps its written offset.
//! Every field is also kept under the name listed in `docs/formats/access.md`.

use std::borrow::Cow;
use std::sync::OnceLock;

use kasbah_event::{Event, FieldId, Timestamp, Value, ecs};

use crate::driver::{Cx, LineParser};
use crate::error::{ErrorCode, ParseError};
use crate::norm;

/// True if `line` looks like an access log line: 3 or 4 tokens, then `[dd/Mon/yyyy:` and a
/// quoted request after the time.
pub(crate) fn sniff(line: &str) -> bool {
    let Some(open) = line.find(" [") else {
        return false;
    };
    let pre = line.get(..open).unwrap_or("");
    let n = pre.split(' ').filter(|t| !t.is_empty()).take(5).count();
    let rest = line.get(open + 2..).unwrap_or("").as_bytes();
    let digit = |i: usize| rest.get(i).is_some_and(u8::is_ascii_digit);
    (n == 3 || n == 4)
        && digit(0)
        && digit(1)
        && rest.get(2) == Some(&b'/')
        && rest.get(6) == Some(&b'/')
        && (7..11).all(digit)
        && rest.get(11) == Some(&b':')
        && memchr::memmem::find(rest, b"] \"").is_some()
}

struct Ids {
    vhost: FieldId,
    client: FieldId,
    ident: FieldId,
    auth: FieldId,
    request: FieldId,
    status: FieldId,
    bytes: FieldId,
    referrer: FieldId,
    agent: FieldId,
    extra: FieldId,
    forwarded_ip: FieldId,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| Ids {
        vhost: FieldId::intern("vhost"),
        client: FieldId::intern("client"),
        ident: FieldId::intern("ident"),
        auth: FieldId::intern("auth"),
        request: FieldId::intern("request"),
        status: FieldId::intern("status"),
        bytes: FieldId::intern("bytes"),
        referrer: FieldId::intern("referrer"),
        agent: FieldId::intern("agent"),
        extra: FieldId::intern("extra"),
        forwarded_ip: FieldId::intern("network.forwarded_ip"),
    })
}

/// A cursor over the part of the line after the time.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

/// One field after the time: bare or quoted (and then maybe escaped).
enum Tok<'a> {
    Bare(&'a str),
    Quoted(Cow<'a, str>),
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        while self.s.as_bytes().get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Result<Option<Tok<'a>>, ParseError> {
        self.skip_spaces();
        let b = self.s.as_bytes();
        match b.get(self.i) {
            None => Ok(None),
            Some(b'"') => self.quoted().map(|q| Some(Tok::Quoted(q))),
            Some(_) => {
                let start = self.i;
                let end = memchr::memchr(b' ', b.get(start..).unwrap_or(&[]))
                    .map_or(b.len(), |n| start + n);
                self.i = end;
                Ok(Some(Tok::Bare(self.s.get(start..end).unwrap_or(""))))
            }
        }
    }

    /// A quoted field starting at `"`: it ends at a `"` that is not escaped and is followed by a
    /// space or the end of the line.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        let b = self.s.as_bytes();
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        while let Some(&c) = b.get(j) {
            match c {
                b'\\' => {
                    escaped = true;
                    j += 2;
                }
                b'"' if matches!(b.get(j + 1), None | Some(b' ')) => {
                    self.i = j + 1;
                    let raw = self.s.get(start..j).unwrap_or("");
                    return Ok(if escaped {
                        Cow::Owned(unescape(raw))
                    } else {
                        Cow::Borrowed(raw)
                    });
                }
                _ => j += 1,
            }
        }
        Err(ParseError::syntax(
            "unterminated quoted field (expected a closing `\"`)",
        ))
    }
}

/// Undoes Apache's escapes: `\"`, `\\`, and `\xhh` of printable ASCII. Other escapes (control
/// characters, bytes of a TLS handshake) stay as written, so they remain visible and valid UTF-8.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(rest.get(..at).unwrap_or(""));
        let tail = rest.get(at..).unwrap_or("");
        let b = tail.as_bytes();
        let (text, used) = match b.get(1) {
            Some(b'"') => (Some('"'), 2),
            Some(b'\\') => (Some('\\'), 2),
            Some(b'x') => {
                let code = tail
                    .get(2..4)
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .filter(|c| (0x20..0x7f).contains(c));
                match code {
                    Some(c) => (Some(char::from(c)), 4),
                    None => (None, 2),
                }
            }
            _ => (None, 1),
        };
        match text {
            Some(c) => out.push(c),
            None => out.push_str(tail.get(..used).unwrap_or(tail)),
        }
        rest = tail.get(used..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A request line split into its parts; `None` for anything that is not `METHOD target [HTTP/x]`.
fn split_request(r: &str) -> Option<(&str, &str, Option<&str>)> {
    let (method, rest) = r.split_once(' ')?;
    let method_ok = !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|c| c.is_ascii_alphabetic() || c == b'-' || c == b'_');
    if !method_ok {
        return None;
    }
    let (target, version) = match rest.rsplit_once(' ') {
        Some((t, v)) if v.starts_with("HTTP/") => (t.trim(), v.get(5..)),
        _ => (rest.trim(), None),
    };
    (!target.is_empty()).then_some((method, target, version))
}

/// Parses access log lines.
#[derive(Default)]
pub struct AccessParser;

impl LineParser for AccessParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let Some(open) = line.find(" [") else {
            return Err(ParseError::wrong_format("Apache/Nginx access log"));
        };
        let mut pre = [""; 4];
        let mut n = 0;
        for t in line
            .get(..open)
            .unwrap_or("")
            .split(' ')
            .filter(|t| !t.is_empty())
        {
            match pre.get_mut(n) {
                Some(slot) => *slot = t,
                None => {
                    n += 1;
                    break;
                }
            }
            n += 1;
        }
        let (vhost, client, ident, auth) = match (n, pre) {
            (3, [c, i, a, _]) => (None, c, i, a),
            (4, [v, c, i, a]) => (Some(v), c, i, a),
            _ => {
                return Err(ParseError::new(
                    ErrorCode::WrongFormat,
                    format!(
                        "not an access log line: expected `client ident user [time]` before `[`, found {n} fields"
                    ),
                ));
            }
        };
        let after = line.get(open + 2..).unwrap_or("");
        let Some(close) = after.find(']') else {
            return Err(ParseError::syntax("expected `]` closing the time"));
        };
        let time_text = after.get(..close).unwrap_or("");
        let Some((ts, tz)) = crate::time::clf(time_text) else {
            return Err(ParseError::new(
                ErrorCode::Timestamp,
                format!("cannot read the time {time_text:?} (expected dd/Mon/yyyy:HH:mm:ss +zzzz)"),
            ));
        };
        // CLF always writes the offset; without one the configured zone applies.
        let has_zone = time_text
            .get(20..)
            .is_some_and(|r| r.contains(['+', '-', 'Z']));

        let mut cur = Cursor {
            s: after.get(close + 1..).unwrap_or(""),
            i: 0,
        };
        let request = match cur.next()? {
            Some(Tok::Quoted(r)) => r,
            _ => {
                return Err(ParseError::syntax(
                    "expected a quoted request line after the time",
                ));
            }
        };
        let status = match cur.next()? {
            Some(Tok::Bare(s))
                if s == "-"
                    || (!s.is_empty() && s.len() <= 3 && s.bytes().all(|c| c.is_ascii_digit())) =>
            {
                s
            }
            _ => {
                return Err(ParseError::syntax(
                    "expected a status code after the request",
                ));
            }
        };
        let bytes = match cur.next()? {
            Some(Tok::Bare(b)) if b == "-" || b.bytes().all(|c| c.is_ascii_digit()) => b,
            _ => return Err(ParseError::syntax("expected a byte count after the status")),
        };
        let mut referrer = None;
        let mut agent = None;
        let mut extras: Vec<Tok<'_>> = Vec::new();
        while let Some(tok) = cur.next()? {
            match tok {
                Tok::Quoted(q) if extras.is_empty() && referrer.is_none() => referrer = Some(q),
                Tok::Quoted(q) if extras.is_empty() && agent.is_none() => agent = Some(q),
                t => extras.push(t),
            }
        }

        let ids = ids();
        let mut e = cx.new_event(record, Some(line));
        e.timestamp = ts;
        if has_zone {
            e.tz = Some(tz);
        } else if let Some(d) = cx.opts.default_tz {
            e.timestamp = ts
                .as_nanos()
                .checked_sub(i64::from(d.secs()) * 1_000_000_000)
                .map(Timestamp::from_nanos)
                .ok_or_else(|| ParseError::new(ErrorCode::Timestamp, "time out of range"))?;
        }
        e.set(ecs::EVENT_KIND, "event");
        e.set(ecs::EVENT_MODULE, "access");
        e.set(ecs::EVENT_CATEGORY, "web");
        e.set(ecs::EVENT_TYPE, "access");

        if let Some(v) = vhost {
            e.set(ids.vhost, v);
            let (host, port) = match v.rsplit_once(':') {
                Some((h, p))
                    if !h.is_empty()
                        && p.bytes().all(|c| c.is_ascii_digit())
                        && (!h.contains(':') || h.starts_with('[')) =>
                {
                    (h, Some(p))
                }
                _ => (v, None),
            };
            if !norm::set_ip(&mut e, ecs::DESTINATION_IP, host) {
                norm::set_str(&mut e, ecs::DESTINATION_DOMAIN, host);
            }
            if let Some(p) = port {
                norm::set_port(&mut e, ecs::DESTINATION_PORT, p);
            }
        }
        e.set(ids.client, client);
        if client != "-" {
            e.set(ecs::SOURCE_ADDRESS, client);
            if !norm::set_ip(&mut e, ecs::SOURCE_IP, client) {
                e.set(ecs::SOURCE_DOMAIN, client);
            }
        }
        e.set(ids.ident, ident);
        e.set(ids.auth, auth);
        norm::set_str(&mut e, ecs::USER_NAME, auth);

        e.set(ids.request, &*request);
        if let Some((method, target, version)) = split_request(&request) {
            e.set(ecs::HTTP_REQUEST_METHOD, method);
            norm::set_url(&mut e, target);
            if let Some(v) = version.filter(|v| !v.is_empty()) {
                e.set(ecs::HTTP_VERSION, v);
            }
        }

        e.set(ids.status, Value::infer(status));
        if let Ok(code) = status.parse::<u16>() {
            e.set(ecs::HTTP_RESPONSE_STATUS_CODE, code);
            e.set(
                ecs::EVENT_OUTCOME,
                if code >= 400 { "failure" } else { "success" },
            );
        }
        e.set(ids.bytes, Value::infer(bytes));
        if bytes == "-" {
            e.set(ecs::HTTP_RESPONSE_BODY_BYTES, 0i64);
        } else {
            norm::set_int(&mut e, ecs::HTTP_RESPONSE_BODY_BYTES, bytes);
        }
        if let Some(r) = referrer {
            e.set(ids.referrer, &*r);
            norm::set_str(&mut e, ecs::HTTP_REQUEST_REFERRER, &r);
        }
        if let Some(a) = agent {
            e.set(ids.agent, &*a);
            norm::set_str(&mut e, ecs::USER_AGENT_ORIGINAL, &a);
        }
        if !extras.is_empty() {
            set_extras(&mut e, ids, extras);
        }
        cx.emit(e);
        Ok(())
    }
}

/// Trailing fields: `key=value` ones become fields of their own (when the name is free), the
/// others are kept in order in `extra`. A first quoted list of IPs is `X-Forwarded-For` (Nginx's
/// `main` format); its first address is the original client (`network.forwarded_ip`).
fn set_extras(e: &mut Event, ids: &Ids, extras: Vec<Tok<'_>>) {
    let mut list = Vec::new();
    for (n, tok) in extras.into_iter().enumerate() {
        match tok {
            Tok::Bare(t) => {
                if let Some((k, v)) = t.split_once('=') {
                    let key_ok = !k.is_empty()
                        && k.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.');
                    if key_ok && e.get_name(k).is_none() {
                        let v = v.trim_matches('"');
                        e.fields.set_name(k, Value::infer(v));
                        continue;
                    }
                }
                list.push(Value::infer(t));
            }
            Tok::Quoted(q) => {
                if n == 0 {
                    let first = q.split(',').next().unwrap_or("").trim();
                    let all_ips = q
                        .split(',')
                        .all(|p| p.trim().parse::<std::net::IpAddr>().is_ok());
                    if all_ips {
                        norm::set_ip(e, ids.forwarded_ip, first);
                    }
                }
                list.push(Value::str(&q));
            }
        }
    }
    if !list.is_empty() {
        e.set(ids.extra, Value::List(list));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kasbah_event::TzOffset;
    use proptest::prelude::*;

    use super::*;
    use crate::{Format, Item, Origin, ParseOptions, parse_bytes};

    use crate::testutil::{self, i, s};

    fn run_with(input: &str, opts: &ParseOptions) -> Vec<Item> {
        testutil::items(input, Format::Access, opts)
    }

    fn one(input: &str) -> Event {
        testutil::one(input, Format::Access, &ParseOptions::default())
    }

    fn bad(input: &str) -> ErrorCode {
        testutil::first_bad(input, Format::Access, &ParseOptions::default())
    }

    #[test]
    fn combined() {
        let e = one(
            r#"203.0.113.45 - - [14/Mar/2024:09:51:30 +0100] "GET /products.php?id=1%27%20UNION HTTP/1.1" 500 612 "https://shop.example.org/" "sqlmap/1.7.2#stable (https://sqlmap.org)""#,
        );
        assert_eq!(s(&e, "client"), Some("203.0.113.45"));
        assert_eq!(s(&e, "source.address"), Some("203.0.113.45"));
        assert_eq!(s(&e, "source.ip"), Some("203.0.113.45"));
        assert_eq!(s(&e, "ident"), Some("-"));
        assert_eq!(s(&e, "auth"), Some("-"));
        assert!(e.get(ecs::USER_NAME).is_none());
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T08:51:30Z");
        assert_eq!(e.tz, TzOffset::from_secs(3600));
        assert_eq!(s(&e, "http.request.method"), Some("GET"));
        assert_eq!(s(&e, "url.original"), Some("/products.php?id=1%27%20UNION"));
        assert_eq!(s(&e, "url.path"), Some("/products.php"));
        assert_eq!(s(&e, "url.query"), Some("id=1%27%20UNION"));
        assert_eq!(s(&e, "http.version"), Some("1.1"));
        assert_eq!(i(&e, "http.response.status_code"), Some(500));
        assert_eq!(i(&e, "status"), Some(500));
        assert_eq!(s(&e, "event.outcome"), Some("failure"));
        assert_eq!(i(&e, "http.response.body.bytes"), Some(612));
        assert_eq!(
            s(&e, "http.request.referrer"),
            Some("https://shop.example.org/")
        );
        assert_eq!(
            s(&e, "user_agent.original"),
            Some("sqlmap/1.7.2#stable (https://sqlmap.org)")
        );
        assert_eq!(s(&e, "event.category"), Some("web"));
        assert_eq!(s(&e, "event.type"), Some("access"));
        assert_eq!(s(&e, "event.kind"), Some("event"));
        assert_eq!(s(&e, "event.module"), Some("access"));
    }

    #[test]
    fn common_with_user_ipv6_and_hostnames() {
        let e =
            one(r#"2001:db8::7 - alice [14/Mar/2024:09:55:00 -0500] "GET /admin/ HTTP/2.0" 200 -"#);
        assert_eq!(s(&e, "source.ip"), Some("2001:db8::7"));
        assert_eq!(s(&e, "user.name"), Some("alice"));
        assert_eq!(s(&e, "http.version"), Some("2.0"));
        assert_eq!(s(&e, "bytes"), Some("-"));
        assert_eq!(i(&e, "http.response.body.bytes"), Some(0));
        assert_eq!(s(&e, "event.outcome"), Some("success"));
        assert!(e.get_name("referrer").is_none());
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T14:55:00Z");
        let e = one(
            r#"crawl-66-249-66-1.googlebot.com - - [14/Mar/2024:09:55:00 +0000] "HEAD / HTTP/1.0" 304 0"#,
        );
        assert_eq!(
            s(&e, "source.domain"),
            Some("crawl-66-249-66-1.googlebot.com")
        );
        assert!(e.get(ecs::SOURCE_IP).is_none());
        assert_eq!(s(&e, "event.outcome"), Some("success"));
        let e = one(r#"::ffff:192.0.2.1 - - [14/Mar/2024:09:55:00 +0000] "GET / HTTP/1.1" 404 9"#);
        assert_eq!(s(&e, "source.ip"), Some("::ffff:192.0.2.1"));
    }

    #[test]
    fn vhost_combined() {
        let e = one(
            r#"shop.example.org:443 198.51.100.23 - - [14/Mar/2024:09:41:12 +0000] "GET / HTTP/1.1" 200 5120 "-" "Mozilla/5.0""#,
        );
        assert_eq!(s(&e, "vhost"), Some("shop.example.org:443"));
        assert_eq!(s(&e, "destination.domain"), Some("shop.example.org"));
        assert_eq!(i(&e, "destination.port"), Some(443));
        assert_eq!(s(&e, "source.ip"), Some("198.51.100.23"));
        assert_eq!(s(&e, "referrer"), Some("-"));
        assert!(e.get(ecs::HTTP_REQUEST_REFERRER).is_none());
        let e = one(
            r#"[2001:db8::1]:8443 192.0.2.9 - - [14/Mar/2024:09:41:12 +0000] "GET / HTTP/1.1" 200 1"#,
        );
        assert_eq!(s(&e, "destination.ip"), Some("2001:db8::1"));
        assert_eq!(i(&e, "destination.port"), Some(8443));
        let e = one(r#"www 192.0.2.9 - - [14/Mar/2024:09:41:12 +0000] "GET / HTTP/1.1" 200 1"#);
        assert_eq!(s(&e, "destination.domain"), Some("www"));
        assert!(e.get(ecs::DESTINATION_PORT).is_none());
    }

    #[test]
    fn garbled_requests_keep_the_event() {
        for (req, expect) in [
            (
                r#""\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03""#,
                r"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            ),
            (r#""-""#, "-"),
            (r#""""#, ""),
            (r#""GET""#, "GET"),
            (r#""\x22GET / HTTP/1.1""#, "\"GET / HTTP/1.1"),
        ] {
            let e = one(&format!(
                "192.0.2.77 - - [14/Mar/2024:09:57:12 +0000] {req} 400 157 \"-\" \"-\""
            ));
            assert_eq!(s(&e, "request"), Some(expect), "{req}");
            assert!(e.get(ecs::URL_ORIGINAL).is_none(), "{req}");
            assert!(e.get(ecs::HTTP_REQUEST_METHOD).is_none(), "{req}");
            assert_eq!(i(&e, "http.response.status_code"), Some(400));
        }
        // HTTP/0.9 style and proxy requests.
        let e = one(r#"192.0.2.1 - - [14/Mar/2024:09:57:12 +0000] "GET /index.html" 200 10"#);
        assert_eq!(s(&e, "url.path"), Some("/index.html"));
        assert!(e.get(ecs::HTTP_VERSION).is_none());
        let e = one(
            r#"192.0.2.1 - - [14/Mar/2024:09:57:12 +0000] "CONNECT example.com:443 HTTP/1.1" 405 10"#,
        );
        assert_eq!(s(&e, "http.request.method"), Some("CONNECT"));
        let e = one(
            r#"192.0.2.1 - - [14/Mar/2024:09:57:12 +0000] "GET http://example.com/x?y HTTP/1.1" 200 10"#,
        );
        assert_eq!(s(&e, "url.domain"), Some("example.com"));
    }

    #[test]
    fn escaped_quotes_and_extras() {
        let e = one(
            r#"192.0.2.1 - bob [14/Mar/2024:09:57:12 +0000] "GET /q?a=\"b\" HTTP/1.1" 200 10 "http://x/\"r\"" "Agent \"quoted\" \\ x\x41" "203.0.113.9, 10.0.0.1" 0.123 rt=0.005 uct="0.001" status=1"#,
        );
        assert_eq!(s(&e, "url.query"), Some("a=\"b\""));
        assert_eq!(s(&e, "http.request.referrer"), Some("http://x/\"r\""));
        assert_eq!(s(&e, "user_agent.original"), Some("Agent \"quoted\" \\ xA"));
        assert_eq!(s(&e, "network.forwarded_ip"), Some("203.0.113.9"));
        assert_eq!(s(&e, "rt"), Some("0.005"));
        assert_eq!(s(&e, "uct"), Some("0.001"));
        // `status=1` cannot replace the status field: it stays in `extra`.
        assert_eq!(i(&e, "status"), Some(200));
        assert_eq!(
            e.get_name("extra"),
            Some(&Value::List(vec![
                Value::str("203.0.113.9, 10.0.0.1"),
                Value::str("0.123"),
                Value::str("status=1"),
            ]))
        );
        // A raw quote inside a quoted field does not end it.
        let e = one(
            r#"192.0.2.1 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla "evil"agent""#,
        );
        assert_eq!(s(&e, "user_agent.original"), Some("Mozilla \"evil\"agent"));
        // Apache common with a trailing %D.
        let e = one(r#"192.0.2.1 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 10 5230"#);
        assert_eq!(
            e.get_name("extra"),
            Some(&Value::List(vec![Value::Int(5230)]))
        );
        assert!(e.get_name("referrer").is_none());
    }

    #[test]
    fn zone_less_time_uses_default_tz() {
        let opts = ParseOptions {
            default_tz: TzOffset::from_secs(3600),
            ..ParseOptions::default()
        };
        let items = run_with(
            r#"192.0.2.1 - - [14/Mar/2024:09:57:12] "GET / HTTP/1.1" 200 10"#,
            &opts,
        );
        let Some(Item::Event(e)) = items.first() else {
            panic!("expected an event");
        };
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T08:57:12Z");
        assert_eq!(e.tz, None);
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(bad("just some text"), ErrorCode::WrongFormat);
        assert_eq!(bad("a b [x"), ErrorCode::WrongFormat);
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Foo/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 1"#),
            ErrorCode::Timestamp
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] GET / 200 1"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1 200 1"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" OK 1"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 x1"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 1 "unterminated"#),
            ErrorCode::Syntax
        );
        assert_eq!(
            bad(r#"a b c d e [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 1"#),
            ErrorCode::WrongFormat
        );
    }

    #[test]
    fn sniffing() {
        assert!(sniff(
            r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 1"#
        ));
        assert!(sniff(
            r#"v:80 1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] "GET / HTTP/1.1" 200 1"#
        ));
        assert!(!sniff(
            "Mar 14 09:57:12 host sshd[42]: Accepted password for bob"
        ));
        assert!(!sniff(r#"1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] GET"#));
        assert!(!sniff(
            "[Thu Mar 14 09:57:12 2024] [error] [client 1.2.3.4] File does not exist"
        ));
        assert!(!sniff(""));
    }

    fn escape(s: &str) -> String {
        s.replace('\\', "\\\\").replace('"', "\\\"")
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = run_with(&s, &ParseOptions::default());
            let _ = run_with(&format!("1.2.3.4 - - [14/Mar/2024:09:57:12 +0000] {s}"), &ParseOptions::default());
            let _ = unescape(&s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let origin = Origin::File(Arc::from("t"));
            parse_bytes(&b, Some(Format::Access), &origin, &ParseOptions::default(), &mut |_| {});
        }

        #[test]
        fn combined_lines_round_trip(
            client in prop_oneof![
                (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
                any::<u128>().prop_map(|n| std::net::Ipv6Addr::from(n).to_string()),
                "[a-z][a-z0-9-]{0,10}\\.example\\.org",
            ],
            user in "[a-z]{1,8}",
            secs in 0i64..4_000_000_000,
            off_min in -720i32..=840,
            method in "[A-Z]{3,7}",
            path in "/[a-zA-Z0-9/._%-]{0,30}",
            query in proptest::option::of("[a-z0-9=&%]{1,20}"),
            status in 100u16..600,
            bytes in any::<u32>(),
            referrer in "[ -~]{0,30}",
            agent in "[ -~]{0,40}",
        ) {
            let off = TzOffset::from_secs(off_min * 60).expect("valid offset");
            let ts = Timestamp::from_secs_nanos(secs, 0).expect("in range");
            let local = ts.to_utc() + chrono::Duration::seconds(i64::from(off.secs()));
            let sign = if off.secs() < 0 { '-' } else { '+' };
            let a = off.secs().unsigned_abs();
            let time = format!("{} {sign}{:02}{:02}", local.format("%d/%b/%Y:%H:%M:%S"), a / 3600, a % 3600 / 60);
            let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
            let line = format!(
                "{client} - {user} [{time}] \"{method} {target} HTTP/1.1\" {status} {bytes} \"{}\" \"{}\"",
                escape(&referrer), escape(&agent)
            );
            let e = one(&line);
            prop_assert_eq!(e.timestamp, ts);
            prop_assert_eq!(e.tz, Some(off));
            prop_assert_eq!(s(&e, "client"), Some(client.as_str()));
            prop_assert_eq!(s(&e, "user.name"), Some(user.as_str()));
            prop_assert_eq!(s(&e, "http.request.method"), Some(method.as_str()));
            prop_assert_eq!(s(&e, "url.original"), Some(target.as_str()));
            prop_assert_eq!(s(&e, "url.path"), Some(path.as_str()));
            prop_assert_eq!(s(&e, "url.query"), query.as_deref());
            prop_assert_eq!(i(&e, "http.response.status_code"), Some(i64::from(status)));
            prop_assert_eq!(i(&e, "http.response.body.bytes"), Some(i64::from(bytes)));
            prop_assert_eq!(s(&e, "referrer"), Some(referrer.as_str()));
            prop_assert_eq!(s(&e, "agent"), Some(agent.as_str()));
        }
    }
}
