//! The store written once for both backends: each backend's module declares this one,
//! with `Backend` its store, which gives what differs through [`Dialect`].

mod audit_reports;
mod blocks;
mod events;
mod evidence;
mod identity;
mod integrations;
mod outbox;
mod plans;
mod probes;
mod recipients;
mod signals;
mod switches;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use tocsin_core::Timestamp;
use tocsin_core::audit::{AuditEntry, ChainHash, EntryDraft};
use tocsin_core::clock::{Clock, ClockKind};
use tocsin_core::incident::{Incident, IncidentNumber, Status};

use super::Backend;
use crate::dialect::{Dialect, Turn};
use crate::migrate;
use crate::{
    ChainHead, ChainStore, IncidentChange, IncidentDraft, IncidentFilter, IncidentStore, IncidentSummary,
    InstanceStore, OpenClock, StoreError,
};

type Db = <Backend as Dialect>::Db;
type Pool = sqlx::Pool<Db>;
pub(super) type Tx = crate::dialect::Tx<Backend>;
pub(super) use events::login_columns;
type DbRow = <Db as sqlx::Database>::Row;

fn int(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is out of range")))
}

fn uint(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is negative")))
}

fn time(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|_| StoreError::Corrupt(format!("time {ms} ms is out of range")))
}

fn opt_time(ms: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    ms.map(time).transpose()
}

fn number(value: i64) -> Result<IncidentNumber, StoreError> {
    IncidentNumber::new(uint(value, "incident number")?).ok_or_else(|| StoreError::Corrupt("incident number 0".into()))
}

fn status(text: &str) -> Result<Status, StoreError> {
    text.parse().map_err(StoreError::Corrupt)
}

/// A unique index refused the row: the name is taken.
fn duplicate(e: sqlx::Error, what: String) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(what),
        _ => StoreError::Database(e),
    }
}

