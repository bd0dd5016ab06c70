//! `kasbah rules update`: download a Sigma rule package (a `.zip`, such as SigmaHQ's release
//! asset), unpack it safely into a staging folder of the data directory, verify it (digest, rule
//! floor), compare it with the installed set by rule id, report, and only then switch it in.
//!
//! Layout under `DATA/rules/`: `current/` (the active set), `previous/` (the set it replaced,
//! kept for rollback), `staging-<time>-<pid>/` (a download being checked; removed when the
//! verification fails, or by the next update if this one crashed), `.lock` (held by the running
//! update; a second one fails at once). A failed download or verification never touches
//! `current/`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{RuleOpts, load, rule_files};

/// SigmaHQ's latest release asset with every rule folder (`rules`, `rules-emerging-threats`,
/// `rules-threat-hunting`, `rules-compliance`, ...). GitHub redirects it to the newest release.
pub const DEFAULT_URL: &str =
    "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip";

/// Output of `rules update`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum UpdateFormat {
    /// A summary and one line per added, removed or changed rule.
    Text,
    /// One JSON object (see docs/sigma.md).
    Json,
}

/// Arguments of `kasbah rules update`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 updated (or already up to date), 1 download or verification failed (the installed set is unchanged)."
)]
pub struct UpdateArgs {
    /// Where to download the rule package (a .zip archive over http or https).
    #[arg(long, default_value = DEFAULT_URL)]
    url: String,
    /// Data directory; rules go to DATA/rules/current.
    #[arg(
        long,
        env = "KASBAH_DATA_DIR",
        default_value = "kasbah-data",
        value_name = "DIR"
    )]
    data_dir: PathBuf,
    /// Expected SHA-256 of the archive (hex); the update fails if it differs.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Fewest rules that must load for the package to be accepted.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    min_rules: usize,
    /// Download timeout in seconds (whole transfer).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    timeout: u64,
    /// Largest archive accepted, in MiB.
    #[arg(long, default_value_t = 200, value_name = "MIB")]
    max_download: u64,
    /// Largest total unpacked size accepted, in MiB.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    max_unpacked: u64,
    /// Most archive entries accepted.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_files: usize,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = UpdateFormat::Text)]
    format: UpdateFormat,
    #[command(flatten)]
    rules: RuleOpts,
}

/// Limits applied while unpacking an archive.
#[derive(Copy, Clone, Debug)]
pub struct UnpackLimits {
    /// Most bytes written in total.
    pub max_bytes: u64,
    /// Most entries (files and folders).
    pub max_entries: usize,
}

