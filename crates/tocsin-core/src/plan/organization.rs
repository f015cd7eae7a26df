//! The `[organization]` section: who the plan belongs to, its time zone and working calendar.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz;
use toml::de::DeValue;

use super::read::{Located, Problems, Section, TableAt};
use crate::calendar::Calendar;
use crate::diagnostic::Diagnostic;
use crate::id::closest;

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Organization {
    pub name: String,
    pub timezone: String,
    pub working_days: Vec<Weekday>,
    pub holidays: Vec<Date>,
    pub security_contact: Option<String>,
    /// The contact point for personal data breaches (the data protection officer, or who
    /// else), which notices name (GDPR Art. 33(3)(b)); the security contact where unset.
    pub privacy_contact: Option<String>,
}

pub(super) fn organization(table: TableAt<'_, '_>, problems: &mut Problems) -> Option<(Organization, Calendar)> {
    let mut s = Section::new(table, "[organization]");
    let name = s.str("name", "\"Acme Ltd\"", problems);
    let zone_text = s.str("timezone", "\"Europe/Berlin\"", problems);
    let zone = zone_text.as_ref().and_then(|text| match tz::db().get(&text.value) {
        Ok(zone) => Some(zone),
        Err(_) => {
            let names: Vec<String> = tz::db().available().map(|n| n.to_string()).collect();
            let hint = match closest(&text.value, names.iter().map(String::as_str)) {
                Some(guess) => format!("did you mean \"{guess}\"?"),
                None => "use an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"".to_owned(),
            };
            problems.push(
                Diagnostic::new(text.span.clone(), format!("unknown timezone \"{}\"", text.value)).with_hint(hint),
            );
            None
        }
    });
    let days_given = s.str_list("working_days", problems);
    let mut working_days = Vec::new();
    for day in &days_given {
        match weekday(&day.value) {
            Some(d) if working_days.contains(&d) => problems.push(Diagnostic::new(
                day.span.clone(),
                format!("working day \"{}\" is listed twice", day.value),
            )),
            Some(d) => working_days.push(d),
            None => problems.push(
                Diagnostic::new(day.span.clone(), format!("unknown working day \"{}\"", day.value))
                    .with_hint("write mon, tue, wed, thu, fri, sat or sun"),
            ),
        }
    }
    if days_given.is_empty() {
        use Weekday::*;
        working_days = vec![Monday, Tuesday, Wednesday, Thursday, Friday];
    } else if working_days.is_empty() {
        problems.push(Diagnostic::new(
            s.span(),
            "working_days in [organization] names no valid day",
        ));
    }
    let holidays: Vec<Located<Option<Date>>> = s.list("holidays", problems, |v| match v.get_ref() {
        DeValue::String(text) => Ok(text.parse::<Date>().ok()),
        DeValue::Datetime(dt) => Ok(dt.to_string().parse::<Date>().ok()),
        _ => Err("a date like 2026-12-25"),
    });
    let mut dates = BTreeSet::new();
    for h in &holidays {
        match h.value {
            Some(date) => {
                dates.insert(date);
            }
            None => problems
                .push(Diagnostic::new(h.span.clone(), "holiday is not a date").with_hint("write dates as 2026-12-25")),
        }
    }
    let security_contact = s.opt_str("security_contact", problems).map(|c| c.value);
    let privacy_contact = s.opt_str("privacy_contact", problems).map(|c| c.value);
    s.finish(problems);
    let (name, zone_text, zone) = (name?, zone_text?, zone?);
    if working_days.is_empty() {
        return None;
    }
    let calendar = Calendar::new(&zone_text.value, zone, &working_days, dates.clone());
    Some((
        Organization {
            name: name.value,
            timezone: zone_text.value,
            working_days,
            holidays: dates.into_iter().collect(),
            security_contact,
            privacy_contact,
        },
        calendar,
    ))
}

fn weekday(text: &str) -> Option<Weekday> {
    use Weekday::*;
    let lower = text.to_ascii_lowercase();
    let days = [
        ("mon", "monday", Monday),
        ("tue", "tuesday", Tuesday),
        ("wed", "wednesday", Wednesday),
        ("thu", "thursday", Thursday),
        ("fri", "friday", Friday),
        ("sat", "saturday", Saturday),
        ("sun", "sunday", Sunday),
    ];
    days.into_iter()
        .find(|(short, long, _)| lower == *short || lower == *long)
        .map(|(_, _, day)| day)
}
