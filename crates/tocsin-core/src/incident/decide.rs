//! The rules of the incident lifecycle: which requests are allowed and which events they make.

use jiff::Timestamp;

use super::event::{ClockBreach, ClockShift, Declared, Impact, IncidentEvent, StepOutline};
use super::{Actor, CustomerImpact, Incident, Status, StepState};
use crate::clock::{Clock, ClockKind, ClockState, clocks};
use crate::id::StepId;
use crate::plan::{Plan, unknown};

/// Why a request was refused. The message is one line that names the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    pub kind: RejectionKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionKind {
    /// The request itself is malformed or names something that does not exist.
    Invalid,
    /// The request is fine but the incident's state does not allow it now.
    Conflict,
}

pub(super) fn invalid(message: impl Into<String>) -> Rejection {
    Rejection {
        kind: RejectionKind::Invalid,
        message: message.into(),
    }
}

pub(super) fn conflict(message: impl Into<String>) -> Rejection {
    Rejection {
        kind: RejectionKind::Conflict,
        message: message.into(),
    }
}

/// A new incident as a person or detector reports it. Text fields are checked by [`declare`].
#[derive(Clone, Debug, Default)]
pub struct Declaration {
    pub title: String,
    pub summary: String,
    pub severity: String,
    pub personal_data: bool,
    pub detected_at: Option<Timestamp>,
    pub aware_at: Option<Timestamp>,
    /// Whether customers are affected; by default what `affected_customers` says (0: no,
    /// more: yes), else unknown.
    pub customers: Option<CustomerImpact>,
    pub affected_customers: Option<u64>,
    pub affected_data_subjects: Option<u64>,
}

/// A request to change an incident, as typed by a responder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Acknowledge,
    /// Set the owner and/or roles (`None` leaves the owner as is; an empty name clears).
    Assign {
        owner: Option<String>,
        roles: Vec<(String, String)>,
    },
    ChangeSeverity {
        to: String,
        reason: String,
    },
    StartStep {
        step: String,
    },
    CompleteStep {
        step: String,
    },
    CheckItem {
        step: String,
        item: u32,
    },
    UncheckItem {
        step: String,
        item: u32,
    },
    AddNote {
        text: String,
    },
    /// Edit the title and/or the summary.
    Edit {
        title: Option<String>,
        summary: Option<String>,
    },
    /// Say what is known of who is affected; what is not given stays as it is.
    AssessImpact {
        customers: Option<CustomerImpact>,
        affected_customers: Option<u64>,
        affected_data_subjects: Option<u64>,
    },
    /// Mark an obligation (or the customer notice) not required, with the reason.
    Waive {
        clock: String,
        reason: String,
    },
    MarkPersonalData {
        reason: Option<String>,
    },
    UnmarkPersonalData {
        reason: String,
    },
    RecordNotice {
        kind: String,
        note: Option<String>,
    },
    Resolve {
        summary: Option<String>,
    },
    /// Close a resolved incident; with an override reason, even while work is open.
    Close {
        override_reason: Option<String>,
    },
    Dismiss {
        reason: String,
    },
    Reopen {
        reason: String,
    },
    /// tocsin's own record of what it told: a clock's warning, an escalation call, the
    /// notifications delivered. Warnings and calls already recorded change nothing.
    Record {
        event: IncidentEvent,
    },
    /// A run of one of the plan's actions.
    Run(super::RunCommand),
    Notice(super::NoticeCommand),
}

const TITLE_MAX: usize = 200;
const TEXT_MAX: usize = 20_000;

fn text(field: &str, value: &str, max: usize) -> Result<String, Rejection> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(invalid(format!("{field} is empty")));
    }
    if trimmed.chars().count() > max {
        return Err(invalid(format!("{field} is longer than {max} characters")));
    }
    Ok(trimmed.to_owned())
}

