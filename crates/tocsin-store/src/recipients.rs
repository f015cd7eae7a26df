//! Who an incident's notices are emailed to.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::IncidentNumber;

use crate::StoreError;

/// A recipient to add: an address (checked and lowercased by the caller) and a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecipient {
    pub email: String,
    pub name: Option<String>,
}

/// A stored recipient; `id` orders them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRecipient {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub added: Timestamp,
}

#[async_trait]
pub trait RecipientStore: Send + Sync {
    /// Adds recipients to the incident's list, in their order, with the audit entry that
    /// records it; addresses on the list already are skipped. How many were new.
    async fn add_recipients(
        &self,
        incident: IncidentNumber,
        recipients: &[NewRecipient],
        at: Timestamp,
        entry: EntryDraft,
    ) -> Result<u64, StoreError>;

    /// Up to `limit` of the incident's recipients after `after` (an id), in the order added.
    async fn recipients(
        &self,
        incident: IncidentNumber,
        after: i64,
        limit: u32,
    ) -> Result<Vec<NoticeRecipient>, StoreError>;

    async fn count_recipients(&self, incident: IncidentNumber) -> Result<u64, StoreError>;

    /// Removes recipients from the incident's list (`None`: all of them, to erase it), with
    /// the audit entry that records it. How many were removed.
    async fn remove_recipients(
        &self,
        incident: IncidentNumber,
        emails: Option<&[String]>,
        entry: EntryDraft,
    ) -> Result<u64, StoreError>;
}
