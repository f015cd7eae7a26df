//! A responder works an incident in real headless Chromium: log in, declare, acknowledge,
//! assign, complete a step, resolve, close. Screenshots of each step are kept under
//! `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the tests say loudly that
//! they were skipped, unless `TOCSIN_REQUIRE_BROWSER=1` (set by CI) makes that a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tocsin_core::identity::Role;
use tocsin_server::testing::{PASSWORD, TestServer};
use tocsin_store::testing::TestDb;
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium driven over WebDriver; the driver process dies with this value.
struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("screenshots")
}

/// Starts Chromium, or returns `None` (said loudly) when it is not installed.
async fn browser() -> Option<Browser> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("TOCSIN_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "TOCSIN_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        let _ = std::io::stderr().write_all(
            b"\n!!! SKIPPED: browser tests. Install Debian's chromium and chromium-driver (.ci/run does) to run them. !!!\n\n",
        );
        return None;
    }
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000", format!("--user-data-dir={}", profile.path().display()),
            ],
        }
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let mut last_error = String::new();
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => {
                let shots = screenshot_dir();
                std::fs::create_dir_all(&shots).unwrap();
                return Some(Browser {
                    client,
                    _driver: driver,
                    _profile: profile,
                    shots,
                });
            }
            Err(e) => {
                last_error = e.to_string();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("chromedriver did not start: {last_error}");
}

