//! Small helpers that append JSON text to a byte buffer.

/// Appends `text` as a JSON string (quoted and escaped).
pub(super) fn push_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

/// Builds a flat JSON object of string and integer members, skipping absent values.
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
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        push_str(self.out, key);
        self.out.push(b':');
    }

    /// `"key":"value"`, or nothing when `value` is `None`.
    pub(super) fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.key(key);
            push_str(self.out, value);
        }
    }

    /// `"key":123`.
    pub(super) fn integer(&mut self, key: &str, value: u64) {
        self.key(key);
        self.out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    pub(super) fn close(self) {
        self.out.push(b'}');
    }
}
