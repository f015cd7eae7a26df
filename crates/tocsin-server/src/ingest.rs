//! Reading events out of what senders send: NDJSON, a JSON array, or one JSON object,
//! maybe gzip-compressed; and out of log files, line by line. Good events go on; each
//! bad one is reported with its line and field, and never stops the others.

use std::borrow::Cow;
use std::io::Read;

use axum::http::{HeaderMap, header};
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde_json::value::RawValue;
use tocsin_core::Timestamp;
use tocsin_core::event::{AuthEvent, Event, MAX_FIELD_BYTES, MAX_LINE_BYTES, Reject, parse_line};
use tocsin_detect::parse::nginx::{NginxLine, NginxParser};
use tocsin_detect::parse::reorder::Reorder;
use tocsin_detect::parse::sshd::{LineKind, SshdParser};
use tocsin_store::events::NewEvent;

/// The largest body tocsin takes in one request, compressed or not.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// The most a compressed body may expand to...
pub const MAX_EXPANDED: usize = 64 * 1024 * 1024;
/// ...and the most it may expand by: ten times what a week of repetitive logs compresses by.
pub const MAX_RATIO: usize = 200;
/// A body may expand to this much whatever its ratio, so that tiny bodies are never refused.
const RATIO_FLOOR: usize = 1024 * 1024;
/// The most lines (or array elements) in one body: 16 MiB of events of 64 bytes each.
/// Every line costs memory while the body is read, blank and refused ones included.
pub const MAX_LINES: usize = 256 * 1024;
/// Refused lines kept, with their reasons, to be shown; the rest are counted.
pub const REJECTS_KEPT: usize = 100;

/// What a body held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<NewEvent>,
    /// The first [`REJECTS_KEPT`] refused lines...
    pub rejects: Vec<Reject>,
    /// ...and how many there were.
    pub rejected: u64,
}

impl Parsed {
    fn refuse(&mut self, reject: Reject) {
        self.rejected += 1;
        if self.rejects.len() < REJECTS_KEPT {
            self.rejects.push(reject);
        }
    }
}

/// Why a whole body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body expands to more than {0} bytes")]
    TooLarge(usize),
    #[error("the body expands more than {MAX_RATIO} times; send it less compressed")]
    Bomb,
    #[error("the body holds more than {MAX_LINES} lines; send fewer events per request")]
    TooManyLines,
    #[error("the body is not valid {encoding}: {why}")]
    Undecodable { encoding: &'static str, why: String },
    #[error("the body is not UTF-8 text")]
    NotText,
    #[error("the body starts as a JSON array but is not one: {0}")]
    BadArray(String),
}

/// A `Content-Encoding` tocsin does not undo.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Content-Encoding \"{0}\" is not supported; send gzip, deflate, br or nothing")]
pub struct UnknownEncoding(pub String);

/// A `Content-Encoding` tocsin undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    /// zlib, as HTTP means it, or raw deflate, as some senders send it.
    Deflate,
    Brotli,
}

impl Encoding {
    /// The encoding the `Content-Encoding` header names, or the one tocsin cannot undo.
    pub fn of(headers: &HeaderMap) -> Result<Encoding, UnknownEncoding> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        let text = value.to_str().unwrap_or("?").trim();
        Ok(match text.to_ascii_lowercase().as_str() {
            "" | "identity" => Encoding::Identity,
            "gzip" | "x-gzip" => Encoding::Gzip,
            "deflate" => Encoding::Deflate,
            "br" => Encoding::Brotli,
            _ => return Err(UnknownEncoding(text.to_owned())),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Brotli => "br",
        }
    }

