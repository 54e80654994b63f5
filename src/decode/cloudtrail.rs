//! Streaming split of a CloudTrail log file into records.
//!
//! A CloudTrail file is one JSON document, `{"Records":[ record, … ]}`, often on a single line and
//! up to 50 MB compressed (hundreds of MB uncompressed). Parsing it into a tree would make memory
//! grow with the file, so [`RecordReader`] walks the document's outer levels with a tiny state
//! machine and hands out one record at a time. Each record is scanned once (`fields`): the same
//! pass finds its end, checks its whole syntax and notes where the fields the metadata needs are.
//! A record that lies whole in the input's buffer is handed out in place; only one that straddles
//! two buffer fills is copied.
//!
//! Besides log files it recognises digest files (top-level `digestStartTime`/`logFiles`, no
//! `Records`), empty files, and several documents one after another (concatenated gzip members).

mod fields;
pub mod paths;

use std::io::{self, BufRead};

use memchr::memchr2;

pub(crate) use fields::scan_record;
pub use fields::{Identity, REQUEST_TARGETS, RecordFields, Resource};

use super::json_scan::ScanFailure;

/// The default cap on one record's size. AWS caps records at 256 KB; anything far beyond that is
/// not a record we can use, and buffering it would let one bad file exhaust memory.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// One record: its JSON text, as it appeared in the file, and where its fields are.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// 1-based position of the record in the `Records` array.
    pub index: u64,
    /// The record's text: a JSON object whose syntax was checked.
    pub text: &'a str,
    /// The fields the metadata needs, as spans of `text`.
    pub fields: &'a RecordFields,
}

/// What kind of document the file turned out to be (known once the reader is exhausted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// No bytes, or only white space.
    Empty,
    /// A log file with a `Records` array (possibly empty).
    Log,
    /// A digest file (log file integrity validation), which holds no events.
    Digest,
    /// A JSON object without `Records` that is not a digest either.
    NoRecords,
}

/// A problem found while splitting a CloudTrail document.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Reading or decompressing failed (a truncated or corrupt gzip stream ends up here).
    #[error("read failed at decompressed byte {offset}: {source}")]
    Read {
        /// Decompressed bytes consumed before the failure.
        offset: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// The document is not shaped like a CloudTrail file.
    #[error("invalid JSON at decompressed byte {offset}: {message}")]
    Syntax {
        /// Where the problem was seen.
        offset: u64,
        /// What was expected.
        message: String,
    },
    /// The data ended in the middle of the document.
    #[error("file ends in the middle of the JSON document (decompressed byte {offset})")]
    Truncated {
        /// Decompressed bytes consumed.
        offset: u64,
    },
    /// One record exceeds the size cap; it was skipped and reading goes on.
    #[error("record {record} is {bytes} bytes, over the {limit}-byte limit; skipped")]
    RecordTooLarge {
        /// 1-based record position.
        record: u64,
        /// Its size.
        bytes: u64,
        /// The cap.
        limit: usize,
    },
    /// One element of `Records` is not a JSON object; it was skipped and reading goes on.
    #[error("record {record} is not a JSON object; skipped")]
    NotAnObject {
        /// 1-based record position.
        record: u64,
    },
    /// One record is not valid JSON, though its brackets balance; it was skipped and reading
    /// goes on.
    #[error("record {record}: invalid JSON at byte {at} of the record: expected {expected}; skipped")]
    InvalidRecord {
        /// 1-based record position.
        record: u64,
        /// Offset of the offending byte in the record.
        at: usize,
        /// What the grammar allowed there.
        expected: &'static str,
    },
    /// One record is not UTF-8 text; it was skipped and reading goes on.
    #[error("record {record}: not UTF-8 text; skipped")]
    NotText {
        /// 1-based record position.
        record: u64,
    },
}

