//! `tocsin serve`, `tocsin user` and `tocsin token`, run as an operator runs them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{run, tocsin};

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

/// A server process, killed if a test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server on a free port and returns it with the address from its log.
fn start(dir: &std::path::Path) -> (Server, String, std::sync::mpsc::Receiver<String>) {
    let mut server = Server(
        tocsin(dir, None)
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
    assert_eq!(verification["entries"], 7, "{out}");
}
