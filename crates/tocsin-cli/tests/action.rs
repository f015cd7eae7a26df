//! `tocsin action`: runs asked for and approved from the command line and carried out by
//! the running server, and what a SIGKILL in the middle of a run does: a run of an action
//! that is not idempotent is never run twice; an idempotent one runs again.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{add_to_plan, run, serve, tocsin};

/// A program that writes `started` to `log`, waits `seconds`, then writes `done`.
fn slow_program(dir: &Path, name: &str, log: &Path, seconds: u32) -> String {
    let program = dir.join(name);
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho started >> {log}\nsleep {seconds}\necho done >> {log}\necho '{{\"ok\": true}}'\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    program.display().to_string()
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(dir, None, &all, b"");
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|_| panic!("not JSON: {out}"))
}

fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not happen within 30 s");
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_run_cut_short_by_sigkill_is_never_run_twice_unless_its_action_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run(d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let once_log = d.join("once.log");
    let again_log = d.join("again.log");
    add_to_plan(
        d,
        &format!(
            r#"
[[action]]
id = "rotate-keys"
name = "Rotate the vault keys"
kind = "command"
program = "{once}"
timeout = "60s"

[[action]]
id = "refresh-cache"
name = "Refresh the cache"
kind = "command"
program = "{again}"
idempotent = true
timeout = "60s"
"#,
            once = slow_program(d, "once.sh", &once_log, 30),
            again = slow_program(d, "again.sh", &again_log, 1),
        ),
    );
    let (code, _, err) = run(d, None, &["plan", "apply"], b"");
    assert_eq!(code, 0, "{err}");
    let declared = json_of(
        d,
        &[
            "incident",
            "declare",
            "--title",
            "Vault key exposed",
            "--severity",
            "P2",
        ],
    );
    let id = declared["incident"]["id"].as_str().unwrap().to_owned();

    let (server, _) = serve(d, None);
    let asked = json_of(d, &["action", "run", &id, "rotate-keys"]);
    assert_eq!(
        (asked["run"].as_u64(), asked["state"].as_str()),
        (Some(1), Some("ready")),
        "{asked}"
    );
    until("the program to start", || lines(&once_log) == ["started"]);
    // SIGKILL: the server cannot tidy up.
    let mut server = server;
    server.0.kill().unwrap();
    let _ = server.0.wait();
    let show = || json_of(d, &["action", "show", &id, "1"]);
    assert_eq!(show()["state"], "running", "cut short while it ran");

    // The idempotent one, asked for while the server is down, waits and runs once it is up.
    let asked = json_of(d, &["action", "run", &id, "refresh-cache"]);
    assert_eq!(asked["state"], "ready");

    let (server, _) = serve(d, None);
    until("the cut-short run to be settled", || show()["state"] == "failed");
    let settled = show();
    assert!(
        settled["outcome"]["summary"]
            .as_str()
            .unwrap()
            .contains("not run again"),
        "{settled}"
    );
    until("the idempotent run to finish", || {
        json_of(d, &["action", "show", &id, "2"])["state"] == "succeeded"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&once_log), ["started"], "never run twice");
    assert_eq!(lines(&again_log), ["started", "done"]);
    server.stop();
}

#[test]
fn runs_are_asked_for_approved_and_refused_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run(d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    add_to_plan(
        d,
        r#"
[[action]]
id = "block-source"
name = "Block an address"
kind = "block"
[action.approval]
two_people = true
"#,
    );
    let (code, _, err) = run(d, None, &["plan", "apply"], b"");
    assert_eq!(code, 0, "{err}");
    let declared = json_of(
        d,
        &["incident", "declare", "--title", "Brute force", "--severity", "P3"],
    );
    let id = declared["incident"]["id"].as_str().unwrap().to_owned();

    let (code, out, err) = run(d, None, &["action", "list"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("block-source") && out.contains("address for? reason?"),
        "{out}"
    );
    let (code, out, _) = run(
        d,
        None,
        &[
            "action",
            "run",
            &id,
            "block-source",
            "--input",
            "address=203.0.113.9",
            "--input",
            "for=1h",
        ],
        b"",
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("awaiting approval") && out.contains("tocsin action approve INC-0001 1"),
        "{out}"
    );

    // Bad input, named; nothing recorded.
    for (args, says) in [
        (
            vec!["action", "run", &id, "block-sourc"],
            "did you mean \"block-source\"?",
        ),
        (
            vec!["action", "run", &id, "block-source", "--input", "address"],
            "is not NAME=VALUE",
        ),
        (
            vec!["action", "run", &id, "block-source", "--input", "adress=1.2.3.4"],
            "did you mean \"address\"?",
        ),
        (vec!["action", "approve", &id, "1"], "wants someone else to approve it"),
        (vec!["action", "show", &id, "9"], "has no run 9"),
    ] {
        let (code, _, err) = run(d, None, &args, b"");
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let mut approve = tocsin(d, None);
    let out = approve
        .env("TOCSIN_ACTOR", "bo")
        .args(["--json", "action", "approve", &id, "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let approved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (approved["state"].as_str(), approved["approvals"][0]["by"].as_str()),
        (Some("ready"), Some("bo"))
    );
    let runs = json_of(d, &["action", "list", &id]);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let (code, out, _) = run(
        d,
        None,
        &[
            "action",
            "run",
            &id,
            "block-source",
            "--input",
            "address=10.0.0.0/8",
            "--dry-run",
        ],
        b"",
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("\"builtin\": \"block\"") && out.contains("10.0.0.0/8"),
        "{out}"
    );
    assert_eq!(
        json_of(d, &["action", "list", &id]).as_array().unwrap().len(),
        1,
        "a dry run records nothing"
    );
}
