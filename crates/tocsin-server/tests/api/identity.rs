//! Logins: recorded with address, user agent and outcome, and throttled per address and account.

use reqwest::StatusCode;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::identity::Role;
use tocsin_server::services::identity::{Identity, IdentityError, LOGIN_LIMITS};

use crate::helpers::{PASSWORD, servers};
use crate::web::login_form;

const THROTTLE_PER_ACCOUNT: u64 = LOGIN_LIMITS.per_account_and_address;

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
        // Now even the right password is refused from that address until the window passes.
        let throttled = identity.login("DANA", PASSWORD, "10.0.0.3", "Firefox", now).await;
        assert!(
            matches!(throttled, Err(IdentityError::Throttled { .. })),
            "{backend}: {throttled:?}"
        );
        let later = now.checked_add(jiff::SignedDuration::from_mins(16)).unwrap();
        assert!(
            identity
                .login("dana", PASSWORD, "10.0.0.3", "Firefox", later)
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
        assert_eq!(outcomes[0], ("ok", "10.0.0.3", "Firefox"), "{backend}: newest first");
        assert_eq!(outcomes[1], ("throttled", "10.0.0.3", "Firefox"));
        assert!(outcomes.contains(&("invalid_user", "10.0.0.2", "curl/8")));
        assert_eq!(
            outcomes.iter().filter(|o| o.0 == "bad_password").count(),
            THROTTLE_PER_ACCOUNT as usize
        );
        let (_, failures) = server.get("/api/v1/logins?outcome=failure&ip=10.0.0.3", &admin).await;
        assert_eq!(
            failures["items"].as_array().unwrap().len(),
            THROTTLE_PER_ACCOUNT as usize + 1,
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

/// Issue 16, item 1: the failures were counted before the ~50 ms password check and
/// written after it, so 40 logins at once had 39 wrong passwords checked and the right
/// one, sent last, let in. Half of this burst goes to a second server over the same
/// database.
#[tokio::test]
async fn a_burst_of_concurrent_logins_checks_no_more_passwords_than_the_throttle_allows() {
    const BURST: usize = 60;
    for server in servers().await {
        let backend = server.backend();
        server.user("dana", Role::Responder).await;
        let other = Identity::new(server.db.open().await);
        let (cookie, csrf) = login_form(&server).await;
        let mut burst = tokio::task::JoinSet::new();
        for i in 0..BURST {
            let password = if i == BURST - 1 {
                PASSWORD.to_owned()
            } else {
                format!("wrong password {i}")
            };
            if i % 2 == 0 {
                let post = server
                    .client
                    .post(format!("{}/login", server.url))
                    .header("cookie", &cookie)
                    .form(&[("name", "dana"), ("password", &password), ("csrf", &csrf)]);
                burst.spawn(async move { post.send().await.unwrap().status() == StatusCode::SEE_OTHER });
            } else {
                let other = other.clone();
                burst.spawn(async move {
                    other
                        .login("dana", &password, "127.0.0.1", "burst", Timestamp::now())
                        .await
                        .is_ok()
                });
            }
        }
        burst.join_all().await;
        let checked = server
            .db
            .scalar("SELECT COUNT(*) FROM login_attempts WHERE outcome IN ('success', 'bad_password')")
            .await;
        eprintln!("{backend}: {checked} of {BURST} concurrent logins had their password checked");
        assert!(
            checked <= THROTTLE_PER_ACCOUNT as i64,
            "{backend}: {checked} passwords of {BURST} were checked"
        );
        let throttled = server
            .db
            .scalar("SELECT COUNT(*) FROM login_attempts WHERE outcome = 'throttled'")
            .await;
        assert_eq!(
            checked + throttled,
            BURST as i64,
            "{backend}: every attempt is recorded"
        );
        assert_eq!(
            server.identity.passwords_checked() + other.passwords_checked(),
            checked as u64,
            "{backend}"
        );
        server.stop().await;
    }
}

/// Issue 16, item 16: six wrong passwords from anyone locked any account, the admin's
/// included, for 15 minutes.
#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_account_for_its_owner_elsewhere() {
    for server in servers().await {
        let backend = server.backend();
        server.user("dana", Role::Admin).await;
        let identity = &server.identity;
        let now = Timestamp::now();
        for _ in 0..=THROTTLE_PER_ACCOUNT {
            let refused = identity
                .login("dana", "wrong password!", "203.0.113.66", "hydra", now)
                .await;
            assert!(refused.is_err(), "{backend}");
        }
        let attacker = identity.login("dana", PASSWORD, "203.0.113.66", "hydra", now).await;
        assert!(
            matches!(attacker, Err(IdentityError::Throttled { .. })),
            "{backend}: {attacker:?}"
        );
        let owner = identity.login("dana", PASSWORD, "198.51.100.7", "Firefox", now).await;
        assert!(owner.is_ok(), "{backend}: the owner was locked out: {owner:?}");
        server.stop().await;
    }
}

/// Issue 16, item 16: an attack on one account from many addresses is slowed for
/// addresses the account has not logged in from, while a familiar address gets in at
/// once and a new one within a few seconds.
#[tokio::test]
async fn a_distributed_attack_on_one_account_is_slowed_but_never_locks_it() {
    for server in servers().await {
        let backend = server.backend();
        server.user("dana", Role::Responder).await;
        let identity = &server.identity;
        let now = Timestamp::now();
        let yesterday = now.checked_sub(jiff::SignedDuration::from_hours(24)).unwrap();
        assert!(
            identity
                .login("dana", PASSWORD, "198.51.100.7", "Firefox", yesterday)
                .await
                .is_ok()
        );
        let mut throttled = 0;
        for i in 0..LOGIN_LIMITS.per_account + 3 {
            let ip = format!("203.0.113.{i}");
            match identity.login("dana", "wrong password!", &ip, "botnet", now).await {
                Err(IdentityError::Unauthenticated(_)) => {}
                Err(IdentityError::Throttled { retry_after_secs }) => {
                    assert!(retry_after_secs <= LOGIN_LIMITS.slowed_every.as_secs() as u64);
                    throttled += 1;
                }
                other => panic!("{backend}: {other:?}"),
            }
        }
        assert_eq!(throttled, 3, "{backend}: past the limit, strangers wait their turn");
        let stranger = identity.login("dana", PASSWORD, "192.0.2.1", "Firefox", now).await;
        assert!(
            matches!(stranger, Err(IdentityError::Throttled { .. })),
            "{backend}: {stranger:?}"
        );
        let familiar = identity.login("dana", PASSWORD, "198.51.100.7", "Firefox", now).await;
        assert!(familiar.is_ok(), "{backend}: {familiar:?}");
        let soon = now.checked_add(LOGIN_LIMITS.slowed_every).unwrap();
        let stranger = identity.login("dana", PASSWORD, "192.0.2.1", "Firefox", soon).await;
        assert!(stranger.is_ok(), "{backend}: {stranger:?}");
        server.stop().await;
    }
}

/// Issue 16, item 8: a known user's password over 1,024 bytes was refused without a
/// check (3.8 ms), an unknown user's was checked against the decoy (55 ms).
#[tokio::test]
async fn an_over_long_password_costs_one_check_for_known_and_unknown_users_alike() {
    for server in servers().await {
        let backend = server.backend();
        server.user("dana", Role::Responder).await;
        let identity = &server.identity;
        let long = format!("{PASSWORD}{}", "x".repeat(tocsin_core::identity::PASSWORD_MAX_BYTES));
        for (i, name) in ["dana", "nobody"].into_iter().enumerate() {
            let before = identity.passwords_checked();
            let ip = format!("10.0.0.{i}");
            let refused = identity.login(name, &long, &ip, "t", Timestamp::now()).await;
            assert!(matches!(refused, Err(IdentityError::Unauthenticated(_))), "{backend}");
            assert_eq!(identity.passwords_checked(), before + 1, "{backend}: {name}");
        }
        server.stop().await;
    }
}
