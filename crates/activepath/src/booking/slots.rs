//! Free appointment times, as a pure function of the clinic's rules, the
//! bookings already made and the time now. The same function offers the
//! slots and validates a booking ([`Schedule::check`]), so a hand-edited
//! request cannot get round buffers, notice or opening hours.
//!
//! Opening hours are wall-clock times in the location's zone ("Mondays 9:00
//! to 17:00"). Each day's hours are turned into instants through the zone on
//! that day, never by adding 24 hours to another day, so a daylight-saving
//! change moves nothing: 9:00 stays 9:00. A time that does not exist (the
//! hour skipped in spring) moves to the first instant after the gap, and a
//! time that exists twice (the hour repeated in autumn) means the earlier
//! one; both are jiff's "compatible" rule, the one RFC 5545 prescribes.
//! Slots then step in real time from the start of each opening, so a
//! 60-minute appointment is 60 minutes long whatever the clock does.

use crate::domain::day::Window;
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// What kind of thing a resource is; an appointment type needs one of each
/// kind it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Clinician,
    Room,
    TmsChair,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 3] = [
        ResourceKind::Clinician,
        ResourceKind::Room,
        ResourceKind::TmsChair,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ResourceKind::Clinician => "clinician",
            ResourceKind::Room => "room",
            ResourceKind::TmsChair => "tms_chair",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }
}

/// A minute of the day, 0 (midnight) to 1440 (the next midnight), for
/// opening hours.
pub type DayMinute = u16;

/// The last minute a span may end at: the midnight that ends the day.
pub const END_OF_DAY: DayMinute = 24 * 60;

/// The timing rules of an appointment type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub duration: SignedDuration,
    /// Kept free before the appointment on each of its resources.
    pub buffer_before: SignedDuration,
    /// Kept free after it (notes, cleaning the chair).
    pub buffer_after: SignedDuration,
    /// Offered start times are this far apart.
    pub step: SignedDuration,
    /// How soon the earliest bookable start may be.
    pub min_notice: SignedDuration,
    /// How many days ahead, counted in the location's calendar, may be
    /// booked (today is day 0).
    pub horizon_days: u16,
    pub needs: Vec<ResourceKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub id: i64,
    pub kind: ResourceKind,
}

/// A resource's regular hours on one weekday at this location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyHours {
    pub resource: i64,
    pub weekday: Weekday,
    pub start: DayMinute,
    pub end: DayMinute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// Not available (a holiday, time off): replaces regular hours.
    Closed,
    /// Extra hours on this one day.
    Open,
}

/// A change to the regular hours on one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    /// `None`: the whole location (a holiday closure).
    pub resource: Option<i64>,
    pub date: Date,
    /// `None`: the whole day.
    pub span: Option<(DayMinute, DayMinute)>,
    pub kind: ExceptionKind,
}

/// Time already taken on a resource (an appointment with its buffers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub resource: i64,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// A bookable time and the resources it would use (one per needed kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
    pub resources: Vec<i64>,
}

impl Slot {
    /// The time this slot keeps each of its resources busy: the appointment
    /// with its buffers.
    pub fn blocked(&self, timing: &Timing) -> (Timestamp, Timestamp) {
        (
            self.start - timing.buffer_before,
            self.end + timing.buffer_after,
        )
    }
}

/// Why a requested start time cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Sooner than the minimum notice.
    TooSoon,
    /// Beyond how far ahead the clinic books.
    TooFar,
    /// Not one of the offered times (outside hours, off the step, or taken).
    NotOffered,
}

/// Everything that decides the free times of one appointment type at one
/// location.
#[derive(Debug, Clone)]
pub struct Schedule<'a> {
    pub tz: &'a TimeZone,
    pub timing: &'a Timing,
    /// The resources that work at this location.
    pub resources: &'a [Resource],
    pub hours: &'a [WeeklyHours],
    pub exceptions: &'a [Exception],
    pub busy: &'a [Busy],
}

/// Half-open intervals of instants.
type Span = (Timestamp, Timestamp);

/// The instant a wall-clock minute of `date` names in `tz` (see the module
/// comment for gaps and folds).
pub fn local_instant(tz: &TimeZone, date: Date, minute: DayMinute) -> Timestamp {
    let (date, minute) = if minute >= END_OF_DAY {
        match date.tomorrow() {
            Ok(next) => (next, 0),
            Err(_) => return Timestamp::MAX,
        }
    } else {
        (date, minute)
    };
    let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).unwrap_or(Time::MIN);
    tz.to_ambiguous_timestamp(DateTime::from_parts(date, time))
        .compatible()
        .unwrap_or(Timestamp::MAX)
}

/// `spans` with every part covered by `cut` removed.
fn subtract(spans: Vec<Span>, cut: Span) -> Vec<Span> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    for (a, b) in spans {
        if cut.1 <= a || b <= cut.0 {
            out.push((a, b));
            continue;
        }
        if a < cut.0 {
            out.push((a, cut.0));
        }
        if cut.1 < b {
            out.push((cut.1, b));
        }
    }
    out
}

