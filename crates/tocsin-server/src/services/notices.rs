//! An incident's notices: drafted from the plan's template and the incident's facts,
//! revised, approved and sent (the notifier then hands one email per recipient to the
//! outbox); the incident's recipients; the printable document; how delivery stands.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::{
    Actor, Command, IncidentEvent, IncidentNotice, IncidentNumber, NoticeCommand, Rejection, RejectionKind, RunState,
    StepState, required,
};
use tocsin_core::notice::{FIELDS, to_html};
use tocsin_core::plan::{NoticeKind, Plan};
use tocsin_store::outbox::Tally;
use tocsin_store::recipients::{NewRecipient, NoticeRecipient};

use crate::documents::WrittenNoticeDoc;
use crate::phrases::time;
use crate::{Desk, DeskError, IncidentView};

/// The most recipients one incident has.
pub const RECIPIENTS_MAX: u64 = 100_000;
/// The longest recipient's name.
const NAME_MAX: usize = 200;

fn refused(message: impl Into<String>) -> DeskError {
    DeskError::Rejected(Rejection {
        kind: RejectionKind::Invalid,
        message: message.into(),
    })
}

/// The key prefix of the emails of one notice in the outbox.
pub fn outbox_prefix(number: IncidentNumber, notice: u32) -> String {
    format!("notice:{number}:{notice}:")
}

#[derive(Clone)]
pub struct Notices {
    desk: Desk,
    store: Arc<dyn tocsin_store::Store>,
}

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notices").finish_non_exhaustive()
    }
}

impl Notices {
    pub fn new(desk: Desk, store: Arc<dyn tocsin_store::Store>) -> Self {
        Notices { desk, store }
    }

