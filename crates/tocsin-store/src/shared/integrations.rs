//! Integrations and the alerts their senders keep open.

use super::*;

use tocsin_core::alert::{Alert, AlertStatus, Via};

use crate::integrations::{
    AlertFilter, IntegrationRecord, IntegrationStats, IntegrationStore, NewIntegration, StatsDelta, StoredAlert,
};

fn json_text<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what} \"{text}\": {e}")))
}

fn stamped(ms: Option<i64>, text: Option<String>) -> Result<Option<(Timestamp, String)>, StoreError> {
    Ok(match (ms, text) {
        (Some(ms), Some(text)) => Some((time(ms)?, text)),
        _ => None,
    })
}

fn integration_from(row: &DbRow) -> Result<IntegrationRecord, StoreError> {
    let settings: String = row.try_get("settings")?;
    Ok(IntegrationRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        key_hash: row.try_get("key_hash")?,
        key_hint: row.try_get("key_hint")?,
        settings: json_text(&settings, "integration settings")?,
        created_by: row.try_get("created_by")?,
        created_at: time(row.try_get("created_ms")?)?,
        removed_at: opt_time(row.try_get("removed_ms")?)?,
        stats: IntegrationStats {
            received: uint(row.try_get("received")?, "received count")?,
            accepted: uint(row.try_get("accepted")?, "accepted count")?,
            refused: uint(row.try_get("refused")?, "refused count")?,
            last: stamped(row.try_get("last_ms")?, row.try_get("last_payload")?)?,
            last_error: stamped(row.try_get("last_error_ms")?, row.try_get("last_error")?)?,
        },
    })
}

fn alert_from(row: &DbRow) -> Result<StoredAlert, StoreError> {
    let via: String = row.try_get("via")?;
    let status: String = row.try_get("status")?;
    let labels: String = row.try_get("labels")?;
    let annotations: String = row.try_get("annotations")?;
    Ok(StoredAlert {
        source: row.try_get("source")?,
        via: Via::parse(&via).ok_or_else(|| StoreError::Corrupt(format!("alert via \"{via}\"")))?,
        alert: Alert {
            fingerprint: row.try_get("fingerprint")?,
            status: AlertStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("alert status \"{status}\"")))?,
            summary: row.try_get("summary")?,
            severity: row.try_get("severity")?,
            group: row.try_get("group_key")?,
            labels: json_text(&labels, "alert labels")?,
            annotations: json_text(&annotations, "alert annotations")?,
            starts_at: time(row.try_get("starts_ms")?)?,
            ends_at: opt_time(row.try_get("ends_ms")?)?,
            url: row.try_get("url")?,
            details: None,
        },
        opened_at: time(row.try_get("opened_ms")?)?,
        updated_at: time(row.try_get("updated_ms")?)?,
        resolved_at: opt_time(row.try_get("resolved_ms")?)?,
        received: uint(row.try_get("received")?, "alert deliveries")?,
        signal: row.try_get("signal")?,
    })
}

#[async_trait]
impl IntegrationStore for Backend {
    async fn add_integration(&self, new: NewIntegration, entry: EntryDraft) -> Result<IntegrationRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO integrations (name, kind, key_hash, key_hint, settings, created_by, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(&new.name)
        .bind(&new.kind)
        .bind(&new.key_hash)
        .bind(&new.key_hint)
        .bind(new.settings.to_string())
        .bind(&new.created_by)
        .bind(new.at.as_millisecond())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| duplicate(e, format!("an integration named \"{}\" already exists", new.name)))?;
        let record = integration_from(&row)?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        sqlx::query("SELECT * FROM integrations WHERE removed_ms IS NULL ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(integration_from)
            .collect()
    }

