//! `/staff/courses/{id}/before`: what a course needs before its sessions —
//! informed consent (clinicians and coordinators record it), the pre-TMS
//! safety screen and the physician's order (clinicians sign them) — each
//! with its form, and the order's versions. Every action goes through
//! `crate::tms::orders`, as the API does.

use super::{Field, Typed, label, number, opt, patient_name, place, protocol_name, typed, value};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::{FieldErrors, Permission};
use crate::time::format_date_time;
use crate::tms::{self, orders};
use crate::web::layout::html;
use crate::web::staff::{Allowed, ManageCourses, RecordConsent, SeeCourses, SignedIn, StaffLayout};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// One question of the safety screen as the form draws it.
pub struct TopicRow {
    name: &'static str,
    question: String,
    answer: Option<bool>,
    error: Option<String>,
}

/// One version of the order, as shown.
pub struct OrderRow {
    version: i64,
    facts: Vec<(String, String)>,
    signed: String,
}

#[derive(Template)]
#[template(path = "staff/course_before.html")]
struct BeforePage {
    l: StaffLayout,
    id: i64,
    patient_name: String,
    notice: Option<String>,
    /// What is still missing, in words.
    missing: Vec<String>,
    consent: Option<String>,
    can_consent: bool,
    consent_fields: Vec<Field>,
    consent_errors: Vec<(String, String)>,
    /// The latest screen: (the questions answered yes, who signed when,
    /// the notes for a clinician).
    screen_yes: Vec<String>,
    screen_signed: Option<String>,
    screen_notes: Option<String>,
    can_sign: bool,
    topics: Vec<TopicRow>,
    notes_field: Vec<Field>,
    screen_errors: Vec<(String, String)>,
    /// The order in force, then the older versions, newest first.
    order: Option<OrderRow>,
    older_orders: Vec<OrderRow>,
    order_fields: Vec<Field>,
    order_errors: Vec<(String, String)>,
}

/// Which form was posted, with what was typed and what was wrong.
#[derive(Default)]
struct Posted {
    form: &'static str,
    typed: Typed,
    errors: FieldErrors,
}

