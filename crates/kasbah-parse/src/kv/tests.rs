use super::*;
use crate::format::Format;
use crate::syslog::tests::{f, one, opts, parse_all};

fn kv(line: &str) -> Event {
    one(line, Format::Kv)
}

fn toks(s: &str, delim: Option<u8>) -> Vec<String> {
    Tokens::new(s, delim)
        .map(|t| match t {
            Tok::Pair { key, value, quote } => format!(
                "{}={}{}",
                slice(s, key),
                quote.map_or(String::new(), |q| char::from(q).to_string()),
                slice(s, value)
            ),
            Tok::Bare { start, end } => format!("<{}>", slice(s, (start, end))),
        })
        .collect()
}

// ---------------------------------------------------------------- tokens

#[test]
fn tokenizer() {
    assert_eq!(
        toks(
            r#"a=1 b="two words" c='single' d= e=x=y [BR] f="esc \"q\" \\""#,
            None
        ),
        vec![
            "a=1",
            "b=\"two words",
            "c='single",
            "d=",
            "e=x=y",
            "<[BR]>",
            r#"f="esc \"q\" \\"#
        ]
    );
    // Unterminated quote: the rest of the line.
    assert_eq!(toks(r#"a="open b=2"#, None), vec!["a=\"open b=2"]);
    // No key, odd key characters, tabs.
    assert_eq!(
        toks("=x k:v=1 \tid.orig_h=10.0.0.1", None),
        vec!["<=x>", "<k:v=1>", "id.orig_h=10.0.0.1"]
    );
    // Delimited mode: spaces belong to values, which are trimmed.
    assert_eq!(
        toks("a=1, msg=hello world ,c=3", Some(b',')),
        vec!["a=1", "msg=hello world", "c=3"]
    );
    assert_eq!(toks("", None), Vec::<String>::new());
    assert_eq!(toks("   ", Some(b';')), Vec::<String>::new());
}

#[test]
fn value_unescaping() {
    let e = kv(r#"a="say \"hi\"" b='it\'s' c="C:\Windows\x" d="trail\\" e=plain\"x"#);
    assert_eq!(f(&e, "a").as_deref(), Some("say \"hi\""));
    assert_eq!(f(&e, "b").as_deref(), Some("it's"));
    // Backslashes that escape nothing stay (Windows paths).
    assert_eq!(f(&e, "c").as_deref(), Some("C:\\Windows\\x"));
    assert_eq!(f(&e, "d").as_deref(), Some("trail\\"));
    // Bare values are not unescaped.
    assert_eq!(f(&e, "e").as_deref(), Some("plain\\\"x"));
}

#[test]
fn delimiter_detection() {
    assert_eq!(detect_delim("a=1,b=2,c=3"), Some(b','));
    assert_eq!(detect_delim("a=1; b=two words; c=3;"), Some(b';'));
    assert_eq!(detect_delim(r#"a="x,y" b=1 c=2"#), None);
    assert_eq!(detect_delim("a=1 flags=SYN,ACK c=2"), None);
    assert_eq!(detect_delim("a=1 b=x,c=2"), None);
    assert_eq!(detect_delim("one=1"), None);
    assert_eq!(detect_delim("prefix text, a=1"), None);
    // The delimiter only inside quotes, or not between every pair.
    assert_eq!(detect_delim("a=',' b=1\tc=2"), None);
    assert_eq!(detect_delim("a=1, b=2 c=3"), None);
    let e = kv("action=block; src=1.2.3.4; dst=5.6.7.8; msg=port scan detected; proto=udp");
    assert_eq!(f(&e, "msg").as_deref(), Some("port scan detected"));
    assert_eq!(f(&e, "message").as_deref(), Some("port scan detected"));
    assert_eq!(f(&e, "proto").as_deref(), Some("udp"));
}

#[test]
fn prefix_flags_and_continuations() {
    let mut s = Scan::default();
    let line =
        "[  812.004] [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DF PROTO=TCP SYN OPT (020405B4) URGP=0";
    s.run(line);
    assert!(s.netfilter);
    assert_eq!(prefix_text(line, &s), "[UFW BLOCK]");
    let flags: Vec<&str> = s.flags.iter().map(|r| slice(line, *r)).collect();
    assert_eq!(flags, vec!["DF", "SYN", "OPT (020405B4)"]);
    // Outside netfilter, words after a bare value continue it.
    let line = "user=bob msg=User login failed for bob status=401 note=\"q\" TRAILING words";
    s.run(line);
    assert!(!s.netfilter);
    let e = kv(line);
    assert_eq!(f(&e, "msg").as_deref(), Some("User login failed for bob"));
    assert_eq!(e.get_name("status"), Some(&Value::Int(401)));
    assert_eq!(f(&e, "flags").as_deref(), Some("TRAILING, words"));
    assert_eq!(f(&e, "log_prefix"), None);
}

// ---------------------------------------------------------------- vendors

#[test]
fn fortigate_traffic() {
    let e = kv(
        r#"date=2024-05-01 time=10:00:00 devname="FG100E-HQ" devid="FG100ETK18000000" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" eventtime=1714550400123456789 tz="+0200" srcip=10.1.1.10 srcport=51234 srcintf="port1" srcintfrole="lan" dstip=93.184.216.34 dstport=443 dstintf="wan1" srccountry="Reserved" dstcountry="United States" sessionid=12345 proto=6 action="deny" policyid=12 policyname="Block-All" service="HTTPS" trandisp="noop" duration=3 sentbyte=1200 rcvdbyte=3400 sentpkt=10 rcvdpkt=12 user="jdoe" transip=203.0.113.10"#,
    );
    // Originals under their names, integers typed.
    assert_eq!(f(&e, "devname").as_deref(), Some("FG100E-HQ"));
    assert_eq!(e.get_name("srcport"), Some(&Value::Int(51234)));
    assert_eq!(f(&e, "logid").as_deref(), Some("0000000013"));
    assert_eq!(f(&e, "dstcountry").as_deref(), Some("United States"));
    // ECS.
    assert_eq!(f(&e, "source.ip").as_deref(), Some("10.1.1.10"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("51234"));
    assert_eq!(f(&e, "destination.ip").as_deref(), Some("93.184.216.34"));
    assert_eq!(f(&e, "destination.port").as_deref(), Some("443"));
    assert_eq!(f(&e, "network.transport").as_deref(), Some("tcp"));
    assert_eq!(f(&e, "network.iana_number").as_deref(), Some("6"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("deny"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("denied"));
    assert_eq!(f(&e, "event.category").as_deref(), Some("network"));
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    assert_eq!(f(&e, "rule.id").as_deref(), Some("12"));
    assert_eq!(f(&e, "rule.name").as_deref(), Some("Block-All"));
    assert_eq!(f(&e, "source.bytes").as_deref(), Some("1200"));
    assert_eq!(f(&e, "destination.bytes").as_deref(), Some("3400"));
    assert_eq!(f(&e, "source.packets").as_deref(), Some("10"));
    assert_eq!(f(&e, "destination.packets").as_deref(), Some("12"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("jdoe"));
    assert_eq!(f(&e, "observer.name").as_deref(), Some("FG100E-HQ"));
    assert_eq!(
        f(&e, "observer.serial_number").as_deref(),
        Some("FG100ETK18000000")
    );
    assert_eq!(f(&e, "observer.vendor").as_deref(), Some("Fortinet"));
    assert_eq!(f(&e, "observer.product").as_deref(), Some("FortiGate"));
    assert_eq!(
        f(&e, "observer.ingress.interface.name").as_deref(),
        Some("port1")
    );
    assert_eq!(
        f(&e, "observer.egress.interface.name").as_deref(),
        Some("wan1")
    );
    assert_eq!(f(&e, "event.code").as_deref(), Some("0000000013"));
    assert_eq!(f(&e, "log.level").as_deref(), Some("notice"));
    assert_eq!(f(&e, "event.category").as_deref(), Some("network"));
    assert_eq!(f(&e, "source.nat.ip").as_deref(), Some("203.0.113.10"));
    assert_eq!(
        e.get_name("event.duration"),
        Some(&Value::Int(3_000_000_000))
    );
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("kv.fortigate"));
    assert_eq!(f(&e, "event.module").as_deref(), Some("kv"));
    // eventtime (ns) wins over date+time; the written zone is kept.
    assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T08:00:00.123456789Z");
    assert_eq!(e.tz.map(TzOffset::secs), Some(7200));
}

#[test]
fn fortigate_behind_syslog_header() {
    let e = kv(
        r#"<189>date=2024-05-01 time=10:00:00 devname="FG60F" devid="FGT60FTK2209" logid="0000000013" type="traffic" tz="-0700" srcip=10.1.1.10 dstip=1.1.1.1 proto=17 action="accept""#,
    );
    let ips = kv(
        r#"devname="FG60F" devid="FGT60FTK2209" logid="0419016384" type="utm" subtype="ips" srcip=203.0.113.91 dstip=10.10.5.20 action="dropped" attack="Apache.Log4j""#,
    );
    assert_eq!(
        f(&ips, "event.category").as_deref(),
        Some("intrusion_detection, network")
    );
    assert_eq!(f(&ips, "event.type").as_deref(), Some("denied"));
    assert_eq!(f(&e, "log.syslog.priority").as_deref(), Some("189"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("allowed"));
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("success"));
    assert_eq!(f(&e, "network.transport").as_deref(), Some("udp"));
    // date + time + tz.
    assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T17:00:00Z");
    assert_eq!(e.tz.map(TzOffset::secs), Some(-7 * 3600));
    let e = kv(
        "<189>1 2024-05-01T10:00:05Z fw01 - - - - date=2024/05/01 time=10:00:00 devname=fw01 logid=0100032001 action=login user=admin",
    );
    assert_eq!(f(&e, "host.name").as_deref(), Some("fw01"));
    assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00Z");
    assert_eq!(e.tz, None);
    assert_eq!(f(&e, "event.action").as_deref(), Some("login"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("start"));
    assert_eq!(f(&e, "event.category").as_deref(), Some("authentication"));
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("kv.fortigate"));
}

#[test]
fn netfilter_and_ufw() {
    let e = kv(
        "Jan  1 12:00:00 fw kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:aa:bb:cc:00:16:3e:dd:ee:ff:08:00 SRC=203.0.113.9 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=TCP SPT=44321 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0",
    );
    assert_eq!(f(&e, "host.name").as_deref(), Some("fw"));
    assert_eq!(f(&e, "process.name").as_deref(), Some("kernel"));
    assert_eq!(f(&e, "OUT").as_deref(), Some(""));
    assert_eq!(e.get_name("TTL"), Some(&Value::Int(52)));
    assert_eq!(f(&e, "TOS").as_deref(), Some("0x00"));
    assert_eq!(f(&e, "log_prefix").as_deref(), Some("[UFW BLOCK]"));
    assert_eq!(
        e.get_name("flags"),
        Some(&Value::List(vec![Value::str("DF"), Value::str("SYN")]))
    );
    assert_eq!(
        f(&e, "destination.mac").as_deref(),
        Some("00-16-3E-AA-BB-CC")
    );
    assert_eq!(f(&e, "source.mac").as_deref(), Some("00-16-3E-DD-EE-FF"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.9"));
    assert_eq!(f(&e, "destination.port").as_deref(), Some("22"));
    assert_eq!(f(&e, "network.transport").as_deref(), Some("tcp"));
    assert_eq!(f(&e, "network.direction").as_deref(), Some("ingress"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("block"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("denied"));
    assert_eq!(f(&e, "observer.product").as_deref(), Some("ufw"));
    assert_eq!(f(&e, "observer.type").as_deref(), Some("firewall"));
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("kv.netfilter"));
    // A plain iptables LOG target with a custom prefix, outgoing, IPv6.
    let e = kv(
        "Jun  2 10:00:00 gw kernel: IPT-ACCEPT-OUT: IN= OUT=eth1 SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=1",
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("accept"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("allowed"));
    assert_eq!(f(&e, "network.direction").as_deref(), Some("egress"));
    assert_eq!(f(&e, "network.transport").as_deref(), Some("ipv6-icmp"));
    assert_eq!(f(&e, "observer.product").as_deref(), Some("iptables"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("2001:db8::1"));
    // No verdict word in the prefix: no action, still a network event.
    let e = kv(
        "Jun  2 10:00:00 gw kernel: [1.0] fwd IN=eth0 OUT=eth1 SRC=10.0.0.1 DST=10.0.0.2 PROTO=UDP SPT=1 DPT=2",
    );
    assert_eq!(f(&e, "event.action"), None);
    assert_eq!(f(&e, "event.type").as_deref(), Some("connection"));
    assert_eq!(f(&e, "network.direction"), None);
    assert_eq!(f(&e, "log_prefix").as_deref(), Some("fwd"));
}

#[test]
fn pfsense_and_generic_styles() {
    let e = kv(
        "filterlog: rule=5 interface=em0 dir=in action=pass proto=tcp src=192.168.1.10 dst=8.8.8.8 sport=50000 dport=53 bytes=120 packets=2",
    );
    assert_eq!(f(&e, "process.name"), None);
    assert_eq!(f(&e, "log_prefix").as_deref(), Some("filterlog:"));
    assert_eq!(f(&e, "rule.id").as_deref(), Some("5"));
    assert_eq!(f(&e, "network.direction").as_deref(), Some("ingress"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("allowed"));
    assert_eq!(f(&e, "network.bytes").as_deref(), Some("120"));
    assert_eq!(f(&e, "network.packets").as_deref(), Some("2"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("50000"));
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("kv.generic"));
    // Case-insensitive mapping, exact original names.
    let e = kv("SrcIP=10.0.0.1 DstIP=10.0.0.2 Action=DROP Protocol=17 User=Alice");
    assert_eq!(f(&e, "SrcIP").as_deref(), Some("10.0.0.1"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("10.0.0.1"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("drop"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("denied"));
    assert_eq!(f(&e, "network.transport").as_deref(), Some("udp"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("Alice"));
    // Values that are not what the key promises are left out of ECS.
    let e = kv("src=not-an-ip dst=999.1.1.1 sport=70000 proto=253 action=frobnicate srcmac=zz:zz");
    assert_eq!(f(&e, "source.ip"), None);
    assert_eq!(f(&e, "destination.ip"), None);
    assert_eq!(f(&e, "source.port"), None);
    assert_eq!(f(&e, "network.transport"), None);
    assert_eq!(f(&e, "network.iana_number").as_deref(), Some("253"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("frobnicate"));
    assert_eq!(f(&e, "event.type"), None);
    assert_eq!(f(&e, "event.outcome"), None);
    assert_eq!(f(&e, "source.mac"), None);
    assert_eq!(f(&e, "src").as_deref(), Some("not-an-ip"));
    let e = kv(
        "smac=aa-bb-cc-dd-ee-ff dmac=00:11:22:33:44:55 direction=outbound app=SSL url=https://example.com/a?b=1 reason=policy",
    );
    assert_eq!(f(&e, "source.mac").as_deref(), Some("AA-BB-CC-DD-EE-FF"));
    assert_eq!(
        f(&e, "destination.mac").as_deref(),
        Some("00-11-22-33-44-55")
    );
    assert_eq!(f(&e, "network.direction").as_deref(), Some("outbound"));
    assert_eq!(f(&e, "network.application").as_deref(), Some("ssl"));
    assert_eq!(f(&e, "url.domain").as_deref(), Some("example.com"));
    assert_eq!(f(&e, "event.reason").as_deref(), Some("policy"));
    // Logins on appliances, status words as outcome.
    let e = kv("devname=fw1 action=login status=failed user=admin srcip=198.51.100.250");
    assert_eq!(
        f(&e, "event.category").as_deref(),
        Some("authentication, network")
    );
    assert_eq!(f(&e, "event.type").as_deref(), Some("start"));
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    let e = kv("action=logout result=success user=admin");
    assert_eq!(f(&e, "event.category").as_deref(), Some("authentication"));
    assert_eq!(f(&e, "event.type").as_deref(), Some("end"));
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("success"));
    // A verdict decides the outcome even when a status says otherwise.
    let e = kv("action=deny status=ok src=1.2.3.4");
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    let e = kv("status=429 client_ip=203.0.113.45 fw=edge-1");
    assert_eq!(f(&e, "event.outcome"), None);
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.45"));
    assert_eq!(f(&e, "observer.name").as_deref(), Some("edge-1"));
}

#[test]
fn times() {
    let t = |line: &str| {
        let e = kv(line);
        (e.timestamp.to_rfc3339(), e.tz.map(TzOffset::secs))
    };
    assert_eq!(
        t("ts=1714550400 a=1"),
        ("2024-05-01T08:00:00Z".into(), None)
    );
    assert_eq!(
        t("ts=1714550400123 a=1"),
        ("2024-05-01T08:00:00.123Z".into(), None)
    );
    assert_eq!(
        t("ts=1714550400123456 a=1"),
        ("2024-05-01T08:00:00.123456Z".into(), None)
    );
    assert_eq!(
        t("ts=1714550400.5 a=1"),
        ("2024-05-01T08:00:00.500Z".into(), None)
    );
    assert_eq!(
        t("timestamp=2024-05-01T10:00:00+02:00 a=1"),
        ("2024-05-01T08:00:00Z".into(), Some(7200))
    );
    assert_eq!(
        t("date=2024-05-01 time=10:00:00 tz=UTC"),
        ("2024-05-01T10:00:00Z".into(), Some(0))
    );
    assert_eq!(
        t("date=2024-05-01 time=10:00:00.250 tz=\"+05:30\""),
        ("2024-05-01T04:30:00.250Z".into(), Some(19_800))
    );
    // An unknown zone name: the default zone applies, none is claimed.
    assert_eq!(
        t("date=2024-05-01 time=10:00:00 tz=Europe/Paris"),
        ("2024-05-01T10:00:00Z".into(), None)
    );
    assert_eq!(
        t("date=2024-05-01T10:00:00Z a=1"),
        ("2024-05-01T10:00:00Z".into(), Some(0))
    );
    // Broken times keep the receive time.
    assert_eq!(
        t("date=2024-13-01 time=10:00:00 a=1").0,
        "2024-06-15T12:00:00Z"
    );
    assert_eq!(t("ts=12345 a=1").0, "2024-06-15T12:00:00Z");
    assert_eq!(t("time=soon a=1").0, "2024-06-15T12:00:00Z");
    // The default zone is used for zone-less date + time.
    let o = ParseOptions {
        default_tz: TzOffset::from_secs(-3600),
        ..opts()
    };
    let mut e = crate::syslog::tests::one("x", Format::Syslog);
    let mut s = Scan::default();
    let line = "date=2024-05-01 time=10:00:00 a=1";
    s.run(line);
    map_ecs(line, &s, &mut e, &o);
    assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T11:00:00Z");
    assert_eq!(zone_offset("-0130").map(TzOffset::secs), Some(-5400));
    assert_eq!(zone_offset("+25"), None);
    assert_eq!(zone_offset("+1"), None);
}

#[test]
fn repeated_keys_and_reserved_names() {
    let e = kv("tag=a tag=b tag=c event.kind=alert host.name=evil msg=x");
    assert_eq!(
        e.get_name("tag"),
        Some(&Value::List(vec![
            Value::str("a"),
            Value::str("b"),
            Value::str("c")
        ]))
    );
    // Reserved names already set by the parser cannot be overwritten by the record.
    assert_eq!(f(&e, "event.kind").as_deref(), Some("event"));
    // Free ECS names may be set by the record itself.
    assert_eq!(f(&e, "host.name").as_deref(), Some("evil"));
    let e = kv("<14>Jun 1 10:00:00 realhost app: host.name=evil a=1 b=2");
    assert_eq!(f(&e, "host.name").as_deref(), Some("realhost"));
}

#[test]
fn huge_records_stay_linear() {
    // 60,000 pairs: the first MAX_TOKENS become fields, the rest is kept as text.
    let line: String = (0..60_000).map(|i| format!("k{i}={i} ")).collect();
    let start = std::time::Instant::now();
    let e = kv(&line);
    assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    assert_eq!(e.get_name("k0"), Some(&Value::Int(0)));
    assert_eq!(e.get_name("k255"), Some(&Value::Int(255)));
    assert_eq!(e.get_name("k256"), None);
    let rest = f(&e, "kv.unparsed").unwrap_or_default();
    assert!(rest.starts_with("k256=256 k257=257"), "{}", &rest[..40]);
    assert!(rest.ends_with("k59999=59999 "));
    // The same key repeated: one list, bounded.
    let line = "a=1 ".repeat(100_000);
    let e = kv(&line);
    assert!(matches!(e.get_name("a"), Some(Value::List(l)) if l.len() == MAX_TOKENS));
    // Flags count towards the bound too.
    let line = format!("IN=eth0 OUT= SRC=1.2.3.4 {}", "SYN ".repeat(100_000));
    let e = kv(&line);
    assert!(matches!(e.get_name("flags"), Some(Value::List(l)) if l.len() == MAX_TOKENS - 3));
    assert!(f(&e, "kv.unparsed").is_some_and(|r| r.starts_with("SYN SYN")));
}

#[test]
fn lines_without_pairs_are_kp005() {
    let (events, bad) = parse_all(
        b"no pairs here\n<14>Jun 1 10:00:00 h app: nothing either\nok=1\n",
        Format::Kv,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        bad.iter()
            .map(|b| (b.record, b.error.code.code()))
            .collect::<Vec<_>>(),
        vec![(1, "KP005"), (2, "KP005")]
    );
    assert!(bad[1].error.message.contains("nothing either"));
}

#[test]
fn sniffing_and_detection() {
    for yes in [
        "a=1 b=2 c=3",
        "<189>date=2024-05-01 time=10:00:00 devname=fw srcip=1.2.3.4",
        "Jan  1 12:00:00 fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP",
        "x=1,y=2,z=3",
        r#"devname="FG 100" msg="hello there world" action=deny"#,
    ] {
        assert!(sniff(yes), "{yes}");
    }
    for no in [
        "a=1 b=2",
        "the value a=1 is b=2 or c=3 and more words here",
        "plain text",
        "",
        "<14>Jun 1 10:00:00 h app: x=1 in text",
    ] {
        assert!(!sniff(no), "{no}");
    }
    assert_eq!(
        crate::detect(b"date=2024-05-01 time=10:00:00 devname=fw srcip=1.2.3.4 dstip=5.6.7.8\ndate=2024-05-01 time=10:00:01 devname=fw srcip=1.2.3.4 dstip=5.6.7.9\n"),
        Format::Kv
    );
    assert_eq!(
        crate::detect(b"Jan  1 12:00:00 fw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2\nJan  1 12:00:01 fw kernel: [UFW ALLOW] IN=eth0 OUT= SRC=1.2.3.5 DST=5.6.7.8 PROTO=UDP SPT=1 DPT=53\n"),
        Format::Kv
    );
}

#[test]
fn netfilter_enrichment_only_for_netfilter() {
    let mut e = crate::syslog::tests::one("x", Format::Syslog);
    let before = e.fields.len();
    assert!(!enrich_netfilter(
        "usb 1-1: new high-speed USB device",
        &mut e
    ));
    assert!(!enrich_netfilter("IN=eth0 OUT= no source", &mut e));
    assert_eq!(e.fields.len(), before);
    assert!(enrich_netfilter(
        "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8",
        &mut e
    ));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("1.2.3.4"));
}

#[test]
fn helpers() {
    assert_eq!(verdict("ACCEPT"), Some(true));
    assert_eq!(verdict("server-rst"), Some(true));
    assert_eq!(verdict("Rejected"), Some(false));
    assert_eq!(verdict("login"), None);
    assert_eq!(transport("6").as_deref(), Some("tcp"));
    assert_eq!(transport("1").as_deref(), Some("icmp"));
    assert_eq!(transport("58").as_deref(), Some("ipv6-icmp"));
    assert_eq!(transport("TCP").as_deref(), Some("tcp"));
    assert_eq!(transport("tcp/udp"), None);
    assert_eq!(transport(""), None);
    let mut buf = [0u8; 24];
    assert_eq!(lower("SrcIP", &mut buf), Some("srcip"));
    assert_eq!(lower(&"k".repeat(25), &mut buf), None);
    assert_eq!(
        ecs_mac(&["0a", "0b", "0c", "0d", "0e", "0f"]).as_deref(),
        Some("0A-0B-0C-0D-0E-0F")
    );
    assert_eq!(ecs_mac(&["0a", "0b", "0c"]), None);
    assert!(looks_kv("a=1 b=2 c=3 word"));
    assert!(!looks_kv("a=1 b=2 c=3 w x y"));
}

/// The tokenizer as it was before it scanned slices (byte by byte with checked indexing): the
/// reference the property test holds the current one to.
struct ReferenceTokens<'a> {
    b: &'a [u8],
    pos: usize,
    delim: Option<u8>,
}

impl ReferenceTokens<'_> {
    fn is_sep(&self, c: u8) -> bool {
        c == b' ' || c == b'\t' || Some(c) == self.delim
    }

    fn ends_bare(&self, c: u8) -> bool {
        match self.delim {
            Some(d) => c == d,
            None => c == b' ' || c == b'\t',
        }
    }
}

impl Iterator for ReferenceTokens<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        let b = self.b;
        while b.get(self.pos).is_some_and(|c| self.is_sep(*c)) {
            self.pos += 1;
        }
        let start = self.pos;
        if start >= b.len() {
            return None;
        }
        let mut i = start;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(*c, b'_' | b'-' | b'.' | b'@'))
        {
            i += 1;
        }
        if i > start && b.get(i) == Some(&b'=') {
            let key = (start, i);
            let vs = i + 1;
            if let Some(&q) = b.get(vs).filter(|c| **c == b'"' || **c == b'\'') {
                let mut j = vs + 1;
                loop {
                    match b.get(j) {
                        // An escaped byte never closes the value.
                        Some(b'\\') => j += 2,
                        Some(&c) if c == q => break,
                        Some(_) => j += 1,
                        None => break,
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
            let mut j = vs;
            while b.get(j).is_some_and(|c| !self.ends_bare(*c)) {
                j += 1;
            }
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
        let mut j = start + 1;
        while b.get(j).is_some_and(|c| !self.ends_bare(*c)) {
            j += 1;
        }
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

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// The tokenizer cuts every line, in every delimiter mode, exactly as the byte-by-byte
        /// reference does: quotes, escapes, delimiters and whitespace anywhere, and lines cut
        /// in the middle of a quoted value.
        #[test]
        fn tokens_are_those_of_the_reference(
            s in "([a-zA-Z0-9_.@-]{0,6}(=|==)?(\"([^\"\\\\]|\\\\.){0,8}\"?|'[ -~]{0,6}'?|[ -~]{0,8})[ ,;|\t]{0,2}){0,10}\\\\?",
            delim in prop_oneof![Just(None), Just(Some(b',')), Just(Some(b';')), Just(Some(b'|'))],
        ) {
            let got: Vec<Tok> = Tokens::new(&s, delim).collect();
            let want: Vec<Tok> = ReferenceTokens { b: s.as_bytes(), pos: 0, delim }.collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_all(&data, Format::Kv);
        }

        #[test]
        fn kv_shaped_text_never_panics(s in "([a-zA-Z_]{1,6}=(\"[^\"]{0,8}\"?|'[ -~]{0,6}|[ -~]{0,8})[ ,;\t]{1,2}){0,8}[ -~\\\\]{0,20}") {
            let _ = parse_all(s.as_bytes(), Format::Kv);
            let _ = sniff(&s);
        }

        #[test]
        fn pairs_round_trip(
            pairs in prop::collection::btree_map(
                "k[a-zA-Z0-9_.-]{0,10}",
                prop_oneof![
                    "[a-zA-Z0-9./:@-]{1,12}".prop_map(|v| (v, None)),
                    "\\PC{0,16}".prop_map(|v| (v, Some('"'))),
                    "[ -~]{0,16}".prop_map(|v| (v, Some('\''))),
                ],
                1..10,
            ),
            sep in prop_oneof![Just(" "), Just("  "), Just("\t")],
        ) {
            let line = pairs
                .iter()
                .map(|(k, (v, q))| match q {
                    None => format!("{k}={v}"),
                    Some(q) => {
                        let escaped = v.replace('\\', "\\\\").replace(*q, &format!("\\{q}"));
                        format!("{k}={q}{escaped}{q}")
                    }
                })
                .collect::<Vec<_>>()
                .join(sep);
            let e = one(&line, Format::Kv);
            for (k, (v, q)) in &pairs {
                let want = match q {
                    None => Value::infer(v),
                    Some(_) => Value::str(v),
                };
                prop_assert_eq!(e.get_name(k), Some(&want), "{} in {}", k, line);
            }
        }

        #[test]
        fn delimited_pairs_round_trip(
            pairs in prop::collection::btree_map("k[a-z0-9_]{0,8}", "[a-zA-Z0-9./:@-]{1,8}( [a-zA-Z0-9]{1,6})?", 2..8),
            delim in prop_oneof![Just(','), Just(';')],
        ) {
            let line = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(&format!("{delim} "));
            let e = one(&line, Format::Kv);
            for (k, v) in &pairs {
                prop_assert_eq!(e.get_name(k), Some(&Value::infer(v)), "{} in {}", k, line);
            }
        }
    }
}
