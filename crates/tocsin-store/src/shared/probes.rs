//! The probes' status and rollups.

use super::*;

use crate::probes::{LastRun, ProbeStatus, ProbeStore, Rollup, Span};
use tocsin_core::probe::Standing;

/// Rows per statement: under SQLite's limit on bound values.
const CHUNK: usize = 400;

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn status_from(row: &DbRow) -> Result<ProbeStatus, StoreError> {
    let small = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    Ok(ProbeStatus {
        probe: row.try_get("probe")?,
        standing: Standing {
            up: row.try_get("up")?,
            since: opt_time(row.try_get("since_ms")?)?,
            fails: small(row.try_get("fails")?),
            oks: small(row.try_get("oks")?),
        },
        last: LastRun {
            at: time(row.try_get("last_ms")?)?,
            ok: row.try_get("last_ok")?,
            latency_ms: uint(row.try_get("last_latency_ms")?, "latency")?,
            detail: row.try_get("last_detail")?,
            error: row.try_get("last_error")?,
        },
    })
}

#[async_trait]
impl ProbeStore for Backend {
    async fn save_probe_runs(&self, status: &[ProbeStatus], rollups: &[Rollup]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for chunk in status.chunks(CHUNK) {
            let mut upsert = QueryBuilder::<Db>::new(
                "INSERT INTO probe_status (probe, up, since_ms, fails, oks, last_ms, last_ok, last_latency_ms, last_detail, last_error) ",
            );
            upsert.push_values(chunk, |mut row, s| {
                row.push_bind(s.probe.clone())
                    .push_bind(s.standing.up)
                    .push_bind(s.standing.since.map(Timestamp::as_millisecond))
                    .push_bind(i64::from(s.standing.fails))
                    .push_bind(i64::from(s.standing.oks))
                    .push_bind(s.last.at.as_millisecond())
                    .push_bind(s.last.ok)
                    .push_bind(count(s.last.latency_ms))
                    .push_bind(s.last.detail.clone())
                    .push_bind(s.last.error.clone());
            });
            upsert.push(
                " ON CONFLICT (probe) DO UPDATE SET up = excluded.up, since_ms = excluded.since_ms,
                  fails = excluded.fails, oks = excluded.oks, last_ms = excluded.last_ms,
                  last_ok = excluded.last_ok, last_latency_ms = excluded.last_latency_ms,
                  last_detail = excluded.last_detail, last_error = excluded.last_error",
            );
            // Not kept prepared: each batch's row count makes another statement, and a
            // connection's cache of them would hold megabytes.
            upsert.build().persistent(false).execute(&mut *tx).await?;
        }
        for chunk in rollups.chunks(CHUNK) {
            let mut upsert = QueryBuilder::<Db>::new(
                "INSERT INTO probe_rollups (probe, span, start_ms, runs, ok, latency_sum_ms, latency_max_ms) ",
            );
            upsert.push_values(chunk, |mut row, r| {
                row.push_bind(r.probe.clone())
                    .push_bind(r.span.as_str())
                    .push_bind(r.start.as_millisecond())
                    .push_bind(count(r.runs))
                    .push_bind(count(r.ok))
                    .push_bind(count(r.latency_sum_ms))
                    .push_bind(count(r.latency_max_ms));
            });
            upsert.push(
                " ON CONFLICT (probe, span, start_ms) DO UPDATE SET runs = probe_rollups.runs + excluded.runs,
                  ok = probe_rollups.ok + excluded.ok,
                  latency_sum_ms = probe_rollups.latency_sum_ms + excluded.latency_sum_ms,
                  latency_max_ms = CASE WHEN excluded.latency_max_ms > probe_rollups.latency_max_ms
                      THEN excluded.latency_max_ms ELSE probe_rollups.latency_max_ms END",
            );
            upsert.build().persistent(false).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn probe_status(&self) -> Result<Vec<ProbeStatus>, StoreError> {
        let rows = sqlx::query("SELECT * FROM probe_status ORDER BY probe")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(status_from).collect()
    }

    async fn probe_rollups(&self, probe: &str, span: Span, since: Timestamp) -> Result<Vec<Rollup>, StoreError> {
        let rows = sqlx::query(
            "SELECT start_ms, runs, ok, latency_sum_ms, latency_max_ms FROM probe_rollups
             WHERE probe = $1 AND span = $2 AND start_ms >= $3 ORDER BY start_ms",
        )
        .bind(probe)
        .bind(span.as_str())
        .bind(since.as_millisecond())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Rollup {
                    probe: probe.to_owned(),
                    span,
                    start: time(row.try_get("start_ms")?)?,
                    runs: uint(row.try_get("runs")?, "runs")?,
                    ok: uint(row.try_get("ok")?, "runs")?,
                    latency_sum_ms: uint(row.try_get("latency_sum_ms")?, "latency")?,
                    latency_max_ms: uint(row.try_get("latency_max_ms")?, "latency")?,
                })
            })
            .collect()
    }

    async fn probe_totals(&self, span: Span, since: Timestamp) -> Result<Vec<(String, u64, u64, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT probe, CAST(SUM(runs) AS BIGINT) AS runs, CAST(SUM(ok) AS BIGINT) AS ok,
                    CAST(SUM(latency_sum_ms) AS BIGINT) AS latency FROM probe_rollups
             WHERE span = $1 AND start_ms >= $2 GROUP BY probe ORDER BY probe",
        )
        .bind(span.as_str())
        .bind(since.as_millisecond())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("probe")?,
                    uint(row.try_get("runs")?, "runs")?,
                    uint(row.try_get("ok")?, "runs")?,
                    uint(row.try_get("latency")?, "latency")?,
                ))
            })
            .collect()
    }

    async fn expire_probe_data(&self, span: Span, cutoff: Timestamp, keep: &[String]) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut gone = sqlx::query("DELETE FROM probe_rollups WHERE span = $1 AND start_ms < $2")
            .bind(span.as_str())
            .bind(cutoff.as_millisecond())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let stored: Vec<String> = sqlx::query_scalar("SELECT probe FROM probe_status")
            .fetch_all(&mut *tx)
            .await?;
        for probe in stored.iter().filter(|p| !keep.contains(p)) {
            gone += sqlx::query("DELETE FROM probe_status WHERE probe = $1")
                .bind(probe)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(gone)
    }
}
