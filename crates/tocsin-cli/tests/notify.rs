//! `tocsin plan check` and `tocsin notify test` with a webhook channel, against a real
//! receiver on loopback.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use tocsin_notify::webhook;

mod common;
use common::{Server, tocsin};

const SECRET: &str = "a-secret-of-32-bytes-for-tests!!";

/// A receiver answering `status`, keeping what it got.
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let got = Arc::clone(&kept);
            async move {
                got.lock().unwrap().push((headers, body.to_vec()));
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The bodies the receiver got, as JSON.
fn messages(got: &Mutex<Vec<(HeaderMap, Vec<u8>)>>) -> Vec<serde_json::Value> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect()
}

/// The database of the tests in `dir`.
fn db(dir: &std::path::Path) -> String {
    format!("sqlite:{}/t.db", dir.display())
}

/// `tocsin serve` in `dir` with the webhook's secret, quiet, on a free port.
fn serve(dir: &std::path::Path, args: &[&str]) -> Server {
    let child = tocsin(dir, Some(&db(dir)))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("TOCSIN_TEST_HOOK_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Server(child)
}

/// Runs `tocsin ARGS` in `dir` with the channel's secret set or not.
async fn run(dir: &std::path::Path, args: &[&str], secret: bool) -> (i32, String, String) {
    let mut command = tocsin(dir, Some(&db(dir)));
    command.args(args);
    match secret {
        true => command.env("TOCSIN_TEST_HOOK_SECRET", SECRET),
        false => command.env_remove("TOCSIN_TEST_HOOK_SECRET"),
    };
    // The receiver answers on this runtime while the command runs.
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The plan `tocsin init` wrote, with one channel to `url`.
fn plan_with(dir: &std::path::Path, url: &str) {
    let plan = dir.join("tocsin.toml");
    let first = dir.join("tocsin.toml.init");
    if !first.exists() {
        std::fs::copy(&plan, &first).unwrap();
    }
    let text = std::fs::read_to_string(&first).unwrap();
    let channel = format!(
        "\n[[channel]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"TOCSIN_TEST_HOOK_SECRET\"\n"
    );
    std::fs::write(&plan, text + &channel).unwrap();
}

#[tokio::test]
async fn a_channel_whose_secret_is_missing_fails_the_plan_check_and_a_test_message_arrives_signed() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, got) = receiver(200).await;
    plan_with(dir.path(), &url);

    let (code, _, err) = run(dir.path(), &["plan", "check"], false).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("channel ops: the environment variable TOCSIN_TEST_HOOK_SECRET is not set"),
        "{err}"
    );
    let (code, _, err) = run(dir.path(), &["plan", "check"], true).await;
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run(dir.path(), &["notify", "test", "ops"], true).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Delivered a test message to ops"), "{out}");
    let (headers, body) = {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        got[0].clone()
    };
    let signature = headers[webhook::SIGNATURE].to_str().unwrap();
    assert!(webhook::verify(
        SECRET.as_bytes(),
        signature,
        &body,
        jiff::Timestamp::now(),
        300
    ));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["kind"], "test");
    assert!(json["id"].as_str().unwrap().starts_with("test:ops:"), "{json}");

    let (code, _, err) = run(dir.path(), &["notify", "test", "pager"], true).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("the plan has no channel \"pager\"; its channels are ops"),
        "{err}"
    );
}

#[tokio::test]
async fn a_test_message_that_does_not_arrive_says_why() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, _) = receiver(503).await;
    plan_with(dir.path(), &url);
    let (code, _, err) = run(dir.path(), &["notify", "test", "ops"], true).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("was not delivered: HTTP 503 (it would be tried again)"),
        "{err}"
    );
    let (url, _) = receiver(410).await;
    plan_with(dir.path(), &url);
    let (code, out, _) = run(dir.path(), &["--json", "notify", "test", "ops"], true).await;
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["delivered"], false);
    assert_eq!(json["error"], "HTTP 410 (the receiver refused it)");
}

