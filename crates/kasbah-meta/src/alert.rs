//! Alerts, their lifecycle, suppressions, per-tenant rule state and the audit trail: the types
//! and the [`AlertRepo`] interface the server uses.
//!
//! Deduplication happens where alerts are recorded: an incoming [`NewAlert`] whose `dedup_key`
//! matches an alert of the same tenant that is not closed and whose `last_seen` is within the
//! dedup window of the new one's `first_seen` is merged into it (count added, times widened,
//! event ids appended up to [`MAX_EVENT_IDS`]) instead of creating a second alert.

use std::fmt;

use kasbah_event::{Entity, TenantId};

use crate::Result;

/// Most event ids kept per alert (the count keeps growing beyond).
pub const MAX_EVENT_IDS: usize = 100;

/// An alert's id, unique across tenants.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId(pub i64);

/// Where an alert is in its lifecycle.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AlertStatus {
    /// New, nobody has looked at it.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Done, with a resolution.
    Closed,
}

impl AlertStatus {
    /// The status's name (`open`, `acknowledged`, `closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    /// Parses a status name.
    pub fn parse(s: &str) -> Option<AlertStatus> {
        [
            AlertStatus::Open,
            AlertStatus::Acknowledged,
            AlertStatus::Closed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an alert was closed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// A real attack or policy violation.
    TruePositive,
    /// Real activity, expected or authorised (an admin's tool, a pentest).
    BenignPositive,
    /// The rule matched something it should not have.
    FalsePositive,
    /// Already handled in another alert or case.
    Duplicate,
}

impl Resolution {
    /// Every resolution.
    pub const ALL: [Resolution; 4] = [
        Resolution::TruePositive,
        Resolution::BenignPositive,
        Resolution::FalsePositive,
        Resolution::Duplicate,
    ];

    /// The resolution's name (`true_positive`, `benign_positive`, `false_positive`,
    /// `duplicate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::TruePositive => "true_positive",
            Resolution::BenignPositive => "benign_positive",
            Resolution::FalsePositive => "false_positive",
            Resolution::Duplicate => "duplicate",
        }
    }

    /// Parses a resolution name.
    pub fn parse(s: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What produced an alert.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A Sigma detection rule matched events.
    Detection,
    /// A Sigma correlation rule fired.
    Correlation,
    /// The anomaly detector flagged events.
    Anomaly,
}

impl AlertKind {
    /// The kind's name (`detection`, `correlation`, `anomaly`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Detection => "detection",
            AlertKind::Correlation => "correlation",
            AlertKind::Anomaly => "anomaly",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Option<AlertKind> {
        [
            AlertKind::Detection,
            AlertKind::Correlation,
            AlertKind::Anomaly,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An alert as the detection path produces it, before deduplication.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    /// Its tenant.
    pub tenant: TenantId,
    /// The rule's id (Sigma `id`, or its title when it has none).
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    /// The rule's tags (`attack.t1059.001`, `attack.execution`, ...).
    pub tags: Vec<String>,
    /// What produced it.
    pub kind: AlertKind,
    /// Hosts, users, IPs and processes involved.
    pub entities: Vec<Entity>,
    /// Alerts with the same key (same tenant) are merged within the dedup window.
    pub dedup_key: String,
    /// Event time of the first matching event, ns since the epoch.
    pub first_seen: i64,
    /// Event time of the last matching event, ns.
    pub last_seen: i64,
    /// Matching events.
    pub count: u64,
    /// `event.id` of matching events (at most [`MAX_EVENT_IDS`] are kept).
    pub event_ids: Vec<String>,
    /// Raised by a retro-hunt over stored events rather than on ingestion.
    pub retro: bool,
    /// A JSON object of facts for people (notable fields, correlation group and value).
    pub details: String,
}

/// A stored alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Its id.
    pub id: AlertId,
    /// What was detected (after merging duplicates: counts and times cover all of them).
    pub alert: NewAlert,
    /// Lifecycle status.
    pub status: AlertStatus,
    /// Who is on it.
    pub assignee: Option<String>,
    /// Why it was closed.
    pub resolution: Option<Resolution>,
    /// The closing note.
    pub resolution_note: Option<String>,
    /// Wall-clock creation time, ns.
    pub created_at: i64,
    /// Wall-clock time of the last change (merge or lifecycle), ns.
    pub updated_at: i64,
}

/// Which alerts to list. Results are newest first (by id).
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    /// Only this status.
    pub status: Option<AlertStatus>,
    /// Only this rule.
    pub rule_id: Option<String>,
    /// Only these levels (empty: all).
    pub levels: Vec<String>,
    /// Only alerts of this kind.
    pub kind: Option<AlertKind>,
    /// Only retrospective (true) or live (false) alerts.
    pub retro: Option<bool>,
    /// Only alerts whose `last_seen` is at or after this (ns).
    pub from: Option<i64>,
    /// Only alerts whose `first_seen` is before this (ns).
    pub to: Option<i64>,
    /// Only alerts assigned to this person.
    pub assignee: Option<String>,
    /// Only alerts with an id below this (paging: pass the last id of the previous page).
    pub before: Option<AlertId>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// A lifecycle change.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertUpdate {
    /// Mark as being looked at.
    Acknowledge,
    /// Assign to someone, or unassign with `None`.
    Assign(Option<String>),
    /// Close with a resolution and an optional note.
    Close {
        /// Why.
        resolution: Resolution,
        /// Free text.
        note: Option<String>,
    },
    /// Back to open (clears the resolution).
    Reopen,
}

/// A comment on an alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// Its id.
    pub id: i64,
    /// The alert.
    pub alert: AlertId,
    /// Who wrote it.
    pub author: String,
    /// What they wrote.
    pub text: String,
    /// When, ns.
    pub created_at: i64,
}

