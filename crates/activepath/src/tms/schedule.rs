//! A course's sessions booked on the TMS chair through the booking engine:
//! each session is an appointment of the `tms-session` type, checked like
//! any booking and held by the database's no-overlap guarantee. A series
//! is booked whole or not at all: a time that is taken or not offered is
//! reported with the nearest free times, never double-booked. A missed
//! session is marked and made up after the last one (pushing the end
//! date); sessions move or are cancelled one at a time, from one on, or
//! all, each at its own local date (so a daylight-saving change keeps the
//! clock time).

use crate::app::Services;
use crate::booking::slots::Slot;
use crate::booking::{self, AppointmentType, BookError, Catalogue, Details, Location};
use crate::domain::day::{DateError, Window, add_days, parse_date, parse_instant};
use crate::staff::{Actor, Error, FieldErrors, Outcome};
use crate::storage::booking::ChangeKind;
use crate::storage::tms::{CourseRecord, SeriesRow};
use crate::storage::{Constraint, StorageError};
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::{SignedDuration, Timestamp};

/// The appointment type a course books its sessions as (it needs a TMS
/// chair; the demo clinic has one).
pub const SESSION_TYPE: &str = "tms-session";

/// Minutes between the starts of one day's sessions (accelerated
/// protocols give several a day).
pub const SAME_DAY_GAP_MINUTES: i64 = 60;

/// The standard course of 36: 30 daily, then 3, 2 and 1 a week.
const DAILY_BEFORE_TAPER: usize = 30;

fn is_weekday(d: Date) -> bool {
    !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The first weekday after `d`; `None` past the end of jiff's range.
fn next_weekday(d: Date) -> Option<Date> {
    d.series(jiff::Span::new().days(1))
        .skip(1)
        .take(3)
        .find(|d| is_weekday(*d))
}

/// Days from each standard session of the taper to the next: 31 on a
/// Monday, 32 on Wednesday, 33 on Friday, 34 on the next Tuesday, 35 on
/// Thursday, 36 on the Wednesday after.
const TAPER_GAPS: [i64; 5] = [2, 2, 4, 2, 6];

/// The day `days` after `d`, or the first weekday after that when it is
/// a Saturday or Sunday.
fn weekday_after(d: Date, days: i64) -> Option<Date> {
    let to = add_days(d, days)?;
    if is_weekday(to) {
        Some(to)
    } else {
        next_weekday(to)
    }
}

/// The dates of a course's sessions still to give, `given` of `planned`
/// given, from `first`; each date comes with the session's place in its
/// day (0, 1, …).
///
/// - Several a day (accelerated protocols): `per_day` a day on
///   consecutive calendar days, weekends included.
/// - A standard course of 36: daily on weekdays up to session 30, then 3,
///   2 and 1 a week (from the Monday after session 30). Resumed, it goes
///   on from where it is: sessions up to 30 daily, later ones with the
///   taper's spacing from `first` (a weekend day moved to the Monday).
/// - Any other: daily on weekdays.
///
/// Fewer dates only where the calendar ends; callers bound `first` and
/// `planned` (a course has at most [`super::MAX_SESSIONS`]).
pub fn occurrence_dates(
    first: Date,
    given: usize,
    planned: usize,
    per_day: u32,
) -> Vec<(Date, u32)> {
    let count = planned.saturating_sub(given);
    let per_day = per_day.max(1);
    if per_day > 1 {
        return std::iter::successors(Some(first), |d| add_days(*d, 1))
            .flat_map(|d| (0..per_day).map(move |k| (d, k)))
            .take(count)
            .collect();
    }
    let standard = planned == clinical::protocol::STANDARD_COURSE as usize;
    let daily = if standard {
        DAILY_BEFORE_TAPER.saturating_sub(given).min(count)
    } else {
        count
    };
    let mut out: Vec<(Date, u32)> = std::iter::successors(Some(first), |d| next_weekday(*d))
        .take(daily)
        .map(|d| (d, 0))
        .collect();
    if out.len() < daily {
        return out;
    }
    let mut day = match out.last() {
        None => Some(first),
        Some((last, _)) => last
            .series(jiff::Span::new().days(1))
            .skip(1)
            .take(7)
            .find(|d| d.weekday() == Weekday::Monday),
    };
    // The number of the next session (31 to 36 in the taper).
    let mut number = given + out.len() + 1;
    while out.len() < count {
        let Some(d) = day else { break };
        out.push((d, 0));
        let gap = number
            .checked_sub(DAILY_BEFORE_TAPER + 1)
            .and_then(|i| TAPER_GAPS.get(i))
            .copied()
            .unwrap_or(7);
        day = weekday_after(d, gap);
        number += 1;
    }
    out
}

/// A time that cannot be booked, with the nearest free ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The session's number in the course (1 is the first).
    pub number: usize,
    pub start: Timestamp,
    /// `taken` (another booking holds the chair) or `not-offered` (outside
    /// the chair's hours, too far ahead, …).
    pub reason: &'static str,
    pub alternatives: Vec<Timestamp>,
}

