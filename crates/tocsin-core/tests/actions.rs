//! Runs of the plan's actions on an incident: approval, the step they belong to, retries,
//! undo, expiry, and a history that replays to the same runs.

mod common;

use std::collections::BTreeMap;

use common::{Story, minutes, t};
use tocsin_core::action::Outcome;
use tocsin_core::incident::{
    Command, Incident, IncidentNumber, RejectionKind, RunCommand, RunState, StepState, approvers,
};
use tocsin_core::plan::{Plan, presets};

const ACTIONS: &str = r#"
[[person]]
id = "cai"
name = "Cai"

[[person]]
id = "ana"
name = "Ana"

[[role]]
id = "incident-commander"
name = "Incident commander"
people = ["cai"]

[[action]]
id = "revoke-token"
name = "Revoke a leaked token"
kind = "http"
url = "https://api.example.com/tokens/{{ input.token }}"
method = "DELETE"
idempotent = true
retries = 2
step = "contain"
item = 1
[[action.input]]
name = "token"
type = "string"
[action.approval]
needs = 1
two_people = true
by = ["incident-commander", "ana"]
valid_for = "30m"

[[action]]
id = "block-source"
name = "Block an address"
kind = "block"
step = "contain"
undo_on_close = true
[action.approval]
except_rules = true

[[action]]
id = "rotate"
name = "Rotate keys"
kind = "command"
program = "/usr/local/bin/rotate"
"#;

fn story() -> Story {
    let plan = Plan::parse(&format!("{}\n{ACTIONS}", presets::FOUR_TIER.source)).unwrap();
    Story::declare_under(plan, "P2", false, t("2026-12-04T09:00:00Z"))
}

fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn request(action: &str, given: &[(&str, &str)]) -> Command {
    Command::Run(RunCommand::Request {
        action: action.into(),
        inputs: inputs(given),
        automatic: false,
    })
}

fn run(command: RunCommand) -> Command {
    Command::Run(command)
}

fn outcome(ok: bool) -> Outcome {
    Outcome {
        ok,
        summary: if ok { "HTTP 204" } else { "HTTP 503" }.into(),
        ..Outcome::default()
    }
}

#[test]
fn a_run_waits_for_another_person_s_approval_then_runs_once_and_ticks_its_item() {
    let mut s = story();
    let at = t("2026-12-04T09:05:00Z");
    let e = s.run(request("revoke-token", &[("token", "tok_1")]), at).unwrap_err();
    assert_eq!(e.kind, RejectionKind::Conflict);
    assert!(
        e.message.contains("belongs to step contain, which has not started"),
        "{}",
        e.message
    );
    s.ok(Command::StartStep { step: "contain".into() }, at);
    s.ok(request("revoke-token", &[("token", "tok_1")]), at);
    assert_eq!(s.incident.runs[0].state, RunState::AwaitingApproval);
    assert_eq!(s.incident.runs_due(), Some(at + minutes(30)), "due to expire");
    // Those asked by name (by email): the commander, not ana, who asked.
    let asked: Vec<&str> = approvers(&s.incident, &s.plan, &s.incident.runs[0])
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(asked, ["cai"]);

    // ana asked: two people means someone else approves; bo holds no listed role.
    let e = s.run(run(RunCommand::Approve { run: 1 }), at).unwrap_err();
    assert!(e.message.contains("wants someone else to approve it"), "{}", e.message);
    let e = s.run_as("bo", run(RunCommand::Approve { run: 1 }), at).unwrap_err();
    assert!(
        e.message.contains(
            "bo may not approve action revoke-token; the plan lets the incident-commander role or ana approve it"
        ),
        "{}",
        e.message
    );
    s.run_as("cai", run(RunCommand::Approve { run: 1 }), at).unwrap();
    assert_eq!(s.incident.runs[0].state, RunState::Ready);
    assert_eq!(s.incident.runs_due(), Some(at));
    assert!(
        approvers(&s.incident, &s.plan, &s.incident.runs[0]).is_empty(),
        "nobody is asked any more"
    );

    s.ok(run(RunCommand::Start { run: 1 }), at);
    assert_eq!(s.incident.runs[0].state, RunState::Running);
    // Started once: a second start is refused (it is running).
    assert!(
        s.run(run(RunCommand::Start { run: 1 }), at).is_ok(),
        "an idempotent run may start again"
    );
    assert_eq!(s.incident.runs[0].attempts, 2);
    s.ok(
        run(RunCommand::Finish {
            run: 1,
            outcome: outcome(true),
        }),
        at,
    );
    let r = &s.incident.runs[0];
    assert_eq!((r.state, r.approvals[0].by.as_str()), (RunState::Succeeded, "cai"));
    let contain = s
        .incident
        .step(&tocsin_core::id::StepId::parse("contain").unwrap())
        .unwrap();
    assert!(contain.checklist[0].done.is_some(), "the item it carries out is ticked");
    assert_eq!(contain.state, StepState::InProgress);
    assert_eq!(s.incident.runs_due(), None);

    // The history replays to the same runs.
    let replayed = Incident::from_history(IncidentNumber::new(1).unwrap(), &s.history).unwrap();
    assert_eq!(replayed.runs, s.incident.runs);
}

