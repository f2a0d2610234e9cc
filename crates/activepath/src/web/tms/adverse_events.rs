//! Adverse events over HTTP (issue 19 §2): recording one on a course (API
//! and portal), recording later when it was reported to the device's maker
//! and to FDA MedWatch, and the clinic's list for medical directors (JSON,
//! CSV, and a portal page with its CSV). Everything goes through
//! `crate::tms::adverse_events`.

use super::pages::{
    Field, Typed, date_time_input, label, local_to_rfc3339, number, opt, patient_name, place,
    typed, value,
};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::FieldErrors;
use crate::time::rfc3339;
use crate::tms::adverse_events::{self as events, AdverseEventForm};
use crate::tms::holds::is_medical_director;
use crate::web::ApiError;
use crate::web::errors::Problem;
use crate::web::json;
use crate::web::layout::html;
use crate::web::staff::api::{Created, failed};
use crate::web::staff::{Allowed, ManageCourses, RecordTreatment, SignedIn, StaffLayout};
use crate::web::{AppError, Result};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Why the clinic's list is refused to a clinician without the mark.
const LIST_FOR_MEDICAL_DIRECTORS: &str =
    "only a medical director may see the clinic's adverse events";

/// A seizure, fainting or other serious adverse event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdverseEvent {
    /// `seizure`, `fainting` or `other-serious`.
    #[schema(required = true, value_type = String)]
    pub kind: Option<String>,
    /// The session it happened in or after (of this course).
    pub session_id: Option<i64>,
    /// When it began: RFC 3339 with an offset, not in the future.
    #[schema(required = true, value_type = String, format = DateTime)]
    pub onset_at: Option<String>,
    /// How long it lasted, in seconds (0 to 86400).
    pub duration_s: Option<i64>,
    /// What happened, in words (required; at most 4000 characters; stored
    /// encrypted).
    #[schema(required = true, value_type = String)]
    pub description: Option<String>,
    /// What was done, at least one: `observed`, `first-aid`,
    /// `recovery-position`, `rescue-medication`, `ems-called`, `other`.
    #[serde(default)]
    pub actions: Vec<String>,
    /// `resolved`, `resolved-with-after-effects`, `ongoing`,
    /// `hospitalised` or `other`.
    #[schema(required = true, value_type = String)]
    pub outcome: Option<String>,
    /// When it was reported to the device's maker (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reported_to_manufacturer_at: Option<String>,
    /// When it was reported to FDA MedWatch (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reported_to_medwatch_at: Option<String>,
}

/// An adverse event recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdverseEventCreated {
    pub id: i64,
    /// The adverse-event hold it opened or joined: no session until a
    /// medical director clears it.
    pub hold_id: i64,
}

