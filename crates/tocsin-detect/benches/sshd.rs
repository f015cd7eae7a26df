//! Lines per second of the OpenSSH parser alone, on the 20,000-line generated fixture.
//!
//!     cargo bench -p tocsin-detect --bench sshd

use std::io::{BufRead, BufReader};
use std::time::Instant;

use flate2::read::GzDecoder;
use jiff::tz::TimeZone;
use tocsin_detect::parse::sshd::SshdParser;

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sshd-20k.log.gz");
    let lines: Vec<String> = BufReader::new(GzDecoder::new(std::fs::File::open(path).unwrap()))
        .lines()
        .map(Result::unwrap)
        .collect();
    let rounds = 50;
    let mut best = f64::MAX;
    let mut attempts = 0;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..rounds {
            let mut parser = SshdParser::new(2026, TimeZone::UTC);
            let mut out = Vec::with_capacity(8_192);
            for line in &lines {
                parser.line(line, &mut out);
            }
            parser.finish(&mut out);
            attempts = out.len();
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    let total = (lines.len() * rounds) as f64;
    println!(
        "sshd parser: {:.0} lines/s ({} lines x {rounds}, {attempts} attempts per round, best of 5)",
        total / best,
        lines.len()
    );
}
