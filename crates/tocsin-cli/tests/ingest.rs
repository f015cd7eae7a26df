//! `tocsin ingest`: log files and NDJSON into the event log, and following a log across
//! rotation.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{run, tocsin};
use tocsin_core::event::Event;
use tocsin_store::testing::TestDb;

const SSHD: &str = "\
Jan  5 00:00:04 web1 sshd[2174]: Invalid user ftp from 192.0.2.1 port 36243
Jan  5 00:00:05 web1 sshd[2174]: pam_unix(sshd:auth): check pass; user unknown
Jan  5 00:00:07 web1 sshd[2174]: Failed password for invalid user ftp from 192.0.2.1 port 36243 ssh2
Jan  5 00:00:09 web1 sshd[2180]: Invalid user oracle from 192.0.2.2 port 40000
Jan  5 00:00:10 web1 sshd[2180]: Connection closed by invalid user oracle 192.0.2.2 port 40000 [preauth]
Jan  5 00:00:12 web1 CRON[2190]: pam_unix(cron:session): session opened for user root
this line is not syslog at all
Jan  5 00:00:15 web1 sshd-session[2201]: Accepted publickey for deploy from 2001:db8::5 port 50000 ssh2: ED25519 SHA256:x
";

#[tokio::test]
async fn an_openssh_log_is_stored_attempt_by_attempt_and_joins_the_login_trail() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth.log"), SSHD).unwrap();
    let (code, out, err) = run(
        dir.path(),
        Some(&db.url),
        &["ingest", "auth.log", "--year", "2026", "--timezone", "UTC"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "auth.log: 8 lines read as an OpenSSH log, 3 events stored, 1 lines refused; 0 new signals (see `tocsin signals`)\n  line 7: not a syslog line",
        "{out}"
    );
    // The trail is brought up to date when it is read.
    let (code, out, err) = run(dir.path(), Some(&db.url), &["--json", "logins", "--limit", "10"], b"");
    assert_eq!(code, 0, "{err}");
    let trail: Value = serde_json::from_str(&out).unwrap();
    let seen: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["ip"].as_str().unwrap(), l["user"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("2001:db8::5", "deploy"), ("192.0.2.2", "oracle"), ("192.0.2.1", "ftp")],
        "one attempt per connection, newest first"
    );
    assert_eq!(trail[0]["origin"], "file:auth.log");
}

