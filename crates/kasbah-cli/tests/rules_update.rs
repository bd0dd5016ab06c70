//! End-to-end tests of `kasbah rules update`: the real binary downloads zip archives (built here
//! from a few SigmaHQ rules in ../shared plus a hand-made rule) from a tiny HTTP server on
//! 127.0.0.1, installs them, reports the diff, and refuses corrupt, mismatched and unsafe
//! archives without touching the installed set.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use zip::write::SimpleFileOptions;

fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("KASBAH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if p.join("sigma/rules").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: shared data not found at {} (set KASBAH_SHARED)",
            p.display()
        );
        None
    }
}

const OWN_ID: &str = "0b6f2a4e-6c1d-4a6e-9d8a-4b1c2f3e5a77";

fn own_rule(description: &str) -> String {
    format!(
        "title: Kasbah test rule\nid: {OWN_ID}\nstatus: test\ndescription: {description}\n\
         logsource:\n  product: windows\n  category: process_creation\n\
         detection:\n  selection:\n    Image|endswith: '\\kasbah-test.exe'\n  condition: selection\n\
         level: low\n"
    )
}

/// The first five process-creation rules of the shared SigmaHQ tree: (archive name, text, id).
fn sigma_rules(shared: &Path) -> Vec<(String, String, String)> {
    let dir = shared.join("sigma/rules/windows/process_creation");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read shared rules")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .take(5)
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read rule");
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .expect("rule has an id")
                .trim()
                .to_owned();
            let name = format!(
                "rules/windows/process_creation/{}",
                p.file_name().expect("name").to_string_lossy()
            );
            (name, text, id)
        })
        .collect()
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(name.as_str(), SimpleFileOptions::default())
            .expect("start zip entry");
        w.write_all(data).expect("write zip entry");
    }
    w.finish().expect("finish zip").into_inner()
}

/// Serves whatever is in `files` (path -> body) over HTTP/1.1 on 127.0.0.1; 404 otherwise.
struct Server {
    port: u16,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let served = Arc::clone(&files);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let body = served.lock().expect("lock").get(&path).cloned();
                let _ = match body {
                    Some(b) => conn
                        .write_all(
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                b.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|()| conn.write_all(&b)),
                    None => conn.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
            }
        });
        Server { port, files }
    }

    fn put(&self, path: &str, body: Vec<u8>) -> String {
        self.files
            .lock()
            .expect("lock")
            .insert(path.to_owned(), body);
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn data_dir(test: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("rules-update")
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create data dir");
    d
}

fn update(url: &str, data: &Path, extra: &[&str]) -> Output {
    let floor: &[&str] = if extra.contains(&"--min-rules") {
        &[]
    } else {
        &["--min-rules", "3"]
    };
    Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args(["rules", "update", "--url", url, "--data-dir"])
        .arg(data)
        .args(["--format", "json"])
        .args(floor)
        .args(extra)
        .env_remove("KASBAH_DATA_DIR")
        .output()
        .expect("run kasbah")
}

fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "kasbah failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    out.sort();
    out
}

/// Every file under `dir` with its content, to check a set was left exactly as it was.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn leftovers(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("rules"))
        .expect("rules dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("staging-"))
        .collect()
}

/// The first package: five SigmaHQ rules and the hand-made one.
fn package_v1(rules: &[(String, String, String)]) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = rules
        .iter()
        .map(|(n, t, _)| (n.clone(), t.clone().into_bytes()))
        .collect();
    v.push((
        "rules/kasbah/own.yml".into(),
        own_rule("first version").into_bytes(),
    ));
    v
}

/// Installs the first package into `data` and returns its report.
fn install_v1(server: &Server, data: &Path, rules: &[(String, String, String)]) {
    let url = server.put("/v1.zip", zip_of(&package_v1(rules)));
    let r = report(&update(&url, data, &[]));
    assert_eq!(r["added"].as_array().map(Vec::len), Some(6), "{r}");
}

#[test]
fn installs_then_reports_changes_and_keeps_previous() {
    let Some(shared) = shared() else { return };
    let rules = sigma_rules(&shared);
    let server = Server::start();
    let data = data_dir("diff");

    let url = server.put("/sigma_all_rules.zip", zip_of(&package_v1(&rules)));
    let r = report(&update(&url, &data, &[]));
    let mut want: Vec<String> = rules.iter().map(|(_, _, id)| id.clone()).collect();
    want.push(OWN_ID.to_owned());
    want.sort();
    assert_eq!(ids(&r["added"]), want);
    assert_eq!(ids(&r["removed"]), Vec::<String>::new());
    assert_eq!(r["loaded"], 6);
    assert_eq!(r["skipped"], 0);
    let current = data.join("rules/current");
    assert!(current.join("rules/kasbah/own.yml").is_file());
    assert!(leftovers(&data).is_empty());

    // Second release: the hand-made rule changed, the first SigmaHQ rule removed.
    let mut v2 = package_v1(&rules);
    v2.remove(0);
    if let Some(own) = v2.last_mut() {
        own.1 = own_rule("second version").into_bytes();
    }
    let url = server.put("/sigma_all_rules.zip", zip_of(&v2));
    let out = update(&url, &data, &[]);
    let r = report(&out);
    assert_eq!(ids(&r["added"]), Vec::<String>::new());
    assert_eq!(ids(&r["changed"]), vec![OWN_ID.to_owned()]);
    assert_eq!(ids(&r["removed"]), vec![rules[0].2.clone()]);
    assert_eq!(r["unchanged"], 4);
    assert_eq!(r["loaded"], 5);
    let own = std::fs::read_to_string(current.join("rules/kasbah/own.yml")).expect("own rule");
    assert!(own.contains("second version"));
    assert!(!current.join(&rules[0].0).exists());
    let prev = std::fs::read_to_string(data.join("rules/previous/rules/kasbah/own.yml"))
        .expect("previous set kept");
    assert!(prev.contains("first version"));

    // The text report lists the same diff.
    let out = Command::new(env!("CARGO_BIN_EXE_kasbah"))
        .args(["rules", "update", "--url", &url, "--min-rules", "3"])
        .env("KASBAH_DATA_DIR", &data)
        .output()
        .expect("run kasbah");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("5 rules loaded, 0 skipped"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("unchanged") && l.ends_with(" 5")),
        "{text}"
    );
}

