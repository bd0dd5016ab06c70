//! End-to-end tests of detection in the server: alerts raised on ingestion through the real
//! binary and HTTP API, their lifecycle, rule states, suppressions, retro-hunts, correlation with
//! late events and across a crash, and agreement with `kasbah hunt` on the EVTX samples.

mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use server::{Options, Server, delete_auth, get_auth, kasbah, post, put_auth, scratch};

/// The built-in Mimikatz rule (`rules/kasbah_win_mimikatz.yml`).
const MIMIKATZ: &str = "6829e098-739b-4a84-9345-8b1cf7ea16a6";
/// The built-in SSH brute-force correlation (`rules/kasbah_ssh_brute_force.yml`).
const BRUTE_FORCE: &str = "90712958-b16c-4b9a-a680-eb663ace5c82";

fn mimikatz_event(host: &str, second: u32) -> String {
    json!({
        "@timestamp": format!("2024-03-14T10:00:{second:02}Z"),
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Computer": host,
        "User": "CORP\\eve",
        "Image": "C:\\Users\\Public\\mimikatz.exe",
        "CommandLine": "mimikatz.exe sekurlsa::logonpasswords exit",
    })
    .to_string()
}

fn ingest(s: &Server, token: &str, body: &str, format: &str) {
    let (status, v) = post(
        &s.url(&format!("/api/v1/ingest?format={format}")),
        Some(token),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
}

fn alerts(s: &Server, token: &str, query: &str) -> Vec<Value> {
    let (status, v) = get_auth(&s.url(&format!("/api/v1/alerts?{query}")), token);
    assert_eq!(status, 200, "{v}");
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// The actions of an audit trail page, newest first, without the server's own (`system`: the
/// first-run administrator's roles, written at start in whichever tenants exist by then).
fn audit_actions(trail: &Value) -> Vec<&str> {
    trail["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["actor"] != "system")
                .filter_map(|e| e["action"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

fn start(name: &str, config: &str) -> Server {
    let data = scratch(name);
    Server::start(
        &data,
        Options {
            config,
            ..Options::default()
        },
    )
}

#[test]
fn alerts_carry_attack_context_merge_duplicates_and_follow_their_lifecycle() {
    let s = start("det-lifecycle", "[detection]\nlateness_secs = 1\n");
    let acme = s.token("acme", "ingest,read,write");
    let reader = s.token("acme", "read");
    let admin = s.token("acme", "admin");
    let globex = s.token("globex", "ingest,read,write");

    // Two matching events about the same host and user: one alert counting both.
    let body = format!(
        "{}\n{}\n",
        mimikatz_event("WS01", 1),
        mimikatz_event("WS01", 2)
    );
    ingest(&s, &acme, &body, "jsonl");
    s.wait_detection(&acme);
    let list = alerts(&s, &acme, &format!("rule_id={MIMIKATZ}"));
    assert_eq!(list.len(), 1, "{list:?}");
    let a = &list[0];
    assert_eq!(a["count"], 2);
    assert_eq!(a["level"], "critical");
    assert_eq!(a["kind"], "detection");
    assert_eq!(a["status"], "open");
    assert_eq!(a["first_seen"], "2024-03-14T10:00:01Z");
    assert_eq!(a["last_seen"], "2024-03-14T10:00:02Z");
    assert!(
        a["attack"]["techniques"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("T1003.001"))),
        "{a}"
    );
    assert_eq!(a["attack"]["tactics"], json!(["credential-access"]));
    let entities = a["entities"].as_array().expect("entities");
    assert!(
        entities.contains(&json!({"kind": "host", "value": "WS01"})),
        "{a}"
    );
    assert!(
        entities.contains(&json!({"kind": "user", "value": "CORP\\eve"})),
        "{a}"
    );
    assert_eq!(a["event_ids"].as_array().map(Vec::len), Some(2));
    let id = a["id"].as_i64().expect("id");

    // The alert links to its events in the store.
    let (status, ev) = get_auth(&s.url(&format!("/api/v1/alerts/{id}/events")), &acme);
    assert_eq!(status, 200, "{ev}");
    let events = ev["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["Computer"] == "WS01" && e["event.id"].is_string())
    );

    // Another tenant sees and changes nothing; a read-only token cannot change anything.
    assert!(alerts(&s, &globex, "").is_empty());
    assert_eq!(
        get_auth(&s.url(&format!("/api/v1/alerts/{id}")), &globex).0,
        404
    );
    let ack = s.url(&format!("/api/v1/alerts/{id}/acknowledge"));
    assert_eq!(post(&ack, Some(&globex), b"").0, 404);
    assert_eq!(post(&ack, Some(&reader), b"").0, 403);

    // Lifecycle.
    let (status, v) = post(&ack, Some(&acme), b"");
    assert_eq!(
        (status, v["status"].clone()),
        (200, json!("acknowledged")),
        "{v}"
    );
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{id}/assign")),
        Some(&acme),
        br#"{"assignee": "alice"}"#,
    );
    assert_eq!(
        (status, v["assignee"].clone()),
        (200, json!("alice")),
        "{v}"
    );
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{id}/comments")),
        Some(&acme),
        br#"{"text": "Mimikatz on WS01: isolating the host."}"#,
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{id}/close")),
        Some(&acme),
        br#"{"resolution": "nonsense"}"#,
    );
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (400, json!("bad_request")),
        "{v}"
    );
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{id}/close")),
        Some(&acme),
        br#"{"resolution": "true_positive", "note": "contained"}"#,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "closed");
    assert_eq!(v["resolution"], "true_positive");
    let (_, full) = get_auth(&s.url(&format!("/api/v1/alerts/{id}")), &acme);
    let author = full["comments"][0]["author"].as_str().unwrap_or_default();
    assert!(
        author.starts_with("token:#"),
        "unlabelled tokens are named by id: {author}"
    );
    assert!(
        full["comments"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("isolating"))
    );

    // A closed alert absorbs nothing: the next match opens a new one.
    ingest(&s, &acme, &mimikatz_event("WS01", 3), "jsonl");
    s.wait_detection(&acme);
    let open = alerts(&s, &acme, &format!("rule_id={MIMIKATZ}&status=open"));
    assert_eq!(open.len(), 1);
    assert_ne!(open[0]["id"].as_i64(), Some(id));
    let (_, v) = get_auth(&s.url("/api/v1/alerts?status=closed"), &acme);
    assert_eq!(v["counts"]["closed"], 1);
    assert_eq!(v["counts"]["open"].as_u64().map(|n| n >= 1), Some(true));
    assert_eq!(
        get_auth(&s.url("/api/v1/alerts?status=maybe"), &acme).0,
        400
    );
    assert_eq!(
        get_auth(&s.url("/api/v1/alerts?level=severe"), &acme).0,
        400
    );
    let crit = alerts(&s, &acme, "level=critical,high");
    assert!(
        crit.iter()
            .all(|a| a["level"] == "critical" || a["level"] == "high")
    );

    // Every change is in the audit trail, which needs the admin scope.
    assert_eq!(get_auth(&s.url("/api/v1/audit"), &acme).0, 403);
    let (status, audit) = get_auth(&s.url("/api/v1/audit"), &admin);
    assert_eq!(status, 200, "{audit}");
    let actions = audit_actions(&audit);
    for want in [
        "alert.acknowledge",
        "alert.assign",
        "alert.comment",
        "alert.close",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    // Three matches (two merged within their request), two alerts.
    assert_eq!(s.metric("kasbah_detection_hits_total"), 3.0);
    assert_eq!(s.metric("kasbah_alerts_created_total"), 2.0);
    // The globex tenant's audit trail is its own: only the creation of its own tokens.
    let g_admin = s.token("globex", "admin");
    let (_, g) = get_auth(&s.url("/api/v1/audit"), &g_admin);
    assert_eq!(audit_actions(&g), ["token.create", "token.create"], "{g}");
}

#[test]
fn rules_toggle_suppress_retro_hunt_and_flag_noise_at_run_time() {
    let s = start(
        "det-rules",
        "[detection]\nlateness_secs = 1\nalert_budget_per_hour = 3\n",
    );
    let t = s.token("acme", "ingest,read,write");
    let other = s.token("globex", "ingest,read,write");
    let count = |host: &str| {
        alerts(&s, &t, &format!("rule_id={MIMIKATZ}&limit=1000"))
            .iter()
            .filter(|a| {
                a["entities"]
                    .as_array()
                    .is_some_and(|e| e.contains(&json!({"kind": "host", "value": host})))
            })
            .map(|a| a["count"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };

    // Disabled in acme only, at run time.
    let (status, v) = post(
        &s.url(&format!("/api/v1/rules/{MIMIKATZ}/disable")),
        Some(&t),
        b"",
    );
    assert_eq!((status, v["enabled"].clone()), (200, json!(false)), "{v}");
    ingest(&s, &t, &mimikatz_event("OFF-1", 1), "jsonl");
    ingest(&s, &other, &mimikatz_event("OFF-1", 1), "jsonl");
    s.wait_detection(&t);
    assert_eq!(count("OFF-1"), 0);
    assert_eq!(alerts(&s, &other, &format!("rule_id={MIMIKATZ}")).len(), 1);
    let (_, rules) = get_auth(&s.url("/api/v1/rules?q=mimikatz"), &t);
    assert_eq!(rules["rules"][0]["enabled"], false, "{rules}");
    assert_eq!(
        post(
            &s.url(&format!("/api/v1/rules/{MIMIKATZ}/enable")),
            Some(&t),
            b""
        )
        .0,
        200
    );
    ingest(&s, &t, &mimikatz_event("ON-1", 1), "jsonl");
    s.wait_detection(&t);
    assert_eq!(count("ON-1"), 1);
    assert_eq!(
        post(&s.url("/api/v1/rules/no-such-rule/enable"), Some(&t), b"").0,
        404
    );

    // Suppressed for one host, with a reason and an expiry.
    let sup = s.url("/api/v1/suppressions");
    let (status, v) = post(
        &sup,
        Some(&t),
        br#"{"entity": {"kind": "host", "value": "SCANNER"}}"#,
    );
    assert_eq!(status, 400, "a reason is required: {v}");
    let (status, v) = post(
        &sup,
        Some(&t),
        format!(r#"{{"rule_id": "{MIMIKATZ}", "entity": {{"kind": "host", "value": "SCANNER"}}, "reason": "red team exercise", "expires_in_secs": 3600}}"#).as_bytes(),
    );
    assert_eq!(status, 201, "{v}");
    let sid = v["id"].as_i64().expect("id");
    ingest(&s, &t, &mimikatz_event("SCANNER", 1), "jsonl");
    ingest(&s, &t, &mimikatz_event("ON-2", 1), "jsonl");
    s.wait_detection(&t);
    assert_eq!(count("SCANNER"), 0);
    assert_eq!(count("ON-2"), 1);
    let (_, list) = get_auth(&sup, &t);
    assert_eq!(list["suppressions"][0]["hits"], 1, "{list}");
    assert_eq!(
        delete_auth(&s.url(&format!("/api/v1/suppressions/{sid}")), &other).0,
        404
    );
    assert_eq!(
        delete_auth(&s.url(&format!("/api/v1/suppressions/{sid}")), &t).0,
        204
    );
    ingest(&s, &t, &mimikatz_event("SCANNER", 2), "jsonl");
    s.wait_detection(&t);
    assert_eq!(count("SCANNER"), 1, "the suppression is gone");

    // Retro-hunt: events stored while the rule was off raise retrospective alerts.
    let before = alerts(&s, &t, "retro=true").len();
    assert_eq!(before, 0);
    let (status, v) = post(
        &s.url("/api/v1/retrohunt"),
        Some(&t),
        format!(r#"{{"rules": ["{MIMIKATZ}"], "query": "Computer:OFF-1", "from": "2024-03-14", "to": "2024-03-15"}}"#).as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["events"], 1, "{v}");
    assert_eq!(v["alerts_created"], 1, "{v}");
    let retro = alerts(&s, &t, "retro=true");
    assert_eq!(retro.len(), 1);
    assert!(
        retro[0]["entities"]
            .as_array()
            .is_some_and(|e| e.contains(&json!({"kind": "host", "value": "OFF-1"})))
    );
    let (status, v) = post(
        &s.url("/api/v1/retrohunt"),
        Some(&t),
        br#"{"from": "2024-03-14", "query": "a | head 1"}"#,
    );
    assert_eq!(status, 400, "{v}");

    // Over the budget of 3 matches per hour: flagged, with the host driving it.
    for i in 0..4 {
        ingest(&s, &t, &mimikatz_event("NOISY", i), "jsonl");
    }
    s.wait_detection(&t);
    let (_, noisy) = get_auth(&s.url("/api/v1/rules?noisy=true"), &t);
    let r = &noisy["rules"][0];
    assert_eq!(r["id"], MIMIKATZ, "{noisy}");
    assert_eq!(r["stats"]["noisy"], true);
    let top_host = r["stats"]["top"]
        .as_array()
        .and_then(|t| t.iter().find(|x| x["kind"] == "host"))
        .cloned();
    assert_eq!(
        top_host,
        Some(json!({"kind": "host", "value": "NOISY", "count": 4})),
        "{r}"
    );
    assert!(r["stats"]["last_hour"].as_u64().is_some_and(|n| n >= 4));
    let (_, quiet) = get_auth(&s.url("/api/v1/rules?noisy=true"), &other);
    assert_eq!(
        quiet["rules"].as_array().map(Vec::len),
        Some(0),
        "budgets are per tenant"
    );
}

fn failed_ssh(second: u32) -> String {
    format!(
        "Mar 14 09:58:{second:02} web01 sshd[2{second:04}]: Failed password for root from 198.51.100.7 port 4{second:04} ssh2\n"
    )
}

#[test]
fn correlation_accepts_late_events_and_keeps_its_windows_across_a_crash() {
    let mut s = start("det-corr", "[detection]\nlateness_secs = 2\n");
    let t = s.token("acme", "ingest,read,write");
    // Out of order (within the lateness bound): 00, 02, 01.
    for sec in [0, 2, 1] {
        ingest(&s, &t, &failed_ssh(sec), "auth");
    }
    let d = s.wait_detection(&t);
    assert_eq!(d["late_captures"], 0, "{d}");
    assert!(
        alerts(&s, &t, &format!("rule_id={BRUTE_FORCE}")).is_empty(),
        "3 of 5 failures"
    );

    // kill -9: the window must be rebuilt from the stored events.
    s.restart();
    for sec in [4, 3] {
        ingest(&s, &t, &failed_ssh(sec), "auth");
    }
    s.wait_detection(&t);
    let fired = alerts(&s, &t, &format!("rule_id={BRUTE_FORCE}"));
    assert_eq!(
        fired.len(),
        1,
        "five failures across the restart: {fired:?}"
    );
    assert_eq!(fired[0]["kind"], "correlation");
    assert_eq!(fired[0]["details"]["value"], 5.0, "{}", fired[0]);
    assert!(
        fired[0]["entities"]
            .as_array()
            .is_some_and(|e| e.contains(&json!({"kind": "ip", "value": "198.51.100.7"})))
    );
    // The input rule itself is not reported (generate: false).
    assert!(alerts(&s, &t, "rule_id=32078f22-8acd-40de-a561-8f05ce678a5b").is_empty());
}

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
        {
            out.push(p);
        }
    }
}

#[test]
fn evtx_uploads_raise_exactly_the_rules_hunt_reports() {
    let Some(shared) = server::shared(&["sigma/rules", "evtx/EVTX-ATTACK-SAMPLES"]) else {
        return;
    };
    let sigma = shared.join("sigma");
    let dirs: Vec<PathBuf> = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
        .iter()
        .map(|d| sigma.join(d))
        .collect();
    let samples = shared.join("evtx/EVTX-ATTACK-SAMPLES");
    let list: Vec<String> = dirs
        .iter()
        .map(|d| format!("{:?}", d.display().to_string()))
        .collect();
    let config = format!(
        "[detection]\nbuiltin_rules = false\nrules = [{}]\nlateness_secs = 1\n[http]\nmax_upload_bytes = 1073741824\n",
        list.join(", ")
    );
    let s = start("det-evtx", &config);
    let t = s.token("acme", "ingest,read");
    let mut files = Vec::new();
    evtx_files(&samples, &mut files);
    assert!(files.len() > 200, "{} EVTX files", files.len());
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let name = f.strip_prefix(&samples).unwrap_or(f).display().to_string();
        let url = s.url(&format!(
            "/api/v1/upload?format=evtx&filename={}",
            name.replace(' ', "%20")
                .replace('#', "%23")
                .replace('&', "%26")
        ));
        let (status, v) = post(&url, Some(&t), &bytes);
        assert_eq!(status, 200, "{name}: {v}");
    }
    s.wait_detection(&t);
    std::thread::sleep(Duration::from_millis(1500));
    s.wait_detection(&t);

    // Every alert, page by page: per rule, the number of matching events.
    let mut server: BTreeMap<String, u64> = BTreeMap::new();
    let mut before = String::new();
    loop {
        let (status, v) = get_auth(&s.url(&format!("/api/v1/alerts?limit=1000{before}")), &t);
        assert_eq!(status, 200, "{v}");
        for a in v["alerts"].as_array().expect("alerts") {
            let id = a["rule_id"].as_str().expect("rule_id").to_string();
            *server.entry(id).or_default() += a["count"].as_u64().expect("count");
        }
        match v["next_before"].as_i64() {
            Some(n) => before = format!("&before={n}"),
            None => break,
        }
    }

    let out = kasbah()
        .arg("hunt")
        .args(dirs.iter().flat_map(|d| [PathBuf::from("-r"), d.clone()]))
        .arg(&samples)
        .args(["--format", "jsonl", "--quiet", "--no-progress"])
        .output()
        .expect("hunt");
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut hunt: BTreeMap<String, u64> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        let id = v["rule_id"].as_str().expect("rule_id").to_string();
        *hunt.entry(id).or_default() += 1;
    }
    assert!(hunt.len() > 100, "hunt found {} rules", hunt.len());
    let only_server: Vec<_> = server.keys().filter(|k| !hunt.contains_key(*k)).collect();
    let only_hunt: Vec<_> = hunt.keys().filter(|k| !server.contains_key(*k)).collect();
    assert!(
        only_server.is_empty() && only_hunt.is_empty(),
        "rules alerted only by the server: {only_server:?}; only by hunt: {only_hunt:?}"
    );
    let differing: Vec<_> = hunt
        .iter()
        .filter(|(k, n)| server.get(*k) != Some(n))
        .map(|(k, n)| (k, *n, server.get(k).copied()))
        .collect();
    assert!(
        differing.is_empty(),
        "event counts differ (rule, hunt, server): {differing:?}"
    );
}

/// A day of normal SSH activity on `host`: logins, sessions opened and closed, in order.
fn normal_ssh(host: &str, n: u32) -> String {
    let mut out = String::new();
    for i in 0..n {
        let (m, s) = (i / 60 % 60, i % 60);
        let line = match i % 3 {
            0 => format!(
                "Accepted publickey for deploy from 10.0.{}.{} port {} ssh2",
                i % 7,
                i % 250,
                40000 + i
            ),
            1 => "pam_unix(sshd:session): session opened for user deploy by (uid=0)".to_owned(),
            _ => "pam_unix(sshd:session): session closed for user deploy".to_owned(),
        };
        out.push_str(&format!(
            "Mar 14 08:{m:02}:{s:02} {host} sshd[{}]: {line}\n",
            1000 + i / 3
        ));
    }
    out
}

fn anomaly_status(s: &Server, token: &str) -> Value {
    let (status, v) = get_auth(&s.url("/api/v1/anomaly"), token);
    assert_eq!(status, 200, "{v}");
    v
}

#[test]
fn anomaly_alerts_follow_learning_explain_themselves_and_stay_per_tenant() {
    let mut s = start(
        "det-anomaly",
        // Short lateness: logins feed a correlation whose buffer waits that long when quiet.
        "[detection]\nlateness_secs = 2\n[anomaly]\nlearning_secs = 0\nlearning_events = 300\n",
    );
    let t = s.token("acme", "ingest,read,write");
    let other = s.token("beta", "ingest,read,write");
    let viewer = s.token("acme", "read");
    let admin = s.token("acme", "admin,read");

    // Learning: nothing is raised, however unusual.
    ingest(&s, &t, &normal_ssh("web01", 300), "auth");
    s.wait_detection(&t);
    assert!(alerts(&s, &t, "kind=anomaly").is_empty());
    let st = anomaly_status(&s, &t);
    assert_eq!(st["phase"], "detecting", "{st}");
    assert_eq!(st["learned"], 300, "{st}");

    // A message shape never seen while learning, on a host: one alert, explained, linked.
    let odd = "Mar 14 09:30:00 web01 sshd[7777]: Invalid user oracle from 203.0.113.9 port 4242\n";
    ingest(&s, &t, odd, "auth");
    s.wait_detection(&t);
    let found = alerts(&s, &t, "kind=anomaly");
    assert_eq!(found.len(), 1, "{found:?}");
    let a = &found[0];
    assert_eq!(a["rule_id"], "kasbah.anomaly.new_template", "{a}");
    assert_eq!(a["level"], "low");
    assert!(
        a["entities"]
            .as_array()
            .is_some_and(|e| e.contains(&json!({"kind": "host", "value": "web01"}))),
        "{a}"
    );
    let why = a["details"]["explanation"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("new template #") && why.contains("Invalid user"),
        "{why}"
    );
    let (status, ev) = get_auth(&s.url(&format!("/api/v1/alerts/{}/events", a["id"])), &t);
    assert_eq!(status, 200, "{ev}");
    assert!(ev.to_string().contains("Invalid user oracle"), "{ev}");
    // Known shapes in their usual order raise nothing; the same new shape is not new twice.
    ingest(&s, &t, &normal_ssh("web01", 30), "auth");
    ingest(
        &s,
        &t,
        &odd.replace("203.0.113.9 port 4242", "192.0.2.4 port 999"),
        "auth",
    );
    s.wait_detection(&t);
    let again = alerts(&s, &t, "kind=anomaly");
    assert_eq!(again.len(), 1, "{again:#?}");
    assert!(s.metric("kasbah_anomaly_drafts_total") >= 1.0);

    // Tenants learn apart and see nothing of each other.
    let b = anomaly_status(&s, &other);
    assert_eq!(b["phase"], "learning", "{b}");
    assert_eq!(b["events"], 0, "{b}");
    assert!(alerts(&s, &other, "kind=anomaly").is_empty());

    // Settings per tenant: a viewer cannot change them; a change is audited and kept.
    let (status, _) = put_auth(&s.url("/api/v1/anomaly"), &viewer, br#"{"threshold": 2}"#);
    assert_eq!(status, 403);
    let (status, v) = put_auth(&s.url("/api/v1/anomaly"), &t, br#"{"threshold": 2}"#);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["settings"]["threshold"], 2.0);
    let (status, v) = put_auth(&s.url("/api/v1/anomaly"), &t, br#"{"threshold": -1}"#);
    assert_eq!(status, 400, "{v}");
    let (_, audit) = get_auth(&s.url("/api/v1/audit"), &admin);
    assert!(audit.to_string().contains("anomaly.settings"), "{audit}");

    // The model survives a restart: still detecting, threshold 2 (a new shape weighs 1).
    assert!(s.terminate());
    s.restart();
    let st = anomaly_status(&s, &t);
    assert_eq!(st["phase"], "detecting", "{st}");
    assert_eq!(st["settings"]["threshold"], 2.0, "{st}");
    ingest(
        &s,
        &t,
        "Mar 14 09:40:00 web02 sshd[8888]: Connection reset by 203.0.113.9 port 4243 [preauth]\n",
        "auth",
    );
    s.wait_detection(&t);
    assert_eq!(alerts(&s, &t, "kind=anomaly").len(), 1);

    // Learning again.
    let (status, v) = post(&s.url("/api/v1/anomaly/relearn"), Some(&t), b"");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["phase"], "learning");
    assert_eq!(v["events"], 0);
}

#[test]
fn the_audit_trail_records_api_and_cli_changes_and_tampering_is_detected() {
    let mut s = start("det-audit", "");
    let t = s.token("acme", "ingest,read,write");
    let admin = s.token("acme", "admin,read");
    let (status, v) = post(
        &s.url(&format!("/api/v1/rules/{MIMIKATZ}/disable")),
        Some(&t),
        b"",
    );
    assert_eq!(status, 200, "{v}");
    let (status, trail) = get_auth(&s.url("/api/v1/audit"), &admin);
    assert_eq!(status, 200, "{trail}");
    // Newest first: the rule change, then the two tokens created by `kasbah token create`
    // (the first-run administrator's role, written by the server as `system` when it starts,
    // may come anywhere among them).
    let entries: Vec<Value> = trail["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["actor"] != "system")
        .cloned()
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions[..3],
        ["rule.disable", "token.create", "token.create"],
        "{trail}"
    );
    assert!(
        entries[1]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{trail}"
    );
    let head = entries[0]["hash"].as_str().unwrap_or_default().to_owned();
    assert_eq!(head.len(), 64, "{trail}");

    let data = s.data.clone();
    let verify = || {
        let out = kasbah()
            .args(["audit", "verify", "--format", "json", "--data-dir"])
            .arg(&data)
            .output()
            .expect("run kasbah audit verify");
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        // The exit status, the whole verdict and acme's chain.
        let acme = v["tenants"]
            .as_array()
            .and_then(|t| t.iter().find(|x| x["tenant"] == "acme"))
            .cloned()
            .unwrap_or_default();
        (out.status.code(), v, acme)
    };
    let (code, v, acme) = verify();
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["intact"], true);
    assert_eq!(acme["head"], head.as_str(), "{v}");

    // Someone with the database file rewrites who disabled the rule.
    assert!(s.terminate());
    let db = rusqlite::Connection::open(s.data.join("meta.db")).expect("open meta.db");
    let refused = db.execute(
        "UPDATE audit_log SET actor = 'nobody' WHERE action = 'rule.disable'",
        [],
    );
    assert!(refused.is_err(), "append-only");
    db.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET actor = 'nobody' WHERE action = 'rule.disable';",
    )
    .expect("tamper");
    drop(db);
    let (code, v, acme) = verify();
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["intact"], false);
    assert_eq!(acme["broken"]["id"], entries[0]["id"], "{v}");
}

#[test]
fn rules_show_their_yaml_test_against_pasted_events_and_alerts_summarise_by_level_and_technique() {
    let s = start("det-console", "");
    let t = s.token("acme", "ingest,read,write");

    // A rule's page shows its source.
    let (status, rule) = get_auth(&s.url(&format!("/api/v1/rules/{MIMIKATZ}")), &t);
    assert_eq!(status, 200, "{rule}");
    let yaml = rule["yaml"].as_str().unwrap_or_default();
    assert!(yaml.contains(&format!("id: {MIMIKATZ}")), "{yaml}");
    assert!(
        yaml.contains("detection:") && !yaml.contains("\n---"),
        "{yaml}"
    );

    // Testing a loaded rule against pasted events: which match, nothing stored.
    let pasted = format!(
        "{}\n{}\n",
        mimikatz_event("WS01", 1),
        json!({"@timestamp": "2024-03-14T10:00:02Z", "Channel": "Microsoft-Windows-Sysmon/Operational",
               "EventID": 1, "Image": "C:\\Windows\\notepad.exe", "CommandLine": "notepad"})
    );
    let test = |body: Value| {
        post(
            &s.url("/api/v1/rules/test"),
            Some(&t),
            body.to_string().as_bytes(),
        )
    };
    let (status, v) = test(json!({"rule_id": MIMIKATZ, "events": pasted}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["events"].as_u64(), v["matched_events"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(v["matches"][0]["event"], 0, "{v}");
    assert_eq!(v["matches"][0]["rule_id"], MIMIKATZ, "{v}");
    assert_eq!(s.total(&t, "*"), 0, "a test stores nothing");
    assert!(alerts(&s, &t, "").is_empty());

    // A new Sigma rule: matched as written; a broken one gets its diagnostics.
    let sigma = "title: Notepad\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\notepad.exe'\n  condition: sel\nlevel: low\n";
    let (status, v) = test(json!({"sigma": sigma, "events": pasted}));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["matches"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["matches"][0]["event"], 1, "{v}");
    let (status, v) =
        test(json!({"sigma": "title: x\ndetection:\n  condition: nope\n", "events": pasted}));
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_rule")),
        "{v}"
    );
    let (status, _) = test(json!({"events": pasted}));
    assert_eq!(status, 400);

    // The summary of alerts: per level and bucket, top rules, ATT&CK techniques with tactics.
    ingest(
        &s,
        &t,
        &format!(
            "{}\n{}\n",
            mimikatz_event("WS01", 1),
            mimikatz_event("WS02", 3)
        ),
        "jsonl",
    );
    s.wait_detection(&t);
    let (status, v) = get_auth(&s.url("/api/v1/alerts/summary?span=1h"), &t);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    let critical: u64 = v["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["critical"].as_u64())
        .sum();
    assert_eq!(critical, 2, "{v}");
    assert_eq!(v["top_rules"][0]["rule_id"], MIMIKATZ, "{v}");
    assert_eq!(v["top_rules"][0]["count"], 2, "{v}");
    let tech = v["techniques"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["technique"] == "T1003.001"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(tech["count"], 2, "{v}");
    assert!(
        tech["tactics"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("credential-access"))),
        "{v}"
    );
    // A period with no alerts is empty, not an error.
    let (status, v) = get_auth(&s.url("/api/v1/alerts/summary?from=-1h"), &t);
    assert_eq!((status, v["total"].as_u64()), (200, Some(0)), "{v}");
    let (status, _) = get_auth(&s.url("/api/v1/alerts/summary?span=fortnight"), &t);
    assert_eq!(status, 400);
}

/// A tenant's imported file: a rule, a correlation over it, and a filter that tunes the
/// server's built-in Mimikatz rule for this tenant only.
const IMPORTED: &str = r#"title: Evil tool started
id: 0b7c4a1e-1111-4c2e-9d3a-5e1f00000001
level: high
tags: [attack.execution, attack.t1204]
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\evil.exe'
  condition: sel
---
title: Evil tool started twice on a host
id: 0b7c4a1e-1111-4c2e-9d3a-5e1f00000002
level: critical
correlation:
  type: event_count
  rules: [0b7c4a1e-1111-4c2e-9d3a-5e1f00000001]
  group-by: [Computer]
  timespan: 1h
  condition: {gte: 2}
  generate: true
---
title: The lab runs Mimikatz on purpose
id: 0b7c4a1e-1111-4c2e-9d3a-5e1f00000003
logsource: {product: windows, category: process_creation}
filter:
  rules: [6829e098-739b-4a84-9345-8b1cf7ea16a6]
  selection:
    Computer: LAB1
  condition: not selection
"#;
const EVIL: &str = "0b7c4a1e-1111-4c2e-9d3a-5e1f00000001";
const EVIL_TWICE: &str = "0b7c4a1e-1111-4c2e-9d3a-5e1f00000002";

fn process_event(host: &str, image: &str, second: u32) -> String {
    json!({
        "@timestamp": format!("2024-03-14T11:00:{second:02}Z"),
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Computer": host,
        "User": "CORP\\eve",
        "Image": image,
        "CommandLine": image,
    })
    .to_string()
}

fn rule_ids(s: &Server, token: &str, q: &str) -> Vec<String> {
    let (status, v) = get_auth(&s.url(&format!("/api/v1/rules?q={q}")), token);
    assert_eq!(status, 200, "{v}");
    v["rules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn count_of(s: &Server, token: &str, rule: &str) -> u64 {
    alerts(s, token, &format!("rule_id={rule}"))
        .iter()
        .filter_map(|a| a["count"].as_u64())
        .sum()
}

#[test]
fn a_tenant_imports_sigma_rules_that_run_at_once_for_it_alone_and_survive_a_restart() {
    let mut s = start("det-import", "[detection]\nlateness_secs = 1\n");
    let acme = s.token("acme", "ingest,read,write");
    let acme_admin = s.token("acme", "admin");
    let beta = s.token("beta", "ingest,read,write");
    let reader = s.token("acme", "read");
    let imports = s.url("/api/v1/rules/imports");

    // A file with a broken document is refused whole, with its line and stable code.
    let broken = format!(
        "{IMPORTED}---\ntitle: Broken\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    Image|nosuchmodifier: x\n  condition: sel\n"
    );
    let (status, v) = post(
        &imports,
        Some(&acme),
        json!({"name": "acme.yml", "yaml": broken})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "invalid_rule");
    let d = &v["error"]["diagnostics"][0];
    assert!(d["line"].as_u64().is_some_and(|l| l > 30), "{v}");
    assert!(
        d["code"].as_str().is_some_and(|c| c.starts_with("KS")),
        "{v}"
    );
    assert!(rule_ids(&s, &acme, "evil").is_empty(), "nothing stored");
    // Importing needs `write`.
    let (status, _) = post(
        &imports,
        Some(&reader),
        json!({"yaml": IMPORTED}).to_string().as_bytes(),
    );
    assert_eq!(status, 403);

    let (status, v) = post(
        &imports,
        Some(&acme),
        json!({"name": "acme.yml", "yaml": IMPORTED})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["rule_ids"], json!([EVIL, EVIL_TWICE]), "{v}");
    let import_id = v["id"].as_i64().expect("id");
    // The same ids again are refused (KS050), in the same tenant.
    let (status, v) = post(
        &imports,
        Some(&acme),
        json!({"yaml": IMPORTED}).to_string().as_bytes(),
    );
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("KS050"),
        "{v}"
    );

    // Listed, readable and shown with their YAML in acme only.
    assert_eq!(rule_ids(&s, &acme, "evil"), vec![EVIL, EVIL_TWICE]);
    assert!(rule_ids(&s, &beta, "evil").is_empty());
    let (status, r) = get_auth(&s.url(&format!("/api/v1/rules/{EVIL}")), &acme);
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["source"].as_str(), r["import_id"].as_i64()),
        (Some("imported"), Some(import_id))
    );
    assert!(
        r["yaml"]
            .as_str()
            .is_some_and(|y| y.contains("Evil tool started") && !y.contains("---")),
        "{r}"
    );
    assert_eq!(
        get_auth(&s.url(&format!("/api/v1/rules/{EVIL}")), &beta).0,
        404
    );
    let (status, l) = get_auth(&imports, &beta);
    assert_eq!(
        (status, l["imports"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    assert_eq!(
        get_auth(&s.url(&format!("/api/v1/rules/imports/{import_id}")), &beta).0,
        404
    );
    assert_eq!(
        delete_auth(&s.url(&format!("/api/v1/rules/imports/{import_id}")), &beta).0,
        404
    );

    // The same events in both tenants: only acme's imported rules and filter apply.
    let events = [
        process_event("WS1", "C:\\Temp\\evil.exe", 1),
        process_event("WS1", "C:\\Temp\\evil.exe", 2),
        mimikatz_event("LAB1", 3),
        mimikatz_event("WS2", 4),
    ]
    .join("\n");
    ingest(&s, &acme, &events, "jsonl");
    ingest(&s, &beta, &events, "jsonl");
    s.wait_detection(&acme);
    assert_eq!(count_of(&s, &acme, EVIL), 2);
    let twice = alerts(&s, &acme, &format!("rule_id={EVIL_TWICE}"));
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert_eq!(twice[0]["kind"], "correlation");
    let hosts = |s: &Server, token: &str| -> Vec<String> {
        alerts(s, token, &format!("rule_id={MIMIKATZ}"))
            .iter()
            .flat_map(|a| a["entities"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["kind"] == "host")
            .filter_map(|e| e["value"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(
        hosts(&s, &acme),
        vec!["WS2"],
        "the filter spares LAB1 in acme"
    );
    let mut beta_hosts = hosts(&s, &beta);
    beta_hosts.sort();
    assert_eq!(beta_hosts, vec!["LAB1", "WS2"], "and nowhere else");
    assert_eq!(count_of(&s, &beta, EVIL), 0);

    // Imported rules are rules like the others: they can be disabled per tenant.
    let (status, r) = post(
        &s.url(&format!("/api/v1/rules/{EVIL}/disable")),
        Some(&acme),
        b"",
    );
    assert_eq!((status, &r["enabled"]), (200, &json!(false)), "{r}");
    ingest(&s, &acme, &process_event("WS3", "C:\\evil.exe", 5), "jsonl");
    s.wait_detection(&acme);
    assert_eq!(count_of(&s, &acme, EVIL), 2, "disabled");
    post(
        &s.url(&format!("/api/v1/rules/{EVIL}/enable")),
        Some(&acme),
        b"",
    );

    // Kept across a restart (compiled again at start).
    s.restart();
    ingest(&s, &acme, &process_event("WS4", "C:\\evil.exe", 6), "jsonl");
    s.wait_detection(&acme);
    assert_eq!(count_of(&s, &acme, EVIL), 3);

    // Removed: the rules stop at once; the filter too.
    let (status, v) = delete_auth(&s.url(&format!("/api/v1/rules/imports/{import_id}")), &acme);
    assert_eq!(status, 200, "{v}");
    assert!(rule_ids(&s, &acme, "evil").is_empty());
    let more = [
        process_event("WS5", "C:\\evil.exe", 7),
        mimikatz_event("LAB1", 8),
    ]
    .join("\n");
    ingest(&s, &acme, &more, "jsonl");
    s.wait_detection(&acme);
    assert_eq!(count_of(&s, &acme, EVIL), 3);
    assert!(hosts(&s, &acme).contains(&"LAB1".to_string()));

    // A file of filters only: tuning a server rule for this tenant is an import of its own.
    let filter_only = IMPORTED.split("---\n").nth(2).expect("the filter document");
    let (status, v) = post(
        &imports,
        Some(&acme),
        json!({"name": "lab.yml", "yaml": filter_only})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        (&v["rule_ids"], &v["filters"]),
        (&json!([]), &json!(["0b7c4a1e-1111-4c2e-9d3a-5e1f00000003"])),
        "{v}"
    );
    let before = count_of(&s, &acme, MIMIKATZ);
    ingest(&s, &acme, &mimikatz_event("LAB1", 9), "jsonl");
    s.wait_detection(&acme);
    assert_eq!(count_of(&s, &acme, MIMIKATZ), before, "LAB1 spared again");

    let (status, trail) = get_auth(&s.url("/api/v1/audit?q=rule_import"), &acme_admin);
    assert_eq!(status, 200, "{trail}");
    assert_eq!(
        audit_actions(&trail),
        vec!["rule.import", "rule.import_delete", "rule.import"],
        "{trail}"
    );
}
