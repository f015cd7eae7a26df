//! PostgreSQL's log, as authentication attempts: self-hosted servers' `stderr` log with
//! the default `log_line_prefix` (`%m [%p] `, with or without `%q%u@%d ` and `%h`), and
//! the `jsonlog` format (PostgreSQL 15 and later, what managed services such as Neon and
//! log drains pass on).
//!
//! - `password authentication failed for user "U"` (and SCRAM's, md5's, LDAP's, ...): a
//!   failed attempt;
//! - `role "U" does not exist`: an attempt on an unknown user;
//! - `no pg_hba.conf entry for host "H", user "U", ...` and `pg_hba.conf rejects
//!   connection for host ...`: an attempt the server's rules refused;
//! - `connection authorized: user=U ...`: a success.
//!
//! The client's address is on the line in `jsonlog` (`remote_host`) and in `pg_hba.conf`
//! messages; in the `stderr` log it comes from the process's `connection received:
//! host=H port=P` line, which `log_connections = on` writes. An attempt whose client is not
//! known (a server without `log_connections`) is counted in the tally, not made an event:
//! without a source it cannot be told from the application's own mistakes.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Source};

/// Processes whose client is remembered at once, at most; past it, the oldest half goes.
const CLIENTS_MAX: usize = 65_536;

/// Counts of what was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub lines: u64,
    pub attempts: u64,
    /// Failed attempts whose client was not known.
    pub without_source: u64,
    pub malformed: u64,
}

/// What became of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgLine {
    Attempt,
    /// A PostgreSQL line that is not an attempt.
    Other,
    Malformed,
}

/// One log entry's parts.
struct Entry<'a> {
    at: Timestamp,
    pid: u32,
    severity: &'a str,
    message: std::borrow::Cow<'a, str>,
    remote_host: Option<String>,
    user: Option<String>,
}

/// Reads a PostgreSQL log line by line.
#[derive(Debug)]
pub struct PostgresParser {
    zone: TimeZone,
    /// The client of each backend process, from its `connection received` line.
    clients: HashMap<u32, (Source, u64)>,
    seen: u64,
    pub tally: Tally,
}

impl PostgresParser {
    /// `zone` reads times written with a zone abbreviation other than UTC or GMT.
    pub fn new(zone: TimeZone) -> Self {
        PostgresParser {
            zone,
            clients: HashMap::new(),
            seen: 0,
            tally: Tally::default(),
        }
    }

    /// Reads one line, pushing the attempt it tells onto `out`.
    pub fn line(&mut self, line: &str, out: &mut Vec<AuthEvent>) -> PgLine {
        self.tally.lines += 1;
        let line = line.trim_end_matches(['\r', '\n']);
        let entry = if line.trim_start().starts_with('{') {
            self.json(line)
        } else {
            self.stderr(line)
        };
        let Some(entry) = entry else {
            self.tally.malformed += 1;
            return PgLine::Malformed;
        };
        let before = out.len();
        self.entry(entry, out);
        self.tally.attempts += (out.len() - before) as u64;
        if out.len() > before {
            PgLine::Attempt
        } else {
            PgLine::Other
        }
    }

    fn entry(&mut self, e: Entry<'_>, out: &mut Vec<AuthEvent>) {
        let message = e.message.as_ref();
        if let Some(rest) = message.strip_prefix("connection received: host=") {
            let host = rest.split(' ').next().unwrap_or(rest);
            if host != "[local]" {
                self.remember(e.pid, Source::parse(host));
            }
            return;
        }
        let (outcome, user, reason, source) = if let Some(rest) = message.strip_prefix("connection authorized: user=") {
            let user = rest.split(' ').next().unwrap_or(rest);
            (AuthOutcome::Success, user.to_owned(), AuthReason::Ok, None)
        } else if let Some((method, user)) = failed_for(message) {
            let reason = match method {
                "password" | "md5" | "scram" | "SCRAM" => AuthReason::BadPassword,
                _ => AuthReason::Other,
            };
            (AuthOutcome::Failure, user.to_owned(), reason, None)
        } else if let Some(user) = quoted_after(message, "role \"") {
            if !message.ends_with("does not exist") || e.severity != "FATAL" {
                return;
            }
            (AuthOutcome::Failure, user.to_owned(), AuthReason::InvalidUser, None)
        } else if message.starts_with("no pg_hba.conf entry for host ")
            || message.starts_with("pg_hba.conf rejects connection for host ")
        {
            let host = quoted_after(message, "host \"").map(Source::parse);
            let user = quoted_after(message, "user \"").unwrap_or("");
            (AuthOutcome::Failure, user.to_owned(), AuthReason::Disabled, host)
        } else {
            return;
        };
        let source = source
            .or_else(|| e.remote_host.as_deref().filter(|h| *h != "[local]").map(Source::parse))
            .or_else(|| self.clients.get(&e.pid).map(|(s, _)| s.clone()));
        let Some(source) = source else {
            if outcome == AuthOutcome::Failure {
                self.tally.without_source += 1;
            }
            return;
        };
        out.push(AuthEvent {
            at: e.at,
            outcome,
            user: if user.is_empty() {
                e.user.unwrap_or_default()
            } else {
                user
            },
            source,
            method: "postgres".into(),
            reason,
            service: "postgres".into(),
            user_agent: None,
            tenant: None,
            host: None,
            port: None,
        });
    }

