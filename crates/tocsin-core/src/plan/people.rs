//! The people a plan names: `[[person]]` and how each is reached.

use super::build::{email_problem, no_duplicates, unknown};
use super::read::{Located, Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;

/// A `[[person]]` table: someone escalations and reminders can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// How the plan names them; their tocsin user name if they have one, so that an
    /// incident's owner finds them.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// Their Telegram user id: mentioned in the chat, and allowed to act from it.
    pub telegram: Option<i64>,
    /// Their Slack member id, mentioned in Slack messages.
    pub slack: Option<String>,
}

/// `[[person]]` tables: `id`, `name`, and how they are reached: `email`, `telegram` (user
/// id), `slack` (member id).
pub(super) fn people(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<Person> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("person #{}", index + 1));
        let id = s.str("id", "\"jo\" (their tocsin user name, if they have one)", problems);
        let name = s.str("name", "\"Jo Smith\"", problems);
        let email = s.opt_str("email", problems);
        let telegram = s.opt_int("telegram", problems);
        let slack = s.opt_str("slack", problems);
        s.finish(problems);
        let before = problems.len();
        if let Some(id) = &id {
            if let Err(e) = crate::identity::Username::parse(&id.value) {
                problems.push(Diagnostic::new(id.span.clone(), format!("person id: {e}")));
            }
            seen.push((id.value.clone(), id.span.clone()));
        }
        problems.extend(email.as_ref().and_then(email_problem));
        if let Some(t) = &telegram
            && t.value <= 0
        {
            problems.push(
                Diagnostic::new(t.span.clone(), "telegram is a person's user id, a positive number").with_hint(
                    "ask them to send /start to the bot and read the id in `tocsin` logs, or ask @userinfobot",
                ),
            );
        }
        if let (Some(id), Some(name), true) = (id, name, problems.len() == before) {
            out.push(Person {
                id: id.value,
                name: name.value,
                email: email.map(|e| e.value),
                telegram: telegram.map(|t| t.value),
                slack: slack.map(|s| s.value),
            });
        }
    }
    no_duplicates(
        "person",
        seen.iter().map(|(n, span)| (n.as_str(), span.clone())),
        problems,
    );
    out
}

/// People named by `owner` (a role, an escalation level) that the plan defines.
pub(super) fn people_references(
    owner: &str,
    refs: Vec<Located<String>>,
    person_ids: &[&str],
    problems: &mut Problems,
) -> Vec<String> {
    refs.into_iter()
        .filter_map(|r| {
            if person_ids.contains(&r.value.as_str()) {
                return Some(r.value);
            }
            problems.push(unknown(
                &r,
                format!("{owner} refers to unknown person \"{}\"", r.value),
                person_ids,
                "define them in a [[person]] table".into(),
            ));
            None
        })
        .collect()
}