impl DecodeError {
    /// True when the rest of the file cannot be read after this error.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            DecodeError::RecordTooLarge { .. }
                | DecodeError::NotAnObject { .. }
                | DecodeError::InvalidRecord { .. }
                | DecodeError::NotText { .. }
        )
    }
}

/// Where the bytes of the current record are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// No record.
    Nothing,
    /// The first `len` bytes of the input's buffer (consumed when the next record is asked for).
    InBuffer { len: usize },
    /// Copied into `record`.
    Copied,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    DocumentStart,
    ObjectOpen,
    Key,
    AfterMember,
    ArrayOpen,
    Element,
    AfterElement,
    Done,
}

/// Hands out the records of a CloudTrail document one at a time.
pub struct RecordReader<R> {
    input: R,
    offset: u64,
    state: State,
    held: Held,
    record: Vec<u8>,
    fields: RecordFields,
    records_seen: u64,
    max_record_bytes: usize,
    documents: u32,
    saw_records: bool,
    saw_digest_fields: bool,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader with the default record size cap.
    pub fn new(input: R) -> Self {
        Self::with_max_record_bytes(input, DEFAULT_MAX_RECORD_BYTES)
    }

    /// A reader that skips (and reports) records larger than `max_record_bytes`.
    pub fn with_max_record_bytes(input: R, max_record_bytes: usize) -> Self {
        RecordReader {
            input,
            offset: 0,
            state: State::DocumentStart,
            held: Held::Nothing,
            record: Vec::with_capacity(8 * 1024),
            fields: RecordFields::default(),
            records_seen: 0,
            max_record_bytes,
            documents: 0,
            saw_records: false,
            saw_digest_fields: false,
        }
    }

    /// Decompressed bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What the document turned out to be; meaningful once [`next_record`](Self::next_record)
    /// returned `Ok(None)`.
    pub fn kind(&self) -> DocumentKind {
        if self.saw_records {
            DocumentKind::Log
        } else if self.saw_digest_fields {
            DocumentKind::Digest
        } else if self.documents == 0 {
            DocumentKind::Empty
        } else {
            DocumentKind::NoRecords
        }
    }

