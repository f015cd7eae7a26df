//! `tocsin serve` with a Telegram channel, against a local server that speaks the Bot API:
//! an incident is announced with its buttons, escalated to the plan's people while nobody
//! acknowledges it, acknowledged from the chat under the person's name, and its later news
//! replies in its thread; commands answer, and people who may not act are turned away.

use std::time::Duration;

use serde_json::Value;
use tocsin_notify::testing::FakeTelegram;

mod common;
use common::{Server, add_to_plan, run, tocsin};

const TOKEN: &str = "4711:test-token";
const CHAT: i64 = -100777;
/// Jo, a person of the plan.
const JO: i64 = 4242;
/// Long enough for a first retry (5 to 10 s after a failure).
const WAIT: Duration = Duration::from_secs(30);

fn db(dir: &std::path::Path) -> String {
    format!("sqlite:{}/t.db", dir.display())
}

/// Runs `tocsin ARGS` off the runtime, on which the fake answers meanwhile.
async fn cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let (dir, db, args) = (
        dir.to_owned(),
        db(dir),
        args.iter().map(ToString::to_string).collect::<Vec<_>>(),
    );
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&dir, Some(&db), &args, b"")
    })
    .await
    .unwrap()
}

/// The messages sent whose text contains `part`.
fn replies(fake: &FakeTelegram, part: &str) -> Vec<Value> {
    fake.sent()
        .into_iter()
        .filter(|m| m["text"].as_str().unwrap_or_default().contains(part))
        .collect()
}

