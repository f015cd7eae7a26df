//! The action worker: while this instance holds the actions duty, it starts the runs that
//! are ready, records what each came to, lets unapproved requests expire, and deals with
//! runs a stopped instance left running (an idempotent one runs again; any other is
//! recorded as cut short, never run twice). A run is started on the timeline before
//! anything is sent.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tocsin_core::Timestamp;
use tocsin_core::incident::{ActionRun, Command, Incident, IncidentNumber, RunCommand, RunState};
use tocsin_store::duty::{Duty, OnDuty};

use tocsin_store::{IncidentStore, InstanceStore};

use crate::DeskError;
use crate::services::actions::Actions;
use crate::workers::detection::actor;
use crate::workers::store_view;

/// How often the database is asked for runs due, beside the desk's rings: what the CLI
/// or another instance approved starts within this.
pub const POLL: Duration = Duration::from_millis(250);
/// Runs carried out at once.
const AT_ONCE: usize = 16;

store_view! {
    /// What the action worker reads: the incidents with runs due, and its duty.
    ActionStore: IncidentStore, InstanceStore
}

/// Runs this instance has started and not yet finished.
type InFlight = Arc<Mutex<HashSet<(IncidentNumber, u32)>>>;

/// Carries out the runs of the plan's actions while this instance holds the duty, until
/// the process ends.
pub async fn follow<S: ActionStore + ?Sized>(store: Arc<S>, actions: Arc<Actions>) {
    let mut said = false;
    loop {
        let lead = match store.take_duty(Duty::Actions).await {
            Ok(Some(lead)) => lead,
            Ok(None) => {
                if !said {
                    tracing::info!("another instance carries out the actions; this one stands by");
                    said = true;
                }
                tokio::time::sleep(POLL * 20).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot ask for the lead of the actions");
                tokio::time::sleep(POLL * 20).await;
                continue;
            }
        };
        lead_runs(&*store, &actions, lead).await;
    }
}

async fn lead_runs<S: ActionStore + ?Sized>(store: &S, actions: &Arc<Actions>, mut lead: OnDuty) {
    let in_flight: InFlight = Arc::default();
    let slots = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let mut changes = actions.desk().listen();
    let mut checked = tokio::time::Instant::now();
    loop {
        if let Err(e) = step(store, actions, &in_flight, &slots, Timestamp::now()).await {
            tracing::error!(error = %e, "the action worker could not look at the runs due; trying again");
        }
        changes.wait(POLL).await;
        if checked.elapsed() > POLL * 20 {
            checked = tokio::time::Instant::now();
            if !lead.held().await {
                tracing::warn!("the lead of the actions was lost with its database connection");
                return;
            }
        }
    }
}

/// One look at every incident with runs due: starts what is ready (each run on its own
/// task), expires what waited too long, and settles what a stopped instance left running.
pub async fn step<S: ActionStore + ?Sized>(
    store: &S,
    actions: &Arc<Actions>,
    in_flight: &InFlight,
    slots: &Arc<tokio::sync::Semaphore>,
    now: Timestamp,
) -> Result<(), DeskError> {
    for number in store.runs_due(now).await? {
        let view = match actions.desk().incident(number).await {
            Ok(view) => view,
            Err(DeskError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let plan = actions.desk().plan();
        for run in &view.incident.runs {
            let key = (number, run.number);
            if in_flight.lock().expect("not poisoned").contains(&key) {
                continue;
            }
            if !run.state.is_over() && plan.action(run.action.as_str()).is_none() {
                let why = format!("the plan in force has no action {} any more", run.action);
                settle(actions, number, RunCommand::Abandon { run: run.number, why }, now).await;
                continue;
            }
            match run.state {
                RunState::AwaitingApproval if run.expires_at.is_some_and(|end| end <= now) => {
                    settle(actions, number, RunCommand::Expire { run: run.number }, now).await;
                }
                RunState::Running => {
                    // Left running by an instance that stopped.
                    let idempotent = plan.action(run.action.as_str()).is_some_and(|a| a.idempotent);
                    if idempotent {
                        start(actions, &view.incident, run, in_flight, slots, now).await;
                    } else {
                        tracing::warn!(incident = %number, run = run.number, "a run was cut short by a stop; it is not run again");
                        settle(actions, number, RunCommand::Interrupted { run: run.number }, now).await;
                    }
                }
                RunState::Ready if run.next_at.is_none_or(|at| at <= now) => {
                    start(actions, &view.incident, run, in_flight, slots, now).await;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Applies a command of tocsin's own; a refusal means another step got there first.
async fn settle(actions: &Actions, number: IncidentNumber, command: RunCommand, now: Timestamp) -> Option<Incident> {
    match actions
        .desk()
        .act(number, &Command::Run(command), &actor(), None, now)
        .await
    {
        Ok(changed) => Some(changed.incident),
        Err(DeskError::Rejected(why)) => {
            tracing::debug!(incident = %number, "{why}");
            None
        }
        Err(e) => {
            tracing::error!(incident = %number, error = %e, "a run could not be recorded");
            None
        }
    }
}

/// Records the start, then carries the run out on a task of its own and records its end.
async fn start(
    actions: &Arc<Actions>,
    incident: &Incident,
    run: &ActionRun,
    in_flight: &InFlight,
    slots: &Arc<tokio::sync::Semaphore>,
    now: Timestamp,
) {
    let Ok(slot) = Arc::clone(slots).try_acquire_owned() else {
        // Busy: the run stays ready for the next look.
        return;
    };
    let number = incident.number;
    let Some(started) = settle(actions, number, RunCommand::Start { run: run.number }, now).await else {
        return;
    };
    let Some(run) = started.run(run.number).cloned() else {
        return;
    };
    // Started, so the plan in force has the action.
    let Some(def) = actions.desk().plan().action(run.action.as_str()).cloned() else {
        return;
    };
    let key = (number, run.number);
    in_flight.lock().expect("not poisoned").insert(key);
    let actions = Arc::clone(actions);
    let in_flight = Arc::clone(in_flight);
    tokio::spawn(async move {
        let _slot = slot;
        let outcome = actions.execute(&started, &run, &def).await;
        tracing::info!(incident = %number, run = run.number, action = %run.action, ok = outcome.ok, "{}", outcome.summary);
        // The end is recorded whatever happens to the desk meanwhile, or the run stays
        // running and the next leader settles it.
        for attempt in 0..5u64 {
            let finish = RunCommand::Finish {
                run: run.number,
                outcome: outcome.clone(),
            };
            match actions
                .desk()
                .act(number, &Command::Run(finish), &actor(), None, Timestamp::now())
                .await
            {
                Ok(_) | Err(DeskError::Rejected(_)) => break,
                Err(e) => {
                    tracing::error!(incident = %number, run = run.number, error = %e, "the end of a run could not be recorded; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
                }
            }
        }
        in_flight.lock().expect("not poisoned").remove(&key);
    });
}