fn optional_text(field: &str, value: Option<&String>) -> Result<Option<String>, Rejection> {
    value.map(|v| text(field, v, TEXT_MAX)).transpose()
}

/// A time as messages show it: to the second, in UTC.
fn shown(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn not_in_future(what: &str, at: Timestamp, now: Timestamp) -> Result<(), Rejection> {
    if at > now {
        return Err(invalid(format!(
            "{what} {} is in the future; only past times can be recorded",
            shown(at)
        )));
    }
    Ok(())
}

/// Checks a declaration against the plan and makes the event that starts the incident.
pub fn declare(plan: &Plan, d: &Declaration, at: Timestamp, now: Timestamp) -> Result<IncidentEvent, Rejection> {
    let title = text("the title", &d.title, TITLE_MAX)?;
    if title.contains('\n') {
        return Err(invalid("the title must be one line"));
    }
    let summary = if d.summary.trim().is_empty() {
        String::new()
    } else {
        text("the summary", &d.summary, TEXT_MAX)?
    };
    let severity = plan
        .find_severity(&d.severity)
        .map_err(|e| invalid(e.to_string()))?
        .id
        .clone();
    not_in_future("the declaration time", at, now)?;
    let aware_at = d.aware_at.unwrap_or(at);
    let detected_at = d.detected_at.unwrap_or(aware_at);
    not_in_future("the detection time", detected_at, now)?;
    not_in_future("the awareness time", aware_at, now)?;
    if detected_at > at {
        return Err(invalid(format!(
            "the detection time {} is after the declaration time {}",
            shown(detected_at),
            shown(at)
        )));
    }
    if aware_at > at {
        return Err(invalid(format!(
            "the awareness time {} is after the declaration time {}",
            shown(aware_at),
            shown(at)
        )));
    }
    Ok(IncidentEvent::Declared(Declared {
        title,
        summary,
        severity,
        detected_at,
        aware_at,
        personal_data: d.personal_data,
        customers: Some(d.customers.unwrap_or(CustomerImpact::from_count(d.affected_customers))),
        affected_customers: d.affected_customers,
        affected_data_subjects: d.affected_data_subjects,
        steps: plan
            .steps()
            .iter()
            .map(|s| StepOutline {
                id: s.id.clone(),
                name: s.name.clone(),
                checklist: s.checklist.clone(),
            })
            .collect(),
        plan_digest: plan.digest().to_owned(),
    }))
}

/// Decides what `command` does to `incident` at time `at` (`now` bounds backfilled times).
/// Returns the events to record, or why nothing may change.
pub fn decide(
    incident: &Incident,
    plan: &Plan,
    command: &Command,
    by: &Actor,
    at: Timestamp,
    now: Timestamp,
) -> Result<Vec<IncidentEvent>, Rejection> {
    let n = incident.number;
    not_in_future("the time", at, now)?;
    if at < incident.declared_at {
        return Err(invalid(format!(
            "the time {} is before {n} was declared ({})",
            shown(at),
            shown(incident.declared_at)
        )));
    }
    let editable = || match incident.status {
        Status::Closed => Err(conflict(format!("{n} is closed; reopen it first"))),
        Status::Dismissed => Err(conflict(format!("{n} is dismissed; reopen it first"))),
        _ => Ok(()),
    };
    let events = match command {
        Command::Acknowledge => {
            editable()?;
            if let Some(ack) = &incident.acknowledged {
                return Err(conflict(format!(
                    "{n} is already acknowledged (by {} at {})",
                    ack.by,
                    shown(ack.at)
                )));
            }
            acknowledged(incident, by)
        }
        Command::Assign { owner, roles } => {
            editable()?;
            if owner.is_none() && roles.is_empty() {
                return Err(invalid("name an owner or a role to assign"));
            }
            let mut events = Vec::new();
            if let Some(owner) = owner {
                let owner = person(owner)?;
                if owner == incident.owner {
                    return Err(conflict(format!(
                        "{n} is already owned by {}",
                        owner.as_deref().unwrap_or("nobody")
                    )));
                }
                events.push(IncidentEvent::OwnerAssigned {
                    owner,
                    before: incident.owner.clone(),
                });
            }
            for (role, who) in roles {
                let role = plan.find_role(role).map_err(|e| invalid(e.to_string()))?.id.clone();
                let who = person(who)?;
                let before = incident.roles.get(&role).cloned();
                if who == before {
                    return Err(conflict(format!(
                        "{role} of {n} is already {}",
                        who.as_deref().unwrap_or("unassigned")
                    )));
                }
                events.push(IncidentEvent::RoleAssigned {
                    role,
                    person: who,
                    before,
                });
            }
            events
        }
        Command::ChangeSeverity { to, reason } => {
            editable()?;
            let to = plan.find_severity(to).map_err(|e| invalid(e.to_string()))?.id.clone();
            let reason = text("the reason", reason, TEXT_MAX)?;
            if to == incident.severity {
                return Err(conflict(format!("{n} is already {to}")));
            }
            let mut changed = incident.clone();
            changed.severity = to.clone();
            let before = clocks(incident, plan);
            vec![IncidentEvent::SeverityChanged {
                from: incident.severity.clone(),
                to,
                reason,
                shifts: shifts(&before, &clocks(&changed, plan)),
                breached: breached_by(&before, at),
            }]
        }
        Command::StartStep { step } => {
            editable()?;
            let step = find_step(incident, step)?;
            match incident.step(&step).map(|s| s.state) {
                Some(StepState::InProgress) => {
                    return Err(conflict(format!("step {step} of {n} is already in progress")));
                }
                Some(StepState::Done) => {
                    return Err(conflict(format!("step {step} of {n} is already done")));
                }
                _ => vec![IncidentEvent::StepStarted { step }],
            }
        }
        Command::CompleteStep { step } => {
            editable()?;
            let id = find_step(incident, step)?;
            let progress = incident.step(&id).expect("find_step found it");
            if progress.state == StepState::Done {
                return Err(conflict(format!("step {id} of {n} is already done")));
            }
            vec![IncidentEvent::StepCompleted { step: id }]
        }
        Command::CheckItem { step, item } | Command::UncheckItem { step, item } => {
            editable()?;
            let check = matches!(command, Command::CheckItem { .. });
            let id = find_step(incident, step)?;
            let progress = incident.step(&id).expect("find_step found it");
            let entry = usize::try_from(*item)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| progress.checklist.get(i))
                .ok_or_else(|| {
                    invalid(format!(
                        "step {id} has no checklist item {item}; its items are 1 to {}",
                        progress.checklist.len()
                    ))
                })?;
            match (check, entry.done.is_some()) {
                (true, true) => {
                    return Err(conflict(format!("item {item} of step {id} is already checked")));
                }
                (false, false) => {
                    return Err(conflict(format!("item {item} of step {id} is not checked")));
                }
                (true, false) => vec![IncidentEvent::ChecklistItemChecked { step: id, item: *item }],
                (false, true) => vec![IncidentEvent::ChecklistItemUnchecked { step: id, item: *item }],
            }
        }
        Command::AddNote { text: note } => vec![IncidentEvent::NoteAdded {
            text: text("the note", note, TEXT_MAX)?,
        }],
        Command::MarkPersonalData { reason } => {
            editable()?;
            let reason = optional_text("the reason", reason.as_ref())?;
            if incident.personal_data {
                return Err(conflict(format!("{n} is already marked as involving personal data")));
            }
            vec![IncidentEvent::PersonalDataMarked { reason }]
        }
        Command::UnmarkPersonalData { reason } => {
            editable()?;
            let reason = text("the reason", reason, TEXT_MAX)?;
            if !incident.personal_data {
                return Err(conflict(format!("{n} is not marked as involving personal data")));
            }
            vec![IncidentEvent::PersonalDataUnmarked {
                reason,
                breached: breached_by(&clocks(incident, plan), at),
            }]
        }
        Command::RecordNotice { kind, note } => {
            if incident.status == Status::Dismissed {
                return Err(conflict(format!("{n} is dismissed; reopen it first")));
            }
            let kind = plan.find_notice_kind(kind).map_err(|e| invalid(e.to_string()))?;
            let note = optional_text("the note", note.as_ref())?;
            vec![IncidentEvent::NoticeRecorded {
                kind: kind.as_str().to_owned(),
                note,
            }]
        }
        Command::Resolve { summary } => {
            editable()?;
            let summary = optional_text("the summary", summary.as_ref())?;
            if incident.status == Status::Resolved {
                return Err(conflict(format!("{n} is already resolved")));
            }
            let mut events = match incident.acknowledged {
                None => acknowledged(incident, by),
                Some(_) => Vec::new(),
            };
            events.push(IncidentEvent::Resolved { summary });
            events
        }
        Command::Close { override_reason } => {
            editable()?;
            if incident.status != Status::Resolved {
                return Err(conflict(format!(
                    "{n} is {}; resolve it before closing",
                    incident.status
                )));
            }
            let override_reason = optional_text("the override reason", override_reason.as_ref())?;
            let open = open_at_close(incident, plan, at);
            if !open.is_empty() && override_reason.is_none() {
                return Err(conflict(format!(
                    "{n} cannot close while {}; finish them, or close with an override and its reason",
                    open.join(", ")
                )));
            }
            // What the plan undoes on close is asked for first, while the incident is open.
            let mut events = super::runs::undo_on_close(incident, plan);
            events.push(IncidentEvent::Closed {
                review_override: override_reason,
                open: if open.is_empty() { Vec::new() } else { open },
            });
            events
        }
        Command::Edit { title, summary } => {
            editable()?;
            if title.is_none() && summary.is_none() {
                return Err(invalid("give a new title or summary"));
            }
            let mut events = Vec::new();
            if let Some(title) = title {
                let title = text("the title", title, TITLE_MAX)?;
                if title.contains('\n') {
                    return Err(invalid("the title must be one line"));
                }
                if title != incident.title {
                    events.push(IncidentEvent::Retitled {
                        title,
                        before: incident.title.clone(),
                    });
                }
            }
            if let Some(summary) = summary {
                let summary = match summary.trim() {
                    "" => String::new(),
                    _ => text("the summary", summary, TEXT_MAX)?,
                };
                if summary != incident.summary {
                    events.push(IncidentEvent::SummaryEdited {
                        summary,
                        before: incident.summary.clone(),
                    });
                }
            }
            if events.is_empty() {
                return Err(conflict(format!("{n} already reads like that")));
            }
            events
        }
        Command::AssessImpact {
            customers,
            affected_customers,
            affected_data_subjects,
        } => {
            if incident.status == Status::Dismissed {
                return Err(conflict(format!("{n} is dismissed; reopen it first")));
            }
            if customers.is_none() && affected_customers.is_none() && affected_data_subjects.is_none() {
                return Err(invalid(
                    "say whether customers are affected, or give the affected customers or data subjects",
                ));
            }
            let before = incident.impact();
            let impact = Impact {
                // A count of customers answers the question, unless it is answered outright.
                customers: customers.unwrap_or(match affected_customers {
                    Some(count) => CustomerImpact::from_count(Some(*count)),
                    None => before.customers,
                }),
                affected_customers: affected_customers.or(before.affected_customers),
                affected_data_subjects: affected_data_subjects.or(before.affected_data_subjects),
            };
            if impact.customers == CustomerImpact::No && impact.affected_customers.is_some_and(|c| c > 0) {
                return Err(invalid(format!(
                    "{} customers cannot be affected when customers are not affected",
                    impact.affected_customers.unwrap_or_default()
                )));
            }
            if impact == before {
                return Err(conflict(format!("{n} already says that of who is affected")));
            }
            vec![IncidentEvent::ImpactAssessed {
                impact,
                before,
                breached: breached_by(&clocks(incident, plan), at),
            }]
        }
        Command::Waive { clock, reason } => {
            if incident.status == Status::Dismissed {
                return Err(conflict(format!("{n} is dismissed; reopen it first")));
            }
            let reason = text("the reason", reason, TEXT_MAX)?;
            let all = clocks(incident, plan);
            let waivable: Vec<&Clock> = all
                .iter()
                .filter(|c| matches!(c.kind, ClockKind::Obligation | ClockKind::CustomerNotice))
                .collect();
            let Some(found) = waivable.iter().find(|c| c.id == clock.trim()) else {
                let ids = waivable.iter().map(|c| c.id.as_str());
                return Err(invalid(
                    unknown("obligation of this incident", clock.trim(), ids).to_string(),
                ));
            };
            if let Some(met) = found.met_at {
                return Err(conflict(format!(
                    "{} of {n} was met at {}; a kept obligation cannot be waived",
                    found.id,
                    shown(met)
                )));
            }
            if incident.waived.contains_key(&found.id) {
                return Err(conflict(format!("{} of {n} is already marked not required", found.id)));
            }
            vec![IncidentEvent::ObligationWaived {
                clock: found.id.clone(),
                reason,
                breached: breached_by(&all, at),
            }]
        }
        Command::Record { event } => match event {
            IncidentEvent::ClockWarned { .. } | IncidentEvent::Escalated { .. } | IncidentEvent::Notified { .. } => {
                match event.told_key() {
                    Some(key) if incident.told.contains(&key) => Vec::new(),
                    _ => vec![event.clone()],
                }
            }
            other => {
                return Err(invalid(format!(
                    "{} is not something tocsin records of itself",
                    other.action()
                )));
            }
        },
        Command::Run(run) => super::runs::decide_run(incident, plan, run, by, at)?,
        Command::Notice(notice) => super::notices::decide_notice(incident, plan, notice, by, at)?,
        Command::Dismiss { reason } => {
            let reason = text("the reason", reason, TEXT_MAX)?;
            if !incident.status.is_active() {
                return Err(conflict(format!(
                    "{n} is {}; only a declared or acknowledged incident can be dismissed",
                    incident.status
                )));
            }
            vec![IncidentEvent::Dismissed { reason }]
        }
        Command::Reopen { reason } => {
            let reason = text("the reason", reason, TEXT_MAX)?;
            if incident.status.is_active() {
                return Err(conflict(format!(
                    "{n} is {}; only a resolved, closed or dismissed incident can be reopened",
                    incident.status
                )));
            }
            vec![IncidentEvent::Reopened {
                reason,
                breached: breached_by(&clocks(incident, plan), at),
            }]
        }
    };
    Ok(events)
}

