//! Blocked addresses and networks: the one door to them, for the CLI, the API and the
//! actions to come. Every addition and removal is an entry of the audit chain.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::block::{BadNetwork, Network};
use tocsin_core::crowdsec::{Decision, Filter};
use tocsin_core::incident::{Actor, IncidentNumber};
use tocsin_store::StoreError;
use tocsin_store::blocks::{Block, BlockStore, BouncerState, NewBlock, Pull};

/// The longest reason kept, in characters.
pub const REASON_MAX: usize = 500;

/// A reason as kept for a block or a switch (maintenance, a paused agent): one line of 1
/// to [`REASON_MAX`] characters, trimmed; the error says so.
pub fn one_line_reason(reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX || reason.chars().any(char::is_control) {
        return Err(format!("the reason must be one line of 1 to {REASON_MAX} characters"));
    }
    Ok(reason.to_owned())
}

/// How long a block lasts, written like `24h`, `30m` or `7d`.
pub fn span(text: &str) -> Result<SignedDuration, BlockError> {
    let seconds = tocsin_core::duration::Duration::parse(text)
        .map_err(|e| BlockError::Invalid(format!("the block's span: {e}")))?
        .elapsed_seconds()
        .ok_or_else(|| BlockError::Invalid("a block's span must be exact, like 24h or 30m".into()))?;
    Ok(SignedDuration::from_secs(seconds))
}

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

/// How long a copy of the blocks in force is used before the store is asked whether they
/// changed: a block added by another process is obeyed within this time; one added here,
/// at once.
const RECHECK: Duration = Duration::from_secs(1);

/// The blocks in force as read at one version, by network, for the questions asked on
/// every request (is this address blocked?).
struct InForce {
    version: i64,
    by_network: HashMap<Network, Vec<Arc<Block>>>,
    /// The prefix lengths present, with their family (`true` for IPv4).
    prefixes: BTreeSet<(bool, u8)>,
}

impl InForce {
    fn of(version: i64, blocks: Vec<Block>) -> InForce {
        let mut in_force = InForce {
            version,
            by_network: HashMap::new(),
            prefixes: BTreeSet::new(),
        };
        for block in blocks {
            in_force
                .prefixes
                .insert((block.network.address().is_ipv4(), block.network.bits()));
            in_force
                .by_network
                .entry(block.network)
                .or_default()
                .push(Arc::new(block));
        }
        in_force
    }

    /// The blocks in force at `now` whose networks hold all of `network`.
    fn holding(&self, network: Network, now: Timestamp) -> Vec<Arc<Block>> {
        let v4 = network.address().is_ipv4();
        let mut found = Vec::new();
        for &(family, bits) in &self.prefixes {
            if family != v4 || bits > network.bits() {
                continue;
            }
            let Some(around) = Network::around(network.address(), bits) else {
                continue;
            };
            if let Some(blocks) = self.by_network.get(&around) {
                found.extend(blocks.iter().filter(|b| b.in_force(now)).cloned());
            }
        }
        found.sort_by_key(|b| b.id);
        found
    }

    /// The blocks in force at `now` within `network` (all of them, without one).
    fn within(&self, network: Option<Network>, now: Timestamp) -> Vec<Arc<Block>> {
        let mut found: Vec<Arc<Block>> = self
            .by_network
            .iter()
            .filter(|(n, _)| network.is_none_or(|outer| outer.covers(**n)))
            .flat_map(|(_, blocks)| blocks.iter().filter(|b| b.in_force(now)).cloned())
            .collect();
        found.sort_by_key(|b| b.id);
        found
    }
}

/// The copy of the blocks in force, and when it was last found current.
type Checked = (Arc<InForce>, Instant);

/// The blocks of one database.
#[derive(Clone)]
pub struct Blocks {
    store: Arc<dyn BlockStore>,
    in_force: Arc<RwLock<Option<Checked>>>,
    /// Held while the blocks are read again, so that requests meanwhile wait for one read.
    reading: Arc<tokio::sync::Mutex<()>>,
}

/// Blocks as decisions at `now`, each made as it is written out, so that a pull of every
/// block holds the blocks and the text, not a third copy; `null` when there are none, as
/// the Local API writes an empty list.
#[derive(Debug)]
pub struct AsDecisions<'a> {
    pub blocks: &'a [Block],
    pub now: Timestamp,
}

impl serde::Serialize for AsDecisions<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.blocks.is_empty() {
            return serializer.serialize_none();
        }
        serializer.collect_seq(self.blocks.iter().map(|b| decision(b, self.now)))
    }
}

/// The decisions of `blocks` at `now` that pass a bouncer's filter.
pub fn decisions<B: std::borrow::Borrow<Block>>(blocks: &[B], filter: &Filter, now: Timestamp) -> Vec<Decision> {
    blocks
        .iter()
        .map(B::borrow)
        .filter(|b| filter.passes(b.network, &b.reason))
        .map(|b| decision(b, now))
        .collect()
}

