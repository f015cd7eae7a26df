//! Channels: where people are told. A channel takes a message and says whether it was
//! delivered, should be tried again (and from when), or can never be delivered. The outbox
//! and its workers live elsewhere; this crate only speaks the channels' wire formats.
#![forbid(unsafe_code)]
// A panic in a running server is an outage: library code says what went wrong instead.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod email;
pub mod retry;
pub mod slack;
pub mod slack_app;
pub mod telegram;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod webhook;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
/// The HTTP client the channels take (see [`http_client`]).
pub use reqwest::Client as HttpClient;

/// Why a channel cannot be set up from its settings (or a message made for it): one line
/// that names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadChannel(pub String);

impl From<String> for BadChannel {
    fn from(why: String) -> Self {
        BadChannel(why)
    }
}

impl From<&str> for BadChannel {
    fn from(why: &str) -> Self {
        BadChannel(why.to_owned())
    }
}

impl From<tocsin_core::plan::NotATelegramChat> for BadChannel {
    fn from(e: tocsin_core::plan::NotATelegramChat) -> Self {
        BadChannel(e.to_string())
    }
}
use serde::{Deserialize, Serialize};

/// One notification, rendered for people: what happened, to which incident, how urgent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per notification and stable across attempts: receivers that can, drop a
    /// repeat with the same id.
    pub id: String,
    /// What happened: `declared`, `acknowledged`, `clock_warning`, `test`, ...
    pub kind: String,
    /// Like `INC-0007`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    pub title: String,
    /// What changed, in a sentence.
    pub text: String,
    /// The most urgent open clock and the time left on it, like `customer notice due in 3h 10m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// Where to see the incident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Whether the incident waits for someone to acknowledge it: channels that can offer
    /// a button for it do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaits_ack: bool,
    /// The run of an action this message asks approval for: channels that can offer a
    /// button for it do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_run: Option<u32>,
    /// A link that approves that run as the one person this message is for, once: sent
    /// only to them, by channels that reach one person (email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_link: Option<String>,
    /// A notice of the incident (its number) to one recipient: the message is its subject
    /// and its Markdown text, nothing else. Delivery fills them in when it sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<u32>,
    /// The people this message is meant for, beyond the channel's audience (an
    /// escalation's, a reminder's): channels that can, address or mention them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Recipient>,
    /// The channel's own reference to the incident's first message there, for channels that
    /// thread (a Telegram message id, an email's `Message-ID`). Given at sending time, never
    /// stored with the message.
    #[serde(skip)]
    pub thread: Option<String>,
}

/// A person as the channels reach them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their Telegram user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram: Option<i64>,
    /// Their Slack member id, like `U024BE7LH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
}

impl Message {
    /// The heading every channel shows: severity, incident and title.
    pub fn heading(&self) -> String {
        let mut head: Vec<&str> = Vec::new();
        head.extend(self.severity.as_deref());
        head.extend(self.incident.as_deref());
        head.push(&self.title);
        head.join(" · ")
    }
}

/// `&`, `<` and `>` as markup wants them (Telegram's HTML, Slack's text, an email's HTML),
/// so that a title can neither format nor mention nor hide a link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// What came of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `thread`: the channel's reference to this message, for later ones to follow it.
    Delivered { thread: Option<String> },
    /// Worth trying again: the receiver was busy, down or unreachable. `after`: how long
    /// it asked to be left alone (`Retry-After`), if it did.
    Retry { error: String, after: Option<Duration> },
    /// Trying again would not help: the receiver refused the message.
    Refused { error: String },
}

#[async_trait]
pub trait Channel: Send + Sync + fmt::Debug {
    async fn send(&self, message: &Message) -> Outcome;

    /// Whether later messages about an incident follow its first one here (the reference
    /// that [`Outcome::Delivered`] returns comes back as [`Message::thread`]).
    fn threads(&self) -> bool {
        false
    }
}

/// Makes ring the process's TLS provider. Every HTTP client in the process needs one, and
/// the build leaves the choice to the program (the other provider costs a C toolchain and
/// build time), so programs and tests that make clients call this first.
pub fn use_ring() {
    // Installing fails only when a provider is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client channels share: rustls with the ring provider, a timeout per request.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    use_ring();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with rustls and the ring provider")
}

/// What an HTTP answer means for a notification: 2xx delivered; 408, 425, 429 and 5xx
/// busy or down, worth another try (after `Retry-After` if given); other answers refuse it.
pub fn http_outcome(response: &reqwest::Response, now: jiff::Timestamp) -> Outcome {
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered { thread: None };
    }
    let error = format!("HTTP {}", status.as_u16());
    if status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429) {
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::retry_after(v, now));
        Outcome::Retry { error, after }
    } else {
        Outcome::Refused { error }
    }
}

/// What a failed request means: unreachable, timed out or cut off is worth another try.
/// The error leaves out the address, which holds the secret of some channels (a Slack
/// webhook's path, a Telegram bot's token).
pub fn request_failed(error: &reqwest::Error) -> Outcome {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Outcome::Retry {
        error: text,
        after: None,
    }
}
