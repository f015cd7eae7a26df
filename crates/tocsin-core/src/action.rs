//! Containment actions as the plan defines them (`[[action]]`): what each does, the inputs
//! it takes, who approves it; and, purely, what a run of one sends (the request rendered
//! from its templates, secrets shown or masked) and what its answer means (success, the
//! fields it captures). Carrying a run out is the server's; when and whether is the
//! incident's ([`crate::incident`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::block::Network;
use crate::duration::Duration;
use crate::id::{ActionId, RoleId, StepId};
use crate::plan::SecretRef;
use crate::template::Part;

/// What stands for a secret in a dry run and in what tocsin keeps of a request.
pub const MASK: &str = "••••••";
/// The most characters a captured field keeps.
pub const CAPTURE_MAX: usize = 200;
/// The most characters of an answer a run's summary keeps.
pub const SUMMARY_MAX: usize = 2_000;
/// The longest an action may be given to run.
pub const TIMEOUT_MAX_SECONDS: u64 = 600;

/// An action of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionDef {
    pub id: ActionId,
    pub name: String,
    pub description: String,
    pub kind: ActionKind,
    /// What a request gives it; the built-ins' inputs are their own.
    pub inputs: Vec<InputDef>,
    /// The step (and the 1-based checklist item) it carries out: it may be asked for once
    /// that step has started, and its success ticks the item.
    pub step: Option<(StepId, Option<u32>)>,
    pub approval: Option<Approval>,
    /// Whether running it twice does no more than running it once: only then is it
    /// retried, or run again after tocsin stopped during it.
    pub idempotent: bool,
    /// Attempts after the first, for an idempotent action that failed.
    pub retries: u32,
    /// The wait before the first retry; each later one waits twice as long, at most 5
    /// minutes.
    pub retry_wait_seconds: u64,
    pub timeout_seconds: u64,
    /// The action that undoes it, given this run's inputs and captured fields by name.
    pub undo: Option<Undo>,
    /// Whether its undo runs by itself when the incident closes.
    pub undo_on_close: bool,
}

/// How a run is undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    /// Another action of the plan.
    Action(ActionId),
    /// A built-in's own opposite: ending the block it added.
    Builtin,
}

/// What an action does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// A request to an API.
    Http(HttpCall),
    /// A signed call to the team's own service (Standard Webhooks).
    Webhook(HttpCall),
    /// A local program, run without a shell.
    Command(CommandCall),
    /// Something tocsin does itself.
    Builtin(Builtin),
}

impl ActionKind {
    /// As the plan names it.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Http(_) => "http",
            ActionKind::Webhook(_) => "webhook",
            ActionKind::Command(_) => "command",
            ActionKind::Builtin(b) => b.as_str(),
        }
    }
}

/// What tocsin does itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// Blocks `address` (an address or a network) `for` a span, or until ended.
    Block,
    /// Ends the blocks in force of exactly `address`.
    Unblock,
    /// Ends every session and revokes every API token of tocsin user `account`.
    RevokeAccess,
    /// Turns maintenance mode on for `service`, with a `reason` and how long it is
    /// expected to last (`for`). Undone by turning it off.
    MaintenanceOn,
    /// Turns maintenance mode off for `service`.
    MaintenanceOff,
    /// Tells `agent` to pause, for a `reason`; its silence is then no stale agent. Undone
    /// by resuming it.
    PauseAgent,
    /// Tells `agent` to run again.
    ResumeAgent,
}