/// A block as a decision at `now`: what is left of it in whole seconds, rounded up so that
/// a block in force is never said to be over.
fn decision(block: &Block, now: Timestamp) -> Decision {
    let left = block.expires.map(|end| {
        let ms = end.as_millisecond() - now.as_millisecond();
        ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
    });
    Decision::of(block.id, block.network, &block.reason, left)
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blocks")
    }
}

impl Blocks {
    pub fn new(store: Arc<dyn BlockStore>) -> Self {
        Blocks {
            store,
            in_force: Arc::default(),
            reading: Arc::default(),
        }
    }

    /// Forgets the copy of the blocks in force, after a change made here.
    fn changed(&self) {
        *self.in_force.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The blocks in force, read again when they may have changed.
    async fn current(&self, now: Timestamp) -> Result<Arc<InForce>, StoreError> {
        let fresh = |cached: &Option<Checked>| {
            cached
                .as_ref()
                .filter(|(_, checked)| checked.elapsed() < RECHECK)
                .map(|(in_force, _)| Arc::clone(in_force))
        };
        if let Some(in_force) = fresh(&self.in_force.read().unwrap_or_else(PoisonError::into_inner)) {
            return Ok(in_force);
        }
        let _reading = self.reading.lock().await;
        // Another request may have read them while this one waited.
        let cached = self.in_force.read().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(in_force) = fresh(&cached) {
            return Ok(in_force);
        }
        let version = self.store.blocks_version().await?;
        let in_force = match cached {
            Some((in_force, _)) if in_force.version == version => in_force,
            _ => Arc::new(InForce::of(version, self.store.blocks(now, false).await?)),
        };
        *self.in_force.write().unwrap_or_else(PoisonError::into_inner) = Some((Arc::clone(&in_force), Instant::now()));
        Ok(in_force)
    }

    /// The blocks in force at `now` that hold `ip`, oldest first.
    pub async fn blocking(&self, ip: IpAddr, now: Timestamp) -> Result<Vec<Arc<Block>>, StoreError> {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        let network = Network::around(ip, bits).expect("an address is its own network");
        Ok(self.current(now).await?.holding(network, now))
    }

    /// The blocks in force at `now` whose networks hold all of `network`, oldest first.
    pub async fn holding(&self, network: Network, now: Timestamp) -> Result<Vec<Arc<Block>>, StoreError> {
        Ok(self.current(now).await?.holding(network, now))
    }

    /// The blocks in force at `now` within `network` (all of them, without one), oldest
    /// first.
    pub async fn within(&self, network: Option<Network>, now: Timestamp) -> Result<Vec<Arc<Block>>, StoreError> {
        Ok(self.current(now).await?.within(network, now))
    }

    /// What bouncer `bouncer` (an integration) is to be told at `now`, as it filters, and
    /// its cursor moved on.
    pub async fn pull(
        &self,
        bouncer: i64,
        startup: bool,
        agent: &str,
        filter: &Filter,
        now: Timestamp,
    ) -> Result<Pull, StoreError> {
        let mut pull = self.store.pull_blocks(bouncer, startup, agent, now).await?;
        pull.new.retain(|b| filter.passes(b.network, &b.reason));
        pull.deleted.retain(|b| filter.passes(b.network, &b.reason));
        Ok(pull)
    }

    /// Keeps what a bouncer last said of itself.
    pub async fn bouncer_said(&self, bouncer: i64, metrics: &str, now: Timestamp) -> Result<(), StoreError> {
        self.store.bouncer_said(bouncer, metrics, now).await
    }

    /// Where every bouncer that has pulled stands.
    pub async fn bouncers(&self) -> Result<Vec<BouncerState>, StoreError> {
        self.store.bouncers().await
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
        let reason = one_line_reason(reason).map_err(BlockError::Invalid)?;
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
            reason,
            incident,
            created_by: by.to_string(),
            at: now,
            expires,
        };
        let block = self
            .store
            .add_block(new, EntryDraft::system("block_added", by, now, data))
            .await?;
        self.changed();
        Ok(block)
    }

    /// Ends block `id` now.
    pub async fn remove(&self, id: i64, by: &Actor, now: Timestamp) -> Result<Block, BlockError> {
        let entry = EntryDraft::system("block_removed", by, now, json!({"block": id}));
        let removed = self
            .store
            .remove_block(id, by.as_str(), now, entry)
            .await?
            .ok_or(BlockError::NotInForce(id))?;
        self.changed();
        Ok(removed)
    }

    /// The blocks in force at `now`; with `all`, the ended ones too.
    pub async fn list(&self, now: Timestamp, all: bool) -> Result<Vec<Block>, StoreError> {
        self.store.blocks(now, all).await
    }
}
