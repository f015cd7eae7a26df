//! The outside senders' readers take anything a stranger sends: arbitrary bytes and
//! mutations of real payloads are read or refused with a reason, never a panic, and what
//! they read stays within the format's bounds.

use proptest::prelude::*;
use tocsin_core::Timestamp;
use tocsin_core::event::Event;
use tocsin_core::senders::alertmanager::read_webhook_alerts;
use tocsin_core::senders::pagerduty::{Enqueue, alert_of};
use tocsin_core::senders::sentry::{EVENT_MAX, envelope_of, read_event};
use tocsin_core::senders::{Unreadable, json};

/// An envelope as the Python SDK sends it: an event with an exception, a check-in, and an
/// attachment with its length.
const ENVELOPE: &[u8] = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"https://k@h/1\"}\n\
{\"type\":\"event\",\"content_type\":\"application/json\"}\n\
{\"message\":\"boom\",\"level\":\"error\",\"exception\":{\"values\":[{\"type\":\"KeyError\",\"value\":\"'sku'\",\
\"stacktrace\":{\"frames\":[{\"filename\":\"shop/checkout.py\",\"function\":\"charge\",\"lineno\":120,\"in_app\":true}]}}]},\
\"tags\":{\"region\":\"eu\"},\"user\":{\"id\":42},\"timestamp\":\"2026-11-23T10:00:00Z\"}\n\
{\"type\":\"check_in\"}\n\
{\"monitor_slug\":\"nightly\",\"status\":\"error\",\"monitor_config\":{\"schedule\":{\"type\":\"crontab\",\"value\":\"0 3 * * *\"}}}\n\
{\"type\":\"attachment\",\"length\":5}\n\
hello\n";

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

/// Reads `body` as an envelope and each of its items, as the endpoint does.
fn read_envelope(body: &[u8]) -> Result<Vec<Event>, String> {
    let envelope = envelope_of(body).map_err(|e| e.to_string())?;
    envelope
        .read("shop", now())
        .map(|r| r.events)
        .map_err(|e| e.to_string())
}

/// What a body may become: bytes changed, cut out, or repeated.
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Cut(usize, usize),
    Repeat(usize, usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Mutation::Cut(at, n)),
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Mutation::Repeat(at, n)),
    ];
    prop::collection::vec(one, 1..8)
}

fn mutated(body: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut body = body.to_vec();
    for m in mutations {
        if body.is_empty() {
            break;
        }
        match *m {
            Mutation::Set(at, b) => {
                let at = at % body.len();
                body[at] = b;
            }
            Mutation::Cut(at, n) => {
                let at = at % body.len();
                let end = (at + n).min(body.len());
                body.drain(at..end);
            }
            Mutation::Repeat(at, n) => {
                let at = at % body.len();
                let end = (at + n).min(body.len());
                let copy = body[at..end].to_vec();
                body.splice(at..at, copy);
            }
        }
    }
    body
}

#[test]
fn the_sample_envelope_reads_as_an_error_a_heartbeat_and_an_alert() {
    let events = read_envelope(ENVELOPE).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind().as_str()).collect();
    assert_eq!(kinds, ["error", "heartbeat", "alert"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_are_read_or_refused_without_a_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_envelope(&body);
        let _ = read_event(&body, "shop", now());
    }

    #[test]
    fn a_mutated_envelope_is_read_or_refused_and_what_is_read_is_bounded(m in mutations()) {
        let body = mutated(ENVELOPE, &m);
        if let Ok(events) = read_envelope(&body) {
            for event in &events {
                prop_assert!(event.at() <= now(), "an event from the future: {event:?}");
                if let Event::Error(e) = event {
                    prop_assert!(e.message.len() <= 8 * 1024);
                    prop_assert!(e.tags.len() <= 100);
                }
            }
        }
    }

    #[test]
    fn a_mutated_event_is_read_or_refused_with_a_reason(m in mutations()) {
        let start = ENVELOPE.iter().position(|b| *b == b'\n').unwrap() + 1;
        let start = start + ENVELOPE[start..].iter().position(|b| *b == b'\n').unwrap() + 1;
        let end = start + ENVELOPE[start..].iter().position(|b| *b == b'\n').unwrap();
        let body = mutated(&ENVELOPE[start..end], &m);
        match read_event(&body, "shop", now()) {
            Ok(read) => prop_assert_eq!(read.events.len(), 1),
            Err(Unreadable::Invalid(why) | Unreadable::TooLarge(why)) => prop_assert!(!why.is_empty()),
        }
    }
}

/// A trigger as Zabbix sends it.
const TRIGGER: &[u8] = br#"{"routing_key":"k","event_action":"trigger","dedup_key":"db1/down","payload":{"summary":"DB down","source":"db1","severity":"critical","timestamp":"2026-11-23T10:00:00Z","component":"postgres","custom_details":{"free":"0%"}},"links":[{"href":"https://z/1"}],"client":"Zabbix","client_url":"https://zabbix/1"}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_mutated_pagerduty_event_is_an_alert_or_its_problems_named(m in mutations()) {
        let body = mutated(TRIGGER, &m);
        let Ok(event) = json::<Enqueue>(&body) else { return Ok(()) };
        match alert_of(event, now(), || "generated".into()) {
            Ok(alert) => {
                prop_assert!(alert.starts_at <= now());
                prop_assert!(alert.summary.chars().count() <= 1024);
                prop_assert!(alert.fingerprint.chars().count() <= 255);
            }
            Err(problems) => prop_assert!(!problems.is_empty() && problems.iter().all(|p| !p.is_empty())),
        }
    }
}