/// Takes `DATA/rules/.lock` for the whole update: two updates at once would race on the
/// switch. The lock is released when the returned file is dropped (or the process dies, so a
/// crash never leaves it held).
fn lock(rules_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = rules_dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `kasbah rules update` is running on {} (it holds {}); the installed set is unchanged",
            rules_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Removes staging folders left by updates that crashed (only called with the lock held, so
/// none of them is in use).
fn remove_stale_staging(rules_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(rules_dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with("staging-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs `kasbah rules update`.
pub fn run(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let rules_dir = args.data_dir.join("rules");
    std::fs::create_dir_all(&rules_dir)
        .with_context(|| format!("cannot create {}", rules_dir.display()))?;
    let _lock = lock(&rules_dir)?;
    remove_stale_staging(&rules_dir);
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let staging = rules_dir.join(format!("staging-{stamp}-{}", std::process::id()));

    let bytes = download(
        &args.url,
        Duration::from_secs(args.timeout),
        args.max_download.saturating_mul(1 << 20),
    )?;
    let digest = hex(&Sha256::digest(&bytes));
    if let Some(want) = &args.sha256 {
        let want = want.trim().to_ascii_lowercase();
        if want != digest {
            bail!("sha256 mismatch: expected {want}, the archive has {digest}");
        }
    }

    // From here on, a failure removes the staging folder; `current` is never touched.
    let result = stage_and_compare(&args, &bytes, &staging, &digest);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        UpdateFormat::Json => {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        }
        UpdateFormat::Text => write_text(&mut out, &report)?,
    }
    out.flush()?;

    if let Err(e) = switch(&rules_dir, &staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}

/// Unpacks into `staging`, loads the rules, checks the floor and diffs against `current`.
fn stage_and_compare(
    args: &UpdateArgs,
    bytes: &[u8],
    staging: &Path,
    digest: &str,
) -> anyhow::Result<Report> {
    let limits = UnpackLimits {
        max_bytes: args.max_unpacked.saturating_mul(1 << 20),
        max_entries: args.max_files,
    };
    unpack_zip(bytes, staging, limits).context("the archive was refused")?;
    let loaded = load(&[staging.to_path_buf()], &args.rules)?;
    let n = loaded.loaded();
    let skipped = loaded.skipped().count();
    let files = loaded.files;
    drop(loaded);
    if n < args.min_rules {
        bail!(
            "only {n} rules loaded from the archive ({skipped} skipped), fewer than --min-rules {}",
            args.min_rules
        );
    }
    let current_dir = staging
        .parent()
        .map_or_else(|| PathBuf::from("current"), |p| p.join("current"));
    let old = if current_dir.is_dir() {
        index(&current_dir)?
    } else {
        BTreeMap::new()
    };
    let new = index(staging)?;
    let diff = Diff::between(&old, &new);
    Ok(Report {
        url: args.url.clone(),
        sha256: digest.to_owned(),
        archive_bytes: bytes.len(),
        files,
        loaded: n,
        skipped,
        added: diff.added,
        removed: diff.removed,
        changed: diff.changed,
        unchanged: diff.unchanged,
        current: current_dir.display().to_string(),
    })
}

/// Fetches `url` into memory, refusing more than `max` bytes and non-2xx answers.
fn download(url: &str, timeout: Duration, max: u64) -> anyhow::Result<Vec<u8>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .user_agent(concat!("kasbah/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .with_context(|| format!("cannot download {url}"))?;
    resp.body_mut()
        .with_config()
        .limit(max)
        .read_to_vec()
        .with_context(|| format!("cannot read the archive from {url} (limit {max} bytes)"))
}

/// Unpacks a zip archive into `dest` (created), refusing entries that could write outside it
/// (absolute paths, `..`, drive prefixes), symbolic links, and more than `limits` allow (the
/// sizes written are counted, not the sizes the archive declares).
pub fn unpack_zip(bytes: &[u8], dest: &Path, limits: UnpackLimits) -> anyhow::Result<()> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("not a zip archive")?;
    if zip.len() > limits.max_entries {
        bail!(
            "{} entries, more than the limit of {}",
            zip.len(),
            limits.max_entries
        );
    }
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let mut written: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).context("corrupt zip entry")?;
        let name = entry
            .name()
            .context("entry name is not valid text")?
            .into_owned();
        let rel = safe_relative(&name)
            .with_context(|| format!("unsafe entry name {name:?} in the archive"))?;
        if entry.is_symlink() {
            bail!("entry {name:?} is a symbolic link");
        }
        let target = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("cannot create {}", target.display()))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut file = std::fs::File::create_new(&target)
            .with_context(|| format!("cannot create {} (duplicate entry?)", target.display()))?;
        // Read at most one byte past the budget, so a lying header cannot fill the disk.
        let budget = limits.max_bytes.saturating_sub(written);
        let n = std::io::copy(&mut (&mut entry).take(budget.saturating_add(1)), &mut file)
            .with_context(|| format!("cannot unpack {name:?}"))?;
        written = written.saturating_add(n);
        if written > limits.max_bytes {
            bail!(
                "unpacked size exceeds the limit of {} bytes",
                limits.max_bytes
            );
        }
    }
    Ok(())
}

/// The relative path an archive entry name stands for, or `None` if it is absolute, climbs out
/// with `..`, carries a drive or root prefix, or is empty.
pub fn safe_relative(name: &str) -> Option<PathBuf> {
    // Zip names use '/', but some tools write '\'; treat both as separators everywhere.
    let name = name.replace('\\', "/");
    if name.starts_with('/') || name.contains(':') || name.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for c in Path::new(&name).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// A rule of an installed set: where it is and a digest of its file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    path: String,
    hash: String,
}

/// Rule id -> entry for every rule file under `dir` (documents without an id are keyed by their
/// path, so they still show up as added or removed).
fn index(dir: &Path) -> anyhow::Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    for f in rule_files(&[dir.to_path_buf()])? {
        let bytes = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let rel = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        let entry = Entry {
            path: rel.clone(),
            hash: hex(&Sha256::digest(&bytes)),
        };
        let text = String::from_utf8_lossy(&bytes);
        let ids: Vec<String> = kasbah_sigma::yaml::parse(&text)
            .map(|docs| {
                docs.iter()
                    .filter_map(|d| d.get("id").and_then(|v| v.as_str()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            out.insert(format!("path:{rel}"), entry);
        } else {
            for id in ids {
                out.insert(id, entry.clone());
            }
        }
    }
    Ok(out)
}

/// One rule in the report.
#[derive(Serialize, Debug)]
struct RuleRef {
    id: String,
    path: String,
}

struct Diff {
    added: Vec<RuleRef>,
    removed: Vec<RuleRef>,
    changed: Vec<RuleRef>,
    unchanged: usize,
}

impl Diff {
    fn between(old: &BTreeMap<String, Entry>, new: &BTreeMap<String, Entry>) -> Self {
        let mut d = Diff {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            unchanged: 0,
        };
        let r = |id: &String, e: &Entry| RuleRef {
            id: id.clone(),
            path: e.path.clone(),
        };
        for (id, e) in new {
            match old.get(id) {
                None => d.added.push(r(id, e)),
                Some(o) if o.hash != e.hash => d.changed.push(r(id, e)),
                Some(_) => d.unchanged += 1,
            }
        }
        for (id, e) in old {
            if !new.contains_key(id) {
                d.removed.push(r(id, e));
            }
        }
        d
    }
}

#[derive(Serialize, Debug)]
struct Report {
    url: String,
    sha256: String,
    archive_bytes: usize,
    files: usize,
    loaded: usize,
    skipped: usize,
    added: Vec<RuleRef>,
    removed: Vec<RuleRef>,
    changed: Vec<RuleRef>,
    unchanged: usize,
    current: String,
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "downloaded {} ({} bytes)", r.url, r.archive_bytes)?;
    writeln!(out, "sha256     {}", r.sha256)?;
    writeln!(
        out,
        "{} files: {} rules loaded, {} skipped",
        r.files, r.loaded, r.skipped
    )?;
    writeln!(
        out,
        "{:<9} {:>6}\n{:<9} {:>6}\n{:<9} {:>6}\n{:<9} {:>6}",
        "added",
        r.added.len(),
        "removed",
        r.removed.len(),
        "changed",
        r.changed.len(),
        "unchanged",
        r.unchanged
    )?;
    for (mark, list) in [("+", &r.added), ("-", &r.removed), ("~", &r.changed)] {
        for x in list {
            writeln!(out, "{mark} {}  {}", x.id, x.path)?;
        }
    }
    writeln!(
        out,
        "installed in {} (the replaced set is kept as previous/)",
        r.current
    )
}

/// Makes `staging` the current set: `current` becomes `previous` (replacing an older one), then
/// `staging` becomes `current`. Each step is a rename, so `current` is always a whole set; if the
/// second rename fails the first is undone.
fn switch(rules_dir: &Path, staging: &Path) -> anyhow::Result<()> {
    let current = rules_dir.join("current");
    let previous = rules_dir.join("previous");
    let had_current = current.is_dir();
    if had_current {
        if previous.exists() {
            std::fs::remove_dir_all(&previous)
                .with_context(|| format!("cannot remove {}", previous.display()))?;
        }
        std::fs::rename(&current, &previous)
            .with_context(|| format!("cannot move {} aside", current.display()))?;
    }
    if let Err(e) = std::fs::rename(staging, &current) {
        if had_current {
            let _ = std::fs::rename(&previous, &current);
        }
        return Err(e).with_context(|| format!("cannot install {}", current.display()));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_relative_accepts_plain_paths() {
        assert_eq!(
            safe_relative("rules/windows/a.yml"),
            Some(PathBuf::from("rules/windows/a.yml"))
        );
        assert_eq!(
            safe_relative("./rules/a.yml"),
            Some(PathBuf::from("rules/a.yml"))
        );
        assert_eq!(
            safe_relative("rules\\a.yml"),
            Some(PathBuf::from("rules/a.yml"))
        );
    }

    #[test]
    fn safe_relative_refuses_escapes() {
        for bad in [
            "../evil",
            "rules/../../evil",
            "/etc/passwd",
            "\\evil",
            "C:/evil",
            "C:evil",
            "rules\\..\\..\\evil",
            "",
            ".",
            "a\0b",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?} accepted");
        }
    }

    #[test]
    fn diff_classifies_by_id_and_hash() {
        let e = |p: &str, h: &str| Entry {
            path: p.into(),
            hash: h.into(),
        };
        let old = BTreeMap::from([
            ("a".to_owned(), e("a.yml", "1")),
            ("b".to_owned(), e("b.yml", "2")),
            ("c".to_owned(), e("c.yml", "3")),
        ]);
        let new = BTreeMap::from([
            ("a".to_owned(), e("a.yml", "1")),
            ("b".to_owned(), e("b2.yml", "9")),
            ("d".to_owned(), e("d.yml", "4")),
        ]);
        let d = Diff::between(&old, &new);
        let ids = |v: &[RuleRef]| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.added), ["d"]);
        assert_eq!(ids(&d.removed), ["c"]);
        assert_eq!(ids(&d.changed), ["b"]);
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn hex_is_lowercase_two_digits() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
