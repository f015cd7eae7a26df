//! Switches people turn on and off: maintenance mode of a service, an agent told to pause.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::incident::IncidentNumber;

use crate::StoreError;

/// What a switch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchKind {
    /// A service in maintenance mode.
    Maintenance,
    /// An agent told to pause.
    Pause,
}

impl SwitchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SwitchKind::Maintenance => "maintenance",
            SwitchKind::Pause => "pause",
        }
    }
}

/// A switch to turn on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSwitch {
    pub kind: SwitchKind,
    pub subject: String,
    pub reason: String,
    pub incident: Option<IncidentNumber>,
    pub by: String,
    pub at: Timestamp,
    /// When it is expected to be turned off.
    pub until: Option<Timestamp>,
}

/// A time a switch was on, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub id: i64,
    pub subject: String,
    pub reason: String,
    pub incident: Option<IncidentNumber>,
    pub started_by: String,
    pub started: Timestamp,
    pub until: Option<Timestamp>,
    /// Who turned it off, and when.
    pub ended: Option<(String, Timestamp)>,
}

#[async_trait]
pub trait SwitchStore: Send + Sync {
    /// Turns a switch on, with its audit entry; one already on for the subject is
    /// [`StoreError::Duplicate`].
    async fn switch_on(&self, new: NewSwitch, entry: EntryDraft) -> Result<Switch, StoreError>;

    /// Turns the switch of `subject` off, with its audit entry; `None` when it was not on.
    async fn switch_off(
        &self,
        kind: SwitchKind,
        subject: &str,
        by: &str,
        at: Timestamp,
        entry: EntryDraft,
    ) -> Result<Option<Switch>, StoreError>;

    /// The switches of `kind` that are on, by subject; with `all`, the ended ones too,
    /// newest first.
    async fn switches(&self, kind: SwitchKind, all: bool) -> Result<Vec<Switch>, StoreError>;
}
