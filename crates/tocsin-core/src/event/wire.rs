//! Events as senders write them: one flat JSON object per event, with `ts`, `kind` and the
//! kind's fields. Fields tocsin does not know are allowed (senders add their own) and
//! ignored; a known field that is missing or wrong is refused, naming the line and the field.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{
    AlertEvent, AuthEvent, AuthOutcome, AuthReason, CustomEvent, Decision, ErrorEvent, Event, Exception,
    HeartbeatEvent, Kind, Level, MAX_FIELD_BYTES, MAX_LINE_BYTES, ProbeEvent, RateLimitEvent, RequestEvent, Source,
    User, VaultEvent, VaultOutcome,
};

/// A line that was refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {}{message}", .field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct Reject {
    pub line: u64,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Deserialize)]
struct Head {
    kind: String,
}

/// The kind's own fields, as read; `kind` is checked against the kind being read.
trait Wire: DeserializeOwned {
    fn kind(&self) -> &str;
}

macro_rules! wire {
    ($($name:ident),*) => {
        $(impl Wire for $name {
            fn kind(&self) -> &str {
                &self.kind
            }
        })*
    };
}

wire!(
    AuthWire,
    RequestWire,
    ErrorWire,
    VaultWire,
    HeartbeatWire,
    RateLimitWire,
    CustomWire,
    AlertWire,
    ProbeWire
);

