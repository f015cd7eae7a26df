//! OpenSSH's log, as authentication attempts.
//!
//! sshd spends several lines on one attempt ("Invalid user", PAM's complaints, "Failed
//! password for invalid user", "Connection closed ... [preauth]"). Counting lines counts
//! one attempt several times; this parser follows each connection (host and process id,
//! `sshd[pid]` or OpenSSH 9.8's `sshd-session[pid]`) and yields each attempt once:
//! - every `Failed <method> for [invalid user] U from S port P` is one failed attempt (and
//!   rsyslog's `message repeated N times: [ Failed ...]` is N of them);
//! - a line that says an attempt failed without a `Failed` line of its own (`Invalid user`,
//!   `User U from S not allowed because ...` of AllowUsers, DenyUsers, AllowGroups and
//!   DenyGroups, PAM's `authentication failure`, `ROOT LOGIN REFUSED`) waits on its
//!   connection: the next `Failed` line answers it, and if none comes before the connection
//!   ends it is one failed attempt, dated when it was logged;
//! - a connection that ends while a user was authenticating (`Connection closed by
//!   authenticating user`, `Disconnected from`, `Connection reset by`, `Too many
//!   authentication failures`, `maximum authentication attempts exceeded`) without any
//!   failure counted on it is one failed attempt: a client that offered keys and gave up;
//! - `refused connect from S` (TCP wrappers) is one refused attempt;
//! - every `Accepted <method> for U from S port P` is a success; keys refused before it on
//!   its connection, and a PAM complaint without a `Failed` line, were the client's other
//!   keys and methods, not attempts.
//!
//! The lines may be syslog's (RFC 3164 or 5424, with ISO times or not) or the journal's
//! JSON export.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Source};

use super::syslog::{JournalLine, SyslogClock, SyslogLine};

/// Connections followed at once, at most; past it, the oldest half is let go, its waiting
/// attempts counted at once.
const CONNECTIONS_MAX: usize = 65_536;
/// The most attempts one `message repeated N times` line stands for.
const REPEATED_MAX: u32 = 1_000;

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

/// An attempt that a line said failed, waiting for its `Failed` line.
#[derive(Debug)]
struct Waiting {
    at: Timestamp,
    user: String,
    source: Source,
    port: Option<u16>,
    reason: AuthReason,
}

/// One connection, while it is followed.
#[derive(Debug)]
struct Connection {
    host: Arc<str>,
    /// When it was last heard of.
    at: Timestamp,
    waiting: Option<Waiting>,
    /// A failure was counted on it.
    failed: bool,
    /// Its client's address, once a line said it.
    source: Option<(Source, Option<u16>)>,
    /// It ended; kept a little for the lines that still follow its end (`Received
    /// disconnect` is followed by `Disconnected from`).
    closed: bool,
    /// Keys refused so far: a client offers its keys in turn, and one taken after others
    /// were refused is no attack. They count when the connection ends without a login.
    keys_refused: Vec<AuthEvent>,
}

/// Refused keys held on one connection; more count at once.
const KEYS_HELD: usize = 16;

/// How long an ended connection is kept for the lines that follow its end.
const CLOSED_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Reads an OpenSSH log line by line.
#[derive(Debug)]
pub struct SshdParser {
    clock: SyslogClock,
    /// The connections followed, by process id.
    connections: HashMap<u32, Vec<Connection>>,
    followed: usize,
    /// The connections that ended, oldest first, to be let go of once [`CLOSED_KEPT`] passed.
    closed: std::collections::VecDeque<(Timestamp, u32, Arc<str>)>,
    /// The hosts seen, each kept once (a log holds few).
    hosts: Vec<Arc<str>>,
    pub tally: Tally,
}

/// Hosts kept once at most; a log of more allocates each anew.
const HOSTS_MAX: usize = 256;

