//! Tenant management for global administrators (a CERT's operators): list every tenant, create
//! one, and join one as its administrator. Only a global administrator's browser session may
//! call these (tokens belong to one tenant, so no token can). Joining is recorded in the joined
//! tenant's own audit trail, so a tenant's administrators see every operator who let themselves
//! in.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use kasbah_meta::{Role, Tenant};
use serde::Deserialize;
use serde_json::{Value, json};

use super::alerts::{blocking, json_body, meta_err};
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::state::Shared;

fn tenant_json(t: &Tenant, role: Option<Role>, events: Option<u64>) -> Value {
    json!({
        "id": t.id.0,
        "name": t.name,
        "retention_days": t.retention_days,
        "retention_bytes": t.retention_bytes,
        "require_totp": t.require_totp,
        "role": role.map(Role::as_str),
        "events": events,
    })
}

/// The caller's role in each tenant.
fn roles(state: &Shared, user: kasbah_meta::UserId) -> Result<Vec<(u32, Role)>, ApiError> {
    let users = state.users.users().map_err(meta_err)?;
    Ok(users
        .into_iter()
        .find(|u| u.id == user)
        .map(|u| u.memberships.into_iter().map(|(t, r)| (t.0, r)).collect())
        .unwrap_or_default())
}

/// Gives the global administrator `user` the admin role in `tenant` and records it in that
/// tenant's audit trail as `action` on `target`.
fn become_admin(
    st: &Shared,
    p: &crate::auth::Principal,
    (user, tenant): (kasbah_meta::UserId, kasbah_meta::TenantId),
    (action, target): (&str, &str),
    detail: Value,
) -> Result<(), ApiError> {
    st.users
        .set_role(user, tenant, Some(Role::Admin))
        .map_err(meta_err)?;
    st.alerts
        .audit(tenant, &p.actor, action, target, &detail.to_string())
        .map_err(meta_err)
}

/// `GET /api/v1/tenants`: every tenant, with the caller's role in it (global administrators).
pub(super) async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = authenticate(&state, &headers)?;
    let user = p.require_global()?;
    let st = state.clone();
    blocking(move || {
        let mine = roles(&st, user)?;
        let everything = kasbah_query::parse("*").map_err(|e| ApiError::internal(e.to_string()))?;
        // Counts come from the index (no document is read).
        let count = |t: kasbah_meta::TenantId| {
            let req = kasbah_store::SearchRequest {
                query: &everything,
                from: None,
                to: None,
                limit: 0,
                offset: 0,
            };
            st.store
                .search(&kasbah_store::TenantScope::One(t), &req)
                .ok()
                .map(|r| r.total)
        };
        let list: Vec<Value> = st
            .meta
            .tenants()
            .map_err(meta_err)?
            .iter()
            .map(|t| {
                let role = mine.iter().find(|(id, _)| *id == t.id.0).map(|(_, r)| *r);
                tenant_json(t, role, count(t.id))
            })
            .collect();
        Ok(Json(json!({"tenants": list})))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
}

/// `POST /api/v1/tenants` `{"name"}`: creates a tenant (`[a-z0-9_-]{1,64}`, 409
/// `tenant_exists` if taken) and makes the caller its administrator.
pub(super) async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let p = authenticate(&state, &headers)?;
    let user = p.require_global()?;
    let body: CreateBody = json_body(b, r#"{"name"}"#)?;
    let name = body.name.trim().to_owned();
    if !kasbah_meta::valid_tenant_name(&name) {
        return Err(ApiError::bad_request(
            "name: 1-64 characters of a-z, 0-9, `-` and `_`",
        ));
    }
    let st = state.clone();
    blocking(move || {
        if st.meta.tenant_by_name(&name).map_err(meta_err)?.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tenant_exists",
                format!("a tenant named {name} exists"),
            ));
        }
        let t = st.meta.ensure_tenant(&name).map_err(meta_err)?;
        become_admin(
            &st,
            &p,
            (user, t.id),
            ("tenant.create", &format!("tenant:{name}")),
            json!({"created_from_tenant": p.tenant.0, "admin": p.actor}),
        )?;
        // The creator's home tenant records it too: it is where the operator works from.
        st.alerts
            .audit(
                p.tenant,
                &p.actor,
                "tenant.create",
                &format!("tenant:{name}"),
                &json!({"tenant_id": t.id.0}).to_string(),
            )
            .map_err(meta_err)?;
        Ok((
            StatusCode::CREATED,
            Json(tenant_json(&t, Some(Role::Admin), None)),
        ))
    })
    .await
}

/// `POST /api/v1/tenants/{id}/join`: the caller becomes administrator of the tenant (an
/// operator called in to help); recorded in that tenant's audit trail.
pub(super) async fn join(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<u32>,
) -> Result<Json<Value>, ApiError> {
    let p = authenticate(&state, &headers)?;
    let user = p.require_global()?;
    let st = state.clone();
    blocking(move || {
        let t = st
            .meta
            .tenant(kasbah_meta::TenantId(id))
            .map_err(meta_err)?
            .ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("tenant {id}"))
            })?;
        become_admin(
            &st,
            &p,
            (user, t.id),
            ("tenant.join", &p.actor),
            json!({"role": "admin", "global_admin": true}),
        )?;
        Ok(Json(tenant_json(&t, Some(Role::Admin), None)))
    })
    .await
}
