//! A held booking's pages: "check your e-mail" after the details form, and
//! the confirmation link from that e-mail. Opening the link shows what is
//! held and one button; confirming is a POST, so that a mail program or a
//! link scanner fetching the link confirms nothing, and leads to the
//! booking's own page. The link opened again leads there again; opened
//! after the hold lapsed, it says so and offers to book again.

use super::pages::{ChangePage, NoticePage, summary};
use crate::app::AppState;
use crate::booking::{self, Appointment, Catalogue, Confirmation, Status};
use crate::i18n::Tr;
use crate::time::{format_clock, format_date_time};
use crate::web::layout::{Layout, html};
use crate::web::{AppError, Result};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// "10:42 AM" when it is today where the clinic is, else with the date.
fn until(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    if crate::time::date_in(at, tz) == crate::time::date_in(now, tz) {
        format_clock(at, tz)
    } else {
        format_date_time(at, tz)
    }
}

fn minutes(state: &AppState) -> String {
    booking::confirm_within(state).as_mins().to_string()
}

/// "This time was released", and a way to book again (the same type and
/// place while they are offered, else the booking page).
fn lapsed_page(state: &AppState, cat: &Catalogue, a: &Appointment) -> Response {
    let tr = Tr::default();
    let again = match (
        cat.type_by_id(a.row.type_id).filter(|t| t.public),
        cat.location_by_id(a.row.location_id),
    ) {
        (Some(kind), Some(location)) if cat.offered_at(kind, location) => {
            format!("/book/{}/{}", kind.slug, location.slug)
        }
        _ => "/book".to_string(),
    };
    let mut page = NoticePage::new(
        state,
        tr.t("book-lapsed-title"),
        vec![tr.t1("book-lapsed-lead", "minutes", minutes(state))],
    );
    page.action = Some((again, tr.t("book-again")));
    html(StatusCode::GONE, &page)
}

/// `GET /book/held/{uid}`: where the details form leads. What is held and
/// until when, where the e-mail went (masked), and what to do.
pub async fn held(State(state): State<AppState>, Path(uid): Path<String>) -> Result<Response> {
    if uid.len() > 100 {
        return Err(AppError::NotFound);
    }
    let a = booking::by_uid(&state, &uid)
        .await
        .map_err(anyhow::Error::from)?
        // Only the public's bookings are held; staff ones are not shown here.
        .filter(|a| a.row.source != "staff")
        .ok_or(AppError::NotFound)?;
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let now = state.clock.now();
    if a.hold_lapsed(now) {
        return Ok(lapsed_page(&state, &cat, &a));
    }
    let tr = Tr::default();
    if a.status() != Status::Held {
        let page = NoticePage::new(
            &state,
            tr.t("book-manage-title"),
            vec![tr.t("book-held-confirmed")],
        );
        return Ok(html(StatusCode::OK, &page));
    }
    let (Some(kind), Some(location)) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
    ) else {
        return Err(AppError::NotFound);
    };
    let expires = a.row.hold_expires_at.unwrap_or(now);
    let mut page = NoticePage::new(
        &state,
        tr.t("book-held-title"),
        vec![
            tr.t2(
                "book-held-lead",
                "until",
                until(expires, now, &location.tz),
                "summary",
                summary(&tr, kind, location, a.row.starts_at),
            ),
            tr.t2(
                "book-held-email",
                "email",
                crate::mail::mask_address(&a.details.email),
                "minutes",
                minutes(&state),
            ),
            tr.t1("book-held-nothing", "phone", &state.config.clinic.phone),
        ],
    );
    page.call = true;
    Ok(html(StatusCode::OK, &page))
}

/// Where a confirmation link leads once it has been used: the booking's
/// own page ("You are booked" when it was confirmed just now), or the page
/// saying the time was released.
fn answer(state: &AppState, cat: &Catalogue, outcome: Option<Confirmation>) -> Result<Response> {
    let manage = |token: &str, query: &str| {
        Redirect::to(&format!("/book/manage/{token}{query}")).into_response()
    };
    match outcome {
        Some(Confirmation::Confirmed { manage_token }) => Ok(manage(&manage_token, "?done=booked")),
        Some(Confirmation::AlreadyConfirmed { manage_token }) => Ok(manage(&manage_token, "")),
        Some(Confirmation::Lapsed(a)) => Ok(lapsed_page(state, cat, &a)),
        None => Err(AppError::NotFound),
    }
}

/// `GET /book/confirm/{token}`: what is held, and the button that confirms
/// it. Opened again once confirmed, the booking's own page; after the hold
/// lapsed, the page that says so.
pub async fn confirm_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response> {
    let a = booking::by_confirm_token(&state, &token)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or(AppError::NotFound)?;
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let kind = cat.type_by_id(a.row.type_id);
    let location = cat.location_by_id(a.row.location_id);
    let (Status::Held, false, Some(kind), Some(location)) =
        (a.status(), a.hold_lapsed(state.clock.now()), kind, location)
    else {
        // Nothing to ask: confirming a booking that is not waiting for it
        // only says where it stands.
        let outcome = booking::confirm(&state, &cat, &token)
            .await
            .map_err(anyhow::Error::from)?;
        return answer(&state, &cat, outcome);
    };
    let tr = Tr::default();
    let heading = tr.t("book-confirm-title");
    let page = ChangePage {
        l: Layout::with_title(&state, "book", heading.clone(), heading.clone()).private(),
        lead: tr.t1(
            "book-confirm-lead",
            "summary",
            summary(&tr, kind, location, a.row.starts_at),
        ),
        heading,
        action: format!("/book/confirm/{token}"),
        start: String::new(),
        button: tr.t("book-confirm-button"),
        back: "/book".into(),
        problem: None,
        taken: None,
    };
    Ok(html(StatusCode::OK, &page))
}

/// `POST /book/confirm/{token}`: confirms, then the booking's own page
/// ("You are booked"). Twice is harmless: the second leads to the same page.
pub async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response> {
    let cat = Catalogue::load(&state).await.map_err(anyhow::Error::from)?;
    let outcome = booking::confirm(&state, &cat, &token)
        .await
        .map_err(anyhow::Error::from)?;
    answer(&state, &cat, outcome)
}
