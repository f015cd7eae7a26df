//! The outbox on both backends: stored once per key, claimed with a lease, retried,
//! given up as dead and sent again on request.

use std::collections::BTreeSet;

use tocsin_core::Timestamp;
use tocsin_store::outbox::{Delivery, NewApprovalLink, NewNotification, OutboxFilter};
use tocsin_store::testing::TestDb;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_767_571_200 + second).unwrap()
}

fn note(key: &str, not_before: i64) -> NewNotification {
    NewNotification {
        key: key.into(),
        channel: "ops-webhook".into(),
        kind: "declared".into(),
        incident: None,
        payload: format!(r#"{{"text":"{key}"}}"#),
        not_before: at(not_before),
        approval_link: None,
    }
}

#[tokio::test]
async fn a_notification_is_stored_once_claimed_by_one_worker_at_a_time_and_retried_until_it_is_dead() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let new = store
            .enqueue(&[note("a", 0), note("b", 100), note("a", 0)], at(0))
            .await
            .unwrap();
        assert_eq!(new, 2, "{b}: the same key is stored once");
        assert_eq!(store.enqueue(&[note("a", 0)], at(1)).await.unwrap(), 0, "{b}");

        // Due now: only "a". One worker holds it until its lease runs out.
        let claimed = store.claim("one", 10, at(10), at(40)).await.unwrap();
        assert_eq!(claimed.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(), ["a"], "{b}");
        assert_eq!(claimed[0].attempts, 1);
        assert!(
            store.claim("two", 10, at(20), at(50)).await.unwrap().is_empty(),
            "{b}: leased"
        );
        // Its worker died: the lease runs out, another takes it.
        let again = store.claim("two", 10, at(41), at(70)).await.unwrap();
        assert_eq!((again.len(), again[0].attempts), (1, 2), "{b}");

        // A failed attempt waits for its retry time.
        store.failed(again[0].id, "HTTP 503", Some(at(100))).await.unwrap();
        assert!(store.claim("two", 10, at(99), at(130)).await.unwrap().is_empty(), "{b}");
        let due = store.claim("two", 10, at(100), at(130)).await.unwrap();
        assert_eq!(
            due.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "{b}: soonest first"
        );
        assert_eq!(due[0].last_error.as_deref(), Some("HTTP 503"));

        // "b" is sent; "a" is given up, listed as dead, and sent again on request.
        store.delivered(&[due[1].id], at(101)).await.unwrap();
        store.failed(due[0].id, "HTTP 400: bad request", None).await.unwrap();
        let dead = store
            .outbox(&OutboxFilter {
                state: Some(Delivery::Dead),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(dead.len(), 1, "{b}");
        assert_eq!((dead[0].key.as_str(), dead[0].attempts), ("a", 3));
        assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400: bad request"));
        assert!(
            store.claim("two", 10, at(200), at(230)).await.unwrap().is_empty(),
            "{b}"
        );
        assert!(store.resend(dead[0].id, at(300)).await.unwrap());
        assert!(!store.resend(dead[0].id, at(300)).await.unwrap(), "{b}: no longer dead");
        let back = store.claim("two", 10, at(300), at(330)).await.unwrap();
        assert_eq!((back[0].key.as_str(), back[0].attempts), ("a", 1), "{b}");

        let all = store
            .outbox(&OutboxFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let states: Vec<(&str, Delivery, bool)> = all
            .iter()
            .map(|n| (n.key.as_str(), n.state, n.sent_at.is_some()))
            .collect();
        assert_eq!(
            states,
            [("b", Delivery::Sent, true), ("a", Delivery::Pending, false)],
            "{b}"
        );
    }
}

#[tokio::test]
async fn workers_claiming_at_once_never_take_the_same_notification() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let notes: Vec<NewNotification> = (0..300).map(|i| note(&format!("n{i}"), 0)).collect();
        store.enqueue(&notes, at(0)).await.unwrap();
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store = std::sync::Arc::clone(&store);
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let claimed = store.claim(&format!("w{w}"), 7, at(1), at(60)).await.unwrap();
                        if claimed.is_empty() {
                            return mine;
                        }
                        mine.extend(claimed.into_iter().map(|n| n.key));
                    }
                })
            })
            .collect();
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for w in workers {
            let mine = w.await.unwrap();
            total += mine.len();
            seen.extend(mine);
        }
        assert_eq!((total, seen.len()), (300, 300), "{}: each claimed once", db.backend);
    }
}

