//! `tocsin maintenance` and `tocsin agent`: switched on and off from the command line, each
//! change on the audit chain, bad input named.

mod common;
use common::run;

#[test]
fn maintenance_and_paused_agents_are_switched_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run(d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(d, None, &["maintenance", "status"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("app") && out.contains("up"), "{out}");
    let (code, out, err) = run(
        d,
        None,
        &[
            "maintenance",
            "on",
            "app",
            "--reason",
            "restoring the database",
            "--for",
            "2h",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("app is in maintenance, expected to end at "), "{out}");
    let (_, out, _) = run(d, None, &["--json", "maintenance", "status"], b"");
    let state: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(state[0]["maintenance"], true, "{state}");
    for (args, says) in [
        (
            &["maintenance", "on", "ap", "--reason", "x"][..],
            "\"ap\" is no service of the plan; did you mean \"app\"?",
        ),
        (
            &["maintenance", "on", "app", "--reason", "x"][..],
            "maintenance is on for app already",
        ),
        (&["maintenance", "off", "web"][..], "web is not in maintenance"),
        (
            &["agent", "pause", "two words", "--reason", "x"][..],
            "is not an agent name",
        ),
        (&["agent", "resume", "worker-1"][..], "worker-1 is not paused"),
    ] {
        let (code, _, err) = run(d, None, args, b"");
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, _) = run(d, None, &["maintenance", "off", "app"], b"");
    assert_eq!(code, 0);
    let (_, out, _) = run(d, None, &["--json", "maintenance", "status", "--all"], b"");
    let history: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(history[0]["ended"].is_string(), "{history}");

    let (code, out, _) = run(
        d,
        None,
        &["agent", "pause", "worker-1", "--reason", "host compromised"],
        b"",
    );
    assert_eq!((code, out.trim()), (0, "worker-1 is told to pause"));
    let (_, out, _) = run(d, None, &["agent", "list"], b"");
    assert!(out.contains("worker-1") && out.contains("host compromised"), "{out}");
    let (code, _, _) = run(d, None, &["agent", "resume", "worker-1"], b"");
    assert_eq!(code, 0);
    let (_, out, _) = run(d, None, &["agent", "list"], b"");
    assert_eq!(out.trim(), "No agent is paused.");
    // Each switch is on the chain.
    let (code, out, _) = run(d, None, &["--json", "verify"], b"");
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["intact"], true);
}
