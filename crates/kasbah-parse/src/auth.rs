//! Linux authentication logs (`/var/log/auth.log`, `/var/log/secure`): a BSD syslog header
//! without PRI (or rsyslog's RFC 3339 high-precision one), read by [`crate::syslog`], followed by a
//! message that this module turns into ECS authentication, session, process and IAM events.
//!
//! Messages understood (every one also keeps the plain `message`):
//!
//! * **sshd** (`sshd`, `sshd-session`, `sshd-auth`): `Accepted|Failed <method> for [invalid user] X
//!   from IP port P ssh2[: KEYTYPE FINGERPRINT]`, `Invalid user X from IP [port P]`,
//!   `Connection closed by` / `Disconnected from [invalid|authenticating] [user X] IP port P
//!   [preauth]`, `Received disconnect from IP port P:CODE: reason`, `Disconnecting ...: Too many
//!   authentication failures`, `maximum authentication attempts exceeded for ...`, `Did not
//!   receive identification string from IP`, `Connection from IP port P on IP port P`,
//!   `User X from IP not allowed because ...`, reverse-mapping warnings, `Timeout before
//!   authentication`; any other sshd line still yields `source.ip`/`source.port` from a trailing
//!   `IP port P`;
//! * **PAM** from any program: `pam_MODULE(SERVICE:TYPE): authentication failure; logname= uid=
//!   ... user=`, `session opened|closed for user X[(uid=N)] [by Y(uid=M)]`, `password changed for
//!   X`, `check pass; user unknown`, and sshd's `PAM N more authentication failures; ...`;
//! * **sudo**: `alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la`
//!   with the reasons `N incorrect password attempts`, `user NOT in sudoers`, `command not
//!   allowed`, ...;
//! * **su**: `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`, `Successful su for
//!   root by alice`, `FAILED su for root by alice`, `+ pts/0 alice:root`;
//! * **login**: `FAILED LOGIN (N) on '/dev/tty1' FOR 'root', reason`, `ROOT LOGIN on ...`;
//! * **account management** (`useradd`, `userdel`, `usermod`, `groupadd`, `groupdel`, `passwd`,
//!   `chpasswd`, `gpasswd`, `chage`): `new user: name=...`, `new group: ...`, `add 'X' to group
//!   'G'`, `delete user 'X'`, `group 'G' removed`, `password for 'X' changed by 'Y'`, ...;
//! * **systemd-logind**: `New session N of user X.`, `Removed session N.`;
//! * **cron** `(root) CMD (command)` and **pkexec** `alice: Executing command [USER=root] ...`.
//!
//! Mapping idea: who acted is `user.name`; whom a privilege change made us is
//! `user.effective.name` (sudo `USER=`, su's target); whom an account change was about is
//! `user.target.name`. `event.action` names what happened (`ssh_login`, `ssh_login_failed`,
//! `sudo_command`, `su`, `user_created`, ...), with `event.outcome` success or failure. Details
//! without an ECS home keep original-style names under the program: `sshd.auth_method`,
//! `sudo.tty`, `pam.rhost`, `useradd.shell`, ...
//!
//! Every scan is `split_once`/`rsplit_once` on fixed words: linear, no backtracking. Parsing from
//! the right where sshd appends `from IP port P` keeps attacker-chosen user names (which may
//! contain `" from "`) from spoofing the address.

use compact_str::CompactString;
use kasbah_event::{Event, Value, ecs};

use crate::driver::{Cx, LineParser};
use crate::error::{ErrorCode, ParseError};
use crate::norm;
use crate::syslog::{self, StaticField, set_original};

/// At most this many `key=value` items of one message become fields (the message keeps them all);
/// real messages have fewer than ten, and setting a field scans the ones already set.
const MAX_ITEMS: usize = 32;

static SSHD_AUTH_METHOD: StaticField = StaticField::new("sshd.auth_method");
static SSHD_INVALID_USER: StaticField = StaticField::new("sshd.invalid_user");
static SSHD_PROTOCOL: StaticField = StaticField::new("sshd.protocol");
static SSHD_KEY_TYPE: StaticField = StaticField::new("sshd.key_type");
static SSHD_KEY_FINGERPRINT: StaticField = StaticField::new("sshd.key_fingerprint");
static SSHD_PREAUTH: StaticField = StaticField::new("sshd.preauth");
static SSHD_DISCONNECT_CODE: StaticField = StaticField::new("sshd.disconnect_code");
static SSHD_DISCONNECT_REASON: StaticField = StaticField::new("sshd.disconnect_reason");
static PAM_MODULE: StaticField = StaticField::new("pam.module");
static PAM_SERVICE: StaticField = StaticField::new("pam.service");
static PAM_TYPE: StaticField = StaticField::new("pam.type");
static PAM_MORE_FAILURES: StaticField = StaticField::new("pam.more_failures");
static PAM_BY: StaticField = StaticField::new("pam.by");
static SUDO_REASON: StaticField = StaticField::new("sudo.reason");
static SUDO_INCORRECT: StaticField = StaticField::new("sudo.incorrect_attempts");
static SU_TTY: StaticField = StaticField::new("su.tty");
static LOGIN_TTY: StaticField = StaticField::new("login.tty");
static LOGIN_FAILURES: StaticField = StaticField::new("login.failures");
static LOGIND_SESSION_ID: StaticField = StaticField::new("logind.session_id");
static SYSLOG_REPEATED: StaticField = StaticField::new("syslog.repeated");
static EVENT_REASON: StaticField = StaticField::new("event.reason");
static USER_EFFECTIVE_ID: StaticField = StaticField::new("user.effective.id");
static USER_TARGET_ID: StaticField = StaticField::new("user.target.id");
static GROUP_ID: StaticField = StaticField::new("group.id");

