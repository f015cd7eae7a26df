//! The page an approval link opens: the run it approves, and a button that does. Opening
//! it changes nothing (mail scanners open the links in mail); pressing the button uses the
//! link, once, approving as the person it was mailed to. No login: the link is the
//! credential, and it works for that one run only.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tocsin_core::Timestamp;

use super::{Layout, WebError, page};
use crate::http::AppState;
use crate::http::auth::same_origin;
use crate::http::error::ApiError;
use crate::phrases::time;
use crate::services::approval_links::LinkError;

#[derive(Template)]
#[template(path = "approve.html")]
struct ApprovePage {
    layout: Layout,
    /// The link's own path, which the button posts to.
    path: String,
    incident: String,
    severity: String,
    title: String,
    run: u32,
    action: String,
    inputs: Vec<(String, String)>,
    requested: String,
    approvals: String,
    expires: String,
    person: String,
    /// What came of pressing the button; empty before.
    done: String,
}

fn refusal(e: LinkError) -> WebError {
    match e {
        LinkError::Unknown => ApiError::not_found(e.to_string()),
        LinkError::Used(_) | LinkError::Expired(_) => ApiError::new(StatusCode::GONE, "gone", e.to_string()),
        LinkError::Refused(desk) => desk.into(),
    }
    .into()
}

fn layout() -> Layout {
    Layout {
        title: "Approve a run".into(),
        ..Layout::default()
    }
}

/// Shows what the link approves.
pub async fn show(State(state): State<AppState>, Path(secret): Path<String>) -> Result<Response, WebError> {
    let now = Timestamp::now();
    let offer = state.approval_links().look(&secret, now).await.map_err(refusal)?;
    let plan = state.0.desk.plan();
    let zone = plan.calendar().zone();
    let incident = &offer.view.incident;
    let run = &offer.run;
    let person = plan
        .person(&offer.link.person)
        .map_or_else(|| offer.link.person.clone(), |p| p.name.clone());
    Ok(page(
        StatusCode::OK,
        &ApprovePage {
            layout: layout(),
            path: format!("/approve/{secret}"),
            incident: incident.number.to_string(),
            severity: incident.severity.to_string(),
            title: incident.title.clone(),
            run: run.number,
            action: plan
                .action(run.action.as_str())
                .map_or_else(|| run.action.to_string(), |a| format!("{} ({})", a.name, a.id)),
            inputs: run.inputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            requested: format!("{} by {}", time(run.requested.at, zone), run.requested.by),
            approvals: format!("{} of {}", run.approvals.len(), run.needs),
            expires: time(offer.link.expires_at, zone),
            person,
            done: String::new(),
        },
    ))
}

/// Uses the link: approves the run as the link's person.
pub async fn approve(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if !same_origin(&headers, state.config().public_url.as_deref()) {
        return Err(ApiError::forbidden("the approval came from another site").into());
    }
    let (link, run) = state
        .approval_links()
        .approve(&secret, Timestamp::now())
        .await
        .map_err(refusal)?;
    let done = match run.state {
        tocsin_core::incident::RunState::AwaitingApproval => format!(
            "Approved run {} of {} as {}; it waits for {} more approval(s).",
            run.number,
            link.incident,
            link.person,
            run.needs as usize - run.approvals.len()
        ),
        _ => format!(
            "Approved run {} of {} as {}; it runs now.",
            run.number, link.incident, link.person
        ),
    };
    Ok(page(
        StatusCode::OK,
        &ApprovePage {
            layout: layout(),
            incident: link.incident.to_string(),
            run: run.number,
            done,
            ..ApprovePage::empty()
        },
    ))
}

impl ApprovePage {
    fn empty() -> Self {
        ApprovePage {
            layout: layout(),
            path: String::new(),
            incident: String::new(),
            severity: String::new(),
            title: String::new(),
            run: 0,
            action: String::new(),
            inputs: Vec::new(),
            requested: String::new(),
            approvals: String::new(),
            expires: String::new(),
            person: String::new(),
            done: String::new(),
        }
    }
}
