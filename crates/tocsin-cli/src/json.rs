//! The `--json` shapes: stable field names, times in RFC 3339, ids as `INC-0042`.

use serde::Serialize;
use serde_json::{Value, json};
use tocsin_core::Timestamp;
use tocsin_core::clock::{Clock, ClockState};
use tocsin_core::plan::Plan;
use tocsin_server::{IncidentView, TimelineEntry};
use tocsin_store::{IncidentSummary, OpenClock};

/// A clock as `--json` shows it.
#[derive(Serialize)]
pub struct ClockJson<'a> {
    clock: &'a str,
    kind: &'static str,
    name: &'a str,
    state: &'static str,
    state_at: Option<Timestamp>,
    started_at: Timestamp,
    due_at: Option<Timestamp>,
    met_at: Option<Timestamp>,
    open: bool,
    seconds_left: Option<i64>,
}

pub fn clock(clock: &Clock, now: Timestamp) -> ClockJson<'_> {
    let state = clock.state(now);
    let state_at = match state {
        ClockState::Met { at } | ClockState::Breached { at } => Some(at),
        _ => None,
    };
    ClockJson {
        clock: &clock.id,
        kind: clock.kind.as_str(),
        name: &clock.name,
        state: state.as_str(),
        state_at,
        started_at: clock.started_at,
        due_at: clock.due_at,
        met_at: clock.met_at,
        open: clock.open,
        seconds_left: clock.seconds_left(now),
    }
}

/// An open clock with its incident, as `tocsin clocks --json` lists it.
#[derive(Serialize)]
pub struct OpenClockJson<'a> {
    incident: String,
    title: &'a str,
    severity: &'a str,
    status: &'static str,
    #[serde(flatten)]
    clock: ClockJson<'a>,
}

pub fn open_clock(open: &OpenClock, now: Timestamp) -> OpenClockJson<'_> {
    OpenClockJson {
        incident: open.incident.to_string(),
        title: &open.title,
        severity: &open.severity,
        status: open.status.as_str(),
        clock: clock(&open.clock, now),
    }
}

pub fn summary(s: &IncidentSummary) -> Value {
    json!({
        "id": s.number.to_string(),
        "title": s.title,
        "severity": s.severity,
        "status": s.status,
        "owner": s.owner,
        "personal_data": s.personal_data,
        "declared_at": s.declared_at,
        "updated_at": s.updated_at,
    })
}

fn timeline_entry(entry: &TimelineEntry) -> Value {
    json!({
        "seq": entry.seq,
        "at": entry.at,
        "recorded_at": entry.recorded_at,
        "actor": entry.actor,
        "action": entry.event.action(),
        "event": entry.event.to_json(),
    })
}

pub fn incident(view: &IncidentView, plan: &Plan, now: Timestamp) -> Value {
    let mut incident = serde_json::to_value(&view.incident).expect("incidents serialize");
    if let Value::Object(map) = &mut incident {
        map.remove("number");
        map.remove("breaches");
        map.insert("id".into(), json!(view.incident.number.to_string()));
    }
    let missing_roles: Vec<&str> = plan
        .roles_required_for(&view.incident.severity)
        .filter(|r| !view.incident.roles.contains_key(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    json!({
        "incident": incident,
        "missing_roles": missing_roles,
        "clocks": view.clocks.iter().map(|c| clock(c, now)).collect::<Vec<_>>(),
        "timeline": view.timeline.iter().map(timeline_entry).collect::<Vec<_>>(),
    })
}
