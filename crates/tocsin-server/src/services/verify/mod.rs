//! `tocsin verify`: proves the audit chain intact, true to the heads tocsin signed, and
//! the stored incidents, plans, users, tokens and integrations true to it.

mod identity;
mod signed;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use tocsin_core::audit::{AuditEntry, ChainBreak, ChainVerifier};
use tocsin_core::clock::clocks;
use tocsin_core::incident::{Incident, IncidentNumber, Recorded};
use tocsin_core::plan::Plan;
use tocsin_store::plans::PLAN_APPLIED;
use tocsin_store::{IncidentFilter, IncidentSummary, Store, StoreError};

use crate::services::incidents::{Desk, DeskError, timeline_entry};

const PAGE: u32 = 2_000;

/// How often a finding about stored rows is checked again when the chain moved while they
/// were read.
const VERIFY_TRIES: u32 = 5;

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broken {
    /// An entry of the chain was changed, removed or reordered.
    Chain(ChainBreak),
    /// An incident's stored state is not what its entries say.
    Incident { number: IncidentNumber, reason: String },
    /// A stored plan version is not the one the chain recorded as applied.
    Plan { version: u64, reason: String },
    /// A user, token or integration is not what the chain recorded.
    Identity { what: String, reason: String },
    /// A signed head cannot be believed: its file was altered or its signer is unknown.
    Signed { source: String, reason: String },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Chain(b) => write!(f, "audit entry #{}: {}", b.seq, b.reason),
            Broken::Incident { number, reason } => write!(f, "{number}: {reason}"),
            Broken::Plan { version, reason } => write!(f, "plan version {version}: {reason}"),
            Broken::Identity { what, reason } => write!(f, "{what}: {reason}"),
            Broken::Signed { source, reason } => write!(f, "signed heads {source}: {reason}"),
        }
    }
}

/// What verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Entries that verified before the first break (all of them when intact).
    pub entries: u64,
    pub incidents: u64,
    pub head_seq: u64,
    pub head_hash: String,
    pub broken: Option<Broken>,
    /// Plan versions whose texts verify against the chain.
    pub plan_versions: u64,
    /// Incidents whose clocks could not be checked: they follow a plan text that was never
    /// applied as a version (declared before the database kept its plan, and not changed
    /// since).
    pub unchecked_clocks: Vec<IncidentNumber>,
    /// Signed heads the chain was checked against.
    pub signed_heads: u64,
    /// The furthest entry a signed head covers, and when it was signed.
    pub signed_to: Option<(u64, tocsin_core::Timestamp)>,
    /// Why the chain was checked only against itself, if it was.
    pub seal_note: Option<String>,
}

impl Desk {
    /// Recomputes the whole chain and checks it against the heads this desk's key signed,
    /// then rebuilds every incident, plan, user, token and integration from its entries and
    /// compares it with what is stored.
    pub async fn verify(&self) -> Result<Verification, DeskError> {
        self.verify_with(&[]).await
    }

    /// Like [`Desk::verify`], also against the signed heads in `heads` (`--head FILE`).
    pub async fn verify_with(&self, heads: &[PathBuf]) -> Result<Verification, DeskError> {
        // The stored rows are read after the chain: a change committed in between (a user
        // added, an incident declared while the server runs) would look like a row without
        // its entry. Such a finding is believed only if the chain stood still meanwhile.
        let mut tries = 0;
        loop {
            let (result, rows_read_at) = self.verify_once(heads).await?;
            let moved = self.store().chain_head().await?.seq != rows_read_at;
            let rows = matches!(result.broken, Some(Broken::Incident { .. } | Broken::Identity { .. }));
            tries += 1;
            if !(rows && moved) || tries == VERIFY_TRIES {
                return Ok(result);
            }
        }
    }

