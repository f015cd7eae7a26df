//! The daily security audit's schedule: once a day at the plan's time (`[daily_audit]`'s
//! `at`, in the organization's time zone), on the instance that holds the audit's duty.
//! An audit missed while tocsin was down runs when it is back; a new server waits for the
//! first time to come.

use std::sync::Arc;
use std::time::Duration;

use tocsin_core::Timestamp;
use tocsin_core::daily_audit::{is_due, last_due};
use tocsin_core::incident::Actor;
use tocsin_store::InstanceStore;
use tocsin_store::duty::Duty;

use crate::Desk;
use crate::services::audit::{AuditStore, client, run};
use crate::workers::store_view;

store_view! {
    /// What the audit's schedule needs: the audit's own store and its duty.
    AuditWorkerStore: AuditStore, InstanceStore
}

/// How often the schedule looks whether the audit is due.
const LOOK: Duration = Duration::from_secs(30);
/// How long after a failed run it is tried again.
const RETRY: Duration = Duration::from_secs(15 * 60);

/// Runs the audit when it is due, while this instance holds the duty.
pub async fn follow<S: AuditWorkerStore + ?Sized>(store: Arc<S>, desk: Desk) {
    let watching_since = Timestamp::now();
    let client = client();
    let mut said = false;
    loop {
        tokio::time::sleep(LOOK).await;
        match step(&*store, &desk, &client, watching_since, Timestamp::now()).await {
            Step::Ran(_) | Step::NotDue => said = false,
            Step::Elsewhere => {
                if !said {
                    tracing::info!("another instance runs the daily audit; this one stands by");
                    said = true;
                }
            }
            Step::Failed => tokio::time::sleep(RETRY).await,
        }
    }
}

/// What one look at the schedule did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The audit ran; its report's id.
    Ran(i64),
    /// It is not due (or the plan has no `[daily_audit]`).
    NotDue,
    /// Another instance holds the duty.
    Elsewhere,
    /// It was due and could not be kept; said in the log.
    Failed,
}

/// Runs the audit at `now` if it is due, as the schedule does: `watching_since` is when
/// this server started to watch the time.
pub async fn step<S: AuditWorkerStore + ?Sized>(
    store: &S,
    desk: &Desk,
    client: &reqwest::Client,
    watching_since: Timestamp,
    now: Timestamp,
) -> Step {
    let plan = desk.plan();
    let Some(config) = plan.daily_audit() else {
        return Step::NotDue;
    };
    let due_at = last_due(config.at_minute, plan.calendar().zone(), now);
    if !due(store, due_at, watching_since).await {
        return Step::NotDue;
    }
    let lead = match store.take_duty(Duty::Audit).await {
        Ok(Some(lead)) => lead,
        Ok(None) => return Step::Elsewhere,
        Err(e) => {
            tracing::error!(error = %e, "cannot ask for the lead of the daily audit");
            return Step::Failed;
        }
    };
    // Another instance may have run it while this one waited for the duty.
    if !due(store, due_at, watching_since).await {
        return Step::NotDue;
    }
    let by = Actor::parse("schedule").expect("a valid name");
    let ran = run(store, &plan, client, &by, now).await;
    drop(lead);
    match ran {
        Ok((id, _)) => Step::Ran(id),
        Err(e) => {
            tracing::error!(error = %e, "the daily audit could not be kept; it is tried again later");
            Step::Failed
        }
    }
}

/// Whether the audit due at `due_at` has not run yet.
async fn due<S: AuditWorkerStore + ?Sized>(store: &S, due_at: Timestamp, watching_since: Timestamp) -> bool {
    match store.audit_reports(None, 1).await {
        Ok(reports) => is_due(due_at, reports.first().map(|r| r.started_at), watching_since),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read when the daily audit last ran");
            false
        }
    }
}
