//! Notifications through the outbox to a signed-webhook sink on loopback, on SQLite,
//! delivered by two workers: 10,000 enqueued at once in batches of 100, then 10,000 at
//! 2,000 a second. Reports notifications per second, and the latency from enqueue to
//! arrival at the sink.
//!
//!     cargo bench -p tocsin-server --bench outbox

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use tocsin_core::Timestamp;
use tocsin_notify::webhook::{IDEMPOTENCY_KEY, Webhook};
use tocsin_notify::{Channel, Message};
use tocsin_server::wake::Wake;
use tocsin_server::workers::delivery::{Channels, work};
use tocsin_store::outbox::NewNotification;

const TOTAL: usize = 10_000;
const BATCH: usize = 100;
const SECRET: &[u8] = b"a-secret-of-32-bytes-for-benches";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = tocsin_store::open(&format!("sqlite:{}", dir.path().join("bench.db").display()))
        .await
        .unwrap();
    let arrived: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let kept = Arc::clone(&arrived);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let arrived = Arc::clone(&kept);
            async move {
                let key = headers[IDEMPOTENCY_KEY].to_str().unwrap().to_owned();
                arrived.lock().unwrap().entry(key).or_insert_with(Instant::now);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = tocsin_notify::http_client(Duration::from_secs(10));
    let sink: Box<dyn Channel> = Box::new(Webhook::new(&url, SECRET, client).unwrap());
    let channels: Channels = Arc::new(BTreeMap::from([("sink".to_owned(), sink)]));
    let plan =
        tocsin_server::services::plans::PlanText::new(tocsin_core::plan::presets::FOUR_TIER.source, "the preset");
    let actor = tocsin_core::incident::Actor::parse("bench").unwrap();
    let (desk, _) = tocsin_server::Desk::open(Arc::clone(&store), &plan, &actor, Timestamp::now())
        .await
        .unwrap();
    // The enqueuer rings the workers, as the notifier does.
    let queued = Wake::default();
    for worker in ["w1", "w2"] {
        let channels = Arc::clone(&channels);
        tokio::spawn(work(
            Arc::clone(&store) as _,
            desk.clone(),
            move || Arc::clone(&channels),
            worker.into(),
            queued.clone(),
        ));
    }

    burst_and_paced(&store, &arrived, &queued).await;
}

/// 10,000 at once (how fast the outbox empties), then 10,000 at 2,000 a second (how long
/// each waits when the outbox keeps up).
async fn burst_and_paced(
    store: &Arc<dyn tocsin_store::Store>,
    arrived: &Arc<Mutex<BTreeMap<String, Instant>>>,
    queued: &Wake,
) {
    for (name, pause) in [("burst", None), ("2,000/s", Some(Duration::from_millis(10)))] {
        let batch = if pause.is_some() { 20 } else { BATCH };
        let started = Instant::now();
        let mut enqueued = BTreeMap::new();
        let mut next = Instant::now();
        for b in 0..TOTAL / batch {
            if let Some(pause) = pause {
                next += pause;
                tokio::time::sleep_until(next.into()).await;
            }
            let now = Timestamp::now();
            let notes: Vec<NewNotification> = (0..batch)
                .map(|i| notification(&format!("{name}-{}", b * batch + i), now))
                .collect();
            store.enqueue(&notes, now).await.unwrap();
            queued.ring();
            let at = Instant::now();
            enqueued.extend(notes.into_iter().map(|n| (n.key, at)));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while enqueued.keys().any(|k| !arrived.lock().unwrap().contains_key(k)) {
            assert!(
                Instant::now() < deadline,
                "not all notifications arrived within 2 minutes"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let arrived = arrived.lock().unwrap();
        let last = enqueued.keys().map(|k| arrived[k]).max().unwrap();
        let took = last.duration_since(started).as_secs_f64();
        let mut latencies: Vec<f64> = enqueued
            .iter()
            .map(|(key, at)| arrived[key].saturating_duration_since(*at).as_secs_f64() * 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "outbox (sqlite, 2 workers, signed webhook on loopback), {name}: {TOTAL} notifications in {took:.2} s = {:.0}/s; enqueue to arrival p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            TOTAL as f64 / took,
            pick(0.5),
            pick(0.99),
            latencies.last().unwrap()
        );
    }
}

fn notification(key: &str, now: Timestamp) -> NewNotification {
    let message = Message {
        id: key.to_owned(),
        kind: "declared".into(),
        incident: Some("INC-0007".into()),
        severity: Some("P1".into()),
        title: "Credential compromise from 203.0.113.9".into(),
        text: "Declared by tocsin: a login succeeded after 7 failed attempts".into(),
        deadline: Some("acknowledge within 14m".into()),
        link: Some("https://tocsin.example.com/incidents/INC-0007".into()),
        ..Message::default()
    };
    NewNotification {
        key: key.to_owned(),
        channel: "sink".into(),
        kind: "declared".into(),
        incident: None,
        payload: serde_json::to_string(&message).unwrap(),
        not_before: now,
        approval_link: None,
    }
}
