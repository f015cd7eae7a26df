//! The `tocsin` binary, run as a user runs it, against SQLite and PostgreSQL.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tocsin_store::testing::TestDb;

/// A working folder with a plan, and a database.
struct Tocsin {
    dir: tempfile::TempDir,
    db: TestDb,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Tocsin {
    fn new(db: TestDb) -> Tocsin {
        Tocsin {
            dir: tempfile::tempdir().unwrap(),
            db,
        }
    }

    fn with_plan(db: TestDb, preset: &str) -> Tocsin {
        let t = Tocsin::new(db);
        t.ok(&["init", "--preset", preset]);
        t
    }

    fn run(&self, args: &[&str]) -> Run {
        let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(args)
            .current_dir(self.dir.path())
            .env("TOCSIN_DB", &self.db.url)
            .env("TOCSIN_ACTOR", "jo")
            .env_remove("TOCSIN_PLAN")
            .env("NO_COLOR", "1")
            .output()
            .expect("tocsin runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "tocsin {args:?} failed:\n{}{}", run.stdout, run.stderr);
        run
    }

    /// Everything the database holds, as the read commands show it (time left aside).
    fn snapshot(&self) -> Vec<Value> {
        let list = self.ok(&["incident", "list", "--all", "--json"]).json();
        let mut views = vec![
            self.ok(&["verify", "--json"]).json(),
            list.clone(),
            self.ok(&["clocks", "--json"]).json(),
        ];
        for incident in list.as_array().unwrap() {
            views.push(
                self.ok(&["incident", "show", incident["id"].as_str().unwrap(), "--json"])
                    .json(),
            );
        }
        views.iter_mut().for_each(forget_time_left);
        views
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn forget_time_left(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("seconds_left");
            map.values_mut().for_each(forget_time_left);
        }
        Value::Array(items) => items.iter_mut().for_each(forget_time_left),
        _ => {}
    }
}

fn clock<'a>(show: &'a Value, id: &str) -> &'a Value {
    show["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == id)
        .unwrap_or_else(|| panic!("no clock {id}"))
}

#[tokio::test]
async fn the_quick_start_works_from_the_command_line() {
    for db in TestDb::all().await {
        let t = Tocsin::with_plan(db, "three-tier");
        let check = t.ok(&["plan", "check"]);
        assert!(
            check
                .stdout
                .starts_with("tocsin.toml: valid plan for Example Ltd (UTC)"),
            "{}",
            check.stdout
        );

        let declared = t.ok(&[
            "incident",
            "declare",
            "--title",
            "Vault key exposed",
            "--severity",
            "P0",
            "--personal-data",
            "--at",
            "2026-11-20T09:12:00Z",
        ]);
        assert!(
            declared
                .stdout
                .starts_with("Declared INC-0001 P0 \"Vault key exposed\""),
            "{}",
            declared.stdout
        );
        assert!(
            declared
                .stdout
                .contains("Acknowledge started, due 2026-11-20 09:27 UTC"),
            "{}",
            declared.stdout
        );

        let ack = t.ok(&["incident", "ack", "INC-0001"]);
        assert!(
            ack.stdout
                .starts_with("INC-0001: acknowledged; owner nobody → jo\n  Acknowledge kept"),
            "{}",
            ack.stdout
        );
        assert!(ack.stdout.contains("late (breached)"), "{}", ack.stdout);
        t.ok(&["incident", "resolve", "INC-0001", "--at", "2026-11-20T11:40:00Z"]);

        let show = t.ok(&["incident", "show", "INC-0001", "--json"]).json();
        assert_eq!(show["incident"]["id"], "INC-0001");
        assert_eq!(show["incident"]["status"], "resolved");
        assert_eq!(show["incident"]["personal_data"], true);
        assert_eq!(show["incident"]["declared_at"], "2026-11-20T09:12:00Z");
        assert_eq!(clock(&show, "acknowledge")["state"], "breached");
        assert_eq!(clock(&show, "acknowledge")["due_at"], "2026-11-20T09:27:00Z");
        assert_eq!(clock(&show, "gdpr-art33")["due_at"], "2026-11-23T09:12:00Z");
        assert_eq!(clock(&show, "review")["due_at"], "2026-11-22T11:40:00Z");
        let missing = show["missing_roles"].as_array().unwrap();
        assert_eq!(missing.len(), 3, "{missing:?}");
        let actions: Vec<&str> = show["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["declared", "acknowledged", "owner_assigned", "resolved"]);

        let list = t.ok(&["incident", "list"]).stdout;
        assert!(
            list.starts_with("ID        SEV  STATUS    OWNER  NEXT DEADLINE"),
            "{list}"
        );
        assert!(list.contains("Customer notice") && list.contains("overdue"), "{list}");
        let listed = t.ok(&["incident", "list", "--json"]).json();
        assert_eq!(listed[0]["next_clock"]["clock"], "customer-notice");
        assert_eq!(listed[0]["next_clock"]["state"], "breached");

        let clocks = t.ok(&["clocks", "--json"]).json();
        let open: Vec<&str> = clocks
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["clock"].as_str().unwrap())
            .collect();
        assert!(
            open.contains(&"customer-notice") && open.contains(&"gdpr-art34"),
            "{open:?}"
        );
        assert!(clocks.as_array().unwrap().iter().all(|c| c["incident"] == "INC-0001"));
        let human = t.ok(&["clocks"]).stdout;
        assert!(human.starts_with("INCIDENT  SEV  CLOCK"), "{human}");
        assert!(human.contains("overdue"), "{human}");

        let verify = t.ok(&["verify"]);
        assert!(
            verify.stdout.starts_with("Intact: 5 audit entries and 1 incident in"),
            "{}",
            verify.stdout
        );
    }
}

#[tokio::test]
async fn working_an_incident_through_every_command() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    t.ok(&["user", "add", "ana", "--role", "responder"]);
    t.ok(&[
        "incident",
        "declare",
        "--title",
        "Credential stuffing",
        "--severity",
        "P1",
        "--at",
        "2h ago",
    ]);
    t.ok(&["incident", "ack", "1", "--at", "100m ago"]);
    t.ok(&[
        "incident",
        "assign",
        "INC-1",
        "--owner",
        "ana",
        "--role",
        "incident-commander=jo",
    ]);
    let severity = t.ok(&[
        "incident",
        "severity",
        "INC-0001",
        "P0",
        "--reason",
        "admin account hit",
    ]);
    assert!(
        severity
            .stdout
            .starts_with("INC-0001: severity P1 → P0: admin account hit"),
        "{}",
        severity.stdout
    );
    t.ok(&["incident", "step", "INC-0001", "contain", "start"]);
    t.ok(&["incident", "step", "INC-0001", "contain", "check", "3"]);
    t.ok(&["incident", "step", "INC-0001", "contain", "done"]);
    t.ok(&["incident", "note", "INC-0001", "blocked 203.0.113.7 at the edge"]);
    t.ok(&[
        "incident",
        "personal-data",
        "INC-0001",
        "mark",
        "--reason",
        "emails in the dump",
    ]);
    let notice = t.ok(&["incident", "notice", "INC-0001", "status-update", "--note", "contained"]);
    assert!(notice.stdout.contains("Status update #1"), "{}", notice.stdout);
    t.ok(&["incident", "notice", "INC-0001", "customers"]);
    t.ok(&[
        "incident",
        "personal-data",
        "INC-0001",
        "unmark",
        "--reason",
        "hashes only",
    ]);
    t.ok(&["incident", "resolve", "INC-0001", "--summary", "rate limit deployed"]);
    t.ok(&["incident", "step", "INC-0001", "review", "done"]);
    t.ok(&[
        "incident",
        "close",
        "INC-0001",
        "--override",
        "the other steps were worked in the war room",
    ]);
    t.ok(&["incident", "reopen", "INC-0001", "--reason", "it came back"]);
    t.ok(&[
        "incident",
        "dismiss",
        "INC-0001",
        "--reason",
        "the new wave is a pentest",
    ]);

