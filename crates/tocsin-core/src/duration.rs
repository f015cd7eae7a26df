//! Durations as a plan writes them: `15m`, `1h 30m`, `72h`, `5 business days`, `1 month`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span of time promised by the plan.
///
/// Elapsed durations are exact (72 h is 72 × 3600 s whatever the calendar says);
/// business days and months are counted in the organization's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Duration {
    /// Exact elapsed seconds, greater than zero.
    Elapsed(i64),
    /// Working days of the organization's calendar.
    BusinessDays(u32),
    /// Calendar months in the organization's time zone.
    Months(u32),
}

/// Why a duration could not be read, with a hint that shows the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DurationError {
    pub message: String,
    pub hint: String,
}

const HINT: &str = "write a number and a unit, like \"15m\", \"1h\", \"72h\", \"5 business days\" or \"1 month\"";
const LONGEST_SECONDS: i64 = 10 * 366 * 86_400;

impl Duration {
    /// Reads a duration written the way people write them.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let fail = |message: String| DurationError {
            message,
            hint: HINT.to_owned(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("empty duration".to_owned()));
        }
        let parts = split_parts(trimmed).map_err(|m| DurationError {
            message: format!("{m} in duration \"{text}\""),
            hint: HINT.to_owned(),
        })?;
        let mut seconds: i64 = 0;
        let mut calendar: Option<Duration> = None;
        for (amount, unit) in &parts {
            let unit_seconds = match unit.as_str() {
                "s" | "sec" | "second" | "seconds" => Some(1),
                "m" | "min" | "minute" | "minutes" => Some(60),
                "h" | "hour" | "hours" => Some(3_600),
                "d" | "day" | "days" => Some(86_400),
                "w" | "week" | "weeks" => Some(7 * 86_400),
                "business day" | "business days" => {
                    calendar = Some(Duration::BusinessDays(to_u32(*amount, text)?));
                    None
                }
                "month" | "months" => {
                    calendar = Some(Duration::Months(to_u32(*amount, text)?));
                    None
                }
                other => {
                    return Err(DurationError {
                        message: format!("unknown unit \"{other}\" in duration \"{text}\""),
                        hint: unit_hint(*amount, other),
                    });
                }
            };
            if let Some(unit_seconds) = unit_seconds {
                seconds = amount
                    .checked_mul(unit_seconds)
                    .and_then(|s| seconds.checked_add(s))
                    .filter(|s| *s <= LONGEST_SECONDS)
                    .ok_or_else(|| fail(format!("duration \"{text}\" is longer than ten years")))?;
            }
        }
        match calendar {
            Some(_) if parts.len() > 1 => Err(DurationError {
                message: format!("duration \"{text}\" mixes business days or months with other units"),
                hint: "write business days and months on their own, like \"5 business days\"".to_owned(),
            }),
            Some(Duration::BusinessDays(0) | Duration::Months(0)) => {
                Err(fail(format!("duration \"{text}\" must be longer than zero")))
            }
            Some(calendar) => Ok(calendar),
            None if seconds == 0 => Err(fail(format!("duration \"{text}\" must be longer than zero"))),
            None => Ok(Duration::Elapsed(seconds)),
        }
    }

    /// Exact seconds, for elapsed durations only.
    pub fn elapsed_seconds(&self) -> Option<i64> {
        match self {
            Duration::Elapsed(s) => Some(*s),
            _ => None,
        }
    }
}

fn to_u32(amount: i64, text: &str) -> Result<u32, DurationError> {
    u32::try_from(amount)
        .ok()
        .filter(|n| *n <= 3_660)
        .ok_or_else(|| DurationError {
            message: format!("duration \"{text}\" is longer than ten years"),
            hint: HINT.to_owned(),
        })
}

fn unit_hint(amount: i64, unit: &str) -> String {
    let known = [
        ("mins", "m", "minutes"),
        ("mn", "m", "minutes"),
        ("hr", "h", "hours"),
        ("hrs", "h", "hours"),
        ("hs", "h", "hours"),
        ("secs", "s", "seconds"),
        ("dys", "d", "days"),
        ("wk", "w", "weeks"),
        ("wks", "w", "weeks"),
        ("business", "business days", "business days"),
        ("working days", "business days", "business days"),
        ("workdays", "business days", "business days"),
        ("mo", "month", "months"),
        ("mos", "month", "months"),
    ];
    match known.iter().find(|(wrong, _, _)| *wrong == unit) {
        Some((_, short, long)) if short == long => format!("write \"{amount} {long}\""),
        Some((_, short, long)) => format!("write \"{amount}{short}\" or \"{amount} {long}\""),
        None => format!("units are s, m, h, d, w, business days and months; {HINT}"),
    }
}

