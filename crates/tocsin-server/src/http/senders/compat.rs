//! What the endpoints that speak other tools' formats share: finding the integration a
//! request names, answering in the sender's own error shape, and committing what it sent
//! to the event log before answering.

use std::sync::Arc;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, Via};
use tocsin_core::event::{AlertEvent, Event};
use tocsin_store::event_log::AppendError;
use tocsin_store::events::NewEvent;
use tokio::sync::Semaphore;

use crate::http::AppState;
use crate::services::integrations::{Integration, IntegrationKind, PAYLOAD_KEPT};

/// A refusal in the sender's own shape.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub body: serde_json::Value,
    pub retry_after: Option<u64>,
    /// Why, in words, for the integration's last error.
    pub why: String,
}

impl Refusal {
    pub fn new(status: StatusCode, why: impl Into<String>, body: serde_json::Value) -> Self {
        Refusal {
            status,
            body,
            retry_after: None,
            why: brief(&why.into()),
        }
    }
}

/// The longest reason a refusal gives, in characters: it may quote what was sent.
const REASON_MAX: usize = 200;

/// A reason fit to send back and to keep: at most [`REASON_MAX`] characters, control
/// characters written out, so that it never reflects a sender's bulk or escape codes.
pub fn brief(reason: &str) -> String {
    let mut out = String::new();
    for (i, c) in reason.chars().enumerate() {
        if i == REASON_MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Why the event log did not take a delivery: the status to answer, why, and when to
/// retry.
#[derive(Debug)]
pub struct NotTaken {
    pub status: StatusCode,
    pub why: String,
    pub retry_after: Option<u64>,
}

impl NotTaken {
    /// The refusal to answer, in the sender's `shape`, with when to retry.
    pub fn refuse(self, shape: impl FnOnce(StatusCode, String) -> Refusal) -> Refusal {
        Refusal {
            retry_after: self.retry_after,
            ..shape(self.status, self.why)
        }
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The secret an integration's sender signs with, once it was given one.
pub fn secret(integration: &Integration) -> Option<&str> {
    integration
        .settings
        .get("secret")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Whether `given` (the signature's bytes) signs `body` with `secret` as `signature` says,
/// compared in constant time.
pub fn signs(signature: tocsin_core::senders::Signature, secret: &str, given: &[u8], body: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    use tocsin_core::senders::Signature;
    match signature {
        Signature::HmacSha1 { .. } => {
            let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(body);
            mac.verify_slice(given).is_ok()
        }
        Signature::HmacSha256 { .. } => {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(body);
            mac.verify_slice(given).is_ok()
        }
    }
}

/// The integration of `kind` whose key this is.
pub async fn integration(
    state: &AppState,
    key: &str,
    kind: IntegrationKind,
) -> Result<Option<Arc<Integration>>, NotTaken> {
    let found = state.integrations().by_key(key).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the integrations");
        NotTaken {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            why: "the integrations cannot be read now".into(),
            retry_after: Some(5),
        }
    })?;
    Ok(found.filter(|i| i.kind == kind))
}

/// Commits events to the event log; their sequence numbers.
pub async fn commit(state: &AppState, events: Vec<NewEvent>) -> Result<Vec<u64>, NotTaken> {
    state.0.pipeline.log().append(events).await.map_err(|e| match e {
        AppendError::Busy { .. } => NotTaken {
            status: StatusCode::TOO_MANY_REQUESTS,
            why: e.to_string(),
            retry_after: Some(1),
        },
        AppendError::Closed => NotTaken {
            status: StatusCode::SERVICE_UNAVAILABLE,
            why: e.to_string(),
            retry_after: Some(5),
        },
        AppendError::Store(cause) => {
            tracing::error!(error = %cause, "cannot store a delivery");
            NotTaken {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                why: "the event log cannot be written now".into(),
                retry_after: Some(5),
            }
        }
    })
}

/// What to keep of a payload as an integration's last one: its start, with the
/// integration's key (a PagerDuty routing key, a DSN in a Sentry envelope) masked, since
/// whoever may read the payload must not learn the key.
pub fn shown(payload: &[u8], key: &str) -> Bytes {
    let kept = &payload[..payload.len().min(PAYLOAD_KEPT)];
    // A key may be written with JSON escapes: read them first, so that it is found.
    let mut kept = match std::str::from_utf8(kept) {
        Ok(text) if text.contains("\\u") => unescaped(text).into_bytes(),
        _ => kept.to_vec(),
    };
    let key = key.as_bytes();
    if !key.is_empty() {
        let mut from = 0;
        while let Some(at) = kept[from..].windows(key.len()).position(|w| w == key) {
            let at = from + at;
            kept.splice(at..at + key.len(), b"[key]".iter().copied());
            from = at + 5;
        }
    }
    Bytes::from(kept)
}

/// The text with its JSON `\\uXXXX` escapes of printable characters written out; other
/// escapes stay as they are.
fn unescaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        let decoded = escape
            .strip_prefix("\\u")
            .and_then(|hex| hex.get(..4))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32)
            .filter(|c| !c.is_control() && *c != '"' && *c != '\\');
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &escape[6..];
            }
            None => {
                // Another escape, kept whole: the backslash and what it escapes.
                let len = escape[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
                out.push_str(&escape[..len]);
                rest = &escape[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An event the integration `source` sent, as the log keeps it.
pub fn received(source: &str, event: Event, now: Timestamp) -> NewEvent {
    NewEvent::new(event, &origin(source), now)
}

/// Who delivered an integration's events, in the log.
pub fn origin(source: &str) -> String {
    format!("integration:{source}")
}

/// A delivery of alerts from `source`, as one event of the log.
pub fn alert_event(source: &str, via: Via, alerts: Vec<Alert>, now: Timestamp) -> NewEvent {
    received(source, AlertEvent::delivery(source, via, alerts, now), now)
}

/// A sender's body, not read yet: the sender's key is checked first, so that nobody
/// without one makes tocsin hold their megabytes.
pub struct Unread(Body);

impl<S: Send + Sync> FromRequest<S> for Unread {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Unread(request.into_body()))
    }
}

/// A few bodies read at once on one route; each may hold up to the route's limit.
pub struct Gate(Semaphore);

/// Bodies one gate lets be read at once.
const READS_AT_ONCE: usize = 8;
/// How long a body waits for its turn before its sender is told to retry...
const TURN_WAIT: Duration = Duration::from_secs(10);
/// ...and how long it may take to arrive once its turn came.
const READ_TIME: Duration = Duration::from_secs(30);

impl Gate {
    pub const fn new() -> Self {
        Gate(Semaphore::const_new(READS_AT_ONCE))
    }
}

impl Unread {
    /// Reads the whole body, at most `limit` bytes, in its turn at `gate`.
    pub async fn read(self, gate: &Gate, limit: usize) -> Result<Bytes, (StatusCode, String)> {
        self.read_within(gate, limit, READ_TIME).await
    }

    async fn read_within(self, gate: &Gate, limit: usize, time: Duration) -> Result<Bytes, (StatusCode, String)> {
        let _turn = tokio::time::timeout(TURN_WAIT, gate.0.acquire())
            .await
            .map_err(|_| {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many bodies are being read at once; retry shortly".to_owned(),
                )
            })?
            .expect("a gate is never closed");
        // A sender trickling its body holds a turn no longer than this.
        tokio::time::timeout(time, axum::body::to_bytes(self.0, limit))
            .await
            .map_err(|_| {
                (
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the body did not arrive within {} s", time.as_secs()),
                )
            })?
            .map_err(|e| too_large_or(e, limit))
    }

    /// Reads the body's start until `enough` says so or `max` bytes are read, to look for
    /// a key there before reading on: the start, and the body as it was, start included.
    pub async fn start(
        self,
        max: usize,
        enough: impl Fn(&[u8]) -> bool,
    ) -> Result<(Bytes, Unread), (StatusCode, String)> {
        let mut stream = self.0.into_data_stream();
        let mut start = Vec::new();
        while !enough(&start) && start.len() < max {
            match stream.next().await {
                Some(chunk) => start.extend_from_slice(&chunk.map_err(|e| too_large_or(e, max))?),
                None => break,
            }
        }
        let start = Bytes::from(start);
        let again = futures_util::stream::once(std::future::ready(Ok::<_, axum::Error>(start.clone()))).chain(stream);
        Ok((start, Unread(Body::from_stream(again))))
    }
}

/// A body that could not be read: too large, or cut short.
fn too_large_or(e: axum::Error, limit: usize) -> (StatusCode, String) {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {limit} bytes"),
            );
        }
        cause = error.source();
    }
    (StatusCode::BAD_REQUEST, format!("the body could not be read: {e}"))
}

