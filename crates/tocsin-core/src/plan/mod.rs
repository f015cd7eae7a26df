//! The incident response plan (`tocsin.toml`): what it promises, validated as a whole.

mod build;
pub mod presets;
mod read;

use std::fmt;

use jiff::civil::{Date, Weekday};
use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::id::{ObligationId, RoleId, SeverityId, StepId, closest};
use crate::ratelimit::RatePolicy;

/// A valid plan. Only [`Plan::parse`] builds one.
#[derive(Clone, Debug)]
pub struct Plan {
    organization: Organization,
    calendar: Calendar,
    severities: Vec<Severity>,
    steps: Vec<StepTemplate>,
    roles: Vec<Role>,
    review: Review,
    obligations: Vec<Obligation>,
    disclosure: Option<Disclosure>,
    rate_limits: Vec<RatePolicy>,
    rules: Vec<Rule>,
    suppressions: Vec<Suppression>,
    integrations: Vec<IntegrationRule>,
    channels: Vec<Channel>,
    routes: Vec<Route>,
    people: Vec<Person>,
    escalation: Option<Escalation>,
    detection: Detection,
    /// The answers to "are customers affected?" that start the customer-notice clock.
    customer_notice_when: Vec<crate::incident::CustomerImpact>,
    recovery: Recovery,
    audit: AuditSeal,
    digest: String,
    source: String,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Organization {
    pub name: String,
    pub timezone: String,
    pub working_days: Vec<Weekday>,
    pub holidays: Vec<Date>,
    pub security_contact: Option<String>,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Severity {
    pub id: SeverityId,
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
    pub acknowledge_within: Duration,
    pub status_update_every: Option<Duration>,
    pub customer_notice_within: Option<Duration>,
    pub pages: bool,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StepTemplate {
    pub id: StepId,
    pub name: String,
    pub description: String,
    pub checklist: Vec<String>,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub required_for: Vec<SeverityId>,
    /// Ids of the plan's people who hold the role until an incident assigns it.
    pub people: Vec<String>,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Review {
    pub step: StepId,
    pub within: Duration,
}

/// A duty with a deadline that the plan (or the law) attaches to some incidents.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Obligation {
    pub id: ObligationId,
    pub name: String,
    pub description: String,
    pub from: ClockStart,
    /// `None`: tracked until met, without a fixed deadline ("without undue delay").
    pub within: Option<Duration>,
    /// `None`: every severity.
    pub severities: Option<Vec<SeverityId>>,
    /// Applies only while the incident involves personal data.
    pub personal_data: bool,
    pub met_by: NoticeKind,
    /// While it is not met, remind this often (a notice "without undue delay" has no
    /// deadline to warn before).
    pub remind_every: Option<Duration>,
}

/// Vulnerability reports from outside (security.txt): how fast they are answered.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Disclosure {
    pub contact: Option<String>,
    pub acknowledge_within: Duration,
    pub assess_within: Duration,
}

/// The moment an obligation's clock starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClockStart {
    Declaration,
    Awareness,
    /// When the organization became aware that personal data is involved.
    PersonalDataAwareness,
    Acknowledgement,
    Resolution,
    /// When another obligation was met (NIS2's final report follows its notification).
    Met(ObligationId),
}

impl ClockStart {
    /// The moment in words, as in "within 72h of awareness of personal data".
    pub fn words(&self) -> String {
        match self {
            ClockStart::Declaration => "declaration".into(),
            ClockStart::Awareness => "awareness".into(),
            ClockStart::PersonalDataAwareness => "awareness of personal data".into(),
            ClockStart::Acknowledgement => "acknowledgement".into(),
            ClockStart::Resolution => "resolution".into(),
            ClockStart::Met(id) => format!("meeting {id}"),
        }
    }
}

impl fmt::Display for ClockStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockStart::Declaration => f.write_str("declaration"),
            ClockStart::Awareness => f.write_str("awareness"),
            ClockStart::PersonalDataAwareness => f.write_str("personal-data-awareness"),
            ClockStart::Acknowledgement => f.write_str("acknowledgement"),
            ClockStart::Resolution => f.write_str("resolution"),
            ClockStart::Met(id) => write!(f, "{id}"),
        }
    }
}

