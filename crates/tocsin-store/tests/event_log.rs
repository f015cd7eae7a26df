//! The event log on both backends: appends in order, group commit, backpressure, the
//! login trail and retention.

use std::sync::Arc;
use std::time::Duration;

use tocsin_core::Timestamp;
use tocsin_core::event::{AuthOutcome, Event, parse_line};
use tocsin_store::event_log::{AppendError, EventLog, EventLogConfig};
use tocsin_store::events::{NewEvent, TrailCursor, TrailFilter};
use tocsin_store::testing::TestDb;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_767_571_200 + second).unwrap()
}

fn auth(second: i64, ip: &str, user: &str, outcome: &str) -> Event {
    parse_line(
        1,
        &format!(
            r#"{{"kind":"auth","ts":"{}","outcome":"{outcome}","ip":"{ip}","user":"{user}","service":"sshd"}}"#,
            at(second)
        ),
    )
    .unwrap()
}

fn heartbeat(second: i64, agent: &str) -> Event {
    parse_line(
        1,
        &format!(r#"{{"kind":"heartbeat","ts":"{}","agent":"{agent}"}}"#, at(second)),
    )
    .unwrap()
}

fn new(events: &[Event]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| NewEvent::new(e.clone(), "test", at(10_000)))
        .collect()
}

#[tokio::test]
async fn events_come_back_in_the_order_they_were_appended_under_numbers_that_never_repeat() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(store.last_event_seq().await.unwrap(), 0);
        let first: Vec<Event> = (0..2500).map(|i| heartbeat(i, &format!("agent-{}", i % 7))).collect();
        let seqs = store.append_events(&new(&first)).await.unwrap();
        assert_eq!(seqs, (1..=2500).collect::<Vec<u64>>(), "{}", db.backend);
        let page = store.events_after(1000, 600).await.unwrap();
        assert_eq!(page.len(), 600);
        assert_eq!(page[0].seq, 1001);
        assert_eq!(page[0].event, first[1000], "{}", db.backend);
        assert_eq!((page[0].origin.as_str(), page[0].received_at), ("test", at(10_000)));
        // Emptied by retention, the log still numbers on from where it was.
        while store.expire_events(at(100_000), 1000).await.unwrap() > 0 {}
        assert!(store.events_after(0, 10).await.unwrap().is_empty());
        let again = store.append_events(&new(&first[..1])).await.unwrap();
        assert_eq!(again, vec![2501], "{}", db.backend);
        assert_eq!(store.last_event_seq().await.unwrap(), 2501);
    }
}

#[tokio::test]
async fn many_senders_share_transactions_and_each_gets_its_own_numbers() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let log = EventLog::start(Arc::clone(&store), EventLogConfig::default())
            .await
            .unwrap();
        let mut committed = log.committed();
        let senders: Vec<_> = (0..40)
            .map(|sender| {
                let log = log.clone();
                tokio::spawn(async move {
                    let events: Vec<Event> = (0..50).map(|i| heartbeat(i, &format!("s{sender}"))).collect();
                    (sender, log.append(new(&events)).await.unwrap())
                })
            })
            .collect();
        let mut all = Vec::new();
        for sender in senders {
            let (sender, seqs) = sender.await.unwrap();
            assert_eq!(seqs.len(), 50);
            assert!(
                seqs.windows(2).all(|w| w[1] == w[0] + 1),
                "one sender's events stay together"
            );
            for seq in &seqs {
                let stored = store.events_after(seq - 1, 1).await.unwrap();
                let Event::Heartbeat(h) = &stored[0].event else {
                    panic!("not a heartbeat")
                };
                assert_eq!(h.agent, format!("s{sender}"), "{}", db.backend);
            }
            all.extend(seqs);
        }
        all.sort_unstable();
        assert_eq!(all, (1..=2000).collect::<Vec<u64>>(), "{}", db.backend);
        committed.wait_for(|seq| *seq == 2000).await.unwrap();
        assert_eq!(log.queued(), 0);

        // Once senders pause, the writer brings the login trail up to date by itself.
        let logins: Vec<Event> = (0..3).map(|i| auth(i, "192.0.2.9", "ann", "failure")).collect();
        log.append(new(&logins)).await.unwrap();
        let everyone = TrailFilter {
            limit: 10,
            ..Default::default()
        };
        tokio::time::timeout(Duration::from_secs(10), async {
            while store.login_trail(&everyone).await.unwrap().len() < 3 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{}: the trail was not indexed", db.backend));
    }
}

