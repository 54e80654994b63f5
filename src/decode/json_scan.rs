//! A validating JSON scanner that notes where values are instead of building them.
//!
//! A CloudTrail record is about 1.5 KB of JSON of which the metadata needs a dozen strings. A
//! serde parse into a typed struct spends most of its time on the rest; this scanner walks the
//! bytes once, checks the whole syntax (strings, escapes, numbers, literals, nesting) and hands
//! back [`Span`]s, byte ranges of the strings the caller asked for, relative to the start of the
//! scanned slice. Strings are searched sixteen bytes at a time for the only bytes that matter in
//! them (`"`, `\` and control characters). Spans and errors are one word each, so that results
//! come back in registers (see `ScanError`).
//!
//! Every routine takes the offset to read at and returns the offset after what it read: the
//! caller walks the members it wants (`object_at`, `array_at`, `text_at`) and skips the
//! rest (`skip_value_at`, one loop whatever the nesting).
//!
//! It does not check UTF-8: callers validate the whole record once with `simdutf8`, which is
//! faster than doing it string by string.

use std::borrow::Cow;
use std::num::NonZeroU64;

use wide::u8x16;

/// Nesting deeper than this is refused, as serde_json does, so hostile input cannot exhaust the
/// stack.
const MAX_DEPTH: u32 = 128;

/// Why a scan stopped: [`ScanError::failure`] says how.
///
/// One word, like [`Span`], so that every scanning step's result (`Result<Span, ScanError>`,
/// `Result<Option<Span>, ScanError>`, `Result<(), ScanError>`) is a tag and a word, which comes
/// back in two registers. Returned through memory, its parts were stored separately and then
/// loaded together, a load the processor cannot forward from its store buffer: it waited for the
/// stores to reach the cache after every string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanError(u64);

/// [`ScanError`], unpacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanFailure {
    /// The bytes ended inside the value: more input is needed.
    Incomplete,
    /// The bytes are not JSON: `expected` says what should have been at byte `at`.
    Invalid {
        /// Offset of the offending byte.
        at: usize,
        /// What the grammar allowed there.
        expected: Expected,
    },
}

impl ScanError {
    /// The bytes ended inside the value.
    pub(crate) const INCOMPLETE: ScanError = ScanError(u64::MAX);

    pub(crate) fn invalid(at: usize, expected: Expected) -> ScanError {
        ScanError((at as u64) << 8 | expected as u64)
    }

    /// What went wrong, and where.
    pub(crate) fn failure(self) -> ScanFailure {
        if self == ScanError::INCOMPLETE {
            return ScanFailure::Incomplete;
        }
        ScanFailure::Invalid { at: (self.0 >> 8) as usize, expected: Expected::ALL[self.0 as u8 as usize] }
    }
}

impl std::fmt::Debug for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.failure().fmt(f)
    }
}

/// What the grammar allowed where a scan found something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Expected {
    MemberName,
    ColonAfterName,
    ObjectStart,
    ArrayStart,
    MemberEnd,
    ElementEnd,
    LessNesting,
    NoControlCharacter,
    HexDigits,
    Escape,
    Value,
    Literal,
    Digit,
    NumberEnd,
}

impl Expected {
    /// Every value, in declaration order: `ALL[e as usize] == e`.
    const ALL: [Expected; 14] = [
        Expected::MemberName,
        Expected::ColonAfterName,
        Expected::ObjectStart,
        Expected::ArrayStart,
        Expected::MemberEnd,
        Expected::ElementEnd,
        Expected::LessNesting,
        Expected::NoControlCharacter,
        Expected::HexDigits,
        Expected::Escape,
        Expected::Value,
        Expected::Literal,
        Expected::Digit,
        Expected::NumberEnd,
    ];

    /// The words that complete "expected …" in an error message.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expected::MemberName => "a quoted member name",
            Expected::ColonAfterName => "':' after a member name",
            Expected::ObjectStart => "'{'",
            Expected::ArrayStart => "'['",
            Expected::MemberEnd => "',' or '}' after a member",
            Expected::ElementEnd => "',' or ']' after an element",
            Expected::LessNesting => "less nesting (over 128 levels)",
            Expected::NoControlCharacter => "no raw control character in a string",
            Expected::HexDigits => "four hex digits after \\u",
            Expected::Escape => "a valid escape after '\\'",
            Expected::Value => "a JSON value",
            Expected::Literal => "true, false or null",
            Expected::Digit => "a digit",
            Expected::NumberEnd => "the end of the number",
        }
    }
}