impl Builtin {
    pub const ALL: [Builtin; 7] = [
        Builtin::Block,
        Builtin::Unblock,
        Builtin::RevokeAccess,
        Builtin::MaintenanceOn,
        Builtin::MaintenanceOff,
        Builtin::PauseAgent,
        Builtin::ResumeAgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Builtin::Block => "block",
            Builtin::Unblock => "unblock",
            Builtin::RevokeAccess => "revoke_access",
            Builtin::MaintenanceOn => "maintenance_on",
            Builtin::MaintenanceOff => "maintenance_off",
            Builtin::PauseAgent => "pause_agent",
            Builtin::ResumeAgent => "resume_agent",
        }
    }

    /// Its inputs, which a plan does not declare.
    pub fn inputs(self) -> Vec<InputDef> {
        let input = |name: &str, kind, required, description: &str| InputDef {
            name: name.to_owned(),
            kind,
            required,
            default: None,
            choices: Vec::new(),
            description: description.to_owned(),
        };
        match self {
            Builtin::Block => vec![
                input("address", InputKind::Address, true, "the address or network to block"),
                input("for", InputKind::Span, false, "how long, like 24h; empty: until ended"),
                input("reason", InputKind::String, false, "why, in one line"),
            ],
            Builtin::Unblock => vec![input(
                "address",
                InputKind::Address,
                true,
                "the address or network to unblock",
            )],
            Builtin::RevokeAccess => vec![input("account", InputKind::Account, true, "the tocsin user name")],
            Builtin::MaintenanceOn => vec![
                input("service", InputKind::Account, true, "the service, as the plan names it"),
                input("reason", InputKind::String, false, "why, in one line"),
                input(
                    "for",
                    InputKind::Span,
                    false,
                    "how long it is expected to last, like 2h",
                ),
            ],
            Builtin::MaintenanceOff => vec![input("service", InputKind::Account, true, "the service")],
            Builtin::PauseAgent => vec![
                input(
                    "agent",
                    InputKind::Account,
                    true,
                    "the agent, as its heartbeats name it",
                ),
                input("reason", InputKind::String, false, "why, in one line"),
            ],
            Builtin::ResumeAgent => vec![input("agent", InputKind::Account, true, "the agent")],
        }
    }
}

/// An HTTP request template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCall {
    pub method: String,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    /// A JSON body whose strings are templates.
    pub body: Option<serde_json::Value>,
    pub secret: Option<SecretRef>,
    pub success: Success,
    /// Fields taken from a JSON answer by JSON pointer, by name.
    pub capture: Vec<(String, String)>,
}

/// A local program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandCall {
    /// An absolute path.
    pub program: String,
    pub args: Vec<Template>,
    pub secret: Option<SecretRef>,
    pub capture: Vec<(String, String)>,
}

/// What counts as success of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Success {
    /// Status patterns, like `2xx` or `204`.
    pub statuses: Vec<StatusPattern>,
    /// A JSON pointer into the answer and the value it must hold.
    pub field: Option<(String, serde_json::Value)>,
}

impl Default for Success {
    fn default() -> Self {
        Success {
            statuses: vec![StatusPattern::Class(2)],
            field: None,
        }
    }
}

/// A status code, or a class of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusPattern {
    Exact(u16),
    /// `2xx`: 200 to 299.
    Class(u16),
}

impl StatusPattern {
    /// Reads `204` or `2xx`.
    pub fn parse(text: &str) -> Option<StatusPattern> {
        let text = text.trim();
        if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
            return class
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .map(StatusPattern::Class);
        }
        text.parse::<u16>()
            .ok()
            .filter(|s| (100..=599).contains(s))
            .map(StatusPattern::Exact)
    }

    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Exact(s) => s == status,
            StatusPattern::Class(c) => status / 100 == c,
        }
    }
}

/// Who approves an action's runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// How many different people must approve.
    pub needs: u32,
    /// The roles (their holders in the incident, or the plan's people for the role) and
    /// people who may; empty: any responder.
    pub by: Vec<Approver>,
    /// How long a request waits for its approvals before it expires.
    pub valid_for_seconds: u64,
    /// Whether whoever asked may not approve.
    pub two_people: bool,
    /// Whether a request a detector rule makes runs without approval.
    pub except_rules: bool,
}

/// One who may approve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approver {
    Role(RoleId),
    Person(String),
}

impl fmt::Display for Approver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approver::Role(role) => write!(f, "the {role} role"),
            Approver::Person(person) => f.write_str(person),
        }
    }
}

/// An input an action takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDef {
    pub name: String,
    pub kind: InputKind,
    pub required: bool,
    pub default: Option<String>,
    /// The values a string may take, when listed.
    pub choices: Vec<String>,
    pub description: String,
}

/// What an input holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// One line of text.
    String,
    /// An IP address or network.
    Address,
    /// An account name (no spaces).
    Account,
    /// A span, like `24h`.
    Span,
    /// A whole number.
    Number,
    /// Where a secret is kept, `env:NAME` or `file:PATH`: the secret itself is read when
    /// the action runs and never kept.
    Secret,
}