    /// Drafts a notice of `kind` from the plan's template (or, where the plan has none,
    /// from the sections the kind must have, each a blank), filled in from the incident.
    pub async fn draft(
        &self,
        number: IncidentNumber,
        kind: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<IncidentNotice, DeskError> {
        let plan = self.desk.plan();
        let found = plan.find_notice_kind(kind).map_err(|e| refused(e.to_string()))?;
        let view = self.desk.incident_shared(number).await?;
        let facts = facts(&view, &plan);
        let (subject, body) = match plan.notice(&found) {
            Some(def) => (def.subject.render(&facts), def.template.render(&facts)),
            None => (
                format!("{}: {}", view.incident.number, view.incident.title),
                blank_template(&plan, &found),
            ),
        };
        let command = Command::Notice(NoticeCommand::Draft {
            kind: found.as_str().to_owned(),
            subject: subject.trim().to_owned(),
            body,
        });
        let changed = self.desk.act(number, &command, by, None, now).await?;
        Ok(changed
            .incident
            .written_notices
            .last()
            .cloned()
            .expect("the draft added a notice"))
    }

    /// Revises notice `notice` into its next version.
    pub async fn revise(
        &self,
        number: IncidentNumber,
        notice: u32,
        subject: &str,
        body: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<IncidentNotice, DeskError> {
        let command = Command::Notice(NoticeCommand::Revise {
            notice,
            subject: subject.to_owned(),
            body: body.to_owned(),
        });
        self.changed(number, notice, &command, by, now).await
    }

    pub async fn approve(
        &self,
        number: IncidentNumber,
        notice: u32,
        by: &Actor,
        now: Timestamp,
    ) -> Result<IncidentNotice, DeskError> {
        self.changed(
            number,
            notice,
            &Command::Notice(NoticeCommand::Approve { notice }),
            by,
            now,
        )
        .await
    }

    /// Sends notice `notice`: to each of the incident's recipients by the email channel of
    /// its kind, or, without one, records it as filed. The emails go from the outbox.
    pub async fn send(
        &self,
        number: IncidentNumber,
        notice: u32,
        late_reason: Option<String>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<IncidentNotice, DeskError> {
        let plan = self.desk.plan();
        let view = self.desk.incident_shared(number).await?;
        let written = view
            .incident
            .notice(notice)
            .ok_or_else(|| refused(format!("{number} has no notice {notice}")))?;
        let kind = plan
            .find_notice_kind(&written.kind)
            .map_err(|e| refused(e.to_string()))?;
        let recipients = match plan.notice(&kind).and_then(|d| d.channel.as_ref()) {
            Some(channel) => {
                let count = self.store.count_recipients(number).await?;
                if count == 0 {
                    return Err(refused(format!(
                        "{number} has no recipients to email notice {notice} to on {channel}; add them first (tocsin notice recipients {number} FILE.csv)"
                    )));
                }
                count
            }
            None => 0,
        };
        let command = Command::Notice(NoticeCommand::Send {
            notice,
            recipients,
            late_reason,
        });
        self.changed(number, notice, &command, by, now).await
    }

    async fn changed(
        &self,
        number: IncidentNumber,
        notice: u32,
        command: &Command,
        by: &Actor,
        now: Timestamp,
    ) -> Result<IncidentNotice, DeskError> {
        let changed = self.desk.act(number, command, by, None, now).await?;
        Ok(changed.incident.notice(notice).cloned().expect("the notice changed"))
    }

    /// Adds recipients from CSV (`email[,name]` per line, an optional header naming
    /// `email`); the error names the line. How many were new.
    pub async fn add_recipients_csv(
        &self,
        number: IncidentNumber,
        csv_text: &[u8],
        by: &Actor,
        now: Timestamp,
    ) -> Result<u64, DeskError> {
        let list = read_csv(csv_text).map_err(refused)?;
        self.add_recipients(number, list, by, now).await
    }

    /// Adds recipients, each checked; an address on the list already is kept once.
    pub async fn add_recipients(
        &self,
        number: IncidentNumber,
        list: Vec<NewRecipient>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<u64, DeskError> {
        // The incident must exist.
        self.desk.incident_shared(number).await?;
        if list.is_empty() {
            return Err(refused("the list holds no recipient"));
        }
        let mut checked = Vec::with_capacity(list.len());
        for (i, r) in list.into_iter().enumerate() {
            let email = address(&r.email).map_err(|e| refused(format!("recipient {}: {e}", i + 1)))?;
            let name = r.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
            if name
                .as_ref()
                .is_some_and(|n| n.chars().count() > NAME_MAX || n.chars().any(char::is_control))
            {
                return Err(refused(format!(
                    "recipient {}: a name is one line of at most {NAME_MAX} characters",
                    i + 1
                )));
            }
            checked.push(NewRecipient { email, name });
        }
        let held = self.store.count_recipients(number).await?;
        if held + checked.len() as u64 > RECIPIENTS_MAX {
            return Err(refused(format!(
                "{number} has {held} recipients; with {} more it would pass {RECIPIENTS_MAX}",
                checked.len()
            )));
        }
        // The chain keeps how many and their digest, not the addresses (personal data
        // that must be erasable).
        let mut digest = Sha256::new();
        for r in &checked {
            digest.update(r.email.as_bytes());
            digest.update(b"\n");
        }
        let data = json!({
            "incident": number.to_string(),
            "given": checked.len(),
            "sha256": hex::encode(digest.finalize()),
        });
        let entry = EntryDraft::system("notice_recipients_added", by, now, data);
        Ok(self.store.add_recipients(number, &checked, now, entry).await?)
    }

    /// Removes recipients by address, or (`None`) erases the incident's whole list: the
    /// chain records how many, not who. A notice already sent is not called back.
    pub async fn remove_recipients(
        &self,
        number: IncidentNumber,
        emails: Option<Vec<String>>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<u64, DeskError> {
        self.desk.incident_shared(number).await?;
        let emails = emails
            .map(|list| list.iter().map(|e| address(e)).collect::<Result<Vec<_>, _>>())
            .transpose()
            .map_err(refused)?;
        if emails.as_ref().is_some_and(Vec::is_empty) {
            return Err(refused("name the addresses to remove, or erase the whole list"));
        }
        let data = json!({
            "incident": number.to_string(),
            "removed": emails.as_ref().map_or_else(|| json!("all"), |e| json!(e.len())),
        });
        let entry = EntryDraft::system("notice_recipients_removed", by, now, data);
        Ok(self.store.remove_recipients(number, emails.as_deref(), entry).await?)
    }

    pub async fn recipients(
        &self,
        number: IncidentNumber,
        after: i64,
        limit: u32,
    ) -> Result<Vec<NoticeRecipient>, DeskError> {
        Ok(self.store.recipients(number, after, limit).await?)
    }

    pub async fn count_recipients(&self, number: IncidentNumber) -> Result<u64, DeskError> {
        Ok(self.store.count_recipients(number).await?)
    }

    /// How the emails of notice `notice` stand in the outbox.
    pub async fn deliveries(&self, number: IncidentNumber, notice: u32) -> Result<Tally, DeskError> {
        Ok(self.store.tally(&outbox_prefix(number, notice), 20).await?)
    }

    /// Notice `notice` of `view` as a document, with how its emails went once it was sent
    /// to recipients; `None` when the incident has no such notice.
    pub async fn doc(&self, view: &IncidentView, notice: u32) -> Result<Option<WrittenNoticeDoc>, DeskError> {
        let Some(found) = view.incident.notice(notice) else {
            return Ok(None);
        };
        let deliveries = match &found.sent {
            Some(sent) if sent.recipients > 0 => Some(self.deliveries(view.incident.number, notice).await?),
            _ => None,
        };
        Ok(Some(WrittenNoticeDoc::of(
            &view.incident,
            found,
            &self.desk.plan(),
            deliveries.as_ref(),
        )))
    }
}

/// A notice as a document to print or paste: its Markdown, and an HTML page.
pub fn document(number: IncidentNumber, notice: &IncidentNotice, organization: &str) -> (String, String) {
    let markdown = format!("{}\n\n{}", notice.subject, notice.body);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:42em;margin:2em auto;line-height:1.5}}\
         footer{{color:#555;font-size:.85em;border-top:1px solid #ccc;margin-top:2em}}</style></head>\
         <body><h1>{title}</h1>{body}<footer>{organization} · {number} · notice {n}, version {v}</footer></body></html>",
        title = tocsin_notify::escape(&notice.subject),
        body = to_html(&notice.body),
        organization = tocsin_notify::escape(organization),
        n = notice.number,
        v = notice.version,
    );
    (markdown, html)
}

/// A template for a kind the plan writes none for: its required sections, each a blank.
fn blank_template(plan: &Plan, kind: &NoticeKind) -> String {
    let sections = required(plan, kind);
    if sections.is_empty() {
        return "[[ what to say ]]\n".to_owned();
    }
    sections
        .iter()
        .map(|s| format!("## {s}\n\n[[ {} ]]\n", s.to_lowercase()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a notice's template is filled from: each of [`FIELDS`].
pub fn facts(view: &IncidentView, plan: &Plan) -> BTreeMap<&'static str, String> {
    let i = &view.incident;
    let zone = plan.calendar().zone();
    let count = |n: Option<u64>| n.map_or_else(|| "not known yet".to_owned(), |n| n.to_string());
    let list = |items: Vec<String>| match items.is_empty() {
        true => "- none yet".to_owned(),
        false => items.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n"),
    };
    let steps = i
        .steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .map(|s| s.name.clone())
        .collect();
    let actions = i
        .runs
        .iter()
        .filter(|r| r.state == RunState::Succeeded)
        .map(|r| {
            let name = plan
                .action(r.action.as_str())
                .map_or(r.action.as_str(), |a| a.name.as_str());
            match r.finished_at {
                Some(at) => format!("{name} ({})", time(at, zone)),
                None => name.to_owned(),
            }
        })
        .collect();
    let timeline = view
        .timeline
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                IncidentEvent::Declared(_)
                    | IncidentEvent::SeverityChanged { .. }
                    | IncidentEvent::StepCompleted { .. }
                    | IncidentEvent::Resolved { .. }
                    | IncidentEvent::Reopened { .. }
            )
        })
        .map(|e| format!("{}: {}", time(e.at, zone), crate::phrases::event(&e.event)))
        .collect();
    let organization = plan.organization();
    let contact = organization
        .privacy_contact
        .clone()
        .or_else(|| organization.security_contact.clone())
        .unwrap_or_else(|| "[[ the contact point ]]".to_owned());
    let facts = BTreeMap::from([
        ("incident.id", i.number.to_string()),
        ("incident.title", i.title.clone()),
        (
            "incident.summary",
            match i.summary.trim() {
                "" => "[[ what happened, in a few sentences ]]".to_owned(),
                text => text.to_owned(),
            },
        ),
        ("incident.severity", i.severity.to_string()),
        ("incident.status", i.status.to_string()),
        ("incident.detected_at", time(i.detected_at, zone)),
        ("incident.aware_at", time(i.aware_at, zone)),
        ("incident.declared_at", time(i.declared_at, zone)),
        (
            "incident.resolved_at",
            i.resolved_at.map_or_else(|| "not yet".to_owned(), |at| time(at, zone)),
        ),
        ("incident.affected_customers", count(i.affected_customers)),
        ("incident.affected_data_subjects", count(i.affected_data_subjects)),
        (
            "incident.personal_data",
            if i.personal_data { "yes" } else { "no" }.to_owned(),
        ),
        ("incident.steps_done", list(steps)),
        ("incident.actions", list(actions)),
        ("incident.timeline", list(timeline)),
        ("organization.name", organization.name.clone()),
        ("contact", contact),
    ]);
    debug_assert!(
        FIELDS.iter().all(|(f, _)| facts.contains_key(f)),
        "every field has a fact"
    );
    facts
}

/// An email address, checked and lowercased: one `@`, something on each side, a dot in
/// the domain, no spaces or control characters, at most 254 characters.
pub fn address(text: &str) -> Result<String, String> {
    let text = text.trim();
    let ok = text.len() <= 254
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        && match text.rsplit_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !local.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    match ok {
        true => Ok(text.to_lowercase()),
        false => Err(format!(
            "\"{}\" is not an email address",
            text.chars().take(80).collect::<String>()
        )),
    }
}

/// Recipients from CSV: `email` and an optional `name` per record; a first record whose
/// first field is `email` is a header. The error names the line.
pub fn read_csv(text: &[u8]) -> Result<Vec<NewRecipient>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let mut out = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(index as u64 + 1, csv::Position::line);
            format!("line {line} of the recipient list: {}", e.kind_message())
        })?;
        let line = record.position().map_or(index as u64 + 1, csv::Position::line);
        let email = record.get(0).unwrap_or_default();
        if index == 0 && email.eq_ignore_ascii_case("email") {
            continue;
        }
        if record.len() > 2 {
            return Err(format!(
                "line {line} of the recipient list has {} fields; write email,name",
                record.len()
            ));
        }
        if email.is_empty() && record.len() == 1 {
            continue;
        }
        let email = address(email).map_err(|e| format!("line {line} of the recipient list: {e}"))?;
        let name = record.get(1).map(str::to_owned).filter(|n| !n.is_empty());
        out.push(NewRecipient { email, name });
    }
    Ok(out)
}

