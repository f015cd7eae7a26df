//! Maintenance mode of the plan's services and agents told to pause: turned on and off by
//! responders, polled by apps and agents (with an ETag), answered on heartbeat pushes, and
//! a paused agent's silence is no stale agent.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin_server::http::ServerConfig;
use tocsin_server::services::integrations::IntegrationKind;
use tocsin_server::testing::TestServer;
use tocsin_store::testing::TestDb;

fn plan() -> String {
    format!(
        "{}\n[[service]]\nid = \"api\"\nname = \"Public API\"\n\n[[service]]\nid = \"dashboard\"\nname = \"Dashboard\"\n",
        tocsin_core::plan::presets::FOUR_TIER.source
    )
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    etag: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(tag) = etag {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let tag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    (status, tag, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The state of `service` in an answer of `/api/v1/maintenance`.
fn of<'a>(state: &'a Value, service: &str) -> &'a Value {
    state
        .as_array()
        .and_then(|all| all.iter().find(|s| s["service"] == service))
        .unwrap_or_else(|| panic!("no {service} in {state}"))
}

#[tokio::test]
async fn maintenance_is_turned_on_and_off_by_responders_and_polled_cheaply_by_apps() {
    for db in TestDb::all().await {
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan()).await;
        let backend = server.backend();
        let app = server.token_secret("ingest").await;
        let responder = server.token_secret("respond").await;
        use reqwest::Method;
        let (status, tag, state) = call(&server, Method::GET, "/api/v1/maintenance", &app, None, None).await;
        assert_eq!(status, StatusCode::OK, "{backend}");
        assert_eq!(of(&state, "api")["maintenance"], false);
        let tag = tag.expect("an ETag");
        let (status, _, _) = call(&server, Method::GET, "/api/v1/maintenance", &app, None, Some(&tag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "unchanged costs a 304");

        let (status, _, body) = call(
            &server,
            Method::POST,
            "/api/v1/maintenance/api",
            &responder,
            Some(json!({"reason": "restoring the database", "for": "2h"})),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
        let (status, _, state) = call(&server, Method::GET, "/api/v1/maintenance", &app, None, Some(&tag)).await;
        assert_eq!(status, StatusCode::OK, "changed: a new answer");
        let api = of(&state, "api");
        assert_eq!(
            (&api["maintenance"], &api["reason"]),
            (&json!(true), &json!("restoring the database"))
        );
        assert!(
            api["until"].is_string() && of(&state, "dashboard")["maintenance"] == false,
            "{state}"
        );

        for (path, body, expected, says) in [
            (
                "/api/v1/maintenance/api",
                json!({"reason": "again"}),
                StatusCode::CONFLICT,
                "maintenance is on for api already",
            ),
            (
                "/api/v1/maintenance/apii",
                json!({"reason": "x"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "did you mean \"api\"?",
            ),
            (
                "/api/v1/maintenance/dashboard",
                json!({"reason": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "the reason must be one line",
            ),
            (
                "/api/v1/maintenance/dashboard",
                json!({"reason": "x", "for": "soon"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "span",
            ),
        ] {
            let (status, _, answer) = call(&server, Method::POST, path, &responder, Some(body.clone()), None).await;
            assert_eq!(status, expected, "{backend}: {path} {body}: {answer}");
            assert!(answer["error"]["message"].as_str().unwrap().contains(says), "{answer}");
        }
        // An app's token may read, not switch.
        let (status, _, _) = call(&server, Method::DELETE, "/api/v1/maintenance/api", &app, None, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = call(
            &server,
            Method::DELETE,
            "/api/v1/maintenance/api",
            &responder,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, answer) = call(
            &server,
            Method::DELETE,
            "/api/v1/maintenance/api",
            &responder,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        let (_, _, state) = call(&server, Method::GET, "/api/v1/maintenance", &app, None, None).await;
        assert_eq!(of(&state, "api")["maintenance"], false);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_paused_agent_is_told_so_where_it_asks_and_its_silence_is_no_stale_agent() {
    use reqwest::Method;
    for db in TestDb::all().await {
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan()).await;
        let backend = server.backend();
        let responder = server.token_secret("respond").await;
        let ingest = server.token_secret("ingest").await;
        let reader = server.token_secret("read").await;
        let key = server.integration(IntegrationKind::Heartbeat, "nightly-backup").await;
        let push = || async {
            let response = reqwest::Client::new()
                .post(format!("{}/api/v1/heartbeat/{key}", server.url))
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        };
        assert_eq!(push().await["directive"], "run", "{backend}");
        let (status, _, body) = call(
            &server,
            Method::POST,
            "/api/v1/agents/nightly-backup/pause",
            &responder,
            Some(json!({"reason": "its host is compromised"})),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let answer = push().await;
        assert_eq!(
            (&answer["directive"], &answer["reason"]),
            (&json!("pause"), &json!("its host is compromised"))
        );
        let (_, _, directive) = call(
            &server,
            Method::GET,
            "/api/v1/agents/nightly-backup/directive",
            &ingest,
            None,
            None,
        )
        .await;
        assert_eq!(directive["directive"], "pause");
        let (_, _, paused) = call(&server, Method::GET, "/api/v1/agents/paused", &reader, None, None).await;
        assert_eq!(paused[0]["agent"], "nightly-backup");

        // Another agent, paused, goes silent: its stale signal is kept on record only.
        call(
            &server,
            Method::POST,
            "/api/v1/agents/backup-2/pause",
            &responder,
            Some(json!({"reason": "moved"})),
            None,
        )
        .await;
        let long_ago = tocsin_core::Timestamp::now() - jiff::SignedDuration::from_mins(20);
        let beat = format!(r#"{{"kind":"heartbeat","ts":"{long_ago}","agent":"backup-2","version":"1"}}"#);
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/events", server.url))
            .bearer_auth(&ingest)
            .header("content-type", "application/x-ndjson")
            .body(beat)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let signal = tocsin_server::testing::eventually("the stale signal", || async {
            let (_, _, page) = call(
                &server,
                Method::GET,
                "/api/v1/signals?detector=stale_agent",
                &reader,
                None,
                None,
            )
            .await;
            page["items"].as_array().and_then(|items| items.first()).cloned()
        })
        .await;
        assert_eq!(signal["key"], "backup-2", "{backend}: {signal}");
        assert!(
            signal["suppressed"].as_str().unwrap().contains("the agent is paused"),
            "{signal}"
        );
        assert!(signal["incident"].is_null(), "no incident: {signal}");

        let (status, _, _) = call(
            &server,
            Method::POST,
            "/api/v1/agents/nightly-backup/resume",
            &responder,
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(push().await["directive"], "run");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_preset_s_actions_turn_maintenance_on_and_pause_an_agent_and_their_undo_turns_them_back() {
    use reqwest::Method;
    for db in TestDb::all().await {
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan()).await;
        let backend = server.backend();
        let responder = server.token_secret("read,respond").await;
        let (_, _, declared) = call(
            &server,
            Method::POST,
            "/api/v1/incidents",
            &responder,
            Some(json!({"title": "Compromised agent", "severity": "P2"})),
            None,
        )
        .await;
        let id = declared["incident"]["id"].as_str().unwrap().to_owned();
        call(
            &server,
            Method::POST,
            &format!("/api/v1/incidents/{id}/actions"),
            &responder,
            Some(json!({"action": "start_step", "step": "contain"})),
            None,
        )
        .await;
        let runs = format!("/api/v1/incidents/{id}/runs");
        let finished = |n: u32| {
            let server = &server;
            let responder = responder.clone();
            let path = format!("{runs}/{n}");
            async move {
                tocsin_server::testing::eventually("the run", || async {
                    let (_, _, doc) = call(server, Method::GET, &path, &responder, None, None).await;
                    (doc["state"] == "succeeded" || doc["state"] == "failed").then_some(doc)
                })
                .await
            }
        };
        let (status, _, run) = call(
            &server,
            Method::POST,
            &runs,
            &responder,
            Some(json!({"action": "maintenance-on", "inputs": {"service": "api", "for": "1h"}})),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {run}");
        assert_eq!(finished(1).await["state"], "succeeded");
        let (_, _, state) = call(&server, Method::GET, "/api/v1/maintenance", &responder, None, None).await;
        assert_eq!(of(&state, "api")["maintenance"], true, "{state}");
        call(
            &server,
            Method::POST,
            &runs,
            &responder,
            Some(json!({"action": "pause-agent", "inputs": {"agent": "worker-3"}})),
            None,
        )
        .await;
        assert_eq!(finished(2).await["state"], "succeeded");
        let (_, _, directive) = call(
            &server,
            Method::GET,
            "/api/v1/agents/worker-3/directive",
            &responder,
            None,
            None,
        )
        .await;
        assert_eq!(directive["directive"], "pause");

        // A service the plan does not name fails, saying so.
        call(
            &server,
            Method::POST,
            &runs,
            &responder,
            Some(json!({"action": "maintenance-on", "inputs": {"service": "billing"}})),
            None,
        )
        .await;
        let failed = finished(3).await;
        assert!(
            failed["outcome"]["summary"]
                .as_str()
                .unwrap()
                .contains("\"billing\" is no service of the plan"),
            "{failed}"
        );

        call(&server, Method::POST, &format!("{runs}/1/undo"), &responder, None, None).await;
        assert_eq!(finished(4).await["state"], "succeeded");
        call(&server, Method::POST, &format!("{runs}/2/undo"), &responder, None, None).await;
        assert_eq!(finished(5).await["state"], "succeeded");
        let (_, _, state) = call(&server, Method::GET, "/api/v1/maintenance", &responder, None, None).await;
        assert_eq!(of(&state, "api")["maintenance"], false);
        let (_, _, directive) = call(
            &server,
            Method::GET,
            "/api/v1/agents/worker-3/directive",
            &responder,
            None,
            None,
        )
        .await;
        assert_eq!(directive["directive"], "run");
        server.stop().await;
    }
}

#[tokio::test]
async fn responders_switch_maintenance_and_agents_from_the_maintenance_page() {
    let server = TestServer::start_with_plan(TestDb::sqlite(), ServerConfig::default(), &plan()).await;
    server.user("ruth", tocsin_core::identity::Role::Responder).await;
    let (secret, session) = server
        .identity
        .login(
            "ruth",
            tocsin_server::testing::PASSWORD,
            "127.0.0.1",
            "tests",
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    let cookie = format!("{}={}", tocsin_server::http::SESSION_COOKIE, secret.expose());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = || async {
        http.get(format!("{}/maintenance", server.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let post = |path: &str, fields: Vec<(&str, &str)>| {
        let mut all = vec![("csrf", session.csrf.as_str())];
        all.extend(fields);
        http.post(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .form(&all)
            .send()
    };
    assert!(page().await.contains("Start maintenance"));
    let on = post(
        "/maintenance/on/api",
        vec![("reason", "restoring the database"), ("for", "2h")],
    )
    .await
    .unwrap();
    assert_eq!(on.status(), StatusCode::SEE_OTHER);
    let shown = page().await;
    assert!(
        shown.contains("<strong>maintenance</strong>") && shown.contains("restoring the database"),
        "{shown}"
    );
    let refused = post("/maintenance/on/apii", vec![("reason", "x")]).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("did you mean"));
    assert_eq!(
        post("/maintenance/off/api", vec![]).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(
            "/maintenance/pause/agent",
            vec![("agent", "worker-9"), ("reason", "compromised host")]
        )
        .await
        .unwrap()
        .status(),
        StatusCode::SEE_OTHER
    );
    assert!(page().await.contains("worker-9"));
    assert_eq!(
        post("/maintenance/resume/worker-9", vec![]).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    assert!(page().await.contains("No agent is paused"));
    server.stop().await;
}
