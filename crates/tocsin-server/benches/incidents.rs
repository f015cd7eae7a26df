//! Declares and updates 10,000 incidents, then lists every running clock across them,
//! on SQLite and (when `TOCSIN_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//! `cargo bench -p tocsin-server --bench incidents` (set `TOCSIN_BENCH_INCIDENTS` for
//! another count).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, Command, Declaration, IncidentNumber};
use tocsin_core::plan::presets;
use tocsin_server::Desk;
use tocsin_server::services::plans::PlanText;
use tocsin_server::services::seal::{HEADS_FILE, KEY_FILE, SealPaths, Sealer};
use tocsin_store::testing::TestDb;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let count: u64 = std::env::var("TOCSIN_BENCH_INCIDENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    runtime.block_on(async {
        for db in TestDb::all().await {
            run(&db, count).await;
        }
    });
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn report(what: &str, backend: &str, mut samples: Vec<Duration>, total: Duration) {
    let n = samples.len() as f64;
    println!(
        "{backend:<8} {what:<34} {:>6} ops  {:>8.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms  total {:>7.2} s",
        samples.len(),
        n / total.as_secs_f64(),
        percentile(&mut samples, 0.50).as_secs_f64() * 1e3,
        percentile(&mut samples, 0.99).as_secs_f64() * 1e3,
        total.as_secs_f64(),
    );
}

async fn run(db: &TestDb, count: u64) {
    let actor = Actor::parse("bench").expect("a name");
    let plan = PlanText::new(presets::FOUR_TIER.source, "the four-tier preset");
    let store = db.open().await;
    let desk = Desk::open(Arc::clone(&store), &plan, &actor, Timestamp::now())
        .await
        .expect("the preset is valid")
        .0;
    let severities = ["P1", "P2", "P3", "P4"];
    let now = Timestamp::now();

    let mut samples = Vec::with_capacity(count as usize);
    let started = Instant::now();
    for i in 0..count {
        let declaration = Declaration {
            title: format!("Incident {i}"),
            severity: severities[(i % 4) as usize].into(),
            personal_data: i % 10 == 0,
            ..Declaration::default()
        };
        let t = Instant::now();
        desk.declare(&declaration, &actor, None, now).await.expect("declare");
        samples.push(t.elapsed());
    }
    report("declare", db.backend, samples, started.elapsed());

    let mut samples = Vec::with_capacity(count as usize);
    let started = Instant::now();
    for i in 1..=count {
        let number = IncidentNumber::new(i).expect("not zero");
        let t = Instant::now();
        desk.act(number, &Command::AddNote { text: "looking".into() }, &actor, None, now)
            .await
            .expect("note");
        samples.push(t.elapsed());
    }
    report("update (add a note)", db.backend, samples, started.elapsed());

    let mut samples = Vec::new();
    let mut listed = 0;
    let started = Instant::now();
    for _ in 0..30 {
        let t = Instant::now();
        listed = desk.open_clocks().await.expect("clocks").len();
        samples.push(t.elapsed());
    }
    report(
        &format!("list {listed} running clocks"),
        db.backend,
        samples,
        started.elapsed(),
    );

    let started = Instant::now();
    let verification = desk.verify().await.expect("verify");
    assert!(verification.broken.is_none());
    println!(
        "{:<8} {:<34} {:>6} entries in {:.2} s",
        db.backend,
        "verify the whole chain",
        verification.entries,
        started.elapsed().as_secs_f64()
    );

    // Sealing: the first signature covers every entry; then the chain is held to it.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let paths = SealPaths {
        key: dir.path().join(KEY_FILE),
        heads: dir.path().join(HEADS_FILE),
    };
    let started = Instant::now();
    Sealer::new(paths.clone())
        .seal(&*store, Timestamp::now(), false)
        .await
        .expect("seal");
    let lines = std::fs::read_to_string(&paths.heads).expect("heads").lines().count();
    println!(
        "{:<8} {:<34} {:>6} entries in {:.2} s ({lines} signed lines)",
        db.backend,
        "sign every entry's hash",
        verification.entries,
        started.elapsed().as_secs_f64()
    );
    let sealed = desk.clone().with_seal(paths);
    let started = Instant::now();
    let verification = sealed.verify().await.expect("verify");
    assert!(verification.broken.is_none());
    println!(
        "{:<8} {:<34} {:>6} entries in {:.2} s",
        db.backend,
        "verify against the signed heads",
        verification.entries,
        started.elapsed().as_secs_f64()
    );
}
