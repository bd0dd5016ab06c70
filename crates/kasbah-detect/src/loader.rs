//! Loading Sigma rules from files and folders: the file I/O the `kasbah-sigma` crate leaves to
//! its callers, shared by `kasbah hunt`, `kasbah rules check` and the server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kasbah_sigma::ast::Document;
use kasbah_sigma::parse::parse_file;
use kasbah_sigma::{Code, Config, Diagnostic, Engine, Mappings, RuleSet};

use crate::cache;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Why rules could not be loaded at all (individual bad rules are diagnostics, not errors).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The placeholders file is not valid.
    #[error("{path}:{line}: {message}")]
    Placeholders {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A mappings file is not valid.
    #[error("invalid mappings:\n  {0}")]
    Mappings(String),
}

/// Options of rule loading beyond the rule folders.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Values of `expand` placeholders: a YAML file mapping each name to a value or a list.
    pub placeholders: Option<PathBuf>,
    /// Extra log-source mappings (YAML), added to the built-in ones.
    pub mappings: Vec<PathBuf>,
    /// A directory for the cache of parsed rule files (an entry is used while the file's size
    /// and modification time are unchanged, by the build that wrote it); `None` reads and parses
    /// every file each time.
    pub cache: Option<PathBuf>,
}

/// Rules loaded and compiled, with timings.
pub struct Loaded {
    /// The compiled engine (its diagnostics include the parse ones).
    pub engine: Engine,
    /// Rule files read.
    pub files: usize,
    /// Of those, files taken from the cache of parsed rules.
    pub from_cache: usize,
    /// Why the cache could not be written, if it could not.
    pub cache_error: Option<String>,
    /// Time spent reading, parsing and compiling.
    pub elapsed: Duration,
}

impl Loaded {
    /// Detection and correlation rules loaded.
    pub fn loaded(&self) -> usize {
        let s = self.engine.stats();
        s.rules + s.correlations
    }

    /// Diagnostics of documents that were skipped.
    pub fn skipped(&self) -> impl Iterator<Item = &Diagnostic> {
        self.engine.diagnostics().iter().filter(|d| d.is_error())
    }

    /// Diagnostics of documents that loaded with a caveat.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.engine.diagnostics().iter().filter(|d| !d.is_error())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Expands `paths`: files are kept as given, directories are walked recursively (sorted, hidden
/// entries skipped) so the order is reproducible.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(io(p))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    // Cached: `file_name` allocates, and a plain sort would call it at every comparison.
    entries.sort_by_cached_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out)?,
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    Ok(())
}

/// The `.yml` / `.yaml` files under `paths` (files given directly are kept whatever their name).
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(io(p))?;
        if meta.is_dir() {
            out.extend(expand(std::slice::from_ref(p))?.into_iter().filter(|f| {
                f.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml")
                })
            }));
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn placeholders(path: &Path) -> Result<FxHashMap<String, Vec<String>>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bad = |line: u32, message: String| LoadError::Placeholders {
        path: path.to_path_buf(),
        line,
        message,
    };
    let docs = kasbah_sigma::yaml::parse(&text)
        .map_err(|p| bad(p.line, format!("{}: {}", p.code, p.message)))?;
    let mut out = FxHashMap::default();
    for doc in &docs {
        let Some(entries) = doc.as_map() else {
            return Err(bad(
                doc.line,
                "placeholders must map names to values".into(),
            ));
        };
        for (k, v) in entries {
            let name = k.as_str().unwrap_or_default().trim_matches('%').to_owned();
            let values: Vec<String> = match (v.as_str(), v.as_seq()) {
                (Some(s), _) => vec![s.to_owned()],
                (None, Some(items)) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => {
                    return Err(bad(
                        v.line,
                        format!("placeholder '{name}' must be a value or a list of values"),
                    ));
                }
            };
            out.insert(name, values);
        }
    }
    Ok(out)
}

/// Builds the engine configuration from the options.
pub fn config(opts: &LoadOptions) -> Result<Config, LoadError> {
    let mut cfg = Config::default();
    if let Some(p) = &opts.placeholders {
        cfg.compile.placeholders = placeholders(p)?;
    }
    for m in &opts.mappings {
        let text = std::fs::read_to_string(m).map_err(io(m))?;
        let path: Arc<str> = Arc::from(m.display().to_string());
        match Mappings::parse(&path, &text) {
            Ok(extra) => cfg.mappings.extend(extra),
            Err(diags) => {
                let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
                return Err(LoadError::Mappings(lines.join("\n  ")));
            }
        }
    }
    Ok(cfg)
}

/// Rules read and parsed, not yet compiled: what the server keeps to compile a tenant's own
/// engine (these rules plus the tenant's imports) without reading the files again.
pub struct Parsed {
    /// The parsed documents, with the diagnostics of files that could not be read.
    pub set: RuleSet,
    /// The engine configuration (mappings, placeholders).
    pub config: Config,
    /// Rule files read.
    pub files: usize,
    /// Of those, files taken from the cache of parsed rules.
    pub from_cache: usize,
    /// Why the cache could not be written, if it could not.
    pub cache_error: Option<String>,
}

