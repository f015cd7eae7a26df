//! How detectors' findings become incidents: `[[rule]]` and `[[suppress]]`.

use jiff::civil::Date;
use jiff::tz;

use super::build::{no_duplicates, references, unknown};
use super::read::{Located, Problems, Section, TableAt};
use crate::detector::DetectorId;
use crate::diagnostic::Diagnostic;
use crate::id::SeverityId;
use crate::signal::Disposition;

/// What one detector's signals lead to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    pub detector: DetectorId,
    pub disposition: Disposition,
    /// The severity to open or raise to; `None` takes tocsin's default for the detector.
    pub severity: Option<SeverityId>,
    /// `true`: all the detector's signals join one open incident, whatever they are
    /// about; `false`: one incident per source or key; `None`: tocsin's default for the
    /// detector ([`crate::signal::one_incident`]).
    pub one_incident: Option<bool>,
    /// Whether customers are affected by the incidents it opens; `None`: tocsin's default
    /// for the detector ([`DetectorId::default_rule`]).
    pub customers: Option<crate::incident::CustomerImpact>,
    /// Actions asked for, as the plan's rule and not a person, on the incident each signal
    /// opens or joins (like blocking the address that brute-forces logins).
    pub runs: Vec<RuleRun>,
}

/// An action a rule asks for, with its inputs: text where `{{ signal.key }}`,
/// `{{ signal.account }}` and `{{ signal.detector }}` stand for the signal's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRun {
    pub action: crate::id::ActionId,
    pub inputs: Vec<(String, String)>,
}

/// What a rule's inputs may say of the signal.
const SIGNAL_PLACES: [&str; 3] = ["signal.key", "signal.account", "signal.detector"];

impl RuleRun {
    /// Its inputs for `signal`.
    pub fn inputs_for(&self, signal: &crate::signal::Signal) -> std::collections::BTreeMap<String, String> {
        let account = signal.accounts.first().cloned().unwrap_or_default();
        self.inputs
            .iter()
            .map(|(name, text)| {
                let mut value = text.clone();
                for place in SIGNAL_PLACES {
                    let with = match place {
                        "signal.key" => signal.key.as_str(),
                        "signal.account" => account.as_str(),
                        _ => signal.detector.as_str(),
                    };
                    value = value
                        .replace(&format!("{{{{ {place} }}}}"), with)
                        .replace(&format!("{{{{{place}}}}}"), with);
                }
                (name.clone(), value)
            })
            .collect()
    }
}

/// The `run` tables of a rule.
fn rule_runs(s: &mut Section<'_, '_>, actions: &[crate::action::ActionDef], problems: &mut Problems) -> Vec<RuleRun> {
    let mut out = Vec::new();
    for (index, table) in s.tables("run", problems).into_iter().enumerate() {
        let mut r = Section::new(table, format!("run #{} of {}", index + 1, s.name));
        let action = r.str("action", "\"block-address\"", problems);
        let inputs = r.str_table("inputs", problems);
        let name = r.name.clone();
        r.finish(problems);
        for (name, text) in &inputs {
            let mut rest = text.value.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let end = after.find("}}").unwrap_or(after.len());
                let place = after[..end].trim();
                if !SIGNAL_PLACES.contains(&place) {
                    problems.push(
                        Diagnostic::new(
                            text.span.clone(),
                            format!("input {name} of {}: unknown placeholder {{{{ {place} }}}}", s.name),
                        )
                        .with_hint(format!("a rule's inputs may use {}", SIGNAL_PLACES.join(", "))),
                    );
                }
                rest = &after[end.min(after.len())..];
                rest = rest.strip_prefix("}}").unwrap_or(rest);
            }
        }
        let Some(action) = action else { continue };
        let Some(def) = actions.iter().find(|a| a.id.as_str() == action.value) else {
            let ids: Vec<&str> = actions.iter().map(|a| a.id.as_str()).collect();
            problems.push(unknown(
                &action,
                format!("{name} runs \"{}\", which is no action of the plan", action.value),
                &ids,
                "define it with [[action]]".into(),
            ));
            continue;
        };
        for (name, text) in &inputs {
            if !def.inputs.iter().any(|i| &i.name == name) {
                let names: Vec<&str> = def.inputs.iter().map(|i| i.name.as_str()).collect();
                problems.push(unknown(
                    &Located {
                        value: name.clone(),
                        span: text.span.clone(),
                    },
                    format!("action {} has no input \"{name}\"", def.id),
                    &names,
                    format!("it takes {}", names.join(", ")),
                ));
            }
        }
        out.push(RuleRun {
            action: def.id.clone(),
            inputs: inputs.into_iter().map(|(name, text)| (name, text.value)).collect(),
        });
    }
    out
}

