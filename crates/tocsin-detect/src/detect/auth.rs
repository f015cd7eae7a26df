//! Failed logins: brute force from one source, a success that follows it, and password
//! spraying (one source trying many accounts).

use std::collections::VecDeque;
use tocsin_core::detector::DetectorId;

use jiff::{SignedDuration, Timestamp};
use tocsin_core::event::{AuthEvent, AuthOutcome};

use super::bounded::{Bounded, DEFAULT_CAP, Touched};
use super::{Evidence, Finding, text_key};

/// Brute force from one source: more than `threshold` failed attempts within `window`.
/// The reference plans' rule, and fail2ban's, is more than 5 in 10 minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BruteForceConfig {
    pub threshold: u32,
    pub window: SignedDuration,
    /// After a finding, the same source is not reported again for this long.
    pub cooldown: SignedDuration,
    /// A success for an account from a source with at least this many failures on that
    /// account within `lookback` is a likely compromise.
    pub compromise_after: u32,
    pub lookback: SignedDuration,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            threshold: 5,
            window: SignedDuration::from_mins(10),
            cooldown: SignedDuration::from_hours(1),
            compromise_after: 5,
            lookback: SignedDuration::from_hours(1),
        }
    }
}

#[derive(Debug, Default)]
struct SourceState {
    /// Failure times within the longer of the two windows, oldest first; at most as many
    /// as either rule needs.
    failures: VecDeque<Timestamp>,
    /// The account of each of those failures, as a name hash, in the same order.
    accounts: VecDeque<u64>,
    total: u64,
    first_at: Option<Timestamp>,
    reported_until: Option<Timestamp>,
    compromise_reported: bool,
}

impl Touched for SourceState {
    fn touched(&self) -> Option<Timestamp> {
        self.failures.back().copied().or(self.first_at)
    }
}

/// Follows failures per source. State for a source is dropped once its failures are older
/// than both windows, so memory follows the sources active lately, not all ever seen.
#[derive(Debug)]
pub struct BruteForce {
    config: BruteForceConfig,
    sources: Bounded<SourceState>,
}

impl BruteForce {
    pub fn new(config: BruteForceConfig) -> Self {
        BruteForce {
            config,
            sources: Bounded::new(DEFAULT_CAP),
        }
    }

    /// Sources with state kept: for bounding memory.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    fn horizon(&self) -> SignedDuration {
        self.config.window.max(self.config.lookback)
    }

    fn keep(&self) -> usize {
        (self.config.threshold.max(self.config.compromise_after) as usize) + 1
    }

    /// Reads one event, in time order, pushing what it completes onto `out`.
    pub fn event(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let (now, horizon) = (event.at, self.horizon());
        // Sources quiet for longer than the windows, and not cooling down, are dropped.
        self.sources.sweep(now, horizon, |state| {
            state.failures.back().is_some_and(|t| now.duration_since(*t) <= horizon)
                || state.reported_until.is_some_and(|until| now < until)
        });
        match event.outcome {
            AuthOutcome::Failure => self.failure(event, out),
            AuthOutcome::Success => self.success(event, out),
        }
    }

    fn failure(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let (window, horizon, keep, threshold, cooldown) = (
            self.config.window,
            self.horizon(),
            self.keep(),
            self.config.threshold as usize,
            self.config.cooldown,
        );
        let state = self.sources.entry(&event.source);
        state.total += 1;
        state.first_at.get_or_insert(event.at);
        state.failures.push_back(event.at);
        state.accounts.push_back(text_key(&event.user));
        while state.failures.len() > keep
            || state
                .failures
                .front()
                .is_some_and(|t| event.at.duration_since(*t) > horizon)
        {
            state.failures.pop_front();
            state.accounts.pop_front();
        }
        let in_window = state
            .failures
            .iter()
            .rev()
            .take_while(|t| event.at.duration_since(**t) <= window)
            .count();
        let quiet = state.reported_until.is_none_or(|until| event.at >= until);
        if in_window > threshold && quiet {
            state.reported_until = event.at.checked_add(cooldown).ok();
            let first_at = state.failures[state.failures.len() - in_window];
            out.push(Finding {
                detector: DetectorId::BruteForce,
                key: event.source.to_string(),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: in_window as u64,
                    first_at,
                    last_at: event.at,
                    sources: Vec::new(),
                    accounts: Vec::new(),
                },
            });
        }
    }

    fn success(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let (lookback, needed) = (self.config.lookback, self.config.compromise_after as usize);
        let Some(state) = self.sources.get_mut(&event.source) else {
            return;
        };
        // Failures on the account that got in: behind a shared address, other people's
        // mistyped passwords are not an attack on this account.
        let account = text_key(&event.user);
        let recent = state
            .failures
            .iter()
            .zip(&state.accounts)
            .filter(|(t, a)| event.at.duration_since(**t) <= lookback && **a == account)
            .count();
        if recent >= needed && !state.compromise_reported {
            state.compromise_reported = true;
            out.push(Finding {
                detector: DetectorId::Compromise,
                key: event.source.to_string(),
                at: event.at,
                summary: Some(format!(
                    "A login to the account {} from {} succeeded after {} failed attempts",
                    event.user, event.source, state.total
                )),
                evidence: Evidence {
                    count: state.total,
                    first_at: state.first_at.unwrap_or(event.at),
                    last_at: event.at,
                    sources: Vec::new(),
                    accounts: vec![event.user.clone()],
                },
            });
        }
    }
}

