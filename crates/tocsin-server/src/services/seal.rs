//! Sealing the audit chain. Whoever can write the database can rewrite the chain and
//! recompute every hash, so the chain alone proves nothing against them. tocsin holds an
//! Ed25519 key in a file of its own, never in the database; it signs the chain head after
//! every burst of changes and on a schedule, and keeps the signed heads where the database
//! cannot reach: an append-only file, and a channel the plan names. `tocsin verify` then
//! checks the chain against them and names the first entry that no longer matches.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tocsin_core::audit::{ChainHash, ChainVerifier, canonical_json};
use tocsin_notify::Message;
use tocsin_store::outbox::NewNotification;
use tocsin_store::{ChainHead, Store, StoreError};
use tokio::time::Instant;

use crate::services::incidents::Desk;

/// The most entry hashes one signed line carries; a longer burst takes several lines.
pub const HASHES_PER_LINE: usize = 512;

/// What every signature covers first, so that a signature over a head can never be taken
/// for a signature over anything else.
const DOMAIN: &[u8] = b"tocsin signed audit head v1\n";

/// The file names used beside the database when the operator names none.
pub const KEY_FILE: &str = "signing.key";
pub const HEADS_FILE: &str = "signed-heads.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the signing key {path}: {problem}")]
    Key { path: String, problem: String },
    #[error("the signed heads {path}: {problem}")]
    Heads { path: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chain no longer matches what was signed: sealing it now would bless a rewrite.
    #[error("{0}")]
    Rewritten(String),
}

/// The key that signs, and the keys it replaced, whose signatures still count.
#[derive(Debug)]
pub struct Keyring {
    path: PathBuf,
    current: SigningKey,
    /// Retired public keys, with when they were retired.
    retired: Vec<(VerifyingKey, Timestamp)>,
}

/// How a public key is written: `ed25519:` and its 32 bytes in hex.
pub fn key_name(key: &VerifyingKey) -> String {
    format!("ed25519:{}", hex::encode(key.as_bytes()))
}

fn parse_key_name(text: &str) -> Option<VerifyingKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.strip_prefix("ed25519:")?, &mut bytes).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

impl Keyring {
    /// Reads the key file, or `None` when there is none. A file others can read is refused.
    pub fn open(path: &Path) -> Result<Option<Keyring>, SealError> {
        let problem = |problem: String| SealError::Key {
            path: path.display().to_string(),
            problem,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(problem(format!("cannot be read: {e}"))),
        };
        let mode = std::fs::metadata(path)
            .map_err(|e| problem(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(problem(format!(
                "others may read it (mode {:o}); run chmod 600 {}",
                mode & 0o777,
                path.display()
            )));
        }
        let mut current = None;
        let mut retired = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || problem(format!("line {} is not a key line", i + 1));
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("secret"), Some(hex_key), None) => {
                    let mut bytes = [0u8; 32];
                    hex::decode_to_slice(hex_key, &mut bytes).map_err(|_| bad())?;
                    current = Some(SigningKey::from_bytes(&bytes));
                }
                (Some("retired"), Some(name), Some(at)) => {
                    let key = parse_key_name(name).ok_or_else(bad)?;
                    retired.push((key, at.parse().map_err(|_| bad())?));
                }
                _ => return Err(bad()),
            }
        }
        let current = current.ok_or_else(|| problem("it holds no secret key line".into()))?;
        Ok(Some(Keyring {
            path: path.to_owned(),
            current,
            retired,
        }))
    }

    /// Reads the key file, making a new key there first when there is none.
    pub fn open_or_create(path: &Path) -> Result<(Keyring, bool), SealError> {
        if let Some(keyring) = Keyring::open(path)? {
            return Ok((keyring, false));
        }
        let keyring = Keyring {
            path: path.to_owned(),
            current: new_key(),
            retired: Vec::new(),
        };
        keyring.write()?;
        Ok((keyring, true))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn public(&self) -> VerifyingKey {
        self.current.verifying_key()
    }

    pub fn retired(&self) -> &[(VerifyingKey, Timestamp)] {
        &self.retired
    }

    /// The key a signature names, when it is this key or one it replaced.
    fn trusted(&self, name: &str) -> Option<VerifyingKey> {
        let key = parse_key_name(name)?;
        (key == self.public() || self.retired.iter().any(|(k, _)| *k == key)).then_some(key)
    }

    /// Replaces the signing key; the old one is kept as retired, so that what it signed
    /// still verifies. Returns the retired key, to sign the hand-over with.
    pub fn rotate(&mut self, now: Timestamp) -> Result<SigningKey, SealError> {
        let old = std::mem::replace(&mut self.current, new_key());
        self.retired.push((old.verifying_key(), now));
        if let Err(e) = self.write() {
            self.current = old;
            self.retired.pop();
            return Err(e);
        }
        Ok(old)
    }

    /// Writes the whole file anew, readable by its owner only, in one rename.
    fn write(&self) -> Result<(), SealError> {
        let problem = |problem: String| SealError::Key {
            path: self.path.display().to_string(),
            problem,
        };
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| problem(format!("its directory cannot be made: {e}")))?;
        let mut text = String::from(
            "# tocsin's audit signing key. Keep it private (mode 600) and out of the database;\n\
             # `tocsin keys show` prints its public half.\n",
        );
        text.push_str(&format!("secret {}\n", hex::encode(self.current.to_bytes())));
        for (key, at) in &self.retired {
            text.push_str(&format!("retired {} {at}\n", key_name(key)));
        }
        let mut file = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| problem(format!("cannot be written: {e}")))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| problem(format!("cannot be written: {e}")))?;
        file.persist(&self.path)
            .map_err(|e| problem(format!("cannot be written: {}", e.error)))?;
        Ok(())
    }
}