#[test]
fn a_failed_idempotent_run_is_tried_again_later_and_fails_for_good_after_its_retries() {
    let mut s = story();
    let at = t("2026-12-04T09:05:00Z");
    s.ok(Command::StartStep { step: "contain".into() }, at);
    s.ok(request("revoke-token", &[("token", "tok_1")]), at);
    s.run_as("cai", run(RunCommand::Approve { run: 1 }), at).unwrap();
    for (attempt, wait) in [(1, 10), (2, 20)] {
        s.ok(run(RunCommand::Start { run: 1 }), at);
        s.ok(
            run(RunCommand::Finish {
                run: 1,
                outcome: outcome(false),
            }),
            at,
        );
        let r = &s.incident.runs[0];
        assert_eq!((r.state, r.attempts), (RunState::Ready, attempt));
        assert_eq!(r.next_at, Some(at + jiff::SignedDuration::from_secs(wait)));
    }
    s.ok(run(RunCommand::Start { run: 1 }), at);
    s.ok(
        run(RunCommand::Finish {
            run: 1,
            outcome: outcome(false),
        }),
        at,
    );
    assert_eq!(s.incident.runs[0].state, RunState::Failed);
    assert!(
        s.run(run(RunCommand::Undo { run: 1 }), at)
            .unwrap_err()
            .message
            .contains("only a run that succeeded")
    );
}

#[test]
fn a_run_that_is_not_idempotent_and_was_cut_short_is_not_run_again() {
    let mut s = story();
    let at = t("2026-12-04T09:05:00Z");
    s.ok(request("rotate", &[]), at);
    s.ok(run(RunCommand::Start { run: 1 }), at);
    let e = s.run(run(RunCommand::Start { run: 1 }), at).unwrap_err();
    assert!(
        e.message.contains("run 1 of INC-0001 is running, not ready"),
        "{}",
        e.message
    );
    s.ok(run(RunCommand::Interrupted { run: 1 }), at);
    let r = &s.incident.runs[0];
    assert_eq!(r.state, RunState::Failed);
    assert!(r.outcome.as_ref().unwrap().summary.contains("check by hand"));
}

