//! Helpers that fill ECS fields consistently across parsers.

use std::net::IpAddr;

use kasbah_event::{Event, FieldId, Value, ecs};

/// Sets an IP field if `s` is a valid IPv4/IPv6 address (brackets and `%zone` tolerated), keeping
/// the address in its canonical text form. Returns whether it was set.
pub fn set_ip(e: &mut Event, id: FieldId, s: &str) -> bool {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    let t = t.split_once('%').map_or(t, |(a, _)| a);
    match t.parse::<IpAddr>() {
        // An IPv4 address that parses is already canonical (four decimal octets without leading
        // zeros): kept as given, since formatting it again was 2% of a syslog input's CPU.
        Ok(IpAddr::V4(_)) => {
            e.set(id, t.to_string());
            true
        }
        Ok(ip) => {
            e.set(id, ip.to_string());
            true
        }
        Err(_) => false,
    }
}

/// Sets a port field if `s` is a number in 0..=65535.
pub fn set_port(e: &mut Event, id: FieldId, s: &str) -> bool {
    match s.trim().parse::<u16>() {
        Ok(p) => {
            e.set(id, p);
            true
        }
        Err(_) => false,
    }
}

/// Sets an integer field from text; keeps nothing if it is not a number.
pub fn set_int(e: &mut Event, id: FieldId, s: &str) -> bool {
    match s.trim().parse::<i64>() {
        Ok(i) => {
            e.set(id, i);
            true
        }
        Err(_) => false,
    }
}

/// Sets a text field unless `s` is empty or a placeholder (`-`).
pub fn set_str(e: &mut Event, id: FieldId, s: &str) {
    if !s.is_empty() && s != "-" {
        e.set(id, s);
    }
}

/// The last component of a Windows or POSIX path (`C:\Windows\cmd.exe` -> `cmd.exe`).
pub fn basename(path: &str) -> &str {
    let p = path.trim_end_matches(['/', '\\']);
    p.rfind(['/', '\\']).map_or(p, |i| &p[i + 1..])
}

/// Sets `process.executable` and `process.name` from an executable path.
pub fn set_executable(e: &mut Event, exe_id: FieldId, name_id: FieldId, path: &str) {
    if path.is_empty() || path == "-" {
        return;
    }
    e.set(exe_id, path);
    let name = basename(path);
    if !name.is_empty() {
        e.fields.set_default(name_id, name);
    }
}

/// Sets `file.path`, `file.name` and `file.directory` from a path.
pub fn set_file_path(e: &mut Event, path: &str) {
    if path.is_empty() || path == "-" {
        return;
    }
    e.set(ecs::FILE_PATH, path);
    let name = basename(path);
    e.fields.set_default(ecs::FILE_NAME, name);
    // `name` is a suffix of the path without its trailing separators (not of `path` itself).
    let trimmed = path.trim_end_matches(['/', '\\']);
    let dir = trimmed.get(..trimmed.len() - name.len()).unwrap_or("");
    let dir = dir.trim_end_matches(['/', '\\']);
    if !dir.is_empty() {
        e.fields.set_default(ecs::FILE_DIRECTORY, dir);
    }
}

/// Sets `url.original`, `url.path` and `url.query` from a request target or URL.
pub fn set_url(e: &mut Event, url: &str) {
    if url.is_empty() || url == "-" {
        return;
    }
    e.set(ecs::URL_ORIGINAL, url);
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            e.set(ecs::URL_SCHEME, scheme.to_ascii_lowercase());
            let (host, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            let domain = match host.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || host.starts_with('[') => {
                    set_port(e, ecs::URL_PORT, p);
                    h
                }
                _ => host,
            };
            if !domain.is_empty() {
                e.set(
                    ecs::URL_DOMAIN,
                    domain.trim_start_matches('[').trim_end_matches(']'),
                );
            }
            path
        }
        None => url,
    };
    let rest = rest.split_once('#').map_or(rest, |(a, _)| a);
    match rest.split_once('?') {
        Some((p, q)) => {
            if !p.is_empty() {
                e.set(ecs::URL_PATH, p);
            }
            e.set(ecs::URL_QUERY, q);
        }
        None if !rest.is_empty() => e.set(ecs::URL_PATH, rest),
        None => {}
    }
}

