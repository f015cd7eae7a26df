//! Alertmanager's side of the wire: its API v2 (`POST|GET /api/v2/alerts`,
//! `GET /api/v2/status`), complete enough that Prometheus lists tocsin under
//! `alerting.alertmanagers` and `amtool alert add|query` work against it; and the
//! webhook that an Alertmanager's `webhook_config` receiver posts to (payload version 4),
//! read by `tocsin_core::senders::alertmanager`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::alert::{Alert, BadAlert, Postable, Via, postable};
use tocsin_core::event::AlertEvent;
use tocsin_core::identity::Permission;
use tocsin_core::senders::alertmanager::read_webhook_alerts;
use tocsin_store::events::NewEvent;
use tocsin_store::integrations::{AlertFilter, StoredAlert};

use super::compat::{self, Gate, NotTaken, Refusal, Unread};
use crate::http::AppState;

/// Bodies of posted alerts, and of webhooks, read at once.
static POSTED: Gate = Gate::new();
/// Bodies larger than this are read off the request threads.
const PARSE_INLINE: usize = 256 * 1024;
static HOOKS: Gate = Gate::new();
use crate::services::integrations::{Integration, IntegrationKind};

/// The largest body taken: Alertmanager itself sets no limit, and a webhook of a big
/// group can be large.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long a read waits for alerts just posted to be applied.
const READ_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
/// Alerts listed at most.
const LIST_MAX: u32 = 10_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/alerts", post(post_alerts).get(get_alerts))
        .route("/api/v2/status", get(status))
        .route("/api/v2/silences", get(silences))
        .route("/api/v2/receivers", get(receivers))
        .route("/api/v1/webhooks/alertmanager", post(webhook))
        .route("/api/v1/webhooks/alertmanager/{key}", post(webhook_at))
}

/// Alertmanager's error shape.
fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    let message = compat::brief(&message.into());
    Refusal::new(
        status,
        message.clone(),
        json!({"code": status.as_u16(), "message": message}),
    )
}

fn not_taken(n: NotTaken) -> Refusal {
    n.refuse(refuse)
}

/// Who posts or reads alerts: an Alertmanager integration, or an API token.
enum Sender {
    Integration(Arc<Integration>),
    Token(String),
}

impl Sender {
    fn source(&self) -> String {
        match self {
            Sender::Integration(i) => i.name.clone(),
            Sender::Token(name) => format!("token:{name}"),
        }
    }
}

/// Authenticates by bearer token: an Alertmanager integration's key, or an API token
/// with one of `permissions`.
async fn sender(state: &AppState, headers: &HeaderMap, permissions: &[Permission]) -> Result<Sender, Refusal> {
    let Some(key) = compat::bearer(headers) else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "send the integration's key as \"Authorization: Bearer KEY\" (tocsin integration add alertmanager --name NAME prints one)",
        ));
    };
    if let Some(found) = compat::integration(state, key, IntegrationKind::Alertmanager)
        .await
        .map_err(not_taken)?
    {
        return Ok(Sender::Integration(found));
    }
    let now = tocsin_core::to_millis(Timestamp::now());
    match state.identity().authenticate_token(key, now).await {
        Ok(principal) if permissions.iter().any(|p| principal.permits(*p)) => match principal {
            crate::services::identity::Principal::Token { name, .. } => Ok(Sender::Token(name)),
            crate::services::identity::Principal::User { name, .. } => Ok(Sender::Token(name.to_string())),
        },
        Ok(_) => Err(refuse(
            StatusCode::FORBIDDEN,
            match permissions {
                [Permission::Ingest] => "this token needs the ingest scope to post alerts",
                _ => "this token needs the read or ingest scope to read alerts",
            },
        )),
        Err(_) => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "the bearer token is neither an alertmanager integration's key nor a tocsin API token",
        )),
    }
}

/// Counts a request of an integration; API tokens are not counted.
fn count(state: &AppState, sender: &Sender, accepted: u64, body: Bytes, refused: Option<&str>) {
    if let Sender::Integration(integration) = sender {
        state.integrations().count(integration, accepted, body, refused);
    }
}

/// Refuses a declared content type other than JSON, as Alertmanager does.
fn json_only(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(refuse(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("unsupported media type \"{essence}\", only [application/json] are allowed"),
    ))
}

