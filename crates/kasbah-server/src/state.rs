//! The state shared by every listener and request handler.

use std::sync::Arc;

use kasbah_meta::MetaRepo;
use kasbah_parse::ParseOptions;
use kasbah_store::Store;

use crate::config::Config;
use crate::metrics::ServerMetrics;

/// Shared server state.
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// The event store.
    pub store: Arc<Store>,
    /// Tenants and tokens.
    pub meta: Arc<dyn MetaRepo>,
    /// Counters.
    pub metrics: Arc<ServerMetrics>,
    /// Per-tenant template miners (`log.template_id`).
    pub templates: crate::templates::Templates,
    /// `[parse] default_tz`, parsed once (it is read for every message).
    pub default_tz: Option<kasbah_event::TzOffset>,
    /// Alerts, suppressions, rule states and the audit trail.
    pub alerts: Arc<dyn kasbah_meta::AlertRepo>,
    /// Users, roles and sessions.
    pub users: Arc<dyn kasbah_meta::UserRepo>,
    /// Sigma rule files imported by tenants.
    pub rule_imports: Arc<dyn kasbah_meta::RuleImportRepo>,
    /// Login attempts per client address (rate limit).
    pub logins: crate::auth::LoginLimiter,
    /// Detection on ingestion (`None` when `[detection] enabled = false`).
    pub detection: Option<Arc<crate::detection::Detection>>,
    /// Anomaly models (`None` when `[anomaly]` or `[detection]` is disabled).
    pub anomalies: Option<Arc<crate::anomaly::Anomalies>>,
    /// Set once start-up is over (demo data seeded, first administrator made): until then
    /// `/readyz` answers 503, so orchestrators and tests do not race the start-up writes.
    pub started: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// What a tenant's events go through before they are stored.
    pub fn prep(&self, tenant: kasbah_event::TenantId) -> crate::ingest::Prep<'_> {
        crate::ingest::Prep {
            tenant,
            templates: Some(&self.templates),
            detector: self.detection.as_ref().map(|d| d.detector(tenant)),
            anomalies: self.anomalies.as_deref(),
        }
    }

    /// Tenant names by id (empty when the metadata cannot be read: names are for display).
    pub fn tenant_names(&self) -> std::collections::HashMap<u32, String> {
        self.meta
            .tenants()
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.id.0, t.name))
            .collect()
    }

    /// Parse options for a tenant's input (receive time is now).
    pub fn parse_options(&self, tenant: kasbah_event::TenantId) -> ParseOptions {
        ParseOptions {
            tenant,
            received: kasbah_event::Timestamp::now(),
            default_tz: self.default_tz,
            max_record_bytes: self.config.syslog.max_message_bytes.max(1 << 20),
            keep_raw: self.config.storage.keep_original,
        }
    }
}

/// The handle handlers receive.
pub type Shared = Arc<AppState>;
