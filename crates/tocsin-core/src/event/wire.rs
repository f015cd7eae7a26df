//! Events as senders write them: one JSON object per event, with `ts`, `kind` and the
//! kind's fields. Fields tocsin does not know are allowed (senders add their own) and
//! ignored; a known field with a wrong value is refused, naming the line and the field.

use jiff::Timestamp;
use serde::Deserialize;

use super::{AuthEvent, AuthOutcome, AuthReason, Source};

/// A line that was refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{message}", .field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct Reject {
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

/// Every field of every kind, flat: a tagged enum would hide the path of a bad field.
#[derive(Deserialize)]
struct Wire {
    kind: String,
    ts: Timestamp,
    outcome: AuthOutcome,
    #[serde(default)]
    user: String,
    ip: String,
    #[serde(default = "unknown_method")]
    method: String,
    reason: Option<AuthReason>,
    service: String,
    user_agent: Option<String>,
    tenant: Option<String>,
    host: Option<String>,
    port: Option<u16>,
}

fn unknown_method() -> String {
    "unknown".to_owned()
}

/// Reads line `line` of an NDJSON stream (or one element of a JSON array) as an event.
pub fn parse_line(line: u64, text: &str) -> Result<AuthEvent, Reject> {
    let reject = |field: Option<String>, message: String| Reject { line, field, message };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let a: Wire = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // Broken JSON has no field to blame; serde_path_to_error then says "?" or ".".
        let field = (!inner.is_syntax() && !inner.is_eof() && path != "." && path != "?").then_some(path);
        reject(field, strip_position(&inner.to_string()))
    })?;
    deserializer
        .end()
        .map_err(|_| reject(None, "more than one JSON value on the line".into()))?;
    if a.kind != "auth" {
        return Err(reject(
            Some("kind".into()),
            format!("unknown kind \"{}\"; tocsin reads auth events so far", a.kind),
        ));
    }
    if a.ip.trim().is_empty() {
        return Err(reject(Some("ip".into()), "is empty".into()));
    }
    if a.service.trim().is_empty() {
        return Err(reject(Some("service".into()), "is empty".into()));
    }
    let reason = a.reason.unwrap_or(match a.outcome {
        AuthOutcome::Success => AuthReason::Ok,
        AuthOutcome::Failure => AuthReason::Other,
    });
    Ok(AuthEvent {
        at: a.ts,
        outcome: a.outcome,
        user: a.user,
        source: Source::parse(a.ip.trim()),
        method: a.method,
        reason,
        service: a.service,
        user_agent: a.user_agent,
        tenant: a.tenant,
        host: a.host,
        port: a.port,
    })
}

/// serde_json ends its messages with "at line 1 column 40"; the line is ours to name.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auth_event_is_read_and_fields_tocsin_does_not_know_are_ignored() {
        let e = parse_line(
            1,
            r#"{"ts":"2026-01-05T00:00:04Z","kind":"auth","outcome":"failure","ip":"192.0.2.1","user":"admin","service":"sshd","user_agent":"SSH-2.0-Go","method":"password","reason":"invalid_user","user_valid":false,"pid":1835,"port":44732}"#,
        )
        .unwrap();
        assert_eq!(e.source, Source::parse("192.0.2.1"));
        assert_eq!(
            (e.outcome, e.reason, e.port),
            (AuthOutcome::Failure, AuthReason::InvalidUser, Some(44732))
        );
        assert_eq!(e.user_agent.as_deref(), Some("SSH-2.0-Go"));
    }

    #[test]
    fn a_bad_line_names_its_line_and_field() {
        let cases = [
            (
                r#"{"kind":"auth","ts":"yesterday","outcome":"failure","ip":"1.2.3.4","service":"x"}"#,
                Some("ts"),
            ),
            (
                r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"maybe","ip":"1.2.3.4","service":"x"}"#,
                Some("outcome"),
            ),
            (
                r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"failure","ip":"1.2.3.4","service":"x","port":70000}"#,
                Some("port"),
            ),
            (
                r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"failure","ip":" ","service":"x"}"#,
                Some("ip"),
            ),
            (
                r#"{"kind":"telepathy","ts":"2026-01-05T00:00:04Z","outcome":"failure","ip":"1.2.3.4","service":"x"}"#,
                Some("kind"),
            ),
            (r#"{"ts":"2026-01-05T00:00:04Z"}"#, None),
            (r#"{"kind":"auth","#, None),
            (
                r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"failure","ip":"1.2.3.4","service":"x"} {}"#,
                None,
            ),
        ];
        for (text, field) in cases {
            let reject = parse_line(7, text).unwrap_err();
            assert_eq!(reject.line, 7);
            assert_eq!(reject.field.as_deref(), field, "{text}: {reject}");
            assert!(reject.to_string().starts_with("line 7: "), "{reject}");
            assert!(!reject.message.contains("at line 1"), "{reject}");
        }
        let missing = parse_line(
            2,
            r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"failure","service":"x"}"#,
        )
        .unwrap_err();
        assert!(missing.message.contains("missing field `ip`"), "{missing}");
    }
}
