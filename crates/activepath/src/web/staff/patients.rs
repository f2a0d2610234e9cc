//! Patient records in the portal: the list and search, a new record (by
//! hand or from a case), a record's page with its scores over time drawn by
//! the server as SVG (an accessible table beside it), and its clinical notes.

use super::{Allowed, ClinicalNotes, EditPatients, SeePatients, SignedIn, StaffLayout};
use crate::app::AppState;
use crate::assessment::VerifiedResult;
use crate::domain::day::{EARLIEST, Window, parse_date};
use crate::domain::{EmailAddress, PhoneNumber, TextError, multi_line, single_line};
use crate::i18n::Tr;
use crate::staff::Permission;
use crate::staff::patients::{self, Patient, PatientDetails};
use crate::storage::triage::ChangeOutcome;
use crate::time::{format_civil, format_date, format_date_time};
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use clinical::{InstrumentId, Interpretation};
use jiff::civil::Date;
use serde::Deserialize;

pub struct PatientRow {
    id: i64,
    name: String,
    born: Option<String>,
    contact: String,
}

fn row(p: &Patient) -> PatientRow {
    let d = &p.details;
    PatientRow {
        id: p.record.id,
        name: d.name.clone(),
        born: d.date_of_birth.map(format_civil),
        contact: [d.email.clone(), d.phone.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

#[derive(Template)]
#[template(path = "staff/patients.html")]
struct ListPage {
    l: StaffLayout,
    q: String,
    rows: Vec<PatientRow>,
    searched: bool,
    can_edit: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    q: String,
}

pub async fn list(
    Allowed(who, _): Allowed<SeePatients>,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Response> {
    let tr = Tr::default();
    let searched = !query.q.trim().is_empty();
    let found = if searched {
        patients::search(&state, &who.actor, &query.q).await
    } else {
        patients::recent(&state, &who.actor).await
    }
    .map_err(AppError::from)?;
    let page = ListPage {
        l: StaffLayout::new(&state, tr.t("staff-patients-title"), Some(&who), "patients"),
        rows: found.iter().map(row).collect(),
        q: query.q,
        searched,
        can_edit: who.can(Permission::EditPatients),
    };
    Ok(html(StatusCode::OK, &page))
}

/// The new-record form as posted; every field kept as typed.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct PatientForm {
    pub(super) name: String,
    pub(super) date_of_birth: crate::domain::day::DateText,
    pub(super) email: String,
    pub(super) phone: String,
    referring_provider: String,
    notes: String,
    from_case: String,
    case_version: String,
}

#[derive(Debug, Default)]
pub struct FormErrors {
    name: Option<String>,
    date_of_birth: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    referring_provider: Option<String>,
    notes: Option<String>,
}

impl FormErrors {
    /// Each bad field with its message, for the API.
    pub(super) fn pairs(&self) -> Vec<(String, String)> {
        [
            ("name", &self.name),
            ("date_of_birth", &self.date_of_birth),
            ("email", &self.email),
            ("phone", &self.phone),
            ("referring_provider", &self.referring_provider),
            ("notes", &self.notes),
        ]
        .into_iter()
        .filter_map(|(field, message)| Some((field.to_string(), message.clone()?)))
        .collect()
    }

    fn any(&self) -> bool {
        self.name.is_some()
            || self.date_of_birth.is_some()
            || self.email.is_some()
            || self.phone.is_some()
            || self.referring_provider.is_some()
            || self.notes.is_some()
    }
}

/// Checks every field at once (the portal's form and the API).
pub(super) fn parse(
    tr: &Tr,
    form: &PatientForm,
    today: Date,
    notes_allowed: bool,
) -> std::result::Result<(PatientDetails, Option<String>), Box<FormErrors>> {
    let mut e = FormErrors::default();
    let text_error = |err: TextError, long: &str| match err {
        TextError::Empty => tr.t("share-error-name"),
        TextError::TooLong => tr.t(long),
        TextError::Forbidden => tr.t("share-error-characters"),
    };
    let name = single_line(&form.name, 100)
        .map_err(|err| e.name = Some(text_error(err, "share-error-name-long")))
        .ok();
    let date_of_birth = match form.date_of_birth.as_str().trim() {
        "" => None,
        raw => match parse_date(raw, Window::new(EARLIEST, today)) {
            Ok(d) => Some(d),
            Err(_) => {
                e.date_of_birth = Some(tr.t("staff-patient-error-dob"));
                None
            }
        },
    };
    let email = match form.email.trim() {
        "" => None,
        raw => EmailAddress::parse(raw)
            .map(|a| a.as_str().to_string())
            .map_err(|_| e.email = Some(tr.t("share-error-email")))
            .ok(),
    };
    let phone = match form.phone.trim() {
        "" => None,
        raw => PhoneNumber::parse(raw)
            .map(|p| p.as_str().to_string())
            .map_err(|_| e.phone = Some(tr.t("share-error-phone")))
            .ok(),
    };
    let referring_provider = match single_line(&form.referring_provider, 200) {
        Ok(r) => Some(r),
        Err(TextError::Empty) => None,
        Err(err) => {
            e.referring_provider = Some(text_error(err, "staff-patient-error-long"));
            None
        }
    };
    let notes = match multi_line(&form.notes, 10_000) {
        Ok(n) if notes_allowed => Some(n),
        Ok(_) | Err(TextError::Empty) => None,
        Err(err) => {
            e.notes = Some(text_error(err, "staff-patient-error-long"));
            None
        }
    };
    match name {
        Some(name) if !e.any() => Ok((
            PatientDetails {
                name,
                date_of_birth,
                email,
                phone,
                referring_provider,
            },
            notes,
        )),
        _ => Err(Box::new(e)),
    }
}

#[derive(Template)]
#[template(path = "staff/patient_new.html")]
struct NewPage {
    l: StaffLayout,
    form: PatientForm,
    errors: FormErrors,
    notes_allowed: bool,
    stale: bool,
}

fn new_page(
    state: &AppState,
    who: &SignedIn,
    form: PatientForm,
    errors: FormErrors,
    stale: bool,
) -> NewPage {
    let tr = Tr::default();
    NewPage {
        l: StaffLayout::new(
            state,
            tr.t("staff-patient-new-title"),
            Some(who),
            "patients",
        ),
        notes_allowed: who.can(Permission::ClinicalNotes),
        form,
        errors,
        stale,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FromCase {
    from_case: Option<i64>,
}

/// The form, filled in from a case's contact details when made from one.
pub async fn new_form(
    Allowed(who, _): Allowed<EditPatients>,
    State(state): State<AppState>,
    Query(q): Query<FromCase>,
) -> Result<Response> {
    let mut form = PatientForm::default();
    if let Some(case_id) = q.from_case {
        let view = crate::staff::cases::open(&state, &who.actor, case_id)
            .await
            .map_err(AppError::from)?
            .ok_or(AppError::NotFound)?;
        form.name = view.contact.name.clone();
        form.email = view.contact.email.clone().unwrap_or_default();
        form.phone = view.contact.phone.clone().unwrap_or_default();
        form.from_case = case_id.to_string();
        form.case_version = view.record.version.to_string();
    }
    Ok(html(
        StatusCode::OK,
        &new_page(&state, &who, form, FormErrors::default(), false),
    ))
}

pub async fn create(
    Allowed(who, _): Allowed<EditPatients>,
    State(state): State<AppState>,
    Form(form): Form<PatientForm>,
) -> Result<Response> {
    let tr = Tr::default();
    let today = crate::time::date_in(state.clock.now(), state.config.clinic.time_zone.tz());
    let (details, notes) = match parse(&tr, &form, today, who.can(Permission::ClinicalNotes)) {
        Ok(ok) => ok,
        Err(errors) => {
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &new_page(&state, &who, form, *errors, false),
            ));
        }
    };
    let from_case = match (
        form.from_case.parse::<i64>(),
        form.case_version.parse::<i64>(),
    ) {
        (Ok(case), Ok(version)) => Some((case, version)),
        _ => None,
    };
    match patients::create(&state, &who.actor, details, notes, from_case)
        .await
        .map_err(AppError::from)?
    {
        Some(id) => Ok(Redirect::to(&format!("/staff/patients/{id}")).into_response()),
        None => Ok(html(
            StatusCode::CONFLICT,
            &new_page(&state, &who, form, FormErrors::default(), true),
        )),
    }
}

/// One instrument's totals over time, drawn as SVG.
pub struct Chart {
    id: String,
    title: String,
    summary: String,
    width: u32,
    height: u32,
    bands: Vec<BandRect>,
    ticks: Vec<(u32, u8)>,
    line: String,
    points: Vec<(u32, u32)>,
    first: String,
    last: String,
    rows: Vec<(String, u8, String, i64)>,
}

pub struct BandRect {
    y: u32,
    h: u32,
    class: &'static str,
    label: String,
    label_y: u32,
}

const LEFT: u32 = 40;
const RIGHT: u32 = 150;
const TOP: u32 = 10;
const PLOT_H: u32 = 200;

fn chart(
    tr: &Tr,
    tz: &jiff::tz::TimeZone,
    id: InstrumentId,
    results: &[&(i64, VerifiedResult)],
) -> Chart {
    let def = id.definition();
    let max = u32::from(def.max_total());
    let width = 640;
    let plot_w = width - LEFT - RIGHT;
    let y_of = |score: u32| TOP + PLOT_H - score * PLOT_H / max;
    let classes = ["band-a", "band-b", "band-c", "band-d", "band-e"];
    let bands = match def.interpretation {
        Interpretation::Bands(bands) => bands
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let top = y_of((u32::from(b.max) + 1).min(max));
                let bottom = y_of(u32::from(b.min));
                BandRect {
                    y: top,
                    h: bottom - top,
                    class: classes[i % classes.len()],
                    label: tr.t(&format!("band-{}", b.severity.slug())),
                    label_y: (top + bottom) / 2 + 4,
                }
            })
            .collect(),
        Interpretation::Cutoff { .. } => Vec::new(),
    };
    let times: Vec<i64> = results
        .iter()
        .map(|(_, r)| r.created_at.as_millisecond())
        .collect();
    let (t0, t1) = (times[0], *times.last().unwrap_or(&times[0]));
    let x_of = |t: i64| {
        if t1 == t0 {
            LEFT + plot_w / 2
        } else {
            LEFT + ((t - t0) as f64 / (t1 - t0) as f64 * f64::from(plot_w)) as u32
        }
    };
    let points: Vec<(u32, u32)> = results
        .iter()
        .map(|(_, r)| {
            (
                x_of(r.created_at.as_millisecond()),
                y_of(u32::from(r.score.total)),
            )
        })
        .collect();
    let rows = results
        .iter()
        .map(|(case_id, r)| {
            (
                format_date(r.created_at, tz),
                r.score.total,
                tr.t(&format!("band-{}", r.score.severity.slug())),
                *case_id,
            )
        })
        .collect();
    let last = results.last().expect("at least one result");
    Chart {
        id: format!("chart-{}", id.slug()),
        title: tr.t1("staff-chart-title", "instrument", def.name),
        summary: tr.args(
            "staff-chart-summary",
            &[
                ("count", results.len().to_string()),
                ("total", last.1.score.total.to_string()),
                ("max", max.to_string()),
                ("date", format_date(last.1.created_at, tz)),
            ],
        ),
        width,
        height: TOP + PLOT_H + 30,
        bands,
        ticks: (0..=max)
            .step_by(if max > 21 { 5 } else { 3 })
            .map(|v| (y_of(v), v as u8))
            .collect(),
        line: points
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" "),
        points,
        first: format_date(results[0].1.created_at, tz),
        last: format_date(last.1.created_at, tz),
        rows,
    }
}

