//! Turning the bytes of a log object into raw records.
//!
//! This layer is synchronous and knows nothing of sources, sinks, tokio or the AWS SDK, so it can
//! be benchmarked and fuzzed on its own. It works on any [`BufRead`] and never holds more than one
//! record (plus a read buffer) in memory, whatever the size of the object.
//!
//! - [`open`] sniffs gzip by its magic bytes (never by name or headers, see spec §2.2).
//! - [`LogType`] and [`classify_key`] tell CloudTrail from VPC Flow Logs by key layout;
//!   [`layout`] says what a folder is in the AWS layout (account, service, region…).
//! - [`cloudtrail`] splits a `{"Records":[…]}` document into one record at a time, scanned by
//!   [`json_scan`].
//! - [`vpc_flow`] reads a flow-log text file line by line, driven by its header.

pub mod cloudtrail;
pub mod json_scan;
pub mod layout;
pub mod parquet;
pub mod vpc_flow;

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

/// Size of the read buffers on both sides of the gzip decoder.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// The two kinds of log Trailhound collects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogType {
    /// CloudTrail log files (`{"Records":[…]}`), including Insights files.
    CloudTrail,
    /// VPC Flow Logs text files.
    VpcFlowLogs,
}

impl LogType {
    /// The name used in configuration files and in the output event (`log_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::CloudTrail => "CloudTrail",
            LogType::VpcFlowLogs => "VPCFlowLogs",
        }
    }

    /// Parses the case-sensitive names of the seed configuration (`CloudTrail`, `VPCFlowLogs`).
    pub fn from_name(name: &str) -> Option<LogType> {
        match name {
            "CloudTrail" => Some(LogType::CloudTrail),
            "VPCFlowLogs" => Some(LogType::VpcFlowLogs),
            _ => None,
        }
    }

    /// The service folder under `AWSLogs/ACCOUNT/` that holds this log type.
    pub fn service_folder(self) -> &'static str {
        match self {
            LogType::CloudTrail => "CloudTrail",
            LogType::VpcFlowLogs => "vpcflowlogs",
        }
    }
}

impl fmt::Display for LogType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an object key says about its content, before any byte is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A log file of this type.
    Log(LogType),
    /// A CloudTrail digest file (integrity validation): not events, skipped.
    Digest,
    /// A folder marker (key ends in `/`): not a file, skipped.
    FolderMarker,
    /// Nothing in the key tells; the content decides.
    Unknown,
}

/// Classifies an object key (or a local path) by the AWS key layout (spec §2.1, §3.4), else by
/// the extension AWS gives each type (`.json.gz` CloudTrail, `.log.gz` flow logs).
pub fn classify_key(key: &str) -> KeyKind {
    if key.ends_with('/') {
        return KeyKind::FolderMarker;
    }
    if key.contains("CloudTrail-Digest/") || key.contains("_CloudTrail-Digest_") {
        return KeyKind::Digest;
    }
    if key.contains("/CloudTrail/")
        || key.contains("/CloudTrail-Insight/")
        || key.contains("_CloudTrail_")
        || key.contains("_CloudTrail-Insight_")
    {
        return KeyKind::Log(LogType::CloudTrail);
    }
    if key.contains("/vpcflowlogs/")
        || key.contains("_vpcflowlogs_")
        || key.contains("aws-service=vpcflowlogs/")
    {
        return KeyKind::Log(LogType::VpcFlowLogs);
    }
    // Outside the AWS layouts, the extension AWS uses for each type is the next best hint.
    if key.ends_with(".json.gz") || key.ends_with(".json") {
        return KeyKind::Log(LogType::CloudTrail);
    }
    if key.ends_with(".log.gz") || key.ends_with(".log") || key.ends_with(".parquet") {
        return KeyKind::Log(LogType::VpcFlowLogs);
    }
    KeyKind::Unknown
}

/// Guesses the log type from the first bytes of decompressed content: a JSON document is
/// CloudTrail, anything else (flow-log text, or Parquet) is read as flow logs.
pub fn sniff_log_type(head: &[u8]) -> LogType {
    let text = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let first = text.iter().copied().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => LogType::CloudTrail,
        _ => LogType::VpcFlowLogs,
    }
}

