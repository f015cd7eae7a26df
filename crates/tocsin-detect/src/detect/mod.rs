//! Detectors: events in, findings out, deterministic for a given order of events.
//! Time is the events' own, never the clock's, so a replayed log finds what live traffic did.

pub mod account;
pub mod app;
pub mod auth;
mod bounded;
pub mod campaign;
mod engine;
pub mod probe;
pub mod ratelimit;
pub mod recurrence;

pub use bounded::DEFAULT_CAP;
pub use engine::{Detector, Engine};

use jiff::{SignedDuration, Timestamp};
use tocsin_core::detector::DetectorId;
use tocsin_core::plan::{Detection, Recovery};

use account::{AccountAttack, AccountAttackConfig, Stuffing};
use app::{Agents, Errors, Vault};
use auth::{BruteForce, BruteForceConfig, SlowBruteForce, SlowBruteForceConfig, Spray, SprayConfig};
use campaign::SprayCampaign;
use ratelimit::{RateLimitConfig, RateLimits};
use recurrence::Recurrence;

/// Every detector, with the plan's settings (tocsin's defaults where it has none), in the
/// order their findings of one event come out; and the recovery watch, which goes first.
/// A new detector is its file above and one line in this list.
fn detectors(
    settings: &Detection,
    recovery: &Recovery,
    working: Option<(tocsin_core::calendar::Calendar, u16, u16)>,
) -> (Recurrence, Vec<Box<dyn Detector>>) {
    let mut brute_force = BruteForceConfig::default();
    if let Some(threshold) = settings.brute_force_threshold {
        brute_force.threshold = threshold;
    }
    if let Some(seconds) = settings.brute_force_window_seconds {
        brute_force.window = SignedDuration::from_secs(seconds);
    }
    let mut spray = SprayConfig::default();
    if let Some(accounts) = settings.spray_accounts {
        spray.accounts = accounts;
    }
    let mut agents = Agents::default();
    if let Some(seconds) = settings.stale_agent_after_seconds {
        agents.stale_after = SignedDuration::from_secs(seconds);
    }
    let mut rate_limits = RateLimitConfig::default();
    let mut probes = probe::ProbeConfig::default();
    if let Some(seconds) = settings.quiet_period_seconds {
        let quiet = SignedDuration::from_secs(seconds);
        brute_force.cooldown = quiet;
        spray.cooldown = quiet;
        rate_limits.cooldown = quiet;
        probes.cooldown = quiet;
    }
    let mut vault = Vault::default();
    vault.working = working;
    let recurrence = Recurrence::new(
        brute_force.threshold.div_ceil(recovery.sensitivity.max(1)),
        brute_force.window,
    );
    // In this order: findings of one event come out in it.
    let detectors: Vec<Box<dyn Detector>> = vec![
        Box::new(BruteForce::new(brute_force)),
        Box::new(SlowBruteForce::new(SlowBruteForceConfig {
            fast: brute_force,
            ..SlowBruteForceConfig::default()
        })),
        Box::new(Spray::new(spray)),
        Box::new(AccountAttack::new(AccountAttackConfig::default())),
        Box::new(Stuffing::default()),
        Box::new(SprayCampaign::default()),
        Box::new(RateLimits::new(rate_limits)),
        Box::new(Errors::default()),
        Box::new(vault),
        Box::new(agents),
        Box::new(probe::PathProbes::new(probes)),
    ];
    (recurrence, detectors)
}

/// Something a detector found, before the plan's rules decide what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Which detector, like `brute_force`.
    pub detector: DetectorId,
    /// What it is about, like the source address.
    pub key: String,
    /// When the finding was made: the time of the event that completed it.
    pub at: Timestamp,
    /// The detector's own summary, when the key and the evidence do not tell enough.
    pub summary: Option<String>,
    pub evidence: Evidence,
}

/// What a finding rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Events counted.
    pub count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// For a finding about many sources (a campaign), the sources; otherwise empty.
    pub sources: Vec<String>,
    /// The accounts it is about when its key is not one: the account a compromise got into.
    pub accounts: Vec<String>,
}

/// A login attempt on sshd `second`s into 2026-01-05 (UTC), for the detectors' tests.
#[cfg(test)]
pub(crate) fn login(
    second: i64,
    ip: &str,
    user: &str,
    outcome: tocsin_core::event::AuthOutcome,
    reason: tocsin_core::event::AuthReason,
) -> tocsin_core::event::AuthEvent {
    tocsin_core::event::AuthEvent {
        at: Timestamp::from_second(1_767_571_200 + second).unwrap(),
        outcome,
        user: user.into(),
        source: tocsin_core::event::Source::parse(ip),
        method: "password".into(),
        reason,
        service: "sshd".into(),
        user_agent: None,
        tenant: None,
        host: None,
        port: None,
    }
}

/// A text as a number, the same in every run: detectors keep these instead of copies of
/// names and paths (a collision needs about 2^32 distinct texts).
pub(crate) fn text_key(text: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text)
}

/// A count per fixed bucket of time, with a moving average of past buckets.
#[derive(Debug, Default)]
pub(crate) struct Rate {
    pub(crate) bucket_at: Option<Timestamp>,
    pub(crate) count: u64,
    usual: f64,
    buckets: u32,
    pub(crate) reported_until: Option<Timestamp>,
}

impl Rate {
    /// Counts one at `at`; whether the current bucket now stands out: at least `min`, and
    /// `factor` times the usual once there is a usual (after `learn` buckets).
    pub(crate) fn count(&mut self, at: Timestamp, bucket: SignedDuration, min: u64, factor: f64, learn: u32) -> bool {
        match self.bucket_at {
            Some(start) if at.duration_since(start) < bucket => {}
            Some(start) => {
                // Fold the finished bucket, and the empty ones after it.
                let passed = (at.duration_since(start).as_secs() / bucket.as_secs().max(1)).clamp(1, 1_000);
                self.usual = 0.8 * self.usual + 0.2 * self.count as f64;
                for _ in 1..passed {
                    self.usual *= 0.8;
                }
                self.buckets = self.buckets.saturating_add(passed as u32);
                self.bucket_at = Some(start + bucket * passed as i32);
                self.count = 0;
            }
            None => self.bucket_at = Some(at),
        }
        self.count += 1;
        let learned = self.buckets >= learn;
        self.count >= min && (!learned || self.count as f64 >= factor * self.usual.max(1.0))
    }

    pub(crate) fn quiet(&self, at: Timestamp) -> bool {
        self.reported_until.is_none_or(|until| at >= until)
    }
}
