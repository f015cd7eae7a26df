//! `/api/v1/plan`: the plan in force and its versions; admins apply a new one.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::rejection::JsonRejection;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tocsin_core::Timestamp;
use tocsin_store::plans::{Applied, PlanVersion};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Administrator, Reader};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::plans::PlanText;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/plan", get(get_plan).post(apply_plan))
        .route("/plan/versions", get(plan_versions))
}

#[derive(Serialize, ToSchema)]
pub struct PlanVersionDoc {
    /// Versions count up from 1; the highest is the active one.
    version: u64,
    /// SHA-256 of the text, recorded on the audit chain and on every incident that follows it.
    digest: String,
    /// Where the text came from: a file's path, a preset, the web UI, the API.
    origin: String,
    applied_by: String,
    applied_at: Timestamp,
}

impl PlanVersionDoc {
    fn of(v: &PlanVersion) -> Self {
        PlanVersionDoc {
            version: v.version,
            digest: v.digest.clone(),
            origin: v.source.clone(),
            applied_by: v.applied_by.clone(),
            applied_at: v.applied_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PlanDoc {
    /// The plan's digest, recorded on every incident that follows it.
    digest: String,
    /// The plan as TOML.
    source: String,
    #[serde(flatten)]
    version: PlanVersionDoc,
}

/// The plan in force: the database's active version.
#[utoipa::path(get, path = "/api/v1/plan", tag = "plan",
    responses((status = 200, body = PlanDoc)),
    security(("bearer" = ["read"]), ("session" = [])))]
pub(super) async fn get_plan(reader: Reader) -> Json<PlanDoc> {
    let active = reader.read().active_plan();
    Json(PlanDoc {
        digest: active.version.digest.clone(),
        source: active.version.text.clone(),
        version: PlanVersionDoc::of(&active.version),
    })
}

/// Every version of the plan, newest first.
#[utoipa::path(get, path = "/api/v1/plan/versions", tag = "plan",
    responses((status = 200, body = Vec<PlanVersionDoc>)),
    security(("bearer" = ["read"]), ("session" = [])))]
pub(super) async fn plan_versions(reader: Reader) -> Result<Json<Vec<PlanVersionDoc>>, ApiError> {
    let versions = reader.read().plan_history().await?;
    Ok(Json(versions.iter().map(PlanVersionDoc::of).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyPlanRequest {
    /// The whole plan as TOML.
    text: String,
    /// Where it came from, for the history [default: "the API"].
    origin: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AppliedDoc {
    /// applied (a new version) or kept (the text is the active version already).
    outcome: String,
    #[serde(flatten)]
    version: PlanVersionDoc,
}

/// Validates a plan and makes it the active version; the clocks of incidents under way are
/// computed again under it, and what moved is on their timelines. A plan with problems is
/// refused with every problem (line, column, message, hint) in `details.problems`.
#[utoipa::path(post, path = "/api/v1/plan", tag = "plan", request_body = ApplyPlanRequest,
    responses((status = 200, body = AppliedDoc), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
pub(super) async fn apply_plan(
    admin: Administrator,
    body: Result<Json<ApplyPlanRequest>, JsonRejection>,
) -> Result<Json<AppliedDoc>, ApiError> {
    let Json(request) = body?;
    let origin = request.origin.unwrap_or_else(|| "the API".to_owned());
    if origin.chars().count() > 200 || origin.chars().any(char::is_control) {
        return Err(ApiError::invalid("origin must be at most 200 printable characters"));
    }
    let applied = admin.apply_plan(&PlanText::new(request.text, origin)).await?;
    let outcome = match &applied {
        Applied::New(_) => "applied",
        Applied::Kept(_) => "kept",
    };
    Ok(Json(AppliedDoc {
        outcome: outcome.to_owned(),
        version: PlanVersionDoc::of(applied.version()),
    }))
}
