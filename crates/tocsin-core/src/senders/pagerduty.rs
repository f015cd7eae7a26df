//! PagerDuty's Events API v2 events: a trigger, acknowledge or resolve of an alert keyed by
//! its `dedup_key`, checked as PagerDuty checks it, every problem named in its words.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Timestamp;
use crate::alert::{Alert, AlertStatus, sent_time};

const SUMMARY_MAX: usize = 1024;
const DEDUP_KEY_MAX: usize = 255;

/// One event, as senders post it.
#[derive(Debug, Deserialize)]
pub struct Enqueue {
    /// The integration's key.
    pub routing_key: Option<String>,
    event_action: Option<String>,
    dedup_key: Option<String>,
    payload: Option<Payload>,
    #[serde(default)]
    links: Vec<serde_json::Value>,
    #[serde(default)]
    images: Vec<serde_json::Value>,
    client: Option<String>,
    client_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Payload {
    summary: Option<String>,
    source: Option<String>,
    severity: Option<String>,
    timestamp: Option<String>,
    component: Option<String>,
    group: Option<String>,
    class: Option<String>,
    custom_details: Option<serde_json::Value>,
}

/// An event as an alert, or every problem it has, in PagerDuty's words. A trigger without
/// a `dedup_key` gets `new_key()`.
pub fn alert_of(event: Enqueue, now: Timestamp, new_key: impl FnOnce() -> String) -> Result<Alert, Vec<String>> {
    let mut errors = Vec::new();
    let status = match event.event_action.as_deref() {
        Some("trigger") => AlertStatus::Firing,
        Some("acknowledge") => AlertStatus::Acknowledged,
        Some("resolve") => AlertStatus::Resolved,
        Some(other) => {
            errors.push(format!(
                "'event_action' \"{other}\" is invalid: use trigger, acknowledge or resolve"
            ));
            AlertStatus::Firing
        }
        None => {
            errors.push("'event_action' is missing or blank".into());
            AlertStatus::Firing
        }
    };
    let dedup_key = event.dedup_key.filter(|k| !k.trim().is_empty());
    if dedup_key.as_ref().is_some_and(|k| k.chars().count() > DEDUP_KEY_MAX) {
        errors.push(format!("'dedup_key' is longer than {DEDUP_KEY_MAX} characters"));
    }
    if status != AlertStatus::Firing && dedup_key.is_none() {
        errors.push(format!(
            "'dedup_key' is required to {}",
            event.event_action.as_deref().unwrap_or("")
        ));
    }
    let mut labels = BTreeMap::new();
    let mut summary = String::new();
    let mut severity = None;
    let mut starts_at = now;
    let mut details = serde_json::Map::new();
    match (status, event.payload) {
        (AlertStatus::Firing, None) => errors.push("'payload' is missing or blank".into()),
        (_, None) => {}
        (_, Some(p)) => {
            match p.summary.filter(|s| !s.trim().is_empty()) {
                Some(s) if s.chars().count() > SUMMARY_MAX => {
                    errors.push(format!("'payload.summary' is longer than {SUMMARY_MAX} characters"));
                }
                Some(s) => summary = s,
                None if status == AlertStatus::Firing => errors.push("'payload.summary' is missing or blank".into()),
                None => {}
            }
            match p.source.filter(|s| !s.trim().is_empty()) {
                Some(s) => {
                    labels.insert("source".to_owned(), s);
                }
                None if status == AlertStatus::Firing => errors.push("'payload.source' is missing or blank".into()),
                None => {}
            }
            match p.severity.as_deref() {
                Some(word @ ("critical" | "error" | "warning" | "info")) => severity = Some(word.to_owned()),
                Some(other) => errors.push(format!(
                    "'payload.severity' \"{other}\" is invalid: use critical, error, warning or info"
                )),
                None if status == AlertStatus::Firing => errors.push("'payload.severity' is missing or blank".into()),
                None => {}
            }
            match sent_time(p.timestamp.as_deref(), "'payload.timestamp'") {
                Ok(Some(at)) => starts_at = at.min(now),
                Ok(None) => {}
                Err(e) => errors.push(e.0),
            }
            for (name, value) in [("component", p.component), ("group", p.group), ("class", p.class)] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    labels.insert(name.to_owned(), value);
                }
            }
            if let Some(custom) = p.custom_details {
                details.insert("custom_details".into(), custom);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (name, value) in [
        ("links", serde_json::Value::from(event.links)),
        ("images", serde_json::Value::from(event.images)),
    ] {
        if value.as_array().is_some_and(|a| !a.is_empty()) {
            details.insert(name.into(), value);
        }
    }
    if let Some(client) = event.client {
        details.insert("client".into(), client.into());
    }
    let fingerprint = dedup_key.unwrap_or_else(new_key);
    Ok(Alert {
        status,
        summary: if summary.is_empty() {
            fingerprint.clone()
        } else {
            summary
        },
        severity,
        group: None,
        labels,
        annotations: BTreeMap::new(),
        starts_at,
        ends_at: None,
        url: event.client_url.filter(|u| !u.is_empty()),
        details: (!details.is_empty()).then_some(serde_json::Value::Object(details)),
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Alert, Vec<String>> {
        alert_of(
            serde_json::from_str(json).unwrap(),
            Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(1),
            || "0123456789abcdef0123456789abcdef".into(),
        )
    }

    #[test]
    fn events_follow_pagerduty() {
        let a = read(
            r#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"DB down","source":"db1","severity":"critical","component":"postgres","custom_details":{"free":"0%"}},"client":"Zabbix","client_url":"https://zabbix/1"}"#,
        )
        .unwrap();
        assert_eq!(
            (a.status, a.summary.as_str(), a.severity.as_deref()),
            (AlertStatus::Firing, "DB down", Some("critical"))
        );
        assert_eq!(a.fingerprint.len(), 32, "a generated dedup key");
        assert_eq!(a.labels["source"], "db1");
        assert_eq!(a.details.unwrap()["custom_details"]["free"], "0%");
        let r = read(r#"{"routing_key":"k","event_action":"resolve","dedup_key":"db1/down"}"#).unwrap();
        assert_eq!((r.status, r.fingerprint.as_str()), (AlertStatus::Resolved, "db1/down"));

        let errors =
            read(r#"{"routing_key":"k","event_action":"trigger","payload":{"summary":"","severity":"fatal"}}"#)
                .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors.iter().any(|e| e.contains("'payload.severity' \"fatal\"")),
            "{errors:?}"
        );
        let errors = read(r#"{"routing_key":"k","event_action":"acknowledge"}"#).unwrap_err();
        assert!(errors[0].contains("'dedup_key' is required"), "{errors:?}");
        let long = format!(
            r#"{{"routing_key":"k","event_action":"resolve","dedup_key":"{}"}}"#,
            "x".repeat(256)
        );
        assert!(read(&long).unwrap_err()[0].contains("longer than 255"));
        assert!(read(r#"{"routing_key":"k","event_action":"page"}"#).unwrap_err()[0].contains("\"page\" is invalid"));
    }
}
