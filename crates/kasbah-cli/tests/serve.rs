//! End-to-end tests of `kasbah serve`: every input, search, auth, tenants, limits and shutdown,
//! against the real binary on loopback.

mod server;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use serde_json::{Value, json};
use server::{
    Options, Server, get, get_auth, get_text, kasbah, post, post_headers, post_with, scratch,
};

fn ndjson(n: usize, tag: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let doc = json!({
            "@timestamp": format!("2026-11-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            "message": format!("Failed password for user{i} from 10.1.{}.{} port 22 ssh2 {tag}", i % 7, i % 250),
            "host.name": format!("web-{}", i % 3),
            "source.ip": format!("10.1.{}.{}", i % 7, i % 250),
            "event.code": 4625,
            "id": format!("{tag}-{i}"),
        });
        out.extend_from_slice(doc.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

#[test]
fn ingest_search_and_cli_search_agree() {
    let dir = scratch("ingest_search");
    let s = Server::start(&dir.join("data"), Options::default());
    let tok = s.token("acme", "ingest,read");
    assert!(tok.starts_with("kbh_"), "{tok}");
    let mut body = ndjson(50, "api");
    body.extend_from_slice(b"{not json}\n");
    let (status, r) = post(&s.url("/api/v1/ingest"), Some(&tok), &body);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["accepted"], 50);
    assert_eq!(r["rejected"], 1);
    assert_eq!(r["errors"][0]["record"], 51, "{r}");
    // Acknowledged means searchable, immediately.
    assert_eq!(s.total(&tok, "*"), 50);
    assert_eq!(s.total(&tok, "host.name:web-1"), 17);
    assert_eq!(s.total(&tok, "failed AND source.ip:10.1.0.0/16"), 50);
    assert_eq!(s.total(&tok, "user7"), 1);
    let table = s.search(
        &tok,
        "* | stats count() by host.name | sort -count, host.name | head 1",
    );
    assert_eq!(table["columns"], json!(["host.name", "count"]), "{table}");
    assert_eq!(table["rows"][0], json!(["web-0", 17]), "{table}");
    // Time range from the request.
    let (_, r) = post(
        &s.url("/api/v1/search"),
        Some(&tok),
        json!({"query": "*", "from": "2026-11-20T10:00:10Z", "to": "2026-11-20T10:00:19Z"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r["total"], 10, "{r}");
    // A query error points at the column.
    let (status, r) = post(
        &s.url("/api/v1/search"),
        Some(&tok),
        br#"{"query": "host.name:(web"}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(r["error"]["code"], "invalid_query");
    assert!(r["error"]["column"].as_u64().is_some(), "{r}");
    // The CLI against the server.
    let out = server::kasbah()
        .args([
            "search",
            "--server",
            &s.url(""),
            "--token",
            &tok,
            "--format",
            "json",
            "host.name:web-2",
        ])
        .output()
        .expect("kasbah search");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["total"], 16);
    let out = server::kasbah()
        .args([
            "search",
            "--server",
            &s.url(""),
            "--token",
            &tok,
            "* | stats count() by host.name",
        ])
        .output()
        .expect("kasbah search");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("web-0") && text.contains("count"), "{text}");
}

#[test]
fn tokens_scopes_and_tenants_are_enforced() {
    let dir = scratch("auth");
    let s = Server::start(&dir.join("data"), Options::default());
    let a = s.token("tenant-a", "ingest,read");
    let b = s.token("tenant-b", "read");
    let ingest_only = s.token("tenant-a", "ingest");
    assert_eq!(
        post(&s.url("/api/v1/ingest"), Some(&a), &ndjson(5, "a")).0,
        200
    );
    // No token, a wrong token: 401.
    assert_eq!(
        post(&s.url("/api/v1/search"), None, br#"{"query":"*"}"#).0,
        401
    );
    assert_eq!(
        post(
            &s.url("/api/v1/search"),
            Some("kbh_0000"),
            br#"{"query":"*"}"#
        )
        .0,
        401
    );
    // Wrong scope: 403.
    let (status, r) = post(
        &s.url("/api/v1/search"),
        Some(&ingest_only),
        br#"{"query":"*"}"#,
    );
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        post(&s.url("/api/v1/ingest"), Some(&b), &ndjson(1, "b")).0,
        403
    );
    // Tenant B sees nothing of tenant A.
    assert_eq!(s.total(&a, "*"), 5);
    assert_eq!(s.total(&b, "*"), 0);
    assert_eq!(s.total(&b, "failed"), 0);
    // Revoked tokens stop working.
    let out = server::kasbah()
        .args(["token", "list", "--tenant", "tenant-a", "--data-dir"])
        .arg(s.data.as_path())
        .output()
        .expect("list");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains("ingest,read") && !listing.contains(&a),
        "secrets must never be listed: {listing}"
    );
    let id = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("id")
        .to_string();
    let out = server::kasbah()
        .args(["token", "revoke", &id, "--data-dir"])
        .arg(s.data.as_path())
        .output()
        .expect("revoke");
    assert!(out.status.success());
    assert_eq!(
        post(&s.url("/api/v1/search"), Some(&a), br#"{"query":"*"}"#).0,
        401
    );
    // Health needs a token, metrics are public and count the failures.
    assert_eq!(get(&s.url("/api/v1/health")).0, 401);
    assert_eq!(get_auth(&s.url("/api/v1/health"), &b).0, 200);
    assert!(s.metric("kasbah_auth_failures_total") >= 3.0);
    assert_eq!(get(&s.url("/readyz")).0, 200);
}

#[test]
fn elasticsearch_bulk_api_accepts_shipper_requests() {
    let dir = scratch("bulk");
    let s = Server::start(&dir.join("data"), Options::default());
    let tok = s.token("shippers", "ingest,read");
    let (status, root) = get(&s.url("/"));
    assert_eq!(status, 200);
    assert!(
        root["version"]["number"]
            .as_str()
            .is_some_and(|v| v.starts_with('8'))
    );
    let body = concat!(
        "{\"index\":{\"_index\":\"filebeat-1\"}}\n",
        "{\"@timestamp\":\"2026-11-20T10:00:00Z\",\"message\":\"one\",\"host\":{\"name\":\"h1\"}}\n",
        "{\"create\":{}}\n",
        "{\"message\":\"two\"}\n",
        "{\"delete\":{\"_index\":\"x\",\"_id\":\"1\"}}\n",
        "{\"index\":{}}\n",
        "[1,2]\n",
    );
    // Basic auth with the token as password, as Beats and rsyslog send it.
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("elastic:{tok}"))
    );
    let (status, r) = post_with(&s.url("/logs-app/_bulk"), Some(&basic), body.as_bytes());
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["errors"], true);
    let items = r["items"].as_array().expect("items");
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["index"]["status"], 201);
    assert_eq!(items[1]["create"]["status"], 201);
    assert_eq!(items[2]["delete"]["status"], 405);
    assert_eq!(items[3]["index"]["status"], 400);
    assert_eq!(s.total(&tok, "*"), 2);
    assert_eq!(
        s.total(&tok, "data_stream.dataset:filebeat-1 AND host.name:h1"),
        1
    );
    assert_eq!(s.total(&tok, "data_stream.dataset:logs-app"), 1);
    // Connect-time calls shippers make.
    assert_eq!(server::get_auth(&s.url("/_license"), &tok).0, 200);
    assert_eq!(server::get_auth(&s.url("/_license"), "bad").0, 401);
}