    fn remember(&mut self, pid: u32, source: Source) {
        if self.clients.len() >= CLIENTS_MAX {
            let mut ages: Vec<u64> = self.clients.values().map(|(_, seen)| *seen).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            self.clients.retain(|_, (_, seen)| *seen > cut);
        }
        self.seen += 1;
        self.clients.insert(pid, (source, self.seen));
    }

    /// `2026-01-05 00:00:01.123 UTC [1234] user@db FATAL:  message`: the time, the process
    /// id in brackets, anything else the prefix holds, and the severity before two spaces.
    fn stderr<'a>(&self, line: &'a str) -> Option<Entry<'a>> {
        let bytes = line.as_bytes();
        if bytes.len() < 20 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' || bytes[10] != b' ' {
            return None;
        }
        let open = line.find(" [")?;
        let at = self.time(&line[..open])?;
        let rest = &line[open + 2..];
        let (pid, rest) = rest.split_once(']')?;
        let pid = pid.split('-').next()?.parse().ok()?;
        for severity in [
            "FATAL",
            "LOG",
            "ERROR",
            "WARNING",
            "DETAIL",
            "HINT",
            "STATEMENT",
            "PANIC",
        ] {
            let marker = format!("{severity}:  ");
            if let Some(at_marker) = rest.find(&marker) {
                let prefix = rest[..at_marker].trim();
                // `%u@%d` in the prefix names the user; `%h` the host, possibly `(port)`.
                let user = prefix
                    .split_whitespace()
                    .find_map(|w| w.split_once('@').map(|(u, _)| u.to_owned()))
                    .filter(|u| !u.is_empty() && !u.starts_with('['));
                let remote_host = prefix.split_whitespace().find_map(|w| {
                    let host = w.split('(').next().unwrap_or(w);
                    host.parse::<std::net::IpAddr>().ok().map(|_| host.to_owned())
                });
                return Some(Entry {
                    at,
                    pid,
                    severity,
                    message: std::borrow::Cow::Borrowed(&rest[at_marker + marker.len()..]),
                    remote_host,
                    user,
                });
            }
        }
        None
    }

    /// `jsonlog`: one JSON object per entry.
    fn json<'a>(&self, line: &str) -> Option<Entry<'a>> {
        let doc: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        let text = |key: &str| doc.get(key).and_then(serde_json::Value::as_str);
        let severity = match text("error_severity")? {
            "FATAL" => "FATAL",
            "LOG" => "LOG",
            "ERROR" => "ERROR",
            _ => "OTHER",
        };
        Some(Entry {
            at: self.time(text("timestamp")?)?,
            pid: doc
                .get("pid")
                .and_then(serde_json::Value::as_u64)
                .and_then(|p| u32::try_from(p).ok())?,
            severity,
            message: std::borrow::Cow::Owned(text("message")?.to_owned()),
            remote_host: text("remote_host").map(str::to_owned),
            user: text("user").map(str::to_owned),
        })
    }

    /// `2026-01-05 00:00:01.123 UTC`, `... +01`, `... +01:00`, or with another zone's
    /// abbreviation, read in the zone given.
    fn time(&self, text: &str) -> Option<Timestamp> {
        let (datetime, zone) = text.rsplit_once(' ')?;
        let civil: jiff::civil::DateTime = datetime.replacen(' ', "T", 1).parse().ok()?;
        let tz = match zone {
            "UTC" | "GMT" | "Z" => TimeZone::UTC,
            z if z.starts_with('+') || z.starts_with('-') => {
                let digits: String = z[1..].chars().filter(char::is_ascii_digit).collect();
                let (h, m) = match digits.len() {
                    1 | 2 => (digits.parse::<i32>().ok()?, 0),
                    4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
                    _ => return None,
                };
                let seconds = (h * 3600 + m * 60) * if z.starts_with('-') { -1 } else { 1 };
                TimeZone::fixed(jiff::tz::Offset::from_seconds(seconds).ok()?)
            }
            _ => self.zone.clone(),
        };
        civil.to_zoned(tz).ok().map(|z| z.timestamp())
    }
}

