//! The self-assessment's pages and API: questionnaire forms, results,
//! sharing a result with the clinic, and `POST /api/v1/assessments` for
//! kiosks and integrations. What they do is in `crate::assessment`.

pub mod api;
pub(crate) mod form;
pub use form::ErrorLink;
mod result;
pub(crate) mod share;

use crate::app::AppState;
use crate::web::routes::{Routes, get, post};
use axum::http::{HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router() -> Routes<AppState> {
    // A result's pages are private: search engines must not index them even
    // if a link to one leaks. (robots.txt does not disallow them, or
    // crawlers would never see this header.)
    let private = Routes::new()
        .route("/assessment/result/{token}", get(result::show))
        .route(
            "/assessment/result/{token}/share",
            get(share::show).post(share::submit),
        )
        .route("/assessment/result/{token}/shared", get(share::done))
        .map(|r| {
            r.layer(SetResponseHeaderLayer::overriding(
                HeaderName::from_static("x-robots-tag"),
                HeaderValue::from_static("noindex, nofollow"),
            ))
        });
    Routes::new()
        .route("/assessment", get(form::index))
        .route(
            "/assessment/{instrument}",
            get(form::show).post(form::submit),
        )
        .merge(private)
        .route("/api/v1/assessments", post(api::create))
}
