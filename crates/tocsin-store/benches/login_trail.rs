//! The login trail on millions of auth events in SQLite: how fast it is indexed behind the
//! log, and how long the queries of `tocsin logins` take.
//!
//!     cargo bench -p tocsin-store --bench login_trail [-- EVENTS]

use std::time::Instant;

use tocsin_core::Timestamp;
use tocsin_core::event::{AuthOutcome, parse_line};
use tocsin_store::events::{NewEvent, TrailFilter};

/// Addresses repeat every 65,536 events, so each has about thirty attempts in 2 million.
fn ip_of(n: u64) -> String {
    let m = n % 65_536;
    format!("10.{}.{}.{}", m / 256 % 7, m / 256, m % 256)
}

#[tokio::main]
async fn main() {
    let total: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = tocsin_store::open(&format!("sqlite:{}", dir.path().join("bench.db").display()))
        .await
        .unwrap();
    let start = 1_767_571_200_000_i64;
    let now = Timestamp::now();
    let started = Instant::now();
    for chunk in 0..total / 20_000 {
        let batch: Vec<NewEvent> = (0..20_000)
            .map(|i| {
                let n = chunk * 20_000 + i;
                let ip = ip_of(n);
                let outcome = if n % 17 == 0 { "success" } else { "failure" };
                let line = format!(
                    r#"{{"ts":"{}","kind":"auth","outcome":"{outcome}","ip":"{ip}","user":"user{}","service":"sshd"}}"#,
                    Timestamp::from_millisecond(start + n as i64 * 250).unwrap(),
                    n % 50_000
                );
                NewEvent::new(parse_line(1, &line).unwrap(), "bench", now)
            })
            .collect();
        store.append_events(&batch).await.unwrap();
    }
    let appended = started.elapsed().as_secs_f64();
    let started = Instant::now();
    while store.index_login_trail(50_000).await.unwrap() > 0 {}
    let indexed = started.elapsed().as_secs_f64();
    println!(
        "{total} auth events: appended in {appended:.1} s, login trail indexed in {indexed:.1} s ({:.0} events/s)",
        total as f64 / indexed
    );
    let queries = [
        ("newest 50", TrailFilter::default()),
        (
            "one address",
            TrailFilter {
                ip: Some(ip_of(123_456)),
                ..Default::default()
            },
        ),
        (
            "one user, failures",
            TrailFilter {
                user: Some("user4242".into()),
                outcome: Some(AuthOutcome::Failure),
                ..Default::default()
            },
        ),
        (
            "successes since a day ago (of the log)",
            TrailFilter {
                outcome: Some(AuthOutcome::Success),
                since: Some(Timestamp::from_millisecond(start + total as i64 * 250 - 86_400_000).unwrap()),
                ..Default::default()
            },
        ),
    ];
    for (name, mut filter) in queries {
        filter.limit = 50;
        let mut best = f64::MAX;
        let mut found = 0;
        for _ in 0..5 {
            let started = Instant::now();
            found = store.login_trail(&filter).await.unwrap().len();
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!("  {name:40} {:7.2} ms  ({found} rows)", best * 1000.0);
    }
}
