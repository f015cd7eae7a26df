//! An incident's notices and recipients: drafting from the plan's template, revising,
//! approving, sending, the printable document, and how the emails went. Readers see;
//! responders write, approve and send, as the plan allows each of them.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tocsin_core::incident::IncidentNumber;
use utoipa::ToSchema;

use super::incident_number;
use crate::documents::{RecipientDoc, WrittenNoticeDoc};
use crate::http::AppState;
use crate::http::auth::{Reader, Responder};
use crate::http::error::{ApiError, ErrorBody};
use crate::services::notices::Notices;

/// The largest recipient list one request adds.
const RECIPIENTS_BODY_MAX: usize = 10 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/incidents/{id}/notices", get(list_notices).post(draft_notice))
        .route("/incidents/{id}/notices/{notice}", get(get_notice))
        .route("/incidents/{id}/notices/{notice}/revise", post(revise_notice))
        .route("/incidents/{id}/notices/{notice}/approve", post(approve_notice))
        .route("/incidents/{id}/notices/{notice}/send", post(send_notice))
        .route("/incidents/{id}/notices/{notice}/document", get(notice_document))
        .route("/incidents/{id}/recipients/remove", post(remove_recipients))
        .route("/breaches", get(breaches))
        .route(
            "/incidents/{id}/recipients",
            get(list_recipients)
                .post(add_recipients)
                .layer(axum::extract::DefaultBodyLimit::max(RECIPIENTS_BODY_MAX)),
        )
}

fn notice_number(text: &str) -> Result<u32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_parameter(format!("\"{text}\" is not a notice number")))
}

/// The notice as a document, with how its emails went once it is sent.
async fn doc(notices: &Notices, view: &crate::IncidentView, notice: u32) -> Result<WrittenNoticeDoc, ApiError> {
    notices
        .doc(view, notice)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} has no notice {notice}", view.incident.number)))
}

/// An incident's notices, in the order drafted.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notices", tag = "notices",
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = Vec<WrittenNoticeDoc>), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_notices(reader: Reader, Path(id): Path<String>) -> Result<Json<Vec<WrittenNoticeDoc>>, ApiError> {
    let view = reader.read().incident(incident_number(&id)?).await?;
    let plan = reader.read().plan();
    Ok(Json(
        view.incident
            .written_notices
            .iter()
            .map(|n| WrittenNoticeDoc::of(&view.incident, n, &plan, None))
            .collect(),
    ))
}

