//! Working an incident over the API from declaration to close.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, servers};

#[tokio::test]
async fn who_is_affected_the_title_and_not_required_obligations_change_over_the_api() {
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond").await;
        let (status, body) = server
            .post(
                "/api/v1/incidents",
                &token,
                json!({"title": "Export leaked", "severity": "P1", "personal_data": true, "customers": "unknown"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
        let id = body["incident"]["id"].as_str().unwrap().to_owned();
        for (action, check) in [
            (
                json!({"action": "assess_impact", "customers": "no", "affected_data_subjects": 1200}),
                "customers",
            ),
            (
                json!({"action": "waive", "clock": "gdpr-art33", "reason": "the data was encrypted"}),
                "waived",
            ),
            (
                json!({"action": "edit", "title": "Customer export leaked", "summary": "found by a customer"}),
                "title",
            ),
        ] {
            let (status, body) = server.act(&token, &id, action.clone()).await;
            assert_eq!(status, StatusCode::OK, "{backend}: {action}: {body}");
            assert!(!body["incident"][check].is_null(), "{body}");
        }
        let (_, body) = server.get(&format!("/api/v1/incidents/{id}"), &token).await;
        assert_eq!(body["incident"]["customers"], "no");
        assert_eq!(body["incident"]["affected_data_subjects"], 1200);
        assert_eq!(body["incident"]["title"], "Customer export leaked");
        assert_eq!(
            body["incident"]["waived"]["gdpr-art33"]["reason"],
            "the data was encrypted"
        );
        let clock = |id: &str| {
            body["clocks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["clock"] == id)
                .unwrap()
                .clone()
        };
        assert_eq!(clock("customer-notice")["state"], "not_applicable");
        assert_eq!(clock("gdpr-art33")["waived"], "the data was encrypted");
        let actions: Vec<&str> = body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "declared",
                "impact_assessed",
                "obligation_waived",
                "retitled",
                "summary_edited"
            ]
        );
        let (status, body) = server
            .act(&token, &id, json!({"action": "assess_impact", "customers": "maybe"}))
            .await;
        assert!(status.is_client_error(), "{backend}: {body}");
        server.stop().await;
    }
}

#[tokio::test]
async fn an_incident_is_worked_from_declaration_to_close_over_the_api() {
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond").await;
        let (status, body) = server
            .post(
                "/api/v1/incidents",
                &token,
                json!({"title": "Leaked API key", "severity": "P2", "summary": "Key found in a public repo"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
        let id = body["incident"]["id"].as_str().unwrap().to_owned();
        assert_eq!(id, "INC-0001");
        let (_, me) = server.get("/api/v1/me", &token).await;
        let actor = me["actor"].as_str().unwrap().to_owned();
        assert!(actor.starts_with("token:test-read-respond"), "{me}");
        assert_eq!(body["incident"]["reporter"], json!(actor), "{backend}");
        let acknowledge = body["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["clock"] == "acknowledge")
            .unwrap();
        assert_eq!(acknowledge["state"], "running", "{backend}");

        let (status, body) = server.act(&token, &id, json!({"action": "acknowledge"})).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        assert_eq!(body["incident"]["status"], "acknowledged");
        let acknowledge = body["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["clock"] == "acknowledge")
            .unwrap();
        assert_eq!(acknowledge["state"], "met", "{backend}");

        assert_eq!(body["incident"]["owner"], json!(actor), "the acknowledger owns it");
        // Owners are tocsin users or the plan's people.
        let (status, body) = server
            .act(&token, &id, json!({"action": "assign", "owner": "jo"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown person \"jo\"")
        );
        server.server.user("jo", tocsin_core::identity::Role::Responder).await;
        let (status, body) = server
            .act(&token, &id, json!({"action": "assign", "owner": "jo"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        assert_eq!(body["incident"]["owner"], "jo");

        let step = body["incident"]["steps"][0]["id"].as_str().unwrap().to_owned();
        for action in [
            json!({"action": "start_step", "step": step}),
            json!({"action": "check_item", "step": step, "item": 1}),
            json!({"action": "complete_step", "step": step}),
            json!({"action": "add_note", "text": "Rotated the key"}),
        ] {
            let (status, body) = server.act(&token, &id, action.clone()).await;
            assert_eq!(status, StatusCode::OK, "{backend}: {action}: {body}");
        }
        // A refused change: closing before resolving is not allowed now, and changes nothing.
        let before = server.footprint().await;
        let (status, body) = server.act(&token, &id, json!({"action": "close"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
        assert_eq!(code(&body), "conflict");
        assert_eq!(
            server.footprint().await,
            before,
            "{backend}: a refused change wrote something"
        );

        let (status, body) = server
            .act(&token, &id, json!({"action": "resolve", "summary": "Key rotated"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        // Closing with work open is refused, naming it all, until an override says why.
        let (status, body) = server.act(&token, &id, json!({"action": "close"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("the clock customer-notice") && message.contains("are not done"),
            "{message}"
        );
        let (status, body) = server
            .act(
                &token,
                &id,
                json!({"action": "close", "override": "Reviewed in the weekly meeting"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{backend}: {body}");
        assert_eq!(body["incident"]["status"], "closed");
        let actions: Vec<&str> = body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions.first(), Some(&"declared"), "{backend}");
        assert_eq!(actions.last(), Some(&"closed"), "{backend}");
        assert!(
            body["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["actor"] == json!(actor))
        );

        // The timeline in pages of three, oldest first, without gaps or repeats.
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, page) = server
                .get(&format!("/api/v1/incidents/{id}/timeline?limit=3{cursor}"), &token)
                .await;
            assert_eq!(status, StatusCode::OK, "{backend}: {page}");
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["action"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(seen, actions, "{backend}");

        // The incident read serializes its fixed parts once per version: same document.
        let (status, mut read) = server.get(&format!("/api/v1/incidents/{id}"), &token).await;
        assert_eq!(status, StatusCode::OK);
        let mut changed = body.clone();
        for doc in [&mut read, &mut changed] {
            for clock in doc["clocks"].as_array_mut().unwrap() {
                clock.as_object_mut().unwrap().remove("seconds_left");
            }
        }
        assert_eq!(read, changed, "{backend}: GET and the action's answer differ");

        let (status, verification) = server.get("/api/v1/verify", &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(verification["intact"], true, "{backend}: {verification}");
        assert_eq!(verification["incidents"], 1);
        server.stop().await;
    }
}

#[tokio::test]
async fn lists_are_paged_with_cursors_and_filtered() {
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond").await;
        for (title, severity) in [("Phishing wave", "P3"), ("Database exposed", "P1"), ("Odd login", "P4")] {
            server.declare(&token, title, severity).await;
        }
        let (status, first) = server.get("/api/v1/incidents?limit=2", &token).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {first}");
        let ids: Vec<&str> = first["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["INC-0003", "INC-0002"], "{backend}: newest first");
        let next = first["next_cursor"].as_str().expect("a second page");
        let (_, second) = server
            .get(&format!("/api/v1/incidents?limit=2&cursor={next}"), &token)
            .await;
        let ids: Vec<&str> = second["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["INC-0001"], "{backend}");
        assert!(
            second["next_cursor"].is_null(),
            "{backend}: the last page has no cursor"
        );

        let (_, p1) = server.get("/api/v1/incidents?severity=p1", &token).await;
        assert_eq!(p1["items"].as_array().unwrap().len(), 1, "{backend}: {p1}");
        assert_eq!(p1["items"][0]["title"], "Database exposed");
        assert_eq!(p1["items"][0]["next_clock"]["clock"], "acknowledge", "{backend}: {p1}");
        let (_, text) = server.get("/api/v1/incidents?q=LOGIN", &token).await;
        assert_eq!(text["items"][0]["title"], "Odd login", "{backend}: {text}");
        let (_, closed) = server.get("/api/v1/incidents?status=closed", &token).await;
        assert!(closed["items"].as_array().unwrap().is_empty(), "{backend}");

        let (status, clocks) = server.get("/api/v1/clocks?limit=1", &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            clocks["items"][0]["incident"], "INC-0002",
            "{backend}: the P1 is due soonest: {clocks}"
        );
        assert!(clocks["next_cursor"].is_string());

        let (status, body) = server.get("/api/v1/incidents/INC-0042", &token).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend}: {body}");
        assert_eq!(code(&body), "not_found");
        let (status, body) = server.get("/api/v1/incidents?severity=P9", &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("P9"), "{body}");
        server.stop().await;
    }
}