/// A suppression: alerts of a rule (or of every rule) about an entity (or about anything) are
/// not raised until it expires.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSuppression {
    /// Its tenant.
    pub tenant: TenantId,
    /// The rule (`None`: every rule).
    pub rule_id: Option<String>,
    /// The entity (`None`: any).
    pub entity: Option<Entity>,
    /// Why (required: suppressions must be explainable later).
    pub reason: String,
    /// Who created it.
    pub created_by: String,
    /// When it stops applying, ns (`None`: never).
    pub expires_at: Option<i64>,
}

/// A stored suppression.
#[derive(Clone, Debug, PartialEq)]
pub struct Suppression {
    /// Its id.
    pub id: i64,
    /// What it suppresses.
    pub rule: NewSuppression,
    /// When it was created, ns.
    pub created_at: i64,
    /// Alerts it has swallowed so far.
    pub hits: u64,
}

/// A rule's state in one tenant (rules are enabled unless a state says otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleState {
    /// The rule's id.
    pub rule_id: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Who changed it last.
    pub updated_by: String,
    /// When, ns.
    pub updated_at: i64,
}

/// What to look for in the audit trail (every part optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Text found (ignoring case) in the actor, action, target or detail.
    pub text: Option<String>,
    /// Only this action (`auth.login`, `rule.disable`, ...).
    pub action: Option<String>,
    /// Only entries with an id below this (paging).
    pub before: Option<i64>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// One entry of the audit trail: who changed what.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Its id (increasing).
    pub id: i64,
    /// The tenant concerned.
    pub tenant: TenantId,
    /// Who (a user, or `token:<label>`).
    pub actor: String,
    /// What (`alert.acknowledge`, `alert.close`, `rule.disable`, `suppression.create`, ...).
    pub action: String,
    /// The object (`alert:42`, `rule:<id>`, `suppression:3`).
    pub target: String,
    /// Details as a JSON object.
    pub detail: String,
    /// When, ns.
    pub at: i64,
    /// Its link in the tenant's hash chain ([`audit_hash`]), hex.
    pub hash: String,
}

/// The hash of an audit entry, chained to the previous entry of the same tenant (`prev`; zeros
/// for the first): SHA-256 over a version tag, `prev`, the tenant, the time and the four texts,
/// each length-prefixed. Changing, removing or reordering an entry breaks every later link, so
/// tampering shows unless the whole rest of the chain is recomputed; keep the head hash
/// somewhere else (`kasbah audit verify` prints it) to detect that too.
pub fn audit_hash(
    prev: &[u8; 32],
    tenant: TenantId,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"kasbah-audit-v1\0");
    h.update(prev);
    h.update(tenant.0.to_le_bytes());
    h.update(at.to_le_bytes());
    for s in [actor, action, target, detail] {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    h.finalize().into()
}

