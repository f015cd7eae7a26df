//! The outbox: notifications claimed under lease, in order per channel and incident.

use super::*;

use crate::outbox::{
    ApprovalLink, ChannelHealth, Delivery, NewNotification, Notification, OutboxFilter, OutboxStore, Tally,
};

fn notification_from(row: &DbRow) -> Result<Notification, StoreError> {
    let state: String = row.try_get("state")?;
    let incident: Option<i64> = row.try_get("incident")?;
    let sent: Option<i64> = row.try_get("sent_ms")?;
    Ok(Notification {
        id: row.try_get("id")?,
        key: row.try_get("idempotency_key")?,
        channel: row.try_get("channel")?,
        kind: row.try_get("kind")?,
        incident: incident.map(number).transpose()?,
        payload: row.try_get("payload")?,
        state: Delivery::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery state \"{state}\"")))?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?)
            .map_err(|_| StoreError::Corrupt("negative attempts".into()))?,
        created_at: time(row.try_get("created_ms")?)?,
        next_at: time(row.try_get("next_ms")?)?,
        sent_at: sent.map(time).transpose()?,
        last_error: row.try_get("last_error")?,
    })
}

/// Stores notifications not stored yet (by key); how many were new.
async fn insert_notifications(
    tx: &mut Tx,
    notifications: &[NewNotification],
    now: Timestamp,
) -> Result<u64, StoreError> {
    let mut new = 0;
    for n in notifications {
        let incident = n.incident.map(|i| int(i.get(), "incident number")).transpose()?;
        let new_one = sqlx::query(
            "INSERT INTO outbox (idempotency_key, channel, kind, incident, payload, state, attempts,
                created_ms, next_ms)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&n.key)
        .bind(&n.channel)
        .bind(&n.kind)
        .bind(incident)
        .bind(&n.payload)
        .bind(now.as_millisecond())
        .bind(n.not_before.as_millisecond())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if new_one == 1
            && let Some(link) = &n.approval_link
        {
            sqlx::query(
                "INSERT INTO approval_links (hash, incident, run, person, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&link.hash)
            .bind(int(link.incident.get(), "incident number")?)
            .bind(i64::from(link.run))
            .bind(&link.person)
            .bind(now.as_millisecond())
            .bind(link.expires_at.as_millisecond())
            .execute(&mut **tx)
            .await?;
        }
        new += new_one;
    }
    Ok(new)
}

