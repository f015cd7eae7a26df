//! The CrowdSec Local API as bouncers use it, so that the bouncers people already run
//! (nginx, firewall, Cloudflare, Traefik, custom) enforce tocsin's blocks: `GET|HEAD
//! /v1/decisions/stream`, `GET|HEAD /v1/decisions` and `POST /v1/usage-metrics`, each
//! with a bouncer integration's key in `X-Api-Key`. Answers and refusals are in the Local
//! API's own shapes; the decisions are [`tocsin_core::crowdsec`]'s.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::block::Network;
use tocsin_core::crowdsec::{Decision, Filter};

use super::AppState;
use super::senders::compat;
use crate::services::blocks::{AsDecisions, decisions};
use crate::services::integrations::{Integration, IntegrationKind};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/decisions/stream", get(stream))
        .route("/v1/decisions", get(decisions_for))
        .route("/v1/usage-metrics", post(usage_metrics))
}

/// A refusal as the Local API words one.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// The bouncer the request's `X-Api-Key` names, or the Local API's refusal.
async fn bouncer(state: &AppState, headers: &HeaderMap) -> Result<std::sync::Arc<Integration>, Response> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    if key.is_empty() {
        return Err(refuse(StatusCode::FORBIDDEN, "access forbidden: no X-Api-Key"));
    }
    match compat::integration(state, key, IntegrationKind::Bouncer).await {
        Ok(Some(bouncer)) => Ok(bouncer),
        Ok(None) => Err(refuse(StatusCode::FORBIDDEN, "access forbidden")),
        Err(not_taken) => Err(refuse(not_taken.status, &not_taken.why)),
    }
}

fn trouble(e: &tocsin_store::StoreError) -> Response {
    tracing::error!(error = %e, "cannot read the blocks");
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "the blocks cannot be read now")
}

/// One pull of the stream: what is new and what was deleted, each `null` when empty, as
/// the Local API answers.
#[derive(Serialize)]
struct StreamDoc<'a> {
    new: AsDecisions<'a>,
    deleted: AsDecisions<'a>,
}

fn listed(decisions: Vec<Decision>) -> Option<Vec<Decision>> {
    (!decisions.is_empty()).then_some(decisions)
}

/// `GET /v1/decisions/stream[?startup=true]`: with `startup`, every block in force; then,
/// what changed since the bouncer's last pull. `HEAD` checks the key and moves nothing.
async fn stream(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let bouncer = match bouncer(&state, &headers).await {
        Ok(bouncer) => bouncer,
        Err(refusal) => return refusal,
    };
    if method == Method::HEAD {
        return StatusCode::OK.into_response();
    }
    let startup = query.iter().any(|(k, v)| k == "startup" && v == "true");
    let filter = Filter::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(compat::brief)
        .unwrap_or_default();
    let now = Timestamp::now();
    let pull = match state.blocks().pull(bouncer.id, startup, &agent, &filter, now).await {
        Ok(pull) => pull,
        Err(e) => return trouble(&e),
    };
    let count = (pull.new.len() + pull.deleted.len()) as u64;
    state
        .integrations()
        .count(&bouncer, count, Bytes::from(format!("pull: startup={startup}")), None);
    Json(StreamDoc {
        new: AsDecisions { blocks: &pull.new, now },
        deleted: AsDecisions {
            blocks: &pull.deleted,
            now,
        },
    })
    .into_response()
}

/// `GET /v1/decisions?ip=…` (or `range=`, or `scope=` and `value=`; `type=ban`): the
/// decisions in force over that address or network (with `contains=false`, within it),
/// or the literal `null` when there are none. Without a target, every decision in force.
async fn decisions_for(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let bouncer = match bouncer(&state, &headers).await {
        Ok(bouncer) => bouncer,
        Err(refusal) => return refusal,
    };
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let target = match (param("ip"), param("range"), param("scope"), param("value")) {
        (Some(ip), _, _, _) => Some(("ip", ip)),
        (None, Some(range), _, _) => Some(("range", range)),
        (None, None, Some(scope), Some(value)) if scope.eq_ignore_ascii_case("ip") => Some(("ip", value)),
        (None, None, Some(scope), Some(value)) if scope.eq_ignore_ascii_case("range") => Some(("range", value)),
        _ => None,
    };
    let target = match target {
        None => None,
        Some((what, text)) => match Network::parse(text) {
            Ok(network) if what == "ip" && !network.is_address() => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("ip \"{}\" is a network; ask with range=", compat::brief(text)),
                );
            }
            Ok(network) => Some(network),
            Err(e) => return refuse(StatusCode::BAD_REQUEST, &compat::brief(&format!("{what}: {e}"))),
        },
    };
    let now = Timestamp::now();
    let within = param("contains").is_some_and(|v| v == "false");
    let found = match target {
        Some(network) if !within => state.blocks().holding(network, now).await,
        Some(network) => state.blocks().within(Some(network), now).await,
        None => state.blocks().within(None, now).await,
    };
    let found = match found {
        Ok(found) => found,
        Err(e) => return trouble(&e),
    };
    let filter = Filter::from_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut answer = decisions(&found, &filter, now);
    if param("type").is_some_and(|t| t != "ban") {
        answer.clear();
    }
    state
        .integrations()
        .count(&bouncer, answer.len() as u64, Bytes::from("decisions"), None);
    if method == Method::HEAD {
        return StatusCode::OK.into_response();
    }
    // The Local API answers `null`, not `[]`, when nothing matches; bouncers rely on it.
    Json(listed(answer)).into_response()
}

/// `POST /v1/usage-metrics`: what the bouncer says of itself (its version, what it
/// dropped), kept as the last it said. One remediation component, as the Local API wants.
async fn usage_metrics(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let bouncer = match bouncer(&state, &headers).await {
        Ok(bouncer) => bouncer,
        Err(refusal) => return refusal,
    };
    let metrics: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            let why = compat::brief(&format!("the body is not JSON: {e}"));
            state.integrations().count(&bouncer, 0, body, Some(&why));
            return refuse(StatusCode::BAD_REQUEST, &why);
        }
    };
    let components = metrics.get("remediation_components").and_then(|c| c.as_array());
    if !components.is_some_and(|c| c.len() == 1 && c[0].is_object()) {
        let why = "Missing remediation component data: remediation_components must hold one object";
        state.integrations().count(&bouncer, 0, body, Some(why));
        return refuse(StatusCode::BAD_REQUEST, why);
    }
    if let Err(e) = state
        .blocks()
        .bouncer_said(bouncer.id, &metrics.to_string(), Timestamp::now())
        .await
    {
        return trouble(&e);
    }
    state.integrations().count(&bouncer, 1, body, None);
    StatusCode::CREATED.into_response()
}
