//! `tocsin init` and `tocsin plan check`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::plan::{Plan, presets};

use crate::args::InitArgs;
use crate::context::{Context, PlanSource};
use crate::emit;

pub fn init(context: &Context, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let preset = presets::find(args.preset.as_str()).expect("every preset name has a preset");
    let path = context.plan_path();
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} already exists; pass --force to overwrite it", path.display())
        }
        Err(e) => bail!("cannot write {}: {e}", path.display()),
    };
    file.write_all(preset.source.as_bytes())
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    if context.json() {
        emit(&json!({"plan": path, "preset": preset.name}).to_string());
    } else {
        emit(&format!(
            "Wrote {} from the {} preset: {}.\nEdit it, then run `tocsin plan check`.",
            path.display(),
            preset.name,
            preset.summary
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn check(context: &Context) -> anyhow::Result<ExitCode> {
    let (text, source) = context.plan_source()?;
    let name = match &source {
        PlanSource::File(path) => path.display().to_string(),
        PlanSource::Preset(name) => format!("(no plan file: the {name} preset)"),
    };
    match Plan::parse(&text) {
        Err(e) => {
            if context.json() {
                let problems: Vec<_> = e
                    .problems
                    .iter()
                    .map(|p| {
                        let (line, column) = p.position(&text);
                        json!({"line": line, "column": column, "message": p.message, "hint": p.hint})
                    })
                    .collect();
                emit(&json!({"plan": name, "valid": false, "problems": problems}).to_string());
            } else {
                eprintln!("{}", e.render(&name, &text));
                eprintln!("{name}: {} problem(s)", e.problems.len());
            }
            Ok(ExitCode::from(1))
        }
        Ok(plan) => {
            // The plan is sound; its channels must also open here: secrets set, files readable.
            let (_, problems) = tocsin_server::channels::open_all(&plan);
            if !problems.is_empty() {
                if context.json() {
                    let problems: Vec<_> = problems.iter().map(|p| json!({"message": p})).collect();
                    emit(&json!({"plan": name, "valid": false, "problems": problems}).to_string());
                } else {
                    for problem in &problems {
                        eprintln!("{name}: {problem}");
                    }
                    eprintln!("{name}: {} problem(s)", problems.len());
                }
                return Ok(ExitCode::from(1));
            }
            if context.json() {
                emit(&summary_json(&plan, &name).to_string());
            } else {
                emit(&summary(&plan, &name));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn summary_json(plan: &Plan, name: &str) -> serde_json::Value {
    let org = plan.organization();
    json!({
        "plan": name,
        "valid": true,
        "digest": plan.digest(),
        "organization": org.name,
        "timezone": org.timezone,
        "severities": plan.severities().iter().map(|s| json!({
            "id": s.id.as_str(),
            "name": s.name,
            "acknowledge_within": s.acknowledge_within,
            "status_update_every": s.status_update_every,
            "customer_notice_within": s.customer_notice_within,
            "pages": s.pages,
        })).collect::<Vec<_>>(),
        "steps": plan.steps().iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        "roles": plan.roles().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        "review": {"step": plan.review().step.as_str(), "within": plan.review().within},
        "obligations": plan.obligations().iter().map(|o| json!({
            "id": o.id.as_str(),
            "name": o.name,
            "from": o.from.to_string(),
            "within": o.within,
            "met_by": o.met_by.as_str(),
        })).collect::<Vec<_>>(),
        "channels": plan.channels().iter().map(|c| json!({"name": c.name, "type": c.kind.as_str()})).collect::<Vec<_>>(),
        "people": plan.people().iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        "escalation": plan.escalation().map(|e| json!({
            "severities": e.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "channels": e.channels,
            "levels": e.levels.iter().map(|l| json!({"after_seconds": l.after.as_secs(), "notify": l.notify})).collect::<Vec<_>>(),
            "repeat_seconds": e.repeat.map(|r| r.as_secs()),
        })),
    })
}

fn summary(plan: &Plan, name: &str) -> String {
    let org = plan.organization();
    let mut out = format!("{name}: valid plan for {} ({})\n", org.name, org.timezone);
    out.push_str(&format!("  severities   {}\n", plan.severities().len()));
    for s in plan.severities() {
        let mut promises = vec![format!("acknowledge within {}", s.acknowledge_within)];
        promises.extend(s.status_update_every.map(|d| format!("status update every {d}")));
        promises.extend(s.customer_notice_within.map(|d| format!("customers told within {d}")));
        if s.pages {
            promises.push("pages".into());
        }
        out.push_str(&format!("    {:<4} {:<10} {}\n", s.id, s.name, promises.join(", ")));
    }
    let steps: Vec<&str> = plan.steps().iter().map(|s| s.id.as_str()).collect();
    out.push_str(&format!("  steps        {}\n", steps.join(" → ")));
    if !plan.roles().is_empty() {
        let roles: Vec<&str> = plan.roles().iter().map(|r| r.id.as_str()).collect();
        out.push_str(&format!("  roles        {}\n", roles.join(", ")));
    }
    out.push_str(&format!(
        "  review       step {} within {} of resolution\n",
        plan.review().step,
        plan.review().within
    ));
    for o in plan.obligations() {
        let within = o
            .within
            .map_or_else(|| "without a fixed deadline".to_owned(), |w| format!("within {w}"));
        let severities = o.severities.as_ref().map_or_else(
            || "any severity".to_owned(),
            |list| list.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("/"),
        );
        let personal = if o.personal_data { ", with personal data" } else { "" };
        out.push_str(&format!(
            "  obligation   {}: {within} of {} ({severities}{personal}), met by a notice to {}\n",
            o.id, o.from, o.met_by
        ));
    }
    for c in plan.channels() {
        out.push_str(&format!("  channel      {} ({})\n", c.name, c.kind.as_str()));
    }
    if !plan.routes().is_empty() {
        out.push_str(&format!("  routes       {}\n", plan.routes().len()));
    }
    if !plan.people().is_empty() {
        let people: Vec<&str> = plan.people().iter().map(|p| p.id.as_str()).collect();
        out.push_str(&format!("  people       {}\n", people.join(", ")));
    }
    if let Some(e) = plan.escalation() {
        let severities: Vec<&str> = e.severities.iter().map(|s| s.as_str()).collect();
        let levels: Vec<String> = e
            .levels
            .iter()
            .map(|l| match l.after.as_secs() {
                0 => format!("at once {}", l.notify.join(", ")),
                after => format!(
                    "after {} {}",
                    tocsin_server::words::span(after as i64),
                    l.notify.join(", ")
                ),
            })
            .collect();
        let repeat = e
            .repeat
            .map(|r| format!(", the last every {}", tocsin_server::words::span(r.as_secs() as i64)))
            .unwrap_or_default();
        out.push_str(&format!(
            "  escalation   {} unacknowledged: {}{repeat}, on {}\n",
            severities.join("/"),
            levels.join(" → "),
            e.channels.join(", ")
        ));
    }
    out
}