/// What booking or changing sessions did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduled {
    /// Done: the sessions' appointment ids and starts.
    Done(Vec<(i64, Timestamp)>),
    /// Nothing was booked or changed: these times cannot be had.
    Conflicts(Vec<Conflict>),
}

/// The series as typed.
#[derive(Debug, Clone, Default)]
pub struct SeriesPlan {
    /// A location's slug; the first that offers TMS sessions when left out.
    pub location: Option<String>,
    /// The first session: `YYYY-MM-DDTHH:MM` in the location's time zone.
    pub first_start: Option<String>,
    /// Another time (`HH:MM`) on some dates, e.g. to take an alternative.
    pub instead: Vec<(String, String)>,
}

/// The words for a start that cannot be read or is outside `window`.
fn start_problem(e: DateError) -> String {
    match e {
        DateError::Outside(..) => format!("{}: the days sessions can be booked on", e.message()),
        _ => "must be a date and time as YYYY-MM-DDTHH:MM".into(),
    }
}

fn at_local(location: &Location, date: Date, time: Time) -> Option<Timestamp> {
    location
        .tz
        .to_ambiguous_timestamp(DateTime::from_parts(date, time))
        .compatible()
        .ok()
}

fn local(location: &Location, t: Timestamp) -> DateTime {
    t.to_zoned_datetime(location.tz.clone()).datetime()
}

/// The session type and where it is given.
fn session_type<'a>(
    cat: &'a Catalogue,
    location: Option<&str>,
    errors: &mut FieldErrors,
) -> Option<(&'a AppointmentType, &'a Location)> {
    let Some(kind) = cat.type_by_slug(SESSION_TYPE) else {
        errors.push((
            "type".into(),
            format!("the clinic has no appointment type {SESSION_TYPE:?}: add one that needs a TMS chair in the booking set-up"),
        ));
        return None;
    };
    let location = match location.map(str::trim).filter(|l| !l.is_empty()) {
        Some(slug) => cat.location(slug).filter(|l| cat.offered_at(kind, l)),
        None => cat.locations_for(kind).into_iter().next(),
    };
    match location {
        Some(l) => Some((kind, l)),
        None => {
            errors.push((
                "location".into(),
                "must be a location with a TMS chair and hours for TMS sessions".into(),
            ));
            None
        }
    }
}