#[test]
fn uploads_parse_files_and_refuse_archives_and_oversize_bodies() {
    let dir = scratch("upload");
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: "[http]\nmax_upload_bytes = 200000\nmax_body_bytes = 2000\n",
            tls: None,
            ..Options::default()
        },
    );
    let tok = s.token("ir", "ingest,read");
    let xml = std::fs::read(server::repo().join("samples/windows/events.xml")).expect("sample");
    let (status, r) = post(
        &s.url("/api/v1/upload?filename=events.xml"),
        Some(&tok),
        &xml,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["format"], "xml");
    let n = r["accepted"].as_u64().expect("accepted");
    assert_eq!(n, 7, "{r}");
    assert_eq!(s.total(&tok, "*"), n);
    assert!(s.total(&tok, "event.code:4625") > 0);
    // Each event keeps the name of its file: one evidence file's events are found by it.
    assert_eq!(s.total(&tok, "log.file.path:\"events.xml\""), n);
    assert_eq!(s.total(&tok, "log.file.path:\"other.xml\""), 0);
    let (status, r) = post(&s.url("/api/v1/upload"), Some(&tok), b"PK\x03\x04zipped");
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (415, Some("archive_refused"))
    );
    let (status, r) = post(&s.url("/api/v1/ingest"), Some(&tok), &ndjson(100, "big"));
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{r}"
    );
    let (status, _) = post(&s.url("/api/v1/upload?format=nonsense"), Some(&tok), b"x");
    assert_eq!(status, 400);
    assert_eq!(
        s.total(&tok, "*"),
        n,
        "nothing of a refused request is stored"
    );
}

