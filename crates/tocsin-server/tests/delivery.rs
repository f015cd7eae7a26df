//! Notifications delivered from the outbox to a real webhook receiver on loopback: retried
//! after a busy answer with the same idempotency key, and dead when they cannot be sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use jiff::SignedDuration;
use tocsin_core::Timestamp;
use tocsin_notify::webhook::{self, Webhook};
use tocsin_notify::{Channel, Message};
use tocsin_server::workers::delivery::{Channels, deliver_due};
use tocsin_store::outbox::{Delivery, NewNotification, OutboxFilter};
use tocsin_store::testing::TestDb;

const SECRET: &[u8] = b"a-secret-of-32-bytes-for-tests!!";

/// A receiver that answers 503 to the first delivery of `busy_once`, 200 to the rest, and
/// keeps the idempotency keys it got.
async fn receiver(busy_once: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let got = Arc::clone(&kept);
            async move {
                let signature = headers[webhook::SIGNATURE].to_str().unwrap();
                assert!(webhook::verify(SECRET, signature, &body, Timestamp::now(), 300));
                let key = headers[webhook::IDEMPOTENCY_KEY].to_str().unwrap().to_owned();
                let mut got = got.lock().unwrap();
                let first = !got.contains(&key);
                got.push(key.clone());
                if key == busy_once && first {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn note(key: &str, channel: &str, now: Timestamp) -> NewNotification {
    let message = Message {
        id: key.into(),
        kind: "declared".into(),
        incident: Some("INC-0001".into()),
        severity: Some("P1".into()),
        title: "Credential compromise".into(),
        text: "Declared".into(),
        ..Message::default()
    };
    NewNotification {
        key: key.into(),
        channel: channel.into(),
        kind: "declared".into(),
        incident: None,
        payload: serde_json::to_string(&message).unwrap(),
        not_before: now,
        approval_link: None,
    }
}

#[tokio::test]
async fn notifications_are_delivered_retried_after_a_busy_answer_and_dead_without_a_channel() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let (url, got) = receiver("a").await;
        let client = tocsin_notify::http_client(Duration::from_secs(5));
        let ops: Box<dyn Channel> = Box::new(Webhook::new(&url, SECRET, client).unwrap());
        let channels: Channels = Arc::new(BTreeMap::from([("ops".to_owned(), ops)]));
        let t0 = Timestamp::now();
        let notes = [note("a", "ops", t0), note("b", "ops", t0), note("c", "gone", t0)];
        store.enqueue(&notes, t0).await.unwrap();

        assert_eq!(
            deliver_due(&*store, &channels, None, "w1", t0).await.unwrap().claimed,
            3
        );
        // "a" waits 5 to 10 s before its second attempt.
        let soon = t0 + SignedDuration::from_secs(4);
        assert_eq!(
            deliver_due(&*store, &channels, None, "w1", soon).await.unwrap().claimed,
            0,
            "{}",
            db.backend
        );
        let later = t0 + SignedDuration::from_secs(11);
        assert_eq!(
            deliver_due(&*store, &channels, None, "w1", later)
                .await
                .unwrap()
                .claimed,
            1,
            "{}",
            db.backend
        );

        let all = store
            .outbox(&OutboxFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let states: Vec<(&str, Delivery, u32, Option<&str>)> = all
            .iter()
            .map(|n| (n.key.as_str(), n.state, n.attempts, n.last_error.as_deref()))
            .collect();
        assert_eq!(
            states,
            [
                ("c", Delivery::Dead, 1, Some("the plan has no channel \"gone\"")),
                ("b", Delivery::Sent, 1, None),
                ("a", Delivery::Sent, 2, None),
            ],
            "{}",
            db.backend
        );
        let mut keys = got.lock().unwrap().clone();
        keys.sort();
        assert_eq!(keys, ["a", "a", "b"], "the same key on both attempts");
    }
}
