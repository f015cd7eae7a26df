//! Probes against real TLS servers on loopback, with certificates from a CA of the test's
//! own: a chain trusted through the probe's `ca` file and refused without it, a
//! certificate's days left for tls and https probes, and an expired certificate.

use std::sync::Arc;
use tocsin_server::testing::within;

use tocsin_core::plan::{Plan, Probe};
use tocsin_server::services::probes::{Prober, run};

/// A CA and a server certificate for 127.0.0.1 it signed, valid `days` from now (negative:
/// expired that long ago): (CA PEM, server TLS configuration).
fn certificates(days: i64) -> (String, Arc<rustls::ServerConfig>) {
    let made = tocsin_notify::testing::certificates(days);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![made.cert_der.into()],
            rustls::pki_types::PrivateKeyDer::try_from(made.key_der).unwrap(),
        )
        .unwrap();
    (made.ca_pem, Arc::new(config))
}

/// A TLS server on loopback answering every request with `200 ok`; its address.
async fn serve(config: Arc<rustls::ServerConfig>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    address
}

fn probes(tables: &str) -> Vec<Probe> {
    let source = format!("{}\n{tables}", tocsin_core::plan::presets::FOUR_TIER.source);
    let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render("tocsin.toml", &source)));
    plan.probes().to_vec()
}

fn table(id: &str, body: &str) -> String {
    format!("\n[[probe]]\nid = \"{id}\"\nname = \"{id}\"\n{body}\n")
}

#[tokio::test]
async fn tls_and_https_probes_check_the_chain_and_the_certificates_days_left() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, config) = certificates(30);
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let ca_file = ca_file.display();
    let address = serve(config).await;
    let (expired_ca, expired) = certificates(-2);
    let expired_ca_file = dir.path().join("expired-ca.pem");
    std::fs::write(&expired_ca_file, &expired_ca).unwrap();
    let expired_ca_file = expired_ca_file.display();
    let expired_address = serve(expired).await;

    let mut tables = String::new();
    tables += &table(
        "tls",
        &format!("kind = \"tls\"\ntarget = \"{address}\"\nca = \"{ca_file}\""),
    );
    tables += &table("untrusted", &format!("kind = \"tls\"\ntarget = \"{address}\""));
    tables += &table(
        "soon",
        &format!("kind = \"tls\"\ntarget = \"{address}\"\nca = \"{ca_file}\"\ncert_days = 45"),
    );
    tables += &table(
        "https",
        &format!(
            "kind = \"http\"\nurl = \"https://localhost:{}/health\"\nca = \"{ca_file}\"\ncert_days = 14",
            address.port()
        ),
    );
    tables += &table(
        "https-soon",
        &format!(
            "kind = \"http\"\nurl = \"https://localhost:{}/health\"\nca = \"{ca_file}\"\ncert_days = 60",
            address.port()
        ),
    );
    tables += &table(
        "expired",
        &format!("kind = \"tls\"\ntarget = \"{expired_address}\"\nca = \"{expired_ca_file}\""),
    );
    tables += &table(
        "no-ca-file",
        &format!("kind = \"tls\"\ntarget = \"{address}\"\nca = \"/nonexistent/ca.pem\""),
    );
    let probes = probes(&tables);
    let prober = Prober::default();
    let mut results = Vec::new();
    for probe in &probes {
        results.push(run(probe, &prober).await);
    }
    let by = |id: &str| results.iter().find(|r| r.probe == id).unwrap();

    let tls = by("tls");
    assert!(tls.ok, "{tls:?}");
    assert!(tls.detail.starts_with("TLS 1.3, certificate valid until "), "{tls:?}");
    assert!(tls.detail.ends_with("(30 days)"), "{tls:?}");

    let untrusted = by("untrusted");
    assert!(!untrusted.ok, "a private CA is not the system's: {untrusted:?}");
    let why = untrusted.error.as_deref().unwrap();
    assert!(
        why.contains("the TLS handshake failed") && why.contains("UnknownIssuer"),
        "{why}"
    );

    let soon = by("soon");
    assert!(!soon.ok);
    assert_eq!(
        soon.error.as_deref(),
        Some("the certificate has 30 days left, fewer than 45")
    );

    let https = by("https");
    assert!(https.ok, "{https:?}");
    assert!(
        https.detail.starts_with("HTTP 200, certificate valid until "),
        "{https:?}"
    );
    let https_soon = by("https-soon");
    assert_eq!(
        https_soon.error.as_deref(),
        Some("the certificate has 30 days left, fewer than 60"),
        "{https_soon:?}"
    );

    let expired = by("expired");
    assert!(!expired.ok);
    let why = expired.error.as_deref().unwrap();
    assert!(
        why.contains("the TLS handshake failed") && why.to_lowercase().contains("expired"),
        "{why}"
    );

    let no_file = by("no-ca-file");
    assert!(!no_file.ok);
    assert!(
        no_file
            .error
            .as_deref()
            .unwrap()
            .starts_with("cannot read the CA file /nonexistent/ca.pem"),
        "{no_file:?}"
    );
}

