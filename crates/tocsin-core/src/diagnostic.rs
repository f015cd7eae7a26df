//! Problems found in a configuration file, located by byte span and shown as `file:line:column`.

use std::ops::Range;

/// One problem in a file: where, what is wrong, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Range<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The 1-based line and column (in characters) where the problem starts.
    pub fn position(&self, source: &str) -> (usize, usize) {
        let start = self.span.start.min(source.len());
        let start = (0..=start).rev().find(|i| source.is_char_boundary(*i)).unwrap_or(0);
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        (line, column)
    }

    /// `file:line:column: message`, and the hint on a second, indented line.
    pub fn render(&self, file: &str, source: &str) -> String {
        let (line, column) = self.position(source);
        match &self.hint {
            Some(hint) => format!("{file}:{line}:{column}: {}\n    hint: {hint}", self.message),
            None => format!("{file}:{line}:{column}: {}", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let source = "a = 1\nnäme = \"x\"\n";
        let at = source.find('=').unwrap();
        assert_eq!(Diagnostic::new(at..at + 1, "m").position(source), (1, 3));
        let at = source.rfind('=').unwrap();
        assert_eq!(Diagnostic::new(at..at + 1, "m").position(source), (2, 6));
        let end = source.len();
        assert_eq!(Diagnostic::new(end..end, "m").position(source), (3, 1));
    }

    #[test]
    fn a_rendered_problem_names_file_line_column_and_hint() {
        let d = Diagnostic::new(6..7, "unknown key \"nme\"").with_hint("did you mean \"name\"?");
        assert_eq!(
            d.render("tocsin.toml", "a = 1\nnme = 2"),
            "tocsin.toml:2:1: unknown key \"nme\"\n    hint: did you mean \"name\"?"
        );
    }
}
