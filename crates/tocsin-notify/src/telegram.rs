//! The Telegram Bot API: messages in HTML with buttons (Acknowledge, Open), replies that
//! keep one incident's news in one thread, and the long polling (`getUpdates`) through which
//! responders act from the chat, which needs no public address.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Channel, Message, Outcome, escape, request_failed};

/// The public Bot API server; self-hosted ones (and tests) give their own.
pub const API: &str = "https://api.telegram.org";
/// How much of the heading and of what changed a message shows, so that with the clock,
/// the people and the link they stay within the 4096 characters Telegram takes (counted
/// after the markup is read).
const MAX_HEADING: usize = 200;
const MAX_WHAT: usize = 1500;
/// How long a `getUpdates` call waits for something to happen.
pub const POLL_SECONDS: u32 = 25;

pub struct Telegram {
    base: reqwest::Url,
    token: String,
    chat: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for Telegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is the secret; the bot's id before its colon is not.
        let bot = self.token.split(':').next().unwrap_or_default();
        f.debug_struct("Telegram")
            .field("base", &self.base.as_str())
            .field("bot", &bot)
            .field("chat", &self.chat)
            .finish_non_exhaustive()
    }
}

/// Why a Bot API call failed, as Telegram says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, or 0 when no answer came.
    pub code: u16,
    pub description: String,
    /// How long Telegram asked to be left alone (429).
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            0 => f.write_str(&self.description),
            code => write!(f, "Telegram {code}: {}", self.description),
        }
    }
}

impl ApiError {
    /// Whether trying again can help: no answer, too many requests, or a server error.
    pub fn passing(&self) -> bool {
        self.code == 0 || self.code == 429 || self.code >= 500
    }

    fn outcome(self) -> Outcome {
        match self.passing() {
            true => Outcome::Retry {
                after: self.retry_after,
                error: self.to_string(),
            },
            false => Outcome::Refused {
                error: self.to_string(),
            },
        }
    }
}