#[tokio::test]
async fn a_writer_that_is_behind_refuses_more_than_it_can_hold_and_loses_nothing_it_took() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let log = EventLog::start(
            Arc::clone(&store),
            EventLogConfig {
                capacity: 100,
                max_batch: 1000,
            },
        )
        .await
        .unwrap();
        let block = db.block_appends().await;
        let events: Vec<Event> = (0..80).map(|i| heartbeat(i, "a")).collect();
        let taken = tokio::spawn({
            let log = log.clone();
            let events = new(&events);
            async move { log.append(events).await }
        });
        tokio::time::timeout(Duration::from_secs(5), async {
            while log.queued() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        match log.append(new(&events[..30])).await {
            Err(AppendError::Busy { queued }) => assert_eq!(queued, 80),
            other => panic!("{}: expected busy, got {other:?}", db.backend),
        }
        drop(block);
        let seqs = taken.await.unwrap().unwrap();
        assert_eq!(seqs.len(), 80, "{}", db.backend);
        assert_eq!(store.last_event_seq().await.unwrap(), 80);
        // With the writer caught up, a batch larger than the capacity is still taken.
        let big: Vec<Event> = (0..150).map(|i| heartbeat(i, "b")).collect();
        assert_eq!(log.append(new(&big)).await.unwrap().len(), 150);
    }
}

/// CI found it: a page asking for the trail indexed it while the log's writer did, both
/// read the same cursor, and PostgreSQL refused the second copy of each row with a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_login_trail_indexed_by_many_at_once_holds_each_attempt_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let events: Vec<Event> = (0..200).map(|i| auth(i, "192.0.2.9", "mallory", "failure")).collect();
        store.append_events(&new(&events)).await.unwrap();
        let indexers: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut indexed = 0;
                    loop {
                        match store.index_login_trail(1).await {
                            Ok(0) => return Ok(indexed),
                            Ok(n) => indexed += n,
                            Err(e) => return Err(e),
                        }
                    }
                })
            })
            .collect();
        let mut indexed = 0;
        for indexer in indexers {
            indexed += indexer.await.unwrap().unwrap_or_else(|e| panic!("{}: {e}", db.backend));
        }
        assert_eq!(indexed, 200, "{}: each event is indexed by one of them", db.backend);
        let trail = store
            .login_trail(&TrailFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(trail.len(), 200, "{}", db.backend);
    }
}

