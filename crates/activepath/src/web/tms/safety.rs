//! The patient's safety flag over HTTP: the banner every page about the
//! patient or their courses shows (text and an icon), the safety review a
//! clinician records (the portal's form and
//! `POST /api/v1/staff/patients/{id}/safety-reviews`), and
//! `GET /api/v1/staff/patients/{id}` with the flag and the reviews.

use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::{FieldErrors, Permission};
use crate::storage::safety::FlagRecord;
use crate::time::{format_date_time, rfc3339};
use crate::tms::safety::{self as core, ReviewForm, Reviewed, ScreenerForm};
use crate::web::ApiError;
use crate::web::errors::Problem;
use crate::web::layout::html;
use crate::web::staff::api::failed;
use crate::web::staff::{Allowed, ManageCourses, OwnTokens, SeePatients, SignedIn, StaffLayout};
use crate::web::{AppError, Result as PageResult};
use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---------------------------------------------------------------- the banner

/// The flag as a page shows it: a heading that says what and since when,
/// each signal, and the way to the review for a clinician.
pub struct FlagBanner {
    pub heading: String,
    pub reasons: Vec<String>,
    pub patient_id: i64,
    pub can_review: bool,
}

fn source_label(tr: &Tr, source: &str) -> String {
    tr.t(&format!("safety-source-{source}"))
}

/// The banner for `flag`, if one is up.
pub fn banner(state: &AppState, who: &SignedIn, flag: Option<&FlagRecord>) -> Option<FlagBanner> {
    let flag = flag?;
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    Some(FlagBanner {
        heading: tr.t1("safety-flag-heading", "why", core::why(state, flag)),
        reasons: flag
            .signals
            .iter()
            .map(|x| {
                tr.t2(
                    "safety-flag-signal",
                    "why",
                    source_label(&tr, &x.source),
                    "date",
                    format_date_time(x.at, tz),
                )
            })
            .collect(),
        patient_id: flag.patient_id,
        can_review: who.can(Permission::ManageCourses) && who.can(Permission::SeePatients),
    })
}

/// The banner for a patient's flag.
pub async fn banner_of(
    state: &AppState,
    who: &SignedIn,
    patient_id: i64,
) -> PageResult<Option<FlagBanner>> {
    let flag = core::flag(state, patient_id)
        .await
        .map_err(AppError::from)?;
    Ok(banner(state, who, flag.as_ref()))
}

/// A safety review as a page lists it.
pub struct ReviewRow {
    pub when: String,
    pub outcome: String,
    pub screener: String,
    pub by: String,
    /// For a clinician; withheld from anyone else.
    pub note: Option<String>,
}

/// A patient's reviews for a page (sealed text to clinicians only).
pub async fn review_rows(
    state: &AppState,
    who: &SignedIn,
    patient_id: i64,
) -> PageResult<Vec<ReviewRow>> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let may_read = who.can(Permission::ClinicalNotes);
    Ok(core::reviews(state, patient_id, may_read)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|r| ReviewRow {
            when: format_date_time(r.record.reviewed_at, tz),
            outcome: tr.t(&format!("safety-outcome-{}", r.record.outcome)),
            screener: match (&r.cssrs, &r.not_done) {
                (Some(answers), _) => {
                    let yes: Vec<String> = core::CSSRS
                        .iter()
                        .zip(answers)
                        .filter(|(_, a)| **a)
                        .map(|(q, _)| tr.t(&format!("safety-cssrs-{q}")))
                        .collect();
                    if yes.is_empty() {
                        tr.t("safety-screener-all-no")
                    } else {
                        tr.t1("safety-screener-yes", "why", yes.join("; "))
                    }
                }
                (None, Some(why)) => tr.t1("safety-screener-not-done-why", "why", why),
                // Anyone but a clinician: whether it was done, not the answers.
                (None, None) if !r.screener_not_done => tr.t("safety-screener-done-only"),
                (None, None) => tr.t("safety-screener-not-done"),
            },
            by: r.record.reviewed_by.clone().unwrap_or_default(),
            note: r.note,
        })
        .collect())
}

// ---------------------------------------------------------------- JSON

