//! Blocked addresses and networks.

use super::*;

use tocsin_core::block::Network;

use futures_util::TryStreamExt;

use crate::blocks::{Block, BlockStore, BouncerState, NewBlock, Pull};

/// The blocks a query finds, read row by row: a bouncer's first pull may hold every block
/// there is, and no row is kept once it is a block.
async fn blocks_of<'q>(
    rows: impl futures_util::Stream<Item = Result<DbRow, sqlx::Error>> + 'q,
) -> Result<Vec<Block>, StoreError> {
    let mut rows = std::pin::pin!(rows);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        out.push(block_from(&row)?);
    }
    Ok(out)
}

/// The next number of the blocks' counter, whose row stays locked until `tx` ends: writers
/// take their numbers in turn, and each becomes visible only after those before it.
async fn next_seq(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("UPDATE block_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq")
            .fetch_one(&mut **tx)
            .await?,
    )
}

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
        let seq = next_seq(&mut tx).await?;
        let row = sqlx::query(
            "INSERT INTO blocks (network, reason, incident, created_by, created_ms, expires_ms, added_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(new.network.to_string())
        .bind(&new.reason)
        .bind(incident)
        .bind(&new.created_by)
        .bind(new.at.as_millisecond())
        .bind(new.expires.map(Timestamp::as_millisecond))
        .bind(seq)
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
        let seq = next_seq(&mut tx).await?;
        // Nothing removed rolls the counter back with the rest.
        let row = sqlx::query(
            "UPDATE blocks SET removed_by = $1, removed_ms = $2, removed_seq = $4
             WHERE id = $3 AND removed_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2) RETURNING *",
        )
        .bind(by)
        .bind(at_ms)
        .bind(id)
        .bind(seq)
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
        if all {
            blocks_of(sqlx::query("SELECT * FROM blocks ORDER BY id").fetch(&self.pool)).await
        } else {
            blocks_of(
                sqlx::query(
                    "SELECT * FROM blocks WHERE removed_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1) ORDER BY id",
                )
                .bind(now.as_millisecond())
                .fetch(&self.pool),
            )
            .await
        }
    }

    async fn blocks_version(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT seq FROM block_clock WHERE id = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn pull_blocks(&self, bouncer: i64, startup: bool, agent: &str, now: Timestamp) -> Result<Pull, StoreError> {
        let mut tx = self.begin_write().await?;
        let now_ms = now.as_millisecond();
        // Every number up to the counter's is committed: a writer holds the counter until
        // it commits. Later numbers a statement below might see are left for the next pull.
        let upto: i64 = sqlx::query_scalar("SELECT seq FROM block_clock WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let cursor: Option<(Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT seq, pulled_ms FROM bouncer_pulls WHERE integration = $1")
                .bind(bouncer)
                .fetch_optional(&mut *tx)
                .await?;
        let (pull, pulled_ms) = match cursor {
            Some((Some(seen), Some(then))) if !startup => {
                let new = blocks_of(
                    sqlx::query(
                        "SELECT * FROM blocks WHERE added_seq > $1 AND added_seq <= $2
                         AND (removed_seq IS NULL OR removed_seq > $2) AND (expires_ms IS NULL OR expires_ms > $3)
                         ORDER BY id",
                    )
                    .bind(seen)
                    .bind(upto)
                    .bind(now_ms)
                    .fetch(&mut *tx),
                )
                .await?;
                // What it enforced (added by its cursor, neither removed nor expired then)
                // that has ended since: removed since, or expired since.
                let deleted = blocks_of(
                    sqlx::query(
                        "SELECT * FROM blocks WHERE removed_seq > $1 AND removed_seq <= $2 AND added_seq <= $1
                           AND (expires_ms IS NULL OR expires_ms > $3)
                         UNION
                         SELECT * FROM blocks WHERE expires_ms > $3 AND expires_ms <= $4 AND added_seq <= $1
                           AND (removed_seq IS NULL OR removed_seq > $1)
                         ORDER BY id",
                    )
                    .bind(seen)
                    .bind(upto)
                    .bind(then)
                    .bind(now_ms)
                    .fetch(&mut *tx),
                )
                .await?;
                let pull = Pull { new, deleted };
                // A clock that went back does not move the cursor back.
                (pull, now_ms.max(then))
            }
            _ => {
                let new = blocks_of(
                    sqlx::query(
                        "SELECT * FROM blocks WHERE added_seq <= $1 AND (removed_seq IS NULL OR removed_seq > $1)
                         AND (expires_ms IS NULL OR expires_ms > $2) ORDER BY id",
                    )
                    .bind(upto)
                    .bind(now_ms)
                    .fetch(&mut *tx),
                )
                .await?;
                let pull = Pull {
                    new,
                    deleted: Vec::new(),
                };
                (pull, now_ms)
            }
        };
        sqlx::query(
            "INSERT INTO bouncer_pulls (integration, seq, pulled_ms, agent) VALUES ($1, $2, $3, $4)
             ON CONFLICT (integration) DO UPDATE SET seq = excluded.seq, pulled_ms = excluded.pulled_ms,
             agent = excluded.agent",
        )
        .bind(bouncer)
        .bind(upto)
        .bind(pulled_ms)
        .bind(agent)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(pull)
    }

    async fn bouncer_said(&self, bouncer: i64, metrics: &str, at: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO bouncer_pulls (integration, metrics, metrics_ms) VALUES ($1, $2, $3)
             ON CONFLICT (integration) DO UPDATE SET metrics = excluded.metrics, metrics_ms = excluded.metrics_ms",
        )
        .bind(bouncer)
        .bind(metrics)
        .bind(at.as_millisecond())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn bouncers(&self) -> Result<Vec<BouncerState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM bouncer_pulls ORDER BY integration")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let pulled_ms: Option<i64> = row.try_get("pulled_ms")?;
                let agent: Option<String> = row.try_get("agent")?;
                let metrics_ms: Option<i64> = row.try_get("metrics_ms")?;
                let metrics: Option<String> = row.try_get("metrics")?;
                Ok(BouncerState {
                    integration: row.try_get("integration")?,
                    pulled: match pulled_ms {
                        Some(ms) => Some((time(ms)?, agent.unwrap_or_default())),
                        None => None,
                    },
                    metrics: match (metrics_ms, metrics) {
                        (Some(ms), Some(text)) => Some((time(ms)?, text)),
                        _ => None,
                    },
                })
            })
            .collect()
    }
}
