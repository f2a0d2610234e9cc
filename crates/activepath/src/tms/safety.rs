//! The patient's safety flag: raised by a PHQ-9 answer above 0 to question
//! 9 (any check-in of any course, however it was answered), a "yes" to new
//! or worse thoughts of suicide on the pre-session checklist, or the side
//! effect `suicidal-thoughts`; while it is up, none of the patient's courses
//! takes a session. Only a clinician clears it, with a safety review: when,
//! the outcome, the C-SSRS screener's six answers (or why it was not done)
//! and a sealed note. Every outcome clears the flag; `pause-course` and
//! `refer-urgent` also pause the patient's courses that take sessions;
//! `continue` and `pause-course` close the queue's open cases of the flag
//! (reason `safety_review`), while `refer-urgent` leaves them open for the
//! referral to be followed up there.

use super::happened_at;
use crate::app::Services;
use crate::crypto::{Aad, random_id};
use crate::staff::{Actor, Error, FieldErrors, Outcome};
use crate::storage::safety::{
    FlagRecord, NewReview, NewSignal, ReviewDone, ReviewRecord, ReviewStored,
};
use crate::storage::tms::CourseRecord;
use jiff::Timestamp;
use std::collections::HashMap;

/// The C-SSRS screener's six questions, by the names the API and the
/// database give their answers: a wish to be dead; non-specific active
/// thoughts of suicide; active thoughts with a method (no plan, no
/// intent); active thoughts with some intent to act; active thoughts with
/// a specific plan and intent; any suicidal behavior in the last 3 months.
pub const CSSRS: [&str; 6] = [
    "wish_dead",
    "suicidal_thoughts",
    "thoughts_with_method",
    "intent",
    "plan_and_intent",
    "behavior",
];

/// What a safety review may decide.
pub const OUTCOMES: [&str; 3] = ["continue", "pause-course", "refer-urgent"];

/// The flags up for these patients, by patient id.
pub async fn flags(s: &Services, patients: &[i64]) -> Result<HashMap<i64, FlagRecord>, Error> {
    Ok(s.storage.safety_flags_of(patients).await?)
}

/// The flag up for a patient, if one is.
pub async fn flag(s: &Services, patient_id: i64) -> Result<Option<FlagRecord>, Error> {
    Ok(s.storage.safety_flag(patient_id).await?)
}

/// Since when a flag is up: its first signal's time (what happened), or
/// when it was raised.
pub fn since(flag: &FlagRecord) -> Timestamp {
    flag.signals
        .iter()
        .map(|x| x.at)
        .min()
        .unwrap_or(flag.raised_at)
        .min(flag.raised_at)
}

/// A day as `YYYY-MM-DD` in the clinic's calendar.
fn day(s: &Services, at: Timestamp) -> String {
    crate::time::date_in(at, s.config.clinic.time_zone.tz()).to_string()
}

/// What a flag's first signal was, in words, with its date: the reason
/// shown beside the flag and in the session's refusal.
pub fn why(s: &Services, flag: &FlagRecord) -> String {
    let (source, at) = flag
        .signals
        .first()
        .map_or(("check-in", flag.raised_at), |x| (x.source.as_str(), x.at));
    let date = day(s, at);
    match source {
        "checklist" => {
            format!("\"yes\" to new or worse thoughts of suicide on the checklist of {date}")
        }
        "side-effect" => format!("suicidal thoughts reported as a side effect on {date}"),
        _ => format!("question 9 answered above 0 on {date}"),
    }
}

