//! A probe's standing: up or down by its runs in a row, as its `down_after` and `up_after`
//! say, and the alert its going down fires and its coming back resolves. Those alerts
//! follow every alert's path: a signal under the plan's rules, an incident opened or
//! joined, and the incident resolved once every alert that joined it is over.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::alert::{Alert, AlertStatus};
use crate::plan::Probe;

/// Where a probe stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Up until runs in a row say otherwise; a probe never run counts as up.
    pub up: bool,
    /// When it last turned up or down; `None` while it never turned.
    pub since: Option<Timestamp>,
    /// Failed runs in a row.
    pub fails: u32,
    /// Good runs in a row.
    pub oks: u32,
}

impl Default for Standing {
    fn default() -> Self {
        Standing {
            up: true,
            since: None,
            fails: 0,
            oks: 0,
        }
    }
}

/// A probe turning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Turn {
    Down,
    Up,
}

impl Standing {
    /// Counts a run of `probe` at `at`; the turn it makes, if it makes one.
    pub fn record(&mut self, probe: &Probe, ok: bool, at: Timestamp) -> Option<Turn> {
        if ok {
            self.oks = self.oks.saturating_add(1);
            self.fails = 0;
            if !self.up && self.oks >= probe.up_after {
                self.up = true;
                self.since = Some(at);
                return Some(Turn::Up);
            }
        } else {
            self.fails = self.fails.saturating_add(1);
            self.oks = 0;
            if self.up && self.fails >= probe.down_after {
                self.up = false;
                self.since = Some(at);
                return Some(Turn::Down);
            }
        }
        None
    }
}

/// The source of a probe's alerts: tocsin's own, named so that no integration can have it.
pub fn alert_source(probe: &Probe) -> String {
    format!("probe:{}", probe.id)
}

/// The probe a source of alerts names, if it is a probe's.
pub fn probe_of_source(source: &str) -> Option<&str> {
    source.strip_prefix("probe:")
}

/// The alert a turn fires (down, saying why) or resolves (up). Its group is the service the
/// probe watches, so that the probes of one service join one incident; its severity the
/// plan severity the probe names, if it names one.
pub fn alert(probe: &Probe, turn: Turn, why: &str, at: Timestamp) -> Alert {
    let (status, summary) = match turn {
        Turn::Down => (AlertStatus::Firing, format!("{} is down: {why}", probe.name)),
        Turn::Up => (AlertStatus::Resolved, format!("{} is down", probe.name)),
    };
    let mut labels = BTreeMap::from([
        ("probe".to_owned(), probe.id.to_string()),
        ("kind".to_owned(), probe.kind.as_str().to_owned()),
    ]);
    if let Some(service) = &probe.service {
        labels.insert("service".to_owned(), service.clone());
    }
    let mut alert = Alert::new("down".to_owned(), status, summary, at);
    alert.severity = probe.severity.as_ref().map(ToString::to_string);
    alert.group = Some(probe.service.clone().unwrap_or_else(|| probe.id.to_string()));
    alert.labels = labels;
    alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    fn probe(down_after: u32, up_after: u32) -> Probe {
        let source = format!(
            "{}\n[[probe]]\nid = \"api\"\nname = \"API\"\nkind = \"tcp\"\ntarget = \"api:443\"\ndown_after = {down_after}\nup_after = {up_after}\n",
            crate::plan::presets::FOUR_TIER.source
        );
        Plan::parse(&source).unwrap().probes()[0].clone()
    }

    #[test]
    fn a_probe_turns_down_after_its_failures_in_a_row_and_up_after_its_successes() {
        let api = probe(3, 2);
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap();
        let mut standing = Standing::default();
        let runs = [
            false, false, true, false, false, false, false, true, false, true, true, true,
        ];
        let turns: Vec<(usize, Turn)> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, ok)| standing.record(&api, *ok, at(i as i64)).map(|t| (i, t)))
            .collect();
        // Two failures and a success do not make it down; three in a row do, and the
        // fourth does not turn it again; one success among failures does not bring it up.
        assert_eq!(turns, [(5, Turn::Down), (10, Turn::Up)]);
        assert_eq!(standing.since, Some(at(10)));
        assert!(standing.up);
    }

    #[test]
    fn the_alert_of_a_turn_names_the_probe_and_groups_by_service() {
        let api = probe(1, 1);
        let down = alert(&api, Turn::Down, "cannot connect", Timestamp::UNIX_EPOCH);
        assert_eq!(down.status, AlertStatus::Firing);
        assert_eq!(down.summary, "API is down: cannot connect");
        assert_eq!(down.group.as_deref(), Some("api"));
        assert_eq!(alert_source(&api), "probe:api");
        assert_eq!(probe_of_source("probe:api"), Some("api"));
        let up = alert(&api, Turn::Up, "", Timestamp::UNIX_EPOCH);
        assert_eq!((up.status, up.fingerprint.as_str()), (AlertStatus::Resolved, "down"));
    }
}
