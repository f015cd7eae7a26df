//! What the organization tells whoever finds a vulnerability: `[security_txt]`, which tocsin
//! serves as `/.well-known/security.txt` (RFC 9116), so that the contact the plan names is
//! the one researchers find.

use super::read::{Located, Problems, Section, TableAt};
use crate::Timestamp;
use crate::diagnostic::Diagnostic;

/// `[security_txt]`: where to report (`contact`, required), until when the file holds
/// (`expires`, required), and the optional fields of RFC 9116.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityTxt {
    /// `mailto:`, `https://` or `tel:` addresses, most preferred first.
    pub contact: Vec<String>,
    pub expires: Timestamp,
    /// Where the key to encrypt reports with is.
    pub encryption: Vec<String>,
    pub acknowledgments: Option<String>,
    pub policy: Option<String>,
    pub preferred_languages: Vec<String>,
    /// The file's own address; tocsin's public address where the plan names none.
    pub canonical: Option<String>,
    pub hiring: Option<String>,
}

/// Where the file is served.
pub const SECURITY_TXT_PATH: &str = "/.well-known/security.txt";

impl SecurityTxt {
    /// The file, with `canonical` as its address where the plan names none; `organization`
    /// names whose it is in its comment.
    pub fn render(&self, organization: &str, canonical: Option<&str>) -> String {
        let mut out = format!("# How to report a vulnerability to {organization}.\n");
        let mut field = |name: &str, value: &str| out.push_str(&format!("{name}: {value}\n"));
        for contact in &self.contact {
            field("Contact", contact);
        }
        field("Expires", &self.expires.to_string());
        for key in &self.encryption {
            field("Encryption", key);
        }
        if let Some(value) = &self.acknowledgments {
            field("Acknowledgments", value);
        }
        if !self.preferred_languages.is_empty() {
            field("Preferred-Languages", &self.preferred_languages.join(", "));
        }
        if let Some(value) = self.canonical.as_deref().or(canonical) {
            field("Canonical", value);
        }
        if let Some(value) = &self.policy {
            field("Policy", value);
        }
        if let Some(value) = &self.hiring {
            field("Hiring", value);
        }
        out
    }
}

/// Checks one address: a single line, with one of `schemes`.
fn address(value: Located<String>, key: &str, schemes: &[&str], problems: &mut Problems) -> Option<String> {
    let text = value.value.trim();
    if text.chars().any(char::is_control) || !schemes.iter().any(|s| text.starts_with(s) && text.len() > s.len()) {
        problems.push(
            Diagnostic::new(
                value.span,
                format!(
                    "{key} \"{}\" in [security_txt] is not an address it can be",
                    value.value.escape_debug()
                ),
            )
            .with_hint(format!("start it with {}", schemes.join(" or "))),
        );
        return None;
    }
    Some(text.to_owned())
}

