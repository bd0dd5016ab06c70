//! End-to-end tests of the engine: every modifier and condition form, with true and false cases,
//! log-source mappings, filters, and the prefilter's exactness.

use std::sync::Arc;

use kasbah_event::{Event, Source, Timestamp, Value};

use crate::compile::CompileOptions;
use crate::diag::Code;
use crate::engine::{Config, Engine, Hit};
use crate::logsource::Mappings;
use crate::matcher::Scratch;
use crate::ruleset::RuleSet;

fn cfg() -> Config {
    Config {
        mappings: Mappings::empty(),
        compile: CompileOptions::default(),
    }
}

fn build(texts: &[&str], cfg: &Config) -> Engine {
    let mut set = RuleSet::new();
    for (i, t) in texts.iter().enumerate() {
        set.add(&format!("rule{i}.yml"), t);
    }
    Engine::build(&set, cfg)
}

/// An engine with one rule whose detection section is `det` (indented by two spaces).
fn rule(det: &str) -> Engine {
    let e = build(
        &[&format!(
            "title: t\nid: r1\nlogsource: {{}}\ndetection:\n{det}"
        )],
        &cfg(),
    );
    let errors: Vec<_> = e.diagnostics().iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(e.stats().rules, 1);
    e
}

/// The code of the error a detection section produces.
fn rule_error(det: &str, cfg: &Config) -> Code {
    let e = build(
        &[&format!(
            "title: t\nid: r1\nlogsource: {{}}\ndetection:\n{det}"
        )],
        cfg,
    );
    assert_eq!(e.stats().rules, 0, "{det} should not load");
    e.diagnostics()
        .iter()
        .find(|d| d.is_error())
        .map(|d| d.code)
        .expect("an error")
}

fn ev(fields: &[(&str, Value)]) -> Event {
    let mut e = Event::new(
        Timestamp::from_nanos(0),
        Source::Input {
            name: Arc::from("test"),
        },
    );
    for (k, v) in fields {
        e.fields.set_name(k, v.clone());
    }
    e
}

fn s(v: &str) -> Value {
    Value::str(v)
}

/// Matches with the full engine, checking the result equals the exhaustive evaluation.
fn hits(e: &Engine, event: &Event) -> Vec<Hit> {
    let mut scratch = Scratch::new();
    let mut fast = Vec::new();
    e.matches(event, &mut scratch, &mut fast);
    let mut slow = Vec::new();
    e.matches_exhaustive(event, &mut scratch, &mut slow);
    assert_eq!(fast, slow, "prefilter changed the result for {event:?}");
    fast
}

fn m(e: &Engine, fields: &[(&str, Value)]) -> bool {
    !hits(e, &ev(fields)).is_empty()
}

#[test]
fn equality_is_case_insensitive_and_exact() {
    let e = rule("  sel:\n    Image: 'C:\\Windows\\cmd.exe'\n  condition: sel\n");
    assert!(m(&e, &[("Image", s("c:\\windows\\CMD.EXE"))]));
    assert!(!m(&e, &[("Image", s("C:\\Windows\\cmd.exe2"))]));
    assert!(!m(&e, &[("Image", s("x C:\\Windows\\cmd.exe"))]));
    assert!(!m(&e, &[("Other", s("C:\\Windows\\cmd.exe"))]));
    assert!(!m(&e, &[]));
}

#[test]
fn wildcards_and_escapes() {
    let e = rule("  sel:\n    Image: 'C:\\\\*\\cmd?.exe'\n  condition: sel\n");
    assert!(m(&e, &[("Image", s("C:\\Windows\\System32\\cmd1.exe"))]));
    assert!(m(&e, &[("Image", s("c:\\x\\CMDé.exe"))]));
    assert!(!m(&e, &[("Image", s("C:\\Windows\\cmd.exe"))]));
    assert!(!m(&e, &[("Image", s("D:\\x\\cmd1.exe"))]));
    // Escaped wildcards are literal.
    let e = rule("  sel:\n    Path: 'a\\*b\\?'\n  condition: sel\n");
    assert!(m(&e, &[("Path", s("A*B?"))]));
    assert!(!m(&e, &[("Path", s("axxb?"))]));
    // Several stars, in order.
    let e = rule("  sel:\n    CommandLine: '*net*user*/add*'\n  condition: sel\n");
    assert!(m(&e, &[("CommandLine", s("NET USER bob pw /ADD"))]));
    assert!(!m(&e, &[("CommandLine", s("user net /add"))]));
    // `*` alone matches any present value, including empty.
    let e = rule("  sel:\n    Field: '*'\n  condition: sel\n");
    assert!(m(&e, &[("Field", s(""))]));
    assert!(!m(&e, &[]));
}

#[test]
fn contains_startswith_endswith() {
    let e = rule("  sel:\n    CommandLine|contains: 'DownloadString'\n  condition: sel\n");
    assert!(m(
        &e,
        &[(
            "CommandLine",
            s("IEX (New-Object Net.WebClient).downloadstring('x')")
        )]
    ));
    assert!(!m(&e, &[("CommandLine", s("Download String"))]));
    let e = rule("  sel:\n    Image|startswith: 'C:\\Users\\'\n  condition: sel\n");
    assert!(m(&e, &[("Image", s("c:\\users\\bob\\a.exe"))]));
    assert!(!m(&e, &[("Image", s("D:\\c:\\users\\"))]));
    let e = rule(
        "  sel:\n    Image|endswith:\n      - '\\powershell.exe'\n      - '\\pwsh.exe'\n  condition: sel\n",
    );
    assert!(m(&e, &[("Image", s("C:\\x\\PWSH.EXE"))]));
    assert!(!m(&e, &[("Image", s("C:\\x\\pwsh.exe.bak"))]));
}

#[test]
fn non_ascii_case_insensitivity() {
    let e = rule("  sel:\n    Message|contains: 'ÄRGER straße'\n  condition: sel\n");
    assert!(!m(&e, &[("Message", s("so ein ärger STRASSE"))]));
    assert!(m(&e, &[("Message", s("so ein ärger STRAßE!"))]));
    assert!(m(&e, &[("Message", s("ÄRGER STRAßE"))]));
    assert!(!m(&e, &[("Message", s("arger strasse"))]));
    let e = rule("  sel:\n    User: 'ΣΩΚΡΆΤΗΣ'\n  condition: sel\n");
    assert!(m(&e, &[("User", s("σωκράτησ"))]));
}

#[test]
fn all_modifier_and_lists() {
    let e = rule(
        "  sel:\n    CommandLine|contains|all:\n      - ' -w '\n      - 'hidden'\n  condition: sel\n",
    );
    assert!(m(&e, &[("CommandLine", s("powershell -w Hidden -c x"))]));
    assert!(!m(&e, &[("CommandLine", s("powershell -w normal"))]));
    // A list value on the event: any element.
    let e = rule("  sel:\n    Tags: evil\n  condition: sel\n");
    assert!(m(&e, &[("Tags", Value::List(vec![s("good"), s("EVIL")]))]));
    assert!(!m(&e, &[("Tags", Value::List(vec![s("good")]))]));
}

