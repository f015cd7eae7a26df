//! The JSON shapes of the API and of the CLI's `--json`: one definition for both, with the
//! schemas the OpenAPI document is generated from. Times are RFC 3339, ids like `INC-0042`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use tocsin_core::Timestamp;
use tocsin_core::clock::{Clock, ClockState};
use tocsin_core::daily_audit::Report;
use tocsin_core::incident::{Incident, Stamp};
use tocsin_core::plan::Plan;
use tocsin_store::audit_reports::AuditReportSummary;
use tocsin_store::identity::{TokenRecord, UserRecord};
use tocsin_store::{IncidentSummary, OpenClock};
use utoipa::ToSchema;

use crate::{IncidentView, TimelineEntry, Verification};

/// A deadline of the plan, as it stands at the time of the response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClockDoc {
    /// Stable id within the incident, like `acknowledge` or `gdpr-art-33`.
    pub clock: String,
    /// acknowledge, status_update, customer_notice, obligation or review.
    pub kind: String,
    pub name: String,
    /// running, met, breached or not_applicable.
    pub state: String,
    /// When it was met or breached.
    pub state_at: Option<Timestamp>,
    pub started_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub met_at: Option<Timestamp>,
    /// Still waiting to be kept.
    pub open: bool,
    /// Seconds until due (negative once overdue); absent without a deadline.
    pub seconds_left: Option<i64>,
    /// Why it is not required for this incident, when a responder said so.
    pub waived: Option<String>,
    /// How often it reminds while open, when it has no deadline (a plan duration).
    pub remind_every: Option<String>,
}

impl ClockDoc {
    pub fn of(clock: &Clock, now: Timestamp) -> Self {
        let state = clock.state(now);
        let state_at = match state {
            ClockState::Met { at } | ClockState::Breached { at } => Some(at),
            _ => None,
        };
        ClockDoc {
            clock: clock.id.clone(),
            kind: clock.kind.as_str().to_owned(),
            name: clock.name.clone(),
            state: state.as_str().to_owned(),
            state_at,
            started_at: clock.started_at,
            due_at: clock.due_at,
            met_at: clock.met_at,
            open: clock.open,
            seconds_left: clock.seconds_left(now),
            waived: clock.waived.clone(),
            remind_every: clock.remind_every.map(|d| d.to_string()),
        }
    }
}

/// An open clock with the incident it belongs to.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OpenClockDoc {
    pub incident: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    #[serde(flatten)]
    pub clock: ClockDoc,
}

impl OpenClockDoc {
    pub fn of(open: &OpenClock, now: Timestamp) -> Self {
        OpenClockDoc {
            incident: open.incident.to_string(),
            title: open.title.clone(),
            severity: open.severity.clone(),
            status: open.status.as_str().to_owned(),
            clock: ClockDoc::of(&open.clock, now),
        }
    }
}

/// An incident in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentSummaryDoc {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub owner: Option<String>,
    pub personal_data: bool,
    pub declared_at: Timestamp,
    pub updated_at: Timestamp,
    /// The soonest open clock, if any.
    pub next_clock: Option<ClockDoc>,
}

impl IncidentSummaryDoc {
    pub fn of(summary: &IncidentSummary, next_clock: Option<&Clock>, now: Timestamp) -> Self {
        IncidentSummaryDoc {
            id: summary.number.to_string(),
            title: summary.title.clone(),
            severity: summary.severity.clone(),
            status: summary.status.as_str().to_owned(),
            owner: summary.owner.clone(),
            personal_data: summary.personal_data,
            declared_at: summary.declared_at,
            updated_at: summary.updated_at,
            next_clock: next_clock.map(|c| ClockDoc::of(c, now)),
        }
    }
}

/// Who did something, and when.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StampDoc {
    pub at: Timestamp,
    pub by: String,
}

