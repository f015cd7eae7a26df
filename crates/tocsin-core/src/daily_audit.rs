//! The daily security audit's judgements, pure: its eight checks, what a finding is and the
//! severity tier it opens at, what changed since the last report, the alert a finding
//! fires (so that it follows every alert's path: a signal, an incident opened or joined,
//! and resolved once the finding is gone), the rate-limit analysis, how far a dependency is
//! behind, and the digest the plan's routes get. The server gathers; this decides.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertStatus};
use crate::detector::DetectorId;
use crate::plan::Plan;

/// The source of the audit's alerts: tocsin's own, a name no integration can have.
pub const SOURCE: &str = "tocsin audit";

/// The audit's eight checks, in the order the four-tier plan names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    FailedLogins,
    ErrorRates,
    StaleAgents,
    VaultAccess,
    DataIsolation,
    SecurityHeaders,
    Dependencies,
    RateLimits,
}

impl Check {
    pub const ALL: [Check; 8] = [
        Check::FailedLogins,
        Check::ErrorRates,
        Check::StaleAgents,
        Check::VaultAccess,
        Check::DataIsolation,
        Check::SecurityHeaders,
        Check::Dependencies,
        Check::RateLimits,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::FailedLogins => "failed_logins",
            Check::ErrorRates => "error_rates",
            Check::StaleAgents => "stale_agents",
            Check::VaultAccess => "vault_access",
            Check::DataIsolation => "data_isolation",
            Check::SecurityHeaders => "security_headers",
            Check::Dependencies => "dependencies",
            Check::RateLimits => "rate_limits",
        }
    }

    /// Its name for people.
    pub fn title(self) -> &'static str {
        match self {
            Check::FailedLogins => "Failed-login anomalies",
            Check::ErrorRates => "Error-rate spikes",
            Check::StaleAgents => "Stale agents",
            Check::VaultAccess => "Vault access anomalies",
            Check::DataIsolation => "Data isolation",
            Check::SecurityHeaders => "Security headers",
            Check::Dependencies => "Dependency freshness and vulnerabilities",
            Check::RateLimits => "Rate-limit thresholds",
        }
    }

    /// The continuous detectors whose last day it summarises.
    pub fn detectors(self) -> &'static [DetectorId] {
        use DetectorId::*;
        match self {
            Check::FailedLogins => &[
                BruteForce,
                SlowBruteForce,
                PasswordSpray,
                AccountAttack,
                CredentialStuffing,
                DistributedSpray,
                Compromise,
            ],
            Check::ErrorRates => &[ErrorSpike, NewError],
            Check::StaleAgents => &[StaleAgent, AgentDrift],
            Check::VaultAccess => &[
                VaultNewSecret,
                VaultNewIp,
                VaultVolume,
                VaultDeniedBurst,
                VaultAfterHours,
            ],
            Check::RateLimits => &[RateLimitAbuse, DistributedRateLimit],
            Check::DataIsolation | Check::SecurityHeaders | Check::Dependencies => &[],
        }
    }
}

/// The tiers findings open at, after the four-tier plan's examples: an RLS bypass is its
/// second tier (P2), a dependency CVE its third (P3), a stale dependency or a configuration
/// that drifted its fourth (P4). A plan with fewer tiers takes its lowest.
pub mod tier {
    pub const LEAK: usize = 1;
    pub const VULNERABILITY: usize = 2;
    pub const DRIFT: usize = 3;
}

/// One thing the audit found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is about, stable from one run to the next: the same key is the same finding.
    pub key: String,
    pub check: Check,
    /// The severity tier it opens at (see [`tier`]).
    pub tier: usize,
    /// One line for a person.
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Findings of one group join one incident (one database's, one lockfile's CVEs).
    pub group: String,
}

/// How a check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It ran and found nothing wrong.
    Pass,
    /// It ran and found something.
    Findings,
    /// The plan gives it nothing to look at.
    NotConfigured,
    /// It could not run at all (each reason is in its summary).
    Failed,
}

