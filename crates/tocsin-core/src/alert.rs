//! Alerts: judgments other tools already made (a Prometheus rule firing, a PagerDuty-style
//! trigger, a Sentry alert, a job that pushed "down"), taken as they come. An alert has an
//! identity within its source (its fingerprint) and a life: it fires, may be acknowledged,
//! and resolves, or expires when its sender stops re-sending it. Each time it starts to
//! fire is one episode, and one signal.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [AlertStatus::Firing, AlertStatus::Acknowledged, AlertStatus::Resolved]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Firing or acknowledged: not over yet.
    pub fn is_open(self) -> bool {
        self != AlertStatus::Resolved
    }
}

/// The protocol an alert came by; its signals carry it as their detector's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The Alertmanager webhook or `POST /api/v2/alerts` (Prometheus, amtool, vmalert, …).
    Alertmanager,
    /// The PagerDuty Events API v2.
    Pagerduty,
    /// Sentry: its issue and metric alerts, and cron check-ins that failed.
    Sentry,
    /// A heartbeat push that said the job is down.
    Heartbeat,
    /// Sent as a tocsin event by anything else.
    Alert,
    /// One of the plan's probes, run by tocsin, going down.
    Probe,
    /// A finding of tocsin's daily security audit.
    Audit,
}

impl Via {
    pub const ALL: [Via; 7] = [
        Via::Alertmanager,
        Via::Pagerduty,
        Via::Sentry,
        Via::Heartbeat,
        Via::Alert,
        Via::Probe,
        Via::Audit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Alertmanager => "alertmanager",
            Via::Pagerduty => "pagerduty",
            Via::Sentry => "sentry",
            Via::Heartbeat => "heartbeat",
            Via::Alert => "alert",
            Via::Probe => "probe",
            Via::Audit => "audit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Via::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

/// One alert as one delivery told it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What identifies it within its source: the same fingerprint is the same alert.
    pub fingerprint: String,
    pub status: AlertStatus,
    /// One line for a person.
    pub summary: String,
    /// The sender's word for how bad it is: critical, error, warning, info, or its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Alerts of one group join one incident; without a group, each alert has its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Timestamp,
    /// When it stops firing unless told again (Alertmanager's `endsAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// Where the sender shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What else the sender said, as it said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl Alert {
    /// An alert told at `at` with nothing but its identity, status and summary; senders
    /// fill in what else they say.
    pub fn new(fingerprint: String, status: AlertStatus, summary: String, at: Timestamp) -> Self {
        Alert {
            fingerprint,
            status,
            summary,
            severity: None,
            group: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            starts_at: at,
            ends_at: None,
            url: None,
            details: None,
        }
    }

    /// The alert as tocsin keeps it: an identity (fingerprint, group) longer than
    /// [`IDENTITY_MAX`] is replaced by its digest, which still tells it apart; text is cut
    /// ([`TEXT_MAX`], annotations [`NOTE_MAX`]); at most [`PAIRS_MAX`] labels and as many
    /// annotations are kept. An alert of any size still opens its incident, and one that
    /// comes again is still the same alert.
    pub fn bounded(&self) -> Alert {
        let pairs = |map: &BTreeMap<String, String>, max: usize| -> BTreeMap<String, String> {
            map.iter()
                .take(PAIRS_MAX)
                .map(|(k, v)| (cut(k, TEXT_MAX), cut(v, max)))
                .collect()
        };
        Alert {
            fingerprint: identity(&self.fingerprint),
            status: self.status,
            summary: cut(&self.summary, TEXT_MAX),
            severity: self.severity.as_deref().map(|s| cut(s, TEXT_MAX)),
            group: self.group.as_deref().map(identity),
            labels: pairs(&self.labels, TEXT_MAX),
            annotations: pairs(&self.annotations, NOTE_MAX),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            url: self.url.as_deref().map(|u| cut(u, TEXT_MAX)),
            details: None,
        }
    }
}

/// The longest fingerprint or group kept as it is, in bytes.
pub const IDENTITY_MAX: usize = 256;
/// The longest summary, severity, URL, label name or value kept, in bytes.
pub const TEXT_MAX: usize = 1024;
/// The longest annotation kept, in bytes.
pub const NOTE_MAX: usize = 4096;
/// Labels, and annotations, kept of one alert.
pub const PAIRS_MAX: usize = 64;

fn cut(text: &str, max: usize) -> String {
    let mut text = text.to_owned();
    crate::event::cut(&mut text, max);
    text
}

/// An identity as it is, or its digest when it is too long to keep.
fn identity(text: &str) -> String {
    use sha2::{Digest, Sha256};
    if text.len() <= IDENTITY_MAX {
        return text.to_owned();
    }
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// The detector name of alert signals that came by `via`.
pub fn detector(via: Via) -> &'static str {
    via.as_str()
}

/// How an alert's sender rates it, by the plan's tiers: 0 is the most severe. PagerDuty's
/// four words, and the words Prometheus rules commonly put in a `severity` label.
pub fn tier_of(severity: &str) -> Option<usize> {
    Some(match severity.trim().to_ascii_lowercase().as_str() {
        "critical" | "crit" | "page" | "fatal" | "emergency" | "p1" | "sev1" => 0,
        "error" | "high" | "major" | "err" | "p2" | "sev2" => 1,
        "warning" | "warn" | "medium" | "minor" | "p3" | "sev3" => 2,
        "info" | "low" | "none" | "informational" | "debug" | "p4" | "sev4" => 3,
        _ => return None,
    })
}

/// PagerDuty's severity words, in order; alerts are mapped by the word of their tier.
pub const SEVERITY_WORDS: [&str; 4] = ["critical", "error", "warning", "info"];

/// What tocsin keeps of an alert between deliveries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub status: AlertStatus,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
}