#[test]
fn numbers_booleans_and_text() {
    let e = rule("  sel:\n    EventID: 4688\n  condition: sel\n");
    assert!(m(&e, &[("EventID", Value::Int(4688))]));
    assert!(m(&e, &[("EventID", s("4688"))]));
    assert!(m(&e, &[("EventID", Value::Float(4688.0))]));
    assert!(!m(&e, &[("EventID", Value::Int(4689))]));
    let e = rule("  sel:\n    EventID: '4688'\n  condition: sel\n");
    assert!(m(&e, &[("EventID", Value::Int(4688))]));
    let e = rule("  sel:\n    EventID:\n      - 1\n      - 4688\n  condition: sel\n");
    assert!(m(&e, &[("EventID", Value::Int(1))]));
    assert!(!m(&e, &[("EventID", Value::Int(2))]));
    let e = rule("  sel:\n    Enabled: true\n  condition: sel\n");
    assert!(m(&e, &[("Enabled", Value::Bool(true))]));
    assert!(m(&e, &[("Enabled", s("True"))]));
    assert!(!m(&e, &[("Enabled", Value::Bool(false))]));
}

#[test]
fn null_values() {
    let e = rule("  sel:\n    CommandLine: null\n  condition: sel\n");
    assert!(m(&e, &[]));
    assert!(m(&e, &[("CommandLine", Value::Null)]));
    assert!(m(&e, &[("CommandLine", s(""))]));
    assert!(!m(&e, &[("CommandLine", s("x"))]));
    // Empty string: present and empty (or null), but not absent.
    let e = rule("  sel:\n    CommandLine: ''\n  condition: sel\n");
    assert!(m(&e, &[("CommandLine", s(""))]));
    assert!(!m(&e, &[]));
    assert!(!m(&e, &[("CommandLine", s("x"))]));
}

#[test]
fn base64_and_utf16() {
    let e = rule("  sel:\n    Data|base64: 'abc'\n  condition: sel\n");
    assert!(m(&e, &[("Data", s("YWJj"))]));
    assert!(!m(&e, &[("Data", s("abc"))]));
    let e = rule("  sel:\n    Data|base64|contains: 'http://'\n  condition: sel\n");
    assert!(m(&e, &[("Data", s("xx aHR0cDovLw== yy"))]));
    // base64offset: the value anywhere inside a base64 blob.
    let e = rule("  sel:\n    CommandLine|base64offset|contains: 'IEX'\n  condition: sel\n");
    for prefix in ["", "a", "ab", "abc"] {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}IEX (x)"));
        assert!(
            m(&e, &[("CommandLine", s(&format!("-enc {enc}")))]),
            "{prefix}"
        );
    }
    assert!(!m(&e, &[("CommandLine", s("-enc QUJD"))]));
    // wide + base64offset: PowerShell -EncodedCommand is UTF-16LE.
    let e = rule(
        "  sel:\n    CommandLine|wide|base64offset|contains: 'Invoke-Mimikatz'\n  condition: sel\n",
    );
    use base64::Engine as _;
    let utf16: Vec<u8> = "& Invoke-Mimikatz -dump"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let enc = base64::engine::general_purpose::STANDARD.encode(utf16);
    assert!(m(
        &e,
        &[("CommandLine", s(&format!("powershell -enc {enc}")))]
    ));
    let plain: Vec<u8> = "& Invoke-Mimikatz".bytes().collect();
    let enc8 = base64::engine::general_purpose::STANDARD.encode(plain);
    assert!(!m(
        &e,
        &[("CommandLine", s(&format!("powershell -enc {enc8}")))]
    ));
    // utf16 alone: the value with NULs between characters.
    let e = rule("  sel:\n    Blob|utf16le|contains: 'ab'\n  condition: sel\n");
    assert!(m(&e, &[("Blob", s("x a\0b\0 y"))]));
    assert!(!m(&e, &[("Blob", s("ab"))]));
    let e = rule("  sel:\n    Blob|utf16be: 'ab'\n  condition: sel\n");
    assert!(m(&e, &[("Blob", s("\0a\0b"))]));
    let e = rule("  sel:\n    Blob|utf16|base64: 'a'\n  condition: sel\n");
    // FF FE 61 00 -> "//5hAA=="
    assert!(m(&e, &[("Blob", s("//5hAA=="))]));
    // Wildcards cannot be encoded.
    assert_eq!(
        rule_error("  sel:\n    Blob|base64: 'a*'\n  condition: sel\n", &cfg()),
        Code::ModifierValue
    );
}

#[test]
fn windash() {
    let e =
        rule("  sel:\n    CommandLine|windash|contains: ' -encodedcommand '\n  condition: sel\n");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            m(
                &e,
                &[(
                    "CommandLine",
                    s(&format!("powershell {dash}EncodedCommand abc"))
                )]
            ),
            "{dash}"
        );
    }
    assert!(!m(
        &e,
        &[("CommandLine", s("powershell _encodedcommand abc"))]
    ));
    assert!(!m(
        &e,
        &[("CommandLine", s("powershell encodedcommand abc"))]
    ));
    // Dashes inside words are not flags and stay literal.
    let e = rule("  sel:\n    CommandLine|windash|contains: 'x-y'\n  condition: sel\n");
    assert!(m(&e, &[("CommandLine", s("ax-yb"))]));
    assert!(!m(&e, &[("CommandLine", s("ax/yb"))]));
    // Up to three flags expand into plain strings, more stay a regex: both match every mix of
    // dashes, with wildcards between the flags.
    for (pattern, flags) in [(" -a* -b", 2), (" -a -b -c -d", 4)] {
        let e = rule(&format!(
            "  sel:\n    CommandLine|windash|contains: '{pattern}'\n  condition: sel\n"
        ));
        let mixes = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];
        for (i, first) in mixes.iter().enumerate() {
            let second = mixes[(i + 2) % mixes.len()];
            // The pattern with its flags' dashes replaced in turn, and text for its wildcard.
            let text: String = pattern
                .split('-')
                .enumerate()
                .map(|(k, piece)| match k {
                    0 => piece.to_owned(),
                    k if k % 2 == 1 => format!("{first}{piece}"),
                    _ => format!("{second}{piece}"),
                })
                .collect::<String>()
                .replace('*', " xyz");
            assert_eq!(
                text.matches(' ').count(),
                flags + pattern.matches('*').count()
            );
            assert!(
                m(&e, &[("CommandLine", s(&format!("cmd{text}")))]),
                "{text}"
            );
            assert!(!m(
                &e,
                &[(
                    "CommandLine",
                    s(&format!("cmd{}", text.replace(first, "+")))
                )]
            ));
        }
    }
    // windash before an encoding expands the variants.
    let e =
        rule("  sel:\n    CommandLine|windash|base64offset|contains: ' -p'\n  condition: sel\n");
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::STANDARD.encode("cmd /p x");
    assert!(m(&e, &[("CommandLine", s(&enc))]));
    // Encoded, every dash expands: four flags are 625 strings, five more than the limit.
    let flags = |n: usize| {
        let value: String = (0..n).map(|i| format!(" -f{i}")).collect();
        format!("  sel:\n    CommandLine|windash|base64: '{value}'\n  condition: sel\n")
    };
    let e = rule(&flags(4));
    let enc = base64::engine::general_purpose::STANDARD.encode(" /f0 -f1 \u{2013}f2 /f3");
    assert!(m(&e, &[("CommandLine", s(&enc))]));
    assert_eq!(rule_error(&flags(5), &cfg()), Code::ModifierValue);
}

