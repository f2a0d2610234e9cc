//! The visitor's booking pages, without JavaScript: choose what and where
//! (`/book`), a week of free times, the details form (which holds the time
//! until the person confirms it from their e-mail: see `hold.rs`), then the
//! booking's own page behind its manage link, from which it can be moved or
//! cancelled until a week after the appointment. Every time shown is a
//! link; every change is a POST.

use crate::app::AppState;
use crate::booking::{
    self, AppointmentType, BookError, Cap, Catalogue, ChangeError, HoldError, Holder, Location,
    RawDetails, Source,
};
use crate::domain::day::{DateText, Window, add_days, parse_date};
use crate::i18n::Tr;
use crate::time::{format_appointment, format_clock, format_day};
use crate::web::assessment::ErrorLink;
use crate::web::layout::{Layout, html};
use crate::web::rate_limit::{BookingRoute, RateLimit};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

/// Days shown at a time.
const WEEK: usize = 7;

fn minutes_label(tr: &Tr, kind: &AppointmentType) -> String {
    tr.t1(
        "book-minutes",
        "minutes",
        kind.timing.duration.as_mins().to_string(),
    )
}

struct Choice {
    slug: String,
    name: String,
    duration: String,
    description: String,
    /// (link, label) per location that offers it.
    locations: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "booking/index.html")]
struct IndexPage {
    l: Layout,
    choices: Vec<Choice>,
}

pub async fn index(State(state): State<AppState>) -> Result<Response> {
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let tr = Tr::default();
    let choices = cat
        .types
        .iter()
        .filter(|t| t.public)
        .filter_map(|t| {
            let locations: Vec<_> = cat
                .locations_for(t)
                .into_iter()
                .map(|l| {
                    (
                        format!("/book/{}/{}", t.slug, l.slug),
                        tr.t1("book-see-times", "place", &l.name),
                    )
                })
                .collect();
            (!locations.is_empty()).then(|| Choice {
                slug: t.slug.clone(),
                name: t.name.clone(),
                duration: minutes_label(&tr, t),
                description: t.description.clone(),
                locations,
            })
        })
        .collect();
    let l = Layout::new(&state, "book", "book-title", "book-description").at("/book");
    Ok(html(StatusCode::OK, &IndexPage { l, choices }))
}

/// The type and location named in a path, or 404.
fn chosen<'a>(
    cat: &'a Catalogue,
    kind: &str,
    location: &str,
) -> Result<(&'a AppointmentType, &'a Location)> {
    let kind = cat.public_type(kind).ok_or(AppError::NotFound)?;
    let location = cat
        .location(location)
        .filter(|l| cat.offered_at(kind, l))
        .ok_or(AppError::NotFound)?;
    Ok((kind, location))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WeekQuery {
    pub week: Option<DateText>,
    /// The visitor's own time zone, when they name one that differs from
    /// the clinic's: each time is then also shown in theirs.
    pub tz: Option<String>,
}

pub(crate) struct Day {
    pub label: String,
    /// (link, label).
    pub times: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "booking/times.html")]
