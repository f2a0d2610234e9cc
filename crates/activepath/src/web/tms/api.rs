//! `POST /api/v1/staff/patients/{id}/courses`,
//! `POST /api/v1/staff/courses/{id}/motor-thresholds` and
//! `GET /api/v1/staff/courses/{id}`: the same checks and audit trail as the
//! portal will use (`crate::tms`).

use crate::app::AppState;
use crate::time::rfc3339;
use crate::tms::{self, CoursePlan};
use crate::web::ApiError;
use crate::web::errors::Problem;
use crate::web::json;
use crate::web::staff::api::{Created, created, failed};
use crate::web::staff::{
    Allowed, ManageAuthorizations, ManageCourses, ManageSchedule, RecordTreatment, SeeCourses,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A course to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourse {
    /// `10hz`, `itbs`, `accelerated-itbs` or `custom`.
    pub protocol: Option<String>,
    /// 1 to 200; the protocol's usual number (36, or 50 for accelerated iTBS) when left out.
    pub planned_sessions: Option<i64>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<String>,
    /// Where the coil is aimed: `left-dlpfc`, `right-dlpfc`,
    /// `bilateral-dlpfc`, `dmpfc` or `other`.
    pub target: Option<String>,
    /// How the target was found: `beam-f3`, `5-cm-rule`,
    /// `neuronavigation` or `other`.
    pub localization: Option<String>,
    /// The physician's order, signed by the caller with the course (same
    /// fields as `POST /api/v1/staff/courses/{id}/order`; its
    /// `planned_sessions` is the course's).
    pub order: Option<super::orders::NewOrder>,
}

/// `POST /api/v1/staff/patients/{id}/courses`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/patients/{id}/courses",
    tag = "tms",
    summary = "Start a TMS course for a patient",
    params(("id" = i64, Path, description = "The patient's id")),
    request_body = NewCourse,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Started, in status planned (with its signed order when one was sent); recorded in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians start courses"),
        (status = 404, description = "No patient with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named. Field `hold`: another course of the patient is on a hold only a medical director may clear", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(patient_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The course has mistakes";
    json::require_json(&headers, "Send the course as application/json")?;
    let request: NewCourse = json::read(
        &body,
        INVALID,
        "must be a JSON object with protocol, planned_sessions and start_date",
    )?;
    let plan = CoursePlan {
        protocol: request.protocol,
        planned_sessions: request.planned_sessions,
        start_date: request.start_date,
        target: request.target,
        localization: request.localization,
        order: request.order.map(super::orders::NewOrder::form),
    };
    created(
        tms::start_course(&state, &who.actor, patient_id, plan).await,
        "No patient with that id",
        INVALID,
    )
}

/// A motor threshold determined for a course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMotorThreshold {
    /// When it was determined: RFC 3339 with an offset, not in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub determined_at: Option<String>,
    /// The device's output that evoked the motor response, 1 to 100 (%).
    pub percent_output: Option<i64>,
    /// How it was found: `emg` or `visual` (required).
    #[schema(required = true, value_type = String)]
    pub method: Option<String>,
    /// The device, as the clinic names it (one line, at most 80 characters).
    pub device: Option<String>,
    /// The coil (one line, at most 80 characters).
    pub coil: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/motor-thresholds`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/motor-thresholds",
    tag = "tms",
    summary = "Record a motor threshold for a course",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewMotorThreshold,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded; in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and technicians record treatment"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn motor_threshold(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The motor threshold has mistakes";
    json::require_json(&headers, "Send the motor threshold as application/json")?;
    let request: NewMotorThreshold = json::read(
        &body,
        INVALID,
        "must be a JSON object with determined_at, percent_output and method",
    )?;
    let log = tms::ThresholdLog {
        determined_at: request.determined_at,
        percent_output: request.percent_output,
        method: request.method,
        device: request.device,
        coil: request.coil,
    };
    created(
        tms::record_motor_threshold(&state, &who.actor, course_id, log).await,
        "No course with that id",
        INVALID,
    )
}

/// The pre-session checklist, every question required: any `true` stops
/// the session until a clinician has reviewed it (a hold with an urgent
/// case); `suicidal_thoughts` also raises the patient's safety flag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistAnswers {
    /// Any medicine started, stopped or changed since the last session.
    pub medication_change: bool,
    /// Much less sleep than usual.
    pub sleep_loss: bool,
    /// Heavy drinking, or stopping alcohol or benzodiazepines suddenly,
    /// since the last session.
    pub alcohol: bool,
    /// New implants or metal in the head or neck.
    pub new_implant: bool,
    /// Pregnancy, or possible pregnancy.
    pub pregnancy: bool,
    /// A seizure or fainting since the last session.
    pub seizure: bool,
    /// Recreational drugs or stimulants since the last session.
    pub drugs_or_stimulants: bool,
    /// A head injury since the last session.
    pub head_injury: bool,
    /// New or worse thoughts of suicide: also raises the patient's safety
    /// flag (no session until a clinician's safety review).
    pub suicidal_thoughts: bool,
    /// Signs of mania or hypomania.
    pub mania_signs: bool,
}

/// A session as given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// RFC 3339 with an offset, not in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<String>,
    /// Intensity as a percentage of the motor threshold, at most the
    /// clinic's ceiling (`tms.max_intensity_percent_mt`, 120 by default).
    pub intensity_percent_mt: Option<i64>,
    /// Pulses delivered.
    pub pulses: Option<i64>,
    /// `none`, or any of `headache`, `scalp-discomfort`, `dizziness`,
    /// `nausea`, `facial-twitching`, `fainting`, `seizure`,
    /// `tinnitus-or-hearing-change`, `mania-or-hypomania`, `worse-mood`,
    /// `suicidal-thoughts`, `jaw-or-tooth-pain`, `other`. A seizure or
    /// fainting opens an urgent case and a hold (`adverse-event`);
    /// `mania-or-hypomania` a hold (`mania`) for a clinician;
    /// `suicidal-thoughts` an urgent case and the patient's safety flag.
    #[serde(default)]
    pub side_effects: Vec<String>,
    /// Required: every question answered.
    pub checklist: Option<ChecklistAnswers>,
    /// Required, `true`: earplugs were fitted for the patient.
    pub earplugs: Option<bool>,
    /// The device, as the clinic names it.
    pub device: Option<String>,
    pub coil: Option<String>,
    /// Trains given.
    pub trains: Option<i64>,
    /// Seconds between trains (to a tenth).
    pub intertrain_interval_s: Option<f64>,
    /// The session's length in seconds.
    pub duration_s: Option<i64>,
    /// Protocol deviations, in words (stored encrypted).
    pub deviations: Option<String>,
    /// Who gave the session; the token's account when left out.
    pub operator: Option<String>,
    /// Why more than the ordered intensity is given: clinicians only; kept
    /// with the session's deviations (encrypted). Without it, an intensity
    /// above the order is refused.
    pub intensity_deviation_reason: Option<String>,
}

/// A session recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    pub id: i64,
    /// The hold a seizure or fainting opened: no further session until a
    /// clinician clears it.
    pub hold_id: Option<i64>,
}

/// `POST /api/v1/staff/courses/{id}/sessions`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/sessions",
    tag = "tms",
    summary = "Record a TMS session, after the server's hard stops",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewSession,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded; in the audit trail", body = SessionCreated),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and technicians record treatment"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong, or a hard stop refused the session: the error's field names the stop (course_status, safety_review — the patient's safety flag is up until a clinician's safety review —, hold, consent, safety_screen, order, baseline: no PHQ-9 within tms.baseline_valid_days before session 1, motor_threshold: none, or one determined before the last medication change or seizure or fainting, or more than tms.motor_threshold_valid_days days ago, intensity_percent_mt, pulses, spacing, intensity_deviation_reason, checklist), or started_at before the course's start date; a missing or false earplugs is named earplugs", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn session(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    const INVALID: &str = "The session has mistakes";
    json::require_json(&headers, "Send the session as application/json")?;
    let request: NewSession = json::read(
        &body,
        INVALID,
        "must be a JSON object with started_at, intensity_percent_mt, pulses, side_effects and checklist",
    )?;
    let log = tms::SessionLog {
        started_at: request.started_at,
        intensity_percent_mt: request.intensity_percent_mt,
        pulses: request.pulses,
        side_effects: request.side_effects,
        checklist: request.checklist.map(|c| tms::Checklist {
            medication_change: c.medication_change,
            sleep_loss: c.sleep_loss,
            alcohol: c.alcohol,
            new_implant: c.new_implant,
            pregnancy: c.pregnancy,
            seizure: c.seizure,
            drugs_or_stimulants: c.drugs_or_stimulants,
            head_injury: c.head_injury,
            suicidal_thoughts: c.suicidal_thoughts,
            mania_signs: c.mania_signs,
        }),
        earplugs: request.earplugs,
        device: request.device,
        coil: request.coil,
        trains: request.trains,
        intertrain_interval_s: request.intertrain_interval_s,
        duration_s: request.duration_s,
        deviations: request.deviations,
        operator: request.operator,
        intensity_deviation_reason: request.intensity_deviation_reason,
    };
    match tms::record_session(&state, &who.actor, course_id, log)
        .await
        .map_err(failed)?
    {
        Ok(Some(tms::SessionOutcome::Recorded { id, hold })) => Ok((
            StatusCode::CREATED,
            Json(SessionCreated { id, hold_id: hold }),
        )),
        Ok(Some(tms::SessionOutcome::Stopped { stop, message, .. })) => Err(ApiError::invalid(
            "A hard stop: this session may not be given",
            vec![(stop.to_string(), message)],
        )),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No course with that id",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

/// What the clinician reviewed before clearing a hold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearHold {
    /// What was reviewed and why sessions may go on (required; at most
    /// 2000 characters; stored encrypted, shown to clinicians on the course
    /// page with who cleared it and when).
    #[schema(required = true, value_type = String)]
    pub note: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/holds/{hold}/clear`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/holds/{hold}/clear",
    tag = "tms",
    summary = "Clear a course's hold after a clinician's review, with a note",
    description = "A hold opened by a seizure, fainting or other serious adverse event (reason adverse-event, or a checklist \"yes\" to seizure) may be cleared only by an account with the medical-director mark.",
    params(
        ("id" = i64, Path, description = "The course's id"),
        ("hold" = i64, Path, description = "The hold's id"),
    ),
    request_body = ClearHold,
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Cleared; in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians clear holds, and only a medical director one opened by a seizure, fainting or other serious adverse event (the problem's title says which)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open hold on that course", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No note, or one too long (field note)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn clear_hold(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path((course_id, hold_id)): Path<(i64, i64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The hold could not be cleared";
    // No body at all is a missing note; a body must be JSON.
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        json::require_json(&headers, "Send the note as application/json")?;
        json::read::<ClearHold>(&body, INVALID, "must be a JSON object with note")?.note
    };
    match tms::holds::clear_hold(
        &state,
        &who.user,
        &who.actor,
        course_id,
        hold_id,
        note.as_deref(),
    )
    .await
    .map_err(failed)?
    {
        tms::holds::Cleared::Done(id) => Ok((StatusCode::OK, Json(Created { id }))),
        tms::holds::Cleared::NotFound => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No such open hold on that course",
        )),
        tms::holds::Cleared::Invalid(errors) => Err(ApiError::invalid(INVALID, errors)),
        tms::holds::Cleared::Forbidden(why) => Err(ApiError::new(StatusCode::FORBIDDEN, why)),
    }
}