    /// The body as it reads once the encoding is undone.
    pub fn reader<'a>(self, body: &'a [u8]) -> Box<dyn Read + 'a> {
        match self {
            Encoding::Identity => Box::new(body),
            Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
            // zlib's header is two bytes whose big-endian value is a multiple of 31.
            Encoding::Deflate
                if body.len() >= 2
                    && body[0] & 0x0f == 8
                    && u16::from_be_bytes([body[0], body[1]]).is_multiple_of(31) =>
            {
                Box::new(flate2::read::ZlibDecoder::new(body))
            }
            Encoding::Deflate => Box::new(flate2::read::DeflateDecoder::new(body)),
            Encoding::Brotli => Box::new(brotli_decompressor::Decompressor::new(body, 4096)),
        }
    }

    /// Undoes the encoding, refusing what would expand beyond `max` bytes or more than
    /// [`MAX_RATIO`] times.
    pub fn expand(self, body: &[u8], max: usize) -> Result<Cow<'_, [u8]>, BodyError> {
        let by_ratio = body.len().saturating_mul(MAX_RATIO).max(RATIO_FLOOR);
        let (max, too_large) = if by_ratio < max {
            (by_ratio, BodyError::Bomb)
        } else {
            (max, BodyError::TooLarge(max))
        };
        match self {
            Encoding::Identity if body.len() > max => return Err(too_large),
            Encoding::Identity => return Ok(Cow::Borrowed(body)),
            _ => {}
        }
        let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
        self.reader(body)
            .take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| BodyError::Undecodable {
                encoding: self.name(),
                why: e.to_string(),
            })?;
        if out.len() > max {
            return Err(too_large);
        }
        Ok(Cow::Owned(out))
    }
}

/// Reads a body: a JSON array of events (each element numbered as a line, from 1), one
/// JSON object (when `json` says the sender declared `application/json`), or NDJSON.
pub fn parse_body(body: &[u8], json: bool, origin: &str, received_at: Timestamp) -> Result<Parsed, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotText)?;
    let breaks = text.bytes().filter(|b| *b == b'\n').count();
    if breaks >= MAX_LINES {
        return Err(BodyError::TooManyLines);
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| BodyError::BadArray(e.to_string()))?;
        if items.len() > MAX_LINES {
            return Err(BodyError::TooManyLines);
        }
        return Ok(collect(
            items.iter().enumerate().map(|(i, item)| (i as u64 + 1, item.get())),
            items.len(),
            origin,
            received_at,
        ));
    }
    if json && trimmed.starts_with('{') && serde_json::from_str::<&RawValue>(text).is_ok() {
        return Ok(collect([(1, text)], 1, origin, received_at));
    }
    Ok(ndjson(text, breaks + 1, origin, received_at))
}

/// Reads NDJSON of `lines` lines: one event per line; blank lines are skipped but still
/// counted.
fn ndjson(text: &str, lines: usize, origin: &str, received_at: Timestamp) -> Parsed {
    collect(
        text.lines()
            .enumerate()
            .map(|(i, line)| (i as u64 + 1, line))
            .filter(|(_, line)| !line.trim().is_empty()),
        lines,
        origin,
        received_at,
    )
}

/// Reads `lines`, about `expected` of them.
fn collect<'a>(
    lines: impl IntoIterator<Item = (u64, &'a str)>,
    expected: usize,
    origin: &str,
    received_at: Timestamp,
) -> Parsed {
    let mut parsed = Parsed::default();
    parsed.events.reserve(expected);
    let origin: std::sync::Arc<str> = origin.into();
    for (number, line) in lines {
        match parse_line(number, line) {
            Ok(event) => parsed
                .events
                .push(NewEvent::shared(event, std::sync::Arc::clone(&origin), received_at)),
            Err(reject) => parsed.refuse(reject),
        }
    }
    parsed
}

/// A log format read line by line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    /// One event per line, as `POST /api/v1/events` takes them.
    Ndjson,
    /// An OpenSSH log: syslog or journal lines.
    Sshd,
    /// nginx's access log (combined format) or error log.
    Nginx,
    /// Caddy's or Traefik's JSON access log.
    AccessJson,
    /// PostgreSQL's log (stderr with the default prefix, or jsonlog).
    Postgres,
}

