//! The prefix of syslog lines: time, host, program and process id.
//!
//! The shapes read: the traditional one, RFC 3164 (`Jan  5 00:00:01 web1 sshd[1835]: ...`,
//! also what `journalctl` prints, with `Jan 05`), RFC 3339 times as rsyslog and
//! `journalctl -o short-iso` write them (`2026-01-05T00:00:01+00:00`, `+0000`, fractions),
//! lines without a process id (`host prog: ...`), either with the `<PRI>` a syslog
//! receiver keeps; RFC 5424 (`<38>1 2026-01-05T00:00:01.3Z web1 sshd 1835 - - ...`, with its
//! structured data skipped); and the journal's own export, `journalctl -o json`, one JSON
//! object per line ([`JournalLine`]).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// One line, split into its parts. The message borrows from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyslogLine<'a> {
    pub at: Timestamp,
    pub host: &'a str,
    pub program: &'a str,
    pub pid: Option<u32>,
    pub message: &'a str,
}

/// Reads traditional times, which have no year and no zone: the year is carried from line
/// to line (a month far smaller than the last one starts a new year), the zone is given.
#[derive(Clone, Debug)]
pub struct SyslogClock {
    year: i16,
    last_month: i8,
    zone: TimeZone,
    /// The last traditional time read, to skip the arithmetic for lines of the same second.
    last: Option<([u8; 15], i16, Timestamp)>,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

impl SyslogClock {
    /// `year`: the year of the first traditional time; `zone`: the zone the server wrote in.
    pub fn new(year: i16, zone: TimeZone) -> Self {
        SyslogClock {
            year,
            last_month: 0,
            zone,
            last: None,
        }
    }

    /// Splits a line, or `None` when it is not a syslog line.
    pub fn parse<'a>(&mut self, line: &'a str) -> Option<SyslogLine<'a>> {
        let line = line.trim_end_matches(['\r', '\n']);
        let line = without_priority(line);
        if let Some(rest) = line.strip_prefix("1 ") {
            return rfc5424(rest);
        }
        let bytes = line.as_bytes();
        let (at, rest) = if bytes.len() >= 16 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
            let (stamp, rest) = line.split_once(' ')?;
            (rfc3339(stamp)?, rest)
        } else if bytes.len() > 15 && bytes[3] == b' ' && bytes[4].is_ascii_digit() && bytes[5] == b' ' {
            // `Feb 7 16:01:07 `: a day of one digit after one space, as some daemons write.
            let mut head = [b' '; 16];
            head[..4].copy_from_slice(&bytes[..4]);
            head[5..16].copy_from_slice(&bytes[4..15]);
            (self.traditional(&head)?, line.get(15..)?)
        } else {
            (self.traditional(bytes)?, line.get(16..)?)
        };
        let (host, rest) = rest.split_once(' ')?;
        let (tag, message) = rest.split_once(": ")?;
        let (program, pid) = match tag.strip_suffix(']').and_then(|t| t.split_once('[')) {
            Some((program, pid)) => (program, Some(pid.parse().ok()?)),
            None => (tag, None),
        };
        if host.is_empty() || program.is_empty() || program.contains(' ') {
            return None;
        }
        Some(SyslogLine {
            at,
            host,
            program,
            pid,
            message,
        })
    }

    /// `Jan  5 00:00:01 ` or `Jan 05 00:00:01 `.
    fn traditional(&mut self, bytes: &[u8]) -> Option<Timestamp> {
        let head: [u8; 15] = bytes.get(..15)?.try_into().ok()?;
        if bytes.get(15) != Some(&b' ') {
            return None;
        }
        if let Some((last, year, at)) = self.last
            && last == head
            && year == self.year
        {
            return Some(at);
        }
        let month = MONTHS.iter().position(|m| m[..] == head[..3])?;
        let month = i8::try_from(month).ok()? + 1;
        let digit = |b: u8| b.is_ascii_digit().then(|| i8::try_from(b - b'0').ok()).flatten();
        let day = match (head[3], head[4], head[5]) {
            (b' ', b' ', d) => digit(d)?,
            (b' ', t, d) => digit(t)? * 10 + digit(d)?,
            _ => return None,
        };
        if head[6] != b' ' || head[9] != b':' || head[12] != b':' {
            return None;
        }
        let hour = digit(head[7])? * 10 + digit(head[8])?;
        let minute = digit(head[10])? * 10 + digit(head[11])?;
        let second = digit(head[13])? * 10 + digit(head[14])?;
        // A log runs forward: December followed by January is the next year.
        if self.last_month != 0 && month + 6 < self.last_month {
            self.year += 1;
        }
        self.last_month = month;
        let date = Date::new(self.year, month, day).ok()?;
        let time = jiff::civil::Time::new(hour, minute, second, 0).ok()?;
        let at = date.to_datetime(time).to_zoned(self.zone.clone()).ok()?.timestamp();
        self.last = Some((head, self.year, at));
        Some(at)
    }
}

