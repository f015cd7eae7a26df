//! An incident's notices: drafted from the plan's template, revised (each revision a new
//! version), approved as the plan asks, and sent, each step an event of the incident, so
//! that every version is kept on the audit chain and replays with the incident. Sending
//! meets the clocks that wait for the notice; one sent late says why.

use serde::Serialize;

use super::decide::{Rejection, conflict, invalid};
use super::event::IncidentEvent;
use super::runs::allowed;
use super::{Actor, Incident, Notice, Stamp};
use crate::clock::clocks;
use crate::notice::{check, required_sections};
use crate::plan::{NoticeKind, Plan};

/// The most notices one incident keeps (each revision counts once more).
pub const NOTICES_MAX: usize = 200;
/// The longest a notice's text is.
pub const BODY_MAX: usize = 64 * 1024;
/// The longest a subject is.
const SUBJECT_MAX: usize = 200;
/// The longest a reason for a delay is.
const REASON_MAX: usize = 2_000;

/// One notice of an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncidentNotice {
    /// Counting from 1 within the incident.
    pub number: u32,
    /// `customers`, `authority`, `data-subjects`, `status-update`, `summary` or an obligation.
    pub kind: String,
    pub subject: String,
    /// Markdown.
    pub body: String,
    /// Counting from 1; each revision is the next.
    pub version: u32,
    pub drafted: Stamp,
    /// The latest revision.
    pub revised: Option<Stamp>,
    /// Who approved which version.
    pub approvals: Vec<(u32, Stamp)>,
    pub sent: Option<Sent>,
}

/// How a notice went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub stamp: Stamp,
    pub version: u32,
    /// How many recipients it went to by email (none for a document filed by hand).
    pub recipients: u64,
    /// Why it went after its deadline.
    pub late: Option<String>,
}

impl IncidentNotice {
    /// Whether its current version is approved.
    pub fn approved(&self) -> bool {
        self.approvals.iter().any(|(v, _)| *v == self.version)
    }
}

/// What may be asked of a notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeCommand {
    /// A new notice of `kind`, as written (the server fills the plan's template in).
    Draft {
        kind: String,
        subject: String,
        body: String,
    },
    /// A new version of notice `notice`.
    Revise {
        notice: u32,
        subject: String,
        body: String,
    },
    Approve {
        notice: u32,
    },
    /// It went (or is handed to the outbox now) to `recipients` by email, or was filed by
    /// hand; `late_reason` says why, when it is after its deadline.
    Send {
        notice: u32,
        recipients: u64,
        late_reason: Option<String>,
    },
}

impl Incident {
    pub fn notice(&self, number: u32) -> Option<&IncidentNotice> {
        self.written_notices.iter().find(|n| n.number == number)
    }

    fn written_mut(&mut self, number: u32) -> Result<&mut IncidentNotice, super::Unapplicable> {
        self.written_notices
            .iter_mut()
            .find(|n| n.number == number)
            .ok_or(super::Unapplicable::NoNotice(number))
    }

    pub(super) fn apply_notice(&mut self, event: &IncidentEvent, stamp: Stamp) -> Result<(), super::Unapplicable> {
        match event {
            IncidentEvent::NoticeDrafted {
                notice,
                kind,
                subject,
                body,
            } => self.written_notices.push(IncidentNotice {
                number: *notice,
                kind: kind.clone(),
                subject: subject.clone(),
                body: body.clone(),
                version: 1,
                drafted: stamp,
                revised: None,
                approvals: Vec::new(),
                sent: None,
            }),
            IncidentEvent::NoticeRevised { notice, subject, body } => {
                let n = self.written_mut(*notice)?;
                n.subject.clone_from(subject);
                n.body.clone_from(body);
                n.version += 1;
                n.revised = Some(stamp);
            }
            IncidentEvent::NoticeApproved { notice, version } => {
                let n = self.written_mut(*notice)?;
                n.approvals.push((*version, stamp));
            }
            IncidentEvent::NoticeSent {
                notice,
                version,
                recipients,
                late,
            } => {
                let n = self.written_mut(*notice)?;
                n.sent = Some(Sent {
                    stamp: stamp.clone(),
                    version: *version,
                    recipients: *recipients,
                    late: late.clone(),
                });
                let note = format!("notice {notice}, version {version}");
                let kind = n.kind.clone();
                self.notices.push(Notice {
                    kind,
                    note: Some(note),
                    at: stamp.at,
                    by: stamp.by,
                    severity: self.severity.clone(),
                });
            }
            _ => {}
        }
        Ok(())
    }
}

fn notice_of(incident: &Incident, number: u32) -> Result<&IncidentNotice, Rejection> {
    incident.notice(number).ok_or_else(|| {
        invalid(format!(
            "{} has no notice {number}; its notices are 1 to {}",
            incident.number,
            incident.written_notices.len()
        ))
    })
}

fn subject_and_body(subject: &str, body: &str) -> Result<(String, String), Rejection> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > SUBJECT_MAX || subject.chars().any(char::is_control) {
        return Err(invalid(format!(
            "a notice's subject is one line of 1 to {SUBJECT_MAX} characters"
        )));
    }
    if body.trim().is_empty() {
        return Err(invalid("a notice's text is empty"));
    }
    if body.len() > BODY_MAX {
        return Err(invalid(format!(
            "a notice's text is {} bytes; at most {BODY_MAX} are kept",
            body.len()
        )));
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(invalid("a notice's text holds control characters"));
    }
    Ok((subject.to_owned(), body.replace("\r\n", "\n")))
}

