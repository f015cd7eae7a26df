//! `[[action]]`: the containment actions tocsin runs for responders, their inputs, their
//! approval and their undo ([`crate::action`] has the types).

use super::build::unknown;
use super::read::{Located, Problems, Section, TableAt};
use super::response::{ResponseRole, StepTemplate};
use super::secret::secret_reference;
use crate::action::{
    ActionDef, ActionKind, Approval, Approver, Builtin, CommandCall, HttpCall, InputDef, InputKind, StatusPattern,
    Success, TIMEOUT_MAX_SECONDS, Template, Undo, Var,
};
use crate::diagnostic::Diagnostic;
use crate::id::ActionId;

/// What actions may refer to.
pub(super) struct Known<'a> {
    pub steps: &'a [StepTemplate],
    pub roles: &'a [ResponseRole],
    pub people: &'a [&'a str],
}

const KINDS: [&str; 10] = [
    "http",
    "webhook",
    "command",
    "block",
    "unblock",
    "revoke_access",
    "maintenance_on",
    "maintenance_off",
    "pause_agent",
    "resume_agent",
];

pub(super) fn actions(tables: &[TableAt<'_, '_>], known: &Known<'_>, problems: &mut Problems) -> Vec<ActionDef> {
    let mut out: Vec<ActionDef> = Vec::new();
    let mut undos: Vec<(usize, Located<String>)> = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("action #{}", index + 1));
        let before = problems.len();
        let id = super::build::id(&mut s, ActionId::parse, problems);
        if let Some(id) = &id {
            s.name = format!("action \"{}\"", id.value);
            if out.iter().any(|a| a.id == id.value) {
                problems.push(Diagnostic::new(
                    id.span.clone(),
                    format!("duplicate action id \"{}\"", id.value),
                ));
            }
        }
        let name = s.str("name", "\"Block an address\"", problems);
        let description = s.opt_str("description", problems);
        let kind_text = s.str("kind", "\"http\"", problems);
        let builtin = kind_text
            .as_ref()
            .and_then(|k| Builtin::ALL.into_iter().find(|b| b.as_str() == k.value));
        let inputs = match builtin {
            Some(b) => {
                if s.table_has("input") {
                    let _ = s.tables("input", problems);
                    problems.push(Diagnostic::new(
                        s.span(),
                        format!("{} is built in: its inputs are its own and not declared", s.name),
                    ));
                }
                b.inputs()
            }
            None => inputs(&s.tables("input", problems), &s.name, problems),
        };
        let kind = match kind_text {
            None => None,
            Some(_) if builtin.is_some() => builtin.map(ActionKind::Builtin),
            Some(k) if k.value == "http" || k.value == "webhook" => http_call(&mut s, k.value == "webhook", problems)
                .map(|call| {
                    if k.value == "webhook" {
                        ActionKind::Webhook(call)
                    } else {
                        ActionKind::Http(call)
                    }
                }),
            Some(k) if k.value == "command" => command_call(&mut s, problems).map(ActionKind::Command),
            Some(k) => {
                problems.push(unknown(
                    &k,
                    format!("unknown kind \"{}\" in {}", k.value, s.name),
                    &KINDS,
                    format!("use one of {}", KINDS.join(", ")),
                ));
                None
            }
        };
        if let Some(kind) = &kind {
            check_placeholders(kind, &inputs, &s, problems);
        }
        let step = step_of(&mut s, known, problems);
        let approval = s
            .opt_table("approval", problems)
            .and_then(|t| approval(t, &s.name, known, problems));
        let idempotent = s.opt_bool("idempotent", problems).unwrap_or(false);
        let retries = s.opt_uint("retries", 0, 10, problems);
        if let Some(r) = &retries
            && r.value > 0
            && !idempotent
        {
            problems.push(
                Diagnostic::new(r.span.clone(), format!("{} is retried but not idempotent", s.name)).with_hint(
                    "only an action that does no more when run twice may be retried; add idempotent = true if it is",
                ),
            );
        }
        let retry_wait = s.opt_duration("retry_wait", problems);
        let retry_wait_seconds = match &retry_wait {
            None => 10,
            Some(t) => match t.value.elapsed_seconds().and_then(|s| u64::try_from(s).ok()) {
                Some(seconds) if (1..=300).contains(&seconds) => seconds,
                _ => {
                    problems.push(Diagnostic::new(
                        t.span.clone(),
                        format!("retry_wait in {} must be an exact span from 1s to 5m", s.name),
                    ));
                    10
                }
            },
        };
        let timeout = s.opt_duration("timeout", problems);
        let timeout_seconds = match &timeout {
            None => 30,
            Some(t) => match t.value.elapsed_seconds().and_then(|s| u64::try_from(s).ok()) {
                Some(seconds) if (1..=TIMEOUT_MAX_SECONDS).contains(&seconds) => seconds,
                _ => {
                    problems.push(Diagnostic::new(
                        t.span.clone(),
                        format!("timeout in {} must be an exact span from 1s to 10m", s.name),
                    ));
                    30
                }
            },
        };
        let undo_text = s.opt_str("undo", problems);
        let undo = match (&undo_text, builtin) {
            (Some(u), Some(_)) => {
                problems.push(Diagnostic::new(
                    u.span.clone(),
                    format!("{} is built in: it is undone its own way, if at all", s.name),
                ));
                None
            }
            (Some(u), None) => {
                undos.push((out.len(), u.clone()));
                ActionId::parse(&u.value).ok().map(Undo::Action)
            }
            (None, Some(Builtin::Block | Builtin::MaintenanceOn | Builtin::PauseAgent)) => Some(Undo::Builtin),
            (None, _) => None,
        };
        let undo_on_close = s.opt_bool("undo_on_close", problems).unwrap_or(false);
        if undo_on_close && undo.is_none() {
            problems.push(
                Diagnostic::new(s.span(), format!("{} is undone on close but has no undo", s.name))
                    .with_hint("name the action that undoes it: undo = \"…\""),
            );
        }
        s.finish(problems);
        if let (Some(id), Some(name), Some(kind), true) = (id, name, kind, problems.len() == before) {
            out.push(ActionDef {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                kind,
                inputs,
                step,
                approval,
                idempotent,
                retries: retries.map_or(0, |r| r.value),
                retry_wait_seconds,
                timeout_seconds,
                undo,
                undo_on_close,
            });
        }
    }
    let ids: Vec<String> = out.iter().map(|a| a.id.to_string()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for (_, undo) in undos {
        if !ids.contains(&undo.value.as_str()) {
            problems.push(unknown(
                &undo,
                format!("undo names no action \"{}\"", undo.value),
                &ids,
                "define the action that undoes it with [[action]]".into(),
            ));
        }
    }
    out
}

