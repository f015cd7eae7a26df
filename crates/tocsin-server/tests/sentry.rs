//! Sentry SDK ingestion on SQLite and PostgreSQL: the real Python SDK (`sentry-sdk`, with
//! brotli and gzip bodies) reporting an exception and cron check-ins, the legacy store
//! endpoint with an event shaped like Sentry's documented one, and every refusal, which
//! creates nothing.
//!
//! The SDK test needs python3 with `sentry_sdk` and `brotli` (`.ci/ensure-python` installs
//! them). Without them it says loudly that it was skipped, unless
//! `TOCSIN_REQUIRE_SENTRY_SDK` (set by CI) makes that a failure.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin_core::event::{ErrorEvent, Event, HeartbeatEvent};
use tocsin_server::services::integrations::IntegrationKind;
use tocsin_server::testing::{TestServer, eventually};
use tocsin_store::integrations::AlertFilter;
use tocsin_store::signals::SignalFilter;
use tocsin_store::testing::TestDb;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sentry_client.py");

async fn servers() -> Vec<TestServer> {
    let mut out = Vec::new();
    for db in TestDb::all().await {
        out.push(TestServer::start(db).await);
    }
    out
}

async fn errors(server: &TestServer) -> Vec<ErrorEvent> {
    let events = server.store.events_after(0, 1000).await.unwrap();
    events
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Error(error) => Some(error),
            _ => None,
        })
        .collect()
}

async fn heartbeats(server: &TestServer) -> Vec<HeartbeatEvent> {
    let events = server.store.events_after(0, 1000).await.unwrap();
    events
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Heartbeat(beat) => Some(beat),
            _ => None,
        })
        .collect()
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body).unwrap();
    gz.finish().unwrap()
}

