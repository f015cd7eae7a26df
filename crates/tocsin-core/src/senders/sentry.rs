//! Sentry SDKs' envelopes and events: an envelope's `event` items become error events,
//! for the error-spike and new-error detectors, with what responders need (the exception,
//! the frame it was raised in, release, environment, tags, user); `check_in` items become
//! heartbeats of the job they name, and a failed check-in an alert that the next good one
//! resolves. Every other item (transactions, sessions, attachments, …) is left alone, as a
//! Sentry server would drop what it does not keep.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Unreadable, json};
use crate::Timestamp;
use crate::alert::{Alert, AlertStatus, Via};
use crate::duration::Duration;
use crate::event::{AlertEvent, ErrorEvent, Event, Exception, Frame, HeartbeatEvent, Level, User, fingerprint_of};

/// The most one event may be, as Sentry's own servers cap it.
pub const EVENT_MAX: usize = 1024 * 1024;
/// The most of a message, a tag or a field kept.
const TEXT_MAX: usize = 8 * 1024;
const TAG_MAX: usize = 200;
const TAGS_MAX: usize = 100;
/// How long a job that checks in without a schedule may be silent: a missed daily run is
/// noticed.
const UNSCHEDULED_STALE: i64 = 25 * 3600;

/// The public key of a DSN (`https://KEY@host/project`).
pub fn key_of_dsn(dsn: &str) -> Option<String> {
    let rest = dsn.split_once("://")?.1;
    let (user, _) = rest.split_once('@')?;
    Some(user.split(':').next()?.to_owned())
}

/// An envelope: its header, and its items as (type, payload).
#[derive(Debug)]
pub struct Envelope<'a> {
    /// The envelope's first line, a JSON object.
    pub header: Value,
    /// Each item's type and payload, in order.
    pub items: Vec<(String, &'a [u8])>,
}

/// Reads an envelope: a header line, then per item a header line and its payload, either
/// `length` bytes or up to the end of the line.
pub fn envelope_of(body: &[u8]) -> Result<Envelope<'_>, Unreadable> {
    let line = |rest: &'_ [u8]| -> (usize, usize) {
        match rest.iter().position(|b| *b == b'\n') {
            Some(end) => (end, end + 1),
            None => (rest.len(), rest.len()),
        }
    };
    let (end, next) = line(body);
    let header: Value = serde_json::from_slice(&body[..end])
        .map_err(|e| Unreadable::Invalid(format!("the envelope's header is not JSON: {e}")))?;
    if !header.is_object() {
        return Err(Unreadable::Invalid("the envelope's header is not a JSON object".into()));
    }
    let mut rest = &body[next..];
    let mut items = Vec::new();
    while !rest.iter().all(u8::is_ascii_whitespace) {
        let number = items.len() + 1;
        let (end, next) = line(rest);
        let item: Value = serde_json::from_slice(&rest[..end])
            .map_err(|e| Unreadable::Invalid(format!("item {number}: its header is not JSON: {e}")))?;
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Unreadable::Invalid(format!("item {number}: its header has no type")))?
            .to_owned();
        rest = &rest[next..];
        let payload = match item.get("length") {
            Some(length) => {
                let length = length.as_u64().and_then(|l| usize::try_from(l).ok()).ok_or_else(|| {
                    Unreadable::Invalid(format!("item {number}: its length is not a number of bytes"))
                })?;
                if length > rest.len() {
                    return Err(Unreadable::Invalid(format!(
                        "item {number}: it says {length} bytes but {} are left",
                        rest.len()
                    )));
                }
                let payload = &rest[..length];
                rest = &rest[length..];
                if rest.first() == Some(&b'\n') {
                    rest = &rest[1..];
                }
                payload
            }
            None => {
                let (end, next) = line(rest);
                let payload = &rest[..end];
                rest = &rest[next..];
                payload
            }
        };
        items.push((kind, payload));
    }
    Ok(Envelope { header, items })
}

