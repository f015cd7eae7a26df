//! `/api/v1/blocks`: blocks listed, added, ended and exported through the API, bad input
//! refused with the problem named and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{code, read, servers};

#[tokio::test]
async fn blocks_are_added_listed_exported_and_ended_through_the_api() {
    for server in servers().await {
        let backend = server.backend();
        let responder = server.token("respond").await;
        let reader = server.token("read").await;
        let id = server.declare(&responder, "Credential stuffing", "P2").await;

        let (status, block) = server
            .post(
                "/api/v1/blocks",
                &responder,
                json!({"network": "198.51.100.0/24", "reason": "credential stuffing", "for": "24h", "incident": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {block}");
        assert_eq!(
            (&block["network"], &block["incident"], &block["reason"]),
            (&json!("198.51.100.0/24"), &json!(id), &json!("credential stuffing"))
        );
        assert!(block["expires"].is_string() && block["removed"].is_null(), "{block}");
        let (status, forever) = server
            .post(
                "/api/v1/blocks",
                &responder,
                json!({"network": "2001:db8::7", "reason": "scanner"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{forever}");

        let (status, list) = server.get("/api/v1/blocks", &reader).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

        let export = |format: &str| {
            server
                .request(Method::GET, &format!("/api/v1/blocks/export?format={format}"), &reader)
                .send()
        };
        let response = export("nginx").await.unwrap();
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let nginx = response.text().await.unwrap();
        assert!(nginx.contains("198.51.100.0/24 1;\n2001:db8::7/128 1;\n"), "{nginx}");
        let plain = export("plain").await.unwrap().text().await.unwrap();
        assert!(plain.ends_with("198.51.100.0/24\n2001:db8::7\n"), "{plain}");
        let (status, body) = read(export("iptables").await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown format \"iptables\"")
        );

        let path = format!("/api/v1/blocks/{}", block["id"]);
        let (status, ended) = read(server.request(Method::DELETE, &path, &responder).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{ended}");
        assert!(ended["removed"].is_string());
        let (status, again) = read(server.request(Method::DELETE, &path, &responder).send().await.unwrap()).await;
        assert_eq!((status, code(&again)), (StatusCode::NOT_FOUND, "not_found"), "{again}");
        let (_, list) = server.get("/api/v1/blocks", &reader).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let (_, all) = server.get("/api/v1/blocks?all=true", &reader).await;
        assert_eq!(all.as_array().unwrap().len(), 2);

        // A reader may not block.
        let (status, _) = server
            .post(
                "/api/v1/blocks",
                &reader,
                json!({"network": "192.0.2.1", "reason": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_bad_block_is_refused_naming_the_problem_and_nothing_is_written() {
    for server in servers().await {
        let backend = server.backend();
        let responder = server.token("respond").await;
        let reader = server.token("read").await;
        for (body, says) in [
            (
                json!({"network": "example.com", "reason": "x"}),
                "\"example.com\" is not an IP address",
            ),
            (
                json!({"network": "10.0.0.0/33", "reason": "x"}),
                "/33 is not a prefix length",
            ),
            (
                json!({"network": "10.0.0.1", "reason": "two\nlines"}),
                "the reason must be one line",
            ),
            (
                json!({"network": "10.0.0.1", "reason": "x", "for": "soon"}),
                "the block's span",
            ),
            (
                json!({"network": "10.0.0.1", "reason": "x", "for": "0m"}),
                "longer than zero",
            ),
            (
                json!({"network": "10.0.0.1", "reason": "x", "incident": "nine"}),
                "nine",
            ),
            (
                json!({"network": "10.0.0.1", "reason": "x", "until": "1h"}),
                "unknown field `until`",
            ),
            (json!({"reason": "x"}), "network"),
        ] {
            let (status, answer) = server.post("/api/v1/blocks", &responder, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {body}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{body}: {message}");
        }
        let (_, list) = server.get("/api/v1/blocks?all=true", &reader).await;
        assert_eq!(list, json!([]), "{backend}: nothing written");
        let (status, _) = read(
            server
                .request(Method::DELETE, "/api/v1/blocks/seven", &responder)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        server.stop().await;
    }
}
