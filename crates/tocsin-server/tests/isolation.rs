//! The data isolation check against the local PostgreSQL, on a schema built to have each
//! problem it looks for: a table without row-level security, one not forced, one without
//! a policy, a view that is not security_invoker, a materialized view, a SECURITY DEFINER
//! function, an app role with BYPASSRLS; and the behavioural probe counting the rows of
//! other tenants as the app's role. A login the database refuses is said, without the URL.

use tocsin_server::services::isolation::{IsolationTarget, check};

fn postgres() -> Option<String> {
    tocsin_store::testing::postgres_url()
}

async fn run(url: &str, sql: String) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn every_way_one_tenant_reads_anothers_rows_is_found() {
    let Some(url) = postgres() else { return };
    let tag = format!(
        "{:x}",
        std::process::id() ^ (jiff::Timestamp::now().as_millisecond() as u32)
    );
    let s = format!("iso_{tag}");
    let app = format!("iso_app_{tag}");
    let admin = format!("iso_admin_{tag}");
    run(
        &url,
        format!(
            r#"
CREATE SCHEMA {s};
CREATE ROLE {app} NOLOGIN;
CREATE ROLE {admin} NOLOGIN BYPASSRLS;
GRANT USAGE ON SCHEMA {s} TO {app}, {admin};
-- Isolated as it should be.
CREATE TABLE {s}.orders (id int, tenant_id int);
ALTER TABLE {s}.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE {s}.orders FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON {s}.orders USING (tenant_id = current_setting('app.tenant_id')::int);
-- No row-level security at all.
CREATE TABLE {s}.invoices (id int, tenant_id int);
-- Not forced: its owner reads everything.
CREATE TABLE {s}.notes (id int, tenant_id int);
ALTER TABLE {s}.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON {s}.notes USING (tenant_id = current_setting('app.tenant_id')::int);
-- Enabled and forced, but no policy.
CREATE TABLE {s}.files (id int, tenant_id int);
ALTER TABLE {s}.files ENABLE ROW LEVEL SECURITY;
ALTER TABLE {s}.files FORCE ROW LEVEL SECURITY;
-- No tenant column: not the check's business.
CREATE TABLE {s}.countries (code text);
INSERT INTO {s}.orders VALUES (1, 1), (2, 2), (3, 2);
INSERT INTO {s}.invoices VALUES (1, 1), (2, 2), (3, 3);
INSERT INTO {s}.notes VALUES (1, 1), (2, 2);
INSERT INTO {s}.files VALUES (1, 2);
CREATE VIEW {s}.all_orders AS SELECT * FROM {s}.orders;
CREATE VIEW {s}.my_orders WITH (security_invoker = true) AS SELECT * FROM {s}.orders;
CREATE MATERIALIZED VIEW {s}.order_totals AS SELECT tenant_id, count(*) FROM {s}.orders GROUP BY tenant_id;
CREATE FUNCTION {s}.every_order() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM {s}.orders';
CREATE FUNCTION {s}.harmless() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {app}, {admin};
"#
        ),
    )
    .await;

    let target = |role: &str, probe: bool| IsolationTarget {
        name: "app database".into(),
        url: url.clone(),
        tenant_columns: vec!["tenant_id".into(), "org_id".into()],
        app_role: Some(role.to_owned()),
        probe: probe.then(|| ("app.tenant_id".to_owned(), "1".to_owned())),
    };
    let report = check(&target(&app, true)).await.unwrap();
    let ours = |subject: &str| subject.starts_with(&format!("{s}.")) || subject == app;
    let found: Vec<(&str, String, bool)> = report
        .findings
        .iter()
        .filter(|f| ours(&f.subject))
        .map(|f| {
            (
                f.kind,
                f.subject.trim_start_matches(&format!("{s}.")).to_owned(),
                f.leaks,
            )
        })
        .collect();
    let expected: Vec<(&str, String, bool)> = [
        ("rls-not-forced", "notes", false),
        ("no-policy", "files", false),
        ("no-rls", "invoices", true),
        ("view-not-security-invoker", "all_orders", true),
        ("materialized-view", "order_totals", true),
        ("security-definer-function", "every_order", true),
        ("cross-tenant-rows", "invoices", true),
    ]
    .into_iter()
    .map(|(k, s, l)| (k, s.to_owned(), l))
    .collect();
    let mut sorted_found = found.clone();
    sorted_found.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_found, sorted_expected, "{report:#?}");
    let tables: Vec<&String> = report.tenant_tables.iter().filter(|t| ours(t)).collect();
    assert_eq!(tables.len(), 4, "{tables:?}");
    let probed = |table: &str| {
        report
            .probed
            .iter()
            .find(|(t, _)| t == &format!("{s}.{table}"))
            .map(|(_, n)| *n)
    };
    assert_eq!(probed("orders"), Some(0), "the policy holds");
    assert_eq!(probed("invoices"), Some(2), "tenants 2 and 3 show through");
    assert_eq!(probed("notes"), Some(0), "the app's role is not the owner");
    let cross = report
        .findings
        .iter()
        .find(|f| f.kind == "cross-tenant-rows" && ours(&f.subject))
        .unwrap();
    assert_eq!(
        cross.detail,
        format!("as {app} with app.tenant_id = 1, 2 rows of other tenants are visible")
    );

    // An app role with BYPASSRLS reads every row, whatever the policies.
    let report = check(&target(&admin, true)).await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.kind == "app-role-bypasses-rls" && f.subject == admin && f.leaks),
        "{report:#?}"
    );
    assert_eq!(
        report
            .probed
            .iter()
            .find(|(t, _)| t == &format!("{s}.orders"))
            .map(|(_, n)| *n),
        Some(2)
    );
    // Without a tenant to read as, the probe says it did not run.
    let report = check(&target(&app, false)).await.unwrap();
    assert!(report.findings.iter().any(|f| f.kind == "probe-not-run"));
    assert!(report.probed.is_empty());
    // A role that does not exist, and a login the database refuses.
    let error = check(&target("nobody_at_all", true)).await.unwrap_err();
    assert_eq!(
        error,
        "app database has no role \"nobody_at_all\", the app's role the plan names"
    );
    let wrong = url.replacen("://postgres@", "://nobody-here:s3cret@", 1);
    let mut refused = target(&app, true);
    refused.url = wrong.clone();
    let error = check(&refused).await.unwrap_err();
    assert!(error.starts_with("cannot connect to app database: "), "{error}");
    assert!(!error.contains("s3cret") && !error.contains(&wrong), "{error}");

    run(
        &url,
        format!("DROP SCHEMA {s} CASCADE; DROP OWNED BY {app}, {admin}; DROP ROLE {app}; DROP ROLE {admin};"),
    )
    .await;
}
