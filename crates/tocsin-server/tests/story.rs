//! The conformance story: the same script runs against SQLite and PostgreSQL.

use tocsin_core::Timestamp;
use tocsin_core::clock::ClockState;
use tocsin_core::incident::{Actor, Command, Declaration, IncidentNumber, Status};
use tocsin_core::plan::presets;
use tocsin_server::services::plans::PlanText;
use tocsin_server::{Broken, Desk, DeskError};
use tocsin_store::IncidentFilter;
use tocsin_store::testing::TestDb;

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The three-tier preset with the people the story names.
fn plan() -> PlanText {
    let mut text = presets::THREE_TIER.source.to_owned();
    for (id, name) in [("ana", "Ana"), ("kim", "Kim")] {
        text.push_str(&format!("\n[[person]]\nid = \"{id}\"\nname = \"{name}\"\n"));
    }
    PlanText::new(text, "the three-tier preset")
}

fn jo() -> Actor {
    Actor::parse("jo").unwrap()
}

fn inc(n: u64) -> IncidentNumber {
    IncidentNumber::new(n).unwrap()
}

fn declaration(title: &str, severity: &str, personal_data: bool) -> Declaration {
    Declaration {
        title: title.into(),
        severity: severity.into(),
        personal_data,
        ..Declaration::default()
    }
}

async fn desk(db: &TestDb) -> Desk {
    Desk::open(db.open().await, &plan(), &jo(), t(NOW)).await.unwrap().0
}

const NOW: &str = "2026-11-22T12:00:00Z";

/// Declares INC-0001 (P0, personal data) and INC-0002 (P2) and works the first to closure.
async fn work_two_incidents(desk: &Desk) {
    let now = t(NOW);
    let first = desk
        .declare(
            &declaration("Vault key exposed", "P0", true),
            &jo(),
            Some(t("2026-11-20T09:12:00Z")),
            now,
        )
        .await
        .unwrap();
    assert_eq!(first.incident.number, inc(1));
    let second = desk
        .declare(&declaration("Failed logins from one IP", "P2", false), &jo(), None, now)
        .await
        .unwrap();
    assert_eq!(second.incident.number, inc(2));
    let steps = [
        (
            Command::Assign {
                owner: Some("ana".into()),
                roles: vec![
                    ("incident-commander".into(), "jo".into()),
                    ("technical-lead".into(), "kim".into()),
                ],
            },
            "2026-11-20T09:19:00Z",
        ),
        (Command::Acknowledge, "2026-11-20T09:20:00Z"),
        (Command::StartStep { step: "contain".into() }, "2026-11-20T09:30:00Z"),
        (
            Command::CheckItem {
                step: "contain".into(),
                item: 2,
            },
            "2026-11-20T09:35:00Z",
        ),
        (
            Command::RecordNotice {
                kind: "status-update".into(),
                note: Some("contained".into()),
            },
            "2026-11-20T09:40:00Z",
        ),
        (
            Command::ChangeSeverity {
                to: "P1".into(),
                reason: "no data left the vault".into(),
            },
            "2026-11-20T10:00:00Z",
        ),
        (
            Command::RecordNotice {
                kind: "customers".into(),
                note: None,
            },
            "2026-11-20T15:00:00Z",
        ),
        (
            Command::RecordNotice {
                kind: "authority".into(),
                note: None,
            },
            "2026-11-21T10:00:00Z",
        ),
        (
            Command::Resolve {
                summary: Some("key rotated".into()),
            },
            "2026-11-20T11:40:00Z",
        ),
    ];
    for (command, at) in steps {
        desk.act(inc(1), &command, &jo(), Some(t(at)), now)
            .await
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    }
}