/// The bytes of a JSON string between its quotes, as offsets into the scanned slice.
///
/// One word (start in the low half, end and the escape flag in the high half) so that it is
/// always stored and loaded whole: two 32-bit stores read back as one 64-bit load (as the
/// compiler did with a two-field span) cannot be forwarded from the store buffer, and that stall
/// cost a few percent of the whole scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(NonZeroU64);

const ESCAPED: u64 = 1 << 63;

impl Span {
    /// Offsets are below 2 GiB (records are limited far below that), and `start` is at least 1,
    /// after the opening quote, so a span is never zero and `Option<Span>` is one word too.
    #[inline]
    fn new(start: usize, end: usize, escaped: bool) -> Span {
        debug_assert!(start <= end && end < 1 << 31);
        let bits = start as u64 | (end as u64) << 32 | if escaped { ESCAPED } else { 0 };
        Span(NonZeroU64::new(bits).expect("a string starts after its opening quote"))
    }

    #[inline]
    fn start(self) -> usize {
        self.0.get() as u32 as usize
    }

    #[inline]
    fn end(self) -> usize {
        ((self.0.get() & !ESCAPED) >> 32) as usize
    }

    /// The string's value, unescaped, from `text`, the slice that was scanned. It is borrowed
    /// exactly when the string held no escape, and then, having no `"`, `\\` or control
    /// character either, it is also a JSON string's content as it is.
    #[inline]
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let raw = self.json_content(text);
        if self.is_escaped() { Cow::Owned(unescape(raw)) } else { Cow::Borrowed(raw) }
    }

    /// The string as written between its quotes, escapes and all. The scanner checked it, so it
    /// is valid JSON string content: copied between quotes it is the same JSON string again.
    #[inline]
    pub fn json_content<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start()..self.end()]
    }

    /// True when the string holds an escape sequence.
    #[inline]
    pub fn is_escaped(&self) -> bool {
        self.0.get() & ESCAPED != 0
    }

    /// True for `""`.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start() == self.end()
    }

    /// The raw bytes between the quotes (escapes not decoded).
    #[inline]
    pub(crate) fn raw<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.range()]
    }

    /// Where the bytes between the quotes are in the scanned slice.
    #[inline]
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.start()..self.end()
    }
}

/// Reads the object at `at` (white space before it allowed), inside `depth` open containers:
/// `member` is called with each key (unescaped) and the offset of its value, and returns the
/// offset after the value. Returns the offset after the object.
pub(crate) fn object_at(
    bytes: &[u8],
    at: usize,
    depth: u32,
    mut member: impl FnMut(&[u8], usize, u32) -> Result<usize, ScanError>,
) -> Result<usize, ScanError> {
    let (mut at, empty) = open_at(bytes, at, depth, b'{', b'}', Expected::ObjectStart)?;
    if empty {
        return Ok(at);
    }
    loop {
        let (quote, byte) = peek_at(bytes, at)?;
        if byte != b'"' {
            return Err(ScanError::invalid(quote, Expected::MemberName));
        }
        let key = string_at(bytes, quote)?;
        let (colon, byte) = peek_at(bytes, key.end() + 1)?;
        if byte != b':' {
            return Err(ScanError::invalid(colon, Expected::ColonAfterName));
        }
        let raw = key.raw(bytes);
        at = if key.is_escaped() {
            member(&unescape_bytes(raw), colon + 1, depth + 1)?
        } else {
            member(raw, colon + 1, depth + 1)?
        };
        match item_end_at(bytes, at, b'}', Expected::MemberEnd)? {
            (next, false) => at = next,
            (end, true) => return Ok(end),
        }
    }
}

