//! Issue 16, item 6: whoever can write the database could rewrite the audit chain, and
//! `verify` believed it. The chain is now sealed by signed heads kept outside the
//! database, and the identity tables are checked against the chain.

use std::sync::Arc;

use tocsin_core::Timestamp;
use tocsin_core::audit::{AuditEntry, ChainHash};
use tocsin_core::identity::{Role, Scopes};
use tocsin_core::incident::{Actor, Command, Declaration, IncidentNumber};
use tocsin_core::plan::presets;
use tocsin_server::services::identity::Identity;
use tocsin_server::services::plans::PlanText;
use tocsin_server::services::seal::{HEADS_FILE, KEY_FILE, SealPaths, Sealer};
use tocsin_server::{Broken, Desk};
use tocsin_store::Store;
use tocsin_store::identity::UserChange;
use tocsin_store::testing::TestDb;

const NOW: &str = "2026-11-22T12:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn jo() -> Actor {
    Actor::parse("jo").unwrap()
}

fn paths(dir: &tempfile::TempDir) -> SealPaths {
    SealPaths {
        key: dir.path().join(KEY_FILE),
        heads: dir.path().join(HEADS_FILE),
    }
}

fn plan() -> PlanText {
    PlanText::new(presets::THREE_TIER.source, "the three-tier preset")
}

/// The same database, verified as before: against the chain alone.
async fn unsealed(store: &Arc<dyn Store>) -> Desk {
    Desk::open(store.clone(), &plan(), &jo(), now()).await.unwrap().0
}

/// A desk with one incident: declared, then a note; sealed into `dir`.
async fn sealed_desk(db: &TestDb, dir: &tempfile::TempDir) -> (Desk, Arc<dyn Store>) {
    let store = db.open().await;
    let desk = Desk::open(Arc::clone(&store), &plan(), &jo(), now())
        .await
        .unwrap()
        .0
        .with_seal(paths(dir));
    let declaration = Declaration {
        title: "Vault key exposed".into(),
        severity: "P1".into(),
        ..Declaration::default()
    };
    desk.declare(&declaration, &jo(), None, now()).await.unwrap();
    let number = IncidentNumber::new(1).unwrap();
    for text in ["the key was pasted in a public chat", "rotated the key"] {
        let note = Command::AddNote { text: text.into() };
        desk.act(number, &note, &jo(), None, now()).await.unwrap();
    }
    let signed = Sealer::new(paths(dir))
        .seal(&*store, now(), false)
        .await
        .unwrap()
        .expect("a first head is signed");
    assert_eq!(signed.seq, store.chain_head().await.unwrap().seq);
    (desk, store)
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Rewrites every entry from the first that `change` alters, recomputing the hashes and
/// the head as an intruder with the code at hand would.
async fn rewrite(db: &TestDb, store: &dyn Store, change: impl Fn(&mut AuditEntry) -> bool) {
    let mut prev = ChainHash::GENESIS;
    let mut sql = String::new();
    let mut rewriting = false;
    for mut entry in store.audit_entries(0, 100_000).await.unwrap() {
        rewriting |= change(&mut entry);
        if rewriting {
            entry.prev_hash = prev;
            entry.hash = entry.computed_hash();
            sql.push_str(&format!(
                "UPDATE audit_log SET data = {}, prev_hash = '{}', hash = '{}' WHERE seq = {};\n",
                quoted(&entry.data.to_string()),
                entry.prev_hash,
                entry.hash,
                entry.seq
            ));
        }
        prev = entry.hash;
    }
    sql.push_str(&format!("UPDATE audit_head SET hash = '{prev}' WHERE id = 1;"));
    db.tamper(&sql).await;
}

#[tokio::test]
async fn deleting_the_last_entry_and_moving_the_head_back_is_found() {
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let (desk, store) = sealed_desk(&db, &dir).await;
        let head = store.chain_head().await.unwrap();
        let before = store.audit_entries(head.seq - 2, 1).await.unwrap().remove(0);
        let delete = format!(
            "DELETE FROM audit_log WHERE seq = {}; UPDATE audit_head SET seq = {}, hash = '{}' WHERE id = 1;
             UPDATE incidents SET version = version - 1 WHERE number = 1;",
            head.seq, before.seq, before.hash
        );
        if db.backend == "postgres" {
            // The finding: a session that claims to be a replica skips the append-only
            // trigger.
            db.tamper(&format!(
                "BEGIN; SET LOCAL session_replication_role = replica; {delete} COMMIT;"
            ))
            .await;
        } else {
            db.tamper(db.drop_append_only_guard()).await;
            db.tamper(&delete).await;
        }
        // The last note is gone from the incident too, and against itself alone the
        // shortened chain is intact: that was the finding.
        let plain = unsealed(&store).await.verify().await.unwrap();
        assert_eq!(plain.broken, None, "{}", db.backend);

        let verification = desk.verify().await.unwrap();
        let Some(Broken::Chain(broken)) = &verification.broken else {
            panic!("{}: {verification:?}", db.backend)
        };
        assert_eq!(broken.seq, head.seq, "{}", db.backend);
        assert!(
            broken.reason.contains("is missing") && broken.reason.contains("removed from the end"),
            "{}",
            broken.reason
        );
        // And tocsin will not sign the shortened chain.
        let refused = Sealer::new(paths(&dir))
            .seal(&*store, now(), true)
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("entries were removed; not signing"), "{refused}");
    }
}

