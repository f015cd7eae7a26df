//! The recovery watch: after an incident is resolved, its keys (the addresses, accounts,
//! agents and fingerprints its signals were about) are watched for a while with more
//! sensitivity than the detectors give anyone else, and without their quiet period.
//! A few failed logins, denials or errors about a watched key are a recurrence.

use std::collections::HashMap;
use tocsin_core::detector::DetectorId;

use jiff::{SignedDuration, Timestamp};
use tocsin_core::event::{AuthOutcome, Decision, Event, VaultOutcome};

use super::{Evidence, Finding};

/// Keys watched at most; a larger watch keeps the keys that end last.
const WATCHED_MAX: usize = 10_000;

/// One key under watch, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    pub key: String,
    pub until: Timestamp,
}

#[derive(Debug)]
struct State {
    until: Timestamp,
    /// Times of the events about it within the window.
    hits: Vec<Timestamp>,
    reported_until: Option<Timestamp>,
}

/// Counts events about watched keys: `threshold` of them within `window` is a recurrence,
/// reported again only after another window.
#[derive(Debug)]
pub struct Recurrence {
    keys: HashMap<String, State>,
    threshold: u32,
    window: SignedDuration,
}

impl Recurrence {
    /// `threshold` events within `window` (the brute-force rule's, made `sensitivity`
    /// times more sensitive by the caller).
    pub fn new(threshold: u32, window: SignedDuration) -> Self {
        Recurrence {
            keys: HashMap::new(),
            threshold: threshold.max(1),
            window,
        }
    }

    /// The keys to watch from now on; what was counted of keys still watched is kept.
    pub fn watch(&mut self, mut keys: Vec<Watched>) {
        keys.sort_by_key(|w| std::cmp::Reverse(w.until));
        keys.truncate(WATCHED_MAX);
        let mut next = HashMap::with_capacity(keys.len());
        for w in keys {
            let key = w.key.to_lowercase();
            let state = self.keys.remove(&key).unwrap_or(State {
                until: w.until,
                hits: Vec::new(),
                reported_until: None,
            });
            let until = state.until.max(w.until);
            next.insert(key, State { until, ..state });
        }
        self.keys = next;
    }

    pub fn tracked(&self) -> usize {
        self.keys.len()
    }

    pub fn event(&mut self, event: &Event, out: &mut Vec<Finding>) {
        if self.keys.is_empty() {
            return;
        }
        let (what, keys): (&str, Vec<String>) = match event {
            Event::Auth(a) if a.outcome == AuthOutcome::Failure => {
                ("failed logins", vec![a.source.to_string(), a.user.clone()])
            }
            Event::RateLimit(r) if r.decision == Decision::Deny => (
                "rate-limit denials",
                r.source
                    .iter()
                    .map(ToString::to_string)
                    .chain([r.key.clone()])
                    .collect(),
            ),
            Event::VaultAccess(v) if v.outcome == VaultOutcome::Denied => (
                "vault denials",
                v.source
                    .iter()
                    .map(ToString::to_string)
                    .chain([v.principal.clone()])
                    .collect(),
            ),
            Event::Error(e) => (
                "errors",
                vec![format!("{}:{}", e.service, e.fingerprint), e.service.clone()],
            ),
            _ => return,
        };
        let at = event.at();
        for key in keys {
            self.hit(&key, what, at, out);
        }
    }

    fn hit(&mut self, key: &str, what: &str, at: Timestamp, out: &mut Vec<Finding>) {
        let Some(state) = self.keys.get_mut(&key.to_lowercase()) else {
            return;
        };
        if at > state.until {
            return;
        }
        let window = self.window;
        state.hits.retain(|t| at.duration_since(*t) <= window);
        state.hits.push(at);
        let quiet = state.reported_until.is_none_or(|until| at >= until);
        if state.hits.len() >= self.threshold as usize && quiet {
            state.reported_until = at.checked_add(window).ok();
            let first_at = state.hits[0];
            let minutes = (at.duration_since(first_at).as_secs().max(1) + 59) / 60;
            out.push(Finding {
                detector: DetectorId::Recurrence,
                key: key.to_owned(),
                at,
                summary: Some(format!(
                    "{} {what} about {key} within {minutes} min, during the recovery watch",
                    state.hits.len()
                )),
                evidence: Evidence {
                    count: state.hits.len() as u64,
                    first_at,
                    last_at: at,
                    sources: Vec::new(),
                    accounts: Vec::new(),
                },
            });
            state.hits.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use tocsin_core::event::AuthReason;

    use super::*;
    use crate::detect::login;

    #[test]
    fn a_watched_address_failing_again_is_a_recurrence_sooner_than_a_brute_force() {
        let mut watch = Recurrence::new(3, SignedDuration::from_mins(10));
        let fail = |s: i64, ip: &str| Event::Auth(login(s, ip, "root", AuthOutcome::Failure, AuthReason::BadPassword));
        let until = fail(0, "x").at() + SignedDuration::from_hours(72);
        watch.watch(vec![Watched {
            key: "203.0.113.5".into(),
            until,
        }]);
        let mut out = Vec::new();
        for s in 0..2 {
            watch.event(&fail(s, "203.0.113.5"), &mut out);
            watch.event(&fail(s, "198.51.100.1"), &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        watch.event(&fail(2, "203.0.113.5"), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].key, "203.0.113.5");
        assert_eq!(
            out[0].summary.as_deref(),
            Some("3 failed logins about 203.0.113.5 within 1 min, during the recovery watch")
        );
        // Quiet for a window, then again.
        for s in 3..6 {
            watch.event(&fail(s, "203.0.113.5"), &mut out);
        }
        assert_eq!(out.len(), 1);
        for s in 700..703 {
            watch.event(&fail(s, "203.0.113.5"), &mut out);
        }
        assert_eq!(out.len(), 2);
        // After the watch ends, nothing.
        let mut late = Recurrence::new(1, SignedDuration::from_mins(10));
        late.watch(vec![Watched {
            key: "203.0.113.5".into(),
            until: fail(0, "x").at(),
        }]);
        late.event(&fail(5, "203.0.113.5"), &mut out);
        assert_eq!(out.len(), 2);
    }
}
