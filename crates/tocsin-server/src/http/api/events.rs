//! `POST /api/v1/events`: events from applications and log shippers, acknowledged once
//! they are committed to the event log; and `GET /api/v1/signals`, what detectors found.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tocsin_store::event_log::AppendError;
use tocsin_store::signals::SignalFilter;
use utoipa::IntoParams;

use super::{Page, cursor, page_size};
use crate::documents::{EventDoc, IngestReport, RejectDoc, SignalDoc};
use crate::http::AppState;
use crate::http::auth::{Ingester, Reader};
use crate::http::error::{ApiError, ErrorBody};
use crate::ingest::{self, BodyError, Encoding, Parsed};
use crate::services::event_reads::{self, EventFilter};
use crate::services::identity::Principal;
use tocsin_core::Timestamp;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/events",
            post(post_events)
                .layer(DefaultBodyLimit::max(ingest::MAX_BODY))
                .get(list_events),
        )
        .route("/events/{seq}", get(get_event))
        .route("/signals", get(list_signals))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// Only this kind: auth, request, error, vault_access, heartbeat, rate_limit, custom, alert.
    kind: Option<String>,
    /// Only events from this origin, like api:shipper.
    origin: Option<String>,
    /// Only events from this address.
    address: Option<String>,
    /// Only events about this account (a login's user, a vault principal, an agent).
    account: Option<String>,
    /// Only events that happened at or after this time (RFC 3339).
    since: Option<Timestamp>,
    /// Only events that happened at or before this time.
    until: Option<Timestamp>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    limit: Option<u32>,
}