trait KindMessage {
    fn kind_message(&self) -> String;
}

impl KindMessage for csv::Error {
    fn kind_message(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "it is not UTF-8 text".to_owned(),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipient_list_is_read_with_its_header_names_and_quotes_and_a_bad_line_is_named() {
        let list = read_csv(b"email,name\nJo@Example.com,\"Smith, Jo\"\n\nana@example.org\n").unwrap();
        assert_eq!(
            list,
            [
                NewRecipient {
                    email: "jo@example.com".into(),
                    name: Some("Smith, Jo".into())
                },
                NewRecipient {
                    email: "ana@example.org".into(),
                    name: None
                },
            ]
        );
        assert_eq!(
            read_csv(b"jo@example.com\nnot-an-address,Bo\n").unwrap_err(),
            "line 2 of the recipient list: \"not-an-address\" is not an email address"
        );
        assert_eq!(
            read_csv(b"a@b.co,x,y\n").unwrap_err(),
            "line 1 of the recipient list has 3 fields; write email,name"
        );
        assert_eq!(
            read_csv(b"a@b.co\n\xff@b.co\n").unwrap_err(),
            "line 2 of the recipient list: it is not UTF-8 text"
        );
        for bad in ["a@b", "@b.co", "a b@c.co", "a@.co", "a@b.co.", "<a@b.co>"] {
            assert!(address(bad).is_err(), "{bad}");
        }
    }
}
