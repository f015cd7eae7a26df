//! Sentry SDKs, pointed at tocsin by a DSN: `POST /api/<project>/envelope/` and the older
//! `POST /api/<project>/store/`. The DSN's public key is a sentry integration's key and its
//! project is the integration's id. What an envelope becomes is read by
//! `tocsin_core::senders::sentry`; this is the HTTP around it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tocsin_core::Timestamp;
use tocsin_core::senders::Unreadable;
use tocsin_core::senders::sentry::{envelope_of, key_of_dsn, read_event};

use super::compat::{self, Gate, Refusal, Unread};
use crate::http::AppState;
use crate::ingest::{BodyError, Encoding};
use crate::services::integrations::{Integration, IntegrationKind};

/// The most a request may carry, compressed or not: envelopes hold attachments too.
pub const MAX_BODY: usize = 20 * 1024 * 1024;
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/{project}/envelope/", post(envelope).options(preflight))
        .route("/api/{project}/envelope", post(envelope).options(preflight))
        .route("/api/{project}/store/", post(store).options(preflight))
        .route("/api/{project}/store", post(store).options(preflight))
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    let why = compat::brief(&why.into());
    Refusal::new(status, why.clone(), json!({"detail": why}))
}

/// Browser SDKs send from pages of other origins.
fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-sentry-error, x-sentry-rate-limits, retry-after"),
    );
    response
}

async fn preflight() -> Response {
    let mut response = cors(StatusCode::OK.into_response());
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, content-encoding, x-sentry-auth, authorization"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    response
}

/// The DSN's public key: in `X-Sentry-Auth` (or `Authorization: Sentry …`) as
/// `sentry_key=…`, or in the query.
fn key_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let without_scheme = |value: &str| {
        value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("sentry "))
            .map(|_| value[7..].to_owned())
    };
    let fields = header(X_SENTRY_AUTH)
        .map(|v| without_scheme(v).unwrap_or_else(|| v.to_owned()))
        .or_else(|| without_scheme(header(header::AUTHORIZATION.as_str())?));
    let from_header = fields.and_then(|fields| {
        fields.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == "sentry_key").then(|| v.trim().to_owned())
        })
    });
    from_header.or_else(|| {
        form_urlencoded::parse(query?.as_bytes()).find_map(|(k, v)| (k == "sentry_key").then(|| v.into_owned()))
    })
}

const X_SENTRY_AUTH: &str = "x-sentry-auth";

/// Bodies of events and envelopes read at once.
static RECEIVED: Gate = Gate::new();

fn encoding(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    Encoding::of(headers).map_err(|other| refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, other.to_string()))
}

/// The body, expanded off the request threads.
async fn expanded(encoding: Encoding, body: Bytes) -> Result<Vec<u8>, Refusal> {
    let expand = move || {
        encoding
            .expand(&body, MAX_BODY)
            .map(std::borrow::Cow::into_owned)
            .map_err(|e| match e {
                BodyError::TooLarge(_) | BodyError::Bomb => refuse(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
                _ => refuse(StatusCode::BAD_REQUEST, e.to_string()),
            })
    };
    tokio::task::spawn_blocking(expand).await.unwrap_or_else(|_| {
        Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the body could not be expanded",
        ))
    })
}

/// The most of an envelope read, compressed, to find its first line before its key is known.
const FIRST_LINE_MAX: usize = 16 * 1024;

/// The start of a body, expanded as far as it goes, up to its first line break.
fn first_line(encoding: Encoding, start: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut decoded = Vec::new();
    // A stream cut short ends in an error after what it could expand.
    let _ = encoding
        .reader(start)
        .take(FIRST_LINE_MAX as u64)
        .read_to_end(&mut decoded);
    let end = decoded.iter().position(|b| *b == b'\n')?;
    decoded.truncate(end);
    Some(decoded)
}

#[derive(Clone, Copy)]
enum Endpoint {
    Envelope,
    Store,
}

async fn envelope(
    state: State<AppState>,
    project: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Unread,
) -> Response {
    receive(state, project, query, headers, body, Endpoint::Envelope).await
}

async fn store(
    state: State<AppState>,
    project: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Unread,
) -> Response {
    receive(state, project, query, headers, body, Endpoint::Store).await
}

/// The sentry integration whose DSN key this is.
async fn named(state: &AppState, key: &str) -> Result<Arc<Integration>, Refusal> {
    match compat::integration(state, key, IntegrationKind::Sentry).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "no sentry integration has this DSN key",
        )),
        Err(n) => Err(n.refuse(refuse)),
    }
}