/// Checks each start; the slots, or every conflict with its alternatives.
async fn check_all(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    starts: &[(usize, Timestamp)],
    except: &[i64],
) -> Result<Result<Vec<Slot>, Vec<Conflict>>, Error> {
    let mut slots = Vec::new();
    let mut conflicts = Vec::new();
    for (number, start) in starts {
        match booking::check_time(s, cat, kind, location, *start, except).await {
            Ok(slot) => slots.push(slot),
            Err(BookError::Failed(e)) => return Err(booking_error(e)),
            Err(why) => {
                let (reason, alternatives) = match why {
                    BookError::Taken { nearest } => ("taken", nearest),
                    _ => (
                        "not-offered",
                        booking::nearest(s, cat, kind, location, *start)
                            .await
                            .map_err(booking_error)?,
                    ),
                };
                conflicts.push(Conflict {
                    number: *number,
                    start: *start,
                    reason,
                    alternatives: alternatives.iter().map(|a| a.start).collect(),
                });
            }
        }
    }
    Ok(if conflicts.is_empty() {
        Ok(slots)
    } else {
        Err(conflicts)
    })
}

fn booking_error(e: booking::Error) -> Error {
    match e {
        booking::Error::Storage(e) => Error::Storage(e),
        booking::Error::Integrity(what) => Error::Integrity(what),
    }
}

/// The patient's details, as a booking keeps them (for the calendar).
async fn details(s: &Services, course: &CourseRecord) -> Result<Details, Error> {
    let d = crate::staff::patients::details(s, course.patient_id)
        .await?
        .ok_or_else(|| Error::Integrity(format!("course {} without its patient", course.id)))?;
    Ok(Details {
        name: d.name,
        email: d.email.unwrap_or_default(),
        phone: d.phone.unwrap_or_default(),
        reason: Some("TMS session".into()),
    })
}

/// The course's sessions booked from now on and not missed.
fn upcoming(series: &[SeriesRow], now: Timestamp) -> Vec<&SeriesRow> {
    series
        .iter()
        .filter(|r| {
            r.appointment.status == "booked"
                && r.missed_at.is_none()
                && r.appointment.starts_at > now
        })
        .collect()
}