    /// The verification, and the chain head when the stored rows began to be read.
    async fn verify_once(&self, heads: &[PathBuf]) -> Result<(Verification, u64), DeskError> {
        let store = self.store();
        // The signed heads are read first: every entry they cover was stored before the
        // head that is read next, so the chain up to that head must hold them all.
        let pins = signed::Pins::load(self.seal_paths(), heads);
        let head = store.chain_head().await?;
        let mut result = Verification {
            entries: 0,
            incidents: 0,
            head_seq: head.seq,
            head_hash: head.hash.to_hex(),
            broken: None,
            plan_versions: 0,
            unchecked_clocks: Vec::new(),
            signed_heads: 0,
            signed_to: None,
            seal_note: None,
        };
        let mut pins = match pins {
            Ok(pins) => pins,
            Err(broken) => {
                result.broken = Some(broken);
                return Ok((result, head.seq));
            }
        };
        result.signed_heads = pins.statements;
        result.signed_to = pins.latest;
        result.seal_note = pins.note.take();
        // Only up to the head read above: the signed heads are checked against that.
        let mut walk = Walk::default();
        if let Err(broken) = walk
            .to(&**store, head.seq, Some(&mut pins))
            .await?
            .and_then(|()| walk.verifier.finish(head.seq, head.hash))
            .and_then(|last| pins.finish(last))
        {
            result.entries = walk.entries;
            result.broken = Some(Broken::Chain(broken));
            return Ok((result, head.seq));
        }
        // The rows are read after the walk, so they may hold changes appended since: the
        // walk takes in the entries up to a head read after the rows, which covers them.
        let rows_read_at = store.chain_head().await?.seq;
        let rows = identity::Rows::read(&**store).await?;
        let stored = store.incidents(&IncidentFilter::default()).await?;
        let now = store.chain_head().await?;
        let caught_up = walk
            .to(&**store, now.seq, None)
            .await?
            .and_then(|()| walk.verifier.finish(now.seq, now.hash));
        result.entries = walk.entries;
        (result.head_seq, result.head_hash) = (now.seq, now.hash.to_hex());
        if let Err(broken) = caught_up {
            result.broken = Some(Broken::Chain(broken));
            return Ok((result, rows_read_at));
        }
        let Walk {
            ledger,
            mut histories,
            applied,
            ..
        } = walk;
        if let Some(broken) = ledger.compare(rows) {
            result.broken = Some(broken);
            return Ok((result, rows_read_at));
        }
        let plans = match self.verified_plans(&applied).await? {
            Ok(plans) => plans,
            Err(broken) => {
                result.broken = Some(broken);
                return Ok((result, rows_read_at));
            }
        };
        result.plan_versions = applied.len() as u64;
        result.incidents = u64::try_from(stored.len()).unwrap_or(u64::MAX);
        for summary in &stored {
            let number = summary.number;
            let rebuilt = histories
                .remove(&number)
                .ok_or_else(|| "it is stored but has no entry in the audit chain".to_owned())
                .and_then(|history| Incident::from_history(number, &history).map_err(|e| e.problem));
            let problem = match rebuilt {
                Ok(incident) => match differs(summary, &IncidentSummary::of(&incident)) {
                    None => match plans.get(incident.plan_digest.as_str()) {
                        None => {
                            result.unchecked_clocks.push(number);
                            continue;
                        }
                        Some((version, plan)) if store.clocks(number).await? != clocks(&incident, plan) => {
                            format!(
                                "its stored clocks are not those plan version {version} gives, which they were computed under"
                            )
                        }
                        Some(_) => continue,
                    },
                    Some(difference) => {
                        format!("its stored row does not match its audit history: {difference}")
                    }
                },
                Err(problem) => problem,
            };
            result.broken = Some(Broken::Incident {
                number,
                reason: problem,
            });
            return Ok((result, rows_read_at));
        }
        if let Some(number) = histories.into_keys().next() {
            let reason = "it has audit entries but its stored row is missing".to_owned();
            result.broken = Some(Broken::Incident { number, reason });
        }
        Ok((result, rows_read_at))
    }
}

/// The chain as read so far, and what its entries say.
#[derive(Debug, Default)]
struct Walk {
    verifier: ChainVerifier,
    entries: u64,
    ledger: identity::Ledger,
    histories: BTreeMap<IncidentNumber, Vec<Recorded>>,
    applied: BTreeMap<u64, String>,
}

