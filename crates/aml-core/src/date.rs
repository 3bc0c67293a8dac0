//! The one date and time module: `YYYY-MM-DD` calendar dates and UTC timestamps.
//!
//! Every date that comes from an input (META.json's `processing_date`, an HTTP path, an alert
//! row, a training-history directory name) goes through [`Date::parse`] before it is used for
//! anything, in particular before it becomes part of a path: a [`Date`] can only be displayed as
//! ten ASCII characters `YYYY-MM-DD` (digits and two dashes), so `..`, `/` or an empty string can
//! never reach the file system through it.
//!
//! ```
//! use aml_core::date::Date;
//! let day = Date::parse("2025-10-30").unwrap();
//! assert_eq!(day.days_since_epoch(), 20_391);
//! assert_eq!(day.to_string(), "2025-10-30");
//! assert_eq!((day + 2).to_string(), "2025-11-01");
//! assert!(Date::parse("../victim").is_err());
//! assert!(Date::parse("").is_err());
//! assert!(Date::parse("2025-02-29").is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A text that is not a valid `YYYY-MM-DD` calendar date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a YYYY-MM-DD date")]
pub struct DateError {
    /// The offending text (cut to 64 characters so a hostile input cannot flood a log line).
    pub text: String,
}

impl DateError {
    fn new(text: &str) -> DateError {
        DateError {
            text: text.chars().take(64).collect(),
        }
    }
}

/// A proleptic-Gregorian calendar date between 0000-01-01 and 9999-12-31, stored as days since
/// 1970-01-01. Ordering is chronological; `Display` is `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn month_length(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a valid civil date (Howard Hinnant's days-from-civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

impl Date {
    /// Smallest date held: 0000-01-01.
    pub const MIN: Date = Date(-719_528);
    /// Largest date held: 9999-12-31.
    pub const MAX: Date = Date(2_932_896);

    /// Parses exactly `YYYY-MM-DD`: ten ASCII characters, digits and dashes in place, a real
    /// calendar day (no signs, spaces, times or leap-day inventions).
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(DateError::new(text));
        }
        let number = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'))
        };
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        if !(1..=12).contains(&month) || day < 1 || day > month_length(year, month) {
            return Err(DateError::new(text));
        }
        Ok(Date(days_from_civil(year, month, day) as i32))
    }

    /// The date `days` days after 1970-01-01 (negative: before), or `None` outside
    /// [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        (i64::from(Date::MIN.0)..=i64::from(Date::MAX.0))
            .contains(&days)
            .then_some(Date(days as i32))
    }

    /// The UTC date of a time `ms` milliseconds after 1970-01-01T00:00:00Z (negative: before;
    /// rounded down to the day), clamped to [`Date::MIN`]..=[`Date::MAX`]. Arrow's Date64 and
    /// millisecond timestamps.
    pub fn from_unix_millis(ms: i64) -> Date {
        Date::from_days_clamped(ms.div_euclid(MS_PER_DAY))
    }

    /// Like [`Date::from_days_since_epoch`] but clamped to [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_days_clamped(days: i64) -> Date {
        Date(days.clamp(i64::from(Date::MIN.0), i64::from(Date::MAX.0)) as i32)
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        (y as i32, m as u32, d as u32)
    }

    /// Today's date in UTC.
    pub fn today_utc() -> Date {
        Date::from_days_clamped(unix_seconds(SystemTime::now()).div_euclid(86_400))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = DateError;
    fn from_str(text: &str) -> Result<Date, DateError> {
        Date::parse(text)
    }
}

impl std::ops::Add<i32> for Date {
    type Output = Date;
    /// `days` days later, saturating at [`Date::MIN`] / [`Date::MAX`].
    fn add(self, days: i32) -> Date {
        Date::from_days_clamped(i64::from(self.0) + i64::from(days))
    }
}

