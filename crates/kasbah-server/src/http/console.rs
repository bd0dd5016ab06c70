//! Serves the web console (`kasbah-console`'s embedded files): `GET /` answers the console to
//! browsers (which ask for `text/html`) and the Elasticsearch version probe to everything else;
//! `GET /console/{path}` serves the application's files. Both are public: they hold code, never
//! data; the console logs in through `/api/v1/auth/login` like any client.
//!
//! `KASBAH_CONSOLE_DIR` (development only) serves the files from that folder instead of the
//! embedded copies, so the console can be edited without rebuilding.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The console's Content-Security-Policy: its own files only (no CDN, no inline script), no
/// framing; `connect-src 'self'` keeps a stolen page from sending data elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `GET /`: the console for browsers, the version probe for shippers.
pub(super) async fn root(headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        serve("index.html", &headers)
    } else {
        super::es::root().await.into_response()
    }
}

/// `GET /console/{*path}`: one of the console's files.
pub(super) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if let Some(resp) = from_dev_dir(path) {
        return resp;
    }
    let Some(asset) = kasbah_console::asset(path) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes());
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(asset.bytes))
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    // Revalidate every time: a new binary must never run with an old cached script.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    resp
}

fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn from_dev_dir(path: &str) -> Option<Response> {
    let dir = std::env::var_os("KASBAH_CONSOLE_DIR")?;
    // Only plain relative names: never `..`, never absolute.
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some((StatusCode::NOT_FOUND, "no such console file").into_response());
    }
    let bytes = std::fs::read(std::path::Path::new(&dir).join(path)).ok()?;
    let ct = kasbah_console::content_type(path);
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(h);
    Some(resp)
}
