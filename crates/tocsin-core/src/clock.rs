//! Clocks: every deadline the plan promises for an incident, derived from its state.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::id::SeverityId;
use crate::incident::{Incident, Notice};
use crate::plan::{ClockStart, Plan, Severity};

/// Reminders counted one by one at most (ten years of business days).
const MAX_REMINDERS: u64 = 2_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    Acknowledge,
    StatusUpdate,
    CustomerNotice,
    Obligation,
    Review,
}

impl ClockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Acknowledge => "acknowledge",
            ClockKind::StatusUpdate => "status_update",
            ClockKind::CustomerNotice => "customer_notice",
            ClockKind::Obligation => "obligation",
            ClockKind::Review => "review",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ClockKind::Acknowledge,
            ClockKind::StatusUpdate,
            ClockKind::CustomerNotice,
            ClockKind::Obligation,
            ClockKind::Review,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One deadline of one incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// Unique within the incident: `acknowledge`, `status-update-2`, `gdpr-art33`, …
    pub id: String,
    pub kind: ClockKind,
    pub name: String,
    pub started_at: Timestamp,
    /// `None` for obligations without a fixed deadline ("without undue delay").
    pub due_at: Option<Timestamp>,
    pub met_at: Option<Timestamp>,
    /// A breach that is already a fact: kept late, ended unkept, or hidden by a later change.
    pub breached_at: Option<Timestamp>,
    /// Whether the plan requires this clock for the incident as it is now.
    pub applicable: bool,
    /// Still waiting to be kept: applicable, not met, not ended with the incident.
    pub open: bool,
    /// Why it is not required for this incident, when a responder said so.
    pub waived: Option<String>,
    /// While it has no deadline, remind this often until it is kept.
    pub remind_every: Option<crate::duration::Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClockState {
    Running,
    Met { at: Timestamp },
    Breached { at: Timestamp },
    NotApplicable,
}

impl ClockState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Met { .. } => "met",
            ClockState::Breached { .. } => "breached",
            ClockState::NotApplicable => "not_applicable",
        }
    }
}

impl fmt::Display for ClockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClockState::NotApplicable => "not applicable",
            other => other.as_str(),
        })
    }
}

impl Clock {
    /// The clock's state at `now`. Kept exactly at the due time is in time; a breach stays a
    /// breach, even when kept late.
    pub fn state(&self, now: Timestamp) -> ClockState {
        if let Some(at) = self.breached_at {
            return ClockState::Breached { at };
        }
        if !self.applicable {
            return ClockState::NotApplicable;
        }
        if let Some(at) = self.met_at {
            return ClockState::Met { at };
        }
        match self.due_at {
            Some(due) if due < now => ClockState::Breached { at: due },
            _ => ClockState::Running,
        }
    }

    /// Seconds until due (negative when overdue), for open clocks with a deadline.
    pub fn seconds_left(&self, now: Timestamp) -> Option<i64> {
        let due = self.due_at.filter(|_| self.open)?;
        Some(due.as_second() - now.as_second())
    }

    /// The reminders due by `now` for an open clock with a cadence: how many, and when the
    /// latest was due. Reminders stop when it is kept, waived or ends.
    pub fn reminders(&self, now: Timestamp, calendar: &crate::calendar::Calendar) -> Option<(u64, Timestamp)> {
        let every = self.remind_every.filter(|_| self.open)?;
        if let Some(seconds) = every.elapsed_seconds().filter(|s| *s > 0) {
            let count = (now.as_second() - self.started_at.as_second()).max(0) / seconds;
            let latest = self.started_at + jiff::SignedDuration::from_secs(count * seconds);
            return (count > 0).then_some((count as u64, latest));
        }
        // Business days and months: a day or more each, counted one by one.
        let mut count = 0;
        let mut latest = None;
        let mut next = calendar.due(self.started_at, every);
        while next <= now && count < MAX_REMINDERS {
            count += 1;
            latest = Some(next);
            next = calendar.due(next, every);
        }
        latest.map(|at| (count, at))
    }

    /// Running with less than a quarter of its time left: worth a warning.
    pub fn is_running_out(&self, now: Timestamp) -> bool {
        let (Some(left), Some(due)) = (self.seconds_left(now), self.due_at) else {
            return false;
        };
        let total = due.as_second() - self.started_at.as_second();
        self.state(now) == ClockState::Running && left * 4 < total
    }

    fn new(id: impl Into<String>, kind: ClockKind, name: impl Into<String>, started_at: Timestamp) -> Self {
        Clock {
            id: id.into(),
            kind,
            name: name.into(),
            started_at,
            due_at: None,
            met_at: None,
            breached_at: None,
            applicable: true,
            open: true,
            waived: None,
            remind_every: None,
        }
    }

    /// Fixes what is already decided: breaches remembered by the incident, a late keeping,
    /// and a clock that ended (at `end`) without being kept.
    fn settle(mut self, incident: &Incident, end: Option<Timestamp>) -> Self {
        if let Some(waiver) = incident.waived.get(&self.id).filter(|_| self.met_at.is_none()) {
            self.waived = Some(waiver.reason.clone());
            self.applicable = false;
        }
        let late = match (self.met_at, self.due_at) {
            (Some(met), Some(due)) if met > due => Some(due),
            _ => None,
        };
        let remembered = incident.breaches.get(&self.id).copied();
        self.breached_at = [late, remembered].into_iter().flatten().min();
        if let Some(end) = end.filter(|_| self.met_at.is_none() && self.applicable) {
            match self.due_at {
                Some(due) if due < end => {
                    self.breached_at.get_or_insert(due);
                }
                _ => self.applicable = false,
            }
            self.open = false;
        }
        self.open &= self.applicable && self.met_at.is_none();
        self
    }
}

