//! Events: what applications and logs observed. One event is one observation, in one of
//! a few kinds that detectors understand, or `custom`.

mod wire;

pub use wire::{Reject, fingerprint_of, parse_line};

use core::net::IpAddr;
use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The longest line, in bytes, that one event may take; a longer line is refused whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// The longest text field, in bytes as written. A sender's event with a longer one is
/// refused, naming the field; fields read out of log lines are cut to it.
pub const MAX_FIELD_BYTES: usize = 8 * 1024;

/// One observation. Written to the event log as the same flat JSON object senders send,
/// so what is stored reads back through the same checks as what arrived.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Auth(AuthEvent),
    Request(RequestEvent),
    Error(ErrorEvent),
    VaultAccess(VaultEvent),
    Heartbeat(HeartbeatEvent),
    RateLimit(RateLimitEvent),
    Custom(CustomEvent),
    Alert(AlertEvent),
    Probe(ProbeEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Auth,
    Request,
    Error,
    VaultAccess,
    Heartbeat,
    RateLimit,
    Custom,
    Alert,
    Probe,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Auth,
        Kind::Request,
        Kind::Error,
        Kind::VaultAccess,
        Kind::Heartbeat,
        Kind::RateLimit,
        Kind::Custom,
        Kind::Alert,
        Kind::Probe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Auth => "auth",
            Kind::Request => "request",
            Kind::Error => "error",
            Kind::VaultAccess => "vault_access",
            Kind::Heartbeat => "heartbeat",
            Kind::RateLimit => "rate_limit",
            Kind::Custom => "custom",
            Kind::Alert => "alert",
            Kind::Probe => "probe",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    pub fn at(&self) -> Timestamp {
        match self {
            Event::Auth(e) => e.at,
            Event::Request(e) => e.at,
            Event::Error(e) => e.at,
            Event::VaultAccess(e) => e.at,
            Event::Heartbeat(e) => e.at,
            Event::RateLimit(e) => e.at,
            Event::Custom(e) => e.at,
            Event::Alert(e) => e.at,
            Event::Probe(e) => e.at,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Event::Auth(_) => Kind::Auth,
            Event::Request(_) => Kind::Request,
            Event::Error(_) => Kind::Error,
            Event::VaultAccess(_) => Kind::VaultAccess,
            Event::Heartbeat(_) => Kind::Heartbeat,
            Event::RateLimit(_) => Kind::RateLimit,
            Event::Custom(_) => Kind::Custom,
            Event::Alert(_) => Kind::Alert,
            Event::Probe(_) => Kind::Probe,
        }
    }

    /// The address it came from, when it names one.
    pub fn address(&self) -> Option<String> {
        match self {
            Event::Auth(e) => Some(e.source.to_string()),
            Event::Request(e) => e.source.as_ref().map(Source::to_string),
            Event::VaultAccess(e) => e.source.as_ref().map(Source::to_string),
            Event::RateLimit(e) => e.source.as_ref().map(Source::to_string),
            Event::Error(e) => e.user.as_ref().and_then(|u| u.ip.clone()),
            Event::Heartbeat(_) | Event::Custom(_) | Event::Alert(_) | Event::Probe(_) => None,
        }
    }

    /// Whether it is about `account`: the user of a login, the principal reading the
    /// vault, the user an error happened to, the agent of a heartbeat.
    pub fn is_about_account(&self, account: &str) -> bool {
        let same = |name: &str| name.eq_ignore_ascii_case(account);
        match self {
            Event::Auth(e) => same(&e.user),
            Event::VaultAccess(e) => same(&e.principal),
            Event::Heartbeat(e) => same(&e.agent),
            Event::Error(e) => e.user.as_ref().is_some_and(|u| {
                [&u.id, &u.username, &u.email]
                    .into_iter()
                    .flatten()
                    .any(|name| same(name))
            }),
            _ => false,
        }
    }

    /// The event as one line of NDJSON, the form it is stored in.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serializes")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthOutcome {
    Success,
    Failure,
}

impl AuthOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthOutcome::Success => "success",
            AuthOutcome::Failure => "failure",
        }
    }
}

/// Why an attempt ended as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthReason {
    Ok,
    BadPassword,
    BadPublickey,
    InvalidUser,
    /// The account exists but may not log in.
    Disabled,
    /// Refused unchecked: too many recent failures.
    Throttled,
    Other,
}

impl AuthReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthReason::Ok => "ok",
            AuthReason::BadPassword => "bad_password",
            AuthReason::BadPublickey => "bad_publickey",
            AuthReason::InvalidUser => "invalid_user",
            AuthReason::Disabled => "disabled",
            AuthReason::Throttled => "throttled",
            AuthReason::Other => "other",
        }
    }
}