/// Maps a syslog / generic severity word to ECS `log.level` text (lower case) and numeric
/// `event.severity` (syslog scale 0 = emergency .. 7 = debug).
pub fn syslog_severity_name(code: u8) -> &'static str {
    match code {
        0 => "emergency",
        1 => "alert",
        2 => "critical",
        3 => "error",
        4 => "warning",
        5 => "notice",
        6 => "informational",
        _ => "debug",
    }
}

/// Appends `value` to a list field, turning a single value into a list.
pub fn push_value(e: &mut Event, id: FieldId, value: Value) {
    match e.fields.get(id).cloned() {
        None => e.set(id, value),
        Some(Value::List(mut l)) => {
            l.push(value);
            e.set(id, Value::List(l));
        }
        Some(old) => e.set(id, Value::List(vec![old, value])),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kasbah_event::{Source, Timestamp};

    use super::*;

    fn ev() -> Event {
        Event::new(
            Timestamp::from_nanos(0),
            Source::Input {
                name: Arc::from("t"),
            },
        )
    }

    #[test]
    fn paths_and_names() {
        assert_eq!(basename("C:\\Windows\\System32\\cmd.exe"), "cmd.exe");
        assert_eq!(basename("/usr/sbin/sshd"), "sshd");
        assert_eq!(basename("sshd"), "sshd");
        let mut e = ev();
        set_file_path(&mut e, "/var/log/auth.log");
        assert_eq!(e.fields.get_str(ecs::FILE_NAME), Some("auth.log"));
        assert_eq!(e.fields.get_str(ecs::FILE_DIRECTORY), Some("/var/log"));
        // Trailing separators after a multi-byte name (found by fuzzing the CEF parser).
        let mut e = ev();
        set_file_path(&mut e, "/srv/é//");
        assert_eq!(e.fields.get_str(ecs::FILE_NAME), Some("é"));
        assert_eq!(e.fields.get_str(ecs::FILE_DIRECTORY), Some("/srv"));
    }

    #[test]
    fn urls() {
        let mut e = ev();
        set_url(&mut e, "https://user@example.com:8443/a/b?x=1#frag");
        assert_eq!(e.fields.get_str(ecs::URL_DOMAIN), Some("example.com"));
        assert_eq!(e.get(ecs::URL_PORT), Some(&Value::Int(8443)));
        assert_eq!(e.fields.get_str(ecs::URL_PATH), Some("/a/b"));
        assert_eq!(e.fields.get_str(ecs::URL_QUERY), Some("x=1"));
        let mut e = ev();
        set_url(&mut e, "/index.php?id=1");
        assert_eq!(e.fields.get_str(ecs::URL_PATH), Some("/index.php"));
    }

    #[test]
    fn ips_are_validated() {
        let mut e = ev();
        assert!(set_ip(&mut e, ecs::SOURCE_IP, "[fe80::1%eth0]"));
        assert_eq!(e.fields.get_str(ecs::SOURCE_IP), Some("fe80::1"));
        assert!(!set_ip(&mut e, ecs::DESTINATION_IP, "999.1.1.1"));
        assert!(e.get(ecs::DESTINATION_IP).is_none());
        // IPv4 is kept as given only because what parses is canonical: every form that would
        // print otherwise is refused.
        for odd in [
            "010.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "0x7f.0.0.1",
            " 1.2.3.4x",
            "+1.2.3.4",
        ] {
            assert!(!set_ip(&mut e, ecs::DESTINATION_IP, odd), "{odd}");
        }
        assert!(set_ip(&mut e, ecs::DESTINATION_IP, " 10.0.0.255 "));
        assert_eq!(e.fields.get_str(ecs::DESTINATION_IP), Some("10.0.0.255"));
        assert!(set_ip(&mut e, ecs::DESTINATION_IP, "2001:DB8:0:0::1"));
        assert_eq!(e.fields.get_str(ecs::DESTINATION_IP), Some("2001:db8::1"));
    }
}