/// The verdict on one tenant's audit chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditChain {
    /// The tenant.
    pub tenant: TenantId,
    /// Entries checked.
    pub entries: u64,
    /// Hash of the newest entry (hex), if any: record it elsewhere to detect a rewritten tail.
    pub head: Option<String>,
    /// The first entry whose stored hash does not match, and why.
    pub broken: Option<(i64, String)>,
}

/// Alert storage. Every method is scoped by tenant: an id of another tenant is "not found".
/// Every change made through `update_alert`, `comment`, suppressions and rule states writes an
/// audit entry in the same transaction.
pub trait AlertRepo: Send + Sync {
    /// Records alerts in one transaction, merging each into a matching open alert (same tenant
    /// and `dedup_key`, not closed, `last_seen >= first_seen - dedup_window_ns`) when there is
    /// one. Returns, per input, its alert id and whether it was created (true) or merged.
    fn record_alerts(
        &self,
        alerts: &[NewAlert],
        dedup_window_ns: i64,
    ) -> Result<Vec<(AlertId, bool)>>;
    /// Lists a tenant's alerts, newest first.
    fn alerts(&self, tenant: TenantId, filter: &AlertFilter) -> Result<Vec<Alert>>;
    /// Counts a tenant's alerts by status (`open`, `acknowledged`, `closed`), ignoring
    /// `filter.status`, `before` and `limit`.
    fn count_alerts(&self, tenant: TenantId, filter: &AlertFilter) -> Result<[u64; 3]>;
    /// One alert.
    fn alert(&self, tenant: TenantId, id: AlertId) -> Result<Option<Alert>>;
    /// Applies a lifecycle change; `NotFound` if the alert is not the tenant's.
    fn update_alert(
        &self,
        tenant: TenantId,
        id: AlertId,
        update: &AlertUpdate,
        actor: &str,
    ) -> Result<Alert>;
    /// Adds a comment; `NotFound` if the alert is not the tenant's; empty text is `Invalid`.
    fn comment(&self, tenant: TenantId, id: AlertId, author: &str, text: &str) -> Result<Comment>;
    /// An alert's comments, oldest first.
    fn comments(&self, tenant: TenantId, id: AlertId) -> Result<Vec<Comment>>;
    /// Creates a suppression (empty reason is `Invalid`).
    fn create_suppression(&self, s: &NewSuppression) -> Result<Suppression>;
    /// A tenant's suppressions; expired ones (at `now`) only if `include_expired`.
    fn suppressions(
        &self,
        tenant: TenantId,
        now: i64,
        include_expired: bool,
    ) -> Result<Vec<Suppression>>;
    /// Adds to the hit counters of suppressions (`(id, hits)`), without auditing.
    fn count_suppressed(&self, hits: &[(i64, u64)]) -> Result<()>;
    /// Deletes a suppression; false if it is not the tenant's.
    fn delete_suppression(&self, tenant: TenantId, id: i64, actor: &str) -> Result<bool>;
    /// Enables or disables a rule for a tenant.
    fn set_rule_enabled(
        &self,
        tenant: TenantId,
        rule_id: &str,
        enabled: bool,
        actor: &str,
    ) -> Result<()>;
    /// The tenant's explicit rule states.
    fn rule_states(&self, tenant: TenantId) -> Result<Vec<RuleState>>;
    /// Appends an audit entry (for changes made elsewhere, e.g. retro-hunts, token creation).
    fn audit(
        &self,
        tenant: TenantId,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()>;
    /// Recomputes every tenant's audit chain.
    fn verify_audit(&self) -> Result<Vec<AuditChain>>;
    /// The tenant's audit trail, newest first, at most `limit` entries, ids below `before`.
    fn audit_log(
        &self,
        tenant: TenantId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>>;
    /// A tenant's audit entries matching `q`, newest first.
    fn find_audit(&self, tenant: TenantId, q: &AuditQuery) -> Result<Vec<AuditEntry>>;
}