/// One check's part of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub check: Check,
    pub outcome: Outcome,
    /// What it looked at and found, in a sentence or two.
    pub summary: String,
    pub findings: Vec<Finding>,
    /// What it measured, for the JSON document and the page.
    #[serde(default)]
    pub details: serde_json::Value,
}

impl CheckReport {
    /// A report of `check` from its findings: `Findings` when there are any, else `Pass`.
    pub fn of(check: Check, summary: String, findings: Vec<Finding>, details: serde_json::Value) -> Self {
        CheckReport {
            check,
            outcome: if findings.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Findings
            },
            summary,
            findings,
            details,
        }
    }
}

/// What changed since the last report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// There was no report before this one.
    pub first: bool,
    /// When the report compared with was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The keys of findings the last report did not have.
    pub new: Vec<String>,
    /// Findings the last report had and this one does not.
    pub gone: Vec<Finding>,
    /// How many findings both have.
    pub persisting: usize,
    /// Checks whose outcome is not what it was, with the outcome before.
    pub outcomes: BTreeMap<String, Outcome>,
}

/// A daily audit's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Who asked: `schedule`, or the person or token that ran it.
    pub by: String,
    pub checks: Vec<CheckReport>,
    pub changes: Changes,
}

impl Report {
    /// Every finding, check by check.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.checks.iter().flat_map(|c| c.findings.iter())
    }

    /// Compares with the report before and keeps what changed.
    pub fn compare(&mut self, previous: Option<&Report>) {
        let Some(previous) = previous else {
            self.changes = Changes {
                first: true,
                new: self.findings().map(|f| f.key.clone()).collect(),
                ..Changes::default()
            };
            return;
        };
        let before: BTreeSet<&str> = previous.findings().map(|f| f.key.as_str()).collect();
        let now: BTreeSet<&str> = self.findings().map(|f| f.key.as_str()).collect();
        let outcomes = self
            .checks
            .iter()
            .filter_map(|c| {
                let was = previous.checks.iter().find(|p| p.check == c.check)?.outcome;
                (was != c.outcome).then(|| (c.check.as_str().to_owned(), was))
            })
            .collect();
        self.changes = Changes {
            first: false,
            since: Some(previous.started_at),
            new: now.difference(&before).map(|k| (*k).to_owned()).collect(),
            gone: previous
                .findings()
                .filter(|f| !now.contains(f.key.as_str()))
                .cloned()
                .collect(),
            persisting: now.intersection(&before).count(),
            outcomes,
        };
    }

    /// The digest the plan's routes get: a title and a few lines.
    pub fn digest(&self) -> (String, String) {
        let findings = self.findings().count();
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .map(|c| c.check.title())
            .collect();
        let title = match (findings, failed.len()) {
            (0, 0) => "Daily security audit: nothing found".to_owned(),
            (n, 0) => format!("Daily security audit: {n} finding{}", plural(n)),
            (n, f) => format!(
                "Daily security audit: {n} finding{}, {f} check{} could not run",
                plural(n),
                plural(f)
            ),
        };
        let mut lines = Vec::new();
        for check in &self.checks {
            let mark = match check.outcome {
                Outcome::Pass => "ok",
                Outcome::Findings => "FOUND",
                Outcome::NotConfigured => "not set up",
                Outcome::Failed => "COULD NOT RUN",
            };
            lines.push(format!("{}: {mark}. {}", check.check.title(), check.summary));
        }
        let c = &self.changes;
        if c.first {
            lines.push("This is the first report.".to_owned());
        } else {
            lines.push(format!(
                "Since the last report: {} new, {} gone, {} still there.",
                c.new.len(),
                c.gone.len(),
                c.persisting
            ));
        }
        (title, lines.join("\n"))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The alert a finding fires while the audit finds it, at the plan severity of its tier
/// (a plan with fewer tiers, its lowest), in its group.
pub fn alert(plan: &Plan, finding: &Finding, at: Timestamp) -> Alert {
    let mut alert = Alert::new(finding.key.clone(), AlertStatus::Firing, finding.title.clone(), at);
    alert.severity = Some(crate::signal::severity_at(plan, finding.tier));
    alert.group = Some(finding.group.clone());
    alert.labels = BTreeMap::from([("check".to_owned(), finding.check.as_str().to_owned())]);
    if !finding.detail.is_empty() {
        alert.annotations = BTreeMap::from([("detail".to_owned(), finding.detail.clone())]);
    }
    alert
}

/// The alert that says a finding is gone.
pub fn resolved(finding: &Finding, at: Timestamp) -> Alert {
    let mut alert = Alert::new(finding.key.clone(), AlertStatus::Resolved, finding.title.clone(), at);
    alert.group = Some(finding.group.clone());
    alert
}

/// How one rate-limit policy was used over the day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUse {
    pub policy: String,
    pub limit: u32,
    pub per_seconds: i64,
    /// Requests checked and allowed, where the app reports them (tocsin's own check
    /// records only denials).
    pub allowed: u64,
    pub denied: u64,
    /// Distinct keys denied at least once.
    pub keys_denied: u64,
    /// Of them, those denied only once or twice: people who went a little over.
    pub keys_denied_few: u64,
    /// The most denials one key had.
    pub most_denials: u64,
    /// Attacks the detectors found on what the policy guards, over the day.
    pub attacks: u64,
}

