//! Which PHQ-9 is a course's baseline, and the date rules that keep it
//! honest (FACTS §5): the baseline is the latest check-in taken before
//! session 1 and at most `tms.baseline_valid_days` days before it (counted
//! in the clinic's calendar days). Before session 1, "now" stands in for
//! it, so a baseline that has gone stale while the course waits no longer
//! counts. Session 1 is refused without one; a check-in dated long before
//! the course's start date is refused; one dated before the baseline (or
//! that would become it once sessions were given) is stored only when
//! confirmed; a session dated before the course's start date is refused.

use crate::app::Services;
use crate::staff::{Error, FieldErrors};
use crate::storage::tms::{CheckInRecord, CourseRecord, SessionRecord};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The index in `check_ins` (in the order taken) of the one that counts
/// as the baseline for a first session at `first_session` (`now` when no
/// session has been given): the latest taken before it (or at the same
/// minute: filled in, then treated) and at most
/// `valid_days` calendar days before it in `tz`. `None`: none counts.
pub fn baseline_index(
    check_ins: &[CheckInRecord],
    first_session: Option<Timestamp>,
    now: Timestamp,
    tz: &TimeZone,
    valid_days: i64,
) -> Option<usize> {
    let reference = first_session.unwrap_or(now);
    let day = crate::time::date_in(reference, tz);
    check_ins
        .iter()
        .enumerate()
        .filter(|(_, c)| by_minute(c.taken_at, reference))
        .filter(|(_, c)| within(crate::time::date_in(c.taken_at, tz), day, valid_days))
        .max_by_key(|(i, c)| (c.taken_at, *i))
        .map(|(i, _)| i)
}

/// Of `courses`, the ones whose latest PHQ-9 is worse by the minimal
/// important change (the `worsening` alert): two queries however many.
pub async fn worsening_of(
    s: &Services,
    courses: &[i64],
) -> Result<std::collections::HashSet<i64>, Error> {
    let mut check_ins = super::by_course(s.storage.check_ins_of(courses).await?);
    let mut sessions = super::by_course(s.storage.sessions_of(courses).await?);
    let now = s.clock.now();
    let tz = s.config.clinic.time_zone.tz();
    Ok(courses
        .iter()
        .copied()
        .filter(|id| {
            let c = check_ins.remove(id).unwrap_or_default();
            let x = sessions.remove(id).unwrap_or_default();
            let first = x.first().map(|x| x.started_at);
            let b = baseline_index(&c, first, now, tz, s.config.tms.baseline_valid_days);
            super::progress(&c, &x, b, s.config.tms.early_non_response_session).worsening
        })
        .collect())
}

/// `t` is before `reference`, or in the same minute (the portal records
/// times to the minute: a PHQ-9 filled in at 10:00:30 is before the
/// session typed as 10:00).
pub fn by_minute(t: Timestamp, reference: Timestamp) -> bool {
    t.as_second().div_euclid(60) <= reference.as_second().div_euclid(60)
}

/// `earlier` is at most `days` calendar days before `later` (or after it).
fn within(earlier: Date, later: Date, days: i64) -> bool {
    crate::domain::day::add_days(earlier, days).is_none_or(|limit| limit >= later)
}

/// The course's start date, as stored.
fn start_date(course: &CourseRecord) -> Result<Date, Error> {
    course
        .start_date
        .parse()
        .map_err(|_| Error::Integrity(format!("course {}'s start date", course.id)))
}

/// The course's sessions, in the order given.
async fn sessions_of(s: &Services, course: &CourseRecord) -> Result<Vec<SessionRecord>, Error> {
    Ok(s.storage
        .sessions_of(&[course.id])
        .await?
        .into_iter()
        .map(|(_, x)| x)
        .collect())
}

