//! Alertmanager's webhook (`webhook_config`, payload version 4) as its receivers get it;
//! Grafana's has the same shape. What `POST /api/v2/alerts` carries is read by
//! [`crate::alert::postable`], which the event log's reader shares.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Unreadable, json};
use crate::Timestamp;
use crate::alert::{Alert, AlertStatus, BadAlert, label_fingerprint, label_set, sent_time, summary_of};

/// An Alertmanager webhook (`webhook_config`), payload version 4; Grafana's is the same
/// shape with fields of its own, which are ignored.
#[derive(Debug, Deserialize)]
struct Webhook {
    #[serde(rename = "groupKey")]
    group_key: Option<String>,
    alerts: Vec<WebhookAlert>,
}

#[derive(Debug, Deserialize)]
struct WebhookAlert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: Option<String>,
}

/// A webhook alert as tocsin keeps it. Firing alerts do not expire: Alertmanager sends
/// the resolution itself, and repeats firing ones only every `repeat_interval`.
fn webhook_alert(index: usize, w: WebhookAlert, group: Option<&str>, now: Timestamp) -> Result<Alert, BadAlert> {
    let what = format!("alerts[{index}]");
    let status = match w.status.as_str() {
        "firing" => AlertStatus::Firing,
        "resolved" => AlertStatus::Resolved,
        other => {
            return Err(BadAlert(format!(
                "{what}.status: \"{other}\" is neither firing nor resolved"
            )));
        }
    };
    let labels = label_set(w.labels, &what)?;
    let fingerprint = w
        .fingerprint
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| label_fingerprint(&labels));
    let starts_at = sent_time(w.starts_at.as_deref(), "startsAt").map_err(|e| BadAlert(format!("{what}: {e}")))?;
    let ends_at = sent_time(w.ends_at.as_deref(), "endsAt").map_err(|e| BadAlert(format!("{what}: {e}")))?;
    Ok(Alert {
        status,
        summary: summary_of(&labels, &w.annotations, &fingerprint),
        severity: labels.get("severity").cloned(),
        group: group.map(str::to_owned),
        starts_at: starts_at.unwrap_or(now),
        ends_at: match status {
            AlertStatus::Resolved => Some(ends_at.unwrap_or(now)),
            _ => None,
        },
        url: w.generator_url.filter(|u| !u.is_empty()),
        details: None,
        fingerprint,
        labels,
        annotations: w.annotations,
    })
}

/// A webhook's alerts, each in its group; a version other than 4 is read as version 4.
pub fn read_webhook_alerts(body: &[u8], now: Timestamp) -> Result<Vec<Alert>, Unreadable> {
    let hook: Webhook = json(body).map_err(|e| Unreadable::Invalid(format!("not an Alertmanager webhook: {e}")))?;
    let group = hook.group_key.as_deref().filter(|g| !g.is_empty());
    hook.alerts
        .into_iter()
        .enumerate()
        .map(|(i, w)| webhook_alert(i, w, group, now).map_err(|e| Unreadable::Invalid(e.0)))
        .collect()
}
