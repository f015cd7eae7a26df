//! What can happen to an incident: the events of its timeline, as they are hashed and stored.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::action::Outcome;
use crate::id::{ActionId, RoleId, SeverityId, StepId};

use super::{Actor, CustomerImpact};

/// One change to an incident. Serialized with an `action` tag; this form is durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum IncidentEvent {
    Declared(Declared),
    Acknowledged {},
    OwnerAssigned {
        owner: Option<String>,
        before: Option<String>,
    },
    RoleAssigned {
        role: RoleId,
        person: Option<String>,
        before: Option<String>,
    },
    SeverityChanged {
        from: SeverityId,
        to: SeverityId,
        reason: String,
        /// Running clocks whose due time moved.
        shifts: Vec<ClockShift>,
        /// Clocks already breached when the change happened; they stay breached.
        breached: Vec<ClockBreach>,
    },
    StepStarted {
        step: StepId,
    },
    StepCompleted {
        step: StepId,
    },
    ChecklistItemChecked {
        step: StepId,
        /// 1-based position in the step's checklist.
        item: u32,
    },
    ChecklistItemUnchecked {
        step: StepId,
        item: u32,
    },
    NoteAdded {
        text: String,
    },
    Retitled {
        title: String,
        before: String,
    },
    SummaryEdited {
        summary: String,
        before: String,
    },
    /// What is known of who is affected changed.
    ImpactAssessed {
        impact: Impact,
        before: Impact,
        /// Clocks already breached when the answer changed; they stay breached.
        breached: Vec<ClockBreach>,
    },
    /// An obligation (or the customer notice) is not required for this incident.
    ObligationWaived {
        clock: String,
        reason: String,
        /// Clocks already breached; a waiver does not hide them.
        breached: Vec<ClockBreach>,
    },
    PersonalDataMarked {
        reason: Option<String>,
    },
    PersonalDataUnmarked {
        reason: String,
        breached: Vec<ClockBreach>,
    },
    NoticeRecorded {
        kind: String,
        note: Option<String>,
    },
    Resolved {
        summary: Option<String>,
    },
    Closed {
        /// Why it closed with work still open (the stored name predates the other guards).
        review_override: Option<String>,
        /// What was still open when an override closed it: running clocks, pending steps,
        /// empty required roles.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        open: Vec<String>,
    },
    Dismissed {
        reason: String,
    },
    Reopened {
        reason: String,
        breached: Vec<ClockBreach>,
    },
    /// A clock came near its deadline, passed it, or reminded that it waits.
    ClockWarned {
        clock: String,
        /// How far it went: `50%`, `80%`, `breached`, `reminder 2`.
        point: String,
        due: Option<Timestamp>,
    },
    /// The plan's escalation called people while the incident waited to be acknowledged.
    Escalated {
        /// Counting from 1.
        level: u32,
        /// 0 the first call of the level, then its repeats.
        round: u64,
        /// Who was called, by name.
        to: Vec<String>,
    },
    /// Notifications about the incident were delivered.
    Notified {
        deliveries: Vec<Delivery>,
    },
    /// A run of one of the plan's actions was asked for.
    ActionRequested {
        run: u32,
        /// The plan's action (`action` is the event's own tag).
        action_id: ActionId,
        /// As checked; a secret input is where the secret is kept.
        inputs: std::collections::BTreeMap<String, String>,
        /// Asked for by a detector rule, or by closing the incident.
        automatic: bool,
        /// The run it undoes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undoes: Option<u32>,
        /// Approvals it needs before it runs.
        needs: u32,
        expires_at: Option<Timestamp>,
    },
    ActionApproved {
        run: u32,
    },
    ActionRejected {
        run: u32,
        reason: String,
    },
    /// Its approvals did not come in time.
    ActionExpired {
        run: u32,
    },
    /// tocsin began it, before anything was sent.
    ActionStarted {
        run: u32,
        /// Counting from 1.
        attempt: u32,
    },
    ActionFinished {
        run: u32,
        outcome: Outcome,
        /// When a failed attempt of an idempotent action is tried again.
        retry_at: Option<Timestamp>,
    },
    /// A notice was written (its first version).
    NoticeDrafted {
        notice: u32,
        kind: String,
        subject: String,
        /// Markdown.
        body: String,
    },
    /// A notice's next version.
    NoticeRevised {
        notice: u32,
        subject: String,
        body: String,
    },
    NoticeApproved {
        notice: u32,
        version: u32,
    },
    /// A notice went: by email to `recipients`, or filed by hand (none).
    NoticeSent {
        notice: u32,
        version: u32,
        recipients: u64,
        /// Why it went after its deadline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        late: Option<String>,
    },
    /// The incident's clocks were computed again under another version of the plan.
    PlanAdopted {
        version: u64,
        /// SHA-256 of that version's text: the plan the clocks follow from now on.
        digest: String,
        /// Clocks whose due time moved, appeared or stopped applying.
        shifts: Vec<ClockShift>,
        /// Clocks already breached when the plan changed; they stay breached.
        breached: Vec<ClockBreach>,
    },
}

