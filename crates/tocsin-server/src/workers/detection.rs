//! The detectors follow the event log: each finding is recorded as a signal once, and the
//! plan's rule for it is carried out: declare an incident, join the open one of the same
//! group, or only record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tocsin_core::Timestamp;
use tocsin_core::detector::DetectorId;
use tocsin_core::event::Event;
use tocsin_core::incident::{Actor, Command, Declaration, IncidentNumber, Status};
use tocsin_core::incident::{RunCommand, RunState};
use tocsin_core::settle::{self, Target};
use tocsin_core::signal::{Disposition, Origin, Signal, WATCH_GROUP, rank, ruling};
use tocsin_detect::detect::Engine;
use tocsin_detect::detect::recurrence::Watched;
use tocsin_store::duty::{Duty, OnDuty};
use tocsin_store::event_log::Committed;
use tocsin_store::events::EventStore;
use tocsin_store::evidence::EvidenceStore;
use tocsin_store::integrations::IntegrationStore;
use tocsin_store::signals::{NewSignal, SignalRecord, SignalStore};
use tocsin_store::switches::{SwitchKind, SwitchStore};
use tocsin_store::{InstanceStore, Store};
use tokio::sync::mpsc;

use crate::phrases::time;
use crate::workers::alerts::AlertProgress;
use crate::workers::store_view;
use crate::{Desk, DeskError};

/// The detectors' cursor in the event log.
pub const FOLLOWER: &str = "detectors";
/// How far back the detectors' memory is rebuilt from the log after a restart: a day, so
/// that what they learned (usual rates, the secrets each principal reads) survives it;
/// at most this many events, so that a busy log does not hold a start up for long.
const REBUILD: SignedDuration = SignedDuration::from_hours(24);
const REBUILD_EVENTS: u64 = 2_000_000;
/// Findings remembered as recorded, at most.
const KNOWN_MAX: usize = 100_000;
/// How often the cursor is saved while nothing is found.
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// Events read per round at most, and in the first round of a catch-up: rounds grow while
/// they hold fewer than [`ROUND_ITEMS`] items and shrink when they hold more, so that a
/// backlog of deliveries of thousands of alerts each is read a few at a time.
const ROUND: u32 = 10_000;
const FIRST_ROUND: u32 = 16;
/// What a round should hold: events, an alert delivery counting as its alerts.
const ROUND_ITEMS: usize = 100_000;
/// While events stream in, what they lead to is gathered for a while after each write (or
/// until this many findings wait), so that an alert storm takes the database's write lock
/// from the log's writer a few times a second, not for every batch it commits. The while
/// is four times as long as the last write took, from [`WRITE_WINDOW_MIN`] to
/// [`WRITE_EVERY`]: an idle server writes a finding at once, a busy one spends at most a
/// fifth of its time writing findings.
const WRITE_EVERY: Duration = Duration::from_millis(250);
const WRITE_WINDOW_MIN: Duration = Duration::from_millis(2);
const GATHER_MAX: usize = 10_000;
/// Rows written per transaction, so that the log's writer is never held up for long.
const WRITE_CHUNK: usize = 1_000;

/// Rows in chunks of [`WRITE_CHUNK`], at least one (maybe empty): the last carries the
/// cursor, and a stop between them does the rest again.
pub(crate) fn in_chunks<T>(rows: &[T]) -> Vec<&[T]> {
    let mut chunks: Vec<&[T]> = rows.chunks(WRITE_CHUNK).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    chunks
}
/// How often the log is looked at for events that other processes appended.
const POLL: Duration = Duration::from_secs(1);

/// Who tocsin's own actions are recorded as.
pub fn actor() -> Actor {
    Actor::parse("tocsin").expect("a valid name")
}

store_view! {
    /// What the detectors read and write: the event log, the signals and their cursor,
    /// the open alerts, the detectors' duty, and which agents are paused.
    DetectionStore: EventStore, SignalStore, IntegrationStore, InstanceStore, SwitchStore, EvidenceStore
}

