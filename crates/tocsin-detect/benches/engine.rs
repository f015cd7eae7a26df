//! Events per second through all detectors, on the attempts of the 100,000-line generated
//! fixture (about 20,000 auth events), replayed with their times shifted each round.
//!
//!     cargo bench -p tocsin-detect --bench engine

use std::io::{BufRead, BufReader};
use std::time::Instant;

use flate2::read::GzDecoder;
use tocsin_core::event::{Event, parse_line};
use tocsin_detect::detect::Engine;

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sshd-100k.ndjson.gz");
    let events: Vec<Event> = BufReader::new(GzDecoder::new(std::fs::File::open(path).unwrap()))
        .lines()
        .enumerate()
        .map(|(i, l)| parse_line(i as u64 + 1, &l.unwrap()).unwrap())
        .collect();
    let rounds = 10;
    let mut best = f64::MAX;
    let mut signals = 0;
    for _ in 0..3 {
        let mut engine = Engine::default();
        let mut out = Vec::new();
        let started = Instant::now();
        let mut seq = 0;
        for _ in 0..rounds {
            for event in &events {
                seq += 1;
                engine.event(seq, event, &mut out);
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
        signals = out.len();
    }
    println!(
        "detectors: {:.0} events/s ({} events x {rounds}, {signals} signals, best of 3)",
        (events.len() * rounds) as f64 / best,
        events.len()
    );
}
