//! The event log and the login trail indexed behind it.

use super::*;

use tocsin_core::event::parse_line;

use crate::events::{EventQuery, EventStore, FilePosition, NewEvent, StoredEvent, TrailFilter};

macro_rules! select_events {
    ($rest:literal) => {
        concat!("SELECT seq, received_ms, origin, body FROM events ", $rest)
    };
}

/// The cursor of the login trail in `event_cursors`.
const TRAIL_CURSOR: &str = "login_trail";

fn event_from(row: &DbRow) -> Result<StoredEvent, StoreError> {
    let seq = uint(row.try_get("seq")?, "event sequence number")?;
    let body: String = row.try_get("body")?;
    Ok(StoredEvent {
        seq,
        received_at: time(row.try_get("received_ms")?)?,
        origin: row.try_get("origin")?,
        event: parse_line(seq, &body).map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?,
    })
}

/// The login-trail columns of an event: its source, user and outcome when it is an auth
/// event.
pub(in super::super) fn login_columns(event: &NewEvent) -> (Option<String>, Option<&str>, Option<&str>) {
    match &event.event {
        tocsin_core::event::Event::Auth(a) => (
            Some(a.source.to_string()),
            Some(a.user.as_str()),
            Some(a.outcome.as_str()),
        ),
        _ => (None, None, None),
    }
}

/// Appends events within a transaction, after taking the log's lock; their numbers.
pub(super) async fn insert_events(tx: &mut Tx, events: &[NewEvent]) -> Result<Vec<u64>, StoreError> {
    Backend::take_turn(tx, Turn::EventLog).await?;
    for chunk in events.chunks(Backend::INSERT_CHUNK) {
        Backend::insert_rows(tx, chunk).await?;
    }
    // Under the log's lock, one transaction's rows are numbered one after another.
    let last: Option<i64> = sqlx::query("SELECT max(seq) AS seq FROM events")
        .fetch_one(&mut **tx)
        .await?
        .try_get("seq")?;
    let last = uint(last.unwrap_or(0), "event sequence number")?;
    let n = events.len() as u64;
    if last < n {
        return Err(StoreError::Corrupt(format!(
            "{n} events appended but the log ends at {last}"
        )));
    }
    Ok((last + 1 - n..=last).collect())
}