/// Slow brute force: a source that keeps failing, at a pace that stays under the classic
/// rule. It counts a run of failures in which none comes more than `gap` after the one
/// before; a run of `run` failures is reported, unless it ever went fast enough for
/// [`BruteForce`] to report it. Defaults: 8 failures, each within 10 minutes of the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowBruteForceConfig {
    pub run: u32,
    pub gap: SignedDuration,
    /// The classic rule, to leave to [`BruteForce`] what it reports.
    pub fast: BruteForceConfig,
    pub cooldown: SignedDuration,
}

impl Default for SlowBruteForceConfig {
    fn default() -> Self {
        SlowBruteForceConfig {
            run: 8,
            gap: SignedDuration::from_mins(10),
            fast: BruteForceConfig::default(),
            cooldown: SignedDuration::from_hours(6),
        }
    }
}

#[derive(Debug, Default)]
struct RunState {
    first_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
    length: u64,
    /// The latest failures, as many as the classic rule needs to see.
    recent: VecDeque<Timestamp>,
    fast: bool,
    reported_until: Option<Timestamp>,
}

impl Touched for RunState {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

/// Follows each source's current run of failures.
#[derive(Debug)]
pub struct SlowBruteForce {
    config: SlowBruteForceConfig,
    sources: Bounded<RunState>,
}

impl SlowBruteForce {
    pub fn new(config: SlowBruteForceConfig) -> Self {
        SlowBruteForce {
            config,
            sources: Bounded::new(DEFAULT_CAP),
        }
    }

    /// Sources with state kept: for bounding memory.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    /// Reads one event, in time order, pushing what it completes onto `out`.
    pub fn event(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let SlowBruteForceConfig {
            run,
            gap,
            fast,
            cooldown,
        } = self.config;
        // A run whose last failure is older than the gap is over.
        let now = event.at;
        self.sources.sweep(now, gap, |s| {
            s.last_at.is_some_and(|t| now.duration_since(t) <= gap) || s.reported_until.is_some_and(|until| now < until)
        });
        if event.outcome != AuthOutcome::Failure {
            return;
        }
        let state = self.sources.entry(&event.source);
        if state.last_at.is_none_or(|t| event.at.duration_since(t) > gap) {
            state.first_at = Some(event.at);
            state.length = 0;
            state.recent.clear();
            state.fast = false;
        }
        state.last_at = Some(event.at);
        state.length += 1;
        state.recent.push_back(event.at);
        if state.recent.len() > fast.threshold as usize + 1 {
            state.recent.pop_front();
        }
        if state.recent.len() > fast.threshold as usize
            && state
                .recent
                .front()
                .is_some_and(|t| event.at.duration_since(*t) <= fast.window)
        {
            state.fast = true;
        }
        let quiet = state.reported_until.is_none_or(|until| event.at >= until);
        if state.length >= u64::from(run) && !state.fast && quiet {
            state.reported_until = event.at.checked_add(cooldown).ok();
            out.push(Finding {
                detector: DetectorId::SlowBruteForce,
                key: event.source.to_string(),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: state.length,
                    first_at: state.first_at.unwrap_or(event.at),
                    last_at: event.at,
                    sources: Vec::new(),
                    accounts: Vec::new(),
                },
            });
        }
    }
}