/// A signal behind the flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyReasonView {
    /// The signal's id: send the newest one you showed as a safety
    /// review's `last_signal_id`.
    pub id: i64,
    /// `check-in` (question 9 above 0), `checklist` (a "yes" to new or
    /// worse thoughts of suicide) or `side-effect` (`suicidal-thoughts`).
    pub source: String,
    /// When it happened: the check-in's or the session's time.
    pub at: String,
    pub course_id: i64,
}

/// The patient's safety flag: no session until a clinician's safety review.
#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyFlagView {
    pub since: String,
    /// Every signal, in the order they came.
    pub reasons: Vec<SafetyReasonView>,
    /// The urgent case opened in the queue (for roles that see cases).
    pub case_id: Option<i64>,
}

/// A safety review recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyReviewView {
    pub id: i64,
    pub reviewed_at: String,
    /// `continue`, `pause-course` or `refer-urgent`.
    pub outcome: String,
    /// The C-SSRS screener was done (its six answers given) or not.
    pub screener_done: bool,
    /// The C-SSRS screener's six answers by name (`wish_dead`,
    /// `suicidal_thoughts`, `thoughts_with_method`, `intent`,
    /// `plan_and_intent`, `behavior`), for clinicians only; `null` for
    /// anyone else, and when it was not done.
    #[schema(value_type = Option<Object>)]
    pub cssrs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why the screener was not done (clinicians only).
    pub cssrs_not_done: Option<String>,
    /// The note (clinicians only; `null` for anyone else).
    pub note: Option<String>,
    /// The reviewer's e-mail.
    pub reviewed_by: Option<String>,
    /// When the flag it cleared was raised.
    pub flag_since: String,
}

/// The flag and the reviews of a patient, for the JSON of the patient and
/// of each of their courses.
pub async fn views(
    state: &AppState,
    who: &SignedIn,
    patient_id: i64,
) -> Result<(Option<SafetyFlagView>, Vec<SafetyReviewView>), ApiError> {
    let flag = core::flag(state, patient_id).await.map_err(failed)?;
    let see_cases = who.can(Permission::SeeCase);
    let flag = flag.map(|f| SafetyFlagView {
        since: rfc3339(core::since(&f)),
        reasons: f
            .signals
            .iter()
            .map(|x| SafetyReasonView {
                id: x.id,
                source: x.source.clone(),
                at: rfc3339(x.at),
                course_id: x.course_id,
            })
            .collect(),
        case_id: f.case_id.filter(|_| see_cases),
    });
    let may_read = who.can(Permission::ClinicalNotes);
    let reviews = core::reviews(state, patient_id, may_read)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|r| SafetyReviewView {
            id: r.record.id,
            reviewed_at: rfc3339(r.record.reviewed_at),
            outcome: r.record.outcome.clone(),
            screener_done: !r.screener_not_done,
            cssrs: r.cssrs.map(|a| {
                core::CSSRS
                    .iter()
                    .zip(a)
                    .map(|(k, v)| (k.to_string(), serde_json::Value::Bool(v)))
                    .collect()
            }),
            cssrs_not_done: r.not_done,
            note: r.note,
            reviewed_by: r.record.reviewed_by.clone(),
            flag_since: rfc3339(r.record.flag_raised_at),
        })
        .collect();
    Ok((flag, reviews))
}

/// The C-SSRS screener's result: the six answers, or `not_done` with why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CssrsAnswers {
    /// Wished to be dead or not to wake up.
    pub wish_dead: Option<bool>,
    /// Any active thoughts of killing oneself, without more.
    pub suicidal_thoughts: Option<bool>,
    /// Active thoughts with a method in mind, but no plan or intent.
    pub thoughts_with_method: Option<bool>,
    /// Active thoughts with some intent to act on them.
    pub intent: Option<bool>,
    /// Active thoughts with a worked-out plan and intent.
    pub plan_and_intent: Option<bool>,
    /// Any suicidal behavior in the last 3 months.
    pub behavior: Option<bool>,
    /// Instead of the answers: why the screener was not done.
    pub not_done: Option<String>,
}

