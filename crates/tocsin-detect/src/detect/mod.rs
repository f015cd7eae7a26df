//! Detectors: events in, findings out, deterministic for a given order of events.
//! Time is the events' own, never the clock's, so a replayed log finds what live traffic did.

pub mod account;
pub mod app;
pub mod auth;
mod bounded;
mod engine;
pub mod ratelimit;

pub use bounded::DEFAULT_CAP;
pub use engine::Engine;

use jiff::Timestamp;

/// Something a detector found, before the plan's rules decide what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Which detector, like `brute_force`.
    pub detector: &'static str,
    /// What it is about, like the source address.
    pub key: String,
    /// When the finding was made: the time of the event that completed it.
    pub at: Timestamp,
    pub evidence: Evidence,
}

/// What a finding rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Events counted.
    pub count: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// For a finding about many sources (a campaign), the sources; otherwise empty.
    pub sources: Vec<String>,
}
