//! Integrations: the tools that send tocsin what they already emit (Alertmanager,
//! PagerDuty-style senders, Sentry SDKs and webhooks, heartbeat pushes). Each has a name
//! and a key; the key names the integration in every request, in the way its sender
//! carries one (a bearer token, a routing key, a DSN, a path). What each sent is counted,
//! with its last payload and its last error, so that a person can see why an alert did
//! or did not open an incident.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::audit::{EntryDraft, canonical_json, fingerprint};
use tocsin_core::incident::Actor;
use tocsin_store::Store;
use tocsin_store::StoreError;
use tocsin_store::integrations::{IntegrationRecord, IntegrationStats, NewIntegration, StatsDelta};

use crate::services::identity::{Secret, digest};

pub use tocsin_core::senders::IntegrationKind;

/// An integration that a request named by its key.
#[derive(Clone, Debug)]
pub struct Integration {
    pub id: i64,
    pub name: String,
    pub kind: IntegrationKind,
    pub settings: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("{0}")]
    Invalid(String),
    #[error("no integration is named \"{0}\"; `tocsin integration list` shows them")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long the known keys are trusted before they are read again: a removed key stops
/// working within this time. An unknown key reads them again at once, so that a key added
/// by the CLI or another instance works the moment it is printed.
const REFRESH: Duration = Duration::from_secs(5);
/// The most of a payload kept as the last one seen.
pub const PAYLOAD_KEPT: usize = 8 * 1024;
/// How long a signed delivery is remembered. Sentry signs the body, not the time it was
/// sent, so a body sent again with a fresh timestamp is told apart only by memory.
pub const REPLAY_MEMORY: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

struct Keys {
    by_hash: HashMap<String, Arc<Integration>>,
    /// When the read that found them began.
    read_at: Instant,
}

/// The integrations, their keys, and what they sent since the counts were last stored.
#[derive(Clone)]
pub struct Integrations {
    store: Arc<dyn Store>,
    keys: Arc<RwLock<Keys>>,
    /// Held while the keys are read again: misses that arrive meanwhile wait for that read
    /// instead of starting their own, so a flood of wrong keys costs one read at a time.
    reading: Arc<tokio::sync::Mutex<()>>,
    pending: Arc<Mutex<HashMap<i64, Pending>>>,
}

/// Counts gathered since they were last stored. The last payload is kept as received
/// (a shared buffer) and turned into text only when stored, off the request path.
#[derive(Default)]
struct Pending {
    received: u64,
    accepted: u64,
    refused: u64,
    last: Option<(Timestamp, Bytes)>,
    last_error: Option<(Timestamp, String)>,
}

impl fmt::Debug for Integrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integrations").finish_non_exhaustive()
    }
}

/// A key: 32 hex digits, the shape of PagerDuty routing keys and Sentry public keys.
fn new_key() -> Secret {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    Secret::new(hex::encode(bytes))
}

impl Integrations {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Integrations {
            store,
            keys: Arc::new(RwLock::new(Keys {
                by_hash: HashMap::new(),
                read_at: Instant::now() - REFRESH - REFRESH,
            })),
            reading: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// Adds an integration and returns it with its key, to be shown once.
    pub async fn add(
        &self,
        kind: IntegrationKind,
        name: &str,
        settings: serde_json::Value,
        by: &Actor,
        now: Timestamp,
    ) -> Result<(IntegrationRecord, Secret), IntegrationError> {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            return Err(IntegrationError::Invalid(format!(
                "\"{name}\" is not a valid integration name: use 1 to 64 lowercase letters, digits, - and _"
            )));
        }
        let key = new_key();
        let key_hash = digest(key.expose());
        let data = json!({
            "integration": name,
            "kind": kind.as_str(),
            "key": fingerprint(key_hash.as_bytes()),
            "settings": settings_fingerprint(&settings),
        });
        let entry = EntryDraft::system("integration_added", by, now, data);
        let new = NewIntegration {
            name: name.to_owned(),
            kind: kind.as_str().to_owned(),
            key_hash,
            key_hint: key.expose()[28..].to_owned(),
            settings,
            created_by: by.to_string(),
            at: now,
        };
        let record = self.store.add_integration(new, entry).await.map_err(|e| match e {
            StoreError::Duplicate(text) => IntegrationError::Invalid(text),
            other => IntegrationError::Store(other),
        })?;
        self.forget();
        Ok((record, key))
    }

    /// Active integrations, by name, with their stored counts.
    pub async fn list(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.store.integrations().await
    }

    async fn named(&self, name: &str) -> Result<IntegrationRecord, IntegrationError> {
        self.list()
            .await?
            .into_iter()
            .find(|i| i.name == name.trim())
            .ok_or_else(|| IntegrationError::Unknown(name.trim().to_owned()))
    }

    /// Removes the integration `name`: its key stops working.
    pub async fn remove(&self, name: &str, by: &Actor, now: Timestamp) -> Result<IntegrationRecord, IntegrationError> {
        let record = self.named(name).await?;
        let entry = EntryDraft::system(
            "integration_removed",
            by,
            now,
            json!({"integration": record.name, "kind": record.kind}),
        );
        self.store.remove_integration(record.id, now, entry).await?;
        self.forget();
        Ok(record)
    }