/// The detectors with their place in the event log, recording what they find in `S`.
#[derive(Debug)]
pub struct Detector<S: ?Sized = dyn Store> {
    store: Arc<S>,
    desk: Desk,
    engine: Engine,
    /// The plan version the engine was built for.
    plan_version: u64,
    /// The last event read.
    position: u64,
    /// The last event read before this start: what was found up to it was recorded then,
    /// so reading it again only rebuilds the detectors' memory.
    replayed: u64,
    /// Findings recorded lately, by fingerprint and time.
    known: std::collections::HashSet<(String, i64)>,
    /// The position last saved as the cursor, and when.
    saved: u64,
    saved_at: std::time::Instant,
    /// When findings were last written, and how long they gather after that.
    wrote_at: std::time::Instant,
    write_window: Duration,
    found: Vec<Signal>,
    /// The alerts' lives, told from the same log.
    alerts: crate::workers::alerts::AlertBook,
    /// The keys under a recovery watch, each with its incident, and when they were read.
    watched: HashMap<String, IncidentNumber>,
    watched_at: Option<std::time::Instant>,
}

/// How often the keys under a recovery watch are read again: a resolution takes effect
/// within this time.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// The keys of the incidents under their recovery watch at `now`: those resolved (or
/// closed) within the plan's watch, with the keys and accounts of the signals they had.
async fn watched(
    store: &(impl DetectionStore + ?Sized),
    desk: &Desk,
    now: Timestamp,
) -> Result<(Vec<Watched>, HashMap<String, IncidentNumber>), DeskError> {
    let plan = desk.plan();
    let mut keys = Vec::new();
    let mut incidents = HashMap::new();
    let Some(seconds) = plan.recovery().watch_seconds else {
        return Ok((keys, incidents));
    };
    let filter = tocsin_store::IncidentFilter {
        statuses: vec![Status::Resolved, Status::Closed],
        limit: Some(1_000),
        ..Default::default()
    };
    let since = now - SignedDuration::from_secs(seconds);
    for summary in desk.incidents(&filter).await?.iter().filter(|s| s.updated_at >= since) {
        let view = desk.incident_shared(summary.number).await?;
        let Some(until) = plan.watch_until(&view.incident).filter(|until| *until > now) else {
            continue;
        };
        let signals = tocsin_store::signals::SignalFilter {
            incident: Some(summary.number),
            limit: 1_000,
            ..Default::default()
        };
        for record in store.signals(&signals).await? {
            let s = record.signal;
            for key in std::iter::once(s.key).chain(s.accounts) {
                incidents.insert(key.to_lowercase(), summary.number);
                keys.push(Watched { key, until });
            }
        }
    }
    Ok((keys, incidents))
}

impl<S: DetectionStore + ?Sized> Detector<S> {
    /// Carries out the rules a stop left undone, and starts before the cursor so that the
    /// detectors' memory is rebuilt; nothing is reported from the events read again.
    pub async fn start(store: Arc<S>, desk: Desk, progress: AlertProgress) -> Result<Self, DeskError> {
        settle(&*store, &desk, &store.unsettled_signals().await?).await?;
        let cursor = store.event_cursor(FOLLOWER).await?;
        let rebuild_from = store
            .first_seq_received_since(Timestamp::now() - REBUILD)
            .await?
            .max(cursor.saturating_sub(REBUILD_EVENTS) + 1);
        let alerts = crate::workers::alerts::AlertBook::load(&*store, progress).await?;
        let active = desk.active_plan();
        Ok(Detector {
            engine: Engine::for_plan(&active.plan),
            plan_version: active.version.version,
            // Alerts applied after the detectors' last save are applied again.
            position: cursor.min(rebuild_from - 1).min(alerts.position),
            alerts,
            replayed: cursor,
            saved: cursor,
            saved_at: std::time::Instant::now(),
            wrote_at: std::time::Instant::now(),
            write_window: WRITE_WINDOW_MIN,
            known: std::collections::HashSet::new(),
            found: Vec::new(),
            watched: HashMap::new(),
            watched_at: None,
            store,
            desk,
        })
    }

