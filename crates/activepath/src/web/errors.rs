//! The one error path. Handlers return an [`AppError`] (pages) or an
//! [`ApiError`] (the JSON API); a failure is logged once, here, with its
//! whole cause chain and never with personal data, and the person gets a
//! friendly page or an `application/problem+json` document (RFC 9457).
//! Bare error responses (from extractors, the body limit, the timeout, a
//! panic, the rate limits) are given their page or document by
//! [`render_error_pages`], which can see the clinic's details.

use super::layout::{Layout, html};
use crate::app::AppState;
use crate::assessment;
use crate::storage::StorageError;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// A query or form value no page can be made from (a date outside
    /// what the page shows, a number out of range): 400, each field named
    /// with what is wrong.
    #[error("bad request")]
    BadRequest(Vec<(String, String)>),
    /// Over a rate limit; the wait before the next request counts.
    #[error("too many requests")]
    TooManyRequests(std::time::Duration),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Assessment(#[from] assessment::Error),
    #[error(transparent)]
    Staff(#[from] crate::staff::Error),
    #[error("template error: {0}")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Marks a response whose body the error-page middleware should render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    /// The page for the response's status.
    Status,
    /// A stored record failed its integrity check and is not shown.
    Integrity,
}

impl AppError {
    /// 400 naming one field.
    pub fn bad(field: &str, problem: impl Into<String>) -> Self {
        AppError::BadRequest(vec![(field.to_string(), problem.into())])
    }
}

/// The fields a 400 page names, for [`render_error_pages`].
#[derive(Debug, Clone)]
struct BadFields(Vec<(String, String)>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, page) = match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, ErrorPage::Status),
            AppError::BadRequest(fields) => {
                let mut res = marked(StatusCode::BAD_REQUEST, ErrorPage::Status);
                res.extensions_mut().insert(BadFields(fields));
                return res;
            }
            AppError::TooManyRequests(wait) => {
                let mut res = marked(StatusCode::TOO_MANY_REQUESTS, ErrorPage::Status);
                res.headers_mut()
                    .insert(header::RETRY_AFTER, super::rate_limit::retry_after(wait));
                return res;
            }
            // Too many password checks at once: nothing was done; say when
            // to come back.
            AppError::Staff(crate::staff::Error::Busy(_)) => return busy(),
            AppError::Assessment(e @ assessment::Error::Integrity { .. })
            | AppError::Staff(crate::staff::Error::Assessment(
                e @ assessment::Error::Integrity { .. },
            )) => {
                tracing::error!("{e}");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::Integrity)
            }
            other => {
                // The whole cause chain, once, inside the request's span.
                tracing::error!("request failed: {:#}", anyhow::Error::from(other));
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::Status)
            }
        };
        marked(status, page)
    }
}

/// 503 with `Retry-After`, for a server too busy checking passwords; given
/// its page, or its problem document under `/api/`, like every error.
pub fn busy() -> Response {
    let mut res = marked(StatusCode::SERVICE_UNAVAILABLE, ErrorPage::Status);
    res.headers_mut().insert(
        header::RETRY_AFTER,
        super::rate_limit::retry_after(crate::staff::password::Busy::RETRY_AFTER),
    );
    res
}

fn marked(status: StatusCode, page: ErrorPage) -> Response {
    let mut res = status.into_response();
    res.extensions_mut().insert(page);
    res
}

/// The router's fallback. Rendered public pages never get here: the
/// service in front of the router answers them.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    marked(StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::Status)
}

/// A problem document for the JSON API. `errors` pairs a field
/// (JSON-pointer-like, e.g. `answers[3]`) with what is wrong with it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: String,
    pub errors: Vec<(String, String)>,
    /// An extension member (RFC 9457 §3.2): the free times offered when
    /// the one asked for was taken.
    pub nearest: Option<serde_json::Value>,
    /// An extension member: the sessions of a TMS course that could not be
    /// booked or moved, each with the nearest free times.
    pub conflicts: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, title: impl Into<String>) -> Self {
        ApiError {
            status,
            title: title.into(),
            errors: Vec::new(),
            nearest: None,
            conflicts: None,
        }
    }

    /// 422 with every bad field named.
    pub fn invalid(title: impl Into<String>, errors: Vec<(String, String)>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: title.into(),
            errors,
            nearest: None,
            conflicts: None,
        }
    }

    pub fn with_nearest(mut self, times: serde_json::Value) -> Self {
        self.nearest = Some(times);
        self
    }

    pub fn field(mut self, field: impl Into<String>, detail: impl Into<String>) -> Self {
        self.errors.push((field.into(), detail.into()));
        self
    }

    /// 429 for a client over its limit.
    pub fn too_many_requests(wait: std::time::Duration) -> Response {
        let mut res = ApiError::new(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_TITLE).into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, super::rate_limit::retry_after(wait));
        res
    }
}

const TOO_MANY_TITLE: &str =
    "Too many requests from this client; send again after the time in Retry-After";

const BUSY_TITLE: &str = "The server is busy; send again after the time in Retry-After";

