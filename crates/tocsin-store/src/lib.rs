//! tocsin-store: the `Store` trait and its SQLite and PostgreSQL backends.
#![forbid(unsafe_code)]
// A panic in a running server is an outage: library code says what went wrong instead.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod audit_reports;
pub mod blocks;
mod dialect;
pub mod duty;
pub mod event_log;
pub mod events;
pub mod evidence;
pub mod identity;
pub mod integrations;
mod migrate;
pub mod outbox;
pub mod plans;
pub mod postgres;
pub mod probes;
pub mod recipients;
pub mod signals;
pub mod sqlite;
pub mod switches;
#[cfg(feature = "test-support")]
pub mod testing;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::audit::{AuditEntry, ChainHash, EntryDraft};
use tocsin_core::clock::Clock;
use tocsin_core::incident::{Incident, IncidentNumber, Status};

use crate::events::EventStore;
use crate::identity::IdentityStore;
use crate::plans::PlanStore;
use crate::signals::SignalStore;

/// What can go wrong in storage. "Not found" and "changed meanwhile" are variants, not text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unknown incident {0}")]
    IncidentNotFound(IncidentNumber),
    /// Someone else changed the incident since it was read; read it again and retry.
    #[error("{0} was changed at the same time by someone else")]
    Conflict(IncidentNumber),
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("unknown token {0}")]
    UnknownToken(String),
    /// A plan version was applied since the change was computed; compute it again under
    /// the active one.
    #[error("the plan changed while this was computed (version {expected}, now {active})")]
    PlanChanged { expected: u64, active: u64 },
    #[error("unknown integration {0}")]
    UnknownIntegration(String),
    /// A name that must be unique is taken; the text says which.
    #[error("{0}")]
    Duplicate(String),
    #[error("{0}")]
    BadUrl(String),
    /// A file beside the database cannot be used; the text says which and why.
    #[error("{0}")]
    File(String),
    #[error("the database schema cannot be used: {0}")]
    Schema(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A new incident: its first state, its declaration entry and its clocks.
/// The store assigns the number; `incident.number` is ignored.
#[derive(Clone, Debug)]
pub struct IncidentDraft {
    pub incident: Incident,
    pub entries: Vec<EntryDraft>,
    pub clocks: Vec<Clock>,
    /// The plan version the clocks were computed under, which must still be the active one.
    pub plan_version: u64,
}

/// A change to an incident read at `expected_version`: its new state, the entries that
/// explain it, and all of its clocks recomputed.
#[derive(Clone, Debug)]
pub struct IncidentChange {
    pub incident: Incident,
    pub expected_version: u64,
    pub entries: Vec<EntryDraft>,
    pub clocks: Vec<Clock>,
    /// The plan version the clocks were computed under, which must still be the active one.
    pub plan_version: u64,
}

/// The listable facts of an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentSummary {
    pub number: IncidentNumber,
    pub title: String,
    pub severity: String,
    pub status: Status,
    pub owner: Option<String>,
    pub personal_data: bool,
    pub declared_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl IncidentSummary {
    pub fn of(incident: &Incident) -> Self {
        IncidentSummary {
            number: incident.number,
            title: incident.title.clone(),
            severity: incident.severity.to_string(),
            status: incident.status,
            owner: incident.owner.clone(),
            personal_data: incident.personal_data,
            declared_at: incident.declared_at,
            updated_at: incident.updated_at,
            version: incident.version,
        }
    }
}

/// Which incidents to list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub statuses: Vec<Status>,
    pub severities: Vec<String>,
    pub owner: Option<String>,
    /// Case-insensitive substring of the title.
    pub text: Option<String>,
    /// Only incidents numbered below this one (cursor pagination, newest first).
    pub before: Option<IncidentNumber>,
    pub limit: Option<u32>,
}

/// A clock still waiting to be kept, with the incident it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenClock {
    pub incident: IncidentNumber,
    pub title: String,
    pub severity: String,
    pub status: Status,
    pub clock: Clock,
}

/// The last entry of the audit chain, as recorded beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: ChainHash,
}

