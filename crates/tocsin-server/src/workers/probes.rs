//! The probes' worker: runs each of the plan's probes on its schedule, on the instance that
//! holds the probes' duty. Each probe's runs keep a phase of their own within its interval
//! (from its id), so that probes with one interval spread over it instead of starting
//! together, and a restart or a new plan version keeps every probe's phase.
//!
//! Every second, the runs that finished are written: failed runs, and runs that turned a
//! probe down or up, as `probe` events in the event log, with the alert a turn fires or
//! resolves (the alerts' worker makes it a signal, and an incident under the plan's rules);
//! where each probe stands; and the runs counted by the hour and the day.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tocsin_core::Timestamp;
use tocsin_core::alert::Via;
use tocsin_core::event::{AlertEvent, Event, ProbeEvent};
use tocsin_core::plan::Probe;
use tocsin_core::probe::{SOURCE, Standing, Turn, alert};
use tocsin_store::InstanceStore;
use tocsin_store::duty::{Duty, OnDuty};
use tocsin_store::event_log::EventLog;
use tocsin_store::events::NewEvent;
use tocsin_store::probes::{LastRun, ProbeStatus, ProbeStore, Rollup, Span};
use tokio::sync::{Semaphore, mpsc};

use crate::Desk;
use crate::services::probes::{ProbeResult, Prober, Timeliness, run};
use crate::workers::store_view;

store_view! {
    /// What the probes' worker reads and writes: the probes' status and rollups, and its duty.
    ProbeWorkerStore: ProbeStore, InstanceStore
}

/// How often finished runs are written.
const FLUSH: Duration = Duration::from_secs(1);
/// Runs under way at once; more wait their turn (and count as late).
const AT_ONCE: usize = 2_048;
/// Finished runs kept while they cannot be written, before the oldest are dropped.
const BACKLOG: usize = 100_000;
/// How long the hourly and the daily rollups are kept.
const KEEP_HOURS: Duration = Duration::from_secs(48 * 3600);
const KEEP_DAYS: Duration = Duration::from_secs(90 * 86_400);
/// The origin of the events the worker writes.
pub const ORIGIN: &str = "probes";

/// Runs the plan's probes while this instance holds the duty, until the process ends.
pub async fn follow<S: ProbeWorkerStore + ?Sized>(store: Arc<S>, desk: Desk, log: EventLog, timeliness: Timeliness) {
    let mut said = false;
    loop {
        match store.take_duty(Duty::Probes).await {
            Ok(Some(lead)) => {
                said = false;
                lead_probes(&store, &desk, &log, &timeliness, lead).await;
            }
            Ok(None) => {
                if !said {
                    tracing::info!("another instance runs the probes; this one stands by");
                    said = true;
                }
                tokio::time::sleep(FLUSH * 20).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot ask for the lead of the probes");
                tokio::time::sleep(FLUSH * 20).await;
            }
        }
    }
}

/// One finished run.
struct Ran {
    probe: Arc<Probe>,
    result: ProbeResult,
    at: Timestamp,
}

/// The first time after `now` that `probe` is due: its interval's multiples, shifted by a
/// phase its id gives, so that the same probe keeps its time across restarts.
pub fn next_due(probe: &Probe, now: Timestamp) -> Timestamp {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let interval = i64::try_from(probe.interval_seconds * 1000).unwrap_or(i64::MAX);
    let phase =
        i64::try_from(BuildHasherDefault::<DefaultHasher>::default().hash_one(probe.id.as_str()) % (interval as u64))
            .unwrap_or(0);
    let ms = now.as_millisecond();
    let since = (ms - phase).rem_euclid(interval);
    Timestamp::from_millisecond(ms - since + interval).unwrap_or(now)
}

/// What the worker holds between writes.
#[derive(Default)]
struct Book {
    standing: HashMap<String, Standing>,
    finished: Vec<Ran>,
}

