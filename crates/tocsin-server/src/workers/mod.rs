//! What runs behind the requests: the detectors following the event log, expiry of old
//! events, and the delivery of notifications from the outbox. The log's writer indexes the
//! login trail itself.

pub mod actions;
pub mod alerts;
pub mod audit;
pub mod bot;
pub mod channels;
pub mod delivery;
pub mod detection;
pub mod notifier;
pub mod probes;

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tocsin_core::Timestamp;
use tocsin_store::event_log::{EventLog, EventLogConfig};
use tocsin_store::events::EventStore;
use tocsin_store::{Store, StoreError};

use crate::Desk;
use crate::app::Workers;

/// How long events are kept and how the log's writer is sized.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub retention: SignedDuration,
    pub log: EventLogConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            retention: SignedDuration::from_hours(90 * 24),
            log: EventLogConfig::default(),
        }
    }
}

pub(crate) use tocsin_store::store_view;

/// How often retention runs.
const EXPIRY: Duration = Duration::from_secs(3600);

/// The event log and the tasks that follow it. Cloning shares them.
#[derive(Clone, Debug)]
pub struct Pipeline {
    log: EventLog,
    alerts: alerts::AlertProgress,
    probes: crate::services::probes::Timeliness,
}

impl Pipeline {
    /// Starts the log's writer, and the workers that follow it among `workers`; links in
    /// notifications point to `public_url`.
    pub async fn start(
        store: &Arc<dyn Store>,
        desk: Desk,
        config: PipelineConfig,
        public_url: Option<String>,
        workers: &mut Workers,
    ) -> Result<Self, StoreError> {
        let (log, fed) = EventLog::start_with_feed(Arc::clone(store), config.log).await?;
        let worker = format!("{}-{}", std::process::id(), Timestamp::now().as_millisecond());
        let channels = delivery::plan_channels(desk.clone());
        let queued = crate::wake::Wake::default();
        let url = public_url;
        workers.spawn(
            "delivery",
            delivery::work(Arc::clone(store) as _, desk.clone(), channels, worker, queued.clone()),
        );
        workers.spawn("plan", follow_plan(desk.clone()));
        workers.spawn(
            "notifier",
            notifier::follow(Arc::clone(store), desk.clone(), url.clone(), queued),
        );
        // The bot approves runs through the same door as the API.
        let actions = Arc::new(crate::services::actions::Actions::new(
            desk.clone(),
            crate::services::blocks::Blocks::new(Arc::clone(store) as _),
            crate::services::identity::Identity::new(Arc::clone(store)),
            crate::services::switches::Switches::new(Arc::clone(store) as _),
        ));
        workers.spawn("bot", bot::follow(Arc::clone(store), desk.clone(), actions, url));
        workers.spawn("seal", crate::services::seal::follow(desk.clone()));
        let progress = alerts::AlertProgress::default();
        workers.spawn(
            "detectors",
            detection::follow(Arc::clone(store), desk.clone(), fed, progress.clone()),
        );
        workers.spawn("retention", expire(Arc::clone(store) as _, config.retention));
        workers.spawn("audit", audit::follow(Arc::clone(store), desk.clone()));
        let timeliness = crate::services::probes::Timeliness::default();
        workers.spawn(
            "probes",
            probes::follow(Arc::clone(store), desk, log.clone(), timeliness.clone()),
        );
        Ok(Pipeline {
            log,
            alerts: progress,
            probes: timeliness,
        })
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// How far the stored alerts are up to date with the log.
    pub fn alerts(&self) -> &alerts::AlertProgress {
        &self.alerts
    }

    /// How late the probes' runs start, on this instance.
    pub fn probes(&self) -> &crate::services::probes::Timeliness {
        &self.probes
    }
}

/// How often the database is asked whether another plan version was applied.
pub const PLAN_POLL: Duration = Duration::from_secs(2);

/// Follows the database's active plan: a version applied elsewhere (the CLI, another
/// instance) is in force here within [`PLAN_POLL`], and the incidents under way adopt it.
async fn follow_plan(desk: Desk) {
    // The applier moves the incidents itself; this finishes what it may have left.
    let mut adopted = true;
    loop {
        tokio::time::sleep(PLAN_POLL).await;
        match desk.refresh_plan().await {
            Ok(false) => {}
            Ok(true) => {
                let active = desk.active_plan();
                tracing::info!(
                    version = active.version.version,
                    digest = %active.version.digest,
                    source = %active.version.source,
                    "plan version {} is in force now",
                    active.version.version
                );
                adopted = false;
            }
            Err(e) => tracing::error!(error = %e, "cannot read the active plan; following the one read before"),
        }
        if !adopted {
            match desk.adopt_plan(&detection::actor(), Timestamp::now()).await {
                Ok(_) => adopted = true,
                Err(e) => tracing::error!(error = %e, "the incidents under way could not adopt the plan; trying again"),
            }
        }
    }
}

async fn expire(store: Arc<dyn EventStore>, retention: SignedDuration) {
    loop {
        let cutoff = Timestamp::now() - retention;
        let mut gone = 0;
        loop {
            match store.expire_events(cutoff, 10_000).await {
                Ok(0) => break,
                Ok(n) => gone += n,
                Err(e) => {
                    tracing::warn!(error = %e, "old events could not be expired");
                    break;
                }
            }
        }
        if gone > 0 {
            tracing::info!(gone, %cutoff, "expired old events");
        }
        tokio::time::sleep(EXPIRY).await;
    }
}