/// `POST /api/v2/alerts`: a JSON array of alerts. Answered once they are committed.
async fn post_alerts(State(state): State<AppState>, headers: HeaderMap, body: Unread) -> Result<StatusCode, Refusal> {
    let sender = sender(&state, &headers, &[Permission::Ingest]).await?;
    match take_posted(&state, &sender, &headers, body).await {
        Ok((accepted, body)) => {
            count(&state, &sender, accepted, body, None);
            Ok(StatusCode::OK)
        }
        Err((refusal, body)) => {
            count(&state, &sender, 0, body, Some(&refusal.why));
            Err(refusal)
        }
    }
}

async fn take_posted(
    state: &AppState,
    sender: &Sender,
    headers: &HeaderMap,
    body: Unread,
) -> Result<(u64, Bytes), (Refusal, Bytes)> {
    let body = body
        .read(&POSTED, MAX_BODY)
        .await
        .map_err(|(status, why)| (refuse(status, why), Bytes::new()))?;
    let fail = |refusal: Refusal| (refusal, body.clone());
    json_only(headers).map_err(fail)?;
    let now = Timestamp::now();
    let read = {
        let body = body.clone();
        move || -> Result<Vec<Alert>, BadAlert> {
            let posted: Vec<Postable> =
                compat::json(&body).map_err(|e| BadAlert(format!("parsing alerts body failed: {e}")))?;
            posted
                .into_iter()
                .enumerate()
                .map(|(i, p)| postable(i, p, now))
                .collect()
        }
    };
    // A large body is read off the request threads, so that it delays no other request.
    let alerts = if body.len() <= PARSE_INLINE {
        read()
    } else {
        tokio::task::spawn_blocking(read)
            .await
            .unwrap_or_else(|_| Err(BadAlert("the body could not be read".to_owned())))
    }
    .map_err(|e| fail(refuse(StatusCode::BAD_REQUEST, e.0)))?;
    if alerts.is_empty() {
        return Ok((0, body));
    }
    let accepted = alerts.len() as u64;
    let event = posted_event(&sender.source(), &body, alerts, now);
    compat::commit(state, vec![event])
        .await
        .map_err(|n| fail(not_taken(n)))?;
    Ok((accepted, body))
}

/// A delivery to `/api/v2/alerts` as the log keeps it: the body as posted, which the
/// log's reader turns into the same alerts by the same rules at the same time. Half the
/// bytes of the alerts written out, and nothing to write.
fn posted_event(source: &str, body: &[u8], alerts: Vec<Alert>, now: Timestamp) -> NewEvent {
    let posted = std::str::from_utf8(body).expect("a body read as JSON is UTF-8");
    let stored = format!(
        "{{\"kind\":\"alert\",\"ts\":\"{now}\",\"source\":{},\"via\":\"{}\",\"posted\":{posted}}}",
        serde_json::Value::from(source),
        Via::Alertmanager.as_str(),
    );
    let event = AlertEvent::delivery(source, Via::Alertmanager, alerts, now);
    NewEvent::with_body(event, stored, &compat::origin(source), now)
}

/// One label matcher of a `filter`: `name=value`, `!=`, `=~` or `!~`.
#[derive(Debug)]
enum Matcher {
    Equal(String, String),
    NotEqual(String, String),
    Matches(String, regex::Regex),
    NotMatches(String, regex::Regex),
}

impl Matcher {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = |name: &str| labels.get(name).map_or("", String::as_str);
        match self {
            Matcher::Equal(n, v) => value(n) == v,
            Matcher::NotEqual(n, v) => value(n) != v,
            Matcher::Matches(n, re) => re.is_match(value(n)),
            Matcher::NotMatches(n, re) => !re.is_match(value(n)),
        }
    }
}

