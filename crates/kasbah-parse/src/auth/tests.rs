use std::path::PathBuf;

use super::*;
use crate::format::Format;
use crate::syslog::tests::{f, one, parse_all};

fn auth(msg: &str) -> Event {
    one(&format!("Mar 10 09:14:02 bastion {msg}"), Format::Auth)
}

/// (category, type, action, outcome) of an event, as display strings.
fn what(e: &Event) -> (String, String, String, String) {
    let g = |n: &str| f(e, n).unwrap_or_default();
    (
        g("event.category"),
        g("event.type"),
        g("event.action"),
        g("event.outcome"),
    )
}

fn w(c: &str, t: &str, a: &str, o: &str) -> (String, String, String, String) {
    (c.into(), t.into(), a.into(), o.into())
}

// ---------------------------------------------------------------- header and framing

#[test]
fn header_and_common_fields() {
    let e = auth("sshd[4121]: Server listening on 0.0.0.0 port 22.");
    assert_eq!(e.timestamp.to_rfc3339(), "2024-03-10T09:14:02Z");
    assert_eq!(e.tz, None);
    assert_eq!(f(&e, "host.name").as_deref(), Some("bastion"));
    assert_eq!(f(&e, "process.name").as_deref(), Some("sshd"));
    assert_eq!(f(&e, "process.pid").as_deref(), Some("4121"));
    assert_eq!(f(&e, "event.kind").as_deref(), Some("event"));
    assert_eq!(f(&e, "event.module").as_deref(), Some("auth"));
    assert_eq!(f(&e, "event.dataset").as_deref(), Some("auth.log"));
    assert_eq!(
        f(&e, "message").as_deref(),
        Some("Server listening on 0.0.0.0 port 22.")
    );
    // Not an auth message sshd knows: no action; its own listening address is not a source.
    assert_eq!(f(&e, "event.action"), None);
    assert_eq!(f(&e, "source.ip"), None);
    // Other unknown sshd messages still give the peer's address.
    let e = auth(
        "sshd[9]: Unable to negotiate with 198.51.100.200 port 42718: no matching key exchange method found.",
    );
    assert_eq!(f(&e, "source.ip").as_deref(), Some("198.51.100.200"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("42718"));
    // rsyslog's high-precision timestamps.
    let e = one(
        "2024-03-10T09:14:02.123456+01:00 bastion sshd[1]: Accepted password for alice from 2001:db8::5 port 22 ssh2",
        Format::Auth,
    );
    assert_eq!(e.timestamp.to_rfc3339(), "2024-03-10T08:14:02.123456Z");
    assert_eq!(e.tz.map(kasbah_event::TzOffset::secs), Some(3600));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("2001:db8::5"));
}

#[test]
fn unknown_programs_and_messages_still_make_events() {
    let e = auth("systemd[1]: Started Session 3 of user alice.");
    assert_eq!(f(&e, "process.name").as_deref(), Some("systemd"));
    assert_eq!(f(&e, "event.action"), None);
    assert_eq!(f(&e, "event.category"), None);
    let e = auth("sudo: unable to resolve host bastion: Name or service not known");
    assert_eq!(f(&e, "event.action"), None);
    assert_eq!(f(&e, "user.name"), None);
    // A header-only line.
    let e = one("Mar 10 09:14:02 bastion", Format::Auth);
    assert_eq!(f(&e, "message"), None);
}

#[test]
fn lines_that_are_not_auth_are_kp005() {
    let (events, bad) = parse_all(
        b"-- Logs begin at Mon 2024-03-04 --\nnot a log line\n{\"json\":1}\nMar 10 09:14:02 h sshd[1]: ok\n",
        Format::Auth,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        bad.iter()
            .map(|b| (b.record, b.error.code.code()))
            .collect::<Vec<_>>(),
        vec![(1, "KP005"), (2, "KP005"), (3, "KP005")]
    );
    assert!(bad[0].error.message.contains("expected `Mmm dd hh:mm:ss"));
    // A broken RFC 5424 header is a syntax error, not a wrong format.
    let (_, bad) = parse_all(b"<14>1 - h sshd - - [x m", Format::Auth);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].error.code, ErrorCode::Syntax);
}

// ---------------------------------------------------------------- sshd

