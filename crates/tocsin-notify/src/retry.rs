//! When to try again: exponential backoff with jitter, a server's `Retry-After` honoured,
//! and a limit after which a notification is dead.

use std::time::Duration;

use jiff::Timestamp;

/// Attempts before a notification is put aside as dead.
pub const MAX_ATTEMPTS: u32 = 10;
const FIRST: Duration = Duration::from_secs(10);
const LONGEST: Duration = Duration::from_secs(3600);

/// When to try again after `attempts` attempts (1 or more) failed: 10 s, doubling each
/// time up to an hour, spread over the upper half of that by `jitter` (0 to 1), so that
/// notifications failing together do not come back together; later when the receiver
/// asked for more with `Retry-After`. `None`: give up.
pub fn next_try(attempts: u32, now: Timestamp, asked: Option<Duration>, jitter: f64) -> Option<Timestamp> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let backoff = FIRST
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(LONGEST);
    let spread = backoff.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
    let wait = asked.map_or(spread, |asked| asked.max(spread).min(Duration::from_secs(86_400)));
    now.checked_add(wait).ok()
}

/// A jitter from 0 to 1 that is the same for the same notification and attempt, and
/// differs between notifications.
pub fn jitter(id: i64, attempts: u32) -> f64 {
    let mut x = (id as u64) ^ (u64::from(attempts) << 40) ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value).ok()?;
    Some(Duration::try_from(at.duration_since(now)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_an_hour_spread_by_jitter_and_the_receiver_may_ask_for_more() {
        let now = Timestamp::from_second(1_767_571_200).unwrap();
        let wait =
            |attempts, asked, jitter| next_try(attempts, now, asked, jitter).map(|t| t.duration_since(now).as_secs());
        assert_eq!(wait(1, None, 1.0), Some(10));
        assert_eq!(wait(1, None, 0.0), Some(5));
        assert_eq!(wait(2, None, 1.0), Some(20));
        assert_eq!(wait(9, None, 1.0), Some(2560));
        assert_eq!(wait(9, None, 0.0), Some(1280));
        assert_eq!(
            wait(3, Some(Duration::from_secs(120)), 1.0),
            Some(120),
            "Retry-After is later"
        );
        assert_eq!(
            wait(3, Some(Duration::from_secs(1)), 1.0),
            Some(40),
            "never sooner than the backoff"
        );
        assert_eq!(wait(MAX_ATTEMPTS, None, 1.0), None, "dead");
        let spread: Vec<f64> = (0..100).map(|id| jitter(id, 1)).collect();
        assert!(spread.iter().all(|j| (0.0..1.0).contains(j)));
        assert!(
            spread.iter().any(|j| *j < 0.2) && spread.iter().any(|j| *j > 0.8),
            "{spread:?}"
        );
        assert_eq!(jitter(7, 3), jitter(7, 3));
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = Timestamp::from_second(1_767_571_200).unwrap(); // Mon, 05 Jan 2026 00:00:00 GMT
        assert_eq!(retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after("Mon, 05 Jan 2026 00:02:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after("Sun, 04 Jan 2026 00:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }
}
