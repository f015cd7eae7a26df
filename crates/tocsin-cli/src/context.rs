//! What every command needs: the plan, the database, who acts, the time and how to print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, IncidentNumber};
use tocsin_core::plan::{Plan, digest_of, presets};
use tocsin_server::Desk;
use tocsin_server::services::plans::{ActivePlan, PlanText};
use tocsin_server::services::seal::{HEADS_FILE, KEY_FILE, SealPaths};
use tocsin_store::{Store, sqlite_path};

use crate::args::Global;

/// Where the plan came from.
#[derive(Debug, Clone)]
pub enum PlanSource {
    File(PathBuf),
    /// No plan file: the default preset.
    Preset(&'static str),
}

#[derive(Debug)]
pub struct Context {
    pub global: Global,
    pub now: Timestamp,
    /// The database's desk, once opened.
    desk: tokio::sync::OnceCell<Desk>,
    /// The database once opened, shared by the desk and the commands' own reads.
    opened: std::sync::OnceLock<Arc<dyn Store>>,
}

pub const DEFAULT_PLAN: &str = "tocsin.toml";

impl Context {
    pub fn new(global: Global) -> Self {
        Context {
            global,
            now: tocsin_core::to_millis(Timestamp::now()),
            desk: tokio::sync::OnceCell::new(),
            opened: std::sync::OnceLock::new(),
        }
    }

    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Colour only on a terminal, and never when NO_COLOR is set.
    pub fn colour(&self) -> bool {
        std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
            && std::env::var("TERM").map_or(true, |t| t != "dumb")
    }