/// What was told to whom; recording one meets the clocks that wait for it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoticeKind {
    Customers,
    Authority,
    DataSubjects,
    StatusUpdate,
    Obligation(ObligationId),
}

pub(crate) const BUILT_IN_NOTICES: [&str; 4] = ["customers", "authority", "data-subjects", "status-update"];

impl NoticeKind {
    pub fn as_str(&self) -> &str {
        match self {
            NoticeKind::Customers => "customers",
            NoticeKind::Authority => "authority",
            NoticeKind::DataSubjects => "data-subjects",
            NoticeKind::StatusUpdate => "status-update",
            NoticeKind::Obligation(id) => id.as_str(),
        }
    }

    fn built_in(text: &str) -> Option<Self> {
        match text {
            "customers" => Some(NoticeKind::Customers),
            "authority" => Some(NoticeKind::Authority),
            "data-subjects" => Some(NoticeKind::DataSubjects),
            "status-update" => Some(NoticeKind::StatusUpdate),
            _ => None,
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one detector's signals lead to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    pub detector: String,
    pub disposition: crate::signal::Disposition,
    /// The severity to open or raise to; `None` takes tocsin's default for the detector.
    pub severity: Option<SeverityId>,
    /// `true`: all the detector's signals join one open incident, whatever they are
    /// about; `false`: one incident per source or key; `None`: tocsin's default for the
    /// detector ([`crate::signal::one_incident`]).
    pub one_incident: Option<bool>,
    /// Whether customers are affected by the incidents it opens; `None`: tocsin's default
    /// for the detector ([`crate::signal::default_rule`]).
    pub customers: Option<crate::incident::CustomerImpact>,
}

/// An `[[integration]]` table: what the alerts of one integration lead to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntegrationRule {
    /// The integration's name, as `tocsin integration add` was given it.
    pub name: String,
    /// For each of the sender's severity words ([`crate::alert::SEVERITY_WORDS`]), the
    /// plan's severity its alerts open incidents at; `None` when they are only recorded.
    /// Words the table does not name keep tocsin's default.
    pub severities: Vec<(String, Option<SeverityId>)>,
    /// Whether an incident resolves when every alert that joined it has resolved.
    pub resolve_incident: bool,
    /// Alerts of the integration tracked open at once, at most; further ones are folded
    /// into one signal that says so.
    pub max_open_alerts: u32,
}

/// Open alerts tracked per integration when its table does not say.
pub const MAX_OPEN_ALERTS: u32 = 10_000;

/// A `[[channel]]` table: where people are told, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// How routes and commands name it, like `ops-webhook`.
    pub name: String,
    pub kind: ChannelKind,
    /// Where messages go: a webhook's address, a Telegram Bot API server (the public one
    /// when `None`), an SMTP server (`smtp://host:port`, `smtps://host:port`). `None` for
    /// Slack, whose address is itself the secret.
    pub url: Option<String>,
    /// Where its secret is kept: never in the plan itself. A webhook's signing key, a
    /// Slack webhook's address, a Telegram bot's token, an SMTP password.
    pub secret: Option<Secret>,
    /// Telegram: the chat messages go to, a numeric id or `@channel`.
    pub chat: Option<String>,
    /// Telegram: the users who may act from the chat (by user id); when empty, anyone in
    /// the chat may.
    pub users: Vec<i64>,
    /// Email: the sender's address.
    pub from: Option<String>,
    /// Email: where messages go.
    pub to: Vec<String>,
    /// Email: the SMTP login, whose password is the secret.
    pub username: Option<String>,
    /// Email: how the connection to the server is secured.
    pub tls: SmtpTls,
    /// Email: a PEM file of the certificate authority that signed a private server's
    /// certificate, trusted beside the system's.
    pub ca_file: Option<String>,
}

