//! Signals: what detectors found, before and after the plan's rules decide what it means.

use jiff::Timestamp;

use crate::detector::DetectorId;
use crate::incident::{CustomerImpact, IncidentNumber};
use crate::plan::Plan;

/// A detector's finding, as kept: deduplicated by detector, key and the time it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// Which detector, like `brute_force`.
    pub detector: DetectorId,
    /// What it is about, like the source address.
    pub key: String,
    /// When it was found: the time of the event that completed it.
    pub at: Timestamp,
    /// Events counted.
    pub count: u64,
    /// The first event counted.
    pub first_at: Timestamp,
    /// The last event counted.
    pub last_at: Timestamp,
    /// Sequence numbers of events in the log that show it.
    pub samples: Vec<u64>,
    /// For a signal about many sources (a campaign on one account), the sources.
    pub sources: Vec<String>,
    /// The accounts it is about when its key is not one: the account a compromise got into.
    pub accounts: Vec<String>,
    /// One line for a person.
    pub summary: String,
}

impl Signal {
    /// What repeats of the same finding share.
    pub fn fingerprint(&self) -> String {
        format!("{}:{}", self.detector, self.key)
    }
}

/// What a signal leads to under the plan's rules (its disposition; "action" is the word
/// for containment actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Join the open incident of the same group, or declare one.
    Open,
    /// Join the open incident of the same group; otherwise only record.
    Join,
    /// Keep the signal on record and do nothing else.
    Record,
}

impl Disposition {
    /// Every disposition, in the order the plan lists them.
    pub const ALL: [Disposition; 3] = [Disposition::Open, Disposition::Join, Disposition::Record];

    /// The disposition a plan's word names, if one does.
    pub fn parse(text: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The word the plan and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Open => "open",
            Disposition::Join => "join",
            Disposition::Record => "record",
        }
    }
}

/// The rule for one detector's signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// What signals of the rule lead to.
    pub disposition: Disposition,
    /// The severity by its rank in the plan: 0 is the most severe.
    pub tier: usize,
    /// All its signals join one incident, whatever they are about: several agents that
    /// fall silent together are one outage.
    pub one_incident: bool,
    /// Whether customers are affected by the incidents it opens: an attack on logins that
    /// failed touched nobody's data; anything else is unknown until a responder says.
    pub customers: CustomerImpact,
}

/// The id of the plan's severity at `tier`, or its least severe when it has fewer.
pub fn severity_at(plan: &Plan, tier: usize) -> String {
    let severities = plan.severities();
    severities[tier.min(severities.len() - 1)].id.to_string()
}

/// What the plan says a detector's signals lead to: its `[[rule]]`, or tocsin's default,
/// with the severity it suggests.
pub fn rule_for(plan: &Plan, detector: DetectorId) -> (Disposition, String) {
    let default = detector.default_rule();
    match plan_rule(plan, detector) {
        Some(rule) => (
            rule.disposition,
            rule.severity
                .as_ref()
                .map_or_else(|| severity_at(plan, default.tier), ToString::to_string),
        ),
        None => (default.disposition, severity_at(plan, default.tier)),
    }
}

/// Whether all of a detector's signals join one incident: its `[[rule]]`'s `group`, or
/// tocsin's default.
pub fn one_incident(plan: &Plan, detector: DetectorId) -> bool {
    plan_rule(plan, detector)
        .and_then(|r| r.one_incident)
        .unwrap_or_else(|| detector.default_rule().one_incident)
}

/// The plan's `[[rule]]` for a detector, if it has one.
fn plan_rule(plan: &Plan, detector: DetectorId) -> Option<&crate::plan::Rule> {
    plan.rules().iter().find(|r| r.detector == detector)
}

/// Whether customers are affected by an incident a detector's signals open: its
/// `[[rule]]`'s `customers`, or tocsin's default.
pub fn customers_of(plan: &Plan, detector: DetectorId) -> CustomerImpact {
    plan_rule(plan, detector)
        .and_then(|r| r.customers)
        .unwrap_or_else(|| detector.default_rule().customers)
}

/// How severe a severity id is in the plan: 0 is the most severe; unknown ids rank last.
pub fn rank(plan: &Plan, severity: &str) -> usize {
    plan.severities()
        .iter()
        .position(|s| s.id.as_str() == severity)
        .unwrap_or(usize::MAX)
}

/// What an alert from the integration `source` leads to, by the sender's severity word:
/// the plan's `[[integration]]` table for the source, else its `[[rule]]` for the
/// detector, else tocsin's default (critical, error and warning open incidents at the
/// plan's first three tiers; info is recorded). A word tocsin does not know counts as a
/// warning.
pub fn alert_rule(plan: &Plan, source: &str, detector: DetectorId, severity: Option<&str>) -> (Disposition, String) {
    let tier = severity.and_then(crate::alert::tier_of).unwrap_or(2);
    let word = crate::alert::SEVERITY_WORDS[tier];
    if let Some((_, mapped)) = plan
        .integration(source)
        .and_then(|i| i.severities.iter().find(|(w, _)| w == word))
    {
        return match mapped {
            Some(id) => (Disposition::Open, id.to_string()),
            None => (Disposition::Record, severity_at(plan, tier)),
        };
    }
    if let Some(rule) = plan.rules().iter().find(|r| r.detector == detector) {
        let severity = rule
            .severity
            .as_ref()
            .map_or_else(|| severity_at(plan, tier), ToString::to_string);
        return (rule.disposition, severity);
    }
    let action = if tier >= 3 {
        Disposition::Record
    } else {
        Disposition::Open
    };
    (action, severity_at(plan, tier))
}

