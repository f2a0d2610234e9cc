//! Administrators' pages: the accounts (invite, which asks for a second
//! person's approval, see `staff::access`; disable, enable), and everyone's
//! own API tokens.

use super::{Allowed, ManageAccounts, OwnTokens, StaffLayout, role_label};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::Role;
use crate::staff::access::{self, RequestError};
use crate::staff::accounts;
use crate::staff::sign_in::{self, NewAccountError};
use crate::storage::TextEnum;
use crate::time::format_date_time;
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub struct AccountRow {
    id: i64,
    email: String,
    role: String,
    state: String,
    disabled: bool,
    second_factor: bool,
    created: String,
    me: bool,
    /// A clinician: the medical-director mark may be set or removed.
    clinician: bool,
    medical_director: bool,
}

#[derive(Template)]
#[template(path = "staff/accounts.html")]
struct AccountsPage {
    l: StaffLayout,
    rows: Vec<AccountRow>,
    roles: Vec<(&'static str, String)>,
    form: InviteForm,
    error: Option<String>,
    notice: Option<String>,
    /// Requests for roles waiting for a second person.
    waiting: usize,
    /// No one else can approve in the portal: what to do.
    no_approver: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    role: String,
}

async fn accounts_page(
    state: &AppState,
    who: &super::SignedIn,
    form: InviteForm,
    error: Option<String>,
    notice: Option<String>,
) -> Result<AccountsPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let users = state.storage.staff_users().await?;
    let (pending, _) = state.storage.grants(0).await?;
    let no_approver = if access::approver_besides(state, who.user.id)
        .await
        .map_err(AppError::from)?
    {
        None
    } else {
        Some(tr.t("staff-grants-no-approver"))
    };
    let rows = users
        .iter()
        .map(|u| AccountRow {
            id: u.id,
            email: u.email.clone(),
            role: if u.medical_director {
                tr.t1(
                    "staff-role-medical-director",
                    "role",
                    role_label(&tr, u.role),
                )
            } else {
                role_label(&tr, u.role)
            },
            state: match (u.disabled_at, &u.password_hash) {
                (Some(_), _) => tr.t("staff-account-disabled"),
                (None, None) => tr.t("staff-account-invited"),
                (None, Some(_)) if sign_in::codes_locked(state, u) => {
                    tr.t("staff-account-codes-locked")
                }
                (None, Some(_)) => tr.t("staff-account-active"),
            },
            disabled: u.disabled_at.is_some(),
            second_factor: u.totp_secret.is_some(),
            created: format_date_time(u.created_at, tz),
            me: u.id == who.user.id,
            clinician: u.role == Role::Clinician,
            medical_director: u.medical_director,
        })
        .collect();
    Ok(AccountsPage {
        l: StaffLayout::new(state, tr.t("staff-accounts-title"), Some(who), "accounts"),
        roles: Role::ALL
            .iter()
            .map(|r| (r.as_text(), role_label(&tr, *r)))
            .collect(),
        rows,
        form,
        error,
        notice,
        waiting: pending.len(),
        no_approver,
    })
}

