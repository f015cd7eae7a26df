//! The CrowdSec Local API as bouncers read it: the decisions tocsin's blocks become, and
//! the filters a bouncer puts in its query. Bouncers (the nginx, firewall, Cloudflare,
//! Traefik and custom ones) poll `/v1/decisions/stream` or ask `/v1/decisions?ip=`; a
//! decision bans an address (scope `Ip`) or a network (scope `Range`) for a duration
//! written the way Go prints one.

use serde::Serialize;

use crate::block::Network;

/// The origin of every decision tocsin gives: a bouncer whose `origins` setting is not
/// empty must name it.
pub const ORIGIN: &str = "tocsin";

/// How long a block without an end is said to last: a year, renewed by every startup
/// pull. Bouncers need a duration; an unblock still reaches them as a deletion.
pub const UNENDING_SECONDS: i64 = 365 * 24 * 3600;

/// A decision as bouncers read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The block's id.
    pub id: i64,
    /// Always [`ORIGIN`].
    pub origin: &'static str,
    /// Always `ban`: the only remedy a block asks for.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `Ip` for one address, `Range` for a network.
    pub scope: &'static str,
    /// The address, or the network in CIDR notation.
    pub value: String,
    /// What is left of it, as Go prints a duration; negative once it has passed.
    pub duration: String,
    /// Why: the block's reason.
    pub scenario: String,
    /// Never: tocsin's blocks are meant.
    pub simulated: bool,
}

impl Decision {
    /// The decision that enforces a block of `network` for `reason`, with `left` seconds
    /// to go (`None`: until it is removed).
    pub fn of(id: i64, network: Network, reason: &str, left: Option<i64>) -> Decision {
        let (scope, value) = if network.is_address() {
            (Scope::Ip, network.address().to_string())
        } else {
            (Scope::Range, network.to_string())
        };
        Decision {
            id,
            origin: ORIGIN,
            kind: "ban",
            scope: scope.as_str(),
            value,
            duration: go_duration(left.unwrap_or(UNENDING_SECONDS)),
            scenario: reason.to_owned(),
            simulated: false,
        }
    }
}

/// What a decision is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One address.
    Ip,
    /// A network.
    Range,
}

impl Scope {
    /// As decisions name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "Ip",
            Scope::Range => "Range",
        }
    }

    fn of(network: Network) -> Scope {
        if network.is_address() { Scope::Ip } else { Scope::Range }
    }
}

/// `seconds` as Go's `time.Duration` prints it: `1h0m0s`, `2m5s`, `42s`, `0s`, `-3s`.
pub fn go_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// The filters of a bouncer's query, as the Local API reads them: `scopes` (default
/// `ip,range`), `origins`, `scenarios_containing` and `scenarios_not_containing`, each a
/// comma-separated list compared without regard to case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    ip: bool,
    range: bool,
    origins: Vec<String>,
    containing: Vec<String>,
    not_containing: Vec<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            ip: true,
            range: true,
            origins: Vec::new(),
            containing: Vec::new(),
            not_containing: Vec::new(),
        }
    }
}

impl Filter {
    /// The filter a query's parameters make; other parameters are left to the caller.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Filter {
        let list = |value: &str| -> Vec<String> {
            value
                .split(',')
                .map(|v| v.trim().to_lowercase())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let mut filter = Filter::default();
        for (name, value) in pairs {
            match name {
                "scopes" => {
                    let scopes = list(value);
                    filter.ip = scopes.iter().any(|s| s == "ip");
                    filter.range = scopes.iter().any(|s| s == "range");
                }
                "origins" => filter.origins = list(value),
                "scenarios_containing" => filter.containing = list(value),
                "scenarios_not_containing" => filter.not_containing = list(value),
                _ => {}
            }
        }
        filter
    }

    /// Whether a block of `network` for `reason` passes.
    pub fn passes(&self, network: Network, reason: &str) -> bool {
        let scope_ok = match Scope::of(network) {
            Scope::Ip => self.ip,
            Scope::Range => self.range,
        };
        let reason = reason.to_lowercase();
        scope_ok
            && (self.origins.is_empty() || self.origins.iter().any(|o| o == ORIGIN))
            && (self.containing.is_empty() || self.containing.iter().any(|c| reason.contains(c.as_str())))
            && !self.not_containing.iter().any(|c| reason.contains(c.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_go_prints_them() {
        for (seconds, text) in [
            (0, "0s"),
            (42, "42s"),
            (60, "1m0s"),
            (125, "2m5s"),
            (3600, "1h0m0s"),
            (86_399, "23h59m59s"),
            (UNENDING_SECONDS, "8760h0m0s"),
            (-3, "-3s"),
            (-3725, "-1h2m5s"),
        ] {
            assert_eq!(go_duration(seconds), text);
        }
    }

    #[test]
    fn an_address_is_an_ip_decision_and_a_network_a_range_one() {
        let one = Decision::of(3, Network::parse("192.0.2.7").unwrap(), "brute force", Some(90));
        assert_eq!(
            (one.scope, one.value.as_str(), one.duration.as_str()),
            ("Ip", "192.0.2.7", "1m30s")
        );
        let net = Decision::of(4, Network::parse("2001:db8::/32").unwrap(), "scan", None);
        assert_eq!(
            (net.scope, net.value.as_str(), net.duration.as_str()),
            ("Range", "2001:db8::/32", "8760h0m0s")
        );
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            serde_json::json!({"id": 3, "origin": "tocsin", "type": "ban", "scope": "Ip", "value": "192.0.2.7",
                "duration": "1m30s", "scenario": "brute force", "simulated": false})
        );
    }

    #[test]
    fn a_bouncer_s_filters_keep_what_it_asks_for() {
        let ip = Network::parse("192.0.2.7").unwrap();
        let range = Network::parse("10.0.0.0/8").unwrap();
        let all = Filter::from_query([("startup", "true")]);
        assert!(all.passes(ip, "x") && all.passes(range, "x"));
        let ips = Filter::from_query([("scopes", "Ip")]);
        assert!(ips.passes(ip, "x") && !ips.passes(range, "x"));
        let others = Filter::from_query([("origins", "crowdsec,cscli")]);
        assert!(!others.passes(ip, "x"));
        assert!(Filter::from_query([("origins", "cscli,Tocsin")]).passes(ip, "x"));
        let brute = Filter::from_query([("scenarios_containing", "brute"), ("scenarios_not_containing", "test")]);
        assert!(brute.passes(ip, "SSH Brute force"));
        assert!(!brute.passes(ip, "scan"));
        assert!(!brute.passes(ip, "brute force test"));
    }
}
