//! A real tocsin server on a free loopback port over a fresh database, for tests of this
//! and other crates (feature `test-support`).
#![allow(clippy::unwrap_used, reason = "test support: a failure here is a failed test")]

use std::sync::Arc;

use tocsin_core::Timestamp;
use tocsin_core::identity::{Role, Scopes};
use tocsin_core::incident::Actor;
use tocsin_core::plan::presets;
use tocsin_store::Store;
use tocsin_store::testing::TestDb;
use tokio::sync::oneshot;

use crate::Desk;
use crate::app::{App, AppSettings};
use crate::http::{self, ServerConfig};
use crate::services::identity::{Identity, Secret};

pub const PASSWORD: &str = "correct horse battery staple";

/// A server over its own database, stopped by [`TestServer::stop`].
#[derive(Debug)]
pub struct TestServer {
    pub url: String,
    pub db: TestDb,
    pub store: Arc<dyn Store>,
    pub identity: Identity,
    /// The plan it was started with, which a restart applies again.
    plan: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        TestServer::start_with(db, ServerConfig::default()).await
    }

    pub async fn start_with(db: TestDb, config: ServerConfig) -> TestServer {
        TestServer::start_with_plan(db, config, presets::FOUR_TIER.source).await
    }

    /// A server following the plan written in `plan`.
    pub async fn start_with_plan(db: TestDb, config: ServerConfig, plan: &str) -> TestServer {
        // The tests' own HTTP clients need the TLS provider the server's channels use.
        tocsin_notify::use_ring();
        let store = db.open().await;
        let identity = Identity::new(Arc::clone(&store));
        let text = crate::services::plans::PlanText::new(plan, "test plan");
        let (desk, _) = Desk::open(Arc::clone(&store), &text, &admin_actor(), Timestamp::now())
            .await
            .unwrap();
        let settings = AppSettings {
            server: config,
            ..AppSettings::default()
        };
        let app = App::build(Arc::clone(&store), desk, identity.clone(), settings)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            url,
            db,
            store,
            identity,
            plan: text.text,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the server and starts a new one over the same database.
    pub async fn restart(mut self) -> TestServer {
        self.halt().await;
        TestServer::start_with_plan(self.db, ServerConfig::default(), &self.plan).await
    }

    async fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// A new integration of `kind` named `name`; its key.
    pub async fn integration(&self, kind: crate::services::integrations::IntegrationKind, name: &str) -> String {
        self.integration_with(kind, name, serde_json::json!({})).await.1
    }

    /// A new integration with `settings`: its id and its key.
    pub async fn integration_with(
        &self,
        kind: crate::services::integrations::IntegrationKind,
        name: &str,
        settings: serde_json::Value,
    ) -> (i64, String) {
        let (record, key) = crate::services::integrations::Integrations::new(Arc::clone(&self.store))
            .add(kind, name, settings, &admin_actor(), Timestamp::now())
            .await
            .unwrap();
        (record.id, key.expose().to_owned())
    }

    /// Events in the log.
    pub async fn events_stored(&self) -> i64 {
        self.db.scalar("SELECT COUNT(*) FROM events").await
    }

    pub fn backend(&self) -> &'static str {
        self.db.backend
    }

    /// A new API token with `scopes`.
    pub async fn token_secret(&self, scopes: &str) -> String {
        let scopes: Scopes = scopes.parse().unwrap();
        let name = format!("test-{}-{}", scopes.to_string().replace(',', "-"), rand_suffix());
        let (_, secret) = self
            .identity
            .create_token(&name, scopes, None, &admin_actor(), Timestamp::now())
            .await
            .unwrap();
        secret.expose().to_owned()
    }

    pub async fn user(&self, name: &str, role: Role) {
        self.identity
            .add_user(
                name,
                role,
                Some(&Secret::new(PASSWORD)),
                &admin_actor(),
                Timestamp::now(),
            )
            .await
            .unwrap();
    }

    /// A logged-in session of a new user with `role`: the cookie and the CSRF token.
    pub async fn session_cookie(&self, role: Role) -> (String, String) {
        let name = format!("{}-{}", role, rand_suffix());
        self.user(&name, role).await;
        let (secret, session) = self
            .identity
            .login(&name, PASSWORD, "127.0.0.1", "tests", Timestamp::now())
            .await
            .unwrap();
        (format!("{}={}", http::SESSION_COOKIE, secret.expose()), session.csrf)
    }
}

/// Polls `check` until it gives a value, for up to ten seconds: for what the server does
/// behind its answer.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(10, what, check).await
}

/// Polls `check` until it gives a value, for up to `seconds`.
pub async fn within<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..seconds * 20 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn admin_actor() -> Actor {
    Actor::parse("test-admin").unwrap()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}
