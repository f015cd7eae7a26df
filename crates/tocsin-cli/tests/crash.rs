//! Killed mid-ingestion, tocsin keeps every event it acknowledged, and no batch in part;
//! killed while notifications go out, it loses none of them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::tocsin;
use tocsin_core::event::Event;
use tocsin_store::testing::TestDb;

const SENDERS: usize = 4;
const PER_BATCH: usize = 500;

/// One POST over its own connection: the status, or `None` if the server was gone.
fn post(address: &str, token: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).ok()?;
    write!(
        stream,
        "POST /api/v1/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split(' ').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_heavy_ingestion_loses_no_acknowledged_event() {
    for db in TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let token = {
            let out = tocsin(dir.path(), Some(&db.url))
                .args(["--json", "token", "create", "--name", "crash", "--scope", "ingest"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            doc["secret"].as_str().unwrap().to_owned()
        };
        let mut server = tocsin(dir.path(), Some(&db.url))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
        let address = loop {
            let line = log.next().expect("the server logs").unwrap();
            let entry: Value = serde_json::from_str(&line).unwrap();
            if let Some(address) = entry["address"].as_str() {
                break address.to_owned();
            }
        };
        std::thread::spawn(move || log.for_each(drop));

        let gone = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                let (address, token, gone) = (address.clone(), token.clone(), Arc::clone(&gone));
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    for batch in 0.. {
                        let body: String = (0..PER_BATCH)
                            .map(|i| {
                                format!(
                                    "{{\"kind\":\"heartbeat\",\"ts\":\"2026-01-05T00:00:04Z\",\"agent\":\"{sender}-{batch}-{i}\"}}\n"
                                )
                            })
                            .collect();
                        match post(&address, &token, &body) {
                            Some(200) => acked.push(batch),
                            Some(status) => panic!("sender {sender}: status {status}"),
                            None if gone.load(Ordering::SeqCst) => return acked,
                            None => panic!("sender {sender}: the server went away before it was killed"),
                        }
                    }
                    unreachable!()
                })
            })
            .collect();

        // Kill once plenty is acknowledged, with requests in flight.
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(1500) {
            std::thread::sleep(Duration::from_millis(50));
        }
        gone.store(true, Ordering::SeqCst);
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        let acked: Vec<(usize, Vec<usize>)> = senders
            .into_iter()
            .enumerate()
            .map(|(sender, s)| (sender, s.join().unwrap()))
            .collect();
        let acked_batches: usize = acked.iter().map(|(_, b)| b.len()).sum();
        assert!(
            acked_batches >= SENDERS * 2,
            "{}: only {acked_batches} batches were acknowledged",
            db.backend
        );

        // Count what the database holds, per batch.
        let store = db.open().await;
        let mut stored: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        let mut after = 0;
        loop {
            let page = store.events_after(after, 10_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in page {
                let Event::Heartbeat(h) = e.event else {
                    panic!("not a heartbeat")
                };
                let mut parts = h.agent.split('-').map(|p| p.parse::<usize>().unwrap());
                *stored
                    .entry((parts.next().unwrap(), parts.next().unwrap()))
                    .or_default() += 1;
            }
        }
        for (sender, batches) in &acked {
            for batch in batches {
                assert_eq!(
                    stored.get(&(*sender, *batch)),
                    Some(&PER_BATCH),
                    "{}: acknowledged batch {sender}-{batch} was lost",
                    db.backend
                );
            }
        }
        assert!(
            stored.values().all(|n| *n == PER_BATCH),
            "{}: a batch was kept in part",
            db.backend
        );
        eprintln!(
            "{}: {acked_batches} batches acknowledged, {} stored (the rest were in flight)",
            db.backend,
            stored.len()
        );
    }
}

