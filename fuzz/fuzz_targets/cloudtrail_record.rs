//! One CloudTrail record through the scanner, the normalizer and both profiles.
#![no_main]

#[path = "common.rs"]
#[allow(dead_code)]
mod common;

use trailhound::normalize::cloudtrail::normalize_record;
use trailhound::normalize::{EventBatch, ObjectContext};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let context = ObjectContext::for_api("fuzz", "us-east-1", 0);
    let mut batch = EventBatch::default();
    if normalize_record(&context, 1, data, &mut batch).is_ok() {
        common::render_all(&batch);
    }
});
