//! Site figures a clinic can have without watching anyone: per day, how
//! often each public page was viewed and how many times each step of the
//! self-assessment and booking was reached. Nothing about the visitor is
//! read or kept (no cookies, addresses, browsers or identifiers): a visit
//! only adds one to a number. Counts gather in memory and are added to the
//! database every minute (and at shutdown), so several instances add up.
//!
//! Counting is on the path of every public page view, so it takes no lock
//! and converts no time zone there: each page has its own atomic tally per
//! day (pages are a bounded set, registered once in a fixed table), and the
//! clinic's date is worked out at most once a minute. Only the rare paths
//! (a count put back after a failed store, a day's tally pushed out by the
//! day after next before it was stored, a full table) use a locked map.

use crate::storage::figures::DailyCount;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// A step of the paths the site exists for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// A questionnaire was shown.
    AssessmentStarted,
    /// Answers were scored (a result page was made).
    AssessmentCompleted,
    /// A result was sent to the clinic.
    AssessmentShared,
    /// An appointment was booked online.
    BookingMade,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::AssessmentStarted,
        Step::AssessmentCompleted,
        Step::AssessmentShared,
        Step::BookingMade,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::AssessmentStarted => "assessment_started",
            Step::AssessmentCompleted => "assessment_completed",
            Step::AssessmentShared => "assessment_shared",
            Step::BookingMade => "booking_made",
        }
    }

    fn index(self) -> usize {
        match self {
            Step::AssessmentStarted => 0,
            Step::AssessmentCompleted => 1,
            Step::AssessmentShared => 2,
            Step::BookingMade => 3,
        }
    }
}

pub const VIEW: &str = "view";
pub const STEP: &str = "step";

/// A day as a number that fits beside a count in one atomic word: days
/// since 1970-01-01 plus [`Day::OFFSET`], so from 0 to below 2^24 for every
/// date jiff knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Day(u32);

impl Day {
    const EPOCH: Date = Date::constant(1970, 1, 1);
    /// More than the days from the earliest date to the epoch.
    const OFFSET: i64 = 1 << 23;

    fn of(date: Date) -> Day {
        let days = date.duration_since(Self::EPOCH).as_hours() / 24 + Self::OFFSET;
        Day(u32::try_from(days).expect("jiff's dates lie within 2^23 days of 1970"))
    }

    fn date(self) -> Date {
        let days = i64::from(self.0) - Self::OFFSET;
        Self::EPOCH
            .checked_add(SignedDuration::from_hours(days * 24))
            .expect("a day number made by Day::of")
    }
}

/// The clinic's date, worked out at most once a minute. Local midnight
/// falls on a whole minute of UTC for every offset in use, so a date known
/// for one minute holds for all of it.
#[derive(Debug)]
struct Today {
    tz: TimeZone,
    /// The minute it was worked out for (minutes since the epoch, as `u32`)
    /// in the high half, the day in the low half; [`Today::UNKNOWN`] at first.
    known: AtomicU64,
    /// How many times the date was worked out (read by tests).
    worked_out: AtomicU64,
}

impl Today {
    /// No day number is this large: nothing is known yet.
    const UNKNOWN: u32 = u32::MAX;

    fn new(tz: TimeZone) -> Self {
        Today {
            tz,
            known: AtomicU64::new(u64::from(Self::UNKNOWN)),
            worked_out: AtomicU64::new(0),
        }
    }

    fn day(&self, now: Timestamp) -> Day {
        // Wraps for instants 8,000 years apart, which share no cache entry in
        // practice: the day is cached for one minute at a time.
        let minute = now.as_second().div_euclid(60) as u32;
        let known = self.known.load(Ordering::Relaxed);
        let day = known as u32;
        if (known >> 32) as u32 == minute && day != Self::UNKNOWN {
            return Day(day);
        }
        // Two threads may both work it out at the turn of a minute; each
        // stores a consistent (minute, day) pair in one word.
        let day = Day::of(crate::time::date_in(now, &self.tz));
        self.known.store(
            (u64::from(minute) << 32) | u64::from(day.0),
            Ordering::Relaxed,
        );
        self.worked_out.fetch_add(1, Ordering::Relaxed);
        day
    }
}