pub async fn list(
    Allowed(who, _): Allowed<ManageAccounts>,
    State(state): State<AppState>,
) -> Result<Response> {
    let page = accounts_page(&state, &who, InviteForm::default(), None, None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// Asks for the account: it is made, and its invitation sent, once a
/// second person approves.
pub async fn invite(
    Allowed(who, _): Allowed<ManageAccounts>,
    State(state): State<AppState>,
    Form(form): Form<InviteForm>,
) -> Result<Response> {
    let tr = Tr::default();
    let Some(role) = Role::from_text(&form.role) else {
        let page = accounts_page(&state, &who, form, Some(tr.t("staff-invite-role")), None).await?;
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    match access::request(&state, &who.user, &who.actor, &form.email, role).await {
        Ok(_) => {
            let notice = tr.t2(
                "staff-invite-waiting",
                "email",
                form.email.trim().to_lowercase(),
                "role",
                role_label(&tr, role),
            );
            let page =
                accounts_page(&state, &who, InviteForm::default(), None, Some(notice)).await?;
            Ok(html(StatusCode::OK, &page))
        }
        Err(e) => {
            let message = match e {
                RequestError::Account(NewAccountError::Email(_)) => tr.t("share-error-email"),
                RequestError::Account(NewAccountError::Exists) => tr.t("staff-invite-exists"),
                RequestError::Waiting => tr.t("staff-invite-already-waiting"),
                RequestError::NotAllowed => return Err(AppError::NotFound),
                RequestError::Account(NewAccountError::Password(_)) => {
                    unreachable!("invitations carry no password")
                }
                RequestError::Account(NewAccountError::Other(e)) => return Err(AppError::from(e)),
            };
            let page = accounts_page(&state, &who, form, Some(message), None).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

async fn set_disabled(
    state: &AppState,
    who: &super::SignedIn,
    id: i64,
    disabled: bool,
) -> Result<Response> {
    if id == who.user.id {
        let tr = Tr::default();
        let page = accounts_page(
            state,
            who,
            InviteForm::default(),
            Some(tr.t("staff-disable-self")),
            None,
        )
        .await?;
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    if !accounts::set_disabled(state, &who.actor, id, disabled)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/staff/accounts").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MarkForm {
    /// `on` or `off`.
    mark: String,
}

/// `POST /staff/accounts/{id}/medical-director`: an administrator sets or
/// removes the mark on a clinician's account (never their own); audited and
/// mailed to the administrators and medical directors
/// (`staff::access::mark_medical_director`).
pub async fn medical_director(
    Allowed(who, _): Allowed<ManageAccounts>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<MarkForm>,
) -> Result<Response> {
    let tr = Tr::default();
    let on = match form.mark.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(AppError::bad("mark", "must be on or off")),
    };
    let (status, error, notice) =
        match access::mark_medical_director(&state, &who.user, &who.actor, id, on)
            .await
            .map_err(AppError::from)?
        {
            access::Mark::Done => (
                StatusCode::OK,
                None,
                Some(tr.t(if on {
                    "account-md-done-set"
                } else {
                    "account-md-done-unset"
                })),
            ),
            access::Mark::OwnAccount => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(tr.t("account-md-own")),
                None,
            ),
            access::Mark::NotClinician => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(tr.t("account-md-clinician")),
                None,
            ),
            access::Mark::NoSuchAccount | access::Mark::NotAllowed => {
                return Err(AppError::NotFound);
            }
        };
    let page = accounts_page(&state, &who, InviteForm::default(), error, notice).await?;
    Ok(html(status, &page))
}

pub async fn disable(
    Allowed(who, _): Allowed<ManageAccounts>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    set_disabled(&state, &who, id, true).await
}

pub async fn enable(
    Allowed(who, _): Allowed<ManageAccounts>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    set_disabled(&state, &who, id, false).await
}

pub struct TokenRow {
    id: i64,
    name: String,
    created: String,
    last_used: Option<String>,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/tokens.html")]
struct TokensPage {
    l: StaffLayout,
    rows: Vec<TokenRow>,
    new_token: Option<String>,
    name: String,
    error: Option<String>,
    acts_as: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    name: String,
}

async fn tokens_page(
    state: &AppState,
    who: &super::SignedIn,
    new_token: Option<String>,
    name: String,
    error: Option<String>,
) -> Result<TokensPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let rows = state
        .storage
        .api_tokens_of(who.user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            created: format_date_time(t.created_at, tz),
            last_used: t.last_used_at.map(|at| format_date_time(at, tz)),
            revoked: t.revoked_at.map(|at| format_date_time(at, tz)),
        })
        .collect();
    Ok(TokensPage {
        acts_as: tr.t1(
            "staff-tokens-acts-as",
            "role",
            role_label(&tr, who.user.role),
        ),
        l: StaffLayout::new(state, tr.t("staff-tokens-title"), Some(who), "tokens"),
        rows,
        new_token,
        name,
        error,
    })
}

pub async fn tokens(
    Allowed(who, _): Allowed<OwnTokens>,
    State(state): State<AppState>,
) -> Result<Response> {
    Ok(html(
        StatusCode::OK,
        &tokens_page(&state, &who, None, String::new(), None).await?,
    ))
}

pub async fn create_token(
    Allowed(who, _): Allowed<OwnTokens>,
    State(state): State<AppState>,
    Form(form): Form<TokenForm>,
) -> Result<Response> {
    let tr = Tr::default();
    let name = match crate::domain::single_line(&form.name, 100) {
        Ok(n) => n,
        Err(_) => {
            let page = tokens_page(
                &state,
                &who,
                None,
                form.name,
                Some(tr.t("staff-token-name")),
            )
            .await?;
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let token = sign_in::new_api_token(&state, &who.actor, &who.user, &name)
        .await
        .map_err(AppError::from)?;
    // Shown in this answer only: the database keeps a digest.
    let page = tokens_page(&state, &who, Some(token), String::new(), None).await?;
    Ok(html(StatusCode::OK, &page))
}

pub async fn revoke_token(
    Allowed(who, _): Allowed<OwnTokens>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let now = state.clock.now();
    if !state.storage.revoke_api_token(who.user.id, id, now).await? {
        return Err(AppError::NotFound);
    }
    crate::staff::audit::seen(&state, who.actor.did("revoke", "api_token", id, now))
        .await
        .map_err(AppError::from)?;
    Ok(Redirect::to("/staff/tokens").into_response())
}
