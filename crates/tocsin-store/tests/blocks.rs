//! Blocks: added and removed with their audit entries, in force until removed or expired.

use jiff::{SignedDuration, Timestamp};
use tocsin_core::audit::EntryDraft;
use tocsin_core::block::Network;
use tocsin_core::incident::{Actor, IncidentNumber};
use tocsin_store::blocks::NewBlock;
use tocsin_store::testing::TestDb;

fn entry(kind: &str, at: Timestamp) -> EntryDraft {
    EntryDraft::system(kind, &Actor::parse("jo").unwrap(), at, serde_json::json!({}))
}

#[tokio::test]
async fn blocks_are_in_force_until_removed_or_expired_and_each_change_is_on_the_chain() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let head = store.chain_head().await.unwrap().seq;
        let new = |network: &str, expires: Option<Timestamp>| NewBlock {
            network: Network::parse(network).unwrap(),
            reason: "brute force".into(),
            incident: IncidentNumber::new(1),
            created_by: "jo".into(),
            at: t0,
            expires,
        };
        let forever = store
            .add_block(new("203.0.113.7", None), entry("block_added", t0))
            .await
            .unwrap();
        let day = store
            .add_block(
                new("2001:db8::/32", Some(t0 + SignedDuration::from_hours(24))),
                entry("block_added", t0),
            )
            .await
            .unwrap();
        assert_eq!(forever.network.to_string(), "203.0.113.7/32", "{}", db.backend);
        assert_eq!(day.incident, IncidentNumber::new(1));
        let in_force = |blocks: Vec<tocsin_store::blocks::Block>| blocks.iter().map(|b| b.id).collect::<Vec<_>>();
        assert_eq!(in_force(store.blocks(t0, false).await.unwrap()), [forever.id, day.id]);
        // A day later the second has expired; it cannot be removed any more.
        let later = t0 + SignedDuration::from_hours(25);
        assert_eq!(in_force(store.blocks(later, false).await.unwrap()), [forever.id]);
        assert_eq!(
            store
                .remove_block(day.id, "jo", later, entry("block_removed", later))
                .await
                .unwrap(),
            None
        );
        let removed = store
            .remove_block(forever.id, "jo", later, entry("block_removed", later))
            .await
            .unwrap()
            .expect("in force");
        assert_eq!(removed.removed, Some(("jo".to_owned(), later)));
        assert!(!removed.in_force(later));
        assert_eq!(
            store
                .remove_block(forever.id, "jo", later, entry("block_removed", later))
                .await
                .unwrap(),
            None,
            "{}: twice",
            db.backend
        );
        assert!(store.blocks(later, false).await.unwrap().is_empty());
        assert_eq!(store.blocks(later, true).await.unwrap().len(), 2);
        // Two additions and one removal: three entries, none for what changed nothing.
        assert_eq!(store.chain_head().await.unwrap().seq, head + 3, "{}", db.backend);
    }
}
