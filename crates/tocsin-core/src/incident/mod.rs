//! Incidents: their identity, their state, and how their history of events builds that state.

mod decide;
mod event;
mod notices;
mod runs;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::id::{RoleId, SeverityId, StepId};

pub use decide::{Command, Declaration, Rejection, RejectionKind, adopt_plan, decide, declare, open_at_close};
pub use event::{ClockBreach, ClockShift, Declared, Delivery, Impact, IncidentEvent, Recorded, StepOutline};
pub use notices::{IncidentNotice, NoticeCommand, Sent, required};
pub use runs::{ActionRun, RUNS_MAX, RunCommand, RunState, approvers};

/// The human id of an incident, shown as `INC-0042`. Numbers are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentNumber(u64);

impl IncidentNumber {
    pub fn new(number: u64) -> Option<Self> {
        (number > 0).then_some(IncidentNumber(number))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for IncidentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INC-{:04}", self.0)
    }
}

impl FromStr for IncidentNumber {
    type Err = String;

    /// Accepts `INC-0042`, `inc-42` and `42`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text
            .get(..4)
            .filter(|prefix| prefix.eq_ignore_ascii_case("INC-"))
            .map_or(text, |_| &text[4..]);
        digits
            .parse::<u64>()
            .ok()
            .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(IncidentNumber::new)
            .ok_or_else(|| format!("\"{text}\" is not an incident id; write it like INC-0042"))
    }
}

/// Who did something: a person's name or a system's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Actor(String);

/// A text that names nobody.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a valid name: use 1 to 64 printable characters")]
pub struct BadName(pub String);

impl Actor {
    pub fn parse(text: &str) -> Result<Self, BadName> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 64 || trimmed.chars().any(char::is_control) {
            return Err(BadName(text.to_owned()));
        }
        Ok(Actor(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Actor {
    type Error = BadName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Actor::parse(&value)
    }
}

impl From<Actor> for String {
    fn from(actor: Actor) -> String {
        actor.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Declared,
    Acknowledged,
    Resolved,
    Closed,
    Dismissed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Declared,
        Status::Acknowledged,
        Status::Resolved,
        Status::Closed,
        Status::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Declared => "declared",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Dismissed => "dismissed",
        }
    }

    /// Still being responded to: declared or acknowledged.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Declared | Status::Acknowledged)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            format!("unknown status \"{text}\"; choose one of declared, acknowledged, resolved, closed, dismissed")
        })
    }
}

/// Whether customers are affected, as the responders know it now. The plan says which
/// answers start the customer-notice clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerImpact {
    Yes,
    No,
    Unknown,
}

impl CustomerImpact {
    pub const ALL: [CustomerImpact; 3] = [CustomerImpact::Yes, CustomerImpact::No, CustomerImpact::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            CustomerImpact::Yes => "yes",
            CustomerImpact::No => "no",
            CustomerImpact::Unknown => "unknown",
        }
    }

    /// What a count of affected customers says, when nobody answered outright.
    pub fn from_count(count: Option<u64>) -> Self {
        match count {
            Some(0) => CustomerImpact::No,
            Some(_) => CustomerImpact::Yes,
            None => CustomerImpact::Unknown,
        }
    }
}

impl fmt::Display for CustomerImpact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CustomerImpact {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        CustomerImpact::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("\"{text}\" is not an answer to whether customers are affected; use yes, no or unknown")
            })
    }
}

/// An obligation marked not required for an incident: why, by whom, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub reason: String,
    pub at: Timestamp,
    pub by: Actor,
}

/// Who did something and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stamp {
    pub at: Timestamp,
    pub by: Actor,
}