/// Reads matchers as amtool writes them: `a=b`, `a="b c"`, `{a=~"x.*",b!="y"}`.
fn matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let inner = text.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(inner);
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("bad matcher \"{rest}\": no operator"))?;
        let (name, after) = rest.split_at(name_end);
        let after = after.trim_start();
        let (op, after) = ["=~", "!~", "!=", "="]
            .into_iter()
            .find_map(|op| after.strip_prefix(op).map(|a| (op, a.trim_start())))
            .ok_or_else(|| format!("bad matcher \"{rest}\": expected =, !=, =~ or !~ after \"{name}\""))?;
        if name.is_empty() {
            return Err(format!("bad matcher \"{rest}\": no label name"));
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next().map(|(_, c)| c)),
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        c => value.push(c),
                    }
                }
                let end = end.ok_or_else(|| format!("bad matcher \"{rest}\": unclosed quote"))?;
                (value, &quoted[end..])
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            }
        };
        let regex = |v: &str| regex::Regex::new(&format!("^(?:{v})$")).map_err(|e| format!("bad regex \"{v}\": {e}"));
        out.push(match op {
            "=" => Matcher::Equal(name.to_owned(), value),
            "!=" => Matcher::NotEqual(name.to_owned(), value),
            "=~" => Matcher::Matches(name.to_owned(), regex(&value)?),
            _ => Matcher::NotMatches(name.to_owned(), regex(&value)?),
        });
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

/// The labels an alert shows under: its own, or for alerts that came without labels
/// (PagerDuty, Sentry) its summary as `alertname` and its source.
fn shown_labels(a: &StoredAlert) -> BTreeMap<String, String> {
    if !a.alert.labels.is_empty() {
        return a.alert.labels.clone();
    }
    BTreeMap::from([
        ("alertname".to_owned(), a.alert.summary.clone()),
        ("source".to_owned(), a.source.clone()),
    ])
}

fn go_time(at: Option<Timestamp>) -> String {
    match at {
        Some(at) => format!("{:.3}", tocsin_core::to_millis(at)),
        None => "0001-01-01T00:00:00.000Z".to_owned(),
    }
}

/// `GET /api/v2/alerts`: the open alerts, as `gettableAlert`s, filtered by `filter`
/// matchers. tocsin has no silences or inhibitions: every open alert is active.
async fn get_alerts(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    sender(&state, &headers, &[Permission::Read, Permission::Ingest]).await?;
    let mut filters = Vec::new();
    let mut active = true;
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "filter" => filters.extend(matchers(&value).map_err(|e| refuse(StatusCode::BAD_REQUEST, e))?),
            "active" => active = value != "false",
            _ => {}
        }
    }
    // Alerts posted just before are applied within moments: wait for them.
    let committed = *state.0.pipeline.log().committed().borrow();
    state.0.pipeline.alerts().caught_up(committed, READ_PATIENCE).await;
    let filter = AlertFilter {
        open: true,
        limit: LIST_MAX,
        ..AlertFilter::default()
    };
    let stored = state.0.store.alerts(&filter).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the alerts");
        refuse(StatusCode::INTERNAL_SERVER_ERROR, "the alerts cannot be read now")
    })?;
    let listed: Vec<serde_json::Value> = stored
        .iter()
        .filter(|_| active)
        .filter_map(|a| {
            let labels = shown_labels(a);
            filters.iter().all(|m| m.matches(&labels)).then(|| {
                json!({
                    "annotations": a.alert.annotations,
                    "endsAt": go_time(a.alert.ends_at),
                    "fingerprint": a.alert.fingerprint,
                    "receivers": [{"name": "tocsin"}],
                    "startsAt": go_time(Some(a.alert.starts_at)),
                    "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
                    "updatedAt": go_time(Some(a.updated_at)),
                    "generatorURL": a.alert.url.clone().unwrap_or_default(),
                    "labels": labels,
                })
            })
        })
        .collect();
    Ok(axum::Json(listed).into_response())
}

/// `GET /api/v2/status`, as `alertmanagerStatus`.
async fn status(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Refusal> {
    sender(&state, &headers, &[Permission::Read, Permission::Ingest]).await?;
    Ok(axum::Json(json!({
        "cluster": {"status": "disabled", "peers": []},
        "config": {"original": "# tocsin takes alerts here; its plan (tocsin.toml) routes them\n"},
        "uptime": go_time(Some(state.0.started_at)),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": format!("tocsin {}", env!("CARGO_PKG_VERSION")),
        },
    }))
    .into_response())
}

/// `GET /api/v2/silences`: tocsin keeps none (the plan's `[[suppress]]` tables do that
/// work), so the list is empty.
async fn silences(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Refusal> {
    sender(&state, &headers, &[Permission::Read, Permission::Ingest]).await?;
    Ok(axum::Json(json!([])).into_response())
}

async fn receivers(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Refusal> {
    sender(&state, &headers, &[Permission::Read, Permission::Ingest]).await?;
    Ok(axum::Json(json!([{"name": "tocsin"}])).into_response())
}

/// `POST /api/v1/webhooks/alertmanager` with the key as a bearer token.
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Unread) -> Response {
    let Some(key) = compat::bearer(&headers) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "send the integration's key as \"Authorization: Bearer KEY\", or post to /api/v1/webhooks/alertmanager/KEY",
        )
        .into_response();
    };
    let key = key.to_owned();
    take_webhook(&state, &key, &headers, body).await
}

