//! The alerts' lives, told from the event log: each delivery of an alert opens, updates,
//! acknowledges or resolves it; a firing alert that its sender stops re-sending expires at
//! its `ends_at`. Each episode is one signal; a resolution resolves the signal, and the
//! incident too once all its alerts are over, where the plan says so.
//!
//! The detectors' leader keeps the open alerts in memory and stores what changed once per
//! round, so a sender re-sending the same thousands of alerts every minute costs a map
//! lookup per alert and one row per alert per round.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tocsin_core::Timestamp;
use tocsin_core::alert::{AlertStatus, Change, Tracked, change};
use tocsin_core::event::AlertEvent;
use tocsin_core::incident::{Command, IncidentNumber};
use tocsin_core::signal::{Origin, Signal, ruling};
use tocsin_store::integrations::{AlertFilter, StoredAlert};
use tocsin_store::signals::NewSignal;

use crate::workers::detection::DetectionStore;
use crate::{Desk, DeskError};

/// The cursor of the alerts in the event log: what was applied up to it is stored.
pub const FOLLOWER: &str = "alerts";
/// Signal summaries are cut to this many characters.
const SUMMARY_MAX: usize = 200;
/// Alerts that only changed their details or expiry (a sender re-sending them) are stored
/// at most this often; the log holds them meanwhile.
const SAVE_UPDATES: std::time::Duration = std::time::Duration::from_secs(5);

type Key = (String, String);

/// How far in the event log the stored alerts are up to date, on the instance that leads
/// the detectors: what `GET /api/v2/alerts` waits for, so that it lists alerts posted just
/// before. Cloning shares it.
#[derive(Clone, Debug)]
pub struct AlertProgress(Arc<tokio::sync::watch::Sender<u64>>);

impl Default for AlertProgress {
    fn default() -> Self {
        AlertProgress(Arc::new(tokio::sync::watch::channel(0).0))
    }
}

impl AlertProgress {
    /// Notes that the stored alerts are up to date with the event log up to `seq`.
    pub fn stored_to(&self, seq: u64) {
        self.0.send_if_modified(|at| {
            let newer = seq > *at;
            *at = (*at).max(seq);
            newer
        });
    }

