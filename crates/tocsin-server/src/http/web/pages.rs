//! The pages: dashboard, incident list, one incident, the declare form and the plan.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tocsin_core::incident::{IncidentNumber, Status};
use tocsin_core::plan::Plan;
use tocsin_store::IncidentFilter;

use super::views::{Choice, ClockView, IncidentPageView, SummaryView};
use super::{Layout, Signed, WebError, page};
use crate::http::api::incident_number;
use crate::http::auth::{Allowed, NeedAdmin, NeedRead, NeedRespond, Responder};
use crate::http::error::ApiError;
use crate::phrases::time;

/// Incidents of one severity on the dashboard.
struct SeverityGroup {
    id: String,
    name: String,
    incidents: Vec<SummaryView>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    groups: Vec<SeverityGroup>,
    active: usize,
    breached: usize,
    due_soon: usize,
    now: String,
}

/// Open clocks by incident, soonest first.
async fn clocks_by_incident(
    signed: &Signed<NeedRead>,
    zone: &jiff::tz::TimeZone,
) -> Result<HashMap<IncidentNumber, Vec<ClockView>>, WebError> {
    let reader = signed.0.read();
    let mut by_incident: HashMap<IncidentNumber, Vec<ClockView>> = HashMap::new();
    for open in reader.open_clocks().await?.iter() {
        by_incident
            .entry(open.incident)
            .or_default()
            .push(ClockView::of(&open.clock, signed.0.now, zone));
    }
    Ok(by_incident)
}