/// `POST /api/v1/staff/courses/{id}/adverse-events`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/adverse-events",
    tag = "tms",
    summary = "Record a seizure, fainting or other serious adverse event on a course",
    description = "Holds the course: it joins the course's open adverse-event hold, or opens one with an urgent case for the clinicians, in the same transaction. Only a medical director clears that hold.",
    params(("id" = i64, Path, description = "The course's id")),
    request_body = NewAdverseEvent,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded; in the audit trail", body = AdverseEventCreated),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians and technicians record treatment"),
        (status = 404, description = "No course with that id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(course_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> std::result::Result<(StatusCode, Json<AdverseEventCreated>), ApiError> {
    const INVALID: &str = "The adverse event has mistakes";
    json::require_json(&headers, "Send the adverse event as application/json")?;
    let r: NewAdverseEvent = json::read(
        &body,
        INVALID,
        "must be a JSON object with kind, onset_at, description, actions and outcome",
    )?;
    let form = AdverseEventForm {
        kind: r.kind,
        session_id: r.session_id,
        onset_at: r.onset_at,
        duration_s: r.duration_s,
        description: r.description,
        actions: r.actions,
        outcome: r.outcome,
        reported_to_manufacturer_at: r.reported_to_manufacturer_at,
        reported_to_medwatch_at: r.reported_to_medwatch_at,
    };
    match events::record(&state, &who.actor, course_id, form)
        .await
        .map_err(failed)?
    {
        Ok(Some(stored)) => Ok((
            StatusCode::CREATED,
            Json(AdverseEventCreated {
                id: stored.id,
                hold_id: stored.hold_id,
            }),
        )),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No course with that id",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

/// When an adverse event was reported.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reports {
    /// When it was reported to the device's maker (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reported_to_manufacturer_at: Option<String>,
    /// When it was reported to FDA MedWatch (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reported_to_medwatch_at: Option<String>,
}

/// `POST /api/v1/staff/courses/{id}/adverse-events/{event}/reports`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/courses/{id}/adverse-events/{event}/reports",
    tag = "tms",
    summary = "Record when an adverse event was reported to the device's maker and to FDA MedWatch",
    description = "At least one date; a date left out keeps what was recorded.",
    params(
        ("id" = i64, Path, description = "The course's id"),
        ("event" = i64, Path, description = "The adverse event's id"),
    ),
    request_body = Reports,
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Recorded; in the audit trail", body = Created),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians record reports"),
        (status = 404, description = "No such adverse event on that course", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No date, or a date that is wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reports(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path((course_id, event_id)): Path<(i64, i64)>,
    headers: HeaderMap,
    body: Bytes,
) -> std::result::Result<(StatusCode, Json<Created>), ApiError> {
    const INVALID: &str = "The reports have mistakes";
    json::require_json(&headers, "Send the dates as application/json")?;
    let r: Reports = json::read(
        &body,
        INVALID,
        "must be a JSON object with reported_to_manufacturer_at and/or reported_to_medwatch_at",
    )?;
    match events::set_reports(
        &state,
        &who.actor,
        course_id,
        event_id,
        r.reported_to_manufacturer_at.as_deref(),
        r.reported_to_medwatch_at.as_deref(),
    )
    .await
    .map_err(failed)?
    {
        Ok(Some(id)) => Ok((StatusCode::OK, Json(Created { id }))),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No such adverse event on that course",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

/// One adverse event in the clinic's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdverseEventView {
    pub id: i64,
    pub course_id: i64,
    pub patient_id: i64,
    pub session_id: Option<i64>,
    /// The adverse-event hold it opened or joined.
    pub hold_id: Option<i64>,
    /// `seizure`, `fainting` or `other-serious`.
    pub kind: String,
    pub onset_at: String,
    pub duration_s: Option<i64>,
    /// What happened, in words.
    pub description: String,
    pub actions: Vec<String>,
    pub outcome: String,
    pub reported_to_manufacturer_at: Option<String>,
    pub reported_to_medwatch_at: Option<String>,
    pub recorded_at: String,
}

/// The clinic's adverse events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdverseEventList {
    /// Newest onset first (at most 5000).
    pub adverse_events: Vec<AdverseEventView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `json` (the default) or `csv` (a header row, then one row per event;
    /// no names and no description).
    pub format: Option<String>,
}

/// The columns of the CSV: no patient name, no description (the free text
/// stays in the portal and the JSON, where each read is audited and the
/// text is not copied around as a file).
const CSV_HEADER: [&str; 13] = [
    "id",
    "course_id",
    "patient_id",
    "session_id",
    "kind",
    "onset_at",
    "duration_s",
    "actions",
    "outcome",
    "reported_to_manufacturer_at",
    "reported_to_medwatch_at",
    "hold_id",
    "recorded_at",
];

fn csv_of(list: &[events::AdverseEvent]) -> std::result::Result<Vec<u8>, csv::Error> {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(CSV_HEADER)?;
    for e in list {
        let r = &e.record;
        // Every value is a number, a time or a word of a fixed list: none
        // can start a spreadsheet formula.
        out.write_record([
            r.id.to_string(),
            r.course_id.to_string(),
            r.patient_id.to_string(),
            opt(r.session_id),
            r.kind.clone(),
            rfc3339(r.onset_at),
            opt(r.duration_s),
            r.actions.join(";"),
            r.outcome.clone(),
            r.reported_to_manufacturer_at
                .map(rfc3339)
                .unwrap_or_default(),
            r.reported_to_medwatch_at.map(rfc3339).unwrap_or_default(),
            opt(r.hold_id),
            rfc3339(r.created_at),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

fn csv_response(body: Vec<u8>) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"adverse-events.csv\""),
    );
    res
}

/// `GET /api/v1/staff/adverse-events` (medical directors; each read audited).
#[utoipa::path(
    get,
    path = "/api/v1/staff/adverse-events",
    tag = "tms",
    summary = "The clinic's adverse events, for medical directors (JSON or CSV)",
    params(ListQuery),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "The list (newest onset first); the read is in the audit trail. With format=csv: text/csv with a header row, identified by patient and course id, without the description", body = AdverseEventList),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only an account with the medical-director mark", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "format is neither json nor csv", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> std::result::Result<Response, ApiError> {
    if !is_medical_director(&who.user) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            LIST_FOR_MEDICAL_DIRECTORS,
        ));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "The list cannot be given that way",
                vec![("format".into(), "must be json or csv".into())],
            ));
        }
    };
    let list = events::list(&state, &who.actor, if csv { "export" } else { "list" })
        .await
        .map_err(failed)?;
    if csv {
        let body = csv_of(&list).map_err(|e| failed(anyhow::Error::from(e).into()))?;
        return Ok(csv_response(body));
    }
    Ok(Json(AdverseEventList {
        adverse_events: list
            .into_iter()
            .map(|e| {
                let r = e.record;
                AdverseEventView {
                    id: r.id,
                    course_id: r.course_id,
                    patient_id: r.patient_id,
                    session_id: r.session_id,
                    hold_id: r.hold_id,
                    kind: r.kind,
                    onset_at: rfc3339(r.onset_at),
                    duration_s: r.duration_s,
                    description: e.description.unwrap_or_default(),
                    actions: r.actions,
                    outcome: r.outcome,
                    reported_to_manufacturer_at: r.reported_to_manufacturer_at.map(rfc3339),
                    reported_to_medwatch_at: r.reported_to_medwatch_at.map(rfc3339),
                    recorded_at: rfc3339(r.created_at),
                }
            })
            .collect(),
    })
    .into_response())
}