/// Programs whose messages this module understands (they also make a line sniff as auth).
pub(crate) fn is_auth_app(app: &str) -> bool {
    family(app).is_some()
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Family {
    Sshd,
    Sudo,
    Su,
    Login,
    Logind,
    Accounts,
    Cron,
    Pkexec,
    Pam,
}

fn family(app: &str) -> Option<Family> {
    Some(match app {
        "sshd" | "sshd-session" | "sshd-auth" => Family::Sshd,
        "sudo" => Family::Sudo,
        "su" => Family::Su,
        "login" => Family::Login,
        "systemd-logind" => Family::Logind,
        "useradd" | "userdel" | "usermod" | "groupadd" | "groupdel" | "groupmod" | "passwd"
        | "chpasswd" | "gpasswd" | "chage" | "newusers" => Family::Accounts,
        "CRON" | "cron" | "crond" => Family::Cron,
        "pkexec" => Family::Pkexec,
        "unix_chkpwd" | "polkitd" | "gdm-password" | "lightdm" | "sddm" | "vsftpd" | "dovecot"
        | "runuser" => Family::Pam,
        _ => return None,
    })
}

/// What an event says happened, set in one go.
struct Outcome {
    category: &'static str,
    kind: &'static [&'static str],
    action: &'static str,
    outcome: Option<bool>,
}

const fn out(
    category: &'static str,
    kind: &'static [&'static str],
    action: &'static str,
    outcome: Option<bool>,
) -> Outcome {
    Outcome {
        category,
        kind,
        action,
        outcome,
    }
}

fn set_outcome(e: &mut Event, o: &Outcome) {
    e.set(
        ecs::EVENT_CATEGORY,
        Value::List(vec![Value::Str(CompactString::const_new(o.category))]),
    );
    e.set(
        ecs::EVENT_TYPE,
        Value::List(
            o.kind
                .iter()
                .map(|t| Value::Str(CompactString::const_new(t)))
                .collect(),
        ),
    );
    e.set(
        ecs::EVENT_ACTION,
        Value::Str(CompactString::const_new(o.action)),
    );
    if let Some(ok) = o.outcome {
        e.set(
            ecs::EVENT_OUTCOME,
            Value::Str(CompactString::const_new(if ok {
                "success"
            } else {
                "failure"
            })),
        );
    }
}

/// Enriches `e` from the message of an authentication program. Returns whether the program (or a
/// PAM message) was recognised; unrecognised messages leave `e` untouched.
pub(crate) fn enrich(app: Option<&str>, msg: &str, e: &mut Event) -> bool {
    let fam = app.and_then(family);
    if fam.is_none() && !msg.starts_with("pam_") {
        return false;
    }
    let msg = unwrap_repeated(msg, e);
    if msg.starts_with("pam_") {
        pam(msg, e);
        return true;
    }
    match fam {
        Some(Family::Sshd) => sshd(msg, e),
        Some(Family::Sudo) => sudo(msg, e),
        Some(Family::Su) => su(msg, e),
        Some(Family::Login) => login(msg, e),
        Some(Family::Logind) => logind(msg, e),
        Some(Family::Accounts) => accounts(app.unwrap_or("useradd"), msg, e),
        Some(Family::Cron) => cron(msg, e),
        Some(Family::Pkexec) => pkexec(msg, e),
        Some(Family::Pam) => {
            // unix_chkpwd: `password check failed for user (alice)`
            if let Some(r) = msg.strip_prefix("password check failed for user (") {
                set_user(e, r.strip_suffix(')').unwrap_or(r));
                set_outcome(
                    e,
                    &out(
                        "authentication",
                        &["info"],
                        "password_check_failed",
                        Some(false),
                    ),
                );
            }
        }
        None => {}
    }
    true
}

/// rsyslog's `message repeated N times: [ text]`: records N and returns the text.
fn unwrap_repeated<'a>(msg: &'a str, e: &mut Event) -> &'a str {
    let Some(rest) = msg.strip_prefix("message repeated ") else {
        return msg;
    };
    let Some((n, inner)) = rest.split_once(" times: [") else {
        return msg;
    };
    let Ok(n) = n.parse::<i64>() else {
        return msg;
    };
    SYSLOG_REPEATED.set(e, n);
    inner.strip_suffix(']').unwrap_or(inner).trim()
}

fn set_user(e: &mut Event, user: &str) {
    if !user.is_empty() {
        e.set(ecs::USER_NAME, user);
    }
}

/// Sets `source.ip` (or `source.domain` for a name) and `source.port`.
fn set_source(e: &mut Event, host: &str, port: Option<&str>) {
    if !norm::set_ip(e, ecs::SOURCE_IP, host) && !host.is_empty() && host != "UNKNOWN" {
        e.set(ecs::SOURCE_DOMAIN, host);
    }
    if let Some(p) = port {
        norm::set_port(e, ecs::SOURCE_PORT, p);
    }
}

/// Removes sshd's `[preauth]` marker.
fn preauth<'a>(msg: &'a str, e: &mut Event) -> &'a str {
    match msg.strip_suffix(" [preauth]") {
        Some(m) => {
            SSHD_PREAUTH.set(e, true);
            m
        }
        None => msg,
    }
}

/// `[invalid user |authenticating user |user ]NAME` -> (name, invalid).
fn user_prefix(s: &str) -> (&str, bool) {
    if let Some(u) = s.strip_prefix("invalid user ") {
        (u, true)
    } else if let Some(u) = s.strip_prefix("authenticating user ") {
        (u, false)
    } else if let Some(u) = s.strip_prefix("user ") {
        (u, false)
    } else {
        (s, false)
    }
}