/// Bits of a tally's word that hold the count; the day is above them.
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// One thing's counts per day, without a lock: two words, for days of even
/// and odd number, each holding its day and that day's count. Consecutive
/// days never share a word, so a day's count is still there to be taken
/// while the next day is counted.
#[derive(Debug, Default)]
struct Tally {
    words: [AtomicU64; 2],
}

impl Tally {
    /// Adds one to `day`. Returns an older day's count that had to make
    /// room (its word was not taken for two days, or is full), to be kept
    /// elsewhere.
    fn add(&self, day: Day) -> Option<(Day, u64)> {
        let word = &self.words[(day.0 & 1) as usize];
        let mut current = word.load(Ordering::Relaxed);
        loop {
            let (held, count) = (Day((current >> COUNT_BITS) as u32), current & COUNT_MASK);
            let (next, pushed_out) = if held == day && count < COUNT_MASK {
                (current + 1, None)
            } else {
                (
                    (u64::from(day.0) << COUNT_BITS) | 1,
                    (count > 0).then_some((held, count)),
                )
            };
            match word.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return pushed_out,
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes every count out (each word keeps its day, at zero).
    fn take(&self, mut out: impl FnMut(Day, u64)) {
        for word in &self.words {
            let was = word.fetch_and(!COUNT_MASK, Ordering::Relaxed);
            let count = was & COUNT_MASK;
            if count > 0 {
                out(Day((was >> COUNT_BITS) as u32), count);
            }
        }
    }
}

/// A page's place in the counter's table, for counting it without looking
/// up its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageId(usize);

#[derive(Debug, Default)]
struct PageSlot {
    /// Set once, when the page is first seen; never changed after.
    name: OnceLock<Box<str>>,
    views: Tally,
}

/// How many different pages get a lock-free tally: far more than a clinic's
/// site has. Pages past that are still counted, through the locked map.
const PAGES: usize = 4096;

type Pending = HashMap<(Date, &'static str, String), i64>;

/// Counts not yet stored.
#[derive(Debug)]
pub struct Counter {
    today: Today,
    /// Open addressing by a hash of the name; slots are only ever added.
    pages: Box<[PageSlot]>,
    hasher: RandomState,
    steps: [Tally; 4],
    /// Counts put back after a failed store, pushed out of a tally, or of
    /// pages past the table's size.
    pending: Mutex<Pending>,
}

impl Counter {
    /// Counts by the date in `tz`.
    pub fn new(tz: TimeZone) -> Self {
        Self::with_pages(tz, PAGES)
    }

    fn with_pages(tz: TimeZone, pages: usize) -> Self {
        Counter {
            today: Today::new(tz),
            pages: (0..pages.next_power_of_two())
                .map(|_| PageSlot::default())
                .collect(),
            hasher: RandomState::new(),
            steps: Default::default(),
            pending: Mutex::default(),
        }
    }

    /// The page at `path` (a bounded set: pages and route patterns), added
    /// to the table the first time; `None` when the table is full.
    pub fn page(&self, path: &str) -> Option<PageId> {
        let mask = self.pages.len() - 1;
        let start = self.hasher.hash_one(path) as usize & mask;
        for i in 0..self.pages.len() {
            let at = (start + i) & mask;
            let slot = &self.pages[at];
            let name = match slot.name.get() {
                Some(name) => name,
                // A racing thread may claim the slot first, for this name
                // or another: either way the slot now has its name.
                None => {
                    let _ = slot.name.set(path.into());
                    slot.name.get().expect("set just now")
                }
            };
            if **name == *path {
                return Some(PageId(at));
            }
        }
        None
    }

    /// One view of a page found with [`Counter::page`].
    pub fn view_page(&self, page: PageId, now: Timestamp) {
        let day = self.today.day(now);
        if let Some(slot) = self.pages.get(page.0)
            && let (Some(name), Some(pushed_out)) = (slot.name.get(), slot.views.add(day))
        {
            self.keep(pushed_out, VIEW, name);
        }
    }

    /// One view of the page at `path`.
    pub fn view(&self, now: Timestamp, path: &str) {
        match self.page(path) {
            Some(page) => self.view_page(page, now),
            None => {
                let day = self.today.day(now);
                self.keep((day, 1), VIEW, path);
            }
        }
    }

    pub fn step(&self, now: Timestamp, step: Step) {
        let day = self.today.day(now);
        if let Some(pushed_out) = self.steps[step.index()].add(day) {
            self.keep(pushed_out, STEP, step.name());
        }
    }

    fn keep(&self, (day, count): (Day, u64), kind: &'static str, name: &str) {
        self.add_pending(
            day.date(),
            kind,
            name.to_string(),
            i64::try_from(count).unwrap_or(i64::MAX),
        );
    }

    fn add_pending(&self, day: Date, kind: &'static str, name: String, n: i64) {
        let mut pending = self.pending.lock().expect("counter lock");
        let count = pending.entry((day, kind, name)).or_default();
        *count = count.saturating_add(n);
    }

    /// Takes every pending count out, to be stored.
    pub fn take(&self) -> Vec<DailyCount> {
        let mut all = std::mem::take(&mut *self.pending.lock().expect("counter lock"));
        let mut add = |day: Day, kind: &'static str, name: &str, count: u64| {
            let n = all.entry((day.date(), kind, name.to_string())).or_default();
            *n = n.saturating_add(i64::try_from(count).unwrap_or(i64::MAX));
        };
        for slot in self.pages.iter() {
            if let Some(name) = slot.name.get() {
                slot.views.take(|day, count| add(day, VIEW, name, count));
            }
        }
        for step in Step::ALL {
            self.steps[step.index()].take(|day, count| add(day, STEP, step.name(), count));
        }
        all.into_iter()
            .map(|((day, kind, name), count)| DailyCount {
                day: day.to_string(),
                kind: kind.into(),
                name,
                count,
            })
            .collect()
    }

    /// Puts counts back after storing them failed, to try again later.
    pub fn put_back(&self, counts: Vec<DailyCount>) {
        for c in counts {
            let (Ok(day), kind) = (c.day.parse::<Date>(), c.kind.as_str()) else {
                continue;
            };
            let kind = if kind == VIEW { VIEW } else { STEP };
            self.add_pending(day, kind, c.name, c.count);
        }
    }
}

/// Stores the pending counts. On failure they stay pending.
pub async fn flush(state: &crate::app::AppState) {
    let counts = state.figures.take();
    if counts.is_empty() {
        return;
    }
    if let Err(e) = state.storage.add_site_counts(counts.clone()).await {
        tracing::warn!("storing the site figures failed, will retry: {e}");
        state.figures.put_back(counts);
    }
}

/// Every minute: store the pending counts.
pub async fn keep_storing(state: crate::app::AppState) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        flush(&state).await;
    }
}

