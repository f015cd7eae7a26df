//! The incident response plan (`tocsin.toml`): what it promises, validated as a whole.

mod actions;
mod audit;
mod build;
mod channels;
mod daily_audit;
mod detection;
mod escalation;
mod integrations;
mod notices;
mod obligations;
mod organization;
mod people;
pub mod presets;
mod probes;
mod read;
mod recovery;
mod response;
mod routes;
mod rules;
mod secret;
mod security_txt;
mod services;

pub use audit::AuditSeal;
pub use channels::{Channel, ChannelKind, NotATelegramChat, SmtpTls, check_telegram_chat};
pub use daily_audit::{AuditDatabase, DailyAudit, OSV_API, REGISTRIES};
pub use detection::Detection;
pub use escalation::{Escalation, EscalationLevel};
pub use integrations::{IntegrationRule, MAX_OPEN_ALERTS};
pub use notices::NoticeDef;
pub(crate) use obligations::BUILT_IN_NOTICES;
pub use obligations::{ClockStart, Disclosure, NoticeKind, Obligation};
pub use organization::Organization;
pub use people::Person;
pub use probes::{INTERVAL_DEFAULT_SECONDS, INTERVAL_MIN_SECONDS, Probe, ProbeKind};
pub use recovery::Recovery;
pub use response::{ResponseRole, Review, Severity, StepTemplate};
pub use routes::{NEWS, Route};
pub use rules::{KeyPattern, Rule, RuleRun, Suppression};
pub use secret::SecretRef;
pub use security_txt::{SECURITY_TXT_PATH, SecurityTxt};
pub use services::Service;

use sha2::{Digest, Sha256};

use crate::calendar::Calendar;
use crate::diagnostic::Diagnostic;
use crate::id::{SeverityId, closest};
use crate::ratelimit::RatePolicy;

/// A valid plan. Only [`Plan::parse`] builds one.
#[derive(Clone, Debug)]
pub struct Plan {
    organization: Organization,
    calendar: Calendar,
    severities: Vec<Severity>,
    steps: Vec<StepTemplate>,
    roles: Vec<ResponseRole>,
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
    security_txt: Option<SecurityTxt>,
    notices: Vec<NoticeDef>,
    probes: Vec<Probe>,
    daily_audit: Option<DailyAudit>,
    actions: Vec<crate::action::ActionDef>,
    services: Vec<Service>,
    digest: String,
    source: String,
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

    pub fn roles(&self) -> &[ResponseRole] {
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
    pub fn suppression(
        &self,
        detector: crate::detector::DetectorId,
        key: &str,
        at: crate::Timestamp,
    ) -> Option<&Suppression> {
        self.suppressions.iter().find(|s| {
            s.detector.is_none_or(|d| d == detector) && s.until.is_none_or(|until| at < until) && s.key.matches(key)
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

    /// `[[service]]`: the parts of the product maintenance mode is for.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// `[[action]]`: what tocsin may run for responders.
    pub fn actions(&self) -> &[crate::action::ActionDef] {
        &self.actions
    }

    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<&crate::action::ActionDef> {
        self.actions.iter().find(|a| a.id.as_str() == id)
    }

    /// `[[notice]]`: how each kind of notice is written and sent.
    pub fn notices(&self) -> &[NoticeDef] {
        &self.notices
    }

    /// `[[probe]]`: what tocsin checks from outside, and how often.
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    /// `[daily_audit]`: the daily security audit, when the plan has one.
    pub fn daily_audit(&self) -> Option<&DailyAudit> {
        self.daily_audit.as_ref()
    }

    /// How notices of `kind` are written, if the plan says.
    pub fn notice(&self, kind: &NoticeKind) -> Option<&NoticeDef> {
        self.notices.iter().find(|n| &n.kind == kind)
    }

    /// `[security_txt]`, served as `/.well-known/security.txt`.
    pub fn security_txt(&self) -> Option<&SecurityTxt> {
        self.security_txt.as_ref()
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
    pub fn find_severity(&self, text: &str) -> Result<&Severity, NotInPlan> {
        self.severities
            .iter()
            .find(|s| s.id.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| unknown("severity", text, self.severities.iter().map(|s| s.id.as_str())))
    }

    pub fn find_role(&self, text: &str) -> Result<&ResponseRole, NotInPlan> {
        self.roles
            .iter()
            .find(|r| r.id.as_str() == text)
            .ok_or_else(|| unknown("role", text, self.roles.iter().map(|r| r.id.as_str())))
    }

    pub fn find_notice_kind(&self, text: &str) -> Result<NoticeKind, NotInPlan> {
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
    pub fn roles_required_for(&self, severity: &SeverityId) -> impl Iterator<Item = &ResponseRole> {
        self.roles.iter().filter(move |r| r.required_for.contains(severity))
    }
}

/// `unknown severity "P7"; choose one of P1, P2 (did you mean P1?)`.
/// A name someone typed that the plan does not have: what it was meant to be, the
/// choices, and the closest of them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct NotInPlan {
    /// What was looked up, like `severity`.
    pub what: &'static str,
    pub given: String,
    pub known: Vec<String>,
    /// The choice closest to what was given, when one is close.
    pub guess: Option<String>,
}

impl NotInPlan {
    fn sentence(&self) -> String {
        let (what, given, list) = (self.what, &self.given, self.known.join(", "));
        match &self.guess {
            Some(guess) => format!("unknown {what} \"{given}\" (did you mean \"{guess}\"?); choose one of {list}"),
            None if list.is_empty() => format!("unknown {what} \"{given}\"; the plan defines none"),
            None => format!("unknown {what} \"{given}\"; choose one of {list}"),
        }
    }
}

pub(crate) fn unknown<'a>(what: &'static str, text: &str, known: impl Iterator<Item = &'a str> + Clone) -> NotInPlan {
    NotInPlan {
        what,
        given: text.to_owned(),
        known: known.clone().map(str::to_owned).collect(),
        guess: closest(text, known).map(str::to_owned),
    }
}