    pub fn plan_path(&self) -> PathBuf {
        self.global.plan.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PLAN))
    }

    /// The plan's text and where it came from.
    pub fn plan_source(&self) -> anyhow::Result<(String, PlanSource)> {
        let path = self.plan_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((text, PlanSource::File(path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.global.plan.is_none() => Ok((
                presets::FOUR_TIER.source.to_owned(),
                PlanSource::Preset(presets::FOUR_TIER.name),
            )),
            Err(e) => Err(anyhow!("cannot read the plan {}: {e}", path.display())),
        }
    }

    /// The local plan's text: the file, or the preset where there is none.
    pub fn plan_text(&self) -> anyhow::Result<(PlanText, PlanSource)> {
        let (text, source) = self.plan_source()?;
        let name = match &source {
            PlanSource::File(path) => path.display().to_string(),
            PlanSource::Preset(name) => format!("the {name} preset"),
        };
        Ok((PlanText { text, source: name }, source))
    }

    /// The plan this command follows: the database's active version, or, before there is a
    /// database, the local plan that will be its first version. A one-line error that
    /// points to `tocsin plan check` when that is not valid.
    pub async fn plan(&self) -> anyhow::Result<Arc<Plan>> {
        if let Some(desk) = self.desk(false).await? {
            return Ok(desk.plan());
        }
        let (text, source) = self.plan_source()?;
        Ok(Arc::new(self.parse_plan(&text, &source)?))
    }

    pub fn parse_plan(&self, text: &str, source: &PlanSource) -> anyhow::Result<Plan> {
        Plan::parse(text).map_err(|e| {
            let name = match source {
                PlanSource::File(path) => path.display().to_string(),
                PlanSource::Preset(name) => (*name).to_owned(),
            };
            anyhow!(
                "{name} has {} problem(s); run `tocsin plan check` to see them",
                e.problems.len()
            )
        })
    }

    pub fn actor(&self) -> anyhow::Result<Actor> {
        let name = match &self.global.actor {
            Some(name) => name.clone(),
            None => std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "cli".into()),
        };
        Actor::parse(&name).map_err(|e| anyhow!("--as: {e}"))
    }

    /// Opens the database, creating it if `create` (only declaring creates one).
    /// `None`: an SQLite database that does not exist yet.
    pub async fn store(&self, create: bool) -> anyhow::Result<Option<Arc<dyn Store>>> {
        if let Some(store) = self.opened.get() {
            return Ok(Some(Arc::clone(store)));
        }
        let url = &self.global.db;
        if !create
            && let Some(path) = sqlite_path(url)
            && !Path::new(path).exists()
        {
            return Ok(None);
        }
        let store = tocsin_store::open(url).await.map_err(|e| anyhow!("{e}"))?;
        Ok(Some(Arc::clone(self.opened.get_or_init(|| store))))
    }

    /// The database [`Context::desk`] opened.
    pub fn opened(&self) -> anyhow::Result<Arc<dyn Store>> {
        self.opened
            .get()
            .cloned()
            .ok_or_else(|| anyhow!("the database is not open"))
    }

    /// The desk of the database, following its active plan; a new database takes the local
    /// plan as its first version. `None`: an SQLite database that does not exist yet and
    /// `create` is false. A local plan file that differs from the active version is said
    /// in one line on stderr; the active version is followed all the same.
    pub async fn desk(&self, create: bool) -> anyhow::Result<Option<Desk>> {
        if let Some(desk) = self.desk.get() {
            return Ok(Some(desk.clone()));
        }
        let Some(store) = self.store(create).await? else {
            return Ok(None);
        };
        let (local, source) = self.plan_text()?;
        let actor = self.actor()?;
        let active = ActivePlan::of(&*store, || local.clone(), &actor, self.now)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        if let PlanSource::File(path) = &source
            && digest_of(&local.text) != active.version.digest
        {
            eprintln!(
                "note: {} differs from the active plan (version {}, applied by {}); following the active version (`tocsin plan diff` shows how they differ, `tocsin plan apply` makes the file active)",
                path.display(),
                active.version.version,
                active.version.applied_by
            );
        }
        let desk = self
            .desk
            .get_or_init(|| async { Desk::new(store, active).with_seal(self.seal_paths()) })
            .await;
        Ok(Some(desk.clone()))
    }

    /// The desk of an existing database, for changing `number`.
    pub async fn desk_for(&self, number: IncidentNumber) -> anyhow::Result<Desk> {
        match self.desk(false).await? {
            Some(desk) => Ok(desk),
            None => bail!(
                "unknown incident {number}: there is no database at {} yet",
                self.global.db
            ),
        }
    }

    /// Where tocsin keeps its files: beside an SQLite database, else ./tocsin-data.
    pub fn data_folder(&self) -> PathBuf {
        sqlite_path(&self.global.db)
            .and_then(|p| Path::new(p).parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("tocsin-data"), Path::to_path_buf)
    }

    /// Where the signing key and the signed heads are: as named, or in the data folder.
    pub fn seal_paths(&self) -> SealPaths {
        let key = self
            .global
            .key
            .clone()
            .unwrap_or_else(|| self.data_folder().join(KEY_FILE));
        let heads = self.global.heads.clone().unwrap_or_else(|| {
            key.parent()
                .map_or_else(|| PathBuf::from(HEADS_FILE), |dir| dir.join(HEADS_FILE))
        });
        SealPaths { key, heads }
    }

    /// Reads a time: RFC 3339, a local time in the plan's zone, or `15m ago`.
    pub fn time(&self, flag: &str, text: &str, plan: &Plan) -> anyhow::Result<Timestamp> {
        tocsin_server::phrases::parse_time(text, plan.calendar().zone(), self.now)
            .map_err(|cause| anyhow::anyhow!(cause))
            .with_context(|| {
                format!(
                    "{flag} \"{text}\" is not a time; write 2026-11-20T09:12:00Z, 2026-11-20 10:12 ({}) or 15m ago",
                    plan.calendar().zone_name()
                )
            })
    }

    pub fn at(&self, text: Option<&String>, plan: &Plan) -> anyhow::Result<Option<Timestamp>> {
        text.map(|t| self.time("--at", t, plan)).transpose()
    }
}

pub fn incident_number(text: &str) -> anyhow::Result<IncidentNumber> {
    text.parse().map_err(|e: String| anyhow!(e))
}
