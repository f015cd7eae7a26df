//! Evidence of incidents: files, command output, notes and the events signals cite, kept by
//! their SHA-256 and never changed. Each addition and each export is an entry of the audit
//! chain (who, when, which hash): the chain of custody.

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::{Actor, IncidentNumber};
use tocsin_store::evidence::{Evidence, EvidenceStore, NewEvidence};
use tocsin_store::{Store, StoreError};

/// The largest item kept.
pub const ITEM_MAX: usize = 25 * 1024 * 1024;
/// The most evidence one incident keeps, in bytes.
pub const INCIDENT_MAX: u64 = 1024 * 1024 * 1024;
/// The longest name and note, in characters.
const NAME_MAX: usize = 200;
const NOTE_MAX: usize = 2_000;
/// What an item may be.
pub const KINDS: [&str; 4] = ["file", "output", "note", "events"];

/// Why an item was not kept or shown; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One item checked against its hash.
#[derive(Clone, Debug)]
pub struct Checked {
    pub evidence: Evidence,
    /// The hash of the content as kept now; the item is intact when it is the one recorded.
    pub found: Option<String>,
}

impl Checked {
    pub fn intact(&self) -> bool {
        self.found.as_deref() == Some(self.evidence.sha256.as_str())
    }
}

/// SHA-256 of `content`, lowercase hex.
pub fn hash(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// Keeps `content` as evidence of `incident`, with its audit entry; the name is a file
/// name (no folders).
#[allow(clippy::too_many_arguments, reason = "each is one fact of the item")]
pub async fn keep(
    store: &(impl EvidenceStore + ?Sized),
    incident: IncidentNumber,
    name: &str,
    kind: &str,
    media_type: &str,
    note: &str,
    content: Vec<u8>,
    by: &Actor,
    now: Timestamp,
) -> Result<Evidence, EvidenceError> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.chars().count() <= NAME_MAX
        && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        && name != "."
        && name != "..";
    if !valid {
        return Err(EvidenceError::Invalid(format!(
            "\"{name}\" is not an evidence name: a file name of 1 to {NAME_MAX} characters, without folders"
        )));
    }
    if !KINDS.contains(&kind) {
        return Err(EvidenceError::Invalid(format!(
            "evidence is one of {}, not \"{kind}\"",
            KINDS.join(", ")
        )));
    }
    if note.chars().count() > NOTE_MAX {
        return Err(EvidenceError::Invalid(format!(
            "the note is longer than {NOTE_MAX} characters"
        )));
    }
    if content.len() > ITEM_MAX {
        return Err(EvidenceError::Invalid(format!(
            "{name} is {} bytes; an item of evidence is at most {ITEM_MAX} bytes (25 MiB)",
            content.len()
        )));
    }
    let held = store.evidence_size(incident).await?;
    if held + content.len() as u64 > INCIDENT_MAX {
        return Err(EvidenceError::Invalid(format!(
            "{incident} holds {held} bytes of evidence; with {name} it would pass {INCIDENT_MAX} bytes (1 GiB)"
        )));
    }
    let sha256 = hash(&content);
    let data = json!({
        "incident": incident.to_string(),
        "name": name,
        "kind": kind,
        "sha256": sha256,
        "size": content.len(),
    });
    let new = NewEvidence {
        incident,
        sha256,
        content,
        name: name.to_owned(),
        kind: kind.to_owned(),
        media_type: media_type.to_owned(),
        note: note.trim().to_owned(),
        by: by.to_string(),
        at: now,
    };
    Ok(store
        .add_evidence(new, EntryDraft::system("evidence_added", by, now, data))
        .await?)
}

/// The evidence of one database.
#[derive(Clone)]
pub struct Locker {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Locker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Locker")
    }
}

impl Locker {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Locker { store }
    }

    async fn known(&self, incident: IncidentNumber) -> Result<(), EvidenceError> {
        match self.store.incident_history(incident).await {
            Ok(_) => Ok(()),
            Err(StoreError::IncidentNotFound(n)) => Err(EvidenceError::NotFound(format!("unknown incident {n}"))),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps an item as evidence of `incident`.
    #[allow(clippy::too_many_arguments, reason = "each is one fact of the item")]
    pub async fn add(
        &self,
        incident: IncidentNumber,
        name: &str,
        kind: &str,
        media_type: &str,
        note: &str,
        content: Vec<u8>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Evidence, EvidenceError> {
        self.known(incident).await?;
        keep(&*self.store, incident, name, kind, media_type, note, content, by, now).await
    }

    pub async fn list(&self, incident: IncidentNumber) -> Result<Vec<Evidence>, EvidenceError> {
        self.known(incident).await?;
        Ok(self.store.evidence(incident).await?)
    }

    /// Item `id` of `incident` with its content, the export recorded on the chain.
    pub async fn export(
        &self,
        incident: IncidentNumber,
        id: i64,
        by: &Actor,
        now: Timestamp,
    ) -> Result<(Evidence, Vec<u8>), EvidenceError> {
        let item = self
            .list(incident)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| EvidenceError::NotFound(format!("{incident} has no evidence {id}")))?;
        let content = self
            .store
            .evidence_content(&item.sha256)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the content of evidence {id} is missing")))?;
        let data = json!({"incident": incident.to_string(), "evidence": id, "name": item.name, "sha256": item.sha256});
        self.store
            .record(EntryDraft::system("evidence_exported", by, now, data))
            .await?;
        Ok((item, content))
    }

    /// Every item of `incident` with the hash of its content as kept now.
    pub async fn verify(&self, incident: IncidentNumber) -> Result<Vec<Checked>, EvidenceError> {
        let mut out = Vec::new();
        for evidence in self.list(incident).await? {
            let found = self.store.evidence_content(&evidence.sha256).await?.map(|c| hash(&c));
            out.push(Checked { evidence, found });
        }
        Ok(out)
    }
}
