//! The appointment calendar: a day or a week at a location (optionally one
//! resource), each booking's page, and booking, moving or cancelling for
//! someone. The rules and the no-overlap guarantee are the public site's.

use super::{Allowed, ManageSchedule, SeeSchedule, SignedIn, StaffLayout};
use crate::app::AppState;
use crate::booking::{
    self, AppointmentType, BookError, Catalogue, ChangeError, Location, RawDetails,
};
use crate::domain::day::{DateText, Window, add_days, parse_date};
use crate::i18n::Tr;
use crate::staff::appointments::{self, Seen};
use crate::time::{format_appointment, format_clock, format_day};
use crate::web::assessment::ErrorLink;
use crate::web::booking::pages::{
    Day, WeekQuery, parse_start, time_links, week_of_times, zone_note,
};
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use serde::Deserialize;
use std::collections::HashMap;

/// How far back and ahead the calendar goes, in days: two years.
const CALENDAR_DAYS: i64 = 730;

async fn catalogue(state: &AppState) -> Result<Catalogue> {
    Ok(Catalogue::load(state).await.map_err(anyhow::Error::from)?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CalendarQuery {
    location: Option<String>,
    date: Option<DateText>,
    view: Option<String>,
    resource: Option<i64>,
}

/// One line of the calendar.
struct Entry {
    time: String,
    with: String,
    cancelled: bool,
    /// Held online and not yet confirmed from the person's e-mail.
    waiting: bool,
    who: EntryWho,
    /// A TMS session of a patient whose safety flag is up.
    flagged: bool,
}

/// What a line says about what is booked, as far as the reader may know.
enum EntryWho {
    /// The person's name, to the booking's page, and its type.
    Booking {
        uid: String,
        name: String,
        kind: String,
    },
    /// The patient's name, to the course's page, and the session's type.
    Session {
        course: i64,
        name: String,
        kind: String,
    },
    /// Taken, nothing more.
    Busy,
}

struct CalendarDay {
    label: String,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "staff/calendar.html")]
struct CalendarPage {
    l: StaffLayout,
    heading: String,
    zone: String,
    /// (link, label, current).
    locations: Vec<(String, String, bool)>,
    resources: Vec<(String, String, bool)>,
    views: Vec<(String, String, bool)>,
    earlier: Option<String>,
    later: Option<String>,
    days: Vec<CalendarDay>,
    can_book: bool,
    location_slug: String,
    week: String,
    types: Vec<(String, String)>,
}

pub async fn page(
    Allowed(who, _): Allowed<SeeSchedule>,
    State(state): State<AppState>,
    Query(q): Query<CalendarQuery>,
) -> Result<Response> {
    let cat = catalogue(&state).await?;
    let Some(location) = q
        .location
        .as_deref()
        .and_then(|l| cat.location(l))
        .or(cat.locations.first())
    else {
        let tr = Tr::default();
        let l = StaffLayout::new(&state, tr.t("staff-calendar-title"), Some(&who), "calendar");
        return Ok(html(
            StatusCode::OK,
            &CalendarPage {
                heading: tr.t("staff-calendar-no-locations"),
                zone: String::new(),
                locations: Vec::new(),
                resources: Vec::new(),
                views: Vec::new(),
                earlier: None,
                later: None,
                days: Vec::new(),
                can_book: false,
                location_slug: String::new(),
                week: String::new(),
                types: Vec::new(),
                l,
            },
        ));
    };
    let tr = Tr::default();
    let today = crate::time::date_in(state.clock.now(), &location.tz);
    let shown = Window::around(today, CALENDAR_DAYS, CALENDAR_DAYS);
    let date = match q
        .date
        .as_ref()
        .map(DateText::as_str)
        .filter(|d| !d.trim().is_empty())
    {
        None => today,
        Some(raw) => parse_date(raw, shown).map_err(|e| AppError::bad("date", e.message()))?,
    };
    let week = q.view.as_deref() != Some("day");
    let span = if week { 7 } else { 1 };
    let dates: Vec<Date> = shown.days_from(date, span).collect();
    let to = dates.last().copied().unwrap_or(date);
    let entries =
        appointments::calendar(&state, &who.actor, who.user.role, location, date, to).await?;
    let link = |location: &str, date: Date, view: &str, resource: Option<i64>| {
        let mut l = format!("/staff/calendar?location={location}&date={date}&view={view}");
        if let Some(r) = resource {
            l.push_str(&format!("&resource={r}"));
        }
        l
    };
    let view = if week { "week" } else { "day" };
    let kind = |id: i64| {
        cat.type_by_id(id)
            .map_or_else(String::new, |t| t.name.clone())
    };
    let ids: Vec<i64> = entries
        .iter()
        .filter_map(|(seen, _)| match seen {
            Seen::Whole(a) => Some(a.row.id),
            Seen::Session(x) => Some(x.id),
            Seen::Busy(_) => None,
        })
        .collect();
    let flagged = state.storage.flagged_appointments(&ids).await?;
    let mut days = Vec::new();
    for d in dates {
        let on_day = entries
            .iter()
            .filter(|(seen, held)| {
                seen.times().0.to_zoned_datetime(location.tz.clone()).date() == d
                    && q.resource.is_none_or(|r| held.contains(&r))
            })
            .map(|(seen, held)| {
                let (starts, ends) = seen.times();
                let waiting = matches!(seen, Seen::Whole(a) if a.status() == booking::Status::Held);
                let flagged = match seen {
                    Seen::Whole(a) => flagged.contains(&a.row.id),
                    Seen::Session(x) => flagged.contains(&x.id),
                    Seen::Busy(_) => false,
                };
                let (who, cancelled) = match seen {
                    Seen::Whole(a) => (
                        EntryWho::Booking {
                            uid: a.row.uid.clone(),
                            name: a.details.name.clone(),
                            kind: kind(a.row.type_id),
                        },
                        a.is_cancelled(),
                    ),
                    Seen::Session(x) => (
                        EntryWho::Session {
                            course: x.course,
                            name: x.name.clone(),
                            kind: kind(x.type_id),
                        },
                        x.cancelled,
                    ),
                    Seen::Busy(_) => (EntryWho::Busy, false),
                };
                Entry {
                    time: format!(
                        "{} – {}",
                        format_clock(starts, &location.tz),
                        format_clock(ends, &location.tz)
                    ),
                    with: held
                        .iter()
                        .filter_map(|r| cat.resource_name(*r))
                        .collect::<Vec<_>>()
                        .join(", "),
                    cancelled,
                    waiting,
                    who,
                    flagged,
                }
            })
            .collect();
        days.push(CalendarDay {
            label: format_day(d),
            entries: on_day,
        });
    }
    let step = |by: i64| {
        add_days(date, by)
            .filter(|d| shown.contains(*d))
            .map(|d| link(&location.slug, d, view, q.resource))
    };
    let here = cat.resources_here(location.id);
    let l = StaffLayout::new(&state, tr.t("staff-calendar-title"), Some(&who), "calendar");
    Ok(html(
        StatusCode::OK,
        &CalendarPage {
            heading: tr.t1("staff-calendar-heading", "place", &location.name),
            zone: zone_note(&tr, location),
            locations: cat
                .locations
                .iter()
                .map(|x| {
                    (
                        link(&x.slug, date, view, None),
                        x.name.clone(),
                        x.id == location.id,
                    )
                })
                .collect(),
            resources: std::iter::once((
                link(&location.slug, date, view, None),
                tr.t("staff-calendar-everyone"),
                q.resource.is_none(),
            ))
            .chain(here.iter().map(|(id, name)| {
                (
                    link(&location.slug, date, view, Some(*id)),
                    name.clone(),
                    q.resource == Some(*id),
                )
            }))
            .collect(),
            views: [
                ("day", "staff-calendar-day"),
                ("week", "staff-calendar-week"),
            ]
            .into_iter()
            .map(|(v, key)| {
                (
                    link(&location.slug, date, v, q.resource),
                    tr.t(key),
                    v == view,
                )
            })
            .collect(),
            earlier: step(-(span as i64)),
            later: step(span as i64),
            days,
            can_book: who.can(crate::staff::Permission::ManageSchedule),
            location_slug: location.slug.clone(),
            week: date.to_string(),
            types: cat
                .types
                .iter()
                .filter(|t| cat.offered_at(t, location))
                .map(|t| (t.slug.clone(), t.name.clone()))
                .collect(),
            l,
        },
    ))
}

/// The week of free times to book from.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BookQuery {
    #[serde(rename = "type")]
    kind: String,
    location: String,
    week: Option<DateText>,
}

