//! The notice editor: a notice's subject and Markdown text with a preview, what still keeps
//! it from going, its approval and its sending, the incident's recipients, and once sent,
//! how its emails went. Drafting starts on the incident page.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tocsin_core::incident::{IncidentNumber, required};
use tocsin_core::notice::{check, to_html};

use super::forms::ActForm;
use super::pages::after;
use super::{Layout, Signed, Submitted, WebError, page};
use crate::documents::WrittenNoticeDoc;
use crate::http::api::incident_number;
use crate::http::auth::{Allowed, NeedRead, NeedRespond};
use crate::http::error::ApiError;
use crate::phrases::time;
use crate::services::identity::Principal;

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    layout: Layout,
    incident: String,
    title: String,
    notice: WrittenNoticeDoc,
    /// What is known of it, in the plan's time zone: (element id, label, text).
    facts: Vec<(&'static str, &'static str, String)>,
    /// The text in the editor: the saved one, or what was just previewed.
    subject: String,
    body: String,
    /// The text as it will read, HTML made by [`to_html`] (raw HTML in it is escaped).
    preview: String,
    /// What keeps the text in the editor from being sent.
    incomplete: String,
    /// Whether the editor holds text that is not saved.
    unsaved: bool,
    recipients: u64,
    problem: String,
    may_respond: bool,
}

async fn notice_page<N>(
    allowed: &Allowed<N>,
    number: IncidentNumber,
    notice: u32,
    edited: Option<(String, String)>,
    problem: String,
) -> Result<NoticePage, ApiError> {
    let view = allowed.read().incident(number).await?;
    let plan = allowed.read().plan();
    let notices = allowed.state().notices();
    let missing = || ApiError::not_found(format!("{number} has no notice {notice}"));
    let found = view.incident.notice(notice).ok_or_else(missing)?;
    let doc = notices.doc(&view, notice).await?.ok_or_else(missing)?;
    let zone = plan.calendar().zone();
    let when = |by: &str, at| format!("by {by} at {}", time(at, zone));
    let mut facts = vec![("notice-drafted", "Drafted", when(&doc.drafted.by, doc.drafted.at))];
    if let Some(r) = &doc.revised {
        facts.push(("notice-revised", "Revised", when(&r.by, r.at)));
    }
    if doc.needs_approval {
        let approval = match doc.approvals.iter().find(|a| a.version == doc.version) {
            Some(a) => format!("version {} approved {}", doc.version, when(&a.by, a.at)),
            None => format!("version {} is not approved yet", doc.version),
        };
        facts.push(("notice-approval", "Approval", approval));
    }
    if let Some(s) = &doc.sent {
        let mut sent = format!("version {} {}", s.version, when(&s.by, s.at));
        if s.recipients > 0 {
            sent.push_str(&format!(" to {} recipients", s.recipients));
        }
        if let Some(late) = &s.late {
            sent.push_str(&format!("; late because {late}"));
        }
        facts.push(("notice-sent", "Sent", sent));
    }
    if let Some(d) = &doc.deliveries {
        let mut line = format!(
            "{} sent, {} pending ({} being retried), {} refused or given up",
            d.sent, d.pending, d.retrying, d.dead
        );
        for f in &d.failures {
            line.push_str(&format!("; {} ({}): {}", f.to, f.state, f.error));
        }
        facts.push(("notice-deliveries", "Emails", line));
    }
    let unsaved = edited.is_some();
    let (subject, body) = edited.unwrap_or_else(|| (found.subject.clone(), found.body.clone()));
    let sections = plan
        .find_notice_kind(&found.kind)
        .map(|k| required(&plan, &k))
        .unwrap_or_default();
    Ok(NoticePage {
        layout: Layout::new(allowed, format!("{number} notice {notice}"), "incidents"),
        incident: number.to_string(),
        title: view.incident.title.clone(),
        facts,
        preview: to_html(&body),
        incomplete: check(&body, &sections).err().map(|e| e.to_string()).unwrap_or_default(),
        subject,
        body,
        notice: doc,
        unsaved,
        recipients: notices.count_recipients(number).await?,
        problem,
        may_respond: allowed
            .caller
            .principal
            .permits(tocsin_core::identity::Permission::Respond),
    })
}

