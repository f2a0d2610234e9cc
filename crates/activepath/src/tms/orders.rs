//! What a course needs before any session (issue 19, section 3): the
//! physician's order, informed consent and the pre-TMS safety screen
//! (FACTS §7.1, §7.2.1); and the dose checks that hold each session to the
//! order in force. A change of order is a new version: every version is
//! kept, the latest is in force.
//!
//! Decisions where the issue is silent:
//! - Every session needs consent, a signed safety screen and an order, not
//!   only the first: a course that has sessions from before these records
//!   existed takes no further one until they are recorded (the dose checks
//!   need an order anyway).
//! - Spacing is measured between session starts, in both directions (a
//!   session entered late is checked against those after it too); the
//!   sessions of a day are counted in the clinic's local day.
//! - Giving more than the ordered intensity needs
//!   `intensity_deviation_reason`, which only a clinician may give; the
//!   reason is kept with the session's (sealed) protocol deviations. A plain
//!   `deviations` note does not unlock it. A reason sent with the ordered
//!   intensity or less is ignored (nothing went above the order).
//! - The order's number of sessions becomes the course's planned number.

use super::{RECORDS_GO_BACK_DAYS, TARGETS, happened_at, one_of};
use crate::app::Services;
use crate::crypto::random_id;
use crate::domain::day::{Window, parse_date};
use crate::staff::{Actor, Error, FieldErrors, Outcome, Permission, allows};
use crate::storage::tms_orders::{
    ConsentRecord, NewOrder, NewSafetyScreen, OrderRecord, Spacing, SpacingConflict,
};
use crate::storage::{Constraint, StorageError};
use jiff::Timestamp;

/// The most pulses an order may give in one session: above every protocol
/// in FACTS §7.2 (3,000 for 10 Hz, 1,800 for accelerated iTBS).
pub const MAX_ORDER_PULSES: i64 = 10_000;

/// The most sessions an order may give in one day (accelerated iTBS gives
/// 10, FACTS §7.2).
pub const MAX_SESSIONS_PER_DAY: i64 = 10;

/// The pre-TMS safety screen's topics (FACTS §7.1), by their API names,
/// with the question as the portal asks it. The wording is ours: the
/// published questionnaires' verbatim items are not verified (FACTS §7.1),
/// so this is not presented as one of them.
pub const SCREEN_TOPICS: [(&str, &str); 8] = [
    (
        "seizures",
        "Has the patient ever had a seizure, a convulsion or epilepsy?",
    ),
    (
        "metal_in_head",
        "Is there any metal in the patient's head, other than dental work (for example clips, coils, stents, fragments)?",
    ),
    (
        "implanted_devices",
        "Does the patient have an implanted device (for example a pacemaker, a cochlear implant, a stimulator, a medicine pump)?",
    ),
    (
        "head_injury",
        "Has the patient had a serious head injury, with a concussion or loss of consciousness?",
    ),
    (
        "brain_surgery",
        "Has the patient had surgery on the brain or skull?",
    ),
    ("pregnancy", "Is the patient pregnant, or could they be?"),
    (
        "previous_tms_problems",
        "Has the patient had a problem with TMS before?",
    ),
    (
        "bipolar",
        "Does the patient have bipolar disorder, or has mania or hypomania ever happened?",
    ),
];

/// An order as typed (each field required but `target`, which is the
/// course's when left out).
#[derive(Debug, Clone, Default)]
pub struct OrderForm {
    pub intensity_percent_mt: Option<i64>,
    pub pulses: Option<i64>,
    pub sessions_per_day: Option<i64>,
    pub min_spacing_minutes: Option<i64>,
    pub planned_sessions: Option<i64>,
    pub target: Option<String>,
}

/// An order's numbers, checked; the target is settled with the course's.
struct CheckedOrder {
    target: Option<&'static str>,
    intensity: i64,
    pulses: i64,
    per_day: i64,
    spacing: i64,
    planned: i64,
}

