//! The daily security audit end to end, on both backends: a weak page and one that does not
//! answer, a lockfile with a vulnerable and a stale dependency beside one that cannot be
//! read, OSV advisories from a loopback server speaking the OSV API (or an export
//! directory), an npm registry on loopback, rate-limit denials that look like people, and,
//! with PostgreSQL, a table that leaks one tenant's rows to another. The findings open
//! incidents at the plans' severities (an RLS bypass P2, a dependency CVE P3, a stale
//! dependency and drifted configuration P4); a second run opens nothing new; fixing the
//! dependency resolves its incident. The report is JSON, a page and a digest on the routes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tocsin_server::testing::{TestServer, within};
use tocsin_store::IncidentFilter;
use tocsin_store::testing::TestDb;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tocsin-core/tests/fixtures");

/// The fixture advisories, as the OSV API would hold them.
fn advisories() -> Vec<Value> {
    let mut out = Vec::new();
    for folder in ["osv/npm", "osv/other"] {
        for entry in std::fs::read_dir(format!("{FIXTURES}/{folder}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap());
            }
        }
    }
    out
}

/// The OSV API on loopback: `POST /v1/querybatch` names the advisories of each queried
/// package (by name; matching the version is the client's, as OSV's batch answers only
/// ids), `GET /v1/vulns/{id}` gives one.
async fn osv_api() -> SocketAddr {
    let all = Arc::new(advisories());
    let batch = Arc::clone(&all);
    let app = axum::Router::new()
        .route(
            "/v1/querybatch",
            axum::routing::post(move |Json(body): Json<Value>| {
                let all = Arc::clone(&batch);
                async move {
                    let results: Vec<Value> = body["queries"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|q| {
                            let vulns: Vec<Value> = all
                                .iter()
                                .filter(|a| {
                                    a["affected"].as_array().unwrap().iter().any(|x| {
                                        x["package"]["name"] == q["package"]["name"]
                                            && x["package"]["ecosystem"] == q["package"]["ecosystem"]
                                    })
                                })
                                .map(|a| json!({"id": a["id"], "modified": "2026-11-01T00:00:00Z"}))
                                .collect();
                            if vulns.is_empty() {
                                json!({})
                            } else {
                                json!({ "vulns": vulns })
                            }
                        })
                        .collect();
                    Json(json!({ "results": results }))
                }
            }),
        )
        .route(
            "/v1/vulns/{id}",
            axum::routing::get(move |Path(id): Path<String>| {
                let all = Arc::clone(&all);
                async move {
                    match all.iter().find(|a| a["id"] == id.as_str()) {
                        Some(a) => Json(a.clone()).into_response(),
                        None => (
                            StatusCode::NOT_FOUND,
                            Json(json!({"code": 5, "message": "Bug not found."})),
                        )
                            .into_response(),
                    }
                }
            }),
        );
    serve(app).await
}

