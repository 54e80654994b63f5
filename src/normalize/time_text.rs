//! RFC 3339 times: CloudTrail's `eventTime` in, the contract's `time` out.

use std::borrow::Cow;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 time into (canonical UTC text, Unix seconds). CloudTrail's own form,
/// `YYYY-MM-DDTHH:MM:SSZ`, is recognised without allocating a parser; any other valid RFC 3339
/// time (fractions, offsets) is converted to UTC.
pub fn parse_rfc3339(text: &str) -> Option<(Cow<'_, str>, i64)> {
    if let Some(seconds) = canonical_unix(text) {
        return Some((Cow::Borrowed(text), seconds));
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?.to_offset(time::UtcOffset::UTC);
    Some((Cow::Owned(parsed.format(&Rfc3339).ok()?), parsed.unix_timestamp()))
}

/// Parses an RFC 3339 time into Unix milliseconds (fractions below a millisecond are cut).
pub(super) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    if let Some(seconds) = canonical_unix(text) {
        return seconds.checked_mul(1000);
    }
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (what Elastic's `date` processor
/// writes, and OCSF's `*_dt`).
pub(super) fn format_unix_ms(milliseconds: i64) -> [u8; 24] {
    let seconds = milliseconds.div_euclid(1000);
    let fraction = milliseconds.rem_euclid(1000) as u32;
    let whole = UnixText::of(seconds).0;
    let mut text = [0u8; 24];
    text[..19].copy_from_slice(&whole[..19]);
    text[19] = b'.';
    text[20] = b'0' + (fraction / 100) as u8;
    text[21] = b'0' + (fraction / 10 % 10) as u8;
    text[22] = b'0' + (fraction % 10) as u8;
    text[23] = b'Z';
    text
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_unix(seconds: i64) -> String {
    String::from_utf8_lossy(&UnixText::of(seconds).0).into_owned()
}

/// `YYYY-MM-DDTHH:MM:SSZ` in a fixed array: flow-log lines each carry their own start time, so
/// this runs once per event and must not allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UnixText(pub(super) [u8; 20]);

impl UnixText {
    /// The text of `seconds` (the epoch for times outside years 0–9999).
    pub(super) fn of(seconds: i64) -> Self {
        let moment = OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .filter(|moment| (0..=9999).contains(&moment.year()))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut text = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, value: u32, width: usize| {
            let mut rest = value;
            for slot in text[at..at + width].iter_mut().rev() {
                *slot = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        };
        put(0, moment.year() as u32, 4);
        put(5, moment.month() as u32, 2);
        put(8, moment.day().into(), 2);
        UnixText(text).with_time_of_day(moment.unix_timestamp())
    }

    /// This text with its clock replaced by the time of day of `seconds`: for a time known to
    /// fall on the same (UTC) day, without working out the date again.
    pub(super) fn with_time_of_day(mut self, seconds: i64) -> Self {
        let of_day = seconds.rem_euclid(86_400) as u32;
        for (at, value) in [(11, of_day / 3600), (14, of_day / 60 % 60), (17, of_day % 60)] {
            self.0[at] = b'0' + (value / 10) as u8;
            self.0[at + 1] = b'0' + (value % 10) as u8;
        }
        self
    }
}

/// Unix seconds of a `YYYY-MM-DDTHH:MM:SSZ` string, or `None` if it has another shape or names
/// no real moment (month 13, February 30, 24:00:00, a leap second: those are left to the full
/// parser). Every CloudTrail record comes through here, so it is plain arithmetic on the digits.
fn canonical_unix(text: &str) -> Option<i64> {
    let b: &[u8; 20] = text.as_bytes().try_into().ok()?;
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
    if separators.iter().any(|&(at, separator)| b[at] != separator) {
        return None;
    }
    let digit = |at: usize| b[at].is_ascii_digit().then(|| i64::from(b[at] - b'0'));
    let two = |at: usize| Some(digit(at)? * 10 + digit(at + 1)?);
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (years 0–9999 here): the
/// year is counted from March, so that the leap day falls at its end, in 400-year eras of
/// 146,097 days.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_times_keep_their_text() {
        assert_eq!(parse_rfc3339("2024-05-01T10:05:09Z"), Some(("2024-05-01T10:05:09Z".into(), 1714557909)));
    }

    #[test]
    fn other_rfc3339_forms_become_utc() {
        let (text, seconds) = parse_rfc3339("2024-05-01T12:05:09.5+02:00").unwrap();
        assert_eq!(text, "2024-05-01T10:05:09.5Z");
        assert_eq!(seconds, 1714557909);
    }

    #[test]
    fn rejects_non_times() {
        assert_eq!(parse_rfc3339("2024-13-01T10:05:09Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339(""), None);
    }

    #[test]
    fn the_fast_path_agrees_with_the_time_crate() {
        // Every fifth day of years 0–4000 (so every date, Feb 29 too, in many years; century
        // rules included), at a time of day that moves with the day.
        for day in (-719_528..740_000_i64).step_by(5) {
            let seconds = day * 86_400 + (day * 7_919).rem_euclid(86_400);
            let text = format_unix(seconds);
            assert_eq!(canonical_unix(&text), Some(seconds), "{text}");
        }
        for invalid in [
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:0aZ",
            "+024-01-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
        ] {
            assert_eq!(canonical_unix(invalid), None, "{invalid}");
            let checked = time::PrimitiveDateTime::parse(
                invalid.trim_end_matches('Z'),
                &time::format_description::well_known::Iso8601::DEFAULT,
            );
            assert!(checked.is_err() || invalid.contains(' '), "{invalid} is a real time: {checked:?}");
        }
        assert_eq!(canonical_unix("2000-02-29T12:00:00Z"), Some(951_825_600));
    }

    #[test]
    fn formats_unix_seconds() {
        assert_eq!(format_unix(1418530010), "2014-12-14T04:06:50Z");
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_unix(-62_167_219_201), "1970-01-01T00:00:00Z", "year -1 is out of range");
        let same_day = UnixText::of(1418515200).with_time_of_day(1418530010);
        assert_eq!(same_day, UnixText::of(1418530010));
    }

    #[test]
    fn milliseconds_both_ways() {
        assert_eq!(parse_rfc3339_ms("2024-05-14T09:15:42Z"), Some(1_715_678_142_000));
        assert_eq!(parse_rfc3339_ms("2024-05-14T11:15:42.1234+02:00"), Some(1_715_678_142_123));
        assert_eq!(parse_rfc3339_ms("not a time"), None);
        assert_eq!(&format_unix_ms(1_715_678_142_000), b"2024-05-14T09:15:42.000Z");
        assert_eq!(&format_unix_ms(1_715_678_142_123), b"2024-05-14T09:15:42.123Z");
        assert_eq!(&format_unix_ms(-1), b"1969-12-31T23:59:59.999Z");
    }
}
