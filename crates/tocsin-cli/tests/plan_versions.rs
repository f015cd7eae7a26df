//! The plan is one truth, kept in the database: every command follows its active version
//! whatever folder it runs in; `tocsin plan apply|show|diff|history` manage the versions.

mod common;

use std::path::Path;

use common::{add_to_plan, run};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The state of `clock` of `id`, as `incident show --json` gives it.
fn clock_state(dir: &Path, db: &str, id: &str, clock: &str) -> Value {
    let (code, out, err) = run(dir, Some(db), &["incident", "show", id, "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let shown = json(&out);
    shown["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == clock)
        .unwrap_or_else(|| panic!("no clock {clock} in {shown}"))
        .clone()
}

/// A folder with the three-tier plan and a database beside it.
fn three_tier_folder() -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", home.path().join("t.db").display());
    let (code, _, err) = run(home.path(), Some(&db), &["init", "--preset", "three-tier"], b"");
    assert_eq!(code, 0, "{err}");
    (home, db)
}

#[test]
fn a_command_run_from_another_folder_follows_the_databases_plan_not_the_preset() {
    let (home, db) = three_tier_folder();
    let (code, _, err) = run(
        home.path(),
        Some(&db),
        &[
            "incident",
            "declare",
            "--title",
            "Token leak",
            "--severity",
            "P1",
            "--at",
            "25m ago",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");

    // From a folder without a plan file: the four-tier preset would give P1 15 minutes to
    // acknowledge, the three-tier plan gives it an hour.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, _, err) = run(elsewhere.path(), Some(&db), &["incident", "ack", "INC-0001"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differs"), "no local plan file, nothing to say: {err}");
    let ack = clock_state(elsewhere.path(), &db, "INC-0001", "acknowledge");
    assert_eq!(ack["state"], "met", "{ack}");
    let update = clock_state(elsewhere.path(), &db, "INC-0001", "status-update-1");
    assert_eq!(update["state"], "running", "{update}");
    let (code, out, err) = run(elsewhere.path(), Some(&db), &["verify"], b"");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 plan version checked"), "{out}");
}

#[test]
fn a_local_plan_that_differs_from_the_active_version_is_named_on_stderr_and_not_followed() {
    let (home, db) = three_tier_folder();
    let (code, _, err) = run(home.path(), Some(&db), &["plan", "apply"], b"");
    assert_eq!(code, 0, "{err}");
    // Another folder's plan file: the four-tier preset, written out.
    let other = tempfile::tempdir().unwrap();
    let (code, _, err) = run(other.path(), Some(&db), &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        other.path(),
        Some(&db),
        &["incident", "declare", "--title", "x", "--severity", "P0"],
        b"",
    );
    assert_eq!(code, 0, "P0 exists only in the active three-tier plan: {err}");
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("differs")).collect();
    assert_eq!(notes.len(), 1, "one line: {err}");
    assert!(
        notes[0].contains("tocsin.toml differs from the active plan (version 1"),
        "{err}"
    );
}

#[test]
fn plan_apply_makes_a_file_the_active_version_and_moves_the_clocks_of_incidents_under_way() {
    let (home, db) = three_tier_folder();
    let dir = home.path();
    let (code, _, err) = run(
        dir,
        Some(&db),
        &[
            "incident",
            "declare",
            "--title",
            "Leak",
            "--severity",
            "P1",
            "--at",
            "10m ago",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let before = clock_state(dir, &db, "INC-0001", "acknowledge");

    // The team shortens P1's acknowledgement to 30 minutes.
    let plan = dir.join("tocsin.toml");
    let text = std::fs::read_to_string(&plan).unwrap();
    let p1 = text.find("id = \"P1\"").unwrap();
    let at = p1 + text[p1..].find("acknowledge_within = \"1h\"").unwrap();
    let edited = format!(
        "{}acknowledge_within = \"30m\"{}",
        &text[..at],
        &text[at + "acknowledge_within = \"1h\"".len()..]
    );
    std::fs::write(&plan, &edited).unwrap();

    let (code, out, err) = run(dir, Some(&db), &["plan", "diff"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("--- plan version 1 (active)\n+++ tocsin.toml\n"),
        "{out}"
    );
    assert!(
        out.contains("-acknowledge_within = \"1h\"\n+acknowledge_within = \"30m\"\n"),
        "{out}"
    );

    let (code, out, err) = run(dir, Some(&db), &["plan", "apply"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Applied tocsin.toml as plan version 2"), "{out}");
    assert!(
        out.contains("INC-0001 follows plan version 2 now; moved: acknowledge"),
        "{out}"
    );

    let after = clock_state(dir, &db, "INC-0001", "acknowledge");
    assert_ne!(before["due_at"], after["due_at"]);
    let (code, out, _) = run(dir, Some(&db), &["incident", "show", "INC-0001"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("follows plan version 2 now; moved: acknowledge"), "{out}");

    // The same file again changes nothing.
    let (code, out, _) = run(dir, Some(&db), &["plan", "apply"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("is the active plan already (version 2)"), "{out}");

    let (code, out, _) = run(dir, Some(&db), &["plan", "history", "--json"], b"");
    assert_eq!(code, 0);
    let history = json(&out);
    let versions: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(history[0]["applied_by"], "ops");
    assert_eq!(history[0]["source"], "tocsin.toml");

    let (code, out, _) = run(dir, Some(&db), &["plan", "show"], b"");
    assert_eq!(code, 0);
    assert_eq!(out, edited);
    let (code, out, _) = run(dir, Some(&db), &["plan", "show", "--version", "1"], b"");
    assert_eq!(code, 0);
    assert_eq!(out, text);
    let (code, _, err) = run(dir, Some(&db), &["plan", "show", "--version", "9"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("there is no plan version 9"), "{err}");

    let (code, out, err) = run(dir, Some(&db), &["verify"], b"");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 plan versions checked"), "{out}");
}

#[test]
fn plan_apply_refuses_an_invalid_file_with_every_problem_and_changes_nothing() {
    let (home, db) = three_tier_folder();
    let dir = home.path();
    let (code, _, err) = run(dir, Some(&db), &["plan", "apply"], b"");
    assert_eq!(code, 0, "{err}");
    add_to_plan(dir, "\n[[role]]\nid = \"Bad Id\"\n");
    let (code, _, err) = run(dir, Some(&db), &["plan", "apply"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("tocsin.toml:"), "names the file and position: {err}");
    assert!(err.contains("problem(s)"), "{err}");
    let (code, out, _) = run(dir, Some(&db), &["plan", "history", "--json"], b"");
    assert_eq!(code, 0);
    assert_eq!(json(&out).as_array().unwrap().len(), 1, "{out}");

    let (code, _, err) = run(dir, Some(&db), &["plan", "apply", "missing.toml"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("cannot read the plan missing.toml"), "{err}");
}

#[test]
fn a_new_database_takes_the_local_plan_as_its_first_version_recorded_like_any_other() {
    let (home, db) = three_tier_folder();
    let (code, _, err) = run(
        home.path(),
        Some(&db),
        &["incident", "declare", "--title", "x", "--severity", "P0"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(home.path(), Some(&db), &["plan", "history", "--json"], b"");
    assert_eq!(code, 0);
    let history = json(&out);
    assert_eq!(history[0]["version"], 1);
    assert_eq!(history[0]["source"], "tocsin.toml");
    // Without a plan file, a new database takes the four-tier preset.
    let bare = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", bare.path().join("t.db").display());
    let (code, _, err) = run(
        bare.path(),
        Some(&db),
        &["incident", "declare", "--title", "x", "--severity", "P4"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(bare.path(), Some(&db), &["plan", "history", "--json"], b"");
    assert_eq!(json(&out)[0]["source"], "the four-tier preset");
}
