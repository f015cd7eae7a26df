//! An incident's evidence: uploaded by responders (the body is the item, up to 25 MiB),
//! listed and checked by readers, downloaded with the download on the audit chain.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tocsin_core::Timestamp;
use tocsin_store::evidence::Evidence;
use utoipa::{IntoParams, ToSchema};

use super::incident_number;
use crate::http::AppState;
use crate::http::auth::{Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::evidence::{EvidenceError, ITEM_MAX};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/incidents/{id}/evidence",
            get(list_evidence)
                .post(add_evidence)
                .layer(DefaultBodyLimit::max(ITEM_MAX)),
        )
        .route("/incidents/{id}/evidence/verify", get(verify_evidence))
        .route("/incidents/{id}/evidence/{item}", get(get_evidence))
}

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        match e {
            EvidenceError::Invalid(message) => ApiError::invalid(message),
            EvidenceError::NotFound(message) => ApiError::not_found(message),
            EvidenceError::Store(e) => e.into(),
        }
    }
}

/// An item of evidence, its content apart.
#[derive(Serialize, ToSchema)]
pub struct EvidenceDoc {
    id: i64,
    incident: String,
    name: String,
    /// file, output, note or events.
    kind: String,
    media_type: String,
    size: u64,
    /// Lowercase hex SHA-256 of the content.
    sha256: String,
    note: String,
    added_by: String,
    added_at: Timestamp,
}

impl EvidenceDoc {
    fn of(e: &Evidence) -> Self {
        EvidenceDoc {
            id: e.id,
            incident: e.incident.to_string(),
            name: e.name.clone(),
            kind: e.kind.clone(),
            media_type: e.media_type.clone(),
            size: e.size,
            sha256: e.sha256.clone(),
            note: e.note.clone(),
            added_by: e.added_by.clone(),
            added_at: e.added,
        }
    }
}

/// An incident's evidence, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/evidence", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = Vec<EvidenceDoc>), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_evidence(reader: Reader, Path(id): Path<String>) -> Result<Json<Vec<EvidenceDoc>>, ApiError> {
    let items = reader.evidence().list(incident_number(&id)?).await?;
    Ok(Json(items.iter().map(EvidenceDoc::of).collect()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AddQuery {
    /// A file name, like `access.log`.
    name: String,
    /// file (the default), output or note.
    kind: Option<String>,
    /// What it is, in a few words.
    note: Option<String>,
}

/// Keeps the request's body (at most 25 MiB) as evidence of the incident, by its SHA-256;
/// the addition is on the audit chain.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/evidence", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42"), AddQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = EvidenceDoc), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn add_evidence(
    responder: Responder,
    Path(id): Path<String>,
    query: Result<Query<AddQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<EvidenceDoc>), ApiError> {
    let Query(query) = query?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 200)
        .unwrap_or("application/octet-stream");
    let kind = query.kind.as_deref().unwrap_or("file");
    if kind == "events" {
        return Err(ApiError::invalid(
            "events are kept by tocsin itself; give file, output or note",
        ));
    }
    let item = responder
        .evidence()
        .add(
            incident_number(&id)?,
            &query.name,
            kind,
            media_type,
            query.note.as_deref().unwrap_or_default(),
            body.to_vec(),
            &responder.actor(),
            responder.now,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(EvidenceDoc::of(&item))))
}

/// One item's content, as kept; the download is on the audit chain (who, when, which).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/evidence/{item}", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("item" = i64, Path, description = "the item's id")),
    responses((status = 200, description = "the content, with X-Content-SHA256"), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_evidence(reader: Reader, Path((id, item)): Path<(String, String)>) -> Result<Response, ApiError> {
    let number = incident_number(&id)?;
    let item: i64 = item
        .parse()
        .map_err(|_| ApiError::bad_parameter(format!("\"{item}\" is not an evidence id")))?;
    let (evidence, content) = reader
        .evidence()
        .export(number, item, &reader.actor(), reader.now)
        .await?;
    let mut response = content.into_response();
    let headers = response.headers_mut();
    // Served as bytes to save, never to be shown or run by the browser.
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let file = evidence.name.replace(['"', '\\'], "_");
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&evidence.sha256) {
        headers.insert("x-content-sha256", value);
    }
    Ok(response)
}

/// One item checked.
#[derive(Serialize, ToSchema)]
pub struct CheckedDoc {
    id: i64,
    name: String,
    sha256: String,
    /// The hash of the content as kept now.
    found: Option<String>,
    intact: bool,
}

/// Every item's content hashed again and compared with the hash recorded when it was added.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/evidence/verify", tag = "containment",
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = Vec<CheckedDoc>), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn verify_evidence(reader: Reader, Path(id): Path<String>) -> Result<Json<Vec<CheckedDoc>>, ApiError> {
    let checked = reader.evidence().verify(incident_number(&id)?).await?;
    Ok(Json(
        checked
            .iter()
            .map(|c| CheckedDoc {
                id: c.evidence.id,
                name: c.evidence.name.clone(),
                sha256: c.evidence.sha256.clone(),
                found: c.found.clone(),
                intact: c.intact(),
            })
            .collect(),
    ))
}