#[derive(Deserialize)]
struct ProbeWire {
    kind: String,
    ts: Timestamp,
    probe: String,
    ok: bool,
    #[serde(default)]
    latency_ms: u64,
    detail: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct AuthWire {
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

#[derive(Deserialize)]
struct RequestWire {
    kind: String,
    ts: Timestamp,
    method: String,
    path: String,
    status: u16,
    latency_ms: Option<f64>,
    ip: Option<String>,
    tenant: Option<String>,
    service: Option<String>,
    user_agent: Option<String>,
    host: Option<String>,
}

#[derive(Deserialize)]
struct ErrorWire {
    kind: String,
    ts: Timestamp,
    service: String,
    level: Option<Level>,
    fingerprint: Option<String>,
    message: String,
    release: Option<String>,
    environment: Option<String>,
    host: Option<String>,
    exception: Option<Box<Exception>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    user: Option<Box<User>>,
    event_id: Option<String>,
}

#[derive(Deserialize)]
struct VaultWire {
    kind: String,
    ts: Timestamp,
    principal: String,
    path: String,
    action: String,
    outcome: VaultOutcome,
    ip: Option<String>,
}

#[derive(Deserialize)]
struct HeartbeatWire {
    kind: String,
    ts: Timestamp,
    agent: String,
    version: Option<String>,
    config_hash: Option<String>,
    stale_after: Option<String>,
}

#[derive(Deserialize)]
struct RateLimitWire {
    kind: String,
    ts: Timestamp,
    key: String,
    policy: String,
    decision: Decision,
    ip: Option<String>,
}

#[derive(Deserialize)]
struct CustomWire {
    kind: String,
    ts: Timestamp,
    name: String,
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct AlertWire {
    kind: String,
    ts: Timestamp,
    source: String,
    via: Option<crate::alert::Via>,
    #[serde(default)]
    alerts: Vec<crate::alert::Alert>,
    /// Alerts as posted to Alertmanager's API v2, kept as they came: read by its rules at
    /// `ts`, they are the alerts tocsin took then.
    posted: Option<Vec<crate::alert::Postable>>,
}

/// Reads line `line` of an NDJSON stream (or one element of a JSON array) as an event.
pub fn parse_line(line: u64, text: &str) -> Result<Event, Reject> {
    let line = Line { number: line, text };
    let whole = |message: String| Reject {
        line: line.number,
        field: None,
        message,
    };
    if text.len() > MAX_LINE_BYTES {
        return Err(whole(format!(
            "the line is {} bytes, more than the {MAX_LINE_BYTES} one event may take",
            text.len()
        )));
    }
    if !text.trim_start().starts_with('{') {
        return Err(whole("an event must be a JSON object".into()));
    }
    if let Some(field) = long_string(text, MAX_FIELD_BYTES) {
        return Err(line.reject(&field, format!("longer than {MAX_FIELD_BYTES} bytes")));
    }
    // Most lines say their kind plainly: read it off the text and parse once. The kind's own
    // parse checks that it was right; when it was not, the line is read the long way.
    if let Some(kind) = sniff_kind(text)
        && let Ok(event) = parse_kind(&line, kind)
    {
        return Ok(event);
    }
    let head: Head = line.read()?;
    let kind = Kind::ALL.into_iter().find(|k| k.as_str() == head.kind).ok_or_else(|| {
        let known: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        line.reject(
            "kind",
            format!("unknown kind \"{}\"; use one of {}", head.kind, known.join(", ")),
        )
    })?;
    parse_kind(&line, kind)
}

/// The member name of the first string in a JSON text longer than `max` bytes as written
/// (escapes count as written, so a string is never longer than it looks), or of the
/// array holding it; `""` for a string in no object.
fn long_string(text: &str, max: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut member = "";
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|b| *b == b'"') {
        let start = at + offset + 1;
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(bytes.len());
        let after = bytes[(end + 1).min(bytes.len())..]
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        if after == Some(&b':') {
            // Both ends are at quotes or the text's end: character boundaries.
            member = &text[start..end];
        }
        if end - start > max {
            let name: String = member.chars().take(64).collect();
            return Some(name);
        }
        at = end + 1;
        if at >= bytes.len() {
            break;
        }
    }
    None
}

/// The value of the first `"kind": "..."` in the text, if it names a kind.
fn sniff_kind(text: &str) -> Option<Kind> {
    let at = text.find("\"kind\"")?;
    let rest = text[at + 6..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let value = &rest[..rest.find('"')?];
    Kind::ALL.into_iter().find(|k| k.as_str() == value)
}

/// Reads a line as an event of `kind`; the line's own `kind` must say the same.
fn parse_kind(line: &Line<'_>, kind: Kind) -> Result<Event, Reject> {
    Ok(match kind {
        Kind::Auth => {
            let a: AuthWire = line.read_kind(kind)?;
            let reason = a.reason.unwrap_or(match a.outcome {
                AuthOutcome::Success => AuthReason::Ok,
                AuthOutcome::Failure => AuthReason::Other,
            });
            Event::Auth(AuthEvent {
                at: a.ts,
                outcome: a.outcome,
                user: a.user,
                source: line.source("ip", &a.ip)?,
                method: a.method,
                reason,
                service: line.required("service", a.service)?,
                user_agent: a.user_agent,
                tenant: a.tenant,
                host: a.host,
                port: a.port,
            })
        }
        Kind::Request => {
            let r: RequestWire = line.read_kind(kind)?;
            if !(100..=599).contains(&r.status) {
                return Err(line.reject("status", format!("{} is not an HTTP status (100 to 599)", r.status)));
            }
            if r.latency_ms.is_some_and(|l| !(l.is_finite() && l >= 0.0)) {
                return Err(line.reject("latency_ms", "must be a number of milliseconds, 0 or more".into()));
            }
            Event::Request(RequestEvent {
                at: r.ts,
                method: line.required("method", r.method)?,
                path: line.required("path", r.path)?,
                status: r.status,
                latency_ms: r.latency_ms,
                source: r.ip.map(|ip| line.source("ip", &ip)).transpose()?,
                tenant: r.tenant,
                service: r.service,
                user_agent: r.user_agent,
                host: r.host,
            })
        }
        Kind::Error => {
            let e: ErrorWire = line.read_kind(kind)?;
            let message = line.required("message", e.message)?;
            let fingerprint = match e.fingerprint {
                Some(f) => line.required("fingerprint", f)?,
                None => fingerprint_of(&message),
            };
            Event::Error(ErrorEvent {
                at: e.ts,
                service: line.required("service", e.service)?,
                level: e.level.unwrap_or(Level::Error),
                fingerprint,
                message,
                release: e.release,
                environment: e.environment,
                host: e.host,
                exception: e.exception,
                tags: e.tags,
                user: e.user,
                event_id: e.event_id,
            })
        }
        Kind::VaultAccess => {
            let v: VaultWire = line.read_kind(kind)?;
            Event::VaultAccess(VaultEvent {
                at: v.ts,
                principal: line.required("principal", v.principal)?,
                path: line.required("path", v.path)?,
                action: line.required("action", v.action)?,
                outcome: v.outcome,
                source: v.ip.map(|ip| line.source("ip", &ip)).transpose()?,
            })
        }
        Kind::Heartbeat => {
            let h: HeartbeatWire = line.read_kind(kind)?;
            let stale_after = h
                .stale_after
                .map(|text| match crate::duration::Duration::parse(&text) {
                    Ok(d) if d.elapsed_seconds().is_some_and(|s| s >= 60) => Ok(d),
                    Ok(_) => Err(line.reject(
                        "stale_after",
                        "must be an exact span of a minute or more, like \"5m\"".into(),
                    )),
                    Err(e) => Err(line.reject("stale_after", format!("{}; {}", e.message, e.hint))),
                })
                .transpose()?;
            Event::Heartbeat(HeartbeatEvent {
                at: h.ts,
                agent: line.required("agent", h.agent)?,
                version: h.version,
                config_hash: h.config_hash,
                stale_after,
            })
        }
        Kind::RateLimit => {
            let r: RateLimitWire = line.read_kind(kind)?;
            Event::RateLimit(RateLimitEvent {
                at: r.ts,
                key: line.required("key", r.key)?,
                policy: line.required("policy", r.policy)?,
                decision: r.decision,
                source: r.ip.map(|ip| line.source("ip", &ip)).transpose()?,
            })
        }
        Kind::Custom => {
            let c: CustomWire = line.read_kind(kind)?;
            Event::Custom(CustomEvent {
                at: c.ts,
                name: line.required("name", c.name)?,
                attributes: c.attributes,
            })
        }
        Kind::Probe => {
            let p: ProbeWire = line.read_kind(kind)?;
            Event::Probe(ProbeEvent {
                at: p.ts,
                probe: line.required("probe", p.probe)?,
                ok: p.ok,
                latency_ms: p.latency_ms,
                detail: p.detail,
                error: p.error,
            })
        }
        Kind::Alert => {
            let mut a: AlertWire = line.read_kind(kind)?;
            if let Some(posted) = a.posted.take() {
                a.alerts = posted
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| crate::alert::postable(i, p, a.ts))
                    .collect::<Result<_, _>>()
                    .map_err(|e| line.reject("posted", e.to_string()))?;
            }
            if a.alerts.is_empty() {
                return Err(line.reject("alerts", "holds no alert".into()));
            }
            for (i, alert) in a.alerts.iter().enumerate() {
                if alert.fingerprint.trim().is_empty() {
                    return Err(line.reject(&format!("alerts[{i}].fingerprint"), "is empty".into()));
                }
            }
            Event::Alert(AlertEvent {
                at: a.ts,
                source: line.required("source", a.source)?,
                via: a.via.unwrap_or(crate::alert::Via::Alert),
                alerts: a.alerts,
            })
        }
    })
}

struct Line<'a> {
    number: u64,
    text: &'a str,
}

impl Line<'_> {
    fn reject(&self, field: &str, message: String) -> Reject {
        Reject {
            line: self.number,
            field: Some(field.to_owned()),
            message,
        }
    }

