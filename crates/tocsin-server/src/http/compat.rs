//! What the endpoints that speak other tools' formats share: finding the integration a
//! request names, answering in the sender's own error shape, and committing what it sent
//! to the event log before answering.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, Via};
use tocsin_core::event::{AlertEvent, Event};
use tocsin_store::event_log::AppendError;
use tocsin_store::events::NewEvent;

use super::AppState;
use crate::integrations::{Integration, Kind, PAYLOAD_KEPT};

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

/// The integration of `kind` whose key this is.
pub async fn integration(state: &AppState, key: &str, kind: Kind) -> Result<Option<Arc<Integration>>, NotTaken> {
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
    let mut kept = payload[..payload.len().min(PAYLOAD_KEPT)].to_vec();
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

/// A delivery of alerts from `source`, as one event of the log.
pub fn alert_event(source: &str, via: Via, alerts: Vec<Alert>, now: Timestamp) -> NewEvent {
    let event = Event::Alert(AlertEvent {
        at: now,
        source: source.to_owned(),
        via,
        alerts,
    });
    NewEvent::new(event, &format!("integration:{source}"), now)
}

/// The body, or why it could not be read (too large, cut short).
pub fn body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, (StatusCode, String)> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {limit} bytes"),
            )
        } else {
            (e.status(), e.body_text())
        }
    })
}

/// Reads JSON, naming the place of the first problem. JSON is UTF-8 throughout, in the
/// fields that are skipped too: a body that is not is refused whole.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("the body is not UTF-8: invalid bytes at offset {}", e.valid_up_to()))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match path.as_str() {
            "." | "?" => inner.to_string(),
            _ => format!("{path}: {inner}"),
        }
    })?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

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
}
