//! Applications and infrastructure: error spikes and new errors, secret-vault anomalies,
//! and agents that stop reporting or drift from the fleet.

use std::collections::HashMap;
use tocsin_core::detector::DetectorId;

use jiff::{SignedDuration, Timestamp};
use tocsin_core::calendar::Calendar;
use tocsin_core::event::{ErrorEvent, HeartbeatEvent, Level, VaultEvent, VaultOutcome};

use super::bounded::{Bounded, DEFAULT_CAP, Touched};
use super::{Evidence, Finding, Rate, text_key};

fn finding(detector: DetectorId, key: String, at: Timestamp, count: u64, first_at: Timestamp) -> Finding {
    Finding {
        detector,
        key,
        at,
        summary: None,
        evidence: Evidence {
            count,
            first_at,
            last_at: at,
            sources: Vec::new(),
            accounts: Vec::new(),
        },
    }
}

impl Touched for Rate {
    fn touched(&self) -> Option<Timestamp> {
        self.bucket_at
    }
}

#[derive(Debug, Default)]
struct Seen(Option<Timestamp>);

impl Touched for Seen {
    fn touched(&self) -> Option<Timestamp> {
        self.0
    }
}

/// Error rates per service, and error fingerprints never seen before.
#[derive(Debug)]
pub struct Errors {
    rates: Bounded<Rate, String>,
    fingerprints: Bounded<Seen, (String, String)>,
}

/// An error spike: at least 20 errors in five minutes, and four times the usual count once
/// an hour of usual is known.
const ERROR_BUCKET: SignedDuration = SignedDuration::from_mins(5);
const ERROR_MIN: u64 = 20;
const ERROR_FACTOR: f64 = 4.0;
const ERROR_LEARN: u32 = 12;

impl Default for Errors {
    fn default() -> Self {
        Errors {
            rates: Bounded::new(10_000),
            fingerprints: Bounded::new(DEFAULT_CAP),
        }
    }
}

impl Errors {
    pub fn tracked(&self) -> usize {
        self.rates.len() + self.fingerprints.len()
    }

    pub fn event(&mut self, event: &ErrorEvent, out: &mut Vec<Finding>) {
        if event.level < Level::Error {
            return;
        }
        let seen = self
            .fingerprints
            .entry(&(event.service.clone(), event.fingerprint.clone()));
        if seen.0.is_none() {
            let mut summary: String = format!("A new error in {}: {}", event.service, event.message)
                .chars()
                .take(300)
                .collect();
            if let Some(frame) = event.exception.as_ref().and_then(|e| e.frame.as_ref()) {
                summary.push_str(&format!(" (at {frame})"));
            }
            out.push(Finding {
                summary: Some(summary),
                ..finding(
                    DetectorId::NewError,
                    format!("{}:{}", event.service, event.fingerprint),
                    event.at,
                    1,
                    event.at,
                )
            });
        }
        seen.0 = Some(event.at);
        let rate = self.rates.entry(&event.service);
        if rate.count(event.at, ERROR_BUCKET, ERROR_MIN, ERROR_FACTOR, ERROR_LEARN) && rate.quiet(event.at) {
            rate.reported_until = Some(event.at + SignedDuration::from_mins(30));
            let first_at = rate.bucket_at.unwrap_or(event.at);
            out.push(finding(
                DetectorId::ErrorSpike,
                event.service.clone(),
                event.at,
                rate.count,
                first_at,
            ));
        }
    }
}

/// What a principal of the secret vault usually does.
#[derive(Debug, Default)]
struct Principal {
    first_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
    /// Secrets read, and addresses seen, by hash.
    secrets: HashMap<u64, ()>,
    addresses: HashMap<u64, ()>,
    volume: Rate,
    denied: Vec<Timestamp>,
    denied_until: Option<Timestamp>,
    after_hours_until: Option<Timestamp>,
}