#[test]
fn regular_expressions() {
    let e = rule("  sel:\n    CommandLine|re: '\\s-[eE]nc\\s'\n  condition: sel\n");
    assert!(m(&e, &[("CommandLine", s("ps -enc x"))]));
    // Unicode word boundaries: the lazy DFA answers on ASCII text and gives up next to other
    // text, where the PikeVM answers; both must agree with Unicode's idea of a word.
    let e = rule("  sel:\n    Text|re: '\\bcaf\\w\\b'\n  condition: sel\n");
    assert!(m(&e, &[("Text", s("un café noir"))]));
    assert!(m(&e, &[("Text", s("a cafe b"))]));
    assert!(!m(&e, &[("Text", s("cafés"))]));
    assert!(!m(&e, &[("Text", s("xcafe"))]));
    // Groups and alternations of a rule's regex only decide whether it matches.
    let e = rule("  sel:\n    CommandLine|re: '(?:a|(b))+c$'\n  condition: sel\n");
    assert!(m(&e, &[("CommandLine", s("zzabbac"))]));
    assert!(!m(&e, &[("CommandLine", s("abca"))]));
    assert!(!m(&e, &[("CommandLine", s("ps -ENC x"))]));
    let e = rule("  sel:\n    CommandLine|re|i: 'mimi[a-z]+'\n  condition: sel\n");
    assert!(m(&e, &[("CommandLine", s("run MIMIKATZ"))]));
    assert!(!m(&e, &[("CommandLine", s("run mimi"))]));
    let e = rule("  sel:\n    Text|re|m: '^second$'\n  condition: sel\n");
    assert!(m(&e, &[("Text", s("first\nsecond\nthird"))]));
    let e = rule("  sel:\n    Text|re: '^second$'\n  condition: sel\n");
    assert!(!m(&e, &[("Text", s("first\nsecond\nthird"))]));
    let e = rule("  sel:\n    Text|re|s: 'a.b'\n  condition: sel\n");
    assert!(m(&e, &[("Text", s("a\nb"))]));
    let e = rule("  sel:\n    Text|re: 'a.b'\n  condition: sel\n");
    assert!(!m(&e, &[("Text", s("a\nb"))]));
    // Numbers are matched on their text.
    let e = rule("  sel:\n    EventID|re: '^46[0-9]{2}$'\n  condition: sel\n");
    assert!(m(&e, &[("EventID", Value::Int(4688))]));
    // Backtracking constructs are refused.
    assert_eq!(
        rule_error("  sel:\n    X|re: '(?=a)b'\n  condition: sel\n", &cfg()),
        Code::Regex
    );
    assert_eq!(
        rule_error("  sel:\n    X|re: '(a)\\1'\n  condition: sel\n", &cfg()),
        Code::Regex
    );
    assert_eq!(
        rule_error("  sel:\n    X|re: '(unclosed'\n  condition: sel\n", &cfg()),
        Code::Regex
    );
    // Regexes compile at their first use, but one over the size limit is still reported when
    // its rule loads.
    assert_eq!(
        rule_error(
            "  sel:\n    X|re: '\\w{1000}{1000}'\n  condition: sel\n",
            &cfg()
        ),
        Code::Regex
    );
}

#[test]
fn cidr() {
    let e = rule(
        "  sel:\n    DestinationIp|cidr:\n      - '10.0.0.0/8'\n      - 'fe80::/10'\n  condition: sel\n",
    );
    assert!(m(&e, &[("DestinationIp", s("10.20.30.40"))]));
    assert!(m(&e, &[("DestinationIp", s("FE80::1"))]));
    assert!(m(&e, &[("DestinationIp", s("::ffff:10.0.0.1"))]));
    assert!(!m(&e, &[("DestinationIp", s("11.0.0.1"))]));
    assert!(!m(&e, &[("DestinationIp", s("not an ip"))]));
    assert_eq!(
        rule_error(
            "  sel:\n    Ip|cidr: '10.0.0.0/99'\n  condition: sel\n",
            &cfg()
        ),
        Code::ModifierValue
    );
}

#[test]
fn exists_and_cased() {
    let e = rule("  sel:\n    Hashes|exists: true\n  condition: sel\n");
    assert!(m(&e, &[("Hashes", s(""))]));
    assert!(!m(&e, &[("Other", s("x"))]));
    let e = rule("  sel:\n    Hashes|exists: false\n  condition: sel\n");
    assert!(m(&e, &[("Other", s("x"))]));
    assert!(!m(&e, &[("Hashes", Value::Null)]));
    let e = rule("  sel:\n    Name|cased: 'Admin'\n  condition: sel\n");
    assert!(m(&e, &[("Name", s("Admin"))]));
    assert!(!m(&e, &[("Name", s("admin"))]));
    let e = rule("  sel:\n    Name|contains|cased: 'dMi'\n  condition: sel\n");
    assert!(m(&e, &[("Name", s("AdMin"))]));
    assert!(!m(&e, &[("Name", s("ADMIN"))]));
}

#[test]
fn fieldref() {
    let e = rule("  sel:\n    TargetFilename|fieldref: Image\n  condition: sel\n");
    assert!(m(
        &e,
        &[
            ("TargetFilename", s("C:\\a.exe")),
            ("Image", s("c:\\A.EXE"))
        ]
    ));
    assert!(!m(
        &e,
        &[
            ("TargetFilename", s("C:\\a.exe")),
            ("Image", s("C:\\b.exe"))
        ]
    ));
    assert!(!m(&e, &[("TargetFilename", s("C:\\a.exe"))]));
    let e = rule("  sel:\n    CommandLine|fieldref|contains: User\n  condition: sel\n");
    assert!(m(
        &e,
        &[("CommandLine", s("runas /user:BOB x")), ("User", s("bob"))]
    ));
    assert!(!m(&e, &[("CommandLine", s("runas x")), ("User", s("bob"))]));
    let e = rule("  sel:\n    User|fieldref|neq: ParentUser\n  condition: sel\n");
    assert!(m(&e, &[("User", s("alice")), ("ParentUser", s("bob"))]));
    assert!(!m(&e, &[("User", s("alice")), ("ParentUser", s("ALICE"))]));
    let e = rule("  sel:\n    User|fieldref|cased: ParentUser\n  condition: sel\n");
    assert!(!m(&e, &[("User", s("alice")), ("ParentUser", s("ALICE"))]));
    assert!(m(&e, &[("User", s("alice")), ("ParentUser", s("alice"))]));
}

