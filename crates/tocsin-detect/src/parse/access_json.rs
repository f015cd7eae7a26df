//! The JSON access logs of Caddy and Traefik: each line a request, and a 401 or 403 on a
//! login path also a failed login, as nginx's are read.
//!
//! - Caddy (`log { format json }`, logger `http.log.access...`): `ts` as Unix seconds (or a
//!   time when `time_format` says so), `request.{client_ip|remote_ip, method, uri, host,
//!   headers.User-Agent}`, `status`, `duration` in seconds.
//! - Traefik (`accessLog.format = json`): `StartUTC` (or `time`), `ClientHost`,
//!   `RequestMethod`, `RequestPath`, `RequestHost`, `DownstreamStatus` (or `OriginStatus`),
//!   `Duration` in nanoseconds, `request_User-Agent` when headers are kept.

use jiff::Timestamp;
use serde_json::Value;
use tocsin_core::event::{Event, RequestEvent, Source};

use super::nginx::push_request;

/// Which server wrote a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Caddy,
    Traefik,
}

impl Server {
    /// Which server wrote `line`, if it is one of their access-log lines.
    pub fn of(line: &str) -> Option<Server> {
        let line = line.trim_start();
        if !line.starts_with('{') {
            return None;
        }
        if line.contains("\"DownstreamStatus\"") || line.contains("\"ClientHost\"") {
            Some(Server::Traefik)
        } else if line.contains("\"http.log.access") || (line.contains("\"request\"") && line.contains("\"remote_ip\""))
        {
            Some(Server::Caddy)
        } else {
            None
        }
    }
}

/// Reads Caddy's and Traefik's JSON access logs.
#[derive(Debug)]
pub struct AccessJsonParser {
    login_paths: Vec<String>,
}

impl AccessJsonParser {
    pub fn new(login_paths: Vec<String>) -> Self {
        AccessJsonParser { login_paths }
    }

    /// Reads one line, pushing its events onto `out`; whether it was an access-log line.
    pub fn line(&self, line: &str, out: &mut Vec<Event>) -> bool {
        let Ok(doc) = serde_json::from_str::<Value>(line.trim()) else {
            return false;
        };
        let request = match Server::of(line) {
            Some(Server::Caddy) => caddy(&doc),
            Some(Server::Traefik) => traefik(&doc),
            None => None,
        };
        match request {
            Some((request, service)) => {
                push_request(request, &self.login_paths, service, out);
                true
            }
            None => false,
        }
    }
}

