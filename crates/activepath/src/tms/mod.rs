//! TMS treatment courses, without HTTP: starting a course for a patient on
//! a protocol (`clinical::protocol`), recording motor thresholds, and
//! reading a course. Checks are made here, once, for the portal and the API
//! alike; every change and every read is in the audit trail.
//!
//! Still to come (issue 10): sessions with their hard stops, check-ins with
//! response and remission (`clinical::mbc`), series booking, authorizations
//! and alerts.

use crate::app::Services;
use crate::crypto::random_id;
use crate::staff::{Actor, Error, FieldErrors, Outcome};
use crate::storage::tms::{
    CheckInRecord, CourseRecord, MotorThreshold, NewCheckIn, NewCourse, NewMotorThreshold,
    UrgentCase,
};
use jiff::Timestamp;
use jiff::civil::Date;

/// What a course is started with, as typed.
#[derive(Debug, Clone, Default)]
pub struct CoursePlan {
    pub protocol: Option<String>,
    pub planned_sessions: Option<i64>,
    pub start_date: Option<String>,
}

/// The most sessions a course may plan.
pub const MAX_SESSIONS: i64 = 200;

/// Starts a course (status `planned`) for patient `patient_id`. `Ok(Err)`
/// names each bad field; `Ok(Ok(None))`: no such patient.
pub async fn start_course(
    s: &Services,
    actor: &Actor,
    patient_id: i64,
    plan: CoursePlan,
) -> Outcome<i64> {
    let mut errors = FieldErrors::new();
    let protocol = match plan.protocol.as_deref().map(str::trim) {
        Some(id) => match clinical::protocol::built_in(id) {
            Some(p) => Some(p),
            None => {
                let ids: Vec<&str> = clinical::protocol::BUILT_IN.iter().map(|p| p.id).collect();
                errors.push((
                    "protocol".into(),
                    format!("must be one of {}", ids.join(", ")),
                ));
                None
            }
        },
        None => {
            errors.push(("protocol".into(), "is required".into()));
            None
        }
    };
    let planned = match (plan.planned_sessions, protocol) {
        (Some(n), _) if (1..=MAX_SESSIONS).contains(&n) => Some(n),
        (Some(_), _) => {
            errors.push((
                "planned_sessions".into(),
                format!("must be from 1 to {MAX_SESSIONS}"),
            ));
            None
        }
        (None, Some(p)) => Some(i64::from(p.default_planned_sessions)),
        (None, None) => None,
    };
    let today = crate::time::date_in(s.clock.now(), s.config.clinic.time_zone.tz());
    let start = match plan.start_date.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(("start_date".into(), "is required, as YYYY-MM-DD".into()));
            None
        }
        Some(raw) => match raw.parse::<Date>() {
            Ok(d) if d.year() >= 2000 && d <= today.saturating_add(jiff::Span::new().years(1)) => {
                Some(d)
            }
            Ok(_) => {
                errors.push((
                    "start_date".into(),
                    "must be within a year from today".into(),
                ));
                None
            }
            Err(_) => {
                errors.push(("start_date".into(), "must be a date as YYYY-MM-DD".into()));
                None
            }
        },
    };
    let (Some(protocol), Some(planned), Some(start)) = (protocol, planned, start) else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if s.storage.patient(patient_id).await?.is_none() {
        return Ok(Ok(None));
    }
    let now = s.clock.now();
    let id = s
        .storage
        .add_course(
            NewCourse {
                uid: random_id(),
                patient_id,
                protocol: protocol.id.into(),
                planned_sessions: planned,
                start_date: start.to_string(),
                created_by: actor.user_id,
                created_at: now,
            },
            &s.cipher.audit_chain(),
            actor.did("create", "tms_course", "", now),
        )
        .await?;
    Ok(Ok(Some(id)))
}