/// One rule file, parsed or taken from the cache.
struct FileParse {
    name: String,
    /// Its cache entry, when caching (and the file could be read).
    entry: Option<cache::Entry>,
    /// Taken from the cache, unchanged since it was parsed.
    from_cache: bool,
    /// Its documents and diagnostics, or why it could not be read.
    parsed: Result<(Vec<Document>, Vec<Diagnostic>), String>,
}

/// Reads and parses one rule file, or takes it from `cached` when its size and modification time
/// are those it had when it was parsed.
fn parse_one(f: &Path, caching: bool, cached: &FxHashMap<String, cache::Entry>) -> FileParse {
    let name = f.display().to_string();
    // Stamped before reading: a file changed meanwhile gets an older stamp, so it is parsed
    // again next time rather than taken from a stale entry.
    let stamp = if caching {
        std::fs::metadata(f)
            .ok()
            .as_ref()
            .and_then(cache::Stamp::of)
    } else {
        None
    };
    if let Some(stamp) = stamp
        && let Some(hit) = cached.get(&name).filter(|e| e.stamp == stamp)
        && let Some(parsed) = hit.decode()
    {
        return FileParse {
            name,
            entry: Some(hit.clone()),
            from_cache: true,
            parsed: Ok(parsed),
        };
    }
    let (entry, parsed) = match std::fs::read(f) {
        Ok(b) => {
            // Valid UTF-8 (every rule file one hopes for) is taken as is, without the copy and
            // the slower scan of a lossy conversion.
            let text = String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            let path: Arc<str> = Arc::from(name.as_str());
            let (docs, diags) = parse_file(&path, &text);
            let entry = stamp.and_then(|s| cache::Entry::encode(s, &docs, &diags));
            (entry, Ok((docs, diags)))
        }
        Err(e) => (None, Err(e.to_string())),
    };
    FileParse {
        name,
        entry,
        from_cache: false,
        parsed,
    }
}

/// Reads and parses every rule under `paths` (in parallel), plus rules given as `(name, text)`
/// pairs (embedded rule packs).
pub fn parse_with(
    paths: &[PathBuf],
    texts: &[(String, String)],
    opts: &LoadOptions,
) -> Result<Parsed, LoadError> {
    let cfg = config(opts)?;
    let files = rule_files(paths)?;
    let cache_file = opts.cache.as_deref().map(|d| cache::file_for(d, paths));
    let cached = cache_file
        .as_deref()
        .and_then(cache::read)
        .unwrap_or_default();
    let results: Vec<FileParse> = files
        .par_iter()
        .map(|f| parse_one(f, cache_file.is_some(), &cached))
        .collect();
    // The cache is rewritten when a file was parsed anew or is gone.
    let entries = || {
        results
            .iter()
            .filter_map(|r| r.entry.as_ref().map(|e| (r.name.as_str(), e)))
    };
    let stale = results.iter().any(|r| r.entry.is_some() && !r.from_cache)
        || cached.len() != entries().count();
    let mut cache_error = None;
    if let Some(file) = cache_file.as_deref().filter(|_| stale)
        && let Err(e) = cache::write(file, entries())
    {
        // Only the next load is slower; the caller reports it.
        cache_error = Some(format!("cannot write {}: {e}", file.display()));
    }
    let from_cache = results.iter().filter(|r| r.from_cache).count();
    let mut set = RuleSet::new();
    for r in results {
        match r.parsed {
            Ok((docs, diags)) => set.add_parsed(docs, diags),
            Err(error) => {
                let p: Arc<str> = Arc::from(r.name.as_str());
                set.push_diagnostic(Diagnostic::new(
                    &p,
                    0,
                    Code::Structure,
                    format!("cannot read: {error}"),
                ));
            }
        }
    }
    set.add_all(texts);
    Ok(Parsed {
        set,
        config: cfg,
        files: files.len() + texts.len(),
        from_cache,
        cache_error,
    })
}

/// Reads, parses and compiles every rule under `paths` (in parallel), plus rules given as
/// `(name, text)` pairs (embedded rule packs).
pub fn load_with(
    paths: &[PathBuf],
    texts: &[(String, String)],
    opts: &LoadOptions,
) -> Result<Loaded, LoadError> {
    let start = Instant::now();
    let mut parsed = parse_with(paths, texts, opts)?;
    let engine = Engine::build(&parsed.set, &parsed.config);
    let (files, from_cache) = (parsed.files, parsed.from_cache);
    let cache_error = parsed.cache_error.take();
    // The parsed documents are no longer needed: freeing their many small allocations (about a
    // sixth of the compilation's work for SigmaHQ) is left to a pool thread, off the caller's way.
    rayon::spawn(move || drop(parsed));
    Ok(Loaded {
        engine,
        files,
        from_cache,
        cache_error,
        elapsed: start.elapsed(),
    })
}

