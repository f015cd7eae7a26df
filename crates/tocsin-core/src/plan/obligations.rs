//! What the plan promises to tell and by when: `[[obligation]]`, `[disclosure]` and `[customers]`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use super::build::{Ids, references};
use super::read::{Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::id::{ObligationId, SeverityId, closest};
use crate::incident::CustomerImpact;

/// A duty with a deadline that the plan (or the law) attaches to some incidents.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Obligation {
    pub id: ObligationId,
    pub name: String,
    pub description: String,
    pub from: ClockStart,
    /// `None`: tracked until met, without a fixed deadline ("without undue delay").
    pub within: Option<Duration>,
    /// `None`: every severity.
    pub severities: Option<Vec<SeverityId>>,
    /// Applies only while the incident involves personal data.
    pub personal_data: bool,
    pub met_by: NoticeKind,
    /// While it is not met, remind this often (a notice "without undue delay" has no
    /// deadline to warn before).
    pub remind_every: Option<Duration>,
}

/// Vulnerability reports from outside (security.txt): how fast they are answered.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Disclosure {
    pub contact: Option<String>,
    pub acknowledge_within: Duration,
    pub assess_within: Duration,
}

/// The moment an obligation's clock starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClockStart {
    Declaration,
    Awareness,
    /// When the organization became aware that personal data is involved.
    PersonalDataAwareness,
    Acknowledgement,
    Resolution,
    /// When another obligation was met (NIS2's final report follows its notification).
    Met(ObligationId),
}

impl ClockStart {
    /// The moment in words, as in "within 72h of awareness of personal data".
    pub fn words(&self) -> String {
        match self {
            ClockStart::Declaration => "declaration".into(),
            ClockStart::Awareness => "awareness".into(),
            ClockStart::PersonalDataAwareness => "awareness of personal data".into(),
            ClockStart::Acknowledgement => "acknowledgement".into(),
            ClockStart::Resolution => "resolution".into(),
            ClockStart::Met(id) => format!("meeting {id}"),
        }
    }
}

impl fmt::Display for ClockStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockStart::Declaration => f.write_str("declaration"),
            ClockStart::Awareness => f.write_str("awareness"),
            ClockStart::PersonalDataAwareness => f.write_str("personal-data-awareness"),
            ClockStart::Acknowledgement => f.write_str("acknowledgement"),
            ClockStart::Resolution => f.write_str("resolution"),
            ClockStart::Met(id) => write!(f, "{id}"),
        }
    }
}

/// What was told to whom; recording one meets the clocks that wait for it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoticeKind {
    Customers,
    Authority,
    DataSubjects,
    StatusUpdate,
    /// What happened and what changed, told to customers after the incident.
    Summary,
    Obligation(ObligationId),
}

pub(crate) const BUILT_IN_NOTICES: [&str; 5] = ["customers", "authority", "data-subjects", "status-update", "summary"];

impl NoticeKind {
    pub fn as_str(&self) -> &str {
        match self {
            NoticeKind::Customers => "customers",
            NoticeKind::Authority => "authority",
            NoticeKind::DataSubjects => "data-subjects",
            NoticeKind::StatusUpdate => "status-update",
            NoticeKind::Summary => "summary",
            NoticeKind::Obligation(id) => id.as_str(),
        }
    }

    pub(super) fn built_in(text: &str) -> Option<Self> {
        match text {
            "customers" => Some(NoticeKind::Customers),
            "authority" => Some(NoticeKind::Authority),
            "data-subjects" => Some(NoticeKind::DataSubjects),
            "status-update" => Some(NoticeKind::StatusUpdate),
            "summary" => Some(NoticeKind::Summary),
            _ => None,
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answers to "are customers affected?" that start the customer-notice clock when the
/// plan does not say: until someone answers no, the promise stands.
pub(super) const DEFAULT_NOTICE_WHEN: [CustomerImpact; 2] = [CustomerImpact::Yes, CustomerImpact::Unknown];

/// Names that clocks already use; obligations may not take them.
const RESERVED_CLOCK_IDS: [&str; 4] = ["acknowledge", "status-update", "customer-notice", "review"];

pub(super) fn obligations(
    tables: &[TableAt<'_, '_>],
    severity_ids: &[&str],
    problems: &mut Problems,
) -> Vec<Obligation> {
    struct Draft {
        obligation: Obligation,
        from_span: Range<usize>,
        met_by_span: Range<usize>,
        met_by_text: String,
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let mut ids = Ids::default();
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
                .with_hint("met_by is customers, authority, data-subjects, summary, or an obligation id"),
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

pub(super) fn disclosure(table: TableAt<'_, '_>, problems: &mut Problems) -> Option<Disclosure> {
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

/// `[customers]`: `notice_when`, the answers to "are customers affected?" that start the
/// customer-notice clock.
pub(super) fn customers(table: TableAt<'_, '_>, problems: &mut Problems) -> Vec<CustomerImpact> {
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
