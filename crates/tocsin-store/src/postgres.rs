//! PostgreSQL, for several tocsin instances sharing one database.

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use self::shared::{Tx, login_columns, migrate};
use crate::StoreError;
use crate::dialect::{Dialect, Turn};
use crate::events::NewEvent;
use crate::migrate::Migration;

type Db = sqlx::Postgres;
type Pool = sqlx::PgPool;
type Backend = PgStore;

/// An advisory lock's key: which lock (`$1`) in which schema, so that deployments sharing
/// one database in schemas of their own do not wait for each other.
macro_rules! advisory_key {
    () => {
        "$1, hashtext(current_schema())"
    };
}

/// Serializes schema migrations across instances for the length of one transaction.
const MIGRATION_LOCK: i32 = 0x746f_0001;
/// Serializes appends to the event log.
const EVENT_LOG_LOCK: i32 = 0x746f_0002;
/// Serializes login reservations, so that two servers count each other's attempts.
const LOGIN_LOCK: i32 = 0x746f_0003;
/// Held while the login trail is indexed: pages that ask for the trail index it too.
const TRAIL_LOCK: i32 = 0x746f_0004;

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

/// Holds the advisory lock `key` (in this schema) until the transaction ends.
async fn advisory_xact_lock(tx: &mut Tx, key: i32) -> Result<(), StoreError> {
    sqlx::query(concat!("SELECT pg_advisory_xact_lock(", advisory_key!(), ")"))
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Dialect for PgStore {
    type Db = Db;

    const MIGRATIONS: &'static [Migration] = crate::migrate::migrations!("postgres");

    /// PostgreSQL orders its writers itself.
    type WriteGuard = ();

    async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: self.pool.begin().await?,
            _held: (),
        })
    }

    async fn begin_migration(pool: &Pool) -> Result<Tx, StoreError> {
        let mut tx = Tx {
            inner: pool.begin().await?,
            _held: (),
        };
        advisory_xact_lock(&mut tx, MIGRATION_LOCK).await?;
        Ok(tx)
    }

    const OPEN_CLOCKS_SQL: &'static str = "SELECT COALESCE(json_agg(json_build_array(
            c.incident, c.position, i.title, i.severity, c.clock, c.kind, c.name, c.started_ms,
            c.due_ms, c.met_ms, c.breached_ms, c.applicable, c.is_open, i.status, c.waived, c.remind_every)), '[]')::text AS clocks
        FROM clocks c JOIN incidents i ON i.number = c.incident
        WHERE c.is_open";

    const LEDGER_EXISTS_SQL: &'static str = "SELECT to_regclass('schema_migrations') IS NOT NULL";

    /// A superuser may turn the append-only trigger off for its session
    /// (`session_replication_role = replica`); an owner of the tables may drop it.
    async fn ownership_warnings(pool: &Pool) -> Result<Vec<String>, StoreError> {
        let row = sqlx::query(
            "SELECT current_user::text AS me, r.rolsuper AS superuser,
                    (SELECT count(*) FROM pg_tables t
                      WHERE t.schemaname = current_schema() AND t.tableowner = current_user) AS owned
               FROM pg_roles r WHERE r.rolname = current_user",
        )
        .fetch_one(pool)
        .await?;
        let me: String = row.try_get("me")?;
        let superuser: bool = row.try_get("superuser")?;
        let owned: i64 = row.try_get("owned")?;
        let advice = "connect as a role that owns no table and may only read and write rows (the README's deployment section shows how)";
        let mut warnings = Vec::new();
        if superuser {
            warnings.push(format!(
                "tocsin connects to PostgreSQL as {me}, a superuser, who can switch off the audit log's append-only trigger and rewrite it; {advice}"
            ));
        }
        if owned > 0 {
            warnings.push(format!(
                "tocsin connects to PostgreSQL as {me}, the owner of {owned} of its tables, who can drop the audit log's append-only trigger; {advice}"
            ));
        }
        Ok(warnings)
    }

    const LOCK_HEAD_SQL: &'static str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

    /// The duty's advisory lock, on a connection of its own that holds it.
    async fn try_duty(&self, duty: crate::duty::Duty) -> Result<Option<crate::duty::OnDuty>, StoreError> {
        let mut conn = self.pool.acquire().await?.detach();
        let taken: bool = sqlx::query_scalar(concat!("SELECT pg_try_advisory_lock(", advisory_key!(), ")"))
            .bind(duty.lock_key())
            .fetch_one(&mut conn)
            .await?;
        Ok(taken.then(|| crate::duty::OnDuty::new(crate::duty::Held::Postgres(conn))))
    }

    /// A transaction-level advisory lock per turn.
    async fn take_turn(tx: &mut Tx, turn: Turn) -> Result<(), StoreError> {
        let key = match turn {
            Turn::EventLog => EVENT_LOG_LOCK,
            Turn::Logins => LOGIN_LOCK,
            Turn::LoginTrail => TRAIL_LOCK,
        };
        advisory_xact_lock(tx, key).await
    }

    /// Rows per INSERT statement when appending events.
    const INSERT_CHUNK: usize = 10_000;

    /// One INSERT of eight arrays, a column each, unnested in their order: far fewer
    /// parameters to send and plan than a row of them per event.
    async fn insert_rows(tx: &mut Tx, events: &[NewEvent]) -> Result<(), StoreError> {
        let n = events.len();
        let (mut received, mut at, mut kind, mut origin) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut ip, mut user, mut outcome, mut body) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for e in events {
            let (i, u, o) = login_columns(e);
            received.push(e.received_ms);
            at.push(e.at_ms);
            kind.push(e.kind);
            origin.push(&*e.origin);
            ip.push(i);
            user.push(u);
            outcome.push(o);
            body.push(e.body.as_str());
        }
        sqlx::query(
            "INSERT INTO events (received_ms, at_ms, kind, origin, login_ip, login_user, login_outcome, body)
             SELECT r, a, k, o, i, u, c, b
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                  WITH ORDINALITY AS e(r, a, k, o, i, u, c, b, n)
             ORDER BY n",
        )
        .bind(received)
        .bind(at)
        .bind(kind)
        .bind(origin)
        .bind(ip)
        .bind(user)
        .bind(outcome)
        .bind(body)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Rows another instance is claiming are skipped, not waited for.
    const CLAIM_LOCK: &'static str = "FOR UPDATE SKIP LOCKED";
}

/// The store's code written once for both backends, compiled here for this one.
#[path = "shared/mod.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend")]
mod shared;
