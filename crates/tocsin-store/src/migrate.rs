//! Embedded, append-only schema migrations, checked by checksum so that a released
//! migration can never be edited unnoticed.

use sha2::{Digest, Sha256};

use crate::StoreError;

#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Every migration in order, one list for both backends: its version, its name in the
/// ledger, and its file, which has the same name under `migrations/sqlite` and
/// `migrations/postgres`. Append here; a released migration is never edited.
macro_rules! migrations {
    ($backend:literal) => {
        $crate::migrate::migrations!($backend;
            1 "incidents_and_audit_chain" "0001_incidents_and_audit_chain",
            2 "identity" "0002_identity",
            3 "event_log" "0003_event_log",
            4 "signals" "0004_signals",
            5 "signal_suppression" "0005_signal_suppression",
            6 "outbox" "0006_outbox",
            7 "threads" "0007_threads",
            8 "integrations" "0008_integrations",
            9 "outbox order" "0009_outbox_order",
            10 "plan versions" "0010_plan_versions",
            11 "clock waivers" "0011_clock_waivers",
            12 "signal subjects and cited events" "0012_signal_subjects_and_cited_events",
            13 "seen deliveries" "0013_seen_deliveries",
            14 "blocks" "0014_blocks",
            15 "block stream" "0015_block_stream",
            16 "runs due" "0016_runs_due",
            17 "switches" "0017_switches",
            18 "evidence" "0018_evidence",
            19 "approval links" "0019_approval_links",
            20 "notice recipients" "0020_notice_recipients",
            21 "channel health" "0021_channel_health",
            22 "probes" "0022_probes",
            23 "audit reports" "0023_audit_reports",
            24 "file positions" "0024_file_positions",
        )
    };
    ($backend:literal; $($version:literal $name:literal $file:literal,)*) => {
        &[$($crate::migrate::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $backend, "/", $file, ".sql")),
        },)*]
    };
}
pub(crate) use migrations;

pub(crate) const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_ms BIGINT NOT NULL
)";

/// The migrations still to apply, after checking that those applied are the ones we know.
pub(crate) fn pending<'m>(known: &'m [Migration], applied: &[(i64, String)]) -> Result<Vec<&'m Migration>, StoreError> {
    for (version, checksum) in applied {
        match known.iter().find(|m| m.version == *version) {
            None => {
                return Err(StoreError::Schema(format!(
                    "the database has migration {version}, which this tocsin does not know; upgrade tocsin"
                )));
            }
            Some(m) if &m.checksum() != checksum => {
                return Err(StoreError::Schema(format!(
                    "migration {version} ({}) differs from the one applied to this database; released migrations must never change",
                    m.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [Migration; 2] = [
        Migration {
            version: 1,
            name: "one",
            sql: "CREATE TABLE a (x INTEGER)",
        },
        Migration {
            version: 2,
            name: "two",
            sql: "CREATE TABLE b (x INTEGER)",
        },
    ];

    #[test]
    fn only_missing_migrations_are_applied() {
        let applied = [(1, KNOWN[0].checksum())];
        let todo: Vec<i64> = pending(&KNOWN, &applied).unwrap().iter().map(|m| m.version).collect();
        assert_eq!(todo, [2]);
    }

    #[test]
    fn an_edited_released_migration_is_refused() {
        let err = pending(&KNOWN, &[(1, "0".repeat(64))]).unwrap_err();
        assert!(err.to_string().contains("migration 1 (one) differs"), "{err}");
    }

    #[test]
    fn a_database_from_a_newer_tocsin_is_refused() {
        let err = pending(&KNOWN, &[(3, String::new())]).unwrap_err();
        assert!(err.to_string().contains("upgrade tocsin"), "{err}");
    }
}
