//! Scanners asking for what no visitor asks for: one address requesting several paths that
//! hold secrets or admin tools (`/.env`, `/.git/config`, `/wp-login.php`, …) within minutes
//! is a probe; such a secret path answered with a success means the file may be served to
//! anyone, which is an exposure whoever asked.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};
use tocsin_core::detector::DetectorId;
use tocsin_core::event::{Event, RequestEvent, Source};

use super::bounded::{Bounded, DEFAULT_CAP, Touched};
use super::engine::Detector;
use super::{Evidence, Finding, text_key};

/// Path segments that name secrets: a request answered with a success exposes them.
const SECRETS: [&str; 14] = [
    ".env",
    ".git",
    ".svn",
    ".hg",
    ".aws",
    ".ssh",
    ".htpasswd",
    ".npmrc",
    ".pgpass",
    "id_rsa",
    "id_ed25519",
    "wp-config.php",
    "backup.sql",
    "dump.sql",
];

/// Path segments of admin tools and their known weak spots.
const TOOLS: [&str; 12] = [
    "wp-login.php",
    "wp-admin",
    "xmlrpc.php",
    "phpmyadmin",
    "pma",
    "adminer.php",
    "server-status",
    "actuator",
    "cgi-bin",
    "phpunit",
    "boaform",
    "hnap1",
];

/// What a path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asks {
    Secret,
    Tool,
}

/// Whether `path` asks for a secret or an admin tool: a segment named like one, case aside,
/// a secret's also with a suffix (`.env.local`, `wp-config.php.bak`).
fn asks(path: &str) -> Option<Asks> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let mut found = None;
    // Bytes, not characters: every name is ASCII, and no copy is made per request.
    for segment in path.split('/').map(str::as_bytes) {
        let starts =
            |name: &str| segment.len() >= name.len() && segment[..name.len()].eq_ignore_ascii_case(name.as_bytes());
        let secret = |name: &&str| starts(name) && segment.get(name.len()).is_none_or(|b| *b == b'.');
        if SECRETS.iter().any(secret) {
            return Some(Asks::Secret);
        }
        if TOOLS.iter().any(|t| segment.eq_ignore_ascii_case(t.as_bytes())) {
            found = Some(Asks::Tool);
        }
    }
    found
}

/// Defaults: five distinct such paths from one address within ten minutes, told once an
/// hour per address, and an exposure once a day per path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    pub paths: usize,
    pub window: SignedDuration,
    pub cooldown: SignedDuration,
    pub exposure_cooldown: SignedDuration,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            paths: 5,
            window: SignedDuration::from_mins(10),
            cooldown: SignedDuration::from_hours(1),
            exposure_cooldown: SignedDuration::from_hours(24),
        }
    }
}

/// Paths named in a finding's summary at most, and the characters of each.
const NAMED: usize = 3;
const NAME_MAX: usize = 120;

#[derive(Debug, Default)]
struct SourceState {
    /// The distinct paths asked within the window: their key, and when last asked.
    paths: VecDeque<(u64, Timestamp)>,
    first_at: Option<Timestamp>,
    named: Vec<String>,
    reported_until: Option<Timestamp>,
}

impl Touched for SourceState {
    fn touched(&self) -> Option<Timestamp> {
        self.paths.back().map(|(_, at)| *at)
    }
}

#[derive(Debug, Default)]
struct Told {
    until: Option<Timestamp>,
}

impl Touched for Told {
    fn touched(&self) -> Option<Timestamp> {
        self.until
    }
}

#[derive(Debug)]
pub struct PathProbes {
    config: ProbeConfig,
    sources: Bounded<SourceState>,
    exposed: Bounded<Told, String>,
}

impl Default for PathProbes {
    fn default() -> Self {
        PathProbes::new(ProbeConfig::default())
    }
}

impl PathProbes {
    pub fn new(config: ProbeConfig) -> Self {
        PathProbes {
            config,
            sources: Bounded::new(DEFAULT_CAP),
            exposed: Bounded::new(10_000),
        }
    }

    fn request(&mut self, request: &RequestEvent, out: &mut Vec<Finding>) {
        let Some(asks) = asks(&request.path) else { return };
        let path: String = request
            .path
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .chars()
            .take(NAME_MAX)
            .collect();
        let at = request.at;
        if asks == Asks::Secret && (200..300).contains(&request.status) {
            let key = format!("{}{path}", request.host.as_deref().unwrap_or_default());
            let told = self.exposed.entry(&key);
            if told.until.is_none_or(|until| at >= until) {
                told.until = at.checked_add(self.config.exposure_cooldown).ok();
                out.push(Finding {
                    detector: DetectorId::ExposedFile,
                    summary: Some(format!(
                        "{key} was answered with {} to {}: a file that holds secrets may be served to anyone",
                        request.status,
                        request
                            .source
                            .as_ref()
                            .map_or_else(|| "a request".to_owned(), Source::to_string)
                    )),
                    key,
                    at,
                    evidence: evidence(1, at, at, request.source.iter()),
                });
            }
        }
        let Some(source) = &request.source else { return };
        let ProbeConfig {
            paths,
            window,
            cooldown,
            ..
        } = self.config;
        let state = self.sources.entry(source);
        while state.paths.front().is_some_and(|(_, t)| at.duration_since(*t) > window) {
            state.paths.pop_front();
        }
        if state.paths.is_empty() {
            state.first_at = Some(at);
            state.named.clear();
        }
        let path_key = text_key(&path.to_ascii_lowercase());
        match state.paths.iter().position(|(k, _)| *k == path_key) {
            Some(i) => {
                state.paths.remove(i);
            }
            None if state.named.len() < NAMED => state.named.push(path),
            None => {}
        }
        state.paths.push_back((path_key, at));
        if state.paths.len() > paths.max(1) * 4 {
            state.paths.pop_front();
        }
        if state.paths.len() >= paths && state.reported_until.is_none_or(|until| at >= until) {
            state.reported_until = at.checked_add(cooldown).ok();
            let first_at = state.first_at.unwrap_or(at);
            let minutes = (at.duration_since(first_at).as_secs().max(1) + 59) / 60;
            out.push(Finding {
                detector: DetectorId::PathProbe,
                key: source.to_string(),
                at,
                summary: Some(format!(
                    "{source} asked for {} paths that hold secrets or admin tools within {minutes} min ({}, …)",
                    state.paths.len(),
                    state.named.join(", ")
                )),
                evidence: evidence(state.paths.len() as u64, first_at, at, std::iter::once(source)),
            });
        }
    }
}

