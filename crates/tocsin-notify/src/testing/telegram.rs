//! A Telegram Bot API server on loopback for tests: it speaks the Bot API's wire format
//! (`POST /bot<token>/<method>` with JSON, answers `{"ok":true,"result":…}` or
//! `{"ok":false,"error_code":…,"description":…,"parameters":…}`), checks what tocsin sends
//! as strictly as Telegram does where it matters (the token, the HTML, the button data),
//! records every call, hands out updates to `getUpdates` long polling, answers 409 to a
//! second poller, and can be told to fail the next sends.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// The `sendMessage` calls that made a message, with its `message_id`.
    sent: Vec<Value>,
    updates: VecDeque<Value>,
    /// Answers for the next `sendMessage` calls: status, and `retry_after` for a 429.
    failures: VecDeque<(u16, Option<u64>)>,
    polling: bool,
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
    changed: tokio::sync::Notify,
    next_message: AtomicI64,
    next_update: AtomicI64,
}

#[derive(Clone)]
pub struct FakeTelegram {
    /// The base URL to configure as the channel's `url`.
    pub url: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// Whether `html` is the HTML Telegram takes: known tags, closed in order, entities escaped.
fn html_problem(html: &str) -> Option<String> {
    const TAGS: [&str; 9] = ["b", "strong", "i", "em", "u", "s", "code", "pre", "a"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&', '>']) {
        let tail = &rest[at..];
        match tail.as_bytes()[0] {
            b'>' => return Some("can't parse entities: unexpected end tag".into()),
            b'&' => {
                let Some(end) = tail.find(';') else {
                    return Some("can't parse entities: a bare & must be written &amp;".into());
                };
                let entity = &tail[1..end];
                if !["lt", "gt", "amp", "quot"].contains(&entity) && !entity.starts_with('#') {
                    return Some(format!("can't parse entities: unsupported entity &{entity};"));
                }
                rest = &tail[end + 1..];
            }
            _ => {
                let Some(end) = tail.find('>') else {
                    return Some("can't parse entities: unclosed start tag".into());
                };
                let tag = &tail[1..end];
                if let Some(name) = tag.strip_prefix('/') {
                    if open.pop().as_deref() != Some(name) {
                        return Some(format!("can't parse entities: unmatched end tag {name}"));
                    }
                } else {
                    let name = tag.split_whitespace().next().unwrap_or_default();
                    if !TAGS.contains(&name) {
                        return Some(format!("can't parse entities: unsupported start tag \"{name}\""));
                    }
                    open.push(name.to_owned());
                }
                rest = &tail[end + 1..];
            }
        }
    }
    (!open.is_empty()).then(|| "can't parse entities: unclosed tag".into())
}

impl FakeTelegram {
    /// Starts the fake for the bot with `token`.
    pub async fn start(token: &str) -> FakeTelegram {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            inner: Mutex::default(),
            changed: tokio::sync::Notify::new(),
            next_message: AtomicI64::new(100),
            next_update: AtomicI64::new(1),
        });
        let app = axum::Router::new()
            .route("/{bot}/{method}", axum::routing::post(call))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeTelegram { url, shared }
    }

    /// The bodies of the calls of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let inner = self.shared.inner.lock().unwrap();
        inner
            .calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.body.clone())
            .collect()
    }

    /// The messages sent so far: the bodies of the `sendMessage` calls that succeeded, with
    /// the `message_id` each got.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.inner.lock().unwrap().sent.clone()
    }

    /// Waits until `count` calls of `method` came (at most `within`), and returns them all.
    pub async fn wait_for(&self, method: &str, count: usize, within: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let calls = self.calls(method);
            if calls.len() >= count {
                return calls;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{count} {method} calls expected within {within:?}, got {}: {calls:#?}",
                    calls.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Adds an update for `getUpdates`, numbered after the last; returns its id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = self.shared.next_update.fetch_add(1, Ordering::SeqCst);
        update["update_id"] = json!(id);
        self.shared.inner.lock().unwrap().updates.push_back(update);
        self.shared.changed.notify_waiters();
        id
    }

    /// A person's command in `chat`, as Telegram hands it over.
    pub fn push_command(&self, chat: i64, user: i64, name: &str, text: &str) -> i64 {
        let message = self.shared.next_message.fetch_add(1, Ordering::SeqCst);
        self.push_update(json!({"message": {
            "message_id": message,
            "from": {"id": user, "is_bot": false, "first_name": name},
            "chat": {"id": chat, "type": if chat == user { "private" } else { "supergroup" }},
            "date": 1_700_000_000,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": text.split(' ').next().unwrap_or_default().len()}],
        }}))
    }

    /// A press of the button with `data` under `message` (one of [`FakeTelegram::sent`]).
    pub fn push_press(&self, chat: i64, user: i64, name: &str, message: &Value, data: &str) -> i64 {
        let message_id = message["message_id"].as_i64().expect("a sent message has an id");
        self.push_update(json!({"callback_query": {
            "id": format!("cb{}", self.shared.next_update.load(Ordering::SeqCst)),
            "from": {"id": user, "is_bot": false, "first_name": name},
            "message": {
                "message_id": message_id,
                "chat": {"id": chat, "type": "supergroup"},
                "date": 1_700_000_000,
                "text": message["text"],
                "reply_markup": message["reply_markup"],
            },
            "chat_instance": "1",
            "data": data,
        }}))
    }

    /// The next `sendMessage` calls fail with `status` (and `retry_after` seconds on 429).
    pub fn fail_next(&self, status: u16, retry_after: Option<u64>) {
        self.shared
            .inner
            .lock()
            .unwrap()
            .failures
            .push_back((status, retry_after));
    }
}

async fn call(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return error(401, "Unauthorized", None);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Bad Request: the body is not JSON", None);
    };
    shared.inner.lock().unwrap().calls.push(Call {
        method: method.clone(),
        body: body.clone(),
    });
    match method.as_str() {
        "sendMessage" => send_message(&shared, &body),
        "getUpdates" => get_updates(&shared, &body).await,
        "answerCallbackQuery" | "editMessageReplyMarkup" => ok(json!(true)),
        _ => error(404, "Not Found: method not found", None),
    }
}

