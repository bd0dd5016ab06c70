//! Real shippers from Debian's packages send to `kasbah serve` on loopback: rsyslog (omfwd over
//! TCP with both framings and over TLS, omelasticsearch, omrelp) and syslog-ng (network and syslog
//! drivers). `.ci/run` installs them (`scripts/install-test-deps.sh`); the tests skip with a
//! message when they are absent.

mod server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use server::{Options, Server, scratch};

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs rsyslogd in the foreground with `conf` (written to `dir`), until the guard drops.
fn start_rsyslog(rsyslogd: &Path, dir: &Path, conf: &str) -> Guard {
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).expect("conf");
    Guard(
        Command::new(rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd"),
    )
}

fn write_lines(path: &Path, tag: &str, n: usize) {
    let text: String = (1..=n)
        .map(|i| format!("{tag} line {i} from the shipper\n"))
        .collect();
    std::fs::write(path, text).expect("input file");
}

#[test]
fn rsyslog_forwards_over_tcp_tls_and_elasticsearch_bulk() {
    let Some(rsyslogd) = which("rsyslogd") else {
        eprintln!("skipped: rsyslogd not installed (scripts/install-test-deps.sh)");
        return;
    };
    let dir = scratch("rsyslog");
    let certs = server::self_signed(&dir);
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: "[syslog]\ntenant = \"net\"\n",
            tls: certs.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
            ..Options::default()
        },
    );
    let ingest = s.token("es", "ingest,read");
    let reader = s.token("net", "read");
    let input = dir.join("in.log");
    write_lines(&input, "rsyslogtest", 20);
    let tls_action = match (&certs, s.tls) {
        (Some(_), Some(addr)) => format!(
            "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"{}\" protocol=\"tcp\" StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"anon\")",
            addr.port()
        ),
        _ => String::new(),
    };
    let ca = certs
        .as_ref()
        .map(|(c, _)| format!("DefaultNetstreamDriverCAFile=\"{}\"", c.display()))
        .unwrap_or_default();
    let conf = format!(
        r#"global(workDirectory="{dir}" {ca})
module(load="imfile")
module(load="omelasticsearch")
template(name="es-json" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host.name" name="hostname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
input(type="imfile" File="{input}" Tag="app:" freshStartTail="off")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp")
{tls_action}
action(type="omelasticsearch" server="127.0.0.1" serverport="{http}" searchIndex="rsyslog" bulkmode="on" uid="rsyslog" pwd="{ingest}" template="es-json" errorFile="{dir}/es-errors.log")
"#,
        dir = dir.display(),
        input = input.display(),
        port = s.syslog.port(),
        http = s.http.port(),
    );
    let _rsyslog = start_rsyslog(&rsyslogd, &dir, &conf);
    // Octet-counted and newline-framed TCP (and TLS) reach the syslog tenant.
    let streams = if tls_action.is_empty() { 40 } else { 60 };
    assert_eq!(s.wait_total(&reader, "rsyslogtest", streams), streams);
    assert_eq!(s.total(&reader, "event.module:syslog"), streams);
    // omelasticsearch reaches the tenant of its token through /_bulk.
    assert_eq!(s.wait_total(&ingest, "rsyslogtest", 20), 20);
    assert_eq!(s.total(&ingest, "data_stream.dataset:rsyslog"), 20);
    if tls_action.is_empty() {
        eprintln!("TLS part skipped: openssl not found");
    }
}

/// rsyslogd, when it and its RELP output module are installed (a message says what is missing).
fn rsyslogd_with_relp() -> Option<PathBuf> {
    let Some(rsyslogd) = which("rsyslogd") else {
        eprintln!("skipped: rsyslogd not installed (scripts/install-test-deps.sh)");
        return None;
    };
    if !Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so").exists() {
        eprintln!("skipped: rsyslog-relp not installed (scripts/install-test-deps.sh)");
        return None;
    }
    Some(rsyslogd)
}

/// An rsyslog configuration that follows `input` and sends it with `omrelp` to `port`, retrying
/// for ever; `params` adds parameters to the action (TLS).
fn omrelp_conf(dir: &Path, input: &Path, port: u16, params: &str) -> String {
    format!(
        r#"global(workDirectory="{dir}")
module(load="imfile")
module(load="omrelp")
input(type="imfile" File="{input}" Tag="app:" freshStartTail="off")
action(type="omrelp" target="127.0.0.1" port="{port}" {params} action.resumeRetryCount="-1" action.resumeInterval="1")
"#,
        dir = dir.display(),
        input = input.display(),
    )
}

