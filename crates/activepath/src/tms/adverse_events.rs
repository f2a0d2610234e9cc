//! The structured adverse-event record (issue 19 §2): a seizure, fainting
//! or other serious event on a course — onset and duration, what was done,
//! the outcome, and when it was reported to the device's maker and to FDA
//! MedWatch — linked to its session. Recording one holds the course (an
//! adverse-event hold, with an urgent case, unless one is open already),
//! and only the medical director may clear that hold. The clinic's list of
//! them is for medical directors; every write and read is audited.

use super::{happened_at, one_of, urgent_case};
use crate::app::Services;
use crate::crypto::{Aad, random_id};
use crate::staff::{Actor, Error, FieldErrors, Outcome};
use crate::storage::holds::{AdverseEventRecord, AdverseEventStored, NewAdverseEvent};
use jiff::Timestamp;

/// What kind of event.
pub const KINDS: [&str; 3] = ["seizure", "fainting", "other-serious"];

/// What was done.
pub const ACTIONS: [&str; 6] = [
    "observed",
    "first-aid",
    "recovery-position",
    "rescue-medication",
    "ems-called",
    "other",
];

/// How it ended, as far as is known.
pub const OUTCOMES: [&str; 5] = [
    "resolved",
    "resolved-with-after-effects",
    "ongoing",
    "hospitalised",
    "other",
];

/// The longest description.
pub const DESCRIPTION_MAX: usize = 4000;

/// The longest an event's duration may be given as: a day, in seconds.
const DURATION_MAX_S: i64 = 86_400;

/// The most adverse events the clinic's list shows (and exports).
pub const LIST_LIMIT: i64 = 5000;

/// An adverse event as typed.
#[derive(Debug, Clone, Default)]
pub struct AdverseEventForm {
    pub kind: Option<String>,
    pub session_id: Option<i64>,
    pub onset_at: Option<String>,
    pub duration_s: Option<i64>,
    pub description: Option<String>,
    pub actions: Vec<String>,
    pub outcome: Option<String>,
    pub reported_to_manufacturer_at: Option<String>,
    pub reported_to_medwatch_at: Option<String>,
}

/// What a description is sealed with: bound to its row.
fn description_aad(uid: &str) -> Aad {
    Aad::row("tms_adverse_events", "description", uid)
}

/// An optional reporting date, checked like any date a course records.
fn reported(
    s: &Services,
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
) -> Option<Timestamp> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    match happened_at(s, raw) {
        Ok(t) => Some(t),
        Err(problem) => {
            errors.push((field.into(), problem));
            None
        }
    }
}

/// Records an adverse event on course `course_id`, which holds the course
/// (joining its open adverse-event hold, or opening one with an urgent
/// case). `Ok(Err)` names each bad field; `Ok(Ok(None))`: no such course.
pub async fn record(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    form: AdverseEventForm,
) -> Outcome<AdverseEventStored> {
    let mut errors = FieldErrors::new();
    let kind = one_of(&mut errors, "kind", form.kind.as_deref(), &KINDS);
    if kind.is_none() && form.kind.as_deref().is_none_or(|k| k.trim().is_empty()) {
        errors.push((
            "kind".into(),
            format!("is required: one of {}", KINDS.join(", ")),
        ));
    }
    let onset = match form.onset_at.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => match happened_at(s, raw) {
            Ok(t) => Some(t),
            Err(problem) => {
                errors.push(("onset_at".into(), problem));
                None
            }
        },
        _ => {
            errors.push((
                "onset_at".into(),
                "is required, as RFC 3339 with an offset".into(),
            ));
            None
        }
    };
    let duration_s = match form.duration_s {
        Some(d) if !(0..=DURATION_MAX_S).contains(&d) => {
            errors.push((
                "duration_s".into(),
                format!("must be seconds, 0 to {DURATION_MAX_S}"),
            ));
            None
        }
        d => d,
    };
    let description =
        match crate::domain::multi_line(form.description.as_deref().unwrap_or(""), DESCRIPTION_MAX)
        {
            Ok(text) => Some(text),
            Err(crate::domain::TextError::Empty) => {
                errors.push((
                    "description".into(),
                    "is required: what happened, in words".into(),
                ));
                None
            }
            Err(_) => {
                errors.push((
                    "description".into(),
                    format!("must be at most {DESCRIPTION_MAX} characters of text"),
                ));
                None
            }
        };
    let mut actions: Vec<&'static str> = Vec::new();
    for (i, a) in form.actions.iter().enumerate() {
        match ACTIONS.iter().find(|v| **v == a.as_str()) {
            Some(v) if !actions.contains(v) => actions.push(v),
            Some(_) => {}
            None => errors.push((
                format!("actions[{i}]"),
                format!("must be one of {}", ACTIONS.join(", ")),
            )),
        }
    }
    if actions.is_empty() && form.actions.is_empty() {
        errors.push((
            "actions".into(),
            format!("is required: at least one of {}", ACTIONS.join(", ")),
        ));
    }
    let outcome = one_of(&mut errors, "outcome", form.outcome.as_deref(), &OUTCOMES);
    if outcome.is_none() && form.outcome.as_deref().is_none_or(|o| o.trim().is_empty()) {
        errors.push((
            "outcome".into(),
            format!("is required: one of {}", OUTCOMES.join(", ")),
        ));
    }
    let manufacturer = reported(
        s,
        &mut errors,
        "reported_to_manufacturer_at",
        form.reported_to_manufacturer_at.as_deref(),
    );
    let medwatch = reported(
        s,
        &mut errors,
        "reported_to_medwatch_at",
        form.reported_to_medwatch_at.as_deref(),
    );
    let (Some(kind), Some(onset), Some(description), Some(outcome), true) =
        (kind, onset, description, outcome, errors.is_empty())
    else {
        return Ok(Err(errors));
    };
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let now = s.clock.now();
    let uid = random_id();
    let stored = s
        .storage
        .add_adverse_event(
            NewAdverseEvent {
                description_sealed: s
                    .cipher
                    .encrypt(&description_aad(&uid), description.as_bytes()),
                uid,
                course_id,
                session_id: form.session_id,
                kind,
                onset_at: onset,
                duration_s,
                actions,
                outcome,
                reported_to_manufacturer_at: manufacturer,
                reported_to_medwatch_at: medwatch,
                recorded_by: actor.user_id,
                created_at: now,
            },
            crate::storage::tms::NewHold {
                reason: "adverse-event",
                checklist: Vec::new(),
                urgent: urgent_case(s, &course, now).await?,
            },
            &s.cipher.audit_chain(),
            actor.did("record adverse event", "tms_course", course_id, now),
        )
        .await?;
    let Some(stored) = stored else {
        return Ok(Err(vec![(
            "session_id".into(),
            "must be a session of this course".into(),
        )]));
    };
    if stored.opened_hold {
        s.mail_wake.notify_one();
    }
    Ok(Ok(Some(stored)))
}

