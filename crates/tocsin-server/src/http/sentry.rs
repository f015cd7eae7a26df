//! Sentry SDKs, pointed at tocsin by a DSN: `POST /api/<project>/envelope/` and the older
//! `POST /api/<project>/store/`. The DSN's public key is a sentry integration's key and its
//! project is the integration's id. An envelope's `event` items become error events, for
//! the error-spike and new-error detectors, with what responders need (the exception, the
//! frame it was raised in, release, environment, tags, user); `check_in` items become
//! heartbeats of the job they name, and a failed check-in an alert that the next good one
//! resolves. Every other item (transactions, sessions, attachments, …) is accepted and
//! left alone, as a Sentry server would drop what it does not keep.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, AlertStatus, Via};
use tocsin_core::duration::Duration;
use tocsin_core::event::{ErrorEvent, Event, Exception, Frame, HeartbeatEvent, Level, User, fingerprint_of};
use tocsin_store::events::NewEvent;

use super::AppState;
use super::compat::{self, Gate, Refusal, Unread};
use crate::ingest::{BodyError, Encoding};
use crate::integrations::{Integration, Kind};

/// The most a request may carry, compressed or not: envelopes hold attachments too.
pub const MAX_BODY: usize = 20 * 1024 * 1024;
/// The most one event may be, as Sentry's own servers cap it.
pub const EVENT_MAX: usize = 1024 * 1024;
/// The most of a message, a tag or a field kept.
const TEXT_MAX: usize = 8 * 1024;
const TAG_MAX: usize = 200;
const TAGS_MAX: usize = 100;
/// How long a job that checks in without a schedule may be silent: a missed daily run is
/// noticed.
const UNSCHEDULED_STALE: i64 = 25 * 3600;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/{project}/envelope/", post(envelope).options(preflight))
        .route("/api/{project}/envelope", post(envelope).options(preflight))
        .route("/api/{project}/store/", post(store).options(preflight))
        .route("/api/{project}/store", post(store).options(preflight))
}

fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    let why = compat::brief(&why.into());
    Refusal::new(status, why.clone(), json!({"detail": why}))
}

/// Browser SDKs send from pages of other origins.
fn cors(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-sentry-error, x-sentry-rate-limits, retry-after"),
    );
    response
}

async fn preflight() -> Response {
    let mut response = cors(StatusCode::OK.into_response());
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, content-encoding, x-sentry-auth, authorization"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
    response
}

/// The DSN's public key: in `X-Sentry-Auth` (or `Authorization: Sentry …`) as
/// `sentry_key=…`, or in the query.
fn key_of(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let without_scheme = |value: &str| {
        value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("sentry "))
            .map(|_| value[7..].to_owned())
    };
    let fields = header(X_SENTRY_AUTH)
        .map(|v| without_scheme(v).unwrap_or_else(|| v.to_owned()))
        .or_else(|| without_scheme(header(header::AUTHORIZATION.as_str())?));
    let from_header = fields.and_then(|fields| {
        fields.split(',').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k.trim() == "sentry_key").then(|| v.trim().to_owned())
        })
    });
    from_header.or_else(|| {
        form_urlencoded::parse(query?.as_bytes()).find_map(|(k, v)| (k == "sentry_key").then(|| v.into_owned()))
    })
}

const X_SENTRY_AUTH: &str = "x-sentry-auth";

/// Bodies of events and envelopes read at once.
static RECEIVED: Gate = Gate::new();

/// The public key of a DSN (`https://KEY@host/project`).
fn key_of_dsn(dsn: &str) -> Option<String> {
    let rest = dsn.split_once("://")?.1;
    let (user, _) = rest.split_once('@')?;
    Some(user.split(':').next()?.to_owned())
}

/// An envelope: its header, and its items as (type, payload).
#[derive(Debug)]
struct Envelope<'a> {
    header: Value,
    items: Vec<(String, &'a [u8])>,
}