impl Walk {
    /// Reads and checks the entries after the last one read, up to `until`, each against
    /// the signed heads when given.
    async fn to(
        &mut self,
        store: &dyn Store,
        until: u64,
        mut pins: Option<&mut signed::Pins>,
    ) -> Result<Result<(), ChainBreak>, StoreError> {
        let mut last = self.verifier.last().0;
        while last < until {
            let limit = u32::try_from(until - last).map_or(PAGE, |left| left.min(PAGE));
            let page = store.audit_entries(last, limit).await?;
            let Some(end) = page.last() else { break };
            last = end.seq;
            for entry in &page {
                let checked = self.verifier.check(entry).and_then(|()| match pins.as_deref_mut() {
                    Some(pins) => pins.check(entry.seq, entry.hash),
                    None => Ok(()),
                });
                if let Err(broken) = checked.and_then(|()| self.read(entry)) {
                    return Ok(Err(broken));
                }
                self.entries += 1;
            }
        }
        Ok(Ok(()))
    }

    fn read(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let Some(number) = entry.incident else {
            self.ledger.read(entry)?;
            return plan_applied(entry, &mut self.applied);
        };
        let t = timeline_entry(entry).map_err(|e| ChainBreak {
            seq: entry.seq,
            reason: e.to_string(),
        })?;
        self.histories.entry(number).or_default().push(Recorded {
            at: t.at,
            actor: t.actor,
            event: t.event,
        });
        Ok(())
    }
}

/// Notes the version a `plan_applied` entry recorded, with its digest.
fn plan_applied(entry: &AuditEntry, applied: &mut BTreeMap<u64, String>) -> Result<(), ChainBreak> {
    if entry.action != PLAN_APPLIED {
        return Ok(());
    }
    let broken = |reason: &str| ChainBreak {
        seq: entry.seq,
        reason: reason.to_owned(),
    };
    let version = entry.data["version"]
        .as_u64()
        .ok_or_else(|| broken("a plan_applied entry without a version"))?;
    let digest = entry.data["digest"]
        .as_str()
        .ok_or_else(|| broken("a plan_applied entry without a digest"))?;
    applied.insert(version, digest.to_owned());
    Ok(())
}

/// Each stored plan version, parsed, by digest, after checking that the versions stored
/// are those the chain recorded, with the texts it recorded.
type PlansByDigest = HashMap<String, (u64, Arc<Plan>)>;

impl Desk {
    async fn verified_plans(
        &self,
        applied: &BTreeMap<u64, String>,
    ) -> Result<Result<PlansByDigest, Broken>, DeskError> {
        let stored = self.store().plan_history().await?;
        let mut plans = PlansByDigest::new();
        let broken = |version: u64, reason: &str| {
            Ok(Err(Broken::Plan {
                version,
                reason: reason.to_owned(),
            }))
        };
        for summary in &stored {
            let version = summary.version;
            if applied.get(&version) != Some(&summary.digest) {
                return broken(
                    version,
                    "it is stored, but the audit chain records no such version applied",
                );
            }
            let Some(stored) = self.store().plan_version(version).await? else {
                return broken(version, "it went missing while being read");
            };
            match Plan::parse(&stored.text) {
                Ok(plan) if plan.digest() == summary.digest => {
                    plans.insert(summary.digest.clone(), (version, Arc::new(plan)));
                }
                Ok(_) => return broken(version, "its text is not the one the audit chain recorded"),
                Err(_) => return broken(version, "its text is not a valid plan"),
            }
        }
        if let Some(missing) = applied.keys().find(|v| !stored.iter().any(|s| s.version == **v)) {
            return broken(*missing, "the audit chain records it applied, but it is not stored");
        }
        Ok(Ok(plans))
    }
}

fn differs(stored: &IncidentSummary, rebuilt: &IncidentSummary) -> Option<String> {
    let fields: [(&str, String, String); 8] = [
        ("title", stored.title.clone(), rebuilt.title.clone()),
        ("severity", stored.severity.clone(), rebuilt.severity.clone()),
        ("status", stored.status.to_string(), rebuilt.status.to_string()),
        ("owner", format!("{:?}", stored.owner), format!("{:?}", rebuilt.owner)),
        (
            "personal data",
            stored.personal_data.to_string(),
            rebuilt.personal_data.to_string(),
        ),
        (
            "declared at",
            stored.declared_at.to_string(),
            rebuilt.declared_at.to_string(),
        ),
        (
            "updated at",
            stored.updated_at.to_string(),
            rebuilt.updated_at.to_string(),
        ),
        ("version", stored.version.to_string(), rebuilt.version.to_string()),
    ];
    fields
        .into_iter()
        .find(|(_, a, b)| a != b)
        .map(|(field, a, b)| format!("{field} is {a} but the history says {b}"))
}