/// Sets when adverse event `event_id` of course `course_id` was reported to
/// the device's maker and to FDA MedWatch (at least one; one left out keeps
/// its date). `Ok(Ok(None))`: no such adverse event on that course.
pub async fn set_reports(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    event_id: i64,
    manufacturer: Option<&str>,
    medwatch: Option<&str>,
) -> Outcome<i64> {
    let mut errors = FieldErrors::new();
    let m = reported(s, &mut errors, "reported_to_manufacturer_at", manufacturer);
    let w = reported(s, &mut errors, "reported_to_medwatch_at", medwatch);
    if errors.is_empty() && m.is_none() && w.is_none() {
        errors.push((
            "reported_to_manufacturer_at".into(),
            "give this date, reported_to_medwatch_at, or both".into(),
        ));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = s.clock.now();
    let done = s
        .storage
        .set_adverse_event_reports(
            course_id,
            event_id,
            m,
            w,
            &s.cipher.audit_chain(),
            actor.did("record adverse event reports", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(done.then_some(event_id)))
}

/// An adverse event as one reader may see it.
#[derive(Debug, Clone)]
pub struct AdverseEvent {
    pub record: AdverseEventRecord,
    /// Opened for a reader allowed to see it.
    pub description: Option<String>,
}

fn open_all(
    s: &Services,
    records: Vec<AdverseEventRecord>,
    may_read: bool,
) -> Result<Vec<AdverseEvent>, Error> {
    records
        .into_iter()
        .map(|mut record| {
            let sealed = std::mem::take(&mut record.description_sealed);
            let description = if may_read {
                Some(
                    s.cipher
                        .decrypt(&description_aad(&record.uid), &sealed)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| {
                            Error::Integrity(format!("adverse event {}'s description", record.id))
                        })?,
                )
            } else {
                None
            };
            Ok(AdverseEvent {
                record,
                description,
            })
        })
        .collect()
}

/// A course's adverse events by onset, their descriptions opened only when
/// `may_read` (part of the course's read, audited by whoever shows it).
pub async fn of_course(
    s: &Services,
    course_id: i64,
    may_read: bool,
) -> Result<Vec<AdverseEvent>, Error> {
    open_all(
        s,
        s.storage.course_adverse_events(course_id).await?,
        may_read,
    )
}

/// The clinic's adverse events, newest first, for a medical director (the
/// caller checks the mark); the read recorded first.
pub async fn list(s: &Services, actor: &Actor, what: &str) -> Result<Vec<AdverseEvent>, Error> {
    let records = s.storage.adverse_events(LIST_LIMIT).await?;
    crate::staff::audit::seen(
        s,
        actor.did(what, "tms_adverse_event", records.len(), s.clock.now()),
    )
    .await?;
    open_all(s, records, true)
}