fn inputs(tables: &[TableAt<'_, '_>], action: &str, problems: &mut Problems) -> Vec<InputDef> {
    let mut out: Vec<InputDef> = Vec::new();
    let kinds: Vec<&str> = InputKind::ALL.iter().map(|k| k.as_str()).collect();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("input #{} of {action}", index + 1));
        let name = s.str("name", "\"address\"", problems);
        let kind_text = s.str("type", "\"string\"", problems);
        let required = s.opt_bool("required", problems).unwrap_or(true);
        let default = s.opt_str("default", problems);
        let choices = s.str_list("choices", problems);
        let description = s.opt_str("description", problems);
        s.finish(problems);
        let kind = kind_text.and_then(|k| {
            let found = InputKind::ALL.into_iter().find(|i| i.as_str() == k.value);
            if found.is_none() {
                problems.push(unknown(
                    &k,
                    format!("unknown input type \"{}\"", k.value),
                    &kinds,
                    format!("use one of {}", kinds.join(", ")),
                ));
            }
            found
        });
        let Some(name) = name else { continue };
        let valid_name = !name.value.is_empty()
            && name.value.len() <= 40
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            problems.push(Diagnostic::new(
                name.span.clone(),
                format!(
                    "\"{}\" is not an input name: use lowercase letters, digits and _",
                    name.value
                ),
            ));
            continue;
        }
        if out.iter().any(|i| i.name == name.value) {
            problems.push(Diagnostic::new(
                name.span,
                format!("{action} has input \"{}\" twice", name.value),
            ));
            continue;
        }
        let Some(kind) = kind else { continue };
        let def = InputDef {
            name: name.value,
            kind,
            required,
            default: None,
            choices: choices.into_iter().map(|c| c.value).collect(),
            description: description.map(|d| d.value).unwrap_or_default(),
        };
        let default = match default {
            Some(d) => match def.check(&d.value) {
                Ok(value) => Some(value),
                Err(why) => {
                    problems.push(Diagnostic::new(
                        d.span,
                        format!("the default of input \"{}\": {why}", def.name),
                    ));
                    None
                }
            },
            None => None,
        };
        out.push(InputDef { default, ..def });
    }
    out
}

