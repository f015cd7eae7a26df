//! Crontab schedules, as job monitors declare them (`0 3 * * *`, `*/15 * * * 1-5`,
//! `@daily`): tocsin needs only the longest wait between two runs, to know when a job
//! that checks in on such a schedule has gone silent for too long.

use jiff::civil::Date;

/// One field's allowed values, as bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    bits: u64,
    /// Written as `*` (or `*/1`): it does not restrict, which matters for the days.
    any: bool,
}

impl Field {
    fn has(self, value: u32) -> bool {
        self.bits & (1 << value) != 0
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Why a crontab schedule cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadSchedule {
    #[error("\"{0}\" is not a crontab schedule: it needs five fields (minute hour day month weekday)")]
    NotFiveFields(String),
    #[error("the {field} field has \"{text}\", which is not a number")]
    NotANumber { field: &'static str, text: String },
    #[error("the {field} field has the step \"{step}\"; use a positive number")]
    BadStep { field: &'static str, step: String },
    #[error("the {field} field has \"{part}\"; it must lie within {low}-{high}")]
    OutOfRange {
        field: &'static str,
        part: String,
        low: u32,
        high: u32,
    },
    #[error("\"{0}\" never runs twice")]
    NeverTwice(String),
}

fn value(text: &str, names: &[&str], first: u32, what: &'static str) -> Result<u32, BadSchedule> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as u32 + first);
    }
    text.parse().map_err(|_| BadSchedule::NotANumber {
        field: what,
        text: text.to_owned(),
    })
}

/// Reads one field: `*`, `a`, `a-b`, each optionally `/step`, joined by commas.
fn field(text: &str, low: u32, high: u32, names: &[&str], what: &'static str) -> Result<Field, BadSchedule> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| BadSchedule::BadStep {
                        field: what,
                        step: step.to_owned(),
                    })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (low, high),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a, names, low, what)?, value(b, names, low, what)?),
                None => {
                    let v = value(range, names, low, what)?;
                    // `5/15` runs from 5 to the end in steps of 15.
                    (v, if step > 1 { high } else { v })
                }
            },
        };
        if from < low || to > high || from > to {
            return Err(BadSchedule::OutOfRange {
                field: what,
                part: part.to_owned(),
                low,
                high,
            });
        }
        for v in (from..=to).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(Field {
        bits,
        any: text == "*" || text == "*/1",
    })
}

/// The longest wait, in seconds, between two runs of a crontab schedule: five fields
/// (minute, hour, day of month, month, day of week) or `@hourly`, `@daily`, `@weekly`,
/// `@monthly`, `@yearly`. As in cron, a day matches when both day fields restrict and
/// either matches.
pub fn longest_gap(schedule: &str) -> Result<i64, BadSchedule> {
    let expanded = match schedule.trim() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        other => other,
    };
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = parts[..] else {
        return Err(BadSchedule::NotFiveFields(schedule.to_owned()));
    };
    let minute = field(minute, 0, 59, &[], "minute")?;
    let hour = field(hour, 0, 23, &[], "hour")?;
    let dom = field(dom, 1, 31, &[], "day-of-month")?;
    let month = field(month, 1, 12, &MONTHS, "month")?;
    let mut dow = field(dow, 0, 7, &DAYS, "day-of-week")?;
    // Sunday may be written 7.
    dow.bits |= dow.bits >> 7;
    let minutes_of_day: Vec<i64> = (0..24)
        .filter(|h| hour.has(*h))
        .flat_map(|h| {
            (0..60)
                .filter(move |m| minute.has(*m))
                .map(move |m| i64::from(h * 60 + m))
        })
        .collect();
    // A week shows every gap of a schedule that names no days of the month nor months;
    // otherwise eight years do (the 29th of February comes back every four).
    let days: i64 = if dom.any && month.any { 15 } else { 8 * 366 + 2 };
    let start = Date::constant(2024, 1, 1);
    let mut previous: Option<i64> = None;
    let mut longest = 0i64;
    for offset in 0..days {
        // Within jiff's range: the dates lie in 2024 to 2032.
        let Ok(date) = start.checked_add(jiff::Span::new().days(offset)) else {
            break;
        };
        let day_matches = match (dom.any, dow.any) {
            (true, true) => true,
            (false, true) => dom.has(date.day() as u32),
            (true, false) => dow.has(u32::from(date.weekday().to_sunday_zero_offset() as u8)),
            (false, false) => {
                dom.has(date.day() as u32) || dow.has(u32::from(date.weekday().to_sunday_zero_offset() as u8))
            }
        };
        if !day_matches || !month.has(date.month() as u32) {
            continue;
        }
        for m in &minutes_of_day {
            let at = offset * 1440 + m;
            if let Some(p) = previous {
                longest = longest.max(at - p);
            }
            previous = Some(at);
        }
    }
    if longest == 0 {
        return Err(BadSchedule::NeverTwice(schedule.to_owned()));
    }
    Ok(longest * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_wait_between_runs() {
        assert_eq!(longest_gap("* * * * *"), Ok(60));
        assert_eq!(longest_gap("*/15 * * * *"), Ok(15 * 60));
        assert_eq!(longest_gap("@hourly"), Ok(3600));
        assert_eq!(longest_gap("0 3 * * *"), Ok(86_400));
        assert_eq!(longest_gap("30 2,14 * * *"), Ok(12 * 3600));
        // Weekdays at nine: Friday to Monday.
        assert_eq!(longest_gap("0 9 * * 1-5"), Ok(3 * 86_400));
        assert_eq!(longest_gap("0 9 * * MON-fri"), Ok(3 * 86_400));
        assert_eq!(longest_gap("0 0 * * 7"), Ok(7 * 86_400));
        // The first of the month: 31 days at most.
        assert_eq!(longest_gap("@monthly"), Ok(31 * 86_400));
        // Quarterly.
        assert_eq!(longest_gap("0 0 1 */3 *"), Ok(92 * 86_400));
        assert_eq!(longest_gap("0 0 29 2 *").unwrap() / 86_400, 1461);
        // Both day fields: either.
        assert_eq!(longest_gap("0 0 1 * 1").unwrap() / 86_400, 7);
        assert!(longest_gap("0 3 * *").unwrap_err().to_string().contains("five fields"));
        assert!(longest_gap("61 * * * *").unwrap_err().to_string().contains("minute"));
        assert!(longest_gap("0 0 31 2 *").unwrap_err().to_string().contains("never"));
        assert!(longest_gap("*/0 * * * *").unwrap_err().to_string().contains("step"));
    }
}
