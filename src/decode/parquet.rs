//! VPC Flow Logs in Apache Parquet (`FileFormat=parquet`, `.log.parquet`), read as the text file
//! AWS would have written in their place.
//!
//! [`ParquetText`] is a [`BufRead`] of that text: a header line of the columns' names (AWS's
//! Parquet names with `_`, `account_id`, become the text names with `-`, `account-id`), then one
//! line per row, values in the file's column order separated by one space, a null as `-`. The
//! text flow-log reader then reads it like any other flow-log file, so a record normalizes to the
//! same metadata, the same `raw` line and (see `normalize::ObjectContext`) the same `event_id`
//! whether AWS delivered it as text or as Parquet. Rows are decoded one row group at a time, so
//! memory holds the file's bytes and one row group's text. A row group that cannot be decoded
//! ends the text with an error after the rows before it, as a truncated gzip stream does.

// Outside input reaches this code: no path may panic on it (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

use std::io::{self, BufRead, Read};

use parquet::column::reader::ColumnReader;
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::record::Field;

/// The magic bytes that begin (and end) every Parquet file.
pub const MAGIC: &[u8; 4] = b"PAR1";

/// The text of a Parquet flow-log file.
pub struct ParquetText {
    reader: SerializedFileReader<bytes::Bytes>,
    next_group: usize,
    text: Vec<u8>,
    position: usize,
    failed: Option<String>,
    /// The file's size, against which the sizes its metadata claims are checked.
    file_bytes: usize,
}