/// A change of a course's status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// From `planned`: `active` or `stopped`; from `active`: `paused`,
    /// `completed` or `stopped`; from `paused`: `active` or `stopped`.
    pub status: Option<String>,
    /// To stop: `patient-choice`, `side-effects`, `adverse-event`,
    /// `no-response`, `coverage` or `other`.
    pub stop_reason: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/status`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/status",
    tag = "tms",
    summary = "Start, pause, complete or stop a TMS course",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = StatusChange,
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Changed; in the audit trail. The body names the course", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians change a course"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A change the course's status does not allow, or a missing reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn status(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The course's status cannot change that way";
    json::require_json(&headers, "Send the change as application/json")?;
    let request: StatusChange = json::read(
        &body,
        INVALID,
        "must be a JSON object with status (and stop_reason to stop)",
    )?;
    created(
        tms::set_status(
            &state,
            &who.actor,
            course_id,
            request.status.as_deref(),
            request.stop_reason.as_deref(),
        )
        .await,
        "No course with that id",
        INVALID,
    )
    .map(|(_, body)| (StatusCode::OK, body))
}

/// A PHQ-9 check-in. The baseline is the latest taken before session 1
/// and within `tms.baseline_valid_days` (14) days of it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheckIn {
    /// `phq9`.
    pub instrument: Option<String>,
    /// The nine answers in item order, each 0 to 3.
    pub answers: Option<Vec<Option<i64>>>,
    /// The question about daily life (0 to 3); may be left out.
    pub difficulty: Option<i64>,
    /// When it was taken: RFC 3339 with an offset; now when left out. Not
    /// in the future, nor more than `tms.baseline_valid_days` days before
    /// the course's start date.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub taken_at: Option<String>,
    /// `true` to record a check-in dated before the baseline, or before
    /// the first session once sessions were given (it may change the
    /// baseline); without it such a check-in is refused (422
    /// `confirm_backdated`, saying what it would change).
    #[serde(default)]
    pub confirm_backdated: bool,
}

/// A check-in recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInCreated {
    pub id: i64,
    pub total: u8,
    /// Question 9 answered above 0.
    pub self_harm_flag: bool,
    /// The urgent case opened for the clinicians when `self_harm_flag` is
    /// true: the patient needs the same safety message as on the public
    /// site (call or text 988; 911 in an emergency) and a clinician now.
    pub urgent_case_id: Option<i64>,
}

/// `POST /api/v1/staff/courses/{id}/check-ins`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/check-ins",
    tag = "tms",
    summary = "Record a PHQ-9 check-in on a course",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewCheckIn,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded; question 9 above 0 opened an urgent case and raised the patient's safety flag (no session on any of their courses until a clinician's safety review)", body = CheckInCreated),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and technicians record treatment"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named (taken_at in the future or too long before the course's start date; confirm_backdated for one dated before the baseline)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check_in(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CheckInCreated>), ApiError> {
    const INVALID: &str = "The check-in has mistakes";
    json::require_json(&headers, "Send the check-in as application/json")?;
    let request: NewCheckIn = json::read(
        &body,
        INVALID,
        "must be a JSON object with instrument, answers and taken_at",
    )?;
    match tms::check_in(
        &state,
        &who.actor,
        course_id,
        request.instrument.as_deref(),
        request.answers.as_deref().unwrap_or_default(),
        request.difficulty,
        request.taken_at.as_deref(),
        request.confirm_backdated,
    )
    .await
    .map_err(failed)?
    {
        Ok(Some(c)) => Ok((
            StatusCode::CREATED,
            Json(CheckInCreated {
                id: c.id,
                total: c.total,
                self_harm_flag: c.self_harm_flag,
                urgent_case_id: c.urgent_case,
            }),
        )),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No course with that id",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MotorThresholdView {
    pub determined_at: String,
    pub percent_output: i64,
    /// `emg` or `visual`; null for thresholds recorded before it was asked.
    pub method: Option<String>,
    pub device: Option<String>,
    pub coil: Option<String>,
}

/// A course's plan and status.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseView {
    pub id: i64,
    pub patient_id: i64,
    pub protocol: String,
    pub protocol_name: String,
    pub planned_sessions: i64,
    pub start_date: String,
    /// `planned`, `active`, `paused`, `completed` or `stopped`.
    pub status: String,
    /// Why it stopped early, when `stopped`.
    pub stop_reason: Option<String>,
    pub created_at: String,
    /// Oldest first.
    pub motor_thresholds: Vec<MotorThresholdView>,
    /// The baseline's PHQ-9 total: the latest check-in taken before
    /// session 1 and within `tms.baseline_valid_days` (14) days of it
    /// (before session 1, of now); `null` when none counts.
    pub baseline_total: Option<u8>,
    /// The latest check-in's total, once there is one after the baseline.
    pub latest_total: Option<u8>,
    /// From baseline to latest; negative is fewer symptoms (−50.0 halves them).
    pub percent_change: Option<f64>,
    /// `remission` (latest below 5), `response` (at least 50% lower),
    /// `partial-response` (25–49%), `non-response` (under 25%), or
    /// `insufficient-data` (no follow-up yet, or a baseline below 10, for
    /// which these measures are not defined).
    pub category: &'static str,
    /// Why the category is `insufficient-data`: `no-follow-up`,
    /// `baseline-below-10` or `no-baseline` (none counts); `null` for
    /// any other category.
    pub category_reason: Option<&'static str>,
    /// The latest PHQ-9 is at least 5 points (the minimal important
    /// change) above the baseline or above the check-in before it.
    pub worsening: bool,
    /// At least 5 points fewer than the baseline.
    pub minimal_important_improvement: bool,
    /// Under 25% better at the latest check-in taken after 20 or more sessions.
    pub early_non_response: bool,
    pub check_ins: Vec<CheckInView>,
    pub sessions_completed: usize,
    /// Holds that stop further sessions until a clinician clears them.
    pub open_holds: Vec<HoldView>,
    /// What needs attention, most pressing first: `worsening`, `hold-open`,
    /// `motor-threshold-due` (none yet, the latest older than
    /// `tms.motor_threshold_valid_days` (7), or older than the last
    /// medication change or seizure or fainting), `sessions-beyond-authorization`,
    /// `authorization-expired`, `authorization-running-out`, `check-in-due`,
    /// `early-non-response`.
    pub alerts: Vec<&'static str>,
    pub target: Option<String>,
    pub localization: Option<String>,
    /// The check-in now due: `baseline`, `weekly`, `session-N`,
    /// `end-of-course` or `follow-up-N-months`.
    pub check_in_due: Option<String>,
    pub authorizations: Vec<AuthorizationView>,
    /// In the order given.
    pub sessions: Vec<SessionView>,
    /// Its sessions booked on the TMS chair, in time order.
    pub schedule: Vec<BookedSessionView>,
    /// Consent, the safety screen and the physician's order.
    pub before_sessions: super::orders::BeforeSessionsView,
    /// The patient's safety flag: `null`, or since when and why. While it
    /// is up no session is given (422 `safety_review`).
    pub safety_flag: Option<super::safety::SafetyFlagView>,
    /// The patient's safety reviews, oldest first.
    pub safety_reviews: Vec<super::safety::SafetyReviewView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookedSessionView {
    /// The appointment's id.
    pub id: i64,
    pub start: String,
    pub end: String,
    /// `booked`, `missed` or `cancelled`.
    pub status: &'static str,
    /// The missed session this one makes up for.
    pub makeup_of: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationView {
    pub id: i64,
    pub payer: String,
    pub number: String,
    pub sessions_authorized: i64,
    /// `YYYY-MM-DD`, both days included.
    pub valid_from: String,
    pub valid_to: String,
    /// The authorization this one extends.
    pub extends: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub started_at: String,
    pub intensity_percent_mt: i64,
    pub pulses: i64,
    pub side_effects: Vec<String>,
    /// The motor threshold (device output, %) the session was given at.
    pub motor_threshold_percent_output: i64,
    pub device: Option<String>,
    pub coil: Option<String>,
    pub trains: Option<i64>,
    pub intertrain_interval_s: Option<f64>,
    pub duration_s: Option<i64>,
    /// Deviations are recorded.
    pub has_deviations: bool,
    /// The deviations' text: to clinicians only (`null` for anyone else,
    /// and when none were recorded).
    pub deviations: Option<String>,
    pub operator: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoldView {
    pub id: i64,
    /// `checklist`, `adverse-event` or `mania`.
    pub reason: String,
    pub opened_at: String,
    /// The urgent case that told the clinicians.
    pub case_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInView {
    pub taken_at: String,
    pub total: i64,
    pub self_harm_flag: bool,
    /// `staff` (entered by staff), `link` (by the e-mailed link) or
    /// `kiosk` (on the clinic's tablet).
    pub source: String,
}

/// `GET /api/v1/staff/courses/{id}` (each read is audited).
#[utoipa::path(
    get,
    path = "/api/v1/staff/courses/{id}",
    tag = "tms",
    summary = "A TMS course: its plan, status and motor thresholds",
    params(("id" = i64, Path, description = "The course's id")),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "The course; the read is recorded in the audit trail", body = CourseView),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not see courses"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn course(
    Allowed(who, _): Allowed<SeeCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CourseView>, ApiError> {
    let c = tms::open(&state, &who.actor, who.user.role, id)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No course with that id"))?;
    let before_sessions = super::orders::before_sessions(&state, id, who.user.role).await?;
    let r = c.record;
    let (safety_flag, safety_reviews) = super::safety::views(&state, &who, r.patient_id).await?;
    Ok(Json(CourseView {
        before_sessions,
        safety_flag,
        safety_reviews,
        id: r.id,
        patient_id: r.patient_id,
        protocol_name: tms::protocol(&state.config.tms, &r.protocol)
            .map_or_else(|| r.protocol.clone(), |p| p.name.to_string()),
        protocol: r.protocol,
        planned_sessions: r.planned_sessions,
        start_date: r.start_date,
        status: r.status,
        stop_reason: r.stop_reason,
        created_at: rfc3339(r.created_at),
        motor_thresholds: c
            .motor_thresholds
            .iter()
            .map(|m| MotorThresholdView {
                determined_at: rfc3339(m.determined_at),
                percent_output: m.percent_output,
                method: m.method.clone(),
                device: m.device.clone(),
                coil: m.coil.clone(),
            })
            .collect(),
        baseline_total: c.progress.baseline,
        latest_total: c.progress.latest,
        percent_change: c.progress.percent_change.map(|p| (p * 10.0).round() / 10.0),
        category: c.progress.category.as_str(),
        category_reason: c.progress.category_reason.map(|r| r.as_str()),
        worsening: c.progress.worsening,
        minimal_important_improvement: c.progress.minimal_important_improvement,
        early_non_response: c.progress.early_non_response,
        sessions_completed: c.sessions.len(),
        target: r.target.clone(),
        localization: r.localization.clone(),
        check_in_due: c.check_in_due.map(|d| d.name()),
        authorizations: c
            .authorizations
            .iter()
            .map(|a| AuthorizationView {
                id: a.record.id,
                payer: a.record.payer.clone(),
                number: a.number.clone(),
                sessions_authorized: a.record.sessions_authorized,
                valid_from: a.record.valid_from.clone(),
                valid_to: a.record.valid_to.clone(),
                extends: a.record.extends_id,
            })
            .collect(),
        schedule: c
            .series
            .iter()
            .map(|x| BookedSessionView {
                id: x.appointment.id,
                start: rfc3339(x.appointment.starts_at),
                end: rfc3339(x.appointment.ends_at),
                status: if x.missed_at.is_some() {
                    "missed"
                } else if x.appointment.status == "cancelled" {
                    "cancelled"
                } else {
                    "booked"
                },
                makeup_of: x.makeup_of,
            })
            .collect(),
        sessions: c
            .sessions
            .iter()
            .zip(&c.deviations)
            .map(|(x, deviations)| SessionView {
                id: x.id,
                started_at: rfc3339(x.started_at),
                intensity_percent_mt: x.intensity_percent_mt,
                pulses: x.pulses,
                side_effects: x.side_effects.clone(),
                motor_threshold_percent_output: x.motor_threshold,
                device: x.details.device.clone(),
                coil: x.details.coil.clone(),
                trains: x.details.trains,
                intertrain_interval_s: x.details.intertrain_interval_ds.map(|d| d as f64 / 10.0),
                duration_s: x.details.duration_s,
                has_deviations: deviations.recorded(),
                deviations: deviations.text().map(str::to_string),
                operator: x.details.operator.clone(),
            })
            .collect(),
        alerts: c.alerts.clone(),
        open_holds: c
            .open_holds
            .iter()
            .map(|h| HoldView {
                id: h.id,
                reason: h.reason.clone(),
                opened_at: rfc3339(h.opened_at),
                case_id: h.case_id,
            })
            .collect(),
        check_ins: c
            .check_ins
            .iter()
            .map(|x| CheckInView {
                taken_at: rfc3339(x.taken_at),
                total: x.total,
                self_harm_flag: x.self_harm_flag,
                source: x.source.clone(),
            })
            .collect(),
    }))
}

/// An insurance authorization for a course, or an extension of one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorization {
    /// The payer's name.
    pub payer: Option<String>,
    /// The payer's authorization number (stored encrypted).
    pub number: Option<String>,
    /// 1 to 200.
    pub sessions_authorized: Option<i64>,
    /// `YYYY-MM-DD`; both days included.
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_from: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<String>,
    /// The id of the authorization this one extends.
    pub extends: Option<i64>,
}

/// `POST /api/v1/staff/courses/{id}/authorizations`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/authorizations",
    tag = "tms",
    summary = "Record an insurance authorization (or an extension) for a course",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewAuthorization,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded; in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and coordinators record authorizations"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn authorization(
    Allowed(who, _): Allowed<ManageAuthorizations>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The authorization has mistakes";
    json::require_json(&headers, "Send the authorization as application/json")?;
    let r: NewAuthorization = json::read(
        &body,
        INVALID,
        "must be a JSON object with payer, number, sessions_authorized, valid_from and valid_to",
    )?;
    let form = tms::AuthorizationForm {
        payer: r.payer,
        number: r.number,
        sessions_authorized: r.sessions_authorized,
        valid_from: r.valid_from,
        valid_to: r.valid_to,
        extends: r.extends,
    };
    created(
        tms::add_authorization(&state, &who.actor, course_id, form).await,
        "No course with that id",
        INVALID,
    )
}

/// How a check-in reaches the patient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheckInLink {
    /// `email` (to the patient's address on record; the message names no
    /// health information) or `kiosk` (a link for the clinic's tablet,
    /// working for an hour).
    pub delivery: Option<String>,
}

/// A check-in link made.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInLinkCreated {
    /// The link to open on the tablet (`kiosk` only; an e-mailed link is
    /// never shown to staff).
    pub url: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/check-in-links`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/check-in-links",
    tag = "tms",
    summary = "Send a patient a single-use PHQ-9 check-in (e-mail or the clinic's tablet)",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewCheckInLink,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Made (and e-mailed); in the audit trail", body = CheckInLinkCreated),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and technicians record treatment"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong delivery, no e-mail address on record, or a course that takes no check-ins", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check_in_link(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<CheckInLinkCreated>), ApiError> {
    const INVALID: &str = "The check-in link cannot be made";
    json::require_json(&headers, "Send the request as application/json")?;
    let r: NewCheckInLink = json::read(&body, INVALID, "must be a JSON object with delivery")?;
    let delivery = match r.delivery.as_deref() {
        Some("email") => tms::links::Delivery::Email,
        Some("kiosk") => tms::links::Delivery::Kiosk,
        _ => {
            return Err(ApiError::invalid(
                INVALID,
                vec![("delivery".into(), "must be email or kiosk".into())],
            ));
        }
    };
    match tms::links::create(&state, &who.actor, course_id, delivery)
        .await
        .map_err(failed)?
    {
        Ok(Some(token)) => Ok((
            StatusCode::CREATED,
            Json(CheckInLinkCreated {
                url: (delivery == tms::links::Delivery::Kiosk)
                    .then(|| state.config.clinic.base_url.join(&tms::links::path(&token))),
            }),
        )),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No course with that id",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

/// A session that cannot be booked or moved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictJson {
    /// The session's number in the course.
    pub number: usize,
    pub start: String,
    /// `taken` or `not-offered`.
    pub reason: &'static str,
    /// The nearest free times (starts), nearest first.
    pub alternatives: Vec<String>,
}