/// Events of the log, newest first. An address or account filter reads at most 20,000
/// events a page; a page cut short by it still gives the cursor to read on.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventListQuery),
    responses((status = 200, body = Page<EventDoc>), (status = 400, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_events(
    reader: Reader,
    query: Result<Query<EventListQuery>, QueryRejection>,
) -> Result<Json<Page<EventDoc>>, ApiError> {
    let Query(query) = query?;
    if let Some(kind) = &query.kind {
        event_reads::check_kind(kind).map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    let filter = EventFilter {
        kind: query.kind,
        origin: query.origin,
        address: query.address,
        account: query.account,
        since: query.since,
        until: query.until,
        before: cursor(query.cursor.as_deref())?,
        limit: page_size(query.limit)?,
    };
    let page = reader.read().events(&filter).await?;
    Ok(Json(Page {
        items: page.items.iter().map(EventDoc::of).collect(),
        next_cursor: page.next.map(|seq| seq.to_string()),
    }))
}

/// One event of the log by its number, as signals cite it (`evidence.sample_events`).
#[utoipa::path(get, path = "/api/v1/events/{seq}", tag = "events",
    params(("seq" = u64, Path, description = "The event's number in the log")),
    responses((status = 200, body = EventDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_event(reader: Reader, Path(seq): Path<String>) -> Result<Json<EventDoc>, ApiError> {
    let number: u64 = seq
        .parse()
        .map_err(|_| ApiError::invalid(format!("\"{seq}\" is not an event number")))?;
    let found = reader.read().events_by_seq(&[number]).await?;
    match found.first() {
        Some(event) => Ok(Json(EventDoc::of(event))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the event log holds no event {number}"),
        )),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SignalQuery {
    /// Only this detector's signals, like brute_force.
    detector: Option<String>,
    /// Only signals about this key, like an IP address.
    key: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    limit: Option<u32>,
}

/// Signals, newest first.
#[utoipa::path(get, path = "/api/v1/signals", tag = "events", params(SignalQuery),
    responses((status = 200, body = Page<SignalDoc>), (status = 400, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_signals(
    reader: Reader,
    query: Result<Query<SignalQuery>, QueryRejection>,
) -> Result<Json<Page<SignalDoc>>, ApiError> {
    let Query(query) = query?;
    let limit = page_size(query.limit)?;
    let filter = SignalFilter {
        detector: query.detector,
        key: query.key,
        before: cursor(query.cursor.as_deref())?.map(|c| i64::try_from(c).unwrap_or(i64::MAX)),
        limit: limit + 1,
        ..Default::default()
    };
    let signals = reader.read().signals(&filter).await?;
    Ok(Json(Page::cut(
        signals,
        limit as usize,
        |s| s.id.to_string(),
        SignalDoc::of,
    )))
}

/// Bodies larger than this are parsed off the request threads.
const PARSE_INLINE: usize = 256 * 1024;

/// Send events as NDJSON (`application/x-ndjson`), a JSON array or one JSON object
/// (`application/json`), compressed or not (`Content-Encoding` gzip, deflate or br). Each line is one event:
/// `ts` (RFC 3339), `kind` (auth, request, error, vault_access, heartbeat, rate_limit,
/// custom) and the kind's fields. The answer comes once the accepted events are durably
/// stored; refused lines are listed and do not stop the others.
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    request_body(content = String, content_type = "application/x-ndjson"),
    responses(
        (status = 200, body = IngestReport, description = "Stored; refused lines, if any, are listed"),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "No line held a valid event"),
        (status = 429, body = ErrorBody, description = "The event log is behind; retry after the Retry-After seconds"),
    ),
    security(("bearer" = ["ingest"])))]
async fn post_events(
    ingester: Ingester,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReport>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(format!(
                "the body is larger than {} bytes; send fewer events per request",
                ingest::MAX_BODY
            ))
        } else {
            ApiError::new(e.status(), "bad_request", e.body_text())
        }
    })?;
    let json = content_type_is_json(&headers)?;
    let encoding = Encoding::of(&headers).map_err(|other| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            other.to_string(),
        )
    })?;
    let origin = match &ingester.caller.principal {
        Principal::Token { name, .. } => format!("api:{name}"),
        Principal::User { name, .. } => format!("user:{name}"),
    };
    let now = ingester.now;
    let inline = body.len() <= PARSE_INLINE && encoding == Encoding::Identity;
    let read = move || -> Result<Parsed, BodyError> {
        let text = encoding.expand(&body, ingest::MAX_EXPANDED)?;
        ingest::parse_body(&text, json, &origin, now)
    };
    let parsed = if inline {
        read()
    } else {
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| ApiError::internal(&e))?
    }
    .map_err(|e| match e {
        BodyError::TooLarge(_) | BodyError::Bomb | BodyError::TooManyLines => too_large(e.to_string()),
        BodyError::Undecodable { .. } | BodyError::NotText | BodyError::BadArray(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_body", e.to_string())
        }
    })?;
    let rejects: Vec<RejectDoc> = parsed.rejects.iter().map(RejectDoc::of).collect();
    let rejected = parsed.rejected;
    if parsed.events.is_empty() {
        let message = match parsed.rejects.first() {
            Some(first) => format!("no line held a valid event ({rejected} refused); the first: {first}"),
            None => "the body holds no events".to_owned(),
        };
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
            .with_details(serde_json::json!({ "rejected": rejected, "rejects": rejects })));
    }
    let seqs = ingester.events().append(parsed.events).await.map_err(|e| match e {
        AppendError::Busy { .. } => ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "overloaded", e.to_string())
        },
        AppendError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", e.to_string()),
        AppendError::Store(cause) => ApiError::internal(&*cause),
    })?;
    Ok(Json(IngestReport {
        accepted: seqs.len() as u64,
        rejected,
        first_seq: seqs.first().copied(),
        last_seq: seqs.last().copied(),
        rejects,
    }))
}

fn too_large(message: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
}

/// Whether the sender declared JSON (one object or an array) rather than NDJSON; other
/// types than these are refused.
fn content_type_is_json(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(true),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines"
        | "text/plain" => Ok(false),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type \"{other}\" is not taken here; send application/x-ndjson or application/json"),
        )),
    }
}