impl LineFormat {
    pub fn describe(self) -> &'static str {
        match self {
            LineFormat::Ndjson => "NDJSON",
            LineFormat::Sshd => "an OpenSSH log",
            LineFormat::Nginx => "an nginx log",
            LineFormat::AccessJson => "a Caddy or Traefik access log",
            LineFormat::Postgres => "a PostgreSQL log",
        }
    }

    /// The format of a file from its first lines, or `None` when they do not tell.
    pub fn sniff(head: &[u8]) -> Option<LineFormat> {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.lines().filter(|l| !l.trim().is_empty()).take(50).peekable();
        let first = lines.peek()?;
        if first.trim_start().starts_with('{') {
            // The journal's export (`journalctl -o json`) is read as an sshd log.
            return Some(if first.contains("\"__REALTIME_TIMESTAMP\"") {
                LineFormat::Sshd
            } else if tocsin_detect::parse::access_json::Server::of(first).is_some() {
                LineFormat::AccessJson
            } else if first.contains("\"error_severity\"") {
                LineFormat::Postgres
            } else {
                LineFormat::Ndjson
            });
        }
        let lines: Vec<&str> = lines.collect();
        let sshd = |l: &str| {
            l.contains(" sshd[")
                || l.contains(" sshd-session[")
                || l.contains(" sshd:")
                || (l.starts_with('<') && (l.contains(" sshd ") || l.contains(" sshd-session ")))
        };
        if lines.iter().any(|l| sshd(l)) {
            return Some(LineFormat::Sshd);
        }
        let mut postgres = tocsin_detect::parse::postgres::PostgresParser::new(TimeZone::UTC);
        if lines
            .iter()
            .any(|l| postgres.line(l, &mut Vec::new()) != tocsin_detect::parse::postgres::PgLine::Malformed)
        {
            return Some(LineFormat::Postgres);
        }
        // Most lines, not all: a log may hold a line of something else.
        let parser = NginxParser::new(Vec::new(), TimeZone::UTC);
        let mut scratch = Vec::new();
        let read = lines
            .iter()
            .filter(|l| parser.line(l, &mut scratch) != NginxLine::Malformed)
            .count();
        (read * 10 >= lines.len() * 8).then_some(LineFormat::Nginx)
    }
}

pub use tocsin_detect::parse::nginx::LOGIN_PATHS;

#[cfg(test)]
mod sniffing {
    use super::LineFormat;