/// The kinds of channel tocsin speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// JSON signed with HMAC-SHA256 (`Tocsin-Signature`).
    Webhook,
    /// A Slack incoming webhook (Block Kit); Mattermost and Rocket.Chat take the same.
    Slack,
    /// A Telegram bot, which also takes commands and button presses.
    Telegram,
    /// Email over SMTP.
    Email,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Webhook,
        ChannelKind::Slack,
        ChannelKind::Telegram,
        ChannelKind::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Email => "email",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// How an email channel's connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain at first, then TLS by STARTTLS, which the server must offer (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
    /// No TLS: only for a relay on the same host or network.
    None,
}

/// A `[[person]]` table: someone escalations and reminders can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// How the plan names them; their tocsin user name if they have one, so that an
    /// incident's owner finds them.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// Their Telegram user id: mentioned in the chat, and allowed to act from it.
    pub telegram: Option<i64>,
    /// Their Slack member id, mentioned in Slack messages.
    pub slack: Option<String>,
}

/// The `[escalation]` table: who is called, and when, while an incident at a paging
/// severity waits for someone to acknowledge it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    /// The severities that escalate.
    pub severities: Vec<SeverityId>,
    /// Where the calls go.
    pub channels: Vec<String>,
    /// In order of `after`.
    pub levels: Vec<EscalationLevel>,
    /// The last level is called again this often until someone acknowledges; `None`: once.
    pub repeat: Option<std::time::Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscalationLevel {
    /// Since the incident was declared.
    pub after: std::time::Duration,
    /// `owner` (the incident's), role ids (whoever holds the role on the incident, else
    /// the role's people), and people's ids.
    pub notify: Vec<String>,
}

/// Whether `chat` can name a Telegram chat: a numeric id, or `@name` of a public one.
pub fn check_telegram_chat(chat: &str) -> Result<(), String> {
    let chat = chat.trim();
    let numeric = chat.parse::<i64>().is_ok_and(|id| id != 0);
    let public = chat
        .strip_prefix('@')
        .is_some_and(|name| name.len() >= 4 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    match numeric || public {
        true => Ok(()),
        false => Err(format!(
            "\"{chat}\" is not a Telegram chat: use its numeric id (like -1001234567890) or @channelname"
        )),
    }
}

/// The kinds of news a route can carry.
pub const NEWS: [&str; 11] = [
    "declared",
    "acknowledged",
    "reopened",
    "severity_changed",
    "step_completed",
    "status_update",
    "clock_warning",
    "clock_breached",
    "resolved",
    "closed",
    "signal",
];

/// A `[[route]]` table: which news goes to which channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub channels: Vec<String>,
    /// Only these kinds of news (see [`NEWS`]); all when empty.
    pub events: Vec<String>,
    /// Only news of incidents at these severities; all when empty.
    pub severities: Vec<SeverityId>,
    /// Held back during these hours, in minutes after midnight in the plan's time zone
    /// (start, end; it may span midnight), and sent when they end.
    pub quiet_hours: Option<(u16, u16)>,
}

impl Route {
    /// When news that happened at `at` may go out on this route: then, or when the quiet
    /// hours it falls in end (in `zone`, the plan's time zone).
    pub fn send_at(&self, at: crate::Timestamp, zone: &jiff::tz::TimeZone) -> crate::Timestamp {
        let Some((start, end)) = self.quiet_hours else {
            return at;
        };
        let local = at.to_zoned(zone.clone());
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let quiet = match start < end {
            true => minute >= start && minute < end,
            false => minute >= start || minute < end,
        };
        if !quiet {
            return at;
        }
        let day = match minute < end {
            true => local.date(),
            false => local.date().tomorrow().unwrap_or(local.date()),
        };
        day.at((end / 60) as i8, (end % 60) as i8, 0, 0)
            .to_zoned(zone.clone())
            .map_or(at, |z| z.timestamp())
    }
}

