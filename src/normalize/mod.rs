//! Raw records → the output event of the contract (design.md §6).
//!
//! Each event is rendered once, here, into the exact JSON line every sink ships:
//!
//! ```text
//! {"event_id":…,"log_type":…,"time":…,"origin":{…},"metadata":{…},"raw":…}
//! ```
//!
//! Rendering once keeps the hot path cheap (no tree of values per event) and guarantees that
//! stdout, files, syslog and HTTP all carry the same bytes. The original record is copied
//! verbatim into `raw`, so nothing the SIEM mapping does not know about is ever lost.
//!
//! Like `decode`, this layer is synchronous and imports nothing from sources, sinks or tokio.

mod batch;
pub mod cloudtrail;
mod doc;
mod ecs;
pub mod filter;
mod json;
mod ocsf;
pub mod profile;
mod time_text;
pub(crate) mod tree;
pub mod vpc_flow;

use crate::decode::LogType;

pub use batch::{Event, EventBatch};
pub use profile::{Output, Profile, render_batch};
use time_text::UnixText;
pub use time_text::{format_unix, parse_rfc3339};

/// Where the events of one object come from; fixed for the whole object.
#[derive(Clone, Debug)]
pub struct ObjectContext {
    source: String,
    bucket: Option<String>,
    key: String,
    ingest_time: i64,
    origin_prefix: String,
    id_prefix: String,
    positional: bool,
}

/// The key a flow-log file would have in text: a Parquet delivery (`….log.parquet`) of the same
/// records gets the ids of the text delivery (`….log.gz`), so both give the same `event_id`.
fn text_twin(key: &str) -> std::borrow::Cow<'_, str> {
    match key.strip_suffix(".parquet") {
        Some(stem) => std::borrow::Cow::Owned(format!("{stem}.gz")),
        None => std::borrow::Cow::Borrowed(key),
    }
}

impl ObjectContext {
    /// The context of an object `key` (in `bucket`, for S3) read by source `source`.
    /// `ingest_time` (Unix seconds) stands in for records whose own time cannot be read.
    pub fn new(source: &str, bucket: Option<&str>, key: &str, ingest_time: i64) -> Self {
        let mut members = Vec::with_capacity(2);
        if let Some(bucket) = bucket {
            members.push(("bucket", bucket));
        }
        members.push(("key", key));
        ObjectContext {
            source: source.to_string(),
            bucket: bucket.map(str::to_string),
            key: key.to_string(),
            ingest_time,
            origin_prefix: origin_prefix(source, &members),
            id_prefix: format!("{}/{}/", bucket.unwrap_or(""), text_twin(key)),
            positional: true,
        }
    }

    /// The context of events read from the CloudTrail API in `region`: their origin is
    /// `{"source", "region"}`, without a position.
    pub fn for_api(source: &str, region: &str, ingest_time: i64) -> Self {
        ObjectContext {
            source: source.to_string(),
            bucket: None,
            key: region.to_string(),
            ingest_time,
            origin_prefix: origin_prefix(source, &[("region", region)]),
            id_prefix: format!("api/{region}/"),
            positional: false,
        }
    }

    /// The source name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The bucket, for objects read from S3.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// The object key (for local files, the path below the replayed root).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A stable id for the item at `position` (line or record number) of this object:
    /// 32 hex digits of XXH3-128 over `bucket/key/position`.
    pub fn positional_id(&self, position: u64) -> PositionalId {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(position).as_bytes();
        let prefix = self.id_prefix.as_bytes();
        // Flow logs ask for an id per line: hash from the stack when the key is of a usual length.
        let mut stack = [0u8; 320];
        let hash = match stack.get_mut(..prefix.len() + digits.len()) {
            Some(text) => {
                text[..prefix.len()].copy_from_slice(prefix);
                text[prefix.len()..].copy_from_slice(digits);
                xxhash_rust::xxh3::xxh3_128(text)
            }
            None => xxhash_rust::xxh3::xxh3_128(&[prefix, digits].concat()),
        };
        hex_128(hash)
    }

    /// Writes the `origin` object for the item at `position` (`"line"` or `"record"`).
    fn push_origin(&self, out: &mut Vec<u8>, position_name: &str, position: u64) {
        out.extend_from_slice(self.origin_prefix.as_bytes());
        if !self.positional {
            out.push(b'}');
            return;
        }
        out.extend_from_slice(b",\"");
        out.extend_from_slice(position_name.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(itoa::Buffer::new().format(position).as_bytes());
        out.push(b'}');
    }
}

/// `{"source":…` followed by `,"name":value` members, left open for the position.
fn origin_prefix(source: &str, members: &[(&str, &str)]) -> String {
    let mut prefix = Vec::with_capacity(64);
    prefix.extend_from_slice(b"{\"source\":");
    json::push_str(&mut prefix, source);
    for (name, value) in members {
        prefix.extend_from_slice(b",\"");
        prefix.extend_from_slice(name.as_bytes());
        prefix.extend_from_slice(b"\":");
        json::push_str(&mut prefix, value);
    }
    String::from_utf8(prefix).expect("serde_json writes UTF-8")
}

/// An id made of 32 lower-case hex digits, held without allocating (flow logs make one per line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionalId([u8; 32]);

impl PositionalId {
    /// The id's text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }

    /// The id's text as bytes (ASCII hex digits, nothing to escape in JSON).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn hex_128(value: u128) -> PositionalId {
    let mut hex = [0u8; 32];
    for (index, eight) in hex.chunks_exact_mut(8).enumerate() {
        eight.copy_from_slice(&hex_32((value >> (96 - 32 * index)) as u32));
    }
    PositionalId(hex)
}

/// The 8 hex digits of `value`, computed in one word: each nibble is spread into its own byte,
/// then `'0'` is added, and `'a' - '0' - 10` more where the nibble is 10 or above.
fn hex_32(value: u32) -> [u8; 8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut spread = u64::from(value);
    spread = ((spread & 0xFFFF_0000) << 16) | (spread & 0xFFFF);
    spread = ((spread & 0x0000_FF00_0000_FF00) << 8) | (spread & 0x0000_00FF_0000_00FF);
    spread = ((spread & 0x00F0_00F0_00F0_00F0) << 4) | (spread & 0x000F_000F_000F_000F);
    let letters = ((spread + 6 * ONES) >> 4) & ONES;
    (spread + u64::from(b'0') * ONES + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Writes the start of the line: `{"event_id":…,"log_type":…,"time":…,"origin":`. `id` is JSON
/// string content (escaped already, see `decode::json_scan::Span::json_content`).
fn push_envelope_start(out: &mut Vec<u8>, id: &[u8], log_type: LogType, time: &[u8]) {
    out.extend_from_slice(b"{\"event_id\":\"");
    out.extend_from_slice(id);
    out.extend_from_slice(b"\",\"log_type\":\"");
    out.extend_from_slice(log_type.as_str().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time);
    out.extend_from_slice(b"\",\"origin\":");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lower_case_hex_digits() {
        let mut value: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for _ in 0..1000 {
            assert_eq!(hex_128(value).as_str(), format!("{value:032x}"));
            value = value.wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15).wrapping_add(1);
        }
        assert_eq!(hex_128(0).as_str(), "0".repeat(32));
        assert_eq!(hex_128(u128::MAX).as_str(), "f".repeat(32));
    }
}