impl Touched for Principal {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

/// How long a principal is watched before its habits are its baseline.
const VAULT_LEARN: SignedDuration = SignedDuration::from_hours(24);
/// Secrets and addresses remembered per principal at most.
const VAULT_KEPT: usize = 10_000;

/// Vault access anomalies per principal: a secret never read before, an address never
/// seen before (both once the principal's first day is learned), a volume far above its
/// usual hourly count, and bursts of denied access.
#[derive(Debug)]
pub struct Vault {
    principals: Bounded<Principal, String>,
    /// Business days and working hours (minutes after midnight), when the plan sets them:
    /// access outside them is reported.
    pub(crate) working: Option<(Calendar, u16, u16)>,
}

impl Default for Vault {
    fn default() -> Self {
        Vault {
            principals: Bounded::new(DEFAULT_CAP),
            working: None,
        }
    }
}

/// Whether `at` falls within working hours on a business day.
fn at_work(at: Timestamp, (calendar, start, end): &(Calendar, u16, u16)) -> bool {
    let local = at.to_zoned(calendar.zone().clone());
    let minute = local.hour() as u16 * 60 + local.minute() as u16;
    calendar.is_business_day(local.date()) && (*start..*end).contains(&minute)
}

impl Vault {
    pub fn tracked(&self) -> usize {
        self.principals.len()
    }

    pub fn event(&mut self, event: &VaultEvent, out: &mut Vec<Finding>) {
        let p = self.principals.entry(&event.principal);
        let first_at = *p.first_at.get_or_insert(event.at);
        p.last_at = Some(event.at);
        let learned = event.at.duration_since(first_at) >= VAULT_LEARN;
        let key = |what: &str| format!("{}:{what}", event.principal);
        if event.outcome == VaultOutcome::Denied {
            p.denied
                .retain(|t| event.at.duration_since(*t) <= SignedDuration::from_mins(10));
            p.denied.push(event.at);
            if p.denied.len() >= 5 && p.denied_until.is_none_or(|until| event.at >= until) {
                p.denied_until = Some(event.at + SignedDuration::from_hours(1));
                out.push(finding(
                    DetectorId::VaultDeniedBurst,
                    event.principal.clone(),
                    event.at,
                    p.denied.len() as u64,
                    p.denied[0],
                ));
            }
            return;
        }
        if let Some(working) = &self.working
            && learned
            && !at_work(event.at, working)
            && p.after_hours_until.is_none_or(|until| event.at >= until)
        {
            p.after_hours_until = Some(event.at + SignedDuration::from_hours(1));
            out.push(finding(
                DetectorId::VaultAfterHours,
                event.principal.clone(),
                event.at,
                1,
                event.at,
            ));
        }
        let secret = text_key(&event.path);
        if p.secrets.insert(secret, ()).is_none() && learned {
            out.push(finding(
                DetectorId::VaultNewSecret,
                key(&event.path),
                event.at,
                1,
                event.at,
            ));
        }
        if p.secrets.len() > VAULT_KEPT {
            p.secrets.clear();
        }
        if let Some(source) = &event.source {
            let address = text_key(&source.to_string());
            if p.addresses.insert(address, ()).is_none() && learned {
                out.push(finding(
                    DetectorId::VaultNewIp,
                    key(&source.to_string()),
                    event.at,
                    1,
                    event.at,
                ));
            }
            if p.addresses.len() > VAULT_KEPT {
                p.addresses.clear();
            }
        }
        if p.volume.count(event.at, SignedDuration::from_hours(1), 50, 5.0, 24) && p.volume.quiet(event.at) && learned {
            p.volume.reported_until = Some(event.at + SignedDuration::from_hours(1));
            let first = p.volume.bucket_at.unwrap_or(event.at);
            out.push(finding(
                DetectorId::VaultVolume,
                event.principal.clone(),
                event.at,
                p.volume.count,
                first,
            ));
        }
    }
}

#[derive(Debug, Default)]
struct Agent {
    last_at: Option<Timestamp>,
    /// Its own threshold, when its heartbeats name one.
    stale_after: Option<SignedDuration>,
    version: Option<String>,
    config_hash: Option<String>,
    stale_reported: bool,
    drift_reported: Option<(Option<String>, Option<String>)>,
}

impl Touched for Agent {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

/// Agents that stop sending heartbeats, and agents whose version or configuration differs
/// from what most of the fleet runs.
#[derive(Debug)]
pub struct Agents {
    pub(crate) stale_after: SignedDuration,
    agents: Bounded<Agent, String>,
    /// The fleet's most common version and configuration, and when they were counted.
    fleet: (Option<String>, Option<String>),
    counted_at: Option<Timestamp>,
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            stale_after: SignedDuration::from_mins(15),
            agents: Bounded::new(DEFAULT_CAP),
            fleet: (None, None),
            counted_at: None,
        }
    }
}