/// Where a secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Secret {
    /// In this environment variable.
    Env(String),
    /// In this file (like a container secret).
    File(String),
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(name) => write!(f, "the environment variable {name}"),
            Secret::File(path) => write!(f, "the file {path}"),
        }
    }
}

/// A `[[suppress]]` table: signals the plan keeps on record without acting on them, like
/// those about the company's own scanner or a planned penetration test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// Only this detector's signals; every detector's when `None`.
    pub detector: Option<String>,
    pub key: KeyPattern,
    /// When it lapses.
    pub until: Option<crate::Timestamp>,
    /// Why, shown with every signal it suppresses.
    pub reason: String,
}

/// The signal keys a suppression covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPattern {
    /// This key.
    Exact(String),
    /// Keys that start with this (written with a trailing `*`).
    Prefix(String),
    /// Addresses in this network (written like `10.0.0.0/8` or `2001:db8::/32`).
    Network(core::net::IpAddr, u8),
}

impl KeyPattern {
    /// Reads `10.0.0.0/8`, `web-*` or an exact key; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the key is empty".into());
        }
        if let Some(prefix) = text.strip_suffix('*') {
            return Ok(KeyPattern::Prefix(prefix.to_owned()));
        }
        let Some((address, bits)) = text.split_once('/') else {
            return Ok(KeyPattern::Exact(text.to_owned()));
        };
        let address: core::net::IpAddr = address
            .parse()
            .map_err(|_| format!("\"{address}\" is not an IP address"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        match bits.parse::<u8>() {
            Ok(bits) if bits <= max => Ok(KeyPattern::Network(address, bits)),
            _ => Err(format!(
                "/{bits} is not a prefix length of an IPv{} network (0 to {max})",
                if max == 32 { 4 } else { 6 }
            )),
        }
    }

    pub fn matches(&self, key: &str) -> bool {
        match self {
            KeyPattern::Exact(exact) => key == exact,
            KeyPattern::Prefix(prefix) => key.starts_with(prefix.as_str()),
            KeyPattern::Network(network, bits) => key.parse().is_ok_and(|ip| in_network(ip, *network, *bits)),
        }
    }
}

fn in_network(ip: core::net::IpAddr, network: core::net::IpAddr, bits: u8) -> bool {
    use core::net::IpAddr;
    let (ip, network, width) = match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => (u128::from(ip.to_bits()), u128::from(net.to_bits()), 32),
        (IpAddr::V6(ip), IpAddr::V6(net)) => (ip.to_bits(), net.to_bits(), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || ip >> shift == network >> shift
}

/// Detector settings the plan may change. Each is `None` where the plan keeps tocsin's
/// default (see the detectors for their values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Detection {
    /// Brute force: more than `threshold` failures from one source within `window` seconds.
    pub brute_force_threshold: Option<u32>,
    pub brute_force_window_seconds: Option<i64>,
    /// Password spraying: this many distinct accounts from one source within the hour.
    pub spray_accounts: Option<u32>,
    /// Stale agents: no heartbeat for this many seconds.
    pub stale_agent_after_seconds: Option<i64>,
    /// Working hours on business days, as minutes after midnight in the plan's time zone
    /// (start, end); vault access outside them is reported when set.
    pub working_hours: Option<(u16, u16)>,
    /// After reporting a source, the failed-login and rate-limit detectors say nothing
    /// more of it for this many seconds.
    pub quiet_period_seconds: Option<i64>,
}

/// `[audit]`: how the audit chain's signed heads go out. tocsin signs the head after every
/// burst of changes and at least `sign_every`, into its heads file; with `channel`, each
/// signed head is also sent there, a copy that whoever can write the database cannot reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSeal {
    pub channel: Option<String>,
    pub sign_every_seconds: i64,
}

