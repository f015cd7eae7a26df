//! The OpenAPI document: generated from the code, served, and committed without drift.

use std::path::PathBuf;

use reqwest::StatusCode;
use tocsin_server::http::openapi;

use crate::helpers::{TestServer, read};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = openapi::document();
    let path = committed_path();
    if std::env::var_os("TOCSIN_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the code; run `TOCSIN_UPDATE_OPENAPI=1 cargo test -p tocsin-server --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn the_document_is_served_and_describes_every_route_and_error() {
    let server = TestServer::start(tocsin_store::testing::TestDb::sqlite()).await;
    let (status, doc) = read(
        server
            .client
            .get(format!("{}/api/v1/openapi.json", server.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/incidents",
        "/api/v1/incidents/{id}/actions",
        "/api/v1/verify",
        "/api/v1/tokens/{token}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is missing");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    server.stop().await;
}
