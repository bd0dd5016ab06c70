//! The web console in a real headless Chromium (WebDriver): log in (with the forced change of
//! the one-time password), see the overview, search and expand an event, triage an alert, see a
//! viewer refused a change and another tenant's alert out of reach; upload an evidence file,
//! suppress the noise it raises, lift the suppression and retro-hunt a rule. Screenshots of each page go
//! to `target/console-screenshots/`, or to `KASBAH_SCREENSHOTS` (the README's come from
//! `KASBAH_SCREENSHOTS=docs/screenshots cargo nextest run --test console`).

mod browser;
mod server;

use browser::Browser;
use serde_json::{Value, json};
use server::{Options, Server, add_user, first_login, get_auth, scratch};

/// Logs in through the form (no one-time password left to change).
fn log_in(b: &Browser, s: &Server, user: &str, password: &str) {
    b.goto(&s.url("/"));
    b.type_into("#login-username", user);
    b.type_into("#login-password", password);
    b.click_on("#login-submit");
    b.find("#logout");
}

fn log_out(b: &Browser) {
    b.click_on("#logout");
    b.find("#login-username");
}

/// `fetch` from inside the page, with the session's cookie and CSRF token: what a user who
/// bypasses the interface can send.
fn fetch_in_page(b: &Browser, method: &str, path: &str) -> Value {
    b.run_async(
        "const [method, path, done] = arguments;
         fetch('/api/v1/auth/me').then(r => r.json()).then(me =>
           fetch(path, {method, headers: {'X-CSRF-Token': me.csrf_token, 'Content-Type': 'application/json'}, body: method === 'GET' ? undefined : '{}'}))
         .then(async r => done({status: r.status, body: await r.json().catch(() => null)}))
         .catch(e => done({status: 0, body: String(e)}));",
        json!([method, path]),
    )
}

/// A rule a tenant imports through the console.
const CERTUTIL_RULE: &str = "title: Certutil downloads a file
id: 0b7c4a1e-2222-4c2e-9d3a-5e1f00000001
level: high
tags: [attack.command-and-control, attack.t1105]
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\certutil.exe'
    CommandLine|contains: urlcache
  condition: sel
";

