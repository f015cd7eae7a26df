//! `/api/v1/blocks`: blocked addresses and networks, listed by readers, added and ended by
//! responders, and written out as a plain list, an nginx `geo` include or an nftables
//! script for the setups without a bouncer.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use tocsin_core::block::{ListFormat, render};
use utoipa::{IntoParams, ToSchema};

use super::named_incident;
use crate::documents::BlockDoc;
use crate::http::AppState;
use crate::http::auth::{Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::blocks::{BlockError, span};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/blocks", get(list_blocks).post(add_block))
        .route("/blocks/{id}", delete(remove_block))
        .route("/blocks/export", get(export_blocks))
}

impl From<BlockError> for ApiError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::Store(e) => e.into(),
            BlockError::NotInForce(_) => ApiError::not_found(e.to_string()),
            BlockError::Network(_) | BlockError::Invalid(_) => ApiError::invalid(e.to_string()),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Also the removed and expired ones.
    #[serde(default)]
    all: bool,
}

/// The blocks in force (with `all`, every block ever added), oldest first.
#[utoipa::path(get, path = "/api/v1/blocks", tag = "containment", params(ListQuery),
    responses((status = 200, body = Vec<BlockDoc>), (status = 400, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_blocks(
    reader: Reader,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<BlockDoc>>, ApiError> {
    let Query(query) = query?;
    let list = reader.read().blocks(reader.now, query.all).await?;
    Ok(Json(list.iter().map(BlockDoc::of).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlockRequest {
    /// An address or a network, IPv4 or IPv6: `203.0.113.7`, `10.0.0.0/8`.
    network: String,
    /// Why, in one line.
    reason: String,
    /// How long it lasts, like `24h`; absent: until removed.
    #[serde(rename = "for")]
    lasts: Option<String>,
    /// The incident it is for, like `INC-0042`.
    incident: Option<String>,
}

/// Blocks an address or a network; bouncers and the rate-limit service obey it at once.
#[utoipa::path(post, path = "/api/v1/blocks", tag = "containment", request_body = NewBlockRequest,
    responses((status = 201, body = BlockDoc), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn add_block(
    responder: Responder,
    body: Result<Json<NewBlockRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<BlockDoc>), ApiError> {
    let Json(body) = body?;
    let lasts = body.lasts.as_deref().map(span).transpose()?;
    let incident = named_incident(body.incident.as_deref())?;
    let block = responder
        .blocks()
        .add(
            &body.network,
            &body.reason,
            incident,
            lasts,
            &responder.actor(),
            responder.now,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(BlockDoc::of(&block))))
}

/// Ends a block now; bouncers learn of it on their next pull.
#[utoipa::path(delete, path = "/api/v1/blocks/{id}", tag = "containment",
    params(("id" = i64, Path, description = "the block's id")),
    responses((status = 200, body = BlockDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn remove_block(responder: Responder, Path(id): Path<String>) -> Result<Json<BlockDoc>, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_parameter(format!("\"{id}\" is not a block id")))?;
    let block = responder.blocks().remove(id, &responder.actor(), responder.now).await?;
    Ok(Json(BlockDoc::of(&block)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// plain, nginx or nftables.
    format: String,
}

/// The blocks in force as a text to load: a plain list, lines for an nginx `geo` block, or
/// an `nft -f` script filling the sets of `inet tocsin`.
#[utoipa::path(get, path = "/api/v1/blocks/export", tag = "containment", params(ExportQuery),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 400, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn export_blocks(
    reader: Reader,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let format = ListFormat::parse(&query.format).map_err(|e| ApiError::bad_parameter(e.to_string()))?;
    let list = reader.read().blocks(reader.now, false).await?;
    let networks: Vec<_> = list.iter().map(|b| b.network).collect();
    let about = format!("tocsin: {} blocks in force at {}", list.len(), reader.now);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        render(format, &networks, &about),
    )
        .into_response())
}