    let show = t.ok(&["incident", "show", "INC-0001"]).stdout;
    for expected in [
        "INC-0001  Credential stuffing",
        "status               dismissed",
        "owner                ana",
        "incident-commander   jo",
        "technical-lead       — (required)",
        "2 contain done",
        "[x] 3 Block malicious IP addresses or traffic patterns (jo,",
        "note: blocked 203.0.113.7 at the edge",
        "severity P1 → P0: admin account hit",
        "closed",
        "reopened: it came back",
        "dismissed as a false positive: the new wave is a pentest",
    ] {
        assert!(show.contains(expected), "missing {expected:?} in\n{show}");
    }
    let all = t.ok(&["incident", "list", "--all"]).stdout;
    assert!(all.contains("INC-0001  P0   dismissed"), "{all}");
    assert_eq!(t.ok(&["incident", "list"]).stdout, "No incidents.\n");
    let filtered = t.ok(&[
        "incident",
        "list",
        "--status",
        "dismissed",
        "--severity",
        "p0",
        "--owner",
        "ana",
        "--search",
        "STUFF",
        "--json",
    ]);
    assert_eq!(filtered.json().as_array().unwrap().len(), 1);
    let verify = t.ok(&["verify"]).stdout;
    assert!(verify.starts_with("Intact: 21 audit entries"), "{verify}");
}