async fn wait_reply(fake: &FakeTelegram, part: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = replies(fake, part).pop() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message with {part:?}: {:#?}",
            fake.sent()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responders_acknowledge_from_telegram_and_the_incident_keeps_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(cli(dir.path(), &["init"]).await.0, 0);
    let fake = FakeTelegram::start(TOKEN).await;
    add_to_plan(
        dir.path(),
        &format!(
            r#"
[[person]]
id = "jo"
name = "Jo Smith"
telegram = {JO}

[[channel]]
name = "oncall"
type = "telegram"
url = "{}"
chat = {CHAT}
secret_env = "TOCSIN_TEST_TELEGRAM_TOKEN"

[[route]]
channels = ["oncall"]

[escalation]
channels = ["oncall"]
[[escalation.level]]
after = "0m"
notify = ["jo"]
"#,
            fake.url
        ),
    );
    let _server = Server(
        tocsin(dir.path(), Some(&db(dir.path())))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TOCSIN_TEST_TELEGRAM_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Telegram is busy at first: the declaration waits as long as it asks, and goes then.
    fake.fail_next(429, Some(1));
    let (code, _, err) = cli(
        dir.path(),
        &[
            "incident",
            "declare",
            "--title",
            "Vault key <exposed>",
            "--severity",
            "P1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");

    // The declaration, with Acknowledge, then the escalation to Jo in its thread.
    let declared = wait_reply(&fake, "Declared by ops").await;
    assert_eq!(declared["chat_id"], CHAT);
    assert!(
        declared["text"]
            .as_str()
            .unwrap()
            .starts_with("<b>P1 · INC-0001 · Vault key &lt;exposed&gt;</b>"),
        "{declared}"
    );
    let tries = fake
        .calls("sendMessage")
        .iter()
        .filter(|m| m["text"] == declared["text"])
        .count();
    assert_eq!(tries, 2, "refused once with 429, then sent");
    let buttons = &declared["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["callback_data"], "ack:INC-0001");
    let first = fake.sent().into_iter().find(|m| m["text"] == declared["text"]).unwrap();
    let first_id = first["message_id"].as_i64().unwrap();
    let escalation = wait_reply(&fake, "Not acknowledged after").await;
    assert!(
        escalation["text"]
            .as_str()
            .unwrap()
            .contains(&format!("For: <a href=\"tg://user?id={JO}\">Jo Smith</a>")),
        "{escalation}"
    );
    assert_eq!(escalation["reply_parameters"]["message_id"], first_id);

    // Someone outside the chat may not act; a command in the chat lists the incident.
    fake.push_command(999, 999, "Mallory", "/ack INC-0001");
    let refused = wait_reply(&fake, "You may not act on incidents from here").await;
    assert_eq!(refused["chat_id"], 999);
    fake.push_command(CHAT, 555, "Sam", "/incidents");
    let listed = wait_reply(&fake, "Open incidents").await;
    assert!(
        listed["text"].as_str().unwrap().contains("INC-0001 · P1 · declared"),
        "{listed}"
    );

    // Jo presses Acknowledge: the incident is acknowledged under Jo's name, the button goes,
    // and the news replies in the incident's thread.
    fake.push_press(CHAT, JO, "Jo", &declared, "ack:INC-0001");
    let answers = fake.wait_for("answerCallbackQuery", 1, WAIT).await;
    assert_eq!(answers[0]["text"], "INC-0001 acknowledged by jo");
    let edits = fake.wait_for("editMessageReplyMarkup", 1, WAIT).await;
    assert_eq!(edits[0]["message_id"], first_id);
    let news = wait_reply(&fake, "Acknowledged by jo").await;
    assert_eq!(news["reply_parameters"]["message_id"], first_id);
    assert!(
        news.get("reply_markup")
            .is_none_or(|m| m.to_string().find("ack:").is_none()),
        "{news}"
    );

    let (code, show, err) = cli(dir.path(), &["incident", "show", "INC-0001", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let show: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["incident"]["status"], "acknowledged");
    let ack = show["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "acknowledged")
        .unwrap()
        .clone();
    assert_eq!(ack["actor"], "jo", "{ack}");

    // Acknowledging again says so, and mallory's /ack changed nothing before.
    fake.push_command(CHAT, JO, "Jo", "/ack 1");
    wait_reply(&fake, "INC-0001: ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_waiting_for_approval_is_approved_with_one_tap_by_a_person_the_plan_allows() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(cli(dir.path(), &["init"]).await.0, 0);
    let fake = FakeTelegram::start(TOKEN).await;
    add_to_plan(
        dir.path(),
        &format!(
            r#"
[[person]]
id = "jo"
name = "Jo Smith"
telegram = {JO}

[[person]]
id = "kim"
name = "Kim Lee"
telegram = 5353

[[channel]]
name = "oncall"
type = "telegram"
url = "{}"
chat = {CHAT}
secret_env = "TOCSIN_TEST_TELEGRAM_TOKEN"

[[route]]
channels = ["oncall"]
events = ["action_requested"]

[[action]]
id = "block-source"
name = "Block the source"
kind = "block"
[action.approval]
by = ["jo"]
two_people = true
"#,
            fake.url
        ),
    );
    let _server = Server(
        tocsin(dir.path(), Some(&db(dir.path())))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TOCSIN_TEST_TELEGRAM_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (code, _, err) = cli(
        dir.path(),
        &["incident", "declare", "--title", "Scan", "--severity", "P3"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(
        dir.path(),
        &[
            "action",
            "run",
            "INC-0001",
            "block-source",
            "--input",
            "address=203.0.113.50",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let asked = wait_reply(&fake, "block-source").await;
    let buttons = asked["reply_markup"]["inline_keyboard"][0].as_array().unwrap().clone();
    let approve = buttons
        .iter()
        .find(|b| b["callback_data"] == "approve:INC-0001:1")
        .unwrap_or_else(|| panic!("no Approve button: {asked}"));
    assert_eq!(approve["text"], "Approve run 1");

    // Kim is no approver of it; Jo is.
    fake.push_press(CHAT, 5353, "Kim", &asked, "approve:INC-0001:1");
    let answers = fake.wait_for("answerCallbackQuery", 1, WAIT).await;
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .contains("kim may not approve action block-source"),
        "{answers:?}"
    );
    fake.push_press(CHAT, JO, "Jo", &asked, "approve:INC-0001:1");
    let answers = fake.wait_for("answerCallbackQuery", 2, WAIT).await;
    assert_eq!(answers[1]["text"], "Approved run 1 of INC-0001; it runs now");
    fake.wait_for("editMessageReplyMarkup", 1, WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, out, _) = cli(dir.path(), &["--json", "action", "show", "INC-0001", "1"]).await;
        let run: Value = serde_json::from_str(&out).unwrap();
        if run["state"] == "succeeded" {
            assert_eq!(run["approvals"][0]["by"], "jo");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, out, _) = cli(dir.path(), &["block", "list"]).await;
    assert!(out.contains("203.0.113.50"), "{out}");
}
