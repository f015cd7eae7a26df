//! The incident lifecycle and its clocks, told as stories against the two presets.

mod common;

use common::{Story, minutes, notice, severity, t};
use tocsin_core::clock::ClockState;
use tocsin_core::incident::{Command, CustomerImpact, Incident, IncidentEvent, RejectionKind, Status};

#[test]
fn a_p1_not_acknowledged_in_15_minutes_breaches_its_clock() {
    let start = t("2026-11-20T09:00:00Z");
    let story = Story::declare("four-tier", "P1", false, start);
    let ack = story.clock("acknowledge");
    assert_eq!(ack.due_at, Some(t("2026-11-20T09:15:00Z")));
    assert_eq!(
        story.state("acknowledge", t("2026-11-20T09:15:00Z")),
        ClockState::Running
    );
    assert_eq!(
        story.state("acknowledge", t("2026-11-20T09:15:00.001Z")),
        ClockState::Breached {
            at: t("2026-11-20T09:15:00Z")
        }
    );
}

#[test]
fn acknowledging_in_time_meets_the_clock_and_acknowledging_twice_is_refused() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("four-tier", "P1", false, start);
    story.ok(Command::Acknowledge, start + minutes(7));
    assert_eq!(
        story.state("acknowledge", start + minutes(60)),
        ClockState::Met { at: start + minutes(7) }
    );
    assert_eq!(story.incident.status, Status::Acknowledged);
    let err = story.run(Command::Acknowledge, start + minutes(8)).unwrap_err();
    assert_eq!(err.kind, RejectionKind::Conflict);
    assert_eq!(
        err.message,
        "INC-0001 is already acknowledged (by ana at 2026-11-20T09:07:00Z)"
    );
}

#[test]
fn acknowledging_late_is_a_breach_that_stays_a_breach() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("four-tier", "P1", false, start);
    story.ok(Command::Acknowledge, start + minutes(20));
    let ack = story.clock("acknowledge");
    assert_eq!(ack.met_at, Some(start + minutes(20)));
    assert_eq!(
        ack.state(start + minutes(30)),
        ClockState::Breached {
            at: start + minutes(15)
        }
    );
    assert!(!ack.open);
}

#[test]
fn a_severity_change_recomputes_running_clocks_from_the_original_start() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("four-tier", "P3", false, start);
    assert_eq!(story.clock("acknowledge").due_at, Some(start + minutes(240)));
    let events = story.run(severity("P1"), start + minutes(5)).unwrap();
    assert_eq!(story.clock("acknowledge").due_at, Some(start + minutes(15)));
    let IncidentEvent::SeverityChanged { from, to, shifts, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((from.as_str(), to.as_str()), ("P3", "P1"));
    let ack_shift = shifts.iter().find(|s| s.clock == "acknowledge").unwrap();
    assert_eq!(
        (ack_shift.due_before, ack_shift.due_after),
        (Some(start + minutes(240)), Some(start + minutes(15)))
    );
    // P1 also promises customer notice within 72 h of awareness: a new clock appears.
    assert_eq!(story.clock("customer-notice").due_at, Some(start + minutes(72 * 60)));
}

#[test]
fn a_met_clock_stays_met_when_the_severity_rises_later() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("four-tier", "P3", false, start);
    story.ok(Command::Acknowledge, start + minutes(120));
    story.ok(severity("P1"), start + minutes(130));
    assert_eq!(
        story.state("acknowledge", start + minutes(200)),
        ClockState::Met {
            at: start + minutes(120)
        }
    );
}

#[test]
fn a_breach_is_not_erased_by_lowering_the_severity() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("four-tier", "P1", false, start);
    story.ok(severity("P4"), start + minutes(30));
    let ack = story.clock("acknowledge");
    assert_eq!(ack.due_at, Some(start + minutes(24 * 60)));
    assert_eq!(
        ack.state(start + minutes(31)),
        ClockState::Breached {
            at: start + minutes(15)
        }
    );
}