#[tokio::test]
async fn malformed_input_is_one_line_exit_1_and_writes_nothing() {
    for db in TestDb::all().await {
        let t = Tocsin::with_plan(db, "four-tier");
        t.ok(&["incident", "declare", "--title", "Known", "--severity", "P2"]);
        t.ok(&["incident", "ack", "INC-0001"]);
        let before = t.snapshot();
        #[rustfmt::skip]
        let cases: &[(&[&str], &str)] = &[
            (&["incident", "declare", "--title", "x", "--severity", "P9"], "unknown severity \"P9\""),
            (&["incident", "declare", "--title", "x", "--severity", "P1", "--at", "2099-01-01T00:00:00Z"], "is in the future"),
            (&["incident", "declare", "--title", "x", "--severity", "P1", "--at", "yesterday"], "--at \"yesterday\" is not a time"),
            (&["incident", "declare", "--title", "x", "--severity", "P1", "--at", "15 mins ago"], "unknown unit \"mins\""),
            (&["incident", "declare", "--title", " ", "--severity", "P1"], "the title is empty"),
            (&["incident", "ack", "INC-0009"], "unknown incident INC-0009"),
            (&["incident", "ack", "INC-X"], "\"INC-X\" is not an incident id"),
            (&["incident", "ack", "INC-0001"], "INC-0001 is already acknowledged (by jo at"),
            (&["incident", "ack", "INC-0001", "--at", "2099-01-01T00:00:00Z"], "is in the future"),
            (&["incident", "severity", "INC-0001", "P7", "--reason", "r"], "unknown severity \"P7\""),
            (&["incident", "severity", "INC-0001", "P2", "--reason", "r"], "INC-0001 is already P2"),
            (&["incident", "step", "INC-0001", "contian", "start"], "unknown step \"contian\" (did you mean \"contain\"?)"),
            (&["incident", "step", "INC-0001", "contain", "check", "9"], "has no checklist item 9"),
            (&["incident", "notice", "INC-0001", "press"], "unknown notice kind \"press\""),
            (&["incident", "close", "INC-0001"], "INC-0001 is acknowledged; resolve it before closing"),
            (&["incident", "reopen", "INC-0001", "--reason", "r"], "only a resolved, closed or dismissed incident can be reopened"),
            (&["incident", "assign", "INC-0001", "--role", "commander"], "--role \"commander\" must be ROLE=NAME"),
            (&["incident", "assign", "INC-0001", "--role", "boss=jo"], "unknown role \"boss\""),
            (&["incident", "note", "INC-0001", ""], "the note is empty"),
            (&["incident", "personal-data", "INC-0001", "unmark"], "unmarking personal data needs --reason"),
            (&["incident", "list", "--status", "open"], "unknown status \"open\""),
            (&["incident", "show", "INC-0042"], "unknown incident INC-0042"),
            (&["incident", "ack", "INC-0001", "--as", " "], "--as: \" \" is not a valid name"),
        ];
        for (args, expected) in cases {
            let run = t.run(args);
            let backend = t.db.backend;
            assert_eq!(run.code, 1, "{backend} {args:?}: {}{}", run.stdout, run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{backend} {args:?}: {}", run.stderr);
            assert!(
                run.stderr.starts_with("error: ") && run.stderr.contains(expected),
                "{backend} {args:?}: {}",
                run.stderr
            );
            assert_eq!(run.stdout, "", "{backend} {args:?}");
        }
        assert_eq!(
            t.snapshot(),
            before,
            "a refused command changed the data ({})",
            t.db.backend
        );
    }
}

#[test]
fn a_broken_plan_stops_every_command_with_one_line_and_plan_check_lists_all_problems() {
    let t = Tocsin::new(TestDb::sqlite());
    std::fs::write(
        t.path("tocsin.toml"),
        "[organization]\nname = \"Acme\"\ntimezone = \"Mars/Olympus\"\n\n[[severity]]\nid = \"P1\"\nname = \"Critical\"\nacknowledge_within = \"15 mins\"\n\n[[step]]\nid = \"identify\"\nname = \"Identify\"\n\n[review]\nstep = \"identify\"\nwithin = \"5 business days\"\n",
    )
    .unwrap();
    let declare = t.run(&["incident", "declare", "--title", "x", "--severity", "P1"]);
    assert_eq!(declare.code, 1);
    assert_eq!(
        declare.stderr,
        "error: tocsin.toml has 2 problem(s); run `tocsin plan check` to see them\n"
    );
    assert!(
        !t.path("tocsin-data").exists(),
        "a refused command created the database"
    );
    let check = t.run(&["plan", "check"]);
    assert_eq!(check.code, 1);
    let lines: Vec<&str> = check.stderr.lines().collect();
    assert_eq!(lines[0], "tocsin.toml:3:12: unknown timezone \"Mars/Olympus\"");
    assert_eq!(
        lines[2],
        "tocsin.toml:8:22: acknowledge_within in severity \"P1\": unknown unit \"mins\" in duration \"15 mins\""
    );
    assert_eq!(lines[3], "    hint: write \"15m\" or \"15 minutes\"");
    assert_eq!(lines[4], "tocsin.toml: 2 problem(s)");
    let json = t.run(&["plan", "check", "--json"]);
    assert_eq!(json.code, 1);
    assert_eq!(json.json()["problems"].as_array().unwrap().len(), 2);
}

#[test]
fn usage_errors_exit_with_2() {
    let t = Tocsin::new(TestDb::sqlite());
    assert_eq!(t.run(&["incident", "declare", "--title", "x"]).code, 2);
    assert_eq!(t.run(&["incident", "frobnicate"]).code, 2);
    assert_eq!(t.run(&["init", "--preset", "five-tier"]).code, 2);
}

#[test]
fn init_writes_a_commented_preset_and_never_overwrites_silently() {
    let t = Tocsin::new(TestDb::sqlite());
    t.ok(&["init"]);
    let written = std::fs::read_to_string(t.path("tocsin.toml")).unwrap();
    assert!(written.starts_with("# tocsin.toml"), "{written}");
    assert!(written.contains("id = \"P4\""));
    let again = t.run(&["init", "--preset", "three-tier"]);
    assert_eq!(
        (again.code, again.stderr.as_str()),
        (1, "error: tocsin.toml already exists; pass --force to overwrite it\n")
    );
    t.ok(&["init", "--preset", "three-tier", "--force"]);
    assert!(
        std::fs::read_to_string(t.path("tocsin.toml"))
            .unwrap()
            .contains("id = \"P0\"")
    );
}

#[test]
fn without_a_plan_file_the_four_tier_preset_applies_and_reads_need_no_database() {
    let t = Tocsin::new(TestDb::sqlite());
    assert_eq!(t.ok(&["clocks"]).stdout, "No running clocks.\n");
    assert_eq!(t.ok(&["incident", "list", "--json"]).stdout, "[]\n");
    let missing = t.run(&["incident", "ack", "INC-0001"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with("error: unknown incident INC-0001: there is no database at"),
        "{}",
        missing.stderr
    );
    assert!(!Path::new(t.db.url.trim_start_matches("sqlite:")).exists());
    let declared = t
        .ok(&["incident", "declare", "--title", "x", "--severity", "P1", "--json"])
        .json();
    assert_eq!(declared["incident"]["severity"], "P1");
    assert_eq!(clock(&declared, "acknowledge")["state"], "running");
}

#[tokio::test]
async fn verify_names_the_entry_that_was_edited_behind_tocsins_back() {
    for db in TestDb::all().await {
        let t = Tocsin::with_plan(db, "four-tier");
        t.ok(&[
            "incident",
            "declare",
            "--title",
            "Vault key exposed",
            "--severity",
            "P1",
        ]);
        t.ok(&["incident", "note", "INC-0001", "rotating the key"]);
        t.ok(&["incident", "ack", "INC-0001"]);
        t.db.tamper(t.db.drop_append_only_guard()).await;
        t.db.tamper("UPDATE audit_log SET data = REPLACE(data, 'rotating', 'ignoring') WHERE seq = 3")
            .await;
        let run = t.run(&["verify"]);
        assert_eq!(run.code, 1, "{}", t.db.backend);
        assert!(
            run.stdout
                .starts_with("TAMPERED: audit entry #3: its content was changed after it was written"),
            "{}",
            run.stdout
        );
        let json = t.run(&["verify", "--json"]).json();
        assert_eq!(json["intact"], false);
        assert_eq!(json["entries"], 2);
    }
}

#[test]
fn two_cli_processes_on_one_database_lose_nothing() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "four-tier");
    t.ok(&["incident", "declare", "--title", "shared", "--severity", "P2"]);
    let spawn = |who: &'static str| {
        let dir = t.dir.path().to_owned();
        let url = t.db.url.clone();
        std::thread::spawn(move || {
            for i in 0..10 {
                let status = Command::new(env!("CARGO_BIN_EXE_tocsin"))
                    .args(["incident", "note", "INC-0001", &format!("{who} {i}"), "--as", who])
                    .current_dir(&dir)
                    .env("TOCSIN_DB", &url)
                    .output()
                    .unwrap();
                assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
            }
        })
    };
    let (a, b) = (spawn("a"), spawn("b"));
    a.join().unwrap();
    b.join().unwrap();
    let show = t.ok(&["incident", "show", "INC-0001", "--json"]).json();
    assert_eq!(show["timeline"].as_array().unwrap().len(), 21);
    assert!(t.ok(&["verify"]).stdout.starts_with("Intact: 22 audit entries"));
}

