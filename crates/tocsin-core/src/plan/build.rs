//! Builds a [`Plan`] from TOML text, checking every section and every cross-reference.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use jiff::civil::{Date, Weekday};
use jiff::tz;
use toml::de::{DeTable, DeValue};

use super::read::{Located, Problems, Section, TableAt};
use super::{
    AuditSeal, BUILT_IN_NOTICES, Channel, ChannelKind, ClockStart, Detection, Disclosure, Escalation, EscalationLevel,
    IntegrationRule, KeyPattern, NEWS, NoticeKind, Obligation, Organization, Person, Plan, Recovery, Review, Role,
    Route, Rule, Secret, Severity, SmtpTls, StepTemplate, Suppression,
};
use crate::calendar::Calendar;
use crate::diagnostic::Diagnostic;
use crate::id::{IdError, ObligationId, RoleId, SeverityId, StepId, closest};
use crate::incident::CustomerImpact;
use crate::ratelimit::{RatePolicy, default_policies};
use crate::signal::{DETECTORS, Disposition};

/// The answers to "are customers affected?" that start the customer-notice clock when the
/// plan does not say: until someone answers no, the promise stands.
const DEFAULT_NOTICE_WHEN: [CustomerImpact; 2] = [CustomerImpact::Yes, CustomerImpact::Unknown];

/// Names that clocks already use; obligations may not take them.
const RESERVED_CLOCK_IDS: [&str; 4] = ["acknowledge", "status-update", "customer-notice", "review"];

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
    let rules = rules(&root.tables("rule", &mut problems), &severity_ids, &mut problems);
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
            digest: String::new(),
            source: String::new(),
        }),
        _ => Err(problems),
    }
}

