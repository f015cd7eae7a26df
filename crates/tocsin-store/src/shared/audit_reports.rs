//! The daily audit's reports.

use super::*;

use crate::audit_reports::{AuditReportStore, AuditReportSummary, KEEP, NewAuditReport};

fn summary_from(row: &DbRow) -> Result<AuditReportSummary, StoreError> {
    Ok(AuditReportSummary {
        id: row.try_get("id")?,
        started_at: time(row.try_get("started_ms")?)?,
        finished_at: time(row.try_get("finished_ms")?)?,
        by: row.try_get("by_whom")?,
        findings: uint(row.try_get("findings")?, "findings")?,
        failed: uint(row.try_get("failed")?, "failed checks")?,
        title: row.try_get("title")?,
    })
}

const SUMMARY: &str = "id, started_ms, finished_ms, by_whom, findings, failed, title";

#[async_trait]
impl AuditReportStore for Backend {
    async fn save_audit_report(&self, report: &NewAuditReport, entry: EntryDraft) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit_reports (started_ms, finished_ms, by_whom, findings, failed, title, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(report.started_at.as_millisecond())
        .bind(report.finished_at.as_millisecond())
        .bind(&report.by)
        .bind(int(report.findings, "findings")?)
        .bind(int(report.failed, "failed checks")?)
        .bind(&report.title)
        .bind(&report.body)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM audit_reports WHERE id <= (SELECT id FROM audit_reports ORDER BY id DESC LIMIT 1 OFFSET $1)",
        )
        .bind(i64::from(KEEP))
        .execute(&mut *tx)
        .await?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn audit_reports(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditReportSummary>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY} FROM audit_reports WHERE id < $1 ORDER BY id DESC LIMIT $2"
        )))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_from).collect()
    }

    async fn audit_report(&self, id: Option<i64>) -> Result<Option<(AuditReportSummary, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY}, body FROM audit_reports WHERE id <= $1 ORDER BY id DESC LIMIT 1"
        )))
        .bind(id.unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let summary = summary_from(&row)?;
        if id.is_some_and(|id| id != summary.id) {
            return Ok(None);
        }
        Ok(Some((summary, row.try_get("body")?)))
    }
}