/// `form` checked, each bad field named with `prefix` before it.
fn check_order(
    s: &Services,
    form: &OrderForm,
    prefix: &str,
    errors: &mut FieldErrors,
) -> Option<CheckedOrder> {
    let ceiling = s.config.tms.max_intensity_percent_mt;
    let mut number = |field: &str, raw: Option<i64>, min: i64, max: i64, what: &str| match raw {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            errors.push((
                format!("{prefix}{field}"),
                format!("is required: {what}, {min} to {max}"),
            ));
            None
        }
    };
    let intensity = number(
        "intensity_percent_mt",
        form.intensity_percent_mt,
        1,
        ceiling,
        "a whole percentage of the motor threshold, at most the clinic's ceiling",
    );
    let pulses = number(
        "pulses",
        form.pulses,
        1,
        MAX_ORDER_PULSES,
        "pulses in one session",
    );
    let per_day = number(
        "sessions_per_day",
        form.sessions_per_day,
        1,
        MAX_SESSIONS_PER_DAY,
        "sessions on one day",
    );
    let spacing = number(
        "min_spacing_minutes",
        form.min_spacing_minutes,
        0,
        1440,
        "minutes at least between the starts of two sessions",
    );
    let planned = number(
        "planned_sessions",
        form.planned_sessions,
        1,
        super::MAX_SESSIONS,
        "sessions in the course",
    );
    let target = one_of(
        errors,
        &format!("{prefix}target"),
        form.target.as_deref(),
        &TARGETS,
    );
    Some(CheckedOrder {
        target,
        intensity: intensity?,
        pulses: pulses?,
        per_day: per_day?,
        spacing: spacing?,
        planned: planned?,
    })
}

/// The order to store for a course on `protocol` aimed at `course_target`;
/// a field error when neither the order nor the course names a target.
fn new_order(
    actor: &Actor,
    checked: CheckedOrder,
    protocol: &str,
    course_target: Option<&str>,
    prefix: &str,
    errors: &mut FieldErrors,
    now: Timestamp,
) -> Option<NewOrder> {
    let field = format!("{prefix}target");
    if errors.iter().any(|(f, _)| *f == field) {
        // Named already: not one of the targets.
        return None;
    }
    let Some(target) = checked.target.or(course_target) else {
        errors.push((
            field,
            format!(
                "is required: the course has no target; one of {}",
                TARGETS.join(", ")
            ),
        ));
        return None;
    };
    Some(NewOrder {
        protocol: protocol.to_string(),
        target: target.to_string(),
        intensity_percent_mt: checked.intensity,
        pulses: checked.pulses,
        sessions_per_day: checked.per_day,
        min_spacing_minutes: checked.spacing,
        planned_sessions: checked.planned,
        signed_by: actor.user_id,
        signed_at: now,
    })
}

