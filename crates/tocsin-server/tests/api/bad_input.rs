//! Bad requests get the documented error and change nothing.

use reqwest::StatusCode;
use tocsin_core::Timestamp;
use tocsin_core::identity::Scopes;
use tocsin_server::services::identity::digest;
use tocsin_store::identity::NewToken;

use crate::helpers::{Auth, admin_actor, code, read, servers};

#[tokio::test]
async fn malformed_unknown_oversized_or_mistyped_bodies_are_refused_and_change_nothing() {
    for server in servers().await {
        let backend = server.backend();
        let Auth::Token(token) = server.token("read,respond").await else {
            unreachable!()
        };
        let auth = Auth::Token(token.clone());
        let id = server.declare(&auth, "Target", "P3").await;
        let before = server.footprint().await;
        let huge = format!(r#"{{"title": "{}", "severity": "P3"}}"#, "x".repeat(70 * 1024));
        let cases: [(&str, &str, &str, String, StatusCode, &str); 8] = [
            (
                "malformed JSON",
                "/api/v1/incidents",
                "application/json",
                r#"{"title": "x", "#.into(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "not an object",
                "/api/v1/incidents",
                "application/json",
                "[1, 2]".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "unknown field",
                "/api/v1/incidents",
                "application/json",
                r#"{"title": "x", "severity": "P3", "sevrity": "P1"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "unknown action",
                &format!("/api/v1/incidents/{id}/actions"),
                "application/json",
                r#"{"action": "explode"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "unknown field of an action",
                &format!("/api/v1/incidents/{id}/actions"),
                "application/json",
                r#"{"action": "acknowledge", "by": "mallory"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "oversized body",
                "/api/v1/incidents",
                "application/json",
                huge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                "wrong content type",
                "/api/v1/incidents",
                "text/plain",
                r#"{"title": "x", "severity": "P3"}"#.into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "a rule of the plan",
                "/api/v1/incidents",
                "application/json",
                r#"{"title": "x", "severity": "P9"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
            ),
        ];
        for (what, path, content_type, body, status, expected) in cases {
            let response = server
                .client
                .post(format!("{}{path}", server.url))
                .bearer_auth(&token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let (got, body) = read(response).await;
            assert_eq!(got, status, "{backend}: {what}: {body}");
            assert_eq!(code(&body), expected, "{backend}: {what}: {body}");
            assert_eq!(server.footprint().await, before, "{backend}: {what} changed something");
        }
        let (status, body) = server.get("/api/v1/incidents?limit=0", &auth).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_parameter"),
            "{body}"
        );
        let (status, body) = server.get("/api/v1/incidents?colour=red", &auth).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_parameter"),
            "{body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("colour"), "{body}");
        let (status, body) = server.get("/api/v1/incidents/INC-x", &auth).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_parameter"),
            "{body}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn expired_revoked_unknown_and_garbled_tokens_are_refused() {
    for server in servers().await {
        let backend = server.backend();
        // An expired token, put in place directly: the API refuses to create one.
        let expired = "tocsin_00000000000000000000000000000000000000000000000000000000000000ee";
        let past = Timestamp::from_second(1_700_000_000).unwrap();
        server
            .store
            .create_token(
                NewToken {
                    name: "old".into(),
                    scopes: "read,respond".parse::<Scopes>().unwrap(),
                    hash: digest(expired),
                    hint: "00ee".into(),
                    created_by: "test".into(),
                    at: past,
                    expires_at: Some(past),
                },
                tocsin_core::audit::EntryDraft::system("token_created", &admin_actor(), past, serde_json::json!({})),
            )
            .await
            .unwrap();
        let Auth::Token(revoked) = server.token("read,respond").await else {
            unreachable!()
        };
        let admin = server.token("admin").await;
        // Used once, so a cached verification would be tempted to let it through again.
        assert_eq!(
            server.get("/api/v1/incidents", &Auth::Token(revoked.clone())).await.0,
            StatusCode::OK
        );
        let name = server
            .identity
            .tokens()
            .await
            .unwrap()
            .into_iter()
            .find(|t| revoked.ends_with(&t.hint))
            .unwrap()
            .name;
        let response = server
            .request(reqwest::Method::DELETE, &format!("/api/v1/tokens/{name}"), &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{backend}");
        let before = server.footprint().await;
        let cases = [
            (Auth::Token(expired.into()), "expired"),
            (Auth::Token(revoked), "revoked"),
            (Auth::Token("tocsin_ffff".into()), "not known"),
            (Auth::Token("hunter2".into()), "not a tocsin token"),
        ];
        for (auth, reason) in cases {
            for (status, body) in [
                server.get("/api/v1/incidents", &auth).await,
                server
                    .post(
                        "/api/v1/incidents",
                        &auth,
                        serde_json::json!({"title": "x", "severity": "P4"}),
                    )
                    .await,
            ] {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend}: {reason}: {body}");
                assert_eq!(code(&body), "unauthenticated");
                assert!(
                    body["error"]["message"].as_str().unwrap().contains(reason),
                    "{reason}: {body}"
                );
            }
        }
        let response = server
            .client
            .get(format!("{}/api/v1/incidents", server.url))
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            server.footprint().await,
            before,
            "{backend}: refused requests changed something"
        );
        server.stop().await;
    }
}

/// Issue 16, item 9: invalid UTF-8 inside a JSON body panicked a handler and dropped the
/// connection. Every endpoint that takes a body, API, web forms and senders alike, answers
/// a body with invalid UTF-8 with a 4xx.
#[tokio::test]
async fn invalid_utf8_to_every_endpoint_is_a_4xx_never_a_panic() {
    use tocsin_server::services::integrations::IntegrationKind;
    for server in servers().await {
        let backend = server.backend();
        let token = server.token("read,respond,ingest,admin").await;
        let Auth::Session { cookie, csrf } = server.session(tocsin_core::identity::Role::Admin).await else {
            unreachable!()
        };
        let alerts = server.integration(IntegrationKind::Alertmanager, "prometheus").await;
        let (sentry_id, sentry) = server
            .integration_with(IntegrationKind::Sentry, "shop", serde_json::json!({}))
            .await;
        let heartbeat = server.integration(IntegrationKind::Heartbeat, "backup").await;
        let hooks = server
            .integration(IntegrationKind::SentryWebhook, "sentry-alerts")
            .await;
        let id = server.declare(&token, "Target", "P3").await;
        let mut targets: Vec<(reqwest::Method, String, Auth)> = crate::authorization::routes()
            .into_iter()
            .filter(|(method, ..)| *method != reqwest::Method::GET)
            .map(|(method, path, ..)| (method, path.to_owned(), token.clone()))
            .collect();
        let session = Auth::Session { cookie, csrf };
        for path in [
            "/login".to_owned(),
            "/incidents".to_owned(),
            format!("/incidents/{id}/act"),
            "/plan".to_owned(),
            "/logout".to_owned(),
        ] {
            targets.push((reqwest::Method::POST, path, session.clone()));
        }
        for path in [
            "/api/v2/alerts".to_owned(),
            format!("/api/v1/webhooks/alertmanager/{alerts}"),
            "/v2/enqueue".to_owned(),
            format!("/api/{sentry_id}/envelope/?sentry_key={sentry}"),
            format!("/api/{sentry_id}/store/?sentry_key={sentry}"),
            format!("/api/v1/webhooks/sentry/{hooks}"),
            format!("/api/v1/heartbeat/{heartbeat}"),
        ] {
            targets.push((reqwest::Method::POST, path, Auth::Token(alerts.clone())));
        }
        for (method, path, auth) in targets {
            for (content_type, body) in [
                (
                    "application/json",
                    b"{\"title\": \"\xff\xfe\", \"severity\": \"P3\"}".to_vec(),
                ),
                (
                    "application/json",
                    b"[{\"labels\":{\"alertname\":\"A\"},\"junk\":\"\xff\"}]".to_vec(),
                ),
                (
                    "application/x-www-form-urlencoded",
                    b"csrf=\xff&title=\xc3&severity=P3".to_vec(),
                ),
                (
                    "application/x-ndjson",
                    b"{\"kind\":\"heartbeat\",\"agent\":\"\xff\"}\n".to_vec(),
                ),
            ] {
                let response = server
                    .request(method.clone(), &path, &auth)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{backend}: {method} {path}: the connection dropped: {e}"));
                let status = response.status();
                // A heartbeat reads only `status` and `msg`, and reads them leniently; evidence
                // is whatever bytes it is, kept as they came; running the daily audit takes
                // no body and reads none.
                let lenient = (path.contains("/heartbeat/") && status == StatusCode::OK)
                    || (path.contains("/evidence") && status == StatusCode::CREATED)
                    || (path == "/api/v1/daily-audits/run" && status == StatusCode::OK);
                assert!(
                    status.is_client_error() || lenient,
                    "{backend}: {method} {path} ({content_type}): {status} {}",
                    response.text().await.unwrap_or_default()
                );
            }
        }
        server.stop().await;
    }
}
