//! `[[notice]]`: how each kind of notice is written (a Markdown template with the
//! incident's fields), what it must say, who approves it, and the email channel that
//! takes it to the incident's recipients.

use super::actions::approvers;
use super::read::{Problems, Section, TableAt};
use super::response::ResponseRole;
use super::{Channel, ChannelKind, NoticeKind};
use crate::action::Approver;
use crate::diagnostic::Diagnostic;
use crate::notice::{NoticeTemplate, required_sections, sections};

/// How one kind of notice is written and sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeDef {
    pub kind: NoticeKind,
    /// The email subject (or the document's title).
    pub subject: NoticeTemplate,
    pub template: NoticeTemplate,
    /// The headings it must have, each with something under it.
    pub sections: Vec<String>,
    /// Who may approve it; empty: it goes without approval.
    pub approve_by: Vec<Approver>,
    /// The email channel that sends it to each of the incident's recipients; without one
    /// it is a document that people file themselves (the authority's form).
    pub channel: Option<String>,
}

/// What the notices refer to.
pub(super) struct Known<'a> {
    pub kinds: &'a dyn Fn(&str) -> Option<NoticeKind>,
    pub roles: &'a [ResponseRole],
    pub people: &'a [&'a str],
    pub channels: &'a [Channel],
}

/// `[[notice]]` tables: `kind`, `template`, and optional `subject`, `sections` (the
/// required headings, replacing the kind's defaults), `approve_by` and `channel`.
pub(super) fn notices(tables: &[TableAt<'_, '_>], known: &Known<'_>, problems: &mut Problems) -> Vec<NoticeDef> {
    let mut out: Vec<NoticeDef> = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("notice #{}", index + 1));
        let kind = s.str("kind", "\"customers\"", problems);
        let subject = s.opt_str("subject", problems);
        let template = s.str("template", "\"\"\"## What happened\\n…\"\"\"", problems);
        let given_sections = s.table_has("sections");
        let listed = s.str_list("sections", problems);
        let by = s.str_list("approve_by", problems);
        let channel = s.opt_str("channel", problems);
        s.finish(problems);
        let Some(kind_text) = kind else { continue };
        let Some(kind) = (known.kinds)(&kind_text.value) else {
            problems.push(
                Diagnostic::new(kind_text.span, format!("unknown notice kind \"{}\"", kind_text.value)).with_hint(
                    "kind is customers, authority, data-subjects, status-update, summary, or an obligation id",
                ),
            );
            continue;
        };
        let whose = format!("the notice {kind}");
        if out.iter().any(|o| o.kind == kind) {
            problems.push(Diagnostic::new(
                kind_text.span,
                format!("the plan has two [[notice]] tables of kind \"{kind}\""),
            ));
            continue;
        }
        let approve_by = approvers(
            by,
            &format!("approve_by of {whose}"),
            known.roles,
            known.people,
            problems,
        );
        let channel = channel.and_then(|c| match known.channels.iter().find(|k| k.name == c.value) {
            Some(found) if found.kind == ChannelKind::Email => Some(c.value),
            Some(found) => {
                problems.push(Diagnostic::new(
                    c.span,
                    format!(
                        "{whose} goes to recipients by email, but channel \"{}\" is a {} channel",
                        c.value,
                        found.kind.as_str()
                    ),
                ));
                None
            }
            None => {
                problems.push(
                    Diagnostic::new(c.span, format!("{whose} names unknown channel \"{}\"", c.value))
                        .with_hint("name an email [[channel]] of the plan"),
                );
                None
            }
        });
        let subject_template = match &subject {
            Some(text) => NoticeTemplate::parse(&text.value).map_err(|e| (text.span.clone(), e)),
            None => NoticeTemplate::parse("{{ incident.title }}").map_err(|e| (0..0, e)),
        };
        let body = template.as_ref().map(|t| (NoticeTemplate::parse(&t.value), t));
        let required: Vec<String> = if given_sections {
            listed.into_iter().map(|l| l.value).collect()
        } else {
            required_sections(&kind).iter().map(|s| (*s).to_owned()).collect()
        };
        match (subject_template, body) {
            (Ok(subject), Some((Ok(body), text))) => {
                let headings = sections(&text.value);
                for name in &required {
                    if !headings.iter().any(|h| h.heading.eq_ignore_ascii_case(name)) {
                        problems.push(
                            Diagnostic::new(
                                text.span.clone(),
                                format!(
                                    "the template of {whose} has no section \"{name}\", which the notice must have"
                                ),
                            )
                            .with_hint(format!("add a heading \"## {name}\" to the template")),
                        );
                    }
                }
                out.push(NoticeDef {
                    kind,
                    subject,
                    template: body,
                    sections: required,
                    approve_by,
                    channel,
                });
            }
            (subject, body) => {
                if let Err((span, e)) = subject {
                    problems.push(Diagnostic::new(span, format!("the subject of {whose}: {e}")));
                }
                if let Some((Err(e), text)) = body {
                    problems.push(Diagnostic::new(
                        text.span.clone(),
                        format!("the template of {whose}: {e}"),
                    ));
                }
            }
        }
    }
    out
}