pub use tocsin_core::senders::json;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_masked_in_the_payload_kept() {
        let key = "0123456789abcdef0123456789abcdef";
        let body = format!("{{\"routing_key\":\"{key}\",\"dsn\":\"https://{key}@h/1\"}}");
        assert_eq!(
            shown(body.as_bytes(), key),
            Bytes::from_static(b"{\"routing_key\":\"[key]\",\"dsn\":\"https://[key]@h/1\"}")
        );
        assert_eq!(shown(&vec![b'a'; PAYLOAD_KEPT + 10], key).len(), PAYLOAD_KEPT);
    }

    /// A sender trickling its body gives its turn back after the read time.
    #[tokio::test]
    async fn a_body_that_never_ends_gives_its_turn_back() {
        static GATE: Gate = Gate::new();
        let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let body = Unread(Body::from_stream(never));
        let read = body.read_within(&GATE, 1024, Duration::from_millis(50)).await;
        assert_eq!(read.unwrap_err().0, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(GATE.0.available_permits(), READS_AT_ONCE);
    }

    /// Issue 16, item 15: a JSON-escaped key slipped past the masking of stored payloads.
    #[test]
    fn a_json_escaped_key_is_masked_too() {
        let key = "9e4e6b0123456789abcdef0123456789";
        let body = r#"{"routing_key":"9e4e6\u0062012345678\u0039abcdef0123456789","n":"\u00e9\n"}"#;
        let kept = String::from_utf8(shown(body.as_bytes(), key).to_vec()).unwrap();
        assert_eq!(kept, r#"{"routing_key":"[key]","n":"é\n"}"#);
    }
}