impl StampDoc {
    fn of(stamp: &Stamp) -> Self {
        StampDoc {
            at: stamp.at,
            by: stamp.by.to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AcknowledgementDoc {
    pub at: Timestamp,
    pub by: String,
    /// The severity whose deadline then applied.
    pub severity: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChecklistItemDoc {
    pub text: String,
    pub done: Option<StampDoc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StepDoc {
    pub id: String,
    pub name: String,
    /// pending, in_progress or done.
    pub state: String,
    pub started: Option<StampDoc>,
    pub completed: Option<StampDoc>,
    pub checklist: Vec<ChecklistItemDoc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoticeDoc {
    /// customers, authority, data-subjects, status-update, or an obligation id.
    pub kind: String,
    pub note: Option<String>,
    pub at: Timestamp,
    pub by: String,
    pub severity: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SeverityChangeDoc {
    pub at: Timestamp,
    pub severity: String,
}

/// An incident's state, as its history made it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentStateDoc {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub severity: String,
    /// declared, acknowledged, resolved, closed or dismissed.
    pub status: String,
    pub reporter: String,
    pub detected_at: Timestamp,
    pub aware_at: Timestamp,
    pub declared_at: Timestamp,
    pub acknowledged: Option<AcknowledgementDoc>,
    pub owner: Option<String>,
    /// Role id to the person holding it.
    pub roles: BTreeMap<String, String>,
    pub personal_data: bool,
    pub personal_data_aware_at: Option<Timestamp>,
    /// Whether customers are affected: yes, no or unknown.
    pub customers: String,
    pub affected_customers: Option<u64>,
    pub affected_data_subjects: Option<u64>,
    /// Obligations marked not required, by clock id.
    pub waived: BTreeMap<String, WaiverDoc>,
    pub steps: Vec<StepDoc>,
    pub notices: Vec<NoticeDoc>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub dismissed_at: Option<Timestamp>,
    pub severity_history: Vec<SeverityChangeDoc>,
    /// The digest of the plan the incident was declared under.
    pub plan_digest: String,
    /// How many changes built this state.
    pub version: u64,
    pub updated_at: Timestamp,
}

impl IncidentStateDoc {
    pub fn of(i: &Incident) -> Self {
        IncidentStateDoc {
            id: i.number.to_string(),
            title: i.title.clone(),
            summary: i.summary.clone(),
            severity: i.severity.to_string(),
            status: i.status.as_str().to_owned(),
            reporter: i.reporter.to_string(),
            detected_at: i.detected_at,
            aware_at: i.aware_at,
            declared_at: i.declared_at,
            acknowledged: i.acknowledged.as_ref().map(|k| AcknowledgementDoc {
                at: k.at,
                by: k.by.to_string(),
                severity: k.severity.to_string(),
            }),
            owner: i.owner.clone(),
            roles: i.roles.iter().map(|(r, who)| (r.to_string(), who.clone())).collect(),
            personal_data: i.personal_data,
            personal_data_aware_at: i.personal_data_aware_at,
            customers: i.customers.as_str().to_owned(),
            affected_customers: i.affected_customers,
            affected_data_subjects: i.affected_data_subjects,
            waived: i
                .waived
                .iter()
                .map(|(clock, w)| {
                    (
                        clock.clone(),
                        WaiverDoc {
                            reason: w.reason.clone(),
                            at: w.at,
                            by: w.by.to_string(),
                        },
                    )
                })
                .collect(),
            steps: i
                .steps
                .iter()
                .map(|s| StepDoc {
                    id: s.id.to_string(),
                    name: s.name.clone(),
                    state: s.state.as_str().replace(' ', "_"),
                    started: s.started.as_ref().map(StampDoc::of),
                    completed: s.completed.as_ref().map(StampDoc::of),
                    checklist: s
                        .checklist
                        .iter()
                        .map(|c| ChecklistItemDoc {
                            text: c.text.clone(),
                            done: c.done.as_ref().map(StampDoc::of),
                        })
                        .collect(),
                })
                .collect(),
            notices: i
                .notices
                .iter()
                .map(|n| NoticeDoc {
                    kind: n.kind.clone(),
                    note: n.note.clone(),
                    at: n.at,
                    by: n.by.to_string(),
                    severity: n.severity.to_string(),
                })
                .collect(),
            resolved_at: i.resolved_at,
            closed_at: i.closed_at,
            dismissed_at: i.dismissed_at,
            severity_history: i
                .severity_history
                .iter()
                .map(|(at, s)| SeverityChangeDoc {
                    at: *at,
                    severity: s.to_string(),
                })
                .collect(),
            plan_digest: i.plan_digest.clone(),
            version: i.version,
            updated_at: i.updated_at,
        }
    }
}

/// One change on an incident's timeline.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimelineEntryDoc {
    /// Its place in the audit chain.
    pub seq: u64,
    /// When it happened (may be backfilled).
    pub at: Timestamp,
    /// When tocsin recorded it.
    pub recorded_at: Timestamp,
    pub actor: String,
    pub action: String,
    /// The event as recorded, with its `action` tag.
    #[schema(value_type = Object)]
    pub event: Value,
}

impl TimelineEntryDoc {
    pub fn of(entry: &TimelineEntry) -> Self {
        TimelineEntryDoc {
            seq: entry.seq,
            at: entry.at,
            recorded_at: entry.recorded_at,
            actor: entry.actor.to_string(),
            action: entry.event.action().to_owned(),
            event: entry.event.to_json(),
        }
    }
}

/// An obligation marked not required: why, when, by whom.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WaiverDoc {
    pub reason: String,
    pub at: Timestamp,
    pub by: String,
}

/// An incident with its clocks and timeline.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct IncidentDoc {
    pub incident: IncidentStateDoc,
    /// Roles the plan requires at this severity that nobody holds yet.
    pub missing_roles: Vec<String>,
    pub clocks: Vec<ClockDoc>,
    pub timeline: Vec<TimelineEntryDoc>,
}

impl IncidentDoc {
    pub fn of(view: &IncidentView, plan: &Plan, now: Timestamp) -> Self {
        IncidentDoc {
            incident: IncidentStateDoc::of(&view.incident),
            missing_roles: missing_roles(view, plan),
            clocks: view.clocks.iter().map(|c| ClockDoc::of(c, now)).collect(),
            timeline: view.timeline.iter().map(TimelineEntryDoc::of).collect(),
        }
    }

    /// The parts of the document that change only with the incident, as JSON: its state,
    /// its missing roles and its timeline. Serialized once per version by the API.
    pub fn fixed_json(view: &IncidentView, plan: &Plan) -> [String; 3] {
        let timeline: Vec<TimelineEntryDoc> = view.timeline.iter().map(TimelineEntryDoc::of).collect();
        [
            to_json(&IncidentStateDoc::of(&view.incident)),
            to_json(&missing_roles(view, plan)),
            to_json(&timeline),
        ]
    }

    /// The document's JSON from its fixed parts and its clocks at `now`: the same text as
    /// serializing [`IncidentDoc::of`].
    pub fn json_from(fixed: &[String; 3], clocks: &[Clock], now: Timestamp) -> String {
        let clocks: Vec<ClockDoc> = clocks.iter().map(|c| ClockDoc::of(c, now)).collect();
        format!(
            "{{\"incident\":{},\"missing_roles\":{},\"clocks\":{},\"timeline\":{}}}",
            fixed[0],
            fixed[1],
            to_json(&clocks),
            fixed[2]
        )
    }
}

/// Roles the plan requires at the incident's severity that nobody holds yet.
fn missing_roles(view: &IncidentView, plan: &Plan) -> Vec<String> {
    plan.roles_required_for(&view.incident.severity)
        .filter(|r| !view.incident.roles.contains_key(&r.id))
        .map(|r| r.id.to_string())
        .collect()
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("documents serialize")
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChainHeadDoc {
    pub seq: u64,
    pub hash: String,
}

/// The result of verifying the audit chain and every incident against it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VerificationDoc {
    pub intact: bool,
    pub entries: u64,
    pub incidents: u64,
    pub head: ChainHeadDoc,
    /// The first thing found wrong.
    pub broken: Option<String>,
    /// Plan versions whose texts verify against the chain.
    pub plan_versions: u64,
    /// Incidents whose clocks could not be checked: they follow a plan text that was never
    /// applied as a version (declared before the database kept its plan).
    pub unchecked_clocks: Vec<String>,
    /// Signed heads the chain was checked against.
    pub signed_heads: u64,
    /// The furthest entry a signed head covers.
    pub signed_to: Option<u64>,
    /// When that head was signed.
    pub signed_at: Option<Timestamp>,
    /// Why the chain was checked only against itself, if it was.
    pub seal_note: Option<String>,
}

impl VerificationDoc {
    pub fn of(report: &Verification) -> Self {
        VerificationDoc {
            intact: report.broken.is_none(),
            entries: report.entries,
            incidents: report.incidents,
            head: ChainHeadDoc {
                seq: report.head_seq,
                hash: report.head_hash.clone(),
            },
            broken: report.broken.as_ref().map(ToString::to_string),
            plan_versions: report.plan_versions,
            unchecked_clocks: report.unchecked_clocks.iter().map(ToString::to_string).collect(),
            signed_heads: report.signed_heads,
            signed_to: report.signed_to.map(|(seq, _)| seq),
            signed_at: report.signed_to.map(|(_, at)| at),
            seal_note: report.seal_note.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserDoc {
    pub name: String,
    /// viewer, responder or admin.
    pub role: String,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub password_changed_at: Timestamp,
}

impl UserDoc {
    pub fn of(user: &UserRecord) -> Self {
        UserDoc {
            name: user.name.to_string(),
            role: user.role.as_str().to_owned(),
            disabled: user.disabled,
            created_at: user.created_at,
            password_changed_at: user.password_changed_at,
        }
    }
}

/// An approval, or a rejection, of a run.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunStampDoc {
    pub by: String,
    pub at: Timestamp,
}

/// What a run came to.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OutcomeDoc {
    pub ok: bool,
    pub summary: String,
    /// The answer's HTTP status, for requests.
    pub status: Option<u16>,
    /// Fields the action captured from the answer.
    pub captured: BTreeMap<String, String>,
}

/// A run of one of the plan's actions on an incident.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunDoc {
    /// Like `INC-0007/2`.
    pub id: String,
    pub incident: String,
    /// Counting from 1 within the incident.
    pub run: u32,
    pub action: String,
    pub action_name: String,
    /// As given; a secret input is where the secret is kept.
    pub inputs: BTreeMap<String, String>,
    /// awaiting_approval, ready, running, succeeded, failed, rejected or expired.
    pub state: String,
    pub requested_by: String,
    pub requested_at: Timestamp,
    /// Asked for by a detector rule, or by closing the incident.
    pub automatic: bool,
    /// The run it undoes.
    pub undoes: Option<u32>,
    pub needs: u32,
    pub approvals: Vec<RunStampDoc>,
    pub expires_at: Option<Timestamp>,
    pub attempts: u32,
    /// When it runs (again).
    pub next_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub outcome: Option<OutcomeDoc>,
    pub undone_by: Option<u32>,
    pub rejected: Option<RunStampDoc>,
    pub rejected_because: Option<String>,
}

impl RunDoc {
    pub fn of(incident: &Incident, run: &tocsin_core::incident::ActionRun, plan: &Plan) -> Self {
        RunDoc {
            id: run.label(incident),
            incident: incident.number.to_string(),
            run: run.number,
            action: run.action.to_string(),
            action_name: plan
                .action(run.action.as_str())
                .map_or_else(|| run.action.to_string(), |a| a.name.clone()),
            inputs: run.inputs.clone(),
            state: run.state.as_str().to_owned(),
            requested_by: run.requested.by.to_string(),
            requested_at: run.requested.at,
            automatic: run.automatic,
            undoes: run.undoes,
            needs: run.needs,
            approvals: run
                .approvals
                .iter()
                .map(|s| RunStampDoc {
                    by: s.by.to_string(),
                    at: s.at,
                })
                .collect(),
            expires_at: run.expires_at,
            attempts: run.attempts,
            next_at: run.next_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            outcome: run.outcome.as_ref().map(|o| OutcomeDoc {
                ok: o.ok,
                summary: o.summary.clone(),
                status: o.status,
                captured: o.captured.clone(),
            }),
            undone_by: run.undone_by,
            rejected: run.rejected.as_ref().map(|(s, _)| RunStampDoc {
                by: s.by.to_string(),
                at: s.at,
            }),
            rejected_because: run.rejected.as_ref().map(|(_, why)| why.clone()),
        }
    }
}

/// An input an action takes.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InputDoc {
    pub name: String,
    /// string, address, account, span, number or secret.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub default: Option<String>,
    pub choices: Vec<String>,
    pub description: String,
}

/// One of the plan's actions.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ActionDoc {
    pub id: String,
    pub name: String,
    pub description: String,
    /// http, webhook, command, block, unblock or revoke_access.
    pub kind: String,
    pub inputs: Vec<InputDoc>,
    /// The step it carries out, and its checklist item.
    pub step: Option<String>,
    pub item: Option<u32>,
    /// Approvals a person's request needs (0: none).
    pub approvals: u32,
    /// Who may approve: roles and people; empty: any responder.
    pub approvers: Vec<String>,
    pub two_people: bool,
    pub idempotent: bool,
    pub undoable: bool,
}

impl ActionDoc {
    pub fn of(def: &tocsin_core::action::ActionDef) -> Self {
        ActionDoc {
            id: def.id.to_string(),
            name: def.name.clone(),
            description: def.description.clone(),
            kind: def.kind.name().to_owned(),
            inputs: def
                .inputs
                .iter()
                .map(|i| InputDoc {
                    name: i.name.clone(),
                    kind: i.kind.as_str().to_owned(),
                    required: i.required,
                    default: i.default.clone(),
                    choices: i.choices.clone(),
                    description: i.description.clone(),
                })
                .collect(),
            step: def.step.as_ref().map(|(s, _)| s.to_string()),
            item: def.step.as_ref().and_then(|(_, i)| *i),
            approvals: def.approval.as_ref().map_or(0, |a| a.needs),
            approvers: def
                .approval
                .iter()
                .flat_map(|a| a.by.iter())
                .map(|who| match who {
                    tocsin_core::action::Approver::Role(role) => format!("role:{role}"),
                    tocsin_core::action::Approver::Person(person) => person.clone(),
                })
                .collect(),
            two_people: def.approval.as_ref().is_some_and(|a| a.two_people),
            idempotent: def.idempotent,
            undoable: def.undo.is_some(),
        }
    }
}

/// A blocked address or network.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BlockDoc {
    pub id: i64,
    /// The address or network, like `203.0.113.7/32` or `2001:db8::/32`.
    pub network: String,
    pub reason: String,
    /// The incident it was added for, like `INC-0042`.
    pub incident: Option<String>,
    pub created_by: String,
    pub created: Timestamp,
    /// When it ends by itself; absent: when removed.
    pub expires: Option<Timestamp>,
    pub removed_by: Option<String>,
    pub removed: Option<Timestamp>,
}

