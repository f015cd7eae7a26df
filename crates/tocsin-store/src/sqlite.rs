//! The embedded default: one SQLite file in WAL mode, created on first use.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::QueryBuilder;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use self::shared::{Tx, login_columns, migrate};
use crate::StoreError;
use crate::dialect::{Dialect, Turn};
use crate::events::NewEvent;
use crate::migrate::Migration;

type Db = sqlx::Sqlite;
type Pool = sqlx::SqlitePool;
type Backend = SqliteStore;

/// A SQLite database. Writers take the database's write lock at the start of their
/// transaction (`BEGIN IMMEDIATE`), so several processes can share one file safely.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
    /// This process's writers take turns here (see its `Dialect::WriteGuard`).
    writer: Arc<tokio::sync::Mutex<()>>,
    path: std::path::PathBuf,
    description: String,
}

impl SqliteStore {
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::BadUrl(format!("cannot create the database folder {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every acknowledged change survives a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // Switching a new file to WAL takes an exclusive lock, and SQLite answers "busy" at
        // once instead of waiting when several processes create the same database together.
        let mut attempt = 0;
        let pool = loop {
            match Self::connect(options.clone()).await {
                Err(e) if is_busy(&e) && attempt < OPEN_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                other => break other?,
            }
        };
        Ok(SqliteStore {
            pool,
            writer: Arc::default(),
            path: path.to_owned(),
            description: format!("sqlite:{}", path.display()),
        })
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Pool, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        if let Err(e) = migrate(&pool).await {
            pool.close().await;
            return Err(e);
        }
        Ok(pool)
    }
}

/// How long a writer waits for the database's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often opening is tried again while another process is creating the database.
const OPEN_ATTEMPTS: u32 = 20;

/// SQLITE_BUSY: another connection holds a lock that SQLite would not wait for.
fn is_busy(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("5"))
}

impl Dialect for SqliteStore {
    type Db = Db;

    const MIGRATIONS: &'static [Migration] = crate::migrate::migrations!("sqlite");

    /// The process's turn to write: held from `BEGIN IMMEDIATE` to the commit, so that its
    /// writers (the event log's, the detectors', requests') queue here and each goes the
    /// moment the one before commits. Left to SQLite, a writer that finds the database locked
    /// sleeps up to 100 ms before it looks again, and an alert storm, whose writes come from
    /// both the log and the detectors, crawled at a tenth of its speed. Other processes (the
    /// CLI beside a server) still meet at SQLite's lock.
    type WriteGuard = Option<tokio::sync::OwnedMutexGuard<()>>;

    async fn begin_write(&self) -> Result<Tx, StoreError> {
        // A turn that does not come within SQLite's own patience is not waited for: the writer
        // goes on to SQLite's lock, which waits or fails as it did before the gate.
        let turn = tokio::time::timeout(BUSY_TIMEOUT, Arc::clone(&self.writer).lock_owned())
            .await
            .ok();
        Ok(Tx {
            inner: self.pool.begin_with("BEGIN IMMEDIATE").await?,
            _held: turn,
        })
    }

    async fn begin_migration(pool: &Pool) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: pool.begin_with("BEGIN IMMEDIATE").await?,
            _held: None,
        })
    }

    const OPEN_CLOCKS_SQL: &'static str = "SELECT json_group_array(json_array(
            c.incident, c.position, i.title, i.severity, c.clock, c.kind, c.name, c.started_ms,
            c.due_ms, c.met_ms, c.breached_ms, c.applicable, c.is_open, i.status, c.waived, c.remind_every)) AS clocks
        FROM clocks c JOIN incidents i ON i.number = c.incident
        WHERE c.is_open";

    const LEDGER_EXISTS_SQL: &'static str =
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')";

    /// A file's owner can rewrite it whatever tocsin does; SQLite has nothing more to say.
    async fn ownership_warnings(_pool: &Pool) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// `BEGIN IMMEDIATE` already holds the database's one write lock: the row is only read.
    const LOCK_HEAD_SQL: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1";

    /// `BEGIN IMMEDIATE` already holds the database's one write lock, across processes
    /// too: every turn is taken.
    async fn take_turn(_tx: &mut Tx, _turn: Turn) -> Result<(), StoreError> {
        Ok(())
    }

    /// Rows per INSERT statement when appending events.
    const INSERT_CHUNK: usize = 1000;

    /// One multi-row INSERT.
    async fn insert_rows(tx: &mut Tx, events: &[NewEvent]) -> Result<(), StoreError> {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO events (received_ms, at_ms, kind, origin, login_ip, login_user, login_outcome, body) ",
        );
        query.push_values(events, |mut row, e| {
            let (ip, user, outcome) = login_columns(e);
            row.push_bind(e.received_ms)
                .push_bind(e.at_ms)
                .push_bind(e.kind)
                .push_bind(&*e.origin)
                .push_bind(ip)
                .push_bind(user)
                .push_bind(outcome)
                .push_bind(e.body.as_str());
        });
        query.build().execute(&mut **tx).await?;
        Ok(())
    }

    /// The duty's lock: a file lock on `DATABASE.DUTY.lock`, which the system lets go of when
    /// the process ends, however it ends.
    async fn try_duty(&self, duty: crate::duty::Duty) -> Result<Option<crate::duty::OnDuty>, StoreError> {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{}.lock", duty.as_str()));
        let path = std::path::PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::File(format!("cannot open the lock file {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(crate::duty::OnDuty::new(crate::duty::Held::File { _open: file }))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(StoreError::File(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }

    /// The write lock keeps claims apart: nothing to add.
    const CLAIM_LOCK: &'static str = "";
}

/// The store's code written once for both backends, compiled here for this one.
#[path = "shared/mod.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend")]
mod shared;
