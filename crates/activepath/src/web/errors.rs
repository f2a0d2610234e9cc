//! One error type for handlers, and friendly error pages. Handlers return an
//! [`AppError`]; its response carries only a marker, and a middleware that can
//! see the clinic's details renders the page. Internal error text is logged
//! once and never shown.

use super::layout::{Layout, html};
use crate::app::AppState;
use crate::storage::StorageError;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("template error: {0}")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Marks a response whose body the error-page middleware should render.
#[derive(Debug, Clone, Copy)]
pub struct ErrorPage;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            other => {
                // The whole cause chain, once, inside the request's span.
                tracing::error!("request failed: {:#}", anyhow::Error::from(other));
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error_marker(status)
    }
}

/// The router's fallback. Rendered public pages never get here: [`super::App`]
/// answers them before routing.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

fn error_marker(status: StatusCode) -> Response {
    let mut res = status.into_response();
    res.extensions_mut().insert(ErrorPage);
    res
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_marker(StatusCode::INTERNAL_SERVER_ERROR)
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub l: Layout,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub link_href: &'static str,
    pub link_text: String,
}

impl MessagePage {
    /// A page with a heading, paragraphs and one way on, all message ids.
    pub fn new(
        state: &AppState,
        title: &str,
        heading: &str,
        paragraphs: &[&str],
        link: (&'static str, &str),
    ) -> Self {
        let l = Layout::new(state, "", title, heading).private();
        let paragraphs = paragraphs.iter().map(|p| l.tr.t(p)).collect();
        MessagePage {
            heading: l.tr.t(heading),
            link_text: l.tr.t(link.1),
            link_href: link.0,
            paragraphs,
            l,
        }
    }
}

/// Replaces bare error responses (from handlers, extractors, the body limit,
/// the timeout, a panic) with a friendly HTML page, or with
/// `application/problem+json` under `/api/`.
pub async fn render_error_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let marked = res.extensions().get::<ErrorPage>().is_some();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let plain = content_type.is_empty() || content_type.starts_with("text/plain");
    if !marked && !plain {
        return res;
    }
    if api {
        return crate::web::assessment::api::problem(
            status,
            status.canonical_reason().unwrap_or("Error"),
            Vec::new(),
        );
    }
    let page = match status {
        StatusCode::NOT_FOUND => MessagePage::new(
            &state,
            "not-found-title",
            "not-found-heading",
            &["not-found-body"],
            ("/", "link-home"),
        ),
        StatusCode::FORBIDDEN => MessagePage::new(
            &state,
            "forbidden-title",
            "forbidden-title",
            &["forbidden-body"],
            ("/", "link-home"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => MessagePage::new(
            &state,
            "bad-request-title",
            "bad-request-title",
            &["too-large-body"],
            ("/", "link-home"),
        ),
        s if s.is_client_error() => MessagePage::new(
            &state,
            "bad-request-title",
            "bad-request-title",
            &["bad-request-body"],
            ("/", "link-home"),
        ),
        _ => MessagePage::new(
            &state,
            "error-title",
            "error-heading",
            &["error-body"],
            ("/", "link-home"),
        ),
    };
    let mut out = html(status, &page);
    // Keep headers such as Allow on 405.
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    out
}