#[test]
fn sshd_logins() {
    let e = auth(
        "sshd[1]: Accepted publickey for deploy from 198.51.100.7 port 41822 ssh2: ED25519 SHA256:3oZg1q3qkX0pG0l2mJk5",
    );
    assert_eq!(
        w("authentication", "start", "ssh_login", "success"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("deploy"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("198.51.100.7"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("41822"));
    assert_eq!(f(&e, "sshd.auth_method").as_deref(), Some("publickey"));
    assert_eq!(f(&e, "sshd.protocol").as_deref(), Some("ssh2"));
    assert_eq!(f(&e, "sshd.key_type").as_deref(), Some("ED25519"));
    assert_eq!(
        f(&e, "sshd.key_fingerprint").as_deref(),
        Some("SHA256:3oZg1q3qkX0pG0l2mJk5")
    );
    assert_eq!(f(&e, "sshd.invalid_user"), None);

    let e =
        auth("sshd[1]: Failed password for invalid user admin from 203.0.113.50 port 50122 ssh2");
    assert_eq!(
        w("authentication", "start", "ssh_login_failed", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("admin"));
    assert_eq!(f(&e, "sshd.invalid_user").as_deref(), Some("true"));
    assert_eq!(f(&e, "sshd.key_type"), None);

    let e = auth("sshd[1]: Failed none for invalid user  from 203.0.113.50 port 50122 ssh2");
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_login_failed"));
    assert_eq!(f(&e, "sshd.auth_method").as_deref(), Some("none"));
    assert_eq!(f(&e, "user.name"), None);

    let e =
        auth("sshd[1]: Accepted keyboard-interactive/pam for root from 10.0.0.9 port 2222 ssh2");
    assert_eq!(
        f(&e, "sshd.auth_method").as_deref(),
        Some("keyboard-interactive/pam")
    );
    // sshd-session (OpenSSH 9.8+) is sshd too.
    let e = auth("sshd-session[77]: Accepted password for alice from 10.0.0.5 port 5000 ssh2");
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_login"));
}

#[test]
fn sshd_user_names_cannot_spoof_the_address() {
    // An attacker picks the user name `x from 10.9.9.9 port 1`; sshd appends the real address.
    let e = auth(
        "sshd[1]: Failed password for invalid user x from 10.9.9.9 port 1 from 203.0.113.66 port 40000 ssh2",
    );
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.66"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("40000"));
    assert_eq!(
        f(&e, "user.name").as_deref(),
        Some("x from 10.9.9.9 port 1")
    );
    let e = auth("sshd[1]: Invalid user a from 1.1.1.1 from 203.0.113.66 port 40000");
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.66"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("a from 1.1.1.1"));
}

#[test]
fn sshd_invalid_users() {
    let e = auth("sshd[1]: Invalid user oracle from 203.0.113.50 port 50122");
    assert_eq!(
        w("authentication", "info", "ssh_invalid_user", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("oracle"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("50122"));
    // Old sshd without port; empty user name.
    let e = auth("sshd[1]: Invalid user  from 203.0.113.50");
    assert_eq!(f(&e, "user.name"), None);
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.50"));
    assert_eq!(f(&e, "source.port"), None);
    let e = auth("sshd[1]: input_userauth_request: invalid user test [preauth]");
    assert_eq!(f(&e, "user.name").as_deref(), Some("test"));
    assert_eq!(f(&e, "sshd.preauth").as_deref(), Some("true"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_invalid_user"));
}

#[test]
fn sshd_connection_ends() {
    let e = auth(
        "sshd[1]: Connection closed by authenticating user root 203.0.113.50 port 50122 [preauth]",
    );
    assert_eq!(w("network", "end", "ssh_connection_closed", ""), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.50"));
    assert_eq!(f(&e, "sshd.preauth").as_deref(), Some("true"));
    let e = auth("sshd[1]: Connection closed by invalid user admin 203.0.113.50 port 1 [preauth]");
    assert_eq!(f(&e, "sshd.invalid_user").as_deref(), Some("true"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("admin"));
    let e = auth("sshd[1]: Connection closed by 203.0.113.50 port 50122 [preauth]");
    assert_eq!(f(&e, "user.name"), None);
    assert_eq!(f(&e, "source.port").as_deref(), Some("50122"));
    let e = auth("sshd[1]: Connection closed by 203.0.113.50 [preauth]");
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.50"));
    let e = auth("sshd[1]: Disconnected from user deploy 198.51.100.7 port 41822");
    assert_eq!(w("session", "end", "ssh_disconnected", ""), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("deploy"));
    assert_eq!(f(&e, "sshd.preauth"), None);
    let e = auth("sshd[1]: Received disconnect from 203.0.113.50 port 50122:11: Bye Bye [preauth]");
    assert_eq!(w("session", "end", "ssh_disconnect_received", ""), what(&e));
    assert_eq!(e.get_name("sshd.disconnect_code"), Some(&Value::Int(11)));
    assert_eq!(f(&e, "sshd.disconnect_reason").as_deref(), Some("Bye Bye"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("50122"));
    // The older form without port, behind `error: `.
    let e = auth(
        "sshd[1]: error: Received disconnect from 103.99.0.122: 14: No more user authentication methods available. [preauth]",
    );
    assert_eq!(f(&e, "source.ip").as_deref(), Some("103.99.0.122"));
    assert_eq!(e.get_name("sshd.disconnect_code"), Some(&Value::Int(14)));
    assert_eq!(
        f(&e, "sshd.disconnect_reason").as_deref(),
        Some("No more user authentication methods available.")
    );
}

#[test]
fn sshd_brute_force_signals() {
    let e = auth(
        "sshd[1]: error: maximum authentication attempts exceeded for invalid user oracle from 203.0.113.50 port 50122 ssh2 [preauth]",
    );
    assert_eq!(
        w("authentication", "info", "ssh_max_auth_exceeded", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("oracle"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("50122"));
    let e = auth(
        "sshd[1]: Disconnecting invalid user admin 203.0.113.50 port 4422: Too many authentication failures [preauth]",
    );
    assert_eq!(
        f(&e, "event.action").as_deref(),
        Some("ssh_max_auth_exceeded")
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("admin"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.50"));
    let e = auth("sshd[1]: Disconnecting: Too many authentication failures for root [preauth]");
    assert_eq!(
        f(&e, "event.action").as_deref(),
        Some("ssh_max_auth_exceeded")
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    let e = auth(
        "sshd[1]: Disconnecting: Change of username or service not allowed: (a,b) -> (c,d) [preauth]",
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_disconnecting"));
    let e = auth("sshd[1]: Did not receive identification string from 192.0.2.200 port 60000");
    assert_eq!(
        w("network", "connection", "ssh_no_identification", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "source.port").as_deref(), Some("60000"));
    let e = auth("sshd[1]: User root from 192.0.2.3 not allowed because not listed in AllowUsers");
    assert_eq!(
        f(&e, "event.action").as_deref(),
        Some("ssh_user_not_allowed")
    );
    assert_eq!(
        f(&e, "event.reason").as_deref(),
        Some("not listed in AllowUsers")
    );
    assert_eq!(f(&e, "source.ip").as_deref(), Some("192.0.2.3"));
    let e = auth(
        "sshd[1]: reverse mapping checking getaddrinfo for ns.example.net [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
    );
    assert_eq!(f(&e, "source.domain").as_deref(), Some("ns.example.net"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("173.234.31.186"));
    let e = auth(
        "sshd[1]: Address 192.0.2.8 maps to host.example.org, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
    );
    assert_eq!(
        f(&e, "event.action").as_deref(),
        Some("ssh_reverse_mapping_failed")
    );
    assert_eq!(f(&e, "source.domain").as_deref(), Some("host.example.org"));
    let e = auth("sshd[1]: Timeout before authentication for 192.0.2.8 port 50000");
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_auth_timeout"));
    let e = auth("sshd[1]: Connection from 192.0.2.8 port 50000 on 10.0.0.1 port 22 rdomain \"\"");
    assert_eq!(w("network", "start", "ssh_connection", ""), what(&e));
    assert_eq!(f(&e, "destination.ip").as_deref(), Some("10.0.0.1"));
    assert_eq!(f(&e, "destination.port").as_deref(), Some("22"));
    let e = auth(
        "sshd[1]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.8  user=root",
    );
    assert_eq!(e.get_name("pam.more_failures"), Some(&Value::Int(5)));
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("pam_auth_failure"));
    // Not the numbered form.
    let e = auth("sshd[1]: PAM service(sshd) ignoring max retries; 6 > 3");
    assert_eq!(f(&e, "event.action"), None);
}

#[test]
fn repeated_messages_are_unwrapped() {
    let e = auth(
        "sshd[1]: message repeated 3 times: [ Failed password for root from 203.0.113.50 port 50122 ssh2]",
    );
    assert_eq!(e.get_name("syslog.repeated"), Some(&Value::Int(3)));
    assert_eq!(f(&e, "event.action").as_deref(), Some("ssh_login_failed"));
    assert_eq!(f(&e, "source.port").as_deref(), Some("50122"));
    // The message stays as written.
    assert!(f(&e, "message").is_some_and(|m| m.starts_with("message repeated 3")));
    // Malformed wrappers are left alone.
    let e = auth(
        "sshd[1]: message repeated many times: [ Failed password for root from 1.2.3.4 port 1 ssh2]",
    );
    assert_eq!(f(&e, "syslog.repeated"), None);
}

// ---------------------------------------------------------------- PAM

#[test]
fn pam_messages() {
    let e = auth(
        "sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50  user=root",
    );
    assert_eq!(
        w("authentication", "info", "pam_auth_failure", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "pam.module").as_deref(), Some("pam_unix"));
    assert_eq!(f(&e, "pam.service").as_deref(), Some("sshd"));
    assert_eq!(f(&e, "pam.type").as_deref(), Some("auth"));
    assert_eq!(e.get_name("pam.uid"), Some(&Value::Int(0)));
    assert_eq!(f(&e, "pam.tty").as_deref(), Some("ssh"));
    assert_eq!(f(&e, "pam.ruser"), None);
    assert_eq!(f(&e, "pam.logname"), None);
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("203.0.113.50"));
    // A host name in rhost goes to source.domain.
    let e = auth(
        "sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=scanner.example.net",
    );
    assert_eq!(
        f(&e, "source.domain").as_deref(),
        Some("scanner.example.net")
    );
    assert_eq!(f(&e, "source.ip"), None);
    assert_eq!(f(&e, "user.name"), None);

    let e = auth("sshd[1]: pam_unix(sshd:auth): check pass; user unknown");
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    assert_eq!(f(&e, "event.reason").as_deref(), Some("user unknown"));

    let e = auth(
        "sshd[1]: pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)",
    );
    assert_eq!(w("session", "start", "session_opened", "success"), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("deploy"));
    assert_eq!(f(&e, "user.id").as_deref(), Some("1001"));
    assert_eq!(f(&e, "user.effective.name"), None);
    assert_eq!(f(&e, "pam.by").as_deref(), Some("(uid=0)"));
    let e = auth("sshd[1]: pam_unix(sshd:session): session closed for user deploy");
    assert_eq!(w("session", "end", "session_closed", "success"), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("deploy"));
    assert_eq!(f(&e, "user.id"), None);
    // Privilege changes: the one who asked is the user, the account is effective.
    let e = auth(
        "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
    assert_eq!(f(&e, "user.id").as_deref(), Some("1000"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "user.effective.id").as_deref(), Some("0"));
    let e =
        auth("su[9]: pam_unix(su-l:session): session opened for user postgres by alice(uid=1000)");
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("postgres"));
    // login's `by LOGIN(uid=0)` is not a user.
    let e = auth("login[9]: pam_unix(login:session): session opened for user root by LOGIN(uid=0)");
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    let e = auth("CRON[5511]: pam_unix(cron:session): session opened for user root by (uid=0)");
    assert_eq!(f(&e, "pam.service").as_deref(), Some("cron"));
    assert_eq!(f(&e, "event.action").as_deref(), Some("session_opened"));
    let e = auth("passwd[7]: pam_unix(passwd:chauthtok): password changed for bob");
    assert_eq!(
        w("iam", "user, change", "password_changed", "success"),
        what(&e)
    );
    assert_eq!(f(&e, "user.target.name").as_deref(), Some("bob"));
    let e = auth("sudo: pam_unix(sudo:auth): auth could not identify password for [alice]");
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    // Other PAM modules and unknown PAM texts.
    let e = auth(
        "sshd[1]: pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.1.1.1 user=carol",
    );
    assert_eq!(f(&e, "pam.module").as_deref(), Some("pam_sss"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("carol"));
    let e = auth("systemd[1]: pam_systemd(systemd-user:session): Failed to create session");
    assert_eq!(f(&e, "pam.module").as_deref(), Some("pam_systemd"));
    assert_eq!(f(&e, "event.action"), None);
    // Not PAM syntax.
    let e = auth("sshd[1]: pam_unix: something odd");
    assert_eq!(f(&e, "pam.module"), None);
}

// ---------------------------------------------------------------- sudo, su, login

#[test]
fn sudo_messages() {
    let e = auth(
        "sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la /root",
    );
    assert_eq!(w("process", "start", "sudo_command", "success"), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("root"));
    assert_eq!(
        f(&e, "process.command_line").as_deref(),
        Some("/bin/ls -la /root")
    );
    assert_eq!(
        f(&e, "process.working_directory").as_deref(),
        Some("/home/alice")
    );
    assert_eq!(f(&e, "sudo.tty").as_deref(), Some("pts/0"));
    assert_eq!(f(&e, "sudo.pwd").as_deref(), Some("/home/alice"));
    assert_eq!(f(&e, "sudo.user").as_deref(), Some("root"));
    assert_eq!(f(&e, "sudo.command").as_deref(), Some("/bin/ls -la /root"));
    // COMMAND is taken whole, even with ` ; ` inside; GROUP and ENV are kept.
    let e = auth(
        "sudo: bob : TTY=pts/3 ; PWD=/tmp ; USER=www-data ; GROUP=www-data ; ENV=A=1 ; COMMAND=/bin/sh -c echo a ; echo b",
    );
    assert_eq!(
        f(&e, "process.command_line").as_deref(),
        Some("/bin/sh -c echo a ; echo b")
    );
    assert_eq!(f(&e, "sudo.group").as_deref(), Some("www-data"));
    assert_eq!(f(&e, "sudo.env").as_deref(), Some("A=1"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("www-data"));

    let e = auth(
        "sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id",
    );
    assert_eq!(
        w("authentication", "info", "sudo_auth_failed", "failure"),
        what(&e)
    );
    assert_eq!(e.get_name("sudo.incorrect_attempts"), Some(&Value::Int(3)));
    // The command did not run.
    assert_eq!(f(&e, "process.command_line"), None);
    assert_eq!(f(&e, "sudo.command").as_deref(), Some("/usr/bin/id"));
    let e = auth(
        "sudo: alice : 1 incorrect password attempt ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/true",
    );
    assert_eq!(e.get_name("sudo.incorrect_attempts"), Some(&Value::Int(1)));

    let e = auth(
        "sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/bash",
    );
    assert_eq!(
        w("authentication", "info", "sudo_denied", "failure"),
        what(&e)
    );
    assert_eq!(
        f(&e, "event.reason").as_deref(),
        Some("user NOT in sudoers")
    );
    assert_eq!(f(&e, "sudo.reason").as_deref(), Some("user NOT in sudoers"));
    let e = auth(
        "sudo: bob : command not allowed ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/vi /etc/shadow",
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("sudo_denied"));
    // Not the sudo log shape.
    let e = auth("sudo: a b : TTY=x ; COMMAND=y");
    assert_eq!(f(&e, "event.action"), None);
    let e = auth("sudo: alice : TTY=pts/0 ; PWD=/");
    assert_eq!(f(&e, "event.action"), None);
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
}

#[test]
fn long_messages_stay_bounded() {
    let kv: String = (0..50_000).map(|i| format!("k{i}=v ")).collect();
    let e = auth(&format!(
        "sshd[1]: pam_unix(sshd:auth): authentication failure; {kv}"
    ));
    assert!(e.fields.len() < 64, "{}", e.fields.len());
    let segs: String = (0..50_000).map(|i| format!("K{i}=v ; ")).collect();
    let e = auth(&format!("sudo: alice : {segs}COMMAND=/bin/true"));
    assert!(e.fields.len() < 64, "{}", e.fields.len());
    let e = auth(&format!(
        "pkexec[1]: a: Executing command{}",
        " [X=1]".repeat(50_000)
    ));
    assert!(e.fields.len() < 64, "{}", e.fields.len());
}

#[test]
fn su_messages() {
    let e = auth("su[2211]: (to root) alice on pts/0");
    assert_eq!(w("authentication", "start", "su", "success"), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "su.tty").as_deref(), Some("pts/0"));
    let e = auth("su[2211]: FAILED SU (to root) bob on pts/1");
    assert_eq!(
        w("authentication", "start", "su_failed", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("bob"));
    let e = auth("su: Successful su for postgres by root");
    assert_eq!(f(&e, "event.action").as_deref(), Some("su"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("postgres"));
    let e = auth("su: FAILED su for root by mallory");
    assert_eq!(f(&e, "event.action").as_deref(), Some("su_failed"));
    let e = auth("su: + pts/2 alice:root");
    assert_eq!(f(&e, "event.action").as_deref(), Some("su"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("root"));
    let e = auth("su: - pts/2 eve:root");
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    let e = auth(
        "su[1]: pam_unix(su:auth): authentication failure; logname=bob uid=1001 euid=0 tty=/dev/pts/1 ruser=bob rhost=  user=root",
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("pam_auth_failure"));
    assert_eq!(f(&e, "pam.ruser").as_deref(), Some("bob"));
    let e = auth("su: something else");
    assert_eq!(f(&e, "event.action"), None);
}

#[test]
fn login_messages() {
    let e = auth("login[811]: FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure");
    assert_eq!(
        w("authentication", "start", "login_failed", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "login.tty").as_deref(), Some("/dev/tty1"));
    assert_eq!(e.get_name("login.failures"), Some(&Value::Int(1)));
    assert_eq!(
        f(&e, "event.reason").as_deref(),
        Some("Authentication failure")
    );
    let e = auth(
        "login[811]: FAILED LOGIN 2 FROM 192.0.2.4 FOR admin, User not known to the underlying authentication module",
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("admin"));
    assert_eq!(f(&e, "source.ip").as_deref(), Some("192.0.2.4"));
    let e = auth("login[811]: FAILED LOGIN 3 ON tty2 FOR 'bob', Authentication failure");
    assert_eq!(f(&e, "login.tty").as_deref(), Some("tty2"));
    assert_eq!(f(&e, "user.name").as_deref(), Some("bob"));
    assert_eq!(f(&e, "source.ip"), None);
    let e = auth("unix_chkpwd[2420]: password check failed for user (ops)");
    assert_eq!(
        w("authentication", "info", "password_check_failed", "failure"),
        what(&e)
    );
    assert_eq!(f(&e, "user.name").as_deref(), Some("ops"));
    let e = auth("login[811]: ROOT LOGIN  on '/dev/tty1'");
    assert_eq!(w("authentication", "start", "login", "success"), what(&e));
    assert_eq!(f(&e, "login.tty").as_deref(), Some("/dev/tty1"));
    let e = auth("login[811]: LOGIN ON tty2 BY alice");
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
}

// ---------------------------------------------------------------- accounts, sessions, cron

#[test]
fn account_management() {
    let e = auth(
        "useradd[3001]: new user: name=mallory, UID=1002, GID=1002, home=/home/mallory, shell=/bin/bash, from=/dev/pts/0",
    );
    assert_eq!(
        w("iam", "user, creation", "user_created", "success"),
        what(&e)
    );
    assert_eq!(f(&e, "user.target.name").as_deref(), Some("mallory"));
    assert_eq!(f(&e, "user.target.id").as_deref(), Some("1002"));
    assert_eq!(f(&e, "group.id").as_deref(), Some("1002"));
    assert_eq!(f(&e, "useradd.shell").as_deref(), Some("/bin/bash"));
    assert_eq!(e.get_name("useradd.uid"), Some(&Value::Int(1002)));
    assert_eq!(f(&e, "useradd.from").as_deref(), Some("/dev/pts/0"));
    // The actor is unknown to useradd.
    assert_eq!(f(&e, "user.name"), None);

    let cases = [
        (
            "useradd[1]: new group: name=mallory, GID=1002",
            "group_created",
            "group, creation",
        ),
        (
            "groupadd[1]: group added to /etc/group: name=devs, GID=1003",
            "group_created",
            "group, creation",
        ),
        (
            "groupadd[1]: group added to /etc/gshadow: name=devs",
            "group_created",
            "group, creation",
        ),
        (
            "useradd[1]: add 'mallory' to group 'sudo'",
            "user_added_to_group",
            "group, change",
        ),
        (
            "usermod[1]: add 'mallory' to shadow group 'docker'",
            "user_added_to_group",
            "group, change",
        ),
        (
            "userdel[1]: delete user 'mallory'",
            "user_deleted",
            "user, deletion",
        ),
        (
            "userdel[1]: delete 'mallory' from group 'sudo'",
            "user_removed_from_group",
            "group, change",
        ),
        (
            "userdel[1]: removed group 'mallory' owned by 'mallory'",
            "group_deleted",
            "group, deletion",
        ),
        (
            "groupdel[1]: group 'devs' removed",
            "group_deleted",
            "group, deletion",
        ),
        (
            "groupdel[1]: group 'devs' removed from /etc/group",
            "group_deleted",
            "group, deletion",
        ),
        (
            "passwd[1]: password for 'bob' changed by 'root'",
            "password_changed",
            "user, change",
        ),
        (
            "usermod[1]: change user 'bob' password",
            "password_changed",
            "user, change",
        ),
        (
            "usermod[1]: change user 'bob' shell from '/bin/sh' to '/bin/bash'",
            "user_changed",
            "user, change",
        ),
        (
            "gpasswd[1]: user bob added by root to group wheel",
            "user_added_to_group",
            "group, change",
        ),
        (
            "gpasswd[1]: user bob removed by root from group wheel",
            "user_removed_from_group",
            "group, change",
        ),
        (
            "chage[1]: changed password expiry for bob",
            "user_changed",
            "user, change",
        ),
    ];
    for (msg, action, types) in cases {
        let e = auth(msg);
        assert_eq!(f(&e, "event.action").as_deref(), Some(action), "{msg}");
        assert_eq!(f(&e, "event.type").as_deref(), Some(types), "{msg}");
        assert_eq!(f(&e, "event.category").as_deref(), Some("iam"), "{msg}");
    }
    let e = auth("groupadd[1]: group added to /etc/group: name=devs, GID=1003");
    assert_eq!(f(&e, "group.name").as_deref(), Some("devs"));
    assert_eq!(f(&e, "group.id").as_deref(), Some("1003"));
    assert_eq!(e.get_name("groupadd.gid"), Some(&Value::Int(1003)));
    let e = auth("usermod[1]: add 'mallory' to shadow group 'docker'");
    assert_eq!(f(&e, "user.target.name").as_deref(), Some("mallory"));
    assert_eq!(f(&e, "group.name").as_deref(), Some("docker"));
    let e = auth("passwd[1]: password for 'bob' changed by 'root'");
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(f(&e, "user.target.name").as_deref(), Some("bob"));
    let e = auth("gpasswd[1]: user bob added by root to group wheel");
    assert_eq!(f(&e, "group.name").as_deref(), Some("wheel"));
    let e = auth("useradd[1]: failed adding user 'x', data deleted");
    assert_eq!(f(&e, "event.outcome").as_deref(), Some("failure"));
    // Unknown texts and near misses.
    for msg in [
        "useradd[1]: add mallory to group sudo",
        "groupdel[1]: group 'devs' kept",
        "gpasswd[1]: user bob did something",
        "usermod[1]: lock user 'bob' password",
    ] {
        assert_eq!(f(&auth(msg), "event.action"), None, "{msg}");
    }
}

#[test]
fn logind_cron_pkexec() {
    let e = auth("systemd-logind[812]: New session 42 of user deploy.");
    assert_eq!(w("session", "start", "session_opened", "success"), what(&e));
    assert_eq!(e.get_name("logind.session_id"), Some(&Value::Int(42)));
    assert_eq!(f(&e, "user.name").as_deref(), Some("deploy"));
    let e = auth("systemd-logind[812]: New session c1 of user gdm.");
    assert_eq!(f(&e, "logind.session_id").as_deref(), Some("c1"));
    let e = auth("systemd-logind[812]: Removed session 42.");
    assert_eq!(w("session", "end", "session_closed", "success"), what(&e));
    let e =
        auth("systemd-logind[812]: Watching system buttons on /dev/input/event0 (Power Button)");
    assert_eq!(f(&e, "event.action"), None);

    let e = auth("CRON[5512]: (root) CMD (/usr/local/bin/backup.sh --full)");
    assert_eq!(w("process", "start", "cron_command", "success"), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("root"));
    assert_eq!(
        f(&e, "process.command_line").as_deref(),
        Some("/usr/local/bin/backup.sh --full")
    );
    let e = auth("CRON[5512]: (CRON) info (No MTA installed, discarding output)");
    assert_eq!(f(&e, "event.action"), None);

    let e = auth(
        "pkexec[900]: alice: Executing command [USER=root] [TTY=/dev/pts/0] [CWD=/home/alice] [COMMAND=/usr/bin/systemctl restart [x]]",
    );
    assert_eq!(w("process", "start", "pkexec_command", "success"), what(&e));
    assert_eq!(f(&e, "user.name").as_deref(), Some("alice"));
    assert_eq!(f(&e, "user.effective.name").as_deref(), Some("root"));
    assert_eq!(
        f(&e, "process.working_directory").as_deref(),
        Some("/home/alice")
    );
    assert_eq!(
        f(&e, "process.command_line").as_deref(),
        Some("/usr/bin/systemctl restart [x]")
    );
    assert_eq!(f(&e, "pkexec.tty").as_deref(), Some("/dev/pts/0"));
    let e = auth(
        "pkexec[900]: bob: Error executing command as another user: Not authorized [USER=root] [TTY=/dev/pts/1] [CWD=/home/bob] [COMMAND=/bin/bash]",
    );
    assert_eq!(f(&e, "event.action").as_deref(), Some("pkexec_denied"));
    assert_eq!(f(&e, "process.command_line"), None);
    let e = auth("pkexec[900]: bob: something");
    assert_eq!(f(&e, "event.action"), None);
}

// ---------------------------------------------------------------- sniff and detection

#[test]
fn sniffing() {
    for yes in [
        "Mar 10 09:14:02 bastion sshd[1]: Accepted password for a from 1.2.3.4 port 1 ssh2",
        "Mar 10 09:14:02 bastion sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
        "2024-03-10T09:14:02.1+00:00 bastion CRON[1]: pam_unix(cron:session): session closed for user root",
        "Mar 10 09:14:02 bastion systemd-logind[1]: Removed session 4.",
    ] {
        assert!(sniff(yes), "{yes}");
    }
    for no in [
        // PRI: a syslog stream, not an auth.log file.
        "<38>Mar 10 09:14:02 bastion sshd[1]: Accepted password for a from 1.2.3.4 port 1 ssh2",
        "Mar 10 09:14:02 bastion nginx[1]: started",
        "Mar 10 09:14:02 bastion Accepted password",
        "sshd[1]: no header",
        "",
    ] {
        assert!(!sniff(no), "{no}");
    }
    let file = b"Mar 10 09:14:01 h sshd[1]: Invalid user a from 1.2.3.4\nMar 10 09:14:02 h sshd[1]: Connection closed by 1.2.3.4 port 2 [preauth]\nMar 10 09:14:03 h systemd[1]: Started.\n";
    assert_eq!(crate::detect(file), Format::Auth);
}

#[test]
fn enrich_ignores_other_programs() {
    let mut e = crate::syslog::tests::one("x", Format::Syslog);
    let before = e.fields.len();
    assert!(!enrich(
        Some("nginx"),
        "Accepted password for a from 1.2.3.4 port 1 ssh2",
        &mut e
    ));
    assert!(!enrich(None, "Accepted password for a", &mut e));
    assert_eq!(e.fields.len(), before);
    assert!(is_auth_app("sshd"));
    assert!(!is_auth_app("sshdx"));
}

// ---------------------------------------------------------------- real data

fn shared(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("KASBAH_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let p = root.join(rel);
    p.exists().then_some(p)
}

/// Loghub's OpenSSH sample (2,000 real sshd lines): every line parses, and the action counts
/// match what the lines say.
#[test]
fn loghub_openssh_sample() {
    let Some(path) = shared("loghub/OpenSSH/OpenSSH_2k.log") else {
        eprintln!("skipped: loghub/OpenSSH/OpenSSH_2k.log not found (set KASBAH_SHARED)");
        return;
    };
    let input = std::fs::read(&path).expect("read sample");
    assert_eq!(crate::detect(&input), Format::Auth);
    let (events, bad) = parse_all(&input, Format::Auth);
    assert!(bad.is_empty(), "{bad:?}");
    let text = String::from_utf8_lossy(&input);
    assert_eq!(events.len(), text.lines().count());
    let count = |action: &str| {
        events
            .iter()
            .filter(|e| f(e, "event.action").as_deref() == Some(action))
            .count()
    };
    let lines = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("ssh_login"), lines("]: Accepted "));
    assert_eq!(
        count("ssh_login_failed"),
        lines(": Failed ") + lines("[ Failed ")
    );
    assert_eq!(
        count("ssh_invalid_user"),
        lines("nvalid user ") - lines("for invalid user")
    );
    assert_eq!(
        count("ssh_disconnect_received"),
        lines("Received disconnect")
    );
    assert_eq!(count("session_opened"), lines("session opened"));
    assert_eq!(
        count("pam_auth_failure"),
        lines("authentication failure;")
            + lines("check pass; user unknown")
            + lines("more authentication failures;")
    );
    // Every line naming an address yields a valid source address, and every failure a user or an
    // address to pivot on.
    for e in &events {
        let msg = f(e, "message").unwrap_or_default();
        if msg.contains("rhost=1") || msg.contains(" from 1") {
            assert!(f(e, "source.ip").is_some(), "{msg}");
        }
        assert!(f(e, "event.module").is_some());
    }
    let with_action = events
        .iter()
        .filter(|e| f(e, "event.action").is_some())
        .count();
    eprintln!(
        "loghub OpenSSH: {} events, {with_action} with an event.action",
        events.len()
    );
    assert!(with_action * 10 >= events.len() * 9, "{with_action}");
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_all(&data, Format::Auth);
        }

        #[test]
        fn arbitrary_auth_messages_never_panic(
            app in "(sshd|sudo|su|login|systemd-logind|useradd|groupdel|gpasswd|CRON|pkexec|passwd)",
            msg in "(Accepted |Failed |Invalid user |Connection closed by |Disconnecting|Received disconnect from |pam_unix\\(|message repeated |\\(to |FAILED |new user: |add '|user |\\(root\\) CMD \\(|PAM )?[ -~]{0,80}",
        ) {
            let line = format!("Mar 10 09:14:02 h {app}[1]: {msg}");
            let (events, bad) = parse_all(line.as_bytes(), Format::Auth);
            prop_assert_eq!((events.len(), bad.len()), (1, 0));
        }

        #[test]
        fn ssh_logins_round_trip(
            ok in any::<bool>(),
            method in "(password|publickey|keyboard-interactive/pam|none)",
            invalid in any::<bool>(),
            user in "[a-z_][a-z0-9_.-]{0,15}( from [0-9.]{7,15} port [0-9]{1,5})?",
            ip in any::<std::net::IpAddr>(),
            port in any::<u16>(),
        ) {
            let line = format!(
                "Mar 10 09:14:02 h sshd[1]: {} {method} for {}{user} from {ip} port {port} ssh2",
                if ok { "Accepted" } else { "Failed" },
                if invalid { "invalid user " } else { "" },
            );
            let e = one(&line, Format::Auth);
            prop_assert_eq!(f(&e, "event.action"), Some((if ok { "ssh_login" } else { "ssh_login_failed" }).to_string()));
            prop_assert_eq!(f(&e, "user.name"), Some((user.as_str()).to_string()));
            prop_assert_eq!(f(&e, "source.ip"), Some(ip.to_string()));
            prop_assert_eq!(e.get(ecs::SOURCE_PORT), Some(&Value::Int(i64::from(port))));
            prop_assert_eq!(f(&e, "sshd.auth_method"), Some((method.as_str()).to_string()));
            prop_assert_eq!(e.get_name("sshd.invalid_user").is_some(), invalid);
        }

        #[test]
        fn sudo_commands_round_trip(
            user in "[a-z][a-z0-9]{0,10}",
            target in "[a-z][a-z0-9-]{0,10}",
            pwd in "/[ -~]{0,20}",
            cmd in "/[ -~]{0,60}",
        ) {
            // sudo itself cannot delimit a PWD containing " ;" (it separates fields with " ; ").
            prop_assume!(!pwd.contains(" ;"));
            let line = format!("Mar 10 09:14:02 h sudo: {user} : TTY=pts/0 ; PWD={pwd} ; USER={target} ; COMMAND={cmd}");
            let e = one(&line, Format::Auth);
            prop_assert_eq!(f(&e, "event.action"), Some(("sudo_command").to_string()));
            prop_assert_eq!(f(&e, "user.name"), Some((user.as_str()).to_string()));
            prop_assert_eq!(f(&e, "user.effective.name"), Some((target.as_str()).to_string()));
            prop_assert_eq!(f(&e, "process.command_line"), Some((cmd.trim()).to_string()));
            prop_assert_eq!(f(&e, "process.working_directory"), Some((pwd.trim()).to_string()));
        }
    }
}
