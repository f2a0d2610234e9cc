//! Site figures a clinic can have without watching anyone: per day, how
//! often each public page was viewed and how many times each step of the
//! self-assessment and booking was reached. Nothing about the visitor is
//! read or kept (no cookies, addresses, browsers or identifiers): a visit
//! only adds one to a number. Counts gather in memory and are added to the
//! database every minute (and at shutdown), so several instances add up.

use crate::storage::figures::DailyCount;
use jiff::civil::Date;
use std::collections::HashMap;
use std::sync::Mutex;

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
}

pub const VIEW: &str = "view";
pub const STEP: &str = "step";

/// Counts not yet stored: (day, kind, name) -> count.
#[derive(Debug, Default)]
pub struct Counter {
    pending: Mutex<HashMap<(Date, &'static str, String), i64>>,
}

impl Counter {
    /// One view of the page at `path` (a bounded set: pages and route patterns).
    pub fn view(&self, day: Date, path: &str) {
        self.add(day, VIEW, path.to_string(), 1);
    }

    pub fn step(&self, day: Date, step: Step) {
        self.add(day, STEP, step.name().to_string(), 1);
    }

    fn add(&self, day: Date, kind: &'static str, name: String, n: i64) {
        *self
            .pending
            .lock()
            .expect("counter lock")
            .entry((day, kind, name))
            .or_default() += n;
    }

    /// Takes every pending count out, to be stored.
    pub fn take(&self) -> Vec<DailyCount> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("counter lock"));
        pending
            .into_iter()
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
            self.add(day, kind, c.name, c.count);
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

    #[test]
    fn counts_add_up_per_day_and_name_and_survive_a_failed_store() {
        let c = Counter::default();
        let d = date(2026, 12, 7);
        c.view(d, "/tms");
        c.view(d, "/tms");
        c.view(date(2026, 12, 8), "/tms");
        c.step(d, Step::BookingMade);
        let mut taken = c.take();
        taken.sort_by(|a, b| (&a.day, &a.name).cmp(&(&b.day, &b.name)));
        let got: Vec<(&str, &str, &str, i64)> = taken
            .iter()
            .map(|t| (t.day.as_str(), t.kind.as_str(), t.name.as_str(), t.count))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-12-07", VIEW, "/tms", 2),
                ("2026-12-07", STEP, "booking_made", 1),
                ("2026-12-08", VIEW, "/tms", 1),
            ]
        );
        assert!(c.take().is_empty(), "taken once");
        c.put_back(taken.clone());
        c.view(d, "/tms");
        let again: i64 = c
            .take()
            .iter()
            .filter(|t| t.name == "/tms" && t.day == "2026-12-07")
            .map(|t| t.count)
            .sum();
        assert_eq!(again, 3);
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
