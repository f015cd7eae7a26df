//! A Slack app over Slack's Web API: an incident's first news is one message in the
//! channel, updated in place as the incident changes, and its later news goes in that
//! message's thread. Messages carry buttons (Acknowledge, Approve) that Slack sends back
//! to tocsin as interactivity requests, signed with the app's signing secret (`v0`),
//! which [`verify`] checks.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{Channel, Message, Outcome, escape, request_failed};

/// Slack's Web API.
pub const API: &str = "https://slack.com/api";
/// How old a signed request may be, in seconds, before it is refused as a replay.
pub const WINDOW_SECONDS: i64 = 300;
/// The longest fallback text sent.
const MAX_TEXT: usize = 2_900;

pub struct SlackApp {
    base: reqwest::Url,
    token: String,
    channel: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for SlackApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is the secret.
        f.debug_struct("SlackApp")
            .field("base", &self.base.as_str())
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// The button value that acknowledges an incident, and the one that approves a run.
pub const ACK: &str = "ack";
pub const APPROVE: &str = "approve";

impl SlackApp {
    /// The app with bot token `token`, posting to Slack channel `channel` through the Web
    /// API at `base` (Slack's own, or a test's).
    pub fn new(base: &str, token: &str, channel: &str, client: reqwest::Client) -> Result<Self, crate::BadChannel> {
        let base: reqwest::Url = format!("{}/", base.trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("the Slack API address is not a URL: {e}"))?;
        if !token.starts_with("xoxb-") {
            return Err("a Slack app's token is its bot token, which starts with xoxb-".into());
        }
        Ok(SlackApp {
            base,
            token: token.to_owned(),
            channel: channel.to_owned(),
            client,
        })
    }

    /// Calls a Web API method: its answer, or what the failure means for a notification.
    async fn call(&self, method: &str, body: &Value) -> Result<Value, Outcome> {
        let url = self.base.join(method).map_err(|e| Outcome::Refused {
            error: format!("bad Slack API address: {e}"),
        })?;
        let response = self
            .client
            .post(url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| request_failed(&e))?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Outcome::Retry {
                error: format!("Slack {method}: HTTP {}", status.as_u16()),
                after,
            });
        }
        let answer: Value = response.json().await.map_err(|e| Outcome::Retry {
            error: format!("Slack {method}: the answer is not JSON: {e}"),
            after: None,
        })?;
        if answer["ok"] == true {
            return Ok(answer);
        }
        let error = answer["error"].as_str().unwrap_or("unknown_error").to_owned();
        Err(match error.as_str() {
            "ratelimited" | "service_unavailable" | "fatal_error" | "internal_error" | "request_timeout" => {
                Outcome::Retry {
                    error: format!("Slack {method}: {error}"),
                    after: None,
                }
            }
            _ => Outcome::Refused {
                error: format!("Slack {method}: {error}"),
            },
        })
    }
}

/// The message as Block Kit: heading, what changed, the clock, the people, and buttons to
/// acknowledge, to approve a run and to open the incident.
pub fn blocks(message: &Message) -> Value {
    let mut blocks = crate::slack::news_blocks(message);
    let mut buttons = Vec::new();
    if let Some(incident) = &message.incident {
        if message.awaits_ack {
            buttons.push(json!({"type": "button", "action_id": ACK, "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"}, "value": incident}));
        }
        if let Some(run) = message.approve_run {
            buttons.push(json!({"type": "button", "action_id": APPROVE,
                "text": {"type": "plain_text", "text": format!("Approve run {run}")}, "value": format!("{incident}:{run}")}));
        }
    }
    if let Some(link) = &message.link {
        buttons.push(
            json!({"type": "button", "action_id": "open", "text": {"type": "plain_text", "text": "Open"}, "url": link}),
        );
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    Value::Array(blocks)
}

/// The plain text that notifications and old clients show.
fn fallback_text(message: &Message) -> String {
    let text = format!("{}: {}", message.heading(), message.text);
    escape(&text).chars().take(MAX_TEXT).collect()
}

#[async_trait]
impl Channel for SlackApp {
    fn threads(&self) -> bool {
        true
    }

    async fn send(&self, message: &Message) -> Outcome {
        let mut body = json!({
            "channel": self.channel,
            "text": fallback_text(message),
            "blocks": blocks(message),
            "unfurl_links": false,
        });
        let Some(parent) = &message.thread else {
            // The incident's first message here: later news threads under it.
            return match self.call("chat.postMessage", &body).await {
                Ok(answer) => Outcome::Delivered {
                    thread: answer["ts"].as_str().map(str::to_owned),
                },
                Err(outcome) => outcome,
            };
        };
        // Its news in the thread, then the first message updated to the incident as it is.
        body["thread_ts"] = json!(parent);
        if let Err(outcome) = self.call("chat.postMessage", &body).await {
            return outcome;
        }
        let update = json!({
            "channel": self.channel,
            "ts": parent,
            "text": fallback_text(message),
            "blocks": blocks(message),
        });
        if let Err(outcome) = self.call("chat.update", &update).await {
            // The news is in the thread; only the summary above it is behind.
            tracing::warn!(?outcome, "the incident's Slack message could not be updated");
        }
        Outcome::Delivered { thread: None }
    }
}

/// Whether a request came from Slack: `signature` (`X-Slack-Signature`) is `v0=` and the
/// hex HMAC-SHA256, keyed with the signing secret, of `v0:{timestamp}:{body}`, and
/// `timestamp` (`X-Slack-Request-Timestamp`) is within [`WINDOW_SECONDS`] of `now`.
pub fn verify(signing_secret: &[u8], timestamp: &str, body: &[u8], signature: &str, now: i64) -> bool {
    let Ok(sent_at) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now - sent_at).abs() > WINDOW_SECONDS {
        return false;
    }
    let Some(given) = signature
        .strip_prefix("v0=")
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(signing_secret) else {
        return false;
    };
    mac.update(format!("v0:{}:", timestamp.trim()).as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// What Slack would send as the signature of `body` at `timestamp`: for tests and tools.
pub fn sign(signing_secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_secret).expect("HMAC takes any key");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_with_its_time_window() {
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=x&command=%2Ftocsin&text=status";
        let signature = sign(secret, 1_700_000_000, body);
        assert!(verify(secret, "1700000000", body, &signature, 1_700_000_100));
        assert!(
            !verify(secret, "1700000000", body, &signature, 1_700_000_301),
            "too old"
        );
        assert!(
            !verify(secret, "1700000001", body, &signature, 1_700_000_100),
            "another time"
        );
        assert!(!verify(secret, "1700000000", b"text=other", &signature, 1_700_000_100));
        assert!(!verify(
            b"another secret",
            "1700000000",
            body,
            &signature,
            1_700_000_100
        ));
        assert!(!verify(secret, "1700000000", body, "v1=00", 1_700_000_100));
    }

    #[test]
    fn buttons_come_with_what_the_message_awaits() {
        let message = Message {
            incident: Some("INC-0007".into()),
            title: "Leak".into(),
            awaits_ack: true,
            approve_run: Some(2),
            link: Some("https://tocsin.example.com/incidents/INC-0007".into()),
            ..Message::default()
        };
        let shown = blocks(&message).to_string();
        assert!(shown.contains(r#""action_id":"ack""#) && shown.contains(r#""value":"INC-0007""#));
        assert!(shown.contains(r#""value":"INC-0007:2""#) && shown.contains("Approve run 2"));
        let quiet = blocks(&Message {
            incident: Some("INC-0007".into()),
            ..Message::default()
        })
        .to_string();
        assert!(!quiet.contains("action_id"), "{quiet}");
    }
}
