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

/// What a bouncer is told on one pull: the blocks it is to enforce from now on, and the
/// ones it enforced that ended (removed or expired).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pull {
    pub new: Vec<Block>,
    pub deleted: Vec<Block>,
}

/// Where a bouncer stands: when it last pulled, as what, and what it last said of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BouncerState {
    /// The bouncer's integration.
    pub integration: i64,
    /// Its last pull, and its `User-Agent` then.
    pub pulled: Option<(Timestamp, String)>,
    /// Its last usage metrics (JSON), and when they came.
    pub metrics: Option<(Timestamp, String)>,
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

    /// How many additions and removals there have been: a copy of the blocks in force
    /// read at one version is current while the version is unchanged (and until one of
    /// them expires).
    async fn blocks_version(&self) -> Result<i64, StoreError>;

    /// What `bouncer` is to be told at `now`, and its cursor moved there in the same
    /// transaction. With `startup` (or on its first pull), every block in force is new and
    /// nothing is deleted; otherwise it is told what changed since its last pull, so that
    /// each block reaches it once and so does its end.
    async fn pull_blocks(&self, bouncer: i64, startup: bool, agent: &str, now: Timestamp) -> Result<Pull, StoreError>;

    /// Keeps what a bouncer last said of itself (its usage metrics, as JSON).
    async fn bouncer_said(&self, bouncer: i64, metrics: &str, at: Timestamp) -> Result<(), StoreError>;

    /// Every bouncer that has pulled, by integration.
    async fn bouncers(&self) -> Result<Vec<BouncerState>, StoreError>;
}