/// Reads the array at `at` (white space before it allowed), inside `depth` open containers:
/// `element` is called with the offset of each element, and returns the offset after it.
/// Returns the offset after the array.
pub(crate) fn array_at(
    bytes: &[u8],
    at: usize,
    depth: u32,
    mut element: impl FnMut(usize, u32) -> Result<usize, ScanError>,
) -> Result<usize, ScanError> {
    let (mut at, empty) = open_at(bytes, at, depth, b'[', b']', Expected::ArrayStart)?;
    if empty {
        return Ok(at);
    }
    loop {
        at = element(at, depth + 1)?;
        match item_end_at(bytes, at, b']', Expected::ElementEnd)? {
            (next, false) => at = next,
            (end, true) => return Ok(end),
        }
    }
}

/// Opens the container that must start at `at` (after white space): the offset of its first
/// item, or, when it is empty (`true`), the offset after it.
#[inline(always)]
fn open_at(
    bytes: &[u8],
    at: usize,
    depth: u32,
    open: u8,
    close: u8,
    expected: Expected,
) -> Result<(usize, bool), ScanError> {
    let (start, byte) = peek_at(bytes, at)?;
    if byte != open {
        return Err(ScanError::invalid(start, expected));
    }
    if depth == MAX_DEPTH {
        return Err(ScanError::invalid(start, Expected::LessNesting));
    }
    match peek_at(bytes, start + 1)? {
        (close_at, byte) if byte == close => Ok((close_at + 1, true)),
        (first, _) => Ok((first, false)),
    }
}

/// After a member or element at `at`: a `,` (the offset after it, `false`) or `close` (the
/// offset after it, `true`: the container ends).
#[inline(always)]
fn item_end_at(bytes: &[u8], at: usize, close: u8, expected: Expected) -> Result<(usize, bool), ScanError> {
    match peek_at(bytes, at)? {
        (next, b',') => Ok((next + 1, false)),
        (next, byte) if byte == close => Ok((next + 1, true)),
        (next, _) => Err(ScanError::invalid(next, expected)),
    }
}

/// The string value at `at` into `text`, or `None` there for a value of any other type
/// (checked and skipped). Returns the offset after the value.
#[inline(always)]
pub(crate) fn text_at(
    bytes: &[u8],
    at: usize,
    depth: u32,
    text: &mut Option<Span>,
) -> Result<usize, ScanError> {
    let (start, byte) = peek_at(bytes, at)?;
    if byte == b'"' {
        let span = string_at(bytes, start)?;
        *text = Some(span);
        return Ok(span.end() + 1);
    }
    *text = None;
    skip_value_at(bytes, start, depth)
}

/// `true` or `false` at `at` into `flag`, or `None` there for any other value; the strings
/// `"true"` and `"false"` count too, as the LookupEvents API writes `readOnly` that way.
/// Returns the offset after the value.
pub(crate) fn flag_at(
    bytes: &[u8],
    at: usize,
    depth: u32,
    flag: &mut Option<bool>,
) -> Result<usize, ScanError> {
    let (start, byte) = peek_at(bytes, at)?;
    let (end, value) = match byte {
        b't' | b'f' => (literal_end(bytes, start)?, Some(byte == b't')),
        b'"' => {
            let span = string_at(bytes, start)?;
            let value = match span.raw(bytes) {
                b"true" => Some(true),
                b"false" => Some(false),
                _ => None,
            };
            (span.end() + 1, value)
        }
        _ => (skip_value_at(bytes, start, depth)?, None),
    };
    *flag = value;
    Ok(end)
}

/// A scalar value read where a filter asked for one; containers are only skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// A string (its span in the scanned slice).
    Text(Span),
    /// A number, as written (its byte range).
    Number(usize, usize),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object or an array.
    Container,
}

/// The value at `at` as a [`Scalar`], and the offset after it.
pub(crate) fn scalar_at(bytes: &[u8], at: usize, depth: u32) -> Result<(Scalar, usize), ScanError> {
    let (start, byte) = peek_at(bytes, at)?;
    match byte {
        b'"' => {
            let span = string_at(bytes, start)?;
            Ok((Scalar::Text(span), span.end() + 1))
        }
        b't' | b'f' => Ok((Scalar::Bool(byte == b't'), literal_end(bytes, start)?)),
        b'n' => Ok((Scalar::Null, literal_end(bytes, start)?)),
        b'{' | b'[' => Ok((Scalar::Container, skip_value_at(bytes, start, depth)?)),
        _ => {
            let end = number_end(bytes, start)?;
            Ok((Scalar::Number(start, end), end))
        }
    }
}

