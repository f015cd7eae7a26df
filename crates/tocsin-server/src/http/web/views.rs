//! What the pages show, computed once in Rust so the templates only lay it out.

use jiff::tz::TimeZone;
use tocsin_core::Timestamp;
use tocsin_core::clock::{Clock, ClockKind, ClockState};
use tocsin_core::incident::{Incident, StepState};
use tocsin_core::plan::Plan;
use tocsin_store::IncidentSummary;

use crate::TimelineEntry;
use crate::phrases::{left, span, time};

/// A clock as a page shows it. `due` feeds the live countdown of `app.js`.
#[derive(Clone, Debug)]
pub struct ClockView {
    pub name: String,
    /// running, met, breached or not_applicable: also the CSS class.
    pub state: &'static str,
    /// A running clock with little time left.
    pub warn: bool,
    /// What to read first: "BREACHED 3m ago", "met 10:12", "in 12m".
    pub headline: String,
    /// When it is due, in the plan's zone.
    pub due: String,
    /// RFC 3339, empty without a deadline.
    pub due_iso: String,
}

impl ClockView {
    pub fn of(clock: &Clock, now: Timestamp, zone: &TimeZone) -> Self {
        let state = clock.state(now);
        let headline = match state {
            ClockState::Breached { at } => format!("BREACHED {} ago", span(now.as_second() - at.as_second())),
            ClockState::Met { at } => format!("met {}", time(at, zone)),
            ClockState::NotApplicable => match &clock.waived {
                Some(why) => format!("not required: {why}"),
                None => "not applicable".into(),
            },
            ClockState::Running => clock.seconds_left(now).map_or_else(|| "open, no deadline".into(), left),
        };
        ClockView {
            name: clock.name.clone(),
            state: state.as_str(),
            warn: clock.is_running_out(now),
            headline,
            due: clock.due_at.map(|d| time(d, zone)).unwrap_or_default(),
            due_iso: clock
                .due_at
                .filter(|_| clock.open)
                .map(|d| d.to_string())
                .unwrap_or_default(),
        }
    }
}

/// An incident in a list or on the dashboard.
#[derive(Clone, Debug)]
pub struct SummaryView {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub status: &'static str,
    pub owner: String,
    pub personal_data: bool,
    pub declared: String,
    pub clocks: Vec<ClockView>,
    /// Any of its clocks breached.
    pub breached: bool,
}

