//! `tocsin probe list|run`: the plan's probes, and one run now.

use std::process::ExitCode;

use anyhow::anyhow;
use tocsin_server::services::probes::{Prober, run as run_probe, target};

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
            if context.json() {
                let list: Vec<serde_json::Value> = plan
                    .probes()
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "probe": p.id.as_str(), "name": p.name, "kind": p.kind.as_str(), "target": target(p),
                            "interval_seconds": p.interval_seconds, "down_after": p.down_after, "up_after": p.up_after,
                        })
                    })
                    .collect();
                emit(&serde_json::to_string(&list)?);
            } else if plan.probes().is_empty() {
                emit("The plan has no probes. Add [[probe]] tables (the four-tier preset shows some).");
            } else {
                let mut table = Table::new(&["PROBE", "KIND", "TARGET", "EVERY", "DOWN AFTER", "UP AFTER", "NAME"]);
                for p in plan.probes() {
                    table.row(vec![
                        plain(p.id.as_str()),
                        plain(p.kind.as_str()),
                        plain(printable(&target(p))),
                        plain(every(p.interval_seconds)),
                        plain(p.down_after.to_string()),
                        plain(p.up_after.to_string()),
                        plain(printable(&p.name)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
            Ok(ExitCode::SUCCESS)
        }
        ProbeCommand::Run { probe } => {
            let found = plan.probes().iter().find(|p| p.id.as_str() == probe).ok_or_else(|| {
                let ids: Vec<&str> = plan.probes().iter().map(|p| p.id.as_str()).collect();
                match tocsin_core::id::closest(&probe, ids.iter().copied()) {
                    Some(guess) => anyhow!("the plan has no probe \"{probe}\"; did you mean \"{guess}\"?"),
                    None if ids.is_empty() => anyhow!("the plan has no probes; add [[probe]] tables"),
                    None => anyhow!("the plan has no probe \"{probe}\"; its probes are {}", ids.join(", ")),
                }
            })?;
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