fn id<T>(
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

fn no_duplicates<'a>(what: &str, ids: impl IntoIterator<Item = (&'a str, Range<usize>)>, problems: &mut Problems) {
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
fn unknown(at: &Located<String>, message: String, known: &[&str], otherwise: String) -> Diagnostic {
    let hint = match closest(&at.value, known.iter().copied()) {
        Some(guess) => format!("did you mean \"{guess}\"?"),
        None => otherwise,
    };
    Diagnostic::new(at.span.clone(), message).with_hint(hint)
}

/// Checks that each referenced id exists; returns the ones that do.
fn references<T>(
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

fn organization(table: TableAt<'_, '_>, problems: &mut Problems) -> Option<(Organization, Calendar)> {
    let mut s = Section::new(table, "[organization]");
    let name = s.str("name", "\"Acme Ltd\"", problems);
    let zone_text = s.str("timezone", "\"Europe/Berlin\"", problems);
    let zone = zone_text.as_ref().and_then(|text| match tz::db().get(&text.value) {
        Ok(zone) => Some(zone),
        Err(_) => {
            let names: Vec<String> = tz::db().available().map(|n| n.to_string()).collect();
            let hint = match closest(&text.value, names.iter().map(String::as_str)) {
                Some(guess) => format!("did you mean \"{guess}\"?"),
                None => "use an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"".to_owned(),
            };
            problems.push(
                Diagnostic::new(text.span.clone(), format!("unknown timezone \"{}\"", text.value)).with_hint(hint),
            );
            None
        }
    });
    let days_given = s.str_list("working_days", problems);
    let mut working_days = Vec::new();
    for day in &days_given {
        match weekday(&day.value) {
            Some(d) if working_days.contains(&d) => problems.push(Diagnostic::new(
                day.span.clone(),
                format!("working day \"{}\" is listed twice", day.value),
            )),
            Some(d) => working_days.push(d),
            None => problems.push(
                Diagnostic::new(day.span.clone(), format!("unknown working day \"{}\"", day.value))
                    .with_hint("write mon, tue, wed, thu, fri, sat or sun"),
            ),
        }
    }
    if days_given.is_empty() {
        use Weekday::*;
        working_days = vec![Monday, Tuesday, Wednesday, Thursday, Friday];
    } else if working_days.is_empty() {
        problems.push(Diagnostic::new(
            s.span(),
            "working_days in [organization] names no valid day",
        ));
    }
    let holidays: Vec<Located<Option<Date>>> = s.list("holidays", problems, |v| match v.get_ref() {
        DeValue::String(text) => Ok(text.parse::<Date>().ok()),
        DeValue::Datetime(dt) => Ok(dt.to_string().parse::<Date>().ok()),
        _ => Err("a date like 2026-12-25"),
    });
    let mut dates = BTreeSet::new();
    for h in &holidays {
        match h.value {
            Some(date) => {
                dates.insert(date);
            }
            None => problems
                .push(Diagnostic::new(h.span.clone(), "holiday is not a date").with_hint("write dates as 2026-12-25")),
        }
    }
    let security_contact = s.opt_str("security_contact", problems).map(|c| c.value);
    s.finish(problems);
    let (name, zone_text, zone) = (name?, zone_text?, zone?);
    if working_days.is_empty() {
        return None;
    }
    let calendar = Calendar::new(&zone_text.value, zone, &working_days, dates.clone());
    Some((
        Organization {
            name: name.value,
            timezone: zone_text.value,
            working_days,
            holidays: dates.into_iter().collect(),
            security_contact,
        },
        calendar,
    ))
}

fn weekday(text: &str) -> Option<Weekday> {
    use Weekday::*;
    let lower = text.to_ascii_lowercase();
    let days = [
        ("mon", "monday", Monday),
        ("tue", "tuesday", Tuesday),
        ("wed", "wednesday", Wednesday),
        ("thu", "thursday", Thursday),
        ("fri", "friday", Friday),
        ("sat", "saturday", Saturday),
        ("sun", "sunday", Sunday),
    ];
    days.into_iter()
        .find(|(short, long, _)| lower == *short || lower == *long)
        .map(|(_, _, day)| day)
}

/// Reads the `id` of each table in `tables` and reports duplicates.
struct Ids {
    seen: Vec<(String, Range<usize>)>,
}

impl Ids {
    fn read<T: std::fmt::Display>(
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

    fn finish(self, what: &str, problems: &mut Problems) -> Vec<String> {
        no_duplicates(
            what,
            self.seen.iter().map(|(id, span)| (id.as_str(), span.clone())),
            problems,
        );
        self.seen.into_iter().map(|(id, _)| id).collect()
    }
}

fn severities(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> (Vec<Severity>, Vec<String>) {
    let mut out = Vec::new();
    let mut ids = Ids { seen: Vec::new() };
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("severity #{}", index + 1));
        let id = ids.read("severity", &mut s, SeverityId::parse, problems);
        let name = s.str("name", "\"Critical\"", problems);
        let description = s.opt_str("description", problems);
        let examples = s.str_list("examples", problems);
        let acknowledge_within = s.duration("acknowledge_within", problems);
        let status_update_every = s.opt_duration("status_update_every", problems);
        let customer_notice_within = s.opt_duration("customer_notice_within", problems);
        let pages = s.opt_bool("pages", problems);
        s.finish(problems);
        if let (Some(id), Some(name), Some(ack)) = (id, name, acknowledge_within) {
            out.push(Severity {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                examples: examples.into_iter().map(|e| e.value).collect(),
                acknowledge_within: ack.value,
                status_update_every: status_update_every.map(|d| d.value),
                customer_notice_within: customer_notice_within.map(|d| d.value),
                pages: pages.unwrap_or(false),
            });
        }
    }
    (out, ids.finish("severity", problems))
}

fn steps(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> (Vec<StepTemplate>, Vec<String>) {
    let mut out = Vec::new();
    let mut ids = Ids { seen: Vec::new() };
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("step #{}", index + 1));
        let id = ids.read("step", &mut s, StepId::parse, problems);
        let name = s.str("name", "\"Contain\"", problems);
        let description = s.opt_str("description", problems);
        let checklist = s.str_list("checklist", problems);
        for item in &checklist {
            if item.value.trim().is_empty() {
                problems.push(Diagnostic::new(
                    item.span.clone(),
                    format!("empty checklist item in {}", s.name),
                ));
            }
        }
        s.finish(problems);
        if let (Some(id), Some(name)) = (id, name) {
            out.push(StepTemplate {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                checklist: checklist.into_iter().map(|c| c.value).collect(),
            });
        }
    }
    (out, ids.finish("step", problems))
}

fn roles(tables: &[TableAt<'_, '_>], severity_ids: &[&str], person_ids: &[&str], problems: &mut Problems) -> Vec<Role> {
    let mut out = Vec::new();
    let mut ids = Ids { seen: Vec::new() };
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("role #{}", index + 1));
        let id = ids.read("role", &mut s, RoleId::parse, problems);
        let name = s.str("name", "\"Incident commander\"", problems);
        let description = s.opt_str("description", problems);
        let required = s.str_list("required_for", problems);
        let people = s.str_list("people", problems);
        let owner = s.name.clone();
        let people = people_references(&owner, people, person_ids, problems);
        let required_for = references("severity", &owner, required, severity_ids, SeverityId::parse, problems);
        s.finish(problems);
        if let (Some(id), Some(name)) = (id, name) {
            out.push(Role {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                required_for,
                people,
            });
        }
    }
    ids.finish("role", problems);
    out
}

fn review(table: TableAt<'_, '_>, step_ids: &[&str], problems: &mut Problems) -> Option<Review> {
    let mut s = Section::new(table, "[review]");
    let step = s.str("step", "\"review\"", problems);
    let within = s.duration("within", problems);
    s.finish(problems);
    let step = references("step", "[review]", vec![step?], step_ids, StepId::parse, problems).pop()?;
    Some(Review {
        step,
        within: within?.value,
    })
}

