//! Approving a run with a link mailed to one person (the notifier makes the links, one per
//! person the plan lets approve, and keeps only their hashes). Looking at a link changes
//! nothing, since mail scanners open links; using it approves the run as that person,
//! once, before the request expires.

use std::sync::Arc;

use tocsin_core::Timestamp;
use tocsin_core::incident::{ActionRun, Actor};
use tocsin_store::outbox::{ApprovalLink, OutboxStore};

use super::actions::Actions;
use super::identity::digest;
use crate::{DeskError, IncidentView};

/// Why a link does not approve.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this approval link is not one tocsin made")]
    Unknown,
    #[error("this approval link was used {0}; it works once")]
    Used(Timestamp),
    #[error("this approval link expired {0}, with the request it was for")]
    Expired(Timestamp),
    /// The approval itself was refused (the run no longer waits, say); the link still works.
    #[error(transparent)]
    Refused(#[from] DeskError),
}

/// A link and the run it approves, as they stand.
#[derive(Debug)]
pub struct Offer {
    pub link: ApprovalLink,
    pub view: Arc<IncidentView>,
    pub run: ActionRun,
}

#[derive(Clone)]
pub struct ApprovalLinks {
    store: Arc<dyn OutboxStore>,
    actions: Arc<Actions>,
}

impl std::fmt::Debug for ApprovalLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalLinks").finish_non_exhaustive()
    }
}

impl ApprovalLinks {
    pub fn new(store: Arc<dyn OutboxStore>, actions: Arc<Actions>) -> Self {
        ApprovalLinks { store, actions }
    }

    /// The link whose secret is `secret`, usable at `now`.
    async fn usable(&self, secret: &str, now: Timestamp) -> Result<ApprovalLink, LinkError> {
        let link = self
            .store
            .approval_link(&digest(secret))
            .await
            .map_err(DeskError::from)?
            .ok_or(LinkError::Unknown)?;
        match link.used_at {
            Some(at) => Err(LinkError::Used(at)),
            None if link.expires_at <= now => Err(LinkError::Expired(link.expires_at)),
            None => Ok(link),
        }
    }

    /// What the link would approve; nothing changes.
    pub async fn look(&self, secret: &str, now: Timestamp) -> Result<Offer, LinkError> {
        let link = self.usable(secret, now).await?;
        let view = self.actions.desk().incident_shared(link.incident).await?;
        let run = view.incident.run(link.run).cloned().ok_or(LinkError::Unknown)?;
        Ok(Offer { link, view, run })
    }

    /// Uses the link: approves its run as its person. A link used at the same moment by
    /// another request counts as used; one whose approval is refused stays usable.
    pub async fn approve(&self, secret: &str, now: Timestamp) -> Result<(ApprovalLink, ActionRun), LinkError> {
        let link = self.usable(secret, now).await?;
        let hash = digest(secret);
        if !self
            .store
            .use_approval_link(&hash, now)
            .await
            .map_err(DeskError::from)?
        {
            // Taken (or expired) between the look and the use.
            return Err(self.usable(secret, now).await.err().unwrap_or(LinkError::Used(now)));
        }
        let by = Actor::parse(&link.person).map_err(|_| LinkError::Unknown)?;
        match self.actions.approve(link.incident, link.run, &by, now).await {
            Ok(run) => Ok((link, run)),
            Err(e) => {
                if let Err(store) = self.store.unuse_approval_link(&hash).await {
                    tracing::error!(error = %store, "an approval link that did not approve stays used");
                }
                Err(e.into())
            }
        }
    }
}