/// A promise kept: when, by whom, and under which severity (whose deadlines then applied).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub at: Timestamp,
    pub by: Actor,
    pub severity: SeverityId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    InProgress,
    Done,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::InProgress => "in progress",
            StepState::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChecklistItem {
    pub text: String,
    pub done: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepProgress {
    pub id: StepId,
    pub name: String,
    pub state: StepState,
    pub started: Option<Stamp>,
    pub completed: Option<Stamp>,
    pub checklist: Vec<ChecklistItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub kind: String,
    pub note: Option<String>,
    pub at: Timestamp,
    pub by: Actor,
    pub severity: SeverityId,
}

/// An incident as its history made it. Only [`Incident::from_history`] builds one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Incident {
    pub number: IncidentNumber,
    pub title: String,
    pub summary: String,
    pub severity: SeverityId,
    pub status: Status,
    pub reporter: Actor,
    pub detected_at: Timestamp,
    pub aware_at: Timestamp,
    pub declared_at: Timestamp,
    pub acknowledged: Option<Kept>,
    pub owner: Option<String>,
    pub roles: BTreeMap<RoleId, String>,
    pub personal_data: bool,
    /// When the organization first knew personal data was involved.
    pub personal_data_aware_at: Option<Timestamp>,
    /// Whether customers are affected.
    pub customers: CustomerImpact,
    pub affected_customers: Option<u64>,
    pub affected_data_subjects: Option<u64>,
    /// Obligations marked not required, by clock id.
    pub waived: BTreeMap<String, Waiver>,
    pub steps: Vec<StepProgress>,
    pub notices: Vec<Notice>,
    pub resolved_at: Option<Timestamp>,
    /// The latest resolution, kept when the incident is reopened (the review clock's start).
    pub last_resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// When the latest resolution was undone by reopening; it ends that resolution's review clock.
    pub reopened_at: Option<Timestamp>,
    pub dismissed_at: Option<Timestamp>,
    pub severity_history: Vec<(Timestamp, SeverityId)>,
    /// Clocks that breached before a change could hide it, by clock id.
    pub breaches: BTreeMap<String, Timestamp>,
    /// SHA-256 of the plan its clocks follow: the one it was declared under, or the
    /// version it adopted last.
    pub plan_digest: String,
    /// The warnings and escalation calls already on the timeline
    /// ([`IncidentEvent::told_key`]).
    pub told: std::collections::BTreeSet<String>,
    /// The runs of the plan's actions, in the order asked for.
    pub runs: Vec<ActionRun>,
    /// The notices written for it, in the order drafted (`notices` are those told).
    pub written_notices: Vec<IncidentNotice>,
    /// How many events built this state.
    pub version: u64,
    pub updated_at: Timestamp,
}

/// A history that does not describe an incident.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the history of {number} is inconsistent: {problem}")]
pub struct HistoryError {
    pub number: IncidentNumber,
    pub problem: String,
}

/// Why an event cannot follow an incident's history: only a history that [`decide`] did
/// not produce has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unapplicable {
    #[error("it is declared twice")]
    DeclaredTwice,
    #[error("unknown step \"{0}\"")]
    UnknownStep(String),
    #[error("there is no run {0}")]
    NoRun(u32),
    #[error("there is no notice {0}")]
    NoNotice(u32),
    #[error("step \"{step}\" has no checklist item {item}")]
    NoChecklistItem { step: String, item: u32 },
}

impl Incident {
    /// Builds the incident by applying its events in order.
    pub fn from_history(number: IncidentNumber, history: &[Recorded]) -> Result<Incident, HistoryError> {
        let fail = |problem: String| HistoryError { number, problem };
        let (first, rest) = history
            .split_first()
            .ok_or_else(|| fail("it has no events".to_owned()))?;
        let IncidentEvent::Declared(declared) = &first.event else {
            return Err(fail(format!(
                "it starts with {} instead of declared",
                first.event.action()
            )));
        };
        let mut incident = Incident::declared(number, first, declared);
        for recorded in rest {
            incident.apply(recorded).map_err(|e| fail(e.to_string()))?;
        }
        Ok(incident)
    }

