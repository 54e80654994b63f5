//! Line-by-line reading of VPC Flow Logs text files.
//!
//! The first line of a flow-log file delivered to S3 names its fields (`version account-id …`),
//! in the order the flow log's format chose. [`FlowReader`] takes that header as the schema of the
//! file; a file without one is read with the default (version 2) format. Each data line is split
//! on runs of white space (AWS's own examples contain double spaces) and must have exactly as many
//! values as the header has names. A bad line is reported and skipped; the file goes on.

use std::io::{self, BufRead};
use std::ops::Range;

use memchr::memchr;

use wide::u8x16;

use super::json_scan::special_run_end;

/// The default (version 2) format, used when a file has no header line.
pub const DEFAULT_FIELDS: [&str; 14] = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// The fields of custom formats AWS can write beside the default ones (versions 3 to 11, and
/// Transit Gateway's version 6), as in a text header.
pub const CUSTOM_FIELDS: &[&str] = &[
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
    "instance-tag",
    "instance-tag-2",
    "interface-tag",
    "interface-tag-2",
    "asg-tag",
    "asg-tag-2",
    "interface-type",
    "next-hop-interface-id",
    "next-hop-subnet-id",
    "next-hop-az-id",
    "next-hop-vpc-id",
    "next-hop-interface-type",
    "resource-type",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

/// The default cap on a line's length; real flow-log lines are a few hundred bytes.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// One data line, split into values.
#[derive(Debug)]
pub struct FlowLine<'a> {
    /// 1-based line number in the file (the header is line 1 when there is one).
    pub number: u64,
    /// The line without its line ending.
    pub text: &'a str,
    /// True when no byte of the line needs escaping in a JSON string (no control character,
    /// `"` or `\\`): it and its values can be copied into JSON as they are.
    pub plain: bool,
    spans: &'a [Range<usize>],
    fields: &'a [String],
}

impl<'a> FlowLine<'a> {
    /// The values in header order.
    pub fn values(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.spans.iter().map(|span| &self.text[span.clone()])
    }

    /// The field names of the file, in order (from its header, or the default format).
    pub fn fields(&self) -> &'a [String] {
        self.fields
    }

    /// The value at position `index` of the header.
    pub fn value(&self, index: usize) -> &'a str {
        &self.text[self.spans[index].clone()]
    }

    /// Where each value is in `text`, in header order.
    pub fn spans(&self) -> &'a [Range<usize>] {
        self.spans
    }
}

/// A problem with the file or one of its lines.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Reading or decompressing failed; the rest of the file is lost.
    #[error("read failed after line {line}: {source}")]
    Read {
        /// The last line read completely.
        line: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// A line has a different number of values than the header has names.
    #[error("line {line}: {found} fields where the header names {expected}; line skipped")]
    FieldCount {
        /// 1-based line number.
        line: u64,
        /// Names in the header.
        expected: usize,
        /// Values on the line.
        found: usize,
    },
    /// A line is longer than the cap.
    #[error("line {line}: {bytes} bytes, over the {limit}-byte limit; line skipped")]
    LineTooLong {
        /// 1-based line number.
        line: u64,
        /// Its length.
        bytes: u64,
        /// The cap.
        limit: usize,
    },
    /// A line is not UTF-8 text.
    #[error("line {line}: not UTF-8 text; line skipped")]
    NotText {
        /// 1-based line number.
        line: u64,
    },
}

impl FlowError {
    /// True when the rest of the file cannot be read after this error.
    pub fn is_fatal(&self) -> bool {
        matches!(self, FlowError::Read { .. })
    }
}

/// Reads a flow-log file one data line at a time.
///
/// A line that lies whole in the input's buffer is read in place (its bytes are consumed when
/// the next line is asked for); only a line that straddles two buffer fills is copied.
pub struct FlowReader<R> {
    input: R,
    line_number: u64,
    held: Held,
    line: Vec<u8>,
    spans: Vec<Range<usize>>,
    plain: bool,
    fields: Vec<String>,
    header_read: bool,
    header_in_file: bool,
    max_line_bytes: usize,
    failed: bool,
}