impl SummaryView {
    pub fn of(s: &IncidentSummary, clocks: Vec<ClockView>, zone: &TimeZone) -> Self {
        SummaryView {
            id: s.number.to_string(),
            title: s.title.clone(),
            severity: s.severity.clone(),
            status: s.status.as_str(),
            owner: s.owner.clone().unwrap_or_default(),
            personal_data: s.personal_data,
            declared: time(s.declared_at, zone),
            breached: clocks.iter().any(|c| c.state == "breached"),
            clocks,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ItemView {
    /// Counting from 1, as the actions name it.
    pub number: usize,
    pub text: String,
    pub done: bool,
    pub by: String,
    /// The plan's actions that carry it out.
    pub actions: Vec<ActionButton>,
}

/// One of the plan's actions, as a form that asks for a run.
#[derive(Clone, Debug)]
pub struct ActionButton {
    pub id: String,
    pub name: String,
    pub inputs: Vec<InputField>,
    /// Approvals a person's request needs.
    pub needs: u32,
}

#[derive(Clone, Debug)]
pub struct InputField {
    pub name: String,
    pub kind: &'static str,
    pub required: bool,
    pub default: String,
}

impl ActionButton {
    fn of(def: &tocsin_core::action::ActionDef) -> Self {
        ActionButton {
            id: def.id.to_string(),
            name: def.name.clone(),
            inputs: def
                .inputs
                .iter()
                .map(|i| InputField {
                    name: i.name.clone(),
                    kind: i.kind.as_str(),
                    required: i.required,
                    default: i.default.clone().unwrap_or_default(),
                })
                .collect(),
            needs: def.approval.as_ref().map_or(0, |a| a.needs),
        }
    }
}

/// A run of an action, as the incident page shows it.
#[derive(Clone, Debug)]
pub struct RunView {
    pub number: u32,
    pub action: String,
    pub name: String,
    pub state: &'static str,
    pub inputs: String,
    pub requested: String,
    pub approvals: String,
    pub outcome: String,
    pub ok: bool,
    pub awaiting: bool,
    pub undoable: bool,
}

#[derive(Clone, Debug)]
pub struct StepView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// pending, in_progress or done.
    pub state: &'static str,
    pub state_label: &'static str,
    pub stamp: String,
    pub items: Vec<ItemView>,
    /// The plan's actions of this step that tick no item.
    pub actions: Vec<ActionButton>,
}

#[derive(Clone, Debug)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub holder: String,
    /// Required at this severity and held by nobody.
    pub missing: bool,
}

#[derive(Clone, Debug)]
pub struct EntryView {
    pub at: String,
    pub actor: String,
    pub action: &'static str,
    pub text: String,
    /// Recorded later than it happened.
    pub backfilled: String,
}

#[derive(Clone, Debug)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Everything the incident page shows.
#[derive(Clone, Debug)]
pub struct IncidentPageView {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub severity: String,
    pub severity_name: String,
    pub status: &'static str,
    pub active: bool,
    pub reporter: String,
    pub declared: String,
    pub aware: String,
    pub owner: String,
    pub personal_data: bool,
    pub roles: Vec<RoleView>,
    pub steps: Vec<StepView>,
    pub clocks: Vec<ClockView>,
    pub timeline: Vec<EntryView>,
    pub severities: Vec<Choice>,
    pub notice_kinds: Vec<Choice>,
    pub notices: Vec<String>,
    /// The notices written for it, each a link to its editor: like `1 · customers ·
    /// version 2 · sent`.
    pub written: Vec<(u32, String)>,
    /// Whether customers are affected: yes, no or unknown.
    pub customers: &'static str,
    pub customer_choices: Vec<Choice>,
    /// The counts, empty when unknown.
    pub affected_customers: String,
    pub affected_data_subjects: String,
    /// Obligations that can still be marked not required.
    pub waivable: Vec<Choice>,
    /// When its recovery watch ends, while it runs.
    pub watch_until: String,
    /// The runs of the plan's actions, latest first.
    pub runs: Vec<RunView>,
    /// Every action of the plan, to run from the page.
    pub actions: Vec<ActionButton>,
}

impl IncidentPageView {
    pub fn of(incident: &Incident, clocks: &[Clock], timeline: &[TimelineEntry], plan: &Plan, now: Timestamp) -> Self {
        let zone = plan.calendar().zone();
        let stamp = |what: &str, s: &Option<tocsin_core::incident::Stamp>| {
            s.as_ref()
                .map(|s| format!("{what} by {} at {}", s.by, time(s.at, zone)))
                .unwrap_or_default()
        };
        let required: Vec<_> = plan
            .roles_required_for(&incident.severity)
            .map(|r| r.id.clone())
            .collect();
        let mut notice_kinds = vec![
            Choice::new("customers", "Customers"),
            Choice::new("authority", "Supervisory authority"),
            Choice::new("data-subjects", "Data subjects"),
            Choice::new("status-update", "Status update"),
            Choice::new("summary", "Summary to customers"),
        ];
        notice_kinds.extend(plan.obligations().iter().map(|o| Choice::new(o.id.as_str(), &o.name)));
        let written = incident
            .written_notices
            .iter()
            .map(|n| {
                let state = match (&n.sent, n.approved()) {
                    (Some(_), _) => "sent",
                    (None, true) => "approved",
                    (None, false) => "draft",
                };
                (
                    n.number,
                    format!(
                        "{} · {} · version {} · {state}: {}",
                        n.number, n.kind, n.version, n.subject
                    ),
                )
            })
            .collect();
        IncidentPageView {
            written,
            id: incident.number.to_string(),
            title: incident.title.clone(),
            summary: incident.summary.clone(),
            severity: incident.severity.to_string(),
            severity_name: plan
                .severity(&incident.severity)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            status: incident.status.as_str(),
            active: incident.status.is_active(),
            reporter: incident.reporter.to_string(),
            declared: time(incident.declared_at, zone),
            aware: time(incident.aware_at, zone),
            owner: incident.owner.clone().unwrap_or_default(),
            personal_data: incident.personal_data,
            roles: plan
                .roles()
                .iter()
                .map(|r| {
                    let holder = incident.roles.get(&r.id).cloned().unwrap_or_default();
                    RoleView {
                        id: r.id.to_string(),
                        name: r.name.clone(),
                        missing: holder.is_empty() && required.contains(&r.id),
                        holder,
                    }
                })
                .collect(),
            steps: incident
                .steps
                .iter()
                .map(|s| StepView {
                    id: s.id.to_string(),
                    name: s.name.clone(),
                    description: plan
                        .steps()
                        .iter()
                        .find(|t| t.id == s.id)
                        .map(|t| t.description.clone())
                        .unwrap_or_default(),
                    state: match s.state {
                        StepState::Pending => "pending",
                        StepState::InProgress => "in_progress",
                        StepState::Done => "done",
                    },
                    state_label: s.state.as_str(),
                    stamp: if s.completed.is_some() {
                        stamp("done", &s.completed)
                    } else {
                        stamp("started", &s.started)
                    },
                    items: s
                        .checklist
                        .iter()
                        .enumerate()
                        .map(|(i, item)| ItemView {
                            number: i + 1,
                            text: item.text.clone(),
                            done: item.done.is_some(),
                            by: item.done.as_ref().map(|d| d.by.to_string()).unwrap_or_default(),
                            actions: plan
                                .actions()
                                .iter()
                                .filter(|a| {
                                    a.step.as_ref().is_some_and(|(step, item)| {
                                        *step == s.id
                                            && item.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n == i + 1))
                                    })
                                })
                                .map(ActionButton::of)
                                .collect(),
                        })
                        .collect(),
                    actions: plan
                        .actions()
                        .iter()
                        .filter(|a| {
                            a.step
                                .as_ref()
                                .is_some_and(|(step, item)| *step == s.id && item.is_none())
                        })
                        .map(ActionButton::of)
                        .collect(),
                })
                .collect(),
            clocks: clocks.iter().map(|c| ClockView::of(c, now, zone)).collect(),
            timeline: timeline
                .iter()
                .rev()
                .map(|e| EntryView {
                    at: time(e.at, zone),
                    actor: e.actor.to_string(),
                    action: e.event.action(),
                    text: crate::phrases::event(&e.event),
                    backfilled: if e.recorded_at.as_second() - e.at.as_second() > 60 {
                        format!("recorded {}", time(e.recorded_at, zone))
                    } else {
                        String::new()
                    },
                })
                .collect(),
            severities: plan
                .severities()
                .iter()
                .map(|s| Choice {
                    value: s.id.to_string(),
                    label: format!("{} — {}", s.id, s.name),
                    selected: s.id == incident.severity,
                })
                .collect(),
            notice_kinds,
            customers: incident.customers.as_str(),
            customer_choices: tocsin_core::incident::CustomerImpact::ALL
                .iter()
                .map(|c| Choice {
                    value: c.as_str().to_owned(),
                    label: c.as_str().to_owned(),
                    selected: *c == incident.customers,
                })
                .collect(),
            affected_customers: incident.affected_customers.map(|n| n.to_string()).unwrap_or_default(),
            affected_data_subjects: incident
                .affected_data_subjects
                .map(|n| n.to_string())
                .unwrap_or_default(),
            waivable: clocks
                .iter()
                .filter(|c| matches!(c.kind, ClockKind::Obligation | ClockKind::CustomerNotice))
                .filter(|c| c.met_at.is_none() && c.waived.is_none())
                .map(|c| Choice::new(&c.id, &c.name))
                .collect(),
            watch_until: plan
                .watch_until(incident)
                .filter(|until| *until > now)
                .map(|until| time(until, zone))
                .unwrap_or_default(),
            runs: incident
                .runs
                .iter()
                .rev()
                .map(|r| RunView {
                    number: r.number,
                    action: r.action.to_string(),
                    name: plan
                        .action(r.action.as_str())
                        .map_or_else(|| r.action.to_string(), |a| a.name.clone()),
                    state: r.state.as_str(),
                    inputs: r
                        .inputs
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    requested: format!(
                        "asked by {} at {}{}",
                        r.requested.by,
                        time(r.requested.at, zone),
                        match r.undoes {
                            Some(n) => format!(", undoing run {n}"),
                            None => String::new(),
                        }
                    ),
                    approvals: if r.needs == 0 {
                        String::new()
                    } else {
                        let by: Vec<String> = r.approvals.iter().map(|a| a.by.to_string()).collect();
                        format!(
                            "{} of {} approval(s){}",
                            r.approvals.len(),
                            r.needs,
                            if by.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", by.join(", "))
                            }
                        )
                    },
                    outcome: r.outcome.as_ref().map(|o| o.summary.clone()).unwrap_or_default(),
                    ok: r.outcome.as_ref().is_some_and(|o| o.ok),
                    awaiting: r.state == tocsin_core::incident::RunState::AwaitingApproval,
                    undoable: r.state == tocsin_core::incident::RunState::Succeeded
                        && r.undone_by.is_none()
                        && r.undoes.is_none()
                        && plan.action(r.action.as_str()).is_some_and(|a| a.undo.is_some()),
                })
                .collect(),
            actions: plan.actions().iter().map(ActionButton::of).collect(),
            notices: incident
                .notices
                .iter()
                .map(|n| format!("{} — {} by {}", n.kind, time(n.at, zone), n.by))
                .collect(),
        }
    }
}

impl Choice {
    pub fn new(value: &str, label: &str) -> Self {
        Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: false,
        }
    }
}