/// A safety review to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSafetyReview {
    /// `continue` (sessions may go on; the queue's cases are closed),
    /// `pause-course` (the patient's courses are paused; cases closed) or
    /// `refer-urgent` (courses paused; the queue's cases stay open for the
    /// referral).
    pub outcome: Option<String>,
    /// Required: the six answers, or `{"not_done": "<reason>"}`.
    pub cssrs: Option<CssrsAnswers>,
    /// What was found and decided (stored encrypted).
    pub note: Option<String>,
    /// When the review was done: RFC 3339 with an offset, not in the
    /// future, not before the flag; now when left out.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub reviewed_at: Option<String>,
    /// The `id` of the newest signal in `safety_flag.reasons` that the
    /// clinician saw. When the flag has a newer signal the review is
    /// refused (409) and nothing is stored: read the new signal, then send
    /// the review again. Left out: refused (409) when any signal happened
    /// after `reviewed_at`.
    pub last_signal_id: Option<i64>,
}

/// A safety review recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct SafetyReviewCreated {
    pub id: i64,
    /// The courses it paused.
    pub paused_courses: Vec<i64>,
    /// The queue's cases it closed.
    pub closed_cases: Vec<i64>,
}

/// `POST /api/v1/staff/patients/{id}/safety-reviews`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/patients/{id}/safety-reviews",
    tag = "tms",
    summary = "Record a clinician's safety review: clears the patient's safety flag",
    params(("id" = i64, Path, description = "The patient's id")),
    request_body = NewSafetyReview,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Recorded and the flag cleared; courses paused and cases closed as the outcome says; in the audit trail", body = SafetyReviewCreated),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only clinicians record safety reviews", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No patient with that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No safety flag is up for the patient (none raised, or already reviewed); or the flag has a signal newer than `last_signal_id` (or, without it, one after `reviewed_at`): nothing stored", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_review(
    Allowed(who, _): Allowed<OwnTokens>,
    State(state): State<AppState>,
    Path(patient_id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<SafetyReviewCreated>), ApiError> {
    const INVALID: &str = "The safety review has mistakes";
    if !(who.can(Permission::ManageCourses) && who.can(Permission::SeePatients)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Only a clinician may record a safety review: it is a clinical decision",
        ));
    }
    crate::web::json::require_json(&headers, "Send the review as application/json")?;
    let r: NewSafetyReview = crate::web::json::read(
        &body,
        INVALID,
        "must be a JSON object with outcome, cssrs, note and last_signal_id",
    )?;
    let form = ReviewForm {
        reviewed_at: r.reviewed_at,
        outcome: r.outcome,
        cssrs: r.cssrs.map(|c| ScreenerForm {
            answers: [
                c.wish_dead,
                c.suicidal_thoughts,
                c.thoughts_with_method,
                c.intent,
                c.plan_and_intent,
                c.behavior,
            ],
            not_done: c.not_done,
        }),
        note: r.note,
        last_signal_id: r.last_signal_id,
    };
    match core::review(&state, &who.actor, patient_id, form)
        .await
        .map_err(failed)?
    {
        Ok(Some(Reviewed::Recorded(done))) => Ok((
            StatusCode::CREATED,
            Json(SafetyReviewCreated {
                id: done.id,
                paused_courses: done.paused,
                closed_cases: done.closed_cases,
            }),
        )),
        Ok(Some(Reviewed::NoFlag)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "No safety flag is up for this patient: there is nothing to review",
        )),
        Ok(Some(Reviewed::NewSignal)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "A new safety signal arrived since this review was opened: read the patient's safety flag again, then send the review with the newest signal's id as last_signal_id",
        )),
        Ok(Some(Reviewed::UnknownSignal)) => Err(ApiError::invalid(
            INVALID,
            vec![(
                "last_signal_id".into(),
                "is not a signal of the patient's safety flag that is up: read the flag again"
                    .into(),
            )],
        )),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "No patient with that id",
        )),
        Err(errors) => Err(ApiError::invalid(INVALID, errors)),
    }
}

/// A patient's course, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientCourseView {
    pub id: i64,
    pub protocol: String,
    /// `planned`, `active`, `paused`, `completed` or `stopped`.
    pub status: String,
    pub start_date: String,
}

