//! `tocsin verify`: proves the audit chain intact and the stored incidents true to it.

use std::collections::BTreeMap;
use std::fmt;

use tocsin_core::audit::{ChainBreak, ChainVerifier};
use tocsin_core::clock::clocks;
use tocsin_core::incident::{Incident, IncidentNumber, Recorded};
use tocsin_store::{IncidentFilter, IncidentSummary};

use crate::desk::{Desk, DeskError, timeline_entry};

const PAGE: u32 = 2_000;

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broken {
    /// An entry of the chain was changed, removed or reordered.
    Chain(ChainBreak),
    /// An incident's stored state is not what its entries say.
    Incident { number: IncidentNumber, reason: String },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Chain(b) => write!(f, "audit entry #{}: {}", b.seq, b.reason),
            Broken::Incident { number, reason } => write!(f, "{number}: {reason}"),
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
    /// Incidents whose stored clocks differ from what their history and today's plan give:
    /// expected after a plan edit, until their next change; otherwise a sign of tampering.
    pub stale_clocks: Vec<IncidentNumber>,
}

impl Desk {
    /// Recomputes the whole chain, then rebuilds every incident from its entries and
    /// compares it with what is stored.
    pub async fn verify(&self) -> Result<Verification, DeskError> {
        let store = self.store();
        let head = store.chain_head().await?;
        let mut result = Verification {
            entries: 0,
            incidents: 0,
            head_seq: head.seq,
            head_hash: head.hash.to_hex(),
            broken: None,
            stale_clocks: Vec::new(),
        };
        let mut verifier = ChainVerifier::default();
        let mut histories: BTreeMap<IncidentNumber, Vec<Recorded>> = BTreeMap::new();
        let mut last = 0;
        loop {
            let page = store.audit_entries(last, PAGE).await?;
            let Some(end) = page.last() else { break };
            last = end.seq;
            for entry in &page {
                let readable = verifier.check(entry).and_then(|()| {
                    let Some(number) = entry.incident else {
                        return Ok(());
                    };
                    let t = timeline_entry(entry).map_err(|e| ChainBreak {
                        seq: entry.seq,
                        reason: e.to_string(),
                    })?;
                    histories.entry(number).or_default().push(Recorded {
                        at: t.at,
                        actor: t.actor,
                        event: t.event,
                    });
                    Ok(())
                });
                if let Err(broken) = readable {
                    result.broken = Some(Broken::Chain(broken));
                    return Ok(result);
                }
                result.entries += 1;
            }
        }
        if let Err(broken) = verifier.finish(head.seq, head.hash) {
            result.broken = Some(Broken::Chain(broken));
            return Ok(result);
        }
        let stored = store.incidents(&IncidentFilter::default()).await?;
        result.incidents = u64::try_from(stored.len()).unwrap_or(u64::MAX);
        for summary in &stored {
            let number = summary.number;
            let rebuilt = histories
                .remove(&number)
                .ok_or_else(|| "it is stored but has no entry in the audit chain".to_owned())
                .and_then(|history| Incident::from_history(number, &history).map_err(|e| e.problem));
            let problem = match rebuilt {
                Ok(incident) => match differs(summary, &IncidentSummary::of(&incident)) {
                    None => {
                        if store.clocks(number).await? != clocks(&incident, self.plan()) {
                            result.stale_clocks.push(number);
                        }
                        continue;
                    }
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
            return Ok(result);
        }
        if let Some(number) = histories.into_keys().next() {
            let reason = "it has audit entries but its stored row is missing".to_owned();
            result.broken = Some(Broken::Incident { number, reason });
        }
        Ok(result)
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
