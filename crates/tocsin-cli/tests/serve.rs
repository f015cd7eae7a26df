//! `tocsin serve`, `tocsin user` and `tocsin token`, run as an operator runs them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{Server, run, tocsin};

/// A plain HTTP/1.1 GET: the status and the body.
fn get(address: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

/// Starts the server on a free port and returns it with the address from its log.
fn start(dir: &std::path::Path) -> (Server, String, std::sync::mpsc::Receiver<String>) {
    start_on(dir, None)
}

/// Like [`start`], on the database `db`.
fn start_on(dir: &std::path::Path, db: Option<&str>) -> (Server, String, std::sync::mpsc::Receiver<String>) {
    let mut server = Server(
        tocsin(dir, db)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = server.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let line = received.recv_timeout(Duration::from_secs(30)).expect("the server logs");
        let entry: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        if let Some(address) = entry["address"].as_str() {
            return (server, address.to_owned(), received);
        }
    }
    panic!("the server never said where it listens");
}

#[test]
fn serve_starts_on_its_defaults_creates_the_first_admin_once_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, address, logs) = start(dir.path());
    assert_eq!(get(&address, "/healthz", None).0, 200);
    assert_eq!(get(&address, "/readyz", None).0, 200);
    assert!(
        dir.path().join("tocsin-data/tocsin.db").exists(),
        "the default database is SQLite under ./tocsin-data"
    );

    // Without a terminal, the first admin's password goes to a file only its owner reads.
    let file = dir.path().join("tocsin-data/initial-admin-password");
    let text = std::fs::read_to_string(&file).unwrap();
    let password = text.lines().nth(1).unwrap().to_owned();
    assert_eq!(text.lines().next(), Some("admin"));
    assert!(password.len() >= 20);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    // An operator makes a token with the CLI while the server runs on the same database.
    let out = tocsin(dir.path(), None)
        .args(["--json", "token", "create", "--name", "ci", "--scope", "read,respond"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (status, body) = get(&address, "/api/v1/incidents", token["secret"].as_str());
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(&address, "/api/v1/incidents", None).0, 401);

    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit {status:?}");
    let logged: Vec<String> = logs.try_iter().collect();
    assert!(logged.iter().any(|l| l.contains("shutting down")), "{logged:?}");
    assert!(logged.iter().all(|l| !l.contains(&password)), "the password was logged");

    // A second start finds the admin and makes no new one.
    std::fs::remove_file(&file).unwrap();
    let (_again, address, _) = start(dir.path());
    assert_eq!(get(&address, "/healthz", None).0, 200);
    assert!(!file.exists(), "a second admin password was made");
}

#[test]
fn users_and_tokens_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = run(d, None, &["user", "add", "dana", "--role", "responder"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Added dana (responder)") && out.contains("password: ") && out.contains("only this once"),
        "{out}"
    );

    let (code, _, err) = run(d, None, &["user", "add", "DANA"], b"");
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "error: a user named \"DANA\" already exists");
    let (code, _, err) = run(d, None, &["user", "add", "sam", "--role", "owner"], b"");
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "error: --role: unknown role \"owner\"; choose one of viewer, responder, admin"
        )
    );
    let (code, _, err) = run(d, None, &["user", "add", "sam", "--password-stdin"], b"short\n");
    assert_eq!(code, 1);
    assert!(err.contains("at least 12 characters"), "{err}");
    let (code, out, _) = run(
        d,
        None,
        &["user", "add", "sam", "--role", "viewer", "--password-stdin"],
        b"a long enough password\n",
    );
    assert_eq!(code, 0);
    assert!(!out.contains("password:"), "a given password is not echoed: {out}");

    assert_eq!(run(d, None, &["user", "disable", "sam"], b"").0, 0);
    assert_eq!(run(d, None, &["user", "role", "dana", "admin"], b"").0, 0);
    let (code, out, _) = run(d, None, &["user", "passwd", "dana"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("password: "), "{out}");
    let (_, list, _) = run(d, None, &["--json", "user", "list"], b"");
    let users: Value = serde_json::from_str(&list).unwrap();
    let summary: Vec<(&str, &str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap(),
                u["role"].as_str().unwrap(),
                u["disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [("dana", "admin", false), ("sam", "viewer", true)]);

    let (code, out, _) = run(
        d,
        None,
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--scope",
            "read,respond",
            "--expires",
            "90d",
        ],
        b"",
    );
    assert_eq!(code, 0);
    let secret = out.lines().nth(1).unwrap().trim().to_owned();
    assert!(secret.starts_with("tocsin_") && secret.len() == 71, "{out}");
    let (code, _, err) = run(
        d,
        None,
        &["token", "create", "--name", "x", "--scope", "read,write"],
        b"",
    );
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "error: --scope: unknown scope \"write\"; choose from read, respond, ingest, admin"
        )
    );
    let (_, list, _) = run(d, None, &["token", "list"], b"");
    assert!(list.contains("ci") && list.contains("read,respond") && list.contains(&secret[secret.len() - 4..]));
    assert!(!list.contains(&secret), "the list shows a token");
    assert_eq!(run(d, None, &["token", "revoke", "ci"], b"").0, 0);
    let (code, _, err) = run(d, None, &["token", "revoke", "ci"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("already revoked"), "{err}");

    // Every change to users and tokens is on the audit chain.
    let (code, out, _) = run(d, None, &["--json", "verify"], b"");
    assert_eq!(code, 0);
    let verification: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verification["intact"], true);
    assert_eq!(verification["entries"], 8, "{out}");
}