/// The facts an incident starts with. `declared_at` is the event's time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    pub title: String,
    pub summary: String,
    pub severity: SeverityId,
    pub detected_at: Timestamp,
    pub aware_at: Timestamp,
    pub personal_data: bool,
    /// Absent in incidents declared before it was asked: a count of 0 then meant no.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customers: Option<CustomerImpact>,
    pub affected_customers: Option<u64>,
    pub affected_data_subjects: Option<u64>,
    /// The plan's steps when the incident was declared; later plan edits do not change them.
    pub steps: Vec<StepOutline>,
    /// SHA-256 of the plan the incident was declared under.
    pub plan_digest: String,
}

/// One notification delivered: on which channel, what news, to whom (the people it named;
/// the channel's own audience otherwise).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub channel: String,
    pub news: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
}

/// Who an incident affects, as far as it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    pub customers: CustomerImpact,
    pub affected_customers: Option<u64>,
    pub affected_data_subjects: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutline {
    pub id: StepId,
    pub name: String,
    pub checklist: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockShift {
    pub clock: String,
    pub due_before: Option<Timestamp>,
    pub due_after: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockBreach {
    pub clock: String,
    pub at: Timestamp,
}

/// An event with who did it and when it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub at: Timestamp,
    pub actor: Actor,
    pub event: IncidentEvent,
}

impl IncidentEvent {
    /// What the notifier already told, as [`Incident::told`](super::Incident::told) keeps it:
    /// each warning and escalation call is recorded once.
    pub fn told_key(&self) -> Option<String> {
        match self {
            IncidentEvent::ClockWarned { clock, point, due } => Some(format!(
                "clock:{clock}:{point}:{}",
                due.map_or(0, Timestamp::as_millisecond)
            )),
            IncidentEvent::Escalated { level, round, .. } => Some(format!("escalation:{level}:{round}")),
            _ => None,
        }
    }

    /// The `action` tag, as stored beside the event.
    pub fn action(&self) -> &'static str {
        match self {
            IncidentEvent::Declared(_) => "declared",
            IncidentEvent::Acknowledged {} => "acknowledged",
            IncidentEvent::OwnerAssigned { .. } => "owner_assigned",
            IncidentEvent::RoleAssigned { .. } => "role_assigned",
            IncidentEvent::SeverityChanged { .. } => "severity_changed",
            IncidentEvent::StepStarted { .. } => "step_started",
            IncidentEvent::StepCompleted { .. } => "step_completed",
            IncidentEvent::ChecklistItemChecked { .. } => "checklist_item_checked",
            IncidentEvent::ChecklistItemUnchecked { .. } => "checklist_item_unchecked",
            IncidentEvent::NoteAdded { .. } => "note_added",
            IncidentEvent::Retitled { .. } => "retitled",
            IncidentEvent::SummaryEdited { .. } => "summary_edited",
            IncidentEvent::ImpactAssessed { .. } => "impact_assessed",
            IncidentEvent::ObligationWaived { .. } => "obligation_waived",
            IncidentEvent::PersonalDataMarked { .. } => "personal_data_marked",
            IncidentEvent::PersonalDataUnmarked { .. } => "personal_data_unmarked",
            IncidentEvent::NoticeRecorded { .. } => "notice_recorded",
            IncidentEvent::Resolved { .. } => "resolved",
            IncidentEvent::Closed { .. } => "closed",
            IncidentEvent::Dismissed { .. } => "dismissed",
            IncidentEvent::Reopened { .. } => "reopened",
            IncidentEvent::PlanAdopted { .. } => "plan_adopted",
            IncidentEvent::ClockWarned { .. } => "clock_warned",
            IncidentEvent::Escalated { .. } => "escalated",
            IncidentEvent::Notified { .. } => "notified",
            IncidentEvent::ActionRequested { .. } => "action_requested",
            IncidentEvent::ActionApproved { .. } => "action_approved",
            IncidentEvent::ActionRejected { .. } => "action_rejected",
            IncidentEvent::ActionExpired { .. } => "action_expired",
            IncidentEvent::ActionStarted { .. } => "action_started",
            IncidentEvent::ActionFinished { .. } => "action_finished",
            IncidentEvent::NoticeDrafted { .. } => "notice_drafted",
            IncidentEvent::NoticeRevised { .. } => "notice_revised",
            IncidentEvent::NoticeApproved { .. } => "notice_approved",
            IncidentEvent::NoticeSent { .. } => "notice_sent",
        }
    }

    /// The event as a JSON value (with its `action` tag), the form that is hashed.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("events always serialize")
    }

    pub fn from_json(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_tag_matches_the_serialized_form() {
        let events = [
            IncidentEvent::Acknowledged {},
            IncidentEvent::NoteAdded { text: "x".into() },
            IncidentEvent::ChecklistItemChecked {
                step: StepId::parse("contain").unwrap(),
                item: 2,
            },
        ];
        for event in events {
            let json = event.to_json();
            assert_eq!(json["action"], event.action());
            assert_eq!(IncidentEvent::from_json(json).unwrap(), event);
        }
    }
}
