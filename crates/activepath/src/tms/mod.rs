//! TMS treatment courses, without HTTP: starting a course for a patient on
//! a protocol (`clinical::protocol`), motor thresholds, sessions behind the
//! server's hard stops, PHQ-9 check-ins with response and remission
//! (`clinical::mbc`), insurance authorizations, the course's alerts
//! ([`alerts`]), check-ins the patient answers ([`links`]) and sessions
//! booked on the chair ([`schedule`]). Checks are made here, once, for the
//! portal and the API alike; every change and every read is in the audit
//! trail.

pub mod adverse_events;
mod alerts;
pub mod baseline;
pub mod holds;
pub mod links;
pub mod orders;
pub mod safety;
pub mod schedule;

use crate::app::Services;
use crate::crypto::random_id;
use crate::domain::day::{DateError, Window, parse_date};
use crate::staff::{Actor, Error, FieldErrors, Outcome, Permission, Role, allows};
use crate::storage::tms::{
    AuthorizationRecord, CheckInRecord, CourseRecord, MotorThreshold, NewAuthorization, NewCheckIn,
    NewCourse, NewMotorThreshold, SessionDetails, SessionRecord, UrgentCase,
};
use jiff::Timestamp;

/// What a course is started with, as typed.
#[derive(Debug, Clone, Default)]
pub struct CoursePlan {
    pub protocol: Option<String>,
    pub planned_sessions: Option<i64>,
    pub start_date: Option<String>,
    /// One of [`TARGETS`], and one of [`LOCALIZATIONS`]; both optional.
    pub target: Option<String>,
    pub localization: Option<String>,
    /// The course's physician's order, signed with it (clinicians start
    /// courses, so the caller is one).
    pub order: Option<orders::OrderForm>,
}

/// Every protocol a course may use: the built-in ones, then the clinic's
/// own (`[[tms.protocols]]`).
pub fn protocols(config: &crate::config::Tms) -> Vec<clinical::protocol::Protocol> {
    clinical::protocol::BUILT_IN
        .iter()
        .cloned()
        .chain(config.protocols.iter().map(|p| p.protocol()))
        .collect()
}

/// A protocol by its id, built in or the clinic's.
pub fn protocol(config: &crate::config::Tms, id: &str) -> Option<clinical::protocol::Protocol> {
    protocols(config).into_iter().find(|p| p.id == id)
}

/// Where the coil may be aimed.
pub const TARGETS: [&str; 5] = [
    "left-dlpfc",
    "right-dlpfc",
    "bilateral-dlpfc",
    "dmpfc",
    "other",
];

/// How the target was found.
pub const LOCALIZATIONS: [&str; 4] = ["beam-f3", "5-cm-rule", "neuronavigation", "other"];

/// `raw` as one of `allowed` (empty is none); a field error if it is not.
fn one_of(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    allowed: &[&'static str],
) -> Option<&'static str> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    let found = allowed.iter().copied().find(|a| *a == raw);
    if found.is_none() {
        errors.push((
            field.into(),
            format!("must be one of {}", allowed.join(", ")),
        ));
    }
    found
}

/// The most sessions a course may plan.
pub const MAX_SESSIONS: i64 = 200;

/// How far back a record of something given or measured may be dated:
/// a year covers entering a course's paper records late, and nothing a
/// course records happened before that.
const RECORDS_GO_BACK_DAYS: i64 = 366;

