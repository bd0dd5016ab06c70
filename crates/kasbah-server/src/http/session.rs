//! Browser sessions: log in with a user name and password (argon2id), log out, read who you
//! are, change your password. Failed logins count towards a lockout, attempts are limited per
//! client address, and every login, failure and password change is in the audit trail (failures
//! of unknown users in the system trail, tenant 0).

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kasbah_event::TenantId;
use kasbah_meta::{Session, User, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::alerts::{blocking, json_body};
use crate::auth::{csrf_token, session_cookie, session_secret};
use crate::error::ApiError;
use crate::state::Shared;

/// The audit chain of events that belong to no tenant (failed logins of unknown users).
const SYSTEM: TenantId = TenantId(0);

fn now_ns() -> i64 {
    kasbah_event::Timestamp::now().as_nanos()
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "unknown user or wrong password",
    )
}

/// A hash to verify against when the user does not exist, so that the answer takes as long as
/// for a wrong password (no user enumeration by timing).
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| kasbah_meta::hash_password("kasbah-no-such-user").unwrap_or_default())
}

fn audit(state: &Shared, tenant: TenantId, actor: &str, action: &str, detail: Value) {
    if let Err(e) = state
        .alerts
        .audit(tenant, actor, action, actor, &detail.to_string())
    {
        tracing::error!(error = %e, action, "audit entry not written");
    }
}

