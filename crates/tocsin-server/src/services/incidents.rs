//! The incident desk: every rule applied once, for the CLI and the server alike.
//!
//! A change reads the incident's history, lets the core decide, and stores the new
//! events, state and clocks in one transaction. If someone else changed the incident in
//! the meantime, the change is decided again on the fresh state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::services::plans::{ActivePlan, Current, PlanProblem, PlanText};
use crate::services::read_cache::{Head, Memo};
use crate::services::seal::SealPaths;
use crate::wake::{Listener, Wake};
use tocsin_core::Timestamp;
use tocsin_core::audit::{AuditEntry, EntryDraft};
use tocsin_core::clock::{Clock, clocks};
use tocsin_core::incident::{
    Actor, Command, Declaration, Incident, IncidentEvent, IncidentNumber, Recorded, Rejection, RejectionKind, Status,
    adopt_plan, decide, declare,
};
use tocsin_core::plan::Plan;
use tocsin_core::to_millis;
use tocsin_store::plans::{Applied, ApplyWhen};
use tocsin_store::{IncidentChange, IncidentDraft, IncidentFilter, IncidentSummary, OpenClock, Store, StoreError};

/// How often a change is decided again when others keep changing the same incident.
const ATTEMPTS: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The request broke a rule of the plan or the lifecycle; nothing changed.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("unknown incident {0}")]
    NotFound(IncidentNumber),
    #[error("{0} is being changed by others too often; try again")]
    Busy(IncidentNumber),
    #[error("the plan keeps changing while this is being done; try again")]
    PlanMoving,
    #[error(transparent)]
    Plan(PlanProblem),
    #[error(transparent)]
    Store(StoreError),
}

impl From<PlanProblem> for DeskError {
    fn from(e: PlanProblem) -> Self {
        match e {
            PlanProblem::Store(s) => s.into(),
            other => DeskError::Plan(other),
        }
    }
}

impl From<StoreError> for DeskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IncidentNotFound(n) => DeskError::NotFound(n),
            other => DeskError::Store(other),
        }
    }
}

/// One entry of an incident's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub event: IncidentEvent,
}

/// An incident with its clocks and its timeline.
#[derive(Clone, Debug)]
pub struct IncidentView {
    pub incident: Incident,
    pub clocks: Vec<Clock>,
    pub timeline: Vec<TimelineEntry>,
}

/// What a change did.
#[derive(Clone, Debug)]
pub struct Changed {
    pub incident: Incident,
    pub clocks: Vec<Clock>,
    pub events: Vec<IncidentEvent>,
    /// The clocks before the change, to say what it met or moved.
    pub clocks_before: Vec<Clock>,
}

#[derive(Clone, Debug)]
pub struct Desk {
    store: Arc<dyn Store>,
    plan: Current,
    reads: Arc<Reads>,
    /// Where the signing key and the signed heads are, when the chain is sealed.
    seal: Option<Arc<SealPaths>>,
    /// Rung after every change this desk commits, for those that follow the chain.
    changed: Wake,
}

/// What was read, kept while nothing changed (see [`crate::services::read_cache`]). The sizes bound
/// the memory: an incident view is a few kilobytes, a list up to a page of summaries.
#[derive(Debug)]
struct Reads {
    head: Head,
    views: Memo<IncidentNumber, Arc<IncidentView>>,
    lists: Memo<String, Arc<Vec<IncidentSummary>>>,
    open_clocks: Memo<(), Arc<Vec<OpenClock>>>,
}

impl Default for Reads {
    fn default() -> Self {
        Reads {
            head: Head::default(),
            views: Memo::new(1_024),
            lists: Memo::new(64),
            open_clocks: Memo::new(1),
        }
    }
}

impl Desk {
    /// A desk following `plan`, the database's active version.
    pub fn new(store: Arc<dyn Store>, plan: ActivePlan) -> Self {
        Desk {
            store,
            plan: Current::new(plan),
            reads: Arc::default(),
            seal: None,
            changed: Wake::default(),
        }
    }

    /// Hears every change this desk commits (other processes' changes are not heard).
    pub fn listen(&self) -> Listener {
        self.changed.listen()
    }

    /// Something changed: cached reads are stale, and followers of the chain have work.
    fn committed(&self) {
        self.reads.head.changed();
        self.changed.ring();
    }