/// A `[[suppress]]` table: signals the plan keeps on record without acting on them, like
/// those about the company's own scanner or a planned penetration test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// Only this detector's signals; every detector's when `None`.
    pub detector: Option<DetectorId>,
    pub key: KeyPattern,
    /// When it lapses.
    pub until: Option<crate::Timestamp>,
    /// Why, shown with every signal it suppresses.
    pub reason: String,
}

/// The signal keys a suppression covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPattern {
    /// This key.
    Exact(String),
    /// Keys that start with this (written with a trailing `*`).
    Prefix(String),
    /// Addresses in this network (written like `10.0.0.0/8` or `2001:db8::/32`).
    Network(core::net::IpAddr, u8),
}

/// Why a text is no key pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadKeyPattern {
    #[error("the key is empty")]
    Empty,
    #[error("\"{0}\" is not an IP address")]
    NotAnAddress(String),
    #[error("/{bits} is not a prefix length of an IPv{version} network (0 to {max})")]
    PrefixLength { bits: String, version: u8, max: u8 },
}

impl KeyPattern {
    /// Reads `10.0.0.0/8`, `web-*` or an exact key; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, BadKeyPattern> {
        if text.is_empty() {
            return Err(BadKeyPattern::Empty);
        }
        if let Some(prefix) = text.strip_suffix('*') {
            return Ok(KeyPattern::Prefix(prefix.to_owned()));
        }
        let Some((address, bits)) = text.split_once('/') else {
            return Ok(KeyPattern::Exact(text.to_owned()));
        };
        let address: core::net::IpAddr = address
            .parse()
            .map_err(|_| BadKeyPattern::NotAnAddress(address.to_owned()))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        match bits.parse::<u8>() {
            Ok(bits) if bits <= max => Ok(KeyPattern::Network(address, bits)),
            _ => Err(BadKeyPattern::PrefixLength {
                bits: bits.to_owned(),
                version: if max == 32 { 4 } else { 6 },
                max,
            }),
        }
    }

    pub fn matches(&self, key: &str) -> bool {
        match self {
            KeyPattern::Exact(exact) => key == exact,
            KeyPattern::Prefix(prefix) => key.starts_with(prefix.as_str()),
            KeyPattern::Network(network, bits) => key.parse().is_ok_and(|ip| in_network(ip, *network, *bits)),
        }
    }
}

fn in_network(ip: core::net::IpAddr, network: core::net::IpAddr, bits: u8) -> bool {
    use core::net::IpAddr;
    let (ip, network, width) = match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => (u128::from(ip.to_bits()), u128::from(net.to_bits()), 32),
        (IpAddr::V6(ip), IpAddr::V6(net)) => (ip.to_bits(), net.to_bits(), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || ip >> shift == network >> shift
}

/// `[[rule]]` tables: `detector`, `action` (open, join, record), an optional `severity`
/// and an optional `group` (key or detector).
pub(super) fn rules(
    tables: &[TableAt<'_, '_>],
    severity_ids: &[&str],
    actions: &[crate::action::ActionDef],
    problems: &mut Problems,
) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut seen = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[rule]]");
        let detector = s.str("detector", "\"brute_force\"", problems);
        let action = s.str("action", "\"open\"", problems);
        let severity = s.opt_str("severity", problems);
        let group = s.opt_str("group", problems);
        let customers = s.opt_str("customers", problems).and_then(|c| match c.value.parse() {
            Ok(impact) => Some(impact),
            Err(e) => {
                problems.push(Diagnostic::new(c.span, e));
                None
            }
        });
        let runs = rule_runs(&mut s, actions, problems);
        s.finish(problems);
        let one_incident = match group.as_ref().map(|g| g.value.as_str()) {
            None => None,
            Some("key") => Some(false),
            Some("detector") => Some(true),
            Some(other) => {
                problems.push(
                    Diagnostic::new(
                        group.as_ref().map_or(0..0, |g| g.span.clone()),
                        format!("unknown group \"{other}\" in [[rule]]"),
                    )
                    .with_hint("write key (one incident per source or key) or detector (one incident for all)"),
                );
                None
            }
        };
        let detector = detector.and_then(|d| known_detector(d, problems));
        let action = action.and_then(|a| match Disposition::parse(&a.value) {
            Some(action) => Some(action),
            None => {
                problems.push(
                    Diagnostic::new(a.span, format!("unknown action \"{}\" in [[rule]]", a.value))
                        .with_hint("write open, join or record"),
                );
                None
            }
        });
        // A severity named but unknown is reported, and the rule is left out.
        let severity = match severity {
            None => Some(None),
            Some(sev) => references(
                "severity",
                "[[rule]]",
                vec![sev],
                severity_ids,
                SeverityId::parse,
                problems,
            )
            .pop()
            .map(Some),
        };
        if let (Some(detector), Some(action), Some(severity)) = (detector, action, severity) {
            seen.push((detector.value.as_str(), detector.span.clone()));
            rules.push(Rule {
                detector: detector.value,
                disposition: action,
                severity,
                one_incident,
                customers,
                runs,
            });
        }
    }
    no_duplicates("rule", seen.iter().map(|(d, span)| (*d, span.clone())), problems);
    rules
}

