//! Health checks, the security headers on every response, and the JSON 404.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::openapi;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/openapi.json", get(openapi_document))
        .route(tocsin_core::plan::SECURITY_TXT_PATH, get(security_txt))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: not shutting down, every worker running, and the database
/// answers.
async fn readyz(State(state): State<AppState>) -> Response {
    if !state.0.ready.load(std::sync::atomic::Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting down"})),
        )
            .into_response();
    }
    if let Some(worker) = state.failed_worker() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "a worker failed", "worker": worker})),
        )
            .into_response();
    }
    match state.0.store.chain_head().await {
        Ok(_) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

/// `/.well-known/security.txt` from the plan's `[security_txt]`, for anyone: 404 when the
/// plan has none.
async fn security_txt(State(state): State<AppState>) -> Response {
    let plan = state.0.desk.plan();
    let Some(txt) = plan.security_txt() else {
        return (StatusCode::NOT_FOUND, "this plan has no [security_txt]\n").into_response();
    };
    let canonical = state
        .config()
        .public_url
        .as_deref()
        .map(|url| format!("{}{}", url.trim_end_matches('/'), tocsin_core::plan::SECURITY_TXT_PATH));
    let body = txt.render(&plan.organization().name, canonical.as_deref());
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn openapi_document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi::document()).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such page or endpoint")
}

/// Logs each request at debug level (`TOCSIN_LOG=debug`): method, path, status, duration.
/// The path is the route's (`/api/v1/heartbeat/{key}`), never the key in it; queries are
/// left out, as they may hold keys and search text.
pub async fn access_log(request: Request, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(request).await;
    }
    let started = std::time::Instant::now();
    let route = request.extensions().get::<axum::extract::MatchedPath>();
    let path = logged_path(route.map(axum::extract::MatchedPath::as_str), request.uri().path());
    let method = request.method().clone();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// The path to log: the route matched, or else the path with every segment long enough
/// to be a key left out.
fn logged_path(route: Option<&str>, path: &str) -> String {
    if let Some(route) = route {
        return route.to_owned();
    }
    path.split('/')
        .map(|segment| if segment.len() >= 16 { "[redacted]" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// The content security policy: own scripts, styles and images only; no framing, no
/// plugins, forms post only to tocsin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response.
pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let cacheable = headers.contains_key(header::CACHE_CONTROL);
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    // Not `no-referrer`: browsers would then send `Origin: null` with forms, and the
    // login form checks where it came from.
    set(header::REFERRER_POLICY, "same-origin");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    if state.config().behind_tls() {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    if !cacheable {
        set(header::CACHE_CONTROL, "no-store");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16, item 15: the keys of Alertmanager webhooks and heartbeats appeared in the
    /// access log's paths.
    #[test]
    fn logged_paths_never_show_a_key() {
        let key = "0123456789abcdef0123456789abcdef";
        let path = format!("/api/v1/heartbeat/{key}");
        assert_eq!(
            logged_path(Some("/api/v1/heartbeat/{key}"), &path),
            "/api/v1/heartbeat/{key}"
        );
        assert_eq!(
            logged_path(None, &format!("/api/v1/heartbeet/{key}/x")),
            "/api/v1/heartbeet/[redacted]/x"
        );
        assert_eq!(logged_path(None, "/incidents/INC-0001"), "/incidents/INC-0001");
    }
}
