//! Read commands: `incident show`, `clocks` and `verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use jiff::tz::TimeZone;
use tocsin_core::Timestamp;
use tocsin_core::clock::{Clock, ClockState};
use tocsin_core::incident::{Incident, StepState};
use tocsin_core::plan::Plan;
use tocsin_server::documents::{IncidentDoc, OpenClockDoc, VerificationDoc};
use tocsin_server::{IncidentView, Verification};

use crate::context::{Context, incident_number};
use crate::incident::one_line;
use crate::render::{Paint, Table, Tone, clock_tone, left, plain, printable, span, status_tone, time};
use crate::{describe, emit};

pub async fn incident(context: &Context, id: &str) -> anyhow::Result<ExitCode> {
    let number = incident_number(id)?;
    let desk = context.desk_for(number).await?;
    let view = desk.incident(number).await.map_err(one_line)?;
    if context.json() {
        emit(&serde_json::to_string(&IncidentDoc::of(
            &view,
            &desk.plan(),
            context.now,
        ))?);
    } else {
        emit(&render_incident(
            &view,
            &desk.plan(),
            context.now,
            Paint { on: context.colour() },
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_incident(view: &IncidentView, plan: &Plan, now: Timestamp, paint: Paint) -> String {
    let zone = plan.calendar().zone();
    let i = &view.incident;
    let mut out = paint.tone(Tone::Bold, &format!("{}  {}", i.number, printable(&i.title)));
    out.push('\n');
    let severity_name = plan.severity(&i.severity).map_or("", |s| s.name.as_str());
    let mut facts = Table::default();
    let mut fact = |label: &str, value: String, tone: Tone| facts.row(vec![plain(label), (value, tone)]);
    fact("severity", format!("{} {severity_name}", i.severity), Tone::Plain);
    fact("status", i.status.to_string(), status_tone(i.status));
    fact("owner", i.owner.clone().unwrap_or_else(|| "—".into()), Tone::Plain);
    fact(
        "declared",
        format!("{} by {}", time(i.declared_at, zone), i.reporter),
        Tone::Plain,
    );
    fact("detected", time(i.detected_at, zone), Tone::Plain);
    fact("aware", time(i.aware_at, zone), Tone::Plain);
    let personal = match (i.personal_data, i.personal_data_aware_at) {
        (true, Some(since)) => format!("yes, known since {}", time(since, zone)),
        _ => "no".into(),
    };
    fact(
        "personal data",
        personal,
        if i.personal_data { Tone::Bold } else { Tone::Plain },
    );
    let customers = match i.affected_customers {
        Some(n) if i.customers != tocsin_core::incident::CustomerImpact::No => format!("{}, {n} affected", i.customers),
        _ => i.customers.to_string(),
    };
    fact("customers affected", customers, Tone::Plain);
    if let Some(n) = i.affected_data_subjects {
        fact("data subjects", n.to_string(), Tone::Plain);
    }
    if let Some(until) = plan.watch_until(i).filter(|until| *until > now) {
        fact(
            "recovery watch",
            format!("until {}: its keys are watched more closely", time(until, zone)),
            Tone::Warn,
        );
    }
    for role in plan.roles() {
        let required = role.required_for.contains(&i.severity);
        let (holder, tone) = match (i.roles.get(&role.id), required) {
            (Some(who), _) => (who.clone(), Tone::Plain),
            (None, true) => ("— (required)".to_owned(), Tone::Warn),
            (None, false) => ("—".to_owned(), Tone::Dim),
        };
        fact(role.id.as_str(), holder, tone);
    }
    if !i.summary.is_empty() {
        fact("summary", i.summary.clone(), Tone::Plain);
    }
    out.push_str(&facts.render(paint, "  "));

    out.push_str(&paint.tone(Tone::Bold, "\nClocks\n"));
    out.push_str(&clock_table(&view.clocks, zone, now).render(paint, "  "));
    out.push_str(&paint.tone(Tone::Bold, "\nSteps\n"));
    out.push_str(&steps(i, zone, paint));
    out.push_str(&paint.tone(Tone::Bold, "\nTimeline\n"));
    let mut timeline = Table::default();
    for entry in &view.timeline {
        let mut what = describe::event(&entry.event);
        // Backfilled entries say when they were written down, for whoever audits them.
        if entry.recorded_at.as_second() - entry.at.as_second() > 60 {
            what.push_str(&format!(" (recorded {})", time(entry.recorded_at, zone)));
        }
        timeline.row(vec![
            plain(time(entry.at, zone)),
            plain(entry.actor.as_str()),
            plain(what),
        ]);
    }
    out.push_str(&timeline.render(paint, "  "));
    out
}

fn clock_table(clocks: &[Clock], zone: &TimeZone, now: Timestamp) -> Table {
    let mut table = Table::new(&["CLOCK", "STATE", "DUE", ""]);
    for clock in clocks {
        let state = clock.state(now);
        let note = match (state, clock.met_at) {
            (ClockState::Running, _) => clock.seconds_left(now).map_or_else(|| "no fixed deadline".into(), left),
            (ClockState::Breached { at }, None) if clock.open => {
                format!("{} overdue", span(now.as_second() - at.as_second()))
            }
            (ClockState::Breached { at }, Some(met)) => {
                format!(
                    "kept {}, {} late",
                    time(met, zone),
                    span(met.as_second() - at.as_second())
                )
            }
            (ClockState::Breached { .. }, None) => "not kept".into(),
            (ClockState::Met { at }, _) => format!("kept {}", time(at, zone)),
            (ClockState::NotApplicable, _) => clock
                .waived
                .as_ref()
                .map_or_else(String::new, |why| format!("not required: {why}")),
        };
        let tone = clock_tone(clock, now);
        let due = clock.due_at.map_or_else(|| "—".into(), |d| time(d, zone));
        table.row(vec![
            plain(&clock.name),
            (state.to_string(), tone),
            plain(due),
            (note, tone),
        ]);
    }
    table
}

fn steps(incident: &Incident, zone: &TimeZone, paint: Paint) -> String {
    let mut out = String::new();
    for (index, step) in incident.steps.iter().enumerate() {
        let (state, tone) = match step.state {
            StepState::Done => ("done", Tone::Good),
            StepState::InProgress => ("in progress", Tone::Bold),
            StepState::Pending => ("pending", Tone::Dim),
        };
        let when = match (&step.completed, &step.started) {
            (Some(done), _) => format!(" {} by {}", time(done.at, zone), done.by),
            (None, Some(started)) => format!(" since {} by {}", time(started.at, zone), started.by),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {} {} {}{when}\n",
            index + 1,
            step.id,
            paint.tone(tone, state)
        ));
        for (n, item) in step.checklist.iter().enumerate() {
            let mark = if item.done.is_some() { "[x]" } else { "[ ]" };
            let by = item
                .done
                .as_ref()
                .map(|d| format!(" ({}, {})", d.by, time(d.at, zone)))
                .unwrap_or_default();
            out.push_str(&format!("      {mark} {} {}{by}\n", n + 1, item.text));
        }
    }
    out
}

pub async fn clocks(context: &Context) -> anyhow::Result<ExitCode> {
    let plan = context.plan().await?;
    let zone = plan.calendar().zone().clone();
    let open = match context.desk(false).await? {
        Some(desk) => desk.open_clocks().await.map_err(one_line)?,
        None => Default::default(),
    };
    let now = context.now;
    if context.json() {
        let listed: Vec<_> = open.iter().map(|o| OpenClockDoc::of(o, now)).collect();
        emit(&serde_json::to_string(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    if open.is_empty() {
        emit("No running clocks.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["INCIDENT", "SEV", "CLOCK", "DUE", "LEFT", "TITLE"]);
    for o in open.iter() {
        let tone = clock_tone(&o.clock, now);
        let due = o.clock.due_at.map_or_else(|| "—".into(), |d| time(d, &zone));
        let remaining = o
            .clock
            .seconds_left(now)
            .map_or_else(|| "no fixed deadline".into(), left);
        table.row(vec![
            plain(o.incident.to_string()),
            plain(&o.severity),
            plain(&o.clock.name),
            plain(due),
            (remaining, tone),
            plain(&o.title),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(context: &Context, heads: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let Some(desk) = context.desk(false).await? else {
        bail!("there is no database at {} yet; nothing to verify", context.global.db)
    };
    let report = desk.verify_with(heads).await.map_err(one_line)?;
    if context.json() {
        emit(&serde_json::to_string(&VerificationDoc::of(&report))?);
    } else {
        emit(&verification_text(&report, context.opened()?.describe()));
    }
    Ok(if report.broken.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn verification_text(report: &Verification, database: String) -> String {
    let mut out = match &report.broken {
        Some(broken) => format!(
            "TAMPERED: {broken}\n  {} entries verified before it in {database}\n",
            report.entries
        ),
        None => format!(
            "Intact: {} and {} in {database} verify.\n  head #{} {}\n",
            count(report.entries, "audit entry", "audit entries"),
            count(report.incidents, "incident", "incidents"),
            report.head_seq,
            report.head_hash
        ),
    };
    if report.broken.is_none() {
        out.push_str(&format!(
            "  {} checked against the audit chain\n",
            count(report.plan_versions, "plan version", "plan versions")
        ));
    }
    if report.broken.is_none() {
        match (&report.seal_note, report.signed_to) {
            (Some(note), _) => out.push_str(&format!("  note: {note}\n")),
            (None, Some((seq, at))) => out.push_str(&format!(
                "  checked against {}; the latest covers #{seq}, signed {}\n",
                count(report.signed_heads, "signed head", "signed heads"),
                at
            )),
            (None, None) => {}
        }
    }
    if !report.unchecked_clocks.is_empty() {
        let list: Vec<String> = report.unchecked_clocks.iter().map(ToString::to_string).collect();
        out.push_str(&format!(
            "  note: the clocks of {} were not checked: they follow a plan that was never applied as a version (declared before the database kept its plan)\n",
            list.join(", ")
        ));
    }
    out
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