pub(super) async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut tx = Backend::begin_migration(pool).await?;
    match apply_migrations(&mut tx).await {
        Ok(()) => Ok(tx.commit().await?),
        Err(e) => {
            // Roll back now: a transaction left open would hold its locks until the
            // connection closes.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn apply_migrations(tx: &mut Tx) -> Result<(), StoreError> {
    // Only when missing: a role that does not own the tables (as tocsin should run on
    // PostgreSQL) may not create anything, not even what exists.
    let ledger: bool = sqlx::query_scalar(Backend::LEDGER_EXISTS_SQL)
        .fetch_one(&mut **tx)
        .await?;
    if !ledger {
        sqlx::raw_sql(migrate::CREATE_LEDGER).execute(&mut **tx).await?;
    }
    let applied: Vec<(i64, String)> = sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("version")?, r.try_get("checksum")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    for migration in migrate::pending(Backend::MIGRATIONS, &applied)? {
        sqlx::raw_sql(migration.sql).execute(&mut **tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_ms) VALUES ($1, $2, $3, $4)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(migration.checksum())
            .bind(Timestamp::now().as_millisecond())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Seals `drafts` onto the end of the chain inside `tx`, and moves the head.
async fn append(tx: &mut Tx, drafts: Vec<EntryDraft>) -> Result<(), StoreError> {
    let head = sqlx::query(Backend::LOCK_HEAD_SQL).fetch_one(&mut **tx).await?;
    let mut seq = uint(head.try_get("seq")?, "chain head")?;
    let head_hash: String = head.try_get("hash")?;
    let mut prev =
        ChainHash::from_hex(&head_hash).ok_or_else(|| StoreError::Corrupt("the chain head hash is not hex".into()))?;
    let mut entries = Vec::with_capacity(drafts.len());
    for draft in drafts {
        seq += 1;
        let entry = draft.seal(seq, prev);
        prev = entry.hash;
        entries.push(entry);
    }
    if entries.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::<Db>::new(
        "INSERT INTO audit_log (seq, incident, action, actor, at_ms, recorded_ms, data, prev_hash, hash) ",
    );
    let mut rows = Vec::with_capacity(entries.len());
    for e in &entries {
        rows.push((
            int(e.seq, "sequence number")?,
            e.incident.map(|n| int(n.get(), "incident number")).transpose()?,
            e,
        ));
    }
    insert.push_values(rows, |mut row, (seq, incident, e)| {
        row.push_bind(seq)
            .push_bind(incident)
            .push_bind(e.action.clone())
            .push_bind(e.actor.clone())
            .push_bind(e.at.as_millisecond())
            .push_bind(e.recorded_at.as_millisecond())
            .push_bind(e.data.to_string())
            .push_bind(e.prev_hash.to_hex())
            .push_bind(e.hash.to_hex());
    });
    insert.build().execute(&mut **tx).await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(int(seq, "sequence number")?)
        .bind(prev.to_hex())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves the cursor `name` (how far a follower has read) to `seq`, in `tx`.
async fn save_cursor(tx: &mut Tx, name: &str, seq: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO event_cursors (name, seq) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    )
    .bind(name)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn replace_clocks(tx: &mut Tx, number: IncidentNumber, clocks: &[Clock]) -> Result<(), StoreError> {
    let n = int(number.get(), "incident number")?;
    sqlx::query("DELETE FROM clocks WHERE incident = $1")
        .bind(n)
        .execute(&mut **tx)
        .await?;
    if clocks.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::<Db>::new(
        "INSERT INTO clocks (incident, position, clock, kind, name, started_ms, due_ms, met_ms, breached_ms, applicable, is_open, waived, remind_every) ",
    );
    insert.push_values(clocks.iter().enumerate(), |mut row, (position, c)| {
        row.push_bind(n)
            .push_bind(i64::try_from(position).unwrap_or(i64::MAX))
            .push_bind(c.id.clone())
            .push_bind(c.kind.as_str())
            .push_bind(c.name.clone())
            .push_bind(c.started_at.as_millisecond())
            .push_bind(c.due_at.map(Timestamp::as_millisecond))
            .push_bind(c.met_at.map(Timestamp::as_millisecond))
            .push_bind(c.breached_at.map(Timestamp::as_millisecond))
            .push_bind(c.applicable)
            .push_bind(c.open)
            .push_bind(c.waived.clone())
            .push_bind(c.remind_every.map(|d| d.to_string()));
    });
    insert.build().execute(&mut **tx).await?;
    Ok(())
}

fn entry_from(row: &DbRow) -> Result<AuditEntry, StoreError> {
    let hash = |column: &str| -> Result<ChainHash, StoreError> {
        let text: String = row.try_get(column)?;
        ChainHash::from_hex(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("{column} \"{text}\" is not a SHA-256 hex digest")))
    };
    let data: String = row.try_get("data")?;
    Ok(AuditEntry {
        seq: uint(row.try_get("seq")?, "sequence number")?,
        incident: row.try_get::<Option<i64>, _>("incident")?.map(number).transpose()?,
        action: row.try_get("action")?,
        actor: row.try_get("actor")?,
        at: time(row.try_get("at_ms")?)?,
        recorded_at: time(row.try_get("recorded_ms")?)?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(format!("entry data is not JSON: {e}")))?,
        prev_hash: hash("prev_hash")?,
        hash: hash("hash")?,
    })
}

fn clock_from(row: &DbRow) -> Result<Clock, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(Clock {
        id: row.try_get("clock")?,
        kind: ClockKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("unknown clock kind \"{kind}\"")))?,
        name: row.try_get("name")?,
        started_at: time(row.try_get("started_ms")?)?,
        due_at: opt_time(row.try_get("due_ms")?)?,
        met_at: opt_time(row.try_get("met_ms")?)?,
        breached_at: opt_time(row.try_get("breached_ms")?)?,
        applicable: row.try_get("applicable")?,
        open: row.try_get("is_open")?,
        waived: row.try_get("waived")?,
        remind_every: cadence(row.try_get("remind_every")?)?,
    })
}

/// A reminder cadence as stored.
fn cadence(text: Option<String>) -> Result<Option<tocsin_core::duration::Duration>, StoreError> {
    text.map(|t| {
        tocsin_core::duration::Duration::parse(&t)
            .map_err(|e| StoreError::Corrupt(format!("reminder cadence \"{t}\": {e}")))
    })
    .transpose()
}

fn summary_from(row: &DbRow) -> Result<IncidentSummary, StoreError> {
    Ok(IncidentSummary {
        number: number(row.try_get("number")?)?,
        title: row.try_get("title")?,
        severity: row.try_get("severity")?,
        status: status(row.try_get("status")?)?,
        owner: row.try_get("owner")?,
        personal_data: row.try_get("personal_data")?,
        declared_at: time(row.try_get("declared_ms")?)?,
        updated_at: time(row.try_get("updated_ms")?)?,
        version: uint(row.try_get("version")?, "version")?,
    })
}

