//! PagerDuty's Events API v2, `POST /v2/enqueue` (its events are read by
//! `tocsin_core::senders::pagerduty`), so that the many tools that page
//! through PagerDuty (Grafana, Zabbix, Uptime Kuma, Gatus, …) can page through tocsin by
//! changing one URL. The routing key is a tocsin integration's key. Its rules are
//! PagerDuty's: a trigger without `dedup_key` gets one; a trigger on an open key updates
//! that alert; acknowledge and resolve of an unknown or resolved key are dropped; keys
//! are scoped per routing key; 202 on success, 400 naming the problems, 429 when a key
//! sends too fast, and a 512 KB limit.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::alert::Via;
use tocsin_core::ratelimit::RatePolicy;
use tocsin_core::senders::pagerduty::{Enqueue, alert_of};

use super::compat::{self, Gate, Refusal, Unread};
use crate::http::AppState;
use crate::services::integrations::IntegrationKind;

/// Events read at once.
static ENQUEUED: Gate = Gate::new();

/// PagerDuty's payload limit.
pub const MAX_BODY: usize = 512 * 1024;
/// Events per routing key and minute, as PagerDuty throttles them.
const PER_MINUTE: u32 = 120;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v2/enqueue", post(enqueue))
    // One byte over: a body of exactly the limit is taken, a larger one is refused.
}

fn invalid(errors: Vec<String>) -> Refusal {
    let errors: Vec<String> = errors.iter().take(10).map(|e| compat::brief(e)).collect();
    Refusal::new(
        StatusCode::BAD_REQUEST,
        errors.join("; "),
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    )
}

fn request_refused(status: StatusCode, message: &str, error: String) -> Refusal {
    let error = compat::brief(&error);
    Refusal::new(
        status,
        error.clone(),
        json!({"status": "invalid request", "message": message, "errors": [error]}),
    )
}

/// `POST /v2/enqueue`.
async fn enqueue(State(state): State<AppState>, body: Unread) -> Response {
    // The routing key is in the body: every sender's is read, a few at a time.
    let body = match body.read(&ENQUEUED, MAX_BODY).await {
        Ok(body) => body,
        Err((StatusCode::PAYLOAD_TOO_LARGE, _)) => {
            let error = format!("the request is larger than {MAX_BODY} bytes (512 KB)");
            return request_refused(StatusCode::PAYLOAD_TOO_LARGE, "Request too large", error).into_response();
        }
        Err((status, why)) => return request_refused(status, "Try again later", why).into_response(),
    };
    let event: Enqueue = match compat::json(&body) {
        Ok(event) => event,
        Err(e) => {
            return request_refused(
                StatusCode::BAD_REQUEST,
                "Invalid JSON",
                format!("the body is not an event: {e}"),
            )
            .into_response();
        }
    };
    let Some(key) = event
        .routing_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
    else {
        return invalid(vec!["'routing_key' is missing or blank".into()]).into_response();
    };
    let integration = match compat::integration(&state, &key, IntegrationKind::Pagerduty).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return invalid(vec![
                "'routing_key' is not the key of a pagerduty integration (tocsin integration add pagerduty --name NAME prints one)"
                    .into(),
            ])
            .into_response();
        }
        Err(n) => {
            return n
                .refuse(|status, why| request_refused(status, "Try again later", why))
                .into_response();
        }
    };
    let result = take(&state, &integration.name, event).await;
    let (accepted, refused) = match &result {
        Ok(_) => (1, None),
        Err(refusal) => (0, Some(refusal.why.as_str())),
    };
    state
        .integrations()
        .count(&integration, accepted, compat::shown(&body, &key), refused);
    match result {
        Ok(dedup_key) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})),
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Checks an event, throttles its key, and commits it; its dedup key.
async fn take(state: &AppState, source: &str, event: Enqueue) -> Result<String, Refusal> {
    let now = Timestamp::now();
    let alert = alert_of(event, now, || {
        crate::services::identity::random_token()[..32].to_owned()
    })
    .map_err(invalid)?;
    let policy = RatePolicy {
        name: "pagerduty".into(),
        limit: PER_MINUTE,
        per_ms: 60_000,
    };
    let verdict = state.0.limiter.check(&policy, source, now.as_millisecond());
    if !verdict.allowed {
        let seconds = u64::try_from(verdict.retry_after_ms.max(0) / 1000 + 1).unwrap_or(1);
        return Err(Refusal {
            retry_after: Some(seconds),
            ..Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("more than {PER_MINUTE} events a minute for this routing key"),
                json!({
                    "status": "throttle event",
                    "message": "Requests for this routing key are arriving too quickly. Please retry later.",
                    "errors": [format!("more than {PER_MINUTE} events a minute")],
                }),
            )
        });
    }
    let dedup_key = alert.fingerprint.clone();
    let delivery = compat::alert_event(source, Via::Pagerduty, vec![alert], now);
    compat::commit(state, vec![delivery]).await.map_err(|n| {
        n.refuse(|status, why| {
            let body = json!({"status": "throttle event", "message": "Try again later", "errors": [why]});
            Refusal::new(status, why, body)
        })
    })?;
    Ok(dedup_key)
}
