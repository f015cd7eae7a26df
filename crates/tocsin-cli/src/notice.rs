//! `tocsin notice fields|draft|list|show|edit|approve|send|recipients|status`: an
//! incident's notices, written from the plan's templates, checked, approved and sent. The
//! CLI records; the running server emails a sent notice to each recipient.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use tocsin_core::incident::IncidentNumber;
use tocsin_core::notice::FIELDS;
use tocsin_server::documents::WrittenNoticeDoc;
use tocsin_server::services::notices::{Notices, document};

use crate::args::NoticeCommand;
use crate::context::Context;
use crate::emit;
use crate::render::printable;

fn number(text: &str) -> anyhow::Result<IncidentNumber> {
    text.parse().map_err(|e| anyhow!("{e}"))
}

/// A notice in a few lines, for people: what it is, where it stands, what keeps it back.
fn describe(doc: &WrittenNoticeDoc) -> String {
    let mut lines = vec![format!(
        "{}/notice {} ({}), version {}: {}",
        doc.incident,
        doc.notice,
        doc.kind,
        doc.version,
        printable(&doc.subject)
    )];
    lines.push(format!("  drafted by {} at {}", doc.drafted.by, doc.drafted.at));
    if let Some(revised) = &doc.revised {
        lines.push(format!("  revised by {} at {}", revised.by, revised.at));
    }
    if doc.needs_approval {
        lines.push(match doc.approvals.iter().find(|a| a.version == doc.version) {
            Some(a) => format!("  approved by {} at {}", a.by, a.at),
            None => "  not approved yet".to_owned(),
        });
    }
    match (&doc.sent, &doc.incomplete) {
        (Some(sent), _) => {
            let to = match &doc.channel {
                Some(channel) => format!(" to {} recipients on {channel}", sent.recipients),
                None => " (filed by hand)".to_owned(),
            };
            lines.push(format!("  sent by {} at {}{to}", sent.by, sent.at));
            if let Some(late) = &sent.late {
                lines.push(format!("  late because {}", printable(late)));
            }
        }
        (None, Some(why)) => lines.push(format!("  cannot be sent yet: {why}")),
        (None, None) => lines.push(format!(
            "  ready to send{}",
            doc.channel.as_ref().map_or_else(String::new, |c| format!(" on {c}"))
        )),
    }
    if let Some(d) = &doc.deliveries {
        lines.push(format!(
            "  emails: {} sent, {} pending ({} being retried), {} dead",
            d.sent, d.pending, d.retrying, d.dead
        ));
        for f in &d.failures {
            lines.push(format!("    {} ({}): {}", f.to, f.state, printable(&f.error)));
        }
    }
    lines.join("\n")
}

/// The text of a file, or of standard input for `-`.
fn read_text(path: &str) -> anyhow::Result<String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {path}: {e}"))
}

/// `text` edited in the user's editor (`$VISUAL`, `$EDITOR`, else vi).
fn edited(text: &str) -> anyhow::Result<String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("notice.md");
    std::fs::write(&file, text)?;
    // The editor may be a command with arguments, like `code --wait`.
    let mut words = editor.split_whitespace();
    let program = words.next().ok_or_else(|| anyhow!("EDITOR is empty"))?;
    let status = std::process::Command::new(program)
        .args(words)
        .arg(&file)
        .status()
        .map_err(|e| anyhow!("cannot start the editor {editor}: {e}"))?;
    if !status.success() {
        bail!("the editor {editor} failed ({status}); the notice is unchanged");
    }
    Ok(std::fs::read_to_string(&file)?)
}

