//! Rate limits that keep being hit: one key denied again and again (a brute force the
//! limiter is already holding back), and one policy denied to many addresses at once (a
//! distributed attack on it).

use std::collections::VecDeque;
use tocsin_core::detector::DetectorId;

use jiff::{SignedDuration, Timestamp};
use tocsin_core::event::{Decision, RateLimitEvent, Source};

use super::bounded::{Bounded, DEFAULT_CAP, Touched};
use super::{Evidence, Finding};

/// Defaults: a key denied 10 times within 10 minutes; a policy denied to 10 distinct
/// sources within 10 minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub denials: u32,
    pub sources: u32,
    pub window: SignedDuration,
    pub cooldown: SignedDuration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            denials: 10,
            sources: 10,
            window: SignedDuration::from_mins(10),
            cooldown: SignedDuration::from_hours(1),
        }
    }
}

#[derive(Debug, Default)]
struct KeyState {
    denied: VecDeque<Timestamp>,
    reported_until: Option<Timestamp>,
}

impl Touched for KeyState {
    fn touched(&self) -> Option<Timestamp> {
        self.denied.back().copied()
    }
}

#[derive(Debug, Default)]
struct PolicyState {
    /// The last denial per source within the window.
    sources: Vec<(Source, Timestamp)>,
    last_at: Option<Timestamp>,
    reported_until: Option<Timestamp>,
}

impl Touched for PolicyState {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

/// Sources listed per policy at most.
const SOURCES_KEPT: usize = 1_000;

#[derive(Debug)]
pub struct RateLimits {
    config: RateLimitConfig,
    keys: Bounded<KeyState, (String, String)>,
    policies: Bounded<PolicyState, String>,
}

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimits {
            config,
            keys: Bounded::new(DEFAULT_CAP),
            policies: Bounded::new(1_000),
        }
    }

    pub fn tracked(&self) -> usize {
        self.keys.len() + self.policies.len()
    }

    /// Reads one event, in time order, pushing what it completes onto `out`.
    pub fn event(&mut self, event: &RateLimitEvent, out: &mut Vec<Finding>) {
        if event.decision != Decision::Deny {
            return;
        }
        let RateLimitConfig {
            denials,
            sources,
            window,
            cooldown,
        } = self.config;
        let key = self.keys.entry(&(event.policy.clone(), event.key.clone()));
        key.denied.push_back(event.at);
        while key.denied.len() > denials as usize
            || key.denied.front().is_some_and(|t| event.at.duration_since(*t) > window)
        {
            key.denied.pop_front();
        }
        if key.denied.len() >= denials as usize && key.reported_until.is_none_or(|until| event.at >= until) {
            key.reported_until = event.at.checked_add(cooldown).ok();
            out.push(Finding {
                detector: DetectorId::RateLimitAbuse,
                key: format!("{}:{}", event.policy, event.key),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: key.denied.len() as u64,
                    first_at: key.denied.front().copied().unwrap_or(event.at),
                    last_at: event.at,
                    sources: event.source.iter().map(Source::to_string).collect(),
                    accounts: Vec::new(),
                },
            });
        }
        let Some(source) = &event.source else { return };
        let policy = self.policies.entry(&event.policy);
        policy.last_at = Some(event.at);
        policy.sources.retain(|(_, t)| event.at.duration_since(*t) <= window);
        let known = policy.sources.len();
        match policy.sources.iter_mut().find(|(s, _)| s == source) {
            Some(seen) => seen.1 = event.at,
            None if known < SOURCES_KEPT => policy.sources.push((source.clone(), event.at)),
            None => {}
        }
        if policy.sources.len() >= sources as usize && policy.reported_until.is_none_or(|until| event.at >= until) {
            policy.reported_until = event.at.checked_add(cooldown).ok();
            out.push(Finding {
                detector: DetectorId::DistributedRateLimit,
                key: event.policy.clone(),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: policy.sources.len() as u64,
                    first_at: policy.sources.iter().map(|(_, t)| *t).min().unwrap_or(event.at),
                    last_at: event.at,
                    sources: policy.sources.iter().map(|(s, _)| s.to_string()).collect(),
                    accounts: Vec::new(),
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(second: i64, key: &str, ip: &str) -> RateLimitEvent {
        RateLimitEvent {
            at: Timestamp::from_second(1_767_571_200 + second).unwrap(),
            key: key.into(),
            policy: "login".into(),
            decision: Decision::Deny,
            source: Some(Source::parse(ip)),
        }
    }

    fn run(events: &[RateLimitEvent]) -> Vec<Finding> {
        let mut detector = RateLimits::new(RateLimitConfig::default());
        let mut out = Vec::new();
        for e in events {
            detector.event(e, &mut out);
        }
        out
    }

    #[test]
    fn a_key_denied_ten_times_in_ten_minutes_is_abuse_and_many_sources_denied_are_distributed() {
        let one: Vec<_> = (0..12)
            .map(|i| denied(i * 30, "203.0.113.5:ann", "203.0.113.5"))
            .collect();
        let found = run(&one);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].detector.as_str(), found[0].key.as_str()),
            ("rate_limit_abuse", "login:203.0.113.5:ann")
        );
        assert!(run(&one[..9]).is_empty());

        let many: Vec<_> = (0..10)
            .map(|i| denied(i * 30, &format!("192.0.2.{i}:ann"), &format!("192.0.2.{i}")))
            .collect();
        let found = run(&many);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].detector.as_str(), found[0].key.as_str()),
            ("distributed_rate_limit", "login")
        );
        assert_eq!(found[0].evidence.sources.len(), 10);
    }
}