fn template(text: &Located<String>, what: &str, problems: &mut Problems) -> Option<Template> {
    match Template::parse(&text.value) {
        Ok(t) => Some(t),
        Err(why) => {
            problems.push(Diagnostic::new(text.span.clone(), format!("{what}: {why}")));
            None
        }
    }
}

fn success(s: &mut Section<'_, '_>, problems: &mut Problems) -> Success {
    let mut success = Success::default();
    let statuses = s.str_list("success", problems);
    if !statuses.is_empty() {
        success.statuses = statuses
            .iter()
            .filter_map(|p| {
                let pattern = StatusPattern::parse(&p.value);
                if pattern.is_none() {
                    problems.push(
                        Diagnostic::new(
                            p.span.clone(),
                            format!("\"{}\" is not a status or a class of them", p.value),
                        )
                        .with_hint("write one like \"2xx\" or \"204\""),
                    );
                }
                pattern
            })
            .collect();
    }
    let field = s.opt_str("success_field", problems);
    let value = s.opt_json("success_value");
    match (field, value) {
        (Some(f), Some(v)) if f.value.starts_with('/') => success.field = Some((f.value, v.value)),
        (Some(f), Some(_)) => problems.push(Diagnostic::new(
            f.span,
            "success_field is a JSON pointer, like \"/result/ok\"",
        )),
        (Some(f), None) => problems.push(Diagnostic::new(f.span, "success_field needs success_value")),
        (None, Some(v)) => problems.push(Diagnostic::new(v.span, "success_value needs success_field")),
        (None, None) => {}
    }
    success
}

fn captures(s: &mut Section<'_, '_>, problems: &mut Problems) -> Vec<(String, String)> {
    let captures = s.str_table("capture", problems);
    if captures.len() > 16 {
        problems.push(Diagnostic::new(
            s.span(),
            format!("{} captures more than 16 fields", s.name),
        ));
    }
    captures
        .into_iter()
        .filter_map(|(name, pointer)| {
            if pointer.value.starts_with('/') || pointer.value.is_empty() {
                Some((name, pointer.value))
            } else {
                problems.push(Diagnostic::new(
                    pointer.span,
                    format!("capture.{name} is a JSON pointer, like \"/token/id\""),
                ));
                None
            }
        })
        .collect()
}