/// A problem document (RFC 9457), as every API error is answered.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always "about:blank": the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    /// Each bad field and what is wrong with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// When a booking's time was just taken: the nearest free times.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::web::booking::api::SlotJson>>)]
    pub nearest: Option<serde_json::Value>,
    /// When sessions of a TMS course cannot be booked or moved: each one,
    /// with the nearest free times.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<crate::web::tms::api::ConflictJson>>)]
    pub conflicts: Option<serde_json::Value>,
}

/// One bad field of a request.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, e.g. `answers[3]` or `start`.
    pub field: String,
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank",
            title: self.title,
            status: self.status.as_u16(),
            errors: self
                .errors
                .into_iter()
                .map(|(field, detail)| FieldError { field, detail })
                .collect(),
            nearest: self.nearest,
            conflicts: self.conflicts,
        };
        let mut res = (
            self.status,
            serde_json::to_string(&body).expect("a problem serializes"),
        )
            .into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

impl From<assessment::Error> for ApiError {
    fn from(e: assessment::Error) -> Self {
        match e {
            assessment::Error::KeyReused => ApiError::invalid(
                "The Idempotency-Key was already used with a different request",
                vec![(
                    "Idempotency-Key".into(),
                    "was first used with another request; use a new key for a new request".into(),
                )],
            ),
            e @ assessment::Error::Integrity { .. } => {
                tracing::error!("{e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The stored result failed its integrity check and is not shown",
                )
            }
            assessment::Error::Storage(e) => {
                tracing::error!(
                    "storing an assessment from the API failed: {:#}",
                    anyhow::Error::from(e)
                );
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The assessment could not be stored; nothing was saved",
                )
            }
        }
    }
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

/// Seconds in a `Retry-After` header, as whole minutes for people.
fn retry_minutes(res: &Response) -> u64 {
    res.headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(1, |s| s.div_ceil(60).max(1))
}

/// Replaces bare error responses with a friendly HTML page, or with
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
    let page = res.extensions().get::<ErrorPage>().copied();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let plain = content_type.is_empty() || content_type.starts_with("text/plain");
    if page.is_none() && !plain {
        return res;
    }
    let mut out = if api {
        let title = match status {
            StatusCode::TOO_MANY_REQUESTS => TOO_MANY_TITLE.to_string(),
            StatusCode::SERVICE_UNAVAILABLE => BUSY_TITLE.to_string(),
            s => s.canonical_reason().unwrap_or("Error").to_string(),
        };
        let mut problem = ApiError::new(status, title);
        if let Some(BadFields(fields)) = res.extensions().get::<BadFields>() {
            problem.errors = fields.clone();
        }
        problem.into_response()
    } else {
        html(status, &error_page(&state, status, page, &res))
    };
    // Keep headers such as Allow on 405 and Retry-After on 429.
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    out
}

fn error_page(
    state: &AppState,
    status: StatusCode,
    page: Option<ErrorPage>,
    res: &Response,
) -> MessagePage {
    let home = ("/", "link-home");
    match (status, page) {
        (_, Some(ErrorPage::Integrity)) => MessagePage::new(
            state,
            "integrity-title",
            "integrity-heading",
            &["integrity-body", "integrity-next"],
            ("/assessment", "link-assessment"),
        ),
        (StatusCode::NOT_FOUND, _) => MessagePage::new(
            state,
            "not-found-title",
            "not-found-heading",
            &["not-found-body"],
            home,
        ),
        (StatusCode::FORBIDDEN, _) => MessagePage::new(
            state,
            "forbidden-title",
            "forbidden-title",
            &["forbidden-body"],
            home,
        ),
        (StatusCode::BAD_REQUEST, _) if res.extensions().get::<BadFields>().is_some() => {
            let mut p = MessagePage::new(
                state,
                "bad-request-title",
                "bad-request-title",
                &["bad-request-fields"],
                home,
            );
            if let Some(BadFields(fields)) = res.extensions().get::<BadFields>() {
                p.paragraphs.extend(fields.iter().map(|(field, problem)| {
                    p.l.tr
                        .t2("bad-request-field", "name", field, "why", problem)
                }));
            }
            p
        }
        (StatusCode::PAYLOAD_TOO_LARGE, _) => MessagePage::new(
            state,
            "bad-request-title",
            "bad-request-title",
            &["too-large-body"],
            home,
        ),
        (StatusCode::TOO_MANY_REQUESTS, _) => {
            let mut p = MessagePage::new(state, "too-many-title", "too-many-heading", &[], home);
            let minutes = retry_minutes(res);
            p.paragraphs = vec![
                p.l.tr.t1("too-many-body", "minutes", minutes),
                p.l.tr.t("too-many-crisis"),
            ];
            p
        }
        (StatusCode::SERVICE_UNAVAILABLE, _) => MessagePage::new(
            state,
            "busy-title",
            "busy-heading",
            &["busy-body", "too-many-crisis"],
            home,
        ),
        (s, _) if s.is_client_error() => MessagePage::new(
            state,
            "bad-request-title",
            "bad-request-title",
            &["bad-request-body"],
            home,
        ),
        _ => MessagePage::new(state, "error-title", "error-heading", &["error-body"], home),
    }
}