#[async_trait]
impl OutboxStore for Backend {
    async fn enqueue(&self, notifications: &[NewNotification], now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let new = insert_notifications(&mut tx, notifications, now).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn enqueue_following(
        &self,
        follower: &str,
        up_to: u64,
        notifications: &[NewNotification],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let new = insert_notifications(&mut tx, notifications, now).await?;
        save_cursor(&mut tx, follower, int(up_to, "cursor")?).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Notification>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(claim_sql())
            .bind(lease_until.as_millisecond())
            .bind(worker)
            .bind(now.as_millisecond())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut claimed: Vec<Notification> = rows.iter().map(notification_from).collect::<Result<_, _>>()?;
        claimed.sort_by_key(|n| (n.next_at, n.id));
        Ok(claimed)
    }

    async fn delivered(&self, ids: &[i64], now: Timestamp) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<Db>::new("UPDATE outbox SET state = 'sent', sent_ms = ");
        query
            .push_bind(now.as_millisecond())
            .push(", lease_until_ms = NULL, last_error = NULL WHERE state = 'pending' AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
        query.build().execute(&self.pool).await?;
        Ok(())
    }

    async fn failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<(), StoreError> {
        let (state, next) = match retry_at {
            Some(at) => ("pending", Some(at.as_millisecond())),
            None => ("dead", None),
        };
        sqlx::query(
            "UPDATE outbox SET state = $1, next_ms = COALESCE($2, next_ms), lease_until_ms = NULL,
                leased_by = NULL, last_error = $3
             WHERE id = $4 AND state = 'pending'",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn resend(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_ms = $1, lease_until_ms = NULL
             WHERE id = $2 AND state = 'dead'",
        )
        .bind(now.as_millisecond())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<Notification>, StoreError> {
        let mut query = QueryBuilder::<Db>::new("SELECT * FROM outbox WHERE 1 = 1");
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(channel) = &filter.channel {
            query.push(" AND channel = ").push_bind(channel.clone());
        }
        if let Some(before) = filter.before {
            query.push(" AND id < ").push_bind(before);
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit.clamp(1, 1000)));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(notification_from).collect()
    }

    async fn note_channels(&self, rounds: &[(String, Result<(), String>)], now: Timestamp) -> Result<(), StoreError> {
        if rounds.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (channel, result) in rounds {
            let query = match result {
                Ok(()) => sqlx::query(
                    "INSERT INTO channel_health (channel, last_ok_ms) VALUES ($1, $2)
                     ON CONFLICT (channel) DO UPDATE SET failing_since_ms = NULL, last_ok_ms = $2",
                )
                .bind(channel)
                .bind(now.as_millisecond()),
                Err(error) => sqlx::query(
                    "INSERT INTO channel_health (channel, failing_since_ms, last_error) VALUES ($1, $2, $3)
                     ON CONFLICT (channel) DO UPDATE
                     SET failing_since_ms = COALESCE(channel_health.failing_since_ms, $2), last_error = $3",
                )
                .bind(channel)
                .bind(now.as_millisecond())
                .bind(error),
            };
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn channel_health(&self) -> Result<Vec<ChannelHealth>, StoreError> {
        let rows = sqlx::query("SELECT * FROM channel_health ORDER BY channel")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let at = |name: &str| -> Result<Option<Timestamp>, StoreError> {
                    row.try_get::<Option<i64>, _>(name)?.map(time).transpose()
                };
                Ok(ChannelHealth {
                    channel: row.try_get("channel")?,
                    failing_since: at("failing_since_ms")?,
                    last_error: row.try_get("last_error")?,
                    last_ok: at("last_ok_ms")?,
                    announced: at("announced_ms")?,
                })
            })
            .collect()
    }

    async fn announced(&self, channel: &str, at: Option<Timestamp>) -> Result<(), StoreError> {
        sqlx::query("UPDATE channel_health SET announced_ms = $1 WHERE channel = $2")
            .bind(at.map(Timestamp::as_millisecond))
            .bind(channel)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn tally(&self, prefix: &str, limit: u32) -> Result<Tally, StoreError> {
        // Keys are compared by their start, not with LIKE, whose wildcards a key may hold.
        let rows = sqlx::query(
            "SELECT state, attempts > 0 AND state = 'pending' AND last_error IS NOT NULL AS retrying, COUNT(*) AS n
             FROM outbox WHERE substr(idempotency_key, 1, length($1)) = $1 GROUP BY 1, 2",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        let mut tally = Tally::default();
        for row in &rows {
            let state: String = row.try_get("state")?;
            let retrying: bool = row.try_get("retrying")?;
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            match Delivery::parse(&state) {
                Some(Delivery::Pending) => {
                    tally.pending += n;
                    if retrying {
                        tally.retrying += n;
                    }
                }
                Some(Delivery::Sent) => tally.sent += n,
                Some(Delivery::Dead) => tally.dead += n,
                None => return Err(StoreError::Corrupt(format!("unknown delivery state \"{state}\""))),
            }
        }
        let failed = sqlx::query(
            "SELECT idempotency_key, state, last_error FROM outbox
             WHERE substr(idempotency_key, 1, length($1)) = $1 AND last_error IS NOT NULL AND state <> 'sent'
             ORDER BY id LIMIT $2",
        )
        .bind(prefix)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        for row in &failed {
            let state: String = row.try_get("state")?;
            tally.failures.push((
                row.try_get("idempotency_key")?,
                Delivery::parse(&state).unwrap_or(Delivery::Pending),
                row.try_get("last_error")?,
            ));
        }
        Ok(tally)
    }

    async fn approval_link(&self, hash: &str) -> Result<Option<ApprovalLink>, StoreError> {
        let row = sqlx::query("SELECT * FROM approval_links WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let used: Option<i64> = row.try_get("used_ms")?;
        Ok(Some(ApprovalLink {
            incident: number(row.try_get("incident")?)?,
            run: u32::try_from(row.try_get::<i64, _>("run")?)
                .map_err(|_| StoreError::Corrupt("an approval link's run is out of range".into()))?,
            person: row.try_get("person")?,
            created_at: time(row.try_get("created_ms")?)?,
            expires_at: time(row.try_get("expires_ms")?)?,
            used_at: used.map(time).transpose()?,
        }))
    }

    async fn use_approval_link(&self, hash: &str, now: Timestamp) -> Result<bool, StoreError> {
        let used = sqlx::query(
            "UPDATE approval_links SET used_ms = $1 WHERE hash = $2 AND used_ms IS NULL AND expires_ms > $1",
        )
        .bind(now.as_millisecond())
        .bind(hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(used == 1)
    }

    async fn unuse_approval_link(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE approval_links SET used_ms = NULL WHERE hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn thread(&self, channel: &str, incident: IncidentNumber) -> Result<Option<String>, StoreError> {
        let reference = sqlx::query("SELECT reference FROM channel_threads WHERE channel = $1 AND incident = $2")
            .bind(channel)
            .bind(int(incident.get(), "incident number")?)
            .fetch_optional(&self.pool)
            .await?;
        Ok(reference.map(|row| row.try_get("reference")).transpose()?)
    }

    async fn start_thread(
        &self,
        channel: &str,
        incident: IncidentNumber,
        reference: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO channel_threads (channel, incident, reference, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (channel, incident) DO NOTHING",
        )
        .bind(channel)
        .bind(int(incident.get(), "incident number")?)
        .bind(reference)
        .bind(now.as_millisecond())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Due notifications (`$1` lease until, `$2` worker, `$3` now, `$4` limit), claimed in one
/// statement, oldest first and one at a time per channel and incident, so that their
/// order holds.
fn claim_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "UPDATE outbox SET lease_until_ms = $1, leased_by = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE state = 'pending' AND next_ms <= $3 AND (lease_until_ms IS NULL OR lease_until_ms <= $3)
                            AND NOT EXISTS (SELECT 1 FROM outbox earlier
                                            WHERE earlier.state = 'pending' AND earlier.channel = outbox.channel
                                              AND earlier.incident = outbox.incident AND earlier.id < outbox.id)
                          ORDER BY next_ms, id LIMIT $4 {})
             RETURNING *",
            Backend::CLAIM_LOCK
        )
    })
}