fn send_message(shared: &Shared, body: &Value) -> Response {
    if let Some((status, retry_after)) = shared.inner.lock().unwrap().failures.pop_front() {
        return match status {
            429 => error(
                429,
                &format!("Too Many Requests: retry after {}", retry_after.unwrap_or(1)),
                Some(json!({"retry_after": retry_after.unwrap_or(1)})),
            ),
            400 => error(400, "Bad Request: chat not found", None),
            other => error(other, "Internal Server Error", None),
        };
    }
    if body["chat_id"].is_null() {
        return error(400, "Bad Request: chat_id is empty", None);
    }
    let text = body["text"].as_str().unwrap_or_default();
    if text.is_empty() {
        return error(400, "Bad Request: message text is empty", None);
    }
    if text.chars().count() > 4096 {
        return error(400, "Bad Request: message is too long", None);
    }
    if body["parse_mode"] == "HTML"
        && let Some(problem) = html_problem(text)
    {
        return error(400, &format!("Bad Request: {problem}"), None);
    }
    for button in body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
    {
        if button["callback_data"].as_str().is_some_and(|d| d.len() > 64) {
            return error(400, "Bad Request: BUTTON_DATA_INVALID", None);
        }
        if let Some(url) = button["url"].as_str()
            && !url.starts_with("https://")
        {
            return error(400, "Bad Request: inline keyboard button URL is invalid", None);
        }
    }
    let id = shared.next_message.fetch_add(1, Ordering::SeqCst);
    let mut kept = body.clone();
    kept["message_id"] = json!(id);
    shared.inner.lock().unwrap().sent.push(kept);
    ok(json!({
        "message_id": id,
        "chat": {"id": body["chat_id"]},
        "date": 1_700_000_000,
        "text": text,
        "reply_markup": body["reply_markup"],
    }))
}

async fn get_updates(shared: &Shared, body: &Value) -> Response {
    {
        let mut inner = shared.inner.lock().unwrap();
        if inner.polling {
            return error(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                None,
            );
        }
        inner.polling = true;
    }
    // However the call ends, a client that went away included, the next may poll.
    struct Polling<'a>(&'a Shared);
    impl Drop for Polling<'_> {
        fn drop(&mut self) {
            self.0.inner.lock().unwrap().polling = false;
        }
    }
    let _polling = Polling(shared);
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0).min(5));
    let deadline = tokio::time::Instant::now() + timeout;
    let found = loop {
        let changed = shared.changed.notified();
        {
            let mut inner = shared.inner.lock().unwrap();
            // An offset confirms the updates before it: they are gone.
            inner.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !inner.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                break inner.updates.iter().cloned().collect::<Vec<_>>();
            }
        }
        let _ = tokio::time::timeout_at(deadline, changed).await;
    };
    ok(Value::Array(found))
}