#[tokio::test]
async fn the_incident_story_holds_on_every_backend() {
    for db in TestDb::all().await {
        let desk = desk(&db).await;
        work_two_incidents(&desk).await;
        let now = t(NOW);
        let view = desk.incident(inc(1)).await.unwrap();
        let backend = db.backend;
        assert_eq!(view.incident.status, Status::Resolved, "{backend}");
        assert_eq!(view.incident.severity.as_str(), "P1", "{backend}");
        assert_eq!(view.incident.owner.as_deref(), Some("ana"), "{backend}");
        assert_eq!(view.timeline.len(), 12, "{backend}");
        let state = |id: &str| {
            view.clocks
                .iter()
                .find(|c| c.id == id)
                .unwrap_or_else(|| panic!("{id}"))
                .state(now)
        };
        assert_eq!(
            state("acknowledge"),
            ClockState::Met {
                at: t("2026-11-20T09:20:00Z")
            },
            "{backend}"
        );
        assert_eq!(
            state("status-update-1"),
            ClockState::Met {
                at: t("2026-11-20T09:40:00Z")
            },
            "{backend}"
        );
        assert_eq!(
            state("customer-notice"),
            ClockState::Met {
                at: t("2026-11-20T15:00:00Z")
            },
            "{backend}"
        );
        assert_eq!(
            state("gdpr-art33"),
            ClockState::Met {
                at: t("2026-11-21T10:00:00Z")
            },
            "{backend}"
        );
        assert_eq!(state("gdpr-art34"), ClockState::Running, "{backend}");
        assert_eq!(
            state("review"),
            ClockState::Breached {
                at: t("2026-11-22T11:40:00Z")
            },
            "{backend}"
        );

        // An invalid transition is refused and changes nothing.
        let head = db.open().await.chain_head().await.unwrap();
        let refused = desk
            .act(inc(1), &Command::Close { override_reason: None }, &jo(), None, now)
            .await;
        assert!(matches!(refused, Err(DeskError::Rejected(_))), "{backend}: {refused:?}");
        assert_eq!(db.open().await.chain_head().await.unwrap(), head, "{backend}");
        let unknown = desk.act(inc(9), &Command::Acknowledge, &jo(), None, now).await;
        assert!(
            matches!(unknown, Err(DeskError::NotFound(n)) if n == inc(9)),
            "{backend}: {unknown:?}"
        );

        // Open clocks across incidents, soonest first, deadline-less last.
        let open = desk.open_clocks().await.unwrap();
        let listed: Vec<(u64, &str)> = open.iter().map(|o| (o.incident.get(), o.clock.id.as_str())).collect();
        assert_eq!(
            listed,
            [(1, "review"), (2, "acknowledge"), (1, "gdpr-art34")],
            "{backend}"
        );

        // Lists filter by status, severity, owner and title text, newest first.
        let list = |filter: IncidentFilter| {
            let desk = desk.clone();
            async move {
                desk.incidents(&filter)
                    .await
                    .unwrap()
                    .iter()
                    .map(|s| s.number.get())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(list(IncidentFilter::default()).await, [2, 1], "{backend}");
        assert_eq!(
            list(IncidentFilter {
                statuses: vec![Status::Resolved],
                ..Default::default()
            })
            .await,
            [1]
        );
        assert_eq!(
            list(IncidentFilter {
                severities: vec!["P2".into()],
                ..Default::default()
            })
            .await,
            [2]
        );
        assert_eq!(
            list(IncidentFilter {
                owner: Some("ana".into()),
                ..Default::default()
            })
            .await,
            [1]
        );
        assert_eq!(
            list(IncidentFilter {
                text: Some("VAULT".into()),
                ..Default::default()
            })
            .await,
            [1]
        );
        assert_eq!(
            list(IncidentFilter {
                text: Some("100%".into()),
                ..Default::default()
            })
            .await,
            Vec::<u64>::new()
        );
        assert_eq!(
            list(IncidentFilter {
                before: Some(inc(2)),
                limit: Some(5),
                ..Default::default()
            })
            .await,
            [1]
        );

        let verification = desk.verify().await.unwrap();
        assert_eq!(verification.broken, None, "{backend}");
        assert_eq!((verification.entries, verification.incidents), (14, 2), "{backend}");
        assert!(verification.unchecked_clocks.is_empty(), "{backend}");
        assert_eq!(verification.plan_versions, 1, "{backend}");
    }
}

#[tokio::test]
async fn incident_numbers_never_repeat_across_restarts() {
    for db in TestDb::all().await {
        let now = t(NOW);
        {
            let desk = desk(&db).await;
            desk.declare(&declaration("one", "P2", false), &jo(), None, now)
                .await
                .unwrap();
            desk.declare(&declaration("two", "P2", false), &jo(), None, now)
                .await
                .unwrap();
        }
        let desk = desk(&db).await;
        let third = desk
            .declare(&declaration("three", "P2", false), &jo(), None, now)
            .await
            .unwrap();
        assert_eq!(third.incident.number, inc(3), "{}", db.backend);
        assert_eq!(third.incident.number.to_string(), "INC-0003");
    }
}

#[tokio::test]
async fn an_audit_row_edited_behind_tocsins_back_is_named_by_verify() {
    for db in TestDb::all().await {
        let desk = desk(&db).await;
        work_two_incidents(&desk).await;
        // The log refuses edits outright...
        let refused = db
            .try_tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
            .await;
        assert!(
            refused.unwrap_err().to_string().contains("append-only"),
            "{}",
            db.backend
        );
        let refused = db.try_tamper("DELETE FROM audit_log WHERE seq = 5").await;
        assert!(
            refused.unwrap_err().to_string().contains("append-only"),
            "{}",
            db.backend
        );
        // ...so an intruder first removes the guard.
        db.tamper(db.drop_append_only_guard()).await;
        db.tamper("UPDATE audit_log SET data = REPLACE(data, 'ana', 'eve') WHERE seq = 4")
            .await;
        let verification = desk.verify().await.unwrap();
        let Some(Broken::Chain(broken)) = verification.broken else {
            panic!("{}: {verification:?}", db.backend)
        };
        assert_eq!(broken.seq, 4, "{}", db.backend);
        assert!(broken.reason.contains("content was changed"), "{}", broken.reason);
        assert_eq!(verification.entries, 3);
    }
}

#[tokio::test]
async fn removed_entries_and_rewritten_rows_are_found() {
    for db in TestDb::all().await {
        let desk = desk(&db).await;
        work_two_incidents(&desk).await;
        db.tamper(db.drop_append_only_guard()).await;

        db.tamper("UPDATE incidents SET status = 'closed' WHERE number = 1")
            .await;
        let found = desk.verify().await.unwrap().broken.unwrap();
        assert_eq!(
            found.to_string(),
            "INC-0001: its stored row does not match its audit history: status is closed but the history says resolved"
        );
        db.tamper("UPDATE incidents SET status = 'resolved' WHERE number = 1")
            .await;

        db.tamper("UPDATE clocks SET met_ms = due_ms - 1 WHERE incident = 1 AND clock = 'review'")
            .await;
        let found = desk.verify().await.unwrap().broken.unwrap();
        assert_eq!(
            found.to_string(),
            "INC-0001: its stored clocks are not those plan version 1 gives, which they were computed under",
            "{}",
            db.backend
        );

        db.tamper("DELETE FROM audit_log WHERE seq = 14").await;
        let found = desk.verify().await.unwrap().broken.unwrap();
        assert!(
            found.to_string().starts_with("audit entry #14: the chain ends at #13"),
            "{found}"
        );

        db.tamper("DELETE FROM audit_log WHERE seq = 6").await;
        let found = desk.verify().await.unwrap().broken.unwrap();
        assert_eq!(found.to_string(), "audit entry #6: entry #6 is missing");
    }
}

#[tokio::test]
async fn two_processes_changing_one_incident_lose_nothing() {
    for db in TestDb::all().await {
        let now = t(NOW);
        let first = desk(&db).await;
        first
            .declare(&declaration("shared", "P1", false), &jo(), None, now)
            .await
            .unwrap();
        // A second, independent connection pool stands in for a second process.
        let second = desk(&db).await;
        let mut tasks = Vec::new();
        for (who, desk) in [("a", first.clone()), ("b", second.clone())] {
            tasks.push(tokio::spawn(async move {
                for i in 0..15 {
                    let note = Command::AddNote {
                        text: format!("{who}{i}"),
                    };
                    desk.act(inc(1), &note, &Actor::parse(who).unwrap(), None, now)
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let view = first.incident(inc(1)).await.unwrap();
        assert_eq!(view.timeline.len(), 31, "{}", db.backend);
        assert_eq!(view.incident.version, 31);
        let verification = second.verify().await.unwrap();
        assert_eq!(
            (verification.broken, verification.entries),
            (None, 32),
            "{}",
            db.backend
        );
    }
}