/// Signs a new version of course `course_id`'s order as `actor` (a
/// clinician: the caller checks). Returns the version. `Ok(Err)` names
/// each bad field; `Ok(Ok(None))`: no such course.
pub async fn record_order(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    form: OrderForm,
) -> Outcome<i64> {
    let mut errors = FieldErrors::new();
    let checked = check_order(s, &form, "", &mut errors);
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let now = s.clock.now();
    let order = checked.and_then(|c| {
        new_order(
            actor,
            c,
            &course.protocol,
            course.target.as_deref(),
            "",
            &mut errors,
            now,
        )
    });
    let (Some(order), true) = (order, errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let version = s
        .storage
        .add_order(
            course_id,
            order,
            &s.cipher.audit_chain(),
            actor.did("sign order", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(Some(version)))
}

/// For [`super::start_course`]: `form` checked as the new course's order
/// (fields named `order.…`).
pub(crate) fn course_order(
    s: &Services,
    actor: &Actor,
    form: &OrderForm,
    protocol: &str,
    course_target: Option<&str>,
    errors: &mut FieldErrors,
) -> Option<NewOrder> {
    let checked = check_order(s, form, "order.", errors)?;
    new_order(
        actor,
        checked,
        protocol,
        course_target,
        "order.",
        errors,
        s.clock.now(),
    )
}

/// Records the patient's informed consent for course `course_id`:
/// `consented_at` a date (`YYYY-MM-DD`, or RFC 3339) not in the future,
/// `consent_version` the consent form's version, one line. `Ok(Err)` names
/// each bad field; `Ok(Ok(None))`: no such course.
pub async fn record_consent(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    consented_at: Option<&str>,
    consent_version: Option<&str>,
) -> Outcome<i64> {
    let now = s.clock.now();
    let tz = s.config.clinic.time_zone.tz();
    let today = crate::time::date_in(now, tz);
    let mut errors = FieldErrors::new();
    let date = match consented_at.map(str::trim).filter(|r| !r.is_empty()) {
        None => {
            errors.push(("consented_at".into(), "is required, as YYYY-MM-DD".into()));
            None
        }
        Some(raw) if raw.contains('T') => match happened_at(s, raw) {
            Ok(t) => Some(crate::time::date_in(t, tz)),
            Err(problem) => {
                errors.push(("consented_at".into(), problem));
                None
            }
        },
        Some(raw) => match parse_date(raw, Window::around(today, RECORDS_GO_BACK_DAYS, 0)) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(("consented_at".into(), e.message()));
                None
            }
        },
    };
    let version = match crate::domain::single_line(consent_version.unwrap_or(""), 100) {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push((
                "consent_version".into(),
                "is required: the consent form's version, one line of at most 100 characters"
                    .into(),
            ));
            None
        }
    };
    let (Some(date), Some(version), true) = (date, version, errors.is_empty()) else {
        return Ok(Err(errors));
    };
    if s.storage.course(course_id).await?.is_none() {
        return Ok(Ok(None));
    }
    let id = s
        .storage
        .add_consent(
            course_id,
            date.to_string(),
            version,
            actor.user_id,
            &s.cipher.audit_chain(),
            actor.did("record consent", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(Some(id)))
}

