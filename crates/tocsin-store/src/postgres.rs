//! PostgreSQL, for several tocsin instances sharing one database.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type Db = sqlx::Postgres;
type Pool = sqlx::PgPool;
type Backend = PgStore;

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "incidents_and_audit_chain",
        sql: include_str!("../migrations/postgres/0001_incidents_and_audit_chain.sql"),
    },
    Migration {
        version: 2,
        name: "identity",
        sql: include_str!("../migrations/postgres/0002_identity.sql"),
    },
    Migration {
        version: 3,
        name: "event_log",
        sql: include_str!("../migrations/postgres/0003_event_log.sql"),
    },
    Migration {
        version: 4,
        name: "signals",
        sql: include_str!("../migrations/postgres/0004_signals.sql"),
    },
];

/// Serializes schema migrations across instances for the length of one transaction.
const MIGRATION_LOCK: i64 = 0x746f_6373_696e_0001;
/// Serializes appends to the event log.
const EVENT_LOG_LOCK: i64 = 0x746f_6373_696e_0002;

/// A PostgreSQL database. Appends to the audit chain lock its head row, so entries from
/// concurrent writers line up one after another.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
    description: String,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::BadUrl(format!("invalid PostgreSQL URL \"{}\": {e}", crate::redact(url))))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await?;
        if let Err(e) = migrate(&pool).await {
            pool.close().await;
            return Err(e);
        }
        Ok(PgStore {
            pool,
            description: crate::redact(url),
        })
    }
}

async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    Ok(pool.begin().await?)
}

async fn begin_migration(pool: &Pool) -> Result<Tx, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

const OPEN_CLOCKS_SQL: &str = "SELECT COALESCE(json_agg(json_build_array(
        c.incident, c.position, i.title, i.severity, c.clock, c.kind, c.name, c.started_ms,
        c.due_ms, c.met_ms, c.breached_ms, c.applicable, c.is_open, i.status)), '[]')::text AS clocks
    FROM clocks c JOIN incidents i ON i.number = c.incident
    WHERE c.is_open";

fn lock_head_sql() -> &'static str {
    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
}

/// The role's advisory lock, on a connection of its own that holds it.
async fn take_lead(store: &PgStore, role: crate::lead::Role) -> Result<Option<crate::lead::Lead>, StoreError> {
    let mut conn = store.pool.acquire().await?.detach();
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(role.lock_key())
        .fetch_one(&mut conn)
        .await?;
    Ok(taken.then(|| crate::lead::Lead::new(role, crate::lead::Held::Postgres(conn))))
}

/// Appends follow one another, so sequence numbers become visible in order.
async fn lock_event_log(tx: &mut Tx) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENT_LOG_LOCK)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Rows per INSERT statement when appending events.
const INSERT_CHUNK: usize = 1000;

include!("shared.rs");
include!("shared_identity.rs");
include!("shared_events.rs");
include!("shared_signals.rs");
