//! nginx's logs: the access log in the `combined` format (each line a request, and a 401 or
//! 403 on a login path also a failed login), and the error log's `limiting requests` and
//! `limiting connections` lines (a rate-limit denial each). Other error-log lines are
//! nginx's own business and are skipped.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Decision, Event, RateLimitEvent, RequestEvent, Source};

/// The paths whose 401 and 403 answers are failed logins, unless told otherwise.
pub const LOGIN_PATHS: [&str; 6] = ["/login", "/signin", "/sign_in", "/session", "/auth", "/wp-login.php"];

/// What became of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NginxLine {
    /// Events were made of it.
    Read,
    /// An error-log line that is not about limits.
    Skipped,
    /// Neither an access-log nor an error-log line.
    Malformed,
}

#[derive(Debug)]
pub struct NginxParser {
    login_paths: Vec<String>,
    /// The zone error-log times were written in; access-log times carry their offset.
    zone: TimeZone,
}

impl NginxParser {
    pub fn new(login_paths: Vec<String>, zone: TimeZone) -> Self {
        NginxParser { login_paths, zone }
    }

    /// Reads one line, pushing its events onto `out`.
    pub fn line(&self, line: &str, out: &mut Vec<Event>) -> NginxLine {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.as_bytes().get(4) == Some(&b'/') && line.as_bytes().get(10) == Some(&b' ') {
            return self.error_line(line, out);
        }
        match access(line) {
            Some(request) => {
                push_request(request, &self.login_paths, "nginx", out);
                NginxLine::Read
            }
            None => NginxLine::Malformed,
        }
    }

    /// `2026/01/05 12:00:00 [error] 1234#1234: *5 limiting requests, excess: 0.560 by zone
    /// "login", client: 203.0.113.5, server: ..., request: "POST /login HTTP/1.1", ...`
    fn error_line(&self, line: &str, out: &mut Vec<Event>) -> NginxLine {
        let Some(at) = line
            .get(..19)
            .and_then(|t| DateTime::strptime("%Y/%m/%d %H:%M:%S", t).ok())
            .and_then(|t| t.to_zoned(self.zone.clone()).ok())
        else {
            return NginxLine::Malformed;
        };
        if !(line.contains("limiting requests") || line.contains("limiting connections")) {
            return NginxLine::Skipped;
        }
        let zone = between(line, "by zone \"", "\"").unwrap_or("unknown");
        let client = between(line, "client: ", ",").map(str::trim);
        out.push(Event::RateLimit(RateLimitEvent {
            at: at.timestamp(),
            key: format!("{zone}:{}", client.unwrap_or("?")),
            policy: zone.to_owned(),
            decision: Decision::Deny,
            source: client.map(Source::parse),
        }));
        NginxLine::Read
    }
}

/// Pushes a request of a web server's access log, and before it, when it is a 401 or 403
/// answer on one of `login_paths`, the failed login it is.
pub(crate) fn push_request(request: RequestEvent, login_paths: &[String], service: &str, out: &mut Vec<Event>) {
    let path = request.path.split('?').next().unwrap_or_default();
    let login = login_paths
        .iter()
        .any(|p| path == p || path.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('/')));
    if matches!(request.status, 401 | 403)
        && login
        && let Some(source) = request.source.clone()
    {
        out.push(Event::Auth(AuthEvent {
            at: request.at,
            outcome: AuthOutcome::Failure,
            user: String::new(),
            source,
            method: "http".into(),
            reason: AuthReason::Other,
            service: service.into(),
            user_agent: request.user_agent.clone(),
            tenant: None,
            host: None,
            port: None,
        }));
    }
    out.push(Event::Request(request));
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