/// What the audit thinks of a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitVerdict {
    Fits,
    /// It denies people who went a little over, and no attack.
    TooTight,
    /// Attacks on what it guards got through without a denial.
    TooLoose,
    /// Nothing reached it.
    Unused,
}

/// Keys denied only a few times, as a share of the keys denied, above which a limit looks
/// like it catches people rather than attacks.
const TIGHT_SHARE: f64 = 0.8;
/// Fewest keys denied before a limit is called too tight.
const TIGHT_KEYS: u64 = 5;

impl PolicyUse {
    /// Judges the limit, with why.
    pub fn judge(&self) -> (LimitVerdict, String) {
        let checked = self.allowed + self.denied;
        if checked == 0 && self.attacks == 0 {
            return (
                LimitVerdict::Unused,
                format!(
                    "{}: no request was checked against it today; if the app should check it, it does not",
                    self.policy
                ),
            );
        }
        if self.attacks > 0 && self.denied == 0 {
            return (
                LimitVerdict::TooLoose,
                format!(
                    "{}: the detectors found {} attack{} on what it guards, and it denied nothing at {} per {}; lower it",
                    self.policy,
                    self.attacks,
                    plural(self.attacks as usize),
                    self.limit,
                    span(self.per_seconds)
                ),
            );
        }
        if self.attacks == 0
            && self.keys_denied >= TIGHT_KEYS
            && self.keys_denied_few as f64 >= TIGHT_SHARE * self.keys_denied as f64
        {
            return (
                LimitVerdict::TooTight,
                format!(
                    "{}: {} of the {} keys it denied were denied only once or twice, with no attack found; people may be going a little over {} per {}; raise it",
                    self.policy,
                    self.keys_denied_few,
                    self.keys_denied,
                    self.limit,
                    span(self.per_seconds)
                ),
            );
        }
        (
            LimitVerdict::Fits,
            format!(
                "{}: {} denied of {} checked, {} key{}; the most denials for one key: {}",
                self.policy,
                self.denied,
                checked,
                self.keys_denied,
                plural(self.keys_denied as usize),
                self.most_denials
            ),
        )
    }
}

