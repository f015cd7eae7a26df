//! `tocsin keys show|rotate`: the Ed25519 key that signs the audit chain's head. It lives
//! in a file of its own (mode 600), never in the database.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::json;
use tocsin_core::audit::EntryDraft;
use tocsin_server::services::seal::{Keyring, Sealer, key_name, read_heads};

use crate::args::KeysCommand;
use crate::context::Context;
use crate::emit;

pub async fn run(context: &Context, command: &KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Show => show(context),
        KeysCommand::Rotate => rotate(context).await,
    }
}

fn show(context: &Context) -> anyhow::Result<ExitCode> {
    let paths = context.seal_paths();
    let Some(keyring) = Keyring::open(&paths.key)? else {
        bail!(
            "there is no signing key at {}; `tocsin serve` makes one when it first starts, `tocsin keys rotate` makes one now",
            paths.key.display()
        )
    };
    let heads = match paths.heads.exists() {
        true => read_heads(&paths.heads)?,
        false => Vec::new(),
    };
    let last = heads.last().map(|h| &h.head);
    if context.json() {
        let retired: Vec<_> = keyring
            .retired()
            .iter()
            .map(|(key, at)| json!({"key": key_name(key), "retired_at": at}))
            .collect();
        emit(
            &json!({
                "key": key_name(&keyring.public()),
                "file": paths.key,
                "retired": retired,
                "heads": {"file": paths.heads, "lines": heads.len(), "last_seq": last.map(|h| h.seq), "last_at": last.map(|h| h.at)},
            })
            .to_string(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = format!(
        "{}\n  the audit chain's signing key, in {}\n",
        key_name(&keyring.public()),
        paths.key.display()
    );
    for (key, at) in keyring.retired() {
        out.push_str(&format!("  replaced {} on {at}\n", key_name(key)));
    }
    match last {
        Some(last) => out.push_str(&format!(
            "  {} signed heads in {}; the last covers entry #{}, signed {}\n",
            heads.len(),
            paths.heads.display(),
            last.seq,
            last.at
        )),
        None => out.push_str(&format!("  no signed heads yet in {}\n", paths.heads.display())),
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}

/// Signs what the old key can still vouch for, hands over to a new key in a line the old
/// one signs, records who did it on the chain, and seals that entry with the new key.
async fn rotate(context: &Context) -> anyhow::Result<ExitCode> {
    let Some(store) = context.store(false).await? else {
        bail!(
            "there is no database at {} yet; the key is made when tocsin first starts",
            context.global.db
        )
    };
    let actor = context.actor()?;
    let paths = context.seal_paths();
    let previous = Keyring::open(&paths.key)?.map(|k| k.public());
    let mut sealer = Sealer::new(paths.clone());
    let (keyring, handover) = sealer.rotate(&*store, context.now).await?;
    let data = json!({
        "key": key_name(&keyring.public()),
        "previous": previous.as_ref().map(key_name),
    });
    store
        .record(EntryDraft::system("signing_key_rotated", &actor, context.now, data))
        .await
        .map_err(|e| anyhow!("the key was replaced, but the audit entry could not be written: {e}"))?;
    sealer.seal(&*store, context.now, false).await?;
    if context.json() {
        emit(&json!({"key": key_name(&keyring.public()), "previous": previous.as_ref().map(key_name), "handover_seq": handover.seq}).to_string());
    } else {
        emit(&format!(
            "{}\n  the new signing key, in {}; the old key signed the hand-over at entry #{} in {}\n",
            key_name(&keyring.public()),
            paths.key.display(),
            handover.seq,
            paths.heads.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
