//! The staff API: the queue and a case, as JSON, for integrations with an
//! API token. The same permissions and the same audit trail as the portal.

use super::{Allowed, EditPatients, SeeCase, SeeQueue};
use crate::app::AppState;
use crate::staff::cases;
use crate::storage::TextEnum;
use crate::time::rfc3339;
use crate::web::ApiError;
use crate::web::errors::Problem;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Cases per page, 1 to 500 (100 when not given).
    limit: Option<i64>,
    /// Cases to skip.
    offset: Option<i64>,
}

/// A record made: its id.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// The answer to a request that makes a record under another one: 201 with
/// its id, 404 (`missing`) when the other is not there, or 422 (`invalid`)
/// naming each bad field.
pub(crate) fn created(
    outcome: crate::staff::Outcome<i64>,
    missing: &str,
    invalid: &str,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    match outcome.map_err(failed)? {
        Ok(Some(id)) => Ok((StatusCode::CREATED, Json(Created { id }))),
        Ok(None) => Err(ApiError::new(StatusCode::NOT_FOUND, missing)),
        Err(errors) => Err(ApiError::invalid(invalid, errors)),
    }
}

/// A patient record to make. Only what identifies the person: clinical
/// notes are written in the portal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPatient {
    /// 1 to 100 characters on one line.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "^[^\\x00-\\x1f\\x7f]*\\S[^\\x00-\\x1f\\x7f]*$")]
    pub name: Option<String>,
    /// `YYYY-MM-DD`, from 1900 and not in the future.
    #[schema(required = true, value_type = String, format = Date)]
    pub date_of_birth: Option<String>,
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Option<String>,
    /// 7 to 15 digits, with spaces, dots, hyphens, brackets and one
    /// leading `+`.
    #[schema(value_type = Option<String>, pattern = "^\\s*\\+?[ ().-]*([0-9][ ().-]*){7,15}\\s*$")]
    pub phone: Option<String>,
}

/// `POST /api/v1/staff/patients`: the same checks as the portal's form.
#[utoipa::path(
    post,
    path = "/api/v1/staff/patients",
    tag = "staff",
    summary = "Make a patient record",
    request_body = NewPatient,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Made; the creation is in the audit trail", body = Created),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not make patient records"),
        (status = 415, description = "The body is not declared as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_patient(
    Allowed(who, _): Allowed<EditPatients>,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The patient record has mistakes";
    crate::web::json::require_json(&headers, "Send the record as application/json")?;
    let request: NewPatient = crate::web::json::read(
        &body,
        INVALID,
        "must be a JSON object with name and date_of_birth, and optionally email and phone",
    )?;
    let mut form = super::patients::PatientForm::default();
    form.name = request.name.unwrap_or_default();
    form.date_of_birth = crate::domain::day::DateText(request.date_of_birth.unwrap_or_default());
    form.email = request.email.unwrap_or_default();
    form.phone = request.phone.unwrap_or_default();
    let tr = crate::i18n::Tr::default();
    let today = crate::time::date_in(state.clock.now(), state.config.clinic.time_zone.tz());
    let mut errors = Vec::new();
    if form.date_of_birth.as_str().trim().is_empty() {
        errors.push((
            "date_of_birth".to_string(),
            "is required, as YYYY-MM-DD".to_string(),
        ));
    }
    let details = match super::patients::parse(&tr, &form, today, false) {
        Ok((details, _)) => Some(details),
        Err(e) => {
            errors.extend(e.pairs().into_iter().filter(|(f, _)| {
                !(f == "date_of_birth" && form.date_of_birth.as_str().trim().is_empty())
            }));
            None
        }
    };
    let details = match details {
        Some(d) if errors.is_empty() => d,
        _ => return Err(ApiError::invalid(INVALID, errors)),
    };
    let id = crate::staff::patients::create(&state, &who.actor, details, None, None)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            failed(crate::staff::Error::Integrity(
                "a new record without a case".into(),
            ))
        })?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// A failure of the staff side (the database, a record that does not
/// open): logged, and a 500 that says nothing more.
pub(crate) fn failed(e: crate::staff::Error) -> ApiError {
    tracing::error!("the staff API failed: {e:#}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The request could not be answered",
    )
}

/// One case in the queue. The score fields are null unless the case is a
/// self-assessment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    /// `assessment`, `message`, `callback`, `booking` or `course` (an
    /// urgent matter in a TMS course).
    pub kind: &'static str,
    /// `urgent` (question 9 above 0) or `routine`.
    pub priority: &'static str,
    /// `new`, `in_progress` or `closed`.
    pub status: &'static str,
    pub created_at: String,
    pub respond_by: String,
    pub instrument: Option<&'static str>,
    pub total: Option<i64>,
    pub severity: Option<&'static str>,
    pub self_harm_flag: Option<bool>,
    /// The e-mail of the staff member who took it.
    pub assigned_to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// Urgent first, then oldest first.
    pub cases: Vec<CaseSummary>,
    pub limit: i64,
    pub offset: i64,
}