/// A webhook sink in this process: every idempotency key it got, as often as it got it.
async fn sink() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let got = Arc::clone(&kept);
            async move {
                let key = headers[tocsin_notify::webhook::IDEMPOTENCY_KEY]
                    .to_str()
                    .unwrap()
                    .to_owned();
                got.lock().unwrap().push(key);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_notifications_go_out_loses_none_and_a_repeat_keeps_its_key() {
    use tocsin_store::outbox::{Delivery, NewNotification, OutboxFilter};
    const NOTES: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}/t.db", dir.path().display());
    let (url, got) = sink().await;
    let (code, _, err) = common::run(dir.path(), Some(&db), &["init"], b"");
    assert_eq!(code, 0, "{err}");
    let channel = format!(
        "\n[[channel]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"TOCSIN_CRASH_SECRET\"\n"
    );
    common::add_to_plan(dir.path(), &channel);
    let store = tocsin_store::open(&db).await.unwrap();
    let now = tocsin_core::Timestamp::now();
    let notes: Vec<NewNotification> = (0..NOTES)
        .map(|i| NewNotification {
            key: format!("n{i}"),
            channel: "ops".into(),
            kind: "declared".into(),
            incident: None,
            payload: format!(r#"{{"id":"n{i}","kind":"declared","title":"t","text":"x"}}"#),
            not_before: now,
            approval_link: None,
        })
        .collect();
    store.enqueue(&notes, now).await.unwrap();

    let serve = || {
        tocsin(dir.path(), Some(&db))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TOCSIN_CRASH_SECRET", "a-secret-of-32-bytes-for-tests!!")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let distinct = |got: &Arc<std::sync::Mutex<Vec<String>>>| {
        got.lock()
            .unwrap()
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    // Killed while delivering: some sent, some claimed, most waiting.
    let mut server = serve();
    let deadline = Instant::now() + Duration::from_secs(30);
    while distinct(&got) < NOTES / 10 {
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let at_kill = distinct(&got);
    assert!(at_kill < NOTES, "all were sent before the kill; send more");

    // Started again, it delivers the rest, and what the killed one held once its lease
    // ends: those it may have sent already go out again, with the same key.
    let mut server = serve();
    let pending = || async {
        store
            .outbox(&OutboxFilter {
                state: Some(Delivery::Pending),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while distinct(&got) < NOTES || pending().await > 0 {
        assert!(Instant::now() < deadline, "{} of {NOTES} delivered", distinct(&got));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let dead = store
        .outbox(&OutboxFilter {
            state: Some(Delivery::Dead),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        dead.is_empty(),
        "none pending, none dead: every one is recorded as sent: {dead:?}"
    );
    let got = got.lock().unwrap();
    let repeats = got.len() - NOTES;
    assert!(
        repeats <= 64,
        "{repeats} repeats: at most one claim's worth may go out twice"
    );
    eprintln!(
        "{at_kill} delivered before the kill, all {NOTES} after the restart, {repeats} sent twice with the same key"
    );
}

/// Killed while a notice goes out to its recipients, then started again: every recipient
/// gets it, and what a killed server had in flight goes out at most once more, with the
/// same Message-ID (which mail servers and clients take as the same message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_a_notice_goes_out_reaches_every_recipient_and_repeats_keep_their_message_id() {
    use tocsin_notify::testing::{SmtpSink, header, smtp_server_available};
    if !smtp_server_available() {
        return;
    }
    const RECIPIENTS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite:{}/t.db", d.display());
    let sink = SmtpSink::start(&[]);
    let (code, _, err) = common::run(d, Some(&db), &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let plan = std::fs::read_to_string(d.join("tocsin.toml"))
        .unwrap()
        .replace("# channel = \"customer-mail\"", "channel = \"customer-mail\"");
    std::fs::write(
        d.join("tocsin.toml"),
        format!(
            "{plan}\n[[channel]]\nname = \"customer-mail\"\ntype = \"email\"\nurl = \"{}\"\ntls = \"none\"\nfrom = \"security@example.com\"\nto = [\"security@example.com\"]\n",
            sink.url()
        ),
    )
    .unwrap();
    let run = |args: &[&str], stdin: &[u8]| {
        let (code, out, err) = common::run(d, Some(&db), args, stdin);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    run(
        &[
            "incident",
            "declare",
            "--title",
            "Records exposed",
            "--severity",
            "P1",
            "--personal-data",
        ],
        b"",
    );
    let csv: String = (0..RECIPIENTS).map(|n| format!("customer{n}@example.com\n")).collect();
    run(&["notice", "recipients", "INC-0001", "-"], csv.as_bytes());
    run(&["notice", "draft", "INC-0001", "customers"], b"");
    let shown = run(&["notice", "show", "INC-0001", "1", "--document", "markdown"], b"");
    let body: String = shown
        .split_once("\n\n")
        .unwrap()
        .1
        .split("[[")
        .enumerate()
        .map(|(i, part)| match i {
            0 => part.to_owned(),
            _ => format!("Filled in.{}", part.split_once("]]").unwrap().1),
        })
        .collect();
    run(&["notice", "edit", "INC-0001", "1", "--file", "-"], body.as_bytes());
    run(&["notice", "send", "INC-0001", "1"], b"");

    let serve = || {
        tocsin(d, Some(&db))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let distinct = || {
        sink.messages()
            .iter()
            .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let mut server = serve();
    let deadline = Instant::now() + Duration::from_secs(60);
    while distinct() < RECIPIENTS / 10 {
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let at_kill = distinct();
    assert!(at_kill < RECIPIENTS, "all went before the kill; send to more");

    let mut server = serve();
    let deadline = Instant::now() + Duration::from_secs(120);
    while distinct() < RECIPIENTS {
        assert!(Instant::now() < deadline, "{} of {RECIPIENTS} delivered", distinct());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What the killed server held comes back once its lease ends (15 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let mails = sink.messages();
    let mut ids: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for m in &mails {
        let data = m["data"].as_str().unwrap();
        ids.entry(m["rcpt_tos"][0].as_str().unwrap().to_owned())
            .or_default()
            .insert(header(data, "Message-ID").unwrap().to_owned());
    }
    assert_eq!(ids.len(), RECIPIENTS, "every recipient got it");
    assert!(ids.values().all(|set| set.len() == 1), "a repeat keeps its Message-ID");
    let repeats = mails.len() - RECIPIENTS;
    assert!(
        repeats <= 64,
        "{repeats} repeats: at most one claim's worth may go out twice"
    );
    eprintln!(
        "{at_kill} of {RECIPIENTS} emailed before the kill, all after the restart, {repeats} sent twice with the same Message-ID"
    );
}
