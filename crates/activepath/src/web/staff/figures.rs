//! The site's figures for admins: page views per day as a server-drawn
//! chart (with the same numbers in a table), the most viewed pages, and the
//! self-assessment and booking steps over the last 30 days.

use super::{Allowed, SeeSiteFigures, StaffLayout};
use crate::app::AppState;
use crate::figures::{Step, Summary, summarize};
use crate::i18n::Tr;
use crate::web::Result;
use crate::web::layout::html;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// Days shown.
const DAYS: i64 = 30;

/// One bar of the chart, in the SVG's units.
struct Bar {
    x: i64,
    y: i64,
    height: i64,
    label: String,
}

struct StepRow {
    name: String,
    count: i64,
    /// Of the step before it, as a whole percentage.
    of_previous: Option<i64>,
}

#[derive(Template)]
#[template(path = "staff/figures.html")]
struct FiguresPage {
    l: StaffLayout,
    from: String,
    to: String,
    total: i64,
    bars: Vec<Bar>,
    peak: i64,
    days: Vec<(String, i64)>,
    pages: Vec<(String, i64)>,
    steps: Vec<StepRow>,
}

/// The chart's size, in SVG units.
const WIDTH: i64 = 600;
const HEIGHT: i64 = 160;

pub async fn page(
    Allowed(who, _): Allowed<SeeSiteFigures>,
    State(state): State<AppState>,
) -> Result<Response> {
    let tr = Tr::default();
    // What this instance counted in the last minute is stored first.
    crate::figures::flush(&state).await;
    let today = crate::time::date_in(state.clock.now(), state.config.clinic.time_zone.tz());
    let first = today.saturating_sub(jiff::Span::new().days(DAYS - 1));
    let counts = state
        .storage
        .site_counts(&first.to_string(), &today.to_string())
        .await?;
    let Summary {
        views_per_day,
        pages,
        steps,
    } = summarize(&counts, first, today);
    let peak = views_per_day.iter().map(|d| d.1).max().unwrap_or(0);
    let slot = WIDTH / DAYS;
    let bars = views_per_day
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let height = if peak == 0 { 0 } else { n * HEIGHT / peak };
            Bar {
                x: i as i64 * slot + 2,
                y: HEIGHT - height,
                height,
                label: tr.t2(
                    "staff-figures-bar",
                    "day",
                    day.strftime("%b %-d").to_string(),
                    "count",
                    n,
                ),
            }
        })
        .collect();
    let mut previous: Option<i64> = None;
    let steps = steps
        .into_iter()
        .map(|(step, count)| {
            let of_previous = match (step, previous) {
                (Step::AssessmentStarted, _) | (Step::BookingMade, _) => None,
                (_, Some(p)) if p > 0 => Some(count * 100 / p),
                _ => None,
            };
            previous = Some(count);
            StepRow {
                name: tr.t(&format!(
                    "staff-figures-step-{}",
                    step.name().replace('_', "-")
                )),
                count,
                of_previous,
            }
        })
        .collect();
    let page = FiguresPage {
        l: StaffLayout::new(&state, tr.t("staff-figures-title"), Some(&who), "figures"),
        from: crate::time::format_civil(first),
        to: crate::time::format_civil(today),
        total: views_per_day.iter().map(|d| d.1).sum(),
        bars,
        peak,
        days: views_per_day
            .iter()
            .rev()
            .map(|(d, n)| (crate::time::format_civil(*d), *n))
            .collect(),
        pages: pages.into_iter().take(20).collect(),
        steps,
    };
    Ok(html(StatusCode::OK, &page))
}