fn obligations(tables: &[TableAt<'_, '_>], severity_ids: &[&str], problems: &mut Problems) -> Vec<Obligation> {
    struct Draft {
        obligation: Obligation,
        from_span: Range<usize>,
        met_by_span: Range<usize>,
        met_by_text: String,
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let mut ids = Ids { seen: Vec::new() };
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("obligation #{}", index + 1));
        let id = ids.read("obligation", &mut s, ObligationId::parse, problems);
        if let Some(id) = &id
            && (RESERVED_CLOCK_IDS.contains(&id.value.as_str()) || BUILT_IN_NOTICES.contains(&id.value.as_str()))
        {
            problems.push(
                Diagnostic::new(id.span.clone(), format!("obligation id \"{}\" is reserved", id.value))
                    .with_hint("pick another id, like \"contract-notice\""),
            );
        }
        let name = s.str("name", "\"GDPR Art. 33 notice\"", problems);
        let description = s.opt_str("description", problems);
        let from = s.str("from", "\"awareness\"", problems);
        let within = s.opt_duration("within", problems);
        let severities_given = s.table_has("severities");
        let severities = s.str_list("severities", problems);
        let owner = s.name.clone();
        let severities = references(
            "severity",
            &owner,
            severities,
            severity_ids,
            SeverityId::parse,
            problems,
        );
        let personal_data = s.opt_bool("personal_data", problems).unwrap_or(false);
        let met_by = s.opt_str("met_by", problems);
        let remind_every = s.opt_duration("remind_every", problems);
        s.finish(problems);
        let (Some(id), Some(name), Some(from)) = (id, name, from) else {
            continue;
        };
        let start = match from.value.as_str() {
            "declaration" => ClockStart::Declaration,
            "awareness" => ClockStart::Awareness,
            "personal-data-awareness" => ClockStart::PersonalDataAwareness,
            "acknowledgement" => ClockStart::Acknowledgement,
            "resolution" => ClockStart::Resolution,
            other => match ObligationId::parse(other) {
                Ok(o) => ClockStart::Met(o),
                Err(e) => {
                    problems.push(Diagnostic::new(from.span.clone(), e.to_string()));
                    continue;
                }
            },
        };
        let (met_by_text, met_by_span) = match met_by {
            Some(m) => (m.value, m.span),
            None => (id.value.to_string(), id.span.clone()),
        };
        drafts.push(Draft {
            obligation: Obligation {
                id: id.value.clone(),
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                from: start,
                within: within.map(|w| w.value),
                severities: severities_given.then_some(severities),
                personal_data,
                met_by: NoticeKind::Customers,
                remind_every: remind_every.map(|r| r.value),
            },
            from_span: from.span,
            met_by_span,
            met_by_text,
        });
    }
    let ids = ids.finish("obligation", problems);
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let starts: BTreeMap<String, ClockStart> = drafts
        .iter()
        .map(|d| (d.obligation.id.to_string(), d.obligation.from.clone()))
        .collect();
    for draft in &mut drafts {
        if let ClockStart::Met(other) = &draft.obligation.from {
            let known = "declaration, awareness, personal-data-awareness, acknowledgement, resolution";
            if !id_refs.contains(&other.as_str()) {
                let hint = match closest(other.as_str(), id_refs.iter().copied()) {
                    Some(guess) => format!("did you mean \"{guess}\"?"),
                    None => format!("from is one of {known}, or the id of another obligation"),
                };
                problems.push(
                    Diagnostic::new(
                        draft.from_span.clone(),
                        format!("obligation \"{}\" starts from unknown \"{other}\"", draft.obligation.id),
                    )
                    .with_hint(hint),
                );
            } else if chain_loops(&draft.obligation.id, &starts) {
                problems.push(Diagnostic::new(
                    draft.from_span.clone(),
                    format!(
                        "obligation \"{}\" starts from itself through a loop of obligations",
                        draft.obligation.id
                    ),
                ));
            }
        }
        let kind = match NoticeKind::built_in(&draft.met_by_text) {
            Some(NoticeKind::StatusUpdate) => None,
            Some(kind) => Some(kind),
            None => id_refs
                .contains(&draft.met_by_text.as_str())
                .then(|| ObligationId::parse(&draft.met_by_text).ok())
                .flatten()
                .map(NoticeKind::Obligation),
        };
        match kind {
            Some(kind) => draft.obligation.met_by = kind,
            None => problems.push(
                Diagnostic::new(
                    draft.met_by_span.clone(),
                    format!(
                        "obligation \"{}\" is met by unknown notice \"{}\"",
                        draft.obligation.id, draft.met_by_text
                    ),
                )
                .with_hint("met_by is customers, authority, data-subjects, or an obligation id"),
            ),
        }
    }
    drafts.into_iter().map(|d| d.obligation).collect()
}

fn chain_loops(start: &ObligationId, starts: &BTreeMap<String, ClockStart>) -> bool {
    let mut current = start.to_string();
    for _ in 0..=starts.len() {
        match starts.get(&current) {
            Some(ClockStart::Met(next)) if next == start => return true,
            Some(ClockStart::Met(next)) => current = next.to_string(),
            _ => return false,
        }
    }
    true
}