#[test]
fn the_gdpr_clock_runs_72_hours_from_awareness_only_while_personal_data_is_involved() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", false, start);
    assert!(story.clocks().iter().all(|c| c.id != "gdpr-art33"));
    story.ok(Command::MarkPersonalData { reason: None }, start + minutes(60));
    let gdpr = story.clock("gdpr-art33");
    assert_eq!(gdpr.started_at, start + minutes(60));
    assert_eq!(gdpr.due_at, Some(start + minutes(60 + 72 * 60)));
    // Art. 34 is tracked without a fixed deadline.
    let art34 = story.clock("gdpr-art34");
    assert_eq!((art34.due_at, art34.open), (None, true));
    assert_eq!(art34.state(start + minutes(100 * 60)), ClockState::Running);
    story.ok(
        Command::UnmarkPersonalData {
            reason: "only hashed e-mails".into(),
        },
        start + minutes(90),
    );
    assert_eq!(
        story.state("gdpr-art33", start + minutes(91)),
        ClockState::NotApplicable
    );
}

#[test]
fn unmarking_personal_data_after_the_deadline_keeps_the_breach() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P0", true, start);
    let late = start + minutes(73 * 60);
    story.ok(
        Command::UnmarkPersonalData {
            reason: "mistake".into(),
        },
        late,
    );
    assert_eq!(
        story.state("gdpr-art33", late),
        ClockState::Breached {
            at: start + minutes(72 * 60)
        }
    );
}

#[test]
fn four_tier_asks_the_authority_only_for_a_p1_with_personal_data() {
    let start = t("2026-11-20T09:00:00Z");
    let p2 = Story::declare("four-tier", "P2", true, start);
    assert!(p2.clocks().iter().all(|c| c.id != "gdpr-art33"));
    let mut p1 = Story::declare("four-tier", "P1", true, start);
    assert_eq!(p1.clock("gdpr-art33").due_at, Some(start + minutes(72 * 60)));
    p1.ok(notice("authority"), start + minutes(600));
    assert_eq!(
        p1.state("gdpr-art33", start + minutes(601)),
        ClockState::Met {
            at: start + minutes(600)
        }
    );
    // Lowered to P2 after the authority was told: the obligation was kept, and stays kept.
    p1.ok(severity("P2"), start + minutes(700));
    assert_eq!(
        p1.state("gdpr-art33", start + minutes(701)),
        ClockState::Met {
            at: start + minutes(600)
        }
    );
}

#[test]
fn each_status_update_starts_the_next_interval() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P0", false, start);
    assert_eq!(story.clock("status-update-1").due_at, Some(start + minutes(30)));
    story.ok(notice("status-update"), start + minutes(25));
    assert_eq!(
        story.state("status-update-1", start + minutes(26)),
        ClockState::Met {
            at: start + minutes(25)
        }
    );
    assert_eq!(story.clock("status-update-2").due_at, Some(start + minutes(55)));
    story.ok(notice("status-update"), start + minutes(70));
    assert_eq!(
        story.state("status-update-2", start + minutes(71)),
        ClockState::Breached {
            at: start + minutes(55)
        }
    );
    assert_eq!(story.clock("status-update-3").due_at, Some(start + minutes(100)));
    // Resolution stops the cadence: the running interval no longer applies.
    story.ok(Command::Resolve { summary: None }, start + minutes(80));
    assert_eq!(
        story.state("status-update-3", start + minutes(200)),
        ClockState::NotApplicable
    );
}

#[test]
fn the_review_is_due_five_business_days_after_resolution_and_closing_needs_it() {
    let start = t("2026-11-20T09:00:00Z"); // a Friday
    let mut story = Story::declare("four-tier", "P2", false, start);
    story.ok(
        Command::Resolve {
            summary: Some("patched".into()),
        },
        start + minutes(120),
    );
    assert_eq!(story.incident.status, Status::Resolved);
    assert!(story.incident.acknowledged.is_some(), "resolving acknowledges");
    assert_eq!(story.clock("review").due_at, Some(t("2026-11-27T11:00:00Z")));
    let err = story
        .run(Command::Close { override_reason: None }, start + minutes(130))
        .unwrap_err();
    assert_eq!(
        err.message,
        "INC-0001 cannot close while the clock customer-notice runs until 2026-11-23T09:00:00Z, \
         steps identify, contain, eradicate, recover, notify, review are not done; \
         finish them, or close with an override and its reason"
    );
    story.ok(
        Command::AssessImpact {
            customers: Some(CustomerImpact::No),
            affected_customers: None,
            affected_data_subjects: None,
        },
        start + minutes(131),
    );
    for step in ["identify", "contain", "eradicate", "recover", "notify"] {
        story.ok(Command::CompleteStep { step: step.into() }, start + minutes(132));
    }
    story.ok(Command::CompleteStep { step: "review".into() }, start + minutes(3000));
    assert_eq!(
        story.state("review", start + minutes(3001)),
        ClockState::Met {
            at: start + minutes(3000)
        }
    );
    story.ok(Command::Close { override_reason: None }, start + minutes(3001));
    assert_eq!(story.incident.status, Status::Closed);
}

