//! A JSON value read into a small tree that borrows from the text, for the output profiles
//! (ECS, OCSF), which rearrange a record rather than copy it.
//!
//! The native writer never needs a tree: it copies the record and extracts a few spans. The
//! profiles look fields up by path, move them about and re-serialize parts of the record, so they
//! read it once into this tree: strings without escapes and numbers stay slices of the input (a
//! number keeps the exact text AWS wrote), objects are vectors of members in file order.

// Outside input reaches this code: no path may panic on it (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

use std::borrow::Cow;

use super::json;
use crate::decode::json_scan::{self, Scalar, ScanError};

/// One JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    Text(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// Reads the single JSON value `text` holds (white space around it allowed).
    #[cfg(test)]
    pub(crate) fn parse(text: &'a str) -> Result<Node<'a>, ScanError> {
        let (node, end) = node_at(text, 0, 0)?;
        match json_scan::peek_at(text.as_bytes(), end) {
            Err(_) => Ok(node),
            // Something follows the value.
            Ok((at, _)) => Err(ScanError::invalid(at, json_scan::Expected::MemberEnd)),
        }
    }

    /// Reads the value at byte `at` of `text`, inside `depth` open containers; returns it and
    /// the offset after it.
    pub(crate) fn parse_at(text: &'a str, at: usize, depth: u32) -> Result<(Node<'a>, usize), ScanError> {
        node_at(text, at, depth)
    }

    /// The member `name` of an object.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(members) => members.iter().find(|(key, _)| key == name).map(|(_, value)| value),
            _ => None,
        }
    }

    /// The value at a dotted path of member names (`userIdentity.sessionContext.attributes`).
    #[inline]
    pub(crate) fn path(&self, dotted: &str) -> Option<&Node<'a>> {
        let mut node = self;
        let mut rest = dotted;
        loop {
            match rest.bytes().position(|byte| byte == b'.') {
                Some(dot) => {
                    node = node.get(&rest[..dot])?;
                    rest = &rest[dot + 1..];
                }
                None => return node.get(rest),
            }
        }
    }

    /// The text of a non-empty string at `dotted`.
    #[inline]
    pub(crate) fn text_at(&self, dotted: &str) -> Option<&str> {
        self.path(dotted).and_then(Node::text).filter(|text| !text.is_empty())
    }

    /// The text of a string.
    #[inline]
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Node::Text(text) => Some(text),
            _ => None,
        }
    }

    /// A boolean, or the strings `"true"`/`"false"` (LookupEvents writes `readOnly` that way).
    #[inline]
    pub(crate) fn flag(&self) -> Option<bool> {
        match self {
            Node::Bool(flag) => Some(*flag),
            Node::Text(text) if text == "true" => Some(true),
            Node::Text(text) if text == "false" => Some(false),
            _ => None,
        }
    }

    /// A scalar as text (`true` → `"true"`, a number as written); `None` for null and containers.
    pub(crate) fn scalar_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Node::Text(text) => Some(Cow::Borrowed(text)),
            Node::Number(number) => Some(Cow::Borrowed(number)),
            Node::Bool(flag) => Some(Cow::Borrowed(if *flag { "true" } else { "false" })),
            _ => None,
        }
    }

    /// True for what Elastic's pipelines remove as empty: `null`, `""`, `[]`, `{}`, and
    /// containers holding only such values.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Node::Null => true,
            Node::Text(text) => text.is_empty(),
            Node::Array(items) => items.iter().all(Node::is_empty),
            Node::Object(members) => members.iter().all(|(_, value)| value.is_empty()),
            Node::Bool(_) | Node::Number(_) => false,
        }
    }

    /// Writes the value as compact JSON, everything kept.
    pub(crate) fn write_compact(&self, out: &mut Vec<u8>) {
        self.write(out, false);
    }

    /// Writes the value as compact JSON without its empty values (see [`is_empty`](Self::is_empty)).
    pub(crate) fn write_pruned(&self, out: &mut Vec<u8>) {
        self.write(out, true);
    }

    fn write(&self, out: &mut Vec<u8>, prune: bool) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
            Node::Number(number) => out.extend_from_slice(number.as_bytes()),
            Node::Text(text) => json::push_str(out, text),
            Node::Array(items) => {
                out.push(b'[');
                let mut first = true;
                for item in items.iter().filter(|item| !(prune && item.is_empty())) {
                    if !std::mem::take(&mut first) {
                        out.push(b',');
                    }
                    item.write(out, prune);
                }
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                let mut first = true;
                for (key, value) in members.iter().filter(|(_, value)| !(prune && value.is_empty())) {
                    if !std::mem::take(&mut first) {
                        out.push(b',');
                    }
                    json::push_str(out, key);
                    out.push(b':');
                    value.write(out, prune);
                }
                out.push(b'}');
            }
        }
    }

    /// Calls `visit` with the dotted path and value of every scalar leaf (strings, numbers,
    /// booleans; arrays count as leaves and are passed whole), in document order.
    pub(crate) fn leaves(&self, visit: &mut impl FnMut(&str, &Node<'a>)) {
        let mut path = String::new();
        self.leaves_below(&mut path, visit);
    }

    fn leaves_below(&self, path: &mut String, visit: &mut impl FnMut(&str, &Node<'a>)) {
        match self {
            Node::Object(members) => {
                for (key, value) in members {
                    let length = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    value.leaves_below(path, visit);
                    path.truncate(length);
                }
            }
            leaf => visit(path, leaf),
        }
    }
}

/// Reads the value at `at` inside `depth` open containers; returns it and the offset after it.
fn node_at<'a>(text: &'a str, at: usize, depth: u32) -> Result<(Node<'a>, usize), ScanError> {
    let bytes = text.as_bytes();
    let (start, byte) = json_scan::peek_at(bytes, at)?;
    match byte {
        b'{' => {
            // Room for eight saves most of the regrowth of small objects.
            let mut members = Vec::with_capacity(8);
            let end = json_scan::object_at(bytes, start, depth, |key, value_at, depth| {
                let (value, end) = node_at(text, value_at, depth)?;
                members.push((borrowed_key(text, key), value));
                Ok(end)
            })?;
            Ok((Node::Object(members), end))
        }
        b'[' => {
            let mut items = Vec::new();
            let end = json_scan::array_at(bytes, start, depth, |item_at, depth| {
                let (item, end) = node_at(text, item_at, depth)?;
                items.push(item);
                Ok(end)
            })?;
            Ok((Node::Array(items), end))
        }
        _ => {
            let (scalar, end) = json_scan::scalar_at(bytes, start, depth)?;
            let node = match scalar {
                Scalar::Text(span) => Node::Text(span.text(text)),
                Scalar::Number(from, to) => Node::Number(&text[from..to]),
                Scalar::Bool(flag) => Node::Bool(flag),
                Scalar::Null | Scalar::Container => Node::Null,
            };
            Ok((node, end))
        }
    }
}