/// When something recorded on a course happened, as sent: RFC 3339 with an
/// offset (a local date and time is read in the clinic's zone), within the
/// last [`RECORDS_GO_BACK_DAYS`] days and not in the future.
fn happened_at(s: &Services, raw: &str) -> Result<Timestamp, String> {
    let now = s.clock.now();
    let tz = s.config.clinic.time_zone.tz();
    let days = Window::around(crate::time::date_in(now, tz), RECORDS_GO_BACK_DAYS, 0);
    match crate::domain::day::parse_instant(raw, tz, days) {
        Ok(t) if t <= now => Ok(t),
        Ok(_) => Err("must not be in the future".into()),
        Err(e @ DateError::Outside(..)) => Err(e.message()),
        Err(_) => Err("must be a date and time as RFC 3339 with an offset".into()),
    }
}

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
        Some(id) => match protocol(&s.config.tms, id) {
            Some(p) => Some(p),
            None => {
                let all = protocols(&s.config.tms);
                let ids: Vec<&str> = all.iter().map(|p| &*p.id).collect();
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
    let planned = match (plan.planned_sessions, &protocol) {
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
        Some(raw) => match parse_date(raw, Window::around(today, RECORDS_GO_BACK_DAYS, 366)) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(("start_date".into(), e.message()));
                None
            }
        },
    };
    let target = one_of(&mut errors, "target", plan.target.as_deref(), &TARGETS);
    let localization = one_of(
        &mut errors,
        "localization",
        plan.localization.as_deref(),
        &LOCALIZATIONS,
    );
    let order = match (&plan.order, &protocol) {
        (Some(form), Some(p)) => {
            orders::course_order(s, actor, form, &p.id, target, &mut errors).map(Some)
        }
        (Some(_), None) => None,
        (None, _) => Some(None),
    };
    let (Some(protocol), Some(planned), Some(start), Some(order)) =
        (protocol, planned, start, order)
    else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if s.storage.patient(patient_id).await?.is_none() {
        return Ok(Ok(None));
    }
    if let Some(message) = holds::serious_hold_elsewhere(s, patient_id, None).await? {
        return Ok(Err(vec![("hold".into(), message)]));
    }
    let now = s.clock.now();
    let course = NewCourse {
        uid: random_id(),
        patient_id,
        protocol: protocol.id.to_string(),
        planned_sessions: order.as_ref().map_or(planned, |o| o.planned_sessions),
        start_date: start.to_string(),
        target,
        localization,
        created_by: actor.user_id,
        created_at: now,
    };
    let created = actor.did("create", "tms_course", "", now);
    let id = match order {
        Some(order) => {
            let signed = actor.did("sign order", "tms_course", "", now);
            s.storage
                .add_course_with_order(course, order, &s.cipher.audit_chain(), created, signed)
                .await?
        }
        None => {
            s.storage
                .add_course(course, &s.cipher.audit_chain(), created)
                .await?
        }
    };
    Ok(Ok(Some(id)))
}

/// How a motor threshold may be found: with EMG, or by a visible twitch.
pub const THRESHOLD_METHODS: [&str; 2] = ["emg", "visual"];

/// A motor threshold as typed.
#[derive(Debug, Clone, Default)]
pub struct ThresholdLog {
    pub determined_at: Option<String>,
    pub percent_output: Option<i64>,
    /// One of [`THRESHOLD_METHODS`]; required.
    pub method: Option<String>,
    pub device: Option<String>,
    pub coil: Option<String>,
}

/// Records a motor threshold for course `course_id`: `percent_output` of
/// the device, determined at `determined_at` (not in the future), how
/// (`method`) and with what (`device`, `coil`). `Ok(Err)` names each bad
/// field; `Ok(Ok(None))`: no such course.
pub async fn record_motor_threshold(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    log: ThresholdLog,
) -> Outcome<i64> {
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    let (determined_at, percent_output) = (log.determined_at.as_deref(), log.percent_output);
    let at = match determined_at.map(|raw| happened_at(s, raw)) {
        Some(Ok(t)) => Some(t),
        Some(Err(problem)) => {
            errors.push(("determined_at".into(), problem));
            None
        }
        None => {
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
    let method = one_of(
        &mut errors,
        "method",
        log.method.as_deref(),
        &THRESHOLD_METHODS,
    );
    if method.is_none() && log.method.as_deref().is_none_or(|m| m.trim().is_empty()) {
        errors.push((
            "method".into(),
            format!("is required: one of {}", THRESHOLD_METHODS.join(", ")),
        ));
    }
    let device = optional_line(&mut errors, "device", log.device.as_deref(), 80);
    let coil = optional_line(&mut errors, "coil", log.coil.as_deref(), 80);
    let (Some(at), Some(percent), Some(method), true) = (at, percent, method, errors.is_empty())
    else {
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
                method,
                device,
                coil,
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
        mail: crate::mail::seal(&s.cipher, &mail),
    })
}

/// Side effects a session may record.
pub const SIDE_EFFECTS: [&str; 13] = [
    "headache",
    "scalp-discomfort",
    "dizziness",
    "nausea",
    "facial-twitching",
    "fainting",
    "seizure",
    "tinnitus-or-hearing-change",
    "mania-or-hypomania",
    "worse-mood",
    "suicidal-thoughts",
    "jaw-or-tooth-pain",
    "other",
];

/// Side effects that stop the course until a clinician clears it.
const SERIOUS: [&str; 2] = ["seizure", "fainting"];

/// The pre-session checklist: any "yes" stops the session until a
/// clinician has reviewed it; a "yes" to `suicidal_thoughts` also raises
/// the patient's safety flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checklist {
    pub medication_change: bool,
    pub sleep_loss: bool,
    /// Heavy drinking, or stopping alcohol or benzodiazepines suddenly,
    /// since the last session.
    pub alcohol: bool,
    pub new_implant: bool,
    pub pregnancy: bool,
    pub seizure: bool,
    /// Recreational drugs or stimulants.
    pub drugs_or_stimulants: bool,
    pub head_injury: bool,
    /// New or worse thoughts of suicide.
    pub suicidal_thoughts: bool,
    /// Signs of mania or hypomania.
    pub mania_signs: bool,
}