async fn lead_probes<S: ProbeWorkerStore + ?Sized>(
    store: &Arc<S>,
    desk: &Desk,
    log: &EventLog,
    timeliness: &Timeliness,
    mut lead: OnDuty,
) {
    let mut book = Book::default();
    match store.probe_status().await {
        Ok(stored) => book.standing = stored.into_iter().map(|s| (s.probe, s.standing)).collect(),
        Err(e) => tracing::warn!(error = %e, "cannot read where the probes stood; they start as up"),
    }
    let prober = Prober::default();
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    let (done, mut finished) = mpsc::unbounded_channel::<Ran>();
    let mut probes: Vec<Arc<Probe>> = Vec::new();
    let mut queue: BinaryHeap<Reverse<(Timestamp, usize)>> = BinaryHeap::new();
    let mut flush = tokio::time::interval(FLUSH);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    let mut followed: Option<Arc<tocsin_core::plan::Plan>> = None;
    let mut ids: HashSet<String> = HashSet::new();
    loop {
        // A new plan version's probes take over at once, each keeping its phase.
        let plan = desk.plan();
        if followed.as_ref().is_none_or(|f| !Arc::ptr_eq(f, &plan)) {
            if plan.probes().len() != probes.len() || plan.probes().iter().zip(&probes).any(|(a, b)| a != &**b) {
                probes = plan.probes().iter().cloned().map(Arc::new).collect();
                ids = probes.iter().map(|p| p.id.to_string()).collect();
                let now = Timestamp::now();
                queue = probes
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Reverse((next_due(p, now), i)))
                    .collect();
                tracing::info!(probes = probes.len(), "the probes' schedule follows the plan in force");
            }
            followed = Some(Arc::clone(&plan));
        }
        let wait = queue.peek().map_or(FLUSH, |Reverse((due, _))| {
            Duration::try_from(due.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO)
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                let now = Timestamp::now();
                while let Some(Reverse((due, i))) = queue.peek().copied() {
                    if due > now {
                        break;
                    }
                    queue.pop();
                    let probe = Arc::clone(&probes[i]);
                    queue.push(Reverse((next_due(&probe, due.max(now)), i)));
                    start(probe, due, &prober, &slots, &done, timeliness);
                }
            }
            Some(ran) = finished.recv() => {
                book.finished.push(ran);
                if book.finished.len() > BACKLOG {
                    let over = book.finished.len() - BACKLOG;
                    tracing::warn!(dropped = over, "probe runs could not be written for a while; the oldest are dropped");
                    book.finished.drain(..over);
                }
            }
            _ = flush.tick() => {
                write(&**store, log, &ids, &mut book).await;
                ticks += 1;
                if ticks.is_multiple_of(20) && !lead.held().await {
                    tracing::warn!("the lead of the probes was lost with its database connection");
                    return;
                }
                if ticks % 3600 == 1 {
                    expire(&**store, &plan).await;
                }
            }
        }
    }
}

/// Starts one run of `probe`, due at `due`, on a task of its own once a slot is free.
fn start(
    probe: Arc<Probe>,
    due: Timestamp,
    prober: &Prober,
    slots: &Arc<Semaphore>,
    done: &mpsc::UnboundedSender<Ran>,
    timeliness: &Timeliness,
) {
    let (prober, slots, done, timeliness) = (prober.clone(), Arc::clone(slots), done.clone(), timeliness.clone());
    tokio::spawn(async move {
        let Ok(_slot) = slots.acquire_owned().await else { return };
        let at = Timestamp::now();
        let late = at.duration_since(due).as_millis().max(0);
        timeliness.ran(u64::try_from(late).unwrap_or(0));
        let result = run(&probe, &prober).await;
        let _ = done.send(Ran { probe, result, at });
    });
}