async fn send(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An event shaped like the one in Sentry's documentation of its event payloads, as a
/// JavaScript SDK sends it: tags as pairs, a chain of one exception, frames oldest first.
fn documented_event() -> Value {
    json!({
        "event_id": "e4874d664c3540c1a32eab185f12c5ab",
        "timestamp": 1_566_248_777.677,
        "platform": "javascript",
        "level": "error",
        "logger": "",
        "exception": {"values": [{
            "type": "ReferenceError",
            "value": "heck is not defined",
            "mechanism": {"type": "onerror", "handled": false},
            "stacktrace": {"frames": [
                {"abs_path": "https://static.example/js/runner.min.js", "filename": "/js/runner.min.js",
                 "function": null, "in_app": false, "lineno": 1, "colno": 10866, "module": "runner"},
                {"abs_path": "<anonymous>", "filename": "<anonymous>", "function": "check",
                 "in_app": false, "lineno": 3, "colno": 5, "module": null}
            ]}
        }]},
        "fingerprint": ["{{ default }}"],
        "request": {"url": "https://app.example/runner", "headers": [["User-Agent", "Mozilla/5.0"]]},
        "sdk": {"name": "sentry.javascript.browser", "version": "5.5.0"},
        "tags": [["browser", "Chrome 75.0.3770"], ["handled", "no"], ["url", "https://app.example/runner"]],
        "user": {"ip_address": "203.0.113.90"}
    })
}

/// A request to refuse: what it is, its address, headers and body, and the answer.
type Refused<'a> = (&'a str, String, Vec<(&'a str, String)>, Vec<u8>, StatusCode);

#[tokio::test]
async fn sentry_endpoints_refuse_what_they_cannot_take_and_create_nothing() {
    for server in servers().await {
        let (id, key) = server
            .integration_with(IntegrationKind::Sentry, "shop", json!({}))
            .await;
        let (_, other_kind) = server
            .integration_with(IntegrationKind::Pagerduty, "pd", json!({}))
            .await;
        let envelope_url = format!("{}/api/{id}/envelope/", server.url);
        let auth = format!("Sentry sentry_version=7, sentry_client=test/1.0, sentry_key={key}");
        let event = json!({"message": "hello"}).to_string();
        let good = format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n").into_bytes();
        let before = server.events_stored().await;

        let refusals: Vec<Refused> = vec![
            (
                "no key",
                envelope_url.clone(),
                vec![],
                good.clone(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "an unknown key",
                envelope_url.clone(),
                vec![(
                    "x-sentry-auth",
                    "Sentry sentry_key=0123456789abcdef0123456789abcdef".into(),
                )],
                good.clone(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "another kind's key",
                format!("{envelope_url}?sentry_key={other_kind}"),
                vec![],
                good.clone(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "another project",
                format!("{}/api/{}/envelope/", server.url, id + 1000),
                vec![("x-sentry-auth", auth.clone())],
                good.clone(),
                StatusCode::FORBIDDEN,
            ),
            (
                "an unknown encoding",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone()), ("content-encoding", "zstd".into())],
                good.clone(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "a body that is not gzip",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone()), ("content-encoding", "gzip".into())],
                good.clone(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "an item header that is not JSON",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone())],
                b"{}\n{type: event}\n{}\n".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "an event that is not JSON",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone())],
                b"{}\n{\"type\":\"event\"}\n{\"message\":\n".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a check-in without a slug",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone())],
                b"{}\n{\"type\":\"check_in\"}\n{\"status\":\"ok\"}\n".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "an event over 1 MiB, among good ones",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone())],
                [
                    good.as_slice(),
                    format!(
                        "{{\"type\":\"event\"}}\n{{\"message\":\"{}\"}}\n",
                        "x".repeat(1024 * 1024)
                    )
                    .as_bytes(),
                ]
                .concat(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "a body over 20 MiB",
                envelope_url.clone(),
                vec![("x-sentry-auth", auth.clone())],
                vec![b' '; 20 * 1024 * 1024 + 1],
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ];
        for (what, url, headers, body, expected) in refusals {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let (status, answer) = send(&url, &headers, body).await;
            assert_eq!(status, expected, "{what}: {answer}");
            if status != StatusCode::PAYLOAD_TOO_LARGE || what.contains("event") {
                assert!(answer["detail"].is_string(), "{what}: {answer}");
            }
        }
        assert_eq!(server.events_stored().await, before, "{}", server.backend());

        // A good envelope with a compressed body, and items tocsin does not keep.
        let ignored = b"{\"type\":\"transaction\"}\n{\"type\":\"transaction\",\"spans\":[]}\n\
{\"type\":\"session\"}\n{\"sid\":\"a\",\"status\":\"ok\"}\n\
{\"type\":\"client_report\"}\n{\"discarded_events\":[]}\n";
        let (status, answer) = send(
            &envelope_url,
            &[("x-sentry-auth", &auth), ("content-encoding", "gzip")],
            gzip(&[&good[..], &ignored[..]].concat()),
        )
        .await;
        assert_eq!((status, answer), (StatusCode::OK, json!({})), "{}", server.backend());
        // Only ignored items: accepted, nothing stored.
        let (status, _) = send(
            &envelope_url,
            &[("x-sentry-auth", &auth)],
            [b"{}\n", &ignored[..]].concat(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(server.events_stored().await, before + 1);

        // The legacy store endpoint, with the key in the query and a preflight first.
        let store_url = format!("{}/api/{id}/store/?sentry_key={key}&sentry_version=7", server.url);
        let preflight = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, &store_url)
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), StatusCode::OK);
        assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
        let (status, answer) = send(
            &store_url,
            &[("content-type", "application/json"), ("content-encoding", "gzip")],
            gzip(documented_event().to_string().as_bytes()),
        )
        .await;
        assert_eq!(
            (status, answer),
            (StatusCode::OK, json!({"id": "e4874d664c3540c1a32eab185f12c5ab"}))
        );
        let stored = errors(&server).await;
        let documented = stored
            .iter()
            .find(|e| e.event_id.as_deref() == Some("e4874d664c3540c1a32eab185f12c5ab"))
            .unwrap();
        assert_eq!(documented.message, "ReferenceError: heck is not defined");
        assert_eq!(documented.service, "shop");
        assert_eq!(documented.at, "2019-08-19T21:06:17.677Z".parse().unwrap());
        let frame = documented.exception.as_ref().unwrap().frame.as_ref().unwrap();
        assert_eq!((frame.function.as_deref(), frame.line), (Some("check"), Some(3)));
        assert_eq!(documented.tags["handled"], "no");
        assert_eq!(documented.user.as_ref().unwrap().ip.as_deref(), Some("203.0.113.90"));

        let stats = eventually("the counts", || async {
            let list = server.store.integrations().await.unwrap();
            let shop = list.into_iter().find(|i| i.name == "shop")?;
            (shop.stats.accepted >= 2 && shop.stats.last_error.is_some()).then_some(shop.stats)
        })
        .await;
        assert!(stats.refused >= 7, "{stats:?}");
        assert!(stats.last.unwrap().1.contains("ReferenceError"));
    }
}