/// `<method> authentication failed for user "U"`: the method and the user.
fn failed_for(message: &str) -> Option<(&str, &str)> {
    let (method, rest) = message.split_once(" authentication failed for user \"")?;
    let user = rest.split('"').next()?;
    Some((method, user))
}

/// The text between `start` and the next `"`.
fn quoted_after<'a>(message: &'a str, start: &str) -> Option<&'a str> {
    let from = message.find(start)? + start.len();
    message[from..].split('"').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> (Vec<AuthEvent>, Tally) {
        let mut parser = PostgresParser::new(TimeZone::UTC);
        let mut out = Vec::new();
        for line in lines {
            parser.line(line, &mut out);
        }
        (out, parser.tally)
    }

    fn summary(events: &[AuthEvent]) -> Vec<(AuthOutcome, String, String, AuthReason)> {
        events
            .iter()
            .map(|e| (e.outcome, e.user.clone(), e.source.to_string(), e.reason))
            .collect()
    }

    #[test]
    fn the_stderr_log_gives_failures_and_successes_with_the_client_of_each_process() {
        let (events, tally) = parse(&[
            "2026-01-05 00:00:01.100 UTC [4101] LOG:  connection received: host=203.0.113.5 port=51234",
            "2026-01-05 00:00:01.120 UTC [4101] FATAL:  password authentication failed for user \"postgres\"",
            "2026-01-05 00:00:01.120 UTC [4101] DETAIL:  Connection matched file \"/etc/postgresql/16/main/pg_hba.conf\" line 128: \"host all all 0.0.0.0/0 scram-sha-256\"",
            "2026-01-05 00:00:02.000 UTC [4102] LOG:  connection received: host=203.0.113.5 port=51240",
            "2026-01-05 00:00:02.010 UTC [4102] postgres@postgres FATAL:  role \"admin\" does not exist",
            "2026-01-05 01:00:03.000 +01 [4103] FATAL:  no pg_hba.conf entry for host \"198.51.100.9\", user \"app\", database \"prod\", no encryption",
            "2026-01-05 00:00:04.000 UTC [4104] LOG:  connection received: host=10.0.0.7 port=40000",
            "2026-01-05 00:00:04.020 UTC [4104] LOG:  connection authorized: user=app database=prod application_name=web",
            "2026-01-05 00:00:05.000 UTC [4105] FATAL:  password authentication failed for user \"app\"",
            "2026-01-05 00:00:06.000 UTC [4106] ERROR:  relation \"users\" does not exist",
            "not a postgres line",
        ]);
        assert_eq!(
            summary(&events),
            [
                (
                    AuthOutcome::Failure,
                    "postgres".into(),
                    "203.0.113.5".into(),
                    AuthReason::BadPassword
                ),
                (
                    AuthOutcome::Failure,
                    "admin".into(),
                    "203.0.113.5".into(),
                    AuthReason::InvalidUser
                ),
                (
                    AuthOutcome::Failure,
                    "app".into(),
                    "198.51.100.9".into(),
                    AuthReason::Disabled
                ),
                (AuthOutcome::Success, "app".into(), "10.0.0.7".into(), AuthReason::Ok),
            ]
        );
        assert_eq!(events[2].at, "2026-01-05T00:00:03Z".parse().unwrap());
        assert_eq!((tally.without_source, tally.malformed, tally.attempts), (1, 1, 4));
    }

    #[test]
    fn the_jsonlog_format_gives_failures_with_their_remote_host() {
        let (events, _) = parse(&[
            r#"{"timestamp":"2026-01-05 00:00:07.123 UTC","user":"neondb_owner","dbname":"neondb","pid":77,"remote_host":"192.0.2.44","remote_port":60000,"session_id":"x","line_num":1,"ps":"authentication","error_severity":"FATAL","state_code":"28P01","message":"password authentication failed for user \"neondb_owner\"","backend_type":"client backend"}"#,
            r#"{"timestamp":"2026-01-05 00:00:08.000 UTC","pid":78,"remote_host":"[local]","error_severity":"FATAL","message":"password authentication failed for user \"x\""}"#,
        ]);
        assert_eq!(
            summary(&events),
            [(
                AuthOutcome::Failure,
                "neondb_owner".into(),
                "192.0.2.44".into(),
                AuthReason::BadPassword
            )]
        );
    }
}