#[test]
fn analysts_log_in_search_triage_and_stay_within_their_role_and_tenant() {
    let Some(b) = Browser::start() else { return };
    let s = Server::start(
        &scratch("console"),
        Options {
            demo: true,
            ..Options::default()
        },
    );
    let demo = s.token("demo", "read");
    s.wait_detection(&demo);
    let open_alerts = || {
        let (_, v) = get_auth(&s.url("/api/v1/alerts?status=open&limit=1000"), &demo);
        v["alerts"].as_array().cloned().unwrap_or_default()
    };
    let before = open_alerts();
    assert!(before.len() >= 3, "the demo incident raised alerts");
    let ana_otp = add_user(&s, "ana", "demo", "admin");
    let vic_otp = add_user(&s, "vic", "demo", "viewer");
    let ben_otp = add_user(&s, "ben", "other", "analyst");
    // ana also runs the server: a global administrator.
    let out = server::kasbah()
        .args(["user", "global", "ana", "--data-dir"])
        .arg(&s.data)
        .output()
        .expect("kasbah user global");
    assert!(out.status.success());
    first_login(&s, "vic", &vic_otp, "viewer password 1");
    first_login(&s, "ben", &ben_otp, "other tenant pw 1");

    // The login page, then the one-time password's forced change.
    b.goto(&s.url("/"));
    b.find("#login-username");
    b.screenshot("login");
    b.type_into("#login-username", "ana");
    b.type_into("#login-password", "wrong password");
    b.click_on("#login-submit");
    b.wait("a login error", || {
        (!b.text_of("#login-error").trim().is_empty()).then_some(())
    });
    b.type_into("#login-password", &ana_otp);
    b.click_on("#login-submit");
    b.type_into("#password-current", &ana_otp);
    b.type_into("#password-new", "analyst password 1");
    b.type_into("#password-confirm", "analyst password 1");
    b.click_on("#password-submit");
    b.find("#logout");

    // Overview over all time: the incident's techniques are in the ATT&CK matrix.
    b.goto(&s.url("/#/overview?period=all"));
    b.wait_text("#attack-matrix", "T1");
    b.find("#overview-alerts-chart canvas");
    b.screenshot("overview");

    // Search: an error is shown at its column, then results with a histogram and an event.
    b.goto(&s.url("/#/search?q=*"));
    b.type_into("#search-query", "event.outcome:failure AND (");
    b.click_on("#search-run");
    b.wait_text("#search-error", "KQ");
    b.type_into("#search-query", "event.outcome:failure\u{E007}");
    let rows = b.wait("search results", || {
        let rows = b.all("tr.event-row");
        (!rows.is_empty() && b.text_of("#search-error").is_empty()).then_some(rows)
    });
    assert!(
        b.text_of("#search-total")
            .chars()
            .any(|c| c.is_ascii_digit())
    );
    b.find("#search-histogram canvas");
    b.click(&rows[0]);
    b.find("tr.event-detail");
    b.wait_text("#field-sidebar", "event.outcome");
    b.screenshot("search");

    // A global administrator's "All tenants" switch: another tenant's event is out of the demo
    // tenant's search, and found, labelled with its tenant, once the switch is on.
    let other_ingest = s.token("other", "ingest");
    let other_read = s.token("other", "read");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let probe = json!({"@timestamp": now, "host.name": "other-tenant-host", "message": "cross-tenant probe"});
    let (code, body) = server::post(
        &s.url("/api/v1/ingest"),
        Some(&other_ingest),
        probe.to_string().as_bytes(),
    );
    assert!(code < 300, "{body}");
    assert_eq!(
        s.wait_total(&other_read, "host.name:other-tenant-host", 1),
        1
    );
    b.goto(&s.url("/#/search?q=host.name%3Aother-tenant-host&from=-1h"));
    b.wait("the demo tenant's empty answer", || {
        let total = b.text_of("#search-total");
        (total.chars().any(|c| c.is_ascii_digit()) || total.contains("No")).then_some(())
    });
    assert!(
        b.all("tr.event-row").is_empty(),
        "another tenant's event in the demo tenant"
    );
    b.click_on("#search-all-tenants");
    b.wait("the event of the other tenant", || {
        (!b.all("tr.event-row").is_empty()).then_some(())
    });
    assert!(b.url().contains("all=1"), "{}", b.url());
    b.wait_text("#field-sidebar", "kasbah.tenant_name");
    b.wait_text("#field-sidebar", "other");
    b.screenshot("search-all-tenants");
    // A link with `all=1` (here over all time, one event: a histogram of a single bucket)
    // opens with the switch on.
    b.goto(&s.url("/#/search?q=host.name%3Aother-tenant-host&all=1"));
    b.wait("the event from the link", || {
        (!b.all("tr.event-row").is_empty()).then_some(())
    });
    assert_eq!(
        b.run(
            "return document.querySelector('#search-all-tenants').checked;",
            json!([])
        ),
        json!(true)
    );
    b.find("#search-histogram canvas");

    // The alert queue, then one alert: its rule's YAML, and acknowledging it.
    b.goto(&s.url("/#/alerts"));
    // A detection's alert (correlations and anomalies have other pages to test).
    let id = before
        .iter()
        .find(|a| a["kind"] == "detection")
        .and_then(|a| a["id"].as_i64())
        .expect("a detection alert");
    let first = b.find(&format!("tr.alert-row[data-id=\"{id}\"]"));
    b.screenshot("alerts");
    b.click(&first);
    b.wait_text("#alert-rule-yaml", "title:");
    b.screenshot("alert");
    b.click_on("#alert-ack");
    b.wait_text("#alert-status", "Acknowledged");
    let (_, v) = get_auth(&s.url(&format!("/api/v1/alerts/{id}")), &demo);
    assert_eq!(v["status"], "acknowledged", "{v}");

    // Rules: a broken import is refused with its line and code, a good one runs at once.
    b.goto(&s.url("/#/rules"));
    b.find("tr.rule-row");
    b.wait_text("#import-list", "no rule");
    let set_yaml = |text: &str| set_value(&b, "#import-yaml", text);
    set_yaml(
        "title: Broken\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|nosuch: x\n  condition: sel\n",
    );
    b.click_on("#import-run");
    b.wait_text(".import-diagnostics", "KS");
    b.type_into("#import-name", "certutil.yml");
    set_yaml(CERTUTIL_RULE);
    b.click_on("#import-run");
    b.wait_text("#import-table", "certutil.yml");
    b.wait_text("#rules-table", "Certutil downloads a file");
    b.find("tr.rule-row .badge.imported");
    b.run(
        "document.querySelector('#rules-import').scrollIntoView({block: 'start'});",
        json!([]),
    );
    b.screenshot("import");
    b.run("window.scrollTo(0, 0);", json!([]));
    b.screenshot("rules");
    let (_, v) = get_auth(&s.url("/api/v1/rules?q=certutil"), &demo);
    assert_eq!(v["rules"][0]["source"], "imported", "{v}");
    // The new rule matches a new event of this tenant.
    let ingest = s.token("demo", "ingest");
    let (status, v) = server::post(
        &s.url("/api/v1/ingest"),
        Some(&ingest),
        json!({"@timestamp": "2024-03-15T12:00:00Z", "Channel": "Microsoft-Windows-Sysmon/Operational",
               "EventID": 1, "Computer": "ws9", "Image": "C:\\Windows\\System32\\certutil.exe",
               "CommandLine": "certutil -urlcache -f http://x/a.exe a.exe"})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    s.wait_detection(&demo);
    let (_, v) = get_auth(
        &s.url("/api/v1/alerts?rule_id=0b7c4a1e-2222-4c2e-9d3a-5e1f00000001"),
        &demo,
    );
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(1), "{v}");

    // Administration; a global administrator also sees every tenant and creates one.
    b.goto(&s.url("/#/admin"));
    b.wait_text("#users-table", "vic");
    b.wait_text("#audit-table", "auth.login");
    b.screenshot("admin");
    b.wait_text("#tenants-table", "other");
    b.type_into("#tenant-new-name", "acme-cert");
    b.click_on("#tenant-create");
    b.wait_text("#tenants-table", "acme-cert");
    b.run(
        "document.querySelectorAll('.toast-item').forEach((t) => t.remove());
         document.querySelector('#admin-tenants').scrollIntoView({block: 'start'});",
        json!([]),
    );
    b.screenshot("tenants");
    let (_, v) = get_auth(
        &s.url("/api/v1/audit?q=tenant.create"),
        &s.token("demo", "admin"),
    );
    assert!(
        v["entries"].as_array().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    // The audit search runs on the server, over the whole trail.
    b.type_into("#audit-filter", "user.role");
    b.wait("audit rows of user.role only", || {
        let rows = b.all("tr.audit-row");
        (!rows.is_empty() && rows.iter().all(|r| b.text(r).contains("user.role"))).then_some(())
    });

    // Enrolling a second factor shows a scannable QR code (dark finder module in the corner,
    // past the white quiet zone) beside the secret.
    b.goto(&s.url("/#/account"));
    b.click_on("#totp-start");
    b.find("#totp-secret");
    let corner = b.run(
        "const c = document.querySelector('#totp-qr');
         const px = c.getContext('2d').getImageData(4 * 5 + 2, 4 * 5 + 2, 1, 1).data;
         const white = c.getContext('2d').getImageData(2, 2, 1, 1).data;
         return [px[0], white[0], c.width];",
        json!([]),
    );
    assert_eq!(
        (&corner[0], &corner[1]),
        (&json!(0), &json!(255)),
        "{corner}"
    );
    b.screenshot("totp");
    log_out(&b);

    // A viewer sees the buttons disabled, and the server refuses the change anyway.
    log_in(&b, &s, "vic", "viewer password 1");
    let open = open_alerts();
    let target = open[0]["id"].as_i64().expect("an open alert");
    b.goto(&s.url(&format!("/#/alerts/{target}")));
    let ack = b.find("#alert-ack");
    b.wait_text("#alert-rule-yaml", "title:");
    assert!(
        !b.enabled(&ack),
        "a viewer's acknowledge button is disabled"
    );
    let forced = fetch_in_page(&b, "POST", &format!("/api/v1/alerts/{target}/acknowledge"));
    assert_eq!(forced["status"], 403, "{forced}");
    assert_eq!(forced["body"]["error"]["code"], "forbidden", "{forced}");
    assert_eq!(open_alerts().len(), open.len(), "nothing changed");
    log_out(&b);

    // Another tenant's analyst: an empty queue, and the demo alert is not found.
    log_in(&b, &s, "ben", "other tenant pw 1");
    b.goto(&s.url("/#/alerts"));
    b.wait("the queue's counts", || {
        b.text_of("#alerts-counts")
            .chars()
            .any(|c| c.is_ascii_digit())
            .then_some(())
    });
    assert!(
        b.all("tr.alert-row").is_empty(),
        "no alert of demo in other"
    );
    b.goto(&s.url(&format!("/#/alerts/{target}")));
    b.wait("a not-found message", || {
        let t = format!("{} {}", b.text_of("#toast"), b.text_of("#main"));
        (t.contains("does not exist") || t.contains("not found")).then_some(())
    });
    let peek = fetch_in_page(&b, "GET", &format!("/api/v1/alerts/{target}"));
    assert_eq!(peek["status"], 404, "{peek}");
    let logs = b.logs();
    assert!(
        !logs.contains("Uncaught") && !logs.contains("Content Security Policy"),
        "{logs}"
    );
}

/// Sets the value of a text area at once (typing a whole rule key by key is slow).
fn set_value(b: &Browser, css: &str, text: &str) {
    b.run(
        "document.querySelector(arguments[0]).value = arguments[1];",
        json!([css, text]),
    );
}

/// Removes the notifications stacked in the corner, which can cover a button near it.
fn clear_toasts(b: &Browser) {
    b.run(
        "document.querySelectorAll('.toast-item').forEach((t) => t.remove());",
        json!([]),
    );
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` (an access log's time) of a Unix time in seconds.
fn clf_time(secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Days to civil date (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let s = secs % 86_400;
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[test]
fn clf_time_matches_known_dates() {
    assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
    assert_eq!(clf_time(1_709_164_800), "29/Feb/2024:00:00:00 +0000");
    assert_eq!(clf_time(1_796_687_999), "07/Dec/2026:23:59:59 +0000");
}

/// A web server's access log with `n` SQL injection attempts from `ip`, `secs` seconds ago.
fn sqli_log(dir: &std::path::Path, name: &str, ip: &str, n: usize, ago: u64) -> std::path::PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "{ip} - - [{}] \"GET /shop/item.php?id={i}%20UNION%20SELECT%20login,password%20FROM%20users HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\"\n",
            clf_time(now - ago + i as u64)
        ));
    }
    text.push_str(&format!(
        "198.51.100.4 - - [{}] \"GET /index.html HTTP/1.1\" 200 1024 \"-\" \"Mozilla/5.0\"\n",
        clf_time(now - ago)
    ));
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the log");
    path
}

const SQLI_RULE: &str = "bd5065ad-0b06-4606-b060-c0c18065a53b";

/// A rule the server does not have, retro-hunted from the Rules page.
const NEW_RULE_ID: &str = "5f0c1f8e-1111-4a4a-9b9b-000000000001";
const NEW_RULE: &str = "title: Shop UNION SELECT probe
id: 5f0c1f8e-1111-4a4a-9b9b-000000000001
level: medium
logsource: {category: webserver}
detection:
  sel:
    cs-uri|contains: 'UNION%20SELECT'
  condition: sel
";

#[test]
fn analysts_upload_evidence_suppress_noise_and_retro_hunt() {
    let Some(b) = Browser::start() else { return };
    let data = scratch("console-upload");
    let s = Server::start(&data, Options::default());
    let otp = add_user(&s, "ana", "case", "analyst");
    first_login(&s, "ana", &otp, "analyst password 1");
    let read = s.token("case", "read");
    log_in(&b, &s, "ana", "analyst password 1");
    let files = data.join("evidence");
    std::fs::create_dir_all(&files).expect("evidence dir");

    // Upload an access log through the page: progress, then what was stored, with a link to
    // exactly the file's events.
    let first = sqli_log(&files, "shop-access.log", "203.0.113.7", 3, 3_600);
    b.goto(&s.url("/#/upload"));
    b.find("#nav-upload");
    b.send_keys("#upload-files", &first.display().to_string());
    b.wait_text("#upload-table", "shop-access.log");
    b.click_on("#upload-start");
    b.wait_text("#upload-table", "4 events stored (access)");
    b.wait_text("#upload-summary", "4 events stored from 1 file.");
    b.screenshot("upload");
    b.click_on(".upload-search");
    b.wait("the uploaded file's events", || {
        (b.all("tr.event-row").len() == 4).then_some(())
    });
    assert!(b.url().contains("log.file.path"), "{}", b.url());
    assert_eq!(s.total(&read, "log.file.path:\"shop-access.log\""), 4);

    // The SQL injection rule raised one alert; suppress it for this address, closing it.
    s.wait_detection(&read);
    let alerts = |q: &str| {
        let (_, v) = get_auth(&s.url(&format!("/api/v1/alerts?{q}")), &read);
        v["alerts"].as_array().cloned().unwrap_or_default()
    };
    let live = alerts(&format!("rule_id={SQLI_RULE}"));
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["count"], 3, "{live:?}");
    let id = live[0]["id"].as_i64().expect("alert id");
    let ip_scope = live[0]["entities"]
        .as_array()
        .and_then(|e| e.iter().position(|e| e["kind"] == "ip"))
        .expect("an ip entity");
    b.goto(&s.url(&format!("/#/alerts/{id}")));
    b.wait_text("#alert-rule-yaml", "title:");
    b.click_on("#alert-suppress");
    b.find("#suppress-dialog");
    // The scopes list "this rule, for <entity>" first, in the alert's entity order.
    b.run(
        "document.querySelector('#suppress-scope').value = String(arguments[0]);",
        json!([ip_scope]),
    );
    b.click_on("#suppress-confirm");
    b.wait_text(".form-error", "Say why");
    b.type_into(
        "#suppress-reason",
        "Authorised penetration test, ticket SEC-1234",
    );
    b.click_on("#suppress-close");
    b.screenshot("suppress");
    b.click_on("#suppress-confirm");
    b.wait_text("#alert-status", "Closed");
    let (_, v) = get_auth(&s.url("/api/v1/suppressions"), &read);
    let sup = v["suppressions"][0].clone();
    assert_eq!(sup["rule_id"], SQLI_RULE, "{v}");
    assert_eq!(
        sup["entity"],
        json!({"kind": "ip", "value": "203.0.113.7"}),
        "{v}"
    );
    assert!(sup["expires_at"].is_string(), "7 days by default: {v}");

    // More of the same traffic: stored and searchable, but no new alert; the suppression counts it.
    let second = sqli_log(&files, "shop-access-2.log", "203.0.113.7", 2, 1_800);
    b.goto(&s.url("/#/upload"));
    b.send_keys("#upload-files", &second.display().to_string());
    b.click_on("#upload-start");
    b.wait_text("#upload-table", "3 events stored (access)");
    s.wait_detection(&read);
    assert_eq!(alerts(&format!("rule_id={SQLI_RULE}")).len(), 1);
    b.goto(&s.url("/#/suppressions"));
    let row = b.find("tr.suppression-row");
    b.wait("the suppression, named by its rule's title", || {
        let text = b.text(&row);
        (text.contains("SEC-1234") && text.contains("SQL Injection Attempt")).then_some(())
    });
    let (_, v) = get_auth(&s.url("/api/v1/suppressions"), &read);
    assert_eq!(v["suppressions"][0]["hits"], 2, "{v}");
    assert_eq!(
        b.text_of("tr.suppression-row td:nth-child(7)").trim(),
        "2",
        "the page shows the alerts held back"
    );
    b.screenshot("suppressions");
    b.click_on(".suppression-lift");
    b.click_on("#confirm-ok");
    b.wait_text("#suppressions-box", "No suppression");
    let (_, v) = get_auth(&s.url("/api/v1/suppressions"), &read);
    assert_eq!(v["suppressions"].as_array().map(Vec::len), Some(0), "{v}");

    // A retro-hunt of the rule over the last 7 days finds the 5 stored attempts again, as a
    // retrospective alert beside the live one.
    b.goto(&s.url(&format!("/#/rules/{SQLI_RULE}")));
    b.find("#rule-retro");
    clear_toasts(&b);
    b.click_on("#retro-run");
    let facts = b.wait_text("#retro-facts", "Matches");
    assert!(facts.contains('5'), "{facts}");
    b.find("#retro-alerts");
    b.run(
        "document.querySelectorAll('.toast-item').forEach((t) => t.remove());
         document.querySelector('#rule-retro').scrollIntoView({block: 'start'});",
        json!([]),
    );
    b.screenshot("retro-hunt");
    let retro = alerts(&format!("rule_id={SQLI_RULE}&retro=true"));
    assert_eq!(retro.len(), 1, "{retro:?}");
    assert_eq!(retro[0]["count"], 5, "{retro:?}");
    // Its link opens the queue on this rule's retro-hunt alerts only (the live one is left out).
    b.click_on("#retro-alerts");
    let retro_id = retro[0]["id"].as_i64().expect("retro alert id");
    b.find(&format!("tr.alert-row[data-id=\"{retro_id}\"]"));
    assert_eq!(b.all("tr.alert-row").len(), 1, "{}", b.url());
    assert!(b.url().contains("origin=retro"), "{}", b.url());

    // A rule published today, not loaded on the server, hunted over what is stored: pasted on
    // the Rules page; an invalid one is refused with its code.
    b.goto(&s.url("/#/rules"));
    let set_sigma = |text: &str| set_value(&b, "#rule-sigma", text);
    set_sigma(
        "title: Broken\nlogsource: {category: webserver}\ndetection:\n  sel:\n    cs-uri|nosuch: x\n  condition: sel\n",
    );
    b.click_on("#sigma-retro-run");
    b.wait_text("#sigma-retro-result", "invalid_rule");
    set_sigma(NEW_RULE);
    clear_toasts(&b);
    b.click_on("#sigma-retro-run");
    let facts = b.wait_text("#sigma-retro-facts", "Matches");
    assert!(
        facts.contains("Matches\n5") || facts.contains("Matches 5"),
        "{facts}"
    );
    let adhoc = alerts(&format!("rule_id={NEW_RULE_ID}&retro=true"));
    assert_eq!(adhoc.len(), 1, "{adhoc:?}");
    assert_eq!(adhoc[0]["count"], 5, "{adhoc:?}");
    let logs = b.logs();
    assert!(
        !logs.contains("Uncaught") && !logs.contains("Content Security Policy"),
        "{logs}"
    );
}