#[test]
fn the_readme_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("## Quick start").nth(1).expect("a quick start section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let commands: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tocsin "))
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    let t = Tocsin::new(TestDb::sqlite());
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tocsin"), bin.path().join("tocsin")).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    for command in commands {
        let out = Command::new("sh")
            .args(["-c", command])
            .current_dir(t.dir.path())
            .env("PATH", &path)
            .env("TOCSIN_DB", &t.db.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(t.ok(&["verify"]).stdout.starts_with("Intact:"));
}

#[test]
fn incident_list_takes_status_all_as_the_api_does() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "four-tier");
    t.ok(&["incident", "declare", "--title", "open one", "--severity", "P3"]);
    t.ok(&["incident", "declare", "--title", "false alarm", "--severity", "P4"]);
    t.ok(&["incident", "dismiss", "INC-0002", "--reason", "a scanner of ours"]);
    let listed = t.ok(&["incident", "list", "--status", "all"]).stdout;
    assert!(
        listed.contains("open one") && listed.contains("false alarm"),
        "{listed}"
    );
    let default = t.ok(&["incident", "list"]).stdout;
    assert!(!default.contains("false alarm"), "{default}");
}

impl Tocsin {
    /// Runs `tocsin ARGS` writing into a pipe whose reader has already gone, as
    /// `tocsin ARGS | true` does: the exit code and standard error.
    fn run_into_closed_pipe(&self, args: &[&str]) -> (i32, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(args)
            .current_dir(self.dir.path())
            .env("TOCSIN_DB", &self.db.url)
            .env("TOCSIN_ACTOR", "jo")
            .env_remove("TOCSIN_PLAN")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("tocsin runs");
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8(out.stderr).unwrap())
    }
}