// Every routine takes the offset to read at by value and returns where it stopped, so that the
// cursor stays in a register. Threaded through a `&mut` cursor object (the earlier design: a call
// and a callback per level and per member), it went to memory and back around every call.

/// The first byte at or after `at` that is not white space, and its offset.
#[inline(always)]
pub(crate) fn peek_at(bytes: &[u8], mut at: usize) -> Result<(usize, u8), ScanError> {
    while let Some(&byte) = bytes.get(at) {
        if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
            return Ok((at, byte));
        }
        at += 1;
    }
    Err(ScanError::INCOMPLETE)
}

/// Skips the value at `at` (white space before it allowed), inside `depth` open containers;
/// returns the offset just after it.
///
/// One loop whatever the nesting, as serde_json's `ignore_value` does: the open containers are
/// bits of a `u128` (1 for an array, 0 for an object, innermost lowest), which is enough as no
/// more than [`MAX_DEPTH`] can be open. Errors are those of [`object_at`] and [`array_at`],
/// at the same offsets.
pub(crate) fn skip_value_at(bytes: &[u8], mut at: usize, depth: u32) -> Result<usize, ScanError> {
    let mut arrays: u128 = 0;
    let mut open: u32 = 0;
    loop {
        // A value starts here.
        let (start, byte) = peek_at(bytes, at)?;
        at = match byte {
            b'"' => string_at(bytes, start)?.end() + 1,
            b'{' | b'[' => {
                if depth + open == MAX_DEPTH {
                    return Err(ScanError::invalid(start, Expected::LessNesting));
                }
                let (first, next) = peek_at(bytes, start + 1)?;
                let is_array = byte == b'[';
                if next == if is_array { b']' } else { b'}' } {
                    first + 1
                } else {
                    open += 1;
                    arrays = arrays << 1 | u128::from(is_array);
                    at = if is_array { first } else { member_name_end(bytes, first)? };
                    continue;
                }
            }
            b't' | b'f' | b'n' => literal_end(bytes, start)?,
            b'-' | b'0'..=b'9' => number_end(bytes, start)?,
            _ => return Err(ScanError::invalid(start, Expected::Value)),
        };
        // A value ended at `at`: close what it completes, up to the next member or element.
        while open > 0 {
            let in_array = arrays & 1 == 1;
            let (next, byte) = peek_at(bytes, at)?;
            match byte {
                b',' if in_array => {
                    at = next + 1;
                    break;
                }
                b',' => {
                    at = member_name_end(bytes, next + 1)?;
                    break;
                }
                b']' if in_array => {}
                b'}' if !in_array => {}
                _ => {
                    let expected = if in_array { Expected::ElementEnd } else { Expected::MemberEnd };
                    return Err(ScanError::invalid(next, expected));
                }
            }
            at = next + 1;
            open -= 1;
            arrays >>= 1;
        }
        if open == 0 {
            return Ok(at);
        }
    }
}

/// Reads `"name" :` at `at` (white space allowed around it); returns the offset after the colon.
#[inline(always)]
fn member_name_end(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    let (quote, byte) = peek_at(bytes, at)?;
    if byte != b'"' {
        return Err(ScanError::invalid(quote, Expected::MemberName));
    }
    let after = string_at(bytes, quote)?.end() + 1;
    let (colon, byte) = peek_at(bytes, after)?;
    if byte != b':' {
        return Err(ScanError::invalid(colon, Expected::ColonAfterName));
    }
    Ok(colon + 1)
}