/// Records a motor threshold for course `course_id`: `percent_output` of
/// the device, determined at `determined_at` (not in the future). `Ok(Err)`
/// names each bad field; `Ok(Ok(None))`: no such course.
pub async fn record_motor_threshold(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    determined_at: Option<&str>,
    percent_output: Option<i64>,
) -> Outcome<i64> {
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    let at = match determined_at.map(str::parse::<Timestamp>) {
        Some(Ok(t)) if t <= now => Some(t),
        Some(Ok(_)) => {
            errors.push(("determined_at".into(), "must not be in the future".into()));
            None
        }
        _ => {
            errors.push((
                "determined_at".into(),
                "is required, as RFC 3339 with an offset".into(),
            ));
            None
        }
    };
    let percent = match percent_output {
        Some(p) if (1..=100).contains(&p) => Some(p),
        _ => {
            errors.push((
                "percent_output".into(),
                "must be a whole percentage of the device's output, 1 to 100".into(),
            ));
            None
        }
    };
    let (Some(at), Some(percent)) = (at, percent) else {
        return Ok(Err(errors));
    };
    if s.storage.course(course_id).await?.is_none() {
        return Ok(Ok(None));
    }
    let id = s
        .storage
        .add_motor_threshold(
            NewMotorThreshold {
                course_id,
                determined_at: at,
                percent_output: percent,
                recorded_by: actor.user_id,
                created_at: now,
            },
            &s.cipher.audit_chain(),
            actor.did("record motor threshold", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(Some(id)))
}

/// Why a course may stop early.
pub const STOP_REASONS: [&str; 6] = [
    "patient-choice",
    "side-effects",
    "adverse-event",
    "no-response",
    "coverage",
    "other",
];

/// The statuses a course may move to from `from`. (`planned` becomes
/// `active` by hand for now; with sessions, the first one will do it.)
pub fn next_statuses(from: &str) -> &'static [&'static str] {
    match from {
        "planned" => &["active", "stopped"],
        "active" => &["paused", "completed", "stopped"],
        "paused" => &["active", "stopped"],
        _ => &[],
    }
}

/// Changes a course's status; `stopped` needs a reason from
/// [`STOP_REASONS`]. `Ok(Err)` names the bad field (a move the course's
/// status does not allow names `status`); `Ok(Ok(None))`: no such course.
pub async fn set_status(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    status: Option<&str>,
    stop_reason: Option<&str>,
) -> Outcome<i64> {
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let from: &'static str = match course.status.as_str() {
        "planned" => "planned",
        "active" => "active",
        "paused" => "paused",
        "completed" => "completed",
        _ => "stopped",
    };
    let allowed = next_statuses(from);
    let mut errors = FieldErrors::new();
    let to = allowed.iter().copied().find(|to| Some(*to) == status);
    if to.is_none() {
        errors.push((
            "status".into(),
            if allowed.is_empty() {
                format!("the course is {from}: its status does not change any more")
            } else {
                format!("from {from}, must be one of {}", allowed.join(", "))
            },
        ));
    }
    let reason = STOP_REASONS
        .iter()
        .copied()
        .find(|r| Some(*r) == stop_reason);
    match (to, stop_reason, reason) {
        (Some("stopped"), _, None) => errors.push((
            "stop_reason".into(),
            format!(
                "is required to stop a course: one of {}",
                STOP_REASONS.join(", ")
            ),
        )),
        (Some(to), Some(_), _) if to != "stopped" => {
            errors.push(("stop_reason".into(), "is only for stopping a course".into()))
        }
        _ => {}
    }
    let Some(to) = to.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let now = s.clock.now();
    let changed = s
        .storage
        .set_course_status(
            course_id,
            from,
            to,
            reason.filter(|_| to == "stopped"),
            &s.cipher.audit_chain(),
            actor.did(&format!("status {to}"), "tms_course", course_id, now),
        )
        .await?;
    if !changed {
        return Ok(Err(vec![(
            "status".into(),
            "the course's status changed meanwhile: read it again".into(),
        )]));
    }
    Ok(Ok(Some(course_id)))
}

/// An urgent case for the clinicians about `course`'s patient, with the
/// clinic's notification (which names no one).
async fn urgent_case(
    s: &Services,
    course: &CourseRecord,
    now: Timestamp,
) -> Result<UrgentCase, Error> {
    let details = crate::staff::patients::details(s, course.patient_id)
        .await?
        .ok_or_else(|| Error::Integrity(format!("course {} without its patient", course.id)))?;
    let contact = crate::assessment::share::Contact {
        contact_method: if details.phone.is_some() {
            crate::assessment::share::ContactMethod::Phone
        } else {
            crate::assessment::share::ContactMethod::Email
        },
        name: details.name,
        email: details.email,
        phone: details.phone,
        contact_time: crate::assessment::share::ContactTime::Any,
        message: None,
        days: Vec::new(),
    };
    let case_uid = random_id();
    let mail = crate::mail::course_alert_notification(&s.config);
    Ok(UrgentCase {
        case: crate::storage::triage::NewTriageCase {
            contact_sealed: s.cipher.encrypt(
                &crate::assessment::share::contact_aad(&case_uid),
                &serde_json::to_vec(&contact).expect("contact serializes"),
            ),
            uid: case_uid,
            kind: crate::storage::triage::CaseKind::Course,
            result_id: None,
            priority: crate::storage::triage::Priority::Urgent,
            consent_version: "treatment".into(),
            created_at: now,
        },
        patient_id: course.patient_id,
        mail: crate::storage::outbox::NewMail {
            recipient: s.config.mail.notify.clone(),
            subject: mail.subject,
            body_text: mail.text,
            body_html: mail.html,
            sealed: None,
        },
    })
}

