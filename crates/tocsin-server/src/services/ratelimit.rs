//! The rate-limit service: one instant per policy and key (GCRA), kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use tocsin_core::ratelimit::{RatePolicy, Verdict};

/// Keys kept before the ones back at their full allowance are dropped.
const SWEEP_AT: usize = 100_000;
/// Keys kept at most; past it, half are forgotten (and start afresh).
const CAP: usize = 1_000_000;

#[derive(Debug, Default)]
pub struct Limiter {
    state: Mutex<HashMap<(String, String), i64>>,
}

impl Limiter {
    /// Checks one request for `key` under `policy` at `now_ms`.
    pub fn check(&self, policy: &RatePolicy, key: &str, now_ms: i64) -> Verdict {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.len() >= SWEEP_AT {
            // A key whose instant has passed is back to its full allowance: as if unseen.
            state.retain(|_, tat| *tat > now_ms);
            if state.len() >= CAP {
                let mut n = 0;
                state.retain(|_, _| {
                    n += 1;
                    n % 2 == 0
                });
            }
        }
        let slot = (policy.name.clone(), key.to_owned());
        let (verdict, tat) = policy.check(state.get(&slot).copied(), now_ms);
        state.insert(slot, tat);
        verdict
    }
}
