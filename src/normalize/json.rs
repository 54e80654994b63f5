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

/// The size of the arrays [`SliceWriter::put_padded`] copies.
pub(super) const PADDED: usize = 32;

/// The most a [`SliceWriter`] may write past the end of what it wrote.
pub(super) const SLACK: usize = PADDED;

/// Writes into a slice that has room for everything plus [`SLACK`] bytes, with no capacity
/// checks: short copies copy a whole fixed-size array or window and then count only the bytes
/// asked for (the excess is overwritten by the next copy or cut off at the end), which is
/// cheaper than a call to `memcpy` for a few bytes.
pub(super) struct SliceWriter<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl<'a> SliceWriter<'a> {
    pub(super) fn new(out: &'a mut [u8]) -> Self {
        SliceWriter { out, at: 0 }
    }

    /// How many bytes were written.
    pub(super) fn written(&self) -> usize {
        self.at
    }

    #[inline]
    pub(super) fn put(&mut self, byte: u8) {
        self.out[self.at] = byte;
        self.at += 1;
    }

    #[inline]
    pub(super) fn put_slice(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    /// The first `len` bytes of `padded`.
    #[inline]
    pub(super) fn put_padded(&mut self, padded: &[u8; PADDED], len: usize) {
        self.out[self.at..self.at + PADDED].copy_from_slice(padded);
        self.at += len.min(PADDED);
    }

    /// `source[range]`, for short ranges by a fixed-size copy when `source` has room after it.
    #[inline]
    pub(super) fn put_short(&mut self, source: &[u8], range: std::ops::Range<usize>) {
        const WINDOW: usize = 16;
        match source.get(range.start..range.start + WINDOW) {
            Some(window) if range.len() <= WINDOW => {
                self.out[self.at..self.at + WINDOW].copy_from_slice(window);
                self.at += range.len();
            }
            _ => self.put_slice(&source[range]),
        }
    }
}

/// `,"name":` as a string constant, for [`ObjectWriter`]'s members.
macro_rules! member {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}
pub(super) use member;

/// Builds a flat JSON object of string members, skipping absent values.
///
/// Every member is written with a leading comma (`,"name":`, a constant from [`member!`]) in one
/// copy; `close` turns the first member's comma into the opening brace.
pub(super) struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> ObjectWriter<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        ObjectWriter { out, start }
    }

    /// `"name":"content"`, or nothing when `content` is `None`: `content` is JSON string content
    /// already (see `decode::json_scan::Span::json_content`), copied as it is.
    #[inline]
    pub(super) fn content(&mut self, member: &'static str, content: Option<&str>) {
        if let Some(content) = content {
            self.out.reserve(member.len() + content.len() + 2);
            self.out.extend_from_slice(member.as_bytes());
            self.out.push(b'"');
            self.out.extend_from_slice(content.as_bytes());
            self.out.push(b'"');
        }
    }

    /// [`Self::content`] for each `(member, content)` in turn.
    pub(super) fn contents(&mut self, members: &[(&'static str, Option<&str>)]) {
        for &(member, content) in members {
            self.content(member, content);
        }
    }

    /// `"name":"first:second"` from two JSON string contents and an ASCII separator.
    pub(super) fn content_joined(&mut self, member: &'static str, first: &str, separator: u8, second: &str) {
        debug_assert!(separator.is_ascii_graphic() && separator != b'"' && separator != b'\\');
        self.out.extend_from_slice(member.as_bytes());
        self.out.push(b'"');
        self.out.extend_from_slice(first.as_bytes());
        self.out.push(separator);
        self.out.extend_from_slice(second.as_bytes());
        self.out.push(b'"');
    }

    pub(super) fn close(self) {
        if self.out.len() == self.start {
            self.out.extend_from_slice(b"{}");
        } else {
            self.out[self.start] = b'{';
            self.out.push(b'}');
        }
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
    fn short_copies_write_exactly_the_bytes_asked_for() {
        let mut out = vec![b'.'; 1 + 3 + 3 + 6 + 20 + 1 + SLACK];
        let mut writer = SliceWriter::new(&mut out);
        writer.put(b'x');
        let mut padded = [b'#'; PADDED];
        padded[..3].copy_from_slice(b"abc");
        writer.put_padded(&padded, 3);
        let source = b"0123456789abcdefghijklmnopqrstuvwxyz";
        writer.put_short(source, 2..5);
        writer.put_short(source, 30..36);
        writer.put_short(source, 0..20);
        writer.put_slice(b"!");
        let written = writer.written();
        assert_eq!(&out[..written], b"xabc234uvwxyz0123456789abcdefghij!");
    }

    #[test]
    fn objects_skip_absent_members() {
        let mut out = b"x".to_vec();
        let mut object = ObjectWriter::open(&mut out);
        object.content(member!("a"), None);
        object.content(member!("b"), Some("x"));
        object.content_joined(member!("c"), "s3", b':', r#"Get\"Object"#);
        object.content(member!("d"), Some(r#"\u00e9"#));
        object.close();
        assert_eq!(String::from_utf8(out).unwrap(), r#"x{"b":"x","c":"s3:Get\"Object","d":"\u00e9"}"#);

        let mut empty = Vec::new();
        ObjectWriter::open(&mut empty).close();
        assert_eq!(empty, b"{}");
    }
}