/// Side effects a session may record.
pub const SIDE_EFFECTS: [&str; 8] = [
    "headache",
    "scalp-discomfort",
    "dizziness",
    "nausea",
    "facial-twitching",
    "fainting",
    "seizure",
    "other",
];

/// Side effects that stop the course until a clinician clears it.
const SERIOUS: [&str; 2] = ["seizure", "fainting"];

/// The pre-session checklist: any "yes" stops the session until a
/// clinician has reviewed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checklist {
    pub medication_change: bool,
    pub sleep_loss: bool,
    pub alcohol: bool,
    pub new_implant: bool,
    pub pregnancy: bool,
    pub seizure: bool,
}

impl Checklist {
    pub fn any_yes(&self) -> bool {
        self.medication_change
            || self.sleep_loss
            || self.alcohol
            || self.new_implant
            || self.pregnancy
            || self.seizure
    }
}

/// A session as given, as typed.
#[derive(Debug, Clone, Default)]
pub struct SessionLog {
    pub started_at: Option<String>,
    pub intensity_percent_mt: Option<i64>,
    pub pulses: Option<i64>,
    pub side_effects: Vec<String>,
    /// `None` when the checklist was not sent: it is required.
    pub checklist: Option<Checklist>,
}

/// What recording a session did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Recorded; with the hold a serious side effect opened.
    Recorded { id: i64, hold: Option<i64> },
    /// Refused by a hard stop: (stop, what to do). Nothing was recorded,
    /// except the hold a checklist "yes" opens.
    Stopped {
        stop: &'static str,
        message: String,
        hold: Option<i64>,
    },
}

