//! Slack's Web API on loopback for tests: `POST /api/chat.postMessage` and
//! `/api/chat.update` with a bearer token and JSON, answered as Slack does (`{"ok": true,
//! "channel", "ts", "message"}`, or `{"ok": false, "error": "invalid_auth"}` and the like,
//! with HTTP 200), checking the token, the channel, the `ts` of an update and that the
//! blocks are Block Kit's shape; every call is recorded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::Call;

struct Shared {
    token: String,
    channel: String,
    calls: Mutex<Vec<Call>>,
    /// The `ts` of each message posted.
    posted: Mutex<Vec<String>>,
    next: AtomicU64,
}

#[derive(Clone)]
pub struct FakeSlack {
    /// The Web API's base, to configure as the channel's `url`.
    pub url: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeSlack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSlack")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn answer(body: Value) -> axum::Json<Value> {
    axum::Json(body)
}

async fn call(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let refuse = |error: &str| answer(json!({"ok": false, "error": error}));
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(shared.token.as_str()) {
        return refuse("invalid_auth");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return refuse("invalid_json");
    };
    shared.calls.lock().unwrap().push(Call {
        method: method.clone(),
        body: body.clone(),
    });
    if body["channel"] != shared.channel.as_str() {
        return refuse("channel_not_found");
    }
    let blocks_ok = body["blocks"]
        .as_array()
        .is_some_and(|blocks| blocks.len() <= 50 && blocks.iter().all(|b| b["type"].is_string()));
    if !blocks_ok || !body["text"].is_string() {
        return refuse("invalid_blocks");
    }
    match method.as_str() {
        "chat.postMessage" => {
            if let Some(parent) = body["thread_ts"].as_str()
                && !shared.posted.lock().unwrap().iter().any(|ts| ts == parent)
            {
                return refuse("thread_not_found");
            }
            let ts = format!("1700000000.{:06}", shared.next.fetch_add(1, Ordering::SeqCst));
            shared.posted.lock().unwrap().push(ts.clone());
            answer(
                json!({"ok": true, "channel": shared.channel, "ts": ts, "message": {"text": body["text"], "ts": ts}}),
            )
        }
        "chat.update" => {
            let ts = body["ts"].as_str().unwrap_or_default().to_owned();
            if !shared.posted.lock().unwrap().contains(&ts) {
                return refuse("message_not_found");
            }
            answer(json!({"ok": true, "channel": shared.channel, "ts": ts, "text": body["text"]}))
        }
        _ => refuse("unknown_method"),
    }
}

impl FakeSlack {
    /// Starts the fake for the bot token `token`, posting to `channel`.
    pub async fn start(token: &str, channel: &str) -> FakeSlack {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            channel: channel.to_owned(),
            calls: Mutex::default(),
            posted: Mutex::default(),
            next: AtomicU64::new(100),
        });
        let app = axum::Router::new()
            .route("/api/{method}", axum::routing::post(call))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSlack { url, shared }
    }

    /// The calls of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.shared
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.body.clone())
            .collect()
    }

    /// The `ts` of each message posted, in order.
    pub fn posted(&self) -> Vec<String> {
        self.shared.posted.lock().unwrap().clone()
    }
}
