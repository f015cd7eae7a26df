//! OpenSSH's log, as authentication attempts.
//!
//! sshd spends several lines on one attempt ("Invalid user", PAM's complaints, "Failed
//! password for invalid user", "Connection closed ... [preauth]"). Counting lines counts
//! one attempt several times; this parser follows each connection (host and process id,
//! `sshd[pid]` or OpenSSH 9.8's `sshd-session[pid]`) and yields each attempt once:
//! - every `Failed <method> for [invalid user] U from S port P` is one failed attempt;
//! - an `Invalid user U from S` that no `Failed` line follows on its connection is one
//!   failed attempt too (the probe of an unknown name), dated at the `Invalid user` line;
//! - every `Accepted <method> for U from S port P` is a success.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Source};

use super::syslog::{SyslogClock, SyslogLine};

/// Connections with an unanswered `Invalid user` line, at most; past it, the oldest
/// probes are counted at once rather than kept.
const PENDING_MAX: usize = 65_536;

/// What became of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// The line completed one or more attempts.
    Attempt,
    /// An sshd line that is not an attempt (PAM, disconnects, key exchange failures).
    Sshd,
    /// Another program's line.
    Other,
    /// Not a syslog line at all.
    Malformed,
}

/// Counts of what was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub lines: u64,
    pub attempts: u64,
    pub malformed: u64,
}

#[derive(Debug)]
struct Probe {
    host: String,
    at: Timestamp,
    user: String,
    source: Source,
    port: Option<u16>,
}

/// Reads an OpenSSH log line by line.
#[derive(Debug)]
pub struct SshdParser {
    clock: SyslogClock,
    /// Unanswered `Invalid user` lines by process id.
    probes: HashMap<u32, Vec<Probe>>,
    probe_count: usize,
    pub tally: Tally,
}

impl SshdParser {
    /// `year` and `zone` read traditional syslog times, which carry neither.
    pub fn new(year: i16, zone: TimeZone) -> Self {
        SshdParser {
            clock: SyslogClock::new(year, zone),
            probes: HashMap::new(),
            probe_count: 0,
            tally: Tally::default(),
        }
    }

    /// Reads one line, pushing the attempts it completes onto `out`.
    pub fn line(&mut self, line: &str, out: &mut Vec<AuthEvent>) -> LineKind {
        self.tally.lines += 1;
        let before = out.len();
        let kind = match self.clock.parse(line) {
            None => {
                self.tally.malformed += 1;
                LineKind::Malformed
            }
            Some(parsed) if parsed.program == "sshd" || parsed.program == "sshd-session" => {
                self.sshd(&parsed, out);
                if out.len() > before {
                    LineKind::Attempt
                } else {
                    LineKind::Sshd
                }
            }
            Some(_) => LineKind::Other,
        };
        self.tally.attempts += (out.len() - before) as u64;
        kind
    }

    /// The end of the input: probes still waiting are attempts.
    pub fn finish(&mut self, out: &mut Vec<AuthEvent>) {
        let before = out.len();
        for (_, probes) in self.probes.drain() {
            out.extend(probes.into_iter().map(probe_event));
        }
        self.probe_count = 0;
        out[before..].sort_by_key(|e| e.at);
        self.tally.attempts += (out.len() - before) as u64;
    }