    fn declared(number: IncidentNumber, recorded: &Recorded, d: &Declared) -> Incident {
        Incident {
            number,
            title: d.title.clone(),
            summary: d.summary.clone(),
            severity: d.severity.clone(),
            status: Status::Declared,
            reporter: recorded.actor.clone(),
            detected_at: d.detected_at,
            aware_at: d.aware_at,
            declared_at: recorded.at,
            acknowledged: None,
            owner: None,
            roles: BTreeMap::new(),
            personal_data: d.personal_data,
            personal_data_aware_at: d.personal_data.then_some(d.aware_at),
            customers: d.customers.unwrap_or(CustomerImpact::from_count(d.affected_customers)),
            affected_customers: d.affected_customers,
            affected_data_subjects: d.affected_data_subjects,
            waived: BTreeMap::new(),
            steps: d
                .steps
                .iter()
                .map(|s| StepProgress {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    state: StepState::Pending,
                    started: None,
                    completed: None,
                    checklist: s
                        .checklist
                        .iter()
                        .map(|text| ChecklistItem {
                            text: text.clone(),
                            done: None,
                        })
                        .collect(),
                })
                .collect(),
            notices: Vec::new(),
            resolved_at: None,
            last_resolved_at: None,
            closed_at: None,
            reopened_at: None,
            dismissed_at: None,
            severity_history: vec![(recorded.at, d.severity.clone())],
            breaches: BTreeMap::new(),
            plan_digest: d.plan_digest.clone(),
            told: Default::default(),
            runs: Vec::new(),
            written_notices: Vec::new(),
            version: 1,
            updated_at: recorded.at,
        }
    }

    pub fn step(&self, id: &StepId) -> Option<&StepProgress> {
        self.steps.iter().find(|s| &s.id == id)
    }

    fn step_mut(&mut self, id: &StepId) -> Result<&mut StepProgress, Unapplicable> {
        self.steps
            .iter_mut()
            .find(|s| &s.id == id)
            .ok_or_else(|| Unapplicable::UnknownStep(id.to_string()))
    }

    fn stamp(recorded: &Recorded) -> Stamp {
        Stamp {
            at: recorded.at,
            by: recorded.actor.clone(),
        }
    }

