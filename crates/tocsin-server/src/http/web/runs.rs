//! The incident page's forms for the plan's actions and its evidence: asking for a run (or a dry run),
//! approving, rejecting and undoing, each back to the incident page, a refusal shown on it.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::response::Response;

use super::Submitted;
use super::forms::ActForm;
use super::pages::after;
use crate::http::api::incident_number;
use crate::http::auth::NeedRespond;
use crate::http::error::ApiError;
use crate::services::identity::Principal;

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
    after(&allowed, &id, result).await
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
    after(&allowed, &id, result).await
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
    after(&allowed, &id, result).await
}
