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

/// The source of the probes' alerts: tocsin's own, a name no integration can have. Each
/// probe's alert is known by the probe's id within it, and the plan's `max_open_alerts`
/// bounds how many are tracked one by one when many probes go down at once.
pub const SOURCE: &str = "tocsin probes";

/// The group of the probes that watch no service: their outages join one incident.
pub const UNSERVICED: &str = "probes";

/// The alert a turn fires (down, saying why) or resolves (up). Its group is the service the
/// probe watches, so that the probes of one service join one incident (those of no service
/// join one too: many probes failing together are one outage); its severity the plan
/// severity the probe names, if it names one.
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
    let mut alert = Alert::new(probe.id.to_string(), status, summary, at);
    alert.severity = probe.severity.as_ref().map(ToString::to_string);
    alert.group = Some(probe.service.clone().unwrap_or_else(|| UNSERVICED.to_owned()));
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
    fn the_alert_of_a_turn_is_known_by_the_probe_and_grouped_by_service() {
        let api = probe(1, 1);
        let down = alert(&api, Turn::Down, "cannot connect", Timestamp::UNIX_EPOCH);
        assert_eq!(down.status, AlertStatus::Firing);
        assert_eq!(down.summary, "API is down: cannot connect");
        assert_eq!(down.group.as_deref(), Some(UNSERVICED));
        let up = alert(&api, Turn::Up, "", Timestamp::UNIX_EPOCH);
        assert_eq!((up.status, up.fingerprint.as_str()), (AlertStatus::Resolved, "api"));
    }

    #[test]
    fn a_probes_outage_opens_at_its_severity_or_the_plans_second_tier() {
        use crate::detector::DetectorId;
        use crate::signal::{Disposition, Origin, Signal, ruling};
        let source = format!(
            "{}\n[[probe]]\nid = \"site\"\nname = \"Site\"\nkind = \"tcp\"\ntarget = \"site:443\"\nseverity = \"P1\"\n",
            crate::plan::presets::FOUR_TIER.source
        );
        let plan = Plan::parse(&source).unwrap();
        let site = &plan.probes()[0];
        let at = Timestamp::UNIX_EPOCH;
        let rule = |probe: &Probe| {
            let fired = alert(probe, Turn::Down, "refused", at);
            let signal = Signal {
                detector: DetectorId::Alert(crate::alert::Via::Probe),
                key: fired.fingerprint.clone(),
                at,
                count: 1,
                first_at: at,
                last_at: at,
                samples: Vec::new(),
                sources: Vec::new(),
                accounts: Vec::new(),
                summary: fired.summary.clone(),
            };
            let origin = Origin::Alert {
                source: SOURCE,
                severity: fired.severity.as_deref(),
                group: fired.group.as_deref().unwrap(),
            };
            let ruled = ruling(&plan, &signal, origin);
            (ruled.disposition, ruled.severity, ruled.group)
        };
        assert_eq!(
            rule(site),
            (Disposition::Open, "P1".to_owned(), "probe:probes".to_owned())
        );
        let mut api = probe(2, 1);
        api.service = Some("api".into());
        assert_eq!(rule(&api), (Disposition::Open, "P2".to_owned(), "probe:api".to_owned()));
    }
}
