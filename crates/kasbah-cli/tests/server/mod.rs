//! A harness that runs the real `kasbah serve` binary on loopback for end-to-end tests.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn kasbah() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kasbah"))
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared data folder (`../shared`, or `$KASBAH_SHARED`) if it holds every path of `needs`;
/// otherwise says the test is skipped and why.
pub fn shared(needs: &[&str]) -> Option<PathBuf> {
    let root = std::env::var_os("KASBAH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"));
    if needs.iter().all(|n| root.join(n).exists()) {
        Some(root)
    } else {
        eprintln!(
            "SKIPPED: {needs:?} not found under {} (set KASBAH_SHARED)",
            root.display()
        );
        None
    }
}

/// A free TCP port number (also free for UDP in practice).
pub fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = t.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running server.
pub struct Server {
    pub child: Child,
    pub data: PathBuf,
    pub http: SocketAddr,
    pub syslog: SocketAddr,
    pub tls: Option<SocketAddr>,
    pub extra: Vec<String>,
}

#[derive(Default)]
pub struct Options<'a> {
    pub config: &'a str,
    pub tls: Option<(&'a Path, &'a Path)>,
    /// Seed the demo tenant (`kasbah serve --demo`).
    pub demo: bool,
}

impl Server {
    /// Starts a server on free ports. A port found free can be taken by another test's server
    /// before ours binds it; a server that exits at start is retried on new ports.
    pub fn start(data: &Path, opts: Options<'_>) -> Server {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(data, &opts) {
                Ok(s) => return s,
                Err(e) if attempt < 3 => eprintln!("retrying on new ports: {e}"),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn try_start(data: &Path, opts: &Options<'_>) -> Result<Server, String> {
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let syslog = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let tls = opts
            .tls
            .map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())));
        std::fs::create_dir_all(data).expect("data dir");
        let cfg = data.with_extension("toml");
        std::fs::write(&cfg, opts.config).expect("config");
        let mut extra = vec![
            "--config".to_string(),
            cfg.display().to_string(),
            "--syslog-udp".into(),
            syslog.to_string(),
            "--syslog-tcp".into(),
            syslog.to_string(),
        ];
        if opts.demo {
            extra.push("--demo".into());
        }
        if let (Some(addr), Some((cert, key))) = (tls, opts.tls) {
            extra.extend([
                "--syslog-tls".into(),
                addr.to_string(),
                "--syslog-tls-cert".into(),
                cert.display().to_string(),
                "--syslog-tls-key".into(),
                key.display().to_string(),
            ]);
        }
        let mut s = Server {
            child: spawn(data, http, &extra),
            data: data.to_path_buf(),
            http,
            syslog,
            tls,
            extra,
        };
        s.ready()?;
        Ok(s)
    }

    fn ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("kasbah serve exited early: {status}"));
            }
            // Ready, not merely alive: start-up (demo seed, first administrator) is over.
            if get(&self.url("/readyz")).0 == 200 {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("kasbah serve did not become healthy");
    }

    fn wait_ready(&mut self) {
        if let Err(e) = self.ready() {
            panic!("{e}");
        }
    }

    /// Restarts on the same data directory and ports.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.data, self.http, &self.extra);
        self.wait_ready();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Creates a token with the CLI, as an operator would, and returns the last word printed.
    pub fn token(&self, tenant: &str, scope: &str) -> String {
        last_word(
            &["token", "create", "--tenant", tenant, "--scope", scope],
            &self.data,
        )
    }

    pub fn search(&self, token: &str, query: &str) -> Value {
        let (status, body) = post(
            &self.url("/api/v1/search"),
            Some(token),
            json!({"query": query}).to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn total(&self, token: &str, query: &str) -> u64 {
        self.search(token, query)["total"].as_u64().expect("total")
    }

    /// Polls until the search returns `want` (for inputs without acknowledgement: UDP, syslog).
    pub fn wait_total(&self, token: &str, query: &str, want: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.total(token, query);
            if got >= want || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until detection has recorded every submitted batch and its correlation buffers
    /// are empty (they flush after `lateness_secs` of quiet).
    pub fn wait_detection(&self, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, h) = get_auth(&self.url("/api/v1/health"), token);
            assert_eq!(status, 200, "{h}");
            let d = h["detection"].clone();
            if (d["queued_batches"] == 0 && d["pending_captures"] == 0) || Instant::now() > deadline
            {
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn metric(&self, name: &str) -> f64 {
        let (_, text) = get_text(&self.url("/metrics"));
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(' '))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("metric {name} not found"))
    }

    /// Graceful stop (SIGTERM); returns whether the process exited successfully.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data: &Path, http: SocketAddr, extra: &[String]) -> Child {
    kasbah()
        .arg("serve")
        .arg("--data-dir")
        .arg(data)
        .arg("--listen")
        .arg(http.to_string())
        .args(extra)
        .env("KASBAH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kasbah serve")
}

/// An HTTP client that returns 4xx/5xx answers instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let text = resp
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_string()
                .unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// Runs `kasbah ARGS --data-dir DATA`, which must succeed, and returns the last word it printed
/// (the secret that `token create` and `user add` show once).
pub fn last_word(args: &[&str], data: &Path) -> String {
    let out = kasbah()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run kasbah");
    assert!(
        out.status.success(),
        "kasbah {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .last()
        .expect("a last word")
        .to_string()
}

pub fn post(url: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    post_with(url, token.map(|t| format!("Bearer {t}")).as_deref(), body)
}

pub fn post_with(url: &str, authorization: Option<&str>, body: &[u8]) -> (u16, Value) {
    let mut req = agent()
        .post(url)
        .header("Content-Type", "application/x-ndjson");
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    answer(req.send(body))
}

pub fn post_headers(url: &str, token: &str, body: &[u8]) -> (u16, Value, Option<String>) {
    let r = agent()
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .send(body);
    match r {
        Ok(mut resp) => {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let status = resp.status().as_u16();
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
                retry,
            )
        }
        Err(e) => (0, Value::String(e.to_string()), None),
    }
}

pub fn get(url: &str) -> (u16, Value) {
    answer(agent().get(url).call())
}

pub fn get_auth(url: &str, token: &str) -> (u16, Value) {
    answer(
        agent()
            .get(url)
            .header("Authorization", &format!("Bearer {token}"))
            .call(),
    )
}

pub fn delete_auth(url: &str, token: &str) -> (u16, Value) {
    answer(
        agent()
            .delete(url)
            .header("Authorization", &format!("Bearer {token}"))
            .call(),
    )
}

#[allow(dead_code)]
pub fn put_auth(url: &str, token: &str, body: &[u8]) -> (u16, Value) {
    answer(
        agent()
            .put(url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body),
    )
}

pub fn get_text(url: &str) -> (u16, String) {
    match agent().get(url).call() {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(e) => (0, e.to_string()),
    }
}

/// A scratch directory under the target dir, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("server-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A self-signed certificate for 127.0.0.1 made with the `openssl` command; `None` without it.
pub fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((cert, key))
}

