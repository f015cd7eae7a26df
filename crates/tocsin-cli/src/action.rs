//! `tocsin action list|run|approve|reject|undo|show`: the plan's actions and their runs
//! on incidents. The CLI records requests and approvals; the running server carries runs
//! out.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use tocsin_core::incident::{IncidentNumber, RunState};
use tocsin_server::documents::{ActionDoc, RunDoc};
use tocsin_server::services::actions::Actions;
use tocsin_server::services::blocks::Blocks;
use tocsin_server::services::identity::Identity;
use tocsin_server::services::switches::Switches;

use crate::args::ActionCommand;
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable};

fn number(text: &str) -> anyhow::Result<IncidentNumber> {
    text.parse().map_err(|e| anyhow!("{e}"))
}

/// `NAME=VALUE` pairs, each name once.
fn inputs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--input \"{pair}\" is not NAME=VALUE");
        };
        if out.insert(name.trim().to_owned(), value.to_owned()).is_some() {
            bail!("--input {name} is given twice");
        }
    }
    Ok(out)
}

/// A run in a few lines, for people.
fn describe(run: &RunDoc) -> String {
    let mut lines = vec![format!(
        "{} {} ({}): {}",
        run.id,
        run.action,
        run.action_name,
        run.state.replace('_', " ")
    )];
    if !run.inputs.is_empty() {
        let given: Vec<String> = run
            .inputs
            .iter()
            .map(|(k, v)| format!("{k}={}", printable(v)))
            .collect();
        lines.push(format!("  inputs: {}", given.join(", ")));
    }
    lines.push(format!(
        "  asked by {} at {}{}",
        run.requested_by,
        run.requested_at,
        if run.automatic { " (by the plan)" } else { "" }
    ));
    if run.needs > 0 {
        let by: Vec<String> = run.approvals.iter().map(|a| format!("{} at {}", a.by, a.at)).collect();
        lines.push(format!(
            "  approvals: {} of {}{}",
            run.approvals.len(),
            run.needs,
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join("; "))
            }
        ));
    }
    if let Some(expires) = run.expires_at
        && run.state == RunState::AwaitingApproval.as_str()
    {
        lines.push(format!("  expires at {expires} unless approved"));
    }
    if run.attempts > 0 {
        lines.push(format!("  attempts: {}", run.attempts));
    }
    if let Some(outcome) = &run.outcome {
        lines.push(format!(
            "  {}: {}",
            if outcome.ok { "succeeded" } else { "failed" },
            printable(&outcome.summary)
        ));
        for (name, value) in &outcome.captured {
            lines.push(format!("  captured {name} = {}", printable(value)));
        }
    }
    if let Some(next) = run.next_at
        && run.state == RunState::Ready.as_str()
    {
        lines.push(format!("  tried again at {next}"));
    }
    if let Some(by) = run.undone_by {
        lines.push(format!("  undone by run {by}"));
    }
    if let (Some(stamp), Some(why)) = (&run.rejected, &run.rejected_because) {
        lines.push(format!(
            "  rejected by {} at {}: {}",
            stamp.by,
            stamp.at,
            printable(why)
        ));
    }
    lines.join("\n")
}

