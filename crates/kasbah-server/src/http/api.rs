//! Kasbah's own API: ingest, upload and search.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use kasbah_meta::Scope;
use kasbah_parse::{Format, Origin};
use kasbah_query::Output;
use kasbah_store::{SearchRequest, TenantScope};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::ingest;
use crate::metrics::Input;
use crate::state::Shared;
use crate::timespec;

/// Reads a body, turning the size-limit rejection into our error (and counting it).
pub(super) fn body(
    state: &Shared,
    input: Input,
    limit: usize,
    b: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    match b {
        Ok(b) => {
            state.metrics.bytes.add(input, b.len() as u64);
            Ok(b)
        }
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.metrics.rejected_too_large.add(input, 1);
            Err(ApiError::too_large(limit))
        }
        Err(e) => Err(ApiError::bad_request(e.body_text())),
    }
}

pub(super) fn errors_json(errors: &[kasbah_parse::BadRecord]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|b| json!({"record": b.record, "code": b.error.code.to_string(), "message": b.error.message}))
            .collect(),
    )
}

#[derive(Deserialize)]
pub(super) struct IngestParams {
    format: Option<String>,
}

pub(super) fn format_param(
    p: Option<&str>,
    default: Option<Format>,
) -> Result<Option<Format>, ApiError> {
    match p {
        None | Some("") => Ok(default),
        Some("auto") => Ok(None),
        Some(name) => name
            .parse::<Format>()
            .map(Some)
            .map_err(|e| ApiError::bad_request(e.to_string())),
    }
}

/// Parses a request body on the blocking pool (parsing is CPU work), mining templates as it goes.
async fn parse_off_thread(
    state: &Shared,
    tenant: kasbah_event::TenantId,
    body: Bytes,
    format: Option<Format>,
    origin: Origin,
    batch_events: usize,
) -> Result<ingest::Parsed, ApiError> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let opts = st.parse_options(tenant);
        ingest::parse(
            &body,
            format,
            &origin,
            &opts,
            &st.prep(tenant),
            batch_events,
        )
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// `POST /api/v1/ingest`: NDJSON or a JSON array (or `?format=` another text format). The
/// response comes after the events are durable; 503 means nothing was stored.
pub(super) async fn ingest(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<IngestParams>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let who = authenticate(&state, &headers)?;
    who.require(Scope::Ingest)?;
    let b = body(&state, Input::Http, state.config.http.max_body_bytes, b)?;
    let format = format_param(params.format.as_deref(), Some(Format::Jsonl))?;
    if format == Some(Format::Evtx) {
        return Err(ApiError::bad_request("EVTX files go to /api/v1/upload"));
    }
    let origin = Origin::Input(Arc::from("http"));
    let received = Instant::now();
    let parsed = parse_off_thread(&state, who.tenant, b, format, origin, usize::MAX).await?;
    state.metrics.parse_errors.add(Input::Http, parsed.bad);
    let events = parsed.events;
    // One batch per request: the request is stored entirely or not at all.
    if let Some(p) = parsed.batches.into_iter().next() {
        if let Err(e) = ingest::commit(&state.store, p.batch).await {
            state.metrics.rejected_overload.add(Input::Http, events);
            return Err(e.into());
        }
        ingest::detected(&state, who.tenant, p.findings, received);
    }
    state.metrics.events.add(Input::Http, events);
    Ok(Json(
        json!({"accepted": events, "rejected": parsed.bad, "errors": errors_json(&parsed.errors)}),
    ))
}

#[derive(Deserialize)]
pub(super) struct UploadParams {
    format: Option<String>,
    filename: Option<String>,
}

/// Magic numbers of archives we refuse (unpack them first; no zip bombs on the server).
fn archive_kind(b: &[u8]) -> Option<&'static str> {
    const KINDS: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "zip"),
        (b"\x1f\x8b", "gzip"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"Rar!", "rar"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"BZh", "bzip2"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
    ];
    KINDS
        .iter()
        .find(|(m, _)| b.starts_with(m))
        .map(|(_, k)| *k)
}

/// `POST /api/v1/upload?format=auto|evtx|...&filename=NAME`: one log file as the body.
pub(super) async fn upload(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<UploadParams>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let who = authenticate(&state, &headers)?;
    who.require(Scope::Ingest)?;
    let b = body(&state, Input::Upload, state.config.http.max_upload_bytes, b)?;
    if let Some(kind) = archive_kind(&b) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "archive_refused",
            format!("{kind} archives are refused: upload the files they contain"),
        ));
    }
    let format = format_param(params.format.as_deref(), None)?;
    let name = params.filename.unwrap_or_else(|| "upload".into());
    let origin = Origin::File(Arc::from(name.as_str()));
    let received = Instant::now();
    let parsed = parse_off_thread(&state, who.tenant, b, format, origin, 20_000).await?;
    state.metrics.parse_errors.add(Input::Upload, parsed.bad);
    let mut stored = 0u64;
    for p in parsed.batches {
        let n = p.batch.events.len() as u64;
        if let Err(e) =
            ingest::commit_patiently(&state.store, p.batch, Duration::from_secs(60)).await
        {
            state
                .metrics
                .rejected_overload
                .add(Input::Upload, parsed.events - stored);
            let mut err = ApiError::from(e);
            err.message = format!(
                "{}; {stored} events of this file were stored before",
                err.message
            );
            return Err(err);
        }
        stored += n;
        state.metrics.events.add(Input::Upload, n);
        ingest::detected(&state, who.tenant, p.findings, received);
    }
    Ok(Json(json!({
        "file": name,
        "format": parsed.format.map(|f| f.name()),
        "accepted": stored,
        "rejected": parsed.bad,
        "errors": errors_json(&parsed.errors),
    })))
}

