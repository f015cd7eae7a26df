//! An incident's notices: drafted, revised into new versions, approved by whom the plan
//! says, refused while a required section or a blank is missing, and sent, meeting the
//! clock that waits for them, with the reason when late; a history that replays.

mod common;

use common::{Story, minutes, t};
use tocsin_core::incident::{Command, Incident, IncidentNumber, NoticeCommand, RejectionKind};

fn notice(command: NoticeCommand) -> Command {
    Command::Notice(command)
}

const COMPLETE: &str = "Dear customer,\n\n## What happened\nA vault key was exposed.\n\n## What data was affected\nAPI keys.\n\n## What we did\nRotated them.\n\n## What you should do\nRotate yours.\n";

#[test]
fn a_customer_notice_goes_only_complete_and_approved_and_a_late_one_says_why() {
    let at = t("2026-12-04T09:00:00Z");
    let mut s = Story::declare("three-tier", "P0", true, at);
    let draft = COMPLETE.replace("Rotate yours.", "[[ what to do ]]");
    s.ok(
        notice(NoticeCommand::Draft {
            kind: "customers".into(),
            subject: "Security incident".into(),
            body: draft,
        }),
        at,
    );
    let send = |late: Option<&str>| {
        notice(NoticeCommand::Send {
            notice: 1,
            recipients: 3,
            late_reason: late.map(str::to_owned),
        })
    };
    let e = s.run(send(None), at).unwrap_err();
    assert_eq!(e.kind, RejectionKind::Invalid);
    assert_eq!(
        e.message,
        "notice 1: the notice still has a blank to fill in in section \"What you should do\": [[ what to do ]]"
    );
    let e = s
        .run(
            notice(NoticeCommand::Revise {
                notice: 1,
                subject: "Security incident".into(),
                body: COMPLETE.replace("## What we did", "## What we tried"),
            }),
            at,
        )
        .and_then(|_| s.run(send(None), at))
        .unwrap_err();
    assert!(e.message.contains("has no section \"What we did\""), "{}", e.message);
    s.ok(
        notice(NoticeCommand::Revise {
            notice: 1,
            subject: "Security incident".into(),
            body: COMPLETE.into(),
        }),
        at,
    );
    assert_eq!(s.incident.notice(1).unwrap().version, 3);

    // The communications lead approves; nobody holds the role yet, then cai does.
    let e = s.run(send(None), at).unwrap_err();
    assert_eq!(e.kind, RejectionKind::Conflict);
    assert_eq!(
        e.message,
        "version 3 of notice 1 is not approved; the plan wants the communications-lead role to approve customers notices"
    );
    let e = s
        .run_as("cai", notice(NoticeCommand::Approve { notice: 1 }), at)
        .unwrap_err();
    assert!(
        e.message.contains("cai may not approve customers notices"),
        "{}",
        e.message
    );
    s.ok(
        Command::Assign {
            owner: None,
            roles: vec![("communications-lead".into(), "cai".into())],
        },
        at,
    );
    s.run_as("cai", notice(NoticeCommand::Approve { notice: 1 }), at)
        .unwrap();
    assert!(s.incident.notice(1).unwrap().approved());

    // A day and a minute later the customer notice is late: it goes with the reason.
    let late = at + minutes(24 * 60 + 1);
    let e = s.run(send(None), late).unwrap_err();
    assert!(
        e.message.starts_with("notice 1 is late (")
            && e.message
                .ends_with("say why it was delayed (GDPR Art. 33(1) asks for the reasons)"),
        "{}",
        e.message
    );
    assert_eq!(s.clock("customer-notice").met_at, None);
    s.ok(send(Some("the scope was only known this morning")), late);
    let sent = s.incident.notice(1).unwrap().sent.clone().unwrap();
    assert_eq!((sent.version, sent.recipients), (3, 3));
    assert_eq!(sent.late.as_deref(), Some("the scope was only known this morning"));
    assert_eq!(s.clock("customer-notice").met_at, Some(late), "sending meets its clock");

    // Sent is final: what follows is a further notice (GDPR Art. 33(4)).
    let e = s.run(send(Some("x")), late).unwrap_err();
    assert!(e.message.contains("a further notice is a new draft"), "{}", e.message);

    let replayed = Incident::from_history(IncidentNumber::new(1).unwrap(), &s.history).unwrap();
    assert_eq!(replayed.written_notices, s.incident.written_notices);
}

#[test]
fn an_authority_notice_meets_the_gdpr_clock_and_a_status_update_needs_no_sections() {
    let at = t("2026-12-04T09:00:00Z");
    let mut s = Story::declare("four-tier", "P1", true, at);
    s.ok(
        notice(NoticeCommand::Draft {
            kind: "authority".into(),
            subject: "Breach".into(),
            body: "## Nature of the breach\nKeys.\n## Contact point\ndpo@example.com\n## Likely consequences\nNone known.\n## Measures taken or proposed\nRotated.\n".into(),
        }),
        at,
    );
    // The four-tier preset asks no approval.
    let e = s.run(notice(NoticeCommand::Approve { notice: 1 }), at).unwrap_err();
    assert!(e.message.contains("asks no approval"), "{}", e.message);
    s.ok(
        notice(NoticeCommand::Send {
            notice: 1,
            recipients: 0,
            late_reason: None,
        }),
        at + minutes(60),
    );
    assert_eq!(s.clock("gdpr-art33").met_at, Some(at + minutes(60)));

    let e = s
        .run(
            notice(NoticeCommand::Draft {
                kind: "regulator".into(),
                subject: "x".into(),
                body: "x".into(),
            }),
            at,
        )
        .unwrap_err();
    assert!(e.message.contains("unknown notice kind \"regulator\""), "{}", e.message);
    s.ok(
        notice(NoticeCommand::Draft {
            kind: "status-update".into(),
            subject: "Update".into(),
            body: "Still investigating.".into(),
        }),
        at,
    );
    s.ok(
        notice(NoticeCommand::Send {
            notice: 2,
            recipients: 0,
            late_reason: None,
        }),
        at,
    );
    let e = s
        .run(
            notice(NoticeCommand::Draft {
                kind: "customers".into(),
                subject: "two\nlines".into(),
                body: "x".into(),
            }),
            at,
        )
        .unwrap_err();
    assert!(e.message.contains("one line"), "{}", e.message);
}
