//! The daily security audit's reports, kept whole, on the audit chain by their digest.

use async_trait::async_trait;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;

use crate::StoreError;

/// How many reports are kept: more than a year of daily ones, and runs on demand.
pub const KEEP: u32 = 500;

/// A report to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditReport {
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub by: String,
    pub findings: u64,
    /// Checks that could not run.
    pub failed: u64,
    /// Its digest's title.
    pub title: String,
    /// The report, as JSON.
    pub body: String,
}

/// A kept report, without its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReportSummary {
    pub id: i64,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub by: String,
    pub findings: u64,
    pub failed: u64,
    pub title: String,
}

#[async_trait]
pub trait AuditReportStore: Send + Sync {
    /// Keeps a report with its audit entry, in one transaction, and lets the oldest beyond
    /// [`KEEP`] go; its id.
    async fn save_audit_report(&self, report: &NewAuditReport, entry: EntryDraft) -> Result<i64, StoreError>;

    /// Reports, newest first, before the id `before` when given.
    async fn audit_reports(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditReportSummary>, StoreError>;

    /// One report with its body: `id`'s, or the newest when `None`.
    async fn audit_report(&self, id: Option<i64>) -> Result<Option<(AuditReportSummary, String)>, StoreError>;
}
