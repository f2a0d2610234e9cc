//! HTTP only: routing, the accept loop, the page layout, security headers,
//! rate limits, static assets and error pages. Each feature lives in its own
//! folder and exports `router()`; its handlers parse input, call the
//! feature's module (`crate::assessment`, …) and render.

pub mod assessment;
pub mod booking;
pub mod client;
mod contact;
pub mod errors;
mod figures;
pub mod json;
mod layout;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
mod security;
pub mod server;
mod site;
pub mod staff;
pub(crate) mod static_files;
pub(crate) mod tms;

use crate::app::AppState;
use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{Request, StatusCode};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use errors::{ApiError, AppError, Result};
pub use layout::Layout;
pub use rate_limit::RateLimits;
pub use site::{Place, SiteCache, places, publish as publish_site};

/// Largest request body accepted anywhere. The biggest form (sharing a result
/// with a 2,000-character message) is far below this.
pub const BODY_LIMIT: usize = 32 * 1024;

/// Every route but the rendered public pages (which [`HttpService`]
/// answers first), in one table.
fn routes(state: &AppState) -> routes::Routes<AppState> {
    routes::Routes::new()
        .merge(site::router())
        .merge(assessment::router())
        .merge(booking::router())
        .merge(contact::router())
        .merge(tms::router())
        .merge(staff::router(state.clone()))
        .merge(static_files::router())
        .route("/api/openapi.json", routes::get(openapi::serve))
}

/// The route table: every route with the fields its handler reads.
pub fn route_table(state: &AppState) -> Vec<routes::Route> {
    routes(state).into_parts().1
}

fn router(state: AppState) -> Router {
    routes(&state)
        .into_parts()
        .0
        .fallback(errors::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            figures::count,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::check_origin,
        ))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.server.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(errors::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            errors::render_error_pages,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .layer(
            // The span names the route pattern, never the concrete path: result
            // URLs carry private tokens that must not reach the logs.
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                tracing::info_span!("request", method = %req.method(), route)
            }),
        )
        .with_state(state)
}

/// The whole application as one service. A GET for a rendered public page is
/// answered straight from memory, before routing and the per-request
/// middleware (tracing, timeouts, body limits) that it has no use for; the
/// cached response already carries the security headers. Everything else
/// goes through [`router`].
#[derive(Clone)]
pub struct HttpService {
    state: AppState,
    router: Router,
}

impl HttpService {
    pub fn new(state: AppState) -> Self {
        HttpService {
            router: router(state.clone()),
            state,
        }
    }
}

impl tower::Service<axum::extract::Request> for HttpService {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Either<
        std::future::Ready<Result<Self::Response, Self::Error>>,
        axum::routing::future::RouteFuture<std::convert::Infallible>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        use futures_util::future::Either;
        match site::from_memory(&self.state, &req) {
            Some(res) => Either::Left(std::future::ready(Ok(res))),
            None => Either::Right(self.router.call(req)),
        }
    }
}
