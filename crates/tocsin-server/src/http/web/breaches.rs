//! The breach register as a page (GDPR Art. 33(5)), with its CSV and JSON a link away.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Layout, Signed, WebError, page};
use crate::http::auth::NeedRead;
use crate::phrases::time;
use crate::services::breaches::TellingDoc;

struct Row {
    incident: String,
    title: String,
    severity: String,
    status: String,
    aware: String,
    summary: String,
    affected: String,
    remedial: Vec<String>,
    authority: String,
    subjects: String,
    customers: String,
}

#[derive(Template)]
#[template(path = "breaches.html")]
struct BreachesPage {
    layout: Layout,
    rows: Vec<Row>,
}

pub async fn show(Signed(allowed): Signed<NeedRead>) -> Result<Response, WebError> {
    let register = allowed.read().breaches(allowed.now).await?;
    let plan = allowed.read().plan();
    let zone = plan.calendar().zone();
    let told = |t: &TellingDoc| {
        let mut text = t.state.clone();
        if let Some(at) = t.told_at {
            text.push_str(&format!(" {}", time(at, zone)));
        } else if let Some(due) = t.due_at {
            text.push_str(&format!(" (deadline {})", time(due, zone)));
        }
        if let Some(why) = &t.why {
            text.push_str(&format!(": {why}"));
        }
        text
    };
    let count = |n: Option<u64>, what: &str| n.map_or_else(|| format!("{what}: not known"), |n| format!("{what}: {n}"));
    let rows = register
        .iter()
        .map(|b| Row {
            incident: b.incident.clone(),
            title: b.title.clone(),
            severity: b.severity.clone(),
            status: b.status.clone(),
            aware: time(b.aware_at, zone),
            summary: b.summary.clone(),
            affected: format!(
                "{}; {}",
                count(b.data_subjects, "people"),
                count(b.customers, "customers")
            ),
            remedial: b.remedial.clone(),
            authority: told(&b.authority),
            subjects: told(&b.data_subjects_told),
            customers: told(&b.customers_told),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &BreachesPage {
            layout: Layout::new(&allowed, "Breach register", "breaches"),
            rows,
        },
    ))
}
