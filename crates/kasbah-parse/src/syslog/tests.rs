use std::sync::Arc;

use super::*;
use crate::driver::{Item, Origin};
use crate::error::BadRecord;
use crate::format::Format;

/// The receive time every test uses: 2024-06-15T12:00:00Z.
pub(crate) fn opts() -> ParseOptions {
    ParseOptions {
        received: Timestamp::from_secs_nanos(1_718_452_800, 0).expect("valid"),
        keep_raw: false,
        ..ParseOptions::default()
    }
}

/// Parses `input` as `format`, returning events and bad records.
pub(crate) fn parse_all(input: &[u8], format: Format) -> (Vec<Event>, Vec<BadRecord>) {
    let origin = Origin::Input(Arc::from("test"));
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    crate::parse_bytes(input, Some(format), &origin, &opts(), &mut |i| match i {
        Item::Event(e) => events.push(*e),
        Item::Bad(b) => bad.push(b),
    });
    (events, bad)
}

/// The single event `line` gives as `format`.
pub(crate) fn one(line: &str, format: Format) -> Event {
    let (mut events, bad) = parse_all(line.as_bytes(), format);
    assert!(bad.is_empty(), "{}: {bad:?}", excerpt(line));
    assert_eq!(events.len(), 1, "{}", excerpt(line));
    events.remove(0)
}

/// A field as its display text (`None` if absent).
pub(crate) fn f(e: &Event, name: &str) -> Option<String> {
    e.get_name(name).map(ToString::to_string)
}

fn ts(e: &Event) -> String {
    e.timestamp.to_rfc3339()
}

fn bad_codes(input: &str) -> Vec<(u64, &'static str)> {
    parse_all(input.as_bytes(), Format::Syslog)
        .1
        .iter()
        .map(|b| (b.record, b.error.code.code()))
        .collect()
}

fn header(line: &str) -> Header<'_> {
    scan(line, &opts())
        .expect("valid header")
        .expect("has a header")
}

// ---------------------------------------------------------------- PRI

#[test]
fn pri_bounds() {
    assert_eq!(read_pri(b"<0>x"), Some((0, 3)));
    assert_eq!(read_pri(b"<191>x"), Some((191, 5)));
    assert_eq!(read_pri(b"<013>x"), Some((13, 5)));
    assert_eq!(read_pri(b"<192>x"), None);
    assert_eq!(read_pri(b"<1000>x"), None);
    assert_eq!(read_pri(b"<>x"), None);
    assert_eq!(read_pri(b"<12x"), None);
    assert_eq!(read_pri(b"12>"), None);
    assert_eq!(read_pri(b"<"), None);
}

#[test]
fn facility_and_severity_names() {
    let e = one("<0>Oct 11 22:14:15 h a: m", Format::Syslog);
    assert_eq!(f(&e, "log.syslog.facility.name").as_deref(), Some("kern"));
    assert_eq!(
        f(&e, "log.syslog.severity.name").as_deref(),
        Some("emergency")
    );
    assert_eq!(f(&e, "event.severity").as_deref(), Some("0"));
    let e = one("<191>Oct 11 22:14:15 h a: m", Format::Syslog);
    assert_eq!(f(&e, "log.syslog.priority").as_deref(), Some("191"));
    assert_eq!(f(&e, "log.syslog.facility.code").as_deref(), Some("23"));
    assert_eq!(f(&e, "log.syslog.facility.name").as_deref(), Some("local7"));
    assert_eq!(f(&e, "log.syslog.severity.code").as_deref(), Some("7"));
    assert_eq!(f(&e, "log.level").as_deref(), Some("debug"));
    let e = one("<86>Oct 11 22:14:15 h a: m", Format::Syslog);
    assert_eq!(
        f(&e, "log.syslog.facility.name").as_deref(),
        Some("authpriv")
    );
    assert_eq!(
        f(&e, "log.syslog.severity.name").as_deref(),
        Some("informational")
    );
    assert_eq!(facility_name(13), "security");
    assert_eq!(facility_name(24), "unknown");
}

// ---------------------------------------------------------------- RFC 5424

#[test]
fn rfc5424_examples_from_the_rfc() {
    let e = one(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{FEFF}'su root' failed for lonvick on /dev/pts/8",
        Format::Syslog,
    );
    assert_eq!(ts(&e), "2003-10-11T22:14:15.003Z");
    assert_eq!(e.tz, Some(TzOffset::UTC));
    assert_eq!(f(&e, "log.syslog.version").as_deref(), Some("1"));
    assert_eq!(f(&e, "host.name").as_deref(), Some("mymachine.example.com"));
    assert_eq!(
        f(&e, "log.syslog.hostname").as_deref(),
        Some("mymachine.example.com")
    );
    assert_eq!(f(&e, "process.name").as_deref(), Some("su"));
    assert_eq!(f(&e, "log.syslog.appname").as_deref(), Some("su"));
    assert_eq!(f(&e, "log.syslog.procid"), None);
    assert_eq!(f(&e, "log.syslog.msgid").as_deref(), Some("ID47"));
    // The BOM is not part of the message.
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("'su root' failed for lonvick on /dev/pts/8")
    );
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("syslog.rfc5424"));
    assert_eq!(f(&e, "event.module").as_deref(), Some("syslog"));
    assert_eq!(f(&e, "event.kind").as_deref(), Some("event"));

    let e = one(
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        Format::Syslog,
    );
    assert_eq!(ts(&e), "2003-08-24T12:14:15.000003Z");
    assert_eq!(e.tz.map(TzOffset::secs), Some(-7 * 3600));
    assert_eq!(f(&e, "process.pid").as_deref(), Some("8710"));
    assert_eq!(f(&e, "log.syslog.procid").as_deref(), Some("8710"));
    assert_eq!(f(&e, "log.syslog.msgid"), None);
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("%% It's time to make the do-nuts.")
    );
    assert_eq!(f(&e, "cisco.facility"), None);
}

