//! Every reader of untrusted input, fed arbitrary and mutated input for a bounded time:
//! nothing panics, no request is answered with a 5xx or a dropped connection, and every
//! event the events endpoint says it accepted is stored.
//!
//! `TOCSIN_FUZZ_SECONDS` sets the time per reader (default 2); `TOCSIN_FUZZ_SEED` replays
//! a run, whose seed is printed.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tocsin_core::plan::Plan;
use tocsin_server::ingest::{LineFormat, LineReader};
use tocsin_server::services::integrations::IntegrationKind;
use tocsin_server::testing::TestServer;
use tocsin_store::testing::TestDb;

/// A small, seeded generator: runs can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that change how readers see text.
const SPICE: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x80",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"null",
    b"true",
    b"\"\"",
    b"\\u0000",
    b"\\ud800",
    b"%",
    b"\x1b[31m",
    b" port ",
    b" from ",
    b"=",
    b"&",
];

/// One mutation of `input`, maybe spliced with another seed.
fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let spice = SPICE[rng.below(SPICE.len())];
                out.splice(at..at, spice.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(64)).min(out.len());
                let piece = out[start..end].to_vec();
                out.splice(at..at, piece);
            }
            4 => out.truncate(at),
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                out.splice(at.., other[from..].iter().copied());
            }
            6 => {
                let long = vec![b'a' + rng.below(26) as u8; 1 << rng.below(17)];
                out.splice(at..at, long);
            }
            _ => out = (0..rng.below(256)).map(|_| rng.next() as u8).collect(),
        }
    }
    out
}