#[test]
fn shared_evtx_upload_is_searchable() {
    let Some(evtx) = shared_evtx() else { return };
    let dir = scratch("evtx");
    let s = Server::start(&dir.join("data"), Options::default());
    let tok = s.token("ir", "ingest,read");
    let bytes = std::fs::read(&evtx).expect("evtx");
    let (status, r) = post(
        &s.url("/api/v1/upload?format=evtx&filename=x.evtx"),
        Some(&tok),
        &bytes,
    );
    assert_eq!(status, 200, "{r}");
    let n = r["accepted"].as_u64().expect("accepted");
    assert!(n > 0);
    assert_eq!(s.total(&tok, "*"), n);
}

fn shared_evtx() -> Option<std::path::PathBuf> {
    const DIR: &str = "evtx/EVTX-ATTACK-SAMPLES/Credential Access";
    let dir = server::shared(&[DIR])?.join(DIR);
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "evtx"))
}

#[test]
fn syslog_over_tcp_udp_and_tls() {
    let dir = scratch("syslog");
    let certs = server::self_signed(&dir);
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: "[syslog]\nmax_message_bytes = 2048\ntenant = \"net\"\n",
            tls: certs.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
            ..Options::default()
        },
    );
    let tok = s.token("net", "read");
    let mut tcp = TcpStream::connect(s.syslog).expect("tcp");
    let rfc5424 = "<165>1 2026-11-20T10:00:00.003Z fw1 sshd 4242 ID47 - Failed password for root from 10.0.0.9";
    let bsd = "<38>Nov 20 10:00:01 fw1 sshd[99]: Accepted password for alice from 10.0.0.8 port 50000 ssh2";
    let cef =
        "<134>Nov 20 10:00:02 ids1 CEF:0|Vendor|IDS|1.0|100|Port scan|7|src=10.0.0.66 dst=10.0.0.1";
    let mut stream = Vec::new();
    // Octet counting, newline framing, a CEF payload, invalid UTF-8, an oversize message.
    stream.extend_from_slice(format!("{} {rfc5424}", rfc5424.len()).as_bytes());
    stream.extend_from_slice(format!("{bsd}\n{cef}\n").as_bytes());
    stream.extend_from_slice(b"<38>Nov 20 10:00:03 fw1 app: bad bytes \xff\xfe here\n");
    stream.extend_from_slice(
        format!("<38>Nov 20 10:00:04 fw1 app: {}\n", "x".repeat(5000)).as_bytes(),
    );
    tcp.write_all(&stream).expect("send");
    tcp.flush().expect("flush");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.send_to(
        b"<13>1 2026-11-20T10:00:05Z host2 app - - - hello over udp",
        s.syslog,
    )
    .expect("udp send");
    let mut want = 5;
    assert_eq!(s.wait_total(&tok, "*", want), want);
    assert_eq!(s.total(&tok, "event.module:cef"), 1);
    assert_eq!(s.total(&tok, "source.ip:10.0.0.66"), 1);
    assert_eq!(s.total(&tok, "udp"), 1);
    assert_eq!(s.total(&tok, "bad AND bytes"), 1);
    drop(tcp);
    assert!(s.metric("kasbah_rejected_too_large_total{input=\"syslog_tcp\"}") >= 1.0);
    // Text messages were mined into templates: searchable by id, listed by the API.
    assert_eq!(s.total(&tok, "log.template_id:*"), 5);
    let (status, t) = get_auth(&s.url("/api/v1/templates"), &tok);
    assert_eq!(status, 200);
    let first = &t["templates"][0];
    assert!(
        first["template"].as_str().is_some() && first["id"].as_u64().is_some(),
        "{t}"
    );
    let id = first["id"].as_u64().unwrap_or_default();
    assert!(s.total(&tok, &format!("log.template_id:{id}")) >= 1);
    // A firewall's key=value payload after a syslog header (no app tag) is parsed as kv.
    let mut fw = TcpStream::connect(s.syslog).expect("tcp");
    fw.write_all(b"<189>Nov 20 10:00:07 fw-edge-01 date=2026-11-20 time=10:00:07 devname=\"fw-edge-01\" type=\"traffic\" srcip=203.0.113.7 srcport=4444 dstip=10.0.0.5 dstport=3389 proto=6 action=\"deny\" policyid=3\n").expect("send");
    assert_eq!(s.wait_total(&tok, "action:deny", 1), 1);
    assert_eq!(
        s.total(
            &tok,
            "event.module:kv AND source.ip:203.0.113.7 AND destination.port:3389"
        ),
        1
    );
    assert_eq!(s.total(&tok, "message:\"Failed password for root\""), 1);
    want += 1;
    if let Some((cert, _)) = &certs {
        let got = tls_send(
            s.tls.expect("tls addr"),
            cert,
            "<38>Nov 20 10:00:06 fw1 app: over tls\n",
        );
        assert!(got, "TLS handshake with the server failed");
        want += 1;
        assert_eq!(s.wait_total(&tok, "*", want), want);
        assert_eq!(s.total(&tok, "tls"), 1);
    } else {
        eprintln!("TLS part skipped: openssl not found");
    }
}