/// `[USER ]IP port P` (sshd's closing messages): sets user, source, invalid-user flag.
fn user_ip_port(s: &str, e: &mut Event) {
    let (left, port) = match s.rsplit_once(" port ") {
        Some((l, p)) => (l, Some(p.split(' ').next().unwrap_or(p))),
        None => (s, None),
    };
    let (who, ip) = left.rsplit_once(' ').map_or(("", left), |(w, ip)| (w, ip));
    let (user, invalid) = user_prefix(who);
    set_user(e, user);
    if invalid {
        SSHD_INVALID_USER.set(e, true);
    }
    set_source(e, ip, port);
}

/// The last `IP port P` in a message (the address sshd appends), if any.
fn trailing_ip_port(msg: &str) -> Option<(&str, &str)> {
    let (left, right) = msg.rsplit_once(" port ")?;
    let port = right.split([' ', ':', ',', '.']).next()?;
    let ip = left.rsplit(' ').next()?;
    (port.parse::<u16>().is_ok() && ip.parse::<std::net::IpAddr>().is_ok()).then_some((ip, port))
}

fn sshd(msg: &str, e: &mut Event) {
    let msg = msg
        .strip_prefix("error: ")
        .or_else(|| msg.strip_prefix("fatal: "))
        .unwrap_or(msg);
    let msg = preauth(msg, e);
    if let Some(r) = msg.strip_prefix("Accepted ") {
        if ssh_login(r, e) {
            set_outcome(
                e,
                &out("authentication", &["start"], "ssh_login", Some(true)),
            );
            return;
        }
    } else if let Some(r) = msg.strip_prefix("Failed ") {
        if ssh_login(r, e) {
            set_outcome(
                e,
                &out(
                    "authentication",
                    &["start"],
                    "ssh_login_failed",
                    Some(false),
                ),
            );
            return;
        }
    } else if let Some(r) = msg
        .strip_prefix("Invalid user ")
        .or_else(|| msg.strip_prefix("input_userauth_request: invalid user "))
    {
        let (user, from) = r
            .rsplit_once(" from ")
            .map_or((r, None), |(u, f)| (u, Some(f)));
        set_user(e, user);
        SSHD_INVALID_USER.set(e, true);
        if let Some(from) = from {
            let (ip, port) = from
                .split_once(" port ")
                .map_or((from, None), |(i, p)| (i, Some(p)));
            set_source(e, ip, port);
        }
        set_outcome(
            e,
            &out("authentication", &["info"], "ssh_invalid_user", Some(false)),
        );
        return;
    } else if let Some(r) = msg.strip_prefix("Connection closed by ") {
        user_ip_port(r, e);
        set_outcome(e, &out("network", &["end"], "ssh_connection_closed", None));
        return;
    } else if let Some(r) = msg.strip_prefix("Disconnected from ") {
        user_ip_port(r, e);
        set_outcome(e, &out("session", &["end"], "ssh_disconnected", None));
        return;
    } else if let Some(r) = msg.strip_prefix("Received disconnect from ") {
        received_disconnect(r, e);
        set_outcome(
            e,
            &out("session", &["end"], "ssh_disconnect_received", None),
        );
        return;
    } else if let Some(r) = msg.strip_prefix("Disconnecting") {
        // `Disconnecting invalid user X IP port P: reason` / `Disconnecting: reason`.
        let (who, reason) = r.split_once(": ").unwrap_or((r, ""));
        let who = who.trim();
        if !who.is_empty() {
            user_ip_port(who, e);
        }
        let reason = reason.trim();
        if !reason.is_empty() {
            SSHD_DISCONNECT_REASON.set(e, reason);
        }
        if reason.starts_with("Too many authentication failures") {
            if let Some(u) = reason
                .strip_prefix("Too many authentication failures for ")
                .map(|u| user_prefix(u).0)
            {
                set_user(e, u);
            }
            set_outcome(
                e,
                &out(
                    "authentication",
                    &["info"],
                    "ssh_max_auth_exceeded",
                    Some(false),
                ),
            );
        } else {
            set_outcome(e, &out("session", &["end"], "ssh_disconnecting", None));
        }
        return;
    } else if let Some(r) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        if let Some((who, from)) = r.rsplit_once(" from ") {
            let (user, invalid) = user_prefix(who);
            set_user(e, user);
            if invalid {
                SSHD_INVALID_USER.set(e, true);
            }
            let (ip, rest) = from.split_once(" port ").unwrap_or((from, ""));
            let port = rest.split(' ').next();
            set_source(e, ip, port);
        }
        set_outcome(
            e,
            &out(
                "authentication",
                &["info"],
                "ssh_max_auth_exceeded",
                Some(false),
            ),
        );
        return;
    } else if let Some(r) = msg.strip_prefix("Did not receive identification string from ") {
        let (ip, port) = r
            .split_once(" port ")
            .map_or((r, None), |(i, p)| (i, Some(p)));
        set_source(e, ip, port);
        set_outcome(
            e,
            &out(
                "network",
                &["connection"],
                "ssh_no_identification",
                Some(false),
            ),
        );
        return;
    } else if let Some(r) = msg.strip_prefix("Connection from ") {
        // `Connection from IP port P on IP port P[ rdomain "x"]`
        if let Some((src, dst)) = r.split_once(" on ") {
            let (ip, port) = src
                .split_once(" port ")
                .map_or((src, None), |(i, p)| (i, Some(p)));
            set_source(e, ip, port);
            if let Some((dip, dport)) = dst.split_once(" port ") {
                norm::set_ip(e, ecs::DESTINATION_IP, dip);
                norm::set_port(
                    e,
                    ecs::DESTINATION_PORT,
                    dport.split(' ').next().unwrap_or(""),
                );
            }
            set_outcome(e, &out("network", &["start"], "ssh_connection", None));
            return;
        }
    } else if let Some(r) = msg.strip_prefix("User ") {
        // `User root from 1.2.3.4 not allowed because not listed in AllowUsers`
        if let Some((who, why)) = r.split_once(" not allowed because ") {
            let (user, from) = who.rsplit_once(" from ").unwrap_or((who, ""));
            set_user(e, user);
            set_source(e, from, None);
            EVENT_REASON.set(e, why);
            set_outcome(
                e,
                &out(
                    "authentication",
                    &["info"],
                    "ssh_user_not_allowed",
                    Some(false),
                ),
            );
            return;
        }
    } else if let Some(r) = msg.strip_prefix("reverse mapping checking getaddrinfo for ") {
        // `HOST [IP] failed - POSSIBLE BREAK-IN ATTEMPT!`
        if let Some((host, rest)) = r.split_once(" [")
            && let Some((ip, _)) = rest.split_once(']')
        {
            e.set(ecs::SOURCE_DOMAIN, host);
            norm::set_ip(e, ecs::SOURCE_IP, ip);
        }
        set_outcome(
            e,
            &out("network", &["info"], "ssh_reverse_mapping_failed", None),
        );
        return;
    } else if let Some(r) = msg.strip_prefix("Address ") {
        // `Address IP maps to HOST, but this does not map back to the address - POSSIBLE ...`
        if let Some((ip, rest)) = r.split_once(" maps to ")
            && let Some((host, _)) = rest.split_once(", but this does not map back")
        {
            norm::set_ip(e, ecs::SOURCE_IP, ip);
            e.set(ecs::SOURCE_DOMAIN, host);
            set_outcome(
                e,
                &out("network", &["info"], "ssh_reverse_mapping_failed", None),
            );
            return;
        }
    } else if let Some(r) = msg.strip_prefix("Timeout before authentication for ") {
        let (ip, port) = r
            .split_once(" port ")
            .map_or((r, None), |(i, p)| (i, Some(p)));
        set_source(e, ip, port);
        set_outcome(
            e,
            &out("authentication", &["info"], "ssh_auth_timeout", Some(false)),
        );
        return;
    } else if let Some(r) = msg.strip_prefix("PAM ") {
        // `PAM 2 more authentication failures; logname= uid=0 ... user=root`
        if let Some((n, rest)) = r.split_once(" more authentication failure")
            && let Ok(n) = n.parse::<i64>()
        {
            PAM_MORE_FAILURES.set(e, n);
            if let Some((_, kv)) = rest.split_once("; ") {
                pam_kv(kv, e);
            }
            set_outcome(
                e,
                &out("authentication", &["info"], "pam_auth_failure", Some(false)),
            );
            return;
        }
    }
    // Anything else that names the peer (`Unable to negotiate with IP port P`, `Postponed ...
    // from IP port P`); sshd's own listening address is not a source.
    if !msg.starts_with("Server listening on ")
        && let Some((ip, port)) = trailing_ip_port(msg)
    {
        set_source(e, ip, Some(port));
    }
}

