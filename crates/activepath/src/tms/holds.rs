//! Holds that mean something (issue 19 §2): clearing a hold needs a note
//! (sealed), and a hold opened by a seizure, fainting or other serious
//! adverse event may be cleared only by the medical director; a motor
//! threshold determined before the last medication change, before the last
//! seizure or fainting, or more than `tms.motor_threshold_valid_days` ago
//! stops the next session until it is determined again.

use crate::app::Services;
use crate::crypto::Aad;
use crate::staff::{Actor, Error, FieldErrors, Role};
use crate::storage::staff::StaffUser;
use crate::storage::tms::{HoldRecord, MotorThreshold};
use jiff::{SignedDuration, Timestamp};

/// The longest note a hold is cleared with.
pub const NOTE_MAX: usize = 2000;

/// Why only a medical director may clear a hold, as the refusal says it.
pub const MEDICAL_DIRECTOR_ONLY: &str = "only a medical director may clear a hold opened by a seizure, fainting or other serious adverse event";

/// Whether `user` carries the medical-director mark: an enabled clinician
/// marked by an administrator or on the command line.
pub fn is_medical_director(user: &StaffUser) -> bool {
    user.role == Role::Clinician && user.medical_director && user.disabled_at.is_none()
}

/// Whether clearing `hold` needs the medical director: it was opened by a
/// seizure, fainting or other serious adverse event (reason
/// `adverse-event`), or by a "yes" to the checklist's seizure question.
pub fn needs_medical_director(hold: &HoldRecord) -> bool {
    hold.reason == "adverse-event" || hold.checklist.iter().any(|q| q == "seizure")
}

/// What clearing a hold did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleared {
    Done(i64),
    /// No such open hold on that course.
    NotFound,
    /// Each bad field (the note).
    Invalid(FieldErrors),
    /// Not for this account: why.
    Forbidden(&'static str),
}

/// What a hold's clearing note is sealed with: bound to the hold.
fn note_aad(hold_id: i64) -> Aad {
    Aad::row("tms_holds", "clear_note", &hold_id.to_string())
}

/// Clears hold `hold_id` of course `course_id` as `user` (a clinician; the
/// caller checked the role), with `note` saying what was reviewed.
pub async fn clear_hold(
    s: &Services,
    user: &StaffUser,
    actor: &Actor,
    course_id: i64,
    hold_id: i64,
    note: Option<&str>,
) -> Result<Cleared, Error> {
    let note = match crate::domain::multi_line(note.unwrap_or(""), NOTE_MAX) {
        Ok(text) => text,
        Err(crate::domain::TextError::Empty) => {
            return Ok(Cleared::Invalid(vec![(
                "note".into(),
                "is required: say what was reviewed and why sessions may go on".into(),
            )]));
        }
        Err(_) => {
            return Ok(Cleared::Invalid(vec![(
                "note".into(),
                format!("must be at most {NOTE_MAX} characters of text"),
            )]));
        }
    };
    let Some(hold) = s.storage.open_hold(course_id, hold_id).await? else {
        return Ok(Cleared::NotFound);
    };
    if needs_medical_director(&hold) && !is_medical_director(user) {
        return Ok(Cleared::Forbidden(MEDICAL_DIRECTOR_ONLY));
    }
    let now = s.clock.now();
    let cleared = s
        .storage
        .clear_hold(
            course_id,
            hold_id,
            actor.user_id,
            s.cipher.encrypt(&note_aad(hold_id), note.as_bytes()),
            &s.cipher.audit_chain(),
            actor.did("clear hold", "tms_course", course_id, now),
        )
        .await?;
    Ok(if cleared {
        Cleared::Done(hold_id)
    } else {
        Cleared::NotFound
    })
}

/// A cleared hold as one reader may see it.
#[derive(Debug, Clone)]
pub struct ClearedHold {
    pub record: crate::storage::holds::ClearedHold,
    /// The note, opened for a clinician; `None` for anyone else or when
    /// none was recorded.
    pub note: Option<String>,
    /// A note was recorded and not opened for this reader.
    pub withheld: bool,
}

/// A course's cleared holds, newest first, their notes opened only when
/// `may_read` (the course's read is audited by whoever shows it).
pub async fn cleared_holds(
    s: &Services,
    course_id: i64,
    may_read: bool,
) -> Result<Vec<ClearedHold>, Error> {
    s.storage
        .cleared_holds(course_id)
        .await?
        .into_iter()
        .map(|mut record| {
            let sealed = record.note_sealed.take();
            let withheld = sealed.is_some() && !may_read;
            let note = match sealed {
                Some(sealed) if may_read => Some(
                    s.cipher
                        .decrypt(&note_aad(record.id), &sealed)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| Error::Integrity(format!("hold {}'s note", record.id)))?,
                ),
                _ => None,
            };
            Ok(ClearedHold {
                record,
                note,
                withheld,
            })
        })
        .collect()
}

/// Why the latest motor threshold must be determined again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// A seizure or fainting after it (when).
    Seizure(Timestamp),
    /// A "yes" to a medication change after it (when).
    MedicationChange(Timestamp),
    /// Older than the clinic's limit (its days).
    Old(i64),
}

/// Whether `latest` must be determined again at `now`: after a seizure or
/// fainting, after a medication change, or when older than `valid_days`
/// days. The alert and the hard stop both ask this.
pub fn stale(
    latest: &MotorThreshold,
    medication_change: Option<Timestamp>,
    seizure: Option<Timestamp>,
    now: Timestamp,
    valid_days: i64,
) -> Option<Stale> {
    if let Some(at) = seizure.filter(|at| latest.determined_at < *at) {
        return Some(Stale::Seizure(at));
    }
    if let Some(at) = medication_change.filter(|at| latest.determined_at < *at) {
        return Some(Stale::MedicationChange(at));
    }
    (now.duration_since(latest.determined_at) > SignedDuration::from_hours(24 * valid_days))
        .then_some(Stale::Old(valid_days))
}

