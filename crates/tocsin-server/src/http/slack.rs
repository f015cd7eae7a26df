//! What a Slack app channel sends back: button presses (`POST /slack/actions`, Slack's
//! interactivity requests) and the `/tocsin` slash command (`POST /slack/commands`). Each
//! request must carry a valid `X-Slack-Signature` from one of the plan's Slack apps, made
//! within five minutes, and is taken once: a replay is refused. Who pressed or typed is the
//! plan's `[[person]]` with that `slack` member id; anyone else is told their id and
//! turned away.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, IncidentNumber, Status};
use tocsin_core::plan::{ChannelKind, Plan};
use tocsin_notify::slack_app::{ACK, APPROVE, WINDOW_SECONDS, verify};
use tocsin_store::IncidentFilter;

use super::AppState;
use crate::workers::bot::{acknowledge, approve};

/// The most request signatures remembered against replays (those older than the window
/// are forgotten first).
const REMEMBERED: usize = 10_000;
/// The largest request Slack sends that is read.
pub const BODY_MAX: usize = 64 * 1024;

/// Signatures of requests already taken, with when they were signed.
#[derive(Debug, Default)]
pub struct Replays(Mutex<VecDeque<(i64, String)>>);

impl Replays {
    /// Whether `signature` is new (and now remembered).
    fn first(&self, signature: &str, signed_at: i64, now: i64) -> bool {
        let mut seen = self.0.lock().expect("not poisoned");
        while seen
            .front()
            .is_some_and(|(at, _)| now - at > WINDOW_SECONDS || seen.len() >= REMEMBERED)
        {
            seen.pop_front();
        }
        if seen.iter().any(|(_, s)| s == signature) {
            return false;
        }
        seen.push_back((signed_at, signature.to_owned()));
        true
    }
}

/// Checks that the request comes from one of the plan's Slack apps, once.
fn check(state: &AppState, plan: &Plan, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (timestamp, signature) = (header("x-slack-request-timestamp"), header("x-slack-signature"));
    let now = Timestamp::now().as_second();
    let signed = plan
        .channels()
        .iter()
        .filter(|c| c.kind == ChannelKind::SlackApp)
        .filter_map(|c| c.signing_secret.as_ref())
        .filter_map(|secret| crate::services::actions::read_secret(secret).ok())
        .any(|secret| verify(secret.as_bytes(), timestamp, body, signature, now));
    if !signed {
        tracing::warn!("a request to the Slack endpoints was not signed by a Slack app of the plan");
        return Err("the request is not signed by a Slack app of this plan, or is too old");
    }
    let signed_at = timestamp.trim().parse().unwrap_or(now);
    if !state.0.slack_replays.first(signature, signed_at, now) {
        tracing::warn!("a signed Slack request came again");
        return Err("this request was taken already");
    }
    Ok(())
}

/// The plan's person with Slack member id `user`.
fn person(plan: &Plan, user: &str) -> Option<Actor> {
    plan.people()
        .iter()
        .find(|p| p.slack.as_deref() == Some(user))
        .and_then(|p| Actor::parse(&p.id).ok())
}

fn turned_away(user: &str) -> String {
    format!(
        "You may not act on incidents from Slack. Your Slack member id is {user}: ask whoever keeps the plan to add it to your [[person]] (slack = \"{user}\")."
    )
}

/// A button pressed on one of the app's messages.
pub async fn actions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let plan = state.0.desk.plan();
    if let Err(why) = check(&state, &plan, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let payload: Option<Value> = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str(&v).ok());
    let Some(payload) = payload else {
        return (StatusCode::BAD_REQUEST, "the request has no payload").into_response();
    };
    if payload["type"] != "block_actions" {
        return StatusCode::OK.into_response();
    }
    let user = payload["user"]["id"].as_str().unwrap_or_default().to_owned();
    let Some(actor) = person(&plan, &user) else {
        tracing::warn!(user = %user, "a Slack user who may not act pressed a button");
        return Json(json!({"response_type": "ephemeral", "replace_original": false, "text": turned_away(&user)}))
            .into_response();
    };
    let mut said = Vec::new();
    for action in payload["actions"].as_array().into_iter().flatten() {
        let value = action["value"].as_str().unwrap_or_default();
        let (_, text) = match action["action_id"].as_str() {
            Some(ACK) => acknowledge(&state.0.desk, value, &actor).await,
            Some(APPROVE) => match value.rsplit_once(':') {
                Some((incident, run)) => approve(state.actions(), incident, run, &actor).await,
                None => (false, "This button names no run".to_owned()),
            },
            _ => continue,
        };
        if let Ok(number) = value.split(':').next().unwrap_or_default().parse::<IncidentNumber>() {
            state.changed(number);
        }
        said.push(text);
    }
    Json(json!({"response_type": "ephemeral", "replace_original": false, "text": said.join("\n")})).into_response()
}

