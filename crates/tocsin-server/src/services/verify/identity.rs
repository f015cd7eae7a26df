//! Who may act, and who is kept out, as the audit chain tells it: users, their roles and
//! passwords, tokens, integrations and blocks, replayed from their entries and compared
//! with the stored rows, so that a user or token written straight into the database, or a
//! block ended there, is found.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tocsin_core::Timestamp;
use tocsin_core::audit::{AuditEntry, ChainBreak, fingerprint};
use tocsin_store::blocks::Block;
use tocsin_store::identity::{TokenRecord, UserRecord};
use tocsin_store::integrations::IntegrationRecord;
use tocsin_store::{Store, StoreError};

use super::Broken;
use crate::services::integrations::settings_fingerprint;

#[derive(Debug)]
struct User {
    added: u64,
    role: Value,
    disabled: bool,
    /// The fingerprint of the password hash; `None` for entries written before tocsin
    /// recorded it.
    password: Option<String>,
}

#[derive(Debug)]
struct Token {
    created: u64,
    name: String,
    scopes: String,
    expires_at: Option<Timestamp>,
    fingerprint: Option<String>,
}

#[derive(Debug)]
struct Integration {
    added: u64,
    kind: String,
    key: Option<String>,
    settings: Option<String>,
}

/// A block as its entry added it.
#[derive(Debug)]
struct BlockEntry {
    added: u64,
    network: String,
    reason: String,
    expires: Option<Timestamp>,
}

/// The identity tables and the blocks as stored.
#[derive(Debug)]
pub(super) struct Rows {
    users: Vec<UserRecord>,
    tokens: Vec<TokenRecord>,
    /// The active ones.
    integrations: Vec<IntegrationRecord>,
    /// Every block, oldest first.
    blocks: Vec<Block>,
}

impl Rows {
    pub(super) async fn read(store: &dyn Store) -> Result<Rows, StoreError> {
        Ok(Rows {
            users: store.users().await?,
            tokens: store.tokens().await?,
            integrations: store.integrations().await?,
            blocks: store.blocks(Timestamp::now(), true).await?,
        })
    }
}

/// The identity tables as the chain has them.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    users: BTreeMap<String, User>,
    tokens: Vec<Token>,
    revoked: BTreeSet<i64>,
    /// Integrations not removed, by name.
    integrations: BTreeMap<String, Integration>,
    /// Blocks in the order they were added: each addition numbers the next block.
    blocks: Vec<BlockEntry>,
    /// The ids of the blocks ended by an entry.
    ended_blocks: BTreeSet<i64>,
}

fn text(entry: &AuditEntry, key: &str) -> Result<String, ChainBreak> {
    entry.data[key].as_str().map(str::to_owned).ok_or_else(|| ChainBreak {
        seq: entry.seq,
        reason: format!("a {} entry without its {key}", entry.action),
    })
}

fn optional(entry: &AuditEntry, key: &str) -> Option<String> {
    entry.data[key].as_str().map(str::to_owned)
}

