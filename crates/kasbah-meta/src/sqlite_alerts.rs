//! The SQLite implementation of [`AlertRepo`]: alerts with deduplication on insert, their
//! lifecycle and comments, suppressions, per-tenant rule states and the audit trail.
//!
//! Lists (tags, entities, event ids) are stored as JSON text: they are only ever read and
//! written whole, never queried inside. Every query names the tenant, so an id of another
//! tenant behaves exactly like an id that does not exist.

use rusqlite::types::Value as SqlValue;
use rusqlite::{
    Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params, params_from_iter,
};
use serde_json::{Value as Json, json};

use kasbah_event::{Entity, EntityKind};

use crate::alert::{
    Alert, AlertFilter, AlertId, AlertKind, AlertRepo, AlertStatus, AlertUpdate, AuditEntry,
    Comment, MAX_EVENT_IDS, NewAlert, NewSuppression, Resolution, RuleState, Suppression,
};
use crate::sqlite::{SqliteRepo, now_ns};
use crate::{MetaError, Result, TenantId};

const ALERT_COLS: &str = "id, tenant_id, rule_id, rule_title, level, tags, kind, entities, \
     dedup_key, first_seen, last_seen, count, event_ids, retro, details, status, assignee, \
     resolution, resolution_note, created_at, updated_at";
const SUPPRESSION_COLS: &str = "id, tenant_id, rule_id, entity_kind, entity_value, reason, \
     created_by, expires_at, created_at, hits";
const COMMENT_COLS: &str = "id, alert_id, author, text, created_at";
const AUDIT_COLS: &str = "id, tenant_id, actor, action, target, detail, at, hash";

/// SQLite integers are signed; counters beyond `i64::MAX` stick there.
fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(crate) fn tenant_param(t: TenantId) -> i64 {
    i64::from(t.0)
}

/// A column holding something this module did not write (hand-edited database, newer version).
fn bad_column(col: usize, what: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into().into())
}

fn tenant_col(r: &Row<'_>, col: usize) -> rusqlite::Result<TenantId> {
    let v: i64 = r.get(col)?;
    u32::try_from(v)
        .map(TenantId)
        .map_err(|_| bad_column(col, format!("tenant id {v}")))
}

/// A JSON array of strings (tags, event ids).
fn strings_col(r: &Row<'_>, col: usize) -> rusqlite::Result<Vec<String>> {
    let s: String = r.get(col)?;
    serde_json::from_str(&s).map_err(|e| bad_column(col, e.to_string()))
}

fn entities_to_json(entities: &[Entity]) -> String {
    Json::Array(
        entities
            .iter()
            .map(|e| json!({"kind": e.kind.as_str(), "value": e.value}))
            .collect(),
    )
    .to_string()
}

fn entities_col(r: &Row<'_>, col: usize) -> rusqlite::Result<Vec<Entity>> {
    let s: String = r.get(col)?;
    let items: Vec<Json> = serde_json::from_str(&s).map_err(|e| bad_column(col, e.to_string()))?;
    items
        .iter()
        .map(|item| {
            let kind = item
                .get("kind")
                .and_then(Json::as_str)
                .and_then(EntityKind::parse);
            let value = item.get("value").and_then(Json::as_str);
            match (kind, value) {
                (Some(kind), Some(value)) => Ok(Entity::new(kind, value)),
                _ => Err(bad_column(col, format!("entity {item}"))),
            }
        })
        .collect()
}

fn enum_col<T>(r: &Row<'_>, col: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = r.get(col)?;
    parse(&s).ok_or_else(|| bad_column(col, format!("unknown value `{s}`")))
}

fn alert_row(r: &Row<'_>) -> rusqlite::Result<Alert> {
    let resolution = match r.get::<_, Option<String>>(17)? {
        Some(s) => Some(Resolution::parse(&s).ok_or_else(|| bad_column(17, s))?),
        None => None,
    };
    Ok(Alert {
        id: AlertId(r.get(0)?),
        alert: NewAlert {
            tenant: tenant_col(r, 1)?,
            rule_id: r.get(2)?,
            rule_title: r.get(3)?,
            level: r.get(4)?,
            tags: strings_col(r, 5)?,
            kind: enum_col(r, 6, AlertKind::parse)?,
            entities: entities_col(r, 7)?,
            dedup_key: r.get(8)?,
            first_seen: r.get(9)?,
            last_seen: r.get(10)?,
            count: to_u64(r.get(11)?),
            event_ids: strings_col(r, 12)?,
            retro: r.get(13)?,
            details: r.get(14)?,
        },
        status: enum_col(r, 15, AlertStatus::parse)?,
        assignee: r.get(16)?,
        resolution,
        resolution_note: r.get(18)?,
        created_at: r.get(19)?,
        updated_at: r.get(20)?,
    })
}

fn suppression_row(r: &Row<'_>) -> rusqlite::Result<Suppression> {
    let entity = match (
        r.get::<_, Option<String>>(3)?,
        r.get::<_, Option<String>>(4)?,
    ) {
        (Some(kind), Some(value)) => Some(Entity::new(
            EntityKind::parse(&kind).ok_or_else(|| bad_column(3, kind))?,
            value,
        )),
        _ => None,
    };
    Ok(Suppression {
        id: r.get(0)?,
        rule: NewSuppression {
            tenant: tenant_col(r, 1)?,
            rule_id: r.get(2)?,
            entity,
            reason: r.get(5)?,
            created_by: r.get(6)?,
            expires_at: r.get(7)?,
        },
        created_at: r.get(8)?,
        hits: to_u64(r.get(9)?),
    })
}