/// The time chosen to book.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BookStartQuery {
    #[serde(rename = "type")]
    kind: String,
    location: String,
    start: Option<DateText>,
}

/// Any active type (staff-only ones too) offered at the location.
fn chosen<'a>(
    cat: &'a Catalogue,
    kind: &str,
    location: &str,
) -> Result<(&'a AppointmentType, &'a Location)> {
    let kind = cat
        .types
        .iter()
        .find(|t| t.slug == kind)
        .ok_or(AppError::NotFound)?;
    let location = cat
        .location(location)
        .filter(|l| cat.offered_at(kind, l))
        .ok_or(AppError::NotFound)?;
    Ok((kind, location))
}

#[derive(Template)]
#[template(path = "staff/times.html")]
struct TimesPage {
    l: StaffLayout,
    heading: String,
    zone: String,
    days: Vec<Day>,
    earlier: Option<String>,
    later: Option<String>,
    back: String,
}

fn book_base(kind: &AppointmentType, location: &Location) -> String {
    format!(
        "/staff/calendar/book?type={}&location={}",
        kind.slug, location.slug
    )
}

pub async fn book_times(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Query(q): Query<BookQuery>,
) -> Result<Response> {
    let cat = catalogue(&state).await?;
    let (kind, location) = chosen(&cat, &q.kind, &q.location)?;
    let base = book_base(kind, location);
    let week = WeekQuery {
        week: q.week.clone(),
        tz: None,
    };
    // The public pages' week links add "?week=": here the base has a query.
    let (days, earlier, later) =
        week_of_times(&state, &cat, kind, location, &week, &base, |start| {
            format!(
                "/staff/calendar/book/details?type={}&location={}&start={}",
                kind.slug,
                location.slug,
                crate::time::rfc3339(start)
            )
        })
        .await?;
    let fix = |l: Option<String>| l.map(|l| l.replacen("?week=", "&week=", 1));
    let tr = Tr::default();
    let heading = tr.t2(
        "book-times-heading",
        "kind",
        &kind.name,
        "place",
        &location.name,
    );
    let l = StaffLayout::new(&state, heading.clone(), Some(&who), "calendar");
    Ok(html(
        StatusCode::OK,
        &TimesPage {
            zone: zone_note(&tr, location),
            heading,
            days,
            earlier: fix(earlier),
            later: fix(later),
            back: format!("/staff/calendar?location={}", location.slug),
            l,
        },
    ))
}

