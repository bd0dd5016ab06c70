//! Request authentication: API tokens from `Authorization` headers.
//!
//! Accepted forms: `Bearer <token>` (Kasbah's own API), and for Elasticsearch-compatible shippers
//! `Basic base64(user:<token>)` (the password is the token; the user name is ignored) and
//! `ApiKey base64(id:<token>)`.

use axum::http::HeaderMap;
use base64::Engine;
use kasbah_event::TenantId;
use kasbah_meta::{Scope, Scopes};

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

/// Authenticates a request; 401 when the token is missing, unknown, revoked or expired.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let fail = || {
        state
            .metrics
            .auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::unauthorized()
    };
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
