//! Switches: maintenance mode and paused agents.

use super::*;

use crate::switches::{NewSwitch, Switch, SwitchKind, SwitchStore};

fn switch_from(row: &DbRow) -> Result<Switch, StoreError> {
    let incident: Option<i64> = row.try_get("incident")?;
    let until: Option<i64> = row.try_get("until_ms")?;
    let ended_by: Option<String> = row.try_get("ended_by")?;
    let ended_ms: Option<i64> = row.try_get("ended_ms")?;
    Ok(Switch {
        id: row.try_get("id")?,
        subject: row.try_get("subject")?,
        reason: row.try_get("reason")?,
        incident: incident.map(number).transpose()?,
        started_by: row.try_get("started_by")?,
        started: time(row.try_get("started_ms")?)?,
        until: until.map(time).transpose()?,
        ended: match (ended_by, ended_ms) {
            (Some(by), Some(ms)) => Some((by, time(ms)?)),
            _ => None,
        },
    })
}

#[async_trait]
impl SwitchStore for Backend {
    async fn switch_on(&self, new: NewSwitch, entry: EntryDraft) -> Result<Switch, StoreError> {
        let mut tx = self.begin_write().await?;
        let incident = new.incident.map(|n| int(n.get(), "incident")).transpose()?;
        let row = sqlx::query(
            "INSERT INTO switches (kind, subject, reason, incident, started_by, started_ms, until_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(new.kind.as_str())
        .bind(&new.subject)
        .bind(&new.reason)
        .bind(incident)
        .bind(&new.by)
        .bind(new.at.as_millisecond())
        .bind(new.until.map(Timestamp::as_millisecond))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| duplicate(e, format!("{} is on for {} already", new.kind.as_str(), new.subject)))?;
        let switch = switch_from(&row)?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(switch)
    }

    async fn switch_off(
        &self,
        kind: SwitchKind,
        subject: &str,
        by: &str,
        at: Timestamp,
        entry: EntryDraft,
    ) -> Result<Option<Switch>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE switches SET ended_by = $1, ended_ms = $2
             WHERE kind = $3 AND subject = $4 AND ended_ms IS NULL RETURNING *",
        )
        .bind(by)
        .bind(at.as_millisecond())
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let switch = switch_from(&row)?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(Some(switch))
    }

    async fn switches(&self, kind: SwitchKind, all: bool) -> Result<Vec<Switch>, StoreError> {
        let sql = if all {
            "SELECT * FROM switches WHERE kind = $1 ORDER BY id DESC LIMIT 1000"
        } else {
            "SELECT * FROM switches WHERE kind = $1 AND ended_ms IS NULL ORDER BY subject"
        };
        let rows = sqlx::query(sql).bind(kind.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(switch_from).collect()
    }
}