fn http_call(s: &mut Section<'_, '_>, webhook: bool, problems: &mut Problems) -> Option<HttpCall> {
    let method = s.opt_str("method", problems);
    let method = match method {
        None => "POST".to_owned(),
        Some(m) => {
            let upper = m.value.to_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&upper.as_str()) {
                problems.push(Diagnostic::new(
                    m.span,
                    format!("method \"{}\" is not one of GET, POST, PUT, PATCH, DELETE", m.value),
                ));
            }
            upper
        }
    };
    let url = s.str("url", "\"https://api.example.com/…\"", problems);
    let url = url.and_then(|u| {
        if !(u.value.starts_with("https://") || u.value.starts_with("http://")) {
            problems.push(Diagnostic::new(
                u.span.clone(),
                "url must start with https:// or http://",
            ));
        }
        template(&u, "url", problems)
    });
    let headers: Vec<(String, Template)> = s
        .str_table("headers", problems)
        .into_iter()
        .filter_map(|(name, value)| {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                problems.push(Diagnostic::new(value.span, format!("\"{name}\" is not a header name")));
                return None;
            }
            template(&value, &format!("header {name}"), problems).map(|t| (name, t))
        })
        .collect();
    let body = s.opt_json("body").and_then(|b| {
        if b.value.is_object() {
            Some(b.value)
        } else {
            problems.push(Diagnostic::new(b.span, "body must be a table, sent as a JSON object"));
            None
        }
    });
    let secret = secret_reference(s, problems);
    if webhook && secret.is_none() {
        problems.push(
            Diagnostic::new(
                s.span(),
                format!("{} is a webhook, which is signed: it needs a secret", s.name),
            )
            .with_hint("give the signing secret with secret_env or secret_file (a whsec_… value or raw text)"),
        );
    }
    let success = success(s, problems);
    let capture = captures(s, problems);
    Some(HttpCall {
        method,
        url: url?,
        headers,
        body,
        secret,
        success,
        capture,
    })
}

fn command_call(s: &mut Section<'_, '_>, problems: &mut Problems) -> Option<CommandCall> {
    let program = s.str("program", "\"/usr/local/bin/rotate-keys\"", problems)?;
    if !program.value.starts_with('/') {
        problems.push(
            Diagnostic::new(program.span.clone(), "program must be an absolute path")
                .with_hint("tocsin runs it without a shell and without searching PATH"),
        );
    }
    let args: Vec<Template> = s
        .str_list("args", problems)
        .iter()
        .filter_map(|a| template(a, "an argument", problems))
        .collect();
    let secret = secret_reference(s, problems);
    let capture = captures(s, problems);
    Some(CommandCall {
        program: program.value,
        args,
        secret,
        capture,
    })
}

/// Every placeholder of a request names an input of the action, and `{{ secret }}` one it has.
fn check_placeholders(kind: &ActionKind, inputs: &[InputDef], s: &Section<'_, '_>, problems: &mut Problems) {
    let mut vars: Vec<Var> = Vec::new();
    let (has_secret, templates): (bool, Vec<&Template>) = match kind {
        ActionKind::Http(call) | ActionKind::Webhook(call) => {
            let mut all = vec![&call.url];
            all.extend(call.headers.iter().map(|(_, t)| t));
            (call.secret.is_some(), all)
        }
        ActionKind::Command(call) => (call.secret.is_some(), call.args.iter().collect()),
        ActionKind::Builtin(_) => return,
    };
    for t in templates {
        vars.extend(t.vars().cloned());
    }
    if let ActionKind::Http(call) | ActionKind::Webhook(call) = kind
        && let Some(body) = &call.body
    {
        body_vars(body, &mut vars);
    }
    for var in vars {
        match var {
            Var::Input(name) if !inputs.iter().any(|i| i.name == name) => {
                let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
                let hint = match crate::id::closest(&name, names.iter().copied()) {
                    Some(guess) => format!("did you mean \"{guess}\"?"),
                    None => "declare it with [[action.input]]".to_owned(),
                };
                problems.push(
                    Diagnostic::new(
                        s.span(),
                        format!("{} uses {{{{ input.{name} }}}}, which it does not take", s.name),
                    )
                    .with_hint(hint),
                );
            }
            Var::Secret if !has_secret => problems.push(
                Diagnostic::new(
                    s.span(),
                    format!("{} uses {{{{ secret }}}} but names no secret", s.name),
                )
                .with_hint("add secret_env or secret_file"),
            ),
            _ => {}
        }
    }
}