/// Whether python3 with the Sentry SDK is here; in CI it must be.
fn sentry_sdk_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import sentry_sdk, brotli"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TOCSIN_REQUIRE_SENTRY_SDK").is_none(),
            "TOCSIN_REQUIRE_SENTRY_SDK is set but python3 cannot import sentry_sdk and brotli (run .ci/ensure-python)"
        );
        eprintln!(
            "\n*** SKIPPED: the Sentry SDK test needs python3 with sentry_sdk and brotli (run .ci/ensure-python) ***\n"
        );
    }
    ok
}

/// Runs the SDK script against `dsn`; the id of the exception it reported.
async fn report(dsn: String, compression: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("python3")
            .args([SCRIPT, &dsn, compression])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the SDK script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_real_sentry_sdk_reports_an_exception_with_its_top_frame_and_cron_check_ins() {
    if !sentry_sdk_available() {
        return;
    }
    let raise_line = std::fs::read_to_string(SCRIPT)
        .unwrap()
        .lines()
        .position(|l| l.contains("raise ValueError"))
        .unwrap() as u32
        + 1;
    for server in servers().await {
        let (id, key) = server
            .integration_with(IntegrationKind::Sentry, "shop", json!({}))
            .await;
        let dsn = format!("{}/{id}", server.url.replacen("://", &format!("://{key}@"), 1));
        for compression in ["br", "gzip", "none"] {
            let event_id = report(dsn.clone(), compression).await;
            assert_eq!(event_id.len(), 32, "{event_id}");
            let error = errors(&server)
                .await
                .into_iter()
                .find(|e| e.event_id.as_deref() == Some(event_id.as_str()))
                .unwrap_or_else(|| panic!("{compression}: no error event {event_id}"));
            let exception = error.exception.as_ref().unwrap();
            assert_eq!(exception.kind, "ValueError");
            assert_eq!(exception.value.as_deref(), Some("card declined for cart 8812"));
            let frame = exception.frame.as_ref().unwrap();
            assert_eq!(frame.function.as_deref(), Some("charge_card"), "{frame:?}");
            assert_eq!(frame.line, Some(raise_line));
            assert!(
                frame.file.as_deref().unwrap().ends_with("sentry_client.py"),
                "{frame:?}"
            );
            assert_eq!(error.message, "ValueError: card declined for cart 8812");
            assert_eq!((error.service.as_str(), error.host.as_deref()), ("shop", Some("web-1")));
            assert_eq!(
                (error.release.as_deref(), error.environment.as_deref()),
                (Some("shop@1.4.2"), Some("production"))
            );
            assert_eq!(error.tags["region"], "eu-west");
            let user = error.user.as_ref().unwrap();
            assert_eq!(
                (user.id.as_deref(), user.email.as_deref()),
                (Some("42"), Some("ana@example.com"))
            );
        }
        // The last payload is kept with the DSN's key masked.
        let payload = eventually("the last payload", || async {
            let list = server.store.integrations().await.unwrap();
            let shop = list.into_iter().find(|i| i.name == "shop")?;
            shop.stats.last.map(|(_, text)| text)
        })
        .await;
        assert!(
            !payload.contains(&key) && payload.contains("\"public_key\":\"[key]\""),
            "{payload}"
        );
        // One fingerprint for the three reports: one new error.
        let fingerprints: std::collections::BTreeSet<String> =
            errors(&server).await.into_iter().map(|e| e.fingerprint).collect();
        assert_eq!(fingerprints.len(), 1);
        let signal = eventually("the new error", || async {
            let filter = SignalFilter {
                detector: Some("new_error".into()),
                limit: 10,
                ..Default::default()
            };
            let signals = server.store.signals(&filter).await.unwrap();
            (!signals.is_empty()).then_some(signals)
        })
        .await;
        assert_eq!(signal.len(), 1);
        assert!(
            signal[0].signal.summary.contains("charge_card in") && signal[0].signal.summary.contains("ValueError"),
            "{}",
            signal[0].signal.summary
        );

        // The check-ins: heartbeats of the job, on its daily schedule plus its margin.
        let beats = heartbeats(&server).await;
        assert_eq!(beats.len(), 6, "{beats:?}");
        assert!(beats.iter().all(|b| b.agent == "shop/nightly-backup"));
        assert_eq!(beats[0].stale_after.unwrap().elapsed_seconds(), Some(86_400 + 5 * 60));
        // The failed run fired an alert that the good run resolved.
        let alerts = eventually("the resolved check-in alert", || async {
            let filter = AlertFilter {
                limit: 10,
                ..Default::default()
            };
            let alerts = server.store.alerts(&filter).await.unwrap();
            alerts
                .iter()
                .all(|a| a.resolved_at.is_some())
                .then_some(alerts)
                .filter(|a| !a.is_empty())
        })
        .await;
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].alert.fingerprint, "check_in:nightly-backup");
        // Each run is an episode: its failure, then its good run.
        assert_eq!(alerts[0].received, 2);
    }
}