/// The checklist's questions, by their API names.
pub const CHECKLIST: [&str; 10] = [
    "medication_change",
    "sleep_loss",
    "alcohol",
    "new_implant",
    "pregnancy",
    "seizure",
    "drugs_or_stimulants",
    "head_injury",
    "suicidal_thoughts",
    "mania_signs",
];

impl Checklist {
    /// The questions answered "yes", by their API names.
    pub fn yes(&self) -> Vec<&'static str> {
        [
            (self.medication_change, "medication_change"),
            (self.sleep_loss, "sleep_loss"),
            (self.alcohol, "alcohol"),
            (self.new_implant, "new_implant"),
            (self.pregnancy, "pregnancy"),
            (self.seizure, "seizure"),
            (self.drugs_or_stimulants, "drugs_or_stimulants"),
            (self.head_injury, "head_injury"),
            (self.suicidal_thoughts, "suicidal_thoughts"),
            (self.mania_signs, "mania_signs"),
        ]
        .into_iter()
        .filter_map(|(yes, name)| yes.then_some(name))
        .collect()
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
    pub device: Option<String>,
    pub coil: Option<String>,
    pub trains: Option<i64>,
    /// Seconds, to a tenth.
    pub intertrain_interval_s: Option<f64>,
    pub duration_s: Option<i64>,
    /// Protocol deviations, in words (sealed when stored).
    pub deviations: Option<String>,
    /// Who gave the session, when not the person recording it.
    pub operator: Option<String>,
    /// Why a clinician gives more than the ordered intensity (clinicians
    /// only; see [`orders`]).
    pub intensity_deviation_reason: Option<String>,
    /// Earplugs were fitted for the patient: a required confirmation.
    pub earplugs: Option<bool>,
}

