//! The daily security audit as pages: the latest report (or one by its id) with each
//! check's outcome, findings and what changed since the report before, the reports kept,
//! and, for responders, a run now.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tocsin_core::daily_audit::{Outcome, Report};

use super::forms::ActForm;
use super::{Layout, Signed, Submitted, WebError, page};
use crate::http::auth::{NeedRead, NeedRespond};
use crate::http::error::ApiError;
use crate::phrases::time;

struct FindingRow {
    severity: String,
    title: String,
    detail: String,
    new: bool,
}

struct CheckRow {
    id: &'static str,
    title: &'static str,
    outcome: &'static str,
    class: &'static str,
    summary: String,
    findings: Vec<FindingRow>,
}

struct ReportRow {
    id: i64,
    started: String,
    by: String,
    title: String,
}

#[derive(Template)]
#[template(path = "audits.html")]
struct AuditsPage {
    layout: Layout,
    /// The report shown; 0 when none was kept yet.
    id: i64,
    started: String,
    by: String,
    title: String,
    changes: String,
    gone: Vec<String>,
    checks: Vec<CheckRow>,
    reports: Vec<ReportRow>,
    scheduled: String,
}

fn checks(report: &Report, plan: &tocsin_core::plan::Plan) -> Vec<CheckRow> {
    report
        .checks
        .iter()
        .map(|c| CheckRow {
            id: c.check.as_str(),
            title: c.check.title(),
            outcome: match c.outcome {
                Outcome::Pass => "passed",
                Outcome::Findings => "found",
                Outcome::NotConfigured => "not set up",
                Outcome::Failed => "could not run",
            },
            class: match c.outcome {
                Outcome::Pass => "state-up",
                Outcome::Findings | Outcome::Failed => "state-down",
                Outcome::NotConfigured => "quiet",
            },
            summary: c.summary.clone(),
            findings: c
                .findings
                .iter()
                .map(|f| FindingRow {
                    severity: tocsin_core::signal::severity_at(plan, f.tier),
                    title: f.title.clone(),
                    detail: f.detail.clone(),
                    new: report.changes.new.contains(&f.key),
                })
                .collect(),
        })
        .collect()
}

async fn show_report(allowed: &crate::http::auth::Reader, id: Option<i64>) -> Result<Response, WebError> {
    let plan = allowed.read().plan();
    let zone = plan.calendar().zone();
    let found = allowed.audits().report(id).await.map_err(ApiError::from)?;
    if id.is_some() && found.is_none() {
        return Err(ApiError::not_found("there is no such audit report").into());
    }
    let reports = allowed.audits().list(None, 30).await.map_err(ApiError::from)?;
    let scheduled = match plan.daily_audit() {
        Some(a) => format!(
            "It runs every day at {:02}:{:02} ({}).",
            a.at_minute / 60,
            a.at_minute % 60,
            plan.calendar().zone_name()
        ),
        None => "The plan has no [daily_audit] section: it runs only when asked.".to_owned(),
    };
    let mut shown = AuditsPage {
        layout: Layout::new(allowed, "Daily audit", "audit"),
        id: 0,
        started: String::new(),
        by: String::new(),
        title: String::new(),
        changes: String::new(),
        gone: Vec::new(),
        checks: Vec::new(),
        reports: reports
            .iter()
            .map(|r| ReportRow {
                id: r.id,
                started: time(r.started_at, zone),
                by: r.by.clone(),
                title: r.title.clone(),
            })
            .collect(),
        scheduled,
    };
    if let Some((summary, report)) = found {
        let c = &report.changes;
        shown.id = summary.id;
        shown.started = time(report.started_at, zone);
        shown.by = report.by.clone();
        shown.title = report.digest().0;
        shown.changes = if c.first {
            "This is the first report.".to_owned()
        } else {
            format!(
                "Since {}: {} new, {} gone, {} still there.",
                c.since.map(|t| time(t, zone)).unwrap_or_default(),
                c.new.len(),
                c.gone.len(),
                c.persisting
            )
        };
        shown.gone = c.gone.iter().map(|f| f.title.clone()).collect();
        shown.checks = checks(&report, &plan);
    }
    Ok(page(StatusCode::OK, &shown))
}

pub async fn latest(Signed(allowed): Signed<NeedRead>) -> Result<Response, WebError> {
    show_report(&allowed, None).await
}

pub async fn show(Signed(allowed): Signed<NeedRead>, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = id
        .parse::<i64>()
        .map_err(|_| ApiError::not_found("there is no such audit report"))?;
    show_report(&allowed, Some(id)).await
}

/// Runs the audit now, and shows its report.
pub async fn run(submitted: Submitted<NeedRespond, ActForm>) -> Response {
    let allowed = submitted.allowed;
    match allowed.audits().run(&allowed.actor()).await {
        Ok((id, _)) => Redirect::to(&format!("/daily-audit/{id}")).into_response(),
        Err(e) => WebError::from(ApiError::from(e)).into_response(),
    }
}
