//! Dates and instants from requests, bounded before any arithmetic.
//!
//! jiff's dates run from the year -9999 to 9999. Adding a day to a date at
//! either end fails, and a loop that took "no next day" for "the same day"
//! never ended: one request for the week of 9999-12-31 grew the server's
//! memory until the kernel killed it. So every date or instant a request
//! carries is parsed here and refused outside [`EARLIEST`]..=[`LATEST`]
//! (years 1900 to 2199), then checked against the [`Window`] its use
//! allows: the booking horizon, a calendar's span, a course's plan. What
//! is left is centuries away from jiff's limits, so a few years of
//! arithmetic on it cannot overflow, and every loop over days runs over a
//! window whose length is known before it starts.

use jiff::civil::{Date, DateTime, date};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// The first date any request may name.
pub const EARLIEST: Date = date(1900, 1, 1);
/// The last date any request may name.
pub const LATEST: Date = date(2199, 12, 31);

/// A date or time as a request sends it, as text: read by [`parse_date`]
/// or [`parse_instant`] against the window its use allows. Its own type
/// (deserialized as the newtype [`DATE_TEXT`]) so that the route table
/// knows which fields hold dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DateText(pub String);

/// The serde name of [`DateText`].
pub const DATE_TEXT: &str = "DateText";

impl DateText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DateText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for DateText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = DateText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a date or time as text")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DateText, E> {
                Ok(DateText(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<DateText, E> {
                Ok(DateText(v))
            }
            fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<DateText, D::Error> {
                d.deserialize_str(self)
            }
        }
        d.deserialize_newtype_struct(DATE_TEXT, Text)
    }
}

impl serde::Serialize for DateText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// What is wrong with a date or time a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("must be a date as YYYY-MM-DD")]
    NotADate,
    #[error("must be a date and time")]
    NotATime,
    /// Outside the window its use allows (the window, as dates).
    #[error("must be from {0} to {1}")]
    Outside(Date, Date),
}

impl DateError {
    /// The problem in words for a person: "must be from December 7, 2026
    /// to December 7, 2027".
    pub fn message(&self) -> String {
        match self {
            DateError::Outside(first, last) => format!(
                "must be from {} to {}",
                crate::time::format_civil(*first),
                crate::time::format_civil(*last)
            ),
            other => other.to_string(),
        }
    }
}

/// A span of dates, both ends included, always inside
/// [`EARLIEST`]..=[`LATEST`] and never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    first: Date,
    last: Date,
}

/// `date` moved by `days` (negative: back), `None` past jiff's range.
pub fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(Span::new().days(days)).ok()
}

impl Window {
    /// Every date a request may name.
    pub const ALL: Window = Window {
        first: EARLIEST,
        last: LATEST,
    };

    /// `first..=last`, cut to [`Window::ALL`]; a reversed span is the one
    /// day `first` (cut likewise).
    pub fn new(first: Date, last: Date) -> Window {
        let first = first.clamp(EARLIEST, LATEST);
        let last = last.clamp(first, LATEST);
        Window { first, last }
    }

    /// From `back` days before `day` to `ahead` days after it.
    pub fn around(day: Date, back: i64, ahead: i64) -> Window {
        Window::new(
            add_days(day, -back.max(0)).unwrap_or(EARLIEST),
            add_days(day, ahead.max(0)).unwrap_or(LATEST),
        )
    }

    pub fn first(&self) -> Date {
        self.first
    }

    pub fn last(&self) -> Date {
        self.last
    }

    pub fn contains(&self, day: Date) -> bool {
        self.first <= day && day <= self.last
    }

    /// `day` if it is inside, else the error naming the window.
    pub fn check(&self, day: Date) -> Result<Date, DateError> {
        if self.contains(day) {
            Ok(day)
        } else {
            Err(DateError::Outside(self.first, self.last))
        }
    }

    /// `count` days from `first`, within the window: the days a page or
    /// a search shows. Empty when `first` is outside.
    pub fn days_from(&self, first: Date, count: usize) -> impl Iterator<Item = Date> + use<> {
        let last = self.last;
        let start = self.contains(first).then_some(first);
        start
            .into_iter()
            .flat_map(|d| d.series(Span::new().days(1)))
            .take_while(move |d| *d <= last)
            .take(count)
    }

    /// The days of the window, first to last.
    pub fn days(&self) -> impl Iterator<Item = Date> + use<> {
        let count = self.len();
        self.days_from(self.first, count)
    }

    /// How many days the window holds.
    pub fn len(&self) -> usize {
        self.first
            .until(self.last)
            .map_or(0, |s| usize::try_from(s.get_days()).unwrap_or(0))
            + 1
    }

