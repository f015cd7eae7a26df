//! `tocsin logins`, `tocsin signals` and `tocsin events`: the login trail, what the
//! detectors found, and the events it rests on.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use tocsin_core::event::AuthOutcome;
use tocsin_server::documents::{EventDoc, LoginDoc, SignalDoc};
use tocsin_server::services::event_reads::{self, EventFilter};
use tocsin_store::events::TrailFilter;
use tocsin_store::signals::SignalFilter;

use crate::args::{EventsCommand, LoginsArgs, SignalsArgs};
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
    let mut table = Table::new(&["FOUND", "DETECTOR", "ABOUT", "SEV", "EVENTS", "INCIDENT", "SUMMARY"]);
    for d in &docs {
        let mut about = format!("{} {}", d.subject, d.key);
        if !d.accounts.is_empty() {
            about.push_str(&format!(" (account {})", d.accounts.join(", ")));
        }
        table.row(vec![
            plain(when(d.at, &zone)),
            plain(&d.detector),
            plain(about),
            plain(&d.severity),
            plain(match d.evidence.sample_events.as_slice() {
                [] => d.evidence.count.to_string(),
                cited => {
                    let cited: Vec<String> = cited.iter().map(|s| format!("#{s}")).collect();
                    format!("{} ({})", d.evidence.count, cited.join(", "))
                }
            }),
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

/// `tocsin events show|list`: the event log read back.
pub async fn events(context: &Context, command: &EventsCommand) -> anyhow::Result<ExitCode> {
    let plan = context.plan().await?;
    let zone = plan.calendar().zone().clone();
    let Some(store) = context.store(false).await? else {
        bail!("there is no database yet, so no events");
    };
    let found = match command {
        EventsCommand::Show { seqs } => {
            let found = store.events_by_seq(seqs).await.map_err(|e| anyhow!("{e}"))?;
            let missing: Vec<String> = seqs
                .iter()
                .filter(|s| !found.iter().any(|e| e.seq == **s))
                .map(u64::to_string)
                .collect();
            if !missing.is_empty() {
                bail!(
                    "the event log holds no event {} (never sent, or past retention)",
                    missing.join(", ")
                );
            }
            found
        }
        EventsCommand::List(args) => {
            if let Some(kind) = &args.kind {
                event_reads::check_kind(kind).map_err(|e| anyhow!("--kind: {e}"))?;
            }
            let time =
                |flag: &str, text: &Option<String>| text.as_ref().map(|t| context.time(flag, t, &plan)).transpose();
            let filter = EventFilter {
                kind: args.kind.clone(),
                origin: args.origin.clone(),
                address: args.address.clone(),
                account: args.account.clone(),
                since: time("--since", &args.since)?,
                until: time("--until", &args.until)?,
                before: None,
                limit: args.limit,
            };
            event_reads::list(&*store, &filter)
                .await
                .map_err(|e| anyhow!("{e}"))?
                .items
        }
    };
    let docs: Vec<EventDoc> = found.iter().map(EventDoc::of).collect();
    if context.json() {
        emit(&serde_json::to_string(&docs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if docs.is_empty() {
        emit("No events match.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for d in &docs {
        out.push_str(&format!(
            "#{}  {}  {}  from {}\n  {}\n",
            d.seq,
            when(d.at, &zone),
            d.kind,
            d.origin,
            d.event
        ));
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}
