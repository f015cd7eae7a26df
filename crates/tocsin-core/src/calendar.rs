//! The organization's calendar: time zone, working days and holidays, and due-time arithmetic.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use crate::duration::Duration;

/// Where and when the organization works. Built only from a valid plan.
#[derive(Clone, Debug)]
pub struct Calendar {
    zone_name: String,
    zone: TimeZone,
    working_days: [bool; 7],
    holidays: BTreeSet<Date>,
}

impl Calendar {
    /// A calendar; `working_days` must name at least one day (the plan checks it).
    pub fn new(zone_name: &str, zone: TimeZone, working_days: &[Weekday], holidays: BTreeSet<Date>) -> Self {
        let mut days = [false; 7];
        for day in working_days {
            days[day_index(*day)] = true;
        }
        assert!(days.iter().any(|d| *d), "a calendar needs a working day");
        Calendar {
            zone_name: zone_name.to_owned(),
            zone,
            working_days: days,
            holidays,
        }
    }

    /// Monday to Friday in UTC without holidays: the calendar of tests and examples.
    pub fn utc_weekdays() -> Self {
        use Weekday::*;
        Calendar::new(
            "UTC",
            TimeZone::UTC,
            &[Monday, Tuesday, Wednesday, Thursday, Friday],
            BTreeSet::new(),
        )
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    pub fn is_business_day(&self, date: Date) -> bool {
        self.working_days[day_index(date.weekday())] && !self.holidays.contains(&date)
    }

    /// The first business day strictly after `date`.
    fn next_business_day(&self, date: Date) -> Date {
        let mut next = date;
        loop {
            next = next.tomorrow().expect("dates stay far inside jiff's range");
            if self.is_business_day(next) {
                return next;
            }
        }
    }

    /// When something started at `start` and allowed `within` is due.
    ///
    /// Business days keep the local time of day of the start and skip weekends and
    /// holidays; a start outside a business day counts from the beginning of the next
    /// one. A local time that does not exist on the due day (a DST gap) moves forward.
    pub fn due(&self, start: Timestamp, within: Duration) -> Timestamp {
        match within {
            Duration::Elapsed(seconds) => start
                .checked_add(SignedDuration::from_secs(seconds))
                .expect("plan durations are at most ten years"),
            Duration::Months(months) => start
                .to_zoned(self.zone.clone())
                .checked_add(Span::new().months(i64::from(months)))
                .expect("plan durations are at most ten years")
                .timestamp(),
            Duration::BusinessDays(days) => {
                let local = start.to_zoned(self.zone.clone());
                let (mut date, time) = if self.is_business_day(local.date()) {
                    (local.date(), local.time())
                } else {
                    (self.next_business_day(local.date()), Time::midnight())
                };
                for _ in 0..days {
                    date = self.next_business_day(date);
                }
                date.to_datetime(time)
                    .to_zoned(self.zone.clone())
                    .expect("dates stay far inside jiff's range")
                    .timestamp()
            }
        }
    }
}

fn day_index(day: Weekday) -> usize {
    usize::try_from(day.to_monday_zero_offset()).expect("weekday offsets are 0..7")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn berlin(holidays: &[Date]) -> Calendar {
        use Weekday::*;
        Calendar::new(
            "Europe/Berlin",
            TimeZone::get("Europe/Berlin").unwrap(),
            &[Monday, Tuesday, Wednesday, Thursday, Friday],
            holidays.iter().copied().collect(),
        )
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn five_business_days_from_a_monday_is_the_next_monday_at_the_same_time() {
        let due = berlin(&[]).due(at("2026-11-16T09:30:00Z"), Duration::BusinessDays(5));
        assert_eq!(due, at("2026-11-23T09:30:00Z"));
    }

    #[test]
    fn a_friday_evening_start_skips_the_weekend() {
        let due = berlin(&[]).due(at("2026-11-20T17:00:00Z"), Duration::BusinessDays(1));
        assert_eq!(due, at("2026-11-23T17:00:00Z"));
    }

    #[test]
    fn a_saturday_start_counts_from_monday_morning() {
        // Saturday 2026-11-21 15:00 Berlin → Monday 00:00 → five business days later.
        let due = berlin(&[]).due(at("2026-11-21T14:00:00Z"), Duration::BusinessDays(5));
        assert_eq!(due, at("2026-11-29T23:00:00Z"));
    }

    #[test]
    fn holidays_are_not_business_days() {
        let christmas = [date(2026, 12, 24), date(2026, 12, 25)];
        let due = berlin(&christmas).due(at("2026-12-23T10:00:00Z"), Duration::BusinessDays(2));
        // Thu 24 and Fri 25 are holidays, then the weekend: Mon 28, Tue 29.
        assert_eq!(due, at("2026-12-29T10:00:00Z"));
    }

    #[test]
    fn business_days_keep_the_local_time_across_the_autumn_dst_change() {
        // Friday 2026-10-23 10:00 CEST (+02:00); Europe/Berlin leaves DST on Sunday 25 Oct.
        let due = berlin(&[]).due(at("2026-10-23T08:00:00Z"), Duration::BusinessDays(1));
        // Monday 26 Oct 10:00 CET (+01:00).
        assert_eq!(due, at("2026-10-26T09:00:00Z"));
    }

    #[test]
    fn a_due_time_inside_the_spring_dst_gap_moves_forward() {
        let zone = TimeZone::get("America/New_York").unwrap();
        // Every day works in this calendar, so Sat 7 Mar 02:30 EST + 1 day = Sun 8 Mar 02:30, which does not exist.
        use Weekday::*;
        let cal = Calendar::new(
            "America/New_York",
            zone,
            &[Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday],
            BTreeSet::new(),
        );
        let due = cal.due(at("2026-03-07T07:30:00Z"), Duration::BusinessDays(1));
        assert_eq!(due, at("2026-03-08T07:30:00Z"));
    }

    #[test]
    fn elapsed_hours_ignore_the_calendar() {
        let due = berlin(&[]).due(at("2026-10-24T08:00:00Z"), Duration::Elapsed(72 * 3600));
        assert_eq!(due, at("2026-10-27T08:00:00Z"));
    }

    #[test]
    fn a_month_is_a_calendar_month_in_the_organization_s_zone() {
        let due = berlin(&[]).due(at("2026-01-31T10:00:00Z"), Duration::Months(1));
        assert_eq!(due, at("2026-02-28T10:00:00Z"));
    }

    fn zones() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/Sao_Paulo",
        ])
    }

    fn calendars() -> impl Strategy<Value = Calendar> {
        (
            zones(),
            prop::collection::vec(any::<bool>(), 7),
            prop::collection::btree_set(0i32..800, 0..40),
        )
            .prop_filter("at least one working day", |(_, days, _)| days.iter().any(|d| *d))
            .prop_map(|(zone, days, holiday_offsets)| {
                let working: Vec<Weekday> = (0..7)
                    .filter(|i| days[*i])
                    .map(|i| Weekday::from_monday_zero_offset(i as i8).unwrap())
                    .collect();
                let holidays = holiday_offsets
                    .into_iter()
                    .map(|o| date(2025, 12, 1).checked_add(Span::new().days(o)).unwrap())
                    .collect();
                Calendar::new(zone, TimeZone::get(zone).unwrap(), &working, holidays)
            })
    }

    fn starts() -> impl Strategy<Value = Timestamp> {
        // 2026-01-01 .. 2027-12-31 in milliseconds.
        (1_767_225_600_000i64..1_830_211_200_000).prop_map(|ms| Timestamp::from_millisecond(ms).unwrap())
    }

    proptest! {
        #[test]
        fn business_days_land_on_a_business_day_after_exactly_n_business_days(
            cal in calendars(), start in starts(), n in 1u32..30,
        ) {
            let due = cal.due(start, Duration::BusinessDays(n));
            prop_assert!(due > start);
            let due_local = due.to_zoned(cal.zone().clone());
            let start_local = start.to_zoned(cal.zone().clone());
            prop_assert!(cal.is_business_day(due_local.date()), "{due_local} is not a business day");
            // Business days in (start date, due date] are exactly n.
            let mut counted = 0;
            let mut d = start_local.date();
            while d < due_local.date() {
                d = d.tomorrow().unwrap();
                if cal.is_business_day(d) { counted += 1; }
            }
            let started_on_business_day = cal.is_business_day(start_local.date());
            prop_assert_eq!(counted, if started_on_business_day { n } else { n + 1 });
            // The local time of day is kept (or starts at midnight), except where a DST gap moved it.
            let expected_time = if started_on_business_day { start_local.time() } else { Time::midnight() };
            let wall = due_local.date().to_datetime(expected_time);
            let gap = wall.to_zoned(cal.zone().clone()).unwrap().datetime() != wall;
            prop_assert!(gap || due_local.time() == expected_time, "{due_local} should be at {expected_time}");
        }

        #[test]
        fn a_later_start_is_never_due_earlier(
            cal in calendars(), start in starts(), extra_ms in 0i64..(20 * 86_400_000), n in 1u32..15,
        ) {
            let later = start.checked_add(SignedDuration::from_millis(extra_ms)).unwrap();
            prop_assert!(cal.due(later, Duration::BusinessDays(n)) >= cal.due(start, Duration::BusinessDays(n)));
        }

        #[test]
        fn one_more_holiday_inside_the_window_adds_exactly_one_business_day(
            start in starts(), n in 1u32..15, pick in 0usize..15,
        ) {
            let plain = berlin(&[]);
            let due = plain.due(start, Duration::BusinessDays(n));
            // Make one business day inside (start, due] a holiday.
            let start_date = start.to_zoned(plain.zone().clone()).date();
            let due_date = due.to_zoned(plain.zone().clone()).date();
            let mut inside = Vec::new();
            let mut d = start_date;
            while d < due_date {
                d = d.tomorrow().unwrap();
                if plain.is_business_day(d) { inside.push(d); }
            }
            let holiday = inside[pick % inside.len()];
            let with_holiday = berlin(&[holiday]).due(start, Duration::BusinessDays(n));
            let plain_plus_one = plain.due(start, Duration::BusinessDays(n + 1));
            prop_assert_eq!(with_holiday, plain_plus_one);
        }

        #[test]
        fn elapsed_durations_are_exact_in_every_zone(cal in calendars(), start in starts(), secs in 1i64..(400 * 86_400)) {
            prop_assert_eq!(cal.due(start, Duration::Elapsed(secs)).as_second() - start.as_second(), secs);
        }
    }
}