#[test]
fn closing_without_the_review_needs_a_reason() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P2", false, start);
    let err = story.run(Command::Close { override_reason: None }, start).unwrap_err();
    assert_eq!(err.message, "INC-0001 is declared; resolve it before closing");
    story.ok(Command::Resolve { summary: None }, start + minutes(1));
    story.ok(
        Command::Close {
            override_reason: Some("duplicate of INC-0002".into()),
        },
        start + minutes(2),
    );
    assert_eq!(story.incident.status, Status::Closed);
    let err = story
        .run(Command::AddNote { text: String::new() }, start + minutes(3))
        .unwrap_err();
    assert_eq!(err.message, "the note is empty");
    let err = story.run(Command::Acknowledge, start + minutes(3)).unwrap_err();
    assert_eq!(err.message, "INC-0001 is closed; reopen it first");
}

#[test]
fn a_dismissed_false_positive_stops_its_running_clocks() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P0", true, start);
    story.ok(
        Command::Dismiss {
            reason: "scanner test".into(),
        },
        start + minutes(10),
    );
    assert_eq!(story.incident.status, Status::Dismissed);
    let now = start + minutes(100 * 60);
    for clock in story.clocks() {
        assert_eq!(clock.state(now), ClockState::NotApplicable, "{}", clock.id);
        assert!(!clock.open);
    }
    story.ok(
        Command::Reopen {
            reason: "it was real".into(),
        },
        start + minutes(20),
    );
    assert_eq!(story.incident.status, Status::Declared);
    assert!(story.clock("acknowledge").open);
}

#[test]
fn steps_move_from_pending_through_in_progress_to_done_with_their_checklists() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", false, start);
    story.ok(Command::StartStep { step: "contain".into() }, start + minutes(1));
    story.ok(
        Command::CheckItem {
            step: "contain".into(),
            item: 4,
        },
        start + minutes(2),
    );
    let err = story
        .run(
            Command::CheckItem {
                step: "contain".into(),
                item: 5,
            },
            start + minutes(3),
        )
        .unwrap_err();
    assert_eq!(
        err.message,
        "step contain has no checklist item 5; its items are 1 to 4"
    );
    let err = story
        .run(Command::StartStep { step: "contian".into() }, start + minutes(3))
        .unwrap_err();
    assert_eq!(
        err.message,
        "unknown step \"contian\" (did you mean \"contain\"?); choose one of identify, contain, eradicate, recover, review"
    );
    story.ok(Command::CompleteStep { step: "2".into() }, start + minutes(4));
    let contain = story
        .incident
        .steps
        .iter()
        .find(|s| s.id.as_str() == "contain")
        .unwrap();
    assert_eq!(contain.state.as_str(), "done");
    assert_eq!(
        contain.checklist[3].done.as_ref().map(|d| d.at),
        Some(start + minutes(2))
    );
    assert!(contain.checklist[0].done.is_none());
}

#[test]
fn roles_and_owner_are_assigned_and_unknown_roles_are_named() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P0", false, start);
    story.ok(
        Command::Assign {
            owner: Some("ana".into()),
            roles: vec![("incident-commander".into(), "jo".into())],
        },
        start + minutes(1),
    );
    assert_eq!(story.incident.owner.as_deref(), Some("ana"));
    assert_eq!(story.incident.roles.values().collect::<Vec<_>>(), ["jo"]);
    let err = story
        .run(
            Command::Assign {
                owner: None,
                roles: vec![("tech-lead".into(), "kim".into())],
            },
            start + minutes(2),
        )
        .unwrap_err();
    assert!(err.message.starts_with("unknown role \"tech-lead\""), "{}", err.message);
}

