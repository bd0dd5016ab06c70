//! Access control through the real binary and HTTP API: every route but the declared public
//! ones needs credentials (found by walking the router's source, so a new route is covered the
//! day it is added), token scopes, cross-tenant access to every object type by id (IDOR),
//! tenant administration over the API, session fixation and tenant switching.

mod server;

use serde_json::{Value, json};
use server::{
    Browser, Options, Server, add_user, delete_auth, first_login, get_auth, kasbah, post, put_auth,
    repo, scratch,
};

/// The routes declared public (`crates/kasbah-server/src/http/mod.rs` says why each is).
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/console/{*path}"),
    ("POST", "/api/v1/auth/login"),
];

/// Every `(method, path)` the router declares, read from its source.
fn routes() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(repo().join("crates/kasbah-server/src/http/mod.rs"))
        .expect("router source");
    let body = src
        .split_once("Router::new()")
        .map(|(_, b)| b)
        .and_then(|b| b.split_once(".fallback("))
        .map(|(r, _)| r)
        .expect("the router expression");
    let mut out = Vec::new();
    for part in body.split(".route(").skip(1) {
        let path = part
            .split('"')
            .nth(1)
            .expect("a route's path is its first string")
            .to_owned();
        for (token, method) in [
            ("get(", "GET"),
            ("post(", "POST"),
            ("put(", "PUT"),
            ("delete(", "DELETE"),
            ("head(", "HEAD"),
        ] {
            let found = part.match_indices(token).any(|(i, _)| {
                i == 0
                    || !part.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && part.as_bytes()[i - 1] != b'_'
            });
            if found {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{index}", "logs")
        .replace("{name}", "kasbah")
        .replace("{*path}", "app.js")
}

#[test]
fn every_route_but_the_declared_public_ones_requires_authentication() {
    let routes = routes();
    assert!(routes.len() > 50, "the router walk found {routes:?}");
    for needed in [
        "/api/v1/users",
        "/api/v1/tokens/{id}",
        "/api/v1/search",
        "/_bulk",
    ] {
        assert!(
            routes.iter().any(|(_, p)| p == needed),
            "{needed} not found"
        );
    }
    let s = Server::start(&scratch("access-routes"), Options::default());
    let mut checked = 0;
    for (method, path) in &routes {
        let url = s.url(&concrete(path));
        let public = PUBLIC.iter().any(|(m, p)| m == method && p == path);
        // No credentials, then a session cookie that names no session.
        for cookie in [None, Some("kasbah_session=kbh_no_such_session".to_owned())] {
            let mut b = Browser {
                cookie: cookie.clone(),
                csrf: None,
            };
            let body = matches!(method.as_str(), "POST" | "PUT").then(|| json!({}));
            let (status, v, _) = b.send(method, &url, body, false);
            if public {
                assert_ne!(status, 401, "{method} {path} is declared public: {v}");
            } else {
                // State changes with a cookie meet the CSRF check first (403): either way,
                // nothing happens without valid credentials.
                let refused = status == 401 || (cookie.is_some() && status == 403);
                assert!(
                    refused,
                    "{method} {path} with {cookie:?} answered {status}: {v}"
                );
                if status == 401 && method != "HEAD" {
                    assert!(v["error"]["code"].is_string(), "{method} {path}: {v}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100);

    // Browsers get the console's login page at `/`; shippers get the version probe.
    let resp = ureq::get(&s.url("/"))
        .header("Accept", "text/html,application/xhtml+xml")
        .call()
        .expect("console");
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = resp.into_body().read_to_string().expect("html");
    assert!(html.contains("/console/app.js"), "{html}");
    let (status, probe) = server::get(&s.url("/"));
    assert_eq!(
        (status, probe["version"]["number"].is_string()),
        (200, true)
    );
    // Console files are code, not data; nothing outside the embedded set is served.
    assert_eq!(server::get_text(&s.url("/console/app.js")).0, 200);
    assert_eq!(server::get_text(&s.url("/console/../Cargo.toml")).0, 404);
}

fn mimikatz(host: &str) -> String {
    format!(
        "{}\n",
        json!({
            "@timestamp": "2024-03-14T10:00:00Z", "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventID": 1, "Computer": host, "Image": "C:\\Users\\Public\\mimikatz.exe",
            "CommandLine": "mimikatz.exe sekurlsa::logonpasswords exit",
        })
    )
}

const MIMIKATZ: &str = "6829e098-739b-4a84-9345-8b1cf7ea16a6";

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[test]
fn tenants_are_isolated_for_every_object_and_admins_manage_users_and_tokens() {
    let s = Server::start(&scratch("access-idor"), Options::default());
    let acme = s.token("acme", "ingest,read,write,admin");
    let beta = s.token("beta", "ingest,read,write,admin");

    // acme's objects: an alert with a comment, a suppression.
    let (status, v) = post(
        &s.url("/api/v1/ingest"),
        Some(&acme),
        mimikatz("ws01").as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    s.wait_detection(&acme);
    let (_, list) = get_auth(&s.url("/api/v1/alerts"), &acme);
    let alert = list["alerts"][0]["id"].as_i64().expect("an alert in acme");
    let (status, v) = post(
        &s.url(&format!("/api/v1/alerts/{alert}/comments")),
        Some(&acme),
        br#"{"text": "looking"}"#,
    );
    assert_eq!(status, 201, "{v}");
    let (status, sup) = post(
        &s.url("/api/v1/suppressions"),
        Some(&acme),
        br#"{"entity": {"kind": "host", "value": "backup01"}, "reason": "backup server"}"#,
    );
    assert_eq!(status, 201, "{sup}");
    let sup = sup["id"].as_i64().expect("suppression id");

    // acme's admin makes a user and a token over the API.
    let (status, carol) = post(
        &s.url("/api/v1/users"),
        Some(&acme),
        br#"{"username": "carol", "role": "admin"}"#,
    );
    assert_eq!(status, 201, "{carol}");
    let carol_id = carol["user"]["id"].as_i64().expect("user id");
    assert_eq!(carol["user"]["role"], "admin");
    assert!(carol["password"].as_str().is_some_and(|p| p.len() >= 12));
    let (status, v) = post(
        &s.url("/api/v1/users"),
        Some(&acme),
        br#"{"username": "carol", "role": "viewer"}"#,
    );
    assert_eq!((status, code(&v)), (409, Some("user_exists")));
    let (status, made) = post(
        &s.url("/api/v1/tokens"),
        Some(&acme),
        br#"{"label": "reader", "scopes": ["read"], "expires_in_days": 30}"#,
    );
    assert_eq!(status, 201, "{made}");
    let reader = made["token"].as_str().expect("secret").to_owned();
    let reader_id = made["info"]["id"].as_i64().expect("token id");
    assert_eq!(made["info"]["scopes"], json!(["read"]));
    assert!(made["info"]["expires_at"].is_string());
    let (_, toks) = get_auth(&s.url("/api/v1/tokens"), &acme);
    assert!(
        toks["tokens"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["id"] == reader_id)),
        "{toks}"
    );
    assert!(
        !toks.to_string().contains(&reader),
        "secrets are never listed"
    );

    // Scopes: each token does what its scopes allow and nothing more.
    assert_eq!(get_auth(&s.url("/api/v1/alerts"), &reader).0, 200);
    let ack = s.url(&format!("/api/v1/alerts/{alert}/acknowledge"));
    let (status, v) = post(&ack, Some(&reader), b"");
    assert_eq!((status, code(&v)), (403, Some("forbidden")));
    let (status, v) = post(&s.url("/api/v1/ingest"), Some(&reader), b"{}\n");
    assert_eq!((status, code(&v)), (403, Some("forbidden")));
    for admin_only in ["/api/v1/audit", "/api/v1/users", "/api/v1/tokens"] {
        assert_eq!(get_auth(&s.url(admin_only), &reader).0, 403, "{admin_only}");
    }
    let ingest_only = s.token("acme", "ingest");
    assert_eq!(get_auth(&s.url("/api/v1/alerts"), &ingest_only).0, 403);
    let writer = s.token("acme", "read,write");
    assert_eq!(get_auth(&s.url("/api/v1/audit"), &writer).0, 403);
    assert_eq!(post(&ack, Some(&writer), b"").0, 200);

    // beta's administrator reaches none of acme's objects by id: each is "not found".
    let not_found = |status: u16, v: &Value, what: &str| {
        assert_eq!((status, code(v)), (404, Some("not_found")), "{what}: {v}");
    };
    let a = |p: &str| s.url(&format!("/api/v1/alerts/{alert}{p}"));
    let (st, v) = get_auth(&a(""), &beta);
    not_found(st, &v, "alert");
    let (st, v) = get_auth(&a("/events"), &beta);
    not_found(st, &v, "alert events");
    for action in ["/acknowledge", "/reopen", "/comments", "/assign", "/close"] {
        let body: &[u8] = match action {
            "/comments" => br#"{"text": "x"}"#,
            "/assign" => br#"{"assignee": "mallory"}"#,
            "/close" => br#"{"resolution": "false_positive"}"#,
            _ => b"",
        };
        let (st, v) = post(&a(action), Some(&beta), body);
        not_found(st, &v, action);
    }
    let (st, v) = delete_auth(&s.url(&format!("/api/v1/suppressions/{sup}")), &beta);
    not_found(st, &v, "suppression");
    let (st, v) = delete_auth(&s.url(&format!("/api/v1/tokens/{reader_id}")), &beta);
    not_found(st, &v, "token");
    assert_eq!(
        get_auth(&s.url("/api/v1/alerts"), &reader).0,
        200,
        "still valid"
    );
    let (st, v) = put_auth(
        &s.url(&format!("/api/v1/users/{carol_id}/role")),
        &beta,
        br#"{"role": "viewer"}"#,
    );
    not_found(st, &v, "user role");
    let (st, v) = post(
        &s.url(&format!("/api/v1/users/{carol_id}/reset")),
        Some(&beta),
        b"",
    );
    not_found(st, &v, "user reset");
    // Lists hold only the caller's own objects.
    let (_, v) = get_auth(&s.url("/api/v1/alerts"), &beta);
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(0), "{v}");
    let (_, v) = get_auth(&s.url("/api/v1/suppressions"), &beta);
    assert_eq!(v["suppressions"].as_array().map(Vec::len), Some(0), "{v}");
    for (path, secret) in [
        ("/api/v1/users", "carol"),
        ("/api/v1/tokens", "reader"),
        ("/api/v1/audit", "carol"),
    ] {
        let (_, v) = get_auth(&s.url(path), &beta);
        assert!(!v.to_string().contains(secret), "{path}: {v}");
    }
    // Rule states are per tenant: beta disabling a rule leaves it on for acme.
    let (st, v) = post(
        &s.url(&format!("/api/v1/rules/{MIMIKATZ}/disable")),
        Some(&beta),
        b"",
    );
    assert_eq!(st, 200, "{v}");
    let (_, v) = get_auth(&s.url(&format!("/api/v1/rules/{MIMIKATZ}")), &acme);
    assert_eq!(v["enabled"], true, "{v}");
    // acme's objects are intact.
    let (_, v) = get_auth(&a(""), &acme);
    assert_eq!(v["comments"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["assignee"], Value::Null, "{v}");

    // The tenant's last administrator stays one.
    let role = |id: i64, r: Value| {
        put_auth(
            &s.url(&format!("/api/v1/users/{id}/role")),
            &acme,
            json!({ "role": r }).to_string().as_bytes(),
        )
    };
    let (st, v) = role(carol_id, json!("viewer"));
    assert_eq!((st, code(&v)), (409, Some("last_admin")), "{v}");
    let (_, dave) = post(
        &s.url("/api/v1/users"),
        Some(&acme),
        br#"{"username": "dave", "role": "admin"}"#,
    );
    let (st, v) = role(carol_id, Value::Null);
    assert_eq!(st, 200, "{v}");
    let (_, v) = get_auth(&s.url("/api/v1/users"), &acme);
    let names: Vec<&str> = v["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["dave"], "{v}");
    let dave_pw = dave["password"].as_str().expect("password").to_owned();
    let (st, reset) = post(
        &s.url(&format!("/api/v1/users/{}/reset", dave["user"]["id"])),
        Some(&acme),
        b"",
    );
    assert_eq!(st, 200, "{reset}");
    assert_ne!(reset["password"].as_str(), Some(dave_pw.as_str()));

    // Revocation and retention.
    let (st, _) = delete_auth(&s.url(&format!("/api/v1/tokens/{reader_id}")), &acme);
    assert_eq!(st, 204);
    assert_eq!(get_auth(&s.url("/api/v1/alerts"), &reader).0, 401);
    let (st, v) = put_auth(
        &s.url("/api/v1/tenant"),
        &acme,
        br#"{"retention_days": 30}"#,
    );
    assert_eq!((st, v["retention_days"].as_u64()), (200, Some(30)), "{v}");
    let (_, v) = get_auth(&s.url("/api/v1/tenant"), &acme);
    assert_eq!(v["name"], "acme", "{v}");

    // The trail is searchable: text anywhere in an entry, or one action.
    let (_, found) = get_auth(&s.url("/api/v1/audit?q=CAROL"), &acme);
    let found = found["entries"].as_array().cloned().unwrap_or_default();
    assert!(found.len() >= 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|e| e.to_string().to_lowercase().contains("carol"))
    );
    let (_, found) = get_auth(&s.url("/api/v1/audit?action=token.revoke"), &acme);
    assert_eq!(
        found["entries"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    // Every change above is in acme's trail, made by its token.
    let (_, trail) = get_auth(&s.url("/api/v1/audit?limit=200"), &acme);
    for want in [
        "user.role",
        "user.reset",
        "token.create",
        "token.revoke",
        "tenant.retention",
    ] {
        assert!(
            trail["entries"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["action"] == want)),
            "{want}: {trail}"
        );
    }
}

#[test]
fn sessions_are_never_fixed_and_a_tenant_switch_starts_a_new_one() {
    let s = Server::start(&scratch("access-sessions"), Options::default());
    let acme = s.token("acme", "ingest,read");
    s.token("beta", "read");
    let (status, _) = post(
        &s.url("/api/v1/ingest"),
        Some(&acme),
        mimikatz("ws02").as_bytes(),
    );
    assert_eq!(status, 200);
    s.wait_detection(&acme);
    let otp = add_user(&s, "erin", "acme", "analyst");
    let out = kasbah()
        .args([
            "user",
            "role",
            "erin",
            "--tenant",
            "beta",
            "--role",
            "viewer",
            "--data-dir",
        ])
        .arg(&s.data)
        .output()
        .expect("kasbah user role");
    assert!(out.status.success());

    // A cookie planted before the login is replaced, and never becomes a session.
    let planted = "kasbah_session=kbh_planted_by_an_attacker".to_owned();
    let mut victim = Browser {
        cookie: Some(planted.clone()),
        csrf: None,
    };
    let (status, v, set) = victim.login(&s, "erin", &otp);
    assert_eq!(status, 200, "{v}");
    assert!(set.is_some_and(|c| !c.starts_with(&planted)));
    let mut attacker = Browser {
        cookie: Some(planted),
        csrf: None,
    };
    assert_eq!(
        attacker
            .send("GET", &s.url("/api/v1/auth/me"), None, false)
            .0,
        401
    );

    let mut erin = first_login(&s, "erin", &otp, "erin's long password");
    let (_, v, _) = erin.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(1), "{v}");
    let before = erin.clone();
    let (status, v, set) = erin.send(
        "POST",
        &s.url("/api/v1/auth/tenant"),
        Some(json!({"tenant": "beta"})),
        true,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["tenant"].as_str(), v["role"].as_str()),
        (Some("beta"), Some("viewer"))
    );
    assert_ne!(
        set.and_then(|c| c.split(';').next().map(String::from)),
        before.cookie
    );
    assert_ne!(erin.csrf, before.csrf);
    assert_eq!(
        before
            .clone()
            .send("GET", &s.url("/api/v1/auth/me"), None, false)
            .0,
        401,
        "the old session ended"
    );
    let (_, v, _) = erin.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(
        v["alerts"].as_array().map(Vec::len),
        Some(0),
        "beta has none: {v}"
    );
    let (status, v, _) = erin.send(
        "POST",
        &s.url("/api/v1/auth/tenant"),
        Some(json!({"tenant": "gamma"})),
        true,
    );
    assert_eq!((status, code(&v)), (403, Some("no_access")), "{v}");
}

#[test]
fn a_tenant_can_require_a_totp_second_factor() {
    let s = Server::start(&scratch("access-totp"), Options::default());
    let admin = s.token("acme", "read,admin");
    let (st, v) = put_auth(
        &s.url("/api/v1/tenant"),
        &admin,
        br#"{"require_totp": true}"#,
    );
    assert_eq!((st, v["require_totp"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(
        v["retention_days"],
        Value::Null,
        "absent keys are unchanged"
    );

    // Password alone opens a session that can only enrol.
    let otp = add_user(&s, "frank", "acme", "analyst");
    let mut frank = first_login(&s, "frank", &otp, "frank's password!");
    let (st, v, _) = frank.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(
        (st, code(&v)),
        (403, Some("totp_enrollment_required")),
        "{v}"
    );
    let (_, me, _) = frank.send("GET", &s.url("/api/v1/auth/me"), None, false);
    assert_eq!(me["totp_enrollment_required"], true, "{me}");

    let (st, setup, _) = frank.send("POST", &s.url("/api/v1/auth/totp/setup"), None, true);
    assert_eq!(st, 200, "{setup}");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    assert!(
        setup["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/Kasbah:frank?"))
    );
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
    };
    let code_at = |step: i64| kasbah_meta::totp_code(&secret, step).expect("code");
    let wrong = if code_at(kasbah_meta::step_of(now())) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (st, v, _) = frank.send(
        "POST",
        &s.url("/api/v1/auth/totp/enable"),
        Some(json!({"code": wrong})),
        true,
    );
    assert_eq!((st, code(&v)), (400, Some("invalid_totp")), "{v}");
    let step = kasbah_meta::step_of(now());
    let (st, v, _) = frank.send(
        "POST",
        &s.url("/api/v1/auth/totp/enable"),
        Some(json!({"code": code_at(step)})),
        true,
    );
    assert_eq!((st, v["totp"].as_bool()), (200, Some(true)), "{v}");
    let (st, _, _) = frank.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(st, 200);

    // From now on a login needs a fresh code: none, a wrong one and a replayed one fail.
    let login = |code: Option<String>| {
        let mut b = Browser::default();
        let mut body = json!({"username": "frank", "password": "frank's password!"});
        if let Some(c) = code {
            body["code"] = json!(c);
        }
        let (st, v, _) = b.send("POST", &s.url("/api/v1/auth/login"), Some(body), false);
        (st, v)
    };
    let (st, v) = login(None);
    assert_eq!((st, code(&v)), (401, Some("totp_required")), "{v}");
    let (st, v) = login(Some(code_at(step)));
    assert_eq!(
        (st, code(&v)),
        (401, Some("invalid_totp")),
        "a code works once: {v}"
    );
    let (st, v) = login(Some(code_at(step + 1)));
    assert_eq!((st, v["totp"].as_bool()), (200, Some(true)), "{v}");

    // It cannot be turned off while the tenant requires it; an administrator's reset removes it.
    let (st, v, _) = frank.send(
        "POST",
        &s.url("/api/v1/auth/totp/disable"),
        Some(json!({"password": "frank's password!"})),
        true,
    );
    assert_eq!(
        (st, code(&v)),
        (403, Some("totp_required_by_tenant")),
        "{v}"
    );
    let (_, users) = get_auth(&s.url("/api/v1/users"), &admin);
    let id = users["users"][0]["id"].as_i64().expect("frank's id");
    assert_eq!(users["users"][0]["totp"], true);
    let (st, _) = post(
        &s.url(&format!("/api/v1/users/{id}/reset")),
        Some(&admin),
        b"",
    );
    assert_eq!(st, 200);
    let (_, users) = get_auth(&s.url("/api/v1/users"), &admin);
    assert_eq!(users["users"][0]["totp"], false, "{users}");

    let (_, trail) = get_auth(&s.url("/api/v1/audit?limit=100"), &admin);
    for want in [
        "tenant.require_totp",
        "auth.totp_enable",
        "auth.login_failed",
        "user.reset",
    ] {
        assert!(
            trail["entries"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["action"] == want)),
            "{want}: {trail}"
        );
    }
}

fn kasbah_ok(args: &[&str], s: &Server) {
    let out = kasbah()
        .args(args)
        .arg("--data-dir")
        .arg(&s.data)
        .output()
        .expect("kasbah");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cross_search(b: &mut Browser, s: &Server, tenants: Value) -> (u16, Value) {
    let (status, v, _) = b.send(
        "POST",
        &s.url("/api/v1/search"),
        Some(json!({"query": "*", "tenants": tenants, "limit": 10})),
        true,
    );
    (status, v)
}

#[test]
fn global_administrators_manage_tenants_and_alone_search_across_them() {
    let s = Server::start(&scratch("access-global"), Options::default());
    let acme = s.token("acme", "ingest,read,write,admin");
    let beta = s.token("beta", "ingest,read,admin");
    for (t, host) in [(&acme, "acme-ws"), (&beta, "beta-ws"), (&beta, "beta-ws2")] {
        let (status, v) = post(&s.url("/api/v1/ingest"), Some(t), mimikatz(host).as_bytes());
        assert_eq!(status, 200, "{v}");
    }
    let otp = add_user(&s, "ops", "acme", "admin");
    let mut ops = first_login(&s, "ops", &otp, "ops's long password");
    let analyst_otp = add_user(&s, "ann", "acme", "analyst");
    let mut ann = first_login(&s, "ann", &analyst_otp, "ann's long password");

    // Not yet a global administrator: tenants and cross-tenant search are refused; so they are
    // to every token, whatever its scopes.
    let (status, v, _) = ops.send("GET", &s.url("/api/v1/tenants"), None, false);
    assert_eq!(
        (status, code(&v)),
        (403, Some("global_admin_required")),
        "{v}"
    );
    assert_eq!(cross_search(&mut ops, &s, json!("*")).0, 403);
    assert_eq!(cross_search(&mut ann, &s, json!("*")).0, 403);
    let (status, v) = post(
        &s.url("/api/v1/search"),
        Some(&acme),
        json!({"query": "*", "tenants": "*"}).to_string().as_bytes(),
    );
    assert_eq!(
        (status, code(&v)),
        (403, Some("global_admin_required")),
        "{v}"
    );
    let (status, _) = post(
        &s.url("/api/v1/tenants"),
        Some(&acme),
        json!({"name": "x"}).to_string().as_bytes(),
    );
    assert_eq!(status, 403);

    kasbah_ok(&["user", "global", "ops"], &s);
    let (status, v, _) = ops.send("GET", &s.url("/api/v1/auth/me"), None, false);
    assert_eq!((status, &v["global_admin"]), (200, &json!(true)), "{v}");
    let (status, v, _) = ops.send("GET", &s.url("/api/v1/tenants"), None, false);
    assert_eq!(status, 200, "{v}");
    let listed = |v: &Value, name: &str| -> Option<Value> {
        v["tenants"]
            .as_array()?
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
    };
    let b = listed(&v, "beta").expect("beta listed");
    assert_eq!((&b["role"], &b["events"]), (&Value::Null, &json!(2)), "{v}");
    assert_eq!(listed(&v, "acme").expect("acme")["role"], "admin");

    // Create a tenant: the creator administers it; names are checked; a name is taken once.
    let (status, v, _) = ops.send(
        "POST",
        &s.url("/api/v1/tenants"),
        Some(json!({"name": "newco"})),
        true,
    );
    assert_eq!((status, &v["role"]), (201, &json!("admin")), "{v}");
    let (status, v, _) = ops.send(
        "POST",
        &s.url("/api/v1/tenants"),
        Some(json!({"name": "newco"})),
        true,
    );
    assert_eq!((status, code(&v)), (409, Some("tenant_exists")), "{v}");
    let (status, _, _) = ops.send(
        "POST",
        &s.url("/api/v1/tenants"),
        Some(json!({"name": "Bad Name"})),
        true,
    );
    assert_eq!(status, 400);
    // Without the CSRF token, nothing is created.
    let (status, _, _) = ops.send(
        "POST",
        &s.url("/api/v1/tenants"),
        Some(json!({"name": "sneaky"})),
        false,
    );
    assert_eq!(status, 403);
    let (status, v, _) = ops.send(
        "POST",
        &s.url("/api/v1/auth/tenant"),
        Some(json!({"tenant": "newco"})),
        true,
    );
    assert_eq!((status, &v["role"]), (200, &json!("admin")), "{v}");

    // Search across tenants: every tenant, or those named; each event says whose it is.
    let (status, v) = cross_search(&mut ops, &s, json!("*"));
    assert_eq!((status, &v["total"]), (200, &json!(3)), "{v}");
    let mut owners: Vec<String> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kasbah.tenant_name"].as_str().map(String::from))
        .collect();
    owners.sort();
    assert_eq!(owners, vec!["acme", "beta", "beta"], "{v}");
    let (status, v) = cross_search(&mut ops, &s, json!(["beta"]));
    assert_eq!((status, &v["total"]), (200, &json!(2)), "{v}");
    assert_eq!(cross_search(&mut ops, &s, json!(["nosuch"])).0, 404);
    // Without `tenants`, a search stays in the session's tenant (newco: empty).
    let (_, v, _) = ops.send(
        "POST",
        &s.url("/api/v1/search"),
        Some(json!({"query": "*"})),
        true,
    );
    assert_eq!(v["total"], 0, "{v}");

    // Joining beta: recorded in beta's own trail, as are the searches that read it.
    let (_, v, _) = ops.send("GET", &s.url("/api/v1/tenants"), None, false);
    let beta_id = listed(&v, "beta").expect("beta")["id"]
        .as_u64()
        .expect("id");
    let (status, v, _) = ops.send(
        "POST",
        &s.url(&format!("/api/v1/tenants/{beta_id}/join")),
        None,
        true,
    );
    assert_eq!((status, &v["role"]), (200, &json!("admin")), "{v}");
    let (status, trail) = server::get_auth(&s.url("/api/v1/audit"), &beta);
    assert_eq!(status, 200, "{trail}");
    let actions: Vec<(&str, &str)> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| Some((e["actor"].as_str()?, e["action"].as_str()?)))
        .collect();
    assert!(
        actions.contains(&("user:ops", "tenant.join")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("user:ops", "search.cross_tenant")),
        "{actions:?}"
    );

    // No longer a global administrator: refused again at the next request.
    kasbah_ok(&["user", "global", "ops", "--off"], &s);
    let (status, _, _) = ops.send("GET", &s.url("/api/v1/tenants"), None, false);
    assert_eq!(status, 403);
}
