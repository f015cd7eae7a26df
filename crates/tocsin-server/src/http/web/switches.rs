//! The maintenance page: each service of the plan in maintenance or not, the paused agents,
//! and, for responders, turning them on and off.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::forms::ActForm;
use super::{Layout, Signed, Submitted, WebError, page};
use crate::http::auth::{Allowed, NeedRead, NeedRespond};
use crate::http::error::ApiError;
use crate::phrases::time;
use crate::services::blocks::span;

struct ServiceRow {
    id: String,
    name: String,
    on: bool,
    since: String,
    until: String,
    reason: String,
}

struct AgentRow {
    agent: String,
    since: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenancePage {
    layout: Layout,
    services: Vec<ServiceRow>,
    agents: Vec<AgentRow>,
    problem: String,
}

async fn maintenance_page<N>(allowed: &Allowed<N>, problem: String) -> Result<MaintenancePage, ApiError> {
    let plan = allowed.read().plan();
    let zone = plan.calendar().zone().clone();
    let on = allowed.switched_on().await?;
    let services = plan
        .services()
        .iter()
        .map(|s| {
            let window = on.maintenance_of(s.id.as_str());
            ServiceRow {
                id: s.id.to_string(),
                name: s.name.clone(),
                on: window.is_some(),
                since: window
                    .map(|w| format!("{} by {}", time(w.started, &zone), w.started_by))
                    .unwrap_or_default(),
                until: window.and_then(|w| w.until).map(|t| time(t, &zone)).unwrap_or_default(),
                reason: window.map(|w| w.reason.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let agents = on
        .paused
        .iter()
        .map(|p| AgentRow {
            agent: p.subject.clone(),
            since: format!("{} by {}", time(p.started, &zone), p.started_by),
            reason: p.reason.clone(),
        })
        .collect();
    Ok(MaintenancePage {
        layout: Layout::new(allowed, "Maintenance", "maintenance"),
        services,
        agents,
        problem,
    })
}

pub async fn show(signed: Signed<NeedRead>) -> Result<Response, WebError> {
    Ok(page(StatusCode::OK, &maintenance_page(&signed.0, String::new()).await?))
}

/// Turns maintenance on or off for a service, or pauses or resumes an agent, as `what`
/// says; back to the page, a refusal shown on it.
pub async fn switch(
    Path((what, name)): Path<(String, String)>,
    submitted: Submitted<NeedRespond, ActForm>,
) -> Response {
    let Submitted { allowed, form } = submitted;
    let field = |key: &str| form.fields.get(key).cloned().unwrap_or_default();
    let switches = allowed.switches();
    let (actor, now) = (allowed.actor(), allowed.now);
    let result: Result<(), ApiError> = async {
        match what.as_str() {
            "on" => {
                let lasts = Some(field("for"))
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| span(t.trim()))
                    .transpose()?;
                let plan = allowed.read().plan();
                switches
                    .maintenance_on(&plan, &name, &field("reason"), lasts, None, &actor, now)
                    .await?;
            }
            "off" => {
                switches.maintenance_off(&name, &actor, now).await?;
            }
            "pause" => {
                switches
                    .pause(&field("agent"), &field("reason"), None, &actor, now)
                    .await?;
            }
            "resume" => {
                switches.resume(&name, &actor, now).await?;
            }
            other => return Err(ApiError::not_found(format!("nothing to switch called {other}"))),
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/maintenance").into_response(),
        Err(error) => match maintenance_page(&allowed, error.message.clone()).await {
            Ok(refused) => page(error.status, &refused),
            Err(e) => WebError::from(e).into_response(),
        },
    }
}