    fn sshd(&mut self, line: &SyslogLine<'_>, out: &mut Vec<AuthEvent>) {
        let message = line.message;
        let pid = line.pid.unwrap_or(0);
        if let Some(rest) = message.strip_prefix("Failed ") {
            let Some((method, rest)) = rest.split_once(" for ") else {
                return;
            };
            let (invalid, rest) = match rest.strip_prefix("invalid user ") {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let Some((user, source, port)) = user_from(rest) else {
                return;
            };
            if invalid {
                self.take_probe(line.host, pid, user);
            }
            let reason = match (invalid, method) {
                (true, _) => AuthReason::InvalidUser,
                (false, "password" | "keyboard-interactive/pam") => AuthReason::BadPassword,
                (false, "publickey") => AuthReason::BadPublickey,
                (false, _) => AuthReason::Other,
            };
            out.push(event(line, AuthOutcome::Failure, user, source, port, method, reason));
        } else if let Some(rest) = message.strip_prefix("Accepted ") {
            let Some((method, rest)) = rest.split_once(" for ") else {
                return;
            };
            let Some((user, source, port)) = user_from(rest) else {
                return;
            };
            out.push(event(
                line,
                AuthOutcome::Success,
                user,
                source,
                port,
                method,
                AuthReason::Ok,
            ));
        } else if let Some(rest) = message.strip_prefix("Invalid user ") {
            let Some((user, source, port)) = user_from(rest) else {
                return;
            };
            // A second probe on one connection: the first was not answered.
            if let Some(earlier) = self.remove_probe(line.host, pid) {
                out.push(probe_event(earlier));
            }
            self.add_probe(
                pid,
                Probe {
                    host: line.host.to_owned(),
                    at: line.at,
                    user: user.to_owned(),
                    source,
                    port,
                },
                out,
            );
        } else if ends_connection(message)
            && let Some(probe) = self.remove_probe(line.host, pid)
        {
            out.push(probe_event(probe));
        }
    }

    fn add_probe(&mut self, pid: u32, probe: Probe, out: &mut Vec<AuthEvent>) {
        if self.probe_count >= PENDING_MAX {
            // Bounded memory: count the oldest waiting probes now.
            let mut all: Vec<Probe> = self.probes.drain().flat_map(|(_, p)| p).collect();
            all.sort_by_key(|p| p.at);
            let keep = all.split_off(all.len() / 2);
            out.extend(all.into_iter().map(probe_event));
            self.probe_count = 0;
            for p in keep {
                self.probe_count += 1;
                let pid = 0;
                self.probes.entry(pid).or_default().push(p);
            }
        }
        self.probe_count += 1;
        self.probes.entry(pid).or_default().push(probe);
    }

    fn remove_probe(&mut self, host: &str, pid: u32) -> Option<Probe> {
        let probes = self.probes.get_mut(&pid)?;
        let index = probes.iter().position(|p| p.host == host)?;
        let probe = probes.swap_remove(index);
        if probes.is_empty() {
            self.probes.remove(&pid);
        }
        self.probe_count -= 1;
        Some(probe)
    }

    /// A `Failed ... for invalid user U` answers the probe of U on that connection.
    fn take_probe(&mut self, host: &str, pid: u32, user: &str) {
        let answered = self
            .probes
            .get(&pid)
            .and_then(|probes| probes.iter().position(|p| p.host == host && p.user == user));
        if answered.is_some() {
            self.remove_probe(host, pid);
        }
    }
}

/// `U from S port P ...` or `U from S`: the user (which may hold spaces), the source and the port.
fn user_from(rest: &str) -> Option<(&str, Source, Option<u16>)> {
    let (user, after) = rest.rsplit_once(" from ")?;
    let mut words = after.split(' ');
    let source = words.next().filter(|s| !s.is_empty())?;
    let port = match words.next() {
        Some("port") => words.next().and_then(|p| p.trim_end_matches(':').parse().ok()),
        _ => None,
    };
    Some((user, Source::parse(source), port))
}

fn ends_connection(message: &str) -> bool {
    message.starts_with("Connection closed by ")
        || message.starts_with("Disconnected from ")
        || message.starts_with("Received disconnect from ")
        || message.starts_with("Connection reset by ")
        || message.starts_with("Timeout before authentication")
        || message.starts_with("Disconnecting ")
}

fn event(
    line: &SyslogLine<'_>,
    outcome: AuthOutcome,
    user: &str,
    source: Source,
    port: Option<u16>,
    method: &str,
    reason: AuthReason,
) -> AuthEvent {
    AuthEvent {
        at: line.at,
        outcome,
        user: user.to_owned(),
        source,
        method: method.to_owned(),
        reason,
        service: "sshd".to_owned(),
        user_agent: None,
        tenant: None,
        host: Some(line.host.to_owned()),
        port,
    }
}

fn probe_event(probe: Probe) -> AuthEvent {
    AuthEvent {
        at: probe.at,
        outcome: AuthOutcome::Failure,
        user: probe.user,
        source: probe.source,
        method: "none".to_owned(),
        reason: AuthReason::InvalidUser,
        service: "sshd".to_owned(),
        user_agent: None,
        tenant: None,
        host: Some(probe.host),
        port: probe.port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Vec<AuthEvent> {
        let mut parser = SshdParser::new(2026, TimeZone::UTC);
        let mut out = Vec::new();
        for line in lines {
            parser.line(line, &mut out);
        }
        parser.finish(&mut out);
        out
    }

    #[test]
    fn an_invalid_user_followed_by_a_failed_password_is_one_attempt() {
        let events = parse(&[
            "Jan  5 00:00:02 web1 sshd[1835]: Invalid user admin from 192.0.2.1 port 44732",
            "Jan  5 00:00:03 web1 sshd[1835]: pam_unix(sshd:auth): check pass; user unknown",
            "Jan  5 00:00:03 web1 sshd[1835]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1",
            "Jan  5 00:00:04 web1 sshd[1835]: Failed password for invalid user admin from 192.0.2.1 port 44732 ssh2",
            "Jan  5 00:00:05 web1 sshd[1835]: Connection closed by invalid user admin 192.0.2.1 port 44732 [preauth]",
        ]);
        assert_eq!(events.len(), 1, "{events:#?}");
        let e = &events[0];
        assert_eq!(
            (e.outcome, e.reason, e.method.as_str(), e.user.as_str()),
            (AuthOutcome::Failure, AuthReason::InvalidUser, "password", "admin")
        );
        assert_eq!(e.at, "2026-01-05T00:00:04Z".parse().unwrap());
        assert_eq!(e.port, Some(44732));
    }

    #[test]
    fn an_unanswered_invalid_user_is_one_attempt_dated_when_it_was_probed() {
        let events = parse(&[
            "Jan  5 00:00:30 web1 sshd-session[1856]: Invalid user ubuntu from 2001:db8::7 port 56884",
            "Jan  5 00:00:31 web1 sshd-session[1856]: Connection closed by invalid user ubuntu 2001:db8::7 port 56884 [preauth]",
            "Jan  5 00:00:40 web1 sshd[1900]: Invalid user oracle from scanner.example.net",
        ]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].source, Source::Ip("2001:db8::7".parse().unwrap()));
        assert_eq!(
            (events[0].method.as_str(), events[0].reason),
            ("none", AuthReason::InvalidUser)
        );
        assert_eq!(events[0].at, "2026-01-05T00:00:30Z".parse().unwrap());
        assert_eq!(events[1].source, Source::Host("scanner.example.net".into()));
        assert_eq!(events[1].port, None);
    }

    #[test]
    fn failures_and_successes_keep_their_method_and_reason() {
        let events = parse(&[
            "2026-01-05T00:01:00+00:00 web1 sshd[2]: Failed password for root from 203.0.113.9 port 4000 ssh2",
            "2026-01-05T00:01:01+00:00 web1 sshd[2]: Failed publickey for git from 203.0.113.9 port 4000 ssh2: ED25519 SHA256:abc",
            "2026-01-05T00:01:02+00:00 web1 sshd[2]: error: maximum authentication attempts exceeded for root from 203.0.113.9 port 4000 ssh2 [preauth]",
            "2026-01-05T00:01:03+00:00 web1 sshd[2]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
            "2026-01-05T00:01:04+00:00 web1 sshd[3]: Accepted publickey for alice from 10.10.1.10 port 5000 ssh2: ED25519 SHA256:xyz",
            "2026-01-05T00:01:05+00:00 web1 sshd[4]: Failed password for invalid user  weird name from 203.0.113.9 port 4001 ssh2",
        ]);
        let summary: Vec<(&str, AuthReason, &str)> = events
            .iter()
            .map(|e| (e.method.as_str(), e.reason, e.user.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("password", AuthReason::BadPassword, "root"),
                ("publickey", AuthReason::BadPublickey, "git"),
                ("publickey", AuthReason::Ok, "alice"),
                ("password", AuthReason::InvalidUser, " weird name"),
            ]
        );
        assert_eq!(events[2].outcome, AuthOutcome::Success);
    }

    #[test]
    fn other_programs_and_garbage_are_counted_never_fatal() {
        let mut parser = SshdParser::new(2026, TimeZone::UTC);
        let mut out = Vec::new();
        assert_eq!(
            parser.line(
                "Jan  5 00:00:01 web1 CRON[1834]: pam_unix(cron:session): session opened",
                &mut out
            ),
            LineKind::Other
        );
        assert_eq!(parser.line("\u{0}\u{ff}garbage", &mut out), LineKind::Malformed);
        assert_eq!(
            parser.line("Jan  5 00:00:01 web1 sshd[1]: Failed password for", &mut out),
            LineKind::Sshd
        );
        assert_eq!(
            parser.tally,
            Tally {
                lines: 3,
                attempts: 0,
                malformed: 1
            }
        );
    }
}
