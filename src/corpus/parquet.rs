//! Flow-log files in Apache Parquet, as AWS writes them with `FileFormat=parquet`: one column per
//! field, named with `_` for `-` (`account_id`), typed as spec `aws-formats.md` §3.2 says
//! (INT32 ports, protocol, version, flags; INT64 counts and times; UTF-8 strings for the rest),
//! a text `-` as null, gzip-compressed pages. Made from the text of a flow-log file, so a test or
//! a benchmark can compare the two deliveries of the same records.

use std::sync::Arc;

use parquet::basic::{Compression, GzipLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// The example records of AWS's VPC Flow Logs documentation (spec `aws-formats.md` §3.3) under
/// the default header: accepted, rejected, NODATA, SKIPDATA and IPv6 flows.
pub const AWS_EXAMPLE_FLOWS: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK
2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK
2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA
2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA
2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK
";

/// Fields AWS types as INT32 in Parquet.
const INT32_FIELDS: &[&str] =
    &["version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path", "encryption-status"];

/// Fields AWS types as INT64 in Parquet.
const INT64_FIELDS: &[&str] = &[
    "packets",
    "bytes",
    "start",
    "end",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

#[derive(Clone, Copy)]
enum Kind {
    Int32,
    Int64,
    Text,
}

fn kind(field: &str) -> Kind {
    if INT32_FIELDS.contains(&field) {
        Kind::Int32
    } else if INT64_FIELDS.contains(&field) {
        Kind::Int64
    } else {
        Kind::Text
    }
}

/// The Parquet file of a text flow-log file (header line first), `rows_per_group` rows in each
/// row group. A value that does not parse as its column's integer type is an error.
pub fn from_text(text: &str, rows_per_group: usize) -> Result<Vec<u8>, ParquetError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let rows: Vec<Vec<&str>> =
        lines.filter(|line| !line.trim().is_empty()).map(|l| l.split_whitespace().collect()).collect();
    let columns: Vec<String> = header
        .iter()
        .map(|field| {
            let name = field.replace('-', "_");
            match kind(field) {
                Kind::Int32 => format!("OPTIONAL INT32 {name};"),
                Kind::Int64 => format!("OPTIONAL INT64 {name};"),
                Kind::Text => format!("OPTIONAL BINARY {name} (UTF8);"),
            }
        })
        .collect();
    let schema = Arc::new(parse_message_type(&format!("message flow_log {{ {} }}", columns.join(" ")))?);
    let properties = Arc::new(
        WriterProperties::builder().set_compression(Compression::GZIP(GzipLevel::default())).build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, properties)?;
    for group in rows.chunks(rows_per_group.max(1)) {
        let mut row_group = writer.next_row_group()?;
        for (index, field) in header.iter().enumerate() {
            let mut column = row_group
                .next_column()?
                .ok_or_else(|| ParquetError::General("fewer columns than the header".into()))?;
            let cells = group.iter().map(|row| row.get(index).copied().filter(|value| *value != "-"));
            let levels: Vec<i16> = cells.clone().map(|cell| i16::from(cell.is_some())).collect();
            let bad = |value: &str| ParquetError::General(format!("{field}: {value:?} is not a number"));
            match kind(field) {
                Kind::Int32 => {
                    let values = cells
                        .flatten()
                        .map(|v| v.parse::<i32>().map_err(|_| bad(v)))
                        .collect::<Result<Vec<_>, _>>()?;
                    column.typed::<Int32Type>().write_batch(&values, Some(&levels), None)?;
                }
                Kind::Int64 => {
                    let values = cells
                        .flatten()
                        .map(|v| v.parse::<i64>().map_err(|_| bad(v)))
                        .collect::<Result<Vec<_>, _>>()?;
                    column.typed::<Int64Type>().write_batch(&values, Some(&levels), None)?;
                }
                Kind::Text => {
                    let values: Vec<ByteArray> = cells.flatten().map(ByteArray::from).collect();
                    column.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None)?;
                }
            }
            column.close()?;
        }
        row_group.close()?;
    }
    writer.into_inner()
}