struct TimesPage {
    l: Layout,
    heading: String,
    zone_note: String,
    /// The visitor's chosen zone, named, when it differs; the choices.
    their_zone: Option<String>,
    zones: Vec<(&'static str, bool)>,
    /// Where the zone form sends (this page), and the week it shows.
    action: String,
    week: String,
    days: Vec<Day>,
    earlier: Option<String>,
    later: Option<String>,
    back: String,
}

/// The first day of the week asked for, inside `window` (the days that
/// can be booked): its first day when none is asked for, or for a week
/// already past (an old link). Anything else outside it is refused,
/// naming `week`.
fn week_start(query: &WeekQuery, window: Window) -> Result<Date> {
    let Some(raw) = query
        .week
        .as_ref()
        .map(DateText::as_str)
        .filter(|w| !w.trim().is_empty())
    else {
        return Ok(window.first());
    };
    let day = parse_date(raw, Window::ALL).map_err(|e| AppError::bad("week", e.message()))?;
    if day < window.first() {
        return Ok(window.first());
    }
    window
        .check(day)
        .map_err(|e| AppError::bad("week", e.message()))
}

/// A week of free times, each a link made by `link(start)`.
pub(crate) async fn week_of_times(
    state: &AppState,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    query: &WeekQuery,
    base: &str,
    link: impl Fn(Timestamp) -> String,
) -> Result<(Vec<Day>, Option<String>, Option<String>)> {
    let window = booking::bookable_days(kind, location, state.clock.now());
    let from = week_start(query, window)?;
    let dates: Vec<Date> = window.days_from(from, WEEK).collect();
    let to = dates.last().copied().unwrap_or(from);
    let slots = booking::free_slots(state, cat, kind, location, from, to)
        .await
        .map_err(anyhow::Error::from)?;
    let theirs = visitor_zone(query, location);
    let days = dates
        .into_iter()
        .map(|date| Day {
            label: format_day(date),
            times: slots
                .iter()
                .filter(|s| s.start.to_zoned_datetime(location.tz.clone()).date() == date)
                .map(|s| {
                    let here = format_clock(s.start, &location.tz);
                    let label = match &theirs {
                        Some((_, tz)) => Tr::default().t2(
                            "book-time-both",
                            "when",
                            here,
                            "place",
                            s.start
                                .to_zoned_datetime(tz.clone())
                                .strftime("%a %-I:%M %p")
                                .to_string(),
                        ),
                        None => here,
                    };
                    (link(s.start), label)
                })
                .collect(),
        })
        .collect();
    let zone = theirs.map_or_else(String::new, |(name, _)| format!("&tz={name}"));
    let week = |d: Option<Date>| d.filter(|d| window.contains(*d));
    let earlier = (from > window.first()).then(|| {
        let back = week(add_days(from, -(WEEK as i64))).unwrap_or(window.first());
        format!("{base}?week={back}{zone}")
    });
    let later = week(add_days(from, WEEK as i64)).map(|next| format!("{base}?week={next}{zone}"));
    Ok((days, earlier, later))
}

/// Time zones a visitor may pick to see the times in their own.
pub const VISITOR_ZONES: [&str; 12] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Puerto_Rico",
    "Europe/London",
    "UTC",
];

/// The visitor's zone, if they chose one of [`VISITOR_ZONES`] other than
/// the location's.
fn visitor_zone(query: &WeekQuery, location: &Location) -> Option<(&'static str, TimeZone)> {
    let name = VISITOR_ZONES
        .into_iter()
        .find(|z| Some(*z) == query.tz.as_deref())?;
    (Some(name) != location.tz.iana_name())
        .then(|| TimeZone::get(name).ok().map(|tz| (name, tz)))?
}

pub(crate) fn zone_note(tr: &Tr, location: &Location) -> String {
    tr.t1(
        "book-zone-note",
        "place",
        location.tz.iana_name().unwrap_or("UTC"),
    )
}

