//! Maintenance mode of the plan's services and agents told to pause: the one door to both,
//! each change an entry of the audit chain. Apps and agents poll what is on, so a copy is
//! kept and read again when this process changed it or a second has passed.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::{Actor, IncidentNumber};
use tocsin_core::plan::Plan;
use tocsin_store::StoreError;
use tocsin_store::switches::{NewSwitch, Switch, SwitchKind, SwitchStore};

/// How long the copy of what is on is used before it is read again.
const RECHECK: Duration = Duration::from_secs(1);

/// Why a switch was not turned; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("{0}")]
    Invalid(String),
    /// Already on, or not on.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is on now: services in maintenance and paused agents.
#[derive(Debug, Default)]
pub struct On {
    pub maintenance: Vec<Switch>,
    pub paused: Vec<Switch>,
}

impl On {
    pub fn maintenance_of(&self, service: &str) -> Option<&Switch> {
        self.maintenance.iter().find(|s| s.subject == service)
    }

    pub fn pause_of(&self, agent: &str) -> Option<&Switch> {
        self.paused.iter().find(|s| s.subject == agent)
    }
}

/// What was on, and when that was read.
type Read = (Arc<On>, Instant);

/// Maintenance mode and paused agents of one database.
#[derive(Clone)]
pub struct Switches {
    store: Arc<dyn SwitchStore>,
    copy: Arc<RwLock<Option<Read>>>,
}

impl std::fmt::Debug for Switches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Switches")
    }
}

fn reason_of(reason: &str) -> Result<String, SwitchError> {
    super::blocks::one_line_reason(reason).map_err(SwitchError::Invalid)
}

fn name_of(what: &str, name: &str) -> Result<String, SwitchError> {
    let name = name.trim();
    let valid =
        !name.is_empty() && name.chars().count() <= 200 && !name.chars().any(|c| c.is_control() || c.is_whitespace());
    if !valid {
        return Err(SwitchError::Invalid(format!(
            "\"{name}\" is not {what} name: 1 to 200 characters, no spaces"
        )));
    }
    Ok(name.to_owned())
}

impl Switches {
    pub fn new(store: Arc<dyn SwitchStore>) -> Self {
        Switches {
            store,
            copy: Arc::default(),
        }
    }

    fn changed(&self) {
        *self.copy.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// What is on now.
    pub async fn on(&self) -> Result<Arc<On>, StoreError> {
        if let Some((on, at)) = &*self.copy.read().unwrap_or_else(PoisonError::into_inner)
            && at.elapsed() < RECHECK
        {
            return Ok(Arc::clone(on));
        }
        let on = Arc::new(On {
            maintenance: self.store.switches(SwitchKind::Maintenance, false).await?,
            paused: self.store.switches(SwitchKind::Pause, false).await?,
        });
        *self.copy.write().unwrap_or_else(PoisonError::into_inner) = Some((Arc::clone(&on), Instant::now()));
        Ok(on)
    }

    /// Every time a switch of `kind` was on, newest first.
    pub async fn history(&self, kind: SwitchKind) -> Result<Vec<Switch>, StoreError> {
        self.store.switches(kind, true).await
    }

    /// Turns maintenance mode on for `service`, one of the plan's, expected to last `lasts`.
    #[allow(clippy::too_many_arguments, reason = "each is one fact of the change")]
    pub async fn maintenance_on(
        &self,
        plan: &Plan,
        service: &str,
        reason: &str,
        lasts: Option<SignedDuration>,
        incident: Option<IncidentNumber>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Switch, SwitchError> {
        let service = service.trim();
        if !plan.services().iter().any(|s| s.id.as_str() == service) {
            let ids: Vec<&str> = plan.services().iter().map(|s| s.id.as_str()).collect();
            let hint = match tocsin_core::id::closest(service, ids.iter().copied()) {
                Some(guess) => format!("did you mean \"{guess}\"?"),
                None if ids.is_empty() => "the plan names none; add [[service]] tables".to_owned(),
                None => format!("the plan's services are {}", ids.join(", ")),
            };
            return Err(SwitchError::Invalid(format!(
                "\"{service}\" is no service of the plan; {hint}"
            )));
        }
        let reason = reason_of(reason)?;
        let until = match lasts {
            Some(span) if span <= SignedDuration::ZERO => {
                return Err(SwitchError::Invalid(
                    "maintenance must be expected to last longer than nothing".into(),
                ));
            }
            Some(span) => Some(
                now.checked_add(span)
                    .map_err(|_| SwitchError::Invalid("the end is beyond any date".into()))?,
            ),
            None => None,
        };
        let data =
            json!({"service": service, "reason": reason, "until": until, "incident": incident.map(|n| n.to_string())});
        self.turn_on(
            NewSwitch {
                kind: SwitchKind::Maintenance,
                subject: service.to_owned(),
                reason,
                incident,
                by: by.to_string(),
                at: now,
                until,
            },
            EntryDraft::system("maintenance_on", by, now, data),
        )
        .await
    }

    pub async fn maintenance_off(&self, service: &str, by: &Actor, now: Timestamp) -> Result<Switch, SwitchError> {
        let entry = EntryDraft::system("maintenance_off", by, now, json!({"service": service.trim()}));
        self.turn_off(
            SwitchKind::Maintenance,
            service.trim(),
            by,
            now,
            entry,
            "in maintenance",
        )
        .await
    }

    /// Tells `agent` to pause; until it is resumed, its silence is no stale agent.
    pub async fn pause(
        &self,
        agent: &str,
        reason: &str,
        incident: Option<IncidentNumber>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Switch, SwitchError> {
        let agent = name_of("an agent", agent)?;
        let reason = reason_of(reason)?;
        let data = json!({"agent": agent, "reason": reason, "incident": incident.map(|n| n.to_string())});
        self.turn_on(
            NewSwitch {
                kind: SwitchKind::Pause,
                subject: agent,
                reason,
                incident,
                by: by.to_string(),
                at: now,
                until: None,
            },
            EntryDraft::system("agent_paused", by, now, data),
        )
        .await
    }

    pub async fn resume(&self, agent: &str, by: &Actor, now: Timestamp) -> Result<Switch, SwitchError> {
        let entry = EntryDraft::system("agent_resumed", by, now, json!({"agent": agent.trim()}));
        self.turn_off(SwitchKind::Pause, agent.trim(), by, now, entry, "paused")
            .await
    }

    async fn turn_on(&self, new: NewSwitch, entry: EntryDraft) -> Result<Switch, SwitchError> {
        let switch = self.store.switch_on(new, entry).await.map_err(|e| match e {
            StoreError::Duplicate(what) => SwitchError::Conflict(what),
            other => SwitchError::Store(other),
        })?;
        self.changed();
        Ok(switch)
    }

    async fn turn_off(
        &self,
        kind: SwitchKind,
        subject: &str,
        by: &Actor,
        now: Timestamp,
        entry: EntryDraft,
        state: &str,
    ) -> Result<Switch, SwitchError> {
        let switch = self
            .store
            .switch_off(kind, subject, by.as_str(), now, entry)
            .await?
            .ok_or_else(|| SwitchError::Conflict(format!("{subject} is not {state}")))?;
        self.changed();
        Ok(switch)
    }
}
