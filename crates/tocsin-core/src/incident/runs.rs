//! Runs of the plan's actions on an incident: requested, approved, started, finished (or
//! rejected, or expired), each step an event of the incident's timeline, so that a run
//! is as durable as the incident and replays with it. What a run may do next is decided
//! here; carrying it out is the server's.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::decide::{Rejection, conflict, invalid};
use super::event::IncidentEvent;
use super::{Actor, Incident, Stamp, StepState};
use crate::action::{ActionDef, Approver, Outcome, Undo};
use crate::id::ActionId;
use crate::plan::{Person, Plan};

/// The most runs one incident keeps.
pub const RUNS_MAX: usize = 1_000;
/// The longest a rejection's reason is.
const REASON_MAX: usize = 2_000;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for its approvals.
    AwaitingApproval,
    /// Approved (or needing none): it runs at `next_at`.
    Ready,
    /// tocsin has started it.
    Running,
    Succeeded,
    Failed,
    Rejected,
    /// Its approvals did not come in time.
    Expired,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::AwaitingApproval => "awaiting_approval",
            RunState::Ready => "ready",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Rejected => "rejected",
            RunState::Expired => "expired",
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Rejected | RunState::Expired
        )
    }
}

/// One run of an action on an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionRun {
    /// Counting from 1 within the incident.
    pub number: u32,
    pub action: ActionId,
    /// As checked: secret inputs are where the secret is kept, never the secret.
    pub inputs: BTreeMap<String, String>,
    pub requested: Stamp,
    /// Asked for by a detector rule rather than a person.
    pub automatic: bool,
    /// The run it undoes.
    pub undoes: Option<u32>,
    pub state: RunState,
    /// Approvals it needs.
    pub needs: u32,
    pub approvals: Vec<Stamp>,
    /// When the request expires unless approved.
    pub expires_at: Option<Timestamp>,
    pub attempts: u32,
    /// When it is to run (again).
    pub next_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub outcome: Option<Outcome>,
    pub finished_at: Option<Timestamp>,
    /// The run that undid it.
    pub undone_by: Option<u32>,
    pub rejected: Option<(Stamp, String)>,
}

impl ActionRun {
    /// `INC-0007/2`.
    pub fn label(&self, incident: &Incident) -> String {
        format!("{}/{}", incident.number, self.number)
    }
}

impl Incident {
    pub fn run(&self, number: u32) -> Option<&ActionRun> {
        self.runs.iter().find(|r| r.number == number)
    }

    /// When the action worker must next look at this incident's runs: a run ready to go,
    /// a request about to expire, or one running (which, found by a worker that did not
    /// start it, was cut short).
    pub fn runs_due(&self) -> Option<Timestamp> {
        self.runs
            .iter()
            .filter_map(|r| match r.state {
                RunState::Ready => Some(r.next_at.unwrap_or(r.requested.at)),
                RunState::AwaitingApproval => r.expires_at,
                RunState::Running => r.started_at,
                _ => None,
            })
            .min()
    }

