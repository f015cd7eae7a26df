//! The CrowdSec Local API that bouncers poll: keys, the decisions stream with its
//! per-bouncer deltas, the per-address question and usage metrics, in the Local API's
//! own shapes. The real bouncers are run against it in the CLI's tests.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tocsin_server::services::blocks::Blocks;
use tocsin_server::services::integrations::IntegrationKind;
use tocsin_server::testing::{TestServer, admin_actor};
use tocsin_store::testing::TestDb;

async fn ask(server: &TestServer, method: Method, path: &str, key: Option<&str>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url))
        .header("user-agent", "crowdsec-custom-bouncer/v0.0.15");
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The values of a list of decisions, in order.
fn values(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| items.iter().map(|d| d["value"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_local_api_answers_only_a_bouncer_s_key() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let bouncer = server.integration(IntegrationKind::Bouncer, "nginx").await;
        let heartbeat = server.integration(IntegrationKind::Heartbeat, "backup").await;
        for path in ["/v1/decisions/stream?startup=true", "/v1/decisions?ip=192.0.2.1"] {
            for (key, why) in [
                (None, "no key"),
                (Some("0123"), "a wrong key"),
                (Some(heartbeat.as_str()), "another kind's key"),
            ] {
                let (status, body) = ask(&server, Method::GET, path, key).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{backend}: {path} with {why}");
                assert!(
                    json_of(&body)["message"].as_str().unwrap().contains("access forbidden"),
                    "{body}"
                );
            }
            let (status, _) = ask(&server, Method::GET, path, Some(&bouncer)).await;
            assert_eq!(status, StatusCode::OK, "{backend}: {path}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_bouncer_is_told_each_block_once_and_learns_of_its_removal_and_its_expiry() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let key = server.integration(IntegrationKind::Bouncer, "firewall").await;
        let blocks = Blocks::new(Arc::clone(&server.store) as _);
        let actor = admin_actor();
        let pull = |startup: bool| {
            let path = if startup {
                "/v1/decisions/stream?startup=true"
            } else {
                "/v1/decisions/stream"
            };
            let server = &server;
            let key = key.clone();
            async move {
                let (status, body) = ask(server, Method::GET, path, Some(&key)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                json_of(&body)
            }
        };

        // Nothing yet: both lists null, as the Local API says it.
        assert_eq!(pull(true).await, json!({"new": null, "deleted": null}), "{backend}");

        let now = Timestamp::now();
        let day = blocks
            .add(
                "203.0.113.7",
                "brute force on /login",
                None,
                Some(SignedDuration::from_hours(24)),
                &actor,
                now,
            )
            .await
            .unwrap();
        let net = blocks
            .add("2001:db8::/32", "scan", None, None, &actor, now)
            .await
            .unwrap();
        let brief = blocks
            .add(
                "198.51.100.9",
                "probe",
                None,
                Some(SignedDuration::from_secs(2)),
                &actor,
                now,
            )
            .await
            .unwrap();
        let first = pull(false).await;
        assert_eq!(
            values(&first["new"]),
            ["203.0.113.7", "2001:db8::/32", "198.51.100.9"],
            "{backend}"
        );
        assert_eq!(first["deleted"], Value::Null);
        let decision = &first["new"][0];
        assert_eq!(
            (
                &decision["id"],
                &decision["origin"],
                &decision["type"],
                &decision["scope"],
                &decision["scenario"]
            ),
            (
                &json!(day.id),
                &json!("tocsin"),
                &json!("ban"),
                &json!("Ip"),
                &json!("brute force on /login")
            )
        );
        let duration = decision["duration"].as_str().unwrap();
        assert!(duration.starts_with("23h59m") || duration == "24h0m0s", "{duration}");
        assert_eq!(first["new"][1]["scope"], "Range");
        assert_eq!(first["new"][1]["duration"], "8760h0m0s", "a block without an end");

        // Told once.
        assert_eq!(pull(false).await, json!({"new": null, "deleted": null}), "{backend}");
        // A HEAD checks the key and moves nothing.
        blocks.remove(net.id, &actor, Timestamp::now()).await.unwrap();
        let (status, body) = ask(&server, Method::HEAD, "/v1/decisions/stream", Some(&key)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
        let after = pull(false).await;
        assert_eq!(
            (values(&after["new"]), values(&after["deleted"])),
            (vec![], vec!["2001:db8::/32".to_owned()])
        );

        // The brief one expires, and is deleted on the pull after.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let expired = pull(false).await;
        assert_eq!(values(&expired["deleted"]), ["198.51.100.9"], "{backend}: {expired}");
        let left = expired["deleted"][0]["duration"].as_str().unwrap();
        assert!(left == "0s" || left.starts_with('-'), "nothing left: {expired}");
        assert_eq!(expired["new"], Value::Null);

        // Starting again, it is told what is in force; filters are the Local API's.
        assert_eq!(values(&pull(true).await["new"]), ["203.0.113.7"]);
        let (_, ranges) = ask(
            &server,
            Method::GET,
            "/v1/decisions/stream?startup=true&scopes=range",
            Some(&key),
        )
        .await;
        assert_eq!(json_of(&ranges)["new"], Value::Null, "{ranges}");
        let (_, others) = ask(
            &server,
            Method::GET,
            "/v1/decisions/stream?startup=true&origins=crowdsec,cscli",
            Some(&key),
        )
        .await;
        assert_eq!(json_of(&others)["new"], Value::Null, "{others}");
        let _ = brief;
        server.stop().await;
    }
}

#[tokio::test]
async fn decisions_for_an_address_are_the_blocks_holding_it_or_the_literal_null() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let key = server.integration(IntegrationKind::Bouncer, "nginx").await;
        let blocks = Blocks::new(Arc::clone(&server.store) as _);
        let now = Timestamp::now();
        blocks
            .add("192.0.2.0/24", "credential stuffing", None, None, &admin_actor(), now)
            .await
            .unwrap();
        let get = |path: String| {
            let server = &server;
            let key = key.clone();
            async move { ask(server, Method::GET, &path, Some(&key)).await }
        };
        let held = tocsin_server::testing::eventually("the block", || async {
            let (status, body) = get("/v1/decisions?ip=192.0.2.55".into()).await;
            (status == StatusCode::OK && body != "null").then_some(body)
        })
        .await;
        let held = json_of(&held);
        assert_eq!(values(&held), ["192.0.2.0/24"], "{backend}: {held}");
        assert_eq!(held[0]["scope"], "Range");

        let (status, body) = get("/v1/decisions?ip=192.0.3.1".into()).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "null"),
            "{backend}: the literal null"
        );
        let (_, body) = get("/v1/decisions?scope=ip&value=192.0.2.1&type=captcha".into()).await;
        assert_eq!(body, "null", "only bans");
        let (_, body) = get("/v1/decisions?range=192.0.2.128/25".into()).await;
        assert_eq!(values(&json_of(&body)), ["192.0.2.0/24"]);
        let (_, body) = get("/v1/decisions?range=192.0.0.0/16&contains=false".into()).await;
        assert_eq!(values(&json_of(&body)), ["192.0.2.0/24"]);
        let (_, body) = get("/v1/decisions".into()).await;
        assert_eq!(values(&json_of(&body)), ["192.0.2.0/24"]);

        let (status, body) = get("/v1/decisions?ip=not-an-ip".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            json_of(&body)["message"]
                .as_str()
                .unwrap()
                .contains("not an IP address"),
            "{body}"
        );
        let (status, body) = get("/v1/decisions?ip=192.0.2.0/24".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = ask(&server, Method::HEAD, "/v1/decisions?ip=192.0.2.1", Some(&key)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
        server.stop().await;
    }
}

#[tokio::test]
async fn usage_metrics_are_kept_as_the_bouncer_s_last_word_and_a_malformed_report_refused() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let (id, key) = server
            .integration_with(IntegrationKind::Bouncer, "cloudflare", json!({}))
            .await;
        let post = |body: &'static str| {
            let server = &server;
            let key = key.clone();
            async move {
                let response = reqwest::Client::new()
                    .post(format!("{}/v1/usage-metrics", server.url))
                    .header("x-api-key", key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (response.status(), response.text().await.unwrap())
            }
        };
        let report = r#"{"remediation_components":[{"type":"cs-cloudflare-bouncer","version":"v1.2","feature_flags":[],"utc_startup_timestamp":1795000000,"metrics":[{"meta":{"window_size_seconds":1800,"utc_now_timestamp":1795001800},"items":[{"name":"dropped","value":12,"unit":"request","labels":{"origin":"tocsin"}}]}]}]}"#;
        let (status, body) = post(report).await;
        assert_eq!((status, body.as_str()), (StatusCode::CREATED, ""), "{backend}");
        let said = Blocks::new(Arc::clone(&server.store) as _).bouncers().await.unwrap();
        let kept = said.iter().find(|b| b.integration == id).expect("kept");
        assert!(kept.metrics.as_ref().unwrap().1.contains("cs-cloudflare-bouncer"));

        for (bad, says) in [
            ("{", "not JSON"),
            (r#"{"log_processors":[{}]}"#, "remediation component"),
            (r#"{"remediation_components":[{},{}]}"#, "remediation component"),
        ] {
            let (status, body) = post(bad).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{backend}: {bad}");
            assert!(
                json_of(&body)["message"].as_str().unwrap().contains(says),
                "{bad}: {body}"
            );
        }
        server.stop().await;
    }
}
