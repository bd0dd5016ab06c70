//! The anomaly API: where the tenant's model stands (learning or detecting), its settings
//! (learning period, threshold) and starting a new learning period. Reads need `read`,
//! changes `write`; changes are audited.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use kasbah_detect::anomaly::{Settings, Status};
use kasbah_meta::Scope;
use serde::Deserialize;
use serde_json::{Value, json};

use super::alerts::{blocking, json_body, meta_err, who};
use crate::anomaly::Anomalies;
use crate::error::ApiError;
use crate::state::Shared;

fn anomalies(state: &Shared) -> Result<Arc<Anomalies>, ApiError> {
    state.anomalies.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "anomaly_disabled",
            "anomaly detection is disabled on this server ([anomaly] or [detection] enabled = false)",
        )
    })
}

fn status_json(s: &Status) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
    // Times for people, next to the nanoseconds.
    for k in ["first", "since"] {
        if let Some(ns) = v.get(k).and_then(Value::as_i64) {
            v[format!("{k}_time")] = json!(kasbah_event::Timestamp::from_nanos(ns).to_rfc3339());
        }
    }
    v
}

/// `GET /api/v1/anomaly`.
pub(super) async fn status(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let a = anomalies(&state)?;
    let s = blocking(move || {
        a.status(p.tenant)
            .ok_or_else(|| ApiError::internal("anomaly model unavailable"))
    })
    .await?;
    Ok(Json(status_json(&s)))
}

/// Settings a caller may change; absent ones keep their value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    learning_secs: Option<u64>,
    learning_events: Option<u64>,
    threshold: Option<f64>,
}

/// `PUT /api/v1/anomaly` `{"learning_secs", "learning_events", "threshold"}`.
pub(super) async fn settings(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let a = anomalies(&state)?;
    let b: SettingsBody = json_body(
        body,
        "{\"learning_secs\", \"learning_events\", \"threshold\"}",
    )?;
    let st = state.clone();
    let s = blocking(move || {
        let cur = a
            .status(p.tenant)
            .ok_or_else(|| ApiError::internal("anomaly model unavailable"))?
            .settings;
        let new = Settings {
            learning_secs: b.learning_secs.unwrap_or(cur.learning_secs),
            learning_events: b.learning_events.unwrap_or(cur.learning_events),
            threshold: b.threshold.unwrap_or(cur.threshold),
        };
        let s = a
            .set_settings(p.tenant, new.clone())
            .map_err(ApiError::bad_request)?;
        let detail = serde_json::to_string(&new).unwrap_or_default();
        st.alerts
            .audit(p.tenant, &p.actor, "anomaly.settings", "anomaly", &detail)
            .map_err(meta_err)?;
        Ok(s)
    })
    .await?;
    Ok(Json(status_json(&s)))
}

/// `POST /api/v1/anomaly/relearn`: forget the model; learning starts again.
pub(super) async fn relearn(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let a = anomalies(&state)?;
    let st = state.clone();
    let s = blocking(move || {
        let s = a.relearn(p.tenant).map_err(ApiError::internal)?;
        st.alerts
            .audit(p.tenant, &p.actor, "anomaly.relearn", "anomaly", "{}")
            .map_err(meta_err)?;
        Ok(s)
    })
    .await?;
    Ok(Json(status_json(&s)))
}
