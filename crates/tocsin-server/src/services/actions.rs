//! The runs of the plan's actions: the one door for asking, approving, rejecting, undoing
//! and trying them dry, and what carries a run out (a request, a signed webhook, a local
//! program, or tocsin's own blocks and sessions). Every step is an event of the
//! incident's timeline through the desk; the action worker starts and finishes runs.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use tocsin_core::Timestamp;
use tocsin_core::action::{
    ActionDef, ActionKind, Builtin, CommandCall, Facts, HttpCall, MASK, Outcome, Prepared, SUMMARY_MAX, Undo, capture,
    cut, judge, secret_ref, webhook_signed_content,
};
use tocsin_core::block::Network;
use tocsin_core::incident::{
    ActionRun, Actor, Command, Incident, IncidentNumber, Rejection, RejectionKind, RunCommand,
};
use tocsin_core::plan::SecretRef;

use super::blocks::{Blocks, span};
use super::identity::Identity;
use super::switches::{SwitchError, Switches};
use crate::{Desk, DeskError};

/// The most of an answer or a program's output read.
const ANSWER_MAX: usize = 64 * 1024;

/// A secret's value, from the environment variable or the file named, without a trailing
/// line break; the error names where it looked.
pub fn read_secret(secret: &SecretRef) -> Result<String, String> {
    let value = match secret {
        SecretRef::Env(name) => std::env::var(name).map_err(|_| format!("{secret} is not set"))?,
        SecretRef::File(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {secret}: {e}"))?,
    };
    let value = value.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(format!("{secret} is empty"));
    }
    Ok(value.to_owned())
}

/// The secret an action's request carries, if it names one.
fn action_secret(def: &ActionDef) -> Option<&SecretRef> {
    match &def.kind {
        ActionKind::Http(call) | ActionKind::Webhook(call) => call.secret.as_ref(),
        ActionKind::Command(call) => call.secret.as_ref(),
        ActionKind::Builtin(_) => None,
    }
}

/// The inputs with each secret input read (or masked), and the action's secret.
fn revealed(
    def: &ActionDef,
    inputs: &BTreeMap<String, String>,
    masked: bool,
) -> Result<(BTreeMap<String, String>, Option<String>), String> {
    let mut out = inputs.clone();
    for name in def.secret_inputs() {
        if let Some(value) = inputs.get(name) {
            let reference = secret_ref(value)?;
            let secret = read_secret(&reference).map_err(|e| format!("input \"{name}\": {e}"))?;
            out.insert(name.to_owned(), if masked { MASK.to_owned() } else { secret });
        }
    }
    let secret = match action_secret(def) {
        Some(reference) => {
            let value = read_secret(reference)?;
            Some(if masked { MASK.to_owned() } else { value })
        }
        None => None,
    };
    Ok((out, secret))
}

fn refused(message: String) -> DeskError {
    DeskError::Rejected(Rejection {
        kind: RejectionKind::Invalid,
        message,
    })
}

/// What a request for a run gives back.
#[derive(Clone, Debug)]
pub struct Requested {
    pub incident: Incident,
    pub run: ActionRun,
}

/// The runs of the plan's actions.
#[derive(Clone)]
pub struct Actions {
    desk: Desk,
    blocks: Blocks,
    identity: Identity,
    switches: Switches,
    client: reqwest::Client,
}

impl std::fmt::Debug for Actions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Actions")
    }
}