pub async fn times(
    State(state): State<AppState>,
    Path((kind, location)): Path<(String, String)>,
    Query(query): Query<WeekQuery>,
) -> Result<Response> {
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let (kind, location) = chosen(&cat, &kind, &location)?;
    let base = format!("/book/{}/{}", kind.slug, location.slug);
    let (days, earlier, later) =
        week_of_times(&state, &cat, kind, location, &query, &base, |start| {
            format!("{base}/details?start={}", crate::time::rfc3339(start))
        })
        .await?;
    let tr = Tr::default();
    let heading = tr.t2(
        "book-times-heading",
        "kind",
        &kind.name,
        "place",
        &location.name,
    );
    let l = Layout::with_title(&state, "book", heading.clone(), heading.clone()).private();
    let theirs = visitor_zone(&query, location).map(|(name, _)| name);
    Ok(html(
        StatusCode::OK,
        &TimesPage {
            zone_note: zone_note(&tr, location),
            their_zone: theirs.map(|z| tr.t1("book-zone-theirs", "place", z)),
            zones: VISITOR_ZONES
                .into_iter()
                .map(|z| (z, Some(z) == query.tz.as_deref()))
                .collect(),
            action: base.clone(),
            week: query.week.clone().map(|w| w.0).unwrap_or_default(),
            heading,
            days,
            earlier,
            later,
            back: "/book".into(),
            l,
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StartQuery {
    pub start: DateText,
}

/// The form as posted: strings, so nothing typed is lost.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetailsForm {
    start: DateText,
    name: String,
    email: String,
    phone: String,
    reason: String,
    consent: String,
}

#[derive(Template)]
#[template(path = "booking/details.html")]
struct DetailsPage {
    l: Layout,
    action: String,
    summary: String,
    form: DetailsForm,
    errors: Vec<ErrorLink>,
    err: std::collections::HashMap<&'static str, String>,
    consent_text: String,
    /// "That time was just taken" and the nearest free times.
    taken: Option<Vec<(String, String)>>,
    /// The time cannot be booked at all (too soon, not offered).
    not_offered: bool,
    times_link: String,
}

impl DetailsPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.err.get(field)
    }
}

pub(super) fn summary(
    tr: &Tr,
    kind: &AppointmentType,
    location: &Location,
    start: Timestamp,
) -> String {
    tr.args(
        "book-summary",
        &[
            ("kind", kind.name.clone()),
            ("place", location.name.clone()),
            ("when", format_appointment(start, &location.tz)),
        ],
    )
}

fn details_page(
    state: &AppState,
    kind: &AppointmentType,
    location: &Location,
    start: Timestamp,
    form: DetailsForm,
    problems: &[booking::FieldProblem],
) -> DetailsPage {
    let tr = Tr::default();
    let base = format!("/book/{}/{}", kind.slug, location.slug);
    let l = Layout::new(state, "book", "book-details-title", "book-details-title").private();
    DetailsPage {
        action: format!("{base}/details"),
        summary: summary(&tr, kind, location, start),
        errors: problems
            .iter()
            .map(|(field, key)| ErrorLink {
                anchor: (*field).into(),
                message: tr.t(key),
            })
            .collect(),
        err: problems
            .iter()
            .map(|(field, key)| (*field, tr.t(key)))
            .collect(),
        consent_text: tr.t1("book-consent", "clinic", &state.config.clinic.name),
        taken: None,
        not_offered: false,
        times_link: base,
        form,
        l,
    }
}

/// A chosen start time (RFC 3339, as the time links carry it) on a date
/// `kind` can be booked on at `location`; else 400 naming `start`.
pub(crate) fn parse_start(
    state: &AppState,
    raw: &str,
    kind: &AppointmentType,
    location: &Location,
) -> Result<Timestamp> {
    let bookable = booking::bookable_days(kind, location, state.clock.now());
    crate::domain::day::parse_instant(raw, &location.tz, bookable)
        .map_err(|e| AppError::bad("start", e.message()))
}

pub async fn details(
    State(state): State<AppState>,
    Path((kind, location)): Path<(String, String)>,
    Query(query): Query<StartQuery>,
) -> Result<Response> {
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let (kind, location) = chosen(&cat, &kind, &location)?;
    let start = parse_start(&state, query.start.as_str(), kind, location)?;
    let form = DetailsForm {
        start: DateText(crate::time::rfc3339(start)),
        ..DetailsForm::default()
    };
    let page = details_page(&state, kind, location, start, form, &[]);
    Ok(html(StatusCode::OK, &page))
}

/// The nearest free times as links to their details form.
pub(crate) fn time_links(
    location: &Location,
    slots: &[booking::slots::Slot],
    base: impl Fn(Timestamp) -> String,
) -> Vec<(String, String)> {
    slots
        .iter()
        .map(|s| (base(s.start), format_appointment(s.start, &location.tz)))
        .collect()
}

pub async fn submit(
    limit: RateLimit<BookingRoute>,
    State(state): State<AppState>,
    Path((kind, location)): Path<(String, String)>,
    Form(form): Form<DetailsForm>,
) -> Result<Response> {
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let (kind, location) = chosen(&cat, &kind, &location)?;
    let base = format!("/book/{}/{}", kind.slug, location.slug);
    let start = parse_start(&state, form.start.as_str(), kind, location)?;
    let raw = RawDetails {
        name: form.name.clone(),
        email: form.email.clone(),
        phone: form.phone.clone(),
        reason: form.reason.clone(),
        consent: form.consent == "yes",
    };
    let details = match booking::parse_details(&raw) {
        Ok(d) => d,
        Err(problems) => {
            let page = details_page(&state, kind, location, start, form, &problems);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    let holder = Holder {
        source: Source::Web,
        client: limit.client(),
    };
    match booking::hold(&state, &cat, kind, location, start, &details, holder).await {
        Ok(held) => Ok(Redirect::to(&format!("/book/held/{}", held.uid)).into_response()),
        Err(HoldError::Book(BookError::Taken { nearest })) => {
            let mut page = details_page(&state, kind, location, start, form, &[]);
            page.taken = Some(time_links(location, &nearest, |s| {
                format!("{base}/details?start={}", crate::time::rfc3339(s))
            }));
            Ok(html(StatusCode::CONFLICT, &page))
        }
        Err(HoldError::Book(BookError::NotOffered(_))) => {
            let mut page = details_page(&state, kind, location, start, form, &[]);
            page.not_offered = true;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(HoldError::Capped(reached)) if reached.cap == Cap::Email => {
            // The address is the problem: the form again, everything kept,
            // the reason beside the address.
            let mut page = details_page(&state, kind, location, start, form, &[]);
            let message = Tr::default().t1(
                "book-error-email-holds",
                "phone",
                &state.config.clinic.phone,
            );
            page.errors.push(ErrorLink {
                anchor: "email".into(),
                message: message.clone(),
            });
            page.err.insert("email", message);
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(HoldError::Capped(reached)) => Ok(refused(&state, location, reached)),
        Err(HoldError::Book(BookError::Failed(e))) => Err(anyhow::Error::from(e).into()),
    }
}

/// A page with one message and what to do: its heading, its paragraphs
/// (the first as the lead), the clinic's phone number as a link when
/// `call`, and at most one button.
#[derive(Template)]
#[template(path = "booking/notice.html")]
pub(super) struct NoticePage {
    pub l: Layout,
    pub heading: String,
    pub lines: Vec<String>,
    pub call: bool,
    pub action: Option<(String, String)>,
}

impl NoticePage {
    pub fn new(state: &AppState, heading: String, lines: Vec<String>) -> Self {
        NoticePage {
            l: Layout::with_title(state, "book", heading.clone(), heading.clone()).private(),
            heading,
            lines,
            call: false,
            action: None,
        }
    }
}

/// Why nothing was held (a cap on unconfirmed bookings), with the clinic's
/// phone number: 429 with `Retry-After` for this client's own holds, 409
/// when the location has had too many unconfirmed bookings today.
fn refused(state: &AppState, location: &Location, reached: booking::CapReached) -> Response {
    let tr = Tr::default();
    let phone = &state.config.clinic.phone;
    let (status, reason) = match reached.cap {
        Cap::Client | Cap::Email => (StatusCode::TOO_MANY_REQUESTS, tr.t("book-refused-client")),
        Cap::Location => (
            StatusCode::CONFLICT,
            tr.t1("book-refused-location", "place", &location.name),
        ),
    };
    let mut page = NoticePage::new(
        state,
        tr.t("book-refused-title"),
        vec![reason, tr.t1("book-refused-call", "phone", phone)],
    );
    page.call = true;
    let mut res = html(status, &page);
    let wait = reached.until.duration_since(state.clock.now());
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        crate::web::rate_limit::retry_after(
            std::time::Duration::try_from(wait).unwrap_or_default(),
        ),
    );
    res
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

#[derive(Template)]
#[template(path = "booking/manage.html")]
struct ManagePage {
    l: Layout,
    token: String,
    /// "booked", "moved", "cancelled" or "" (how the person got here).
    done: String,
    cancelled: bool,
    past: bool,
    kind: String,
    when: String,
    place: String,
    address: String,
    map_url: String,
    name: String,
}

/// The booking behind a manage link, or a 404 page; once the link has
/// stopped working ([`booking::MANAGE_LINK_DAYS`] after the appointment),
/// `Err` with the page that says so and gives the clinic's phone number,
/// and nothing about the booking.
async fn open(
    state: &AppState,
    token: &str,
) -> Result<std::result::Result<(booking::Appointment, Catalogue), Response>> {
    let appointment = booking::by_token(state, token)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(AppError::NotFound)?;
    if !appointment.manage_link_works(state.clock.now()) {
        let tr = Tr::default();
        let mut page = NoticePage::new(
            state,
            tr.t("book-link-expired-title"),
            vec![tr.t1(
                "book-link-expired-lead",
                "phone",
                &state.config.clinic.phone,
            )],
        );
        page.call = true;
        return Ok(Err(html(StatusCode::GONE, &page)));
    }
    let cat = Catalogue::load(state).await.map_err(anyhow::Error::from)?;
    Ok(Ok((appointment, cat)))
}

pub async fn manage(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<DoneQuery>,
) -> Result<Response> {
    let (a, cat) = match open(&state, &token).await? {
        Ok(found) => found,
        Err(expired) => return Ok(expired),
    };
    let location = cat.location_by_id(a.row.location_id);
    let tz = location.map_or(state.config.clinic.time_zone.tz().clone(), |l| l.tz.clone());
    let l = Layout::new(&state, "book", "book-manage-title", "book-manage-title").private();
    let page = ManagePage {
        done: match query.done.as_str() {
            d @ ("booked" | "moved" | "cancelled") => d.to_string(),
            _ => String::new(),
        },
        cancelled: a.is_cancelled(),
        past: a.row.starts_at <= state.clock.now(),
        kind: cat
            .type_by_id(a.row.type_id)
            .map_or_else(String::new, |t| t.name.clone()),
        when: format_appointment(a.row.starts_at, &tz),
        place: location.map_or_else(String::new, |l| l.name.clone()),
        address: location.map_or_else(String::new, |l| l.address.clone()),
        map_url: location.map_or_else(String::new, |l| l.map_url.clone()),
        name: a.details.name.clone(),
        token,
        l,
    };
    Ok(html(StatusCode::OK, &page))
}

/// A question and its one button (cancel? move? confirm?).
#[derive(Template)]
#[template(path = "booking/change.html")]
pub(super) struct ChangePage {
    pub l: Layout,
    pub heading: String,
    pub lead: String,
    pub action: String,
    pub start: String,
    pub button: String,
    pub back: String,
    /// Shown above the form: why the change did not go through.
    pub problem: Option<String>,
    pub taken: Option<Vec<(String, String)>>,
}

fn manage_path(token: &str) -> String {
    format!("/book/manage/{token}")
}

/// `GET /book/manage/{token}/cancel`: are you sure?
pub async fn cancel_confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response> {
    let (a, cat) = match open(&state, &token).await? {
        Ok(found) => found,
        Err(expired) => return Ok(expired),
    };
    if a.is_cancelled() || a.row.starts_at <= state.clock.now() {
        return Ok(Redirect::to(&manage_path(&token)).into_response());
    }
    let tr = Tr::default();
    let tz = cat
        .location_by_id(a.row.location_id)
        .map_or(state.config.clinic.time_zone.tz().clone(), |l| l.tz.clone());
    let l = Layout::new(&state, "book", "book-cancel-title", "book-cancel-title").private();
    let page = ChangePage {
        heading: tr.t("book-cancel-title"),
        lead: tr.t1(
            "book-cancel-lead",
            "when",
            format_appointment(a.row.starts_at, &tz),
        ),
        action: format!("{}/cancel", manage_path(&token)),
        start: String::new(),
        button: tr.t("book-cancel-button"),
        back: manage_path(&token),
        problem: None,
        taken: None,
        l,
    };
    Ok(html(StatusCode::OK, &page))
}

fn change_failed(e: ChangeError) -> Result<String> {
    let tr = Tr::default();
    match e {
        ChangeError::NotChangeable => Ok(tr.t("book-change-not-online")),
        ChangeError::Stale => Ok(tr.t("book-change-stale")),
        ChangeError::Book(BookError::NotOffered(_)) => Ok(tr.t("book-error-not-offered")),
        ChangeError::Book(BookError::Taken { .. }) => Ok(tr.t("book-taken")),
        ChangeError::Book(BookError::Failed(e)) => Err(anyhow::Error::from(e).into()),
    }
}

/// `POST /book/manage/{token}/cancel`.
pub async fn cancel(
    limit: RateLimit<BookingRoute>,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response> {
    let (a, cat) = match open(&state, &token).await? {
        Ok(found) => found,
        Err(expired) => return Ok(expired),
    };
    if a.is_cancelled() {
        return Ok(Redirect::to(&manage_path(&token)).into_response());
    }
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    match booking::cancel(&state, &cat, &a, Some(&token)).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("{}?done=cancelled", manage_path(&token))).into_response())
        }
        Err(e) => {
            let problem = change_failed(e)?;
            let tr = Tr::default();
            let l = Layout::new(&state, "book", "book-cancel-title", "book-cancel-title").private();
            let page = ChangePage {
                heading: tr.t("book-cancel-title"),
                lead: String::new(),
                action: format!("{}/cancel", manage_path(&token)),
                start: String::new(),
                button: tr.t("book-cancel-button"),
                back: manage_path(&token),
                problem: Some(problem),
                taken: None,
                l,
            };
            Ok(html(StatusCode::CONFLICT, &page))
        }
    }
}

/// `GET /book/manage/{token}/move`: a week of other times.
pub async fn move_times(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<WeekQuery>,
) -> Result<Response> {
    let (a, cat) = match open(&state, &token).await? {
        Ok(found) => found,
        Err(expired) => return Ok(expired),
    };
    if a.is_cancelled() {
        return Ok(Redirect::to(&manage_path(&token)).into_response());
    }
    let (Some(kind), Some(location)) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
    ) else {
        return Ok(Redirect::to(&manage_path(&token)).into_response());
    };
    let base = format!("{}/move", manage_path(&token));
    let (days, earlier, later) =
        week_of_times(&state, &cat, kind, location, &query, &base, |start| {
            format!("{base}/confirm?start={}", crate::time::rfc3339(start))
        })
        .await?;
    let tr = Tr::default();
    let heading = tr.t("book-move-title");
    let l = Layout::with_title(&state, "book", heading.clone(), heading.clone()).private();
    Ok(html(
        StatusCode::OK,
        &TimesPage {
            zone_note: zone_note(&tr, location),
            their_zone: None,
            zones: Vec::new(),
            action: String::new(),
            week: String::new(),
            heading,
            days,
            earlier,
            later,
            back: manage_path(&token),
            l,
        },
    ))
}

fn move_page(state: &AppState, token: &str, location: &Location, start: Timestamp) -> ChangePage {
    let tr = Tr::default();
    let l = Layout::new(state, "book", "book-move-title", "book-move-title").private();
    ChangePage {
        heading: tr.t("book-move-title"),
        lead: tr.t1(
            "book-move-lead",
            "when",
            format_appointment(start, &location.tz),
        ),
        action: format!("{}/move", manage_path(token)),
        start: crate::time::rfc3339(start),
        button: tr.t("book-move-button"),
        back: format!("{}/move", manage_path(token)),
        problem: None,
        taken: None,
        l,
    }
}

/// `GET /book/manage/{token}/move/confirm?start=…`.
pub async fn move_confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<StartQuery>,
) -> Result<Response> {
    let (a, cat) = match open(&state, &token).await? {
        Ok(found) => found,
        Err(expired) => return Ok(expired),
    };
    let (Some(kind), Some(location), false) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
        a.is_cancelled(),
    ) else {
        return Ok(Redirect::to(&manage_path(&token)).into_response());
    };
    let start = parse_start(&state, query.start.as_str(), kind, location)?;
    Ok(html(
        StatusCode::OK,
        &move_page(&state, &token, location, start),
    ))
}

/// `POST /book/manage/{token}/move`.
pub async fn move_submit(
    limit: RateLimit<BookingRoute>,
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<StartQuery>,
) -> Result<Response> {
    let (a, cat) = match open(&state, &token).await? {
        Ok(found) => found,
        Err(expired) => return Ok(expired),
    };
    let (Some(kind), Some(location)) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
    ) else {
        return Ok(Redirect::to(&manage_path(&token)).into_response());
    };
    let start = parse_start(&state, form.start.as_str(), kind, location)?;
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    match booking::reschedule(&state, &cat, &a, Some(&token), start).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?done=moved", manage_path(&token))).into_response()),
        Err(e) => {
            let nearest = match &e {
                ChangeError::Book(BookError::Taken { nearest }) => Some(nearest.clone()),
                _ => None,
            };
            let mut page = move_page(&state, &token, location, start);
            page.problem = Some(change_failed(e)?);
            if let Some(nearest) = nearest {
                let base = format!("{}/move", manage_path(&token));
                page.taken = Some(time_links(location, &nearest, |s| {
                    format!("{base}/confirm?start={}", crate::time::rfc3339(s))
                }));
            }
            Ok(html(StatusCode::CONFLICT, &page))
        }
    }
}
