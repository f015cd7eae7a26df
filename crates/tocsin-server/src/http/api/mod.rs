//! `/api/v1`: incidents, their actions, clocks, the timeline and verification here; users,
//! tokens and logins (`admin`), blocks (`blocks`), events and signals (`events`), the plan
//! (`plans`) and the rate-limit service (`ratelimit`) beside it.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tocsin_core::Timestamp;
use tocsin_core::incident::{Command, CustomerImpact, Declaration, IncidentNumber, Status};
use tocsin_store::IncidentFilter;
use utoipa::{IntoParams, ToSchema};

pub(super) mod admin;
pub(super) mod audits;
pub(super) mod blocks;
pub(super) mod events;
pub(super) mod evidence;
pub(super) mod notices;
pub(super) mod plans;
pub(super) mod probes;
pub(super) mod ratelimit;
pub(super) mod runs;
pub(super) mod switches;

use super::AppState;
use super::auth::{Administrator, Anyone, Reader, Responder};
use super::error::ApiError;
use crate::documents::{ClockDoc, IncidentDoc, IncidentSummaryDoc, OpenClockDoc, TimelineEntryDoc, VerificationDoc};
use crate::next_deadlines;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list_incidents).post(declare_incident))
        .route("/incidents/{id}", get(get_incident))
        .route("/incidents/{id}/actions", post(act_on_incident))
        .route("/incidents/{id}/timeline", get(get_timeline))
        .route("/incidents/{id}/clocks", get(get_clocks))
        .route("/clocks", get(list_open_clocks))
        .route("/verify", get(verify))
        .route("/audit", get(list_audit_entries))
        .route("/me", get(me))
        .merge(admin::routes())
        .merge(blocks::routes())
        .merge(runs::routes())
        .merge(notices::routes())
        .merge(evidence::routes())
        .merge(switches::routes())
        .merge(probes::routes())
        .merge(audits::routes())
        .merge(events::routes())
        .merge(plans::routes())
        .merge(ratelimit::routes())
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

pub fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        0 => Err(ApiError::bad_parameter("limit must be at least 1")),
        n if n > MAX_PAGE => Err(ApiError::bad_parameter(format!("limit must be at most {MAX_PAGE}"))),
        n => Ok(n),
    }
}

/// Reads an opaque cursor that this API handed out.
pub fn cursor(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|t| {
        t.parse::<u64>()
            .map_err(|_| ApiError::bad_parameter(format!("cursor \"{t}\" was not given by this API")))
    })
    .transpose()
}

pub fn incident_number(text: &str) -> Result<IncidentNumber, ApiError> {
    text.parse().map_err(ApiError::bad_parameter)
}

/// The incident a request's body names, if it names one: a name that is no incident is
/// an invalid body.
pub fn named_incident(text: Option<&str>) -> Result<Option<IncidentNumber>, ApiError> {
    text.map(|t| t.parse::<IncidentNumber>().map_err(ApiError::invalid))
        .transpose()
}