/// The session's refusal while the patient's flag is up: (stop, message).
/// Called by `record_session` right after the course's status.
pub(crate) async fn session_stop(
    s: &Services,
    course: &CourseRecord,
) -> Result<Option<(&'static str, String)>, Error> {
    let Some(flag) = flag(s, course.patient_id).await? else {
        return Ok(None);
    };
    let (source, at) = flag
        .signals
        .first()
        .map_or(("check-in", flag.raised_at), |x| (x.source.as_str(), x.at));
    let date = day(s, at);
    let what = match source {
        "checklist" => {
            format!("the \"yes\" to new or worse thoughts of suicide on the checklist of {date}")
        }
        "side-effect" => format!("the suicidal thoughts reported as a side effect on {date}"),
        _ => format!("the answer to question 9 of {date}"),
    };
    Ok(Some((
        "safety_review",
        format!(
            "a clinician must review {what} before the next session (a safety review on the patient's page)"
        ),
    )))
}

/// The signal a checklist "yes" to thoughts of suicide adds, or a side
/// effect `suicidal-thoughts` (with its own urgent case).
pub(crate) fn signal(
    course: &CourseRecord,
    source: &'static str,
    at: Timestamp,
    urgent: Option<crate::storage::tms::UrgentCase>,
) -> NewSignal {
    NewSignal {
        patient_id: course.patient_id,
        course_id: course.id,
        source,
        at,
        urgent,
    }
}

/// A staff-entered check-in with question 9 above 0 refused for its date
/// (or for want of confirmation) stores nothing, but still raises the
/// patient's flag: a `check-in` signal without a check-in, dated now, with
/// its urgent case, in its own transaction, audited.
pub(crate) async fn raise_for_refused_check_in(
    s: &Services,
    actor: &Actor,
    course: &CourseRecord,
) -> Result<(), Error> {
    let now = s.clock.now();
    let urgent = super::urgent_case(s, course, now).await?;
    s.storage
        .raise_safety_flag(
            signal(course, "check-in", now, Some(urgent)),
            &s.cipher.audit_chain(),
            actor.did(
                "refused check-in: question 9 above 0",
                "tms_course",
                course.id,
                now,
            ),
        )
        .await?;
    s.mail_wake.notify_one();
    Ok(())
}

/// The C-SSRS screener's result as sent: the six answers, or why it was
/// not done.
#[derive(Debug, Clone, Default)]
pub struct ScreenerForm {
    /// In [`CSSRS`] order.
    pub answers: [Option<bool>; 6],
    pub not_done: Option<String>,
}

/// A safety review as typed.
#[derive(Debug, Clone, Default)]
pub struct ReviewForm {
    /// RFC 3339; now when left out.
    pub reviewed_at: Option<String>,
    pub outcome: Option<String>,
    /// `None`: not sent (it is required).
    pub cssrs: Option<ScreenerForm>,
    pub note: Option<String>,
    /// The newest signal the reviewer was shown (its id); `None`: the
    /// review is refused when a signal happened after `reviewed_at`.
    pub last_signal_id: Option<i64>,
}

/// What recording a review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewed {
    Recorded(ReviewDone),
    /// No flag is up for the patient (or it was cleared meanwhile).
    NoFlag,
    /// The flag has a signal the reviewer was not shown: nothing stored;
    /// show the flag again.
    NewSignal,
    /// `last_signal_id` is not a signal of the patient's flag.
    UnknownSignal,
}

fn note_aad(uid: &str) -> Aad {
    Aad::row("safety_reviews", "note", uid)
}

fn not_done_aad(uid: &str) -> Aad {
    Aad::row("safety_reviews", "not_done_reason", uid)
}

fn cssrs_aad(uid: &str) -> Aad {
    Aad::row("safety_reviews", "cssrs", uid)
}

/// The six answers sealed as one JSON object by question name.
fn seal_cssrs(s: &Services, uid: &str, answers: [bool; 6]) -> Vec<u8> {
    let object: serde_json::Map<String, serde_json::Value> = CSSRS
        .iter()
        .zip(answers)
        .map(|(k, v)| (k.to_string(), serde_json::Value::Bool(v)))
        .collect();
    let json = serde_json::Value::Object(object).to_string();
    s.cipher.encrypt(&cssrs_aad(uid), json.as_bytes())
}

