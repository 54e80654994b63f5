//! The neutral shape every configuration file is read into before validation.
//!
//! A TOML `[[source]]` table and a whole seed INI file both become a [`Section`]: a list of
//! entries with the line each came from. The validator (`validate.rs`) reads sections the same
//! way whatever the file format, so ranges, defaults and messages cannot drift apart.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which spelling of the keys a section uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// snake_case keys (`depth_to_recurse`).
    Toml,
    /// The seed product's keys (`DepthToRecurse`).
    Ini,
}

/// A value as written in the file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    List(Vec<RawValue>),
    /// An inline or nested table: its members in file order.
    Table(Vec<(String, RawValue)>),
}

impl fmt::Display for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::Text(text) => write!(f, "{text:?}"),
            RawValue::Integer(number) => write!(f, "{number}"),
            RawValue::Float(number) => write!(f, "{number}"),
            RawValue::Bool(flag) => write!(f, "{flag}"),
            RawValue::List(items) => {
                let shown: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", shown.join(", "))
            }
            RawValue::Table(_) => f.write_str("{table}"),
        }
    }
}

/// One `key = value` line.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: RawValue,
    pub(crate) line: usize,
}

/// A group of entries that configures one source or sink.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub(crate) file: PathBuf,
    pub(crate) line: Option<usize>,
    pub(crate) dialect: Dialect,
    pub(crate) entries: Vec<Entry>,
}

/// One thing wrong with a configuration: where, which key, which value, and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// The line, when the problem is tied to one.
    pub line: Option<usize>,
    /// The key as written in that file.
    pub key: Option<String>,
    /// The value as written (secrets are never shown).
    pub value: Option<String>,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl Problem {
    pub(crate) fn in_file(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Problem { file: file.to_path_buf(), line, key: None, value: None, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        match (&self.key, &self.value) {
            (Some(key), Some(value)) => write!(f, "{key} = {value}: ")?,
            (Some(key), None) => write!(f, "{key}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}
