//! `POST /api/v1/staff/courses/{id}/order`, `…/consent` and
//! `…/safety-screen`: what a course needs before its sessions
//! (`crate::tms::orders`), and how the course's JSON shows them.

use crate::app::AppState;
use crate::time::rfc3339;
use crate::tms::orders::{self, OrderForm};
use crate::web::ApiError;
use crate::web::errors::Problem;
use crate::web::json;
use crate::web::staff::api::{Created, created, failed};
use crate::web::staff::{Allowed, ManageCourses, RecordConsent};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A physician's order for a course. Every field but `target` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Intensity, % of the motor threshold: 1 to the clinic's ceiling
    /// (`tms.max_intensity_percent_mt`, 120 by default).
    pub intensity_percent_mt: Option<i64>,
    /// Pulses in one session, 1 to 10,000. A session may give up to 110%.
    pub pulses: Option<i64>,
    /// Sessions on one day (the clinic's local day), 1 to 10.
    pub sessions_per_day: Option<i64>,
    /// Minutes at least between the starts of two sessions, 0 to 1440
    /// (accelerated iTBS: 50).
    pub min_spacing_minutes: Option<i64>,
    /// Sessions in the course, 1 to 200; becomes the course's planned number.
    pub planned_sessions: Option<i64>,
    /// Where the coil is aimed (`left-dlpfc`, `right-dlpfc`,
    /// `bilateral-dlpfc`, `dmpfc`, `other`); the course's target when left
    /// out (required when the course has none).
    pub target: Option<String>,
}

impl NewOrder {
    pub(crate) fn form(self) -> OrderForm {
        OrderForm {
            intensity_percent_mt: self.intensity_percent_mt,
            pulses: self.pulses,
            sessions_per_day: self.sessions_per_day,
            min_spacing_minutes: self.min_spacing_minutes,
            planned_sessions: self.planned_sessions,
            target: self.target,
        }
    }
}

/// An order signed.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderCreated {
    /// The order's version on its course: 1 for the first, then one more
    /// for each change. The latest is in force.
    pub version: i64,
}

