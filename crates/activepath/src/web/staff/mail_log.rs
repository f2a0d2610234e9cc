//! The mail delivery log: every message the outbox holds (delivered mail
//! is listed 30 days), whether it went, is being retried or failed for
//! good; failed ones can be retried or dismissed. Every message is sealed:
//! the log shows its kind and its recipient masked (`j…@e….com`), never its
//! subject or content. Each view, retry and dismissal is audited.

use super::{Allowed, SeeMailLog, StaffLayout};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::storage::TextEnum;
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
    /// The recipient, masked.
    to: String,
    /// What kind of message, in words.
    kind: String,
    /// A short state, and whether it is a failure to act on.
    state: String,
    failed: bool,
    /// Whether it can be sent again (its content is still kept).
    retryable: bool,
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
    let entries = crate::mail::log::entries(&state, &who.actor, q.before, PAGE)
        .await
        .map_err(AppError::from)?;
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
                (None, Some(at), None) if e.has_content => (
                    tr.t1("staff-mail-failed", "date", format_date_time(at, tz)),
                    true,
                ),
                (None, Some(at), None) => (
                    tr.t1(
                        "staff-mail-failed-forgotten",
                        "date",
                        format_date_time(at, tz),
                    ),
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
                to: if e.recipient_hint.is_empty() {
                    tr.t("staff-mail-to-unrecorded")
                } else {
                    e.recipient_hint
                },
                kind: tr.t(&format!("staff-mail-kind-{}", e.kind.as_text())),
                state: state_text,
                retryable: failed && e.has_content,
                failed,
                error: e.last_error,
            }
        })
        .collect();
    let l = StaffLayout::new(&state, tr.t("staff-mail-title"), Some(&who), "mail");
    Ok(html(StatusCode::OK, &MailPage { l, rows, older }))
}

/// `POST /staff/mail/{id}/retry`.
pub async fn retry(
    Allowed(who, _): Allowed<SeeMailLog>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    if !crate::mail::log::retry(&state, &who.actor, id)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/staff/mail").into_response())
}

/// `POST /staff/mail/{id}/dismiss`.
pub async fn dismiss(
    Allowed(who, _): Allowed<SeeMailLog>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response> {
    if !crate::mail::log::dismiss(&state, &who.actor, id)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/staff/mail").into_response())
}

#[cfg(test)]
mod tests {
    use crate::i18n::Tr;
    use crate::storage::TextEnum;
    use crate::storage::outbox::MailKind;

    #[test]
    fn every_kind_of_mail_has_a_label() {
        let tr = Tr::default();
        for kind in MailKind::ALL {
            let key = format!("staff-mail-kind-{}", kind.as_text());
            assert!(tr.has(&key), "{key}");
            assert_eq!(MailKind::from_text(kind.as_text()), Some(kind));
        }
    }
}