/// Records a session on course `course_id`, after every hard stop the
/// server enforces: the course must take sessions (not paused, stopped or
/// completed), have no open hold, a baseline PHQ-9 and a motor threshold,
/// and the intensity must be within the clinic's ceiling; a "yes" on the
/// checklist opens a hold and an urgent case instead. A seizure or fainting
/// is recorded, then opens a hold and an urgent case. `Ok(Err)` names each
/// bad field; `Ok(Ok(None))`: no such course.
pub async fn record_session(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    log: SessionLog,
) -> Outcome<SessionOutcome> {
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    let started = match log.started_at.as_deref().map(str::parse::<Timestamp>) {
        Some(Ok(t)) if t <= now => Some(t),
        Some(Ok(_)) => {
            errors.push(("started_at".into(), "must not be in the future".into()));
            None
        }
        _ => {
            errors.push((
                "started_at".into(),
                "is required, as RFC 3339 with an offset".into(),
            ));
            None
        }
    };
    let intensity = match log.intensity_percent_mt {
        Some(i) if (1..=200).contains(&i) => Some(i),
        _ => {
            errors.push((
                "intensity_percent_mt".into(),
                "is required: a whole percentage of the motor threshold, 1 to 200".into(),
            ));
            None
        }
    };
    let pulses = match log.pulses {
        Some(p) if (0..=100_000).contains(&p) => Some(p),
        _ => {
            errors.push((
                "pulses".into(),
                "is required: pulses delivered, 0 or more".into(),
            ));
            None
        }
    };
    let mut effects: Vec<String> = Vec::new();
    for (i, e) in log.side_effects.iter().enumerate() {
        match SIDE_EFFECTS.iter().find(|v| **v == e.as_str()) {
            Some(v) if !effects.iter().any(|x| x == v) => effects.push((*v).to_string()),
            Some(_) => {}
            None if e == "none" => {}
            None => errors.push((
                format!("side_effects[{i}]"),
                format!("must be one of none, {}", SIDE_EFFECTS.join(", ")),
            )),
        }
    }
    if log.checklist.is_none() {
        errors.push((
            "checklist".into(),
            "is required: medication_change, sleep_loss, alcohol, new_implant, pregnancy and seizure, each true or false".into(),
        ));
    }
    let (Some(started), Some(intensity), Some(pulses), Some(checklist)) =
        (started, intensity, pulses, log.checklist)
    else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let stop = |stop: &'static str, message: String| {
        Ok(Ok(Some(SessionOutcome::Stopped {
            stop,
            message,
            hold: None,
        })))
    };
    if !matches!(course.status.as_str(), "planned" | "active") {
        return stop(
            "course_status",
            format!("the course is {}: it takes no sessions", course.status),
        );
    }
    if let Some(hold) = s.storage.open_holds(course_id).await?.first() {
        return stop(
            "hold",
            format!(
                "the course is on hold ({}) until a clinician clears it (hold {})",
                hold.reason, hold.id
            ),
        );
    }
    if s.storage.check_ins(course_id).await?.is_empty() {
        return stop(
            "baseline",
            "a baseline PHQ-9 check-in is needed before the first session".into(),
        );
    }
    let Some(threshold) = s.storage.motor_thresholds(course_id).await?.pop() else {
        return stop(
            "motor_threshold",
            "no motor threshold has been determined for this course".into(),
        );
    };
    let ceiling = s.config.tms.max_intensity_percent_mt;
    if intensity > ceiling {
        return stop(
            "intensity_percent_mt",
            format!(
                "{intensity}% of the motor threshold is above this clinic's ceiling of {ceiling}%"
            ),
        );
    }
    if checklist.any_yes() {
        let hold = s
            .storage
            .add_hold(
                course_id,
                crate::storage::tms::NewHold {
                    reason: "checklist",
                    urgent: urgent_case(s, &course, now).await?,
                },
                &s.cipher.audit_chain(),
                actor.did("hold: checklist", "tms_course", course_id, now),
            )
            .await?;
        s.mail_wake.notify_one();
        return Ok(Ok(Some(SessionOutcome::Stopped {
            stop: "checklist",
            message: format!(
                "a \"yes\" on the pre-session checklist: no session until a clinician has reviewed it and cleared hold {hold}"
            ),
            hold: Some(hold),
        })));
    }
    let serious = effects.iter().any(|e| SERIOUS.contains(&e.as_str()));
    let hold = if serious {
        Some(crate::storage::tms::NewHold {
            reason: "adverse-event",
            urgent: urgent_case(s, &course, now).await?,
        })
    } else {
        None
    };
    let (id, hold) = s
        .storage
        .add_session(
            crate::storage::tms::NewSession {
                uid: random_id(),
                course_id,
                started_at: started,
                motor_threshold_id: threshold.id,
                intensity_percent_mt: intensity,
                pulses,
                side_effects: effects,
                recorded_by: actor.user_id,
                created_at: now,
            },
            hold,
            &s.cipher.audit_chain(),
            actor.did("record session", "tms_course", course_id, now),
        )
        .await?;
    if hold.is_some() {
        s.mail_wake.notify_one();
    }
    Ok(Ok(Some(SessionOutcome::Recorded { id, hold })))
}

/// Clears a hold (clinicians): the course takes sessions again.
/// `Ok(Ok(None))`: no such open hold on that course.
pub async fn clear_hold(s: &Services, actor: &Actor, course_id: i64, hold_id: i64) -> Outcome<i64> {
    let now = s.clock.now();
    let cleared = s
        .storage
        .clear_hold(
            course_id,
            hold_id,
            actor.user_id,
            &s.cipher.audit_chain(),
            actor.did("clear hold", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(cleared.then_some(hold_id)))
}

/// A check-in recorded: its id, score, and the urgent case it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedIn {
    pub id: i64,
    pub total: u8,
    pub self_harm_flag: bool,
    pub urgent_case: Option<i64>,
}

