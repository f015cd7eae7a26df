//! The integrations' pages: what each tool sent, what was refused and why, and the
//! alerts it raised with what the plan made of them, so that a person can see why an
//! alert did or did not open an incident.

use std::collections::HashMap;

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use tocsin_store::integrations::{AlertFilter, IntegrationRecord};
use tocsin_store::signals::SignalFilter;

use super::{Layout, Signed, WebError, encode, page};
use crate::http::auth::NeedRead;
use crate::http::error::ApiError;
use crate::phrases::time;

/// Alerts shown on an integration's page, the latest first.
const ALERTS_SHOWN: u32 = 50;

struct IntegrationRow {
    name: String,
    kind: String,
    key_hint: String,
    received: u64,
    accepted: u64,
    refused: u64,
    last: String,
    last_error: String,
    last_error_at: String,
}

impl IntegrationRow {
    fn of(r: &IntegrationRecord, zone: &jiff::tz::TimeZone) -> Self {
        let s = &r.stats;
        IntegrationRow {
            name: r.name.clone(),
            kind: r.kind.clone(),
            key_hint: r.key_hint.clone(),
            received: s.received,
            accepted: s.accepted,
            refused: s.refused,
            last: s
                .last
                .as_ref()
                .map_or_else(|| "never".into(), |(at, _)| time(*at, zone)),
            last_error: s.last_error.as_ref().map(|(_, why)| why.clone()).unwrap_or_default(),
            last_error_at: s.last_error.as_ref().map(|(at, _)| time(*at, zone)).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    layout: Layout,
    integrations: Vec<IntegrationRow>,
}

pub async fn list(signed: Signed<NeedRead>) -> Result<Response, WebError> {
    let reader = signed.0.read();
    let zone = reader.plan().calendar().zone().clone();
    let records = reader.integrations().await.map_err(ApiError::from)?;
    Ok(page(
        StatusCode::OK,
        &IntegrationsPage {
            layout: Layout::new(&signed.0, "Integrations", "integrations"),
            integrations: records.iter().map(|r| IntegrationRow::of(r, &zone)).collect(),
        },
    ))
}

struct AlertRow {
    status: &'static str,
    summary: String,
    fingerprint: String,
    severity: String,
    opened: String,
    updated: String,
    resolved: String,
    received: u64,
    url: String,
    /// What the plan made of its episode: the incident, or the rule's action.
    incident: String,
    outcome: String,
    signal_link: String,
}

#[derive(Template)]
#[template(path = "integration.html")]
struct IntegrationPage {
    layout: Layout,
    integration: IntegrationRow,
    created: String,
    created_by: String,
    payload: String,
    alerts: Vec<AlertRow>,
    raises_alerts: bool,
}

pub async fn show(signed: Signed<NeedRead>, Path(name): Path<String>) -> Result<Response, WebError> {
    let reader = signed.0.read();
    let zone = reader.plan().calendar().zone().clone();
    let records = reader.integrations().await.map_err(ApiError::from)?;
    let record = records
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no integration is named \"{name}\"")))?;
    let alerts = reader
        .alerts(&AlertFilter {
            source: Some(record.name.clone()),
            open: false,
            limit: ALERTS_SHOWN,
        })
        .await
        .map_err(ApiError::from)?;
    let ids: Vec<i64> = alerts.iter().filter_map(|a| a.signal).collect();
    let signals: HashMap<i64, _> = if ids.is_empty() {
        HashMap::new()
    } else {
        let filter = SignalFilter {
            limit: ids.len() as u32,
            ids,
            ..Default::default()
        };
        reader
            .signals(&filter)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|s| (s.id, s))
            .collect()
    };
    let alerts = alerts
        .iter()
        .map(|a| {
            let signal = a.signal.and_then(|id| signals.get(&id));
            let outcome = match signal {
                None => "not yet weighed".to_owned(),
                Some(s) => match (&s.incident, &s.suppressed) {
                    (Some(_), _) => String::new(),
                    (None, Some(why)) => format!("suppressed: {why}"),
                    (None, None) => format!("{} ({})", s.disposition.as_str(), s.severity),
                },
            };
            AlertRow {
                status: a.alert.status.as_str(),
                summary: a.alert.summary.clone(),
                fingerprint: a.alert.fingerprint.clone(),
                severity: a.alert.severity.clone().unwrap_or_default(),
                opened: time(a.opened_at, &zone),
                updated: time(a.updated_at, &zone),
                resolved: a.resolved_at.map(|at| time(at, &zone)).unwrap_or_default(),
                received: a.received,
                url: a
                    .alert
                    .url
                    .clone()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                    .unwrap_or_default(),
                incident: signal
                    .and_then(|s| s.incident)
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                outcome,
                signal_link: format!("/signals?key={}", encode(&a.signal_key())),
            }
        })
        .collect();
    let payload = record
        .stats
        .last
        .as_ref()
        .map(|(_, text)| pretty(text))
        .unwrap_or_default();
    Ok(page(
        StatusCode::OK,
        &IntegrationPage {
            layout: Layout::new(&signed.0, format!("Integration {}", record.name), "integrations"),
            integration: IntegrationRow::of(&record, &zone),
            created: time(record.created_at, &zone),
            created_by: record.created_by.clone(),
            payload,
            alerts,
            raises_alerts: record.kind != "sentry",
        },
    ))
}

/// A JSON payload indented to read; anything else as it came.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}
