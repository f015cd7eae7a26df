//! Blocked addresses and networks.

use super::*;

use tocsin_core::block::Network;

use crate::blocks::{Block, BlockStore, NewBlock};

fn block_from(row: &DbRow) -> Result<Block, StoreError> {
    let network: String = row.try_get("network")?;
    let incident: Option<i64> = row.try_get("incident")?;
    let expires: Option<i64> = row.try_get("expires_ms")?;
    let removed_by: Option<String> = row.try_get("removed_by")?;
    let removed_ms: Option<i64> = row.try_get("removed_ms")?;
    Ok(Block {
        id: row.try_get("id")?,
        network: Network::parse(&network).map_err(|e| StoreError::Corrupt(format!("block network: {e}")))?,
        reason: row.try_get("reason")?,
        incident: incident.map(number).transpose()?,
        created_by: row.try_get("created_by")?,
        created: time(row.try_get("created_ms")?)?,
        expires: expires.map(time).transpose()?,
        removed: match (removed_by, removed_ms) {
            (Some(by), Some(ms)) => Some((by, time(ms)?)),
            _ => None,
        },
    })
}

#[async_trait]
impl BlockStore for Backend {
    async fn add_block(&self, new: NewBlock, entry: EntryDraft) -> Result<Block, StoreError> {
        let mut tx = self.begin_write().await?;
        let incident = new.incident.map(|n| int(n.get(), "incident")).transpose()?;
        let row = sqlx::query(
            "INSERT INTO blocks (network, reason, incident, created_by, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(new.network.to_string())
        .bind(&new.reason)
        .bind(incident)
        .bind(&new.created_by)
        .bind(new.at.as_millisecond())
        .bind(new.expires.map(Timestamp::as_millisecond))
        .fetch_one(&mut *tx)
        .await?;
        let block = block_from(&row)?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(block)
    }

    async fn remove_block(
        &self,
        id: i64,
        by: &str,
        at: Timestamp,
        entry: EntryDraft,
    ) -> Result<Option<Block>, StoreError> {
        let mut tx = self.begin_write().await?;
        let at_ms = at.as_millisecond();
        let row = sqlx::query(
            "UPDATE blocks SET removed_by = $1, removed_ms = $2
             WHERE id = $3 AND removed_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2) RETURNING *",
        )
        .bind(by)
        .bind(at_ms)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let block = block_from(&row)?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(Some(block))
    }

    async fn blocks(&self, now: Timestamp, all: bool) -> Result<Vec<Block>, StoreError> {
        let rows = if all {
            sqlx::query("SELECT * FROM blocks ORDER BY id")
                .fetch_all(&self.pool)
                .await?
        } else {
            sqlx::query(
                "SELECT * FROM blocks WHERE removed_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1) ORDER BY id",
            )
            .bind(now.as_millisecond())
            .fetch_all(&self.pool)
            .await?
        };
        rows.iter().map(block_from).collect()
    }
}
