//! The breach register (GDPR Art. 33(5)): every incident involving personal data, notified
//! or not, with its facts, its effects, the remedial action taken, and whether and when the
//! supervisory authority, the data subjects and the customers were told, or why not.

use serde::Serialize;
use tocsin_core::Timestamp;
use tocsin_core::clock::{Clock, ClockKind, ClockState};
use tocsin_core::incident::{IncidentNumber, RunState, StepState};
use tocsin_core::plan::{NoticeKind, Plan};
use tocsin_store::IncidentFilter;
use utoipa::ToSchema;

use crate::{Desk, DeskError, IncidentView};

/// Incidents read per page while the register is made.
const PAGE: u32 = 500;

/// One breach in the register.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BreachDoc {
    pub incident: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    /// When the organization became aware that personal data was involved.
    pub aware_at: Timestamp,
    pub declared_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// The facts: what happened.
    pub summary: String,
    /// The effects: how many people's data, how many customers (none when not known).
    pub data_subjects: Option<u64>,
    pub customers: Option<u64>,
    /// The remedial action: the response steps done and the actions that succeeded.
    pub remedial: Vec<String>,
    pub authority: TellingDoc,
    pub data_subjects_told: TellingDoc,
    pub customers_told: TellingDoc,
}

/// Whether someone was told, when, and why not.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TellingDoc {
    /// told, told late, not required, due, overdue, or not tracked (the plan has no clock
    /// for it and nothing was recorded).
    pub state: String,
    pub told_at: Option<Timestamp>,
    pub due_at: Option<Timestamp>,
    /// Why it was not required, or why it went late.
    pub why: Option<String>,
}

/// The register, newest incident first.
pub async fn register(desk: &Desk, now: Timestamp) -> Result<Vec<BreachDoc>, DeskError> {
    let plan = desk.plan();
    let mut out = Vec::new();
    let mut before: Option<IncidentNumber> = None;
    loop {
        let filter = IncidentFilter {
            before,
            limit: Some(PAGE),
            ..IncidentFilter::default()
        };
        let page = desk.incidents(&filter).await?;
        for summary in page.iter() {
            let view = desk.incident_shared(summary.number).await?;
            // Unmarked as personal data later is not a breach; marked ever, and still, is.
            if view.incident.personal_data {
                out.push(breach(&view, &plan, now));
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => before = Some(last.number),
            _ => break,
        }
    }
    Ok(out)
}

fn breach(view: &IncidentView, plan: &Plan, now: Timestamp) -> BreachDoc {
    let i = &view.incident;
    let mut remedial: Vec<String> = i
        .steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .map(|s| format!("step done: {}", s.name))
        .collect();
    remedial.extend(i.runs.iter().filter(|r| r.state == RunState::Succeeded).map(|r| {
        let name = plan
            .action(r.action.as_str())
            .map_or(r.action.as_str(), |a| a.name.as_str());
        format!("action: {name}")
    }));
    let telling = |kind: &NoticeKind| {
        let clock = view.clocks.iter().find(|c| match &c.kind {
            ClockKind::CustomerNotice => *kind == NoticeKind::Customers,
            ClockKind::Obligation => plan
                .obligations()
                .iter()
                .any(|o| o.id.as_str() == c.id && o.met_by == *kind),
            _ => false,
        });
        let late = i
            .written_notices
            .iter()
            .filter(|n| n.kind == kind.as_str())
            .find_map(|n| n.sent.as_ref().and_then(|s| s.late.clone()));
        let told = i.notices_of(kind.as_str()).map(|n| n.at).min();
        told_or_not(clock, told, late, now)
    };
    BreachDoc {
        incident: i.number.to_string(),
        title: i.title.clone(),
        severity: i.severity.to_string(),
        status: i.status.to_string(),
        aware_at: i.personal_data_aware_at.unwrap_or(i.aware_at),
        declared_at: i.declared_at,
        resolved_at: i.resolved_at,
        summary: i.summary.clone(),
        data_subjects: i.affected_data_subjects,
        customers: i.affected_customers,
        remedial,
        authority: telling(&NoticeKind::Authority),
        data_subjects_told: telling(&NoticeKind::DataSubjects),
        customers_told: telling(&NoticeKind::Customers),
    }
}

fn told_or_not(clock: Option<&Clock>, told: Option<Timestamp>, late: Option<String>, now: Timestamp) -> TellingDoc {
    let Some(clock) = clock else {
        return TellingDoc {
            state: if told.is_some() { "told" } else { "not tracked" }.to_owned(),
            told_at: told,
            due_at: None,
            why: late,
        };
    };
    let (state, why) = match (clock.waived.as_ref(), clock.state(now)) {
        (Some(reason), _) => ("not required", Some(reason.clone())),
        (None, ClockState::Met { .. }) if clock.breached_at.is_some() => ("told late", late),
        (None, ClockState::Met { .. }) => ("told", None),
        (None, ClockState::Breached { .. }) if clock.met_at.is_some() => ("told late", late),
        (None, ClockState::Breached { .. }) => ("overdue", None),
        (None, ClockState::Running) => ("due", None),
        (None, ClockState::NotApplicable) => (
            "not required",
            Some("the plan does not require it for this incident".to_owned()),
        ),
    };
    TellingDoc {
        state: state.to_owned(),
        told_at: clock.met_at.or(told),
        due_at: clock.due_at,
        why,
    }
}

/// The register as CSV, one breach a row, for auditors and spreadsheets.
pub fn csv(register: &[BreachDoc]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    let count = |n: Option<u64>| n.map_or_else(|| "not known".to_owned(), |n| n.to_string());
    let _ = writer.write_record([
        "incident",
        "title",
        "severity",
        "status",
        "aware_at",
        "resolved_at",
        "facts",
        "data_subjects",
        "customers",
        "remedial_action",
        "authority",
        "authority_told_at",
        "authority_why",
        "data_subjects_told",
        "data_subjects_told_at",
        "data_subjects_why",
        "customers_told",
        "customers_told_at",
        "customers_why",
    ]);
    for b in register {
        let _ = writer.write_record([
            b.incident.clone(),
            b.title.clone(),
            b.severity.clone(),
            b.status.clone(),
            b.aware_at.to_string(),
            time(b.resolved_at),
            b.summary.clone(),
            count(b.data_subjects),
            count(b.customers),
            b.remedial.join("; "),
            b.authority.state.clone(),
            time(b.authority.told_at),
            b.authority.why.clone().unwrap_or_default(),
            b.data_subjects_told.state.clone(),
            time(b.data_subjects_told.told_at),
            b.data_subjects_told.why.clone().unwrap_or_default(),
            b.customers_told.state.clone(),
            time(b.customers_told.told_at),
            b.customers_told.why.clone().unwrap_or_default(),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}
