//! A channel that keeps failing is noticed: after its `fallback_after`, its fallback is told
//! that it fails and takes its news too; when it works again, the fallback hears that, and
//! the outbox shows each channel's health. Telegram (a local server speaking its Bot API)
//! falls back to email (a real SMTP server), on both backends.

use std::time::{Duration, Instant};

use tocsin_notify::testing::{FakeTelegram, SmtpSink, smtp_server_available};
use tocsin_server::http::ServerConfig;
use tocsin_server::testing::TestServer;
use tocsin_store::testing::TestDb;

const TOKEN: &str = "123456:fallback-test-token";

/// Waits up to `seconds` for `check`.
async fn within<T>(seconds: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within {seconds} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn news_for_a_failing_channel_goes_to_its_fallback_which_is_told_of_the_failure_and_the_recovery() {
    if !smtp_server_available() {
        return;
    }
    for db in TestDb::all().await {
        let fake = FakeTelegram::start(TOKEN).await;
        // Telegram is down for the first try of the declaration's news.
        fake.fail_next(502, None);
        let sink = SmtpSink::start(&[]);
        let secrets = tempfile::tempdir().unwrap();
        let token = secrets.path().join("token");
        std::fs::write(&token, TOKEN).unwrap();
        let plan = format!(
            r#"{preset}
[[channel]]
name = "oncall"
type = "telegram"
url = "{telegram}"
chat = -100123
secret_file = "{token}"
fallback = "security-mail"
fallback_after = "1s"

[[channel]]
name = "security-mail"
type = "email"
url = "{smtp}"
tls = "none"
from = "tocsin@example.com"
to = ["security@example.com"]

[[route]]
channels = ["oncall"]
events = ["declared"]
"#,
            preset = tocsin_core::plan::presets::FOUR_TIER.source,
            telegram = fake.url,
            token = token.display(),
            smtp = sink.url(),
        );
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan).await;
        let backend = server.backend();
        let responder = server.token_secret("respond").await;
        let declared = reqwest::Client::new()
            .post(format!("{}/api/v1/incidents", server.url))
            .bearer_auth(&responder)
            .json(&serde_json::json!({"title": "Brute force on admin", "severity": "P2"}))
            .send()
            .await
            .unwrap();
        assert_eq!(declared.status(), 201);

        // The fallback is told, and takes the news Telegram did not get.
        let mails = within(20, "the fallback's two emails", || {
            let got = sink.messages();
            (got.len() >= 2).then_some(got)
        })
        .await;
        let subjects: Vec<String> = mails
            .iter()
            .map(|m| {
                tocsin_notify::testing::header(m["data"].as_str().unwrap(), "Subject")
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(
            subjects.iter().any(|s| s == "Channel oncall is failing"),
            "{backend}: {subjects:?}"
        );
        assert!(
            subjects.iter().any(|s| s == "[P2] INC-0001: Brute force on admin"),
            "{backend}: {subjects:?}"
        );
        let failing = mails
            .iter()
            .find(|m| {
                m["data"]
                    .as_str()
                    .unwrap()
                    .contains("Subject: Channel oncall is failing")
            })
            .unwrap();
        assert!(failing["text"].as_str().unwrap().contains("502"), "{failing}");

        // Telegram works at the retry: the news arrives there too, and the fallback hears it.
        within(30, "the news on Telegram", || (!fake.sent().is_empty()).then_some(())).await;
        let recovered = within(20, "the recovery on the fallback", || {
            sink.messages().into_iter().find(|m| {
                m["data"]
                    .as_str()
                    .unwrap()
                    .contains("Subject: Channel oncall works again")
            })
        })
        .await;
        assert!(recovered["text"].as_str().unwrap().contains("work again"));
        let health = server.store.channel_health().await.unwrap();
        let oncall = health.iter().find(|h| h.channel == "oncall").unwrap();
        assert_eq!((oncall.failing_since, oncall.announced), (None, None), "{backend}");
        assert!(oncall.last_ok.is_some());
        server.stop().await;
    }
}
