//! Maintenance mode and paused agents: what apps and agents poll (any token, an `ETag` so
//! that an unchanged answer costs a 304), and what responders turn on and off.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::Path;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tocsin_core::Timestamp;
use utoipa::ToSchema;

use super::named_incident;
use crate::http::AppState;
use crate::http::auth::{Anyone, Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::blocks::span;
use crate::services::switches::SwitchError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/maintenance", get(maintenance))
        .route("/maintenance/{service}", post(maintenance_on).delete(maintenance_off))
        .route("/agents/paused", get(paused_agents))
        .route("/agents/{agent}/directive", get(directive))
        .route("/agents/{agent}/pause", post(pause_agent))
        .route("/agents/{agent}/resume", post(resume_agent))
}

impl From<SwitchError> for ApiError {
    fn from(e: SwitchError) -> Self {
        match e {
            SwitchError::Invalid(message) => ApiError::invalid(message),
            SwitchError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            SwitchError::Store(e) => e.into(),
        }
    }
}

/// One service of the plan, in maintenance or not.
#[derive(Serialize, ToSchema)]
pub struct ServiceStateDoc {
    service: String,
    name: String,
    maintenance: bool,
    since: Option<Timestamp>,
    /// When it is expected to end.
    until: Option<Timestamp>,
    reason: Option<String>,
}

/// Answers `body` as JSON with an `ETag` of it, or 304 when the caller has it already.
fn tagged(headers: &HeaderMap, body: String) -> Response {
    let tag = format!("\"{}\"", &hex::encode(sha2::Sha256::digest(body.as_bytes()))[..32]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Every service of the plan and whether it is in maintenance: for apps to poll (any
/// token; send `If-None-Match` with the last `ETag` and an unchanged answer is a 304).
#[utoipa::path(get, path = "/api/v1/maintenance", tag = "containment",
    responses((status = 200, body = Vec<ServiceStateDoc>), (status = 304, description = "unchanged")),
    security(("bearer" = []), ("session" = [])))]
async fn maintenance(caller: Anyone, headers: HeaderMap) -> Result<Response, ApiError> {
    let on = caller.switched_on().await?;
    let docs: Vec<ServiceStateDoc> = caller
        .read()
        .plan()
        .services()
        .iter()
        .map(|s| {
            let window = on.maintenance_of(s.id.as_str());
            ServiceStateDoc {
                service: s.id.to_string(),
                name: s.name.clone(),
                maintenance: window.is_some(),
                since: window.map(|w| w.started),
                until: window.and_then(|w| w.until),
                reason: window.map(|w| w.reason.clone()),
            }
        })
        .collect();
    Ok(tagged(&headers, serde_json::to_string(&docs).unwrap_or_default()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    /// Why, in one line.
    reason: String,
    /// How long maintenance is expected to last, like `2h`.
    #[serde(rename = "for")]
    lasts: Option<String>,
    /// The incident it is for, like `INC-0042`.
    incident: Option<String>,
}

/// Turns maintenance mode on for a service of the plan.
#[utoipa::path(post, path = "/api/v1/maintenance/{service}", tag = "containment", request_body = SwitchRequest,
    params(("service" = String, Path, description = "the service's id in the plan")),
    responses((status = 201, description = "on"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn maintenance_on(
    responder: Responder,
    Path(service): Path<String>,
    body: Result<Json<SwitchRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    let lasts = body.lasts.as_deref().map(span).transpose()?;
    let incident = named_incident(body.incident.as_deref())?;
    let plan = responder.read().plan();
    responder
        .switches()
        .maintenance_on(
            &plan,
            &service,
            &body.reason,
            lasts,
            incident,
            &responder.actor(),
            responder.now,
        )
        .await?;
    Ok(StatusCode::CREATED)
}

/// Turns maintenance mode off.
#[utoipa::path(delete, path = "/api/v1/maintenance/{service}", tag = "containment",
    params(("service" = String, Path, description = "the service's id in the plan")),
    responses((status = 204, description = "off"), (status = 409, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn maintenance_off(responder: Responder, Path(service): Path<String>) -> Result<StatusCode, ApiError> {
    responder
        .switches()
        .maintenance_off(&service, &responder.actor(), responder.now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an agent is told to do.
#[derive(Serialize, ToSchema)]
pub struct DirectiveDoc {
    agent: String,
    /// run or pause.
    directive: &'static str,
    reason: Option<String>,
    since: Option<Timestamp>,
}

/// What `agent` is to do: `run`, or `pause` while a responder keeps it paused. Agents poll
/// it (any token; `ETag` as for maintenance); heartbeat pushes are answered with it too.
#[utoipa::path(get, path = "/api/v1/agents/{agent}/directive", tag = "containment",
    params(("agent" = String, Path, description = "the agent, as its heartbeats name it")),
    responses((status = 200, body = DirectiveDoc), (status = 304, description = "unchanged")),
    security(("bearer" = []), ("session" = [])))]
async fn directive(caller: Anyone, Path(agent): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let on = caller.switched_on().await?;
    let pause = on.pause_of(&agent);
    let doc = DirectiveDoc {
        directive: if pause.is_some() { "pause" } else { "run" },
        reason: pause.map(|p| p.reason.clone()),
        since: pause.map(|p| p.started),
        agent,
    };
    Ok(tagged(&headers, serde_json::to_string(&doc).unwrap_or_default()))
}

/// A paused agent.
#[derive(Serialize, ToSchema)]
pub struct PausedDoc {
    agent: String,
    reason: String,
    since: Timestamp,
    by: String,
    incident: Option<String>,
}

/// The agents told to pause.
#[utoipa::path(get, path = "/api/v1/agents/paused", tag = "containment",
    responses((status = 200, body = Vec<PausedDoc>)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn paused_agents(reader: Reader) -> Result<Json<Vec<PausedDoc>>, ApiError> {
    let on = reader.switched_on().await?;
    Ok(Json(
        on.paused
            .iter()
            .map(|p| PausedDoc {
                agent: p.subject.clone(),
                reason: p.reason.clone(),
                since: p.started,
                by: p.started_by.clone(),
                incident: p.incident.map(|n| n.to_string()),
            })
            .collect(),
    ))
}

/// Tells an agent to pause; its silence is then no stale agent.
#[utoipa::path(post, path = "/api/v1/agents/{agent}/pause", tag = "containment", request_body = SwitchRequest,
    params(("agent" = String, Path, description = "the agent")),
    responses((status = 201, description = "paused"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn pause_agent(
    responder: Responder,
    Path(agent): Path<String>,
    body: Result<Json<SwitchRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    if body.lasts.is_some() {
        return Err(ApiError::invalid(
            "an agent stays paused until resumed; leave out \"for\"",
        ));
    }
    let incident = named_incident(body.incident.as_deref())?;
    responder
        .switches()
        .pause(&agent, &body.reason, incident, &responder.actor(), responder.now)
        .await?;
    Ok(StatusCode::CREATED)
}

/// Tells an agent to run again.
#[utoipa::path(post, path = "/api/v1/agents/{agent}/resume", tag = "containment",
    params(("agent" = String, Path, description = "the agent")),
    responses((status = 204, description = "resumed"), (status = 409, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn resume_agent(responder: Responder, Path(agent): Path<String>) -> Result<StatusCode, ApiError> {
    responder
        .switches()
        .resume(&agent, &responder.actor(), responder.now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