#[test]
fn rfc5424_structured_data() {
    let e = one(
        r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] BOMAn application event"#,
        Format::Syslog,
    );
    assert_eq!(f(&e, "exampleSDID@32473.iut").as_deref(), Some("3"));
    assert_eq!(
        f(&e, "exampleSDID@32473.eventSource").as_deref(),
        Some("Application")
    );
    assert_eq!(f(&e, "exampleSDID@32473.eventID").as_deref(), Some("1011"));
    assert_eq!(
        f(&e, "examplePriority@32473.class").as_deref(),
        Some("high")
    );
    assert_eq!(f(&e, "message").as_deref(), Some("BOMAn application event"));

    // Only SD, no MSG.
    let e = one(
        r#"<165>1 2003-10-11T22:14:15.003Z host app - ID47 [exampleSDID@32473 iut="3"]"#,
        Format::Syslog,
    );
    assert_eq!(f(&e, "exampleSDID@32473.iut").as_deref(), Some("3"));
    assert_eq!(f(&e, "message"), None);
}

#[test]
fn rfc5424_sd_escapes_and_odd_elements() {
    let e = one(
        r#"<14>1 - - - - - [a@1 q="say \"hi\"" b="back\\slash" c="close\]" d="keep\n" e="" u="é ]["][flag@1][a@1 q="again"] m"#,
        Format::Syslog,
    );
    assert_eq!(f(&e, "a@1.b").as_deref(), Some("back\\slash"));
    assert_eq!(f(&e, "a@1.c").as_deref(), Some("close]"));
    // Any other backslash stays as written.
    assert_eq!(f(&e, "a@1.d").as_deref(), Some("keep\\n"));
    assert_eq!(f(&e, "a@1.e").as_deref(), Some(""));
    assert_eq!(f(&e, "a@1.u").as_deref(), Some("é ]["));
    // A repeated parameter becomes a list; an element without parameters is flagged.
    assert_eq!(
        e.get_name("a@1.q"),
        Some(&Value::List(vec![
            Value::str("say \"hi\""),
            Value::str("again")
        ]))
    );
    assert_eq!(e.get_name("flag@1"), Some(&Value::Bool(true)));
    assert_eq!(f(&e, "message").as_deref(), Some("m"));
    // Nil timestamp: the receive time stands and no zone is claimed.
    assert_eq!(ts(&e), "2024-06-15T12:00:00Z");
    assert_eq!(e.tz, None);
    assert_eq!(f(&e, "host.name"), None);
}

#[test]
fn huge_structured_data_stays_linear() {
    let sd: String = (0..40_000).map(|i| format!("[e{i}@1 p=\"{i}\"]")).collect();
    let line = format!("<14>1 - h a - - {sd} msg");
    let start = std::time::Instant::now();
    let e = one(&line, Format::Syslog);
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    assert_eq!(f(&e, "e0@1.p").as_deref(), Some("0"));
    assert_eq!(f(&e, "e255@1.p").as_deref(), Some("255"));
    assert_eq!(f(&e, "e256@1.p"), None);
    let rest = f(&e, "syslog.sd_unparsed").unwrap_or_default();
    assert!(
        rest.starts_with("[e256@1 p=\"256\"][e257@1"),
        "{}",
        &rest[..30]
    );
    assert!(rest.ends_with("[e39999@1 p=\"39999\"]"));
    assert_eq!(f(&e, "message").as_deref(), Some("msg"));
}

#[test]
fn rfc5424_sd_cannot_overwrite_parser_fields() {
    let e = one(
        r#"<14>1 2024-01-01T00:00:00Z realhost app - - [host name="evil"][event kind="alert"] m"#,
        Format::Syslog,
    );
    assert_eq!(f(&e, "host.name").as_deref(), Some("realhost"));
    assert_eq!(f(&e, "event.kind").as_deref(), Some("event"));
}

#[test]
fn rfc5424_lenient_shapes() {
    // STRUCTURED-DATA left out altogether.
    let e = one(
        "<14>1 2024-01-01T00:00:00Z h app 1 ID hello world",
        Format::Syslog,
    );
    assert_eq!(f(&e, "message").as_deref(), Some("hello world"));
    assert_eq!(f(&e, "log.syslog.msgid").as_deref(), Some("ID"));
    // The line ends inside the header: the missing fields are nil.
    let e = one("<14>1 2024-01-01T00:00:00Z h", Format::Syslog);
    assert_eq!(f(&e, "host.name").as_deref(), Some("h"));
    assert_eq!(f(&e, "process.name"), None);
    assert_eq!(f(&e, "message"), None);
    // Zone-less timestamp: default zone applies, none is recorded.
    let e = one("<14>1 2024-01-01T00:00:00 h a - - - m", Format::Syslog);
    assert_eq!(ts(&e), "2024-01-01T00:00:00Z");
    assert_eq!(e.tz, None);
    // Non-numeric PROCID: kept, but no process.pid.
    let e = one("<14>1 - h a worker-3 - - m", Format::Syslog);
    assert_eq!(f(&e, "log.syslog.procid").as_deref(), Some("worker-3"));
    assert_eq!(f(&e, "process.pid"), None);
    // A two-digit version.
    let h = header("<14>12 - h a - - - m");
    assert_eq!(h.version, Some(12));
    // `<13>5 apples` is not RFC 5424 (no timestamp after the digit): RFC 3164 content.
    let h = header("<13>5 apples");
    assert_eq!(h.variant, Variant::Rfc3164);
    assert_eq!(h.msg, "5 apples");
}

