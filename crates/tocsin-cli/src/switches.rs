//! `tocsin maintenance on|off|status` and `tocsin agent pause|resume|list`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::incident::IncidentNumber;
use tocsin_server::services::blocks::span;
use tocsin_server::services::switches::Switches;
use tocsin_store::switches::{Switch, SwitchKind};

use crate::args::{AgentCommand, MaintenanceCommand};
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable, time as when};

fn incident(text: Option<String>) -> anyhow::Result<Option<IncidentNumber>> {
    text.map(|t| t.parse::<IncidentNumber>().map_err(|e| anyhow!("--incident: {e}")))
        .transpose()
}

fn doc(s: &Switch) -> serde_json::Value {
    json!({
        "subject": s.subject,
        "reason": s.reason,
        "incident": s.incident.map(|n| n.to_string()),
        "started_by": s.started_by,
        "started": s.started,
        "until": s.until,
        "ended_by": s.ended.as_ref().map(|(by, _)| by),
        "ended": s.ended.as_ref().map(|(_, at)| at),
    })
}

async fn switches(context: &Context) -> anyhow::Result<Switches> {
    let Some(store) = context.store(true).await? else {
        bail!("the database could not be created")
    };
    Ok(Switches::new(Arc::clone(&store) as _))
}

pub async fn maintenance(context: &Context, command: MaintenanceCommand) -> anyhow::Result<ExitCode> {
    let switches = switches(context).await?;
    let actor = context.actor()?;
    match command {
        MaintenanceCommand::On {
            service,
            reason,
            lasts,
            incident: inc,
        } => {
            let lasts = lasts.map(|t| span(&t).map_err(|e| anyhow!("--for: {e}"))).transpose()?;
            let plan = context.plan().await?;
            let on = switches
                .maintenance_on(&plan, &service, &reason, lasts, incident(inc)?, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&on).to_string());
            } else {
                let until = on
                    .until
                    .map_or_else(String::new, |t| format!(", expected to end at {t}"));
                emit(&format!("{} is in maintenance{until}", on.subject));
            }
        }
        MaintenanceCommand::Off { service } => {
            let off = switches
                .maintenance_off(&service, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&off).to_string());
            } else {
                emit(&format!("{} is out of maintenance", off.subject));
            }
        }
        MaintenanceCommand::Status { all } => {
            let plan = context.plan().await?;
            let zone = plan.calendar().zone().clone();
            if all {
                let history = switches.history(SwitchKind::Maintenance).await?;
                if context.json() {
                    emit(&serde_json::to_string(&history.iter().map(doc).collect::<Vec<_>>())?);
                    return Ok(ExitCode::SUCCESS);
                }
                let mut table = Table::new(&["SERVICE", "FROM", "TO", "BY", "REASON"]);
                for s in &history {
                    table.row(vec![
                        plain(&s.subject),
                        plain(when(s.started, &zone)),
                        plain(
                            s.ended
                                .as_ref()
                                .map_or_else(|| "on".to_owned(), |(_, at)| when(*at, &zone)),
                        ),
                        plain(printable(&s.started_by)),
                        plain(printable(&s.reason)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
                return Ok(ExitCode::SUCCESS);
            }
            let on = switches.on().await?;
            if context.json() {
                let docs: Vec<serde_json::Value> = plan
                    .services()
                    .iter()
                    .map(|s| {
                        let window = on.maintenance_of(s.id.as_str());
                        json!({"service": s.id.as_str(), "name": s.name, "maintenance": window.is_some(),
                            "window": window.map(doc)})
                    })
                    .collect();
                emit(&serde_json::to_string(&docs)?);
                return Ok(ExitCode::SUCCESS);
            }
            if plan.services().is_empty() {
                emit("The plan names no services. Add [[service]] tables to turn maintenance mode on for them.");
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(&["SERVICE", "STATE", "SINCE", "UNTIL", "REASON"]);
            for s in plan.services() {
                let window = on.maintenance_of(s.id.as_str());
                table.row(vec![
                    plain(s.id.as_str()),
                    plain(if window.is_some() { "maintenance" } else { "up" }),
                    plain(window.map(|w| when(w.started, &zone)).unwrap_or_default()),
                    plain(window.and_then(|w| w.until).map(|t| when(t, &zone)).unwrap_or_default()),
                    plain(window.map(|w| printable(&w.reason)).unwrap_or_default()),
                ]);
            }
            emit(&table.render(Paint { on: context.colour() }, ""));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn agent(context: &Context, command: AgentCommand) -> anyhow::Result<ExitCode> {
    let switches = switches(context).await?;
    let actor = context.actor()?;
    match command {
        AgentCommand::Pause {
            agent,
            reason,
            incident: inc,
        } => {
            let paused = switches
                .pause(&agent, &reason, incident(inc)?, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&paused).to_string());
            } else {
                emit(&format!("{} is told to pause", paused.subject));
            }
        }
        AgentCommand::Resume { agent } => {
            let resumed = switches
                .resume(&agent, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&resumed).to_string());
            } else {
                emit(&format!("{} is told to run again", resumed.subject));
            }
        }
        AgentCommand::List => {
            let on = switches.on().await?;
            if context.json() {
                emit(&serde_json::to_string(&on.paused.iter().map(doc).collect::<Vec<_>>())?);
            } else if on.paused.is_empty() {
                emit("No agent is paused.");
            } else {
                let zone = context.plan().await?.calendar().zone().clone();
                let mut table = Table::new(&["AGENT", "SINCE", "BY", "REASON"]);
                for p in &on.paused {
                    table.row(vec![
                        plain(&p.subject),
                        plain(when(p.started, &zone)),
                        plain(printable(&p.started_by)),
                        plain(printable(&p.reason)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