/// A detector's name, reported with a guess when it is unknown.
fn known_detector(d: Located<String>, problems: &mut Problems) -> Option<Located<DetectorId>> {
    if let Some(value) = DetectorId::parse(&d.value) {
        return Some(Located { value, span: d.span });
    }
    let names: Vec<&str> = DetectorId::names().collect();
    problems.push(unknown(
        &d,
        format!("unknown detector \"{}\"", d.value),
        &names,
        format!("the detectors are {}", names.join(", ")),
    ));
    None
}

/// `[[suppress]]` tables: `key` (exact, `prefix*` or a network like `10.0.0.0/8`), an
/// optional `detector`, an optional `until` (a time, or a date meaning the end of that day
/// in the plan's time zone) and the `reason`.
pub(super) fn suppressions(
    tables: &[TableAt<'_, '_>],
    zone: Option<tz::TimeZone>,
    problems: &mut Problems,
) -> Vec<Suppression> {
    let mut suppressions = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[suppress]]");
        let key = s.str("key", "\"203.0.113.7\"", problems);
        let detector = s.opt_str("detector", problems);
        let until = s.opt_str("until", problems);
        let reason = s.str("reason", "\"the weekly penetration test\"", problems);
        s.finish(problems);
        let key = key.and_then(|k| match KeyPattern::parse(&k.value) {
            Ok(pattern) => Some(pattern),
            Err(why) => {
                problems.push(
                    Diagnostic::new(k.span, format!("key \"{}\" in [[suppress]]: {why}", k.value))
                        .with_hint("write an exact key, a prefix ending in *, or a network like 10.0.0.0/8"),
                );
                None
            }
        });
        let detector = match detector {
            None => Some(None),
            Some(d) => known_detector(d, problems).map(|d| Some(d.value)),
        };
        let until = match until {
            None => Some(None),
            Some(u) => match until_time(&u.value, zone.as_ref()) {
                Some(at) => Some(Some(at)),
                None => {
                    problems.push(
                        Diagnostic::new(
                            u.span,
                            format!("until \"{}\" in [[suppress]] is not a date or a time", u.value),
                        )
                        .with_hint("write a date like 2026-12-31 or a time like 2026-12-31T18:00:00Z"),
                    );
                    None
                }
            },
        };
        if let (Some(key), Some(detector), Some(until), Some(reason)) = (key, detector, until, reason) {
            suppressions.push(Suppression {
                detector,
                key,
                until,
                reason: reason.value,
            });
        }
    }
    suppressions
}

/// A time, or a date read as the end of that day in `zone` (UTC when the plan has none).
fn until_time(text: &str, zone: Option<&tz::TimeZone>) -> Option<crate::Timestamp> {
    if let Ok(at) = text.parse::<crate::Timestamp>() {
        return Some(at);
    }
    let date: Date = text.parse().ok()?;
    let next = date.tomorrow().ok()?;
    next.to_zoned(zone.cloned().unwrap_or(tz::TimeZone::UTC))
        .ok()
        .map(|z| z.timestamp())
}
