//! Operations endpoints: liveness, readiness, Prometheus metrics and the health summary.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use kasbah_meta::Scope;
use serde_json::{Value, json};

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::metrics::{self, Input};
use crate::state::Shared;

/// `GET /healthz`: the process is up.
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: ready to accept events (503 while starting up or while the store refuses
/// appends).
pub(super) async fn readyz(State(state): State<Shared>) -> impl IntoResponse {
    if !state.started.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting"})),
        );
    }
    let inflight = state.store.metrics().inflight_bytes.load(Ordering::Relaxed);
    if inflight > state.config.storage.max_inflight_bytes {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "overloaded", "inflight_bytes": inflight})),
        )
    } else {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    }
}

/// `GET /metrics`: Prometheus text format.
pub(super) async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    let mut body = metrics::render(&state.metrics, state.store.metrics());
    if let Some(d) = &state.detection {
        metrics::render_detection(&mut body, d.metrics());
    }
    if let Some(a) = &state.anomalies {
        metrics::render_anomaly(&mut body, &a.metrics);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// `GET /api/v1/health`: ingestion health for the console (needs `read`).
pub(super) async fn health(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?.require(Scope::Read)?;
    let m = &state.metrics;
    let s = state.store.metrics();
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let inputs: Value = Input::ALL
        .into_iter()
        .map(|i| {
            (
                i.name().to_string(),
                json!({
                    "events": m.events.get(i),
                    "bytes": m.bytes.get(i),
                    "parse_errors": m.parse_errors.get(i),
                    "rejected_overload": m.rejected_overload.get(i),
                    "rejected_too_large": m.rejected_too_large.get(i),
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let detection = state.detection.as_ref().map(|d| {
        let dm = d.metrics();
        let (p50, p99, samples) = d.latency();
        json!({
            "queued_batches": l(&dm.queued),
            "pending_captures": d.pending(),
            "hits": l(&dm.hits),
            "alerts_created": l(&dm.created),
            "alerts_merged": l(&dm.merged),
            "suppressed": l(&dm.suppressed),
            "correlations": l(&dm.correlations),
            "late_captures": l(&dm.late),
            "failed": l(&dm.failed),
            "latency_ms": {
                "p50": p50.as_secs_f64() * 1000.0,
                "p99": p99.as_secs_f64() * 1000.0,
                "samples": samples,
            },
            "rules": d.base().engine().rules().len(),
            "stale_captures": l(&dm.stale_captures),
        })
    });
    let anomaly = state.anomalies.as_ref().map(|a| {
        json!({
            "learned_events": l(&a.metrics.learned),
            "checked_events": l(&a.metrics.checked),
            "drafts": l(&a.metrics.drafts),
        })
    });
    Ok(Json(json!({
        "anomaly": anomaly,
        "detection": detection,
        "inputs": inputs,
        "udp_dropped": l(&m.udp_dropped),
        "auth_failures": l(&m.auth_failures),
        "syslog_connections": l(&m.syslog_connections),
        "connections_refused": l(&m.connections_refused),
        "store": {
            "logged_events": l(&s.logged_events),
            "indexed_events": l(&s.indexed_events),
            "committed_events": l(&s.committed_events),
            "inflight_bytes": l(&s.inflight_bytes),
            "wal_bytes": l(&s.wal_bytes),
            "rejected_overload": l(&s.rejected_overload),
            "bad_documents": l(&s.bad_documents),
            "index_errors": l(&s.index_errors),
            "held_events": l(&s.held_events),
            "replayed_events": l(&s.replayed_events),
            "retention_dropped_events": l(&s.dropped_by_retention),
        },
    })))
}

/// Anything else.
pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see docs/api.md",
    )
}