/// The refusal a session started at `started` meets at this point of
/// `record_session` (hard stop 5 of its contract): a session dated before
/// the course's start date (the field `started_at`), or a first session
/// without a baseline PHQ-9 taken within `tms.baseline_valid_days` days
/// before it (the stop `baseline`). `None`: it may go on.
pub(super) async fn session_refusal(
    s: &Services,
    course: &CourseRecord,
    started: Timestamp,
) -> Result<Option<Result<Option<super::SessionOutcome>, FieldErrors>>, Error> {
    let tz = s.config.clinic.time_zone.tz();
    let start = start_date(course)?;
    if crate::time::date_in(started, tz) < start {
        return Ok(Some(Err(vec![(
            "started_at".into(),
            format!(
                "is before the course's start date, {}: check the date and time of the session",
                crate::time::format_civil(start)
            ),
        )])));
    }
    let sessions = sessions_of(s, course).await?;
    if sessions.iter().any(|x| x.started_at <= started) {
        return Ok(None);
    }
    let check_ins = s.storage.check_ins(course.id).await?;
    let days = s.config.tms.baseline_valid_days;
    if baseline_index(&check_ins, Some(started), started, tz, days).is_some() {
        return Ok(None);
    }
    let latest = check_ins.iter().rfind(|c| by_minute(c.taken_at, started));
    let message = match latest {
        Some(c) => format!(
            "the latest PHQ-9 before this session is of {}, more than {days} days before it: a baseline PHQ-9 within {days} days before the first session is needed. Have the patient answer one, then record the session",
            crate::time::format_date(c.taken_at, tz)
        ),
        None => format!(
            "no PHQ-9 was taken before this session: a baseline PHQ-9 within {days} days before the first session is needed. Have the patient answer one, then record the session"
        ),
    };
    Ok(Some(Ok(Some(super::SessionOutcome::Stopped {
        stop: "baseline",
        message,
        hold: None,
    }))))
}

/// Added to each refusal of a check-in with question 9 above 0: the
/// check-in is not stored, but the patient's safety flag is raised.
pub(super) const SELF_HARM_REFUSED: &str = ". Question 9 is answered above 0: the patient's safety flag was raised and an urgent case opened; tell a clinician now, whatever the date";

/// The date rules for a check-in staff enter as taken at `taken` on
/// `course`: not more than `tms.baseline_valid_days` days before the
/// course's start date (`taken_at`); and, unless `confirmed`, not before
/// the baseline, nor before session 1 once sessions were given
/// (`confirm_backdated`, saying whether it would become the baseline).
/// The check-in is not stored when refused; with question 9 above 0
/// (`self_harm`) the caller raises the patient's safety flag, and each
/// message says so and to tell a clinician now.
pub(super) async fn check_in_problems(
    s: &Services,
    course: &CourseRecord,
    taken: Timestamp,
    confirmed: bool,
    self_harm: bool,
) -> Result<FieldErrors, Error> {
    let mut problems = date_problems(s, course, taken, confirmed).await?;
    if self_harm {
        for (_, message) in &mut problems {
            message.push_str(SELF_HARM_REFUSED);
        }
    }
    Ok(problems)
}