impl BlockDoc {
    pub fn of(block: &tocsin_store::blocks::Block) -> Self {
        BlockDoc {
            id: block.id,
            network: block.network.to_string(),
            reason: block.reason.clone(),
            incident: block.incident.map(|n| n.to_string()),
            created_by: block.created_by.clone(),
            created: block.created,
            expires: block.expires,
            removed_by: block.removed.as_ref().map(|(by, _)| by.clone()),
            removed: block.removed.as_ref().map(|(_, at)| *at),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TokenDoc {
    pub id: i64,
    pub name: String,
    /// Comma-separated: read, respond, ingest, admin.
    pub scopes: String,
    /// The token's last four characters.
    pub hint: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenDoc {
    pub fn of(token: &TokenRecord) -> Self {
        TokenDoc {
            id: token.id,
            name: token.name.clone(),
            scopes: token.scopes.to_string(),
            hint: token.hint.clone(),
            created_by: token.created_by.clone(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// One authentication attempt on the login trail: at tocsin itself (service `tocsin`) or
/// at any service whose events or logs tocsin reads.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LoginDoc {
    /// The event's sequence number in the event log.
    pub seq: u64,
    pub at: Timestamp,
    /// success or failure.
    pub outcome: String,
    /// ok, bad_password, bad_publickey, invalid_user, disabled, throttled or other.
    pub reason: String,
    /// The user name as given.
    pub user: String,
    /// The source address (or host name, when the service logged one).
    pub ip: String,
    pub method: String,
    pub service: String,
    pub user_agent: Option<String>,
    pub tenant: Option<String>,
    /// The machine that logged it.
    pub host: Option<String>,
    /// Who delivered the event: `tocsin`, `api:TOKEN`, `file:PATH`.
    pub origin: String,
}

impl LoginDoc {
    /// The document of an auth event; `None` for other kinds.
    pub fn of(stored: &tocsin_store::events::StoredEvent) -> Option<Self> {
        let tocsin_core::event::Event::Auth(a) = &stored.event else {
            return None;
        };
        Some(LoginDoc {
            seq: stored.seq,
            at: a.at,
            outcome: a.outcome.as_str().to_owned(),
            reason: a.reason.as_str().to_owned(),
            user: a.user.clone(),
            ip: a.source.to_string(),
            method: a.method.clone(),
            service: a.service.clone(),
            user_agent: a.user_agent.clone(),
            tenant: a.tenant.clone(),
            host: a.host.clone(),
            origin: stored.origin.clone(),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceDoc {
    /// Events counted.
    pub count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// Sequence numbers of events in the log that show it.
    pub sample_events: Vec<u64>,
    /// For a campaign (many sources against one account), the sources.
    pub sources: Vec<String>,
}

/// An event as the log keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDoc {
    /// Its number in the event log.
    pub seq: u64,
    pub kind: String,
    /// When it happened, as its sender said.
    pub at: Timestamp,
    /// When tocsin took it.
    pub received_at: Timestamp,
    /// Who sent it: `api:TOKEN`, `user:NAME`, an integration, or a file read by `tocsin ingest`.
    pub origin: String,
    /// The event as stored, with its kind's fields.
    #[schema(value_type = Object)]
    pub event: Value,
}

impl EventDoc {
    pub fn of(stored: &tocsin_store::events::StoredEvent) -> Self {
        EventDoc {
            seq: stored.seq,
            kind: stored.event.kind().as_str().to_owned(),
            at: stored.event.at(),
            received_at: stored.received_at,
            origin: stored.origin.clone(),
            event: serde_json::from_str(&stored.event.to_json()).unwrap_or(Value::Null),
        }
    }
}

/// A signal: what a detector found, and what the plan's rule made of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalDoc {
    pub id: i64,
    /// The detector, like brute_force, compromise or password_spray.
    pub detector: String,
    /// What it is about, like the source address.
    pub key: String,
    /// What the key names: address, account, service, agent, fingerprint, principal, ...
    pub subject: String,
    /// The accounts it is about when the key is not one: the account a compromise got into.
    pub accounts: Vec<String>,
    /// What repeats of the same finding share: detector and key.
    pub fingerprint: String,
    pub summary: String,
    /// The severity the rule suggests, one of the plan's.
    pub severity: String,
    /// open, join or record.
    pub action: String,
    /// Why the plan's `[[suppress]]` keeps it on record only, when one does.
    pub suppressed: Option<String>,
    /// When it was found: the time of the event that completed it.
    pub at: Timestamp,
    pub evidence: EvidenceDoc,
    /// The incident it opened or joined.
    pub incident: Option<String>,
    pub recorded_at: Timestamp,
}

impl SignalDoc {
    pub fn of(record: &tocsin_store::signals::SignalRecord) -> Self {
        let s = &record.signal;
        SignalDoc {
            id: record.id,
            detector: s.detector.to_string(),
            key: s.key.clone(),
            subject: s.detector.subject().to_owned(),
            accounts: s.accounts.clone(),
            fingerprint: s.fingerprint(),
            summary: s.summary.clone(),
            severity: record.severity.clone(),
            action: record.disposition.as_str().to_owned(),
            suppressed: record.suppressed.clone(),
            at: s.at,
            evidence: EvidenceDoc {
                count: s.count,
                first_at: s.first_at,
                last_at: s.last_at,
                sample_events: s.samples.clone(),
                sources: s.sources.clone(),
            },
            incident: record.incident.map(|n| n.to_string()),
            recorded_at: record.recorded_at,
        }
    }
}

/// What became of a batch of events sent to tocsin.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestReport {
    /// Events committed to the log.
    pub accepted: u64,
    /// Lines refused; none of them stopped the others.
    pub rejected: u64,
    /// The sequence numbers given to the accepted events, first and last.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The first refused lines, each with what was wrong.
    pub rejects: Vec<RejectDoc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectDoc {
    /// The line of NDJSON, or the position in a JSON array, from 1.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

impl RejectDoc {
    pub fn of(reject: &tocsin_core::event::Reject) -> Self {
        RejectDoc {
            line: reject.line,
            field: reject.field.clone(),
            message: reject.message.clone(),
        }
    }
}

/// One of an incident's notices.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WrittenNoticeDoc {
    pub incident: String,
    /// Counting from 1 within the incident.
    pub notice: u32,
    /// customers, authority, data-subjects, status-update, summary, or an obligation's id.
    pub kind: String,
    pub subject: String,
    /// Markdown.
    pub body: String,
    /// Counting from 1; each revision is the next.
    pub version: u32,
    pub drafted: StampDoc,
    pub revised: Option<StampDoc>,
    /// Who approved which version.
    pub approvals: Vec<NoticeApprovalDoc>,
    /// Whether the plan wants it approved before it goes.
    pub needs_approval: bool,
    pub approved: bool,
    /// Why it cannot be sent as it is: the first missing section or blank left.
    pub incomplete: Option<String>,
    /// The email channel that sends it to the incident's recipients; none: a document
    /// filed by hand.
    pub channel: Option<String>,
    pub sent: Option<SentDoc>,
    /// How its emails stand in the outbox, once sent.
    pub deliveries: Option<DeliveriesDoc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoticeApprovalDoc {
    pub version: u32,
    pub by: String,
    pub at: Timestamp,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SentDoc {
    pub by: String,
    pub at: Timestamp,
    pub version: u32,
    pub recipients: u64,
    /// Why it went after its deadline.
    pub late: Option<String>,
}

/// How a notice's emails stand.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DeliveriesDoc {
    pub pending: u64,
    /// Of those pending, how many failed at least once and wait to be tried again.
    pub retrying: u64,
    pub sent: u64,
    /// Given up on: refused by the mail server (a bounce) or failing too long.
    pub dead: u64,
    /// Some that failed: the address, and why.
    pub failures: Vec<FailureDoc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FailureDoc {
    pub to: String,
    pub state: String,
    pub error: String,
}

impl WrittenNoticeDoc {
    pub fn of(
        incident: &Incident,
        notice: &tocsin_core::incident::IncidentNotice,
        plan: &Plan,
        deliveries: Option<&tocsin_store::outbox::Tally>,
    ) -> Self {
        let kind = plan.find_notice_kind(&notice.kind).ok();
        let def = kind.as_ref().and_then(|k| plan.notice(k));
        let required = kind
            .as_ref()
            .map(|k| tocsin_core::incident::required(plan, k))
            .unwrap_or_default();
        let prefix = crate::services::notices::outbox_prefix(incident.number, notice.number);
        WrittenNoticeDoc {
            incident: incident.number.to_string(),
            notice: notice.number,
            kind: notice.kind.clone(),
            subject: notice.subject.clone(),
            body: notice.body.clone(),
            version: notice.version,
            drafted: StampDoc::of(&notice.drafted),
            revised: notice.revised.as_ref().map(StampDoc::of),
            approvals: notice
                .approvals
                .iter()
                .map(|(version, s)| NoticeApprovalDoc {
                    version: *version,
                    by: s.by.to_string(),
                    at: s.at,
                })
                .collect(),
            needs_approval: def.is_some_and(|d| !d.approve_by.is_empty()),
            approved: notice.approved(),
            incomplete: tocsin_core::notice::check(&notice.body, &required)
                .err()
                .map(|e| e.to_string()),
            channel: def.and_then(|d| d.channel.clone()),
            sent: notice.sent.as_ref().map(|s| SentDoc {
                by: s.stamp.by.to_string(),
                at: s.stamp.at,
                version: s.version,
                recipients: s.recipients,
                late: s.late.clone(),
            }),
            deliveries: deliveries.map(|t| DeliveriesDoc {
                pending: t.pending,
                retrying: t.retrying,
                sent: t.sent,
                dead: t.dead,
                failures: t
                    .failures
                    .iter()
                    .map(|(key, state, error)| FailureDoc {
                        to: key.strip_prefix(&prefix).unwrap_or(key).to_owned(),
                        state: state.as_str().to_owned(),
                        error: error.clone(),
                    })
                    .collect(),
            }),
        }
    }
}

/// A recipient of an incident's notices.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RecipientDoc {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub added_at: Timestamp,
}

/// How one channel of the plan delivers.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChannelHealthDoc {
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// works, failing, or unused (no delivery yet).
    pub state: String,
    pub failing_since: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_ok: Option<Timestamp>,
    /// The channel that takes its news too while it fails.
    pub fallback: Option<String>,
    /// Whether its fallback was told that it fails.
    pub fallback_told: bool,
}

impl ChannelHealthDoc {
    /// Each channel of `plan`, as `health` says it delivers.
    pub fn all(plan: &Plan, health: &[tocsin_store::outbox::ChannelHealth]) -> Vec<Self> {
        plan.channels()
            .iter()
            .map(|c| {
                let h = health.iter().find(|h| h.channel == c.name);
                let state = match h {
                    Some(h) if h.failing_since.is_some() => "failing",
                    Some(h) if h.last_ok.is_some() => "works",
                    _ => "unused",
                };
                ChannelHealthDoc {
                    channel: c.name.clone(),
                    kind: c.kind.as_str().to_owned(),
                    state: state.to_owned(),
                    failing_since: h.and_then(|h| h.failing_since),
                    last_error: h.and_then(|h| h.failing_since.and(h.last_error.clone())),
                    last_ok: h.and_then(|h| h.last_ok),
                    fallback: c.fallback.clone(),
                    fallback_told: h.is_some_and(|h| h.announced.is_some()),
                }
            })
            .collect()
    }
}

/// A kept report, without its findings.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditSummaryDoc {
    id: i64,
    #[schema(value_type = String)]
    started_at: Timestamp,
    #[schema(value_type = String)]
    finished_at: Timestamp,
    /// `schedule`, or who ran it.
    by: String,
    findings: u64,
    /// Checks that could not run.
    failed: u64,
    title: String,
}

impl From<AuditReportSummary> for AuditSummaryDoc {
    fn from(s: AuditReportSummary) -> Self {
        AuditSummaryDoc {
            id: s.id,
            started_at: s.started_at,
            finished_at: s.finished_at,
            by: s.by,
            findings: s.findings,
            failed: s.failed,
            title: s.title,
        }
    }
}

/// A report whole: each check's outcome, summary, findings and measures, and what changed
/// since the report before; with the digest the plan's routes got.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditDoc {
    id: i64,
    title: String,
    digest: String,
    #[schema(value_type = Object)]
    report: Report,
}

impl AuditDoc {
    pub fn of(id: i64, report: Report) -> Self {
        let (title, digest) = report.digest();
        AuditDoc {
            id,
            title,
            digest,
            report,
        }
    }
}
