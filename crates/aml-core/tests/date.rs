//! `aml_core::date`, the one date/time module: dates of millisecond times (Arrow Date64 and
//! timestamps) and the `YYYY-MM-DDTHH:MM:SSZ` timestamps of receipts and `processed_at`, read
//! back exactly as they are written.

use std::time::UNIX_EPOCH;

use aml_core::date::{parse_utc_timestamp, utc_timestamp, Date, MS_PER_DAY};

#[test]
fn milliseconds_round_down_to_the_day() {
    for (ms, text) in [
        (0, "1970-01-01"),
        (MS_PER_DAY - 1, "1970-01-01"),
        (MS_PER_DAY, "1970-01-02"),
        (-1, "1969-12-31"),
        (-MS_PER_DAY, "1969-12-31"),
        (-MS_PER_DAY - 1, "1969-12-30"),
        (1_761_782_400_000, "2025-10-30"),
        (i64::MAX, "9999-12-31"),
        (i64::MIN, "0000-01-01"),
    ] {
        assert_eq!(Date::from_unix_millis(ms).to_string(), text, "{ms}");
    }
}

#[test]
fn timestamps_round_trip_and_refuse_anything_else() {
    for seconds in (-86_400 * 800..86_400 * 30_000i64).step_by(86_400 * 7 + 3_671) {
        let time = if seconds >= 0 {
            UNIX_EPOCH + std::time::Duration::from_secs(seconds as u64)
        } else {
            UNIX_EPOCH - std::time::Duration::from_secs(seconds.unsigned_abs())
        };
        assert_eq!(parse_utc_timestamp(&utc_timestamp(time)), Ok(seconds));
    }
    assert_eq!(parse_utc_timestamp("1970-01-01T23:59:59Z"), Ok(86_399));
    for bad in [
        "",
        "2025-10-30",
        "2025-10-30T01:02:03",
        "2025-10-30T01:02:03z",
        "2025-10-30 01:02:03Z",
        "2025-10-30T1:02:03Z",
        "2025-10-30T01:02:03.5Z",
        "2025-10-30T01:02:03+00:00",
        "2025-10-30T24:00:00Z",
        "2025-10-30T23:60:00Z",
        "2025-10-30T23:59:60Z",
        "2025-02-29T00:00:00Z",
        "2025-10-30T01-02-03Z",
    ] {
        let err = parse_utc_timestamp(bad).unwrap_err();
        assert!(
            err.to_string().contains("YYYY-MM-DDTHH:MM:SSZ"),
            "{bad:?}: {err}"
        );
    }
}
