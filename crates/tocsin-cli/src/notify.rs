//! `tocsin notify test CHANNEL`: one message straight to a channel, to see that it works.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_notify::{Message, Outcome};

use crate::context::Context;
use crate::emit;

pub async fn test(context: &Context, name: &str) -> anyhow::Result<ExitCode> {
    let plan = context.plan()?;
    let Some(channel) = plan.channel(name) else {
        let names: Vec<&str> = plan.channels().iter().map(|c| c.name.as_str()).collect();
        match names.is_empty() {
            true => bail!("the plan has no channel \"{name}\"; it has no [[channel]] at all"),
            false => bail!(
                "the plan has no channel \"{name}\"; its channels are {}",
                names.join(", ")
            ),
        }
    };
    let client = tocsin_notify::http_client(tocsin_server::channels::SEND_TIMEOUT);
    let open = tocsin_server::channels::open(channel, client).map_err(|e| anyhow!("channel {name}: {e}"))?;
    let now = Timestamp::now();
    let actor = context.actor()?;
    let message = Message {
        id: format!("test:{name}:{}", now.as_millisecond()),
        kind: "test".into(),
        incident: None,
        severity: None,
        title: format!("tocsin test message for {name}"),
        text: format!(
            "{} can reach this channel. Sent by {} at {now}.",
            plan.organization().name,
            actor
        ),
        deadline: None,
        link: None,
    };
    let outcome = open.send(&message).await;
    let (delivered, error) = match &outcome {
        Outcome::Delivered => (true, None),
        Outcome::Retry { error, .. } => (false, Some(format!("{error} (it would be tried again)"))),
        Outcome::Refused { error } => (false, Some(format!("{error} (the receiver refused it)"))),
    };
    if context.json() {
        emit(&json!({"channel": name, "delivered": delivered, "error": error, "id": message.id}).to_string());
    } else if delivered {
        emit(&format!("Delivered a test message to {name} ({}).", channel.url));
    } else {
        eprintln!(
            "error: the test message to {name} ({}) was not delivered: {}",
            channel.url,
            error.unwrap_or_default()
        );
    }
    Ok(if delivered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
