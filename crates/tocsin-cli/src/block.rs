//! `tocsin block add|remove|list`: addresses and networks that the enforcement points
//! asking tocsin refuse.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::duration::Duration;
use tocsin_core::incident::IncidentNumber;
use tocsin_server::services::blocks::Blocks;
use tocsin_store::blocks::Block;

use crate::args::BlockCommand;
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable, time as when};

fn doc(block: &Block) -> serde_json::Value {
    json!({
        "id": block.id,
        "network": block.network.to_string(),
        "reason": block.reason,
        "incident": block.incident.map(|n| n.to_string()),
        "created_by": block.created_by,
        "created": block.created.to_string(),
        "expires": block.expires.map(|t| t.to_string()),
        "removed_by": block.removed.as_ref().map(|(by, _)| by),
        "removed": block.removed.as_ref().map(|(_, at)| at.to_string()),
    })
}

pub async fn run(context: &Context, command: BlockCommand) -> anyhow::Result<ExitCode> {
    let Some(store) = context.store(true).await? else {
        bail!("the database could not be created")
    };
    let blocks = Blocks::new(Arc::clone(&store) as _);
    let actor = context.actor()?;
    match command {
        BlockCommand::Add {
            network,
            reason,
            lasts,
            incident,
        } => {
            let lasts = match lasts {
                None => None,
                Some(text) => {
                    let seconds = Duration::parse(&text)
                        .map_err(|e| anyhow!("--for: {e}"))?
                        .elapsed_seconds()
                        .ok_or_else(|| anyhow!("--for must be an exact span, like 24h or 30m"))?;
                    Some(jiff::SignedDuration::from_secs(seconds))
                }
            };
            let incident = incident
                .map(|text| text.parse::<IncidentNumber>().map_err(|e| anyhow!("--incident: {e}")))
                .transpose()?;
            let block = blocks
                .add(&network, &reason, incident, lasts, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&block).to_string());
            } else {
                let until = block
                    .expires
                    .map_or_else(|| "until removed".to_owned(), |t| format!("until {t}"));
                emit(&format!("Blocked {} (block {}), {until}", block.network, block.id));
            }
        }
        BlockCommand::Remove { id } => {
            let block = blocks
                .remove(id, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&block).to_string());
            } else {
                emit(&format!("Ended block {} of {}", block.id, block.network));
            }
        }
        BlockCommand::List { all } => {
            let list = blocks.list(context.now, all).await?;
            if context.json() {
                emit(&serde_json::to_string(&list.iter().map(doc).collect::<Vec<_>>())?);
                return Ok(ExitCode::SUCCESS);
            }
            if list.is_empty() {
                emit("No blocks in force. Add one with `tocsin block add ADDRESS --reason TEXT`.");
                return Ok(ExitCode::SUCCESS);
            }
            let zone = context.plan().await?.calendar().zone().clone();
            let mut table = Table::new(&["ID", "NETWORK", "UNTIL", "INCIDENT", "BY", "REASON"]);
            for b in &list {
                let until = match (&b.removed, b.expires) {
                    (Some((by, at)), _) => format!("ended {} by {by}", when(*at, &zone)),
                    (None, Some(end)) if end <= context.now => format!("expired {}", when(end, &zone)),
                    (None, Some(end)) => when(end, &zone),
                    (None, None) => "until removed".to_owned(),
                };
                table.row(vec![
                    plain(b.id.to_string()),
                    plain(b.network.to_string()),
                    plain(until),
                    plain(b.incident.map(|n| n.to_string()).unwrap_or_default()),
                    plain(printable(&b.created_by)),
                    plain(printable(&b.reason)),
                ]);
            }
            emit(&table.render(Paint { on: context.colour() }, ""));
        }
    }
    Ok(ExitCode::SUCCESS)
}
