//! All detectors behind one door: events from the log in, signals out.

use tocsin_core::event::Event;
use tocsin_core::signal::Signal;

use super::Finding;
use super::account::{AccountAttack, AccountAttackConfig, Stuffing};
use super::app::{Agents, Errors, Vault};
use super::auth::{BruteForce, BruteForceConfig, SlowBruteForce, SlowBruteForceConfig, Spray, SprayConfig};
use super::ratelimit::{RateLimitConfig, RateLimits};

/// The detectors, each with its own state, fed the log in order.
#[derive(Debug)]
pub struct Engine {
    brute_force: BruteForce,
    slow: SlowBruteForce,
    spray: Spray,
    account: AccountAttack,
    stuffing: Stuffing,
    rate_limits: RateLimits,
    errors: Errors,
    vault: Vault,
    agents: Agents,
    found: Vec<Finding>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            brute_force: BruteForce::new(BruteForceConfig::default()),
            slow: SlowBruteForce::new(SlowBruteForceConfig::default()),
            spray: Spray::new(SprayConfig::default()),
            account: AccountAttack::new(AccountAttackConfig::default()),
            stuffing: Stuffing::default(),
            rate_limits: RateLimits::new(RateLimitConfig::default()),
            errors: Errors::default(),
            vault: Vault::default(),
            agents: Agents::default(),
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
                self.stuffing.event(auth, &mut self.found);
            }
            Event::RateLimit(decision) => self.rate_limits.event(decision, &mut self.found),
            Event::Error(error) => self.errors.event(error, &mut self.found),
            Event::VaultAccess(access) => self.vault.event(access, &mut self.found),
            Event::Heartbeat(beat) => self.agents.event(beat, &mut self.found),
            Event::Request(_) | Event::Custom(_) => {}
        }
        out.extend(self.found.drain(..).map(|f| signal(f, Some(seq))));
    }

    /// Time passes without events: what silence means (an agent that stopped reporting).
    /// Only for live use, with the time now; a replayed log has its own times.
    pub fn tick(&mut self, now: jiff::Timestamp, out: &mut Vec<Signal>) {
        self.agents.tick(now, &mut self.found);
        out.extend(self.found.drain(..).map(|f| signal(f, None)));
    }

    /// Sources with state kept, over all detectors: for bounding memory.
    pub fn tracked(&self) -> usize {
        self.brute_force.tracked()
            + self.slow.tracked()
            + self.spray.tracked()
            + self.account.tracked()
            + self.stuffing.tracked()
            + self.rate_limits.tracked()
            + self.errors.tracked()
            + self.vault.tracked()
            + self.agents.tracked()
    }
}

fn signal(finding: Finding, seq: Option<u64>) -> Signal {
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
        "credential_stuffing" => format!(
            "{} failed logins to {key} within {minutes} min from {} sources, far above its usual rate",
            evidence.count,
            evidence.sources.len()
        ),
        "error_spike" => format!(
            "{} errors in {key} within {minutes} min, far above its usual rate",
            evidence.count
        ),
        "new_error" => format!("A new error in {key}"),
        "vault_new_secret" => format!("{key}: a secret this principal never read before"),
        "vault_new_ip" => format!("{key}: vault access from an address this principal never used"),
        "vault_volume" => format!(
            "{key} read {} secrets within the hour, far above its usual",
            evidence.count
        ),
        "vault_denied_burst" => format!(
            "{key} was denied vault access {} times within {minutes} min",
            evidence.count
        ),
        "stale_agent" => format!("The agent {key} has sent no heartbeat since {}", evidence.first_at),
        "agent_drift" => format!("The agent {key} runs a version or configuration unlike the rest of the fleet"),
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
        samples: seq.into_iter().collect(),
        sources: evidence.sources,
        summary,
    }
}