fn disclosure(table: TableAt<'_, '_>, problems: &mut Problems) -> Option<Disclosure> {
    let mut s = Section::new(table, "[disclosure]");
    let contact = s.opt_str("contact", problems).map(|c| c.value);
    let acknowledge_within = s.duration("acknowledge_within", problems);
    let assess_within = s.duration("assess_within", problems);
    s.finish(problems);
    Some(Disclosure {
        contact,
        acknowledge_within: acknowledge_within?.value,
        assess_within: assess_within?.value,
    })
}

/// `[[rate_limit]]` tables: `policy`, `limit` and `per`; the defaults fill in the rest.
fn rate_limits(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<RatePolicy> {
    let mut policies = Vec::new();
    let mut names = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[rate_limit]]");
        let name = s.str("policy", "\"login\"", problems);
        let limit = s.opt_uint("limit", 1, 1_000_000, problems);
        if !s.table_has("limit") {
            problems.push(Diagnostic::new(s.span(), "[[rate_limit]] is missing limit").with_hint("add limit = 5"));
        }
        let per = s.duration("per", problems);
        s.finish(problems);
        let per_ms = per.as_ref().and_then(|p| match p.value.elapsed_seconds() {
            Some(seconds) => Some(seconds * 1000),
            None => {
                problems.push(
                    Diagnostic::new(p.span.clone(), "per in [[rate_limit]] must be an exact span")
                        .with_hint("write it like \"15m\" or \"1h\", not in business days or months"),
                );
                None
            }
        });
        if let (Some(name), Some(limit), Some(per_ms)) = (name, limit, per_ms) {
            names.push((name.value.clone(), name.span));
            policies.push(RatePolicy {
                name: name.value,
                limit: limit.value,
                per_ms,
            });
        }
    }
    no_duplicates(
        "rate_limit",
        names.iter().map(|(n, span)| (n.as_str(), span.clone())),
        problems,
    );
    for default in default_policies() {
        if !policies.iter().any(|p| p.name == default.name) {
            policies.push(default);
        }
    }
    policies
}

/// `[[rule]]` tables: `detector`, `action` (open, join, record), an optional `severity`
/// and an optional `group` (key or detector).
fn rules(tables: &[TableAt<'_, '_>], severity_ids: &[&str], problems: &mut Problems) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut seen = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[rule]]");
        let detector = s.str("detector", "\"brute_force\"", problems);
        let action = s.str("action", "\"open\"", problems);
        let severity = s.opt_str("severity", problems);
        let group = s.opt_str("group", problems);
        let customers = s.opt_str("customers", problems).and_then(|c| match c.value.parse() {
            Ok(impact) => Some(impact),
            Err(e) => {
                problems.push(Diagnostic::new(c.span, e));
                None
            }
        });
        s.finish(problems);
        let one_incident = match group.as_ref().map(|g| g.value.as_str()) {
            None => None,
            Some("key") => Some(false),
            Some("detector") => Some(true),
            Some(other) => {
                problems.push(
                    Diagnostic::new(
                        group.as_ref().map_or(0..0, |g| g.span.clone()),
                        format!("unknown group \"{other}\" in [[rule]]"),
                    )
                    .with_hint("write key (one incident per source or key) or detector (one incident for all)"),
                );
                None
            }
        };
        let detector = detector.and_then(|d| known_detector(d, problems));
        let action = action.and_then(|a| match Disposition::parse(&a.value) {
            Some(action) => Some(action),
            None => {
                problems.push(
                    Diagnostic::new(a.span, format!("unknown action \"{}\" in [[rule]]", a.value))
                        .with_hint("write open, join or record"),
                );
                None
            }
        });
        // A severity named but unknown is reported, and the rule is left out.
        let severity = match severity {
            None => Some(None),
            Some(sev) => references(
                "severity",
                "[[rule]]",
                vec![sev],
                severity_ids,
                SeverityId::parse,
                problems,
            )
            .pop()
            .map(Some),
        };
        if let (Some(detector), Some(action), Some(severity)) = (detector, action, severity) {
            seen.push((detector.value.clone(), detector.span.clone()));
            rules.push(Rule {
                detector: detector.value,
                disposition: action,
                severity,
                one_incident,
                customers,
            });
        }
    }
    no_duplicates(
        "rule",
        seen.iter().map(|(d, span)| (d.as_str(), span.clone())),
        problems,
    );
    rules
}

