//! Events: what applications and logs observed. For now, authentication attempts.

mod wire;

pub use wire::{Reject, parse_line};

use core::net::IpAddr;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthOutcome {
    Success,
    Failure,
}

/// Why an attempt ended as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthReason {
    Ok,
    BadPassword,
    BadPublickey,
    InvalidUser,
    Other,
}

impl AuthReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthReason::Ok => "ok",
            AuthReason::BadPassword => "bad_password",
            AuthReason::BadPublickey => "bad_publickey",
            AuthReason::InvalidUser => "invalid_user",
            AuthReason::Other => "other",
        }
    }
}

/// Where an attempt came from: an address, or a host name when the server logged one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

/// One authentication attempt: one password tried, one key offered, one unknown user
/// probed. A log may spend several lines on one attempt; it is still one attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthEvent {
    pub at: Timestamp,
    pub outcome: AuthOutcome,
    pub user: String,
    pub source: Source,
    /// password, publickey, keyboard-interactive/pam, hostbased, none.
    pub method: String,
    pub reason: AuthReason,
    /// The service that was logged into, like `sshd`.
    pub service: String,
    pub user_agent: Option<String>,
    pub tenant: Option<String>,
    /// The machine that logged it.
    pub host: Option<String>,
    pub port: Option<u16>,
}
