//! The HTTP server: the API under `/api/v1`, health checks and security headers.
//!
//! `serve` takes a bound listener and a shutdown signal, so tests run the real server on
//! port 0 against a fresh database.

mod api;
mod auth;
mod crowdsec;
pub mod error;
pub mod openapi;
mod ops;
mod senders;
mod slack;
mod web;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tocsin_core::incident::IncidentNumber;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast, watch};

use crate::Desk;
use crate::services::identity::Identity;
use crate::workers::Pipeline;

pub use auth::SESSION_COOKIE;

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the server is reached.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The address people use, like `https://tocsin.example.com`. With `https`, cookies
    /// are marked Secure and responses carry HSTS.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed for the client's address.
    pub trusted_proxies: Vec<IpAddr>,
    /// How long a client has to send a request's headers, and how long a kept-alive
    /// connection may wait idle for its next request.
    pub header_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            public_url: None,
            trusted_proxies: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl ServerConfig {
    pub fn behind_tls(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

/// What every request may reach, once authorized.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    /// The database, for the reads and the few changes the authorization types allow;
    /// the rest goes through the services.
    store: Arc<dyn tocsin_store::Store>,
    desk: Desk,
    identity: Identity,
    integrations: crate::services::integrations::Integrations,
    blocks: crate::services::blocks::Blocks,
    switches: crate::services::switches::Switches,
    evidence: crate::services::evidence::Locker,
    actions: Arc<crate::services::actions::Actions>,
    approval_links: crate::services::approval_links::ApprovalLinks,
    notices: crate::services::notices::Notices,
    probes: crate::services::probes::Probes,
    audits: crate::services::audit::Audits,
    /// Signed Slack requests already taken.
    slack_replays: slack::Replays,
    pipeline: Pipeline,
    limiter: crate::services::ratelimit::Limiter,
    config: ServerConfig,
    /// The parts of incident documents that only change with the incident.
    rendered: crate::services::read_cache::Memo<(IncidentNumber, u64), Arc<[String; 3]>>,
    /// Incidents that changed, for live pages.
    changes: broadcast::Sender<IncidentNumber>,
    ready: AtomicBool,
    /// A worker that failed, which makes the server not ready.
    failed: std::sync::Mutex<Option<&'static str>>,
    started_at: tocsin_core::Timestamp,
    /// Turns true when the server stops, to end the live streams that would hold it open.
    stopping: watch::Sender<bool>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn tocsin_store::Store>,
        desk: Desk,
        identity: Identity,
        pipeline: Pipeline,
        config: ServerConfig,
    ) -> Self {
        let (changes, _) = broadcast::channel(256);
        let integrations = crate::services::integrations::Integrations::new(Arc::clone(&store));
        let blocks = crate::services::blocks::Blocks::new(Arc::clone(&store) as _);
        let switches = crate::services::switches::Switches::new(Arc::clone(&store) as _);
        let evidence = crate::services::evidence::Locker::new(Arc::clone(&store));
        let actions = Arc::new(crate::services::actions::Actions::new(
            desk.clone(),
            blocks.clone(),
            identity.clone(),
            switches.clone(),
        ));
        let approval_links =
            crate::services::approval_links::ApprovalLinks::new(Arc::clone(&store) as _, Arc::clone(&actions));
        let notices = crate::services::notices::Notices::new(desk.clone(), Arc::clone(&store));
        let probes =
            crate::services::probes::Probes::new(desk.clone(), Arc::clone(&store) as _, pipeline.probes().clone());
        let audits = crate::services::audit::Audits::new(desk.clone(), Arc::clone(&store));
        AppState(Arc::new(Shared {
            store,
            desk,
            identity,
            integrations,
            blocks,
            switches,
            evidence,
            actions,
            approval_links,
            notices,
            probes,
            audits,
            slack_replays: slack::Replays::default(),
            pipeline,
            limiter: crate::services::ratelimit::Limiter::default(),
            config,
            rendered: crate::services::read_cache::Memo::new(1_024),
            changes,
            ready: AtomicBool::new(true),
            failed: std::sync::Mutex::new(None),
            started_at: tocsin_core::Timestamp::now(),
            stopping: watch::channel(false).0,
        }))
    }

    fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    fn identity(&self) -> &Identity {
        &self.0.identity
    }

    pub fn integrations(&self) -> &crate::services::integrations::Integrations {
        &self.0.integrations
    }

    pub fn blocks(&self) -> &crate::services::blocks::Blocks {
        &self.0.blocks
    }

    pub fn evidence(&self) -> &crate::services::evidence::Locker {
        &self.0.evidence
    }

    pub fn switches(&self) -> &crate::services::switches::Switches {
        &self.0.switches
    }

    pub fn actions(&self) -> &Arc<crate::services::actions::Actions> {
        &self.0.actions
    }

    pub fn approval_links(&self) -> &crate::services::approval_links::ApprovalLinks {
        &self.0.approval_links
    }

    pub fn notices(&self) -> &crate::services::notices::Notices {
        &self.0.notices
    }

    pub fn probes(&self) -> &crate::services::probes::Probes {
        &self.0.probes
    }

    pub fn audits(&self) -> &crate::services::audit::Audits {
        &self.0.audits
    }

    /// The fixed parts of an incident's document ([`crate::documents::IncidentDoc::fixed_json`]),
    /// serialized once per version of the incident.
    fn incident_parts(&self, view: &crate::IncidentView) -> Arc<[String; 3]> {
        let key = (view.incident.number, view.incident.version);
        self.0.rendered.get(&key, 0).unwrap_or_else(|| {
            let parts = Arc::new(crate::documents::IncidentDoc::fixed_json(view, &self.0.desk.plan()));
            self.0.rendered.put(key, 0, Arc::clone(&parts));
            parts
        })
    }

    fn changed(&self, number: IncidentNumber) {
        // Nobody listening is fine.
        let _ = self.0.changes.send(number);
    }

    /// Marks the server as shutting down, so `/readyz` turns away new traffic.
    /// A worker failed: the server no longer says it is ready.
    pub fn worker_failed(&self, name: &'static str) {
        *self.0.failed.lock().expect("not poisoned") = Some(name);
    }

    /// The worker that failed, if one did.
    fn failed_worker(&self) -> Option<&'static str> {
        *self.0.failed.lock().expect("not poisoned")
    }

    pub fn stop_accepting(&self) {
        self.0.ready.store(false, Ordering::SeqCst);
        self.0.stopping.send_replace(true);
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::routes())
        .merge(web::routes())
        .merge(ops::routes())
        .merge(crowdsec::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(
            Router::new()
                .route("/slack/actions", axum::routing::post(slack::actions))
                .route("/slack/commands", axum::routing::post(slack::commands))
                .layer(DefaultBodyLimit::max(slack::BODY_MAX)),
        )
        .merge(senders::routes())
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::security_headers,
        ))
        .layer(axum::middleware::from_fn(ops::access_log))
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let config = state.config().clone();
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (closing, closed) = watch::channel(false);
    let mut served = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let turn = tokio::select! {
            turn = Arc::clone(&connections).acquire_owned() => turn.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it was taken.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), request.map(axum::body::Body::new))
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .with_upgrades();
        let mut closed = closed.clone();
        served.spawn(async move {
            let _turn = turn;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closed.changed() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
        // Finished connections are let go as others come.
        while served.try_join_next().is_some() {}
    }
    drop(listener);
    state.stop_accepting();
    let _ = closing.send(true);
    while served.join_next().await.is_some() {}
    if let Err(e) = state.integrations().flush().await {
        tracing::error!(error = %e, "cannot store the integrations' counts");
    }
    Ok(())
}
