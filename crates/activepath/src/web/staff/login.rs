//! Signing in: the password, the second factor (and setting it up at first
//! sign-in), and signing out.

use super::{
    ClientIp, SignedIn, StaffLayout, clear_cookie, cookie_value, safe_next, session_cookie,
};
use crate::app::AppState;
use crate::staff::sign_in::{
    self, CodeOutcome, Current, EnrolOutcome, PasswordOutcome, SessionCookie,
};
use crate::storage::staff::SessionStage;
use crate::web::layout::html;
use crate::web::rate_limit::{RateLimit, SignInRoute};
use crate::web::{AppError, Result};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use jiff::SignedDuration;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

#[derive(Template)]
#[template(path = "staff/login.html")]
struct LoginPage {
    l: StaffLayout,
    email: String,
    next: String,
    error: Option<String>,
    /// Arrived after choosing a password from an e-mailed link.
    password_set: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: String,
    password_set: Option<String>,
}

fn login_page(state: &AppState, email: String, next: String, error: Option<String>) -> LoginPage {
    let l = StaffLayout::new(
        state,
        crate::i18n::Tr::default().t("staff-login-title"),
        None,
        "",
    );
    LoginPage {
        l,
        email,
        next,
        error,
        password_set: false,
    }
}

/// The session a request carries, at whatever stage.
async fn session_of(state: &AppState, headers: &HeaderMap) -> Result<Option<Current>> {
    match cookie_value(state, headers) {
        Some(cookie) => Ok(sign_in::current(state, &cookie)
            .await
            .map_err(AppError::from)?),
        None => Ok(None),
    }
}

fn wait_words(tr: &crate::i18n::Tr, wait: SignedDuration) -> String {
    let seconds = wait.as_secs().max(1);
    if seconds < 90 {
        tr.t1("staff-throttled-seconds", "count", seconds)
    } else {
        tr.t1("staff-throttled-minutes", "count", (seconds + 59) / 60)
    }
}

/// After each stage, where to go with a new session cookie.
fn proceed(state: &AppState, cookie: &SessionCookie, stage: SessionStage, next: &str) -> Response {
    let to = match stage {
        SessionStage::SecondFactor => with_next("/staff/login/code", next),
        SessionStage::Enrol => with_next("/staff/enrol", next),
        SessionStage::Complete => safe_next(next).unwrap_or("/staff").to_string(),
    };
    let mut res = Redirect::to(&to).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, &cookie.0));
    res
}

