//! The prefix of syslog lines: time, host, program and process id.
//!
//! Three shapes are read: the traditional one (`Jan  5 00:00:01 web1 sshd[1835]: ...`,
//! also what `journalctl` prints, with `Jan 05`), RFC 3339 times as rsyslog and
//! `journalctl -o short-iso` write them (`2026-01-05T00:00:01+00:00`, `+0000`, fractions),
//! and lines without a process id (`host prog: ...`).

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
        let bytes = line.as_bytes();
        let (at, rest) = if bytes.len() >= 16 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' {
            let (stamp, rest) = line.split_once(' ')?;
            (rfc3339(stamp)?, rest)
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
        let no_pid = clock.parse("Jan  5 00:00:05 web1 kernel: something").unwrap();
        assert_eq!((no_pid.program, no_pid.pid), ("kernel", None));
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
