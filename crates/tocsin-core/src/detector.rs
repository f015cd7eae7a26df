//! The detectors tocsin has, by the names their signals carry: what each one's key is
//! about, and what its signals lead to when the plan names no rule for them.

use std::fmt;

use crate::alert::Via;
use crate::incident::CustomerImpact;
use crate::signal::{Disposition, Rule};

/// A detector, or the way an outside alert came: what made a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DetectorId {
    /// Failed logins from one source, fast.
    BruteForce,
    /// Failed logins from one source, paced under the brute-force rule.
    SlowBruteForce,
    /// One source failing on many accounts.
    PasswordSpray,
    /// One account failing from many sources.
    AccountAttack,
    /// A service's failed logins from many sources, far above its usual rate.
    CredentialStuffing,
    /// Many sources each trying a few names of one list.
    DistributedSpray,
    /// A success for an account from a source that kept failing on it.
    Compromise,
    /// One rate-limit key denied again and again.
    RateLimitAbuse,
    /// One rate-limit policy denying many sources.
    DistributedRateLimit,
    /// A service's errors far above their usual rate.
    ErrorSpike,
    /// An error a service never had before.
    NewError,
    /// A principal reading a secret new to it.
    VaultNewSecret,
    /// A principal using the vault from an address new to it.
    VaultNewIp,
    /// A principal reading far more secrets than it usually does.
    VaultVolume,
    /// A principal denied vault access again and again.
    VaultDeniedBurst,
    /// A principal using the vault outside working hours.
    VaultAfterHours,
    /// An agent that stopped sending heartbeats.
    StaleAgent,
    /// An agent unlike the rest of its fleet.
    AgentDrift,
    /// One address asking for several paths that hold secrets or admin tools.
    PathProbe,
    /// A path that holds secrets answered with a success.
    ExposedFile,
    /// A resolved incident's keys again, during its recovery watch.
    Recurrence,
    /// An alert another tool raised, by the way it came.
    Alert(Via),
}

impl DetectorId {
    /// Every detector, in the order people are shown them.
    pub const ALL: [DetectorId; 28] = [
        DetectorId::BruteForce,
        DetectorId::SlowBruteForce,
        DetectorId::PasswordSpray,
        DetectorId::AccountAttack,
        DetectorId::CredentialStuffing,
        DetectorId::DistributedSpray,
        DetectorId::Compromise,
        DetectorId::RateLimitAbuse,
        DetectorId::DistributedRateLimit,
        DetectorId::ErrorSpike,
        DetectorId::NewError,
        DetectorId::VaultNewSecret,
        DetectorId::VaultNewIp,
        DetectorId::VaultVolume,
        DetectorId::VaultDeniedBurst,
        DetectorId::VaultAfterHours,
        DetectorId::StaleAgent,
        DetectorId::AgentDrift,
        DetectorId::PathProbe,
        DetectorId::ExposedFile,
        DetectorId::Recurrence,
        DetectorId::Alert(Via::Alertmanager),
        DetectorId::Alert(Via::Pagerduty),
        DetectorId::Alert(Via::Sentry),
        DetectorId::Alert(Via::Heartbeat),
        DetectorId::Alert(Via::Alert),
        DetectorId::Alert(Via::Probe),
        DetectorId::Alert(Via::Audit),
    ];

