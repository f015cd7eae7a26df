//! Words for people: times in the plan's zone, spans of time, and one phrase per timeline event.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tocsin_core::incident::IncidentEvent;

/// `2026-11-20 10:12 CET`.
pub fn time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

/// Why a text is no time.
#[derive(Debug, thiserror::Error)]
pub enum NoTime {
    #[error(transparent)]
    Span(#[from] tocsin_core::duration::DurationError),
    #[error("\"ago\" needs an exact span, not business days or months")]
    Inexact,
    #[error(transparent)]
    Time(#[from] jiff::Error),
}

/// A time as people type it: RFC 3339 (`2026-11-20T09:12:00Z`), a date and time in the
/// plan's zone `zone` (`2026-11-20 10:12`), or `15m ago` (before `now`); or why it is none.
pub fn parse_time(text: &str, zone: &TimeZone, now: Timestamp) -> Result<Timestamp, NoTime> {
    let text = text.trim();
    if let Some(ago) = text.strip_suffix("ago") {
        let duration = tocsin_core::duration::Duration::parse(ago)?;
        let seconds = duration.elapsed_seconds().ok_or(NoTime::Inexact)?;
        return Ok(now.checked_sub(jiff::SignedDuration::from_secs(seconds))?);
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let local: jiff::civil::DateTime = text.parse()?;
    Ok(local.to_zoned(zone.clone())?.timestamp())
}

/// `3h 5m`, `2d 4h`, `45s`: the two largest units.
pub fn span(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let parts = [
        (s / 86_400, "d"),
        (s % 86_400 / 3_600, "h"),
        (s % 3_600 / 60, "m"),
        (s % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0 || first == 3)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `in 12m` or `3h 5m overdue`.
pub fn left(seconds: i64) -> String {
    if seconds >= 0 {
        format!("in {}", span(seconds))
    } else {
        format!("{} overdue", span(seconds))
    }
}

/// A clock's deadline and the time left on it: `customer notice due 2026-11-20 14:00 CET
/// (3h 10m left)`, or `… was due … (20m ago)`.
pub fn due(name: &str, due: Timestamp, now: Timestamp, zone: &TimeZone) -> String {
    let left = due.duration_since(now).as_secs();
    match left < 0 {
        true => format!("{name} was due {} ({} ago)", time(due, zone), span(left)),
        false => format!("{name} due {} ({} left)", time(due, zone), span(left)),
    }
}

fn or_nobody(name: Option<&String>) -> &str {
    name.map_or("nobody", String::as_str)
}

/// A recorded notice, by its kind: `customers notified`, `status update`.
pub fn notice(kind: &str) -> String {
    match kind {
        "status-update" => "status update".into(),
        "customers" => "customers notified".into(),
        "authority" => "supervisory authority notified".into(),
        "data-subjects" => "data subjects notified".into(),
        "summary" => "summary sent to customers".into(),
        obligation => format!("notice recorded for {obligation}"),
    }
}

/// One short phrase per event, as the timeline shows it.
pub fn event(event: &IncidentEvent) -> String {
    match event {
        IncidentEvent::Declared(d) => {
            let personal = if d.personal_data { " (personal data)" } else { "" };
            format!("declared {} \"{}\"{personal}", d.severity, d.title)
        }
        IncidentEvent::Acknowledged {} => "acknowledged".into(),
        IncidentEvent::OwnerAssigned { owner, before } => {
            format!("owner {} → {}", or_nobody(before.as_ref()), or_nobody(owner.as_ref()))
        }
        IncidentEvent::RoleAssigned { role, person, before } => {
            format!("{role} {} → {}", or_nobody(before.as_ref()), or_nobody(person.as_ref()))
        }
        IncidentEvent::SeverityChanged { from, to, reason, .. } => format!("severity {from} → {to}: {reason}"),
        IncidentEvent::StepStarted { step } => format!("started step {step}"),
        IncidentEvent::StepCompleted { step } => format!("completed step {step}"),
        IncidentEvent::ChecklistItemChecked { step, item } => format!("checked item {item} of step {step}"),
        IncidentEvent::ChecklistItemUnchecked { step, item } => format!("unchecked item {item} of step {step}"),
        IncidentEvent::NoteAdded { text } => format!("note: {text}"),
        IncidentEvent::PersonalDataMarked { reason } => match reason {
            Some(r) => format!("marked as a personal data breach: {r}"),
            None => "marked as a personal data breach".into(),
        },
        IncidentEvent::PersonalDataUnmarked { reason, .. } => format!("no longer a personal data breach: {reason}"),
        IncidentEvent::NoticeRecorded { kind, note } => match note {
            Some(n) => format!("{}: {n}", notice(kind)),
            None => notice(kind),
        },
        IncidentEvent::Resolved { summary } => match summary {
            Some(s) => format!("resolved: {s}"),
            None => "resolved".into(),
        },
        IncidentEvent::Closed { review_override, open } => match (review_override, open.as_slice()) {
            (Some(r), []) => format!("closed with an override: {r}"),
            (Some(r), open) => format!("closed with an override while {}: {r}", open.join(", ")),
            (None, _) => "closed".into(),
        },
        IncidentEvent::Retitled { title, .. } => format!("retitled \"{title}\""),
        IncidentEvent::SummaryEdited { .. } => "summary edited".into(),
        IncidentEvent::ImpactAssessed { impact, .. } => {
            let mut text = format!("customers affected: {}", impact.customers);
            if let Some(n) = impact.affected_customers {
                text.push_str(&format!("; {n} customers"));
            }
            if let Some(n) = impact.affected_data_subjects {
                text.push_str(&format!("; {n} data subjects"));
            }
            text
        }
        IncidentEvent::ObligationWaived { clock, reason, .. } => format!("{clock} not required: {reason}"),
        IncidentEvent::Dismissed { reason } => format!("dismissed as a false positive: {reason}"),
        IncidentEvent::Reopened { reason, .. } => format!("reopened: {reason}"),
        IncidentEvent::ClockWarned { clock, point, .. } => match point.as_str() {
            "breached" => format!("deadline missed: {clock}"),
            p if p.starts_with("reminder") => format!("{p}: {clock} is not met yet"),
            p => format!("warning: {p} of the time for {clock} is gone"),
        },
        IncidentEvent::Escalated { level, round, to } => {
            let whom = match to.as_slice() {
                [] => "nobody assigned".to_owned(),
                names => names.join(", "),
            };
            match round {
                0 => format!("escalation level {level} called {whom}"),
                r => format!("escalation level {level} called {whom} again (repeat {r})"),
            }
        }
        IncidentEvent::Notified { deliveries } => {
            let told: Vec<String> = deliveries
                .iter()
                .map(|d| match d.to.as_slice() {
                    [] => format!("{} on {}", d.news.replace('_', " "), d.channel),
                    to => format!("{} on {} to {}", d.news.replace('_', " "), d.channel, to.join(", ")),
                })
                .collect();
            format!("told: {}", told.join("; "))
        }
        IncidentEvent::ActionRequested {
            run,
            action_id,
            inputs,
            automatic,
            undoes,
            needs,
            ..
        } => {
            let given: Vec<String> = inputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let what = match undoes {
                Some(original) => format!("asked to undo run {original} with {action_id} (run {run})"),
                None => format!("asked to run {action_id} (run {run})"),
            };
            let by = if *automatic { ", by the plan" } else { "" };
            let approval = match needs {
                0 => String::new(),
                1 => ", needing an approval".to_owned(),
                n => format!(", needing {n} approvals"),
            };
            if given.is_empty() {
                format!("{what}{by}{approval}")
            } else {
                format!("{what} with {}{by}{approval}", given.join(", "))
            }
        }
        IncidentEvent::ActionApproved { run } => format!("approved run {run}"),
        IncidentEvent::ActionRejected { run, reason } => format!("rejected run {run}: {reason}"),
        IncidentEvent::ActionExpired { run } => format!("run {run} expired unapproved"),
        IncidentEvent::ActionStarted { run, attempt } => match attempt {
            1 => format!("started run {run}"),
            n => format!("started run {run}, attempt {n}"),
        },
        IncidentEvent::ActionFinished { run, outcome, retry_at } => {
            let verdict = if outcome.ok { "succeeded" } else { "failed" };
            let retry = retry_at.map_or_else(String::new, |at| format!("; tried again at {at}"));
            format!(
                "run {run} {verdict}: {}{retry}",
                tocsin_core::action::cut(&outcome.summary, 200)
            )
        }
        IncidentEvent::NoticeDrafted {
            notice, kind, subject, ..
        } => {
            format!("drafted notice {notice} ({kind}): {subject}")
        }
        IncidentEvent::NoticeRevised { notice, .. } => format!("revised notice {notice}"),
        IncidentEvent::NoticeApproved { notice, version } => format!("approved notice {notice}, version {version}"),
        IncidentEvent::NoticeSent {
            notice,
            version,
            recipients,
            late,
        } => {
            let to = match recipients {
                0 => String::new(),
                1 => " to 1 recipient".to_owned(),
                n => format!(" to {n} recipients"),
            };
            let late = late
                .as_ref()
                .map_or_else(String::new, |why| format!("; late because {why}"));
            format!("sent notice {notice}, version {version}{to}{late}")
        }
        IncidentEvent::PlanAdopted { version, shifts, .. } => match shifts.as_slice() {
            [] => format!("follows plan version {version} now; no deadline moved"),
            moved => {
                let names: Vec<&str> = moved.iter().map(|s| s.clock.as_str()).collect();
                format!("follows plan version {version} now; moved: {}", names.join(", "))
            }
        },
    }
}