/// Splits `1h 30m` or `5 business days` into (amount, unit) pairs.
fn split_parts(text: &str) -> Result<Vec<(i64, String)>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("expected a number before \"{rest}\""));
        }
        let amount: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("number \"{}\" is too large", &rest[..digits]))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = rest[..unit_len]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase();
        if unit.is_empty() {
            return Err(format!("missing unit after {amount}"));
        }
        parts.push((amount, unit));
        rest = rest[unit_len..].trim_start();
    }
    Ok(parts)
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Duration::BusinessDays(1) => f.write_str("1 business day"),
            Duration::BusinessDays(n) => write!(f, "{n} business days"),
            Duration::Months(1) => f.write_str("1 month"),
            Duration::Months(n) => write!(f, "{n} months"),
            Duration::Elapsed(s) => f.write_str(&format_seconds(s)),
        }
    }
}

/// Formats exact seconds the way the plan writes them (`72h`, `1h 30m`, `10d`).
pub fn format_seconds(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    if s >= 7 * 86_400 && s.is_multiple_of(86_400) {
        return format!("{}d", s / 86_400);
    }
    let (h, m, sec) = (s / 3_600, s % 3_600 / 60, s % 60);
    let mut out = Vec::new();
    if h > 0 {
        out.push(format!("{h}h"));
    }
    if m > 0 {
        out.push(format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push(format!("{sec}s"));
    }
    out.join(" ")
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(Duration::parse("15m"), Ok(Duration::Elapsed(900)));
        assert_eq!(Duration::parse("15 minutes"), Ok(Duration::Elapsed(900)));
        assert_eq!(Duration::parse("1h"), Ok(Duration::Elapsed(3_600)));
        assert_eq!(Duration::parse("72h"), Ok(Duration::Elapsed(259_200)));
        assert_eq!(Duration::parse("1h 30m"), Ok(Duration::Elapsed(5_400)));
        assert_eq!(Duration::parse("1h30m"), Ok(Duration::Elapsed(5_400)));
        assert_eq!(Duration::parse("3 days"), Ok(Duration::Elapsed(259_200)));
        assert_eq!(Duration::parse("5 business days"), Ok(Duration::BusinessDays(5)));
        assert_eq!(Duration::parse("1 Business Day"), Ok(Duration::BusinessDays(1)));
        assert_eq!(Duration::parse("1 month"), Ok(Duration::Months(1)));
    }

    #[test]
    fn fifteen_mins_is_rejected_with_a_hint_that_shows_the_fix() {
        let err = Duration::parse("15 mins").unwrap_err();
        assert_eq!(err.message, "unknown unit \"mins\" in duration \"15 mins\"");
        assert_eq!(err.hint, "write \"15m\" or \"15 minutes\"");
    }

    #[test]
    fn malformed_durations_name_the_problem() {
        for (text, message) in [
            ("", "empty duration"),
            ("m", "expected a number before \"m\" in duration \"m\""),
            ("15", "missing unit after 15 in duration \"15\""),
            ("0h", "duration \"0h\" must be longer than zero"),
            (
                "0 business days",
                "duration \"0 business days\" must be longer than zero",
            ),
            ("-5m", "expected a number before \"-5m\" in duration \"-5m\""),
            (
                "99999999999999999999h",
                "number \"99999999999999999999\" is too large in duration \"99999999999999999999h\"",
            ),
            (
                "1 month 2d",
                "duration \"1 month 2d\" mixes business days or months with other units",
            ),
            ("100000h", "duration \"100000h\" is longer than ten years"),
        ] {
            assert_eq!(Duration::parse(text).unwrap_err().message, message, "{text}");
        }
    }

    #[test]
    fn durations_print_in_the_plan_s_own_words() {
        for (text, shown) in [
            ("15m", "15m"),
            ("90m", "1h 30m"),
            ("72h", "72h"),
            ("14d", "14d"),
            ("30s", "30s"),
            ("5 business days", "5 business days"),
            ("1 business days", "1 business day"),
            ("2 months", "2 months"),
        ] {
            assert_eq!(Duration::parse(text).unwrap().to_string(), shown);
        }
    }

    proptest! {
        #[test]
        fn printing_then_reading_a_duration_gives_it_back(seconds in 1i64..LONGEST_SECONDS, days in 1u32..400) {
            for d in [Duration::Elapsed(seconds), Duration::BusinessDays(days), Duration::Months(days % 120 + 1)] {
                prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
            }
        }

        #[test]
        fn any_text_either_reads_back_the_same_or_names_its_problem(text in "\\PC{0,24}") {
            match Duration::parse(&text) {
                Ok(d) => prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d)),
                Err(e) => prop_assert!(!e.message.is_empty() && !e.hint.is_empty()),
            }
        }
    }
}