/// A line without the `<PRI>` that a syslog receiver may keep in front of it.
fn without_priority(line: &str) -> &str {
    let Some(rest) = line.strip_prefix('<') else {
        return line;
    };
    match rest.split_once('>') {
        Some((pri, after)) if (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit()) => after,
        _ => line,
    }
}

/// RFC 5424 after its version: `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`, each
/// `-` when absent; the structured data is skipped. A line without a time is refused.
fn rfc5424(rest: &str) -> Option<SyslogLine<'_>> {
    let mut fields = rest.splitn(6, ' ');
    let at = rfc3339(fields.next()?)?;
    let host = fields.next().filter(|h| !h.is_empty())?;
    let program = fields.next().filter(|p| !p.is_empty() && *p != "-")?;
    let pid = match fields.next()? {
        "-" => None,
        pid => Some(pid.parse().ok()?),
    };
    let _msgid = fields.next()?;
    let rest = fields.next().unwrap_or("");
    let message = skip_structured_data(rest)?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    Some(SyslogLine {
        at,
        host,
        program,
        pid,
        message,
    })
}

/// What follows RFC 5424's structured data: `-`, or `[id k="v" ...]` elements in which a
/// quoted value may hold `]` escaped as `\]`.
fn skip_structured_data(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('-') {
        return Some(rest.strip_prefix(' ').unwrap_or(rest));
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while bytes.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *bytes.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    let rest = text.get(i..)?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// A line of `journalctl -o json`: the journal's fields as one JSON object. Its message is
/// a string, or an array of bytes when it is not UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalLine {
    pub at: Timestamp,
    pub host: String,
    pub program: String,
    pub pid: Option<u32>,
    pub message: String,
}

impl JournalLine {
    /// Reads one exported entry; `None` when it is not one (no time, program or message).
    pub fn parse(line: &str) -> Option<JournalLine> {
        let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
        let micros: i64 = text("__REALTIME_TIMESTAMP")?.parse().ok()?;
        let at = Timestamp::from_microsecond(micros).ok()?;
        let program = text("SYSLOG_IDENTIFIER").or_else(|| text("_COMM"))?.to_owned();
        let pid = text("SYSLOG_PID").or_else(|| text("_PID")).and_then(|p| p.parse().ok());
        let message = match value.get("MESSAGE")? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(bytes) => {
                let bytes: Vec<u8> = bytes
                    .iter()
                    .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect::<Option<_>>()?;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => return None,
        };
        Some(JournalLine {
            at,
            host: text("_HOSTNAME").unwrap_or("localhost").to_owned(),
            program,
            pid,
            message,
        })
    }

    /// As a syslog line, borrowing from it.
    pub fn as_syslog(&self) -> SyslogLine<'_> {
        SyslogLine {
            at: self.at,
            host: &self.host,
            program: &self.program,
            pid: self.pid,
            message: &self.message,
        }
    }
}

