//! The web UI over plain HTTP: login, CSRF, permissions, pages and live events.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use tocsin_core::identity::Role;
use tocsin_store::testing::TestDb;

use crate::helpers::{Auth, PASSWORD, TestServer, servers};

/// The login form's CSRF token and the cookie that goes with it.
pub async fn login_form(server: &TestServer) -> (String, String) {
    let response = server.client.get(format!("{}/login", server.url)).send().await.unwrap();
    let cookie = response.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

pub async fn log_in(server: &TestServer, name: &str, password: &str, next: &str) -> reqwest::Response {
    let (cookie, csrf) = login_form(server).await;
    server
        .client
        .post(format!("{}/login", server.url))
        .header("cookie", cookie)
        .header("user-agent", "Mozilla/5.0 (tests)")
        .form(&[("name", name), ("password", password), ("csrf", &csrf), ("next", next)])
        .send()
        .await
        .unwrap()
}

/// Posts the incident page's action form with a session cookie.
async fn act(server: &TestServer, id: &str, cookie: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    server
        .client
        .post(format!("{}/incidents/{id}/act", server.url))
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The page's CSRF token, as its forms carry it.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn logging_in_sets_a_strict_session_cookie_and_goes_back_only_to_local_pages() {
    for (config, secure) in crate::helpers::with_and_without_tls() {
        let server = TestServer::start_with(TestDb::sqlite(), config).await;
        server.user("dana", Role::Responder).await;
        let response = log_in(&server, "dana", PASSWORD, "/incidents?status=all").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/incidents?status=all");
        let session = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("tocsin_session="))
            .unwrap();
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Max-Age=43200"),
            "{session}"
        );
        assert_eq!(session.contains("; Secure"), secure, "{session}");
        for evil in ["//evil.example", "https://evil.example/", "/\\evil.example"] {
            let response = log_in(&server, "dana", PASSWORD, evil).await;
            assert_eq!(response.headers()[LOCATION], "/", "{evil}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_login_form_without_its_cookie_or_from_another_site_is_refused_and_recorded_failures_show_the_user_agent() {
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    let (cookie, csrf) = login_form(&server).await;
    let forged = server
        .client
        .post(format!("{}/login", server.url))
        .form(&[("name", "dana"), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        forged
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("tocsin_session="))
    );
    let cross_site = server
        .client
        .post(format!("{}/login", server.url))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("name", "dana"), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);

    let wrong = log_in(&server, "dana", "not the password", "/").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Wrong user name or password"));
    while server.store.index_login_trail(1000).await.unwrap() > 0 {}
    let trail = server
        .store
        .login_trail(&tocsin_store::events::TrailFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1, "refused forms never reached the password check");
    let tocsin_core::event::Event::Auth(attempt) = &trail[0].event else {
        panic!("not an auth event")
    };
    assert_eq!(
        (
            attempt.reason.as_str(),
            attempt.user_agent.as_deref(),
            attempt.source.to_string().as_str(),
            attempt.service.as_str()
        ),
        ("bad_password", Some("Mozilla/5.0 (tests)"), "127.0.0.1", "tocsin")
    );
    server.stop().await;
}

#[tokio::test]
async fn pages_need_a_session_and_forms_need_the_permission_and_the_csrf_token() {
    for server in servers().await {
        let backend = server.backend();
        let anonymous = server
            .client
            .get(format!("{}/incidents/INC-0001", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
        assert_eq!(anonymous.headers()[LOCATION], "/login?next=/incidents/INC-0001");

        let token = server.token("respond").await;
        let id = server.declare(&token, "Credential stuffing on /login", "P2").await;
        let page_of = |auth: Auth, path: String| {
            let server = &server;
            async move {
                let Auth::Session { cookie, .. } = auth else {
                    unreachable!()
                };
                let response = server
                    .client
                    .get(format!("{}{path}", server.url))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                (response.status(), response.text().await.unwrap())
            }
        };
        let viewer = server.session(Role::Viewer).await;
        let (status, page) = page_of(viewer.clone(), format!("/incidents/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{backend}");
        assert!(page.contains("Credential stuffing on /login"));
        assert!(
            !page.contains("name=\"action\""),
            "{backend}: a viewer is offered actions"
        );
        let Auth::Session { cookie, csrf } = viewer else {
            unreachable!()
        };
        let refused = act(
            &server,
            &id,
            &cookie,
            &[("csrf", csrf.as_str()), ("action", "acknowledge")],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{backend}");

        let responder = server.session(Role::Responder).await;
        let (status, page) = page_of(responder.clone(), format!("/incidents/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        let Auth::Session { cookie, csrf } = responder else {
            unreachable!()
        };
        assert_eq!(csrf_of(&page), csrf);
        let before = server.footprint().await;
        for sent in ["", "0000"] {
            let forged = act(&server, &id, &cookie, &[("csrf", sent), ("action", "acknowledge")]).await;
            assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{backend}: csrf {sent:?}");
        }
        let refused = act(
            &server,
            &id,
            &cookie,
            &[
                ("csrf", csrf.as_str()),
                ("action", "change_severity"),
                ("severity", "P9"),
                ("reason", "x"),
            ],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{backend}");
        assert!(
            refused.text().await.unwrap().contains("P9"),
            "{backend}: the page names the problem"
        );
        assert_eq!(
            server.footprint().await,
            before,
            "{backend}: refused forms changed something"
        );

        let done = act(
            &server,
            &id,
            &cookie,
            &[("csrf", csrf.as_str()), ("action", "acknowledge")],
        )
        .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{backend}");
        let (_, incident) = server
            .get(&format!("/api/v1/incidents/{id}"), &server.token("read").await)
            .await;
        assert_eq!(incident["incident"]["status"], "acknowledged", "{backend}");
        assert!(
            incident["timeline"][1]["actor"]
                .as_str()
                .unwrap()
                .starts_with("responder-"),
            "{incident}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn every_page_renders_for_a_signed_in_responder() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let token = server.token("respond").await;
    let id = server.declare(&token, "Ransomware note on a laptop", "P1").await;
    let Auth::Session { cookie, .. } = server.session(Role::Responder).await else {
        unreachable!()
    };
    for (path, expected) in [
        ("/", "Ransomware note on a laptop"),
        ("/incidents", "Ransomware note on a laptop"),
        (
            "/incidents?status=all&severity=P1&q=ransom",
            "Ransomware note on a laptop",
        ),
        (&format!("/incidents/{id}") as &str, "Acknowledge"),
        ("/incidents/new", "Declare an incident"),
        ("/plan", "Severities"),
        ("/outbox", "Every notification is stored here"),
        ("/blocks", "No blocks in force"),
        ("/maintenance", "No agent is paused"),
    ] {
        let response = server
            .client
            .get(format!("{}{path}", server.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = response.text().await.unwrap();
        assert!(page.contains(expected), "{path} lacks {expected:?}");
        assert!(
            !page.contains("<script>") && !page.contains(" style="),
            "{path} has inline script or style"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn open_pages_hear_about_changes_as_server_sent_events() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let Auth::Session { cookie, .. } = server.session(Role::Viewer).await else {
        unreachable!()
    };
    let mut events = server
        .client
        .get(format!("{}/events", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let token = server.token("respond").await;
    let id = server.declare(&token, "Stream me", "P3").await;
    let mut received = String::new();
    while !received.contains(&id) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("event: changed"), "{received}");
    // Stopping the server ends the stream instead of waiting for it forever.
    tokio::time::timeout(std::time::Duration::from_secs(10), server.stop())
        .await
        .expect("the server stops");
}

#[tokio::test]
async fn the_signals_page_lists_what_the_detectors_found_with_its_incident() {
    for server in servers().await {
        let backend = server.backend();
        let ingest = server.token("ingest").await;
        let body: String = (0..6)
            .map(|i| format!("{{\"kind\":\"auth\",\"ts\":\"2026-01-05T03:00:{i:02}Z\",\"outcome\":\"failure\",\"ip\":\"203.0.113.77\",\"user\":\"root\",\"service\":\"sshd\"}}\n"))
            .collect();
        let response = server
            .request(reqwest::Method::POST, "/api/v1/events", &ingest)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let Auth::Session { cookie, .. } = server.session(Role::Viewer).await else {
            unreachable!()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let page = server
                .client
                .get(format!("{}/signals?detector=brute_force", server.url))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if page.contains("href=\"/incidents/INC-0001\"") {
                assert!(
                    page.contains("6 failed logins from 203.0.113.77 within 1 min"),
                    "{page}"
                );
                assert!(page.contains("aria-current=\"page\">Signals</a>"));
                // The event it cites is a link away, and reads as it was sent.
                assert!(page.contains("address <code>203.0.113.77</code>"), "{page}");
                assert!(page.contains("href=\"/log/6\""), "{page}");
                let event = server
                    .client
                    .get(format!("{}/log/6", server.url))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(event.status(), StatusCode::OK, "{backend}");
                let event = event.text().await.unwrap();
                assert!(event.contains("Event #6: auth"), "{event}");
                assert!(event.contains("&#34;ip&#34;: &#34;203.0.113.77&#34;"), "{event}");
                let missing = server
                    .client
                    .get(format!("{}/log/999", server.url))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{backend}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{backend}: {page}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_dead_notification_shows_in_the_outbox_and_a_responder_sends_it_again() {
    use tocsin_store::outbox::{Delivery, NewNotification, OutboxFilter};
    let server = TestServer::start(TestDb::sqlite()).await;
    let now = tocsin_core::Timestamp::now();
    let store = &server.store;
    let note = NewNotification {
        key: "audit-1:gone".into(),
        channel: "gone".into(),
        kind: "declared".into(),
        incident: None,
        payload: "{}".into(),
        not_before: now,
        approval_link: None,
    };
    store.enqueue(&[note], now).await.unwrap();
    // The server's delivery worker finds no such channel and puts it aside as dead.
    let dead = OutboxFilter {
        state: Some(Delivery::Dead),
        limit: 10,
        ..Default::default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (id, first_due) = loop {
        if let Some(n) = store.outbox(&dead).await.unwrap().first() {
            break (n.id, n.next_at);
        }
        assert!(std::time::Instant::now() < deadline, "the worker never gave up on it");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };

    for (role, can_resend) in [(Role::Viewer, false), (Role::Responder, true)] {
        let Auth::Session { cookie, .. } = server.session(role).await else {
            unreachable!()
        };
        let page = server
            .client
            .get(format!("{}/outbox?state=dead", server.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("the plan has no channel &#34;gone&#34;"), "{page}");
        assert_eq!(page.contains("Send again"), can_resend, "{role:?}");
        if can_resend {
            let response = server
                .client
                .post(format!("{}/outbox/{id}/retry", server.url))
                .header("cookie", &cookie)
                .form(&[("csrf", csrf_of(&page))])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
        }
    }
    // Back in line, it is tried once more (and, its channel still missing, is dead again).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let again = store.outbox(&dead).await.unwrap();
        if again.first().is_some_and(|n| n.id == id && n.next_at > first_due) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "it was not sent again: {again:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_admin_applies_a_plan_from_the_plan_page_and_a_responder_sees_no_editor() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let page_for = |cookie: String| {
        let request = server
            .client
            .get(format!("{}/plan", server.url))
            .header("cookie", cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let Auth::Session { cookie, .. } = server.session(Role::Responder).await else {
        unreachable!()
    };
    let page = page_for(cookie).await;
    assert!(page.contains("version 1 ("), "{page}");
    assert!(!page.contains("Apply as a new version"), "responders cannot apply");

    let Auth::Session { cookie, .. } = server.session(Role::Admin).await else {
        unreachable!()
    };
    let page = page_for(cookie.clone()).await;
    assert!(page.contains("Apply as a new version"));
    let csrf = csrf_of(&page);
    let post = |text: String| {
        let request = server
            .client
            .post(format!("{}/plan", server.url))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("text", text.as_str())]);
        async move { request.send().await.unwrap() }
    };
    let source = tocsin_core::plan::presets::FOUR_TIER.source;
    // Browsers send a textarea's lines with CRLF; the version keeps the file's LF.
    let edited = source.replace("acknowledge_within = \"4h\"", "acknowledge_within = \"3h\"");
    let response = post(edited.replace('\n', "\r\n")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = page_for(cookie.clone()).await;
    assert!(page.contains("version 2 ("), "{page}");
    assert!(page.contains("the web UI"), "{page}");
    let active = server.db.scalar("SELECT COUNT(*) FROM plan_versions").await;
    assert_eq!(active, 2);

    let response = post(format!("{edited}\n[[role]]\nid = \"Bad Id\"\n")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("Not applied: 2 problem(s)"), "{page}");
    assert!(page.contains("Bad Id"), "the refused text stays in the editor");
    assert_eq!(server.db.scalar("SELECT COUNT(*) FROM plan_versions").await, 2);

    // Without the session's CSRF token nothing is applied.
    let response = server
        .client
        .post(format!("{}/plan", server.url))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged"), ("text", source)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.db.scalar("SELECT COUNT(*) FROM plan_versions").await, 2);
    server.stop().await;
}

/// A page as a signed-in user of `role` sees it: its status and text.
async fn page_as(server: &TestServer, role: Role, path: &str) -> (StatusCode, String) {
    let Auth::Session { cookie, .. } = server.session(role).await else {
        unreachable!()
    };
    let response = server
        .client
        .get(format!("{}{path}", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_plan_page_shows_role_holders_severity_examples_channels_routes_escalation_and_disclosure() {
    let extra = r#"
[[person]]
id = "jo"
name = "Jo Smith"
email = "jo@example.com"

[[role]]
id = "security-lead"
name = "Security lead"
description = "Owns the response."
people = ["jo"]

[[channel]]
name = "ops"
type = "webhook"
url = "https://hooks.example.com/tocsin"
secret_env = "OPS_SECRET_FOR_THE_PLAN_PAGE"

[[route]]
channels = ["ops"]
severities = ["P1"]
events = ["declared", "clock_breached"]
quiet_hours = "22:00-07:00"

[escalation]
channels = ["ops"]
repeat = "15m"
[[escalation.level]]
after = "10m"
notify = ["security-lead"]
"#;
    let plan = format!("{}{extra}", tocsin_core::plan::presets::FOUR_TIER.source);
    let db = TestDb::sqlite();
    let server = TestServer {
        server: tocsin_server::testing::TestServer::start_with_plan(db, Default::default(), &plan).await,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let (status, page) = page_as(&server, Role::Viewer, "/plan").await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "Held by Jo Smith until an incident names someone",
        "A vault or signing key leaked",
        "ops (webhook): https://hooks.example.com/tocsin",
        "declared, clock_breached of P1 → ops, held 22:00-07:00",
        "level 1: after 10m, call security-lead",
        "the last level again every 15m",
        "Vulnerability reports acknowledged within 24h, assessed within 72h; contact security@example.com",
        "Jo Smith (jo): email jo@example.com",
        "while \"customers affected\" is yes or unknown",
        "for 3d after resolution, 2 times more sensitive",
    ] {
        assert!(page.contains(shown), "missing {shown:?} in\n{page}");
    }
    assert!(!page.contains("OPS_SECRET_FOR_THE_PLAN_PAGE\" "), "{page}");
    // Declaring, the severities say what they mean.
    let (status, page) = page_as(&server, Role::Responder, "/incidents/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("What the severities mean"), "{page}");
    assert!(page.contains("A breach in progress, the whole service down"), "{page}");
    assert!(page.contains("name=\"customers\""), "{page}");
    server.stop().await;
}

#[tokio::test]
async fn the_login_trail_has_a_page_for_admins_with_the_command_line_s_filters() {
    for server in servers().await {
        let backend = server.backend();
        for password in ["wrong-1", "wrong-2"] {
            log_in(&server, "mallory", password, "/").await;
        }
        let (status, page) = page_as(&server, Role::Admin, "/logins?user=mallory&outcome=failure").await;
        assert_eq!(status, StatusCode::OK, "{backend}");
        assert_eq!(page.matches("<td>mallory</td>").count(), 2, "{backend}: {page}");
        assert!(page.contains("aria-current=\"page\">Logins</a>"), "{page}");
        let (_, page) = page_as(&server, Role::Admin, "/logins?user=mallory&outcome=success").await;
        assert!(page.contains("No login attempts match."), "{page}");
        let (status, page) = page_as(&server, Role::Admin, "/logins?since=yesterday-ish").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert!(page.contains("is not a time"), "{page}");
        let (status, _) = page_as(&server, Role::Responder, "/logins").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend}: only admins read the trail");
        let (_, page) = page_as(&server, Role::Responder, "/").await;
        assert!(!page.contains("href=\"/logins\""), "{page}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_login_next_with_a_tab_or_a_line_break_goes_home_not_off_site() {
    let server = TestServer::start(TestDb::sqlite()).await;
    server.user("dana", Role::Responder).await;
    for evil in [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\x0b/evil.example/",
        "/ /evil.example/",
    ] {
        let response = log_in(&server, "dana", PASSWORD, evil).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{evil:?}");
        assert_eq!(response.headers()[LOCATION], "/", "{evil:?}");
    }
    // The form carries the same rule into its hidden field.
    let form = server
        .client
        .get(format!("{}/login?next=/%09/evil.example/", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains("name=\"next\" value=\"/\""), "{form}");
    server.stop().await;
}

/// Issue 16, item 14: a page's event stream stayed open across logout and `user disable`.
#[tokio::test]
async fn an_event_stream_ends_when_its_session_ends_by_logout_or_by_disabling_the_user() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let admin = server.token("admin").await;
    for ending in ["logout", "disable"] {
        let Auth::Session { cookie, csrf } = server.session(Role::Viewer).await else {
            unreachable!()
        };
        let mut events = server
            .client
            .get(format!("{}/events", server.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), StatusCode::OK);
        if ending == "logout" {
            let response = server
                .client
                .post(format!("{}/logout", server.url))
                .header("cookie", &cookie)
                .form(&[("csrf", &csrf)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
        } else {
            let (_, me) = server
                .get(
                    "/api/v1/me",
                    &Auth::Session {
                        cookie: cookie.clone(),
                        csrf,
                    },
                )
                .await;
            let name = me["actor"].as_str().unwrap().to_owned();
            let (status, body) = server
                .request(reqwest::Method::PATCH, &format!("/api/v1/users/{name}"), &admin)
                .json(&serde_json::json!({"disabled": true}))
                .send()
                .await
                .map(|r| (r.status(), ()))
                .unwrap();
            assert_eq!(status, StatusCode::OK, "{body:?}");
        }
        let ended = tokio::time::timeout(std::time::Duration::from_secs(15), async {
            while events.chunk().await.unwrap().is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the stream outlived the session ({ending})");
    }
    server.stop().await;
}

/// Issue 16, item 17: form posts other than login, and the API called with a session,
/// accepted a foreign `Origin` when the CSRF token was valid.
#[tokio::test]
async fn a_change_from_another_site_is_refused_even_with_a_valid_csrf_token() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let Auth::Session { cookie, csrf } = server.session(Role::Responder).await else {
        unreachable!()
    };
    let before = server.footprint().await;
    let form = server
        .client
        .post(format!("{}/incidents", server.url))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("title", "Forged"), ("severity", "P3")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::FORBIDDEN);
    let api = server
        .client
        .post(format!("{}/api/v1/incidents", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", "https://evil.example")
        .json(&serde_json::json!({"title": "Forged", "severity": "P3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    let fetched = server
        .client
        .post(format!("{}/api/v1/incidents", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"title": "Forged", "severity": "P3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.footprint().await, before, "nothing changed");
    let own = server
        .client
        .post(format!("{}/api/v1/incidents", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", &server.url)
        .json(&serde_json::json!({"title": "Ours", "severity": "P3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::CREATED);
    server.stop().await;
}

/// Issue 16, item 17: behind a proxy the login's `Origin` was compared with `Host`,
/// which the proxy may rewrite, instead of the public URL the browser sees.
#[tokio::test]
async fn the_login_origin_is_checked_against_the_public_url() {
    let config = tocsin_server::http::ServerConfig {
        public_url: Some("https://tocsin.example.com".into()),
        ..Default::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), config).await;
    server.user("dana", Role::Responder).await;
    for (origin, expected) in [
        (server.url.clone(), StatusCode::FORBIDDEN),
        ("https://tocsin.example.com".to_owned(), StatusCode::SEE_OTHER),
    ] {
        let (cookie, csrf) = login_form(&server).await;
        let response = server
            .client
            .post(format!("{}/login", server.url))
            .header("cookie", cookie)
            .header("origin", &origin)
            .form(&[("name", "dana"), ("password", PASSWORD), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "Origin: {origin}");
    }
    server.stop().await;
}

/// Issue 16, item 10: control characters in titles and user names reached pages raw, so
/// a title could hide or reorder what a responder reads (an escape, a right-to-left mark).
#[tokio::test]
async fn control_and_direction_characters_in_titles_are_written_out_on_pages() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let token = server.token("respond").await;
    let id = server.declare(&token, "Disk \u{1b}[31mfull\u{202e}gpj.exe", "P3").await;
    for path in ["/incidents".to_owned(), format!("/incidents/{id}"), "/".to_owned()] {
        let (status, page) = page_as(&server, Role::Viewer, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains("Disk \\u{1b}[31mfull\\u{202e}gpj.exe"), "{path}: {page}");
        assert!(!page.contains('\u{1b}') && !page.contains('\u{202e}'), "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_responder_blocks_and_unblocks_from_the_blocks_page_and_a_viewer_only_reads_it() {
    for server in servers().await {
        let backend = server.backend();
        let page_of = |cookie: String| {
            let server = &server;
            async move {
                server
                    .client
                    .get(format!("{}/blocks", server.url))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let post = |path: String, cookie: String, fields: Vec<(&'static str, String)>| {
            let server = &server;
            async move {
                server
                    .client
                    .post(format!("{}{path}", server.url))
                    .header("cookie", cookie)
                    .form(&fields)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let Auth::Session { cookie, .. } = server.session(Role::Responder).await else {
            unreachable!()
        };
        let page = page_of(cookie.clone()).await;
        assert!(page.contains("No bouncer is pointed at tocsin yet"), "{page}");
        let csrf = csrf_of(&page);
        let fields = |network: &str| {
            vec![
                ("csrf", csrf.clone()),
                ("network", network.to_owned()),
                ("reason", "credential stuffing".to_owned()),
                ("for", "24h".to_owned()),
                ("incident", String::new()),
            ]
        };
        let added = post("/blocks".into(), cookie.clone(), fields("198.51.100.0/24")).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER, "{backend}");
        let page = page_of(cookie.clone()).await;
        assert!(
            page.contains("<code>198.51.100.0/24</code>") && page.contains(">End</button>"),
            "{page}"
        );

        // A bad one is shown again with its problem, and nothing is added.
        let refused = post("/blocks".into(), cookie.clone(), fields("198.51.100.0/40")).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let again = refused.text().await.unwrap();
        assert!(
            again.contains("/40 is not a prefix length") && again.contains("value=\"198.51.100.0/40\""),
            "{again}"
        );

        // A viewer reads the page without the form, and may not post it.
        let Auth::Session { cookie: viewer, .. } = server.session(Role::Viewer).await else {
            unreachable!()
        };
        let seen = page_of(viewer.clone()).await;
        assert!(
            seen.contains("198.51.100.0/24") && !seen.contains(">End</button>") && !seen.contains(">Block</button>")
        );
        let mut forbidden = fields("192.0.2.1");
        forbidden[0].1 = csrf_of(&seen);
        assert_eq!(
            post("/blocks".into(), viewer, forbidden).await.status(),
            StatusCode::FORBIDDEN
        );

        let id = page
            .split("action=\"/blocks/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let ended = post(
            format!("/blocks/{id}/remove"),
            cookie.clone(),
            vec![("csrf", csrf.clone())],
        )
        .await;
        assert_eq!(ended.status(), StatusCode::SEE_OTHER);
        assert!(page_of(cookie).await.contains("No blocks in force"), "{backend}");
        server.stop().await;
    }
}

/// Issue 20: tocsin's own pages grade A+ as the HTTP Observatory grades them, behind the
/// TLS its public URL says: the login page, the login's answer (its session cookie), a
/// signed-in page, an API answer and the stylesheet, each with a request from a foreign
/// origin for CORS. Redirection from http is the TLS terminator's, so it is not graded.
#[tokio::test]
async fn tocsins_own_pages_grade_a_plus_for_their_security_headers() {
    use tocsin_core::headers::{FOREIGN_ORIGIN, Fetched, grade};
    let public = "https://tocsin.example.com";
    let config = tocsin_server::http::ServerConfig {
        public_url: Some(public.into()),
        ..Default::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), config).await;
    server.user("dana", Role::Responder).await;
    let fetched = |path: &str, response: reqwest::Response| {
        let path = path.to_owned();
        async move {
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let cors = response.headers().get("access-control-allow-origin").map(|v| {
                let credentials = response
                    .headers()
                    .get("access-control-allow-credentials")
                    .map(|c| c.to_str().unwrap().to_owned());
                (v.to_str().unwrap().to_owned(), credentials)
            });
            Fetched {
                url: format!("{public}{path}"),
                status,
                headers,
                body: Some(response.text().await.unwrap()),
                cors,
                redirection: None,
            }
        }
    };
    let mut graded = Vec::new();
    let login = server
        .client
        .get(format!("{}/login", server.url))
        .header("origin", FOREIGN_ORIGIN)
        .send()
        .await
        .unwrap();
    graded.push(grade(&fetched("/login", login).await));
    let (cookie, csrf) = login_form(&server).await;
    let signed_in = server
        .client
        .post(format!("{}/login", server.url))
        .header("cookie", cookie)
        .header("origin", public)
        .form(&[("name", "dana"), ("password", PASSWORD), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = signed_in
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("tocsin_session="))
        .unwrap();
    graded.push(grade(&fetched("/login", signed_in).await));
    for path in ["/", "/probes", "/daily-audit", "/static/app.css"] {
        let response = server
            .client
            .get(format!("{}{path}", server.url))
            .header("cookie", &session)
            .header("origin", FOREIGN_ORIGIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        graded.push(grade(&fetched(path, response).await));
    }
    let token = server.token("read").await;
    let api = server
        .request(reqwest::Method::GET, "/api/v1/incidents", &token)
        .header("origin", FOREIGN_ORIGIN)
        .send()
        .await
        .unwrap();
    graded.push(grade(&fetched("/api/v1/incidents", api).await));
    for g in &graded {
        let failing: Vec<String> = g
            .failing()
            .iter()
            .map(|t| format!("{} ({})", t.result, t.modifier))
            .collect();
        assert_eq!(
            (g.grade, failing.len()),
            ("A+", 0),
            "{} scored {}: {failing:?}",
            g.url,
            g.score
        );
    }
    let dashboard = &graded[2];
    assert!(dashboard.score >= 120, "{dashboard:?}");
    server.stop().await;
}