    /// Applies one event. Events were checked when they were decided; this only fails on a
    /// history that was not produced by [`decide`].
    pub fn apply(&mut self, recorded: &Recorded) -> Result<(), Unapplicable> {
        let at = recorded.at;
        let kept = Kept {
            at,
            by: recorded.actor.clone(),
            severity: self.severity.clone(),
        };
        match &recorded.event {
            IncidentEvent::Declared(_) => return Err(Unapplicable::DeclaredTwice),
            IncidentEvent::Acknowledged {} => {
                self.acknowledged = Some(kept);
                self.status = Status::Acknowledged;
            }
            IncidentEvent::OwnerAssigned { owner, .. } => self.owner.clone_from(owner),
            IncidentEvent::RoleAssigned { role, person, .. } => match person {
                Some(person) => {
                    self.roles.insert(role.clone(), person.clone());
                }
                None => {
                    self.roles.remove(role);
                }
            },
            IncidentEvent::SeverityChanged { to, breached, .. } => {
                self.severity = to.clone();
                self.severity_history.push((at, to.clone()));
                self.remember(breached);
            }
            IncidentEvent::StepStarted { step } => {
                let stamp = Self::stamp(recorded);
                let step = self.step_mut(step)?;
                step.state = StepState::InProgress;
                step.started = Some(stamp);
            }
            IncidentEvent::StepCompleted { step } => {
                let stamp = Self::stamp(recorded);
                let step = self.step_mut(step)?;
                step.state = StepState::Done;
                step.started.get_or_insert_with(|| stamp.clone());
                step.completed = Some(stamp);
            }
            IncidentEvent::ChecklistItemChecked { step, item }
            | IncidentEvent::ChecklistItemUnchecked { step, item } => {
                let done =
                    matches!(recorded.event, IncidentEvent::ChecklistItemChecked { .. }).then(|| Self::stamp(recorded));
                let step = self.step_mut(step)?;
                let index = usize::try_from(*item).ok().and_then(|i| i.checked_sub(1));
                let entry =
                    index
                        .and_then(|i| step.checklist.get_mut(i))
                        .ok_or_else(|| Unapplicable::NoChecklistItem {
                            step: step.id.to_string(),
                            item: *item,
                        })?;
                entry.done = done;
            }
            IncidentEvent::NoteAdded { .. } => {}
            IncidentEvent::Retitled { title, .. } => self.title.clone_from(title),
            IncidentEvent::SummaryEdited { summary, .. } => self.summary.clone_from(summary),
            IncidentEvent::ImpactAssessed { impact, breached, .. } => {
                self.customers = impact.customers;
                self.affected_customers = impact.affected_customers;
                self.affected_data_subjects = impact.affected_data_subjects;
                self.remember(breached);
            }
            IncidentEvent::ObligationWaived {
                clock,
                reason,
                breached,
            } => {
                self.remember(breached);
                self.waived.insert(
                    clock.clone(),
                    Waiver {
                        reason: reason.clone(),
                        at,
                        by: recorded.actor.clone(),
                    },
                );
            }
            IncidentEvent::PersonalDataMarked { .. } => {
                self.personal_data = true;
                self.personal_data_aware_at.get_or_insert(at);
            }
            IncidentEvent::PersonalDataUnmarked { breached, .. } => {
                self.personal_data = false;
                self.remember(breached);
            }
            IncidentEvent::NoticeRecorded { kind, note } => self.notices.push(Notice {
                kind: kind.clone(),
                note: note.clone(),
                at,
                by: recorded.actor.clone(),
                severity: self.severity.clone(),
            }),
            IncidentEvent::Resolved { .. } => {
                self.status = Status::Resolved;
                self.resolved_at = Some(at);
                self.last_resolved_at = Some(at);
            }
            IncidentEvent::Closed { .. } => {
                self.status = Status::Closed;
                self.closed_at = Some(at);
            }
            IncidentEvent::Dismissed { .. } => {
                self.status = Status::Dismissed;
                self.dismissed_at = Some(at);
            }
            IncidentEvent::Reopened { breached, .. } => {
                self.remember(breached);
                if self.resolved_at.is_some() {
                    self.reopened_at = Some(at);
                }
                self.status = if self.acknowledged.is_some() {
                    Status::Acknowledged
                } else {
                    Status::Declared
                };
                self.resolved_at = None;
                self.closed_at = None;
                self.dismissed_at = None;
            }
            IncidentEvent::ClockWarned { .. } | IncidentEvent::Escalated { .. } => {
                self.told.extend(recorded.event.told_key());
            }
            IncidentEvent::Notified { .. } => {}
            IncidentEvent::ActionRequested { .. }
            | IncidentEvent::ActionApproved { .. }
            | IncidentEvent::ActionRejected { .. }
            | IncidentEvent::ActionExpired { .. }
            | IncidentEvent::ActionStarted { .. }
            | IncidentEvent::ActionFinished { .. } => self.apply_run(&recorded.event, Self::stamp(recorded))?,
            IncidentEvent::NoticeDrafted { .. }
            | IncidentEvent::NoticeRevised { .. }
            | IncidentEvent::NoticeApproved { .. }
            | IncidentEvent::NoticeSent { .. } => self.apply_notice(&recorded.event, Self::stamp(recorded))?,
            IncidentEvent::PlanAdopted { digest, breached, .. } => {
                self.remember(breached);
                self.plan_digest.clone_from(digest);
            }
        }
        self.version += 1;
        self.updated_at = self.updated_at.max(at);
        Ok(())
    }

    fn remember(&mut self, breached: &[ClockBreach]) {
        for breach in breached {
            self.breaches.entry(breach.clock.clone()).or_insert(breach.at);
        }
    }

    /// What is known of the incident's impact now.
    pub fn impact(&self) -> Impact {
        Impact {
            customers: self.customers,
            affected_customers: self.affected_customers,
            affected_data_subjects: self.affected_data_subjects,
        }
    }

    /// The notices of one kind, oldest first.
    pub fn notices_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Notice> + 'a {
        self.notices.iter().filter(move |n| n.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_read_and_print_as_inc_numbers() {
        let n: IncidentNumber = "INC-0042".parse().unwrap();
        assert_eq!(n.get(), 42);
        assert_eq!("inc-42".parse::<IncidentNumber>(), Ok(n));
        assert_eq!("42".parse::<IncidentNumber>(), Ok(n));
        assert_eq!(n.to_string(), "INC-0042");
        assert_eq!(IncidentNumber::new(123_456).unwrap().to_string(), "INC-123456");
        for bad in ["INC-", "INC-0", "INC-+4", "INC-4x", "X-4", "", "0"] {
            assert!(bad.parse::<IncidentNumber>().is_err(), "{bad:?}");
        }
    }
}
