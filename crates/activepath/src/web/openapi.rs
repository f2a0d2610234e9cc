//! `GET /api/openapi.json`: the OpenAPI 3.1 document of every API route,
//! generated at compile time from the handlers' `#[utoipa::path]`
//! attributes and the request and response types themselves, so it says
//! what the code does.

use crate::app::AppState;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "activepath API",
        description = "The self-assessment, booking and staff APIs of an activepath clinic site. Errors are application/problem+json (RFC 9457) naming each bad field. Results are screening results, not diagnoses.",
    ),
    paths(
        crate::web::assessment::api::create,
        crate::web::booking::api::slots,
        crate::web::booking::api::create,
        crate::web::staff::api::cases,
        crate::web::staff::api::case,
        crate::web::staff::api::create_patient,
        crate::web::tms::api::start,
        crate::web::tms::api::motor_threshold,
        crate::web::tms::api::check_in,
        crate::web::tms::api::status,
        crate::web::tms::api::session,
        crate::web::tms::api::clear_hold,
        crate::web::tms::api::course,
        crate::web::tms::api::authorization,
        crate::web::tms::api::check_in_link,
        crate::web::tms::api::schedule,
        crate::web::tms::api::missed,
        crate::web::tms::api::change,
        crate::web::tms::safety::patient,
        crate::web::tms::safety::create_review,
        crate::web::tms::adverse_events::create,
        crate::web::tms::adverse_events::reports,
        crate::web::tms::adverse_events::list,
        crate::web::tms::orders::order,
        crate::web::tms::orders::consent,
        crate::web::tms::orders::safety_screen,
    ),
    tags(
        (name = "self-assessment", description = "Score a PHQ-9 or GAD-7, for kiosks and integrations"),
        (name = "booking", description = "Free times and booking, for widgets on partner sites"),
        (name = "staff", description = "The triage queue and patient records, with a staff API token"),
        (name = "tms", description = "TMS treatment courses, with a staff API token"),
    ),
    modifiers(&StaffToken, &CommonAnswers, &Links),
)]
struct ApiDoc;

/// Answers that every operation can give whatever its handler does, so a
/// client generated from the document expects them: 400 when the path,
/// query or body cannot be read at all (an id that is not a number, a body
/// that is not JSON), and 415 when an operation that takes a JSON body is
/// sent one declared as something else. Both are problem documents.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                let answers = &mut op.responses.responses;
                answers.entry("400".into()).or_insert_with(|| {
                    problem("The path, query or body cannot be read (e.g. an id that is not a number, a body that is not JSON)").into()
                });
                if op.request_body.is_some() {
                    answers.entry("415".into()).or_insert_with(|| {
                        problem("The body is not declared as application/json").into()
                    });
                }
            }
        }
    }
}

/// OpenAPI links (3.1 §4.8.20): where the id a response returns can be
/// used next, so a client (or a stateful test) can follow from a patient
/// made to its course and from a course started to everything done on it.
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::link::LinkBuilder;
        let follow = [
            (
                "/api/v1/staff/patients",
                "201",
                "#/id",
                &["start", "patient", "create_review"][..],
            ),
            (
                "/api/v1/staff/patients/{id}/courses",
                "201",
                "#/id",
                &[
                    "course",
                    "motor_threshold",
                    "check_in",
                    "session",
                    "status",
                    "authorization",
                    "check_in_link",
                    "schedule",
                ][..],
            ),
        ];
        for (path, status, pointer, next) in follow {
            let Some(item) = openapi.paths.paths.get_mut(path) else {
                continue;
            };
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) else {
                    continue;
                };
                for id in next {
                    response.links.insert(
                        (*id).to_string(),
                        RefOr::T(
                            LinkBuilder::new()
                                .operation_id(*id)
                                .parameter("id", format!("$response.body{pointer}"))
                                .build(),
                        ),
                    );
                }
            }
        }
    }
}

/// The staff API's `Authorization: Bearer <token>`.
struct StaffToken;

impl Modify for StaffToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `activepath user token` or the portal's API tokens page",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, made once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

pub async fn serve(_: axum::extract::State<AppState>) -> Response {
    let mut res = document().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