const SECRET: &str = "6f1d0c2b9e8a4f7d8c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a29180f7e6d5c";

/// Posts a webhook delivery as Sentry signs it, sent `age` seconds ago.
async fn deliver(url: &str, resource: &str, body: &str, secret: &str, age: i64) -> (StatusCode, Value) {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let sent = (jiff::Timestamp::now().as_second() - age).to_string();
    let headers = [
        ("content-type", "application/json"),
        ("request-id", "9e2a1c34-5b6d-4e7f-8a9b-0c1d2e3f4a5b"),
        ("sentry-hook-resource", resource),
        ("sentry-hook-timestamp", &sent),
        ("sentry-hook-signature", &signature),
    ];
    send(url, &headers, body.as_bytes().to_vec()).await
}

/// An issue alert shaped like Sentry's documented one.
fn issue_alert(issue: &str) -> String {
    json!({
        "action": "triggered",
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "event": {
                "event_id": "e4874d664c3540c1a32eab185f12c5ab",
                "issue_id": issue,
                "issue_url": format!("https://sentry.example/api/0/issues/{issue}/"),
                "title": "ReferenceError: heck is not defined",
                "level": "error",
                "culprit": "?(<anonymous>)",
                "datetime": "2026-11-23T09:06:17.677000Z",
                "platform": "javascript",
                "tags": [["handled", "no"], ["level", "error"]],
                "url": "https://sentry.example/api/0/projects/o/front-end/events/e4874d664c3540c1a32eab185f12c5ab/",
                "web_url": format!("https://sentry.example/organizations/o/issues/{issue}/events/e4874d664c3540c1a32eab185f12c5ab/")
            },
            "triggered_rule": "Very Important Alert Rule!",
            "issue_alert": {"title": "Very Important Alert Rule!", "settings": [{"name": "channel", "value": "#general"}]}
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}
    })
    .to_string()
}

/// A metric alert shaped like Sentry's documented one.
fn metric_alert(action: &str) -> String {
    let title = format!(
        "{}: Too many errors",
        if action == "resolved" { "Resolved" } else { "Critical" }
    );
    json!({
        "action": action,
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "description_text": "1000 events in the last 10 minutes\nFilter: level:error",
            "description_title": title,
            "metric_alert": {
                "alert_rule": {"aggregate": "count()", "dataset": "events", "id": "7", "name": "Too many errors",
                               "query": "level:error", "time_window": 10, "triggers": []},
                "date_closed": null,
                "date_detected": "2026-11-23T09:26:40.000000Z",
                "date_started": "2026-11-23T09:26:40.000000Z",
                "id": "4",
                "identifier": "1",
                "projects": ["front-end"],
                "status": 2,
                "title": "Sacred Marmot",
                "type": 2
            },
            "web_url": "https://sentry.example/organizations/o/alerts/1/"
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}
    })
    .to_string()
}