#[test]
fn expand_placeholders() {
    let det = "  sel:\n    SubjectUserName|expand: '%admins%'\n  condition: sel\n";
    assert_eq!(rule_error(det, &cfg()), Code::Placeholder);
    let mut c = cfg();
    c.compile
        .placeholders
        .insert("admins".into(), vec!["root".into(), "adm_*".into()]);
    let e = build(
        &[&format!("title: t\nlogsource: {{}}\ndetection:\n{det}")],
        &c,
    );
    assert_eq!(e.stats().rules, 1, "{:?}", e.diagnostics());
    let ok = |v: &str| !hits(&e, &ev(&[("SubjectUserName", s(v))])).is_empty();
    assert!(ok("ROOT"));
    assert!(ok("adm_bob"));
    assert!(!ok("bob"));
    // Text around the placeholder stays; '%' outside placeholders is literal.
    let det = "  sel:\n    Path|expand|startswith: 'C:\\Users\\%admins%\\'\n  condition: sel\n";
    let e = build(
        &[&format!("title: t\nlogsource: {{}}\ndetection:\n{det}")],
        &c,
    );
    assert!(!hits(&e, &ev(&[("Path", s("C:\\Users\\root\\x"))])).is_empty());
    assert!(hits(&e, &ev(&[("Path", s("C:\\Users\\bob\\x"))])).is_empty());
}

#[test]
fn numeric_comparisons_and_neq() {
    let e = rule("  sel:\n    Size|gt: 100\n  condition: sel\n");
    assert!(m(&e, &[("Size", Value::Int(101))]));
    assert!(m(&e, &[("Size", s("100.5"))]));
    assert!(!m(&e, &[("Size", Value::Int(100))]));
    assert!(!m(&e, &[("Size", s("big"))]));
    assert!(!m(&e, &[]));
    let e = rule("  sel:\n    Size|gte: 100\n  condition: sel\n");
    assert!(m(&e, &[("Size", Value::Int(100))]));
    let e = rule("  sel:\n    Size|lt: 0.5\n  condition: sel\n");
    assert!(m(&e, &[("Size", Value::Float(0.25))]));
    assert!(!m(&e, &[("Size", Value::Float(0.5))]));
    let e = rule("  sel:\n    Size|lte: -1\n  condition: sel\n");
    assert!(m(&e, &[("Size", Value::Int(-1))]));
    assert!(!m(&e, &[("Size", Value::Int(0))]));
    let e = rule("  sel:\n    Status|neq:\n      - success\n      - ok\n  condition: sel\n");
    assert!(m(&e, &[("Status", s("failure"))]));
    assert!(!m(&e, &[("Status", s("SUCCESS"))]));
    assert!(!m(&e, &[("Status", s("ok"))]));
    assert!(!m(&e, &[]));
    let e = rule("  sel:\n    LogonType|neq: 3\n  condition: sel\n");
    assert!(m(&e, &[("LogonType", Value::Int(10))]));
    assert!(!m(&e, &[("LogonType", Value::Int(3))]));
}

#[test]
fn time_parts() {
    let e = rule("  sel:\n    UtcTime|hour|gte: 22\n  condition: sel\n");
    assert!(m(&e, &[("UtcTime", s("2024-03-14 23:05:09.123"))]));
    assert!(!m(&e, &[("UtcTime", s("2024-03-14 08:05:09.123"))]));
    assert!(!m(&e, &[("UtcTime", s("not a date"))]));
    let e = rule("  sel:\n    When|minute: 5\n  condition: sel\n");
    assert!(m(&e, &[("When", s("2024-03-14T23:05:09Z"))]));
    assert!(!m(&e, &[("When", s("2024-03-14T23:06:09Z"))]));
    let e = rule("  sel:\n    When|day: 14\n  condition: sel\n");
    assert!(m(&e, &[("When", s("2024-03-14"))]));
    let e = rule("  sel:\n    When|week: 11\n  condition: sel\n");
    assert!(m(&e, &[("When", s("2024-03-14"))]));
    let e = rule("  sel:\n    When|month|lt: 4\n  condition: sel\n");
    assert!(m(&e, &[("When", s("2024-03-14"))]));
    assert!(!m(&e, &[("When", s("2024-04-14"))]));
    let e = rule("  sel:\n    When|year: 2023\n  condition: sel\n");
    assert!(m(&e, &[("When", Value::Int(1_700_000_000))]));
    assert!(!m(&e, &[("When", Value::Int(1_800_000_000))]));
    // @timestamp is the event's own time.
    let e = rule("  sel:\n    '@timestamp|year': 1970\n  condition: sel\n");
    assert!(m(&e, &[]));
}

#[test]
fn keywords_search_every_string_value() {
    let e = rule("  keywords:\n    - 'mimikatz'\n    - 'sekurlsa::*'\n  condition: keywords\n");
    assert!(m(&e, &[("message", s("running Mimikatz now"))]));
    assert!(m(&e, &[("CommandLine", s("x SEKURLSA::logonpasswords"))]));
    assert!(!m(&e, &[("message", s("nothing here"))]));
    let e = rule("  keywords:\n    '|all':\n      - 'foo'\n      - 'bar'\n  condition: keywords\n");
    assert!(m(&e, &[("a", s("foo")), ("b", s("BAR"))]));
    assert!(!m(&e, &[("a", s("foo"))]));
    let e = rule("  keywords:\n    '|re': 'ab+c'\n  condition: keywords\n");
    assert!(m(&e, &[("a", s("xabbbcx"))]));
    let e = rule("  keywords: 'single'\n  condition: keywords\n");
    assert!(m(&e, &[("a", s("a single word"))]));
}

