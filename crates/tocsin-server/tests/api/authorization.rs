//! Every route, for every kind of caller: who may do what is enforced in one place.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tocsin_core::identity::Role;

use crate::helpers::{Auth, code, servers};

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Needs {
    /// Any authenticated caller.
    Any,
    Read,
    Respond,
    Ingest,
    Admin,
    /// Respond, signed in as a person: approving a run is no token's act.
    RespondInPerson,
}

pub fn routes() -> Vec<(Method, &'static str, Value, Needs)> {
    vec![
        (Method::GET, "/api/v1/incidents", Value::Null, Needs::Read),
        (
            Method::POST,
            "/api/v1/incidents",
            json!({"title": "Probe", "severity": "P4"}),
            Needs::Respond,
        ),
        (Method::GET, "/api/v1/incidents/INC-0001", Value::Null, Needs::Read),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/actions",
            json!({"action": "add_note", "text": "x"}),
            Needs::Respond,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/timeline",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/clocks",
            Value::Null,
            Needs::Read,
        ),
        (Method::GET, "/api/v1/clocks", Value::Null, Needs::Read),
        (Method::GET, "/api/v1/verify", Value::Null, Needs::Read),
        (Method::GET, "/api/v1/plan", Value::Null, Needs::Read),
        (Method::GET, "/api/v1/me", Value::Null, Needs::Any),
        (Method::GET, "/api/v1/probes", Value::Null, Needs::Read),
        (Method::GET, "/api/v1/probes/nowhere", Value::Null, Needs::Read),
        (Method::POST, "/api/v1/probes/nowhere/run", Value::Null, Needs::Respond),
        (Method::GET, "/api/v1/daily-audits", Value::Null, Needs::Read),
        (Method::GET, "/api/v1/daily-audits/latest", Value::Null, Needs::Read),
        (Method::POST, "/api/v1/daily-audits/run", Value::Null, Needs::Respond),
        (Method::GET, "/api/v1/audit", Value::Null, Needs::Admin),
        (Method::GET, "/api/v1/users", Value::Null, Needs::Admin),
        (
            Method::POST,
            "/api/v1/users",
            json!({"name": "new-person", "role": "viewer"}),
            Needs::Admin,
        ),
        (
            Method::PATCH,
            "/api/v1/users/new-person",
            json!({"role": "viewer"}),
            Needs::Admin,
        ),
        (Method::GET, "/api/v1/tokens", Value::Null, Needs::Admin),
        (
            Method::POST,
            "/api/v1/tokens",
            json!({"name": "made-by-test", "scopes": "read"}),
            Needs::Admin,
        ),
        (Method::DELETE, "/api/v1/tokens/made-by-test", Value::Null, Needs::Admin),
        (Method::GET, "/api/v1/logins", Value::Null, Needs::Admin),
        (Method::GET, "/api/v1/signals", Value::Null, Needs::Read),
        (
            Method::POST,
            "/api/v1/events",
            json!({"kind": "heartbeat", "ts": "2026-01-05T00:00:00Z", "agent": "probe"}),
            Needs::Ingest,
        ),
        (
            Method::POST,
            "/api/v1/ratelimit/check",
            json!({"key": "probe", "policy": "api_key"}),
            Needs::Ingest,
        ),
        (Method::GET, "/api/v1/blocks", Value::Null, Needs::Read),
        (
            Method::POST,
            "/api/v1/blocks",
            json!({"network": "192.0.2.200", "reason": "probe", "for": "1h"}),
            Needs::Respond,
        ),
        (Method::DELETE, "/api/v1/blocks/1", Value::Null, Needs::Respond),
        (
            Method::GET,
            "/api/v1/blocks/export?format=plain",
            Value::Null,
            Needs::Read,
        ),
        (Method::GET, "/api/v1/actions", Value::Null, Needs::Read),
        (Method::GET, "/api/v1/incidents/INC-0001/runs", Value::Null, Needs::Read),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/runs/1",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/runs",
            json!({"action": "none", "inputs": {}}),
            Needs::Respond,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/runs/1/approve",
            Value::Null,
            Needs::RespondInPerson,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/runs/1/reject",
            json!({"reason": "x"}),
            Needs::Respond,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/runs/1/undo",
            Value::Null,
            Needs::Respond,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/notices",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/notices/1",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/notices/1/document",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/notices",
            json!({"kind": "none"}),
            Needs::Respond,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/notices/1/revise",
            json!({"subject": "x", "body": "y"}),
            Needs::Respond,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/notices/1/approve",
            Value::Null,
            Needs::RespondInPerson,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/notices/1/send",
            json!({}),
            Needs::Respond,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/recipients",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/recipients",
            json!([{"email": "not an address"}]),
            Needs::Respond,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/recipients/remove",
            json!({"emails": ["nobody@example.com"]}),
            Needs::Respond,
        ),
        (Method::GET, "/api/v1/maintenance", Value::Null, Needs::Any),
        (
            Method::POST,
            "/api/v1/maintenance/app",
            json!({"reason": "probe"}),
            Needs::Respond,
        ),
        (Method::DELETE, "/api/v1/maintenance/app", Value::Null, Needs::Respond),
        (Method::GET, "/api/v1/agents/probe/directive", Value::Null, Needs::Any),
        (Method::GET, "/api/v1/agents/paused", Value::Null, Needs::Read),
        (
            Method::POST,
            "/api/v1/agents/probe/pause",
            json!({"reason": "probe"}),
            Needs::Respond,
        ),
        (Method::POST, "/api/v1/agents/probe/resume", Value::Null, Needs::Respond),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/evidence",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::POST,
            "/api/v1/incidents/INC-0001/evidence?name=probe.txt",
            json!("probe"),
            Needs::Respond,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/evidence/1",
            Value::Null,
            Needs::Read,
        ),
        (
            Method::GET,
            "/api/v1/incidents/INC-0001/evidence/verify",
            Value::Null,
            Needs::Read,
        ),
    ]
}