#[tokio::test]
async fn recomputing_the_whole_chain_to_launder_a_note_and_a_title_is_found() {
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let (desk, store) = sealed_desk(&db, &dir).await;
        let declared = store
            .audit_entries(0, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.action == "declared")
            .unwrap()
            .seq;
        db.tamper(db.drop_append_only_guard()).await;
        rewrite(&db, &*store, |entry| {
            let text = entry.data.to_string();
            let laundered = text
                .replace("Vault key exposed", "Routine maintenance")
                .replace("the key was pasted in a public chat", "nothing to see");
            let changed = laundered != text;
            entry.data = serde_json::from_str(&laundered).unwrap();
            changed
        })
        .await;
        db.tamper("UPDATE incidents SET title = 'Routine maintenance' WHERE number = 1")
            .await;

        let plain = unsealed(&store).await.verify().await.unwrap();
        assert_eq!(
            plain.broken, None,
            "{}: the rewrite is consistent in itself",
            db.backend
        );

        let verification = desk.verify().await.unwrap();
        let Some(Broken::Chain(broken)) = &verification.broken else {
            panic!("{}: {verification:?}", db.backend)
        };
        assert_eq!(
            broken.seq, declared,
            "{}: the first entry rewritten is named",
            db.backend
        );
        assert!(
            broken.reason.contains("no longer matches the head signed at"),
            "{}",
            broken.reason
        );
        assert!(broken.reason.contains(HEADS_FILE), "{}", broken.reason);
    }
}

#[tokio::test]
async fn a_head_passed_with_head_is_checked_and_a_forged_one_refused() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let (desk, _) = sealed_desk(&db, &dir).await;
    // The operator kept the head from the channel; the heads file is then lost.
    let kept = dir.path().join("kept.jsonl");
    let last = std::fs::read_to_string(dir.path().join(HEADS_FILE)).unwrap();
    std::fs::write(&kept, last.lines().last().unwrap()).unwrap();
    let intact = desk.verify_with(std::slice::from_ref(&kept)).await.unwrap();
    assert_eq!((intact.broken, intact.signed_heads), (None, 2));

    std::fs::remove_file(dir.path().join(HEADS_FILE)).unwrap();
    let verification = desk.verify().await.unwrap();
    assert!(
        matches!(&verification.broken, Some(Broken::Signed { reason, .. }) if reason.contains("signed heads are gone")),
        "{verification:?}"
    );

    let forged = std::fs::read_to_string(&kept)
        .unwrap()
        .replacen("\"seq\":", "\"seq\":1", 1);
    std::fs::write(&kept, forged).unwrap();
    std::fs::write(dir.path().join(HEADS_FILE), "").unwrap();
    let verification = desk.verify_with(std::slice::from_ref(&kept)).await.unwrap();
    let Some(Broken::Signed { source, reason }) = &verification.broken else {
        panic!("{verification:?}")
    };
    assert!(source.ends_with("kept.jsonl line 1"), "{source}");
    assert!(reason.contains("signature does not verify"), "{reason}");
}

