//! Sentry's webhooks, from an internal integration of its integration platform, at
//! `POST /api/v1/webhooks/sentry/<key>`: issue alerts (`event_alert`), metric alerts
//! (`metric_alert`) and issue changes (`issue`). Every delivery must be signed:
//! `Sentry-Hook-Signature` is the hex HMAC-SHA256 of the body with the integration's client
//! secret, and `Sentry-Hook-Timestamp` (when it was sent) must be within five minutes. A
//! delivery seen before within that time is a replay and is refused. The issue's id is the
//! alert's key, so a triggered issue alert is resolved when the issue is resolved in
//! Sentry; a metric alert is keyed by its Sentry incident and resolved by `resolved`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tocsin_core::Timestamp;
use tocsin_core::alert::Via;
use tocsin_core::senders::sentry_hooks::alert_of;

use super::compat::{self, Gate, Refusal, Unread};
use crate::http::AppState;

/// Webhook bodies read at once.
static HOOKS: Gate = Gate::new();
use crate::services::integrations::{Integration, IntegrationKind};

pub const MAX_BODY: usize = 1024 * 1024;
/// How far a delivery's timestamp may be from tocsin's clock.
pub const WINDOW_SECONDS: i64 = 300;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/webhooks/sentry/{key}", post(hook))
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    let why = compat::brief(&why.into());
    Refusal::new(status, why.clone(), json!({"ok": false, "detail": why}))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Checks the signature and the time of a delivery; the signature, to refuse it again.
fn verify(integration: &Integration, headers: &HeaderMap, body: &[u8], now: Timestamp) -> Result<Vec<u8>, Refusal> {
    let secret = compat::secret(integration).ok_or_else(|| {
        refuse(
            StatusCode::UNAUTHORIZED,
            format!(
                "no client secret is set for \"{}\"; run `tocsin integration secret {}` with the secret Sentry shows",
                integration.name, integration.name
            ),
        )
    })?;
    let signature = header(headers, "sentry-hook-signature")
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "the Sentry-Hook-Signature header is missing"))?;
    let signature = hex::decode(signature)
        .map_err(|_| refuse(StatusCode::UNAUTHORIZED, "Sentry-Hook-Signature is not hexadecimal"))?;
    let sha256 = IntegrationKind::SentryWebhook.signature().expect("sentry signs");
    compat::signs(sha256, secret, &signature, body)
        .then_some(())
        .ok_or_else(|| {
            refuse(
                StatusCode::UNAUTHORIZED,
                "Sentry-Hook-Signature does not match the body and the client secret",
            )
        })?;
    let sent = header(headers, "sentry-hook-timestamp")
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "the Sentry-Hook-Timestamp header is missing"))?;
    let sent: f64 = sent.parse().map_err(|_| {
        refuse(
            StatusCode::UNAUTHORIZED,
            "Sentry-Hook-Timestamp is not a time in seconds",
        )
    })?;
    let skew = now.as_second() - sent as i64;
    if skew.abs() > WINDOW_SECONDS {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            format!("the delivery was sent {skew} s from now, beyond {WINDOW_SECONDS} s; old deliveries are replays"),
        ));
    }
    Ok(signature)
}

async fn hook(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap, body: Unread) -> Response {
    let integration = match compat::integration(&state, &key, IntegrationKind::SentryWebhook).await {
        Ok(Some(found)) => found,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no sentry-webhook integration has this key").into_response(),
        Err(n) => return n.refuse(refuse).into_response(),
    };
    let now = Timestamp::now();
    let mut shown = Bytes::new();
    let result = async {
        let body = body
            .read(&HOOKS, MAX_BODY)
            .await
            .map_err(|(status, why)| refuse(status, why))?;
        shown = body.clone();
        let signature = verify(&integration, &headers, &body, now)?;
        let doc: Value =
            compat::json(&body).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("the body is not JSON: {e}")))?;
        let resource = header(&headers, "sentry-hook-resource").unwrap_or("");
        let alert = alert_of(resource, &doc, now).map_err(|why| refuse(StatusCode::BAD_REQUEST, why.to_string()))?;
        let first = state
            .integrations()
            .first_delivery(&integration, &signature, now)
            .await
            .map_err(|e| {
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot check for a replay: {e}"),
                )
            })?;
        if !first {
            return Err(refuse(
                StatusCode::CONFLICT,
                "this delivery was already received; a replay is refused",
            ));
        }
        let Some(alert) = alert else {
            return Ok(0);
        };
        let delivery = compat::alert_event(&integration.name, Via::Sentry, vec![alert], now);
        if let Err(n) = compat::commit(&state, vec![delivery]).await {
            // Not taken: the sender may try the same delivery again.
            if let Err(e) = state.integrations().forget_delivery(&integration, &signature).await {
                tracing::warn!(error = %e, "cannot forget a delivery that was not taken");
            }
            return Err(n.refuse(refuse));
        }
        Ok(1)
    }
    .await;
    let (used, why) = match &result {
        Ok(used) => (*used, None),
        Err(refusal) => (0, Some(refusal.why.as_str())),
    };
    state.integrations().count(&integration, used, shown, why);
    match result {
        Ok(_) => axum::Json(json!({"ok": true})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use hmac::{KeyInit, Mac};

    use super::*;

    type HmacSha256 = hmac::Hmac<sha2::Sha256>;

    fn now() -> Timestamp {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn deliveries_are_verified_by_signature_and_time() {
        let integration = Integration {
            id: 1,
            name: "sentry".into(),
            kind: IntegrationKind::SentryWebhook,
            settings: json!({"secret": "5f0c8f1a4c5b4b9e8a2d"}),
        };
        let body = br#"{"action":"triggered"}"#;
        let mut mac = HmacSha256::new_from_slice(b"5f0c8f1a4c5b4b9e8a2d").unwrap();
        mac.update(body);
        let signature = hex::encode(mac.finalize().into_bytes());
        let headers = |signature: &str, at: i64| {
            let mut h = HeaderMap::new();
            h.insert("sentry-hook-signature", signature.parse().unwrap());
            h.insert("sentry-hook-timestamp", at.to_string().parse().unwrap());
            h
        };
        let at = now().as_second();
        assert!(verify(&integration, &headers(&signature, at - 30), body, now()).is_ok());
        let wrong = verify(
            &integration,
            &headers(&signature, at),
            br#"{"action":"resolved"}"#,
            now(),
        )
        .unwrap_err();
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.why.contains("does not match"));
        let old = verify(&integration, &headers(&signature, at - 301), body, now()).unwrap_err();
        assert!(old.why.contains("replays"), "{}", old.why);
        assert!(
            verify(&integration, &HeaderMap::new(), body, now())
                .unwrap_err()
                .why
                .contains("missing")
        );
        let unset = Integration {
            settings: json!({}),
            ..integration
        };
        assert!(
            verify(&unset, &headers(&signature, at), body, now())
                .unwrap_err()
                .why
                .contains("tocsin integration secret")
        );
    }
}