/// What `getUpdates` returns: a message sent to the bot or a button pressed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<ChatMessage>,
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ChatMessage {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
    /// Its buttons, as Telegram describes them.
    #[serde(default)]
    pub reply_markup: Option<Value>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Chat {
    pub id: i64,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

impl User {
    /// How the person shows on a timeline: their name, and their @username if any.
    pub fn display(&self) -> String {
        let mut name = self.first_name.clone();
        if let Some(last) = &self.last_name {
            name.push(' ');
            name.push_str(last);
        }
        match &self.username {
            Some(user) => format!("{name} (@{user})"),
            None => name,
        }
    }
}

/// A press of an inline button.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    /// The message with the button (absent when it is too old for Telegram to say).
    #[serde(default)]
    pub message: Option<ChatMessage>,
    #[serde(default)]
    pub data: Option<String>,
}

/// The button data that acknowledges an incident, like `ack:INC-0007`.
pub fn ack_data(incident: &str) -> String {
    format!("ack:{incident}")
}

/// The button data that approves run `run` of an incident, like `approve:INC-0007:2`.
pub fn approve_data(incident: &str, run: u32) -> String {
    format!("approve:{incident}:{run}")
}

/// A mention that notifies the person in a group: a link to their user id.
fn mention(name: &str, id: i64) -> String {
    format!("<a href=\"tg://user?id={id}\">{}</a>", escape(name))
}

/// The message in Telegram's HTML: the heading in bold, what changed, the clock, who it
/// is for, and the link when no button can carry it.
pub fn html(message: &Message) -> String {
    // Within Telegram's 4096 characters, whatever the title and text: the markup stays whole.
    let heading: String = message.heading().chars().take(MAX_HEADING).collect();
    let what: String = message.text.chars().take(MAX_WHAT).collect();
    let mut text = format!("<b>{}</b>\n{}", escape(&heading), escape(&what));
    if let Some(deadline) = &message.deadline {
        text.push_str(&format!("\n⏰ {}", escape(deadline)));
    }
    if !message.to.is_empty() {
        let people: Vec<String> = message
            .to
            .iter()
            .map(|p| match p.telegram {
                Some(id) => mention(&p.name, id),
                None => escape(&p.name),
            })
            .collect();
        text.push_str(&format!("\nFor: {}", people.join(", ")));
    }
    if let Some(link) = message.link.as_deref().filter(|l| !button_link(l)) {
        text.push_str(&format!("\n{}", escape(link)));
    }
    text
}

/// Telegram takes only public https addresses in a button; others go in the text.
fn button_link(link: &str) -> bool {
    link.starts_with("https://")
}

/// The buttons under a message: Acknowledge while the incident waits for it, Approve for
/// a run that waits for approval, and Open.
pub fn keyboard(message: &Message) -> Option<Value> {
    let mut row = Vec::new();
    if let (true, Some(incident)) = (message.awaits_ack, &message.incident) {
        row.push(json!({"text": "Acknowledge", "callback_data": ack_data(incident)}));
    }
    if let (Some(run), Some(incident)) = (message.approve_run, &message.incident) {
        row.push(json!({"text": format!("Approve run {run}"), "callback_data": approve_data(incident, run)}));
    }
    if let Some(link) = message.link.as_deref().filter(|l| button_link(l)) {
        row.push(json!({"text": "Open", "url": link}));
    }
    (!row.is_empty()).then(|| json!({"inline_keyboard": [row]}))
}

impl Telegram {
    /// The bot with `token`, posting to `chat` (a numeric id, or `@channel`), through the
    /// Bot API server at `base`.
    pub fn new(base: &str, token: &str, chat: &str, client: reqwest::Client) -> Result<Self, crate::BadChannel> {
        let mut base: reqwest::Url = base
            .trim()
            .parse()
            .map_err(|e| format!("\"{base}\" is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("\"{base}\" is not an http or https URL").into());
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let token = token.trim();
        let well_formed = token.split_once(':').is_some_and(|(id, key)| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if !well_formed {
            return Err("the bot token is not like 123456789:AAE... (as BotFather gives it)".into());
        }
        tocsin_core::plan::check_telegram_chat(chat)?;
        Ok(Telegram {
            base,
            token: token.to_owned(),
            chat: chat.trim().to_owned(),
            client,
        })
    }

    /// The chat messages go to.
    pub fn chat(&self) -> &str {
        &self.chat
    }

    /// Calls a Bot API method; its `result`, or why it failed.
    pub async fn call(&self, method: &str, body: &Value, timeout: Option<Duration>) -> Result<Value, ApiError> {
        // Not `join`: the token's colon would read as a URL scheme.
        let mut url = self.base.clone();
        url.set_path(&format!("{}bot{}/{method}", self.base.path(), self.token));
        let mut request = self.client.post(url).json(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let error = match request_failed(&e) {
                    Outcome::Retry { error, .. } => error,
                    _ => e.to_string(),
                };
                return Err(ApiError {
                    code: 0,
                    description: error,
                    retry_after: None,
                });
            }
        };
        let code = response.status().as_u16();
        let answer: Value = match response.json().await {
            Ok(v) => v,
            Err(_) => {
                return Err(ApiError {
                    code: if code < 300 { 502 } else { code },
                    description: "the answer is not the Bot API's JSON".into(),
                    retry_after: None,
                });
            }
        };
        if answer["ok"] == json!(true) {
            return Ok(answer["result"].clone());
        }
        let code = answer["error_code"].as_u64().map_or(code, |c| c as u16);
        let mut description = answer["description"].as_str().unwrap_or("no description").to_owned();
        if let Some(to) = answer["parameters"]["migrate_to_chat_id"].as_i64() {
            description.push_str(&format!(
                " (the group is now the supergroup {to}: make that the channel's chat)"
            ));
        }
        Err(ApiError {
            code,
            description,
            retry_after: answer["parameters"]["retry_after"].as_u64().map(Duration::from_secs),
        })
    }

    /// Sends `html` to `chat`, under `keyboard`, as a reply to `reply_to` if given (a reply
    /// to a message since deleted goes out alone). The new message's id.
    pub async fn send_html(
        &self,
        chat: &str,
        html: &str,
        keyboard: Option<Value>,
        reply_to: Option<i64>,
    ) -> Result<i64, ApiError> {
        let mut body = json!({
            "chat_id": chat_id(chat),
            "text": html,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(keyboard) = keyboard {
            body["reply_markup"] = keyboard;
        }
        if let Some(id) = reply_to {
            body["reply_parameters"] = json!({"message_id": id, "allow_sending_without_reply": true});
        }
        let sent = self.call("sendMessage", &body, None).await?;
        sent["message_id"].as_i64().ok_or_else(|| ApiError {
            code: 502,
            description: "sendMessage answered without a message_id".into(),
            retry_after: None,
        })
    }

    /// Waits up to `POLL_SECONDS` for updates from `offset` on; also confirms those before.
    pub async fn updates(&self, offset: i64) -> Result<Vec<Update>, ApiError> {
        let body = json!({
            "offset": offset,
            "timeout": POLL_SECONDS,
            "allowed_updates": ["message", "callback_query"],
        });
        let wait = Duration::from_secs(u64::from(POLL_SECONDS) + 10);
        let result = self.call("getUpdates", &body, Some(wait)).await?;
        serde_json::from_value(result).map_err(|e| ApiError {
            code: 502,
            description: format!("getUpdates answered with updates that cannot be read: {e}"),
            retry_after: None,
        })
    }

    /// Answers a button press: `text` shows briefly to the person who pressed it.
    pub async fn answer_callback(&self, id: &str, text: &str) -> Result<(), ApiError> {
        self.call(
            "answerCallbackQuery",
            &json!({"callback_query_id": id, "text": text}),
            None,
        )
        .await
        .map(drop)
    }

    /// Replaces the buttons under a message (`None` removes them).
    pub async fn set_keyboard(&self, chat: i64, message_id: i64, keyboard: Option<Value>) -> Result<(), ApiError> {
        let body = json!({
            "chat_id": chat,
            "message_id": message_id,
            "reply_markup": keyboard.unwrap_or_else(|| json!({"inline_keyboard": []})),
        });
        self.call("editMessageReplyMarkup", &body, None).await.map(drop)
    }
}

/// A chat as the Bot API takes it: a number, or `@name` for a public channel.
fn chat_id(chat: &str) -> Value {
    chat.parse::<i64>().map_or_else(|_| json!(chat), |id| json!(id))
}

#[async_trait]
impl Channel for Telegram {
    fn threads(&self) -> bool {
        true
    }

    async fn send(&self, message: &Message) -> Outcome {
        let reply_to = message.thread.as_deref().and_then(|t| t.parse().ok());
        match self
            .send_html(&self.chat, &html(message), keyboard(message), reply_to)
            .await
        {
            // The first message about an incident starts its thread.
            Ok(id) => Outcome::Delivered {
                thread: Some(id.to_string()),
            },
            Err(e) => e.outcome(),
        }
    }
}

/// A command sent to the bot, like `/ack INC-7` or `/ack@tocsin_bot 7`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Without the slash and the bot's name, in lower case.
    pub name: String,
    pub args: Vec<String>,
}

impl Command {
    /// The command in a message's text, if it is one.
    pub fn parse(text: &str) -> Option<Command> {
        let mut words = text.split_whitespace();
        let first = words.next()?.strip_prefix('/')?;
        let name = first.split('@').next().unwrap_or_default().to_ascii_lowercase();
        if name.is_empty() {
            return None;
        }
        Some(Command {
            name,
            args: words.map(str::to_owned).collect(),
        })
    }
}
