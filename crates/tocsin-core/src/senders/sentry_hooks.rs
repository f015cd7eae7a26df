//! Sentry's webhooks (an internal integration's issue alerts, metric alerts and issue
//! changes): a delivery's document in, the alert it tells of out. The signature and the
//! time of the delivery are the server's to check.

use serde_json::Value;

use super::Unreadable;
use crate::Timestamp;
use crate::alert::{Alert, AlertStatus};

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Sentry's level as one of the four severity words.
fn severity_of(level: Option<&Value>) -> Option<String> {
    let word = match level?.as_str()? {
        "fatal" => "critical",
        "error" => "error",
        "warning" => "warning",
        "info" | "debug" | "sample" => "info",
        _ => return None,
    };
    Some(word.to_owned())
}

fn started(value: Option<&Value>, now: Timestamp) -> Timestamp {
    value
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map_or(now, |at| at.min(now))
}

/// The alert a delivery tells of, or none for resources and actions that raise none.
pub fn alert_of(resource: &str, doc: &Value, now: Timestamp) -> Result<Option<Alert>, Unreadable> {
    let action = doc.get("action").and_then(Value::as_str).unwrap_or("");
    let data = doc
        .get("data")
        .ok_or_else(|| Unreadable::invalid("the delivery has no data"))?;
    match resource {
        "event_alert" => {
            let event = data
                .get("event")
                .ok_or_else(|| Unreadable::invalid("data.event is missing"))?;
            let issue =
                text(event.get("issue_id")).ok_or_else(|| Unreadable::invalid("data.event.issue_id is missing"))?;
            let rule = text(data.get("triggered_rule"));
            let summary = text(event.get("title"))
                .or_else(|| text(event.get("message")))
                .unwrap_or_else(|| format!("Sentry issue {issue}"));
            let mut alert = Alert::new(format!("issue:{issue}"), AlertStatus::Firing, summary, now);
            alert.severity = severity_of(event.get("level"));
            alert.starts_at = started(event.get("datetime"), now);
            alert.url = text(event.get("web_url"));
            alert.labels.insert("issue_id".into(), issue);
            if let Some(rule) = rule {
                alert.labels.insert("rule".into(), rule);
            }
            if let Some(culprit) = text(event.get("culprit")) {
                alert.annotations.insert("culprit".into(), culprit);
            }
            Ok(Some(alert))
        }
        "metric_alert" => {
            let status = match action {
                "critical" | "warning" => AlertStatus::Firing,
                "resolved" => AlertStatus::Resolved,
                other => {
                    return Err(Unreadable::invalid(format!(
                        "metric alert action \"{other}\" is not critical, warning or resolved"
                    )));
                }
            };
            let incident = data
                .get("metric_alert")
                .ok_or_else(|| Unreadable::invalid("data.metric_alert is missing"))?;
            let id = text(incident.get("id")).ok_or_else(|| Unreadable::invalid("data.metric_alert.id is missing"))?;
            let rule = incident.get("alert_rule").and_then(|r| text(r.get("name")));
            let summary = text(data.get("description_title"))
                .or_else(|| text(incident.get("title")))
                .or_else(|| rule.clone())
                .unwrap_or_else(|| format!("Sentry metric alert {id}"));
            let mut alert = Alert::new(format!("metric:{id}"), status, summary, now);
            if status == AlertStatus::Firing {
                alert.severity = Some(action.to_owned());
            }
            alert.starts_at = started(incident.get("date_started"), now);
            alert.url = text(data.get("web_url"));
            if let Some(rule) = rule {
                alert.labels.insert("rule".into(), rule);
            }
            if let Some(description) = text(data.get("description_text")) {
                alert.annotations.insert("description".into(), description);
            }
            Ok(Some(alert))
        }
        "issue" => {
            let status = match action {
                "created" | "unresolved" => AlertStatus::Firing,
                "resolved" | "archived" | "ignored" => AlertStatus::Resolved,
                _ => return Ok(None),
            };
            let issue = data
                .get("issue")
                .ok_or_else(|| Unreadable::invalid("data.issue is missing"))?;
            let id = text(issue.get("id")).ok_or_else(|| Unreadable::invalid("data.issue.id is missing"))?;
            let summary = text(issue.get("title")).unwrap_or_else(|| format!("Sentry issue {id}"));
            let mut alert = Alert::new(format!("issue:{id}"), status, summary, now);
            alert.severity = severity_of(issue.get("level"));
            alert.starts_at = started(issue.get("firstSeen"), now);
            alert.url = text(issue.get("web_url")).or_else(|| text(issue.get("permalink")));
            alert.labels.insert("issue_id".into(), id);
            if let Some(short) = text(issue.get("shortId")) {
                alert.labels.insert("short_id".into(), short);
            }
            Ok(Some(alert))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn issue_and_metric_alerts_are_alerts_keyed_by_issue_and_incident() {
        let issue_alert = json!({"action": "triggered", "data": {
            "event": {"issue_id": "1117540176", "title": "ReferenceError: heck is not defined",
                      "level": "error", "culprit": "?(<anonymous>)", "datetime": "2019-08-19T21:06:17.677000Z",
                      "web_url": "https://sentry.example/organizations/o/issues/1117540176/events/e4874d66/"},
            "triggered_rule": "Very Important Alert Rule!"}});
        let alert = alert_of("event_alert", &issue_alert, now()).unwrap().unwrap();
        assert_eq!(alert.fingerprint, "issue:1117540176");
        assert_eq!(
            (alert.status, alert.severity.as_deref()),
            (AlertStatus::Firing, Some("error"))
        );
        assert_eq!(alert.labels["rule"], "Very Important Alert Rule!");
        assert_eq!(alert.starts_at, "2019-08-19T21:06:17.677Z".parse().unwrap());

        let resolved_issue = json!({"action": "resolved", "data": {"issue": {"id": "1117540176", "title": "t"}}});
        let alert = alert_of("issue", &resolved_issue, now()).unwrap().unwrap();
        assert_eq!(
            (alert.fingerprint.as_str(), alert.status),
            ("issue:1117540176", AlertStatus::Resolved)
        );
        let assigned = json!({"action": "assigned", "data": {"issue": {"id": "1"}}});
        assert_eq!(alert_of("issue", &assigned, now()), Ok(None));

        let metric = json!({"action": "critical", "data": {"description_title": "Critical: Too many errors",
            "metric_alert": {"id": "4", "alert_rule": {"name": "Too many errors"}}, "web_url": "https://sentry.example/alerts/1/"}});
        let alert = alert_of("metric_alert", &metric, now()).unwrap().unwrap();
        assert_eq!(
            (alert.fingerprint.as_str(), alert.severity.as_deref()),
            ("metric:4", Some("critical"))
        );
        let bad = json!({"action": "exploded", "data": {"metric_alert": {"id": "4"}}});
        assert!(
            alert_of("metric_alert", &bad, now())
                .unwrap_err()
                .to_string()
                .contains("exploded")
        );
        assert!(
            alert_of("event_alert", &json!({"data": {"event": {}}}), now())
                .unwrap_err()
                .to_string()
                .contains("issue_id")
        );
        assert_eq!(alert_of("installation", &json!({"data": {}}), now()), Ok(None));
    }
}
