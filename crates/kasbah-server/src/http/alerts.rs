//! The alert API: list and triage alerts, comment, suppress, enable or disable rules, see which
//! rules are noisy, retro-hunt stored events, and read the audit trail. Reads need the `read`
//! scope, changes `write`, the audit trail `admin`. Every id is scoped to the caller's tenant:
//! another tenant's alert is "not found", never "forbidden", so ids leak nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use kasbah_detect::alert::Attack;
use kasbah_event::{Entity, EntityKind, Timestamp};
use kasbah_meta::Scope;
use kasbah_meta::{
    Alert, AlertFilter, AlertId, AlertKind, AlertStatus, AlertUpdate, AuditEntry, Comment,
    MetaError, NewSuppression, Resolution, Suppression,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::{Principal, authenticate};
use crate::detection::{Detection, RetroRequest};
use crate::error::ApiError;
use crate::state::Shared;
use crate::timespec;

/// A query string extractor whose errors are API errors (JSON, stable code).
pub(super) struct Q<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Q(v))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Largest page of alerts.
const MAX_PAGE: usize = 1000;

fn rfc3339(ns: i64) -> String {
    Timestamp::from_nanos(ns).to_rfc3339()
}

pub(super) fn meta_err(e: MetaError) -> ApiError {
    match e {
        MetaError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
        MetaError::Invalid(m) => ApiError::bad_request(m),
        other => ApiError::internal(other.to_string()),
    }
}

fn entity_json(e: &Entity) -> Value {
    json!({"kind": e.kind.as_str(), "value": e.value})
}

/// An alert as the API shows it.
pub fn alert_json(a: &Alert) -> Value {
    let n = &a.alert;
    let (mut tactics, mut techniques) = (Vec::new(), Vec::new());
    for x in kasbah_detect::alert::attack(&n.tags) {
        match x {
            Attack::Tactic(t) => tactics.push(t),
            Attack::Technique(t) => techniques.push(t),
        }
    }
    json!({
        "id": a.id.0,
        "rule_id": n.rule_id,
        "rule_title": n.rule_title,
        "level": n.level,
        "kind": n.kind.as_str(),
        "tags": n.tags,
        "attack": {"tactics": tactics, "techniques": techniques},
        "entities": n.entities.iter().map(entity_json).collect::<Vec<_>>(),
        "first_seen": rfc3339(n.first_seen),
        "last_seen": rfc3339(n.last_seen),
        "count": n.count,
        "event_count": n.count,
        "event_ids": n.event_ids,
        "retro": n.retro,
        "details": serde_json::from_str::<Value>(&n.details).unwrap_or(Value::Null),
        "status": a.status.as_str(),
        "assignee": a.assignee,
        "resolution": a.resolution.map(Resolution::as_str),
        "resolution_note": a.resolution_note,
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.updated_at),
    })
}

fn comment_json(c: &Comment) -> Value {
    json!({"id": c.id, "author": c.author, "text": c.text, "created_at": rfc3339(c.created_at)})
}

fn suppression_json(s: &Suppression) -> Value {
    json!({
        "id": s.id,
        "rule_id": s.rule.rule_id,
        "entity": s.rule.entity.as_ref().map(entity_json),
        "reason": s.rule.reason,
        "created_by": s.rule.created_by,
        "created_at": rfc3339(s.created_at),
        "expires_at": s.rule.expires_at.map(rfc3339),
        "hits": s.hits,
    })
}

fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
        "at": rfc3339(e.at),
        "hash": e.hash,
    })
}

pub(super) fn json_body<T: DeserializeOwned>(
    b: Result<Bytes, BytesRejection>,
    shape: &str,
) -> Result<T, ApiError> {
    let b = b.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let b: &[u8] = if b.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &b
    };
    serde_json::from_slice(b)
        .map_err(|e| ApiError::bad_request(format!("the body must be JSON {shape}: {e}")))
}

pub(super) fn detection(state: &Shared) -> Result<Arc<Detection>, ApiError> {
    state.detection.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "detection_disabled",
            "detection is disabled on this server ([detection] enabled = false)",
        )
    })
}