/// `METHOD for [invalid user ]USER from IP port P PROTO[: KEYTYPE FP...]`; false if it is not.
fn ssh_login(r: &str, e: &mut Event) -> bool {
    let Some((method, rest)) = r.split_once(" for ") else {
        return false;
    };
    let Some((who, from)) = rest.rsplit_once(" from ") else {
        return false;
    };
    let (ip, after) = from.split_once(" port ").unwrap_or((from, ""));
    if ip.contains(' ') {
        return false;
    }
    let (port, tail) = after.split_once(' ').unwrap_or((after, ""));
    let (proto, key) = tail.split_once(": ").unwrap_or((tail, ""));
    let (user, invalid) = user_prefix(who);
    SSHD_AUTH_METHOD.set(e, method);
    set_user(e, user);
    if invalid {
        SSHD_INVALID_USER.set(e, true);
    }
    set_source(e, ip, Some(port));
    if !proto.is_empty() {
        SSHD_PROTOCOL.set(e, proto);
    }
    let mut key_parts = key.split(' ');
    if let (Some(kt), Some(fp)) = (key_parts.next(), key_parts.next()) {
        SSHD_KEY_TYPE.set_str(e, kt);
        SSHD_KEY_FINGERPRINT.set_str(e, fp);
    }
    true
}

/// `IP port P:CODE: reason` (also the older `IP: CODE: reason`).
fn received_disconnect(r: &str, e: &mut Event) {
    let rest = match r.split_once(" port ") {
        Some((ip, rest)) => {
            let (port, rest) = rest.split_once(':').unwrap_or((rest, ""));
            set_source(e, ip, Some(port));
            rest
        }
        None => {
            let (ip, rest) = r.split_once(": ").unwrap_or((r, ""));
            set_source(e, ip, None);
            rest
        }
    };
    let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
    if let Ok(c) = code.trim().parse::<i64>() {
        SSHD_DISCONNECT_CODE.set(e, c);
    }
    SSHD_DISCONNECT_REASON.set_str(e, reason.trim());
}