/// Sessions booked or changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledView {
    pub appointments: Vec<ScheduledSession>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledSession {
    pub id: i64,
    /// The new start (for a cancellation, when it was cancelled).
    pub start: String,
}

fn scheduled(
    outcome: crate::staff::Outcome<tms::schedule::Scheduled>,
    status: StatusCode,
    invalid: &str,
    missing: &str,
) -> Result<(StatusCode, Json<ScheduledView>), ApiError> {
    match outcome.map_err(failed)? {
        Ok(Some(tms::schedule::Scheduled::Done(done))) => Ok((
            status,
            Json(ScheduledView {
                appointments: done
                    .into_iter()
                    .map(|(id, start)| ScheduledSession {
                        id,
                        start: rfc3339(start),
                    })
                    .collect(),
            }),
        )),
        Ok(Some(tms::schedule::Scheduled::Conflicts(conflicts))) => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "Some sessions cannot be booked at those times; nothing was changed",
            );
            e.conflicts = Some(
                serde_json::to_value(
                    conflicts
                        .iter()
                        .map(|c| ConflictJson {
                            number: c.number,
                            start: rfc3339(c.start),
                            reason: c.reason,
                            alternatives: c.alternatives.iter().map(|t| rfc3339(*t)).collect(),
                        })
                        .collect::<Vec<_>>(),
                )
                .expect("conflicts serialize"),
            );
            Err(e)
        }
        Ok(None) => Err(ApiError::new(StatusCode::NOT_FOUND, missing.to_string())),
        Err(errors) => Err(ApiError::invalid(invalid, errors)),
    }
}