fn new_key() -> SigningKey {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    SigningKey::from_bytes(&bytes)
}

/// One signed statement: "the chain's entry #seq hashed `hash` at `at`", with the hashes
/// of the entries before it since the previous statement, so that a rewrite is pinned to
/// the first entry it changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    pub seq: u64,
    pub hash: String,
    pub at: Timestamp,
    /// The hashes of entries `seq - hashes.len() + 1` to `seq`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<String>,
    /// On a key rotation, the key that signs from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key: Option<String>,
    pub key: String,
    #[serde(default)]
    pub sig: String,
}

/// Why a signed head cannot be believed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unbelievable {
    #[error("it is signed by {0}, which is not this server's key nor one it replaced")]
    Stranger(String),
    #[error("its signature is not 64 bytes of hex")]
    NotASignature,
    #[error("its signature does not verify: the statement was altered")]
    Altered,
    #[error("it holds a hash that is not 32 bytes of hex")]
    NotAHash,
    #[error("its entry hashes do not end at its head")]
    Unended,
}

impl SignedHead {
    fn unsigned(seq: u64, hash: ChainHash, at: Timestamp, hashes: Vec<String>) -> Self {
        SignedHead {
            seq,
            hash: hash.to_hex(),
            at,
            hashes,
            next_key: None,
            key: String::new(),
            sig: String::new(),
        }
    }

    fn message(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self).expect("a head serializes");
        value.as_object_mut().expect("an object").remove("sig");
        let mut message = DOMAIN.to_vec();
        message.extend(canonical_json(&value));
        message
    }

    fn sign(mut self, key: &SigningKey) -> Self {
        self.key = key_name(&key.verifying_key());
        self.sig = hex::encode(key.sign(&self.message()).to_bytes());
        self
    }

    /// Why the statement cannot be believed, if it cannot: its key is not one of the
    /// keyring's, or its signature does not verify.
    pub fn check(&self, keyring: &Keyring) -> Result<(), Unbelievable> {
        let key = keyring
            .trusted(&self.key)
            .ok_or_else(|| Unbelievable::Stranger(self.key.clone()))?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&self.sig, &mut bytes).map_err(|_| Unbelievable::NotASignature)?;
        key.verify(&self.message(), &Signature::from_bytes(&bytes))
            .map_err(|_| Unbelievable::Altered)?;
        if ChainHash::from_hex(&self.hash).is_none() || self.hashes.iter().any(|h| ChainHash::from_hex(h).is_none()) {
            return Err(Unbelievable::NotAHash);
        }
        if self.hashes.len() as u64 > self.seq || self.hashes.last().is_some_and(|last| *last != self.hash) {
            return Err(Unbelievable::Unended);
        }
        Ok(())
    }

    /// The (entry, hash) pairs it vouches for.
    pub fn covers(&self) -> impl Iterator<Item = (u64, &str)> {
        let first = self.seq + 1 - self.hashes.len() as u64;
        let listed = self
            .hashes
            .iter()
            .enumerate()
            .map(move |(i, h)| (first + i as u64, h.as_str()));
        let head = self.hashes.is_empty().then_some((self.seq, self.hash.as_str()));
        listed.chain(head)
    }

    /// The one-line JSON form, as the heads file holds it and `--head` reads it.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a head serializes")
    }
}

