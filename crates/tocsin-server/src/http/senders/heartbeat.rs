//! Heartbeat pushes, as Uptime Kuma and Gatus push monitors send them:
//! `GET|POST /api/v1/heartbeat/<key>`, optionally with `status` (`up` or `down`) and
//! `msg`, in the query or a form or JSON body. Every push is a heartbeat of an agent
//! named after the integration, for the stale-agent detector; a push that says down
//! also fires an alert, which the next push that says up resolves.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, AlertStatus, Via};
use tocsin_core::event::{Event, HeartbeatEvent};

use super::compat::{self, Gate, Refusal, Unread};
use crate::http::AppState;

/// Bodies of heartbeats read at once.
static PUSHES: Gate = Gate::new();
use crate::services::integrations::{Integration, IntegrationKind};

/// The most of a message kept.
const MSG_MAX: usize = 1_000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/heartbeat/{key}", get(push).post(push))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    let message = compat::brief(&message.into());
    Refusal::new(status, message.clone(), json!({"ok": false, "msg": message}))
}

/// What a push said.
#[derive(Debug, Default, PartialEq, Eq)]
struct Said {
    down: bool,
    msg: Option<String>,
}

/// Reads `status` and `msg` from the query, then from a form or JSON body.
fn said(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Said, String> {
    let mut fields: BTreeMap<String, String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json && !body.is_empty() {
        let value: serde_json::Value = compat::json(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        for name in ["status", "msg"] {
            if let Some(text) = value.get(name).and_then(|v| v.as_str()) {
                fields.entry(name.to_owned()).or_insert_with(|| text.to_owned());
            }
        }
    } else if !body.is_empty() {
        for (k, v) in form_urlencoded::parse(body) {
            fields.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    let down = match fields.get("status").map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "up" | "ok" | "success") => false,
        Some("down" | "error" | "fail" | "failure") => true,
        Some(other) => return Err(format!("status \"{other}\" is neither up nor down")),
    };
    let msg = fields
        .remove("msg")
        .map(|m| m.trim().chars().take(MSG_MAX).collect::<String>())
        .filter(|m| !m.is_empty());
    Ok(Said { down, msg })
}

async fn push(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Unread,
) -> Response {
    let integration = match compat::integration(&state, &key, IntegrationKind::Heartbeat).await {
        Ok(Some(found)) => found,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no heartbeat integration has this key").into_response(),
        Err(n) => return n.refuse(refuse).into_response(),
    };
    let body = match body.read(&PUSHES, crate::http::BODY_LIMIT).await {
        Ok(body) => body,
        Err((status, why)) => {
            state.integrations().count(&integration, 0, Bytes::new(), Some(&why));
            return refuse(status, why).into_response();
        }
    };
    let shown = match &query {
        Some(q) => Bytes::from([q.as_bytes(), b"\n", &body].concat()),
        None => body.clone(),
    };
    let result = match said(query.as_deref(), &headers, &body) {
        Ok(said) => take(&state, &integration, said).await,
        Err(why) => Err(refuse(StatusCode::BAD_REQUEST, why)),
    };
    state.integrations().count(
        &integration,
        u64::from(result.is_ok()),
        shown,
        result.as_ref().err().map(|r| r.why.as_str()),
    );
    match result {
        Ok(()) => axum::Json(json!({"ok": true})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The heartbeat, and the alert a down push fires or an up push resolves.
async fn take(state: &AppState, integration: &Integration, said: Said) -> Result<(), Refusal> {
    let now = Timestamp::now();
    let stale_after = integration
        .settings
        .get("stale_after")
        .and_then(|v| v.as_str())
        .and_then(|text| tocsin_core::duration::Duration::parse(text).ok());
    let beat = Event::Heartbeat(HeartbeatEvent {
        at: now,
        agent: integration.name.clone(),
        version: None,
        config_hash: None,
        stale_after,
    });
    let summary = match &said.msg {
        Some(msg) => format!("{} reported down: {msg}", integration.name),
        None => format!("{} reported down", integration.name),
    };
    let status = if said.down {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    };
    let mut alert = Alert::new("down".into(), status, summary, now);
    if let Some(msg) = said.msg {
        alert.annotations.insert("msg".to_owned(), msg);
    }
    let events = vec![
        compat::received(&integration.name, beat, now),
        compat::alert_event(&integration.name, Via::Heartbeat, vec![alert], now),
    ];
    compat::commit(state, events).await.map_err(|n| n.refuse(refuse))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_say_up_or_down_in_the_query_or_the_body() {
        let none = HeaderMap::new();
        assert_eq!(said(None, &none, b"").unwrap(), Said::default());
        let down = said(Some("status=down&msg=disk%20full"), &none, b"").unwrap();
        assert_eq!((down.down, down.msg.as_deref()), (true, Some("disk full")));
        assert!(said(None, &none, b"status=error").unwrap().down);
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(said(None, &json, br#"{"status":"down"}"#).unwrap().down);
        assert!(said(None, &json, b"{bad").unwrap_err().contains("not JSON"));
        assert!(
            said(Some("status=maybe"), &none, b"")
                .unwrap_err()
                .contains("\"maybe\"")
        );
    }
}
