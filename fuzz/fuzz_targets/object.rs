//! Any object, compressed or not, CloudTrail, flow text or Parquet: the type is sniffed.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest_bytes(data, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/14/x.json.gz", None);
});