/// Names several store traits as one trait, which every store having them has: `Store`
/// below, and the views the server's workers are handed (a worker given one can reach
/// only those traits).
#[macro_export]
macro_rules! store_view {
    ($(#[$doc:meta])* $name:ident: $first:path $(, $more:path)*) => {
        $(#[$doc])*
        pub trait $name: $first $(+ $more)* {}
        impl<T: ?Sized + $first $(+ $more)*> $name for T {}
    };
}

store_view! {
    /// Durable storage: every store below, of one database. Every write is one transaction:
    /// an incident's state, its new audit entries and its clocks are stored together or not
    /// at all. A part of tocsin that needs only some of it is given only those traits (an
    /// `Arc<dyn Store>` becomes an `Arc<dyn OutboxStore>`, say, by coercion).
    Store: audit_reports::AuditReportStore, blocks::BlockStore, switches::SwitchStore, probes::ProbeStore, recipients::RecipientStore, evidence::EvidenceStore, IdentityStore, EventStore, SignalStore, outbox::OutboxStore,
        integrations::IntegrationStore, PlanStore, IncidentStore, ChainStore, InstanceStore, fmt::Debug
}

/// Incidents and their clocks.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Stores a new incident under the next number, which is returned. Numbers never repeat.
    async fn create_incident(&self, draft: IncidentDraft) -> Result<IncidentNumber, StoreError>;

    /// Stores a change, or fails with [`StoreError::Conflict`] if the incident moved on.
    async fn update_incident(&self, change: IncidentChange) -> Result<(), StoreError>;

    /// The audit entries of one incident, oldest first.
    async fn incident_history(&self, number: IncidentNumber) -> Result<Vec<AuditEntry>, StoreError>;

    /// Incidents, newest first.
    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentSummary>, StoreError>;

    async fn clocks(&self, number: IncidentNumber) -> Result<Vec<Clock>, StoreError>;

    /// Every open clock of every incident, soonest due first; clocks without a deadline last.
    async fn open_clocks(&self) -> Result<Vec<OpenClock>, StoreError>;

    /// The incidents with a run due by `now` (ready, about to expire, or running), by the
    /// earliest due first.
    async fn runs_due(&self, now: Timestamp) -> Result<Vec<IncidentNumber>, StoreError>;
}

/// The audit chain as a whole.
#[async_trait]
pub trait ChainStore: Send + Sync {
    /// Up to `limit` audit entries after `after_seq`, in order.
    async fn audit_entries(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    async fn chain_head(&self) -> Result<ChainHead, StoreError>;

    /// Appends an entry about tocsin itself that changes no table, like a signing key
    /// replaced.
    async fn record(&self, entry: EntryDraft) -> Result<(), StoreError>;
}

/// The database itself, and the instances that share it.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Where the data lives, for messages (never includes a password).
    fn describe(&self) -> String;

    /// Takes `duty`, or `None` while another instance or process holds it.
    async fn take_duty(&self, duty: duty::Duty) -> Result<Option<duty::OnDuty>, StoreError>;

    /// What about the connection lets it rewrite the audit log despite its append-only
    /// guard: on PostgreSQL, connecting as a superuser or as the owner of the tables.
    async fn deployment_warnings(&self) -> Result<Vec<String>, StoreError>;
}

/// Opens the database at `url`, creating and migrating it as needed.
///
/// `sqlite:PATH` (the file and its folder are created on first use) or
/// `postgres://USER@HOST/DB`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = sqlite_path(url) {
        if path.is_empty() {
            return Err(StoreError::BadUrl(
                "sqlite: needs a file path, like sqlite:tocsin-data/tocsin.db".into(),
            ));
        }
        return Ok(Arc::new(sqlite::SqliteStore::open(path).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PgStore::connect(url).await?));
    }
    Err(StoreError::BadUrl(format!(
        "unsupported database URL \"{}\"; use sqlite:PATH or postgres://USER@HOST/DB",
        redact(url)
    )))
}

/// The file of a `sqlite:PATH` (or `sqlite://PATH`) URL; `None` for other databases.
pub fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_described_urls() {
        assert_eq!(redact("postgres://jo:s3cret@db:5432/x"), "postgres://jo:***@db:5432/x");
        assert_eq!(redact("postgres://jo@db/x"), "postgres://jo@db/x");
        assert_eq!(redact("sqlite:a.db"), "sqlite:a.db");
    }
}
