//! `tocsin evidence add|list|export|verify`: an incident's evidence, kept by SHA-256 and
//! never changed, each addition and export on the audit chain.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::incident::IncidentNumber;
use tocsin_server::services::evidence::{ITEM_MAX, Locker};
use tocsin_store::evidence::Evidence;

use crate::args::EvidenceCommand;
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable, time as when};

fn doc(e: &Evidence) -> serde_json::Value {
    json!({
        "id": e.id,
        "incident": e.incident.to_string(),
        "name": e.name,
        "kind": e.kind,
        "media_type": e.media_type,
        "size": e.size,
        "sha256": e.sha256,
        "note": e.note,
        "added_by": e.added_by,
        "added_at": e.added,
    })
}

pub async fn run(context: &Context, command: EvidenceCommand) -> anyhow::Result<ExitCode> {
    let Some(store) = context.store(false).await? else {
        bail!("there is no database yet, so no incident has evidence")
    };
    let locker = Locker::new(Arc::clone(&store));
    let actor = context.actor()?;
    let number = |text: &str| text.parse::<IncidentNumber>().map_err(|e| anyhow!("{e}"));
    match command {
        EvidenceCommand::Add {
            incident,
            file,
            name,
            kind,
            note,
        } => {
            let incident = number(&incident)?;
            let mut content = Vec::new();
            let limit = ITEM_MAX as u64 + 1;
            if file.as_os_str() == "-" {
                std::io::stdin().take(limit).read_to_end(&mut content)?;
            } else {
                std::fs::File::open(&file)
                    .map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?
                    .take(limit)
                    .read_to_end(&mut content)?;
            }
            let name = match name {
                Some(name) => name,
                None if file.as_os_str() == "-" => bail!("give --name for what comes on standard input"),
                None => file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| anyhow!("{} names no file", file.display()))?,
            };
            let item = locker
                .add(
                    incident,
                    &name,
                    &kind,
                    "application/octet-stream",
                    &note,
                    content,
                    &actor,
                    context.now,
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&item).to_string());
            } else {
                emit(&format!(
                    "Kept {} as evidence {} of {} ({} bytes, sha256 {})",
                    item.name, item.id, item.incident, item.size, item.sha256
                ));
            }
        }
        EvidenceCommand::List { incident } => {
            let items = locker.list(number(&incident)?).await.map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&serde_json::to_string(&items.iter().map(doc).collect::<Vec<_>>())?);
            } else if items.is_empty() {
                emit(&format!(
                    "{incident} has no evidence yet. Keep some with `tocsin evidence add {incident} FILE`."
                ));
            } else {
                let zone = context.plan().await?.calendar().zone().clone();
                let mut table = Table::new(&["ID", "NAME", "KIND", "SIZE", "SHA256", "ADDED", "BY"]);
                for e in &items {
                    table.row(vec![
                        plain(e.id.to_string()),
                        plain(printable(&e.name)),
                        plain(&e.kind),
                        plain(e.size.to_string()),
                        plain(&e.sha256[..16]),
                        plain(when(e.added, &zone)),
                        plain(printable(&e.added_by)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
        }
        EvidenceCommand::Export { incident, folder } => {
            let incident = number(&incident)?;
            std::fs::create_dir_all(&folder).map_err(|e| anyhow!("cannot make {}: {e}", folder.display()))?;
            let mut sums = String::new();
            let items = locker.list(incident).await.map_err(|e| anyhow!("{e}"))?;
            for item in &items {
                let (item, content) = locker
                    .export(incident, item.id, &actor, context.now)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                // Each under its id, so that two items of one name never overwrite.
                let file = format!("{}-{}", item.id, item.name);
                std::fs::write(folder.join(&file), &content)
                    .map_err(|e| anyhow!("cannot write {}: {e}", folder.join(&file).display()))?;
                sums.push_str(&format!("{}  {file}\n", item.sha256));
            }
            std::fs::write(folder.join("SHA256SUMS"), &sums)?;
            emit(&format!(
                "Wrote {} item(s) of {incident} and SHA256SUMS to {} (check with `sha256sum -c SHA256SUMS`)",
                items.len(),
                folder.display()
            ));
        }
        EvidenceCommand::Verify { incident } => {
            let checked = locker.verify(number(&incident)?).await.map_err(|e| anyhow!("{e}"))?;
            let broken: Vec<_> = checked.iter().filter(|c| !c.intact()).collect();
            if context.json() {
                let docs: Vec<serde_json::Value> = checked
                    .iter()
                    .map(|c| {
                        json!({"id": c.evidence.id, "name": c.evidence.name, "sha256": c.evidence.sha256,
                        "found": c.found, "intact": c.intact()})
                    })
                    .collect();
                emit(&json!({"intact": broken.is_empty(), "items": docs}).to_string());
            } else if broken.is_empty() {
                emit(&format!(
                    "All {} item(s) of {incident} match their SHA-256.",
                    checked.len()
                ));
            } else {
                for c in &broken {
                    eprintln!(
                        "evidence {} ({}) no longer matches: recorded {}, found {}",
                        c.evidence.id,
                        c.evidence.name,
                        c.evidence.sha256,
                        c.found.as_deref().unwrap_or("no content")
                    );
                }
            }
            if !broken.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