impl InputKind {
    pub const ALL: [InputKind; 6] = [
        InputKind::String,
        InputKind::Address,
        InputKind::Account,
        InputKind::Span,
        InputKind::Number,
        InputKind::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::String => "string",
            InputKind::Address => "address",
            InputKind::Account => "account",
            InputKind::Span => "span",
            InputKind::Number => "number",
            InputKind::Secret => "secret",
        }
    }
}

/// Why a run's inputs were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The longest input value, in characters.
const INPUT_MAX: usize = 1_000;

impl ActionDef {
    /// The inputs a request gives, checked and written the one way each is kept (an address
    /// with its host bits cleared, a span as written); defaults filled in. An unknown
    /// input is named with the likely one meant.
    pub fn check_inputs(&self, given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, BadInput> {
        let names: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        for name in given.keys() {
            if !names.contains(&name.as_str()) {
                let hint = match crate::id::closest(name, names.iter().copied()) {
                    Some(guess) => format!("did you mean \"{guess}\"?"),
                    None if names.is_empty() => "it takes none".to_owned(),
                    None => format!("it takes {}", names.join(", ")),
                };
                return Err(BadInput(format!("action {} has no input \"{name}\"; {hint}", self.id)));
            }
        }
        let mut out = BTreeMap::new();
        for input in &self.inputs {
            let value = given
                .get(&input.name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .or_else(|| input.default.clone());
            match value {
                Some(value) => {
                    let checked = input
                        .check(&value)
                        .map_err(|why| BadInput(format!("input \"{}\" of action {}: {why}", input.name, self.id)))?;
                    out.insert(input.name.clone(), checked);
                }
                None if input.required => {
                    return Err(BadInput(format!(
                        "action {} needs input \"{}\" ({})",
                        self.id,
                        input.name,
                        input.kind.as_str()
                    )));
                }
                None => {}
            }
        }
        Ok(out)
    }
}

impl InputDef {
    /// `value` as kept, or why it is no value of this input.
    pub fn check(&self, value: &str) -> Result<String, String> {
        if value.chars().count() > INPUT_MAX {
            return Err(format!("longer than {INPUT_MAX} characters"));
        }
        if value.chars().any(char::is_control) {
            return Err("holds a control character or a line break".into());
        }
        match self.kind {
            InputKind::String => {
                if !self.choices.is_empty() && !self.choices.iter().any(|c| c == value) {
                    return Err(format!("\"{value}\" is not one of {}", self.choices.join(", ")));
                }
                Ok(value.to_owned())
            }
            InputKind::Address => {
                let network = Network::parse(value).map_err(|e| e.to_string())?;
                Ok(if network.is_address() {
                    network.address().to_string()
                } else {
                    network.to_string()
                })
            }
            InputKind::Account => {
                if value.chars().any(char::is_whitespace) || value.chars().count() > 200 {
                    return Err(format!(
                        "\"{value}\" is not an account name (no spaces, at most 200 characters)"
                    ));
                }
                Ok(value.to_owned())
            }
            InputKind::Span => {
                let span = Duration::parse(value).map_err(|e| e.message)?;
                if span.elapsed_seconds().is_none_or(|s| s <= 0) {
                    return Err(format!("\"{value}\" must be an exact span longer than zero, like 24h"));
                }
                Ok(value.to_owned())
            }
            InputKind::Number => value
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| format!("\"{value}\" is not a whole number")),
            InputKind::Secret => secret_ref(value).map(|_| value.to_owned()),
        }
    }
}

/// Reads a secret input: `env:NAME` or `file:PATH`.
pub fn secret_ref(value: &str) -> Result<SecretRef, String> {
    match value.split_once(':') {
        Some(("env", name)) if !name.is_empty() => Ok(SecretRef::Env(name.to_owned())),
        Some(("file", path)) if path.starts_with('/') => Ok(SecretRef::File(path.to_owned())),
        _ => Err("a secret is given by where it is kept, env:NAME or file:/PATH, never itself".into()),
    }
}

/// A text with `{{ … }}` placeholders: `input.NAME`, `incident.id`, `incident.title`,
/// `incident.severity`, `run.id` and `secret`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(Var),
}

/// What a placeholder names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Var {
    Input(String),
    IncidentId,
    IncidentTitle,
    IncidentSeverity,
    RunId,
    Secret,
}