fn comment_row(r: &Row<'_>) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: r.get(0)?,
        alert: AlertId(r.get(1)?),
        author: r.get(2)?,
        text: r.get(3)?,
        created_at: r.get(4)?,
    })
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        tenant: tenant_col(r, 1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        detail: r.get(5)?,
        at: r.get(6)?,
        hash: r
            .get::<_, Option<Vec<u8>>>(7)?
            .map(|h| hex(&h))
            .unwrap_or_default(),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The newest link of a tenant's chain (zeros when it has none).
fn audit_head(c: &Connection, tenant: TenantId) -> Result<[u8; 32]> {
    let mut st = c.prepare_cached(
        "SELECT hash FROM audit_log WHERE tenant_id = ?1 AND hash IS NOT NULL          ORDER BY id DESC LIMIT 1",
    )?;
    let h: Option<Vec<u8>> = st
        .query_row(params![tenant_param(tenant)], |r| r.get(0))
        .optional()?;
    Ok(h.and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
        .unwrap_or([0; 32]))
}

/// Links entries written before the chain existed (schema 3), oldest first, per tenant.
pub(crate) fn chain_unlinked_audit(conn: &mut Connection) -> Result<()> {
    let tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
    let rows: Vec<AuditEntry> = {
        let mut st = tx.prepare(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE hash IS NULL ORDER BY id"
        ))?;
        st.query_map([], audit_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    for e in rows {
        let prev = audit_head(&tx, e.tenant)?;
        let h = crate::audit_hash(
            &prev, e.tenant, e.at, &e.actor, &e.action, &e.target, &e.detail,
        );
        tx.execute(
            "UPDATE audit_log SET hash = ?1 WHERE id = ?2",
            params![h.as_slice(), e.id],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn alert_not_found(id: AlertId) -> MetaError {
    MetaError::NotFound(format!("alert {}", id.0))
}

fn load_alert(c: &Connection, tenant: TenantId, id: AlertId) -> Result<Option<Alert>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {ALERT_COLS} FROM alerts WHERE id = ?1 AND tenant_id = ?2"
    ))?;
    Ok(st
        .query_row(params![id.0, tenant_param(tenant)], alert_row)
        .optional()?)
}

pub(crate) fn insert_audit(
    c: &Connection,
    tenant: TenantId,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    at: i64,
) -> Result<()> {
    let prev = audit_head(c, tenant)?;
    let hash = crate::audit_hash(&prev, tenant, at, actor, action, target, detail);
    let mut st = c.prepare_cached(
        "INSERT INTO audit_log (tenant_id, actor, action, target, detail, at, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    st.execute(params![
        tenant_param(tenant),
        actor,
        action,
        target,
        detail,
        at,
        hash.as_slice()
    ])?;
    Ok(())
}

/// `ids` without duplicates, at most [`MAX_EVENT_IDS`], first occurrence kept.
fn capped_unique(ids: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(ids.len().min(MAX_EVENT_IDS));
    append_ids(&mut out, ids);
    out
}

/// Appends the ids of `new` not already in `ids` until [`MAX_EVENT_IDS`]. The list is short
/// (bounded), so a linear membership test is cheaper than hashing.
fn append_ids<'a>(ids: &mut Vec<&'a str>, new: &'a [String]) {
    for id in new {
        if ids.len() >= MAX_EVENT_IDS {
            break;
        }
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
}

/// The `WHERE` clause (after `tenant_id = ?1`) and parameters of a filter; status, paging and
/// limit only when `paged` (counts ignore them).
fn filter_sql(tenant: TenantId, f: &AlertFilter, paged: bool) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("tenant_id = ?");
    let mut args = vec![SqlValue::Integer(tenant_param(tenant))];
    let mut push = |cond: &str, v: SqlValue| {
        sql.push_str(" AND ");
        sql.push_str(cond);
        args.push(v);
    };
    if paged && let Some(s) = f.status {
        push("status = ?", SqlValue::Text(s.as_str().into()));
    }
    if let Some(r) = &f.rule_id {
        push("rule_id = ?", SqlValue::Text(r.clone()));
    }
    if let Some(k) = f.kind {
        push("kind = ?", SqlValue::Text(k.as_str().into()));
    }
    if let Some(r) = f.retro {
        push("retro = ?", SqlValue::Integer(i64::from(r)));
    }
    if let Some(t) = f.from {
        push("last_seen >= ?", SqlValue::Integer(t));
    }
    if let Some(t) = f.to {
        push("first_seen < ?", SqlValue::Integer(t));
    }
    if let Some(a) = &f.assignee {
        push("assignee = ?", SqlValue::Text(a.clone()));
    }
    if paged && let Some(b) = f.before {
        push("id < ?", SqlValue::Integer(b.0));
    }
    if !f.levels.is_empty() {
        sql.push_str(" AND level IN (");
        for (i, l) in f.levels.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
            args.push(SqlValue::Text(l.clone()));
        }
        sql.push(')');
    }
    (sql, args)
}

