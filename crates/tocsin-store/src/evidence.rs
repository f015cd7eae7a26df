//! Evidence of incidents, kept by content hash and never changed.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::IncidentNumber;

use crate::StoreError;

/// An item to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvidence {
    pub incident: IncidentNumber,
    /// Lowercase hex SHA-256 of `content`.
    pub sha256: String,
    pub content: Vec<u8>,
    pub name: String,
    /// file, output, note or events.
    pub kind: String,
    pub media_type: String,
    pub note: String,
    pub by: String,
    pub at: Timestamp,
}

/// An item as kept (its content apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub id: i64,
    pub incident: IncidentNumber,
    pub sha256: String,
    pub name: String,
    pub kind: String,
    pub media_type: String,
    pub size: u64,
    pub note: String,
    pub added_by: String,
    pub added: Timestamp,
}

#[async_trait]
pub trait EvidenceStore: Send + Sync {
    /// Keeps an item with its audit entry, its content once whatever the names it has;
    /// the same content under the same name on the same incident is kept once, and that
    /// item returned.
    async fn add_evidence(&self, new: NewEvidence, entry: EntryDraft) -> Result<Evidence, StoreError>;

    /// An incident's evidence, oldest first.
    async fn evidence(&self, incident: IncidentNumber) -> Result<Vec<Evidence>, StoreError>;

    /// The content of a hash, as kept.
    async fn evidence_content(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// How many bytes an incident's evidence holds.
    async fn evidence_size(&self, incident: IncidentNumber) -> Result<u64, StoreError>;
}