/// Reads the string whose opening quote is at `quote`.
///
/// Most strings of a log record (member names, ids, regions, ARNs of short paths) are shorter
/// than 32 bytes and plain: those end here, inline, after two 16-byte compares; the others go on
/// in [`string_rest_at`]. (Sixteen bytes sent every id and most ARNs to the loop; cachegrind
/// counts 15 % fewer mispredicted branches for the scan with 32.)
#[inline(always)]
fn string_at(bytes: &[u8], quote: usize) -> Result<Span, ScanError> {
    let start = quote + 1;
    if let Some(chunk) = bytes.get(start..start + 32) {
        let (low, low_quotes) = special_and_quote_masks::<0x20>(chunk[..16].try_into().expect("16 bytes"));
        let (high, high_quotes) = special_and_quote_masks::<0x20>(chunk[16..].try_into().expect("16 bytes"));
        let special = low | high << 16;
        let quotes = low_quotes | high_quotes << 16;
        // The lowest special byte is the closing quote: no escape or control character before it.
        if special & special.wrapping_neg() & quotes != 0 {
            return Ok(Span::new(start, start + special.trailing_zeros() as usize, false));
        }
    }
    string_rest_at(bytes, start)
}

/// [`string_at`] for strings that are long or hold escapes (or for the end of the input).
#[inline(never)]
fn string_rest_at(bytes: &[u8], start: usize) -> Result<Span, ScanError> {
    let mut at = start;
    let mut escaped = false;
    loop {
        at = plain_run_end(bytes, at);
        match bytes.get(at) {
            None => return Err(ScanError::INCOMPLETE),
            Some(b'"') => return Ok(Span::new(start, at, escaped)),
            Some(b'\\') => {
                escaped = true;
                at = escape_end(bytes, at)?;
            }
            Some(_) => return Err(ScanError::invalid(at, Expected::NoControlCharacter)),
        }
    }
}

/// Checks the escape sequence at `at` (a backslash) and returns the offset after it.
fn escape_end(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    match bytes.get(at + 1) {
        None => Err(ScanError::INCOMPLETE),
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(at + 2),
        Some(b'u') => {
            let Some(digits) = bytes.get(at + 2..at + 6) else {
                return Err(ScanError::INCOMPLETE);
            };
            match digits.iter().position(|d| !d.is_ascii_hexdigit()) {
                Some(bad) => Err(ScanError::invalid(at + 2 + bad, Expected::HexDigits)),
                None => Ok(at + 6),
            }
        }
        Some(_) => Err(ScanError::invalid(at + 1, Expected::Escape)),
    }
}

/// Checks the `true`, `false` or `null` that starts at `at` (by its first byte); the offset after it.
#[inline]
fn literal_end(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    let word: &[u8] = match bytes[at] {
        b't' => b"true",
        b'f' => b"false",
        _ => b"null",
    };
    // A compare of a known length is a load and a compare; of a length known only at run time, it
    // is a call to `bcmp`.
    let whole = match word.len() {
        4 => bytes.get(at..at + 4) == Some(&word[..4]),
        _ => bytes.get(at..at + 5) == Some(&word[..5]),
    };
    if whole {
        return Ok(at + word.len());
    }
    let available = &bytes[at..];
    let compared = word.len().min(available.len());
    if available[..compared] != word[..compared] {
        return Err(ScanError::invalid(at, Expected::Literal));
    }
    if compared < word.len() {
        return Err(ScanError::INCOMPLETE);
    }
    Ok(at + word.len())
}

/// Checks the number at `at`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, followed by
/// something that is not part of a number. Returns the offset after it.
fn number_end(bytes: &[u8], mut at: usize) -> Result<usize, ScanError> {
    if bytes[at] == b'-' {
        at += 1;
    }
    at = match bytes.get(at) {
        None => return Err(ScanError::INCOMPLETE),
        Some(b'0') => at + 1,
        Some(b'1'..=b'9') => digits_end(bytes, at)?,
        Some(_) => return Err(ScanError::invalid(at, Expected::Digit)),
    };
    if bytes.get(at) == Some(&b'.') {
        at = digits_end(bytes, at + 1)?;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        at = digits_end(bytes, at)?;
    }
    match bytes.get(at) {
        None => Err(ScanError::INCOMPLETE),
        Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') => {
            Err(ScanError::invalid(at, Expected::NumberEnd))
        }
        Some(_) => Ok(at),
    }
}

