//! tocsin-core: the pure domain of tocsin. No I/O and no clock reading: time is passed in.
#![forbid(unsafe_code)]
// A panic in a running server is an outage: library code says what went wrong instead.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod action;
pub mod alert;
pub mod audit;
pub mod block;
pub mod calendar;
pub mod clock;
pub mod cron;
pub mod crowdsec;
pub mod daily_audit;
#[warn(missing_docs)]
pub mod detector;
pub mod diagnostic;
pub mod duration;
pub mod event;
pub mod headers;
pub mod id;
pub mod identity;
pub mod incident;
pub mod lockfiles;
pub mod notice;
pub mod osv;
pub mod plan;
pub mod probe;
pub mod ratelimit;
#[warn(missing_docs)]
pub mod senders;
#[warn(missing_docs)]
pub mod settle;
#[warn(missing_docs)]
pub mod signal;
pub mod template;

pub use jiff::Timestamp;

/// A time as people read it where no time zone is known: `2026-12-03 12:25 UTC`.
pub fn utc_minute(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// Cuts a time to whole milliseconds, the precision tocsin stores.
pub fn to_millis(at: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(at.as_millisecond()).expect("a valid timestamp stays valid")
}