#[test]
fn conditions() {
    let det = "  a:\n    A: 1\n  b:\n    B: 1\n  c:\n    C: 1\n";
    let check = |cond: &str, cases: &[(&[&str], bool)]| {
        let e = rule(&format!("{det}  condition: {cond}\n"));
        for (set, want) in cases {
            let fields: Vec<(&str, Value)> = set.iter().map(|k| (*k, Value::Int(1))).collect();
            assert_eq!(m(&e, &fields), *want, "{cond} with {set:?}");
        }
    };
    check("a and b", &[(&["A", "B"], true), (&["A"], false)]);
    check("a or b", &[(&["B"], true), (&[], false)]);
    check("not a", &[(&[], true), (&["A"], false)]);
    check("a and not b", &[(&["A"], true), (&["A", "B"], false)]);
    check(
        "a or b and c",
        &[(&["A"], true), (&["B"], false), (&["B", "C"], true)],
    );
    check("(a or b) and c", &[(&["A"], false), (&["A", "C"], true)]);
    check("1 of them", &[(&["C"], true), (&[], false)]);
    check("any of them", &[(&["C"], true)]);
    check(
        "all of them",
        &[(&["A", "B", "C"], true), (&["A", "B"], false)],
    );
    check("2 of them", &[(&["A", "C"], true), (&["A"], false)]);
    check("not 1 of them", &[(&[], true), (&["B"], false)]);
    let det2 = "  sel_x:\n    X: 1\n  sel_y:\n    Y: 1\n  filter:\n    F: 1\n";
    let e = rule(&format!("{det2}  condition: 1 of sel_* and not filter\n"));
    assert!(m(&e, &[("Y", Value::Int(1))]));
    assert!(!m(&e, &[("Y", Value::Int(1)), ("F", Value::Int(1))]));
    let e = rule(&format!("{det2}  condition: all of sel_*\n"));
    assert!(m(&e, &[("X", Value::Int(1)), ("Y", Value::Int(1))]));
    assert!(!m(&e, &[("X", Value::Int(1))]));
    // A list of maps is an OR of ANDs.
    let e = rule("  sel:\n    - A: 1\n      B: 1\n    - C: 1\n  condition: sel\n");
    assert!(m(&e, &[("A", Value::Int(1)), ("B", Value::Int(1))]));
    assert!(m(&e, &[("C", Value::Int(1))]));
    assert!(!m(&e, &[("A", Value::Int(1))]));
}

#[test]
fn process_creation_resolves_for_sysmon_and_4688() {
    let text = "title: Whoami\nid: w1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n    ParentImage|endswith: '\\cmd.exe'\n  condition: sel\n";
    let e = build(&[text], &Config::default());
    assert_eq!(e.stats().rules, 1, "{:?}", e.diagnostics());
    let sysmon = ev(&[
        ("Channel", s("Microsoft-Windows-Sysmon/Operational")),
        ("EventID", Value::Int(1)),
        ("Image", s("C:\\Windows\\System32\\whoami.exe")),
        ("ParentImage", s("C:\\Windows\\System32\\cmd.exe")),
    ]);
    assert_eq!(hits(&e, &sysmon).len(), 1);
    let security = ev(&[
        ("Channel", s("Security")),
        ("EventID", Value::Int(4688)),
        ("NewProcessName", s("C:\\Windows\\System32\\whoami.exe")),
        ("ParentProcessName", s("C:\\Windows\\System32\\cmd.exe")),
    ]);
    let h = hits(&e, &security);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].variant, 1);
    // Same fields in another channel or event id: no match.
    let other = ev(&[
        ("Channel", s("Microsoft-Windows-Sysmon/Operational")),
        ("EventID", Value::Int(3)),
        ("Image", s("C:\\Windows\\System32\\whoami.exe")),
        ("ParentImage", s("C:\\Windows\\System32\\cmd.exe")),
    ]);
    assert!(hits(&e, &other).is_empty());
    let linux = ev(&[
        ("event.module", s("auditd")),
        ("Image", s("/usr/bin/whoami.exe")),
        ("ParentImage", s("\\cmd.exe")),
    ]);
    assert!(hits(&e, &linux).is_empty());
}

#[test]
fn unmapped_log_sources_warn_and_use_ecs() {
    let text = "title: Acme\nlogsource:\n  product: acme\ndetection:\n  sel:\n    action: deny\n  condition: sel\n";
    let e = build(&[text], &Config::default());
    assert_eq!(e.stats().rules, 1);
    assert!(
        e.diagnostics()
            .iter()
            .any(|d| d.code == Code::UnmappedLogSource)
    );
    assert!(
        !hits(
            &e,
            &ev(&[("event.module", s("acme")), ("action", s("deny"))])
        )
        .is_empty()
    );
    assert!(
        hits(
            &e,
            &ev(&[("event.module", s("other")), ("action", s("deny"))])
        )
        .is_empty()
    );
}

#[test]
fn filters_apply_to_their_rules() {
    let rule_text = "title: Rar\nid: rar-1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\rar.exe'\n  condition: sel\n";
    let other = "title: Other\nid: other-1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\rar.exe'\n  condition: sel\n";
    let filter = "title: Not admins\nlogsource:\n  product: windows\nfilter:\n  rules:\n    - rar-1\n    - missing-rule\n  selection:\n    User|startswith: 'adm_'\n  condition: not selection\n";
    let e = build(&[rule_text, other, filter], &Config::default());
    assert_eq!(e.stats().filters, 1);
    assert!(e.diagnostics().iter().any(|d| d.code == Code::FilterTarget));
    let base = [
        ("Channel", s("Microsoft-Windows-Sysmon/Operational")),
        ("EventID", Value::Int(1)),
        ("Image", s("C:\\x\\rar.exe")),
    ];
    let mut admin = base.to_vec();
    admin.push(("User", s("adm_bob")));
    let names = |h: Vec<Hit>| -> Vec<String> {
        h.iter()
            .filter_map(|h| e.rule(h.rule).and_then(|r| r.meta.id.clone()))
            .collect()
    };
    assert_eq!(names(hits(&e, &ev(&base))), vec!["rar-1", "other-1"]);
    assert_eq!(names(hits(&e, &ev(&admin))), vec!["other-1"]);
    // `rules: any` with an incompatible log source does not apply.
    let f2 = "title: Linux only\nlogsource:\n  product: linux\nfilter:\n  rules: any\n  s:\n    Image|endswith: rar.exe\n  condition: not s\n";
    let e = build(&[rule_text, f2], &Config::default());
    assert_eq!(e.stats().filters, 0);
    assert_eq!(hits(&e, &ev(&base)).len(), 1);
}

#[test]
fn duplicate_ids_are_skipped() {
    let a = "title: A\nid: same\nlogsource: {}\ndetection:\n  s: {x: 1}\n  condition: s\n";
    let e = build(&[a, a], &cfg());
    assert_eq!(e.stats().rules, 1);
    assert!(e.diagnostics().iter().any(|d| d.code == Code::DuplicateId));
}

