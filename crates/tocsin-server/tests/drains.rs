//! Log drains through the one generic receive path: a Vercel batch, signed with the
//! drain's secret, is taken whole or not at all.

use std::io::Write;

use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin_server::services::integrations::IntegrationKind;
use tocsin_server::testing::TestServer;
use tocsin_store::testing::TestDb;

const SECRET: &str = "a-drain-signature-secret-of-vercel";

const BATCH: &str = concat!(
    r#"{"id":"1","deploymentId":"dpl_1","source":"lambda","host":"shop.vercel.app","timestamp":1795000000000,"projectId":"p1","projectName":"shop","level":"info","proxy":{"timestamp":1795000000000,"method":"POST","host":"shop.example","path":"/api/login","userAgent":["curl/8"],"region":"fra1","statusCode":500,"clientIp":"203.0.113.9"}}"#,
    "\n",
    r#"{"id":"2","deploymentId":"dpl_1","source":"firewall","host":"shop.vercel.app","timestamp":1795000000001,"projectId":"p1","level":"warning","proxy":{"timestamp":1795000000001,"method":"GET","host":"shop.example","path":"/.env","userAgent":[],"region":"fra1","statusCode":403,"clientIp":"198.51.100.7","wafAction":"deny","wafRuleId":"r1"}}"#,
    "\n",
    r#"{"id":"3","deploymentId":"dpl_1","source":"build","host":"shop.vercel.app","timestamp":1795000000002,"projectId":"p1","level":"info","message":"Compiled"}"#,
    "\n"
);

fn signature(body: &[u8], secret: &str) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

