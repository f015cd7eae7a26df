//! One account attacked from many sources: the campaign that no single source gives away.
//!
//! Only failures on accounts that exist count (a wrong password or key, not an unknown
//! name): the internet's background noise guesses names that do not exist, while a
//! campaign aimed at a real account is news. Each account learns how many sources usually
//! fail on it per window, so an account everyone tries (`root` on a public server) is
//! reported when its attackers multiply, not every hour.

use jiff::{SignedDuration, Timestamp};
use tocsin_core::detector::DetectorId;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Source};

use super::bounded::{Bounded, DEFAULT_CAP, Touched};
use super::{Evidence, Finding, Rate};

/// At least `min_sources` distinct sources failing on one account within `window`, and
/// `factor` times as many as the account's usual count per window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AccountAttackConfig {
    pub min_sources: u32,
    pub window: SignedDuration,
    pub factor: f64,
    pub cooldown: SignedDuration,
}

impl Default for AccountAttackConfig {
    fn default() -> Self {
        AccountAttackConfig {
            min_sources: 3,
            window: SignedDuration::from_hours(1),
            factor: 3.0,
            cooldown: SignedDuration::from_hours(6),
        }
    }
}

/// Sources listed in one account's window at most.
const SOURCES_KEPT: usize = 1_000;

#[derive(Debug, Default)]
struct AccountState {
    /// The last failure of each source within the window.
    sources: Vec<(Source, Timestamp)>,
    /// Distinct sources per window, as a moving average, and when it was last updated.
    usual: f64,
    usual_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
    reported_until: Option<Timestamp>,
}

impl Touched for AccountState {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

#[derive(Debug)]
pub struct AccountAttack {
    config: AccountAttackConfig,
    accounts: Bounded<AccountState, String>,
}

impl AccountAttack {
    pub fn new(config: AccountAttackConfig) -> Self {
        AccountAttack {
            config,
            accounts: Bounded::new(DEFAULT_CAP),
        }
    }

    pub fn tracked(&self) -> usize {
        self.accounts.len()
    }

    /// Reads one event, in time order, pushing what it completes onto `out`.
    pub fn event(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let exists = matches!(event.reason, AuthReason::BadPassword | AuthReason::BadPublickey);
        if event.outcome != AuthOutcome::Failure || !exists || event.user.is_empty() {
            return;
        }
        let AccountAttackConfig {
            min_sources,
            window,
            factor,
            cooldown,
        } = self.config;
        let state = self.accounts.entry(&event.user);
        state.last_at = Some(event.at);
        state.sources.retain(|(_, t)| event.at.duration_since(*t) <= window);
        // Once a window: fold what it saw into the usual count.
        match state.usual_at {
            None => state.usual_at = Some(event.at),
            Some(at) if event.at.duration_since(at) >= window => {
                state.usual = 0.7 * state.usual + 0.3 * state.sources.len() as f64;
                state.usual_at = Some(event.at);
            }
            Some(_) => {}
        }
        let known = state.sources.len();
        match state.sources.iter_mut().find(|(s, _)| *s == event.source) {
            Some(seen) => seen.1 = event.at,
            None if known < SOURCES_KEPT => state.sources.push((event.source.clone(), event.at)),
            None => {}
        }
        let distinct = state.sources.len();
        let quiet = state.reported_until.is_none_or(|until| event.at >= until);
        if distinct >= min_sources as usize && distinct as f64 >= factor * state.usual && quiet {
            state.reported_until = event.at.checked_add(cooldown).ok();
            let first_at = state.sources.iter().map(|(_, t)| *t).min().unwrap_or(event.at);
            out.push(Finding {
                detector: DetectorId::AccountAttack,
                key: event.user.clone(),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: distinct as u64,
                    first_at,
                    last_at: event.at,
                    sources: state.sources.iter().map(|(s, _)| s.to_string()).collect(),
                    accounts: Vec::new(),
                },
            });
        }
    }
}

/// Credential stuffing: a service's failed logins far above their usual rate, spread over
/// many sources: stolen credential lists tried from a botnet. Counted per five minutes:
/// at least 50 failures from at least 10 sources, and 4 times the usual count once an
/// hour is learned.
#[derive(Debug)]
pub struct Stuffing {
    services: Bounded<ServiceState, String>,
}

const STUFFING_BUCKET: SignedDuration = SignedDuration::from_mins(5);
const STUFFING_MIN: u64 = 50;
const STUFFING_SOURCES: usize = 10;
const STUFFING_FACTOR: f64 = 4.0;
const STUFFING_LEARN: u32 = 12;

#[derive(Debug, Default)]
struct ServiceState {
    failures: Rate,
    /// The sources of the current bucket's failures.
    sources: std::collections::HashSet<Source>,
}

