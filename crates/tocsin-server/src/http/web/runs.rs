//! The incident page's forms for the plan's actions and its evidence: asking for a run (or a dry run),
//! approving, rejecting and undoing, each back to the incident page, a refusal shown on it.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};

use super::forms::ActForm;
use super::pages::IncidentPage;
use super::views::IncidentPageView;
use super::{Layout, Submitted, WebError, page};
use crate::http::api::incident_number;
use crate::http::auth::{NeedRespond, Responder};
use crate::http::error::ApiError;
use crate::services::identity::Principal;

/// The incident page again, with what was refused or what a dry run would send.
async fn incident_page(allowed: &Responder, id: &str, result: Result<Option<String>, ApiError>) -> Response {
    let number = match incident_number(id) {
        Ok(number) => number,
        Err(e) => return WebError::from(e).into_response(),
    };
    let (status, problem, dry_run) = match result {
        Ok(None) => {
            allowed.changed(number);
            return Redirect::to(&format!("/incidents/{number}")).into_response();
        }
        Ok(Some(dry)) => (axum::http::StatusCode::OK, String::new(), dry),
        Err(error) => (error.status, error.message, String::new()),
    };
    let desk = allowed.desk();
    match desk.incident(number).await {
        Ok(view) => page(
            status,
            &IncidentPage {
                layout: Layout::new(allowed, format!("{} {}", number, view.incident.title), "incidents"),
                i: IncidentPageView::of(&view.incident, &view.clocks, &view.timeline, &desk.plan(), allowed.now),
                problem,
                dry_run,
                evidence: super::pages::evidence_rows(allowed.evidence(), number, desk.plan().calendar().zone()).await,
            },
        ),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// Asks for a run from the form's `action` and its `input.NAME` fields; with `go=dry`,
/// shows what it would send instead.
pub async fn request(Path(id): Path<String>, submitted: Submitted<NeedRespond, ActForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let result = async {
        let number = incident_number(&id)?;
        let action = form.fields.get("action").cloned().unwrap_or_default();
        let inputs: BTreeMap<String, String> = form
            .fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("input.").map(|name| (name.to_owned(), v.clone())))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        let actions = allowed.actions();
        if form.fields.get("go").is_some_and(|go| go == "dry") {
            let prepared = actions.dry_run(number, &action, &inputs).await?;
            return Ok(Some(serde_json::to_string_pretty(&prepared).unwrap_or_default()));
        }
        actions
            .request(number, &action, inputs, false, &allowed.actor(), allowed.now)
            .await?;
        Ok(None)
    }
    .await;
    incident_page(&allowed, &id, result).await
}

/// Approves, rejects (with the form's `reason`) or undoes run `run`, as `what` says.
pub async fn decide(
    Path((id, run, what)): Path<(String, u32, String)>,
    submitted: Submitted<NeedRespond, ActForm>,
) -> Response {
    let Submitted { allowed, form } = submitted;
    let result = async {
        let number = incident_number(&id)?;
        let actions = allowed.actions();
        let actor = allowed.actor();
        match what.as_str() {
            "approve" => {
                if matches!(allowed.caller.principal, Principal::Token { .. }) {
                    return Err(ApiError::forbidden("approving is a person's act"));
                }
                actions.approve(number, run, &actor, allowed.now).await?;
            }
            "reject" => {
                let reason = form.fields.get("reason").cloned().unwrap_or_default();
                actions.reject(number, run, &reason, &actor, allowed.now).await?;
            }
            "undo" => {
                actions.undo(number, run, &actor, allowed.now).await?;
            }
            other => return Err(ApiError::not_found(format!("no such thing to do with a run: {other}"))),
        }
        Ok(None)
    }
    .await;
    incident_page(&allowed, &id, result).await
}

/// Keeps a note written on the incident page as evidence (files go through the API, sent
/// by the page's script).
pub async fn note(Path(id): Path<String>, submitted: Submitted<NeedRespond, ActForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let result = async {
        let number = incident_number(&id)?;
        let name = form.fields.get("name").map(|n| n.trim().to_owned()).unwrap_or_default();
        let text = form.fields.get("text").cloned().unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ApiError::invalid(
                "write the note, or choose a file (which needs the page's script)",
            ));
        }
        let name = if name.is_empty() { "note.txt".to_owned() } else { name };
        allowed
            .evidence()
            .add(
                number,
                &name,
                "note",
                "text/plain; charset=utf-8",
                "",
                text.into_bytes(),
                &allowed.actor(),
                allowed.now,
            )
            .await?;
        Ok(None)
    }
    .await;
    incident_page(&allowed, &id, result).await
}
