//! The HTTP server: the API under `/api/v1`, health checks and security headers.
//!
//! `serve` takes a bound listener and a shutdown signal, so tests run the real server on
//! port 0 against a fresh database.

mod admin;
mod alertmanager;
mod api;
mod auth;
mod compat;
pub mod error;
mod events;
mod heartbeat;
pub mod openapi;
mod ops;
mod pagerduty;
mod plans;
mod ratelimit;
mod sentry;
mod sentry_hooks;
mod web;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tocsin_core::incident::IncidentNumber;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::Desk;
use crate::identity::Identity;
use crate::pipeline::Pipeline;

pub use auth::SESSION_COOKIE;

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the server is reached.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// The address people use, like `https://tocsin.example.com`. With `https`, cookies
    /// are marked Secure and responses carry HSTS.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed for the client's address.
    pub trusted_proxies: Vec<IpAddr>,
}

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
    desk: Desk,
    identity: Identity,
    integrations: crate::integrations::Integrations,
    pipeline: Pipeline,
    limiter: crate::ratelimit::Limiter,
    config: ServerConfig,
    /// The parts of incident documents that only change with the incident.
    rendered: crate::read_cache::Memo<(IncidentNumber, u64), Arc<[String; 3]>>,
    /// Incidents that changed, for live pages.
    changes: broadcast::Sender<IncidentNumber>,
    ready: AtomicBool,
    started_at: tocsin_core::Timestamp,
    /// Turns true when the server stops, to end the live streams that would hold it open.
    stopping: watch::Sender<bool>,
}

impl AppState {
    pub fn new(desk: Desk, identity: Identity, pipeline: Pipeline, config: ServerConfig) -> Self {
        let (changes, _) = broadcast::channel(256);
        let integrations = crate::integrations::Integrations::new(Arc::clone(desk.store()));
        integrations.flush_every(std::time::Duration::from_secs(2));
        AppState(Arc::new(Shared {
            desk,
            identity,
            integrations,
            pipeline,
            limiter: crate::ratelimit::Limiter::default(),
            config,
            rendered: crate::read_cache::Memo::new(1_024),
            changes,
            ready: AtomicBool::new(true),
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

    pub fn integrations(&self) -> &crate::integrations::Integrations {
        &self.0.integrations
    }

    /// The fixed parts of an incident's document ([`crate::model::IncidentDoc::fixed_json`]),
    /// serialized once per version of the incident.
    fn incident_parts(&self, view: &crate::IncidentView) -> Arc<[String; 3]> {
        let key = (view.incident.number, view.incident.version);
        self.0.rendered.get(&key, 0).unwrap_or_else(|| {
            let parts = Arc::new(crate::model::IncidentDoc::fixed_json(view, &self.0.desk.plan()));
            self.0.rendered.put(key, 0, Arc::clone(&parts));
            parts
        })
    }

    fn changed(&self, number: IncidentNumber) {
        // Nobody listening is fine.
        let _ = self.0.changes.send(number);
    }

    /// Marks the server as shutting down, so `/readyz` turns away new traffic.
    pub fn stop_accepting(&self) {
        self.0.ready.store(false, Ordering::SeqCst);
        self.0.stopping.send_replace(true);
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest(
            "/api/v1",
            api::routes()
                .merge(admin::routes())
                .merge(events::routes())
                .merge(plans::routes())
                .merge(ratelimit::routes()),
        )
        .merge(web::routes())
        .merge(ops::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(alertmanager::routes())
        .merge(pagerduty::routes())
        .merge(sentry::routes())
        .merge(sentry_hooks::routes())
        .merge(heartbeat::routes().layer(DefaultBodyLimit::max(BODY_LIMIT)))
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
    let stopping = state.clone();
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.stop_accepting();
        })
        .await?;
    if let Err(e) = state.integrations().flush().await {
        tracing::error!(error = %e, "cannot store the integrations' counts");
    }
    Ok(())
}
