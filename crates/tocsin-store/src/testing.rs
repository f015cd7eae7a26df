//! Fresh databases for tests: a SQLite file, and a PostgreSQL schema when one is configured.
//!
//! PostgreSQL tests run when `TOCSIN_TEST_POSTGRES_URL` is set. Without it they are skipped
//! with a loud message, unless `TOCSIN_REQUIRE_POSTGRES=1` (set by CI) makes that a failure.
#![allow(clippy::unwrap_used, reason = "test support: a failure here is a failed test")]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Once};

use sqlx::Connection;
use tocsin_core::Timestamp;

use crate::{Store, StoreError};

/// One fresh, empty database that a test owns.
#[derive(Debug)]
pub struct TestDb {
    pub backend: &'static str,
    /// What `tocsin --db` takes.
    pub url: String,
    raw_url: String,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL schema to drop when the test is done.
    schema: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs outside async code: use a small runtime on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&base).await.ok()?;
                // A test that leaked a lock must not hang here; its schema is dropped by a
                // later run instead.
                let sql = format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.ok()
            })
        });
        let _ = dropped.join();
    }
}

/// See [`TestDb::block_appends`].
#[derive(Debug)]
pub enum AppendBlock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

static NEXT: AtomicU32 = AtomicU32::new(0);
static SKIP_NOTICE: Once = Once::new();

const POSTGRES_URL: &str = "TOCSIN_TEST_POSTGRES_URL";
const REQUIRE_POSTGRES: &str = "TOCSIN_REQUIRE_POSTGRES";

/// The configured PostgreSQL's URL, for tests that work in it themselves; `None` (said
/// loudly, and refused where PostgreSQL is required) when none is.
pub fn postgres_url() -> Option<String> {
    let Ok(url) = std::env::var(POSTGRES_URL) else {
        assert!(
            std::env::var(REQUIRE_POSTGRES).as_deref() != Ok("1"),
            "{REQUIRE_POSTGRES}=1 but {POSTGRES_URL} is not set: PostgreSQL tests are mandatory here"
        );
        // Written straight to stderr, past the test harness's capture, so it is seen.
        SKIP_NOTICE.call_once(|| {
            let notice = format!(
                "\n!!! SKIPPED: PostgreSQL tests. Set {POSTGRES_URL}=postgres://postgres@127.0.0.1:5432/test to run them. !!!\n\n"
            );
            let _ = std::io::stderr().write_all(notice.as_bytes());
        });
        return None;
    };
    Some(url)
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("tocsin.db");
        TestDb {
            backend: "sqlite",
            url: format!("sqlite:{}", path.display()),
            raw_url: format!("sqlite:{}", path.display()),
            _dir: Some(dir),
            schema: None,
        }
    }

    /// A new schema in the configured PostgreSQL, or `None` (said loudly) when none is.
    pub async fn postgres() -> Option<TestDb> {
        let base = postgres_url()?;
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_URL} is set but PostgreSQL cannot be reached: {e}"));
        let now = Timestamp::now().as_second();
        let schema = format!(
            "tocsin_test_{now}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // Schemas of earlier runs that did not clean up after themselves.
        let stale: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tocsin_test_%'")
                .fetch_all(&mut admin)
                .await
                .expect("list test schemas");
        for old in stale {
            let created: i64 = old.split('_').nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
            if created < now - 3600 {
                let sql = format!("DROP SCHEMA IF EXISTS \"{old}\" CASCADE");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await
                    .expect("drop stale schema");
            }
        }
        let sql = format!("CREATE SCHEMA \"{schema}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("create test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(TestDb {
            backend: "postgres",
            url: url.clone(),
            raw_url: url,
            _dir: None,
            schema: Some((base, schema)),
        })
    }

    /// SQLite, and PostgreSQL when configured: the backends every story runs against.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    pub async fn open(&self) -> Arc<dyn Store> {
        self.try_open()
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.backend))
    }

    pub async fn try_open(&self) -> Result<Arc<dyn Store>, StoreError> {
        crate::open(&self.url).await
    }

    /// Runs SQL directly on the database, behind tocsin's back, as an intruder would.
    pub async fn tamper(&self, sql: &str) {
        self.try_tamper(sql)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.backend));
    }

    /// Like [`TestDb::tamper`], returning the database's refusal instead of panicking.
    pub async fn try_tamper(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if let Some(path) = self.raw_url.strip_prefix("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.raw_url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
        }
        Ok(())
    }

    /// One integer that `sql` selects, read directly from the database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if let Some(path) = self.raw_url.strip_prefix("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
                .await
                .expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect("scalar")
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.raw_url).await.expect("connect");
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect("scalar")
        }
    }

    /// Holds the lock that appends to the event log take, until the result is dropped:
    /// the event log's writer then waits, as it would behind a slow disk.
    pub async fn block_appends(&self) -> AppendBlock {
        if let Some(path) = self.raw_url.strip_prefix("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
                .await
                .expect("connect");
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await.expect("lock");
            AppendBlock::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.raw_url).await.expect("connect");
            // The event log's lock in this schema (`EVENT_LOG_LOCK`).
            sqlx::raw_sql("SELECT pg_advisory_lock(1953431554, hashtext(current_schema()))")
                .execute(&mut conn)
                .await
                .expect("lock");
            AppendBlock::Postgres(conn)
        }
    }

    /// SQL that removes the append-only guard of the audit log, in this backend's dialect.
    pub fn drop_append_only_guard(&self) -> &'static str {
        if self.backend == "sqlite" {
            "DROP TRIGGER audit_log_is_append_only_update; DROP TRIGGER audit_log_is_append_only_delete;"
        } else {
            "DROP TRIGGER audit_log_is_append_only ON audit_log;"
        }
    }
}