/// Without keyword rules the prefilter scans only the fields the rules read, and through an
/// alias the field it points to; literals elsewhere in the event are not looked at.
#[test]
fn prefilter_scans_the_fields_rules_read_and_their_aliases() {
    let rules = [
        "title: a\nlogsource: {}\ndetection:\n  s:\n    CommandLine|contains: whoami\n  condition: s\n",
        "title: b\nlogsource: {}\ndetection:\n  s:\n    Image|endswith: '\\evil.exe'\n  condition: s\n",
    ];
    let e = build(&rules, &cfg());
    assert_eq!(e.stats().rules, 2, "{:?}", e.diagnostics());
    // In the field the rule reads.
    assert_eq!(
        hits(&e, &ev(&[("CommandLine", s("cmd /c WHOAMI"))])).len(),
        1
    );
    // Elsewhere: no candidate, and (checked in `hits`) the same answer as exhaustive evaluation.
    assert!(
        hits(
            &e,
            &ev(&[("Other", s("whoami")), ("Image", s("c:\\x\\evil.exe.txt"))])
        )
        .is_empty()
    );
    // Stored under another name with the rule's name as an alias: found through the alias.
    let mut aliased = ev(&[("process.command_line", s("whoami /all"))]);
    let target = kasbah_event::FieldId::intern("process.command_line");
    aliased.fields.alias_name("CommandLine", target);
    assert_eq!(hits(&e, &aliased).len(), 1);
    let mut both = ev(&[
        ("process.executable", s("C:\\tmp\\EVIL.EXE")),
        ("process.command_line", s("whoami")),
    ]);
    both.fields
        .alias_name("Image", kasbah_event::FieldId::intern("process.executable"));
    assert_eq!(
        hits(&e, &both).len(),
        1,
        "only the Image rule: no alias for CommandLine"
    );
}

#[test]
fn prefilter_is_exact_on_many_random_events() {
    // Several rules with literals, numbers, negations and keywords; events built from the same
    // vocabulary must get identical results with and without the prefilter (checked in `hits`).
    let rules = [
        "title: a\nlogsource: {}\ndetection:\n  s:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: whoami\n  condition: s\n",
        "title: b\nlogsource: {}\ndetection:\n  s:\n    CommandLine|contains|all: [net, user]\n  f:\n    User: SYSTEM\n  condition: s and not f\n",
        "title: c\nlogsource: {}\ndetection:\n  s:\n    EventID: 4688\n  condition: s\n",
        "title: d\nlogsource: {}\ndetection:\n  k:\n    - mimikatz\n    - 'sekurlsa'\n  condition: k\n",
        "title: e\nlogsource: {}\ndetection:\n  s:\n    Image|re: 'c.d'\n  condition: not s\n",
        "title: f\nlogsource: {}\ndetection:\n  s:\n    Image|windash|contains: ' -x'\n  condition: s\n",
        "title: g\nlogsource: {}\ndetection:\n  s:\n    CommandLine|contains: 'ÄRGER'\n  condition: s\n",
        "title: h\nlogsource: {}\ndetection:\n  s:\n    EventID|contains: '68'\n  condition: s\n",
        "title: i\nlogsource: {}\ndetection:\n  s:\n    LogonType: '3'\n    EventID: 4624\n  condition: s\n",
        "title: j\nlogsource: {}\ndetection:\n  s:\n    Enabled: true\n  condition: s\n",
        "title: k\nlogsource: {}\ndetection:\n  s:\n    EventID: 0x10\n  condition: s\n",
        "title: l\nlogsource: {}\ndetection:\n  s:\n    EventID: [1, 4688]\n    LogonType: 3\n  condition: s\n",
        "title: m\nlogsource: {}\ndetection:\n  s:\n    CommandLine|re|i: '(who|net)am?i'\n  condition: s\n",
        "title: n\nlogsource: {}\ndetection:\n  s:\n    CommandLine|re: '(?i)[a-z]+\\.EXE'\n  condition: s\n",
    ];
    let e = build(&rules, &cfg());
    assert_eq!(e.stats().rules, rules.len(), "{:?}", e.diagnostics());
    let words = [
        "cmd.exe",
        "\\cmd.exe",
        "CMD.EXE",
        "WhoAmI",
        "netami",
        "whoami",
        "net",
        "user",
        "SYSTEM",
        "mimikatz",
        "SEKURLSA",
        " -x",
        " /x",
        "ärger",
        "ÄRGER",
        "c.d",
        "cxd",
        "",
    ];
    let mut seed = 0x2545_f491_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..5000 {
        let mut fields = Vec::new();
        for name in ["Image", "CommandLine", "User", "Other"] {
            if next() % 3 == 0 {
                continue;
            }
            let n = (next() % 3) as usize;
            let text: Vec<&str> = (0..n)
                .map(|_| words[(next() % words.len() as u64) as usize])
                .collect();
            fields.push((name, s(&text.join(" "))));
        }
        let event_ids = [
            Value::Int(4688),
            Value::Int(1),
            Value::Int(4624),
            Value::Int(16),
            s("4624"),
            s(" 4688 "),
            s("4624.0"),
            s("0x10"),
            Value::Float(1.0),
            Value::List(vec![Value::Int(7), s("4688")]),
        ];
        if next() % 4 != 0 {
            fields.push((
                "EventID",
                event_ids[(next() % event_ids.len() as u64) as usize].clone(),
            ));
        }
        let logon = [
            Value::Int(3),
            s("3"),
            s(" 3"),
            s("03"),
            Value::Int(10),
            Value::Float(3.0),
        ];
        if next() % 2 == 0 {
            fields.push((
                "LogonType",
                logon[(next() % logon.len() as u64) as usize].clone(),
            ));
        }
        let enabled = [Value::Bool(true), s("TRUE"), s("false"), Value::Bool(false)];
        if next() % 3 == 0 {
            fields.push((
                "Enabled",
                enabled[(next() % enabled.len() as u64) as usize].clone(),
            ));
        }
        let _ = hits(&e, &ev(&fields));
    }
}

mod correlations {
    use super::*;
    use crate::correlation::{CorrelationAlert, Correlator};

    const BASE: &str = "title: Failed logon\nid: fail-1\nname: failed_logon\nlogsource: {}\ndetection:\n  s:\n    action: fail\n  condition: s\n---\ntitle: Success logon\nid: ok-1\nname: ok_logon\nlogsource: {}\ndetection:\n  s:\n    action: ok\n  condition: s\n---\ntitle: Transfer\nid: xfer-1\nname: transfer\nlogsource: {}\ndetection:\n  s:\n    action: xfer\n  condition: s\n";

    fn engine(corr: &str) -> Engine {
        let e = build(&[&format!("{BASE}---\n{corr}")], &cfg());
        let errors: Vec<_> = e.diagnostics().iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(e.stats().correlations, 1);
        e
    }

    fn at(secs: i64, fields: &[(&str, Value)]) -> Event {
        let mut e = ev(fields);
        e.timestamp = Timestamp::from_nanos(secs * 1_000_000_000);
        e
    }

