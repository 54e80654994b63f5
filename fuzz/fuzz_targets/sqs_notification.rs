//! An SQS message body: S3, SNS-wrapped or EventBridge notification, or anything else.
#![no_main]

use trailhound::source::sqs::notification;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data) {
        let _ = notification::parse(body);
        let _ = notification::form_decode(body);
        let _ = notification::excerpt(body);
    }
});