impl Template {
    /// Reads a template, naming the first placeholder that names nothing.
    pub fn parse(text: &str) -> Result<Template, String> {
        crate::template::split(text)?
            .into_iter()
            .map(|part| match part {
                Part::Text(text) => Ok(Piece::Text(text.to_owned())),
                Part::Name(name) => Ok(Piece::Var(match name {
                    "incident.id" => Var::IncidentId,
                    "incident.title" => Var::IncidentTitle,
                    "incident.severity" => Var::IncidentSeverity,
                    "run.id" => Var::RunId,
                    "secret" => Var::Secret,
                    other => match other.strip_prefix("input.") {
                        Some(input) if !input.is_empty() => Var::Input(input.to_owned()),
                        _ => {
                            return Err(format!(
                                "unknown placeholder {{{{ {other} }}}}; use input.NAME, incident.id, incident.title, \
                                 incident.severity, run.id or secret"
                            ));
                        }
                    },
                })),
            })
            .collect::<Result<_, _>>()
            .map(Template)
    }

    /// The placeholders it holds.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.0.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Text(_) => None,
        })
    }

    /// Fills the placeholders in from `facts`, each value passed through `encode`.
    fn render(&self, facts: &Facts<'_>, encode: fn(&str) -> String) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(var) => out.push_str(&encode(&facts.value(var))),
            }
        }
        out
    }
}

/// What a run's templates are filled from.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub incident: &'a str,
    pub title: &'a str,
    pub severity: &'a str,
    /// Like `INC-0007/2`.
    pub run: &'a str,
    /// Its inputs, secret inputs already read (or masked).
    pub inputs: &'a BTreeMap<String, String>,
    /// The action's secret (or the mask).
    pub secret: Option<&'a str>,
}

impl Facts<'_> {
    fn value(&self, var: &Var) -> String {
        match var {
            Var::Input(name) => self.inputs.get(name).cloned().unwrap_or_default(),
            Var::IncidentId => self.incident.to_owned(),
            Var::IncidentTitle => self.title.to_owned(),
            Var::IncidentSeverity => self.severity.to_owned(),
            Var::RunId => self.run.to_owned(),
            Var::Secret => self.secret.unwrap_or_default().to_owned(),
        }
    }
}

fn as_is(text: &str) -> String {
    text.to_owned()
}

/// Percent-encodes all but the unreserved characters, so that an input cannot change a
/// URL's path or query beyond its own place.
fn url_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A request, rendered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A program run, rendered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRun {
    pub program: String,
    pub args: Vec<String>,
}

/// What a run does, rendered from its action and facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prepared {
    Http(HttpRequest),
    Webhook(HttpRequest),
    Command(ProgramRun),
    Builtin {
        builtin: String,
        inputs: BTreeMap<String, String>,
    },
}

/// Why a request cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unrenderable(pub String);

fn body_of(template: &serde_json::Value, facts: &Facts<'_>) -> Result<serde_json::Value, Unrenderable> {
    Ok(match template {
        serde_json::Value::String(text) => {
            let t = Template::parse(text).map_err(Unrenderable)?;
            serde_json::Value::String(t.render(facts, as_is))
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|i| body_of(i, facts)).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), body_of(v, facts)?)))
                .collect::<Result<_, Unrenderable>>()?,
        ),
        other => other.clone(),
    })
}

/// The body a webhook sends when its action gives none: what happened, with the inputs.
pub fn default_webhook_body(action: &ActionDef, facts: &Facts<'_>) -> serde_json::Value {
    serde_json::json!({
        "type": "tocsin.action",
        "action": action.id.as_str(),
        "run": facts.run,
        "incident": {"id": facts.incident, "title": facts.title, "severity": facts.severity},
        "inputs": facts.inputs,
    })
}

