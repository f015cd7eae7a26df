//! Stored signals, the incidents they led to, and the cursor of the detectors that found
//! them.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::incident::IncidentNumber;
use tocsin_core::signal::{Disposition, Ruling, Signal};

use crate::StoreError;

/// A signal with what the plan's rules made of it, ready to be recorded.
#[derive(Clone, Debug)]
pub struct NewSignal {
    pub signal: Signal,
    /// What the plan makes of it; signals of one group join the same open incident.
    pub ruling: Ruling,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalRecord {
    pub id: i64,
    pub signal: Signal,
    pub severity: String,
    pub disposition: Disposition,
    pub group_key: String,
    pub suppressed: Option<String>,
    pub incident: Option<IncidentNumber>,
    pub recorded_at: Timestamp,
    /// When the alert behind it resolved (alert signals only).
    pub resolved_at: Option<Timestamp>,
}

/// Which signals to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct SignalFilter {
    pub detector: Option<String>,
    pub key: Option<String>,
    /// Only the signals that opened or joined this incident.
    pub incident: Option<IncidentNumber>,
    /// Only these signals, when not empty.
    pub ids: Vec<i64>,
    /// Only signals with a smaller id (cursor pagination).
    pub before: Option<i64>,
    /// Only signals with a larger id, listed oldest first (to follow new ones).
    pub after: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait SignalStore: Send + Sync {
    /// How far the follower `name` has read the event log.
    async fn event_cursor(&self, name: &str) -> Result<u64, StoreError>;

    /// Records the signals found in the log up to `up_to` by follower `name` and moves its
    /// cursor there, in one transaction. A signal recorded before (same fingerprint, same
    /// time) is skipped; the new ones come back.
    async fn record_signals(
        &self,
        name: &str,
        up_to: u64,
        signals: &[NewSignal],
        now: Timestamp,
    ) -> Result<Vec<SignalRecord>, StoreError>;

    /// Notes that signals' rules were carried out, each with the incident it opened or
    /// joined, in one transaction.
    async fn settle_signals(&self, settled: &[(i64, Option<IncidentNumber>)], at: Timestamp) -> Result<(), StoreError>;

    /// Signals whose rule was not carried out yet, oldest first.
    async fn unsettled_signals(&self) -> Result<Vec<SignalRecord>, StoreError>;

    /// The incident that the group's signals last led to, if any.
    async fn group_incident(&self, group_key: &str) -> Result<Option<IncidentNumber>, StoreError>;

    async fn signals(&self, filter: &SignalFilter) -> Result<Vec<SignalRecord>, StoreError>;

    /// The first event received at or after `since`, or one past the end of the log.
    async fn first_seq_received_since(&self, since: Timestamp) -> Result<u64, StoreError>;
}
