//! The notifier on its own clock: an unacknowledged incident at a paging severity calls
//! the plan's people level after level, repeats the last until someone acknowledges, and
//! stops then; a status update's reminders name the owner; signals go to the routes that
//! ask for them.

use std::sync::Arc;

use jiff::SignedDuration;
use serde_json::Value;
use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, Command, Declaration, IncidentNumber};
use tocsin_core::plan::presets;
use tocsin_server::Desk;
use tocsin_server::services::plans::PlanText;
use tocsin_server::workers::notifier::{escalate, notify_signals, warn_clocks};
use tocsin_store::outbox::OutboxFilter;
use tocsin_store::testing::TestDb;

const PEOPLE: &str = r#"
[[person]]
id = "jo"
name = "Jo Smith"
email = "jo@example.com"
telegram = 4242

[[person]]
id = "ann"
name = "Ann Founder"

[[person]]
id = "ben"
name = "Ben Founder"

[[role]]
id = "security-lead"
name = "Security lead"
people = ["jo"]

[[channel]]
name = "pager"
type = "webhook"
url = "https://hooks.example.com/pager"
secret_env = "PAGER_SECRET"

[[route]]
channels = ["pager"]
events = ["clock_warning", "signal"]
severities = ["P0", "P1"]

[escalation]
channels = ["pager"]
repeat = "15m"
[[escalation.level]]
after = "0m"
notify = ["owner"]
[[escalation.level]]
after = "10m"
notify = ["security-lead"]
[[escalation.level]]
after = "20m"
notify = ["ann", "ben"]
"#;

async fn desk(db: &Arc<dyn tocsin_store::Store>) -> Desk {
    let source = format!("{}{PEOPLE}", presets::THREE_TIER.source);
    let actor = Actor::parse("tocsin").unwrap();
    Desk::open(Arc::clone(db), &PlanText::new(source, "test"), &actor, Timestamp::now())
        .await
        .unwrap()
        .0
}

/// Declares an incident at `at` as jo; its number.
async fn declare(desk: &Desk, title: &str, severity: &str, at: Timestamp) -> IncidentNumber {
    let declaration = Declaration {
        title: title.into(),
        severity: severity.into(),
        ..Declaration::default()
    };
    let jo = Actor::parse("jo").unwrap();
    desk.declare(&declaration, &jo, Some(at), at)
        .await
        .unwrap()
        .incident
        .number
}

fn at(t0: Timestamp, minutes: i64) -> Timestamp {
    t0 + SignedDuration::from_mins(minutes)
}