/// The incident's move to version `version` of the plan at `at`, from the clocks it had
/// (`before`, computed under the plan it followed): which deadlines moved, and which
/// clocks had breached already, so that the new plan cannot hide them.
pub fn adopt_plan(incident: &Incident, before: &[Clock], plan: &Plan, version: u64, at: Timestamp) -> IncidentEvent {
    IncidentEvent::PlanAdopted {
        version,
        digest: plan.digest().to_owned(),
        shifts: shifts(before, &clocks(incident, plan)),
        breached: breached_by(before, at),
    }
}

/// The deadlines of clocks not yet kept that a change moved, gave or took away, from the
/// clocks `before` it to those `after`.
fn shifts(before: &[Clock], after: &[Clock]) -> Vec<ClockShift> {
    let due = |c: &Clock| c.applicable.then_some(c.due_at).flatten();
    let mut shifts: Vec<ClockShift> = after
        .iter()
        .filter(|c| c.met_at.is_none())
        .filter_map(|c| {
            let due_before = before.iter().find(|b| b.id == c.id).and_then(due);
            let due_after = due(c);
            (due_before != due_after).then(|| ClockShift {
                clock: c.id.clone(),
                due_before,
                due_after,
            })
        })
        .collect();
    shifts.extend(
        before
            .iter()
            .filter(|b| b.met_at.is_none() && due(b).is_some() && !after.iter().any(|c| c.id == b.id))
            .map(|b| ClockShift {
                clock: b.id.clone(),
                due_before: due(b),
                due_after: None,
            }),
    );
    shifts
}

