//! The daily audit's reports: kept whole with their entry on the audit chain, listed newest
//! first, the newest when no id is asked, and the oldest let go past the bound; on both
//! backends.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::Actor;
use tocsin_store::audit_reports::{KEEP, NewAuditReport};
use tocsin_store::testing::TestDb;

fn report(at: Timestamp, findings: u64) -> NewAuditReport {
    NewAuditReport {
        started_at: at,
        finished_at: at + SignedDuration::from_secs(3),
        by: "schedule".into(),
        findings,
        failed: 0,
        title: format!("Daily security audit: {findings} findings"),
        body: json!({"findings": findings}).to_string(),
    }
}

fn entry(at: Timestamp) -> EntryDraft {
    EntryDraft::system(
        "audit_report",
        &Actor::parse("tocsin").unwrap(),
        at,
        json!({"digest": "x"}),
    )
}

#[tokio::test]
async fn reports_are_kept_listed_newest_first_and_bounded() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(store.audit_report(None).await.unwrap(), None);
        let t0: Timestamp = "2026-12-04T06:00:00Z".parse().unwrap();
        let head = store.chain_head().await.unwrap().seq;
        let first = store.save_audit_report(&report(t0, 2), entry(t0)).await.unwrap();
        let t1 = t0 + SignedDuration::from_hours(24);
        let second = store.save_audit_report(&report(t1, 0), entry(t1)).await.unwrap();
        assert!(second > first);
        assert_eq!(store.chain_head().await.unwrap().seq, head + 2);
        let listed = store.audit_reports(None, 10).await.unwrap();
        assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), [second, first]);
        assert_eq!((listed[1].findings, listed[1].started_at), (2, t0));
        let (latest, body) = store.audit_report(None).await.unwrap().unwrap();
        assert_eq!((latest.id, body.as_str()), (second, r#"{"findings":0}"#));
        assert_eq!(store.audit_report(Some(first)).await.unwrap().unwrap().0.id, first);
        assert_eq!(store.audit_report(Some(first + 1000)).await.unwrap(), None);
        assert_eq!(store.audit_reports(Some(second), 10).await.unwrap()[0].id, first);
        for i in 0..KEEP {
            let at = t1 + SignedDuration::from_mins(i64::from(i) + 1);
            store.save_audit_report(&report(at, 1), entry(at)).await.unwrap();
        }
        let all = store.audit_reports(None, KEEP + 10).await.unwrap();
        assert_eq!(all.len(), KEEP as usize);
        assert!(all.iter().all(|r| r.id != first && r.id != second));
    }
}
