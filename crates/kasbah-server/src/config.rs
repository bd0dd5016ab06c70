//! Server configuration: `kasbah.toml`, with every key optional and documented defaults.
//!
//! Precedence, lowest first: built-in defaults, the file, `KASBAH_*` environment variables and
//! command-line flags (the binary applies the last two). `docs/configuration.md` lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where events, the log and metadata live.
    pub data_dir: PathBuf,
    /// HTTP API and console.
    pub http: HttpConfig,
    /// Syslog listeners.
    pub syslog: SyslogConfig,
    /// Storage tuning and retention.
    pub storage: StorageConfig,
    /// Parsing defaults.
    pub parse: ParseConfig,
    /// Detection on ingestion and alerts.
    pub detection: DetectionConfig,
    /// Anomaly alerts from the template miner.
    pub anomaly: AnomalyConfig,
    /// Users, sessions and login protection.
    pub auth: AuthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("kasbah-data"),
            http: HttpConfig::default(),
            syslog: SyslogConfig::default(),
            storage: StorageConfig::default(),
            parse: ParseConfig::default(),
            detection: DetectionConfig::default(),
            anomaly: AnomalyConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// `[http]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Largest request body of `/api/v1/ingest` and `/_bulk`.
    pub max_body_bytes: usize,
    /// Largest file accepted by `/api/v1/upload`.
    pub max_upload_bytes: usize,
    /// PEM certificate chain: serve HTTPS when set with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Without `tls_cert`: serve HTTPS with a self-signed certificate made at the first start
    /// (kept in `DATA/tls/`).
    pub tls_self_signed: bool,
    /// Extra names (host names, addresses) of the self-signed certificate besides localhost.
    pub tls_names: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 64 << 20,
            max_upload_bytes: 512 << 20,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            tls_names: Vec::new(),
        }
    }
}

/// `[syslog]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    /// UDP listener (off when unset).
    pub udp: Option<SocketAddr>,
    /// TCP listener: RFC 6587 octet counting and newline framing.
    pub tcp: Option<SocketAddr>,
    /// TLS listener (RFC 5425), needs `tls_cert` and `tls_key`.
    pub tls: Option<SocketAddr>,
    /// RELP listener (rsyslog's `omrelp`): each message acknowledged once durable.
    pub relp: Option<SocketAddr>,
    /// RELP over TLS (`omrelp` with `tls="on"`), needs `tls_cert` and `tls_key`.
    pub relp_tls: Option<SocketAddr>,
    /// PEM certificate chain of the TLS listeners.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the TLS listeners.
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: when set, the TLS listeners accept only senders presenting a
    /// certificate signed by one of them (mutual TLS).
    pub tls_client_ca: Option<PathBuf>,
    /// Tenant receiving syslog events.
    pub tenant: String,
    /// Longer messages are refused and counted.
    pub max_message_bytes: usize,
    /// Concurrent TCP/TLS connections; further ones are refused.
    pub max_connections: usize,
    /// Close connections silent for this long.
    pub idle_timeout_secs: u64,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig {
            udp: None,
            tcp: None,
            tls: None,
            relp: None,
            relp_tls: None,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tenant: "default".into(),
            max_message_bytes: 64 * 1024,
            max_connections: 1024,
            idle_timeout_secs: 600,
        }
    }
}

/// `[storage]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Index commit interval.
    pub commit_interval_secs: u64,
    /// Default retention by event age, days (0: keep forever).
    pub retention_days: u32,
    /// Default retention by size per tenant, bytes (unset: unlimited).
    pub retention_bytes: Option<u64>,
    /// Refuse ingestion (429/503) while this much accepted data is not yet indexed.
    pub max_inflight_bytes: u64,
    /// Keep each event's original record (`event.original`): more disk, exact raw text.
    pub keep_original: bool,
    /// Indexing memory budget.
    pub writer_heap_bytes: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            commit_interval_secs: 5,
            retention_days: 90,
            retention_bytes: None,
            max_inflight_bytes: 512 << 20,
            keep_original: false,
            writer_heap_bytes: 128 << 20,
        }
    }
}

