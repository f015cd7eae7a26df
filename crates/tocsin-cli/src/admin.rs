//! `tocsin user ...` and `tocsin token ...`: the people who may log in and the API tokens.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use tocsin_core::duration::Duration;
use tocsin_core::identity::{Role, Scopes};
use tocsin_server::documents::{TokenDoc, UserDoc};
use tocsin_server::services::identity::{Identity, IdentityError, Secret};
use tocsin_store::identity::UserChange;

use crate::args::{TokenCommand, UserCommand};
use crate::context::Context;
use crate::render::{Paint, Table, plain, time as when};
use crate::{emit, try_emit};

/// The identity desk of the database, which is created if needed: the first user of a
/// fresh install is often added before anything else.
async fn identity(context: &Context) -> anyhow::Result<Identity> {
    let Some(store) = context.store(true).await? else {
        bail!("the database could not be created")
    };
    Ok(Identity::new(Arc::clone(&store)))
}

fn fail(e: IdentityError) -> anyhow::Error {
    anyhow!("{e}")
}

fn read_password() -> anyhow::Result<Secret> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from standard input")?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("standard input held no password");
    }
    Ok(Secret::new(password))
}

pub async fn user(context: &Context, command: UserCommand) -> anyhow::Result<ExitCode> {
    let identity = identity(context).await?;
    let actor = context.actor()?;
    let now = context.now;
    let changed = match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let role: Role = role.parse().map_err(|e: String| anyhow!("--role: {e}"))?;
            let password = password_stdin.then(read_password).transpose()?;
            let (user, generated) = identity
                .add_user(&name, role, password.as_ref(), &actor, now)
                .await
                .map_err(fail)?;
            return report_user(context, &identity, &user, generated.as_ref(), "Added").await;
        }
        UserCommand::List => return list_users(context, &identity).await,
        UserCommand::Disable { name } => {
            identity
                .change_user(&name, UserChange::Disabled(true), &actor, now)
                .await
        }
        UserCommand::Enable { name } => {
            identity
                .change_user(&name, UserChange::Disabled(false), &actor, now)
                .await
        }
        UserCommand::Role { name, role } => {
            let role: Role = role.parse().map_err(|e: String| anyhow!(e))?;
            identity.change_user(&name, UserChange::Role(role), &actor, now).await
        }
        UserCommand::Passwd { name, password_stdin } => {
            let (password, generated) = match password_stdin {
                true => (read_password()?, None),
                false => {
                    let secret = tocsin_server::services::identity::random_password();
                    (secret.clone(), Some(secret))
                }
            };
            let user = identity
                .change_user(&name, UserChange::Password(password.expose().to_owned()), &actor, now)
                .await
                .map_err(fail)?;
            return report_user(context, &identity, &user, generated.as_ref(), "New password for").await;
        }
    };
    let user = changed.map_err(fail)?;
    report_user(context, &identity, &user, None, "Changed").await
}

