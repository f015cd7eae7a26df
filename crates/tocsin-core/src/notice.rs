//! Notices: what tocsin tells customers, the supervisory authority and data subjects. A
//! notice is Markdown, drafted from the plan's template for its kind, and checked before
//! it goes for what the law and the plan require it to say: its required sections, each
//! with something in it, and no blank (`[[ … ]]`) left to fill.

use std::collections::BTreeMap;

use crate::plan::NoticeKind;
use crate::template::{Part, split};

/// The fields a notice's template may name, each `{{ field }}`.
pub const FIELDS: [(&str, &str); 17] = [
    ("incident.id", "the incident's number, like INC-0007"),
    ("incident.title", "its title"),
    ("incident.summary", "its summary"),
    ("incident.severity", "its severity"),
    (
        "incident.status",
        "where it stands: declared, acknowledged, resolved, closed",
    ),
    ("incident.detected_at", "when it was detected"),
    ("incident.aware_at", "when the organization became aware of it"),
    ("incident.declared_at", "when it was declared"),
    ("incident.resolved_at", "when it was resolved, or \"not yet\""),
    (
        "incident.affected_customers",
        "how many customers are affected, or \"not known yet\"",
    ),
    (
        "incident.affected_data_subjects",
        "how many people's data, or \"not known yet\"",
    ),
    ("incident.personal_data", "\"yes\" or \"no\""),
    ("incident.steps_done", "the response steps done, a Markdown list"),
    (
        "incident.actions",
        "the containment actions that succeeded, a Markdown list",
    ),
    ("incident.timeline", "the incident's timeline, a Markdown list"),
    ("organization.name", "the organization's name"),
    ("contact", "the contact point: the plan's [organization] contact"),
];

/// The sections a notice of `kind` must have unless the plan lists its own: for customers
/// the four the four-tier plan promises; for the authority GDPR Art. 33(3) (a) to (d); for
/// data subjects Art. 34(2) in plain words; for the summary after an incident what
/// happened, what was done and what changed.
pub fn required_sections(kind: &NoticeKind) -> &'static [&'static str] {
    match kind {
        NoticeKind::Customers => &[
            "What happened",
            "What data was affected",
            "What we did",
            "What you should do",
        ],
        NoticeKind::Authority => &[
            "Nature of the breach",
            "Contact point",
            "Likely consequences",
            "Measures taken or proposed",
        ],
        NoticeKind::DataSubjects => &[
            "What happened",
            "Who to contact",
            "What this may mean for you",
            "What we have done and what you can do",
        ],
        NoticeKind::Summary => &["What happened", "What we did", "What we changed"],
        NoticeKind::StatusUpdate | NoticeKind::Obligation(_) => &[],
    }
}

/// A notice's template, its fields checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeTemplate {
    parts: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

impl NoticeTemplate {
    /// Reads a template; the error names a field that is not one of [`FIELDS`].
    pub fn parse(text: &str) -> Result<NoticeTemplate, String> {
        let parts = split(text)?
            .into_iter()
            .map(|part| match part {
                Part::Text(text) => Ok(Piece::Text(text.to_owned())),
                Part::Name(name) => match FIELDS.iter().find(|(field, _)| *field == name) {
                    Some((field, _)) => Ok(Piece::Field(field)),
                    None => {
                        let hint = match crate::id::closest(name, FIELDS.iter().map(|(f, _)| *f)) {
                            Some(guess) => format!("did you mean {{{{ {guess} }}}}?"),
                            None => "see `tocsin notice fields` for the fields there are".to_owned(),
                        };
                        Err(format!("the template names an unknown field {{{{ {name} }}}}; {hint}"))
                    }
                },
            })
            .collect::<Result<_, _>>()?;
        Ok(NoticeTemplate { parts })
    }

    /// The template filled in from `facts` (a field without a fact is left empty).
    pub fn render(&self, facts: &BTreeMap<&str, String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(field) => out.push_str(facts.get(field).map_or("", String::as_str)),
            }
        }
        out
    }
}

/// One section of a notice: a Markdown heading and what follows it up to the next heading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section<'a> {
    pub heading: &'a str,
    pub body: &'a str,
}

/// The sections of a Markdown text, by its ATX headings (`#` to `######`); text before the
/// first heading is not a section. Headings inside fenced code are not headings.
pub fn sections(markdown: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    let mut fenced = false;
    let mut offset = 0;
    let mut open: Option<(&str, usize)> = None;
    for line in markdown.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if !fenced && let Some(heading) = heading(line) {
            if let Some((h, start)) = open {
                out.push(Section {
                    heading: h,
                    body: &markdown[start..offset],
                });
            }
            open = Some((heading, offset + line.len()));
        }
        offset += line.len();
    }
    if let Some((h, start)) = open {
        out.push(Section {
            heading: h,
            body: &markdown[start..],
        });
    }
    out
}

/// The text of an ATX heading line, without its `#`s.
fn heading(line: &str) -> Option<&str> {
    let line = line.trim_end();
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if indent > 3 || !(1..=6).contains(&level) {
        return None;
    }
    let text = &rest[level..];
    if !text.is_empty() && !text.starts_with([' ', '\t']) {
        return None;
    }
    Some(text.trim().trim_end_matches('#').trim_end())
}