    #[test]
    fn the_journals_json_and_rfc5424_sshd_lines_are_told_from_ndjson_events() {
        let journal = br#"{"__REALTIME_TIMESTAMP":"1767585602000000","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"x"}"#;
        assert_eq!(LineFormat::sniff(journal), Some(LineFormat::Sshd));
        assert_eq!(LineFormat::sniff(br#"{"kind":"auth"}"#), Some(LineFormat::Ndjson));
        let rfc5424 = b"<38>1 2026-01-05T04:00:01Z h sshd 41 - - Failed password for root from 192.0.2.1 port 1 ssh2\n";
        assert_eq!(LineFormat::sniff(rfc5424), Some(LineFormat::Sshd));
        let caddy = br#"{"level":"info","ts":1767571201.5,"logger":"http.log.access.log0","request":{"remote_ip":"10.0.0.2"},"status":200}"#;
        assert_eq!(LineFormat::sniff(caddy), Some(LineFormat::AccessJson));
        let traefik = br#"{"ClientHost":"198.51.100.7","DownstreamStatus":403}"#;
        assert_eq!(LineFormat::sniff(traefik), Some(LineFormat::AccessJson));
        let jsonlog = br#"{"timestamp":"2026-01-05 00:00:07.123 UTC","pid":77,"error_severity":"FATAL","message":"x"}"#;
        assert_eq!(LineFormat::sniff(jsonlog), Some(LineFormat::Postgres));
        let stderr = b"2026-01-05 00:00:01.100 UTC [4101] LOG:  connection received: host=203.0.113.5 port=51234\n";
        assert_eq!(LineFormat::sniff(stderr), Some(LineFormat::Postgres));
    }
}

/// How long a parsed attempt is held for attempts dated before it (sshd's probes are
/// known when their connection ends, within sshd's two-minute login grace time).
const REORDER_SLACK: SignedDuration = SignedDuration::from_mins(5);
/// Rejected lines of a log kept to be shown.
const LOG_REJECTS_KEPT: usize = 10;

/// Lines of a log into events for the event log, in time order.
#[derive(Debug)]
pub struct LineReader {
    format: LineFormat,
    origin: std::sync::Arc<str>,
    sshd: SshdParser,
    nginx: NginxParser,
    access: tocsin_detect::parse::access_json::AccessJsonParser,
    postgres: tocsin_detect::parse::postgres::PostgresParser,
    reorder: Reorder<Event>,
    attempts: Vec<AuthEvent>,
    ready: Vec<Event>,
    /// Events ready to be stored.
    pub batch: Vec<NewEvent>,
    /// Lines read.
    pub lines: u64,
    /// The first refused lines, and how many there were.
    pub rejects: Vec<Reject>,
    pub rejected: u64,
}

impl LineReader {
    /// `origin` says where the lines come from; `year` and `zone` read syslog times,
    /// which carry neither; a 401 or 403 on one of `login_paths` is a failed login.
    pub fn new(format: LineFormat, origin: &str, year: i16, zone: TimeZone, login_paths: Vec<String>) -> Self {
        LineReader {
            format,
            origin: origin.into(),
            sshd: SshdParser::new(year, zone.clone()),
            access: tocsin_detect::parse::access_json::AccessJsonParser::new(login_paths.clone()),
            postgres: tocsin_detect::parse::postgres::PostgresParser::new(zone.clone()),
            nginx: NginxParser::new(login_paths, zone),
            reorder: Reorder::new(REORDER_SLACK),
            attempts: Vec::new(),
            ready: Vec::new(),
            batch: Vec::new(),
            lines: 0,
            rejects: Vec::new(),
            rejected: 0,
        }
    }

    /// Reads the next line.
    pub fn line(&mut self, text: &str) {
        self.lines += 1;
        let text = text.trim_end_matches(['\r', '\n']);
        if text.len() > MAX_LINE_BYTES {
            let message = format!("the line is longer than the {MAX_LINE_BYTES} bytes one event may take");
            self.reject(None, &message);
            return;
        }
        match self.format {
            LineFormat::Sshd => {
                if self.sshd.line(text, &mut self.attempts) == LineKind::Malformed && !text.trim().is_empty() {
                    self.reject(None, "not a syslog line");
                }
                for attempt in self.attempts.drain(..) {
                    self.reorder.push(attempt.at, Event::Auth(attempt), &mut self.ready);
                }
            }
            LineFormat::Nginx => {
                if self.nginx.line(text, &mut self.ready) == NginxLine::Malformed && !text.trim().is_empty() {
                    self.reject(None, "not an nginx access-log or error-log line");
                }
            }
            LineFormat::AccessJson => {
                if !self.access.line(text, &mut self.ready) && !text.trim().is_empty() {
                    self.reject(None, "not a Caddy or Traefik JSON access-log line");
                }
            }
            LineFormat::Postgres => {
                use tocsin_detect::parse::postgres::PgLine;
                // A statement's continuation lines start with a tab: part of the entry before.
                if self.postgres.line(text, &mut self.attempts) == PgLine::Malformed
                    && !text.trim().is_empty()
                    && !text.starts_with('\t')
                {
                    self.reject(None, "not a PostgreSQL log line");
                }
                for attempt in self.attempts.drain(..) {
                    self.ready.push(Event::Auth(attempt));
                }
            }
            LineFormat::Ndjson if text.trim().is_empty() => {}
            LineFormat::Ndjson => match parse_line(self.lines, text) {
                Ok(event) => {
                    let origin = std::sync::Arc::clone(&self.origin);
                    self.batch.push(NewEvent::shared(event, origin, Timestamp::now()));
                }
                Err(reject) => {
                    self.rejected += 1;
                    if self.rejects.len() < LOG_REJECTS_KEPT {
                        self.rejects.push(reject);
                    }
                }
            },
        }
        self.take_ready();
    }

    /// Lets go of every event held back: at the end of the input, or when a followed
    /// file has gone quiet.
    pub fn let_go(&mut self, end: bool) {
        if end {
            self.sshd.finish(&mut self.attempts);
            for attempt in self.attempts.drain(..) {
                self.reorder.push(attempt.at, Event::Auth(attempt), &mut self.ready);
            }
        }
        self.reorder.finish(&mut self.ready);
        self.take_ready();
    }

    fn take_ready(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let now = Timestamp::now();
        for mut event in self.ready.drain(..) {
            event.cut_fields(MAX_FIELD_BYTES);
            self.batch
                .push(NewEvent::shared(event, std::sync::Arc::clone(&self.origin), now));
        }
    }

    fn reject(&mut self, field: Option<String>, message: &str) {
        self.rejected += 1;
        if self.rejects.len() < LOG_REJECTS_KEPT {
            self.rejects.push(Reject {
                line: self.lines,
                field,
                message: message.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const GOOD: &str = r#"{"kind":"heartbeat","ts":"2026-01-05T00:00:04Z","agent":"a"}"#;

    fn parse(body: &str, json: bool) -> Parsed {
        parse_body(body.as_bytes(), json, "test", Timestamp::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn ndjson_arrays_and_single_objects_are_read_and_bad_lines_are_numbered() {
        let ndjson = format!("{GOOD}\n\n{{\"kind\":\"heartbeat\"}}\r\n{GOOD}\n");
        let p = parse(&ndjson, false);
        assert_eq!(p.events.len(), 2);
        assert_eq!(p.rejects.len(), 1);
        assert_eq!((p.rejects[0].line, p.rejects[0].field.as_deref()), (3, Some("ts")));

        let array = format!("[{GOOD}, {{\"kind\":\"nope\"}}, {GOOD}]");
        let p = parse(&array, true);
        assert_eq!((p.events.len(), p.rejects[0].line), (2, 2));

        let pretty = "{\n  \"kind\": \"heartbeat\",\n  \"ts\": \"2026-01-05T00:00:04Z\",\n  \"agent\": \"a\"\n}\n";
        assert_eq!(parse(pretty, true).events.len(), 1);
        // Without the JSON content type, a pretty-printed object is read line by line.
        assert_eq!(parse(pretty, false).rejects.len(), 5);

        assert!(matches!(
            parse_body(b"[1, 2", true, "t", Timestamp::UNIX_EPOCH),
            Err(BodyError::BadArray(_))
        ));
        assert!(matches!(
            parse_body(b"\xff\xfe", false, "t", Timestamp::UNIX_EPOCH),
            Err(BodyError::NotText)
        ));
    }

    #[test]
    fn encodings_are_undone_and_a_bomb_is_refused() {
        let expand = |encoding: Encoding, body: &[u8]| encoding.expand(body, MAX_EXPANDED).unwrap().into_owned();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(GOOD.as_bytes()).unwrap();
        assert_eq!(expand(Encoding::Gzip, &gz.finish().unwrap()), GOOD.as_bytes());
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(GOOD.as_bytes()).unwrap();
        assert_eq!(expand(Encoding::Deflate, &zlib.finish().unwrap()), GOOD.as_bytes());
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(GOOD.as_bytes()).unwrap();
        assert_eq!(expand(Encoding::Deflate, &raw.finish().unwrap()), GOOD.as_bytes());
        // "hello", compressed by brotli.
        let br = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(expand(Encoding::Brotli, &br), b"hello");
        assert!(matches!(
            Encoding::Identity.expand(b"hello", 4),
            Err(BodyError::TooLarge(4))
        ));

        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..(MAX_EXPANDED / zeros.len() + 1) {
            bomb.write_all(&zeros).unwrap();
        }
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() < 1024 * 1024);
        assert!(matches!(
            Encoding::Gzip.expand(&bomb, MAX_EXPANDED),
            Err(BodyError::Bomb)
        ));
        // Within the ratio, past the most a body may expand to.
        assert!(matches!(
            Encoding::Gzip.expand(&bomb, 1000),
            Err(BodyError::TooLarge(1000))
        ));
        for encoding in [Encoding::Gzip, Encoding::Deflate, Encoding::Brotli] {
            assert!(
                matches!(
                    encoding.expand(b"not compressed", 100),
                    Err(BodyError::Undecodable { .. })
                ),
                "{encoding:?}"
            );
        }
        let mut headers = HeaderMap::new();
        assert_eq!(Encoding::of(&headers), Ok(Encoding::Identity));
        headers.insert(header::CONTENT_ENCODING, "BR".parse().unwrap());
        assert_eq!(Encoding::of(&headers), Ok(Encoding::Brotli));
        headers.insert(header::CONTENT_ENCODING, "zstd".parse().unwrap());
        assert_eq!(Encoding::of(&headers), Err(UnknownEncoding("zstd".to_owned())));
    }
}