enum RawLine {
    Line,
    TooLong(u64),
    End,
}

/// Where the bytes of the current line are.
#[derive(Clone, Copy)]
enum Held {
    /// No line (before the first, or after a skipped one).
    Nothing,
    /// At the start of the input's buffer: `len` bytes of text, `consume` with the line ending.
    InBuffer { len: usize, consume: usize },
    /// Copied into `line`.
    Copied,
}

enum Prepared {
    Data,
    Skip,
    End,
}

impl<R: BufRead> FlowReader<R> {
    /// A reader with the default line cap.
    pub fn new(input: R) -> Self {
        Self::with_max_line_bytes(input, DEFAULT_MAX_LINE_BYTES)
    }

    /// A reader that skips (and reports) lines longer than `max_line_bytes`.
    pub fn with_max_line_bytes(input: R, max_line_bytes: usize) -> Self {
        FlowReader {
            input,
            line_number: 0,
            held: Held::Nothing,
            line: Vec::with_capacity(512),
            spans: Vec::with_capacity(32),
            plain: true,
            fields: Vec::new(),
            header_read: false,
            header_in_file: false,
            max_line_bytes,
            failed: false,
        }
    }

    /// The field names of this file (from its header, or the default format), known once the
    /// first line was read.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// True when the file started with a header line.
    pub fn has_header(&self) -> bool {
        self.header_in_file
    }

    /// The next data line, `Ok(None)` at the end, or an error. After a fatal error every later
    /// call returns `Ok(None)`.
    pub fn next_line(&mut self) -> Result<Option<FlowLine<'_>>, FlowError> {
        loop {
            match self.prepare_line()? {
                Prepared::End => return Ok(None),
                Prepared::Skip => continue,
                Prepared::Data => break,
            }
        }
        let number = self.line_number;
        let bytes = held_bytes(&mut self.input, &self.line, self.held, number, &mut self.failed)?;
        let Ok(text) = simdutf8::basic::from_utf8(bytes) else {
            return Err(FlowError::NotText { line: number });
        };
        Ok(Some(FlowLine { number, text, plain: self.plain, spans: &self.spans, fields: &self.fields }))
    }

    /// Reads the next line into `self.line` and splits it into `self.spans`.
    fn prepare_line(&mut self) -> Result<Prepared, FlowError> {
        if self.failed {
            return Ok(Prepared::End);
        }
        match self.read_raw_line() {
            Err(source) => {
                self.failed = true;
                return Err(FlowError::Read { line: self.line_number, source });
            }
            Ok(RawLine::End) => return Ok(Prepared::End),
            Ok(RawLine::TooLong(bytes)) => {
                return Err(FlowError::LineTooLong {
                    line: self.line_number,
                    bytes,
                    limit: self.max_line_bytes,
                });
            }
            Ok(RawLine::Line) => {}
        }
        let line_number = self.line_number;
        let bytes = held_bytes(&mut self.input, &self.line, self.held, line_number, &mut self.failed)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Prepared::Skip);
        }
        if !self.header_read {
            let Ok(text) = std::str::from_utf8(bytes) else {
                return Err(FlowError::NotText { line: line_number });
            };
            self.header_read = true;
            if let Some(names) = parse_header(text) {
                self.fields = names;
                self.header_in_file = true;
                return Ok(Prepared::Skip);
            }
            self.fields = DEFAULT_FIELDS.iter().map(|name| name.to_string()).collect();
        }
        // UTF-8 is checked once, when the line is handed out.
        self.plain = split_spans(bytes, &mut self.spans);
        if self.spans.len() != self.fields.len() {
            return Err(FlowError::FieldCount {
                line: self.line_number,
                expected: self.fields.len(),
                found: self.spans.len(),
            });
        }
        Ok(Prepared::Data)
    }

    /// Finds the next line (without `\n` / `\r\n`): in place when the input's buffer holds all
    /// of it, else copied into `self.line`, never buffering more than the cap.
    fn read_raw_line(&mut self) -> io::Result<RawLine> {
        if let Held::InBuffer { consume, .. } = self.held {
            self.input.consume(consume);
        }
        self.held = Held::Nothing;
        let buf = self.input.fill_buf()?;
        if buf.is_empty() {
            return Ok(RawLine::End);
        }
        if let Some(at) = memchr(b'\n', buf) {
            self.line_number += 1;
            let len = if at > 0 && buf[at - 1] == b'\r' { at - 1 } else { at };
            if len > self.max_line_bytes {
                self.input.consume(at + 1);
                return Ok(RawLine::TooLong(len as u64));
            }
            self.held = Held::InBuffer { len, consume: at + 1 };
            return Ok(RawLine::Line);
        }
        self.read_copied_line()
    }

    /// The slow path of [`read_raw_line`](Self::read_raw_line): a line across buffer fills.
    fn read_copied_line(&mut self) -> io::Result<RawLine> {
        self.line.clear();
        let mut length: u64 = 0;
        let mut saw_any = false;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                if !saw_any {
                    return Ok(RawLine::End);
                }
                break;
            }
            saw_any = true;
            let (taken, done) = match memchr(b'\n', buf) {
                Some(at) => (at, true),
                None => (buf.len(), false),
            };
            if self.line.len() + taken <= self.max_line_bytes {
                self.line.extend_from_slice(&buf[..taken]);
            }
            length += taken as u64;
            self.input.consume(if done { taken + 1 } else { taken });
            if done {
                break;
            }
        }
        self.line_number += 1;
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
            length -= 1;
        }
        if length > self.max_line_bytes as u64 {
            self.line.clear();
            return Ok(RawLine::TooLong(length));
        }
        self.held = Held::Copied;
        Ok(RawLine::Line)
    }
}

