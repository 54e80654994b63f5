//! The seed product's INI files (`cloudtrail.ini`, `awsS3CloudTrail.ini`), read as they are.
//!
//! `key = value` lines; `#` and `;` start comment lines; `[section]` headers are accepted and
//! ignored (the seed files have one flat set of keys). Values are taken literally (a `#` inside a
//! password is part of it); surrounding double quotes are removed.

use std::path::Path;

use super::document::{Dialect, Entry, Problem, RawValue, Section};

/// Reads an INI file into one section; lines that are not `key = value` are problems.
pub(crate) fn parse(file: &Path, text: &str, problems: &mut Vec<Problem>) -> Section {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw_line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            problems.push(Problem::in_file(
                file,
                Some(line_number),
                format!("expected `Key = value`, a `[section]` header or a comment, found {line:?}"),
            ));
            continue;
        };
        let key = key.trim();
        let value = unquote(value.trim());
        if let Some(first) = entries.iter().find(|e| e.key == key) {
            problems.push(Problem {
                file: file.to_path_buf(),
                line: Some(line_number),
                key: Some(key.to_string()),
                value: None,
                message: format!("set twice (first at line {})", first.line),
            });
            continue;
        }
        entries.push(Entry {
            key: key.to_string(),
            value: RawValue::Text(value.to_string()),
            line: line_number,
        });
    }
    Section { file: file.to_path_buf(), line: None, dialect: Dialect::Ini, entries }
}

fn unquote(value: &str) -> &str {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_comments_sections_and_quotes() {
        let text = "# comment\n; other\n[General]\nRegion = us-east-1\nBucketName=\"my-bucket\"\nPassword = a#b;c\n\n";
        let mut problems = Vec::new();
        let section = parse(Path::new("a.ini"), text, &mut problems);
        assert!(problems.is_empty());
        let pairs: Vec<(String, RawValue, usize)> =
            section.entries.into_iter().map(|e| (e.key, e.value, e.line)).collect();
        assert_eq!(
            pairs,
            vec![
                ("Region".into(), RawValue::Text("us-east-1".into()), 4),
                ("BucketName".into(), RawValue::Text("my-bucket".into()), 5),
                ("Password".into(), RawValue::Text("a#b;c".into()), 6),
            ]
        );
    }

    #[test]
    fn reports_garbage_and_duplicates() {
        let mut problems = Vec::new();
        parse(Path::new("b.ini"), "Region=x\njunk line\nRegion=y\n", &mut problems);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "b.ini:2: expected `Key = value`, a `[section]` header or a comment, found \"junk line\"",
                "b.ini:3: Region: set twice (first at line 1)",
            ]
        );
    }
}
