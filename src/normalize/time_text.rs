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

/// Unix seconds of a `YYYY-MM-DDTHH:MM:SSZ` string, or `None` if it has another shape.
fn canonical_unix(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = &text[range];
        digits.bytes().all(|c| c.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let date =
        time::Date::from_calendar_date(year as i32, time::Month::try_from(month as u8).ok()?, day as u8)
            .ok()?;
    let clock = time::Time::from_hms(hour as u8, minute as u8, second as u8).ok()?;
    Some(time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp())
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
    fn formats_unix_seconds() {
        assert_eq!(format_unix(1418530010), "2014-12-14T04:06:50Z");
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_unix(-62_167_219_201), "1970-01-01T00:00:00Z", "year -1 is out of range");
        let same_day = UnixText::of(1418515200).with_time_of_day(1418530010);
        assert_eq!(same_day, UnixText::of(1418530010));
    }
}