/// Figures over a span of days, as the portal shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Each day of the span, oldest first, with its page views.
    pub views_per_day: Vec<(Date, i64)>,
    /// Pages by views, most viewed first.
    pub pages: Vec<(String, i64)>,
    /// Each step with its total over the span, in funnel order.
    pub steps: Vec<(Step, i64)>,
}

/// Sums `counts` over the days `first..=last`.
pub fn summarize(counts: &[DailyCount], first: Date, last: Date) -> Summary {
    let mut per_day: HashMap<Date, i64> = HashMap::new();
    let mut pages: HashMap<&str, i64> = HashMap::new();
    let mut steps: HashMap<&str, i64> = HashMap::new();
    for c in counts {
        let Ok(day) = c.day.parse::<Date>() else {
            continue;
        };
        if day < first || day > last {
            continue;
        }
        if c.kind == VIEW {
            *per_day.entry(day).or_default() += c.count;
            *pages.entry(&c.name).or_default() += c.count;
        } else if c.kind == STEP {
            *steps.entry(&c.name).or_default() += c.count;
        }
    }
    let views_per_day = first
        .series(jiff::Span::new().days(1))
        .take_while(|d| *d <= last)
        .map(|d| (d, per_day.get(&d).copied().unwrap_or(0)))
        .collect();
    let mut pages: Vec<(String, i64)> =
        pages.into_iter().map(|(p, n)| (p.to_string(), n)).collect();
    pages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Summary {
        views_per_day,
        pages,
        steps: Step::ALL
            .iter()
            .map(|s| (*s, steps.get(s.name()).copied().unwrap_or(0)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// The instant at local `h:m:s` on `d` in the counter's zone.
    fn at(d: Date, h: i8, m: i8, s: i8) -> Timestamp {
        d.at(h, m, s, 0)
            .to_zoned_datetime(tz())
            .unwrap()
            .timestamp()
    }

    fn tz() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    /// What `take` returned, sorted, as (day, kind, name, count).
    fn sorted(mut taken: Vec<DailyCount>) -> Vec<(String, String, String, i64)> {
        taken.sort_by(|a, b| (&a.day, &a.kind, &a.name).cmp(&(&b.day, &b.kind, &b.name)));
        taken
            .into_iter()
            .map(|t| (t.day, t.kind, t.name, t.count))
            .collect()
    }

    fn row(day: &str, kind: &str, name: &str, count: i64) -> (String, String, String, i64) {
        (day.into(), kind.into(), name.into(), count)
    }

    #[test]
    fn counts_add_up_per_day_and_name_and_survive_a_failed_store() {
        let c = Counter::new(tz());
        let d = date(2026, 12, 7);
        c.view(at(d, 10, 0, 0), "/tms");
        c.view(at(d, 11, 0, 0), "/tms");
        c.view(at(date(2026, 12, 8), 9, 0, 0), "/tms");
        c.step(at(d, 12, 0, 0), Step::BookingMade);
        let taken = c.take();
        assert_eq!(
            sorted(taken.clone()),
            [
                row("2026-12-07", STEP, "booking_made", 1),
                row("2026-12-07", VIEW, "/tms", 2),
                row("2026-12-08", VIEW, "/tms", 1),
            ]
        );
        assert!(c.take().is_empty(), "taken once");
        c.put_back(taken);
        c.view(at(d, 13, 0, 0), "/tms");
        assert_eq!(
            sorted(c.take()),
            [
                row("2026-12-07", STEP, "booking_made", 1),
                row("2026-12-07", VIEW, "/tms", 3),
                row("2026-12-08", VIEW, "/tms", 1),
            ]
        );
    }

    #[test]
    fn a_view_counts_on_the_clinics_date_and_the_date_turns_at_local_midnight() {
        let c = Counter::new(tz());
        let home = c.page("/").unwrap();
        assert_eq!(c.page("/"), Some(home), "one slot per page");
        let (d7, d8) = (date(2026, 12, 7), date(2026, 12, 8));
        // 23:59 in New York is already the 8th in UTC.
        c.view_page(home, at(d7, 23, 59, 0));
        c.view_page(home, at(d7, 23, 59, 59));
        c.view_page(home, at(d8, 0, 0, 0));
        c.view_page(home, at(d8, 0, 0, 1));
        c.step(at(d8, 0, 0, 2), Step::AssessmentStarted);
        assert_eq!(
            sorted(c.take()),
            [
                row("2026-12-07", VIEW, "/", 2),
                row("2026-12-08", STEP, "assessment_started", 1),
                row("2026-12-08", VIEW, "/", 2),
            ]
        );
        // The date is worked out once per minute, not once per view.
        assert_eq!(c.today.worked_out.load(Ordering::Relaxed), 2);
        for s in 0..60 {
            c.view_page(home, at(d8, 0, 1, s));
        }
        assert_eq!(c.today.worked_out.load(Ordering::Relaxed), 3);
        // A clock set back (as tests do) is followed too.
        c.view_page(home, at(d7, 8, 0, 0));
        assert_eq!(
            sorted(c.take()),
            [
                row("2026-12-07", VIEW, "/", 1),
                row("2026-12-08", VIEW, "/", 60)
            ]
        );
    }

    #[test]
    fn a_day_not_yet_stored_when_the_day_after_next_comes_is_kept() {
        let c = Counter::new(tz());
        // The 7th and the 9th share a word: the 9th pushes the 7th's count out.
        for (d, n) in [(7, 3), (8, 2), (9, 1), (10, 4), (11, 5)] {
            for _ in 0..n {
                c.view(at(date(2026, 12, d), 12, 0, 0), "/tms");
            }
        }
        assert_eq!(
            sorted(c.take()),
            [
                row("2026-12-07", VIEW, "/tms", 3),
                row("2026-12-08", VIEW, "/tms", 2),
                row("2026-12-09", VIEW, "/tms", 1),
                row("2026-12-10", VIEW, "/tms", 4),
                row("2026-12-11", VIEW, "/tms", 5),
            ]
        );
    }

    #[test]
    fn pages_past_the_tables_size_are_still_counted() {
        let c = Counter::with_pages(tz(), 4);
        let now = at(date(2026, 12, 7), 12, 0, 0);
        let names: Vec<String> = (0..6).map(|i| format!("/page-{i}")).collect();
        for name in &names {
            c.view(now, name);
            c.view(now, name);
        }
        assert_eq!(
            names.iter().filter(|n| c.page(n).is_some()).count(),
            4,
            "four slots"
        );
        let taken = sorted(c.take());
        assert_eq!(taken.len(), 6);
        assert!(taken.iter().all(|t| t.3 == 2), "{taken:?}");
    }

    #[test]
    fn the_days_and_the_epoch_round_trip() {
        for d in [Date::MIN, date(1970, 1, 1), date(2026, 12, 31), Date::MAX] {
            assert_eq!(Day::of(d).date(), d);
        }
        assert_eq!(
            Day::of(date(2026, 12, 8)).0,
            Day::of(date(2026, 12, 7)).0 + 1
        );
        assert!(Day::of(Date::MAX).0 < 1 << (64 - COUNT_BITS));
    }

    #[test]
    fn views_from_many_threads_sum_exactly_while_being_taken_across_a_day_turn() {
        const THREADS: usize = 16;
        const VIEWS: usize = 20_000;
        let c = Counter::new(tz());
        let before = at(date(2026, 12, 7), 23, 59, 59);
        let after = at(date(2026, 12, 8), 0, 0, 0);
        let pages = ["/", "/tms", "/blog/a-post"];
        let stored = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            let counting: Vec<_> = (0..THREADS)
                .map(|t| {
                    let c = &c;
                    s.spawn(move || {
                        let home = c.page("/").unwrap();
                        for i in 0..VIEWS {
                            // Every thread crosses midnight half-way through.
                            let now = if i < VIEWS / 2 { before } else { after };
                            c.view_page(home, now);
                            c.view(now, pages[(t + i) % pages.len()]);
                            c.step(now, Step::ALL[i % 4]);
                        }
                    })
                })
                .collect();
            // Meanwhile the minute's flush takes what is there, again and again.
            while !counting.iter().all(|h| h.is_finished()) {
                stored.lock().unwrap().extend(c.take());
            }
        });
        let mut totals: HashMap<(String, String, String), i64> = HashMap::new();
        for t in stored.into_inner().unwrap().into_iter().chain(c.take()) {
            *totals.entry((t.day, t.kind, t.name)).or_default() += t.count;
        }
        let half = (THREADS * VIEWS / 2) as i64;
        for day in ["2026-12-07", "2026-12-08"] {
            let get = |kind: &str, name: &str| {
                totals
                    .get(&(day.to_string(), kind.to_string(), name.to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            let pages_total: i64 = pages.iter().map(|p| get(VIEW, p)).sum();
            assert_eq!(pages_total, 2 * half, "{day}: every view, once");
            assert!(get(VIEW, "/") > half, "{day}: home counted twice a round");
            let steps_total: i64 = Step::ALL.iter().map(|s| get(STEP, s.name())).sum();
            assert_eq!(steps_total, half, "{day}");
            for step in Step::ALL {
                assert_eq!(get(STEP, step.name()), half / 4, "{day} {step:?}");
            }
        }
        assert_eq!(totals.len(), 2 * (pages.len() + Step::ALL.len()));
    }

    #[test]
    fn a_summary_fills_quiet_days_with_zero_and_orders_the_funnel() {
        let row = |day: &str, kind: &str, name: &str, count| DailyCount {
            day: day.into(),
            kind: kind.into(),
            name: name.into(),
            count,
        };
        let counts = vec![
            row("2026-12-01", VIEW, "/", 5),
            row("2026-12-03", VIEW, "/", 2),
            row("2026-12-03", VIEW, "/tms", 4),
            row("2026-12-03", STEP, "assessment_completed", 3),
            row("2026-12-03", STEP, "assessment_started", 7),
            row("2026-11-01", VIEW, "/", 100),
        ];
        let s = summarize(&counts, date(2026, 12, 1), date(2026, 12, 3));
        assert_eq!(
            s.views_per_day,
            [
                (date(2026, 12, 1), 5),
                (date(2026, 12, 2), 0),
                (date(2026, 12, 3), 6)
            ]
        );
        assert_eq!(s.pages, [("/".to_string(), 7), ("/tms".to_string(), 4)]);
        assert_eq!(
            s.steps,
            [
                (Step::AssessmentStarted, 7),
                (Step::AssessmentCompleted, 3),
                (Step::AssessmentShared, 0),
                (Step::BookingMade, 0)
            ]
        );
    }
}