/// Reads an envelope: a header line, then per item a header line and its payload, either
/// `length` bytes or up to the end of the line.
fn envelope_of(body: &[u8]) -> Result<Envelope<'_>, String> {
    let line = |rest: &'_ [u8]| -> (usize, usize) {
        match rest.iter().position(|b| *b == b'\n') {
            Some(end) => (end, end + 1),
            None => (rest.len(), rest.len()),
        }
    };
    let (end, next) = line(body);
    let header: Value =
        serde_json::from_slice(&body[..end]).map_err(|e| format!("the envelope's header is not JSON: {e}"))?;
    if !header.is_object() {
        return Err("the envelope's header is not a JSON object".into());
    }
    let mut rest = &body[next..];
    let mut items = Vec::new();
    while !rest.iter().all(u8::is_ascii_whitespace) {
        let number = items.len() + 1;
        let (end, next) = line(rest);
        let item: Value =
            serde_json::from_slice(&rest[..end]).map_err(|e| format!("item {number}: its header is not JSON: {e}"))?;
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("item {number}: its header has no type"))?
            .to_owned();
        rest = &rest[next..];
        let payload = match item.get("length") {
            Some(length) => {
                let length = length
                    .as_u64()
                    .and_then(|l| usize::try_from(l).ok())
                    .ok_or_else(|| format!("item {number}: its length is not a number of bytes"))?;
                if length > rest.len() {
                    return Err(format!(
                        "item {number}: it says {length} bytes but {} are left",
                        rest.len()
                    ));
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
fn error_event(event: &Value, service: &str, received: Timestamp) -> Result<ErrorEvent, String> {
    if !event.is_object() {
        return Err("the event is not a JSON object".into());
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
fn stale_after(config: Option<&Value>) -> Result<i64, String> {
    let Some(schedule) = config.and_then(|c| c.get("schedule")) else {
        return Ok(UNSCHEDULED_STALE);
    };
    let gap = match schedule.get("type").and_then(Value::as_str) {
        Some("crontab") => {
            let expr = schedule
                .get("value")
                .and_then(Value::as_str)
                .ok_or("monitor_config.schedule.value: a crontab schedule needs its expression")?;
            tocsin_core::cron::longest_gap(expr).map_err(|e| format!("monitor_config.schedule.value: {e}"))?
        }
        Some("interval") => {
            let count = schedule
                .get("value")
                .and_then(Value::as_i64)
                .filter(|v| *v > 0)
                .ok_or("monitor_config.schedule.value: an interval needs a positive number")?;
            let unit = match schedule.get("unit").and_then(Value::as_str) {
                Some("minute") => 60,
                Some("hour") => 3600,
                Some("day") => 86_400,
                Some("week") => 7 * 86_400,
                Some("month") => 31 * 86_400,
                Some("year") => 366 * 86_400,
                other => {
                    return Err(format!(
                        "monitor_config.schedule.unit {other:?} is not one of minute, hour, day, week, month, year"
                    ));
                }
            };
            count.saturating_mul(unit)
        }
        other => {
            return Err(format!(
                "monitor_config.schedule.type {other:?} is neither crontab nor interval"
            ));
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
fn check_in(payload: &Value, integration: &Integration, now: Timestamp) -> Result<Vec<NewEvent>, String> {
    let slug = text(payload.get("monitor_slug")).ok_or("the check-in has no monitor_slug")?;
    let status = payload
        .get("status")
        .and_then(Value::as_str)
        .ok_or("the check-in has no status")?;
    let firing = match status {
        "in_progress" => None,
        "ok" => Some(false),
        "error" | "timeout" | "missed" => Some(true),
        other => return Err(format!("check-in status \"{other}\" is not in_progress, ok or error")),
    };
    let agent = format!("{}/{slug}", integration.name);
    let beat = Event::Heartbeat(HeartbeatEvent {
        at: now,
        agent: agent.clone(),
        version: None,
        config_hash: None,
        stale_after: Some(Duration::Elapsed(stale_after(payload.get("monitor_config"))?)),
    });
    let mut events = vec![NewEvent::new(beat, &format!("integration:{}", integration.name), now)];
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
        events.push(compat::alert_event(&integration.name, Via::Sentry, vec![alert], now));
    }
    Ok(events)
}

/// What a request carried, read and checked: its events, how many items were used, and
/// the id to answer with.
struct Taken {
    events: Vec<NewEvent>,
    used: u64,
    id: Option<String>,
}

fn event_item(
    payload: &[u8],
    integration: &Integration,
    now: Timestamp,
) -> Result<(NewEvent, Option<String>), Refusal> {
    if payload.len() > EVENT_MAX {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an event is larger than {EVENT_MAX} bytes"),
        ));
    }
    let value: Value =
        compat::json(payload).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("the event is not JSON: {e}")))?;
    let error = error_event(&value, &integration.name, now).map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?;
    let id = error.event_id.clone();
    Ok((
        NewEvent::new(Event::Error(error), &format!("integration:{}", integration.name), now),
        id,
    ))
}

fn take_envelope(envelope: &Envelope<'_>, integration: &Integration, now: Timestamp) -> Result<Taken, Refusal> {
    let mut taken = Taken {
        events: Vec::new(),
        used: 0,
        id: text(envelope.header.get("event_id")),
    };
    for (number, (kind, payload)) in envelope.items.iter().enumerate() {
        match kind.as_str() {
            "event" => {
                let (event, id) = event_item(payload, integration, now)?;
                taken.events.push(event);
                taken.id = taken.id.take().or(id);
            }
            "check_in" => {
                let value: Value = compat::json(payload).map_err(|e| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        format!("item {}: the check-in is not JSON: {e}", number + 1),
                    )
                })?;
                let events = check_in(&value, integration, now)
                    .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("item {}: {e}", number + 1)))?;
                taken.events.extend(events);
            }
            _ => continue,
        }
        taken.used += 1;
    }
    Ok(taken)
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    Encoding::of(headers).map_err(|other| {
        refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding \"{other}\" is not supported; send gzip, deflate, br or nothing"),
        )
    })
}

