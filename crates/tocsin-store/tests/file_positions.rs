//! How far a followed file was read is kept with the events of its lines, in one
//! transaction, and replaced as it moves on; on both backends.

use jiff::Timestamp;
use tocsin_core::event::{Event, HeartbeatEvent};
use tocsin_store::events::{FilePosition, NewEvent};
use tocsin_store::testing::TestDb;

fn position(offset: u64) -> FilePosition {
    FilePosition {
        source: "file:/var/log/auth.log".into(),
        inode: 42,
        offset,
        head: "ab".repeat(32),
        head_len: 256,
    }
}

#[tokio::test]
async fn a_files_position_is_kept_with_its_events() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(store.file_position("file:/var/log/auth.log").await.unwrap(), None);
        let event = |agent: &str| {
            NewEvent::new(
                Event::Heartbeat(HeartbeatEvent {
                    at: Timestamp::UNIX_EPOCH,
                    agent: agent.into(),
                    version: None,
                    config_hash: None,
                    stale_after: None,
                }),
                "file:/var/log/auth.log",
                Timestamp::UNIX_EPOCH,
            )
        };
        let seqs = store
            .append_events_from(&[event("a"), event("b")], &position(120))
            .await
            .unwrap();
        assert_eq!(seqs.len(), 2);
        assert_eq!(
            store.file_position("file:/var/log/auth.log").await.unwrap(),
            Some(position(120))
        );
        // Lines without events move the position alone.
        assert!(store.append_events_from(&[], &position(300)).await.unwrap().is_empty());
        assert_eq!(
            store
                .file_position("file:/var/log/auth.log")
                .await
                .unwrap()
                .unwrap()
                .offset,
            300
        );
        assert_eq!(store.last_event_seq().await.unwrap(), seqs[1]);
    }
}
