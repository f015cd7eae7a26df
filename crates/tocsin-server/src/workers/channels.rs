//! The plan's channels made real: each secret read from where the plan says it is kept,
//! and a client for each channel. Used by `tocsin plan check` (a channel that cannot be
//! opened is a problem of the plan), `tocsin notify test` and the delivery workers.

use std::collections::BTreeMap;
use std::time::Duration;

use tocsin_core::plan::{Channel as PlanChannel, ChannelKind, Plan, SecretRef};
use tocsin_notify::email::{Email, EmailConfig};
use tocsin_notify::slack::Slack;
use tocsin_notify::slack_app::SlackApp;
use tocsin_notify::telegram::Telegram;
use tocsin_notify::webhook::Webhook;
use tocsin_notify::{BadChannel, Channel};

/// How long one delivery attempt may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A secret's value: the environment variable or the file the plan names, without a
/// trailing newline. The error names where it looked.
pub fn read_secret(secret: &SecretRef) -> Result<Vec<u8>, BadChannel> {
    crate::services::actions::read_secret(secret)
        .map(String::into_bytes)
        .map_err(Into::into)
}

/// A channel of `plan`, ready to send. Its secret is read once, where it is needed.
pub fn open(
    plan: &Plan,
    channel: &PlanChannel,
    client: tocsin_notify::HttpClient,
) -> Result<Box<dyn Channel>, BadChannel> {
    match channel.kind {
        ChannelKind::Webhook => {
            let url = channel.url.as_deref().ok_or("a webhook needs a url")?;
            Ok(Box::new(Webhook::new(url, &secret(channel)?, client)?))
        }
        ChannelKind::Slack => Ok(Box::new(Slack::new(
            &secret_text(channel, "the Slack webhook address")?,
            client,
        )?)),
        ChannelKind::Telegram => Ok(Box::new(telegram(channel, client)?)),
        ChannelKind::SlackApp => Ok(Box::new(SlackApp::new(
            channel.url.as_deref().unwrap_or(tocsin_notify::slack_app::API),
            &secret_text(channel, "the Slack bot token")?,
            channel.chat.as_deref().ok_or("a Slack app channel needs a chat")?,
            client,
        )?)),
        ChannelKind::Email => {
            let password = match channel.secret {
                Some(_) => Some(secret_text(channel, "the SMTP password")?),
                None => None,
            };
            let ca_pem = match &channel.ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| format!("cannot read the CA file {path}: {e}"))?),
                None => None,
            };
            Ok(Box::new(Email::new(&EmailConfig {
                url: channel.url.as_deref().ok_or("an email channel needs a url")?,
                tls: channel.tls,
                username: channel.username.as_deref(),
                password: password.as_deref(),
                ca_pem: ca_pem.as_deref(),
                sender: &format!("tocsin · {}", plan.organization().name),
                from: channel.from.as_deref().ok_or("an email channel needs a from address")?,
                to: &channel.to,
            })?))
        }
    }
}

/// The channel's secret, which it must have.
fn secret(channel: &PlanChannel) -> Result<Vec<u8>, BadChannel> {
    let secret = channel
        .secret
        .as_ref()
        .ok_or_else(|| format!("a {} channel needs a secret", channel.kind.as_str()))?;
    read_secret(secret)
}

/// The channel's secret as text; `what` names it when it is not.
fn secret_text(channel: &PlanChannel, what: &str) -> Result<String, BadChannel> {
    String::from_utf8(secret(channel)?).map_err(|_| BadChannel(format!("{what} is not text")))
}

/// A Telegram channel's bot, which both sends and takes commands.
pub fn telegram(channel: &PlanChannel, client: tocsin_notify::HttpClient) -> Result<Telegram, BadChannel> {
    let token = secret_text(channel, "the bot token")?;
    let chat = channel.chat.as_deref().ok_or("a Telegram channel needs a chat")?;
    let base = channel.url.as_deref().unwrap_or(tocsin_notify::telegram::API);
    Telegram::new(base, &token, chat, client)
}

/// Every channel of the plan, by name, and the problems of those that cannot be opened.
pub fn open_all(plan: &Plan) -> (BTreeMap<String, Box<dyn Channel>>, Vec<String>) {
    let client = tocsin_notify::http_client(SEND_TIMEOUT);
    let mut open_ones = BTreeMap::new();
    let mut problems = Vec::new();
    for channel in plan.channels() {
        match open(plan, channel, client.clone()) {
            Ok(c) => {
                open_ones.insert(channel.name.clone(), c);
            }
            Err(e) => problems.push(format!("channel {}: {e}", channel.name)),
        }
    }
    (open_ones, problems)
}