/// One or more digits at `at`; the offset after them.
fn digits_end(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    let count = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return match bytes.get(at) {
            None => Err(ScanError::INCOMPLETE),
            Some(_) => Err(ScanError::invalid(at, Expected::Digit)),
        };
    }
    Ok(at + count)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The offset of the first `"`, `\` or control character at or after `at`, or the length.
#[inline]
fn plain_run_end(bytes: &[u8], at: usize) -> usize {
    special_run_end::<0x20>(bytes, at)
}

/// The offset of the first `"`, `\` or byte below `BELOW` at or after `at`, or the length.
/// (Flow-log lines use `BELOW = 0x21`, which adds the space that separates their values.)
///
/// Sixteen bytes at a time with vector compares (SSE2 on x86-64, NEON on ARM, through `wide`),
/// then eight at a time in a word for the tail.
#[inline]
pub(crate) fn special_run_end<const BELOW: u8>(bytes: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = bytes.get(at..at + 16) {
        let mask = special_mask::<BELOW>(chunk.try_into().expect("sixteen bytes"));
        if mask != 0 {
            return at + mask.trailing_zeros() as usize;
        }
        at += 16;
    }
    special_run_end_in_words::<BELOW>(bytes, at)
}

/// One bit per byte of `chunk` (bit `i` for byte `i`), set for `"`, `\` and bytes below `BELOW`.
#[inline]
pub(crate) fn special_mask<const BELOW: u8>(chunk: &[u8; 16]) -> u32 {
    special_and_quote_masks::<BELOW>(chunk).0
}

/// [`special_mask`], and the mask of the quotes alone.
#[inline(always)]
fn special_and_quote_masks<const BELOW: u8>(chunk: &[u8; 16]) -> (u32, u32) {
    let bytes = u8x16::new(*chunk);
    let quotes = bytes.simd_eq(u8x16::splat(b'"'));
    let below = bytes.min(u8x16::splat(BELOW - 1)).simd_eq(bytes);
    let special = quotes | bytes.simd_eq(u8x16::splat(b'\\')) | below;
    (special.to_bitmask(), quotes.to_bitmask())
}

/// [`special_run_end`] eight bytes at a time: for each kind, `(x - ONES·k) & !x & HIGH_BITS` flags
/// the bytes below `k` (after `x ^ ONES·c` turned the bytes equal to `c` into zeros). A borrow
/// can only flag bytes above a true match, so the lowest flag is exact. Only the last bytes of a
/// buffer come here: kept out of line, so that its constants do not weigh on every string.
#[cold]
#[inline(never)]
fn special_run_end_in_words<const BELOW: u8>(bytes: &[u8], mut at: usize) -> usize {
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * u64::from(BELOW)) & !word);
        let found = found & HIGH_BITS;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' || byte == b'\\' || byte < BELOW {
            break;
        }
        at += 1;
    }
    at
}

/// Decodes the escapes of a string body the scanner accepted. A lone surrogate (`\ud800`)
/// becomes U+FFFD rather than failing the whole record.
fn unescape(raw: &str) -> String {
    let decoded = unescape_bytes(raw.as_bytes());
    String::from_utf8(decoded).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

fn unescape_bytes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let byte = raw[at];
        if byte != b'\\' || at + 1 >= raw.len() {
            out.push(byte);
            at += 1;
            continue;
        }
        let simple = match raw[at + 1] {
            b'b' => Some(b'\x08'),
            b'f' => Some(b'\x0c'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            other => Some(other),
        };
        if let Some(simple) = simple {
            out.push(simple);
            at += 2;
            continue;
        }
        let unit = hex_unit(raw, at + 2);
        at += 6;
        let code = match unit {
            Some(high @ 0xD800..=0xDBFF) => match (raw.get(at..at + 2), hex_unit(raw, at + 2)) {
                (Some(b"\\u"), Some(low @ 0xDC00..=0xDFFF)) => {
                    at += 6;
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                }
                _ => 0xFFFD,
            },
            Some(unit) => unit,
            None => 0xFFFD,
        };
        let character = char::from_u32(code).unwrap_or('\u{FFFD}');
        out.extend_from_slice(character.encode_utf8(&mut [0; 4]).as_bytes());
    }
    out
}

