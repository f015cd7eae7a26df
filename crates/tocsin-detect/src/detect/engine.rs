//! All detectors behind one door: events from the log in, signals out.

use tocsin_core::event::Event;
use tocsin_core::signal::Signal;

use super::Finding;
use super::account::{AccountAttack, AccountAttackConfig};
use super::auth::{BruteForce, BruteForceConfig, SlowBruteForce, SlowBruteForceConfig, Spray, SprayConfig};
use super::ratelimit::{RateLimitConfig, RateLimits};

/// The detectors, each with its own state, fed the log in order.
#[derive(Debug)]
pub struct Engine {
    brute_force: BruteForce,
    slow: SlowBruteForce,
    spray: Spray,
    account: AccountAttack,
    rate_limits: RateLimits,
    found: Vec<Finding>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            brute_force: BruteForce::new(BruteForceConfig::default()),
            slow: SlowBruteForce::new(SlowBruteForceConfig::default()),
            spray: Spray::new(SprayConfig::default()),
            account: AccountAttack::new(AccountAttackConfig::default()),
            rate_limits: RateLimits::new(RateLimitConfig::default()),
            found: Vec::new(),
        }
    }
}

impl Engine {
    /// Reads event `seq` of the log, pushing the signals it completes onto `out`.
    pub fn event(&mut self, seq: u64, event: &Event, out: &mut Vec<Signal>) {
        match event {
            Event::Auth(auth) => {
                self.brute_force.event(auth, &mut self.found);
                self.slow.event(auth, &mut self.found);
                self.spray.event(auth, &mut self.found);
                self.account.event(auth, &mut self.found);
            }
            Event::RateLimit(decision) => self.rate_limits.event(decision, &mut self.found),
            _ => {}
        }
        out.extend(self.found.drain(..).map(|f| signal(f, seq)));
    }

    /// Sources with state kept, over all detectors: for bounding memory.
    pub fn tracked(&self) -> usize {
        self.brute_force.tracked()
            + self.slow.tracked()
            + self.spray.tracked()
            + self.account.tracked()
            + self.rate_limits.tracked()
    }
}

fn signal(finding: Finding, seq: u64) -> Signal {
    let Finding {
        detector,
        key,
        at,
        evidence,
    } = finding;
    let minutes = evidence
        .last_at
        .duration_since(evidence.first_at)
        .as_secs()
        .div_euclid(60)
        + 1;
    let summary = match detector {
        "brute_force" => format!("{} failed logins from {key} within {minutes} min", evidence.count),
        "compromise" => format!("A login from {key} succeeded after {} failed attempts", evidence.count),
        "slow_brute_force" => format!(
            "{} failed logins from {key} in a row over {minutes} min, paced under the brute-force rule",
            evidence.count
        ),
        "account_attack" => format!(
            "The account {key} failed to log in from {} different sources within {minutes} min",
            evidence.count
        ),
        "rate_limit_abuse" => format!("{key} hit its rate limit {} times within {minutes} min", evidence.count),
        "distributed_rate_limit" => format!(
            "The {key} rate limit turned away {} different sources within {minutes} min",
            evidence.count
        ),
        "password_spray" => format!("{key} tried {} different accounts within {minutes} min", evidence.count),
        other => format!("{other}: {key}, {} events", evidence.count),
    };
    Signal {
        detector: detector.to_owned(),
        key,
        at,
        count: evidence.count,
        first_at: evidence.first_at,
        last_at: evidence.last_at,
        samples: vec![seq],
        sources: evidence.sources,
        summary,
    }
}
