//! Which prefixes to list, and from where, so that no file is missed (see `DESIGN.md`).
//!
//! Pure functions of keys, times and checkpoints; the S3 calls live in `client.rs`.

use time::{Date, OffsetDateTime};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// One stream of log files: an account, a service folder and a region.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// `[FilePath]AWSLogs/[o-org/]ACCOUNT/SERVICE/REGION/`: also the partition's checkpoint name.
    pub prefix: String,
    /// The 12-digit account.
    pub account: String,
    /// `CloudTrail`, `CloudTrail-Insight` or `vpcflowlogs`.
    pub service: String,
    /// The region folder.
    pub region: String,
    /// True for Hive-compatible day folders (`year=YYYY/month=MM/day=DD/`).
    pub hive: bool,
}

/// The last folder name of a common prefix (`a/b/c/` → `c`).
pub fn folder_name(prefix: &str) -> &str {
    prefix.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// True when a folder of `key` (below `root`) contains one of the exclusion entries.
pub fn in_excluded_folder(key: &str, root: &str, exclusions: &[String]) -> bool {
    let below = key.strip_prefix(root).unwrap_or(key);
    let mut folders = below.split('/').collect::<Vec<_>>();
    folders.pop();
    folders.iter().any(|folder| exclusions.iter().any(|entry| folder.contains(entry.as_str())))
}

/// Unix seconds of the `YYYYMMDDTHHmmZ` stamp in an AWS log file name (CloudTrail, Insights,
/// flow logs); `None` for other names.
pub fn key_time(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(parse_stamp)
}

fn parse_stamp(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &stamp[range];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let date = Date::from_calendar_date(
        digits(0..4)? as i32,
        time::Month::try_from(digits(4..6)? as u8).ok()?,
        digits(6..8)? as u8,
    )
    .ok()?;
    let clock = time::Time::from_hms(digits(9..11)? as u8, digits(11..13)? as u8, 0).ok()?;
    Some(date.with_time(clock).assume_utc().unix_timestamp())
}

/// `YYYYMMDDTHHmm` of a time (the start of a stamp, for `StartAfter`).
fn stamp_prefix(seconds: i64) -> String {
    let moment = utc(seconds);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}",
        moment.year(),
        moment.month() as u8,
        moment.day(),
        moment.hour(),
        moment.minute()
    )
}

fn utc(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The UTC days that intersect the look-back window `[now − back_days, now]`, oldest first.
/// With one back day that is yesterday and today, so a file delivered just before midnight is
/// still listed after it.
pub fn days_in_window(now: i64, back_days: u32) -> Vec<Date> {
    let first = utc(now - i64::from(back_days) * DAY).date();
    let last = utc(now).date();
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        days.push(day);
        day = day.next_day().expect("dates in the look-back window are far from the calendar's end");
    }
    days
}

/// The folder of one day of a partition: `PREFIX/YYYY/MM/DD/`, or `PREFIX/year=YYYY/month=MM/day=DD/`
/// for Hive-compatible prefixes. Hourly partitions (`HH/`, `hour=HH/`) are inside it.
pub fn day_prefix(partition: &Partition, day: Date) -> String {
    let (year, month, day) = (day.year(), day.month() as u8, day.day());
    match partition.hive {
        true => format!("{}year={year:04}/month={month:02}/day={day:02}/", partition.prefix),
        false => format!("{}{year:04}/{month:02}/{day:02}/", partition.prefix),
    }
}

/// How to list one day folder of a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayListing {
    /// Nothing in this day can be new: it ended before the resume point.
    Skip,
    /// List the folder, starting after this key (or from its first key).
    From(Option<String>),
}

/// Where the listing of `day` starts when everything before `resume_from` (Unix seconds) is done.
///
/// CloudTrail file names put the delivery stamp right after the account and region, so a day
/// folder sorts by time and `StartAfter` can skip what is done. Flow-log names put the flow-log
/// id first, so their day folders are listed whole (the processed set skips what is done).
pub fn plan_day(partition: &Partition, day: Date, resume_from: Option<i64>) -> DayListing {
    let Some(resume_from) = resume_from else { return DayListing::From(None) };
    let day_start = day.midnight().assume_utc().unix_timestamp();
    if resume_from >= day_start + DAY {
        return DayListing::Skip;
    }
    if resume_from <= day_start || partition.service == "vpcflowlogs" {
        return DayListing::From(None);
    }
    let name_start = format!("{}_{}_{}_", partition.account, partition.service, partition.region);
    DayListing::From(Some(format!("{}{name_start}{}", day_prefix(partition, day), stamp_prefix(resume_from))))
}