/// One open clock as the aggregate query encodes it: incident, position, title, severity,
/// clock, kind, name, started, due, met, breached, applicable, open, status, waived, reminder
/// cadence.
#[derive(serde::Deserialize)]
struct OpenClockRow(
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Flag,
    Flag,
    String,
    Option<String>,
    Option<String>,
);

/// A boolean that SQLite's JSON writes as 0 or 1 and PostgreSQL's as false or true.
struct Flag(bool);

impl<'de> serde::Deserialize<'de> for Flag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(b) => Ok(Flag(b)),
            serde_json::Value::Number(n) => Ok(Flag(n.as_i64() != Some(0))),
            other => Err(serde::de::Error::custom(format!("{other} is not a flag"))),
        }
    }
}

/// Adds ` AND column IN (...)` when `values` has any.
fn push_in(query: &mut QueryBuilder<Db>, column: &str, values: impl Iterator<Item = String>) {
    let mut values = values.peekable();
    if values.peek().is_none() {
        return;
    }
    query.push(format!(" AND {column} IN ("));
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    query.push(")");
}

const CLOCK_COLUMNS: &str = "c.clock, c.kind, c.name, c.started_ms, c.due_ms, c.met_ms, c.breached_ms, c.applicable, c.is_open, c.waived, c.remind_every";