/// A safety screen's answers, by topic, in [`SCREEN_TOPICS`]' order.
pub type ScreenAnswers = Vec<(&'static str, bool)>;

/// What a screen's answers are sealed with: bound to its row.
fn answers_aad(uid: &str) -> crate::crypto::Aad {
    crate::crypto::Aad::row("tms_safety_screens", "answers", uid)
}

/// What a screen's notes are sealed with: bound to its row.
fn notes_aad(uid: &str) -> crate::crypto::Aad {
    crate::crypto::Aad::row("tms_safety_screens", "notes", uid)
}

/// Records the pre-TMS safety screen of course `course_id`, reviewed and
/// signed by `actor` (a clinician: the caller checks). `answers` has every
/// topic of [`SCREEN_TOPICS`] (a missing one is named as
/// `answers.<topic>`); `notes` is sealed. `Ok(Err)` names each bad field;
/// `Ok(Ok(None))`: no such course.
pub async fn record_safety_screen(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    answers: &[(&str, Option<bool>)],
    notes: Option<&str>,
) -> Outcome<i64> {
    let mut errors = FieldErrors::new();
    let mut given: ScreenAnswers = Vec::new();
    for (topic, _) in SCREEN_TOPICS {
        match answers
            .iter()
            .find(|(t, _)| *t == topic)
            .and_then(|(_, a)| *a)
        {
            Some(a) => given.push((topic, a)),
            None => errors.push((
                format!("answers.{topic}"),
                "is required: true (yes) or false (no)".into(),
            )),
        }
    }
    for (topic, _) in answers {
        if !SCREEN_TOPICS.iter().any(|(t, _)| t == topic) {
            errors.push((format!("answers.{topic}"), "is not a known topic".into()));
        }
    }
    let notes = match crate::domain::multi_line(notes.unwrap_or(""), 4000) {
        Ok(text) => Some(text),
        Err(crate::domain::TextError::Empty) => None,
        Err(_) => {
            errors.push((
                "notes".into(),
                "must be at most 4000 characters of text".into(),
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if s.storage.course(course_id).await?.is_none() {
        return Ok(Ok(None));
    }
    let now = s.clock.now();
    let uid = random_id();
    let map: serde_json::Map<String, serde_json::Value> = given
        .iter()
        .map(|(t, a)| ((*t).to_string(), serde_json::Value::Bool(*a)))
        .collect();
    let id = s
        .storage
        .add_safety_screen(
            course_id,
            NewSafetyScreen {
                answers_sealed: s.cipher.encrypt(
                    &answers_aad(&uid),
                    &serde_json::to_vec(&map).expect("answers serialize"),
                ),
                notes_sealed: notes.map(|n| s.cipher.encrypt(&notes_aad(&uid), n.as_bytes())),
                uid,
                signed_by: actor.user_id,
                signed_at: now,
            },
            &s.cipher.audit_chain(),
            actor.did("sign safety screen", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(Some(id)))
}

/// A signed safety screen, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyScreen {
    pub id: i64,
    pub answers: ScreenAnswers,
    /// The notes, for a clinician; `None` for anyone else, or when none.
    pub notes: Option<String>,
    pub notes_recorded: bool,
    pub signed_by: Option<String>,
    pub signed_at: Timestamp,
}

impl SafetyScreen {
    /// The topics answered "yes".
    pub fn yes(&self) -> Vec<&'static str> {
        self.answers
            .iter()
            .filter_map(|(t, a)| a.then_some(*t))
            .collect()
    }
}

/// What a course has recorded before its sessions, as one reader may see
/// it (the screen's notes to clinicians only).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    /// Every version, oldest first; the last is in force.
    pub orders: Vec<OrderRecord>,
    pub consents: Vec<ConsentRecord>,
    /// Signed screens, oldest first; the last counts.
    pub screens: Vec<SafetyScreen>,
}

impl Readiness {
    /// The order in force.
    pub fn order(&self) -> Option<&OrderRecord> {
        self.orders.last()
    }

    pub fn screen(&self) -> Option<&SafetyScreen> {
        self.screens.last()
    }

    /// What is still missing before a session, by its stop's name.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.consents.is_empty() {
            out.push("consent");
        }
        if self.screens.is_empty() {
            out.push("safety_screen");
        }
        if self.orders.is_empty() {
            out.push("order");
        }
        out
    }
}

/// Course `course_id`'s order, consent and screens for a reader whose role
/// `may_read_notes` or not. (Read as part of the course, whose read is
/// audited by the caller.)
pub async fn readiness(
    s: &Services,
    course_id: i64,
    may_read_notes: bool,
) -> Result<Readiness, Error> {
    let orders = s.storage.orders(course_id).await?;
    let consents = s.storage.consents(course_id).await?;
    let screens = s
        .storage
        .safety_screens(course_id)
        .await?
        .into_iter()
        .map(|r| {
            let broken = || Error::Integrity(format!("safety screen {}", r.id));
            let plain = s
                .cipher
                .decrypt(&answers_aad(&r.uid), &r.answers_sealed)
                .map_err(|_| broken())?;
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&plain).map_err(|_| broken())?;
            let answers = SCREEN_TOPICS
                .iter()
                .filter_map(|(t, _)| map.get(*t).and_then(|v| v.as_bool()).map(|a| (*t, a)))
                .collect();
            let notes = match (&r.notes_sealed, may_read_notes) {
                (Some(sealed), true) => Some(
                    s.cipher
                        .decrypt(&notes_aad(&r.uid), sealed)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(broken)?,
                ),
                _ => None,
            };
            Ok(SafetyScreen {
                id: r.id,
                answers,
                notes,
                notes_recorded: r.notes_sealed.is_some(),
                signed_by: r.signed_by_email,
                signed_at: r.signed_at,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Readiness {
        orders,
        consents,
        screens,
    })
}

/// A hard stop: (the stop's field, what to do).
pub(crate) type Stop = (&'static str, String);

/// Point 4 of `record_session`'s hard stops: consent, the safety screen and
/// the order, checked in that order. The order in force, or what is
/// missing.
pub(crate) async fn before_session(
    s: &Services,
    course_id: i64,
) -> Result<Result<OrderRecord, Stop>, Error> {
    let (consent, screen, order) = s.storage.session_readiness(course_id).await?;
    if !consent {
        return Ok(Err((
            "consent",
            "no informed consent is recorded for this course: record the patient's consent (the date and the consent form's version) on the course page before any session".into(),
        )));
    }
    if !screen {
        return Ok(Err((
            "safety_screen",
            "no pre-TMS safety screen is signed for this course: a clinician reviews the patient's answers and signs the screen on the course page before any session".into(),
        )));
    }
    match order {
        Some(order) => Ok(Ok(order)),
        None => Ok(Err((
            "order",
            "no physician's order is signed for this course: a clinician signs the order (intensity, pulses, sessions a day, spacing and number of sessions) on the course page before any session".into(),
        ))),
    }
}

/// The dose checks passed: the spacing to check again when storing, and
/// the session's deviations sealed anew when a clinician's reason for a
/// higher intensity was added to them.
pub(crate) struct DoseChecked {
    pub spacing: Spacing,
    pub deviations_sealed: Option<Vec<u8>>,
}

/// A session as the dose checks see it.
pub(crate) struct Dose<'a> {
    pub course_id: i64,
    pub session_uid: &'a str,
    pub started: Timestamp,
    pub intensity: i64,
    pub pulses: i64,
    /// The session's own deviations note, as given.
    pub deviations: Option<&'a str>,
    pub intensity_deviation_reason: Option<&'a str>,
}

/// Point 7 of `record_session`'s hard stops, after the clinic's ceiling:
/// the intensity within the order (or above it with a clinician's reason),
/// pulses at most 110% of the order's, and the order's sessions a day and
/// spacing.
pub(crate) async fn check_dose(
    s: &Services,
    actor: &Actor,
    order: &OrderRecord,
    dose: Dose<'_>,
) -> Result<Result<DoseChecked, Stop>, Error> {
    let tz = s.config.clinic.time_zone.tz();
    let signed = format!(
        "order version {}, signed {}",
        order.version,
        crate::time::format_date(order.signed_at, tz)
    );
    // A reason is only for going above the order: given with the ordered
    // intensity or less it is ignored, never recorded as a deviation.
    let reason = match dose
        .intensity_deviation_reason
        .map(str::trim)
        .filter(|_| dose.intensity > order.intensity_percent_mt)
    {
        None | Some("") => None,
        Some(raw) => {
            let clinician = match actor.user_id {
                Some(id) => s
                    .storage
                    .staff_user(id)
                    .await?
                    .is_some_and(|u| allows(u.role, Permission::ManageCourses)),
                None => false,
            };
            if !clinician {
                return Ok(Err((
                    "intensity_deviation_reason",
                    "only a clinician may give a reason to go above the ordered intensity: ask a clinician, or give the ordered intensity".into(),
                )));
            }
            match crate::domain::multi_line(raw, 500) {
                Ok(text) => Some(text),
                Err(_) => {
                    return Ok(Err((
                        "intensity_deviation_reason",
                        "must be at most 500 characters of text".into(),
                    )));
                }
            }
        }
    };
    if dose.intensity > order.intensity_percent_mt && reason.is_none() {
        return Ok(Err((
            "intensity_percent_mt",
            format!(
                "{}% of the motor threshold is above the {}% the physician ordered ({signed}): give the ordered intensity, or a clinician gives the reason for the higher one",
                dose.intensity, order.intensity_percent_mt
            ),
        )));
    }
    if dose.pulses * 10 > order.pulses * 11 {
        return Ok(Err((
            "pulses",
            format!(
                "{} pulses is more than 110% of the {} pulses a session the physician ordered ({signed}): at most {} may be given; a clinician changes the order for more",
                dose.pulses,
                order.pulses,
                order.pulses * 11 / 10
            ),
        )));
    }
    let spacing = spacing_of(order, dose.course_id, dose.started, tz);
    if let Some(conflict) = s.storage.session_spacing(spacing).await? {
        return Ok(Err(spacing_stop(order, conflict, &spacing, tz, &signed)));
    }
    let deviations_sealed = reason.map(|reason| {
        let note = format!(
            "Intensity {}% of the motor threshold, above the ordered {}% ({signed}). Reason, from {}: {reason}",
            dose.intensity, order.intensity_percent_mt, actor.label
        );
        let text = match dose.deviations {
            Some(d) if !d.trim().is_empty() => format!("{}\n\n{note}", d.trim()),
            _ => note,
        };
        s.cipher
            .encrypt(&super::deviations_aad(dose.session_uid), text.as_bytes())
    });
    Ok(Ok(DoseChecked {
        spacing,
        deviations_sealed,
    }))
}

/// The order's spacing around a session starting at `started`.
fn spacing_of(
    order: &OrderRecord,
    course_id: i64,
    started: Timestamp,
    tz: &jiff::tz::TimeZone,
) -> Spacing {
    let day_start = started
        .to_zoned_datetime(tz.clone())
        .start_of_day()
        .map_or(started, |z| z.timestamp());
    Spacing {
        course_id,
        started_at: started,
        day_start,
        day_end: crate::time::next_midnight(started, tz),
        sessions_per_day: order.sessions_per_day,
        min_spacing_minutes: order.min_spacing_minutes,
    }
}

fn spacing_stop(
    order: &OrderRecord,
    conflict: SpacingConflict,
    spacing: &Spacing,
    tz: &jiff::tz::TimeZone,
    signed: &str,
) -> Stop {
    let message = match conflict {
        SpacingConflict::TooClose(other) => format!(
            "another session of this course started at {}: the physician ordered at least {} minutes between the starts of two sessions ({signed}); wait, or check the time entered",
            crate::time::format_date_time(other, tz),
            order.min_spacing_minutes
        ),
        SpacingConflict::FullDay(n) => format!(
            "{n} sessions are recorded on {} already: the physician ordered {} a day ({signed})",
            crate::time::format_date(spacing.started_at, tz),
            order.sessions_per_day
        ),
    };
    ("spacing", message)
}

/// After storing a session failed: when another session of the course came
/// in meanwhile and broke the spacing, the stop to answer with.
pub(crate) async fn spacing_after_conflict(
    s: &Services,
    order: &OrderRecord,
    spacing: &Spacing,
    error: &Error,
) -> Result<Option<Stop>, Error> {
    if !matches!(
        error,
        Error::Storage(StorageError::Conflict(Constraint::Changed))
    ) {
        return Ok(None);
    }
    let tz = s.config.clinic.time_zone.tz();
    let signed = format!(
        "order version {}, signed {}",
        order.version,
        crate::time::format_date(order.signed_at, tz)
    );
    Ok(Some(match s.storage.session_spacing(*spacing).await? {
        Some(conflict) => spacing_stop(order, conflict, spacing, tz, &signed),
        None => (
            "spacing",
            "another session of this course was recorded at the same moment: open the course and check before giving this one".into(),
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_has_the_issues_eight_topics_once_each() {
        let topics: Vec<&str> = SCREEN_TOPICS.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            topics,
            [
                "seizures",
                "metal_in_head",
                "implanted_devices",
                "head_injury",
                "brain_surgery",
                "pregnancy",
                "previous_tms_problems",
                "bipolar"
            ]
        );
        for (_, question) in SCREEN_TOPICS {
            assert!(question.ends_with('?'));
        }
    }

    #[test]
    fn the_local_day_of_a_session_is_the_clinics() {
        let tz = jiff::tz::TimeZone::get("America/Chicago").unwrap();
        let order = OrderRecord {
            id: 1,
            version: 1,
            protocol: "10hz".into(),
            target: "left-dlpfc".into(),
            intensity_percent_mt: 120,
            pulses: 3000,
            sessions_per_day: 1,
            min_spacing_minutes: 0,
            planned_sessions: 36,
            signed_by: None,
            signed_by_email: None,
            signed_at: Timestamp::UNIX_EPOCH,
        };
        // 03:30 UTC on the 15th is 21:30 on the 14th in Chicago.
        let started: Timestamp = "2026-12-15T03:30:00Z".parse().unwrap();
        let rule = spacing_of(&order, 7, started, &tz);
        assert_eq!(rule.day_start, "2026-12-14T06:00:00Z".parse().unwrap());
        assert_eq!(rule.day_end, "2026-12-15T06:00:00Z".parse().unwrap());
        // A day of 25 hours when daylight saving time ends.
        let fall: Timestamp = "2026-11-01T12:00:00Z".parse().unwrap();
        let rule = spacing_of(&order, 7, fall, &tz);
        assert_eq!(
            rule.day_end.as_second() - rule.day_start.as_second(),
            25 * 3600
        );
    }
}
