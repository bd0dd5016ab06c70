//! The SQLite implementation of [`RuleImportRepo`]. The YAML is kept whole (it is compiled
//! again at each start) and audited with a SHA-256 of its text, so the trail proves which
//! version of a rule ran without copying the rule into every entry.

use rusqlite::{OptionalExtension, Row, params};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::rules::{
    MAX_IMPORT_BYTES, MAX_IMPORTS_PER_TENANT, NewRuleImport, RuleImport, RuleImportRepo,
};
use crate::sqlite::{SqliteRepo, now_ns};
use crate::sqlite_alerts::{insert_audit, tenant_param};
use crate::{MetaError, Result, TenantId};

const COLS: &str = "id, tenant_id, name, yaml, rule_ids, filter_ids, created_by, created_at";

fn row(r: &Row<'_>) -> rusqlite::Result<RuleImport> {
    let tenant: i64 = r.get(1)?;
    let ids: String = r.get(4)?;
    let filters: String = r.get(5)?;
    Ok(RuleImport {
        id: r.get(0)?,
        tenant: TenantId(u32::try_from(tenant).unwrap_or(u32::MAX)),
        name: r.get(2)?,
        yaml: r.get(3)?,
        rule_ids: serde_json::from_str(&ids).unwrap_or_default(),
        filter_ids: serde_json::from_str(&filters).unwrap_or_default(),
        created_by: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// The tenant's import `id`, if it is the tenant's.
fn one(c: &rusqlite::Connection, tenant: TenantId, id: i64) -> Result<Option<RuleImport>> {
    Ok(c.query_row(
        &format!("SELECT {COLS} FROM rule_imports WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant_param(tenant)],
        row,
    )
    .optional()?)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl RuleImportRepo for SqliteRepo {
    fn import_rules(&self, new: &NewRuleImport<'_>) -> Result<RuleImport> {
        if new.yaml.len() > MAX_IMPORT_BYTES {
            return Err(MetaError::Invalid(format!(
                "an imported rule file is at most {MAX_IMPORT_BYTES} bytes"
            )));
        }
        let name = new.name.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(MetaError::Invalid(
                "the import needs a name of 1-200 printable characters".into(),
            ));
        }
        let ids =
            serde_json::to_string(new.rule_ids).map_err(|e| MetaError::Invalid(e.to_string()))?;
        let filters =
            serde_json::to_string(new.filter_ids).map_err(|e| MetaError::Invalid(e.to_string()))?;
        self.with_tx(|tx| {
            let count: i64 = tx.query_row(
                "SELECT COUNT(*) FROM rule_imports WHERE tenant_id = ?1",
                [tenant_param(new.tenant)],
                |r| r.get(0),
            )?;
            if u64::try_from(count).unwrap_or(0) >= MAX_IMPORTS_PER_TENANT {
                return Err(MetaError::Invalid(format!(
                    "a tenant can hold at most {MAX_IMPORTS_PER_TENANT} imported rule files"
                )));
            }
            let now = now_ns();
            tx.execute(
                "INSERT INTO rule_imports \
                 (tenant_id, name, yaml, rule_ids, filter_ids, created_by, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    tenant_param(new.tenant),
                    name,
                    new.yaml,
                    ids,
                    filters,
                    new.actor,
                    now
                ],
            )?;
            let id = tx.last_insert_rowid();
            let detail = json!({
                "name": name,
                "rules": new.rule_ids,
                "filters": new.filter_ids,
                "sha256": sha256_hex(new.yaml),
                "bytes": new.yaml.len(),
            });
            insert_audit(
                tx,
                new.tenant,
                new.actor,
                "rule.import",
                &format!("rule_import:{id}"),
                &detail.to_string(),
                now,
            )?;
            Ok(RuleImport {
                id,
                tenant: new.tenant,
                name: name.to_owned(),
                yaml: new.yaml.to_owned(),
                rule_ids: new.rule_ids.to_vec(),
                filter_ids: new.filter_ids.to_vec(),
                created_by: new.actor.to_owned(),
                created_at: now,
            })
        })
    }

    fn rule_imports(&self, tenant: TenantId) -> Result<Vec<RuleImport>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLS} FROM rule_imports WHERE tenant_id = ?1 ORDER BY id"
            ))?;
            let rows = st.query_map([tenant_param(tenant)], row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn all_rule_imports(&self) -> Result<Vec<RuleImport>> {
        self.with(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {COLS} FROM rule_imports ORDER BY id"))?;
            let rows = st.query_map([], row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn rule_import(&self, tenant: TenantId, id: i64) -> Result<Option<RuleImport>> {
        self.with(|c| one(c, tenant, id))
    }

    fn delete_rule_import(&self, tenant: TenantId, id: i64, actor: &str) -> Result<bool> {
        self.with_tx(|tx| {
            let old = one(tx, tenant, id)?;
            let Some(old) = old else {
                return Ok(false);
            };
            tx.execute("DELETE FROM rule_imports WHERE id = ?1", [id])?;
            let detail = json!({
                "name": old.name,
                "rules": old.rule_ids,
                "filters": old.filter_ids,
                "sha256": sha256_hex(&old.yaml),
                "imported_by": old.created_by,
            });
            insert_audit(
                tx,
                tenant,
                actor,
                "rule.import_delete",
                &format!("rule_import:{id}"),
                &detail.to_string(),
                now_ns(),
            )?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AlertRepo, MetaRepo};

    #[test]
    fn imports_are_per_tenant_audited_and_bounded() {
        let r = SqliteRepo::in_memory().unwrap();
        let a = r.ensure_tenant("a").unwrap().id;
        let b = r.ensure_tenant("b").unwrap().id;
        let ids = vec!["r-1".to_string(), "c-1".to_string()];
        let imp = r
            .import_rules(&NewRuleImport {
                tenant: a,
                name: "mine.yml",
                yaml: "title: x\n",
                rule_ids: &ids,
                filter_ids: &[],
                actor: "ann",
            })
            .unwrap();
        assert_eq!(imp.rule_ids, ids);
        assert_eq!(r.rule_imports(a).unwrap(), vec![imp.clone()]);
        assert_eq!(r.rule_import(a, imp.id).unwrap(), Some(imp.clone()));
        assert_eq!(r.rule_import(b, imp.id).unwrap(), None);
        assert!(r.rule_imports(b).unwrap().is_empty());
        assert_eq!(r.all_rule_imports().unwrap().len(), 1);
        // Another tenant cannot delete it; its own can, once.
        assert!(!r.delete_rule_import(b, imp.id, "bob").unwrap());
        assert!(r.delete_rule_import(a, imp.id, "ann").unwrap());
        assert!(!r.delete_rule_import(a, imp.id, "ann").unwrap());
        assert!(r.rule_imports(a).unwrap().is_empty());
        let trail = r.audit_log(a, None, 10).unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, vec!["rule.import_delete", "rule.import"]);
        assert!(trail[1].detail.contains(&sha256_hex("title: x\n")));
        assert!(r.audit_log(b, None, 10).unwrap().is_empty());
        let big = "#".repeat(MAX_IMPORT_BYTES + 1);
        let too_big = r.import_rules(&NewRuleImport {
            tenant: a,
            name: "big.yml",
            yaml: &big,
            rule_ids: &[],
            filter_ids: &[],
            actor: "ann",
        });
        assert!(matches!(too_big, Err(MetaError::Invalid(_))));
        let unnamed = r.import_rules(&NewRuleImport {
            tenant: a,
            name: " ",
            yaml: "title: x\n",
            rule_ids: &[],
            filter_ids: &[],
            actor: "ann",
        });
        assert!(matches!(unnamed, Err(MetaError::Invalid(_))));
    }
}
