//! PagerDuty's Events API v2, `POST /v2/enqueue`, so that the many tools that page
//! through PagerDuty (Grafana, Zabbix, Uptime Kuma, Gatus, …) can page through tocsin by
//! changing one URL. The routing key is a tocsin integration's key. Its rules are
//! PagerDuty's: a trigger without `dedup_key` gets one; a trigger on an open key updates
//! that alert; acknowledge and resolve of an unknown or resolved key are dropped; keys
//! are scoped per routing key; 202 on success, 400 naming the problems, 429 when a key
//! sends too fast, and a 512 KB limit.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, AlertStatus, Via, sent_time};
use tocsin_core::ratelimit::RatePolicy;

use super::AppState;
use super::compat::{self, Gate, Refusal, Unread};

/// Events read at once.
static ENQUEUED: Gate = Gate::new();
use crate::integrations::Kind;

/// PagerDuty's payload limit.
pub const MAX_BODY: usize = 512 * 1024;
const SUMMARY_MAX: usize = 1024;
const DEDUP_KEY_MAX: usize = 255;
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

#[derive(Deserialize)]
struct Enqueue {
    routing_key: Option<String>,
    event_action: Option<String>,
    dedup_key: Option<String>,
    payload: Option<Payload>,
    #[serde(default)]
    links: Vec<serde_json::Value>,
    #[serde(default)]
    images: Vec<serde_json::Value>,
    client: Option<String>,
    client_url: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    summary: Option<String>,
    source: Option<String>,
    severity: Option<String>,
    timestamp: Option<String>,
    component: Option<String>,
    group: Option<String>,
    class: Option<String>,
    custom_details: Option<serde_json::Value>,
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
    let integration = match compat::integration(&state, &key, Kind::Pagerduty).await {
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
    let alert = alert_of(event, now).map_err(invalid)?;
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

/// An event as an alert, or every problem it has, in PagerDuty's words.
fn alert_of(event: Enqueue, now: Timestamp) -> Result<Alert, Vec<String>> {
    let mut errors = Vec::new();
    let status = match event.event_action.as_deref() {
        Some("trigger") => AlertStatus::Firing,
        Some("acknowledge") => AlertStatus::Acknowledged,
        Some("resolve") => AlertStatus::Resolved,
        Some(other) => {
            errors.push(format!(
                "'event_action' \"{other}\" is invalid: use trigger, acknowledge or resolve"
            ));
            AlertStatus::Firing
        }
        None => {
            errors.push("'event_action' is missing or blank".into());
            AlertStatus::Firing
        }
    };
    let dedup_key = event.dedup_key.filter(|k| !k.trim().is_empty());
    if dedup_key.as_ref().is_some_and(|k| k.chars().count() > DEDUP_KEY_MAX) {
        errors.push(format!("'dedup_key' is longer than {DEDUP_KEY_MAX} characters"));
    }
    if status != AlertStatus::Firing && dedup_key.is_none() {
        errors.push(format!(
            "'dedup_key' is required to {}",
            event.event_action.as_deref().unwrap_or("")
        ));
    }
    let mut labels = BTreeMap::new();
    let mut summary = String::new();
    let mut severity = None;
    let mut starts_at = now;
    let mut details = serde_json::Map::new();
    match (status, event.payload) {
        (AlertStatus::Firing, None) => errors.push("'payload' is missing or blank".into()),
        (_, None) => {}
        (_, Some(p)) => {
            match p.summary.filter(|s| !s.trim().is_empty()) {
                Some(s) if s.chars().count() > SUMMARY_MAX => {
                    errors.push(format!("'payload.summary' is longer than {SUMMARY_MAX} characters"));
                }
                Some(s) => summary = s,
                None if status == AlertStatus::Firing => errors.push("'payload.summary' is missing or blank".into()),
                None => {}
            }
            match p.source.filter(|s| !s.trim().is_empty()) {
                Some(s) => {
                    labels.insert("source".to_owned(), s);
                }
                None if status == AlertStatus::Firing => errors.push("'payload.source' is missing or blank".into()),
                None => {}
            }
            match p.severity.as_deref() {
                Some(word @ ("critical" | "error" | "warning" | "info")) => severity = Some(word.to_owned()),
                Some(other) => errors.push(format!(
                    "'payload.severity' \"{other}\" is invalid: use critical, error, warning or info"
                )),
                None if status == AlertStatus::Firing => errors.push("'payload.severity' is missing or blank".into()),
                None => {}
            }
            match sent_time(p.timestamp.as_deref(), "'payload.timestamp'") {
                Ok(Some(at)) => starts_at = at.min(now),
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
            for (name, value) in [("component", p.component), ("group", p.group), ("class", p.class)] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    labels.insert(name.to_owned(), value);
                }
            }
            if let Some(custom) = p.custom_details {
                details.insert("custom_details".into(), custom);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (name, value) in [
        ("links", serde_json::Value::from(event.links)),
        ("images", serde_json::Value::from(event.images)),
    ] {
        if value.as_array().is_some_and(|a| !a.is_empty()) {
            details.insert(name.into(), value);
        }
    }
    if let Some(client) = event.client {
        details.insert("client".into(), client.into());
    }
    let fingerprint = dedup_key.unwrap_or_else(|| crate::identity::random_token()[..32].to_owned());
    Ok(Alert {
        status,
        summary: if summary.is_empty() {
            fingerprint.clone()
        } else {
            summary
        },
        severity,
        group: None,
        labels,
        annotations: BTreeMap::new(),
        starts_at,
        ends_at: None,
        url: event.client_url.filter(|u| !u.is_empty()),
        details: (!details.is_empty()).then_some(serde_json::Value::Object(details)),
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Alert, Vec<String>> {
        alert_of(
            serde_json::from_str(json).unwrap(),
            Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(1),
        )
    }

    #[test]
    fn events_follow_pagerduty() {
        let a = read(
            r#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"DB down","source":"db1","severity":"critical","component":"postgres","custom_details":{"free":"0%"}},"client":"Zabbix","client_url":"https://zabbix/1"}"#,
        )
        .unwrap();
        assert_eq!(
            (a.status, a.summary.as_str(), a.severity.as_deref()),
            (AlertStatus::Firing, "DB down", Some("critical"))
        );
        assert_eq!(a.fingerprint.len(), 32, "a generated dedup key");
        assert_eq!(a.labels["source"], "db1");
        assert_eq!(a.details.unwrap()["custom_details"]["free"], "0%");
        let r = read(r#"{"routing_key":"k","event_action":"resolve","dedup_key":"db1/down"}"#).unwrap();
        assert_eq!((r.status, r.fingerprint.as_str()), (AlertStatus::Resolved, "db1/down"));

        let errors =
            read(r#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"","severity":"fatal"}}"#)
                .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors.iter().any(|e| e.contains("'payload.severity' \"fatal\"")),
            "{errors:?}"
        );
        let errors = read(r#"{"routing_key":"k","event_action":"acknowledge"}"#).unwrap_err();
        assert!(errors[0].contains("'dedup_key' is required"), "{errors:?}");
        let long = format!(
            r#"{{"routing_key":"k","event_action":"resolve","dedup_key":"{}"}}"#,
            "x".repeat(256)
        );
        assert!(read(&long).unwrap_err()[0].contains("longer than 255"));
        assert!(read(r#"{"routing_key":"k","event_action":"page"}"#).unwrap_err()[0].contains("\"page\" is invalid"));
    }
}