    /// Feeds events in order; returns the alerts (with `finish`).
    fn run(e: &Engine, events: &[Event]) -> Vec<CorrelationAlert> {
        let mut c = Correlator::new(e);
        let mut scratch = Scratch::new();
        let mut out = Vec::new();
        for ev in events {
            let mut hits = Vec::new();
            e.matches(ev, &mut scratch, &mut hits);
            c.observe(ev, &hits, &mut out);
        }
        c.finish(&mut out);
        out
    }

    fn fail(t: i64, user: &str) -> Event {
        at(
            t,
            &[("action", s("fail")), ("User", s(user)), ("Host", s("h1"))],
        )
    }

    #[test]
    fn event_count_sliding_window() {
        let e = engine(
            "title: Brute force\nid: bf\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 1m\n  condition:\n    gte: 3\n",
        );
        // Three failures for alice within a minute fire once; bob's two do not.
        let alerts = run(
            &e,
            &[
                fail(0, "alice"),
                fail(10, "bob"),
                fail(20, "alice"),
                fail(30, "bob"),
                fail(50, "alice"),
            ],
        );
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(a.group, vec![("User".to_string(), "alice".to_string())]);
        assert_eq!(a.value, 3.0);
        assert_eq!(a.first.as_nanos(), 0);
        assert_eq!(a.last.as_nanos(), 50_000_000_000);
        assert_eq!(
            e.rule(a.rule).map(|r| r.meta.title.as_str()),
            Some("Brute force")
        );
        // Spread over more than the timespan: nothing.
        assert!(run(&e, &[fail(0, "a"), fail(40, "a"), fail(100, "a")]).is_empty());
        // After firing, the window restarts: six failures fire twice.
        let six: Vec<Event> = (0..6).map(|i| fail(i, "a")).collect();
        assert_eq!(run(&e, &six).len(), 2);
        // The base rule feeds the correlation and reports nothing on its own (generate: false).
        let base = e
            .rules()
            .iter()
            .find(|r| r.meta.id.as_deref() == Some("fail-1"));
        assert_eq!(base.map(|r| r.reported), Some(false));
        assert!(
            e.rules()
                .iter()
                .find(|r| r.meta.id.as_deref() == Some("ok-1"))
                .is_some_and(|r| r.reported)
        );
    }

    #[test]
    fn events_without_the_group_field_are_not_counted() {
        let e = engine(
            "title: C\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [Missing]\n  timespan: 1m\n  condition: {gte: 1}\n",
        );
        assert!(run(&e, &[fail(0, "a"), fail(1, "a")]).is_empty());
    }

    #[test]
    fn event_count_with_an_upper_bound_waits_for_the_window() {
        // "Fewer than 2 failures in the hour" is only known when the hour is over.
        let e = engine(
            "title: Quiet\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 1h\n  condition:\n    lt: 2\n",
        );
        let alerts = run(
            &e,
            &[fail(0, "a"), fail(10, "b"), fail(20, "b"), fail(4000, "a")],
        );
        // a's first hour had 1 (fires when its second window opens); b's had 2 (no alert);
        // a's second window (1 event) fires at finish.
        let users: Vec<&str> = alerts.iter().map(|a| a.group[0].1.as_str()).collect();
        assert_eq!(users, vec!["a", "a"], "{alerts:?}");
    }