pub async fn dashboard(signed: Signed<NeedRead>) -> Result<Response, WebError> {
    let reader = signed.0.read();
    let plan = &reader.plan();
    let zone = plan.calendar().zone();
    let filter = IncidentFilter {
        statuses: vec![Status::Declared, Status::Acknowledged, Status::Resolved],
        ..IncidentFilter::default()
    };
    let incidents = reader.incidents(&filter).await?;
    let mut clocks = clocks_by_incident(&signed, zone).await?;
    let now = signed.0.now;
    let due_soon = clocks
        .values()
        .flatten()
        .filter(|c| c.state == "running" && !c.due_iso.is_empty())
        .filter(|c| {
            c.due_iso
                .parse::<jiff::Timestamp>()
                .is_ok_and(|due| due.as_second() - now.as_second() < 3_600)
        })
        .count();
    let breached = clocks.values().flatten().filter(|c| c.state == "breached").count();
    let groups = plan
        .severities()
        .iter()
        .map(|severity| SeverityGroup {
            id: severity.id.to_string(),
            name: severity.name.clone(),
            incidents: incidents
                .iter()
                .filter(|i| i.severity == severity.id.as_str())
                .map(|i| SummaryView::of(i, clocks.remove(&i.number).unwrap_or_default(), zone))
                .collect(),
        })
        .filter(|g| !g.incidents.is_empty())
        .collect();
    Ok(page(
        StatusCode::OK,
        &Dashboard {
            layout: Layout::new(&signed.0, "Dashboard", "dashboard"),
            groups,
            active: incidents.iter().filter(|i| i.status.is_active()).count(),
            breached,
            due_soon,
            now: time(now, zone),
        },
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    status: String,
    severity: String,
    owner: String,
    q: String,
    cursor: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentList {
    layout: Layout,
    incidents: Vec<SummaryView>,
    statuses: Vec<Choice>,
    severities: Vec<Choice>,
    owner: String,
    q: String,
    next: String,
}

const PAGE: u32 = 50;

pub async fn incidents(signed: Signed<NeedRead>, Query(query): Query<ListQuery>) -> Result<Response, WebError> {
    let reader = signed.0.read();
    let plan = &reader.plan();
    let zone = plan.calendar().zone();
    let statuses = match query.status.as_str() {
        "" | "open" => vec![Status::Declared, Status::Acknowledged, Status::Resolved],
        "all" => Vec::new(),
        one => vec![one.parse::<Status>().map_err(ApiError::bad_parameter)?],
    };
    let severity = plan.find_severity(&query.severity).ok().map(|s| s.id.to_string());
    let filter = IncidentFilter {
        statuses,
        severities: severity.iter().cloned().collect(),
        owner: Some(query.owner.trim().to_owned()).filter(|o| !o.is_empty()),
        text: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        before: query.cursor.parse().ok().and_then(IncidentNumber::new),
        limit: Some(PAGE + 1),
    };
    let incidents = reader.incidents(&filter).await?;
    let mut clocks = clocks_by_incident(&signed, zone).await?;
    let listed = crate::http::api::Page::cut(
        incidents.iter().collect(),
        PAGE as usize,
        |i| i.number.get().to_string(),
        |i| SummaryView::of(i, clocks.remove(&i.number).unwrap_or_default(), zone),
    );
    let next = listed.next_cursor.map_or_else(String::new, |cursor| {
        format!(
            "/incidents?status={}&severity={}&owner={}&q={}&cursor={cursor}",
            super::encode(&query.status),
            super::encode(&query.severity),
            super::encode(&query.owner),
            super::encode(&query.q),
        )
    });
    let mut status_choices = vec![Choice::new("open", "Open"), Choice::new("all", "All")];
    status_choices.extend(Status::ALL.iter().map(|s| Choice::new(s.as_str(), s.as_str())));
    for c in &mut status_choices {
        c.selected = c.value == query.status || (query.status.is_empty() && c.value == "open");
    }
    let mut severities = vec![Choice::new("", "Any severity")];
    severities.extend(plan.severities().iter().map(|s| Choice {
        value: s.id.to_string(),
        label: format!("{} — {}", s.id, s.name),
        selected: severity.as_deref() == Some(s.id.as_str()),
    }));
    Ok(page(
        StatusCode::OK,
        &IncidentList {
            layout: Layout::new(&signed.0, "Incidents", "incidents"),
            incidents: listed.items,
            statuses: status_choices,
            severities,
            owner: query.owner,
            q: query.q,
            next,
        },
    ))
}

#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    pub layout: Layout,
    pub i: IncidentPageView,
    /// A refused action, shown above the forms.
    pub problem: String,
    /// What a dry run of an action would send.
    pub dry_run: String,
    pub evidence: Vec<EvidenceRow>,
}

/// An item of evidence, as the incident page lists it.
pub struct EvidenceRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub size: u64,
    pub sha256: String,
    pub added: String,
}

/// The evidence of incident `number`, for its page; none when it cannot be read (the page
/// still shows the rest).
pub async fn evidence_rows(
    locker: &crate::services::evidence::Locker,
    number: IncidentNumber,
    zone: &jiff::tz::TimeZone,
) -> Vec<EvidenceRow> {
    match locker.list(number).await {
        Ok(items) => items
            .iter()
            .map(|e| EvidenceRow {
                id: e.id,
                name: e.name.clone(),
                kind: e.kind.clone(),
                size: e.size,
                sha256: e.sha256.clone(),
                added: format!("{} by {}", time(e.added, zone), e.added_by),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the evidence of {number}");
            Vec::new()
        }
    }
}

pub async fn incident(signed: Signed<NeedRead>, Path(id): Path<String>) -> Result<Response, WebError> {
    let number = incident_number(&id)?;
    let view = signed.0.read().incident(number).await?;
    let plan = &signed.0.read().plan();
    Ok(page(
        StatusCode::OK,
        &IncidentPage {
            layout: Layout::new(
                &signed.0,
                format!("{} {}", view.incident.number, view.incident.title),
                "incidents",
            ),
            i: IncidentPageView::of(&view.incident, &view.clocks, &view.timeline, plan, signed.0.now),
            problem: String::new(),
            dry_run: String::new(),
            evidence: evidence_rows(signed.0.evidence(), number, plan.calendar().zone()).await,
        },
    ))
}

#[derive(Template)]
#[template(path = "new_incident.html")]
pub struct NewIncident {
    pub layout: Layout,
    pub severities: Vec<Choice>,
    /// What each severity means, to choose from.
    pub help: Vec<SeverityHelp>,
    pub problem: String,
    pub title: String,
    pub summary: String,
}

pub struct SeverityHelp {
    pub id: String,
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
}

impl NewIncident {
    /// The declare form, again with what was typed and the problem when `problem` is set.
    pub fn new(layout: Layout, plan: &Plan, severity: &str, title: String, summary: String, problem: String) -> Self {
        NewIncident {
            layout,
            severities: severity_choices(plan, severity),
            help: plan
                .severities()
                .iter()
                .map(|s| SeverityHelp {
                    id: s.id.to_string(),
                    name: s.name.clone(),
                    description: s.description.clone(),
                    examples: s.examples.clone(),
                })
                .collect(),
            problem,
            title,
            summary,
        }
    }
}

pub async fn new_incident(signed: Signed<NeedRespond>) -> Response {
    let plan = &signed.0.read().plan();
    let layout = Layout::new(&signed.0, "Declare an incident", "new");
    page(
        StatusCode::OK,
        &NewIncident::new(layout, plan, "", String::new(), String::new(), String::new()),
    )
}

pub fn severity_choices(plan: &Plan, selected: &str) -> Vec<Choice> {
    plan.severities()
        .iter()
        .map(|s| Choice {
            value: s.id.to_string(),
            label: format!("{} — {}: acknowledge within {}", s.id, s.name, s.acknowledge_within),
            selected: s.id.as_str() == selected,
        })
        .collect()
}

struct SeverityRow {
    id: String,
    name: String,
    description: String,
    examples: Vec<String>,
    acknowledge: String,
    updates: String,
    customers: String,
    pages: bool,
}

struct StepRow {
    id: String,
    name: String,
    description: String,
    checklist: Vec<String>,
}

struct RoleRow {
    name: String,
    description: String,
    required_for: String,
    /// Who holds it until an incident assigns someone.
    holders: String,
}

struct ObligationRow {
    name: String,
    description: String,
    deadline: String,
}

#[derive(Template)]
#[template(path = "plan.html")]
pub(super) struct PlanPage {
    layout: Layout,
    organization: String,
    zone: String,
    digest: String,
    version: u64,
    applied: String,
    history: Vec<VersionRow>,
    /// Admins get an editor to apply a new version; what it holds.
    may_apply: bool,
    text: String,
    problems: Vec<String>,
    severities: Vec<SeverityRow>,
    steps: Vec<StepRow>,
    roles: Vec<RoleRow>,
    obligations: Vec<ObligationRow>,
    review: String,
    customers: String,
    recovery: String,
    people: Vec<String>,
    channels: Vec<String>,
    routes: Vec<String>,
    escalation: Vec<String>,
    disclosure: String,
}

struct VersionRow {
    version: u64,
    digest: String,
    applied: String,
    by: String,
    origin: String,
}

pub async fn plan(signed: Signed<NeedRead>) -> Response {
    match plan_page(&signed.0, None, Vec::new()).await {
        Ok(page_) => page(StatusCode::OK, &page_),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// The plan page; `text` and `problems`: a version an admin tried to apply, refused.
pub(super) async fn plan_page<N>(
    allowed: &Allowed<N>,
    text: Option<String>,
    problems: Vec<String>,
) -> Result<PlanPage, ApiError> {
    let active = allowed.read().active_plan();
    let plan = &*active.plan;
    let zone = plan.calendar().zone().clone();
    let or_dash = |d: Option<String>| d.unwrap_or_else(|| "—".into());
    let history = allowed.read().plan_history().await?;
    Ok(PlanPage {
        layout: Layout::new(allowed, "The plan", "plan"),
        organization: plan.organization().name.clone(),
        zone: plan.calendar().zone_name().to_owned(),
        digest: plan.digest()[..12].to_owned(),
        version: active.version.version,
        applied: format!(
            "{} by {}",
            time(active.version.applied_at, &zone),
            active.version.applied_by
        ),
        history: history
            .iter()
            .map(|v| VersionRow {
                version: v.version,
                digest: v.digest[..12].to_owned(),
                applied: time(v.applied_at, &zone),
                by: v.applied_by.clone(),
                origin: v.source.clone(),
            })
            .collect(),
        may_apply: allowed
            .caller
            .principal
            .permits(tocsin_core::identity::Permission::Admin),
        text: text.unwrap_or_else(|| active.version.text.clone()),
        problems,
        severities: plan
            .severities()
            .iter()
            .map(|s| SeverityRow {
                id: s.id.to_string(),
                name: s.name.clone(),
                description: s.description.clone(),
                examples: s.examples.clone(),
                acknowledge: s.acknowledge_within.to_string(),
                updates: or_dash(s.status_update_every.as_ref().map(|d| format!("every {d}"))),
                customers: or_dash(s.customer_notice_within.as_ref().map(|d| format!("within {d}"))),
                pages: s.pages,
            })
            .collect(),
        steps: plan
            .steps()
            .iter()
            .map(|s| StepRow {
                id: s.id.to_string(),
                name: s.name.clone(),
                description: s.description.clone(),
                checklist: s.checklist.clone(),
            })
            .collect(),
        roles: plan
            .roles()
            .iter()
            .map(|r| RoleRow {
                name: r.name.clone(),
                description: r.description.clone(),
                required_for: r
                    .required_for
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                holders: r
                    .people
                    .iter()
                    .map(|id| plan.person(id).map_or_else(|| id.clone(), |p| p.name.clone()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        obligations: plan
            .obligations()
            .iter()
            .map(|o| ObligationRow {
                name: o.name.clone(),
                description: o.description.clone(),
                deadline: match (o.within, o.remind_every) {
                    (Some(d), _) => format!("within {d} of {}", o.from.words()),
                    (None, Some(every)) => {
                        format!("without undue delay after {}, reminded every {every}", o.from.words())
                    }
                    (None, None) => format!("without undue delay after {}", o.from.words()),
                },
            })
            .collect(),
        review: format!("step {} within {}", plan.review().step, plan.review().within),
        customers: plan
            .customer_notice_when()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
        recovery: match plan.recovery().watch_seconds {
            Some(seconds) => format!(
                "for {} after resolution, {} times more sensitive",
                crate::phrases::span(seconds),
                plan.recovery().sensitivity
            ),
            None => "off".into(),
        },
        people: plan
            .people()
            .iter()
            .map(|p| {
                let mut reach = Vec::new();
                reach.extend(p.email.as_ref().map(|e| format!("email {e}")));
                reach.extend(p.telegram.map(|t| format!("Telegram {t}")));
                reach.extend(p.slack.as_ref().map(|s| format!("Slack {s}")));
                match reach.is_empty() {
                    true => format!("{} ({})", p.name, p.id),
                    false => format!("{} ({}): {}", p.name, p.id, reach.join(", ")),
                }
            })
            .collect(),
        channels: plan.channels().iter().map(channel_words).collect(),
        routes: plan.routes().iter().map(|r| route_words(r, &zone)).collect(),
        escalation: plan.escalation().map(escalation_words).unwrap_or_default(),
        disclosure: plan.disclosure().map_or_else(String::new, |d| {
            format!(
                "reports acknowledged within {}, assessed within {}{}",
                d.acknowledge_within,
                d.assess_within,
                d.contact.as_ref().map(|c| format!("; contact {c}")).unwrap_or_default()
            )
        }),
    })
}

/// A channel as the plan page shows it: where it goes, never its secret.
fn channel_words(c: &tocsin_core::plan::Channel) -> String {
    let to = match c.kind {
        tocsin_core::plan::ChannelKind::Email => c.to.join(", "),
        tocsin_core::plan::ChannelKind::Telegram => {
            c.chat.clone().map(|chat| format!("chat {chat}")).unwrap_or_default()
        }
        tocsin_core::plan::ChannelKind::Slack => "a Slack incoming webhook".into(),
        tocsin_core::plan::ChannelKind::SlackApp => c
            .chat
            .clone()
            .map(|chat| format!("Slack channel {chat}"))
            .unwrap_or_default(),
        tocsin_core::plan::ChannelKind::Webhook => c.url.clone().unwrap_or_default(),
    };
    format!("{} ({}): {to}", c.name, c.kind.as_str())
}

fn route_words(r: &tocsin_core::plan::Route, zone: &jiff::tz::TimeZone) -> String {
    let news = match r.events.is_empty() {
        true => "all news".to_owned(),
        false => r.events.join(", "),
    };
    let severities = match r.severities.is_empty() {
        true => "every severity".to_owned(),
        false => r
            .severities
            .iter()
            .map(tocsin_core::id::SeverityId::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    };
    let quiet = r
        .quiet_hours
        .map(|(start, end)| {
            format!(
                ", held {:02}:{:02}-{:02}:{:02} ({})",
                start / 60,
                start % 60,
                end / 60,
                end % 60,
                zone.iana_name().unwrap_or("the plan's zone")
            )
        })
        .unwrap_or_default();
    format!("{news} of {severities} → {}{quiet}", r.channels.join(", "))
}

fn escalation_words(e: &tocsin_core::plan::Escalation) -> Vec<String> {
    let mut lines: Vec<String> = e
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "level {}: after {}, call {}",
                i + 1,
                crate::phrases::span(l.after.as_secs() as i64),
                l.notify.join(", ")
            )
        })
        .collect();
    if let Some(every) = e.repeat {
        lines.push(format!(
            "the last level again every {}",
            crate::phrases::span(every.as_secs() as i64)
        ));
    }
    lines.push(format!(
        "for {} while unacknowledged, on {}",
        e.severities
            .iter()
            .map(tocsin_core::id::SeverityId::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        e.channels.join(", ")
    ));
    lines
}

struct SignalRow {
    at: String,
    detector: String,
    /// What the key names: address, account, agent, ...
    subject: &'static str,
    key: String,
    accounts: String,
    /// The events it cites, each linked to its page.
    samples: Vec<u64>,
    severity: String,
    count: u64,
    incident: String,
    action: String,
    summary: String,
    suppressed: String,
}

#[derive(Template)]
#[template(path = "signals.html")]
struct SignalsPage {
    layout: Layout,
    detector: String,
    key: String,
    detectors: Vec<&'static str>,
    signals: Vec<SignalRow>,
    next: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignalQuery {
    detector: String,
    key: String,
    cursor: String,
}

pub async fn signals(signed: Signed<NeedRead>, Query(query): Query<SignalQuery>) -> Result<Response, WebError> {
    let reader = signed.0.read();
    let zone = reader.plan().calendar().zone().clone();
    let filter = tocsin_store::signals::SignalFilter {
        detector: Some(query.detector.trim().to_owned()).filter(|d| !d.is_empty()),
        key: Some(query.key.trim().to_owned()).filter(|k| !k.is_empty()),
        before: query.cursor.parse().ok(),
        limit: PAGE + 1,
        ..Default::default()
    };
    let found = reader.signals(&filter).await.map_err(ApiError::from)?;
    let listed = crate::http::api::Page::cut(
        found,
        PAGE as usize,
        |s| s.id.to_string(),
        |s| SignalRow {
            at: time(s.signal.at, &zone),
            detector: s.signal.detector.to_string(),
            subject: s.signal.detector.subject(),
            key: s.signal.key.clone(),
            accounts: s.signal.accounts.join(", "),
            samples: s.signal.samples.clone(),
            severity: s.severity.clone(),
            count: s.signal.count,
            incident: s.incident.map(|n| n.to_string()).unwrap_or_default(),
            action: s.disposition.as_str().to_owned(),
            summary: s.signal.summary.clone(),
            suppressed: s.suppressed.clone().unwrap_or_default(),
        },
    );
    let next = listed.next_cursor.map_or_else(String::new, |cursor| {
        format!(
            "/signals?detector={}&key={}&cursor={cursor}",
            super::encode(&query.detector),
            super::encode(&query.key)
        )
    });
    Ok(page(
        StatusCode::OK,
        &SignalsPage {
            layout: Layout::new(&signed.0, "Signals", "signals"),
            detector: query.detector,
            key: query.key,
            detectors: tocsin_core::detector::DetectorId::names().collect(),
            signals: listed.items,
            next,
        },
    ))
}

struct NotificationRow {
    id: i64,
    created: String,
    channel: String,
    kind: String,
    incident: String,
    state: &'static str,
    attempts: u32,
    when: String,
    error: String,
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    layout: Layout,
    state: String,
    notifications: Vec<NotificationRow>,
    /// Each channel: (name, type, state, detail, fallback).
    channels: Vec<(String, String, String, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OutboxQuery {
    state: String,
}

#[derive(Template)]
#[template(path = "logins.html")]
struct LoginsPage {
    layout: Layout,
    ip: String,
    user: String,
    outcome: String,
    since: String,
    problem: String,
    attempts: Vec<LoginRow>,
    next: String,
}

struct LoginRow {
    at: String,
    outcome: String,
    reason: String,
    user: String,
    ip: String,
    service: String,
    user_agent: String,
    seq: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginsQuery {
    ip: String,
    user: String,
    outcome: String,
    /// A time: RFC 3339, or "2026-11-20 09:00" in the plan's zone.
    since: String,
    cursor: String,
}

/// The login trail, for admins: every attempt to log in, filtered as `tocsin logins` does.
pub async fn logins(signed: Signed<NeedAdmin>, Query(query): Query<LoginsQuery>) -> Result<Response, WebError> {
    use tocsin_core::event::AuthOutcome;
    use tocsin_store::events::{TrailCursor, TrailFilter};
    let admin = &signed.0;
    let plan = admin.read().plan();
    let zone = plan.calendar().zone().clone();
    let text = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
    let mut problem = String::new();
    let outcome = match query.outcome.trim() {
        "" => None,
        "success" => Some(AuthOutcome::Success),
        "failure" => Some(AuthOutcome::Failure),
        other => {
            problem = format!("unknown outcome \"{other}\"; choose success or failure");
            None
        }
    };
    let since = match text(&query.since) {
        None => None,
        Some(t) => match crate::phrases::parse_time(&t, &zone, admin.now).ok() {
            Some(at) => Some(at),
            None => {
                problem = format!("\"{t}\" is not a time; write it like 2026-11-20 09:00 or 2026-11-20T09:00:00Z");
                None
            }
        },
    };
    let filter = TrailFilter {
        ip: text(&query.ip),
        user: text(&query.user),
        outcome,
        since,
        until: None,
        after: TrailCursor::decode(query.cursor.trim()),
        limit: PAGE + 1,
    };
    let found = admin.login_trail(&filter).await.map_err(ApiError::from)?;
    let listed = crate::http::api::Page::cut(
        found,
        PAGE as usize,
        |e| TrailCursor::of(e).encode(),
        |e| {
            let doc = crate::documents::LoginDoc::of(e).expect("the trail holds auth events");
            LoginRow {
                at: time(doc.at, &zone),
                outcome: doc.outcome,
                reason: doc.reason,
                user: doc.user,
                ip: doc.ip,
                service: doc.service,
                user_agent: doc.user_agent.unwrap_or_default(),
                seq: doc.seq,
            }
        },
    );
    let next = listed.next_cursor.map_or_else(String::new, |cursor| {
        format!(
            "/logins?ip={}&user={}&outcome={}&since={}&cursor={}",
            super::encode(&query.ip),
            super::encode(&query.user),
            super::encode(&query.outcome),
            super::encode(&query.since),
            super::encode(&cursor)
        )
    });
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(page(
        status,
        &LoginsPage {
            layout: Layout::new(admin, "Login trail", "logins"),
            ip: query.ip,
            user: query.user,
            outcome: query.outcome,
            since: query.since,
            problem,
            attempts: listed.items,
            next,
        },
    ))
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    layout: Layout,
    seq: u64,
    kind: String,
    at: String,
    received: String,
    origin: String,
    /// The event's fields, pretty-printed.
    body: String,
}

/// One event of the log, as signals cite it.
pub async fn event(signed: Signed<NeedRead>, Path(seq): Path<String>) -> Result<Response, WebError> {
    let reader = signed.0.read();
    let zone = reader.plan().calendar().zone().clone();
    let number: u64 = seq
        .parse()
        .map_err(|_| ApiError::invalid(format!("\"{seq}\" is not an event number")))?;
    let found = reader.events_by_seq(&[number]).await.map_err(ApiError::from)?;
    let Some(stored) = found.first() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the event log holds no event {number} (never sent, or past retention)"),
        )
        .into());
    };
    let doc = crate::documents::EventDoc::of(stored);
    Ok(page(
        StatusCode::OK,
        &EventPage {
            layout: Layout::new(&signed.0, format!("Event #{number}"), "signals"),
            seq: number,
            kind: doc.kind.clone(),
            at: time(doc.at, &zone),
            received: time(doc.received_at, &zone),
            origin: doc.origin.clone(),
            body: serde_json::to_string_pretty(&doc.event).unwrap_or_default(),
        },
    ))
}

/// The outbox: notifications waiting, sent and dead, newest first; a responder can send a
/// dead one again.
pub async fn outbox(signed: Signed<NeedRead>, Query(query): Query<OutboxQuery>) -> Result<Response, WebError> {
    use tocsin_store::outbox::{Delivery, OutboxFilter};
    let reader = signed.0.read();
    let zone = reader.plan().calendar().zone().clone();
    let filter = OutboxFilter {
        state: Delivery::parse(query.state.trim()),
        limit: PAGE,
        ..OutboxFilter::default()
    };
    let found = reader.outbox(&filter).await.map_err(ApiError::from)?;
    let health = reader.channel_health().await.map_err(ApiError::from)?;
    let channels = crate::documents::ChannelHealthDoc::all(&reader.plan(), &health)
        .into_iter()
        .map(|c| {
            let detail = match (c.failing_since, c.last_ok) {
                (Some(since), _) => format!(
                    "failing since {}: {}",
                    time(since, &zone),
                    c.last_error.unwrap_or_default()
                ),
                (None, Some(ok)) => format!("last delivery {}", time(ok, &zone)),
                (None, None) => "nothing sent yet".to_owned(),
            };
            let fallback = match (c.fallback, c.fallback_told) {
                (Some(f), true) => format!("{f} (takes its news now)"),
                (Some(f), false) => f,
                (None, _) => String::new(),
            };
            (c.channel, c.kind, c.state, detail, fallback)
        })
        .collect();
    let notifications = found
        .iter()
        .map(|n| NotificationRow {
            id: n.id,
            created: time(n.created_at, &zone),
            channel: n.channel.clone(),
            kind: n.kind.clone(),
            incident: n.incident.map(|i| i.to_string()).unwrap_or_default(),
            state: n.state.as_str(),
            attempts: n.attempts,
            when: match (n.state, n.sent_at) {
                (Delivery::Sent, Some(at)) => time(at, &zone),
                (Delivery::Pending, _) => time(n.next_at, &zone),
                _ => String::new(),
            },
            error: n.last_error.clone().unwrap_or_default(),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &OutboxPage {
            layout: Layout::new(&signed.0, "Outbox", "outbox"),
            state: filter.state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            notifications,
            channels,
        },
    ))
}

/// Where a responder's form on the incident page leads: back to the page after a change
/// (`Ok(None)`), or the page again with what a dry run would send or what was refused.
pub async fn after(allowed: &Responder, id: &str, result: Result<Option<String>, ApiError>) -> Response {
    let number = match incident_number(id) {
        Ok(number) => number,
        Err(e) => return WebError::from(e).into_response(),
    };
    let (status, problem, dry_run) = match result {
        Ok(None) => {
            allowed.changed(number);
            return Redirect::to(&format!("/incidents/{number}")).into_response();
        }
        Ok(Some(dry)) => (StatusCode::OK, String::new(), dry),
        Err(error) => (error.status, error.message, String::new()),
    };
    let desk = allowed.desk();
    match desk.incident(number).await {
        Ok(view) => page(
            status,
            &IncidentPage {
                layout: Layout::new(allowed, format!("{} {}", number, view.incident.title), "incidents"),
                i: IncidentPageView::of(&view.incident, &view.clocks, &view.timeline, &desk.plan(), allowed.now),
                problem,
                dry_run,
                evidence: evidence_rows(allowed.evidence(), number, desk.plan().calendar().zone()).await,
            },
        ),
        Err(e) => WebError::from(e).into_response(),
    }
}