/// The new watermark after a poll that started at `poll_started`: never past the key time of an
/// object that was listed but not delivered.
pub fn next_watermark(poll_started: i64, undelivered_key_times: impl IntoIterator<Item = i64>) -> i64 {
    undelivered_key_times.into_iter().fold(poll_started, i64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(service: &str) -> Partition {
        Partition {
            prefix: format!("p/AWSLogs/111122223333/{service}/us-east-1/"),
            account: "111122223333".into(),
            service: service.into(),
            region: "us-east-1".into(),
            hive: false,
        }
    }

    fn at(text: &str) -> i64 {
        crate::normalize::parse_rfc3339(text).unwrap().1
    }

    #[test]
    fn key_times_come_from_the_file_name() {
        let key = "AWSLogs/1/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz";
        assert_eq!(key_time(key), Some(at("2015-08-01T02:10:00Z")));
        let flow = "x/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz";
        assert_eq!(key_time(flow), Some(at("2018-06-20T16:20:00Z")));
        assert_eq!(key_time("x/notes.json.gz"), None);
        assert_eq!(key_time("x/1_CloudTrail_r_20181320T1620Z_x.json.gz"), None);
    }

    #[test]
    fn one_back_day_lists_yesterday_and_today_only() {
        let now = at("2026-11-22T00:05:00Z");
        let days: Vec<String> = days_in_window(now, 1).iter().map(ToString::to_string).collect();
        assert_eq!(days, vec!["2026-11-21", "2026-11-22"]);
        assert_eq!(days_in_window(now, 7).len(), 8);
    }

    #[test]
    fn start_after_skips_what_is_done_in_cloudtrail_folders() {
        let day = Date::from_calendar_date(2024, time::Month::May, 1).unwrap();
        let p = partition("CloudTrail");
        assert_eq!(plan_day(&p, day, None), DayListing::From(None));
        assert_eq!(plan_day(&p, day, Some(at("2024-04-30T23:50:00Z"))), DayListing::From(None));
        assert_eq!(plan_day(&p, day, Some(at("2024-05-02T00:00:00Z"))), DayListing::Skip);
        let DayListing::From(Some(start_after)) = plan_day(&p, day, Some(at("2024-05-01T09:50:30Z"))) else {
            panic!("expected a start key")
        };
        assert_eq!(
            start_after,
            "p/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0950"
        );
        // A file of the resume minute, and any later one, sorts after the start key; earlier ones before.
        let same_minute = "p/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0950Z_AAAA.json.gz";
        let earlier = "p/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0949Z_zzzz.json.gz";
        assert!(same_minute > start_after.as_str());
        assert!(earlier < start_after.as_str());
    }

    #[test]
    fn flow_log_folders_are_listed_whole() {
        let day = Date::from_calendar_date(2024, time::Month::May, 1).unwrap();
        assert_eq!(
            plan_day(&partition("vpcflowlogs"), day, Some(at("2024-05-01T09:50:00Z"))),
            DayListing::From(None)
        );
    }

    #[test]
    fn the_watermark_stops_at_the_oldest_undelivered_object() {
        assert_eq!(next_watermark(1000, []), 1000);
        assert_eq!(next_watermark(1000, [1200, 700, 900]), 700);
    }

    #[test]
    fn folder_rules() {
        assert_eq!(folder_name("x/AWSLogs/111122223333/"), "111122223333");
        let exclusions = vec!["arch".to_string()];
        assert!(in_excluded_folder("p/AWSLogs/1/CloudTrail/archive/f.gz", "p/", &exclusions));
        assert!(!in_excluded_folder("p/AWSLogs/1/CloudTrail/us-east-1/archive.gz", "p/", &exclusions));
    }
}
