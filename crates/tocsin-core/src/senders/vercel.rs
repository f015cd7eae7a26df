//! Vercel log drains: batches of log entries, as a JSON array or as NDJSON whatever the
//! `Content-Type`, each body signed with the drain's secret (`x-vercel-signature`, a hex
//! HMAC-SHA1). Request logs become request events (for the error-rate detectors),
//! functions' errors become error events, and what the Vercel Firewall denied, challenged
//! or limited becomes a rate-limit denial of the client's address (for the attack
//! detectors). Other entries (builds, `stdout`) are not security news and are dropped.
//! Every answer carries the drain's `x-vercel-verify` value, which Vercel checks when the
//! drain is added.

use serde::Deserialize;

use super::{IntegrationKind, Sender, Signature, Unreadable};
use crate::Timestamp;
use crate::event::{
    Decision, ErrorEvent, Event, Level, MAX_FIELD_BYTES, RateLimitEvent, RequestEvent, Source, cut, fingerprint_of,
};

/// The drain endpoint.
#[derive(Debug)]
pub struct Drain;

impl Sender for Drain {
    const NAME: &'static str = "vercel";
    const KIND: IntegrationKind = IntegrationKind::Vercel;
    const PATH: &'static str = "/api/v1/drains/vercel/{key}";
    /// Vercel cuts a message at 256 KB and batches entries: room for a few dozen of the
    /// largest, and memory per request stays a small multiple of it.
    const MAX_BODY: usize = 8 * 1024 * 1024;
    const SIGNATURE: Option<Signature> = Some(Signature::HmacSha1 {
        header: "x-vercel-signature",
    });
    const VERIFY_HEADER: Option<&'static str> = Some("x-vercel-verify");
    const SETUP: &'static str = "Vercel (Team Settings > Drains > Add Drain > Logs, custom endpoint, JSON or NDJSON): \
        endpoint {url}; add the integration with the x-vercel-verify value Vercel shows \
        (tocsin integration add vercel --name NAME --verify VALUE), which tocsin answers with; \
        then give tocsin the drain's signature secret: \
        tocsin integration secret NAME --secret-env VARIABLE (or --secret-file PATH)";

    fn read(body: &[u8], now: Timestamp) -> Result<Vec<Event>, Unreadable> {
        let entries = entries(body)?;
        Ok(entries.into_iter().flat_map(|e| events_of(e, now)).collect())
    }
}

/// One log entry; fields tocsin does not use are skipped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    id: Option<String>,
    source: Option<String>,
    /// Unix milliseconds.
    timestamp: Option<i64>,
    level: Option<String>,
    message: Option<String>,
    /// -1: the function crashed without answering.
    status_code: Option<i64>,
    host: Option<String>,
    path: Option<String>,
    project_id: Option<String>,
    project_name: Option<String>,
    environment: Option<String>,
    deployment_id: Option<String>,
    proxy: Option<Proxy>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Proxy {
    timestamp: Option<i64>,
    method: Option<String>,
    host: Option<String>,
    path: Option<String>,
    #[serde(default)]
    user_agent: Vec<String>,
    /// -1: a revalidation in the background, not a client's request.
    status_code: Option<i64>,
    client_ip: Option<String>,
    waf_action: Option<String>,
    waf_rule_id: Option<String>,
}

/// Entries taken in one batch at most: each may become three events.
pub const MAX_ENTRIES: usize = 100_000;

fn too_many() -> Unreadable {
    Unreadable::TooLarge(format!(
        "the batch holds more than {MAX_ENTRIES} entries; send smaller batches"
    ))
}

/// The entries of a JSON array, or of NDJSON (one entry a line, blank lines skipped).
fn entries(body: &[u8]) -> Result<Vec<Entry>, Unreadable> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|at| body[at] == b'[') {
        let entries: Vec<Entry> = super::json(body)?;
        return match entries.len() > MAX_ENTRIES {
            true => Err(too_many()),
            false => Ok(entries),
        };
    }
    if body.iter().filter(|b| **b == b'\n').count() > MAX_ENTRIES {
        return Err(too_many());
    }
    body.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| line.iter().any(|b| !b.is_ascii_whitespace()))
        .map(|(n, line)| super::json(line).map_err(|e| Unreadable::Invalid(format!("line {}: {e}", n + 1))))
        .collect()
}

