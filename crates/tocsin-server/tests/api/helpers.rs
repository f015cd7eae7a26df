//! Requests to a real tocsin server, as each kind of caller.

use std::ops::Deref;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tocsin_core::identity::Role;
use tocsin_server::http::ServerConfig;
use tocsin_store::testing::TestDb;

pub use tocsin_server::testing::{PASSWORD, admin_actor};

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

/// The server and a client that does not follow redirects.
pub struct TestServer {
    pub server: tocsin_server::testing::TestServer,
    pub client: reqwest::Client,
}

impl Deref for TestServer {
    type Target = tocsin_server::testing::TestServer;
    fn deref(&self) -> &Self::Target {
        &self.server
    }
}

impl TestServer {
    pub async fn start(db: TestDb) -> TestServer {
        TestServer::start_with(db, ServerConfig::default()).await
    }

    pub async fn start_with(db: TestDb, config: ServerConfig) -> TestServer {
        TestServer {
            server: tocsin_server::testing::TestServer::start_with(db, config).await,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// Stops the server and starts a new one over the same database.
    pub async fn restart(self) -> TestServer {
        TestServer {
            server: self.server.restart().await,
            client: self.client,
        }
    }

    pub async fn token(&self, scopes: &str) -> Auth {
        Auth::Token(self.server.token_secret(scopes).await)
    }

    pub async fn session(&self, role: Role) -> Auth {
        let (cookie, csrf) = self.server.session_cookie(role).await;
        Auth::Session { cookie, csrf }
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

/// Every backend, each with a fresh server.
pub async fn servers() -> Vec<TestServer> {
    let mut servers = Vec::new();
    for db in TestDb::all().await {
        servers.push(TestServer::start(db).await);
    }
    servers
}

/// A server reached over plain HTTP, and one behind TLS: with whether it is behind TLS.
pub fn with_and_without_tls() -> [(ServerConfig, bool); 2] {
    let tls = ServerConfig {
        public_url: Some("https://tocsin.example.com".into()),
        ..ServerConfig::default()
    };
    [(ServerConfig::default(), false), (tls, true)]
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
