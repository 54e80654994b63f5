//! The time windows a LookupEvents source reads (design.md §3).
//!
//! First start: the watermark is now minus the backfill (days, or minutes when days is 0). Every
//! poll reads one fixed window `[watermark − BackOffTime, now]`, so events that CloudTrail makes
//! visible late, up to `BackOffTime` after their time, are read on a later poll; event ids already
//! emitted are skipped. The watermark moves to the window's end only after delivery.

use crate::config::CloudTrailApiSource;

/// The watermark of a first start: now minus the configured backfill.
pub fn first_watermark(config: &CloudTrailApiSource, now: i64) -> i64 {
    if config.number_of_back_days_data > 0 {
        now - i64::from(config.number_of_back_days_data) * 86_400
    } else {
        now - i64::from(config.number_of_back_minutes_data) * 60
    }
}

/// The window `[start, end]` of a poll at `now` from `watermark`.
pub fn window(config: &CloudTrailApiSource, watermark: i64, now: i64) -> (i64, i64) {
    let start = watermark - i64::from(config.back_off_time) * 60;
    (start.min(now), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AwsSettings, Credentials};

    fn config(days: u32, minutes: u32, back_off: u32) -> CloudTrailApiSource {
        CloudTrailApiSource {
            aws: AwsSettings {
                region: "us-east-1".into(),
                credentials: Credentials::DefaultChain,
                role_arn: None,
                external_id: None,
                session_name: None,
                endpoint: None,
                force_path_style: false,
                signature_version: None,
                proxy: None,
            },
            regions: vec!["us-east-1".into()],
            api_polling_interval_ms: 5000,
            api_retry_count: 3,
            max_result_count: 50,
            startup_delay_in_seconds: 0,
            number_of_back_days_data: days,
            number_of_back_minutes_data: minutes,
            back_off_time: back_off,
            max_requests_per_second: 2,
        }
    }

    #[test]
    fn backfill_by_days_or_minutes() {
        assert_eq!(first_watermark(&config(2, 40, 30), 1_000_000), 1_000_000 - 2 * 86_400);
        assert_eq!(first_watermark(&config(0, 90, 30), 1_000_000), 1_000_000 - 90 * 60);
    }

    #[test]
    fn windows_reach_back_by_the_back_off_time() {
        assert_eq!(window(&config(1, 40, 30), 10_000, 20_000), (10_000 - 1800, 20_000));
    }
}
