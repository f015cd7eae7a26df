//! The plan's probes: where each stands with its last run, and its runs counted by the
//! hour and by the day.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::probe::Standing;

use crate::StoreError;

/// A probe's last run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRun {
    pub at: Timestamp,
    pub ok: bool,
    pub latency_ms: u64,
    pub detail: String,
    pub error: Option<String>,
}

/// Where a probe stands, and its last run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeStatus {
    pub probe: String,
    pub standing: Standing,
    pub last: LastRun,
}

/// How long a rollup counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Span {
    Hour,
    Day,
}

impl Span {
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Hour => "hour",
            Span::Day => "day",
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            Span::Hour => 3_600_000,
            Span::Day => 86_400_000,
        }
    }

    /// The start of the span (in UTC) that holds `at`.
    pub fn start_of(self, at: Timestamp) -> Timestamp {
        let ms = at.as_millisecond();
        Timestamp::from_millisecond(ms - ms.rem_euclid(self.millis())).expect("within range")
    }
}

/// A probe's runs within one hour or day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollup {
    pub probe: String,
    pub span: Span,
    pub start: Timestamp,
    pub runs: u64,
    pub ok: u64,
    pub latency_sum_ms: u64,
    pub latency_max_ms: u64,
}

impl Rollup {
    /// The share of runs that passed, from 0 to 1.
    pub fn availability(&self) -> f64 {
        if self.runs == 0 {
            return 1.0;
        }
        self.ok as f64 / self.runs as f64
    }

    /// The mean latency of its runs.
    pub fn latency_mean_ms(&self) -> u64 {
        self.latency_sum_ms.checked_div(self.runs).unwrap_or(0)
    }
}

#[async_trait]
pub trait ProbeStore: Send + Sync {
    /// Stores where the probes stand (replacing what was stored for each) and adds the
    /// runs counted in `rollups` to the stored ones, in one transaction.
    async fn save_probe_runs(&self, status: &[ProbeStatus], rollups: &[Rollup]) -> Result<(), StoreError>;

    /// Where every probe that ran stands, by probe id.
    async fn probe_status(&self) -> Result<Vec<ProbeStatus>, StoreError>;

    /// A probe's rollups of `span` that start at or after `since`, oldest first.
    async fn probe_rollups(&self, probe: &str, span: Span, since: Timestamp) -> Result<Vec<Rollup>, StoreError>;

    /// Every probe's runs in the rollups of `span` that start at or after `since`, added
    /// up: (probe, runs, passed, latency sum).
    async fn probe_totals(&self, span: Span, since: Timestamp) -> Result<Vec<(String, u64, u64, u64)>, StoreError>;

    /// Deletes the rollups of `span` that start before `cutoff`, and the status of probes
    /// not in `keep` (the plan dropped them); how many rows went.
    async fn expire_probe_data(&self, span: Span, cutoff: Timestamp, keep: &[String]) -> Result<u64, StoreError>;
}