pub(super) fn who(
    state: &Shared,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Principal, ApiError> {
    let p = authenticate(state, headers)?;
    p.require(scope)?;
    Ok(p)
}

/// Runs repository work on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    status: Option<String>,
    rule_id: Option<String>,
    level: Option<String>,
    kind: Option<String>,
    retro: Option<bool>,
    from: Option<String>,
    to: Option<String>,
    assignee: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

fn filter(p: ListParams) -> Result<AlertFilter, ApiError> {
    let now = Timestamp::now().as_nanos();
    let time = |s: Option<String>| {
        s.map(|s| timespec::parse(&s, now))
            .transpose()
            .map_err(ApiError::bad_request)
    };
    let status = p
        .status
        .map(|s| {
            AlertStatus::parse(&s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status `{s}`: expected open, acknowledged or closed"
                ))
            })
        })
        .transpose()?;
    let kind = p
        .kind
        .map(|s| {
            AlertKind::parse(&s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "kind `{s}`: expected detection, correlation or anomaly"
                ))
            })
        })
        .transpose()?;
    let levels: Vec<String> = p
        .level
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for l in &levels {
        if !kasbah_sigma::Level::ALL.iter().any(|x| x.as_str() == l) {
            return Err(ApiError::bad_request(format!(
                "level `{l}`: expected informational, low, medium, high or critical"
            )));
        }
    }
    Ok(AlertFilter {
        status,
        rule_id: p.rule_id,
        levels,
        kind,
        retro: p.retro,
        from: time(p.from)?,
        to: time(p.to)?,
        assignee: p.assignee,
        before: p.before.map(AlertId),
        limit: p.limit.unwrap_or(100).clamp(1, MAX_PAGE),
    })
}

/// `GET /api/v1/alerts`: the tenant's alerts, newest first, with counts by status.
pub(super) async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Q(params): Q<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let f = filter(params)?;
    let st = state.clone();
    blocking(move || {
        let alerts = st.alerts.alerts(p.tenant, &f).map_err(meta_err)?;
        let [open, acknowledged, closed] =
            st.alerts.count_alerts(p.tenant, &f).map_err(meta_err)?;
        let next = (alerts.len() == f.limit)
            .then(|| alerts.last().map(|a| a.id.0))
            .flatten();
        Ok(Json(json!({
            "alerts": alerts.iter().map(alert_json).collect::<Vec<_>>(),
            "counts": {"open": open, "acknowledged": acknowledged, "closed": closed},
            "next_before": next,
        })))
    })
    .await
}

/// `GET /api/v1/alerts/{id}`: one alert with its comments.
pub(super) async fn get(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let st = state.clone();
    blocking(move || {
        let a = st
            .alerts
            .alert(p.tenant, AlertId(id))
            .map_err(meta_err)?
            .ok_or_else(|| meta_err(MetaError::NotFound(format!("alert {id}"))))?;
        let comments = st
            .alerts
            .comments(p.tenant, AlertId(id))
            .map_err(meta_err)?;
        let mut v = alert_json(&a);
        v["comments"] = comments.iter().map(comment_json).collect();
        Ok(Json(v))
    })
    .await
}

/// `GET /api/v1/alerts/{id}/events`: the stored events the alert links to.
pub(super) async fn events(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let st = state.clone();
    blocking(move || {
        let a = st
            .alerts
            .alert(p.tenant, AlertId(id))
            .map_err(meta_err)?
            .ok_or_else(|| meta_err(MetaError::NotFound(format!("alert {id}"))))?;
        let ids = &a.alert.event_ids;
        if ids.is_empty() {
            return Ok(Json(json!({"events": []})));
        }
        let terms: Vec<String> = ids
            .iter()
            .map(|i| format!("event.id:\"{}\"", i.replace(['"', '\\'], "")))
            .collect();
        let q = kasbah_query::parse(&terms.join(" OR "))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        // Linked events lie within the alert's time span (the store prunes partitions by time).
        let req = kasbah_store::SearchRequest {
            query: &q,
            from: Some(a.alert.first_seen),
            to: Some(a.alert.last_seen.saturating_add(1)),
            limit: ids.len(),
            offset: 0,
        };
        let r = st
            .store
            .search(&kasbah_store::TenantScope::One(p.tenant), &req)?;
        let events = match r.output {
            kasbah_query::Output::Events(e) => e.into_iter().map(Value::Object).collect(),
            kasbah_query::Output::Table(_) => Vec::new(),
        };
        Ok(Json(json!({ "events": events })))
    })
    .await
}