/// `[parse]`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParseConfig {
    /// Zone for timestamps without one, as `+HH:MM` (default UTC).
    pub default_tz: Option<String>,
}

/// `[detection]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectionConfig {
    /// Run Sigma rules on every ingested event.
    pub enabled: bool,
    /// Load Kasbah's built-in rules (`rules/` of the repository, embedded in the binary).
    pub builtin_rules: bool,
    /// Sigma rule files or folders (for example a SigmaHQ checkout).
    pub rules: Vec<PathBuf>,
    /// Values of `expand` placeholders (YAML).
    pub placeholders: Option<PathBuf>,
    /// Extra log-source mappings (YAML files).
    pub mappings: Vec<PathBuf>,
    /// Matches of the same rule about the same entities within this many seconds of event time
    /// merge into one alert (0: every match is an alert).
    pub dedup_window_secs: u64,
    /// How far behind the newest event (event time) an event may arrive and still correlate
    /// exactly; also how long a quiet stream's correlation buffer waits (wall time).
    pub lateness_secs: u64,
    /// Matches per hour beyond which a rule is flagged noisy (0: never).
    pub alert_budget_per_hour: u64,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            enabled: true,
            builtin_rules: true,
            rules: Vec::new(),
            placeholders: None,
            mappings: Vec::new(),
            dedup_window_secs: 3600,
            lateness_secs: 60,
            alert_budget_per_hour: 1000,
        }
    }
}

/// `[auth]`: browser sessions and login protection (API tokens are not affected).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A session unused this long ends, seconds.
    pub session_idle_secs: u64,
    /// A session ends this long after the login, seconds.
    pub session_max_secs: u64,
    /// Consecutive failed logins that lock an account (0: never).
    pub max_failed_logins: u32,
    /// How long a locked account refuses logins, seconds.
    pub lockout_secs: u64,
    /// Login attempts accepted per client address and minute (0: no limit).
    pub login_attempts_per_minute: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_idle_secs: 2 * 3600,
            session_max_secs: 12 * 3600,
            max_failed_logins: 5,
            lockout_secs: 900,
            login_attempts_per_minute: 20,
        }
    }
}

impl AuthConfig {
    /// The session lifetimes.
    pub fn policy(&self) -> kasbah_meta::SessionPolicy {
        let ns = |s: u64| i64::try_from(s.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
        kasbah_meta::SessionPolicy {
            idle_ns: ns(self.session_idle_secs),
            absolute_ns: ns(self.session_max_secs),
        }
    }
}

/// `[anomaly]`: anomaly alerts from the templates mined on text logs. They go through the
/// detection worker, so they need `[detection] enabled`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Learn each tenant's normal and raise anomaly alerts.
    pub enabled: bool,
    /// Fields naming an event's entity, first present wins; events with none are not modelled.
    pub entity_fields: Vec<String>,
    /// Event time a new tenant learns for at least (from its first text event), seconds.
    pub learning_secs: u64,
    /// Events a new tenant learns from at least.
    pub learning_events: u64,
    /// Findings weighing at least this much become alerts (new template, unusual order and
    /// unusual mix 1.0, burst 0.8, rare template 0.6).
    pub threshold: f64,
    /// An entity's window closes after this many seconds of silence.
    pub window_secs: u64,
    /// ... or once it holds this many events.
    pub window_events: usize,
    /// Entities tracked at once per tenant (least recently seen are closed first).
    pub max_entities: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        let d = kasbah_detect::anomaly::AnomalyConfig::default();
        AnomalyConfig {
            enabled: true,
            entity_fields: d.entity_fields,
            learning_secs: d.defaults.learning_secs,
            learning_events: d.defaults.learning_events,
            threshold: d.defaults.threshold,
            window_secs: d.detector.window_secs,
            window_events: d.detector.window_events,
            max_entities: d.detector.max_entities,
        }
    }
}