/// `203.0.113.5 - ann [05/Jan/2026:12:00:00 +0000] "POST /login HTTP/1.1" 401 512 "-" "curl/8"`,
/// with anything after the user agent (like `$request_time`) ignored but a trailing number
/// read as the request time in seconds.
fn access(line: &str) -> Option<RequestEvent> {
    let (client, rest) = line.split_once(' ')?;
    let rest = rest.strip_prefix("- ")?;
    let (_user, rest) = rest.split_once(" [")?;
    let (time, rest) = rest.split_once("] \"")?;
    let at = Timestamp::from(jiff::Zoned::strptime("%d/%b/%Y:%H:%M:%S %z", time).ok()?);
    let (request, rest) = rest.split_once("\" ")?;
    let mut parts = request.splitn(3, ' ');
    let method = parts.next().filter(|m| !m.is_empty())?.to_owned();
    let path = parts.next().unwrap_or("/").to_owned();
    let mut fields = rest.splitn(3, ' ');
    let status: u16 = fields.next()?.parse().ok().filter(|s| (100..=599).contains(s))?;
    let _bytes = fields.next()?;
    let quoted = fields.next().unwrap_or_default();
    let mut strings = quoted.split('"').skip(1).step_by(2);
    let _referer = strings.next();
    let user_agent = strings
        .next()
        .filter(|ua| !ua.is_empty() && *ua != "-")
        .map(str::to_owned);
    let latency_ms = quoted
        .rsplit(' ')
        .next()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0 && !quoted.trim_end().ends_with('"'))
        .map(|seconds| seconds * 1000.0);
    Some(RequestEvent {
        at,
        method,
        path,
        status,
        latency_ms,
        source: (!client.is_empty() && client != "-").then(|| Source::parse(client)),
        tenant: None,
        service: Some("nginx".into()),
        user_agent,
        host: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (NginxLine, Vec<Event>) {
        let parser = NginxParser::new(LOGIN_PATHS.iter().map(ToString::to_string).collect(), TimeZone::UTC);
        let mut out = Vec::new();
        (parser.line(line, &mut out), out)
    }

    #[test]
    fn a_combined_access_line_is_a_request_and_a_refused_login_is_also_a_failed_login() {
        let (kind, events) = parse(
            r#"203.0.113.5 - - [05/Jan/2026:12:00:00 +0100] "POST /login?next=/ HTTP/1.1" 401 512 "-" "curl/8.5" 0.012"#,
        );
        assert_eq!(kind, NginxLine::Read);
        let [Event::Auth(login), Event::Request(request)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(login.source, Source::parse("203.0.113.5"));
        assert_eq!(login.at.to_string(), "2026-01-05T11:00:00Z");
        assert_eq!((request.method.as_str(), request.status), ("POST", 401));
        assert_eq!(request.user_agent.as_deref(), Some("curl/8.5"));
        assert_eq!(request.latency_ms, Some(12.0));

        let (_, events) = parse(
            r#"2001:db8::1 - ann [05/Jan/2026:12:00:00 +0000] "GET /login/help HTTP/2.0" 403 0 "https://x/" "Mozilla/5.0""#,
        );
        assert_eq!(events.len(), 2, "a path under a login path");
        let (_, events) =
            parse(r#"198.51.100.1 - - [05/Jan/2026:12:00:00 +0000] "GET /loginx HTTP/1.1" 401 0 "-" "-""#);
        assert_eq!(events.len(), 1, "only the request");
        let (_, events) =
            parse(r#"198.51.100.1 - - [05/Jan/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "Mozilla/5.0""#);
        let [Event::Request(r)] = events.as_slice() else {
            panic!()
        };
        assert_eq!(r.latency_ms, None);
    }

    #[test]
    fn the_error_log_s_limiting_lines_are_rate_limit_denials() {
        let (kind, events) = parse(
            r#"2026/01/05 12:00:00 [error] 1234#1234: *5 limiting requests, excess: 0.560 by zone "login", client: 203.0.113.5, server: example.com, request: "POST /login HTTP/1.1", host: "example.com""#,
        );
        assert_eq!(kind, NginxLine::Read);
        let [Event::RateLimit(r)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(
            (r.policy.as_str(), r.key.as_str(), r.decision),
            ("login", "login:203.0.113.5", Decision::Deny)
        );
        assert_eq!(r.source, Some(Source::parse("203.0.113.5")));
        let (kind, events) = parse("2026/01/05 12:00:01 [notice] 1#1: signal process started");
        assert_eq!((kind, events.len()), (NginxLine::Skipped, 0));
        for bad in [
            "",
            "hello",
            r#"1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1 "-" "-""#,
            r#"1.2.3.4 - - [05/Jan/2026:12:00:00 +0000] "GET / HTTP/1.1" 999 1 "-" "-""#,
        ] {
            assert_eq!(parse(bad).0, NginxLine::Malformed, "{bad}");
        }
    }
}
