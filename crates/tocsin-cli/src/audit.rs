//! `tocsin audit run|show|list`: the daily security audit on demand, its reports.

use std::process::ExitCode;

use anyhow::anyhow;
use tocsin_core::daily_audit::{Outcome, Report};
use tocsin_server::documents::{AuditDoc, AuditSummaryDoc};
use tocsin_server::services::audit::Audits;

use crate::args::AuditCommand;
use crate::context::Context;
use crate::emit;
use crate::render::{Paint, Table, plain, printable};

pub async fn run(context: &Context, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Run => {
            let Some(desk) = context.desk(true).await? else {
                return Err(anyhow!("there is no database to keep the report in"));
            };
            let audits = Audits::new(desk, context.opened()?);
            let (id, report) = audits.run(&context.actor()?).await?;
            show(context, id, &report)?;
            let clean =
                report.findings().next().is_none() && report.checks.iter().all(|c| c.outcome != Outcome::Failed);
            Ok(if clean { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AuditCommand::Show { id } => {
            let Some(desk) = context.desk(false).await? else {
                return Err(anyhow!("there is no database yet: the audit has not run"));
            };
            let audits = Audits::new(desk, context.opened()?);
            match audits.report(id).await? {
                Some((summary, report)) => {
                    show(context, summary.id, &report)?;
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(match id {
                    Some(id) => anyhow!("there is no audit report {id}; `tocsin audit list` shows them"),
                    None => anyhow!("the audit has not run yet; `tocsin audit run` runs it now"),
                }),
            }
        }
        AuditCommand::List { limit } => {
            let Some(desk) = context.desk(false).await? else {
                emit("The audit has not run yet.");
                return Ok(ExitCode::SUCCESS);
            };
            let reports = Audits::new(desk, context.opened()?)
                .list(None, limit.clamp(1, 500))
                .await?;
            if context.json() {
                let list: Vec<AuditSummaryDoc> = reports.iter().cloned().map(Into::into).collect();
                emit(&serde_json::to_string(&list)?);
            } else if reports.is_empty() {
                emit("The audit has not run yet; `tocsin audit run` runs it now.");
            } else {
                let mut table = Table::new(&["REPORT", "STARTED (UTC)", "BY", "FINDINGS", "RESULT"]);
                for r in &reports {
                    table.row(vec![
                        plain(r.id.to_string()),
                        plain(r.started_at.strftime("%Y-%m-%d %H:%M").to_string()),
                        plain(printable(&r.by)),
                        plain(r.findings.to_string()),
                        plain(printable(&r.title)),
                    ]);
                }
                emit(&table.render(Paint { on: context.colour() }, ""));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A report: as JSON, or its digest with each finding.
fn show(context: &Context, id: i64, report: &Report) -> anyhow::Result<()> {
    if context.json() {
        emit(&serde_json::to_string(&AuditDoc::of(id, report.clone()))?);
        return Ok(());
    }
    let (title, text) = report.digest();
    let mut out = format!("Report {id}: {}\n", printable(&title));
    for line in text.lines() {
        out.push_str(&printable(line));
        out.push('\n');
    }
    for check in &report.checks {
        for f in &check.findings {
            let new = if report.changes.new.contains(&f.key) {
                " (new)"
            } else {
                ""
            };
            out.push_str(&format!("\n[{}] {}{new}", check.check.as_str(), printable(&f.title)));
            for line in f.detail.lines() {
                out.push_str(&format!("\n    {}", printable(line)));
            }
        }
    }
    emit(&out);
    Ok(())
}