impl ActionDef {
    /// What a run sends, from `facts`. For a dry run, give the facts with secrets masked.
    pub fn prepare(&self, facts: &Facts<'_>) -> Result<Prepared, Unrenderable> {
        Ok(match &self.kind {
            ActionKind::Http(call) | ActionKind::Webhook(call) => {
                let mut headers = Vec::new();
                for (name, value) in &call.headers {
                    let value = value.render(facts, as_is);
                    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                        return Err(Unrenderable(format!("header {name} would hold a line break")));
                    }
                    headers.push((name.clone(), value));
                }
                let body = match (&call.body, &self.kind) {
                    (Some(template), _) => Some(body_of(template, facts)?),
                    (None, ActionKind::Webhook(_)) => Some(default_webhook_body(self, facts)),
                    (None, _) => None,
                };
                if body.is_some() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                let request = HttpRequest {
                    method: call.method.clone(),
                    url: call.url.render(facts, url_component),
                    headers,
                    body: body.map(|b| b.to_string()),
                };
                if matches!(self.kind, ActionKind::Webhook(_)) {
                    Prepared::Webhook(request)
                } else {
                    Prepared::Http(request)
                }
            }
            ActionKind::Command(call) => Prepared::Command(ProgramRun {
                program: call.program.clone(),
                args: call.args.iter().map(|a| a.render(facts, as_is)).collect(),
            }),
            ActionKind::Builtin(b) => Prepared::Builtin {
                builtin: b.as_str().to_owned(),
                inputs: facts.inputs.clone(),
            },
        })
    }

    /// The names of its secret inputs.
    pub fn secret_inputs(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .filter(|i| i.kind == InputKind::Secret)
            .map(|i| i.name.as_str())
    }
}

/// What a run came to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub ok: bool,
    /// What happened, for people: the status and the start of the answer, or why it failed.
    pub summary: String,
    /// The answer's status, for requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Fields the action captures from the answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captured: BTreeMap<String, String>,
}

/// Cuts `text` to `max` characters, with an ellipsis when it was longer.
pub fn cut(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// Takes the `capture` fields out of a JSON answer (unparseable or absent: none).
pub fn capture(answer: &str, fields: &[(String, String)]) -> BTreeMap<String, String> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(answer) else {
        return BTreeMap::new();
    };
    fields
        .iter()
        .filter_map(|(name, pointer)| {
            let value = json.pointer(pointer)?;
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((name.clone(), cut(&text, CAPTURE_MAX)))
        })
        .collect()
}

/// What an HTTP answer means under `success`: ok or not, with the summary and captures.
pub fn judge(call: &HttpCall, status: u16, answer: &str) -> Outcome {
    let status_ok = call.success.statuses.iter().any(|p| p.matches(status));
    let field_ok = match &call.success.field {
        None => true,
        Some((pointer, expected)) => serde_json::from_str::<serde_json::Value>(answer)
            .ok()
            .and_then(|json| json.pointer(pointer).cloned())
            .is_some_and(|v| &v == expected),
    };
    let mut summary = format!("HTTP {status}");
    if status_ok
        && !field_ok
        && let Some((pointer, expected)) = &call.success.field
    {
        summary.push_str(&format!(" but {pointer} is not {expected}"));
    }
    if !answer.trim().is_empty() {
        summary.push_str(": ");
        summary.push_str(&cut(answer.trim(), SUMMARY_MAX));
    }
    Outcome {
        ok: status_ok && field_ok,
        summary,
        status: Some(status),
        captured: capture(answer, &call.capture),
    }
}

