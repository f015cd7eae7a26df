//! A distributed password spray: a botnet trying one short list of account names from
//! many addresses, each too few times to cross any per-source threshold, hidden in the
//! internet's background of guesses at the same kind of names.
//!
//! No single event gives it away; two things together do. The names on the list are each
//! tried by more sources than they usually are, and the same sources come back for other
//! names on the list. So each service learns, per name, how many sources usually fail on
//! it per half hour. Once a minute the names standing out most are scored as a set, with
//! the Poisson likelihood ratio of their counts against their usual counts (the prefix
//! of the names ordered by how far they stand out is the best set: the linear-time subset
//! scan), plus a weight for every source that failed on two names of the set.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use tocsin_core::detector::DetectorId;

use jiff::{SignedDuration, Timestamp};
use tocsin_core::event::{AuthEvent, AuthOutcome, Source};

use super::bounded::{Bounded, Touched};
use super::{Evidence, Finding, text_key};

/// How the sets of names are scored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SprayCampaignConfig {
    /// The window sources are counted in.
    pub window: SignedDuration,
    /// How often the names are scored.
    pub every: SignedDuration,
    /// Time learned before anything is reported.
    pub learn: SignedDuration,
    /// Names scored together at most.
    pub names: usize,
    /// Names a source counts on per window at most: more is a spray from one source,
    /// which `password_spray` reports.
    pub names_per_source: usize,
    /// The score that makes a campaign.
    pub threshold: f64,
    /// What each source that failed on two names of the set adds to the score.
    pub repeat_weight: f64,
    /// Sources a campaign has at least.
    pub min_sources: usize,
}

impl Default for SprayCampaignConfig {
    fn default() -> Self {
        SprayCampaignConfig {
            window: SignedDuration::from_mins(30),
            every: SignedDuration::from_mins(1),
            learn: SignedDuration::from_hours(1),
            names: 10,
            names_per_source: 3,
            threshold: 36.0,
            repeat_weight: 3.0,
            min_sources: 10,
        }
    }
}

/// The usual count is learned per bucket of this length, as a moving average over about
/// six hours.
const BUCKET: SignedDuration = SignedDuration::from_mins(10);
const BUCKETS_AVERAGED: f64 = 36.0;
/// The usual count of a name never seen: a name nobody tried is not infinitely surprising.
const FLOOR: f64 = 0.2;
/// A source that logged in within this long is a user who mistyped, not an attacker.
const TRUSTED_FOR: SignedDuration = SignedDuration::from_hours(24);
/// A campaign ends after this long below the threshold.
const QUIET_ENDS: SignedDuration = SignedDuration::from_mins(30);
/// Sources kept per name and window at most.
const SOURCES_PER_NAME: usize = 512;
/// Names kept per service at most.
const NAMES_KEPT: usize = 50_000;
/// Sources kept per service at most: under a flood of addresses, the least recently active
/// are forgotten first.
const SOURCES_KEPT: usize = 100_000;

#[derive(Debug)]
struct NameState {
    name: String,
    /// Sources that failed on the name within the window, once each, oldest first.
    recent: VecDeque<(Source, Timestamp)>,
    /// Sources added in the current bucket.
    bucket: u32,
    /// Sources per window, as a moving average.
    usual: f64,
}

#[derive(Debug, Default)]
struct SourceState {
    /// The names it failed on within the window, each with its first failure.
    names: Vec<(u64, Timestamp)>,
    last_at: Option<Timestamp>,
    logged_in_at: Option<Timestamp>,
}

impl Touched for SourceState {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at.max(self.logged_in_at)
    }
}

#[derive(Debug, Default)]
struct Service {
    names: HashMap<u64, NameState>,
    sources: Option<Bounded<SourceState>>,
    started_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
    bucket_at: Option<Timestamp>,
    buckets: u32,
    scored_at: Option<Timestamp>,
    campaign: Option<Campaign>,
}

impl Touched for Service {
    fn touched(&self) -> Option<Timestamp> {
        self.last_at
    }
}

/// Distributed password sprays, per service.
#[derive(Debug)]
pub struct SprayCampaign {
    config: SprayCampaignConfig,
    services: Bounded<Service, String>,
}

