//! The audit trail for administrators: filtered by person, record and date,
//! and exported as CSV. Each view and each export is itself recorded.

use super::{Allowed, SeeAudit, StaffLayout};
use crate::app::AppState;
use crate::domain::day::{DateText, Window, add_days, parse_date};
use crate::i18n::Tr;
use crate::storage::audit::{AuditFilter, AuditRow};
use crate::time::{format_date_time, rfc3339};
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Entries shown on the page; the export has them all.
const PAGE_LIMIT: i64 = 200;
/// At most this many in one export.
const EXPORT_LIMIT: i64 = 1_000_000;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct AuditQuery {
    person: String,
    record_type: String,
    record_id: String,
    from: DateText,
    until: DateText,
}

impl AuditQuery {
    /// The filter, or the first field that does not read.
    fn filter(&self, state: &AppState) -> std::result::Result<AuditFilter, &'static str> {
        let tz = state.config.clinic.time_zone.tz();
        let day = |raw: &str,
                   field: &'static str,
                   next: bool|
         -> std::result::Result<Option<jiff::Timestamp>, &'static str> {
            let raw = raw.trim();
            if raw.is_empty() {
                return Ok(None);
            }
            let date = parse_date(raw, Window::ALL).map_err(|_| field)?;
            let date = if next {
                add_days(date, 1).ok_or(field)?
            } else {
                date
            };
            Ok(Some(
                date.to_zoned_datetime(tz.clone())
                    .map_err(|_| field)?
                    .timestamp(),
            ))
        };
        let text = |raw: &str| Some(raw.trim().to_string()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor_id: match self.person.trim() {
                "" => None,
                id => Some(id.parse().map_err(|_| "staff-audit-error-person")?),
            },
            record_type: text(&self.record_type),
            record_id: text(&self.record_id),
            from: day(self.from.as_str(), "staff-audit-error-date", false)?,
            until: day(self.until.as_str(), "staff-audit-error-date", true)?,
        })
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string([
            ("person", &self.person),
            ("record_type", &self.record_type),
            ("record_id", &self.record_id),
            ("from", &self.from.0),
            ("until", &self.until.0),
        ])
        .unwrap_or_default()
    }
}

pub struct EntryRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    record: String,
    client_ip: String,
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    l: StaffLayout,
    people: Vec<(String, String)>,
    q: AuditQuery,
    rows: Vec<EntryRow>,
    more: bool,
    export_href: String,
    error: Option<String>,
}

pub async fn page(
    Allowed(who, _): Allowed<SeeAudit>,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Response> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let people = state
        .storage
        .staff_users()
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.email))
        .collect();
    let (rows, error) = match q.filter(&state) {
        Ok(filter) => {
            // Reading the trail is itself recorded, before anything is shown.
            crate::staff::audit::seen(
                &state,
                who.actor
                    .did("view", "audit_log", q.query_string(), state.clock.now()),
            )
            .await
            .map_err(AppError::from)?;
            (
                state.storage.audit_search(&filter, PAGE_LIMIT + 1).await?,
                None,
            )
        }
        Err(message) => (Vec::new(), Some(tr.t(message))),
    };
    let more = rows.len() as i64 > PAGE_LIMIT;
    let page = AuditPage {
        rows: rows
            .iter()
            .take(PAGE_LIMIT as usize)
            .map(|r| EntryRow {
                id: r.id,
                at: format_date_time(r.entry.at, tz),
                actor: r.entry.actor.clone(),
                action: r.entry.action.clone(),
                record: format!("{} {}", r.entry.record_type, r.entry.record_id),
                client_ip: r.entry.client_ip.clone().unwrap_or_default(),
            })
            .collect(),
        export_href: format!("/staff/audit.csv?{}", q.query_string()),
        l: StaffLayout::new(&state, tr.t("staff-audit-title"), Some(&who), "audit"),
        people,
        q,
        more,
        error,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html(status, &page))
}

fn csv_of(rows: &[AuditRow]) -> std::result::Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "id",
        "at",
        "actor_id",
        "actor",
        "action",
        "record_type",
        "record_id",
        "client_ip",
        "prev_hash",
        "hash",
    ])?;
    for r in rows {
        let e = &r.entry;
        out.write_record([
            r.id.to_string(),
            rfc3339(e.at),
            e.actor_id.map(|i| i.to_string()).unwrap_or_default(),
            csv_safe(&e.actor),
            csv_safe(&e.action),
            csv_safe(&e.record_type),
            csv_safe(&e.record_id),
            e.client_ip.clone().unwrap_or_default(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// A cell a spreadsheet would run as a formula gets a leading apostrophe.
fn csv_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

pub async fn export(
    Allowed(who, _): Allowed<SeeAudit>,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Response> {
    let filter = q.filter(&state).map_err(|_| AppError::NotFound)?;
    let now = state.clock.now();
    crate::staff::audit::seen(
        &state,
        who.actor.did("export", "audit_log", q.query_string(), now),
    )
    .await
    .map_err(AppError::from)?;
    let rows = state.storage.audit_search(&filter, EXPORT_LIMIT).await?;
    let body = csv_of(&rows).map_err(anyhow::Error::from)?;
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-log.csv\""),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::csv_safe;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("a@b.example"), "a@b.example");
    }
}
