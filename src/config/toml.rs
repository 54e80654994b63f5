//! Trailhound's own TOML configuration, read into neutral sections (with line numbers).
//!
//! ```toml
//! state_dir = "/var/lib/trailhound"
//! [[source]]
//! type = "s3"
//! bucket = "org-trail"
//! region = "us-east-1"
//! [[sink]]
//! type = "stdout"
//! ```

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::document::{Dialect, Entry, Problem, RawValue, Section, line_of};

/// The top level of a TOML configuration file.
#[derive(Debug, Default)]
pub(crate) struct TomlDocument {
    pub(crate) state_dir: Option<Entry>,
    pub(crate) sources: Vec<Section>,
    pub(crate) sinks: Vec<Section>,
    /// The `[telemetry]` table.
    pub(crate) telemetry: Option<Section>,
}

/// Parses a TOML configuration; syntax errors and misplaced keys become problems.
pub(crate) fn parse(file: &Path, text: &str, problems: &mut Vec<Problem>) -> TomlDocument {
    let mut document = TomlDocument::default();
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(error) => {
            let line = error.span().map(|span| line_of(text, span.start));
            let message = error.message().trim().to_string();
            problems.push(Problem::in_file(file, line, format!("invalid TOML: {message}")));
            return document;
        }
    };
    for (key, value) in root.get_ref().iter() {
        let key_line = line_of(text, key.span().start);
        match key.get_ref().as_ref() {
            "state_dir" => document.state_dir = Some(entry(text, key, value)),
            "telemetry" => match value.get_ref() {
                DeValue::Table(table) => {
                    document.telemetry = Some(Section {
                        file: file.to_path_buf(),
                        line: Some(key_line),
                        dialect: Dialect::Toml,
                        entries: table.iter().map(|(k, v)| entry(text, k, v)).collect(),
                    })
                }
                _ => problems.push(Problem::in_file(
                    file,
                    Some(key_line),
                    "`telemetry` must be a [telemetry] table",
                )),
            },
            "source" | "sink" => {
                let Some(tables) = tables_of(value.get_ref()) else {
                    problems.push(Problem::in_file(
                        file,
                        Some(key_line),
                        format!("`{}` must be written as [[{}]] tables", key.get_ref(), key.get_ref()),
                    ));
                    continue;
                };
                let sections = tables.into_iter().map(|(table, line)| Section {
                    file: file.to_path_buf(),
                    line: Some(line_of(text, line)),
                    dialect: Dialect::Toml,
                    entries: table.iter().map(|(k, v)| entry(text, k, v)).collect(),
                });
                if key.get_ref() == "source" {
                    document.sources.extend(sections);
                } else {
                    document.sinks.extend(sections);
                }
            }
            other => problems.push(Problem {
                file: file.to_path_buf(),
                line: Some(key_line),
                key: Some(other.to_string()),
                value: None,
                message: "unknown top-level key (known: state_dir, [telemetry], [[source]], [[sink]])".into(),
            }),
        }
    }
    document
}

fn tables_of<'a, 'i>(value: &'a DeValue<'i>) -> Option<Vec<(&'a DeTable<'i>, usize)>> {
    let DeValue::Array(items) = value else { return None };
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::Table(table) => Some((table, item.span().start)),
            _ => None,
        })
        .collect()
}

fn entry(text: &str, key: &Spanned<std::borrow::Cow<'_, str>>, value: &Spanned<DeValue<'_>>) -> Entry {
    Entry {
        key: key.get_ref().to_string(),
        value: convert(value.get_ref()),
        line: line_of(text, key.span().start),
    }
}

fn convert(value: &DeValue<'_>) -> RawValue {
    match value {
        DeValue::String(text) => RawValue::Text(text.to_string()),
        DeValue::Integer(number) => i64::from_str_radix(number.as_str(), number.radix())
            .map(RawValue::Integer)
            .unwrap_or_else(|_| RawValue::Text(number.as_str().to_string())),
        DeValue::Float(number) => RawValue::Float(number.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(flag) => RawValue::Bool(*flag),
        DeValue::Datetime(moment) => RawValue::Text(moment.to_string()),
        DeValue::Array(items) => RawValue::List(items.iter().map(|item| convert(item.get_ref())).collect()),
        DeValue::Table(table) => RawValue::Table(
            table.iter().map(|(key, value)| (key.get_ref().to_string(), convert(value.get_ref()))).collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_carry_key_lines() {
        let text = "state_dir = \"s\"\n\n[[source]]\ntype = \"dir\"\npath = [\"a\", \"b\"]\n\n[[sink]]\ntype = \"file\"\nrotate_keep = 0x10\n";
        let mut problems = Vec::new();
        let document = parse(Path::new("t.toml"), text, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(document.state_dir.unwrap().value, RawValue::Text("s".into()));
        let source = &document.sources[0];
        let path = source.entries.iter().find(|e| e.key == "path").unwrap();
        assert_eq!(path.line, 5);
        assert_eq!(path.value, RawValue::List(vec![RawValue::Text("a".into()), RawValue::Text("b".into())]));
        let keep = document.sinks[0].entries.iter().find(|e| e.key == "rotate_keep").unwrap();
        assert_eq!(keep.value, RawValue::Integer(16));
    }

    #[test]
    fn syntax_errors_and_stray_keys_are_problems() {
        let mut problems = Vec::new();
        parse(Path::new("t.toml"), "a = 1\n[[source]\n", &mut problems);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2));
        assert!(problems[0].message.starts_with("invalid TOML"), "{}", problems[0]);

        let mut problems = Vec::new();
        parse(Path::new("t.toml"), "colour = 1\nsource = 3\n", &mut problems);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "t.toml:1: colour: unknown top-level key (known: state_dir, [telemetry], [[source]], [[sink]])",
                "t.toml:2: `source` must be written as [[source]] tables",
            ]
        );
    }
}
