//! Signals, the detectors' progress through the event log, and what each led to.

use super::*;

use tocsin_core::signal::Signal;

use crate::signals::{NewSignal, SignalFilter, SignalRecord, SignalStore};

fn signal_from(row: &DbRow) -> Result<SignalRecord, StoreError> {
    let samples: String = row.try_get("samples")?;
    let sources: String = row.try_get("sources")?;
    let accounts: String = row.try_get("accounts")?;
    let incident: Option<i64> = row.try_get("incident")?;
    let detector: String = row.try_get("detector")?;
    let disposition: String = row.try_get("action")?;
    let disposition = tocsin_core::signal::Disposition::parse(&disposition)
        .ok_or_else(|| StoreError::Corrupt(format!("signal with unknown action \"{disposition}\"")))?;
    let detector = tocsin_core::detector::DetectorId::parse(&detector)
        .ok_or_else(|| StoreError::Corrupt(format!("signal of unknown detector \"{detector}\"")))?;
    Ok(SignalRecord {
        id: row.try_get("id")?,
        signal: Signal {
            detector,
            key: row.try_get("signal_key")?,
            at: time(row.try_get("found_ms")?)?,
            count: uint(row.try_get("event_count")?, "signal event count")?,
            first_at: time(row.try_get("first_ms")?)?,
            last_at: time(row.try_get("last_ms")?)?,
            samples: serde_json::from_str(&samples)
                .map_err(|e| StoreError::Corrupt(format!("signal samples \"{samples}\": {e}")))?,
            sources: serde_json::from_str(&sources)
                .map_err(|e| StoreError::Corrupt(format!("signal sources \"{sources}\": {e}")))?,
            accounts: serde_json::from_str(&accounts)
                .map_err(|e| StoreError::Corrupt(format!("signal accounts \"{accounts}\": {e}")))?,
            summary: row.try_get("summary")?,
        },
        severity: row.try_get("severity")?,
        disposition,
        group_key: row.try_get("group_key")?,
        suppressed: row.try_get("suppressed")?,
        incident: incident.map(number).transpose()?,
        recorded_at: time(row.try_get("recorded_ms")?)?,
        resolved_at: opt_time(row.try_get("resolved_ms")?)?,
    })
}