#[test]
fn backfilled_times_must_be_past_and_after_the_declaration() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("four-tier", "P1", false, start);
    let err = tocsin_core::incident::decide(
        &story.incident,
        &story.plan,
        &Command::Acknowledge,
        &tocsin_core::incident::Actor::parse("ana").unwrap(),
        start + minutes(10),
        start,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "the time 2026-11-20T09:10:00Z is in the future; only past times can be recorded"
    );
    let err = story.run(Command::Acknowledge, start - minutes(1)).unwrap_err();
    assert_eq!(
        err.message,
        "the time 2026-11-20T08:59:00Z is before INC-0001 was declared (2026-11-20T09:00:00Z)"
    );
    // Backfilling may record what happened in any order: a resolution found in the logs
    // may come before an acknowledgement typed in later.
    story.ok(Command::Acknowledge, start + minutes(5));
    story.ok(Command::Resolve { summary: None }, start + minutes(4));
    assert_eq!(story.incident.resolved_at, Some(start + minutes(4)));
}

#[test]
fn replaying_the_history_rebuilds_the_same_incident() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", true, start);
    story.ok(Command::Acknowledge, start + minutes(3));
    story.ok(severity("P0"), start + minutes(4));
    story.ok(notice("customers"), start + minutes(50));
    story.ok(Command::Resolve { summary: None }, start + minutes(60));
    let rebuilt = Incident::from_history(story.incident.number, &story.history).unwrap();
    assert_eq!(rebuilt, story.incident);
}

fn impact(customers: Option<CustomerImpact>, affected: Option<u64>) -> Command {
    Command::AssessImpact {
        customers,
        affected_customers: affected,
        affected_data_subjects: None,
    }
}

#[test]
fn whether_customers_are_affected_is_answered_at_any_time_and_the_plan_says_which_answers_start_the_clock() {
    let start = t("2026-11-20T09:00:00Z");
    // The presets: the clock runs while nobody knows, and stops when someone says no.
    let mut story = Story::declare("three-tier", "P1", false, start);
    assert_eq!(story.incident.customers, CustomerImpact::Unknown);
    assert_eq!(story.state("customer-notice", start), ClockState::Running);
    story.ok(impact(Some(CustomerImpact::No), None), start + minutes(5));
    assert_eq!(
        story.state("customer-notice", start + minutes(6)),
        ClockState::NotApplicable
    );
    // A count says yes, and starts it again from awareness.
    story.ok(impact(None, Some(40)), start + minutes(7));
    assert_eq!(story.incident.customers, CustomerImpact::Yes);
    assert_eq!(story.incident.affected_customers, Some(40));
    assert_eq!(story.clock("customer-notice").due_at, Some(t("2026-11-21T09:00:00Z")));
    let err = story
        .run(impact(Some(CustomerImpact::No), None), start + minutes(8))
        .unwrap_err();
    assert_eq!(
        err.message,
        "40 customers cannot be affected when customers are not affected"
    );
    let err = story.run(impact(None, Some(40)), start + minutes(8)).unwrap_err();
    assert_eq!(err.kind, RejectionKind::Conflict);

    // A plan that tells customers only once they are known to be affected.
    let source = tocsin_core::plan::presets::find("three-tier")
        .unwrap()
        .source
        .replace("notice_when = [\"yes\", \"unknown\"]", "notice_when = [\"yes\"]");
    let plan = tocsin_core::plan::Plan::parse(&source).unwrap();
    let mut story = Story::declare_under(plan, "P1", false, start);
    assert_eq!(story.state("customer-notice", start), ClockState::NotApplicable);
    story.ok(impact(Some(CustomerImpact::Yes), None), start + minutes(1));
    assert_eq!(story.state("customer-notice", start + minutes(1)), ClockState::Running);
}

#[test]
fn saying_customers_are_not_affected_after_the_deadline_keeps_the_breach() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", false, start);
    let late = start + minutes(25 * 60);
    story.ok(impact(Some(CustomerImpact::No), None), late);
    assert_eq!(
        story.state("customer-notice", late),
        ClockState::Breached {
            at: t("2026-11-21T09:00:00Z")
        }
    );
}