/// What keeps an incident from closing at `at`: regulatory and customer clocks that still
/// run, steps not done, and roles the plan requires at its severity that nobody holds (on
/// the incident or by the plan's default people).
pub fn open_at_close(incident: &Incident, plan: &Plan, at: Timestamp) -> Vec<String> {
    let mut open: Vec<String> = clocks(incident, plan)
        .iter()
        .filter(|c| c.open && matches!(c.kind, ClockKind::CustomerNotice | ClockKind::Obligation))
        .map(|c| match c.due_at {
            Some(due) if due < at => format!("the clock {} is overdue", c.id),
            Some(due) => format!("the clock {} runs until {}", c.id, shown(due)),
            None => format!("the clock {} runs", c.id),
        })
        .collect();
    let steps: Vec<&str> = incident
        .steps
        .iter()
        .filter(|s| s.state != StepState::Done)
        .map(|s| s.id.as_str())
        .collect();
    match steps.as_slice() {
        [] => {}
        [one] => open.push(format!("step {one} is not done")),
        many => open.push(format!("steps {} are not done", many.join(", "))),
    }
    let empty: Vec<&str> = plan
        .roles()
        .iter()
        .filter(|r| r.required_for.contains(&incident.severity))
        .filter(|r| !incident.roles.contains_key(&r.id) && r.people.is_empty())
        .map(|r| r.id.as_str())
        .collect();
    match empty.as_slice() {
        [] => {}
        [one] => open.push(format!("the required role {one} is empty")),
        many => open.push(format!("the required roles {} are empty", many.join(", "))),
    }
    open
}

