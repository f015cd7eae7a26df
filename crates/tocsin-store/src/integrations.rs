//! Integrations (the tools that send in their own formats, each with a key and counts of
//! what it sent) and the alerts they raised, as tocsin knows them now.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, Via};
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::IncidentNumber;

use crate::StoreError;

/// A new integration, with the digest of its key.
#[derive(Clone, Debug)]
pub struct NewIntegration {
    pub name: String,
    pub kind: String,
    pub key_hash: String,
    /// The key's last characters, to tell keys apart.
    pub key_hint: String,
    pub settings: serde_json::Value,
    pub created_by: String,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IntegrationRecord {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub key_hash: String,
    pub key_hint: String,
    pub settings: serde_json::Value,
    pub created_by: String,
    pub created_at: Timestamp,
    pub removed_at: Option<Timestamp>,
    pub stats: IntegrationStats,
}

/// What an integration sent, as counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntegrationStats {
    /// Requests that named the integration by its key.
    pub received: u64,
    /// Items taken (alerts, events, heartbeats).
    pub accepted: u64,
    /// Requests refused as malformed, oversized or replayed.
    pub refused: u64,
    /// The last request, as received (cut to a size).
    pub last: Option<(Timestamp, String)>,
    /// The last refusal, with why.
    pub last_error: Option<(Timestamp, String)>,
}

/// Counts to add to an integration's, and its latest payload and error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsDelta {
    pub id: i64,
    pub stats: IntegrationStats,
}

/// An alert as tocsin knows it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlert {
    pub source: String,
    pub via: Via,
    /// As last told; `details` is not kept.
    pub alert: Alert,
    /// When tocsin was told its current episode began: the time of the episode's signal.
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// Deliveries that told of it.
    pub received: u64,
    /// The signal of its current episode, once recorded.
    pub signal: Option<i64>,
}

impl StoredAlert {
    /// The fingerprint of its episodes' signals: the detector (the way it came), the
    /// source and the alert's own fingerprint. With `opened_at`, it names the signal of
    /// one episode.
    pub fn signal_fingerprint(&self) -> String {
        format!("{}:{}", self.via.as_str(), self.signal_key())
    }

    /// The key of its signals.
    pub fn signal_key(&self) -> String {
        format!("{}/{}", self.source, self.alert.fingerprint)
    }
}

/// Which alerts to list, most recently updated first.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub source: Option<String>,
    /// Only alerts still firing or acknowledged.
    pub open: bool,
    pub limit: u32,
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Adds an integration, with its audit entry. The name must not be taken by an active one.
    async fn add_integration(&self, new: NewIntegration, entry: EntryDraft) -> Result<IntegrationRecord, StoreError>;

    /// Active integrations, by name.
    async fn integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError>;

    /// Removes an integration: its key stops working at once.
    async fn remove_integration(&self, id: i64, at: Timestamp, entry: EntryDraft) -> Result<(), StoreError>;

    /// Replaces an integration's settings (a webhook's secret, …), with its audit entry.
    async fn set_integration_settings(
        &self,
        id: i64,
        settings: &serde_json::Value,
        entry: EntryDraft,
    ) -> Result<(), StoreError>;

    /// Adds to the integrations' counts and replaces their latest payload and error.
    async fn add_integration_stats(&self, deltas: &[StatsDelta]) -> Result<(), StoreError>;

    /// Stores alerts as they are now, replacing what was stored of each, and moves the
    /// follower `cursor` to `up_to`, in one transaction. An alert without its signal's id
    /// takes that of the signal recorded for its episode, if there is one. The signal of
    /// an alert that resolved is marked resolved with it; the answer lists such alerts (by
    /// their place in `alerts`) with the incident their signal led to.
    async fn save_alerts(
        &self,
        alerts: &[StoredAlert],
        cursor: &str,
        up_to: u64,
    ) -> Result<Vec<(usize, IncidentNumber)>, StoreError>;

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>, StoreError>;

    /// How many alerts that led to the incident are still open.
    async fn open_alerts_of(&self, incident: IncidentNumber) -> Result<u64, StoreError>;

    /// Records a signed delivery of the integration, unless it was seen since `since`:
    /// whether it is new. What was seen before `since` is forgotten.
    async fn first_delivery(
        &self,
        integration: i64,
        signature: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Forgets a delivery that was not taken after all, so that it may be sent again.
    async fn forget_delivery(&self, integration: i64, signature: &str) -> Result<(), StoreError>;
}