/// What the console needs to know about its session.
fn session_json(state: &Shared, s: &Session, secret: &str, user: Option<&User>) -> Value {
    let names = state.tenant_names();
    let name = |t: TenantId| names.get(&t.0).cloned().unwrap_or_default();
    let tenants: Vec<Value> = user
        .map(|u| {
            u.memberships
                .iter()
                .map(|(t, r)| json!({"name": name(*t), "role": r.as_str()}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "user": s.user_name,
        "tenant": name(s.tenant),
        "role": s.role.as_str(),
        "must_change_password": s.must_change_password,
        "totp": user.is_some_and(|u| u.totp),
        "totp_enrollment_required": s.totp_enrollment_required,
        "global_admin": s.global_admin,
        "csrf_token": csrf_token(secret),
        "expires_at": kasbah_event::Timestamp::from_nanos(s.expires_at).to_rfc3339(),
        "tenants": tenants,
    })
}

fn with_cookie(state: &Shared, body: Value, secret: &str, max_age: u64) -> Response {
    let secure = state.config.http.tls_cert.is_some();
    let mut r = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(secret, max_age, secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
    tenant: Option<String>,
    /// The TOTP code, for users with a second factor.
    code: Option<String>,
}

/// `POST /api/v1/auth/login` `{"username", "password", "tenant"?}`.
pub(super) async fn login(
    State(state): State<Shared>,
    peer: Option<Extension<ConnectInfo<crate::auth::ClientAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let ip = peer.map(|Extension(ConnectInfo(a))| a.0.ip());
    let now = now_ns();
    if let Some(ip) = ip
        && !state.logins.allow(
            ip,
            u64::try_from(now / 1_000_000_000).unwrap_or(0),
            state.config.auth.login_attempts_per_minute,
        )
    {
        return Err(ApiError {
            retry_after: Some(60),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many login attempts from this address; wait a minute",
            )
        });
    }
    let b: LoginBody = json_body(body, "{\"username\", \"password\", \"tenant\"?, \"code\"?}")?;
    let st = state.clone();
    blocking(move || {
        let ip = ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string());
        let Some((user, hash)) = st.users.user_by_name(&b.username).map_err(internal)? else {
            let _ = kasbah_meta::verify_password(dummy_hash(), &b.password);
            audit(
                &st,
                SYSTEM,
                &format!("user:{}", b.username),
                "auth.login_failed",
                json!({"ip": ip, "reason": "unknown user"}),
            );
            return Err(invalid_credentials());
        };
        let actor = format!("user:{}", user.name);
        let home = user.memberships.first().map_or(SYSTEM, |m| m.0);
        if let Some(until) = user.locked_until.filter(|u| *u > now) {
            audit(
                &st,
                home,
                &actor,
                "auth.login_failed",
                json!({"ip": ip, "reason": "locked"}),
            );
            let secs = u32::try_from((until - now) / 1_000_000_000 + 1).unwrap_or(u32::MAX);
            return Err(ApiError {
                retry_after: Some(secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "account_locked",
                    "too many failed logins: this account is locked for a while",
                )
            });
        }
        if !kasbah_meta::verify_password(&hash, &b.password) {
            count_failure(&st, &user, home, &ip, "wrong password", now)?;
            return Err(invalid_credentials());
        }
        if user.totp {
            check_code(&st, &user, home, &ip, b.code.as_deref(), now)?;
        }
        let tenant = tenant_for(&st, &user, b.tenant.as_deref())?;
        let r = start_session(&st, &user, tenant)?;
        audit(&st, tenant, &actor, "auth.login", json!({"ip": ip}));
        Ok(r)
    })
    .await
}

/// Counts a failed login towards the lockout and audits it with the client address.
fn count_failure(
    st: &Shared,
    user: &User,
    home: TenantId,
    ip: &str,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    let cfg = &st.config.auth;
    let lock_ns = i64::try_from(cfg.lockout_secs.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
    let f = st
        .users
        .login_failed(user.id, now, cfg.max_failed_logins, lock_ns)
        .map_err(internal)?;
    audit(
        st,
        home,
        &format!("user:{}", user.name),
        "auth.login_failed",
        json!({"ip": ip, "reason": reason, "failures": f.failures,
               "locked": f.locked_until.is_some()}),
    );
    Ok(())
}

/// The tenant a session of `user` works in: the one named if the user has a role there (403
/// `no_access` otherwise), else the user's first.
fn tenant_for(st: &Shared, user: &User, name: Option<&str>) -> Result<TenantId, ApiError> {
    match name {
        None => user.memberships.first().map(|m| m.0),
        Some(name) => st
            .meta
            .tenant_by_name(name)
            .map_err(internal)?
            .map(|t| t.id)
            .filter(|t| user.memberships.iter().any(|m| m.0 == *t)),
    }
    .ok_or_else(ApiError::no_access)
}

/// The second factor of a login whose password was right: no code asks for one (not a
/// failure); a wrong or replayed code counts towards the lockout like a wrong password.
fn check_code(
    st: &Shared,
    user: &User,
    home: TenantId,
    ip: &str,
    code: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "totp_required",
            "this account has a second factor: give the code of your authenticator app",
        ));
    };
    let state = st.users.totp_state(user.id).map_err(internal)?;
    let step = state
        .secret
        .as_deref()
        .and_then(|s| kasbah_meta::verify_totp(s, code, now / 1_000_000_000));
    let fresh = match step {
        Some(step) => st.users.use_totp_step(user.id, step).map_err(internal)?,
        None => false,
    };
    if fresh {
        return Ok(());
    }
    let reason = if step.is_some() {
        "replayed code"
    } else {
        "wrong code"
    };
    count_failure(st, user, home, ip, reason, now)?;
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_totp",
        "wrong or already used code",
    ))
}

/// Starts a session of `user` in `tenant`: the answer with its cookie and what the page needs.
fn start_session(st: &Shared, user: &User, tenant: TenantId) -> Result<Response, ApiError> {
    let now = now_ns();
    let policy = st.config.auth.policy();
    let secret = st
        .users
        .create_session(user.id, tenant, now, policy)
        .map_err(internal)?;
    let s = st
        .users
        .session(&secret, now, policy)
        .map_err(internal)?
        .ok_or_else(|| ApiError::internal("the new session is not readable"))?;
    let body = session_json(st, &s, &secret, Some(user));
    Ok(with_cookie(
        st,
        body,
        &secret,
        st.config.auth.session_max_secs,
    ))
}

/// The caller's session and its secret; 401 without one.
fn current(state: &Shared, headers: &HeaderMap) -> Result<(Session, String), ApiError> {
    let secret = session_secret(headers).ok_or_else(ApiError::unauthorized)?;
    let s = state
        .users
        .session(&secret, now_ns(), state.config.auth.policy())
        .map_err(internal)?
        .ok_or_else(ApiError::unauthorized)?;
    Ok((s, secret))
}