/// The `key=value` list after PAM's `authentication failure;`.
fn pam_kv(kv: &str, e: &mut Event) {
    let mut rhost = "";
    let mut user = "";
    for tok in kv.split_ascii_whitespace().take(MAX_ITEMS) {
        let Some((k, v)) = tok.split_once('=') else {
            continue;
        };
        if v.is_empty() || k.is_empty() || k.len() > 32 {
            continue;
        }
        match k {
            "rhost" => rhost = v,
            "user" => user = v,
            _ => {}
        }
        let mut name = CompactString::const_new("pam.");
        name.push_str(k);
        set_original(e, &name, Value::infer(v));
    }
    set_user(e, user);
    if !rhost.is_empty() {
        set_source(e, rhost, None);
    }
}

/// `NAME(uid=N)` -> (NAME, Some(N)); `(uid=N)` -> ("", Some(N)).
fn name_uid(s: &str) -> (&str, Option<&str>) {
    match s.split_once("(uid=") {
        Some((name, rest)) => (name, rest.strip_suffix(')')),
        None => (s, None),
    }
}

fn pam(msg: &str, e: &mut Event) {
    let Some((head, text)) = msg.split_once("): ") else {
        return;
    };
    let Some((module, st)) = head.split_once('(') else {
        return;
    };
    let (service, typ) = st.split_once(':').unwrap_or((st, ""));
    PAM_MODULE.set_str(e, module);
    PAM_SERVICE.set_str(e, service);
    PAM_TYPE.set_str(e, typ);
    if let Some(kv) = text.strip_prefix("authentication failure; ") {
        pam_kv(kv, e);
        set_outcome(
            e,
            &out("authentication", &["info"], "pam_auth_failure", Some(false)),
        );
    } else if text.starts_with("check pass; user unknown") {
        EVENT_REASON.set(e, "user unknown");
        set_outcome(
            e,
            &out("authentication", &["info"], "pam_auth_failure", Some(false)),
        );
    } else if let Some(r) = text.strip_prefix("auth could not identify password for [") {
        set_user(e, r.strip_suffix(']').unwrap_or(r));
        set_outcome(
            e,
            &out("authentication", &["info"], "pam_auth_failure", Some(false)),
        );
    } else if let Some(r) = text.strip_prefix("session opened for user ") {
        pam_session(service, r, e);
        set_outcome(e, &out("session", &["start"], "session_opened", Some(true)));
    } else if let Some(r) = text.strip_prefix("session closed for user ") {
        pam_session(service, r, e);
        set_outcome(e, &out("session", &["end"], "session_closed", Some(true)));
    } else if let Some(r) = text.strip_prefix("password changed for ") {
        e.set(ecs::USER_TARGET_NAME, r.trim());
        set_outcome(
            e,
            &out("iam", &["user", "change"], "password_changed", Some(true)),
        );
    }
}

/// `X[(uid=N)][ by [Y](uid=M)]`. For privilege-changing services (sudo, su, ...) the one who
/// opened the session is `user.name` and the account it runs as `user.effective.name`.
fn pam_session(service: &str, r: &str, e: &mut Event) {
    let (target, by) = r
        .split_once(" by ")
        .map_or((r, None), |(t, b)| (t, Some(b)));
    let (target, target_uid) = name_uid(target.trim());
    let (by_name, by_uid) = by.map_or(("", None), |b| name_uid(b.trim()));
    if let Some(b) = by {
        PAM_BY.set_str(e, b.trim());
    }
    let privileged = matches!(
        service,
        "sudo" | "sudo-i" | "su" | "su-l" | "runuser" | "runuser-l" | "pkexec" | "polkit-1"
    );
    if privileged && !by_name.is_empty() {
        set_user(e, by_name);
        if let Some(uid) = by_uid {
            e.set(ecs::USER_ID, uid);
        }
        e.set(ecs::USER_EFFECTIVE_NAME, target);
        if let Some(uid) = target_uid {
            USER_EFFECTIVE_ID.set(e, uid);
        }
    } else {
        set_user(e, target);
        if let Some(uid) = target_uid {
            e.set(ecs::USER_ID, uid);
        }
    }
}

fn sudo(msg: &str, e: &mut Event) {
    // `alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la`
    let Some((user, mut rest)) = msg.split_once(" : ") else {
        return;
    };
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return;
    }
    let mut reason = None;
    let mut target = None;
    let mut command = None;
    let mut pwd = None;
    let mut first = true;
    let mut items = 0;
    while !rest.is_empty() && items < MAX_ITEMS {
        items += 1;
        // COMMAND is last and may itself contain ` ; `.
        let (seg, next) = if rest.starts_with("COMMAND=") {
            (rest, "")
        } else {
            rest.split_once(" ; ").unwrap_or((rest, ""))
        };
        rest = next;
        let seg = seg.trim();
        match seg.split_once('=') {
            Some((k, v)) if !k.is_empty() && k.bytes().all(|c| c.is_ascii_uppercase()) => {
                match k {
                    "USER" => target = Some(v),
                    "COMMAND" => command = Some(v),
                    "PWD" => pwd = Some(v),
                    _ => {}
                }
                let mut name = CompactString::const_new("sudo.");
                name.push_str(&k.to_ascii_lowercase());
                set_original(e, &name, Value::str(v));
            }
            _ if first && !seg.is_empty() => reason = Some(seg),
            _ => {}
        }
        first = false;
    }
    set_user(e, user);
    if let Some(t) = target {
        e.set(ecs::USER_EFFECTIVE_NAME, t);
    }
    match reason {
        None if command.is_some() => {
            if let Some(c) = command {
                e.set(ecs::PROCESS_COMMAND_LINE, c);
            }
            if let Some(p) = pwd {
                e.set(ecs::PROCESS_WORKING_DIRECTORY, p);
            }
            set_outcome(e, &out("process", &["start"], "sudo_command", Some(true)));
        }
        None => {}
        Some(r) => {
            SUDO_REASON.set(e, r);
            EVENT_REASON.set(e, r);
            let attempts = r
                .split_once(" incorrect password attempt")
                .and_then(|(n, _)| n.trim().parse::<i64>().ok());
            if let Some(n) = attempts {
                SUDO_INCORRECT.set(e, n);
                set_outcome(
                    e,
                    &out("authentication", &["info"], "sudo_auth_failed", Some(false)),
                );
            } else {
                set_outcome(
                    e,
                    &out("authentication", &["info"], "sudo_denied", Some(false)),
                );
            }
        }
    }
}

