//! The Kasbah server: everything `kasbah serve` runs.
//!
//! ```text
//! syslog UDP/TCP/TLS ─┐
//! POST /api/v1/ingest ├─► parse (kasbah-parse) ─► Store::append ─► WAL fsync ─► 2xx / ack
//! POST /_bulk, upload ┘                                   └─► index (tantivy) ─► /api/v1/search
//! ```
//!
//! The server composes the domain crates; it owns the network I/O, authentication, limits and
//! metrics. Detection on ingestion and the console build on it.

pub mod anomaly;
pub mod auth;
pub mod builtin;
pub mod config;
pub mod demo;
pub mod detection;
pub mod error;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod relp;
pub mod state;
pub mod syslog;
pub mod templates;
pub mod timespec;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kasbah_meta::{AlertRepo, MetaRepo, SqliteRepo};
use kasbah_store::{Retention, Store, StoreConfig};
use tokio::net::{TcpListener, UdpSocket};

pub use config::Config;
use state::{AppState, Shared};

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The store cannot be opened.
    #[error("event store: {0}")]
    Store(#[from] kasbah_store::StoreError),
    /// The metadata database cannot be opened.
    #[error("{0}")]
    Meta(#[from] kasbah_meta::MetaError),
    /// A listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS material is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
    /// The rules cannot be loaded.
    #[error("rules: {0}")]
    Rules(#[from] kasbah_detect::LoadError),
}

/// Opens the metadata database of a data directory.
pub fn open_meta(data_dir: &Path) -> Result<SqliteRepo, ServeError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        ServeError::Store(kasbah_store::StoreError::Io {
            path: data_dir.into(),
            source: e,
        })
    })?;
    Ok(SqliteRepo::open(&data_dir.join("meta.db"))?)
}

/// The store configuration from the server configuration.
pub fn store_config(cfg: &Config) -> StoreConfig {
    StoreConfig {
        commit_interval: Duration::from_secs(cfg.storage.commit_interval_secs.max(1)),
        max_inflight_bytes: cfg.storage.max_inflight_bytes,
        writer_heap_bytes: cfg.storage.writer_heap_bytes,
        default_retention: Retention {
            max_age: (cfg.storage.retention_days > 0)
                .then(|| Duration::from_secs(u64::from(cfg.storage.retention_days) * 86_400)),
            max_bytes: cfg.storage.retention_bytes,
        },
        ..StoreConfig::default()
    }
}