#[test]
fn a_block_asked_for_by_a_rule_runs_unapproved_and_is_undone_when_the_incident_closes() {
    let mut s = story();
    let at = t("2026-12-04T09:05:00Z");
    // A person's request needs the approval; a rule's does not.
    s.ok(Command::StartStep { step: "contain".into() }, at);
    s.ok(
        request("block-source", &[("address", "203.0.113.7"), ("for", "24h")]),
        at,
    );
    assert_eq!(s.incident.runs[0].state, RunState::AwaitingApproval);
    s.ok(
        Command::Run(RunCommand::Request {
            action: "block-source".into(),
            inputs: inputs(&[("address", "198.51.100.0/24")]),
            automatic: true,
        }),
        at,
    );
    let automatic = &s.incident.runs[1];
    assert_eq!((automatic.state, automatic.needs), (RunState::Ready, 0));
    s.ok(run(RunCommand::Start { run: 2 }), at);
    let mut done = outcome(true);
    done.captured.insert("block".into(), "7".into());
    s.ok(run(RunCommand::Finish { run: 2, outcome: done }), at);

    // Unknown inputs and actions are named with the one meant.
    let e = s.run(request("block-sourc", &[]), at).unwrap_err();
    assert!(
        e.message
            .contains("no action \"block-sourc\"; did you mean \"block-source\"?"),
        "{}",
        e.message
    );
    let e = s
        .run(request("block-source", &[("adress", "1.2.3.4")]), at)
        .unwrap_err();
    assert!(e.message.contains("did you mean \"address\"?"), "{}", e.message);

    // Closing asks for its undo first.
    s.ok(Command::Resolve { summary: None }, at + minutes(10));
    s.ok(
        Command::Close {
            override_reason: Some("test".into()),
        },
        at + minutes(11),
    );
    let undo = s.incident.runs.last().unwrap();
    assert_eq!(
        (undo.number, undo.undoes, undo.state, undo.automatic),
        (3, Some(2), RunState::Ready, true)
    );
    // The worker carries it out on the closed incident.
    s.ok(run(RunCommand::Start { run: 3 }), at + minutes(12));
    s.ok(
        run(RunCommand::Finish {
            run: 3,
            outcome: outcome(true),
        }),
        at + minutes(12),
    );
    assert_eq!(s.incident.runs[1].undone_by, Some(3));
    let e = s.run(run(RunCommand::Undo { run: 2 }), at + minutes(13)).unwrap_err();
    assert!(e.message.contains("undone by run 3"), "{}", e.message);
}

#[test]
fn a_request_not_approved_in_time_expires_and_can_no_longer_be_approved() {
    let mut s = story();
    let at = t("2026-12-04T09:05:00Z");
    s.ok(Command::StartStep { step: "contain".into() }, at);
    s.ok(request("revoke-token", &[("token", "tok_1")]), at);
    let e = s.run(run(RunCommand::Expire { run: 1 }), at + minutes(29)).unwrap_err();
    assert!(e.message.contains("not due to expire"));
    let late = at + minutes(31);
    let e = s.run_as("cai", run(RunCommand::Approve { run: 1 }), late).unwrap_err();
    assert!(e.message.contains("has expired"), "{}", e.message);
    s.ok(run(RunCommand::Expire { run: 1 }), late);
    assert_eq!(s.incident.runs[0].state, RunState::Expired);
    assert_eq!(s.incident.runs_due(), None);
    let e = s
        .run(
            run(RunCommand::Reject {
                run: 1,
                reason: "x".into(),
            }),
            late,
        )
        .unwrap_err();
    assert!(e.message.contains("only a run that has not started can be rejected"));
}

#[test]
fn a_run_that_cannot_go_on_is_given_up_with_why_and_only_once() {
    let mut s = story();
    let at = t("2026-12-04T09:05:00Z");
    s.ok(request("rotate", &[]), at);
    let why = "the plan in force has no action rotate any more".to_owned();
    s.ok(
        run(RunCommand::Abandon {
            run: 1,
            why: why.clone(),
        }),
        at,
    );
    let r = &s.incident.runs[0];
    assert_eq!(
        (r.state, r.outcome.as_ref().map(|o| o.summary.clone())),
        (RunState::Failed, Some(why.clone()))
    );
    let e = s.run(run(RunCommand::Abandon { run: 1, why }), at).unwrap_err();
    assert!(e.message.contains("is failed already"), "{}", e.message);
}