/// The six answers opened; `None` when they are not all there.
fn open_cssrs(json: &[u8]) -> Option<[bool; 6]> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(json).ok()?;
    let mut answers = [false; 6];
    for (i, q) in CSSRS.iter().enumerate() {
        answers[i] = object.get(*q)?.as_bool()?;
    }
    Some(answers)
}

/// Records a safety review of patient `patient_id`'s flag (the caller
/// checks the reader is a clinician). `Ok(Err)` names each bad field;
/// `Ok(Ok(None))`: no such patient.
pub async fn review(
    s: &Services,
    actor: &Actor,
    patient_id: i64,
    form: ReviewForm,
) -> Outcome<Reviewed> {
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    let outcome = match form.outcome.as_deref().map(str::trim) {
        Some(o) => match OUTCOMES.iter().copied().find(|x| *x == o) {
            Some(x) => Some(x),
            None => {
                errors.push((
                    "outcome".into(),
                    format!("must be one of {}", OUTCOMES.join(", ")),
                ));
                None
            }
        },
        None => {
            errors.push((
                "outcome".into(),
                format!("is required: one of {}", OUTCOMES.join(", ")),
            ));
            None
        }
    };
    let reviewed_at = match form.reviewed_at.as_deref().map(str::trim) {
        None | Some("") => Some(now),
        Some(raw) => match happened_at(s, raw) {
            Ok(t) => Some(t),
            Err(problem) => {
                errors.push(("reviewed_at".into(), problem));
                None
            }
        },
    };
    let note = match crate::domain::multi_line(form.note.as_deref().unwrap_or(""), 4000) {
        Ok(t) => Some(t),
        Err(crate::domain::TextError::Empty) => {
            errors.push((
                "note".into(),
                "is required: what was found and decided".into(),
            ));
            None
        }
        Err(_) => {
            errors.push((
                "note".into(),
                "must be at most 4000 characters of text".into(),
            ));
            None
        }
    };
    // Either the six answers or why the screener was not done.
    let screener: Option<Result<[bool; 6], String>> = match form.cssrs {
        None => {
            errors.push((
                "cssrs".into(),
                "is required: the C-SSRS screener's six answers, or not_done with the reason"
                    .into(),
            ));
            None
        }
        Some(c) => {
            let any_answer = c.answers.iter().any(Option::is_some);
            match c.not_done {
                Some(_) if any_answer => {
                    errors.push((
                        "cssrs".into(),
                        "give either the six answers or not_done, not both".into(),
                    ));
                    None
                }
                Some(reason) => match crate::domain::multi_line(&reason, 1000) {
                    Ok(r) => Some(Err(r)),
                    Err(crate::domain::TextError::Empty) => {
                        errors.push((
                            "cssrs.not_done".into(),
                            "is required: why the screener was not done".into(),
                        ));
                        None
                    }
                    Err(_) => {
                        errors.push((
                            "cssrs.not_done".into(),
                            "must be at most 1000 characters of text".into(),
                        ));
                        None
                    }
                },
                None => {
                    let mut answers = [false; 6];
                    let mut complete = true;
                    for (i, name) in CSSRS.iter().enumerate() {
                        match c.answers[i] {
                            Some(v) => answers[i] = v,
                            None => {
                                complete = false;
                                errors.push((
                                    format!("cssrs.{name}"),
                                    "is required: true or false".into(),
                                ));
                            }
                        }
                    }
                    complete.then_some(Ok(answers))
                }
            }
        }
    };
    if s.storage.patient(patient_id).await?.is_none() {
        return Ok(Ok(None));
    }
    let (Some(outcome), Some(reviewed_at), Some(note), Some(screener), true) =
        (outcome, reviewed_at, note, screener, errors.is_empty())
    else {
        return Ok(Err(errors));
    };
    let Some(flag) = flag(s, patient_id).await? else {
        return Ok(Ok(Some(Reviewed::NoFlag)));
    };
    // The portal's form gives minutes: a review in the flag's minute is
    // not before it.
    let since_minute = since(&flag).as_second().div_euclid(60) * 60;
    if reviewed_at.as_second() < since_minute {
        return Ok(Err(vec![(
            "reviewed_at".into(),
            format!(
                "must not be before the flag was raised ({})",
                crate::time::rfc3339(since(&flag))
            ),
        )]));
    }
    let uid = random_id();
    let (cssrs_sealed, not_done_sealed) = match screener {
        Ok(answers) => (Some(seal_cssrs(s, &uid, answers)), None),
        Err(reason) => (
            None,
            Some(s.cipher.encrypt(&not_done_aad(&uid), reason.as_bytes())),
        ),
    };
    let done = s
        .storage
        .add_safety_review(
            NewReview {
                note_sealed: s.cipher.encrypt(&note_aad(&uid), note.as_bytes()),
                uid,
                flag_id: flag.id,
                patient_id,
                reviewed_at,
                outcome,
                cssrs_sealed,
                not_done_sealed,
                reviewed_by: actor.user_id,
                last_signal_id: form.last_signal_id,
                created_at: now,
                pause: outcome != "continue",
                close_cases: outcome != "refer-urgent",
            },
            &s.cipher.audit_chain(),
            actor.did(
                &format!("safety review: {outcome}"),
                "patient",
                patient_id,
                now,
            ),
        )
        .await?;
    Ok(Ok(Some(match done {
        ReviewStored::Done(d) => Reviewed::Recorded(d),
        ReviewStored::NoFlag => Reviewed::NoFlag,
        ReviewStored::NewSignal => Reviewed::NewSignal,
        ReviewStored::UnknownSignal => Reviewed::UnknownSignal,
    })))
}

