//! Words for what happened: timeline events and the clocks a change met, moved or started.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tocsin_core::clock::{Clock, ClockState};
use tocsin_core::incident::IncidentEvent;

use crate::render::{Paint, Tone, span, time};

fn or_nobody(name: Option<&String>) -> &str {
    name.map_or("nobody", String::as_str)
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
            Some(n) => format!("notice sent to {kind}: {n}"),
            None => format!("notice sent to {kind}"),
        },
        IncidentEvent::Resolved { summary } => match summary {
            Some(s) => format!("resolved: {s}"),
            None => "resolved".into(),
        },
        IncidentEvent::Closed { review_override } => match review_override {
            Some(r) => format!("closed without review: {r}"),
            None => "closed".into(),
        },
        IncidentEvent::Dismissed { reason } => format!("dismissed as a false positive: {reason}"),
        IncidentEvent::Reopened { reason, .. } => format!("reopened: {reason}"),
    }
}

/// What a change did to the clocks (kept, moved, started or stopped), one indented line each.
pub fn clock_changes(before: &[Clock], after: &[Clock], now: Timestamp, zone: &TimeZone, paint: Paint) -> String {
    let mut lines = Vec::new();
    for clock in after {
        let old = before.iter().find(|c| c.id == clock.id);
        let was_open = old.is_some_and(|c| c.open);
        if let (true, Some(met)) = (was_open, clock.met_at) {
            let line = match (clock.state(now), clock.due_at) {
                (ClockState::Breached { at }, _) => paint.tone(
                    Tone::Bad,
                    &format!(
                        "{} kept {} late (breached)",
                        clock.name,
                        span(met.as_second() - at.as_second())
                    ),
                ),
                (_, Some(due)) => paint.tone(
                    Tone::Good,
                    &format!(
                        "{} met, {} before the deadline",
                        clock.name,
                        span(due.as_second() - met.as_second())
                    ),
                ),
                _ => paint.tone(Tone::Good, &format!("{} met", clock.name)),
            };
            lines.push(line);
        } else if was_open && !clock.open {
            lines.push(format!("{} stopped: {}", clock.name, clock.state(now)));
        } else if clock.open && !was_open {
            let due = clock
                .due_at
                .map_or_else(|| "no fixed deadline".to_owned(), |d| format!("due {}", time(d, zone)));
            lines.push(format!("{} started, {due}", clock.name));
        } else if let Some(old) = old.filter(|o| o.open && clock.open && o.due_at != clock.due_at) {
            let show = |d: Option<Timestamp>| d.map_or_else(|| "no deadline".to_owned(), |d| time(d, zone));
            lines.push(format!(
                "{} now due {} (was {})",
                clock.name,
                show(clock.due_at),
                show(old.due_at)
            ));
        }
    }
    lines.iter().map(|line| format!("  {line}\n")).collect()
}