#[async_trait]
impl IncidentStore for Backend {
    async fn create_incident(&self, draft: IncidentDraft) -> Result<IncidentNumber, StoreError> {
        let mut tx = self.begin_write().await?;
        let next: i64 = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'incident' RETURNING value")
            .fetch_one(&mut *tx)
            .await?
            .try_get("value")?;
        let n = number(next)?;
        let incident: &Incident = &draft.incident;
        sqlx::query(
            "INSERT INTO incidents (number, title, severity, status, owner, personal_data, declared_ms, updated_ms, version,
                 runs_due_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(next)
        .bind(&incident.title)
        .bind(incident.severity.as_str())
        .bind(incident.status.as_str())
        .bind(&incident.owner)
        .bind(incident.personal_data)
        .bind(incident.declared_at.as_millisecond())
        .bind(incident.updated_at.as_millisecond())
        .bind(int(incident.version, "version")?)
        .bind(incident.runs_due().map(Timestamp::as_millisecond))
        .execute(&mut *tx)
        .await?;
        let entries = draft
            .entries
            .into_iter()
            .map(|e| EntryDraft { incident: Some(n), ..e })
            .collect();
        append(&mut tx, entries).await?;
        plans::check_plan_version(&mut tx, draft.plan_version).await?;
        replace_clocks(&mut tx, n, &draft.clocks).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn update_incident(&self, change: IncidentChange) -> Result<(), StoreError> {
        let incident = &change.incident;
        let n = incident.number;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE incidents SET title = $1, severity = $2, status = $3, owner = $4, personal_data = $5,
                 updated_ms = $6, version = $7, runs_due_ms = $10
             WHERE number = $8 AND version = $9",
        )
        .bind(&incident.title)
        .bind(incident.severity.as_str())
        .bind(incident.status.as_str())
        .bind(&incident.owner)
        .bind(incident.personal_data)
        .bind(incident.updated_at.as_millisecond())
        .bind(int(incident.version, "version")?)
        .bind(int(n.get(), "incident number")?)
        .bind(int(change.expected_version, "version")?)
        .bind(incident.runs_due().map(Timestamp::as_millisecond))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let exists = sqlx::query("SELECT 1 FROM incidents WHERE number = $1")
                .bind(int(n.get(), "incident number")?)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Err(if exists {
                StoreError::Conflict(n)
            } else {
                StoreError::IncidentNotFound(n)
            });
        }
        let entries = change
            .entries
            .into_iter()
            .map(|e| EntryDraft { incident: Some(n), ..e })
            .collect();
        append(&mut tx, entries).await?;
        plans::check_plan_version(&mut tx, change.plan_version).await?;
        replace_clocks(&mut tx, n, &change.clocks).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn incident_history(&self, number: IncidentNumber) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE incident = $1 ORDER BY seq")
            .bind(int(number.get(), "incident number")?)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::IncidentNotFound(number));
        }
        rows.iter().map(entry_from).collect()
    }

    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentSummary>, StoreError> {
        let mut query = QueryBuilder::<Db>::new("SELECT * FROM incidents WHERE 1 = 1");
        push_in(
            &mut query,
            "status",
            filter.statuses.iter().map(|s| s.as_str().to_owned()),
        );
        push_in(&mut query, "severity", filter.severities.iter().cloned());
        if let Some(owner) = &filter.owner {
            query.push(" AND owner = ").push_bind(owner.clone());
        }
        if let Some(text) = &filter.text {
            let pattern = format!(
                "%{}%",
                text.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            query
                .push(" AND LOWER(title) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        if let Some(before) = filter.before {
            query
                .push(" AND number < ")
                .push_bind(int(before.get(), "incident number")?);
        }
        query.push(" ORDER BY number DESC");
        if let Some(limit) = filter.limit {
            query.push(" LIMIT ").push_bind(i64::from(limit));
        }
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(summary_from).collect()
    }

    async fn clocks(&self, number: IncidentNumber) -> Result<Vec<Clock>, StoreError> {
        let sql = format!("SELECT {CLOCK_COLUMNS} FROM clocks c WHERE c.incident = $1 ORDER BY c.position");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(int(number.get(), "incident number")?)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(clock_from).collect()
    }

    async fn runs_due(&self, now: Timestamp) -> Result<Vec<IncidentNumber>, StoreError> {
        let rows: Vec<i64> = sqlx::query_scalar(
            "SELECT number FROM incidents WHERE runs_due_ms <= $1 ORDER BY runs_due_ms, number LIMIT 1000",
        )
        .bind(now.as_millisecond())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(number).collect()
    }

    async fn open_clocks(&self) -> Result<Vec<OpenClock>, StoreError> {
        // One row holding every open clock as JSON: reading thousands of rows one by one
        // costs several times more than the query itself (see the incidents benchmark).
        let text: String = sqlx::query(Backend::OPEN_CLOCKS_SQL)
            .fetch_one(&self.pool)
            .await?
            .try_get("clocks")?;
        let rows: Vec<OpenClockRow> =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("open clocks: {e}")))?;
        let mut open = rows
            .into_iter()
            .map(|r| {
                let clock = Clock {
                    id: r.4,
                    kind: ClockKind::parse(&r.5)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown clock kind \"{}\"", r.5)))?,
                    name: r.6,
                    started_at: time(r.7)?,
                    due_at: opt_time(r.8)?,
                    met_at: opt_time(r.9)?,
                    breached_at: opt_time(r.10)?,
                    applicable: r.11.0,
                    open: r.12.0,
                    waived: r.14,
                    remind_every: cadence(r.15)?,
                };
                Ok((
                    r.1,
                    OpenClock {
                        incident: number(r.0)?,
                        title: r.2,
                        severity: r.3,
                        status: status(&r.13)?,
                        clock,
                    },
                ))
            })
            .collect::<Result<Vec<(i64, OpenClock)>, StoreError>>()?;
        open.sort_by_key(|(position, o)| (o.clock.due_at.is_none(), o.clock.due_at, o.incident, *position));
        Ok(open.into_iter().map(|(_, o)| o).collect())
    }
}

#[async_trait]
impl ChainStore for Backend {
    async fn audit_entries(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(int(after_seq, "sequence number")?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from).collect()
    }

    async fn chain_head(&self) -> Result<ChainHead, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let hash: String = row.try_get("hash")?;
        Ok(ChainHead {
            seq: uint(row.try_get("seq")?, "chain head")?,
            hash: ChainHash::from_hex(&hash)
                .ok_or_else(|| StoreError::Corrupt("the chain head hash is not hex".into()))?,
        })
    }

    async fn record(&self, entry: EntryDraft) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        append(&mut tx, vec![entry]).await?;
        Ok(tx.commit().await?)
    }
}

#[async_trait]
impl InstanceStore for Backend {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn take_duty(&self, duty: crate::duty::Duty) -> Result<Option<crate::duty::OnDuty>, StoreError> {
        self.try_duty(duty).await
    }

    async fn deployment_warnings(&self) -> Result<Vec<String>, StoreError> {
        Backend::ownership_warnings(&self.pool).await
    }
}