impl Default for SprayCampaign {
    fn default() -> Self {
        SprayCampaign::new(SprayCampaignConfig::default())
    }
}

impl SprayCampaign {
    pub fn new(config: SprayCampaignConfig) -> Self {
        SprayCampaign {
            config,
            services: Bounded::new(1_000),
        }
    }

    pub fn tracked(&self) -> usize {
        self.services
            .values()
            .map(|s| s.names.len() + s.sources.as_ref().map_or(0, Bounded::len))
            .sum()
    }

    /// Reads one event, in time order, pushing what it completes onto `out`.
    pub fn event(&mut self, event: &AuthEvent, out: &mut Vec<Finding>) {
        let config = self.config;
        let service = self.services.entry(&event.service);
        let now = event.at;
        service.last_at = Some(now);
        service.started_at.get_or_insert(now);
        if service
            .scored_at
            .is_none_or(|at| now.duration_since(at) >= config.every)
        {
            service.scored_at = Some(now);
            service.fold_buckets(now, config.window);
            if let Some(finding) = service.score(now, &event.service, &config) {
                out.push(finding);
            }
        }
        let sources = service.sources.get_or_insert_with(|| Bounded::new(SOURCES_KEPT));
        let source = sources.entry(&event.source);
        source.last_at = Some(now);
        if event.outcome == AuthOutcome::Success {
            source.logged_in_at = Some(now);
            return;
        }
        let trusted = source
            .logged_in_at
            .is_some_and(|at| now.duration_since(at) <= TRUSTED_FOR);
        if event.user.is_empty() || trusted {
            return;
        }
        let name = text_key(&event.user);
        source.names.retain(|(_, at)| now.duration_since(*at) <= config.window);
        if source.names.iter().any(|(n, _)| *n == name) || source.names.len() >= config.names_per_source {
            return;
        }
        source.names.push((name, now));
        if service.names.len() >= NAMES_KEPT && !service.names.contains_key(&name) {
            return;
        }
        let state = service.names.entry(name).or_insert_with(|| NameState {
            name: event.user.clone(),
            recent: VecDeque::new(),
            bucket: 0,
            usual: FLOOR,
        });
        if state.recent.len() < SOURCES_PER_NAME {
            state.recent.push_back((event.source.clone(), now));
            state.bucket += 1;
        }
    }
}

impl Service {
    /// Folds the buckets that ended before `now` into each name's usual count, and lets go
    /// of what left the window.
    fn fold_buckets(&mut self, now: Timestamp, window: SignedDuration) {
        let start = *self.bucket_at.get_or_insert(now);
        let passed = now.duration_since(start).as_secs() / BUCKET.as_secs();
        let per_window = window.as_secs_f64() / BUCKET.as_secs_f64();
        for _ in 0..passed.min(BUCKETS_AVERAGED as i64 * 4) {
            self.buckets += 1;
            // A plain mean until there are enough buckets for the moving average.
            let alpha = (1.0 / f64::from(self.buckets)).max(1.0 / BUCKETS_AVERAGED);
            for state in self.names.values_mut() {
                // A campaign teaches the usual count only a little of itself.
                let seen = (f64::from(state.bucket) * per_window).min(2.0 * state.usual + 6.0);
                state.usual += alpha * (seen - state.usual);
                state.bucket = 0;
            }
        }
        // An event older than the bucket (a sender's late batch) moves nothing back.
        if passed > 0 {
            self.bucket_at = Some(start + BUCKET * passed as i32);
        }
        for state in self.names.values_mut() {
            while state
                .recent
                .front()
                .is_some_and(|(_, at)| now.duration_since(*at) > window)
            {
                state.recent.pop_front();
            }
        }
        self.names.retain(|_, s| !s.recent.is_empty() || s.usual > FLOOR / 4.0);
        if let Some(sources) = &mut self.sources {
            let within = |at: Option<Timestamp>, span| at.is_some_and(|at| now.duration_since(at) <= span);
            sources.sweep(now, window, |s| {
                within(s.last_at, window) || within(s.logged_in_at, TRUSTED_FOR)
            });
        }
    }