    /// The next record, `Ok(None)` at the end, or an error. After a fatal error
    /// ([`DecodeError::is_fatal`]) every later call returns `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'_>>, DecodeError> {
        if let Held::InBuffer { len } = std::mem::replace(&mut self.held, Held::Nothing) {
            self.consume(len);
        }
        match self.advance() {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(error) => {
                if error.is_fatal() {
                    self.state = State::Done;
                }
                return Err(error);
            }
        }
        let index = self.records_seen;
        let bytes = match self.held {
            Held::InBuffer { len } => match self.input.fill_buf() {
                Ok(buf) => &buf[..len],
                Err(source) => {
                    self.state = State::Done;
                    return Err(DecodeError::Read { offset: self.offset, source });
                }
            },
            _ => &self.record[..],
        };
        // simdutf8 checks 32 or 64 bytes a step (AVX2, SSE4.2 or NEON, chosen at run time).
        match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => Ok(Some(RawRecord { index, text, fields: &self.fields })),
            Err(_) => Err(DecodeError::NotText { record: index }),
        }
    }

    /// Runs the state machine until a record is in `self.record` (true) or the end (false).
    fn advance(&mut self) -> Result<bool, DecodeError> {
        loop {
            match self.state {
                State::Done => return Ok(false),
                State::DocumentStart => {
                    if self.documents == 0 {
                        self.skip_bom()?;
                    }
                    match self.next_non_ws()? {
                        None => self.state = State::Done,
                        Some(b'{') => {
                            self.consume(1);
                            self.documents += 1;
                            self.state = State::ObjectOpen;
                        }
                        Some(other) => return Err(self.unexpected(other, "'{' to open the document")),
                    }
                }
                State::ObjectOpen => self.first_item(b'}', State::Key, State::DocumentStart)?,
                State::Key => self.read_member()?,
                State::AfterMember => {
                    self.next_item(b'}', State::Key, State::DocumentStart, "',' or '}' after a member")?
                }
                State::ArrayOpen => self.first_item(b']', State::Element, State::AfterMember)?,
                State::Element => return self.read_element(),
                State::AfterElement => {
                    self.next_item(b']', State::Element, State::AfterMember, "',' or ']' between records")?
                }
            }
        }
    }

    /// Just inside `{` or `[`: `close` (empty container) goes to `closed`, anything else to `item`.
    fn first_item(&mut self, close: u8, item: State, closed: State) -> Result<(), DecodeError> {
        if self.require_non_ws()? == close {
            self.consume(1);
            self.state = closed;
        } else {
            self.state = item;
        }
        Ok(())
    }

    /// After a member or element: `,` goes to the next `item`, `close` ends the container.
    fn next_item(
        &mut self,
        close: u8,
        item: State,
        closed: State,
        expected: &str,
    ) -> Result<(), DecodeError> {
        match self.require_non_ws()? {
            b',' => self.state = item,
            byte if byte == close => self.state = closed,
            other => return Err(self.unexpected(other, expected)),
        }
        self.consume(1);
        Ok(())
    }

    /// Reads `"key": value` at the top level; `Records` opens the array, the rest is skipped.
    fn read_member(&mut self) -> Result<(), DecodeError> {
        let first = self.require_non_ws()?;
        if first != b'"' {
            return Err(self.unexpected(first, "a quoted member name"));
        }
        let key = self.read_short_string()?;
        let colon = self.require_non_ws()?;
        if colon != b':' {
            return Err(self.unexpected(colon, "':' after a member name"));
        }
        self.consume(1);
        if key == "Records" {
            let open = self.require_non_ws()?;
            if open != b'[' {
                return Err(self.unexpected(open, "'[' to open the Records array"));
            }
            self.consume(1);
            self.saw_records = true;
            self.state = State::ArrayOpen;
            return Ok(());
        }
        if matches!(key.as_str(), "digestStartTime" | "digestEndTime" | "logFiles" | "digestS3Object") {
            self.saw_digest_fields = true;
        }
        self.skip_value()?;
        self.state = State::AfterMember;
        Ok(())
    }

    /// Finds and scans one element of `Records`: in place when the input's buffer holds all of
    /// it, else copied into `self.record`.
    fn read_element(&mut self) -> Result<bool, DecodeError> {
        let first = self.require_non_ws()?;
        self.records_seen += 1;
        self.state = State::AfterElement;
        if first != b'{' {
            self.skip_value()?;
            return Err(DecodeError::NotAnObject { record: self.records_seen });
        }
        match scan_record(self.fill()?) {
            Ok((len, fields)) if len <= self.max_record_bytes => {
                self.fields = fields;
                self.held = Held::InBuffer { len };
                Ok(true)
            }
            Ok((len, _)) => {
                self.consume(len);
                Err(self.too_large(len as u64))
            }
            Err(error) => match error.failure() {
                ScanFailure::Incomplete => self.read_copied_element(),
                ScanFailure::Invalid { at, expected } => {
                    // Its brackets may still balance: then only this record is lost.
                    self.scan_container(false)?;
                    let (record, expected) = (self.records_seen, expected.as_str());
                    Err(DecodeError::InvalidRecord { record, at, expected })
                }
            },
        }
    }

    /// The slow path of [`read_element`](Self::read_element): a record across buffer fills.
    fn read_copied_element(&mut self) -> Result<bool, DecodeError> {
        self.record.clear();
        let size = self.scan_container(true)?;
        if size > self.max_record_bytes as u64 {
            self.record.clear();
            return Err(self.too_large(size));
        }
        let record = self.records_seen;
        match scan_record(&self.record) {
            Ok((len, fields)) if len == self.record.len() => {
                self.fields = fields;
                self.held = Held::Copied;
                Ok(true)
            }
            // The brackets balanced where the grammar says the record goes on (or ends early).
            Ok((len, _)) => {
                Err(DecodeError::InvalidRecord { record, at: len, expected: "the end of the record" })
            }
            Err(error) => match error.failure() {
                ScanFailure::Incomplete => Err(DecodeError::InvalidRecord {
                    record,
                    at: size as usize,
                    expected: "more of the record",
                }),
                ScanFailure::Invalid { at, expected } => {
                    Err(DecodeError::InvalidRecord { record, at, expected: expected.as_str() })
                }
            },
        }
    }

    fn too_large(&self, bytes: u64) -> DecodeError {
        DecodeError::RecordTooLarge { record: self.records_seen, bytes, limit: self.max_record_bytes }
    }

    /// Skips one JSON value of any kind.
    fn skip_value(&mut self) -> Result<(), DecodeError> {
        match self.require_non_ws()? {
            b'{' | b'[' => self.scan_container(false).map(|_| ()),
            b'"' => {
                self.consume(1);
                self.skip_string_body()
            }
            _ => self.skip_scalar(),
        }
    }

    /// Scans a balanced `{…}` or `[…]` that starts at the current byte; returns its size and,
    /// when `capture` is set, copies it into `self.record` up to the size cap.
    fn scan_container(&mut self, capture: bool) -> Result<u64, DecodeError> {
        let mut depth: usize = 0;
        let mut in_string = false;
        let mut escaped = false;
        let mut size: u64 = 0;
        loop {
            let offset = self.offset;
            let buf = self.input.fill_buf().map_err(|source| DecodeError::Read { offset, source })?;
            if buf.is_empty() {
                return Err(DecodeError::Truncated { offset });
            }
            let mut end = None;
            let mut i = 0;
            while i < buf.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr2(b'"', b'\\', &buf[i..]) {
                        None => i = buf.len(),
                        Some(found) => {
                            i += found;
                            if buf[i] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                            }
                            i += 1;
                        }
                    }
                    continue;
                }
                match buf[i] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let taken = end.unwrap_or(buf.len());
            if capture && self.record.len() + taken <= self.max_record_bytes {
                self.record.extend_from_slice(&buf[..taken]);
            }
            size += taken as u64;
            self.input.consume(taken);
            self.offset += taken as u64;
            if end.is_some() {
                return Ok(size);
            }
        }
    }

    /// Skips the rest of a string whose opening quote was consumed.
    fn skip_string_body(&mut self) -> Result<(), DecodeError> {
        let mut escaped = false;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Err(DecodeError::Truncated { offset: self.offset });
            }
            let mut i = 0;
            let mut closed = false;
            while i < buf.len() {
                if escaped {
                    escaped = false;
                    i += 1;
                    continue;
                }
                match memchr2(b'"', b'\\', &buf[i..]) {
                    None => i = buf.len(),
                    Some(found) => {
                        i += found + 1;
                        if buf[i - 1] == b'\\' {
                            escaped = true;
                        } else {
                            closed = true;
                            break;
                        }
                    }
                }
            }
            self.consume(i);
            if closed {
                return Ok(());
            }
        }
    }

    /// Reads a member name (whose opening quote is the current byte); long names are cut, which
    /// is harmless since only a few short names matter.
    fn read_short_string(&mut self) -> Result<String, DecodeError> {
        self.consume(1);
        let mut name = Vec::new();
        let mut escaped = false;
        loop {
            let byte = self.require_byte()?;
            self.consume(1);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                return Ok(String::from_utf8_lossy(&name).into_owned());
            }
            if name.len() < 64 {
                name.push(byte);
            }
        }
    }

    /// Skips a number, `true`, `false` or `null`.
    fn skip_scalar(&mut self) -> Result<(), DecodeError> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(());
            }
            let stop = buf.iter().position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace());
            let taken = stop.unwrap_or(buf.len());
            self.consume(taken);
            if stop.is_some() {
                return Ok(());
            }
        }
    }

    fn skip_bom(&mut self) -> Result<(), DecodeError> {
        if self.fill()?.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.consume(3);
        }
        Ok(())
    }

    /// Skips white space; returns the next byte without consuming it, or `None` at the end.
    fn next_non_ws(&mut self) -> Result<Option<u8>, DecodeError> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(at) => {
                    let byte = buf[at];
                    self.consume(at);
                    return Ok(Some(byte));
                }
                None => {
                    let all = buf.len();
                    self.consume(all);
                }
            }
        }
    }

    fn require_non_ws(&mut self) -> Result<u8, DecodeError> {
        self.next_non_ws()?.ok_or(DecodeError::Truncated { offset: self.offset })
    }

    fn require_byte(&mut self) -> Result<u8, DecodeError> {
        let offset = self.offset;
        self.fill()?.first().copied().ok_or(DecodeError::Truncated { offset })
    }

    fn fill(&mut self) -> Result<&[u8], DecodeError> {
        let offset = self.offset;
        self.input.fill_buf().map_err(|source| DecodeError::Read { offset, source })
    }

    fn consume(&mut self, count: usize) {
        self.input.consume(count);
        self.offset += count as u64;
    }

    fn unexpected(&self, found: u8, expected: &str) -> DecodeError {
        let shown = if found.is_ascii_graphic() {
            format!("'{}'", found as char)
        } else {
            format!("byte 0x{found:02x}")
        };
        DecodeError::Syntax { offset: self.offset, message: format!("expected {expected}, found {shown}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects every record and error, reading through a 7-byte buffer (so that every path
    /// across buffer boundaries, where records are copied, is exercised) and through one that
    /// holds the whole input (where records are read in place); both must agree.
    fn split(input: &[u8]) -> (Vec<String>, Vec<String>, DocumentKind) {
        let run = |capacity: usize| {
            let buffered = io::BufReader::with_capacity(capacity, input);
            let mut reader = RecordReader::with_max_record_bytes(buffered, 64);
            let mut records = Vec::new();
            let mut errors = Vec::new();
            loop {
                match reader.next_record() {
                    Ok(Some(record)) => records.push(record.text.to_string()),
                    Ok(None) => break,
                    Err(error) => errors.push(error.to_string()),
                }
            }
            (records, errors, reader.kind())
        };
        let in_place = run(input.len().max(1));
        assert_eq!(run(7), in_place, "copied and in-place reads differ");
        in_place
    }

    #[test]
    fn splits_records_with_tricky_strings() {
        let doc = br#"{"Records":[{"a":"x}]\"{"},{"b":[1,{"c":"\\"}]} , {}]}"#;
        let (records, errors, kind) = split(doc);
        assert_eq!(records, vec![r#"{"a":"x}]\"{"}"#, r#"{"b":[1,{"c":"\\"}]}"#, "{}"]);
        assert!(errors.is_empty());
        assert_eq!(kind, DocumentKind::Log);
    }

    #[test]
    fn skips_other_members_before_and_after_records() {
        let doc = b"\xEF\xBB\xBF {\"x\": [1, {\"y\": \"}\"}], \"n\": -1.5e3, \"t\": true, \"Records\": [{\"k\":1}], \"z\": null}";
        let (records, errors, kind) = split(doc);
        assert_eq!(records, vec!["{\"k\":1}"]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(kind, DocumentKind::Log);
    }

    #[test]
    fn recognises_empty_digest_and_recordless_documents() {
        assert_eq!(split(b"").2, DocumentKind::Empty);
        assert_eq!(split(b"  \n ").2, DocumentKind::Empty);
        assert_eq!(split(br#"{"Records":[]}"#).2, DocumentKind::Log);
        let digest = br#"{"awsAccountId":"1","digestStartTime":"2024-01-01T00:00:00Z","logFiles":[]}"#;
        assert_eq!(split(digest).2, DocumentKind::Digest);
        assert_eq!(split(b"{}").2, DocumentKind::NoRecords);
    }

    #[test]
    fn reads_concatenated_documents() {
        let (records, errors, _) = split(br#"{"Records":[{"a":1}]}{"Records":[{"b":2}]}"#);
        assert_eq!(records, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert!(errors.is_empty());
    }

    #[test]
    fn oversized_and_non_object_records_are_skipped_not_fatal() {
        let big = format!(r#"{{"Records":[{{"a":"{}"}},7,{{"b":1}}]}}"#, "x".repeat(100));
        let (records, errors, _) = split(big.as_bytes());
        assert_eq!(records, vec![r#"{"b":1}"#]);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("record 1 is 108 bytes, over the 64-byte limit"), "{}", errors[0]);
        assert!(errors[1].contains("record 2 is not a JSON object"), "{}", errors[1]);
    }

    #[test]
    fn truncation_and_garbage_are_fatal() {
        let (records, errors, _) = split(br#"{"Records":[{"a":1},{"b":"#);
        assert_eq!(records, vec![r#"{"a":1}"#]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("file ends in the middle"), "{}", errors[0]);

        let (records, errors, _) = split(b"\x00\x01garbage");
        assert!(records.is_empty());
        assert_eq!(
            errors,
            vec!["invalid JSON at decompressed byte 0: expected '{' to open the document, found byte 0x00"]
        );

        let (_, errors, _) = split(br#"{"Records":[{"a":1} {"b":2}]}"#);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("expected ',' or ']' between records, found '{'"), "{}", errors[0]);
    }

    #[test]
    fn invalid_records_whose_brackets_balance_are_skipped() {
        let doc = b"{\"Records\":[{\"a\":tru},{\"b\":\"\xff\"},{\"c\":[1,]},{\"ok\":1}]}";
        let (records, errors, kind) = split(doc);
        assert_eq!(records, vec![r#"{"ok":1}"#]);
        assert_eq!(
            errors,
            vec![
                "record 1: invalid JSON at byte 5 of the record: expected true, false or null; skipped",
                "record 2: not UTF-8 text; skipped",
                "record 3: invalid JSON at byte 8 of the record: expected a JSON value; skipped",
            ]
        );
        assert_eq!(kind, DocumentKind::Log);
    }

    #[test]
    fn fields_are_found_in_place_and_when_copied() {
        let doc = br#"{"Records":[{"eventID":"e-1","userIdentity":{"type":"IAMUser","sessionContext":{"sessionIssuer":{"userName":"issuer"}}},"resources":[{"ARN":"arn:1","type":"T"},{"ARN":"arn:2"}],"requestParameters":{"userName":"u","bucketName":"b","x":[{}]},"readOnly":"false","eventName":7}]}"#;
        for capacity in [7, doc.len()] {
            let mut reader = RecordReader::new(io::BufReader::with_capacity(capacity, &doc[..]));
            let record = reader.next_record().unwrap().unwrap();
            let (text, fields) = (record.text, record.fields);
            let read = |span: Option<crate::decode::json_scan::Span>| span.map(|s| s.text(text).into_owned());
            assert_eq!(read(fields.event_id).as_deref(), Some("e-1"));
            assert_eq!(read(fields.identity.kind).as_deref(), Some("IAMUser"));
            assert_eq!(read(fields.identity.issuer_user_name).as_deref(), Some("issuer"));
            assert_eq!(read(fields.resource.arn).as_deref(), Some("arn:1"));
            assert_eq!(read(fields.resource.kind).as_deref(), Some("T"));
            let (rank, span) = fields.request_target.unwrap();
            assert_eq!((REQUEST_TARGETS[rank].0, span.text(text).as_ref()), ("bucketName", "b"));
            assert_eq!(fields.read_only, Some(false));
            assert_eq!(fields.event_name, None, "a number is not a name");
            assert!(reader.next_record().unwrap().is_none());
        }
    }
}