/// What a Standard Webhooks signature signs: `id.timestamp.body`.
pub fn webhook_signed_content(id: &str, timestamp: i64, body: &str) -> String {
    format!("{id}.{timestamp}.{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(inputs: &'a BTreeMap<String, String>, secret: Option<&'a str>) -> Facts<'a> {
        Facts {
            incident: "INC-0007",
            title: "Leaked token",
            severity: "P2",
            run: "INC-0007/1",
            inputs,
            secret,
        }
    }

    fn http(url: &str, body: Option<serde_json::Value>) -> ActionDef {
        ActionDef {
            id: ActionId::parse("revoke-token").unwrap(),
            name: "Revoke a token".into(),
            description: String::new(),
            kind: ActionKind::Http(HttpCall {
                method: "DELETE".into(),
                url: Template::parse(url).unwrap(),
                headers: vec![("authorization".into(), Template::parse("Bearer {{ secret }}").unwrap())],
                body,
                secret: Some(SecretRef::Env("API_TOKEN".into())),
                success: Success::default(),
                capture: vec![("id".into(), "/token/id".into())],
            }),
            inputs: vec![InputDef {
                name: "token".into(),
                kind: InputKind::String,
                required: true,
                default: None,
                choices: Vec::new(),
                description: String::new(),
            }],
            step: None,
            approval: None,
            idempotent: true,
            retries: 2,
            retry_wait_seconds: 10,
            timeout_seconds: 10,
            undo: None,
            undo_on_close: false,
        }
    }

    #[test]
    fn templates_fill_in_inputs_and_incident_facts_and_an_input_cannot_leave_its_url_segment() {
        let action = http(
            "https://api.example.com/v3/tokens/{{ input.token }}?incident={{incident.id}}",
            Some(serde_json::json!({"note": "{{ incident.title }} ({{ run.id }})", "n": 3})),
        );
        let inputs = BTreeMap::from([("token".to_owned(), "../admin?x=1 #".to_owned())]);
        let Prepared::Http(request) = action.prepare(&facts(&inputs, Some("s3cret"))).unwrap() else {
            panic!("an http action prepares a request")
        };
        assert_eq!(
            request.url,
            "https://api.example.com/v3/tokens/..%2Fadmin%3Fx%3D1%20%23?incident=INC-0007"
        );
        assert_eq!(request.headers[0], ("authorization".into(), "Bearer s3cret".into()));
        assert_eq!(
            request.body.as_deref(),
            Some(r#"{"n":3,"note":"Leaked token (INC-0007/1)"}"#)
        );
        let masked = action.prepare(&facts(&inputs, Some(MASK))).unwrap();
        assert!(!serde_json::to_string(&masked).unwrap().contains("s3cret"));
    }

    #[test]
    fn an_unknown_placeholder_is_refused_naming_it() {
        let e = Template::parse("x {{ inputs.token }}").unwrap_err();
        assert!(e.contains("unknown placeholder {{ inputs.token }}"), "{e}");
        assert!(Template::parse("{{ input.token").unwrap_err().contains("not closed"));
    }

    #[test]
    fn inputs_are_checked_normalized_and_an_unknown_one_is_named_with_the_one_meant() {
        let block = ActionDef {
            inputs: Builtin::Block.inputs(),
            kind: ActionKind::Builtin(Builtin::Block),
            ..http("https://x", None)
        };
        let given = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        let ok = block
            .check_inputs(&given(&[("address", "10.1.2.3/8"), ("for", "24h")]))
            .unwrap();
        assert_eq!(ok["address"], "10.0.0.0/8");
        let e = block
            .check_inputs(&given(&[("adress", "10.0.0.1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no input \"adress\"; did you mean \"address\"?"), "{e}");
        let e = block.check_inputs(&given(&[("for", "1h")])).unwrap_err().to_string();
        assert!(e.contains("needs input \"address\""), "{e}");
        let e = block
            .check_inputs(&given(&[("address", "example.com")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input \"address\" of action revoke-token: \"example.com\" is not an IP address"),
            "{e}"
        );
        let e = block.check_inputs(&given(&[("address", "10.0.0.1"), ("for", "2 business days")]));
        assert!(e.is_err());
        let secret = InputDef {
            kind: InputKind::Secret,
            ..Builtin::Block.inputs()[0].clone()
        };
        assert!(secret.check("hunter2").unwrap_err().contains("never itself"));
        assert_eq!(secret.check("env:NEW_PASSWORD").unwrap(), "env:NEW_PASSWORD");
    }

    #[test]
    fn an_answer_is_judged_by_its_status_and_field_and_its_captures_are_cut() {
        let mut action = http("https://x", None);
        let ActionKind::Http(call) = &mut action.kind else {
            unreachable!()
        };
        let ok = judge(call, 200, r#"{"token": {"id": "tok_1"}}"#);
        assert!(ok.ok);
        assert_eq!(ok.captured["id"], "tok_1");
        assert!(!judge(call, 404, "not found").ok);
        call.success.field = Some(("/ok".into(), serde_json::json!(true)));
        let no = judge(call, 200, r#"{"ok": false}"#);
        assert!(
            !no.ok && no.summary.starts_with("HTTP 200 but /ok is not true"),
            "{}",
            no.summary
        );
        assert_eq!(StatusPattern::parse("2xx"), Some(StatusPattern::Class(2)));
        assert_eq!(StatusPattern::parse("204"), Some(StatusPattern::Exact(204)));
        assert_eq!(StatusPattern::parse("7xx"), None);
        assert_eq!(cut("abcdef", 3), "abc…");
    }
}