/// The messages in the outbox of `kind`, oldest first.
async fn queued(store: &dyn tocsin_store::outbox::OutboxStore, kind: &str) -> Vec<Value> {
    let mut all = store
        .outbox(&OutboxFilter {
            limit: 1000,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    all.reverse();
    all.into_iter()
        .filter(|n| n.kind == kind)
        .map(|n| serde_json::from_str(&n.payload).unwrap())
        .collect()
}

fn names(message: &Value) -> Vec<&str> {
    message["to"]
        .as_array()
        .map(|to| to.iter().map(|p| p["name"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_unacknowledged_critical_incident_calls_level_after_level_until_acknowledged() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let desk = desk(&store).await;
    let jo = Actor::parse("jo").unwrap();
    let t0: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let critical = declare(&desk, "Vault key exposed", "P0", t0).await;
    // A medium incident does not page, so it does not escalate.
    declare(&desk, "Odd logins", "P2", t0).await;

    assert_eq!(escalate(&*store, &desk, None, at(t0, 1)).await.unwrap(), 1);
    let calls = queued(&*store, "escalation").await;
    assert_eq!(calls[0]["id"], "escalate:INC-0001:0:0:pager");
    assert_eq!(
        calls[0]["text"],
        "Not acknowledged after 1m: nobody is assigned yet (escalation 1 of 3)"
    );
    assert_eq!(calls[0]["awaits_ack"], true);
    assert_eq!(calls[0]["severity"], "P0");
    // Each level is called once, however often the notifier looks.
    assert_eq!(escalate(&*store, &desk, None, at(t0, 2)).await.unwrap(), 0);

    // The security lead is the role's holder on the incident, else the plan's people for it.
    assert_eq!(escalate(&*store, &desk, None, at(t0, 10)).await.unwrap(), 1);
    let calls = queued(&*store, "escalation").await;
    assert_eq!(names(&calls[1]), ["Jo Smith"]);
    assert_eq!(calls[1]["to"][0]["email"], "jo@example.com");
    assert_eq!(calls[1]["to"][0]["telegram"], 4242);
    assert!(
        calls[1]["text"]
            .as_str()
            .unwrap()
            .contains("calling Jo Smith (escalation 2 of 3)")
    );

    // After a pause only the latest level is called: here the founders, at once.
    assert_eq!(escalate(&*store, &desk, None, at(t0, 34)).await.unwrap(), 1);
    let calls = queued(&*store, "escalation").await;
    assert_eq!(names(&calls[2]), ["Ann Founder", "Ben Founder"]);
    // The last level again every 15 minutes.
    assert_eq!(escalate(&*store, &desk, None, at(t0, 35)).await.unwrap(), 1);
    assert_eq!(escalate(&*store, &desk, None, at(t0, 49)).await.unwrap(), 0);
    assert_eq!(escalate(&*store, &desk, None, at(t0, 50)).await.unwrap(), 1);
    let calls = queued(&*store, "escalation").await;
    assert_eq!(calls.len(), 5);
    assert!(
        calls[4]["text"]
            .as_str()
            .unwrap()
            .starts_with("Still not acknowledged after 50m: calling Ann Founder, Ben Founder again")
    );

    // Acknowledged: no more calls.
    desk.act(critical, &Command::Acknowledge, &jo, Some(at(t0, 51)), at(t0, 51))
        .await
        .unwrap();
    assert_eq!(escalate(&*store, &desk, None, at(t0, 70)).await.unwrap(), 0);
    assert_eq!(queued(&*store, "escalation").await.len(), 5);
    assert!(
        queued(&*store, "escalation")
            .await
            .iter()
            .all(|c| c["incident"] == "INC-0001")
    );
}

#[tokio::test]
async fn a_status_update_reminder_names_the_owner_and_an_incident_assigned_later_calls_its_holder() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let desk = desk(&store).await;
    let jo = Actor::parse("jo").unwrap();
    let t0: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let number = declare(&desk, "Customer data exposed", "P0", t0).await;
    assert_eq!(number, IncidentNumber::new(1).unwrap());
    let assign = Command::Assign {
        owner: Some("ben".into()),
        roles: vec![("security-lead".into(), "ann".into())],
    };
    desk.act(number, &assign, &jo, Some(at(t0, 1)), at(t0, 1))
        .await
        .unwrap();
    desk.act(number, &Command::Acknowledge, &jo, Some(at(t0, 2)), at(t0, 2))
        .await
        .unwrap();

    // The first status update is due 30 minutes in: at 80% of it, the reminder is for Ben.
    warn_clocks(&*store, &desk, None, at(t0, 25)).await.unwrap();
    let warnings = queued(&*store, "clock_warning").await;
    let update = warnings
        .iter()
        .find(|w| w["text"].as_str().unwrap().starts_with("Status update"))
        .unwrap_or_else(|| panic!("{warnings:#?}"));
    assert_eq!(names(update), ["Ben Founder"]);
    assert_eq!(update["awaits_ack"], Value::Null);

    // An incident whose security lead is assigned calls that person, not the plan's.
    let second = declare(&desk, "Production down", "P0", t0).await;
    let assign = Command::Assign {
        owner: None,
        roles: vec![("security-lead".into(), "ann".into())],
    };
    desk.act(second, &assign, &jo, Some(at(t0, 1)), at(t0, 1))
        .await
        .unwrap();
    escalate(&*store, &desk, None, at(t0, 11)).await.unwrap();
    let calls = queued(&*store, "escalation").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["incident"], "INC-0002");
    assert_eq!(names(&calls[0]), ["Ann Founder"]);
}

#[tokio::test]
async fn signals_reach_the_routes_that_ask_for_them_unless_suppressed_or_stale() {
    use tocsin_core::signal::{Disposition, Signal};
    use tocsin_store::signals::NewSignal;

    let db = TestDb::sqlite();
    let store = db.open().await;
    let desk = desk(&store).await;
    let now = Timestamp::now();
    let signal = |key: &str, severity: &str, suppressed: Option<&str>| NewSignal {
        signal: Signal {
            detector: tocsin_core::detector::DetectorId::BruteForce,
            key: key.into(),
            at: now,
            count: 12,
            first_at: now - SignedDuration::from_mins(3),
            last_at: now,
            samples: vec![1],
            sources: Vec::new(),
            accounts: Vec::new(),
            summary: format!("12 failed logins from {key}"),
        },
        ruling: tocsin_core::signal::Ruling {
            severity: severity.into(),
            disposition: Disposition::Open,
            group: key.into(),
            suppressed: suppressed.map(str::to_owned),
        },
    };
    let recorded = store
        .record_signals(
            "detectors",
            10,
            &[
                signal("203.0.113.9", "P1", None),
                signal("198.51.100.7", "P1", Some("the yearly penetration test")),
                // The route takes P0 and P1 only.
                signal("192.0.2.1", "P2", None),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(recorded.len(), 3);
    assert_eq!(notify_signals(&*store, &desk).await.unwrap(), 3);
    let told = queued(&*store, "signal").await;
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0]["title"], "12 failed logins from 203.0.113.9");
    assert_eq!(told[0]["severity"], "P1");
    assert!(
        told[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("brute_force on 203.0.113.9: 12 events from")
    );
    // Read once: the cursor moved with the notifications.
    assert_eq!(notify_signals(&*store, &desk).await.unwrap(), 0);

    // A signal recorded long ago (a first start on an old database) is not news.
    store
        .record_signals(
            "detectors",
            11,
            &[signal("203.0.113.10", "P1", None)],
            now - SignedDuration::from_hours(2),
        )
        .await
        .unwrap();
    assert_eq!(notify_signals(&*store, &desk).await.unwrap(), 1);
    assert_eq!(queued(&*store, "signal").await.len(), 1);
}

#[tokio::test]
async fn the_data_subject_notice_without_undue_delay_reminds_until_it_is_marked_not_required() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let desk = desk(&store).await;
    let jo = Actor::parse("jo").unwrap();
    let t0: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let declaration = Declaration {
        title: "Customer export leaked".into(),
        severity: "P0".into(),
        personal_data: true,
        ..Declaration::default()
    };
    let number = desk
        .declare(&declaration, &jo, Some(t0), t0)
        .await
        .unwrap()
        .incident
        .number;
    let reminders = |texts: &[Value]| -> Vec<String> {
        texts
            .iter()
            .map(|w| w["text"].as_str().unwrap().to_owned())
            .filter(|t| t.starts_with("Notify affected data subjects"))
            .collect()
    };
    warn_clocks(&*store, &desk, None, at(t0, 23 * 60)).await.unwrap();
    assert!(reminders(&queued(&*store, "clock_warning").await).is_empty());
    // The preset reminds every 24 hours, the latest reminder once.
    warn_clocks(&*store, &desk, None, at(t0, 25 * 60)).await.unwrap();
    warn_clocks(&*store, &desk, None, at(t0, 26 * 60)).await.unwrap();
    let sent = reminders(&queued(&*store, "clock_warning").await);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        sent[0].contains("is not met yet, 1d 1h after it started (reminder 1)"),
        "{sent:?}"
    );
    warn_clocks(&*store, &desk, None, at(t0, 49 * 60)).await.unwrap();
    assert_eq!(reminders(&queued(&*store, "clock_warning").await).len(), 2);
    let waive = Command::Waive {
        clock: "gdpr-art34".into(),
        reason: "the records were encrypted and the key was not exposed".into(),
    };
    desk.act(number, &waive, &jo, Some(at(t0, 50 * 60)), at(t0, 50 * 60))
        .await
        .unwrap();
    warn_clocks(&*store, &desk, None, at(t0, 97 * 60)).await.unwrap();
    assert_eq!(
        reminders(&queued(&*store, "clock_warning").await).len(),
        2,
        "a waived obligation reminds no more"
    );
}