/// Waits for the server to log a line containing `text`.
fn logged(logs: &std::sync::mpsc::Receiver<String>, text: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match logs.recv_timeout(left) {
            Ok(line) if line.contains(text) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the server did not log \"{text}\" within {within:?}");
}

#[tokio::test]
async fn one_server_leads_the_detectors_another_takes_over_when_it_dies_and_ingest_leaves_them_to_it() {
    for db in tocsin_store::testing::TestDb::all().await {
        let dir = tempfile::tempdir().unwrap();
        let (mut first, _, first_logs) = start_on(dir.path(), Some(&db.url));
        logged(
            &first_logs,
            "this instance leads the detectors",
            Duration::from_secs(20),
        );
        let (_second, _, second_logs) = start_on(dir.path(), Some(&db.url));
        logged(
            &second_logs,
            "another instance leads the detectors; this one stands by",
            Duration::from_secs(20),
        );

        // The leader dies without a word: the other takes over.
        first.0.kill().unwrap();
        first.0.wait().unwrap();
        logged(
            &second_logs,
            "this instance leads the detectors now",
            Duration::from_secs(30),
        );

        // A log ingested meanwhile is left to the leader's detectors, which read it from
        // the database.
        let mut log = String::new();
        for i in 0..6 {
            log.push_str(&format!(
                "Jan  5 03:0{i}:10 web1 sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2\n",
                100 + i,
                40000 + i
            ));
        }
        std::fs::write(dir.path().join("auth.log"), log).unwrap();
        let ingest = ["--json", "ingest", "auth.log", "--year", "2026", "--timezone", "UTC"];
        let (code, out, err) = run(dir.path(), Some(&db.url), &ingest, b"");
        assert_eq!(code, 0, "{}: {err}", db.backend);
        assert!(err.contains("leads the detectors"), "{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (report["lines"].as_u64(), report["accepted"].as_u64()),
            (Some(6), Some(6)),
            "{report}"
        );
        assert!(report["signals"].is_null(), "{report}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "signals"], b"");
            let signals: Value = serde_json::from_str(&out).unwrap();
            if signals
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["detector"] == "brute_force")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the leader found nothing: {signals}",
                db.backend
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The plan versions of the database in `dir`, newest first.
fn versions(dir: &std::path::Path) -> Vec<u64> {
    let (code, out, err) = run(dir, None, &["--json", "plan", "history"], b"");
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

fn hang_up(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serve_applies_its_plan_file_at_start_and_on_sighup_and_never_falls_back_to_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run(d, None, &["init", "--preset", "three-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let (server, _, logs) = start(d);
    assert_eq!(versions(d), [1]);

    let plan = d.join("tocsin.toml");
    let edited = format!(
        "{}\n# Reviewed by the security lead.\n",
        std::fs::read_to_string(&plan).unwrap()
    );
    std::fs::write(&plan, &edited).unwrap();
    hang_up(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while versions(d) != [2, 1] {
        assert!(Instant::now() < deadline, "SIGHUP did not apply the edited file");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A broken file on SIGHUP is reported and changes nothing.
    std::fs::write(&plan, format!("{edited}\n[[role]]\nid = \"Bad Id\"\n")).unwrap();
    hang_up(&server);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = logs
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a log line about the refused plan");
        if line.contains("SIGHUP: the plan in force stays") {
            assert!(line.contains("tocsin.toml:"), "names where: {line}");
            break;
        }
    }
    assert_eq!(versions(d), [2, 1]);
    server.stop();

    // Without a plan file, a restart keeps the database's plan.
    std::fs::remove_file(&plan).unwrap();
    let (server, _, _) = start(d);
    assert_eq!(versions(d), [2, 1]);
    let (code, shown, _) = run(d, None, &["plan", "show"], b"");
    assert_eq!(code, 0);
    assert_eq!(shown, edited);
    server.stop();
}

#[tokio::test]
async fn serve_warns_when_it_connects_to_postgres_as_a_superuser_and_the_tables_owner() {
    // Without PostgreSQL, `postgres()` says loudly that these tests were skipped.
    let Some(db) = tocsin_store::testing::TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, _, logs) = start_on(dir.path(), Some(&db.url));
    let mut warned = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while warned.len() < 2 && Instant::now() < deadline {
        if let Ok(line) = logs.recv_timeout(Duration::from_millis(200)) {
            let entry: Value = serde_json::from_str(&line).unwrap();
            if entry["level"] == "WARN"
                && entry["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("connects to PostgreSQL")
            {
                warned.push(entry["message"].as_str().unwrap().to_owned());
            }
        }
    }
    server.stop();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(
        warned[0].contains("a superuser, who can switch off the audit log's append-only trigger"),
        "{}",
        warned[0]
    );
    assert!(warned[1].contains("the owner of"), "{}", warned[1]);
}
