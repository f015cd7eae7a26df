//! `/.well-known/security.txt`: the plan's `[security_txt]`, for anyone to read.

use reqwest::StatusCode;
use tocsin_core::plan::presets;
use tocsin_server::http::ServerConfig;
use tocsin_server::testing::TestServer;
use tocsin_store::testing::TestDb;

#[tokio::test]
async fn the_plan_s_security_txt_is_served_to_anyone_and_its_absence_is_a_404() {
    let plan = format!(
        "{}\n[security_txt]\ncontact = [\"mailto:security@example.com\"]\nexpires = \"2027-06-30T00:00:00Z\"\n",
        presets::FOUR_TIER.source
    );
    let config = ServerConfig {
        public_url: Some("https://tocsin.example/".into()),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with_plan(TestDb::sqlite(), config, &plan).await;
    let response = reqwest::get(format!("{}/.well-known/security.txt", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    let body = response.text().await.unwrap();
    assert!(body.contains("\nContact: mailto:security@example.com\n"), "{body}");
    assert!(body.contains("\nExpires: 2027-06-30T00:00:00Z\n"), "{body}");
    assert!(
        body.contains("\nCanonical: https://tocsin.example/.well-known/security.txt\n"),
        "{body}"
    );
    server.stop().await;

    let server = TestServer::start(TestDb::sqlite()).await;
    let response = reqwest::get(format!("{}/.well-known/security.txt", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}