/// What a delivery does to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It starts to fire: a new episode, and a signal.
    Opened,
    /// Still firing (or acknowledged): its details and expiry are brought up to date.
    Updated,
    Acknowledged,
    Resolved,
    /// Nothing to do: an acknowledgement or a resolution of an alert that is not open
    /// (PagerDuty drops those too).
    Ignored,
}

/// What `incoming` does to the alert as tocsin knows it (`None`: never seen).
pub fn change(current: Option<&Tracked>, incoming: &Alert) -> Change {
    let open = current.filter(|c| c.status.is_open());
    match (incoming.status, open) {
        (AlertStatus::Firing, None) => Change::Opened,
        (AlertStatus::Firing, Some(_)) => Change::Updated,
        (AlertStatus::Acknowledged, Some(c)) if c.status == AlertStatus::Firing => Change::Acknowledged,
        (AlertStatus::Resolved, Some(_)) => Change::Resolved,
        (AlertStatus::Acknowledged | AlertStatus::Resolved, _) => Change::Ignored,
    }
}

/// Alertmanager's fingerprint of a label set, so that tocsin names an alert as Prometheus
/// tools do: FNV-1a (64 bits) over the sorted names and values, each followed by 0xff.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut hash = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    format!("{hash:016x}")
}

/// Whether `name` may name a label: a letter or `_`, then letters, digits and `_`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A time as senders write it; Go's zero time (`0001-01-01T00:00:00Z`) means none.
/// Why an alert a sender posted is refused, in the words Alertmanager uses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadAlert(pub String);

pub fn sent_time(text: Option<&str>, field: &str) -> Result<Option<Timestamp>, BadAlert> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let at: Timestamp = text
        .parse()
        .map_err(|e| BadAlert(format!("{field} \"{text}\" is not an RFC 3339 time: {e}")))?;
    // Before 1970: the zero time of Go, which senders write for "not set".
    Ok((at.as_second() > 0).then_some(at))
}

/// Alertmanager's default `resolve_timeout`: an alert posted without `endsAt` expires
/// this long after it was last posted.
pub const RESOLVE_TIMEOUT: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// `postableAlert` of Alertmanager's API v2, as Prometheus and amtool post it.
#[derive(Clone, Debug, Deserialize)]
pub struct Postable {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    pub starts_at: Option<String>,
    #[serde(rename = "endsAt")]
    pub ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    pub generator_url: Option<String>,
}

