//! Time: the clock, and every way an instant is shown.
//!
//! Instants are `jiff::Timestamp` everywhere (the storage layer keeps them as
//! UTC milliseconds); every surface renders them through the formatters here,
//! in the clinic's time zone. Handlers and jobs read the time from a [`Clock`]
//! so that tests can set it.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the time comes from: the system, or a value a test sets.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// Milliseconds since the Unix epoch, moved only by [`Clock::set`] and
    /// [`Clock::advance`].
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A clock stopped at `at`.
    pub fn manual(at: Timestamp) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(at.as_millisecond())))
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Manual(ms) => from_millis(ms.load(Ordering::SeqCst)),
        }
    }

    /// Sets a manual clock; the system clock cannot be set.
    pub fn set(&self, at: Timestamp) {
        match self {
            Clock::System => panic!("the system clock cannot be set"),
            Clock::Manual(ms) => ms.store(at.as_millisecond(), Ordering::SeqCst),
        }
    }

    pub fn advance(&self, by: SignedDuration) {
        self.set(after(self.now(), by));
    }
}

/// `at + by`, saturating at the ends of jiff's range.
pub fn after(at: Timestamp, by: SignedDuration) -> Timestamp {
    at.checked_add(by).unwrap_or(if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `at - by`, saturating.
pub fn before(at: Timestamp, by: SignedDuration) -> Timestamp {
    after(at, -by)
}

/// `days` whole days of 24 hours.
pub fn days(days: u32) -> SignedDuration {
    SignedDuration::from_hours(i64::from(days) * 24)
}

/// The storage representation: milliseconds since the epoch. Out-of-range
/// values (which no code writes) clamp to jiff's range.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// "November 27, 2026" in the clinic's time zone.
pub fn format_date(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%B %-d, %Y")
        .to_string()
}

/// "November 29, 2026, 3:05 PM" in the clinic's time zone.
pub fn format_date_time(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%B %-d, %Y, %-I:%M %p")
        .to_string()
}

/// An appointment's time, unmistakable: "Tuesday, December 1, 2026,
/// 9:00 AM EST" in the location's zone, with the zone's abbreviation.
pub fn format_appointment(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%A, %B %-d, %Y, %-I:%M %p %Z")
        .to_string()
}

/// A day in a list of times: "Tuesday, December 1".
pub fn format_day(date: jiff::civil::Date) -> String {
    date.strftime("%A, %B %-d").to_string()
}

/// A time of day: "9:00 AM", or "1:30 AM EDT" when the clock shows that
/// time twice that day (the hour repeated when daylight saving ends).
pub fn format_clock(at: Timestamp, tz: &TimeZone) -> String {
    let zoned = at.to_zoned_datetime(tz.clone());
    if tz.to_ambiguous_timestamp(zoned.datetime()).is_ambiguous() {
        zoned.strftime("%-I:%M %p %Z").to_string()
    } else {
        zoned.strftime("%-I:%M %p").to_string()
    }
}

/// Weekly hours (minutes after midnight, Monday first) as lines a glance
/// reads: "Monday–Wednesday: 8:30 AM–5:30 PM". Days with the same hours are
/// joined; closed days are listed as closed when `closed` is set, else left out.
pub fn format_week(days: &[Vec<(u16, u16)>; 7], closed: bool) -> Vec<String> {
    let tr = crate::i18n::Tr::default();
    let clock = |m: u16| {
        jiff::civil::Time::new((m / 60 % 24) as i8, (m % 60) as i8, 0, 0)
            .unwrap_or(jiff::civil::Time::MIN)
            .strftime("%-I:%M %p")
            .to_string()
    };
    let name = |d: usize| tr.t(&format!("setup-weekday-{}", d + 1));
    let mut lines = Vec::new();
    let mut day = 0;
    while day < 7 {
        let mut last = day;
        while last + 1 < 7 && days[last + 1] == days[day] {
            last += 1;
        }
        let spans = &days[day];
        if !spans.is_empty() || closed {
            let when = if last == day {
                name(day)
            } else {
                format!("{}\u{2013}{}", name(day), name(last))
            };
            let hours = if spans.is_empty() {
                tr.t("hours-closed")
            } else {
                spans
                    .iter()
                    .map(|&(a, b)| format!("{}\u{2013}{}", clock(a), clock(b)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            lines.push(format!("{when}: {hours}"));
        }
        day = last + 1;
    }
    lines
}

/// A configured length of time in words: "4 hours", "48 hours", "5 days".
pub fn format_duration(d: std::time::Duration) -> String {
    let hours = d.as_secs().div_ceil(3600).max(1);
    let tr = crate::i18n::Tr::default();
    if hours < 72 || !hours.is_multiple_of(24) {
        tr.t1("duration-hours", "count", hours)
    } else {
        tr.t1("duration-days", "count", hours / 24)
    }
}

/// How long ago, in words a glance reads: "45 min", "2 h 5 min", "3 days".
pub fn format_age(since: Timestamp, now: Timestamp) -> String {
    let minutes = now.duration_since(since).as_secs().max(0) / 60;
    match minutes {
        0..=59 => format!("{minutes} min"),
        60..=2879 => match minutes % 60 {
            0 => format!("{} h", minutes / 60),
            m => format!("{} h {m} min", minutes / 60),
        },
        _ => format!("{} days", minutes / 1440),
    }
}

/// The date at `now` in the clinic's time zone.
pub fn date_in(now: Timestamp, tz: &TimeZone) -> jiff::civil::Date {
    now.to_zoned_datetime(tz.clone()).date()
}

/// The first midnight after `now` in the clinic's time zone. (A day without
/// a midnight, where a DST change skips it, starts at its first instant.)
pub fn next_midnight(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let zoned = now.to_zoned_datetime(tz.clone());
    zoned
        .date()
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned_datetime(tz.clone()).ok())
        .map_or_else(
            || after(now, SignedDuration::from_hours(1)),
            |z| z.timestamp(),
        )
}

/// An HTTP date (`Last-Modified`): "Fri, 27 Nov 2026 11:19:22 GMT".
pub fn http_date(at: Timestamp) -> String {
    at.to_zoned_datetime(TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A calendar date as words: "November 27, 2026".
pub fn format_civil(date: jiff::civil::Date) -> String {
    date.strftime("%B %-d, %Y").to_string()
}

/// RFC 3339 in UTC to the second, for APIs and exports.
pub fn rfc3339(at: Timestamp) -> String {
    at.round(jiff::Unit::Second).unwrap_or(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_in_the_clinics_zone() {
        // 2026-11-28 03:00 UTC is still the 27th in New York.
        let at = ts("2026-11-28T03:00:00Z");
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(format_date(at, &ny), "November 27, 2026");
        assert_eq!(format_date(at, &TimeZone::UTC), "November 28, 2026");
        assert_eq!(rfc3339(at), "2026-11-28T03:00:00Z");
        assert_eq!(http_date(at), "Sat, 28 Nov 2026 03:00:00 GMT");
    }

    #[test]
    fn the_next_midnight_is_a_midnight_within_a_day() {
        let now = ts("2026-03-08T05:30:00Z"); // the night New York springs forward
        for name in ["America/New_York", "Pacific/Auckland", "UTC"] {
            let tz = TimeZone::get(name).unwrap();
            let next = next_midnight(now, &tz);
            assert!(next > now && next <= after(now, SignedDuration::from_hours(25)));
            let z = next.to_zoned_datetime(tz.clone());
            assert_eq!((z.hour(), z.minute(), z.second()), (0, 0, 0), "{name}");
            assert_eq!(z.date(), date_in(now, &tz).tomorrow().unwrap(), "{name}");
        }
    }

    #[test]
    fn ages_and_times_read_at_a_glance() {
        let at = ts("2026-11-29T15:05:00Z");
        assert_eq!(
            format_date_time(at, &TimeZone::get("America/New_York").unwrap()),
            "November 29, 2026, 10:05 AM"
        );
        let minutes = |m: i64| after(at, SignedDuration::from_mins(m));
        assert_eq!(format_age(at, minutes(45)), "45 min");
        assert_eq!(format_age(at, minutes(120)), "2 h");
        assert_eq!(format_age(at, minutes(125)), "2 h 5 min");
        assert_eq!(format_age(at, minutes(3 * 1440 + 5)), "3 days");
        assert_eq!(format_age(minutes(5), at), "0 min");
    }

    #[test]
    fn appointment_times_name_their_zone_and_a_repeated_hour() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let at = ts("2026-11-01T14:00:00Z");
        assert_eq!(
            format_appointment(at, &ny),
            "Sunday, November 1, 2026, 9:00 AM EST"
        );
        assert_eq!(format_clock(at, &ny), "9:00 AM");
        assert_eq!(format_clock(ts("2026-11-01T05:30:00Z"), &ny), "1:30 AM EDT");
        assert_eq!(format_clock(ts("2026-11-01T06:30:00Z"), &ny), "1:30 AM EST");
        assert_eq!(
            format_day(jiff::civil::date(2026, 12, 1)),
            "Tuesday, December 1"
        );
    }

    #[test]
    fn durations_read_as_hours_or_days() {
        let h = |n: u64| std::time::Duration::from_secs(n * 3600);
        assert_eq!(format_duration(h(4)), "4 hours");
        assert_eq!(format_duration(h(48)), "48 hours");
        assert_eq!(format_duration(h(120)), "5 days");
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(ts("2026-01-01T00:00:00Z"));
        assert_eq!(clock.now(), ts("2026-01-01T00:00:00Z"));
        clock.advance(days(2));
        assert_eq!(clock.now(), ts("2026-01-03T00:00:00Z"));
        clock.set(ts("2025-12-31T23:59:59Z"));
        assert_eq!(clock.now(), ts("2025-12-31T23:59:59Z"));
        assert_eq!(from_millis(i64::MAX), Timestamp::MAX);
    }
}
