//! Heartbeat pushes, as Uptime Kuma and Gatus push monitors send them:
//! `GET|POST /api/v1/heartbeat/<key>`, optionally with `status` (`up` or `down`) and
//! `msg`, in the query or a form or JSON body. Every push is a heartbeat of an agent
//! named after the integration, for the stale-agent detector; a push that says down
//! also fires an alert, which the next push that says up resolves.

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
use tocsin_core::senders::heartbeat::{Said, said};

use super::compat::{self, Gate, Refusal, Unread};
use crate::http::AppState;

/// Bodies of heartbeats read at once.
static PUSHES: Gate = Gate::new();
use crate::services::integrations::{Integration, IntegrationKind};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/heartbeat/{key}", get(push).post(push))
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    let message = compat::brief(&message.into());
    Refusal::new(status, message.clone(), json!({"ok": false, "msg": message}))
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
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let result = match said(query.as_deref(), is_json, &body) {
        Ok(said) => take(&state, &integration, said).await,
        Err(why) => Err(refuse(StatusCode::BAD_REQUEST, why.to_string())),
    };
    state.integrations().count(
        &integration,
        u64::from(result.is_ok()),
        shown,
        result.as_ref().err().map(|r| r.why.as_str()),
    );
    match result {
        // The answer carries what the agent is to do: run, or pause while a responder
        // keeps it paused.
        Ok(()) => {
            let pause = match state.switches().on().await {
                Ok(on) => on.pause_of(&integration.name).map(|p| p.reason.clone()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the paused agents");
                    None
                }
            };
            match pause {
                Some(reason) => axum::Json(json!({"ok": true, "directive": "pause", "reason": reason})).into_response(),
                None => axum::Json(json!({"ok": true, "directive": "run"})).into_response(),
            }
        }
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