#[tokio::test]
async fn dead_notifications_are_listed_and_sent_again_on_request() {
    use tocsin_store::outbox::NewNotification;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let store = tocsin_store::open(&db(dir.path())).await.unwrap();
    let now = jiff::Timestamp::now();
    let note = |key: &str| NewNotification {
        key: key.into(),
        channel: "ops".into(),
        kind: "declared".into(),
        incident: None,
        payload: "{}".into(),
        not_before: now,
        approval_link: None,
    };
    store.enqueue(&[note("a"), note("b")], now).await.unwrap();
    let claimed = store
        .claim("w", 10, now, now + jiff::SignedDuration::from_mins(1))
        .await
        .unwrap();
    store.failed(claimed[0].id, "HTTP 410", None).await.unwrap();
    let dead = claimed[0].id.to_string();

    let (code, out, err) = run(dir.path(), &["--json", "outbox", "list", "--state", "dead"], false).await;
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (listed[0]["key"].as_str(), listed[0]["last_error"].as_str()),
        (Some("a"), Some("HTTP 410"))
    );
    let (_, out, _) = run(dir.path(), &["outbox", "list"], false).await;
    assert!(
        out.contains("dead") && out.contains("pending") && out.contains("HTTP 410"),
        "{out}"
    );

    let (code, out, err) = run(dir.path(), &["outbox", "retry", &dead], false).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("Notification {dead} is due again")), "{out}");
    let (code, _, err) = run(dir.path(), &["outbox", "retry", &dead], false).await;
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("notification {dead} is pending, not dead")),
        "{err}"
    );
    let (code, _, err) = run(dir.path(), &["outbox", "retry", "999"], false).await;
    assert_eq!(code, 1);
    assert!(err.contains("there is no notification 999"), "{err}");
    let (code, _, err) = run(dir.path(), &["outbox", "list", "--state", "maybe"], false).await;
    assert_eq!(code, 1);
    assert!(err.contains("--state maybe: choose pending, sent or dead"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_tells_the_routed_channel_when_an_incident_is_declared_and_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, got) = receiver(200).await;
    plan_with(dir.path(), &url);
    // P1 news goes to ops; P4 news only when declared, and not here.
    let route = "\n[[route]]\nchannels = [\"ops\"]\nseverities = [\"P1\"]\nevents = [\"declared\", \"acknowledged\"]\n";
    common::add_to_plan(dir.path(), route);
    let server = serve(dir.path(), &["--public-url", "https://tocsin.example.com"]);

    let declare = [
        "incident",
        "declare",
        "--title",
        "Customer data exposed",
        "--severity",
        "P1",
    ];
    assert_eq!(run(dir.path(), &declare, false).await.0, 0);
    let low = ["incident", "declare", "--title", "A port scan", "--severity", "P4"];
    assert_eq!(run(dir.path(), &low, false).await.0, 0);
    assert_eq!(run(dir.path(), &["incident", "ack", "INC-0001"], false).await.0, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while got.lock().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "{:?}", messages(&got));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    server.stop();
    let got = messages(&got);
    let kinds: Vec<&str> = got.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["declared", "acknowledged"], "nothing about the P4: {got:?}");
    let declared = &got[0];
    assert_eq!(declared["incident"], "INC-0001");
    assert_eq!(declared["severity"], "P1");
    assert_eq!(declared["title"], "Customer data exposed");
    assert_eq!(declared["link"], "https://tocsin.example.com/incidents/INC-0001");
    assert!(
        declared["text"].as_str().unwrap().starts_with("Declared by "),
        "{declared}"
    );
    let deadline = declared["deadline"].as_str().unwrap();
    assert!(deadline.contains(" due ") && deadline.ends_with(" left)"), "{deadline}");
    assert!(
        got[1]["text"].as_str().unwrap().starts_with("Acknowledged by "),
        "{}",
        got[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clocks_are_warned_of_before_they_are_due_and_when_they_are_missed() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, got) = receiver(200).await;
    plan_with(dir.path(), &url);
    let route = "\n[[route]]\nchannels = [\"ops\"]\nevents = [\"clock_warning\", \"clock_breached\"]\n";
    common::add_to_plan(dir.path(), route);
    // Two P1 incidents, acknowledged within 15 minutes or not at all: one declared 13
    // minutes ago (past four fifths of its time), one 20 minutes ago (missed).
    for (title, at) in [("Warned", "13m ago"), ("Missed", "20m ago")] {
        let declare = ["incident", "declare", "--title", title, "--severity", "P1", "--at", at];
        let (code, _, err) = run(dir.path(), &declare, false).await;
        assert_eq!(code, 0, "{err}");
    }
    let server = serve(dir.path(), &[]);
    let acknowledge = |m: &serde_json::Value| m["deadline"].as_str().is_some_and(|d| d.starts_with("Acknowledge"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while messages(&got).iter().filter(|m| acknowledge(m)).count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{:?}", messages(&got));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Another round of the watch sends nothing twice.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    server.stop();
    let got = messages(&got);
    let about: Vec<(&str, &str)> = got
        .iter()
        .filter(|m| acknowledge(m))
        .map(|m| (m["title"].as_str().unwrap(), m["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(about.len(), 2, "{got:?}");
    assert!(about.contains(&("Warned", "clock_warning")), "{about:?}");
    assert!(about.contains(&("Missed", "clock_breached")), "{about:?}");
    let warned = got.iter().find(|m| m["title"] == "Warned" && acknowledge(m)).unwrap();
    let text = warned["text"].as_str().unwrap();
    assert!(
        text.contains("80% of its time gone") && text.contains(" left"),
        "{text}"
    );
    let missed = got.iter().find(|m| m["title"] == "Missed" && acknowledge(m)).unwrap();
    assert!(missed["text"].as_str().unwrap().ends_with("and is not met"), "{missed}");
}

#[tokio::test]
async fn a_slack_channel_takes_its_address_from_the_secret_and_gets_block_kit() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, got) = receiver(200).await;
    common::add_to_plan(
        dir.path(),
        "\n[[channel]]\nname = \"chat\"\ntype = \"slack\"\nsecret_env = \"TOCSIN_TEST_SLACK\"\n",
    );
    let mut command = tocsin(dir.path(), Some(&db(dir.path())));
    command
        .args(["notify", "test", "chat"])
        .env("TOCSIN_TEST_SLACK", format!("{url}\n"));
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Delivered a test message to chat (slack)"), "{stdout}");
    let (_, body) = got.lock().unwrap()[0].clone();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["blocks"][0]["type"], "header");
    assert!(
        json["text"]
            .as_str()
            .unwrap()
            .starts_with("tocsin test message for chat"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_update_s_text_goes_out_and_the_timeline_shows_what_was_told_warned_and_called() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, got) = receiver(200).await;
    plan_with(dir.path(), &url);
    let rest = "\n[[route]]\nchannels = [\"ops\"]\nevents = [\"status_update\", \"clock_breached\"]\n\
                \n[escalation]\nchannels = [\"ops\"]\n[[escalation.level]]\nafter = \"0m\"\nnotify = [\"owner\"]\n";
    common::add_to_plan(dir.path(), rest);
    // A P1 whose acknowledgement was missed: breached, and escalated.
    let declare = [
        "incident",
        "declare",
        "--title",
        "Missed",
        "--severity",
        "P1",
        "--at",
        "20m ago",
    ];
    let (code, _, err) = run(dir.path(), &declare, false).await;
    assert_eq!(code, 0, "{err}");
    let update = [
        "incident",
        "notice",
        "INC-0001",
        "status-update",
        "--note",
        "blocked at the edge",
    ];
    assert_eq!(run(dir.path(), &update, false).await.0, 0);
    let server = serve(dir.path(), &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let kinds = |got: &[serde_json::Value]| -> Vec<String> {
        let mut kinds: Vec<String> = got.iter().map(|m| m["kind"].as_str().unwrap().to_owned()).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    };
    while kinds(&messages(&got)) != ["clock_breached", "escalation", "status_update"] {
        assert!(std::time::Instant::now() < deadline, "{:?}", messages(&got));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sent = messages(&got);
    let update = sent.iter().find(|m| m["kind"] == "status_update").unwrap();
    assert_eq!(
        update["text"], "Status update from ops: blocked at the edge",
        "{update}"
    );
    // What went out reaches the timeline once the deliveries are written down.
    let timeline = || async {
        let (_, out, _) = run(dir.path(), &["incident", "show", "INC-0001", "--json"], false).await;
        let show: serde_json::Value = serde_json::from_str(&out).unwrap();
        show["timeline"].as_array().unwrap().clone()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let entries = timeline().await;
        let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
        let told: Vec<&serde_json::Value> = entries.iter().filter(|e| e["action"] == "notified").collect();
        let news: Vec<&str> = told
            .iter()
            .flat_map(|e| e["event"]["deliveries"].as_array().unwrap())
            .map(|d| d["news"].as_str().unwrap())
            .collect();
        if actions.contains(&"clock_warned")
            && actions.contains(&"escalated")
            && ["status_update", "clock_breached", "escalation"]
                .iter()
                .all(|n| news.contains(n))
        {
            let breach = entries.iter().find(|e| e["action"] == "clock_warned").unwrap();
            assert_eq!(breach["event"]["clock"], "acknowledge", "{breach}");
            assert_eq!(breach["event"]["point"], "breached", "{breach}");
            assert_eq!(breach["actor"], "tocsin");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{actions:?} {news:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Another round of the watch records nothing twice.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    server.stop();
    let entries = timeline().await;
    let mut warned: Vec<String> = entries
        .iter()
        .filter(|e| e["action"] == "clock_warned")
        .map(|e| e["event"].to_string())
        .collect();
    let all = warned.len();
    warned.dedup();
    assert_eq!(warned.len(), all, "{entries:#?}");
    let called = entries.iter().filter(|e| e["action"] == "escalated").count();
    assert_eq!(called, 1, "{entries:#?}");
}

/// Waits up to `seconds` for the receiver to hold a message for which `wanted` holds.
async fn wait_for(
    got: &Mutex<Vec<(HeaderMap, Vec<u8>)>>,
    seconds: u64,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(found) = messages(got).into_iter().find(|m| wanted(m)) {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no such message within {seconds} s: {:?}",
            messages(got)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_signs_the_chain_head_into_its_file_and_sends_it_to_the_audit_channel() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"], false).await.0, 0);
    let (url, got) = receiver(200).await;
    plan_with(dir.path(), &url);
    common::add_to_plan(dir.path(), "\n[audit]\nchannel = \"ops\"\nsign_every = \"1h\"\n");
    let server = serve(dir.path(), &[]);
    let is_head = |m: &serde_json::Value| m["kind"] == "audit_head";
    let first = wait_for(&got, 30, is_head).await;
    let text = first["text"].as_str().unwrap();
    assert!(text.contains("tocsin verify --head FILE"), "{text}");
    let statement = text.lines().last().unwrap();
    let kept = dir.path().join("from-the-channel.jsonl");
    std::fs::write(&kept, statement).unwrap();
    let signed: serde_json::Value = serde_json::from_str(statement).unwrap();
    let first_seq = signed["seq"].as_u64().unwrap();

    // A change while it runs is signed once the chain is quiet.
    let (code, _, err) = run(
        dir.path(),
        &[
            "incident",
            "declare",
            "--title",
            "Vault key exposed",
            "--severity",
            "P1",
        ],
        true,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let later = wait_for(&got, 30, |m| {
        is_head(m)
            && m["title"]
                .as_str()
                .is_some_and(|t| !t.ends_with(&format!("#{first_seq}")))
    })
    .await;
    assert!(
        later["title"]
            .as_str()
            .unwrap()
            .starts_with("Audit chain signed at entry #"),
        "{later}"
    );
    server.stop();

    let heads = std::fs::read_to_string(dir.path().join("signed-heads.jsonl")).unwrap();
    assert!(heads.lines().count() >= 2, "{heads}");
    let (code, out, err) = run(dir.path(), &["verify", "--head", kept.to_str().unwrap()], false).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("signed heads; the latest covers #"), "{out}");

    // A statement altered on its way is refused, naming where it came from.
    std::fs::write(&kept, statement.replacen("\"seq\":", "\"seq\":9", 1)).unwrap();
    let (code, out, _) = run(dir.path(), &["verify", "--head", kept.to_str().unwrap()], false).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("from-the-channel.jsonl line 1: its signature does not verify"),
        "{out}"
    );
}
