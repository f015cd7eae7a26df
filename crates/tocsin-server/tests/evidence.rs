//! Evidence: uploaded, listed, downloaded and checked through the API, never changed (the
//! database itself refuses), each addition and download on the audit chain, and the events
//! a signal cites kept as evidence of its incident.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;
use tocsin_server::testing::{TestServer, eventually};
use tocsin_store::testing::TestDb;

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn evidence_is_kept_by_its_hash_downloaded_on_the_record_and_never_changed() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let responder = server.token_secret("read,respond").await;
        let admin = server.token_secret("admin").await;
        let http = reqwest::Client::new();
        let (_, declared) = json_of(
            http.post(format!("{}/api/v1/incidents", server.url))
                .bearer_auth(&responder)
                .json(&json!({"title": "Data exfiltration", "severity": "P1"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let id = declared["incident"]["id"].as_str().unwrap().to_owned();
        let path = format!("{}/api/v1/incidents/{id}/evidence", server.url);
        let content: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let sha = hex::encode(sha2::Sha256::digest(&content));
        let (status, item) = json_of(
            http.post(format!("{path}?name=access.log&note=nginx%20log%20of%20the%20night"))
                .bearer_auth(&responder)
                .header("content-type", "text/plain")
                .body(content.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{backend}: {item}");
        assert_eq!(
            (item["sha256"].as_str(), item["size"].as_u64()),
            (Some(sha.as_str()), Some(100_000))
        );

        let (_, list) = json_of(http.get(&path).bearer_auth(&responder).send().await.unwrap()).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        let download = http
            .get(format!("{path}/{}", item["id"]))
            .bearer_auth(&responder)
            .send()
            .await
            .unwrap();
        assert_eq!(download.headers()["x-content-sha256"], sha.as_str());
        assert_eq!(download.headers()["content-type"], "application/octet-stream");
        assert!(
            download.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("access.log")
        );
        assert_eq!(download.bytes().await.unwrap().to_vec(), content, "{backend}: as kept");
        let (_, verified) = json_of(
            http.get(format!("{path}/verify"))
                .bearer_auth(&responder)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(verified[0]["intact"], true, "{verified}");

        // Refused, naming the problem.
        for (query, body, expected, says) in [
            (
                "name=../etc/passwd",
                vec![1u8],
                StatusCode::UNPROCESSABLE_ENTITY,
                "without folders",
            ),
            (
                "name=x&kind=events",
                vec![1u8],
                StatusCode::UNPROCESSABLE_ENTITY,
                "kept by tocsin itself",
            ),
            ("note=x", vec![1u8], StatusCode::BAD_REQUEST, "name"),
        ] {
            let (status, answer) = json_of(
                http.post(format!("{path}?{query}"))
                    .bearer_auth(&responder)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, expected, "{backend}: {query}: {answer}");
            assert!(answer.to_string().contains(says), "{query}: {answer}");
        }
        let too_big = vec![0u8; 25 * 1024 * 1024 + 1];
        let response = http
            .post(format!("{path}?name=huge"))
            .bearer_auth(&responder)
            .body(too_big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _) = json_of(
            http.get(format!("{}/api/v1/incidents/INC-0999/evidence", server.url))
                .bearer_auth(&responder)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The database itself keeps it as it was.
        for sql in [
            "UPDATE evidence_contents SET content = NULL",
            "DELETE FROM evidence",
            "UPDATE evidence SET name = 'other'",
        ] {
            let refused = server.db.try_tamper(sql).await;
            assert!(refused.is_err(), "{backend}: {sql} was allowed");
        }

        // The chain of custody: the addition and the download.
        let (_, audit) = json_of(
            http.get(format!("{}/api/v1/audit", server.url))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .filter(|a| a.starts_with("evidence_"))
            .collect();
        assert_eq!(actions, ["evidence_added", "evidence_exported"], "{backend}");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_events_a_signal_cites_are_kept_as_evidence_of_its_incident() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let ingest = server.token_secret("ingest").await;
        let reader = server.token_secret("read").await;
        let http = reqwest::Client::new();
        let lines: Vec<String> = (0..6)
            .map(|i| {
                format!(
                    r#"{{"kind":"auth","ts":"2026-01-05T03:0{i}:00Z","outcome":"failure","ip":"203.0.113.77","user":"root","service":"sshd","method":"password"}}"#
                )
            })
            .collect();
        let response = http
            .post(format!("{}/api/v1/events", server.url))
            .bearer_auth(&ingest)
            .header("content-type", "application/x-ndjson")
            .body(lines.join("\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let item = eventually("the cited events kept", || async {
            let (_, list) = json_of(
                http.get(format!("{}/api/v1/incidents/INC-0001/evidence", server.url))
                    .bearer_auth(&reader)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            list.as_array().and_then(|items| items.first()).cloned()
        })
        .await;
        assert_eq!(
            (item["kind"].as_str(), item["added_by"].as_str()),
            (Some("events"), Some("tocsin")),
            "{backend}: {item}"
        );
        let kept = http
            .get(format!(
                "{}/api/v1/incidents/INC-0001/evidence/{}",
                server.url, item["id"]
            ))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let first: Value = serde_json::from_str(kept.lines().next().unwrap()).unwrap();
        assert_eq!(first["event"]["ip"], "203.0.113.77", "{kept}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_note_is_kept_from_the_incident_page_and_the_page_lists_the_evidence() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let responder = server.token_secret("read,respond").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, declared) = json_of(
        http.post(format!("{}/api/v1/incidents", server.url))
            .bearer_auth(&responder)
            .json(&json!({"title": "Phishing", "severity": "P3"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = declared["incident"]["id"].as_str().unwrap().to_owned();
    let (cookie, csrf) = server.session_cookie(tocsin_core::identity::Role::Responder).await;
    let kept = http
        .post(format!("{}/incidents/{id}/evidence", server.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "call.txt"),
            ("text", "The caller asked for the MFA code."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    let empty = http
        .post(format!("{}/incidents/{id}/evidence", server.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "x.txt"), ("text", "  ")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = http
        .get(format!("{}/incidents/{id}", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sha = hex::encode(sha2::Sha256::digest(b"The caller asked for the MFA code."));
    assert!(page.contains("call.txt") && page.contains(&sha), "{page}");
    assert!(page.contains("data-evidence-upload"), "the upload form for files");
    server.stop().await;
}