impl Browser {
    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn wait(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Clicks what `css` finds; when a live reload replaced the page between finding and
    /// clicking, finds it again.
    async fn click(&self, css: &str) {
        for _ in 0..5 {
            match self.wait(css).await.click().await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
                Err(e) => panic!("{css}: {e}"),
            }
        }
        panic!("{css} kept being replaced by live reloads");
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.wait(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the button with this text (inside `within`, a CSS selector, when given).
    async fn press(&self, label: &str) {
        let xpath = format!("//button[normalize-space()='{label}']");
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {label:?}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn open(&self, summary: &str) {
        let xpath = format!("//summary[normalize-space()='{summary}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// The text of what `css` finds; when a live reload replaced the page between finding
    /// and reading, finds it again, as [`Browser::click`] does.
    async fn text(&self, css: &str) -> String {
        for _ in 0..5 {
            match self.wait(css).await.text().await {
                Ok(text) => return text,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
                Err(e) => panic!("{css}: {e}"),
            }
        }
        panic!("{css} kept being replaced by live reloads");
    }
}

#[tokio::test]
async fn a_responder_works_an_incident_from_login_to_close_in_chromium() {
    let Some(browser) = browser().await else { return };
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    let b = &browser;

    b.client.goto(&format!("{}/", server.url)).await.unwrap();
    b.fill("#name", "dana").await;
    b.fill("#password", PASSWORD).await;
    b.shot("01-login").await;
    b.press("Log in").await;
    b.wait("body[data-page='dashboard']").await;
    assert_eq!(b.text("h1").await, "Open incidents");
    b.shot("02-dashboard-empty").await;

    b.wait("a.declare").await.click().await.unwrap();
    b.fill("#title", "Suspicious admin login from a new country").await;
    b.wait("#severity option[value='P2']").await.click().await.unwrap();
    b.fill("#summary", "Admin account logged in from an unknown IP at 03:12")
        .await;
    b.shot("03-declare-form").await;
    b.press("Declare").await;
    b.wait(".status-declared").await;
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/incidents/INC-0001")
    );

    // The countdown is live: app.js ran under the content security policy.
    let first = b.text(".clock.running[data-due] .clock-left").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let second = b.text(".clock.running[data-due] .clock-left").await;
    assert_ne!(first, second, "the countdown did not move");
    b.shot("04-declared").await;

    b.press("Acknowledge").await;
    b.wait(".status-acknowledged").await;
    b.fill("#owner", "dana").await;
    b.press("Assign owner").await;
    b.wait(".entry-owner_assigned").await;

    b.click(".checklist .check-button").await;
    b.wait(".checklist li.done").await;
    b.press("Mark step done").await;
    b.wait(".step-done").await;
    b.shot("05-acknowledged-assigned-step-done").await;

    b.open("Resolve").await;
    b.fill("#resolve-summary", "Password reset, sessions revoked, MFA enforced")
        .await;
    b.press("Resolve").await;
    b.wait(".status-resolved").await;
    // Once resolved, closing is the next thing to do: its form is already open.
    b.fill("#close-override", "Reviewed in the weekly security meeting")
        .await;
    b.press("Close").await;
    b.wait(".status-closed").await;
    b.shot("06-closed").await;

    let timeline = b.text(".timeline").await;
    for expected in [
        "declared P2",
        "acknowledged",
        "owner nobody → dana",
        "completed step",
        "resolved",
        "closed",
    ] {
        assert!(
            timeline.contains(expected),
            "the timeline lacks {expected:?}:\n{timeline}"
        );
    }
    assert!(
        timeline.contains("dana"),
        "actions are recorded under the responder's name"
    );

    // A change made elsewhere shows up without a reload by hand. This P1 was declared an
    // hour ago, so its 15-minute acknowledge clock has breached.
    let token = server.token_secret("read,respond").await;
    let other = reqwest::Client::new();
    let id = "INC-0002";
    let hour_ago = tocsin_core::Timestamp::from_second(tocsin_core::Timestamp::now().as_second() - 3_600).unwrap();
    let created = other
        .post(format!("{}/api/v1/incidents", server.url))
        .bearer_auth(&token)
        .json(&json!({"title": "Error spike on checkout", "severity": "P1", "at": hour_ago.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    b.client.goto(&format!("{}/incidents/{id}", server.url)).await.unwrap();
    b.wait(".status-declared").await;
    other
        .post(format!("{}/api/v1/incidents/{id}/actions", server.url))
        .bearer_auth(&token)
        .json(&json!({"action": "add_note", "text": "Rolled back release 4.2.1"}))
        .send()
        .await
        .unwrap();
    b.wait(".entry-note_added").await;
    assert!(b.text(".clock.breached").await.contains("BREACHED"));
    b.shot("07-breached-clock-and-live-note").await;

    // The dashboard on a phone.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&format!("{}/", server.url)).await.unwrap();
    b.wait(".card.breached").await;
    b.shot("08-dashboard-phone").await;

    b.client.clone().close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_in_chromium_and_the_form_keeps_the_name() {
    let Some(browser) = browser().await else { return };
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    let b = &browser;
    b.client.goto(&format!("{}/login", server.url)).await.unwrap();
    b.fill("#name", "dana").await;
    b.fill("#password", "not the password").await;
    b.press("Log in").await;
    assert_eq!(b.text("#login-problem").await, "Wrong user name or password");
    assert_eq!(
        b.wait("#name").await.prop("value").await.unwrap().as_deref(),
        Some("dana")
    );
    b.shot("09-login-refused").await;
    b.client.clone().close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_brute_force_sent_as_events_shows_on_the_signals_page_with_its_incident() {
    let Some(browser) = browser().await else { return };
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    let b = &browser;
    let token = server.token_secret("ingest").await;
    let events: String = (0..8)
        .map(|i| {
            format!("{{\"kind\":\"auth\",\"ts\":\"2026-01-05T03:0{i}:00Z\",\"outcome\":\"failure\",\"ip\":\"203.0.113.9\",\"user\":\"root\",\"service\":\"sshd\"}}\n")
        })
        .collect();
    let sent = reqwest::Client::new()
        .post(format!("{}/api/v1/events", server.url))
        .bearer_auth(&token)
        .body(events)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);

    b.client.goto(&format!("{}/signals", server.url)).await.unwrap();
    b.fill("#name", "dana").await;
    b.fill("#password", PASSWORD).await;
    b.press("Log in").await;
    b.wait("body[data-page='signals']").await;
    // The detectors work behind the answer: reload until the signal is there.
    for _ in 0..100 {
        if b.client
            .find(Locator::Css("a[href='/incidents/INC-0001']"))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.client.refresh().await.unwrap();
    }
    assert!(b.text("tbody").await.contains("failed logins from 203.0.113.9"));
    b.shot("10-signals").await;
    b.wait("a[href='/incidents/INC-0001']").await.click().await.unwrap();
    b.wait(".status-declared").await;
    assert!(b.text("h1").await.contains("failed logins from 203.0.113.9"));

    b.client.clone().close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn an_integration_page_shows_what_a_tool_sent_what_was_refused_and_the_incident_of_its_alert() {
    let Some(browser) = browser().await else { return };
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    let b = &browser;
    let key = server
        .integration(
            tocsin_server::services::integrations::IntegrationKind::Pagerduty,
            "uptime",
        )
        .await;
    let enqueue = |event: serde_json::Value| {
        let url = format!("{}/v2/enqueue", server.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&event)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let refused = enqueue(json!({"routing_key": key, "event_action": "explode"})).await;
    assert_eq!(refused, 400);
    let taken = enqueue(json!({
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "shop-down",
        "payload": {"summary": "shop.example.com is down", "source": "uptime-probe", "severity": "critical"},
        "links": [{"href": "https://status.example.com/shop", "text": "Probe"}]
    }))
    .await;
    assert_eq!(taken, 202);

    b.client.goto(&format!("{}/integrations", server.url)).await.unwrap();
    b.fill("#name", "dana").await;
    b.fill("#password", PASSWORD).await;
    b.press("Log in").await;
    b.wait("body[data-page='integrations']").await;
    b.wait("a[href='/integrations/uptime']").await.click().await.unwrap();
    b.wait("body[data-page='integration']").await;
    // Counts are stored every two seconds and the alert is weighed behind the answer:
    // reload until both show.
    for _ in 0..100 {
        let refused = b.text("#refused").await;
        let incident = b
            .client
            .find(Locator::Css("#alerts a[href='/incidents/INC-0001']"))
            .await;
        if refused == "1" && incident.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.client.refresh().await.unwrap();
    }
    assert_eq!(b.text("#received").await, "2");
    assert_eq!(b.text("#accepted").await, "1");
    assert!(b.text("#last-error").await.contains("\"explode\" is invalid"));
    let payload = b.text("#payload").await;
    assert!(payload.contains("\"dedup_key\": \"shop-down\""), "{payload}");
    // The routing key is the integration's secret: never shown.
    assert!(
        !payload.contains(&key) && payload.contains("\"routing_key\": \"[key]\""),
        "{payload}"
    );
    let alerts = b.text("#alerts").await;
    assert!(alerts.contains("shop.example.com is down"), "{alerts}");
    assert!(alerts.contains("firing"), "{alerts}");
    b.shot("11-integration").await;
    b.wait("#alerts a[href='/incidents/INC-0001']")
        .await
        .click()
        .await
        .unwrap();
    assert!(b.text("h1").await.contains("shop.example.com is down"));

    b.client.clone().close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_file_chosen_on_the_incident_page_is_kept_as_evidence_by_its_hash() {
    let Some(browser) = browser().await else { return };
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    let b = &browser;
    let token = server.token_secret("respond").await;
    let declared = reqwest::Client::new()
        .post(format!("{}/api/v1/incidents", server.url))
        .bearer_auth(&token)
        .json(&json!({"title": "Laptop stolen", "severity": "P3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 201);
    let file = std::env::temp_dir().join(format!("tocsin-evidence-{}.log", std::process::id()));
    std::fs::write(&file, "03:12 badge 4411 opened the server room\n").unwrap();

    b.client
        .goto(&format!("{}/incidents/INC-0001", server.url))
        .await
        .unwrap();
    b.fill("#name", "dana").await;
    b.fill("#password", PASSWORD).await;
    b.press("Log in").await;
    b.wait("body[data-page='incident']").await;
    b.wait("#evidence-file")
        .await
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    b.press("Keep as evidence").await;
    // The page's script sends the file through the API, then reloads.
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    let link = b.wait("a[download][href$='/evidence/1']").await;
    assert_eq!(link.text().await.unwrap(), name);
    // Kept whole: the API has it at the file's size, and the page shows its hash.
    let reader = server.token_secret("read").await;
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/incidents/INC-0001/evidence", server.url))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["size"], 40, "{listed}");
    let sha = listed[0]["sha256"].as_str().unwrap();
    assert!(b.text("section[aria-labelledby='evidence-h']").await.contains(sha));
    b.shot("12-evidence").await;
    let _ = std::fs::remove_file(&file);
    b.client.clone().close().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_customer_notice_is_drafted_previewed_approved_and_sent_from_the_web_ui() {
    let Some(browser) = browser().await else { return };
    if !tocsin_notify::testing::smtp_server_available() {
        return;
    }
    let sink = tocsin_notify::testing::SmtpSink::start(&[]);
    let plan = format!(
        "{}\n[[person]]\nid = \"dana\"\nname = \"Dana\"\n\n[[channel]]\nname = \"customer-mail\"\ntype = \"email\"\nurl = \"{}\"\ntls = \"none\"\nfrom = \"security@example.com\"\nto = [\"security@example.com\"]\n",
        tocsin_core::plan::presets::FOUR_TIER
            .source
            .replace("# channel = \"customer-mail\"", "channel = \"customer-mail\"")
            .replacen("# approve_by = [\"jo\"]", "approve_by = [\"dana\"]", 1),
        sink.url()
    );
    let server = TestServer::start_with_plan(TestDb::sqlite(), Default::default(), &plan).await;
    server.user("dana", Role::Responder).await;
    let b = &browser;
    let token = server.token_secret("respond").await;
    let declared = reqwest::Client::new()
        .post(format!("{}/api/v1/incidents", server.url))
        .bearer_auth(&token)
        .json(
            &json!({"title": "Customer records exposed", "severity": "P1", "personal_data": true,
            "summary": "An export of customer records was readable without a login."}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 201);

    b.client
        .goto(&format!("{}/incidents/INC-0001", server.url))
        .await
        .unwrap();
    b.fill("#name", "dana").await;
    b.fill("#password", PASSWORD).await;
    b.press("Log in").await;
    b.wait("body[data-page='incident']").await;
    b.wait("#draft-kind option[value='customers']")
        .await
        .click()
        .await
        .unwrap();
    b.press("Draft notice").await;
    b.wait("body[data-page='notice']").await;
    assert!(
        b.text("#notice-incomplete")
            .await
            .contains("blank to fill in in section \"What data was affected\""),
        "the draft's blanks keep it back"
    );
    b.shot("13-notice-draft").await;

    // Fill the blanks in, preview (nothing saved), then save the next version.
    let body = b.wait("#notice-body").await.prop("value").await.unwrap().unwrap();
    let filled = body
        .split("[[")
        .enumerate()
        .map(|(i, part)| match i {
            0 => part.to_owned(),
            _ => format!("Written by Dana.{}", part.split_once("]]").unwrap().1),
        })
        .collect::<String>();
    b.client
        .execute(
            "document.querySelector('#notice-body').value = arguments[0]",
            vec![json!(filled)],
        )
        .await
        .unwrap();
    b.press("Preview").await;
    b.wait("#notice-unsaved").await;
    assert!(b.text("#notice-complete").await.starts_with("Complete"));
    assert!(
        b.text(".preview")
            .await
            .contains("What you should do\nWritten by Dana.")
    );
    b.shot("14-notice-preview").await;
    b.press("Save as version 2").await;
    b.wait("#notice-approval").await;
    assert_eq!(b.text("#notice-approval").await, "version 2 is not approved yet");

    // Recipients pasted here; unapproved it does not go to them, approved it does.
    b.fill(
        "#recipients-csv",
        "email,name\ncustomer1@example.com,One\ncustomer2@example.com,Two",
    )
    .await;
    b.press("Add recipients").await;
    b.wait("body[data-page='notice']").await;
    b.press("Send version 2").await;
    let problem = b.text("#notice-problem").await;
    assert!(problem.contains("version 2 of notice 1 is not approved"), "{problem}");
    b.press("Approve version 2").await;
    b.wait("#notice-approval").await;
    assert!(
        b.text("#notice-approval")
            .await
            .starts_with("version 2 approved by dana")
    );
    b.press("Send version 2").await;
    b.wait("#notice-sent").await;
    assert!(b.text("#notice-sent").await.contains("to 2 recipients"));
    let mails = sink.wait_for(2, Some(Duration::from_secs(20))).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m["rcpt_tos"][0].as_str().unwrap()).collect();
    to.sort_unstable();
    assert_eq!(to, ["customer1@example.com", "customer2@example.com"]);
    b.client.refresh().await.unwrap();
    b.wait("#notice-deliveries").await;
    b.shot("15-notice-sent").await;
    b.client.goto(&format!("{}/breaches", server.url)).await.unwrap();
    let row = b.text("#breaches tbody tr").await;
    assert!(row.contains("INC-0001") && row.contains("told 20"), "{row}");
    b.shot("16-breach-register").await;
    b.client.clone().close().await.unwrap();
    server.stop().await;
}
