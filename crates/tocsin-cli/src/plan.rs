//! `tocsin init` and `tocsin plan`: check a file, apply it as the database's active
//! version, show, compare and list the versions.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::plan::{Plan, PlanError, presets};
use tocsin_server::Desk;
use tocsin_server::services::plans::{PlanProblem, PlanText, diff};
use tocsin_store::plans::{Applied, PlanVersion};

use crate::args::{InitArgs, PlanCommand};
use crate::context::{Context, PlanSource};
use crate::emit;
use crate::render::{Paint, Table, plain};

pub async fn run(context: &Context, command: PlanCommand) -> anyhow::Result<ExitCode> {
    match command {
        PlanCommand::Check => check(context),
        PlanCommand::Apply { file } => apply(context, file).await,
        PlanCommand::Show { version } => show(context, version).await,
        PlanCommand::Diff { file } => compare(context, file).await,
        PlanCommand::History => history(context).await,
    }
}

/// A plan file named on the command line, or the one `--plan` names, or `./tocsin.toml`;
/// never a preset.
fn read_file(context: &Context, file: Option<PathBuf>) -> anyhow::Result<PlanText> {
    let path = file.unwrap_or_else(|| context.plan_path());
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow!("cannot read the plan {}: {e}", path.display()))?;
    Ok(PlanText {
        text,
        source: path.display().to_string(),
    })
}

/// Every problem of an invalid plan, on stderr (or as JSON); exit 1.
fn problems(context: &Context, name: &str, text: &str, e: &PlanError) -> ExitCode {
    if context.json() {
        let problems: Vec<_> = e
            .problems
            .iter()
            .map(|p| {
                let (line, column) = p.position(text);
                json!({"line": line, "column": column, "message": p.message, "hint": p.hint})
            })
            .collect();
        emit(&json!({"plan": name, "valid": false, "problems": problems}).to_string());
    } else {
        eprintln!("{}", e.render(name, text));
        eprintln!("{name}: {} problem(s)", e.problems.len());
    }
    ExitCode::from(1)
}

fn version_json(v: &PlanVersion) -> serde_json::Value {
    json!({
        "version": v.version,
        "digest": v.digest,
        "source": v.source,
        "applied_by": v.applied_by,
        "applied_at": v.applied_at,
    })
}

async fn apply(context: &Context, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let file = read_file(context, file)?;
    if let Err(e) = Plan::parse(&file.text) {
        return Ok(problems(context, &file.source, &file.text, &e));
    }
    let store = context.store(true).await?.expect("created when missing");
    let actor = context.actor()?;
    let (desk, applied) = match Desk::open(store, &file, &actor, context.now).await {
        Ok(opened) => opened,
        Err(tocsin_server::DeskError::Plan(PlanProblem::Invalid { origin, text, error })) => {
            return Ok(problems(context, &origin, &text, &error));
        }
        Err(e) => bail!("{e}"),
    };
    let verb = match &applied {
        Applied::New(_) => "applied",
        Applied::Kept(_) => "kept",
    };
    let version = applied.version();
    // What the incidents under way made of it is on their timelines; name them here.
    let adopted = adopted_by(&desk, version.version).await?;
    if context.json() {
        let mut doc = version_json(version);
        doc["outcome"] = json!(verb);
        doc["adopted_by"] = json!(adopted);
        emit(&doc.to_string());
        return Ok(ExitCode::SUCCESS);
    }
    match applied {
        Applied::New(_) => {
            let mut out = format!(
                "Applied {} as plan version {} ({}).",
                file.source,
                version.version,
                &version.digest[..12]
            );
            if !adopted.is_empty() {
                out.push_str(&format!(
                    "\nIncidents under way now follow it: {} (their timelines say which deadlines moved).",
                    adopted.join("; ")
                ));
            }
            emit(&out);
        }
        Applied::Kept(_) => emit(&format!(
            "{} is the active plan already (version {}); nothing changed.",
            file.source, version.version
        )),
    }
    Ok(ExitCode::SUCCESS)
}

/// The incidents whose latest adoption was of `version`, each with what moved.
async fn adopted_by(desk: &Desk, version: u64) -> anyhow::Result<Vec<String>> {
    let filter = tocsin_store::IncidentFilter {
        statuses: vec![
            tocsin_core::incident::Status::Declared,
            tocsin_core::incident::Status::Acknowledged,
            tocsin_core::incident::Status::Resolved,
        ],
        ..Default::default()
    };
    let mut out = Vec::new();
    for summary in desk.incidents(&filter).await.map_err(|e| anyhow!("{e}"))?.iter() {
        let view = desk.incident(summary.number).await.map_err(|e| anyhow!("{e}"))?;
        let adoption = view.timeline.iter().rev().find_map(|t| match &t.event {
            tocsin_core::incident::IncidentEvent::PlanAdopted { version: v, .. } if *v == version => Some(&t.event),
            _ => None,
        });
        if let Some(event) = adoption {
            out.push(format!("{} {}", summary.number, tocsin_server::phrases::event(event)));
        }
    }
    Ok(out)
}

