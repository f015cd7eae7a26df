//! Signals: what detectors found, before and after the plan's rules decide what it means.

use jiff::Timestamp;

use crate::incident::CustomerImpact;
use crate::plan::Plan;

/// A detector's finding, as kept: deduplicated by detector, key and the time it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// Which detector, like `brute_force`.
    pub detector: String,
    /// What it is about, like the source address.
    pub key: String,
    /// When it was found: the time of the event that completed it.
    pub at: Timestamp,
    /// Events counted, and the first and last of them.
    pub count: u64,
    pub first_at: Timestamp,
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

/// Every detector tocsin has, by the name its signals carry.
pub const DETECTORS: [&str; 24] = [
    "brute_force",
    "slow_brute_force",
    "password_spray",
    "account_attack",
    "credential_stuffing",
    "distributed_spray",
    "compromise",
    "rate_limit_abuse",
    "distributed_rate_limit",
    "error_spike",
    "new_error",
    "vault_new_secret",
    "vault_new_ip",
    "vault_volume",
    "vault_denied_burst",
    "vault_after_hours",
    "stale_agent",
    "agent_drift",
    // A resolved incident's keys again, during its recovery watch.
    "recurrence",
    // Alerts other tools raised, by the way they came.
    "alertmanager",
    "pagerduty",
    "sentry",
    "heartbeat",
    "alert",
];

/// What a detector's key names: `address`, `account`, `agent`, `fingerprint`, ...
pub fn subject(detector: &str) -> &'static str {
    match detector {
        "brute_force" | "compromise" | "slow_brute_force" | "password_spray" => "address",
        "account_attack" => "account",
        "credential_stuffing" | "distributed_spray" | "error_spike" => "service",
        "rate_limit_abuse" => "rate limit key",
        "distributed_rate_limit" => "rate limit policy",
        "new_error" => "fingerprint",
        "vault_new_secret" => "principal and secret",
        "vault_new_ip" => "principal and address",
        "vault_volume" | "vault_denied_burst" | "vault_after_hours" => "principal",
        "stale_agent" | "agent_drift" => "agent",
        "recurrence" => "watched key",
        _ => "alert",
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
    pub const ALL: [Disposition; 3] = [Disposition::Open, Disposition::Join, Disposition::Record];

    pub fn parse(text: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|a| a.as_str() == text)
    }

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

/// The rules tocsin follows when the plan names none, after the reference plans: a
/// credential compromise is the top severity, a failed-login attack the second tier.
pub fn default_rule(detector: &str) -> Rule {
    let (action, tier) = match detector {
        "compromise" => (Disposition::Open, 0),
        "brute_force"
        | "password_spray"
        | "slow_brute_force"
        | "account_attack"
        | "credential_stuffing"
        | "distributed_spray"
        | "vault_denied_burst"
        | "distributed_rate_limit"
        | "rate_limit_abuse" => (Disposition::Open, 1),
        "error_spike" | "stale_agent" | "agent_drift" | "vault_new_secret" | "vault_volume" | "vault_new_ip"
        | "vault_after_hours" => (Disposition::Open, 2),
        _ => (Disposition::Record, 3),
    };
    let customers = match detector {
        "brute_force"
        | "password_spray"
        | "slow_brute_force"
        | "account_attack"
        | "distributed_spray"
        | "rate_limit_abuse"
        | "distributed_rate_limit" => CustomerImpact::No,
        _ => CustomerImpact::Unknown,
    };
    Rule {
        disposition: action,
        tier,
        one_incident: detector == "stale_agent",
        customers,
    }
}

/// The id of the plan's severity at `tier`, or its least severe when it has fewer.
pub fn severity_at(plan: &Plan, tier: usize) -> String {
    let severities = plan.severities();
    severities[tier.min(severities.len() - 1)].id.to_string()
}

/// What the plan says a detector's signals lead to: its `[[rule]]`, or tocsin's default,
/// with the severity it suggests.
pub fn rule_for(plan: &Plan, detector: &str) -> (Disposition, String) {
    let default = default_rule(detector);
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
pub fn one_incident(plan: &Plan, detector: &str) -> bool {
    plan_rule(plan, detector)
        .and_then(|r| r.one_incident)
        .unwrap_or_else(|| default_rule(detector).one_incident)
}

/// The plan's `[[rule]]` for a detector, if it has one.
fn plan_rule<'p>(plan: &'p Plan, detector: &str) -> Option<&'p crate::plan::Rule> {
    plan.rules().iter().find(|r| r.detector == detector)
}

/// Whether customers are affected by an incident a detector's signals open: its
/// `[[rule]]`'s `customers`, or tocsin's default.
pub fn customers_of(plan: &Plan, detector: &str) -> CustomerImpact {
    plan_rule(plan, detector)
        .and_then(|r| r.customers)
        .unwrap_or_else(|| default_rule(detector).customers)
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
pub fn alert_rule(plan: &Plan, source: &str, detector: &str, severity: Option<&str>) -> (Disposition, String) {
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
