//! Texts with `{{ name }}` placeholders, as the plan's actions and notices write them. What
//! a name may be, and what fills it, is the user's business.

/// A piece of a template: text as written, or a placeholder's name (trimmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part<'a> {
    Text(&'a str),
    Name(&'a str),
}

/// Splits a template into its text and its placeholders; the error names a placeholder
/// that is not closed.
pub fn split(text: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            let shown: String = rest[start..].chars().take(40).collect();
            format!("a placeholder is not closed: \"{shown}\"")
        })?;
        parts.push(Part::Name(after[..end].trim()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_placeholders_come_apart_and_an_open_one_is_named() {
        assert_eq!(
            split("Dear {{ name }}, see {{x}}.").unwrap(),
            [
                Part::Text("Dear "),
                Part::Name("name"),
                Part::Text(", see "),
                Part::Name("x"),
                Part::Text(".")
            ]
        );
        assert_eq!(split("").unwrap(), []);
        assert_eq!(split("a {{ b").unwrap_err(), "a placeholder is not closed: \"{{ b\"");
    }
}