/// `[security_txt]`.
pub(super) fn security_txt(table: TableAt<'_, '_>, problems: &mut Problems) -> Option<SecurityTxt> {
    let mut s = Section::new(table, "[security_txt]");
    let web = ["https://"];
    let contact = s.str_list("contact", problems);
    let expires = s.str("expires", "\"2027-06-30\"", problems);
    let encryption = s.str_list("encryption", problems);
    let acknowledgments = s.opt_str("acknowledgments", problems);
    let policy = s.opt_str("policy", problems);
    let languages = s.str_list("preferred_languages", problems);
    let canonical = s.opt_str("canonical", problems);
    let hiring = s.opt_str("hiring", problems);
    let span = s.span();
    s.finish(problems);
    if contact.is_empty() {
        problems.push(
            Diagnostic::new(span, "[security_txt] names no contact")
                .with_hint("add contact = [\"mailto:security@example.com\"]"),
        );
    }
    let contact: Vec<String> = contact
        .into_iter()
        .filter_map(|c| address(c, "contact", &["mailto:", "https://", "tel:"], problems))
        .collect();
    let encryption = encryption
        .into_iter()
        .filter_map(|e| address(e, "encryption", &["https://", "dns:", "openpgp4fpr:"], problems))
        .collect();
    let mut one = |value: Option<Located<String>>, key| value.and_then(|v| address(v, key, &web, problems));
    let (acknowledgments, policy, canonical, hiring) = (
        one(acknowledgments, "acknowledgments"),
        one(policy, "policy"),
        one(canonical, "canonical"),
        one(hiring, "hiring"),
    );
    let mut preferred_languages = Vec::new();
    for language in languages {
        let tag = language.value.trim();
        if tag.is_empty() || tag.len() > 35 || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            problems.push(
                Diagnostic::new(
                    language.span,
                    format!("\"{}\" is not a language tag", language.value.escape_debug()),
                )
                .with_hint("write tags like \"en\" or \"de-CH\""),
            );
        } else {
            preferred_languages.push(tag.to_owned());
        }
    }
    let expires = expires.and_then(|e| {
        let text = e.value.trim();
        let at = text.parse::<Timestamp>().ok().or_else(|| {
            text.parse::<jiff::civil::Date>()
                .ok()?
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        });
        if at.is_none() {
            problems.push(
                Diagnostic::new(
                    e.span,
                    format!("expires \"{}\" in [security_txt] is not a date", text.escape_debug()),
                )
                .with_hint("write a date like \"2027-06-30\" or a time like \"2027-06-30T00:00:00Z\", within a year"),
            );
        }
        at
    })?;
    (!contact.is_empty()).then_some(SecurityTxt {
        contact,
        expires,
        encryption,
        acknowledgments,
        policy,
        preferred_languages,
        canonical,
        hiring,
    })
}

#[cfg(test)]
mod tests {
    use crate::plan::{Plan, presets};

    fn with(section: &str) -> Result<Plan, String> {
        Plan::parse(&format!("{}\n{section}", presets::FOUR_TIER.source)).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn a_plan_s_security_txt_is_served_as_rfc_9116_says() {
        let plan = with(
            "[security_txt]\ncontact = [\"mailto:security@oceum.ai\", \"https://oceum.ai/report\"]\nexpires = \"2027-06-30\"\npreferred_languages = [\"en\", \"de\"]\npolicy = \"https://oceum.ai/security\"\n",
        )
        .unwrap();
        let txt = plan.security_txt().expect("the section");
        assert_eq!(
            txt.render("Oceum", Some("https://tocsin.example/.well-known/security.txt")),
            "# How to report a vulnerability to Oceum.\n\
             Contact: mailto:security@oceum.ai\n\
             Contact: https://oceum.ai/report\n\
             Expires: 2027-06-30T00:00:00Z\n\
             Preferred-Languages: en, de\n\
             Canonical: https://tocsin.example/.well-known/security.txt\n\
             Policy: https://oceum.ai/security\n"
        );
        assert_eq!(with("").unwrap().security_txt(), None);
    }

    #[test]
    fn what_would_make_a_wrong_or_forged_file_is_refused_naming_the_field() {
        for (section, says) in [
            ("[security_txt]\nexpires = \"2027-06-30\"\n", "names no contact"),
            (
                "[security_txt]\ncontact = [\"security@oceum.ai\"]\nexpires = \"2027-06-30\"\n",
                "contact \\\"security@oceum.ai\\\"",
            ),
            (
                "[security_txt]\ncontact = [\"mailto:a@b.c\\nContact: mailto:evil@x.y\"]\nexpires = \"2027-06-30\"\n",
                "is not an address",
            ),
            ("[security_txt]\ncontact = [\"mailto:a@b.c\"]\n", "missing expires"),
            (
                "[security_txt]\ncontact = [\"mailto:a@b.c\"]\nexpires = \"soon\"\n",
                "is not a date",
            ),
            (
                "[security_txt]\ncontact = [\"mailto:a@b.c\"]\nexpires = \"2027-06-30\"\npolicy = \"http://oceum.ai\"\n",
                "policy",
            ),
            (
                "[security_txt]\ncontact = [\"mailto:a@b.c\"]\nexpires = \"2027-06-30\"\nlanguage = \"en\"\n",
                "language",
            ),
        ] {
            let problems = with(section).unwrap_err();
            assert!(problems.contains(says), "{section}: {problems}");
        }
    }
}