/// The bytes of current line `number`, wherever they are held; a read error is fatal (`failed`).
/// A function of the fields it needs, not a method, so that the borrow leaves the reader's spans
/// and fields free.
fn held_bytes<'a, R: BufRead>(
    input: &'a mut R,
    line: &'a [u8],
    held: Held,
    number: u64,
    failed: &mut bool,
) -> Result<&'a [u8], FlowError> {
    Ok(match held {
        Held::InBuffer { len, .. } => match input.fill_buf() {
            Ok(buf) => &buf[..len],
            Err(source) => {
                *failed = true;
                return Err(FlowError::Read { line: number, source });
            }
        },
        Held::Copied => line,
        Held::Nothing => &[],
    })
}

/// A header is a line whose every token is a field name (`log-status`, or `${log-status}` as in
/// the LogFormat string). Data lines always hold numbers, addresses or `-`, so they never match.
fn parse_header(text: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for token in text.split_ascii_whitespace() {
        let name = token.strip_prefix("${").and_then(|t| t.strip_suffix('}')).unwrap_or(token);
        let mut chars = name.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !starts_with_letter || !rest_ok {
            return None;
        }
        names.push(name.to_string());
    }
    (!names.is_empty()).then_some(names)
}

/// Splits on runs of white space (AWS's own examples contain double spaces), and tells whether
/// the line is plain (see [`FlowLine::plain`]).
///
/// The line is classified sixteen bytes at a time with vector compares into bit masks, 64 bytes
/// per mask; the values' bounds are then the bits where white space starts or stops, so the
/// cost per value is a few bit operations. A line with control characters (tabs included) takes
/// the byte-by-byte path, [`split_spans_slowly`].
fn split_spans(bytes: &[u8], spans: &mut Vec<Range<usize>>) -> bool {
    spans.clear();
    let mut plain = true;
    let mut previous_is_space = true;
    let mut start = 0;
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let Some(classes) = classify(chunk) else {
            return split_spans_slowly(bytes, spans);
        };
        plain &= classes.quotes_and_backslashes == 0;
        let spaces = classes.spaces;
        let mut edges = (spaces ^ ((spaces << 1) | u64::from(previous_is_space))) & valid_bits(chunk.len());
        while edges != 0 {
            let bit = edges.trailing_zeros();
            let at = block * 64 + bit as usize;
            if spaces & (1 << bit) == 0 {
                start = at;
            } else {
                spans.push(start..at);
            }
            edges &= edges - 1;
        }
        previous_is_space = spaces & (1 << (chunk.len() - 1)) != 0;
    }
    if !previous_is_space {
        spans.push(start..bytes.len());
    }
    plain
}

