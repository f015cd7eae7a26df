//! `tocsin logins` and `tocsin signals`: the login trail and what the detectors found.

use std::process::ExitCode;

use anyhow::anyhow;
use tocsin_core::event::AuthOutcome;
use tocsin_server::model::{LoginDoc, SignalDoc};
use tocsin_store::events::TrailFilter;
use tocsin_store::signals::SignalFilter;

use crate::args::{LoginsArgs, SignalsArgs};
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, time as when};

pub async fn logins(context: &Context, args: &LoginsArgs) -> anyhow::Result<ExitCode> {
    let plan = context.plan().await?;
    let zone = plan.calendar().zone().clone();
    let outcome = match args.outcome.as_deref() {
        None => None,
        Some("success") => Some(AuthOutcome::Success),
        Some("failure") => Some(AuthOutcome::Failure),
        Some(other) => return Err(anyhow!("--outcome {other}: choose success or failure")),
    };
    let since = args
        .since
        .as_deref()
        .map(|text| context.time("--since", text, &plan))
        .transpose()?;
    let found = match context.store(false).await? {
        Some(store) => {
            // Without a running server, the trail may lag the log: catch it up first.
            while store.index_login_trail(50_000).await.map_err(|e| anyhow!("{e}"))? > 0 {}
            let filter = TrailFilter {
                ip: args.ip.clone(),
                user: args.user.clone(),
                outcome,
                since,
                until: None,
                after: None,
                limit: args.limit,
            };
            store.login_trail(&filter).await.map_err(|e| anyhow!("{e}"))?
        }
        None => Vec::new(),
    };
    let docs: Vec<LoginDoc> = found.iter().filter_map(LoginDoc::of).collect();
    if context.json() {
        emit(&serde_json::to_string(&docs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if docs.is_empty() {
        emit("No login attempts match.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["TIME", "OUTCOME", "REASON", "USER", "FROM", "SERVICE", "USER AGENT"]);
    for d in &docs {
        table.row(vec![
            plain(when(d.at, &zone)),
            plain(&d.outcome),
            plain(&d.reason),
            plain(&d.user),
            plain(&d.ip),
            plain(&d.service),
            plain(d.user_agent.as_deref().unwrap_or("")),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}

pub async fn signals(context: &Context, args: &SignalsArgs) -> anyhow::Result<ExitCode> {
    let zone = context.plan().await?.calendar().zone().clone();
    let found = match context.store(false).await? {
        Some(store) => {
            let filter = SignalFilter {
                detector: args.detector.clone(),
                key: args.key.clone(),
                before: None,
                limit: args.limit,
                ..Default::default()
            };
            store.signals(&filter).await.map_err(|e| anyhow!("{e}"))?
        }
        None => Vec::new(),
    };
    let docs: Vec<SignalDoc> = found.iter().map(SignalDoc::of).collect();
    if context.json() {
        emit(&serde_json::to_string(&docs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if docs.is_empty() {
        emit("No signals.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["FOUND", "DETECTOR", "KEY", "SEV", "EVENTS", "INCIDENT", "SUMMARY"]);
    for d in &docs {
        table.row(vec![
            plain(when(d.at, &zone)),
            plain(&d.detector),
            plain(&d.key),
            plain(&d.severity),
            plain(d.evidence.count.to_string()),
            plain(match (&d.incident, &d.suppressed) {
                (Some(incident), _) => incident.clone(),
                (None, Some(reason)) => format!("suppressed: {reason}"),
                (None, None) => d.action.clone(),
            }),
            plain(&d.summary),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}
