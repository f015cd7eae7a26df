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

/// Issue 16, item 11: 200 connections that never finished their headers stayed open
/// forever, and nothing bounded how many were open.
#[tokio::test]
async fn slow_headers_are_cut_off_and_the_number_of_connections_is_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = tocsin_server::http::ServerConfig {
        header_timeout: std::time::Duration::from_secs(1),
        max_connections: 3,
        ..Default::default()
    };
    let server = TestServer::start_with(TestDb::sqlite(), config).await;
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "a connection that never finished its headers stayed open"
    );
    // Idle connections fill the server's three; the next request waits for one to go.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let waiting = tokio::spawn(async move { client.get(format!("http://{address}/healthz")).send().await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fourth connection was served at once");
    // The idle ones are cut off after the header timeout, and the request goes through.
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
    assert_eq!(answered.unwrap().unwrap().unwrap().status(), StatusCode::OK);
    drop(idle);
    server.stop().await;
}