fn text(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then(|| cut(text, TEXT_MAX))
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A time as SDKs write it: RFC 3339 (with or without a zone, UTC then), or seconds since
/// the epoch.
fn time_of(value: Option<&Value>) -> Option<Timestamp> {
    match value? {
        Value::Number(n) => Timestamp::from_millisecond((n.as_f64()? * 1000.0) as i64).ok(),
        Value::String(s) => s.parse().ok().or_else(|| {
            s.parse::<jiff::civil::DateTime>()
                .ok()?
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        }),
        _ => None,
    }
}

fn level_of(value: Option<&Value>) -> Level {
    match value.and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("fatal" | "critical") => Level::Fatal,
        Some("warning" | "warn") => Level::Warning,
        Some("info" | "log") => Level::Info,
        Some("debug") => Level::Debug,
        _ => Level::Error,
    }
}

/// The frame an exception was raised in: the innermost of the application's own frames,
/// or the innermost frame where none is marked as the application's.
fn frame_of(stacktrace: Option<&Value>) -> Option<Frame> {
    let frames = stacktrace?.get("frames")?.as_array()?;
    let own = frames
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true));
    let frame = own.or(frames.last())?;
    let found = Frame {
        file: text(frame.get("filename")).or_else(|| text(frame.get("abs_path"))),
        module: text(frame.get("module")),
        function: text(frame.get("function")),
        line: frame
            .get("lineno")
            .and_then(Value::as_u64)
            .and_then(|l| u32::try_from(l).ok()),
    };
    (found != Frame::default()).then_some(found)
}

/// The exception an event reports: the last of its chain, the one that reached the SDK.
fn exception_of(event: &Value) -> Option<Exception> {
    let values = match event.get("exception")? {
        Value::Array(values) => values,
        other => other.get("values")?.as_array()?,
    };
    let last = values
        .iter()
        .rev()
        .find(|v| v.get("type").is_some() || v.get("value").is_some())?;
    Some(Exception {
        kind: text(last.get("type")).unwrap_or_else(|| "Error".into()),
        value: text(last.get("value")),
        frame: frame_of(last.get("stacktrace")).or_else(|| frame_of(event.get("stacktrace"))),
    })
}

fn tags_of(value: Option<&Value>) -> BTreeMap<String, String> {
    let pairs: Vec<(Option<String>, Option<String>)> = match value {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (Some(k.clone()), text(Some(v)))).collect(),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .map(|pair| (text(pair.get(0)), text(pair.get(1))))
            .collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((cut(k?, TAG_MAX), cut(v?, TAG_MAX))))
        .take(TAGS_MAX)
        .collect()
}

fn user_of(value: Option<&Value>) -> Option<User> {
    let user = value?;
    let found = User {
        id: text(user.get("id")),
        email: text(user.get("email")),
        username: text(user.get("username")),
        ip: text(user.get("ip_address")),
    };
    (found != User::default()).then_some(found)
}

