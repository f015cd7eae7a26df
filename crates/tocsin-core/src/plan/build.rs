//! Builds a [`Plan`] from TOML text, checking every section and every cross-reference.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::de::DeTable;

use super::actions::{Known as ActionsKnow, actions};
use super::audit::audit;
use super::channels::channels;
use super::daily_audit::daily_audit;
use super::detection::{detection, rate_limits};
use super::escalation::{Known, escalation};
use super::integrations::integrations;
use super::notices::{Known as NoticesKnow, notices};
use super::obligations::{DEFAULT_NOTICE_WHEN, NoticeKind, customers, disclosure, obligations};
use super::organization::organization;
use super::people::people;
use super::probes::probes;
use super::read::{Located, Problems, Section, TableAt};
use super::recovery::recovery;
use super::response::{review, roles, severities, steps};
use super::routes::routes;
use super::rules::{rules, suppressions};
use super::security_txt::security_txt;
use super::services::services;
use super::{AuditSeal, Plan, Recovery};
use crate::diagnostic::Diagnostic;
use crate::id::{IdError, SeverityId, closest};

pub(super) fn build(source: &str) -> Result<Plan, Problems> {
    let (document, syntax) = DeTable::parse_recoverable(source);
    let mut problems: Problems = syntax
        .iter()
        .map(|e| {
            let span = e.span().unwrap_or(0..0);
            Diagnostic::new(span, format!("TOML syntax: {}", e.message().trim()))
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut root = Section::new(TableAt::new(document.get_ref(), 0..0), "the plan");

    let organization = match root.opt_table("organization", &mut problems) {
        Some(table) => organization(table, &mut problems),
        None => {
            problems.push(
                Diagnostic::new(0..0, "the plan has no [organization] section")
                    .with_hint("add [organization] with name and timezone; `tocsin init` writes an example"),
            );
            None
        }
    };
    let (severities, severity_ids) = severities(&root.tables("severity", &mut problems), &mut problems);
    let (steps, step_ids) = steps(&root.tables("step", &mut problems), &mut problems);
    let severity_ids: Vec<&str> = severity_ids.iter().map(String::as_str).collect();
    let step_ids: Vec<&str> = step_ids.iter().map(String::as_str).collect();
    let people = people(&root.tables("person", &mut problems), &mut problems);
    let person_ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
    let roles = roles(
        &root.tables("role", &mut problems),
        &severity_ids,
        &person_ids,
        &mut problems,
    );
    let review = match root.opt_table("review", &mut problems) {
        Some(table) => review(table, &step_ids, &mut problems),
        None => {
            problems.push(
                Diagnostic::new(0..0, "the plan has no [review] section")
                    .with_hint("add [review] with step = \"review\" and within = \"5 business days\""),
            );
            None
        }
    };
    let obligations = obligations(&root.tables("obligation", &mut problems), &severity_ids, &mut problems);
    let disclosure = root
        .opt_table("disclosure", &mut problems)
        .and_then(|t| disclosure(t, &mut problems));
    let rate_limits = rate_limits(&root.tables("rate_limit", &mut problems), &mut problems);
    let actions = actions(
        &root.tables("action", &mut problems),
        &ActionsKnow {
            steps: &steps,
            roles: &roles,
            people: &person_ids,
        },
        &mut problems,
    );
    let rules = rules(
        &root.tables("rule", &mut problems),
        &severity_ids,
        &actions,
        &mut problems,
    );
    let zone = organization.as_ref().map(|(_, calendar)| calendar.zone().clone());
    let suppressions = suppressions(&root.tables("suppress", &mut problems), zone, &mut problems);
    let integrations = integrations(&root.tables("integration", &mut problems), &severity_ids, &mut problems);
    let channels = channels(&root.tables("channel", &mut problems), &mut problems);
    let channel_names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    let routes = routes(
        &root.tables("route", &mut problems),
        &channel_names,
        &severity_ids,
        &mut problems,
    );
    let escalation = root.opt_table("escalation", &mut problems).and_then(|t| {
        let role_ids: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
        let paging: Vec<SeverityId> = severities.iter().filter(|s| s.pages).map(|s| s.id.clone()).collect();
        escalation(
            t,
            &Known {
                severities: &severity_ids,
                channels: &channel_names,
                roles: &role_ids,
                people: &person_ids,
            },
            paging,
            &mut problems,
        )
    });
    let detection = root
        .opt_table("detection", &mut problems)
        .map(|t| detection(t, &mut problems))
        .unwrap_or_default();
    let recovery = root
        .opt_table("recovery", &mut problems)
        .map_or_else(Recovery::default, |t| recovery(t, &mut problems));
    let audit = root
        .opt_table("audit", &mut problems)
        .map_or_else(AuditSeal::default, |t| audit(t, &channel_names, &mut problems));
    let services = services(&root.tables("service", &mut problems), &mut problems);
    let service_ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
    let probes = probes(
        &root.tables("probe", &mut problems),
        &service_ids,
        &severity_ids,
        &mut problems,
    );
    let notice_kind = |text: &str| {
        NoticeKind::built_in(text).or_else(|| {
            obligations
                .iter()
                .find(|o| o.id.as_str() == text)
                .map(|o| NoticeKind::Obligation(o.id.clone()))
        })
    };
    let notices = notices(
        &root.tables("notice", &mut problems),
        &NoticesKnow {
            kinds: &notice_kind,
            roles: &roles,
            people: &person_ids,
            channels: &channels,
        },
        &mut problems,
    );
    let daily_audit = root
        .opt_table("daily_audit", &mut problems)
        .map(|t| daily_audit(t, &mut problems));
    let security_txt = root
        .opt_table("security_txt", &mut problems)
        .and_then(|t| security_txt(t, &mut problems));
    let customer_notice_when = root
        .opt_table("customers", &mut problems)
        .map_or_else(|| DEFAULT_NOTICE_WHEN.to_vec(), |t| customers(t, &mut problems));
    if severity_ids.is_empty() {
        problems.push(
            Diagnostic::new(0..0, "the plan defines no severity").with_hint("add at least one [[severity]] table"),
        );
    }
    if step_ids.is_empty() {
        problems.push(
            Diagnostic::new(0..0, "the plan defines no response step").with_hint("add at least one [[step]] table"),
        );
    }
    root.finish(&mut problems);

    match (organization, review) {
        (Some((organization, calendar)), Some(review)) if problems.is_empty() => Ok(Plan {
            organization,
            calendar,
            severities,
            steps,
            roles,
            review,
            obligations,
            disclosure,
            rate_limits,
            rules,
            suppressions,
            integrations,
            channels,
            routes,
            people,
            escalation,
            detection,
            customer_notice_when,
            recovery,
            audit,
            security_txt,
            actions,
            services,
            notices,
            probes,
            daily_audit,
            digest: String::new(),
            source: String::new(),
        }),
        _ => Err(problems),
    }
}

pub(super) fn id<T>(
    section: &mut Section<'_, '_>,
    parse: fn(&str) -> Result<T, IdError>,
    problems: &mut Problems,
) -> Option<Located<T>> {
    let text = section.str("id", "\"some-id\"", problems)?;
    match parse(&text.value) {
        Ok(value) => Some(Located { value, span: text.span }),
        Err(e) => {
            problems.push(Diagnostic::new(text.span, format!("{e}")));
            None
        }
    }
}

pub(super) fn no_duplicates<'a>(
    what: &str,
    ids: impl IntoIterator<Item = (&'a str, Range<usize>)>,
    problems: &mut Problems,
) {
    let mut seen = BTreeSet::new();
    for (id, span) in ids {
        if !seen.insert(id) {
            problems.push(
                Diagnostic::new(span, format!("duplicate {what} id \"{id}\""))
                    .with_hint(format!("each {what} needs its own id")),
            );
        }
    }
}

/// A name that is not one of `known`, with the closest of them as a guess, or `otherwise`
/// as the hint when none is close.
pub(super) fn unknown(at: &Located<String>, message: String, known: &[&str], otherwise: String) -> Diagnostic {
    let hint = match closest(&at.value, known.iter().copied()) {
        Some(guess) => format!("did you mean \"{guess}\"?"),
        None => otherwise,
    };
    Diagnostic::new(at.span.clone(), message).with_hint(hint)
}

/// Checks that each referenced id exists; returns the ones that do.
pub(super) fn references<T>(
    what: &str,
    owner: &str,
    refs: Vec<Located<String>>,
    known: &[&str],
    parse: fn(&str) -> Result<T, IdError>,
    problems: &mut Problems,
) -> Vec<T> {
    refs.into_iter()
        .filter_map(|r| {
            if !known.contains(&r.value.as_str()) {
                problems.push(unknown(
                    &r,
                    format!("{owner} refers to unknown {what} \"{}\"", r.value),
                    known,
                    format!("the plan's {what}s are {}", known.join(", ")),
                ));
                return None;
            }
            parse(&r.value).ok()
        })
        .collect()
}

/// Reads the `id` of each table in `tables` and reports duplicates.
#[derive(Default)]
pub(super) struct Ids {
    seen: Vec<(String, Range<usize>)>,
}

impl Ids {
    pub(super) fn read<T: std::fmt::Display>(
        &mut self,
        what: &str,
        section: &mut Section<'_, '_>,
        parse: fn(&str) -> Result<T, IdError>,
        problems: &mut Problems,
    ) -> Option<Located<T>> {
        let id = id(section, parse, problems)?;
        section.name = format!("{what} \"{}\"", id.value);
        self.seen.push((id.value.to_string(), id.span.clone()));
        Some(id)
    }

    pub(super) fn finish(self, what: &str, problems: &mut Problems) -> Vec<String> {
        no_duplicates(
            what,
            self.seen.iter().map(|(id, span)| (id.as_str(), span.clone())),
            problems,
        );
        self.seen.into_iter().map(|(id, _)| id).collect()
    }
}

/// Whether `at` holds something that can be an email address, or what is wrong with it.
pub(super) fn email_problem(at: &Located<String>) -> Option<Diagnostic> {
    let ok = at
        .value
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && (domain.contains('.') || domain == "localhost"))
        && !at.value.contains(char::is_whitespace)
        && !at.value.contains(['<', '>', ',']);
    (!ok).then(|| {
        Diagnostic::new(at.span.clone(), format!("\"{}\" is not an email address", at.value))
            .with_hint("write it like \"security@example.com\"")
    })
}
