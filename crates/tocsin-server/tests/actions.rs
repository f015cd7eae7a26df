//! The plan's actions run for real against peers on loopback: an API that revokes tokens,
//! the team's own service taking Standard Webhooks, a local program, and tocsin's own
//! blocks; asked for, approved by another person, carried out once, captured, undone.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use base64::Engine;
use hmac::{KeyInit, Mac};
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin_core::identity::Role;
use tocsin_server::http::ServerConfig;
use tocsin_server::testing::{TestServer, eventually};
use tocsin_store::testing::TestDb;

/// What the peer received: method, path, headers, body.
type Seen = Arc<Mutex<Vec<(String, String, HeaderMap, String)>>>;

/// A peer on loopback that records every request and answers as its path says.
async fn peer() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let kept = Arc::clone(&kept);
        async move {
            let path = uri.path().to_owned();
            kept.lock().unwrap().push((
                method.to_string(),
                path.clone(),
                headers,
                String::from_utf8_lossy(&body).into_owned(),
            ));
            if path.contains("broken") {
                (AxumStatus::SERVICE_UNAVAILABLE, "down for maintenance".to_owned())
            } else if path.contains("echo") {
                // An API that repeats what it was sent, the credential included.
                let sent = kept.lock().unwrap().last().unwrap().2["authorization"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                (AxumStatus::OK, json!({"you_sent": sent}).to_string())
            } else {
                (AxumStatus::OK, json!({"id": "tok_revoked_1", "ok": true}).to_string())
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

const WEBHOOK_KEY: &[u8] = b"the shared webhook signing key!";

fn plan(peer: &str, secrets: &std::path::Path) -> String {
    let token = secrets.join("api-token");
    std::fs::write(&token, "s3cret-api-token\n").unwrap();
    let hook = secrets.join("hook");
    let encoded = base64::engine::general_purpose::STANDARD.encode(WEBHOOK_KEY);
    std::fs::write(&hook, format!("whsec_{encoded}")).unwrap();
    let program = secrets.join("rotate.sh");
    std::fs::write(
        &program,
        "#!/bin/sh\necho \"{\\\"rotated\\\": \\\"$1\\\", \\\"account\\\": \\\"$TOCSIN_INPUT_ACCOUNT\\\"}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!(
        r#"{preset}

[[person]]
id = "cai"
name = "Cai"

[[action]]
id = "revoke-token"
name = "Revoke a leaked API token"
kind = "http"
method = "DELETE"
url = "{peer}/v1/tokens/{{{{ input.token }}}}"
headers = {{ Authorization = "Bearer {{{{ secret }}}}", X-Incident = "{{{{ incident.id }}}}" }}
secret_file = "{token}"
capture = {{ revoked = "/id" }}
idempotent = true
step = "contain"
item = 1
[[action.input]]
name = "token"
type = "string"
[action.approval]
two_people = true

[[action]]
id = "pause-app-agent"
name = "Pause an agent in the app"
kind = "webhook"
url = "{peer}/hooks/tocsin"
secret_file = "{hook}"
[[action.input]]
name = "agent"
type = "account"

[[action]]
id = "flaky"
name = "Call a service that is down"
kind = "http"
url = "{peer}/broken"
idempotent = true
retries = 1
retry_wait = "1s"

[[action]]
id = "block-source"
name = "Block an address"
kind = "block"

[[action]]
id = "echo"
name = "Call an API that repeats its credential"
kind = "http"
url = "{peer}/echo"
headers = {{ Authorization = "Bearer {{{{ secret }}}}" }}
secret_file = "{token}"
capture = {{ sent = "/you_sent" }}

[[action]]
id = "rotate-keys"
name = "Rotate the vault keys"
kind = "command"
program = "{program}"
args = ["{{{{ incident.id }}}}"]
capture = {{ rotated = "/rotated" }}
[[action.input]]
name = "account"
type = "account"

[[action]]
id = "needs-a-secret"
name = "Call with a secret that is not set"
kind = "http"
url = "{peer}/x"
secret_env = "TOCSIN_TEST_SURELY_UNSET_SECRET"
"#,
        preset = tocsin_core::plan::presets::FOUR_TIER.source,
        token = token.display(),
        hook = hook.display(),
        program = program.display(),
    )
}

struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, token, Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.send(Method::GET, path, token, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// Waits for run `run` of `id` to end (succeed or fail); the run.
    async fn finished(&self, id: &str, run: u32, token: &str) -> Value {
        eventually(&format!("run {run} of {id} to finish"), || async {
            let doc = self.get(&format!("/api/v1/incidents/{id}/runs/{run}"), token).await;
            matches!(doc["state"].as_str(), Some("succeeded" | "failed")).then_some(doc)
        })
        .await
    }
}

async fn token_of(server: &TestServer, user: &str) -> String {
    server.user(user, Role::Responder).await;
    let (_, secret) = server
        .identity
        .create_token(
            &format!("{user}-token"),
            "read,respond".parse().unwrap(),
            None,
            &tocsin_core::incident::Actor::parse(user).unwrap(),
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    secret.expose().to_owned()
}

#[tokio::test]
async fn a_run_approved_by_another_person_calls_the_api_once_with_its_secret_and_ticks_its_item() {
    for db in TestDb::all().await {
        let (peer, seen) = peer().await;
        let secrets = tempfile::tempdir().unwrap();
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan(&peer, secrets.path())).await;
        let backend = server.backend();
        let client = Client {
            url: server.url.clone(),
            http: reqwest::Client::new(),
        };
        let ana = token_of(&server, "ana").await;
        let cai = token_of(&server, "cai").await;
        let (_, declared) = client
            .post(
                "/api/v1/incidents",
                &ana,
                json!({"title": "Leaked API token", "severity": "P2"}),
            )
            .await;
        let id = declared["incident"]["id"].as_str().unwrap().to_owned();
        let runs = format!("/api/v1/incidents/{id}/runs");

        // Before its step starts, it is refused.
        let (status, body) = client
            .post(
                &runs,
                &ana,
                json!({"action": "revoke-token", "inputs": {"token": "tok_1"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("step contain, which has not started")
        );
        let (status, _) = client
            .post(
                &format!("/api/v1/incidents/{id}/actions"),
                &ana,
                json!({"action": "start_step", "step": "contain"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // A dry run shows what would go, the secret masked, and records nothing.
        let (status, dry) = client
            .post(
                &runs,
                &ana,
                json!({"action": "revoke-token", "inputs": {"token": "tok 1/../x"}, "dry_run": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dry}");
        assert_eq!(dry["url"], format!("{peer}/v1/tokens/tok%201%2F..%2Fx"));
        let shown = dry.to_string();
        assert!(shown.contains("Bearer ••••••") && !shown.contains("s3cret"), "{shown}");

        let (status, run) = client
            .post(
                &runs,
                &ana,
                json!({"action": "revoke-token", "inputs": {"token": "tok_1"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {run}");
        assert_eq!(
            (run["run"].as_u64(), run["state"].as_str()),
            (Some(1), Some("awaiting_approval"))
        );
        let (status, body) = client.post(&format!("{runs}/1/approve"), &ana, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(seen.lock().unwrap().is_empty(), "nothing is sent before the approval");

        // A token is no person: approving is signed in.
        let (status, body) = client.post(&format!("{runs}/1/approve"), &cai, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (secret, session) = server
            .identity
            .login(
                "cai",
                tocsin_server::testing::PASSWORD,
                "127.0.0.1",
                "tests",
                jiff::Timestamp::now(),
            )
            .await
            .unwrap();
        let approved = client
            .http
            .post(format!("{}{runs}/1/approve", client.url))
            .header(
                "cookie",
                format!("{}={}", tocsin_server::http::SESSION_COOKIE, secret.expose()),
            )
            .header("x-csrf-token", session.csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(approved.status(), StatusCode::OK, "{}", approved.text().await.unwrap());
        let done = client.finished(&id, 1, &ana).await;
        assert_eq!(done["state"], "succeeded", "{backend}: {done}");
        assert_eq!(done["outcome"]["captured"]["revoked"], "tok_revoked_1");
        assert_eq!(done["approvals"][0]["by"], "cai");
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 1, "sent once");
            let (method, path, headers, _) = &seen[0];
            assert_eq!((method.as_str(), path.as_str()), ("DELETE", "/v1/tokens/tok_1"));
            assert_eq!(headers["authorization"], "Bearer s3cret-api-token");
            assert_eq!(headers["x-incident"], id.as_str());
        }
        let incident = client.get(&format!("/api/v1/incidents/{id}"), &ana).await;
        let contain = incident["incident"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "contain")
            .unwrap();
        assert!(contain["checklist"][0]["done"].is_object(), "{contain}");
        let timeline = client.get(&format!("/api/v1/incidents/{id}/timeline"), &ana).await;
        let actions: Vec<&str> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .filter(|a| a.starts_with("action_"))
            .collect();
        assert_eq!(
            actions,
            [
                "action_requested",
                "action_approved",
                "action_started",
                "action_finished"
            ],
            "{timeline}"
        );

        // Bad requests are refused naming the problem, and change nothing.
        for (body, says) in [
            (
                json!({"action": "revoke-tokn", "inputs": {}}),
                "did you mean \"revoke-token\"?",
            ),
            (
                json!({"action": "revoke-token", "inputs": {"tokn": "x"}}),
                "has no input \"tokn\"; did you mean \"token\"?",
            ),
            (json!({"action": "revoke-token", "inputs": {}}), "needs input \"token\""),
            (
                json!({"action": "block-source", "inputs": {"address": "300.1.1.1"}}),
                "is not an IP address",
            ),
            (
                json!({"action": "needs-a-secret"}),
                "the environment variable TOCSIN_TEST_SURELY_UNSET_SECRET is not set",
            ),
        ] {
            let (status, answer) = client.post(&runs, &ana, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{body}: {message}");
        }
        assert_eq!(
            client.get(&runs, &ana).await.as_array().unwrap().len(),
            1,
            "nothing recorded"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn webhooks_are_signed_programs_run_without_a_shell_blocks_are_undone_and_failures_retried() {
    let db = TestDb::sqlite();
    let (peer, seen) = peer().await;
    let secrets = tempfile::tempdir().unwrap();
    let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan(&peer, secrets.path())).await;
    let client = Client {
        url: server.url.clone(),
        http: reqwest::Client::new(),
    };
    let ana = token_of(&server, "ana").await;
    let (_, declared) = client
        .post(
            "/api/v1/incidents",
            &ana,
            json!({"title": "Agent compromised", "severity": "P2"}),
        )
        .await;
    let id = declared["incident"]["id"].as_str().unwrap().to_owned();
    let runs = format!("/api/v1/incidents/{id}/runs");

    // The webhook: Standard Webhooks headers, the signature checked as a receiver would.
    let (status, run) = client
        .post(
            &runs,
            &ana,
            json!({"action": "pause-app-agent", "inputs": {"agent": "agent-7"}}),
        )
        .await;
    assert_eq!(
        (status, run["state"].as_str()),
        (StatusCode::CREATED, Some("ready")),
        "{run}"
    );
    assert_eq!(client.finished(&id, 1, &ana).await["state"], "succeeded");
    {
        let seen = seen.lock().unwrap();
        let (_, path, headers, body) = seen.iter().find(|s| s.1 == "/hooks/tocsin").unwrap();
        assert_eq!(path, "/hooks/tocsin");
        let msg_id = headers["webhook-id"].to_str().unwrap();
        let timestamp = headers["webhook-timestamp"].to_str().unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_KEY).unwrap();
        mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
        let expected = format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
        assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (&sent["action"], &sent["inputs"]["agent"]),
            (&json!("pause-app-agent"), &json!("agent-7"))
        );
    }

    // A local program, its output captured.
    client
        .post(
            &runs,
            &ana,
            json!({"action": "rotate-keys", "inputs": {"account": "billing"}}),
        )
        .await;
    let rotated = client.finished(&id, 2, &ana).await;
    assert_eq!(rotated["state"], "succeeded", "{rotated}");
    assert_eq!(rotated["outcome"]["captured"]["rotated"], id.as_str());
    assert!(
        rotated["outcome"]["summary"]
            .as_str()
            .unwrap()
            .contains("\"account\": \"billing\"")
    );

    // A block, then its undo.
    client
        .post(
            &runs,
            &ana,
            json!({"action": "block-source", "inputs": {"address": "203.0.113.9", "for": "1h"}}),
        )
        .await;
    let blocked = client.finished(&id, 3, &ana).await;
    assert_eq!(blocked["state"], "succeeded", "{blocked}");
    let blocks = client.get("/api/v1/blocks", &ana).await;
    assert_eq!(blocks[0]["network"], "203.0.113.9/32");
    assert_eq!(blocks[0]["incident"], id.as_str());
    let (status, undo) = client.post(&format!("{runs}/3/undo"), &ana, json!({})).await;
    assert_eq!(
        (status, undo["undoes"].as_u64()),
        (StatusCode::CREATED, Some(3)),
        "{undo}"
    );
    assert_eq!(client.finished(&id, 4, &ana).await["state"], "succeeded");
    assert_eq!(client.get("/api/v1/blocks", &ana).await, json!([]));
    assert_eq!(client.get(&format!("{runs}/3"), &ana).await["undone_by"], 4);
    let (status, again) = client.post(&format!("{runs}/3/undo"), &ana, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // An answer that repeats the secret keeps it masked.
    client.post(&runs, &ana, json!({"action": "echo"})).await;
    let echoed = client.finished(&id, 5, &ana).await;
    let kept = echoed.to_string();
    assert!(
        !kept.contains("s3cret-api-token") && kept.contains("Bearer ••••••"),
        "{kept}"
    );

    // A service that is down: tried again once, then failed for good.
    client.post(&runs, &ana, json!({"action": "flaky"})).await;
    let failed = eventually("the retry to fail", || async {
        let doc = client.get(&format!("{runs}/6"), &ana).await;
        (doc["state"] == "failed").then_some(doc)
    })
    .await;
    assert_eq!(failed["attempts"], 2, "{failed}");
    assert!(
        failed["outcome"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 503: down for maintenance")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_brute_force_rule_blocks_the_address_for_a_day_without_asking_anyone_and_only_once() {
    for db in TestDb::all().await {
        let plan = format!(
            r#"{}

[[action]]
id = "block-source"
name = "Block an address"
kind = "block"
[action.approval]
needs = 1
except_rules = true

[[rule]]
detector = "brute_force"
action = "open"
severity = "P2"
run = [{{ action = "block-source", inputs = {{ address = "{{{{ signal.key }}}}", for = "24h", reason = "brute force on logins" }} }}]
"#,
            tocsin_core::plan::presets::FOUR_TIER.source
        );
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan).await;
        let backend = server.backend();
        let client = Client {
            url: server.url.clone(),
            http: reqwest::Client::new(),
        };
        let ingest = server.token_secret("ingest").await;
        let reader = server.token_secret("read").await;
        let attempt = |second: u32| {
            format!(
                r#"{{"kind":"auth","ts":"2026-01-05T03:{:02}:{:02}Z","outcome":"failure","ip":"203.0.113.5","user":"root","service":"sshd","method":"password"}}"#,
                second / 60,
                second % 60
            )
        };
        let send = |lines: Vec<String>| {
            let client = &client;
            let ingest = ingest.clone();
            async move {
                let response = client
                    .http
                    .post(format!("{}/api/v1/events", client.url))
                    .bearer_auth(ingest)
                    .header("content-type", "application/x-ndjson")
                    .body(lines.join("\n"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            }
        };
        send((0..6).map(|i| attempt(i * 20)).collect()).await;
        let block = eventually("the address to be blocked", || async {
            let blocks = client.get("/api/v1/blocks", &reader).await;
            blocks.as_array().unwrap().first().cloned()
        })
        .await;
        assert_eq!(block["network"], "203.0.113.5/32", "{backend}: {block}");
        assert_eq!(block["reason"], "brute force on logins");
        assert!(block["expires"].is_string(), "for a day: {block}");
        let incident = block["incident"].as_str().unwrap().to_owned();
        let runs = client.get(&format!("/api/v1/incidents/{incident}/runs"), &reader).await;
        assert_eq!(runs[0]["automatic"], true);
        assert_eq!(runs[0]["needs"], 0, "a rule's request needs no approval here: {runs}");
        assert_eq!(runs[0]["requested_by"], "tocsin");

        // The attack goes on: its signals join the incident, and the block is not asked twice.
        send((6..20).map(|i| attempt(i * 20)).collect()).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let runs = client.get(&format!("/api/v1/incidents/{incident}/runs"), &reader).await;
        assert_eq!(runs.as_array().unwrap().len(), 1, "{backend}: {runs}");
        assert_eq!(client.get("/api/v1/blocks", &reader).await.as_array().unwrap().len(), 1);
        server.stop().await;
    }
}

/// A signed-in person's cookie and CSRF token.
async fn session_of(server: &TestServer, user: &str) -> (String, String) {
    let (secret, session) = server
        .identity
        .login(
            user,
            tocsin_server::testing::PASSWORD,
            "127.0.0.1",
            "tests",
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    (
        format!("{}={}", tocsin_server::http::SESSION_COOKIE, secret.expose()),
        session.csrf,
    )
}

#[tokio::test]
async fn a_run_is_asked_for_tried_dry_and_approved_from_the_incident_page() {
    let (peer, _) = peer().await;
    let secrets = tempfile::tempdir().unwrap();
    let server =
        TestServer::start_with_plan(TestDb::sqlite(), ServerConfig::default(), &plan(&peer, secrets.path())).await;
    let ana = token_of(&server, "ana").await;
    let _ = token_of(&server, "cai").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let client = Client {
        url: server.url.clone(),
        http: http.clone(),
    };
    let (_, declared) = client
        .post(
            "/api/v1/incidents",
            &ana,
            json!({"title": "Leaked API token", "severity": "P2"}),
        )
        .await;
    let id = declared["incident"]["id"].as_str().unwrap().to_owned();
    client
        .post(
            &format!("/api/v1/incidents/{id}/actions"),
            &ana,
            json!({"action": "start_step", "step": "contain"}),
        )
        .await;
    let form = |cookie: &str, path: String, fields: Vec<(&str, &str)>| {
        http.post(format!("{}{path}", server.url))
            .header("cookie", cookie)
            .form(&fields)
            .send()
    };
    let (ana_cookie, ana_csrf) = session_of(&server, "ana").await;
    let page = http
        .get(format!("{}/incidents/{id}", server.url))
        .header("cookie", &ana_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Beside the checklist item it carries out, and in the list of every action.
    assert!(
        page.contains("Run: Revoke a leaked API token") && page.contains("name=\"input.token\""),
        "{page}"
    );
    assert!(page.contains("No action has been asked for yet."));

    let dry = form(
        &ana_cookie,
        format!("/incidents/{id}/runs"),
        vec![
            ("csrf", &ana_csrf),
            ("action", "revoke-token"),
            ("input.token", "tok_9"),
            ("go", "dry"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(dry.status(), StatusCode::OK);
    let shown = dry.text().await.unwrap();
    assert!(
        shown.contains("A dry run would send this") && shown.contains("/v1/tokens/tok_9"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"));

    let asked = form(
        &ana_cookie,
        format!("/incidents/{id}/runs"),
        vec![
            ("csrf", &ana_csrf),
            ("action", "revoke-token"),
            ("input.token", "tok_9"),
            ("go", "run"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let refused = form(
        &ana_cookie,
        format!("/incidents/{id}/runs/1/approve"),
        vec![("csrf", &ana_csrf)],
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("wants someone else to approve it")
    );

    let (cai_cookie, cai_csrf) = session_of(&server, "cai").await;
    let approved = form(
        &cai_cookie,
        format!("/incidents/{id}/runs/1/approve"),
        vec![("csrf", &cai_csrf)],
    )
    .await
    .unwrap();
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(client.finished(&id, 1, &ana).await["state"], "succeeded");
    let page = http
        .get(format!("{}/incidents/{id}", server.url))
        .header("cookie", &cai_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("run-succeeded") && page.contains("1 of 1 approval(s): cai"),
        "{page}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_run_whose_action_left_the_plan_can_no_longer_be_approved() {
    let (peer, _) = peer().await;
    let secrets = tempfile::tempdir().unwrap();
    let first = plan(&peer, secrets.path());
    let server = TestServer::start_with_plan(TestDb::sqlite(), ServerConfig::default(), &first).await;
    let client = Client {
        url: server.url.clone(),
        http: reqwest::Client::new(),
    };
    let ana = token_of(&server, "ana").await;
    let admin = server.token_secret("admin").await;
    let (_, declared) = client
        .post("/api/v1/incidents", &ana, json!({"title": "Leak", "severity": "P2"}))
        .await;
    let id = declared["incident"]["id"].as_str().unwrap().to_owned();
    client
        .post(
            &format!("/api/v1/incidents/{id}/actions"),
            &ana,
            json!({"action": "start_step", "step": "contain"}),
        )
        .await;
    let (status, run) = client
        .post(
            &format!("/api/v1/incidents/{id}/runs"),
            &ana,
            json!({"action": "revoke-token", "inputs": {"token": "t"}}),
        )
        .await;
    assert_eq!(
        (status, run["state"].as_str()),
        (StatusCode::CREATED, Some("awaiting_approval")),
        "{run}"
    );
    // The plan loses the action while its run waits.
    let start = first.find("[[action]]\nid = \"revoke-token\"").unwrap();
    let end = first[start..].find("[[action]]\nid = \"pause-app-agent\"").unwrap() + start;
    let second = format!("{}{}", &first[..start], &first[end..]);
    let (status, applied) = client.post("/api/v1/plan", &admin, json!({"text": second})).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    // Approving it is refused, naming why; the worker gives it up when it comes due (a run
    // that is ready or running at once: see the core's tests).
    let _ = token_of(&server, "cai").await;
    let (cookie, csrf) = session_of(&server, "cai").await;
    let refused = client
        .http
        .post(format!("{}/api/v1/incidents/{id}/runs/1/approve", server.url))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("the plan has no action") && text.contains("revoke-token"),
        "{text}"
    );
    server.stop().await;
}

/// Issue 18: approving from email. A run waiting for approval is mailed to each person who
/// may approve it with a link of their own; opening the link changes nothing, and its
/// button approves as that person, once.
#[tokio::test]
async fn an_emailed_link_approves_a_run_once_as_its_person_and_opening_it_changes_nothing() {
    if !tocsin_notify::testing::smtp_server_available() {
        return;
    }
    for db in TestDb::all().await {
        let sink = tocsin_notify::testing::SmtpSink::start(&[]);
        let plan = format!(
            r#"{preset}

[[person]]
id = "ana"
name = "Ana"
email = "ana@example.com"

[[person]]
id = "cai"
name = "Cai"
email = "cai@example.com"

[[person]]
id = "dee"
name = "Dee"
email = "dee@example.com"

[[action]]
id = "block-by-hand"
name = "Block an address"
kind = "block"
[action.approval]
two_people = true
by = ["ana", "cai"]

[[channel]]
name = "mail"
type = "email"
url = "{smtp}"
tls = "none"
from = "tocsin@example.com"
to = ["security@example.com"]

[[route]]
channels = ["mail"]
events = ["action_requested"]
"#,
            preset = tocsin_core::plan::presets::FOUR_TIER.source,
            smtp = sink.url(),
        );
        let config = ServerConfig {
            public_url: Some("https://tocsin.example.com".into()),
            ..ServerConfig::default()
        };
        let server = TestServer::start_with_plan(db, config, &plan).await;
        let backend = server.backend();
        let ana = token_of(&server, "ana").await;
        let http = reqwest::Client::new();
        let client = Client {
            url: server.url.clone(),
            http: http.clone(),
        };
        let (_, declared) = client
            .post(
                "/api/v1/incidents",
                &ana,
                json!({"title": "Scanning", "severity": "P3"}),
            )
            .await;
        let id = declared["incident"]["id"].as_str().unwrap().to_owned();
        // ana asks, signed in: the plan wants someone else to approve.
        let (cookie, csrf) = session_of(&server, "ana").await;
        let asked = http
            .post(format!("{}/api/v1/incidents/{id}/runs", server.url))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"action": "block-by-hand", "inputs": {"address": "203.0.113.9"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(asked.status(), StatusCode::CREATED, "{}", asked.text().await.unwrap());

        // The channel's audience hears of it; cai, the one who may approve, gets a link;
        // ana (who asked) and dee (who may not approve) get none.
        sink.wait_for(2, Some(std::time::Duration::from_secs(15))).await;
        // And nothing more comes.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mails = sink.messages();
        let to: Vec<String> = mails
            .iter()
            .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(mails.len(), 2, "{backend}: {to:?}");
        assert!(
            to.contains(&"security@example.com".to_owned()) && to.contains(&"cai@example.com".to_owned()),
            "{to:?}"
        );
        let text_to = |who: &str| {
            mails
                .iter()
                .find(|m| m["rcpt_tos"][0] == who)
                .and_then(|m| m["text"].as_str())
                .unwrap()
                .to_owned()
        };
        assert!(!text_to("security@example.com").contains("/approve/"));
        let text = text_to("cai@example.com");
        let start =
            text.find("https://tocsin.example.com/approve/").expect("a link") + "https://tocsin.example.com".len();
        let path: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
        assert_eq!(path.len(), "/approve/".len() + 64, "{path}");

        // Opening it (as a mail scanner would) shows the run and changes nothing.
        for _ in 0..2 {
            let page = http.get(format!("{}{path}", server.url)).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let body = page.text().await.unwrap();
            assert!(body.contains("Approve run 1 as Cai"), "{body}");
            assert!(body.contains("203.0.113.9"), "{body}");
        }
        let run = client.get(&format!("/api/v1/incidents/{id}/runs/1"), &ana).await;
        assert_eq!(run["state"], "awaiting_approval", "{backend}: {run}");

        // A made-up link is unknown.
        let made_up = http
            .post(format!("{}/approve/{}", server.url, "0".repeat(64)))
            .send()
            .await
            .unwrap();
        assert_eq!(made_up.status(), StatusCode::NOT_FOUND);

        // The button approves as cai; the run goes on.
        let pressed = http.post(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(pressed.status(), StatusCode::OK);
        let body = pressed.text().await.unwrap();
        assert!(
            body.contains(&format!("Approved run 1 of {id} as cai; it runs now.")),
            "{body}"
        );
        let done = client.finished(&id, 1, &ana).await;
        assert_eq!(done["state"], "succeeded", "{backend}: {done}");
        assert_eq!(done["approvals"][0]["by"], "cai");

        // Once only, and looking at it says so.
        for request in [
            http.post(format!("{}{path}", server.url)),
            http.get(format!("{}{path}", server.url)),
        ] {
            let again = request.send().await.unwrap();
            assert_eq!(again.status(), StatusCode::GONE);
            assert!(again.text().await.unwrap().contains("was used"));
        }
        server.stop().await;
    }
}