    /// Reads the keys under a recovery watch again, when it is time.
    async fn refresh_watch(&mut self, now: Timestamp) -> Result<(), DeskError> {
        if self.watched_at.is_some_and(|at| at.elapsed() < WATCH_EVERY) {
            return Ok(());
        }
        let (keys, incidents) = watched(&*self.store, &self.desk, now).await?;
        self.engine.watch(keys);
        self.watched = incidents;
        self.watched_at = Some(std::time::Instant::now());
        Ok(())
    }

    /// Reads the log to its end; how many new signals it gave.
    pub async fn catch_up(&mut self) -> Result<usize, DeskError> {
        let mut recorded = 0;
        let mut round = FIRST_ROUND;
        loop {
            let events = self.store.events_after(self.position, round).await?;
            if events.is_empty() {
                // Caught up: what was gathered is written now.
                return Ok(recorded + self.record(false).await?);
            }
            let items: usize = events
                .iter()
                .map(|e| match &e.event {
                    Event::Alert(delivery) => delivery.alerts.len().max(1),
                    _ => 1,
                })
                .sum();
            round = if items > ROUND_ITEMS {
                (round / 2).max(1)
            } else if items < ROUND_ITEMS / 2 {
                round.saturating_mul(2).min(ROUND)
            } else {
                round
            };
            recorded += self.read(events.iter().map(|e| (e.seq, &e.event))).await?;
        }
    }

    /// Events just appended to the log, with their sequence numbers, read without a trip
    /// to the store when they follow on from where the detectors are; how many new
    /// signals they gave.
    pub async fn appended(&mut self, seqs: &[u64], events: &[Event]) -> Result<usize, DeskError> {
        match seqs.first() {
            // A gap: batches the writer could not hand over, or other processes' events.
            Some(&first) if first > self.position + 1 => self.catch_up().await,
            Some(_) => {
                let position = self.position;
                let new = seqs.iter().copied().zip(events).filter(|(seq, _)| *seq > position);
                self.read(new).await
            }
            None => Ok(0),
        }
    }

    async fn read(&mut self, events: impl Iterator<Item = (u64, &Event)>) -> Result<usize, DeskError> {
        for (seq, event) in events {
            self.alerts.read(&self.desk, seq, event);
            self.engine.event(seq, event, &mut self.found);
            if seq <= self.replayed {
                self.found.clear();
            }
            self.position = seq;
        }
        self.record(false).await
    }

    /// Time passes: what silence means now (agents that stopped reporting). Only when
    /// caught up with the log, whose events carry their own times.
    pub async fn tick(&mut self, now: Timestamp) -> Result<usize, DeskError> {
        self.refresh_watch(now).await?;
        self.engine.tick(now, &mut self.found);
        self.alerts.expire(now);
        self.record(false).await
    }

    /// Writes what was gathered and saves how far the detectors read, so that a restart
    /// reports nothing from there back; how many new signals that recorded.
    pub async fn save(&mut self) -> Result<usize, DeskError> {
        self.record(true).await
    }