/// The booking form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BookForm {
    #[serde(rename = "type")]
    kind: String,
    location: String,
    start: DateText,
    name: String,
    email: String,
    phone: String,
    reason: String,
    consent: String,
}

#[derive(Template)]
#[template(path = "staff/book.html")]
struct BookPage {
    l: StaffLayout,
    summary: String,
    form: BookForm,
    errors: Vec<ErrorLink>,
    err: HashMap<&'static str, String>,
    problem: Option<String>,
    taken: Option<Vec<(String, String)>>,
}

impl BookPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.err.get(field)
    }
}

fn book_page(
    state: &AppState,
    who: &SignedIn,
    kind: &AppointmentType,
    location: &Location,
    start: jiff::Timestamp,
    form: BookForm,
    problems: &[booking::FieldProblem],
) -> BookPage {
    let tr = Tr::default();
    BookPage {
        l: StaffLayout::new(state, tr.t("staff-book-title"), Some(who), "calendar"),
        summary: tr.args(
            "book-summary",
            &[
                ("kind", kind.name.clone()),
                ("place", location.name.clone()),
                ("when", format_appointment(start, &location.tz)),
            ],
        ),
        errors: problems
            .iter()
            .map(|(f, k)| ErrorLink {
                anchor: (*f).into(),
                message: tr.t(k),
            })
            .collect(),
        err: problems.iter().map(|(f, k)| (*f, tr.t(k))).collect(),
        problem: None,
        taken: None,
        form,
    }
}

