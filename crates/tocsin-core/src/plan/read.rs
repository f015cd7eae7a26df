//! Reads typed values out of a spanned TOML document, collecting every problem with its place.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::duration::Duration;
use crate::id::closest;

pub(crate) type Problems = Vec<Diagnostic>;

/// One TOML table being read; remembers which keys were used so the rest can be reported.
pub(crate) struct Section<'a, 'i> {
    table: &'a DeTable<'i>,
    span: Range<usize>,
    /// How messages name this table, like `[organization]` or `severity "P1"`.
    pub name: String,
    used: Vec<&'static str>,
}

/// A table together with where it was written.
#[derive(Clone, Copy)]
pub(crate) struct TableAt<'a, 'i> {
    pub table: &'a DeTable<'i>,
    pub span: (usize, usize),
}

impl<'a, 'i> TableAt<'a, 'i> {
    pub fn new(table: &'a DeTable<'i>, span: Range<usize>) -> Self {
        TableAt {
            table,
            span: (span.start, span.end),
        }
    }

    fn of(value: &'a Spanned<DeValue<'i>>) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(table) => Some(TableAt::new(table, value.span())),
            _ => None,
        }
    }
}

/// A value together with where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Located<T> {
    pub value: T,
    pub span: Range<usize>,
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a, 'i> Section<'a, 'i> {
    pub fn new(table: TableAt<'a, 'i>, name: impl Into<String>) -> Self {
        Section {
            table: table.table,
            span: table.span.0..table.span.1,
            name: name.into(),
            used: Vec::new(),
        }
    }

    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub fn table_has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    fn raw(&mut self, key: &'static str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.used.push(key);
        self.table.get(key)
    }

    fn wrong_type(&self, key: &str, value: &Spanned<DeValue<'_>>, wanted: &str) -> Diagnostic {
        Diagnostic::new(
            value.span(),
            format!(
                "{key} in {} must be {wanted}, not {}",
                self.name,
                type_name(value.get_ref())
            ),
        )
    }

    fn missing(&self, key: &str, example: &str) -> Diagnostic {
        Diagnostic::new(self.span(), format!("{} is missing {key}", self.name))
            .with_hint(format!("add {key} = {example}"))
    }

    pub fn opt_str(&mut self, key: &'static str, problems: &mut Problems) -> Option<Located<String>> {
        let value = self.raw(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Located {
                value: s.to_string(),
                span: value.span(),
            }),
            _ => {
                problems.push(self.wrong_type(key, value, "a string"));
                None
            }
        }
    }

    /// A required string; `example` shows the user what to write when it is missing.
    pub fn str(&mut self, key: &'static str, example: &str, problems: &mut Problems) -> Option<Located<String>> {
        let present = self.table.contains_key(key);
        let value = self.opt_str(key, problems);
        if !present {
            problems.push(self.missing(key, example));
        }
        value
    }

    pub fn opt_bool(&mut self, key: &'static str, problems: &mut Problems) -> Option<bool> {
        let value = self.raw(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                problems.push(self.wrong_type(key, value, "true or false"));
                None
            }
        }
    }

    /// A whole number from `min` to `max`.
    pub fn opt_uint(&mut self, key: &'static str, min: u32, max: u32, problems: &mut Problems) -> Option<Located<u32>> {
        let value = self.raw(key)?;
        let DeValue::Integer(n) = value.get_ref() else {
            problems.push(self.wrong_type(key, value, "a whole number"));
            return None;
        };
        match u32::from_str_radix(n.as_str(), n.radix()) {
            Ok(n) if (min..=max).contains(&n) => Some(Located {
                value: n,
                span: value.span(),
            }),
            _ => {
                problems.push(Diagnostic::new(
                    value.span(),
                    format!("{key} in {} must be from {min} to {max}", self.name),
                ));
                None
            }
        }
    }

    /// A whole number, as large as 64 bits take (like a Telegram id).
    pub fn opt_int(&mut self, key: &'static str, problems: &mut Problems) -> Option<Located<i64>> {
        let value = self.raw(key)?;
        match int(value) {
            Ok(n) => Some(Located {
                value: n,
                span: value.span(),
            }),
            Err(wanted) => {
                problems.push(self.wrong_type(key, value, wanted));
                None
            }
        }
    }

    /// A string or a whole number, as text (a chat id may be either).
    pub fn opt_text_or_int(&mut self, key: &'static str, problems: &mut Problems) -> Option<Located<String>> {
        let value = self.raw(key)?;
        let text = match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            _ => int(value)
                .map(|n| n.to_string())
                .map_err(|_| "a string or a whole number"),
        };
        match text {
            Ok(value_text) => Some(Located {
                value: value_text,
                span: value.span(),
            }),
            Err(wanted) => {
                problems.push(self.wrong_type(key, value, wanted));
                None
            }
        }
    }

    /// An array of whole numbers; absent means empty.
    pub fn int_list(&mut self, key: &'static str, problems: &mut Problems) -> Vec<Located<i64>> {
        self.list(key, problems, int)
    }

    /// An array of strings; absent means empty.
    pub fn str_list(&mut self, key: &'static str, problems: &mut Problems) -> Vec<Located<String>> {
        self.list(key, problems, |item| match item.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            _ => Err("a string"),
        })
    }

    /// An array whose items are read by `item`, which names the expected type on failure.
    pub fn list<T>(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
        item: impl Fn(&Spanned<DeValue<'i>>) -> Result<T, &'static str>,
    ) -> Vec<Located<T>> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            problems.push(self.wrong_type(key, value, "an array"));
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|v| match item(v) {
                Ok(value) => Some(Located { value, span: v.span() }),
                Err(wanted) => {
                    problems.push(Diagnostic::new(
                        v.span(),
                        format!(
                            "each item of {key} in {} must be {wanted}, not {}",
                            self.name,
                            type_name(v.get_ref())
                        ),
                    ));
                    None
                }
            })
            .collect()
    }

    pub fn opt_duration(&mut self, key: &'static str, problems: &mut Problems) -> Option<Located<Duration>> {
        let text = self.opt_str(key, problems)?;
        match Duration::parse(&text.value) {
            Ok(d) => Some(Located {
                value: d,
                span: text.span,
            }),
            Err(e) => {
                problems.push(
                    Diagnostic::new(text.span, format!("{key} in {}: {}", self.name, e.message)).with_hint(e.hint),
                );
                None
            }
        }
    }

    pub fn duration(&mut self, key: &'static str, problems: &mut Problems) -> Option<Located<Duration>> {
        if !self.table.contains_key(key) {
            self.used.push(key);
            problems.push(self.missing(key, "\"1h\""));
            return None;
        }
        self.opt_duration(key, problems)
    }

    /// A sub-table written as `[key]`.
    pub fn opt_table(&mut self, key: &'static str, problems: &mut Problems) -> Option<TableAt<'a, 'i>> {
        let value = self.raw(key)?;
        let table = TableAt::of(value);
        if table.is_none() {
            problems.push(self.wrong_type(key, value, "a table"));
        }
        table
    }

    /// Tables written as `[[key]]`.
    pub fn tables(&mut self, key: &'static str, problems: &mut Problems) -> Vec<TableAt<'a, 'i>> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| {
                    let table = TableAt::of(item);
                    if table.is_none() {
                        problems.push(self.wrong_type(key, item, "a table ([[...]])"));
                    }
                    table
                })
                .collect(),
            _ => {
                problems.push(self.wrong_type(key, value, "an array of tables ([[...]])"));
                Vec::new()
            }
        }
    }

    /// A table of strings, like `headers = { Authorization = "…" }`, in the order written.
    pub fn str_table(&mut self, key: &'static str, problems: &mut Problems) -> Vec<(String, Located<String>)> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        let DeValue::Table(table) = value.get_ref() else {
            problems.push(self.wrong_type(key, value, "a table of strings"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, item) in table {
            match item.get_ref() {
                DeValue::String(s) => out.push((
                    name.get_ref().to_string(),
                    Located {
                        value: s.to_string(),
                        span: item.span(),
                    },
                )),
                other => problems.push(Diagnostic::new(
                    item.span(),
                    format!(
                        "{key}.{} in {} must be a string, not {}",
                        name.get_ref(),
                        self.name,
                        type_name(other)
                    ),
                )),
            }
        }
        out
    }

    /// Any value, as JSON (dates as their text).
    pub fn opt_json(&mut self, key: &'static str) -> Option<Located<serde_json::Value>> {
        let value = self.raw(key)?;
        Some(Located {
            value: json(value.get_ref()),
            span: value.span(),
        })
    }

    /// Reports every key of this table that nothing asked for, with the likely intended key.
    pub fn finish(self, problems: &mut Problems) {
        for (key, _) in self.table {
            let key_text: &str = key.get_ref();
            if self.used.contains(&key_text) {
                continue;
            }
            let mut problem = Diagnostic::new(key.span(), format!("unknown key \"{key_text}\" in {}", self.name));
            problem = match closest(key_text, self.used.iter().copied()) {
                Some(known) => problem.with_hint(format!("did you mean \"{known}\"?")),
                None => problem.with_hint(format!("known keys are {}", self.used.join(", "))),
            };
            problems.push(problem);
        }
    }
}

/// A TOML value as JSON.
fn json(value: &DeValue<'_>) -> serde_json::Value {
    match value {
        DeValue::String(s) => serde_json::Value::String(s.to_string()),
        DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix()).map_or_else(
            |_| serde_json::Value::String(n.as_str().to_owned()),
            serde_json::Value::from,
        ),
        DeValue::Float(f) => f
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        DeValue::Boolean(b) => serde_json::Value::Bool(*b),
        DeValue::Datetime(d) => serde_json::Value::String(d.to_string()),
        DeValue::Array(items) => serde_json::Value::Array(items.iter().map(|i| json(i.get_ref())).collect()),
        DeValue::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), json(v.get_ref())))
                .collect(),
        ),
    }
}

/// A TOML integer that fits 64 bits.
fn int(value: &Spanned<DeValue<'_>>) -> Result<i64, &'static str> {
    match value.get_ref() {
        DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix()).map_err(|_| "a whole number within 64 bits"),
        _ => Err("a whole number"),
    }
}
