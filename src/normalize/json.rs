//! Small helpers that append JSON text to a byte buffer.
//!
//! They run once per field of every event, so the common case (short ASCII without characters
//! that need escaping) is copied as it is; anything else goes through serde_json's escaper.

/// Appends `text` as a JSON string (quoted and escaped).
#[inline]
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

/// `,"name":"`, the start of a member whose value is a string, in a padded array so that
/// [`SliceWriter::put_padded`] writes it in one fixed-size copy. Made at compile time.
pub(super) struct PaddedPrefix {
    padded: [u8; PADDED],
    len: usize,
}

impl PaddedPrefix {
    /// The prefix of the string member `name` (a plain name, see [`is_plain_name`]).
    pub(super) const fn text_member(name: &str) -> Self {
        let name = name.as_bytes();
        let len = name.len() + 5;
        assert!(len <= PADDED, "a member name short enough to pad");
        let mut padded = [0; PADDED];
        padded[0] = b',';
        padded[1] = b'"';
        let mut at = 0;
        while at < name.len() {
            padded[2 + at] = name[at];
            at += 1;
        }
        padded[len - 3] = b'"';
        padded[len - 2] = b':';
        padded[len - 1] = b'"';
        PaddedPrefix { padded, len }
    }
}

/// JSON string content (what goes between the quotes, escaped already) as a range of a buffer
/// that often goes on after it, so that a short one can be copied as a fixed-size window (see
/// [`SliceWriter::put_short`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Content<'a> {
    source: &'a [u8],
    start: usize,
    end: usize,
}

impl<'a> Content<'a> {
    /// `source[range]`, which must be JSON string content.
    pub(super) fn within(source: &'a [u8], range: std::ops::Range<usize>) -> Self {
        debug_assert!(range.end <= source.len());
        Content { source, start: range.start, end: range.end }
    }

    /// All of `content`, which must be JSON string content.
    pub(super) fn whole(content: &'a str) -> Self {
        Content { source: content.as_bytes(), start: 0, end: content.len() }
    }

    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }
}

/// String members of a flat JSON object, in order; absent ones (`None`) are left out.
pub(super) type TextMembers<'m, 'c> = [(&'m PaddedPrefix, Option<Content<'c>>)];

/// The room [`SliceWriter::put_text_members`] needs for `members`, before its [`SLACK`].
pub(super) fn text_members_room(members: &TextMembers<'_, '_>) -> usize {
    members.iter().map(|(prefix, content)| content.map_or(0, |content| prefix.len + content.len() + 1)).sum()
}

impl SliceWriter<'_> {
    /// `content`, by a fixed-size copy when it is short and its buffer has room after it.
    #[inline]
    pub(super) fn put_content(&mut self, content: Content<'_>) {
        self.put_short(content.source, content.start..content.end);
    }

    /// `,"name":"`.
    #[inline]
    pub(super) fn put_padded_prefix(&mut self, prefix: &PaddedPrefix) {
        self.put_padded(&prefix.padded, prefix.len);
    }

    /// `,"name":"content"` for each member present. One loop over a table rather than code per
    /// member: the code of a record's whole path must stay within the instruction cache.
    pub(super) fn put_text_members(&mut self, members: &TextMembers<'_, '_>) {
        for &(prefix, content) in members {
            if let Some(content) = content {
                self.put_padded_prefix(prefix);
                self.put_content(content);
                self.put(b'"');
            }
        }
    }
}

/// Ends an object whose members (each with a leading comma) were written at `out[start..]`:
/// the first comma becomes the opening brace, or the object is `{}`.
pub(super) fn close_object(out: &mut Vec<u8>, start: usize) {
    if out.len() == start {
        out.extend_from_slice(b"{}");
    } else {
        out[start] = b'{';
        out.push(b'}');
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
    fn text_objects_leave_out_absent_members() {
        const A: PaddedPrefix = PaddedPrefix::text_member("a");
        const LONG: PaddedPrefix = PaddedPrefix::text_member("a_twenty_six_letter_name_");
        let record = br#"{"x":"s3","y":"Get\"Object","z":"0123456789abcdef0123456789"}"#;
        let members = [
            (&A, None),
            (&A, Some(Content::within(record, 6..8))),
            (&LONG, Some(Content::within(record, 15..26))),
            (&A, Some(Content::whole(r#"\u00e9"#))),
            (&LONG, Some(Content::within(record, 33..59))),
        ];
        let mut out = b"x".to_vec();
        let room = text_members_room(&members);
        out.resize(1 + room + SLACK, b'.');
        let mut writer = SliceWriter::new(&mut out[1..]);
        writer.put_text_members(&members);
        let written = writer.written();
        assert_eq!(written, room);
        out.truncate(1 + written);
        close_object(&mut out, 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"x{"a":"s3","a_twenty_six_letter_name_":"Get\"Object","a":"\u00e9","a_twenty_six_letter_name_":"0123456789abcdef0123456789"}"#
        );

        let mut empty = b"x".to_vec();
        close_object(&mut empty, 1);
        assert_eq!(empty, b"x{}");
    }
}
