//! Logins: recorded with address, user agent and outcome, and throttled per address and account.

use reqwest::StatusCode;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::identity::Role;
use tocsin_server::identity::{IdentityError, THROTTLE_PER_ACCOUNT};

use crate::helpers::{PASSWORD, servers};

#[tokio::test]
async fn every_login_attempt_is_recorded_and_repeated_failures_are_throttled() {
    for server in servers().await {
        let backend = server.backend();
        server.user("dana", Role::Responder).await;
        let now = Timestamp::now();
        let identity = &server.identity;
        assert!(
            identity
                .login("dana", PASSWORD, "10.0.0.1", "Firefox", now)
                .await
                .is_ok()
        );
        assert!(matches!(
            identity.login("nobody", PASSWORD, "10.0.0.2", "curl/8", now).await,
            Err(IdentityError::Unauthenticated(_))
        ));
        for _ in 0..THROTTLE_PER_ACCOUNT {
            let refused = identity
                .login("dana", "wrong password!", "10.0.0.3", "hydra", now)
                .await;
            assert!(matches!(refused, Err(IdentityError::Unauthenticated(_))), "{backend}");
        }
        // Now even the right password is refused, from anywhere, until the window passes.
        let throttled = identity.login("DANA", PASSWORD, "10.0.0.9", "Firefox", now).await;
        assert!(
            matches!(throttled, Err(IdentityError::Throttled { .. })),
            "{backend}: {throttled:?}"
        );
        let later = now.checked_add(jiff::SignedDuration::from_mins(16)).unwrap();
        assert!(
            identity
                .login("dana", PASSWORD, "10.0.0.9", "Firefox", later)
                .await
                .is_ok(),
            "{backend}"
        );

        let admin = server.token("admin").await;
        let (status, page) = server.get("/api/v1/logins?limit=500", &admin).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let outcomes: Vec<(&str, &str, &str)> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!((&a["service"], &a["origin"]), (&json!("tocsin"), &json!("tocsin")));
                (
                    a["reason"].as_str().unwrap(),
                    a["ip"].as_str().unwrap(),
                    a["user_agent"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            outcomes.len(),
            2 + THROTTLE_PER_ACCOUNT as usize + 2,
            "{backend}: {page}"
        );
        assert_eq!(outcomes[0], ("ok", "10.0.0.9", "Firefox"), "{backend}: newest first");
        assert_eq!(outcomes[1], ("throttled", "10.0.0.9", "Firefox"));
        assert!(outcomes.contains(&("invalid_user", "10.0.0.2", "curl/8")));
        assert_eq!(
            outcomes.iter().filter(|o| o.0 == "bad_password").count(),
            THROTTLE_PER_ACCOUNT as usize
        );
        let (_, failures) = server.get("/api/v1/logins?outcome=failure&ip=10.0.0.3", &admin).await;
        assert_eq!(
            failures["items"].as_array().unwrap().len(),
            THROTTLE_PER_ACCOUNT as usize,
            "{failures}"
        );
        let (status, bad) = server.get("/api/v1/logins?outcome=bad_password", &admin).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        server.stop().await;
    }
}

#[tokio::test]
async fn disabling_a_user_or_changing_their_password_ends_their_sessions() {
    for server in servers().await {
        let backend = server.backend();
        let admin = server.token("admin").await;
        let viewer = server.session(Role::Viewer).await;
        assert_eq!(server.get("/api/v1/me", &viewer).await.0, StatusCode::OK);
        let (_, me) = server.get("/api/v1/me", &viewer).await;
        let name = me["actor"].as_str().unwrap().to_owned();
        let (status, body) = server
            .request(reqwest::Method::PATCH, &format!("/api/v1/users/{name}"), &admin)
            .json(&json!({"disabled": true}))
            .send()
            .await
            .map(|r| r.status())
            .map(|s| (s, ()))
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{backend}: {body:?}");
        assert_eq!(
            server.get("/api/v1/me", &viewer).await.0,
            StatusCode::UNAUTHORIZED,
            "{backend}"
        );
        let refused = server
            .identity
            .login(&name, PASSWORD, "127.0.0.1", "t", Timestamp::now())
            .await;
        assert!(refused.is_err(), "{backend}: a disabled user logged in");
        server.stop().await;
    }
}

#[tokio::test]
async fn admins_add_users_and_tokens_that_are_shown_once() {
    for server in servers().await {
        let backend = server.backend();
        let admin = server.token("admin").await;
        let (status, body) = server
            .post("/api/v1/users", &admin, json!({"name": "sam", "role": "viewer"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
        let password = body["password"].as_str().unwrap().to_owned();
        assert!(password.len() >= 12);
        assert!(
            server
                .identity
                .login("sam", &password, "127.0.0.1", "t", Timestamp::now())
                .await
                .is_ok()
        );
        let (status, body) = server
            .post("/api/v1/users", &admin, json!({"name": "SAM", "role": "viewer"}))
            .await;
        assert_eq!(
            (status, crate::helpers::code(&body)),
            (StatusCode::CONFLICT, "duplicate"),
            "{body}"
        );
        let (status, body) = server
            .post(
                "/api/v1/users",
                &admin,
                json!({"name": "kim", "role": "viewer", "password": "short"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // A change with a refused password changes nothing, not even the role.
        let response = server
            .request(reqwest::Method::PATCH, "/api/v1/users/sam", &admin)
            .json(&json!({"role": "admin", "password": "short"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let (_, users) = server.get("/api/v1/users", &admin).await;
        let sam = users.as_array().unwrap().iter().find(|u| u["name"] == "sam").unwrap();
        assert_eq!(sam["role"], "viewer", "{backend}: half of a refused change was applied");

        let (status, token) = server
            .post("/api/v1/tokens", &admin, json!({"name": "ci", "scopes": "read"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        let secret = token["secret"].as_str().unwrap();
        assert!(secret.starts_with("tocsin_"));
        let (_, list) = server.get("/api/v1/tokens", &admin).await;
        assert!(!list.to_string().contains(secret), "a token list shows a secret");
        let ci = crate::helpers::Auth::Token(secret.to_owned());
        assert_eq!(server.get("/api/v1/incidents", &ci).await.0, StatusCode::OK);
        let (_, list) = server.get("/api/v1/tokens", &admin).await;
        let listed = list.as_array().unwrap().iter().find(|t| t["name"] == "ci").unwrap();
        assert!(
            listed["last_used_at"].is_string(),
            "{backend}: last use not recorded: {listed}"
        );
        server.stop().await;
    }
}