/// A review as a reader may see it: the note, the screener's answers and
/// its not-done reason opened for clinicians only.
#[derive(Debug, Clone)]
pub struct Review {
    pub record: ReviewRecord,
    /// The note, for a clinician; `None` for anyone else.
    pub note: Option<String>,
    /// Why the screener was not done, for a clinician.
    pub not_done: Option<String>,
    /// The screener's six answers in [`CSSRS`] order, for a clinician
    /// when it was done.
    pub cssrs: Option<[bool; 6]>,
    /// The screener was not done (whoever reads).
    pub screener_not_done: bool,
}

/// A patient's safety reviews, oldest first; sealed text opened only when
/// `may_read` (clinicians). The caller records the read.
pub async fn reviews(s: &Services, patient_id: i64, may_read: bool) -> Result<Vec<Review>, Error> {
    let open = |aad: Aad, sealed: &[u8], what: &str| {
        s.cipher
            .decrypt(&aad, sealed)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::Integrity(what.to_string()))
    };
    s.storage
        .safety_reviews(patient_id)
        .await?
        .into_iter()
        .map(|r| {
            let what = format!("safety review {}", r.id);
            let note = if may_read {
                Some(open(note_aad(&r.uid), &r.note_sealed, &what)?)
            } else {
                None
            };
            let not_done = match (&r.not_done_sealed, may_read) {
                (Some(sealed), true) => Some(open(not_done_aad(&r.uid), sealed, &what)?),
                _ => None,
            };
            let cssrs = match (&r.cssrs_sealed, may_read) {
                (Some(sealed), true) => Some(
                    s.cipher
                        .decrypt(&cssrs_aad(&r.uid), sealed)
                        .ok()
                        .as_deref()
                        .and_then(open_cssrs)
                        .ok_or_else(|| Error::Integrity(what.clone()))?,
                ),
                _ => None,
            };
            Ok(Review {
                screener_not_done: !r.screener_done,
                cssrs,
                note,
                not_done,
                record: r,
            })
        })
        .collect()
}