/// Reads and parses the rules the configuration names (built-in ones first), logging what was
/// skipped; compiled by [`detection::Detection::start`]. Unchanged rule files are taken from the
/// parsed-rule cache in `cache` (the data directory's `cache/`), when given.
pub fn load_rules(
    cfg: &config::DetectionConfig,
    cache: Option<PathBuf>,
) -> Result<kasbah_detect::loader::Parsed, kasbah_detect::LoadError> {
    let builtin: Vec<(String, String)> = if cfg.builtin_rules {
        builtin::RULES
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let opts = kasbah_detect::LoadOptions {
        placeholders: cfg.placeholders.clone(),
        mappings: cfg.mappings.clone(),
        cache,
    };
    let started = std::time::Instant::now();
    let parsed = kasbah_detect::loader::parse_with(&cfg.rules, &builtin, &opts)?;
    if let Some(e) = &parsed.cache_error {
        tracing::warn!(error = %e, "parsed-rule cache not written");
    }
    tracing::info!(
        documents = parsed.set.documents().len(),
        files = parsed.files,
        from_cache = parsed.from_cache,
        ms = started.elapsed().as_millis() as u64,
        "detection rules read"
    );
    Ok(parsed)
}

/// A started server: its state and bound addresses.
pub struct Server {
    /// Shared state.
    pub state: Shared,
    /// The HTTP address actually bound.
    pub http_addr: std::net::SocketAddr,
    /// The self-signed certificate served, when `[http] tls_self_signed` asked for one.
    pub self_signed: Option<tls::SelfSigned>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    http: tokio::task::JoinHandle<Result<(), std::io::Error>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Declares start-up over: `/readyz` answers 200 from now on.
    pub fn started(&self) {
        self.state
            .started
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Opens the data directory, binds every listener and starts serving. `/readyz` answers 503
/// until the caller declares start-up over with [`Server::started`].
pub async fn start(mut config: Config) -> Result<Server, ServeError> {
    config.validate()?;
    let self_signed = if config.http.tls_self_signed && config.http.tls_cert.is_none() {
        let made =
            tls::self_signed(&config.data_dir, &config.http.tls_names).map_err(ServeError::Tls)?;
        config.http.tls_cert = Some(made.cert.clone());
        config.http.tls_key = Some(made.key.clone());
        Some(made)
    } else {
        None
    };
    let repo = Arc::new(open_meta(&config.data_dir)?);
    let meta: Arc<dyn MetaRepo> = repo.clone();
    let alerts: Arc<dyn AlertRepo> = repo.clone();
    let users: Arc<dyn kasbah_meta::UserRepo> = repo.clone();
    let rule_imports: Arc<dyn kasbah_meta::RuleImportRepo> = repo;
    let store_cfg = store_config(&config);
    let dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, store_cfg))
        .await
        .map_err(|e| ServeError::Tls(e.to_string()))??;
    let store = Arc::new(store);
    for t in meta.tenants()? {
        if t.retention_days.is_some() || t.retention_bytes.is_some() {
            store.set_retention(
                t.id,
                Retention {
                    max_age: t
                        .retention_days
                        .map(|d| Duration::from_secs(u64::from(d) * 86_400)),
                    max_bytes: t.retention_bytes,
                },
            )?;
        }
    }
    let syslog_tenant = meta.ensure_tenant(&config.syslog.tenant)?.id;
    let templates = templates::Templates::new(&config.data_dir);
    let detection = if config.detection.enabled {
        let cfg = config.detection.clone();
        let cache = Some(config.data_dir.join("cache"));
        let parsed = tokio::task::spawn_blocking(move || load_rules(&cfg, cache))
            .await
            .map_err(|e| ServeError::Http(std::io::Error::other(e)))??;
        let seed = (kasbah_event::Timestamp::now().as_nanos() as u64).rotate_left(17)
            ^ u64::from(std::process::id());
        let imports = rule_imports.all_rule_imports()?;
        let (a, s, c) = (alerts.clone(), store.clone(), config.detection.clone());
        let d = tokio::task::spawn_blocking(move || {
            detection::Detection::start(parsed, &imports, seed, a, s, c)
        })
        .await
        .map_err(|e| ServeError::Http(std::io::Error::other(e)))?;
        let base = d.base().engine();
        let skipped = base.diagnostics().iter().filter(|x| x.is_error()).count();
        tracing::info!(
            rules = base.stats().rules + base.stats().correlations,
            skipped,
            "detection rules loaded"
        );
        for x in base.diagnostics().iter().filter(|x| x.is_error()).take(20) {
            tracing::warn!(rule = %x, "rule skipped");
        }
        for t in meta.tenants()? {
            d.reload(t.id)?;
        }
        Some(Arc::new(d))
    } else {
        None
    };
    let anomalies = (config.anomaly.enabled && detection.is_some()).then(|| {
        Arc::new(anomaly::Anomalies::new(
            &config.data_dir,
            config.anomaly.model_config(),
        ))
    });
    let state: Shared = Arc::new(AppState {
        config: config.clone(),
        store,
        meta,
        metrics: Arc::default(),
        templates,
        default_tz: config
            .parse
            .default_tz
            .as_deref()
            .and_then(config::parse_tz),
        alerts,
        users,
        rule_imports,
        logins: auth::LoginLimiter::default(),
        detection,
        anomalies,
        started: std::sync::atomic::AtomicBool::new(false),
    });

    let mut tasks = vec![tokio::spawn(save_learned(state.clone()))];
    if let Some(addr) = config.syslog.udp {
        let sock = UdpSocket::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        tracing::info!(addr = %sock.local_addr().unwrap_or(addr), "syslog UDP listening");
        tasks.push(tokio::spawn(syslog::run_udp(
            state.clone(),
            syslog_tenant,
            sock,
        )));
    }
    // Stream listeners: syslog and RELP, each plain or over TLS (one acceptor for both).
    use syslog::Protocol::{Relp, Syslog};
    let stream_listeners = [
        (config.syslog.tcp, Syslog, false, "syslog TCP"),
        (config.syslog.relp, Relp, false, "syslog RELP"),
        (config.syslog.tls, Syslog, true, "syslog TLS"),
        (config.syslog.relp_tls, Relp, true, "syslog RELP over TLS"),
    ];
    let any_tls = config.syslog.tls.is_some() || config.syslog.relp_tls.is_some();
    let acceptor: Option<tokio_rustls::TlsAcceptor> =
        match (&config.syslog.tls_cert, &config.syslog.tls_key) {
            (Some(cert), Some(key)) if any_tls => {
                let client_ca = config.syslog.tls_client_ca.as_deref();
                let cfg = tls::server_config_for_clients(cert, key, client_ca)
                    .map_err(ServeError::Tls)?;
                Some(cfg.into())
            }
            _ => None,
        };
    for (addr, protocol, over_tls, what) in stream_listeners {
        let Some(addr) = addr else { continue };
        let tls = match (over_tls, &acceptor) {
            (false, _) => None,
            (true, Some(a)) => Some(a.clone()),
            // `Config::validate` refused a TLS listener without a certificate.
            (true, None) => continue,
        };
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        tracing::info!(addr = %l.local_addr().unwrap_or(addr), "{what} listening");
        tasks.push(tokio::spawn(syslog::run_stream(
            state.clone(),
            syslog_tenant,
            l,
            tls,
            protocol,
        )));
    }

    let addr = config.http.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let http_addr = listener.local_addr().unwrap_or(addr);
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    let app = http::router(state.clone());
    let http_tls = match (&config.http.tls_cert, &config.http.tls_key) {
        (Some(c), Some(k)) => Some(tls::server_config(c, k).map_err(ServeError::Tls)?),
        _ => None,
    };
    let http = match http_tls {
        None => {
            tracing::info!(addr = %http_addr, "HTTP API listening");
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<auth::ClientAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await
            })
        }
        Some(tls) => {
            tracing::info!(addr = %http_addr, "HTTPS API listening");
            tokio::spawn(http_tls_serve(listener, tls, app, rx))
        }
    };
    Ok(Server {
        state,
        http_addr,
        self_signed,
        tasks,
        http,
        shutdown,
    })
}