#[tokio::test]
async fn ndjson_from_standard_input_reports_bad_lines_by_number_and_keeps_the_good_ones() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let input = b"{\"kind\":\"heartbeat\",\"ts\":\"2026-01-05T00:00:04Z\",\"agent\":\"a\"}\n\n{\"kind\":\"heartbeat\",\"agent\":\"b\"}\n{\"kind\":\"heartbeat\",\"ts\":\"2026-01-05T00:00:05Z\",\"agent\":\"c\"}\n";
    let (code, out, err) = run(dir.path(), Some(&db.url), &["--json", "ingest", "-"], input);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["accepted"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejects"][0]["line"], 3);
    assert_eq!(report["rejects"][0]["field"], "ts");

    let (code, _, err) = run(dir.path(), Some(&db.url), &["ingest", "-"], b"hello\nworld\n");
    assert_eq!(code, 1);
    assert!(err.contains("cannot tell the format of standard input"), "{err}");
    let (code, _, err) = run(dir.path(), Some(&db.url), &["ingest", "missing.log"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("cannot open missing.log"), "{err}");
}

fn line(second: u32, ip: &str) -> String {
    format!(
        "{{\"kind\":\"auth\",\"ts\":\"2026-01-05T00:{:02}:{:02}Z\",\"outcome\":\"failure\",\"ip\":\"{ip}\",\"user\":\"root\",\"service\":\"sshd\"}}\n",
        second / 60,
        second % 60
    )
}

#[tokio::test]
async fn a_followed_log_is_read_as_it_grows_and_after_it_is_rotated() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, line(0, "192.0.2.1")).unwrap();
    let store = db.open().await;
    let mut follower = tocsin(dir.path(), Some(&db.url))
        .args(["ingest", "app.log", "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let count = |n: u64| {
        let store = std::sync::Arc::clone(&store);
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if store.last_event_seq().await.unwrap() >= n {
                    return;
                }
                assert!(Instant::now() < deadline, "{n} events expected");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    count(1).await;
    // Growing, including a line written in two parts.
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(line(1, "192.0.2.2").as_bytes()).unwrap();
    let half = line(2, "192.0.2.3");
    file.write_all(&half.as_bytes()[..20]).unwrap();
    file.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    file.write_all(&half.as_bytes()[20..]).unwrap();
    count(3).await;
    // Rotated: the old file moves away, a new one starts.
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    std::fs::write(&log, line(3, "192.0.2.4")).unwrap();
    count(4).await;
    follower.kill().unwrap();
    let status = follower.wait().unwrap();
    assert!(!status.success());
    let events = store.events_after(0, 10).await.unwrap();
    let sources: Vec<String> = events
        .iter()
        .map(|e| match &e.event {
            Event::Auth(a) => a.source.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sources, ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
}

/// `tocsin ingest --follow` stopped and started again goes on where it stopped: lines
/// already stored are not stored twice, lines written while it was stopped are not lost,
/// also when the file was rotated meanwhile (the rest of the rotated file first) or
/// replaced by another one.
#[tokio::test]
async fn a_followed_log_resumes_where_it_stopped_after_a_restart_and_a_rotation_in_between() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let store = db.open().await;
    let follow = || {
        tocsin(dir.path(), Some(&db.url))
            .args(["ingest", "app.log", "--follow"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let count = |n: u64| {
        let store = std::sync::Arc::clone(&store);
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if store.last_event_seq().await.unwrap() >= n {
                    // And no more come: what was read once is not read again.
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    assert_eq!(store.last_event_seq().await.unwrap(), n, "events stored twice");
                    return;
                }
                assert!(Instant::now() < deadline, "{n} events expected");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let append = |second: u32, ip: &str| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        file.write_all(line(second, ip).as_bytes()).unwrap();
    };
    let stop = |mut child: std::process::Child| {
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stderr).unwrap()
    };
    append(0, "192.0.2.1");
    append(1, "192.0.2.2");
    let first = follow();
    count(2).await;
    stop(first);

    // Stopped: the file grows, then it is rotated and a new one grows.
    append(2, "192.0.2.3");
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(3, "192.0.2.4");
    let second = follow();
    count(4).await;
    let said = stop(second);
    assert!(said.contains("was rotated to") && said.contains("app.log.1"), "{said}");

    // Started again with nothing new: nothing is read twice.
    let third = follow();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let said = stop(third);
    assert!(said.contains("going on from byte"), "{said}");
    assert_eq!(store.last_event_seq().await.unwrap(), 4);

    // Replaced by another file whose first bytes differ and the old one gone: read from its start, said so.
    std::fs::remove_file(dir.path().join("app.log.1")).unwrap();
    std::fs::remove_file(&log).unwrap();
    append(10, "192.0.2.9");
    let fourth = follow();
    count(5).await;
    let said = stop(fourth);
    assert!(said.contains("is not the file that was read to byte"), "{said}");

    let sources: Vec<String> = store
        .events_after(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| match &e.event {
            Event::Auth(a) => a.source.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sources,
        ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.9"]
    );
}

/// PostgreSQL's log (as a self-hosted server writes it, and as jsonlog) and Caddy's and
/// Traefik's JSON access logs, told apart from their first lines: a password guesser
/// against the database and one against a login page behind each proxy are brute force.
#[tokio::test]
async fn postgres_caddy_and_traefik_logs_give_attempts_that_the_detectors_read() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let mut postgres = String::new();
    let mut caddy = String::new();
    let mut traefik = String::new();
    for i in 0..7 {
        postgres.push_str(&format!(
            "2026-01-05 03:0{i}:10.000 UTC [{pid}] LOG:  connection received: host=203.0.113.21 port={port}\n2026-01-05 03:0{i}:10.050 UTC [{pid}] FATAL:  password authentication failed for user \"postgres\"\n2026-01-05 03:0{i}:10.050 UTC [{pid}] DETAIL:  Connection matched pg_hba.conf line 99: \"host all all 0.0.0.0/0 scram-sha-256\"\n",
            pid = 500 + i,
            port = 40000 + i
        ));
        caddy.push_str(&format!(
            "{{\"level\":\"info\",\"ts\":{},\"logger\":\"http.log.access.log0\",\"msg\":\"handled request\",\"request\":{{\"remote_ip\":\"203.0.113.22\",\"client_ip\":\"203.0.113.22\",\"method\":\"POST\",\"host\":\"app.example.com\",\"uri\":\"/login\",\"headers\":{{\"User-Agent\":[\"hydra\"]}}}},\"duration\":0.01,\"status\":401}}\n",
            1_767_582_010 + i * 60
        ));
        traefik.push_str(&format!(
            "{{\"ClientHost\":\"203.0.113.23\",\"DownstreamStatus\":401,\"Duration\":1000000,\"RequestMethod\":\"POST\",\"RequestPath\":\"/login\",\"RequestHost\":\"app.example.com\",\"StartUTC\":\"2026-01-05T03:0{i}:10Z\"}}\n"
        ));
    }
    for (file, text, said) in [
        ("postgresql.log", &postgres, "a PostgreSQL log"),
        ("caddy.json", &caddy, "a Caddy or Traefik access log"),
        ("traefik.json", &traefik, "a Caddy or Traefik access log"),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
        let (code, out, err) = run(dir.path(), Some(&db.url), &["ingest", file, "--timezone", "UTC"], b"");
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("lines read as {said}")) && !out.contains("refused"),
            "{out}"
        );
    }
    let (code, out, err) = run(dir.path(), Some(&db.url), &["--json", "signals"], b"");
    assert_eq!(code, 0, "{err}");
    let signals: Value = serde_json::from_str(&out).unwrap();
    let brute: std::collections::BTreeSet<&str> = signals
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["detector"] == "brute_force")
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        brute,
        ["203.0.113.21", "203.0.113.22", "203.0.113.23"].into_iter().collect(),
        "{out}"
    );
}