/// Sends over TLS with the `openssl s_client` command (a client independent of our TLS stack).
fn tls_send(addr: std::net::SocketAddr, ca: &std::path::Path, msg: &str) -> bool {
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &addr.to_string(),
            "-CAfile",
        ])
        .arg(ca)
        .args(["-verify_return_error"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_client");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(msg.as_bytes());
        std::thread::sleep(Duration::from_millis(800));
    }
    let _ = child.kill();
    child.wait().is_ok()
}

#[test]
fn slow_and_half_open_connections_do_not_block_the_server() {
    let dir = scratch("slow");
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: "[syslog]\nidle_timeout_secs = 1\ntenant = \"t\"\n",
            tls: None,
            ..Options::default()
        },
    );
    let tok = s.token("t", "ingest,read");
    // Silent connections and one that stops in the middle of a frame.
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(s.syslog).expect("connect"))
        .collect();
    let mut partial = TcpStream::connect(s.syslog).expect("connect");
    partial
        .write_all(b"120 <13>1 2026-11-20T10:00:00Z h a - - - only part")
        .expect("write");
    // The server keeps serving everyone else.
    assert_eq!(
        post(&s.url("/api/v1/ingest"), Some(&tok), &ndjson(3, "x")).0,
        200
    );
    let mut other = TcpStream::connect(s.syslog).expect("connect");
    other
        .write_all(b"<13>1 2026-11-20T10:00:00Z h a - - - complete\n")
        .expect("write");
    assert_eq!(s.wait_total(&tok, "complete", 1), 1);
    // Idle connections are closed after the timeout.
    std::thread::sleep(Duration::from_millis(2500));
    let mut buf = [0u8; 1];
    for c in idle.iter_mut().chain([&mut partial]) {
        c.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        assert_eq!(
            c.read(&mut buf).unwrap_or(0),
            0,
            "the server should have closed an idle connection"
        );
    }
    assert_eq!(s.total(&tok, "part"), 0, "a truncated frame is not stored");
}

#[test]
fn overload_answers_retry_later_and_stores_nothing_of_the_refused_request() {
    let dir = scratch("overload");
    // A tiny in-flight budget: after one accepted request, the next waits for the index commit.
    let s = Server::start(
        &dir.join("data"),
        Options {
            config: "[storage]\nmax_inflight_bytes = 1\ncommit_interval_secs = 30\n",
            tls: None,
            ..Options::default()
        },
    );
    let tok = s.token("t", "ingest,read");
    let (status, _, _) = post_headers(&s.url("/api/v1/ingest"), &tok, &ndjson(10, "first"));
    assert_eq!(status, 200);
    let (status, body, retry) = post_headers(&s.url("/api/v1/ingest"), &tok, &ndjson(10, "second"));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "overloaded");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(s.total(&tok, "*"), 10);
    assert_eq!(s.total(&tok, "second"), 0);
    assert_eq!(
        s.metric("kasbah_rejected_overload_events_total{input=\"http\"}"),
        10.0
    );
    let (_, text) = get_text(&s.url("/metrics"));
    assert!(text.contains("kasbah_inflight_bytes "), "{text}");
}