#[test]
fn rfc5424_errors() {
    assert_eq!(
        bad_codes("<14>1 2024-13-01T00:00:00Z h a - - - m"),
        vec![(1, "KP004")]
    );
    assert_eq!(
        bad_codes("<14>1 2024-01-01T00:00:00X h a - - - m"),
        vec![(1, "KP004")]
    );
    // Not a timestamp at all after the version: RFC 3164 content.
    let e = one("<14>1 yesterday h a - - - m", Format::Syslog);
    assert_eq!(f(&e, "message").as_deref(), Some("1 yesterday h a - - - m"));
    for broken in [
        r#"<14>1 - h a - - [id p="unterminated] m"#,
        r#"<14>1 - h a - - [id p=unquoted] m"#,
        r#"<14>1 - h a - - [id p] m"#,
        r#"<14>1 - h a - - [id "p"="v"] m"#,
        r#"<14>1 - h a - - [] m"#,
        r#"<14>1 - h a - - [id p="v""#,
        r#"<14>1 - h a - - [id p="v"x] m"#,
        r#"<14>1 - h a - - [id=x] m"#,
    ] {
        assert_eq!(bad_codes(broken), vec![(1, "KP002")], "{broken}");
    }
    // The error says what was expected.
    let (_, bad) = parse_all(br#"<14>1 - h a - - [id p=x] m"#, Format::Syslog);
    assert!(
        bad[0].error.message.contains("'\"' opening a PARAM-VALUE"),
        "{}",
        bad[0].error
    );
}

// ---------------------------------------------------------------- RFC 3164 and vendors

#[test]
fn rfc3164_examples() {
    let e = one(
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        Format::Syslog,
    );
    // October is after the reference June: last year.
    assert_eq!(ts(&e), "2023-10-11T22:14:15Z");
    assert_eq!(e.tz, None);
    assert_eq!(f(&e, "host.name").as_deref(), Some("mymachine"));
    assert_eq!(f(&e, "process.name").as_deref(), Some("su"));
    assert_eq!(f(&e, "process.pid"), None);
    assert_eq!(f(&e, "log.syslog.version"), None);
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("syslog.rfc3164"));
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("'su root' failed for lonvick on /dev/pts/8")
    );
    // No tag: the rest is the message.
    let e = one("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", Format::Syslog);
    assert_eq!(ts(&e), "2024-02-05T17:32:18Z");
    assert_eq!(f(&e, "host.name").as_deref(), Some("10.0.0.99"));
    assert_eq!(f(&e, "process.name"), None);
    assert_eq!(f(&e, "message").as_deref(), Some("Use the BFG!"));
}

#[test]
fn rfc3164_without_pri_and_tags() {
    let e = one(
        "Jun 14 08:00:01 web-01 postfix/smtpd[2211]: connect from unknown[198.51.100.4]",
        Format::Syslog,
    );
    assert_eq!(f(&e, "log.syslog.priority"), None);
    assert_eq!(f(&e, "log.level"), None);
    assert_eq!(f(&e, "process.name").as_deref(), Some("postfix/smtpd"));
    assert_eq!(f(&e, "process.pid").as_deref(), Some("2211"));
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("connect from unknown[198.51.100.4]")
    );
    // No hostname before the tag.
    let h = header("Jun 14 08:00:01 CRON[99]: (root) CMD (true)");
    assert_eq!(h.hostname, None);
    assert_eq!(h.app, Some("CRON"));
    assert_eq!(h.procid, Some("99"));
    // `app[pid]` without a colon is not a tag; neither is a URL.
    let h = header("Jun 14 08:00:01 host app[12] text");
    assert_eq!(h.app, None);
    assert_eq!(h.msg, "app[12] text");
    let h = header("Jun 14 08:00:01 host http://example.com/ was fetched");
    assert_eq!(h.app, None);
    // A PRI alone, with the tag right after it.
    let h = header("<13>sshd[12]: hello");
    assert_eq!(
        (h.app, h.procid, h.msg),
        (Some("sshd"), Some("12"), "hello")
    );
    assert_eq!(h.time, None);
    // A token with `=` is neither host nor tag.
    let h = header("Jun 14 08:00:01 a=b: c");
    assert_eq!((h.hostname, h.app, h.msg), (None, None, "a=b: c"));
    // Double spaces after the time and sudo's padded message.
    let h = header("Jun 14 08:00:01  host  sudo:    alice : TTY=pts/0");
    assert_eq!(
        (h.hostname, h.app, h.msg),
        (Some("host"), Some("sudo"), "alice : TTY=pts/0")
    );
    // An empty pid is no pid.
    let h = header("Jun 14 08:00:01 host app[]: m");
    assert_eq!((h.app, h.procid), (Some("app"), None));
    // Over-long tags are message.
    let long = format!("Jun 14 08:00:01 host {}: m", "x".repeat(200));
    assert_eq!(header(&long).app, None);
}

