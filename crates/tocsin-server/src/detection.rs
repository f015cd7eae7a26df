//! The detectors follow the event log: each finding is recorded as a signal once, and the
//! plan's rule for it is carried out: declare an incident, join the open one of the same
//! group, or only record.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, Command, Declaration, IncidentNumber};
use tocsin_core::signal::{Action, Signal, default_rule, rank, severity_at};
use tocsin_detect::detect::Engine;
use tocsin_store::Store;
use tocsin_store::signals::{NewSignal, SignalRecord};
use tokio::sync::watch;

use crate::{Desk, DeskError};

/// The detectors' cursor in the event log.
pub const FOLLOWER: &str = "detectors";
/// How far back the detectors' memory is rebuilt from the log after a restart: longer
/// than their longest window.
const REBUILD: SignedDuration = SignedDuration::from_hours(2);
/// Events read per round.
const ROUND: u32 = 10_000;
/// How often the log is looked at for events that other processes appended.
const POLL: Duration = Duration::from_secs(1);

/// Who tocsin's own actions are recorded as.
pub fn actor() -> Actor {
    Actor::parse("tocsin").expect("a valid name")
}

/// Reads the log to its end once, as `tocsin ingest` does after storing: the detectors'
/// memory is rebuilt, the new events read, and their signals recorded and carried out.
/// Returns how many new signals there were.
pub async fn catch_up(desk: &Desk) -> Result<usize, DeskError> {
    let store = Arc::clone(desk.store());
    let mut engine = Engine::default();
    let mut position = start(&*store, desk).await?;
    let (mut found, mut recorded) = (Vec::new(), 0);
    while let Some((next, new)) = round(&*store, desk, &mut engine, position, &mut found).await? {
        position = next;
        recorded += new;
    }
    Ok(recorded)
}

/// Follows the log until `committed` closes.
pub async fn follow(desk: Desk, mut committed: watch::Receiver<u64>) {
    let store = Arc::clone(desk.store());
    let mut engine = Engine::default();
    let mut position = loop {
        match start(&*store, &desk).await {
            Ok(position) => break position,
            Err(e) => {
                tracing::error!(error = %e, "the detectors cannot start; trying again");
                tokio::time::sleep(POLL).await;
            }
        }
    };
    let mut found = Vec::new();
    loop {
        match round(&*store, &desk, &mut engine, position, &mut found).await {
            Ok(Some((next, _))) => {
                position = next;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "detection failed; trying again"),
        }
        if let Ok(Err(_closed)) = tokio::time::timeout(POLL, committed.changed()).await {
            return;
        }
    }
}

/// Carries out the rules left undone by a stop, and says where to read from: a little
/// before the cursor, so the detectors' memory is rebuilt (what they find again was
/// recorded before and is skipped).
async fn start(store: &dyn Store, desk: &Desk) -> Result<u64, DeskError> {
    for record in store.unsettled_signals().await? {
        settle(desk, &record).await?;
    }
    let cursor = store.event_cursor(FOLLOWER).await?;
    let rebuild_from = store.first_seq_received_since(Timestamp::now() - REBUILD).await?;
    Ok(cursor.min(rebuild_from.saturating_sub(1)))
}

/// Reads the next events after `position`: the new position and how many new signals
/// they gave, or `None` when there were no events.
async fn round(
    store: &dyn Store,
    desk: &Desk,
    engine: &mut Engine,
    position: u64,
    found: &mut Vec<Signal>,
) -> Result<Option<(u64, usize)>, DeskError> {
    let events = store.events_after(position, ROUND).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(None);
    };
    for stored in &events {
        engine.event(stored.seq, &stored.event, found);
    }
    let plan = desk.plan();
    let signals: Vec<NewSignal> = found
        .drain(..)
        .map(|signal| {
            let rule = default_rule(&signal.detector);
            NewSignal {
                severity: severity_at(plan, rule.tier),
                action: rule.action,
                group_key: group_key(&signal),
                signal,
            }
        })
        .collect();
    let cursor = store.event_cursor(FOLLOWER).await?;
    let recorded = store
        .record_signals(FOLLOWER, last.max(cursor), &signals, Timestamp::now())
        .await?;
    for record in &recorded {
        settle(desk, record).await?;
    }
    Ok(Some((last, recorded.len())))
}

/// Signals about the same thing join one incident: failed-login signals by source.
fn group_key(signal: &Signal) -> String {
    match signal.detector.as_str() {
        "brute_force" | "compromise" | "password_spray" | "slow_brute_force" => format!("source:{}", signal.key),
        other => format!("{other}:{}", signal.key),
    }
}

/// Carries out a signal's rule and marks it done.
async fn settle(desk: &Desk, record: &SignalRecord) -> Result<(), DeskError> {
    let store = desk.store();
    let now = Timestamp::now();
    let action = match record.action.as_str() {
        "open" => Action::Open,
        "join" => Action::Join,
        _ => Action::Record,
    };
    let open = match action {
        Action::Record => None,
        Action::Open | Action::Join => match store.group_incident(&record.group_key).await? {
            Some(number) if desk.incident_shared(number).await?.incident.status.is_active() => Some(number),
            _ => None,
        },
    };
    let incident = match (action, open) {
        (Action::Record, _) | (Action::Join, None) => None,
        (_, Some(number)) => Some(join(desk, number, record, now).await?),
        (Action::Open, None) => Some(declare(desk, record, now).await?),
    };
    store.settle_signal(record.id, incident, now).await?;
    Ok(())
}

async fn declare(desk: &Desk, record: &SignalRecord, now: Timestamp) -> Result<IncidentNumber, DeskError> {
    let s = &record.signal;
    let declaration = Declaration {
        title: s.summary.chars().take(200).collect(),
        summary: evidence(record),
        severity: record.severity.clone(),
        personal_data: false,
        detected_at: Some(s.at.min(now)),
        aware_at: None,
        affected_customers: None,
        affected_data_subjects: None,
    };
    let view = desk.declare(&declaration, &actor(), None, now).await?;
    tracing::info!(incident = %view.incident.number, detector = %s.detector, key = %s.key, "a signal opened an incident");
    Ok(view.incident.number)
}

/// Adds the signal to an open incident, raising its severity when the signal's is higher.
async fn join(
    desk: &Desk,
    number: IncidentNumber,
    record: &SignalRecord,
    now: Timestamp,
) -> Result<IncidentNumber, DeskError> {
    let note = Command::AddNote {
        text: format!("Signal: {}\n{}", record.signal.summary, evidence(record)),
    };
    desk.act(number, &note, &actor(), None, now).await?;
    let current = desk.incident_shared(number).await?.incident.severity.to_string();
    let plan = desk.plan();
    if rank(plan, &record.severity) < rank(plan, &current) {
        let raise = Command::ChangeSeverity {
            to: record.severity.clone(),
            reason: format!("{} ({})", record.signal.summary, record.signal.detector),
        };
        desk.act(number, &raise, &actor(), None, now).await?;
    }
    Ok(number)
}

fn evidence(record: &SignalRecord) -> String {
    let s = &record.signal;
    let samples: Vec<String> = s.samples.iter().map(u64::to_string).collect();
    format!(
        "Found by the {} detector at {}: {} events from {} to {} (event log entries {}).",
        s.detector,
        s.at,
        s.count,
        s.first_at,
        s.last_at,
        samples.join(", ")
    )
}