async fn before_page(
    state: &AppState,
    who: &SignedIn,
    id: i64,
    posted: Posted,
    notice: Option<String>,
) -> Result<BeforePage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let Some(course) = state.storage.course(id).await? else {
        return Err(AppError::NotFound);
    };
    crate::staff::audit::seen(
        state,
        who.actor
            .did("view before sessions", "tms_course", id, state.clock.now()),
    )
    .await
    .map_err(AppError::from)?;
    let may_read = who.can(Permission::ReadDeviations);
    let r = orders::readiness(state, id, may_read)
        .await
        .map_err(AppError::from)?;
    let missing = r
        .missing()
        .into_iter()
        .map(|m| tr.t(&format!("before-missing-{m}")))
        .collect();
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
            FieldErrors::new()
        }
    };

    let consent = r.consents.last().map(|c| {
        tr.args(
            "before-consent-recorded",
            &[
                ("version", c.consent_version.clone()),
                ("date", c.consented_on.clone()),
                ("who", c.recorded_by_email.clone().unwrap_or_default()),
            ],
        )
    });
    let t = typed_for("consent");
    let today = crate::time::date_in(state.clock.now(), tz).to_string();
    let mut consent_fields = vec![
        Field::new(
            "consented_at",
            tr.t("before-consented-at"),
            "date",
            opt(t, "consented_at").unwrap_or(today),
        )
        .required(),
        Field::new(
            "consent_version",
            tr.t("before-consent-version"),
            "text",
            value(t, "consent_version"),
        )
        .hint(tr.t("before-consent-version-hint"))
        .required(),
    ];
    let consent_errors = place(&mut consent_fields, &errors_for("consent"));

    let screen = r.screen();
    let question = |topic: &str| {
        orders::SCREEN_TOPICS
            .iter()
            .find(|(t, _)| *t == topic)
            .map_or_else(String::new, |(_, q)| (*q).to_string())
    };
    let screen_yes = screen
        .map(|x| x.yes().into_iter().map(question).collect())
        .unwrap_or_default();
    let screen_signed = screen.map(|x| {
        tr.args(
            "before-screen-signed",
            &[
                ("who", x.signed_by.clone().unwrap_or_default()),
                ("when", format_date_time(x.signed_at, tz)),
            ],
        )
    });
    let screen_notes = screen.and_then(|x| x.notes.clone());
    let t = typed_for("safety-screen");
    let mut screen_errors = errors_for("safety-screen");
    let topics = orders::SCREEN_TOPICS
        .iter()
        .map(|(name, q)| {
            let field = format!("answers.{name}");
            let error = screen_errors
                .iter()
                .find(|(f, _)| *f == field)
                .map(|_| tr.t("before-screen-answer-missing"));
            TopicRow {
                name,
                question: (*q).to_string(),
                answer: match value(t, name).as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => None,
                },
                error,
            }
        })
        .collect::<Vec<_>>();
    let mut summary: Vec<(String, String)> = topics
        .iter()
        .filter(|x| x.error.is_some())
        .map(|x| {
            (
                x.name.to_string(),
                format!("{} {}", x.question, tr.t("before-screen-answer-missing")),
            )
        })
        .collect();
    screen_errors.retain(|(f, _)| !f.starts_with("answers."));
    let mut notes_field = vec![
        Field::new(
            "notes",
            tr.t("before-screen-notes"),
            "textarea",
            value(t, "notes"),
        )
        .hint(tr.t("before-screen-notes-hint")),
    ];
    summary.extend(place(&mut notes_field, &screen_errors));

    let view = |o: &crate::storage::tms_orders::OrderRecord| OrderRow {
        version: o.version,
        facts: vec![
            (tr.t("course-protocol"), protocol_name(state, &o.protocol)),
            (
                tr.t("course-target"),
                label(&tr, "course-target", &o.target),
            ),
            (
                tr.t("before-order-intensity"),
                format!("{}%", o.intensity_percent_mt),
            ),
            (tr.t("before-order-pulses"), o.pulses.to_string()),
            (tr.t("before-order-per-day"), o.sessions_per_day.to_string()),
            (
                tr.t("before-order-spacing"),
                tr.t1("before-order-minutes", "count", o.min_spacing_minutes),
            ),
            (tr.t("before-order-planned"), o.planned_sessions.to_string()),
        ],
        signed: tr.args(
            "before-order-signed",
            &[
                ("version", o.version.to_string()),
                ("who", o.signed_by_email.clone().unwrap_or_default()),
                ("when", format_date_time(o.signed_at, tz)),
            ],
        ),
    };
    let order = r.order().map(view);
    let older_orders = r.orders.iter().rev().skip(1).map(view).collect();
    // The form starts from the order in force, or the protocol's numbers.
    let t = typed_for("order");
    let protocol = tms::protocol(&state.config.tms, &course.protocol);
    let current = r.order();
    let start = |name: &str, from_order: Option<i64>, from_protocol: Option<i64>| {
        opt(t, name)
            .or_else(|| from_order.or(from_protocol).map(|v| v.to_string()))
            .unwrap_or_default()
    };
    let per_day = protocol.as_ref().map(|p| i64::from(p.sessions_per_day));
    let mut order_fields = vec![
        Field::new(
            "intensity_percent_mt",
            tr.t("before-order-intensity"),
            "number",
            start(
                "intensity_percent_mt",
                current.map(|o| o.intensity_percent_mt),
                protocol
                    .as_ref()
                    .and_then(|p| p.intensity_percent_mt)
                    .map(i64::from),
            ),
        )
        .range(1, state.config.tms.max_intensity_percent_mt, "1")
        .required(),
        Field::new(
            "pulses",
            tr.t("before-order-pulses"),
            "number",
            start(
                "pulses",
                current.map(|o| o.pulses),
                protocol
                    .as_ref()
                    .and_then(|p| p.pulses_per_session)
                    .map(i64::from),
            ),
        )
        .range(1, orders::MAX_ORDER_PULSES, "1")
        .hint(tr.t("before-order-pulses-hint"))
        .required(),
        Field::new(
            "sessions_per_day",
            tr.t("before-order-per-day"),
            "number",
            start(
                "sessions_per_day",
                current.map(|o| o.sessions_per_day),
                per_day,
            ),
        )
        .range(1, orders::MAX_SESSIONS_PER_DAY, "1")
        .required(),
        Field::new(
            "min_spacing_minutes",
            tr.t("before-order-spacing"),
            "number",
            start(
                "min_spacing_minutes",
                current.map(|o| o.min_spacing_minutes),
                // Accelerated iTBS: 50 minutes between sessions (FACTS §7.2.1).
                per_day.map(|n| if n > 1 { 50 } else { 0 }),
            ),
        )
        .range(0, 1440, "1")
        .hint(tr.t("before-order-spacing-hint"))
        .required(),
        Field::new(
            "planned_sessions",
            tr.t("before-order-planned"),
            "number",
            start(
                "planned_sessions",
                current.map(|o| o.planned_sessions),
                Some(course.planned_sessions),
            ),
        )
        .range(1, tms::MAX_SESSIONS, "1")
        .required(),
        Field::new(
            "target",
            tr.t("course-target"),
            "select",
            opt(t, "target")
                .or_else(|| current.map(|o| o.target.clone()))
                .or_else(|| course.target.clone())
                .unwrap_or_default(),
        )
        .options(
            std::iter::once((String::new(), tr.t("before-order-target-choose")))
                .chain(
                    tms::TARGETS
                        .iter()
                        .map(|v| (v.to_string(), label(&tr, "course-target", v))),
                )
                .collect(),
        )
        .required(),
    ];
    let order_errors = place(&mut order_fields, &errors_for("order"));

    Ok(BeforePage {
        l: StaffLayout::new(state, tr.t("before-title"), Some(who), "courses"),
        id,
        patient_name: patient_name(state, course.patient_id).await?,
        notice,
        missing,
        consent,
        can_consent: who.can(Permission::RecordConsent),
        consent_fields,
        consent_errors,
        screen_yes,
        screen_signed,
        screen_notes,
        can_sign: who.can(Permission::ManageCourses),
        topics,
        notes_field,
        screen_errors: summary,
        order,
        older_orders,
        order_fields,
        order_errors,
    })
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

