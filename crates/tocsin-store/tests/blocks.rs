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

#[tokio::test]
async fn a_bouncer_is_told_of_each_block_once_and_of_its_end_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let add = |network: &'static str, expires: Option<Timestamp>| {
            let store = store.clone();
            async move {
                store
                    .add_block(
                        NewBlock {
                            network: Network::parse(network).unwrap(),
                            reason: "scan".into(),
                            incident: None,
                            created_by: "jo".into(),
                            at: t0,
                            expires,
                        },
                        entry("block_added", t0),
                    )
                    .await
                    .unwrap()
                    .id
            }
        };
        let ids = |blocks: &[tocsin_store::blocks::Block]| blocks.iter().map(|b| b.id).collect::<Vec<_>>();
        let version = store.blocks_version().await.unwrap();
        let b1 = add("192.0.2.1", None).await;
        let b2 = add("192.0.2.2", Some(t0 + SignedDuration::from_hours(1))).await;
        assert_eq!(store.blocks_version().await.unwrap(), version + 2);

        // The first pull, even without startup, is everything in force.
        let pull = store.pull_blocks(7, false, "custom/1", t0).await.unwrap();
        assert_eq!(
            (ids(&pull.new), ids(&pull.deleted)),
            (vec![b1, b2], vec![]),
            "{}",
            db.backend
        );
        let pull = store.pull_blocks(7, false, "custom/1", t0).await.unwrap();
        assert_eq!(
            (ids(&pull.new), ids(&pull.deleted)),
            (vec![], vec![]),
            "{}: again",
            db.backend
        );

        // An addition and a removal reach it once.
        let b3 = add("2001:db8::/48", None).await;
        let t1 = t0 + SignedDuration::from_mins(1);
        store
            .remove_block(b1, "jo", t1, entry("block_removed", t1))
            .await
            .unwrap()
            .unwrap();
        let pull = store.pull_blocks(7, false, "custom/1", t1).await.unwrap();
        assert_eq!(
            (ids(&pull.new), ids(&pull.deleted)),
            (vec![b3], vec![b1]),
            "{}",
            db.backend
        );

        // A second bouncer has a cursor of its own: it has not pulled, so it is told what
        // is in force now and none of what ended before.
        let pull = store.pull_blocks(8, false, "firewall/1", t1).await.unwrap();
        assert_eq!(
            (ids(&pull.new), ids(&pull.deleted)),
            (vec![b2, b3], vec![]),
            "{}",
            db.backend
        );

        // An expiry reaches it once, when it is past.
        let t2 = t0 + SignedDuration::from_hours(2);
        let pull = store.pull_blocks(7, false, "custom/1", t2).await.unwrap();
        assert_eq!(
            (ids(&pull.new), ids(&pull.deleted)),
            (vec![], vec![b2]),
            "{}: expired",
            db.backend
        );
        let pull = store.pull_blocks(7, false, "custom/1", t2).await.unwrap();
        assert_eq!((ids(&pull.new), ids(&pull.deleted)), (vec![], vec![]), "{}", db.backend);

        // What came and went between two pulls is never told of.
        let b4 = add("192.0.2.4", None).await;
        store
            .remove_block(b4, "jo", t2, entry("block_removed", t2))
            .await
            .unwrap()
            .unwrap();
        let pull = store.pull_blocks(7, false, "custom/1", t2).await.unwrap();
        assert_eq!((ids(&pull.new), ids(&pull.deleted)), (vec![], vec![]), "{}", db.backend);
        // A removal that changed nothing takes no number.
        let before = store.blocks_version().await.unwrap();
        assert!(
            store
                .remove_block(b4, "jo", t2, entry("block_removed", t2))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.blocks_version().await.unwrap(), before);

        // A bouncer starting again is told everything in force.
        let pull = store.pull_blocks(7, true, "custom/2", t2).await.unwrap();
        assert_eq!(
            (ids(&pull.new), ids(&pull.deleted)),
            (vec![b3], vec![]),
            "{}",
            db.backend
        );

        store
            .bouncer_said(9, r#"{"remediation_components":[]}"#, t2)
            .await
            .unwrap();
        let bouncers = store.bouncers().await.unwrap();
        let seen: Vec<_> = bouncers
            .iter()
            .map(|b| {
                (
                    b.integration,
                    b.pulled.as_ref().map(|(_, agent)| agent.as_str()),
                    b.metrics.is_some(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (7, Some("custom/2"), false),
                (8, Some("firewall/1"), false),
                (9, None, true)
            ],
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn concurrent_additions_reach_a_bouncer_pulling_meanwhile_exactly_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let mut writers = Vec::new();
        for w in 0..4u8 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..25u8 {
                    store
                        .add_block(
                            NewBlock {
                                network: Network::parse(&format!("10.{w}.0.{i}")).unwrap(),
                                reason: "scan".into(),
                                incident: None,
                                created_by: "jo".into(),
                                at: t0,
                                expires: None,
                            },
                            entry("block_added", t0),
                        )
                        .await
                        .unwrap();
                }
            }));
        }
        let mut told = Vec::new();
        let mut done = false;
        while !done {
            done = writers.iter().all(tokio::task::JoinHandle::is_finished);
            // One more pull after the last writer finished.
            let pull = store.pull_blocks(1, false, "custom", t0).await.unwrap();
            told.extend(pull.new.iter().map(|b| b.id));
        }
        told.sort_unstable();
        let all: Vec<i64> = store.blocks(t0, false).await.unwrap().iter().map(|b| b.id).collect();
        assert_eq!(all.len(), 100);
        assert_eq!(told, all, "{}: each block told once", db.backend);
    }
}