/// An open hold on another course of patient `patient_id` (any course but
/// `course_id`) that only a medical director may clear: the refusal's
/// message, naming that course. Holds belong to one course, so without
/// this a clinician could stop the held course and treat the patient on a
/// new one. Point 3 of `record_session`'s hard stops (after the course's
/// own holds), and what `start_course` refuses.
pub(crate) async fn serious_hold_elsewhere(
    s: &Services,
    patient_id: i64,
    course_id: Option<i64>,
) -> Result<Option<String>, Error> {
    let courses = s.storage.patient_courses(patient_id).await?;
    let others: Vec<i64> = courses
        .iter()
        .map(|c| c.id)
        .filter(|id| Some(*id) != course_id)
        .collect();
    let holds = s.storage.open_holds_of(&others).await?;
    let Some((other, hold)) = holds.iter().find(|(_, h)| needs_medical_director(h)) else {
        return Ok(None);
    };
    let started = courses
        .iter()
        .find(|c| c.id == *other)
        .map(|c| c.start_date.clone())
        .unwrap_or_default();
    let since = crate::time::date_in(hold.opened_at, s.config.clinic.time_zone.tz());
    Ok(Some(format!(
        "the patient's other course (course {other}, starting {started}) has been on hold since {since} \
         after a seizure, fainting or other serious adverse event (hold {}): a medical director must \
         clear that hold before this patient has any session or a new course",
        hold.id
    )))
}

/// The patient's latest seizure or fainting on any of their courses (a
/// motor threshold determined before it must be determined again, whichever
/// course it happened on).
async fn patient_last_seizure(s: &Services, patient_id: i64) -> Result<Option<Timestamp>, Error> {
    Ok(s.storage
        .last_seizures_or_faintings_of_patients(&[patient_id])
        .await?
        .remove(&patient_id))
}

/// The motor threshold a session on `course` that started at `started` is
/// given at: the latest determined at or before `started`, judged at
/// `started` (a session entered late is judged by when it was given). Or
/// the hard stop's message: none determined yet, or one to determine
/// again. A medication change or a seizure or fainting (on any of the
/// patient's courses) after the threshold makes it stale even when
/// reported after `started`: the safer reading.
pub(super) async fn current_threshold(
    s: &Services,
    course: &crate::storage::tms::CourseRecord,
    started: Timestamp,
) -> Result<Result<MotorThreshold, String>, Error> {
    let course_id = course.id;
    let tz = s.config.clinic.time_zone.tz();
    let thresholds = s.storage.motor_thresholds(course_id).await?;
    let any = !thresholds.is_empty();
    // A threshold of the session's own minute counts: the portal records
    // a session's time to the minute, the threshold was found just before.
    let Some(latest) = thresholds
        .into_iter()
        .rfind(|m| super::baseline::by_minute(m.determined_at, started))
    else {
        return Ok(Err(if any {
            format!(
                "no motor threshold had been determined for this course by {}, when this session started",
                crate::time::format_date_time(started, tz)
            )
        } else {
            "no motor threshold has been determined for this course".into()
        }));
    };
    let medication = s
        .storage
        .last_medication_changes(&[course_id])
        .await?
        .remove(&course_id);
    let seizure = patient_last_seizure(s, course.patient_id).await?;
    let day = |at: Timestamp| crate::time::date_in(at, tz).to_string();
    let of = day(latest.determined_at);
    let why = match stale(
        &latest,
        medication,
        seizure,
        started,
        s.config.tms.motor_threshold_valid_days,
    ) {
        None => return Ok(Ok(latest)),
        Some(Stale::Seizure(at)) => format!(
            "the motor threshold of {of} was determined before the seizure or fainting of {}",
            day(at)
        ),
        Some(Stale::MedicationChange(at)) => format!(
            "the motor threshold of {of} was determined before the medication change reported on {}",
            day(at)
        ),
        Some(Stale::Old(days)) => {
            format!("the motor threshold of {of} is more than {days} days old")
        }
    };
    Ok(Err(format!(
        "{why}: re-determine the motor threshold before this session"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(at: Timestamp) -> MotorThreshold {
        MotorThreshold {
            id: 1,
            determined_at: at,
            percent_output: 50,
            method: Some("emg".into()),
            device: None,
            coil: None,
        }
    }

    #[test]
    fn each_reason_and_none() {
        let t0: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let hour = SignedDuration::from_hours(1);
        let later = t0.checked_add(hour).unwrap();
        let m = threshold(t0);
        assert_eq!(stale(&m, None, None, later, 7), None);
        assert_eq!(
            stale(&m, Some(later), None, later, 7),
            Some(Stale::MedicationChange(later))
        );
        assert_eq!(
            stale(&m, None, Some(later), later, 7),
            Some(Stale::Seizure(later))
        );
        // Before the threshold: nothing to do.
        let earlier = t0.checked_sub(hour).unwrap();
        assert_eq!(stale(&m, Some(earlier), Some(earlier), later, 7), None);
        // Exactly the limit is still valid; a minute past it is not.
        let week = t0.checked_add(SignedDuration::from_hours(24 * 7)).unwrap();
        assert_eq!(stale(&m, None, None, week, 7), None);
        let past = week.checked_add(SignedDuration::from_mins(1)).unwrap();
        assert_eq!(stale(&m, None, None, past, 7), Some(Stale::Old(7)));
        assert_eq!(stale(&m, None, None, past, 8), None);
    }
}
