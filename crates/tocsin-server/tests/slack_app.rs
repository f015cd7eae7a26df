//! A Slack app channel against a local server speaking Slack's Web API: one message per
//! incident, updated in place, its news in the thread; its Acknowledge button and the
//! `/tocsin` command come back as signed requests, mapped to the plan's people; unsigned,
//! stale and replayed requests are refused.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin_notify::slack_app::sign;
use tocsin_notify::testing::FakeSlack;
use tocsin_server::http::ServerConfig;
use tocsin_server::testing::TestServer;
use tocsin_store::testing::TestDb;

const TOKEN: &str = "xoxb-1234-5678-test";
const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const CHANNEL: &str = "C0123456789";
const JO: &str = "U024BE7LH";

async fn within<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts `body` to `path` as Slack does, signed at `at` (seconds) unless `signature` says
/// otherwise.
async fn slack_request(
    server: &TestServer,
    path: &str,
    body: &str,
    at: i64,
    signature: Option<&str>,
) -> (StatusCode, String) {
    let signature = signature.map_or_else(|| sign(SIGNING.as_bytes(), at, body.as_bytes()), str::to_owned);
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", at.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn press(user: &str, action: &str, value: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone"},
        "channel": {"id": CHANNEL},
        "actions": [{"action_id": action, "value": value, "type": "button"}],
    });
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

fn command(user: &str, text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/tocsin")
        .append_pair("text", text)
        .append_pair("user_id", user)
        .append_pair("channel_id", CHANNEL)
        .finish()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[tokio::test]
async fn an_incident_is_one_slack_message_kept_up_to_date_and_acknowledged_from_its_button() {
    let fake = FakeSlack::start(TOKEN, CHANNEL).await;
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("token"), TOKEN).unwrap();
    std::fs::write(secrets.path().join("signing"), format!("{SIGNING}\n")).unwrap();
    let plan = format!(
        r#"{preset}
[[person]]
id = "jo"
name = "Jo Smith"
slack = "{JO}"

[[channel]]
name = "incident-room"
type = "slack-app"
url = "{url}"
chat = "{CHANNEL}"
secret_file = "{dir}/token"
signing_secret_file = "{dir}/signing"

[[route]]
channels = ["incident-room"]

[[action]]
id = "block-by-hand"
name = "Block an address"
kind = "block"
[action.approval]
by = ["jo"]
"#,
        preset = tocsin_core::plan::presets::THREE_TIER.source,
        url = fake.url,
        dir = secrets.path().display(),
    );
    let server = TestServer::start_with_plan(TestDb::sqlite(), ServerConfig::default(), &plan).await;
    let token = server.token_secret("read,respond").await;
    let declared = reqwest::Client::new()
        .post(format!("{}/api/v1/incidents", server.url))
        .bearer_auth(&token)
        .json(&json!({"title": "Vault key exposed", "severity": "P1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 201);

    // One message for the incident, with its Acknowledge button.
    let first = within("the incident's message", || {
        fake.calls("chat.postMessage").first().cloned()
    })
    .await;
    assert_eq!(first["channel"], CHANNEL);
    assert!(first.get("thread_ts").is_none());
    let shown = first["blocks"].to_string();
    assert!(
        shown.contains(r#""action_id":"ack""#) && shown.contains(r#""value":"INC-0001""#),
        "{shown}"
    );

    // Requests that are not Slack's, too old or replayed change nothing.
    let body = press(JO, "ack", "INC-0001");
    let (status, _) = slack_request(&server, "/slack/actions", &body, now(), Some("v0=00")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = slack_request(&server, "/slack/actions", &body, now() - 400, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "older than five minutes");
    // Someone the plan does not know is told their id.
    let (status, text) = slack_request(
        &server,
        "/slack/actions",
        &press("U999", "ack", "INC-0001"),
        now(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Your Slack member id is U999"), "{text}");

    // Jo presses Acknowledge; the same request again is a replay.
    let at = now();
    let (status, text) = slack_request(&server, "/slack/actions", &body, at, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("INC-0001 acknowledged by jo"), "{text}");
    let (status, _) = slack_request(&server, "/slack/actions", &body, at, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replay");

    // The news goes in the thread, and the first message is updated: no button any more.
    let parent = fake.posted()[0].clone();
    let reply = within("the news in the thread", || {
        fake.calls("chat.postMessage").into_iter().find(|c| {
            c["thread_ts"] == parent.as_str() && c["text"].as_str().unwrap_or_default().contains("cknowledged")
        })
    })
    .await;
    assert!(!reply["blocks"].to_string().contains(r#""action_id":"ack""#));
    let update = within("the message updated", || {
        fake.calls("chat.update")
            .into_iter()
            .find(|c| c["ts"] == parent.as_str())
    })
    .await;
    assert!(
        !update["blocks"].to_string().contains(r#""action_id":"ack""#),
        "{update}"
    );

    // A run waiting for jo's approval comes with an Approve button, which approves it.
    let asked = reqwest::Client::new()
        .post(format!("{}/api/v1/incidents/INC-0001/runs", server.url))
        .bearer_auth(&token)
        .json(&json!({"action": "block-by-hand", "inputs": {"address": "203.0.113.9"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 201);
    within("the Approve button", || {
        fake.calls("chat.postMessage")
            .into_iter()
            .find(|c| c["blocks"].to_string().contains(r#""value":"INC-0001:1""#))
    })
    .await;
    let (status, text) = slack_request(
        &server,
        "/slack/actions",
        &press(JO, "approve", "INC-0001:1"),
        now(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Approved run 1 of INC-0001"), "{text}");
    let run: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/incidents/INC-0001/runs/1", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["approvals"][0]["by"], "jo", "{run}");

    // The slash command, as jo.
    let (status, text) = slack_request(&server, "/slack/commands", &command(JO, "status INC-0001"), now(), None).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(
        answer["text"].as_str().unwrap().contains("acknowledged · owner jo"),
        "{answer}"
    );
    let (_, text) = slack_request(&server, "/slack/commands", &command(JO, "incidents"), now(), None).await;
    assert!(
        text.contains("INC-0001 · P1 · acknowledged · Vault key exposed"),
        "{text}"
    );
    let (_, text) = slack_request(&server, "/slack/commands", &command(JO, "ack INC-0009"), now(), None).await;
    assert!(text.contains("There is no incident INC-0009"), "{text}");
    let (_, text) = slack_request(&server, "/slack/commands", &command("U999", "incidents"), now(), None).await;
    assert!(text.contains("may not act"), "{text}");
    server.stop().await;
}
