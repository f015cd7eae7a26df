//! Properties that must hold for any sequence of responder actions.

mod common;

use common::{Story, minutes, t};
use jiff::Timestamp;
use proptest::prelude::*;
use tocsin_core::audit::{AuditEntry, ChainHash, ChainVerifier, EntryDraft};
use tocsin_core::clock::ClockState;
use tocsin_core::incident::{Command, IncidentNumber};

fn commands(preset: &'static str) -> impl Strategy<Value = Command> {
    let severities: Vec<&str> = if preset == "four-tier" {
        vec!["P1", "P2", "P3", "P4"]
    } else {
        vec!["P0", "P1", "P2"]
    };
    let kinds = vec!["customers", "authority", "data-subjects", "status-update"];
    let steps = vec!["identify", "contain", "review", "recover"];
    prop_oneof![
        Just(Command::Acknowledge),
        prop::sample::select(severities).prop_map(|s| Command::ChangeSeverity {
            to: s.into(),
            reason: "r".into()
        }),
        prop::sample::select(kinds).prop_map(|k| Command::RecordNotice {
            kind: k.into(),
            note: None
        }),
        Just(Command::MarkPersonalData { reason: None }),
        Just(Command::UnmarkPersonalData { reason: "r".into() }),
        prop::sample::select(steps.clone()).prop_map(|s| Command::StartStep { step: s.into() }),
        prop::sample::select(steps.clone()).prop_map(|s| Command::CompleteStep { step: s.into() }),
        (prop::sample::select(steps), 1u32..5).prop_map(|(s, i)| Command::CheckItem {
            step: s.into(),
            item: i
        }),
        Just(Command::AddNote { text: "n".into() }),
        Just(Command::Resolve { summary: None }),
        Just(Command::Close {
            override_reason: Some("r".into())
        }),
        Just(Command::Dismiss { reason: "r".into() }),
        Just(Command::Reopen { reason: "r".into() }),
        Just(Command::Assign {
            owner: Some("kim".into()),
            roles: vec![]
        }),
    ]
}

fn scenario() -> impl Strategy<Value = (&'static str, usize, bool, Vec<(Command, i64)>)> {
    prop::sample::select(vec!["four-tier", "three-tier"]).prop_flat_map(|preset| {
        (
            Just(preset),
            0usize..3,
            any::<bool>(),
            prop::collection::vec((commands(preset), 0i64..(60 * 30)), 1..40),
        )
    })
}

fn first_severity(preset: &str, pick: usize) -> &'static str {
    let list: &[&'static str] = if preset == "four-tier" {
        &["P1", "P2", "P3", "P4"]
    } else {
        &["P0", "P1", "P2"]
    };
    list[pick % list.len()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_action_loses_a_clock_on_a_severity_change_or_undoes_a_met_or_breached_clock(
        (preset, pick, personal, steps) in scenario()
    ) {
        let mut now = t("2026-11-20T09:00:00Z");
        let mut story = Story::declare(preset, first_severity(preset, pick), personal, now);
        for (command, gap) in steps {
            now += minutes(gap);
            let before = story.clocks();
            if story.run(command.clone(), now).is_err() {
                prop_assert_eq!(story.clocks(), before, "a refused command changed the clocks");
                continue;
            }
            let after = story.clocks();
            if matches!(command, Command::ChangeSeverity { .. }) {
                for clock in &before {
                    prop_assert!(after.iter().any(|c| c.id == clock.id), "{} lost on {:?}", clock.id, command);
                }
            }
            for old in &before {
                let was = old.state(now);
                if !matches!(was, ClockState::Met { .. } | ClockState::Breached { .. }) {
                    continue;
                }
                let new = after.iter().find(|c| c.id == old.id);
                prop_assert!(new.is_some(), "{} ({was:?}) vanished after {:?}", old.id, command);
                let is = new.unwrap().state(now);
                match was {
                    ClockState::Met { .. } => prop_assert_eq!(is, was, "{} after {:?}", old.id, command),
                    _ => prop_assert!(matches!(is, ClockState::Breached { .. }), "{} was {was:?}, is {is:?} after {:?}", old.id, command),
                }
            }
        }
    }

    #[test]
    fn any_history_verifies_and_any_single_edit_is_found_at_its_entry(
        (preset, pick, personal, steps) in scenario(),
        victim in any::<prop::sample::Index>(),
        edit in 0u8..7,
    ) {
        let mut now = t("2026-11-20T09:00:00Z");
        let mut story = Story::declare(preset, first_severity(preset, pick), personal, now);
        for (command, gap) in steps {
            now += minutes(gap);
            let _ = story.run(command, now);
        }
        let number = IncidentNumber::new(1);
        let mut chain: Vec<AuditEntry> = Vec::new();
        for (i, recorded) in story.history.iter().enumerate() {
            let prev = chain.last().map_or(ChainHash::GENESIS, |e| e.hash);
            let seq = u64::try_from(i).unwrap() + 1;
            chain.push(EntryDraft::for_incident(number, recorded, now).seal(seq, prev));
        }
        let head = chain.last().map(|e| (e.seq, e.hash)).unwrap();
        prop_assert_eq!(verify(&chain, head), Ok(head.0));

        let i = victim.index(chain.len());
        let seq = chain[i].seq;
        let entry = &mut chain[i];
        match edit {
            0 => entry.actor.push('x'),
            1 => entry.at = Timestamp::from_millisecond(entry.at.as_millisecond() + 1).unwrap(),
            2 => entry.data["tampered"] = serde_json::json!(true),
            3 => entry.action = format!("{}_", entry.action),
            4 => entry.incident = IncidentNumber::new(2),
            5 => { chain.remove(i); }
            _ => entry.recorded_at = Timestamp::from_millisecond(entry.recorded_at.as_millisecond() - 1).unwrap(),
        }
        let broken = verify(&chain, head);
        prop_assert!(broken.is_err(), "edit {edit} of entry #{seq} went unnoticed");
        prop_assert_eq!(broken.unwrap_err(), seq, "edit {} of entry #{} reported elsewhere", edit, seq);
    }
}

fn verify(chain: &[AuditEntry], head: (u64, ChainHash)) -> Result<u64, u64> {
    let mut verifier = ChainVerifier::default();
    for entry in chain {
        verifier.check(entry).map_err(|b| b.seq)?;
    }
    verifier.finish(head.0, head.1).map_err(|b| b.seq)
}
