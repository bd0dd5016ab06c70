//! The Elasticsearch-compatible surface shippers use: `_bulk` and the few calls they make on
//! connect (version probe, license, templates, index existence), so rsyslog's omelasticsearch,
//! syslog-ng, Fluent Bit, Vector and Beats send to Kasbah unchanged.
//!
//! Only indexing is supported. `delete` and `update` actions get a per-item error; the index name
//! of an action is kept in `data_stream.dataset` when the document has none.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kasbah_meta::Scope;
use kasbah_parse::{Format, Item, Origin};
use kasbah_store::{Batch, StoreError};
use serde_json::{Value, json};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::ingest;
use crate::metrics::Input;
use crate::state::Shared;

/// The version shippers see. 8.x keeps Beats and Vector on their current protocol.
const VERSION: &str = "8.17.0";

/// `GET /`: version probe (public, like a load balancer health check; it reveals no data).
pub(super) async fn root() -> Json<Value> {
    Json(json!({
        "name": "kasbah",
        "cluster_name": "kasbah",
        "cluster_uuid": "kasbah",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "kasbah",
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    }))
}

/// `HEAD /`.
pub(super) async fn root_head() -> StatusCode {
    StatusCode::OK
}

/// `GET /_license`, `GET /_xpack`: a basic license, which is what shippers check for.
pub(super) async fn license(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    Ok(Json(
        json!({"license": {"status": "active", "type": "basic", "mode": "basic", "uid": "kasbah"}}),
    ))
}

/// `GET /_nodes`.
pub(super) async fn nodes(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    Ok(Json(
        json!({"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": "kasbah", "nodes": {
            "kasbah": {"name": "kasbah", "version": VERSION, "roles": ["data", "ingest", "master"], "http": {"publish_address": "127.0.0.1:0"}}
        }}),
    ))
}

/// `GET /_cluster/health`.
pub(super) async fn cluster_health(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    Ok(Json(
        json!({"cluster_name": "kasbah", "status": "green", "number_of_nodes": 1, "number_of_data_nodes": 1}),
    ))
}

/// Template, policy and index-creation calls: acknowledged, nothing to do (Kasbah's schema is fixed).
pub(super) async fn ack(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    Ok(Json(json!({"acknowledged": true})))
}

/// `HEAD` on an index or template: it exists (every index name is accepted).
pub(super) async fn exists(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authenticate(&state, &headers)?;
    Ok(StatusCode::OK)
}

/// `POST /_bulk`.
pub(super) async fn bulk(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    do_bulk(state, headers, None, b).await
}

/// `POST /{index}/_bulk`.
pub(super) async fn bulk_index(
    State(state): State<Shared>,
    Path(index): Path<String>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    do_bulk(state, headers, Some(index), b).await
}

/// One action's outcome.
struct ItemOut {
    op: &'static str,
    index: String,
    error: Option<(u16, String)>,
}