fn at(millis: Option<i64>, now: Timestamp) -> Timestamp {
    millis
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .unwrap_or(now)
}

fn bounded(text: &str) -> String {
    let mut text = text.to_owned();
    cut(&mut text, MAX_FIELD_BYTES);
    text
}

fn events_of(entry: Entry, now: Timestamp) -> Vec<Event> {
    let mut events = Vec::new();
    let service = entry
        .project_name
        .as_deref()
        .or(entry.project_id.as_deref())
        .map(|p| bounded(&format!("vercel:{p}")));
    if let Some(proxy) = &entry.proxy {
        let at = at(proxy.timestamp.or(entry.timestamp), now);
        let source = proxy.client_ip.as_deref().map(|ip| Source::parse(&bounded(ip)));
        let status = match (proxy.status_code, entry.status_code) {
            (Some(-1), _) | (None, None) => None,
            // The function crashed without answering: the client got a server error.
            (None, Some(-1)) => Some(500),
            (Some(status), _) | (None, Some(status)) => u16::try_from(status).ok(),
        };
        if let Some(status) = status {
            let path = proxy.path.as_deref().or(entry.path.as_deref()).unwrap_or("/");
            // The query may carry tokens: only the path is kept.
            let path = path.split('?').next().unwrap_or(path);
            events.push(Event::Request(RequestEvent {
                at,
                method: bounded(proxy.method.as_deref().unwrap_or("GET")),
                path: bounded(path),
                status,
                latency_ms: None,
                source: source.clone(),
                tenant: None,
                service: service.clone(),
                user_agent: proxy.user_agent.first().map(|ua| bounded(ua)),
                host: proxy.host.as_deref().or(entry.host.as_deref()).map(bounded),
            }));
        }
        let refused = matches!(proxy.waf_action.as_deref(), Some("deny" | "challenge" | "rate_limit"));
        if let Some(source) = source.filter(|_| refused || entry.source.as_deref() == Some("firewall")) {
            let action = proxy.waf_action.as_deref().unwrap_or("deny");
            let rule = proxy.waf_rule_id.as_deref().unwrap_or("firewall");
            events.push(Event::RateLimit(RateLimitEvent {
                at,
                key: source.to_string(),
                policy: bounded(&format!("vercel-firewall:{action}:{rule}")),
                decision: Decision::Deny,
                source: Some(source),
            }));
        }
    }
    let level = match entry.level.as_deref() {
        Some("error") => Some(Level::Error),
        Some("fatal") => Some(Level::Fatal),
        _ => None,
    };
    let source = entry.source.as_deref().unwrap_or_default();
    if let (Some(level), Some(message)) = (level, &entry.message)
        && matches!(source, "lambda" | "edge" | "external" | "static")
    {
        let message = bounded(message);
        events.push(Event::Error(ErrorEvent {
            at: at(entry.timestamp, now),
            service: service.unwrap_or_else(|| "vercel".into()),
            level,
            fingerprint: bounded(&fingerprint_of(&message)),
            message,
            release: entry.deployment_id.as_deref().map(bounded),
            environment: entry.environment.as_deref().map(bounded),
            host: entry.host.as_deref().map(bounded),
            exception: None,
            tags: std::collections::BTreeMap::new(),
            user: None,
            event_id: entry.id.as_deref().map(bounded),
        }));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    const REQUEST: &str = r#"{"id":"1","deploymentId":"dpl_1","source":"lambda","host":"shop.vercel.app","timestamp":1573817187330,"projectId":"p1","projectName":"shop","level":"info","statusCode":-1,"proxy":{"timestamp":1573817187330,"method":"POST","host":"shop.example","path":"/api/login?token=s3cret","userAgent":["curl/8"],"region":"fra1","statusCode":502,"clientIp":"203.0.113.9"}}"#;
    const DENIED: &str = r#"{"id":"2","deploymentId":"dpl_1","source":"firewall","host":"shop.vercel.app","timestamp":1573817187331,"projectId":"p1","level":"warning","proxy":{"timestamp":1573817187331,"method":"GET","host":"shop.example","path":"/wp-login.php","userAgent":[],"region":"fra1","statusCode":403,"clientIp":"198.51.100.7","wafAction":"deny","wafRuleId":"r9"}}"#;
    const CRASH: &str = r#"{"id":"3","deploymentId":"dpl_1","source":"lambda","host":"shop.vercel.app","timestamp":1573817187332,"projectId":"p1","level":"error","type":"stderr","message":"TypeError: cannot read id of user 42","environment":"production"}"#;
    const BUILD: &str = r#"{"id":"4","deploymentId":"dpl_1","source":"build","host":"shop.vercel.app","timestamp":1573817187333,"projectId":"p1","level":"info","message":"Compiled"}"#;

    #[test]
    fn a_json_batch_and_the_same_as_ndjson_give_the_same_events() {
        let array = format!("[{REQUEST},{DENIED},{CRASH},{BUILD}]");
        let lines = format!("{REQUEST}\n{DENIED}\n\n{CRASH}\n{BUILD}\n");
        let events = Drain::read(array.as_bytes(), now()).unwrap();
        assert_eq!(events, Drain::read(lines.as_bytes(), now()).unwrap());
        assert_eq!(events.len(), 4, "{events:?}");
        let Event::Request(request) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!((request.status, request.path.as_str()), (502, "/api/login"));
        assert_eq!(request.source, Some(Source::parse("203.0.113.9")));
        assert_eq!(request.service.as_deref(), Some("vercel:shop"));
        let Event::Request(denied) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(denied.status, 403);
        let Event::RateLimit(limit) = &events[2] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (limit.decision, limit.policy.as_str()),
            (Decision::Deny, "vercel-firewall:deny:r9")
        );
        assert_eq!(limit.key, "198.51.100.7");
        let Event::Error(error) = &events[3] else {
            panic!("{events:?}")
        };
        // Errors of one cause group, whichever user they happened to.
        assert_eq!(error.fingerprint, fingerprint_of("TypeError: cannot read id of user 7"));
        assert_eq!(error.environment.as_deref(), Some("production"));
    }

    #[test]
    fn a_crashed_function_is_a_server_error_and_a_revalidation_is_no_request() {
        let crashed = r#"{"source":"lambda","statusCode":-1,"proxy":{"method":"GET","path":"/","userAgent":[]}}"#;
        let events = Drain::read(crashed.as_bytes(), now()).unwrap();
        assert!(
            matches!(&events[..], [Event::Request(r)] if r.status == 500),
            "{events:?}"
        );
        let background = r#"{"source":"lambda","proxy":{"method":"GET","path":"/","userAgent":[],"statusCode":-1}}"#;
        assert_eq!(Drain::read(background.as_bytes(), now()).unwrap(), Vec::new());
    }

    #[test]
    fn what_is_not_a_batch_of_entries_is_refused_naming_where() {
        let e = Drain::read(b"{\"source\":\"lambda\"}\nnot json\n", now()).unwrap_err();
        assert!(e.to_string().starts_with("line 2: "), "{e}");
        let e = Drain::read(b"[{\"source\": 7}]", now()).unwrap_err();
        assert!(e.to_string().contains("[0].source"), "{e}");
        assert_eq!(Drain::read(b"", now()).unwrap(), Vec::new());
    }

    #[test]
    fn a_batch_of_more_entries_than_the_bound_is_too_large_either_way() {
        let lines = "{}\n".repeat(MAX_ENTRIES + 1);
        assert!(matches!(
            Drain::read(lines.as_bytes(), now()),
            Err(Unreadable::TooLarge(_))
        ));
        let array = format!("[{}{{}}]", "{},".repeat(MAX_ENTRIES));
        assert!(matches!(
            Drain::read(array.as_bytes(), now()),
            Err(Unreadable::TooLarge(_))
        ));
        let fine = format!("[{}{{}}]", "{},".repeat(MAX_ENTRIES - 1));
        assert_eq!(Drain::read(fine.as_bytes(), now()).unwrap(), Vec::new());
    }
}