impl Agents {
    pub fn tracked(&self) -> usize {
        self.agents.len()
    }

    pub fn event(&mut self, event: &HeartbeatEvent, out: &mut Vec<Finding>) {
        let agent = self.agents.entry(&event.agent);
        agent.stale_reported = false;
        agent.last_at = Some(event.at);
        if let Some(seconds) = event.stale_after.and_then(|d| d.elapsed_seconds()) {
            agent.stale_after = Some(SignedDuration::from_secs(seconds));
        }
        if event.version.is_some() {
            agent.version = event.version.clone();
        }
        if event.config_hash.is_some() {
            agent.config_hash = event.config_hash.clone();
        }
        let mine = (agent.version.clone(), agent.config_hash.clone());
        if self
            .counted_at
            .is_none_or(|at| event.at.duration_since(at) >= SignedDuration::from_mins(1))
        {
            self.fleet = (
                majority(self.agents.values().filter_map(|a| a.version.as_deref())),
                majority(self.agents.values().filter_map(|a| a.config_hash.as_deref())),
            );
            self.counted_at = Some(event.at);
        }
        let differs =
            |own: &Option<String>, common: &Option<String>| own.is_some() && common.is_some() && own != common;
        let drifted = differs(&mine.0, &self.fleet.0) || differs(&mine.1, &self.fleet.1);
        let agent = self.agents.entry(&event.agent);
        if drifted && agent.drift_reported.as_ref() != Some(&mine) {
            agent.drift_reported = Some(mine);
            out.push(finding(
                DetectorId::AgentDrift,
                event.agent.clone(),
                event.at,
                1,
                event.at,
            ));
        }
    }

    /// Time passes: agents silent for longer than the threshold are stale, once each
    /// until they report again.
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        for (name, agent) in self.agents.iter_mut() {
            if let Some(last) = agent.last_at
                && now.duration_since(last) > agent.stale_after.unwrap_or(self.stale_after)
                && !agent.stale_reported
            {
                agent.stale_reported = true;
                out.push(finding(DetectorId::StaleAgent, name.clone(), now, 0, last));
            }
        }
    }
}