/// `[[integration]]` tables: `name`, the plan's severity (or `"record"`) for each of the
/// sender's words `critical`, `error`, `warning` and `info`, and `resolve_incident`.
fn integrations(tables: &[TableAt<'_, '_>], severity_ids: &[&str], problems: &mut Problems) -> Vec<IntegrationRule> {
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
            .map_or(super::MAX_OPEN_ALERTS, |n| n.value);
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

/// A detector's name, reported with a guess when it is unknown.
fn known_detector(d: Located<String>, problems: &mut Problems) -> Option<Located<String>> {
    if DETECTORS.contains(&d.value.as_str()) {
        return Some(d);
    }
    problems.push(unknown(
        &d,
        format!("unknown detector \"{}\"", d.value),
        &DETECTORS,
        format!("the detectors are {}", DETECTORS.join(", ")),
    ));
    None
}

/// `[[suppress]]` tables: `key` (exact, `prefix*` or a network like `10.0.0.0/8`), an
/// optional `detector`, an optional `until` (a time, or a date meaning the end of that day
/// in the plan's time zone) and the `reason`.
fn suppressions(tables: &[TableAt<'_, '_>], zone: Option<tz::TimeZone>, problems: &mut Problems) -> Vec<Suppression> {
    let mut suppressions = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[suppress]]");
        let key = s.str("key", "\"203.0.113.7\"", problems);
        let detector = s.opt_str("detector", problems);
        let until = s.opt_str("until", problems);
        let reason = s.str("reason", "\"the weekly penetration test\"", problems);
        s.finish(problems);
        let key = key.and_then(|k| match KeyPattern::parse(&k.value) {
            Ok(pattern) => Some(pattern),
            Err(why) => {
                problems.push(
                    Diagnostic::new(k.span, format!("key \"{}\" in [[suppress]]: {why}", k.value))
                        .with_hint("write an exact key, a prefix ending in *, or a network like 10.0.0.0/8"),
                );
                None
            }
        });
        let detector = match detector {
            None => Some(None),
            Some(d) => known_detector(d, problems).map(|d| Some(d.value)),
        };
        let until = match until {
            None => Some(None),
            Some(u) => match until_time(&u.value, zone.as_ref()) {
                Some(at) => Some(Some(at)),
                None => {
                    problems.push(
                        Diagnostic::new(
                            u.span,
                            format!("until \"{}\" in [[suppress]] is not a date or a time", u.value),
                        )
                        .with_hint("write a date like 2026-12-31 or a time like 2026-12-31T18:00:00Z"),
                    );
                    None
                }
            },
        };
        if let (Some(key), Some(detector), Some(until), Some(reason)) = (key, detector, until, reason) {
            suppressions.push(Suppression {
                detector,
                key,
                until,
                reason: reason.value,
            });
        }
    }
    suppressions
}