/// A signed head as read, with where it was read from, for messages.
#[derive(Clone, Debug)]
pub struct ReadHead {
    pub head: SignedHead,
    /// `FILE line N`.
    pub source: String,
}

/// Reads every signed head of a file. A line that is not a signed head is an error that
/// names it: the file is only ever appended to by tocsin.
pub fn read_heads(path: &Path) -> Result<Vec<ReadHead>, SealError> {
    let problem = |problem: String| SealError::Heads {
        path: path.display().to_string(),
        problem,
    };
    let file = File::open(path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let mut heads = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| problem(format!("cannot be read: {e}")))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let head =
            serde_json::from_str(line).map_err(|e| problem(format!("line {} is not a signed head: {e}", i + 1)))?;
        heads.push(ReadHead {
            head,
            source: format!("{} line {}", path.display(), i + 1),
        });
    }
    Ok(heads)
}

/// The last signed head of a file, if it has one; what sealing continues from.
fn last_head(path: &Path) -> Result<Option<SignedHead>, SealError> {
    if !path.exists() {
        return Ok(None);
    }
    Ok(read_heads(path)?.pop().map(|h| h.head))
}

/// Appends lines to the heads file and makes them durable before returning.
fn append(path: &Path, heads: &[SignedHead]) -> Result<(), SealError> {
    let problem = |problem: String| SealError::Heads {
        path: path.display().to_string(),
        problem,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| problem(format!("its directory cannot be made: {e}")))?;
    }
    let mut text = String::new();
    for head in heads {
        text.push_str(&head.to_line());
        text.push('\n');
    }
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| problem(format!("cannot be opened for appending: {e}")))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| problem(format!("cannot be appended to: {e}")))
}

/// Where the key and the signed heads are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealPaths {
    pub key: PathBuf,
    pub heads: PathBuf,
}

/// Signs the chain head into the heads file.
#[derive(Debug)]
pub struct Sealer {
    paths: SealPaths,
    /// The last head signed, once known.
    last: Option<SignedHead>,
    /// The keys as read for the last signature.
    keyring: Option<Keyring>,
}

impl Sealer {
    pub fn new(paths: SealPaths) -> Self {
        Sealer {
            paths,
            last: None,
            keyring: None,
        }
    }

    pub fn paths(&self) -> &SealPaths {
        &self.paths
    }

    /// Whether the chain moved on from the last head signed.
    pub fn behind(&self, head: &ChainHead) -> bool {
        self.last
            .as_ref()
            .is_none_or(|last| last.seq != head.seq || last.hash != head.hash.to_hex())
    }

