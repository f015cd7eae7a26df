//! All detectors behind one door: events from the log in, signals out.

use tocsin_core::detector::DetectorId;
use tocsin_core::event::Event;
use tocsin_core::plan::{Detection, Recovery};
use tocsin_core::signal::Signal;

use super::Finding;
use super::account::{AccountAttack, Stuffing};
use super::app::{Agents, Errors, Vault};
use super::auth::{BruteForce, SlowBruteForce, Spray};
use super::campaign::SprayCampaign;
use super::ratelimit::RateLimits;
use super::recurrence::{Recurrence, Watched};

/// What the engine asks of every detector: events in, findings out. A detector reads the
/// events it cares about and passes over the rest.
pub trait Detector: std::fmt::Debug + Send {
    /// Reads the log's next event, pushing the findings it completes onto `out`.
    fn event(&mut self, event: &Event, out: &mut Vec<Finding>);
    /// Time passes without events: what silence means (an agent that stopped reporting).
    fn tick(&mut self, _now: jiff::Timestamp, _out: &mut Vec<Finding>) {}
    /// Keys with state kept, for bounding memory.
    fn tracked(&self) -> usize;
}

/// A detector of one kind of event: its inherent `event` and `tracked` serve the trait.
macro_rules! reads {
    ($detector:ty, $kind:ident) => {
        impl Detector for $detector {
            fn event(&mut self, event: &Event, out: &mut Vec<Finding>) {
                if let Event::$kind(e) = event {
                    <$detector>::event(self, e, out);
                }
            }
            fn tracked(&self) -> usize {
                <$detector>::tracked(self)
            }
        }
    };
}

reads!(BruteForce, Auth);
reads!(SlowBruteForce, Auth);
reads!(Spray, Auth);
reads!(AccountAttack, Auth);
reads!(Stuffing, Auth);
reads!(SprayCampaign, Auth);
reads!(RateLimits, RateLimit);
reads!(Errors, Error);
reads!(Vault, VaultAccess);

impl Detector for Agents {
    fn event(&mut self, event: &Event, out: &mut Vec<Finding>) {
        if let Event::Heartbeat(beat) = event {
            Agents::event(self, beat, out);
        }
    }
    fn tick(&mut self, now: jiff::Timestamp, out: &mut Vec<Finding>) {
        Agents::tick(self, now, out);
    }
    fn tracked(&self) -> usize {
        Agents::tracked(self)
    }
}

/// The detectors, each with its own state, fed the log in order.
#[derive(Debug)]
pub struct Engine {
    /// The recovery watch, told which keys to watch; first, as it always was.
    recurrence: Recurrence,
    detectors: Vec<Box<dyn Detector>>,
    found: Vec<Finding>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&Detection::default())
    }
}

impl Engine {
    /// The detectors as the plan sets them up: its `[detection]` settings, its calendar for
    /// working hours, and its recovery watch's sensitivity.
    pub fn for_plan(plan: &tocsin_core::plan::Plan) -> Self {
        let settings = plan.detection();
        let working = settings
            .working_hours
            .map(|(start, end)| (plan.calendar().clone(), start, end));
        Engine::build(settings, &plan.recovery(), working)
    }

    /// The detectors with the plan's settings, tocsin's defaults where it has none.
    pub fn new(settings: &Detection) -> Self {
        Engine::build(settings, &Recovery::default(), None)
    }

    fn build(
        settings: &Detection,
        recovery: &Recovery,
        working: Option<(tocsin_core::calendar::Calendar, u16, u16)>,
    ) -> Self {
        let (recurrence, detectors) = super::detectors(settings, recovery, working);
        Engine {
            recurrence,
            detectors,
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
        for detector in &mut self.detectors {
            detector.event(event, &mut self.found);
        }
        out.extend(self.found.drain(..).map(|f| signal(f, Some(seq))));
    }

    /// Time passes without events. Only for live use, with the time now; a replayed log
    /// has its own times.
    pub fn tick(&mut self, now: jiff::Timestamp, out: &mut Vec<Signal>) {
        for detector in &mut self.detectors {
            detector.tick(now, &mut self.found);
        }
        out.extend(self.found.drain(..).map(|f| signal(f, None)));
    }

    /// Keys with state kept, over all detectors: for bounding memory.
    pub fn tracked(&self) -> usize {
        self.recurrence.tracked() + self.detectors.iter().map(|d| d.tracked()).sum::<usize>()
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
        DetectorId::BruteForce => format!("{} failed logins from {key} within {minutes} min", evidence.count),
        DetectorId::SlowBruteForce => format!(
            "{} failed logins from {key} in a row over {minutes} min, paced under the brute-force rule",
            evidence.count
        ),
        DetectorId::AccountAttack => format!(
            "The account {key} failed to log in from {} different sources within {minutes} min",
            evidence.count
        ),
        DetectorId::RateLimitAbuse => format!("{key} hit its rate limit {} times within {minutes} min", evidence.count),
        DetectorId::DistributedRateLimit => format!(
            "The {key} rate limit turned away {} different sources within {minutes} min",
            evidence.count
        ),
        DetectorId::CredentialStuffing => format!(
            "{} failed logins to {key} within {minutes} min from {} sources, far above its usual rate",
            evidence.count,
            evidence.sources.len()
        ),
        DetectorId::ErrorSpike => format!(
            "{} errors in {key} within {minutes} min, far above its usual rate",
            evidence.count
        ),
        DetectorId::NewError => format!("A new error in {key}"),
        DetectorId::VaultNewSecret => format!("{key}: a secret this principal never read before"),
        DetectorId::VaultNewIp => format!("{key}: vault access from an address this principal never used"),
        DetectorId::VaultVolume => format!(
            "{key} read {} secrets within the hour, far above its usual",
            evidence.count
        ),
        DetectorId::VaultDeniedBurst => format!(
            "{key} was denied vault access {} times within {minutes} min",
            evidence.count
        ),
        DetectorId::VaultAfterHours => format!("{key} used the vault outside working hours"),
        DetectorId::StaleAgent => format!(
            "The agent {key} has sent no heartbeat since {}",
            tocsin_core::utc_minute(evidence.first_at)
        ),
        DetectorId::AgentDrift => {
            format!("The agent {key} runs a version or configuration unlike the rest of the fleet")
        }
        DetectorId::PasswordSpray => format!("{key} tried {} different accounts within {minutes} min", evidence.count),
        // The rest say it in their own summaries; a finding without one is named plainly.
        other => format!("{other}: {key}, {} events", evidence.count),
    });
    Signal {
        detector,
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