#[test]
fn graceful_shutdown_commits_and_restart_replays_nothing() {
    let dir = scratch("shutdown");
    let mut s = Server::start(&dir.join("data"), Options::default());
    let tok = s.token("t", "ingest,read");
    assert_eq!(
        post(&s.url("/api/v1/ingest"), Some(&tok), &ndjson(40, "x")).0,
        200
    );
    assert!(s.terminate(), "SIGTERM should stop the server cleanly");
    s.restart();
    assert_eq!(s.metric("kasbah_replayed_events"), 0.0);
    assert_eq!(s.total(&tok, "*"), 40);
}

#[test]
fn demo_mode_seeds_the_sample_incident_once() {
    let dir = scratch("demo");
    let data = dir.join("data");
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], server::free_port()));
    let mut child = server::kasbah()
        .args([
            "serve",
            "--demo",
            "--listen",
            &http.to_string(),
            "--data-dir",
        ])
        .arg(&data)
        .env("KASBAH_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = child.stderr.take().expect("stderr");
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains("serving on") {
        let n = err.read(&mut buf).expect("read");
        assert!(n > 0, "server exited: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = child.kill();
    let _ = child.wait();
    let token = text
        .split_whitespace()
        .skip_while(|w| *w != "--token")
        .nth(1)
        .expect("a token in the demo banner")
        .to_string();
    assert!(text.contains("seeded with"), "{text}");
    let s = Server::start(&data, Options::default());
    assert!(s.total(&token, "*") >= 50);
    assert!(s.total(&token, "event.module:auth") > 0);
    // The built-in rules raised the incident's alerts, correlations included.
    let (status, v) = server::get_auth(&s.url("/api/v1/alerts?limit=1000"), &token);
    assert_eq!(status, 200, "{v}");
    let alerts = v["alerts"].as_array().expect("alerts");
    let rule = |id: &str| alerts.iter().any(|a| a["rule_id"] == id);
    assert!(
        rule("6829e098-739b-4a84-9345-8b1cf7ea16a6"),
        "mimikatz: {v}"
    );
    assert!(
        rule("90712958-b16c-4b9a-a680-eb663ace5c82"),
        "SSH brute force: {v}"
    );
    assert!(alerts.len() >= 10, "{} alerts", alerts.len());
}

#[test]
fn tls_self_signed_makes_a_certificate_once_and_serves_https_with_it() {
    let data = scratch("self-signed").join("data");
    let port = server::free_port();
    let start = || {
        kasbah()
            .args(["serve", "--tls-self-signed", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data)
            .env("KASBAH_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kasbah serve")
    };
    let pem = data.join("tls/self-signed.pem");
    let https = |pem: &std::path::Path, path: &str| -> Option<(u16, String, Option<String>)> {
        let der = rustls_pem_der(pem)?;
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                ureq::tls::Certificate::from_der(&der).to_owned(),
            ]))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(&format!("https://localhost:{port}{path}"))
            .header("Content-Type", "application/json")
            .send(r#"{"username": "admin", "password": "wrong password"}"#)
            .ok()?;
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        Some((
            r.status().as_u16(),
            r.body_mut().read_to_string().ok()?,
            cookie,
        ))
    };
    let wait = |child: &mut std::process::Child| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                child.try_wait().ok().flatten().is_none(),
                "kasbah serve exited"
            );
            if let Some(a) = https(&pem, "/api/v1/auth/login") {
                return a;
            }
            assert!(std::time::Instant::now() < deadline, "no HTTPS answer");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let mut child = start();
    // The certificate made at the first start is trusted by a client that knows only it.
    let (status, body, _) = wait(&mut child);
    assert_eq!(status, 401, "{body}");
    let first = std::fs::read(&pem).expect("certificate");
    let _ = child.kill();
    let _ = child.wait();
    // The second start reuses it.
    let mut child = start();
    wait(&mut child);
    assert_eq!(std::fs::read(&pem).expect("certificate"), first);
    let _ = child.kill();
    let _ = child.wait();
}