fn text<'a>(doc: &'a Value, pointer: &str) -> Option<&'a str> {
    doc.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A time as Unix seconds (Caddy's default), or as text (RFC 3339).
fn time(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Number(n) => {
            let seconds = n.as_f64()?;
            Timestamp::from_microsecond((seconds * 1e6).round() as i64).ok()
        }
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn status(value: Option<&Value>) -> Option<u16> {
    value.and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok())
}

fn caddy(doc: &Value) -> Option<(RequestEvent, &'static str)> {
    let at = time(doc.get("ts")?)?;
    let request = doc.get("request")?;
    let source = text(request, "/client_ip").or_else(|| text(request, "/remote_ip"));
    let event = RequestEvent {
        at,
        method: text(request, "/method")?.to_owned(),
        path: text(request, "/uri")?.to_owned(),
        status: status(doc.get("status"))?,
        latency_ms: doc.get("duration").and_then(Value::as_f64).map(|s| s * 1000.0),
        source: source.map(Source::parse),
        tenant: None,
        service: Some("caddy".into()),
        user_agent: text(request, "/headers/User-Agent/0").map(str::to_owned),
        host: text(request, "/host").map(str::to_owned),
    };
    Some((event, "caddy"))
}

fn traefik(doc: &Value) -> Option<(RequestEvent, &'static str)> {
    let at = doc
        .get("StartUTC")
        .and_then(time)
        .or_else(|| doc.get("time").and_then(time))?;
    let status = status(doc.get("DownstreamStatus")).or_else(|| status(doc.get("OriginStatus")))?;
    let event = RequestEvent {
        at,
        method: text(doc, "/RequestMethod")?.to_owned(),
        path: text(doc, "/RequestPath")?.to_owned(),
        status,
        latency_ms: doc.get("Duration").and_then(Value::as_f64).map(|ns| ns / 1e6),
        source: text(doc, "/ClientHost").map(Source::parse),
        tenant: None,
        service: text(doc, "/ServiceName")
            .or_else(|| text(doc, "/RouterName"))
            .map(str::to_owned)
            .or_else(|| Some("traefik".into())),
        user_agent: text(doc, "/request_User-Agent").map(str::to_owned),
        host: text(doc, "/RequestHost").map(str::to_owned),
    };
    Some((event, "traefik"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_core::event::AuthOutcome;

    fn read(line: &str) -> Vec<Event> {
        let parser = AccessJsonParser::new(vec!["/login".into()]);
        let mut out = Vec::new();
        assert!(parser.line(line, &mut out), "{line}");
        out
    }

    #[test]
    fn caddys_access_log_gives_requests_and_failed_logins() {
        let events = read(
            r#"{"level":"info","ts":1767571201.5241024,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.2","remote_port":"41342","client_ip":"203.0.113.5","proto":"HTTP/2.0","method":"POST","host":"app.example.com","uri":"/login?next=/","headers":{"User-Agent":["curl/8.5.0"]}},"bytes_read":0,"user_id":"","duration":0.012,"size":10,"status":401,"resp_headers":{}}"#,
        );
        let Event::Auth(login) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (login.outcome, login.source.to_string(), login.service.as_str()),
            (AuthOutcome::Failure, "203.0.113.5".to_owned(), "caddy")
        );
        let Event::Request(r) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.status),
            ("POST", "/login?next=/", 401)
        );
        assert_eq!(r.at.as_millisecond(), 1_767_571_201_524);
        assert_eq!(r.latency_ms, Some(12.0));
        assert_eq!(
            (r.user_agent.as_deref(), r.host.as_deref()),
            (Some("curl/8.5.0"), Some("app.example.com"))
        );
    }

    #[test]
    fn traefiks_access_log_gives_requests_and_failed_logins() {
        let events = read(
            r#"{"ClientAddr":"198.51.100.7:54321","ClientHost":"198.51.100.7","ClientPort":"54321","DownstreamContentSize":19,"DownstreamStatus":403,"Duration":2500000,"OriginStatus":403,"RequestHost":"app.example.com","RequestMethod":"POST","RequestPath":"/login","RequestProtocol":"HTTP/1.1","RouterName":"app@docker","ServiceName":"app@docker","StartUTC":"2026-01-05T00:00:02.123456789Z","level":"info","msg":"","request_User-Agent":"python-requests/2.31","time":"2026-01-05T00:00:02Z"}"#,
        );
        assert_eq!(events.len(), 2);
        let Event::Request(r) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (r.status, r.latency_ms, r.service.as_deref()),
            (403, Some(2.5), Some("app@docker"))
        );
        assert_eq!(
            r.source.as_ref().map(ToString::to_string).as_deref(),
            Some("198.51.100.7")
        );
        let ok = read(
            r#"{"ClientHost":"198.51.100.8","DownstreamStatus":200,"RequestMethod":"GET","RequestPath":"/","time":"2026-01-05T00:00:03Z"}"#,
        );
        assert_eq!(ok.len(), 1, "a request that is no failed login is only a request");
    }

    #[test]
    fn other_json_is_not_an_access_log_line() {
        let parser = AccessJsonParser::new(Vec::new());
        let mut out = Vec::new();
        for line in [
            r#"{"kind":"auth"}"#,
            "not json",
            r#"{"ClientHost":"x"}"#,
            r#"{"logger":"http.log.access","ts":"x"}"#,
        ] {
            assert!(!parser.line(line, &mut out), "{line}");
        }
        assert!(out.is_empty());
    }
}
