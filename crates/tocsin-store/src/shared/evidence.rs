//! Evidence, content-addressed and never changed.

use super::*;

use crate::evidence::{Evidence, EvidenceStore, NewEvidence};

fn evidence_from(row: &DbRow) -> Result<Evidence, StoreError> {
    Ok(Evidence {
        id: row.try_get("id")?,
        incident: number(row.try_get("incident")?)?,
        sha256: row.try_get("sha256")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        media_type: row.try_get("media_type")?,
        size: uint(row.try_get("size")?, "evidence size")?,
        note: row.try_get("note")?,
        added_by: row.try_get("added_by")?,
        added: time(row.try_get("added_ms")?)?,
    })
}

#[async_trait]
impl EvidenceStore for Backend {
    async fn add_evidence(&self, new: NewEvidence, entry: EntryDraft) -> Result<Evidence, StoreError> {
        let mut tx = self.begin_write().await?;
        let incident = int(new.incident.get(), "incident")?;
        let size = i64::try_from(new.content.len()).map_err(|_| StoreError::Corrupt("evidence too large".into()))?;
        let known: Option<i64> = sqlx::query_scalar("SELECT size FROM evidence_contents WHERE sha256 = $1")
            .bind(&new.sha256)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            sqlx::query("INSERT INTO evidence_contents (sha256, size, content) VALUES ($1, $2, $3)")
                .bind(&new.sha256)
                .bind(size)
                .bind(&new.content)
                .execute(&mut *tx)
                .await?;
        }
        let existing = sqlx::query("SELECT * FROM evidence WHERE incident = $1 AND sha256 = $2 AND name = $3")
            .bind(incident)
            .bind(&new.sha256)
            .bind(&new.name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            return evidence_from(&row);
        }
        let row = sqlx::query(
            "INSERT INTO evidence (incident, sha256, name, kind, media_type, size, note, added_by, added_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        )
        .bind(incident)
        .bind(&new.sha256)
        .bind(&new.name)
        .bind(&new.kind)
        .bind(&new.media_type)
        .bind(size)
        .bind(&new.note)
        .bind(&new.by)
        .bind(new.at.as_millisecond())
        .fetch_one(&mut *tx)
        .await?;
        let evidence = evidence_from(&row)?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(evidence)
    }

    async fn evidence(&self, incident: IncidentNumber) -> Result<Vec<Evidence>, StoreError> {
        let rows = sqlx::query("SELECT * FROM evidence WHERE incident = $1 ORDER BY id")
            .bind(int(incident.get(), "incident")?)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(evidence_from).collect()
    }

    async fn evidence_content(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT content FROM evidence_contents WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn evidence_size(&self, incident: IncidentNumber) -> Result<u64, StoreError> {
        let total: i64 =
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM evidence WHERE incident = $1")
                .bind(int(incident.get(), "incident")?)
                .fetch_one(&self.pool)
                .await?;
        uint(total, "evidence size")
    }
}
