//! `POST /api/v1/ratelimit/check`: the plan's policies, GCRA, and denials that the
//! detectors watch.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{code, read, servers};

#[tokio::test]
async fn five_logins_pass_the_sixth_waits_and_a_key_that_keeps_trying_becomes_a_signal() {
    for server in servers().await {
        let backend = server.backend();
        let ingest = server.token("ingest").await;
        let reader = server.token("read").await;
        let check = |key: &str| {
            server
                .request(Method::POST, "/api/v1/ratelimit/check", &ingest)
                .json(&json!({"key": key, "policy": "login", "ip": "203.0.113.5"}))
        };
        for remaining in (0..5).rev() {
            let (status, body) = read(check("203.0.113.5:ann").send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{backend}: {body}");
            assert_eq!(
                (body["decision"].as_str(), body["remaining"].as_u64()),
                (Some("allow"), Some(remaining))
            );
        }
        let denied = check("203.0.113.5:ann").send().await.unwrap();
        let retry_after: u64 = denied.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        let (status, body) = read(denied).await;
        assert_eq!(
            (status, body["decision"].as_str()),
            (StatusCode::OK, Some("deny")),
            "{body}"
        );
        assert!((170..=180).contains(&retry_after), "{retry_after}");
        assert_eq!(body["retry_after"], retry_after);
        // Another key has its own allowance.
        let (_, other) = read(check("203.0.113.5:bob").send().await.unwrap()).await;
        assert_eq!(other["decision"], "allow");

        for _ in 0..10 {
            check("203.0.113.5:ann").send().await.unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let signal = loop {
            let (_, page) = server.get("/api/v1/signals?detector=rate_limit_abuse", &reader).await;
            if let Some(s) = page["items"].as_array().and_then(|items| items.first()).cloned() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "{backend}: no signal: {page}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(signal["key"], "login:203.0.113.5:ann");
        assert_eq!(signal["evidence"]["sources"], json!(["203.0.113.5"]));
        server.stop().await;
    }
}

#[tokio::test]
async fn unknown_policies_and_callers_without_the_ingest_scope_are_refused() {
    for server in servers().await {
        let ingest = server.token("ingest").await;
        let (status, body): (StatusCode, Value) = read(
            server
                .request(Method::POST, "/api/v1/ratelimit/check", &ingest)
                .json(&json!({"key": "k", "policy": "logins"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("login, password_reset, api_key"),
            "{body}"
        );
        let reader = server.token("read").await;
        let (status, _) = read(
            server
                .request(Method::POST, "/api/v1/ratelimit/check", &reader)
                .json(&json!({"key": "k", "policy": "login"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_blocked_address_is_denied_whatever_its_allowance_until_the_block_is_removed() {
    use tocsin_server::services::blocks::Blocks;
    for server in servers().await {
        let backend = server.backend();
        let ingest = server.token("ingest").await;
        // A key of its own for every check, so that only the block denies.
        let n = std::sync::atomic::AtomicU32::new(0);
        let check = |ip: &str| {
            let key = format!("{ip}:user{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            server
                .request(Method::POST, "/api/v1/ratelimit/check", &ingest)
                .json(&json!({"key": key, "policy": "login", "ip": ip}))
        };
        let (_, body) = read(check("198.51.100.23").send().await.unwrap()).await;
        assert_eq!(body["decision"], "allow", "{backend}");
        assert!(body.get("blocked").is_none(), "{body}");

        let blocks = Blocks::new(std::sync::Arc::clone(&server.server.store) as _);
        let now = jiff::Timestamp::now();
        let actor = tocsin_server::testing::admin_actor();
        let block = blocks
            .add(
                "198.51.100.0/24",
                "credential stuffing",
                None,
                Some(jiff::SignedDuration::from_hours(1)),
                &actor,
                now,
            )
            .await
            .unwrap();
        // Another process's block is obeyed within a second.
        let denied = tocsin_server::testing::eventually("the block", || async {
            let response = check("198.51.100.23").send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let (_, body) = read(response).await;
            (body["decision"] == "deny").then_some((body, retry_after))
        })
        .await;
        let (body, retry_after) = denied;
        assert_eq!(body["blocked"], block.id, "{backend}: {body}");
        let retry_after: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((3590..=3600).contains(&retry_after), "{retry_after}");
        // Outside the network, and an address given as no address, are not blocked.
        let (_, body) = read(check("198.51.101.23").send().await.unwrap()).await;
        assert_eq!(body["decision"], "allow", "{backend}");

        blocks.remove(block.id, &actor, jiff::Timestamp::now()).await.unwrap();
        tocsin_server::testing::eventually("the unblock", || async {
            let (_, body) = read(check("198.51.100.23").send().await.unwrap()).await;
            (body["decision"] == "allow").then_some(())
        })
        .await;
        server.stop().await;
    }
}