    #[test]
    fn value_count_distinct_values() {
        let e = engine(
            "title: Spray\ncorrelation:\n  type: value_count\n  rules: [failed_logon]\n  group-by: [Host]\n  timespan: 5m\n  condition:\n    field: User\n    gte: 3\n",
        );
        let same_user: Vec<Event> = (0..5).map(|i| fail(i, "a")).collect();
        assert!(run(&e, &same_user).is_empty());
        let alerts = run(
            &e,
            &[fail(0, "a"), fail(1, "b"), fail(2, "a"), fail(3, "c")],
        );
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].value, 3.0);
        assert_eq!(
            alerts[0].group,
            vec![("Host".to_string(), "h1".to_string())]
        );
    }

    fn xfer(t: i64, bytes: i64) -> Event {
        at(
            t,
            &[
                ("action", s("xfer")),
                ("Host", s("h1")),
                ("bytes", Value::Int(bytes)),
            ],
        )
    }

    #[test]
    fn value_sum_avg_percentile_median() {
        let e = engine(
            "title: Exfil\ncorrelation:\n  type: value_sum\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 10m\n  condition:\n    field: bytes\n    gt: 1000\n",
        );
        assert!(run(&e, &[xfer(0, 400), xfer(1, 500)]).is_empty());
        let a = run(&e, &[xfer(0, 400), xfer(1, 500), xfer(2, 200)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].value, 1100.0);
        let e = engine(
            "title: Avg\ncorrelation:\n  type: value_avg\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 10m\n  condition:\n    field: bytes\n    gte: 300\n",
        );
        assert_eq!(run(&e, &[xfer(0, 100), xfer(1, 200)]).len(), 0);
        assert_eq!(run(&e, &[xfer(0, 100), xfer(1, 500)]).len(), 1);
        // Percentile with an upper bound: evaluated when the window closes (here at finish).
        let e = engine(
            "title: P90\ncorrelation:\n  type: value_percentile\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 10m\n  condition:\n    field: bytes\n    percentile: 90\n    lte: 100\n",
        );
        let small: Vec<Event> = (0..10).map(|i| xfer(i, 10 * i)).collect();
        let a = run(&e, &small);
        assert_eq!(a.len(), 1);
        assert!((a[0].value - 81.0).abs() < 1e-9, "{}", a[0].value);
        let big: Vec<Event> = (0..10).map(|i| xfer(i, 100 * i)).collect();
        assert!(run(&e, &big).is_empty());
        let e = engine(
            "title: Median\ncorrelation:\n  type: value_median\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 10m\n  condition:\n    field: bytes\n    gte: 50\n",
        );
        assert!(run(&e, &[xfer(0, 10), xfer(1, 20), xfer(2, 100)]).is_empty());
        // Median of {10, 100} is 55: fires on the second event.
        let a = run(&e, &[xfer(0, 10), xfer(1, 100)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].value, 55.0);
        // Non-numeric values are ignored.
        let e = engine(
            "title: Sum\ncorrelation:\n  type: value_sum\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 10m\n  condition:\n    field: bytes\n    gte: 1\n",
        );
        let bad = at(
            0,
            &[
                ("action", s("xfer")),
                ("Host", s("h1")),
                ("bytes", s("lots")),
            ],
        );
        assert!(run(&e, &[bad]).is_empty());
    }

    fn ok(t: i64, user: &str) -> Event {
        at(
            t,
            &[("action", s("ok")), ("User", s(user)), ("Host", s("h1"))],
        )
    }

    #[test]
    fn temporal_any_order() {
        let e = engine(
            "title: Both\ncorrelation:\n  type: temporal\n  rules: [failed_logon, ok_logon]\n  group-by: [User]\n  timespan: 5m\n",
        );
        assert_eq!(run(&e, &[ok(0, "a"), fail(10, "a")]).len(), 1);
        assert_eq!(run(&e, &[fail(0, "a"), ok(10, "a")]).len(), 1);
        assert!(run(&e, &[fail(0, "a"), ok(10, "b")]).is_empty());
        assert!(run(&e, &[fail(0, "a"), ok(400, "a")]).is_empty());
    }

    #[test]
    fn temporal_ordered() {
        let e = engine(
            "title: Fail then success\ncorrelation:\n  type: temporal_ordered\n  rules: [failed_logon, ok_logon]\n  group-by: [User]\n  timespan: 5m\n",
        );
        let a = run(&e, &[fail(0, "a"), fail(5, "a"), ok(10, "a")]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].first.as_nanos(), 5_000_000_000);
        assert!(run(&e, &[ok(0, "a"), fail(10, "a")]).is_empty());
        assert!(run(&e, &[fail(0, "a"), ok(301, "a")]).is_empty());
    }

    #[test]
    fn aliases_map_fields_per_rule() {
        let e = engine(
            "title: Same account\ncorrelation:\n  type: temporal\n  rules: [failed_logon, ok_logon]\n  group-by: [account]\n  timespan: 5m\n  aliases:\n    account:\n      failed_logon: User\n      ok_logon: TargetUser\n",
        );
        let okt = at(10, &[("action", s("ok")), ("TargetUser", s("a"))]);
        assert_eq!(run(&e, &[fail(0, "a"), okt.clone()]).len(), 1);
        let other = at(10, &[("action", s("ok")), ("TargetUser", s("b"))]);
        assert!(run(&e, &[fail(0, "a"), other]).is_empty());
    }

    #[test]
    fn chained_correlations() {
        let text = "title: Many failures\nid: many\nname: many_failures\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 10m\n  condition: {gte: 3}\n---\ntitle: Brute force succeeded\nid: bf-ok\nlevel: critical\ncorrelation:\n  type: temporal_ordered\n  rules: [many_failures, ok_logon]\n  group-by: [User]\n  timespan: 10m\n";
        let e = build(&[&format!("{BASE}---\n{text}")], &cfg());
        assert_eq!(e.stats().correlations, 2, "{:?}", e.diagnostics());
        let alerts = run(&e, &[fail(0, "a"), fail(1, "a"), fail(2, "a"), ok(60, "a")]);
        let titles: Vec<&str> = alerts
            .iter()
            .filter_map(|a| e.rule(a.rule).map(|r| r.meta.title.as_str()))
            .collect();
        assert_eq!(titles, vec!["Many failures", "Brute force succeeded"]);
        // The intermediate correlation is not reported on its own (generate: false).
        let many = e
            .rules()
            .iter()
            .find(|r| r.meta.id.as_deref() == Some("many"));
        assert_eq!(many.map(|r| r.reported), Some(false));
    }

    #[test]
    fn generate_true_keeps_base_rules_reported() {
        let e = engine(
            "title: C\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 2}\n  generate: true\n",
        );
        assert!(e.rules().iter().all(|r| r.reported));
    }

    #[test]
    fn bad_references_and_cycles() {
        let e = build(
            &[&format!(
                "{BASE}---\ntitle: C\ncorrelation:\n  type: event_count\n  rules: [nope]\n  group-by: [User]\n  timespan: 1m\n  condition: {{gte: 2}}\n"
            )],
            &cfg(),
        );
        assert_eq!(e.stats().correlations, 0);
        assert!(e.diagnostics().iter().any(|d| d.code == Code::Reference));
        let cyc = "title: A\nid: ca\ncorrelation:\n  type: event_count\n  rules: [cb]\n  group-by: [x]\n  timespan: 1m\n  condition: {gte: 1}\n---\ntitle: B\nid: cb\ncorrelation:\n  type: event_count\n  rules: [ca]\n  group-by: [x]\n  timespan: 1m\n  condition: {gte: 1}\n";
        let e = build(&[cyc], &cfg());
        assert_eq!(e.stats().correlations, 0);
        assert_eq!(
            e.diagnostics()
                .iter()
                .filter(|d| d.code == Code::Cycle)
                .count(),
            2
        );
    }
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    const FIELDS: [&str; 3] = ["A", "B", "C"];
    const MODS: [&str; 12] = [
        "",
        "|contains",
        "|startswith",
        "|endswith",
        "|contains|all",
        "|cased",
        "|windash|contains",
        "|neq",
        "|gt",
        "|re",
        "|exists",
        "|base64offset|contains",
    ];
    const VALUES: [&str; 12] = [
        "abc",
        "'a*c'",
        "'x?z'",
        "4624",
        "null",
        "'ÄÖü'",
        "' -x'",
        "b",
        "true",
        "'\\\\cmd.exe'",
        "'10'",
        "'[a-c]+'",
    ];
    const EVENT_VALUES: [&str; 10] = [
        "abc",
        "ABC",
        "xyz",
        "äöü",
        "run -x now",
        "C:\\cmd.exe",
        "4624",
        "",
        "b",
        "aXc",
    ];

    fn selection() -> impl Strategy<Value = String> {
        prop::collection::vec(
            (
                0..3usize,
                0..MODS.len(),
                prop::collection::vec(0..VALUES.len(), 1..3),
            ),
            1..3,
        )
        .prop_map(|entries| {
            let mut s = String::new();
            for (f, m, vals) in entries {
                s.push_str(&format!("    {}{}:\n", FIELDS[f], MODS[m]));
                for v in vals {
                    s.push_str(&format!("      - {}\n", VALUES[v]));
                }
            }
            s
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Random rules over a small vocabulary, random events: never a panic, and the
        /// prefiltered result always equals exhaustive evaluation (checked inside `hits`).
        #[test]
        fn prefiltered_equals_exhaustive(
            s1 in selection(),
            s2 in selection(),
            cond in 0..6usize,
            events in prop::collection::vec(prop::collection::vec((0..3usize, 0..EVENT_VALUES.len(), any::<bool>()), 0..4), 1..8),
        ) {
            let conds = ["s1", "s1 and not s2", "1 of s*", "all of them", "s1 or s2", "not s1"];
            let text = format!("title: g\nlogsource: {{}}\ndetection:\n  s1:\n{s1}  s2:\n{s2}  condition: {}\n", conds[cond]);
            let e = build(&[&text], &cfg());
            for fields in events {
                let fs: Vec<(&str, Value)> = fields
                    .iter()
                    .map(|(f, v, num)| {
                        let text = EVENT_VALUES[*v];
                        let value = match text.parse::<i64>() {
                            Ok(i) if *num => Value::Int(i),
                            _ => s(text),
                        };
                        (FIELDS[*f], value)
                    })
                    .collect();
                let _ = hits(&e, &ev(&fs));
            }
        }
    }
}