async fn show(context: &Context, version: Option<u64>) -> anyhow::Result<ExitCode> {
    let Some(desk) = context.desk(false).await? else {
        bail!(
            "there is no database at {} yet; `tocsin plan apply` makes one with its plan",
            context.global.db
        )
    };
    let shown = match version {
        None => desk.active_plan().version.clone(),
        Some(n) => context
            .opened()?
            .plan_version(n)
            .await?
            .ok_or_else(|| anyhow!("there is no plan version {n}; `tocsin plan history` lists them"))?,
    };
    if context.json() {
        let mut doc = version_json(&shown);
        doc["text"] = json!(shown.text);
        emit(&doc.to_string());
    } else {
        print!("{}", shown.text);
    }
    Ok(ExitCode::SUCCESS)
}

async fn compare(context: &Context, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let file = read_file(context, file)?;
    let Some(desk) = context.desk(false).await? else {
        bail!(
            "there is no database at {} yet; nothing to compare with",
            context.global.db
        )
    };
    let active = desk.active_plan();
    let from = format!("plan version {} (active)", active.version.version);
    let text = diff((&from, &active.version.text), (&file.source, &file.text));
    if context.json() {
        emit(
            &json!({"active": active.version.version, "file": file.source, "same": text.is_empty(), "diff": text})
                .to_string(),
        );
    } else if text.is_empty() {
        emit(&format!(
            "{} is the active plan (version {}).",
            file.source, active.version.version
        ));
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn history(context: &Context) -> anyhow::Result<ExitCode> {
    let Some(desk) = context.desk(false).await? else {
        bail!(
            "there is no database at {} yet; it has no plan versions",
            context.global.db
        )
    };
    let versions = context.opened()?.plan_history().await?;
    if context.json() {
        emit(&serde_json::to_string(
            &versions.iter().map(version_json).collect::<Vec<_>>(),
        )?);
        return Ok(ExitCode::SUCCESS);
    }
    let zone = desk.plan().calendar().zone().clone();
    let mut table = Table::new(&["VERSION", "APPLIED", "BY", "DIGEST", "SOURCE"]);
    for v in &versions {
        table.row(vec![
            plain(v.version.to_string()),
            plain(tocsin_server::phrases::time(v.applied_at, &zone)),
            plain(&v.applied_by),
            plain(&v.digest[..12]),
            plain(&v.source),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}

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
        Err(e) => Ok(problems(context, &name, &text, &e)),
        Ok(plan) => {
            // The plan is sound; its channels must also open here: secrets set, files readable.
            let (_, problems) = tocsin_server::workers::channels::open_all(&plan);
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
            "severities": e.severities.iter().map(tocsin_core::id::SeverityId::as_str).collect::<Vec<_>>(),
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
    let answers: Vec<&str> = plan.customer_notice_when().iter().map(|c| c.as_str()).collect();
    out.push_str(&format!(
        "  customers    the customer-notice clock runs while \"customers affected\" is {}\n",
        answers.join(" or ")
    ));
    match plan.recovery().watch_seconds {
        Some(seconds) => out.push_str(&format!(
            "  recovery     watched for {} after resolution, {} times more sensitive\n",
            tocsin_server::phrases::span(seconds),
            plan.recovery().sensitivity
        )),
        None => out.push_str("  recovery     not watched after resolution\n"),
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
        let within = match (o.within, o.remind_every) {
            (Some(w), _) => format!("within {w} of {}", o.from.words()),
            (None, Some(every)) => format!("without undue delay after {}, reminded every {every}", o.from.words()),
            (None, None) => format!("without undue delay after {}", o.from.words()),
        };
        let severities = o.severities.as_ref().map_or_else(
            || "any severity".to_owned(),
            |list| {
                list.iter()
                    .map(tocsin_core::id::SeverityId::as_str)
                    .collect::<Vec<_>>()
                    .join("/")
            },
        );
        let personal = if o.personal_data { ", with personal data" } else { "" };
        out.push_str(&format!(
            "  obligation   {}: {within} ({severities}{personal}), met by recording the notice {}\n",
            o.id, o.met_by
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
        let severities: Vec<&str> = e.severities.iter().map(tocsin_core::id::SeverityId::as_str).collect();
        let levels: Vec<String> = e
            .levels
            .iter()
            .map(|l| match l.after.as_secs() {
                0 => format!("at once {}", l.notify.join(", ")),
                after => format!(
                    "after {} {}",
                    tocsin_server::phrases::span(after as i64),
                    l.notify.join(", ")
                ),
            })
            .collect();
        let repeat = e
            .repeat
            .map(|r| format!(", the last every {}", tocsin_server::phrases::span(r.as_secs() as i64)))
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