    fn read<T: DeserializeOwned>(&self) -> Result<T, Reject> {
        // Most lines are good: read them without tracking where in the line the reader is,
        // and read a bad one again to name its field.
        let mut deserializer = serde_json::Deserializer::from_str(self.text);
        if let Ok(value) = T::deserialize(&mut deserializer)
            && deserializer.end().is_ok()
        {
            return Ok(value);
        }
        let mut deserializer = serde_json::Deserializer::from_str(self.text);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = strip_position(&inner.to_string());
            // Broken JSON has no field to blame; serde_path_to_error then says "?" or ".".
            let field = if inner.is_syntax() || inner.is_eof() {
                None
            } else if path != "." && path != "?" {
                Some(path)
            } else {
                missing_field(&message)
            };
            Reject {
                line: self.number,
                field,
                message,
            }
        })?;
        deserializer.end().map_err(|_| Reject {
            line: self.number,
            field: None,
            message: "more than one JSON value on the line".into(),
        })?;
        Ok(value)
    }

    fn read_kind<T: Wire>(&self, kind: Kind) -> Result<T, Reject> {
        let wire: T = self.read()?;
        if wire.kind() != kind.as_str() {
            return Err(self.reject("kind", format!("expected \"{kind}\"")));
        }
        Ok(wire)
    }

    fn required(&self, field: &str, value: String) -> Result<String, Reject> {
        if value.trim().is_empty() {
            return Err(self.reject(field, "is empty".into()));
        }
        Ok(value)
    }

    fn source(&self, field: &str, value: &str) -> Result<Source, Reject> {
        let value = value.trim();
        if value.is_empty() {
            return Err(self.reject(field, "is empty".into()));
        }
        Ok(Source::parse(value))
    }
}