/// A validated, non-blank string.
fn require(what: &str, s: &str) -> Result<()> {
    if s.trim().is_empty() {
        Err(MetaError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

impl AlertRepo for SqliteRepo {
    fn record_alerts(
        &self,
        alerts: &[NewAlert],
        dedup_window_ns: i64,
    ) -> Result<Vec<(AlertId, bool)>> {
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        // A negative window would demand a gap between alerts; treat it as "overlapping only".
        let window = dedup_window_ns.max(0);
        // Oldest first, so an input merges into the slice's earlier ones regardless of the
        // order the detection path emitted them in (the window is measured forwards).
        let mut order: Vec<usize> = (0..alerts.len()).collect();
        order.sort_by_key(|&i| alerts.get(i).map_or(0, |a| a.first_seen));
        let now = now_ns();
        self.with_tx(|tx| {
            let mut find = tx.prepare_cached(
                "SELECT id, first_seen, last_seen, count, event_ids FROM alerts \
                 WHERE tenant_id = ?1 AND dedup_key = ?2 AND status IN ('open', 'acknowledged') \
                 AND last_seen >= ?3 ORDER BY last_seen DESC, id DESC LIMIT 1",
            )?;
            let mut merge = tx.prepare_cached(
                "UPDATE alerts SET first_seen = ?2, last_seen = ?3, count = ?4, event_ids = ?5, \
                 updated_at = ?6 WHERE id = ?1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO alerts (tenant_id, rule_id, rule_title, level, tags, kind, entities, \
                 dedup_key, first_seen, last_seen, count, event_ids, retro, details, status, \
                 created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'open', ?15, ?15)",
            )?;
            let mut out = vec![(AlertId(0), false); alerts.len()];
            for i in order {
                let (Some(a), Some(slot)) = (alerts.get(i), out.get_mut(i)) else {
                    continue;
                };
                let tenant = tenant_param(a.tenant);
                let found = find
                    .query_row(
                        params![tenant, a.dedup_key, a.first_seen.saturating_sub(window)],
                        |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, i64>(3)?,
                                r.get::<_, String>(4)?,
                            ))
                        },
                    )
                    .optional()?;
                *slot = match found {
                    Some((id, first, last, count, ids_json)) => {
                        let stored: Vec<String> = serde_json::from_str(&ids_json).map_err(|e| {
                            MetaError::Invalid(format!("alert {id}: stored event ids: {e}"))
                        })?;
                        // A full list is left as stored: no need to rewrite it.
                        let ids_json = if stored.len() >= MAX_EVENT_IDS {
                            ids_json
                        } else {
                            let mut ids: Vec<&str> = stored.iter().map(String::as_str).collect();
                            append_ids(&mut ids, &a.event_ids);
                            serde_json::to_string(&ids).unwrap_or_default()
                        };
                        merge.execute(params![
                            id,
                            first.min(a.first_seen),
                            last.max(a.last_seen),
                            count.saturating_add(to_i64(a.count)),
                            ids_json,
                            now,
                        ])?;
                        (AlertId(id), false)
                    }
                    None => {
                        insert.execute(params![
                            tenant,
                            a.rule_id,
                            a.rule_title,
                            a.level,
                            serde_json::to_string(&a.tags).unwrap_or_default(),
                            a.kind.as_str(),
                            entities_to_json(&a.entities),
                            a.dedup_key,
                            a.first_seen,
                            a.last_seen,
                            to_i64(a.count),
                            serde_json::to_string(&capped_unique(&a.event_ids))
                                .unwrap_or_default(),
                            a.retro,
                            a.details,
                            now,
                        ])?;
                        (AlertId(tx.last_insert_rowid()), true)
                    }
                };
            }
            Ok(out)
        })
    }

    fn alerts(&self, tenant: TenantId, filter: &AlertFilter) -> Result<Vec<Alert>> {
        let (cond, args) = filter_sql(tenant, filter, true);
        // LIMIT -1 is SQLite's "no limit".
        let limit = if filter.limit == 0 {
            -1
        } else {
            i64::try_from(filter.limit).unwrap_or(i64::MAX)
        };
        let sql =
            format!("SELECT {ALERT_COLS} FROM alerts WHERE {cond} ORDER BY id DESC LIMIT {limit}");
        self.with(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st
                .query_map(params_from_iter(args), alert_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn count_alerts(&self, tenant: TenantId, filter: &AlertFilter) -> Result<[u64; 3]> {
        let (cond, args) = filter_sql(tenant, filter, false);
        let sql = format!("SELECT status, COUNT(*) FROM alerts WHERE {cond} GROUP BY status");
        self.with(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query(params_from_iter(args))?;
            let mut counts = [0u64; 3];
            while let Some(r) = rows.next()? {
                let n = to_u64(r.get(1)?);
                let slot = match enum_col(r, 0, AlertStatus::parse)? {
                    AlertStatus::Open => &mut counts[0],
                    AlertStatus::Acknowledged => &mut counts[1],
                    AlertStatus::Closed => &mut counts[2],
                };
                *slot = n;
            }
            Ok(counts)
        })
    }

    fn alert(&self, tenant: TenantId, id: AlertId) -> Result<Option<Alert>> {
        self.with(|c| load_alert(c, tenant, id))
    }

    fn update_alert(
        &self,
        tenant: TenantId,
        id: AlertId,
        update: &AlertUpdate,
        actor: &str,
    ) -> Result<Alert> {
        if let AlertUpdate::Assign(Some(who)) = update {
            require("assignee", who)?;
        }
        self.with_tx(|tx| {
            let cur = load_alert(tx, tenant, id)?.ok_or_else(|| alert_not_found(id))?;
            let now = now_ns();
            let from = cur.status.as_str();
            // (action, detail) when the update changes something; a no-op (acknowledging an
            // acknowledged or closed alert, assigning to the current assignee) writes nothing.
            let change = match update {
                AlertUpdate::Acknowledge if cur.status == AlertStatus::Open => {
                    tx.execute(
                        "UPDATE alerts SET status = 'acknowledged', updated_at = ?2 WHERE id = ?1",
                        params![id.0, now],
                    )?;
                    Some((
                        "alert.acknowledge",
                        json!({"from": from, "to": "acknowledged"}),
                    ))
                }
                AlertUpdate::Acknowledge => None,
                AlertUpdate::Assign(who) if *who != cur.assignee => {
                    tx.execute(
                        "UPDATE alerts SET assignee = ?2, updated_at = ?3 WHERE id = ?1",
                        params![id.0, who, now],
                    )?;
                    Some(("alert.assign", json!({"from": cur.assignee, "to": who})))
                }
                AlertUpdate::Assign(_) => None,
                AlertUpdate::Close { resolution, note } => {
                    let note = note.as_deref().filter(|n| !n.trim().is_empty());
                    let unchanged = cur.status == AlertStatus::Closed
                        && cur.resolution == Some(*resolution)
                        && cur.resolution_note.as_deref() == note;
                    if unchanged {
                        None
                    } else {
                        tx.execute(
                            "UPDATE alerts SET status = 'closed', resolution = ?2, \
                             resolution_note = ?3, updated_at = ?4 WHERE id = ?1",
                            params![id.0, resolution.as_str(), note, now],
                        )?;
                        Some((
                            "alert.close",
                            json!({"from": from, "resolution": resolution.as_str(), "note": note}),
                        ))
                    }
                }
                AlertUpdate::Reopen if cur.status != AlertStatus::Open => {
                    tx.execute(
                        "UPDATE alerts SET status = 'open', resolution = NULL, \
                         resolution_note = NULL, updated_at = ?2 WHERE id = ?1",
                        params![id.0, now],
                    )?;
                    Some((
                        "alert.reopen",
                        json!({"from": from, "resolution": cur.resolution.map(Resolution::as_str)}),
                    ))
                }
                AlertUpdate::Reopen => None,
            };
            let Some((action, detail)) = change else {
                return Ok(cur);
            };
            let target = format!("alert:{}", id.0);
            insert_audit(tx, tenant, actor, action, &target, &detail.to_string(), now)?;
            load_alert(tx, tenant, id)?.ok_or_else(|| alert_not_found(id))
        })
    }

    fn comment(&self, tenant: TenantId, id: AlertId, author: &str, text: &str) -> Result<Comment> {
        require("comment text", text)?;
        self.with_tx(|tx| {
            if load_alert(tx, tenant, id)?.is_none() {
                return Err(alert_not_found(id));
            }
            let now = now_ns();
            tx.execute(
                "INSERT INTO alert_comments (alert_id, tenant_id, author, text, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.0, tenant_param(tenant), author, text, now],
            )?;
            let comment = Comment {
                id: tx.last_insert_rowid(),
                alert: id,
                author: author.to_string(),
                text: text.to_string(),
                created_at: now,
            };
            let detail = json!({"comment": comment.id}).to_string();
            let target = format!("alert:{}", id.0);
            insert_audit(tx, tenant, author, "alert.comment", &target, &detail, now)?;
            Ok(comment)
        })
    }

    fn comments(&self, tenant: TenantId, id: AlertId) -> Result<Vec<Comment>> {
        self.with(|c| {
            if load_alert(c, tenant, id)?.is_none() {
                return Err(alert_not_found(id));
            }
            let mut st = c.prepare_cached(&format!(
                "SELECT {COMMENT_COLS} FROM alert_comments WHERE alert_id = ?1 AND tenant_id = ?2 \
                 ORDER BY id"
            ))?;
            let rows = st
                .query_map(params![id.0, tenant_param(tenant)], comment_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn create_suppression(&self, s: &NewSuppression) -> Result<Suppression> {
        require("suppression reason", &s.reason)?;
        if s.rule_id.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err(MetaError::Invalid(
                "suppression rule id must not be empty (omit it for every rule)".into(),
            ));
        }
        self.with_tx(|tx| {
            let now = now_ns();
            tx.execute(
                "INSERT INTO suppressions (tenant_id, rule_id, entity_kind, entity_value, reason, \
                 created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    tenant_param(s.tenant),
                    s.rule_id,
                    s.entity.as_ref().map(|e| e.kind.as_str()),
                    s.entity.as_ref().map(|e| e.value.as_str()),
                    s.reason,
                    s.created_by,
                    now,
                    s.expires_at,
                ],
            )?;
            let id = tx.last_insert_rowid();
            let detail = json!({
                "rule_id": s.rule_id,
                "entity": s.entity.as_ref().map(Entity::to_string),
                "reason": s.reason,
                "expires_at": s.expires_at,
            });
            insert_audit(
                tx,
                s.tenant,
                &s.created_by,
                "suppression.create",
                &format!("suppression:{id}"),
                &detail.to_string(),
                now,
            )?;
            Ok(Suppression {
                id,
                rule: s.clone(),
                created_at: now,
                hits: 0,
            })
        })
    }

    fn suppressions(
        &self,
        tenant: TenantId,
        now: i64,
        include_expired: bool,
    ) -> Result<Vec<Suppression>> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {SUPPRESSION_COLS} FROM suppressions WHERE tenant_id = ?1 \
                 AND (?3 OR expires_at IS NULL OR expires_at > ?2) ORDER BY id"
            ))?;
            let rows = st
                .query_map(
                    params![tenant_param(tenant), now, include_expired],
                    suppression_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn count_suppressed(&self, hits: &[(i64, u64)]) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        self.with_tx(|tx| {
            let mut st =
                tx.prepare_cached("UPDATE suppressions SET hits = hits + ?2 WHERE id = ?1")?;
            for &(id, n) in hits {
                // A suppression deleted meanwhile simply matches no row.
                st.execute(params![id, to_i64(n)])?;
            }
            Ok(())
        })
    }

    fn delete_suppression(&self, tenant: TenantId, id: i64, actor: &str) -> Result<bool> {
        self.with_tx(|tx| {
            let old = tx
                .query_row(
                    &format!(
                        "SELECT {SUPPRESSION_COLS} FROM suppressions WHERE id = ?1 AND tenant_id = ?2"
                    ),
                    params![id, tenant_param(tenant)],
                    suppression_row,
                )
                .optional()?;
            let Some(old) = old else {
                return Ok(false);
            };
            tx.execute("DELETE FROM suppressions WHERE id = ?1", params![id])?;
            // The row is gone: the audit entry keeps what it was.
            let detail = json!({
                "rule_id": old.rule.rule_id,
                "entity": old.rule.entity.as_ref().map(Entity::to_string),
                "reason": old.rule.reason,
                "created_by": old.rule.created_by,
                "hits": old.hits,
            });
            insert_audit(
                tx,
                tenant,
                actor,
                "suppression.delete",
                &format!("suppression:{id}"),
                &detail.to_string(),
                now_ns(),
            )?;
            Ok(true)
        })
    }

    fn set_rule_enabled(
        &self,
        tenant: TenantId,
        rule_id: &str,
        enabled: bool,
        actor: &str,
    ) -> Result<()> {
        require("rule id", rule_id)?;
        self.with_tx(|tx| {
            let now = now_ns();
            tx.execute(
                "INSERT INTO rule_states (tenant_id, rule_id, enabled, updated_by, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant_id, rule_id) DO UPDATE SET \
                 enabled = excluded.enabled, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at",
                params![tenant_param(tenant), rule_id, enabled, actor, now],
            )?;
            let action = if enabled {
                "rule.enable"
            } else {
                "rule.disable"
            };
            insert_audit(
                tx,
                tenant,
                actor,
                action,
                &format!("rule:{rule_id}"),
                &json!({"enabled": enabled}).to_string(),
                now,
            )
        })
    }

    fn rule_states(&self, tenant: TenantId) -> Result<Vec<RuleState>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT rule_id, enabled, updated_by, updated_at FROM rule_states \
                 WHERE tenant_id = ?1 ORDER BY rule_id",
            )?;
            let rows = st
                .query_map([tenant_param(tenant)], |r| {
                    Ok(RuleState {
                        rule_id: r.get(0)?,
                        enabled: r.get(1)?,
                        updated_by: r.get(2)?,
                        updated_at: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn audit(
        &self,
        tenant: TenantId,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        require("audit action", action)?;
        // The trail is read by tools expecting an object; an empty detail means "nothing more".
        let detail = if detail.trim().is_empty() {
            "{}"
        } else {
            detail
        };
        if !matches!(serde_json::from_str::<Json>(detail), Ok(Json::Object(_))) {
            return Err(MetaError::Invalid(
                "audit detail must be a JSON object".into(),
            ));
        }
        // In a write transaction: reading the chain's head and appending must not interleave
        // with another writer (the CLI writes to the same database).
        self.with_tx(|c| insert_audit(c, tenant, actor, action, target, detail, now_ns()))
    }

    fn verify_audit(&self) -> Result<Vec<crate::AuditChain>> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {AUDIT_COLS} FROM audit_log ORDER BY id"))?;
            let mut chains: std::collections::BTreeMap<u32, ([u8; 32], crate::AuditChain)> =
                std::collections::BTreeMap::new();
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let e = audit_row(r)?;
                let stored: Option<Vec<u8>> = r.get(7)?;
                let (prev, chain) = chains.entry(e.tenant.0).or_insert_with(|| {
                    (
                        [0; 32],
                        crate::AuditChain {
                            tenant: e.tenant,
                            entries: 0,
                            head: None,
                            broken: None,
                        },
                    )
                });
                chain.entries += 1;
                if chain.broken.is_some() {
                    continue;
                }
                let want = crate::audit_hash(
                    prev, e.tenant, e.at, &e.actor, &e.action, &e.target, &e.detail,
                );
                match stored.as_deref() {
                    Some(h) if h == want.as_slice() => {
                        *prev = want;
                        chain.head = Some(hex(&want));
                    }
                    Some(_) => {
                        chain.broken = Some((
                            e.id,
                            "its content or an earlier entry was changed or removed".into(),
                        ));
                    }
                    None => chain.broken = Some((e.id, "it has no hash".into())),
                }
            }
            Ok(chains.into_values().map(|(_, c)| c).collect())
        })
    }

    fn audit_log(
        &self,
        tenant: TenantId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        let limit = if limit == 0 {
            -1
        } else {
            i64::try_from(limit).unwrap_or(i64::MAX)
        };
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log WHERE tenant_id = ?1 AND id < ?2 \
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = st
                .query_map(
                    params![tenant_param(tenant), before.unwrap_or(i64::MAX), limit],
                    audit_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn find_audit(&self, tenant: TenantId, q: &crate::AuditQuery) -> Result<Vec<AuditEntry>> {
        let limit = if q.limit == 0 {
            -1
        } else {
            i64::try_from(q.limit).unwrap_or(i64::MAX)
        };
        let text = q.text.as_deref().unwrap_or("").to_lowercase();
        let action = q.action.as_deref().unwrap_or("");
        self.with(|c| {
            // instr on lower-cased text: a substring search with no LIKE wildcards to escape.
            let mut st = c.prepare_cached(&format!(
                "SELECT {AUDIT_COLS} FROM audit_log WHERE tenant_id = ?1 AND id < ?2 \
                 AND (?4 = '' OR instr(lower(actor || ' ' || action || ' ' || target || ' ' || detail), ?4) > 0) \
                 AND (?5 = '' OR action = ?5) \
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = st
                .query_map(
                    params![
                        tenant_param(tenant),
                        q.before.unwrap_or(i64::MAX),
                        limit,
                        text,
                        action
                    ],
                    audit_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::sqlite::MIGRATIONS;
    use crate::{MetaRepo, hash_secret};

    const A: TenantId = TenantId(1);
    const B: TenantId = TenantId(2);
    const WINDOW: i64 = 1_000;

    fn alert(tenant: TenantId, key: &str, first: i64, last: i64, ids: &[&str]) -> NewAlert {
        NewAlert {
            tenant,
            rule_id: "r-1".into(),
            rule_title: "Encoded PowerShell".into(),
            level: "high".into(),
            tags: vec!["attack.t1059.001".into(), "attack.execution".into()],
            kind: AlertKind::Detection,
            entities: vec![
                Entity::new(EntityKind::Host, "WS01"),
                Entity::new(EntityKind::User, "alice"),
            ],
            dedup_key: key.into(),
            first_seen: first,
            last_seen: last,
            count: ids.len() as u64,
            event_ids: ids.iter().map(|s| s.to_string()).collect(),
            retro: false,
            details: r#"{"CommandLine":"powershell -enc AAAA"}"#.into(),
        }
    }

    fn one(r: &SqliteRepo, a: NewAlert) -> (AlertId, bool) {
        r.record_alerts(&[a], WINDOW).unwrap()[0]
    }

    fn get(r: &SqliteRepo, t: TenantId, id: AlertId) -> Alert {
        r.alert(t, id).unwrap().unwrap()
    }

    fn ids(alerts: &[Alert]) -> Vec<i64> {
        alerts.iter().map(|a| a.id.0).collect()
    }

    fn actions(r: &SqliteRepo, t: TenantId) -> Vec<(String, String)> {
        r.audit_log(t, None, 0)
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.target))
            .collect()
    }

    fn detail(e: &AuditEntry) -> serde_json::Map<String, Json> {
        match serde_json::from_str(&e.detail).unwrap() {
            Json::Object(m) => m,
            other => panic!("detail is not an object: {other}"),
        }
    }

    #[test]
    fn stored_alert_round_trips() {
        let r = SqliteRepo::in_memory().unwrap();
        let mut a = alert(A, "k", 10, 20, &["e1", "e2"]);
        a.kind = AlertKind::Correlation;
        a.retro = true;
        a.entities.push(Entity::new(EntityKind::Ip, "10.0.0.1"));
        a.entities
            .push(Entity::new(EntityKind::Process, r#"C:\x "y".exe"#));
        let (id, created) = one(&r, a.clone());
        assert!(created);
        let got = get(&r, A, id);
        assert_eq!(got.alert, a);
        assert_eq!(got.status, AlertStatus::Open);
        assert_eq!(
            (got.assignee, got.resolution, got.resolution_note),
            (None, None, None)
        );
        assert_eq!(got.created_at, got.updated_at);
        assert!(r.alert(A, AlertId(id.0 + 1)).unwrap().is_none());
    }

    #[test]
    fn dedup_merges_within_the_window_only() {
        let r = SqliteRepo::in_memory().unwrap();
        let (id, created) = one(&r, alert(A, "k", 100, 200, &["e1", "e2"]));
        assert!(created);
        let before = get(&r, A, id);
        std::thread::sleep(std::time::Duration::from_millis(2));

        // Starts 1000 ns after the stored last_seen: exactly at the window's edge.
        let mut b = alert(A, "k", 1_200, 1_300, &["e2", "e3", "e4"]);
        b.tags = vec!["other".into()];
        b.entities = vec![Entity::new(EntityKind::Host, "WS99")];
        b.details = "{}".into();
        assert_eq!(one(&r, b), (id, false));
        let merged = get(&r, A, id);
        assert_eq!(merged.alert.count, 5);
        assert_eq!(
            (merged.alert.first_seen, merged.alert.last_seen),
            (100, 1_300)
        );
        assert_eq!(merged.alert.event_ids, ["e1", "e2", "e3", "e4"]);
        assert_eq!(merged.alert.tags, before.alert.tags);
        assert_eq!(merged.alert.entities, before.alert.entities);
        assert_eq!(merged.alert.details, before.alert.details);
        assert_eq!(merged.created_at, before.created_at);
        assert!(merged.updated_at > before.updated_at);

        // An earlier input widens first_seen.
        assert_eq!(one(&r, alert(A, "k", 50, 60, &["e0"])), (id, false));
        let merged = get(&r, A, id);
        assert_eq!(
            (merged.alert.first_seen, merged.alert.last_seen),
            (50, 1_300)
        );

        // One ns past the window: a new alert.
        let (id2, created) = one(&r, alert(A, "k", 2_301, 2_400, &["e9"]));
        assert!(created);
        assert_ne!(id2, id);
        // Later inputs join the most recent alert of the key.
        assert_eq!(one(&r, alert(A, "k", 2_500, 2_600, &[])), (id2, false));
        // Another key never merges.
        assert!(one(&r, alert(A, "other", 2_500, 2_600, &[])).1);
        assert_eq!(get(&r, A, id).alert.count, 6);
        assert_eq!(r.alerts(A, &AlertFilter::default()).unwrap().len(), 3);
    }

    #[test]
    fn closed_alerts_take_no_merges_but_acknowledged_ones_do() {
        let r = SqliteRepo::in_memory().unwrap();
        let (id, _) = one(&r, alert(A, "k", 0, 10, &["e1"]));
        r.update_alert(A, id, &AlertUpdate::Acknowledge, "ann")
            .unwrap();
        assert_eq!(one(&r, alert(A, "k", 20, 30, &["e2"])), (id, false));
        let close = AlertUpdate::Close {
            resolution: Resolution::TruePositive,
            note: None,
        };
        r.update_alert(A, id, &close, "ann").unwrap();
        let (id2, created) = one(&r, alert(A, "k", 40, 50, &["e3"]));
        assert!(created && id2 != id);
        assert_eq!(get(&r, A, id).alert.count, 2);
        assert_eq!(get(&r, A, id2).alert.count, 1);
    }

    #[test]
    fn inputs_of_one_slice_merge_with_each_other() {
        let r = SqliteRepo::in_memory().unwrap();
        let slice = [
            alert(A, "k", 500, 600, &["e3"]),
            alert(A, "k", 0, 100, &["e1"]),
            alert(A, "other", 0, 100, &["x"]),
            alert(A, "k", 300, 350, &["e2", "e1"]),
            alert(B, "k", 0, 100, &["b"]),
        ];
        let out = r.record_alerts(&slice, 250).unwrap();
        let k = out[1].0;
        // The oldest input creates the alert wherever it is in the slice.
        assert_eq!(out[1], (k, true));
        assert_eq!(out[0], (k, false));
        assert_eq!(out[3], (k, false));
        assert!(out[2].1 && out[2].0 != k);
        assert!(out[4].1 && out[4].0 != k && out[4].0 != out[2].0);
        let got = get(&r, A, k);
        assert_eq!(got.alert.count, 4);
        assert_eq!((got.alert.first_seen, got.alert.last_seen), (0, 600));
        assert_eq!(got.alert.event_ids, ["e1", "e2", "e3"]);

        // Too far apart within one slice: two alerts.
        let out = r
            .record_alerts(
                &[alert(A, "far", 0, 10, &[]), alert(A, "far", 100, 110, &[])],
                50,
            )
            .unwrap();
        assert!(out[0].1 && out[1].1 && out[0].0 != out[1].0);
        assert!(r.record_alerts(&[], WINDOW).unwrap().is_empty());
    }

    #[test]
    fn event_ids_are_capped_and_unique_while_the_count_grows() {
        let r = SqliteRepo::in_memory().unwrap();
        let many: Vec<String> = (0..150).map(|i| format!("e{}", i % 120)).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (id, _) = one(&r, alert(A, "big", 0, 1, &refs));
        let got = get(&r, A, id);
        assert_eq!(got.alert.event_ids.len(), MAX_EVENT_IDS);
        assert_eq!(got.alert.event_ids[99], "e99");
        assert_eq!(got.alert.count, 150);

        let (id, _) = one(&r, alert(A, "k", 0, 1, &refs[..90]));
        assert_eq!(get(&r, A, id).alert.event_ids.len(), 90);
        let next: Vec<String> = (85..130).map(|i| format!("e{i}")).collect();
        let next: Vec<&str> = next.iter().map(String::as_str).collect();
        one(&r, alert(A, "k", 2, 3, &next));
        let got = get(&r, A, id);
        let want: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
        assert_eq!(got.alert.event_ids, want);
        assert_eq!(got.alert.count, 135);
        // Full: further merges only count.
        one(&r, alert(A, "k", 4, 5, &["new"]));
        let got = get(&r, A, id);
        assert_eq!(got.alert.event_ids, want);
        assert_eq!(got.alert.count, 136);
    }

    #[test]
    fn every_method_is_scoped_by_tenant() {
        let r = SqliteRepo::in_memory().unwrap();
        let (id, _) = one(&r, alert(A, "k", 0, 10, &["e1"]));
        // B's alert with the same key is its own.
        let (bid, created) = one(&r, alert(B, "k", 5, 10, &["b1"]));
        assert!(created && bid != id);
        assert_eq!(get(&r, A, id).alert.count, 1);

        assert!(r.alert(B, id).unwrap().is_none());
        assert_eq!(ids(&r.alerts(B, &AlertFilter::default()).unwrap()), [bid.0]);
        assert_eq!(
            r.count_alerts(B, &AlertFilter::default()).unwrap(),
            [1, 0, 0]
        );
        let updates = [
            AlertUpdate::Acknowledge,
            AlertUpdate::Assign(Some("mallory".into())),
            AlertUpdate::Close {
                resolution: Resolution::FalsePositive,
                note: None,
            },
            AlertUpdate::Reopen,
        ];
        for u in &updates {
            assert!(matches!(
                r.update_alert(B, id, u, "mallory"),
                Err(MetaError::NotFound(_))
            ));
        }
        assert!(matches!(
            r.comment(B, id, "mallory", "hi"),
            Err(MetaError::NotFound(_))
        ));
        r.comment(A, id, "ann", "mine").unwrap();
        assert!(matches!(r.comments(B, id), Err(MetaError::NotFound(_))));
        assert_eq!(r.comments(A, id).unwrap().len(), 1);
        let untouched = get(&r, A, id);
        assert_eq!(untouched.status, AlertStatus::Open);
        assert_eq!(untouched.assignee, None);

        let s = r
            .create_suppression(&NewSuppression {
                tenant: A,
                rule_id: None,
                entity: None,
                reason: "lab".into(),
                created_by: "ann".into(),
                expires_at: None,
            })
            .unwrap();
        assert!(!r.delete_suppression(B, s.id, "mallory").unwrap());
        assert!(r.suppressions(B, 0, true).unwrap().is_empty());
        assert_eq!(r.suppressions(A, 0, true).unwrap(), [s]);

        r.set_rule_enabled(A, "r-1", false, "ann").unwrap();
        assert!(r.rule_states(B).unwrap().is_empty());
        assert_eq!(r.rule_states(A).unwrap().len(), 1);

        // B's failed attempts left no trace; A's trail is A's.
        assert!(r.audit_log(B, None, 0).unwrap().is_empty());
        let trail = r.audit_log(A, None, 0).unwrap();
        assert_eq!(trail.len(), 3);
        assert!(trail.iter().all(|e| e.tenant == A && e.actor == "ann"));
    }

    #[test]
    fn every_filter_is_honoured() {
        let r = SqliteRepo::in_memory().unwrap();
        let mk = |rule: &str, level: &str, kind, retro, first, last| {
            let mut a = alert(A, &format!("{rule}-{first}"), first, last, &[]);
            a.rule_id = rule.into();
            a.level = level.into();
            a.kind = kind;
            a.retro = retro;
            a
        };
        use AlertKind::*;
        let slice = [
            mk("r1", "low", Detection, false, 0, 10),
            mk("r1", "high", Detection, true, 20, 30),
            mk("r2", "critical", Correlation, false, 40, 50),
            mk("r2", "medium", Anomaly, false, 60, 70),
            mk("r3", "high", Detection, false, 80, 90),
        ];
        let id: Vec<i64> = r
            .record_alerts(&slice, 0)
            .unwrap()
            .iter()
            .map(|x| x.0.0)
            .collect();
        assert_eq!(r.alerts(B, &AlertFilter::default()).unwrap().len(), 0);
        r.update_alert(A, AlertId(id[1]), &AlertUpdate::Acknowledge, "ann")
            .unwrap();
        r.update_alert(
            A,
            AlertId(id[2]),
            &AlertUpdate::Close {
                resolution: Resolution::Duplicate,
                note: None,
            },
            "ann",
        )
        .unwrap();
        r.update_alert(
            A,
            AlertId(id[3]),
            &AlertUpdate::Assign(Some("bob".into())),
            "ann",
        )
        .unwrap();

        let list = |f: AlertFilter| ids(&r.alerts(A, &f).unwrap());
        let rev = |xs: &[usize]| xs.iter().map(|&i| id[i]).collect::<Vec<_>>();
        assert_eq!(list(AlertFilter::default()), rev(&[4, 3, 2, 1, 0]));
        let f = AlertFilter::default;
        assert_eq!(
            list(AlertFilter {
                status: Some(AlertStatus::Open),
                ..f()
            }),
            rev(&[4, 3, 0])
        );
        assert_eq!(
            list(AlertFilter {
                status: Some(AlertStatus::Acknowledged),
                ..f()
            }),
            rev(&[1])
        );
        assert_eq!(
            list(AlertFilter {
                rule_id: Some("r2".into()),
                ..f()
            }),
            rev(&[3, 2])
        );
        assert_eq!(
            list(AlertFilter {
                levels: vec!["high".into(), "critical".into()],
                ..f()
            }),
            rev(&[4, 2, 1])
        );
        assert_eq!(
            list(AlertFilter {
                kind: Some(Anomaly),
                ..f()
            }),
            rev(&[3])
        );
        assert_eq!(
            list(AlertFilter {
                retro: Some(true),
                ..f()
            }),
            rev(&[1])
        );
        assert_eq!(
            list(AlertFilter {
                retro: Some(false),
                ..f()
            }),
            rev(&[4, 3, 2, 0])
        );
        // from: last_seen >= from (50 is alert 2's last_seen: included).
        assert_eq!(
            list(AlertFilter {
                from: Some(50),
                ..f()
            }),
            rev(&[4, 3, 2])
        );
        // to: first_seen < to (40 is alert 2's first_seen: excluded).
        assert_eq!(
            list(AlertFilter {
                to: Some(40),
                ..f()
            }),
            rev(&[1, 0])
        );
        assert_eq!(
            list(AlertFilter {
                from: Some(25),
                to: Some(61),
                ..f()
            }),
            rev(&[3, 2, 1])
        );
        assert_eq!(
            list(AlertFilter {
                assignee: Some("bob".into()),
                ..f()
            }),
            rev(&[3])
        );
        assert_eq!(list(AlertFilter { limit: 2, ..f() }), rev(&[4, 3]));
        assert_eq!(
            list(AlertFilter {
                before: Some(AlertId(id[3])),
                limit: 2,
                ..f()
            }),
            rev(&[2, 1])
        );
        assert_eq!(
            list(AlertFilter {
                rule_id: Some("r1".into()),
                levels: vec!["low".into()],
                ..f()
            }),
            rev(&[0])
        );

        // Counts ignore status, before and limit, and honour the rest.
        assert_eq!(r.count_alerts(A, &f()).unwrap(), [3, 1, 1]);
        let ignored = AlertFilter {
            status: Some(AlertStatus::Closed),
            before: Some(AlertId(id[1])),
            limit: 1,
            ..f()
        };
        assert_eq!(r.count_alerts(A, &ignored).unwrap(), [3, 1, 1]);
        let honoured = AlertFilter {
            levels: vec!["high".into(), "critical".into()],
            from: Some(25),
            ..f()
        };
        assert_eq!(r.count_alerts(A, &honoured).unwrap(), [1, 1, 1]);
        let honoured = AlertFilter {
            rule_id: Some("r2".into()),
            kind: Some(Correlation),
            retro: Some(false),
            to: Some(100),
            ..f()
        };
        assert_eq!(r.count_alerts(A, &honoured).unwrap(), [0, 0, 1]);
        let honoured = AlertFilter {
            assignee: Some("bob".into()),
            ..f()
        };
        assert_eq!(r.count_alerts(A, &honoured).unwrap(), [1, 0, 0]);
    }

    #[test]
    fn lifecycle_transitions_are_audited() {
        let r = SqliteRepo::in_memory().unwrap();
        let (id, _) = one(&r, alert(A, "k", 0, 10, &["e1"]));
        let target = format!("alert:{}", id.0);
        let step = |u: AlertUpdate| r.update_alert(A, id, &u, "ann").unwrap();

        let a = step(AlertUpdate::Acknowledge);
        assert_eq!(a.status, AlertStatus::Acknowledged);
        assert!(a.updated_at >= a.created_at);
        // Already acknowledged: nothing changes, nothing is audited.
        assert_eq!(step(AlertUpdate::Acknowledge), a);

        let a = step(AlertUpdate::Assign(Some("bob".into())));
        assert_eq!(a.assignee.as_deref(), Some("bob"));
        assert_eq!(a.status, AlertStatus::Acknowledged);
        assert!(matches!(
            r.update_alert(A, id, &AlertUpdate::Assign(Some(" ".into())), "ann"),
            Err(MetaError::Invalid(_))
        ));

        let a = step(AlertUpdate::Close {
            resolution: Resolution::FalsePositive,
            note: Some("backup agent".into()),
        });
        assert_eq!(a.status, AlertStatus::Closed);
        assert_eq!(a.resolution, Some(Resolution::FalsePositive));
        assert_eq!(a.resolution_note.as_deref(), Some("backup agent"));
        assert_eq!(a.assignee.as_deref(), Some("bob"));
        // Closed stays closed unless reopened.
        assert_eq!(step(AlertUpdate::Acknowledge).status, AlertStatus::Closed);

        let a = step(AlertUpdate::Reopen);
        assert_eq!(a.status, AlertStatus::Open);
        assert_eq!((a.resolution, a.resolution_note.as_deref()), (None, None));
        assert_eq!(step(AlertUpdate::Reopen), a);
        let a = step(AlertUpdate::Assign(None));
        assert_eq!(a.assignee, None);

        assert!(matches!(
            r.comment(A, id, "ann", "  "),
            Err(MetaError::Invalid(_))
        ));
        let c1 = r.comment(A, id, "ann", "looking").unwrap();
        let c2 = r.comment(A, id, "bob", "done").unwrap();
        assert_eq!(r.comments(A, id).unwrap(), [c1.clone(), c2]);
        assert_eq!((c1.alert, c1.author.as_str()), (id, "ann"));

        let trail = r.audit_log(A, None, 0).unwrap();
        let got: Vec<(&str, &str, &str)> = trail
            .iter()
            .map(|e| (e.action.as_str(), e.target.as_str(), e.actor.as_str()))
            .collect();
        let t = target.as_str();
        assert_eq!(
            got,
            [
                ("alert.comment", t, "bob"),
                ("alert.comment", t, "ann"),
                ("alert.assign", t, "ann"),
                ("alert.reopen", t, "ann"),
                ("alert.close", t, "ann"),
                ("alert.assign", t, "ann"),
                ("alert.acknowledge", t, "ann"),
            ]
        );
        assert!(trail.windows(2).all(|w| w[0].id > w[1].id));
        let d = detail(&trail[4]);
        assert_eq!(d["resolution"], "false_positive");
        assert_eq!(d["note"], "backup agent");
        assert_eq!(d["from"], "acknowledged");
        assert_eq!(detail(&trail[3])["resolution"], "false_positive");
        assert_eq!(detail(&trail[5])["to"], "bob");
        assert_eq!(detail(&trail[1])["comment"], c1.id);
        assert_eq!(detail(&trail[6])["from"], "open");
        assert!(trail.iter().all(|e| e.at > 0 && e.tenant == A));

        // Paging the trail.
        let page = r.audit_log(A, Some(trail[2].id), 2).unwrap();
        assert_eq!(page, trail[3..5]);
        assert!(matches!(
            r.update_alert(A, AlertId(999), &AlertUpdate::Reopen, "ann"),
            Err(MetaError::NotFound(_))
        ));
    }

    #[test]
    fn suppressions_expire_count_hits_and_are_audited() {
        let r = SqliteRepo::in_memory().unwrap();
        let mk = |rule: Option<&str>, entity, expires_at| NewSuppression {
            tenant: A,
            rule_id: rule.map(str::to_string),
            entity,
            reason: "scanner".into(),
            created_by: "ann".into(),
            expires_at,
        };
        let host = Some(Entity::new(EntityKind::Host, "SCAN01"));
        let s1 = r
            .create_suppression(&mk(Some("r-1"), host, Some(100)))
            .unwrap();
        let s2 = r.create_suppression(&mk(None, None, None)).unwrap();
        let s3 = r
            .create_suppression(&mk(Some("r-2"), None, Some(1_000)))
            .unwrap();
        let mut blank = mk(None, None, None);
        blank.reason = " ".into();
        assert!(matches!(
            r.create_suppression(&blank),
            Err(MetaError::Invalid(_))
        ));

        assert_eq!(
            r.suppressions(A, 50, false).unwrap(),
            [s1.clone(), s2.clone(), s3.clone()]
        );
        // Expiry is exclusive: at 100 the first no longer applies.
        assert_eq!(
            r.suppressions(A, 100, false).unwrap(),
            [s2.clone(), s3.clone()]
        );
        assert_eq!(
            r.suppressions(A, 5_000, false).unwrap(),
            std::slice::from_ref(&s2)
        );
        assert_eq!(r.suppressions(A, 5_000, true).unwrap().len(), 3);

        r.count_suppressed(&[(s1.id, 3), (s2.id, 1), (9_999, 7)])
            .unwrap();
        r.count_suppressed(&[(s1.id, 2)]).unwrap();
        let hits: Vec<u64> = r
            .suppressions(A, 0, true)
            .unwrap()
            .iter()
            .map(|s| s.hits)
            .collect();
        assert_eq!(hits, [5, 1, 0]);

        assert!(r.delete_suppression(A, s1.id, "bob").unwrap());
        assert!(!r.delete_suppression(A, s1.id, "bob").unwrap());
        assert_eq!(r.suppressions(A, 0, true).unwrap().len(), 2);
        let trail = r.audit_log(A, None, 0).unwrap();
        assert_eq!(trail.len(), 4);
        assert_eq!(
            (
                trail[0].action.as_str(),
                trail[0].target.clone(),
                trail[0].actor.as_str()
            ),
            (
                "suppression.delete",
                format!("suppression:{}", s1.id),
                "bob"
            )
        );
        let d = detail(&trail[0]);
        assert_eq!(
            (d["hits"].as_u64(), d["entity"].as_str()),
            (Some(5), Some("host:SCAN01"))
        );
        assert!(trail[1..].iter().all(|e| e.action == "suppression.create"));
        assert_eq!(trail[3].target, format!("suppression:{}", s1.id));
        assert_eq!(detail(&trail[3])["expires_at"], 100);
    }

    #[test]
    fn rule_states_upsert_and_are_audited() {
        let r = SqliteRepo::in_memory().unwrap();
        r.set_rule_enabled(A, "r-1", false, "ann").unwrap();
        r.set_rule_enabled(A, "r-0", false, "ann").unwrap();
        r.set_rule_enabled(A, "r-1", true, "bob").unwrap();
        assert!(matches!(
            r.set_rule_enabled(A, "", false, "ann"),
            Err(MetaError::Invalid(_))
        ));
        let states = r.rule_states(A).unwrap();
        let got: Vec<(&str, bool, &str)> = states
            .iter()
            .map(|s| (s.rule_id.as_str(), s.enabled, s.updated_by.as_str()))
            .collect();
        assert_eq!(got, [("r-0", false, "ann"), ("r-1", true, "bob")]);
        assert!(states[1].updated_at >= states[0].updated_at);
        assert_eq!(
            actions(&r, A),
            [
                ("rule.enable".to_string(), "rule:r-1".to_string()),
                ("rule.disable".into(), "rule:r-0".into()),
                ("rule.disable".into(), "rule:r-1".into()),
            ]
        );
    }

    #[test]
    fn external_audit_entries_must_be_objects() {
        let r = SqliteRepo::in_memory().unwrap();
        r.audit(
            A,
            "token:ci",
            "token.create",
            "token:7",
            r#"{"label":"ci"}"#,
        )
        .unwrap();
        r.audit(A, "ann", "hunt.run", "rule:r-1", "").unwrap();
        for bad in ["[1]", "\"x\"", "{", "3"] {
            assert!(matches!(
                r.audit(A, "ann", "x", "y", bad),
                Err(MetaError::Invalid(_))
            ));
        }
        assert!(matches!(
            r.audit(A, "ann", " ", "y", "{}"),
            Err(MetaError::Invalid(_))
        ));
        let trail = r.audit_log(A, None, 10).unwrap();
        assert_eq!(trail.len(), 2);
        assert_eq!(trail[0].detail, "{}");
        assert_eq!(trail[1].detail, r#"{"label":"ci"}"#);
        assert_eq!(r.audit_log(A, None, 1).unwrap(), trail[..1]);
        // Searching: text anywhere (ignoring case, `%` and `_` are plain characters), an action.
        let all = crate::AuditQuery::default();
        assert_eq!(r.find_audit(A, &all).unwrap(), trail);
        let q = |text: &str, action: &str| crate::AuditQuery {
            text: (!text.is_empty()).then(|| text.to_owned()),
            action: (!action.is_empty()).then(|| action.to_owned()),
            ..crate::AuditQuery::default()
        };
        let first = &trail[0];
        let found = r
            .find_audit(A, &q(&first.actor.to_uppercase(), ""))
            .unwrap();
        assert!(found.iter().all(|e| {
            e.actor == first.actor
                || e.detail
                    .to_lowercase()
                    .contains(&first.actor.to_lowercase())
                || e.target
                    .to_lowercase()
                    .contains(&first.actor.to_lowercase())
                || e.action
                    .to_lowercase()
                    .contains(&first.actor.to_lowercase())
        }));
        assert!(found.contains(first));
        let by_action = r.find_audit(A, &q("", &first.action)).unwrap();
        assert!(!by_action.is_empty() && by_action.iter().all(|e| e.action == first.action));
        assert!(
            r.find_audit(A, &q("%", ""))
                .unwrap()
                .iter()
                .all(
                    |e| format!("{} {} {} {}", e.actor, e.action, e.target, e.detail).contains('%')
                )
        );
        assert!(r.find_audit(B, &q(&first.actor, "")).unwrap().is_empty());
    }

    /// A database as a release with only the first `n` migrations left it.
    fn database_at_version(p: &std::path::Path, n: usize) -> Connection {
        let c = Connection::open(p).unwrap();
        c.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            [],
        )
        .unwrap();
        for (i, sql) in MIGRATIONS.iter().take(n).enumerate() {
            c.execute_batch(sql).unwrap();
            c.execute(
                "INSERT INTO schema_migrations VALUES (?1, 1)",
                [i as i64 + 1],
            )
            .unwrap();
        }
        c
    }

    #[test]
    fn a_version_1_database_upgrades_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.db");
        {
            // What a release with only migration 1 left on disk.
            let c = database_at_version(&p, 1);
            c.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (1, 'acme', 1)",
                [],
            )
            .unwrap();
            c.execute(
                "INSERT INTO tokens (tenant_id, label, scopes, secret_sha256, created_at) \
                 VALUES (1, 'shipper', 'ingest', ?1, 1)",
                [hash_secret("kbh_old")],
            )
            .unwrap();
        }
        let r = SqliteRepo::open(&p).unwrap();
        assert_eq!(r.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(r.tenant_by_name("acme").unwrap().unwrap().id, A);
        let tok = r.verify_token("kbh_old", 2).unwrap().unwrap();
        assert_eq!((tok.tenant, tok.label.as_str()), (A, "shipper"));
        let (id, _) = one(&r, alert(A, "k", 0, 1, &["e1"]));
        r.set_rule_enabled(A, "r-1", false, "ann").unwrap();
        drop(r);

        let r = SqliteRepo::open(&p).unwrap();
        assert_eq!(r.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(get(&r, A, id).alert.event_ids, ["e1"]);
        assert_eq!(r.rule_states(A).unwrap().len(), 1);
        assert_eq!(r.tenants().unwrap().len(), 1);
    }

    #[test]
    fn the_audit_log_is_a_tamper_evident_append_only_chain_per_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("meta.db");
        // Entries written by schema 2 (no hashes) are linked at the upgrade.
        {
            let c = database_at_version(&p, 2);
            c.execute(
                "INSERT INTO audit_log (tenant_id, actor, action, target, detail, at) \
                 VALUES (1, 'ann', 'rule.disable', 'rule:r-1', '{}', 5)",
                [],
            )
            .unwrap();
        }
        let r = SqliteRepo::open(&p).unwrap();
        r.audit(A, "bob", "token.create", "token:3", "").unwrap();
        r.audit(B, "eve", "token.create", "token:4", "").unwrap();
        r.set_rule_enabled(A, "r-2", false, "ann").unwrap();
        let chains = r.verify_audit().unwrap();
        assert_eq!(chains.len(), 2);
        assert!(chains.iter().all(|c| c.broken.is_none()), "{chains:?}");
        assert_eq!((chains[0].tenant, chains[0].entries), (A, 3));
        let trail = r.audit_log(A, None, 0).unwrap();
        assert_eq!(chains[0].head.as_deref(), Some(trail[0].hash.as_str()));
        assert_eq!(trail[0].hash.len(), 64);

        // Append-only: neither the repository's connection nor another may change or drop rows.
        let c = Connection::open(&p).unwrap();
        let upd = c.execute("UPDATE audit_log SET detail = '{\"x\":1}' WHERE id = 2", []);
        assert!(upd.is_err_and(|e| e.to_string().contains("append-only")));
        assert!(c.execute("DELETE FROM audit_log WHERE id = 1", []).is_err());
        // Someone with the file drops the triggers and edits an entry: the chain shows where.
        c.execute_batch(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
             UPDATE audit_log SET actor = 'mallory' WHERE id = 2;",
        )
        .unwrap();
        let chains = r.verify_audit().unwrap();
        assert_eq!(
            chains[0].broken.as_ref().map(|b| b.0),
            Some(2),
            "{chains:?}"
        );
        assert!(chains[1].broken.is_none(), "tenant B's chain is its own");
        // Deleting an entry breaks the link of the next one.
        c.execute_batch(
            "UPDATE audit_log SET actor = 'bob' WHERE id = 2; DELETE FROM audit_log WHERE id = 2;",
        )
        .unwrap();
        let chains = r.verify_audit().unwrap();
        assert_eq!(chains[0].broken.as_ref().map(|b| b.0), Some(4));
    }

    /// Not a benchmark (no assertion on time): prints how long one ingest-sized slice takes on
    /// a file database, the way the server runs it. `cargo test -p kasbah-meta -- --nocapture`.
    #[test]
    fn ten_thousand_alerts_in_one_slice() {
        let dir = tempfile::tempdir().unwrap();
        let r = SqliteRepo::open(&dir.path().join("meta.db")).unwrap();
        // 1000 keys x 10 inputs: 1000 created, 9000 merged; then the same again, all merged.
        let slice: Vec<NewAlert> = (0..10_000)
            .map(|i| {
                let id = format!("ev-{i}");
                alert(A, &format!("k{}", i % 1_000), i, i + 1, &[id.as_str()])
            })
            .collect();
        for round in 0..2 {
            let start = Instant::now();
            let out = r.record_alerts(&slice, i64::MAX).unwrap();
            let took = start.elapsed();
            println!("record_alerts: 10000 alerts (round {round}) in {took:?}");
            let created = out.iter().filter(|x| x.1).count();
            assert_eq!(created, if round == 0 { 1_000 } else { 0 });
        }
        let counts = r.count_alerts(A, &AlertFilter::default()).unwrap();
        assert_eq!(counts, [1_000, 0, 0]);
        let total: u64 = r
            .alerts(A, &AlertFilter::default())
            .unwrap()
            .iter()
            .map(|a| a.alert.count)
            .sum();
        assert_eq!(total, 20_000);
    }
}