/// Shows a user, with the password tocsin generated for them. A password nobody could read
/// leaves the account disabled rather than open to whoever finds the lost output.
async fn report_user(
    context: &Context,
    identity: &Identity,
    user: &tocsin_store::identity::UserRecord,
    password: Option<&Secret>,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    let out = if context.json() {
        let mut value = serde_json::to_value(UserDoc::of(user))?;
        if let Some(password) = password {
            value["password"] = serde_json::json!(password.expose());
        }
        value.to_string()
    } else {
        let state = if user.disabled { ", disabled" } else { "" };
        let mut out = format!("{verb} {} ({}{state})", user.name, user.role);
        if let Some(password) = password {
            out.push_str(&format!(
                "\n  password: {}\n  It is shown only this once; store it in a password manager.",
                password.expose()
            ));
        }
        out
    };
    if password.is_none() {
        emit(&out);
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(e) = try_emit(&out) {
        identity
            .change_user(
                user.name.as_str(),
                UserChange::Disabled(true),
                &context.actor()?,
                context.now,
            )
            .await
            .map_err(fail)?;
        bail!(
            "the generated password could not be shown ({e}), so {} is disabled; set a password with `tocsin user passwd {}` and enable it again",
            user.name,
            user.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_users(context: &Context, identity: &Identity) -> anyhow::Result<ExitCode> {
    let users = identity.users().await.map_err(fail)?;
    if context.json() {
        let docs: Vec<UserDoc> = users.iter().map(UserDoc::of).collect();
        emit(&serde_json::to_string(&docs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if users.is_empty() {
        emit("No users yet; `tocsin serve` creates the first admin, or run `tocsin user add NAME --role admin`.");
        return Ok(ExitCode::SUCCESS);
    }
    let zone = context.plan().await?.calendar().zone().clone();
    let mut table = Table::new(&["NAME", "ROLE", "STATE", "CREATED", "PASSWORD CHANGED"]);
    for u in &users {
        table.row(vec![
            plain(u.name.as_str()),
            plain(u.role.as_str()),
            plain(if u.disabled { "disabled" } else { "active" }),
            plain(when(u.created_at, &zone)),
            plain(when(u.password_changed_at, &zone)),
        ]);
    }
    emit(&table.render(Paint { on: context.colour() }, ""));
    Ok(ExitCode::SUCCESS)
}

pub async fn token(context: &Context, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let identity = identity(context).await?;
    let actor = context.actor()?;
    let now = context.now;
    match command {
        TokenCommand::Create { name, scopes, expires } => {
            let scopes: Scopes = scopes.parse().map_err(|e: String| anyhow!("--scope: {e}"))?;
            let expires_at = match expires {
                Some(text) => {
                    let duration = Duration::parse(&text).map_err(|e| anyhow!("--expires: {e}"))?;
                    Some(context.plan().await?.calendar().due(now, duration))
                }
                None => None,
            };
            let (token, secret) = identity
                .create_token(&name, scopes, expires_at, &actor, now)
                .await
                .map_err(fail)?;
            let out = if context.json() {
                let mut value = serde_json::to_value(TokenDoc::of(&token))?;
                value["secret"] = serde_json::json!(secret.expose());
                value.to_string()
            } else {
                format!(
                    "Created token \"{}\" with scopes {}\n  {}\n  It is shown only this once. Send it as: Authorization: Bearer <token>",
                    token.name,
                    token.scopes,
                    secret.expose()
                )
            };
            if let Err(e) = try_emit(&out) {
                identity
                    .revoke_token(&token.id.to_string(), &actor, now)
                    .await
                    .map_err(fail)?;
                bail!("the token could not be shown ({e}), so it was revoked; create another",);
            }
        }
        TokenCommand::List => {
            let tokens = identity.tokens().await.map_err(fail)?;
            if context.json() {
                let docs: Vec<TokenDoc> = tokens.iter().map(TokenDoc::of).collect();
                emit(&serde_json::to_string(&docs)?);
                return Ok(ExitCode::SUCCESS);
            }
            if tokens.is_empty() {
                emit("No tokens.");
                return Ok(ExitCode::SUCCESS);
            }
            let zone = context.plan().await?.calendar().zone().clone();
            let mut table = Table::new(&["ID", "NAME", "SCOPES", "ENDS", "STATE", "LAST USED", "CREATED BY"]);
            for t in &tokens {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(at), _) => format!("revoked {}", when(at, &zone)),
                    (None, Some(at)) if at <= now => format!("expired {}", when(at, &zone)),
                    _ => "active".into(),
                };
                table.row(vec![
                    plain(t.id.to_string()),
                    plain(&t.name),
                    plain(t.scopes.to_string()),
                    plain(format!("…{}", t.hint)),
                    plain(state),
                    plain(t.last_used_at.map_or_else(|| "never".into(), |at| when(at, &zone))),
                    plain(&t.created_by),
                ]);
            }
            emit(&table.render(Paint { on: context.colour() }, ""));
        }
        TokenCommand::Revoke { token } => {
            let revoked = identity.revoke_token(&token, &actor, now).await.map_err(fail)?;
            if context.json() {
                emit(&serde_json::to_string(&TokenDoc::of(&revoked))?);
            } else {
                emit(&format!("Revoked token \"{}\" (id {})", revoked.name, revoked.id));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
