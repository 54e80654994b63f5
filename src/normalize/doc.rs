//! A writer of nested JSON documents that leaves out empty values as it goes.
//!
//! Elastic's pipelines and the OCSF samples never carry `null`, `""`, `[]` or `{}`. The profiles
//! build documents whose parts are optional everywhere, so instead of deciding beforehand whether
//! an object will have members, the writer opens it, and on closing an object that received
//! nothing takes back its name and the comma before it.

// Outside input reaches this code: no path may panic on it (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

use super::json;
use super::tree::Node;

/// An open object or array.
struct Level {
    /// Where the buffer goes back to if the container stays empty.
    rollback: usize,
    members: u32,
    close: u8,
}

/// Writes one JSON object into a buffer.
pub(super) struct Doc<'o> {
    out: &'o mut Vec<u8>,
    /// The outer object.
    root: Level,
    /// The containers open inside it, innermost last.
    levels: Vec<Level>,
}

impl<'o> Doc<'o> {
    /// Starts the document's outer object at the end of `out`.
    pub(super) fn new(out: &'o mut Vec<u8>) -> Self {
        let rollback = out.len();
        out.push(b'{');
        Doc { out, root: Level { rollback, members: 0, close: b'}' }, levels: Vec::with_capacity(8) }
    }

    /// Closes every open container, the outer object last.
    pub(super) fn finish(mut self) {
        while !self.levels.is_empty() {
            self.close();
        }
        self.out.push(self.root.close);
    }