/// The value more than half of at least three say, if one does.
fn majority<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut total = 0;
    for v in values {
        *counts.entry(v).or_default() += 1;
        total += 1;
    }
    counts
        .into_iter()
        .find(|(_, n)| total >= 3 && *n * 2 > total)
        .map(|(v, _)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use tocsin_core::event::Source;

    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_767_571_200 + second).unwrap()
    }

    #[test]
    fn errors_spike_above_their_usual_rate_and_a_new_fingerprint_is_news_once() {
        let mut errors = Errors::default();
        let mut out = Vec::new();
        let error = |second: i64, fingerprint: &str| ErrorEvent {
            at: at(second),
            service: "api".into(),
            level: Level::Error,
            fingerprint: fingerprint.into(),
            message: "m".into(),
            release: None,
            environment: None,
            host: None,
            exception: None,
            tags: Default::default(),
            user: None,
            event_id: None,
        };
        // Two hours of ten errors per five minutes: usual.
        for i in 0..240 {
            errors.event(&error(i * 30, "timeout"), &mut out);
        }
        assert_eq!(out.iter().filter(|f| f.detector == "new_error").count(), 1);
        assert!(out.iter().all(|f| f.detector != "error_spike"), "{out:?}");
        // Then forty within a minute.
        for i in 0..40 {
            errors.event(&error(7200 + i, "timeout"), &mut out);
        }
        let spikes: Vec<_> = out.iter().filter(|f| f.detector == "error_spike").collect();
        assert_eq!(spikes.len(), 1, "{out:?}");
        assert_eq!(spikes[0].key, "api");
        errors.event(&error(7300, "disk full"), &mut out);
        assert_eq!(out.last().unwrap().key, format!("api:disk full"));
    }

    #[test]
    fn vault_anomalies_come_after_a_day_of_learning_and_denials_burst_at_once() {
        let mut vault = Vault::default();
        let mut out = Vec::new();
        let access = |second: i64, path: &str, ip: &str, outcome: VaultOutcome| VaultEvent {
            at: at(second),
            principal: "ci-deploy".into(),
            path: path.into(),
            action: "read".into(),
            outcome,
            source: Some(Source::parse(ip)),
        };
        for hour in 0..30 {
            vault.event(
                &access(hour * 3600, "kv/app/db", "10.0.0.5", VaultOutcome::Allowed),
                &mut out,
            );
        }
        assert!(out.is_empty(), "{out:?}");
        vault.event(
            &access(31 * 3600, "kv/prod/signing-key", "10.0.0.5", VaultOutcome::Allowed),
            &mut out,
        );
        vault.event(
            &access(31 * 3600 + 1, "kv/app/db", "203.0.113.9", VaultOutcome::Allowed),
            &mut out,
        );
        let found: Vec<(&str, &str)> = out.iter().map(|f| (f.detector.as_str(), f.key.as_str())).collect();
        assert_eq!(
            found,
            [
                ("vault_new_secret", "ci-deploy:kv/prod/signing-key"),
                ("vault_new_ip", "ci-deploy:203.0.113.9")
            ]
        );
        out.clear();
        for i in 0..6 {
            vault.event(
                &access(32 * 3600 + i, "kv/prod/root", "10.0.0.5", VaultOutcome::Denied),
                &mut out,
            );
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].detector.as_str(), "vault_denied_burst");
    }

    #[test]
    fn vault_access_outside_working_hours_is_reported_once_an_hour_when_the_plan_sets_them() {
        let mut vault = Vault {
            working: Some((Calendar::utc_weekdays(), 8 * 60, 18 * 60)),
            ..Vault::default()
        };
        let mut out = Vec::new();
        let access = |second: i64| VaultEvent {
            at: at(second),
            principal: "ci-deploy".into(),
            path: "kv/app/db".into(),
            action: "read".into(),
            outcome: VaultOutcome::Allowed,
            source: None,
        };
        // 2026-01-05 is a Monday; learn a day of office-hours reads first.
        for hour in 9..17 {
            vault.event(&access(hour * 3600), &mut out);
            vault.event(&access(86_400 + hour * 3600), &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        vault.event(&access(86_400 + 23 * 3600), &mut out);
        vault.event(&access(86_400 + 23 * 3600 + 60), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            (out[0].detector.as_str(), out[0].key.as_str()),
            ("vault_after_hours", "ci-deploy")
        );
        // Saturday, at noon.
        vault.event(&access(5 * 86_400 + 12 * 3600), &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_silent_agent_is_stale_once_and_an_agent_unlike_the_fleet_has_drifted() {
        let mut agents = Agents::default();
        let mut out = Vec::new();
        let beat = |second: i64, agent: &str, version: &str| HeartbeatEvent {
            at: at(second),
            agent: agent.into(),
            version: Some(version.into()),
            config_hash: None,
            stale_after: None,
        };
        for a in ["a", "b", "c"] {
            agents.event(&beat(0, a, "2.1"), &mut out);
        }
        agents.event(&beat(120, "d", "1.9"), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].detector.as_str(), out[0].key.as_str()), ("agent_drift", "d"));
        agents.event(&beat(600, "a", "2.1"), &mut out);
        agents.tick(at(1000), &mut out);
        let stale: Vec<&str> = out
            .iter()
            .filter(|f| f.detector == "stale_agent")
            .map(|f| f.key.as_str())
            .collect();
        let mut stale = stale;
        stale.sort_unstable();
        assert_eq!(
            stale,
            ["b", "c"],
            "a beat at 600, d at 120 is within 15 minutes of 1000"
        );
        agents.tick(at(1100), &mut out);
        assert_eq!(
            out.iter().filter(|f| f.detector == "stale_agent").count(),
            3,
            "d joins; b and c are not told twice"
        );
    }
}