async fn alerts_of(server: &TestServer) -> Vec<tocsin_store::integrations::StoredAlert> {
    let filter = AlertFilter {
        limit: 10,
        ..Default::default()
    };
    server.store.alerts(&filter).await.unwrap()
}

#[tokio::test]
async fn sentry_webhooks_are_verified_and_alert_by_issue_and_metric() {
    for server in servers().await {
        let (_, key) = server
            .integration_with(
                IntegrationKind::SentryWebhook,
                "sentry-alerts",
                json!({"secret": SECRET}),
            )
            .await;
        let (_, unset) = server
            .integration_with(IntegrationKind::SentryWebhook, "no-secret", json!({}))
            .await;
        let url = format!("{}/api/v1/webhooks/sentry/{key}", server.url);
        let before = server.events_stored().await;

        // Refused: each creates nothing.
        let alert = issue_alert("1117540176");
        let unknown = format!("{}/api/v1/webhooks/sentry/0123456789abcdef0123456789abcdef", server.url);
        assert_eq!(
            deliver(&unknown, "event_alert", &alert, SECRET, 0).await.0,
            StatusCode::NOT_FOUND
        );
        let no_secret = format!("{}/api/v1/webhooks/sentry/{unset}", server.url);
        let (status, answer) = deliver(&no_secret, "event_alert", &alert, SECRET, 0).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            answer["detail"].as_str().unwrap().contains("integration secret"),
            "{answer}"
        );
        let (status, answer) = deliver(
            &url,
            "event_alert",
            &alert,
            "another secret of the same length ......",
            0,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        let (status, answer) = send(
            &url,
            &[("sentry-hook-resource", "event_alert")],
            alert.clone().into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        let (status, answer) = deliver(&url, "event_alert", &alert, SECRET, 600).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "an old delivery: {answer}");
        let (status, _) = deliver(&url, "event_alert", "{not json", SECRET, 0).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let no_issue = json!({"action": "triggered", "data": {"event": {"title": "x"}}}).to_string();
        let (status, answer) = deliver(&url, "event_alert", &no_issue, SECRET, 0).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(answer["detail"].as_str().unwrap().contains("issue_id"));
        let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
        assert_eq!(
            deliver(&url, "event_alert", &huge, SECRET, 0).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(server.events_stored().await, before, "{}", server.backend());

        // The issue alert opens an incident; the same delivery again is a replay.
        let (status, answer) = deliver(&url, "event_alert", &alert, SECRET, 2).await;
        assert_eq!((status, answer), (StatusCode::OK, json!({"ok": true})));
        let (status, _) = deliver(&url, "event_alert", &alert, SECRET, 2).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(server.events_stored().await, before + 1);
        // Installation and assignment tell of no alert.
        let install = json!({"action": "created", "data": {"installation": {"uuid": "a8e5d37a"}}}).to_string();
        assert_eq!(
            deliver(&url, "installation", &install, SECRET, 0).await.0,
            StatusCode::OK
        );
        assert_eq!(server.events_stored().await, before + 1);

        // A metric alert fires, then resolves.
        assert_eq!(
            deliver(&url, "metric_alert", &metric_alert("critical"), SECRET, 0)
                .await
                .0,
            StatusCode::OK
        );
        let opened = eventually("both alerts", || async {
            let alerts = alerts_of(&server).await;
            (alerts.len() == 2 && alerts.iter().all(|a| a.signal.is_some())).then_some(alerts)
        })
        .await;
        let issue = opened
            .iter()
            .find(|a| a.alert.fingerprint == "issue:1117540176")
            .unwrap();
        assert_eq!(issue.alert.summary, "ReferenceError: heck is not defined");
        assert_eq!(issue.alert.labels["rule"], "Very Important Alert Rule!");
        assert!(issue.alert.url.as_deref().unwrap().contains("/issues/1117540176/"));
        let metric = opened.iter().find(|a| a.alert.fingerprint == "metric:4").unwrap();
        assert_eq!(metric.alert.severity.as_deref(), Some("critical"));
        assert_eq!(
            deliver(&url, "metric_alert", &metric_alert("resolved"), SECRET, 0)
                .await
                .0,
            StatusCode::OK
        );

        // The issue is resolved in Sentry: its alert resolves.
        let resolved = json!({"action": "resolved", "data": {"issue": {"id": "1117540176", "title": "ReferenceError: heck is not defined", "status": "resolved"}}}).to_string();
        assert_eq!(deliver(&url, "issue", &resolved, SECRET, 0).await.0, StatusCode::OK);
        eventually("both alerts resolved", || async {
            alerts_of(&server)
                .await
                .iter()
                .all(|a| a.resolved_at.is_some())
                .then_some(())
        })
        .await;
        let signals = server
            .store
            .signals(&SignalFilter {
                detector: Some("sentry".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(signals.len(), 2);
        assert!(signals.iter().all(|s| s.resolved_at.is_some()));
        assert!(signals.iter().all(|s| s.incident.is_some()), "{signals:?}");
    }
}

/// Issue 16, item 17: `x-sentry-error` reflected what was sent; a 70 KB header was seen.
#[tokio::test]
async fn the_reason_a_sentry_request_was_refused_is_short_whatever_was_sent() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let (id, key) = server
        .integration_with(IntegrationKind::Sentry, "shop", json!({}))
        .await;
    let long = format!("\u{1b}[31m{}", "x".repeat(70_000));
    let check_in = |status: &str, schedule: &str| {
        let item = json!({
            "check_in_id": "83a7c03ed0a04e1b97e2e3b18d38f244",
            "monitor_slug": "nightly",
            "status": status,
            "monitor_config": {"schedule": {"type": "crontab", "value": schedule}},
        });
        format!("{{}}\n{{\"type\":\"check_in\"}}\n{item}\n")
    };
    for body in [check_in(&long, "0 3 * * *"), check_in("ok", &long)] {
        let response = reqwest::Client::new()
            .post(format!("{}/api/{id}/envelope/?sentry_key={key}", server.url))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let reason = response.headers()["x-sentry-error"].to_str().unwrap().to_owned();
        assert!(reason.len() <= 300, "{} bytes: {}", reason.len(), &reason[..300]);
        let body = response.text().await.unwrap();
        assert!(body.len() <= 600, "{} bytes", body.len());
        assert!(!body.contains("\\u001b"), "{body}");
    }
    server.stop().await;
}

/// A tunnel passes envelopes on without a header: the key is read from the DSN in the
/// envelope's first line, before the rest of the body, compressed or not.
#[tokio::test]
async fn an_envelope_passed_on_by_a_tunnel_is_keyed_by_the_dsn_of_its_first_line() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let (id, key) = server
        .integration_with(IntegrationKind::Sentry, "shop", json!({}))
        .await;
    let header = json!({"dsn": format!("https://{key}@sentry.example/{id}")});
    let envelope = format!(
        "{header}\n{{\"type\":\"event\"}}\n{}\n",
        json!({"message": "tunnelled"})
    );
    let url = format!("{}/api/{id}/envelope/", server.url);
    let (status, body) = send(&url, &[], envelope.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(&url, &[("content-encoding", "gzip")], gzip(envelope.as_bytes())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(errors(&server).await.len(), 2);
    server.stop().await;
}

/// Issue 16, item 7: replays were refused while the server ran, but after a restart the
/// same signed body with a fresh timestamp was taken again.
#[tokio::test]
async fn a_sentry_webhook_replayed_after_a_restart_is_still_refused() {
    for server in servers().await {
        let backend = server.backend();
        let (_, key) = server
            .integration_with(
                IntegrationKind::SentryWebhook,
                "sentry-alerts",
                json!({"secret": SECRET}),
            )
            .await;
        let alert = issue_alert("1117540999");
        let url = format!("{}/api/v1/webhooks/sentry/{key}", server.url);
        let (status, answer) = deliver(&url, "event_alert", &alert, SECRET, 0).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {answer}");
        let server = server.restart().await;
        let url = format!("{}/api/v1/webhooks/sentry/{key}", server.url);
        let (status, answer) = deliver(&url, "event_alert", &alert, SECRET, 0).await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend}: {answer}");
        server.stop().await;
    }
}
