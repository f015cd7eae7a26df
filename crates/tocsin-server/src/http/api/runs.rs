//! The plan's actions and their runs on incidents: listing, asking (or trying dry),
//! approving, rejecting and undoing. Readers see; responders ask and approve, as the
//! plan allows each of them.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tocsin_core::action::Prepared;
use utoipa::ToSchema;

use super::incident_number;
use crate::documents::{ActionDoc, RunDoc};
use crate::http::AppState;
use crate::http::auth::{Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/actions", get(list_actions))
        .route("/incidents/{id}/runs", get(list_runs).post(request_run))
        .route("/incidents/{id}/runs/{run}", get(get_run))
        .route("/incidents/{id}/runs/{run}/approve", post(approve_run))
        .route("/incidents/{id}/runs/{run}/reject", post(reject_run))
        .route("/incidents/{id}/runs/{run}/undo", post(undo_run))
}

fn run_number(text: &str) -> Result<u32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_parameter(format!("\"{text}\" is not a run number")))
}

/// The plan's actions, with their inputs and approval.
#[utoipa::path(get, path = "/api/v1/actions", tag = "containment",
    responses((status = 200, body = Vec<ActionDoc>)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_actions(reader: Reader) -> Json<Vec<ActionDoc>> {
    Json(reader.read().plan().actions().iter().map(ActionDoc::of).collect())
}

/// An incident's runs, in the order asked for.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/runs", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = Vec<RunDoc>), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_runs(reader: Reader, Path(id): Path<String>) -> Result<Json<Vec<RunDoc>>, ApiError> {
    let view = reader.read().incident(incident_number(&id)?).await?;
    let plan = reader.read().plan();
    Ok(Json(
        view.incident
            .runs
            .iter()
            .map(|r| RunDoc::of(&view.incident, r, &plan))
            .collect(),
    ))
}

/// One run.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/runs/{run}", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("run" = u32, Path, description = "the run's number")),
    responses((status = 200, body = RunDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_run(reader: Reader, Path((id, run)): Path<(String, String)>) -> Result<Json<RunDoc>, ApiError> {
    let number = incident_number(&id)?;
    let run = run_number(&run)?;
    let view = reader.read().incident(number).await?;
    let found = view
        .incident
        .run(run)
        .ok_or_else(|| ApiError::not_found(format!("{number} has no run {run}")))?;
    Ok(Json(RunDoc::of(&view.incident, found, &reader.read().plan())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The action's id in the plan.
    action: String,
    /// Its inputs by name; a secret input is where the secret is kept: `env:NAME` or
    /// `file:/PATH`.
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    /// Only say what it would send, secrets masked; nothing is recorded or sent.
    #[serde(default)]
    dry_run: bool,
}

/// Asks for a run of one of the plan's actions on the incident; it runs once approved as
/// the plan says (at once when it needs no approval). With `dry_run`, what it would send.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/runs", tag = "containment", request_body = RunRequest,
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 201, body = RunDoc), (status = 200, description = "a dry run: what would be sent"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn request_run(
    responder: Responder,
    Path(id): Path<String>,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let number = incident_number(&id)?;
    let Json(body) = body?;
    let actions = responder.actions();
    if body.dry_run {
        let prepared: Prepared = actions.dry_run(number, &body.action, &body.inputs).await?;
        return Ok(Json(prepared).into_response());
    }
    let requested = actions
        .request(
            number,
            &body.action,
            body.inputs,
            false,
            &responder.actor(),
            responder.now,
        )
        .await?;
    responder.changed(number);
    let doc = RunDoc::of(&requested.incident, &requested.run, &actions.desk().plan());
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// Approves a run waiting for approval, as one of the people the plan lets approve it. An
/// API token cannot: approving is a person's act.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/runs/{run}/approve", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("run" = u32, Path, description = "the run's number")),
    responses((status = 200, body = RunDoc), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn approve_run(responder: Responder, Path((id, run)): Path<(String, String)>) -> Result<Json<RunDoc>, ApiError> {
    if let crate::services::identity::Principal::Token { name, .. } = &responder.caller.principal {
        return Err(ApiError::forbidden(format!(
            "token \"{name}\" cannot approve: approving is a person's act; approve signed in, from the web UI, \
             the command line, Telegram or the email link"
        )));
    }
    let number = incident_number(&id)?;
    let run = run_number(&run)?;
    let actions = responder.actions();
    actions.approve(number, run, &responder.actor(), responder.now).await?;
    responder.changed(number);
    run_doc(actions, number, run).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    reason: String,
}

/// Rejects a run that has not started.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/runs/{run}/reject", tag = "containment", request_body = RejectRequest,
    params(("id" = String, Path, description = "INC-0042 or 42"), ("run" = u32, Path, description = "the run's number")),
    responses((status = 200, body = RunDoc), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn reject_run(
    responder: Responder,
    Path((id, run)): Path<(String, String)>,
    body: Result<Json<RejectRequest>, JsonRejection>,
) -> Result<Json<RunDoc>, ApiError> {
    let number = incident_number(&id)?;
    let run = run_number(&run)?;
    let Json(body) = body?;
    let actions = responder.actions();
    actions
        .reject(number, run, &body.reason, &responder.actor(), responder.now)
        .await?;
    responder.changed(number);
    run_doc(actions, number, run).await
}

/// Asks for the undo of a run that succeeded: a new run, approved as the undo's action
/// wants.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/runs/{run}/undo", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("run" = u32, Path, description = "the run to undo")),
    responses((status = 201, body = RunDoc), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn undo_run(
    responder: Responder,
    Path((id, run)): Path<(String, String)>,
) -> Result<(StatusCode, Json<RunDoc>), ApiError> {
    let number = incident_number(&id)?;
    let run = run_number(&run)?;
    let actions = responder.actions();
    let requested = actions.undo(number, run, &responder.actor(), responder.now).await?;
    responder.changed(number);
    Ok((
        StatusCode::CREATED,
        Json(RunDoc::of(&requested.incident, &requested.run, &actions.desk().plan())),
    ))
}

async fn run_doc(
    actions: &crate::services::actions::Actions,
    number: tocsin_core::incident::IncidentNumber,
    run: u32,
) -> Result<Json<RunDoc>, ApiError> {
    let view = actions.desk().incident(number).await?;
    let found = view
        .incident
        .run(run)
        .ok_or_else(|| ApiError::not_found(format!("{number} has no run {run}")))?;
    Ok(Json(RunDoc::of(&view.incident, found, &actions.desk().plan())))
}