impl Touched for ServiceState {
    fn touched(&self) -> Option<Timestamp> {
        self.failures.bucket_at
    }
}

impl Default for Stuffing {
    fn default() -> Self {
        Stuffing {
            services: Bounded::new(1_000),
        }
    }
}

impl Stuffing {
    pub fn tracked(&self) -> usize {
        self.services.len()
    }

    pub fn event(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        if event.outcome != AuthOutcome::Failure {
            return;
        }
        let s = self.services.entry(&event.service);
        let bucket = s.failures.bucket_at;
        let above = s
            .failures
            .count(event.at, STUFFING_BUCKET, STUFFING_MIN, STUFFING_FACTOR, STUFFING_LEARN);
        if s.failures.bucket_at != bucket {
            s.sources.clear();
        }
        if s.sources.len() < SOURCES_KEPT {
            s.sources.insert(event.source.clone());
        }
        if above && s.sources.len() >= STUFFING_SOURCES && s.failures.quiet(event.at) {
            s.failures.reported_until = Some(event.at + SignedDuration::from_hours(1));
            let mut sources: Vec<String> = s.sources.iter().map(Source::to_string).collect();
            sources.sort_unstable();
            out.push(Finding {
                detector: DetectorId::CredentialStuffing,
                key: event.service.clone(),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: s.failures.count,
                    first_at: s.failures.bucket_at.unwrap_or(event.at),
                    last_at: event.at,
                    sources,
                    accounts: Vec::new(),
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(second: i64, ip: &str, user: &str, reason: AuthReason) -> AuthEvent {
        crate::detect::login(second, ip, user, AuthOutcome::Failure, reason)
    }

    fn run(events: &[AuthEvent]) -> Vec<Finding> {
        let mut detector = AccountAttack::new(AccountAttackConfig::default());
        let mut out = Vec::new();
        for e in events {
            detector.event(e, &mut out);
        }
        out
    }

    #[test]
    fn three_sources_failing_on_one_real_account_within_an_hour_are_a_campaign() {
        let campaign: Vec<_> = ["192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.3"]
            .iter()
            .enumerate()
            .map(|(i, ip)| failure(i as i64 * 600, ip, "git", AuthReason::BadPassword))
            .collect();
        let found = run(&campaign);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].key.as_str(), found[0].evidence.count), ("git", 3));
        assert_eq!(found[0].evidence.sources, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        // Unknown names do not count; neither do sources spread beyond the window.
        let unknown: Vec<_> = campaign
            .iter()
            .map(|e| AuthEvent {
                reason: AuthReason::InvalidUser,
                ..e.clone()
            })
            .collect();
        assert!(run(&unknown).is_empty());
        let spread: Vec<_> = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
            .iter()
            .enumerate()
            .map(|(i, ip)| failure(i as i64 * 2000, ip, "git", AuthReason::BadPassword))
            .collect();
        assert!(run(&spread).is_empty());
    }

    #[test]
    fn an_account_everyone_tries_is_reported_when_its_attackers_multiply_not_every_hour() {
        let mut events = Vec::new();
        // Ten sources an hour on root, for a day.
        for hour in 0..24 {
            for n in 0..10 {
                events.push(failure(
                    hour * 3600 + n * 300,
                    &format!("192.0.2.{n}"),
                    "root",
                    AuthReason::BadPassword,
                ));
            }
        }
        let usual = run(&events);
        assert_eq!(usual.len(), 1, "only before it learned what is usual: {usual:?}");
        // Then fifty sources within the hour.
        for n in 0..50 {
            events.push(failure(
                24 * 3600 + n * 60,
                &format!("198.51.100.{n}"),
                "root",
                AuthReason::BadPassword,
            ));
        }
        let found = run(&events);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].evidence.count >= 30);
    }

    #[test]
    fn failures_from_many_sources_far_above_the_usual_are_credential_stuffing() {
        let mut stuffing = Stuffing::default();
        let mut out = Vec::new();
        // Two hours of five failures per five minutes from two sources: usual.
        for i in 0..120 {
            stuffing.event(
                &failure(i * 60, &format!("198.51.100.{}", i % 2), "ann", AuthReason::BadPassword),
                &mut out,
            );
        }
        assert!(out.is_empty());
        // Then sixty within two minutes from thirty sources.
        for i in 0..60 {
            stuffing.event(
                &failure(
                    7200 + i * 2,
                    &format!("192.0.2.{}", i % 30),
                    "user",
                    AuthReason::InvalidUser,
                ),
                &mut out,
            );
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            (out[0].detector.as_str(), out[0].key.as_str()),
            ("credential_stuffing", "sshd")
        );
        assert_eq!(out[0].evidence.sources.len(), 30);
    }
}