fn body_vars(value: &serde_json::Value, vars: &mut Vec<Var>) {
    match value {
        serde_json::Value::String(text) => {
            if let Ok(t) = Template::parse(text) {
                vars.extend(t.vars().cloned());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| body_vars(i, vars)),
        serde_json::Value::Object(map) => map.values().for_each(|v| body_vars(v, vars)),
        _ => {}
    }
}

fn step_of(
    s: &mut Section<'_, '_>,
    known: &Known<'_>,
    problems: &mut Problems,
) -> Option<(crate::id::StepId, Option<u32>)> {
    let step = s.opt_str("step", problems);
    let item = s.opt_uint("item", 1, 100, problems);
    let Some(step) = step else {
        if let Some(item) = item {
            problems.push(Diagnostic::new(item.span, format!("item in {} needs its step", s.name)));
        }
        return None;
    };
    let Some(template) = known.steps.iter().find(|t| t.id.as_str() == step.value) else {
        let ids: Vec<&str> = known.steps.iter().map(|t| t.id.as_str()).collect();
        problems.push(unknown(
            &step,
            format!("step \"{}\" of {} is not a step of the plan", step.value, s.name),
            &ids,
            format!("the steps are {}", ids.join(", ")),
        ));
        return None;
    };
    if let Some(item) = &item
        && usize::try_from(item.value).is_ok_and(|i| i > template.checklist.len())
    {
        problems.push(Diagnostic::new(
            item.span.clone(),
            format!(
                "step {} has {} checklist item(s); item {} is not one",
                template.id,
                template.checklist.len(),
                item.value
            ),
        ));
        return None;
    }
    Some((template.id.clone(), item.map(|i| i.value)))
}

/// The roles and people named in `by` (of `whose`, like "the approval of block"), each
/// checked against the plan's.
pub(super) fn approvers(
    by: Vec<Located<String>>,
    whose: &str,
    roles: &[ResponseRole],
    people: &[&str],
    problems: &mut Problems,
) -> Vec<Approver> {
    let mut approvers = Vec::new();
    for who in by {
        if let Some(role) = roles.iter().find(|r| r.id.as_str() == who.value) {
            approvers.push(Approver::Role(role.id.clone()));
        } else if people.contains(&who.value.as_str()) {
            approvers.push(Approver::Person(who.value));
        } else {
            let mut names: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
            names.extend(people.iter().copied());
            problems.push(unknown(
                &who,
                format!(
                    "\"{}\" in {whose} is neither a role nor a person of the plan",
                    who.value
                ),
                &names,
                "name a [[role]] id or a [[person]] id".into(),
            ));
        }
    }
    approvers
}

fn approval(table: TableAt<'_, '_>, action: &str, known: &Known<'_>, problems: &mut Problems) -> Option<Approval> {
    let mut s = Section::new(table, format!("the approval of {action}"));
    let needs = s.opt_uint("needs", 1, 5, problems).map_or(1, |n| n.value);
    let by = s.str_list("by", problems);
    let valid_for = s.opt_duration("valid_for", problems);
    let two_people = s.opt_bool("two_people", problems).unwrap_or(false);
    let except_rules = s.opt_bool("except_rules", problems).unwrap_or(false);
    s.finish(problems);
    let approvers = approvers(
        by,
        &format!("the approval of {action}"),
        known.roles,
        known.people,
        problems,
    );
    let valid_for_seconds = match valid_for {
        None => 3600,
        Some(v) => match v.value.elapsed_seconds().and_then(|s| u64::try_from(s).ok()) {
            Some(seconds) if seconds >= 60 => seconds,
            _ => {
                problems.push(Diagnostic::new(
                    v.span,
                    "valid_for must be an exact span of a minute or more, like 30m",
                ));
                3600
            }
        },
    };
    Some(Approval {
        needs,
        by: approvers,
        valid_for_seconds,
        two_people,
        except_rules,
    })
}