/// A patient record with their safety flag.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientView {
    pub id: i64,
    pub name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: String,
    /// Newest first.
    pub courses: Vec<PatientCourseView>,
    /// `null`, or since when and why: no session on any of the patient's
    /// courses until a clinician's safety review.
    pub safety_flag: Option<SafetyFlagView>,
    /// Oldest first.
    pub safety_reviews: Vec<SafetyReviewView>,
}

/// `GET /api/v1/staff/patients/{id}` (each read is audited).
#[utoipa::path(
    get,
    path = "/api/v1/staff/patients/{id}",
    tag = "staff",
    summary = "A patient record, with their TMS courses and safety flag",
    params(("id" = i64, Path, description = "The patient's id")),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "The record; the read is recorded in the audit trail", body = PatientView),
        (status = 401, description = "No valid API token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not see patient records"),
        (status = 404, description = "No patient with that id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patient(
    Allowed(who, _): Allowed<SeePatients>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<PatientView>, ApiError> {
    let (p, _) = crate::staff::patients::open(&state, &who.actor, id, false)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No patient with that id"))?;
    let courses = state
        .storage
        .patient_courses(id)
        .await
        .map_err(|e| failed(e.into()))?
        .into_iter()
        .map(|c| PatientCourseView {
            id: c.id,
            protocol: c.protocol,
            status: c.status,
            start_date: c.start_date,
        })
        .collect();
    let (safety_flag, safety_reviews) = views(&state, &who, id).await?;
    Ok(Json(PatientView {
        id: p.record.id,
        name: p.details.name,
        date_of_birth: p.details.date_of_birth.map(|d| d.to_string()),
        email: p.details.email,
        phone: p.details.phone,
        created_at: rfc3339(p.record.created_at),
        courses,
        safety_flag,
        safety_reviews,
    }))
}

// ---------------------------------------------------------------- the portal's form

#[derive(Template)]
#[template(path = "staff/safety_review.html")]
struct ReviewPage {
    l: StaffLayout,
    patient_id: i64,
    patient_name: String,
    safety_flag: Option<FlagBanner>,
    fields: Vec<super::pages::Field>,
    /// (name, question, answer, error).
    screener: Vec<(String, String, Option<bool>, Option<String>)>,
    not_done: bool,
    not_done_reason: String,
    not_done_error: Option<String>,
    errors: Vec<(String, String)>,
    /// The newest signal shown: sent back with the review.
    last_signal_id: Option<i64>,
    /// A signal arrived since the form was opened: shown beside the flag.
    new_signal: Option<String>,
}

type Typed = std::collections::HashMap<String, Vec<String>>;

fn value(t: &Typed, name: &str) -> String {
    t.get(name)
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default()
}

async fn review_page(
    state: &AppState,
    who: &SignedIn,
    patient_id: i64,
    t: &Typed,
    errors: &FieldErrors,
) -> PageResult<Option<ReviewPage>> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let Some(details) = crate::staff::patients::details(state, patient_id)
        .await
        .map_err(AppError::from)?
    else {
        return Ok(None);
    };
    crate::staff::audit::seen(
        state,
        who.actor.did(
            "view safety review form",
            "patient",
            patient_id,
            state.clock.now(),
        ),
    )
    .await
    .map_err(AppError::from)?;
    let flag = core::flag(state, patient_id)
        .await
        .map_err(AppError::from)?;
    let last_signal_id = flag
        .as_ref()
        .and_then(|f| f.signals.iter().map(|x| x.id).max());
    let safety_flag = banner(state, who, flag.as_ref());
    let mut outcomes: Vec<(String, String)> = core::OUTCOMES
        .iter()
        .map(|o| (o.to_string(), tr.t(&format!("safety-outcome-{o}"))))
        .collect();
    outcomes.insert(0, (String::new(), tr.t("course-choose")));
    let reviewed_at = Some(value(t, "reviewed_at"))
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| super::pages::date_time_input(state.clock.now(), tz));
    let mut fields = vec![
        super::pages::Field::new(
            "reviewed_at",
            tr.t("safety-review-when"),
            "datetime-local",
            reviewed_at,
        )
        .required(),
        super::pages::Field::new(
            "outcome",
            tr.t("safety-review-outcome"),
            "select",
            value(t, "outcome"),
        )
        .options(outcomes)
        .hint(tr.t("safety-review-outcome-hint"))
        .required(),
        super::pages::Field::new(
            "note",
            tr.t("safety-review-note"),
            "textarea",
            value(t, "note"),
        )
        .hint(tr.t("safety-review-note-hint"))
        .required(),
    ];
    let mut screener_errors: FieldErrors = Vec::new();
    let mut not_done_error = None;
    let mut rest: FieldErrors = Vec::new();
    let mut new_signal = None;
    for (f, m) in errors {
        if f == "last_signal_id" {
            new_signal = Some(m.clone());
        } else if let Some(q) = f.strip_prefix("cssrs.") {
            if q == "not_done" {
                not_done_error = Some(m.clone());
            } else {
                screener_errors.push((q.to_string(), m.clone()));
            }
        } else {
            rest.push((f.clone(), m.clone()));
        }
    }
    let mut summary = super::pages::place(&mut fields, &rest);
    let not_done = value(t, "screener") == "not-done";
    let screener = core::CSSRS
        .iter()
        .map(|q| {
            let answer = match value(t, q).as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            let error = screener_errors
                .iter()
                .find(|(n, _)| n == q)
                .map(|_| tr.t("session-checklist-missing"));
            (
                q.to_string(),
                tr.t(&format!("safety-cssrs-{q}")),
                answer,
                error,
            )
        })
        .collect::<Vec<_>>();
    if !screener_errors.is_empty() {
        summary.push(("wish_dead".to_string(), tr.t("safety-screener-missing")));
    }
    if let Some(m) = &not_done_error {
        summary.push(("not_done_reason".to_string(), m.clone()));
    }
    if let Some(m) = &new_signal {
        summary.insert(0, ("new-signal".to_string(), m.clone()));
    }
    Ok(Some(ReviewPage {
        l: StaffLayout::new(state, tr.t("safety-review-title"), Some(who), "patients"),
        patient_id,
        patient_name: details.name,
        safety_flag,
        fields,
        screener,
        not_done,
        not_done_reason: value(t, "not_done_reason"),
        not_done_error,
        errors: summary,
        last_signal_id,
        new_signal,
    }))
}