#[tokio::test]
async fn news_of_one_incident_reaches_a_channel_in_order() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let about = |key: &str, channel: &str| NewNotification {
            incident: Some(tocsin_core::incident::IncidentNumber::new(1).unwrap()),
            channel: channel.into(),
            ..note(key, 0)
        };
        store
            .enqueue(
                &[
                    about("declared", "chat"),
                    about("escalated", "chat"),
                    about("other", "mail"),
                ],
                at(0),
            )
            .await
            .unwrap();
        // The declaration fails and waits; the escalation made after it waits too, while
        // news of the same incident to another channel goes.
        let first = store.claim("w", 10, at(1), at(30)).await.unwrap();
        let keys: BTreeSet<&str> = first.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, BTreeSet::from(["declared", "other"]), "{b}");
        let declared = first.iter().find(|n| n.key == "declared").unwrap();
        store.failed(declared.id, "HTTP 429", Some(at(60))).await.unwrap();
        let other = first.iter().find(|n| n.key == "other").unwrap();
        store.delivered(&[other.id], at(2)).await.unwrap();
        assert!(store.claim("w", 10, at(40), at(70)).await.unwrap().is_empty(), "{b}");
        let retried = store.claim("w", 10, at(60), at(90)).await.unwrap();
        assert_eq!(
            retried.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(),
            ["declared"],
            "{b}"
        );
        store.delivered(&[retried[0].id], at(61)).await.unwrap();
        let next = store.claim("w", 10, at(62), at(90)).await.unwrap();
        assert_eq!(
            next.iter().map(|n| n.key.as_str()).collect::<Vec<_>>(),
            ["escalated"],
            "{b}"
        );
    }
}

#[tokio::test]
async fn an_approval_link_is_stored_with_its_message_only_and_works_once_until_it_expires() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let incident = tocsin_core::incident::IncidentNumber::new(3).unwrap();
        let with_link = |key: &str, hash: &str| NewNotification {
            approval_link: Some(NewApprovalLink {
                hash: hash.into(),
                incident,
                run: 2,
                person: "cai".into(),
                expires_at: at(600),
            }),
            ..note(key, 0)
        };
        assert_eq!(store.enqueue(&[with_link("mail-cai", "aa11")], at(0)).await.unwrap(), 1);
        // The same message again (a replay after a crash) brings no second link.
        assert_eq!(store.enqueue(&[with_link("mail-cai", "bb22")], at(5)).await.unwrap(), 0);
        assert_eq!(store.approval_link("bb22").await.unwrap(), None, "{b}");
        let link = store.approval_link("aa11").await.unwrap().unwrap();
        assert_eq!(
            (
                link.incident,
                link.run,
                link.person.as_str(),
                link.expires_at,
                link.used_at
            ),
            (incident, 2, "cai", at(600), None),
            "{b}"
        );

        assert!(store.use_approval_link("aa11", at(10)).await.unwrap(), "{b}");
        assert!(!store.use_approval_link("aa11", at(11)).await.unwrap(), "{b}: once");
        assert_eq!(
            store.approval_link("aa11").await.unwrap().unwrap().used_at,
            Some(at(10))
        );
        store.unuse_approval_link("aa11").await.unwrap();
        assert!(!store.use_approval_link("aa11", at(600)).await.unwrap(), "{b}: expired");
        assert!(store.use_approval_link("aa11", at(599)).await.unwrap(), "{b}");
        assert!(!store.use_approval_link("cc33", at(1)).await.unwrap(), "{b}: unknown");
    }
}
