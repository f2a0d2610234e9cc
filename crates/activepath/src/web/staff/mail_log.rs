//! The mail delivery log: every message the outbox holds (delivered mail is
//! kept 30 days), whether it went, is being retried or failed for good;
//! failed ones can be retried or dismissed. A message to a patient is
//! sealed: the log shows that it exists and how delivery went, never to
//! whom or what it said.

use super::{Allowed, SeeMailLog, StaffLayout};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::time::format_date_time;
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

const PAGE: i64 = 100;

struct Row {
    id: i64,
    queued: String,
    to: String,
    subject: String,
    /// A short state, and whether it is a failure to act on.
    state: String,
    failed: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/mail.html")]
struct MailPage {
    l: StaffLayout,
    rows: Vec<Row>,
    older: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogQuery {
    before: Option<i64>,
}

pub async fn page(
    Allowed(who, _): Allowed<SeeMailLog>,
    State(state): State<AppState>,
    Query(q): Query<LogQuery>,
) -> Result<Response> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let entries = state
        .storage
        .mail_log(q.before.unwrap_or(i64::MAX), PAGE)
        .await?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let rows = entries
        .into_iter()
        .map(|e| {
            let (state_text, failed) = match (e.sent_at, e.failed_at, e.dismissed_at) {
                (Some(at), _, _) => (
                    tr.t1("staff-mail-sent", "date", format_date_time(at, tz)),
                    false,
                ),
                (None, Some(at), None) => (
                    tr.t1("staff-mail-failed", "date", format_date_time(at, tz)),
                    true,
                ),
                (None, Some(_), Some(_)) => (tr.t("staff-mail-dismissed"), false),
                (None, None, _) if e.attempts == 0 => (tr.t("staff-mail-waiting"), false),
                (None, None, _) => (
                    tr.t2(
                        "staff-mail-retrying",
                        "count",
                        e.attempts,
                        "date",
                        format_date_time(e.next_attempt_at, tz),
                    ),
                    false,
                ),
            };
            Row {
                id: e.id,
                queued: format_date_time(e.created_at, tz),
                to: if e.personal {
                    tr.t("staff-mail-to-person")
                } else {
                    e.recipient
                },
                subject: if e.personal {
                    tr.t("staff-mail-sealed")
                } else {
                    e.subject
                },
                state: state_text,
                failed,
                error: e.last_error,
            }
        })
        .collect();
    let l = StaffLayout::new(&state, tr.t("staff-mail-title"), Some(&who), "mail");
    Ok(html(StatusCode::OK, &MailPage { l, rows, older }))
}

async fn change(state: &AppState, retry: bool, id: i64) -> Result<Response> {
    let now = state.clock.now();
    let done = if retry {
        state.storage.retry_mail(id, now).await?
    } else {
        state.storage.dismiss_mail(id, now).await?
    };
    if !done {
        return Err(AppError::NotFound);
    }
    if retry {
        state.mail_wake.notify_one();
    }
    Ok(Redirect::to("/staff/mail").into_response())
}

pub async fn retry(
    Allowed(_who, _): Allowed<SeeMailLog>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    change(&state, true, id).await
}

pub async fn dismiss(
    Allowed(_who, _): Allowed<SeeMailLog>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    change(&state, false, id).await
}
