//! The public site's pages (issue 3 grows this), and health checks.

use super::layout::{Layout, html};
use crate::app::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
}

async fn home(State(state): State<AppState>) -> Response {
    html(
        StatusCode::OK,
        &HomePage {
            l: Layout::new(&state, "home", "home-title", "home-description"),
        },
    )
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.storage.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!("readiness check failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}