#[test]
fn timestamps_of_every_shape() {
    let t = |line: &str| {
        let e = one(line, Format::Syslog);
        (ts(&e), e.tz.map(TzOffset::secs))
    };
    // ISO / RFC 3339 in place of the BSD time.
    assert_eq!(
        t("<14>2024-05-01T10:00:00.123456+02:00 web01 nginx[77]: started"),
        ("2024-05-01T08:00:00.123456Z".into(), Some(7200))
    );
    assert_eq!(
        t("2024-05-01 10:00:00 web01 app: space separated"),
        ("2024-05-01T10:00:00Z".into(), None)
    );
    // Fraction and year after the time.
    assert_eq!(
        t("<14>Oct 11 22:14:15.123 2022 host app: m"),
        ("2022-10-11T22:14:15.123Z".into(), None)
    );
    // Year before the time (Cisco ASA).
    assert_eq!(
        t("<166>Jun 03 2024 10:11:12 asa : %ASA-6-302013: Built"),
        ("2024-06-03T10:11:12Z".into(), None)
    );
    assert_eq!(
        t("<166>Jun  3 2023 10:11:12.250 asa : m"),
        ("2023-06-03T10:11:12.250Z".into(), None)
    );
    // December read in January is last year (reference is mid-June here: Jun 16 is tomorrow).
    assert_eq!(t("Jun 16 10:00:00 h a: m").0, "2024-06-16T10:00:00Z");
    assert_eq!(t("Jun 17 10:00:00 h a: m").0, "2023-06-17T10:00:00Z");
    // Single-digit day without padding.
    assert_eq!(t("Jun 3 10:00:00 h a: m").0, "2024-06-03T10:00:00Z");
}

#[test]
fn default_zone_applies_to_zoneless_times() {
    let o = ParseOptions {
        default_tz: TzOffset::from_secs(3600),
        ..opts()
    };
    let h = scan("Jun 14 08:00:01 h a: m", &o)
        .expect("ok")
        .expect("header");
    let (t, tz) = h.time.expect("time");
    assert_eq!(t.to_rfc3339(), "2024-06-14T07:00:01Z");
    assert_eq!(tz, None);
    let h = scan("<14>1 2024-06-14T08:00:01 h a - - - m", &o)
        .expect("ok")
        .expect("header");
    assert_eq!(
        h.time.map(|t| t.0.to_rfc3339()).as_deref(),
        Some("2024-06-14T07:00:01Z")
    );
    // A written zone wins over the default.
    let h = scan("<14>1 2024-06-14T08:00:01Z h a - - - m", &o)
        .expect("ok")
        .expect("header");
    assert_eq!(
        h.time.map(|t| t.0.to_rfc3339()).as_deref(),
        Some("2024-06-14T08:00:01Z")
    );
}

#[test]
fn cisco_variants() {
    let e = one(
        "<189>123: *Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.1)",
        Format::Syslog,
    );
    assert_eq!(ts(&e), "2024-03-01T18:46:11.123Z");
    assert_eq!(e.tz, Some(TzOffset::UTC));
    assert_eq!(e.get_name("event.sequence"), Some(&Value::Int(123)));
    assert_eq!(f(&e, "event.code").as_deref(), Some("SYS-5-CONFIG_I"));
    assert_eq!(f(&e, "cisco.facility").as_deref(), Some("SYS"));
    assert_eq!(e.get_name("cisco.severity"), Some(&Value::Int(5)));
    assert_eq!(f(&e, "cisco.mnemonic").as_deref(), Some("CONFIG_I"));
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("Configured from console by vty0 (10.0.0.1)")
    );
    assert_eq!(f(&e, "host.name"), None);
    // Behind a relay's header: host from the relay, sequence and code from the device.
    let e = one(
        "<187>Jun  3 10:11:12 10.0.0.1 52: .Jun  3 10:11:12.123 CEST: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
        Format::Syslog,
    );
    assert_eq!(f(&e, "host.name").as_deref(), Some("10.0.0.1"));
    assert_eq!(f(&e, "event.sequence").as_deref(), Some("52"));
    assert_eq!(f(&e, "event.code").as_deref(), Some("LINK-3-UPDOWN"));
    assert_eq!(ts(&e), "2024-06-03T10:11:12Z");
    // No sequence, no marker; the time ends with a colon.
    let e = one(
        "<190>Mar  1 18:46:11: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.1.1.1(1234) -> 10.2.2.2(80), 1 packet",
        Format::Syslog,
    );
    assert_eq!(f(&e, "event.code").as_deref(), Some("SEC-6-IPACCESSLOGP"));
    assert_eq!(f(&e, "host.name"), None);
    // ASA: hostname then ` : `.
    let e = one(
        "<166>Jun 03 2024 10:11:12 asa-fw : %ASA-6-302013: Built outbound TCP connection 1 for outside:8.8.8.8/443",
        Format::Syslog,
    );
    assert_eq!(f(&e, "host.name").as_deref(), Some("asa-fw"));
    assert_eq!(f(&e, "process.name"), None);
    assert_eq!(f(&e, "cisco.mnemonic").as_deref(), Some("302013"));
    // Not a mnemonic: the message stays as written.
    let e = one("<14>Jun 3 10:11:12 h a: %not-a-code here", Format::Syslog);
    assert_eq!(f(&e, "message").as_deref(), Some("%not-a-code here"));
    let e = one(
        "<14>Jun 3 10:11:12 h %ABC-9-X: severity out of range",
        Format::Syslog,
    );
    assert_eq!(f(&e, "event.code"), None);
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("%ABC-9-X: severity out of range")
    );
    // A bare counter without a time after it, no PRI: not a header at all.
    assert!(scan("12: hello", &opts()).expect("ok").is_none());
}