    /// The length of the buffer so far.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.out.len()
    }

    #[inline]
    fn level(&mut self) -> &mut Level {
        self.levels.last_mut().unwrap_or(&mut self.root)
    }

    /// Writes `,"name":` (the comma when needed) and counts the member. Names are the profiles'
    /// own, plain ASCII; [`str_under`](Self::str_under) takes names from the record.
    #[inline]
    fn key(&mut self, name: &str) {
        debug_assert!(name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'), "{name}");
        self.separator();
        self.out.reserve(name.len() + 3);
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// `"name":"value"` for a name taken from the record (escaped as needed), unless `value` is
    /// empty.
    #[inline]
    pub(super) fn str_under(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.separator();
            json::push_str(self.out, name);
            self.out.push(b':');
            json::push_str(self.out, value);
        }
    }

    /// Writes the comma before the next member or element and counts it.
    #[inline]
    fn separator(&mut self) {
        let level = self.level();
        level.members += 1;
        if level.members > 1 {
            self.out.push(b',');
        }
    }

    #[inline]
    fn open_with(&mut self, name: Option<&str>, open: u8, close: u8) {
        let rollback = self.out.len();
        match name {
            Some(name) => self.key(name),
            None => self.separator(),
        }
        self.out.push(open);
        self.levels.push(Level { rollback, members: 0, close });
    }

    /// Opens the object member `name`.
    #[inline]
    pub(super) fn open(&mut self, name: &str) {
        self.open_with(Some(name), b'{', b'}');
    }

    /// Opens the array member `name`.
    #[inline]
    pub(super) fn open_array(&mut self, name: &str) {
        self.open_with(Some(name), b'[', b']');
    }

    /// Opens an object as the next element of the open array.
    #[inline]
    pub(super) fn open_element(&mut self) {
        self.open_with(None, b'{', b'}');
    }

    /// Closes the innermost container; one that received nothing is taken back. The outer
    /// object is closed by [`finish`](Self::finish) only.
    #[inline]
    pub(super) fn close(&mut self) {
        let Some(level) = self.levels.pop() else {
            debug_assert!(false, "close without an open container");
            return;
        };
        if level.members == 0 {
            self.out.truncate(level.rollback);
            self.level().members -= 1;
        } else {
            self.out.push(level.close);
        }
    }

    /// `"name":"value"`, unless `value` is empty.
    #[inline]
    pub(super) fn str(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.key(name);
            json::push_str(self.out, value);
        }
    }

    /// `"name":"abc"` from the parts `a`, `b`, `c` (plain text: no escaping needed).
    #[inline]
    pub(super) fn str_parts(&mut self, name: &str, parts: &[&str]) {
        self.key(name);
        self.out.push(b'"');
        for part in parts {
            debug_assert!(part.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
            self.out.extend_from_slice(part.as_bytes());
        }
        self.out.push(b'"');
    }

    /// `"name":"value"` when there is a value.
    #[inline]
    pub(super) fn opt_str(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    /// A string element of the open array, unless empty.
    #[inline]
    pub(super) fn element_str(&mut self, value: &str) {
        if !value.is_empty() {
            self.separator();
            json::push_str(self.out, value);
        }
    }

    /// `"name":["a","b"]`, without the empty strings; nothing when none is left.
    pub(super) fn strs(&mut self, name: &str, values: &[&str]) {
        self.open_array(name);
        for value in values {
            self.element_str(value);
        }
        self.close();
    }

    /// `"name":` followed by JSON text written by the caller.
    #[inline]
    pub(super) fn raw(&mut self, name: &str, json_text: &[u8]) {
        self.key(name);
        self.out.extend_from_slice(json_text);
    }

    /// `count` members written beforehand as JSON text (`"a":1,"b":"c"`), for the constant
    /// parts of a document.
    #[inline]
    pub(super) fn members(&mut self, text: &[u8], count: u32) {
        self.separator();
        self.out.extend_from_slice(text);
        self.level().members += count - 1;
    }

    /// `"name":123`.
    #[inline]
    pub(super) fn int(&mut self, name: &str, value: i64) {
        self.key(name);
        self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// `"name":true`.
    #[inline]
    pub(super) fn bool(&mut self, name: &str, value: bool) {
        self.raw(name, if value { b"true" } else { b"false" });
    }

    /// `"name":` and the value without its empty parts, unless it is empty altogether.
    pub(super) fn node_pruned(&mut self, name: &str, value: &Node<'_>) {
        if !value.is_empty() {
            self.key(name);
            value.write_pruned(self.out);
        }
    }

    /// `"name":` and the value's compact JSON as a string, unless the value is empty.
    pub(super) fn node_as_string(&mut self, name: &str, value: &Node<'_>) {
        if let Node::Text(text) = value {
            return self.str(name, text);
        }
        if !value.is_empty() {
            let mut text = Vec::with_capacity(128);
            value.write_compact(&mut text);
            self.key(name);
            // The tree writes JSON text from `str`s: always UTF-8.
            if let Ok(text) = std::str::from_utf8(&text) {
                json::push_str(self.out, text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_containers_leave_no_trace() {
        let mut out = b"x".to_vec();
        let mut doc = Doc::new(&mut out);
        doc.open("a");
        doc.str("empty", "");
        doc.open("inner");
        doc.opt_str("none", None);
        doc.close();
        doc.close();
        doc.str("b", "1");
        doc.open("c");
        doc.int("n", -5);
        doc.open_array("list");
        doc.element_str("");
        doc.close();
        doc.strs("names", &["p", "", "q\""]);
        doc.open_array("objects");
        doc.open_element();
        doc.close();
        doc.open_element();
        doc.bool("t", true);
        doc.close();
        doc.close();
        doc.finish();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"x{"b":"1","c":{"n":-5,"names":["p","q\""],"objects":[{"t":true}]}}"#
        );
    }

    #[test]
    fn an_empty_document_is_an_empty_object() {
        let mut out = Vec::new();
        let mut doc = Doc::new(&mut out);
        doc.open("a");
        doc.finish();
        assert_eq!(out, b"{}");
    }

    #[test]
    fn records_as_strings_and_pruned_objects() {
        let node = Node::parse(r#"{"a":null,"b":{"c":""},"d":[1]}"#).unwrap();
        let mut out = Vec::new();
        let mut doc = Doc::new(&mut out);
        doc.node_as_string("s", &node);
        doc.node_pruned("p", &node);
        doc.node_pruned("none", &Node::parse(r#"{"a":[{}]}"#).unwrap());
        doc.finish();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"s":"{\"a\":null,\"b\":{\"c\":\"\"},\"d\":[1]}","p":{"d":[1]}}"#
        );
    }
}