/// A Sentry event as an error event of `service`.
fn error_event(event: &Value, service: &str, received: Timestamp) -> Result<ErrorEvent, Unreadable> {
    if !event.is_object() {
        return Err(Unreadable::invalid("the event is not a JSON object"));
    }
    let exception = exception_of(event);
    let logged = event
        .get("logentry")
        .and_then(|l| text(l.get("formatted")).or_else(|| text(l.get("message"))))
        .or_else(|| match event.get("message") {
            Some(Value::Object(m)) => text(m.get("formatted")).or_else(|| text(m.get("message"))),
            other => text(other),
        });
    let message = match (&exception, logged) {
        (Some(e), _) => match &e.value {
            Some(value) => format!("{}: {value}", e.kind),
            None => e.kind.clone(),
        },
        (None, Some(logged)) => logged,
        (None, None) => text(event.get("transaction")).unwrap_or_else(|| "(no message)".into()),
    };
    let given: Vec<&str> = event
        .get("fingerprint")
        .and_then(Value::as_array)
        .map(|parts| parts.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fingerprint = if given.iter().any(|p| *p != "{{ default }}") {
        hex::encode(&Sha256::digest(given.join("\u{1f}").as_bytes())[..8])
    } else {
        match &exception {
            Some(Exception {
                kind,
                frame: Some(frame),
                ..
            }) => fingerprint_of(&format!(
                "{kind} {} {}",
                frame.module.as_deref().or(frame.file.as_deref()).unwrap_or(""),
                frame.function.as_deref().unwrap_or("")
            )),
            _ => fingerprint_of(&message),
        }
    };
    // A time ahead of tocsin's clock is the sender's clock running fast.
    let at = time_of(event.get("timestamp")).map_or(received, |at| at.min(received));
    Ok(ErrorEvent {
        at,
        service: service.to_owned(),
        level: level_of(event.get("level")),
        fingerprint,
        message: cut(message, TEXT_MAX),
        release: text(event.get("release")),
        environment: text(event.get("environment")),
        host: text(event.get("server_name")),
        exception: exception.map(Box::new),
        tags: tags_of(event.get("tags")),
        user: user_of(event.get("user")).map(Box::new),
        event_id: text(event.get("event_id")).map(|id| id.replace('-', "")),
    })
}

/// How long a job on this monitor schedule may be silent: the longest wait between runs,
/// plus the margin it is given to check in.
fn stale_after(config: Option<&Value>) -> Result<i64, Unreadable> {
    let Some(schedule) = config.and_then(|c| c.get("schedule")) else {
        return Ok(UNSCHEDULED_STALE);
    };
    let gap = match schedule.get("type").and_then(Value::as_str) {
        Some("crontab") => {
            let expr = schedule.get("value").and_then(Value::as_str).ok_or_else(|| {
                Unreadable::invalid("monitor_config.schedule.value: a crontab schedule needs its expression")
            })?;
            crate::cron::longest_gap(expr)
                .map_err(|e| Unreadable::invalid(format!("monitor_config.schedule.value: {e}")))?
        }
        Some("interval") => {
            let count = schedule
                .get("value")
                .and_then(Value::as_i64)
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    Unreadable::invalid("monitor_config.schedule.value: an interval needs a positive number")
                })?;
            let unit = match schedule.get("unit").and_then(Value::as_str) {
                Some("minute") => 60,
                Some("hour") => 3600,
                Some("day") => 86_400,
                Some("week") => 7 * 86_400,
                Some("month") => 31 * 86_400,
                Some("year") => 366 * 86_400,
                other => {
                    return Err(Unreadable::invalid(format!(
                        "monitor_config.schedule.unit {other:?} is not one of minute, hour, day, week, month, year"
                    )));
                }
            };
            count.saturating_mul(unit)
        }
        other => {
            return Err(Unreadable::invalid(format!(
                "monitor_config.schedule.type {other:?} is neither crontab nor interval"
            )));
        }
    };
    let margin = config
        .and_then(|c| c.get("checkin_margin"))
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    Ok(gap.saturating_add(margin * 60))
}

/// A cron check-in: a heartbeat of the job, and for an error or a good run the alert that
/// fires or is resolved.
fn check_in(payload: &Value, source: &str, now: Timestamp) -> Result<Vec<Event>, Unreadable> {
    let slug =
        text(payload.get("monitor_slug")).ok_or_else(|| Unreadable::invalid("the check-in has no monitor_slug"))?;
    let status = payload
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| Unreadable::invalid("the check-in has no status"))?;
    let firing = match status {
        "in_progress" => None,
        "ok" => Some(false),
        "error" | "timeout" | "missed" => Some(true),
        other => {
            return Err(Unreadable::invalid(format!(
                "check-in status \"{other}\" is not in_progress, ok or error"
            )));
        }
    };
    let agent = format!("{source}/{slug}");
    let beat = Event::Heartbeat(HeartbeatEvent {
        at: now,
        agent: agent.clone(),
        version: None,
        config_hash: None,
        stale_after: Some(Duration::Elapsed(stale_after(payload.get("monitor_config"))?)),
    });
    let mut events = vec![beat];
    if let Some(firing) = firing {
        let state = if firing {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        };
        let summary = format!("The job {agent} failed its check-in ({status})");
        let mut alert = Alert::new(format!("check_in:{slug}"), state, summary, now);
        for field in ["check_in_id", "environment", "duration"] {
            if let Some(value) = text(payload.get(field)) {
                alert.annotations.insert(field.to_owned(), value);
            }
        }
        alert.labels.insert("monitor_slug".to_owned(), slug);
        events.push(AlertEvent::delivery(source, Via::Sentry, vec![alert], now));
    }
    Ok(events)
}

