//! A small W3C WebDriver client over HTTP for the console's end-to-end tests: starts
//! `chromedriver` on a free port with headless Chromium, then finds, clicks, types, runs
//! scripts and takes screenshots. No browser at all makes the tests skip, unless
//! `KASBAH_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs Debian's `chromium` and
//! `chromium-driver`) makes that a failure.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::server::agent;

/// The key W3C WebDriver uses for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A headless Chromium driven through chromedriver; both end when this is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    /// Where screenshots go.
    pub shots: PathBuf,
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct El(String);

impl El {
    /// The WebDriver id (to pass the element to a script).
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl Browser {
    /// Starts Chromium, or `None` (with a message) when it is not installed and not required.
    pub fn start() -> Option<Browser> {
        let driver = std::env::var_os("KASBAH_CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| which("chromedriver"));
        let chromium = std::env::var_os("KASBAH_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| which("chromium"))
            .or_else(|| which("chromium-browser"));
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            let msg = "chromium and chromedriver are not installed (apt install chromium chromium-driver)";
            assert!(
                std::env::var_os("KASBAH_REQUIRE_BROWSER").is_none(),
                "{msg}, and KASBAH_REQUIRE_BROWSER is set"
            );
            eprintln!("skipping the browser tests: {msg}");
            return None;
        };
        let port = super::server::free_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = agent()
                .get(&format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1440,900", "--force-device-scale-factor=1", "--lang=en-GB"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let mut resp = agent()
            .post(&format!("{base}/session"))
            .header("Content-Type", "application/json")
            .send(caps.to_string())
            .expect("new WebDriver session");
        let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap_or_default())
            .expect("session answer");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        let shots = std::env::var_os("KASBAH_SCREENSHOTS").map_or_else(
            || super::server::repo().join("target/console-screenshots"),
            PathBuf::from,
        );
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Some(Browser {
            driver: child,
            base,
            session,
            shots,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let resp = match method {
            "GET" => agent().get(&url).call(),
            "DELETE" => agent().delete(&url).call(),
            _ => agent()
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut resp = resp.expect("WebDriver answer");
        let v: Value = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        v["value"].clone()
    }

    /// Opens a URL.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The elements matching a CSS selector now.
    pub fn all(&self, css: &str) -> Vec<El> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|s| El(s.to_owned())))
            .collect()
    }

    /// Waits (up to 20 s) for an element matching `css`.
    pub fn find(&self, css: &str) -> El {
        self.wait(&format!("an element {css}"), || {
            self.all(css).into_iter().next()
        })
    }

    /// Polls `f` until it gives something (up to 20 s), failing with the page's state.
    pub fn wait<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("failure");
                panic!(
                    "timed out waiting for {what} at {}; screenshot {}; page text: {}; browser log: {}",
                    self.url(),
                    shot.display(),
                    self.text_of("body"),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element matching `css` has text containing `want`.
    pub fn wait_text(&self, css: &str, want: &str) -> String {
        self.wait(&format!("{css} to contain {want:?}"), || {
            let t = self.text_of(css);
            t.contains(want).then_some(t)
        })
    }

    /// The visible text of the first element matching `css` ("" if none).
    pub fn text_of(&self, css: &str) -> String {
        self.all(css)
            .first()
            .map(|e| self.text(e))
            .unwrap_or_default()
    }

    pub fn text(&self, el: &El) -> String {
        self.call("GET", &format!("/element/{}/text", el.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn attr(&self, el: &El, name: &str) -> Option<String> {
        self.call("GET", &format!("/element/{}/property/{name}", el.0), None)
            .as_str()
            .map(String::from)
            .or_else(|| {
                self.call("GET", &format!("/element/{}/attribute/{name}", el.0), None)
                    .as_str()
                    .map(String::from)
            })
    }

    pub fn enabled(&self, el: &El) -> bool {
        self.call("GET", &format!("/element/{}/enabled", el.0), None) == true
    }

    pub fn click(&self, el: &El) {
        let v = self.call("POST", &format!("/element/{}/click", el.0), None);
        assert!(v.is_null(), "click failed: {v}");
    }

    /// Clicks the first element matching `css`, once it exists.
    pub fn click_on(&self, css: &str) {
        let el = self.find(css);
        self.click(&el);
    }

    pub fn clear(&self, el: &El) {
        self.call("POST", &format!("/element/{}/clear", el.0), None);
    }

    /// Types into an element (`\u{E007}` is Enter).
    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.clear(&el);
        self.call(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// Sends keys to an element without clearing it first: how a file input receives the path
    /// of the file to upload.
    pub fn send_keys(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.call(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// Runs an async script: its last argument is the callback to call with the result.
    pub fn run_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    pub fn run(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    pub fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The browser console's messages so far (errors show up here).
    pub fn logs(&self) -> String {
        let v = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Saves a PNG of the page as `<name>.png` in the screenshot folder.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.call("GET", "/screenshot", None);
        let path = self.shots.join(format!("{name}.png"));
        if let Some(b64) = v.as_str()
            && let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64)
        {
            let _ = std::fs::write(&path, png);
        }
        path
    }

    pub fn shots_dir(&self) -> &Path {
        &self.shots
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = agent()
            .delete(&format!("{}/session/{}", self.base, self.session))
            .call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