#[derive(Template)]
#[template(path = "staff/patient.html")]
struct PatientPage {
    l: StaffLayout,
    id: i64,
    version: i64,
    details: PatientDetails,
    born: Option<String>,
    created: String,
    notes_allowed: bool,
    notes: String,
    charts: Vec<Chart>,
    stale: bool,
    /// (id, protocol, status, start date) of the patient's TMS courses.
    courses: Vec<(i64, String, String, String)>,
    can_start_course: bool,
    safety_flag: Option<crate::web::tms::safety::FlagBanner>,
    safety_reviews: Vec<crate::web::tms::safety::ReviewRow>,
}

async fn patient_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    notes_typed: Option<String>,
    stale: bool,
) -> Result<PatientPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let notes_allowed = who.can(Permission::ClinicalNotes);
    let (patient, results) = patients::open(state, &who.actor, id, notes_allowed)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)?;
    let mut charts = Vec::new();
    for instrument in [InstrumentId::Phq9, InstrumentId::Gad7] {
        let of: Vec<&(i64, VerifiedResult)> = results
            .iter()
            .filter(|(_, r)| r.instrument == instrument)
            .collect();
        if !of.is_empty() {
            charts.push(chart(&tr, tz, instrument, &of));
        }
    }
    let courses = if who.can(Permission::SeeCourses) {
        state
            .storage
            .patient_courses(id)
            .await?
            .into_iter()
            .map(|c| {
                (
                    c.id,
                    crate::tms::protocol(&state.config.tms, &c.protocol)
                        .map_or_else(|| c.protocol.clone(), |p| p.name.to_string()),
                    tr.t(&format!("course-status-{}", c.status)),
                    c.start_date,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let safety_flag = crate::web::tms::safety::banner_of(state, who, id).await?;
    let safety_reviews = crate::web::tms::safety::review_rows(state, who, id).await?;
    Ok(PatientPage {
        safety_flag,
        safety_reviews,
        courses,
        can_start_course: who.can(Permission::ManageCourses),
        l: StaffLayout::new(state, patient.details.name.clone(), Some(who), "patients"),
        id: patient.record.id,
        version: patient.record.version,
        born: patient.details.date_of_birth.map(format_civil),
        created: format_date_time(patient.record.created_at, tz),
        notes: notes_typed.or(patient.notes).unwrap_or_default(),
        details: patient.details,
        notes_allowed,
        charts,
        stale,
    })
}

pub async fn page(
    Allowed(who, _): Allowed<SeePatients>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    Ok(html(
        StatusCode::OK,
        &patient_page(&state, &who, id, None, false).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NotesForm {
    version: i64,
    notes: String,
}

pub async fn save_notes(
    Allowed(who, _): Allowed<ClinicalNotes>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<NotesForm>,
) -> Result<Response> {
    let notes = match multi_line(&form.notes, 10_000) {
        Ok(n) => n,
        Err(TextError::Empty) => String::new(),
        Err(_) => {
            let page = patient_page(&state, &who, id, Some(form.notes), false).await?;
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match crate::staff::patients::set_notes(&state, &who.actor, id, form.version, &notes)
        .await
        .map_err(AppError::from)?
    {
        ChangeOutcome::Done => Ok(Redirect::to(&format!("/staff/patients/{id}")).into_response()),
        ChangeOutcome::Missing => Err(AppError::NotFound),
        ChangeOutcome::Stale => {
            let page = patient_page(&state, &who, id, Some(form.notes), true).await?;
            Ok(html(StatusCode::CONFLICT, &page))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LinkForm {
    patient: i64,
    version: i64,
}

/// Links a case to an existing record (from the case page).
pub async fn link_case(
    Allowed(who, _): Allowed<EditPatients>,
    State(state): State<AppState>,
    Path(case_id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> Result<Response> {
    match patients::link_case(&state, &who.actor, form.patient, case_id, form.version)
        .await
        .map_err(AppError::from)?
    {
        ChangeOutcome::Done => Ok(Redirect::to(&format!("/staff/cases/{case_id}")).into_response()),
        ChangeOutcome::Missing => Err(AppError::NotFound),
        // The case page shows what it is now.
        ChangeOutcome::Stale => {
            Ok(Redirect::to(&format!("/staff/cases/{case_id}?changed=1")).into_response())
        }
    }
}