impl Actions {
    pub fn new(desk: Desk, blocks: Blocks, identity: Identity, switches: Switches) -> Self {
        tocsin_notify::use_ring();
        // Redirects are not followed: an action's request goes where the plan says.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| tocsin_notify::http_client(Duration::from_secs(30)));
        Actions {
            desk,
            blocks,
            identity,
            switches,
            client,
        }
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    async fn run(
        &self,
        number: IncidentNumber,
        command: RunCommand,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Incident, DeskError> {
        Ok(self
            .desk
            .act(number, &Command::Run(command), by, None, now)
            .await?
            .incident)
    }

    /// Asks for a run of `action` on incident `number`. A secret it needs that is not set
    /// is refused now, not when it runs.
    pub async fn request(
        &self,
        number: IncidentNumber,
        action: &str,
        inputs: BTreeMap<String, String>,
        automatic: bool,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Requested, DeskError> {
        if let Some(def) = self.desk.plan().action(action) {
            let checked = def.check_inputs(&inputs).map_err(|e| refused(e.to_string()))?;
            revealed(def, &checked, true).map_err(|e| refused(format!("action {action}: {e}")))?;
        }
        let incident = self
            .run(
                number,
                RunCommand::Request {
                    action: action.to_owned(),
                    inputs,
                    automatic,
                },
                by,
                now,
            )
            .await?;
        let run = incident.runs.last().cloned().expect("the request added a run");
        Ok(Requested { incident, run })
    }

    /// Approves run `run`. Where the plan wants two people, a run asked for with an API
    /// token counts as asked by the token's maker.
    pub async fn approve(
        &self,
        number: IncidentNumber,
        run: u32,
        by: &Actor,
        now: Timestamp,
    ) -> Result<ActionRun, DeskError> {
        let view = self.desk.incident(number).await?;
        if let Some(r) = view.incident.run(run)
            && let Some(token) = r.requested.by.as_str().strip_prefix("token:")
            && self
                .desk
                .plan()
                .action(r.action.as_str())
                .and_then(|a| a.approval.as_ref())
                .is_some_and(|a| a.two_people)
        {
            let tokens = self.identity.tokens().await.map_err(|e| refused(e.to_string()))?;
            if tokens
                .iter()
                .any(|t| t.name == token && t.created_by.eq_ignore_ascii_case(by.as_str()))
            {
                return Err(DeskError::Rejected(Rejection {
                    kind: RejectionKind::Conflict,
                    message: format!(
                        "{by} asked for run {run} of {number} with token \"{token}\"; the plan wants someone else to approve it"
                    ),
                }));
            }
        }
        let incident = self.run(number, RunCommand::Approve { run }, by, now).await?;
        Ok(incident.run(run).cloned().expect("the run approved"))
    }

    pub async fn reject(
        &self,
        number: IncidentNumber,
        run: u32,
        reason: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<ActionRun, DeskError> {
        let incident = self
            .run(
                number,
                RunCommand::Reject {
                    run,
                    reason: reason.to_owned(),
                },
                by,
                now,
            )
            .await?;
        Ok(incident.run(run).cloned().expect("the run rejected"))
    }

    /// Asks for the undo of a run that succeeded: a new run.
    pub async fn undo(
        &self,
        number: IncidentNumber,
        run: u32,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Requested, DeskError> {
        let incident = self.run(number, RunCommand::Undo { run }, by, now).await?;
        let run = incident.runs.last().cloned().expect("the undo added a run");
        Ok(Requested { incident, run })
    }

    /// What a run of `action` with `inputs` would send on incident `number`, secrets
    /// masked; nothing is recorded or sent.
    pub async fn dry_run(
        &self,
        number: IncidentNumber,
        action: &str,
        inputs: &BTreeMap<String, String>,
    ) -> Result<Prepared, DeskError> {
        let plan = self.desk.plan();
        let def = plan.action(action).ok_or_else(|| {
            let ids: Vec<&str> = plan.actions().iter().map(|a| a.id.as_str()).collect();
            let guess = tocsin_core::id::closest(action, ids.iter().copied())
                .map(|g| format!("; did you mean \"{g}\"?"))
                .unwrap_or_default();
            refused(format!("the plan has no action \"{action}\"{guess}"))
        })?;
        let checked = def.check_inputs(inputs).map_err(|e| refused(e.to_string()))?;
        let view = self.desk.incident(number).await?;
        let next = view.incident.runs.len() + 1;
        let (shown, secret) = revealed(def, &checked, true).map_err(|e| refused(format!("action {action}: {e}")))?;
        prepare(def, &view.incident, next, &shown, secret.as_deref())
    }

    /// Carries a started run out: what it came to. Nothing here fails outright; every
    /// problem is a failed outcome that says why.
    pub async fn execute(&self, incident: &Incident, run: &ActionRun, def: &ActionDef) -> Outcome {
        let label = run.label(incident);
        let (inputs, secret) = match revealed(def, &run.inputs, false) {
            Ok(revealed) => revealed,
            Err(why) => return failed(why),
        };
        let prepared = match prepare(def, incident, run.number as usize, &inputs, secret.as_deref()) {
            Ok(prepared) => prepared,
            Err(e) => return failed(e.to_string()),
        };
        let timeout = Duration::from_secs(def.timeout_seconds);
        // What it came to is kept on the timeline: the secrets it was given never are,
        // even where an answer or a program's output repeats them.
        let secrets: Vec<String> = def
            .secret_inputs()
            .filter_map(|name| inputs.get(name).cloned())
            .chain(secret.clone())
            .filter(|s| s.len() >= 4)
            .collect();
        let outcome = match (&def.kind, prepared) {
            (ActionKind::Http(call), Prepared::Http(request)) => self.send(call, request, None, timeout).await,
            (ActionKind::Webhook(call), Prepared::Webhook(request)) => {
                let Some(secret) = secret else {
                    return failed("a webhook needs its signing secret".into());
                };
                // One id for every attempt of the run, so that the receiver can tell a retry.
                let id = format!("msg_{}_{}", incident.number, run.number);
                self.send(call, request, Some((id, secret)), timeout).await
            }
            (ActionKind::Command(call), Prepared::Command(program)) => {
                command(call, program, &label, &inputs, secret.as_deref(), timeout).await
            }
            (ActionKind::Builtin(builtin), Prepared::Builtin { .. }) => {
                self.builtin(*builtin, def, incident, run, &label).await
            }
            _ => failed("the action's kind and its request disagree".into()),
        };
        masked(outcome, &secrets)
    }

    async fn send(
        &self,
        call: &HttpCall,
        request: tocsin_core::action::HttpRequest,
        signed: Option<(String, String)>,
        timeout: Duration,
    ) -> Outcome {
        let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
            return failed(format!("\"{}\" is not an HTTP method", request.method));
        };
        let mut builder = self.client.request(method, &request.url).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = request.body.unwrap_or_default();
        if let Some((id, secret)) = signed {
            let timestamp = Timestamp::now().as_second();
            let key = match secret.strip_prefix("whsec_") {
                Some(encoded) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
                    Ok(key) => key,
                    Err(_) => return failed("the webhook secret starts with whsec_ but is not base64".into()),
                },
                None => secret.into_bytes(),
            };
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key");
            mac.update(webhook_signed_content(&id, timestamp, &body).as_bytes());
            let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            builder = builder
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", format!("v1,{signature}"));
        }
        if !body.is_empty() {
            builder = builder.body(body);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return failed(format!("no answer within {}s", timeout.as_secs())),
            Err(e) => {
                return failed(format!(
                    "the request could not be sent: {}",
                    crate::services::error_chain(&e)
                ));
            }
        };
        let status = response.status().as_u16();
        let answer = read_bounded(response).await;
        judge(call, status, &answer)
    }

    async fn builtin(
        &self,
        builtin: Builtin,
        def: &ActionDef,
        incident: &Incident,
        run: &ActionRun,
        label: &str,
    ) -> Outcome {
        let actor = Actor::parse("tocsin").expect("a valid actor");
        let now = Timestamp::now();
        let input = |name: &str| run.inputs.get(name).cloned().unwrap_or_default();
        let reason = run
            .inputs
            .get("reason")
            .cloned()
            .unwrap_or_else(|| format!("{} ({label})", def.name));
        let lasts = match run.inputs.get("for").map(|t| span(t)).transpose() {
            Ok(lasts) => lasts,
            Err(e) => return failed(e.to_string()),
        };
        match builtin {
            Builtin::Block if run.undoes.is_some() && def.undo == Some(Undo::Builtin) => {
                // Undoing a block ends the block that run added.
                let original = run.undoes.and_then(|n| incident.run(n));
                let Some(id) = original
                    .and_then(|r| r.outcome.as_ref())
                    .and_then(|o| o.captured.get("block"))
                    .and_then(|id| id.parse::<i64>().ok())
                else {
                    return failed("the run to undo recorded no block".into());
                };
                match self.blocks.remove(id, &actor, now).await {
                    Ok(block) => ok(format!("ended block {id} of {}", block.network), BTreeMap::new()),
                    Err(super::blocks::BlockError::NotInForce(_)) => {
                        ok(format!("block {id} had already ended"), BTreeMap::new())
                    }
                    Err(e) => failed(e.to_string()),
                }
            }
            Builtin::Block => {
                match self
                    .blocks
                    .add(&input("address"), &reason, Some(incident.number), lasts, &actor, now)
                    .await
                {
                    Ok(block) => ok(
                        format!("blocked {} (block {})", block.network, block.id),
                        BTreeMap::from([("block".to_owned(), block.id.to_string())]),
                    ),
                    Err(e) => failed(e.to_string()),
                }
            }
            Builtin::Unblock => {
                let Some(network) = run.inputs.get("address").and_then(|a| Network::parse(a).ok()) else {
                    return failed("no address to unblock".into());
                };
                let in_force = match self.blocks.list(now, false).await {
                    Ok(list) => list,
                    Err(e) => return failed(e.to_string()),
                };
                let mut ended = Vec::new();
                for block in in_force.iter().filter(|b| b.network == network) {
                    match self.blocks.remove(block.id, &actor, now).await {
                        Ok(_) | Err(super::blocks::BlockError::NotInForce(_)) => ended.push(block.id.to_string()),
                        Err(e) => return failed(e.to_string()),
                    }
                }
                if ended.is_empty() {
                    ok(format!("no block of {network} was in force"), BTreeMap::new())
                } else {
                    ok(
                        format!("ended block(s) {} of {network}", ended.join(", ")),
                        BTreeMap::from([("ended".to_owned(), ended.join(","))]),
                    )
                }
            }
            Builtin::MaintenanceOn | Builtin::PauseAgent if run.undoes.is_some() => {
                // The undo turns off what the run turned on.
                let subject = input(if builtin == Builtin::PauseAgent {
                    "agent"
                } else {
                    "service"
                });
                let turned = if builtin == Builtin::PauseAgent {
                    self.switches.resume(&subject, &actor, now).await
                } else {
                    self.switches.maintenance_off(&subject, &actor, now).await
                };
                switched(turned, format!("turned {subject} back"))
            }
            Builtin::MaintenanceOn => {
                let service = input("service");
                let plan = self.desk.plan();
                let turned = self
                    .switches
                    .maintenance_on(&plan, &service, &reason, lasts, Some(incident.number), &actor, now)
                    .await;
                switched(turned, format!("{service} is in maintenance"))
            }
            Builtin::MaintenanceOff => {
                let service = input("service");
                switched(
                    self.switches.maintenance_off(&service, &actor, now).await,
                    format!("{service} is out of maintenance"),
                )
            }
            Builtin::PauseAgent => {
                let agent = input("agent");
                switched(
                    self.switches
                        .pause(&agent, &reason, Some(incident.number), &actor, now)
                        .await,
                    format!("{agent} is told to pause"),
                )
            }
            Builtin::ResumeAgent => {
                let agent = input("agent");
                switched(
                    self.switches.resume(&agent, &actor, now).await,
                    format!("{agent} is told to run again"),
                )
            }
            Builtin::RevokeAccess => {
                let account = input("account");
                match self.identity.revoke_access(&account, &actor, now).await {
                    Ok((sessions, tokens)) => ok(
                        format!(
                            "ended {sessions} session(s) of {account} and revoked {} token(s){}",
                            tokens.len(),
                            if tokens.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", tokens.join(", "))
                            }
                        ),
                        BTreeMap::new(),
                    ),
                    Err(e) => failed(e.to_string()),
                }
            }
        }
    }
}

/// `outcome` with every occurrence of `secrets` masked.
fn masked(mut outcome: Outcome, secrets: &[String]) -> Outcome {
    for secret in secrets {
        outcome.summary = outcome.summary.replace(secret.as_str(), MASK);
        for value in outcome.captured.values_mut() {
            *value = value.replace(secret.as_str(), MASK);
        }
    }
    outcome
}

/// What a run sends, from the incident and the (read or masked) inputs.
fn prepare(
    def: &ActionDef,
    incident: &Incident,
    run: usize,
    inputs: &BTreeMap<String, String>,
    secret: Option<&str>,
) -> Result<Prepared, DeskError> {
    let id = incident.number.to_string();
    let label = format!("{id}/{run}");
    let facts = Facts {
        incident: &id,
        title: &incident.title,
        severity: incident.severity.as_str(),
        run: &label,
        inputs,
        secret,
    };
    def.prepare(&facts).map_err(|e| refused(e.to_string()))
}

/// A switch turned, or why not: one already as asked is no failure.
fn switched(turned: Result<tocsin_store::switches::Switch, SwitchError>, done: String) -> Outcome {
    match turned {
        Ok(_) => ok(done, BTreeMap::new()),
        Err(SwitchError::Conflict(why)) => ok(format!("{why}; nothing to do"), BTreeMap::new()),
        Err(e) => failed(e.to_string()),
    }
}

fn ok(summary: String, captured: BTreeMap<String, String>) -> Outcome {
    Outcome {
        ok: true,
        summary,
        status: None,
        captured,
    }
}

fn failed(summary: String) -> Outcome {
    Outcome {
        ok: false,
        summary: cut(&summary, SUMMARY_MAX),
        ..Outcome::default()
    }
}

/// The start of an answer, at most [`ANSWER_MAX`] bytes, as text.
async fn read_bounded(response: reqwest::Response) -> String {
    String::from_utf8_lossy(&crate::services::read_up_to(response, ANSWER_MAX).await.0).into_owned()
}

/// Runs a local program without a shell: its inputs and the secret in its environment
/// (`TOCSIN_INPUT_NAME`, `TOCSIN_SECRET`), its output read up to a bound, killed at the
/// timeout.
async fn command(
    call: &CommandCall,
    program: tocsin_core::action::ProgramRun,
    label: &str,
    inputs: &BTreeMap<String, String>,
    secret: Option<&str>,
    timeout: Duration,
) -> Outcome {
    use tokio::io::AsyncReadExt;
    let mut command = tokio::process::Command::new(&program.program);
    command
        .args(&program.args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TOCSIN_RUN", label)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in inputs {
        command.env(format!("TOCSIN_INPUT_{}", name.to_uppercase()), value);
    }
    if let Some(secret) = secret {
        command.env("TOCSIN_SECRET", secret);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("{} could not start: {e}", program.program)),
    };
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let ran = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            let _ = (&mut stdout).take(ANSWER_MAX as u64).read_to_end(&mut out).await;
            // The rest is read and dropped, so that the program never blocks on a full pipe.
            let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
        };
        let read_err = async {
            let _ = (&mut stderr).take(ANSWER_MAX as u64).read_to_end(&mut err).await;
            let _ = tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await;
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    match tokio::time::timeout(timeout, ran).await {
        Err(_) => failed(format!(
            "{} did not finish within {}s and was killed",
            program.program,
            timeout.as_secs()
        )),
        Ok((Err(e), _, _)) => failed(format!("{} could not be waited for: {e}", program.program)),
        Ok((Ok(status), out, err)) => {
            let out = String::from_utf8_lossy(&out).into_owned();
            let err = String::from_utf8_lossy(&err).into_owned();
            let shown = if out.trim().is_empty() { &err } else { &out };
            let verdict = match status.code() {
                Some(code) => format!("exit {code}"),
                None => "killed by a signal".to_owned(),
            };
            let summary = if shown.trim().is_empty() {
                verdict
            } else {
                format!("{verdict}: {}", cut(shown.trim(), SUMMARY_MAX))
            };
            Outcome {
                ok: status.success(),
                summary,
                status: None,
                captured: capture(&out, &call.capture),
            }
        }
    }
}