    async fn remove_integration(&self, id: i64, at: Timestamp, entry: EntryDraft) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE integrations SET removed_ms = $1 WHERE id = $2 AND removed_ms IS NULL")
            .bind(at.as_millisecond())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_integration_settings(
        &self,
        id: i64,
        settings: &serde_json::Value,
        entry: EntryDraft,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE integrations SET settings = $1 WHERE id = $2 AND removed_ms IS NULL")
            .bind(settings.to_string())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::UnknownIntegration(id.to_string()));
        }
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_integration_stats(&self, deltas: &[StatsDelta]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for d in deltas {
            let s = &d.stats;
            sqlx::query(
                "UPDATE integrations SET received = received + $1, accepted = accepted + $2, refused = refused + $3,
                    last_ms = COALESCE($4, last_ms), last_payload = COALESCE($5, last_payload),
                    last_error_ms = COALESCE($6, last_error_ms), last_error = COALESCE($7, last_error)
                 WHERE id = $8",
            )
            .bind(int(s.received, "received count")?)
            .bind(int(s.accepted, "accepted count")?)
            .bind(int(s.refused, "refused count")?)
            .bind(s.last.as_ref().map(|(at, _)| at.as_millisecond()))
            .bind(s.last.as_ref().map(|(_, text)| text.as_str()))
            .bind(s.last_error.as_ref().map(|(at, _)| at.as_millisecond()))
            .bind(s.last_error.as_ref().map(|(_, text)| text.as_str()))
            .bind(d.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_alerts(
        &self,
        alerts: &[StoredAlert],
        cursor: &str,
        up_to: u64,
    ) -> Result<Vec<(usize, IncidentNumber)>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut incidents = Vec::new();
        for (i, a) in alerts.iter().enumerate() {
            let signal: Option<i64> = sqlx::query(
                "INSERT INTO alerts (source, fingerprint, via, status, summary, severity, group_key, labels, annotations,
                    starts_ms, ends_ms, url, updated_ms, resolved_ms, received, opened_ms, signal)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    COALESCE($17, (SELECT id FROM signals WHERE fingerprint = $18 AND found_ms = $16)))
                 ON CONFLICT (source, fingerprint) DO UPDATE SET via = excluded.via, status = excluded.status,
                    summary = excluded.summary, severity = excluded.severity, group_key = excluded.group_key,
                    labels = excluded.labels, annotations = excluded.annotations, starts_ms = excluded.starts_ms,
                    ends_ms = excluded.ends_ms, url = excluded.url, updated_ms = excluded.updated_ms,
                    resolved_ms = excluded.resolved_ms, received = excluded.received, opened_ms = excluded.opened_ms,
                    signal = excluded.signal
                 RETURNING signal",
            )
            .bind(&a.source)
            .bind(&a.alert.fingerprint)
            .bind(a.via.as_str())
            .bind(a.alert.status.as_str())
            .bind(&a.alert.summary)
            .bind(a.alert.severity.as_deref())
            .bind(a.alert.group.as_deref())
            .bind(serde_json::to_string(&a.alert.labels).expect("strings serialize"))
            .bind(serde_json::to_string(&a.alert.annotations).expect("strings serialize"))
            .bind(a.alert.starts_at.as_millisecond())
            .bind(a.alert.ends_at.map(Timestamp::as_millisecond))
            .bind(a.alert.url.as_deref())
            .bind(a.updated_at.as_millisecond())
            .bind(a.resolved_at.map(Timestamp::as_millisecond))
            .bind(int(a.received, "alert deliveries")?)
            .bind(a.opened_at.as_millisecond())
            .bind(a.signal)
            .bind(a.signal_fingerprint())
            .fetch_one(&mut *tx)
            .await?
            .try_get("signal")?;
            if let (Some(id), Some(at)) = (signal, a.resolved_at) {
                let incident: Option<i64> =
                    sqlx::query("UPDATE signals SET resolved_ms = $1 WHERE id = $2 RETURNING incident")
                        .bind(at.as_millisecond())
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("incident")?;
                if let Some(incident) = incident {
                    incidents.push((i, number(incident)?));
                }
            }
        }
        save_cursor(&mut tx, cursor, int(up_to, "alert cursor")?).await?;
        tx.commit().await?;
        Ok(incidents)
    }

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>, StoreError> {
        let mut query = QueryBuilder::<Db>::new("SELECT * FROM alerts WHERE 1 = 1");
        if let Some(source) = &filter.source {
            query.push(" AND source = ").push_bind(source.clone());
        }
        if filter.open {
            query.push(" AND status <> 'resolved'");
        }
        query
            .push(" ORDER BY updated_ms DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        query
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(alert_from)
            .collect()
    }

    async fn open_alerts_of(&self, incident: IncidentNumber) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM alerts a JOIN signals s ON s.id = a.signal
             WHERE s.incident = $1 AND a.status <> 'resolved'",
        )
        .bind(int(incident.get(), "incident number")?)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        uint(count, "open alerts")
    }

    async fn first_delivery(
        &self,
        integration: i64,
        signature: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM seen_deliveries WHERE seen_ms < $1")
            .bind(since.as_millisecond())
            .execute(&mut *tx)
            .await?;
        let new = sqlx::query(
            "INSERT INTO seen_deliveries (integration, signature, seen_ms) VALUES ($1, $2, $3)
             ON CONFLICT (integration, signature) DO NOTHING",
        )
        .bind(integration)
        .bind(signature)
        .bind(at.as_millisecond())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(new)
    }

    async fn forget_delivery(&self, integration: i64, signature: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM seen_deliveries WHERE integration = $1 AND signature = $2")
            .bind(integration)
            .bind(signature)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