/// A browser: the session cookie and the CSRF token it was given.
#[derive(Clone, Default)]
pub struct Browser {
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl Browser {
    /// Sends a request with the cookie (and the CSRF header when `with_csrf`); keeps a new
    /// cookie and token from the answer. Returns the status, the body and the Set-Cookie value.
    pub fn send(
        &mut self,
        method: &str,
        url: &str,
        body: Option<Value>,
        with_csrf: bool,
    ) -> (u16, Value, Option<String>) {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", format!("theme=dark; {c}"));
        }
        if with_csrf && let Some(t) = &self.csrf {
            req = req.header("X-CSRF-Token", t);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .header("Content-Type", "application/json")
            .body(body)
            .expect("request");
        let mut resp = agent().run(req).expect("answer");
        let status = resp.status().as_u16();
        let set = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if let Some(c) = &set {
            self.cookie = c.split(';').next().map(String::from);
        }
        if let Some(t) = v["csrf_token"].as_str() {
            self.csrf = Some(t.to_owned());
        }
        (status, v, set)
    }

    pub fn login(
        &mut self,
        s: &Server,
        user: &str,
        password: &str,
    ) -> (u16, Value, Option<String>) {
        self.send(
            "POST",
            &s.url("/api/v1/auth/login"),
            Some(json!({"username": user, "password": password})),
            false,
        )
    }
}

/// `kasbah user add NAME --tenant T --role R`; returns the one-time password.
pub fn add_user(s: &Server, name: &str, tenant: &str, role: &str) -> String {
    last_word(
        &["user", "add", name, "--tenant", tenant, "--role", role],
        &s.data,
    )
}

/// Logs in with the one-time password and sets `new`.
pub fn first_login(s: &Server, name: &str, one_time: &str, new: &str) -> Browser {
    let mut b = Browser::default();
    let (status, v, _) = b.login(s, name, one_time);
    assert_eq!(status, 200, "{v}");
    let (status, v, _) = b.send(
        "POST",
        &s.url("/api/v1/auth/password"),
        Some(json!({"current": one_time, "new": new})),
        true,
    );
    assert_eq!(status, 200, "{v}");
    b
}