/// An Alertmanager webhook, version 4, with a firing and a resolved alert.
const WEBHOOK: &[u8] = br#"{"version":"4","groupKey":"{}:{alertname=\"Down\"}","status":"firing","receiver":"tocsin","alerts":[{"status":"firing","labels":{"alertname":"Down","instance":"web-1","severity":"critical"},"annotations":{"summary":"web-1 is down"},"startsAt":"2026-11-23T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"c0ffee"},{"status":"resolved","labels":{"alertname":"Disk"},"annotations":{},"startsAt":"2026-11-23T09:00:00Z","endsAt":"2026-11-23T09:30:00Z"}]}"#;

#[test]
fn the_sample_webhook_reads_as_its_two_alerts_in_its_group() {
    let alerts = read_webhook_alerts(WEBHOOK, now()).unwrap();
    let read: Vec<(&str, Option<&str>)> = alerts
        .iter()
        .map(|a| (a.fingerprint.as_str(), a.group.as_deref()))
        .collect();
    assert_eq!(read[0], ("c0ffee", Some("{}:{alertname=\"Down\"}")));
    assert_eq!(alerts.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_mutated_webhook_is_read_as_alerts_or_refused_with_a_reason(m in mutations()) {
        let body = mutated(WEBHOOK, &m);
        match read_webhook_alerts(&body, now()) {
            Ok(alerts) => {
                prop_assert!(alerts.iter().all(|a| !a.fingerprint.is_empty()));
            }
            Err(why) => prop_assert!(!why.to_string().is_empty()),
        }
    }
}

#[test]
fn an_event_over_the_limit_is_too_large() {
    let body = vec![b' '; EVENT_MAX + 1];
    assert!(matches!(read_event(&body, "shop", now()), Err(Unreadable::TooLarge(_))));
}

/// A Vercel drain batch as NDJSON: a request, a firewall denial and a function's error.
const DRAIN: &[u8] = b"{\"id\":\"1\",\"deploymentId\":\"dpl_1\",\"source\":\"lambda\",\"host\":\"shop.vercel.app\",\"timestamp\":1795000000000,\"projectId\":\"p1\",\"level\":\"info\",\"proxy\":{\"timestamp\":1795000000000,\"method\":\"GET\",\"host\":\"shop.example\",\"path\":\"/api/cart\",\"userAgent\":[\"curl/8\"],\"region\":\"fra1\",\"statusCode\":500,\"clientIp\":\"203.0.113.9\"}}\n\
{\"id\":\"2\",\"deploymentId\":\"dpl_1\",\"source\":\"firewall\",\"host\":\"shop.vercel.app\",\"timestamp\":1795000000001,\"projectId\":\"p1\",\"level\":\"warning\",\"proxy\":{\"timestamp\":1795000000001,\"method\":\"GET\",\"host\":\"shop.example\",\"path\":\"/.env\",\"userAgent\":[],\"region\":\"fra1\",\"statusCode\":403,\"clientIp\":\"198.51.100.7\",\"wafAction\":\"deny\"}}\n\
{\"id\":\"3\",\"deploymentId\":\"dpl_1\",\"source\":\"lambda\",\"host\":\"shop.vercel.app\",\"timestamp\":1795000000002,\"projectId\":\"p1\",\"level\":\"error\",\"message\":\"boom\"}\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_mutated_drain_batch_is_read_as_bounded_events_or_refused_with_a_reason(m in mutations()) {
        use tocsin_core::senders::Sender;
        use tocsin_core::senders::vercel::Drain;
        let body = mutated(DRAIN, &m);
        match Drain::read(&body, now()) {
            // Each entry gives at most a request, a denial and an error.
            Ok(events) => prop_assert!(events.len() <= 3 * body.split(|b| *b == b'\n').count()),
            Err(why) => prop_assert!(!why.to_string().is_empty()),
        }
    }

    #[test]
    fn arbitrary_bytes_to_the_drain_are_read_or_refused_without_a_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        use tocsin_core::senders::Sender;
        let _ = tocsin_core::senders::vercel::Drain::read(&body, now());
    }
}

#[test]
fn the_sample_drain_batch_reads_as_four_events() {
    use tocsin_core::senders::Sender;
    let events = tocsin_core::senders::vercel::Drain::read(DRAIN, now()).unwrap();
    let kinds: Vec<_> = events.iter().map(Event::kind).collect();
    use tocsin_core::event::Kind;
    assert_eq!(kinds, [Kind::Request, Kind::Request, Kind::RateLimit, Kind::Error]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_mutated_heartbeat_push_says_up_or_down_or_is_refused_with_a_reason(m in mutations(), is_json in any::<bool>()) {
        use tocsin_core::senders::heartbeat::{MSG_MAX, said};
        let body = mutated(br#"{"status":"down","msg":"backup failed"}"#, &m);
        match said(Some("msg=from%20the%20query"), is_json, &body) {
            Ok(said) => prop_assert!(said.msg.is_some_and(|msg| msg.chars().count() <= MSG_MAX)),
            Err(why) => prop_assert!(!why.to_string().is_empty()),
        }
    }

    #[test]
    fn a_mutated_sentry_webhook_is_an_alert_none_or_refused_with_a_reason(m in mutations()) {
        use tocsin_core::senders::sentry_hooks::alert_of;
        let body = mutated(
            br#"{"action":"critical","data":{"description_title":"Too many errors","metric_alert":{"id":"4","alert_rule":{"name":"errors"}}}}"#,
            &m,
        );
        let Ok(doc) = json::<serde_json::Value>(&body) else { return Ok(()) };
        for resource in ["metric_alert", "event_alert", "issue"] {
            match alert_of(resource, &doc, now()) {
                Ok(Some(alert)) => prop_assert!(!alert.fingerprint.is_empty()),
                Ok(None) => {}
                Err(why) => prop_assert!(!why.to_string().is_empty()),
            }
        }
    }
}