/// One bit per byte of a block of up to 64 bytes.
struct Classes {
    spaces: u64,
    quotes_and_backslashes: u64,
}

/// The classes of `block`'s bytes; `None` when it holds a control character.
fn classify(block: &[u8]) -> Option<Classes> {
    let mut classes = Classes { spaces: 0, quotes_and_backslashes: 0 };
    for (index, piece) in block.chunks(16).enumerate() {
        let chunk = u8x16::new(piece.try_into().unwrap_or_else(|_| {
            // The line's last bytes, padded with a byte of no class.
            let mut padded = [b'a'; 16];
            padded[..piece.len()].copy_from_slice(piece);
            padded
        }));
        let below_or_space = chunk.min(u8x16::splat(b' ')).simd_eq(chunk).to_bitmask();
        let spaces = chunk.simd_eq(u8x16::splat(b' ')).to_bitmask();
        if below_or_space != spaces {
            return None;
        }
        let special = chunk.simd_eq(u8x16::splat(b'"')) | chunk.simd_eq(u8x16::splat(b'\\'));
        classes.spaces |= u64::from(spaces) << (index * 16);
        classes.quotes_and_backslashes |= u64::from(special.to_bitmask()) << (index * 16);
    }
    Some(classes)
}

/// The low `count` bits (`count` ≤ 64).
fn valid_bits(count: usize) -> u64 {
    if count >= 64 { u64::MAX } else { (1 << count) - 1 }
}

