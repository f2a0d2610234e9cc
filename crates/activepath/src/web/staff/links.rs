//! The pages behind e-mailed links: accepting an invitation and choosing a
//! new password; and asking for a password-reset link.

use super::{ClientIp, StaffLayout};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::accounts::{self, Link, PasswordSet};
use crate::storage::staff::{LinkPurpose, StaffUser};
use crate::web::layout::html;
use crate::web::rate_limit::{RateLimit, SignInRoute};
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "staff/choose_password.html")]
struct ChoosePasswordPage {
    l: StaffLayout,
    heading: String,
    intro: String,
    action: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/message.html")]
struct MessagePage {
    l: StaffLayout,
    heading: String,
    body: String,
    link: Option<(&'static str, String)>,
}

fn message(
    state: &AppState,
    heading: &str,
    body: &str,
    link: Option<(&'static str, &str)>,
) -> MessagePage {
    let tr = Tr::default();
    MessagePage {
        l: StaffLayout::new(state, tr.t(heading), None, ""),
        heading: tr.t(heading),
        body: tr.t(body),
        link: link.map(|(href, text)| (href, tr.t(text))),
    }
}

fn choose_page(
    state: &AppState,
    user: &StaffUser,
    purpose: LinkPurpose,
    token: &str,
    error: Option<String>,
) -> ChoosePasswordPage {
    let tr = Tr::default();
    let (heading, intro, base) = match purpose {
        LinkPurpose::Invite => (
            "staff-welcome-heading",
            "staff-welcome-intro",
            "/staff/welcome/",
        ),
        LinkPurpose::Reset => (
            "staff-reset-heading",
            "staff-reset-intro",
            "/staff/password-reset/",
        ),
    };
    ChoosePasswordPage {
        l: StaffLayout::new(state, tr.t(heading), None, ""),
        heading: tr.t(heading),
        intro: tr.t1(intro, "clinic", &state.config.clinic.name),
        action: format!("{base}{token}"),
        email: user.email.clone(),
        error,
    }
}

async fn open(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
) -> Result<std::result::Result<StaffUser, Response>> {
    match accounts::open_link(state, token)
        .await
        .map_err(AppError::from)?
    {
        Link::Open(user, p) if p == purpose => Ok(Ok(*user)),
        Link::Open(..) | Link::Unknown => Err(AppError::NotFound),
        Link::Spent => Ok(Err(html(
            StatusCode::GONE,
            &message(
                state,
                "staff-link-spent-heading",
                "staff-link-spent-body",
                Some(("/staff/password-reset", "staff-reset-ask")),
            ),
        ))),
    }
}

pub async fn welcome_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response> {
    let user = match open(&state, &token, LinkPurpose::Invite).await? {
        Ok(u) => u,
        Err(page) => return Ok(page),
    };
    Ok(html(
        StatusCode::OK,
        &choose_page(&state, &user, LinkPurpose::Invite, &token, None),
    ))
}

pub async fn reset_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response> {
    let user = match open(&state, &token, LinkPurpose::Reset).await? {
        Ok(u) => u,
        Err(page) => return Ok(page),
    };
    Ok(html(
        StatusCode::OK,
        &choose_page(&state, &user, LinkPurpose::Reset, &token, None),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
    again: String,
}

async fn choose(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
    client_ip: Option<String>,
    form: PasswordForm,
) -> Result<Response> {
    let user = match open(state, token, purpose).await? {
        Ok(u) => u,
        Err(page) => return Ok(page),
    };
    let tr = Tr::default();
    if form.password != form.again {
        let page = choose_page(
            state,
            &user,
            purpose,
            token,
            Some(tr.t("staff-password-mismatch")),
        );
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    match accounts::set_password(
        state,
        token,
        &user,
        purpose,
        form.password.into(),
        client_ip,
    )
    .await
    .map_err(AppError::from)?
    {
        PasswordSet::Done => Ok(Redirect::to("/staff/login?password_set=1").into_response()),
        PasswordSet::Weak(why) => {
            let error = tr.t1("staff-password-weak", "why", why);
            let page = choose_page(state, &user, purpose, token, Some(error));
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        PasswordSet::Busy => Err(AppError::from(crate::staff::Error::from(
            crate::staff::password::Busy,
        ))),
        PasswordSet::Spent => Ok(html(
            StatusCode::GONE,
            &message(
                state,
                "staff-link-spent-heading",
                "staff-link-spent-body",
                Some(("/staff/password-reset", "staff-reset-ask")),
            ),
        )),
    }
}

pub async fn welcome_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    choose(&state, &token, LinkPurpose::Invite, ip, form).await
}

pub async fn reset_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    choose(&state, &token, LinkPurpose::Reset, ip, form).await
}

#[derive(Template)]
#[template(path = "staff/reset_request.html")]
struct ResetRequestPage {
    l: StaffLayout,
    email: String,
    error: Option<String>,
}

pub async fn reset_request_form(State(state): State<AppState>) -> Response {
    let tr = Tr::default();
    let page = ResetRequestPage {
        l: StaffLayout::new(&state, tr.t("staff-reset-request-title"), None, ""),
        email: String::new(),
        error: None,
    };
    html(StatusCode::OK, &page)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetRequestForm {
    email: String,
}

/// The same answer whether or not the address has an account; the link
/// (if any) is made after the answer, so the time taken says nothing either.
pub async fn reset_request_submit(
    limit: RateLimit<SignInRoute>,
    State(state): State<AppState>,
    Form(form): Form<ResetRequestForm>,
) -> Result<Response> {
    let tr = Tr::default();
    if crate::domain::EmailAddress::parse(&form.email).is_err() {
        let page = ResetRequestPage {
            l: StaffLayout::new(&state, tr.t("staff-reset-request-title"), None, ""),
            email: form.email,
            error: Some(tr.t("share-error-email")),
        };
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    limit.spend(&state).map_err(AppError::TooManyRequests)?;
    let background = state.clone();
    tokio::spawn(async move {
        if let Err(e) = accounts::request_reset(&background, &form.email).await {
            tracing::error!("making a password-reset link failed: {e:#}");
        }
    });
    Ok(html(
        StatusCode::OK,
        &message(
            &state,
            "staff-reset-sent-heading",
            "staff-reset-sent-body",
            Some(("/staff/login", "staff-back-to-sign-in")),
        ),
    ))
}
