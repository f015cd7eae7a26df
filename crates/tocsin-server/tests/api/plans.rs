//! The plan kept in the database, over the API: the running server follows a version
//! applied anywhere, admins apply one, and what moved is on the incidents' timelines.

use reqwest::StatusCode;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::plan::presets;
use tocsin_server::Desk;
use tocsin_server::services::plans::PlanText;

use crate::helpers::{admin_actor, servers};

/// The four-tier preset with P2 acknowledged within `within` instead of an hour.
fn four_tier_with_p2_ack(within: &str) -> String {
    let text = presets::FOUR_TIER.source;
    let p2 = text.find("id = \"P2\"").unwrap();
    let at = p2 + text[p2..].find("acknowledge_within = \"1h\"").unwrap();
    format!(
        "{}acknowledge_within = \"{within}\"{}",
        &text[..at],
        &text[at + "acknowledge_within = \"1h\"".len()..]
    )
}

#[tokio::test]
async fn a_running_server_follows_a_version_applied_by_another_process_within_seconds() {
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond").await;
        let id = server.declare(&token, "Leaked key", "P2").await;
        let (_, plan) = server.get("/api/v1/plan", &token).await;
        assert_eq!(plan["version"], 1, "{backend}: {plan}");

        // Another process (the CLI) applies a version over its own connection.
        let other = Desk::open(
            server.db.open().await,
            &PlanText::new(four_tier_with_p2_ack("30m"), "tocsin.toml"),
            &admin_actor(),
            Timestamp::now(),
        )
        .await
        .unwrap()
        .0;
        assert_eq!(other.active_plan().version.version, 2);

        let followed = tocsin_server::testing::eventually("the server to follow version 2", || async {
            let (_, plan) = server.get("/api/v1/plan", &token).await;
            (plan["version"] == 2).then_some(plan)
        })
        .await;
        assert_eq!(followed["origin"], "tocsin.toml", "{backend}");
        assert_eq!(followed["applied_by"], "test-admin");

        // Reads trust the chain head they read for up to 200 ms: the other process's
        // change shows within that.
        let incident = tocsin_server::testing::eventually("the adoption to show", || async {
            let (_, incident) = server.get(&format!("/api/v1/incidents/{id}"), &token).await;
            let text = incident.to_string();
            text.contains("plan_adopted").then_some(incident)
        })
        .await;
        let adopted: Vec<&serde_json::Value> = incident["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["action"] == "plan_adopted")
            .collect();
        assert_eq!(adopted.len(), 1, "{backend}: {incident}");
        let event = &adopted[0]["event"];
        assert_eq!(event["version"], 2, "{backend}: {event}");
        assert_eq!(event["shifts"][0]["clock"], "acknowledge", "{backend}: {event}");
        assert_eq!(event["shifts"].as_array().unwrap().len(), 1, "{backend}: {event}");

        // A change made by the server now is decided under version 2.
        let (status, body) = server.act(&token, &id, json!({"action": "acknowledge"})).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        let (_, verified) = server.get("/api/v1/verify", &token).await;
        assert_eq!(verified["intact"], true, "{backend}: {verified}");
        assert_eq!(verified["plan_versions"], 2, "{backend}");
        server.stop().await;
    }
}

#[tokio::test]
async fn an_admin_applies_a_plan_over_the_api_and_a_plan_with_problems_is_refused_with_each() {
    for server in servers().await {
        let backend = server.backend();
        let admin = server.token("admin,read").await;
        let (status, body) = server
            .post(
                "/api/v1/plan",
                &admin,
                json!({"text": four_tier_with_p2_ack("45m"), "origin": "git 1a2b3c"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        assert_eq!(
            (body["outcome"].as_str(), body["version"].as_u64()),
            (Some("applied"), Some(2))
        );
        assert_eq!(body["origin"], "git 1a2b3c");
        let (status, body) = server
            .post("/api/v1/plan", &admin, json!({"text": four_tier_with_p2_ack("45m")}))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        assert_eq!(
            (body["outcome"].as_str(), body["version"].as_u64()),
            (Some("kept"), Some(2))
        );

        let before = server.footprint().await;
        let broken = format!("{}\n[[role]]\nid = \"Bad Id\"\n", presets::FOUR_TIER.source);
        let (status, body) = server.post("/api/v1/plan", &admin, json!({"text": broken})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {body}");
        let problem = &body["error"]["details"]["problems"][0];
        assert!(problem["line"].as_u64().unwrap() > 200, "{body}");
        assert!(problem["message"].as_str().is_some(), "{body}");
        assert_eq!(server.footprint().await, before, "{backend}: nothing applied");

        let responder = server.token("read,respond").await;
        let (status, _) = server
            .post("/api/v1/plan", &responder, json!({"text": presets::FOUR_TIER.source}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend}");
        let (_, versions) = server.get("/api/v1/plan/versions", &responder).await;
        let numbers: Vec<u64> = versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [2, 1], "{backend}");
        server.stop().await;
    }
}

#[tokio::test]
async fn verify_fails_when_a_stored_plan_text_is_rewritten_behind_tocsins_back() {
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond").await;
        server.declare(&token, "Leaked key", "P2").await;
        let (_, verified) = server.get("/api/v1/verify", &token).await;
        assert_eq!(verified["intact"], true, "{backend}: {verified}");
        // Someone with the database makes P2 look slower to acknowledge than it was.
        server
            .db
            .tamper("UPDATE plan_versions SET text = REPLACE(text, 'acknowledge_within = \"1h\"', 'acknowledge_within = \"9h\"')")
            .await;
        let (_, verified) = server.get("/api/v1/verify", &token).await;
        assert_eq!(verified["intact"], false, "{backend}: {verified}");
        assert_eq!(
            verified["broken"], "plan version 1: its text is not the one the audit chain recorded",
            "{backend}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_change_decided_under_an_old_version_is_decided_again_under_the_active_one() {
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond").await;
        let id = server.declare(&token, "Leaked key", "P2").await;
        // A process that read version 1 and has not looked since.
        let stale = Desk::open(
            server.db.open().await,
            &PlanText::new(presets::FOUR_TIER.source, "test plan"),
            &admin_actor(),
            Timestamp::now(),
        )
        .await
        .unwrap()
        .0;
        let (status, _) = server
            .post(
                "/api/v1/plan",
                &server.token("admin").await,
                json!({"text": four_tier_with_p2_ack("20m")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stale.active_plan().version.version, 1);
        let number = id.parse().unwrap();
        let outcome = stale
            .act(
                number,
                &tocsin_core::incident::Command::AddNote {
                    text: "checking".into(),
                },
                &admin_actor(),
                None,
                Timestamp::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            stale.active_plan().version.version,
            2,
            "{backend}: it read the new version"
        );
        let acknowledge = outcome.clocks.iter().find(|c| c.id == "acknowledge").unwrap();
        let declared = outcome.incident.declared_at;
        assert_eq!(
            acknowledge.due_at.unwrap().duration_since(declared).as_secs(),
            20 * 60,
            "{backend}"
        );
        let (_, verified) = server.get("/api/v1/verify", &token).await;
        assert_eq!(verified["intact"], true, "{backend}: {verified}");
        server.stop().await;
    }
}