    pub(super) fn apply_run(&mut self, event: &IncidentEvent, stamp: Stamp) -> Result<(), super::Unapplicable> {
        let missing = |run: u32| super::Unapplicable::NoRun(run);
        match event {
            IncidentEvent::ActionRequested {
                run,
                action_id: action,
                inputs,
                automatic,
                undoes,
                needs,
                expires_at,
            } => {
                self.runs.push(ActionRun {
                    number: *run,
                    action: action.clone(),
                    inputs: inputs.clone(),
                    requested: stamp,
                    automatic: *automatic,
                    undoes: *undoes,
                    state: if *needs == 0 {
                        RunState::Ready
                    } else {
                        RunState::AwaitingApproval
                    },
                    needs: *needs,
                    approvals: Vec::new(),
                    expires_at: *expires_at,
                    attempts: 0,
                    next_at: None,
                    started_at: None,
                    outcome: None,
                    finished_at: None,
                    undone_by: None,
                    rejected: None,
                });
            }
            IncidentEvent::ActionApproved { run } => {
                let r = self.runs.iter_mut().find(|r| r.number == *run).ok_or(missing(*run))?;
                r.approvals.push(stamp);
                if u32::try_from(r.approvals.len()).unwrap_or(u32::MAX) >= r.needs {
                    r.state = RunState::Ready;
                }
            }
            IncidentEvent::ActionRejected { run, reason } => {
                let r = self.runs.iter_mut().find(|r| r.number == *run).ok_or(missing(*run))?;
                r.state = RunState::Rejected;
                r.rejected = Some((stamp, reason.clone()));
            }
            IncidentEvent::ActionExpired { run } => {
                let r = self.runs.iter_mut().find(|r| r.number == *run).ok_or(missing(*run))?;
                r.state = RunState::Expired;
            }
            IncidentEvent::ActionStarted { run, attempt } => {
                let r = self.runs.iter_mut().find(|r| r.number == *run).ok_or(missing(*run))?;
                r.state = RunState::Running;
                r.attempts = *attempt;
                r.started_at = Some(stamp.at);
            }
            IncidentEvent::ActionFinished { run, outcome, retry_at } => {
                let undoes = {
                    let r = self.runs.iter_mut().find(|r| r.number == *run).ok_or(missing(*run))?;
                    r.outcome = Some(outcome.clone());
                    r.finished_at = Some(stamp.at);
                    r.state = match (outcome.ok, retry_at) {
                        (true, _) => RunState::Succeeded,
                        (false, Some(at)) => {
                            r.next_at = Some(*at);
                            RunState::Ready
                        }
                        (false, None) => RunState::Failed,
                    };
                    (outcome.ok).then_some(r.undoes).flatten()
                };
                if let Some(undone) = undoes
                    && let Some(original) = self.runs.iter_mut().find(|r| r.number == undone)
                {
                    original.undone_by = Some(*run);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What may be asked of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunCommand {
    /// Run `action` with `inputs`; `automatic` when a detector rule asks.
    Request {
        action: String,
        inputs: BTreeMap<String, String>,
        automatic: bool,
    },
    /// Undo a run that succeeded.
    Undo {
        run: u32,
    },
    Approve {
        run: u32,
    },
    Reject {
        run: u32,
        reason: String,
    },
    /// tocsin begins a ready run (or, for an idempotent action, one that was cut short).
    Start {
        run: u32,
    },
    /// tocsin records what a run came to.
    Finish {
        run: u32,
        outcome: Outcome,
    },
    /// tocsin lets a request whose approvals did not come expire.
    Expire {
        run: u32,
    },
    /// tocsin records that a run of an action that is not idempotent was cut short: it
    /// is not run again.
    Interrupted {
        run: u32,
    },
    /// tocsin gives up a run that has not ended and cannot go on (its action left the
    /// plan), saying why.
    Abandon {
        run: u32,
        why: String,
    },
}

fn action_of<'p>(plan: &'p Plan, id: &str) -> Result<&'p ActionDef, Rejection> {
    plan.action(id).ok_or_else(|| {
        let ids: Vec<&str> = plan.actions().iter().map(|a| a.id.as_str()).collect();
        let hint = match crate::id::closest(id, ids.iter().copied()) {
            Some(guess) => format!("did you mean \"{guess}\"?"),
            None if ids.is_empty() => "the plan defines none; add [[action]] tables".to_owned(),
            None => format!("the plan's actions are {}", ids.join(", ")),
        };
        invalid(format!("the plan has no action \"{id}\"; {hint}"))
    })
}

fn run_of(incident: &Incident, run: u32) -> Result<&ActionRun, Rejection> {
    incident.run(run).ok_or_else(|| {
        invalid(format!(
            "{} has no run {run}; its runs are 1 to {}",
            incident.number,
            incident.runs.len()
        ))
    })
}

/// How long after failed attempt `attempt` an idempotent action is tried again: its
/// wait, doubling, at most 5 minutes.
fn backoff(wait_seconds: u64, attempt: u32) -> SignedDuration {
    let base = i64::try_from(wait_seconds).unwrap_or(300);
    let seconds = base.saturating_mul(1_i64 << attempt.saturating_sub(1).min(8)).min(300);
    SignedDuration::from_secs(seconds)
}

/// The plan's people who may approve `run` now, to be asked by name: those the action's
/// approval allows, less whoever asked where two people are wanted, and less those who
/// approved already. Nobody while the run does not wait for approval.
pub fn approvers<'p>(incident: &Incident, plan: &'p Plan, run: &ActionRun) -> Vec<&'p Person> {
    let Some(def) = plan.action(run.action.as_str()) else {
        return Vec::new();
    };
    if run.state != RunState::AwaitingApproval {
        return Vec::new();
    }
    let two_people = def.approval.as_ref().is_some_and(|a| a.two_people);
    plan.people()
        .iter()
        .filter(|person| {
            let Ok(by) = Actor::parse(&person.id) else { return false };
            may_approve(incident, plan, def, &by)
                && !(two_people && run.requested.by == by)
                && !run.approvals.iter().any(|s| s.by == by)
        })
        .collect()
}

/// Whether `by` may approve a run of `action` on `incident`.
fn may_approve(incident: &Incident, plan: &Plan, action: &ActionDef, by: &Actor) -> bool {
    match &action.approval {
        Some(approval) if !approval.by.is_empty() => allowed(&approval.by, incident, plan, by),
        _ => true,
    }
}

/// Whether `by` is one of `approvers`: named, or holding a named role on the incident (or,
/// while nobody holds it there, one of the plan's people for it).
pub(super) fn allowed(approvers: &[Approver], incident: &Incident, plan: &Plan, by: &Actor) -> bool {
    approvers.iter().any(|who| match who {
        Approver::Person(person) => person == by.as_str(),
        Approver::Role(role) => match incident.roles.get(role) {
            Some(holder) => holder == by.as_str(),
            None => plan
                .roles()
                .iter()
                .find(|r| &r.id == role)
                .is_some_and(|r| r.people.iter().any(|p| p == by.as_str())),
        },
    })
}

/// The events a run command makes, or why it is refused.
pub(super) fn decide_run(
    incident: &Incident,
    plan: &Plan,
    command: &RunCommand,
    by: &Actor,
    at: Timestamp,
) -> Result<Vec<IncidentEvent>, Rejection> {
    let n = incident.number;
    let next = u32::try_from(incident.runs.len() + 1).unwrap_or(u32::MAX);
    let request = |action: &ActionDef,
                   inputs: BTreeMap<String, String>,
                   automatic: bool,
                   undoes: Option<u32>|
     -> Result<Vec<IncidentEvent>, Rejection> {
        if incident.runs.len() >= RUNS_MAX {
            return Err(conflict(format!("{n} has {RUNS_MAX} runs, the most an incident keeps")));
        }
        let needs = match &action.approval {
            Some(a) if !(automatic && a.except_rules) => a.needs,
            _ => 0,
        };
        let expires_at = action
            .approval
            .as_ref()
            .filter(|_| needs > 0)
            .map(|a| at + SignedDuration::from_secs(i64::try_from(a.valid_for_seconds).unwrap_or(i64::MAX / 2)));
        Ok(vec![IncidentEvent::ActionRequested {
            run: next,
            action_id: action.id.clone(),
            inputs,
            automatic,
            undoes,
            needs,
            expires_at,
        }])
    };
    match command {
        RunCommand::Request {
            action,
            inputs,
            automatic,
        } => {
            if matches!(incident.status, super::Status::Closed | super::Status::Dismissed) {
                return Err(conflict(format!("{n} is {}; reopen it first", incident.status)));
            }
            let def = action_of(plan, action)?;
            if let Some((step, _)) = &def.step
                && !automatic
                && incident.step(step).is_some_and(|s| s.state == StepState::Pending)
            {
                return Err(conflict(format!(
                    "action {} belongs to step {step}, which has not started on {n}; start it first",
                    def.id
                )));
            }
            let inputs = def.check_inputs(inputs).map_err(|e| invalid(e.to_string()))?;
            request(def, inputs, *automatic, None)
        }
        RunCommand::Undo { run } => {
            let original = run_of(incident, *run)?;
            let def = action_of(plan, original.action.as_str())?;
            if original.state != RunState::Succeeded {
                return Err(conflict(format!(
                    "run {run} of {n} is {}; only a run that succeeded can be undone",
                    original.state.as_str()
                )));
            }
            if let Some(by_run) = original.undone_by {
                return Err(conflict(format!("run {run} of {n} was undone by run {by_run}")));
            }
            if incident
                .runs
                .iter()
                .any(|r| r.undoes == Some(*run) && !r.state.is_over())
            {
                return Err(conflict(format!("run {run} of {n} is being undone already")));
            }
            match &def.undo {
                None => Err(conflict(format!(
                    "action {} cannot be undone: the plan gives it no undo",
                    def.id
                ))),
                Some(Undo::Builtin) => request(def, original.inputs.clone(), false, Some(*run)),
                Some(Undo::Action(undo)) => {
                    let undo_def = action_of(plan, undo.as_str())?;
                    // The undo takes what it needs from the run's inputs and captures, by name.
                    let mut given = original.inputs.clone();
                    if let Some(outcome) = &original.outcome {
                        given.extend(outcome.captured.clone());
                    }
                    given.retain(|name, _| undo_def.inputs.iter().any(|i| &i.name == name));
                    let inputs = undo_def.check_inputs(&given).map_err(|e| invalid(e.to_string()))?;
                    request(undo_def, inputs, false, Some(*run))
                }
            }
        }
        RunCommand::Approve { run } => {
            let r = run_of(incident, *run)?;
            let def = action_of(plan, r.action.as_str())?;
            if r.state != RunState::AwaitingApproval {
                return Err(conflict(format!(
                    "run {run} of {n} is {}, not awaiting approval",
                    r.state.as_str()
                )));
            }
            if r.expires_at.is_some_and(|end| at >= end) {
                return Err(conflict(format!("the request for run {run} of {n} has expired")));
            }
            let two_people = def.approval.as_ref().is_some_and(|a| a.two_people);
            if two_people && r.requested.by == *by {
                return Err(conflict(format!(
                    "{by} asked for run {run} of {n}; the plan wants someone else to approve it"
                )));
            }
            if r.approvals.iter().any(|s| s.by == *by) {
                return Err(conflict(format!("{by} has approved run {run} of {n} already")));
            }
            if !may_approve(incident, plan, def, by) {
                let who: Vec<String> = def
                    .approval
                    .iter()
                    .flat_map(|a| a.by.iter().map(ToString::to_string))
                    .collect();
                return Err(conflict(format!(
                    "{by} may not approve action {}; the plan lets {} approve it",
                    def.id,
                    who.join(" or ")
                )));
            }
            Ok(vec![IncidentEvent::ActionApproved { run: *run }])
        }
        RunCommand::Reject { run, reason } => {
            let r = run_of(incident, *run)?;
            if !matches!(r.state, RunState::AwaitingApproval | RunState::Ready) || r.attempts > 0 {
                return Err(conflict(format!(
                    "run {run} of {n} is {}; only a run that has not started can be rejected",
                    r.state.as_str()
                )));
            }
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > REASON_MAX {
                return Err(invalid(format!("give the reason, in 1 to {REASON_MAX} characters")));
            }
            Ok(vec![IncidentEvent::ActionRejected {
                run: *run,
                reason: reason.to_owned(),
            }])
        }
        RunCommand::Start { run } => {
            let r = run_of(incident, *run)?;
            let def = action_of(plan, r.action.as_str())?;
            let again = r.state == RunState::Running && def.idempotent;
            if r.state != RunState::Ready && !again {
                return Err(conflict(format!("run {run} of {n} is {}, not ready", r.state.as_str())));
            }
            Ok(vec![IncidentEvent::ActionStarted {
                run: *run,
                attempt: r.attempts + 1,
            }])
        }
        RunCommand::Finish { run, outcome } => {
            let r = run_of(incident, *run)?;
            let def = action_of(plan, r.action.as_str())?;
            if r.state != RunState::Running {
                return Err(conflict(format!(
                    "run {run} of {n} is {}, not running",
                    r.state.as_str()
                )));
            }
            let retry_at = (!outcome.ok && def.idempotent && r.attempts <= def.retries)
                .then(|| at + backoff(def.retry_wait_seconds, r.attempts));
            let mut events = vec![IncidentEvent::ActionFinished {
                run: *run,
                outcome: outcome.clone(),
                retry_at,
            }];
            if outcome.ok
                && r.undoes.is_none()
                && let Some((step, Some(item))) = &def.step
                && let Some(progress) = incident.step(step)
                && usize::try_from(*item)
                    .ok()
                    .and_then(|i| progress.checklist.get(i.checked_sub(1)?))
                    .is_some_and(|entry| entry.done.is_none())
            {
                events.push(IncidentEvent::ChecklistItemChecked {
                    step: step.clone(),
                    item: *item,
                });
            }
            Ok(events)
        }
        RunCommand::Interrupted { run } => {
            let r = run_of(incident, *run)?;
            if r.state != RunState::Running {
                return Err(conflict(format!(
                    "run {run} of {n} is {}, not running",
                    r.state.as_str()
                )));
            }
            Ok(vec![IncidentEvent::ActionFinished {
                run: *run,
                outcome: Outcome {
                    ok: false,
                    summary: "tocsin stopped while this ran, and the action is not idempotent, so it is not run \
                              again: check by hand whether it took effect"
                        .into(),
                    ..Outcome::default()
                },
                retry_at: None,
            }])
        }
        RunCommand::Abandon { run, why } => {
            let r = run_of(incident, *run)?;
            if r.state.is_over() {
                return Err(conflict(format!("run {run} of {n} is {} already", r.state.as_str())));
            }
            Ok(vec![IncidentEvent::ActionFinished {
                run: *run,
                outcome: Outcome {
                    ok: false,
                    summary: why.clone(),
                    ..Outcome::default()
                },
                retry_at: None,
            }])
        }
        RunCommand::Expire { run } => {
            let r = run_of(incident, *run)?;
            if r.state != RunState::AwaitingApproval || r.expires_at.is_none_or(|end| at < end) {
                return Err(conflict(format!("run {run} of {n} is not due to expire")));
            }
            Ok(vec![IncidentEvent::ActionExpired { run: *run }])
        }
    }
}

/// The undo requests that closing `incident` makes: one for each run that succeeded whose
/// action is undone on close, unless it was undone or is being undone.
pub(super) fn undo_on_close(incident: &Incident, plan: &Plan) -> Vec<IncidentEvent> {
    let mut events = Vec::new();
    let mut next = incident.runs.len();
    for r in &incident.runs {
        let Some(def) = plan.action(r.action.as_str()) else {
            continue;
        };
        let pending = incident
            .runs
            .iter()
            .any(|u| u.undoes == Some(r.number) && !u.state.is_over());
        if r.state != RunState::Succeeded
            || r.undone_by.is_some()
            || pending
            || !def.undo_on_close
            || r.undoes.is_some()
        {
            continue;
        }
        let (undo_def, mut given) = match &def.undo {
            Some(Undo::Builtin) => (def, r.inputs.clone()),
            Some(Undo::Action(id)) => {
                let Some(undo_def) = plan.action(id.as_str()) else {
                    continue;
                };
                let mut given = r.inputs.clone();
                if let Some(outcome) = &r.outcome {
                    given.extend(outcome.captured.clone());
                }
                (undo_def, given)
            }
            None => continue,
        };
        given.retain(|name, _| undo_def.inputs.iter().any(|i| &i.name == name));
        let Ok(inputs) = undo_def.check_inputs(&given) else {
            continue;
        };
        next += 1;
        events.push(IncidentEvent::ActionRequested {
            run: u32::try_from(next).unwrap_or(u32::MAX),
            action_id: undo_def.id.clone(),
            inputs,
            automatic: true,
            undoes: Some(r.number),
            needs: 0,
            expires_at: None,
        });
    }
    events
}
