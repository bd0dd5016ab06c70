//! Request authentication: API tokens from `Authorization` headers, or a user's browser session
//! from the `kasbah_session` cookie.
//!
//! Token forms: `Bearer <token>` (Kasbah's own API), and for Elasticsearch-compatible shippers
//! `Basic base64(user:<token>)` (the password is the token; the user name is ignored) and
//! `ApiKey base64(id:<token>)`. A request with an `Authorization` header is judged by it alone.
//!
//! Sessions: the cookie is `HttpOnly`, `SameSite=Strict` (and `Secure` under TLS); every
//! state-changing request made with it must also carry `X-CSRF-Token`, a value derived from the
//! session secret that the login response gives to the page (see `http::csrf`). A session whose
//! password must be changed can only change it, read who it is and log out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use kasbah_event::TenantId;
use kasbah_meta::{Scope, Scopes};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The token's tenant.
    pub tenant: TenantId,
    /// What it may do.
    pub scopes: Scopes,
    /// Who, for the audit trail (`token:<label>`).
    pub actor: String,
    /// The user of a browser session (tokens have none).
    pub user: Option<kasbah_meta::UserId>,
    /// A session of a global administrator (never a token: tokens belong to one tenant).
    pub global_admin: bool,
}

impl Principal {
    /// Fails with 403 unless the principal has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(scope.as_str()))
        }
    }

    /// Fails with 403 `global_admin_required` unless a global administrator's session made
    /// the request.
    pub fn require_global(&self) -> Result<kasbah_meta::UserId, ApiError> {
        match self.user {
            Some(u) if self.global_admin => Ok(u),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "global_admin_required",
                "only a global administrator's session may do this",
            )),
        }
    }
}

/// Extracts the token secret from the headers.
pub fn secret(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("apikey") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "kasbah_session";
/// The header carrying the CSRF token of a session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session secret of the `kasbah_session` cookie, if any.
pub fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The CSRF token of a session: derived from its secret, so nothing more is stored, and useless
/// to anyone who cannot read the (HttpOnly) cookie.
pub fn csrf_token(session_secret: &str) -> String {
    let d = Sha256::new()
        .chain_update(b"kasbah-csrf\0")
        .chain_update(session_secret.as_bytes())
        .finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality that takes the same time wherever the first difference is.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The `Set-Cookie` value of a session (`max_age` seconds; 0 clears it).
pub fn session_cookie(secret: &str, max_age: u64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The address of the client of a connection (plain or TLS), for login limits and the audit.
#[derive(Copy, Clone, Debug)]
pub struct ClientAddr(pub std::net::SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for ClientAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*s.remote_addr())
    }
}

/// Login attempts per client address in the current minute.
#[derive(Default)]
pub struct LoginLimiter {
    seen: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

impl LoginLimiter {
    /// Counts an attempt from `ip` at `now_secs`; false when over `per_minute` (0: no limit).
    pub fn allow(&self, ip: IpAddr, now_secs: u64, per_minute: u32) -> bool {
        if per_minute == 0 {
            return true;
        }
        let Ok(mut m) = self.seen.lock() else {
            return true;
        };
        let minute = now_secs / 60;
        if m.len() > 100_000 {
            // Bounded memory under a spray from many addresses: old minutes go first.
            m.retain(|_, (min, _)| *min == minute);
        }
        let e = m.entry(ip).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= per_minute
    }
}

/// Authenticates a request: its token if it has an `Authorization` header, else its session
/// cookie; 401 when neither is valid.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let fail = || {
        state
            .metrics
            .auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::unauthorized()
    };
    if headers.get(axum::http::header::AUTHORIZATION).is_none()
        && let Some(cookie) = session_secret(headers)
    {
        let now = kasbah_event::Timestamp::now().as_nanos();
        let s = state
            .users
            .session(&cookie, now, state.config.auth.policy())
            .map_err(|e| ApiError::internal(e.to_string()))?
            .ok_or_else(fail)?;
        if s.must_change_password {
            return Err(ApiError::password_change_required());
        }
        if s.totp_enrollment_required {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "totp_enrollment_required",
                "this tenant requires a second factor: enrol one first (POST /api/v1/auth/totp/setup)",
            ));
        }
        return Ok(Principal {
            tenant: s.tenant,
            scopes: s.role.scopes(),
            actor: format!("user:{}", s.user_name),
            user: Some(s.user),
            global_admin: s.global_admin,
        });
    }
    let secret = secret(headers).ok_or_else(fail)?;
    let now = kasbah_event::Timestamp::now().as_nanos();
    let info = state
        .meta
        .verify_token(&secret, now)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(fail)?;
    Ok(Principal {
        tenant: info.tenant,
        scopes: info.scopes,
        actor: if info.label.is_empty() {
            format!("token:#{}", info.id.0)
        } else {
            format!("token:{}", info.label)
        },
        user: None,
        global_admin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_str(v).unwrap(),
        );
        m
    }

    #[test]
    fn session_cookie_csrf_and_limiter() {
        let mut m = HeaderMap::new();
        m.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("theme=dark; kasbah_session=kbh_s1 ; x=y"),
        );
        assert_eq!(session_secret(&m).as_deref(), Some("kbh_s1"));
        assert_eq!(session_secret(&HeaderMap::new()), None);
        let t = csrf_token("kbh_s1");
        assert_eq!(t.len(), 64);
        assert_ne!(t, csrf_token("kbh_s2"));
        assert!(same(&t, &csrf_token("kbh_s1")) && !same(&t, &csrf_token("kbh_s2")));
        assert!(!same("ab", "abc"));
        let c = session_cookie("kbh_s1", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        let l = LoginLimiter::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!((0..3).all(|_| l.allow(ip, 120, 3)));
        assert!(!l.allow(ip, 121, 3), "fourth in the same minute");
        assert!(l.allow([10, 0, 0, 2].into(), 121, 3), "per address");
        assert!(l.allow(ip, 180, 3), "a new minute");
    }

    #[test]
    fn reads_bearer_basic_and_apikey() {
        assert_eq!(secret(&h("Bearer kbh_abc")).as_deref(), Some("kbh_abc"));
        let b = base64::engine::general_purpose::STANDARD.encode("elastic:kbh_abc");
        assert_eq!(
            secret(&h(&format!("Basic {b}"))).as_deref(),
            Some("kbh_abc")
        );
        let k = base64::engine::general_purpose::STANDARD.encode("id1:kbh_abc");
        assert_eq!(
            secret(&h(&format!("ApiKey {k}"))).as_deref(),
            Some("kbh_abc")
        );
        assert_eq!(secret(&h("Digest xyz")), None);
        assert_eq!(secret(&h("Basic !!!")), None);
        assert_eq!(secret(&HeaderMap::new()), None);
    }
}
