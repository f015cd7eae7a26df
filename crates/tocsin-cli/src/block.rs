//! `tocsin block add|remove|list`: addresses and networks that the enforcement points
//! asking tocsin refuse.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use tocsin_core::block::{ListFormat, render};
use tocsin_core::incident::IncidentNumber;
use tocsin_server::documents::BlockDoc;
use tocsin_server::services::blocks::{Blocks, span};
use tocsin_store::blocks::Block;

use crate::args::BlockCommand;
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable, time as when};

fn doc(block: &Block) -> serde_json::Value {
    serde_json::to_value(BlockDoc::of(block)).expect("a document serializes")
}

/// Writes `text` to `path` whole: a reader (nginx reloading, nft loading) sees the old
/// file or the new one, never half of one.
fn write_whole(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("--output {} names no file", path.display()))?;
    let mut partial = name.to_os_string();
    partial.push(".partial");
    let temporary = path.with_file_name(partial);
    std::fs::write(&temporary, text).map_err(|e| anyhow!("cannot write {}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| anyhow!("cannot replace {}: {e}", path.display()))?;
    Ok(())
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
            let lasts = lasts
                .map(|text| span(&text).map_err(|e| anyhow!("--for: {e}")))
                .transpose()?;
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
        BlockCommand::Export { format, output } => {
            let format = ListFormat::parse(&format).map_err(|e| anyhow!("--format: {e}"))?;
            let list = blocks.list(context.now, false).await?;
            let networks: Vec<_> = list.iter().map(|b| b.network).collect();
            let about = format!("tocsin: {} blocks in force at {}", list.len(), context.now);
            let text = render(format, &networks, &about);
            match output {
                None => emit(text.trim_end()),
                Some(path) => write_whole(&path, &text)?,
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
