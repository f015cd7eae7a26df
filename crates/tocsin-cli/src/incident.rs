//! `tocsin incident ...`: declare, work and list incidents.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use tocsin_core::incident::{Command, CustomerImpact, Declaration, Status, declare};
use tocsin_core::plan::Plan;
use tocsin_server::documents::{IncidentDoc, IncidentSummaryDoc};
use tocsin_server::{Changed, Desk, DeskError, next_deadlines};
use tocsin_store::IncidentFilter;

use crate::args::{DeclareArgs, IncidentCommand, ListArgs, MarkAction, StepAction};
use crate::context::{Context, incident_number};
use crate::render::{Paint, Table, clock_tone, left, plain, printable, status_tone};
use crate::{describe, emit, show};

pub async fn run(context: &Context, command: IncidentCommand) -> anyhow::Result<ExitCode> {
    let plan = context.plan().await?;
    let (id, command, at) = match command {
        IncidentCommand::Declare(args) => return declare_incident(context, &plan, &args).await,
        IncidentCommand::List(args) => return list(context, &plan, &args).await,
        IncidentCommand::Show { id } => return show::incident(context, &id).await,
        IncidentCommand::Ack { id, at } => (id, Command::Acknowledge, at.at),
        IncidentCommand::Assign { id, owner, roles, at } => {
            let roles = roles
                .iter()
                .map(|r| {
                    r.split_once('=')
                        .map(|(role, who)| (role.trim().to_owned(), who.to_owned()))
                        .ok_or_else(|| anyhow!("--role \"{r}\" must be ROLE=NAME, like incident-commander=jo"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            (id, Command::Assign { owner, roles }, at.at)
        }
        IncidentCommand::Severity {
            id,
            severity,
            reason,
            at,
        } => (id, Command::ChangeSeverity { to: severity, reason }, at.at),
        IncidentCommand::Step { id, step, action } => match action {
            StepAction::Start { at } => (id, Command::StartStep { step }, at.at),
            StepAction::Done { at } => (id, Command::CompleteStep { step }, at.at),
            StepAction::Check { item, at } => (id, Command::CheckItem { step, item }, at.at),
            StepAction::Uncheck { item, at } => (id, Command::UncheckItem { step, item }, at.at),
        },
        IncidentCommand::Note { id, text, at } => (id, Command::AddNote { text }, at.at),
        IncidentCommand::PersonalData { id, action, reason, at } => match action {
            MarkAction::Mark => (id, Command::MarkPersonalData { reason }, at.at),
            MarkAction::Unmark => {
                let reason = reason.ok_or_else(|| anyhow!("unmarking personal data needs --reason"))?;
                (id, Command::UnmarkPersonalData { reason }, at.at)
            }
        },
        IncidentCommand::Notice { id, kind, note, at } => (id, Command::RecordNotice { kind, note }, at.at),
        IncidentCommand::Resolve { id, summary, at } => (id, Command::Resolve { summary }, at.at),
        IncidentCommand::Close {
            id,
            override_reason,
            at,
        } => (id, Command::Close { override_reason }, at.at),
        IncidentCommand::Edit { id, title, summary, at } => (id, Command::Edit { title, summary }, at.at),
        IncidentCommand::Impact {
            id,
            customers,
            affected_customers,
            affected_data_subjects,
            at,
        } => (
            id,
            Command::AssessImpact {
                customers: customers_answer(customers.as_deref())?,
                affected_customers,
                affected_data_subjects,
            },
            at.at,
        ),
        IncidentCommand::Waive {
            id,
            obligation,
            reason,
            at,
        } => (
            id,
            Command::Waive {
                clock: obligation,
                reason,
            },
            at.at,
        ),
        IncidentCommand::Dismiss { id, reason, at } => (id, Command::Dismiss { reason }, at.at),
        IncidentCommand::Reopen { id, reason, at } => (id, Command::Reopen { reason }, at.at),
    };
    act(context, &plan, &id, &command, at.as_ref()).await
}

async fn act(
    context: &Context,
    plan: &Plan,
    id: &str,
    command: &Command,
    at: Option<&String>,
) -> anyhow::Result<ExitCode> {
    let number = incident_number(id)?;
    let at = context.at(at, plan)?;
    let actor = context.actor()?;
    let desk = context.desk_for(number).await?;
    let outcome = desk
        .act(number, command, &actor, at, context.now)
        .await
        .map_err(one_line)?;
    report(context, &desk, &outcome).await
}

async fn report(context: &Context, desk: &Desk, outcome: &Changed) -> anyhow::Result<ExitCode> {
    let number = outcome.incident.number;
    if context.json() {
        let view = desk.incident(number).await.map_err(one_line)?;
        emit(&serde_json::to_string(&IncidentDoc::of(
            &view,
            &desk.plan(),
            context.now,
        ))?);
        return Ok(ExitCode::SUCCESS);
    }
    let plan = desk.plan();
    let zone = plan.calendar().zone();
    let what: Vec<String> = outcome.events.iter().map(describe::event).collect();
    let paint = Paint { on: context.colour() };
    let changes = describe::clock_changes(&outcome.clocks_before, &outcome.clocks, context.now, zone, paint);
    emit(&format!("{number}: {}\n{changes}", printable(&what.join("; "))));
    Ok(ExitCode::SUCCESS)
}

/// `--customers yes|no|unknown`.
fn customers_answer(text: Option<&str>) -> anyhow::Result<Option<CustomerImpact>> {
    text.map(|t| t.parse().map_err(|e: String| anyhow!("--customers: {e}")))
        .transpose()
}

/// Errors of the desk as one line; rejections keep the core's wording.
pub fn one_line(e: DeskError) -> anyhow::Error {
    anyhow!("{e}")
}

async fn declare_incident(context: &Context, plan: &Plan, args: &DeclareArgs) -> anyhow::Result<ExitCode> {
    let time = |flag: &str, text: &Option<String>| text.as_ref().map(|t| context.time(flag, t, plan)).transpose();
    let at = time("--at", &args.at)?;
    let declaration = Declaration {
        title: args.title.clone(),
        summary: args.summary.clone(),
        severity: args.severity.clone(),
        personal_data: args.personal_data,
        detected_at: time("--detected-at", &args.detected_at)?,
        aware_at: time("--aware-at", &args.aware_at)?,
        customers: customers_answer(args.customers.as_deref())?,
        affected_customers: args.affected_customers,
        affected_data_subjects: args.affected_data_subjects,
    };
    let actor = match &args.reporter {
        Some(name) => tocsin_core::incident::Actor::parse(name).map_err(|e| anyhow!("--reporter: {e}"))?,
        None => context.actor()?,
    };
    // Check before the database is opened, so a refused declaration creates nothing.
    declare(plan, &declaration, at.unwrap_or(context.now), context.now)?;
    let Some(desk) = context.desk(true).await? else {
        bail!("the database could not be created")
    };
    let view = desk
        .declare(&declaration, &actor, at, context.now)
        .await
        .map_err(one_line)?;
    if context.json() {
        emit(&serde_json::to_string(&IncidentDoc::of(
            &view,
            &desk.plan(),
            context.now,
        ))?);
        return Ok(ExitCode::SUCCESS);
    }
    let plan = desk.plan();
    let zone = plan.calendar().zone();
    let i = &view.incident;
    let paint = Paint { on: context.colour() };
    let started = describe::clock_changes(&[], &view.clocks, context.now, zone, paint);
    emit(&format!(
        "Declared {} {} \"{}\"\n{started}",
        i.number,
        i.severity,
        printable(&i.title)
    ));
    Ok(ExitCode::SUCCESS)
}

async fn list(context: &Context, plan: &Plan, args: &ListArgs) -> anyhow::Result<ExitCode> {
    // `--status all` as the API takes `status=all`.
    let statuses = if args.all || args.status.iter().any(|s| s == "all") {
        Vec::new()
    } else if args.status.is_empty() {
        vec![Status::Declared, Status::Acknowledged, Status::Resolved]
    } else {
        args.status
            .iter()
            .map(|s| s.parse::<Status>().map_err(|e| anyhow!(e)))
            .collect::<anyhow::Result<_>>()?
    };
    let severities = args
        .severity
        .iter()
        .map(|s| plan.find_severity(s).map(|s| s.id.to_string()).map_err(|e| anyhow!(e)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let filter = IncidentFilter {
        statuses,
        severities,
        owner: args.owner.clone(),
        text: args.search.clone(),
        before: None,
        limit: Some(args.limit),
    };
    let (incidents, open) = match context.desk(false).await? {
        Some(desk) => (
            desk.incidents(&filter).await.map_err(one_line)?,
            desk.open_clocks().await.map_err(one_line)?,
        ),
        None => (Default::default(), Default::default()),
    };
    let next = next_deadlines(&open);
    let now = context.now;
    if context.json() {
        let listed: Vec<_> = incidents
            .iter()
            .map(|s| IncidentSummaryDoc::of(s, next.get(&s.number).copied(), now))
            .collect();
        emit(&serde_json::to_string(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    if incidents.is_empty() {
        emit("No incidents.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "SEV", "STATUS", "OWNER", "NEXT DEADLINE", "TITLE"]);
    for s in incidents.iter() {
        let deadline = match next.get(&s.number) {
            Some(clock) => {
                let left = clock.seconds_left(now).map_or_else(|| "open".into(), left);
                (format!("{} {left}", clock.name), clock_tone(clock, now))
            }
            None => plain("—"),
        };
        table.row(vec![
            plain(s.number.to_string()),
            plain(&s.severity),
            (s.status.to_string(), status_tone(s.status)),
            plain(s.owner.clone().unwrap_or_else(|| "—".into())),
            deadline,
            plain(&s.title),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}
