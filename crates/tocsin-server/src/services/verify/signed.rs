//! What the signed heads say the chain was: entry numbers and hashes that the chain read
//! from the database must still have.

use std::path::{Path, PathBuf};

use tocsin_core::Timestamp;
use tocsin_core::audit::{ChainBreak, ChainHash};

use super::Broken;
use crate::services::seal::{Keyring, ReadHead, SealError, SealPaths, read_heads};

/// One entry's hash as a signed head gave it.
#[derive(Debug)]
struct Pin {
    seq: u64,
    hash: ChainHash,
    /// Index into `sources`.
    source: usize,
}

/// The signed heads, checked, as pins on the chain's entries.
#[derive(Debug, Default)]
pub(super) struct Pins {
    pins: Vec<Pin>,
    next: usize,
    sources: Vec<String>,
    /// Signed statements read.
    pub statements: u64,
    /// The furthest entry signed, and when.
    pub latest: Option<(u64, Timestamp)>,
    /// Why the chain was checked only against itself, if it was.
    pub note: Option<String>,
}

impl Pins {
    /// Reads and checks the signatures of the server's heads file and of `extra` files
    /// (`--head`). `Err`: a statement that cannot be believed, or heads without the key.
    pub(super) fn load(paths: Option<&SealPaths>, extra: &[PathBuf]) -> Result<Pins, Broken> {
        let mut pins = Pins::default();
        let Some(paths) = paths else {
            pins.note = Some("no signing key is configured: the chain was checked only against itself".into());
            return pins.with(None, extra);
        };
        let keyring = Keyring::open(&paths.key).map_err(|e| unreadable(&paths.key, e))?;
        let mut files = Vec::new();
        match (&keyring, paths.heads.exists()) {
            (_, true) => files.push(paths.heads.clone()),
            (None, false) => {
                pins.note = Some(format!(
                    "the chain is not sealed yet: there is no signing key at {} (`tocsin serve` makes one)",
                    paths.key.display()
                ));
            }
            (Some(_), false) => {
                return Err(Broken::Signed {
                    source: paths.heads.display().to_string(),
                    reason: format!(
                        "the signing key {} exists but its signed heads are gone: the file was removed or moved",
                        paths.key.display()
                    ),
                });
            }
        }
        files.extend_from_slice(extra);
        pins.with(keyring.as_ref(), &files)
    }

    fn with(mut self, keyring: Option<&Keyring>, files: &[PathBuf]) -> Result<Pins, Broken> {
        for file in files {
            let heads = read_heads(file).map_err(|e| unreadable(file, e))?;
            let Some(keyring) = keyring else {
                if heads.is_empty() {
                    continue;
                }
                return Err(Broken::Signed {
                    source: file.display().to_string(),
                    reason: "there is no signing key here to check its signatures with; name it with --key".into(),
                });
            };
            for ReadHead { head, source } in heads {
                head.check(keyring).map_err(|reason| Broken::Signed {
                    source: source.clone(),
                    reason: reason.to_string(),
                })?;
                self.statements += 1;
                if self.latest.is_none_or(|(seq, _)| head.seq >= seq) {
                    self.latest = Some((head.seq, head.at));
                }
                let index = self.sources.len();
                self.sources.push(format!("the head signed at {} ({source})", head.at));
                for (seq, hash) in head.covers() {
                    let hash = ChainHash::from_hex(hash).expect("checked above");
                    if seq > 0 {
                        self.pins.push(Pin {
                            seq,
                            hash,
                            source: index,
                        });
                    }
                }
            }
        }
        self.pins.sort_by_key(|p| p.seq);
        Ok(self)
    }

    /// Checks an entry read in order against every signed hash of it.
    pub(super) fn check(&mut self, seq: u64, hash: ChainHash) -> Result<(), ChainBreak> {
        while let Some(pin) = self.pins.get(self.next).filter(|p| p.seq <= seq) {
            self.next += 1;
            if pin.seq == seq && pin.hash != hash {
                return Err(ChainBreak {
                    seq,
                    reason: format!(
                        "it no longer matches {}, which gave it hash {}: the chain was rewritten from this entry on",
                        self.sources[pin.source], pin.hash
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks that the chain reaches every entry that was signed.
    pub(super) fn finish(&self, last_seq: u64) -> Result<(), ChainBreak> {
        match self.pins.iter().rev().find(|p| p.seq > last_seq) {
            Some(pin) => Err(ChainBreak {
                seq: last_seq + 1,
                reason: format!(
                    "it is missing, but {} covers the chain up to #{}: entries were removed from the end",
                    self.sources[pin.source], pin.seq
                ),
            }),
            None => Ok(()),
        }
    }
}

fn unreadable(path: &Path, e: SealError) -> Broken {
    Broken::Signed {
        source: path.display().to_string(),
        reason: e.to_string(),
    }
}
