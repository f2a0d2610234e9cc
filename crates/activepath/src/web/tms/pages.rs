//! TMS courses in the portal: the list of courses, a patient's new course,
//! the course page (progress chart drawn by the server as SVG with the same
//! numbers in a table, sessions, motor thresholds, authorizations, holds,
//! status, check-ins sent to the patient), and the technician's session
//! screen, sized for a phone or a tablet. Every action goes through
//! `crate::tms`, as the API does.

use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::{FieldErrors, Permission};
use crate::time::{format_date, format_date_time};
use crate::tms::{self, Course};
use crate::web::layout::html;
use crate::web::staff::{
    Allowed, ManageAuthorizations, ManageCourses, ManageSchedule, RecordTreatment, SeeCourses,
    SignedIn, StaffLayout,
};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;

pub mod before;

/// One form field, drawn by `partials/staff_field.html`: its label, the
/// value typed, and the message beside it when it is wrong.
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// `text`, `number`, `date`, `datetime-local`, `select`, `textarea`.
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<(String, String)>,
    pub hint: Option<String>,
    pub error: Option<String>,
    pub required: bool,
    /// Extra attributes for `number` (`min`, `max`, `step`).
    pub min: Option<String>,
    pub max: Option<String>,
    pub step: Option<String>,
}

impl Field {
    pub(super) fn new(
        name: &'static str,
        label: String,
        kind: &'static str,
        value: String,
    ) -> Self {
        Field {
            name,
            label,
            kind,
            value,
            options: Vec::new(),
            hint: None,
            error: None,
            required: false,
            min: None,
            max: None,
            step: None,
        }
    }

    pub(super) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(super) fn range(mut self, min: impl ToString, max: impl ToString, step: &str) -> Self {
        self.min = Some(min.to_string());
        self.max = Some(max.to_string());
        self.step = Some(step.to_string());
        self
    }

    pub(super) fn options(mut self, options: Vec<(String, String)>) -> Self {
        self.options = options;
        self
    }

    pub(super) fn hint(mut self, hint: String) -> Self {
        self.hint = Some(hint);
        self
    }

    pub(super) fn selected(&self, value: &str) -> bool {
        self.value == value
    }
}

/// Puts each error beside its field, and returns the error summary: (the
/// field's id to link to, or "" for an error of no field; what is wrong).
pub(super) fn place(fields: &mut [Field], errors: &FieldErrors) -> Vec<(String, String)> {
    let mut summary = Vec::new();
    for (name, message) in errors {
        match fields.iter_mut().find(|f| f.name == name.as_str()) {
            Some(f) => {
                f.error = Some(message.clone());
                summary.push((name.clone(), format!("{}: {message}", f.label)));
            }
            None => summary.push((String::new(), message.clone())),
        }
    }
    summary
}

/// The typed values of a posted form, by name (checkboxes may repeat).
pub(super) type Typed = HashMap<String, Vec<String>>;

pub(super) fn typed(fields: Vec<(String, String)>) -> Typed {
    let mut out: Typed = HashMap::new();
    for (k, v) in fields {
        out.entry(k).or_default().push(v);
    }
    out
}

pub(super) fn value(t: &Typed, name: &str) -> String {
    t.get(name)
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default()
}

pub(super) fn opt(t: &Typed, name: &str) -> Option<String> {
    Some(value(t, name)).filter(|v| !v.trim().is_empty())
}

/// A whole number as typed; text that is not one becomes a value the
/// core refuses with its own message (so the field is named).
pub(super) fn number(t: &Typed, name: &str) -> Option<i64> {
    opt(t, name).map(|v| v.trim().parse().unwrap_or(i64::MIN))
}

pub(super) fn label(tr: &Tr, prefix: &str, id: &str) -> String {
    tr.t(&format!("{prefix}-{id}"))
}

// ---------------------------------------------------------------- list

pub struct CourseRow {
    id: i64,
    name: String,
    protocol: String,
    status: String,
    sessions: String,
    /// The patient's safety flag is up.
    flagged: bool,
    /// The latest PHQ-9 is 5 or more points worse.
    worse: bool,
}

#[derive(Template)]
#[template(path = "staff/courses.html")]
struct ListPage {
    l: StaffLayout,
    rows: Vec<CourseRow>,
}

/// The patient's name, to say whose course it is.
pub(super) async fn patient_name(state: &AppState, patient_id: i64) -> Result<String> {
    Ok(crate::staff::patients::details(state, patient_id)
        .await
        .map_err(AppError::from)?
        .map(|d| d.name)
        .unwrap_or_default())
}

fn protocol_name(state: &AppState, id: &str) -> String {
    tms::protocol(&state.config.tms, id).map_or_else(|| id.to_string(), |p| p.name.to_string())
}

/// `GET /staff/courses`: courses that take sessions first, then the rest;
/// the technician's way in.
pub async fn list(
    Allowed(who, _): Allowed<SeeCourses>,
    State(state): State<AppState>,
) -> Result<Response> {
    let tr = Tr::default();
    let records = state.storage.recent_courses(200).await?;
    crate::staff::audit::seen(
        &state,
        who.actor
            .did("list", "tms_course", records.len(), state.clock.now()),
    )
    .await
    .map_err(AppError::from)?;
    // One query each for the names and the sessions, whatever the length.
    let patients: Vec<i64> = records.iter().map(|r| r.patient_id).collect();
    let names = crate::staff::patients::names(&state, &patients)
        .await
        .map_err(AppError::from)?;
    let courses: Vec<i64> = records.iter().map(|r| r.id).collect();
    let given = state.storage.sessions_given(&courses).await?;
    let flags = tms::safety::flags(&state, &patients)
        .await
        .map_err(AppError::from)?;
    let worse = tms::baseline::worsening_of(&state, &courses)
        .await
        .map_err(AppError::from)?;
    let mut rows = Vec::new();
    for r in records {
        let name = names.get(&r.patient_id).cloned().unwrap_or_default();
        let done = given.get(&r.id).copied().unwrap_or(0);
        rows.push(CourseRow {
            flagged: flags.contains_key(&r.patient_id),
            id: r.id,
            name,
            protocol: protocol_name(&state, &r.protocol),
            status: label(&tr, "course-status", &r.status),
            sessions: tr.args(
                "course-sessions-of",
                &[
                    ("count", done.to_string()),
                    ("max", r.planned_sessions.to_string()),
                ],
            ),
            worse: worse.contains(&r.id),
        });
    }
    Ok(html(
        StatusCode::OK,
        &ListPage {
            l: StaffLayout::new(&state, tr.t("course-list-title"), Some(&who), "courses"),
            rows,
        },
    ))
}

// ---------------------------------------------------------------- new course