    /// Records what was found, and carries out the rules for what is new; saves the cursor
    /// with it, or now and then when nothing was found, or now when `save` says so.
    async fn record(&mut self, save: bool) -> Result<usize, DeskError> {
        // A finding this detector recorded before (the same log read again) needs no write.
        let known = &mut self.known;
        self.found
            .retain(|s| !known.contains(&(s.fingerprint(), s.at.as_millisecond())));
        // With nothing found, the cursor is saved now and then, not after every batch: a
        // restart reads the last hours again anyway, and skips what it recorded before.
        let due = save || self.saved_at.elapsed() >= SAVE_EVERY;
        if !self.waiting() && (self.saved >= self.position || !due) {
            return Ok(0);
        }
        // Gathered: written with a later batch, or when the window ends.
        if !save && self.wrote_at.elapsed() < self.write_window && self.found.len() < GATHER_MAX {
            return Ok(0);
        }
        let writing = std::time::Instant::now();
        let plan = &self.desk.plan();
        let mut signals: Vec<NewSignal> = self
            .found
            .drain(..)
            .map(|signal| NewSignal {
                ruling: ruling(plan, &signal, Origin::Finding),
                signal,
            })
            .collect();
        signals.extend(self.alerts.take_signals());
        // A paused agent is silent because it was told to be: no stale agent.
        if signals.iter().any(|s| s.signal.detector == DetectorId::StaleAgent) {
            let paused = self.store.switches(SwitchKind::Pause, false).await?;
            for s in &mut signals {
                if s.signal.detector != DetectorId::StaleAgent {
                    continue;
                }
                if let Some(pause) = paused.iter().find(|p| p.subject == s.signal.key) {
                    s.ruling.suppress(format!(
                        "the agent is paused (by {} at {}: {})",
                        pause.started_by, pause.started, pause.reason
                    ));
                }
            }
        }
        // During an incident's recovery watch, any signal about its keys goes back to it.
        for s in &mut signals {
            let watched = std::iter::once(&s.signal.key)
                .chain(&s.signal.accounts)
                .find_map(|key| self.watched.get(&key.to_lowercase()));
            if let Some(number) = watched {
                s.ruling.watched_by(*number);
            }
        }
        let store = &*self.store;
        let cursor = store.event_cursor(FOLLOWER).await?;
        // In chunks, the cursor moving with the last: the log's writer commits between them.
        // A stop in between finds the same signals again, which are recorded once.
        let mut recorded = Vec::new();
        let chunks = in_chunks(&signals);
        let last = chunks.len() - 1;
        for (n, chunk) in chunks.into_iter().enumerate() {
            let up_to = if n == last { self.position.max(cursor) } else { cursor };
            recorded.extend(store.record_signals(FOLLOWER, up_to, chunk, Timestamp::now()).await?);
        }
        self.saved = self.position;
        self.saved_at = std::time::Instant::now();
        if self.known.len() > KNOWN_MAX {
            self.known.clear();
        }
        self.known.extend(
            signals
                .iter()
                .map(|s| (s.signal.fingerprint(), s.signal.at.as_millisecond())),
        );
        settle(&*self.store, &self.desk, &recorded).await?;
        // After the signals, so that each alert finds its episode's signal and incident.
        if self.alerts.due() || (due && self.alerts.dirty()) {
            self.alerts.save(&*self.store, &self.desk).await?;
        }
        self.wrote_at = std::time::Instant::now();
        self.write_window = (writing.elapsed() * 4).clamp(WRITE_WINDOW_MIN, WRITE_EVERY);
        Ok(recorded.len())
    }

    /// Whether findings or alerts wait to be written.
    fn waiting(&self) -> bool {
        !self.found.is_empty() || self.alerts.due()
    }

    /// When what was gathered is to be written, if anything waits.
    fn gathered_until(&self) -> Option<std::time::Instant> {
        self.waiting().then(|| self.wrote_at + self.write_window)
    }
}

/// Follows the log until the writer stops, while this instance leads the detectors: each
/// batch the writer hands over is read as it is; what it could not hand over, and what
/// other processes append, is read from the store (at least once a second). Another
/// instance leading, this one stands by and takes over when the leader goes.
pub async fn follow<S: DetectionStore + ?Sized>(
    store: Arc<S>,
    desk: Desk,
    mut fed: mpsc::Receiver<Committed>,
    progress: AlertProgress,
) {
    loop {
        let Some(lead) = take_duty(&*store, &mut fed).await else {
            return;
        };
        match lead_detectors(&store, &desk, lead, &mut fed, &progress).await {
            Led::WriterStopped => return,
            Led::LeadLost => tracing::warn!("the lead of the detectors was lost with its database connection"),
        }
    }
}

/// How long a standby waits before asking for the lead again.
const STANDBY: Duration = Duration::from_secs(5);