/// `GET /staff/patients/{id}/safety-review` (clinicians).
pub async fn review_form(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> PageResult<Response> {
    let page = review_page(&state, &who, id, &Typed::new(), &Vec::new())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/patients/{id}/safety-review` (clinicians).
pub async fn review_submit(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let mut t = Typed::new();
    for (k, v) in fields {
        t.entry(k).or_default().push(v);
    }
    let tz = state.config.clinic.time_zone.tz();
    let answer = |q: &str| match value(&t, q).as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let not_done = value(&t, "screener") == "not-done";
    let form = ReviewForm {
        reviewed_at: Some(value(&t, "reviewed_at"))
            .filter(|v| !v.trim().is_empty())
            .map(|v| super::pages::local_to_rfc3339(&v, tz)),
        outcome: Some(value(&t, "outcome")).filter(|v| !v.is_empty()),
        cssrs: Some(if not_done {
            ScreenerForm {
                answers: [None; 6],
                not_done: Some(value(&t, "not_done_reason")),
            }
        } else {
            ScreenerForm {
                answers: core::CSSRS.map(answer),
                not_done: None,
            }
        }),
        note: Some(value(&t, "note")),
        // A form without it (or with something else) names no signal:
        // 0 is none, so any signal of the flag refuses it.
        last_signal_id: Some(value(&t, "last_signal_id").trim().parse().unwrap_or(0)),
    };
    let errors = match core::review(&state, &who.actor, id, form)
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(Reviewed::Recorded(_))) => {
            return Ok(
                Redirect::to(&format!("/staff/patients/{id}?done=safety-review")).into_response(),
            );
        }
        Ok(Some(Reviewed::NoFlag)) => {
            vec![(String::new(), Tr::default().t("safety-review-no-flag"))]
        }
        Ok(Some(Reviewed::NewSignal | Reviewed::UnknownSignal)) => {
            vec![(
                "last_signal_id".into(),
                Tr::default().t("safety-review-new-signal"),
            )]
        }
        Ok(None) => return Err(AppError::NotFound),
        Err(errors) => errors,
    };
    let page = review_page(&state, &who, id, &t, &errors)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
}
