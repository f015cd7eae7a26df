//! The signed webhook against a real HTTP server on loopback that answers as receivers do:
//! busy, throttled, refusing, or taking the message.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use tocsin_notify::webhook::{self, Webhook};
use tocsin_notify::{Channel, Message, Outcome, http_client};

const SECRET: &[u8] = b"a-secret-of-32-bytes-for-tests!!";

/// A receiver answering each request with the next of `answers`, keeping what it got.
async fn receiver(answers: Vec<(u16, Option<&'static str>)>) -> (String, Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let kept = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (got, answers) = (Arc::clone(&kept), Arc::clone(&answers));
            async move {
                got.lock().unwrap().push((headers, body.to_vec()));
                let (status, retry_after) = answers.lock().unwrap().next().unwrap_or((200, None));
                let mut response = axum::response::Response::new(axum::body::Body::from("ok"));
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                if let Some(after) = retry_after {
                    response.headers_mut().insert("retry-after", after.parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn message() -> Message {
    Message {
        id: "audit-41:ops-webhook".into(),
        kind: "declared".into(),
        incident: Some("INC-0007".into()),
        severity: Some("P1".into()),
        title: "Credential compromise from 203.0.113.9".into(),
        text: "Declared by tocsin: a login succeeded after 7 failed attempts".into(),
        deadline: Some("acknowledge within 14m".into()),
        link: Some("https://tocsin.example.com/incidents/INC-0007".into()),
        ..Message::default()
    }
}

#[tokio::test]
async fn a_signed_message_is_delivered_and_busy_throttled_or_refusing_receivers_are_told_apart() {
    let (url, got) = receiver(vec![(503, None), (429, Some("7")), (400, None), (200, None)]).await;
    let hook = Webhook::new(&url, SECRET, http_client(Duration::from_secs(5))).unwrap();
    let m = message();
    assert_eq!(
        hook.send(&m).await,
        Outcome::Retry {
            error: "HTTP 503".into(),
            after: None
        }
    );
    assert_eq!(
        hook.send(&m).await,
        Outcome::Retry {
            error: "HTTP 429".into(),
            after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        hook.send(&m).await,
        Outcome::Refused {
            error: "HTTP 400".into()
        }
    );
    assert_eq!(hook.send(&m).await, Outcome::Delivered { thread: None });

    let got = got.lock().unwrap();
    assert_eq!(got.len(), 4);
    for (headers, body) in got.iter() {
        let signature = headers[webhook::SIGNATURE].to_str().unwrap();
        assert!(
            webhook::verify(SECRET, signature, body, Timestamp::now(), 300),
            "{signature}"
        );
        assert!(!webhook::verify(
            b"another secret, 32 bytes long!!!",
            signature,
            body,
            Timestamp::now(),
            300
        ));
        assert_eq!(
            headers[webhook::IDEMPOTENCY_KEY],
            "audit-41:ops-webhook",
            "the same id every attempt"
        );
        assert_eq!(headers["content-type"], "application/json");
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(json["incident"], "INC-0007");
        assert_eq!(json["deadline"], "acknowledge within 14m");
    }
    // A body changed on the way, or a signature replayed much later, does not verify.
    let (headers, body) = &got[3];
    let signature = headers[webhook::SIGNATURE].to_str().unwrap();
    let mut changed = body.clone();
    changed[2] ^= 1;
    assert!(!webhook::verify(SECRET, signature, &changed, Timestamp::now(), 300));
    let later = Timestamp::now() + jiff::SignedDuration::from_mins(10);
    assert!(!webhook::verify(SECRET, signature, body, later, 300));
}

#[tokio::test]
async fn an_unreachable_receiver_is_tried_again_and_a_bad_url_or_short_secret_is_refused_up_front() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let hook = Webhook::new(&closed, SECRET, http_client(Duration::from_secs(2))).unwrap();
    match hook.send(&message()).await {
        Outcome::Retry { error, after: None } => assert!(error.starts_with("cannot connect"), "{error}"),
        other => panic!("{other:?}"),
    }
    let client = http_client(Duration::from_secs(2));
    assert!(
        Webhook::new("ftp://example.com/x", SECRET, client.clone())
            .unwrap_err()
            .to_string()
            .contains("not an http or https URL")
    );
    assert!(
        Webhook::new("not a url", SECRET, client.clone())
            .unwrap_err()
            .to_string()
            .contains("is not a URL")
    );
    assert_eq!(
        Webhook::new("https://example.com/x", b"short", client)
            .unwrap_err()
            .to_string(),
        "the signing secret is shorter than 16 bytes"
    );
}