/// An optional line of text, at most `max` characters.
fn optional_line(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Option<String> {
    match crate::domain::single_line(raw.unwrap_or(""), max) {
        Ok(text) => Some(text),
        Err(crate::domain::TextError::Empty) => None,
        Err(_) => {
            errors.push((
                field.into(),
                format!("must be one line of at most {max} characters"),
            ));
            None
        }
    }
}

/// An optional whole number within `range`.
fn optional_number(
    errors: &mut FieldErrors,
    field: &str,
    raw: Option<i64>,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
) -> Option<i64> {
    let n = raw?;
    if range.contains(&n) {
        Some(n)
    } else {
        errors.push((
            field.into(),
            format!("must be {what}, {} to {}", range.start(), range.end()),
        ));
        None
    }
}

/// The session's parameters beyond intensity and pulses, checked.
fn session_details(
    s: &Services,
    errors: &mut FieldErrors,
    log: &SessionLog,
    uid: &str,
    actor: &Actor,
) -> SessionDetails {
    let device = optional_line(errors, "device", log.device.as_deref(), 80);
    let coil = optional_line(errors, "coil", log.coil.as_deref(), 80);
    let trains = optional_number(errors, "trains", log.trains, 0..=1000, "a number of trains");
    let interval = match log.intertrain_interval_s {
        None => None,
        Some(v) if v.is_finite() && (0.0..=120.0).contains(&v) => Some((v * 10.0).round() as i64),
        Some(_) => {
            errors.push((
                "intertrain_interval_s".into(),
                "must be seconds between trains, 0 to 120".into(),
            ));
            None
        }
    };
    let duration_s = optional_number(errors, "duration_s", log.duration_s, 0..=14_400, "seconds");
    let deviations = match crate::domain::multi_line(log.deviations.as_deref().unwrap_or(""), 2000)
    {
        Ok(text) => Some(text),
        Err(crate::domain::TextError::Empty) => None,
        Err(_) => {
            errors.push((
                "deviations".into(),
                "must be at most 2000 characters of text".into(),
            ));
            None
        }
    };
    SessionDetails {
        device,
        coil,
        trains,
        intertrain_interval_ds: interval,
        duration_s,
        deviations_sealed: deviations.map(|d| s.cipher.encrypt(&deviations_aad(uid), d.as_bytes())),
        operator: optional_line(errors, "operator", log.operator.as_deref(), 100)
            .or_else(|| Some(actor.label.clone())),
    }
}

/// What a session's deviations are sealed with: bound to the session.
fn deviations_aad(session_uid: &str) -> crate::crypto::Aad {
    crate::crypto::Aad::row("tms_sessions", "deviations", session_uid)
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
/// completed), its patient have no safety flag up ([`safety`]), have no
/// open hold, consent, a signed safety screen and a physician's order
/// ([`orders`]), a baseline PHQ-9 and a motor threshold, and the intensity
/// must be within the clinic's ceiling, and the dose within the order
/// (intensity, pulses, sessions a day, spacing); a "yes" on the
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
    let started = match log.started_at.as_deref().map(|raw| happened_at(s, raw)) {
        Some(Ok(t)) => Some(t),
        Some(Err(problem)) => {
            errors.push(("started_at".into(), problem));
            None
        }
        None => {
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
    let uid = random_id();
    let details = session_details(s, &mut errors, &log, &uid, actor);
    if log.checklist.is_none() {
        errors.push((
            "checklist".into(),
            format!("is required: {}, each true or false", CHECKLIST.join(", ")),
        ));
    }
    if log.earplugs != Some(true) {
        errors.push((
            "earplugs".into(),
            "must be true: fit earplugs for the patient before the session".into(),
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
    if let Some((field, message)) = safety::session_stop(s, &course).await? {
        return stop(field, message);
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
    if let Some(message) =
        holds::serious_hold_elsewhere(s, course.patient_id, Some(course_id)).await?
    {
        return stop("hold", message);
    }
    let order = match orders::before_session(s, course_id).await? {
        Ok(order) => order,
        Err((field, message)) => return stop(field, message),
    };
    if let Some(refused) = baseline::session_refusal(s, &course, started).await? {
        return Ok(refused);
    }
    let threshold = match holds::current_threshold(s, &course, started).await? {
        Ok(threshold) => threshold,
        Err(message) => return stop("motor_threshold", message),
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
    let dose = orders::Dose {
        course_id,
        session_uid: &uid,
        started,
        intensity,
        pulses,
        deviations: log.deviations.as_deref(),
        intensity_deviation_reason: log.intensity_deviation_reason.as_deref(),
    };
    let dose = match orders::check_dose(s, actor, &order, dose).await? {
        Ok(dose) => dose,
        Err((field, message)) => return stop(field, message),
    };
    let mut details = details;
    if let Some(sealed) = dose.deviations_sealed {
        details.deviations_sealed = Some(sealed);
    }
    let yes = checklist.yes();
    if !yes.is_empty() {
        // A "yes" to thoughts of suicide also raises the safety flag.
        let flag = checklist
            .suicidal_thoughts
            .then(|| safety::signal(&course, "checklist", started, None));
        let hold = s
            .storage
            .add_hold_raising_flag(
                course_id,
                crate::storage::tms::NewHold {
                    reason: "checklist",
                    checklist: yes,
                    urgent: urgent_case(s, &course, now).await?,
                },
                flag,
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
    let mania = effects.iter().any(|e| e == "mania-or-hypomania");
    let hold = if serious || mania {
        Some(crate::storage::tms::NewHold {
            reason: if serious { "adverse-event" } else { "mania" },
            checklist: Vec::new(),
            urgent: urgent_case(s, &course, now).await?,
        })
    } else {
        None
    };
    let safety_signal = if effects.iter().any(|e| e == "suicidal-thoughts") {
        let urgent = urgent_case(s, &course, now).await?;
        Some(safety::signal(
            &course,
            "side-effect",
            started,
            Some(urgent),
        ))
    } else {
        None
    };
    let signalled = safety_signal.is_some();
    let stored = s
        .storage
        .add_session(
            crate::storage::tms::NewSession {
                uid,
                details,
                course_id,
                started_at: started,
                motor_threshold_id: threshold.id,
                intensity_percent_mt: intensity,
                pulses,
                side_effects: effects,
                recorded_by: actor.user_id,
                created_at: now,
                spacing: Some(dose.spacing),
                safety_signal,
            },
            hold,
            &s.cipher.audit_chain(),
            actor.did("record session", "tms_course", course_id, now),
        )
        .await
        .map_err(Error::from);
    let (id, hold) = match stored {
        Ok(stored) => stored,
        Err(e) => match orders::spacing_after_conflict(s, &order, &dose.spacing, &e).await? {
            Some((field, message)) => return stop(field, message),
            None => return Err(e),
        },
    };
    if hold.is_some() || signalled {
        s.mail_wake.notify_one();
    }
    Ok(Ok(Some(SessionOutcome::Recorded { id, hold })))
}

/// A check-in recorded: its id, score, and the urgent case it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedIn {
    pub id: i64,
    pub total: u8,
    pub self_harm_flag: bool,
    pub urgent_case: Option<i64>,
}

/// Records a PHQ-9 check-in on course `course_id` (see [`baseline`] for
/// which one is the baseline, and the date rules: one dated before the
/// baseline needs `confirm_backdated`). Question 9 above 0 opens an urgent
/// case for the clinicians at once, with the clinic's notification, in the
/// same transaction. `Ok(Err)` names each bad field; `Ok(Ok(None))`: no
/// such course.
#[allow(clippy::too_many_arguments)]
pub async fn check_in(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    instrument: Option<&str>,
    answers: &[Option<i64>],
    difficulty: Option<i64>,
    taken_at: Option<&str>,
    confirm_backdated: bool,
) -> Outcome<CheckedIn> {
    let now = s.clock.now();
    let mut errors = FieldErrors::new();
    if instrument != Some("phq9") {
        errors.push(("instrument".into(), "must be phq9".into()));
    }
    let taken = match taken_at.map(|raw| happened_at(s, raw)) {
        None => Some(now),
        Some(Ok(t)) => Some(t),
        Some(Err(problem)) => {
            errors.push(("taken_at".into(), problem));
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
    let q9_above_0 = responses.as_ref().is_some_and(|r| r.score().self_harm_flag);
    let (Some(responses), Some(taken)) = (responses, taken) else {
        // Refused only for its date (not a time, in the future, more than
        // a year ago): question 9 above 0 still raises the flag.
        if q9_above_0
            && errors.iter().all(|(f, _)| f == "taken_at")
            && let Some(course) = s.storage.course(course_id).await?
        {
            safety::raise_for_refused_check_in(s, actor, &course).await?;
            for (_, message) in &mut errors {
                message.push_str(baseline::SELF_HARM_REFUSED);
            }
        }
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    let self_harm = responses.score().self_harm_flag;
    let problems =
        baseline::check_in_problems(s, &course, taken, confirm_backdated, self_harm).await?;
    if !problems.is_empty() {
        if self_harm {
            safety::raise_for_refused_check_in(s, actor, &course).await?;
        }
        return Ok(Err(problems));
    }
    let audit = actor.did("record check-in", "tms_course", course_id, now);
    let answered = Answered {
        source: "staff",
        recorded_by: actor.user_id,
        link: None,
    };
    Ok(Ok(Some(
        store_check_in(s, &course, &responses, taken, answered, audit).await?,
    )))
}

/// Who answered a check-in, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered {
    /// `staff`, `link` or `kiosk`.
    pub source: &'static str,
    pub recorded_by: Option<i64>,
    /// The check-in link it uses up.
    pub link: Option<i64>,
}

/// Stores a checked check-in on `course`, opening the urgent case when
/// question 9 is above 0. `Error::Storage(Conflict(LinkSpent))`: the link
/// was used or expired meanwhile, and nothing was stored.
pub(crate) async fn store_check_in(
    s: &Services,
    course: &CourseRecord,
    responses: &clinical::Responses,
    taken: Timestamp,
    answered: Answered,
    audit: crate::storage::audit::AuditEntry,
) -> Result<CheckedIn, Error> {
    let now = audit.at;
    let course_id = course.id;
    let score = responses.score();
    let uid = random_id();
    let answers_sealed = s.cipher.encrypt(
        &crate::crypto::Aad::row("tms_check_ins", "answers", &uid),
        responses.answers(),
    );
    let urgent = if score.self_harm_flag {
        Some(urgent_case(s, course, now).await?)
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
                source: answered.source,
                recorded_by: answered.recorded_by,
                created_at: now,
            },
            urgent,
            answered.link,
            &s.cipher.audit_chain(),
            audit,
        )
        .await?;
    if urgent_case.is_some() {
        s.mail_wake.notify_one();
    }
    Ok(CheckedIn {
        id,
        total: score.total,
        self_harm_flag: score.self_harm_flag,
        urgent_case,
    })
}

/// An authorization as shown: its number opened.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub record: AuthorizationRecord,
    pub number: String,
}

/// A course with everything recorded on it.
#[derive(Debug, Clone)]
pub struct Course {
    pub record: CourseRecord,
    pub motor_thresholds: Vec<MotorThreshold>,
    /// In the order taken.
    pub check_ins: Vec<CheckInRecord>,
    /// Which of `check_ins` is the baseline ([`baseline::baseline_index`]).
    pub baseline: Option<usize>,
    /// In the order given.
    pub sessions: Vec<SessionRecord>,
    pub progress: clinical::mbc::Progress,
    pub open_holds: Vec<crate::storage::tms::HoldRecord>,
    pub authorizations: Vec<Authorization>,
    /// What needs someone's attention, most pressing first.
    pub alerts: Vec<Alert>,
    /// The check-in now due, if one is.
    pub check_in_due: Option<CheckInDue>,
    /// Its sessions booked on the chair (cancelled and missed ones too),
    /// in time order.
    pub series: Vec<crate::storage::tms::SeriesRow>,
    /// Each session's protocol deviations as the reader may see them, in
    /// the order of `sessions` (whose sealed text is taken out: it is
    /// opened here or not at all).
    pub deviations: Vec<Deviations>,
}

/// A session's protocol deviations, as one reader may see them. Whoever
/// gives a session records them; only clinicians read them (they are an
/// input to a clinical judgement), and for anyone else they are never
/// opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deviations {
    /// None were recorded.
    None,
    /// Recorded, not opened: the reader is not a clinician.
    Withheld,
    /// The text, opened for a clinician.
    Text(String),
}

impl Deviations {
    /// Whether any were recorded.
    pub fn recorded(&self) -> bool {
        !matches!(self, Deviations::None)
    }

    /// The text, for a reader allowed to see it.
    pub fn text(&self) -> Option<&str> {
        match self {
            Deviations::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Takes each session's sealed deviations out of `sessions` and opens
/// them only when `may_read`.
fn deviations(
    s: &Services,
    sessions: &mut [SessionRecord],
    may_read: bool,
) -> Result<Vec<Deviations>, Error> {
    sessions
        .iter_mut()
        .map(|x| match x.details.deviations_sealed.take() {
            None => Ok(Deviations::None),
            Some(_) if !may_read => Ok(Deviations::Withheld),
            Some(sealed) => s
                .cipher
                .decrypt(&deviations_aad(&x.uid), &sealed)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(Deviations::Text)
                .ok_or_else(|| Error::Integrity(format!("session {}'s deviations", x.id))),
        })
        .collect()
}

pub use alerts::{Alert, CheckInDue};

/// Each check-in with the number of sessions given before it was taken,
/// measured from the check-in at `baseline`.
pub fn progress(
    check_ins: &[CheckInRecord],
    sessions: &[SessionRecord],
    baseline: Option<usize>,
    early_session: u32,
) -> clinical::mbc::Progress {
    clinical::mbc::progress_from(
        &check_ins
            .iter()
            .map(|c| clinical::mbc::CheckIn {
                total: c.total.clamp(0, 27) as u8,
                sessions_done: sessions
                    .iter()
                    .filter(|t| !baseline::by_minute(c.taken_at, t.started_at))
                    .count() as u32,
            })
            .collect::<Vec<_>>(),
        baseline,
        early_session,
    )
}

/// What an authorization's number is sealed with: bound to its row.
fn authorization_aad(uid: &str) -> crate::crypto::Aad {
    crate::crypto::Aad::row("tms_authorizations", "number", uid)
}

/// A course as `reader` may see it (the deviations' text to clinicians
/// only), the read recorded first.
pub async fn open(
    s: &Services,
    actor: &Actor,
    reader: Role,
    id: i64,
) -> Result<Option<Course>, Error> {
    let Some(record) = s.storage.course(id).await? else {
        return Ok(None);
    };
    crate::staff::audit::seen(s, actor.did("view", "tms_course", id, s.clock.now())).await?;
    let may_read = allows(reader, Permission::ReadDeviations);
    Ok(Some(load(s, record, may_read).await?))
}

/// A course that needs someone's attention, for the queue.
#[derive(Debug, Clone)]
pub struct Attention {
    pub course_id: i64,
    pub patient_id: i64,
    pub protocol: String,
    pub alerts: Vec<Alert>,
}

/// The courses that take sessions (or are paused) with at least one
/// alert, up to `limit` looked at, the read recorded once.
pub async fn needing_attention(
    s: &Services,
    actor: &Actor,
    limit: i64,
) -> Result<Vec<Attention>, Error> {
    let mut out = Vec::new();
    let taking: Vec<CourseRecord> = s
        .storage
        .recent_courses(limit)
        .await?
        .into_iter()
        .filter(|r| matches!(r.status.as_str(), "planned" | "active" | "paused"))
        .collect();
    for course in load_all(s, taking, false).await? {
        if !course.alerts.is_empty() {
            out.push(Attention {
                course_id: course.record.id,
                patient_id: course.record.patient_id,
                protocol: course.record.protocol.clone(),
                alerts: course.alerts,
            });
        }
    }
    crate::staff::audit::seen(
        s,
        actor.did(
            "list needing attention",
            "tms_course",
            out.len(),
            s.clock.now(),
        ),
    )
    .await?;
    Ok(out)
}

/// Everything recorded on a course, with its progress and alerts; the
/// deviations' text opened only when `may_read`.
async fn load(s: &Services, record: CourseRecord, may_read: bool) -> Result<Course, Error> {
    let mut one = load_all(s, vec![record], may_read).await?;
    Ok(one.remove(0))
}

/// [`load`] for several courses, in the same order: one query per table
/// for all of them, so a list costs the same handful of queries however
/// many courses it shows.
async fn load_all(
    s: &Services,
    records: Vec<CourseRecord>,
    may_read: bool,
) -> Result<Vec<Course>, Error> {
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let st = &s.storage;
    let mut check_ins = by_course(st.check_ins_of(&ids).await?);
    let mut sessions = by_course(st.sessions_of(&ids).await?);
    let mut motor_thresholds = by_course(st.motor_thresholds_of(&ids).await?);
    let mut open_holds = by_course(st.open_holds_of(&ids).await?);
    let mut authorizations = by_course(st.authorizations_of(&ids).await?);
    let mut series = by_course(st.series_of(&ids).await?);
    let medication_changes = st.last_medication_changes(&ids).await?;
    // A seizure or fainting on any of the patient's courses.
    let mut patients: Vec<i64> = records.iter().map(|r| r.patient_id).collect();
    patients.sort_unstable();
    patients.dedup();
    let seizures = st.last_seizures_or_faintings_of_patients(&patients).await?;
    let now = s.clock.now();
    records
        .into_iter()
        .map(|record| {
            let id = record.id;
            let check_ins = check_ins.remove(&id).unwrap_or_default();
            let mut sessions = sessions.remove(&id).unwrap_or_default();
            let deviations = deviations(s, &mut sessions, may_read)?;
            let motor_thresholds = motor_thresholds.remove(&id).unwrap_or_default();
            let open_holds = open_holds.remove(&id).unwrap_or_default();
            let series = series.remove(&id).unwrap_or_default();
            let authorizations = authorizations
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|a| {
                    let number = s
                        .cipher
                        .decrypt(&authorization_aad(&a.uid), &a.number_sealed)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| Error::Integrity(format!("authorization {}", a.id)))?;
                    Ok(Authorization { record: a, number })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let baseline = baseline::baseline_index(
                &check_ins,
                sessions.first().map(|x| x.started_at),
                now,
                s.config.clinic.time_zone.tz(),
                s.config.tms.baseline_valid_days,
            );
            let progress = progress(
                &check_ins,
                &sessions,
                baseline,
                s.config.tms.early_non_response_session,
            );
            let facts = alerts::Facts {
                missed_in_a_row: schedule::missed_in_a_row(&series, now),
                course: &record,
                holds: open_holds.len(),
                motor_thresholds: &motor_thresholds,
                medication_change: medication_changes.get(&id).copied(),
                seizure: seizures.get(&record.patient_id).copied(),
                sessions: &sessions,
                check_ins: &check_ins,
                baseline,
                authorizations: &authorizations,
                progress: &progress,
                now,
                tz: s.config.clinic.time_zone.tz(),
                config: &s.config.tms,
            };
            let (alerts, check_in_due) = (facts.alerts(), facts.check_in_due());
            Ok(Course {
                series,
                deviations,
                alerts,
                check_in_due,
                motor_thresholds,
                check_ins,
                baseline,
                sessions,
                progress,
                open_holds,
                authorizations,
                record,
            })
        })
        .collect()
}

/// Rows tagged with their course's id, gathered per course (in order).
fn by_course<T>(rows: Vec<(i64, T)>) -> std::collections::HashMap<i64, Vec<T>> {
    let mut out: std::collections::HashMap<i64, Vec<T>> = std::collections::HashMap::new();
    for (course, row) in rows {
        out.entry(course).or_default().push(row);
    }
    out
}

/// An authorization as typed.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationForm {
    pub payer: Option<String>,
    pub number: Option<String>,
    pub sessions_authorized: Option<i64>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// The authorization this one extends.
    pub extends: Option<i64>,
}

/// Records an insurance authorization (or an extension of one) for a
/// course. `Ok(Err)` names each bad field; `Ok(Ok(None))`: no such course.
pub async fn add_authorization(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    form: AuthorizationForm,
) -> Outcome<i64> {
    let mut errors = FieldErrors::new();
    let mut required_line = |field: &str, raw: Option<&str>, max: usize| {
        let line = optional_line(&mut errors, field, raw, max);
        if line.is_none() && raw.is_none_or(|r| r.trim().is_empty()) {
            errors.push((field.into(), "is required".into()));
        }
        line
    };
    let payer = required_line("payer", form.payer.as_deref(), 120);
    let number = required_line("number", form.number.as_deref(), 60);
    let sessions = match form.sessions_authorized {
        Some(n) if (1..=MAX_SESSIONS).contains(&n) => Some(n),
        _ => {
            errors.push((
                "sessions_authorized".into(),
                format!("is required: 1 to {MAX_SESSIONS}"),
            ));
            None
        }
    };
    let today = crate::time::date_in(s.clock.now(), s.config.clinic.time_zone.tz());
    // An authorization covers a course: from a year back to two ahead.
    let covers = Window::around(today, RECORDS_GO_BACK_DAYS, 2 * 366);
    let mut date = |field: &str, raw: Option<&str>| match raw.map(str::trim) {
        Some(r) if !r.is_empty() => match parse_date(r, covers) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push((field.into(), e.message()));
                None
            }
        },
        _ => {
            errors.push((field.into(), "is required, as YYYY-MM-DD".into()));
            None
        }
    };
    let from = date("valid_from", form.valid_from.as_deref());
    let to = date("valid_to", form.valid_to.as_deref());
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        errors.push(("valid_to".into(), "must not be before valid_from".into()));
    }
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    if let Some(extends) = form.extends
        && !s
            .storage
            .authorizations(course.id)
            .await?
            .iter()
            .any(|a| a.id == extends)
    {
        errors.push((
            "extends".into(),
            "must be an authorization of this course".into(),
        ));
    }
    let (Some(payer), Some(number), Some(sessions), Some(from), Some(to), true) =
        (payer, number, sessions, from, to, errors.is_empty())
    else {
        return Ok(Err(errors));
    };
    let now = s.clock.now();
    let uid = random_id();
    let id = s
        .storage
        .add_authorization(
            NewAuthorization {
                number_sealed: s
                    .cipher
                    .encrypt(&authorization_aad(&uid), number.as_bytes()),
                uid,
                course_id,
                payer,
                sessions_authorized: sessions,
                valid_from: from.to_string(),
                valid_to: to.to_string(),
                extends_id: form.extends,
                created_by: actor.user_id,
                created_at: now,
            },
            &s.cipher.audit_chain(),
            actor.did("record authorization", "tms_course", course_id, now),
        )
        .await?;
    Ok(Ok(Some(id)))
}