#[tokio::test]
async fn an_admin_user_and_a_token_inserted_directly_are_found() {
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let (desk, store) = sealed_desk(&db, &dir).await;
        let identity = Identity::new(store.clone());
        identity
            .add_user("ana", Role::Responder, None, &jo(), now())
            .await
            .unwrap();
        identity
            .create_token("ci", "ingest".parse::<Scopes>().unwrap(), None, &jo(), now())
            .await
            .unwrap();
        assert_eq!(desk.verify().await.unwrap().broken, None, "{}", db.backend);

        let found = |verification: tocsin_server::Verification| match verification.broken {
            Some(Broken::Identity { what, reason }) => format!("{what}: {reason}"),
            other => panic!("{}: {other:?}", db.backend),
        };
        db.tamper(
            "INSERT INTO users (name, name_key, role, password_hash, disabled, created_ms, password_changed_ms)
             VALUES ('mallory', 'mallory', 'admin', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', FALSE, 0, 0)",
        )
        .await;
        assert_eq!(
            found(desk.verify().await.unwrap()),
            "user \"mallory\": it is stored, but no audit entry added it"
        );
        db.tamper("DELETE FROM users WHERE name = 'mallory'").await;

        db.tamper("UPDATE users SET role = 'admin' WHERE name = 'ana'").await;
        let text = found(desk.verify().await.unwrap());
        assert!(
            text.starts_with("user \"ana\": its role is admin but the audit chain gives it responder"),
            "{text}"
        );
        db.tamper("UPDATE users SET role = 'responder' WHERE name = 'ana'")
            .await;

        db.tamper("UPDATE users SET password_hash = 'x' || password_hash WHERE name = 'ana'")
            .await;
        let text = found(desk.verify().await.unwrap());
        assert!(
            text.contains("its password is not the one the audit chain recorded last"),
            "{text}"
        );
        identity
            .change_user(
                "ana",
                UserChange::Password("a much longer passphrase".into()),
                &jo(),
                now(),
            )
            .await
            .unwrap();
        assert_eq!(desk.verify().await.unwrap().broken, None, "{}", db.backend);

        db.tamper(
            "INSERT INTO api_tokens (name, name_key, scopes, hash, hint, created_by, created_ms)
             VALUES ('backdoor', 'backdoor', 'admin', 'abcd', 'abcd', 'jo', 0)",
        )
        .await;
        let text = found(desk.verify().await.unwrap());
        assert!(
            text.ends_with("\"backdoor\": it is stored, but no audit entry created it"),
            "{text}"
        );
        db.tamper("DELETE FROM api_tokens WHERE name = 'backdoor'").await;

        db.tamper("UPDATE api_tokens SET scopes = 'admin' WHERE name = 'ci'")
            .await;
        let text = found(desk.verify().await.unwrap());
        assert!(
            text.contains("its scopes are admin but the audit chain gives it ingest"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn verify_while_tokens_incidents_and_signed_heads_are_added_finds_nothing_wrong() {
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let (desk, store) = sealed_desk(&db, &dir).await;
        let writer = {
            let desk = desk.clone();
            let paths = paths(&dir);
            tokio::spawn(async move {
                let identity = Identity::new(Arc::clone(&store));
                let mut sealer = Sealer::new(paths);
                for i in 0..40 {
                    let scopes = "read".parse::<Scopes>().unwrap();
                    identity
                        .create_token(&format!("t{i}"), scopes, None, &jo(), now())
                        .await
                        .unwrap();
                    let declaration = Declaration {
                        title: format!("incident {i}"),
                        severity: "P2".into(),
                        ..Declaration::default()
                    };
                    desk.declare(&declaration, &jo(), None, now()).await.unwrap();
                    sealer.seal(&*store, now(), false).await.unwrap();
                }
            })
        };
        let mut runs = 0;
        while !writer.is_finished() || runs == 0 {
            let verification = desk.verify().await.unwrap();
            assert_eq!(verification.broken, None, "{}: run {runs}", db.backend);
            runs += 1;
        }
        writer.await.unwrap();
        assert_eq!(desk.verify().await.unwrap().broken, None, "{}", db.backend);
    }
}

#[tokio::test]
async fn a_block_ended_or_added_behind_tocsin_s_back_is_found() {
    use tocsin_server::services::blocks::Blocks;
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let (desk, store) = sealed_desk(&db, &dir).await;
        let blocks = Blocks::new(store.clone() as _);
        let kept = blocks
            .add(
                "203.0.113.7",
                "brute force",
                None,
                Some(jiff::SignedDuration::from_hours(24)),
                &jo(),
                now(),
            )
            .await
            .unwrap();
        let ended = blocks
            .add("198.51.100.0/24", "scan", None, None, &jo(), now())
            .await
            .unwrap();
        blocks.remove(ended.id, &jo(), now()).await.unwrap();
        assert_eq!(desk.verify().await.unwrap().broken, None, "{}", db.backend);

        let found = |verification: tocsin_server::Verification| match verification.broken {
            Some(Broken::Identity { what, reason }) => format!("{what}: {reason}"),
            other => panic!("{}: {other:?}", db.backend),
        };
        // An attacker ends the block on their own address, without the chain.
        db.tamper(&format!(
            "UPDATE blocks SET removed_ms = 1, removed_by = 'x' WHERE id = {}",
            kept.id
        ))
        .await;
        let text = found(desk.verify().await.unwrap());
        assert!(
            text.starts_with(&format!(
                "block {} of 203.0.113.7/32: it is stored as ended, but no audit entry ended it",
                kept.id
            )),
            "{}: {text}",
            db.backend
        );
        db.tamper(&format!(
            "UPDATE blocks SET removed_ms = NULL, removed_by = NULL WHERE id = {}",
            kept.id
        ))
        .await;
        // Or shortens it.
        db.tamper(&format!(
            "UPDATE blocks SET expires_ms = expires_ms - 86000000 WHERE id = {}",
            kept.id
        ))
        .await;
        let text = found(desk.verify().await.unwrap());
        assert!(
            text.contains("its end is not the one the audit chain recorded"),
            "{text}"
        );
        db.tamper(&format!(
            "UPDATE blocks SET expires_ms = expires_ms + 86000000 WHERE id = {}",
            kept.id
        ))
        .await;
        assert_eq!(desk.verify().await.unwrap().broken, None, "{}: put back", db.backend);
        // A block no entry added.
        db.tamper(
            "INSERT INTO blocks (network, reason, created_by, created_ms, added_seq) VALUES ('192.0.2.1/32', 'x', 'x', 0, 99)",
        )
        .await;
        let text = found(desk.verify().await.unwrap());
        assert!(text.ends_with("it is stored, but no audit entry added it"), "{text}");
    }
}
