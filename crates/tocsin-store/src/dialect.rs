//! What each backend gives the store code written once for both (`shared/`): its sqlx
//! database, how it orders writers, and the few statements whose SQL differs. The compiler
//! holds both backends to this contract.

use crate::StoreError;
use crate::events::NewEvent;
use crate::migrate::Migration;

pub(crate) trait Dialect: Sized + Send + Sync + 'static {
    /// The sqlx database; one SQL text serves both, since SQLite accepts `$1` placeholders.
    type Db: sqlx::Database;
    /// What a write transaction holds beside it while it is open (on SQLite, the process's
    /// write gate).
    type WriteGuard: Send;
    /// The backend's migrations, from `migrate::migrations!`.
    const MIGRATIONS: &'static [Migration];
    /// Whether the migrations' ledger exists: one boolean.
    const LEDGER_EXISTS_SQL: &'static str;
    /// The audit chain's head row, locked for the rest of the transaction where the
    /// backend locks rows.
    const LOCK_HEAD_SQL: &'static str;
    /// Every open clock with its incident's title, severity and status, as one JSON array.
    const OPEN_CLOCKS_SQL: &'static str;
    /// How the statement that claims due notifications treats rows another claimer is
    /// taking at the same moment: appended to the rows it picks.
    const CLAIM_LOCK: &'static str;
    /// Rows per INSERT statement when appending events.
    const INSERT_CHUNK: usize;

    /// A write transaction, in the order the backend gives writers their turn.
    async fn begin_write(&self) -> Result<Tx<Self>, StoreError>;
    /// The transaction that applies migrations, one instance at a time.
    async fn begin_migration(pool: &sqlx::Pool<Self::Db>) -> Result<Tx<Self>, StoreError>;
    /// Waits, inside `tx`, until no other transaction holds `turn`, and holds it until `tx`
    /// ends.
    async fn take_turn(tx: &mut Tx<Self>, turn: Turn) -> Result<(), StoreError>;
    /// At most `INSERT_CHUNK` events in one statement.
    async fn insert_rows(tx: &mut Tx<Self>, events: &[NewEvent]) -> Result<(), StoreError>;
    /// The duty's lock, held until the returned value is dropped, or `None` when another
    /// process holds it.
    async fn try_duty(&self, duty: crate::duty::Duty) -> Result<Option<crate::duty::OnDuty>, StoreError>;
    /// What the database's deployment lets someone do behind tocsin's back.
    async fn ownership_warnings(pool: &sqlx::Pool<Self::Db>) -> Result<Vec<String>, StoreError>;
}

/// What writers take turns at, one transaction at a time, beyond what their own rows
/// keep apart.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Turn {
    /// Appends to the event log, so sequence numbers become visible in order.
    EventLog,
    /// Login reservations: each counts the attempts reserved before it.
    Logins,
    /// Indexing the login trail: each indexer starts where the last stopped.
    LoginTrail,
}

/// A write transaction, with whatever its backend holds beside it while it is open.
pub(crate) struct Tx<D: Dialect> {
    pub(crate) inner: sqlx::Transaction<'static, D::Db>,
    pub(crate) _held: D::WriteGuard,
}

impl<D: Dialect> std::ops::Deref for Tx<D> {
    type Target = <D::Db as sqlx::Database>::Connection;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<D: Dialect> std::ops::DerefMut for Tx<D> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl<D: Dialect> Tx<D> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}
