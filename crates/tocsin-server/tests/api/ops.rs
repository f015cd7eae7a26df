//! Health checks and the security headers of every response.

use reqwest::StatusCode;
use tocsin_store::testing::TestDb;

use crate::helpers::{TestServer, read};

#[tokio::test]
async fn health_and_readiness_answer_without_credentials() {
    let server = TestServer::start(TestDb::sqlite()).await;
    for path in ["/healthz", "/readyz"] {
        let (status, body) = read(server.client.get(format!("{}{path}", server.url)).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, body) = read(
        server
            .client
            .get(format!("{}/nowhere", server.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(crate::helpers::code(&body), "not_found");
    server.stop().await;
}

#[tokio::test]
async fn every_response_carries_strict_security_headers_and_hsts_only_behind_tls() {
    for (config, hsts) in crate::helpers::with_and_without_tls() {
        let server = TestServer::start_with(TestDb::sqlite(), config).await;
        for path in ["/healthz", "/api/v1/incidents", "/nowhere"] {
            let response = server.client.get(format!("{}{path}", server.url)).send().await.unwrap();
            let headers = response.headers();
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
                "{csp}"
            );
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["referrer-policy"], "same-origin");
            // The rest of what header graders look for.
            assert_eq!(headers["x-frame-options"], "DENY");
            assert!(headers["permissions-policy"].to_str().unwrap().contains("camera=()"));
            assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
            assert_eq!(headers.contains_key("strict-transport-security"), hsts, "{path}");
            if hsts {
                assert!(
                    headers["strict-transport-security"]
                        .to_str()
                        .unwrap()
                        .starts_with("max-age=63072000")
                );
            }
        }
        server.stop().await;
    }
}
