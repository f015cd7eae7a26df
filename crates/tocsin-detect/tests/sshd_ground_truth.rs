//! The OpenSSH parser against a generated log whose attempts are known: the fixture is
//! `gen_authlog.py 20000` (seed 42) from the team's workload generators, its log and the
//! same attempts as NDJSON.

mod common;

use common::lines;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use serde_json::Value;
use tocsin_core::event::AuthEvent;
use tocsin_detect::parse::sshd::SshdParser;

/// What identifies an attempt: time, source, user, outcome, method, reason, port.
type Key = (String, String, String, String, String, String, u64);

fn key_of(e: &AuthEvent) -> Key {
    let json = serde_json::to_value(e).unwrap();
    (
        e.at.to_string(),
        e.source.to_string(),
        e.user.clone(),
        json["outcome"].as_str().unwrap().to_owned(),
        e.method.clone(),
        json["reason"].as_str().unwrap().to_owned(),
        u64::from(e.port.unwrap_or(0)),
    )
}

#[test]
fn the_log_and_the_ndjson_form_give_the_same_attempts() {
    let mut from_log: Vec<Key> = common::attempts().iter().map(key_of).collect();
    let mut from_ndjson: Vec<Key> = common::ndjson_attempts().iter().map(key_of).collect();
    from_log.sort();
    from_ndjson.sort();
    assert_eq!(from_log.len(), 4_199);
    assert_eq!(from_log, from_ndjson);
}

fn truth_key(v: &Value) -> Key {
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    (
        s("ts"),
        s("ip"),
        s("user"),
        s("outcome"),
        s("method"),
        s("reason"),
        v["port"].as_u64().unwrap(),
    )
}

#[test]
fn every_attempt_of_the_generated_log_is_found_once_and_nothing_else() {
    let mut parser = SshdParser::new(2026, TimeZone::UTC);
    let mut events = Vec::new();
    let log = lines("sshd-20k.log.gz");
    for line in &log {
        parser.line(line, &mut events);
    }
    parser.finish(&mut events);
    let mut found: Vec<Key> = events.iter().map(key_of).collect();
    let mut truth: Vec<Key> = lines("sshd-20k.ndjson.gz")
        .iter()
        .map(|l| truth_key(&serde_json::from_str(l).unwrap()))
        .collect();
    found.sort();
    truth.sort();
    assert_eq!(log.len(), 20_000);
    assert_eq!(truth.len(), 4_199);
    let missing: Vec<&Key> = truth.iter().filter(|k| !found.contains(k)).take(5).collect();
    let extra: Vec<&Key> = found.iter().filter(|k| !truth.contains(k)).take(5).collect();
    assert_eq!(found, truth, "missing {missing:#?}\nextra {extra:#?}");
    assert_eq!(parser.tally.malformed, 0);
    assert_eq!(parser.tally.attempts, 4_199);
}

#[test]
fn the_same_log_with_rfc3339_times_gives_the_same_attempts() {
    let mut bsd = SshdParser::new(2026, TimeZone::UTC);
    let mut iso = SshdParser::new(1999, TimeZone::UTC);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for line in lines("sshd-20k.log.gz").iter().take(5_000) {
        bsd.line(line, &mut a);
        // Rewrite the traditional prefix as RFC 3339, as rsyslog's high-precision format does.
        let at = bsd_prefix_as_rfc3339(line);
        iso.line(&format!("{at}{}", &line[15..]), &mut b);
    }
    bsd.finish(&mut a);
    iso.finish(&mut b);
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

fn bsd_prefix_as_rfc3339(line: &str) -> String {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == &line[..3]).unwrap() + 1;
    let day: u32 = line[4..6].trim().parse().unwrap();
    format!("2026-{month:02}-{day:02}T{}+00:00", &line[7..15])
}

proptest! {
    #[test]
    fn no_line_makes_the_parser_panic(line in "\\PC{0,200}") {
        let mut parser = SshdParser::new(2026, TimeZone::UTC);
        let mut out = Vec::new();
        parser.line(&line, &mut out);
        parser.finish(&mut out);
    }

    #[test]
    fn no_sshd_message_makes_the_parser_panic(message in "(Failed|Accepted|Invalid user|Connection closed by) \\PC{0,80}") {
        let mut parser = SshdParser::new(2026, TimeZone::UTC);
        let mut out = Vec::new();
        parser.line(&format!("Jan  5 00:00:02 web1 sshd[1]: {message}"), &mut out);
        parser.finish(&mut out);
    }
}
