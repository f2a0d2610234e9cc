//! Booking over HTTP: the visitor's pages under `/book` and the JSON API
//! for booking widgets on partner sites (`/api/v1/slots`,
//! `/api/v1/bookings`). What they do is in `crate::booking`.

pub mod api;
mod hold;
pub(crate) mod pages;

use crate::app::AppState;
use crate::web::routes::{Routes, get, post};
use axum::http::{HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

pub fn router() -> Routes<AppState> {
    // A booking's own pages are reached by a secret link: never indexed.
    let private = Routes::new()
        .route("/book/held/{uid}", get(hold::held))
        .route(
            "/book/confirm/{token}",
            get(hold::confirm_page).post(hold::confirm),
        )
        .route("/book/manage/{token}", get(pages::manage))
        .route(
            "/book/manage/{token}/cancel",
            get(pages::cancel_confirm).post(pages::cancel),
        )
        .route(
            "/book/manage/{token}/move",
            get(pages::move_times).post(pages::move_submit),
        )
        .route(
            "/book/manage/{token}/move/confirm",
            get(pages::move_confirm),
        )
        .map(|r| {
            r.layer(SetResponseHeaderLayer::overriding(
                HeaderName::from_static("x-robots-tag"),
                HeaderValue::from_static("noindex, nofollow"),
            ))
        });
    Routes::new()
        .route("/book", get(pages::index))
        .route("/book/{kind}/{location}", get(pages::times))
        .route(
            "/book/{kind}/{location}/details",
            get(pages::details).post(pages::submit),
        )
        .merge(private)
        .route("/api/v1/slots", get(api::slots))
        .route("/api/v1/bookings", post(api::create))
}
