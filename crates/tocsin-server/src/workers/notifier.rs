//! The notifier follows the audit chain: each change to an incident that a route of the
//! plan carries becomes a notification per channel in the outbox. Its cursor moves in the
//! same transaction as the notifications are stored, and each notification's key is the
//! audit entry and the channel, so every change is told once, whatever stops the process.

use std::sync::Arc;
use std::time::Duration;

use tocsin_core::Timestamp;
use tocsin_core::audit::AuditEntry;
use tocsin_core::clock::{Clock, ClockKind};
use tocsin_core::incident::{
    Actor, Command, Incident, IncidentEvent, IncidentNotice, IncidentNumber, Status, approvers,
};
use tocsin_core::plan::{ChannelKind, Plan};
use tocsin_notify::{Message, Recipient};
use tocsin_store::ChainStore;
use tocsin_store::outbox::{NewApprovalLink, NewNotification, OutboxStore};
use tocsin_store::recipients::RecipientStore;
use tocsin_store::signals::SignalStore;

use crate::phrases::{due, span, time};
use crate::services::identity::{digest, random_token};
use crate::services::incidents::IncidentView;
use crate::wake::Wake;
use crate::workers::store_view;
use crate::{Desk, DeskError};

store_view! {
    /// What the notifier reads (the audit chain, the signals, its cursors) and where it
    /// queues.
    NotifierStore: SignalStore, ChainStore, OutboxStore, RecipientStore
}

/// The notifier's cursor in the audit chain.
pub const FOLLOWER: &str = "notifier";
/// Its cursor in the signals (the last signal id told).
pub const SIGNALS: &str = "notifier-signals";
/// Signals older than this when first seen are not told: news that stale would only be
/// noise (a first start on a database with history, a long outage).
const STALE_SIGNAL: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);
/// Audit entries read per round.
const ROUND: u32 = 500;
/// How often the audit chain is looked at when nothing new was found.
const POLL: Duration = Duration::from_millis(250);

/// What one round of [`notify_new`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Told {
    /// Audit entries read.
    pub entries: usize,
    /// Notifications queued for them.
    pub queued: usize,
}

/// Turns the audit entries after the cursor into notifications.
pub async fn notify_new(
    store: &(impl NotifierStore + ?Sized),
    desk: &Desk,
    public_url: Option<&str>,
) -> Result<Told, DeskError> {
    let cursor = store.event_cursor(FOLLOWER).await?;
    let entries = store.audit_entries(cursor, ROUND).await?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(Told::default());
    };
    let plan = &desk.plan();
    let zone = plan.calendar().zone();
    let now = Timestamp::now();
    let mut notes = Vec::new();
    let mut queued_apart = 0;
    for entry in &entries {
        let Some(number) = entry.incident else { continue };
        if entry.action == "notice_sent" {
            queued_apart += notice_mails(store, desk, entry, now).await?;
        }
        let mut news = news_of(entry);
        if entry.action == "notice_sent"
            && sent_notice(desk, entry)
                .await?
                .is_some_and(|n| n.kind == "status-update")
        {
            news = "status_update";
        }
        if !tocsin_core::plan::NEWS.contains(&news) || plan.routes().is_empty() {
            continue;
        }
        let view = desk.incident_shared(number).await?;
        let severity = view.incident.severity.as_str();
        for route in plan.routes_for(news, Some(severity)) {
            for channel in &route.channels {
                let key = format!("audit-{}:{channel}", entry.seq);
                let mut message = message(entry, &view, &key, now, zone, public_url);
                message.kind = news.to_owned();
                let at = route.send_at(entry.recorded_at, zone);
                notes.extend(approval_mails(plan, channel, &message, &view.incident, public_url, at));
                notes.push(queued(&message, channel, number, at));
            }
        }
    }
    store.enqueue_following(FOLLOWER, last, &notes, now).await?;
    Ok(Told {
        entries: entries.len(),
        queued: notes.len() + queued_apart,
    })
}

/// Recipients read and queued at a time.
const RECIPIENT_PAGE: u32 = 2_000;