impl Schedule<'_> {
    fn span(&self, date: Date, (start, end): (DayMinute, DayMinute)) -> Span {
        (
            local_instant(self.tz, date, start),
            local_instant(self.tz, date, end),
        )
    }

    /// When `resource` is open on `date`, after that day's exceptions.
    fn open(&self, resource: i64, date: Date) -> Vec<Span> {
        let mut spans: Vec<Span> = self
            .hours
            .iter()
            .filter(|h| h.resource == resource && h.weekday == date.weekday())
            .map(|h| self.span(date, (h.start, h.end)))
            .collect();
        let today = |e: &&Exception| e.date == date;
        spans.extend(
            self.exceptions
                .iter()
                .filter(today)
                .filter(|e| e.kind == ExceptionKind::Open && e.resource == Some(resource))
                .filter_map(|e| e.span.map(|s| self.span(date, s))),
        );
        for e in
            self.exceptions.iter().filter(today).filter(|e| {
                e.kind == ExceptionKind::Closed && e.resource.is_none_or(|r| r == resource)
            })
        {
            let cut = self.span(date, e.span.unwrap_or((0, END_OF_DAY)));
            spans = subtract(spans, cut);
        }
        spans.retain(|(a, b)| a < b);
        spans
    }

    /// Whether `resource` can take an appointment at `start`: inside its
    /// hours, and its blocked time clear of every other booking.
    fn fits(&self, resource: i64, open: &[Span], start: Timestamp) -> bool {
        let t = self.timing;
        let end = start + t.duration;
        let (from, until) = (start - t.buffer_before, end + t.buffer_after);
        open.iter().any(|&(a, b)| a <= start && end <= b)
            && !self
                .busy
                .iter()
                .any(|b| b.resource == resource && b.from < until && from < b.until)
    }

    /// The earliest start the rules allow at `now`, and the dates that may
    /// be booked (today, in the location's calendar, to the horizon).
    fn window(&self, now: Timestamp) -> (Timestamp, Window) {
        let earliest = crate::time::after(now, self.timing.min_notice);
        let today = now.to_zoned_datetime(self.tz.clone()).date();
        (
            earliest,
            Window::around(today, 0, i64::from(self.timing.horizon_days)),
        )
    }

    /// The free slots starting on the dates `from..=to` (in the location's
    /// calendar), in time order. Only bookable dates are looked at, so the
    /// loop is as long as the horizon at most, whatever is asked.
    pub fn slots(&self, from: Date, to: Date, now: Timestamp) -> Vec<Slot> {
        let (earliest, bookable) = self.window(now);
        let from = from.max(bookable.first());
        let to = to.min(bookable.last());
        if to < from {
            return Vec::new();
        }
        Window::new(from, to)
            .days()
            .flat_map(|date| self.slots_on(date, earliest))
            .collect()
    }

    fn slots_on(&self, date: Date, earliest: Timestamp) -> Vec<Slot> {
        let t = self.timing;
        if t.duration <= SignedDuration::ZERO || t.step <= SignedDuration::ZERO {
            return Vec::new();
        }
        // Each needed kind, with the resources of that kind and their hours.
        let by_kind: Vec<Vec<(i64, Vec<Span>)>> = t
            .needs
            .iter()
            .map(|kind| {
                self.resources
                    .iter()
                    .filter(|r| r.kind == *kind)
                    .map(|r| (r.id, self.open(r.id, date)))
                    .collect()
            })
            .collect();
        if by_kind.is_empty() {
            return Vec::new();
        }
        let mut starts: Vec<Timestamp> = Vec::new();
        for (_, open) in by_kind.iter().flatten() {
            for &(a, b) in open {
                // Checked: a span at the end of jiff's range ends the
                // loop instead of wrapping or panicking.
                let mut s = Some(a);
                while let Some(at) = s
                    && at.checked_add(t.duration).is_ok_and(|end| end <= b)
                {
                    starts.push(at);
                    s = at.checked_add(t.step).ok();
                }
            }
        }
        starts.sort();
        starts.dedup();
        starts
            .into_iter()
            .filter(|s| *s >= earliest)
            .filter_map(|start| {
                let resources = by_kind
                    .iter()
                    .map(|candidates| {
                        candidates
                            .iter()
                            .find(|(id, open)| self.fits(*id, open, start))
                            .map(|(id, _)| *id)
                    })
                    .collect::<Option<Vec<i64>>>()?;
                Some(Slot {
                    start,
                    end: start + t.duration,
                    resources,
                })
            })
            .collect()
    }

    /// The slot starting exactly at `start`, if the rules offer it at `now`.
    pub fn check(&self, start: Timestamp, now: Timestamp) -> Result<Slot, Unavailable> {
        let (earliest, bookable) = self.window(now);
        if start < earliest {
            return Err(Unavailable::TooSoon);
        }
        let date = start.to_zoned_datetime(self.tz.clone()).date();
        if date > bookable.last() {
            return Err(Unavailable::TooFar);
        }
        self.slots_on(date, earliest)
            .into_iter()
            .find(|s| s.start == start)
            .ok_or(Unavailable::NotOffered)
    }

    /// Up to `n` free slots nearest to `around` within `days` either side,
    /// nearest first: what to offer when the chosen time was just taken.
    pub fn nearest(&self, around: Timestamp, now: Timestamp, days: i64, n: usize) -> Vec<Slot> {
        let dates = Window::around(around.to_zoned_datetime(self.tz.clone()).date(), days, days);
        let mut slots = self.slots(dates.first(), dates.last(), now);
        slots.sort_by_key(|s| s.start.duration_since(around).abs());
        slots.truncate(n);
        slots.sort_by_key(|s| s.start);
        slots
    }
}

#[cfg(test)]
mod tests;