/// Splits a bulk body into actions and documents, parses each document, and returns the batch
/// and the per-item outcomes (in request order, as shippers match them by position).
fn parse_bulk(
    state: &Shared,
    tenant: kasbah_event::TenantId,
    body: &[u8],
    default_index: Option<&str>,
) -> Result<(ingest::Prepared, Vec<ItemOut>, u64), ApiError> {
    let opts = state.parse_options(tenant);
    let prep = state.prep(tenant);
    let mut found = kasbah_detect::Findings::default();
    let origin = Origin::Input(Arc::from("bulk"));
    let mut batch = Batch {
        tenant,
        events: Vec::new(),
    };
    let mut items = Vec::new();
    let mut bad = 0u64;
    let mut lines = body
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    while let Some((n, line)) = lines.next() {
        let action: Value = serde_json::from_slice(line).map_err(|e| {
            ApiError::bad_request(format!("line {}: malformed bulk action: {e}", n + 1))
        })?;
        let Some((op, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
            return Err(ApiError::bad_request(format!(
                "line {}: a bulk action is an object with one key",
                n + 1
            )));
        };
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .or(default_index)
            .unwrap_or("")
            .to_string();
        let op: &'static str = match op.as_str() {
            "index" => "index",
            "create" => "create",
            "update" => "update",
            "delete" => "delete",
            other => {
                return Err(ApiError::bad_request(format!(
                    "line {}: unknown bulk action `{other}`",
                    n + 1
                )));
            }
        };
        if op == "delete" {
            items.push(ItemOut {
                op,
                index,
                error: Some((405, "Kasbah does not delete events".into())),
            });
            continue;
        }
        let Some((_, doc)) = lines.next() else {
            return Err(ApiError::bad_request(format!(
                "line {}: the action has no document",
                n + 1
            )));
        };
        if op == "update" {
            items.push(ItemOut {
                op,
                index,
                error: Some((405, "Kasbah does not update events".into())),
            });
            continue;
        }
        let mut got = None;
        let mut err = None;
        let mut sink = |item: Item| match item {
            Item::Event(e) => got = Some(e),
            Item::Bad(b) => err = Some(b.error.to_string()),
        };
        kasbah_parse::parse_bytes(doc, Some(Format::Jsonl), &origin, &opts, &mut sink);
        match got {
            Some(mut e) => {
                if !index.is_empty() && e.fields.get_name("data_stream.dataset").is_none() {
                    e.fields.set_name("data_stream.dataset", index.as_str());
                }
                batch.events.push(prep.event(&mut e, &mut found));
                items.push(ItemOut {
                    op,
                    index,
                    error: None,
                });
            }
            None => {
                bad += 1;
                items.push(ItemOut {
                    op,
                    index,
                    error: Some((400, err.unwrap_or_else(|| "not a JSON object".into()))),
                });
            }
        }
    }
    Ok((
        ingest::Prepared {
            batch,
            findings: found,
        },
        items,
        bad,
    ))
}

async fn do_bulk(
    state: Shared,
    headers: HeaderMap,
    index: Option<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let who = authenticate(&state, &headers)?;
    who.require(Scope::Ingest)?;
    let body = super::api::body(&state, Input::Bulk, state.config.http.max_body_bytes, b)?;
    let st = state.clone();
    let received = Instant::now();
    let (prepared, items, bad) =
        tokio::task::spawn_blocking(move || parse_bulk(&st, who.tenant, &body, index.as_deref()))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
    state.metrics.parse_errors.add(Input::Bulk, bad);
    let n = prepared.batch.events.len() as u64;
    if n > 0 {
        match ingest::commit(&state.store, prepared.batch).await {
            Ok(_) => {
                state.metrics.events.add(Input::Bulk, n);
                ingest::detected(&state, who.tenant, prepared.findings, received);
            }
            Err(StoreError::Overloaded(_)) => {
                state.metrics.rejected_overload.add(Input::Bulk, n);
                // Elasticsearch's own answer to overload, which every shipper retries.
                let body = json!({"error": {"type": "es_rejected_execution_exception", "reason": "Kasbah is overloaded; retry later"}, "status": 429});
                return Ok((
                    StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, "1")],
                    Json(body),
                )
                    .into_response());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let errors = items.iter().any(|i| i.error.is_some());
    let items: Vec<Value> = items
        .into_iter()
        .map(|i| {
            let inner = match i.error {
                None => json!({"_index": i.index, "_id": null, "_version": 1, "result": "created", "status": 201,
                    "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1}),
                Some((status, reason)) => json!({"_index": i.index, "status": status,
                    "error": {"type": if status == 400 { "document_parsing_exception" } else { "illegal_argument_exception" }, "reason": reason}}),
            };
            json!({ i.op: inner })
        })
        .collect();
    Ok(Json(
        json!({"took": started.elapsed().as_millis() as u64, "errors": errors, "items": items}),
    )
    .into_response())
}