/// Why a notice may not go as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Incomplete {
    #[error("the notice has no section \"{0}\"; add a heading \"## {0}\" and what it must say")]
    Missing(String),
    #[error("the notice's section \"{0}\" is empty")]
    Empty(String),
    #[error("the notice still has a blank to fill in{}: [[ {blank} ]]", section.as_ref().map(|s| format!(" in section \"{s}\"")).unwrap_or_default())]
    Blank { section: Option<String>, blank: String },
}

/// Checks that `markdown` has each of `required` sections (headings compared without case),
/// each with something in it, and no blank left: the first problem, if any.
pub fn check(markdown: &str, required: &[String]) -> Result<(), Incomplete> {
    let found = sections(markdown);
    for name in required {
        match found.iter().find(|s| s.heading.eq_ignore_ascii_case(name.trim())) {
            None => return Err(Incomplete::Missing(name.clone())),
            Some(s) if s.body.trim().is_empty() => return Err(Incomplete::Empty(name.clone())),
            Some(_) => {}
        }
    }
    if let Some(start) = markdown.find("[[") {
        let blank: String = markdown[start + 2..]
            .split("]]")
            .next()
            .unwrap_or_default()
            .trim()
            .chars()
            .take(80)
            .collect();
        let section = found
            .iter()
            .find(|s| {
                let from = s.body.as_ptr() as usize - markdown.as_ptr() as usize;
                (from..from + s.body.len()).contains(&start)
            })
            .map(|s| s.heading.to_owned());
        return Err(Incomplete::Blank { section, blank });
    }
    Ok(())
}

/// A notice as HTML, for email and for printing. Raw HTML in the Markdown is shown as
/// text, never passed on, and links and images go only to `http`, `https`, `mailto` and
/// `tel` addresses or relative ones (any other becomes `#`).
pub fn to_html(markdown: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};
    fn safe(url: CowStr<'_>) -> CowStr<'_> {
        let lower = url.trim().to_ascii_lowercase();
        match lower.split_once(':').map(|(scheme, _)| scheme) {
            None | Some("http" | "https" | "mailto" | "tel") => url,
            // What looks like a scheme is part of a relative path.
            Some(s) if s.contains(['/', '?', '#']) => url,
            Some(_) => CowStr::Borrowed("#"),
        }
    }
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url: safe(dest_url),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Image {
                link_type,
                dest_url: safe(dest_url),
                title,
                id,
            }),
            other => other,
        });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAFT: &str = "Intro line\n\n## What happened\nA token leaked.\n\n## What data was affected\n\n### Details\nEmail addresses.\n\n## What we did\nRevoked it.\n```\n## not a heading\n```\n## What you should do ##\nNothing.\n";

    #[test]
    fn sections_follow_the_headings_and_skip_code() {
        let found: Vec<&str> = sections(DRAFT).iter().map(|s| s.heading).collect();
        assert_eq!(
            found,
            [
                "What happened",
                "What data was affected",
                "Details",
                "What we did",
                "What you should do"
            ]
        );
        assert_eq!(sections(DRAFT)[3].body, "Revoked it.\n```\n## not a heading\n```\n");
        assert!(heading("#hashtag").is_none());
        assert!(heading("    # indented code").is_none());
    }

    #[test]
    fn a_missing_or_empty_section_or_a_blank_is_named() {
        let required: Vec<String> = required_sections(&NoticeKind::Customers)
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        // "What data was affected" holds only a sub-heading: its own body is empty.
        assert_eq!(
            check(DRAFT, &required),
            Err(Incomplete::Empty("What data was affected".into()))
        );
        let fixed = DRAFT.replace("\n### Details\n", "Some.\n### Details\n");
        assert_eq!(check(&fixed, &required), Ok(()));
        assert_eq!(
            check(&fixed.replace("## What we did", "## What we tried"), &required)
                .unwrap_err()
                .to_string(),
            "the notice has no section \"What we did\"; add a heading \"## What we did\" and what it must say"
        );
        let blank = fixed.replace("Revoked it.", "Revoked [[ which tokens ]] at once.");
        assert_eq!(
            check(&blank, &required).unwrap_err().to_string(),
            "the notice still has a blank to fill in in section \"What we did\": [[ which tokens ]]"
        );
    }

    #[test]
    fn a_template_names_only_known_fields_and_fills_them() {
        let t = NoticeTemplate::parse("# {{ incident.id }}: {{incident.title}}\n{{ contact }}").unwrap();
        let facts = BTreeMap::from([
            ("incident.id", "INC-0007".to_owned()),
            ("incident.title", "Leak".to_owned()),
        ]);
        assert_eq!(t.render(&facts), "# INC-0007: Leak\n");
        assert_eq!(
            NoticeTemplate::parse("{{ incident.titel }}").unwrap_err(),
            "the template names an unknown field {{ incident.titel }}; did you mean {{ incident.title }}?"
        );
    }

    #[test]
    fn html_never_passes_raw_html_on() {
        let html = to_html("## Hi\n<script>alert(1)</script>\n\nA <b>bold</b> *word*.");
        assert!(html.contains("<h2>Hi</h2>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt; <em>word</em>"), "{html}");
        let links = to_html("[a](javascript:alert(1)) [b](https://example.com) [c](mailto:dpo@example.com) [d](/x)");
        assert!(links.contains("<a href=\"#\">a</a>"), "{links}");
        assert!(links.contains("href=\"https://example.com\"") && links.contains("href=\"mailto:dpo@example.com\""));
        assert!(links.contains("href=\"/x\""), "{links}");
    }
}
