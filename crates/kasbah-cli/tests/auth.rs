//! End-to-end tests of users and browser sessions through the real binary and HTTP API: the
//! first administrator, one-time passwords, argon2id logins, the session cookie's attributes,
//! CSRF protection, roles, tenant isolation, lockout, logout and the audit trail of it all.

mod server;

use std::time::Duration;

use serde_json::json;
use server::{Browser, Options, Server, add_user, first_login, get_auth, kasbah, post, scratch};

#[test]
fn users_log_in_with_sessions_csrf_roles_isolation_and_lockout() {
    let data = scratch("auth");
    let s = Server::start(&data, Options::default());

    // The first start created `admin` (just after it began to serve), who must change the
    // one-time password.
    let list = || {
        let out = kasbah()
            .args(["user", "list", "--data-dir"])
            .arg(&s.data)
            .output()
            .expect("kasbah user list");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !list().contains("admin") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let users = list();
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("admin") && l.contains("must change password")),
        "{users}"
    );

    // An alert in tenant acme, raised through an API token.
    let tok = s.token("acme", "ingest,read,write");
    let ev = json!({
        "@timestamp": "2024-03-14T10:00:00Z", "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1, "Computer": "ws01", "Image": "C:\\Users\\Public\\mimikatz.exe",
        "CommandLine": "mimikatz.exe sekurlsa::logonpasswords exit",
    });
    let (status, v) = post(
        &s.url("/api/v1/ingest"),
        Some(&tok),
        format!("{ev}\n").as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    s.wait_detection(&tok);

    let alice_otp = add_user(&s, "alice", "acme", "analyst");
    let victor_otp = add_user(&s, "victor", "acme", "viewer");
    let bob_otp = add_user(&s, "bob", "beta", "admin");

    // Wrong password: the same answer as an unknown user.
    let mut alice = Browser::default();
    let (status, v, set) = alice.login(&s, "alice", "not her password");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert!(set.is_none());
    let (status, v, _) = Browser::default().login(&s, "mallory", "whatever");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );

    // The one-time password opens a session that can only change it.
    let (status, v, set) = alice.login(&s, "alice", &alice_otp);
    assert_eq!(status, 200, "{v}");
    let set = set.expect("Set-Cookie");
    assert!(set.starts_with("kasbah_session=kbh_"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert_eq!(v["must_change_password"], true);
    assert_eq!(
        (v["tenant"].as_str(), v["role"].as_str()),
        (Some("acme"), Some("analyst"))
    );
    let (status, v, _) = alice.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("password_change_required"))
    );
    let change = |b: &mut Browser, csrf: bool, new: &str| {
        b.send(
            "POST",
            &s.url("/api/v1/auth/password"),
            Some(json!({"current": alice_otp, "new": new})),
            csrf,
        )
    };
    let (status, v, _) = change(&mut alice, false, "a much better password");
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("csrf")));
    let (status, _, _) = change(&mut alice, true, "short");
    assert_eq!(status, 400);
    let old = alice.clone();
    let (status, v, _) = change(&mut alice, true, "a much better password");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["must_change_password"], false);
    let (status, _, _) = old
        .clone()
        .send("GET", &s.url("/api/v1/auth/me"), None, false);
    assert_eq!(status, 401, "a password change ends the other sessions");

    // An analyst reads and triages; state changes need the CSRF token.
    let (status, v, _) = alice.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(status, 200, "{v}");
    let list = v["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{v}");
    let ack = s.url(&format!("/api/v1/alerts/{}/acknowledge", list[0]["id"]));
    let (status, v, _) = alice.send("POST", &ack, None, false);
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("csrf")));
    let (status, v, _) = alice.send("POST", &ack, None, true);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "acknowledged");

    // A viewer reads but cannot change anything.
    let mut victor = first_login(&s, "victor", &victor_otp, "viewer password 1");
    let (status, _, _) = victor.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(status, 200);
    let (status, v, _) = victor.send(
        "POST",
        &ack.replace("acknowledge", "close"),
        Some(json!({"resolution": "benign"})),
        true,
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );

    // Tenant beta's admin sees nothing of acme.
    let mut bob = first_login(&s, "bob", &bob_otp, "beta admin password");
    let (_, v, _) = bob.send("GET", &s.url("/api/v1/alerts"), None, false);
    assert_eq!(v["alerts"].as_array().map(Vec::len), Some(0), "{v}");
    let one = s.url(&format!("/api/v1/alerts/{}", list[0]["id"]));
    assert_eq!(bob.send("GET", &one, None, false).0, 404);

    // Five wrong passwords lock the account: even the right one is refused for a while.
    for _ in 0..5 {
        assert_eq!(Browser::default().login(&s, "victor", "guess").0, 401);
    }
    let (status, v, _) = Browser::default().login(&s, "victor", "viewer password 1");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (429, Some("account_locked")),
        "{v}"
    );

    // Logout ends the session: the cookie is cleared, and the secret it held is dead.
    let mut before = alice.clone();
    let (status, _, set) = alice.send("POST", &s.url("/api/v1/auth/logout"), None, true);
    assert_eq!(status, 200);
    assert!(set.is_some_and(|c| c.contains("Max-Age=0")));
    let (status, _, _) = before.send("GET", &s.url("/api/v1/auth/me"), None, false);
    assert_eq!(status, 401);

    // All of it is in acme's audit trail, with the client address.
    let admin = s.token("acme", "admin");
    let (_, trail) = get_auth(&s.url("/api/v1/audit?limit=100"), &admin);
    let entries = trail["entries"].as_array().cloned().unwrap_or_default();
    for want in [
        "auth.login",
        "auth.login_failed",
        "auth.password_change",
        "auth.logout",
        "user.role",
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == want),
            "{want}: {trail}"
        );
    }
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "auth.login" && e["detail"]["ip"] == "127.0.0.1"),
        "{trail}"
    );
    let (_, beta_trail) = get_auth(&s.url("/api/v1/audit?limit=100"), &s.token("beta", "admin"));
    assert!(
        !beta_trail.to_string().contains("alice"),
        "acme's logins are not in beta's trail: {beta_trail}"
    );
}