/// A course's series to book.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// A location's slug; the first with TMS sessions when left out.
    pub location: Option<String>,
    /// The first session, `YYYY-MM-DDTHH:MM` in the location's time zone
    /// (or RFC 3339); the others follow on weekdays at the same clock time.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_start: Option<String>,
    /// Another clock time on some dates, e.g. an alternative offered:
    /// `{"2027-03-10": "11:00"}`.
    #[serde(default)]
    pub instead: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/staff/courses/{id}/schedule`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/schedule",
    tag = "tms",
    summary = "Book a course's remaining sessions on the TMS chair",
    description = "Weekdays at the same clock time from the first (a standard course of 36 tapers after 30: 3, 2 and 1 a week; accelerated protocols several a day). Every session is checked like a booking; all are booked or none.",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewSchedule,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Booked; in the audit trail", body = ScheduledView),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and coordinators book"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Some times cannot be had: each with the nearest free times (conflicts); nothing was booked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn schedule(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ScheduledView>), ApiError> {
    const INVALID: &str = "The schedule has mistakes";
    json::require_json(&headers, "Send the schedule as application/json")?;
    let r: NewSchedule = json::read(
        &body,
        INVALID,
        "must be a JSON object with location, first_start and instead",
    )?;
    let plan = tms::schedule::SeriesPlan {
        location: r.location,
        first_start: r.first_start,
        instead: r.instead.into_iter().collect(),
    };
    scheduled(
        tms::schedule::book_series(&state, &who.actor, course_id, plan).await,
        StatusCode::CREATED,
        INVALID,
        "No course with that id",
    )
}

/// `POST /api/v1/staff/courses/{id}/appointments/{appointment}/missed`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/appointments/{appointment}/missed",
    tag = "tms",
    summary = "Mark a booked session missed and book its make-up after the last one",
    params(
        ("id" = i64, Path, description = "The course's id"),
        ("appointment" = i64, Path, description = "The session's appointment id"),
    ),
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Marked, and the make-up booked; in the audit trail", body = ScheduledView),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and technicians record treatment"),
        (status = 404, description = "No such session on that course", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No free time for the make-up; nothing was changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a session that can be missed (in the future, cancelled, marked already)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn missed(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path((course_id, appointment)): Path<(i64, i64)>,
) -> Result<(StatusCode, Json<ScheduledView>), ApiError> {
    scheduled(
        tms::schedule::mark_missed(&state, &who.actor, course_id, appointment).await,
        StatusCode::CREATED,
        "This session cannot be marked missed",
        "No such session on that course",
    )
}

/// A change to booked sessions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionChange {
    /// `this`, `following` (this one and the ones after it) or `all` (every
    /// session still to come).
    pub scope: Option<String>,
    /// `move` or `cancel`.
    pub action: Option<String>,
    /// Moving one session: its new `YYYY-MM-DDTHH:MM` (local) or RFC 3339.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<String>,
    /// Moving several: their new clock time `HH:MM`, each on its own date.
    pub time: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/appointments/{appointment}/change`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/appointments/{appointment}/change",
    tag = "tms",
    summary = "Move or cancel a booked session, it and the following ones, or all",
    params(
        ("id" = i64, Path, description = "The course's id"),
        ("appointment" = i64, Path, description = "The session's appointment id"),
    ),
    request_body = SessionChange,
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Changed; in the audit trail", body = ScheduledView),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and coordinators change bookings"),
        (status = 404, description = "No such session on that course", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Some new times cannot be had (conflicts); nothing was changed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path((course_id, appointment)): Path<(i64, i64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ScheduledView>), ApiError> {
    const INVALID: &str = "The change has mistakes";
    json::require_json(&headers, "Send the change as application/json")?;
    let r: SessionChange = json::read(
        &body,
        INVALID,
        "must be a JSON object with scope, action and start or time",
    )?;
    let change = tms::schedule::SeriesChange {
        scope: r.scope,
        action: r.action,
        start: r.start,
        time: r.time,
    };
    scheduled(
        tms::schedule::change(&state, &who.actor, course_id, appointment, change).await,
        StatusCode::OK,
        INVALID,
        "No such session on that course",
    )
}
