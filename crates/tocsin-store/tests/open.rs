//! Opening databases: created and migrated on first use, safely from several processes.

use tocsin_store::StoreError;
use tocsin_store::testing::TestDb;

#[tokio::test]
async fn several_processes_opening_a_new_database_at_once_migrate_it_once() {
    for db in TestDb::all().await {
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let url = db.url.clone();
                tokio::spawn(async move { tocsin_store::open(&url).await.map(|_| ()) })
            })
            .collect();
        for open in opens {
            open.await.unwrap().unwrap_or_else(|e| panic!("{}: {e}", db.backend));
        }
        let store = db.open().await;
        assert_eq!(store.chain_head().await.unwrap().seq, 0, "{}", db.backend);
        // The ledger holds each migration once.
        db.tamper("INSERT INTO counters (name, value) SELECT 'migrations', COUNT(*) FROM schema_migrations")
            .await;
        let again = db.open().await;
        assert!(again.incidents(&Default::default()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_database_whose_released_migration_changed_is_refused() {
    for db in TestDb::all().await {
        db.open().await;
        db.tamper("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
            .await;
        let err = db.try_open().await.unwrap_err();
        assert!(matches!(err, StoreError::Schema(_)), "{}: {err}", db.backend);
        assert!(
            err.to_string().contains("released migrations must never change"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn unsupported_urls_name_the_forms_that_work() {
    for (url, expected) in [
        (
            "mysql://root@localhost/x",
            "unsupported database URL \"mysql://root@localhost/x\"; use sqlite:PATH or postgres://USER@HOST/DB",
        ),
        (
            "sqlite:",
            "sqlite: needs a file path, like sqlite:tocsin-data/tocsin.db",
        ),
        (
            "postgres://jo:secret@[::1",
            "invalid PostgreSQL URL \"postgres://jo:***@[::1\"",
        ),
    ] {
        let err = tocsin_store::open(url).await.unwrap_err().to_string();
        assert!(err.starts_with(expected), "{url}: {err}");
        assert!(!err.contains("secret"), "{err}");
    }
}

#[tokio::test]
async fn one_instance_at_a_time_leads_and_another_takes_over_when_it_stops() {
    use tocsin_store::duty::Duty;
    for db in TestDb::all().await {
        // Two instances on one database: the first to ask leads.
        let (one, two) = (db.open().await, db.open().await);
        let mut lead = one.take_duty(Duty::Detectors).await.unwrap().expect("the first leads");
        assert!(lead.held().await, "{}", db.backend);
        assert!(
            two.take_duty(Duty::Detectors).await.unwrap().is_none(),
            "{}",
            db.backend
        );
        assert!(
            one.take_duty(Duty::Detectors).await.unwrap().is_none(),
            "{}: not twice",
            db.backend
        );
        // It stops leading: the other takes over at once.
        lead.release().await;
        let mut taken = two.take_duty(Duty::Detectors).await.unwrap().expect("taken over");
        assert!(taken.held().await);
        assert!(
            one.take_duty(Duty::Detectors).await.unwrap().is_none(),
            "{}",
            db.backend
        );
        // Another deployment (another SQLite file, another schema of the same PostgreSQL
        // database) leads its own detectors meanwhile.
        let elsewhere = match db.backend {
            "sqlite" => TestDb::sqlite(),
            _ => TestDb::postgres().await.unwrap(),
        };
        let lead = elsewhere.open().await.take_duty(Duty::Detectors).await.unwrap();
        assert!(lead.is_some(), "{}", db.backend);
    }
}

/// Dropping a duty (as a process that ends does) frees it once the database notices, which
/// on PostgreSQL is a moment after the connection closes: the standby's retry finds it free.
#[tokio::test]
async fn a_duty_released_is_free_at_once_and_one_dropped_soon_after() {
    use tocsin_store::duty::Duty;
    for db in TestDb::all().await {
        let (one, two) = (db.open().await, db.open().await);
        for round in 0..20 {
            let lead = one.take_duty(Duty::Bot).await.unwrap().expect("free");
            lead.release().await;
            let again = two.take_duty(Duty::Bot).await.unwrap();
            assert!(again.is_some(), "{}: round {round}: taken at once", db.backend);
            again.unwrap().release().await;
        }
        drop(one.take_duty(Duty::Bot).await.unwrap().expect("free"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if two.take_duty(Duty::Bot).await.unwrap().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: a dropped duty stays held",
                db.backend
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