/// The DER of the first certificate of a PEM file.
fn rustls_pem_der(pem: &std::path::Path) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(pem).ok()?;
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Reads RELP frames until `want` responses arrived (or the peer closed); returns their texts.
fn relp_responses(sock: &mut TcpStream, want: usize) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    while got.len() < want {
        // Whole frames: "TXNR rsp LEN DATA\n".
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let head = String::from_utf8_lossy(&buf[..nl]).to_string();
            let parts: Vec<&str> = head.splitn(4, ' ').collect();
            let len: usize = parts.get(2).and_then(|l| l.parse().ok()).unwrap_or(0);
            let start = parts[..3.min(parts.len())].join(" ").len() + usize::from(len > 0);
            if buf.len() < start + len + 1 {
                break;
            }
            got.push(format!(
                "{} {} {}",
                parts[0],
                parts.get(1).copied().unwrap_or_default(),
                String::from_utf8_lossy(&buf[start..start + len])
            ));
            buf.drain(..start + len + 1);
        }
        if got.len() >= want {
            break;
        }
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    got
}

fn relp_frame(txnr: u32, command: &str, data: &str) -> Vec<u8> {
    if data.is_empty() {
        format!("{txnr} {command} 0\n").into_bytes()
    } else {
        format!("{txnr} {command} {} {data}\n", data.len()).into_bytes()
    }
}

#[test]
fn relp_acknowledges_each_message_once_it_is_durable() {
    let relp = server::free_port();
    let s = Server::start(
        &scratch("serve-relp"),
        Options {
            config: &format!(
                "[syslog]\ntenant = \"net\"\nrelp = \"127.0.0.1:{relp}\"\nmax_message_bytes = 2048\n"
            ),
            ..Options::default()
        },
    );
    let reader = s.token("net", "read");
    let mut sock = TcpStream::connect(("127.0.0.1", relp)).expect("connect");
    let mut out = relp_frame(
        1,
        "open",
        "relp_version=0\nrelp_software=test\ncommands=syslog",
    );
    for i in 0..3 {
        out.extend(relp_frame(
            2 + i,
            "syslog",
            &format!("<13>Mar 14 10:00:0{i} fw01 app: relptest message {i}"),
        ));
    }
    // Over the size limit: refused with an error response, counted, the rest goes on.
    out.extend(relp_frame(5, "syslog", &"x".repeat(3000)));
    out.extend(relp_frame(
        6,
        "syslog",
        "<13>Mar 14 10:00:09 fw01 app: relptest last",
    ));
    sock.write_all(&out).expect("send");
    let answers = relp_responses(&mut sock, 6);
    assert_eq!(answers.len(), 6, "{answers:?}");
    assert!(
        answers[0].starts_with("1 rsp 200 OK\nrelp_version=0")
            && answers[0].contains("commands=syslog"),
        "{answers:?}"
    );
    for (i, a) in answers[1..].iter().enumerate() {
        let txnr = i + 2;
        let want = if txnr == 5 { "500" } else { "200 OK" };
        assert!(a.starts_with(&format!("{txnr} rsp {want}")), "{answers:?}");
    }
    // Acknowledged means durable and searchable: no waiting.
    assert_eq!(s.total(&reader, "relptest"), 4);
    assert!(s.metric("kasbah_rejected_too_large_total{input=\"syslog_relp\"}") >= 1.0);
    sock.write_all(&relp_frame(7, "close", "")).expect("close");
    assert_eq!(relp_responses(&mut sock, 1), vec!["7 rsp 200 OK"]);

    // Not RELP: the server says it closes, and closes; nothing is stored.
    let mut bad = TcpStream::connect(("127.0.0.1", relp)).expect("connect");
    bad.write_all(b"hello there, this is not a RELP frame at all, is it\n")
        .expect("send");
    assert_eq!(relp_responses(&mut bad, 1), vec!["0 serverclose "]);
    assert_eq!(relp_responses(&mut bad, 1), Vec::<String>::new(), "closed");
    // Messages before `open` are refused the same way.
    let mut early = TcpStream::connect(("127.0.0.1", relp)).expect("connect");
    early
        .write_all(&relp_frame(1, "syslog", "<13>relptest early"))
        .expect("send");
    assert_eq!(relp_responses(&mut early, 1), vec!["0 serverclose "]);
    assert_eq!(s.total(&reader, "relptest"), 4);
}