/// One notice, with how its emails went.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notices/{notice}", tag = "notices",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("notice" = u32, Path, description = "the notice's number")),
    responses((status = 200, body = WrittenNoticeDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_notice(
    reader: Reader,
    Path((id, notice)): Path<(String, String)>,
) -> Result<Json<WrittenNoticeDoc>, ApiError> {
    let view = reader.read().incident(incident_number(&id)?).await?;
    Ok(Json(doc(reader.notices(), &view, notice_number(&notice)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// customers, authority, data-subjects, status-update, summary, or an obligation's id.
    kind: String,
}

/// Drafts a notice of a kind from the plan's template, filled in from the incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notices", tag = "notices", request_body = DraftRequest,
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 201, body = WrittenNoticeDoc), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn draft_notice(
    responder: Responder,
    Path(id): Path<String>,
    body: Result<Json<DraftRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<WrittenNoticeDoc>), ApiError> {
    let number = incident_number(&id)?;
    let Json(body) = body?;
    let drafted = responder
        .notices()
        .draft(number, &body.kind, &responder.actor(), responder.now)
        .await?;
    responder.changed(number);
    Ok((
        StatusCode::CREATED,
        Json(changed(&responder, number, drafted.number).await?),
    ))
}

async fn changed(responder: &Responder, number: IncidentNumber, notice: u32) -> Result<WrittenNoticeDoc, ApiError> {
    let view = responder.read().incident(number).await?;
    doc(responder.notices(), &view, notice).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseRequest {
    subject: String,
    /// Markdown.
    body: String,
}

/// Revises a notice that has not been sent: its next version, which needs approval anew.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notices/{notice}/revise", tag = "notices", request_body = ReviseRequest,
    params(("id" = String, Path, description = "INC-0042 or 42"), ("notice" = u32, Path, description = "the notice's number")),
    responses((status = 200, body = WrittenNoticeDoc), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn revise_notice(
    responder: Responder,
    Path((id, notice)): Path<(String, String)>,
    body: Result<Json<ReviseRequest>, JsonRejection>,
) -> Result<Json<WrittenNoticeDoc>, ApiError> {
    let number = incident_number(&id)?;
    let notice = notice_number(&notice)?;
    let Json(body) = body?;
    responder
        .notices()
        .revise(
            number,
            notice,
            &body.subject,
            &body.body,
            &responder.actor(),
            responder.now,
        )
        .await?;
    responder.changed(number);
    Ok(Json(changed(&responder, number, notice).await?))
}

/// Approves the notice's current version, as one of those the plan lets approve its kind.
/// An API token cannot: approving is a person's act.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notices/{notice}/approve", tag = "notices",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("notice" = u32, Path, description = "the notice's number")),
    responses((status = 200, body = WrittenNoticeDoc), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn approve_notice(
    responder: Responder,
    Path((id, notice)): Path<(String, String)>,
) -> Result<Json<WrittenNoticeDoc>, ApiError> {
    if let crate::services::identity::Principal::Token { name, .. } = &responder.caller.principal {
        return Err(ApiError::forbidden(format!(
            "token \"{name}\" cannot approve: approving is a person's act; approve signed in, from the web UI or the command line"
        )));
    }
    let number = incident_number(&id)?;
    let notice = notice_number(&notice)?;
    responder
        .notices()
        .approve(number, notice, &responder.actor(), responder.now)
        .await?;
    responder.changed(number);
    Ok(Json(changed(&responder, number, notice).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Why it goes after its deadline (required then: GDPR Art. 33(1)).
    #[serde(default)]
    late_reason: Option<String>,
}

/// Sends the notice: emailed to each of the incident's recipients by its kind's channel
/// (through the outbox), or recorded as filed when it has none. Refused while a required
/// section is missing, a blank is left, or the version is unapproved.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notices/{notice}/send", tag = "notices", request_body = SendRequest,
    params(("id" = String, Path, description = "INC-0042 or 42"), ("notice" = u32, Path, description = "the notice's number")),
    responses((status = 200, body = WrittenNoticeDoc), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn send_notice(
    responder: Responder,
    Path((id, notice)): Path<(String, String)>,
    body: Option<Json<SendRequest>>,
) -> Result<Json<WrittenNoticeDoc>, ApiError> {
    let number = incident_number(&id)?;
    let notice = notice_number(&notice)?;
    let Json(body) = body.unwrap_or_default();
    responder
        .notices()
        .send(number, notice, body.late_reason, &responder.actor(), responder.now)
        .await?;
    responder.changed(number);
    Ok(Json(changed(&responder, number, notice).await?))
}

#[derive(Deserialize)]
pub struct DocumentQuery {
    #[serde(default)]
    format: Option<String>,
}

/// The notice as a document to file (the authority's form) or print: Markdown, or with
/// `format=html` a printable page.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notices/{notice}/document", tag = "notices",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("notice" = u32, Path, description = "the notice's number"),
        ("format" = Option<String>, Query, description = "markdown (the default) or html")),
    responses((status = 200, description = "the document", content_type = "text/markdown"), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn notice_document(
    reader: Reader,
    Path((id, notice)): Path<(String, String)>,
    Query(query): Query<DocumentQuery>,
) -> Result<Response, ApiError> {
    let number = incident_number(&id)?;
    let notice = notice_number(&notice)?;
    let view = reader.read().incident(number).await?;
    let found = view
        .incident
        .notice(notice)
        .ok_or_else(|| ApiError::not_found(format!("{number} has no notice {notice}")))?;
    let plan = reader.read().plan();
    let (markdown, html) = crate::services::notices::document(number, found, &plan.organization().name);
    let name = format!("{number}-notice-{notice}-v{}", found.version);
    let (body, media, ext) = match query.format.as_deref() {
        None | Some("markdown" | "md") => (markdown, "text/markdown; charset=utf-8", "md"),
        Some("html") => (html, "text/html; charset=utf-8", "html"),
        Some(other) => {
            return Err(ApiError::bad_parameter(format!(
                "format \"{other}\" is not markdown or html"
            )));
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(media));
    if let Ok(value) = header::HeaderValue::from_str(&format!("inline; filename=\"{name}.{ext}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok((headers, body).into_response())
}

#[derive(Deserialize)]
pub struct RecipientsQuery {
    /// The last id of the page before.
    #[serde(default)]
    cursor: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// A page of the incident's recipients.
#[derive(Serialize, ToSchema)]
pub struct RecipientPage {
    pub total: u64,
    pub items: Vec<RecipientDoc>,
    pub next_cursor: Option<i64>,
}

/// The incident's recipients, in the order added.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/recipients", tag = "notices",
    params(("id" = String, Path, description = "INC-0042 or 42"), ("cursor" = Option<i64>, Query, description = "next_cursor of the page before"),
        ("limit" = Option<u32>, Query, description = "at most 1000, 100 by default")),
    responses((status = 200, body = RecipientPage), (status = 404, body = ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_recipients(
    reader: Reader,
    Path(id): Path<String>,
    Query(query): Query<RecipientsQuery>,
) -> Result<Json<RecipientPage>, ApiError> {
    let number = incident_number(&id)?;
    reader.read().incident(number).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let notices = reader.notices();
    let page = notices.recipients(number, query.cursor.unwrap_or(0), limit).await?;
    let next_cursor = (page.len() == limit as usize)
        .then(|| page.last().map(|r| r.id))
        .flatten();
    Ok(Json(RecipientPage {
        total: notices.count_recipients(number).await?,
        items: page
            .into_iter()
            .map(|r| RecipientDoc {
                id: r.id,
                email: r.email,
                name: r.name,
                added_at: r.added,
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecipientDoc {
    email: String,
    #[serde(default)]
    name: Option<String>,
}

/// How many recipients a list added.
#[derive(Serialize, ToSchema)]
pub struct RecipientsAdded {
    /// New on the list (an address already there is kept once).
    pub added: u64,
    pub total: u64,
}

/// Adds recipients: a CSV body (`Content-Type: text/csv`, `email,name` per line, an
/// optional header) or JSON (`[{"email", "name"}]`); up to 10 MiB a request and 100,000
/// an incident. A bad line is named and nothing is added.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/recipients", tag = "notices", request_body(content = Vec<NewRecipientDoc>),
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = RecipientsAdded), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn add_recipients(
    responder: Responder,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RecipientsAdded>, ApiError> {
    let number = incident_number(&id)?;
    let notices = responder.notices();
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let added = if media.starts_with("text/csv") || media.starts_with("text/plain") {
        notices
            .add_recipients_csv(number, &body, &responder.actor(), responder.now)
            .await?
    } else if media.starts_with("application/json") {
        let list: Vec<NewRecipientDoc> = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the recipient list is not valid JSON: {e}")))?;
        let list = list
            .into_iter()
            .map(|r| tocsin_store::recipients::NewRecipient {
                email: r.email,
                name: r.name,
            })
            .collect();
        notices
            .add_recipients(number, list, &responder.actor(), responder.now)
            .await?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the recipients as text/csv or application/json",
        ));
    };
    Ok(Json(RecipientsAdded {
        added,
        total: notices.count_recipients(number).await?,
    }))
}

#[derive(Deserialize)]
pub struct BreachesQuery {
    #[serde(default)]
    format: Option<String>,
}

/// The breach register (GDPR Art. 33(5)): every incident involving personal data, notified
/// or not, with its facts, effects, remedial action, and whether and when the authority,
/// the data subjects and the customers were told, or why not. JSON, or with `format=csv`
/// a spreadsheet an auditor reads without tocsin.
#[utoipa::path(get, path = "/api/v1/breaches", tag = "notices",
    params(("format" = Option<String>, Query, description = "json (the default) or csv")),
    responses((status = 200, body = Vec<crate::services::breaches::BreachDoc>)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn breaches(reader: Reader, Query(query): Query<BreachesQuery>) -> Result<Response, ApiError> {
    let register = reader.read().breaches(reader.now).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(register).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"breach-register.csv\"",
                ),
            ],
            crate::services::breaches::csv(&register),
        )
            .into_response()),
        Some(other) => Err(ApiError::bad_parameter(format!(
            "format \"{other}\" is not json or csv"
        ))),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRecipients {
    /// The addresses to remove.
    #[serde(default)]
    emails: Vec<String>,
    /// Erase the incident's whole list instead.
    #[serde(default)]
    all: bool,
}

/// How many recipients were removed.
#[derive(Serialize, ToSchema)]
pub struct RecipientsRemoved {
    pub removed: u64,
    pub total: u64,
}

/// Removes recipients by address, or with `all` erases the incident's list (personal data
/// kept no longer than needed). The audit chain records how many, not who.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/recipients/remove", tag = "notices", request_body = RemoveRecipients,
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = RecipientsRemoved), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn remove_recipients(
    responder: Responder,
    Path(id): Path<String>,
    body: Result<Json<RemoveRecipients>, JsonRejection>,
) -> Result<Json<RecipientsRemoved>, ApiError> {
    let number = incident_number(&id)?;
    let Json(body) = body?;
    let emails = match (body.all, body.emails.is_empty()) {
        (true, true) => None,
        (false, false) => Some(body.emails),
        _ => return Err(ApiError::invalid("give either emails or all: true")),
    };
    let notices = responder.notices();
    let removed = notices
        .remove_recipients(number, emails, &responder.actor(), responder.now)
        .await?;
    Ok(Json(RecipientsRemoved {
        removed,
        total: notices.count_recipients(number).await?,
    }))
}