/// An npm registry on loopback with each package's `latest` tag, and a page with no
/// security headers, and a webhook that takes anything.
async fn registry_and_pages() -> SocketAddr {
    let latest = BTreeMap::from([("lodash", "4.17.21"), ("@acme/ui", "4.0.0"), ("jest", "29.7.0")]);
    let app = axum::Router::new()
        .route(
            "/weak",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/html")],
                    "<html><script src=\"https://cdn.example.com/app.js\"></script></html>",
                )
            }),
        )
        .route("/hook", axum::routing::post(|| async { StatusCode::OK }))
        .route(
            "/npm/{name}",
            axum::routing::get(move |Path(name): Path<String>| async move {
                match latest.get(name.as_str()) {
                    Some(v) => Json(json!({"name": name, "dist-tags": {"latest": v}, "versions": {}})).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        );
    serve(app).await
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// A schema on the local PostgreSQL with a table that does not keep tenants apart; the
/// `[[daily_audit.database]]` table for it and its schema's name.
async fn leaky_schema(url: &str, secrets: &std::path::Path) -> (String, String) {
    use sqlx::Connection;
    let tag = format!(
        "{:x}",
        std::process::id() ^ (jiff::Timestamp::now().as_millisecond() as u32)
    );
    let (s, app) = (format!("aud_{tag}"), format!("aud_app_{tag}"));
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {s}; CREATE ROLE {app} NOLOGIN; GRANT USAGE ON SCHEMA {s} TO {app};
         CREATE TABLE {s}.invoices (id int, tenant_id int);
         INSERT INTO {s}.invoices VALUES (1, 1), (2, 2);
         GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {app};"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    let file = secrets.join("app-db-url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let table = format!(
        "[[daily_audit.database]]\nname = \"app\"\nsecret_file = \"{}\"\ntenant_columns = [\"tenant_id\"]\napp_role = \"{app}\"\ntenant_setting = \"app.tenant_id\"\nprobe_tenant = \"1\"\n",
        file.display()
    );
    (table, s)
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let app = schema.replacen("aud_", "aud_app_", 1);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {schema} CASCADE; DROP ROLE {app};"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
}

fn postgres() -> Option<String> {
    tocsin_store::testing::postgres_url()
}

/// One check's part of a report.
fn check_of(report: &Value, name: &str) -> Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("{name} in {report}"))
        .clone()
}

struct Setup {
    osv: SocketAddr,
    web: SocketAddr,
    database: Option<(String, String)>,
}

async fn one_backend(db: TestDb, setup: Arc<Setup>, offline: bool) {
    let work = tempfile::tempdir().unwrap();
    let lock = work.path().join("package-lock.json");
    std::fs::copy(format!("{FIXTURES}/lockfiles/package-lock.json"), &lock).unwrap();
    let broken = work.path().join("Cargo.lock");
    std::fs::write(&broken, "this is [[ not a lockfile").unwrap();
    let hook_secret = work.path().join("hook-secret");
    std::fs::write(&hook_secret, "whsec_audit-test-secret").unwrap();
    let web = setup.web;
    let osv = match offline {
        true => format!("osv_dir = \"{FIXTURES}/osv\""),
        false => format!("osv_api = \"http://{}\"", setup.osv),
    };
    let plan = format!(
        r#"{preset}
[[rate_limit]]
policy = "password_reset"
limit = 3
per = "1h"

[[channel]]
name = "hook"
type = "webhook"
url = "http://{web}/hook"
secret_file = "{hook_secret}"

[[route]]
channels = ["hook"]
events = ["audit_digest"]

[daily_audit]
at = "06:00"
urls = ["http://{web}/weak", "http://127.0.0.1:1/"]
lockfiles = ["{lock}", "{broken}"]
{osv}
registries = {{ npm = "http://{web}/npm" }}
{database}"#,
        // The preset's own [daily_audit], with nothing to look at, gives way to this one.
        preset = tocsin_core::plan::presets::FOUR_TIER
            .source
            .replace("[daily_audit]\nat = \"06:00\"\n", ""),
        lock = lock.display(),
        broken = broken.display(),
        hook_secret = hook_secret.display(),
        database = setup.database.as_ref().map_or("", |(table, _)| table.as_str()),
    );
    let server = TestServer::start_with_plan(db, Default::default(), &plan).await;
    let backend = server.backend();
    let responder = server.token_secret("respond").await;
    let ingest = server.token_secret("ingest").await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    // Six people each went over the password-reset limit once: no attack.
    let now = jiff::Timestamp::now();
    let denials: String = (0..6)
        .map(|i| format!("{{\"kind\":\"rate_limit\",\"ts\":\"{now}\",\"key\":\"user{i}@example.com\",\"policy\":\"password_reset\",\"decision\":\"deny\"}}\n"))
        .collect();
    let posted = client
        .post(format!("{}/api/v1/events", server.url))
        .bearer_auth(&ingest)
        .header("content-type", "application/x-ndjson")
        .body(denials)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200, "{backend}: {}", posted.text().await.unwrap());
    within(10, "the denials in the log", || async {
        let n = server
            .store
            .events_before(
                &tocsin_store::events::EventQuery {
                    kind: Some("rate_limit".into()),
                    ..Default::default()
                },
                10,
            )
            .await
            .unwrap()
            .len();
        (n == 6).then_some(())
    })
    .await;

    let run = || async {
        let response = client
            .post(format!("{}/api/v1/daily-audits/run", server.url))
            .bearer_auth(&responder)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend}");
        response.json::<Value>().await.unwrap()
    };
    let first = run().await;
    let report = &first["report"];
    let check = |name: &str| check_of(report, name);
    assert_eq!(
        report["checks"].as_array().unwrap().len(),
        8,
        "{backend}: the eight checks"
    );
    for quiet in ["failed_logins", "error_rates", "stale_agents", "vault_access"] {
        assert_eq!(check(quiet)["outcome"], "pass", "{backend}: {quiet}");
    }
    let keys: BTreeSet<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().iter())
        .map(|f| f["key"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        format!("headers:http://{web}/weak"),
        "headers:http://127.0.0.1:1/:unreachable".to_owned(),
        "osv:TEST-LODASH:npm/lodash@4.17.20".to_owned(),
        "osv:TEST-LODASH:npm/lodash@4.17.11".to_owned(),
        "stale:npm/@acme/ui".to_owned(),
        format!("lockfile:{}:unreadable", broken.display()),
        "rate_limit:password_reset:too tight".to_owned(),
    ] {
        assert!(keys.contains(&expected), "{backend}: {expected} not in {keys:?}");
    }
    let headers = check("security_headers");
    assert_eq!(headers["details"]["pages"][0]["grade"], "F", "{backend}: {headers}");
    let weak = headers["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == format!("headers:http://{web}/weak"))
        .unwrap();
    assert!(
        weak["detail"].as_str().unwrap().contains("content-security-policy"),
        "each failing test with its reason: {weak}"
    );
    let deps = check("dependencies");
    let summary = deps["summary"].as_str().unwrap();
    assert!(summary.contains("vulnerable"), "{backend}: {summary}");
    assert!(summary.contains("freshness: "), "{backend}: {summary}");
    let lodash = deps["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "osv:TEST-LODASH:npm/lodash@4.17.20")
        .unwrap();
    assert!(
        lodash["detail"]
            .as_str()
            .unwrap()
            .contains("Severity HIGH; fixed in 4.17.21"),
        "{lodash}"
    );
    assert!(
        !keys.iter().any(|k| k.starts_with("stale:npm/lodash")),
        "a patch behind is not stale"
    );
    if let Some((_, schema)) = &setup.database {
        let isolation = check("data_isolation");
        assert_eq!(isolation["outcome"], "findings", "{backend}: {isolation}");
        assert!(
            keys.contains(&format!("isolation:app:cross-tenant-rows:{schema}.invoices")),
            "{backend}: {keys:?}"
        );
    } else {
        assert_eq!(check("data_isolation")["outcome"], "not_configured");
    }
    assert!(report["changes"]["first"].as_bool().unwrap());
    assert!(
        first["title"].as_str().unwrap().starts_with("Daily security audit: "),
        "{first}"
    );

    // The findings open incidents through the alerts' path, one per group, at the
    // severities of their tiers.
    let mut wanted: BTreeMap<&str, &str> = BTreeMap::from([("P3", "is affected by TEST-LODASH"), ("P4", "grades F")]);
    if setup.database.is_some() {
        wanted.insert("P2", "app: no rls");
    }
    let incidents = within(30, "the audit's incidents", || async {
        let list = server.store.incidents(&IncidentFilter::default()).await.unwrap();
        let ok = wanted
            .iter()
            .all(|(severity, words)| list.iter().any(|i| i.severity == *severity && i.title.contains(words)));
        (ok && list.len() >= 6).then_some(list)
    })
    .await;
    let opened = incidents.len();
    let cve = incidents
        .iter()
        .find(|i| i.title.contains("TEST-LODASH"))
        .unwrap()
        .number;
    for group in ["@acme/ui", "could not be read", "password_reset"] {
        assert!(
            incidents.iter().any(|i| i.severity == "P4" && i.title.contains(group)),
            "{backend}: no P4 incident for {group}: {:?}",
            incidents.iter().map(|i| (&i.severity, &i.title)).collect::<Vec<_>>()
        );
    }

    // A second run: every finding persists, joins its incident, and opens nothing new.
    let second = run().await;
    assert_eq!(second["report"]["changes"]["new"], json!([]), "{backend}");
    assert_eq!(
        second["report"]["changes"]["persisting"].as_u64().unwrap(),
        keys.len() as u64
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        server.store.incidents(&IncidentFilter::default()).await.unwrap().len(),
        opened,
        "{backend}: a persisting finding opened another incident"
    );

    // Fixed: both lodash versions moved to 4.17.21. Their findings are gone, and the
    // incident they opened resolves.
    let fixed = std::fs::read_to_string(&lock)
        .unwrap()
        .replace("4.17.20", "4.17.21")
        .replace("4.17.11", "4.17.21");
    std::fs::write(&lock, fixed).unwrap();
    let third = run().await;
    let gone: Vec<&str> = third["report"]["changes"]["gone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        gone,
        [
            "osv:TEST-LODASH:npm/lodash@4.17.11",
            "osv:TEST-LODASH:npm/lodash@4.17.20"
        ],
        "{backend}"
    );
    within(30, "the CVE's incident resolved", || async {
        let list = server.store.incidents(&IncidentFilter::default()).await.unwrap();
        list.into_iter().find(|i| i.number == cve && !i.status.is_active())
    })
    .await;

    // The reports through the API, the digest on the route, and the page.
    let reader = server.token_secret("read").await;
    let get = |path: &str| {
        let request = client.get(format!("{}{path}", server.url)).bearer_auth(&reader);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let listed = get("/api/v1/daily-audits").await;
    assert_eq!(listed["reports"].as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(listed["reports"][0]["id"], third["id"]);
    let latest = get("/api/v1/daily-audits/latest").await;
    assert_eq!(latest["id"], third["id"]);
    let digests = server
        .store
        .outbox(&tocsin_store::outbox::OutboxFilter {
            channel: Some("hook".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let digests: Vec<_> = digests.iter().filter(|n| n.kind == "audit_digest").collect();
    assert_eq!(digests.len(), 3, "{backend}: one digest per report");
    let payload: Value = serde_json::from_str(&digests[0].payload).unwrap();
    assert!(
        payload["text"].as_str().unwrap().contains("Security headers: FOUND."),
        "{payload}"
    );
    let (cookie, _) = server.session_cookie(tocsin_core::identity::Role::Viewer).await;
    let page = client
        .get(format!("{}/daily-audit", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"check-security_headers\""), "{page}");
    assert!(page.contains("id=\"gone\""), "the gone findings are listed: {page}");
    assert!(!page.contains("Run the audit now"), "a viewer may not run it");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_audit_finds_reports_and_opens_incidents_at_the_plans_severities() {
    let secrets = tempfile::tempdir().unwrap();
    let url = postgres();
    let database = match &url {
        Some(url) => Some(leaky_schema(url, secrets.path()).await),
        None => None,
    };
    let setup = Arc::new(Setup {
        osv: osv_api().await,
        web: registry_and_pages().await,
        database,
    });
    let runs: Vec<_> = TestDb::all()
        .await
        .into_iter()
        .enumerate()
        .map(|(i, db)| tokio::spawn(one_backend(db, Arc::clone(&setup), i == 1)))
        .collect();
    let mut failed = None;
    for run in runs {
        if let Err(e) = run.await {
            failed = Some(e);
        }
    }
    if let (Some(url), Some((_, schema))) = (&url, &setup.database) {
        drop_schema(url, schema).await;
    }
    if let Some(e) = failed {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Nothing to ask: the OSV API and the registry do not answer, and the database refuses
/// the audit's login. The report says plainly that the vulnerabilities, the freshness and
/// the isolation were not checked, never that all is well; the refusal is a finding.
#[tokio::test]
async fn an_unreachable_osv_api_and_registry_are_said_never_a_silent_pass() {
    let work = tempfile::tempdir().unwrap();
    let lock = work.path().join("package-lock.json");
    std::fs::copy(format!("{FIXTURES}/lockfiles/package-lock.json"), &lock).unwrap();
    let url = work.path().join("db-url");
    std::fs::write(&url, "postgres://audit:wrong@127.0.0.1:1/app").unwrap();
    let plan = format!(
        "{}\n[daily_audit]\nlockfiles = [\"{}\"]\nosv_api = \"http://127.0.0.1:1\"\nregistries = {{ npm = \"http://127.0.0.1:1\" }}\n[[daily_audit.database]]\nname = \"app\"\nsecret_file = \"{}\"\ntenant_columns = [\"org_id\"]\n",
        tocsin_core::plan::presets::THREE_TIER.source,
        lock.display(),
        url.display()
    );
    let server = TestServer::start_with_plan(TestDb::sqlite(), Default::default(), &plan).await;
    let responder = server.token_secret("respond").await;
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/daily-audits/run", server.url))
        .bearer_auth(&responder)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deps = check_of(&answer["report"], "dependencies");
    assert_eq!(deps["outcome"], "failed", "{deps}");
    let summary = deps["summary"].as_str().unwrap();
    assert!(
        summary.contains("known vulnerabilities NOT checked: the OSV API at http://127.0.0.1:1 could not be reached"),
        "{summary}"
    );
    assert!(
        summary.contains("freshness UNKNOWN for 3 npm packages: the registry http://127.0.0.1:1 could not be reached"),
        "{summary}"
    );
    let isolation = check_of(&answer["report"], "data_isolation");
    assert_eq!(isolation["outcome"], "failed", "{isolation}");
    let finding = &isolation["findings"][0];
    assert_eq!(finding["key"], "isolation:app:not-checked");
    let why = finding["detail"].as_str().unwrap();
    assert!(why.starts_with("cannot connect to app"), "{why}");
    assert!(!why.contains("wrong"), "the URL's password is never said: {why}");
    assert!(
        answer["title"]
            .as_str()
            .unwrap()
            .contains("1 finding, 2 checks could not run"),
        "{answer}"
    );
    server.stop().await;
}

/// The schedule: nothing before the plan's time on a new server, the audit once the time
/// passes, not again that day, and on a server that was down at the time, as soon as it is
/// back. Driven one step at a time, at chosen times, on both backends.
#[tokio::test]
async fn the_schedule_runs_the_audit_once_a_day_at_the_plans_time_and_catches_up() {
    use tocsin_server::services::incidents::Desk;
    use tocsin_server::services::plans::PlanText;
    use tocsin_server::workers::audit::{Step, step};
    for db in TestDb::all().await {
        let store = db.open().await;
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        // The four-tier preset runs it at 06:00, in UTC.
        let text = PlanText::new(tocsin_core::plan::presets::FOUR_TIER.source.to_owned(), "test");
        let (desk, _) = Desk::open(
            Arc::clone(&store),
            &text,
            &tocsin_server::testing::admin_actor(),
            t("2026-12-01T09:00:00Z"),
        )
        .await
        .unwrap();
        let client = tocsin_server::services::audit::client();
        let started = t("2026-12-01T09:00:00Z");
        let at = |now: &str| step(&*store, &desk, &client, started, t(now));
        // Started after the day's time: it waits for tomorrow's.
        assert_eq!(at("2026-12-01T09:01:00Z").await, Step::NotDue);
        assert_eq!(at("2026-12-02T05:59:30Z").await, Step::NotDue);
        let Step::Ran(first) = at("2026-12-02T06:00:30Z").await else {
            panic!("not run at 06:00")
        };
        assert_eq!(at("2026-12-02T06:01:00Z").await, Step::NotDue);
        assert_eq!(at("2026-12-02T23:59:00Z").await, Step::NotDue);
        // Down from before 06:00 on the 3rd to 14:00 on the 4th: it runs once when back.
        let Step::Ran(second) = at("2026-12-04T14:00:00Z").await else {
            panic!("no catching up")
        };
        assert!(second > first);
        assert_eq!(at("2026-12-04T14:00:30Z").await, Step::NotDue);
        let (summary, report) = tocsin_server::services::audit::report(&*store, Some(second))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((summary.by.as_str(), report.checks.len()), ("schedule", 8));
        assert_eq!(report.changes.since, Some(t("2026-12-02T06:00:30Z")));
    }
}
