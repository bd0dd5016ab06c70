//! Sigma rules a tenant imports: each file (rules, their correlations, filters that tune the
//! server's rules) is checked against the server's rules and the tenant's other imports, stored,
//! and compiled into the tenant's own detector, which takes over the tenant's events at once,
//! without a restart. Other tenants never see or run them. Reading needs `read`, changes `write`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kasbah_meta::{NewRuleImport, RuleImport, Scope};
use kasbah_sigma::Diagnostic;
use serde::Deserialize;
use serde_json::{Value, json};

use super::alerts::{blocking, detection, json_body, meta_err, who};
use crate::error::ApiError;
use crate::state::Shared;

fn import_json(i: &RuleImport, with_yaml: bool) -> Value {
    let mut v = json!({
        "id": i.id,
        "name": i.name,
        "rule_ids": i.rule_ids,
        "filters": i.filter_ids,
        "bytes": i.yaml.len(),
        "created_by": i.created_by,
        "created_at": kasbah_event::Timestamp::from_nanos(i.created_at).to_rfc3339(),
    });
    if with_yaml {
        v["yaml"] = json!(i.yaml);
    }
    v
}

fn diagnostics_json(diags: &[Diagnostic]) -> Vec<Value> {
    diags
        .iter()
        .map(|d| json!({"line": d.line, "code": d.code.as_str(), "message": d.message}))
        .collect()
}

/// 400 `invalid_rule` with each diagnostic (line, stable code, message) for the editor.
fn rejected(diags: &[Diagnostic]) -> Response {
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    let list = diagnostics_json(diags);
    let body = json!({"error": {
        "code": "invalid_rule",
        "message": format!("the file was not imported: {}", lines.join("; ")),
        "diagnostics": list,
    }});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `GET /api/v1/rules/imports`: the tenant's imported files, oldest first.
pub(super) async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let st = state.clone();
    blocking(move || {
        let list = st.rule_imports.rule_imports(p.tenant).map_err(meta_err)?;
        Ok(Json(json!({
            "imports": list.iter().map(|i| import_json(i, false)).collect::<Vec<_>>()
        })))
    })
    .await
}

/// `GET /api/v1/rules/imports/{id}`: one imported file with its YAML.
pub(super) async fn get(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let st = state.clone();
    blocking(move || {
        st.rule_imports
            .rule_import(p.tenant, id)
            .map_err(meta_err)?
            .map(|i| Json(import_json(&i, true)))
            .ok_or_else(|| not_found(id))
    })
    .await
}

fn not_found(id: i64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("rule import {id}"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    name: Option<String>,
    yaml: String,
}

/// `POST /api/v1/rules/imports` `{"name"?, "yaml"}`: checks, stores and activates a file of
/// Sigma documents for the caller's tenant. 201 with the import, its rule ids, its filters and
/// the warnings of documents that loaded with a caveat; 400
/// `invalid_rule` with per-document diagnostics when any document does not load (nothing is
/// stored then).
pub(super) async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let d = detection(&state)?;
    let body: ImportBody = json_body(b, r#"{"name"?, "yaml"}"#)?;
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "imported.yml".to_owned());
    if name.contains('/') || name.chars().any(char::is_control) || name.len() > 200 {
        return Err(ApiError::bad_request(
            "name: at most 200 printable characters, no `/`",
        ));
    }
    if body.yaml.len() > kasbah_meta::MAX_IMPORT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "an imported file is at most {} bytes",
                kasbah_meta::MAX_IMPORT_BYTES
            ),
        ));
    }
    let st = state.clone();
    blocking(move || {
        // One import at a time: the check, the store and the switch must see the same list.
        let _one = d.imports_lock();
        let mut list = st.rule_imports.rule_imports(p.tenant).map_err(meta_err)?;
        let check = match d.check_import(&list, &name, &body.yaml) {
            Ok(c) => c,
            Err(diags) => return Ok(rejected(&diags)),
        };
        let imp = st
            .rule_imports
            .import_rules(&NewRuleImport {
                tenant: p.tenant,
                name: &name,
                yaml: &body.yaml,
                rule_ids: &check.rule_ids,
                filter_ids: &check.filters,
                actor: &p.actor,
            })
            .map_err(meta_err)?;
        list.push(imp.clone());
        d.set_imports(p.tenant, &list).map_err(meta_err)?;
        let mut v = import_json(&imp, false);
        v["warnings"] = json!(diagnostics_json(&check.warnings));
        Ok((StatusCode::CREATED, Json(v)).into_response())
    })
    .await
}

/// `DELETE /api/v1/rules/imports/{id}`: removes an imported file; its rules stop at once.
pub(super) async fn delete(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Write)?;
    let d = detection(&state)?;
    let st = state.clone();
    blocking(move || {
        let _one = d.imports_lock();
        if !st
            .rule_imports
            .delete_rule_import(p.tenant, id, &p.actor)
            .map_err(meta_err)?
        {
            return Err(not_found(id));
        }
        let list = st.rule_imports.rule_imports(p.tenant).map_err(meta_err)?;
        d.set_imports(p.tenant, &list).map_err(meta_err)?;
        Ok(Json(json!({"deleted": id})))
    })
    .await
}