// ---------------------------------------------------------------- portal

#[derive(Template)]
#[template(path = "staff/adverse_event.html")]
struct FormPage {
    l: StaffLayout,
    id: i64,
    patient_name: String,
    heading: String,
    intro: String,
    action: String,
    submit: String,
    fields: Vec<Field>,
    /// (value, label, checked), when the form asks what was done.
    actions: Vec<(String, String, bool)>,
    actions_error: Option<String>,
    errors: Vec<(String, String)>,
}

fn options(tr: &Tr, prefix: &str, values: &[&str], choose: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = values
        .iter()
        .map(|v| (v.to_string(), label(tr, prefix, v)))
        .collect();
    out.insert(0, (String::new(), tr.t(choose)));
    out
}

fn report_fields(tr: &Tr, t: &Typed) -> Vec<Field> {
    vec![
        Field::new(
            "reported_to_manufacturer_at",
            tr.t("adverse-manufacturer"),
            "datetime-local",
            value(t, "reported_to_manufacturer_at"),
        ),
        Field::new(
            "reported_to_medwatch_at",
            tr.t("adverse-medwatch"),
            "datetime-local",
            value(t, "reported_to_medwatch_at"),
        ),
    ]
}

async fn new_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    t: &Typed,
    errors: &FieldErrors,
) -> Result<FormPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let course = state
        .storage
        .course(id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)?;
    // The form names the patient and their sessions' dates: recorded.
    crate::staff::audit::seen(
        state,
        who.actor.did(
            "view adverse event form",
            "tms_course",
            id,
            state.clock.now(),
        ),
    )
    .await
    .map_err(AppError::from)?;
    let mut sessions: Vec<(String, String)> = state
        .storage
        .sessions_of(&[id])
        .await?
        .into_iter()
        .enumerate()
        .rev()
        .map(|(i, (_, x))| {
            (
                x.id.to_string(),
                tr.args(
                    "adverse-session-option",
                    &[
                        ("number", (i + 1).to_string()),
                        ("date", crate::time::format_date_time(x.started_at, tz)),
                    ],
                ),
            )
        })
        .collect();
    sessions.insert(0, (String::new(), tr.t("adverse-session-none")));
    let mut fields = vec![
        Field::new("kind", tr.t("adverse-kind"), "select", value(t, "kind"))
            .options(options(
                &tr,
                "adverse-kind",
                &events::KINDS,
                "adverse-choose",
            ))
            .required(),
        Field::new(
            "session_id",
            tr.t("adverse-session"),
            "select",
            value(t, "session_id"),
        )
        .options(sessions),
        Field::new(
            "onset_at",
            tr.t("adverse-onset"),
            "datetime-local",
            opt(t, "onset_at").unwrap_or_else(|| date_time_input(state.clock.now(), tz)),
        )
        .required(),
        Field::new(
            "duration_s",
            tr.t("adverse-duration"),
            "number",
            value(t, "duration_s"),
        )
        .range(0, 86_400, "1"),
        Field::new(
            "description",
            tr.t("adverse-description"),
            "textarea",
            value(t, "description"),
        )
        .hint(tr.t("adverse-description-hint"))
        .required(),
        Field::new(
            "outcome",
            tr.t("adverse-outcome"),
            "select",
            value(t, "outcome"),
        )
        .options(options(
            &tr,
            "adverse-outcome",
            &events::OUTCOMES,
            "adverse-choose",
        ))
        .required(),
    ];
    fields.extend(report_fields(&tr, t));
    let (action_errors, others): (FieldErrors, FieldErrors) = errors
        .iter()
        .cloned()
        .partition(|(f, _)| f.starts_with("actions"));
    let mut summary = place(&mut fields, &others);
    for (_, m) in &action_errors {
        summary.push((
            "actions".into(),
            format!("{}: {m}", tr.t("adverse-actions")),
        ));
    }
    let chosen = t.get("actions").cloned().unwrap_or_default();
    Ok(FormPage {
        l: StaffLayout::new(state, tr.t("adverse-new-heading"), Some(who), "courses"),
        id,
        patient_name: patient_name(state, course.patient_id).await?,
        heading: tr.t("adverse-new-heading"),
        intro: tr.t("adverse-new-intro"),
        action: format!("/staff/courses/{id}/adverse-events"),
        submit: tr.t("adverse-new-submit"),
        fields,
        actions: events::ACTIONS
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    label(&tr, "adverse-action", a),
                    chosen.iter().any(|c| c == a),
                )
            })
            .collect(),
        actions_error: action_errors.first().map(|(_, m)| m.clone()),
        errors: summary,
    })
}

