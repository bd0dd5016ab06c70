//! The HTTP API: routes, body limits and the public/authenticated split.
//!
//! Public (no token): `GET /healthz`, `GET /readyz`, `GET /metrics` (counters only, no event data)
//! the Elasticsearch version probe `GET /` that shippers call before authenticating, and the web
//! console's files (`GET /` for browsers, `GET /console/*`: code, never data).
//! Everything else needs a token with the right scope; see `docs/api.md`.

mod admin;
mod alerts;
mod anomaly;
mod api;
mod console;
mod es;
mod imports;
mod ops;
mod session;
mod summary;
mod tenants;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

use crate::state::Shared;

/// Builds the router.
pub fn router(state: Shared) -> Router {
    let body = state.config.http.max_body_bytes;
    let upload = state.config.http.max_upload_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/api/v1/auth/login", post(session::login))
        .route("/api/v1/auth/logout", post(session::logout))
        .route("/api/v1/auth/me", get(session::me))
        .route("/api/v1/auth/password", post(session::password))
        .route("/api/v1/auth/tenant", post(session::switch_tenant))
        .route("/api/v1/auth/totp/setup", post(session::totp_setup))
        .route("/api/v1/auth/totp/enable", post(session::totp_enable))
        .route("/api/v1/auth/totp/disable", post(session::totp_disable))
        .route("/api/v1/users", get(admin::users).post(admin::create_user))
        .route("/api/v1/users/{id}/role", put(admin::set_role))
        .route("/api/v1/users/{id}/reset", post(admin::reset_user))
        .route(
            "/api/v1/tokens",
            get(admin::tokens).post(admin::create_token),
        )
        .route("/api/v1/tokens/{id}", delete(admin::revoke_token))
        .route("/api/v1/tenant", get(admin::tenant).put(admin::set_tenant))
        .route("/api/v1/tenants", get(tenants::list).post(tenants::create))
        .route("/api/v1/tenants/{id}/join", post(tenants::join))
        .route("/api/v1/alerts/summary", get(summary::alerts))
        .route("/api/v1/rules/test", post(summary::test_rule))
        .route(
            "/api/v1/rules/imports",
            get(imports::list).post(imports::create),
        )
        .route(
            "/api/v1/rules/imports/{id}",
            get(imports::get).delete(imports::delete),
        )
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/health", get(ops::health))
        .route(
            "/api/v1/ingest",
            post(api::ingest).layer(DefaultBodyLimit::max(body)),
        )
        .route(
            "/api/v1/upload",
            post(api::upload).layer(DefaultBodyLimit::max(upload)),
        )
        .route("/api/v1/search", post(api::search))
        .route("/api/v1/templates", get(api::templates))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}", get(alerts::get))
        .route("/api/v1/alerts/{id}/events", get(alerts::events))
        .route("/api/v1/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/v1/alerts/{id}/assign", post(alerts::assign))
        .route("/api/v1/alerts/{id}/close", post(alerts::close))
        .route("/api/v1/alerts/{id}/reopen", post(alerts::reopen))
        .route("/api/v1/alerts/{id}/comments", post(alerts::comment))
        .route("/api/v1/rules", get(alerts::rules))
        .route("/api/v1/rules/{id}", get(alerts::rule))
        .route("/api/v1/rules/{id}/enable", post(alerts::enable))
        .route("/api/v1/rules/{id}/disable", post(alerts::disable))
        .route(
            "/api/v1/suppressions",
            get(alerts::suppressions).post(alerts::create_suppression),
        )
        .route(
            "/api/v1/suppressions/{id}",
            delete(alerts::delete_suppression),
        )
        .route("/api/v1/retrohunt", post(alerts::retrohunt))
        .route("/api/v1/audit", get(alerts::audit))
        .route(
            "/api/v1/anomaly",
            get(anomaly::status).put(anomaly::settings),
        )
        .route("/api/v1/anomaly/relearn", post(anomaly::relearn))
        .route("/", get(console::root).head(es::root_head))
        .route("/console/{*path}", get(console::file))
        .route(
            "/_bulk",
            post(es::bulk)
                .put(es::bulk)
                .layer(DefaultBodyLimit::max(body)),
        )
        .route(
            "/{index}/_bulk",
            post(es::bulk_index)
                .put(es::bulk_index)
                .layer(DefaultBodyLimit::max(body)),
        )
        .route("/_license", get(es::license))
        .route("/_xpack", get(es::license))
        .route("/_nodes", get(es::nodes))
        .route("/_cluster/health", get(es::cluster_health))
        .route(
            "/_template/{name}",
            get(es::ack).put(es::ack).head(es::exists),
        )
        .route(
            "/_index_template/{name}",
            get(es::ack).put(es::ack).head(es::exists),
        )
        .route("/_ilm/policy/{name}", get(es::ack).put(es::ack))
        .route("/_ingest/pipeline/{name}", get(es::ack).put(es::ack))
        .route("/{index}", axum::routing::put(es::ack).head(es::exists))
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn(csrf))
        .with_state(state)
}

/// Refuses a state-changing request made with a session cookie (and no `Authorization`
/// header) unless it carries the session's CSRF token: another site can make a browser send
/// the cookie, not read the token. The login itself is exempt (it has no session yet).
async fn csrf(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    use axum::response::IntoResponse;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe
        && req.uri().path() != "/api/v1/auth/login"
        && req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .is_none()
        && let Some(secret) = crate::auth::session_secret(req.headers())
    {
        let sent = req
            .headers()
            .get(crate::auth::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !crate::auth::same(sent, &crate::auth::csrf_token(&secret)) {
            return crate::error::ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                "a request made with a session cookie needs its X-CSRF-Token header",
            )
            .into_response();
        }
    }
    next.run(req).await
}