/// Where an attempt came from: an address, or a host name when the server logged one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Source {
    Ip(IpAddr),
    Host(String),
}

impl Source {
    pub fn parse(text: &str) -> Self {
        match text.parse::<IpAddr>() {
            Ok(ip) => Source::Ip(ip),
            Err(_) => Source::Host(text.to_owned()),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Ip(ip) => ip.fmt(f),
            Source::Host(host) => f.write_str(host),
        }
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
pub fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

impl Event {
    /// Cuts the text fields that log lines fill (auth and request events) to `max` bytes,
    /// so that a log line cannot store a field longer than a sender may send.
    pub fn cut_fields(&mut self, max: usize) {
        let optional = |field: &mut Option<String>| {
            if let Some(text) = field {
                cut(text, max);
            }
        };
        match self {
            Event::Auth(a) => {
                for field in [&mut a.user, &mut a.method, &mut a.service] {
                    cut(field, max);
                }
                for field in [&mut a.user_agent, &mut a.tenant, &mut a.host] {
                    optional(field);
                }
            }
            Event::Request(r) => {
                cut(&mut r.method, max);
                cut(&mut r.path, max);
                for field in [&mut r.tenant, &mut r.service, &mut r.user_agent, &mut r.host] {
                    optional(field);
                }
            }
            _ => {}
        }
    }
}

/// One authentication attempt: one password tried, one key offered, one unknown user
/// probed. A log may spend several lines on one attempt; it is still one attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub outcome: AuthOutcome,
    pub user: String,
    #[serde(rename = "ip")]
    pub source: Source,
    /// password, publickey, keyboard-interactive/pam, hostbased, none.
    pub method: String,
    pub reason: AuthReason,
    /// The service that was logged into, like `sshd`.
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The machine that logged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// One HTTP request as an application or proxy served it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(rename = "ip", skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

/// An application error, as an error tracker would group it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub service: String,
    pub level: Level,
    /// What groups errors of one cause. Senders may give their own; otherwise it is taken
    /// from the message with its numbers and quoted values masked.
    pub fingerprint: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// What was thrown, where an error tracker's SDK saw an exception.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<Box<Exception>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Whom the error happened to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Box<User>>,
    /// The sender's own id of the event (Sentry's `event_id`), to find it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// An exception: its type, its value, and the frame of its stack it was raised in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The innermost frame of the application's own code, or the innermost frame where
    /// none is marked as the application's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<Frame>,
}

/// One frame of a stack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl fmt::Display for Frame {
    /// `function in file:line`, with what is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(function) = &self.function {
            write!(f, "{function} in ")?;
        }
        f.write_str(self.file.as_deref().or(self.module.as_deref()).unwrap_or("?"))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// The person an error happened to, as the application named them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultOutcome {
    Allowed,
    Denied,
}

/// One access to a secret store: who touched which secret, how, and whether it was allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VaultEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub principal: String,
    /// The secret's path.
    pub path: String,
    /// read, write, list, delete, …
    pub action: String,
    pub outcome: VaultOutcome,
    #[serde(rename = "ip", skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// An agent saying it is alive, with what it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeartbeatEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// How long this agent may be silent before it is stale, when not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<crate::duration::Duration>,
}

/// What one run of one of the plan's probes found: tocsin's own observation, written by
/// the probes' worker for runs that failed and for runs that turned the probe up or down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    /// The probe's id in the plan.
    pub probe: String,
    pub ok: bool,
    pub latency_ms: u64,
    /// What it saw, like `HTTP 200`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
}

/// A rate limiter's decision for one key under one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RateLimitEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub key: String,
    pub policy: String,
    pub decision: Decision,
    #[serde(rename = "ip", skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// Anything else a sender wants on the record: a name and free attributes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    pub name: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Alerts as one delivery from another tool brought them: a Prometheus batch, a PagerDuty
/// trigger, a Sentry alert. Kept as they came, so the alerts' lives can be told again
/// from the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertEvent {
    #[serde(rename = "ts")]
    pub at: Timestamp,
    /// The integration's name, like `prometheus`.
    pub source: String,
    pub via: crate::alert::Via,
    pub alerts: Vec<crate::alert::Alert>,
}

impl AlertEvent {
    /// A delivery of `alerts` from the integration `source`, received `at`, as an event.
    pub fn delivery(source: &str, via: crate::alert::Via, alerts: Vec<crate::alert::Alert>, at: Timestamp) -> Event {
        Event::Alert(AlertEvent {
            at,
            source: source.to_owned(),
            via,
            alerts,
        })
    }
}
