//! The one receive path of the senders that need nothing of their own (a
//! [`tocsin_core::senders::Sender`]): the integration from the key in the path, then the
//! body read in its turn, expanded, its signature checked against the integration's secret,
//! read off the request threads by the sender's pure reader, committed to the event log
//! and counted. Answers are tocsin's own: `{"accepted": N}`, or `{"error": WHY}`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::senders::{Sender, Signature, Unreadable};

use super::compat::{self, Gate, Refusal, Unread};
use crate::http::AppState;
use crate::ingest::Encoding;
use crate::services::integrations::Integration;

/// The route of sender `S`.
pub fn routes<S: Sender + 'static>() -> Router<AppState> {
    let gate = Arc::new(Gate::new());
    Router::new().route(
        S::PATH,
        post(
            move |state: State<AppState>, key: Path<String>, headers: HeaderMap, body: Unread| {
                let gate = Arc::clone(&gate);
                async move { receive::<S>(&gate, &state, &key, &headers, body).await.into_response() }
            },
        )
        .get(|state: State<AppState>, key: Path<String>| async move { check::<S>(&state, &key).await.into_response() }),
    )
}

/// The integration of `key`, or the refusal that says it is none of `S`'s.
async fn integration_of<S: Sender>(state: &AppState, key: &str) -> Result<Arc<Integration>, Refusal> {
    match compat::integration(state, key, S::KIND).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(refuse(
            StatusCode::UNAUTHORIZED,
            format!(
                "the key is not that of a {} integration (tocsin integration add {} --name NAME prints one)",
                S::NAME,
                S::NAME
            ),
        )),
        Err(n) => Err(n.refuse(refuse)),
    }
}

/// Adds the sender's verification header, with the integration's value, to an answer.
fn verified<S: Sender>(integration: &Integration, mut response: Response) -> Response {
    if let Some(header) = S::VERIFY_HEADER
        && let Some(value) = integration.settings.get("verify").and_then(|v| v.as_str())
        && let Ok(value) = axum::http::HeaderValue::from_str(value)
    {
        response.headers_mut().insert(header, value);
    }
    response
}

/// A GET of the endpoint: whether the key is good, answered with the verification header,
/// for a sender checking the endpoint before it sends.
async fn check<S: Sender>(state: &AppState, key: &str) -> Result<Response, Refusal> {
    let integration = integration_of::<S>(state, key).await?;
    Ok(verified::<S>(
        &integration,
        axum::Json(json!({"ok": true})).into_response(),
    ))
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    let why = compat::brief(&why.into());
    Refusal::new(status, why.clone(), json!({"error": why}))
}

async fn receive<S: Sender>(
    gate: &Gate,
    state: &AppState,
    key: &str,
    headers: &HeaderMap,
    body: Unread,
) -> Result<Response, Refusal> {
    let integration = integration_of::<S>(state, key).await?;
    let answer = async {
        let encoding =
            Encoding::of(headers).map_err(|other| refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, other.to_string()))?;
        let raw = body
            .read(gate, S::MAX_BODY)
            .await
            .map_err(|(status, why)| refuse(status, why))?;
        let result = take::<S>(state, &integration, headers, encoding, raw.clone()).await;
        let (accepted, refused) = match &result {
            Ok(n) => (*n, None),
            Err(refusal) => (0, Some(refusal.why.as_str())),
        };
        state
            .integrations()
            .count(&integration, accepted as u64, compat::shown(&raw, key), refused);
        Ok::<_, Refusal>(axum::Json(json!({"accepted": result?})).into_response())
    }
    .await;
    // The owner's check of the endpoint holds for refusals too: a sender verifying it may
    // send a body tocsin does not take.
    Ok(verified::<S>(&integration, answer.into_response()))
}

/// Checks, reads and commits a body; how many events it gave.
async fn take<S: Sender>(
    state: &AppState,
    integration: &Integration,
    headers: &HeaderMap,
    encoding: Encoding,
    raw: Bytes,
) -> Result<usize, Refusal> {
    if let Some(signature) = S::SIGNATURE {
        signed(signature, integration, headers, &raw)?;
    }
    let now = Timestamp::now();
    let read = tokio::task::spawn_blocking(move || {
        let body = encoding
            .expand(&raw, S::MAX_BODY)
            .map_err(|e| Unreadable::TooLarge(e.to_string()))?;
        S::read(&body, now)
    })
    .await
    .map_err(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "the body could not be read"))?;
    let events = read.map_err(|e| match e {
        Unreadable::TooLarge(why) => refuse(StatusCode::PAYLOAD_TOO_LARGE, why),
        Unreadable::Invalid(why) => refuse(StatusCode::BAD_REQUEST, why),
    })?;
    let n = events.len();
    if n > 0 {
        let events = events
            .into_iter()
            .map(|event| compat::received(&integration.name, event, now))
            .collect();
        compat::commit(state, events).await.map_err(|n| n.refuse(refuse))?;
    }
    Ok(n)
}

/// Checks that the body is signed with the integration's secret, in constant time.
fn signed(signature: Signature, integration: &Integration, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let secret = compat::secret(integration).ok_or_else(|| {
        refuse(
            StatusCode::UNAUTHORIZED,
            format!(
                "no secret is set for \"{}\"; run `tocsin integration secret {}` with the sender's signing secret",
                integration.name, integration.name
            ),
        )
    })?;
    let (Signature::HmacSha1 { header } | Signature::HmacSha256 { header }) = signature;
    let given = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, format!("the {header} header is missing")))?;
    let given = hex::decode(given.trim())
        .map_err(|_| refuse(StatusCode::UNAUTHORIZED, format!("{header} is not hexadecimal")))?;
    if compat::signs(signature, secret, &given, body) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            format!("{header} does not match the body and the integration's secret"),
        ))
    }
}
