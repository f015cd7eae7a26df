//! Issue 16, item 6: on PostgreSQL, a superuser can switch the audit log's append-only
//! trigger off for its session, and the tables' owner can drop it. tocsin warns when it
//! connects as either, and works as a role that may only read and write rows.

use sqlx::Connection;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::Actor;
use tocsin_store::testing::TestDb;

const ROLE: &str = "tocsin_app_test";

#[tokio::test]
async fn a_superuser_or_the_owner_is_warned_of_and_a_role_that_owns_nothing_is_enough() {
    // Without PostgreSQL, `postgres()` says loudly that these tests were skipped.
    let Some(db) = TestDb::postgres().await else { return };
    let store = db.open().await;
    let warnings = store.deployment_warnings().await.unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("as postgres, a superuser"), "{}", warnings[0]);
    assert!(warnings[1].contains("the owner of"), "{}", warnings[1]);

    let schema = db.url.rsplit("search_path%3D").next().unwrap().to_owned();
    db.tamper(&format!(
        "DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         GRANT USAGE ON SCHEMA \"{schema}\" TO {ROLE};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO {ROLE};
         GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO {ROLE};"
    ))
    .await;
    let app_url = db.url.replacen("://postgres@", &format!("://{ROLE}@"), 1);
    assert_ne!(app_url, db.url, "the test database URL names the postgres user");

    let app = tocsin_store::open(&app_url)
        .await
        .unwrap_or_else(|e| panic!("tocsin opens as a role that owns nothing: {e}"));
    assert_eq!(app.deployment_warnings().await.unwrap(), Vec::<String>::new());
    let actor = Actor::parse("jo").unwrap();
    let at = jiff::Timestamp::now();
    app.record(EntryDraft::system(
        "signing_key_rotated",
        &actor,
        at,
        serde_json::json!({}),
    ))
    .await
    .unwrap();
    assert_eq!(app.chain_head().await.unwrap().seq, 1);

    let mut conn = sqlx::PgConnection::connect(&app_url).await.unwrap();
    let replica = sqlx::raw_sql("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(replica.to_string().contains("permission denied"), "{replica}");
    let drop = sqlx::raw_sql("DROP TRIGGER audit_log_is_append_only ON audit_log")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(drop.to_string().contains("must be owner"), "{drop}");
    let delete = sqlx::raw_sql("DELETE FROM audit_log WHERE seq = 1")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
}