/// `POST /api/v1/staff/courses/{id}/order`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/order",
    tag = "tms",
    summary = "Sign the physician's order for a course (a later call is a new version)",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewOrder,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Signed by the caller; in force from now; in the audit trail", body = OrderCreated),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians sign orders"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn order(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<OrderCreated>), ApiError> {
    const INVALID: &str = "The order has mistakes";
    json::require_json(&headers, "Send the order as application/json")?;
    let request: NewOrder = json::read(
        &body,
        INVALID,
        "must be a JSON object with intensity_percent_mt, pulses, sessions_per_day, min_spacing_minutes and planned_sessions",
    )?;
    match orders::record_order(&state, &who.actor, course_id, request.form())
        .await
        .map_err(failed)?
    {
        Ok(Some(version)) => Ok((StatusCode::CREATED, Json(OrderCreated { version }))),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No course with that id",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

/// The patient's informed consent to a course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    /// The day the patient consented, `YYYY-MM-DD` (or RFC 3339), not in
    /// the future.
    #[schema(value_type = Option<String>, format = Date)]
    pub consented_at: Option<String>,
    /// The consent form's version, one line (at most 100 characters).
    pub consent_version: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/consent`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/consent",
    tag = "tms",
    summary = "Record the patient's informed consent to a course",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewConsent,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded, by the caller; in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and coordinators record consent"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn consent(
    Allowed(who, _): Allowed<RecordConsent>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The consent has mistakes";
    json::require_json(&headers, "Send the consent as application/json")?;
    let request: NewConsent = json::read(
        &body,
        INVALID,
        "must be a JSON object with consented_at and consent_version",
    )?;
    created(
        orders::record_consent(
            &state,
            &who.actor,
            course_id,
            request.consented_at.as_deref(),
            request.consent_version.as_deref(),
        )
        .await,
        "No course with that id",
        INVALID,
    )
}

/// The pre-TMS safety screen's answers: every topic, `true` for yes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenAnswers {
    /// A seizure, a convulsion or epilepsy, ever.
    pub seizures: Option<bool>,
    /// Metal in the head other than dental work.
    pub metal_in_head: Option<bool>,
    /// An implanted device (pacemaker, cochlear implant, stimulator, pump).
    pub implanted_devices: Option<bool>,
    /// A serious head injury (concussion, loss of consciousness).
    pub head_injury: Option<bool>,
    /// Surgery on the brain or skull.
    pub brain_surgery: Option<bool>,
    /// Pregnant, or could be.
    pub pregnancy: Option<bool>,
    /// A problem with TMS before.
    pub previous_tms_problems: Option<bool>,
    /// Bipolar disorder, or mania or hypomania ever.
    pub bipolar: Option<bool>,
}

/// A pre-TMS safety screen, reviewed and signed by the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSafetyScreen {
    pub answers: Option<ScreenAnswers>,
    /// The clinician's review: what a "yes" means for this patient (stored
    /// encrypted). A "yes" is not an absolute contraindication: it calls
    /// for the physician's judgement of risk and benefit.
    pub notes: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/safety-screen`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/safety-screen",
    tag = "tms",
    summary = "Record the pre-TMS safety screen, reviewed and signed by a clinician",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewSafetyScreen,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Signed by the caller; in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians sign the safety screen"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A topic is missing or unknown, or the notes are too long; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn safety_screen(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The safety screen has mistakes";
    json::require_json(&headers, "Send the safety screen as application/json")?;
    let request: NewSafetyScreen = json::read(
        &body,
        INVALID,
        "must be a JSON object with answers (each topic true or false) and notes",
    )?;
    let a = request.answers.unwrap_or(ScreenAnswers {
        seizures: None,
        metal_in_head: None,
        implanted_devices: None,
        head_injury: None,
        brain_surgery: None,
        pregnancy: None,
        previous_tms_problems: None,
        bipolar: None,
    });
    let answers = [
        ("seizures", a.seizures),
        ("metal_in_head", a.metal_in_head),
        ("implanted_devices", a.implanted_devices),
        ("head_injury", a.head_injury),
        ("brain_surgery", a.brain_surgery),
        ("pregnancy", a.pregnancy),
        ("previous_tms_problems", a.previous_tms_problems),
        ("bipolar", a.bipolar),
    ];
    created(
        orders::record_safety_screen(
            &state,
            &who.actor,
            course_id,
            &answers,
            request.notes.as_deref(),
        )
        .await,
        "No course with that id",
        INVALID,
    )
}

/// A version of a course's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub version: i64,
    pub protocol: String,
    pub target: String,
    pub intensity_percent_mt: i64,
    pub pulses: i64,
    pub sessions_per_day: i64,
    pub min_spacing_minutes: i64,
    pub planned_sessions: i64,
    /// The signing clinician's e-mail address.
    pub signed_by: Option<String>,
    pub signed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// `YYYY-MM-DD`.
    pub consented_at: String,
    pub consent_version: String,
    /// Who recorded it (e-mail address).
    pub recorded_by: Option<String>,
    pub recorded_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyScreenView {
    /// Each topic's answer (`true` is yes).
    #[schema(value_type = Object)]
    pub answers: serde_json::Map<String, serde_json::Value>,
    /// The topics answered yes: each needs the physician's weighing of
    /// risk and benefit (not an automatic exclusion).
    pub yes: Vec<&'static str>,
    pub has_notes: bool,
    /// The clinician's notes: to clinicians only (`null` for anyone else).
    pub notes: Option<String>,
    /// The clinician who reviewed and signed it (e-mail address).
    pub signed_by: Option<String>,
    pub signed_at: String,
}

/// What a course has recorded before its sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct BeforeSessionsView {
    /// What is still missing before a session may be given, in the order
    /// checked: `consent`, `safety_screen`, `order`. Empty when ready.
    pub missing: Vec<&'static str>,
    /// The order in force (the latest version).
    pub order: Option<OrderView>,
    /// Every version of the order, oldest first.
    pub order_versions: Vec<OrderView>,
    /// The latest consent recorded.
    pub consent: Option<ConsentView>,
    /// The latest safety screen signed.
    pub safety_screen: Option<SafetyScreenView>,
}

/// Course `id`'s records before sessions, for `role` (screen notes to
/// clinicians only). The read is part of the course's, audited there.
pub(crate) async fn before_sessions(
    state: &AppState,
    id: i64,
    role: crate::staff::Role,
) -> Result<BeforeSessionsView, ApiError> {
    let may_read = crate::staff::allows(role, crate::staff::Permission::ReadDeviations);
    let r = orders::readiness(state, id, may_read)
        .await
        .map_err(failed)?;
    let view = |o: &crate::storage::tms_orders::OrderRecord| OrderView {
        version: o.version,
        protocol: o.protocol.clone(),
        target: o.target.clone(),
        intensity_percent_mt: o.intensity_percent_mt,
        pulses: o.pulses,
        sessions_per_day: o.sessions_per_day,
        min_spacing_minutes: o.min_spacing_minutes,
        planned_sessions: o.planned_sessions,
        signed_by: o.signed_by_email.clone(),
        signed_at: rfc3339(o.signed_at),
    };
    Ok(BeforeSessionsView {
        missing: r.missing(),
        order: r.order().map(view),
        order_versions: r.orders.iter().map(view).collect(),
        consent: r.consents.last().map(|c| ConsentView {
            consented_at: c.consented_on.clone(),
            consent_version: c.consent_version.clone(),
            recorded_by: c.recorded_by_email.clone(),
            recorded_at: rfc3339(c.created_at),
        }),
        safety_screen: r.screen().map(|x| SafetyScreenView {
            answers: x
                .answers
                .iter()
                .map(|(t, a)| ((*t).to_string(), serde_json::Value::Bool(*a)))
                .collect(),
            yes: x.yes(),
            has_notes: x.notes_recorded,
            notes: x.notes.clone(),
            signed_by: x.signed_by.clone(),
            signed_at: rfc3339(x.signed_at),
        }),
    })
}