/// Every clock the plan gives `incident`, in a stable order.
///
/// Running clocks use the current severity; a kept clock uses the severity in force when it
/// was kept, so a later severity change never undoes it.
pub fn clocks(incident: &Incident, plan: &Plan) -> Vec<Clock> {
    let calendar = plan.calendar();
    let severity = |id: &SeverityId| plan.severity(id);
    let ever = |held: &dyn Fn(&Severity) -> bool| {
        incident
            .severity_history
            .iter()
            .any(|(_, id)| severity(id).is_some_and(held))
    };
    let mut out = Vec::new();

    let mut ack = Clock::new(
        "acknowledge",
        ClockKind::Acknowledge,
        "Acknowledge",
        incident.declared_at,
    );
    let ack_severity = incident
        .acknowledged
        .as_ref()
        .map_or(&incident.severity, |k| &k.severity);
    ack.due_at = severity(ack_severity).map(|s| calendar.due(incident.declared_at, s.acknowledge_within));
    ack.met_at = incident.acknowledged.as_ref().map(|k| k.at);
    ack.applicable = ack.due_at.is_some() || ack.met_at.is_some();
    out.push(ack.settle(incident, incident.dismissed_at));

    let mut updates: Vec<&Notice> = incident.notices_of("status-update").collect();
    updates.sort_by_key(|n| n.at);
    if !updates.is_empty() || ever(&|s| s.status_update_every.is_some()) {
        let end = incident.resolved_at.or(incident.dismissed_at);
        let mut start = incident.declared_at;
        for i in 0..=updates.len() {
            let kept = updates.get(i);
            let mut clock = Clock::new(
                format!("status-update-{}", i + 1),
                ClockKind::StatusUpdate,
                format!("Status update #{}", i + 1),
                start,
            );
            let cadence =
                severity(kept.map_or(&incident.severity, |n| &n.severity)).and_then(|s| s.status_update_every);
            clock.due_at = cadence.map(|c| calendar.due(start, c));
            clock.met_at = kept.map(|n| n.at);
            clock.applicable = clock.due_at.is_some() || kept.is_some();
            out.push(clock.settle(incident, end));
            if let Some(n) = kept {
                start = n.at;
            }
        }
    }

    let told = first(incident.notices_of("customers"));
    if told.is_some() || ever(&|s| s.customer_notice_within.is_some()) {
        let mut clock = Clock::new(
            "customer-notice",
            ClockKind::CustomerNotice,
            "Customer notice",
            incident.aware_at,
        );
        let within = severity(told.map_or(&incident.severity, |n| &n.severity)).and_then(|s| s.customer_notice_within);
        clock.due_at = within.map(|w| calendar.due(incident.aware_at, w));
        clock.met_at = told.map(|n| n.at);
        clock.applicable = told.is_some() || (within.is_some() && plan.customer_notice_starts(incident.customers));
        out.push(clock.settle(incident, incident.dismissed_at));
    }

    for obligation in plan.obligations() {
        let start = match &obligation.from {
            ClockStart::Declaration => Some(incident.declared_at),
            ClockStart::Awareness => Some(incident.aware_at),
            ClockStart::PersonalDataAwareness => incident.personal_data_aware_at,
            ClockStart::Acknowledgement => incident.acknowledged.as_ref().map(|k| k.at),
            ClockStart::Resolution => incident.last_resolved_at,
            ClockStart::Met(other) => plan
                .obligations()
                .iter()
                .find(|o| &o.id == other)
                .and_then(|o| first(incident.notices_of(o.met_by.as_str())))
                .map(|n| n.at),
        };
        let Some(start) = start else { continue };
        let kept = first(incident.notices_of(obligation.met_by.as_str()));
        let for_severity = |id: &SeverityId| obligation.severities.as_ref().is_none_or(|list| list.contains(id));
        if kept.is_none() && !incident.severity_history.iter().any(|(_, id)| for_severity(id)) {
            continue;
        }
        let mut clock = Clock::new(
            obligation.id.as_str(),
            ClockKind::Obligation,
            obligation.name.as_str(),
            start,
        );
        clock.due_at = obligation.within.map(|w| calendar.due(start, w));
        clock.remind_every = obligation.remind_every;
        clock.met_at = kept.map(|n| n.at);
        clock.applicable = kept.is_some()
            || (for_severity(&incident.severity) && (!obligation.personal_data || incident.personal_data));
        out.push(clock.settle(incident, incident.dismissed_at));
    }

    if let Some(start) = incident.last_resolved_at {
        let mut clock = Clock::new("review", ClockKind::Review, "Post-incident review", start);
        clock.due_at = Some(calendar.due(start, plan.review().within));
        let completed = incident
            .step(&plan.review().step)
            .and_then(|s| s.completed.as_ref())
            .map(|s| s.at);
        // Reopening ends this resolution's review clock; a review done after that counts
        // for the next resolution.
        let end = incident.resolved_at.is_none().then_some(incident.reopened_at).flatten();
        clock.met_at = completed.filter(|done| end.is_none_or(|end| *done <= end));
        out.push(clock.settle(incident, end));
    }
    out
}

fn first<'a>(notices: impl Iterator<Item = &'a Notice>) -> Option<&'a Notice> {
    notices.min_by_key(|n| n.at)
}