/// Checks a label set as Alertmanager does: empty values are dropped, names are Prometheus
/// names, and at least one pair is left.
pub fn label_set(mut labels: BTreeMap<String, String>, what: &str) -> Result<BTreeMap<String, String>, BadAlert> {
    labels.retain(|_, value| !value.is_empty());
    if labels.is_empty() {
        return Err(BadAlert(format!("{what}: at least one label pair required")));
    }
    if let Some(bad) = labels.keys().find(|name| !valid_label_name(name)) {
        return Err(BadAlert(format!("{what}: invalid label set: invalid name \"{bad}\"")));
    }
    Ok(labels)
}

/// One line for a person: the alert's name and its summary or description.
pub fn summary_of(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    fingerprint: &str,
) -> String {
    let told = annotations
        .get("summary")
        .or_else(|| annotations.get("description"))
        .or_else(|| annotations.get("message"));
    match (labels.get("alertname"), told) {
        (Some(name), Some(text)) if !text.contains(name.as_str()) => format!("{name}: {text}"),
        (_, Some(text)) => text.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => format!("alert {fingerprint}"),
    }
}

/// An alert posted to `/api/v2/alerts`, as tocsin keeps it. As in Alertmanager: no start
/// means now, no end means [`RESOLVE_TIMEOUT`] from now, and an end already past means
/// resolved.
pub fn postable(index: usize, p: Postable, now: Timestamp) -> Result<Alert, BadAlert> {
    let what = format!("alert {index}");
    let labels = label_set(p.labels, &what)?;
    if let Some(bad) = p.annotations.keys().find(|name| !valid_label_name(name)) {
        return Err(BadAlert(format!("{what}: invalid annotations: invalid name \"{bad}\"")));
    }
    let starts_at = sent_time(p.starts_at.as_deref(), "startsAt").map_err(|e| BadAlert(format!("{what}: {e}")))?;
    let ends_at = sent_time(p.ends_at.as_deref(), "endsAt").map_err(|e| BadAlert(format!("{what}: {e}")))?;
    if let (Some(start), Some(end)) = (starts_at, ends_at)
        && start > end
    {
        return Err(BadAlert(format!("{what}: start time must be before end time")));
    }
    let ends_at = ends_at.unwrap_or(now + RESOLVE_TIMEOUT);
    let fingerprint = label_fingerprint(&labels);
    Ok(Alert {
        status: if ends_at <= now {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        },
        summary: summary_of(&labels, &p.annotations, &fingerprint),
        severity: labels.get("severity").cloned(),
        group: labels.get("alertname").cloned(),
        starts_at: starts_at.unwrap_or(now).min(ends_at),
        ends_at: Some(ends_at),
        url: p.generator_url.filter(|u| !u.is_empty()),
        details: None,
        fingerprint,
        labels,
        annotations: p.annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_alert_is_kept_bounded_and_still_the_same_alert() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let mut alert = Alert::new("f".repeat(70_000), AlertStatus::Firing, "s".repeat(70_000), at);
        for i in 0..100 {
            alert.labels.insert(format!("l{i:03}"), "v".repeat(5000));
        }
        let kept = alert.bounded();
        assert!(kept.fingerprint.starts_with("sha256:") && kept.fingerprint.len() == 71);
        assert_eq!(kept.fingerprint, alert.bounded().fingerprint, "the same alert again");
        assert_eq!((kept.summary.len(), kept.labels.len()), (TEXT_MAX, PAIRS_MAX));
        assert!(kept.labels.values().all(|v| v.len() == TEXT_MAX));
        let small = Alert::new("abc".into(), AlertStatus::Firing, "disk full".into(), at);
        assert_eq!(small.bounded(), small);
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn fingerprints_match_alertmanager() {
        // As Alertmanager 0.25 answered for this label set.
        let set = labels(&[("alertname", "Test1"), ("instance", "web-1"), ("severity", "critical")]);
        assert_eq!(label_fingerprint(&set), "0c379b2b23583592");
        assert_ne!(
            label_fingerprint(&labels(&[("a", "bc")])),
            label_fingerprint(&labels(&[("ab", "c")]))
        );
    }

    #[test]
    fn label_names_follow_prometheus() {
        assert!(valid_label_name("alertname") && valid_label_name("_x1"));
        assert!(
            !valid_label_name("") && !valid_label_name("1x") && !valid_label_name("a b") && !valid_label_name("a-b")
        );
    }

    #[test]
    fn an_alert_opens_updates_and_resolves_once() {
        let at = Timestamp::UNIX_EPOCH;
        let alert = |status| Alert {
            fingerprint: "f".into(),
            status,
            summary: "s".into(),
            severity: None,
            group: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            starts_at: at,
            ends_at: None,
            url: None,
            details: None,
        };
        let tracked = |status| Tracked {
            status,
            starts_at: at,
            ends_at: None,
        };
        use AlertStatus::*;
        assert_eq!(change(None, &alert(Firing)), Change::Opened);
        assert_eq!(change(Some(&tracked(Firing)), &alert(Firing)), Change::Updated);
        assert_eq!(change(Some(&tracked(Acknowledged)), &alert(Firing)), Change::Updated);
        assert_eq!(change(Some(&tracked(Resolved)), &alert(Firing)), Change::Opened);
        assert_eq!(
            change(Some(&tracked(Firing)), &alert(Acknowledged)),
            Change::Acknowledged
        );
        assert_eq!(
            change(Some(&tracked(Acknowledged)), &alert(Acknowledged)),
            Change::Ignored
        );
        assert_eq!(change(None, &alert(Acknowledged)), Change::Ignored);
        assert_eq!(change(Some(&tracked(Acknowledged)), &alert(Resolved)), Change::Resolved);
        assert_eq!(change(Some(&tracked(Resolved)), &alert(Resolved)), Change::Ignored);
        assert_eq!(change(None, &alert(Resolved)), Change::Ignored);
    }

    #[test]
    fn severity_words_rank_as_tiers() {
        assert_eq!(tier_of("critical"), Some(0));
        assert_eq!(tier_of("Error"), Some(1));
        assert_eq!(tier_of("warning"), Some(2));
        assert_eq!(tier_of("info"), Some(3));
        assert_eq!(tier_of("bogus"), None);
    }

    #[test]
    fn posted_alerts_follow_alertmanager() {
        let now: Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
        let post = |json: &str| postable(0, serde_json::from_str(json).unwrap(), now);
        let a = post(r#"{"labels":{"alertname":"Down","severity":"critical","empty":""},"annotations":{"summary":"web is down"}}"#).unwrap();
        assert_eq!(a.status, AlertStatus::Firing);
        assert_eq!((a.starts_at, a.ends_at), (now, Some(now + RESOLVE_TIMEOUT)));
        assert_eq!(a.summary, "Down: web is down");
        assert_eq!(
            (a.severity.as_deref(), a.group.as_deref()),
            (Some("critical"), Some("Down"))
        );
        assert!(!a.labels.contains_key("empty"));
        let gone =
            post(r#"{"labels":{"a":"b"},"startsAt":"2026-01-05T09:00:00Z","endsAt":"2026-01-05T09:30:00Z"}"#).unwrap();
        assert_eq!(gone.status, AlertStatus::Resolved);
        // amtool writes Go's zero time for "not set".
        let zero =
            post(r#"{"labels":{"a":"b"},"startsAt":"0001-01-01T00:00:00.000Z","endsAt":"0001-01-01T00:00:00.000Z"}"#)
                .unwrap();
        assert_eq!((zero.status, zero.starts_at), (AlertStatus::Firing, now));
        for (json, says) in [
            (r#"{"labels":{}}"#, "at least one label pair required"),
            (r#"{"labels":{"a":""}}"#, "at least one label pair required"),
            (r#"{"labels":{"a b":"c"}}"#, "invalid name \"a b\""),
            (
                r#"{"labels":{"a":"b"},"startsAt":"2026-01-05T09:00:00Z","endsAt":"2026-01-05T08:00:00Z"}"#,
                "start time must be before end time",
            ),
            (
                r#"{"labels":{"a":"b"},"startsAt":"yesterday"}"#,
                "startsAt \"yesterday\"",
            ),
        ] {
            let err = post(json).unwrap_err();
            assert!(err.to_string().contains(says), "{json}: {err}");
        }
    }
}