/// serde names a missing field only in its message: "missing field `ip`".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// serde_json ends its messages with "at line 1 column 40"; the line is ours to name.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The fingerprint of an error whose sender gave none: its message with numbers, hex ids
/// and quoted values masked, so that "user 17 not found" and "user 42 not found" group.
pub fn fingerprint_of(message: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut masked = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(c) = rest.chars().next() {
        let taken = if word(c) {
            let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            let token = &rest[..end];
            masked.push_str(if token.bytes().any(|b| b.is_ascii_digit()) {
                "#"
            } else {
                token
            });
            end
        } else if let Some(close) = (c == '"' || c == '\'').then(|| rest[1..].find(c)).flatten() {
            masked.push_str("\"#\"");
            close + 2
        } else {
            masked.push(c);
            c.len_utf8()
        };
        rest = &rest[taken..];
    }
    hex::encode(&Sha256::digest(masked.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_long_string_is_named_by_its_member_escapes_and_all() {
        assert_eq!(long_string(r#"{"a":"xxxx","b":"yy"}"#, 3), Some("a".into()));
        assert_eq!(long_string(r#"{"a":"xx","b":"y\"y\"y"}"#, 3), Some("b".into()));
        assert_eq!(long_string(r#"{"a":"x\"","b":["ok","long"]}"#, 3), Some("b".into()));
        assert_eq!(long_string(r#"{"a" : "abc", "b": 12345678}"#, 3), None);
        assert_eq!(long_string(r#""unterminated"#, 3), Some(String::new()));
        assert_eq!(long_string(r#"{"a":"x\"#, 3), None);
        assert_eq!(long_string("{\"é\":\"ééé\"}", 5), Some("é".into()));
    }

    fn auth(text: &str) -> AuthEvent {
        match parse_line(1, text).unwrap() {
            Event::Auth(a) => a,
            other => panic!("not an auth event: {other:?}"),
        }
    }

    #[test]
    fn an_auth_event_is_read_and_fields_tocsin_does_not_know_are_ignored() {
        let e = auth(
            r#"{"ts":"2026-01-05T00:00:04Z","kind":"auth","outcome":"failure","ip":"192.0.2.1","user":"admin","service":"sshd","user_agent":"SSH-2.0-Go","method":"password","reason":"invalid_user","user_valid":false,"pid":1835,"port":44732}"#,
        );
        assert_eq!(e.source, Source::parse("192.0.2.1"));
        assert_eq!(
            (e.outcome, e.reason, e.port),
            (AuthOutcome::Failure, AuthReason::InvalidUser, Some(44732))
        );
        assert_eq!(e.user_agent.as_deref(), Some("SSH-2.0-Go"));
    }

    #[test]
    fn every_kind_is_read_and_written_back_as_it_was_read() {
        let lines = [
            r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"success","user":"ann","ip":"2001:db8::1","method":"password","reason":"ok","service":"web","user_agent":"Firefox","tenant":"acme","host":"web1","port":443}"#,
            r#"{"kind":"request","ts":"2026-01-05T00:00:04.25Z","method":"POST","path":"/login","status":401,"latency_ms":12.5,"ip":"192.0.2.7","tenant":"acme","service":"api","user_agent":"curl/8","host":"lb1"}"#,
            r#"{"kind":"error","ts":"2026-01-05T00:00:04Z","service":"api","level":"fatal","fingerprint":"db-down","message":"connection refused","release":"1.4.2","environment":"prod","host":"app2"}"#,
            r#"{"kind":"vault_access","ts":"2026-01-05T00:00:04Z","principal":"ci-deploy","path":"kv/prod/db","action":"read","outcome":"denied","ip":"10.0.0.9"}"#,
            r#"{"kind":"heartbeat","ts":"2026-01-05T00:00:04Z","agent":"backup-1","version":"2.1","config_hash":"ab12","stale_after":"1h"}"#,
            r#"{"kind":"rate_limit","ts":"2026-01-05T00:00:04Z","key":"login:192.0.2.7:ann","policy":"login","decision":"deny","ip":"192.0.2.7"}"#,
            r#"{"kind":"custom","ts":"2026-01-05T00:00:04Z","name":"deploy","attributes":{"by":"ann","sha":"abc"}}"#,
            r#"{"kind":"alert","ts":"2026-01-05T00:00:04Z","source":"prometheus","via":"alertmanager","alerts":[{"fingerprint":"0c379b2b23583592","status":"firing","summary":"disk full","severity":"critical","group":"DiskFull","labels":{"alertname":"DiskFull"},"annotations":{"summary":"disk full"},"starts_at":"2026-01-05T00:00:00Z","ends_at":"2026-01-05T00:05:00Z","url":"http://prom/graph","details":{"value":"97"}}]}"#,
        ];
        for (line, kind) in lines.iter().zip(Kind::ALL) {
            let event = parse_line(3, line).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(event.kind(), kind);
            assert_eq!(event.at().to_string()[..19], *"2026-01-05T00:00:04");
            let written = event.to_json();
            assert_eq!(parse_line(3, &written).unwrap(), event, "{written}");
            let (a, b): (serde_json::Value, serde_json::Value) = (
                serde_json::from_str(line).unwrap(),
                serde_json::from_str(&written).unwrap(),
            );
            assert_eq!(a, b, "every field is written back under its own name");
        }
    }

    #[test]
    fn a_kind_named_inside_the_event_does_not_decide_its_kind() {
        for line in [
            r#"{"attributes":{"kind":"heartbeat"},"kind":"custom","ts":"2026-01-05T00:00:04Z","name":"x","agent":"a"}"#,
            r#"{"attributes":{"kind" : "auth"},"kind":"custom","ts":"2026-01-05T00:00:04Z","name":"x"}"#,
        ] {
            assert_eq!(parse_line(1, line).unwrap().kind(), Kind::Custom, "{line}");
        }
    }

    #[test]
    fn optional_fields_take_their_defaults() {
        let Event::Error(e) = parse_line(
            1,
            r#"{"kind":"error","ts":"2026-01-05T00:00:04Z","service":"api","message":"user 17 not found"}"#,
        )
        .unwrap() else {
            panic!("not an error")
        };
        assert_eq!(e.level, Level::Error);
        assert_eq!(e.fingerprint, fingerprint_of("user 17 not found"));
        let a =
            auth(r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"failure","ip":"192.0.2.1","service":"x"}"#);
        assert_eq!(
            (a.reason, a.method.as_str(), a.user.as_str()),
            (AuthReason::Other, "unknown", "")
        );
    }

    #[test]
    fn fingerprints_group_messages_that_differ_only_in_their_values() {
        let same = [
            ("user 17 not found", "user 42 not found"),
            ("timeout after 3000ms on 10.0.0.1", "timeout after 250ms on 10.0.0.2"),
            (r#"no such key "abc" in cache"#, r#"no such key "zz top" in cache"#),
            ("order 9f8e7d6c-aaaa failed", "order 1a2b3c4d-bbbb failed"),
        ];
        for (a, b) in same {
            assert_eq!(fingerprint_of(a), fingerprint_of(b), "{a} / {b}");
        }
        assert_ne!(fingerprint_of("user not found"), fingerprint_of("order not found"));
        assert_eq!(fingerprint_of("x").len(), 16);
        assert_eq!(
            fingerprint_of("unclosed \"quote 1"),
            fingerprint_of("unclosed \"quote 2")
        );
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
                r#"{"kind":"auth","ts":"2026-01-05T00:00:04Z","outcome":"failure","service":"x"}"#,
                Some("ip"),
            ),
            (
                r#"{"kind":"telepathy","ts":"2026-01-05T00:00:04Z","outcome":"failure","ip":"1.2.3.4","service":"x"}"#,
                Some("kind"),
            ),
            (r#"{"ts":"2026-01-05T00:00:04Z"}"#, Some("kind")),
            (
                r#"{"kind":"request","ts":"2026-01-05T00:00:04Z","method":"GET","path":"/","status":42}"#,
                Some("status"),
            ),
            (
                r#"{"kind":"request","ts":"2026-01-05T00:00:04Z","method":"GET","path":"/","status":200,"latency_ms":-1}"#,
                Some("latency_ms"),
            ),
            (
                r#"{"kind":"error","ts":"2026-01-05T00:00:04Z","service":"api","message":""}"#,
                Some("message"),
            ),
            (
                r#"{"kind":"error","ts":"2026-01-05T00:00:04Z","service":"api","message":"m","level":"panic"}"#,
                Some("level"),
            ),
            (
                r#"{"kind":"vault_access","ts":"2026-01-05T00:00:04Z","principal":"p","path":"kv/x","action":"read","outcome":"success"}"#,
                Some("outcome"),
            ),
            (r#"{"kind":"heartbeat","ts":"2026-01-05T00:00:04Z"}"#, Some("agent")),
            (
                r#"{"kind":"heartbeat","ts":"2026-01-05T00:00:04Z","agent":"a","stale_after":"30s"}"#,
                Some("stale_after"),
            ),
            (
                r#"{"kind":"heartbeat","ts":"2026-01-05T00:00:04Z","agent":"a","stale_after":"soon"}"#,
                Some("stale_after"),
            ),
            (
                r#"{"kind":"rate_limit","ts":"2026-01-05T00:00:04Z","key":"k","policy":"login","decision":"maybe"}"#,
                Some("decision"),
            ),
            (
                r#"{"kind":"custom","ts":"2026-01-05T00:00:04Z","name":"x","attributes":[1]}"#,
                Some("attributes"),
            ),
            (r#"{"kind":"auth","#, None),
            (r#"[1,2]"#, None),
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
        assert_eq!(missing.to_string(), "line 2: field `ip`: missing field `ip`");
    }
}