/// `GET /api/v1/staff/cases`.
#[utoipa::path(
    get,
    path = "/api/v1/staff/cases",
    tag = "staff",
    summary = "The triage queue",
    params(Paging),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Open cases, urgent first, then oldest", body = CaseList),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not see the queue"),
        (status = 429, description = "Too many requests from this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cases(
    Allowed(who, _): Allowed<SeeQueue>,
    State(state): State<AppState>,
    Query(p): Query<Paging>,
) -> Result<Json<CaseList>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let offset = p.offset.unwrap_or(0).max(0);
    let items = cases::queue(&state, &who.actor, limit, offset)
        .await
        .map_err(failed)?;
    let cases = items
        .iter()
        .map(|i| CaseSummary {
            id: i.id,
            kind: i.kind.as_text(),
            priority: i.priority.as_text(),
            status: i.status.as_text(),
            created_at: rfc3339(i.created_at),
            respond_by: rfc3339(cases::respond_by(&state, i.priority, i.created_at)),
            instrument: i.screening.map(|x| x.instrument.slug()),
            total: i.screening.map(|x| x.total),
            severity: i.screening.map(|x| x.severity.slug()),
            self_harm_flag: i.screening.map(|x| x.self_harm_flag),
            assigned_to: i.assigned_to.clone(),
        })
        .collect();
    Ok(Json(CaseList {
        cases,
        limit,
        offset,
    }))
}

/// How to reach the person, as they gave it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDetails {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `email`, `phone` or `text`.
    pub contact_method: &'static str,
    /// `any`, `morning`, `afternoon` or `evening`.
    pub contact_time: &'static str,
    pub message: Option<String>,
    /// For a call back: the weekdays that suit them (empty: any).
    pub preferred_days: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Answer {
    pub item: u8,
    pub loinc: &'static str,
    /// 0 to 3.
    pub value: u8,
    pub answer: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    /// `taken`, `note`, `contact_attempt`, `closed`, `reopened` or
    /// `patient_linked`.
    pub kind: &'static str,
    pub at: String,
    pub by: Option<String>,
    /// A note's text, or a contact attempt's method, outcome and note.
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseAppointment {
    pub id: String,
    pub start: String,
    pub end: String,
    /// `booked` or `cancelled`.
    pub status: String,
}

/// A case in full. The score fields are null unless it is a
/// self-assessment; `appointment` is there for a booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    pub id: i64,
    pub kind: &'static str,
    pub priority: &'static str,
    pub status: &'static str,
    /// Send it back when changing the case in the portal: a stale version
    /// is refused.
    pub version: i64,
    pub created_at: String,
    pub respond_by: String,
    pub assigned_to: Option<String>,
    pub closed_reason: Option<&'static str>,
    /// The version of the consent wording the person agreed to.
    pub consent_version: String,
    pub contact: ContactDetails,
    pub timeline: Vec<TimelineEvent>,
    pub instrument: Option<&'static str>,
    pub instrument_version: Option<&'static str>,
    pub total: Option<u8>,
    pub severity: Option<&'static str>,
    pub self_harm_flag: Option<bool>,
    pub answers: Option<Vec<Answer>>,
    pub difficulty: Option<u8>,
    pub taken_at: Option<String>,
    pub appointment: Option<CaseAppointment>,
}

/// `GET /api/v1/staff/cases/{id}` (each read is audited).
#[utoipa::path(
    get,
    path = "/api/v1/staff/cases/{id}",
    tag = "staff",
    summary = "One case, with contact details and answers",
    params(("id" = i64, Path, description = "The case's id")),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "The case; the read is recorded in the audit trail", body = CaseDetail),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not see cases"),
        (status = 404, description = "No case with that id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn case(
    Allowed(who, _): Allowed<SeeCase>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CaseDetail>, ApiError> {
    let view = cases::open(&state, &who.actor, id)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No case with that id"))?;
    let c = &view.contact;
    let result = view.result.as_ref();
    let def = result.map(|r| r.instrument.definition());
    Ok(Json(CaseDetail {
        id: view.record.id,
        kind: view.record.kind.as_text(),
        priority: view.record.priority.as_text(),
        status: view.record.status.as_text(),
        version: view.record.version,
        created_at: rfc3339(view.record.created_at),
        respond_by: rfc3339(view.respond_by),
        assigned_to: view.record.assigned_to.as_ref().map(|(_, e)| e.clone()),
        closed_reason: view.record.closed_reason.map(|r| r.as_text()),
        consent_version: view.record.consent_version.clone(),
        contact: ContactDetails {
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            contact_method: c.contact_method.slug(),
            contact_time: c.contact_time.slug(),
            message: c.message.clone(),
            preferred_days: c.days.clone(),
        },
        timeline: view
            .timeline
            .iter()
            .map(|e| TimelineEvent {
                kind: e.kind.as_text(),
                at: rfc3339(e.at),
                by: e.by.clone(),
                detail: e
                    .detail
                    .as_ref()
                    .map(|d| serde_json::to_value(d).expect("a detail serializes")),
            })
            .collect(),
        instrument: result.map(|r| r.instrument.slug()),
        instrument_version: def.map(|d| d.version),
        total: result.map(|r| r.score.total),
        severity: result.map(|r| r.score.severity.slug()),
        self_harm_flag: result.map(|r| r.score.self_harm_flag),
        answers: result.zip(def).map(|(r, d)| {
            d.items
                .iter()
                .zip(r.responses.answers())
                .map(|(item, &value)| Answer {
                    item: item.number,
                    loinc: item.loinc,
                    value,
                    answer: item.options[usize::from(value)].label,
                })
                .collect()
        }),
        difficulty: result.and_then(|r| r.responses.difficulty()),
        taken_at: result.map(|r| rfc3339(r.created_at)),
        appointment: view.appointment.as_ref().map(|a| CaseAppointment {
            id: a.row.uid.clone(),
            start: rfc3339(a.row.starts_at),
            end: rfc3339(a.row.ends_at),
            status: a.row.status.clone(),
        }),
    }))
}
