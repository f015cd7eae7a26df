//! The outside senders' readers take anything a stranger sends: arbitrary bytes and
//! mutations of real payloads are read or refused with a reason, never a panic, and what
//! they read stays within the format's bounds.

use proptest::prelude::*;
use tocsin_core::Timestamp;
use tocsin_core::event::Event;
use tocsin_core::senders::Unreadable;
use tocsin_core::senders::sentry::{EVENT_MAX, envelope_of, read_event};

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
    let envelope = envelope_of(body)?;
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
            prop_assert!(events.len() <= 3, "{events:?}");
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

#[test]
fn an_event_over_the_limit_is_too_large() {
    let body = vec![b' '; EVENT_MAX + 1];
    assert!(matches!(read_event(&body, "shop", now()), Err(Unreadable::TooLarge(_))));
}
