//! The daily security audit: its reports, newest first, one report whole with its digest,
//! and a run now.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::documents::{AuditDoc, AuditSummaryDoc};
use crate::http::AppState;
use crate::http::auth::{Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::audit::AuditError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/daily-audits", get(list_audits))
        .route("/daily-audits/run", post(run_audit))
        .route("/daily-audits/{id}", get(get_audit))
}

/// The kept reports, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditsDoc {
    reports: Vec<AuditSummaryDoc>,
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Store(e) => e.into(),
            AuditError::Corrupt(_) => ApiError::internal(&e),
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only reports older than this id (the last of the previous page).
    before: Option<i64>,
    /// At most this many (50 when not given, 500 at most).
    limit: Option<u32>,
}

/// The kept reports of the daily security audit, newest first.
#[utoipa::path(get, path = "/api/v1/daily-audits", tag = "daily_audit", params(ListQuery),
    responses((status = 200, body = AuditsDoc)),
    security(("bearer" = []), ("session" = [])))]
async fn list_audits(caller: Reader, Query(query): Query<ListQuery>) -> Result<Json<AuditsDoc>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let reports = caller.audits().list(query.before, limit).await?;
    Ok(Json(AuditsDoc {
        reports: reports.into_iter().map(Into::into).collect(),
    }))
}

/// One report, by its id, or `latest`.
#[utoipa::path(get, path = "/api/v1/daily-audits/{id}", tag = "daily_audit",
    params(("id" = String, Path, description = "The report's id, or latest")),
    responses((status = 200, body = AuditDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn get_audit(caller: Reader, Path(id): Path<String>) -> Result<Json<AuditDoc>, ApiError> {
    let wanted = match id.as_str() {
        "latest" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("\"{text}\" is not a report's id or latest")))?,
        ),
    };
    match caller.audits().report(wanted).await? {
        Some((summary, report)) => Ok(Json(AuditDoc::of(summary.id, report))),
        None => Err(ApiError::not_found(match wanted {
            Some(id) => format!("there is no audit report {id}"),
            None => "the daily audit has not run yet".to_owned(),
        })),
    }
}

/// Runs the daily security audit now, as the caller: the report is kept, its findings
/// fired as alerts and its digest sent, as the daily run does.
#[utoipa::path(post, path = "/api/v1/daily-audits/run", tag = "daily_audit",
    responses((status = 200, body = AuditDoc)),
    security(("bearer" = []), ("session" = [])))]
async fn run_audit(caller: Responder) -> Result<Json<AuditDoc>, ApiError> {
    let (id, report) = caller.audits().run(&caller.actor()).await?;
    Ok(Json(AuditDoc::of(id, report)))
}
