//! Slack incoming webhooks: the message as Block Kit, with its text as the fallback that
//! notifications and old clients show. Mattermost and Rocket.Chat take the same shape.

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::{Channel, Message, Outcome, escape, http_outcome, request_failed};

pub struct Slack {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address is the secret: only its host is shown.
        f.debug_struct("Slack")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl Slack {
    /// The incoming webhook at `url` (http or https).
    pub fn new(url: &str, client: reqwest::Client) -> Result<Self, crate::BadChannel> {
        let url: reqwest::Url = url
            .trim()
            .parse()
            .map_err(|e| format!("the Slack webhook address is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the Slack webhook address is not an http or https URL".into());
        }
        Ok(Slack { url, client })
    }
}

/// The longest text Slack shows in a section block.
const MAX_TEXT: usize = 2_900;

/// The blocks every Slack message of tocsin starts with: a header (severity, incident,
/// title), what changed, the clock, and the people it is for (a member id mentions them,
/// which notifies them; others are named).
pub(crate) fn news_blocks(message: &Message) -> Vec<Value> {
    let header: String = message.heading().chars().take(150).collect();
    let text: String = escape(&message.text).chars().take(MAX_TEXT).collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
    ];
    if let Some(deadline) = &message.deadline {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(":alarm_clock: {}", escape(deadline))}]}));
    }
    if !message.to.is_empty() {
        let people: Vec<String> = message
            .to
            .iter()
            .map(|p| match &p.slack {
                Some(id) => format!("<@{}>", escape(id)),
                None => escape(&p.name),
            })
            .collect();
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("For: {}", people.join(", "))}}),
        );
    }
    blocks
}

/// The message as Slack's JSON: the news blocks and a button to the incident.
pub fn payload(message: &Message) -> Value {
    let header: String = message.heading().chars().take(150).collect();
    let mut blocks = news_blocks(message);
    if let Some(link) = &message.link {
        blocks.push(json!({"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": link}]}));
    }
    let mut text = format!("{header}: {}", message.text);
    if let Some(deadline) = &message.deadline {
        text.push_str(&format!(" ({deadline})"));
    }
    json!({"text": escape(&text), "blocks": blocks})
}

#[async_trait]
impl Channel for Slack {
    async fn send(&self, message: &Message) -> Outcome {
        let sent = self.client.post(self.url.clone()).json(&payload(message)).send().await;
        match sent {
            Ok(response) => match http_outcome(&response, Timestamp::now()) {
                // Slack says what was wrong in the body (`invalid_payload`, `no_service`).
                Outcome::Refused { error } => {
                    let body = response.text().await.unwrap_or_default();
                    let why: String = body.chars().take(200).collect();
                    Outcome::Refused {
                        error: if why.is_empty() {
                            error
                        } else {
                            format!("{error}: {why}")
                        },
                    }
                }
                other => other,
            },
            Err(e) => request_failed(&e),
        }
    }
}