    /// Scores the names standing out most, as one set; a campaign when it starts.
    fn score(&mut self, now: Timestamp, service: &str, config: &SprayCampaignConfig) -> Option<Finding> {
        let started = self.started_at.is_some_and(|at| now.duration_since(at) >= config.learn);
        if !started {
            return None;
        }
        let mut standing_out: Vec<(f64, &NameState)> = self
            .names
            .values()
            .filter(|s| s.recent.len() as f64 > s.usual.max(FLOOR))
            .map(|s| (s.recent.len() as f64 / s.usual.max(FLOOR), s))
            .collect();
        standing_out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        standing_out.truncate(config.names);
        let (mut count, mut usual, mut best, mut best_len) = (0.0, 0.0, 0.0, 0);
        for (i, (_, state)) in standing_out.iter().enumerate() {
            count += state.recent.len() as f64;
            usual += state.usual.max(FLOOR);
            let ratio = count * (count / usual).ln() + usual - count;
            if ratio > best {
                (best, best_len) = (ratio, i + 1);
            }
        }
        let set = &standing_out[..best_len];
        let mut names_of: HashMap<&Source, u32> = HashMap::new();
        let mut first_at = now;
        for (_, state) in set {
            for (source, at) in &state.recent {
                *names_of.entry(source).or_default() += 1;
                first_at = first_at.min(*at);
            }
        }
        let repeats = names_of.values().filter(|n| **n >= 2).count();
        let sources = self.sources.as_mut()?;
        let untrusted: Vec<(&Source, u32)> = names_of
            .into_iter()
            .filter(|(s, _)| {
                sources
                    .get_mut(s)
                    .and_then(|s| s.logged_in_at)
                    .is_none_or(|at| now.duration_since(at) > TRUSTED_FOR)
            })
            .collect();
        let score = best + config.repeat_weight * repeats as f64;
        if score >= config.threshold && untrusted.len() >= config.min_sources {
            let names = set.iter().map(|(_, s)| s.name.clone());
            let tries = untrusted.into_iter().map(|(s, names)| (s.to_string(), names));
            match &mut self.campaign {
                Some(campaign) => {
                    campaign.last_seen = now;
                    for (source, names) in tries {
                        if campaign.sources.len() < CAMPAIGN_SOURCES || campaign.sources.contains_key(&source) {
                            let most = campaign.sources.entry(source).or_default();
                            *most = (*most).max(names);
                        }
                    }
                    campaign.names.extend(names.take(CAMPAIGN_NAMES - campaign.names.len()));
                    None
                }
                None => {
                    let campaign = Campaign {
                        first_at,
                        last_seen: now,
                        sources: tries.take(CAMPAIGN_SOURCES).collect(),
                        names: names.collect(),
                    };
                    let finding = campaign.finding(service, now, false);
                    self.campaign = Some(campaign);
                    Some(finding)
                }
            }
        } else if self
            .campaign
            .as_ref()
            .is_some_and(|c| now.duration_since(c.last_seen) > QUIET_ENDS)
        {
            self.campaign.take().map(|c| c.finding(service, now, true))
        } else {
            None
        }
    }
}

/// A campaign under way: what it was seen doing so far.
#[derive(Debug)]
struct Campaign {
    first_at: Timestamp,
    /// The last time it scored above the threshold.
    last_seen: Timestamp,
    /// Each source that failed on the list, with the most names of it it tried within a
    /// window.
    sources: BTreeMap<String, u32>,
    names: BTreeSet<String>,
}

/// Sources and names a campaign lists at most.
const CAMPAIGN_SOURCES: usize = 10_000;
const CAMPAIGN_NAMES: usize = 100;