/// On a server without users, creates the administrator `admin`, a global administrator with
/// the admin role in every tenant and a generated one-time password, which is returned to be shown once. Never a default
/// password: the operator sees it at the first start, or makes users with `kasbah user add`.
pub fn first_admin(state: &AppState) -> Result<Option<String>, kasbah_meta::MetaError> {
    if state.users.count_users()? > 0 {
        return Ok(None);
    }
    let (password, hash) = kasbah_meta::one_time_password()?;
    let user = state.users.create_user("admin", &hash, true)?;
    state.users.set_global_admin(user.id, true)?;
    for t in state.meta.tenants()? {
        state
            .users
            .set_role(user.id, t.id, Some(kasbah_meta::Role::Admin))?;
        state.alerts.audit(
            t.id,
            "system",
            "user.role",
            "user:admin",
            r#"{"role":"admin","created":true,"first_run":true}"#,
        )?;
    }
    Ok(Some(password))
}

/// How often learned state (template miners, anomaly models) is saved besides shutdown.
const SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// Saves what the server learned (template miners, anomaly models) every minute, so a crash
/// loses at most a minute of learning and template ids stay stable across it.
async fn save_learned(state: Shared) {
    let mut every = tokio::time::interval(SAVE_INTERVAL);
    every.tick().await;
    loop {
        every.tick().await;
        let st = state.clone();
        let _ = tokio::task::spawn_blocking(move || save_learned_now(&st)).await;
    }
}

fn save_learned_now(state: &AppState) {
    if let Err(e) = state.templates.save() {
        tracing::warn!(error = %e, "could not save the template miners");
    }
    if let Some(a) = &state.anomalies
        && let Err(e) = a.save()
    {
        tracing::warn!(error = %e, "could not save the anomaly models");
    }
}

/// Serves HTTPS: a TLS listener adapter in front of axum.
async fn http_tls_serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), std::io::Error> {
    let listener = TlsListener {
        inner: listener,
        acceptor: tls.into(),
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<auth::ClientAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop.wait_for(|v| *v).await;
    })
    .await
}

/// A TCP listener that completes TLS handshakes before handing connections to axum.
struct TlsListener {
    inner: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for auth::ClientAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        auth::ClientAddr(*s.remote_addr())
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((sock, addr)) = self.inner.accept().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(10), self.acceptor.accept(sock)).await {
                Ok(Ok(s)) => return (s, addr),
                _ => continue,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Server {
    /// Graceful shutdown: stop listeners, finish requests, commit the store.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.http).await;
        if let Some(d) = self.state.detection.clone() {
            // Records what the rules found in everything acknowledged.
            let _ = tokio::task::spawn_blocking(move || d.shutdown()).await;
        }
        save_learned_now(&self.state);
        let store = self.state.store.clone();
        tokio::task::spawn_blocking(move || store.shutdown())
            .await
            .map_err(|e| ServeError::Http(std::io::Error::other(e)))??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_files_come_from_the_cache_on_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("mkdir");
        std::fs::write(
            rules.join("r.yml"),
            "title: R\nid: r-1\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\r.exe'\n  condition: sel\n",
        )
        .expect("write");
        let cfg = config::DetectionConfig {
            rules: vec![rules],
            ..config::DetectionConfig::default()
        };
        let cache = dir.path().join("data").join("cache");
        let first = load_rules(&cfg, Some(cache.clone())).expect("load");
        let again = load_rules(&cfg, Some(cache)).expect("load");
        assert_eq!(first.from_cache, 0);
        assert_eq!(again.from_cache, 1, "the rule file, unchanged");
        assert!(again.files > 1, "built-in rules are loaded too");
        assert_eq!(again.set.documents(), first.set.documents());
    }
}