/// Waits for the lead, letting the writer's batches go by meanwhile (the leader reads them
/// from the store); `None` once the writer stops.
async fn take_duty(store: &(impl DetectionStore + ?Sized), fed: &mut mpsc::Receiver<Committed>) -> Option<OnDuty> {
    let mut said = false;
    loop {
        match store.take_duty(Duty::Detectors).await {
            Ok(Some(lead)) => {
                match said {
                    true => tracing::info!("this instance leads the detectors now"),
                    false => tracing::info!("this instance leads the detectors"),
                }
                return Some(lead);
            }
            Ok(None) if !said => {
                said = true;
                tracing::info!("another instance leads the detectors; this one stands by");
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot ask for the lead of the detectors"),
        }
        let standby = tokio::time::sleep(STANDBY);
        tokio::pin!(standby);
        loop {
            tokio::select! {
                () = &mut standby => break,
                // The writer stopped: so does this.
                batch = fed.recv() => { batch?; }
            }
        }
    }
}

enum Led {
    WriterStopped,
    LeadLost,
}

async fn start_detectors<S: DetectionStore + ?Sized>(
    store: &Arc<S>,
    desk: &Desk,
    progress: &AlertProgress,
) -> Detector<S> {
    loop {
        match Detector::start(Arc::clone(store), desk.clone(), progress.clone()).await {
            Ok(detector) => return detector,
            Err(e) => {
                tracing::error!(error = %e, "the detectors cannot start; trying again");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn lead_detectors<S: DetectionStore + ?Sized>(
    store: &Arc<S>,
    desk: &Desk,
    mut lead: OnDuty,
    fed: &mut mpsc::Receiver<Committed>,
    progress: &AlertProgress,
) -> Led {
    let mut detector = start_detectors(store, desk, progress).await;
    let mut batch = None;
    let mut ticked = std::time::Instant::now();
    loop {
        let read = match batch.take() {
            Some(Committed { seqs, events }) => detector.appended(&seqs, &events).await,
            None => detector.catch_up().await,
        };
        // Caught up: silence means something now (at least once a second, however busy),
        // and the lead is checked.
        let done = match read {
            Ok(_) if ticked.elapsed() >= POLL => {
                ticked = std::time::Instant::now();
                if !lead.held().await {
                    return Led::LeadLost;
                }
                if detector.plan_version != desk.active_plan().version.version {
                    // Another plan version: the detectors start again under it, their
                    // memory rebuilt from the log as after a restart.
                    if let Err(e) = detector.save().await {
                        tracing::error!(error = %e, "cannot save how far the detectors read");
                    }
                    detector = start_detectors(store, desk, progress).await;
                }
                detector.tick(Timestamp::now()).await
            }
            other => other,
        };
        if let Err(e) = done {
            tracing::error!(error = %e, "detection failed; trying again");
        }
        // What was gathered is written when its window ends, if no batch comes first.
        let wait = detector.gathered_until().map_or(POLL, |until| {
            until.saturating_duration_since(std::time::Instant::now()).min(POLL)
        });
        match tokio::time::timeout(wait, fed.recv()).await {
            Ok(Some(next)) => batch = Some(next),
            Ok(None) => {
                if let Err(e) = detector.save().await {
                    tracing::error!(error = %e, "cannot save how far the detectors read");
                }
                return Led::WriterStopped;
            }
            Err(_quiet) => {}
        }
    }
}

/// Notes of signals that joined an incident at once name this many; the rest are counted.
const JOINED_NAMED: usize = 10;

/// Carries out the signals' rules and marks them done. Signals that join one incident
/// together (an alert storm: thousands of instances firing one rule) are told on its
/// timeline in one note, and raise its severity at most once.
async fn settle(
    store: &(impl DetectionStore + ?Sized),
    desk: &Desk,
    records: &[SignalRecord],
) -> Result<(), DeskError> {
    if records.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    // The open incident of each group before the batch; an incident under its recovery
    // watch is reopened for the signal that came back.
    let mut open: HashMap<&str, Option<IncidentNumber>> = HashMap::new();
    for record in records.iter().filter(|r| r.disposition != Disposition::Record) {
        if open.contains_key(record.group_key.as_str()) {
            continue;
        }
        let incident = match record.group_key.strip_prefix(WATCH_GROUP) {
            Some(number) => Some(reopened(desk, number, record, now).await?),
            None => match store.group_incident(&record.group_key).await? {
                Some(number) if desk.incident_shared(number).await?.incident.status.is_active() => Some(number),
                _ => None,
            },
        };
        open.insert(&record.group_key, incident);
    }
    let settlement = settle::settle(records.iter().map(|r| (r.disposition, r.group_key.as_str())), &open);
    let mut declared = HashMap::new();
    for index in settlement.declares {
        declared.insert(index, declare(desk, &records[index], now).await?);
    }
    let number = |target: Target| match target {
        Target::Open(number) => number,
        Target::Declared(index) => declared[&index],
    };
    for (target, list) in &settlement.joins {
        let list: Vec<&SignalRecord> = list.iter().map(|i| &records[*i]).collect();
        join(desk, number(*target), &list, now).await?;
    }
    let settled: Vec<(i64, Option<IncidentNumber>)> = records
        .iter()
        .zip(settlement.targets)
        .map(|(record, target)| (record.id, target.map(number)))
        .collect();
    for (record, (_, incident)) in records.iter().zip(&settled) {
        if let Some(incident) = incident {
            preserve(store, *incident, record, now).await;
            ask_rule_runs(desk, *incident, record, now).await?;
        }
    }
    for chunk in settled.chunks(WRITE_CHUNK) {
        store.settle_signals(chunk, now).await?;
    }
    Ok(())
}

/// Keeps the events a signal cites as evidence of the incident it opened or joined, so
/// that the log's retention never takes them. A failure is logged: the signal is settled.
async fn preserve(
    store: &(impl DetectionStore + ?Sized),
    incident: IncidentNumber,
    record: &SignalRecord,
    now: Timestamp,
) {
    if record.signal.samples.is_empty() {
        return;
    }
    let kept = async {
        let events = store
            .events_by_seq(&record.signal.samples)
            .await
            .map_err(|e| e.to_string())?;
        let mut lines = String::new();
        for e in &events {
            let line = serde_json::json!({
                "seq": e.seq,
                "received_at": e.received_at,
                "origin": e.origin,
                "event": e.event,
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        if lines.is_empty() {
            return Ok(());
        }
        crate::services::evidence::keep(
            store,
            incident,
            &format!("signal-{}-events.ndjson", record.id),
            "events",
            "application/x-ndjson",
            &format!(
                "the events {} cites: {}",
                record.signal.fingerprint(),
                record.signal.summary
            ),
            lines.into_bytes(),
            &actor(),
            now,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    if let Err(e) = kept.await {
        tracing::warn!(incident = %incident, signal = record.id, error = %e, "the events a signal cites could not be kept as evidence");
    }
}

/// Asks for the actions the signal's rule runs on `incident` (blocking the address that
/// brute-forces, say), unless the incident has the same run under way or done. A request
/// the action refuses (an input the signal cannot fill) is logged and left.
async fn ask_rule_runs(
    desk: &Desk,
    incident: IncidentNumber,
    record: &SignalRecord,
    now: Timestamp,
) -> Result<(), DeskError> {
    let plan = desk.plan();
    let Some(rule) = plan.rules().iter().find(|r| r.detector == record.signal.detector) else {
        return Ok(());
    };
    for run in &rule.runs {
        let inputs = run.inputs_for(&record.signal);
        let Some(def) = plan.action(run.action.as_str()) else {
            continue;
        };
        let Ok(checked) = def.check_inputs(&inputs) else {
            tracing::warn!(incident = %incident, action = %run.action, "the rule's inputs do not fit the action; not asked for");
            continue;
        };
        let view = desk.incident_shared(incident).await?;
        let already = view.incident.runs.iter().any(|r| {
            r.action == run.action
                && r.inputs == checked
                && r.undone_by.is_none()
                && !matches!(r.state, RunState::Failed | RunState::Rejected | RunState::Expired)
        });
        if already {
            continue;
        }
        let request = Command::Run(RunCommand::Request {
            action: run.action.to_string(),
            inputs,
            automatic: true,
        });
        match desk.act(incident, &request, &actor(), None, now).await {
            Ok(_) => {}
            Err(DeskError::Rejected(why)) => {
                tracing::warn!(incident = %incident, action = %run.action, "the rule's action was not asked for: {why}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The incident a recurrence during its recovery watch goes back to, reopened when it was
/// resolved or closed.
async fn reopened(
    desk: &Desk,
    number: &str,
    record: &SignalRecord,
    now: Timestamp,
) -> Result<IncidentNumber, DeskError> {
    let number: IncidentNumber = number
        .parse()
        .map_err(|e: String| DeskError::Store(tocsin_store::StoreError::Corrupt(e)))?;
    if !desk.incident_shared(number).await?.incident.status.is_active() {
        let reopen = Command::Reopen {
            reason: format!("it came back during the recovery watch: {}", record.signal.summary),
        };
        desk.act(number, &reopen, &actor(), None, now).await?;
    }
    Ok(number)
}

async fn declare(desk: &Desk, record: &SignalRecord, now: Timestamp) -> Result<IncidentNumber, DeskError> {
    let s = &record.signal;
    let declaration = Declaration {
        title: s.summary.chars().take(200).collect(),
        summary: evidence(record, desk.plan().calendar().zone()),
        severity: record.severity.clone(),
        personal_data: false,
        // An alert was detected by its sender when it started; a finding, when it was made.
        detected_at: Some(match s.detector {
            DetectorId::Alert(_) => s.first_at.min(now),
            _ => s.at.min(now),
        }),
        aware_at: None,
        customers: Some(tocsin_core::signal::customers_of(&desk.plan(), s.detector)),
        affected_customers: None,
        affected_data_subjects: None,
    };
    let view = desk.declare(&declaration, &actor(), None, now).await?;
    tracing::info!(incident = %view.incident.number, detector = %s.detector, key = %s.key, "a signal opened an incident");
    Ok(view.incident.number)
}

/// Adds signals to an open incident in one note, raising its severity to the highest of
/// theirs when that is higher.
async fn join(desk: &Desk, number: IncidentNumber, records: &[&SignalRecord], now: Timestamp) -> Result<(), DeskError> {
    let zone = desk.plan().calendar().zone().clone();
    let text = match records {
        [one] => format!("Signal: {}\n{}", one.signal.summary, evidence(one, &zone)),
        many => {
            let mut text = format!("{} signals joined:", many.len());
            for record in many.iter().take(JOINED_NAMED) {
                text.push_str(&format!("\n- {} ({})", record.signal.summary, record.signal.key));
            }
            if many.len() > JOINED_NAMED {
                text.push_str(&format!(
                    "\n- and {} more (tocsin signals lists them)",
                    many.len() - JOINED_NAMED
                ));
            }
            text
        }
    };
    desk.act(number, &Command::AddNote { text }, &actor(), None, now)
        .await?;
    let current = desk.incident_shared(number).await?.incident.severity.to_string();
    let plan = &desk.plan();
    let Some(worst) = records.iter().min_by_key(|r| rank(plan, &r.severity)) else {
        return Ok(());
    };
    if rank(plan, &worst.severity) < rank(plan, &current) {
        let raise = Command::ChangeSeverity {
            to: worst.severity.clone(),
            reason: format!("{} ({})", worst.signal.summary, worst.signal.detector),
        };
        desk.act(number, &raise, &actor(), None, now).await?;
    }
    Ok(())
}

fn evidence(record: &SignalRecord, zone: &jiff::tz::TimeZone) -> String {
    let s = &record.signal;
    let samples: Vec<String> = s.samples.iter().map(u64::to_string).collect();
    if let DetectorId::Alert(via) = s.detector {
        return format!(
            "Alert {} came by {}, firing since {} (event log entry {}).",
            s.key,
            via.as_str(),
            time(s.at, zone),
            samples.join(", ")
        );
    }
    format!(
        "Found by the {} detector at {}: {} events from {} to {} (event log entries {}).",
        s.detector,
        time(s.at, zone),
        s.count,
        time(s.first_at, zone),
        time(s.last_at, zone),
        samples.join(", ")
    )
}
