//! Sigma rules a tenant imported: the files as the tenant sent them, kept so the server can
//! compile them again at every start. The repository stores text and the rule ids the server
//! found in it; it never parses Sigma (that is the detection crates' job).

use crate::{Result, TenantId};

/// Longest imported file accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 1 << 20;
/// Most imported files per tenant.
pub const MAX_IMPORTS_PER_TENANT: u64 = 1000;

/// One imported file of Sigma documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleImport {
    /// Its id.
    pub id: i64,
    /// The tenant that imported it (the only one whose events it runs on).
    pub tenant: TenantId,
    /// A name for people (the file name, or what the importer called it).
    pub name: String,
    /// The YAML, as sent.
    pub yaml: String,
    /// Ids (or titles, for rules without an id) of the rules and correlations it holds.
    pub rule_ids: Vec<String>,
    /// Ids (or names, or titles) of the filters it holds.
    pub filter_ids: Vec<String>,
    /// Who imported it.
    pub created_by: String,
    /// When, ns.
    pub created_at: i64,
}

/// What is needed to import a file.
#[derive(Clone, Debug)]
pub struct NewRuleImport<'a> {
    /// The tenant.
    pub tenant: TenantId,
    /// Its name.
    pub name: &'a str,
    /// The YAML.
    pub yaml: &'a str,
    /// The rule ids the server compiled from it.
    pub rule_ids: &'a [String],
    /// The filters it holds.
    pub filter_ids: &'a [String],
    /// Who imports it.
    pub actor: &'a str,
}

/// Storage of imported rule files. Changes write their audit entry in the same transaction.
pub trait RuleImportRepo: Send + Sync {
    /// Stores an imported file; `Invalid` past [`MAX_IMPORT_BYTES`] or
    /// [`MAX_IMPORTS_PER_TENANT`].
    fn import_rules(&self, new: &NewRuleImport<'_>) -> Result<RuleImport>;
    /// A tenant's imported files, oldest first.
    fn rule_imports(&self, tenant: TenantId) -> Result<Vec<RuleImport>>;
    /// One of a tenant's imported files (`None` if it is not the tenant's).
    fn rule_import(&self, tenant: TenantId, id: i64) -> Result<Option<RuleImport>>;
    /// Every tenant's imported files, oldest first (server start).
    fn all_rule_imports(&self) -> Result<Vec<RuleImport>>;
    /// Removes an imported file; false if it is not the tenant's.
    fn delete_rule_import(&self, tenant: TenantId, id: i64, actor: &str) -> Result<bool>;
}