impl std::ops::Sub for Date {
    type Output = i32;
    /// Days from `other` to `self`.
    fn sub(self, other: Date) -> i32 {
        self.0 - other.0
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Date::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Milliseconds in a (UTC, leap-second-free) day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// A text that is not a `YYYY-MM-DDTHH:MM:SSZ` UTC timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a YYYY-MM-DDTHH:MM:SSZ timestamp")]
pub struct TimestampError {
    /// The offending text (cut to 64 characters).
    pub text: String,
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, whole seconds) of `time`.
pub fn utc_timestamp(time: SystemTime) -> String {
    let secs = unix_seconds(time);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let date = Date::from_days_clamped(days);
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since 1970-01-01T00:00:00Z of a timestamp written by [`utc_timestamp`]: exactly
/// `YYYY-MM-DDTHH:MM:SSZ` (a real date, hours 00-23, minutes and seconds 00-59), the inverse of
/// [`utc_timestamp`].
///
/// ```
/// use aml_core::date::{parse_utc_timestamp, utc_timestamp};
/// let seconds = parse_utc_timestamp("2025-10-30T01:02:03Z").unwrap();
/// assert_eq!(seconds, 20_391 * 86_400 + 3_723);
/// let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds as u64);
/// assert_eq!(utc_timestamp(time), "2025-10-30T01:02:03Z");
/// assert!(parse_utc_timestamp("2025-10-30 01:02:03").is_err());
/// ```
pub fn parse_utc_timestamp(text: &str) -> Result<i64, TimestampError> {
    let fail = || TimestampError {
        text: text.chars().take(64).collect(),
    };
    let (date, time) = text.split_once('T').ok_or_else(fail)?;
    let date = Date::parse(date).map_err(|_| fail())?;
    let time = time.strip_suffix('Z').ok_or_else(fail)?.as_bytes();
    let shape_ok = time.len() == 8
        && time.iter().enumerate().all(|(i, b)| match i {
            2 | 5 => *b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(fail());
    }
    let number = |at: usize| i64::from(time[at] - b'0') * 10 + i64::from(time[at + 1] - b'0');
    let (hours, minutes, seconds) = (number(0), number(3), number(6));
    if hours > 23 || minutes > 59 || seconds > 59 {
        return Err(fail());
    }
    Ok(i64::from(date.days_since_epoch()) * 86_400 + hours * 3600 + minutes * 60 + seconds)
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    utc_timestamp(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days_round_trip() {
        for (text, days) in [
            ("1970-01-01", 0),
            ("2025-10-30", 20_391),
            ("1969-12-31", -1),
            ("2000-02-29", 11_016),
            ("0000-01-01", Date::MIN.0),
            ("9999-12-31", Date::MAX.0),
        ] {
            let date = Date::parse(text).unwrap();
            assert_eq!(date.days_since_epoch(), days, "{text}");
            assert_eq!(date.to_string(), text);
        }
        for d in (-800_000..3_000_000).step_by(997) {
            if let Some(date) = Date::from_days_since_epoch(d) {
                assert_eq!(Date::parse(&date.to_string()).unwrap(), date);
            }
        }
    }

    #[test]
    fn refuses_everything_that_is_not_a_plain_date() {
        for bad in [
            "",
            "../victim",
            "..",
            "2025-10-30/..",
            "2025-10-3",
            "2025-1-30",
            "20251030",
            "+025-10-30",
            "2025-10-30 ",
            " 2025-10-30",
            "2025-10-30T00:00:00",
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-10-00",
            "2025-04-31",
            "２０２５-10-30",
            "2025/10/30",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("1900-02-29").is_err());
    }

    #[test]
    fn arithmetic_and_timestamps() {
        let d = Date::parse("2025-12-31").unwrap();
        assert_eq!((d + 1).to_string(), "2026-01-01");
        assert_eq!(d - Date::parse("2025-12-01").unwrap(), 30);
        assert_eq!(Date::MAX + 5, Date::MAX);
        assert_eq!(
            utc_timestamp(UNIX_EPOCH + std::time::Duration::from_secs(20_391 * 86_400 + 3_723)),
            "2025-10-30T01:02:03Z"
        );
        assert_eq!(utc_now().len(), 20);
        assert!(parse_utc_timestamp(&utc_now()).is_ok());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, "\"2025-12-31\"");
        assert!(serde_json::from_str::<Date>("\"../x\"").is_err());
    }
}