fn with_next(path: &str, next: &str) -> String {
    match safe_next(next) {
        Some(n) => format!(
            "{path}?next={}",
            percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => path.to_string(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response> {
    if let Some(current) = session_of(&state, &headers).await?
        && current.session.stage == SessionStage::Complete
    {
        return Ok(Redirect::to(safe_next(&q.next).unwrap_or("/staff")).into_response());
    }
    let next = safe_next(&q.next).unwrap_or_default().to_string();
    Ok(html(
        StatusCode::OK,
        &login_page(&state, String::new(), next, None),
    ))
}

pub async fn submit(
    limit: RateLimit<SignInRoute>,
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    let tr = crate::i18n::Tr::default();
    let next = safe_next(&form.next).unwrap_or_default().to_string();
    if form.email.trim().is_empty() || form.password.is_empty() {
        let page = login_page(&state, form.email, next, Some(tr.t("staff-login-missing")));
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    let outcome = sign_in::with_password(&state, &form.email, form.password.into(), client_ip)
        .await
        .map_err(AppError::from)?;
    match outcome {
        PasswordOutcome::Accepted { cookie, stage } => Ok(proceed(&state, &cookie, stage, &next)),
        PasswordOutcome::Refused => {
            let page = login_page(&state, form.email, next, Some(tr.t("staff-login-refused")));
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        PasswordOutcome::Throttled(wait) => {
            let page = login_page(&state, form.email, next, Some(wait_words(&tr, wait)));
            Ok(with_retry_after(
                html(StatusCode::TOO_MANY_REQUESTS, &page),
                wait,
            ))
        }
        // The form again, with what was typed but the password, and when to
        // send it.
        PasswordOutcome::Busy => {
            let page = login_page(&state, form.email, next, Some(tr.t("busy-body")));
            let wait = crate::staff::password::Busy::RETRY_AFTER;
            Ok(with_retry_after(
                html(StatusCode::SERVICE_UNAVAILABLE, &page),
                SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(2)),
            ))
        }
    }
}

fn with_retry_after(mut res: Response, wait: SignedDuration) -> Response {
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    res
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    code: String,
    csrf: String,
    next: String,
}

#[derive(Template)]
#[template(path = "staff/code.html")]
struct CodePage {
    l: StaffLayout,
    csrf: String,
    next: String,
    error: Option<String>,
    /// Too many wrong codes: no form, and what to do instead.
    locked: bool,
}

/// A session at `stage`, or where to go instead.
async fn at_stage(
    state: &AppState,
    headers: &HeaderMap,
    stage: SessionStage,
) -> Result<std::result::Result<Current, Response>> {
    match session_of(state, headers).await? {
        Some(c) if c.session.stage == stage => Ok(Ok(c)),
        Some(c) if c.session.stage == SessionStage::Complete => {
            Ok(Err(Redirect::to("/staff").into_response()))
        }
        Some(c) if c.session.stage == SessionStage::SecondFactor => {
            Ok(Err(Redirect::to("/staff/login/code").into_response()))
        }
        Some(_) => Ok(Err(Redirect::to("/staff/enrol").into_response())),
        None => Ok(Err(Redirect::to("/staff/login").into_response())),
    }
}

fn code_page(state: &AppState, current: &Current, next: String, error: Option<String>) -> CodePage {
    let tr = crate::i18n::Tr::default();
    CodePage {
        l: StaffLayout::new(state, tr.t("staff-code-title"), None, ""),
        csrf: current.cookie.csrf_token(state),
        next,
        error,
        locked: false,
    }
}

/// The code page of an account that takes no more codes.
fn locked_page(state: &AppState, current: &Current) -> Response {
    let page = CodePage {
        locked: true,
        ..code_page(state, current, String::new(), None)
    };
    html(StatusCode::FORBIDDEN, &page)
}

pub async fn code_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response> {
    let current = match at_stage(&state, &headers, SessionStage::SecondFactor).await? {
        Ok(c) => c,
        Err(elsewhere) => return Ok(elsewhere),
    };
    if sign_in::codes_locked(&state, &current.session.user) {
        return Ok(locked_page(&state, &current));
    }
    let next = safe_next(&q.next).unwrap_or_default().to_string();
    Ok(html(
        StatusCode::OK,
        &code_page(&state, &current, next, None),
    ))
}

pub async fn code_submit(
    limit: RateLimit<SignInRoute>,
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let current = match at_stage(&state, &headers, SessionStage::SecondFactor).await? {
        Ok(c) => c,
        Err(elsewhere) => return Ok(elsewhere),
    };
    if !current.cookie.csrf_matches(&state, &form.csrf) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let tr = crate::i18n::Tr::default();
    let next = safe_next(&form.next).unwrap_or_default().to_string();
    if form.code.trim().is_empty() {
        let page = code_page(&state, &current, next, Some(tr.t("staff-code-missing")));
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    match sign_in::with_code(&state, &current, &form.code, client_ip)
        .await
        .map_err(AppError::from)?
    {
        CodeOutcome::Accepted(cookie) => {
            Ok(proceed(&state, &cookie, SessionStage::Complete, &next))
        }
        CodeOutcome::Refused => {
            let page = code_page(&state, &current, next, Some(tr.t("staff-code-refused")));
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        CodeOutcome::Throttled(wait) => {
            let page = code_page(&state, &current, next, Some(wait_words(&tr, wait)));
            Ok(with_retry_after(
                html(StatusCode::TOO_MANY_REQUESTS, &page),
                wait,
            ))
        }
        CodeOutcome::Locked => Ok(locked_page(&state, &current)),
    }
}

#[derive(Template)]
#[template(path = "staff/enrol.html")]
struct EnrolPage {
    l: StaffLayout,
    csrf: String,
    next: String,
    secret_groups: Vec<String>,
    error: Option<String>,
}

async fn enrol_page(
    state: &AppState,
    current: &Current,
    next: String,
    error: Option<String>,
) -> Result<EnrolPage> {
    let enrolment = sign_in::enrolment(state, &current.session.user)
        .await
        .map_err(AppError::from)?;
    let tr = crate::i18n::Tr::default();
    Ok(EnrolPage {
        l: StaffLayout::new(state, tr.t("staff-enrol-title"), None, ""),
        csrf: current.cookie.csrf_token(state),
        next,
        secret_groups: enrolment
            .secret_text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        error,
    })
}

pub async fn enrol_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response> {
    let current = match at_stage(&state, &headers, SessionStage::Enrol).await? {
        Ok(c) => c,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let next = safe_next(&q.next).unwrap_or_default().to_string();
    Ok(html(
        StatusCode::OK,
        &enrol_page(&state, &current, next, None).await?,
    ))
}

/// The QR code of the pending secret, as an image.
pub async fn enrol_qr(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let current = match at_stage(&state, &headers, SessionStage::Enrol).await? {
        Ok(c) => c,
        Err(_) => return Err(AppError::NotFound),
    };
    let enrolment = sign_in::enrolment(&state, &current.session.user)
        .await
        .map_err(AppError::from)?;
    let svg = crate::staff::totp::qr_svg(&enrolment.provisioning_url);
    let mut res = svg.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "staff/recovery.html")]
struct RecoveryPage {
    l: StaffLayout,
    codes: Vec<String>,
    next: String,
}

pub async fn enrol_submit(
    limit: RateLimit<SignInRoute>,
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let current = match at_stage(&state, &headers, SessionStage::Enrol).await? {
        Ok(c) => c,
        Err(elsewhere) => return Ok(elsewhere),
    };
    if !current.cookie.csrf_matches(&state, &form.csrf) {
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let tr = crate::i18n::Tr::default();
    let next = safe_next(&form.next).unwrap_or_default().to_string();
    if form.code.trim().is_empty() {
        let page = enrol_page(&state, &current, next, Some(tr.t("staff-code-missing"))).await?;
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    match sign_in::confirm_enrolment(&state, &current, &form.code, client_ip)
        .await
        .map_err(AppError::from)?
    {
        EnrolOutcome::Refused => {
            let page =
                enrol_page(&state, &current, next, Some(tr.t("staff-enrol-refused"))).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        // The recovery codes are shown once, in this answer, and never again.
        EnrolOutcome::Done {
            cookie,
            recovery_codes,
        } => {
            let page = RecoveryPage {
                l: StaffLayout::new(&state, tr.t("staff-recovery-title"), None, ""),
                codes: recovery_codes,
                next: safe_next(&next).unwrap_or("/staff").to_string(),
            };
            let mut res = html(StatusCode::OK, &page);
            res.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&state, &cookie.0));
            Ok(res)
        }
    }
}

fn signed_out(state: &AppState) -> Response {
    let mut res = Redirect::to("/staff/login").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(state));
    res
}

pub async fn sign_out(
    State(state): State<AppState>,
    Extension(who): Extension<SignedIn>,
) -> Result<Response> {
    if let Some(current) = &who.session {
        sign_in::sign_out(&state, current)
            .await
            .map_err(AppError::from)?;
    }
    Ok(signed_out(&state))
}

pub async fn sign_out_elsewhere(
    State(state): State<AppState>,
    Extension(who): Extension<SignedIn>,
) -> Result<Response> {
    if let Some(current) = &who.session {
        sign_in::sign_out_elsewhere(&state, current)
            .await
            .map_err(AppError::from)?;
    }
    Ok(Redirect::to("/staff?signed_out_elsewhere=1").into_response())
}