    /// The name signals, rules and the API use, like `brute_force`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorId::BruteForce => "brute_force",
            DetectorId::SlowBruteForce => "slow_brute_force",
            DetectorId::PasswordSpray => "password_spray",
            DetectorId::AccountAttack => "account_attack",
            DetectorId::CredentialStuffing => "credential_stuffing",
            DetectorId::DistributedSpray => "distributed_spray",
            DetectorId::Compromise => "compromise",
            DetectorId::RateLimitAbuse => "rate_limit_abuse",
            DetectorId::DistributedRateLimit => "distributed_rate_limit",
            DetectorId::ErrorSpike => "error_spike",
            DetectorId::NewError => "new_error",
            DetectorId::VaultNewSecret => "vault_new_secret",
            DetectorId::VaultNewIp => "vault_new_ip",
            DetectorId::VaultVolume => "vault_volume",
            DetectorId::VaultDeniedBurst => "vault_denied_burst",
            DetectorId::VaultAfterHours => "vault_after_hours",
            DetectorId::StaleAgent => "stale_agent",
            DetectorId::AgentDrift => "agent_drift",
            DetectorId::PathProbe => "path_probe",
            DetectorId::ExposedFile => "exposed_file",
            DetectorId::Recurrence => "recurrence",
            DetectorId::Alert(via) => via.as_str(),
        }
    }

    /// The detector a name names, if one does.
    pub fn parse(text: &str) -> Option<DetectorId> {
        DetectorId::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Every detector's name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        DetectorId::ALL.into_iter().map(DetectorId::as_str)
    }

    /// What its key names: `address`, `account`, `agent`, `fingerprint`, ...
    pub fn subject(self) -> &'static str {
        use DetectorId::*;
        match self {
            BruteForce | Compromise | SlowBruteForce | PasswordSpray | PathProbe => "address",
            ExposedFile => "host and path",
            AccountAttack => "account",
            CredentialStuffing | DistributedSpray | ErrorSpike => "service",
            RateLimitAbuse => "rate limit key",
            DistributedRateLimit => "rate limit policy",
            NewError => "fingerprint",
            VaultNewSecret => "principal and secret",
            VaultNewIp => "principal and address",
            VaultVolume | VaultDeniedBurst | VaultAfterHours => "principal",
            StaleAgent | AgentDrift => "agent",
            Recurrence => "watched key",
            Alert(Via::Probe) => "probe",
            Alert(Via::Audit) => "audit finding",
            Alert(_) => "alert",
        }
    }

    /// Whether its key is the source address of an attack on logins: such signals from
    /// different detectors are one attack, and join one incident.
    pub fn keyed_by_source(self) -> bool {
        use DetectorId::*;
        matches!(self, BruteForce | Compromise | PasswordSpray | SlowBruteForce)
    }

    /// The rule tocsin follows when the plan names none, after the reference plans: a
    /// credential compromise is the top severity, a failed-login attack the second tier.
    pub fn default_rule(self) -> Rule {
        use DetectorId::*;
        let (disposition, tier) = match self {
            Compromise => (Disposition::Open, 0),
            BruteForce | PasswordSpray | SlowBruteForce | AccountAttack | CredentialStuffing | DistributedSpray
            | VaultDeniedBurst | DistributedRateLimit | RateLimitAbuse => (Disposition::Open, 1),
            // An app that answers every path with its index page makes exposures of files it
            // does not have: one incident for them all, for a person to look at.
            ErrorSpike | StaleAgent | AgentDrift | VaultNewSecret | VaultVolume | VaultNewIp | VaultAfterHours
            | ExposedFile => (Disposition::Open, 2),
            // The four-tier plan: an endpoint's outage is its second tier.
            Alert(Via::Probe) => (Disposition::Open, 1),
            // The daily audit's findings carry their own severity; one without is the
            // four-tier plan's "non-critical vulnerability discovered".
            Alert(Via::Audit) => (Disposition::Open, 2),
            // Scanners knock on every public site all day: on the record, not an incident.
            NewError | PathProbe | Recurrence | Alert(_) => (Disposition::Record, 3),
        };
        // An attack on logins that failed touched nobody's data; anything else is unknown
        // until a responder says.
        let customers = match self {
            BruteForce | PasswordSpray | SlowBruteForce | AccountAttack | DistributedSpray | RateLimitAbuse
            | DistributedRateLimit | PathProbe => CustomerImpact::No,
            _ => CustomerImpact::Unknown,
        };
        Rule {
            disposition,
            tier,
            one_incident: matches!(self, StaleAgent | ExposedFile),
            customers,
        }
    }
}

impl fmt::Display for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for DetectorId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DetectorId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<Via> for DetectorId {
    fn from(via: Via) -> Self {
        DetectorId::Alert(via)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanners_are_recorded_and_exposures_gather_in_one_incident_for_a_person() {
        let probe = DetectorId::PathProbe.default_rule();
        assert_eq!(
            (probe.disposition, probe.customers),
            (Disposition::Record, CustomerImpact::No)
        );
        let exposed = DetectorId::ExposedFile.default_rule();
        assert_eq!(
            (exposed.disposition, exposed.tier, exposed.one_incident),
            (Disposition::Open, 2, true)
        );
        assert_eq!(DetectorId::parse("exposed_file"), Some(DetectorId::ExposedFile));
    }

    #[test]
    fn every_detector_is_named_once_and_read_back_by_its_name() {
        let mut names: Vec<&str> = DetectorId::names().collect();
        for id in DetectorId::ALL {
            assert_eq!(DetectorId::parse(id.as_str()), Some(id));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DetectorId::ALL.len());
        assert_eq!(DetectorId::parse("brute-force"), None);
    }
}
