//! `tocsin probe list|run|history`: the plan's probes and where they stand, one run now,
//! and a probe's runs by the hour and the day.

use std::process::ExitCode;

use anyhow::anyhow;
use tocsin_server::services::probes::{ProbeView, Prober, Probes, Timeliness, run as run_probe, target};

use crate::args::ProbeCommand;
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable};

/// A span of seconds as people write it: 15m, 60s, 1h.
fn every(seconds: u64) -> String {
    match seconds {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub async fn run(context: &Context, command: ProbeCommand) -> anyhow::Result<ExitCode> {
    let plan = context.plan().await?;
    match command {
        ProbeCommand::List => {
            let states = states(context).await?;
            if context.json() {
                let list: Vec<serde_json::Value> = plan
                    .probes()
                    .iter()
                    .map(|p| {
                        let state = states.iter().find(|s| s.probe == p.id.as_str());
                        serde_json::json!({
                            "probe": p.id.as_str(), "name": p.name, "kind": p.kind.as_str(), "target": target(p),
                            "interval_seconds": p.interval_seconds, "down_after": p.down_after, "up_after": p.up_after,
                            "state": state.map_or("unknown", |s| s.state.as_str()),
                            "availability_24h": state.and_then(|s| s.availability_24h),
                        })
                    })
                    .collect();
                emit(&serde_json::to_string(&list)?);
            } else if plan.probes().is_empty() {
                emit("The plan has no probes. Add [[probe]] tables (the four-tier preset shows some).");
            } else {
                let mut table = Table::new(&["PROBE", "KIND", "TARGET", "EVERY", "STATE", "24H", "NAME"]);
                for p in plan.probes() {
                    let state = states.iter().find(|s| s.probe == p.id.as_str());
                    table.row(vec![
                        plain(p.id.as_str()),
                        plain(p.kind.as_str()),
                        plain(printable(&target(p))),
                        plain(every(p.interval_seconds)),
                        plain(state.map_or("unknown", |s| s.state.as_str())),
                        plain(
                            state
                                .and_then(|s| s.availability_24h)
                                .map_or_else(|| "-".to_owned(), percent),
                        ),
                        plain(printable(&p.name)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
            Ok(ExitCode::SUCCESS)
        }
        ProbeCommand::History { probe, days } => {
            let Some(desk) = context.desk(false).await? else {
                return Err(anyhow!("there is no database yet: the probes run under `tocsin serve`"));
            };
            let probes = Probes::new(desk, context.opened()? as _, Timeliness::default());
            let history = probes.history(&probe).await?.ok_or_else(|| unknown(&plan, &probe))?;
            if context.json() {
                emit(&serde_json::to_string(&history)?);
                return Ok(ExitCode::SUCCESS);
            }
            let p = &history.probe;
            let mut head = format!("{} ({}) is {}", p.probe, printable(&p.name), p.state);
            if let Some(since) = p.since {
                head.push_str(&format!(" since {}", since.strftime("%Y-%m-%d %H:%M UTC")));
            }
            if let Some(at) = p.last_run {
                head.push_str(&format!("; last run {}", at.strftime("%Y-%m-%d %H:%M:%S UTC")));
                if let Some(error) = &p.last_error {
                    head.push_str(&format!(": {}", printable(error)));
                }
            }
            emit(&head);
            let (rows, label, format) = if days {
                (&history.days, "DAY", "%Y-%m-%d")
            } else {
                (&history.hours, "HOUR (UTC)", "%Y-%m-%d %H:00")
            };
            if rows.is_empty() {
                emit("No runs recorded yet.");
            } else {
                let mut table = Table::new(&[label, "RUNS", "PASSED", "AVAILABILITY", "MEAN MS", "MAX MS"]);
                for r in rows {
                    table.row(vec![
                        plain(r.start.strftime(format).to_string()),
                        plain(r.runs.to_string()),
                        plain(r.ok.to_string()),
                        plain(percent(r.availability)),
                        plain(r.latency_mean_ms.to_string()),
                        plain(r.latency_max_ms.to_string()),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
            Ok(ExitCode::SUCCESS)
        }
        ProbeCommand::Run { probe } => {
            let found = plan
                .probes()
                .iter()
                .find(|p| p.id.as_str() == probe)
                .ok_or_else(|| unknown(&plan, &probe))?;
            let result = run_probe(found, &Prober::default()).await;
            if context.json() {
                emit(&serde_json::to_string(&result)?);
            } else {
                let verdict = if result.ok { "up" } else { "DOWN" };
                let mut line = format!("{} {verdict} in {} ms", found.id, result.latency_ms);
                if !result.detail.is_empty() {
                    line.push_str(&format!(": {}", printable(&result.detail)));
                }
                if let Some(error) = &result.error {
                    line.push_str(&format!("; {}", printable(error)));
                }
                emit(&line);
            }
            Ok(if result.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// A share as a percentage with two decimals, like 99.93%.
fn percent(share: f64) -> String {
    format!("{:.2}%", share * 100.0)
}

fn unknown(plan: &tocsin_core::plan::Plan, probe: &str) -> anyhow::Error {
    let ids: Vec<&str> = plan.probes().iter().map(|p| p.id.as_str()).collect();
    match tocsin_core::id::closest(probe, ids.iter().copied()) {
        Some(guess) => anyhow!("the plan has no probe \"{probe}\"; did you mean \"{guess}\"?"),
        None if ids.is_empty() => anyhow!("the plan has no probes; add [[probe]] tables"),
        None => anyhow!("the plan has no probe \"{probe}\"; its probes are {}", ids.join(", ")),
    }
}

/// Where the probes stand, as the server's probes recorded it; none before there is a
/// database.
async fn states(context: &Context) -> anyhow::Result<Vec<ProbeView>> {
    let Some(desk) = context.desk(false).await? else {
        return Ok(Vec::new());
    };
    Ok(Probes::new(desk, context.opened()? as _, Timeliness::default())
        .list()
        .await?)
}
