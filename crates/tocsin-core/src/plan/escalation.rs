//! Who is called when nobody answers: `[escalation]` and its levels.

use super::build::{references, unknown};
use super::read::{Located, Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;
use crate::id::SeverityId;

/// The `[escalation]` table: who is called, and when, while an incident at a paging
/// severity waits for someone to acknowledge it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    /// The severities that escalate.
    pub severities: Vec<SeverityId>,
    /// Where the calls go.
    pub channels: Vec<String>,
    /// In order of `after`.
    pub levels: Vec<EscalationLevel>,
    /// The last level is called again this often until someone acknowledges; `None`: once.
    pub repeat: Option<std::time::Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscalationLevel {
    /// Since the incident was declared.
    pub after: std::time::Duration,
    /// `owner` (the incident's), role ids (whoever holds the role on the incident, else
    /// the role's people), and people's ids.
    pub notify: Vec<String>,
}

/// The ids an `[escalation]` may refer to.
pub(super) struct Known<'a> {
    pub(super) severities: &'a [&'a str],
    pub(super) channels: &'a [&'a str],
    pub(super) roles: &'a [&'a str],
    pub(super) people: &'a [&'a str],
}

/// The `[escalation]` table: `channels`, optional `severities` (those that page by
/// default), `repeat`, and `[[escalation.level]]` tables with `after` and `notify`.
pub(super) fn escalation(
    table: TableAt<'_, '_>,
    known: &Known<'_>,
    paging: Vec<SeverityId>,
    problems: &mut Problems,
) -> Option<Escalation> {
    let mut s = Section::new(table, "[escalation]");
    let span = s.span();
    let channels = s.str_list("channels", problems);
    let severities = s.str_list("severities", problems);
    let repeat = s.opt_duration("repeat", problems);
    let levels = s.tables("level", problems);
    s.finish(problems);
    let before = problems.len();
    if channels.is_empty() {
        problems.push(
            Diagnostic::new(span.clone(), "[escalation] names no channel").with_hint("add channels = [\"oncall\"]"),
        );
    }
    for c in &channels {
        if !known.channels.contains(&c.value.as_str()) {
            problems.push(unknown(
                c,
                format!("[escalation] refers to unknown channel \"{}\"", c.value),
                known.channels,
                "define it in a [[channel]] table".into(),
            ));
        }
    }
    let severities = match severities.is_empty() {
        true => paging,
        false => references(
            "severity",
            "[escalation]",
            severities,
            known.severities,
            SeverityId::parse,
            problems,
        ),
    };
    let wall =
        |d: Located<crate::duration::Duration>, key: &str, problems: &mut Problems| match d.value.elapsed_seconds() {
            Some(secs) if secs >= 0 => Some(std::time::Duration::from_secs(secs as u64)),
            _ => {
                problems.push(
                    Diagnostic::new(
                        d.span,
                        format!("{key} in [escalation] must be a time like \"15m\", not business days"),
                    )
                    .with_hint("escalation runs around the clock"),
                );
                None
            }
        };
    let repeat = repeat.and_then(|r| wall(r, "repeat", problems));
    if repeat.is_some_and(|r| r < std::time::Duration::from_secs(60)) {
        problems.push(Diagnostic::new(
            span.clone(),
            "repeat in [escalation] must be a minute or more",
        ));
    }
    let mut out = Vec::new();
    for (index, level) in levels.iter().enumerate() {
        let mut l = Section::new(*level, format!("[[escalation.level]] #{}", index + 1));
        // "0m" (at once) is a fine first level, though no deadline can be zero.
        let after = l.str("after", "\"0m\"", problems).and_then(|a| {
            if a.value.trim().trim_end_matches(['s', 'm', 'h']).trim() == "0" {
                return Some(std::time::Duration::ZERO);
            }
            match crate::duration::Duration::parse(&a.value) {
                Ok(d) => wall(Located { value: d, span: a.span }, "after", problems),
                Err(e) => {
                    problems.push(
                        Diagnostic::new(a.span, format!("after in [[escalation.level]]: {}", e.message))
                            .with_hint(e.hint),
                    );
                    None
                }
            }
        });
        let notify = l.str_list("notify", problems);
        let level_span = l.span();
        l.finish(problems);
        if notify.is_empty() {
            problems.push(
                Diagnostic::new(level_span.clone(), "an escalation level notifies nobody")
                    .with_hint("add notify = [\"owner\"], role ids or people's ids"),
            );
        }
        let mut names: Vec<&str> = vec!["owner"];
        names.extend(known.roles);
        names.extend(known.people);
        for n in &notify {
            if !names.contains(&n.value.as_str()) {
                problems.push(unknown(
                    n,
                    format!("escalation level #{} notifies unknown \"{}\"", index + 1, n.value),
                    &names,
                    "use owner, a role's id or a person's id".into(),
                ));
            }
        }
        if let Some(after) = after {
            if out.last().is_some_and(|l: &EscalationLevel| l.after >= after) {
                problems.push(Diagnostic::new(
                    level_span.clone(),
                    "escalation levels must come in order, each later than the one before",
                ));
            }
            out.push(EscalationLevel {
                after,
                notify: notify.into_iter().map(|n| n.value).collect(),
            });
        }
    }
    if levels.is_empty() {
        problems.push(
            Diagnostic::new(span, "[escalation] has no level")
                .with_hint("add [[escalation.level]] tables with after = \"0m\" and notify = [\"owner\"]"),
        );
    }
    (problems.len() == before).then(|| Escalation {
        severities,
        channels: channels.into_iter().map(|c| c.value).collect(),
        levels: out,
        repeat,
    })
}