#[tokio::test]
async fn each_route_admits_exactly_the_roles_and_scopes_it_needs() {
    for server in servers().await {
        let backend = server.backend();
        let seed = server.token("respond").await;
        server.declare(&seed, "Seed", "P3").await;
        let callers: Vec<(&str, Auth, &[Needs])> = vec![
            ("anonymous", Auth::None, &[]),
            ("viewer", server.session(Role::Viewer).await, &[Needs::Read]),
            (
                "responder",
                server.session(Role::Responder).await,
                &[Needs::Read, Needs::Respond, Needs::RespondInPerson],
            ),
            (
                "admin",
                server.session(Role::Admin).await,
                &[Needs::Read, Needs::Respond, Needs::Admin, Needs::RespondInPerson],
            ),
            ("read token", server.token("read").await, &[Needs::Read]),
            ("respond token", server.token("respond").await, &[Needs::Respond]),
            ("ingest token", server.token("ingest").await, &[Needs::Ingest]),
            ("admin token", server.token("admin").await, &[Needs::Admin]),
            (
                "full token",
                server.token("read,respond,admin").await,
                &[Needs::Read, Needs::Respond, Needs::Admin],
            ),
        ];
        for (who, auth, may) in &callers {
            for (method, path, body, needs) in routes() {
                let mut request = server.request(method.clone(), path, auth);
                if !body.is_null() {
                    request = request.json(&body);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                // Issue 16, item 17: /me answered 403 to respond, ingest and admin tokens, and
                // an admin's session could ingest, which no person's role grants.
                let allowed = may.contains(&needs) || needs == Needs::Any;
                let expected = match (who, allowed) {
                    (&"anonymous", _) => Some(StatusCode::UNAUTHORIZED),
                    (_, false) => Some(StatusCode::FORBIDDEN),
                    (_, true) => None,
                };
                match expected {
                    Some(refusal) => {
                        assert_eq!(status, refusal, "{backend}: {who} {method} {path}: {text}");
                        let body: Value = serde_json::from_str(&text).unwrap();
                        let expected_code = if refusal == StatusCode::FORBIDDEN {
                            "forbidden"
                        } else {
                            "unauthenticated"
                        };
                        assert_eq!(code(&body), expected_code);
                    }
                    None => assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "{backend}: {who} may {method} {path} but got {status}: {text}"
                    ),
                }
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_viewer_and_a_token_without_respond_cannot_change_an_incident() {
    for server in servers().await {
        let backend = server.backend();
        let responder = server.token("respond").await;
        let id = server.declare(&responder, "Suspicious admin login", "P2").await;
        let before = server.footprint().await;
        for auth in [
            server.session(Role::Viewer).await,
            server.token("read,ingest,admin").await,
        ] {
            let (status, body) = server.act(&auth, &id, json!({"action": "acknowledge"})).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{backend}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().contains("respond"), "{body}");
        }
        let after = server.footprint().await;
        assert_eq!(after.1, before.1);
        // Creating the users and tokens above wrote audit entries; the incident wrote none.
        let (_, incident) = server
            .get(&format!("/api/v1/incidents/{id}"), &server.token("read").await)
            .await;
        assert_eq!(incident["incident"]["status"], "declared", "{backend}");
        assert_eq!(incident["timeline"].as_array().unwrap().len(), 1);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_change_made_with_a_session_cookie_needs_its_csrf_token() {
    for server in servers().await {
        let backend = server.backend();
        let Auth::Session { cookie, csrf } = server.session(Role::Responder).await else {
            unreachable!()
        };
        let body = json!({"title": "Forged", "severity": "P4"});
        for sent in [None, Some("not-the-token".to_owned())] {
            let mut request = server
                .client
                .post(format!("{}/api/v1/incidents", server.url))
                .header("cookie", &cookie);
            if let Some(token) = &sent {
                request = request.header("x-csrf-token", token);
            }
            let (status, body) = crate::helpers::read(request.json(&body).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{backend}: {body}");
            assert_eq!(code(&body), "csrf");
        }
        assert_eq!(server.footprint().await.1, 0, "{backend}: nothing was declared");
        let auth = Auth::Session { cookie, csrf };
        assert_eq!(server.declare(&auth, "Real", "P4").await, "INC-0001");
        server.stop().await;
    }
}