/// The body, expanded off the request threads.
async fn expanded(encoding: Encoding, body: Bytes) -> Result<Vec<u8>, Refusal> {
    let expand = move || {
        encoding
            .expand(&body, MAX_BODY)
            .map(|b| b.into_owned())
            .map_err(|e| match e {
                BodyError::TooLarge(_) | BodyError::Bomb => refuse(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
                _ => refuse(StatusCode::BAD_REQUEST, e.to_string()),
            })
    };
    tokio::task::spawn_blocking(expand).await.unwrap_or_else(|_| {
        Err(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the body could not be expanded",
        ))
    })
}

/// The most of an envelope read, compressed, to find its first line before its key is known.
const FIRST_LINE_MAX: usize = 16 * 1024;

/// The start of a body, expanded as far as it goes, up to its first line break.
fn first_line(encoding: Encoding, start: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut decoded = Vec::new();
    // A stream cut short ends in an error after what it could expand.
    let _ = encoding
        .reader(start)
        .take(FIRST_LINE_MAX as u64)
        .read_to_end(&mut decoded);
    let end = decoded.iter().position(|b| *b == b'\n')?;
    decoded.truncate(end);
    Some(decoded)
}

#[derive(Clone, Copy)]
enum Endpoint {
    Envelope,
    Store,
}

async fn envelope(
    state: State<AppState>,
    project: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Unread,
) -> Response {
    receive(state, project, query, headers, body, Endpoint::Envelope).await
}

async fn store(
    state: State<AppState>,
    project: Path<String>,
    query: RawQuery,
    headers: HeaderMap,
    body: Unread,
) -> Response {
    receive(state, project, query, headers, body, Endpoint::Store).await
}

/// The sentry integration whose DSN key this is.
async fn named(state: &AppState, key: &str) -> Result<Arc<Integration>, Refusal> {
    match compat::integration(state, key, Kind::Sentry).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "no sentry integration has this DSN key",
        )),
        Err(n) => Err(n.refuse(refuse)),
    }
}