/// `2026-01-05T00:00:01+00:00`, `...Z`, `...+0000`, with or without fractions.
fn rfc3339(stamp: &str) -> Option<Timestamp> {
    if let Ok(at) = stamp.parse::<Timestamp>() {
        return Some(at);
    }
    // journalctl's short-iso writes the offset without a colon.
    let split = stamp.len().checked_sub(5)?;
    let (time, offset) = (stamp.get(..split)?, stamp.get(split..)?);
    let b = offset.as_bytes();
    if (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        return format!("{time}{}:{}", &offset[..3], &offset[3..]).parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> SyslogClock {
        SyslogClock::new(2026, TimeZone::UTC)
    }

    #[test]
    fn traditional_rfc3339_and_journal_prefixes_are_read() {
        let mut clock = utc();
        let line = clock
            .parse("Jan  5 00:00:02 web1 sshd[1835]: Invalid user admin from 192.0.2.1 port 44732")
            .unwrap();
        assert_eq!(line.at, "2026-01-05T00:00:02Z".parse().unwrap());
        assert_eq!((line.host, line.program, line.pid), ("web1", "sshd", Some(1835)));
        assert_eq!(line.message, "Invalid user admin from 192.0.2.1 port 44732");
        let journal = clock
            .parse("Jan 05 00:00:03 web1 sshd-session[7]: Connection closed")
            .unwrap();
        assert_eq!(journal.at, "2026-01-05T00:00:03Z".parse().unwrap());
        assert_eq!(journal.program, "sshd-session");
        for stamp in [
            "2026-01-05T01:00:04+01:00",
            "2026-01-05T00:00:04Z",
            "2026-01-05T01:00:04+0100",
            "2026-01-05T00:00:04.000000+00:00",
        ] {
            let text = format!("{stamp} web1 sshd[9]: x");
            let line = clock.parse(&text).unwrap();
            assert_eq!(line.at, "2026-01-05T00:00:04Z".parse().unwrap(), "{stamp}");
        }
        let one_space = clock.parse("Feb 7 16:01:07 linux-m899 sshd[5106]: x").unwrap();
        assert_eq!(
            (one_space.at, one_space.host),
            ("2026-02-07T16:01:07Z".parse().unwrap(), "linux-m899")
        );
        let no_pid = clock.parse("Jan  5 00:00:05 web1 kernel: something").unwrap();
        assert_eq!((no_pid.program, no_pid.pid), ("kernel", None));
    }

    #[test]
    fn rfc5424_and_priorities_and_the_journals_json_are_read() {
        let mut clock = utc();
        let line = clock
            .parse("<38>1 2026-01-05T00:00:02.123456+00:00 web1 sshd 1835 - - Invalid user admin from 192.0.2.1")
            .unwrap();
        assert_eq!((line.host, line.program, line.pid), ("web1", "sshd", Some(1835)));
        assert_eq!(line.message, "Invalid user admin from 192.0.2.1");
        assert_eq!(line.at, "2026-01-05T00:00:02.123456Z".parse().unwrap());
        let sd = clock
            .parse("<86>1 2026-01-05T00:00:03Z web1 sshd - AUTH [origin ip=\"10.0.0.1\" x=\"a\\]b c\"][meta seq=\"1\"] \u{feff}Failed password for root from 192.0.2.1 port 22 ssh2")
            .unwrap();
        assert_eq!(
            (sd.pid, sd.message),
            (None, "Failed password for root from 192.0.2.1 port 22 ssh2")
        );
        let pri3164 = clock.parse("<38>Jan  5 00:00:04 web1 sshd[7]: x").unwrap();
        assert_eq!((pri3164.program, pri3164.message), ("sshd", "x"));
        assert_eq!(clock.parse("<38>1 - web1 sshd 7 - - no time"), None);
        assert_eq!(clock.parse("<38>1 2026-01-05T00:00:03Z web1 sshd 7 - [unclosed"), None);

        let journal = JournalLine::parse(
            r#"{"__REALTIME_TIMESTAMP":"1767571205000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd-session","_PID":"812","MESSAGE":"Failed password for root from 192.0.2.9 port 4000 ssh2","PRIORITY":"6"}"#,
        )
        .unwrap();
        let as_line = journal.as_syslog();
        assert_eq!(
            (as_line.host, as_line.program, as_line.pid),
            ("web1", "sshd-session", Some(812))
        );
        assert_eq!(as_line.at, "2026-01-05T00:00:05Z".parse().unwrap());
        let bytes = JournalLine::parse(
            r#"{"__REALTIME_TIMESTAMP":"1767571205000000","SYSLOG_IDENTIFIER":"sshd","MESSAGE":[73,110,118,255]}"#,
        )
        .unwrap();
        assert_eq!(
            (bytes.host.as_str(), bytes.message.as_str()),
            ("localhost", "Inv\u{fffd}")
        );
        assert_eq!(JournalLine::parse(r#"{"MESSAGE":"x"}"#), None);
        assert_eq!(JournalLine::parse("not json"), None);
    }

    /// Found by the fuzz test: `date.at` panics on an hour past 23.
    #[test]
    fn a_syslog_time_that_is_no_time_is_refused_not_a_panic() {
        let mut clock = utc();
        for line in [
            "Jan  5 99:00:02 web1 sshd[1]: x",
            "Jan  5 00:60:02 web1 sshd[1]: x",
            "Feb 30 00:00:00 h sshd[1]: x",
        ] {
            assert!(clock.parse(line).is_none(), "{line}");
        }
    }

    #[test]
    fn a_log_that_crosses_new_year_moves_to_the_next_year() {
        let mut clock = utc();
        let december = clock.parse("Dec 31 23:59:59 h sshd[1]: a").unwrap();
        let january = clock.parse("Jan  1 00:00:00 h sshd[1]: b").unwrap();
        assert_eq!(december.at, "2026-12-31T23:59:59Z".parse().unwrap());
        assert_eq!(january.at, "2027-01-01T00:00:00Z".parse().unwrap());
    }

    #[test]
    fn times_are_read_in_the_servers_zone() {
        let mut clock = SyslogClock::new(2026, TimeZone::get("Europe/Berlin").unwrap());
        let line = clock.parse("Jul  1 12:00:00 h sshd[1]: a").unwrap();
        assert_eq!(line.at, "2026-07-01T10:00:00Z".parse().unwrap());
    }

    #[test]
    fn lines_that_are_not_syslog_are_refused() {
        let mut clock = utc();
        for line in [
            "",
            "hello",
            "Foo  5 00:00:02 web1 sshd[1]: x",
            "Jan 32 00:00:02 web1 sshd[1]: x",
            "Jan  5 00:00:02 web1 sshd[x]: y",
            "Jan  5 00:00:02 web1",
            "2026-13-05T00:00:01Z h p[1]: x",
        ] {
            assert_eq!(clock.parse(line), None, "{line:?}");
        }
    }
}