/// The editor of notice `notice`.
pub async fn show(
    Path((id, notice)): Path<(String, u32)>,
    Signed(allowed): Signed<NeedRead>,
) -> Result<Response, WebError> {
    let number = incident_number(&id)?;
    let shown = notice_page(&allowed, number, notice, None, String::new()).await?;
    Ok(page(StatusCode::OK, &shown))
}

/// Drafts a notice of the form's `kind`, and opens it in the editor.
pub async fn draft(Path(id): Path<String>, submitted: Submitted<NeedRespond, ActForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let result = async {
        let number = incident_number(&id)?;
        let kind = form.fields.get("kind").cloned().unwrap_or_default();
        let drafted = allowed
            .notices()
            .draft(number, &kind, &allowed.actor(), allowed.now)
            .await?;
        allowed.changed(number);
        Ok::<_, ApiError>(Redirect::to(&format!("/incidents/{number}/notices/{}", drafted.number)).into_response())
    }
    .await;
    match result {
        Ok(response) => response,
        Err(e) => after(&allowed, &id, Err(e)).await,
    }
}

/// What the editor's buttons do, as the form's `go` says: `preview` (nothing is saved),
/// `save` (the next version), `approve`, `send` (with `late_reason`).
pub async fn act(
    Path((id, notice)): Path<(String, u32)>,
    submitted: Submitted<NeedRespond, ActForm>,
) -> Result<Response, WebError> {
    let Submitted { allowed, form } = submitted;
    let number = incident_number(&id)?;
    let field = |name: &str| form.fields.get(name).cloned().unwrap_or_default();
    let notices = allowed.notices();
    let (actor, now) = (allowed.actor(), allowed.now);
    let done: Result<(), ApiError> = match field("go").as_str() {
        "preview" => {
            let shown = notice_page(
                &allowed,
                number,
                notice,
                Some((field("subject"), field("body"))),
                String::new(),
            )
            .await?;
            return Ok(page(StatusCode::OK, &shown));
        }
        "save" => notices
            .revise(number, notice, &field("subject"), &field("body"), &actor, now)
            .await
            .map(|_| ())
            .map_err(Into::into),
        "approve" if matches!(allowed.caller.principal, Principal::Token { .. }) => {
            Err(ApiError::forbidden("approving is a person's act"))
        }
        "approve" => notices
            .approve(number, notice, &actor, now)
            .await
            .map(|_| ())
            .map_err(Into::into),
        "send" => {
            let reason = Some(field("late_reason")).filter(|r| !r.trim().is_empty());
            notices
                .send(number, notice, reason, &actor, now)
                .await
                .map(|_| ())
                .map_err(Into::into)
        }
        other => return Err(ApiError::not_found(format!("no such thing to do with a notice: {other}")).into()),
    };
    match done {
        Ok(()) => {
            allowed.changed(number);
            Ok(Redirect::to(&format!("/incidents/{number}/notices/{notice}")).into_response())
        }
        Err(error) => {
            // A text that was being saved stays in the editor.
            let edited = (field("go") == "save").then(|| (field("subject"), field("body")));
            let shown = notice_page(&allowed, number, notice, edited, error.message).await?;
            Ok(page(error.status, &shown))
        }
    }
}

/// Adds recipients pasted as CSV on the editor (or the incident page), and goes back.
pub async fn recipients(Path(id): Path<String>, submitted: Submitted<NeedRespond, ActForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let csv = form.fields.get("csv").cloned().unwrap_or_default();
    let back = form.fields.get("back").and_then(|b| b.parse::<u32>().ok());
    let result = async {
        let number = incident_number(&id)?;
        allowed
            .notices()
            .add_recipients_csv(number, csv.as_bytes(), &allowed.actor(), allowed.now)
            .await?;
        Ok::<_, ApiError>(number)
    }
    .await;
    match (result, back) {
        (Ok(number), Some(notice)) => Redirect::to(&format!("/incidents/{number}/notices/{notice}")).into_response(),
        (Err(e), Some(notice)) => match incident_number(&id) {
            Ok(number) => match notice_page(&allowed, number, notice, None, e.message.clone()).await {
                Ok(shown) => page(e.status, &shown),
                Err(e) => WebError::from(e).into_response(),
            },
            Err(e) => WebError::from(e).into_response(),
        },
        (result, None) => after(&allowed, &id, result.map(|_| None)).await,
    }
}