async fn receive(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Unread,
    endpoint: Endpoint,
) -> Response {
    // The integration once known, to count what it sent or why it was refused; the start
    // of the body, expanded, to show as its last payload; and the key, to mask it there.
    let mut integration: Option<Arc<Integration>> = None;
    let mut shown = Vec::new();
    let mut key = String::new();
    let result = async {
        let encoding = encoding(&headers)?;
        // The key is checked before the body is read: in a header or the query, or else
        // in the envelope's first line, its DSN, as tunnels pass it on.
        let missing = || {
            refuse(
                StatusCode::UNAUTHORIZED,
                "missing authorization: give the DSN's key as sentry_key",
            )
        };
        let body = match (key_of(&headers, query.as_deref()), endpoint) {
            (Some(found), _) => {
                key = found;
                body
            }
            (None, Endpoint::Envelope) => {
                let (start, body) = body
                    .start(FIRST_LINE_MAX, |start| first_line(encoding, start).is_some())
                    .await
                    .map_err(|(status, why)| refuse(status, why))?;
                let header = first_line(encoding, &start).ok_or_else(missing)?;
                let header: Value = serde_json::from_slice(&header).map_err(|_| missing())?;
                key = header
                    .get("dsn")
                    .and_then(Value::as_str)
                    .and_then(key_of_dsn)
                    .ok_or_else(missing)?;
                body
            }
            (None, Endpoint::Store) => return Err(missing()),
        };
        let found = named(&state, &key).await?;
        integration = Some(Arc::clone(&found));
        let body = body
            .read(&RECEIVED, MAX_BODY)
            .await
            .map_err(|(status, why)| refuse(status, why))?;
        let expanded = expanded(encoding, body).await?;
        shown = expanded[..expanded.len().min(crate::services::integrations::PAYLOAD_KEPT)].to_vec();
        let envelope = match endpoint {
            Endpoint::Envelope => {
                Some(envelope_of(&expanded).map_err(|why| refuse(StatusCode::BAD_REQUEST, why.to_string()))?)
            }
            Endpoint::Store => None,
        };
        if project.trim() != found.id.to_string() {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("this DSN key is for project {}, not {project}", found.id),
            ));
        }
        let now = Timestamp::now();
        let read = match &envelope {
            Some(envelope) => envelope.read(&found.name, now),
            None => read_event(&expanded, &found.name, now),
        }
        .map_err(|e| match e {
            Unreadable::TooLarge(why) => refuse(StatusCode::PAYLOAD_TOO_LARGE, why),
            Unreadable::Invalid(why) => refuse(StatusCode::BAD_REQUEST, why),
        })?;
        if !read.events.is_empty() {
            let events = read
                .events
                .into_iter()
                .map(|e| compat::received(&found.name, e, now))
                .collect();
            compat::commit(&state, events).await.map_err(|n| n.refuse(refuse))?;
        }
        Ok((read.used, read.id))
    }
    .await;
    if let Some(integration) = &integration {
        let (used, why) = match &result {
            Ok((used, _)) => (*used, None),
            Err(refusal) => (0, Some(refusal.why.as_str())),
        };
        state
            .integrations()
            .count(integration, used, compat::shown(&shown, &key), why);
    }
    let response = match result {
        Ok((_, Some(id))) => axum::Json(json!({ "id": id })).into_response(),
        Ok((_, None)) => axum::Json(json!({})).into_response(),
        Err(refusal) => {
            let reason = HeaderValue::from_str(&refusal.why).ok();
            let mut response = refusal.into_response();
            if let Some(reason) = reason {
                response.headers_mut().insert("x-sentry-error", reason);
            }
            response
        }
    };
    cors(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comes_from_the_auth_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            key_of(&headers, Some("sentry_version=7&sentry_key=abc")).as_deref(),
            Some("abc")
        );
        headers.insert(
            "x-sentry-auth",
            "Sentry sentry_version=7, sentry_client=sentry.python/2.0, sentry_key=def"
                .parse()
                .unwrap(),
        );
        assert_eq!(key_of(&headers, Some("sentry_key=abc")).as_deref(), Some("def"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Sentry sentry_key=ghi, sentry_version=7".parse().unwrap(),
        );
        assert_eq!(key_of(&headers, None).as_deref(), Some("ghi"));
        headers.insert(header::AUTHORIZATION, "Bearer ghi".parse().unwrap());
        assert_eq!(key_of(&headers, None), None);
    }
}