/// How the bytes of an object were stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (one or several members), detected by the magic bytes `1F 8B`.
    Gzip,
    /// Anything else is read as it is.
    None,
}

/// A decompressing reader over an object, with the compression that was detected.
pub struct Opened {
    /// The decompressed bytes.
    pub reader: Box<dyn BufRead + Send>,
    /// What [`open`] found.
    pub compression: Compression,
    /// True when the object has no bytes at all (a zero-byte object).
    pub zero_bytes: bool,
}

/// Opens an object for reading: gzip is detected by its magic bytes, so `.gz` files that are
/// really plain text, and plain files that are really gzip, both work.
pub fn open<R: Read + Send + 'static>(raw: R) -> io::Result<Opened> {
    let mut buffered = BufReader::with_capacity(READ_BUFFER_BYTES, raw);
    let head = buffered.fill_buf()?;
    let zero_bytes = head.is_empty();
    if head.starts_with(&[0x1f, 0x8b]) {
        // The `bufread` decoder reads from `buffered` itself; the `read` one would add a buffer
        // of its own and copy every compressed byte once more.
        let decoder = MultiGzDecoder::new(buffered);
        return Ok(Opened {
            reader: Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, decoder)),
            compression: Compression::Gzip,
            zero_bytes,
        });
    }
    Ok(Opened { reader: Box::new(buffered), compression: Compression::None, zero_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_aws_key_layouts() {
        let ct = "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz";
        assert_eq!(classify_key(ct), KeyKind::Log(LogType::CloudTrail));
        let org = "p/AWSLogs/o-abc123/111122223333/CloudTrail-Insight/us-east-1/2024/01/01/x.json.gz";
        assert_eq!(classify_key(org), KeyKind::Log(LogType::CloudTrail));
        let digest = "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/1_CloudTrail-Digest_us-east-1_t_us-east-1_20240101T000000Z.json.gz";
        assert_eq!(classify_key(digest), KeyKind::Digest);
        let flow = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz";
        assert_eq!(classify_key(flow), KeyKind::Log(LogType::VpcFlowLogs));
        let hive = "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/x.log.gz";
        assert_eq!(classify_key(hive), KeyKind::Log(LogType::VpcFlowLogs));
        assert_eq!(classify_key("AWSLogs/1/CloudTrail/"), KeyKind::FolderMarker);
        assert_eq!(classify_key("random/file.gz"), KeyKind::Unknown);
        assert_eq!(classify_key("random/file.json"), KeyKind::Log(LogType::CloudTrail));
        assert_eq!(classify_key("random/file.log.gz"), KeyKind::Log(LogType::VpcFlowLogs));
    }

    #[test]
    fn sniffs_content() {
        assert_eq!(sniff_log_type(b"  \n{\"Records\":[]}"), LogType::CloudTrail);
        assert_eq!(sniff_log_type(b"\xEF\xBB\xBF{"), LogType::CloudTrail);
        assert_eq!(sniff_log_type(b"version account-id"), LogType::VpcFlowLogs);
        assert_eq!(sniff_log_type(b""), LogType::VpcFlowLogs);
    }

    #[test]
    fn log_type_names_are_case_sensitive() {
        assert_eq!(LogType::from_name("CloudTrail"), Some(LogType::CloudTrail));
        assert_eq!(LogType::from_name("VPCFlowLogs"), Some(LogType::VpcFlowLogs));
        assert_eq!(LogType::from_name("cloudtrail"), None);
        assert_eq!(LogType::from_name("VpcFlowLogs"), None);
    }

    #[test]
    fn open_detects_gzip_by_magic_bytes() {
        use flate2::{Compression as Level, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Level::fast());
        enc.write_all(b"hello").unwrap();
        let gz = enc.finish().unwrap();
        let mut opened = open(io::Cursor::new(gz)).unwrap();
        assert_eq!(opened.compression, Compression::Gzip);
        let mut text = String::new();
        opened.reader.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");

        let plain = open(io::Cursor::new(b"plain".to_vec())).unwrap();
        assert_eq!(plain.compression, Compression::None);
        assert!(open(io::Cursor::new(Vec::new())).unwrap().zero_bytes);
    }
}
