//! The daily audit's data isolation check, against a PostgreSQL database the plan names:
//! an inventory of the tables with a tenant column and what keeps one tenant from another's
//! rows, then a behavioural probe that reads as the app's role with one tenant set and
//! counts the rows of the others. Everything runs in one read-only transaction that is
//! rolled back; the database's URL (credentials in it) never appears in what is said.

use serde::Serialize;
use sqlx::{Connection, Row};

/// What to check, from the plan.
#[derive(Clone, Debug)]
pub struct IsolationTarget {
    /// A name for the database in findings.
    pub name: String,
    pub url: String,
    /// The columns that name a row's tenant.
    pub tenant_columns: Vec<String>,
    /// The role the application uses; the audit's own login when `None`.
    pub app_role: Option<String>,
    /// The setting the row-level security policies read the tenant from, like
    /// `app.tenant_id`, and the tenant to set for the behavioural probe.
    pub probe: Option<(String, String)>,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IsolationFinding {
    /// `no-rls`, `rls-not-forced`, `no-policy`, `view-not-security-invoker`,
    /// `materialized-view`, `security-definer-function`, `app-role-bypasses-rls`,
    /// `cross-tenant-rows`, `probe-not-run`, `probe-failed`.
    pub kind: &'static str,
    /// The table, view, function or role it is about, schema-qualified.
    pub subject: String,
    pub detail: String,
    /// Whether it lets one tenant read another's rows today, not only one mistake away.
    pub leaks: bool,
}

/// What the check found in one database.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IsolationReport {
    pub database: String,
    /// The tables with a tenant column, schema-qualified.
    pub tenant_tables: Vec<String>,
    pub findings: Vec<IsolationFinding>,
    /// Rows of other tenants counted per table by the behavioural probe, when it ran.
    pub probed: Vec<(String, i64)>,
}

fn finding(kind: &'static str, subject: String, detail: String, leaks: bool) -> IsolationFinding {
    IsolationFinding {
        kind,
        subject,
        detail,
        leaks,
    }
}

/// A SQL identifier, quoted.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

struct Table {
    schema: String,
    name: String,
    column: String,
    rls: bool,
    forced: bool,
    owner: String,
    policies: i64,
}

impl Table {
    fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    fn sql(&self) -> String {
        format!("{}.{}", quoted(&self.schema), quoted(&self.name))
    }
}

/// Runs the check; an error says why it could not (a refused login, a missing role), in
/// words that leave the URL out.
pub async fn check(target: &IsolationTarget) -> Result<IsolationReport, String> {
    let hide = |e: sqlx::Error| e.to_string().replace(&target.url, "[the database URL]");
    let mut connection = sqlx::PgConnection::connect(&target.url)
        .await
        .map_err(|e| format!("cannot connect to {}: {}", target.name, hide(e)))?;
    let result = inspect(&mut connection, target).await.map_err(|e| match e {
        Failure::Sql(e) => format!("the check of {} failed: {}", target.name, hide(e)),
        Failure::Said(text) => text,
    });
    let _ = connection.close().await;
    result
}

