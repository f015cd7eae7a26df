//! The generated fixtures, each a log, its attempts as NDJSON and its ground truth:
//! `sshd-20k` is `gen_authlog.py 20000` (seed 42), `sshd-100k` is `gen_authlog.py 100000
//! --seed 2` (a seed whose log holds a brute force that ends in a success).

use std::io::{BufRead, BufReader};

use flate2::read::GzDecoder;
use jiff::tz::TimeZone;
use tocsin_core::event::{AuthEvent, Event};
use tocsin_detect::parse::sshd::SshdParser;

pub fn lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(Result::unwrap)
        .collect()
}

/// The log's attempts, as the parser finds them, in time order.
#[allow(dead_code)]
pub fn attempts() -> Vec<AuthEvent> {
    attempts_of("sshd-20k")
}

/// The attempts of the log `{name}.log.gz`, in time order.
#[allow(dead_code)]
pub fn attempts_of(name: &str) -> Vec<AuthEvent> {
    let mut parser = SshdParser::new(2026, TimeZone::UTC);
    let mut events = Vec::new();
    for line in lines(&format!("{name}.log.gz")) {
        parser.line(&line, &mut events);
    }
    parser.finish(&mut events);
    events.sort_by_key(|e| e.at);
    events
}

#[allow(dead_code)]
pub fn truth() -> serde_json::Value {
    truth_of("sshd-20k")
}

#[allow(dead_code)]
pub fn truth_of(name: &str) -> serde_json::Value {
    serde_json::from_str(&lines(&format!("{name}.truth.json.gz")).join("\n")).unwrap()
}

/// The same attempts as the sender wrote them, as NDJSON, in time order.
#[allow(dead_code)]
pub fn ndjson_attempts() -> Vec<AuthEvent> {
    ndjson_attempts_of("sshd-20k")
}

/// The attempts of `{name}.ndjson.gz`, in time order.
#[allow(dead_code)]
pub fn ndjson_attempts_of(name: &str) -> Vec<AuthEvent> {
    let mut events: Vec<AuthEvent> = lines(&format!("{name}.ndjson.gz"))
        .iter()
        .enumerate()
        .map(|(i, l)| match tocsin_core::event::parse_line(i as u64 + 1, l) {
            Ok(Event::Auth(a)) => a,
            other => panic!("line {}: not an auth event: {other:?}", i + 1),
        })
        .collect();
    events.sort_by_key(|e| e.at);
    events
}