/// One page of a list and the cursor of the next, absent on the last page.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `limit` items out of up to `limit + 1` fetched: the extra one only says
    /// that there is a next page, whose cursor is that of the last item shown.
    pub fn cut<S>(
        mut fetched: Vec<S>,
        limit: usize,
        cursor_of: impl Fn(&S) -> String,
        doc: impl FnMut(&S) -> T,
    ) -> Self {
        let more = fetched.len() > limit;
        fetched.truncate(limit);
        Page {
            next_cursor: more.then(|| fetched.last().map(cursor_of)).flatten(),
            items: fetched.iter().map(doc).collect(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Comma-separated statuses; default: declared,acknowledged,resolved. `all` lists every status.
    status: Option<String>,
    /// Comma-separated severity ids.
    severity: Option<String>,
    owner: Option<String>,
    /// Text in the title, without regard to case.
    q: Option<String>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    limit: Option<u32>,
}

/// Lists incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery),
    responses((status = 200, body = Page<IncidentSummaryDoc>), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_incidents(
    reader: Reader,
    query: Result<Query<IncidentQuery>, QueryRejection>,
) -> Result<Json<Page<IncidentSummaryDoc>>, ApiError> {
    let Query(query) = query?;
    let plan = &reader.read().plan();
    let list = |text: &Option<String>| -> Vec<String> {
        text.iter()
            .flat_map(|t| t.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let statuses = match query.status.as_deref() {
        None => vec![Status::Declared, Status::Acknowledged, Status::Resolved],
        Some("all") => Vec::new(),
        Some(_) => list(&query.status)
            .iter()
            .map(|s| s.parse().map_err(ApiError::bad_parameter))
            .collect::<Result<_, _>>()?,
    };
    let severities = list(&query.severity)
        .iter()
        .map(|s| {
            plan.find_severity(s)
                .map(|s| s.id.to_string())
                .map_err(|e| ApiError::bad_parameter(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let limit = page_size(query.limit)?;
    let filter = IncidentFilter {
        statuses,
        severities,
        owner: query.owner.filter(|o| !o.trim().is_empty()),
        text: query.q.filter(|q| !q.trim().is_empty()),
        before: cursor(query.cursor.as_deref())?.and_then(IncidentNumber::new),
        limit: Some(limit + 1),
    };
    let incidents = reader.read().incidents(&filter).await?;
    let open = reader.read().open_clocks().await?;
    let next = next_deadlines(&open);
    Ok(Json(Page::cut(
        incidents.iter().collect(),
        limit as usize,
        |i| i.number.get().to_string(),
        |s| IncidentSummaryDoc::of(s, next.get(&s.number).copied(), reader.now),
    )))
}

/// A new incident. The caller is its reporter.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareRequest {
    title: String,
    #[serde(default)]
    summary: String,
    /// A severity id of the plan, like P2.
    severity: String,
    #[serde(default)]
    personal_data: bool,
    detected_at: Option<Timestamp>,
    /// When the organization became aware; starts the GDPR clock. Default: now.
    aware_at: Option<Timestamp>,
    /// Whether customers are affected: yes, no or unknown. Default: what
    /// `affected_customers` says (0 is no), else unknown.
    #[schema(value_type = Option<String>)]
    customers: Option<CustomerImpact>,
    affected_customers: Option<u64>,
    affected_data_subjects: Option<u64>,
    /// Backfills the declaration to this past time.
    at: Option<Timestamp>,
}

/// Declares an incident and starts its clocks.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = DeclareRequest,
    responses((status = 201, body = IncidentDoc), (status = 400, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn declare_incident(
    responder: Responder,
    body: Result<Json<DeclareRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<IncidentDoc>), ApiError> {
    let Json(body) = body?;
    let declaration = Declaration {
        title: body.title,
        summary: body.summary,
        severity: body.severity,
        personal_data: body.personal_data,
        detected_at: body.detected_at,
        aware_at: body.aware_at,
        customers: body.customers,
        affected_customers: body.affected_customers,
        affected_data_subjects: body.affected_data_subjects,
    };
    let desk = responder.desk();
    let view = desk
        .declare(&declaration, &responder.actor(), body.at, responder.now)
        .await?;
    responder.changed(view.incident.number);
    Ok((
        StatusCode::CREATED,
        Json(IncidentDoc::of(&view, &desk.plan(), responder.now)),
    ))
}

/// An incident with its clocks and whole timeline.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = IncidentDoc), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_incident(reader: Reader, Path(id): Path<String>) -> Result<Response, ApiError> {
    let view = reader.read().incident(incident_number(&id)?).await?;
    let parts = reader.state().incident_parts(&view);
    let body = IncidentDoc::json_from(&parts, &view.clocks, reader.now);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A change to an incident, named by `action`. Rules of the plan and the lifecycle apply:
/// a refused change is 409 (not allowed now) or 422 (invalid) and changes nothing.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    Acknowledge {
        at: Option<Timestamp>,
    },
    /// Sets the owner (an empty name clears it) and roles (role id to person).
    Assign {
        owner: Option<String>,
        #[serde(default)]
        roles: BTreeMap<String, String>,
        at: Option<Timestamp>,
    },
    ChangeSeverity {
        severity: String,
        reason: String,
        at: Option<Timestamp>,
    },
    StartStep {
        step: String,
        at: Option<Timestamp>,
    },
    CompleteStep {
        step: String,
        at: Option<Timestamp>,
    },
    /// Ticks checklist item `item` (counting from 1) of a step.
    CheckItem {
        step: String,
        item: u32,
        at: Option<Timestamp>,
    },
    UncheckItem {
        step: String,
        item: u32,
        at: Option<Timestamp>,
    },
    AddNote {
        text: String,
        at: Option<Timestamp>,
    },
    MarkPersonalData {
        reason: Option<String>,
        at: Option<Timestamp>,
    },
    UnmarkPersonalData {
        reason: String,
        at: Option<Timestamp>,
    },
    /// Records a notice sent: customers, authority, data-subjects, status-update or an obligation id.
    RecordNotice {
        kind: String,
        note: Option<String>,
        at: Option<Timestamp>,
    },
    Resolve {
        summary: Option<String>,
        at: Option<Timestamp>,
    },
    /// Closes a resolved incident. While a customer or regulatory clock runs, a step is
    /// not done or a required role is empty, it is refused (409, naming them all) unless
    /// `override` says why it closes anyway.
    Close {
        #[serde(rename = "override", alias = "review_override")]
        override_reason: Option<String>,
        at: Option<Timestamp>,
    },
    /// Edits the title and/or the summary.
    Edit {
        title: Option<String>,
        summary: Option<String>,
        at: Option<Timestamp>,
    },
    /// Says who is affected: whether customers are (yes, no, unknown; the plan says which
    /// answers start the customer-notice clock) and how many customers and data subjects.
    /// What is left out stays as it is.
    AssessImpact {
        #[schema(value_type = Option<String>)]
        customers: Option<CustomerImpact>,
        affected_customers: Option<u64>,
        affected_data_subjects: Option<u64>,
        at: Option<Timestamp>,
    },
    /// Marks an obligation's clock (or customer-notice) not required, with the reason.
    Waive {
        clock: String,
        reason: String,
        at: Option<Timestamp>,
    },
    Dismiss {
        reason: String,
        at: Option<Timestamp>,
    },
    Reopen {
        reason: String,
        at: Option<Timestamp>,
    },
}

impl ActionRequest {
    /// The desk's command and the time it happened, if backfilled.
    pub fn command(self) -> (Command, Option<Timestamp>) {
        use ActionRequest as A;
        match self {
            A::Acknowledge { at } => (Command::Acknowledge, at),
            A::Assign { owner, roles, at } => (
                Command::Assign {
                    owner,
                    roles: roles.into_iter().collect(),
                },
                at,
            ),
            A::ChangeSeverity { severity, reason, at } => (Command::ChangeSeverity { to: severity, reason }, at),
            A::StartStep { step, at } => (Command::StartStep { step }, at),
            A::CompleteStep { step, at } => (Command::CompleteStep { step }, at),
            A::CheckItem { step, item, at } => (Command::CheckItem { step, item }, at),
            A::UncheckItem { step, item, at } => (Command::UncheckItem { step, item }, at),
            A::AddNote { text, at } => (Command::AddNote { text }, at),
            A::MarkPersonalData { reason, at } => (Command::MarkPersonalData { reason }, at),
            A::UnmarkPersonalData { reason, at } => (Command::UnmarkPersonalData { reason }, at),
            A::RecordNotice { kind, note, at } => (Command::RecordNotice { kind, note }, at),
            A::Resolve { summary, at } => (Command::Resolve { summary }, at),
            A::Close { override_reason, at } => (Command::Close { override_reason }, at),
            A::Edit { title, summary, at } => (Command::Edit { title, summary }, at),
            A::AssessImpact {
                customers,
                affected_customers,
                affected_data_subjects,
                at,
            } => (
                Command::AssessImpact {
                    customers,
                    affected_customers,
                    affected_data_subjects,
                },
                at,
            ),
            A::Waive { clock, reason, at } => (Command::Waive { clock, reason }, at),
            A::Dismiss { reason, at } => (Command::Dismiss { reason }, at),
            A::Reopen { reason, at } => (Command::Reopen { reason }, at),
        }
    }
}

/// Changes an incident and returns it as it now stands.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/actions", tag = "incidents", request_body = ActionRequest,
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = IncidentDoc), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = ["respond"]), ("session" = [])))]
async fn act_on_incident(
    responder: Responder,
    Path(id): Path<String>,
    body: Result<Json<ActionRequest>, JsonRejection>,
) -> Result<Json<IncidentDoc>, ApiError> {
    let number = incident_number(&id)?;
    let Json(body) = body?;
    let (command, at) = body.command();
    let desk = responder.desk();
    desk.act(number, &command, &responder.actor(), at, responder.now)
        .await?;
    responder.changed(number);
    let view = desk.incident(number).await?;
    Ok(Json(IncidentDoc::of(&view, &desk.plan(), responder.now)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    cursor: Option<String>,
    /// 1 to 500, default 50.
    limit: Option<u32>,
}

/// An incident's timeline, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents",
    params(("id" = String, Path, description = "INC-0042 or 42"), PageQuery),
    responses((status = 200, body = Page<TimelineEntryDoc>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_timeline(
    reader: Reader,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<TimelineEntryDoc>>, ApiError> {
    let Query(query) = query?;
    let limit = page_size(query.limit)? as usize;
    let after = cursor(query.cursor.as_deref())?.unwrap_or(0);
    let view = reader.read().incident(incident_number(&id)?).await?;
    let fetched = view.timeline.iter().filter(|e| e.seq > after).take(limit + 1).collect();
    Ok(Json(Page::cut(
        fetched,
        limit,
        |e| e.seq.to_string(),
        |e| TimelineEntryDoc::of(e),
    )))
}

/// An incident's clocks.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/clocks", tag = "incidents",
    params(("id" = String, Path, description = "INC-0042 or 42")),
    responses((status = 200, body = Vec<ClockDoc>), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn get_clocks(reader: Reader, Path(id): Path<String>) -> Result<Json<Vec<ClockDoc>>, ApiError> {
    let view = reader.read().incident(incident_number(&id)?).await?;
    Ok(Json(view.clocks.iter().map(|c| ClockDoc::of(c, reader.now)).collect()))
}

/// Every open clock of every incident, soonest due first.
#[utoipa::path(get, path = "/api/v1/clocks", tag = "clocks", params(PageQuery),
    responses((status = 200, body = Page<OpenClockDoc>)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn list_open_clocks(
    reader: Reader,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<OpenClockDoc>>, ApiError> {
    let Query(query) = query?;
    let limit = page_size(query.limit)? as usize;
    let skip = cursor(query.cursor.as_deref())?.unwrap_or(0) as usize;
    let open = reader.read().open_clocks().await?;
    let items: Vec<OpenClockDoc> = open
        .iter()
        .skip(skip)
        .take(limit)
        .map(|o| OpenClockDoc::of(o, reader.now))
        .collect();
    let next_cursor = (open.len() > skip + limit).then(|| (skip + limit).to_string());
    Ok(Json(Page { items, next_cursor }))
}

/// Verifies the audit chain and rebuilds every incident from it.
#[utoipa::path(get, path = "/api/v1/verify", tag = "audit",
    responses((status = 200, body = VerificationDoc)),
    security(("bearer" = ["read"]), ("session" = [])))]
async fn verify(reader: Reader) -> Result<Json<VerificationDoc>, ApiError> {
    Ok(Json(VerificationDoc::of(&reader.read().verify().await?)))
}

/// One entry of the audit chain.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryDoc {
    seq: u64,
    incident: Option<String>,
    action: String,
    actor: String,
    at: Timestamp,
    recorded_at: Timestamp,
    #[schema(value_type = Object)]
    data: serde_json::Value,
    prev_hash: String,
    hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntryDoc>,
    next_cursor: Option<String>,
}

/// The audit chain in order, for export and independent verification.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageQuery),
    responses((status = 200, body = AuditPage)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn list_audit_entries(
    admin: Administrator,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(query) = query?;
    let limit = page_size(query.limit)?;
    let after = cursor(query.cursor.as_deref())?.unwrap_or(0);
    let entries = admin.read().audit_entries(after, limit).await?;
    let next_cursor = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        items: entries
            .into_iter()
            .map(|e| AuditEntryDoc {
                seq: e.seq,
                incident: e.incident.map(|n| n.to_string()),
                action: e.action,
                actor: e.actor,
                at: e.at,
                recorded_at: e.recorded_at,
                data: e.data,
                prev_hash: e.prev_hash.to_hex(),
                hash: e.hash.to_hex(),
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MeDoc {
    /// The name actions are recorded under.
    actor: String,
    /// user or token.
    kind: String,
    /// What the caller may do: read, respond, ingest, admin.
    permissions: Vec<String>,
}

/// Who the caller is and what they may do.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity",
    responses((status = 200, body = MeDoc), (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
async fn me(caller: Anyone) -> Json<MeDoc> {
    use tocsin_core::identity::Permission as P;
    let principal = &caller.caller.principal;
    let permissions = [
        (P::Read, "read"),
        (P::Respond, "respond"),
        (P::Ingest, "ingest"),
        (P::Admin, "admin"),
    ]
    .into_iter()
    .filter(|(p, _)| principal.permits(*p))
    .map(|(_, name)| name.to_owned())
    .collect();
    Json(MeDoc {
        actor: caller.actor().to_string(),
        kind: match principal {
            crate::services::identity::Principal::User { .. } => "user".into(),
            crate::services::identity::Principal::Token { .. } => "token".into(),
        },
        permissions,
    })
}
