//! `kasbah serve`: run the server (ingestion, storage, search) until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use kasbah_server::Config;

/// Log output format.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; every key optional, see docs/configuration.md).
    #[arg(long, short = 'c', env = "KASBAH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (events, write-ahead log, metadata). Default: ./kasbah-data.
    #[arg(long, env = "KASBAH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP API address. Default: 127.0.0.1:8080.
    #[arg(long, env = "KASBAH_LISTEN")]
    listen: Option<SocketAddr>,
    /// Syslog over UDP on this address.
    #[arg(long, env = "KASBAH_SYSLOG_UDP")]
    syslog_udp: Option<SocketAddr>,
    /// Syslog over TCP (octet counting or newline framing) on this address.
    #[arg(long, env = "KASBAH_SYSLOG_TCP")]
    syslog_tcp: Option<SocketAddr>,
    /// RELP (rsyslog's reliable protocol, omrelp) on this address: each message acknowledged
    /// once it is durable.
    #[arg(long, env = "KASBAH_SYSLOG_RELP")]
    syslog_relp: Option<SocketAddr>,
    /// RELP over TLS (omrelp with tls="on") on this address (needs --syslog-tls-cert and
    /// --syslog-tls-key).
    #[arg(long, env = "KASBAH_SYSLOG_RELP_TLS")]
    syslog_relp_tls: Option<SocketAddr>,
    /// Syslog over TLS on this address (needs --syslog-tls-cert and --syslog-tls-key).
    #[arg(long, env = "KASBAH_SYSLOG_TLS")]
    syslog_tls: Option<SocketAddr>,
    /// PEM certificate chain for syslog TLS and RELP over TLS.
    #[arg(long, env = "KASBAH_SYSLOG_TLS_CERT")]
    syslog_tls_cert: Option<PathBuf>,
    /// PEM private key for syslog TLS and RELP over TLS.
    #[arg(long, env = "KASBAH_SYSLOG_TLS_KEY")]
    syslog_tls_key: Option<PathBuf>,
    /// PEM CA certificates: syslog TLS and RELP over TLS accept only senders presenting a
    /// certificate signed by one of them.
    #[arg(long, env = "KASBAH_SYSLOG_TLS_CLIENT_CA")]
    syslog_tls_client_ca: Option<PathBuf>,
    /// Tenant receiving syslog events. Default: default.
    #[arg(long, env = "KASBAH_SYSLOG_TENANT")]
    syslog_tenant: Option<String>,
    /// PEM certificate chain: serve the API over HTTPS.
    #[arg(long, env = "KASBAH_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "KASBAH_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate made at the first start (in DATA/tls/),
    /// when no --tls-cert is given.
    #[arg(long, env = "KASBAH_TLS_SELF_SIGNED")]
    tls_self_signed: bool,
    /// Sigma rule files or folders to detect with, instead of the built-in rules (repeatable,
    /// or `:`-separated in $KASBAH_RULES, as for `kasbah hunt`). Adds to `[detection] rules`.
    #[arg(
        short = 'r',
        long = "rules",
        value_name = "RULES_DIR",
        env = "KASBAH_RULES",
        value_delimiter = ':'
    )]
    rules: Vec<PathBuf>,
    /// Keep the built-in rules as well when --rules is given.
    #[arg(long)]
    builtin_rules: bool,
    #[command(flatten)]
    rule_opts: super::rules::RuleOpts,
    /// Seed a `demo` tenant with the bundled sample incident and print a token for it.
    #[arg(long)]
    demo: bool,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "KASBAH_LOG_FORMAT")]
    log_format: LogFormat,
}

