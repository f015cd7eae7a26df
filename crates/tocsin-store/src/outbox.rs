//! The outbox: notifications stored before they are sent, claimed by delivery workers with
//! a lease, retried later when a channel fails, and put aside as dead after too many
//! attempts, where an operator can see them and send them again.

use std::fmt;

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::incident::IncidentNumber;

use crate::StoreError;

/// A notification to store, not sent yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    /// What it is about, unique: the same key enqueued twice is stored once.
    pub key: String,
    /// The plan's name of the channel.
    pub channel: String,
    /// What happened, like `declared` or `clock_warning`.
    pub kind: String,
    pub incident: Option<IncidentNumber>,
    /// The message as JSON, for the channel to render.
    pub payload: String,
    /// Not sent before this time.
    pub not_before: Timestamp,
    /// The approval link the message carries, stored with it (and only if it is new).
    pub approval_link: Option<NewApprovalLink>,
}

/// A link that approves run `run` of an incident as `person`, once, until it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApprovalLink {
    /// The link's secret part, hashed with SHA-256, in hex: the secret is never stored.
    pub hash: String,
    pub incident: IncidentNumber,
    pub run: u32,
    /// The plan's id of the person it approves as.
    pub person: String,
    pub expires_at: Timestamp,
}

/// A stored approval link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalLink {
    pub incident: IncidentNumber,
    pub run: u32,
    pub person: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// When it was used; it works once.
    pub used_at: Option<Timestamp>,
}

/// Where a notification is in its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for its (next) attempt.
    Pending,
    Sent,
    /// Given up after too many attempts, until an operator sends it again.
    Dead,
}

impl Delivery {
    pub const ALL: [Delivery; 3] = [Delivery::Pending, Delivery::Sent, Delivery::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Delivery::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub key: String,
    pub channel: String,
    pub kind: String,
    pub incident: Option<IncidentNumber>,
    pub payload: String,
    pub state: Delivery,
    /// Attempts started so far, the one under way included.
    pub attempts: u32,
    pub created_at: Timestamp,
    /// When it is due (again).
    pub next_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// How a group of notifications stands (those of one notice, by their keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub pending: u64,
    /// Of those pending, how many failed at least once.
    pub retrying: u64,
    pub sent: u64,
    pub dead: u64,
    /// Some that failed (dead, or waiting to be tried again): key, state and last error.
    pub failures: Vec<(String, Delivery, String)>,
}

/// How a channel's deliveries go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelHealth {
    pub channel: String,
    /// Since when every attempt failed; `None` while deliveries work.
    pub failing_since: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_ok: Option<Timestamp>,
    /// When its failing was announced on its fallback.
    pub announced: Option<Timestamp>,
}

/// Which notifications to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct OutboxFilter {
    pub state: Option<Delivery>,
    pub channel: Option<String>,
    /// Only notifications with a smaller id (cursor pagination).
    pub before: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Stores notifications; those whose key is stored already are skipped. How many were
    /// new.
    async fn enqueue(&self, notifications: &[NewNotification], now: Timestamp) -> Result<u64, StoreError>;

    /// Like [`OutboxStore::enqueue`], and moves the cursor of `follower` (a reader of the
    /// audit chain that turns entries into notifications) to `up_to` in the same
    /// transaction: what it read is enqueued exactly once, whenever it stops.
    async fn enqueue_following(
        &self,
        follower: &str,
        up_to: u64,
        notifications: &[NewNotification],
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Claims up to `limit` due notifications for `worker` until `lease_until`, counting an
    /// attempt for each, soonest due first. A claim whose lease ran out (its worker died)
    /// is claimed again.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Notification>, StoreError>;

    /// Notes that notifications were sent, in one transaction.
    async fn delivered(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError>;

    /// Notes a failed attempt: tried again at `retry_at`, or dead when `None`.
    async fn failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<(), StoreError>;

    /// Puts a dead notification back in line, due now, with its attempts counted afresh;
    /// whether it was dead.
    async fn resend(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;

    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<Notification>, StoreError>;

    /// How the notifications whose keys start with `prefix` stand, with up to `limit` of
    /// those that failed.
    async fn tally(&self, prefix: &str, limit: u32) -> Result<Tally, StoreError>;

    /// The approval link whose secret hashes to `hash`, used or not.
    async fn approval_link(&self, hash: &str) -> Result<Option<ApprovalLink>, StoreError>;

    /// Uses the approval link: stamps it at `now` unless it is used or expired already.
    /// Whether this call did.
    async fn use_approval_link(&self, hash: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Makes a used link usable again, when what it was used for could not be done.
    async fn unuse_approval_link(&self, hash: &str) -> Result<(), StoreError>;

    /// Notes how a round of deliveries went on each channel: `Ok` when at least one got
    /// through (the channel works), else the last error (it fails, since its first failure).
    async fn note_channels(&self, rounds: &[(String, Result<(), String>)], now: Timestamp) -> Result<(), StoreError>;

    /// Every channel that has had a delivery, by name.
    async fn channel_health(&self) -> Result<Vec<ChannelHealth>, StoreError>;

    /// Notes that the channel's failing was announced on its fallback (or, `None`, that its
    /// recovery was).
    async fn announced(&self, channel: &str, at: Option<Timestamp>) -> Result<(), StoreError>;

    /// The channel's reference to the first message delivered about the incident, which
    /// later ones reply to.
    async fn thread(&self, channel: &str, incident: IncidentNumber) -> Result<Option<String>, StoreError>;

    /// Keeps `reference` as the incident's thread on the channel, unless it has one.
    async fn start_thread(
        &self,
        channel: &str,
        incident: IncidentNumber,
        reference: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}
