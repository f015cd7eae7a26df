//! Readers of what outside senders post, beside tocsin's own wire format: a body in,
//! events out, or why it cannot be read. They are pure: the HTTP around them (keys, body
//! limits, decompression, committing) is the server's.

pub mod alertmanager;
pub mod heartbeat;
pub mod pagerduty;
pub mod sentry;
pub mod sentry_hooks;
pub mod vercel;

use std::fmt;

use crate::Timestamp;
use crate::event::Event;

/// The kinds of outside senders an integration stands for: each integration's key is
/// taken from the senders of its kind only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegrationKind {
    /// The Alertmanager webhook, and `/api/v2/alerts` as Prometheus and amtool use it.
    Alertmanager,
    /// PagerDuty's Events API v2: the key is the routing key.
    Pagerduty,
    /// Sentry SDKs: the key is the DSN's public key, the integration's id its project id.
    Sentry,
    /// Sentry's webhooks (issue and metric alerts), signed with the client secret.
    SentryWebhook,
    /// `GET|POST /api/v1/heartbeat/<key>`.
    Heartbeat,
    /// Vercel log drains ([`vercel::Drain`]).
    Vercel,
    /// A CrowdSec bouncer, which reads tocsin's blocks through the Local API
    /// ([`crate::crowdsec`]): the key is its `X-Api-Key`. It sends nothing to detect.
    Bouncer,
}

impl IntegrationKind {
    /// Every kind, in the order people are shown them.
    pub const ALL: [IntegrationKind; 7] = [
        IntegrationKind::Alertmanager,
        IntegrationKind::Pagerduty,
        IntegrationKind::Sentry,
        IntegrationKind::SentryWebhook,
        IntegrationKind::Heartbeat,
        IntegrationKind::Vercel,
        IntegrationKind::Bouncer,
    ];

    /// The name `tocsin integration add` takes, like `alertmanager`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Alertmanager => "alertmanager",
            IntegrationKind::Pagerduty => "pagerduty",
            IntegrationKind::Sentry => "sentry",
            IntegrationKind::SentryWebhook => "sentry-webhook",
            IntegrationKind::Heartbeat => "heartbeat",
            IntegrationKind::Vercel => vercel::Drain::NAME,
            IntegrationKind::Bouncer => "crowdsec-bouncer",
        }
    }

    /// The kind a name names, if one does.
    pub fn parse(text: &str) -> Option<IntegrationKind> {
        IntegrationKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// What signs this kind's deliveries with a secret the integration keeps.
    pub fn signature(self) -> Option<Signature> {
        match self {
            IntegrationKind::SentryWebhook => Some(Signature::HmacSha256 {
                header: "sentry-hook-signature",
            }),
            IntegrationKind::Vercel => vercel::Drain::SIGNATURE,
            _ => None,
        }
    }

    /// The kinds whose senders sign, named for messages: "sentry-webhook and vercel".
    pub fn signing() -> String {
        let names: Vec<&str> = IntegrationKind::ALL
            .into_iter()
            .filter(|k| k.signature().is_some())
            .map(IntegrationKind::as_str)
            .collect();
        names.join(" and ")
    }

    /// The route of a sender received through the one generic path, with `{key}` where
    /// the integration's key goes, and how to set the sender up.
    pub fn received_at(self) -> Option<(&'static str, &'static str)> {
        match self {
            IntegrationKind::Vercel => Some((vercel::Drain::PATH, vercel::Drain::SETUP)),
            _ => None,
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a sender signs its bodies with the integration's secret: the lowercase hex HMAC of
/// the body, in `header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    /// HMAC-SHA256 (Sentry's webhooks).
    HmacSha256 {
        /// The header that carries it.
        header: &'static str,
    },
    /// HMAC-SHA1 (Vercel's drains).
    HmacSha1 {
        /// The header that carries it.
        header: &'static str,
    },
}

/// A sender the server receives through its one generic path: a POST to [`Sender::PATH`]
/// with the integration's key in the path, a body of at most [`Sender::MAX_BODY`] bytes
/// (compressed or not), signed as [`Sender::SIGNATURE`] says, read by [`Sender::read`].
/// A new sender is this, its reader, its kind above, and one line of routing.
pub trait Sender {
    /// The integrations' kind, as `tocsin integration add` names it.
    const NAME: &'static str;
    /// Its integrations' kind, the same as [`Sender::NAME`] names.
    const KIND: IntegrationKind;
    /// The route, with `{key}` where the integration's key goes.
    const PATH: &'static str;
    /// The largest body taken, after expansion.
    const MAX_BODY: usize;
    /// How the bodies are signed, if they are.
    const SIGNATURE: Option<Signature> = None;
    /// A header the sender's setup wants in every answer, holding the integration's
    /// `verify` setting: how it proves the endpoint is the one its owner configured
    /// (Vercel's `x-vercel-verify`).
    const VERIFY_HEADER: Option<&'static str> = None;
    /// How to point the sender at tocsin, `{url}` standing for the route's full address.
    const SETUP: &'static str;

    /// The events of a body, or why it cannot be taken.
    fn read(body: &[u8], now: Timestamp) -> Result<Vec<Event>, Unreadable>;
}

/// Why a sender's body cannot be taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// Larger than the format allows.
    #[error("{0}")]
    TooLarge(String),
    /// Not what the format says.
    #[error("{0}")]
    Invalid(String),
}

impl Unreadable {
    /// Not what the format says, for `why`.
    pub fn invalid(why: impl Into<String>) -> Unreadable {
        Unreadable::Invalid(why.into())
    }
}

/// Reads JSON, naming the place of the first problem. JSON is UTF-8 throughout, in the
/// fields that are skipped too: a body that is not is refused whole.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Unreadable> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Unreadable::Invalid(format!(
            "the body is not UTF-8: invalid bytes at offset {}",
            e.valid_up_to()
        ))
    })?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Unreadable::Invalid(match path.as_str() {
            "." | "?" => inner.to_string(),
            _ => format!("{path}: {inner}"),
        })
    })?;
    deserializer.end().map_err(|e| Unreadable::Invalid(e.to_string()))?;
    Ok(value)
}