/// `[[channel]]` tables: `name`, `type`, where the secret is kept (`secret_env` or
/// `secret_file`, never the secret itself), and what the type needs: a webhook's `url`; a
/// Telegram bot's `chat` (and `url` for a Bot API server of one's own, `users` who may
/// act); an email channel's SMTP `url`, `from`, `to`, and `username`, `tls`, `ca_file`.
/// A Slack incoming webhook's address is its secret, so it has no `url`.
fn channels(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<Channel> {
    let mut channels = Vec::new();
    let mut seen = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[channel]]");
        let name = s.str("name", "\"ops-webhook\"", problems);
        let kind = s.str("type", "\"webhook\"", problems);
        let url = s.opt_str("url", problems);
        let inline = s.opt_str("secret", problems);
        let env = s.opt_str("secret_env", problems);
        let file = s.opt_str("secret_file", problems);
        let chat = s.opt_text_or_int("chat", problems);
        let users = s.int_list("users", problems);
        let from = s.opt_str("from", problems);
        let to = s.str_list("to", problems);
        let username = s.opt_str("username", problems);
        let tls = s.opt_str("tls", problems);
        let ca_file = s.opt_str("ca_file", problems);
        let span = s.span();
        s.finish(problems);
        if let Some(inline) = inline {
            problems.push(
                Diagnostic::new(inline.span, "a secret must not be written in the plan")
                    .with_hint("keep it in an environment variable (secret_env) or a file (secret_file)"),
            );
        }
        let name = name.filter(|n| {
            let ok = !n.value.is_empty()
                && n.value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !ok {
                problems.push(
                    Diagnostic::new(n.span.clone(), format!("channel name \"{}\" is not a name", n.value))
                        .with_hint("use lowercase letters, digits, - and _"),
                );
            }
            ok
        });
        let Some(kind) = kind else { continue };
        let Some(kind) = ChannelKind::parse(&kind.value) else {
            let kinds: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
            problems.push(unknown(
                &kind,
                format!("unknown channel type \"{}\"", kind.value),
                &kinds,
                format!("the channel types are {}", kinds.join(", ")),
            ));
            continue;
        };
        let before = problems.len();
        // Settings of one type are a mistake on another.
        let this = kind.as_str();
        let only = |key: &str, span: &Range<usize>, owner: ChannelKind| {
            Diagnostic::new(
                span.clone(),
                format!("{key} is for {} channels, not {this} ones", owner.as_str()),
            )
            .with_hint(format!("remove {key}"))
        };
        if kind != ChannelKind::Telegram {
            problems.extend(chat.iter().map(|c| only("chat", &c.span, ChannelKind::Telegram)));
            problems.extend(users.first().map(|u| only("users", &u.span, ChannelKind::Telegram)));
        }
        if kind != ChannelKind::Email {
            for (key, at) in [
                ("from", &from),
                ("username", &username),
                ("tls", &tls),
                ("ca_file", &ca_file),
            ] {
                problems.extend(at.iter().map(|a| only(key, &a.span, ChannelKind::Email)));
            }
            problems.extend(to.first().map(|t| only("to", &t.span, ChannelKind::Email)));
        }
        let secret = match (env, file) {
            (Some(env), None) => Some(Secret::Env(env.value)),
            (None, Some(file)) => Some(Secret::File(file.value)),
            (Some(env), Some(_)) => {
                problems.push(
                    Diagnostic::new(env.span, "[[channel]] names both secret_env and secret_file")
                        .with_hint("keep one of them"),
                );
                Some(Secret::Env(env.value))
            }
            (None, None) => None,
        };
        let schemes: &[&str] = match kind {
            ChannelKind::Email => &["smtp", "smtps"],
            _ => &["http", "https"],
        };
        if let Some(u) = &url {
            let rest = schemes
                .iter()
                .find_map(|scheme| u.value.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")));
            let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace));
            if !ok {
                let example = match kind {
                    ChannelKind::Email => "smtp://mail.example.com:587",
                    _ => "https://hooks.example.com/tocsin",
                };
                problems.push(
                    Diagnostic::new(
                        u.span.clone(),
                        format!(
                            "url \"{}\" in [[channel]] is not an {} URL",
                            u.value,
                            schemes.join(" or ")
                        ),
                    )
                    .with_hint(format!("write it like \"{example}\"")),
                );
            }
        }
        let article = if this.starts_with('e') { "an" } else { "a" };
        let needs = |what: &str, example: &str| {
            Diagnostic::new(span.clone(), format!("{article} {this} [[channel]] needs {what}"))
                .with_hint(format!("add {example}"))
        };
        let secret_hint = |example: &str| {
            format!(
                "secret_env = \"{example}\" or secret_file = \"/run/secrets/{}\"",
                example.to_lowercase()
            )
        };
        match kind {
            ChannelKind::Webhook => {
                if url.is_none() {
                    problems.push(needs("a url", "url = \"https://hooks.example.com/tocsin\""));
                }
                if secret.is_none() {
                    problems.push(needs("a signing secret", &secret_hint("TOCSIN_WEBHOOK_SECRET")));
                }
            }
            ChannelKind::Slack => {
                if let Some(u) = &url {
                    problems.push(
                        Diagnostic::new(
                            u.span.clone(),
                            "a Slack webhook's address is its secret: it must not be written in the plan",
                        )
                        .with_hint("keep the whole address in secret_env or secret_file, and remove url"),
                    );
                }
                if secret.is_none() {
                    problems.push(needs(
                        "its webhook address as a secret",
                        &secret_hint("TOCSIN_SLACK_WEBHOOK"),
                    ));
                }
            }
            ChannelKind::Telegram => {
                match &chat {
                    None => problems.push(needs(
                        "a chat",
                        "chat = -1001234567890 (the group's id) or \"@channelname\"",
                    )),
                    Some(c) => {
                        if let Err(e) = super::check_telegram_chat(&c.value) {
                            problems.push(Diagnostic::new(c.span.clone(), e));
                        }
                    }
                }
                if secret.is_none() {
                    problems.push(needs(
                        "the bot's token as a secret",
                        &secret_hint("TOCSIN_TELEGRAM_TOKEN"),
                    ));
                }
            }
            ChannelKind::Email => {
                if url.is_none() {
                    problems.push(needs("the SMTP server's url", "url = \"smtp://mail.example.com:587\""));
                }
                match &from {
                    None => problems.push(needs("a from address", "from = \"tocsin@example.com\"")),
                    Some(f) => problems.extend(email_problem(f)),
                }
                if to.is_empty() {
                    problems.push(needs("recipients", "to = [\"security@example.com\"]"));
                }
                problems.extend(to.iter().filter_map(email_problem));
                match (&username, &secret) {
                    (Some(_), None) => problems.push(needs(
                        "the password of its username as a secret",
                        &secret_hint("TOCSIN_SMTP_PASSWORD"),
                    )),
                    (None, Some(_)) => problems.push(needs(
                        "a username for its password",
                        "username = \"tocsin@example.com\"",
                    )),
                    _ => {}
                }
            }
        }
        let tls = match (&tls, url.as_ref().is_some_and(|u| u.value.starts_with("smtps://"))) {
            (None, true) => SmtpTls::Implicit,
            (None, false) => SmtpTls::default(),
            (Some(t), implicit) => match (t.value.as_str(), implicit) {
                ("implicit", _) => SmtpTls::Implicit,
                ("starttls", false) => SmtpTls::StartTls,
                ("none", false) => SmtpTls::None,
                ("starttls" | "none", true) => {
                    problems.push(
                        Diagnostic::new(
                            t.span.clone(),
                            format!(
                                "an smtps:// url is TLS from the start; tls \"{}\" contradicts it",
                                t.value
                            ),
                        )
                        .with_hint("remove tls, or use smtp://"),
                    );
                    SmtpTls::Implicit
                }
                _ => {
                    problems.push(
                        Diagnostic::new(t.span.clone(), format!("unknown tls \"{}\" in [[channel]]", t.value))
                            .with_hint("use \"starttls\" (the default), \"implicit\" or \"none\""),
                    );
                    SmtpTls::default()
                }
            },
        };
        if let Some(name) = &name {
            seen.push((name.value.clone(), name.span.clone()));
        }
        if let (Some(name), true) = (name, problems.len() == before) {
            channels.push(Channel {
                name: name.value,
                kind,
                url: url.map(|u| u.value),
                secret,
                chat: chat.map(|c| c.value.trim().to_owned()),
                users: users.into_iter().map(|u| u.value).collect(),
                from: from.map(|f| f.value),
                to: to.into_iter().map(|t| t.value).collect(),
                username: username.map(|u| u.value),
                tls,
                ca_file: ca_file.map(|c| c.value),
            });
        }
    }
    no_duplicates(
        "channel",
        seen.iter().map(|(n, span)| (n.as_str(), span.clone())),
        problems,
    );
    channels
}

