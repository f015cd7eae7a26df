//! The response procedure: `[[severity]]`, `[[step]]`, `[[role]]` and `[review]`.

use super::build::{Ids, references};
use super::people::people_references;
use super::read::{Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::id::{RoleId, SeverityId, StepId};

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Severity {
    pub id: SeverityId,
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
    pub acknowledge_within: Duration,
    pub status_update_every: Option<Duration>,
    pub customer_notice_within: Option<Duration>,
    pub pages: bool,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StepTemplate {
    pub id: StepId,
    pub name: String,
    pub description: String,
    pub checklist: Vec<String>,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResponseRole {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub required_for: Vec<SeverityId>,
    /// Ids of the plan's people who hold the role until an incident assigns it.
    pub people: Vec<String>,
}

#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Review {
    pub step: StepId,
    pub within: Duration,
}

pub(super) fn severities(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> (Vec<Severity>, Vec<String>) {
    let mut out = Vec::new();
    let mut ids = Ids::default();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("severity #{}", index + 1));
        let id = ids.read("severity", &mut s, SeverityId::parse, problems);
        let name = s.str("name", "\"Critical\"", problems);
        let description = s.opt_str("description", problems);
        let examples = s.str_list("examples", problems);
        let acknowledge_within = s.duration("acknowledge_within", problems);
        let status_update_every = s.opt_duration("status_update_every", problems);
        let customer_notice_within = s.opt_duration("customer_notice_within", problems);
        let pages = s.opt_bool("pages", problems);
        s.finish(problems);
        if let (Some(id), Some(name), Some(ack)) = (id, name, acknowledge_within) {
            out.push(Severity {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                examples: examples.into_iter().map(|e| e.value).collect(),
                acknowledge_within: ack.value,
                status_update_every: status_update_every.map(|d| d.value),
                customer_notice_within: customer_notice_within.map(|d| d.value),
                pages: pages.unwrap_or(false),
            });
        }
    }
    (out, ids.finish("severity", problems))
}

pub(super) fn steps(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> (Vec<StepTemplate>, Vec<String>) {
    let mut out = Vec::new();
    let mut ids = Ids::default();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("step #{}", index + 1));
        let id = ids.read("step", &mut s, StepId::parse, problems);
        let name = s.str("name", "\"Contain\"", problems);
        let description = s.opt_str("description", problems);
        let checklist = s.str_list("checklist", problems);
        for item in &checklist {
            if item.value.trim().is_empty() {
                problems.push(Diagnostic::new(
                    item.span.clone(),
                    format!("empty checklist item in {}", s.name),
                ));
            }
        }
        s.finish(problems);
        if let (Some(id), Some(name)) = (id, name) {
            out.push(StepTemplate {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                checklist: checklist.into_iter().map(|c| c.value).collect(),
            });
        }
    }
    (out, ids.finish("step", problems))
}

pub(super) fn roles(
    tables: &[TableAt<'_, '_>],
    severity_ids: &[&str],
    person_ids: &[&str],
    problems: &mut Problems,
) -> Vec<ResponseRole> {
    let mut out = Vec::new();
    let mut ids = Ids::default();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("role #{}", index + 1));
        let id = ids.read("role", &mut s, RoleId::parse, problems);
        let name = s.str("name", "\"Incident commander\"", problems);
        let description = s.opt_str("description", problems);
        let required = s.str_list("required_for", problems);
        let people = s.str_list("people", problems);
        let owner = s.name.clone();
        let people = people_references(&owner, people, person_ids, problems);
        let required_for = references("severity", &owner, required, severity_ids, SeverityId::parse, problems);
        s.finish(problems);
        if let (Some(id), Some(name)) = (id, name) {
            out.push(ResponseRole {
                id: id.value,
                name: name.value,
                description: description.map(|d| d.value).unwrap_or_default(),
                required_for,
                people,
            });
        }
    }
    ids.finish("role", problems);
    out
}

pub(super) fn review(table: TableAt<'_, '_>, step_ids: &[&str], problems: &mut Problems) -> Option<Review> {
    let mut s = Section::new(table, "[review]");
    let step = s.str("step", "\"review\"", problems);
    let within = s.duration("within", problems);
    s.finish(problems);
    let step = references("step", "[review]", vec![step?], step_ids, StepId::parse, problems).pop()?;
    Some(Review {
        step,
        within: within?.value,
    })
}
