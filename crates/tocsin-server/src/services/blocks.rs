//! Blocked addresses and networks: the one door to them, for the CLI, the API and the
//! actions to come. Every addition and removal is an entry of the audit chain.

use std::sync::Arc;

use jiff::SignedDuration;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::block::{BadNetwork, Network};
use tocsin_core::incident::{Actor, IncidentNumber};
use tocsin_store::StoreError;
use tocsin_store::blocks::{Block, BlockStore, NewBlock};

/// The longest reason kept, in characters.
pub const REASON_MAX: usize = 500;

/// Why a block was not added or removed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error(transparent)]
    Network(#[from] BadNetwork),
    #[error("{0}")]
    Invalid(String),
    #[error("there is no block {0} in force; `tocsin block list` shows them")]
    NotInForce(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The blocks of one database.
#[derive(Clone)]
pub struct Blocks {
    store: Arc<dyn BlockStore>,
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blocks")
    }
}

impl Blocks {
    pub fn new(store: Arc<dyn BlockStore>) -> Self {
        Blocks { store }
    }

    /// Blocks `network` for `reason`, for `lasts` (or until removed), in `incident`'s name.
    pub async fn add(
        &self,
        network: &str,
        reason: &str,
        incident: Option<IncidentNumber>,
        lasts: Option<SignedDuration>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Block, BlockError> {
        let network = Network::parse(network)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_MAX || reason.chars().any(char::is_control) {
            return Err(BlockError::Invalid(format!(
                "the reason must be one line of 1 to {REASON_MAX} characters"
            )));
        }
        let expires = match lasts {
            Some(span) if span <= SignedDuration::ZERO => {
                return Err(BlockError::Invalid("a block must last longer than nothing".into()));
            }
            Some(span) => Some(
                now.checked_add(span)
                    .map_err(|_| BlockError::Invalid("the block would end beyond any date".into()))?,
            ),
            None => None,
        };
        let data = json!({
            "network": network.to_string(),
            "reason": reason,
            "incident": incident.map(|n| n.to_string()),
            "expires": expires.map(|t| t.to_string()),
        });
        let new = NewBlock {
            network,
            reason: reason.to_owned(),
            incident,
            created_by: by.to_string(),
            at: now,
            expires,
        };
        Ok(self
            .store
            .add_block(new, EntryDraft::system("block_added", by, now, data))
            .await?)
    }

    /// Ends block `id` now.
    pub async fn remove(&self, id: i64, by: &Actor, now: Timestamp) -> Result<Block, BlockError> {
        let entry = EntryDraft::system("block_removed", by, now, json!({"block": id}));
        self.store
            .remove_block(id, by.as_str(), now, entry)
            .await?
            .ok_or(BlockError::NotInForce(id))
    }

    /// The blocks in force at `now`; with `all`, the ended ones too.
    pub async fn list(&self, now: Timestamp, all: bool) -> Result<Vec<Block>, StoreError> {
        self.store.blocks(now, all).await
    }
}