/// What a request carried, read and checked: its events, how many of its items were used,
/// and the id to answer with.
#[derive(Debug)]
pub struct Read {
    /// The events read.
    pub events: Vec<Event>,
    /// How many items were read into them.
    pub used: u64,
    /// The id to answer with: the event's, when there was one.
    pub id: Option<String>,
}

/// One event, as the older `store` endpoint takes it, from the integration `source`.
pub fn read_event(payload: &[u8], source: &str, now: Timestamp) -> Result<Read, Unreadable> {
    if payload.len() > EVENT_MAX {
        return Err(Unreadable::TooLarge(format!(
            "an event is larger than {EVENT_MAX} bytes"
        )));
    }
    let value: Value = json(payload).map_err(|e| Unreadable::Invalid(format!("the event is not JSON: {e}")))?;
    let error = error_event(&value, source, now)?;
    let id = error.event_id.clone();
    Ok(Read {
        events: vec![Event::Error(error)],
        used: 1,
        id,
    })
}

impl Envelope<'_> {
    /// Its events and check-ins, from the integration `source`; other items are left alone.
    pub fn read(&self, source: &str, now: Timestamp) -> Result<Read, Unreadable> {
        let mut read = Read {
            events: Vec::new(),
            used: 0,
            id: text(self.header.get("event_id")),
        };
        for (number, (kind, payload)) in self.items.iter().enumerate() {
            match kind.as_str() {
                "event" => {
                    let event = read_event(payload, source, now)?;
                    read.events.extend(event.events);
                    read.id = read.id.take().or(event.id);
                }
                "check_in" => {
                    let value: Value = json(payload).map_err(|e| {
                        Unreadable::Invalid(format!("item {}: the check-in is not JSON: {e}", number + 1))
                    })?;
                    let events = check_in(&value, source, now)
                        .map_err(|e| Unreadable::invalid(format!("item {}: {e}", number + 1)))?;
                    read.events.extend(events);
                }
                _ => continue,
            }
            read.used += 1;
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn envelopes_are_split_into_items_with_or_without_lengths() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://e12d836b15bb49d7bbf99e64295d995b@sentry.example/42\"}\n\
{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\
\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\"}\n\
{\"message\":\"hello world\",\"level\":\"error\"}\n\
{\"type\":\"check_in\"}\n\
{\"monitor_slug\":\"nightly\",\"status\":\"ok\"}\n";
        let envelope = envelope_of(body).unwrap();
        assert_eq!(
            key_of_dsn(envelope.header["dsn"].as_str().unwrap()).as_deref(),
            Some("e12d836b15bb49d7bbf99e64295d995b")
        );
        let kinds: Vec<&str> = envelope.items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["attachment", "event", "check_in"]);
        assert_eq!(envelope.items[0].1, b"\xef\xbb\xbfHello\r\n");
        assert_eq!(envelope.items[2].1, b"{\"monitor_slug\":\"nightly\",\"status\":\"ok\"}");

        assert!(
            envelope_of(b"{}\n{\"type\":\"event\",\"length\":99}\n{}")
                .unwrap_err()
                .to_string()
                .contains("99 bytes")
        );
        assert!(
            envelope_of(b"{}\n{\"length\":2}\n{}")
                .unwrap_err()
                .to_string()
                .contains("no type")
        );
        assert!(envelope_of(b"not json").unwrap_err().to_string().contains("header"));
        assert!(envelope_of(b"{}").unwrap().items.is_empty());
    }

    #[test]
    fn an_sdk_event_keeps_what_responders_need() {
        let event = json!({
            "event_id": "9ec79c33-ec99-42ab-8353-589fcb2e04dc",
            "timestamp": "2026-11-23T10:00:00.5",
            "level": "fatal",
            "server_name": "web-1",
            "release": "shop@1.4.2",
            "environment": "production",
            "exception": {"values": [
                {"type": "KeyError", "value": "'sku'"},
                {"type": "CheckoutError", "value": "cart 8812 cannot be charged", "stacktrace": {"frames": [
                    {"filename": "django/core/handlers.py", "function": "inner", "lineno": 55, "in_app": false},
                    {"filename": "shop/checkout.py", "module": "shop.checkout", "function": "charge", "lineno": 120, "in_app": true},
                    {"filename": "stripe/api.py", "function": "request", "lineno": 9, "in_app": false}
                ]}}
            ]},
            "tags": {"region": "eu", "attempt": 3},
            "user": {"id": 42, "email": "ana@example.com", "ip_address": "203.0.113.9"}
        });
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
        let error = error_event(&event, "shop", now).unwrap();
        assert_eq!(error.at, "2026-11-23T10:00:00.5Z".parse().unwrap());
        assert_eq!(error.level, Level::Fatal);
        assert_eq!(error.message, "CheckoutError: cart 8812 cannot be charged");
        let exception = error.exception.as_ref().unwrap();
        let frame = exception.frame.as_ref().unwrap();
        assert_eq!(
            (frame.file.as_deref(), frame.function.as_deref(), frame.line),
            (Some("shop/checkout.py"), Some("charge"), Some(120))
        );
        assert_eq!(frame.to_string(), "charge in shop/checkout.py:120");
        assert_eq!(error.tags["attempt"], "3");
        let user = error.user.as_ref().unwrap();
        assert_eq!(
            (user.id.as_deref(), user.ip.as_deref()),
            (Some("42"), Some("203.0.113.9"))
        );
        assert_eq!(error.event_id.as_deref(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
        assert_eq!(
            (error.host.as_deref(), error.release.as_deref()),
            (Some("web-1"), Some("shop@1.4.2"))
        );

        // The same exception elsewhere in the cart groups with it; another place does not.
        let mut other_cart = event.clone();
        other_cart["exception"]["values"][1]["value"] = json!("cart 9 cannot be charged");
        assert_eq!(
            error_event(&other_cart, "shop", now).unwrap().fingerprint,
            error.fingerprint
        );
        let mut elsewhere = event.clone();
        elsewhere["exception"]["values"][1]["stacktrace"]["frames"][1]["function"] = json!("refund");
        assert_ne!(
            error_event(&elsewhere, "shop", now).unwrap().fingerprint,
            error.fingerprint
        );
        // A fingerprint the application gives wins.
        let mut given = event;
        given["fingerprint"] = json!(["payments-down"]);
        let given_fingerprint = error_event(&given, "shop", now).unwrap().fingerprint;
        given["exception"]["values"][1]["type"] = json!("OtherError");
        assert_eq!(error_event(&given, "shop", now).unwrap().fingerprint, given_fingerprint);

        // A message without an exception, tags as pairs, a time ahead of the clock.
        let message = json!({"message": {"formatted": "disk almost full"}, "level": "warning",
            "tags": [["mount", "/var"]], "timestamp": 4_000_000_000.0_f64});
        let error = error_event(&message, "shop", now).unwrap();
        assert_eq!(
            (error.message.as_str(), error.level, error.at),
            ("disk almost full", Level::Warning, now)
        );
        assert_eq!(error.tags["mount"], "/var");
        assert!(error_event(&json!([1]), "shop", now).is_err());
    }

    #[test]
    fn a_check_in_schedule_says_how_long_the_job_may_be_silent() {
        assert_eq!(stale_after(None), Ok(UNSCHEDULED_STALE));
        let daily = json!({"schedule": {"type": "crontab", "value": "0 3 * * *"}, "checkin_margin": 5});
        assert_eq!(stale_after(Some(&daily)), Ok(86_400 + 300));
        let interval = json!({"schedule": {"type": "interval", "value": 2, "unit": "hour"}});
        assert_eq!(stale_after(Some(&interval)), Ok(7_200 + 60));
        let bad = json!({"schedule": {"type": "interval", "value": 2, "unit": "fortnight"}});
        assert!(stale_after(Some(&bad)).unwrap_err().to_string().contains("fortnight"));
        let bad = json!({"schedule": {"type": "crontab", "value": "every day"}});
        assert!(stale_after(Some(&bad)).unwrap_err().to_string().contains("five fields"));
    }
}