fn span(seconds: i64) -> String {
    match seconds {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// How far a pinned version is behind the newest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behind {
    pub majors: u64,
    pub minors: u64,
    pub patches: u64,
    /// A whole major version or more behind (for `0.x`, a minor version, as SemVer's
    /// caret counts it): a stale dependency.
    pub stale: bool,
}

impl Behind {
    /// `version` against `latest`: the major versions between them, or else the minors, or
    /// else the patches.
    pub fn of(version: &str, latest: &str) -> Behind {
        let parts = |v: &str| -> Vec<u64> {
            v.trim_start_matches('v')
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .split('.')
                .map(|p| p.parse::<u64>().unwrap_or(0))
                .chain(std::iter::repeat(0))
                .take(3)
                .collect()
        };
        if crate::osv::compare(version, latest) != std::cmp::Ordering::Less {
            return Behind::default();
        }
        let (a, b) = (parts(version), parts(latest));
        let zero = a[0] == 0 && b[0] == 0;
        if b[0] > a[0] {
            Behind {
                majors: b[0] - a[0],
                stale: true,
                ..Behind::default()
            }
        } else if b[1] > a[1] {
            Behind {
                minors: b[1] - a[1],
                stale: zero,
                ..Behind::default()
            }
        } else {
            Behind {
                patches: b[2].saturating_sub(a[2]),
                ..Behind::default()
            }
        }
    }

    pub fn is_current(self) -> bool {
        self == Behind::default()
    }

    /// In words: "2 major versions behind".
    pub fn words(self) -> String {
        let (n, one, many) = match self {
            b if b.majors > 0 => (b.majors, "major version", "major versions"),
            b if b.minors > 0 => (b.minors, "minor version", "minor versions"),
            b if b.patches > 0 => (b.patches, "patch", "patches"),
            _ => return "current".to_owned(),
        };
        format!("{n} {} behind", if n == 1 { one } else { many })
    }
}

/// The last time the audit was due at or before `now`: the plan's time of day, in its time
/// zone, today or yesterday.
pub fn last_due(at_minute: u16, zone: &jiff::tz::TimeZone, now: Timestamp) -> Timestamp {
    let local = now.to_zoned(zone.clone());
    let on = |date: jiff::civil::Date| {
        date.at((at_minute / 60) as i8, (at_minute % 60) as i8, 0, 0)
            .to_zoned(zone.clone())
            .map_or(now, |z| z.timestamp())
    };
    let today = on(local.date());
    if today <= now {
        return today;
    }
    local.date().yesterday().map_or(today, on)
}

/// Whether the scheduled audit should run now: the last report started before the last due
/// time; with no report yet, only once a due time passes while tocsin watches (a new
/// server does not audit the moment it starts, but one that was down at the time catches up).
pub fn is_due(last_due: Timestamp, last_report: Option<Timestamp>, watching_since: Timestamp) -> bool {
    match last_report {
        Some(started) => started < last_due,
        None => watching_since <= last_due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(key: &str) -> Finding {
        Finding {
            key: key.into(),
            check: Check::Dependencies,
            tier: tier::VULNERABILITY,
            title: key.into(),
            detail: String::new(),
            group: "dependencies".into(),
        }
    }

    fn report(keys: &[&str], at: i64) -> Report {
        Report {
            started_at: Timestamp::from_second(at).unwrap(),
            finished_at: Timestamp::from_second(at).unwrap(),
            by: "schedule".into(),
            checks: vec![CheckReport::of(
                Check::Dependencies,
                String::new(),
                keys.iter().map(|k| finding(k)).collect(),
                serde_json::Value::Null,
            )],
            changes: Changes::default(),
        }
    }

    #[test]
    fn a_report_says_what_is_new_gone_and_still_there_since_the_last() {
        let first = {
            let mut r = report(&["a", "b"], 0);
            r.compare(None);
            r
        };
        assert!(first.changes.first);
        assert_eq!(first.changes.new, ["a", "b"]);
        let mut second = report(&["b", "c"], 86_400);
        second.compare(Some(&first));
        assert_eq!(second.changes.new, ["c"]);
        assert_eq!(second.changes.gone, [finding("a")]);
        assert_eq!(second.changes.persisting, 1);
        let mut third = report(&[], 2 * 86_400);
        third.compare(Some(&second));
        assert_eq!(third.changes.outcomes["dependencies"], Outcome::Findings);
        assert_eq!(third.checks[0].outcome, Outcome::Pass);
        let (title, text) = third.digest();
        assert_eq!(title, "Daily security audit: nothing found");
        assert!(text.contains("0 new, 2 gone, 0 still there"), "{text}");
    }

    #[test]
    fn a_finding_opens_at_the_plan_severity_of_its_tier() {
        let plan = Plan::parse(crate::plan::presets::FOUR_TIER.source).unwrap();
        let at = Timestamp::UNIX_EPOCH;
        let mut f = finding("osv:RUSTSEC-1");
        assert_eq!(alert(&plan, &f, at).severity.as_deref(), Some("P3"));
        f.tier = tier::LEAK;
        assert_eq!(alert(&plan, &f, at).severity.as_deref(), Some("P2"));
        f.tier = tier::DRIFT;
        assert_eq!(alert(&plan, &f, at).severity.as_deref(), Some("P4"));
        // The three-tier plan has no fourth tier: its lowest.
        let three = Plan::parse(crate::plan::presets::THREE_TIER.source).unwrap();
        let lowest = three.severities().last().unwrap().id.to_string();
        assert_eq!(alert(&three, &f, at).severity, Some(lowest));
    }

    #[test]
    fn a_limit_is_judged_by_who_it_denied_and_what_got_through() {
        let base = PolicyUse {
            policy: "login".into(),
            limit: 5,
            per_seconds: 900,
            ..PolicyUse::default()
        };
        assert_eq!(base.judge().0, LimitVerdict::Unused);
        let loose = PolicyUse {
            attacks: 2,
            allowed: 4000,
            ..base.clone()
        };
        assert_eq!(loose.judge().0, LimitVerdict::TooLoose);
        assert!(loose.judge().1.contains("2 attacks"), "{}", loose.judge().1);
        let tight = PolicyUse {
            denied: 12,
            keys_denied: 10,
            keys_denied_few: 9,
            most_denials: 3,
            ..base.clone()
        };
        assert_eq!(tight.judge().0, LimitVerdict::TooTight);
        let fits = PolicyUse {
            denied: 400,
            keys_denied: 3,
            keys_denied_few: 1,
            most_denials: 380,
            attacks: 1,
            ..base
        };
        assert_eq!(fits.judge().0, LimitVerdict::Fits);
    }

    #[test]
    fn the_audit_is_due_once_a_day_at_the_plans_time_and_catches_up_after_downtime() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        // 06:00 in Berlin is 05:00 UTC in December.
        assert_eq!(
            last_due(360, &berlin, t("2026-12-04T05:30:00Z")),
            t("2026-12-04T05:00:00Z")
        );
        assert_eq!(
            last_due(360, &berlin, t("2026-12-04T04:59:00Z")),
            t("2026-12-03T05:00:00Z")
        );
        let due = t("2026-12-04T05:00:00Z");
        // A report from yesterday: due; one from after 06:00 today: not.
        assert!(is_due(due, Some(t("2026-12-03T05:00:02Z")), t("2026-11-01T00:00:00Z")));
        assert!(!is_due(due, Some(t("2026-12-04T05:00:01Z")), t("2026-11-01T00:00:00Z")));
        // No report yet: a server started after today's time waits for tomorrow's.
        assert!(!is_due(due, None, t("2026-12-04T09:00:00Z")));
        assert!(is_due(due, None, t("2026-12-04T04:00:00Z")));
    }

    #[test]
    fn how_far_a_version_is_behind() {
        assert_eq!(Behind::of("1.2.3", "3.0.0").words(), "2 major versions behind");
        assert!(Behind::of("1.2.3", "3.0.0").stale);
        assert!(!Behind::of("1.2.3", "1.4.0").stale);
        assert_eq!(Behind::of("1.2.3", "1.4.0").words(), "2 minor versions behind");
        assert_eq!(Behind::of("1.2.3", "1.2.9").words(), "6 patches behind");
        assert!(Behind::of("1.2.3", "1.2.3").is_current());
        assert!(Behind::of("2.0.0", "1.9.0").is_current());
        assert!(Behind::of("2.0.0-rc.1", "2.0.0").patches == 0);
        // 0.x: the minor is the major.
        assert!(Behind::of("0.7.2", "0.8.0").stale);
        assert_eq!(Behind::of("0.7.2", "0.7.5").words(), "3 patches behind");
        assert_eq!(Behind::of("v1.9.0", "v1.10.1").words(), "1 minor version behind");
    }
}
