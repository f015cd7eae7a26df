//! `tocsin integration add|list|remove`: the tools that send tocsin alerts in their own
//! formats, each with a key printed once.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::duration::Duration;
use tocsin_server::services::blocks::Blocks;
use tocsin_server::services::integrations::{IntegrationKind, Integrations};
use tocsin_store::integrations::IntegrationRecord;

use crate::args::{IntegrationCommand, SecretArgs};
use crate::context::Context;
use crate::render::{Paint, Table, plain, time as when};
use crate::{emit, try_emit};

pub async fn run(context: &Context, command: IntegrationCommand) -> anyhow::Result<ExitCode> {
    let Some(store) = context.store(true).await? else {
        bail!("the database could not be created")
    };
    let integrations = Integrations::new(Arc::clone(&store));
    let actor = context.actor()?;
    match command {
        IntegrationCommand::Add {
            kind,
            name,
            url,
            stale_after,
            verify,
            secret,
        } => {
            let kind = IntegrationKind::parse(&kind).ok_or_else(|| {
                let known: Vec<&str> = IntegrationKind::ALL.iter().map(|k| k.as_str()).collect();
                anyhow!("unknown integration kind \"{kind}\"; use one of {}", known.join(", "))
            })?;
            let mut settings = serde_json::Map::new();
            if let Some(text) = stale_after {
                if kind != IntegrationKind::Heartbeat {
                    bail!("--stale-after is for heartbeat integrations");
                }
                let duration = Duration::parse(&text).map_err(|e| anyhow!("--stale-after: {e}"))?;
                if duration.elapsed_seconds().is_none_or(|s| s < 60) {
                    bail!("--stale-after must be an exact span of a minute or more, like 10m");
                }
                settings.insert("stale_after".into(), json!(text));
            }
            if let Some(value) = verify {
                if kind != IntegrationKind::Vercel {
                    bail!("--verify is for vercel integrations");
                }
                if value.is_empty() || value.len() > 256 || !value.bytes().all(|b| b.is_ascii_graphic()) {
                    bail!("--verify must be the value Vercel shows: up to 256 visible characters, no spaces");
                }
                settings.insert("verify".into(), json!(value));
            }
            if let Some(secret) = secret.read()? {
                if kind.signature().is_none() {
                    bail!(
                        "--secret-env and --secret-file are for {} integrations",
                        IntegrationKind::signing()
                    );
                }
                settings.insert("secret".into(), json!(secret));
            }
            let (record, key) = integrations
                .add(kind, &name, serde_json::Value::Object(settings), &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            let url = url.trim_end_matches('/');
            let uses = usage(kind, &record, key.expose(), url)?;
            let out = if context.json() {
                let mut doc = doc(&record);
                doc["key"] = json!(key.expose());
                doc["use"] = json!(uses);
                doc.to_string()
            } else {
                format!(
                    "Added the {kind} integration \"{}\"\n  key: {}\n  It is shown only this once.\n\n{}",
                    record.name,
                    key.expose(),
                    uses
                )
            };
            if let Err(e) = try_emit(&out) {
                integrations
                    .remove(&record.name, &actor, context.now)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                bail!(
                    "the integration's key could not be shown ({e}), so \"{}\" was removed again; add it anew",
                    record.name
                );
            }
        }
        IntegrationCommand::List => {
            let records = integrations.list().await?;
            if context.json() {
                // A bouncer's doc adds where it stands: its last pull and what it said.
                let bouncers = Blocks::new(Arc::clone(&store) as _).bouncers().await?;
                let docs: Vec<serde_json::Value> = records
                    .iter()
                    .map(|r| {
                        let mut doc = doc(r);
                        if let Some(b) = bouncers.iter().find(|b| b.integration == r.id) {
                            doc["pulled_at"] = json!(b.pulled.as_ref().map(|(at, _)| at));
                            doc["agent"] = json!(b.pulled.as_ref().map(|(_, agent)| agent));
                            doc["metrics_at"] = json!(b.metrics.as_ref().map(|(at, _)| at));
                            doc["metrics"] = b
                                .metrics
                                .as_ref()
                                .and_then(|(_, text)| serde_json::from_str(text).ok())
                                .unwrap_or(serde_json::Value::Null);
                        }
                        doc
                    })
                    .collect();
                emit(&serde_json::to_string(&docs)?);
                return Ok(ExitCode::SUCCESS);
            }
            if records.is_empty() {
                emit("No integrations. Add one with `tocsin integration add KIND --name NAME`.");
                return Ok(ExitCode::SUCCESS);
            }
            let zone = context.plan().await?.calendar().zone().clone();
            let mut table = Table::new(&[
                "NAME",
                "KIND",
                "KEY",
                "REQUESTS",
                "ACCEPTED",
                "REFUSED",
                "LAST",
                "LAST ERROR",
            ]);
            for r in &records {
                let s = &r.stats;
                table.row(vec![
                    plain(&r.name),
                    plain(&r.kind),
                    plain(format!("…{}", r.key_hint)),
                    plain(s.received.to_string()),
                    plain(s.accepted.to_string()),
                    plain(s.refused.to_string()),
                    plain(
                        s.last
                            .as_ref()
                            .map_or_else(|| "never".into(), |(at, _)| when(*at, &zone)),
                    ),
                    plain(
                        s.last_error
                            .as_ref()
                            .map_or_else(String::new, |(at, why)| format!("{} {why}", when(*at, &zone))),
                    ),
                ]);
            }
            emit(&table.render(Paint { on: context.colour() }, ""));
        }
        IntegrationCommand::Secret { name, secret } => {
            let Some(secret) = secret.read()? else {
                bail!("give the secret with --secret-env VARIABLE or --secret-file PATH");
            };
            let record = integrations
                .set_secret(&name, &secret, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&record).to_string());
            } else {
                emit(&format!(
                    "Set the client secret of \"{}\": its deliveries must now be signed with it",
                    record.name
                ));
            }
        }
        IntegrationCommand::Remove { name } => {
            let removed = integrations
                .remove(&name, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if context.json() {
                emit(&doc(&removed).to_string());
            } else {
                emit(&format!(
                    "Removed the {} integration \"{}\"; its key no longer works",
                    removed.kind, removed.name
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn doc(r: &IntegrationRecord) -> serde_json::Value {
    let s = &r.stats;
    json!({
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "key_hint": r.key_hint,
        "created_at": r.created_at,
        "created_by": r.created_by,
        "received": s.received,
        "accepted": s.accepted,
        "refused": s.refused,
        "last_at": s.last.as_ref().map(|(at, _)| at),
        "last_payload": s.last.as_ref().map(|(_, text)| text),
        "last_error_at": s.last_error.as_ref().map(|(at, _)| at),
        "last_error": s.last_error.as_ref().map(|(_, text)| text),
    })
}

/// How to point the tool at tocsin.
fn usage(kind: IntegrationKind, record: &IntegrationRecord, key: &str, url: &str) -> anyhow::Result<String> {
    Ok(match kind {
        IntegrationKind::Alertmanager => format!(
            "Prometheus (prometheus.yml):\n  alerting:\n    alertmanagers:\n      - static_configs:\n          - targets: [\"{host}\"]\n        scheme: {scheme}\n        authorization:\n          credentials: {key}\n\
             amtool: --alertmanager.url={url} --http.config.file=FILE, FILE holding\n  authorization:\n    credentials: {key}\n\
             An Alertmanager receiver (alertmanager.yml):\n  webhook_configs:\n    - url: {url}/api/v1/webhooks/alertmanager\n      http_config:\n        authorization:\n          credentials: {key}",
            host = host_of(url)?,
            scheme = scheme_of(url),
        ),
        IntegrationKind::Pagerduty => {
            format!("Send PagerDuty Events API v2 events to {url}/v2/enqueue with routing_key {key}")
        }
        IntegrationKind::Sentry => {
            let (scheme, host) = (scheme_of(url), host_of(url)?);
            format!("Sentry SDKs: dsn = \"{scheme}://{key}@{host}/{}\"", record.id)
        }
        IntegrationKind::SentryWebhook => {
            let mut text = format!(
                "Sentry internal integration, webhook URL: {url}/api/v1/webhooks/sentry/{key}\n\
                 Turn on Alert Rule Action (issue and metric alerts) and the issue webhooks."
            );
            if record.settings.get("secret").is_none() {
                text.push_str(&format!(
                    "\nThen give tocsin the integration's client secret: \
                     tocsin integration secret {} --secret-env VARIABLE (or --secret-file PATH)",
                    record.name
                ));
            }
            text
        }
        IntegrationKind::Heartbeat => {
            format!("Push to {url}/api/v1/heartbeat/{key} (GET or POST; add ?status=down&msg=... when the job failed)")
        }
        IntegrationKind::Bouncer => format!(
            "In the bouncer's configuration (crowdsec-firewall-bouncer.yaml, crowdsec-custom-bouncer.yaml, …):\n  \
             api_url: {url}/\n  api_key: {key}\n\
             Its decisions come from origin \"tocsin\": an origins setting, if it has one, must name it."
        ),
        // Senders received through the one generic path say how themselves.
        other => match other.received_at() {
            Some((path, setup)) => setup
                .replace("{url}", &format!("{url}{}", path.replace("{key}", key)))
                .replace("NAME", &record.name),
            None => bail!("tocsin cannot say how to set up a {other} sender"),
        },
    })
}

fn scheme_of(url: &str) -> &str {
    url.split_once("://").map_or("http", |(scheme, _)| scheme)
}

/// `host:port` of an address, with the path cut off.
fn host_of(url: &str) -> anyhow::Result<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        bail!("--url \"{url}\" names no host");
    }
    Ok(host)
}

impl SecretArgs {
    /// The secret, from the variable or the file named, if one is.
    fn read(&self) -> anyhow::Result<Option<String>> {
        let secret = match (&self.secret_env, &self.secret_file) {
            (Some(name), _) => {
                std::env::var(name).map_err(|_| anyhow!("the environment variable {name} is not set"))?
            }
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| anyhow!("cannot read the secret from {}: {e}", path.display()))?,
            (None, None) => return Ok(None),
        };
        let secret = secret.trim();
        if secret.is_empty() {
            bail!("the secret is empty");
        }
        Ok(Some(secret.to_owned()))
    }
}