fn su(msg: &str, e: &mut Event) {
    let (ok, r) = match msg.strip_prefix("FAILED SU ") {
        Some(r) => (false, r),
        None => (true, msg),
    };
    // `(to root) alice on pts/0`
    if let Some(r) = r.strip_prefix("(to ") {
        if let Some((target, rest)) = r.split_once(") ") {
            let (user, tty) = rest.split_once(" on ").unwrap_or((rest, ""));
            set_user(e, user.trim());
            e.set(ecs::USER_EFFECTIVE_NAME, target);
            SU_TTY.set_str(e, tty.trim());
            su_outcome(e, ok);
        }
        return;
    }
    // `Successful su for root by alice` / `FAILED su for root by alice`
    let (ok, r) = if let Some(r) = msg.strip_prefix("Successful su for ") {
        (true, r)
    } else if let Some(r) = msg.strip_prefix("FAILED su for ") {
        (false, r)
    } else if let Some(r) = msg.strip_prefix("+ ").or_else(|| msg.strip_prefix("- ")) {
        // `+ pts/0 alice:root` (old su), `-` when it failed.
        let ok = msg.starts_with('+');
        if let Some((tty, users)) = r.split_once(' ')
            && let Some((from, to)) = users.split_once(':')
        {
            set_user(e, from);
            e.set(ecs::USER_EFFECTIVE_NAME, to);
            SU_TTY.set_str(e, tty);
            su_outcome(e, ok);
        }
        return;
    } else {
        return;
    };
    if let Some((target, user)) = r.split_once(" by ") {
        set_user(e, user.trim());
        e.set(ecs::USER_EFFECTIVE_NAME, target.trim());
        su_outcome(e, ok);
    }
}

fn su_outcome(e: &mut Event, ok: bool) {
    if ok {
        set_outcome(e, &out("authentication", &["start"], "su", Some(true)));
    } else {
        set_outcome(
            e,
            &out("authentication", &["start"], "su_failed", Some(false)),
        );
    }
}

/// `'x'` at the start of `s` -> (x, rest).
/// `'bob' <prep> [shadow ]group 'sudo'` (gpasswd/usermod membership changes): sets the member and
/// the group and marks the change with `action`.
fn group_membership(r: &str, prep: &str, action: &'static str, e: &mut Event) {
    let Some((user, rest)) = quoted(r) else {
        return;
    };
    let rest = rest
        .trim_start()
        .strip_prefix(prep)
        .and_then(|r| r.strip_prefix(' '));
    let group = rest
        .and_then(|r| {
            r.strip_prefix("group ")
                .or_else(|| r.strip_prefix("shadow group "))
        })
        .and_then(quoted);
    if let Some((g, _)) = group {
        e.set(ecs::USER_TARGET_NAME, user);
        e.set(ecs::GROUP_NAME, g);
        set_outcome(e, &out("iam", &["group", "change"], action, Some(true)));
    }
}

fn quoted(s: &str) -> Option<(&str, &str)> {
    s.strip_prefix('\'')?.split_once('\'')
}

fn login(msg: &str, e: &mut Event) {
    if let Some(r) = msg.strip_prefix("FAILED LOGIN ") {
        // `FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure`
        // `(N) ` or `N `: the count of failures.
        let (count, r) = match r.strip_prefix('(').and_then(|x| x.split_once(") ")) {
            Some((n, rest)) => (Some(n), rest),
            None => match r.split_once(' ') {
                Some((n, rest)) if n.bytes().all(|c| c.is_ascii_digit()) => (Some(n), rest),
                _ => (None, r),
            },
        };
        if let Some(n) = count.and_then(|n| n.parse::<i64>().ok()) {
            LOGIN_FAILURES.set(e, n);
        }
        if let Some((where_, who)) = r.split_once(" FOR ") {
            // shadow-utils: `on '/dev/tty1'`; util-linux: `ON tty1` or `FROM host`.
            if let Some(tty) = where_
                .strip_prefix("on ")
                .or_else(|| where_.strip_prefix("ON "))
                .map(|t| quoted(t).map_or(t, |q| q.0))
            {
                LOGIN_TTY.set_str(e, tty.trim());
            } else if let Some(host) = where_.strip_prefix("FROM ") {
                set_source(e, host.trim(), None);
            }
            let (user, reason) = who.split_once(", ").unwrap_or((who, ""));
            let user = quoted(user).map_or(user, |q| q.0);
            set_user(e, user);
            EVENT_REASON.set_str(e, reason);
        }
        set_outcome(
            e,
            &out("authentication", &["start"], "login_failed", Some(false)),
        );
    } else if let Some(r) = msg.strip_prefix("ROOT LOGIN ") {
        set_user(e, "root");
        let r = r.trim_start();
        if let Some(tty) = r
            .strip_prefix("on ")
            .or_else(|| r.strip_prefix("ON "))
            .map(|t| quoted(t).map_or(t, |q| q.0))
        {
            LOGIN_TTY.set_str(e, tty.trim());
        }
        set_outcome(e, &out("authentication", &["start"], "login", Some(true)));
    } else if let Some(r) = msg.strip_prefix("LOGIN ON ") {
        // `LOGIN ON tty1 BY alice`
        if let Some((tty, user)) = r.split_once(" BY ") {
            LOGIN_TTY.set_str(e, tty);
            set_user(e, user.trim());
            set_outcome(e, &out("authentication", &["start"], "login", Some(true)));
        }
    }
}