fn evidence<'a>(
    count: u64,
    first_at: Timestamp,
    last_at: Timestamp,
    sources: impl Iterator<Item = &'a Source>,
) -> Evidence {
    Evidence {
        count,
        first_at,
        last_at,
        sources: sources.map(Source::to_string).collect(),
        accounts: Vec::new(),
    }
}

impl Detector for PathProbes {
    fn event(&mut self, event: &Event, out: &mut Vec<Finding>) {
        if let Event::Request(request) = event {
            self.request(request, out);
        }
    }

    fn tracked(&self) -> usize {
        self.sources.len() + self.exposed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(second: i64, ip: &str, path: &str, status: u16) -> Event {
        Event::Request(RequestEvent {
            at: Timestamp::from_second(1_767_571_200 + second).unwrap(),
            method: "GET".into(),
            path: path.into(),
            status,
            latency_ms: None,
            source: Some(Source::parse(ip)),
            tenant: None,
            service: None,
            user_agent: None,
            host: Some("shop.example".into()),
        })
    }

    fn run(events: &[Event]) -> Vec<Finding> {
        let mut probes = PathProbes::default();
        let mut out = Vec::new();
        for e in events {
            probes.event(e, &mut out);
        }
        out
    }

    #[test]
    fn paths_are_told_apart_by_their_segments() {
        assert_eq!(asks("/.env"), Some(Asks::Secret));
        assert_eq!(asks("/app/.env.production?x=1"), Some(Asks::Secret));
        assert_eq!(asks("/.git/config"), Some(Asks::Secret));
        assert_eq!(asks("/wp-config.php.bak"), Some(Asks::Secret));
        assert_eq!(asks("/WP-LOGIN.PHP"), Some(Asks::Tool));
        assert_eq!(
            asks("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
            Some(Asks::Tool)
        );
        for plain in [
            "/",
            "/environment",
            "/docs/.envoy",
            "/api/git/commits",
            "/pmas",
            "/?next=/.env",
        ] {
            assert_eq!(asks(plain), None, "{plain}");
        }
    }

    #[test]
    fn five_such_paths_from_one_address_are_a_probe_told_once() {
        let paths = [
            "/.env",
            "/.git/config",
            "/wp-login.php",
            "/phpmyadmin/",
            "/.aws/credentials",
            "/xmlrpc.php",
        ];
        let events: Vec<Event> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| request(i as i64 * 20, "203.0.113.9", p, 404))
            .collect();
        let found = run(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].detector, found[0].key.as_str()),
            (DetectorId::PathProbe, "203.0.113.9")
        );
        assert_eq!(found[0].evidence.count, 5);
        let summary = found[0].summary.as_deref().unwrap();
        assert!(summary.starts_with("203.0.113.9 asked for 5 paths"), "{summary}");
        assert!(summary.contains("/.env, /.git/config, /wp-login.php"), "{summary}");
        // The same path five times, or five from five addresses, is no probe.
        let same: Vec<Event> = (0..5).map(|i| request(i, "203.0.113.9", "/.env", 404)).collect();
        assert!(run(&same).is_empty());
        let spread: Vec<Event> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| request(i as i64, &format!("198.51.100.{i}"), p, 404))
            .collect();
        assert!(run(&spread).is_empty());
        // Slower than the window: no probe either.
        let slow: Vec<Event> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| request(i as i64 * 700, "203.0.113.9", p, 404))
            .collect();
        assert!(run(&slow).is_empty());
    }

    #[test]
    fn a_secret_path_answered_with_a_success_is_an_exposure_whoever_asked() {
        let found = run(&[
            request(0, "198.51.100.1", "/.env", 200),
            request(1, "198.51.100.2", "/.env", 200),
            request(2, "198.51.100.2", "/wp-login.php", 200),
            request(3, "198.51.100.2", "/.git/HEAD", 403),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].detector, found[0].key.as_str()),
            (DetectorId::ExposedFile, "shop.example/.env")
        );
        assert!(found[0].summary.as_deref().unwrap().contains("answered with 200"));
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_addresses() {
        let mut probes = PathProbes::default();
        let mut out = Vec::new();
        for i in 0..(DEFAULT_CAP as i64 + 5_000) {
            let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            probes.event(&request(i / 1000, &ip, "/.env", 404), &mut out);
        }
        assert!(probes.tracked() <= DEFAULT_CAP + 1, "{}", probes.tracked());
    }
}