#[async_trait]
impl EventStore for Backend {
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let seqs = insert_events(&mut tx, events).await?;
        tx.commit().await?;
        Ok(seqs)
    }

    async fn append_events_from(&self, events: &[NewEvent], position: &FilePosition) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let seqs = if events.is_empty() {
            Vec::new()
        } else {
            insert_events(&mut tx, events).await?
        };
        sqlx::query(
            "INSERT INTO file_positions (source, inode, byte_offset, head, head_len) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (source) DO UPDATE SET inode = excluded.inode, byte_offset = excluded.byte_offset,
               head = excluded.head, head_len = excluded.head_len",
        )
        .bind(&position.source)
        .bind(int(position.inode, "inode")?)
        .bind(int(position.offset, "offset")?)
        .bind(&position.head)
        .bind(int(position.head_len, "head length")?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seqs)
    }

    async fn file_position(&self, source: &str) -> Result<Option<FilePosition>, StoreError> {
        let row = sqlx::query("SELECT inode, byte_offset, head, head_len FROM file_positions WHERE source = $1")
            .bind(source)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(FilePosition {
                source: source.to_owned(),
                inode: uint(row.try_get("inode")?, "inode")?,
                offset: uint(row.try_get("byte_offset")?, "offset")?,
                head: row.try_get("head")?,
                head_len: uint(row.try_get("head_len")?, "head length")?,
            })
        })
        .transpose()
    }

    async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(select_events!("WHERE seq > $1 ORDER BY seq LIMIT $2"))
            .bind(int(after, "event sequence number")?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from).collect()
    }

    async fn events_by_seq(&self, seqs: &[u64]) -> Result<Vec<StoredEvent>, StoreError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Db>::new(select_events!("WHERE seq IN ("));
        let mut list = query.separated(", ");
        for seq in seqs {
            list.push_bind(int(*seq, "event sequence number")?);
        }
        query.push(") ORDER BY seq");
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(event_from).collect()
    }

    async fn events_before(&self, q: &EventQuery, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let mut query = QueryBuilder::<Db>::new(select_events!("WHERE seq < "));
        query.push_bind(int(q.before.unwrap_or(i64::MAX as u64), "event sequence number")?);
        if let Some(kind) = &q.kind {
            query.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(origin) = &q.origin {
            query.push(" AND origin = ").push_bind(origin.clone());
        }
        if let Some(since) = q.since {
            query.push(" AND at_ms >= ").push_bind(since.as_millisecond());
        }
        if let Some(until) = q.until {
            query.push(" AND at_ms <= ").push_bind(until.as_millisecond());
        }
        query.push(" ORDER BY seq DESC LIMIT ").push_bind(i64::from(limit));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(event_from).collect()
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        let seq: Option<i64> = sqlx::query("SELECT max(seq) AS seq FROM events")
            .fetch_one(&self.pool)
            .await?
            .try_get("seq")?;
        uint(seq.unwrap_or(0), "event sequence number")
    }

    async fn index_login_trail(&self, limit: u32) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        Backend::take_turn(&mut tx, Turn::LoginTrail).await?;
        let from: Option<i64> = sqlx::query("SELECT seq FROM event_cursors WHERE name = $1")
            .bind(TRAIL_CURSOR)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get("seq"))
            .transpose()?;
        let from = from.unwrap_or(0);
        let last: Option<i64> = sqlx::query("SELECT max(seq) AS seq FROM events")
            .fetch_one(&mut *tx)
            .await?
            .try_get("seq")?;
        let to = last.unwrap_or(0).min(from + i64::from(limit));
        if to <= from {
            tx.rollback().await?;
            return Ok(0);
        }
        sqlx::query(
            "INSERT INTO login_trail (seq, at_ms, ip, user_name, outcome)
             SELECT seq, at_ms, login_ip, login_user, login_outcome FROM events
             WHERE seq > $1 AND seq <= $2 AND kind = 'auth'",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        save_cursor(&mut tx, TRAIL_CURSOR, to).await?;
        tx.commit().await?;
        uint(to - from, "events indexed")
    }

    async fn login_trail(&self, filter: &TrailFilter) -> Result<Vec<StoredEvent>, StoreError> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT e.seq, e.received_ms, e.origin, e.body FROM login_trail t JOIN events e ON e.seq = t.seq WHERE 1 = 1",
        );
        if let Some(ip) = &filter.ip {
            query.push(" AND t.ip = ").push_bind(ip.clone());
        }
        if let Some(user) = &filter.user {
            query.push(" AND t.user_name = ").push_bind(user.clone());
        }
        if let Some(outcome) = filter.outcome {
            query.push(" AND t.outcome = ").push_bind(outcome.as_str());
        }
        if let Some(since) = filter.since {
            query.push(" AND t.at_ms >= ").push_bind(since.as_millisecond());
        }
        if let Some(until) = filter.until {
            query.push(" AND t.at_ms < ").push_bind(until.as_millisecond());
        }
        if let Some(after) = filter.after {
            let (at, seq) = (after.at.as_millisecond(), int(after.seq, "event sequence number")?);
            query
                .push(" AND (t.at_ms < ")
                .push_bind(at)
                .push(" OR (t.at_ms = ")
                .push_bind(at)
                .push(" AND t.seq < ")
                .push_bind(seq)
                .push("))");
        }
        query
            .push(" ORDER BY t.at_ms DESC, t.seq DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(event_from).collect()
    }

    async fn expire_events(&self, cutoff: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        // The log is ordered by arrival: its oldest rows come first by key, no index needed.
        // Events that signals cite stay: the incidents they led to rest on them.
        let events = sqlx::query(
            "DELETE FROM events WHERE seq IN (
                SELECT seq FROM events e WHERE NOT EXISTS (SELECT 1 FROM cited_events c WHERE c.seq = e.seq)
                ORDER BY seq LIMIT $2
             ) AND received_ms < $1",
        )
        .bind(cutoff.as_millisecond())
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let trail = sqlx::query(
            "DELETE FROM login_trail WHERE seq IN (SELECT seq FROM login_trail WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
        )
        .bind(cutoff.as_millisecond())
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(events + trail)
    }
}