#[test]
fn incident_list_into_a_closed_pipe_ends_quietly_instead_of_panicking() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "four-tier");
    // Enough rows that the output cannot hide in a buffer that is never flushed.
    for i in 0..3 {
        t.ok(&[
            "incident",
            "declare",
            "--title",
            &format!("incident {i}"),
            "--severity",
            "P3",
        ]);
    }
    let (code, stderr) = t.run_into_closed_pipe(&["incident", "list", "--all"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn token_create_into_a_closed_pipe_leaves_no_token_that_nobody_saw() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "four-tier");
    let (code, stderr) = t.run_into_closed_pipe(&["token", "create", "--name", "t", "--scope", "read"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("revoked"), "{stderr}");
    let tokens = t.ok(&["token", "list", "--json"]).json();
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert!(
        !tokens[0]["revoked_at"].is_null(),
        "the unseen token still works: {tokens:?}"
    );
}

#[test]
fn integration_add_into_a_closed_pipe_leaves_no_key_that_nobody_saw() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "four-tier");
    let (code, stderr) = t.run_into_closed_pipe(&["integration", "add", "pagerduty", "--name", "pd"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    let listed = t.ok(&["integration", "list", "--json"]).json();
    assert_eq!(listed, serde_json::json!([]), "the unseen key still works");
}

#[test]
fn plan_check_and_the_timeline_say_what_happened_in_plain_words() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    let check = t.ok(&["plan", "check"]).stdout;
    assert!(
        check.contains("gdpr-art34: without undue delay after awareness of personal data"),
        "{check}"
    );
    assert!(
        check.contains("gdpr-art33: within 72h of awareness of personal data"),
        "{check}"
    );
    assert!(!check.contains("deadline of"), "{check}");
    assert!(
        check.contains("recovery     watched for 3d after resolution, 2 times more sensitive"),
        "{check}"
    );
    t.ok(&["incident", "declare", "--title", "leak", "--severity", "P1"]);
    t.ok(&["incident", "notice", "INC-0001", "status-update", "--note", "contained"]);
    t.ok(&["incident", "notice", "INC-0001", "customers"]);
    let show = t.ok(&["incident", "show", "INC-0001"]).stdout;
    assert!(show.contains("status update: contained"), "{show}");
    assert!(show.contains("customers notified"), "{show}");
    assert!(!show.contains("notice sent to"), "{show}");
}