#[tokio::test]
async fn an_attack_in_an_ingested_log_becomes_signals_an_incident_and_entries_on_the_login_trail() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for i in 0..7 {
        log.push_str(&format!(
            "Jan  5 03:0{i}:10 web1 sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2\n",
            100 + i,
            40000 + i
        ));
    }
    log.push_str("Jan  5 03:08:00 web1 sshd[200]: Accepted password for root from 203.0.113.9 port 41000 ssh2\n");
    std::fs::write(dir.path().join("auth.log"), log).unwrap();
    let ingest = ["ingest", "auth.log", "--year", "2026", "--timezone", "UTC"];
    let (code, out, err) = run(dir.path(), Some(&db.url), &ingest, b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("8 events stored; 2 new signals"), "{out}");

    let (code, out, err) = run(dir.path(), Some(&db.url), &["--json", "signals"], b"");
    assert_eq!(code, 0, "{err}");
    let signals: Value = serde_json::from_str(&out).unwrap();
    let found: Vec<(&str, &str, &str, &str)> = signals
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["detector"].as_str().unwrap(),
                s["key"].as_str().unwrap(),
                s["severity"].as_str().unwrap(),
                s["incident"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("compromise", "203.0.113.9", "P1", "INC-0001"),
            ("brute_force", "203.0.113.9", "P2", "INC-0001"),
        ]
    );
    let (_, out, _) = run(dir.path(), Some(&db.url), &["signals"], b"");
    assert!(
        out.contains("A login to the account root from 203.0.113.9 succeeded after 7 failed attempts"),
        "{out}"
    );

    let (code, out, err) = run(
        dir.path(),
        Some(&db.url),
        &[
            "--json",
            "logins",
            "--ip",
            "203.0.113.9",
            "--outcome",
            "failure",
            "--limit",
            "3",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let logins: Value = serde_json::from_str(&out).unwrap();
    let times: Vec<&str> = logins
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        ["2026-01-05T03:06:10Z", "2026-01-05T03:05:10Z", "2026-01-05T03:04:10Z"]
    );
    let (code, _, err) = run(dir.path(), Some(&db.url), &["logins", "--outcome", "maybe"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("--outcome maybe: choose success or failure"), "{err}");

    // Ingesting the same log again stores the events again, but finds nothing new.
    let (_, out, _) = run(dir.path(), Some(&db.url), &ingest, b"");
    assert!(out.contains("0 new signals"), "{out}");
    let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "incident", "list"], b"");
    let incidents: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
    assert_eq!(incidents[0]["severity"], "P1");
}

