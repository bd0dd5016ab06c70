//! Kasbah's metadata: tenants, API tokens, per-tenant settings, alerts and the audit trail.
//!
//! [`MetaRepo`] is the interface the server uses; [`SqliteRepo`] implements it over an embedded
//! SQLite database (`<data-dir>/meta.db`) so one machine needs no external service, and a
//! PostgreSQL implementation can replace it when scaling out. The schema is created and upgraded
//! by numbered migrations recorded in `schema_migrations`.
//!
//! API tokens are 256-bit random secrets shown once at creation; only their SHA-256 is stored.
//! A fast hash is right here (unlike passwords): the secret has full entropy, so there is nothing
//! to brute-force, and every request verifies one. Users ([`UserRepo`]) have argon2id password
//! hashes, a role per tenant and browser sessions.

mod alert;
mod rules;
mod sqlite;
mod sqlite_alerts;
mod sqlite_rules;
mod sqlite_users;
mod token;
mod totp;
mod user;

pub use alert::audit_hash;
pub use alert::{
    Alert, AlertFilter, AlertId, AlertKind, AlertRepo, AlertStatus, AlertUpdate, AuditChain,
    AuditEntry, AuditQuery, Comment, MAX_EVENT_IDS, NewAlert, NewSuppression, Resolution,
    RuleState, Suppression,
};
pub use kasbah_event::TenantId;
pub use rules::{
    MAX_IMPORT_BYTES, MAX_IMPORTS_PER_TENANT, NewRuleImport, RuleImport, RuleImportRepo,
};
pub use sqlite::SqliteRepo;
pub use token::{Scope, Scopes, TokenId, TokenInfo, generate_secret, hash_secret};
pub use totp::{generate_totp_secret, otpauth_uri, step_of, totp_code, verify_totp};
pub use user::{
    Failure, MIN_PASSWORD_CHARS, Role, Session, SessionPolicy, TotpState, User, UserId, UserRepo,
    check_new_password, generate_password, hash_password, one_time_password, valid_user_name,
    verify_password,
};

/// Errors of the metadata repository.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The database failed.
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A name or value is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// Short for `Result<T, MetaError>`.
pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// A tenant: an organisation whose data is isolated from every other's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Numeric id (stored with every event).
    pub id: TenantId,
    /// Unique short name (`[a-z0-9_-]{1,64}`).
    pub name: String,
    /// Days of events to keep (`None`: the server default).
    pub retention_days: Option<u32>,
    /// Bytes of events to keep (`None`: unlimited).
    pub retention_bytes: Option<u64>,
    /// Its users must log in with a TOTP second factor.
    pub require_totp: bool,
}

/// A newly created token: the secret is shown once and never stored.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// Its record.
    pub info: TokenInfo,
    /// The bearer secret.
    pub secret: String,
}

/// The metadata the server needs. Implementations must be safe to share between threads.
pub trait MetaRepo: Send + Sync {
    /// All tenants.
    fn tenants(&self) -> Result<Vec<Tenant>>;
    /// The tenant with this name.
    fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>>;
    /// The tenant with this id.
    fn tenant(&self, id: TenantId) -> Result<Option<Tenant>>;
    /// Returns the tenant of this name, creating it if needed.
    fn ensure_tenant(&self, name: &str) -> Result<Tenant>;
    /// Requires (or stops requiring) a TOTP second factor of the tenant's users.
    fn set_require_totp(&self, id: TenantId, required: bool) -> Result<()>;
    /// Sets a tenant's retention.
    fn set_retention(&self, id: TenantId, days: Option<u32>, bytes: Option<u64>) -> Result<()>;
    /// Creates a token for a tenant.
    fn create_token(
        &self,
        tenant: TenantId,
        label: &str,
        scopes: Scopes,
        expires_at: Option<i64>,
    ) -> Result<NewToken>;
    /// The live (not revoked, not expired at `now`) token with this secret.
    fn verify_token(&self, secret: &str, now: i64) -> Result<Option<TokenInfo>>;
    /// A tenant's tokens (without secrets).
    fn tokens(&self, tenant: TenantId) -> Result<Vec<TokenInfo>>;
    /// Revokes a token (only if it belongs to `tenant`, when given); returns its tenant, or
    /// `None` if no such active token has that id.
    fn revoke_token(&self, id: TokenId, tenant: Option<TenantId>) -> Result<Option<TenantId>>;
}

/// Checks a tenant name.
pub fn valid_tenant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