#[tokio::test]
async fn a_switch_is_on_once_per_subject_until_turned_off_and_each_change_is_on_the_chain() {
    use tocsin_store::switches::{NewSwitch, SwitchKind};
    for db in TestDb::all().await {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let head = store.chain_head().await.unwrap().seq;
        let new = |subject: &str| NewSwitch {
            kind: SwitchKind::Maintenance,
            subject: subject.into(),
            reason: "database restore".into(),
            incident: IncidentNumber::new(2),
            by: "jo".into(),
            at: t0,
            until: Some(t0 + SignedDuration::from_hours(2)),
        };
        let on = store.switch_on(new("api"), entry("maintenance_on", t0)).await.unwrap();
        assert_eq!((on.subject.as_str(), on.incident), ("api", IncidentNumber::new(2)));
        let twice = store
            .switch_on(new("api"), entry("maintenance_on", t0))
            .await
            .unwrap_err();
        assert!(
            twice.to_string().contains("maintenance is on for api already"),
            "{}: {twice}",
            db.backend
        );
        store
            .switch_on(new("dashboard"), entry("maintenance_on", t0))
            .await
            .unwrap();
        // A pause is another kind: the same name is free there.
        store
            .switch_on(
                NewSwitch {
                    kind: SwitchKind::Pause,
                    ..new("api")
                },
                entry("agent_paused", t0),
            )
            .await
            .unwrap();
        let subjects =
            |list: Vec<tocsin_store::switches::Switch>| list.into_iter().map(|s| s.subject).collect::<Vec<_>>();
        assert_eq!(
            subjects(store.switches(SwitchKind::Maintenance, false).await.unwrap()),
            ["api", "dashboard"]
        );
        let off = store
            .switch_off(SwitchKind::Maintenance, "api", "ana", t0, entry("maintenance_off", t0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(off.ended, Some(("ana".to_owned(), t0)));
        assert!(
            store
                .switch_off(SwitchKind::Maintenance, "api", "ana", t0, entry("maintenance_off", t0))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            subjects(store.switches(SwitchKind::Maintenance, false).await.unwrap()),
            ["dashboard"]
        );
        assert_eq!(store.switches(SwitchKind::Maintenance, true).await.unwrap().len(), 2);
        // Turned on again after it was off.
        store.switch_on(new("api"), entry("maintenance_on", t0)).await.unwrap();
        assert_eq!(store.chain_head().await.unwrap().seq, head + 5, "{}", db.backend);
    }
}