impl SshdParser {
    /// `year` and `zone` read traditional syslog times, which carry neither.
    pub fn new(year: i16, zone: TimeZone) -> Self {
        SshdParser {
            clock: SyslogClock::new(year, zone),
            connections: HashMap::new(),
            followed: 0,
            closed: std::collections::VecDeque::new(),
            hosts: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Reads one line, pushing the attempts it completes onto `out`.
    pub fn line(&mut self, line: &str, out: &mut Vec<AuthEvent>) -> LineKind {
        self.tally.lines += 1;
        let before = out.len();
        let journal;
        let parsed = if line.trim_start().starts_with('{') {
            journal = JournalLine::parse(line);
            journal.as_ref().map(JournalLine::as_syslog)
        } else {
            self.clock.parse(line)
        };
        let kind = match parsed {
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

    /// The end of the input: attempts still waiting are counted.
    pub fn finish(&mut self, out: &mut Vec<AuthEvent>) {
        let before = out.len();
        for (_, connections) in self.connections.drain() {
            for mut c in connections {
                out.append(&mut c.keys_refused);
                out.extend(c.waiting.map(|w| waiting_event(&c.host, w)));
            }
        }
        self.followed = 0;
        self.closed.clear();
        out[before..].sort_by_key(|e| e.at);
        self.tally.attempts += (out.len() - before) as u64;
    }

    fn sshd(&mut self, line: &SyslogLine<'_>, out: &mut Vec<AuthEvent>) {
        while let Some((at, pid, _)) = self.closed.front()
            && line.at.duration_since(*at) > CLOSED_KEPT
        {
            let (pid, host) = (*pid, self.closed.pop_front().expect("a front").2);
            if let Some(list) = self.connections.get_mut(&pid)
                && let Some(index) = list.iter().position(|c| *c.host == *host && c.closed)
            {
                list.swap_remove(index);
                if list.is_empty() {
                    self.connections.remove(&pid);
                }
                self.followed -= 1;
            }
        }
        let message = line.message.trim_start_matches("[ID 800047 auth.info] ");
        if let Some(rest) = message.strip_prefix("message repeated ")
            && let Some((times, inner)) = rest.split_once(" times: [ ")
            && let Ok(times) = times.parse::<u32>()
        {
            let inner = inner.strip_suffix(']').unwrap_or(inner);
            for _ in 0..times.min(REPEATED_MAX) {
                self.message(line, inner, out);
            }
            return;
        }
        self.message(line, message, out);
    }

    fn message(&mut self, line: &SyslogLine<'_>, message: &str, out: &mut Vec<AuthEvent>) {
        let pid = line.pid.unwrap_or(0);
        if let Some(rest) = message.strip_prefix("Failed ") {
            let Some((method, rest)) = rest.split_once(" for ") else {
                return;
            };
            let (invalid, rest) = match rest.strip_prefix("invalid user ") {
                Some(rest) => (true, rest),
                None => (rest.starts_with("<invalid username>"), rest),
            };
            let Some((user, source, port)) = user_from(rest) else {
                return;
            };
            let reason = match (invalid, method) {
                (true, _) => AuthReason::InvalidUser,
                (false, "password" | "keyboard-interactive/pam" | "keyboard-interactive") => AuthReason::BadPassword,
                (false, "publickey") => AuthReason::BadPublickey,
                (false, _) => AuthReason::Other,
            };
            let connection = self.connection(line, pid, out);
            connection.waiting = None;
            connection.failed = true;
            connection.source = Some((source.clone(), port));
            let failed = event(line, AuthOutcome::Failure, user, source, port, method, reason);
            if method == "publickey" && connection.keys_refused.len() < KEYS_HELD && !connection.closed {
                connection.keys_refused.push(failed);
            } else {
                out.push(failed);
            }
        } else if let Some(rest) = message.strip_prefix("Accepted ") {
            let Some((method, rest)) = rest.split_once(" for ") else {
                return;
            };
            let Some((user, source, port)) = user_from(rest) else {
                return;
            };
            // The keys refused before this login were the client's other keys, and a PAM
            // complaint with no `Failed` line of its own was a method tried before the one
            // that let the user in: neither is an attack.
            if let Some(connection) = self.followed_mut(line.host, pid) {
                connection.keys_refused.clear();
                connection.waiting = None;
            }
            self.end(line, pid, false, out);
            out.push(event(
                line,
                AuthOutcome::Success,
                user,
                source,
                port,
                method,
                AuthReason::Ok,
            ));
        } else if let Some((user, rest, reason)) = message
            .strip_prefix("Invalid user ")
            .map(|r| ("", r, AuthReason::InvalidUser))
            .or_else(|| not_allowed(message).map(|(u, r)| (u, r, AuthReason::Disabled)))
            .or_else(|| {
                message
                    .strip_prefix("ROOT LOGIN REFUSED FROM ")
                    .map(|r| ("root", r, AuthReason::Disabled))
            })
        {
            let (user, source, port) = if reason == AuthReason::InvalidUser {
                let Some(found) = user_from(rest) else { return };
                found
            } else {
                let (source, port) = source_port(rest);
                (user, source, port)
            };
            self.wait(line, pid, user, source, port, reason, true, out);
        } else if let Some((user, source)) = pam_failure(message) {
            self.wait(line, pid, &user, source, None, AuthReason::BadPassword, false, out);
        } else if let Some(rest) = message.strip_prefix("refused connect from ") {
            // `name@address (address)`: the address in parentheses.
            let address = rest
                .rsplit_once('(')
                .map_or(rest, |(_, a)| a.trim_end_matches(')'))
                .trim();
            let (source, _) = source_port(address);
            out.push(event(
                line,
                AuthOutcome::Failure,
                "",
                source,
                None,
                "none",
                AuthReason::Throttled,
            ));
        } else if let Some(rest) = message.strip_prefix("Connection from ") {
            let (source, port) = source_port(rest);
            self.connection(line, pid, out).source = Some((source, port));
        } else if let Some((user, source, port)) = given_up(message) {
            match self.end(line, pid, true, out) {
                Some((host, Some(w), _, _)) => out.push(waiting_event(&host, w)),
                // Nothing failed on it before: a client that offered what was not taken
                // and gave up is one failed attempt.
                Some((_, None, false, known)) => {
                    if let Some((source, port)) = source.map(|s| (s, port)).or(known) {
                        out.push(event(
                            line,
                            AuthOutcome::Failure,
                            user,
                            source,
                            port,
                            "none",
                            AuthReason::Other,
                        ));
                    }
                }
                _ => {}
            }
        } else if ends_connection(message)
            && let Some((host, Some(w), _, _)) = self.end(line, pid, false, out)
        {
            out.push(waiting_event(&host, w));
        }
    }

    /// Notes an attempt that failed without a `Failed` line of its own yet. One already
    /// waiting on the connection is the same attempt, unless both name a user (`Invalid
    /// user` twice): the first was not answered, and counts.
    #[allow(clippy::too_many_arguments)]
    fn wait(
        &mut self,
        line: &SyslogLine<'_>,
        pid: u32,
        user: &str,
        source: Source,
        port: Option<u16>,
        reason: AuthReason,
        names_user: bool,
        out: &mut Vec<AuthEvent>,
    ) {
        let host = self.host(line.host);
        let connection = self.connection(line, pid, out);
        let waiting = Waiting {
            at: line.at,
            user: user.to_owned(),
            source,
            port,
            reason,
        };
        match connection.waiting.take() {
            Some(earlier) if names_user && !earlier.user.is_empty() => {
                connection.waiting = Some(waiting);
                out.push(waiting_event(&host, earlier));
            }
            Some(mut earlier) => {
                if earlier.user.is_empty() {
                    earlier.user = waiting.user;
                }
                connection.waiting = Some(earlier);
            }
            None => connection.waiting = Some(waiting),
        }
    }

    /// The connection of `line`, followed from now if it was not.
    fn connection(&mut self, line: &SyslogLine<'_>, pid: u32, out: &mut Vec<AuthEvent>) -> &mut Connection {
        let known = self
            .connections
            .get(&pid)
            .and_then(|cs| cs.iter().position(|c| &*c.host == line.host));
        let index = match known {
            Some(index) => index,
            None => {
                if self.followed >= CONNECTIONS_MAX {
                    self.let_go_of_half(out);
                }
                self.followed += 1;
                let host = self.host(line.host);
                let list = self.connections.entry(pid).or_default();
                list.push(Connection {
                    host,
                    at: line.at,
                    waiting: None,
                    failed: false,
                    source: None,
                    closed: false,
                    keys_refused: Vec::new(),
                });
                list.len() - 1
            }
        };
        let connection = &mut self.connections.get_mut(&pid).expect("just found or added")[index];
        connection.at = line.at;
        connection
    }

    /// `name`, kept once.
    fn host(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.hosts.iter().find(|h| &***h == name) {
            return Arc::clone(known);
        }
        let host: Arc<str> = Arc::from(name);
        if self.hosts.len() < HOSTS_MAX {
            self.hosts.push(Arc::clone(&host));
        }
        host
    }

    /// The connection of `host` and `pid`, if it is followed.
    fn followed_mut(&mut self, host: &str, pid: u32) -> Option<&mut Connection> {
        self.connections.get_mut(&pid)?.iter_mut().find(|c| &*c.host == host)
    }

    /// Bounded memory: the oldest half of the connections is let go, what waits on them
    /// counted now.
    fn let_go_of_half(&mut self, out: &mut Vec<AuthEvent>) {
        let mut all: Vec<(u32, Connection)> = self
            .connections
            .drain()
            .flat_map(|(pid, cs)| cs.into_iter().map(move |c| (pid, c)))
            .collect();
        all.sort_by_key(|(_, c)| c.at);
        let keep = all.split_off(all.len() / 2);
        for (_, mut c) in all {
            out.append(&mut c.keys_refused);
            out.extend(c.waiting.map(|w| waiting_event(&c.host, w)));
        }
        self.followed = keep.len();
        for (pid, c) in keep {
            self.connections.entry(pid).or_default().push(c);
        }
    }

    /// Ends the connection of `line`: its host, what waited on it, whether a failure was
    /// counted on it (or it ended before), and its client. A connection not followed yet is
    /// followed from now, as ended, when `remember` says (a line that counts an attempt
    /// itself, so that another line of its end does not count it again); else it is `None`.
    /// An ended connection is kept a little, for the lines after its end.
    #[allow(clippy::type_complexity)]
    fn end(
        &mut self,
        line: &SyslogLine<'_>,
        pid: u32,
        remember: bool,
        out: &mut Vec<AuthEvent>,
    ) -> Option<(Arc<str>, Option<Waiting>, bool, Option<(Source, Option<u16>)>)> {
        if !remember && self.followed_mut(line.host, pid).is_none() {
            return None;
        }
        let connection = self.connection(line, pid, out);
        out.append(&mut connection.keys_refused);
        let was_closed = connection.closed;
        connection.closed = true;
        let ended = (
            connection.host.clone(),
            connection.waiting.take(),
            connection.failed || was_closed,
            connection.source.clone(),
        );
        connection.failed = true;
        if !was_closed {
            let host = self.host(line.host);
            self.closed.push_back((line.at, pid, host));
        }
        Some(ended)
    }
}

/// `U from S port P ssh2[: info]` or `U from S`: the user (which may hold spaces), the
/// source and the port. The user is the client's to choose and the info may be too, so
/// either may hold a `from X port Y ssh2` of its own: the source is the first `from S port
/// P [sshN]` that ends the line or is followed by the info's colon, as sshd writes it.
fn user_from(rest: &str) -> Option<(&str, Source, Option<u16>)> {
    let mut search = 0;
    while let Some(found) = rest[search..].find(" from ") {
        let at = search + found;
        search = at + 1;
        let after = &rest[at + 6..];
        let mut words = after.splitn(3, ' ');
        let (Some(source), Some("port"), Some(tail)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(port) = tail[..digits].parse::<u16>() else {
            continue;
        };
        let mut end = &tail[digits..];
        if let Some(protocol) = end.strip_prefix(" ssh") {
            end = protocol.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        if source.is_empty() || !(end.is_empty() || end.starts_with(':') || end.starts_with(',')) {
            continue;
        }
        return Some((&rest[..at], Source::parse(source), Some(port)));
    }
    // Older releases wrote no port: the last `from S` ends the line.
    let (user, after) = rest.rsplit_once(" from ")?;
    let source = after.split(' ').next().filter(|s| !s.is_empty())?;
    Some((user, Source::parse(source), None))
}

/// `S`, `S port P` or `S port P: ...`: the source and the port.
fn source_port(rest: &str) -> (Source, Option<u16>) {
    let mut words = rest.split(' ');
    let source = words.next().unwrap_or("").trim_end_matches(':');
    let source = source
        .strip_prefix("::ffff:")
        .filter(|v4| v4.contains('.'))
        .unwrap_or(source);
    let port = match words.next() {
        Some("port") => words.next().and_then(|p| p.trim_end_matches(':').parse().ok()),
        _ => None,
    };
    (Source::parse(source), port)
}

/// `User U from S not allowed because ...` (AllowUsers, DenyUsers, AllowGroups,
/// DenyGroups, a locked account, a shell): the user and what follows `from`.
fn not_allowed(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("User ")?;
    let (head, _) = rest.split_once(" not allowed because ")?;
    let (user, from) = head.split_once(" from ")?;
    Some((user, from))
}

/// PAM saying a password failed: `pam_unix(sshd:auth): authentication failure; ...
/// rhost=S user=U`, or sshd's `error: PAM: Authentication failure for U from S`.
fn pam_failure(message: &str) -> Option<(String, Source)> {
    if let Some(rest) = message.strip_prefix("pam_unix(sshd:auth): authentication failure;") {
        let field = |name: &str| {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name))
                .filter(|v| !v.is_empty())
        };
        let host = field("rhost=")?;
        return Some((field("user=").unwrap_or("").to_owned(), source_port(host).0));
    }
    let rest = message.strip_prefix("error: PAM: ")?;
    if let Some(rest) = rest.strip_prefix("User not known to the underlying authentication module for ") {
        let rest = rest.strip_prefix("illegal user ").unwrap_or(rest);
        let (user, from) = rest.trim_end().rsplit_once(" from ")?;
        return Some((user.to_owned(), source_port(from).0));
    }
    let lower = rest.get(..24)?.to_ascii_lowercase();
    if !lower.starts_with("authentication failure f") && !lower.starts_with("authentication error for") {
        return None;
    }
    let rest = rest.split_once(" for ")?.1;
    let (user, from) = rest.rsplit_once(" from ")?;
    let from = from.split(" via ").next().unwrap_or(from);
    Some((user.to_owned(), source_port(from).0))
}

/// A connection that ends during authentication, giving up after failures or keys not
/// taken: the user, and the source and port when the line says them.
fn given_up(message: &str) -> Option<(&str, Option<Source>, Option<u16>)> {
    // "Connection closed by authenticating user U S port P [preauth]", "Disconnected from
    // ...", "Connection reset by ...", "Disconnecting authenticating user U S port P: Too
    // many authentication failures", and their "invalid user" forms.
    for head in [
        "Connection closed by ",
        "Disconnected from ",
        "Connection reset by ",
        "Disconnecting ",
    ] {
        if let Some(rest) = message.strip_prefix(head)
            && let Some(rest) = rest
                .strip_prefix("authenticating user ")
                .or_else(|| rest.strip_prefix("invalid user "))
        {
            let rest = rest.split(": ").next().unwrap_or(rest);
            let rest = rest.trim_end_matches(" [preauth]");
            // The user may hold spaces: the source is the word before "port", or the last.
            let words: Vec<&str> = rest.split(' ').collect();
            let at = match words.iter().rposition(|w| *w == "port") {
                Some(p) if p >= 1 => p - 1,
                _ => words.len().checked_sub(1)?,
            };
            let user_end = rest.len() - words[at..].join(" ").len();
            let user = rest[..user_end].trim_end();
            let (source, port) = source_port(&words[at..].join(" "));
            return Some((user, Some(source), port));
        }
    }
    // "Received disconnect from S port P:3: ...: Auth fail [preauth]", "...: 14: No supported
    // authentication methods available": the client says its authentication failed.
    if let Some(rest) = message
        .strip_prefix("Received disconnect from ")
        .or_else(|| message.strip_prefix("error: Received disconnect from "))
        && (rest.contains("Auth fail") || rest.contains("authentication methods"))
    {
        let (source, port) = source_port(rest.split(':').next().unwrap_or(rest));
        let source = match rest.split_once(": ") {
            // An IPv6 address holds colons: the source is what precedes " port" or ": ".
            Some((head, _)) if !head.contains(" port ") => Source::parse(head),
            _ => source,
        };
        return Some(("", Some(source), port));
    }
    // "error: maximum authentication attempts exceeded for [invalid user] U from S port P ssh2".
    if let Some(rest) = message.strip_prefix("error: maximum authentication attempts exceeded for ") {
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let (user, source, port) = user_from(rest)?;
        return Some((user, Some(source), port));
    }
    // "Disconnecting: Too many authentication failures for U [preauth]", older releases.
    let rest = message
        .strip_prefix("Disconnecting: Too many authentication failures")
        .or_else(|| message.strip_prefix("Too many authentication failures"))?;
    let user = rest
        .strip_prefix(" for ")
        .map_or("", |u| u.trim_end_matches(" [preauth]"));
    Some((user, None, None))
}

fn ends_connection(message: &str) -> bool {
    message.starts_with("Connection closed by ")
        || message.starts_with("Disconnected from ")
        || message.starts_with("Received disconnect from ")
        || message.starts_with("error: Received disconnect from ")
        || message.starts_with("Connection reset by ")
        || message.starts_with("Timeout before authentication")
        || message.starts_with("fatal: Timeout before authentication")
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

fn waiting_event(host: &str, waiting: Waiting) -> AuthEvent {
    AuthEvent {
        at: waiting.at,
        outcome: AuthOutcome::Failure,
        user: waiting.user,
        source: waiting.source,
        method: "none".to_owned(),
        reason: waiting.reason,
        service: "sshd".to_owned(),
        user_agent: None,
        tenant: None,
        host: Some(host.to_owned()),
        port: waiting.port,
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

    fn summary(events: &[AuthEvent]) -> Vec<(String, String, AuthReason)> {
        events
            .iter()
            .map(|e| (e.user.clone(), e.source.to_string(), e.reason))
            .collect()
    }

    #[test]
    fn users_not_allowed_by_allow_and_deny_rules_are_attempts_counted_once() {
        let events = parse(&[
            "Jan  5 01:00:00 h sshd[10]: User root from 192.0.2.1 not allowed because not listed in AllowUsers",
            "Jan  5 01:00:01 h sshd[10]: Failed password for invalid user root from 192.0.2.1 port 1 ssh2",
            "Jan  5 01:00:02 h sshd[10]: Connection closed by invalid user root 192.0.2.1 port 1 [preauth]",
            "Jan  5 01:00:03 h sshd[11]: User root from 192.0.2.2 not allowed because listed in DenyUsers",
            "Jan  5 01:00:04 h sshd[12]: User ann from 192.0.2.3 not allowed because none of user's groups are listed in AllowGroups",
            "Jan  5 01:00:05 h sshd[13]: User bob from 192.0.2.4 not allowed because a group is listed in DenyGroups",
            "Jan  5 01:00:06 h sshd[13]: Disconnected from invalid user bob 192.0.2.4 port 4 [preauth]",
            "Jan  5 01:00:07 h sshd[14]: ROOT LOGIN REFUSED FROM ::ffff:192.0.2.5 port 5 [preauth]",
        ]);
        let reasons: Vec<(String, String, AuthReason)> = summary(&events);
        assert_eq!(
            reasons,
            [
                ("root".into(), "192.0.2.1".into(), AuthReason::InvalidUser),
                ("bob".into(), "192.0.2.4".into(), AuthReason::Disabled),
                ("root".into(), "192.0.2.2".into(), AuthReason::Disabled),
                ("ann".into(), "192.0.2.3".into(), AuthReason::Disabled),
                ("root".into(), "192.0.2.5".into(), AuthReason::Disabled),
            ]
        );
    }

    #[test]
    fn pam_failures_count_once_with_their_failed_line_and_alone_when_it_never_comes() {
        let events = parse(&[
            "Jan  5 02:00:00 h sshd[20]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.1  user=root",
            "Jan  5 02:00:01 h sshd[20]: Failed password for root from 198.51.100.1 port 7 ssh2",
            "Jan  5 02:00:02 h sshd[20]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.1  user=root",
            "Jan  5 02:00:03 h sshd[20]: Failed password for root from 198.51.100.1 port 7 ssh2",
            "Jan  5 02:00:04 h sshd[20]: PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.1  user=root",
            "Jan  5 02:00:05 h sshd[21]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.2  user=deploy",
            "Jan  5 02:00:06 h sshd[21]: Connection reset by 198.51.100.2 port 8 [preauth]",
            "Jan  5 02:00:07 h sshd[22]: error: PAM: Authentication failure for james from 198.51.100.3 via 10.0.0.1",
        ]);
        assert_eq!(
            summary(&events),
            [
                ("root".into(), "198.51.100.1".into(), AuthReason::BadPassword),
                ("root".into(), "198.51.100.1".into(), AuthReason::BadPassword),
                ("deploy".into(), "198.51.100.2".into(), AuthReason::BadPassword),
                ("james".into(), "198.51.100.3".into(), AuthReason::BadPassword),
            ]
        );
    }

    #[test]
    fn clients_that_give_up_or_exhaust_their_tries_are_attempts_unless_one_was_counted() {
        let events = parse(&[
            // Keys offered and not taken, then gone: sshd logs no Failed line.
            "Jan  5 03:00:00 h sshd[30]: Connection closed by authenticating user git 203.0.113.1 port 9 [preauth]",
            // After a Failed line, the end adds nothing.
            "Jan  5 03:00:01 h sshd[31]: Failed password for root from 203.0.113.2 port 9 ssh2",
            "Jan  5 03:00:02 h sshd[31]: error: maximum authentication attempts exceeded for root from 203.0.113.2 port 9 ssh2 [preauth]",
            "Jan  5 03:00:02 h sshd[31]: Disconnecting authenticating user root 203.0.113.2 port 9: Too many authentication failures [preauth]",
            // An older release names no address: the connection's first line did.
            "Jan  5 03:00:03 h sshd[32]: Connection from 203.0.113.3 port 10 on 10.0.0.1 port 22",
            "Jan  5 03:00:04 h sshd[32]: Disconnecting: Too many authentication failures for admin [preauth]",
            // One attempt, told by two lines after it.
            "Jan  5 03:00:05 h sshd[33]: Invalid user es from 203.0.113.4 port 11",
            "Jan  5 03:00:05 h sshd[33]: Received disconnect from 203.0.113.4 port 11:11: Bye Bye [preauth]",
            "Jan  5 03:00:05 h sshd[33]: Disconnected from invalid user es 203.0.113.4 port 11 [preauth]",
            "Jan  5 03:00:06 h sshd[34]: refused connect from scanner@::ffff:203.0.113.5 (::ffff:203.0.113.5)",
        ]);
        assert_eq!(
            summary(&events),
            [
                ("git".into(), "203.0.113.1".into(), AuthReason::Other),
                ("root".into(), "203.0.113.2".into(), AuthReason::BadPassword),
                ("admin".into(), "203.0.113.3".into(), AuthReason::Other),
                ("es".into(), "203.0.113.4".into(), AuthReason::InvalidUser),
                ("".into(), "203.0.113.5".into(), AuthReason::Throttled),
            ]
        );
    }

    #[test]
    fn repeated_messages_rfc5424_and_the_journals_json_give_attempts_too() {
        let events = parse(&[
            "Jan  5 04:00:00 h sshd[40]: message repeated 3 times: [ Failed password for root from 192.0.2.9 port 12 ssh2]",
            "<38>1 2026-01-05T04:00:01.5+00:00 h sshd 41 - - Failed password for invalid user oracle from 192.0.2.10 port 13 ssh2",
            r#"{"__REALTIME_TIMESTAMP":"1767585602000000","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd-session","_PID":"42","MESSAGE":"Failed publickey for git from 192.0.2.11 port 14 ssh2: ED25519 SHA256:x"}"#,
            r#"{"__REALTIME_TIMESTAMP":"1767585603000000","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"systemd","_PID":"1","MESSAGE":"Started session."}"#,
        ]);
        assert_eq!(
            summary(&events),
            [
                ("root".into(), "192.0.2.9".into(), AuthReason::BadPassword),
                ("root".into(), "192.0.2.9".into(), AuthReason::BadPassword),
                ("root".into(), "192.0.2.9".into(), AuthReason::BadPassword),
                ("oracle".into(), "192.0.2.10".into(), AuthReason::InvalidUser),
                ("git".into(), "192.0.2.11".into(), AuthReason::BadPublickey),
            ]
        );
        assert_eq!(events[3].at, "2026-01-05T04:00:01.5Z".parse().unwrap());
        assert_eq!(events[4].at, "2026-01-05T04:00:02Z".parse().unwrap());
    }

    #[test]
    fn a_client_that_says_its_authentication_failed_is_one_attempt_unless_one_was_counted() {
        let events = parse(&[
            "Jan  2 01:18:41 h sshd[1]: error: Received disconnect from 10.0.0.1 port 7736:3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
            "Jul 13 18:44:28 h sshd[2]: Received disconnect from 2001:db8::5: 3: com.jcraft.jsch.JSchException: Auth fail",
            "Jul 13 18:45:00 h sshd[3]: Failed password for root from 10.0.0.3 port 1 ssh2",
            "Jul 13 18:45:01 h sshd[3]: error: Received disconnect from 10.0.0.3 port 1:3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
            "Jul 13 18:45:02 h sshd[4]: Received disconnect from 10.0.0.4 port 2:11: Bye Bye [preauth]",
        ]);
        let sources: Vec<String> = events.iter().map(|e| e.source.to_string()).collect();
        assert_eq!(sources, ["10.0.0.1", "2001:db8::5", "10.0.0.3"]);
    }

    #[test]
    fn keys_refused_and_pam_complaints_before_a_login_count_only_without_one() {
        let events = parse(&[
            "Nov 28 09:16:03 h sshd[1]: Failed publickey for git from 192.0.2.1 port 57904 ssh2: ECDSA 0e:ff",
            "Nov 28 09:16:03 h sshd[1]: Failed publickey for git from 192.0.2.1 port 57904 ssh2: RSA 04:bc",
            "Nov 28 09:16:03 h sshd[1]: Accepted publickey for git from 192.0.2.1 port 57904 ssh2: DSA 36:48",
            "Nov 28 09:16:05 h sshd[2]: Failed publickey for git from 192.0.2.111 port 57910 ssh2: ECDSA 1e:fe",
            "Nov 28 09:16:05 h sshd[2]: Failed publickey for git from 192.0.2.111 port 57910 ssh2: RSA 14:ba",
            "Nov 28 09:16:05 h sshd[2]: Disconnecting: Too many authentication failures for git [preauth]",
            "Nov 28 09:16:06 h sshd[3]: Failed publickey for git from 192.0.2.112 port 57911 ssh2: RSA 14:bb",
            "Mar  7 18:53:20 h sshd[4]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.113  user=rda",
            "Mar  7 18:53:20 h sshd[4]: Accepted password for rda from 192.0.2.113 port 52100 ssh2",
        ]);
        let summary: Vec<(AuthOutcome, String)> = events.iter().map(|e| (e.outcome, e.source.to_string())).collect();
        assert_eq!(
            summary,
            [
                (AuthOutcome::Success, "192.0.2.1".to_owned()),
                (AuthOutcome::Failure, "192.0.2.111".to_owned()),
                (AuthOutcome::Failure, "192.0.2.111".to_owned()),
                (AuthOutcome::Success, "192.0.2.113".to_owned()),
                (AuthOutcome::Failure, "192.0.2.112".to_owned()),
            ]
        );
    }

    #[test]
    fn a_source_written_into_the_user_name_or_the_info_is_not_taken_for_the_client() {
        let events = parse(&[
            "Nov 11 08:04:51 h sshd[1]: Failed password for invalid user from 10.10.1.1 from 127.0.0.1 port 58946 ssh2",
            "Nov 11 08:04:52 h sshd[2]: Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.2 port 58946 ssh2",
            "Nov 11 08:04:53 h sshd[3]: Failed password for invalid user test from 127.0.0.3 port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
            "Sep 29 17:15:02 h sshd[4]: Failed password for user from 127.0.0.4 port 20000 ssh1: ruser from 1.2.3.4",
            "Feb 25 14:34:11 h sshd[5]: Failed password for invalid user ROOT from aaaa:bbbb:cccc:1234::1:1",
        ]);
        let sources: Vec<(String, String)> = events.iter().map(|e| (e.user.clone(), e.source.to_string())).collect();
        assert_eq!(
            sources,
            [
                ("from 10.10.1.1".to_owned(), "127.0.0.1".to_owned()),
                ("test from 10.10.1.2 port 55555 ssh2".to_owned(), "127.0.0.2".to_owned()),
                ("test".to_owned(), "127.0.0.3".to_owned()),
                ("user".to_owned(), "127.0.0.4".to_owned()),
                ("ROOT".to_owned(), "aaaa:bbbb:cccc:1234::1:1".to_owned()),
            ]
        );
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