/// A member name as the scanner hands it over: a slice of `text` when it had no escapes (then
/// borrowed), else an unescaped copy.
fn borrowed_key<'a>(text: &'a str, key: &[u8]) -> Cow<'a, str> {
    let range = text.as_bytes().as_ptr_range();
    if range.contains(&key.as_ptr()) {
        let start = key.as_ptr() as usize - range.start as usize;
        if let Some(borrowed) = text.get(start..start + key.len()) {
            return Cow::Borrowed(borrowed);
        }
    }
    Cow::Owned(String::from_utf8_lossy(key).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_into_a_tree_and_back() {
        let text = r#" {"a":{"b":[1,-2.50e3,"x\"y"],"c\u0041":null},"d":true,"e":"","f":{}} "#;
        let node = Node::parse(text).unwrap();
        assert_eq!(
            node.path("a.b"),
            Some(&Node::Array(vec![
                Node::Number("1"),
                Node::Number("-2.50e3"),
                Node::Text(Cow::Borrowed("x\"y"))
            ]))
        );
        assert_eq!(node.path("a.cA"), Some(&Node::Null));
        assert_eq!(node.get("d").and_then(Node::flag), Some(true));
        let mut compact = Vec::new();
        node.write_compact(&mut compact);
        assert_eq!(compact, br#"{"a":{"b":[1,-2.50e3,"x\"y"],"cA":null},"d":true,"e":"","f":{}}"#);
        let mut pruned = Vec::new();
        node.write_pruned(&mut pruned);
        assert_eq!(pruned, br#"{"a":{"b":[1,-2.50e3,"x\"y"]},"d":true}"#);
        let mut leaves = Vec::new();
        node.leaves(&mut |path, leaf| {
            leaves.push((path.to_string(), leaf.scalar_text().map(Cow::into_owned)))
        });
        assert_eq!(leaves[0].0, "a.b");
        assert_eq!(leaves[1], ("a.cA".to_string(), None));
        assert_eq!(leaves[2], ("d".to_string(), Some("true".to_string())));
        assert_eq!(leaves[3], ("e".to_string(), Some(String::new())));
        assert_eq!(leaves.len(), 4, "an empty object has no leaf");
    }

    #[test]
    fn broken_text_is_refused() {
        for text in ["{", r#"{"a" 1}"#, "[1,]", "1 2", ""] {
            assert!(Node::parse(text).is_err(), "{text:?}");
        }
    }
}
