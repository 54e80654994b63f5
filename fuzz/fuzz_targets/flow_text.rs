//! A VPC flow-log file as text (header line, then records).
#![no_main]

#[path = "common.rs"]
mod common;

use trailhound::decode::LogType;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::ingest_bytes(
        data,
        "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/14/x.log.gz",
        Some(LogType::VpcFlowLogs),
    );
});