#[test]
fn assign_with_an_unknown_owner_is_refused_with_a_did_you_mean() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    t.ok(&["user", "add", "ana.lopez", "--role", "responder"]);
    t.ok(&["incident", "declare", "--title", "leak", "--severity", "P1"]);
    let refused = t.run(&["incident", "assign", "INC-0001", "--owner", "ana.lopes"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_eq!(
        refused.stderr,
        "error: unknown person \"ana.lopes\" (did you mean \"ana.lopez\"?); owners and role holders are tocsin users or the plan's people\n"
    );
    let refused = t.run(&[
        "incident",
        "assign",
        "INC-0001",
        "--role",
        "incident-commander=nosuchperson",
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    // Names are taken as tocsin spells them.
    t.ok(&["incident", "assign", "INC-0001", "--owner", "ANA.LOPEZ"]);
    let show = t.ok(&["incident", "show", "INC-0001", "--json"]).json();
    assert_eq!(show["incident"]["owner"], "ana.lopez");
}

#[test]
fn closing_with_the_gdpr_clock_running_is_refused_in_one_line_until_an_override_says_why() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    t.ok(&[
        "incident",
        "declare",
        "--title",
        "leak",
        "--severity",
        "P1",
        "--personal-data",
    ]);
    t.ok(&["incident", "resolve", "INC-0001"]);
    // Resolved, it is under its recovery watch for the plan's 72 hours.
    let show = t.ok(&["incident", "show", "INC-0001"]).stdout;
    assert!(show.contains("recovery watch       until "), "{show}");
    let refused = t.run(&["incident", "close", "INC-0001"]);
    assert_eq!(refused.code, 1);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    for open in [
        "gdpr-art33",
        "gdpr-art34",
        "customer-notice",
        "are not done",
        "incident-commander",
    ] {
        assert!(refused.stderr.contains(open), "{open} missing from {}", refused.stderr);
    }
    assert!(refused.stderr.contains("override"), "{}", refused.stderr);
    t.ok(&["incident", "close", "INC-0001", "--override", "merged into INC-0002"]);
    let show = t.ok(&["incident", "show", "INC-0001"]).stdout;
    assert!(
        show.contains("closed with an override while the clock customer-notice"),
        "{show}"
    );
    assert!(show.contains(": merged into INC-0002"), "{show}");
}

#[test]
fn customer_impact_counts_title_and_not_required_obligations_are_set_from_the_command_line() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    t.ok(&[
        "incident",
        "declare",
        "--title",
        "leak",
        "--severity",
        "P1",
        "--personal-data",
        "--customers",
        "no",
    ]);
    let show = t.ok(&["incident", "show", "INC-0001", "--json"]).json();
    assert_eq!(show["incident"]["customers"], "no");
    assert_eq!(clock(&show, "customer-notice")["state"], "not_applicable");
    let changed = t.ok(&[
        "incident",
        "impact",
        "INC-0001",
        "--customers",
        "yes",
        "--affected-customers",
        "12",
        "--affected-data-subjects",
        "3400",
    ]);
    assert!(changed.stdout.contains("Customer notice started"), "{}", changed.stdout);
    let bad = t.run(&["incident", "impact", "INC-0001", "--customers", "maybe"]);
    assert_eq!(
        bad.stderr,
        "error: --customers: \"maybe\" is not an answer to whether customers are affected; use yes, no or unknown\n"
    );
    let waived = t.ok(&[
        "incident",
        "waive",
        "INC-0001",
        "gdpr-art34",
        "--reason",
        "the records were encrypted and the key was not exposed",
    ]);
    assert!(
        waived
            .stdout
            .contains("(GDPR Art. 34) stopped: not required: the records were encrypted"),
        "{}",
        waived.stdout
    );
    t.ok(&[
        "incident",
        "edit",
        "INC-0001",
        "--title",
        "Customer export leaked",
        "--summary",
        "found by a customer",
    ]);
    let show = t.ok(&["incident", "show", "INC-0001", "--json"]).json();
    assert_eq!(show["incident"]["title"], "Customer export leaked");
    assert_eq!(show["incident"]["affected_customers"], 12);
    assert_eq!(show["incident"]["affected_data_subjects"], 3400);
    assert_eq!(clock(&show, "customer-notice")["state"], "running");
    assert_eq!(
        clock(&show, "gdpr-art34")["waived"],
        "the records were encrypted and the key was not exposed"
    );
    let text = t.ok(&["incident", "show", "INC-0001"]).stdout;
    for expected in [
        "customers affected   yes, 12 affected",
        "not required: the records were encrypted",
        "customers affected: yes; 12 customers; 3400 data subjects",
        "gdpr-art34 not required: the records were encrypted and the key was not exposed",
        "retitled \"Customer export leaked\"",
        "summary edited",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn events_are_read_back_by_number_and_by_filter() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    let log = t.path("auth.ndjson");
    let lines: Vec<String> = (0..4)
        .map(|i| {
            let (ip, user) = if i == 3 { ("198.51.100.9", "ana") } else { ("203.0.113.5", "root") };
            format!(
                r#"{{"kind":"auth","ts":"2026-01-05T00:00:0{i}Z","outcome":"failure","ip":"{ip}","user":"{user}","service":"sshd"}}"#
            )
        })
        .collect();
    std::fs::write(&log, lines.join("\n")).unwrap();
    t.ok(&["ingest", log.to_str().unwrap()]);
    let shown = t.ok(&["events", "show", "2", "4", "--json"]).json();
    let seqs: Vec<u64> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 4]);
    assert_eq!(shown[1]["event"]["user"], "ana");
    let text = t.ok(&["events", "show", "4"]).stdout;
    assert!(text.starts_with("#4  2026-01-05 00:00 UTC  auth  from "), "{text}");
    let missing = t.run(&["events", "show", "9"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("holds no event 9"), "{}", missing.stderr);
    let by_address = t.ok(&["events", "list", "--address", "203.0.113.5", "--json"]).json();
    assert_eq!(by_address.as_array().unwrap().len(), 3);
    let by_account = t
        .ok(&["events", "list", "--account", "ANA", "--kind", "auth", "--json"])
        .json();
    assert_eq!(by_account.as_array().unwrap().len(), 1, "{by_account}");
    let since = t
        .ok(&["events", "list", "--since", "2026-01-05T00:00:02Z", "--json"])
        .json();
    assert_eq!(since.as_array().unwrap().len(), 2, "{since}");
    let bad = t.run(&["events", "list", "--kind", "login"]);
    assert_eq!(bad.code, 1);
}

#[test]
fn control_characters_in_user_names_and_titles_never_reach_the_terminal_raw() {
    let t = Tocsin::with_plan(TestDb::sqlite(), "three-tier");
    let log = t.path("evil.ndjson");
    std::fs::write(
        &log,
        r#"{"kind":"auth","ts":"2026-01-05T00:00:00Z","outcome":"failure","ip":"203.0.113.5","user":"evil\u001b[2Jname","service":"sshd"}"#,
    )
    .unwrap();
    t.ok(&["ingest", log.to_str().unwrap()]);
    let trail = t.ok(&["logins"]).stdout;
    assert!(!trail.contains('\u{1b}'), "{trail:?}");
    assert!(trail.contains("evil\\u{1b}[2Jname"), "{trail}");
    let declared = t
        .ok(&[
            "incident",
            "declare",
            "--title",
            "red \u{1b}[31malert",
            "--severity",
            "P2",
        ])
        .stdout;
    assert!(!declared.contains('\u{1b}'), "{declared:?}");
    for args in [&["incident", "list"][..], &["incident", "show", "INC-0001"][..]] {
        let out = t.ok(args).stdout;
        assert!(!out.contains('\u{1b}'), "{args:?}: {out:?}");
        assert!(out.contains("red \\u{1b}[31malert"), "{args:?}: {out}");
    }
}

#[tokio::test]
async fn keys_rotate_seals_the_chain_and_verify_holds_it_to_the_signed_heads() {
    for db in TestDb::all().await {
        let t = Tocsin::with_plan(db, "four-tier");
        t.ok(&[
            "incident",
            "declare",
            "--title",
            "Vault key exposed",
            "--severity",
            "P1",
        ]);
        let missing = t.run(&["keys", "show"]);
        assert_eq!(missing.code, 1);
        assert!(
            missing.stderr.contains("there is no signing key at"),
            "{}",
            missing.stderr
        );
        let unsealed = t.ok(&["verify"]).stdout;
        assert!(unsealed.contains("note: the chain is not sealed yet"), "{unsealed}");

        let rotated = t.ok(&["keys", "rotate"]).stdout;
        assert!(rotated.starts_with("ed25519:"), "{rotated}");
        let shown = t.ok(&["keys", "show", "--json"]).json();
        assert_eq!(shown["key"].as_str(), rotated.lines().next());
        assert_eq!(shown["retired"].as_array().unwrap().len(), 1);
        let key = Path::new(shown["file"].as_str().unwrap()).to_owned();
        let key = if key.is_absolute() { key } else { t.dir.path().join(key) };
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let heads = key.with_file_name("signed-heads.jsonl");
        let lines = std::fs::read_to_string(&heads).unwrap();
        // The first key's head, its hand-over to the new key, and the new key's head over
        // the entry that records the rotation.
        assert_eq!(lines.lines().count(), 3, "{lines}");
        let intact = t.ok(&["verify"]).stdout;
        assert!(
            intact.contains("checked against 3 signed heads; the latest covers #3"),
            "{intact}"
        );

        // An intruder removes the rotation's entry and the last signed line; a copy of the
        // heads kept elsewhere still tells.
        let kept = t.dir.path().join("kept-heads.jsonl");
        std::fs::write(&kept, &lines).unwrap();
        let shortened: Vec<&str> = lines.lines().take(2).collect();
        std::fs::write(&heads, shortened.join("\n") + "\n").unwrap();
        let store = t.db.open().await;
        let before = store.audit_entries(1, 1).await.unwrap().remove(0);
        t.db.tamper(t.db.drop_append_only_guard()).await;
        t.db.tamper(&format!(
            "DELETE FROM audit_log WHERE seq = 3; UPDATE audit_head SET seq = 2, hash = '{}' WHERE id = 1",
            before.hash
        ))
        .await;
        assert!(t.ok(&["verify"]).stdout.starts_with("Intact"));
        let run = t.run(&["verify", "--head", kept.to_str().unwrap()]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout
                .starts_with("TAMPERED: audit entry #3: it is missing, but the head signed at"),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("kept-heads.jsonl line 3"), "{}", run.stdout);
    }
}