/// The notice a `notice_sent` entry sent, as it is (a sent notice does not change).
async fn sent_notice(desk: &Desk, entry: &AuditEntry) -> Result<Option<IncidentNotice>, DeskError> {
    let (Some(number), Some(notice)) = (entry.incident, entry.data["notice"].as_u64()) else {
        return Ok(None);
    };
    let view = desk.incident_shared(number).await?;
    Ok(u32::try_from(notice)
        .ok()
        .and_then(|n| view.incident.notice(n))
        .cloned())
}

/// For a notice sent by email: one notification per recipient on its kind's channel, to
/// the first `recipients` of the incident's list (those it was sent to). They are queued
/// before the cursor moves past the entry, page by page; a page queued again after a crash
/// is stored once (by key). They are not ordered among themselves, nor put on the timeline
/// one by one: `tocsin notice status` tells how they went.
async fn notice_mails(
    store: &(impl NotifierStore + ?Sized),
    desk: &Desk,
    entry: &AuditEntry,
    now: Timestamp,
) -> Result<usize, DeskError> {
    let (Some(number), Some(notice)) = (entry.incident, sent_notice(desk, entry).await?) else {
        return Ok(0);
    };
    let plan = desk.plan();
    let Some(channel) = plan
        .find_notice_kind(&notice.kind)
        .ok()
        .and_then(|kind| plan.notice(&kind).and_then(|d| d.channel.clone()))
    else {
        return Ok(0);
    };
    let total = entry.data["recipients"].as_u64().unwrap_or(0);
    let prefix = crate::services::notices::outbox_prefix(number, notice.number);
    let (mut after, mut stored, mut read) = (0, 0, 0_u64);
    while read < total {
        let page = store.recipients(number, after, RECIPIENT_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let take = usize::try_from(total - read).unwrap_or(usize::MAX).min(page.len());
        read += take as u64;
        let notes: Vec<NewNotification> = page[..take]
            .iter()
            .map(|r| {
                let message = Message {
                    id: format!("{prefix}{}", r.email),
                    kind: "notice".to_owned(),
                    incident: Some(number.to_string()),
                    notice: Some(notice.number),
                    to: vec![Recipient {
                        name: r.name.clone().unwrap_or_else(|| r.email.clone()),
                        email: Some(r.email.clone()),
                        telegram: None,
                        slack: None,
                    }],
                    ..Message::default()
                };
                queued(&message, &channel, None, now)
            })
            .collect();
        stored += store.enqueue(&notes, now).await? as usize;
    }
    Ok(stored)
}

/// The kind of news an audit entry is: its action, but a recorded status update is news of
/// its own, whose text goes out, and a run asked for is news only while it waits for
/// someone's approval.
fn news_of(entry: &AuditEntry) -> &str {
    if entry.action == "notice_recorded" && entry.data["kind"] == "status-update" {
        return "status_update";
    }
    if entry.action == "action_requested" && entry.data["needs"] == 0 {
        return "";
    }
    &entry.action
}

/// Follows the audit chain and watches the clocks until the process ends: woken by each
/// change the desk commits, and at least every [`POLL`] for other processes' changes and
/// for the clocks. It rings `outbox` when it queued notifications.
pub async fn follow<S: NotifierStore + ?Sized>(store: Arc<S>, desk: Desk, public_url: Option<String>, outbox: Wake) {
    let mut changes = desk.listen();
    loop {
        match notify_new(&*store, &desk, public_url.as_deref()).await {
            Ok(read) => {
                if read.queued > 0 {
                    outbox.ring();
                }
                if read.entries == ROUND as usize {
                    continue;
                }
            }
            Err(e) => tracing::error!(error = %e, "turning incident changes into notifications failed; trying again"),
        }
        let mut queued = match notify_signals(&*store, &desk).await {
            Ok(read) => read > 0,
            Err(e) => {
                tracing::error!(error = %e, "turning signals into notifications failed; trying again");
                false
            }
        };
        let now = Timestamp::now();
        match warn_clocks(&*store, &desk, public_url.as_deref(), now).await {
            Ok(n) => queued |= n > 0,
            Err(e) => tracing::error!(error = %e, "warning of clocks failed; trying again"),
        }
        match escalate(&*store, &desk, public_url.as_deref(), now).await {
            Ok(n) => queued |= n > 0,
            Err(e) => tracing::error!(error = %e, "escalating unacknowledged incidents failed; trying again"),
        }
        if queued {
            outbox.ring();
        }
        changes.wait(POLL).await;
    }
}

/// Tells new signals on the routes that ask for them by name (`events = ["signal"]`: a
/// route for every kind of news would otherwise carry each signal of an attack); how
/// many signals it read.
pub async fn notify_signals(store: &(impl NotifierStore + ?Sized), desk: &Desk) -> Result<usize, DeskError> {
    let plan = &desk.plan();
    let wanted = |r: &&tocsin_core::plan::Route| r.events.iter().any(|e| e == "signal");
    if !plan.routes().iter().any(|r| wanted(&r)) {
        return Ok(0);
    }
    let cursor = store.event_cursor(SIGNALS).await?;
    let filter = tocsin_store::signals::SignalFilter {
        after: Some(cursor as i64),
        limit: ROUND,
        ..Default::default()
    };
    let signals = store.signals(&filter).await?;
    let Some(last) = signals.last().map(|s| s.id) else {
        return Ok(0);
    };
    let now = Timestamp::now();
    let zone = plan.calendar().zone();
    let mut notes = Vec::new();
    for record in signals
        .iter()
        .filter(|s| s.suppressed.is_none() && s.recorded_at > now - STALE_SIGNAL)
    {
        let signal = &record.signal;
        let text = format!(
            "{} on {}: {} events from {} to {}; the plan's rule: {}",
            signal.detector,
            signal.key,
            signal.count,
            time(signal.first_at, zone),
            time(signal.last_at, zone),
            record.disposition.as_str()
        );
        for route in plan.routes_for("signal", Some(&record.severity)).filter(wanted) {
            for channel in &route.channels {
                let message = Message {
                    id: format!("signal-{}:{channel}", record.id),
                    kind: "signal".into(),
                    severity: Some(record.severity.clone()),
                    title: signal.summary.clone(),
                    text: text.clone(),
                    ..Message::default()
                };
                notes.push(queued(
                    &message,
                    channel,
                    record.incident,
                    route.send_at(record.recorded_at, zone),
                ));
            }
        }
    }
    store.enqueue_following(SIGNALS, last as u64, &notes, now).await?;
    Ok(signals.len())
}

/// The shares of a clock's time after which it is warned of.
const WARN_AT: [u32; 2] = [50, 80];

/// Who tocsin's own records are by.
fn tocsin() -> Actor {
    Actor::parse("tocsin").expect("a valid name")
}

/// Puts what the notifier told on the incident's timeline, once: a warning or call already
/// there is not recorded again.
async fn record(desk: &Desk, number: IncidentNumber, event: IncidentEvent, now: Timestamp) -> Result<(), DeskError> {
    let told = desk.incident_shared(number).await?;
    if event.told_key().is_some_and(|key| told.incident.told.contains(&key)) {
        return Ok(());
    }
    desk.act(number, &Command::Record { event }, &tocsin(), None, now)
        .await?;
    Ok(())
}

/// Warns of every open clock that passed half or four fifths of its time, or its deadline,
/// by `now`: only its latest such point, once per deadline (a deadline that moves is warned
/// of again), on the incident's timeline and on the routes that carry clock news. A clock
/// without a deadline whose obligation reminds does so at its cadence. A status update's
/// reminders are meant for the incident's owner too. How many notifications were new.
pub async fn warn_clocks(
    store: &(impl NotifierStore + ?Sized),
    desk: &Desk,
    public_url: Option<&str>,
    now: Timestamp,
) -> Result<u64, DeskError> {
    let plan = &desk.plan();
    let zone = plan.calendar().zone();
    let mut notes = Vec::new();
    for open in desk.open_clocks().await?.iter() {
        let clock = &open.clock;
        let Some(warning) = warning(plan, clock, now) else {
            continue;
        };
        let event = IncidentEvent::ClockWarned {
            clock: clock.id.clone(),
            point: warning.point.clone(),
            due: clock.due_at,
        };
        if let Err(e) = record(desk, open.incident, event, now).await {
            tracing::warn!(incident = %open.incident, clock = %clock.id, error = %e, "a clock warning could not be put on the timeline");
        }
        let mut to = Vec::new();
        if clock.kind == ClockKind::StatusUpdate {
            let view = desk.incident_shared(open.incident).await?;
            to = recipients(plan, &view.incident, &["owner".to_owned()]);
        }
        for route in plan.routes_for(warning.news, Some(&open.severity)) {
            for channel in &route.channels {
                let key = format!("clock:{}:{}:{}:{channel}", open.incident, clock.id, warning.key);
                let message = Message {
                    id: key,
                    kind: warning.news.to_owned(),
                    incident: Some(open.incident.to_string()),
                    severity: Some(open.severity.clone()),
                    title: open.title.clone(),
                    text: warning.text.clone(),
                    deadline: Some(match clock.due_at {
                        Some(due) => format!("{} due {}", clock.name, time(due, zone)),
                        None => format!("{} without undue delay", clock.name),
                    }),
                    link: link(public_url, open.incident),
                    awaits_ack: clock.kind == ClockKind::Acknowledge,
                    approve_run: None,
                    approve_link: None,
                    notice: None,
                    to: to.clone(),
                    thread: None,
                };
                notes.push(queued(&message, channel, open.incident, route.send_at(now, zone)));
            }
        }
    }
    if notes.is_empty() {
        return Ok(0);
    }
    Ok(store.enqueue(&notes, now).await?)
}

/// The latest point an open clock reached by `now`, if it is one to tell.
struct Warning {
    /// clock_warning or clock_breached.
    news: &'static str,
    /// As the timeline says it: `50%`, `breached`, `reminder 2`.
    point: String,
    /// Unique per clock, deadline and point, for the notifications' keys.
    key: String,
    text: String,
}

fn warning(plan: &Plan, clock: &Clock, now: Timestamp) -> Option<Warning> {
    let zone = plan.calendar().zone();
    let Some(due) = clock.due_at else {
        let (count, _) = clock.reminders(now, plan.calendar())?;
        return Some(Warning {
            news: "clock_warning",
            point: format!("reminder {count}"),
            key: format!("remind:{count}"),
            text: format!(
                "{} is not met yet, {} after it started (reminder {count}); record the notice, or mark it not required with the reason",
                clock.name,
                span(now.duration_since(clock.started_at).as_secs())
            ),
        });
    };
    let whole = due.duration_since(clock.started_at);
    if !whole.is_positive() {
        return None;
    }
    let local = time(due, zone);
    if now >= due {
        return Some(Warning {
            news: "clock_breached",
            point: "breached".into(),
            key: format!("{}:breach", due.as_millisecond()),
            text: format!("{} was due {local} and is not met", clock.name),
        });
    }
    let passed = now.duration_since(clock.started_at);
    let share = (passed.as_secs_f64() / whole.as_secs_f64() * 100.0) as u32;
    let point = WARN_AT.iter().rev().find(|p| share >= **p)?;
    Some(Warning {
        news: "clock_warning",
        point: format!("{point}%"),
        key: format!("{}:{point}", due.as_millisecond()),
        text: format!(
            "{} is due {local}: {} left, {point}% of its time gone",
            clock.name,
            span(due.duration_since(now).as_secs())
        ),
    })
}

/// Calls the people of the plan's escalation while an incident at an escalating severity
/// waits to be acknowledged: each level once it is due (only the latest, after a pause),
/// and the last again at the plan's `repeat`, until someone acknowledges. How many
/// notifications were new.
pub async fn escalate(
    store: &(impl NotifierStore + ?Sized),
    desk: &Desk,
    public_url: Option<&str>,
    now: Timestamp,
) -> Result<u64, DeskError> {
    let plan = &desk.plan();
    let Some(escalation) = plan.escalation() else {
        return Ok(0);
    };
    let zone = plan.calendar().zone();
    let mut notes = Vec::new();
    let waiting = desk.open_clocks().await?;
    for open in waiting.iter().filter(|o| o.clock.kind == ClockKind::Acknowledge) {
        if !escalation.severities.iter().any(|s| s.as_str() == open.severity) {
            continue;
        }
        let waited = now.duration_since(open.clock.started_at).as_secs().max(0) as u64;
        let Some(index) = escalation.levels.iter().rposition(|l| waited >= l.after.as_secs()) else {
            continue;
        };
        let level = &escalation.levels[index];
        let last = index + 1 == escalation.levels.len();
        let round = match (last, escalation.repeat) {
            (true, Some(every)) => (waited - level.after.as_secs()) / every.as_secs().max(1),
            _ => 0,
        };
        let view = desk.incident_shared(open.incident).await?;
        let to = recipients(plan, &view.incident, &level.notify);
        let names: Vec<&str> = to.iter().map(|p| p.name.as_str()).collect();
        let whom = match names.is_empty() {
            true => "nobody is assigned yet".to_owned(),
            false => format!("calling {}", names.join(", ")),
        };
        let text = match round {
            0 => format!(
                "Not acknowledged after {}: {whom} (escalation {} of {})",
                span(waited as i64),
                index + 1,
                escalation.levels.len()
            ),
            _ => format!("Still not acknowledged after {}: {whom} again", span(waited as i64)),
        };
        let called = IncidentEvent::Escalated {
            level: index as u32 + 1,
            round,
            to: names.iter().map(|n| (*n).to_owned()).collect(),
        };
        if let Err(e) = record(desk, open.incident, called, now).await {
            tracing::warn!(incident = %open.incident, error = %e, "an escalation call could not be put on the timeline");
        }
        let deadline = open.clock.due_at.map(|at| due(&open.clock.name, at, now, zone));
        for channel in &escalation.channels {
            let message = Message {
                id: format!("escalate:{}:{index}:{round}:{channel}", open.incident),
                kind: "escalation".into(),
                incident: Some(open.incident.to_string()),
                severity: Some(open.severity.clone()),
                title: open.title.clone(),
                text: text.clone(),
                deadline: deadline.clone(),
                link: link(public_url, open.incident),
                awaits_ack: true,
                approve_run: None,
                approve_link: None,
                notice: None,
                to: to.clone(),
                thread: None,
            };
            notes.push(queued(&message, channel, open.incident, now));
        }
    }
    if notes.is_empty() {
        return Ok(0);
    }
    Ok(store.enqueue(&notes, now).await?)
}

/// The people `names` stands for on `incident`: `owner`, a role (whoever holds it on the
/// incident, else the plan's people for it), or a person of the plan. A name the plan
/// does not know (an owner with no `[[person]]`) is still named, with no address.
pub fn recipients(plan: &Plan, incident: &Incident, names: &[String]) -> Vec<Recipient> {
    let person = |id: &str| match plan.person(id) {
        Some(p) => Recipient {
            name: p.name.clone(),
            email: p.email.clone(),
            telegram: p.telegram,
            slack: p.slack.clone(),
        },
        None => Recipient {
            name: id.to_owned(),
            email: None,
            telegram: None,
            slack: None,
        },
    };
    let mut out: Vec<Recipient> = Vec::new();
    for name in names {
        let ids: Vec<String> = if name == "owner" {
            incident.owner.iter().cloned().collect()
        } else if let Some(role) = plan.roles().iter().find(|r| r.id.as_str() == name) {
            match incident.roles.get(&role.id) {
                Some(holder) => vec![holder.clone()],
                None => role.people.clone(),
            }
        } else {
            vec![name.clone()]
        };
        for id in ids {
            let p = person(&id);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The message for one change: the severity, the title, what changed, the most urgent
/// open clock with the time left on it, and where to see the incident.
fn message(
    entry: &AuditEntry,
    view: &IncidentView,
    id: &str,
    now: Timestamp,
    zone: &jiff::tz::TimeZone,
    public_url: Option<&str>,
) -> Message {
    let incident = &view.incident;
    let who = &entry.actor;
    let text = match IncidentEvent::from_json(entry.data.clone()) {
        Ok(IncidentEvent::Declared(d)) if d.summary.is_empty() => format!("Declared by {who}"),
        Ok(IncidentEvent::Declared(d)) => format!("Declared by {who}: {}", d.summary),
        Ok(IncidentEvent::Acknowledged {}) => format!("Acknowledged by {who}"),
        Ok(IncidentEvent::SeverityChanged { from, to, reason, .. }) => {
            format!("Severity {from} → {to} by {who}: {reason}")
        }
        Ok(IncidentEvent::StepCompleted { step }) => format!("Step {step} completed by {who}"),
        Ok(IncidentEvent::Resolved { summary }) => match summary {
            Some(summary) => format!("Resolved by {who}: {summary}"),
            None => format!("Resolved by {who}"),
        },
        Ok(IncidentEvent::Closed { .. }) => format!("Closed by {who}"),
        Ok(IncidentEvent::NoticeRecorded { kind, note }) if kind == "status-update" => match note {
            Some(note) => format!("Status update from {who}: {note}"),
            None => format!("Status update recorded by {who}"),
        },
        Ok(event @ IncidentEvent::ActionRequested { .. }) => format!("{who} {}", crate::phrases::event(&event)),
        Ok(IncidentEvent::NoticeSent { notice, .. })
            if let Some(written) = incident.notice(notice)
                && written.kind == "status-update" =>
        {
            format!(
                "Status update from {who}: {}",
                tocsin_core::action::cut(&written.body, 1_500)
            )
        }
        Ok(event @ IncidentEvent::NoticeSent { .. }) => format!("{who} {}", crate::phrases::event(&event)),
        _ => format!("{} by {who}", entry.action.replace('_', " ")),
    };
    let deadline = view
        .clocks
        .iter()
        .filter(|c| c.open)
        .filter_map(|c| c.due_at.map(|due| (due, c)))
        .min_by_key(|(due, _)| *due)
        .map(|(at, clock)| due(&clock.name, at, now, zone));
    Message {
        id: id.to_owned(),
        kind: entry.action.clone(),
        incident: Some(incident.number.to_string()),
        severity: Some(incident.severity.to_string()),
        title: incident.title.clone(),
        text,
        deadline,
        link: link(public_url, incident.number),
        awaits_ack: matches!(incident.status, Status::Declared),
        // A run asked for that waits for approval offers the button for it.
        approve_run: match IncidentEvent::from_json(entry.data.clone()) {
            Ok(IncidentEvent::ActionRequested { run, needs, .. }) if needs > 0 => Some(run),
            _ => None,
        },
        approve_link: None,
        notice: None,
        to: Vec::new(),
        thread: None,
    }
}

/// For a run waiting for approval, on an email channel: a message to each person who may
/// approve it, with a link of their own that approves it as them, once, until the
/// request expires. Only the link's hash is stored beside it. None without tocsin's own
/// address, which the links need.
fn approval_mails(
    plan: &Plan,
    channel: &str,
    message: &Message,
    incident: &Incident,
    public_url: Option<&str>,
    not_before: Timestamp,
) -> Vec<NewNotification> {
    let (Some(number), Some(base)) = (message.approve_run, public_url) else {
        return Vec::new();
    };
    let email = plan.channel(channel).is_some_and(|c| c.kind == ChannelKind::Email);
    let Some(run) = incident.run(number).filter(|_| email) else {
        return Vec::new();
    };
    let Some(expires_at) = run.expires_at else {
        return Vec::new();
    };
    approvers(incident, plan, run)
        .into_iter()
        .filter(|person| person.email.is_some())
        .map(|person| {
            let secret = random_token();
            let mut mail = message.clone();
            mail.id = format!("{}:approve:{}", message.id, person.id);
            mail.approve_link = Some(format!("{}/approve/{secret}", base.trim_end_matches('/')));
            mail.to = recipients(plan, incident, std::slice::from_ref(&person.id));
            let mut note = queued(&mail, channel, incident.number, not_before);
            note.approval_link = Some(NewApprovalLink {
                hash: digest(&secret),
                incident: incident.number,
                run: number,
                person: person.id.clone(),
                expires_at,
            });
            note
        })
        .collect()
}

/// The notification of `message` on `channel`: keyed by the message's id, which is unique
/// per channel.
pub(crate) fn queued(
    message: &Message,
    channel: &str,
    incident: impl Into<Option<IncidentNumber>>,
    not_before: Timestamp,
) -> NewNotification {
    NewNotification {
        key: message.id.clone(),
        channel: channel.to_owned(),
        kind: message.kind.clone(),
        incident: incident.into(),
        payload: serde_json::to_string(message).expect("a message serializes"),
        not_before,
        approval_link: None,
    }
}

/// Where people see the incident, when tocsin knows its own address.
fn link(public_url: Option<&str>, number: IncidentNumber) -> Option<String> {
    public_url.map(|base| format!("{}/incidents/{number}", base.trim_end_matches('/')))
}