/// What one of tocsin's own alerts leads to (a probe going down, a finding of the daily
/// audit): the plan severity it names opens an incident (a `[[probe]]`'s `severity`, a
/// finding's tier); without one, the plan's `[[rule]]` for `probe` or `audit`, or tocsin's
/// default (for a probe, the plan's second tier, which is an endpoint's outage in the
/// four-tier plan).
pub fn own_rule(plan: &Plan, via: crate::alert::Via, severity: Option<&str>) -> (Disposition, String) {
    match severity.filter(|s| plan.severities().iter().any(|known| known.id.as_str() == *s)) {
        Some(severity) => (Disposition::Open, severity.to_owned()),
        None => rule_for(plan, DetectorId::Alert(via)),
    }
}

/// Whether alerts that came by `via` are tocsin's own: their severity is a plan severity,
/// and their resolving resolves the incident they joined.
pub fn is_own(via: crate::alert::Via) -> bool {
    matches!(via, crate::alert::Via::Probe | crate::alert::Via::Audit)
}

/// What the plan makes of a signal: what it leads to and at which severity, the group of
/// signals whose open incident it joins, and why a suppression holds it back, if one does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ruling {
    /// What it leads to.
    pub disposition: Disposition,
    /// The severity of the incident it opens or raises.
    pub severity: String,
    /// The group whose open incident it joins.
    pub group: String,
    /// The reason of the plan's `[[suppress]]` that covers it: it is then only recorded.
    pub suppressed: Option<String>,
}

/// Where a signal came from, for its ruling.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// A detector's finding in the event log.
    Finding,
    /// An outside alert from the integration `source`, with the sender's severity word and
    /// the group it put the alert in.
    Alert {
        /// The integration's name.
        source: &'a str,
        /// The sender's severity word, if it gave one.
        severity: Option<&'a str>,
        /// The group the sender put the alert in.
        group: &'a str,
    },
}

/// The group of the signals that recur during an incident's recovery watch: the incident.
pub const WATCH_GROUP: &str = "watch:";

/// Rules on a signal by the plan: its `[[rule]]` or `[[integration]]`, tocsin's defaults,
/// and its `[[suppress]]` tables.
pub fn ruling(plan: &Plan, signal: &Signal, origin: Origin<'_>) -> Ruling {
    let own = match signal.detector {
        DetectorId::Alert(via) if is_own(via) => Some(via),
        _ => None,
    };
    let (disposition, severity, group) = match origin {
        Origin::Finding => {
            let (disposition, severity) = rule_for(plan, signal.detector);
            (disposition, severity, group_of(plan, signal))
        }
        Origin::Alert { severity, group, .. } if own.is_some() => {
            let via = own.unwrap_or(crate::alert::Via::Probe);
            let (disposition, severity) = own_rule(plan, via, severity);
            (disposition, severity, format!("{}:{group}", via.as_str()))
        }
        Origin::Alert {
            source,
            severity,
            group,
        } => {
            let (disposition, severity) = alert_rule(plan, source, signal.detector, severity);
            (disposition, severity, format!("alert:{source}:{group}"))
        }
    };
    // A suppressed signal is kept on record, with why, and leads to nothing.
    let suppressed = plan
        .suppression(signal.detector, &signal.key, signal.at)
        .map(|s| s.reason.clone());
    Ruling {
        disposition: if suppressed.is_some() {
            Disposition::Record
        } else {
            disposition
        },
        severity,
        group,
        suppressed,
    }
}

impl Ruling {
    /// Keeps the signal on record only, with why: something tocsin knows makes it expected
    /// (an agent told to pause is silent). A suppression already given stays.
    pub fn suppress(&mut self, why: String) {
        if self.suppressed.is_none() {
            self.suppressed = Some(why);
        }
        self.disposition = Disposition::Record;
    }

    /// During an incident's recovery watch, a signal about its keys goes back to it,
    /// unless a suppression holds it back.
    pub fn watched_by(&mut self, incident: IncidentNumber) {
        if self.suppressed.is_none() {
            self.group = format!("{WATCH_GROUP}{incident}");
            self.disposition = Disposition::Open;
        }
    }
}

/// Signals about the same thing join one incident: failed-login signals by source, the
/// rest by detector and key; a rule with `group = "detector"` (the default for stale
/// agents) puts all of a detector's signals in one.
fn group_of(plan: &Plan, signal: &Signal) -> String {
    if one_incident(plan, signal.detector) {
        format!("detector:{}", signal.detector)
    } else if signal.detector.keyed_by_source() {
        format!("source:{}", signal.key)
    } else {
        format!("{}:{}", signal.detector, signal.key)
    }
}