#[test]
fn an_obligation_marked_not_required_stops_with_its_reason_and_stays_on_record() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", true, start);
    assert_eq!(story.state("gdpr-art34", start), ClockState::Running);
    let waive = |clock: &str| Command::Waive {
        clock: clock.into(),
        reason: "the data was encrypted with keys that were not exposed".into(),
    };
    story.ok(waive("gdpr-art34"), start + minutes(30));
    let clock = story.clock("gdpr-art34");
    assert_eq!(clock.state(start + minutes(31)), ClockState::NotApplicable);
    assert!(!clock.open);
    assert_eq!(
        clock.waived.as_deref(),
        Some("the data was encrypted with keys that were not exposed")
    );
    let waiver = &story.incident.waived["gdpr-art34"];
    assert_eq!(waiver.by.as_str(), "ana");
    let err = story.run(waive("gdpr-art34"), start + minutes(32)).unwrap_err();
    assert_eq!(err.message, "gdpr-art34 of INC-0001 is already marked not required");
    let err = story.run(waive("acknowledge"), start + minutes(32)).unwrap_err();
    assert!(
        err.message
            .starts_with("unknown obligation of this incident \"acknowledge\""),
        "{}",
        err.message
    );
    story.ok(notice("authority"), start + minutes(40));
    let err = story.run(waive("gdpr-art33"), start + minutes(41)).unwrap_err();
    assert!(err.message.contains("was met at"), "{}", err.message);
}

#[test]
fn closing_is_refused_while_the_gdpr_clock_runs_steps_are_pending_and_required_roles_are_empty() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", true, start);
    story.ok(Command::Resolve { summary: None }, start + minutes(60));
    let err = story
        .run(Command::Close { override_reason: None }, start + minutes(61))
        .unwrap_err();
    assert_eq!(err.kind, RejectionKind::Conflict);
    for open in [
        "the clock customer-notice runs until 2026-11-21T09:00:00Z",
        "the clock gdpr-art33 runs until 2026-11-23T09:00:00Z",
        "the clock gdpr-art34 runs",
        "steps identify, contain, eradicate, recover, review are not done",
        "the required roles incident-commander, technical-lead, communications-lead are empty",
    ] {
        assert!(err.message.contains(open), "{open} missing from: {}", err.message);
    }
    let events = story
        .run(
            Command::Close {
                override_reason: Some("a duplicate of INC-0002, which carries the work".into()),
            },
            start + minutes(62),
        )
        .unwrap();
    let [IncidentEvent::Closed { review_override, open }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        review_override.as_deref(),
        Some("a duplicate of INC-0002, which carries the work")
    );
    assert_eq!(open.len(), 5, "{open:?}");
    assert_eq!(story.incident.status, Status::Closed);
}

#[test]
fn acknowledging_an_incident_with_no_owner_makes_the_acknowledger_its_owner() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P1", false, start);
    story.ok(Command::Acknowledge, start + minutes(1));
    assert_eq!(story.incident.owner.as_deref(), Some("ana"));
    // An owner already named stays.
    let mut story = Story::declare("three-tier", "P1", false, start);
    story.ok(
        Command::Assign {
            owner: Some("jo".into()),
            roles: Vec::new(),
        },
        start,
    );
    story.ok(Command::Acknowledge, start + minutes(1));
    assert_eq!(story.incident.owner.as_deref(), Some("jo"));
}

#[test]
fn title_and_summary_can_be_edited_after_declaration() {
    let start = t("2026-11-20T09:00:00Z");
    let mut story = Story::declare("three-tier", "P2", false, start);
    story.ok(
        Command::Edit {
            title: Some("Vault key exposed in a public gist".into()),
            summary: Some("Found by a customer; revoked at 09:20.".into()),
        },
        start + minutes(1),
    );
    assert_eq!(story.incident.title, "Vault key exposed in a public gist");
    assert_eq!(story.incident.summary, "Found by a customer; revoked at 09:20.");
    let err = story
        .run(
            Command::Edit {
                title: Some("two\nlines".into()),
                summary: None,
            },
            start + minutes(2),
        )
        .unwrap_err();
    assert_eq!(err.message, "the title must be one line");
    let err = story
        .run(
            Command::Edit {
                title: Some("Vault key exposed in a public gist".into()),
                summary: None,
            },
            start + minutes(2),
        )
        .unwrap_err();
    assert_eq!(err.kind, RejectionKind::Conflict);
}
