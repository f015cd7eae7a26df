//! The two built-in plans, modelled on the reference plans: `four-tier` and `three-tier`.

/// A commented plan that `tocsin init` writes for a new user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub summary: &'static str,
    pub source: &'static str,
}

pub const FOUR_TIER: Preset = Preset {
    name: "four-tier",
    summary: "P1-P4 (15m/1h/4h/24h), six steps, 72h customer and GDPR notice, review in 5 business days",
    source: include_str!("../../presets/four-tier.toml"),
};

pub const THREE_TIER: Preset = Preset {
    name: "three-tier",
    summary: "P0-P2 (15m/1h/4h), named roles, 30m status updates, 24h customer notice, GDPR 72h, post-mortem in 48h",
    source: include_str!("../../presets/three-tier.toml"),
};

pub const ALL: [Preset; 2] = [FOUR_TIER, THREE_TIER];

pub fn find(name: &str) -> Option<Preset> {
    ALL.into_iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::Duration;
    use crate::plan::{ClockStart, NoticeKind, Plan};

    fn hours(h: i64) -> Duration {
        Duration::Elapsed(h * 3600)
    }

    fn uncomment(source: &str, first_line: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in source.lines() {
            inside |= line == first_line;
            if inside && line.is_empty() {
                inside = false;
            }
            let line = if inside {
                line.strip_prefix("# ")
                    .unwrap_or(line.strip_prefix('#').unwrap_or(line))
            } else {
                line
            };
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    #[test]
    fn four_tier_reproduces_the_four_severity_plan() {
        let plan = Plan::parse(FOUR_TIER.source).unwrap();
        let acks: Vec<(&str, Duration)> = plan
            .severities()
            .iter()
            .map(|s| (s.id.as_str(), s.acknowledge_within))
            .collect();
        assert_eq!(
            acks,
            [
                ("P1", Duration::Elapsed(900)),
                ("P2", hours(1)),
                ("P3", hours(4)),
                ("P4", hours(24))
            ]
        );
        let names: Vec<&str> = plan.severities().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Critical", "High", "Medium", "Low"]);
        let notice: Vec<Option<Duration>> = plan.severities().iter().map(|s| s.customer_notice_within).collect();
        assert_eq!(notice, [Some(hours(72)), Some(hours(72)), None, None]);
        assert!(plan.severities().iter().all(|s| s.status_update_every.is_none()));
        let steps: Vec<&str> = plan.steps().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            steps,
            ["identify", "contain", "eradicate", "recover", "notify", "review"]
        );
        assert!(plan.roles().is_empty());
        assert_eq!(plan.review().step.as_str(), "review");
        assert_eq!(plan.review().within, Duration::BusinessDays(5));
        let [gdpr] = plan.obligations() else {
            panic!("one obligation")
        };
        assert_eq!(gdpr.id.as_str(), "gdpr-art33");
        assert_eq!(gdpr.within, Some(hours(72)));
        assert_eq!(gdpr.from, ClockStart::PersonalDataAwareness);
        assert!(gdpr.personal_data);
        assert_eq!(
            gdpr.severities
                .as_ref()
                .unwrap()
                .iter()
                .map(crate::id::SeverityId::as_str)
                .collect::<Vec<_>>(),
            ["P1"]
        );
        assert_eq!(gdpr.met_by, NoticeKind::Authority);
        let disclosure = plan.disclosure().unwrap();
        assert_eq!(
            (disclosure.acknowledge_within, disclosure.assess_within),
            (hours(24), hours(72))
        );
    }

    #[test]
    fn three_tier_reproduces_the_three_severity_plan() {
        let plan = Plan::parse(THREE_TIER.source).unwrap();
        let severities: Vec<(&str, Duration, Option<Duration>, Option<Duration>)> = plan
            .severities()
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.acknowledge_within,
                    s.status_update_every,
                    s.customer_notice_within,
                )
            })
            .collect();
        let half_hour = Some(Duration::Elapsed(1800));
        assert_eq!(
            severities,
            [
                ("P0", Duration::Elapsed(900), half_hour, Some(hours(24))),
                ("P1", hours(1), half_hour, Some(hours(24))),
                ("P2", hours(4), None, None),
            ]
        );
        let roles: Vec<&str> = plan.roles().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(roles, ["incident-commander", "technical-lead", "communications-lead"]);
        let steps: Vec<&str> = plan.steps().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(steps, ["identify", "contain", "eradicate", "recover", "review"]);
        assert!(plan.steps()[1].checklist.iter().any(|c| c.contains("evidence")));
        assert!(
            plan.steps()[1]
                .checklist
                .iter()
                .any(|c| c.contains("Block malicious IP"))
        );
        assert_eq!(plan.review().within, hours(48));
        let obligations: Vec<(&str, Option<Duration>, &NoticeKind)> = plan
            .obligations()
            .iter()
            .map(|o| (o.id.as_str(), o.within, &o.met_by))
            .collect();
        assert_eq!(
            obligations,
            [
                ("gdpr-art33", Some(hours(72)), &NoticeKind::Authority),
                ("gdpr-art34", None, &NoticeKind::DataSubjects)
            ]
        );
        assert!(
            plan.obligations()
                .iter()
                .all(|o| o.personal_data && o.severities.is_none())
        );
    }

    #[test]
    fn the_commented_nis2_obligations_are_valid_once_uncommented() {
        for preset in ALL {
            let source = uncomment(preset.source, "# [[obligation]]");
            let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render(preset.name, &source)));
            let final_report = plan
                .obligations()
                .iter()
                .find(|o| o.id.as_str() == "nis2-final-report")
                .unwrap();
            assert_eq!(final_report.within, Some(Duration::Months(1)));
            assert_eq!(
                final_report.from,
                ClockStart::Met(crate::id::ObligationId::parse("nis2-notification").unwrap())
            );
        }
    }

    #[test]
    fn the_four_tier_preset_runs_the_daily_audit_and_its_commented_targets_are_valid() {
        let plan = Plan::parse(FOUR_TIER.source).unwrap();
        let audit = plan.daily_audit().unwrap();
        assert_eq!((audit.at_minute, audit.urls.len(), audit.lockfiles.len()), (360, 0, 0));
        let (head, tail) = FOUR_TIER.source.split_once("[daily_audit]\n").unwrap();
        let source = format!(
            "{head}[daily_audit]\n{}",
            uncomment(
                tail,
                "# urls = [\"https://app.example.com/\", \"https://api.example.com/api/health\"]"
            )
        );
        let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render("four-tier", &source)));
        let audit = plan.daily_audit().unwrap();
        assert_eq!(
            (audit.urls.len(), audit.lockfiles.len(), audit.databases.len()),
            (2, 2, 1)
        );
        assert!(audit.osv_dir.is_some() && audit.freshness);
        assert!(Plan::parse(THREE_TIER.source).unwrap().daily_audit().is_none());
    }

    #[test]
    fn the_three_tier_presets_commented_vercel_integration_is_valid_once_uncommented() {
        let source = uncomment(THREE_TIER.source, "# [[integration]]");
        let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render("three-tier", &source)));
        let vercel = plan.integration("vercel").unwrap();
        assert!(vercel.resolve_incident);
        assert_eq!(vercel.severities.len(), 4);
    }

    #[test]
    fn the_commented_actions_and_the_rule_that_runs_one_are_valid_once_uncommented() {
        for preset in ALL {
            let source = uncomment(&uncomment(preset.source, "# [[action]]"), "# [[rule]]");
            let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render(preset.name, &source)));
            let ids: Vec<&str> = plan.actions().iter().map(|a| a.id.as_str()).collect();
            assert!(ids.len() >= 4, "{}: {ids:?}", preset.name);
            assert!(ids.contains(&"block-address"), "{}: {ids:?}", preset.name);
        }
        let four = Plan::parse(&uncomment(FOUR_TIER.source, "# [[rule]]")).unwrap();
        assert!(
            four.rules()
                .iter()
                .any(|r| r.runs.iter().any(|run| run.action.as_str() == "block-address"))
        );
    }

    #[test]
    fn the_commented_obligations_and_their_notice_parse_uncommented() {
        let source = uncomment(&uncomment(FOUR_TIER.source, "# [[obligation]]"), "# [[notice]]");
        let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render("four-tier", &source)));
        let kind = plan.find_notice_kind("nis2-early-warning").unwrap();
        assert_eq!(plan.notice(&kind).unwrap().sections.len(), 3);
    }

    #[test]
    fn the_commented_probes_parse_uncommented_every_15_minutes() {
        let source = uncomment(FOUR_TIER.source, "# [[probe]]");
        let plan = Plan::parse(&source).unwrap_or_else(|e| panic!("{}", e.render("four-tier", &source)));
        let intervals: Vec<u64> = plan.probes().iter().map(|p| p.interval_seconds).collect();
        assert_eq!(intervals, [900, 900]);
    }

    #[test]
    fn every_section_of_a_preset_is_explained_by_a_comment() {
        for preset in ALL {
            let lines: Vec<&str> = preset.source.lines().collect();
            // Lines inside a multi-line string (a notice's template) are text, not TOML.
            let mut text = false;
            for (i, line) in lines.iter().enumerate() {
                if line.matches("\"\"\"").count() % 2 == 1 {
                    text = !text;
                }
                if text {
                    continue;
                }
                let header = line.starts_with('[') && !line.starts_with("[[");
                let first_of_kind = line.starts_with("[[") && !lines[..i].iter().any(|l| l == line);
                if header || first_of_kind {
                    let above = lines[..i].iter().rev().find(|l| !l.is_empty()).unwrap();
                    assert!(
                        above.starts_with('#'),
                        "{}: {line} has no comment above it",
                        preset.name
                    );
                }
            }
        }
    }
}
