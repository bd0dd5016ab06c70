//! Tenant administration over the API (what the console's Administration page uses, and what
//! automation can script): the tenant's users and their roles, its API tokens and its
//! retention. Everything needs the `admin` scope of the caller's tenant and is scoped to it: a
//! user without a role in the tenant, or another tenant's token, is "not found". Every change
//! is in the audit trail.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kasbah_event::{TenantId, Timestamp};
use kasbah_meta::{Role, Scope, Scopes, TokenId, TokenInfo, User, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::alerts::{blocking, json_body, meta_err, who};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::{AppState, Shared};

fn rfc3339(ns: i64) -> String {
    Timestamp::from_nanos(ns).to_rfc3339()
}

fn not_found(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what.to_string())
}

fn audit(
    st: &AppState,
    p: &Principal,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<(), ApiError> {
    st.alerts
        .audit(p.tenant, &p.actor, action, target, &detail.to_string())
        .map_err(meta_err)
}

fn user_json(u: &User, tenant: TenantId) -> Value {
    let role = u
        .memberships
        .iter()
        .find(|(t, _)| *t == tenant)
        .map(|(_, r)| r.as_str());
    json!({
        "id": u.id.0,
        "name": u.name,
        "role": role,
        "must_change_password": u.must_change_password,
        "totp": u.totp,
        "failed_logins": u.failed_logins,
        "locked_until": u.locked_until.filter(|l| *l > Timestamp::now().as_nanos()).map(rfc3339),
    })
}

/// The tenant's members (users with a role in it).
fn members(st: &AppState, tenant: TenantId) -> Result<Vec<User>, ApiError> {
    Ok(st
        .users
        .users()
        .map_err(meta_err)?
        .into_iter()
        .filter(|u| u.memberships.iter().any(|(t, _)| *t == tenant))
        .collect())
}

/// `u` as it is once its role in `tenant` is `role` (what the repository now holds).
fn with_role(mut u: User, tenant: TenantId, role: Option<Role>) -> User {
    u.memberships.retain(|(t, _)| *t != tenant);
    if let Some(r) = role {
        u.memberships.push((tenant, r));
    }
    u
}

fn member(st: &AppState, tenant: TenantId, id: i64) -> Result<User, ApiError> {
    members(st, tenant)?
        .into_iter()
        .find(|u| u.id == UserId(id))
        .ok_or_else(|| not_found(format!("user {id}")))
}

/// `GET /api/v1/users`: the tenant's users with their role.
pub(super) async fn users(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    blocking(move || {
        let list: Vec<Value> = members(&state, p.tenant)?
            .iter()
            .map(|u| user_json(u, p.tenant))
            .collect();
        Ok(Json(json!({"users": list})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    role: String,
}

/// `POST /api/v1/users` `{"username", "role"}`: a new user with a role in the caller's tenant
/// and a one-time password, returned once (it must be changed at the first login).
pub(super) async fn create_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    let body: NewUserBody = json_body(b, r#"{"username", "role"}"#)?;
    let role = Role::parse(&body.role).map_err(|e| ApiError::bad_request(e.to_string()))?;
    blocking(move || {
        if state
            .users
            .user_by_name(&body.username)
            .map_err(meta_err)?
            .is_some()
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "user_exists",
                format!("a user named {} exists already", body.username),
            ));
        }
        // The repository checks the name (400 for an invalid one).
        let (password, hash) = kasbah_meta::one_time_password().map_err(meta_err)?;
        let user = state
            .users
            .create_user(&body.username, &hash, true)
            .map_err(meta_err)?;
        state
            .users
            .set_role(user.id, p.tenant, Some(role))
            .map_err(meta_err)?;
        audit(
            &state,
            &p,
            "user.role",
            &format!("user:{}", user.name),
            json!({"role": role.as_str(), "created": true}),
        )?;
        let user = with_role(user, p.tenant, Some(role));
        Ok((
            StatusCode::CREATED,
            Json(json!({"user": user_json(&user, p.tenant), "password": password})),
        )
            .into_response())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Option<String>,
}

/// `PUT /api/v1/users/{id}/role` `{"role": "viewer" | "analyst" | "admin" | null}`: changes the
/// user's role in the caller's tenant (`null` removes them from it). The tenant's last
/// administrator cannot be demoted or removed (409 `last_admin`).
pub(super) async fn set_role(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    let body: RoleBody = json_body(b, r#"{"role": "viewer" | "analyst" | "admin" | null}"#)?;
    let role = body
        .role
        .as_deref()
        .map(Role::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    blocking(move || {
        let all = members(&state, p.tenant)?;
        let user = all
            .iter()
            .find(|u| u.id == UserId(id))
            .ok_or_else(|| not_found(format!("user {id}")))?;
        let is_admin = |u: &User| {
            u.memberships
                .iter()
                .any(|(t, r)| *t == p.tenant && *r == Role::Admin)
        };
        let admins = all.iter().filter(|u| is_admin(u)).count();
        if is_admin(user) && role != Some(Role::Admin) && admins <= 1 {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "last_admin",
                "this is the tenant's last administrator: make another one first",
            ));
        }
        state
            .users
            .set_role(user.id, p.tenant, role)
            .map_err(meta_err)?;
        audit(
            &state,
            &p,
            "user.role",
            &format!("user:{}", user.name),
            json!({"role": role.map(Role::as_str)}),
        )?;
        Ok(Json(user_json(
            &with_role(user.clone(), p.tenant, role),
            p.tenant,
        )))
    })
    .await
}

/// `POST /api/v1/users/{id}/reset`: a new one-time password for a user of the tenant, returned
/// once; the user's sessions end and their second factor is removed (the lost-phone case: they
/// enrol again, which a tenant requiring it enforces).
pub(super) async fn reset_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    blocking(move || {
        let user = member(&state, p.tenant, id)?;
        let (password, hash) = kasbah_meta::one_time_password().map_err(meta_err)?;
        state
            .users
            .reset_password(user.id, &hash)
            .map_err(meta_err)?;
        audit(
            &state,
            &p,
            "user.reset",
            &format!("user:{}", user.name),
            json!({"totp_removed": user.totp}),
        )?;
        Ok(Json(json!({"user": user.name, "password": password})))
    })
    .await
}

fn token_json(t: &TokenInfo) -> Value {
    json!({
        "id": t.id.0,
        "label": t.label,
        "scopes": t.scopes.to_string().split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "created_at": rfc3339(t.created_at),
        "expires_at": t.expires_at.map(rfc3339),
        "revoked_at": t.revoked_at.map(rfc3339),
    })
}

/// `GET /api/v1/tokens`: the tenant's API tokens (never their secrets).
pub(super) async fn tokens(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    blocking(move || {
        let list = state.meta.tokens(p.tenant).map_err(meta_err)?;
        Ok(Json(
            json!({"tokens": list.iter().map(token_json).collect::<Vec<_>>()}),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenBody {
    label: String,
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
}

/// `POST /api/v1/tokens` `{"label", "scopes": ["ingest", "read", ...], "expires_in_days"?}`:
/// a token of the caller's tenant; the secret is in this answer only.
pub(super) async fn create_token(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    let body: NewTokenBody = json_body(b, r#"{"label", "scopes", "expires_in_days"?}"#)?;
    let scopes =
        Scopes::parse(&body.scopes.join(",")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if body.label.trim().is_empty() || body.label.len() > 200 {
        return Err(ApiError::bad_request(
            "a token needs a label of 1 to 200 characters",
        ));
    }
    let expires = body.expires_in_days.map(|d| {
        Timestamp::now()
            .as_nanos()
            .saturating_add(i64::from(d).saturating_mul(86_400 * 1_000_000_000))
    });
    blocking(move || {
        let tok = state
            .meta
            .create_token(p.tenant, &body.label, scopes, expires)
            .map_err(meta_err)?;
        audit(
            &state,
            &p,
            "token.create",
            &format!("token:{}", tok.info.id.0),
            json!({"label": body.label, "scopes": scopes.to_string(), "expires_at": expires}),
        )?;
        Ok((
            StatusCode::CREATED,
            Json(json!({"token": tok.secret, "info": token_json(&tok.info)})),
        )
            .into_response())
    })
    .await
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of the tenant's tokens (204).
pub(super) async fn revoke_token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    blocking(move || {
        // Scoped to the caller's tenant: an id of another tenant is not found.
        let revoked = state
            .meta
            .revoke_token(TokenId(id), Some(p.tenant))
            .map_err(meta_err)?;
        if revoked.is_none() {
            return Err(not_found(format!("token {id}")));
        }
        audit(
            &state,
            &p,
            "token.revoke",
            &format!("token:{id}"),
            json!({}),
        )?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

fn tenant_json(st: &AppState, tenant: TenantId) -> Result<Value, ApiError> {
    let t = st
        .meta
        .tenant(tenant)
        .map_err(meta_err)?
        .ok_or_else(|| not_found("tenant"))?;
    Ok(json!({
        "name": t.name,
        "retention_days": t.retention_days,
        "retention_bytes": t.retention_bytes,
        "require_totp": t.require_totp,
    }))
}

/// `GET /api/v1/tenant` (read): the caller's tenant and its retention.
pub(super) async fn tenant(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    blocking(move || Ok(Json(tenant_json(&state, p.tenant)?))).await
}

/// `PUT /api/v1/tenant` `{"retention_days"?: n | null, "retention_bytes"?: n | null,
/// "require_totp"?: bool}`: the tenant's settings; absent keys are unchanged, retention applies
/// at once (`null`: the server default) and a TOTP requirement at the users' next request.
pub(super) async fn set_tenant(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Admin)?;
    let shape = r#"{"retention_days"?, "retention_bytes"?, "require_totp"?}"#;
    let body: serde_json::Map<String, Value> = json_body(b, shape)?;
    if let Some(k) = body.keys().find(|k| {
        !matches!(
            k.as_str(),
            "retention_days" | "retention_bytes" | "require_totp"
        )
    }) {
        return Err(ApiError::bad_request(format!(
            "unknown key {k:?}; the body is {shape}"
        )));
    }
    let positive = |k: &str| -> Result<Option<Option<u64>>, ApiError> {
        match body.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => v
                .as_u64()
                .filter(|n| *n > 0)
                .map(|n| Some(Some(n)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{k} must be a positive integer or null"))
                }),
        }
    };
    let days = positive("retention_days")?
        .map(|d| d.map(u32::try_from).transpose())
        .transpose()
        .map_err(|_| ApiError::bad_request("retention_days is too large"))?;
    let bytes = positive("retention_bytes")?;
    let totp = match body.get("require_totp") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::bad_request("require_totp must be true or false")),
    };
    blocking(move || {
        let t = state
            .meta
            .tenant(p.tenant)
            .map_err(meta_err)?
            .ok_or_else(|| not_found("tenant"))?;
        if days.is_some() || bytes.is_some() {
            let days = days.unwrap_or(t.retention_days);
            let bytes = bytes.unwrap_or(t.retention_bytes);
            state
                .meta
                .set_retention(p.tenant, days, bytes)
                .map_err(meta_err)?;
            // What is not set falls back to the server's default, as at start-up.
            let default = crate::store_config(&state.config).default_retention;
            state
                .store
                .set_retention(
                    p.tenant,
                    kasbah_store::Retention {
                        max_age: days
                            .map(|d| Duration::from_secs(u64::from(d) * 86_400))
                            .or(default.max_age),
                        max_bytes: bytes.or(default.max_bytes),
                    },
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            audit(
                &state,
                &p,
                "tenant.retention",
                "tenant",
                json!({"days": days, "bytes": bytes}),
            )?;
        }
        if let Some(required) = totp.filter(|r| *r != t.require_totp) {
            state
                .meta
                .set_require_totp(p.tenant, required)
                .map_err(meta_err)?;
            audit(
                &state,
                &p,
                "tenant.require_totp",
                "tenant",
                json!({"required": required}),
            )?;
        }
        Ok(Json(tenant_json(&state, p.tenant)?))
    })
    .await
}
