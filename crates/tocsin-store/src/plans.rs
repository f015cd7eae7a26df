//! The plan's versions: every text applied, in order; the newest is the active plan that
//! every process and instance follows.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::incident::Actor;

use crate::StoreError;

/// The audit chain's action for a plan version applied.
pub const PLAN_APPLIED: &str = "plan_applied";

/// A plan text to make the active version.
#[derive(Clone, Debug)]
pub struct NewPlanVersion {
    pub text: String,
    /// SHA-256 of `text`, as the plan computes it.
    pub digest: String,
    /// Where the text came from: a file's path, a preset, the web UI.
    pub source: String,
    pub applied_by: Actor,
    pub at: Timestamp,
}

/// A stored version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanVersion {
    pub version: u64,
    pub digest: String,
    pub source: String,
    pub text: String,
    pub applied_by: String,
    pub applied_at: Timestamp,
}

/// When a text is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyWhen {
    /// Unless it is the active version already.
    Changed,
    /// Only as the database's first version; a database with a plan keeps it.
    First,
}

/// What applying did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The text is the active version now, under a new number.
    New(PlanVersion),
    /// Nothing changed: this is the active version.
    Kept(PlanVersion),
}

impl Applied {
    pub fn version(&self) -> &PlanVersion {
        match self {
            Applied::New(v) | Applied::Kept(v) => v,
        }
    }
}

#[async_trait]
pub trait PlanStore: Send + Sync {
    /// Makes `new` the active version as `when` says, with its entry on the audit chain
    /// (`plan_applied`: version, digest, source), in one transaction.
    async fn apply_plan(&self, new: NewPlanVersion, when: ApplyWhen) -> Result<Applied, StoreError>;

    /// The active version's number; 0 while the database has no plan.
    async fn active_plan_version(&self) -> Result<u64, StoreError>;

    /// The active version, with its text.
    async fn active_plan(&self) -> Result<Option<PlanVersion>, StoreError>;

    async fn plan_version(&self, version: u64) -> Result<Option<PlanVersion>, StoreError>;

    /// Every version, newest first, without their texts.
    async fn plan_history(&self) -> Result<Vec<PlanVersion>, StoreError>;
}