#[tokio::test]
async fn an_nginx_access_log_gives_requests_and_failed_logins_and_its_error_log_rate_limit_denials() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let mut access = String::new();
    for i in 0..6 {
        access.push_str(&format!(
            "203.0.113.20 - - [05/Jan/2026:12:0{i}:00 +0000] \"POST /login HTTP/1.1\" 401 120 \"-\" \"python-requests/2.31\"\n"
        ));
    }
    access.push_str(
        "198.51.100.7 - - [05/Jan/2026:12:06:30 +0000] \"GET /account HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\"\n",
    );
    access.push_str("garbage\n");
    std::fs::write(dir.path().join("access.log"), access).unwrap();
    let (code, out, err) = run(dir.path(), Some(&db.url), &["ingest", "access.log"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("access.log: 8 lines read as an nginx log, 13 events stored, 1 lines refused; 1 new signals"),
        "{out}"
    );
    let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "signals"], b"");
    let signals: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(signals[0]["detector"], "brute_force", "{signals}");
    assert_eq!(signals[0]["key"], "203.0.113.20");

    let error_log = (0..10)
        .map(|i| format!("2026/01/05 12:00:{i:02} [error] 7#7: *{i} limiting requests, excess: 1.000 by zone \"login\", client: 192.0.2.{i}, server: example.com, request: \"POST /login HTTP/1.1\", host: \"example.com\"\n"))
        .collect::<String>();
    std::fs::write(dir.path().join("error.log"), error_log).unwrap();
    let (code, out, err) = run(
        dir.path(),
        Some(&db.url),
        &["ingest", "error.log", "--timezone", "UTC"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("10 events stored; 1 new signals"), "{out}");
    let (_, out, _) = run(
        dir.path(),
        Some(&db.url),
        &["--json", "signals", "--detector", "distributed_rate_limit"],
        b"",
    );
    let signals: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(signals[0]["key"], "login", "{signals}");
    assert_eq!(signals[0]["evidence"]["sources"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn the_plan_s_rules_decide_what_signals_lead_to() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), Some(&db.url), &["init"], b"");
    assert_eq!(code, 0, "{err}");
    common::add_to_plan(
        dir.path(),
        "\n[[rule]]\ndetector = \"brute_force\"\naction = \"open\"\nseverity = \"P3\"\ngroup = \"detector\"\n",
    );
    let mut log = String::new();
    for ip in ["203.0.113.1", "203.0.113.2"] {
        for i in 0..6 {
            log.push_str(&format!(
                "Jan  5 03:0{i}:10 web1 sshd[1{i}]: Failed password for root from {ip} port 4000{i} ssh2\n"
            ));
        }
    }
    std::fs::write(dir.path().join("auth.log"), log).unwrap();
    let (code, out, err) = run(
        dir.path(),
        Some(&db.url),
        &["ingest", "auth.log", "--year", "2026", "--timezone", "UTC"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 new signals"), "{out}");
    let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "incident", "list"], b"");
    let incidents: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        incidents.as_array().unwrap().len(),
        1,
        "one incident for both sources: {incidents}"
    );
    assert_eq!(incidents[0]["severity"], "P3", "the plan's severity");
}

