//! Human output: times in the organization's zone, time left, aligned tables and colour.

use jiff::Timestamp;
use tocsin_core::clock::{Clock, ClockState};
use tocsin_core::incident::Status;
pub use tocsin_server::phrases::{left, span, time};

/// Paints text when colour is on.
#[derive(Clone, Copy, Debug)]
pub struct Paint {
    pub on: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Bad,
    Warn,
    Good,
    Dim,
    Bold,
}

impl Paint {
    pub fn tone(self, tone: Tone, text: &str) -> String {
        let code = match tone {
            Tone::Plain => return text.to_owned(),
            Tone::Bad => "1;31",
            Tone::Warn => "33",
            Tone::Good => "32",
            Tone::Dim => "2",
            Tone::Bold => "1",
        };
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// How a clock's state should look: breached is unmistakable; little time left warns.
pub fn clock_tone(clock: &Clock, now: Timestamp) -> Tone {
    match clock.state(now) {
        ClockState::Breached { .. } => Tone::Bad,
        ClockState::Met { .. } => Tone::Good,
        ClockState::NotApplicable => Tone::Dim,
        ClockState::Running if clock.is_running_out(now) => Tone::Warn,
        ClockState::Running => Tone::Plain,
    }
}

/// Incidents still being responded to stand out.
pub fn status_tone(status: Status) -> Tone {
    if status.is_active() { Tone::Bold } else { Tone::Plain }
}

/// Columns padded to their widest cell; each cell may carry a tone.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<(String, Tone)>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            rows: vec![header.iter().map(|h| ((*h).to_owned(), Tone::Bold)).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<(String, Tone)>) {
        self.rows
            .push(cells.into_iter().map(|(text, tone)| (printable(&text), tone)).collect());
    }

    pub fn render(&self, paint: Paint, indent: &str) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|(t, _)| t.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::from(indent);
            for (c, (text, tone)) in row.iter().enumerate() {
                let last = c + 1 == row.len();
                let padded = if last {
                    text.clone()
                } else {
                    format!("{text:<width$}  ", width = widths[c])
                };
                line.push_str(&paint.tone(*tone, &padded));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Text as a terminal may show it: line breaks and tabs become spaces, and other control
/// characters (an escape sequence in a user name that would repaint the admin's terminal)
/// are written out, like `\u{1b}`.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\t' | '\r' => " ".to_owned(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn plain(text: impl Into<String>) -> (String, Tone) {
    (text.into(), Tone::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_show_the_two_largest_units() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(45), "45s");
        assert_eq!(span(12 * 60), "12m");
        assert_eq!(span(3 * 3600 + 5 * 60 + 9), "3h 5m");
        assert_eq!(span(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(span(86_400 + 30), "1d");
        assert_eq!(left(-3600), "1h overdue");
        assert_eq!(left(90), "in 1m 30s");
    }

    #[test]
    fn tables_align_columns_and_colour_only_when_asked() {
        let mut table = Table::new(&["ID", "TITLE"]);
        table.row(vec![plain("INC-0001"), ("Vault".into(), Tone::Bad)]);
        assert_eq!(
            table.render(Paint { on: false }, ""),
            "ID        TITLE\nINC-0001  Vault\n"
        );
        assert!(table.render(Paint { on: true }, "").contains("\x1b[1;31mVault\x1b[0m"));
    }
}
