//! Approvals (`/staff/grants`): the roles administrators asked for in the
//! portal, waiting for a second person (another administrator or the
//! medical director, never the one who asked), and the latest decisions.

use super::{SignedIn, StaffLayout, role_label};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::access::{self, Approver, Decision};
use crate::staff::roles::approves_grants;
use crate::storage::grants::{Grant, GrantStatus};
use crate::time::format_date_time;
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

/// Decisions shown below the waiting requests.
const RECENT: i64 = 20;

/// Someone who may decide on requests: an administrator or the medical
/// director. 403 for anyone else.
pub struct Decider(SignedIn);

impl crate::web::routes::Reads for Decider {}

impl FromRequestParts<AppState> for Decider {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<SignedIn>() {
            Some(who) if who.session.is_some() && approves_grants(&who.user) => {
                Ok(Decider(who.clone()))
            }
            Some(_) => Err(StatusCode::FORBIDDEN.into_response()),
            None => Err(StatusCode::UNAUTHORIZED.into_response()),
        }
    }
}

pub struct WaitingRow {
    id: i64,
    email: String,
    role: String,
    requester: String,
    when: String,
    /// The viewer may approve this one (not their own request).
    can_approve: bool,
    /// The viewer asked for it: they may withdraw it.
    mine: bool,
}

pub struct DecidedRow {
    email: String,
    role: String,
    requester: String,
    decision: String,
    decider: String,
    when: String,
}

#[derive(Template)]
#[template(path = "staff/grants.html")]
struct GrantsPage {
    l: StaffLayout,
    waiting: Vec<WaitingRow>,
    decided: Vec<DecidedRow>,
    error: Option<String>,
    /// Nobody but the viewer can approve in the portal: what to do.
    no_approver: Option<String>,
}

async fn grants_page(
    state: &AppState,
    who: &SignedIn,
    error: Option<String>,
) -> Result<GrantsPage> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let (pending, done) = state.storage.grants(RECENT).await?;
    let mine_waiting = pending.iter().any(|g| g.requested_by == who.user.id);
    let no_approver = if mine_waiting
        && !access::approver_besides(state, who.user.id)
            .await
            .map_err(AppError::from)?
    {
        Some(tr.t("staff-grants-no-approver"))
    } else {
        None
    };
    let waiting = pending
        .iter()
        .map(|g: &Grant| WaitingRow {
            id: g.id,
            email: g.email.clone(),
            role: role_label(&tr, g.role),
            requester: g.requester.clone(),
            when: format_date_time(g.requested_at, tz),
            can_approve: g.requested_by != who.user.id,
            mine: g.requested_by == who.user.id,
        })
        .collect();
    let decided = done
        .iter()
        .map(|g| DecidedRow {
            email: g.email.clone(),
            role: role_label(&tr, g.role),
            requester: g.requester.clone(),
            decision: tr.t(match g.status {
                GrantStatus::Approved => "staff-grants-approved",
                GrantStatus::Declined | GrantStatus::Pending => "staff-grants-declined",
            }),
            decider: g
                .decider
                .clone()
                .unwrap_or_else(|| tr.t("mail-grant-the-operator")),
            when: g
                .decided_at
                .map(|at| format_date_time(at, tz))
                .unwrap_or_default(),
        })
        .collect();
    Ok(GrantsPage {
        l: StaffLayout::new(state, tr.t("staff-grants-title"), Some(who), "grants"),
        waiting,
        decided,
        error,
        no_approver,
    })
}

pub async fn page(Decider(who): Decider, State(state): State<AppState>) -> Result<Response> {
    Ok(html(
        StatusCode::OK,
        &grants_page(&state, &who, None).await?,
    ))
}

/// The page again with why nothing was done.
async fn refused(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    why: &str,
) -> Result<Response> {
    let page = grants_page(state, who, Some(Tr::default().t(why))).await?;
    Ok(html(status, &page))
}

async fn answer(state: &AppState, who: &SignedIn, decision: Decision) -> Result<Response> {
    match decision {
        Decision::Approved { .. } | Decision::Declined => {
            Ok(Redirect::to("/staff/grants").into_response())
        }
        Decision::OwnRequest => {
            refused(
                state,
                who,
                StatusCode::FORBIDDEN,
                "staff-grants-own-request",
            )
            .await
        }
        Decision::NotWaiting => {
            refused(state, who, StatusCode::CONFLICT, "staff-grants-not-waiting").await
        }
        Decision::Exists => refused(state, who, StatusCode::CONFLICT, "staff-invite-exists").await,
        Decision::NotAllowed => Err(AppError::NotFound),
    }
}

pub async fn approve(
    Decider(who): Decider,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let decision = access::approve(&state, Approver::Account(&who.user, &who.actor), id)
        .await
        .map_err(AppError::from)?;
    answer(&state, &who, decision).await
}

pub async fn decline(
    Decider(who): Decider,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let decision = access::decline(&state, &who.user, &who.actor, id)
        .await
        .map_err(AppError::from)?;
    answer(&state, &who, decision).await
}