#[derive(Template)]
#[template(path = "staff/course_new.html")]
struct NewPage {
    l: StaffLayout,
    patient_id: i64,
    patient_name: String,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

fn new_fields(tr: &Tr, tms_config: &crate::config::Tms, t: &Typed, today: &str) -> Vec<Field> {
    let mut protocols: Vec<(String, String)> = tms::protocols(tms_config)
        .iter()
        .map(|p| (p.id.to_string(), p.name.to_string()))
        .collect();
    protocols.insert(0, (String::new(), tr.t("course-choose")));
    let choices = |prefix: &str, ids: &[&str]| {
        let mut out: Vec<(String, String)> = ids
            .iter()
            .map(|id| (id.to_string(), label(tr, prefix, id)))
            .collect();
        out.insert(0, (String::new(), tr.t("course-not-set")));
        out
    };
    let start = opt(t, "start_date").unwrap_or_else(|| today.to_string());
    vec![
        Field::new(
            "protocol",
            tr.t("course-protocol"),
            "select",
            value(t, "protocol"),
        )
        .options(protocols)
        .required(),
        Field::new(
            "planned_sessions",
            tr.t("course-planned"),
            "number",
            value(t, "planned_sessions"),
        )
        .range(1, tms::MAX_SESSIONS, "1")
        .hint(tr.t("course-planned-hint")),
        Field::new("start_date", tr.t("course-start"), "date", start).required(),
        Field::new(
            "target",
            tr.t("course-target"),
            "select",
            value(t, "target"),
        )
        .options(choices("course-target", &tms::TARGETS)),
        Field::new(
            "localization",
            tr.t("course-localization"),
            "select",
            value(t, "localization"),
        )
        .options(choices("course-localization", &tms::LOCALIZATIONS)),
    ]
}

async fn new_page(
    state: &AppState,
    who: &SignedIn,
    patient_id: i64,
    t: &Typed,
    errors: &FieldErrors,
) -> Result<NewPage> {
    let tr = Tr::default();
    let details = crate::staff::patients::details(state, patient_id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)?;
    // The form names the patient: a look at their record, recorded.
    crate::staff::audit::seen(
        state,
        who.actor.did(
            "view new-course form",
            "patient",
            patient_id,
            state.clock.now(),
        ),
    )
    .await
    .map_err(AppError::from)?;
    let today = crate::time::date_in(state.clock.now(), state.config.clinic.time_zone.tz());
    let mut fields = new_fields(&tr, &state.config.tms, t, &today.to_string());
    let errors = place(&mut fields, errors);
    Ok(NewPage {
        l: StaffLayout::new(state, tr.t("course-new-title"), Some(who), "patients"),
        patient_id,
        patient_name: details.name,
        fields,
        errors,
    })
}

/// `GET /staff/patients/{id}/courses/new`.
pub async fn new_form(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(patient_id): Path<i64>,
) -> Result<Response> {
    let page = new_page(&state, &who, patient_id, &Typed::new(), &Vec::new()).await?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/patients/{id}/courses`.
pub async fn create(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(patient_id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let plan = tms::CoursePlan {
        protocol: opt(&t, "protocol"),
        planned_sessions: number(&t, "planned_sessions"),
        start_date: opt(&t, "start_date"),
        target: opt(&t, "target"),
        localization: opt(&t, "localization"),
        order: None,
    };
    match tms::start_course(&state, &who.actor, patient_id, plan)
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(id)) => Ok(Redirect::to(&format!("/staff/courses/{id}")).into_response()),
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let page = new_page(&state, &who, patient_id, &t, &errors).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

// ---------------------------------------------------------------- course page

/// PHQ-9 over sessions, drawn as SVG: the points, the baseline, the 50%
/// line (response) and the remission line (below 5).
pub struct Chart {
    width: u32,
    height: u32,
    line: String,
    points: Vec<(u32, u32)>,
    /// (y, label) of the reference lines.
    guides: Vec<(u32, String, &'static str)>,
    y_ticks: Vec<(u32, u8)>,
    x_ticks: Vec<(u32, u32)>,
    summary: String,
}

const LEFT: u32 = 40;
const RIGHT: u32 = 140;
const TOP: u32 = 10;
const PLOT_H: u32 = 200;

fn chart(tr: &Tr, course: &Course, planned: i64) -> Option<Chart> {
    let baseline = course.progress.baseline?;
    let width = 640;
    let plot_w = width - LEFT - RIGHT;
    let max_x = (planned.max(course.sessions.len() as i64).max(1)) as u32;
    let y_of = |score: u32| TOP + PLOT_H - score.min(27) * PLOT_H / 27;
    let x_of = |n: u32| LEFT + n.min(max_x) * plot_w / max_x;
    let points: Vec<(u32, u32)> = course
        .check_ins
        .iter()
        .map(|c| {
            let done = course
                .sessions
                .iter()
                .filter(|s| s.started_at < c.taken_at)
                .count() as u32;
            (x_of(done), y_of(c.total.clamp(0, 27) as u32))
        })
        .collect();
    let half = u32::from(baseline) / 2;
    let mut guides = vec![(
        y_of(u32::from(baseline)),
        tr.t1("course-chart-baseline", "total", baseline),
        "guide-baseline",
    )];
    if baseline >= clinical::mbc::ELEVATED_BASELINE {
        guides.push((y_of(half), tr.t("course-chart-response"), "guide-response"));
    }
    guides.push((y_of(5), tr.t("course-chart-remission"), "guide-remission"));
    let step = if max_x > 20 { 10 } else { 5 };
    Some(Chart {
        width,
        height: TOP + PLOT_H + 36,
        line: points
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" "),
        points,
        guides,
        y_ticks: [0u8, 5, 10, 15, 20, 27]
            .iter()
            .map(|v| (y_of(u32::from(*v)), *v))
            .collect(),
        x_ticks: (0..=max_x).step_by(step).map(|n| (x_of(n), n)).collect(),
        summary: summary(tr, course),
    })
}

/// The progress in one sentence (the chart's text alternative).
fn summary(tr: &Tr, course: &Course) -> String {
    let p = &course.progress;
    match (p.baseline, p.latest, p.percent_change) {
        (Some(b), Some(l), Some(change)) => tr.args(
            "course-summary",
            &[
                ("from", b.to_string()),
                ("to", l.to_string()),
                ("count", course.check_ins.len().to_string()),
                ("change", format!("{:+.0}", change)),
                ("band", label(tr, "course-category", p.category.as_str())),
            ],
        ),
        (Some(b), _, _) => tr.t1("course-summary-baseline", "total", b),
        _ => tr.t("course-summary-none"),
    }
}

pub struct CheckInRow {
    date: String,
    sessions: usize,
    total: i64,
    change: String,
    flagged: bool,
    source: String,
    case_id: Option<i64>,
}

pub struct SessionRow {
    number: usize,
    when: String,
    threshold: String,
    intensity: i64,
    pulses: i64,
    trains: String,
    interval: String,
    duration: String,
    equipment: String,
    side_effects: String,
    /// The deviations' text, for a clinician.
    deviations: String,
    /// Deviations were recorded, and the reader is not a clinician.
    deviations_withheld: bool,
    operator: String,
}

pub struct AuthorizationRow {
    id: i64,
    payer: String,
    number: String,
    sessions: i64,
    dates: String,
    extends: Option<i64>,
}

pub struct HoldRow {
    id: i64,
    reason: String,
    opened: String,
    case_id: Option<i64>,
    /// Only a medical director may clear it (a seizure, fainting or other
    /// serious adverse event).
    needs_md: bool,
    /// The reader may clear it.
    may_clear: bool,
    /// An adverse-event hold, and the reader may record the event.
    record_event: bool,
    /// The note as typed, and what was wrong with it.
    note: String,
    note_error: Option<String>,
}

/// Rows the course page shows for holds cleared, thresholds and adverse
/// events (issue 19 §2); built in `crate::web::tms::holds`.
pub use super::holds::{AdverseEventRow, ClearedHoldRow, ThresholdRow};

/// Which of the course page's forms a post came from, with what was typed
/// and what was wrong.
#[derive(Default)]
struct Posted {
    form: &'static str,
    typed: Typed,
    errors: FieldErrors,
    /// Times a series could not have, with alternatives.
    conflicts: Vec<tms::schedule::Conflict>,
}

pub struct ScheduleRow {
    id: i64,
    when: String,
    status: String,
    can_miss: bool,
}

/// A time the series could not have, with other times that day to choose.
pub struct ConflictRow {
    /// `YYYY-MM-DD` in the location's calendar: the `instead-` field's name.
    date: String,
    text: String,
    options: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "staff/course.html")]
struct CoursePage {
    l: StaffLayout,
    id: i64,
    patient_name: String,
    patient_id: i64,
    can_see_patient: bool,
    facts: Vec<(String, String)>,
    alerts: Vec<String>,
    holds: Vec<HoldRow>,
    cleared_holds: Vec<ClearedHoldRow>,
    adverse_events: Vec<AdverseEventRow>,
    chart: Option<Chart>,
    check_ins: Vec<CheckInRow>,
    sessions: Vec<SessionRow>,
    thresholds: Vec<ThresholdRow>,
    authorizations: Vec<AuthorizationRow>,
    takes_sessions: bool,
    takes_check_ins: bool,
    can_record: bool,
    can_manage: bool,
    can_authorize: bool,
    threshold_fields: Vec<Field>,
    threshold_errors: Vec<(String, String)>,
    authorization_fields: Vec<Field>,
    authorization_errors: Vec<(String, String)>,
    status_fields: Vec<Field>,
    status_errors: Vec<(String, String)>,
    link_errors: Vec<(String, String)>,
    /// The clinic's tablets: (id, name).
    tablets: Vec<(i64, String)>,
    notice: Option<String>,
    schedule: Vec<ScheduleRow>,
    can_schedule: bool,
    series_fields: Vec<Field>,
    series_errors: Vec<(String, String)>,
    conflicts: Vec<ConflictRow>,
    can_change: bool,
    change_fields: Vec<Field>,
    change_errors: Vec<(String, String)>,
    /// What the course still needs before a session (consent, safety
    /// screen, order), in words; empty when ready.
    before_missing: Vec<String>,
    safety_flag: Option<super::safety::FlagBanner>,
    safety_reviews: Vec<super::safety::ReviewRow>,
}

pub(super) fn date_time_input(at: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A `datetime-local` value in the clinic's time zone, as RFC 3339; what
/// is not one passes through for the core to refuse.
pub(super) fn local_to_rfc3339(raw: &str, tz: &jiff::tz::TimeZone) -> String {
    raw.trim()
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned_datetime(tz.clone()).ok())
        .map_or_else(|| raw.to_string(), |z| crate::time::rfc3339(z.timestamp()))
}

async fn course_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    posted: Posted,
    notice: Option<String>,
) -> Result<CoursePage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let course = tms::open(state, &who.actor, who.user.role, id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)?;
    let r = &course.record;
    let patient_name = patient_name(state, r.patient_id).await?;
    let before_missing = tms::orders::readiness(state, id, false)
        .await
        .map_err(AppError::from)?
        .missing()
        .into_iter()
        .map(|m| tr.t(&format!("before-missing-{m}")))
        .collect();
    let p = &course.progress;
    let mut facts = vec![
        (
            tr.t("course-status"),
            label(&tr, "course-status", &r.status),
        ),
        (tr.t("course-protocol"), protocol_name(state, &r.protocol)),
        (
            tr.t("course-sessions"),
            tr.args(
                "course-sessions-of",
                &[
                    ("count", course.sessions.len().to_string()),
                    ("max", r.planned_sessions.to_string()),
                ],
            ),
        ),
        (tr.t("course-start"), r.start_date.clone()),
    ];
    if let Some(reason) = &r.stop_reason {
        facts.push((
            tr.t("course-stop-reason"),
            label(&tr, "course-stop", reason),
        ));
    }
    if let Some(t) = &r.target {
        let place = r
            .localization
            .as_deref()
            .map(|l| format!(" ({})", label(&tr, "course-localization", l)))
            .unwrap_or_default();
        facts.push((
            tr.t("course-target"),
            format!("{}{place}", label(&tr, "course-target", t)),
        ));
    }
    if let Some(b) = p.baseline {
        facts.push((tr.t("course-baseline"), b.to_string()));
    }
    if let Some(l) = p.latest {
        facts.push((tr.t("course-latest"), l.to_string()));
    }
    if let Some(c) = p.percent_change {
        facts.push((tr.t("course-change"), format!("{c:+.0}%")));
    }
    facts.push((
        tr.t("course-category"),
        match p.category_reason {
            Some(why) => label(&tr, "course-category-reason", why.as_str()),
            None => label(&tr, "course-category", p.category.as_str()),
        },
    ));
    if let Some(due) = course.check_in_due {
        facts.push((
            tr.t("course-check-in-due"),
            match due {
                tms::CheckInDue::AtSession(n) => tr.t1("course-due-session", "number", n),
                tms::CheckInDue::FollowUp(m) => tr.t1("course-due-follow-up", "count", m),
                other => label(&tr, "course-due", &other.name()),
            },
        ));
    }
    let baseline = p.baseline;
    let check_ins = course
        .check_ins
        .iter()
        .enumerate()
        .map(|(i, c)| CheckInRow {
            date: format_date_time(c.taken_at, tz),
            sessions: course
                .sessions
                .iter()
                .filter(|s| s.started_at < c.taken_at)
                .count(),
            total: c.total,
            change: baseline
                .and_then(|b| clinical::mbc::percent_change(b, c.total.clamp(0, 27) as u8))
                .map(|v| format!("{v:+.0}%"))
                .unwrap_or_else(|| "—".into()),
            flagged: c.self_harm_flag,
            source: if course.baseline == Some(i) {
                format!(
                    "{} · {}",
                    label(&tr, "course-source", &c.source),
                    tr.t("course-baseline-mark")
                )
            } else {
                label(&tr, "course-source", &c.source)
            },
            case_id: c.case_id,
        })
        .collect();
    let sessions = course
        .sessions
        .iter()
        .zip(&course.deviations)
        .enumerate()
        .map(|(i, (s, deviations))| {
            let d = &s.details;
            SessionRow {
                number: i + 1,
                when: format_date_time(s.started_at, tz),
                threshold: tr.args(
                    "course-threshold-at",
                    &[
                        ("count", s.motor_threshold.to_string()),
                        ("date", format_date(s.motor_threshold_at, tz)),
                    ],
                ),
                intensity: s.intensity_percent_mt,
                pulses: s.pulses,
                trains: d.trains.map(|t| t.to_string()).unwrap_or_default(),
                interval: d
                    .intertrain_interval_ds
                    .map(|v| format!("{:.1} s", v as f64 / 10.0))
                    .unwrap_or_default(),
                duration: d
                    .duration_s
                    .map(|v| format!("{}:{:02}", v / 60, v % 60))
                    .unwrap_or_default(),
                equipment: [d.device.clone(), d.coil.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
                side_effects: if s.side_effects.is_empty() {
                    tr.t("course-effect-none")
                } else {
                    s.side_effects
                        .iter()
                        .map(|e| label(&tr, "course-effect", e))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                deviations: deviations.text().unwrap_or_default().to_string(),
                deviations_withheld: *deviations == tms::Deviations::Withheld,
                operator: d.operator.clone().unwrap_or_default(),
            }
        })
        .collect();
    let takes_sessions = matches!(r.status.as_str(), "planned" | "active");
    let empty = Typed::new();
    let typed_for = |form: &str| {
        if posted.form == form {
            &posted.typed
        } else {
            &empty
        }
    };
    let errors_for = |form: &str| {
        if posted.form == form {
            posted.errors.clone()
        } else {
            Vec::new()
        }
    };
    let t = typed_for("threshold");
    let mut threshold_fields = vec![
        Field::new(
            "determined_at",
            tr.t("course-threshold-when"),
            "datetime-local",
            opt(t, "determined_at").unwrap_or_else(|| date_time_input(state.clock.now(), tz)),
        )
        .required(),
        Field::new(
            "percent_output",
            tr.t("course-threshold-output"),
            "number",
            value(t, "percent_output"),
        )
        .range(1, 100, "1")
        .required(),
    ];
    threshold_fields.extend(super::holds::threshold_fields(&tr, t));
    let threshold_errors = place(&mut threshold_fields, &errors_for("threshold"));
    let t = typed_for("authorization");
    let mut extends: Vec<(String, String)> = course
        .authorizations
        .iter()
        .map(|a| {
            (
                a.record.id.to_string(),
                format!("{} · {}", a.record.payer, a.number),
            )
        })
        .collect();
    extends.insert(0, (String::new(), tr.t("course-authorization-new")));
    let mut authorization_fields = vec![
        Field::new("payer", tr.t("course-payer"), "text", value(t, "payer")).required(),
        Field::new(
            "number",
            tr.t("course-authorization-number"),
            "text",
            value(t, "number"),
        )
        .required(),
        Field::new(
            "sessions_authorized",
            tr.t("course-authorized-sessions"),
            "number",
            value(t, "sessions_authorized"),
        )
        .range(1, tms::MAX_SESSIONS, "1")
        .required(),
        Field::new(
            "valid_from",
            tr.t("course-valid-from"),
            "date",
            value(t, "valid_from"),
        )
        .required(),
        Field::new(
            "valid_to",
            tr.t("course-valid-to"),
            "date",
            value(t, "valid_to"),
        )
        .required(),
        Field::new(
            "extends",
            tr.t("course-extends"),
            "select",
            value(t, "extends"),
        )
        .options(extends),
    ];
    let authorization_errors = place(&mut authorization_fields, &errors_for("authorization"));
    let t = typed_for("status");
    let from = r.status.as_str();
    let mut moves: Vec<(String, String)> = tms::next_statuses(from)
        .iter()
        .map(|s| (s.to_string(), label(&tr, "course-status", s)))
        .collect();
    moves.insert(0, (String::new(), tr.t("course-choose")));
    let mut reasons: Vec<(String, String)> = tms::STOP_REASONS
        .iter()
        .map(|s| (s.to_string(), label(&tr, "course-stop", s)))
        .collect();
    reasons.insert(0, (String::new(), tr.t("course-not-set")));
    let mut status_fields = if moves.len() > 1 {
        vec![
            Field::new(
                "status",
                tr.t("course-new-status"),
                "select",
                value(t, "status"),
            )
            .options(moves)
            .required(),
            Field::new(
                "stop_reason",
                tr.t("course-stop-reason"),
                "select",
                value(t, "stop_reason"),
            )
            .options(reasons)
            .hint(tr.t("course-stop-reason-hint")),
        ]
    } else {
        Vec::new()
    };
    let status_errors = place(&mut status_fields, &errors_for("status"));
    let link_errors = place(&mut [], &errors_for("link"));
    let now = state.clock.now();
    let upcoming: Vec<&crate::storage::tms::SeriesRow> = course
        .series
        .iter()
        .filter(|x| {
            x.appointment.status == "booked"
                && x.missed_at.is_none()
                && x.appointment.starts_at > now
        })
        .collect();
    let schedule = course
        .series
        .iter()
        .map(|x| ScheduleRow {
            id: x.appointment.id,
            when: format_date_time(x.appointment.starts_at, tz),
            status: if x.missed_at.is_some() {
                tr.t("course-booked-missed")
            } else if x.appointment.status == "cancelled" {
                tr.t("course-booked-cancelled")
            } else if x.makeup_of.is_some() {
                tr.t("course-booked-makeup")
            } else {
                tr.t("course-booked-booked")
            },
            can_miss: who.can(Permission::RecordTreatment)
                && x.appointment.status == "booked"
                && x.missed_at.is_none()
                && x.appointment.starts_at <= now,
        })
        .collect();
    let can_schedule = who.can(Permission::ManageSchedule) && takes_sessions && upcoming.is_empty();
    let t = typed_for("series");
    let mut series_fields = Vec::new();
    if can_schedule {
        let cat = crate::booking::Catalogue::load(state)
            .await
            .map_err(anyhow::Error::from)?;
        let locations: Vec<(String, String)> = cat
            .type_by_slug(tms::schedule::SESSION_TYPE)
            .map(|kind| {
                cat.locations_for(kind)
                    .iter()
                    .map(|l| (l.slug.clone(), l.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        series_fields.push(
            Field::new(
                "location",
                tr.t("course-series-location"),
                "select",
                value(t, "location"),
            )
            .options(locations)
            .required(),
        );
        series_fields.push(
            Field::new(
                "first_start",
                tr.t("course-series-first"),
                "datetime-local",
                value(t, "first_start"),
            )
            .hint(tr.t("course-series-first-hint"))
            .required(),
        );
    }
    let series_errors = place(&mut series_fields, &errors_for("series"));
    let conflicts = posted
        .conflicts
        .iter()
        .map(|c| {
            let day = c.start.to_zoned_datetime(tz.clone()).date();
            let mut options: Vec<(String, String)> = c
                .alternatives
                .iter()
                .map(|a| a.to_zoned_datetime(tz.clone()))
                .filter(|z| z.date() == day)
                .map(|z| {
                    let hm = z.strftime("%H:%M").to_string();
                    (hm.clone(), hm)
                })
                .collect();
            options.insert(0, (String::new(), tr.t("course-conflict-keep")));
            ConflictRow {
                date: day.to_string(),
                text: tr.args(
                    "course-conflict",
                    &[
                        ("number", c.number.to_string()),
                        ("when", format_date_time(c.start, tz)),
                        ("why", label(&tr, "course-conflict", c.reason)),
                        (
                            "kind",
                            c.alternatives
                                .iter()
                                .take(3)
                                .map(|a| format_date_time(*a, tz))
                                .collect::<Vec<_>>()
                                .join("; "),
                        ),
                    ],
                ),
                options,
            }
        })
        .collect();
    let can_change = who.can(Permission::ManageSchedule) && !upcoming.is_empty();
    let t = typed_for("change");
    let mut change_fields = Vec::new();
    if can_change {
        change_fields.push(
            Field::new(
                "appointment",
                tr.t("course-change-session"),
                "select",
                value(t, "appointment"),
            )
            .options(
                upcoming
                    .iter()
                    .map(|x| {
                        (
                            x.appointment.id.to_string(),
                            format_date_time(x.appointment.starts_at, tz),
                        )
                    })
                    .collect(),
            )
            .required(),
        );
        let choices = |prefix: &str, ids: &[&str]| -> Vec<(String, String)> {
            ids.iter()
                .map(|id| (id.to_string(), label(&tr, prefix, id)))
                .collect()
        };
        change_fields.push(
            Field::new(
                "scope",
                tr.t("course-change-scope"),
                "select",
                value(t, "scope"),
            )
            .options(choices("course-scope", &["this", "following", "all"]))
            .required(),
        );
        change_fields.push(
            Field::new(
                "action",
                tr.t("course-change-action"),
                "select",
                value(t, "action"),
            )
            .options(choices("course-action", &["move", "cancel"]))
            .required(),
        );
        change_fields.push(
            Field::new(
                "start",
                tr.t("course-change-start"),
                "datetime-local",
                value(t, "start"),
            )
            .hint(tr.t("course-change-start-hint")),
        );
        change_fields.push(
            Field::new("time", tr.t("course-change-time"), "time", value(t, "time"))
                .hint(tr.t("course-change-time-hint")),
        );
    }
    let change_errors = place(&mut change_fields, &errors_for("change"));
    let safety_flag = super::safety::banner_of(state, who, r.patient_id).await?;
    let safety_reviews = super::safety::review_rows(state, who, r.patient_id).await?;
    Ok(CoursePage {
        before_missing,
        safety_flag,
        safety_reviews,
        l: StaffLayout::new(
            state,
            tr.t1("course-title", "name", patient_name.as_str()),
            Some(who),
            "courses",
        ),
        id,
        patient_id: r.patient_id,
        can_see_patient: who.can(Permission::SeePatients),
        patient_name,
        facts,
        alerts: course
            .alerts
            .iter()
            .map(|a| label(&tr, "course-alert", a))
            .collect(),
        holds: course
            .open_holds
            .iter()
            .map(|h| HoldRow {
                needs_md: tms::holds::needs_medical_director(h),
                may_clear: who.can(Permission::ManageCourses)
                    && (!tms::holds::needs_medical_director(h)
                        || tms::holds::is_medical_director(&who.user)),
                record_event: h.reason == "adverse-event" && who.can(Permission::RecordTreatment),
                note: if posted.form == "hold" && value(&posted.typed, "hold") == h.id.to_string() {
                    value(&posted.typed, "note")
                } else {
                    String::new()
                },
                note_error: posted
                    .errors
                    .iter()
                    .find(|(f, _)| {
                        posted.form == "hold"
                            && f == "note"
                            && value(&posted.typed, "hold") == h.id.to_string()
                    })
                    .map(|(_, m)| m.clone()),
                id: h.id,
                reason: if h.checklist.is_empty() {
                    label(&tr, "course-hold", &h.reason)
                } else {
                    format!(
                        "{}: {}",
                        label(&tr, "course-hold", &h.reason),
                        h.checklist
                            .iter()
                            .map(|q| label(&tr, "course-check", q))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                opened: format_date_time(h.opened_at, tz),
                case_id: h.case_id.filter(|_| who.can(Permission::SeeCase)),
            })
            .collect(),
        chart: chart(&tr, &course, r.planned_sessions),
        check_ins,
        sessions,
        thresholds: super::holds::threshold_rows(&tr, tz, &course.motor_thresholds),
        cleared_holds: super::holds::cleared_hold_rows(state, who, id).await?,
        adverse_events: super::holds::adverse_event_rows(state, who, id).await?,
        authorizations: course
            .authorizations
            .iter()
            .map(|a| AuthorizationRow {
                id: a.record.id,
                payer: a.record.payer.clone(),
                number: a.number.clone(),
                sessions: a.record.sessions_authorized,
                dates: format!("{} – {}", a.record.valid_from, a.record.valid_to),
                extends: a.record.extends_id,
            })
            .collect(),
        takes_sessions,
        takes_check_ins: r.status != "stopped",
        can_record: who.can(Permission::RecordTreatment),
        can_manage: who.can(Permission::ManageCourses),
        can_authorize: who.can(Permission::ManageAuthorizations),
        threshold_fields,
        threshold_errors,
        authorization_fields,
        authorization_errors,
        status_fields,
        status_errors,
        link_errors,
        tablets: state
            .storage
            .kiosks()
            .await?
            .into_iter()
            .map(|k| (k.id, k.name))
            .collect(),
        notice,
        schedule,
        can_schedule,
        series_fields,
        series_errors,
        conflicts,
        can_change,
        change_fields,
        change_errors,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

/// `GET /staff/courses/{id}`.
pub async fn page(
    Allowed(who, _): Allowed<SeeCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response> {
    let tr = Tr::default();
    let notice = match q.done.as_str() {
        "session" | "threshold" | "authorization" | "status" | "hold" | "emailed" | "series"
        | "missed" | "change" | "check-in" | "check-in-urgent" | "tablet" | "adverse-event"
        | "reports" => Some(tr.t(&format!("course-done-{}", q.done))),
        _ => None,
    };
    let page = course_page(&state, &who, id, Posted::default(), notice).await?;
    Ok(html(StatusCode::OK, &page))
}

/// After a course form: back to the page, or the page with the form's
/// errors.
async fn after(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    form: &'static str,
    typed: Typed,
    outcome: crate::staff::Outcome<i64>,
) -> Result<Response> {
    match outcome.map_err(AppError::from)? {
        Ok(Some(_)) => {
            Ok(Redirect::to(&format!("/staff/courses/{id}?done={form}")).into_response())
        }
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let posted = Posted {
                form,
                typed,
                errors,
                conflicts: Vec::new(),
            };
            let page = course_page(state, who, id, posted, None).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /staff/courses/{id}/motor-thresholds`.
pub async fn threshold(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let tz = state.config.clinic.time_zone.tz();
    let log = tms::ThresholdLog {
        determined_at: opt(&t, "determined_at").map(|v| local_to_rfc3339(&v, tz)),
        percent_output: number(&t, "percent_output"),
        method: opt(&t, "method"),
        device: opt(&t, "device"),
        coil: opt(&t, "coil"),
    };
    let outcome = tms::record_motor_threshold(&state, &who.actor, id, log).await;
    after(&state, &who, id, "threshold", t, outcome).await
}

/// `POST /staff/courses/{id}/authorizations`.
pub async fn authorization(
    Allowed(who, _): Allowed<ManageAuthorizations>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let form = tms::AuthorizationForm {
        payer: opt(&t, "payer"),
        number: opt(&t, "number"),
        sessions_authorized: number(&t, "sessions_authorized"),
        valid_from: opt(&t, "valid_from"),
        valid_to: opt(&t, "valid_to"),
        extends: number(&t, "extends"),
    };
    let outcome = tms::add_authorization(&state, &who.actor, id, form).await;
    after(&state, &who, id, "authorization", t, outcome).await
}

/// `POST /staff/courses/{id}/status`.
pub async fn status(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let outcome = tms::set_status(
        &state,
        &who.actor,
        id,
        opt(&t, "status").as_deref(),
        opt(&t, "stop_reason").as_deref(),
    )
    .await;
    after(&state, &who, id, "status", t, outcome).await
}

/// `POST /staff/courses/{id}/holds/{hold}/clear`: with the note saying
/// what was reviewed; the page again with the note's error, or (403) why
/// this account may not clear it.
pub async fn clear_hold(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path((id, hold)): Path<(i64, i64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let mut t = typed(fields);
    let note = opt(&t, "note");
    let (status, errors) =
        match tms::holds::clear_hold(&state, &who.user, &who.actor, id, hold, note.as_deref())
            .await
            .map_err(AppError::from)?
        {
            tms::holds::Cleared::Done(_) => {
                return Ok(Redirect::to(&format!("/staff/courses/{id}?done=hold")).into_response());
            }
            tms::holds::Cleared::NotFound => return Err(AppError::NotFound),
            tms::holds::Cleared::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
            tms::holds::Cleared::Forbidden(why) => {
                (StatusCode::FORBIDDEN, vec![("note".into(), why.into())])
            }
        };
    t.insert("hold".into(), vec![hold.to_string()]);
    let posted = Posted {
        form: "hold",
        typed: t,
        errors,
        conflicts: Vec::new(),
    };
    let page = course_page(&state, &who, id, posted, None).await?;
    Ok(html(status, &page))
}

/// `POST /staff/courses/{id}/check-in`: `delivery=email` sends the patient
/// a link; `delivery=tablet` with `kiosk` sends it to one of the clinic's
/// tablets (never opened on the staff member's own signed-in device).
pub async fn send_check_in(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let delivery = match value(&t, "delivery").as_str() {
        "email" => tms::links::Delivery::Email,
        "tablet" => tms::links::Delivery::Tablet(number(&t, "kiosk").unwrap_or(0)),
        _ => return Err(AppError::NotFound),
    };
    match tms::links::create(&state, &who.actor, id, delivery)
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(_)) => Ok(Redirect::to(&format!(
            "/staff/courses/{id}?done={}",
            if delivery == tms::links::Delivery::Email {
                "emailed"
            } else {
                "tablet"
            }
        ))
        .into_response()),
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let posted = Posted {
                form: "link",
                typed: t,
                errors,
                conflicts: Vec::new(),
            };
            let page = course_page(&state, &who, id, posted, None).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// After booking or changing sessions: back to the page, or the page with
/// the conflicts (and their alternatives) or the form's errors.
async fn after_series(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    form: &'static str,
    typed: Typed,
    outcome: crate::staff::Outcome<tms::schedule::Scheduled>,
) -> Result<Response> {
    let (errors, conflicts) = match outcome.map_err(AppError::from)? {
        Ok(Some(tms::schedule::Scheduled::Done(_))) => {
            return Ok(Redirect::to(&format!("/staff/courses/{id}?done={form}")).into_response());
        }
        Ok(Some(tms::schedule::Scheduled::Conflicts(c))) => (Vec::new(), c),
        Ok(None) => return Err(AppError::NotFound),
        Err(errors) => (errors, Vec::new()),
    };
    let status = if conflicts.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::CONFLICT
    };
    let posted = Posted {
        form,
        typed,
        errors,
        conflicts,
    };
    let page = course_page(state, who, id, posted, None).await?;
    Ok(html(status, &page))
}

/// `POST /staff/courses/{id}/schedule`: book the course's sessions.
pub async fn book_series(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let instead = t
        .iter()
        .filter_map(|(k, v)| {
            let date = k.strip_prefix("instead-")?;
            let time = v.first().filter(|v| !v.is_empty())?;
            Some((date.to_string(), time.clone()))
        })
        .collect();
    let plan = tms::schedule::SeriesPlan {
        location: opt(&t, "location"),
        first_start: opt(&t, "first_start"),
        instead,
    };
    let outcome = tms::schedule::book_series(&state, &who.actor, id, plan).await;
    after_series(&state, &who, id, "series", t, outcome).await
}

/// `POST /staff/courses/{id}/appointments/{appointment}/missed`.
pub async fn missed(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path((id, appointment)): Path<(i64, i64)>,
) -> Result<Response> {
    let outcome = tms::schedule::mark_missed(&state, &who.actor, id, appointment).await;
    after_series(&state, &who, id, "missed", Typed::new(), outcome).await
}

/// `POST /staff/courses/{id}/sessions/change`: move or cancel sessions.
pub async fn change_sessions(
    Allowed(who, _): Allowed<ManageSchedule>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let Some(appointment) = number(&t, "appointment").filter(|n| *n > 0) else {
        return after_series(
            &state,
            &who,
            id,
            "change",
            t,
            Ok(Err(vec![("appointment".into(), "choose a session".into())])),
        )
        .await;
    };
    let change = tms::schedule::SeriesChange {
        scope: opt(&t, "scope"),
        action: opt(&t, "action"),
        start: opt(&t, "start"),
        time: opt(&t, "time"),
    };
    let outcome = tms::schedule::change(&state, &who.actor, id, appointment, change).await;
    after_series(&state, &who, id, "change", t, outcome).await
}

// ---------------------------------------------------------------- the clinic's tablets

#[derive(Template)]
#[template(path = "staff/kiosks.html")]
struct KiosksPage {
    l: StaffLayout,
    kiosks: Vec<(i64, String, String)>,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
    /// A tablet just added: its name and address (shown once).
    added: Option<(String, String)>,
}

async fn kiosks_page(
    state: &AppState,
    who: &SignedIn,
    t: &Typed,
    errors: &FieldErrors,
    added: Option<(String, String)>,
) -> Result<KiosksPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let mut fields = vec![
        Field::new("name", tr.t("kiosk-name"), "text", value(t, "name"))
            .hint(tr.t("kiosk-name-hint"))
            .required(),
    ];
    let errors = place(&mut fields, errors);
    Ok(KiosksPage {
        l: StaffLayout::new(state, tr.t("kiosk-list-title"), Some(who), "courses"),
        kiosks: state
            .storage
            .kiosks()
            .await?
            .into_iter()
            .map(|k| (k.id, k.name, format_date(k.created_at, tz)))
            .collect(),
        fields,
        errors,
        added,
    })
}

/// `GET /staff/kiosks`: the clinic's tablets for check-ins.
pub async fn kiosks(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
) -> Result<Response> {
    let page = kiosks_page(&state, &who, &Typed::new(), &Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/kiosks`: adds a tablet and shows its address once.
pub async fn add_kiosk(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    match tms::links::add_kiosk(&state, &who.actor, opt(&t, "name").as_deref())
        .await
        .map_err(AppError::from)?
    {
        Ok(Some((_, token))) => {
            let url = state
                .config
                .clinic
                .base_url
                .join(&tms::links::kiosk_path(&token));
            let page = kiosks_page(
                &state,
                &who,
                &Typed::new(),
                &Vec::new(),
                Some((value(&t, "name"), url)),
            )
            .await?;
            Ok(html(StatusCode::OK, &page))
        }
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let page = kiosks_page(&state, &who, &t, &errors, None).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /staff/kiosks/{id}/revoke`.
pub async fn revoke_kiosk(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    match tms::links::revoke_kiosk(&state, &who.actor, id)
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(_)) => Ok(Redirect::to("/staff/kiosks").into_response()),
        _ => Err(AppError::NotFound),
    }
}

// ---------------------------------------------------------------- a PHQ-9 on paper

#[derive(Template)]
#[template(path = "staff/course_check_in.html")]
struct PaperPage {
    l: StaffLayout,
    id: i64,
    patient_name: String,
    def: &'static clinical::Instrument,
    fields: Vec<Field>,
    questions: Vec<crate::web::assessment::form::Question>,
    difficulty: Option<crate::web::assessment::form::DifficultyView>,
    errors: Vec<crate::web::assessment::ErrorLink>,
    /// Why the date needs confirming (a check-in dated before the
    /// baseline): the form is shown again with a check box.
    confirm: Option<String>,
}

async fn paper_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    t: &Typed,
    raw: &crate::web::assessment::form::RawAnswers,
    answer_errors: &[(clinical::FieldError, clinical::Problem)],
    field_errors: &FieldErrors,
) -> Result<PaperPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let record = state.storage.course(id).await?.ok_or(AppError::NotFound)?;
    // The form names the patient whose course it is: recorded.
    crate::staff::audit::seen(
        state,
        who.actor.did(
            "view paper check-in form",
            "tms_course",
            id,
            state.clock.now(),
        ),
    )
    .await
    .map_err(AppError::from)?;
    let def = clinical::InstrumentId::Phq9.definition();
    let (questions, difficulty, mut errors) =
        crate::web::assessment::form::questions(def, raw, answer_errors);
    let mut fields = vec![
        Field::new(
            "taken_at",
            tr.t("course-paper-taken"),
            "datetime-local",
            opt(t, "taken_at").unwrap_or_else(|| date_time_input(state.clock.now(), tz)),
        )
        .required(),
    ];
    let (confirm, field_errors): (FieldErrors, FieldErrors) = field_errors
        .iter()
        .cloned()
        .partition(|(f, _)| f == "confirm_backdated");
    let confirm = confirm.into_iter().next().map(|(_, m)| m);
    for (anchor, message) in place(&mut fields, &field_errors) {
        errors.insert(0, crate::web::assessment::ErrorLink { anchor, message });
    }
    if let Some(message) = &confirm {
        errors.insert(
            0,
            crate::web::assessment::ErrorLink {
                anchor: "confirm_backdated".into(),
                message: message.clone(),
            },
        );
    }
    Ok(PaperPage {
        confirm,
        l: StaffLayout::new(state, tr.t("course-paper-heading"), Some(who), "courses"),
        id,
        patient_name: patient_name(state, record.patient_id).await?,
        def,
        fields,
        questions,
        difficulty,
        errors,
    })
}

