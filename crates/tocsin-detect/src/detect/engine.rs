//! All detectors behind one door: events from the log in, signals out.

use jiff::SignedDuration;
use tocsin_core::event::Event;
use tocsin_core::plan::{Detection, Recovery};
use tocsin_core::signal::Signal;

use super::Finding;
use super::account::{AccountAttack, AccountAttackConfig, Stuffing};
use super::app::{Agents, Errors, Vault};
use super::auth::{BruteForce, BruteForceConfig, SlowBruteForce, SlowBruteForceConfig, Spray, SprayConfig};
use super::campaign::SprayCampaign;
use super::ratelimit::{RateLimitConfig, RateLimits};
use super::recurrence::{Recurrence, Watched};

/// The detectors, each with its own state, fed the log in order.
#[derive(Debug)]
pub struct Engine {
    brute_force: BruteForce,
    slow: SlowBruteForce,
    spray: Spray,
    account: AccountAttack,
    stuffing: Stuffing,
    campaign: SprayCampaign,
    rate_limits: RateLimits,
    errors: Errors,
    vault: Vault,
    agents: Agents,
    recurrence: Recurrence,
    found: Vec<Finding>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&Detection::default())
    }
}

impl Engine {
    /// The detectors as the plan sets them up: its `[detection]` settings, and its
    /// calendar for working hours.
    pub fn for_plan(plan: &tocsin_core::plan::Plan) -> Self {
        let settings = plan.detection();
        let mut engine = Engine::new(settings);
        let threshold = settings
            .brute_force_threshold
            .unwrap_or(BruteForceConfig::default().threshold);
        let window = settings
            .brute_force_window_seconds
            .map_or(BruteForceConfig::default().window, SignedDuration::from_secs);
        engine.recurrence = Recurrence::new(threshold.div_ceil(plan.recovery().sensitivity.max(1)), window);
        if let Some((start, end)) = settings.working_hours {
            engine.vault.working = Some((plan.calendar().clone(), start, end));
        }
        engine
    }

    /// The detectors with the plan's settings, tocsin's defaults where it has none.
    pub fn new(settings: &Detection) -> Self {
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
        if let Some(seconds) = settings.quiet_period_seconds {
            let quiet = SignedDuration::from_secs(seconds);
            brute_force.cooldown = quiet;
            spray.cooldown = quiet;
            rate_limits.cooldown = quiet;
        }
        let recovery = Recovery::default();
        let recurrence = Recurrence::new(brute_force.threshold.div_ceil(recovery.sensitivity), brute_force.window);
        Engine {
            brute_force: BruteForce::new(brute_force),
            slow: SlowBruteForce::new(SlowBruteForceConfig {
                fast: brute_force,
                ..SlowBruteForceConfig::default()
            }),
            spray: Spray::new(spray),
            account: AccountAttack::new(AccountAttackConfig::default()),
            stuffing: Stuffing::default(),
            campaign: SprayCampaign::default(),
            rate_limits: RateLimits::new(rate_limits),
            errors: Errors::default(),
            vault: Vault::default(),
            agents,
            recurrence,
            found: Vec::new(),
        }
    }

    /// The keys of incidents under their recovery watch, reported sooner and without the
    /// quiet period (`sensitivity` times more sensitive than the brute-force rule).
    pub fn watch(&mut self, keys: Vec<Watched>) {
        self.recurrence.watch(keys);
    }

    /// Reads event `seq` of the log, pushing the signals it completes onto `out`.
    pub fn event(&mut self, seq: u64, event: &Event, out: &mut Vec<Signal>) {
        self.recurrence.event(event, &mut self.found);
        match event {
            Event::Auth(auth) => {
                self.brute_force.event(auth, &mut self.found);
                self.slow.event(auth, &mut self.found);
                self.spray.event(auth, &mut self.found);
                self.account.event(auth, &mut self.found);
                self.stuffing.event(auth, &mut self.found);
                self.campaign.event(auth, &mut self.found);
            }
            Event::RateLimit(decision) => self.rate_limits.event(decision, &mut self.found),
            Event::Error(error) => self.errors.event(error, &mut self.found),
            Event::VaultAccess(access) => self.vault.event(access, &mut self.found),
            Event::Heartbeat(beat) => self.agents.event(beat, &mut self.found),
            Event::Request(_) | Event::Custom(_) | Event::Alert(_) => {}
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
            + self.campaign.tracked()
            + self.rate_limits.tracked()
            + self.errors.tracked()
            + self.vault.tracked()
            + self.agents.tracked()
            + self.recurrence.tracked()
    }
}

fn signal(finding: Finding, seq: Option<u64>) -> Signal {
    let Finding {
        detector,
        key,
        at,
        summary,
        evidence,
    } = finding;
    // Whole minutes, rounded up: five failures one minute apart are "within 4 min".
    let minutes = (evidence.last_at.duration_since(evidence.first_at).as_secs().max(1) + 59) / 60;
    let summary = summary.unwrap_or_else(|| match detector {
        "brute_force" => format!("{} failed logins from {key} within {minutes} min", evidence.count),
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
        "vault_after_hours" => format!("{key} used the vault outside working hours"),
        "stale_agent" => format!(
            "The agent {key} has sent no heartbeat since {}",
            tocsin_core::utc_minute(evidence.first_at)
        ),
        "agent_drift" => format!("The agent {key} runs a version or configuration unlike the rest of the fleet"),
        "password_spray" => format!("{key} tried {} different accounts within {minutes} min", evidence.count),
        other => format!("{other}: {key}, {} events", evidence.count),
    });
    Signal {
        detector: detector.to_owned(),
        key,
        at,
        count: evidence.count,
        first_at: evidence.first_at,
        last_at: evidence.last_at,
        samples: seq.into_iter().collect(),
        sources: evidence.sources,
        accounts: evidence.accounts,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use tocsin_core::event::parse_line;

    use super::*;

    #[test]
    fn the_plan_s_settings_change_the_detectors() {
        // Failed logins from one address, `count` of them a second apart from `minute`.
        let failing = |minute: u32, count: u32| -> Vec<Event> {
            (0..count)
                .map(|i| {
                    parse_line(
                        1,
                        &format!(
                            r#"{{"kind":"auth","ts":"2026-01-05T00:{minute:02}:{i:02}Z","outcome":"failure","ip":"203.0.113.1","user":"root","service":"sshd","reason":"bad_password"}}"#
                        ),
                    )
                    .unwrap()
                })
                .collect()
        };
        let failures = failing(0, 11);
        let found = |engine: &mut Engine, events: &[Event]| {
            let mut out = Vec::new();
            for (seq, e) in events.iter().enumerate() {
                engine.event(seq as u64 + 1, e, &mut out);
            }
            out.iter().filter(|s| s.detector == "brute_force").count()
        };
        assert_eq!(found(&mut Engine::default(), &failures[..6]), 1);
        let mut stricter = Detection::default();
        stricter.brute_force_threshold = Some(10);
        assert_eq!(found(&mut Engine::new(&stricter), &failures[..10]), 0);
        assert_eq!(found(&mut Engine::new(&stricter), &failures), 1);
        // The quiet period after a report: an hour by default, the plan's when it says.
        let later = failing(5, 6);
        let twice: Vec<Event> = failures[..6].iter().chain(&later).cloned().collect();
        assert_eq!(found(&mut Engine::default(), &twice), 1);
        let mut brief = Detection::default();
        brief.quiet_period_seconds = Some(60);
        assert_eq!(found(&mut Engine::new(&brief), &twice), 2);
    }
}