#[tokio::test]
async fn the_login_trail_filters_by_address_user_outcome_and_time_and_pages_newest_first() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut events = Vec::new();
        for i in 0..30 {
            let ip = if i % 3 == 0 { "192.0.2.1" } else { "2001:db8::7" };
            let user = if i % 2 == 0 { "root" } else { "ann" };
            let outcome = if i % 5 == 0 { "success" } else { "failure" };
            events.push(auth(i * 60, ip, user, outcome));
            events.push(heartbeat(i * 60, "not-a-login"));
        }
        // Two attempts in the same millisecond are both listed, in a stable order.
        events.push(auth(29 * 60, "192.0.2.1", "root", "failure"));
        // Received as they happened.
        let received: Vec<NewEvent> = events
            .iter()
            .map(|e| NewEvent::new(e.clone(), "test", e.at()))
            .collect();
        store.append_events(&received).await.unwrap();
        let trail_so_far = TrailFilter {
            limit: 100,
            ..Default::default()
        };
        assert!(
            store.login_trail(&trail_so_far).await.unwrap().is_empty(),
            "indexed behind the log"
        );
        assert_eq!(store.index_login_trail(40).await.unwrap(), 40);
        assert_eq!(store.login_trail(&trail_so_far).await.unwrap().len(), 20);
        assert_eq!(store.index_login_trail(1000).await.unwrap(), 21);
        assert_eq!(store.index_login_trail(1000).await.unwrap(), 0);

        let list = |filter: TrailFilter| {
            let store = Arc::clone(&store);
            async move { store.login_trail(&filter).await.unwrap() }
        };
        let all = list(TrailFilter {
            limit: 100,
            ..Default::default()
        })
        .await;
        assert_eq!(all.len(), 31, "{}", db.backend);
        assert!(all.iter().all(|e| matches!(e.event, Event::Auth(_))));
        assert!(
            all.windows(2)
                .all(|w| (w[0].event.at(), w[0].seq) > (w[1].event.at(), w[1].seq))
        );

        let by_ip = list(TrailFilter {
            ip: Some("192.0.2.1".into()),
            limit: 100,
            ..Default::default()
        })
        .await;
        assert_eq!(by_ip.len(), 11);
        let ann_failures_since = list(TrailFilter {
            user: Some("ann".into()),
            outcome: Some(AuthOutcome::Failure),
            since: Some(at(10 * 60)),
            until: Some(at(20 * 60)),
            limit: 100,
            ..Default::default()
        })
        .await;
        let minutes: Vec<i64> = ann_failures_since
            .iter()
            .map(|e| (e.event.at().as_second() - at(0).as_second()) / 60)
            .collect();
        assert_eq!(minutes, vec![19, 17, 13, 11], "{}", db.backend);

        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = list(TrailFilter {
                after,
                limit: 7,
                ..Default::default()
            })
            .await;
            let Some(last) = page.last() else { break };
            after = Some(TrailCursor::decode(&TrailCursor::of(last).encode()).unwrap());
            paged.extend(page);
        }
        assert_eq!(paged, all, "{}: pages join up without gaps or repeats", db.backend);

        // Retention removes what happened before the cutoff and nothing after, in rounds.
        assert_eq!(
            store.expire_events(at(15 * 60), 20).await.unwrap(),
            20 + 15,
            "{}",
            db.backend
        );
        assert_eq!(
            store.expire_events(at(15 * 60), 20).await.unwrap(),
            10,
            "{}",
            db.backend
        );
        assert_eq!(store.expire_events(at(15 * 60), 20).await.unwrap(), 0, "{}", db.backend);
        assert_eq!(store.events_after(0, 1).await.unwrap()[0].event.at(), at(15 * 60));
        let kept = list(TrailFilter {
            limit: 100,
            ..Default::default()
        })
        .await;
        assert_eq!(kept.len(), 16);
        assert!(kept.iter().all(|e| e.event.at() >= at(15 * 60)));
        // An event a signal cites stays past retention, and the rest still go around it.
        let first = store.events_after(0, 1).await.unwrap()[0].seq;
        let cited = tocsin_store::signals::NewSignal {
            signal: tocsin_core::signal::Signal {
                detector: tocsin_core::detector::DetectorId::BruteForce,
                key: "192.0.2.1".into(),
                at: at(15 * 60),
                count: 1,
                first_at: at(15 * 60),
                last_at: at(15 * 60),
                samples: vec![first],
                sources: Vec::new(),
                accounts: Vec::new(),
                summary: "cited".into(),
            },
            ruling: tocsin_core::signal::Ruling {
                severity: "P2".into(),
                disposition: tocsin_core::signal::Disposition::Record,
                group: "source:192.0.2.1".into(),
                suppressed: None,
            },
        };
        store.record_signals("test", 0, &[cited], at(15 * 60)).await.unwrap();
        while store.expire_events(at(100 * 60), 20).await.unwrap() > 0 {}
        let left = store.events_after(0, 100).await.unwrap();
        assert_eq!(
            left.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [first],
            "{}: only the cited event stays",
            db.backend
        );
    }
}

#[tokio::test]
async fn the_first_event_received_since_a_time_is_found_without_an_index() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(store.first_seq_received_since(at(0)).await.unwrap(), 1, "an empty log");
        let events: Vec<NewEvent> = (0..1000)
            .map(|i| NewEvent::new(heartbeat(i, "a"), "test", at(i / 10 * 60)))
            .collect();
        store.append_events(&events).await.unwrap();
        for (since, expected) in [(0, 1), (60, 11), (61, 21), (99 * 60, 991), (100 * 60, 1001)] {
            assert_eq!(
                store.first_seq_received_since(at(since)).await.unwrap(),
                expected,
                "{}: since {since}",
                db.backend
            );
        }
    }
}