/// Acknowledging: the acknowledger becomes the owner of an incident that has none.
fn acknowledged(incident: &Incident, by: &Actor) -> Vec<IncidentEvent> {
    let mut events = vec![IncidentEvent::Acknowledged {}];
    if incident.owner.is_none() {
        events.push(IncidentEvent::OwnerAssigned {
            owner: Some(by.to_string()),
            before: None,
        });
    }
    events
}

/// Clocks breached at `at`: a change must not hide them.
fn breached_by(clocks: &[Clock], at: Timestamp) -> Vec<ClockBreach> {
    clocks
        .iter()
        .filter_map(|c| match c.state(at) {
            ClockState::Breached { at } => Some(ClockBreach {
                clock: c.id.clone(),
                at,
            }),
            _ => None,
        })
        .collect()
}

fn person(name: &str) -> Result<Option<String>, Rejection> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > 100 || trimmed.chars().any(char::is_control) {
        return Err(invalid(format!(
            "\"{name}\" is not a valid name: use 1 to 100 printable characters"
        )));
    }
    Ok(Some(trimmed.to_owned()))
}

fn find_step(incident: &Incident, text: &str) -> Result<StepId, Rejection> {
    let ids = || incident.steps.iter().map(|s| s.id.as_str());
    if let Some(step) = incident.steps.iter().find(|s| s.id.as_str() == text) {
        return Ok(step.id.clone());
    }
    // A step may also be named by its position, as people count them: 1, 2, ...
    if let Some(step) = text
        .parse::<usize>()
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| incident.steps.get(i))
    {
        return Ok(step.id.clone());
    }
    Err(invalid(unknown("step", text, ids()).to_string()))
}
