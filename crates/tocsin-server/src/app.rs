//! The composition root: the one place where tocsin's services are put together and its
//! workers started under supervision. `tocsin serve` and the test server both build the
//! application here, and serving it stops its workers too.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use tocsin_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::task::{Id, JoinSet};

use crate::Desk;
use crate::http::{self, AppState, ServerConfig};
use crate::services::identity::Identity;
use crate::workers::{Pipeline, PipelineConfig};

/// How often the integrations' counts are stored.
const COUNTS_EVERY: Duration = Duration::from_secs(2);

/// How the application is reached and what its workers keep.
#[derive(Clone, Debug, Default)]
pub struct AppSettings {
    pub server: ServerConfig,
    pub pipeline: PipelineConfig,
}

/// The services and the workers behind them, ready to serve.
#[derive(Debug)]
pub struct App {
    state: AppState,
    workers: Workers,
}

impl App {
    /// Starts the event log and every worker on the current runtime, and builds what the
    /// requests reach.
    /// Each worker is handed only the store traits it needs.
    pub async fn build(
        store: Arc<dyn Store>,
        desk: Desk,
        identity: Identity,
        settings: AppSettings,
    ) -> Result<App, StoreError> {
        let mut workers = Workers::default();
        let pipeline = Pipeline::start(
            &store,
            desk.clone(),
            settings.pipeline,
            settings.server.public_url.clone(),
            &mut workers,
        )
        .await?;
        let state = AppState::new(Arc::clone(&store), desk, identity, pipeline, settings.server);
        workers.spawn(
            "actions",
            crate::workers::actions::follow(store, Arc::clone(state.actions())),
        );
        workers.spawn(
            "integration counts",
            state.integrations().clone().store_counts_every(COUNTS_EVERY),
        );
        Ok(App { state, workers })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops the workers. A worker that fails
    /// (panics) is reported, and the server says it is not ready, so that whatever runs
    /// it can start it again.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App { state, mut workers } = self;
        let served = http::serve(listener, state.clone(), shutdown);
        tokio::pin!(served);
        loop {
            tokio::select! {
                result = &mut served => {
                    workers.stop().await;
                    return result;
                }
                (name, failure) = workers.next_stopped() => match failure {
                    None => tracing::debug!(worker = name, "a worker finished: it has nothing to do here"),
                    Some(failure) => {
                        tracing::error!(worker = name, %failure, "a worker failed; this server is not ready any more");
                        state.worker_failed(name);
                    }
                },
            }
        }
    }
}

/// The workers of one application, each a task with a name.
#[derive(Debug, Default)]
pub struct Workers {
    set: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl Workers {
    pub fn spawn(&mut self, name: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        let task = self.set.spawn(work);
        self.names.insert(task.id(), name);
    }

    /// The next worker to stop, and why if it failed; never returns while none stops.
    async fn next_stopped(&mut self) -> (&'static str, Option<String>) {
        let Some(stopped) = self.set.join_next_with_id().await else {
            return std::future::pending().await;
        };
        let (id, failure) = match stopped {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e.to_string())),
        };
        (self.names.remove(&id).unwrap_or("unknown"), failure)
    }

    /// Stops every worker and waits until they have.
    async fn stop(&mut self) {
        self.set.shutdown().await;
        self.names.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_worker_is_named_and_one_that_finishes_is_not_a_failure() {
        let mut workers = Workers::default();
        workers.spawn("quiet", async {});
        workers.spawn("broken", async { panic!("on purpose") });
        workers.spawn("forever", std::future::pending());
        let mut stopped = vec![workers.next_stopped().await, workers.next_stopped().await];
        stopped.sort();
        assert_eq!(stopped[0].0, "broken");
        assert!(
            stopped[0].1.as_deref().is_some_and(|f| f.contains("panicked")),
            "{stopped:?}"
        );
        assert_eq!(stopped[1], ("quiet", None));
        workers.stop().await;
        assert!(workers.set.is_empty());
    }
}