/// [`split_spans`] for lines with control characters, byte run by byte run.
fn split_spans_slowly(bytes: &[u8], spans: &mut Vec<Range<usize>>) -> bool {
    spans.clear();
    let mut start = None;
    let mut special = false;
    let mut at = 0;
    loop {
        let next = special_run_end::<0x21>(bytes, at);
        if next > at && start.is_none() {
            start = Some(at);
        }
        let Some(&byte) = bytes.get(next) else { break };
        special |= byte != b' ';
        if byte.is_ascii_whitespace() {
            if let Some(from) = start.take() {
                spans.push(from..next);
            }
        } else if start.is_none() {
            start = Some(next);
        }
        at = next + 1;
    }
    if let Some(from) = start {
        spans.push(from..bytes.len());
    }
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lines = Vec<(u64, Vec<String>)>;

    fn read_all(input: &[u8]) -> (Lines, Vec<String>, Vec<String>) {
        let mut reader = FlowReader::with_max_line_bytes(io::BufReader::with_capacity(5, input), 120);
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        loop {
            match reader.next_line() {
                Ok(Some(line)) => lines.push((line.number, line.values().map(String::from).collect())),
                Ok(None) => break,
                Err(error) => errors.push(error.to_string()),
            }
        }
        (lines, errors, reader.fields().to_vec())
    }

    #[test]
    fn header_names_the_fields() {
        let input = b"version vpc-id srcaddr log-status\n5 vpc-1 10.0.0.1 OK\r\n5  vpc-2   - NODATA\n\n";
        let (lines, errors, fields) = read_all(input);
        assert_eq!(fields, vec!["version", "vpc-id", "srcaddr", "log-status"]);
        assert!(errors.is_empty());
        assert_eq!(lines[0], (2, vec!["5".into(), "vpc-1".into(), "10.0.0.1".into(), "OK".into()]));
        assert_eq!(lines[1], (3, vec!["5".into(), "vpc-2".into(), "-".into(), "NODATA".into()]));
    }

    #[test]
    fn splits_on_any_run_of_white_space() {
        let mut spans = Vec::new();
        for (text, plain) in [("a  b c", true), (" a b c ", true), ("a\tb  c", false), ("a \t b\tc\t", false)]
        {
            assert_eq!(split_spans(text.as_bytes(), &mut spans), plain, "{text:?}");
            let values: Vec<&str> = spans.iter().map(|s| &text[s.clone()]).collect();
            assert_eq!(values, vec!["a", "b", "c"], "{text:?}");
        }
        assert!(!split_spans(br#"a "b""#, &mut spans));
        assert!(!split_spans(br"a\b", &mut spans));
        assert!(!split_spans(b"a\x0bb", &mut spans), "a vertical tab is part of a value");
        assert_eq!(spans, vec![0..3]);
        assert!(split_spans("é ü".as_bytes(), &mut spans));
    }

    #[test]
    fn the_block_split_agrees_with_the_byte_split() {
        // Lines of every length up to 200 made of values and runs of spaces placed at every
        // offset, including across the 16- and 64-byte block bounds.
        let alphabet: &[&[u8]] = &[b"a", b" ", b"  ", b"10.0.0.1", b"\"", b"\\", "é".as_bytes(), b"\t", b"-"];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for length in 0..200 {
            for _ in 0..20 {
                let mut line = Vec::new();
                while line.len() < length {
                    state =
                        state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    // Control characters are rare, so that most lines take the block path.
                    let pick = (state >> 33) as usize % (alphabet.len() * 4);
                    let piece = alphabet
                        .get(pick)
                        .copied()
                        .filter(|p| *p != b"\t" || pick.is_multiple_of(7))
                        .unwrap_or(b"x");
                    line.extend_from_slice(piece);
                }
                let plain = split_spans(&line, &mut fast);
                assert_eq!(
                    plain,
                    split_spans_slowly(&line, &mut slow),
                    "{:?}",
                    String::from_utf8_lossy(&line)
                );
                assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&line));
            }
        }
    }

    #[test]
    fn log_format_tokens_are_accepted_as_header() {
        let (_, _, fields) = read_all(b"${version} ${srcaddr}\n2 1.2.3.4\n");
        assert_eq!(fields, vec!["version", "srcaddr"]);
    }

    #[test]
    fn no_header_means_default_v2_format() {
        let input = b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        let (lines, errors, fields) = read_all(input);
        assert!(errors.is_empty());
        assert_eq!(fields.len(), 14);
        assert_eq!(lines[0].0, 1);
        assert_eq!(lines[0].1[13], "OK");
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let long = format!("2 {}\n", "9".repeat(300));
        let input = [
            b"version srcaddr\n".as_slice(),
            b"2 1.1.1.1 extra\n",
            long.as_bytes(),
            b"2 \xff\xfe\n",
            b"2 2.2.2.2\n",
        ]
        .concat();
        let (lines, errors, _) = read_all(&input);
        assert_eq!(lines, vec![(5, vec!["2".to_string(), "2.2.2.2".to_string()])]);
        assert_eq!(
            errors,
            vec![
                "line 2: 3 fields where the header names 2; line skipped",
                "line 3: 302 bytes, over the 120-byte limit; line skipped",
                "line 4: not UTF-8 text; line skipped",
            ]
        );
    }

    #[test]
    fn read_errors_are_fatal() {
        struct Broken;
        impl io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream"))
            }
        }
        let mut reader = FlowReader::new(io::BufReader::new(Broken));
        let error = reader.next_line().unwrap_err();
        assert!(error.is_fatal());
        assert!(reader.next_line().unwrap().is_none());
    }
}