pub async fn book_form(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Query(q): Query<BookStartQuery>,
) -> Result<Response> {
    let cat = catalogue(&state).await?;
    let (kind, location) = chosen(&cat, &q.kind, &q.location)?;
    let Some(raw) = q.start.as_ref().map(DateText::as_str) else {
        return Ok(Redirect::to(&book_base(kind, location)).into_response());
    };
    let start = parse_start(&state, raw, kind, location)?;
    let form = BookForm {
        kind: kind.slug.clone(),
        location: location.slug.clone(),
        start: DateText(crate::time::rfc3339(start)),
        ..BookForm::default()
    };
    Ok(html(
        StatusCode::OK,
        &book_page(&state, &who, kind, location, start, form, &[]),
    ))
}

pub async fn book_submit(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Form(form): Form<BookForm>,
) -> Result<Response> {
    let cat = catalogue(&state).await?;
    let (kind, location) = chosen(&cat, &form.kind, &form.location)?;
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
            let page = book_page(&state, &who, kind, location, start, form, &problems);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match appointments::book(&state, &who.actor, &cat, kind, location, start, &details).await? {
        Ok(booked) => {
            Ok(Redirect::to(&format!("/staff/appointments/{}", booked.uid)).into_response())
        }
        Err(refused) => {
            let tr = Tr::default();
            let mut page = book_page(&state, &who, kind, location, start, form, &[]);
            let status = match refused {
                BookError::Taken { nearest } => {
                    page.problem = Some(tr.t("book-taken"));
                    page.taken = Some(time_links(location, &nearest, |s| {
                        format!(
                            "/staff/calendar/book/details?type={}&location={}&start={}",
                            kind.slug,
                            location.slug,
                            crate::time::rfc3339(s)
                        )
                    }));
                    StatusCode::CONFLICT
                }
                _ => {
                    page.problem = Some(tr.t("book-error-not-offered"));
                    StatusCode::UNPROCESSABLE_ENTITY
                }
            };
            Ok(html(status, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "staff/appointment.html")]
struct AppointmentPage {
    l: StaffLayout,
    uid: String,
    sequence: i64,
    kind: String,
    when: String,
    place: String,
    with: String,
    status: String,
    cancelled: bool,
    name: String,
    /// How to reach the person and why they booked: not for a TMS
    /// session shown to a technician.
    contact: Option<Contact>,
    can_change: bool,
    problem: Option<String>,
    /// The TMS course this session belongs to: changed there.
    course: Option<i64>,
}

struct Contact {
    email: String,
    phone: String,
    reason: Option<String>,
    source: String,
    booked_at: String,
}

/// A booking with a page: all of it, or a TMS session as a technician
/// sees it.
enum Shown {
    Whole(Box<booking::Appointment>),
    Session(appointments::Session),
}

/// The booking `uid` as the reader may see it: 404 when there is none,
/// `None` when all they may know is that its time is taken (the answer is
/// then [`not_for_you`]: the calendar shows that much and links nowhere).
async fn open(state: &AppState, who: &SignedIn, uid: &str) -> Result<Option<Shown>> {
    match appointments::open(state, &who.actor, who.user.role, uid).await? {
        None => Err(AppError::NotFound),
        Some(Seen::Whole(a)) => Ok(Some(Shown::Whole(a))),
        Some(Seen::Session(x)) => Ok(Some(Shown::Session(x))),
        Some(Seen::Busy(_)) => Ok(None),
    }
}

/// A booking the reader may not see. 403 rather than the calendar's
/// "busy" line: a technician only gets here by a link meant for someone
/// else, and a page that shows nothing would suggest there was nothing.
fn not_for_you() -> Response {
    StatusCode::FORBIDDEN.into_response()
}

fn appointment_page(
    state: &AppState,
    who: &SignedIn,
    cat: &Catalogue,
    seen: &Shown,
    held: &[i64],
    course: Option<i64>,
) -> AppointmentPage {
    let tr = Tr::default();
    let (uid, sequence, type_id, location_id, starts_at, cancelled, name) = match seen {
        Shown::Whole(a) => (
            &a.row.uid,
            a.row.sequence,
            a.row.type_id,
            a.row.location_id,
            a.row.starts_at,
            a.is_cancelled(),
            &a.details.name,
        ),
        Shown::Session(x) => (
            &x.uid,
            0,
            x.type_id,
            x.location_id,
            x.starts_at,
            x.cancelled,
            &x.name,
        ),
    };
    // Held online: the person has not confirmed it yet, so staff neither
    // move nor cancel it (it lapses by itself if not confirmed).
    let waiting = matches!(seen, Shown::Whole(a) if a.status() == booking::Status::Held);
    let location = cat.location_by_id(location_id);
    let tz = location.map_or(state.config.clinic.time_zone.tz().clone(), |l| l.tz.clone());
    let contact = match seen {
        Shown::Whole(a) => Some(Contact {
            email: a.details.email.clone(),
            phone: a.details.phone.clone(),
            reason: a.details.reason.clone(),
            source: tr.t(&format!("staff-appointment-source-{}", a.row.source)),
            booked_at: crate::time::format_date_time(a.row.created_at, &tz),
        }),
        Shown::Session(_) => None,
    };
    AppointmentPage {
        l: StaffLayout::new(
            state,
            tr.t("staff-appointment-title"),
            Some(who),
            "calendar",
        ),
        uid: uid.clone(),
        sequence,
        kind: cat
            .type_by_id(type_id)
            .map_or_else(String::new, |t| t.name.clone()),
        when: format_appointment(starts_at, &tz),
        place: location.map_or_else(String::new, |l| l.name.clone()),
        with: held
            .iter()
            .filter_map(|r| cat.resource_name(*r))
            .collect::<Vec<_>>()
            .join(", "),
        status: tr.t(if cancelled {
            "staff-appointment-cancelled"
        } else if waiting {
            "staff-appointment-held"
        } else {
            "staff-appointment-booked"
        }),
        cancelled,
        name: name.clone(),
        can_change: who.can(crate::staff::Permission::ManageSchedule)
            && matches!(seen, Shown::Whole(_))
            && !cancelled
            && !waiting
            && starts_at > state.clock.now()
            && course.is_none(),
        problem: None,
        contact,
        course: course.filter(|_| who.can(crate::staff::Permission::SeeCourses)),
    }
}

/// The resources a booking holds (none once cancelled), and the TMS
/// course it is a session of.
async fn held_and_course(state: &AppState, seen: &Shown) -> Result<(Vec<i64>, Option<i64>)> {
    Ok(match seen {
        Shown::Whole(a) => (
            state.storage.appointment_resources(a.row.id).await?,
            state.storage.course_of_appointment(a.row.id).await?,
        ),
        Shown::Session(x) => (
            state.storage.appointment_resources(x.id).await?,
            Some(x.course),
        ),
    })
}

pub async fn appointment(
    Allowed(who, _): Allowed<SeeSchedule>,
    State(state): State<AppState>,
    Path(uid): Path<String>,
) -> Result<Response> {
    let Some(seen) = open(&state, &who, &uid).await? else {
        return Ok(not_for_you());
    };
    let cat = catalogue(&state).await?;
    let (held, course) = held_and_course(&state, &seen).await?;
    Ok(html(
        StatusCode::OK,
        &appointment_page(&state, &who, &cat, &seen, &held, course),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelForm {
    sequence: i64,
}

/// A move as posted: the version seen and the new start.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeForm {
    sequence: i64,
    start: DateText,
}

fn refused(e: ChangeError) -> String {
    let tr = Tr::default();
    tr.t(match e {
        ChangeError::NotChangeable => "book-change-not-online",
        ChangeError::Stale => "staff-appointment-stale",
        ChangeError::Book(BookError::Taken { .. }) => "book-taken-short",
        ChangeError::Book(_) => "book-error-not-offered",
    })
}

/// Back to the booking's page after a change; if it was refused, the page
/// as the booking is now, saying why.
async fn after_change(
    state: &AppState,
    who: &SignedIn,
    cat: &Catalogue,
    uid: &str,
    outcome: std::result::Result<(), ChangeError>,
) -> Result<Response> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/staff/appointments/{uid}")).into_response()),
        Err(e) => {
            let Some(seen) = open(state, who, uid).await? else {
                return Ok(not_for_you());
            };
            let (held, course) = held_and_course(state, &seen).await?;
            let mut page = appointment_page(state, who, cat, &seen, &held, course);
            page.problem = Some(refused(e));
            Ok(html(StatusCode::CONFLICT, &page))
        }
    }
}

pub async fn cancel(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path(uid): Path<String>,
    Form(form): Form<CancelForm>,
) -> Result<Response> {
    let Some(Shown::Whole(a)) = open(&state, &who, &uid).await? else {
        return Ok(not_for_you());
    };
    let cat = catalogue(&state).await?;
    // Acting on the version the person saw: a booking changed meanwhile is
    // shown again instead.
    let outcome = if a.row.sequence != form.sequence {
        Err(ChangeError::Stale)
    } else {
        appointments::cancel(&state, &who.actor, &cat, &a).await?
    };
    after_change(&state, &who, &cat, &uid, outcome).await
}

#[derive(Template)]
#[template(path = "staff/move.html")]
struct MovePage {
    l: StaffLayout,
    heading: String,
    zone: String,
    days: Vec<Day>,
    earlier: Option<String>,
    later: Option<String>,
    uid: String,
    sequence: i64,
    /// A chosen time to confirm: (RFC 3339, words).
    confirm: Option<(String, String)>,
    problem: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MoveQuery {
    week: Option<DateText>,
    start: Option<DateText>,
}

pub async fn move_times(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path(uid): Path<String>,
    Query(q): Query<MoveQuery>,
) -> Result<Response> {
    let Some(Shown::Whole(a)) = open(&state, &who, &uid).await? else {
        return Ok(not_for_you());
    };
    let cat = catalogue(&state).await?;
    let (Some(kind), Some(location), false) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
        a.is_cancelled(),
    ) else {
        return Ok(Redirect::to(&format!("/staff/appointments/{uid}")).into_response());
    };
    let base = format!("/staff/appointments/{uid}/move");
    let (days, earlier, later) = week_of_times(
        &state,
        &cat,
        kind,
        location,
        &WeekQuery {
            week: q.week.clone(),
            tz: None,
        },
        &base,
        |start| format!("{base}?start={}", crate::time::rfc3339(start)),
    )
    .await?;
    let tr = Tr::default();
    let confirm = q
        .start
        .as_ref()
        .map(|raw| parse_start(&state, raw.as_str(), kind, location))
        .transpose()?
        .map(|s| (crate::time::rfc3339(s), format_appointment(s, &location.tz)));
    let heading = tr.t("book-move-title");
    Ok(html(
        StatusCode::OK,
        &MovePage {
            l: StaffLayout::new(&state, heading.clone(), Some(&who), "calendar"),
            heading,
            zone: zone_note(&tr, location),
            days,
            earlier,
            later,
            uid,
            sequence: a.row.sequence,
            confirm,
            problem: None,
        },
    ))
}

pub async fn move_submit(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path(uid): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Result<Response> {
    let Some(Shown::Whole(a)) = open(&state, &who, &uid).await? else {
        return Ok(not_for_you());
    };
    let cat = catalogue(&state).await?;
    let (Some(kind), Some(location)) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
    ) else {
        return Ok(Redirect::to(&format!("/staff/appointments/{uid}")).into_response());
    };
    let start = parse_start(&state, form.start.as_str(), kind, location)?;
    let outcome = if a.row.sequence != form.sequence {
        Err(ChangeError::Stale)
    } else {
        appointments::reschedule(&state, &who.actor, &cat, &a, start).await?
    };
    after_change(&state, &who, &cat, &uid, outcome).await
}