impl AnomalyConfig {
    /// The library's form of these settings.
    pub fn model_config(&self) -> kasbah_detect::anomaly::AnomalyConfig {
        let mut detector = kasbah_detect::anomaly::AnomalyConfig::default().detector;
        detector.window_secs = self.window_secs;
        detector.window_events = self.window_events;
        detector.max_entities = self.max_entities;
        kasbah_detect::anomaly::AnomalyConfig {
            entity_fields: self.entity_fields.clone(),
            defaults: kasbah_detect::anomaly::Settings {
                learning_secs: self.learning_secs,
                learning_events: self.learning_events,
                threshold: self.threshold,
            },
            detector,
        }
    }
}

/// Configuration errors, with the file they come from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// A value is inconsistent.
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.into(),
            message,
        })
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks values that depend on each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let no_cert = self.syslog.tls_cert.is_none() || self.syslog.tls_key.is_none();
        for (name, addr) in [("tls", self.syslog.tls), ("relp_tls", self.syslog.relp_tls)] {
            if addr.is_some() && no_cert {
                return Err(ConfigError::Invalid(format!(
                    "syslog.{name} needs syslog.tls_cert and syslog.tls_key"
                )));
            }
        }
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "http.tls_cert and http.tls_key go together".into(),
            ));
        }
        if !kasbah_meta::valid_tenant_name(&self.syslog.tenant) {
            return Err(ConfigError::Invalid(format!(
                "syslog.tenant `{}` is not a valid tenant name",
                self.syslog.tenant
            )));
        }
        if let Some(tz) = &self.parse.default_tz
            && parse_tz(tz).is_none()
        {
            return Err(ConfigError::Invalid(format!(
                "parse.default_tz `{tz}`: expected +HH:MM or -HH:MM"
            )));
        }
        if self.auth.session_idle_secs == 0 || self.auth.session_max_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.session_idle_secs and auth.session_max_secs must be positive".into(),
            ));
        }
        if self.anomaly.enabled {
            self.anomaly
                .model_config()
                .defaults
                .validate()
                .map_err(|e| ConfigError::Invalid(format!("anomaly.{e}")))?;
            if self.anomaly.window_events == 0 || self.anomaly.max_entities == 0 {
                return Err(ConfigError::Invalid(
                    "anomaly.window_events and anomaly.max_entities must be positive".into(),
                ));
            }
            if self.anomaly.entity_fields.is_empty() {
                return Err(ConfigError::Invalid(
                    "anomaly.entity_fields needs at least one field".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Parses a zone offset `+HH:MM`, `-HHMM` or `Z`.
pub fn parse_tz(s: &str) -> Option<kasbah_event::TzOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(kasbah_event::TzOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..)?.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    kasbah_event::TzOffset::from_secs(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.http.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(c.storage.retention_days, 90);
        c.validate().unwrap();
    }

    #[test]
    fn keys_are_read_and_unknown_keys_refused() {
        let c = Config::parse(
            "data_dir = \"/var/lib/kasbah\"\n[syslog]\nudp = \"0.0.0.0:5514\"\ntenant = \"acme\"\n",
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/kasbah"));
        assert_eq!(c.syslog.udp, Some(SocketAddr::from(([0, 0, 0, 0], 5514))));
        let err = Config::parse("[syslog]\nupd = \"0.0.0.0:5514\"\n").unwrap_err();
        assert!(err.contains("upd"), "{err}");
    }

    #[test]
    fn inconsistent_values_are_refused() {
        let c = Config::parse("[syslog]\ntls = \"0.0.0.0:6514\"\n").unwrap();
        assert!(c.validate().is_err());
        let c = Config::parse("[syslog]\nrelp_tls = \"0.0.0.0:2515\"\n").unwrap();
        let err = c.validate().map_err(|e| e.to_string()).unwrap_err();
        assert!(err.contains("syslog.relp_tls needs"), "{err}");
        let c = Config::parse(
            "[syslog]\nrelp_tls = \"0.0.0.0:2515\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        let c = Config::parse("[parse]\ndefault_tz = \"Mars\"\n").unwrap();
        assert!(c.validate().is_err());
        let c = Config::parse("[anomaly]\nthreshold = -1.0\n").unwrap();
        assert!(c.validate().is_err());
        let c = Config::parse("[anomaly]\nenabled = false\nthreshold = -1.0\n").unwrap();
        assert!(c.validate().is_ok(), "a disabled section is not checked");
    }
}
