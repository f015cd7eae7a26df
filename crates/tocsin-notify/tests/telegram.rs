//! The Telegram channel against a local server that speaks the Bot API: messages in HTML
//! with their buttons, replies in an incident's thread, and what Telegram's errors mean.

use std::time::Duration;

use tocsin_notify::telegram::{Command, Telegram, ack_data, html};
use tocsin_notify::testing::FakeTelegram;
use tocsin_notify::{Channel, Message, Outcome, Recipient};

const TOKEN: &str = "123456:AAE-test_token";
const CHAT: &str = "-1001234567890";

fn message() -> Message {
    Message {
        id: "audit-9:tg".into(),
        kind: "declared".into(),
        incident: Some("INC-0007".into()),
        severity: Some("P1".into()),
        title: "Login <b>failures</b> & more".into(),
        text: "Declared by jo".into(),
        deadline: Some("Acknowledge due 2026-01-05 10:15 UTC (12m left)".into()),
        link: Some("https://tocsin.example.com/incidents/INC-0007".into()),
        awaits_ack: true,
        ..Message::default()
    }
}

async fn bot(fake: &FakeTelegram) -> Telegram {
    Telegram::new(
        &fake.url,
        TOKEN,
        CHAT,
        tocsin_notify::http_client(Duration::from_secs(5)),
    )
    .unwrap()
}

#[tokio::test]
async fn a_message_goes_out_as_html_with_acknowledge_and_open_buttons_and_starts_the_thread() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = bot(&fake).await;

    let first = bot.send(&message()).await;
    let Outcome::Delivered { thread: Some(thread) } = first else {
        panic!("{first:?}")
    };
    let sent = fake.calls("sendMessage");
    assert_eq!(sent.len(), 1);
    let body = &sent[0];
    assert_eq!(body["chat_id"], -1001234567890i64);
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "<b>P1 · INC-0007 · Login &lt;b&gt;failures&lt;/b&gt; &amp; more</b>\nDeclared by jo\n⏰ Acknowledge due"
        ),
        "{text}"
    );
    let buttons = &body["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["text"], "Acknowledge");
    assert_eq!(buttons[0]["callback_data"], ack_data("INC-0007"));
    assert_eq!(buttons[1]["url"], "https://tocsin.example.com/incidents/INC-0007");
    assert!(body.get("reply_parameters").is_none());

    // The next message about the incident replies to the first, and once acknowledged it
    // offers no button to acknowledge; a link Telegram would refuse in a button goes in the
    // text; people are mentioned.
    let next = Message {
        id: "audit-10:tg".into(),
        kind: "acknowledged".into(),
        awaits_ack: false,
        link: Some("http://localhost:8080/incidents/INC-0007".into()),
        to: vec![Recipient {
            name: "Jo <Smith>".into(),
            email: None,
            telegram: Some(4242),
            slack: None,
        }],
        thread: Some(thread.clone()),
        ..message()
    };
    assert!(matches!(bot.send(&next).await, Outcome::Delivered { .. }));
    let body = &fake.calls("sendMessage")[1];
    assert_eq!(body["reply_parameters"]["message_id"].to_string(), thread);
    assert_eq!(body["reply_parameters"]["allow_sending_without_reply"], true);
    assert!(body.get("reply_markup").is_none(), "{body}");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("\nFor: <a href=\"tg://user?id=4242\">Jo &lt;Smith&gt;</a>"),
        "{text}"
    );
    assert!(text.ends_with("\nhttp://localhost:8080/incidents/INC-0007"), "{text}");
}

#[tokio::test]
async fn too_many_requests_waits_as_long_as_telegram_asks_and_a_missing_chat_is_refused() {
    let fake = FakeTelegram::start(TOKEN).await;
    let bot = bot(&fake).await;

    fake.fail_next(429, Some(17));
    let outcome = bot.send(&message()).await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            error: "Telegram 429: Too Many Requests: retry after 17".into(),
            after: Some(Duration::from_secs(17)),
        }
    );
    fake.fail_next(502, None);
    assert!(matches!(bot.send(&message()).await, Outcome::Retry { after: None, .. }));
    fake.fail_next(400, None);
    assert_eq!(
        bot.send(&message()).await,
        Outcome::Refused {
            error: "Telegram 400: Bad Request: chat not found".into()
        }
    );

    // A wrong token is refused, and the token shows in no error.
    let wrong = Telegram::new(
        &fake.url,
        "123456:wrong",
        CHAT,
        tocsin_notify::http_client(Duration::from_secs(5)),
    )
    .unwrap();
    let outcome = wrong.send(&message()).await;
    assert_eq!(
        outcome,
        Outcome::Refused {
            error: "Telegram 401: Unauthorized".into()
        }
    );
    // Nobody listening: worth another try, and the address with the token is not told.
    let gone = Telegram::new(
        "http://127.0.0.1:9",
        TOKEN,
        CHAT,
        tocsin_notify::http_client(Duration::from_secs(5)),
    )
    .unwrap();
    let Outcome::Retry { error, .. } = gone.send(&message()).await else {
        panic!("an unreachable server is worth another try")
    };
    assert!(error.starts_with("cannot connect"), "{error}");
    assert!(!error.contains("AAE-test_token"), "{error}");
}

#[test]
fn bad_settings_and_the_html_limits() {
    let client = tocsin_notify::http_client(Duration::from_secs(5));
    let bad_token = Telegram::new("https://api.telegram.org", "not-a-token", CHAT, client.clone()).unwrap_err();
    assert!(
        bad_token.to_string().contains("the bot token is not like"),
        "{bad_token}"
    );
    let bad_chat = Telegram::new("https://api.telegram.org", TOKEN, "ops room", client).unwrap_err();
    assert!(
        bad_chat.to_string().contains("\"ops room\" is not a Telegram chat"),
        "{bad_chat}"
    );

    // However long the title and the text, the message stays within Telegram's limit.
    let long = Message {
        title: "x".repeat(10_000),
        text: "<&>".repeat(5_000),
        ..message()
    };
    let text = html(&long);
    let shown = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    assert!(shown.chars().count() < 4096, "{}", shown.chars().count());
}

#[test]
fn commands_are_read_with_or_without_the_bots_name() {
    assert_eq!(
        Command::parse("/ack INC-7"),
        Some(Command {
            name: "ack".into(),
            args: vec!["INC-7".into()]
        })
    );
    assert_eq!(
        Command::parse("/Status@tocsin_bot  7 "),
        Some(Command {
            name: "status".into(),
            args: vec!["7".into()]
        })
    );
    assert_eq!(Command::parse("ack INC-7"), None);
    assert_eq!(Command::parse("/"), None);
}
