//! Blocked addresses and networks: what the enforcement points that ask tocsin refuse.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::block::Network;
use tocsin_core::incident::IncidentNumber;

use crate::StoreError;

/// A block to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBlock {
    pub network: Network,
    pub reason: String,
    pub incident: Option<IncidentNumber>,
    pub created_by: String,
    pub at: Timestamp,
    /// When it ends by itself; `None`: when it is removed.
    pub expires: Option<Timestamp>,
}

/// A block as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub id: i64,
    pub network: Network,
    pub reason: String,
    pub incident: Option<IncidentNumber>,
    pub created_by: String,
    pub created: Timestamp,
    pub expires: Option<Timestamp>,
    /// Who removed it, and when.
    pub removed: Option<(String, Timestamp)>,
}

impl Block {
    /// Whether it is in force at `now`: not removed, and not expired.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.removed.is_none() && self.expires.is_none_or(|end| end > now)
    }
}

/// Blocks, each addition and removal with its audit entry in the same transaction.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// Stores a new block and its entry; the block, with its id.
    async fn add_block(&self, new: NewBlock, entry: EntryDraft) -> Result<Block, StoreError>;

    /// Removes block `id` (stamping it, so that who asks learns of the removal) with its
    /// entry; `None` when there is no such block in force.
    async fn remove_block(
        &self,
        id: i64,
        by: &str,
        at: Timestamp,
        entry: EntryDraft,
    ) -> Result<Option<Block>, StoreError>;

    /// The blocks in force at `now`, oldest first; with `all`, also the removed and
    /// expired ones.
    async fn blocks(&self, now: Timestamp, all: bool) -> Result<Vec<Block>, StoreError>;
}