/// Books the course's remaining sessions (planned less given) on the
/// chair, from `first_start`, at the same clock time: on weekdays (a
/// standard course of 36 keeps its taper, resumed or not), or for an
/// accelerated protocol on consecutive days, weekends included. All or
/// nothing: any time that cannot be had is reported with alternatives; a
/// day of an accelerated run with no time free that day is refused with
/// that day's date (the run would break there).
/// `Ok(Err)` names each bad field; `Ok(Ok(None))`: no such course.
pub async fn book_series(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    plan: SeriesPlan,
) -> Outcome<Scheduled> {
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let cat = Catalogue::load(s).await.map_err(booking_error)?;
    let mut errors = FieldErrors::new();
    if !matches!(course.status.as_str(), "planned" | "active") {
        errors.push((
            "course".into(),
            format!("the course is {}: it takes no sessions", course.status),
        ));
    }
    let now = s.clock.now();
    let series = s.storage.series(course_id).await?;
    if !upcoming(&series, now).is_empty() {
        errors.push((
            "first_start".into(),
            "the course has sessions booked already: move or cancel them instead".into(),
        ));
    }
    let given = s
        .storage
        .sessions_given(&[course_id])
        .await?
        .get(&course_id)
        .map_or(0, |&n| usize::try_from(n).unwrap_or(0));
    let count = usize::try_from(course.planned_sessions)
        .unwrap_or(0)
        .saturating_sub(given);
    if count == 0 {
        errors.push((
            "course".into(),
            "every planned session has been given".into(),
        ));
    }
    let per_day =
        super::protocol(&s.config.tms, &course.protocol).map_or(1, |p| p.sessions_per_day);
    let found = session_type(&cat, plan.location.as_deref(), &mut errors);
    let bookable = found.map(|(kind, location)| booking::bookable_days(kind, location, now));
    let first = match (plan.first_start.as_deref(), found.zip(bookable)) {
        (Some(raw), Some(((_, location), bookable))) => {
            match parse_instant(raw, &location.tz, bookable) {
                Ok(t) if per_day > 1 || is_weekday(local(location, t).date()) => Some(t),
                Ok(_) => {
                    errors.push(("first_start".into(), "must be on a weekday".into()));
                    None
                }
                Err(e) => {
                    errors.push(("first_start".into(), start_problem(e)));
                    None
                }
            }
        }
        (None, _) => {
            errors.push(("first_start".into(), "is required".into()));
            None
        }
        _ => None,
    };
    let mut instead = Vec::new();
    for (i, (date, time)) in plan.instead.iter().enumerate() {
        let day = parse_date(date, bookable.unwrap_or(Window::ALL));
        match (day, time.trim().parse::<Time>()) {
            (Ok(d), Ok(t)) => instead.push((d, t)),
            (Err(e @ DateError::Outside(..)), _) => {
                errors.push((format!("instead[{i}]"), e.message()));
            }
            _ => errors.push((
                format!("instead[{i}]"),
                "must be a date (YYYY-MM-DD) and a time (HH:MM)".into(),
            )),
        }
    }
    let (Some((kind, location)), Some(bookable), Some(first), true) =
        (found, bookable, first, errors.is_empty())
    else {
        return Ok(Err(errors));
    };
    let start = local(location, first);
    // The whole series must fit the days that can be booked: checked here,
    // once, rather than one refused session at a time.
    let planned = usize::try_from(course.planned_sessions).unwrap_or(0);
    let dates = occurrence_dates(start.date(), given, planned, per_day);
    if dates.len() < count || dates.last().is_some_and(|(d, _)| !bookable.contains(*d)) {
        errors.push((
            "first_start".into(),
            format!(
                "the {count} sessions would run past {}, the last day sessions can be booked: start earlier or book fewer",
                crate::time::format_civil(bookable.last())
            ),
        ));
        return Ok(Err(errors));
    }
    let mut starts = Vec::new();
    for (i, (date, k)) in dates.iter().enumerate() {
        let time = instead
            .iter()
            .find(|(d, _)| d == date)
            .map_or(start.time(), |(_, t)| *t);
        let Some(at) = at_local(location, *date, time) else {
            continue;
        };
        let at = crate::time::after(
            at,
            SignedDuration::from_mins(SAME_DAY_GAP_MINUTES * i64::from(*k)),
        );
        starts.push((given + i + 1, at));
    }
    let details = details(s, &course).await?;
    // Twice: a booking made between the check and the write is reported
    // like any other conflict.
    for _ in 0..2 {
        let slots = match check_all(s, &cat, kind, location, &starts, &[]).await? {
            Ok(slots) => slots,
            Err(conflicts) if per_day > 1 => return Ok(run_broken(location, conflicts)),
            Err(conflicts) => return Ok(Ok(Some(Scheduled::Conflicts(conflicts)))),
        };
        let new: Vec<_> = slots
            .iter()
            .map(|slot| booking::clinic_appointment(s, kind, location, slot, &details, now))
            .collect();
        match s
            .storage
            .insert_series(
                course_id,
                new,
                None,
                &s.cipher.audit_chain(),
                actor.did(
                    &format!("book {} sessions", slots.len()),
                    "tms_course",
                    course_id,
                    now,
                ),
            )
            .await
        {
            Ok(ids) => {
                return Ok(Ok(Some(Scheduled::Done(
                    ids.into_iter().zip(slots.iter().map(|s| s.start)).collect(),
                ))));
            }
            Err(StorageError::Conflict(Constraint::ResourceBusy)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Err(vec![(
        "first_start".into(),
        "the chair's bookings keep changing: try again".into(),
    )]))
}

/// An accelerated run's conflicts: a time taken on a day that has another
/// free one is a conflict like any (with that day's free times only: one
/// on another day would break the run); a day with none breaks the run,
/// and the first such day is named.
fn run_broken(
    location: &Location,
    mut conflicts: Vec<Conflict>,
) -> Result<Option<Scheduled>, FieldErrors> {
    for c in &mut conflicts {
        let day = local(location, c.start).date();
        c.alternatives.retain(|a| local(location, *a).date() == day);
    }
    match conflicts.iter().find(|c| c.alternatives.is_empty()) {
        None => Ok(Some(Scheduled::Conflicts(conflicts))),
        Some(c) => {
            let day = local(location, c.start).date();
            Err(vec![(
                "first_start".into(),
                format!(
                    "accelerated sessions are given on consecutive days, and {} ({}) cannot be booked: {}. The run would break on that day ({}, session {}): choose another first day, or open the chair that day",
                    day.strftime("%A, %B %-d, %Y"),
                    day,
                    if c.reason == "taken" {
                        "the chair is taken and no other time is free that day"
                    } else {
                        "the chair is not available that day"
                    },
                    day,
                    c.number
                ),
            )])
        }
    }
}

/// The booked session `appointment_id` of course `course_id`.
async fn session_of(
    s: &Services,
    course_id: i64,
    appointment_id: i64,
) -> Result<Option<(Vec<SeriesRow>, usize)>, Error> {
    let series = s.storage.series(course_id).await?;
    let at = series
        .iter()
        .position(|r| r.appointment.id == appointment_id);
    Ok(at.map(|i| (series, i)))
}

/// Marks a booked session missed and books its make-up after the course's
/// last booked session (at the missed one's clock time, or the nearest
/// free time after that), pushing the end date. Returns the make-up's
/// start, or the conflict when nothing is free. `Ok(Ok(None))`: no such
/// session on that course.
pub async fn mark_missed(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    appointment_id: i64,
) -> Outcome<Scheduled> {
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let Some((series, i)) = session_of(s, course_id, appointment_id).await? else {
        return Ok(Ok(None));
    };
    let missed = &series[i];
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    if missed.appointment.status != "booked" || missed.missed_at.is_some() {
        errors.push((
            "appointment".into(),
            "only a booked session that was not already marked can be missed".into(),
        ));
    }
    if missed.appointment.starts_at > now {
        errors.push((
            "appointment".into(),
            "a session in the future cannot be missed yet: move or cancel it".into(),
        ));
    }
    let cat = Catalogue::load(s).await.map_err(booking_error)?;
    let (kind, location) = match (
        cat.type_by_id(missed.appointment.type_id),
        cat.location_by_id(missed.appointment.location_id),
    ) {
        (Some(k), Some(l)) => (k, l),
        _ => {
            errors.push((
                "appointment".into(),
                "its appointment type or location is no longer offered".into(),
            ));
            return Ok(Err(errors));
        }
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let last = series
        .iter()
        .filter(|r| r.appointment.status == "booked" && r.missed_at.is_none())
        .map(|r| r.appointment.starts_at)
        .max()
        .unwrap_or(missed.appointment.starts_at)
        .max(now);
    let clock = local(location, missed.appointment.starts_at).time();
    let day = next_weekday(local(location, last).date());
    let number = series.iter().filter(|r| r.missed_at.is_none()).count() + 1;
    let wanted = day
        .and_then(|day| at_local(location, day, clock))
        .unwrap_or(last);
    let slot = match booking::check_time(s, &cat, kind, location, wanted, &[]).await {
        Ok(slot) => Some(slot),
        Err(BookError::Failed(e)) => return Err(booking_error(e)),
        Err(_) => booking::nearest(s, &cat, kind, location, wanted)
            .await
            .map_err(booking_error)?
            .into_iter()
            .filter(|slot| slot.start > last)
            .min_by_key(|slot| slot.start),
    };
    let Some(slot) = slot else {
        return Ok(Ok(Some(Scheduled::Conflicts(vec![Conflict {
            number,
            start: wanted,
            reason: "taken",
            alternatives: Vec::new(),
        }]))));
    };
    let details = details(s, &course).await?;
    let new = booking::clinic_appointment(s, kind, location, &slot, &details, now);
    match s
        .storage
        .insert_series(
            course_id,
            vec![new],
            Some(appointment_id),
            &s.cipher.audit_chain(),
            actor.did(
                "session missed; make-up booked",
                "tms_course",
                course_id,
                now,
            ),
        )
        .await
    {
        Ok(ids) => Ok(Ok(Some(Scheduled::Done(vec![(ids[0], slot.start)])))),
        Err(StorageError::Conflict(Constraint::Changed)) => Ok(Err(vec![(
            "appointment".into(),
            "it was marked missed meanwhile".into(),
        )])),
        Err(StorageError::Conflict(Constraint::ResourceBusy)) => Ok(Err(vec![(
            "appointment".into(),
            "the make-up's time was just taken: try again".into(),
        )])),
        Err(e) => Err(e.into()),
    }
}

/// Which sessions a change applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    This,
    Following,
    All,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Scope> {
        match raw {
            "this" => Some(Scope::This),
            "following" => Some(Scope::Following),
            "all" => Some(Scope::All),
            _ => None,
        }
    }
}

/// A change to booked sessions, as typed.
#[derive(Debug, Clone, Default)]
pub struct SeriesChange {
    /// `this`, `following` or `all` (the course's sessions still to come).
    pub scope: Option<String>,
    /// `move` or `cancel`.
    pub action: Option<String>,
    /// For moving one session: its new `YYYY-MM-DDTHH:MM`.
    pub start: Option<String>,
    /// For moving several: their new clock time, `HH:MM`, each on its own date.
    pub time: Option<String>,
}

/// Moves or cancels session `appointment_id` of course `course_id`, or it
/// and the ones after it, or all still to come. Moves are checked like
/// bookings (the sessions being moved do not stand in each other's way),
/// all or nothing. `Ok(Ok(None))`: no such session on that course.
pub async fn change(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    appointment_id: i64,
    change: SeriesChange,
) -> Outcome<Scheduled> {
    let Some((series, i)) = session_of(s, course_id, appointment_id).await? else {
        return Ok(Ok(None));
    };
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    let scope = change.scope.as_deref().and_then(Scope::parse);
    if scope.is_none() {
        errors.push(("scope".into(), "must be this, following or all".into()));
    }
    let cancel = match change.action.as_deref() {
        Some("move") => false,
        Some("cancel") => true,
        _ => {
            errors.push(("action".into(), "must be move or cancel".into()));
            false
        }
    };
    let chosen = &series[i];
    if chosen.appointment.status != "booked"
        || chosen.missed_at.is_some()
        || chosen.appointment.starts_at <= now
    {
        errors.push((
            "appointment".into(),
            "only a booked session still to come can be changed".into(),
        ));
    }
    let cat = Catalogue::load(s).await.map_err(booking_error)?;
    let (Some(kind), Some(location)) = (
        cat.type_by_id(chosen.appointment.type_id),
        cat.location_by_id(chosen.appointment.location_id),
    ) else {
        errors.push((
            "appointment".into(),
            "its appointment type or location is no longer offered".into(),
        ));
        return Ok(Err(errors));
    };
    let (Some(scope), true) = (scope, errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let affected: Vec<(usize, &SeriesRow)> = upcoming(&series, now)
        .into_iter()
        .filter(|r| match scope {
            Scope::This => r.appointment.id == appointment_id,
            Scope::Following => r.appointment.starts_at >= chosen.appointment.starts_at,
            Scope::All => true,
        })
        .map(|r| {
            let number = series
                .iter()
                .filter(|x| x.missed_at.is_none() && x.appointment.status == "booked")
                .position(|x| x.appointment.id == r.appointment.id)
                .map_or(0, |p| p + 1);
            (number, r)
        })
        .collect();
    let changes: Vec<crate::storage::booking::AppointmentChange> = if cancel {
        affected
            .iter()
            .map(|(_, r)| crate::storage::booking::AppointmentChange {
                id: r.appointment.id,
                expected_sequence: r.appointment.sequence,
                at: now,
                what: ChangeKind::Cancel,
            })
            .collect()
    } else {
        let mut starts = Vec::new();
        if scope == Scope::This {
            let bookable = booking::bookable_days(kind, location, now);
            match change
                .start
                .as_deref()
                .map(|raw| parse_instant(raw, &location.tz, bookable))
            {
                Some(Ok(t)) => starts.push((affected[0].0, t)),
                Some(Err(e)) => errors.push(("start".into(), start_problem(e))),
                None => errors.push((
                    "start".into(),
                    "is required to move one session: a date and time as YYYY-MM-DDTHH:MM".into(),
                )),
            }
        } else {
            match change.time.as_deref().map(|t| t.trim().parse::<Time>()) {
                Some(Ok(time)) => {
                    for (number, r) in &affected {
                        let old = local(location, r.appointment.starts_at);
                        // Several a day keep their spacing from the first.
                        let first_of_day = affected
                            .iter()
                            .map(|(_, x)| local(location, x.appointment.starts_at))
                            .filter(|x| x.date() == old.date())
                            .min()
                            .unwrap_or(old);
                        let shift = old.duration_since(first_of_day);
                        if let Some(at) = at_local(location, old.date(), time) {
                            starts.push((*number, crate::time::after(at, shift)));
                        }
                    }
                }
                _ => errors.push((
                    "time".into(),
                    "is required to move several sessions: a clock time as HH:MM".into(),
                )),
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let moving: Vec<i64> = affected.iter().map(|(_, r)| r.appointment.id).collect();
        let slots = match check_all(s, &cat, kind, location, &starts, &moving).await? {
            Ok(slots) => slots,
            Err(conflicts) => return Ok(Ok(Some(Scheduled::Conflicts(conflicts)))),
        };
        affected
            .iter()
            .zip(&slots)
            .map(|((_, r), slot)| booking::quiet_move(kind, &r.appointment, slot, now))
            .collect()
    };
    let done: Vec<(i64, Timestamp)> = changes
        .iter()
        .map(|c| {
            (
                c.id,
                match &c.what {
                    ChangeKind::Move { starts_at, .. } => *starts_at,
                    ChangeKind::Cancel => now,
                },
            )
        })
        .collect();
    let what = if cancel { "cancel" } else { "move" };
    match s
        .storage
        .change_series(
            changes,
            &s.cipher.audit_chain(),
            actor.did(
                &format!("{what} {} sessions", done.len()),
                "tms_course",
                course_id,
                now,
            ),
        )
        .await
    {
        Ok(()) => Ok(Ok(Some(Scheduled::Done(done)))),
        Err(StorageError::Conflict(Constraint::Changed | Constraint::ResourceBusy)) => {
            Ok(Err(vec![(
                "appointment".into(),
                "the sessions or the chair's bookings changed meanwhile: read them again".into(),
            )]))
        }
        Err(e) => Err(e.into()),
    }
}

/// How many of the course's sessions before now were missed in a row,
/// counting back from the latest.
pub fn missed_in_a_row(series: &[SeriesRow], now: Timestamp) -> usize {
    series
        .iter()
        .filter(|r| r.appointment.starts_at <= now && r.appointment.status == "booked")
        .rev()
        .take_while(|r| r.missed_at.is_some())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_standard_course_is_30_weekdays_then_3_2_and_1_a_week() {
        // Monday 2027-03-01.
        let dates = occurrence_dates(date(2027, 3, 1), 0, 36, 1);
        assert_eq!(dates.len(), 36);
        assert!(dates.iter().all(|(d, k)| is_weekday(*d) && *k == 0));
        // Six weeks of five: session 30 on Friday 2027-04-09.
        assert_eq!(dates[29].0, date(2027, 4, 9));
        let taper: Vec<Date> = dates[30..].iter().map(|(d, _)| *d).collect();
        assert_eq!(
            taper,
            [
                date(2027, 4, 12),
                date(2027, 4, 14),
                date(2027, 4, 16),
                date(2027, 4, 20),
                date(2027, 4, 22),
                date(2027, 4, 28),
            ]
        );
    }

    #[test]
    fn other_courses_are_daily_on_weekdays_and_accelerated_ones_several_a_day() {
        // From a Thursday: Thu, Fri, then Monday.
        let dates = occurrence_dates(date(2027, 3, 4), 0, 3, 1);
        assert_eq!(
            dates,
            [
                (date(2027, 3, 4), 0),
                (date(2027, 3, 5), 0),
                (date(2027, 3, 8), 0)
            ]
        );
        // 50 sessions, 10 a day, from a Thursday: five consecutive days,
        // the weekend included.
        let dates = occurrence_dates(date(2027, 3, 4), 0, 50, 10);
        assert_eq!(dates.len(), 50);
        assert_eq!(dates[9], (date(2027, 3, 4), 9));
        assert_eq!(dates[20], (date(2027, 3, 6), 0), "Saturday");
        assert_eq!(dates[30], (date(2027, 3, 7), 0), "Sunday");
        assert_eq!(dates[49], (date(2027, 3, 8), 9));
        // Resumed after 20 of them: the remaining 30 on three days.
        let dates = occurrence_dates(date(2027, 3, 6), 20, 50, 10);
        assert_eq!(dates.len(), 30);
        assert_eq!(dates[29], (date(2027, 3, 8), 9));
    }

    #[test]
    fn a_resumed_standard_course_keeps_its_taper() {
        // 10 given: 20 daily from Monday 2027-03-01, then the taper.
        let dates = occurrence_dates(date(2027, 3, 1), 10, 36, 1);
        assert_eq!(dates.len(), 26);
        assert_eq!(dates[19].0, date(2027, 3, 26), "session 30 on a Friday");
        let taper: Vec<Date> = dates[20..].iter().map(|(d, _)| *d).collect();
        assert_eq!(
            taper,
            [
                date(2027, 3, 29),
                date(2027, 3, 31),
                date(2027, 4, 2),
                date(2027, 4, 6),
                date(2027, 4, 8),
                date(2027, 4, 14),
            ]
        );
        // 30 given: the taper from the first day, Monday to Wednesday.
        let dates = occurrence_dates(date(2027, 3, 1), 30, 36, 1);
        let days: Vec<Date> = dates.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            days,
            [
                date(2027, 3, 1),
                date(2027, 3, 3),
                date(2027, 3, 5),
                date(2027, 3, 9),
                date(2027, 3, 11),
                date(2027, 3, 17),
            ]
        );
        // 33 given, resumed on a Thursday: 34, then 35 two days on (a
        // Saturday, so Monday), then 36 six days after.
        let dates = occurrence_dates(date(2027, 3, 4), 33, 36, 1);
        let days: Vec<Date> = dates.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            days,
            [date(2027, 3, 4), date(2027, 3, 8), date(2027, 3, 15)]
        );
        // Every date a weekday, and never closer than the taper's spacing.
        for given in 0..36 {
            let dates = occurrence_dates(date(2027, 3, 3), given, 36, 1);
            assert_eq!(dates.len(), 36 - given, "{given}");
            assert!(dates.iter().all(|(d, _)| is_weekday(*d)));
            for (i, w) in dates.windows(2).enumerate() {
                let number = given + i + 2;
                let gap = (w[1].0 - w[0].0).get_days();
                let least = match number {
                    ..=30 => 1,
                    34 => 4,
                    36 => 6,
                    _ => 2,
                };
                assert!(
                    gap >= least,
                    "given {given}: session {number} {gap} days on"
                );
            }
        }
        // Other courses: daily on weekdays, resumed or not.
        let dates = occurrence_dates(date(2027, 3, 4), 27, 30, 1);
        let days: Vec<Date> = dates.iter().map(|(d, _)| *d).collect();
        assert_eq!(days, [date(2027, 3, 4), date(2027, 3, 5), date(2027, 3, 8)]);
    }
}
