//! API errors: an HTTP status, a stable machine-readable code and a message for people.
//!
//! Every error body is `{"error": {"code": "...", "message": "..."}}` (plus `column` for query
//! errors). The codes are listed in `docs/api.md`; they never change meaning.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error returned by the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Explanation.
    pub message: String,
    /// Column of a query error.
    pub column: Option<usize>,
    /// Seconds to wait (overload).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            column: None,
            retry_after: None,
        }
    }
    /// 401: no or bad credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is required (Authorization: Bearer ...)",
        )
    }
    /// 403: the credentials do not allow this.
    pub fn forbidden(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token lacks the `{what}` scope"),
        )
    }
    /// 403: a session whose one-time password is not changed yet.
    pub fn password_change_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "change the one-time password first (POST /api/v1/auth/password)",
        )
    }
    /// 403: the user has no role in the tenant asked for.
    pub fn no_access() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "no_access",
            "this user has no role in that tenant",
        )
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 503 with `Retry-After`: nothing of the request was stored.
    pub fn overloaded(message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
        }
    }
    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds the limit of {limit} bytes"),
        )
    }
    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<kasbah_store::StoreError> for ApiError {
    fn from(e: kasbah_store::StoreError) -> Self {
        match e {
            kasbah_store::StoreError::Overloaded(_) => {
                ApiError::overloaded(format!("{e}; nothing of this request was stored"))
            }
            kasbah_store::StoreError::Query(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", m)
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let (Some(c), Some(e)) = (self.column, body.get_mut("error")) {
            e["column"] = json!(c);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}