/// The headings a notice of `kind` must have under `plan`.
pub fn required(plan: &Plan, kind: &NoticeKind) -> Vec<String> {
    match plan.notice(kind) {
        Some(def) => def.sections.clone(),
        None => required_sections(kind).iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The events a notice command makes, or why it is refused.
pub(super) fn decide_notice(
    incident: &Incident,
    plan: &Plan,
    command: &NoticeCommand,
    by: &Actor,
    at: jiff::Timestamp,
) -> Result<Vec<IncidentEvent>, Rejection> {
    let n = incident.number;
    if incident.status == super::Status::Dismissed {
        return Err(conflict(format!("{n} is dismissed; reopen it first")));
    }
    let unsent = |number: u32| -> Result<&IncidentNotice, Rejection> {
        let notice = notice_of(incident, number)?;
        match &notice.sent {
            Some(_) => Err(conflict(format!(
                "notice {number} of {n} was sent; a further notice is a new draft"
            ))),
            None => Ok(notice),
        }
    };
    match command {
        NoticeCommand::Draft { kind, subject, body } => {
            let kind = plan.find_notice_kind(kind).map_err(|e| invalid(e.to_string()))?;
            let (subject, body) = subject_and_body(subject, body)?;
            if incident.written_notices.len() >= NOTICES_MAX {
                return Err(conflict(format!(
                    "{n} has {NOTICES_MAX} notices, the most one incident keeps"
                )));
            }
            Ok(vec![IncidentEvent::NoticeDrafted {
                notice: u32::try_from(incident.written_notices.len() + 1).unwrap_or(u32::MAX),
                kind: kind.as_str().to_owned(),
                subject,
                body,
            }])
        }
        NoticeCommand::Revise { notice, subject, body } => {
            let current = unsent(*notice)?;
            let (subject, body) = subject_and_body(subject, body)?;
            if subject == current.subject && body == current.body {
                return Err(conflict(format!(
                    "notice {notice} of {n} already says this (version {})",
                    current.version
                )));
            }
            Ok(vec![IncidentEvent::NoticeRevised {
                notice: *notice,
                subject,
                body,
            }])
        }
        NoticeCommand::Approve { notice } => {
            let current = unsent(*notice)?;
            let kind = plan
                .find_notice_kind(&current.kind)
                .map_err(|e| invalid(e.to_string()))?;
            let approvers = plan.notice(&kind).map(|d| d.approve_by.as_slice()).unwrap_or_default();
            if approvers.is_empty() {
                return Err(conflict(format!(
                    "the plan asks no approval of {} notices; send it",
                    current.kind
                )));
            }
            if !allowed(approvers, incident, plan, by) {
                let who: Vec<String> = approvers.iter().map(ToString::to_string).collect();
                return Err(conflict(format!(
                    "{by} may not approve {} notices; the plan lets {} approve them",
                    current.kind,
                    who.join(" or ")
                )));
            }
            if current
                .approvals
                .iter()
                .any(|(v, s)| *v == current.version && s.by == *by)
            {
                return Err(conflict(format!(
                    "{by} approved version {} of notice {notice} already",
                    current.version
                )));
            }
            Ok(vec![IncidentEvent::NoticeApproved {
                notice: *notice,
                version: current.version,
            }])
        }
        NoticeCommand::Send {
            notice,
            recipients,
            late_reason,
        } => {
            let current = unsent(*notice)?;
            let kind = plan
                .find_notice_kind(&current.kind)
                .map_err(|e| invalid(e.to_string()))?;
            check(&current.body, &required(plan, &kind)).map_err(|e| invalid(format!("notice {notice}: {e}")))?;
            let def = plan.notice(&kind);
            if def.is_some_and(|d| !d.approve_by.is_empty()) && !current.approved() {
                let who: Vec<String> = def
                    .map(|d| d.approve_by.iter().map(ToString::to_string).collect())
                    .unwrap_or_default();
                return Err(conflict(format!(
                    "version {} of notice {notice} is not approved; the plan wants {} to approve {} notices",
                    current.version,
                    who.join(" or "),
                    current.kind
                )));
            }
            let late = late_clocks(incident, plan, current, at);
            let late_reason = match (late.is_empty(), late_reason) {
                (true, _) => None,
                (false, Some(reason)) if !reason.trim().is_empty() => {
                    if reason.chars().count() > REASON_MAX {
                        return Err(invalid(format!(
                            "the reason for the delay is longer than {REASON_MAX} characters"
                        )));
                    }
                    Some(reason.trim().to_owned())
                }
                (false, _) => {
                    return Err(invalid(format!(
                        "notice {notice} is late ({}); say why it was delayed (GDPR Art. 33(1) asks for the reasons)",
                        late.join(", ")
                    )));
                }
            };
            Ok(vec![IncidentEvent::NoticeSent {
                notice: *notice,
                version: current.version,
                recipients: *recipients,
                late: late_reason,
            }])
        }
    }
}

/// The clocks sending `notice` at `at` would meet after their deadline, as `name was due
/// TIME`.
fn late_clocks(incident: &Incident, plan: &Plan, notice: &IncidentNotice, at: jiff::Timestamp) -> Vec<String> {
    let before = clocks(incident, plan);
    let mut told = incident.clone();
    told.notices.push(Notice {
        kind: notice.kind.clone(),
        note: None,
        at,
        by: notice.drafted.by.clone(),
        severity: incident.severity.clone(),
    });
    let after = clocks(&told, plan);
    before
        .iter()
        .filter(|c| c.open && c.due_at.is_some_and(|due| due <= at))
        .filter(|c| after.iter().any(|a| a.id == c.id && a.met_at.is_some()))
        .map(|c| {
            format!(
                "{} was due {}",
                c.name,
                c.due_at.map(crate::utc_minute).unwrap_or_default()
            )
        })
        .collect()
}