#[derive(Deserialize)]
pub(super) struct SearchBody {
    query: String,
    #[serde(default)]
    from: Option<Value>,
    #[serde(default)]
    to: Option<Value>,
    #[serde(default = "default_limit")]
    limit: usize,
    #[serde(default)]
    offset: usize,
    /// Global administrators only: `"*"` (every tenant) or a list of tenant names.
    #[serde(default)]
    tenants: Option<Value>,
}

/// The tenants a global administrator's search asks for (`"*"` or a list of names), found in
/// `names` (every tenant, by id).
fn cross_tenants(
    names: &std::collections::HashMap<u32, String>,
    asked: &Value,
) -> Result<Vec<kasbah_event::TenantId>, ApiError> {
    let shape = || ApiError::bad_request("tenants: \"*\" or a list of tenant names");
    match asked {
        Value::String(s) if s == "*" => {
            Ok(names.keys().map(|id| kasbah_event::TenantId(*id)).collect())
        }
        Value::Array(list) => list
            .iter()
            .map(|n| {
                let name = n.as_str().ok_or_else(shape)?;
                names
                    .iter()
                    .find(|(_, v)| v.as_str() == name)
                    .map(|(id, _)| kasbah_event::TenantId(*id))
                    .ok_or_else(|| {
                        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("tenant {name}"))
                    })
            })
            .collect(),
        _ => Err(shape()),
    }
}

fn default_limit() -> usize {
    100
}

/// The largest page.
const MAX_LIMIT: usize = 10_000;

/// `POST /api/v1/search`: `{"query", "from", "to", "limit", "offset"}`.
pub(super) async fn search(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let who = authenticate(&state, &headers)?;
    who.require(Scope::Read)?;
    // Any content type: clients such as curl send form types by default.
    let body = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req: SearchBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON {{\"query\", \"from\", \"to\", \"limit\", \"offset\"}}: {e}"
        ))
    })?;
    let now = kasbah_event::Timestamp::now().as_nanos();
    let from = req
        .from
        .as_ref()
        .map(|v| timespec::parse_value(v, now))
        .transpose()
        .map_err(ApiError::bad_request)?;
    let to = req
        .to
        .as_ref()
        .map(|v| timespec::parse_value(v, now))
        .transpose()
        .map_err(ApiError::bad_request)?;
    let query = kasbah_query::parse(&req.query).map_err(|e| {
        let mut err = ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.to_string());
        err.column = Some(e.column);
        err
    })?;
    let limit = req.limit.min(MAX_LIMIT);
    let offset = req.offset;
    // Only a global administrator reads other tenants; the names, read once, also label the
    // events of such a search.
    let cross = match &req.tenants {
        None => None,
        Some(asked) => {
            who.require_global()?;
            let names = state.tenant_names();
            let targets = cross_tenants(&names, asked)?;
            Some((names, targets))
        }
    };
    let scope = match &cross {
        None => TenantScope::One(who.tenant),
        Some((_, targets)) => TenantScope::Many(targets.clone()),
    };
    if let Some((_, targets)) = &cross {
        // Reading other tenants' events is itself an event of note for each of them.
        let detail = json!({"query": req.query, "tenants": req.tenants}).to_string();
        let (st, actor, targets) = (state.clone(), who.actor.clone(), targets.clone());
        tokio::task::spawn_blocking(move || {
            for t in targets {
                let _ = st
                    .alerts
                    .audit(t, &actor, "search.cross_tenant", "search", &detail);
            }
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let st = state.clone();
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let r = SearchRequest {
            query: &query,
            from,
            to,
            limit,
            offset,
        };
        st.store.search(&scope, &r)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let took = started.elapsed();
    state.metrics.searches.fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .search_nanos
        .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    let mut out = json!({
        "total": result.total,
        "took_ms": took.as_secs_f64() * 1000.0,
        "exact": result.exact,
        "partitions": result.partitions,
    });
    match result.output {
        Output::Events(mut events) => {
            if let Some((names, _)) = &cross {
                // Tenants by name, so a global administrator sees whose event it is.
                for e in &mut events {
                    let id = e
                        .get("kasbah.tenant")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(kasbah_event::TenantId::DEFAULT.0);
                    if let Some(n) = names.get(&id) {
                        e.insert("kasbah.tenant_name".into(), json!(n));
                    }
                }
            }
            out["events"] = Value::Array(events.into_iter().map(Value::Object).collect())
        }
        Output::Table(t) => {
            out["columns"] = json!(t.columns);
            out["rows"] = json!(t.rows);
        }
    }
    Ok(Json(out))
}

/// `GET /api/v1/templates`: the tenant's message templates, most frequent first (ids are the
/// values of `log.template_id`).
pub(super) async fn templates(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let who = authenticate(&state, &headers)?;
    who.require(Scope::Read)?;
    let list: Vec<Value> = state
        .templates
        .list(who.tenant)
        .into_iter()
        .take(10_000)
        .map(|t| json!({"id": t.id.0, "template": t.text(), "count": t.count}))
        .collect();
    Ok(Json(json!({ "templates": list })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_recognised() {
        assert_eq!(archive_kind(b"PK\x03\x04rest"), Some("zip"));
        assert_eq!(archive_kind(b"\x1f\x8b\x08"), Some("gzip"));
        assert_eq!(archive_kind(b"ElfFile\x00"), None);
        assert_eq!(archive_kind(b"{\"a\":1}"), None);
    }
}