    /// Signs the entries appended since the last signed head, after checking that they
    /// continue it; with `always`, signs the head even when nothing changed (a statement
    /// that, at this time, the chain ended there). Returns the head signed, if any.
    pub async fn seal(
        &mut self,
        store: &dyn Store,
        now: Timestamp,
        always: bool,
    ) -> Result<Option<SignedHead>, SealError> {
        if self.last.is_none() {
            self.last = last_head(&self.paths.heads)?;
        }
        let head = store.chain_head().await?;
        if !always && !self.behind(&head) {
            return Ok(None);
        }
        let (from_seq, from_hash) = match &self.last {
            Some(last) => {
                let hash = ChainHash::from_hex(&last.hash).ok_or_else(|| {
                    SealError::Rewritten(format!("the last signed head #{} has no valid hash", last.seq))
                })?;
                (last.seq, hash)
            }
            None => (0, ChainHash::GENESIS),
        };
        if head.seq < from_seq {
            return Err(SealError::Rewritten(format!(
                "the audit chain ends at #{} but #{from_seq} was signed: entries were removed; not signing",
                head.seq
            )));
        }
        if from_seq > 0 {
            let stored = store.audit_entries(from_seq - 1, 1).await?;
            if stored.first().is_none_or(|e| e.seq != from_seq || e.hash != from_hash) {
                return Err(SealError::Rewritten(format!(
                    "audit entry #{from_seq} no longer matches its signed hash: the chain was rewritten; not signing"
                )));
            }
        }
        let mut verifier = ChainVerifier::after(from_seq, from_hash);
        let mut lines = Vec::new();
        let mut hashes = Vec::new();
        let mut after = from_seq;
        while after < head.seq {
            let page = store.audit_entries(after, HASHES_PER_LINE as u32).await?;
            let Some(end) = page.last() else { break };
            after = end.seq;
            for entry in &page {
                verifier
                    .check(entry)
                    .map_err(|b| SealError::Rewritten(format!("audit entry #{}: {}; not signing", b.seq, b.reason)))?;
                hashes.push(entry.hash.to_hex());
                if hashes.len() == HASHES_PER_LINE {
                    lines.push(SignedHead::unsigned(
                        entry.seq,
                        entry.hash,
                        now,
                        std::mem::take(&mut hashes),
                    ));
                }
            }
        }
        // The key is read anew each time, so that a rotation by `tocsin keys rotate` is
        // followed without a restart.
        let (keyring, _) = Keyring::open_or_create(&self.paths.key)?;
        let end = verifier.last();
        if !hashes.is_empty() || lines.is_empty() {
            lines.push(SignedHead::unsigned(end.0, end.1, now, hashes));
        }
        let lines: Vec<SignedHead> = lines.into_iter().map(|h| h.sign(&keyring.current)).collect();
        append(&self.paths.heads, &lines)?;
        self.last = lines.last().cloned();
        self.keyring = Some(keyring);
        Ok(self.last.clone())
    }

    /// The compact statement a channel gets for `head`: the head alone, signed on its own
    /// by the key that signed the last lines; `None` before anything was signed.
    pub fn statement(&self, head: &SignedHead) -> Option<SignedHead> {
        let keyring = self.keyring.as_ref()?;
        let hash = ChainHash::from_hex(&head.hash)?;
        Some(SignedHead::unsigned(head.seq, hash, head.at, Vec::new()).sign(&keyring.current))
    }

    /// Rotates the key: the old key signs the current head naming its successor, in the
    /// heads file, so that the hand-over is itself signed.
    pub async fn rotate(&mut self, store: &dyn Store, now: Timestamp) -> Result<(Keyring, SignedHead), SealError> {
        self.seal(store, now, false).await?;
        let (mut keyring, _) = Keyring::open_or_create(&self.paths.key)?;
        let head = store.chain_head().await?;
        let old = keyring.rotate(now)?;
        let mut handover = SignedHead::unsigned(head.seq, head.hash, now, Vec::new());
        handover.next_key = Some(key_name(&keyring.public()));
        let handover = handover.sign(&old);
        append(&self.paths.heads, std::slice::from_ref(&handover))?;
        self.last = Some(handover.clone());
        Ok((keyring, handover))
    }
}

/// How long the chain must stay unchanged after a change before its head is signed, and
/// the longest a change waits to be signed while changes keep coming.
const QUIET: std::time::Duration = std::time::Duration::from_secs(5);
const AT_MOST: std::time::Duration = std::time::Duration::from_secs(60);

/// Seals the desk's chain while the server runs: once at start, after every burst of
/// changes, and every `[audit] sign_every` even when nothing changed; each signed head is
/// also sent to the plan's `[audit] channel`.
pub async fn follow(desk: Desk) {
    let Some(paths) = desk.seal_paths().cloned() else {
        return;
    };
    let mut sealer = Sealer::new(paths);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut scheduled = Instant::now();
    // The head last seen, when the chain moved on from the last signed head: since when it
    // is unsigned, and since when it stands still.
    let mut pending: Option<(ChainHead, Instant, Instant)> = None;
    let mut failing: Option<String> = None;
    loop {
        tick.tick().await;
        let head = match desk.store().chain_head().await {
            Ok(head) => head,
            Err(e) => {
                tracing::warn!(error = %e, "the audit chain head could not be read for signing");
                continue;
            }
        };
        let now = Instant::now();
        let always = now >= scheduled;
        let due = match &mut pending {
            _ if always => true,
            _ if !sealer.behind(&head) => false,
            None => {
                pending = Some((head, now, now));
                false
            }
            Some((seen, since, still)) => {
                if *seen != head {
                    (*seen, *still) = (head, now);
                }
                now.duration_since(*still) >= QUIET || now.duration_since(*since) >= AT_MOST
            }
        };
        if !due {
            continue;
        }
        let every = std::time::Duration::from_secs(desk.plan().audit().sign_every_seconds.unsigned_abs());
        if always {
            scheduled = now + every;
        }
        match sealer.seal(&**desk.store(), Timestamp::now(), always).await {
            Ok(signed) => {
                pending = None;
                if failing.take().is_some() {
                    tracing::info!("the audit chain is signed again");
                }
                if let Some(signed) = signed
                    && let Err(e) = send(&desk, &sealer, &signed).await
                {
                    tracing::warn!(error = %e, "the signed audit head could not be queued for its channel");
                }
            }
            Err(e) => {
                let text = e.to_string();
                if failing.as_ref() != Some(&text) {
                    tracing::error!(error = %text, file = %sealer.paths().heads.display(), "the audit chain head was not signed");
                }
                failing = Some(text);
            }
        }
    }
}

