//! Rate limits: the plan's policies and the generic cell rate algorithm (GCRA), which keeps
//! one instant per key, the theoretical arrival time of the next request, and lets
//! `limit` requests through per `per` with bursts up to `limit`.

/// A policy: at most `limit` requests per key within `per_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatePolicy {
    pub name: String,
    pub limit: u32,
    pub per_ms: i64,
}

/// The policies tocsin knows without a plan naming them: logins per address and account,
/// password resets, and API key creation, as the reference plans throttle them.
pub fn default_policies() -> Vec<RatePolicy> {
    let policy = |name: &str, limit, minutes: i64| RatePolicy {
        name: name.to_owned(),
        limit,
        per_ms: minutes * 60_000,
    };
    vec![
        policy("login", 5, 15),
        policy("password_reset", 3, 60),
        policy("api_key", 10, 60),
    ]
}

/// What a check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// Requests that would still pass right now.
    pub remaining: u32,
    /// When denied, how long until one would pass.
    pub retry_after_ms: i64,
    /// How long until the key is back to its full allowance.
    pub reset_after_ms: i64,
}

impl RatePolicy {
    /// The time between two requests at the sustained rate.
    fn emission_ms(&self) -> i64 {
        (self.per_ms / i64::from(self.limit.max(1))).max(1)
    }

    /// Checks one request at `now_ms` against the key's state `tat` (none for a key not
    /// seen, or forgotten); the verdict and the state to keep.
    pub fn check(&self, tat: Option<i64>, now_ms: i64) -> (Verdict, i64) {
        let emission = self.emission_ms();
        let tat = tat.unwrap_or(now_ms).max(now_ms);
        let next = tat + emission;
        let allow_at = next - self.per_ms;
        if now_ms < allow_at {
            let verdict = Verdict {
                allowed: false,
                remaining: 0,
                retry_after_ms: allow_at - now_ms,
                reset_after_ms: tat - now_ms,
            };
            return (verdict, tat);
        }
        let remaining = ((now_ms + self.per_ms - next) / emission).clamp(0, i64::from(self.limit)) as u32;
        let verdict = Verdict {
            allowed: true,
            remaining,
            retry_after_ms: 0,
            reset_after_ms: next - now_ms,
        };
        (verdict, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_passes_then_one_request_per_emission_interval() {
        let login = &default_policies()[0];
        let (mut tat, mut passed) = (None, 0);
        for _ in 0..7 {
            let (verdict, next) = login.check(tat, 0);
            tat = Some(next);
            passed += u32::from(verdict.allowed);
        }
        assert_eq!(passed, 5, "five at once");
        let (denied, _) = login.check(tat, 1_000);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after_ms, 180_000 - 1_000, "one more every three minutes");
        let (later, next) = login.check(tat, 180_000);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
        let (after_quiet, _) = login.check(Some(next), 180_000 + 15 * 60_000);
        assert_eq!(after_quiet.remaining, 4, "a quiet window restores the allowance");
    }
}
