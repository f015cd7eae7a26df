//! `[[service]]`: the parts of the product people use, which maintenance mode is turned on
//! and off for (and which the public status page will show).

use super::build::id;
use super::read::{Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;
use crate::id::ServiceId;

/// A service of the product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub description: String,
}

/// `[[service]]` tables: `id`, `name` and an optional `description`.
pub(super) fn services(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<Service> {
    let mut out: Vec<Service> = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("service #{}", index + 1));
        let service_id = id(&mut s, ServiceId::parse, problems);
        let name = s.str("name", "\"Public API\"", problems);
        let description = s.opt_str("description", problems);
        s.finish(problems);
        let (Some(service_id), Some(name)) = (service_id, name) else {
            continue;
        };
        if out.iter().any(|o| o.id == service_id.value) {
            problems.push(Diagnostic::new(
                service_id.span,
                format!("duplicate service id \"{}\"", service_id.value),
            ));
            continue;
        }
        out.push(Service {
            id: service_id.value,
            name: name.value,
            description: description.map(|d| d.value).unwrap_or_default(),
        });
    }
    out
}