    /// Never empty: a window holds at least its first day.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A date as `YYYY-MM-DD`, inside `window`.
pub fn parse_date(raw: &str, window: Window) -> Result<Date, DateError> {
    let day = raw
        .trim()
        .parse::<Date>()
        .map_err(|_| DateError::NotADate)?;
    Window::ALL.check(day)?;
    window.check(day)
}

/// An instant as RFC 3339 with an offset (`2026-12-01T09:00:00-05:00`),
/// or as a local `YYYY-MM-DDTHH:MM[:SS]` in `tz` (the earlier of a repeated
/// hour, the first instant after a skipped one), on a date inside `window`
/// in `tz`'s calendar.
pub fn parse_instant(raw: &str, tz: &TimeZone, window: Window) -> Result<Timestamp, DateError> {
    let raw = raw.trim();
    // The date part is checked first: jiff accepts years far beyond any
    // use, and an instant there is refused before it is converted. A date
    // alone is not a time (jiff would read it as midnight).
    let date_part = raw
        .get(..10)
        .filter(|_| raw.len() > 10)
        .ok_or(DateError::NotATime)?;
    let day = date_part.parse::<Date>().map_err(|_| DateError::NotATime)?;
    Window::ALL.check(day)?;
    let at = match raw.parse::<Timestamp>() {
        Ok(t) => t,
        Err(_) => {
            let local = raw.parse::<DateTime>().map_err(|_| DateError::NotATime)?;
            tz.to_ambiguous_timestamp(local)
                .compatible()
                .map_err(|_| DateError::NotATime)?
        }
    };
    window.check(at.to_zoned_datetime(tz.clone()).date())?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dates_outside_the_window_are_refused_before_any_arithmetic() {
        let w = Window::around(date(2026, 12, 7), 0, 30);
        assert_eq!(parse_date("2026-12-07", w), Ok(date(2026, 12, 7)));
        assert_eq!(parse_date(" 2027-01-06 ", w), Ok(date(2027, 1, 6)));
        assert_eq!(
            parse_date("2027-01-07", w),
            Err(DateError::Outside(date(2026, 12, 7), date(2027, 1, 6)))
        );
        for raw in ["9999-12-31", "0001-01-01", "-009999-01-01", "2200-01-01"] {
            assert!(
                matches!(parse_date(raw, Window::ALL), Err(DateError::Outside(..))),
                "{raw}"
            );
        }
        for raw in [
            "-999999",
            "",
            "2026-13-01",
            "2026-02-30",
            "tomorrow",
            "2026-12",
        ] {
            assert_eq!(
                parse_date(raw, Window::ALL),
                Err(DateError::NotADate),
                "{raw}"
            );
        }
        assert_eq!(
            DateError::Outside(date(2026, 12, 7), date(2027, 1, 6)).message(),
            "must be from December 7, 2026 to January 6, 2027"
        );
    }

    #[test]
    fn instants_are_bounded_and_local_times_read_in_the_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let w = Window::around(date(2026, 12, 7), 0, 365);
        assert_eq!(
            parse_instant("2026-12-08T09:00", &ny, w).unwrap(),
            "2026-12-08T14:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_instant("2026-12-08T09:00:00-05:00", &ny, w).unwrap(),
            "2026-12-08T14:00:00Z".parse::<Timestamp>().unwrap()
        );
        // 01:00Z on the 7th is still the 6th in New York: outside.
        assert!(matches!(
            parse_instant("2026-12-07T01:00:00Z", &ny, w),
            Err(DateError::Outside(..))
        ));
        for raw in [
            "9999-12-27T10:00",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00",
        ] {
            assert!(
                matches!(parse_instant(raw, &ny, w), Err(DateError::Outside(..))),
                "{raw}"
            );
        }
        for raw in [
            "",
            "-999999",
            "2026-12-08",
            "2026-12-08T25:00",
            "x".repeat(5000).as_str(),
        ] {
            assert_eq!(
                parse_instant(raw, &ny, w),
                Err(DateError::NotATime),
                "{raw:.20}"
            );
        }
    }

    #[test]
    fn windows_stay_inside_the_bounds_and_their_days_are_counted() {
        let w = Window::around(LATEST, 3, 400);
        assert_eq!((w.first(), w.last()), (date(2199, 12, 28), LATEST));
        assert_eq!(w.days().count(), 4);
        let w = Window::around(date(2026, 12, 7), 2, 2);
        assert_eq!(w.len(), 5);
        assert_eq!(
            w.days_from(date(2026, 12, 8), 7).collect::<Vec<_>>(),
            [date(2026, 12, 8), date(2026, 12, 9)]
        );
        assert_eq!(w.days_from(date(2027, 1, 1), 7).count(), 0);
        let reversed = Window::new(date(2026, 12, 7), date(2026, 1, 1));
        assert_eq!(reversed.len(), 1);
        assert_eq!(Window::ALL.len(), 109_573);
    }

    proptest! {
        #[test]
        fn any_parsed_date_leaves_room_for_years_of_arithmetic(
            y in -9999i16..=9999, m in 1i8..=12, d in 1i8..=28
        ) {
            let raw = Date::new(y, m, d).unwrap().to_string();
            if let Ok(day) = parse_date(&raw, Window::ALL) {
                prop_assert!(add_days(day, 3650).is_some() && add_days(day, -3650).is_some());
            }
        }
    }
}
