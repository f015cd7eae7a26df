//! The event log: events kept in the order they were committed, each under a sequence
//! number that never repeats, and the login trail read out of it.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::event::{AuthOutcome, Event};

use crate::StoreError;

/// An event made ready for the log: its JSON written and its searched fields taken out,
/// by whoever received it, so the single writer only writes.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub(crate) received_ms: i64,
    pub(crate) at_ms: i64,
    pub(crate) kind: &'static str,
    pub(crate) origin: std::sync::Arc<str>,
    pub(crate) body: String,
    /// The event itself, for the detectors once it is committed.
    pub event: Event,
}

impl NewEvent {
    /// `origin` says who delivered it, like `api:deploy-bot` or `file:/var/log/auth.log`.
    pub fn new(event: Event, origin: &str, received_at: Timestamp) -> Self {
        Self::shared(event, origin.into(), received_at)
    }

    /// Like [`NewEvent::new`], sharing one `origin` among many events.
    pub fn shared(event: Event, origin: std::sync::Arc<str>, received_at: Timestamp) -> Self {
        let body = event.to_json();
        Self::keeping(event, body, origin, received_at)
    }

    /// An event whose stored form its receiver wrote itself (the body as it came, framed),
    /// which must read back as `event` (its receiver's tests show that it does).
    pub fn with_body(event: Event, body: String, origin: &str, received_at: Timestamp) -> Self {
        Self::keeping(event, body, origin.into(), received_at)
    }

    /// The event as it is stored.
    pub fn body(&self) -> &str {
        &self.body
    }

    fn keeping(event: Event, body: String, origin: std::sync::Arc<str>, received_at: Timestamp) -> Self {
        NewEvent {
            received_ms: received_at.as_millisecond(),
            at_ms: event.at().as_millisecond(),
            kind: event.kind().as_str(),
            origin,
            body,
            event,
        }
    }
}

/// An event as the log keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub received_at: Timestamp,
    pub origin: String,
    pub event: Event,
}

/// Which auth events to list from the login trail, newest first.
#[derive(Clone, Debug, Default)]
pub struct TrailFilter {
    pub ip: Option<String>,
    pub user: Option<String>,
    pub outcome: Option<AuthOutcome>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only events after this one in the listing order (cursor pagination).
    pub after: Option<TrailCursor>,
    pub limit: u32,
}

/// A place in the login trail's order: newest first, by event time, then by sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailCursor {
    pub at: Timestamp,
    pub seq: u64,
}

impl TrailCursor {
    pub fn of(event: &StoredEvent) -> Self {
        TrailCursor {
            at: event.event.at(),
            seq: event.seq,
        }
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.at.as_millisecond(), self.seq)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('.')?;
        Some(TrailCursor {
            at: Timestamp::from_millisecond(ms.parse().ok()?).ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// Which events to read back from the log, newest first.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub kind: Option<String>,
    pub origin: Option<String>,
    /// Event times, from and to (both inclusive).
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only events before this sequence number: where the previous page ended.
    pub before: Option<u64>,
}

/// How far a followed log file has been read (`tocsin ingest --follow`): the file, by its
/// inode and the digest of its first bytes, and the offset after the last line whose events
/// are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilePosition {
    /// What is read, like `file:/var/log/auth.log`.
    pub source: String,
    pub inode: u64,
    pub offset: u64,
    /// SHA-256, in hex, of the file's first `head_len` bytes.
    pub head: String,
    pub head_len: u64,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends the events in one transaction and returns their sequence numbers, in order.
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<u64>, StoreError>;

    /// Appends the events read from a file and notes how far it was read, in one
    /// transaction: a restart goes on from there, reading nothing twice.
    async fn append_events_from(&self, events: &[NewEvent], position: &FilePosition) -> Result<Vec<u64>, StoreError>;

    /// How far `source` was read, if it was followed before.
    async fn file_position(&self, source: &str) -> Result<Option<FilePosition>, StoreError>;

    /// Up to `limit` events after sequence number `after`, in order.
    async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// The events with these sequence numbers that the log still holds, in order.
    async fn events_by_seq(&self, seqs: &[u64]) -> Result<Vec<StoredEvent>, StoreError>;

    /// Up to `limit` events before `query.before` (all when `None`), newest first, of the
    /// query's kind and origin and within its times.
    async fn events_before(&self, query: &EventQuery, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;

    /// The sequence number of the last event appended, 0 when there was none.
    async fn last_event_seq(&self) -> Result<u64, StoreError>;

    /// Brings the login trail up to date with the log, by at most `limit` events; returns
    /// how many events it read, so 0 means the trail is complete.
    async fn index_login_trail(&self, limit: u32) -> Result<u64, StoreError>;

    /// Auth events of the login trail, newest first by event time.
    async fn login_trail(&self, filter: &TrailFilter) -> Result<Vec<StoredEvent>, StoreError>;

    /// Deletes up to `limit` events received before `cutoff`, and up to `limit` entries of
    /// the login trail that happened before it, oldest first; returns how many went.
    /// Called in rounds until it returns 0, so that no round holds the log for long.
    async fn expire_events(&self, cutoff: Timestamp, limit: u32) -> Result<u64, StoreError>;
}