fn logind(msg: &str, e: &mut Event) {
    if let Some(r) = msg.strip_prefix("New session ") {
        // `New session 12 of user alice.`
        if let Some((id, user)) = r.split_once(" of user ") {
            LOGIND_SESSION_ID.set(e, Value::infer(id));
            set_user(e, user.strip_suffix('.').unwrap_or(user));
            set_outcome(e, &out("session", &["start"], "session_opened", Some(true)));
        }
    } else if let Some(r) = msg.strip_prefix("Removed session ") {
        let id = r.strip_suffix('.').unwrap_or(r);
        LOGIND_SESSION_ID.set(e, Value::infer(id));
        set_outcome(e, &out("session", &["end"], "session_closed", Some(true)));
    }
}

/// `name=bob, UID=1001, GID=1001, home=/home/bob` as `<prefix>.<key in lower case>` fields.
fn account_kv<'a>(
    prefix: &str,
    s: &'a str,
    e: &mut Event,
) -> (Option<&'a str>, Option<&'a str>, Option<&'a str>) {
    let (mut name, mut uid, mut gid) = (None, None, None);
    for part in s.split(", ").take(MAX_ITEMS) {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        if k.is_empty() || k.len() > 32 || k.contains(' ') {
            continue;
        }
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            "name" => name = Some(v),
            "uid" => uid = Some(v),
            "gid" => gid = Some(v),
            _ => {}
        }
        let mut field = CompactString::new(prefix);
        field.push('.');
        field.push_str(&lower);
        set_original(e, &field, Value::infer(v));
    }
    (name, uid, gid)
}

fn accounts(app: &str, msg: &str, e: &mut Event) {
    if let Some(r) = msg.strip_prefix("new user: ") {
        let (name, uid, gid) = account_kv(app, r, e);
        if let Some(n) = name {
            e.set(ecs::USER_TARGET_NAME, n);
        }
        if let Some(u) = uid {
            USER_TARGET_ID.set(e, u);
        }
        if let Some(g) = gid {
            GROUP_ID.set(e, g);
        }
        set_outcome(
            e,
            &out("iam", &["user", "creation"], "user_created", Some(true)),
        );
    } else if let Some(r) = msg
        .strip_prefix("new group: ")
        .or_else(|| msg.strip_prefix("group added to /etc/group: "))
        .or_else(|| msg.strip_prefix("group added to /etc/gshadow: "))
    {
        let (name, _, gid) = account_kv(app, r, e);
        if let Some(n) = name {
            e.set(ecs::GROUP_NAME, n);
        }
        if let Some(g) = gid {
            GROUP_ID.set(e, g);
        }
        set_outcome(
            e,
            &out("iam", &["group", "creation"], "group_created", Some(true)),
        );
    } else if let Some(r) = msg.strip_prefix("add ") {
        // `add 'bob' to group 'sudo'`, `add 'bob' to shadow group 'sudo'`
        group_membership(r, "to", "user_added_to_group", e);
    } else if let Some(r) = msg.strip_prefix("delete user ") {
        if let Some((user, _)) = quoted(r) {
            e.set(ecs::USER_TARGET_NAME, user);
            set_outcome(
                e,
                &out("iam", &["user", "deletion"], "user_deleted", Some(true)),
            );
        }
    } else if let Some(r) = msg.strip_prefix("delete ") {
        // `delete 'bob' from group 'sudo'`
        group_membership(r, "from", "user_removed_from_group", e);
    } else if let Some(r) = msg
        .strip_prefix("removed group ")
        .or_else(|| msg.strip_prefix("removed shadow group "))
        .or_else(|| msg.strip_prefix("group "))
    {
        // `removed group 'bob' owned by 'bob'`, `group 'devs' removed[ from /etc/group]`
        if let Some((g, rest)) = quoted(r)
            && (msg.starts_with("removed") || rest.trim_start().starts_with("removed"))
        {
            e.set(ecs::GROUP_NAME, g);
            set_outcome(
                e,
                &out("iam", &["group", "deletion"], "group_deleted", Some(true)),
            );
        }
    } else if let Some(r) = msg.strip_prefix("password for ") {
        // `password for 'bob' changed by 'root'`
        if let Some((user, rest)) = quoted(r) {
            e.set(ecs::USER_TARGET_NAME, user);
            if let Some(by) = rest
                .trim_start()
                .strip_prefix("changed by ")
                .and_then(quoted)
            {
                set_user(e, by.0);
            }
            set_outcome(
                e,
                &out("iam", &["user", "change"], "password_changed", Some(true)),
            );
        }
    } else if let Some(r) = msg.strip_prefix("change user ") {
        // `change user 'bob' password`, `change user 'bob' shell from '/bin/sh' to '/bin/bash'`
        if let Some((user, rest)) = quoted(r) {
            e.set(ecs::USER_TARGET_NAME, user);
            let action = if rest.trim() == "password" {
                "password_changed"
            } else {
                "user_changed"
            };
            set_outcome(e, &out("iam", &["user", "change"], action, Some(true)));
        }
    } else if let Some(r) = msg.strip_prefix("user ") {
        // gpasswd: `user bob added by root to group sudo`, `user bob removed by root from group sudo`
        let (user, rest) = r.split_once(' ').unwrap_or((r, ""));
        let (added, rest) = match (
            rest.strip_prefix("added by "),
            rest.strip_prefix("removed by "),
        ) {
            (Some(x), _) => (true, x),
            (None, Some(x)) => (false, x),
            _ => return,
        };
        if let Some((by, group)) = rest
            .split_once(" to group ")
            .or_else(|| rest.split_once(" from group "))
        {
            e.set(ecs::USER_TARGET_NAME, user);
            set_user(e, by);
            e.set(ecs::GROUP_NAME, group.trim());
            let action = if added {
                "user_added_to_group"
            } else {
                "user_removed_from_group"
            };
            set_outcome(e, &out("iam", &["group", "change"], action, Some(true)));
        }
    } else if let Some(r) = msg.strip_prefix("changed password expiry for ") {
        e.set(ecs::USER_TARGET_NAME, r.trim());
        set_outcome(
            e,
            &out("iam", &["user", "change"], "user_changed", Some(true)),
        );
    } else if let Some(r) = msg.strip_prefix("failed adding user ") {
        if let Some((user, _)) = quoted(r) {
            e.set(ecs::USER_TARGET_NAME, user);
        }
        set_outcome(
            e,
            &out("iam", &["user", "creation"], "user_created", Some(false)),
        );
    }
}