#[async_trait]
impl SignalStore for Backend {
    async fn event_cursor(&self, name: &str) -> Result<u64, StoreError> {
        let seq: Option<i64> = sqlx::query("SELECT seq FROM event_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.try_get("seq"))
            .transpose()?;
        uint(seq.unwrap_or(0), "event cursor")
    }

    async fn record_signals(
        &self,
        name: &str,
        up_to: u64,
        signals: &[NewSignal],
        now: Timestamp,
    ) -> Result<Vec<SignalRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut recorded = Vec::new();
        for s in signals {
            let row = sqlx::query(
                "INSERT INTO signals (fingerprint, detector, signal_key, found_ms, first_ms, last_ms, event_count,
                    samples, sources, summary, severity, action, group_key, recorded_ms, suppressed, accounts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 ON CONFLICT (fingerprint, found_ms) DO NOTHING
                 RETURNING *",
            )
            .bind(s.signal.fingerprint())
            .bind(s.signal.detector.as_str())
            .bind(&s.signal.key)
            .bind(s.signal.at.as_millisecond())
            .bind(s.signal.first_at.as_millisecond())
            .bind(s.signal.last_at.as_millisecond())
            .bind(int(s.signal.count, "signal event count")?)
            .bind(serde_json::to_string(&s.signal.samples).expect("numbers serialize"))
            .bind(serde_json::to_string(&s.signal.sources).expect("strings serialize"))
            .bind(&s.signal.summary)
            .bind(&s.ruling.severity)
            .bind(s.ruling.disposition.as_str())
            .bind(&s.ruling.group)
            .bind(now.as_millisecond())
            .bind(s.ruling.suppressed.as_deref())
            .bind(serde_json::to_string(&s.signal.accounts).expect("strings serialize"))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                recorded.push(signal_from(&row)?);
            }
        }
        // The events signals cite stay past retention.
        let cited: std::collections::BTreeSet<u64> =
            signals.iter().flat_map(|s| s.signal.samples.iter().copied()).collect();
        for chunk in cited.into_iter().collect::<Vec<_>>().chunks(500) {
            let mut insert = QueryBuilder::<Db>::new("INSERT INTO cited_events (seq) ");
            insert.push_values(chunk, |mut row, seq| {
                row.push_bind(i64::try_from(*seq).unwrap_or(i64::MAX));
            });
            insert.push(" ON CONFLICT (seq) DO NOTHING");
            insert.build().execute(&mut *tx).await?;
        }
        save_cursor(&mut tx, name, int(up_to, "event cursor")?).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn settle_signals(&self, settled: &[(i64, Option<IncidentNumber>)], at: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (id, incident) in settled {
            let incident = incident.map(|n| int(n.get(), "incident number")).transpose()?;
            sqlx::query("UPDATE signals SET incident = $1, settled_ms = $2 WHERE id = $3")
                .bind(incident)
                .bind(at.as_millisecond())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unsettled_signals(&self) -> Result<Vec<SignalRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM signals WHERE settled_ms IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(signal_from).collect()
    }

    async fn group_incident(&self, group_key: &str) -> Result<Option<IncidentNumber>, StoreError> {
        let incident: Option<i64> = sqlx::query(
            "SELECT incident FROM signals WHERE group_key = $1 AND incident IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(group_key)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| row.try_get("incident"))
        .transpose()?;
        incident.map(number).transpose()
    }

    async fn signals(&self, filter: &SignalFilter) -> Result<Vec<SignalRecord>, StoreError> {
        let mut query = QueryBuilder::<Db>::new("SELECT * FROM signals WHERE 1 = 1");
        if let Some(detector) = &filter.detector {
            query.push(" AND detector = ").push_bind(detector.clone());
        }
        if let Some(key) = &filter.key {
            query.push(" AND signal_key = ").push_bind(key.clone());
        }
        if let Some(incident) = filter.incident {
            query
                .push(" AND incident = ")
                .push_bind(int(incident.get(), "incident number")?);
        }
        if !filter.ids.is_empty() {
            query.push(" AND id IN (");
            let mut ids = query.separated(", ");
            for id in &filter.ids {
                ids.push_bind(*id);
            }
            query.push(")");
        }
        if let Some(before) = filter.before {
            query.push(" AND id < ").push_bind(before);
        }
        if let Some(after) = filter.after {
            query.push(" AND id > ").push_bind(after);
        }
        query
            .push(match filter.after {
                Some(_) => " ORDER BY id ASC LIMIT ",
                None => " ORDER BY id DESC LIMIT ",
            })
            .push_bind(i64::from(filter.limit));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(signal_from).collect()
    }

    async fn first_seq_received_since(&self, since: Timestamp) -> Result<u64, StoreError> {
        // Events are numbered in the order they were received, so a binary search over the
        // key finds the first one received since `since`, without an index on the time.
        let bounds = sqlx::query("SELECT min(seq) AS first, max(seq) AS last FROM events")
            .fetch_one(&self.pool)
            .await?;
        let (first, last): (Option<i64>, Option<i64>) = (bounds.try_get("first")?, bounds.try_get("last")?);
        let (Some(mut low), Some(last)) = (first, last) else {
            return Ok(1);
        };
        let mut high = last + 1;
        while low < high {
            let middle = low + (high - low) / 2;
            let row = sqlx::query("SELECT seq, received_ms FROM events WHERE seq >= $1 ORDER BY seq LIMIT 1")
                .bind(middle)
                .fetch_optional(&self.pool)
                .await?;
            match row {
                Some(row) if row.try_get::<i64, _>("received_ms")? < since.as_millisecond() => {
                    low = row.try_get::<i64, _>("seq")? + 1;
                }
                _ => high = middle,
            }
        }
        uint(low, "event sequence number")
    }
}