impl Ledger {
    /// Takes in one entry about tocsin itself (not an incident).
    pub(super) fn read(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let missing_user = |name: &str| ChainBreak {
            seq: entry.seq,
            reason: format!("it changes user \"{name}\", whom no earlier entry added"),
        };
        match entry.action.as_str() {
            "user_added" => {
                let user = User {
                    added: entry.seq,
                    role: entry.data["role"].clone(),
                    disabled: false,
                    password: optional(entry, "password"),
                };
                self.users.insert(text(entry, "user")?, user);
            }
            "user_password_changed" | "user_disabled" | "user_enabled" | "user_role_changed" => {
                let name = text(entry, "user")?;
                let user = self.users.get_mut(&name).ok_or_else(|| missing_user(&name))?;
                match entry.action.as_str() {
                    "user_password_changed" => user.password = optional(entry, "password"),
                    "user_disabled" => user.disabled = true,
                    "user_enabled" => user.disabled = false,
                    _ => user.role = entry.data["role"].clone(),
                }
            }
            "token_created" => self.tokens.push(Token {
                created: entry.seq,
                name: text(entry, "token")?,
                scopes: text(entry, "scopes")?,
                expires_at: serde_json::from_value(entry.data["expires_at"].clone()).unwrap_or(None),
                fingerprint: optional(entry, "fingerprint"),
            }),
            "token_revoked" => {
                let id = entry.data["id"].as_i64().ok_or_else(|| ChainBreak {
                    seq: entry.seq,
                    reason: "a token_revoked entry without the token's id".into(),
                })?;
                self.revoked.insert(id);
            }
            "integration_added" => {
                let integration = Integration {
                    added: entry.seq,
                    kind: text(entry, "kind")?,
                    key: optional(entry, "key"),
                    settings: optional(entry, "settings"),
                };
                self.integrations.insert(text(entry, "integration")?, integration);
            }
            "integration_removed" => {
                self.integrations.remove(&text(entry, "integration")?);
            }
            "block_added" => self.blocks.push(BlockEntry {
                added: entry.seq,
                network: text(entry, "network")?,
                reason: text(entry, "reason")?,
                expires: serde_json::from_value(entry.data["expires"].clone()).unwrap_or(None),
            }),
            "block_removed" => {
                let id = entry.data["block"].as_i64().ok_or_else(|| ChainBreak {
                    seq: entry.seq,
                    reason: "a block_removed entry without the block's id".into(),
                })?;
                self.ended_blocks.insert(id);
            }
            "integration_secret_set" => {
                let name = text(entry, "integration")?;
                if let Some(integration) = self.integrations.get_mut(&name) {
                    integration.settings = optional(entry, "settings");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The first stored row that the chain does not account for, or the first thing the
    /// chain records that is not stored.
    pub(super) fn compare(mut self, rows: Rows) -> Option<Broken> {
        let broken = |what: String, reason: String| Some(Broken::Identity { what, reason });
        for row in rows.users {
            let what = format!("user \"{}\"", row.name);
            let Some(user) = self.users.remove(row.name.as_str()) else {
                return broken(what, "it is stored, but no audit entry added it".into());
            };
            let reason = if user.role != json!(row.role) {
                format!(
                    "its role is {} but the audit chain gives it {}",
                    row.role,
                    user.role.as_str().unwrap_or("none")
                )
            } else if user.disabled != row.disabled {
                format!(
                    "it is {} but the audit chain has it {}",
                    enabled(row.disabled),
                    enabled(user.disabled)
                )
            } else if user
                .password
                .is_some_and(|p| p != fingerprint(row.password_hash.as_bytes()))
            {
                "its password is not the one the audit chain recorded last".into()
            } else {
                continue;
            };
            return broken(what, format!("{reason} (added in entry #{})", user.added));
        }
        if let Some((name, user)) = self.users.into_iter().next() {
            let reason = format!(
                "the audit chain added it in entry #{}, but it is not stored",
                user.added
            );
            return broken(format!("user \"{name}\""), reason);
        }

        let mut tokens = self.tokens;
        for row in rows.tokens {
            let what = format!("token #{} \"{}\"", row.id, row.name);
            let printed = fingerprint(row.hash.as_bytes());
            // A token is its fingerprint; entries from before fingerprints were recorded
            // are matched by name, in the order they were made.
            let found = tokens
                .iter()
                .position(|t| t.fingerprint.as_deref() == Some(printed.as_str()))
                .or_else(|| {
                    tokens
                        .iter()
                        .position(|t| t.fingerprint.is_none() && t.name == row.name)
                });
            let Some(token) = found.map(|i| tokens.remove(i)) else {
                return broken(what, "it is stored, but no audit entry created it".into());
            };
            let reason = if token.scopes != row.scopes.to_string() {
                format!(
                    "its scopes are {} but the audit chain gives it {}",
                    row.scopes, token.scopes
                )
            } else if token.expires_at != row.expires_at {
                "its expiry is not the one the audit chain recorded".into()
            } else if row.revoked_at.is_some() != self.revoked.contains(&row.id) {
                match row.revoked_at {
                    Some(_) => "it is revoked, but no audit entry revoked it".into(),
                    None => "the audit chain revoked it, but it is stored as active".into(),
                }
            } else {
                continue;
            };
            return broken(what, format!("{reason} (created in entry #{})", token.created));
        }
        if let Some(token) = tokens.first() {
            let reason = format!(
                "the audit chain created it in entry #{}, but it is not stored",
                token.created
            );
            return broken(format!("token \"{}\"", token.name), reason);
        }

        for row in rows.integrations {
            let what = format!("integration \"{}\"", row.name);
            let Some(integration) = self.integrations.remove(&row.name) else {
                return broken(what, "it is stored as active, but no audit entry added it".into());
            };
            let reason = if integration.kind != row.kind {
                format!(
                    "it is a {} integration but the audit chain added a {}",
                    row.kind, integration.kind
                )
            } else if integration
                .key
                .is_some_and(|k| k != fingerprint(row.key_hash.as_bytes()))
            {
                "its key is not the one the audit chain recorded".into()
            } else if integration
                .settings
                .is_some_and(|s| s != settings_fingerprint(&row.settings))
            {
                "its settings are not those the audit chain recorded last".into()
            } else {
                continue;
            };
            return broken(what, format!("{reason} (added in entry #{})", integration.added));
        }
        if let Some((name, integration)) = self.integrations.into_iter().next() {
            let reason = format!(
                "the audit chain added it in entry #{} and never removed it, but it is not stored as active",
                integration.added
            );
            return broken(format!("integration \"{name}\""), reason);
        }

        // The blocks are numbered in the order their entries were written (a writer holds
        // the blocks' counter until it commits), so the n-th row is the n-th addition.
        let mut entries = self.blocks.into_iter();
        for row in rows.blocks {
            let what = format!("block {} of {}", row.id, row.network);
            let Some(entry) = entries.next() else {
                return broken(what, "it is stored, but no audit entry added it".into());
            };
            let reason = if entry.network != row.network.to_string() || entry.reason != row.reason {
                format!(
                    "the audit chain added {} for \"{}\" in its place",
                    entry.network, entry.reason
                )
            } else if entry.expires.map(Timestamp::as_millisecond) != row.expires.map(Timestamp::as_millisecond) {
                "its end is not the one the audit chain recorded".into()
            } else if row.removed.is_some() != self.ended_blocks.contains(&row.id) {
                match row.removed {
                    Some(_) => "it is stored as ended, but no audit entry ended it".into(),
                    None => "the audit chain ended it, but it is stored as in force".into(),
                }
            } else {
                continue;
            };
            return broken(what, format!("{reason} (added in entry #{})", entry.added));
        }
        if let Some(entry) = entries.next() {
            let reason = format!(
                "the audit chain added it in entry #{}, but it is not stored",
                entry.added
            );
            return broken(format!("block of {}", entry.network), reason);
        }
        None
    }
}

fn enabled(disabled: bool) -> &'static str {
    if disabled { "disabled" } else { "enabled" }
}
