//! Reads an OpenSSH log on standard input and prints each attempt the parser finds, one
//! JSON object per line, with the number of the input line that completed it (`null` for
//! those counted at the end). `bench/sshd_coverage.py` measures coverage with it.
//!
//! `--alone`: each line is read by a parser of its own, as if it were the whole log.

use std::io::{BufRead, Write};

use jiff::tz::TimeZone;
use tocsin_core::event::AuthEvent;
use tocsin_detect::parse::sshd::SshdParser;

fn print(out: &mut impl Write, line: Option<usize>, events: &[AuthEvent]) {
    for e in events {
        let doc = serde_json::json!({
            "line": line,
            "outcome": format!("{:?}", e.outcome).to_lowercase(),
            "user": e.user,
            "source": e.source.to_string(),
            "reason": e.reason.as_str(),
            "method": e.method,
            "host": e.host,
        });
        writeln!(out, "{doc}").expect("standard output");
    }
}

fn main() {
    let alone = std::env::args().any(|a| a == "--alone");
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut parser = SshdParser::new(2026, TimeZone::UTC);
    let mut events = Vec::new();
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.expect("standard input");
        if alone {
            parser = SshdParser::new(2026, TimeZone::UTC);
        }
        parser.line(&line, &mut events);
        if alone {
            parser.finish(&mut events);
        }
        print(&mut out, Some(n + 1), &events);
        events.clear();
    }
    parser.finish(&mut events);
    print(&mut out, None, &events);
}