impl ParquetText {
    /// Opens a whole Parquet file; its footer (the schema and the row groups) is read now.
    pub fn new(file: Vec<u8>) -> io::Result<Self> {
        let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
        // As in `next_group`: a panic of the crate on a malformed footer is damage, not a crash.
        let file_bytes = file.len();
        let opened = contained(|| SerializedFileReader::new(bytes::Bytes::from(file)))
            .map_err(|_| invalid("Parquet: the file's footer is inconsistent".to_string()))?;
        let reader = opened.map_err(|error| invalid(format!("Parquet: {error}")))?;
        let names: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|column| column.name().replace('_', "-"))
            .collect();
        let mut text = names.join(" ").into_bytes();
        text.push(b'\n');
        Ok(ParquetText { reader, next_group: 0, text, position: 0, failed: None, file_bytes })
    }

    /// Decodes the next row group into text; false when there is none left.
    fn next_group(&mut self) -> io::Result<bool> {
        if let Some(message) = &self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, message.clone()));
        }
        if self.next_group >= self.reader.num_row_groups() {
            return Ok(false);
        }
        let group = self.next_group;
        self.next_group += 1;
        if let Err(message) = check_chunks(&self.reader, group, self.file_bytes) {
            return Err(self.fail(message));
        }
        // The crate asserts on some malformed files rather than failing; a file is outside input,
        // so such a panic is caught and the row group reported like any other damage.
        let text = std::mem::take(&mut self.text);
        let decoded = contained(|| decode_group(&self.reader, group, text)).unwrap_or_else(|_| {
            Err(format!("Parquet row group {}: the file's metadata is inconsistent", group + 1))
        });
        match decoded {
            Ok(text) => {
                self.text = text;
                self.position = 0;
                Ok(true)
            }
            Err(message) => Err(self.fail(message)),
        }
    }

    /// Remembers a failure: the rows decoded before it stay readable, then every read fails.
    fn fail(&mut self, message: String) -> io::Error {
        self.failed = Some(message.clone());
        self.text.clear();
        self.position = 0;
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

thread_local! {
    /// True while this thread runs the `parquet` crate on a file, whose panics are contained.
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` (the `parquet` crate on outside input), turning a panic into an error. The crate
/// asserts (panics) on some malformed files instead of failing (fuzzing found a negative chunk
/// offset and a dictionary-encoded page without a dictionary); such a file is damage to report,
/// not a reason to print a panic or stop. Panics anywhere else are left to the usual hook.
fn contained<T>(work: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    CONTAINED.with(|contained| contained.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CONTAINED.with(|contained| contained.set(false));
    result
}

/// Rows a byte of file may hold at most. Flow-log rows take tens of bytes each even compressed;
/// a row group claiming more rows than this would only make room for rows that are not there.
const ROWS_PER_BYTE: usize = 8;

/// Checks what row group `group` claims before the crate acts on it: every column chunk lies
/// inside the file (the crate asserts, that is panics, on a negative offset or size), and the
/// number of rows fits the file's size (the decoder reserves room for every row claimed). Both
/// were found by fuzzing.
fn check_chunks(
    reader: &SerializedFileReader<bytes::Bytes>,
    group: usize,
    file_bytes: usize,
) -> Result<(), String> {
    let metadata = reader.metadata().row_group(group);
    let rows = metadata.num_rows();
    if usize::try_from(rows).map_or(true, |rows| rows > file_bytes.saturating_mul(ROWS_PER_BYTE)) {
        return Err(format!(
            "Parquet row group {}: claims {rows} rows in a file of {file_bytes} bytes",
            group + 1
        ));
    }
    for (index, column) in metadata.columns().iter().enumerate() {
        let start = column.dictionary_page_offset().unwrap_or_else(|| column.data_page_offset());
        let length = column.compressed_size();
        if start < 0 || length < 0 || start.checked_add(length).is_none() {
            return Err(format!(
                "Parquet row group {}: column {} has an impossible place in the file (offset {start}, size {length})",
                group + 1,
                index + 1
            ));
        }
    }
    Ok(())
}

/// A dictionary page may not claim more values than it has bytes: the decoder makes room for as
/// many values as the page's header claims, and a header claiming 671 million values in 20 bytes
/// made it ask for 21 GB (found by fuzzing). Each dictionary value takes at least a byte.
fn check_dictionary(page: &parquet::column::page::Page) -> parquet::errors::Result<()> {
    if let parquet::column::page::Page::DictionaryPage { buf, num_values, .. } = page
        && usize::try_from(*num_values).map_or(true, |values| values > buf.len())
    {
        return Err(parquet::errors::ParquetError::General(format!(
            "a dictionary page claims {num_values} values in {} bytes",
            buf.len()
        )));
    }
    Ok(())
}

/// The pages of a column chunk, each dictionary page checked ([`check_dictionary`]) before the
/// column reader sees it.
struct CheckedPages(Box<dyn parquet::column::page::PageReader>);

impl Iterator for CheckedPages {
    type Item = parquet::errors::Result<parquet::column::page::Page>;

    fn next(&mut self) -> Option<Self::Item> {
        parquet::column::page::PageReader::get_next_page(self).transpose()
    }
}

impl parquet::column::page::PageReader for CheckedPages {
    fn get_next_page(&mut self) -> parquet::errors::Result<Option<parquet::column::page::Page>> {
        let page = self.0.get_next_page()?;
        if let Some(page) = &page {
            check_dictionary(page)?;
        }
        Ok(page)
    }

    fn peek_next_page(&mut self) -> parquet::errors::Result<Option<parquet::column::page::PageMetadata>> {
        self.0.peek_next_page()
    }

    fn skip_next_page(&mut self) -> parquet::errors::Result<()> {
        self.0.skip_next_page()
    }

    fn supports_deferred_dictionary(&self) -> bool {
        self.0.supports_deferred_dictionary()
    }

    fn take_deferred_dictionary(&mut self) -> parquet::errors::Result<Option<parquet::column::page::Page>> {
        let page = self.0.take_deferred_dictionary()?;
        if let Some(page) = &page {
            check_dictionary(page)?;
        }
        Ok(page)
    }
}

/// The same check before the crate's row API reads a row group (files with columns of other
/// types than AWS writes), which takes no page reader of ours.
fn check_dictionaries(reader: &SerializedFileReader<bytes::Bytes>, group: usize) -> Result<(), String> {
    let failed = |error: &dyn std::fmt::Display| format!("Parquet row group {}: {error}", group + 1);
    let group_reader = reader.get_row_group(group).map_err(|error| failed(&error))?;
    for index in 0..group_reader.num_columns() {
        let mut pages = group_reader.get_column_page_reader(index).map_err(|error| failed(&error))?;
        // The header alone says whether the first page is a dictionary: only those are read.
        let first = pages.peek_next_page().map_err(|error| failed(&error))?;
        if !first.is_some_and(|page| page.is_dict) {
            continue;
        }
        if let Some(parquet::column::page::Page::DictionaryPage { buf, num_values, .. }) =
            pages.get_next_page().map_err(|error| failed(&error))?
            && usize::try_from(num_values).map_or(true, |values| values > buf.len())
        {
            return Err(failed(&format!(
                "column {}: a dictionary page claims {num_values} values in {} bytes",
                index + 1,
                buf.len()
            )));
        }
    }
    Ok(())
}

/// The text of row group `group`, written into `text` (cleared first, its room reused). The
/// columns AWS writes (INT32, INT64 and strings) are decoded column by column into plain
/// vectors, then laid out row by row; a file with a column of another type goes through the
/// crate's row API instead, which allocates for every value.
fn decode_group(
    reader: &SerializedFileReader<bytes::Bytes>,
    group: usize,
    mut text: Vec<u8>,
) -> Result<Vec<u8>, String> {
    text.clear();
    let failed = |error: &dyn std::fmt::Display| format!("Parquet row group {}: {error}", group + 1);
    let group_reader = reader.get_row_group(group).map_err(|error| failed(&error))?;
    let rows = usize::try_from(group_reader.metadata().num_rows()).unwrap_or(0);
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut columns = Vec::with_capacity(schema.num_columns());
    for index in 0..schema.num_columns() {
        let max_level = schema.column(index).max_def_level();
        let pages = group_reader.get_column_page_reader(index).map_err(|error| failed(&error))?;
        let column =
            parquet::column::reader::get_column_reader(schema.column(index), Box::new(CheckedPages(pages)));
        match read_column(column, rows, max_level).map_err(|error| failed(&error))? {
            Some(column) => columns.push(column),
            None => {
                check_dictionaries(reader, group)?;
                return rows_of(&*group_reader, text).map_err(|error| failed(&error));
            }
        }
    }
    let mut next = vec![0usize; columns.len()];
    let mut number = itoa::Buffer::new();
    for row in 0..rows {
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                text.push(b' ');
            }
            let present = column.max_level == 0 || column.levels.get(row) == Some(&column.max_level);
            if !present {
                text.push(b'-');
                continue;
            }
            let Some(cursor) = next.get_mut(index) else { continue };
            let at = *cursor;
            *cursor += 1;
            let value: &[u8] = match &column.values {
                Values::Int32(values) => {
                    number.format(values.get(at).copied().unwrap_or_default()).as_bytes()
                }
                Values::Int64(values) => {
                    number.format(values.get(at).copied().unwrap_or_default()).as_bytes()
                }
                Values::Bytes(values) => values.get(at).map_or(&b""[..], |value| value.data()),
            };
            text.extend_from_slice(if value.is_empty() { b"-" } else { value });
        }
        text.push(b'\n');
    }
    Ok(text)
}

/// One column of a row group: its non-null values, and a definition level per row.
struct Column {
    values: Values,
    levels: Vec<i16>,
    max_level: i16,
}

enum Values {
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Bytes(Vec<parquet::data_type::ByteArray>),
}

/// Reads every row of one column chunk; `None` for a type AWS does not write.
fn read_column(column: ColumnReader, rows: usize, max_level: i16) -> parquet::errors::Result<Option<Column>> {
    fn all<T: parquet::data_type::DataType>(
        mut reader: parquet::column::reader::ColumnReaderImpl<T>,
        rows: usize,
        levels: &mut Vec<i16>,
    ) -> parquet::errors::Result<Vec<T::T>> {
        let mut values = Vec::with_capacity(rows);
        let mut read = 0;
        while read < rows {
            let (records, _, _) = reader.read_records(rows - read, Some(levels), None, &mut values)?;
            if records == 0 {
                break;
            }
            read += records;
        }
        Ok(values)
    }
    let mut levels = Vec::with_capacity(rows);
    let values = match column {
        ColumnReader::Int32ColumnReader(reader) => Values::Int32(all(reader, rows, &mut levels)?),
        ColumnReader::Int64ColumnReader(reader) => Values::Int64(all(reader, rows, &mut levels)?),
        ColumnReader::ByteArrayColumnReader(reader) => Values::Bytes(all(reader, rows, &mut levels)?),
        _ => return Ok(None),
    };
    Ok(Some(Column { values, levels, max_level }))
}

/// The text of a row group through the crate's row API (any column type).
fn rows_of(group: &dyn RowGroupReader, mut text: Vec<u8>) -> parquet::errors::Result<Vec<u8>> {
    text.clear();
    for row in group.get_row_iter(None)? {
        let row = row?;
        for (index, (_, value)) in row.get_column_iter().enumerate() {
            if index > 0 {
                text.push(b' ');
            }
            write_value(&mut text, value);
        }
        text.push(b'\n');
    }
    Ok(text)
}

/// One value as AWS writes it in text: numbers in decimal, strings as they are, null as `-`.
fn write_value(out: &mut Vec<u8>, value: &Field) {
    let mut number = itoa::Buffer::new();
    let text: &[u8] = match value {
        Field::Null => b"-",
        Field::Str(text) if text.is_empty() => b"-",
        Field::Str(text) => text.as_bytes(),
        Field::Bytes(bytes) => bytes.data(),
        Field::Byte(n) => number.format(*n).as_bytes(),
        Field::Short(n) => number.format(*n).as_bytes(),
        Field::Int(n) => number.format(*n).as_bytes(),
        Field::Long(n) => number.format(*n).as_bytes(),
        Field::UByte(n) => number.format(*n).as_bytes(),
        Field::UShort(n) => number.format(*n).as_bytes(),
        Field::UInt(n) => number.format(*n).as_bytes(),
        Field::ULong(n) => number.format(*n).as_bytes(),
        other => {
            out.extend_from_slice(other.to_string().as_bytes());
            return;
        }
    };
    out.extend_from_slice(text);
}

impl Read for ParquetText {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buf.len());
        if let (Some(into), Some(from)) = (buf.get_mut(..count), available.get(..count)) {
            into.copy_from_slice(from);
        }
        self.consume(count);
        Ok(count)
    }
}

impl BufRead for ParquetText {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.position >= self.text.len() {
            if !self.next_group()? {
                return Ok(&[]);
            }
        }
        Ok(self.text.get(self.position..).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.text.len());
    }
}

/// True when `head` begins like a Parquet file.
pub fn is_parquet(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::corpus::parquet::from_text;

    fn text_of(file: Vec<u8>) -> io::Result<String> {
        let mut text = String::new();
        ParquetText::new(file)?.read_to_string(&mut text)?;
        Ok(text)
    }

    const DEFAULT: &str = crate::corpus::parquet::AWS_EXAMPLE_FLOWS;

    #[test]
    fn a_parquet_file_reads_as_the_text_file_aws_would_have_written() {
        for rows_per_group in [1, 2, 100] {
            assert_eq!(text_of(from_text(DEFAULT, rows_per_group).unwrap()).unwrap(), DEFAULT);
        }
    }

    #[test]
    fn custom_formats_keep_their_columns_and_order() {
        let v5 = "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path
5 vpc-0123456789abcdef0 subnet-0123456789abcdef0 i-0123456789abcdef0 eni-0123456789abcdef0 123456789012 IPv4 10.0.1.5 52.94.76.10 49152 443 10.0.1.5 52.94.76.10 6 5000 10 1700000000 1700000060 ACCEPT 19 OK - S3 egress 8
";
        assert_eq!(text_of(from_text(v5, 10).unwrap()).unwrap(), v5);
        let v7 = "version ecs-cluster-name ecs-cluster-arn ecs-container-instance-id ecs-container-instance-arn ecs-service-name ecs-task-definition-arn ecs-task-id ecs-task-arn ecs-container-id ecs-second-container-id srcaddr dstaddr action log-status
7 prod arn:aws:ecs:us-east-1:123456789012:cluster/prod 0123abcd arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0123abcd web arn:aws:ecs:us-east-1:123456789012:task-definition/web:3 4567 arn:aws:ecs:us-east-1:123456789012:task/prod/4567 c1 - 10.0.0.1 10.0.0.2 ACCEPT OK
";
        assert_eq!(text_of(from_text(v7, 10).unwrap()).unwrap(), v7);
    }

    #[test]
    fn a_damaged_file_is_an_error_after_the_row_groups_before_the_damage() {
        let file = from_text(DEFAULT, 1).unwrap();
        assert!(is_parquet(&file));
        let error = text_of(file[..file.len() - 10].to_vec()).unwrap_err();
        assert!(error.to_string().starts_with("Parquet:"), "{error}");
        // Damage the pages of the last row group: the first ones still read.
        let mut damaged = file.clone();
        let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
        let last = reader.metadata().row_group(reader.num_row_groups() - 1);
        for column in last.columns() {
            let (start, length) = column.byte_range();
            for byte in &mut damaged[start as usize..(start + length) as usize] {
                *byte = 0xFF;
            }
        }
        let mut text = ParquetText::new(damaged).unwrap();
        let mut read = String::new();
        let error = text.read_to_string(&mut read).unwrap_err();
        assert!(error.to_string().contains("Parquet row group"), "{error}");
        assert!(DEFAULT.starts_with(&read) && read.lines().count() >= 2, "{read}");
    }
}