/// `POST /api/v1/webhooks/alertmanager/<key>`, for senders that cannot set a header.
async fn webhook_at(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Unread,
) -> Response {
    take_webhook(&state, &key, &headers, body).await
}

async fn take_webhook(state: &AppState, key: &str, headers: &HeaderMap, body: Unread) -> Response {
    let integration = match compat::integration(state, key, IntegrationKind::Alertmanager).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return refuse(StatusCode::UNAUTHORIZED, "the key is not an alertmanager integration's").into_response();
        }
        Err(n) => return not_taken(n).into_response(),
    };
    let body = match body.read(&HOOKS, MAX_BODY).await {
        Ok(body) => body,
        Err((status, why)) => {
            state.integrations().count(&integration, 0, Bytes::new(), Some(&why));
            return refuse(status, why).into_response();
        }
    };
    let result = read_webhook(state, &integration, headers, &body).await;
    let (accepted, refused) = match &result {
        Ok(accepted) => (*accepted, None),
        Err(refusal) => (0, Some(refusal.why.as_str())),
    };
    state
        .integrations()
        .count(&integration, accepted, body.clone(), refused);
    match result {
        Ok(_) => (StatusCode::OK, axum::Json(json!({"status": "success"}))).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn read_webhook(
    state: &AppState,
    integration: &Integration,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<u64, Refusal> {
    json_only(headers)?;
    let now = Timestamp::now();
    let alerts = read_webhook_alerts(body, now).map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
    if alerts.is_empty() {
        return Ok(0);
    }
    let accepted = alerts.len() as u64;
    let event = compat::alert_event(&integration.name, Via::Alertmanager, alerts, now);
    compat::commit(state, vec![event]).await.map_err(not_taken)?;
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use tocsin_core::alert::AlertStatus;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn matchers_read_as_amtool_writes_them() {
        let set = labels(&[("alertname", "High Latency"), ("job", "node-1")]);
        let all = |text: &str| matchers(text).unwrap().iter().all(|m| m.matches(&set));
        assert!(all("alertname=\"High Latency\""));
        assert!(all("{alertname=\"High Latency\", job=~\"node-.*\"}"));
        assert!(all("job!=web"));
        assert!(all("job!~\"web.*\""));
        assert!(all("missing=\"\""));
        assert!(!all("job=node"));
        assert!(!all("job=~node"));
        assert!(matchers("job").is_err());
        assert!(matchers("job=~\"(\"").is_err());
        assert!(matchers("job=\"open").is_err());
    }

    #[test]
    fn a_posted_body_is_kept_as_it_came_and_reads_back_as_the_same_alerts() {
        let now: Timestamp = "2026-01-05T10:00:00.123456789Z".parse().unwrap();
        let body = br#" [ {"labels": {"alertname": "Down", "instance": "web-1"}, "startsAt": "0001-01-01T00:00:00Z"},
            {"labels": {"alertname": "Disk"}, "annotations": {"summary": "full \u00e9"}, "endsAt": "2026-01-05T09:00:00Z"} ] "#;
        let posted: Vec<Postable> = serde_json::from_slice(body).unwrap();
        let alerts: Vec<Alert> = posted
            .into_iter()
            .enumerate()
            .map(|(i, p)| postable(i, p, now).unwrap())
            .collect();
        let event = posted_event("token:ci \"bot\"", body, alerts, now);
        assert!(
            event.body().len() < event.event.to_json().len(),
            "the kept body is the smaller"
        );
        assert!(
            event.body().contains(r#""source":"token:ci \"bot\"""#),
            "{}",
            event.body()
        );
        assert_eq!(tocsin_core::event::parse_line(1, event.body()), Ok(event.event.clone()));
        let tocsin_core::event::Event::Alert(alert) = &event.event else {
            unreachable!()
        };
        assert_eq!(alert.alerts[0].starts_at, now);
        assert_eq!(alert.alerts[1].status, AlertStatus::Resolved);
    }
}