enum Failure {
    Sql(sqlx::Error),
    Said(String),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

async fn inspect(connection: &mut sqlx::PgConnection, target: &IsolationTarget) -> Result<IsolationReport, Failure> {
    let mut tx = connection.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
    let login: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await?;
    let app = target.app_role.clone().unwrap_or_else(|| login.clone());
    let role = sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1")
        .bind(&app)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            Failure::Said(format!(
                "{} has no role \"{app}\", the app's role the plan names",
                target.name
            ))
        })?;
    let mut report = IsolationReport {
        database: target.name.clone(),
        ..IsolationReport::default()
    };
    let (superuser, bypass): (bool, bool) = (role.try_get("rolsuper")?, role.try_get("rolbypassrls")?);
    if superuser || bypass {
        let what = if superuser { "a superuser" } else { "BYPASSRLS" };
        let whose = if target.app_role.is_some() {
            "the app's role"
        } else {
            "the audit's login, taken as the app's role since the plan names none,"
        };
        report.findings.push(finding(
            "app-role-bypasses-rls",
            app.clone(),
            format!("{whose} is {what}: row-level security does not apply to it"),
            true,
        ));
    }

    let rows = sqlx::query(
        "SELECT n.nspname AS schema, c.relname AS name, a.attname AS column_name, c.relrowsecurity AS rls,
                c.relforcerowsecurity AS forced, pg_get_userbyid(c.relowner) AS owner,
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
           AND a.attname = ANY($1)
         ORDER BY 1, 2, 3",
    )
    .bind(&target.tenant_columns)
    .fetch_all(&mut *tx)
    .await?;
    let mut tables: Vec<Table> = Vec::new();
    for row in &rows {
        let table = Table {
            schema: row.try_get("schema")?,
            name: row.try_get("name")?,
            column: row.try_get("column_name")?,
            rls: row.try_get("rls")?,
            forced: row.try_get("forced")?,
            owner: row.try_get("owner")?,
            policies: row.try_get("policies")?,
        };
        // A table with two tenant columns is checked by its first.
        if !tables.iter().any(|t| t.schema == table.schema && t.name == table.name) {
            tables.push(table);
        }
    }
    report.tenant_tables = tables.iter().map(Table::qualified).collect();
    for t in &tables {
        let subject = t.qualified();
        if !t.rls {
            report.findings.push(finding(
                "no-rls",
                subject.clone(),
                format!("has the tenant column {} but no row-level security", t.column),
                true,
            ));
            continue;
        }
        if t.policies == 0 {
            report.findings.push(finding(
                "no-policy",
                subject.clone(),
                "has row-level security but no policy: it shows no rows to the app, or all rows to its owner".into(),
                false,
            ));
        }
        if !t.forced {
            let owned = t.owner == app;
            report.findings.push(finding(
                "rls-not-forced",
                subject.clone(),
                format!(
                    "row-level security is not forced, so its owner {} reads every tenant's rows{}",
                    t.owner,
                    if owned {
                        ", and the app's role is that owner"
                    } else {
                        ""
                    }
                ),
                owned,
            ));
        }
    }
    let oids: Vec<String> = tables.iter().map(Table::sql).collect();

    // Views and materialized views over tenant tables: a view runs with its owner's rights
    // unless it is security_invoker, and a materialized view has no row-level security.
    let views = sqlx::query(
        "SELECT DISTINCT n.nspname AS schema, v.relname AS name, v.relkind::text AS kind,
                coalesce(array_to_string(v.reloptions, ','), '') AS options
         FROM pg_class v
         JOIN pg_namespace n ON n.oid = v.relnamespace
         JOIN pg_rewrite r ON r.ev_class = v.oid
         JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
         WHERE v.relkind IN ('v', 'm') AND d.refobjid = ANY($1::regclass[]::oid[]) AND d.refobjid <> v.oid
         ORDER BY 1, 2",
    )
    .bind(&oids)
    .fetch_all(&mut *tx)
    .await?;
    for v in &views {
        let subject = format!(
            "{}.{}",
            v.try_get::<String, _>("schema")?,
            v.try_get::<String, _>("name")?
        );
        let kind: String = v.try_get("kind")?;
        let options: String = v.try_get("options")?;
        let invoker = options.split(',').any(|o| {
            o.split_once('=')
                .is_some_and(|(k, val)| k == "security_invoker" && matches!(val, "true" | "on" | "1" | "yes"))
        });
        if kind == "m" {
            report.findings.push(finding(
                "materialized-view",
                subject,
                "is a materialized view of a tenant table: it has no row-level security".into(),
                true,
            ));
        } else if !invoker {
            report.findings.push(finding(
                "view-not-security-invoker",
                subject,
                "reads a tenant table with its owner's rights (not security_invoker), past the table's policies".into(),
                true,
            ));
        }
    }

    // SECURITY DEFINER functions that name a tenant table run as their owner.
    let functions = sqlx::query(
        "SELECT n.nspname AS schema, p.proname AS name, pg_get_userbyid(p.proowner) AS owner, p.prosrc AS source
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *tx)
    .await?;
    for f in &functions {
        let source: String = f
            .try_get::<Option<String>, _>("source")?
            .unwrap_or_default()
            .to_lowercase();
        let named: Vec<&Table> = tables
            .iter()
            .filter(|t| source.contains(&t.name.to_lowercase()))
            .collect();
        if named.is_empty() {
            continue;
        }
        let owner: String = f.try_get("owner")?;
        report.findings.push(finding(
            "security-definer-function",
            format!(
                "{}.{}",
                f.try_get::<String, _>("schema")?,
                f.try_get::<String, _>("name")?
            ),
            format!(
                "is SECURITY DEFINER, runs as {owner} and reads {}",
                named.iter().map(|t| t.qualified()).collect::<Vec<_>>().join(", ")
            ),
            true,
        ));
    }

    // The behavioural probe: as the app's role, with one tenant set, count the others' rows.
    match &target.probe {
        None => report.findings.push(finding(
            "probe-not-run",
            target.name.clone(),
            "the plan names no tenant setting and tenant to read as, so no rows were counted".into(),
            false,
        )),
        Some((setting, tenant)) => {
            if app != login {
                // Identifiers cannot be bound; they are quoted.
                sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {}", quoted(&app))))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("SELECT set_config($1, $2, true)")
                .bind(setting)
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
            for t in &tables {
                sqlx::query("SAVEPOINT probe").execute(&mut *tx).await?;
                let counted = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {} WHERE {}::text IS DISTINCT FROM $1",
                    t.sql(),
                    quoted(&t.column)
                )))
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await;
                match counted {
                    Ok(n) => {
                        report.probed.push((t.qualified(), n));
                        if n > 0 {
                            report.findings.push(finding(
                                "cross-tenant-rows",
                                t.qualified(),
                                format!("as {app} with {setting} = {tenant}, {n} rows of other tenants are visible"),
                                true,
                            ));
                        }
                    }
                    Err(sqlx::Error::Database(e)) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT probe").execute(&mut *tx).await?;
                        // The app's role may not read every table: that is no leak. Any
                        // other refusal (a policy reading another setting) is said.
                        if e.code().as_deref() != Some("42501") {
                            report.findings.push(finding(
                                "probe-failed",
                                t.qualified(),
                                format!(
                                    "as {app} with {setting} = {tenant}, counting its rows failed: {}",
                                    e.message()
                                ),
                                false,
                            ));
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    tx.rollback().await?;
    Ok(report)
}