pub async fn run(context: &Context, command: NoticeCommand) -> anyhow::Result<ExitCode> {
    if let NoticeCommand::Fields = command {
        let width = FIELDS.iter().map(|(f, _)| f.len()).max().unwrap_or(0) + 6;
        for (field, what) in FIELDS {
            emit(&format!("{:width$}{what}", format!("{{{{ {field} }}}}")));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(desk) = context.desk(false).await? else {
        bail!("there is no database yet, so no incident to write notices for");
    };
    let notices = Notices::new(desk.clone(), context.opened()?);
    let actor = context.actor()?;
    let now = context.now;
    let show = |doc: &WrittenNoticeDoc| {
        if context.json() {
            emit(&serde_json::to_string(doc).unwrap_or_default());
        } else {
            emit(&describe(doc));
        }
    };
    let doc_of = |number: IncidentNumber, notice: u32| {
        let desk = desk.clone();
        let notices = notices.clone();
        async move {
            let view = desk.incident(number).await?;
            notices
                .doc(&view, notice)
                .await?
                .ok_or_else(|| anyhow!("{number} has no notice {notice}"))
        }
    };
    let written = |number: IncidentNumber, notice: u32| {
        let desk = desk.clone();
        async move {
            let view = desk.incident(number).await?;
            view.incident
                .notice(notice)
                .cloned()
                .ok_or_else(|| anyhow!("{number} has no notice {notice}"))
        }
    };
    match command {
        NoticeCommand::Fields => unreachable!("answered above"),
        NoticeCommand::Draft { incident, kind, edit } => {
            let number = number(&incident)?;
            let mut drafted = notices.draft(number, &kind, &actor, now).await?;
            if edit {
                let body = edited(&drafted.body)?;
                if body != drafted.body {
                    drafted = notices
                        .revise(number, drafted.number, &drafted.subject, &body, &actor, now)
                        .await?;
                }
            }
            show(&doc_of(number, drafted.number).await?);
            if !context.json() && !edit {
                emit(&format!(
                    "Fill its [[ blanks ]] in with `tocsin notice edit {number} {}`.",
                    drafted.number
                ));
            }
        }
        NoticeCommand::List { incident } => {
            let number = number(&incident)?;
            let view = desk.incident(number).await?;
            let plan = desk.plan();
            let docs: Vec<WrittenNoticeDoc> = view
                .incident
                .written_notices
                .iter()
                .map(|n| WrittenNoticeDoc::of(&view.incident, n, &plan, None))
                .collect();
            if context.json() {
                emit(&serde_json::to_string(&docs)?);
            } else if docs.is_empty() {
                emit(&format!(
                    "{number} has no notices. Draft one with `tocsin notice draft {number} customers`."
                ));
            } else {
                emit(&docs.iter().map(describe).collect::<Vec<_>>().join("\n"));
            }
        }
        NoticeCommand::Show {
            incident,
            notice,
            document: format,
        } => {
            let number = number(&incident)?;
            let found = written(number, notice).await?;
            match format.as_deref() {
                None => {
                    show(&doc_of(number, notice).await?);
                    if !context.json() {
                        emit(&format!("\n{}", found.body.trim_end()));
                    }
                }
                Some(format) => {
                    let (markdown, html) = document(number, &found, &desk.plan().organization().name);
                    match format {
                        "markdown" | "md" => emit(&markdown),
                        "html" => emit(&html),
                        other => bail!("--document {other}: write markdown or html"),
                    }
                }
            }
        }
        NoticeCommand::Edit {
            incident,
            notice,
            file,
            subject,
        } => {
            let number = number(&incident)?;
            let found = written(number, notice).await?;
            let body = match &file {
                Some(path) => read_text(path)?,
                None => edited(&found.body)?,
            };
            let subject = subject.unwrap_or_else(|| found.subject.clone());
            if body == found.body && subject == found.subject {
                emit("Unchanged.");
                return Ok(ExitCode::SUCCESS);
            }
            notices.revise(number, notice, &subject, &body, &actor, now).await?;
            show(&doc_of(number, notice).await?);
        }
        NoticeCommand::Approve { incident, notice } => {
            let number = number(&incident)?;
            notices.approve(number, notice, &actor, now).await?;
            show(&doc_of(number, notice).await?);
        }
        NoticeCommand::Send {
            incident,
            notice,
            late_reason,
        } => {
            let number = number(&incident)?;
            notices.send(number, notice, late_reason, &actor, now).await?;
            show(&doc_of(number, notice).await?);
        }
        NoticeCommand::Recipients {
            incident,
            file,
            remove,
            erase,
        } => {
            let number = number(&incident)?;
            if erase || !remove.is_empty() {
                let emails = (!erase).then_some(remove);
                let removed = notices.remove_recipients(number, emails, &actor, now).await?;
                let total = notices.count_recipients(number).await?;
                match context.json() {
                    true => emit(&serde_json::json!({"removed": removed, "total": total}).to_string()),
                    false => emit(&format!("Removed {removed} recipients from {number}; it has {total}.")),
                }
                return Ok(ExitCode::SUCCESS);
            }
            let added = match &file {
                Some(path) => {
                    let text = read_text(path)?;
                    Some(notices.add_recipients_csv(number, text.as_bytes(), &actor, now).await?)
                }
                None => None,
            };
            let total = notices.count_recipients(number).await?;
            if context.json() {
                emit(&serde_json::json!({"added": added, "total": total}).to_string());
            } else {
                match added {
                    Some(n) => emit(&format!("Added {n} recipients to {number}; it has {total}.")),
                    None => emit(&format!("{number} has {total} recipients.")),
                }
            }
        }
        NoticeCommand::Status { incident, notice } => {
            let number = number(&incident)?;
            show(&doc_of(number, notice).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tocsin breaches`: the register, as a few lines a breach, JSON or CSV.
pub async fn breaches(context: &Context, as_csv: bool) -> anyhow::Result<ExitCode> {
    let Some(desk) = context.desk(false).await? else {
        emit("No incident involving personal data.");
        return Ok(ExitCode::SUCCESS);
    };
    let register = tocsin_server::services::breaches::register(&desk, context.now).await?;
    if as_csv {
        emit(tocsin_server::services::breaches::csv(&register).trim_end());
    } else if context.json() {
        emit(&serde_json::to_string(&register)?);
    } else if register.is_empty() {
        emit("No incident involving personal data.");
    } else {
        let told = |t: &tocsin_server::services::breaches::TellingDoc| {
            let mut text = t.state.clone();
            if let Some(at) = t.told_at {
                text.push_str(&format!(" at {at}"));
            } else if let Some(due) = t.due_at {
                text.push_str(&format!(" (deadline {due})"));
            }
            if let Some(why) = &t.why {
                text.push_str(&format!(": {}", printable(why)));
            }
            text
        };
        for b in &register {
            emit(&format!(
                "{} {} ({}, {}), aware since {}\n  authority: {}\n  data subjects: {}\n  customers: {}",
                b.incident,
                printable(&b.title),
                b.severity,
                b.status,
                b.aware_at,
                told(&b.authority),
                told(&b.data_subjects_told),
                told(&b.customers_told)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
