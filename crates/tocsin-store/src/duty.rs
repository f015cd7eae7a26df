//! Duties: work that one instance at a time does, because it must not be done twice (the
//! detectors, and the chat bots). The instance on duty holds a lock the database hands out once. On PostgreSQL
//! that is an advisory lock on a connection of its own; on SQLite, a file lock beside the
//! database, which also keeps `tocsin ingest` and a running `tocsin serve` from both
//! detecting on one file.

use sqlx::PgConnection;

/// Work only one instance does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duty {
    /// Following the event log with the detectors and carrying out the signals' rules.
    Detectors,
    /// Asking chat services for what responders sent (Telegram allows one poller per bot).
    Bot,
    /// Carrying out the runs of the plan's actions, so that none starts twice.
    Actions,
    /// Running the plan's probes on their schedule.
    Probes,
    /// Running the daily security audit at the plan's time.
    Audit,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Detectors => "detectors",
            Duty::Bot => "bot",
            Duty::Actions => "actions",
            Duty::Probes => "probes",
            Duty::Audit => "audit",
        }
    }

    /// Its PostgreSQL advisory lock, within the schema.
    pub(crate) fn lock_key(self) -> i32 {
        match self {
            Duty::Detectors => 0x746f_0010,
            Duty::Bot => 0x746f_0011,
            Duty::Actions => 0x746f_0012,
            Duty::Probes => 0x746f_0013,
            Duty::Audit => 0x746f_0014,
        }
    }
}

/// One duty, held until dropped.
#[derive(Debug)]
pub struct OnDuty {
    held: Held,
}

#[derive(Debug)]
pub(crate) enum Held {
    /// The lock lives as long as the file stays open.
    File {
        _open: std::fs::File,
    },
    Postgres(PgConnection),
}

impl OnDuty {
    pub(crate) fn new(held: Held) -> Self {
        OnDuty { held }
    }

    /// Whether it is still held: the advisory lock goes with its connection, so a lost
    /// connection to PostgreSQL is lost leadership (another instance may take over).
    pub async fn held(&mut self) -> bool {
        match &mut self.held {
            Held::File { .. } => true,
            Held::Postgres(conn) => sqlx::query("SELECT 1").execute(conn).await.is_ok(),
        }
    }

    /// Gives the duty up now, so that another instance can take it at once. Dropping it
    /// gives it up too, but on PostgreSQL only once the server notices the connection is
    /// gone, which is a moment later.
    pub async fn release(self) {
        match self.held {
            Held::File { .. } => {}
            Held::Postgres(mut conn) => {
                use sqlx::Connection;
                // The connection holds this duty's lock alone. Once the unlock has answered,
                // the lock is free; a failure leaves it to the server's own noticing.
                let _ = sqlx::query("SELECT pg_advisory_unlock_all()").execute(&mut conn).await;
                let _ = conn.close().await;
            }
        }
    }
}