async fn date_problems(
    s: &Services,
    course: &CourseRecord,
    taken: Timestamp,
    confirmed: bool,
) -> Result<FieldErrors, Error> {
    let tz = s.config.clinic.time_zone.tz();
    let days = s.config.tms.baseline_valid_days;
    let start = start_date(course)?;
    let day = crate::time::date_in(taken, tz);
    if !within(day, start, days) {
        return Ok(vec![(
            "taken_at".into(),
            format!(
                "is more than {days} days before the course's start date, {}: a PHQ-9 that old cannot be the baseline. Check the date, or take a new PHQ-9",
                crate::time::format_civil(start)
            ),
        )]);
    }
    if confirmed {
        return Ok(Vec::new());
    }
    let check_ins = s.storage.check_ins(course.id).await?;
    let sessions = sessions_of(s, course).await?;
    let first = sessions.first().map(|x| x.started_at);
    let now = s.clock.now();
    let current = baseline_index(&check_ins, first, now, tz, days).map(|i| &check_ins[i]);
    let before_first = first.is_some_and(|f| by_minute(taken, f));
    let before_baseline = current.is_some_and(|b| taken < b.taken_at);
    if !before_first && !before_baseline {
        return Ok(Vec::new());
    }
    // Would it be the baseline, were it stored?
    let mut with = check_ins.clone();
    with.push(CheckInRecord {
        id: i64::MAX,
        taken_at: taken,
        total: 0,
        self_harm_flag: false,
        case_id: None,
        source: "staff".into(),
    });
    with.sort_by_key(|c| (c.taken_at, c.id));
    let becomes =
        baseline_index(&with, first, now, tz, days).is_some_and(|i| with[i].id == i64::MAX);
    let was = current.map_or_else(
        || "there is none now".to_string(),
        |b| {
            format!(
                "now the PHQ-9 of {}",
                crate::time::format_date_time(b.taken_at, tz)
            )
        },
    );
    let message = if becomes {
        format!(
            "this PHQ-9 is dated before the first session and would change the baseline ({was}): progress would be measured from it. Confirm the date is right to record it"
        )
    } else {
        format!(
            "this PHQ-9 is dated before the baseline ({was}): it would not change the baseline. Confirm the date is right to record it"
        )
    };
    Ok(vec![("confirm_backdated".into(), message)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn at(day: i64, hour: i64) -> Timestamp {
        "2027-03-01T00:00:00Z".parse::<Timestamp>().unwrap()
            + SignedDuration::from_hours(24 * day + hour)
    }

    fn check_ins(times: &[Timestamp]) -> Vec<CheckInRecord> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| CheckInRecord {
                id: i as i64,
                taken_at: *t,
                total: 15,
                self_harm_flag: false,
                case_id: None,
                source: "staff".into(),
            })
            .collect()
    }

    #[test]
    fn the_baseline_is_the_latest_check_in_before_session_1_within_the_days() {
        let utc = TimeZone::UTC;
        let c = check_ins(&[at(0, 9), at(10, 9), at(20, 9), at(30, 9)]);
        // Session 1 on day 25: the one of day 20, not the earlier ones nor day 30.
        assert_eq!(
            baseline_index(&c, Some(at(25, 9)), at(40, 0), &utc, 14),
            Some(2)
        );
        // Exactly 14 calendar days before counts; 15 does not.
        assert_eq!(
            baseline_index(&c, Some(at(34, 23)), at(40, 0), &utc, 14),
            Some(3)
        );
        assert_eq!(
            baseline_index(&c[..3], Some(at(34, 0)), at(40, 0), &utc, 14),
            Some(2)
        );
        assert_eq!(
            baseline_index(&c[..3], Some(at(35, 0)), at(40, 0), &utc, 14),
            None
        );
        // Taken after session 1 started: not a baseline; at the same time
        // (filled in, then treated), it is.
        assert_eq!(
            baseline_index(&c[2..3], Some(at(20, 8)), at(40, 0), &utc, 14),
            None
        );
        assert_eq!(
            baseline_index(&c[2..3], Some(at(20, 9)), at(40, 0), &utc, 14),
            Some(0)
        );
        let second_later = c[2].taken_at + SignedDuration::from_secs(59);
        let minute_later = c[2].taken_at + SignedDuration::from_secs(60);
        assert!(by_minute(second_later, c[2].taken_at));
        assert!(!by_minute(minute_later, c[2].taken_at));
        let mut late = c[2..3].to_vec();
        late[0].taken_at = second_later;
        assert_eq!(
            baseline_index(&late, Some(at(20, 9)), at(40, 0), &utc, 14),
            Some(0)
        );
        late[0].taken_at = minute_later;
        assert_eq!(
            baseline_index(&late, Some(at(20, 9)), at(40, 0), &utc, 14),
            None
        );
        // Before any session, now stands in: a stale one no longer counts.
        assert_eq!(baseline_index(&c, None, at(31, 0), &utc, 14), Some(3));
        assert_eq!(baseline_index(&c, None, at(45, 0), &utc, 14), None);
        // The clinic's setting.
        assert_eq!(
            baseline_index(&c, Some(at(25, 9)), at(40, 0), &utc, 3),
            None
        );
        assert_eq!(baseline_index(&[], None, at(0, 0), &utc, 14), None);
    }

    #[test]
    fn days_are_counted_in_the_clinic_s_calendar() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 2027-03-01 23:30 in New York is 2027-03-02 in UTC.
        let taken = "2027-03-02T04:30:00Z".parse::<Timestamp>().unwrap();
        let c = check_ins(&[taken]);
        // Session on 2027-03-15 local: 14 days after 2027-03-01.
        let session = "2027-03-15T13:00:00Z".parse::<Timestamp>().unwrap();
        assert_eq!(baseline_index(&c, Some(session), session, &ny, 14), Some(0));
        let session = "2027-03-16T13:00:00Z".parse::<Timestamp>().unwrap();
        assert_eq!(baseline_index(&c, Some(session), session, &ny, 14), None);
    }
}