#[test]
fn a_second_update_fails_at_once_and_changes_nothing_while_one_runs() {
    let Some(shared) = shared() else { return };
    let rules = sigma_rules(&shared);
    let server = Server::start();
    let data = data_dir("lock");
    install_v1(&server, &data, &rules);
    let before = snapshot(&data.join("rules/current"));
    // A crashed update's staging folder is cleaned by the next one.
    std::fs::create_dir_all(data.join("rules/staging-1-1/rules")).expect("stale staging");

    let mut v2 = package_v1(&rules);
    v2.pop();
    let url = server.put("/v2.zip", zip_of(&v2));
    // This process plays the running update: it holds the lock.
    let held = std::fs::File::create(data.join("rules/.lock")).expect("lock file");
    held.lock().expect("lock");
    let out = update(&url, &data, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another `kasbah rules update` is running"),
        "{err}"
    );
    assert_eq!(snapshot(&data.join("rules/current")), before);
    assert_eq!(leftovers(&data), vec!["staging-1-1".to_owned()]);

    // Released: the update runs, and the stale folder is gone.
    drop(held);
    let r = report(&update(&url, &data, &[]));
    assert_eq!(ids(&r["removed"]), vec![OWN_ID.to_owned()], "{r}");
    assert!(leftovers(&data).is_empty());
}

#[test]
fn corrupt_archive_fails_and_leaves_current() {
    let Some(shared) = shared() else { return };
    let rules = sigma_rules(&shared);
    let server = Server::start();
    let data = data_dir("corrupt");
    install_v1(&server, &data, &rules);
    let before = snapshot(&data.join("rules/current"));

    let mut bad = zip_of(&package_v1(&rules));
    bad.truncate(bad.len() / 2);
    let url = server.put("/bad.zip", bad);
    let out = update(&url, &data, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zip"));
    assert_eq!(snapshot(&data.join("rules/current")), before);
    assert!(leftovers(&data).is_empty());

    let url = server.put("/garbage.zip", b"this is not an archive".to_vec());
    assert_eq!(update(&url, &data, &[]).status.code(), Some(1));
    assert_eq!(snapshot(&data.join("rules/current")), before);

    // A 404 is an error too.
    let missing = format!("http://127.0.0.1:{}/missing.zip", server.port);
    assert_eq!(update(&missing, &data, &[]).status.code(), Some(1));
    assert_eq!(snapshot(&data.join("rules/current")), before);
}

#[test]
fn sha256_is_checked() {
    let Some(shared) = shared() else { return };
    let rules = sigma_rules(&shared);
    let server = Server::start();
    let data = data_dir("sha256");
    install_v1(&server, &data, &rules);
    let before = snapshot(&data.join("rules/current"));

    let mut v2 = package_v1(&rules);
    v2.pop();
    let url = server.put("/v2.zip", zip_of(&v2));
    let wrong = "0".repeat(64);
    let out = update(&url, &data, &["--sha256", &wrong]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sha256 mismatch"));
    assert_eq!(snapshot(&data.join("rules/current")), before);

    // The right digest (as the first run reported it) is accepted.
    let digest = report(&update(&url, &data, &[]))["sha256"]
        .as_str()
        .expect("sha256")
        .to_owned();
    let r = report(&update(&url, &data, &["--sha256", &digest.to_uppercase()]));
    assert_eq!(r["unchanged"], 5);
}

#[test]
fn unsafe_or_too_small_archives_are_refused() {
    let Some(shared) = shared() else { return };
    let rules = sigma_rules(&shared);
    let server = Server::start();
    let data = data_dir("unsafe");
    install_v1(&server, &data, &rules);
    let before = snapshot(&data.join("rules/current"));

    let mut evil = package_v1(&rules);
    evil.push(("../evil".into(), own_rule("evil").into_bytes()));
    let url = server.put("/evil.zip", zip_of(&evil));
    let out = update(&url, &data, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsafe entry name"), "{err}");
    assert!(!data.join("rules/evil").exists() && !data.join("evil").exists());
    assert_eq!(snapshot(&data.join("rules/current")), before);
    assert!(leftovers(&data).is_empty());

    // A size bomb: more unpacked bytes than allowed.
    let big = vec![(
        "rules/big.yml".to_owned(),
        vec![b'#'; 3 << 20], // 3 MiB of comments, compresses to a few KiB
    )];
    let url = server.put("/big.zip", zip_of(&big));
    let out = update(&url, &data, &["--max-unpacked", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceeds the limit"));
    assert_eq!(snapshot(&data.join("rules/current")), before);

    // Fewer rules than the floor.
    let url = server.put("/v1.zip", zip_of(&package_v1(&rules)));
    let out = update(&url, &data, &["--min-rules", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fewer than --min-rules 100"));
    assert_eq!(snapshot(&data.join("rules/current")), before);
    assert!(leftovers(&data).is_empty());
}