async fn receive(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Unread,
    endpoint: Endpoint,
) -> Response {
    // The integration once known, to count what it sent or why it was refused; the start
    // of the body, expanded, to show as its last payload; and the key, to mask it there.
    let mut integration: Option<Arc<Integration>> = None;
    let mut shown = Vec::new();
    let mut key = String::new();
    let result = async {
        let encoding = encoding(&headers)?;
        // The key is checked before the body is read: in a header or the query, or else
        // in the envelope's first line, its DSN, as tunnels pass it on.
        let missing = || {
            refuse(
                StatusCode::UNAUTHORIZED,
                "missing authorization: give the DSN's key as sentry_key",
            )
        };
        let body = match (key_of(&headers, query.as_deref()), endpoint) {
            (Some(found), _) => {
                key = found;
                body
            }
            (None, Endpoint::Envelope) => {
                let (start, body) = body
                    .start(FIRST_LINE_MAX, |start| first_line(encoding, start).is_some())
                    .await
                    .map_err(|(status, why)| refuse(status, why))?;
                let header = first_line(encoding, &start).ok_or_else(missing)?;
                let header: Value = serde_json::from_slice(&header).map_err(|_| missing())?;
                key = header
                    .get("dsn")
                    .and_then(Value::as_str)
                    .and_then(key_of_dsn)
                    .ok_or_else(missing)?;
                body
            }
            (None, Endpoint::Store) => return Err(missing()),
        };
        let found = named(&state, &key).await?;
        integration = Some(Arc::clone(&found));
        let body = body
            .read(&RECEIVED, MAX_BODY)
            .await
            .map_err(|(status, why)| refuse(status, why))?;
        let expanded = expanded(encoding, body).await?;
        shown = expanded[..expanded.len().min(crate::integrations::PAYLOAD_KEPT)].to_vec();
        let envelope = match endpoint {
            Endpoint::Envelope => Some(envelope_of(&expanded).map_err(|why| refuse(StatusCode::BAD_REQUEST, why))?),
            Endpoint::Store => None,
        };
        if project.trim() != found.id.to_string() {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("this DSN key is for project {}, not {project}", found.id),
            ));
        }
        let now = Timestamp::now();
        let taken = match &envelope {
            Some(envelope) => take_envelope(envelope, &found, now)?,
            None => {
                let (event, id) = event_item(&expanded, &found, now)?;
                Taken {
                    events: vec![event],
                    used: 1,
                    id,
                }
            }
        };
        if !taken.events.is_empty() {
            compat::commit(&state, taken.events)
                .await
                .map_err(|n| n.refuse(refuse))?;
        }
        Ok((taken.used, taken.id))
    }
    .await;
    if let Some(integration) = &integration {
        let (used, why) = match &result {
            Ok((used, _)) => (*used, None),
            Err(refusal) => (0, Some(refusal.why.as_str())),
        };
        state
            .integrations()
            .count(integration, used, compat::shown(&shown, &key), why);
    }
    let response = match result {
        Ok((_, Some(id))) => axum::Json(json!({ "id": id })).into_response(),
        Ok((_, None)) => axum::Json(json!({})).into_response(),
        Err(refusal) => {
            let reason = HeaderValue::from_str(&refusal.why).ok();
            let mut response = refusal.into_response();
            if let Some(reason) = reason {
                response.headers_mut().insert("x-sentry-error", reason);
            }
            response
        }
    };
    cors(response)
}

#[cfg(test)]
mod tests {
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
                .contains("99 bytes")
        );
        assert!(envelope_of(b"{}\n{\"length\":2}\n{}").unwrap_err().contains("no type"));
        assert!(envelope_of(b"not json").unwrap_err().contains("header"));
        assert!(envelope_of(b"{}").unwrap().items.is_empty());
    }

    #[test]
    fn the_key_comes_from_the_auth_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            key_of(&headers, Some("sentry_version=7&sentry_key=abc")).as_deref(),
            Some("abc")
        );
        headers.insert(
            "x-sentry-auth",
            "Sentry sentry_version=7, sentry_client=sentry.python/2.0, sentry_key=def"
                .parse()
                .unwrap(),
        );
        assert_eq!(key_of(&headers, Some("sentry_key=abc")).as_deref(), Some("def"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            "Sentry sentry_key=ghi, sentry_version=7".parse().unwrap(),
        );
        assert_eq!(key_of(&headers, None).as_deref(), Some("ghi"));
        headers.insert(header::AUTHORIZATION, "Bearer ghi".parse().unwrap());
        assert_eq!(key_of(&headers, None), None);
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
        assert!(stale_after(Some(&bad)).unwrap_err().contains("fortnight"));
        let bad = json!({"schedule": {"type": "crontab", "value": "every day"}});
        assert!(stale_after(Some(&bad)).unwrap_err().contains("five fields"));
    }
}