#[tokio::test]
async fn events_read_again_after_a_restart_rebuild_the_detectors_memory_but_report_nothing() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), Some(&db.url), &["init"], b"");
    assert_eq!(code, 0, "{err}");
    let failures = |minute: u32, ip: &str, n: u32| {
        (0..n)
            .map(|i| {
                format!(
                    "Jan  5 03:{minute:02}:1{i} web1 sshd[1{i}]: Failed password for root from {ip} port 4000{i} ssh2\n"
                )
            })
            .collect::<String>()
    };
    let ingest = |name: &str, log: String| {
        std::fs::write(dir.path().join(name), log).unwrap();
        let args = ["--json", "ingest", name, "--year", "2026", "--timezone", "UTC"];
        let (code, out, err) = run(dir.path(), Some(&db.url), &args, b"");
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["signals"]
            .as_u64()
            .unwrap()
    };
    // Four failures, then two more in a later run: together a brute force, which the
    // second run sees because it read the first run's events again.
    assert_eq!(ingest("first.log", failures(0, "203.0.113.1", 4)), 0);
    assert_eq!(ingest("second.log", failures(5, "203.0.113.1", 2)), 1);

    // A stricter plan: three failures make a brute force from now on. The next run reads
    // the earlier events again and would find a brute force at the first log's third
    // failure, but reports nothing about events read before; a new source is reported.
    common::add_to_plan(dir.path(), "\n[detection]\nbrute_force_threshold = 3\n");
    let (code, _, err) = run(dir.path(), Some(&db.url), &["plan", "apply"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(ingest("third.log", failures(30, "203.0.113.2", 4)), 1);
    let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "signals"], b"");
    let signals: Value = serde_json::from_str(&out).unwrap();
    let found: Vec<(&str, &str)> = signals
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].as_str().unwrap(), s["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("203.0.113.2", "2026-01-05T03:30:13Z"),
            ("203.0.113.1", "2026-01-05T03:05:11Z")
        ],
        "{signals}"
    );
}

#[tokio::test]
async fn a_suppressed_signal_is_kept_on_record_with_its_reason_and_opens_nothing() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(dir.path(), Some(&db.url), &["init"], b"");
    assert_eq!(code, 0, "{err}");
    let suppress = "\n[[suppress]]\nkey = \"198.51.100.0/24\"\ndetector = \"brute_force\"\nreason = \"the yearly penetration test\"\n";
    common::add_to_plan(dir.path(), suppress);
    let mut log = String::new();
    for ip in ["203.0.113.1", "198.51.100.20"] {
        for i in 0..6 {
            log.push_str(&format!(
                "Jan  5 03:0{i}:10 web1 sshd[1{i}]: Failed password for root from {ip} port 4000{i} ssh2\n"
            ));
        }
    }
    std::fs::write(dir.path().join("auth.log"), log).unwrap();
    let args = ["ingest", "auth.log", "--year", "2026", "--timezone", "UTC"];
    let (code, out, err) = run(dir.path(), Some(&db.url), &args, b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 new signals"), "{out}");

    let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "signals"], b"");
    let signals: Value = serde_json::from_str(&out).unwrap();
    let found: Vec<(&str, &str, Value, Value)> = signals
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap(),
                s["action"].as_str().unwrap(),
                s["incident"].clone(),
                s["suppressed"].clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "198.51.100.20",
                "record",
                Value::Null,
                "the yearly penetration test".into()
            ),
            ("203.0.113.1", "open", "INC-0001".into(), Value::Null),
        ],
        "{signals}"
    );
    let (_, out, _) = run(dir.path(), Some(&db.url), &["signals"], b"");
    assert!(out.contains("suppressed: the yearly penetration test"), "{out}");
    let (_, out, _) = run(dir.path(), Some(&db.url), &["--json", "incident", "list"], b"");
    let incidents: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(incidents.as_array().unwrap().len(), 1, "{incidents}");
}

/// Issue 16, item 17: `tocsin ingest` stored a 10 MB sshd user name.
#[tokio::test]
async fn a_log_line_with_a_huge_user_name_is_refused_and_a_long_one_is_cut() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let huge = "a".repeat(10 << 20);
    let long = "b".repeat(20_000);
    let log = format!(
        "Jan  5 00:00:07 web1 sshd[2174]: Failed password for invalid user {huge} from 192.0.2.1 port 36243 ssh2\n\
         Jan  5 00:00:08 web1 sshd[2175]: Failed password for invalid user {long} from 192.0.2.2 port 36244 ssh2\n\
         Jan  5 00:00:09 web1 sshd[2176]: Failed password for root from 192.0.2.3 port 36245 ssh2\n"
    );
    std::fs::write(dir.path().join("auth.log"), log).unwrap();
    let (code, out, err) = run(
        dir.path(),
        Some(&db.url),
        &["--json", "ingest", "auth.log", "--year", "2026", "--timezone", "UTC"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["accepted"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejects"][0]["line"], 1);
    let longest = db
        .scalar("SELECT MAX(LENGTH(login_user)) FROM events WHERE login_user IS NOT NULL")
        .await;
    assert_eq!(longest, tocsin_core::event::MAX_FIELD_BYTES as i64);
}