fn budget() -> Duration {
    let seconds = std::env::var("TOCSIN_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(seconds)
}

fn seeded() -> Rng {
    let seed = std::env::var("TOCSIN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("fuzz seed {seed} (TOCSIN_FUZZ_SEED={seed} replays it)");
    Rng(seed)
}

/// Inputs for one reader until the budget is spent: each seed as it is, then mutations.
fn inputs(rng: &mut Rng, seeds: &[Vec<u8>], mut each: impl FnMut(Vec<u8>)) -> usize {
    let started = Instant::now();
    let mut n = 0;
    for seed in seeds {
        each(seed.clone());
        n += 1;
    }
    while started.elapsed() < budget() {
        let seed = &seeds[rng.below(seeds.len())];
        each(mutate(rng, seed, seeds));
        n += 1;
    }
    n
}

fn lines(text: &str) -> Vec<Vec<u8>> {
    text.lines().map(|l| l.as_bytes().to_vec()).collect()
}

#[test]
fn the_log_readers_and_the_plan_reader_never_panic() {
    let mut rng = seeded();
    let sshd = lines(
        "Jan  5 00:00:04 web1 sshd[2174]: Invalid user ftp from 192.0.2.1 port 36243\n\
         Jan  5 00:00:07 web1 sshd[2174]: Failed password for invalid user ftp from 192.0.2.1 port 36243 ssh2\n\
         Jan  5 00:00:10 web1 sshd[2180]: Connection closed by invalid user oracle 192.0.2.2 port 40000 [preauth]\n\
         2026-01-05T00:00:15.123456+00:00 web1 sshd-session[2201]: Accepted publickey for deploy from 2001:db8::5 port 50000 ssh2: ED25519 SHA256:x\n\
         Jan  5 00:00:16 web1 sshd[2202]: Disconnected from authenticating user root 203.0.113.9 port 4711 [preauth]\n\
         <38>1 2026-01-05T00:00:17Z web1 sshd 2203 - [origin ip=\"10.0.0.1\"] User root from 192.0.2.3 not allowed because listed in DenyUsers\n\
         Jan  5 00:00:18 web1 sshd[2204]: message repeated 3 times: [ Failed password for root from 192.0.2.4 port 1 ssh2]\n\
         Jan  5 00:00:19 web1 sshd[2205]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.5  user=root\n\
         {\"__REALTIME_TIMESTAMP\":\"1767571205000000\",\"_HOSTNAME\":\"h\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"9\",\"MESSAGE\":\"Failed password for x from 192.0.2.6 port 2 ssh2\"}",
    );
    let postgres = lines(
        "2026-01-05 00:00:01.100 UTC [4101] LOG:  connection received: host=203.0.113.5 port=51234\n\
         2026-01-05 00:00:01.120 UTC [4101] postgres@db FATAL:  password authentication failed for user \"postgres\"\n\
         2026-01-05 01:00:03.000 +01 [4103] FATAL:  no pg_hba.conf entry for host \"198.51.100.9\", user \"app\", database \"prod\", no encryption\n\
         {\"timestamp\":\"2026-01-05 00:00:07.123 UTC\",\"pid\":77,\"remote_host\":\"192.0.2.44\",\"error_severity\":\"FATAL\",\"message\":\"role \\\"x\\\" does not exist\"}",
    );
    let access = lines(
        "{\"level\":\"info\",\"ts\":1767571201.5,\"logger\":\"http.log.access\",\"request\":{\"client_ip\":\"203.0.113.5\",\"method\":\"POST\",\"uri\":\"/login\",\"headers\":{\"User-Agent\":[\"x\"]}},\"duration\":0.01,\"status\":401}\n\
         {\"ClientHost\":\"198.51.100.7\",\"DownstreamStatus\":403,\"Duration\":2500000,\"RequestMethod\":\"POST\",\"RequestPath\":\"/login\",\"StartUTC\":\"2026-01-05T00:00:02Z\"}",
    );
    let nginx = lines(
        "203.0.113.9 - - [05/Jan/2026:00:00:01 +0000] \"POST /login HTTP/1.1\" 401 12 \"-\" \"curl/8\"\n\
         198.51.100.7 - bob [05/Jan/2026:00:00:02 +0000] \"GET /a?b=c HTTP/2.0\" 200 5120 \"https://x/\" \"Mozilla/5.0\"\n\
         2026/01/05 00:00:03 [error] 12#12: *5 limiting requests, excess: 10.5 by zone \"login\", client: 203.0.113.9, server: x, request: \"POST /login HTTP/1.1\", host: \"x\"",
    );
    for (format, seeds) in [
        (LineFormat::Sshd, &sshd),
        (LineFormat::Nginx, &nginx),
        (LineFormat::Postgres, &postgres),
        (LineFormat::AccessJson, &access),
    ] {
        let mut reader = LineReader::new(format, "fuzz", 2026, jiff::tz::TimeZone::UTC, vec!["/login".into()]);
        let n = inputs(&mut rng, seeds, |input| {
            reader.line(&String::from_utf8_lossy(&input));
            reader.batch.clear();
        });
        reader.let_go(true);
        eprintln!("{format:?}: {n} lines");
    }
    let with_audit = format!(
        "{}\n[[daily_audit.database]]\nname = \"app\"\nsecret_env = \"X\"\ntenant_columns = [\"org_id\"]\n",
        tocsin_core::plan::presets::FOUR_TIER.source
    );
    let plan = vec![
        tocsin_core::plan::presets::FOUR_TIER.source.as_bytes().to_vec(),
        with_audit.into_bytes(),
    ];
    let n = inputs(&mut rng, &plan, |input| {
        let _ = Plan::parse(&String::from_utf8_lossy(&input));
    });
    eprintln!("plan: {n} texts");
}

/// A request of one reader: where it goes and how it authenticates.
struct Target {
    name: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    seeds: Vec<Vec<u8>>,
    /// The secret each body is signed with, in `x-vercel-signature`, if the reader checks one.
    signed_by: Option<&'static str>,
}

#[tokio::test]
async fn every_endpoint_reading_untrusted_input_answers_without_a_5xx_and_stores_what_it_accepts() {
    let mut rng = seeded();
    let server = TestServer::start(TestDb::sqlite()).await;
    let ingest = server.token_secret("ingest").await;
    let alerts = server.integration(IntegrationKind::Alertmanager, "prometheus").await;
    let pagerduty = server.integration(IntegrationKind::Pagerduty, "kuma").await;
    let (sentry_id, sentry) = server
        .integration_with(IntegrationKind::Sentry, "shop", json!({}))
        .await;
    let heartbeat = server.integration(IntegrationKind::Heartbeat, "backup").await;
    let hooks = server
        .integration(IntegrationKind::SentryWebhook, "sentry-alerts")
        .await;
    let drain_secret = "a-drain-signature-secret-of-vercel";
    let (_, drain) = server
        .integration_with(IntegrationKind::Vercel, "vercel", json!({"secret": drain_secret}))
        .await;
    let bearer = |key: &str| {
        vec![
            ("authorization", format!("Bearer {key}")),
            ("content-type", "application/json".into()),
        ]
    };
    let event = json!({"message": "boom", "level": "error", "exception": {"values": [{"type": "E", "value": "v"}]}});
    let targets = vec![
        Target {
            name: "events",
            path: "/api/v1/events".into(),
            headers: vec![
                ("authorization", format!("Bearer {ingest}")),
                ("content-type", "application/x-ndjson".into()),
            ],
            seeds: vec![
                br#"{"kind":"auth","ts":"2026-01-05T00:00:00Z","outcome":"failure","user":"root","ip":"192.0.2.1","service":"sshd"}"#.to_vec(),
                br#"{"kind":"request","ts":"2026-01-05T00:00:01Z","method":"GET","path":"/","status":500,"ip":"192.0.2.1"}"#.to_vec(),
                br#"{"kind":"error","ts":"2026-01-05T00:00:02Z","service":"api","message":"boom","level":"error"}"#.to_vec(),
                br#"{"kind":"heartbeat","ts":"2026-01-05T00:00:03Z","agent":"a"}
{"kind":"custom","ts":"2026-01-05T00:00:04Z","name":"n","attributes":{"a":1}}"#
                    .to_vec(),
            ],
            signed_by: None,
        },
        Target {
            name: "alertmanager v2",
            path: "/api/v2/alerts".into(),
            headers: bearer(&alerts),
            seeds: vec![
                br#"[{"labels":{"alertname":"A","severity":"critical"},"annotations":{"summary":"s"},"startsAt":"2026-01-05T00:00:00Z","generatorURL":"http://p/"}]"#.to_vec(),
            ],
            signed_by: None,
        },
        Target {
            name: "alertmanager webhook",
            path: "/api/v1/webhooks/alertmanager".into(),
            headers: bearer(&alerts),
            seeds: vec![
                br#"{"version":"4","status":"firing","receiver":"r","groupKey":"g","alerts":[{"status":"firing","labels":{"alertname":"A"},"annotations":{},"startsAt":"2026-01-05T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc"}]}"#.to_vec(),
            ],
            signed_by: None,
        },
        Target {
            name: "pagerduty",
            path: "/v2/enqueue".into(),
            headers: vec![("content-type", "application/json".into())],
            seeds: vec![json!({"routing_key": pagerduty, "event_action": "trigger", "dedup_key": "d",
                "payload": {"summary": "s", "source": "x", "severity": "critical"}})
            .to_string()
            .into_bytes()],
            signed_by: None,
        },
        Target {
            name: "sentry envelope",
            path: format!("/api/{sentry_id}/envelope/?sentry_key={sentry}"),
            headers: vec![],
            seeds: vec![format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n").into_bytes()],
            signed_by: None,
        },
        Target {
            name: "sentry store",
            path: format!("/api/{sentry_id}/store/?sentry_key={sentry}"),
            headers: vec![],
            seeds: vec![event.to_string().into_bytes()],
            signed_by: None,
        },
        Target {
            name: "sentry webhook",
            path: format!("/api/v1/webhooks/sentry/{hooks}"),
            headers: vec![("sentry-hook-resource", "event_alert".into())],
            seeds: vec![br#"{"action":"triggered","data":{"event":{"title":"t"},"triggered_rule":"r"}}"#.to_vec()],
            signed_by: None,
        },
        Target {
            name: "heartbeat",
            path: format!("/api/v1/heartbeat/{heartbeat}"),
            headers: vec![("content-type", "application/x-www-form-urlencoded".into())],
            seeds: vec![b"status=down&msg=backup%20failed".to_vec(), br#"{"status":"up"}"#.to_vec()],
            signed_by: None,
        },
        Target {
            name: "vercel drain",
            path: format!("/api/v1/drains/vercel/{drain}"),
            headers: vec![],
            seeds: vec![
                br#"{"id":"1","deploymentId":"d","source":"firewall","host":"h","timestamp":1795000000000,"projectId":"p","level":"warning","proxy":{"timestamp":1795000000000,"method":"GET","host":"h","path":"/.env","userAgent":["x"],"region":"fra1","statusCode":403,"clientIp":"198.51.100.7","wafAction":"deny"}}"#.to_vec(),
                br#"[{"id":"2","source":"lambda","level":"error","message":"boom","projectId":"p","timestamp":1795000000000}]"#.to_vec(),
            ],
            signed_by: Some(drain_secret),
        },
        Target {
            name: "login form",
            path: "/login".into(),
            headers: vec![("content-type", "application/x-www-form-urlencoded".into())],
            seeds: vec![b"name=admin&password=secret%20one&csrf=abc&next=%2Fincidents".to_vec()],
            signed_by: None,
        },
    ];
    let client = reqwest::Client::new();
    for target in &targets {
        let started = Instant::now();
        let mut sent = 0;
        while sent < target.seeds.len() || started.elapsed() < budget() {
            let input = match target.seeds.get(sent) {
                Some(seed) => seed.clone(),
                None => {
                    let seed = &target.seeds[rng.below(target.seeds.len())];
                    mutate(&mut rng, seed, &target.seeds)
                }
            };
            let input = &input;
            sent += 1;
            let before = server.events_stored().await;
            let mut request = client
                .post(format!("{}{}", server.url, target.path))
                .body(input.clone());
            for (name, value) in &target.headers {
                request = request.header(*name, value);
            }
            if let Some(secret) = target.signed_by {
                use hmac::{KeyInit, Mac};
                let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(input);
                request = request.header("x-vercel-signature", hex::encode(mac.finalize().into_bytes()));
            }
            let response = request.send().await.unwrap_or_else(|e| {
                panic!(
                    "{}: the connection dropped on {:?}: {e}",
                    target.name,
                    String::from_utf8_lossy(input)
                )
            });
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            assert!(
                !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                "{}: {status} on {:?}: {text}",
                target.name,
                String::from_utf8_lossy(input)
            );
            if matches!(target.name, "events" | "vercel drain") && status == StatusCode::OK {
                let report: serde_json::Value = serde_json::from_str(&text).unwrap();
                let stored = server.events_stored().await - before;
                assert_eq!(
                    Some(stored as u64),
                    report["accepted"].as_u64(),
                    "accepted but not stored: {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        eprintln!("{}: {sent} requests", target.name);
    }
    let health = client.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    server.stop().await;
}