/// Polls `check` until it gives a value, for up to `seconds`: probes run every 10 seconds
/// at the least, longer than the test server's usual patience.
/// An HTTP target on loopback answering `/health` with 503 until `healthy` is set.
async fn target(healthy: Arc<std::sync::atomic::AtomicBool>) -> std::net::SocketAddr {
    use axum::http::StatusCode;
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let healthy = Arc::clone(&healthy);
            async move {
                if healthy.load(std::sync::atomic::Ordering::SeqCst) {
                    (StatusCode::OK, "ok")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// A probe going down opens an incident at the plan's second tier, its failed runs are
/// events, and its coming back resolves the incident; the API tells where it stands and
/// its runs by the hour and the day. On both backends, at once.
async fn down_and_up_again(db: tocsin_store::testing::TestDb) {
    use tocsin_server::testing::TestServer;
    use tocsin_store::IncidentFilter;
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let address = target(Arc::clone(&healthy)).await;
    let plan = format!(
        "{}\n[[probe]]\nid = \"api\"\nname = \"API health\"\nkind = \"http\"\nurl = \"http://{address}/health\"\ninterval = \"10s\"\ntimeout = \"2s\"\ndown_after = 1\nup_after = 1\n",
        tocsin_core::plan::presets::FOUR_TIER.source
    );
    let server = TestServer::start_with_plan(db, Default::default(), &plan).await;
    let backend = server.backend();
    let token = server.token_secret("read").await;
    // A connection for each request: between the test's requests a kept-alive one idles
    // longer than the server keeps it, and a request sent as it closes would fail.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let get = |path: &str| {
        let path = path.to_owned();
        let request = client.get(format!("{}{path}", server.url)).bearer_auth(&token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let listed = get("/api/v1/probes").await;
    assert_eq!(listed["probes"][0]["probe"], "api");

    let opened = within(25, "the probe's incident", || async {
        let list = server.store.incidents(&IncidentFilter::default()).await.unwrap();
        list.into_iter().next()
    })
    .await;
    assert_eq!(opened.severity, "P2", "an endpoint's outage is P2 ({backend})");
    assert!(
        opened
            .title
            .contains("API health is down: HTTP 503 is not an expected status"),
        "{backend}: {}",
        opened.title
    );
    let listed = get("/api/v1/probes").await;
    let api = &listed["probes"][0];
    assert_eq!(api["state"], "down", "{backend}: {listed}");
    assert_eq!(api["last_ok"], false);
    assert_eq!(api["last_detail"], "HTTP 503");
    assert!(listed["schedule"]["runs"].as_u64().unwrap() >= 1, "{listed}");
    let failed = get("/api/v1/events?kind=probe").await;
    let first = &failed["items"][0]["event"];
    assert_eq!(
        (&first["probe"], &first["ok"], &first["error"]),
        (
            &serde_json::json!("api"),
            &serde_json::json!(false),
            &serde_json::json!("HTTP 503 is not an expected status")
        ),
        "{backend}: {failed}"
    );

    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let resolved = within(25, "the incident resolved", || async {
        let list = server.store.incidents(&IncidentFilter::default()).await.unwrap();
        list.into_iter()
            .find(|i| i.number == opened.number && !i.status.is_active())
    })
    .await;
    assert_eq!(resolved.status.to_string(), "resolved", "{backend}");
    let history = within(5, "the probe's history", || async {
        let history = get("/api/v1/probes/api").await;
        (history["state"] == "up" && history["hours"][0]["runs"].as_u64() >= Some(2)).then_some(history)
    })
    .await;
    let hour = &history["hours"][0];
    assert!(hour["ok"].as_u64().unwrap() >= 1, "{history}");
    assert!(hour["availability"].as_f64().unwrap() < 1.0, "{history}");
    assert_eq!(history["days"].as_array().unwrap().len(), 1, "{history}");

    // The pages: the list, and the probe's chart drawn by the server.
    let (cookie, _) = server.session_cookie(tocsin_core::identity::Role::Viewer).await;
    let page = |path: &str| {
        let request = client.get(format!("{}{path}", server.url)).header("cookie", &cookie);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let list = page("/probes").await;
    assert!(
        list.contains("id=\"probe-api\"") && list.contains("class=\"state-up\""),
        "{list}"
    );
    let one = page("/probes/api").await;
    let svg = &one[one.find("<svg").unwrap()..one.find("</svg>").unwrap()];
    assert!(svg.contains("<polyline class=\"mean\" points=\""), "{svg}");
    assert!(
        svg.contains("<rect class=\"warn\""),
        "an hour with failures and successes: {svg}"
    );
    assert_eq!(svg.matches("<rect ").count(), 48, "one strip per hour");
    assert!(
        !svg.contains("script") && one.matches("<script").count() == 1,
        "drawn by the server, no chart library"
    );
    assert!(one.contains("runs passed"), "{one}");
    assert_eq!(
        client
            .get(format!("{}/probes/nowhere", server.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_going_down_opens_an_incident_and_coming_back_resolves_it() {
    let runs: Vec<_> = tocsin_store::testing::TestDb::all()
        .await
        .into_iter()
        .map(|db| tokio::spawn(down_and_up_again(db)))
        .collect();
    for run in runs {
        run.await.unwrap();
    }
}

/// dnsmasq on a loopback port with records of the test's own; `None` (said loudly) when it
/// is not installed, unless CI requires it.
fn dnsmasq() -> Option<(std::process::Child, u16)> {
    if !std::path::Path::new("/usr/sbin/dnsmasq").exists() {
        assert!(
            std::env::var_os("TOCSIN_REQUIRE_DNS").is_none(),
            "TOCSIN_REQUIRE_DNS is set and dnsmasq is missing: run .ci/ensure-dns"
        );
        eprintln!("\n*** SKIPPED: the dns probe tests need dnsmasq (.ci/ensure-dns installs it) ***\n");
        return None;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let long = "x".repeat(240);
    let child = std::process::Command::new("/usr/sbin/dnsmasq")
        .args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-daemon",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--pid-file=",
            &format!("--port={port}"),
            // The domain is local: a name it does not hold does not exist.
            "--local=/probe.test/",
            "--address=/api.probe.test/192.0.2.7",
            "--address=/api.probe.test/2001:db8::7",
            "--cname=www.probe.test,api.probe.test",
            "--mx-host=probe.test,mail.probe.test,10",
            "--txt-record=probe.test,v=spf1 -all",
            // Long enough together that the answer does not fit UDP's 512 bytes.
            &format!("--txt-record=big.probe.test,{long}"),
            &format!("--txt-record=big.probe.test,{long}y"),
            &format!("--txt-record=big.probe.test,{long}z"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Some((child, port))
}

#[tokio::test]
async fn dns_probes_ask_a_server_for_each_kind_of_record() {
    let Some((mut server, port)) = dnsmasq() else { return };
    let dns = |id: &str, name: &str, record: &str, expect: &str| {
        table(
            id,
            &format!(
                "kind = \"dns\"\nrecord_name = \"{name}\"\nrecord = \"{record}\"\nexpect = [{expect}]\nserver = \"127.0.0.1:{port}\""
            ),
        )
    };
    let mut tables = String::new();
    tables += &dns("a", "api.probe.test", "A", "\"192.0.2.7\"");
    tables += &dns("aaaa", "api.probe.test", "AAAA", "\"2001:db8::7\"");
    tables += &dns("cname", "www.probe.test", "CNAME", "\"api.probe.test\"");
    tables += &dns("mx", "probe.test", "MX", "\"mail.probe.test\"");
    tables += &dns("txt", "probe.test", "TXT", "\"v=spf1\"");
    tables += &dns("wrong", "api.probe.test", "A", "\"192.0.2.8\"");
    tables += &dns("missing", "nowhere.probe.test", "A", "");
    tables += &dns("big", "big.probe.test", "TXT", "\"xxxz\"");
    let probes = probes(&tables);
    let prober = Prober::default();
    // dnsmasq takes a moment to listen.
    let mut results = Vec::new();
    for _ in 0..50 {
        results.clear();
        for probe in &probes {
            results.push(run(probe, &prober).await);
        }
        if results[0].ok {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let by = |id: &str| results.iter().find(|r| r.probe == id).unwrap();
    for (id, detail) in [
        ("a", "192.0.2.7"),
        ("aaaa", "2001:db8::7"),
        ("cname", "api.probe.test"),
        ("mx", "10 mail.probe.test"),
        ("txt", "v=spf1 -all"),
    ] {
        let r = by(id);
        assert!(r.ok, "{r:?}");
        assert_eq!(r.detail, detail, "{r:?}");
    }
    assert_eq!(
        by("wrong").error.as_deref(),
        Some("api.probe.test does not answer 192.0.2.8")
    );
    let missing = by("missing").error.clone().unwrap();
    assert!(missing.ends_with("the name does not exist (NXDOMAIN)"), "{missing}");
    let big = by("big");
    assert!(big.ok, "an answer too long for UDP comes again over TCP: {big:?}");
    assert_eq!(big.detail.matches(", ").count(), 2, "{big:?}");
    assert!(big.detail.len() > 512, "{big:?}");
}
