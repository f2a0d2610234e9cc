//! Time: instants are stored as UTC milliseconds since the Unix epoch, and
//! every surface renders them through the formatters here, in the clinic's
//! time zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn zoned(ms: i64, tz: &str) -> jiff::ZonedDateTime {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let tz = TimeZone::get(tz).unwrap_or(TimeZone::UTC);
    ts.to_zoned_datetime(tz)
}

/// "November 27, 2026" in the clinic's time zone.
pub fn format_date(ms: i64, tz: &str) -> String {
    zoned(ms, tz).strftime("%B %-d, %Y").to_string()
}

/// Today's date in the clinic's time zone.
pub fn today(tz: &str) -> jiff::civil::Date {
    zoned(now_ms(), tz).date()
}

/// The next midnight in the clinic's time zone, as Unix milliseconds.
pub fn next_midnight_ms(tz: &str) -> i64 {
    let now = zoned(now_ms(), tz);
    now.date()
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned_datetime(now.time_zone().clone()).ok())
        .map_or(now_ms() + 3_600_000, |z| z.timestamp().as_millisecond())
}

/// An HTTP date (`Last-Modified`): "Fri, 27 Nov 2026 11:19:22 GMT".
pub fn http_date(ms: i64) -> String {
    zoned(ms, "UTC")
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A calendar date as words: "November 27, 2026".
pub fn format_civil(date: jiff::civil::Date) -> String {
    date.strftime("%B %-d, %Y").to_string()
}

/// RFC 3339 in UTC, for APIs and exports.
pub fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_in_the_clinics_zone() {
        // 2026-11-28 03:00 UTC is still the 27th in New York.
        let ms = "2026-11-28T03:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_millisecond();
        assert_eq!(format_date(ms, "America/New_York"), "November 27, 2026");
        assert_eq!(format_date(ms, "UTC"), "November 28, 2026");
        assert_eq!(rfc3339(ms), "2026-11-28T03:00:00Z");
        assert_eq!(http_date(ms), "Sat, 28 Nov 2026 03:00:00 GMT");
    }

    #[test]
    fn the_next_midnight_is_a_midnight_within_a_day() {
        for tz in ["America/New_York", "Pacific/Auckland", "UTC"] {
            let next = next_midnight_ms(tz);
            let now = now_ms();
            assert!(next > now && next <= now + 25 * 3_600_000, "{tz}");
            let z = zoned(next, tz);
            assert_eq!((z.hour(), z.minute(), z.second()), (0, 0, 0), "{tz}");
            assert_eq!(z.date(), today(tz).tomorrow().unwrap(), "{tz}");
        }
    }
}