impl ServeArgs {
    /// The configuration: file (or defaults), then environment and flags on top.
    fn config(&self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(d) = &self.data_dir {
            c.data_dir = d.clone();
        }
        if let Some(a) = self.listen {
            c.http.listen = a;
        }
        c.syslog.udp = self.syslog_udp.or(c.syslog.udp);
        c.syslog.tcp = self.syslog_tcp.or(c.syslog.tcp);
        c.syslog.relp = self.syslog_relp.or(c.syslog.relp);
        c.syslog.relp_tls = self.syslog_relp_tls.or(c.syslog.relp_tls);
        c.syslog.tls = self.syslog_tls.or(c.syslog.tls);
        c.syslog.tls_cert = self.syslog_tls_cert.clone().or(c.syslog.tls_cert);
        c.syslog.tls_key = self.syslog_tls_key.clone().or(c.syslog.tls_key);
        c.syslog.tls_client_ca = self.syslog_tls_client_ca.clone().or(c.syslog.tls_client_ca);
        if let Some(t) = &self.syslog_tenant {
            c.syslog.tenant = t.clone();
        }
        c.http.tls_cert = self.tls_cert.clone().or(c.http.tls_cert);
        c.http.tls_key = self.tls_key.clone().or(c.http.tls_key);
        c.http.tls_self_signed |= self.tls_self_signed;
        if !self.rules.is_empty() {
            // The same rules as `kasbah hunt -r ...`: alerts then agree with hunt exactly.
            c.detection.rules.extend(self.rules.iter().cloned());
            c.detection.builtin_rules = self.builtin_rules;
        }
        if let Some(p) = &self.rule_opts.placeholders {
            c.detection.placeholders = Some(p.clone());
        }
        c.detection
            .mappings
            .extend(self.rule_opts.mappings.iter().cloned());
        Ok(c)
    }
}

/// The default of `KASBAH_LOG`.
const DEFAULT_LOG: &str = "info,tantivy=warn";

/// Logs to stderr, filtered by `KASBAH_LOG` (`level` or `target=level`, comma-separated, e.g.
/// `info,kasbah_store=debug`). A `Targets` filter rather than `EnvFilter`: the latter pulls in
/// `regex-automata`'s full-DFA builder, which every Sigma regex then pays for at load time.
fn init_logs(format: LogFormat) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let targets = std::env::var("KASBAH_LOG")
        .ok()
        .and_then(|s| match s.parse::<Targets>() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("KASBAH_LOG={s:?} is not `level` or `target=level,...` ({e}); using {DEFAULT_LOG}");
                None
            }
        })
        .or_else(|| DEFAULT_LOG.parse().ok())
        .unwrap_or_default();
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(targets);
    let _ = match format {
        LogFormat::Text => registry.with(layer).try_init(),
        LogFormat::Json => registry.with(layer.json()).try_init(),
    };
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs(args.log_format);
    let config = args.config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kasbah")
        .build()?;
    rt.block_on(async move {
        // Signals are caught from the start: a SIGTERM during start-up (store opening, demo
        // seeding, first-run administrator) still ends in a graceful shutdown once started.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(());
        });
        tokio::task::yield_now().await;
        let server = kasbah_server::start(config).await.context("cannot start the server")?;
        let scheme = if server.state.config.http.tls_cert.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", server.http_addr);
        if let Some(ss) = &server.self_signed {
            eprintln!(
                "{} self-signed certificate {}; its SHA-256 fingerprint, to compare with what the browser shows:",
                if ss.created { "Made the" } else { "Serving the" },
                ss.cert.display()
            );
            eprintln!("    {}", ss.fingerprint);
        }
        if args.demo {
            let seeded = kasbah_server::demo::seed(&server.state).await.map_err(anyhow::Error::msg)?;
            match seeded.token {
                Some(tok) => {
                    eprintln!("Demo tenant `demo` seeded with {} events of the sample incident (2024-03-15).", seeded.events);
                    eprintln!("Try:  kasbah search --server {url} --token {tok} --from 2024-03-15 'event.outcome:failure | stats count() by source.ip'");
                }
                None => eprintln!("Demo tenant `demo` already seeded; make a token with `kasbah token create --tenant demo`."),
            }
        }
        let st = server.state.clone();
        let first = tokio::task::spawn_blocking(move || kasbah_server::first_admin(&st)).await??;
        if let Some(password) = first {
            eprintln!("First run: created the administrator `admin` (admin of every tenant). Its one-time password, shown only now, must be changed at the first login:");
            eprintln!("    {password}");
            eprintln!("(Lost it? `kasbah user reset admin` prints a new one.)");
        }
        server.started();
        eprintln!("Kasbah is serving on {url} (Ctrl-C to stop).");
        let _ = stop_rx.await;
        tracing::info!("shutting down: finishing requests and committing the index");
        server.shutdown().await.context("shutdown")?;
        Ok(ExitCode::SUCCESS)
    })
}