fn cron(msg: &str, e: &mut Event) {
    // `(root) CMD (/usr/local/bin/backup.sh)`
    let Some(r) = msg.strip_prefix('(') else {
        return;
    };
    let Some((user, rest)) = r.split_once(") CMD (") else {
        return;
    };
    let cmd = rest.strip_suffix(')').unwrap_or(rest);
    set_user(e, user);
    if !cmd.is_empty() {
        e.set(ecs::PROCESS_COMMAND_LINE, cmd);
    }
    set_outcome(e, &out("process", &["start"], "cron_command", Some(true)));
}

fn pkexec(msg: &str, e: &mut Event) {
    // `alice: Executing command [USER=root] [TTY=/dev/pts/0] [CWD=/home/alice] [COMMAND=/usr/bin/id]`
    // `alice: Error executing command as another user: Not authorized [USER=root] ...`
    let Some((user, rest)) = msg.split_once(": ") else {
        return;
    };
    let ok = rest.starts_with("Executing command ");
    if !ok && !rest.starts_with("Error executing command") {
        return;
    }
    set_user(e, user);
    let mut rest = rest;
    let mut items = 0;
    while let Some((_, after)) = rest.split_once(" [")
        && items < MAX_ITEMS
    {
        items += 1;
        // COMMAND is last; its value may contain `] [`.
        let (item, next) = if after.starts_with("COMMAND=") {
            (after.strip_suffix(']').unwrap_or(after), "")
        } else {
            after.split_once(']').unwrap_or((after, ""))
        };
        rest = next;
        if let Some((k, v)) = item.split_once('=') {
            match k {
                "USER" => e.set(ecs::USER_EFFECTIVE_NAME, v),
                "CWD" => e.set(ecs::PROCESS_WORKING_DIRECTORY, v),
                "COMMAND" if ok => e.set(ecs::PROCESS_COMMAND_LINE, v),
                _ => {}
            }
            if !k.is_empty() && k.len() <= 16 && k.bytes().all(|c| c.is_ascii_uppercase()) {
                let mut name = CompactString::const_new("pkexec.");
                name.push_str(&k.to_ascii_lowercase());
                set_original(e, &name, Value::str(v));
            }
        }
    }
    if ok {
        set_outcome(e, &out("process", &["start"], "pkexec_command", Some(true)));
    } else {
        set_outcome(e, &out("process", &["start"], "pkexec_denied", Some(false)));
    }
}

/// True if `line` looks like an auth.log line: a syslog header without PRI whose program is an
/// authentication program this module knows.
pub(crate) fn sniff(line: &str) -> bool {
    if line.starts_with('<') {
        return false;
    }
    let opts = crate::driver::ParseOptions {
        received: kasbah_event::Timestamp::from_nanos(0),
        ..Default::default()
    };
    matches!(
        syslog::scan(line, &opts),
        Ok(Some(h)) if h.time.is_some() && h.app.is_some_and(is_auth_app)
    )
}

/// Parses auth records line by line.
#[derive(Default)]
pub struct AuthParser;

impl LineParser for AuthParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let header = match syslog::scan(line, cx.opts)? {
            Some(h) if h.time.is_some() || h.pri.is_some() => h,
            _ => {
                return Err(ParseError::new(
                    ErrorCode::WrongFormat,
                    format!(
                        "not an auth log line: expected `Mmm dd hh:mm:ss host program[pid]: message`, found {:?}",
                        syslog::excerpt(line)
                    ),
                ));
            }
        };
        let mut e = cx.new_event(record, Some(line));
        e.set(
            ecs::EVENT_KIND,
            Value::Str(CompactString::const_new("event")),
        );
        e.set(
            ecs::EVENT_MODULE,
            Value::Str(CompactString::const_new("auth")),
        );
        e.set(
            ecs::EVENT_DATASET,
            Value::Str(CompactString::const_new("auth.log")),
        );
        syslog::apply_header(&header, &mut e);
        if !header.msg.is_empty() {
            e.set(ecs::MESSAGE, header.msg);
        }
        enrich(header.app, header.msg, &mut e);
        cx.emit(e);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