impl Campaign {
    /// Reported when it is first seen, and again with all it did once it is over. Its
    /// attackers are the sources that came back for another name of the list, once there
    /// are some: one guess at one of its names is what the background does too.
    fn finding(&self, service: &str, now: Timestamp, over: bool) -> Finding {
        let names = self.names.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
        let came_back = self.sources.values().any(|n| *n >= 2);
        let sources: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, n)| !came_back || **n >= 2)
            .map(|(s, _)| s.clone())
            .collect();
        let minutes = (self.last_seen.duration_since(self.first_at).as_secs().max(1) + 59) / 60;
        let summary = if over {
            format!(
                "Over after {minutes} min: {} sources tried the accounts {names} on {service}, a few times each",
                sources.len()
            )
        } else {
            format!(
                "{} sources are trying the accounts {names} on {service}, a few times each",
                sources.len()
            )
        };
        Finding {
            detector: DetectorId::DistributedSpray,
            key: service.to_owned(),
            at: now,
            summary: Some(summary),
            evidence: Evidence {
                count: sources.len() as u64,
                first_at: self.first_at,
                last_at: self.last_seen,
                sources,
                accounts: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use tocsin_core::event::AuthReason;

    use super::*;
    use crate::detect::login;

    fn failure(second: i64, ip: &str, user: &str) -> AuthEvent {
        login(second, ip, user, AuthOutcome::Failure, AuthReason::InvalidUser)
    }

    /// `hours` of the internet's guesses: every minute one of 200 addresses tries one of 40
    /// names.
    fn background(hours: i64) -> Vec<AuthEvent> {
        (0..hours * 60)
            .map(|minute| {
                failure(
                    minute * 60,
                    &format!("192.0.2.{}", minute % 200 + 1),
                    &format!("name{}", minute * 7 % 40),
                )
            })
            .collect()
    }

    /// 30 addresses each trying two of five names within 20 minutes, from `start`.
    fn campaign(start: i64) -> Vec<AuthEvent> {
        let names = ["oracle", "pi", "ftpuser", "hadoop", "ubnt"];
        (0..60)
            .map(|i| {
                failure(
                    start + i * 20,
                    &format!("203.0.113.{}", i % 30 + 1),
                    names[i as usize % 5],
                )
            })
            .collect()
    }

    fn run(events: impl IntoIterator<Item = AuthEvent>) -> Vec<Finding> {
        let mut detector = SprayCampaign::default();
        let mut out = Vec::new();
        let mut events: Vec<AuthEvent> = events.into_iter().collect();
        events.sort_by_key(|e| e.at);
        for e in &events {
            detector.event(e, &mut out);
        }
        out
    }

    #[test]
    fn many_sources_each_trying_a_few_names_of_one_list_are_a_campaign() {
        assert_eq!(run(background(4)), [], "the background alone is no campaign");
        let found = run(background(4).into_iter().chain(campaign(2 * 3600)));
        assert_eq!(found.len(), 2, "reported when seen, and when over: {found:?}");
        assert!(
            found
                .iter()
                .all(|f| (f.detector.as_str(), f.key.as_str()) == ("distributed_spray", "sshd"))
        );
        let (seen, over) = (&found[0], &found[1]);
        assert!(seen.evidence.sources.len() >= 10, "{seen:?}");
        assert!(seen.at < over.at && over.at <= seen.at + SignedDuration::from_hours(1));
        // Once over, it lists every attacker and every name it tried.
        let attackers: Vec<String> = (1..=30).map(|n| format!("203.0.113.{n}")).collect();
        let listed = &over.evidence.sources;
        assert!(attackers.iter().all(|a| listed.contains(a)), "{listed:?}");
        let summary = over.summary.as_deref().unwrap();
        for name in ["oracle", "pi", "ftpuser", "hadoop", "ubnt"] {
            assert!(summary.contains(name), "{summary}");
        }
        assert!(summary.starts_with("Over after "), "{summary}");
    }

    #[test]
    fn one_source_trying_many_names_or_users_who_log_in_are_no_campaign() {
        // One address trying 60 names counts on three of them: password_spray's case.
        let spray = (0..60).map(|i| failure(2 * 3600 + i, "203.0.113.9", &format!("user{i}")));
        assert_eq!(run(background(4).into_iter().chain(spray)), []);
        // The same campaign from addresses whose users logged in earlier that day.
        let logins = (1..=30).map(|n| {
            let ip = format!("203.0.113.{n}");
            login(3600 + n, &ip, "alice", AuthOutcome::Success, AuthReason::Ok)
        });
        let found = run(background(4).into_iter().chain(logins).chain(campaign(2 * 3600)));
        assert_eq!(found, []);
        // Nothing is reported before an hour is learned.
        assert_eq!(run(background(1).into_iter().chain(campaign(600))), []);
    }
}