    /// The desk, with the chain sealed by the key and heads at `paths`.
    pub fn with_seal(mut self, paths: SealPaths) -> Self {
        self.seal = Some(Arc::new(paths));
        self
    }

    pub fn seal_paths(&self) -> Option<&SealPaths> {
        self.seal.as_deref()
    }

    /// The chain head now, read again only when the last reading is too old to trust.
    async fn head(&self) -> Result<u64, DeskError> {
        if let Some(seq) = self.reads.head.fresh_head() {
            return Ok(seq);
        }
        let seq = self.store.chain_head().await?.seq;
        self.reads.head.set_head(seq);
        Ok(seq)
    }

    /// A desk over `store` that follows `text` as configuration as code does: a database
    /// without a plan takes it as its first version, one whose active version differs
    /// takes it as a new version (the incidents under way adopt it); what applying did.
    pub async fn open(
        store: Arc<dyn Store>,
        text: &PlanText,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(Desk, Applied), DeskError> {
        let active = ActivePlan::of(&*store, || text.clone(), actor, now).await?;
        let desk = Desk::new(store, active);
        let applied = desk.apply_plan(text, actor, now).await?;
        Ok((desk, applied))
    }

    /// The plan in force.
    pub fn plan(&self) -> Arc<Plan> {
        Arc::clone(&self.plan.get().plan)
    }

    /// The plan in force with its version.
    pub fn active_plan(&self) -> Arc<ActivePlan> {
        self.plan.get()
    }

    /// Follows the database's active version if another was applied since it was read;
    /// whether it did.
    pub async fn refresh_plan(&self) -> Result<bool, DeskError> {
        let active = self.store.active_plan_version().await?;
        if active <= self.plan.get().version.version {
            return Ok(false);
        }
        let Some(version) = self.store.active_plan().await? else {
            return Ok(false);
        };
        self.plan.set(ActivePlan::read(version)?);
        self.committed();
        Ok(true)
    }

    /// Makes `text` the active version (unless it is already), then computes the clocks of
    /// the incidents under way again, writing what moved on their timelines.
    pub async fn apply_plan(&self, text: &PlanText, actor: &Actor, now: Timestamp) -> Result<Applied, DeskError> {
        let (applied, plan) =
            crate::services::plans::apply_read(&*self.store, text, actor, now, ApplyWhen::Changed).await?;
        if let Applied::New(version) = &applied {
            // The text was read once to apply it: that reading is the plan in force.
            self.plan.set(ActivePlan {
                version: version.clone(),
                plan: Arc::new(plan),
            });
        }
        self.adopt_plan(actor, now).await?;
        Ok(applied)
    }

    /// Brings every incident under way (not closed or dismissed) that follows another plan
    /// over to the one in force; the numbers of those that moved. Idempotent: a process that
    /// stopped half-way, or another that applied a version, leaves the rest to the next call.
    pub async fn adopt_plan(&self, actor: &Actor, now: Timestamp) -> Result<Vec<IncidentNumber>, DeskError> {
        let filter = IncidentFilter {
            statuses: vec![Status::Declared, Status::Acknowledged, Status::Resolved],
            ..IncidentFilter::default()
        };
        let mut moved = Vec::new();
        for summary in self.store.incidents(&filter).await? {
            let digest = self.active_plan().version.digest.clone();
            if self.incident_shared(summary.number).await?.incident.plan_digest == digest {
                continue;
            }
            self.change(summary.number, actor, None, now, |_, _| Ok(Vec::new()))
                .await?;
            moved.push(summary.number);
        }
        Ok(moved)
    }

    /// The services' own way to the database; the rest of tocsin is given the store
    /// traits it needs where it is put together.
    pub(in crate::services) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Declares a new incident at `at` (default `now`).
    pub async fn declare(
        &self,
        declaration: &Declaration,
        actor: &Actor,
        at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<IncidentView, DeskError> {
        let now = to_millis(now);
        let at = at.map_or(now, to_millis);
        let mut declaration = declaration.clone();
        declaration.detected_at = declaration.detected_at.map(to_millis);
        declaration.aware_at = declaration.aware_at.map(to_millis);
        for _ in 0..ATTEMPTS {
            let active = self.active_plan();
            let event = declare(&active.plan, &declaration, at, now)?;
            let recorded = Recorded {
                at,
                actor: actor.clone(),
                event,
            };
            let placeholder = IncidentNumber::new(u64::MAX).expect("not zero");
            let incident = Incident::from_history(placeholder, std::slice::from_ref(&recorded))
                .expect("a declaration alone is a valid history");
            let clocks = clocks(&incident, &active.plan);
            let draft = IncidentDraft {
                incident,
                entries: vec![EntryDraft::for_incident(None, &recorded, now)],
                clocks,
                plan_version: active.version.version,
            };
            match self.store.create_incident(draft).await {
                Ok(number) => {
                    self.committed();
                    return self.incident(number).await;
                }
                Err(StoreError::PlanChanged { .. }) => {
                    self.refresh_plan().await?;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(DeskError::PlanMoving)
    }

    /// Applies a responder's command at `at` (default `now`).
    pub async fn act(
        &self,
        number: IncidentNumber,
        command: &Command,
        actor: &Actor,
        at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Changed, DeskError> {
        let at = at.map(to_millis);
        let command = self.known_people(command, actor).await?;
        self.change(number, actor, at, now, |incident, plan| {
            decide(
                incident,
                plan,
                &command,
                actor,
                at.unwrap_or(to_millis(now)),
                to_millis(now),
            )
        })
        .await
    }

    /// An assignment with each name as tocsin knows it: owners and role holders are tocsin
    /// users, the plan's people, or whoever assigns. A name nobody knows is refused with
    /// the closest known one, so that a typo never owns an incident.
    async fn known_people(&self, command: &Command, actor: &Actor) -> Result<Command, DeskError> {
        let Command::Assign { owner, roles } = command else {
            return Ok(command.clone());
        };
        let mut known: Vec<String> = self
            .store
            .users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| u.name.to_string())
            .collect();
        known.extend(self.plan().people().iter().map(|p| p.id.clone()));
        known.push(actor.to_string());
        let known_as = |name: &String| -> Result<String, Rejection> {
            let name = name.trim();
            if name.is_empty() {
                return Ok(String::new());
            }
            if let Some(found) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                return Ok(found.clone());
            }
            let guess = tocsin_core::id::closest(name, known.iter().map(String::as_str))
                .map(|g| format!(" (did you mean \"{g}\"?)"))
                .unwrap_or_default();
            Err(Rejection {
                kind: RejectionKind::Invalid,
                message: format!(
                    "unknown person \"{name}\"{guess}; owners and role holders are tocsin users or the plan's people"
                ),
            })
        };
        Ok(Command::Assign {
            owner: owner.as_ref().map(known_as).transpose()?,
            roles: roles
                .iter()
                .map(|(role, who)| Ok((role.clone(), known_as(who)?)))
                .collect::<Result<_, Rejection>>()?,
        })
    }

    /// Decides a change on the incident as stored and stores it. An incident that follows
    /// another plan than the one in force adopts it first, in the same change.
    async fn change(
        &self,
        number: IncidentNumber,
        actor: &Actor,
        at: Option<Timestamp>,
        now: Timestamp,
        decide: impl Fn(&Incident, &Plan) -> Result<Vec<IncidentEvent>, Rejection>,
    ) -> Result<Changed, DeskError> {
        let now = to_millis(now);
        let at = at.map_or(now, to_millis);
        for attempt in 0..ATTEMPTS {
            let active = self.active_plan();
            let plan = &*active.plan;
            let (incident, _) = self.load(number).await?;
            let mut events = Vec::new();
            let mut adopted = incident.clone();
            if incident.plan_digest != plan.digest() {
                let before = self.store.clocks(number).await?;
                let event = adopt_plan(&incident, &before, plan, active.version.version, now);
                adopted
                    .apply(&Recorded {
                        at: now,
                        actor: actor.clone(),
                        event: event.clone(),
                    })
                    .map_err(|problem| StoreError::Corrupt(format!("{number}: {problem}")))?;
                events.push((now, event));
            }
            events.extend(decide(&adopted, plan)?.into_iter().map(|e| (at, e)));
            if events.is_empty() {
                return Ok(Changed {
                    clocks_before: clocks(&incident, plan),
                    clocks: clocks(&incident, plan),
                    incident,
                    events: Vec::new(),
                });
            }
            let mut next = incident.clone();
            let mut entries = Vec::with_capacity(events.len());
            for (at, event) in &events {
                let recorded = Recorded {
                    at: *at,
                    actor: actor.clone(),
                    event: event.clone(),
                };
                next.apply(&recorded)
                    .map_err(|problem| StoreError::Corrupt(format!("{number}: {problem}")))?;
                entries.push(EntryDraft::for_incident(Some(number), &recorded, now));
            }
            let next_clocks = clocks(&next, plan);
            let change = IncidentChange {
                incident: next.clone(),
                expected_version: incident.version,
                entries,
                clocks: next_clocks.clone(),
                plan_version: active.version.version,
            };
            match self.store.update_incident(change).await {
                Ok(()) => {
                    self.committed();
                    return Ok(Changed {
                        clocks_before: clocks(&incident, plan),
                        incident: next,
                        clocks: next_clocks,
                        events: events.into_iter().map(|(_, e)| e).collect(),
                    });
                }
                Err(StoreError::Conflict(_)) => {
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt % 5) * 3)).await;
                }
                Err(StoreError::PlanChanged { .. }) => {
                    self.refresh_plan().await?;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(DeskError::Busy(number))
    }

    /// The incident as its history makes it, with its stored clocks and its timeline.
    pub async fn incident(&self, number: IncidentNumber) -> Result<IncidentView, DeskError> {
        Ok(IncidentView::clone(&*self.incident_shared(number).await?))
    }

    /// [`Desk::incident`] without copying a cached view.
    pub async fn incident_shared(&self, number: IncidentNumber) -> Result<Arc<IncidentView>, DeskError> {
        let head = self.head().await?;
        if let Some(view) = self.reads.views.get(&number, head) {
            return Ok(view);
        }
        let (incident, timeline) = self.load(number).await?;
        let clocks = self.store.clocks(number).await?;
        let view = Arc::new(IncidentView {
            incident,
            clocks,
            timeline,
        });
        self.reads.views.put(number, head, Arc::clone(&view));
        Ok(view)
    }

    async fn load(&self, number: IncidentNumber) -> Result<(Incident, Vec<TimelineEntry>), DeskError> {
        let entries = self.store.incident_history(number).await?;
        let timeline = entries.iter().map(timeline_entry).collect::<Result<Vec<_>, _>>()?;
        let history: Vec<Recorded> = timeline
            .iter()
            .map(|e| Recorded {
                at: e.at,
                actor: e.actor.clone(),
                event: e.event.clone(),
            })
            .collect();
        let incident = Incident::from_history(number, &history).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok((incident, timeline))
    }

    pub async fn incidents(&self, filter: &IncidentFilter) -> Result<Arc<Vec<IncidentSummary>>, DeskError> {
        let head = self.head().await?;
        let key = format!("{filter:?}");
        if let Some(list) = self.reads.lists.get(&key, head) {
            return Ok(list);
        }
        let list = Arc::new(self.store.incidents(filter).await?);
        self.reads.lists.put(key, head, Arc::clone(&list));
        Ok(list)
    }

    pub async fn open_clocks(&self) -> Result<Arc<Vec<OpenClock>>, DeskError> {
        let head = self.head().await?;
        if let Some(open) = self.reads.open_clocks.get(&(), head) {
            return Ok(open);
        }
        let open = Arc::new(self.store.open_clocks().await?);
        self.reads.open_clocks.put((), head, Arc::clone(&open));
        Ok(open)
    }
}

/// Each incident's next deadline: the first of its clocks in a list sorted soonest first,
/// as [`Desk::open_clocks`] gives it.
pub fn next_deadlines(open: &[OpenClock]) -> HashMap<IncidentNumber, &Clock> {
    let mut next = HashMap::new();
    for o in open {
        next.entry(o.incident).or_insert(&o.clock);
    }
    next
}

/// Reads a stored entry back as a timeline entry of an incident.
pub(crate) fn timeline_entry(entry: &AuditEntry) -> Result<TimelineEntry, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("audit entry #{}: {what}", entry.seq));
    Ok(TimelineEntry {
        seq: entry.seq,
        at: entry.at,
        recorded_at: entry.recorded_at,
        actor: Actor::parse(&entry.actor).map_err(|e| corrupt(e.to_string()))?,
        event: IncidentEvent::from_json(entry.data.clone()).map_err(|e| corrupt(e.to_string()))?,
    })
}