#[test]
fn payload_dispatch() {
    // CEF after a BSD header is the payload, not a tag: the CEF parser fills the event.
    let e = one(
        "<134>Feb 18 17:00:00 fw01 CEF:0|Vendor|Product|1.0|100|name|5|src=10.0.0.1",
        Format::Syslog,
    );
    assert_eq!(f(&e, "host.name").as_deref(), Some("fw01"));
    assert_eq!(f(&e, "process.name"), None);
    assert_eq!(f(&e, "observer.vendor").as_deref(), Some("Vendor"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("10.0.0.1"));
    // Without `msg=`, CEF's Name is the message.
    assert_eq!(f(&e, "message").as_deref(), Some("name"));
    let e = one(
        "<134>1 - fw01 - - - - LEEF:2.0|V|P|1|E|src=10.0.0.1",
        Format::Syslog,
    );
    assert_eq!(f(&e, "observer.vendor").as_deref(), Some("V"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("10.0.0.1"));
    // Authentication programs are enriched by the auth module.
    let e = one(
        "<38>Jun 14 08:00:01 bastion sshd[1]: Failed password for root from 203.0.113.5 port 4242 ssh2",
        Format::Syslog,
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_login_failed"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.5"));
    assert_eq!(f(&e, "event.module").as_deref(), Some("syslog"));
    // PAM lines are recognised even from programs we do not know.
    let e = one(
        "<38>Jun 14 08:00:01 h vsftpd2[9]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=bob rhost=198.51.100.9",
        Format::Syslog,
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("pam_auth_failure"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("198.51.100.9"));
    // Kernel netfilter lines get their addresses.
    let e = one(
        "<4>Jun 14 08:00:01 gw kernel: [ 812.004] DROP-IN IN=eth0 OUT= SRC=192.0.2.7 DST=192.0.2.1 PROTO=UDP SPT=53 DPT=33000",
        Format::Syslog,
    );
    assert_eq!(f(&e, "source.ip").as_deref(), Some("192.0.2.7"));
    assert_eq!(f(&e, "destination.port").as_deref(), Some("33000"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("drop"));
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("syslog.rfc3164"));
    // Other kernel messages are left alone.
    let e = one(
        "<4>Jun 14 08:00:01 gw kernel: usb 1-1: new device",
        Format::Syslog,
    );
    assert_eq!(f(&e, "source.ip"), None);
    assert_eq!(f(&e, "message").as_deref(), Some("usb 1-1: new device"));
}

#[test]
fn lines_without_header() {
    let e = one("just some text", Format::Syslog);
    assert_eq!(f(&e, "message").as_deref(), Some("just some text"));
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("syslog.plain"));
    assert_eq!(ts(&e), "2024-06-15T12:00:00Z");
    assert_eq!(e.fields.len(), 4);
    // A Latin-1 byte here and there is still text.
    let (events, bad) = parse_all(b"caf\xe9 cr\xe8me at the counter", Format::Syslog);
    assert_eq!((events.len(), bad.len()), (1, 0));
    // Binary junk is not.
    assert_eq!(
        bad_codes("text\0with NUL\n\u{1}\u{2}\u{3}\u{4}ab\nfine"),
        vec![(1, "KP005"), (2, "KP005")]
    );
    let (_, bad) = parse_all(b"\xff\xfe\xfd\xfc abc", Format::Syslog);
    assert_eq!(bad.len(), 1);
    // A `<` that is not a PRI is text.
    let e = one("<html> is not syslog", Format::Syslog);
    assert_eq!(f(&e, "message").as_deref(), Some("<html> is not syslog"));
}

#[test]
fn raw_line_is_kept_when_asked() {
    let origin = Origin::Input(Arc::from("t"));
    let o = ParseOptions {
        keep_raw: true,
        ..opts()
    };
    let mut raw = Vec::new();
    crate::parse_bytes(
        b"<14>Jun 3 10:11:12 h a: m\n",
        Some(Format::Syslog),
        &origin,
        &o,
        &mut |i| {
            if let Item::Event(e) = i {
                raw.push(e.raw.clone());
            }
        },
    );
    assert_eq!(raw, vec![Some("<14>Jun 3 10:11:12 h a: m".into())]);
}

// ---------------------------------------------------------------- parse_header / sniff

#[test]
fn parse_header_interface() {
    let o = opts();
    let mut e = Event::new(
        o.received,
        kasbah_event::Source::Input {
            name: Arc::from("t"),
        },
    );
    let msg = parse_header(
        "<134>Feb 18 17:00:00 fw01 CEF:0|Vendor|Product|1.0|100|name|5|",
        &mut e,
        &o,
    );
    assert_eq!(msg, Some("CEF:0|Vendor|Product|1.0|100|name|5|"));
    assert_eq!(f(&e, "host.name").as_deref(), Some("fw01"));
    assert_eq!(f(&e, "log.syslog.priority").as_deref(), Some("134"));
    assert_eq!(ts(&e), "2024-02-18T17:00:00Z");
    // No header, or a broken RFC 5424 one: None, event untouched.
    let mut e = Event::new(
        o.received,
        kasbah_event::Source::Input {
            name: Arc::from("t"),
        },
    );
    assert_eq!(parse_header("CEF:0|a|b|c|d|e|f|", &mut e, &o), None);
    assert_eq!(
        parse_header("<14>1 2024-99-01T00:00:00Z h a - - - m", &mut e, &o),
        None
    );
    assert!(e.fields.is_empty());
    assert_eq!(
        parse_header("<14>1 - h a - - [x y=\"1\"] m", &mut e, &o),
        Some("m")
    );
    assert_eq!(f(&e, "x.y").as_deref(), Some("1"));
}

#[test]
fn sniffing() {
    for yes in [
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
        "<165>1 2003-10-11T22:14:15.003Z host app - - - m",
        "Oct 11 22:14:15 host systemd[1]: Started",
        "2024-05-01T10:00:00Z host app: m",
        "120 <14>1 - host app - - - m",
        "<14>1 - host app - - [broken",
        // Auth programs stay syslog even with key=value messages.
        "<38>Oct 11 22:14:15 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4",
    ] {
        assert!(sniff(yes), "{yes}");
    }
    for no in [
        "just text",
        "",
        "{\"a\":1}",
        "<189>date=2024-05-01 time=10:00:00 devname=fw srcip=1.2.3.4 dstip=5.6.7.8",
        "Jan  1 12:00:00 fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP",
        "120 not a frame",
    ] {
        assert!(!sniff(no), "{no}");
    }
}

#[test]
fn detection_of_syslog_inputs() {
    assert_eq!(
        crate::detect(
            b"<14>1 2024-01-01T00:00:00Z h a - - - m\n<14>1 2024-01-01T00:00:01Z h a - - - n\n"
        ),
        Format::Syslog
    );
    assert_eq!(
        crate::detect(b"Jun 14 08:00:01 web nginx[1]: a\nJun 14 08:00:02 web systemd[1]: b\n"),
        Format::Syslog
    );
    assert_eq!(
        crate::detect(b"73 <14>1 - h a - - - first\nsecond line of it\n"),
        Format::Syslog
    );
    assert_eq!(
        crate::detect(b"free text\nmore free text\n"),
        Format::Syslog
    );
}

// ---------------------------------------------------------------- RFC 6587 framing

#[test]
fn octet_counting() {
    let m1 = "<14>1 2024-01-01T00:00:00Z h app - - - line one\nline two";
    let m2 = "<14>Jun 3 10:11:12 h app: second";
    let input = format!("{} {m1}{} {m2}\n", m1.len(), m2.len());
    let (events, bad) = parse_all(input.as_bytes(), Format::Syslog);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(events.len(), 2);
    assert_eq!(
        f(&events[0], "message").as_deref(),
        Some("line one\nline two")
    );
    assert_eq!(f(&events[1], "message").as_deref(), Some("second"));
    // Frames are the records.
    assert_eq!(
        events[1].source,
        kasbah_event::Source::Input {
            name: Arc::from("test")
        }
    );
}

#[test]
fn octet_counting_errors_and_resync() {
    let good = "<14>Jun 3 10:11:12 h app: ok";
    // Frame 2 claims more than is left on its line, frame 3 is fine again on the next line.
    let input = format!(
        "{n} {good}\n999 <14>Jun 3 10:11:12 h app: cut short\n{n} {good}\n",
        n = good.len()
    );
    let (events, bad) = parse_all(input.as_bytes(), Format::Syslog);
    assert_eq!(events.len(), 2);
    assert_eq!(
        bad.iter()
            .map(|b| (b.record, b.error.code.code()))
            .collect::<Vec<_>>(),
        vec![(2, "KP007")]
    );
    assert!(bad[0].error.message.contains("announces 999 bytes"));
    // Junk between frames is reported up to the end of its line; a newline-framed message among
    // frames is still parsed.
    let input = format!(
        "{n} {good}\ngarbage here\n<14>Jun 3 10:11:12 h app: unframed\n{n} {good}",
        n = good.len()
    );
    let (events, bad) = parse_all(input.as_bytes(), Format::Syslog);
    assert_eq!(events.len(), 3);
    assert_eq!(
        bad.iter()
            .map(|b| (b.record, b.error.code.code()))
            .collect::<Vec<_>>(),
        vec![(2, "KP002")]
    );
    // A truncated last frame.
    let input = format!("{n} {good}\n40 <14>Jun 3", n = good.len());
    let (events, bad) = parse_all(input.as_bytes(), Format::Syslog);
    assert_eq!((events.len(), bad.len()), (1, 1));
    assert_eq!(bad[0].error.code, ErrorCode::Truncated);
    // A frame over the size limit is skipped with KP001 and parsing goes on after it.
    let origin = Origin::Input(Arc::from("t"));
    let o = ParseOptions {
        max_record_bytes: 20,
        ..opts()
    };
    let mut codes = Vec::new();
    let input = format!("{n} {good} 8 <14>m ab", n = good.len());
    crate::parse_bytes(
        input.as_bytes(),
        Some(Format::Syslog),
        &origin,
        &o,
        &mut |i| {
            codes.push(match i {
                Item::Event(_) => "event".to_string(),
                Item::Bad(b) => b.error.code.to_string(),
            });
        },
    );
    assert_eq!(codes, vec!["KP001", "event"]);
    // Empty frames and whitespace between frames are skipped silently.
    let input = format!("0 {n} {good}\r\n\n  {n} {good}", n = good.len());
    let (events, bad) = parse_all(input.as_bytes(), Format::Syslog);
    assert_eq!((events.len(), bad.len()), (2, 0));
}

#[test]
fn octet_count_with_bom_and_huge_length() {
    let (events, bad) = parse_all(b"\xEF\xBB\xBF9 <14>h a b", Format::Syslog);
    assert_eq!((events.len(), bad.len()), (1, 0));
    let (events, bad) = parse_all(b"9999999999 <14>x\n", Format::Syslog);
    assert_eq!((events.len(), bad.len()), (0, 1));
}

// ---------------------------------------------------------------- helpers

#[test]
fn helpers() {
    assert_eq!(excerpt("short"), "short");
    assert_eq!(excerpt(&"é".repeat(100)).chars().count(), EXCERPT);
    assert_eq!(sd_unescape(r#"a\"b\\c\]d\e\"#), "a\"b\\c]d\\e\\");
    assert_eq!(try_tag("app: x"), Some(("app", None, " x")));
    assert_eq!(try_tag("app:"), Some(("app", None, "")));
    assert_eq!(try_tag("app[1]:"), Some(("app", Some("1"), "")));
    assert_eq!(try_tag("app[1 2]: x"), None);
    assert_eq!(try_tag("app:x"), None);
    assert_eq!(try_tag("%ASA-1-2: x"), None);
    assert_eq!(try_tag(": x"), None);
    assert!(is_hostname("fe80::1%eth0"));
    assert!(!is_hostname("a/b"));
    assert!(!is_hostname(""));
    assert!(is_text("tabs\tand \x1b[0m colours"));
    assert!(!is_text("a\0b"));
}

// ---------------------------------------------------------------- properties

mod props {
    use chrono::{DateTime, FixedOffset};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (events, bad) = parse_all(&data, Format::Syslog);
            // Every non-blank line or frame is accounted for.
            prop_assert!(events.len() + bad.len() <= data.len());
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let o = opts();
            let _ = scan(&s, &o);
            let mut e = Event::new(o.received, kasbah_event::Source::Input { name: Arc::from("t") });
            let _ = parse_header(&s, &mut e, &o);
            let _ = sniff(&s);
            let _ = parse_all(s.as_bytes(), Format::Syslog);
        }

        #[test]
        fn syslog_shaped_text_never_panics(
            pri in prop::option::of(0u16..300),
            rest in "(1 )?([A-Z][a-z]{2} [ 0-9]{1,2} [0-9:]{8}|[0-9T:.+-]{10,30})? ?[a-z%*.0-9]{0,8}[:\\[\\] ]{0,3}[ -~]{0,40}",
        ) {
            let line = match pri { Some(p) => format!("<{p}>{rest}"), None => rest };
            let _ = parse_all(line.as_bytes(), Format::Syslog);
            let _ = parse_all(format!("{} {line}", line.len()).as_bytes(), Format::Syslog);
        }

        #[test]
        fn rfc5424_round_trip(r in rfc5424_record()) {
            let line = r.render();
            let e = one(&line, Format::Syslog);
            prop_assert_eq!(e.get(ecs::LOG_SYSLOG_PRIORITY), Some(&Value::Int(i64::from(r.pri))));
            prop_assert_eq!(e.get(ecs::LOG_SYSLOG_FACILITY_CODE), Some(&Value::Int(i64::from(r.pri >> 3))));
            prop_assert_eq!(e.get(ecs::EVENT_SEVERITY), Some(&Value::Int(i64::from(r.pri & 7))));
            match &r.time {
                Some((secs, nanos, _, off)) => {
                    prop_assert_eq!(e.timestamp, Timestamp::from_secs_nanos(*secs, *nanos).expect("in range"));
                    prop_assert_eq!(e.tz, TzOffset::from_secs(off.unwrap_or(0)));
                }
                None => {
                    prop_assert_eq!(e.timestamp, opts().received);
                    prop_assert_eq!(e.tz, None);
                }
            }
            for (id, v) in [
                (ecs::LOG_SYSLOG_HOSTNAME, &r.host),
                (ecs::LOG_SYSLOG_APPNAME, &r.app),
                (ecs::LOG_SYSLOG_PROCID, &r.procid),
                (ecs::LOG_SYSLOG_MSGID, &r.msgid),
            ] {
                prop_assert_eq!(e.fields.get_str(id), v.as_deref());
            }
            for (id, params) in &r.sd {
                for (name, value) in params {
                    let key = format!("{id}.{name}");
                    let got = f(&e, &key);
                    prop_assert_eq!(got.as_deref(), Some(value.as_str()), "{}", key);
                }
                if params.is_empty() {
                    prop_assert_eq!(e.get_name(id), Some(&Value::Bool(true)));
                }
            }
            let want = r.msg.as_deref().filter(|m| !m.is_empty());
            prop_assert_eq!(e.fields.get_str(ecs::MESSAGE), want);
        }

        #[test]
        fn rfc3164_round_trip(
            pri in prop::option::of(0u8..=191),
            (mo, day, h, mi, s) in (1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60),
            host in prop::option::of("[a-z][a-z0-9.-]{0,20}"),
            app in prop::option::of(("[a-zA-Z][a-zA-Z0-9_./-]{0,15}", prop::option::of(0u32..99999))),
            msg in "[a-zA-Z0-9]{1,8}( [ -~]{0,60})?",
        ) {
            // Without host or tag the first word of the message is the host (RFC 3164 4.3.3).
            prop_assume!(host.is_some() || app.is_some());
            const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let mut line = String::new();
            if let Some(p) = pri {
                line.push_str(&format!("<{p}>"));
            }
            line.push_str(&format!("{} {day:>2} {h:02}:{mi:02}:{s:02} ", MONTHS[mo as usize - 1]));
            if let Some(hn) = &host {
                line.push_str(hn);
                line.push(' ');
            }
            if let Some((a, pid)) = &app {
                line.push_str(a);
                if let Some(p) = pid {
                    line.push_str(&format!("[{p}]"));
                }
                line.push_str(": ");
            }
            line.push_str(&msg);
            let e = one(&line, Format::Syslog);
            // Up to a day past the reference (2024-06-15T12:00:00Z) is this year.
            let year = if (mo, day, h, mi, s) <= (6, 16, 12, 0, 0) { 2024 } else { 2023 };
            prop_assert_eq!(ts(&e), format!("{year}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}Z"));
            let want_pri = pri.map(|p| Value::Int(i64::from(p)));
            prop_assert_eq!(e.get(ecs::LOG_SYSLOG_PRIORITY), want_pri.as_ref());
            prop_assert_eq!(e.fields.get_str(ecs::HOST_NAME), host.as_deref());
            prop_assert_eq!(e.fields.get_str(ecs::PROCESS_NAME), app.as_ref().map(|a| a.0.as_str()));
            let want_pid = app.as_ref().and_then(|a| a.1).map(|p| Value::Int(i64::from(p)));
            prop_assert_eq!(e.get(ecs::PROCESS_PID), want_pid.as_ref());
            prop_assert_eq!(e.fields.get_str(ecs::MESSAGE), Some(msg.as_str()));
        }
    }

    /// A random valid RFC 5424 record.
    #[derive(Debug, Clone)]
    struct Rec5424 {
        pri: u8,
        /// Seconds, nanoseconds, fraction digits written, offset in seconds (`None`: `Z`).
        time: Option<(i64, u32, usize, Option<i32>)>,
        host: Option<String>,
        app: Option<String>,
        procid: Option<String>,
        msgid: Option<String>,
        sd: Vec<(String, Vec<(String, String)>)>,
        msg: Option<String>,
        bom: bool,
    }

    fn escape(v: &str) -> String {
        let mut o = String::new();
        for c in v.chars() {
            if matches!(c, '"' | '\\' | ']') {
                o.push('\\');
            }
            o.push(c);
        }
        o
    }

    impl Rec5424 {
        fn render(&self) -> String {
            let nil = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let time = match self.time {
                None => "-".to_string(),
                Some((secs, nanos, digits, off)) => {
                    let utc = DateTime::from_timestamp(secs, nanos).expect("in range");
                    let offset = FixedOffset::east_opt(off.unwrap_or(0)).expect("valid");
                    let local = utc.with_timezone(&offset);
                    let mut s = local.format("%Y-%m-%dT%H:%M:%S").to_string();
                    if digits > 0 {
                        let frac = format!("{nanos:09}");
                        s.push('.');
                        s.push_str(&frac[..digits]);
                    }
                    match off {
                        None => s.push('Z'),
                        Some(_) => s.push_str(&local.format("%:z").to_string()),
                    }
                    s
                }
            };
            let sd = if self.sd.is_empty() {
                "-".to_string()
            } else {
                self.sd
                    .iter()
                    .map(|(id, ps)| {
                        let mut el = format!("[{id}");
                        for (n, v) in ps {
                            el.push_str(&format!(" {n}=\"{}\"", escape(v)));
                        }
                        el.push(']');
                        el
                    })
                    .collect()
            };
            let mut line = format!(
                "<{}>1 {time} {} {} {} {} {sd}",
                self.pri,
                nil(&self.host),
                nil(&self.app),
                nil(&self.procid),
                nil(&self.msgid)
            );
            if let Some(m) = &self.msg {
                line.push(' ');
                if self.bom {
                    line.push('\u{FEFF}');
                }
                line.push_str(m);
            }
            line
        }
    }

    fn token(max: usize) -> impl Strategy<Value = Option<String>> {
        let re = format!("[!-~]{{1,{max}}}");
        prop::option::of(
            proptest::string::string_regex(&re)
                .expect("regex")
                .prop_filter("nil", |s| s != "-"),
        )
    }

    fn rfc5424_record() -> impl Strategy<Value = Rec5424> {
        let time = prop::option::of((
            0i64..4_102_444_800,
            0u32..1_000_000_000,
            0usize..=9,
            prop::option::of(-839i32..=839),
        ))
        .prop_map(|t| {
            t.map(|(secs, nanos, digits, off)| {
                let unit = 10u32.pow(9 - digits as u32);
                (secs, nanos / unit * unit, digits, off.map(|m| m * 60))
            })
        });
        let param = ("[a-zA-Z0-9_.:-]{1,12}", "\\PC{0,16}");
        let element = (
            "[a-zA-Z][a-zA-Z0-9_.-]{0,10}@[0-9]{1,6}",
            prop::collection::btree_map(param.0, param.1, 0..4),
        );
        (
            0u8..=191,
            time,
            (token(30), token(20), token(10), token(12)),
            prop::collection::btree_map(element.0, element.1, 0..3),
            prop::option::of("[^\\r\\n\u{FEFF}]{0,80}"),
            any::<bool>(),
        )
            .prop_map(
                |(pri, time, (host, app, procid, msgid), sd, msg, bom)| Rec5424 {
                    pri,
                    time,
                    host,
                    app,
                    procid,
                    msgid,
                    sd: sd
                        .into_iter()
                        .map(|(k, v)| (k, v.into_iter().collect()))
                        .collect(),
                    msg,
                    bom,
                },
            )
    }
}