pub async fn run(context: &Context, command: ActionCommand) -> anyhow::Result<ExitCode> {
    let Some(desk) = context.desk(true).await? else {
        bail!("the database could not be created")
    };
    let store = context.store(true).await?.expect("opened with the desk");
    let actions = Actions::new(
        desk.clone(),
        Blocks::new(Arc::clone(&store) as _),
        Identity::new(Arc::clone(&store)),
        Switches::new(store),
    );
    let actor = context.actor()?;
    let plan = desk.plan();
    let json = |value: serde_json::Value| emit(&value.to_string());
    match command {
        ActionCommand::List { incident: None } => {
            let docs: Vec<ActionDoc> = plan.actions().iter().map(ActionDoc::of).collect();
            if context.json() {
                json(serde_json::to_value(&docs)?);
            } else if docs.is_empty() {
                emit("The plan defines no actions. Add [[action]] tables (the presets show some).");
            } else {
                let mut table = Table::new(&["ACTION", "KIND", "INPUTS", "APPROVAL", "STEP", "NAME"]);
                for a in &docs {
                    let inputs: Vec<String> = a
                        .inputs
                        .iter()
                        .map(|i| format!("{}{}", i.name, if i.required { "" } else { "?" }))
                        .collect();
                    let approval = match a.approvals {
                        0 => "none".to_owned(),
                        n if a.approvers.is_empty() => format!("{n}"),
                        n => format!("{n} by {}", a.approvers.join("|")),
                    };
                    let step = match (&a.step, a.item) {
                        (Some(step), Some(item)) => format!("{step} #{item}"),
                        (Some(step), None) => step.clone(),
                        _ => String::new(),
                    };
                    table.row(vec![
                        plain(&a.id),
                        plain(&a.kind),
                        plain(inputs.join(" ")),
                        plain(approval),
                        plain(step),
                        plain(printable(&a.name)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
        }
        ActionCommand::List { incident: Some(id) } => {
            let view = desk.incident(number(&id)?).await?;
            let docs: Vec<RunDoc> = view
                .incident
                .runs
                .iter()
                .map(|r| RunDoc::of(&view.incident, r, &plan))
                .collect();
            if context.json() {
                json(serde_json::to_value(&docs)?);
            } else if docs.is_empty() {
                emit(&format!(
                    "{id} has no runs. Ask for one with `tocsin action run {id} ACTION`."
                ));
            } else {
                emit(&docs.iter().map(describe).collect::<Vec<_>>().join("\n"));
            }
        }
        ActionCommand::Run {
            incident,
            action,
            inputs: given,
            dry_run,
            wait,
        } => {
            let number = number(&incident)?;
            let given = inputs(&given)?;
            if dry_run {
                let prepared = actions
                    .dry_run(number, &action, &given)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                emit(&serde_json::to_string_pretty(&prepared)?);
                return Ok(ExitCode::SUCCESS);
            }
            let requested = actions
                .request(number, &action, given, false, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let mut doc = RunDoc::of(&requested.incident, &requested.run, &plan);
            if wait {
                let deadline = std::time::Instant::now() + Duration::from_secs(120);
                while !matches!(doc.state.as_str(), "succeeded" | "failed" | "rejected" | "expired") {
                    if std::time::Instant::now() > deadline {
                        bail!(
                            "{} did not finish within two minutes: is `tocsin serve` running? It is {}",
                            doc.id,
                            doc.state
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let view = desk.incident(number).await?;
                    let run = view.incident.run(doc.run).expect("the run asked for");
                    doc = RunDoc::of(&view.incident, run, &plan);
                }
            }
            if context.json() {
                json(serde_json::to_value(&doc)?);
            } else {
                let mut text = describe(&doc);
                if doc.state == RunState::AwaitingApproval.as_str() {
                    text.push_str(&format!(
                        "\n  approve it with `tocsin action approve {} {}`",
                        doc.incident, doc.run
                    ));
                }
                emit(&text);
            }
            if wait && doc.state != "succeeded" {
                return Ok(ExitCode::from(1));
            }
        }
        ActionCommand::Approve { incident, run } => {
            let number = number(&incident)?;
            actions
                .approve(number, run, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            show(context, &actions, number, run).await?;
        }
        ActionCommand::Reject { incident, run, reason } => {
            let number = number(&incident)?;
            actions
                .reject(number, run, &reason, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            show(context, &actions, number, run).await?;
        }
        ActionCommand::Undo { incident, run } => {
            let number = number(&incident)?;
            let requested = actions
                .undo(number, run, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            show(context, &actions, number, requested.run.number).await?;
        }
        ActionCommand::Show { incident, run } => show(context, &actions, number(&incident)?, run).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(context: &Context, actions: &Actions, number: IncidentNumber, run: u32) -> anyhow::Result<()> {
    let view = actions.desk().incident(number).await?;
    let found = view.incident.run(run).ok_or_else(|| {
        anyhow!(
            "{number} has no run {run}; its runs are 1 to {}",
            view.incident.runs.len()
        )
    })?;
    let doc = RunDoc::of(&view.incident, found, &actions.desk().plan());
    if context.json() {
        emit(&serde_json::to_string(&doc)?);
    } else {
        emit(&describe(&doc));
    }
    Ok(())
}
