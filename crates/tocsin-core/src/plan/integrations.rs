//! Outside senders and what their alerts become: `[[integration]]`.

use super::build::{no_duplicates, references};
use super::read::{Problems, Section, TableAt};
use crate::id::SeverityId;

/// An `[[integration]]` table: what the alerts of one integration lead to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntegrationRule {
    /// The integration's name, as `tocsin integration add` was given it.
    pub name: String,
    /// For each of the sender's severity words ([`crate::alert::SEVERITY_WORDS`]), the
    /// plan's severity its alerts open incidents at; `None` when they are only recorded.
    /// Words the table does not name keep tocsin's default.
    pub severities: Vec<(String, Option<SeverityId>)>,
    /// Whether an incident resolves when every alert that joined it has resolved.
    pub resolve_incident: bool,
    /// Alerts of the integration tracked open at once, at most; further ones are folded
    /// into one signal that says so.
    pub max_open_alerts: u32,
}

/// Open alerts tracked per integration when its table does not say.
pub const MAX_OPEN_ALERTS: u32 = 10_000;

/// `[[integration]]` tables: `name`, the plan's severity (or `"record"`) for each of the
/// sender's words `critical`, `error`, `warning` and `info`, and `resolve_incident`.
pub(super) fn integrations(
    tables: &[TableAt<'_, '_>],
    severity_ids: &[&str],
    problems: &mut Problems,
) -> Vec<IntegrationRule> {
    let mut integrations = Vec::new();
    let mut seen = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[integration]]");
        let name = s.str("name", "\"prometheus\"", problems);
        let words = [
            ("critical", s.opt_str("critical", problems)),
            ("error", s.opt_str("error", problems)),
            ("warning", s.opt_str("warning", problems)),
            ("info", s.opt_str("info", problems)),
        ];
        let resolve_incident = s.opt_bool("resolve_incident", problems).unwrap_or(false);
        let max_open_alerts = s
            .opt_uint("max_open_alerts", 1, 1_000_000, problems)
            .map_or(MAX_OPEN_ALERTS, |n| n.value);
        s.finish(problems);
        let mut severities = Vec::new();
        for (word, value) in words {
            let Some(value) = value else { continue };
            if value.value == "record" {
                severities.push((word.to_owned(), None));
                continue;
            }
            let owner = format!("[[integration]] {word}");
            if let Some(id) = references(
                "severity",
                &owner,
                vec![value],
                severity_ids,
                SeverityId::parse,
                problems,
            )
            .pop()
            {
                severities.push((word.to_owned(), Some(id)));
            }
        }
        if let Some(name) = name {
            seen.push((name.value.clone(), name.span.clone()));
            integrations.push(IntegrationRule {
                name: name.value,
                severities,
                resolve_incident,
                max_open_alerts,
            });
        }
    }
    no_duplicates(
        "integration",
        seen.iter().map(|(d, span)| (d.as_str(), span.clone())),
        problems,
    );
    integrations
}