/// Password spraying: one source failing against at least `accounts` distinct user names
/// within `window`. Defaults: 10 names within an hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SprayConfig {
    pub accounts: u32,
    pub window: SignedDuration,
    pub cooldown: SignedDuration,
}

impl Default for SprayConfig {
    fn default() -> Self {
        SprayConfig {
            accounts: 10,
            window: SignedDuration::from_hours(1),
            cooldown: SignedDuration::from_hours(6),
        }
    }
}

#[derive(Debug, Default)]
struct SprayState {
    /// The last failure per user name, within the window; pruned whenever it reaches the
    /// threshold, so it never holds many more names than that.
    names: Vec<(u64, Timestamp)>,
    last_at: Option<Timestamp>,
    reported_until: Option<Timestamp>,
}

impl Touched for SprayState {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

/// Follows the distinct user names each source fails against.
#[derive(Debug)]
pub struct Spray {
    config: SprayConfig,
    sources: Bounded<SprayState>,
}

impl Spray {
    pub fn new(config: SprayConfig) -> Self {
        Spray {
            config,
            sources: Bounded::new(DEFAULT_CAP),
        }
    }

    /// Sources with state kept: for bounding memory.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    /// Reads one event, in time order, pushing what it completes onto `out`.
    pub fn event(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let SprayConfig {
            accounts,
            window,
            cooldown,
        } = self.config;
        let now = event.at;
        self.sources.sweep(now, window, |s| {
            s.last_at.is_some_and(|t| now.duration_since(t) <= window)
                || s.reported_until.is_some_and(|until| now < until)
        });
        if event.outcome != AuthOutcome::Failure {
            return;
        }
        let state = self.sources.entry(&event.source);
        state.last_at = Some(event.at);
        let name = text_key(&event.user);
        match state.names.iter_mut().find(|(n, _)| *n == name) {
            Some(seen) => seen.1 = event.at,
            None => state.names.push((name, event.at)),
        }
        if state.names.len() < accounts as usize {
            return;
        }
        state.names.retain(|(_, t)| event.at.duration_since(*t) <= window);
        let quiet = state.reported_until.is_none_or(|until| event.at >= until);
        if state.names.len() >= accounts as usize && quiet {
            state.reported_until = event.at.checked_add(cooldown).ok();
            let first_at = state.names.iter().map(|(_, t)| *t).min().unwrap_or(event.at);
            out.push(Finding {
                detector: DetectorId::PasswordSpray,
                key: event.source.to_string(),
                at: event.at,
                summary: None,
                evidence: Evidence {
                    count: state.names.len() as u64,
                    first_at,
                    last_at: event.at,
                    sources: Vec::new(),
                    accounts: Vec::new(),
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_core::event::AuthReason;

    fn attempt(second: i64, ip: &str, outcome: AuthOutcome) -> AuthEvent {
        let reason = if outcome == AuthOutcome::Success {
            AuthReason::Ok
        } else {
            AuthReason::BadPassword
        };
        crate::detect::login(second, ip, "root", outcome, reason)
    }

    fn run(events: &[AuthEvent]) -> Vec<Finding> {
        let mut detector = BruteForce::new(BruteForceConfig::default());
        let mut out = Vec::new();
        for e in events {
            detector.event(e, &mut out);
        }
        out
    }

    #[test]
    fn six_failures_within_ten_minutes_are_brute_force_and_five_are_not() {
        let six: Vec<_> = (0..6)
            .map(|i| attempt(i * 120, "203.0.113.5", AuthOutcome::Failure))
            .collect();
        let found = run(&six);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].detector.as_str(),
                found[0].key.as_str(),
                found[0].evidence.count
            ),
            ("brute_force", "203.0.113.5", 6)
        );
        assert!(run(&six[..5]).is_empty());
        // Six, but the first and the last 601 s apart: not within ten minutes.
        let spread: Vec<_> = [0, 121, 241, 361, 481, 601]
            .iter()
            .map(|s| attempt(*s, "203.0.113.6", AuthOutcome::Failure))
            .collect();
        assert!(run(&spread).is_empty());
    }

    #[test]
    fn a_source_is_reported_once_per_cooldown_and_a_success_after_failures_is_a_compromise() {
        let mut events: Vec<_> = (0..30)
            .map(|i| attempt(i * 10, "198.51.100.200", AuthOutcome::Failure))
            .collect();
        events.push(attempt(400, "198.51.100.200", AuthOutcome::Success));
        events.push(attempt(500, "10.0.0.1", AuthOutcome::Success));
        let found = run(&events);
        let kinds: Vec<&str> = found.iter().map(|f| f.detector.as_str()).collect();
        assert_eq!(kinds, ["brute_force", "compromise"]);
        assert_eq!(found[1].evidence.count, 30);
    }

    #[test]
    fn one_source_failing_against_ten_accounts_within_an_hour_is_spraying() {
        let mut spray = Spray::new(SprayConfig::default());
        let mut out = Vec::new();
        for i in 0..12 {
            let mut e = attempt(i * 300, "203.0.113.50", AuthOutcome::Failure);
            e.user = format!("user{}", i % 10);
            spray.event(&e, &mut out);
        }
        // Nine names, however often tried, are not ten.
        for i in 0..50 {
            let mut e = attempt(i * 60, "203.0.113.51", AuthOutcome::Failure);
            e.user = format!("user{}", i % 9);
            spray.event(&e, &mut out);
        }
        let keys: Vec<(&str, &str, u64)> = out
            .iter()
            .map(|f| (f.detector.as_str(), f.key.as_str(), f.evidence.count))
            .collect();
        assert_eq!(keys, [("password_spray", "203.0.113.50", 10)]);
        // Ten names spread over more than an hour are not spraying either.
        let mut slow = Spray::new(SprayConfig::default());
        let mut none = Vec::new();
        for i in 0..10 {
            let mut e = attempt(i * 401, "203.0.113.52", AuthOutcome::Failure);
            e.user = format!("user{i}");
            slow.event(&e, &mut none);
        }
        assert!(none.is_empty());
    }

    #[test]
    fn quiet_sources_are_forgotten() {
        let mut detector = BruteForce::new(BruteForceConfig::default());
        let mut out = Vec::new();
        for i in 0..10_000 {
            detector.event(
                &attempt(
                    i,
                    &format!("10.{}.{}.{}", i / 65_536, i / 256 % 256, i % 256),
                    AuthOutcome::Failure,
                ),
                &mut out,
            );
        }
        detector.event(&attempt(20_000, "192.0.2.1", AuthOutcome::Failure), &mut out);
        assert!(detector.tracked() < 10, "{} sources still tracked", detector.tracked());
    }

    #[test]
    fn behind_a_shared_address_other_people_s_failures_do_not_make_a_success_a_compromise() {
        let mut events = Vec::new();
        for (i, user) in ["eric", "bella", "hana", "eric", "bella", "hana"].iter().enumerate() {
            let mut e = attempt(i as i64 * 60, "198.51.100.10", AuthOutcome::Failure);
            e.user = (*user).into();
            events.push(e);
        }
        let mut ok = attempt(400, "198.51.100.10", AuthOutcome::Success);
        ok.user = "eric".into();
        events.push(ok);
        assert!(run(&events).iter().all(|f| f.detector != "compromise"));
    }

    fn slow(events: &[AuthEvent]) -> Vec<Finding> {
        let mut detector = SlowBruteForce::new(SlowBruteForceConfig::default());
        let mut out = Vec::new();
        for e in events {
            detector.event(e, &mut out);
        }
        out
    }

    #[test]
    fn a_run_of_failures_paced_under_the_classic_rule_is_slow_brute_force() {
        // One every five minutes: never six within ten, but eight in a row.
        let paced: Vec<_> = (0..9)
            .map(|i| attempt(i * 300, "203.0.113.7", AuthOutcome::Failure))
            .collect();
        assert!(run(&paced).is_empty(), "the classic rule misses it");
        let found = slow(&paced);
        assert_eq!(found.len(), 1, "reported once: {found:?}");
        assert_eq!(
            (found[0].detector.as_str(), found[0].evidence.count),
            ("slow_brute_force", 8)
        );
        assert_eq!(found[0].at, paced[7].at);
        // A pause longer than ten minutes starts a new run.
        let broken: Vec<_> = [0, 300, 600, 900, 1560, 1860, 2160, 2460]
            .iter()
            .map(|s| attempt(*s, "203.0.113.8", AuthOutcome::Failure))
            .collect();
        assert!(slow(&broken).is_empty());
        // A run that went fast is the classic rule's, not reported twice.
        let fast: Vec<_> = (0..12)
            .map(|i| attempt(i * 60, "203.0.113.9", AuthOutcome::Failure))
            .collect();
        assert!(slow(&fast).is_empty());
        assert_eq!(run(&fast).len(), 1);
    }
}
