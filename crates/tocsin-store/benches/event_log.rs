//! Events per second appended to the event log through the group-commit writer, by several
//! concurrent senders, each waiting for its commit as an HTTP sender would. On a fresh
//! SQLite file, or on the PostgreSQL database `TOCSIN_BENCH_POSTGRES_URL` names (a database
//! of its own: the bench adds its events to those already there):
//!
//!     cargo bench -p tocsin-store --bench event_log
//!     createdb -h 127.0.0.1 -U postgres tocsin_bench
//!     TOCSIN_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/tocsin_bench cargo bench -p tocsin-store --bench event_log

use std::sync::Arc;
use std::time::Instant;

use tocsin_core::Timestamp;
use tocsin_core::event::parse_line;
use tocsin_store::event_log::{EventLog, EventLogConfig};
use tocsin_store::events::NewEvent;

const SENDERS: usize = 8;
const PER_REQUEST: usize = 1000;
const TOTAL: usize = 400_000;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("TOCSIN_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| format!("sqlite:{}", dir.path().join("bench.db").display()));
    let store = tocsin_store::open(&url).await.unwrap();
    let log = EventLog::start(Arc::clone(&store), EventLogConfig::default())
        .await
        .unwrap();
    let now = Timestamp::now();
    let request = |sender: usize, round: usize| -> Vec<NewEvent> {
        (0..PER_REQUEST)
            .map(|i| {
                let n = (sender * 7919 + round * 104_729 + i) % 65_536;
                // Time moves on as in a live log; addresses and names repeat as in an attack.
                let ms = ((round * SENDERS + sender) * PER_REQUEST + i) as i64 * 5;
                let line = format!(
                    r#"{{"ts":"{}","kind":"auth","outcome":"failure","ip":"198.51.{}.{}","user":"user{}","service":"sshd","user_agent":"SSH-2.0-Go","method":"password","reason":"bad_password","host":"web1","port":40000}}"#,
                    Timestamp::from_millisecond(1_767_571_200_000 + ms).unwrap(),
                    n / 256,
                    n % 256,
                    n % 500
                );
                NewEvent::new(parse_line(1, &line).unwrap(), "bench", now)
            })
            .collect()
    };
    let started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let log = log.clone();
            let requests: Vec<Vec<NewEvent>> = (0..TOTAL / SENDERS / PER_REQUEST).map(|r| request(sender, r)).collect();
            tokio::spawn(async move {
                for events in requests {
                    log.append(events).await.unwrap();
                }
            })
        })
        .collect();
    let prepared = started.elapsed();
    let started = Instant::now();
    for s in senders {
        s.await.unwrap();
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "event log ({}, durable, {SENDERS} senders x {PER_REQUEST} events per request): {:.0} events/s ({TOTAL} events in {took:.2} s; preparing them took {:.2} s)",
        store.describe(),
        TOTAL as f64 / took,
        prepared.as_secs_f64()
    );
}
