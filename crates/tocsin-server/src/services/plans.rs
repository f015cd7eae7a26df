//! The plan every process follows: the database's active version, read once and then
//! whenever another is applied; applying one moves the clocks of the incidents under way.

use std::sync::{Arc, RwLock};

use tocsin_core::Timestamp;
use tocsin_core::incident::Actor;
use tocsin_core::plan::{Plan, PlanError};
use tocsin_store::StoreError;
use tocsin_store::plans::{Applied, ApplyWhen, NewPlanVersion, PlanVersion};

/// A plan text and where it came from: a file's path, a preset, the web UI.
#[derive(Clone, Debug)]
pub struct PlanText {
    pub text: String,
    pub source: String,
}

/// The active version, parsed.
#[derive(Debug)]
pub struct ActivePlan {
    pub version: PlanVersion,
    pub plan: Arc<Plan>,
}

/// Why a plan could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanProblem {
    /// The text is not a valid plan; nothing was applied.
    #[error("{origin} has {} problem(s); run `tocsin plan check` to see them", .error.problems.len())]
    Invalid {
        origin: String,
        text: String,
        error: PlanError,
    },
    /// A stored version no longer reads as a plan (written by another tocsin).
    #[error(
        "plan version {version} in the database is not a valid plan for this tocsin ({problems} problem(s)); apply a corrected one with `tocsin plan apply`"
    )]
    Unreadable { version: u64, problems: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PlanText {
    pub fn new(text: impl Into<String>, source: impl Into<String>) -> Self {
        PlanText {
            text: text.into(),
            source: source.into(),
        }
    }

    /// The text as a plan, or what is wrong with it.
    pub fn parse(&self) -> Result<Plan, PlanProblem> {
        Plan::parse(&self.text).map_err(|error| PlanProblem::Invalid {
            origin: self.source.clone(),
            text: self.text.clone(),
            error,
        })
    }
}

impl ActivePlan {
    /// A stored version, parsed.
    pub fn read(version: PlanVersion) -> Result<Self, PlanProblem> {
        let plan = Plan::parse(&version.text).map_err(|e| PlanProblem::Unreadable {
            version: version.version,
            problems: e.problems.len(),
        })?;
        Ok(ActivePlan {
            version,
            plan: Arc::new(plan),
        })
    }

    /// The active version of `store`; a database without a plan takes `first` as its first
    /// version (and so does the first of several processes starting together).
    pub async fn of(
        store: &dyn tocsin_store::Store,
        first: impl FnOnce() -> PlanText,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Self, PlanProblem> {
        if let Some(active) = store.active_plan().await? {
            return Self::read(active);
        }
        // Parsed once: a large plan costs tens of megabytes while it is read.
        let first = first();
        let plan = first.parse()?;
        let version = stored(store, &first, &plan, actor, now, ApplyWhen::First)
            .await?
            .version()
            .clone();
        if version.digest == plan.digest() {
            return Ok(ActivePlan {
                version,
                plan: Arc::new(plan),
            });
        }
        // Another process applied its first version meanwhile.
        drop(plan);
        Self::read(version)
    }
}

/// Stores `text` as the active version as `when` says; the text must be a valid plan.
pub async fn apply(
    store: &dyn tocsin_store::Store,
    text: &PlanText,
    actor: &Actor,
    now: Timestamp,
    when: ApplyWhen,
) -> Result<Applied, PlanProblem> {
    Ok(apply_read(store, text, actor, now, when).await?.0)
}

/// Like [`apply`], with the plan as it was read, so that it is not read again.
pub(crate) async fn apply_read(
    store: &dyn tocsin_store::Store,
    text: &PlanText,
    actor: &Actor,
    now: Timestamp,
    when: ApplyWhen,
) -> Result<(Applied, Plan), PlanProblem> {
    let plan = text.parse()?;
    let applied = stored(store, text, &plan, actor, now, when).await?;
    Ok((applied, plan))
}

/// Stores `text`, which reads as `plan`, as [`apply`] does.
async fn stored(
    store: &dyn tocsin_store::Store,
    text: &PlanText,
    plan: &Plan,
    actor: &Actor,
    now: Timestamp,
    when: ApplyWhen,
) -> Result<Applied, PlanProblem> {
    let new = NewPlanVersion {
        text: text.text.clone(),
        digest: plan.digest().to_owned(),
        source: text.source.clone(),
        applied_by: actor.clone(),
        at: tocsin_core::to_millis(now),
    };
    Ok(store.apply_plan(new, when).await?)
}

/// The plan in force, shared by everything that follows it and swapped when a new
/// version is applied.
#[derive(Clone, Debug)]
pub(crate) struct Current(Arc<RwLock<Arc<ActivePlan>>>);

impl Current {
    pub fn new(active: ActivePlan) -> Self {
        Current(Arc::new(RwLock::new(Arc::new(active))))
    }

    pub fn get(&self) -> Arc<ActivePlan> {
        Arc::clone(&self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Takes `active` unless a newer version is in force already.
    pub fn set(&self, active: ActivePlan) {
        let mut current = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if active.version.version >= current.version.version {
            *current = Arc::new(active);
        }
    }
}

/// A unified diff from `from` to `to` (three lines of context), headed by their names;
/// empty when the texts are the same.
pub fn diff(from: (&str, &str), to: (&str, &str)) -> String {
    if from.1 == to.1 {
        return String::new();
    }
    similar::TextDiff::from_lines(from.1, to.1)
        .unified_diff()
        .context_radius(3)
        .header(from.0, to.0)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_both_sides_and_shows_only_what_changed_with_its_context() {
        let before = "a = 1\nb = 2\nc = 3\n";
        let after = "a = 1\nb = 20\nc = 3\n";
        let text = diff(("version 1", before), ("tocsin.toml", after));
        assert!(text.starts_with("--- version 1\n+++ tocsin.toml\n"), "{text}");
        assert!(text.contains("-b = 2\n+b = 20\n"), "{text}");
        assert!(text.contains(" a = 1\n"), "{text}");
        assert_eq!(diff(("x", before), ("y", before)), "");
    }
}
