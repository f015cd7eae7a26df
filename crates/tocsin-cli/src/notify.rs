//! `tocsin notify test CHANNEL`: one message straight to a channel, to see that it works;
//! `tocsin outbox list|retry`: what waits, what was sent, what is dead.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_notify::{Message, Outcome};
use tocsin_store::outbox::{Delivery, Notification, OutboxFilter};

use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, time as when};

pub async fn test(context: &Context, name: &str) -> anyhow::Result<ExitCode> {
    let plan = context.plan().await?;
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
    let client = tocsin_notify::http_client(tocsin_server::workers::channels::SEND_TIMEOUT);
    let open =
        tocsin_server::workers::channels::open(&plan, channel, client).map_err(|e| anyhow!("channel {name}: {e}"))?;
    let now = Timestamp::now();
    let actor = context.actor()?;
    let message = Message {
        id: format!("test:{name}:{}", now.as_millisecond()),
        kind: "test".into(),
        title: format!("tocsin test message for {name}"),
        text: format!(
            "{} can reach this channel. Sent by {} at {now}.",
            plan.organization().name,
            actor
        ),
        ..Message::default()
    };
    let outcome = open.send(&message).await;
    let (delivered, error) = match &outcome {
        Outcome::Delivered { .. } => (true, None),
        Outcome::Retry { error, .. } => (false, Some(format!("{error} (it would be tried again)"))),
        Outcome::Refused { error } => (false, Some(format!("{error} (the receiver refused it)"))),
    };
    let to = match &channel.url {
        Some(url) => format!("{name} ({url})"),
        None => format!("{name} ({})", channel.kind.as_str()),
    };
    if context.json() {
        emit(&json!({"channel": name, "delivered": delivered, "error": error, "id": message.id}).to_string());
    } else if delivered {
        emit(&format!("Delivered a test message to {to}."));
    } else {
        eprintln!(
            "error: the test message to {to} was not delivered: {}",
            error.unwrap_or_default()
        );
    }
    Ok(if delivered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn list(
    context: &Context,
    state: Option<&str>,
    channel: Option<String>,
    limit: u32,
) -> anyhow::Result<ExitCode> {
    let state = match state {
        None => None,
        Some(text) => {
            Some(Delivery::parse(text).ok_or_else(|| anyhow!("--state {text}: choose pending, sent or dead"))?)
        }
    };
    let zone = context.plan().await?.calendar().zone().clone();
    let found = match context.store(false).await? {
        Some(store) => store
            .outbox(&OutboxFilter {
                state,
                channel,
                before: None,
                limit,
            })
            .await
            .map_err(|e| anyhow!("{e}"))?,
        None => Vec::new(),
    };
    if context.json() {
        emit(&serde_json::to_string(&found.iter().map(doc).collect::<Vec<_>>())?);
        return Ok(ExitCode::SUCCESS);
    }
    if found.is_empty() {
        emit("No notifications.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "ID",
        "CREATED",
        "CHANNEL",
        "KIND",
        "STATE",
        "TRIES",
        "NEXT OR SENT",
        "ERROR",
    ]);
    for n in &found {
        table.row(vec![
            plain(n.id.to_string()),
            plain(when(n.created_at, &zone)),
            plain(&n.channel),
            plain(&n.kind),
            plain(n.state.as_str()),
            plain(n.attempts.to_string()),
            plain(match (n.state, n.sent_at) {
                (Delivery::Sent, Some(at)) => when(at, &zone),
                (Delivery::Pending, _) => when(n.next_at, &zone),
                _ => String::new(),
            }),
            plain(n.last_error.as_deref().unwrap_or("")),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}

fn doc(n: &Notification) -> serde_json::Value {
    json!({
        "id": n.id,
        "key": n.key,
        "channel": n.channel,
        "kind": n.kind,
        "incident": n.incident.map(|i| i.to_string()),
        "state": n.state.as_str(),
        "attempts": n.attempts,
        "created_at": n.created_at,
        "next_at": n.next_at,
        "sent_at": n.sent_at,
        "last_error": n.last_error,
    })
}

pub async fn retry(context: &Context, id: i64) -> anyhow::Result<ExitCode> {
    let Some(store) = context.store(false).await? else {
        bail!("there is no database yet, so no notification {id}");
    };
    if store.resend(id, Timestamp::now()).await.map_err(|e| anyhow!("{e}"))? {
        emit(&format!("Notification {id} is due again; a running server sends it."));
        return Ok(ExitCode::SUCCESS);
    }
    let found = store
        .outbox(&OutboxFilter {
            before: Some(id + 1),
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("{e}"))?;
    match found.first().filter(|n| n.id == id) {
        Some(n) => bail!("notification {id} is {}, not dead", n.state),
        None => bail!("there is no notification {id}"),
    }
}

/// `tocsin outbox health`: how each channel of the plan delivers.
pub async fn health(context: &Context) -> anyhow::Result<ExitCode> {
    let Some(desk) = context.desk(false).await? else {
        bail!("there is no database yet");
    };
    let store = context.opened()?;
    let docs = tocsin_server::documents::ChannelHealthDoc::all(&desk.plan(), &store.channel_health().await?);
    if context.json() {
        emit(&serde_json::to_string(&docs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if docs.is_empty() {
        emit("The plan has no channels.");
        return Ok(ExitCode::SUCCESS);
    }
    let plan = desk.plan();
    let zone = plan.calendar().zone();
    let mut table = Table::new(&["CHANNEL", "TYPE", "STATE", "SINCE", "LAST OK", "FALLBACK", "ERROR"]);
    for d in &docs {
        table.row(vec![
            plain(&d.channel),
            plain(&d.kind),
            plain(&d.state),
            plain(d.failing_since.map(|t| when(t, zone)).unwrap_or_default()),
            plain(d.last_ok.map(|t| when(t, zone)).unwrap_or_default()),
            plain(match (&d.fallback, d.fallback_told) {
                (Some(f), true) => format!("{f} (told)"),
                (Some(f), false) => f.clone(),
                (None, _) => String::new(),
            }),
            plain(d.last_error.clone().unwrap_or_default()),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}