/// Reads, parses and compiles every rule under `paths` (in parallel).
pub fn load(paths: &[PathBuf], opts: &LoadOptions) -> Result<Loaded, LoadError> {
    load_with(paths, &[], opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_gives_the_same_rules_and_follows_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("mkdir");
        let rule = |id: &str, image: &str| {
            format!(
                "title: R {id}\nid: {id}\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n  sel:\n    Image|endswith: '\\{image}'\n  condition: sel\nlevel: high\n"
            )
        };
        std::fs::write(rules.join("a.yml"), rule("a-1", "a.exe")).expect("write");
        std::fs::write(rules.join("b.yml"), rule("b-1", "b.exe")).expect("write");
        std::fs::write(rules.join("bad.yml"), "title: [unclosed\n").expect("write");
        let opts = LoadOptions {
            cache: Some(dir.path().join("cache")),
            ..LoadOptions::default()
        };
        let roots = [rules.clone()];
        let uncached = parse_with(&roots, &[], &LoadOptions::default()).expect("parse");

        let first = parse_with(&roots, &[], &opts).expect("parse");
        assert_eq!((first.files, first.from_cache), (3, 0));
        assert_eq!(first.cache_error, None);
        let second = parse_with(&roots, &[], &opts).expect("parse");
        assert_eq!(second.from_cache, 3, "every file unchanged");
        for p in [&first, &second] {
            assert_eq!(p.set.documents(), uncached.set.documents());
            assert_eq!(p.set.diagnostics(), uncached.set.diagnostics());
        }

        // A changed file (another size) is parsed again; a removed one is gone from the result.
        std::fs::write(rules.join("a.yml"), rule("a-2", "changed.exe")).expect("write");
        std::fs::remove_file(rules.join("b.yml")).expect("rm");
        let third = parse_with(&roots, &[], &opts).expect("parse");
        assert_eq!((third.files, third.from_cache), (2, 1));
        let ids: Vec<_> = third
            .set
            .documents()
            .iter()
            .filter_map(|d| match d {
                kasbah_sigma::ast::Document::Rule(r) => r.meta.id.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(ids, ["a-2"]);
        assert_eq!(third.set.diagnostics().len(), 1, "bad.yml, from the cache");

        // A damaged cache file is only a slower load.
        let cache_files: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .expect("cache dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        assert_eq!(cache_files.len(), 1, "{cache_files:?}");
        std::fs::write(&cache_files[0], b"KSRULES1 garbage").expect("write");
        let fourth = parse_with(&roots, &[], &opts).expect("parse");
        assert_eq!(fourth.from_cache, 0);
        assert_eq!(fourth.set.documents(), third.set.documents());
        assert_eq!(parse_with(&roots, &[], &opts).expect("parse").from_cache, 2);
    }

    #[test]
    fn loads_folders_and_reports_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("windows");
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(
            sub.join("a.yml"),
            "title: A\nid: a-1\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\a.exe'\n  condition: sel\n",
        )
        .expect("write");
        std::fs::write(sub.join("broken.yml"), "title: [unclosed\n").expect("write");
        // A stray byte that is not UTF-8 (a Latin-1 author name) does not keep a rule out.
        let latin1 = b"title: C\nid: c-1\nauthor: Ren\xe9\nlogsource: {product: linux}\ndetection:\n  k: [bad]\n  condition: k\n";
        std::fs::write(sub.join("c.yml"), latin1).expect("write");
        std::fs::write(sub.join("notes.txt"), "not a rule").expect("write");
        std::fs::write(dir.path().join(".hidden.yml"), "title: H\n").expect("write");
        let extra = vec![(
            "embedded/b.yml".to_string(),
            "title: B\nid: b-1\nlogsource: {product: linux}\ndetection:\n  k: [evil]\n  condition: k\n"
                .to_string(),
        )];
        let loaded =
            load_with(&[dir.path().to_path_buf()], &extra, &LoadOptions::default()).expect("load");
        assert_eq!(loaded.files, 4, "three .yml files and one embedded text");
        assert_eq!(loaded.loaded(), 3);
        let skipped: Vec<_> = loaded.skipped().collect();
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0].to_string().contains("broken.yml"),
            "{}",
            skipped[0]
        );
    }

    #[test]
    fn missing_paths_and_bad_placeholders_are_errors() {
        let err = load(
            &[PathBuf::from("/nonexistent/rules")],
            &LoadOptions::default(),
        );
        assert!(matches!(err, Err(LoadError::Io { .. })));
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ph.yml");
        std::fs::write(&p, "- just\n- a list\n").expect("write");
        let opts = LoadOptions {
            placeholders: Some(p),
            ..LoadOptions::default()
        };
        assert!(matches!(config(&opts), Err(LoadError::Placeholders { .. })));
    }
}
