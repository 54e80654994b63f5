//! Small helpers that append JSON text to a byte buffer.
//!
//! They run once per field of every event, so the common case (short ASCII without characters
//! that need escaping) is copied as it is; anything else goes through serde_json's escaper.

/// Appends `text` as a JSON string (quoted and escaped).
pub(super) fn push_str(out: &mut Vec<u8>, text: &str) {
    // A fold without early exit: the compiler turns it into vector compares.
    let needs_escaping = text.bytes().fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escaping {
        serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
        return;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Builds a flat JSON object of string and integer members, skipping absent values.
///
/// Member names are written as they are: they are this crate's own constants or AWS field names
/// checked by [`is_plain_name`], never input text that could need escaping.
pub(super) struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, empty: true }
    }

    fn key(&mut self, key: &str) {
        debug_assert!(is_plain_name(key), "member name {key:?} would need escaping");
        self.out.extend_from_slice(if self.empty { b"\"" } else { b",\"" });
        self.empty = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// `"key":"value"`, or nothing when `value` is `None`.
    pub(super) fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.key(key);
            push_str(self.out, value);
        }
    }

    pub(super) fn close(self) {
        self.out.push(b'}');
    }
}

/// True for names made of ASCII letters, digits, `_` and `-`: safe inside quotes as they are.
pub(super) fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_only_when_needed() {
        let mut out = Vec::new();
        push_str(&mut out, "plain text/é");
        push_str(&mut out, "quote \" back \\ tab \t");
        assert_eq!(String::from_utf8(out).unwrap(), r#""plain text/é""quote \" back \\ tab \t""#);
    }

    #[test]
    fn objects_skip_absent_members() {
        let mut out = Vec::new();
        let mut object = ObjectWriter::open(&mut out);
        object.text("a", None);
        object.text("b", Some("x"));

        object.close();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"b":"x"}"#);
    }
}