fn user_of(state: &Shared, s: &Session) -> Result<(User, String), ApiError> {
    state
        .users
        .user_by_name(&s.user_name)
        .map_err(internal)?
        .ok_or_else(ApiError::unauthorized)
}

/// `GET /api/v1/auth/me`: who the session is, its tenant, role and CSRF token.
pub(super) async fn me(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    blocking(move || {
        let (s, secret) = current(&st, &headers)?;
        let (u, _) = user_of(&st, &s)?;
        Ok(Json(session_json(&st, &s, &secret, Some(&u))))
    })
    .await
}

/// `POST /api/v1/auth/logout`.
pub(super) async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let st = state.clone();
    blocking(move || {
        let (s, secret) = current(&st, &headers)?;
        st.users.end_session(&secret).map_err(internal)?;
        audit(
            &st,
            s.tenant,
            &format!("user:{}", s.user_name),
            "auth.logout",
            json!({}),
        );
        Ok(with_cookie(&st, json!({"logged_out": true}), "", 0))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current: String,
    new: String,
}

/// `POST /api/v1/auth/password` `{"current", "new"}`: every session of the user ends, and the
/// caller gets a new one.
pub(super) async fn password(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Who first: a request without a session learns nothing, not even the body's shape.
    let st = state.clone();
    blocking(move || {
        let (s, _) = current(&st, &headers)?;
        let b: PasswordBody = json_body(body, "{\"current\", \"new\"}")?;
        let (u, hash) = user_of(&st, &s)?;
        if !kasbah_meta::verify_password(&hash, &b.current) {
            return Err(invalid_credentials());
        }
        if b.new == b.current {
            return Err(ApiError::bad_request("the new password must differ"));
        }
        kasbah_meta::check_new_password(&b.new, &u.name)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let h = kasbah_meta::hash_password(&b.new).map_err(internal)?;
        let id: UserId = u.id;
        st.users.set_password(id, &h, false).map_err(internal)?;
        st.users.end_sessions_of(id).map_err(internal)?;
        let r = start_session(&st, &u, s.tenant)?;
        audit(
            &st,
            s.tenant,
            &format!("user:{}", u.name),
            "auth.password_change",
            json!({}),
        );
        Ok(r)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantBody {
    tenant: String,
}

/// `POST /api/v1/auth/tenant` `{"tenant"}`: moves the caller to another tenant they have a
/// role in. The old session ends and a new one (new cookie, new CSRF token) starts, so a
/// session id never changes its powers in place.
pub(super) async fn switch_tenant(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let st = state.clone();
    blocking(move || {
        let (s, secret) = current(&st, &headers)?;
        let b: TenantBody = json_body(body, "{\"tenant\"}")?;
        if s.must_change_password {
            return Err(ApiError::password_change_required());
        }
        let (u, _) = user_of(&st, &s)?;
        let tenant = tenant_for(&st, &u, Some(&b.tenant))?;
        st.users.end_session(&secret).map_err(internal)?;
        let r = start_session(&st, &u, tenant)?;
        let actor = format!("user:{}", u.name);
        audit(
            &st,
            s.tenant,
            &actor,
            "auth.tenant_switch",
            json!({"to": b.tenant}),
        );
        audit(
            &st,
            tenant,
            &actor,
            "auth.login",
            json!({"from_tenant": true}),
        );
        Ok(r)
    })
    .await
}

/// `POST /api/v1/auth/totp/setup`: a new secret to enrol (shown once, as base32 and as an
/// `otpauth://` URI for authenticator apps, and that URI as a QR code: rows of `0`/`1` modules,
/// drawn by the console so no image format or inline markup is involved); it becomes the second factor once a code of it is
/// given to `/api/v1/auth/totp/enable`.
pub(super) async fn totp_setup(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    blocking(move || {
        let (s, _) = current(&st, &headers)?;
        let (u, _) = user_of(&st, &s)?;
        if u.totp {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "totp_enabled",
                "a second factor is enabled already; disable it first to enrol another",
            ));
        }
        let secret = kasbah_meta::generate_totp_secret().map_err(internal)?;
        st.users
            .set_totp_pending(u.id, Some(&secret))
            .map_err(internal)?;
        let uri = kasbah_meta::otpauth_uri("Kasbah", &u.name, &secret);
        Ok(Json(json!({
            "secret": secret,
            "qr": qr_rows(&uri),
            "uri": uri,
        })))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

/// `POST /api/v1/auth/totp/enable` `{"code"}`: enables the enrolled secret, proven by one of
/// its codes.
pub(super) async fn totp_enable(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    blocking(move || {
        let (s, secret) = current(&st, &headers)?;
        let b: CodeBody = json_body(body, "{\"code\"}")?;
        let (u, _) = user_of(&st, &s)?;
        let pending = st
            .users
            .totp_state(u.id)
            .map_err(internal)?
            .pending
            .ok_or_else(|| {
                ApiError::bad_request(
                    "no second factor is being enrolled (POST /api/v1/auth/totp/setup)",
                )
            })?;
        let step = kasbah_meta::verify_totp(&pending, &b.code, now_ns() / 1_000_000_000)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_totp",
                    "wrong code: check the phone's clock and try the next one",
                )
            })?;
        st.users.enable_totp(u.id).map_err(internal)?;
        st.users.use_totp_step(u.id, step).map_err(internal)?;
        audit(
            &st,
            s.tenant,
            &format!("user:{}", u.name),
            "auth.totp_enable",
            json!({}),
        );
        // What the repository now holds: the factor is on, so nothing is left to enrol.
        let s = Session {
            totp_enrollment_required: false,
            ..s
        };
        let u = User { totp: true, ..u };
        Ok(Json(session_json(&st, &s, &secret, Some(&u))))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableBody {
    password: String,
}

/// `POST /api/v1/auth/totp/disable` `{"password"}`: removes the user's second factor, unless
/// one of their tenants requires it.
pub(super) async fn totp_disable(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let st = state.clone();
    blocking(move || {
        let (s, secret) = current(&st, &headers)?;
        let b: DisableBody = json_body(body, "{\"password\"}")?;
        let (u, hash) = user_of(&st, &s)?;
        if !kasbah_meta::verify_password(&hash, &b.password) {
            return Err(invalid_credentials());
        }
        let required = st
            .meta
            .tenants()
            .map_err(internal)?
            .into_iter()
            .any(|t| t.require_totp && u.memberships.iter().any(|(m, _)| *m == t.id));
        if required {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "totp_required_by_tenant",
                "a tenant of yours requires a second factor",
            ));
        }
        st.users.disable_totp(u.id).map_err(internal)?;
        audit(
            &st,
            s.tenant,
            &format!("user:{}", u.name),
            "auth.totp_disable",
            json!({}),
        );
        let u = User { totp: false, ..u };
        Ok(Json(session_json(&st, &s, &secret, Some(&u))))
    })
    .await
}

/// A QR code of `text` as rows of `1` (dark) and `0` (light) modules, without the quiet zone;
/// empty if the text does not fit in a QR code.
fn qr_rows(text: &str) -> Vec<String> {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) else {
        return Vec::new();
    };
    let width = code.width();
    code.to_colors()
        .chunks(width.max(1))
        .map(|row| {
            row.iter()
                .map(|c| if *c == qrcode::Color::Dark { '1' } else { '0' })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_uris_become_square_qr_codes_with_finder_patterns() {
        let uri = kasbah_meta::otpauth_uri("Kasbah", "ann@cert", "JBSWY3DPEHPK3PXP");
        let rows = qr_rows(&uri);
        let n = rows.len();
        assert!(
            n >= 21 && (n - 21).is_multiple_of(4),
            "a QR version's size: {n}"
        );
        assert!(
            rows.iter()
                .all(|r| r.len() == n && r.bytes().all(|b| b == b'0' || b == b'1'))
        );
        // The three finder patterns: a dark 7x7 ring in three corners.
        for (r0, c0) in [(0, 0), (0, n - 7), (n - 7, 0)] {
            for i in 0..7 {
                for (r, c) in [
                    (r0, c0 + i),
                    (r0 + 6, c0 + i),
                    (r0 + i, c0),
                    (r0 + i, c0 + 6),
                ] {
                    assert_eq!(rows[r].as_bytes()[c], b'1', "finder at {r0},{c0}");
                }
            }
        }
        assert!(
            qr_rows(&"x".repeat(5000)).is_empty(),
            "too long for a QR code"
        );
    }
}