/// Writes the runs finished since the last write: their events and alerts to the log,
/// then where the probes stand and the rollups. Runs whose events cannot be written stay
/// for the next write, their probes standing as before.
async fn write<S: ProbeWorkerStore + ?Sized>(store: &S, log: &EventLog, ids: &HashSet<String>, book: &mut Book) {
    if book.finished.is_empty() {
        return;
    }
    let received = Timestamp::now();
    let origin: Arc<str> = Arc::from(ORIGIN);
    let mut before: HashMap<String, Standing> = HashMap::new();
    let mut events = Vec::new();
    let mut status: HashMap<String, ProbeStatus> = HashMap::new();
    let mut rollups: HashMap<(String, Span, Timestamp), Rollup> = HashMap::new();
    for ran in &book.finished {
        let id = ran.probe.id.to_string();
        // A probe the plan dropped meanwhile is not counted.
        if !ids.contains(&id) {
            continue;
        }
        let standing = book.standing.entry(id.clone()).or_default();
        before.entry(id.clone()).or_insert_with(|| standing.clone());
        let turn = standing.record(&ran.probe, ran.result.ok, ran.at);
        if !ran.result.ok || turn.is_some() {
            let event = Event::Probe(ProbeEvent {
                at: ran.at,
                probe: id.clone(),
                ok: ran.result.ok,
                latency_ms: ran.result.latency_ms,
                detail: Some(ran.result.detail.clone()).filter(|d| !d.is_empty()),
                error: ran.result.error.clone(),
            });
            events.push(NewEvent::shared(event, Arc::clone(&origin), received));
        }
        if let Some(turn) = turn {
            let why = ran.result.error.as_deref().unwrap_or("");
            let fired = alert(&ran.probe, turn, why, ran.at);
            let delivery = AlertEvent::delivery(SOURCE, Via::Probe, vec![fired], ran.at);
            events.push(NewEvent::shared(delivery, Arc::clone(&origin), received));
            match turn {
                Turn::Down => tracing::warn!(probe = %id, why, "a probe is down"),
                Turn::Up => tracing::info!(probe = %id, "a probe is up again"),
            }
        }
        status.insert(
            id.clone(),
            ProbeStatus {
                probe: id.clone(),
                standing: standing.clone(),
                last: LastRun {
                    at: ran.at,
                    ok: ran.result.ok,
                    latency_ms: ran.result.latency_ms,
                    detail: ran.result.detail.clone(),
                    error: ran.result.error.clone(),
                },
            },
        );
        for span in [Span::Hour, Span::Day] {
            let start = span.start_of(ran.at);
            let r = rollups.entry((id.clone(), span, start)).or_insert_with(|| Rollup {
                probe: id.clone(),
                span,
                start,
                runs: 0,
                ok: 0,
                latency_sum_ms: 0,
                latency_max_ms: 0,
            });
            r.runs += 1;
            r.ok += u64::from(ran.result.ok);
            r.latency_sum_ms += ran.result.latency_ms;
            r.latency_max_ms = r.latency_max_ms.max(ran.result.latency_ms);
        }
    }
    if let Err(e) = log.append(events).await {
        tracing::warn!(error = %e, runs = book.finished.len(), "the probes' events could not be written; trying again");
        book.standing.extend(before);
        return;
    }
    book.finished.clear();
    let status: Vec<ProbeStatus> = status.into_values().collect();
    let rollups: Vec<Rollup> = rollups.into_values().collect();
    if let Err(e) = store.save_probe_runs(&status, &rollups).await {
        tracing::warn!(error = %e, "where the probes stand could not be stored; their counts miss these runs");
    }
}

/// Rollups past their keeping go, and the status of probes the plan no longer has.
async fn expire<S: ProbeWorkerStore + ?Sized>(store: &S, plan: &tocsin_core::plan::Plan) {
    let keep: Vec<String> = plan.probes().iter().map(|p| p.id.to_string()).collect();
    let now = Timestamp::now();
    for (span, kept) in [(Span::Hour, KEEP_HOURS), (Span::Day, KEEP_DAYS)] {
        let cutoff = now - jiff::SignedDuration::try_from(kept).unwrap_or(jiff::SignedDuration::ZERO);
        if let Err(e) = store.expire_probe_data(span, cutoff, &keep).await {
            tracing::warn!(error = %e, "old probe rollups could not be expired");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_keeps_its_phase_and_probes_spread_over_their_interval() {
        let source = format!(
            "{}{}",
            tocsin_core::plan::presets::FOUR_TIER.source,
            (0..200)
                .map(|i| format!(
                    "\n[[probe]]\nid = \"p{i}\"\nname = \"p{i}\"\nkind = \"tcp\"\ntarget = \"h:1\"\ninterval = \"60s\"\n"
                ))
                .collect::<String>()
        );
        let plan = tocsin_core::plan::Plan::parse(&source).unwrap();
        let now: Timestamp = "2026-12-04T10:00:00.250Z".parse().unwrap();
        let mut seconds = [0u32; 60];
        for probe in plan.probes() {
            let due = next_due(probe, now);
            assert!(due > now && due <= now + jiff::SignedDuration::from_secs(60));
            // The same phase from any time: the next after `due` is one interval on.
            assert_eq!(next_due(probe, due), due + jiff::SignedDuration::from_secs(60));
            seconds[(due.as_second() % 60) as usize] += 1;
        }
        // 200 probes over 60 seconds: no second holds a crowd.
        assert!(seconds.iter().all(|n| *n <= 12), "{seconds:?}");
        assert!(seconds.iter().filter(|n| **n > 0).count() >= 45, "{seconds:?}");
    }
}