    /// Waits (at most `patience`) until the stored alerts are up to date with the event
    /// log up to `seq`; whether they are.
    pub async fn caught_up(&self, seq: u64, patience: std::time::Duration) -> bool {
        let mut told = self.0.subscribe();
        tokio::time::timeout(patience, told.wait_for(|at| *at >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// The open alerts, and what changed since they were last stored.
#[derive(Debug, Default)]
pub struct AlertBook {
    progress: AlertProgress,
    open: HashMap<Key, StoredAlert>,
    /// Open alerts per integration, bounded by the plan's `max_open_alerts`...
    open_per_source: HashMap<String, usize>,
    /// ...and the alerts not tracked since an integration reached its bound.
    folded: HashMap<String, u64>,
    /// Alerts changed since the last save, open or just resolved.
    changed: HashSet<Key>,
    resolved: HashMap<Key, StoredAlert>,
    /// Signals for the episodes opened since the last save.
    opened: Vec<NewSignal>,
    /// Whether an alert opened, was acknowledged or resolved since the last save.
    moved: bool,
    saved_at: Option<std::time::Instant>,
    /// The last event read, and the last stored as read.
    pub position: u64,
    stored: u64,
}

impl AlertBook {
    /// The open alerts as stored, and the place in the log they were stored up to.
    pub async fn load(store: &(impl DetectionStore + ?Sized), progress: AlertProgress) -> Result<Self, DeskError> {
        let filter = AlertFilter {
            open: true,
            limit: u32::MAX,
            ..AlertFilter::default()
        };
        let open: HashMap<Key, StoredAlert> = store
            .alerts(&filter)
            .await?
            .into_iter()
            .map(|a| ((a.source.clone(), a.alert.fingerprint.clone()), a))
            .collect();
        let mut open_per_source = HashMap::new();
        for (source, _) in open.keys() {
            *open_per_source.entry(source.clone()).or_default() += 1;
        }
        let position = store.event_cursor(FOLLOWER).await?;
        progress.stored_to(position);
        Ok(AlertBook {
            progress,
            open,
            open_per_source,
            position,
            stored: position,
            ..AlertBook::default()
        })
    }

    /// Whether alerts changed since they were last stored.
    pub fn changed(&self) -> bool {
        !self.changed.is_empty()
    }

    /// Whether what changed should be stored now: an alert opened, was acknowledged or
    /// resolved; or alerts were updated a while ago.
    pub fn due(&self) -> bool {
        self.moved || (self.changed() && self.saved_at.is_none_or(|at| at.elapsed() >= SAVE_UPDATES))
    }

    /// Whether there is something to store: changed alerts, or how far the log was read.
    pub fn dirty(&self) -> bool {
        self.changed() || self.stored < self.position
    }

    /// Reads event `seq` of the log: a delivery of alerts, or any other event.
    pub fn read(&mut self, desk: &Desk, seq: u64, event: &tocsin_core::event::Event) {
        if seq <= self.position {
            return;
        }
        self.position = seq;
        if let tocsin_core::event::Event::Alert(delivery) = event {
            self.apply(desk, seq, delivery);
        }
        if !self.changed() {
            self.progress.stored_to(seq);
        }
    }

    fn apply(&mut self, desk: &Desk, seq: u64, event: &AlertEvent) {
        for alert in &event.alerts {
            let alert = &alert.bounded();
            let key = (event.source.clone(), alert.fingerprint.clone());
            let current = self.open.get(&key).map(|a| Tracked {
                status: a.alert.status,
                starts_at: a.alert.starts_at,
                ends_at: a.alert.ends_at,
            });
            match change(current.as_ref(), alert) {
                Change::Ignored => continue,
                Change::Opened => {
                    let limit = desk.plan().max_open_alerts(&event.source);
                    if self.open_per_source.get(&event.source).copied().unwrap_or(0) >= limit {
                        self.fold(desk, seq, event, alert, limit);
                        continue;
                    }
                    *self.open_per_source.entry(event.source.clone()).or_default() += 1;
                    let stored = episode(event, alert.clone());
                    self.opened.push(signal_of(desk, &stored, seq));
                    self.moved = true;
                    self.resolved.remove(&key);
                    self.open.insert(key.clone(), stored);
                }
                change => {
                    let stored = self.open.get_mut(&key).expect("an open alert");
                    let status = match change {
                        Change::Updated => stored.alert.status,
                        Change::Acknowledged => AlertStatus::Acknowledged,
                        _ => AlertStatus::Resolved,
                    };
                    self.moved |= status != stored.alert.status;
                    // A sender re-sending an alert changes its expiry and little else.
                    let same = stored.alert.summary == alert.summary
                        && stored.alert.labels == alert.labels
                        && stored.alert.annotations == alert.annotations
                        && stored.alert.severity == alert.severity
                        && stored.alert.url == alert.url;
                    if !same {
                        let starts_at = stored.alert.starts_at;
                        stored.alert = alert.clone();
                        stored.alert.details = None;
                        // An episode keeps the time it started.
                        stored.alert.starts_at = starts_at;
                    }
                    stored.alert.status = status;
                    stored.alert.ends_at = alert.ends_at;
                    stored.updated_at = event.at;
                    stored.received += 1;
                    if status == AlertStatus::Resolved {
                        let mut over = self.open.remove(&key).expect("an open alert");
                        self.closed(&key.0);
                        over.resolved_at = Some(alert.ends_at.unwrap_or(event.at).max(over.alert.starts_at));
                        self.resolved.insert(key.clone(), over);
                    }
                }
            }
            self.changed.insert(key);
        }
    }

    /// An alert of an integration at its bound: counted, and told once, in one signal,
    /// until the integration is under its bound again.
    fn fold(&mut self, desk: &Desk, seq: u64, event: &AlertEvent, alert: &tocsin_core::alert::Alert, limit: usize) {
        let folded = self.folded.entry(event.source.clone()).or_default();
        *folded += 1;
        if *folded > 1 {
            return;
        }
        tracing::warn!(
            integration = %event.source,
            limit,
            "an integration has as many open alerts as the plan allows; more are not tracked one by one"
        );
        let mut storm = alert.clone();
        storm.fingerprint = "too-many-alerts".to_owned();
        storm.group = Some("too-many-alerts".to_owned());
        storm.summary = format!(
            "{} has {limit} alerts open, as many as the plan's max_open_alerts allows: more are counted, not tracked one by one",
            event.source
        );
        self.opened.push(signal_of(desk, &episode(event, storm), seq));
        self.moved = true;
    }

    /// An open alert of `source` resolved or expired.
    fn closed(&mut self, source: &str) {
        if let Some(n) = self.open_per_source.get_mut(source) {
            *n = n.saturating_sub(1);
            self.folded.remove(source);
        }
    }

    /// Firing alerts whose `ends_at` has passed resolve: their sender stopped re-sending them.
    pub fn expire(&mut self, now: Timestamp) {
        let expired: Vec<Key> = self
            .open
            .iter()
            .filter(|(_, a)| a.alert.status.is_open() && a.alert.ends_at.is_some_and(|end| end <= now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            let mut over = self.open.remove(&key).expect("listed");
            self.closed(&key.0);
            over.alert.status = AlertStatus::Resolved;
            over.resolved_at = over.alert.ends_at;
            over.updated_at = now;
            self.resolved.insert(key.clone(), over);
            self.changed.insert(key);
            self.moved = true;
        }
    }

    /// The signals of the episodes opened since the last save, to be recorded first.
    pub fn take_signals(&mut self) -> Vec<NewSignal> {
        std::mem::take(&mut self.opened)
    }

    /// Stores what changed up to [`AlertBook::position`], and carries out what the
    /// resolutions mean for incidents: a note on the timeline, and the incident resolved
    /// once all its alerts are over, where the plan's `[[integration]]` says so.
    pub async fn save(&mut self, store: &(impl DetectionStore + ?Sized), desk: &Desk) -> Result<(), DeskError> {
        // Resolved alerts leave memory here: they are moved, the open ones copied.
        let rows: Vec<StoredAlert> = self
            .changed
            .drain()
            .filter_map(|key| self.open.get(&key).cloned().or_else(|| self.resolved.remove(&key)))
            .collect();
        // In chunks, the cursor with the last: a stop between them applies the rest again.
        let chunks = crate::workers::detection::in_chunks(&rows);
        let last = chunks.len() - 1;
        let mut resolved = Vec::new();
        let mut before = 0;
        for (n, chunk) in chunks.into_iter().enumerate() {
            let up_to = if n == last { self.position } else { self.stored };
            let saved = store.save_alerts(chunk, FOLLOWER, up_to).await?;
            resolved.extend(saved.into_iter().map(|(i, number)| (before + i, number)));
            before += chunk.len();
        }
        self.stored = self.position;
        self.moved = false;
        self.saved_at = Some(std::time::Instant::now());
        self.progress.stored_to(self.position);
        let mut by_incident: Vec<(IncidentNumber, Vec<&StoredAlert>)> = Vec::new();
        for (i, number) in resolved {
            match by_incident.iter_mut().find(|(n, _)| *n == number) {
                Some((_, alerts)) => alerts.push(&rows[i]),
                None => by_incident.push((number, vec![&rows[i]])),
            }
        }
        let now = Timestamp::now();
        let actor = crate::workers::detection::actor();
        for (number, over) in by_incident {
            if !desk.incident_shared(number).await?.incident.status.is_active() {
                continue;
            }
            let text = over
                .iter()
                .map(|a| {
                    format!(
                        "Alert resolved: {} ({} via {})",
                        a.alert.summary,
                        a.source,
                        a.via.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            desk.act(number, &Command::AddNote { text }, &actor, None, now).await?;
            let plan = &desk.plan();
            let resolves = over.iter().any(|a| {
                tocsin_core::signal::is_own(a.via) || plan.integration(&a.source).is_some_and(|i| i.resolve_incident)
            });
            if resolves && store.open_alerts_of(number).await? == 0 {
                let resolve = Command::Resolve {
                    summary: Some("Every alert that joined this incident has resolved.".into()),
                };
                if let Err(e) = desk.act(number, &resolve, &actor, None, now).await {
                    tracing::warn!(incident = %number, error = %e, "the incident's alerts are over but it cannot be resolved");
                }
            }
        }
        Ok(())
    }
}

/// An alert's new episode, opened by `event`.
fn episode(event: &AlertEvent, alert: tocsin_core::alert::Alert) -> StoredAlert {
    StoredAlert {
        source: event.source.clone(),
        via: event.via,
        alert,
        opened_at: event.at,
        updated_at: event.at,
        resolved_at: None,
        received: 1,
        signal: None,
    }
}

/// The signal of an alert's new episode, with what the plan makes of it.
fn signal_of(desk: &Desk, stored: &StoredAlert, seq: u64) -> NewSignal {
    // Told at: a sender may start a new episode with the time of the last one.
    let at = stored.opened_at;
    let signal = Signal {
        detector: stored.via.into(),
        key: stored.signal_key(),
        at,
        count: 1,
        first_at: stored.alert.starts_at.min(at),
        last_at: at,
        samples: vec![seq],
        sources: Vec::new(),
        accounts: Vec::new(),
        summary: stored.alert.summary.chars().take(SUMMARY_MAX).collect(),
    };
    let origin = Origin::Alert {
        source: &stored.source,
        severity: stored.alert.severity.as_deref(),
        group: stored.alert.group.as_deref().unwrap_or(&stored.alert.fingerprint),
    };
    NewSignal {
        ruling: ruling(&desk.plan(), &signal, origin),
        signal,
    }
}
