//! The plan's versions and which one is active.

use super::*;

use crate::plans::{Applied, ApplyWhen, NewPlanVersion, PLAN_APPLIED, PlanStore, PlanVersion};

fn plan_version_from(row: &DbRow) -> Result<PlanVersion, StoreError> {
    Ok(PlanVersion {
        version: uint(row.try_get("version")?, "plan version")?,
        digest: row.try_get("digest")?,
        source: row.try_get("source")?,
        text: row.try_get("text")?,
        applied_by: row.try_get("applied_by")?,
        applied_at: time(row.try_get("applied_ms")?)?,
    })
}

const ACTIVE_PLAN_SQL: &str = "SELECT * FROM plan_versions ORDER BY version DESC LIMIT 1";
const ACTIVE_VERSION_SQL: &str = "SELECT MAX(version) AS version FROM plan_versions";

fn active_version_from(row: &DbRow) -> Result<u64, StoreError> {
    let version: Option<i64> = row.try_get("version")?;
    uint(version.unwrap_or(0), "plan version")
}

/// The active version's number in `tx`, 0 without one.
async fn active_version_in(tx: &mut Tx) -> Result<u64, StoreError> {
    active_version_from(&sqlx::query(ACTIVE_VERSION_SQL).fetch_one(&mut **tx).await?)
}

/// Fails with [`StoreError::PlanChanged`] when the active version is not `expected`. Called
/// after the chain's head is locked, which every application of a plan takes first, so
/// that no version can be applied between the check and the commit.
pub(super) async fn check_plan_version(tx: &mut Tx, expected: u64) -> Result<(), StoreError> {
    let active = active_version_in(tx).await?;
    if active != expected {
        return Err(StoreError::PlanChanged { expected, active });
    }
    Ok(())
}

#[async_trait]
impl PlanStore for Backend {
    async fn apply_plan(&self, new: NewPlanVersion, when: ApplyWhen) -> Result<Applied, StoreError> {
        let mut tx = self.begin_write().await?;
        // Appliers take turns at the chain's head, as every incident change does.
        sqlx::query(Backend::LOCK_HEAD_SQL).fetch_one(&mut *tx).await?;
        if let Some(row) = sqlx::query(ACTIVE_PLAN_SQL).fetch_optional(&mut *tx).await? {
            let active = plan_version_from(&row)?;
            if when == ApplyWhen::First || active.digest == new.digest {
                tx.rollback().await?;
                return Ok(Applied::Kept(active));
            }
        }
        let version = active_version_in(&mut tx).await? + 1;
        let stored = PlanVersion {
            version,
            digest: new.digest,
            source: new.source,
            text: new.text,
            applied_by: new.applied_by.to_string(),
            applied_at: new.at,
        };
        sqlx::query(
            "INSERT INTO plan_versions (version, digest, source, text, applied_by, applied_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(int(version, "plan version")?)
        .bind(&stored.digest)
        .bind(&stored.source)
        .bind(&stored.text)
        .bind(&stored.applied_by)
        .bind(stored.applied_at.as_millisecond())
        .execute(&mut *tx)
        .await?;
        let data = serde_json::json!({"version": version, "digest": stored.digest, "source": stored.source});
        append(
            &mut tx,
            vec![EntryDraft::system(PLAN_APPLIED, &new.applied_by, new.at, data)],
        )
        .await?;
        tx.commit().await?;
        Ok(Applied::New(stored))
    }

    async fn active_plan_version(&self) -> Result<u64, StoreError> {
        active_version_from(&sqlx::query(ACTIVE_VERSION_SQL).fetch_one(&self.pool).await?)
    }

    async fn active_plan(&self) -> Result<Option<PlanVersion>, StoreError> {
        sqlx::query(ACTIVE_PLAN_SQL)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(plan_version_from)
            .transpose()
    }

    async fn plan_version(&self, version: u64) -> Result<Option<PlanVersion>, StoreError> {
        sqlx::query("SELECT * FROM plan_versions WHERE version = $1")
            .bind(int(version, "plan version")?)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(plan_version_from)
            .transpose()
    }

    async fn plan_history(&self) -> Result<Vec<PlanVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, digest, source, '' AS text, applied_by, applied_ms FROM plan_versions ORDER BY version DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(plan_version_from).collect()
    }
}