/// The four hex digits at `at`, if there are four.
fn hex_unit(raw: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(raw.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(text: &str) -> Result<usize, ScanError> {
        skip_value_at(text.as_bytes(), 0, 0)
    }

    fn string(text: &str) -> Result<Span, ScanError> {
        string_at(text.as_bytes(), 0)
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        let documents = [
            r#"{"a":[1,-2.5e+3,0,0.5,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{},"c":[]} "#,
            "{ \"a\" :\t[ 1 ,\n{ } ] } ",
            r#""plain" "#,
            "-0 ",
            r#"{"long":"0123456789abcdef0123456789abcdef","é":"ünïcödé"} "#,
        ];
        for document in documents {
            let end = skip(document).unwrap_or_else(|e| panic!("{document}: {e:?}"));
            assert_eq!(end, document.trim_end().len(), "{document}");
            serde_json::from_str::<serde_json::Value>(document).unwrap();
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        let documents = [
            r#"{"a":tru} "#,
            r#"{"a":01} "#,
            r#"{"a":1.} "#,
            r#"{"a":-} "#,
            r#"{"a":1e} "#,
            r#"{"a" 1} "#,
            r#"{"a":1,} "#,
            r#"[1 2] "#,
            r#"{a:1} "#,
            "{\"a\":\"tab\there\"} ",
            r#"{"a":"\x"} "#,
            r#"{"a":"\u12G4"} "#,
            r#"{"a":+1} "#,
        ];
        for document in documents {
            assert!(
                matches!(skip(document).map_err(ScanError::failure), Err(ScanFailure::Invalid { .. })),
                "{document}"
            );
            assert!(serde_json::from_str::<serde_json::Value>(document).is_err(), "{document}");
        }
    }

    #[test]
    fn a_cut_document_is_incomplete_wherever_it_is_cut() {
        let document =
            r#"{"a":[1,-2.5e+3,true,null,"x\"\u00e9 long enough to cross eight"],"b":{"c":false}} "#;
        let complete = document.trim_end().len();
        for cut in 0..complete {
            assert_eq!(skip(&document[..cut]), Err(ScanError::INCOMPLETE), "cut at {cut}");
        }
        assert_eq!(skip(document), Ok(complete));
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!("{}{} ", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            skip(&deep).map_err(ScanError::failure),
            Err(ScanFailure::Invalid { expected: Expected::LessNesting, .. })
        ));
        let fine = format!("{}{} ", "[".repeat(100), "]".repeat(100));
        assert!(skip(&fine).is_ok());
    }

    /// Skips one value by walking [`object_at`] and [`array_at`] recursively: the grammar,
    /// error codes and offsets that `skip_value_at`'s single loop must reproduce.
    fn skip_by_walking(bytes: &[u8], at: usize, depth: u32) -> Result<usize, ScanError> {
        match peek_at(bytes, at)? {
            (start, b'{') => object_at(bytes, start, depth, |_, at, depth| skip_by_walking(bytes, at, depth)),
            (start, b'[') => array_at(bytes, start, depth, |at, depth| skip_by_walking(bytes, at, depth)),
            // Scalars alone: the loop then never opens a container.
            (start, _) => skip_value_at(bytes, start, depth),
        }
    }

    fn both_skips(text: &[u8]) -> (Result<usize, ScanError>, Result<usize, ScanError>) {
        (skip_value_at(text, 0, 0), skip_by_walking(text, 0, 0))
    }

    #[test]
    fn the_skip_loop_agrees_with_the_recursive_walk_on_every_change() {
        let mut rng = crate::corpus::Rng::new(7);
        let generated =
            crate::corpus::cloudtrail::record(&mut rng, "111122223333", "us-east-1", 1_700_000_000);
        let documents = [
            serde_json::to_string(&generated).unwrap(),
            serde_json::to_string_pretty(&generated).unwrap(),
            r#"{"a":[1,-2.5e+3,0,{"b":[[],{}]},true,false,null,"x\"\u00e9"],"c":{"d":{"e":[null]}}} "#
                .to_string(),
            " [ { } , [ ] , \"s\" , 0.5e-1 ] ".to_string(),
        ];
        let replacements = b"\"\\{}[],: \t0-e.atfn\x01";
        for document in &documents {
            let bytes = document.as_bytes();
            let (looped, walked) = both_skips(bytes);
            assert!(looped.is_ok(), "{document}");
            assert_eq!(looped, walked);
            let mut changed = bytes.to_vec();
            for at in 0..bytes.len() {
                for &replacement in replacements {
                    changed[at] = replacement;
                    let (looped, walked) = both_skips(&changed);
                    assert_eq!(looped, walked, "{:?}", String::from_utf8_lossy(&changed));
                }
                changed[at] = bytes[at];
                let mut deleted = bytes.to_vec();
                deleted.remove(at);
                let (looped, walked) = both_skips(&deleted);
                assert_eq!(looped, walked, "{:?}", String::from_utf8_lossy(&deleted));
                let (looped, walked) = both_skips(&bytes[..at]);
                assert_eq!(looped, walked, "cut at {at}");
            }
        }
    }

    #[test]
    fn the_skip_loop_limits_nesting_like_the_walk() {
        for depth in [126, 127, 128, 129, 200] {
            for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
                let text = format!("{}0{} ", open.repeat(depth), close.repeat(depth));
                let (looped, walked) = both_skips(text.as_bytes());
                assert_eq!(looped, walked, "{depth} {open}");
                assert_eq!(looped.is_ok(), depth <= 128, "{depth} {open}");
            }
        }
    }

    #[test]
    fn spans_unescape() {
        let text = r#""a\"b\\c\n\u00e9\ud83d\ude00\ud800x""#;
        let span = string(text).unwrap();
        assert_eq!(span.text(text), "a\"b\\c\né😀\u{FFFD}x");
        let plain = r#""plain""#;
        let span = string(plain).unwrap();
        assert!(matches!(span.text(plain), Cow::Borrowed("plain")));
    }

    #[test]
    fn strings_of_every_length_end_at_their_closing_quote() {
        // Around the 32-byte inline check and its 16-byte halves, with room after or not.
        for len in 0..70 {
            let body = "x".repeat(len);
            for tail in ["", ",\"next\":1} padding to fill forty bytes or more"] {
                let text = format!("\"{body}\"{tail}");
                let span = string(&text).unwrap();
                assert_eq!((span.json_content(&text), span.is_escaped()), (body.as_str(), false), "{len}");
                let escaped = format!("\"{body}\\n{body}\"{tail}");
                let span = string(&escaped).unwrap();
                assert_eq!(span.text(&escaped), format!("{body}\n{body}"), "{len}");
                let control = format!("\"{body}\t\"{tail}");
                assert!(matches!(
                    string(&control).map_err(ScanError::failure),
                    Err(ScanFailure::Invalid { expected: Expected::NoControlCharacter, at }) if at == len + 1
                ));
            }
        }
    }

    #[test]
    fn the_word_search_finds_the_first_special_byte() {
        for position in 0..20 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                let mut bytes = vec![b'a'; 20];
                bytes[position] = special;
                bytes[19.min(position + 3)] = b'"';
                assert_eq!(plain_run_end(&bytes, 0), position, "{special:#x} at {position}");
            }
        }
        assert_eq!(plain_run_end("ééééé ü".as_bytes(), 0), "ééééé ü".len());
        assert_eq!(special_run_end::<0x21>(b"0123456789 ", 0), 10);
        // Every byte value at every place of the vector search and of the tail after it.
        let scalar = |bytes: &[u8], below: u8| {
            bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < below).unwrap_or(bytes.len())
        };
        for value in 0..=255u8 {
            for position in 0..40 {
                let mut bytes = vec![b'a'; 40];
                bytes[position] = value;
                assert_eq!(
                    special_run_end::<0x20>(&bytes, 0),
                    scalar(&bytes, 0x20),
                    "{value:#x} at {position}"
                );
                assert_eq!(
                    special_run_end::<0x21>(&bytes, 3),
                    3 + scalar(&bytes[3..], 0x21),
                    "{value:#x} at {position}"
                );
            }
        }
        assert_eq!(special_run_end::<0x21>(b"0123 ", 0), 4);
    }
}
