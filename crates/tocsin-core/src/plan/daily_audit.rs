//! The daily security audit: `[daily_audit]`, when it runs and what it looks at beyond what
//! tocsin already holds (the detectors' findings and the rate limits): the pages whose
//! security headers it grades, the lockfiles whose packages it checks against OSV and the
//! registries, and the PostgreSQL databases whose tenants it checks are kept apart.

use std::collections::BTreeMap;

use super::read::{Located, Problems, Section, TableAt};
use super::secret::{SecretRef, secret_reference};
use crate::diagnostic::Diagnostic;

/// The OSV API tocsin asks when the plan names no export directory.
pub const OSV_API: &str = "https://api.osv.dev";

/// The registries asked for each ecosystem's newest versions, unless the plan names others.
pub const REGISTRIES: [(&str, &str); 5] = [
    ("crates.io", "https://crates.io"),
    ("npm", "https://registry.npmjs.org"),
    ("PyPI", "https://pypi.org"),
    ("Go", "https://proxy.golang.org"),
    ("RubyGems", "https://rubygems.org"),
];

/// The lowest grade a page may have before it is a finding, unless the plan says.
pub const MIN_GRADE_DEFAULT: &str = "B";

/// `[daily_audit]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyAudit {
    /// The time of day it runs, in minutes after midnight in the plan's time zone.
    pub at_minute: u16,
    /// The pages whose security headers are graded.
    pub urls: Vec<String>,
    /// The lowest grade that is not a finding.
    pub min_grade: String,
    /// The lockfiles read, by path.
    pub lockfiles: Vec<String>,
    /// An offline OSV export: a directory of advisories as JSON files (the export's
    /// `all.zip`, unpacked, for each ecosystem). When given, the OSV API is not asked.
    pub osv_dir: Option<String>,
    /// The OSV API's address; `None` when the plan turns it off (`osv_api = ""`).
    pub osv_api: Option<String>,
    /// Whether the registries are asked how far each direct dependency is behind.
    pub freshness: bool,
    /// The registry asked for each ecosystem (OSV's names: `crates.io`, `npm`, `PyPI`,
    /// `Go`, `RubyGems`).
    pub registries: BTreeMap<String, String>,
    /// The databases whose tenant isolation is checked.
    pub databases: Vec<AuditDatabase>,
}

/// A `[[daily_audit.database]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditDatabase {
    pub name: String,
    /// Its URL, credentials in it, by reference.
    pub secret: SecretRef,
    /// The columns that name a row's tenant.
    pub tenant_columns: Vec<String>,
    /// The role the application connects as.
    pub app_role: Option<String>,
    /// The setting the row-level security policies read, like `app.tenant_id`, and the
    /// tenant the behavioural probe sets in it.
    pub tenant_setting: Option<String>,
    pub probe_tenant: Option<String>,
}

/// Reads "06:30" as minutes after midnight.
fn time_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some(h * 60 + m)
}

