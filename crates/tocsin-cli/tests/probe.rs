//! `tocsin probe`: the plan's probes listed, and each kind run once against real targets on
//! loopback: an HTTP endpoint and its JSON, a failing status, an open and a closed TCP
//! port, a DNS name, TLS spoken to a server that does not speak it.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use common::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_probe_runs_once_and_says_what_it_found() {
    let app = axum::Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/degraded",
            get(|| async { axum::Json(serde_json::json!({"status": "degraded"})) }),
        )
        .route("/down", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (code, _, err) = run(&d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let probe =
        |id: &str, body: &str| format!("\n[[probe]]\nid = \"{id}\"\nname = \"{id}\"\ninterval = \"60s\"\n{body}\n");
    let mut probes = String::new();
    probes += &probe(
        "api",
        &format!(
            "kind = \"http\"\nurl = \"http://{address}/health\"\njson_pointer = \"/status\"\njson_equals = \"ok\""
        ),
    );
    probes += &probe(
        "degraded",
        &format!(
            "kind = \"http\"\nurl = \"http://{address}/degraded\"\njson_pointer = \"/status\"\njson_equals = \"ok\""
        ),
    );
    probes += &probe("down", &format!("kind = \"http\"\nurl = \"http://{address}/down\""));
    probes += &probe(
        "slow",
        &format!("kind = \"http\"\nurl = \"http://{address}/slow\"\nmax_latency = \"1s\""),
    );
    probes += &probe("port", &format!("kind = \"tcp\"\ntarget = \"{address}\""));
    probes += &probe("closed", &format!("kind = \"tcp\"\ntarget = \"{closed}\""));
    probes += &probe(
        "name",
        "kind = \"dns\"\nrecord_name = \"localhost\"\nrecord = \"A\"\nexpect = [\"127.0.0.1\"]",
    );
    probes += &probe("cert", &format!("kind = \"tls\"\ntarget = \"{address}\""));
    // The database: its URL by reference, a wrong password's refusal said without it.
    let postgres = std::env::var("TOCSIN_TEST_POSTGRES_URL").ok();
    match &postgres {
        Some(url) => {
            std::fs::write(d.join("db-url"), url).unwrap();
            let wrong = url.replacen("://postgres@", "://nobody-here:wrong@", 1);
            std::fs::write(d.join("db-url-wrong"), wrong).unwrap();
            probes += &probe(
                "db",
                &format!("kind = \"postgres\"\nsecret_file = \"{}/db-url\"", d.display()),
            );
            probes += &probe(
                "db-wrong",
                &format!("kind = \"postgres\"\nsecret_file = \"{}/db-url-wrong\"", d.display()),
            );
        }
        None => {
            assert!(
                std::env::var_os("TOCSIN_REQUIRE_POSTGRES").is_none(),
                "TOCSIN_REQUIRE_POSTGRES is set without TOCSIN_TEST_POSTGRES_URL"
            );
            eprintln!("\n*** SKIPPED: the postgres probe needs TOCSIN_TEST_POSTGRES_URL ***\n");
        }
    }
    common::add_to_plan(&d, &probes);

    let results = tokio::task::spawn_blocking(move || {
        let (code, out, err) = run(&d, None, &["probe", "list"], b"");
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("api") && out.contains(&format!("GET http://{address}/health")) && out.contains("1m"),
            "{out}"
        );
        [
            "api",
            "degraded",
            "down",
            "slow",
            "port",
            "closed",
            "name",
            "cert",
            "nonexistent",
            "db",
            "db-wrong",
        ]
        .iter()
        .map(|id| {
            let (code, out, err) = run(&d, None, &["probe", "run", id], b"");
            (id.to_string(), code, format!("{out}{err}"))
        })
        .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let said = |id: &str| results.iter().find(|r| r.0 == id).unwrap();
    if postgres.is_some() {
        let (_, code, text) = said("db");
        assert_eq!((*code, text.contains("select 1 answered")), (0, true), "{text}");
        let (_, code, text) = said("db-wrong");
        assert_eq!(*code, 1, "{text}");
        assert!(
            text.contains("cannot connect to the database") && !text.contains("wrong@"),
            "{text}"
        );
    }
    for (id, code, says) in [
        ("api", 0, "api up in"),
        ("degraded", 1, "/status is \"degraded\", not \"ok\""),
        ("down", 1, "HTTP 503 is not an expected status"),
        ("slow", 1, "more than 1000 ms"),
        ("port", 0, "connected"),
        ("closed", 1, "cannot connect to"),
        ("name", 0, "127.0.0.1"),
        ("cert", 1, "the TLS handshake failed"),
        ("nonexistent", 1, "the plan has no probe \"nonexistent\""),
    ] {
        let (_, got, text) = said(id);
        assert_eq!(*got, code, "{id}: {text}");
        assert!(text.contains(says), "{id}: {text}");
    }
}

/// `probe list` says where each probe stands and its last day's availability, and
/// `probe history` its runs by the hour and the day, as the server's probes stored them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_history_say_where_probes_stand_and_how_they_ran() {
    use tocsin_core::probe::Standing;
    use tocsin_store::probes::{LastRun, ProbeStatus, Rollup, Span};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (code, _, err) = run(&d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    common::add_to_plan(
        &d,
        "\n[[probe]]\nid = \"api\"\nname = \"API health\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\n\n[[probe]]\nid = \"site\"\nname = \"Site\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9\"\n",
    );
    // What a server's probes would have stored: "api" went down an hour ago.
    let store = tocsin_store::open(&format!("sqlite:{}/tocsin-data/tocsin.db", d.display()))
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    let hour_ago = now - jiff::SignedDuration::from_hours(1);
    let rollup = |span: Span, at: jiff::Timestamp, runs: u64, ok: u64| Rollup {
        probe: "api".into(),
        span,
        start: span.start_of(at),
        runs,
        ok,
        latency_sum_ms: 30 * runs,
        latency_max_ms: 90,
    };
    store
        .save_probe_runs(
            &[ProbeStatus {
                probe: "api".into(),
                standing: Standing {
                    up: false,
                    since: Some(hour_ago),
                    fails: 4,
                    oks: 0,
                },
                last: LastRun {
                    at: now,
                    ok: false,
                    latency_ms: 2,
                    detail: String::new(),
                    error: Some("cannot connect to 127.0.0.1:9: Connection refused".into()),
                },
            }],
            &[
                rollup(Span::Hour, hour_ago, 4, 4),
                rollup(Span::Hour, now, 4, 0),
                rollup(Span::Day, now, 8, 4),
            ],
        )
        .await
        .unwrap();
    drop(store);

    let said = tokio::task::spawn_blocking(move || {
        [
            vec!["probe", "list"],
            vec!["probe", "history", "api"],
            vec!["probe", "history", "api", "--days"],
            vec!["--json", "probe", "history", "api"],
            vec!["probe", "history", "apj"],
        ]
        .into_iter()
        .map(|args| run(&d, None, &args, b""))
        .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let (code, list, err) = &said[0];
    assert_eq!(*code, 0, "{err}");
    let line = |id: &str| list.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_owned();
    assert!(line("api").contains("down") && line("api").contains("50.00%"), "{list}");
    assert!(
        line("site").contains("unknown") && line("site").contains(" - "),
        "{list}"
    );

    let (code, hours, err) = &said[1];
    assert_eq!(*code, 0, "{err}");
    assert!(hours.starts_with("api (API health) is down since "), "{hours}");
    assert!(hours.contains("cannot connect to 127.0.0.1:9"), "{hours}");
    assert!(hours.contains("100.00%") && hours.contains("0.00%"), "{hours}");
    let (_, days, _) = &said[2];
    assert!(
        days.contains("DAY") && days.contains("50.00%") && days.contains("90"),
        "{days}"
    );
    let (_, json, _) = &said[3];
    let history: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(history["state"], "down");
    assert_eq!(history["hours"].as_array().unwrap().len(), 2, "{history}");
    assert_eq!(history["days"][0]["runs"], 8);
    let (code, _, err) = &said[4];
    assert_eq!(*code, 1);
    assert!(
        err.contains("the plan has no probe \"apj\"; did you mean \"api\"?"),
        "{err}"
    );
}