/// Whether `at` holds something that can be an email address, or what is wrong with it.
fn email_problem(at: &Located<String>) -> Option<Diagnostic> {
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

/// `[[person]]` tables: `id`, `name`, and how they are reached: `email`, `telegram` (user
/// id), `slack` (member id).
fn people(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<Person> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("person #{}", index + 1));
        let id = s.str("id", "\"jo\" (their tocsin user name, if they have one)", problems);
        let name = s.str("name", "\"Jo Smith\"", problems);
        let email = s.opt_str("email", problems);
        let telegram = s.opt_int("telegram", problems);
        let slack = s.opt_str("slack", problems);
        s.finish(problems);
        let before = problems.len();
        if let Some(id) = &id {
            if let Err(e) = crate::identity::Username::parse(&id.value) {
                problems.push(Diagnostic::new(id.span.clone(), format!("person id: {e}")));
            }
            seen.push((id.value.clone(), id.span.clone()));
        }
        problems.extend(email.as_ref().and_then(email_problem));
        if let Some(t) = &telegram
            && t.value <= 0
        {
            problems.push(
                Diagnostic::new(t.span.clone(), "telegram is a person's user id, a positive number").with_hint(
                    "ask them to send /start to the bot and read the id in `tocsin` logs, or ask @userinfobot",
                ),
            );
        }
        if let (Some(id), Some(name), true) = (id, name, problems.len() == before) {
            out.push(Person {
                id: id.value,
                name: name.value,
                email: email.map(|e| e.value),
                telegram: telegram.map(|t| t.value),
                slack: slack.map(|s| s.value),
            });
        }
    }
    no_duplicates(
        "person",
        seen.iter().map(|(n, span)| (n.as_str(), span.clone())),
        problems,
    );
    out
}

/// People named by `owner` (a role, an escalation level) that the plan defines.
fn people_references(
    owner: &str,
    refs: Vec<Located<String>>,
    person_ids: &[&str],
    problems: &mut Problems,
) -> Vec<String> {
    refs.into_iter()
        .filter_map(|r| {
            if person_ids.contains(&r.value.as_str()) {
                return Some(r.value);
            }
            problems.push(unknown(
                &r,
                format!("{owner} refers to unknown person \"{}\"", r.value),
                person_ids,
                "define them in a [[person]] table".into(),
            ));
            None
        })
        .collect()
}

/// The ids an `[escalation]` may refer to.
struct Known<'a> {
    severities: &'a [&'a str],
    channels: &'a [&'a str],
    roles: &'a [&'a str],
    people: &'a [&'a str],
}

