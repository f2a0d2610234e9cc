//! A case: the result as the person saw it, how to reach them, the
//! timeline, and what staff do next.

use super::queue::{priority_label, status_label};
use super::{Allowed, SeeCase, SignedIn, StaffLayout, WorkCases};
use crate::app::AppState;
use crate::assessment::share::{ContactMethod, ContactTime};
use crate::domain::{TextError, multi_line};
use crate::i18n::Tr;
use crate::staff::Permission;
use crate::staff::cases::{self, Action, AttemptOutcome, CaseView, Detail};
use crate::storage::TextEnum;
use crate::storage::triage::{
    CaseKind, CaseStatus, ChangeOutcome, CloseReason, EventKind, Priority,
};
use crate::time::{format_age, format_date_time};
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub struct AnswerRow {
    number: u8,
    text: &'static str,
    label: &'static str,
    value: u8,
}

/// The result behind a self-assessment case, as the person saw it.
pub struct ScoreView {
    instrument: &'static str,
    total: u8,
    max: u8,
    band: String,
    flagged: bool,
    taken_on: String,
    answers: Vec<AnswerRow>,
    difficulty: Option<(&'static str, &'static str)>,
}

fn score_view(
    tr: &Tr,
    tz: &jiff::tz::TimeZone,
    result: &crate::assessment::VerifiedResult,
) -> ScoreView {
    let def = result.instrument.definition();
    ScoreView {
        instrument: def.name,
        total: result.score.total,
        max: def.max_total(),
        band: tr.t(&format!("band-{}", result.score.severity.slug())),
        flagged: result.score.self_harm_flag,
        taken_on: format_date_time(result.created_at, tz),
        answers: def
            .items
            .iter()
            .zip(result.responses.answers())
            .map(|(item, &value)| AnswerRow {
                number: item.number,
                text: item.text,
                label: item.options[usize::from(value)].label,
                value,
            })
            .collect(),
        difficulty: match (def.difficulty, result.responses.difficulty()) {
            (Some(q), Some(v)) => Some((q.text, q.options[usize::from(v)].label)),
            _ => None,
        },
    }
}

pub struct EventRow {
    when: String,
    by: String,
    what: String,
    note: Option<String>,
}

/// The forms as posted, kept when the page is shown again.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct ActForm {
    version: i64,
    action: String,
    text: String,
    method: String,
    outcome: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "staff/case.html")]
