//! Which news goes to which channel, and when: `[[route]]`.

use super::build::{references, unknown};
use super::read::{Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;
use crate::id::SeverityId;

/// The kinds of news a route can carry.
pub const NEWS: [&str; 13] = [
    "declared",
    "acknowledged",
    "reopened",
    "severity_changed",
    "step_completed",
    "status_update",
    "clock_warning",
    "clock_breached",
    "resolved",
    "closed",
    "signal",
    "action_requested",
    "audit_digest",
];

/// A `[[route]]` table: which news goes to which channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub channels: Vec<String>,
    /// Only these kinds of news (see [`NEWS`]); all when empty.
    pub events: Vec<String>,
    /// Only news of incidents at these severities; all when empty.
    pub severities: Vec<SeverityId>,
    /// Held back during these hours, in minutes after midnight in the plan's time zone
    /// (start, end; it may span midnight), and sent when they end.
    pub quiet_hours: Option<(u16, u16)>,
}

impl Route {
    /// When news that happened at `at` may go out on this route: then, or when the quiet
    /// hours it falls in end (in `zone`, the plan's time zone).
    pub fn send_at(&self, at: crate::Timestamp, zone: &jiff::tz::TimeZone) -> crate::Timestamp {
        let Some((start, end)) = self.quiet_hours else {
            return at;
        };
        let local = at.to_zoned(zone.clone());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let quiet = match start < end {
            true => minute >= start && minute < end,
            false => minute >= start || minute < end,
        };
        if !quiet {
            return at;
        }
        let day = match minute < end {
            true => local.date(),
            false => local.date().tomorrow().unwrap_or(local.date()),
        };
        day.at((end / 60) as i8, (end % 60) as i8, 0, 0)
            .to_zoned(zone.clone())
            .map_or(at, |z| z.timestamp())
    }
}

/// `[[route]]` tables: `channels` (names of `[[channel]]`s), and optional `events` (kinds
/// of news), `severities` and `quiet_hours` ("22:00-07:00").
pub(super) fn routes(
    tables: &[TableAt<'_, '_>],
    channel_names: &[&str],
    severity_ids: &[&str],
    problems: &mut Problems,
) -> Vec<Route> {
    let mut routes = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[route]]");
        let span = s.span();
        let channels = s.str_list("channels", problems);
        let events = s.str_list("events", problems);
        let severities = s.str_list("severities", problems);
        let quiet = s.opt_str("quiet_hours", problems);
        s.finish(problems);
        if channels.is_empty() {
            problems.push(
                Diagnostic::new(span, "[[route]] names no channel").with_hint("add channels = [\"ops-webhook\"]"),
            );
        }
        let mut ok = true;
        for c in &channels {
            if !channel_names.contains(&c.value.as_str()) {
                ok = false;
                problems.push(unknown(
                    c,
                    format!("[[route]] refers to unknown channel \"{}\"", c.value),
                    channel_names,
                    "define it in a [[channel]] table".into(),
                ));
            }
        }
        for e in &events {
            if !NEWS.contains(&e.value.as_str()) {
                ok = false;
                problems.push(unknown(
                    e,
                    format!("unknown event \"{}\" in [[route]]", e.value),
                    &NEWS,
                    format!("the events are {}", NEWS.join(", ")),
                ));
            }
        }
        let wanted = severities.len();
        let severities = references(
            "severity",
            "[[route]]",
            severities,
            severity_ids,
            SeverityId::parse,
            problems,
        );
        ok &= severities.len() == wanted;
        let quiet_hours = match quiet {
            None => None,
            Some(q) => match hours_span(&q.value) {
                Some(hours) => Some(hours),
                None => {
                    ok = false;
                    problems.push(
                        Diagnostic::new(
                            q.span,
                            format!("quiet_hours \"{}\" in [[route]] is not a span of the day", q.value),
                        )
                        .with_hint("write it like \"22:00-07:00\""),
                    );
                    None
                }
            },
        };
        if ok && !channels.is_empty() {
            routes.push(Route {
                channels: channels.into_iter().map(|c| c.value).collect(),
                events: events.into_iter().map(|e| e.value).collect(),
                severities,
                quiet_hours,
            });
        }
    }
    routes
}

/// "HH:MM-HH:MM" as minutes after midnight; the span may wrap midnight, but not be empty.
fn hours_span(text: &str) -> Option<(u16, u16)> {
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (start, end) = text.split_once('-')?;
    let (start, end) = (minutes(start)?, minutes(end)?);
    (start != end).then_some((start, end))
}