/// Queues a signed head for the plan's audit channel, if it names one.
async fn send(desk: &Desk, sealer: &Sealer, head: &SignedHead) -> Result<(), SealError> {
    let plan = desk.plan();
    let Some(channel) = plan.audit().channel.clone() else {
        return Ok(());
    };
    let Some(statement) = sealer.statement(head) else {
        return Ok(());
    };
    let slot = head.at.as_second() / plan.audit().sign_every_seconds.max(1);
    let message = Message {
        // Servers sharing a database sign the same head: it is sent once.
        id: format!("audit-head:{}:{}:{slot}", head.seq, &head.hash[..16]),
        kind: "audit_head".into(),
        title: format!("Audit chain signed at entry #{}", head.seq),
        text: format!(
            "tocsin signed its audit chain: entry #{}, hash {}, at {}, with key {}. Keep this message: \
             to check the chain against it, save the last line in a file and run `tocsin verify --head FILE`.\n{}",
            head.seq,
            head.hash,
            head.at,
            statement.key,
            statement.to_line()
        ),
        ..Message::default()
    };
    let note = NewNotification {
        key: message.id.clone(),
        channel,
        kind: message.kind.clone(),
        incident: None,
        payload: serde_json::to_string(&message).expect("a message serializes"),
        not_before: head.at,
        approval_link: None,
    };
    desk.store().enqueue(&[note], head.at).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(dir: &Path) -> Keyring {
        Keyring::open_or_create(&dir.join(KEY_FILE)).unwrap().0
    }

    #[test]
    fn a_signed_head_verifies_and_any_change_to_it_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = keyring(dir.path());
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let hash = ChainHash::from_hex(&"ab".repeat(32)).unwrap();
        let head = SignedHead::unsigned(7, hash, at, vec!["cd".repeat(32), "ab".repeat(32)]).sign(&keyring.current);
        assert_eq!(head.check(&keyring), Ok(()));
        let covered: Vec<(u64, &str)> = head.covers().collect();
        assert_eq!(
            covered,
            vec![(6, "cd".repeat(32).as_str()), (7, "ab".repeat(32).as_str())]
        );
        let mut altered = head.clone();
        altered.hashes[0] = "ef".repeat(32);
        assert!(
            altered
                .check(&keyring)
                .unwrap_err()
                .to_string()
                .contains("does not verify")
        );
        let other = Keyring::open_or_create(&tempfile::tempdir().unwrap().path().join(KEY_FILE))
            .unwrap()
            .0;
        assert!(
            head.check(&other)
                .unwrap_err()
                .to_string()
                .contains("not this server's key")
        );
    }

    #[test]
    fn the_key_file_is_private_and_a_rotated_key_still_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join(KEY_FILE);
        let (mut keyring, created) = Keyring::open_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let head = SignedHead::unsigned(1, ChainHash::GENESIS, at, Vec::new()).sign(&keyring.current);
        let old = keyring.public();
        keyring.rotate(at).unwrap();
        assert_ne!(keyring.public(), old);
        let reread = Keyring::open(&path).unwrap().unwrap();
        assert_eq!(reread.public(), keyring.public());
        assert_eq!(reread.retired()[0].0, old);
        assert_eq!(head.check(&reread), Ok(()));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = Keyring::open(&path).unwrap_err().to_string();
        assert!(refused.contains("others may read it (mode 644)"), "{refused}");
    }
}