struct CasePage {
    l: StaffLayout,
    id: i64,
    version: i64,
    urgent: bool,
    priority: String,
    status: String,
    closed: bool,
    age: String,
    received: String,
    respond_by: String,
    overdue: bool,
    assigned_to: Option<String>,
    mine: bool,
    can_work: bool,
    kind: String,
    /// The timeline's first line: how the case came in (a Fluent id).
    received_event: &'static str,
    score: Option<ScoreView>,
    /// A booking case: (the appointment's uid, what and when).
    appointment: Option<(String, String)>,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    method: String,
    time: String,
    message: Option<String>,
    /// Days that suit a call back, as words.
    days: String,
    consent_version: String,
    timeline: Vec<EventRow>,
    methods: Vec<(&'static str, String)>,
    outcomes: Vec<(&'static str, String)>,
    reasons: Vec<(&'static str, String)>,
    form: ActForm,
    error: Option<String>,
    stale: bool,
    patient_id: Option<i64>,
    see_patients: bool,
    edit_patients: bool,
    /// Records with the same e-mail or phone, to link the case to.
    candidates: Vec<(i64, String, Option<String>)>,
    /// The safety flag of the case's patient, for those who see patients.
    safety_flag: Option<crate::web::tms::safety::FlagBanner>,
}

/// `page` with the safety flag of its patient, when the reader sees
/// patients: the queue's case links to the patient and the flag.
async fn with_flag(state: &AppState, who: &SignedIn, mut page: CasePage) -> Result<CasePage> {
    if let Some(patient) = page.patient_id.filter(|_| page.see_patients) {
        page.safety_flag = crate::web::tms::safety::banner_of(state, who, patient).await?;
    }
    Ok(page)
}

fn method_label(tr: &Tr, m: ContactMethod) -> String {
    tr.t(&format!("share-method-{}", m.slug()))
}

fn time_label(tr: &Tr, t: ContactTime) -> String {
    tr.t(&format!("share-time-{}", t.slug()))
}

fn outcome_label(tr: &Tr, o: AttemptOutcome) -> String {
    tr.t(&format!("staff-outcome-{}", o.slug().replace('_', "-")))
}

fn reason_label(tr: &Tr, r: CloseReason) -> String {
    tr.t(&format!("staff-reason-{}", r.as_text().replace('_', "-")))
}

fn event_row(state: &AppState, tr: &Tr, e: &cases::TimelineEntry) -> EventRow {
    let what = match (&e.kind, &e.detail) {
        (
            EventKind::ContactAttempt,
            Some(Detail::ContactAttempt {
                method, outcome, ..
            }),
        ) => tr.args(
            "staff-event-contact-attempt",
            &[
                ("method", method_label(tr, *method)),
                ("outcome", outcome_label(tr, *outcome)),
            ],
        ),
        (kind, _) => tr.t(match kind {
            EventKind::Taken => "staff-event-taken",
            EventKind::Note => "staff-event-note",
            EventKind::ContactAttempt => "staff-event-contact-attempt-plain",
            EventKind::Closed => "staff-event-closed",
            EventKind::Reopened => "staff-event-reopened",
            EventKind::PatientLinked => "staff-event-patient-linked",
        }),
    };
    let note = match &e.detail {
        Some(Detail::Note { text }) => Some(text.clone()),
        Some(Detail::ContactAttempt { note, .. }) => note.clone(),
        None => None,
    };
    EventRow {
        when: format_date_time(e.at, state.config.clinic.time_zone.tz()),
        by: e
            .by
            .clone()
            .unwrap_or_else(|| tr.t("staff-event-by-system")),
        what,
        note,
    }
}

fn case_page(
    state: &AppState,
    who: &SignedIn,
    view: &CaseView,
    candidates: Vec<crate::staff::patients::Patient>,
    form: ActForm,
    error: Option<String>,
    stale: bool,
) -> CasePage {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let now = state.clock.now();
    let title = tr.t1("staff-case-title", "id", view.record.id);
    CasePage {
        id: view.record.id,
        version: view.record.version,
        urgent: view.record.priority == Priority::Urgent,
        priority: priority_label(&tr, view.record.priority),
        status: status_label(&tr, view.record.status),
        closed: view.record.status == CaseStatus::Closed,
        age: format_age(view.record.created_at, now),
        received: format_date_time(view.record.created_at, tz),
        respond_by: format_date_time(view.respond_by, tz),
        overdue: view.record.status != CaseStatus::Closed && view.respond_by < now,
        mine: view
            .record
            .assigned_to
            .as_ref()
            .is_some_and(|(id, _)| *id == who.user.id),
        assigned_to: view.record.assigned_to.as_ref().map(|(_, e)| e.clone()),
        can_work: who.can(Permission::WorkCases),
        kind: super::queue::kind_label(&tr, view.record.kind),
        received_event: match view.record.kind {
            CaseKind::Assessment => "staff-event-shared",
            CaseKind::Message => "staff-event-message",
            CaseKind::Callback => "staff-event-callback",
            CaseKind::Booking => "staff-event-booked",
            CaseKind::Course => "staff-event-course",
        },
        score: view.result.as_ref().map(|r| score_view(&tr, tz, r)),
        appointment: view.appointment.as_ref().map(|a| {
            (
                a.row.uid.clone(),
                crate::time::format_appointment(a.row.starts_at, tz),
            )
        }),
        name: view.contact.name.clone(),
        email: view.contact.email.clone(),
        phone: view.contact.phone.clone(),
        method: method_label(&tr, view.contact.contact_method),
        time: time_label(&tr, view.contact.contact_time),
        message: view.contact.message.clone(),
        days: view
            .contact
            .days
            .iter()
            .map(|d| tr.t(&format!("contact-day-{d}")))
            .collect::<Vec<_>>()
            .join(", "),
        consent_version: view.record.consent_version.clone(),
        timeline: view
            .timeline
            .iter()
            .map(|e| event_row(state, &tr, e))
            .collect(),
        methods: ContactMethod::ALL
            .iter()
            .map(|m| (m.slug(), method_label(&tr, *m)))
            .collect(),
        outcomes: AttemptOutcome::ALL
            .iter()
            .map(|o| (o.slug(), outcome_label(&tr, *o)))
            .collect(),
        reasons: CloseReason::ALL
            .iter()
            .map(|r| (r.as_text(), reason_label(&tr, *r)))
            .collect(),
        form,
        error,
        stale,
        patient_id: view.record.patient_id,
        see_patients: who.can(Permission::SeePatients),
        edit_patients: who.can(Permission::EditPatients),
        candidates: candidates
            .into_iter()
            .map(|p| {
                (
                    p.record.id,
                    p.details.name,
                    p.details.date_of_birth.map(crate::time::format_civil),
                )
            })
            .collect(),
        safety_flag: None,
        l: StaffLayout::new(state, title, Some(who), "queue"),
    }
}

/// Records that may be this case's person, when it has none yet and the
/// viewer may link one.
async fn candidates(
    state: &AppState,
    who: &SignedIn,
    view: &CaseView,
) -> Result<Vec<crate::staff::patients::Patient>> {
    if view.record.patient_id.is_some() || !who.can(Permission::EditPatients) {
        return Ok(Vec::new());
    }
    crate::staff::patients::candidates(
        state,
        view.contact.email.as_deref(),
        view.contact.phone.as_deref(),
    )
    .await
    .map_err(AppError::from)
}

async fn open(state: &AppState, who: &SignedIn, id: i64) -> Result<CaseView> {
    cases::open(state, &who.actor, id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// Set when a change from another page found the case changed.
    changed: Option<String>,
}

pub async fn page(
    Allowed(who, _): Allowed<SeeCase>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response> {
    let view = open(&state, &who, id).await?;
    let form = ActForm {
        version: view.record.version,
        ..ActForm::default()
    };
    let found = candidates(&state, &who, &view).await?;
    let page = case_page(&state, &who, &view, found, form, None, q.changed.is_some());
    let page = with_flag(&state, &who, page).await?;
    Ok(html(StatusCode::OK, &page))
}

/// The action a form asks for, or the message to show beside it.
fn action_of(form: &ActForm) -> std::result::Result<Action, &'static str> {
    let note = |required: bool| match multi_line(&form.text, 4000) {
        Ok(t) => Ok(Some(t)),
        Err(TextError::Empty) if !required => Ok(None),
        Err(TextError::Empty) => Err("staff-error-note-empty"),
        Err(TextError::TooLong) => Err("staff-error-note-long"),
        Err(TextError::Forbidden) => Err("share-error-characters"),
    };
    match form.action.as_str() {
        "take" => Ok(Action::Take),
        "reopen" => Ok(Action::Reopen),
        "note" => Ok(Action::Note(note(true)?.unwrap_or_default())),
        "contact_attempt" => Ok(Action::ContactAttempt {
            method: ContactMethod::from_slug(&form.method).ok_or("staff-error-method")?,
            outcome: AttemptOutcome::from_slug(&form.outcome).ok_or("staff-error-outcome")?,
            note: note(false)?,
        }),
        "close" => Ok(Action::Close(
            CloseReason::from_text(&form.reason)
                .filter(|r| CloseReason::ALL.contains(r))
                .ok_or("staff-error-reason")?,
        )),
        _ => Err("staff-error-action"),
    }
}

pub async fn act(
    Allowed(who, _): Allowed<WorkCases>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActForm>,
) -> Result<Response> {
    let tr = Tr::default();
    let action = match action_of(&form) {
        Ok(a) => a,
        Err(message) => {
            let view = open(&state, &who, id).await?;
            let found = candidates(&state, &who, &view).await?;
            let page = case_page(&state, &who, &view, found, form, Some(tr.t(message)), false);
            let page = with_flag(&state, &who, page).await?;
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match cases::act(&state, &who.actor, id, form.version, action)
        .await
        .map_err(AppError::from)?
    {
        ChangeOutcome::Done => Ok(Redirect::to(&format!("/staff/cases/{id}")).into_response()),
        ChangeOutcome::Missing => Err(AppError::NotFound),
        // Someone else changed it first: show what it is now, keep what
        // this person typed, and let them decide again.
        ChangeOutcome::Stale => {
            let view = open(&state, &who, id).await?;
            let kept = ActForm {
                version: view.record.version,
                ..form
            };
            let found = candidates(&state, &who, &view).await?;
            let page = case_page(&state, &who, &view, found, kept, None, true);
            let page = with_flag(&state, &who, page).await?;
            Ok(html(StatusCode::CONFLICT, &page))
        }
    }
}