/// `[daily_audit]`: `at` ("HH:MM", 06:00 when not given), `urls`, `min_grade`, `lockfiles`,
/// `osv_dir`, `osv_api`, `freshness`, `registries` (a table of ecosystem = base URL) and
/// `[[daily_audit.database]]` tables (`name`, the URL's secret, `tenant_columns`,
/// `app_role`, `tenant_setting` with `probe_tenant`).
pub(super) fn daily_audit(table: TableAt<'_, '_>, problems: &mut Problems) -> DailyAudit {
    let mut s = Section::new(table, "[daily_audit]");
    let at = s.opt_str("at", problems);
    let urls = s.str_list("urls", problems);
    let min_grade = s.opt_str("min_grade", problems);
    let lockfiles = s.str_list("lockfiles", problems);
    let osv_dir = s.opt_str("osv_dir", problems);
    let osv_api = s.opt_str("osv_api", problems);
    let freshness = s.opt_bool("freshness", problems).unwrap_or(true);
    let registries = s.str_table("registries", problems);
    let database_tables = s.tables("database", problems);
    s.finish(problems);
    let at_minute = match at {
        None => 6 * 60,
        Some(at) => time_of_day(&at.value).unwrap_or_else(|| {
            problems.push(
                Diagnostic::new(
                    at.span,
                    format!("at \"{}\" in [daily_audit] is not a time of day", at.value),
                )
                .with_hint("write it as HH:MM, like \"06:00\", in the organization's time zone"),
            );
            6 * 60
        }),
    };
    let web = |u: &Located<String>, key: &str, problems: &mut Problems| {
        let ok = u.value.starts_with("https://") || u.value.starts_with("http://");
        if !ok {
            problems.push(
                Diagnostic::new(
                    u.span.clone(),
                    format!("{key} \"{}\" in [daily_audit] is not http or https", u.value),
                )
                .with_hint("write it like \"https://app.example.com/\""),
            );
        }
        ok
    };
    let urls = urls
        .into_iter()
        .filter(|u| web(u, "url", problems))
        .map(|u| u.value)
        .collect();
    let min_grade = match min_grade {
        None => MIN_GRADE_DEFAULT.to_owned(),
        Some(g) if crate::headers::GRADES.contains(&g.value.as_str()) => g.value,
        Some(g) => {
            problems.push(
                Diagnostic::new(
                    g.span,
                    format!("min_grade \"{}\" in [daily_audit] is not a grade", g.value),
                )
                .with_hint("write one of A+, A, A-, B+, B, B-, C+, C, C-, D+, D, D-, F"),
            );
            MIN_GRADE_DEFAULT.to_owned()
        }
    };
    let lockfiles = lockfiles
        .into_iter()
        .filter(|l| {
            let known = crate::lockfiles::Format::of_file(&l.value).is_some();
            if !known {
                problems.push(
                    Diagnostic::new(l.span.clone(), format!("tocsin does not read the lockfile \"{}\"", l.value))
                        .with_hint("name a Cargo.lock, package-lock.json, pnpm-lock.yaml, yarn.lock, poetry.lock, requirements*.txt, go.sum or Gemfile.lock"),
                );
            }
            known
        })
        .map(|l| l.value)
        .collect();
    let osv_api = match osv_api {
        None => Some(OSV_API.to_owned()),
        Some(a) if a.value.is_empty() => None,
        Some(a) => web(&a, "osv_api", problems).then(|| a.value.trim_end_matches('/').to_owned()),
    };
    let mut known: BTreeMap<String, String> = REGISTRIES
        .iter()
        .map(|(e, u)| ((*e).to_owned(), (*u).to_owned()))
        .collect();
    for (ecosystem, url) in registries {
        if !known.contains_key(&ecosystem) {
            problems.push(
                Diagnostic::new(
                    url.span.clone(),
                    format!(
                        "registries in [daily_audit] names \"{ecosystem}\", which is not an ecosystem tocsin reads"
                    ),
                )
                .with_hint("name crates.io, npm, PyPI, Go or RubyGems"),
            );
            continue;
        }
        if web(&url, "the registry", problems) {
            known.insert(ecosystem, url.value.trim_end_matches('/').to_owned());
        }
    }
    let mut databases: Vec<AuditDatabase> = Vec::new();
    for (index, table) in database_tables.into_iter().enumerate() {
        let mut d = Section::new(table, format!("[[daily_audit.database]] #{}", index + 1));
        let name = d.str("name", "\"app\"", problems);
        let secret = secret_reference(&mut d, problems);
        let columns = d.str_list("tenant_columns", problems);
        let app_role = d.opt_str("app_role", problems);
        let setting = d.opt_str("tenant_setting", problems);
        let tenant = d.opt_str("probe_tenant", problems);
        let span = d.span();
        d.finish(problems);
        let Some(name) = name else { continue };
        if databases.iter().any(|other| other.name == name.value) {
            problems.push(Diagnostic::new(
                name.span.clone(),
                format!("[daily_audit] names the database \"{}\" twice", name.value),
            ));
        }
        let Some(secret) = secret else {
            problems.push(
                Diagnostic::new(span, format!("the audit's database \"{}\" names no URL", name.value))
                    .with_hint("add secret_env or secret_file: where its postgres:// URL is kept"),
            );
            continue;
        };
        if columns.is_empty() {
            problems.push(
                Diagnostic::new(
                    span.clone(),
                    format!("the audit's database \"{}\" names no tenant column", name.value),
                )
                .with_hint("add tenant_columns = [\"tenant_id\"]"),
            );
        }
        if setting.is_some() != tenant.is_some() {
            problems.push(
                Diagnostic::new(
                    span,
                    format!(
                        "the audit's database \"{}\" needs tenant_setting and probe_tenant together",
                        name.value
                    ),
                )
                .with_hint("the probe sets probe_tenant in tenant_setting, as the app does for a signed-in user"),
            );
        }
        databases.push(AuditDatabase {
            name: name.value,
            secret,
            tenant_columns: columns.into_iter().map(|c| c.value).collect(),
            app_role: app_role.map(|r| r.value),
            tenant_setting: setting.map(|s| s.value),
            probe_tenant: tenant.map(|t| t.value),
        });
    }
    DailyAudit {
        at_minute,
        urls,
        min_grade,
        lockfiles,
        osv_dir: osv_dir.map(|d| d.value),
        osv_api,
        freshness,
        registries: known,
        databases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    fn parse(section: &str) -> Result<Plan, String> {
        Plan::parse(&format!("{}\n{section}", crate::plan::presets::THREE_TIER.source)).map_err(|e| {
            e.problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn a_daily_audit_reads_its_time_targets_and_databases() {
        let plan = parse(
            "[daily_audit]\nat = \"05:30\"\nurls = [\"https://app.example.com/\"]\nlockfiles = [\"/srv/app/Cargo.lock\"]\nosv_dir = \"/var/lib/osv\"\nregistries = { npm = \"http://127.0.0.1:9/\" }\n[[daily_audit.database]]\nname = \"app\"\nsecret_env = \"APP_DB\"\ntenant_columns = [\"org_id\"]\napp_role = \"app\"\ntenant_setting = \"app.org\"\nprobe_tenant = \"1\"\n",
        )
        .unwrap();
        let audit = plan.daily_audit().unwrap();
        assert_eq!(audit.at_minute, 330);
        assert_eq!(audit.min_grade, "B");
        assert_eq!(audit.osv_api.as_deref(), Some(OSV_API));
        assert_eq!(audit.registries["npm"], "http://127.0.0.1:9");
        assert_eq!(audit.registries["PyPI"], "https://pypi.org");
        assert_eq!(audit.databases[0].secret, SecretRef::Env("APP_DB".into()));
    }

    #[test]
    fn a_daily_audit_refuses_what_it_cannot_do_naming_it() {
        let problems = parse(
            "[daily_audit]\nat = \"25:00\"\nurls = [\"ftp://x\"]\nmin_grade = \"Z\"\nlockfiles = [\"deps.lst\"]\nregistries = { maven = \"https://repo1.maven.org\" }\n[[daily_audit.database]]\nname = \"app\"\nsecret = \"postgres://u:p@h/db\"\ntenant_setting = \"app.org\"\n",
        )
        .unwrap_err();
        for expected in [
            "at \"25:00\" in [daily_audit] is not a time of day",
            "url \"ftp://x\" in [daily_audit] is not http or https",
            "min_grade \"Z\" in [daily_audit] is not a grade",
            "tocsin does not read the lockfile \"deps.lst\"",
            "\"maven\", which is not an ecosystem tocsin reads",
            "a secret must not be written in the plan",
            "the audit's database \"app\" names no URL",
        ] {
            assert!(problems.contains(expected), "{expected} not in:\n{problems}");
        }
    }
}