/// `GET /staff/courses/{id}/adverse-events/new`.
pub async fn new_form(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let page = new_page(&state, &who, id, &Typed::new(), &Vec::new()).await?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/courses/{id}/adverse-events`.
pub async fn new_submit(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let tz = state.config.clinic.time_zone.tz();
    let local = |name: &str| opt(&t, name).map(|v| local_to_rfc3339(&v, tz));
    let form = AdverseEventForm {
        kind: opt(&t, "kind"),
        session_id: number(&t, "session_id"),
        onset_at: local("onset_at"),
        duration_s: number(&t, "duration_s"),
        description: opt(&t, "description"),
        actions: t.get("actions").cloned().unwrap_or_default(),
        outcome: opt(&t, "outcome"),
        reported_to_manufacturer_at: local("reported_to_manufacturer_at"),
        reported_to_medwatch_at: local("reported_to_medwatch_at"),
    };
    match events::record(&state, &who.actor, id, form)
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(_)) => {
            Ok(Redirect::to(&format!("/staff/courses/{id}?done=adverse-event")).into_response())
        }
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let page = new_page(&state, &who, id, &t, &errors).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

async fn reports_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    event: i64,
    t: &Typed,
    errors: &FieldErrors,
) -> Result<FormPage> {
    let tr = Tr::default();
    let course = state.storage.course(id).await?.ok_or(AppError::NotFound)?;
    if !state
        .storage
        .course_adverse_events(id)
        .await?
        .iter()
        .any(|e| e.id == event)
    {
        return Err(AppError::NotFound);
    }
    // The form names the patient: recorded.
    crate::staff::audit::seen(
        state,
        who.actor.did(
            "view adverse event reports form",
            "tms_course",
            id,
            state.clock.now(),
        ),
    )
    .await
    .map_err(AppError::from)?;
    let mut fields = report_fields(&tr, t);
    let errors = place(&mut fields, errors);
    Ok(FormPage {
        l: StaffLayout::new(state, tr.t("adverse-reports-heading"), Some(who), "courses"),
        id,
        patient_name: patient_name(state, course.patient_id).await?,
        heading: tr.t("adverse-reports-heading"),
        intro: tr.t("adverse-reports-intro"),
        action: format!("/staff/courses/{id}/adverse-events/{event}/reports"),
        submit: tr.t("adverse-reports-submit"),
        fields,
        actions: Vec::new(),
        actions_error: None,
        errors,
    })
}

/// `GET /staff/courses/{id}/adverse-events/{event}/reports`.
pub async fn reports_form(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path((id, event)): Path<(i64, i64)>,
) -> Result<Response> {
    let page = reports_page(&state, &who, id, event, &Typed::new(), &Vec::new()).await?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/courses/{id}/adverse-events/{event}/reports`.
pub async fn reports_submit(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path((id, event)): Path<(i64, i64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let tz = state.config.clinic.time_zone.tz();
    let local = |name: &str| opt(&t, name).map(|v| local_to_rfc3339(&v, tz));
    let (m, w) = (
        local("reported_to_manufacturer_at"),
        local("reported_to_medwatch_at"),
    );
    match events::set_reports(&state, &who.actor, id, event, m.as_deref(), w.as_deref())
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(_)) => {
            Ok(Redirect::to(&format!("/staff/courses/{id}?done=reports")).into_response())
        }
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let page = reports_page(&state, &who, id, event, &t, &errors).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "staff/adverse_events.html")]
struct ListPage {
    l: StaffLayout,
    rows: Vec<(i64, i64, super::holds::AdverseEventRow)>,
}

/// `GET /staff/adverse-events` (medical directors).
pub async fn page(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
) -> Result<Response> {
    if !is_medical_director(&who.user) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let tr = Tr::default();
    let list = events::list(&state, &who.actor, "list")
        .await
        .map_err(AppError::from)?;
    let page = ListPage {
        l: StaffLayout::new(
            &state,
            tr.t("adverse-list-heading"),
            Some(&who),
            "adverse-events",
        ),
        rows: list
            .iter()
            .map(|e| {
                (
                    e.record.course_id,
                    e.record.patient_id,
                    super::holds::row(&state, e),
                )
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

/// `GET /staff/adverse-events.csv` (medical directors).
pub async fn page_csv(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
) -> Result<Response> {
    if !is_medical_director(&who.user) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let list = events::list(&state, &who.actor, "export")
        .await
        .map_err(AppError::from)?;
    let body = csv_of(&list).map_err(anyhow::Error::from)?;
    Ok(csv_response(body))
}