impl Default for AuditSeal {
    fn default() -> Self {
        AuditSeal {
            channel: None,
            sign_every_seconds: 3600,
        }
    }
}

/// `[recovery]`: after an incident is resolved, the detectors watch its keys (addresses,
/// accounts, agents, fingerprints) for the attack coming back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// How long after resolution; `None` when the plan turns the watch off.
    pub watch_seconds: Option<i64>,
    /// How many times more sensitive the detectors are for the watched keys.
    pub sensitivity: u32,
}

impl Default for Recovery {
    /// Both reference plans watch for up to 72 hours; twice as sensitive.
    fn default() -> Self {
        Recovery {
            watch_seconds: Some(72 * 3600),
            sensitivity: 2,
        }
    }
}

/// SHA-256 of a plan's text, as [`Plan::digest`] gives it: what names a plan version.
pub fn digest_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A plan that failed validation: every problem, in file order.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the plan has {} problem(s)", .problems.len())]
pub struct PlanError {
    pub problems: Vec<Diagnostic>,
}

impl PlanError {
    /// All problems as `file:line:column: message` lines.
    pub fn render(&self, file: &str, source: &str) -> String {
        self.problems
            .iter()
            .map(|p| p.render(file, source))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Plan {
    /// Reads and validates a whole plan, reporting every problem at once.
    pub fn parse(source: &str) -> Result<Plan, PlanError> {
        let mut plan = build::build(source).map_err(|mut problems| {
            problems.sort_by_key(|p| (p.span.start, p.span.end));
            PlanError { problems }
        })?;
        plan.digest = digest_of(source);
        plan.source = source.to_owned();
        Ok(plan)
    }

    pub fn organization(&self) -> &Organization {
        &self.organization
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Severities from the most to the least severe.
    pub fn severities(&self) -> &[Severity] {
        &self.severities
    }

    pub fn steps(&self) -> &[StepTemplate] {
        &self.steps
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    pub fn review(&self) -> &Review {
        &self.review
    }

    pub fn obligations(&self) -> &[Obligation] {
        &self.obligations
    }

    pub fn disclosure(&self) -> Option<&Disclosure> {
        self.disclosure.as_ref()
    }

    /// The rate-limit policies: the plan's `[[rate_limit]]` tables, and tocsin's defaults
    /// for the names the plan does not give.
    pub fn rate_limits(&self) -> &[RatePolicy] {
        &self.rate_limits
    }

    /// The plan's `[[rule]]` tables: what a detector's signals lead to.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The plan's `[[channel]]` tables: where people are told.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The plan's `[[route]]` tables.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    pub fn escalation(&self) -> Option<&Escalation> {
        self.escalation.as_ref()
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The routes that carry news of `kind` about an incident at `severity`.
    pub fn routes_for<'a>(&'a self, kind: &'a str, severity: Option<&'a str>) -> impl Iterator<Item = &'a Route> {
        self.routes.iter().filter(move |r| {
            (r.events.is_empty() || r.events.iter().any(|e| e == kind))
                && (r.severities.is_empty() || severity.is_some_and(|s| r.severities.iter().any(|x| x.as_str() == s)))
        })
    }

    /// The plan's `[[suppress]]` tables.
    pub fn suppressions(&self) -> &[Suppression] {
        &self.suppressions
    }

    /// The plan's `[[integration]]` table for the integration `name`, if it has one.
    pub fn integration(&self, name: &str) -> Option<&IntegrationRule> {
        self.integrations.iter().find(|i| i.name == name)
    }

    /// How many alerts of the integration `name` are tracked open at once.
    pub fn max_open_alerts(&self, name: &str) -> usize {
        self.integration(name).map_or(MAX_OPEN_ALERTS, |i| i.max_open_alerts) as usize
    }

    pub fn integrations(&self) -> &[IntegrationRule] {
        &self.integrations
    }

    /// The suppression that covers a signal of `detector` about `key` found at `at`, if one
    /// does: the signal is then only recorded.
    pub fn suppression(&self, detector: &str, key: &str, at: crate::Timestamp) -> Option<&Suppression> {
        self.suppressions.iter().find(|s| {
            s.detector.as_deref().is_none_or(|d| d == detector)
                && s.until.is_none_or(|until| at < until)
                && s.key.matches(key)
        })
    }

    /// The detectors' settings from `[detection]`, tocsin's defaults where it says nothing.
    pub fn detection(&self) -> &Detection {
        &self.detection
    }

    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    pub fn audit(&self) -> &AuditSeal {
        &self.audit
    }

    /// Until when the detectors watch a resolved incident's keys: its latest resolution
    /// plus the plan's watch, while it stays resolved or closed.
    pub fn watch_until(&self, incident: &crate::incident::Incident) -> Option<crate::Timestamp> {
        use crate::incident::Status;
        let seconds = self.recovery.watch_seconds?;
        if !matches!(incident.status, Status::Resolved | Status::Closed) {
            return None;
        }
        incident
            .last_resolved_at
            .map(|at| at + jiff::SignedDuration::from_secs(seconds))
    }

    /// Whether this answer to "are customers affected?" starts the customer-notice clock.
    pub fn customer_notice_starts(&self, impact: crate::incident::CustomerImpact) -> bool {
        self.customer_notice_when.contains(&impact)
    }

    /// The answers that start the customer-notice clock.
    pub fn customer_notice_when(&self) -> &[crate::incident::CustomerImpact] {
        &self.customer_notice_when
    }

    pub fn rate_limit(&self, name: &str) -> Option<&RatePolicy> {
        self.rate_limits.iter().find(|p| p.name == name)
    }

    /// SHA-256 of the plan's text, recorded with every incident declared under it.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The text the plan was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn severity(&self, id: &SeverityId) -> Option<&Severity> {
        self.severities.iter().find(|s| &s.id == id)
    }

    /// Looks a severity up by the id a user typed, with a one-line error naming the choices.
    pub fn find_severity(&self, text: &str) -> Result<&Severity, String> {
        self.severities
            .iter()
            .find(|s| s.id.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| unknown("severity", text, self.severities.iter().map(|s| s.id.as_str())))
    }

    pub fn find_role(&self, text: &str) -> Result<&Role, String> {
        self.roles
            .iter()
            .find(|r| r.id.as_str() == text)
            .ok_or_else(|| unknown("role", text, self.roles.iter().map(|r| r.id.as_str())))
    }

    pub fn find_notice_kind(&self, text: &str) -> Result<NoticeKind, String> {
        if let Some(kind) = NoticeKind::built_in(text) {
            return Ok(kind);
        }
        self.obligations
            .iter()
            .find(|o| o.id.as_str() == text)
            .map(|o| NoticeKind::Obligation(o.id.clone()))
            .ok_or_else(|| {
                let kinds = BUILT_IN_NOTICES
                    .into_iter()
                    .chain(self.obligations.iter().map(|o| o.id.as_str()));
                unknown("notice kind", text, kinds)
            })
    }

    /// Severities whose incidents need `role` filled.
    pub fn roles_required_for(&self, severity: &SeverityId) -> impl Iterator<Item = &Role> {
        self.roles.iter().filter(move |r| r.required_for.contains(severity))
    }
}

/// `unknown severity "P7"; choose one of P1, P2 (did you mean P1?)`.
pub(crate) fn unknown<'a>(what: &str, text: &str, known: impl Iterator<Item = &'a str> + Clone) -> String {
    let list = known.clone().collect::<Vec<_>>().join(", ");
    match closest(text, known) {
        Some(guess) => {
            format!("unknown {what} \"{text}\" (did you mean \"{guess}\"?); choose one of {list}")
        }
        None if list.is_empty() => format!("unknown {what} \"{text}\"; the plan defines none"),
        None => format!("unknown {what} \"{text}\"; choose one of {list}"),
    }
}