fn tr_required_date_time() -> String {
    Tr::default().t("staff-field-date-time")
}

/// `GET /staff/courses/{id}/check-ins/new`: a PHQ-9 the patient filled in
/// on paper, entered by staff.
pub async fn paper_form(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let raw = crate::web::assessment::form::RawAnswers::default();
    let page = paper_page(&state, &who, id, &Typed::new(), &raw, &[], &Vec::new()).await?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/courses/{id}/check-ins`.
pub async fn paper(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let def = clinical::InstrumentId::Phq9.definition();
    let raw = crate::web::assessment::form::read_fields(def, &fields);
    let t = typed(fields);
    let tz = state.config.clinic.time_zone.tz();
    // The answers are checked here first, so each is named beside its question.
    if let Err(problems) =
        clinical::Responses::parse_repeat(clinical::InstrumentId::Phq9, &raw.items, raw.difficulty)
    {
        let page = paper_page(&state, &who, id, &t, &raw, &problems, &Vec::new()).await?;
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let taken = opt(&t, "taken_at").map(|v| local_to_rfc3339(&v, tz));
    if taken
        .as_deref()
        .is_none_or(|v| v.parse::<jiff::Timestamp>().is_err())
    {
        let errors = vec![("taken_at".to_string(), tr_required_date_time())];
        let page = paper_page(&state, &who, id, &t, &raw, &[], &errors).await?;
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    match tms::check_in(
        &state,
        &who.actor,
        id,
        Some("phq9"),
        &raw.items,
        raw.difficulty,
        Some(taken.as_deref().unwrap_or("")),
        value(&t, "confirm_backdated") == "yes",
    )
    .await
    .map_err(AppError::from)?
    {
        Ok(Some(done)) => Ok(Redirect::to(&format!(
            "/staff/courses/{id}?done={}",
            if done.self_harm_flag {
                "check-in-urgent"
            } else {
                "check-in"
            }
        ))
        .into_response()),
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let page = paper_page(&state, &who, id, &t, &raw, &[], &errors).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

// ---------------------------------------------------------------- session screen

#[derive(Template)]
#[template(path = "staff/course_session.html")]
struct SessionPage {
    l: StaffLayout,
    id: i64,
    patient_name: String,
    protocol: String,
    threshold: Option<String>,
    session_number: usize,
    planned: i64,
    fields: Vec<Field>,
    effects: Vec<(String, String, bool)>,
    checklist: Vec<(String, String, Option<bool>, Option<String>)>,
    /// A hard stop, or a field error not beside a field.
    errors: Vec<(String, String)>,
    stop: Option<String>,
    safety_flag: Option<super::safety::FlagBanner>,
    earplugs: bool,
    earplugs_error: Option<String>,
}

/// A checklist question's answer as posted: yes, no, or not answered.
fn checklist_answer(t: &Typed, question: &str) -> Option<bool> {
    match value(t, question).as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

use tms::CHECKLIST;

async fn session_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    t: &Typed,
    errors: &FieldErrors,
    stop: Option<String>,
) -> Result<SessionPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let course = tms::open(state, &who.actor, who.user.role, id)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)?;
    let r = &course.record;
    let protocol = tms::protocol(&state.config.tms, &r.protocol);
    let patient_name = patient_name(state, r.patient_id).await?;
    let last = course.sessions.last();
    let or_last =
        |name: &str, from_last: Option<String>| opt(t, name).or(from_last).unwrap_or_default();
    let mut fields = vec![
        Field::new(
            "started_at",
            tr.t("session-started"),
            "datetime-local",
            opt(t, "started_at").unwrap_or_else(|| date_time_input(state.clock.now(), tz)),
        )
        .required(),
        Field::new(
            "intensity_percent_mt",
            tr.t("session-intensity"),
            "number",
            or_last(
                "intensity_percent_mt",
                last.map(|s| s.intensity_percent_mt.to_string())
                    .or_else(|| {
                        protocol
                            .as_ref()
                            .and_then(|p| p.intensity_percent_mt)
                            .map(|i| i.to_string())
                    }),
            ),
        )
        .range(1, state.config.tms.max_intensity_percent_mt, "1")
        .hint(tr.t1(
            "session-intensity-hint",
            "max",
            state.config.tms.max_intensity_percent_mt,
        ))
        .required(),
        Field::new(
            "pulses",
            tr.t("session-pulses"),
            "number",
            or_last(
                "pulses",
                protocol
                    .as_ref()
                    .and_then(|p| p.pulses_per_session)
                    .map(|p| p.to_string()),
            ),
        )
        .range(0, 100_000, "1")
        .required(),
        Field::new(
            "trains",
            tr.t("session-trains"),
            "number",
            or_last(
                "trains",
                last.and_then(|s| s.details.trains).map(|v| v.to_string()),
            ),
        )
        .range(0, 1000, "1"),
        Field::new(
            "intertrain_interval_s",
            tr.t("session-interval"),
            "number",
            or_last(
                "intertrain_interval_s",
                last.and_then(|s| s.details.intertrain_interval_ds)
                    .map(|v| format!("{:.1}", v as f64 / 10.0)),
            ),
        )
        .range(0, 120, "0.1"),
        Field::new(
            "duration_min",
            tr.t("session-duration"),
            "number",
            value(t, "duration_min"),
        )
        .range(0, 240, "0.5"),
        Field::new(
            "device",
            tr.t("session-device"),
            "text",
            or_last("device", last.and_then(|s| s.details.device.clone())),
        ),
        Field::new(
            "coil",
            tr.t("session-coil"),
            "text",
            or_last("coil", last.and_then(|s| s.details.coil.clone())),
        ),
        Field::new(
            "deviations",
            tr.t("session-deviations"),
            "textarea",
            value(t, "deviations"),
        )
        .hint(tr.t("session-deviations-hint")),
    ];
    if who.can(Permission::ManageCourses) {
        fields.push(
            Field::new(
                "intensity_deviation_reason",
                tr.t("session-intensity-deviation"),
                "textarea",
                value(t, "intensity_deviation_reason"),
            )
            .hint(tr.t("session-intensity-deviation-hint")),
        );
    }
    let mut errors = errors.clone();
    // The form asks for minutes; the core's field is seconds.
    for (name, _) in errors.iter_mut() {
        if name == "duration_s" {
            *name = "duration_min".into();
        }
    }
    let checklist_missing = errors.iter().any(|(f, _)| f == "checklist");
    let earplugs_error = errors
        .iter()
        .any(|(f, _)| f == "earplugs")
        .then(|| tr.t("session-earplugs-missing"));
    errors.retain(|(f, _)| f != "checklist" && f != "earplugs");
    let mut summary = place(&mut fields, &errors);
    if let Some(m) = &earplugs_error {
        summary.push(("earplugs".into(), m.clone()));
    }
    let chosen = t.get("side_effects").cloned().unwrap_or_default();
    let effects = tms::SIDE_EFFECTS
        .iter()
        .map(|e| {
            (
                e.to_string(),
                label(&tr, "course-effect", e),
                chosen.iter().any(|c| c == e),
            )
        })
        .collect();
    let checklist: Vec<(String, String, Option<bool>, Option<String>)> = CHECKLIST
        .iter()
        .map(|q| {
            let answer = checklist_answer(t, q);
            let error =
                (checklist_missing && answer.is_none()).then(|| tr.t("session-checklist-missing"));
            (q.to_string(), label(&tr, "course-check", q), answer, error)
        })
        .collect();
    let threshold = course.motor_thresholds.last().map(|m| {
        tr.args(
            "course-threshold-at",
            &[
                ("count", m.percent_output.to_string()),
                ("date", format_date(m.determined_at, tz)),
            ],
        )
    });
    if let Some((q, ..)) = checklist
        .iter()
        .find(|(_, _, _, e): &&(String, String, Option<bool>, Option<String>)| e.is_some())
    {
        summary.insert(0, (q.clone(), tr.t("session-checklist-summary")));
    }
    let safety_flag = super::safety::banner_of(state, who, r.patient_id).await?;
    Ok(SessionPage {
        safety_flag,
        earplugs: value(t, "earplugs") == "yes",
        earplugs_error,
        l: StaffLayout::new(state, tr.t("session-title"), Some(who), "courses"),
        id,
        patient_name,
        protocol: protocol_name(state, &r.protocol),
        threshold,
        session_number: course.sessions.len() + 1,
        planned: r.planned_sessions,
        fields,
        effects,
        checklist,
        errors: summary,
        stop,
    })
}

/// `GET /staff/courses/{id}/session`: the technician's screen.
pub async fn session_form(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let page = session_page(&state, &who, id, &Typed::new(), &Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// `POST /staff/courses/{id}/session`.
pub async fn session(
    Allowed(who, _): Allowed<RecordTreatment>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let tz = state.config.clinic.time_zone.tz();
    let answers: Vec<Option<bool>> = CHECKLIST.iter().map(|q| checklist_answer(&t, q)).collect();
    let checklist = answers.iter().all(Option::is_some).then(|| tms::Checklist {
        medication_change: answers[0] == Some(true),
        sleep_loss: answers[1] == Some(true),
        alcohol: answers[2] == Some(true),
        new_implant: answers[3] == Some(true),
        pregnancy: answers[4] == Some(true),
        seizure: answers[5] == Some(true),
        drugs_or_stimulants: answers[6] == Some(true),
        head_injury: answers[7] == Some(true),
        suicidal_thoughts: answers[8] == Some(true),
        mania_signs: answers[9] == Some(true),
    });
    let float = |name: &str| opt(&t, name).map(|v| v.trim().parse::<f64>().unwrap_or(f64::NAN));
    let log = tms::SessionLog {
        started_at: opt(&t, "started_at").map(|v| local_to_rfc3339(&v, tz)),
        intensity_percent_mt: number(&t, "intensity_percent_mt"),
        pulses: number(&t, "pulses"),
        side_effects: t.get("side_effects").cloned().unwrap_or_default(),
        checklist,
        device: opt(&t, "device"),
        coil: opt(&t, "coil"),
        trains: number(&t, "trains"),
        intertrain_interval_s: float("intertrain_interval_s"),
        duration_s: float("duration_min").map(|m| {
            if m.is_finite() {
                (m * 60.0).round() as i64
            } else {
                i64::MIN
            }
        }),
        deviations: opt(&t, "deviations"),
        operator: None,
        intensity_deviation_reason: opt(&t, "intensity_deviation_reason"),
        earplugs: Some(value(&t, "earplugs") == "yes"),
    };
    match tms::record_session(&state, &who.actor, id, log)
        .await
        .map_err(AppError::from)?
    {
        Ok(Some(tms::SessionOutcome::Recorded { .. })) => {
            Ok(Redirect::to(&format!("/staff/courses/{id}?done=session")).into_response())
        }
        Ok(Some(tms::SessionOutcome::Stopped { stop, message, .. })) => {
            let tr = Tr::default();
            let text = format!("{} {message}", tr.t(&format!("session-stop-{stop}")));
            let page = session_page(&state, &who, id, &t, &Vec::new(), Some(text)).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let page = session_page(&state, &who, id, &t, &errors, None).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels these pages build from values (status, target, …), each
    /// one there to find.
    #[test]
    fn every_label_built_from_a_value_exists() {
        let tr = Tr::default();
        let mut keys = Vec::new();
        let mut add = |prefix: &str, values: &[&str]| {
            keys.extend(values.iter().map(|v| format!("{prefix}-{v}")));
        };
        add(
            "course-status",
            &["planned", "active", "paused", "completed", "stopped"],
        );
        add("course-target", &tms::TARGETS);
        add("course-localization", &tms::LOCALIZATIONS);
        add(
            "course-category",
            &[
                "remission",
                "response",
                "partial-response",
                "non-response",
                "insufficient-data",
            ],
        );
        add("course-stop", &tms::STOP_REASONS);
        add("course-due", &["baseline", "weekly", "end-of-course"]);
        add("course-source", &["staff", "link", "kiosk"]);
        add("course-effect", &tms::SIDE_EFFECTS);
        add(
            "course-alert",
            &[
                "hold-open",
                "motor-threshold-due",
                "missed-sessions",
                "sessions-beyond-authorization",
                "authorization-expired",
                "authorization-running-out",
                "check-in-due",
                "early-non-response",
                "worsening",
            ],
        );
        add("course-hold", &["checklist", "adverse-event", "mania"]);
        add("course-check", &CHECKLIST);
        add(
            "course-done",
            &[
                "session",
                "threshold",
                "authorization",
                "status",
                "hold",
                "emailed",
                "series",
                "missed",
                "change",
                "check-in",
                "check-in-urgent",
                "tablet",
            ],
        );
        add(
            "session-stop",
            &[
                "course_status",
                "safety_review",
                "hold",
                "baseline",
                "motor_threshold",
                "intensity_percent_mt",
                "checklist",
            ],
        );
        add("course-conflict", &["taken", "not-offered"]);
        add("course-scope", &["this", "following", "all"]);
        add("course-action", &["move", "cancel"]);
        for k in keys {
            assert!(tr.has(&k), "{k} is missing from the locale");
        }
    }
}
