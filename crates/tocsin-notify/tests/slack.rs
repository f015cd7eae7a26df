//! The Slack channel against a local server that answers as Slack's incoming webhooks do:
//! `ok`, `invalid_payload`, `no_service`, and 429 with `Retry-After`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use tocsin_notify::slack::Slack;
use tocsin_notify::{Channel, Message, Outcome, Recipient, http_client};

async fn fake_slack(
    answers: Vec<(u16, &'static str, Option<&'static str>)>,
) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let kept = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/services/T000/B000/XXXX",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (got, answers) = (Arc::clone(&kept), Arc::clone(&answers));
            async move {
                got.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                let (status, text, retry_after) = answers.lock().unwrap().next().unwrap_or((200, "ok", None));
                let mut response = axum::response::Response::new(axum::body::Body::from(text));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                if let Some(after) = retry_after {
                    response.headers_mut().insert("retry-after", after.parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/services/T000/B000/XXXX", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn a_message_goes_out_as_block_kit_and_slack_s_answers_are_told_apart() {
    let (url, got) = fake_slack(vec![
        (429, "rate_limited", Some("3")),
        (400, "invalid_payload", None),
        (404, "no_service", None),
        (200, "ok", None),
    ])
    .await;
    let slack = Slack::new(&url, http_client(Duration::from_secs(5))).unwrap();
    let message = Message {
        id: "audit-9:chat".into(),
        kind: "declared".into(),
        incident: Some("INC-0007".into()),
        severity: Some("P1".into()),
        title: "Login <b>failures</b> & @channel".into(),
        text: "Declared by jo".into(),
        deadline: Some("Acknowledge due 2026-01-05 10:15 UTC (12m left)".into()),
        link: Some("https://tocsin.example.com/incidents/INC-0007".into()),
        ..Message::default()
    };
    assert_eq!(
        slack.send(&message).await,
        Outcome::Retry {
            error: "HTTP 429".into(),
            after: Some(Duration::from_secs(3))
        }
    );
    assert_eq!(
        slack.send(&message).await,
        Outcome::Refused {
            error: "HTTP 400: invalid_payload".into()
        }
    );
    assert_eq!(
        slack.send(&message).await,
        Outcome::Refused {
            error: "HTTP 404: no_service".into()
        }
    );
    assert_eq!(slack.send(&message).await, Outcome::Delivered { thread: None });

    let got = got.lock().unwrap();
    let sent = &got[3];
    let blocks = sent["blocks"].as_array().unwrap();
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["header", "section", "context", "actions"]);
    assert_eq!(
        blocks[0]["text"]["text"], "P1 · INC-0007 · Login <b>failures</b> & @channel",
        "plain text needs no escaping"
    );
    assert_eq!(
        blocks[3]["elements"][0]["url"],
        "https://tocsin.example.com/incidents/INC-0007"
    );
    let fallback = sent["text"].as_str().unwrap();
    assert!(
        fallback.starts_with("P1 · INC-0007 · Login &lt;b&gt;failures&lt;/b&gt; &amp; @channel: Declared by jo"),
        "{fallback}"
    );
    assert!(
        format!("{slack:?}").contains("127.0.0.1") && !format!("{slack:?}").contains("XXXX"),
        "the address stays out of logs"
    );
    drop(got);

    // People an escalation calls are mentioned by member id, or named.
    let call = Message {
        to: vec![
            Recipient {
                name: "Jo".into(),
                email: None,
                telegram: None,
                slack: Some("U024BE7LH".into()),
            },
            Recipient {
                name: "Ann <x>".into(),
                email: None,
                telegram: None,
                slack: None,
            },
        ],
        ..message
    };
    let blocks = &tocsin_notify::slack::payload(&call)["blocks"];
    assert_eq!(blocks[3]["text"]["text"], "For: <@U024BE7LH>, Ann &lt;x&gt;");
}