/// `GET /staff/courses/{id}/before`.
pub async fn page(
    Allowed(who, _): Allowed<SeeCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response> {
    let tr = Tr::default();
    let notice = match q.done.as_str() {
        "consent" | "safety-screen" | "order" => Some(tr.t(&format!("before-done-{}", q.done))),
        _ => None,
    };
    let page = before_page(&state, &who, id, Posted::default(), notice).await?;
    Ok(html(StatusCode::OK, &page))
}

/// Back to the page, or the page with the form's errors (422).
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
            Ok(Redirect::to(&format!("/staff/courses/{id}/before?done={form}")).into_response())
        }
        Ok(None) => Err(AppError::NotFound),
        Err(errors) => {
            let posted = Posted {
                form,
                typed,
                errors,
            };
            let page = before_page(state, who, id, posted, None).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

/// `POST /staff/courses/{id}/consent`.
pub async fn consent(
    Allowed(who, _): Allowed<RecordConsent>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let outcome = orders::record_consent(
        &state,
        &who.actor,
        id,
        opt(&t, "consented_at").as_deref(),
        opt(&t, "consent_version").as_deref(),
    )
    .await;
    after(&state, &who, id, "consent", t, outcome).await
}

/// `POST /staff/courses/{id}/safety-screen`.
pub async fn safety_screen(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let answers: Vec<(&str, Option<bool>)> = orders::SCREEN_TOPICS
        .iter()
        .map(|(name, _)| {
            let answer = match value(&t, name).as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            (*name, answer)
        })
        .collect();
    let outcome = orders::record_safety_screen(
        &state,
        &who.actor,
        id,
        &answers,
        opt(&t, "notes").as_deref(),
    )
    .await;
    after(&state, &who, id, "safety-screen", t, outcome).await
}

/// `POST /staff/courses/{id}/order`.
pub async fn order(
    Allowed(who, _): Allowed<ManageCourses>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let t = typed(fields);
    let form = orders::OrderForm {
        intensity_percent_mt: number(&t, "intensity_percent_mt"),
        pulses: number(&t, "pulses"),
        sessions_per_day: number(&t, "sessions_per_day"),
        min_spacing_minutes: number(&t, "min_spacing_minutes"),
        planned_sessions: number(&t, "planned_sessions"),
        target: opt(&t, "target"),
    };
    let outcome = orders::record_order(&state, &who.actor, id, form).await;
    after(&state, &who, id, "order", t, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_of_the_page_exists() {
        let tr = Tr::default();
        for key in [
            "before-missing-consent",
            "before-missing-safety_screen",
            "before-missing-order",
            "before-done-consent",
            "before-done-safety-screen",
            "before-done-order",
            "session-stop-consent",
            "session-stop-safety_screen",
            "session-stop-order",
            "session-stop-pulses",
            "session-stop-spacing",
            "session-stop-intensity_deviation_reason",
        ] {
            assert!(tr.has(key), "{key} is missing from the locale");
        }
    }
}