/// Records a PHQ-9 check-in on course `course_id` (the first is the
/// baseline). Question 9 above 0 opens an urgent case for the clinicians at
/// once, with the clinic's notification, in the same transaction.
/// `Ok(Err)` names each bad field; `Ok(Ok(None))`: no such course.
pub async fn check_in(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    instrument: Option<&str>,
    answers: &[Option<i64>],
    difficulty: Option<i64>,
    taken_at: Option<&str>,
) -> Outcome<CheckedIn> {
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    if instrument != Some("phq9") {
        errors.push(("instrument".into(), "must be phq9".into()));
    }
    let taken = match taken_at.map(str::parse::<Timestamp>) {
        None => Some(now),
        Some(Ok(t)) if t <= now => Some(t),
        Some(Ok(_)) => {
            errors.push(("taken_at".into(), "must not be in the future".into()));
            None
        }
        Some(Err(_)) => {
            errors.push(("taken_at".into(), "must be RFC 3339 with an offset".into()));
            None
        }
    };
    let responses =
        clinical::Responses::parse_repeat(clinical::InstrumentId::Phq9, answers, difficulty)
            .map_err(|problems| {
                for (field, problem) in problems {
                    let name = match field {
                        clinical::FieldError::Item(n) => format!("answers[{}]", n - 1),
                        clinical::FieldError::Difficulty => "difficulty".into(),
                    };
                    let what = match problem {
                        clinical::Problem::Missing => "is required",
                        clinical::Problem::OutOfRange => {
                            "is not one of the question's answers (0 to 3)"
                        }
                    };
                    errors.push((name, what.into()));
                }
            })
            .ok();
    let (Some(responses), Some(taken)) = (responses, taken) else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let score = responses.score();
    let uid = random_id();
    let answers_sealed = s.cipher.encrypt(
        &crate::crypto::Aad::row("tms_check_ins", "answers", &uid),
        responses.answers(),
    );
    let urgent = if score.self_harm_flag {
        Some(urgent_case(s, &course, now).await?)
    } else {
        None
    };
    let (id, urgent_case) = s
        .storage
        .add_check_in(
            NewCheckIn {
                uid,
                course_id,
                taken_at: taken,
                total: i64::from(score.total),
                self_harm_flag: score.self_harm_flag,
                answers_sealed,
                recorded_by: actor.user_id,
                created_at: now,
            },
            urgent,
            &s.cipher.audit_chain(),
            actor.did("record check-in", "tms_course", course_id, now),
        )
        .await?;
    if urgent_case.is_some() {
        s.mail_wake.notify_one();
    }
    Ok(Ok(Some(CheckedIn {
        id,
        total: score.total,
        self_harm_flag: score.self_harm_flag,
        urgent_case,
    })))
}

/// A course with its motor thresholds and check-ins.
#[derive(Debug, Clone)]
pub struct Course {
    pub record: CourseRecord,
    pub motor_thresholds: Vec<MotorThreshold>,
    /// In the order taken; the first is the baseline.
    pub check_ins: Vec<CheckInRecord>,
    pub progress: clinical::mbc::Progress,
    pub sessions_completed: usize,
    pub open_holds: Vec<crate::storage::tms::HoldRecord>,
    /// What needs someone's attention, most pressing first.
    pub alerts: Vec<&'static str>,
}

/// A motor threshold older than this is due to be determined again.
pub const MOTOR_THRESHOLD_VALID_DAYS: i64 = 7;

/// The course's alerts: `hold-open` (no session until a clinician clears
/// it), `motor-threshold-due` (none yet, or the latest older than a week,
/// on a course that takes sessions), `early-non-response`.
fn alerts(
    record: &CourseRecord,
    holds: usize,
    thresholds: &[MotorThreshold],
    progress: &clinical::mbc::Progress,
    now: Timestamp,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if holds > 0 {
        out.push("hold-open");
    }
    let takes_sessions = matches!(record.status.as_str(), "planned" | "active");
    let stale = thresholds.last().is_none_or(|m| {
        now.duration_since(m.determined_at)
            > jiff::SignedDuration::from_hours(24 * MOTOR_THRESHOLD_VALID_DAYS)
    });
    if takes_sessions && stale {
        out.push("motor-threshold-due");
    }
    if progress.early_non_response {
        out.push("early-non-response");
    }
    out
}

/// A course, the read recorded first.
pub async fn open(s: &Services, actor: &Actor, id: i64) -> Result<Option<Course>, Error> {
    let Some(record) = s.storage.course(id).await? else {
        return Ok(None);
    };
    crate::staff::audit::seen(s, actor.did("view", "tms_course", id, s.clock.now())).await?;
    let check_ins = s.storage.check_ins(id).await?;
    let sessions = s.storage.session_times(id).await?;
    // Each check-in with the number of sessions given before it was taken.
    let progress = clinical::mbc::progress(
        &check_ins
            .iter()
            .map(|c| clinical::mbc::CheckIn {
                total: c.total.clamp(0, 27) as u8,
                sessions_done: sessions.iter().filter(|t| **t < c.taken_at).count() as u32,
            })
            .collect::<Vec<_>>(),
        clinical::mbc::DEFAULT_EARLY_NON_RESPONSE_SESSION,
    );
    let motor_thresholds = s.storage.motor_thresholds(id).await?;
    let open_holds = s.storage.open_holds(id).await?;
    Ok(Some(Course {
        alerts: alerts(
            &record,
            open_holds.len(),
            &motor_thresholds,
            &progress,
            s.clock.now(),
        ),
        motor_thresholds,
        check_ins,
        progress,
        sessions_completed: sessions.len(),
        open_holds,
        record,
    }))
}
