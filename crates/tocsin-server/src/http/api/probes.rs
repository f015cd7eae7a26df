//! The plan's probes: where each stands, its history by the hour and the day, and a run
//! now (not recorded) for a responder checking a fix.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::probes::{ProbeHistory, ProbeResult, ProbeView, TimelinessReport};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/probes", get(list_probes))
        .route("/probes/{probe}", get(get_probe))
        .route("/probes/{probe}/run", post(run_probe))
}

/// The probes, and how late their runs start on this instance.
#[derive(Serialize, ToSchema)]
pub struct ProbesDoc {
    probes: Vec<ProbeView>,
    schedule: TimelinessReport,
}

/// One run of a probe.
#[derive(Serialize, ToSchema)]
pub struct ProbeRunDoc {
    probe: String,
    ok: bool,
    latency_ms: u64,
    detail: String,
    error: Option<String>,
}

impl From<ProbeResult> for ProbeRunDoc {
    fn from(r: ProbeResult) -> Self {
        ProbeRunDoc {
            probe: r.probe,
            ok: r.ok,
            latency_ms: r.latency_ms,
            detail: r.detail,
            error: r.error,
        }
    }
}

fn no_probe(probe: &str) -> ApiError {
    ApiError::not_found(format!("the plan in force has no probe \"{probe}\""))
}

/// Every probe of the plan in force: up, down or unknown (not run yet), since when, its
/// last run and its availability over the last 24 hours; and the schedule's lateness.
#[utoipa::path(get, path = "/api/v1/probes", tag = "probes",
    responses((status = 200, body = ProbesDoc)),
    security(("bearer" = []), ("session" = [])))]
async fn list_probes(caller: Reader) -> Result<Json<ProbesDoc>, ApiError> {
    let probes = caller.probes().list().await?;
    Ok(Json(ProbesDoc {
        probes,
        schedule: caller.probes().timeliness(),
    }))
}

/// One probe, with its runs counted by the hour (the last 48) and by the day (the last 90).
#[utoipa::path(get, path = "/api/v1/probes/{probe}", tag = "probes",
    params(("probe" = String, Path, description = "The probe's id in the plan")),
    responses((status = 200, body = ProbeHistory), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn get_probe(caller: Reader, Path(probe): Path<String>) -> Result<Json<ProbeHistory>, ApiError> {
    match caller.probes().history(&probe).await? {
        Some(history) => Ok(Json(history)),
        None => Err(no_probe(&probe)),
    }
}

/// Runs a probe once now and answers what it found. The run is not recorded and does not
/// turn the probe up or down: that is its schedule's.
#[utoipa::path(post, path = "/api/v1/probes/{probe}/run", tag = "probes",
    params(("probe" = String, Path, description = "The probe's id in the plan")),
    responses((status = 200, body = ProbeRunDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn run_probe(caller: Responder, Path(probe): Path<String>) -> Result<Json<ProbeRunDoc>, ApiError> {
    match caller.probes().run_now(&probe).await {
        Some(result) => Ok(Json(result.into())),
        None => Err(no_probe(&probe)),
    }
}
