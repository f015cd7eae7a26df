//! The detectors' own settings: `[detection]` and `[[rate_limit]]`.

use super::build::no_duplicates;
use super::read::{Located, Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;
use crate::ratelimit::{RatePolicy, default_policies};

/// Detector settings the plan may change. Each is `None` where the plan keeps tocsin's
/// default (see the detectors for their values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Detection {
    /// Brute force: more than `threshold` failures from one source within `window` seconds.
    pub brute_force_threshold: Option<u32>,
    pub brute_force_window_seconds: Option<i64>,
    /// Password spraying: this many distinct accounts from one source within the hour.
    pub spray_accounts: Option<u32>,
    /// Stale agents: no heartbeat for this many seconds.
    pub stale_agent_after_seconds: Option<i64>,
    /// Working hours on business days, as minutes after midnight in the plan's time zone
    /// (start, end); vault access outside them is reported when set.
    pub working_hours: Option<(u16, u16)>,
    /// After reporting a source, the failed-login and rate-limit detectors say nothing
    /// more of it for this many seconds.
    pub quiet_period_seconds: Option<i64>,
}

/// `[[rate_limit]]` tables: `policy`, `limit` and `per`; the defaults fill in the rest.
pub(super) fn rate_limits(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<RatePolicy> {
    let mut policies = Vec::new();
    let mut names = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[rate_limit]]");
        let name = s.str("policy", "\"login\"", problems);
        let limit = s.opt_uint("limit", 1, 1_000_000, problems);
        if !s.table_has("limit") {
            problems.push(Diagnostic::new(s.span(), "[[rate_limit]] is missing limit").with_hint("add limit = 5"));
        }
        let per = s.duration("per", problems);
        s.finish(problems);
        let per_ms = per.as_ref().and_then(|p| match p.value.elapsed_seconds() {
            Some(seconds) => Some(seconds * 1000),
            None => {
                problems.push(
                    Diagnostic::new(p.span.clone(), "per in [[rate_limit]] must be an exact span")
                        .with_hint("write it like \"15m\" or \"1h\", not in business days or months"),
                );
                None
            }
        });
        if let (Some(name), Some(limit), Some(per_ms)) = (name, limit, per_ms) {
            names.push((name.value.clone(), name.span));
            policies.push(RatePolicy {
                name: name.value,
                limit: limit.value,
                per_ms,
            });
        }
    }
    no_duplicates(
        "rate_limit",
        names.iter().map(|(n, span)| (n.as_str(), span.clone())),
        problems,
    );
    for default in default_policies() {
        if !policies.iter().any(|p| p.name == default.name) {
            policies.push(default);
        }
    }
    policies
}

/// `[detection]`: the detectors' settings, each optional.
pub(super) fn detection(table: TableAt<'_, '_>, problems: &mut Problems) -> Detection {
    let mut s = Section::new(table, "[detection]");
    let seconds = |d: Option<Located<crate::duration::Duration>>, key: &str, problems: &mut Problems| {
        d.and_then(|d| match d.value.elapsed_seconds() {
            Some(seconds) => Some(seconds),
            None => {
                problems.push(
                    Diagnostic::new(d.span, format!("{key} in [detection] must be an exact span"))
                        .with_hint("write it like \"10m\" or \"1h\""),
                );
                None
            }
        })
    };
    let threshold = s.opt_uint("brute_force_threshold", 1, 10_000, problems);
    let window = s.opt_duration("brute_force_window", problems);
    let accounts = s.opt_uint("spray_accounts", 2, 10_000, problems);
    let stale = s.opt_duration("stale_agent_after", problems);
    let quiet = s.opt_duration("quiet_period", problems);
    let hours = s
        .opt_str("working_hours", problems)
        .and_then(|h| match working_hours(&h.value) {
            Some(hours) => Some(hours),
            None => {
                problems.push(
                    Diagnostic::new(
                        h.span,
                        format!("working_hours \"{}\" in [detection] is not a span of the day", h.value),
                    )
                    .with_hint("write it like \"08:00-18:00\""),
                );
                None
            }
        });
    s.finish(problems);
    Detection {
        brute_force_threshold: threshold.map(|t| t.value),
        brute_force_window_seconds: seconds(window, "brute_force_window", problems),
        spray_accounts: accounts.map(|a| a.value),
        stale_agent_after_seconds: seconds(stale, "stale_agent_after", problems),
        working_hours: hours,
        quiet_period_seconds: seconds(quiet, "quiet_period", problems),
    }
}

/// `08:00-18:00` as minutes after midnight; the end after the start.
fn working_hours(text: &str) -> Option<(u16, u16)> {
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let (start, end) = text.split_once('-')?;
    let (start, end) = (minutes(start)?, minutes(end)?);
    (start < end).then_some((start, end))
}