async fn update(
    state: Shared,
    headers: HeaderMap,
    id: i64,
    make: impl FnOnce() -> Result<AlertUpdate, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let u = make()?;
    let st = state.clone();
    blocking(move || {
        let a = st
            .alerts
            .update_alert(p.tenant, AlertId(id), &u, &p.actor)
            .map_err(meta_err)?;
        Ok(Json(alert_json(&a)))
    })
    .await
}

/// `POST /api/v1/alerts/{id}/acknowledge`.
pub(super) async fn acknowledge(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    update(state, headers, id, || Ok(AlertUpdate::Acknowledge)).await
}

/// `POST /api/v1/alerts/{id}/reopen`.
pub(super) async fn reopen(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    update(state, headers, id, || Ok(AlertUpdate::Reopen)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: Option<String>,
}

/// `POST /api/v1/alerts/{id}/assign` `{"assignee": "name" | null}`.
pub(super) async fn assign(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    update(state, headers, id, move || {
        let body: AssignBody = json_body(b, r#"{"assignee": "name" | null}"#)?;
        let who = body
            .assignee
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if who.as_ref().is_some_and(|s| s.len() > 200) {
            return Err(ApiError::bad_request("assignee: at most 200 characters"));
        }
        Ok(AlertUpdate::Assign(who))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    resolution: String,
    note: Option<String>,
}

/// `POST /api/v1/alerts/{id}/close` `{"resolution", "note"}`.
pub(super) async fn close(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    update(state, headers, id, move || {
        let body: CloseBody = json_body(b, r#"{"resolution", "note"}"#)?;
        let resolution = Resolution::parse(&body.resolution).ok_or_else(|| {
            ApiError::bad_request(format!(
                "resolution `{}`: expected true_positive, benign_positive, false_positive or duplicate",
                body.resolution
            ))
        })?;
        Ok(AlertUpdate::Close {
            resolution,
            note: body.note,
        })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
}

/// `POST /api/v1/alerts/{id}/comments` `{"text"}`.
pub(super) async fn comment(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let body: CommentBody = json_body(b, r#"{"text"}"#)?;
    if body.text.trim().is_empty() || body.text.len() > 64 * 1024 {
        return Err(ApiError::bad_request("text: 1 to 65536 bytes"));
    }
    let st = state.clone();
    blocking(move || {
        let c = st
            .alerts
            .comment(p.tenant, AlertId(id), &p.actor, &body.text)
            .map_err(meta_err)?;
        Ok((StatusCode::CREATED, Json(comment_json(&c))))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RulesParams {
    noisy: Option<bool>,
    enabled: Option<bool>,
    q: Option<String>,
}

fn rule_json(
    d: &kasbah_detect::Detector,
    tenant: kasbah_event::TenantId,
    id: kasbah_sigma::RuleId,
) -> Value {
    let engine = d.engine();
    let Some(info) = engine.rule(id) else {
        return Value::Null;
    };
    let import = crate::detection::import_id(&info.meta.path);
    json!({
        "id": info.id_or_title(),
        "title": info.meta.title,
        "level": info.level().as_str(),
        "kind": match info.kind { kasbah_sigma::RuleKind::Correlation(_) => "correlation", _ => "detection" },
        "status": info.meta.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        "tags": info.meta.tags,
        "path": &*info.meta.path,
        "source": if import.is_some() { "imported" } else { "server" },
        "import_id": import,
        "enabled": d.is_enabled(tenant, id),
        "reported": info.reported,
    })
}

fn stats_json(r: &kasbah_detect::RuleReport) -> Value {
    json!({
        "hits": r.hits,
        "alerts": r.alerts,
        "last_hour": r.last_hour,
        "noisy": r.noisy,
        "last_hit": (r.last_hit > 0).then(|| rfc3339(r.last_hit)),
        "top": r.top.iter().map(|(e, n)| json!({"kind": e.kind.as_str(), "value": e.value, "count": n})).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/rules?noisy=&enabled=&q=`: loaded rules with their state and hit statistics
/// (rules that fired first, busiest first).
pub(super) async fn rules(
    State(state): State<Shared>,
    headers: HeaderMap,
    Q(params): Q<RulesParams>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let dn = &*detection(&state)?;
    let reports = dn.rule_report(p.tenant);
    let d = &*dn.detector(p.tenant);
    let mut seen = rustc_hash::FxHashSet::default();
    let mut out = Vec::new();
    let q = params.q.map(|s| s.to_ascii_lowercase());
    let wanted = |v: &Value| {
        params
            .enabled
            .is_none_or(|e| v["enabled"].as_bool() == Some(e))
            && q.as_ref().is_none_or(|q| {
                v["id"]
                    .as_str()
                    .is_some_and(|s| s.to_ascii_lowercase().contains(q))
                    || v["title"]
                        .as_str()
                        .is_some_and(|s| s.to_ascii_lowercase().contains(q))
            })
    };
    for r in &reports {
        let Some(id) = d.rule_id(&r.rule_id) else {
            continue;
        };
        seen.insert(id);
        let mut v = rule_json(d, p.tenant, id);
        v["stats"] = stats_json(r);
        if params.noisy.is_none_or(|n| n == r.noisy) && wanted(&v) {
            out.push(v);
        }
    }
    if params.noisy != Some(true) {
        for i in 0..d.engine().rules().len() {
            let id = kasbah_sigma::RuleId(i as u32);
            if seen.contains(&id) {
                continue;
            }
            let v = rule_json(d, p.tenant, id);
            if wanted(&v) {
                out.push(v);
            }
        }
    }
    let noisy = reports.iter().filter(|r| r.noisy).count();
    Ok(Json(json!({
        "rules": out,
        "noisy": noisy,
        "budget_per_hour": dn.config().alert_budget_per_hour,
    })))
}

/// The YAML document of a loaded rule: the built-in copy, the tenant's imported file, or the
/// file it was loaded from (a path the server chose, never one from the request), from its
/// first line to the next `---`.
fn rule_source(
    state: &Shared,
    tenant: kasbah_event::TenantId,
    path: &str,
    line: u32,
) -> Option<String> {
    let text = if let Some(id) = crate::detection::import_id(path) {
        state.rule_imports.rule_import(tenant, id).ok()??.yaml
    } else if path.starts_with(crate::detection::IMPORT_PREFIX) {
        return None;
    } else {
        match crate::builtin::RULES.iter().find(|(p, _)| *p == path) {
            Some((_, t)) => (*t).to_owned(),
            None => std::fs::read_to_string(path).ok()?,
        }
    };
    // `line` is the document's first key; comments just above it belong to it too.
    let lines: Vec<&str> = text.lines().collect();
    let first = usize::try_from(line)
        .ok()?
        .saturating_sub(1)
        .min(lines.len());
    let mut start = first;
    while start > 0 && lines[start - 1].trim() != "---" {
        start -= 1;
    }
    let end = lines[first..]
        .iter()
        .position(|l| l.trim() == "---")
        .map_or(lines.len(), |n| first + n);
    Some(lines[start..end].join("\n"))
}

pub(super) fn find_rule(
    d: &kasbah_detect::Detector,
    id: &str,
) -> Result<kasbah_sigma::RuleId, ApiError> {
    d.rule_id(id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("rule {id}")))
}

/// `GET /api/v1/rules/{id}`.
pub(super) async fn rule(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let dn = &*detection(&state)?;
    let d = dn.detector(p.tenant);
    let rid = find_rule(&d, &id)?;
    let mut v = rule_json(&d, p.tenant, rid);
    if let Some(r) = dn.rule_report(p.tenant).iter().find(|r| r.rule_id == id) {
        v["stats"] = stats_json(r);
    }
    if let Some(info) = d.engine().rule(rid) {
        v["description"] = json!(info.meta.description);
        v["condition"] = json!(info.condition);
        v["author"] = json!(info.meta.author);
        v["references"] = json!(info.meta.references);
        v["falsepositives"] = json!(info.meta.falsepositives);
        v["line"] = json!(info.meta.line);
        v["yaml"] = json!(rule_source(
            &state,
            p.tenant,
            &info.meta.path,
            info.meta.line
        ));
    }
    Ok(Json(v))
}

async fn set_enabled(
    state: Shared,
    headers: HeaderMap,
    id: String,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let d = detection(&state)?;
    find_rule(&d.detector(p.tenant), &id)?;
    let st = state.clone();
    blocking(move || {
        st.alerts
            .set_rule_enabled(p.tenant, &id, enabled, &p.actor)
            .map_err(meta_err)?;
        d.reload(p.tenant).map_err(meta_err)?;
        let own = d.detector(p.tenant);
        let rid = find_rule(&own, &id)?;
        Ok(Json(rule_json(&own, p.tenant, rid)))
    })
    .await
}

/// `POST /api/v1/rules/{id}/enable`.
pub(super) async fn enable(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(state, headers, id, true).await
}

/// `POST /api/v1/rules/{id}/disable`.
pub(super) async fn disable(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(state, headers, id, false).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SuppressionParams {
    include_expired: Option<bool>,
}

/// `GET /api/v1/suppressions?include_expired=true`.
pub(super) async fn suppressions(
    State(state): State<Shared>,
    headers: HeaderMap,
    Q(params): Q<SuppressionParams>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let st = state.clone();
    blocking(move || {
        let list = st
            .alerts
            .suppressions(
                p.tenant,
                Timestamp::now().as_nanos(),
                params.include_expired.unwrap_or(false),
            )
            .map_err(meta_err)?;
        Ok(Json(
            json!({"suppressions": list.iter().map(suppression_json).collect::<Vec<_>>()}),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityBody {
    kind: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressionBody {
    rule_id: Option<String>,
    entity: Option<EntityBody>,
    reason: String,
    expires_at: Option<Value>,
    expires_in_secs: Option<u64>,
}

/// `POST /api/v1/suppressions` `{"rule_id", "entity": {"kind", "value"}, "reason",
/// "expires_at" | "expires_in_secs"}`.
pub(super) async fn create_suppression(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let body: SuppressionBody = json_body(
        b,
        r#"{"rule_id", "entity": {"kind", "value"}, "reason", "expires_at" | "expires_in_secs"}"#,
    )?;
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reason: say why (suppressions must be explainable later)",
        ));
    }
    if body.rule_id.is_none() && body.entity.is_none() {
        return Err(ApiError::bad_request(
            "a suppression needs a rule_id, an entity, or both",
        ));
    }
    if let (Some(id), Some(d)) = (&body.rule_id, state.detection.as_deref()) {
        find_rule(&d.detector(p.tenant), id)?;
    }
    let entity = body
        .entity
        .map(|e| {
            EntityKind::parse(&e.kind)
                .map(|k| Entity::new(k, e.value))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "entity kind `{}`: expected host, user, ip or process",
                        e.kind
                    ))
                })
        })
        .transpose()?;
    let now = Timestamp::now().as_nanos();
    let expires_at =
        match (body.expires_at, body.expires_in_secs) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give expires_at or expires_in_secs, not both",
                ));
            }
            (Some(v), None) => Some(timespec::parse_value(&v, now).map_err(ApiError::bad_request)?),
            (None, Some(s)) => Some(now.saturating_add(
                i64::try_from(Duration::from_secs(s).as_nanos()).unwrap_or(i64::MAX),
            )),
            (None, None) => None,
        };
    let new = NewSuppression {
        tenant: p.tenant,
        rule_id: body.rule_id,
        entity,
        reason: body.reason,
        created_by: p.actor.clone(),
        expires_at,
    };
    let st = state.clone();
    blocking(move || {
        let s = st.alerts.create_suppression(&new).map_err(meta_err)?;
        if let Some(d) = &st.detection {
            d.reload(p.tenant).map_err(meta_err)?;
        }
        Ok((StatusCode::CREATED, Json(suppression_json(&s))))
    })
    .await
}

/// `DELETE /api/v1/suppressions/{id}`.
pub(super) async fn delete_suppression(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let st = state.clone();
    blocking(move || {
        if !st
            .alerts
            .delete_suppression(p.tenant, id, &p.actor)
            .map_err(meta_err)?
        {
            return Err(meta_err(MetaError::NotFound(format!("suppression {id}"))));
        }
        if let Some(d) = &st.detection {
            d.reload(p.tenant).map_err(meta_err)?;
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// 400 `invalid_rule` with the diagnostics (file, line, KS code) of Sigma text that did not load.
pub(super) fn invalid_rule(diags: Vec<kasbah_sigma::Diagnostic>) -> ApiError {
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_rule",
        if lines.is_empty() {
            "sigma: no detection or correlation rule in the text".to_string()
        } else {
            format!("sigma: {}", lines.join("; "))
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetroBody {
    rules: Option<Vec<String>>,
    sigma: Option<String>,
    query: Option<String>,
    from: Value,
    to: Option<Value>,
}

/// `POST /api/v1/retrohunt` `{"rules": [ids] (default: every enabled rule) | "sigma": "YAML of
/// new rules", "query" (default `*`), "from", "to"}`: runs the rules over stored events and
/// raises retrospective alerts.
pub(super) async fn retrohunt(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let d = detection(&state)?;
    let body: RetroBody = json_body(b, r#"{"rules", "query", "from", "to"}"#)?;
    let now = Timestamp::now().as_nanos();
    let from = timespec::parse_value(&body.from, now).map_err(ApiError::bad_request)?;
    let to = body
        .to
        .as_ref()
        .map(|v| timespec::parse_value(v, now))
        .transpose()
        .map_err(ApiError::bad_request)?;
    if body.sigma.is_some() && body.rules.is_some() {
        return Err(ApiError::bad_request(
            "give rules (ids of loaded rules) or sigma (new rules), not both",
        ));
    }
    let adhoc = match &body.sigma {
        None => None,
        Some(text) => Some(d.compile_adhoc(text).map_err(invalid_rule)?),
    };
    let own = d.detector(p.tenant);
    let rules = body
        .rules
        .as_ref()
        .map(|ids| {
            ids.iter()
                .map(|i| find_rule(&own, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let q = kasbah_query::parse(body.query.as_deref().unwrap_or("*")).map_err(|e| {
        let mut err = ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.to_string());
        err.column = Some(e.column);
        err
    })?;
    if !q.pipes.is_empty() {
        return Err(ApiError::bad_request(
            "a retro-hunt query selects events: no pipes",
        ));
    }
    let req = RetroRequest {
        rules,
        adhoc,
        filter: q.filter,
        from: Some(from),
        to,
    };
    let st = state.clone();
    let started = Instant::now();
    blocking(move || {
        let out = d.retro_hunt(p.tenant, &req)?;
        let detail = json!({
            "rules": body.rules,
            "sigma": body.sigma.is_some(),
            "query": body.query,
            "from": rfc3339(from),
            "to": to.map(rfc3339),
            "events": out.events,
            "created": out.created,
        });
        st.alerts
            .audit(
                p.tenant,
                &p.actor,
                "retrohunt.run",
                "retrohunt",
                &detail.to_string(),
            )
            .map_err(meta_err)?;
        Ok(Json(json!({
            "events": out.events,
            "matches": out.matches,
            "alerts_created": out.created,
            "alerts_merged": out.merged,
            "suppressed": out.suppressed,
            "truncated": out.truncated,
            "took_ms": started.elapsed().as_secs_f64() * 1000.0,
        })))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditParams {
    before: Option<i64>,
    limit: Option<usize>,
    q: Option<String>,
    action: Option<String>,
}

/// `GET /api/v1/audit?q=&action=&before=&limit=`: who changed what, newest first, optionally
/// only entries containing `q` or of one action (needs `admin`).
pub(super) async fn audit(
    State(state): State<Shared>,
    headers: HeaderMap,
    Q(params): Q<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    let st = state.clone();
    blocking(move || {
        let q = kasbah_meta::AuditQuery {
            text: params.q.filter(|t| !t.trim().is_empty()),
            action: params.action.filter(|a| !a.is_empty()),
            before: params.before,
            limit: params.limit.unwrap_or(100).clamp(1, MAX_PAGE),
        };
        let list = st.alerts.find_audit(p.tenant, &q).map_err(meta_err)?;
        Ok(Json(
            json!({"entries": list.iter().map(audit_json).collect::<Vec<_>>()}),
        ))
    })
    .await
}