    /// Sets the secret that a signing integration's deliveries (sentry-webhook, vercel) are
    /// signed with.
    pub async fn set_secret(
        &self,
        name: &str,
        secret: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<IntegrationRecord, IntegrationError> {
        let secret = secret.trim();
        if secret.len() < 16 {
            return Err(IntegrationError::Invalid(
                "the secret is shorter than 16 characters; give the client secret Sentry shows for the integration"
                    .into(),
            ));
        }
        let mut record = self.named(name).await?;
        if IntegrationKind::parse(&record.kind)
            .and_then(IntegrationKind::signature)
            .is_none()
        {
            return Err(IntegrationError::Invalid(format!(
                "\"{}\" is a {} integration; only {} integrations take a secret",
                record.name,
                record.kind,
                IntegrationKind::signing()
            )));
        }
        if !record.settings.is_object() {
            record.settings = json!({});
        }
        record.settings["secret"] = json!(secret);
        let data = json!({
            "integration": record.name,
            "kind": record.kind,
            "settings": settings_fingerprint(&record.settings),
        });
        let entry = EntryDraft::system("integration_secret_set", by, now, data);
        self.store
            .set_integration_settings(record.id, &record.settings, entry)
            .await?;
        self.forget();
        Ok(record)
    }

    /// Whether a signed delivery of `integration` is new: its signature was not seen
    /// within [`REPLAY_MEMORY`] (it is then remembered, in the database, so that a replay
    /// is refused across restarts and by every server).
    pub async fn first_delivery(
        &self,
        integration: &Integration,
        signature: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let since = now.checked_sub(REPLAY_MEMORY).unwrap_or(now);
        self.store
            .first_delivery(integration.id, &hex::encode(signature), now, since)
            .await
    }

    /// Forgets a delivery that was not taken after all, so that it may be sent again.
    pub async fn forget_delivery(&self, integration: &Integration, signature: &[u8]) -> Result<(), StoreError> {
        self.store
            .forget_delivery(integration.id, &hex::encode(signature))
            .await
    }

    fn forget(&self) {
        self.keys.write().expect("not poisoned").read_at = Instant::now() - REFRESH - REFRESH;
    }

    /// The integration whose key this is, if any.
    pub async fn by_key(&self, key: &str) -> Result<Option<Arc<Integration>>, StoreError> {
        let hash = digest(key.trim());
        let asked = Instant::now();
        let (found, read_at) = self.known(&hash);
        if found.is_some() && read_at.elapsed() < REFRESH {
            return Ok(found);
        }
        let _reading = self.reading.lock().await;
        // Another request read the keys while this one waited: that read saw every key
        // added before this request came.
        let (found, read_at) = self.known(&hash);
        if read_at >= asked {
            return Ok(found);
        }
        let started = Instant::now();
        let by_hash: HashMap<String, Arc<Integration>> = self
            .store
            .integrations()
            .await?
            .into_iter()
            .filter_map(|r| {
                let kind = IntegrationKind::parse(&r.kind)?;
                Some((
                    r.key_hash,
                    Arc::new(Integration {
                        id: r.id,
                        name: r.name,
                        kind,
                        settings: r.settings,
                    }),
                ))
            })
            .collect();
        let found = by_hash.get(&hash).cloned();
        *self.keys.write().expect("not poisoned") = Keys {
            by_hash,
            read_at: started,
        };
        Ok(found)
    }

    fn known(&self, hash: &str) -> (Option<Arc<Integration>>, Instant) {
        let keys = self.keys.read().expect("not poisoned");
        (keys.by_hash.get(hash).cloned(), keys.read_at)
    }

    /// Counts a request that `integration` sent: the items it held that were taken, and
    /// the payload (kept cut to [`PAYLOAD_KEPT`]); or why it was refused.
    pub fn count(&self, integration: &Integration, accepted: u64, payload: Bytes, refused: Option<&str>) {
        let now = Timestamp::now();
        let mut pending = self.pending.lock().expect("not poisoned");
        let stats = pending.entry(integration.id).or_default();
        stats.received += 1;
        stats.accepted += accepted;
        stats.last = Some((now, payload));
        if let Some(why) = refused {
            stats.refused += 1;
            stats.last_error = Some((now, why.to_owned()));
        }
    }

    /// Stores the counts gathered since the last call.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let pending: Vec<(i64, Pending)> = self.pending.lock().expect("not poisoned").drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        let deltas: Vec<StatsDelta> = pending
            .into_iter()
            .map(|(id, p)| StatsDelta {
                id,
                stats: IntegrationStats {
                    received: p.received,
                    accepted: p.accepted,
                    refused: p.refused,
                    last: p.last.map(|(at, payload)| (at, cut(&payload))),
                    last_error: p.last_error,
                },
            })
            .collect();
        self.store.add_integration_stats(&deltas).await
    }

    /// Stores the counts every `every`: a worker.
    pub async fn store_counts_every(self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            if let Err(e) = self.flush().await {
                tracing::error!(error = %e, "cannot store the integrations' counts");
            }
        }
    }
}

/// What the audit chain records of an integration's settings, which may hold a secret:
/// the fingerprint of their canonical JSON, as `verify` computes it again.
pub fn settings_fingerprint(settings: &serde_json::Value) -> String {
    fingerprint(&canonical_json(settings))
}

/// A payload as text, cut on a character boundary.
fn cut(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(PAYLOAD_KEPT)]);
    let mut text = text.into_owned();
    if payload.len() > PAYLOAD_KEPT {
        text.push_str(&format!("\n… ({} bytes in all)", payload.len()));
    }
    text
}
