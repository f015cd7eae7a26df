//! Detector memory with a million distinct source addresses: resident memory and sources
//! tracked while they arrive within one hour, and after the detectors' windows pass.
//!
//!     cargo bench -p tocsin-detect --bench memory

use std::net::{IpAddr, Ipv4Addr};

use jiff::Timestamp;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Event, Source};
use tocsin_core::signal::Signal;
use tocsin_detect::detect::Engine;

const SOURCES: u32 = 1_000_000;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

fn failure(at: Timestamp, n: u32) -> Event {
    Event::Auth(AuthEvent {
        at,
        outcome: AuthOutcome::Failure,
        user: format!("user{}", n % 1000),
        source: Source::Ip(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n))),
        method: "password".into(),
        reason: AuthReason::BadPassword,
        service: "sshd".into(),
        user_agent: None,
        tenant: None,
        host: None,
        port: None,
    })
}

fn main() {
    let start = Timestamp::from_second(1_767_571_200).unwrap();
    let before = rss_mb();
    let mut engine = Engine::default();
    let mut out: Vec<Signal> = Vec::new();
    // A million sources, two failures each, all within one hour.
    let mut seq = 0;
    for round in 0..2 {
        for n in 0..SOURCES {
            seq += 1;
            let at = start + jiff::SignedDuration::from_millis(i64::from(n) * 3 + round * 900_000);
            engine.event(seq, &failure(at, n), &mut out);
        }
    }
    let peak = rss_mb();
    let tracked = engine.tracked();
    // Then quiet, but for one source, for three hours.
    for minute in 0..180 {
        seq += 1;
        let at = start + jiff::SignedDuration::from_mins(60 + minute);
        engine.event(seq, &failure(at, 0), &mut out);
    }
    println!(
        "{SOURCES} distinct sources within an hour: {tracked} tracked, RSS {:.0} MB (+{:.0} MB); three quiet hours later: {} tracked, RSS {:.0} MB; {} signals",
        peak,
        peak - before,
        engine.tracked(),
        rss_mb(),
        out.len()
    );
}