/// rsyslog's reliable protocol: `omrelp` delivers every line, acknowledged one by one, and
/// resends what was not acknowledged when the server comes back after a `kill -9`.
#[test]
fn rsyslog_delivers_over_relp_across_a_server_crash() {
    let Some(rsyslogd) = rsyslogd_with_relp() else {
        return;
    };
    let dir = scratch("rsyslog-relp");
    let relp = server::free_port();
    let mut s = Server::start(
        &dir.join("data"),
        Options {
            config: &format!("[syslog]\ntenant = \"net\"\nrelp = \"127.0.0.1:{relp}\"\n"),
            ..Options::default()
        },
    );
    let reader = s.token("net", "read");
    let input = dir.join("in.log");
    write_lines(&input, "relpship", 50);
    let conf = omrelp_conf(&dir, &input, relp, "");
    let _rsyslog = start_rsyslog(&rsyslogd, &dir, &conf);
    assert_eq!(s.wait_total(&reader, "relpship", 50), 50);
    assert!(s.metric("kasbah_ingest_events_total{input=\"syslog_relp\"}") >= 50.0);
    // kill -9, more lines while the server is down, then back: rsyslog resends.
    let _ = s.child.kill();
    let _ = s.child.wait();
    let more: String = (51..=80)
        .map(|i| format!("relpship line {i} from the shipper\n"))
        .collect();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .expect("append");
    std::io::Write::write_all(&mut f, more.as_bytes()).expect("write");
    drop(f);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    s.restart();
    assert_eq!(
        s.wait_total(&reader, "relpship", 80),
        80,
        "every line, once"
    );
}

/// RELP over TLS: rsyslog's `omrelp` with `tls="on"`, checking the server's certificate against
/// its CA and name, delivers every line to the RELP-over-TLS listener. (librelp offers
/// certificate cipher suites only when it has a certificate of its own, `tls.myCert`; without
/// one it offers anonymous Diffie-Hellman, which rustls rightly refuses.)
#[test]
fn rsyslog_delivers_over_relp_with_tls() {
    let Some(rsyslogd) = rsyslogd_with_relp() else {
        return;
    };
    let dir = scratch("rsyslog-relp-tls");
    let Some((cert, key)) = server::self_signed(&dir) else {
        eprintln!("skipped: openssl not found");
        return;
    };
    let relp = server::free_port();
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: &format!(
                "[syslog]\ntenant = \"net\"\nrelp_tls = \"127.0.0.1:{relp}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            ..Options::default()
        },
    );
    let reader = s.token("net", "read");
    let input = dir.join("in.log");
    write_lines(&input, "relptls", 30);
    let tls = format!(
        r#"tls="on" tls.caCert="{cert}" tls.myCert="{cert}" tls.myPrivKey="{key}" tls.authMode="name" tls.permittedPeer=["127.0.0.1"]"#,
        cert = cert.display(),
        key = key.display(),
    );
    let conf = omrelp_conf(&dir, &input, relp, &tls);
    let _rsyslog = start_rsyslog(&rsyslogd, &dir, &conf);
    assert_eq!(s.wait_total(&reader, "relptls", 30), 30);
    assert!(s.metric("kasbah_ingest_events_total{input=\"syslog_relp\"}") >= 30.0);
}

/// syslog-ng from Debian's package. It conflicts with rsyslog as an installed package, so the
/// install script unpacks it under /opt/syslog-ng (or `KASBAH_SYSLOG_NG`).
#[test]
fn syslog_ng_forwards_with_bsd_and_ietf_framing() {
    let root = std::env::var_os("KASBAH_SYSLOG_NG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/syslog-ng"));
    let bin = root.join("usr/sbin/syslog-ng");
    let Some(modules) = std::fs::read_dir(root.join("usr/lib/syslog-ng"))
        .ok()
        .and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.is_dir() && p.join("libaffile.so").exists())
        })
    else {
        eprintln!(
            "skipped: syslog-ng not found under {} (scripts/install-test-deps.sh)",
            root.display()
        );
        return;
    };
    if !bin.is_file() {
        eprintln!("skipped: {} missing", bin.display());
        return;
    }
    let dir = scratch("syslog-ng");
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: "[syslog]\ntenant = \"net\"\n",
            tls: None,
            ..Options::default()
        },
    );
    let reader = s.token("net", "read");
    let input = dir.join("in.log");
    write_lines(&input, "syslogngtest", 15);
    let port = s.syslog.port();
    let conf = format!(
        r#"@version: 3.38
options {{ keep-hostname(yes); stats-freq(0); }};
source s_in {{ file("{input}" follow-freq(0.1) flags(no-parse)); }};
destination d_bsd {{ network("127.0.0.1" port({port}) transport("tcp") persist-name("bsd")); }};
destination d_ietf {{ syslog("127.0.0.1" port({port}) transport("tcp") persist-name("ietf")); }};
log {{ source(s_in); destination(d_bsd); destination(d_ietf); }};
"#,
        input = input.display()
    );
    let conf_path = dir.join("syslog-ng.conf");
    std::fs::write(&conf_path, conf).expect("conf");
    let _sng = Guard(
        Command::new(&bin)
            .arg("-F")
            .arg("-f")
            .arg(&conf_path)
            .arg(format!("--module-path={}", modules.display()))
            .arg("-p")
            .arg(dir.join("sng.pid"))
            .arg("-R")
            .arg(dir.join("sng.persist"))
            .arg("-c")
            .arg(dir.join("sng.ctl"))
            .arg("--no-caps")
            .env("LD_LIBRARY_PATH", root.join("usr/lib/syslog-ng"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start syslog-ng"),
    );
    assert_eq!(s.wait_total(&reader, "syslogngtest", 30), 30);
    assert_eq!(s.total(&reader, "syslogngtest AND line AND 15"), 2);
}
