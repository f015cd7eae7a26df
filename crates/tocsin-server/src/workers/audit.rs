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
    let by = Actor::parse("schedule").expect("a valid name");
    let mut said = false;
    loop {
        tokio::time::sleep(LOOK).await;
        let plan = desk.plan();
        let Some(config) = plan.daily_audit() else { continue };
        let now = Timestamp::now();
        let due_at = last_due(config.at_minute, plan.calendar().zone(), now);
        if !due(&*store, due_at, watching_since).await {
            continue;
        }
        let lead = match store.take_duty(Duty::Audit).await {
            Ok(Some(lead)) => lead,
            Ok(None) => {
                if !said {
                    tracing::info!("another instance runs the daily audit; this one stands by");
                    said = true;
                }
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot ask for the lead of the daily audit");
                continue;
            }
        };
        said = false;
        // Another instance may have run it while this one waited for the duty.
        if !due(&*store, due_at, watching_since).await {
            continue;
        }
        if let Err(e) = run(&*store, &plan, &client, &by, now).await {
            tracing::error!(error = %e, "the daily audit could not be kept; it is tried again later");
            drop(lead);
            tokio::time::sleep(RETRY).await;
            continue;
        }
        drop(lead);
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