async fn drain(server: &TestServer, key: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/api/v1/drains/vercel/{key}", server.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_vercel_drain_batch_signed_with_its_secret_is_taken_and_any_other_refused_whole() {
    for db in TestDb::all().await {
        let server = TestServer::start(db).await;
        let backend = server.backend();
        let (_, key) = server
            .integration_with(IntegrationKind::Vercel, "vercel", json!({"secret": SECRET}))
            .await;
        let before = server.events_stored().await;

        // NDJSON, signed: a request, a denial of its address and the denied request; the
        // build line is no security news.
        let signed = signature(BATCH.as_bytes(), SECRET);
        let (status, answer) = drain(&server, &key, BATCH.into(), &[("x-vercel-signature", &signed)]).await;
        assert_eq!(
            (status, &answer),
            (StatusCode::OK, &json!({"accepted": 3})),
            "{backend}"
        );
        assert_eq!(server.events_stored().await, before + 3, "{backend}");

        // The same as a JSON array, compressed; the signature is of the bytes sent.
        let array = format!("[{}]", BATCH.trim_end().replace('\n', ","));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(array.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let signed = signature(&gz, SECRET);
        let headers = [("x-vercel-signature", signed.as_str()), ("content-encoding", "gzip")];
        let (status, answer) = drain(&server, &key, gz, &headers).await;
        assert_eq!(
            (status, &answer),
            (StatusCode::OK, &json!({"accepted": 3})),
            "{backend}"
        );

        // Refused whole, nothing stored: a signature of another secret, none, a batch that
        // is not one, and a key that is not a drain's.
        let stored = server.events_stored().await;
        let forged = signature(BATCH.as_bytes(), "another-secret-entirely");
        let (status, answer) = drain(&server, &key, BATCH.into(), &[("x-vercel-signature", &forged)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend}");
        assert!(answer["error"].as_str().unwrap().contains("does not match"), "{answer}");
        let (status, answer) = drain(&server, &key, BATCH.into(), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("x-vercel-signature header is missing"),
            "{answer}"
        );
        let bad = format!("{BATCH}not json\n");
        let signed = signature(bad.as_bytes(), SECRET);
        let (status, answer) = drain(&server, &key, bad.into(), &[("x-vercel-signature", &signed)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend}");
        assert!(answer["error"].as_str().unwrap().starts_with("line 4: "), "{answer}");
        let pagerduty = server.integration(IntegrationKind::Pagerduty, "pd").await;
        let (status, _) = drain(&server, &pagerduty, BATCH.into(), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend}");
        assert_eq!(server.events_stored().await, stored, "{backend}");

        // A drain whose secret tocsin was not given says how to give it.
        let (_, unset) = server
            .integration_with(IntegrationKind::Vercel, "vercel-2", json!({}))
            .await;
        let (status, answer) = drain(&server, &unset, BATCH.into(), &[("x-vercel-signature", "00")]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{backend}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("tocsin integration secret vercel-2"),
            "{answer}"
        );
        server.stop().await;
    }
}

/// A scanner seen through the drain: its requests for `.env` and friends are one
/// `path_probe` signal about its address, recorded (not an incident) by default.
#[tokio::test]
async fn a_scanner_in_a_vercel_drain_is_recorded_as_a_path_probe() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let (_, key) = server
        .integration_with(IntegrationKind::Vercel, "vercel", json!({"secret": SECRET}))
        .await;
    let batch: String = ["/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/", "/.aws/credentials"]
        .iter()
        .enumerate()
        .map(|(i, path)| {
            json!({"id": format!("p{i}"), "deploymentId": "dpl_1", "source": "lambda", "host": "shop.vercel.app",
                "timestamp": 1_795_000_000_000_i64 + i as i64 * 1000, "projectId": "p1", "level": "info",
                "proxy": {"timestamp": 1_795_000_000_000_i64 + i as i64 * 1000, "method": "GET", "host": "shop.example",
                    "path": path, "userAgent": ["zgrab/0.x"], "region": "fra1", "statusCode": 404, "clientIp": "203.0.113.66"}})
            .to_string()
                + "\n"
        })
        .collect();
    let signed = signature(batch.as_bytes(), SECRET);
    let (status, answer) = drain(&server, &key, batch.into(), &[("x-vercel-signature", &signed)]).await;
    assert_eq!((status, &answer), (StatusCode::OK, &json!({"accepted": 5})));
    let signal = tocsin_server::testing::eventually("the path_probe signal", || async {
        let filter = tocsin_store::signals::SignalFilter {
            limit: 10,
            ..Default::default()
        };
        server
            .store
            .signals(&filter)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.signal.detector == "path_probe")
    })
    .await;
    assert_eq!(signal.signal.key, "203.0.113.66");
    assert!(
        signal.signal.summary.contains("asked for 5 paths"),
        "{}",
        signal.signal.summary
    );
    assert_eq!(signal.disposition.as_str(), "record");
    server.stop().await;
}

/// Vercel checks a new drain's endpoint by the `x-vercel-verify` value it shows: every
/// answer to a good key carries it (a GET, a batch taken, a batch refused), and no answer
/// to a wrong key does.
#[tokio::test]
async fn a_vercel_drain_answers_with_its_verification_value() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let (_, key) = server
        .integration_with(
            IntegrationKind::Vercel,
            "vercel",
            json!({"secret": SECRET, "verify": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"}),
        )
        .await;
    let (_, unverified) = server
        .integration_with(IntegrationKind::Vercel, "vercel-plain", json!({"secret": SECRET}))
        .await;
    let client = reqwest::Client::new();
    let url = |key: &str| format!("{}/api/v1/drains/vercel/{key}", server.url);
    let verify = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-vercel-verify")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let expected = Some("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678".to_owned());

    let get = client.get(url(&key)).send().await.unwrap();
    assert_eq!((get.status(), verify(&get)), (StatusCode::OK, expected.clone()));
    let signed = signature(BATCH.as_bytes(), SECRET);
    let taken = client
        .post(url(&key))
        .header("x-vercel-signature", &signed)
        .body(BATCH)
        .send()
        .await
        .unwrap();
    assert_eq!((taken.status(), verify(&taken)), (StatusCode::OK, expected.clone()));
    let refused = client.post(url(&key)).body("[]").send().await.unwrap();
    assert_eq!(
        (refused.status(), verify(&refused)),
        (StatusCode::UNAUTHORIZED, expected),
        "unsigned, refused, still verified"
    );
    let plain = client.get(url(&unverified)).send().await.unwrap();
    assert_eq!((plain.status(), verify(&plain)), (StatusCode::OK, None));
    let wrong = client
        .get(url("0123456789abcdef0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_eq!((wrong.status(), verify(&wrong)), (StatusCode::UNAUTHORIZED, None));
    server.stop().await;
}