/// The `[escalation]` table: `channels`, optional `severities` (those that page by
/// default), `repeat`, and `[[escalation.level]]` tables with `after` and `notify`.
fn escalation(
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

/// `[[route]]` tables: `channels` (names of `[[channel]]`s), and optional `events` (kinds
/// of news), `severities` and `quiet_hours` ("22:00-07:00").
fn routes(
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

/// A time, or a date read as the end of that day in `zone` (UTC when the plan has none).
fn until_time(text: &str, zone: Option<&tz::TimeZone>) -> Option<crate::Timestamp> {
    if let Ok(at) = text.parse::<crate::Timestamp>() {
        return Some(at);
    }
    let date: Date = text.parse().ok()?;
    let next = date.tomorrow().ok()?;
    next.to_zoned(zone.cloned().unwrap_or(tz::TimeZone::UTC))
        .ok()
        .map(|z| z.timestamp())
}

/// `[detection]`: the detectors' settings, each optional.
fn detection(table: TableAt<'_, '_>, problems: &mut Problems) -> Detection {
    let mut s = Section::new(table, "[detection]");
    let seconds = |d: Option<Located<crate::duration::Duration>>, key: &str, problems: &mut Problems| {
        d.and_then(|d| match d.value.elapsed_seconds() {
            Some(seconds) => Some(seconds),
            None => {
                problems.push(
                    Diagnostic::new(d.span, format!("{key} in [detection] must be an exact span"))
                        .with_hint("write it like \"10m\" or \"1h\""),
                );
                None
            }
        })
    };
    let threshold = s.opt_uint("brute_force_threshold", 1, 10_000, problems);
    let window = s.opt_duration("brute_force_window", problems);
    let accounts = s.opt_uint("spray_accounts", 2, 10_000, problems);
    let stale = s.opt_duration("stale_agent_after", problems);
    let quiet = s.opt_duration("quiet_period", problems);
    let hours = s
        .opt_str("working_hours", problems)
        .and_then(|h| match working_hours(&h.value) {
            Some(hours) => Some(hours),
            None => {
                problems.push(
                    Diagnostic::new(
                        h.span,
                        format!("working_hours \"{}\" in [detection] is not a span of the day", h.value),
                    )
                    .with_hint("write it like \"08:00-18:00\""),
                );
                None
            }
        });
    s.finish(problems);
    Detection {
        brute_force_threshold: threshold.map(|t| t.value),
        brute_force_window_seconds: seconds(window, "brute_force_window", problems),
        spray_accounts: accounts.map(|a| a.value),
        stale_agent_after_seconds: seconds(stale, "stale_agent_after", problems),
        working_hours: hours,
        quiet_period_seconds: seconds(quiet, "quiet_period", problems),
    }
}

/// `[recovery]`: `watch` (an exact span, or "0m" for none) and `sensitivity` (1 to 10).
fn recovery(table: TableAt<'_, '_>, problems: &mut Problems) -> Recovery {
    let mut s = Section::new(table, "[recovery]");
    let watch = s.opt_duration("watch", problems);
    let sensitivity = s.opt_uint("sensitivity", 1, 10, problems);
    s.finish(problems);
    let default = Recovery::default();
    let watch_seconds = match watch {
        None => default.watch_seconds,
        Some(w) => match w.value.elapsed_seconds() {
            Some(0) => None,
            Some(seconds) => Some(seconds),
            None => {
                problems.push(
                    Diagnostic::new(w.span, "watch in [recovery] must be an exact span")
                        .with_hint("write it like \"72h\" or \"3d\", or \"0m\" for no watch"),
                );
                default.watch_seconds
            }
        },
    };
    Recovery {
        watch_seconds,
        sensitivity: sensitivity.map_or(default.sensitivity, |s| s.value),
    }
}

/// `[audit]`: `channel` (a channel's name) and `sign_every` (an exact span, 1m to 1d).
fn audit(table: TableAt<'_, '_>, channels: &[&str], problems: &mut Problems) -> AuditSeal {
    let mut s = Section::new(table, "[audit]");
    let channel = s.opt_str("channel", problems);
    let every = s.opt_duration("sign_every", problems);
    s.finish(problems);
    let mut audit = AuditSeal::default();
    if let Some(channel) = channel {
        if !channels.contains(&channel.value.as_str()) {
            problems.push(unknown(
                &channel,
                format!("[audit] refers to unknown channel \"{}\"", channel.value),
                channels,
                "define it in a [[channel]] table".into(),
            ));
        }
        audit.channel = Some(channel.value);
    }
    if let Some(every) = every {
        match every.value.elapsed_seconds() {
            Some(seconds) if (60..=86_400).contains(&seconds) => audit.sign_every_seconds = seconds,
            _ => problems.push(
                Diagnostic::new(every.span, "sign_every in [audit] must be an exact span from 1m to 1d")
                    .with_hint("write it like \"1h\" or \"15m\""),
            ),
        }
    }
    audit
}

/// `[customers]`: `notice_when`, the answers to "are customers affected?" that start the
/// customer-notice clock.
fn customers(table: TableAt<'_, '_>, problems: &mut Problems) -> Vec<CustomerImpact> {
    let mut s = Section::new(table, "[customers]");
    let given = s.table_has("notice_when");
    let answers = s.str_list("notice_when", problems);
    s.finish(problems);
    if !given {
        return DEFAULT_NOTICE_WHEN.to_vec();
    }
    let mut out = Vec::new();
    for answer in answers {
        match answer.value.parse::<CustomerImpact>() {
            Ok(CustomerImpact::No) => problems.push(
                Diagnostic::new(answer.span, "notice_when in [customers] cannot hold \"no\"").with_hint(
                    "customers who are not affected are not told; write [\"yes\"] or [\"yes\", \"unknown\"]",
                ),
            ),
            Ok(impact) if !out.contains(&impact) => out.push(impact),
            Ok(_) => {}
            Err(e) => problems.push(Diagnostic::new(answer.span, e)),
        }
    }
    out
}

/// `08:00-18:00` as minutes after midnight; the end after the start.
fn working_hours(text: &str) -> Option<(u16, u16)> {
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let (start, end) = text.split_once('-')?;
    let (start, end) = (minutes(start)?, minutes(end)?);
    (start < end).then_some((start, end))
}
