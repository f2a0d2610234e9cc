//! Counts page views and funnel steps as responses go out (see
//! [`crate::figures`]). A page is counted by its address when that address
//! can only be one of a known few (pages, questionnaires, booking steps),
//! and by its route pattern when it holds a private token (results, a
//! booking's own page), so no token or other identifier is ever stored.

use crate::app::AppState;
use crate::figures::Step;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

pub async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    if let Some(route) = route {
        record(&state, &method, route.as_str(), &path, &res);
    }
    res
}

/// Routes that are not the public site.
fn private_area(route: &str) -> bool {
    [
        "/staff",
        "/api/",
        "/static/",
        "/media/",
        "/healthz",
        "/readyz",
        "/favicon.ico",
    ]
    .iter()
    .any(|p| route.starts_with(p))
}

fn record(state: &AppState, method: &Method, route: &str, path: &str, res: &Response) {
    let status = res.status();
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = state.clock.now();
    if *method == Method::GET && status == StatusCode::OK && html && !private_area(route) {
        // A token or a record's uid in the address: counted by the pattern.
        let key = if route.contains("{token}") || route.contains("{uid}") {
            route
        } else {
            path
        };
        state.figures.view(now, key);
        if route == "/assessment/{instrument}" {
            state.figures.step(now, Step::AssessmentStarted);
        }
        return;
    }
    let step = match (method.as_str(), route, status) {
        ("POST", "/assessment/{instrument}", StatusCode::SEE_OTHER)
        | ("POST", "/api/v1/assessments", StatusCode::CREATED) => Step::AssessmentCompleted,
        ("POST", "/assessment/result/{token}/share", StatusCode::SEE_OTHER)
            if location.ends_with("/shared") =>
        {
            Step::AssessmentShared
        }
        // A booking made on the site or through the API is made when the
        // person confirms it from their e-mail (until then it is a hold).
        ("POST", "/book/confirm/{token}", StatusCode::SEE_OTHER)
            if location.contains("done=booked") =>
        {
            Step::BookingMade
        }
        _ => return,
    };
    state.figures.step(now, step);
}
