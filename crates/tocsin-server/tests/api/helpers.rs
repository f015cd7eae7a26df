//! A real tocsin server on a free loopback port, over a fresh database, and a client.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tocsin_core::Timestamp;
use tocsin_core::identity::{Role, Scopes};
use tocsin_core::incident::Actor;
use tocsin_core::plan::{Plan, presets};
use tocsin_server::Desk;
use tocsin_server::http::{self, AppState, ServerConfig};
use tocsin_server::identity::{Identity, Secret};
use tocsin_store::Store;
use tocsin_store::testing::TestDb;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Token(String),
    /// A session cookie and its CSRF token.
    Session {
        cookie: String,
        csrf: String,
    },
}

pub struct TestServer {
    pub url: String,
    pub db: TestDb,
    pub store: Arc<dyn Store>,
    pub identity: Identity,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        TestServer::start_with(db, ServerConfig::default()).await
    }

    pub async fn start_with(db: TestDb, config: ServerConfig) -> TestServer {
        let store = db.open().await;
        let plan = Arc::new(Plan::parse(presets::FOUR_TIER.source).unwrap());
        let identity = Identity::new(Arc::clone(&store));
        let state = AppState::new(Desk::new(Arc::clone(&store), plan), identity.clone(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(http::serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestServer {
            url,
            db,
            store,
            identity,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    pub fn backend(&self) -> &'static str {
        self.db.backend
    }

    pub async fn token(&self, scopes: &str) -> Auth {
        let scopes: Scopes = scopes.parse().unwrap();
        let name = format!("test-{}-{}", scopes.to_string().replace(',', "-"), rand_suffix());
        let (_, secret) = self
            .identity
            .create_token(&name, scopes, None, &admin_actor(), Timestamp::now())
            .await
            .unwrap();
        Auth::Token(secret.expose().to_owned())
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

    /// A logged-in session of a new user with `role`.
    pub async fn session(&self, role: Role) -> Auth {
        let name = format!("{}-{}", role, rand_suffix());
        self.user(&name, role).await;
        let (secret, session) = self
            .identity
            .login(&name, PASSWORD, "127.0.0.1", "tests", Timestamp::now())
            .await
            .unwrap();
        Auth::Session {
            cookie: format!("{}={}", http::SESSION_COOKIE, secret.expose()),
            csrf: session.csrf,
        }
    }

    pub fn request(&self, method: Method, path: &str, auth: &Auth) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.url));
        match auth {
            Auth::None => builder,
            Auth::Token(token) => builder.bearer_auth(token),
            Auth::Session { cookie, csrf } => builder.header("cookie", cookie).header("x-csrf-token", csrf),
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> (StatusCode, Value) {
        read(self.request(Method::GET, path, auth).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> (StatusCode, Value) {
        read(self.request(Method::POST, path, auth).json(&body).send().await.unwrap()).await
    }

    /// Declares an incident and returns its id.
    pub async fn declare(&self, auth: &Auth, title: &str, severity: &str) -> String {
        let (status, body) = self
            .post("/api/v1/incidents", auth, json!({"title": title, "severity": severity}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["incident"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn act(&self, auth: &Auth, id: &str, action: Value) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/incidents/{id}/actions"), auth, action)
            .await
    }

    /// How many audit entries and incidents there are: to show a refused request changed nothing.
    pub async fn footprint(&self) -> (i64, i64) {
        (
            self.db.scalar("SELECT COUNT(*) FROM audit_log").await,
            self.db.scalar("SELECT COUNT(*) FROM incidents").await,
        )
    }
}

pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, body)
}

pub fn admin_actor() -> Actor {
    Actor::parse("test-admin").unwrap()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Every backend, each with a fresh server.
pub async fn servers() -> Vec<TestServer> {
    let mut servers = Vec::new();
    for db in TestDb::all().await {
        servers.push(TestServer::start(db).await);
    }
    servers
}

/// The error code of an error body, asserting its shape.
pub fn code(body: &Value) -> &str {
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message in {body}"
    );
    assert!(error.get("details").is_some(), "no details in {body}");
    error["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}