/// The `/tocsin` slash command: `ack INC-7`, `status [INC-7]`, `incidents`, `help`.
pub async fn commands(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let plan = state.0.desk.plan();
    if let Err(why) = check(&state, &plan, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, why).into_response();
    }
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (user, text) = (field("user_id"), field("text"));
    let words: Vec<&str> = text.split_whitespace().collect();
    let reply = |kind: &str, text: String| Json(json!({"response_type": kind, "text": text})).into_response();
    const HELP: &str = "Commands: `/tocsin incidents` (open incidents), `/tocsin status INC-7` (one incident), `/tocsin ack INC-7` (acknowledge it).";
    let Some(actor) = person(&plan, &user) else {
        tracing::warn!(user = %user, "a Slack user who may not act used the command");
        return reply("ephemeral", turned_away(&user));
    };
    match words.as_slice() {
        ["ack" | "acknowledge", incident] => {
            let (done, text) = acknowledge(&state.0.desk, incident, &actor).await;
            if done && let Ok(number) = incident.parse::<IncidentNumber>() {
                state.changed(number);
            }
            reply(if done { "in_channel" } else { "ephemeral" }, text)
        }
        ["status", incident] => reply("ephemeral", status(&state, incident).await),
        ["status" | "incidents"] => reply("ephemeral", incidents(&state).await),
        [] | ["help"] => reply("ephemeral", HELP.to_owned()),
        _ => reply("ephemeral", format!("Unknown command \"{text}\". {HELP}")),
    }
}

/// The open incidents, a line each.
async fn incidents(state: &AppState) -> String {
    let filter = IncidentFilter {
        statuses: vec![Status::Declared, Status::Acknowledged],
        limit: Some(20),
        ..IncidentFilter::default()
    };
    match state.0.desk.incidents(&filter).await {
        Ok(list) if list.is_empty() => "No open incidents.".to_owned(),
        Ok(list) => {
            let mut lines = vec![format!("*Open incidents* ({})", list.len())];
            lines.extend(list.iter().map(|i| {
                format!(
                    "{} · {} · {} · {}",
                    i.number,
                    i.severity,
                    i.status.as_str(),
                    tocsin_notify::escape(&i.title)
                )
            }));
            lines.join("\n")
        }
        Err(e) => {
            tracing::error!(error = %e, "listing incidents for Slack failed");
            "The incidents cannot be read now; try again".to_owned()
        }
    }
}

/// One incident: severity, state, owner and its open clocks.
async fn status(state: &AppState, incident: &str) -> String {
    let Ok(number) = incident.parse::<IncidentNumber>() else {
        return format!(
            "\"{}\" is not an incident; write it like INC-7",
            tocsin_notify::escape(incident)
        );
    };
    match state.0.desk.incident_shared(number).await {
        Ok(view) => {
            let i = &view.incident;
            let plan = state.0.desk.plan();
            let zone = plan.calendar().zone();
            let now = Timestamp::now();
            let mut lines = vec![
                format!("*{} · {} · {}*", i.number, i.severity, tocsin_notify::escape(&i.title)),
                format!(
                    "{} · owner {}",
                    i.status.as_str(),
                    i.owner.as_deref().unwrap_or("none yet")
                ),
            ];
            for clock in view.clocks.iter().filter(|c| c.open) {
                if let Some(due) = clock.due_at {
                    lines.push(format!(
                        ":alarm_clock: {}",
                        crate::phrases::due(&clock.name, due, now, zone)
                    ));
                }
            }
            lines.join("\n")
        }
        Err(crate::DeskError::NotFound(_)) => format!("There is no incident {number}"),
        Err(e) => {
            tracing::error!(error = %e, "reading an incident for Slack failed");
            "The incident cannot be read now; try again".to_owned()
        }
    }
}
