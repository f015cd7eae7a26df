//! The audit chain: append-only entries, each hashed over the previous hash and its own
//! canonical encoding, so that any edit, removal or reordering is detected.

use std::fmt;

use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::incident::{Actor, IncidentNumber, Recorded};

/// SHA-256 of an entry, chained from the previous one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The `previous hash` of the first entry.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(ChainHash(bytes))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What is about to be appended; the store gives it its place in the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryDraft {
    pub incident: Option<IncidentNumber>,
    pub action: String,
    pub actor: Actor,
    /// When it happened (may be backfilled into the past).
    pub at: Timestamp,
    /// When tocsin recorded it.
    pub recorded_at: Timestamp,
    pub data: Value,
}

impl EntryDraft {
    pub fn for_incident(number: Option<IncidentNumber>, recorded: &Recorded, recorded_at: Timestamp) -> Self {
        EntryDraft {
            incident: number,
            action: recorded.event.action().to_owned(),
            actor: recorded.actor.clone(),
            at: recorded.at,
            recorded_at,
            data: recorded.event.to_json(),
        }
    }

    /// An entry about tocsin itself rather than an incident: a user added, a token revoked.
    pub fn system(action: &str, actor: &Actor, at: Timestamp, data: Value) -> Self {
        EntryDraft {
            incident: None,
            action: action.to_owned(),
            actor: actor.clone(),
            at,
            recorded_at: at,
            data,
        }
    }

    /// Places the draft at `seq` after an entry hashed `prev`.
    pub fn seal(self, seq: u64, prev: ChainHash) -> AuditEntry {
        let mut entry = AuditEntry {
            seq,
            incident: self.incident,
            action: self.action,
            actor: self.actor.to_string(),
            at: self.at,
            recorded_at: self.recorded_at,
            data: self.data,
            prev_hash: prev,
            hash: ChainHash::GENESIS,
        };
        entry.hash = entry.computed_hash();
        entry
    }
}

/// One entry of the chain as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub seq: u64,
    pub incident: Option<IncidentNumber>,
    pub action: String,
    pub actor: String,
    pub at: Timestamp,
    pub recorded_at: Timestamp,
    pub data: Value,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
}

impl AuditEntry {
    /// The canonical encoding that is hashed: JSON with sorted keys, no spaces, and times
    /// as Unix milliseconds.
    pub fn canonical(&self) -> Vec<u8> {
        let content = serde_json::json!({
            "seq": self.seq,
            "incident": self.incident.map(IncidentNumber::get),
            "action": self.action,
            "actor": self.actor,
            "at": self.at.as_millisecond(),
            "recorded_at": self.recorded_at.as_millisecond(),
            "data": self.data,
        });
        canonical_json(&content)
    }

    pub fn computed_hash(&self) -> ChainHash {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.0);
        hasher.update(self.canonical());
        ChainHash(hasher.finalize().into())
    }
}

/// What an entry records of a stored secret (a password hash, a token's hash, an
/// integration's settings): its SHA-256 in hex, so that `verify` can check the stored row
/// while the chain, which more people read, holds nothing that opens anything.
pub fn fingerprint(stored: &[u8]) -> String {
    hex::encode(Sha256::digest(stored))
}

/// JSON with object keys sorted by their bytes and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        leaf => out.extend(serde_json::to_vec(leaf).expect("JSON leaves always serialize")),
    }
}

/// Where and why the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("entry #{seq}: {reason}")]
pub struct ChainBreak {
    pub seq: u64,
    pub reason: String,
}

/// Checks entries one by one, in order, as they are read from storage.
#[derive(Debug)]
pub struct ChainVerifier {
    last_seq: u64,
    last_hash: ChainHash,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_hash: ChainHash::GENESIS,
        }
    }
}

impl ChainVerifier {
    /// A verifier that continues a chain already checked up to entry `seq`, hashed `hash`.
    pub fn after(seq: u64, hash: ChainHash) -> Self {
        ChainVerifier {
            last_seq: seq,
            last_hash: hash,
        }
    }

    /// The last entry checked: its number and hash.
    pub fn last(&self) -> (u64, ChainHash) {
        (self.last_seq, self.last_hash)
    }

    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let expected = self.last_seq + 1;
        if entry.seq != expected {
            let reason = if entry.seq == expected + 1 {
                format!("entry #{expected} is missing")
            } else if entry.seq > expected {
                format!("entries #{expected} to #{} are missing", entry.seq - 1)
            } else {
                format!("comes after #{}; entries are out of order or duplicated", self.last_seq)
            };
            return Err(ChainBreak {
                seq: entry.seq.min(expected),
                reason,
            });
        }
        if entry.prev_hash != self.last_hash {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: format!(
                    "its previous hash {} is not the hash of entry #{}",
                    entry.prev_hash, self.last_seq
                ),
            });
        }
        let computed = entry.computed_hash();
        if computed != entry.hash {
            return Err(ChainBreak {
                seq: entry.seq,
                reason: format!(
                    "its content was changed after it was written (stored hash {}, content hashes to {computed})",
                    entry.hash
                ),
            });
        }
        self.last_seq = entry.seq;
        self.last_hash = entry.hash;
        Ok(())
    }

    /// Checks that the chain ends where the recorded head says it does.
    pub fn finish(&self, head_seq: u64, head_hash: ChainHash) -> Result<u64, ChainBreak> {
        if head_seq != self.last_seq || (head_seq > 0 && head_hash != self.last_hash) {
            return Err(ChainBreak {
                seq: self.last_seq + 1,
                reason: format!(
                    "the chain ends at #{} but its head records #{head_seq}; entries were removed from the end or the head was altered",
                    self.last_seq
                ),
            });
        }
        Ok(self.last_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_drops_whitespace() {
        let value = json!({"b": 1, "a": {"z": [true, null, "x"], "é": 2, "A": -3}});
        assert_eq!(
            String::from_utf8(canonical_json(&value)).unwrap(),
            r#"{"a":{"A":-3,"z":[true,null,"x"],"é":2},"b":1}"#
        );
    }

    #[test]
    fn the_hash_of_an_entry_is_fixed_by_its_content() {
        let draft = EntryDraft {
            incident: IncidentNumber::new(1),
            action: "note_added".into(),
            actor: Actor::parse("jo").unwrap(),
            at: Timestamp::from_millisecond(1_700_000_000_000).unwrap(),
            recorded_at: Timestamp::from_millisecond(1_700_000_000_500).unwrap(),
            data: json!({"action": "note_added", "text": "hello"}),
        };
        let entry = draft.seal(1, ChainHash::GENESIS);
        assert_eq!(
            String::from_utf8(entry.canonical()).unwrap(),
            r#"{"action":"note_added","actor":"jo","at":1700000000000,"data":{"action":"note_added","text":"hello"},"incident":1,"recorded_at":1700000000500,"seq":1}"#
        );
        // Pinned so that the encoding can never change silently: old chains must still verify.
        assert_eq!(entry.hash.to_hex(), PINNED_HASH);
    }

    // Computed independently: sha256(32 zero bytes ‖ the canonical text above).
    const PINNED_HASH: &str = "dc888b10d85b82b5ca3240b00c77bde1af9abee4743b6d45c613096ab5eef914";
}
