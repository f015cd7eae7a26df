//! Words for what happened: timeline events and the clocks a change met, moved or started.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tocsin_core::clock::{Clock, ClockState};

use crate::render::{Paint, Tone, span, time};

pub use tocsin_server::phrases::event;

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
            let why = match (clock.state(now), &clock.waived) {
                (_, Some(reason)) => format!("not required: {reason}"),
                (ClockState::NotApplicable, None) => "no longer applies".to_owned(),
                (state, None) => state.to_string(),
            };
            lines.push(format!("{} stopped: {why}", clock.name));
        } else if clock.open && !was_open {
            let due = clock.due_at.map_or_else(
                || "without a fixed deadline".to_owned(),
                |d| format!("due {}", time(d, zone)),
            );
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
