//! Per-key state with a ceiling: past `cap` keys (sources, accounts), the least recently
//! active eighth is forgotten, so a flood of distinct addresses cannot grow memory
//! without end.

use std::collections::HashMap;
use std::hash::Hash;

use jiff::Timestamp;
use tocsin_core::event::Source;

/// State that knows when its source was last active.
pub(crate) trait Touched: Default {
    fn touched(&self) -> Option<Timestamp>;
}

#[derive(Debug)]
pub(crate) struct Bounded<V, K = Source> {
    map: HashMap<K, V>,
    cap: usize,
    /// The event time of the last sweep.
    swept_at: Option<Timestamp>,
}

/// Sources each detector keeps at most, by default.
pub const DEFAULT_CAP: usize = 200_000;

impl<V: Touched, K: Hash + Eq + Clone> Bounded<V, K> {
    pub fn new(cap: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            cap: cap.max(8),
            swept_at: None,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.map.iter_mut()
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// The state of `key`, new if it had none.
    pub fn entry(&mut self, key: &K) -> &mut V {
        if self.map.len() >= self.cap && !self.map.contains_key(key) {
            self.forget_oldest();
        }
        self.map.entry(key.clone()).or_default()
    }

    /// Once per `every` of event time, keeps only the state `keep` says is still live.
    pub fn sweep(&mut self, now: Timestamp, every: jiff::SignedDuration, mut keep: impl FnMut(&V) -> bool) {
        if self.swept_at.is_some_and(|at| now.duration_since(at) < every) {
            return;
        }
        self.swept_at = Some(now);
        self.retain(|_, v| keep(v));
    }

    /// Keeps what `keep` says; a table left mostly empty gives its memory back.
    pub fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(keep);
        if self.map.capacity() > 4 * self.map.len().max(1024) {
            self.map.shrink_to_fit();
        }
    }

    fn forget_oldest(&mut self) {
        let mut times: Vec<Timestamp> = self.map.values().filter_map(Touched::touched).collect();
        let eighth = (times.len() / 8).max(1);
        if times.len() <= eighth {
            self.map.clear();
            return;
        }
        let (_, cutoff, _) = times.select_nth_unstable(eighth);
        let cutoff = *cutoff;
        self.map.retain(|_, v| v.touched().is_some_and(|t| t > cutoff));
        self.map.shrink_to(self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen(Option<Timestamp>);

    impl Touched for Seen {
        fn touched(&self) -> Option<Timestamp> {
            self.0
        }
    }

    #[test]
    fn past_the_cap_the_least_recently_active_are_forgotten() {
        let mut map: Bounded<Seen, Source> = Bounded::new(80);
        for n in 0..200u32 {
            let at = Timestamp::from_second(i64::from(n)).unwrap();
            map.entry(&Source::Ip(std::net::Ipv4Addr::from(n).into())).0 = Some(at);
            assert!(map.len() <= 80);
        }
        let newest = Source::Ip(std::net::Ipv4Addr::from(199u32).into());
        assert!(map.get_mut(&newest).is_some());
        let oldest = Source::Ip(std::net::Ipv4Addr::from(0u32).into());
        assert!(map.get_mut(&oldest).is_none());
    }
}
