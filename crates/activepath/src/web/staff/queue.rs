//! The triage queue: everything that needs a person, urgent first.

use super::{Allowed, SeeQueue, SignedIn, StaffLayout};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::Permission;
use crate::staff::cases;
use crate::storage::triage::{CaseKind, CaseStatus, Priority, QueueItem};
use crate::time::{format_age, format_date_time};
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Cases per page of the queue.
pub const PAGE_SIZE: i64 = 50;

pub struct Row {
    pub id: i64,
    pub urgent: bool,
    pub priority: String,
    pub age: String,
    pub received: String,
    pub respond_by: String,
    pub overdue: bool,
    pub screening: String,
    pub status: String,
    pub with: Option<String>,
}

pub fn status_label(tr: &Tr, status: CaseStatus) -> String {
    tr.t(match status {
        CaseStatus::New => "staff-status-new",
        CaseStatus::InProgress => "staff-status-in-progress",
        CaseStatus::Closed => "staff-status-closed",
    })
}

pub fn priority_label(tr: &Tr, priority: Priority) -> String {
    tr.t(match priority {
        Priority::Urgent => "staff-priority-urgent",
        Priority::Routine => "staff-priority-routine",
    })
}

/// What came in: "PHQ-9 14 of 27, moderate" (with "question 9" when
/// flagged) for a self-assessment; "Message", "Call-back request" or "New
/// booking" otherwise.
pub fn screening_words(tr: &Tr, item: &QueueItem) -> String {
    let Some(score) = item.screening else {
        return kind_label(tr, item.kind);
    };
    let def = score.instrument.definition();
    let band = tr.t(&format!("band-{}", score.severity.slug()));
    let mut words = tr.args(
        "staff-screening",
        &[
            ("instrument", def.name.to_string()),
            ("total", score.total.to_string()),
            ("max", def.max_total().to_string()),
            ("band", band),
        ],
    );
    if score.self_harm_flag {
        words.push_str(&tr.t("staff-screening-item9"));
    }
    words
}

/// A case's kind as people read it.
pub fn kind_label(tr: &Tr, kind: CaseKind) -> String {
    tr.t(&format!(
        "staff-kind-{}",
        crate::storage::TextEnum::as_text(kind)
    ))
}

fn row(state: &AppState, tr: &Tr, item: &QueueItem, now: jiff::Timestamp) -> Row {
    let tz = state.config.clinic.time_zone.tz();
    let respond_by = cases::respond_by(state, item.priority, item.created_at);
    Row {
        id: item.id,
        urgent: item.priority == Priority::Urgent,
        priority: priority_label(tr, item.priority),
        age: format_age(item.created_at, now),
        received: format_date_time(item.created_at, tz),
        respond_by: format_date_time(respond_by, tz),
        overdue: respond_by < now,
        screening: screening_words(tr, item),
        status: status_label(tr, item.status),
        with: item.assigned_to.clone(),
    }
}

#[derive(Template)]
#[template(path = "staff/queue.html")]
struct QueuePage {
    l: StaffLayout,
    rows: Vec<Row>,
    open: i64,
    urgent: i64,
    page: i64,
    pages: i64,
    signed_out_elsewhere: bool,
    /// TMS courses with alerts: (course id, patient's name, protocol, alerts).
    courses: Vec<(i64, String, String, String)>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    page: Option<i64>,
    signed_out_elsewhere: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    l: StaffLayout,
    signed_out_elsewhere: bool,
}

/// `/staff`: the queue for those who work it; for other roles, a page that
/// says what the portal holds for them (and no health data).
pub async fn home(
    Extension(who): Extension<SignedIn>,
    State(state): State<AppState>,
    query: Query<QueueQuery>,
) -> Result<Response> {
    if who.can(Permission::SeeQueue) {
        return page(Allowed(who, std::marker::PhantomData), State(state), query).await;
    }
    let tr = Tr::default();
    let page = HomePage {
        l: StaffLayout::new(&state, tr.t("staff-home-title"), Some(&who), "queue"),
        signed_out_elsewhere: query.signed_out_elsewhere.is_some(),
    };
    Ok(html(StatusCode::OK, &page))
}

pub async fn page(
    Allowed(who, _): Allowed<SeeQueue>,
    State(state): State<AppState>,
    Query(q): Query<QueueQuery>,
) -> Result<Response> {
    let tr = Tr::default();
    let (open, urgent) = state.storage.open_cases().await?;
    let pages = ((open + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let items = cases::queue(&state, &who.actor, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await
        .map_err(AppError::from)?;
    let now = state.clock.now();
    let mut courses = Vec::new();
    if who.can(Permission::SeeCourses) {
        let attention = crate::tms::needing_attention(&state, &who.actor, 200)
            .await
            .map_err(AppError::from)?;
        let ids: Vec<i64> = attention.iter().map(|a| a.patient_id).collect();
        let names = crate::staff::patients::names(&state, &ids)
            .await
            .map_err(AppError::from)?;
        for a in attention {
            // A patient may have two courses needing attention.
            let name = names.get(&a.patient_id).cloned().unwrap_or_default();
            let protocol = crate::tms::protocol(&state.config.tms, &a.protocol)
                .map_or_else(|| a.protocol.clone(), |p| p.name.to_string());
            let alerts = a
                .alerts
                .iter()
                .map(|x| tr.t(&format!("course-alert-{x}")))
                .collect::<Vec<_>>()
                .join(" ");
            courses.push((a.course_id, name, protocol, alerts));
        }
    }
    let page_view = QueuePage {
        courses,
        rows: items.iter().map(|i| row(&state, &tr, i, now)).collect(),
        l: StaffLayout::new(&state, tr.t("staff-queue-title"), Some(&who), "queue"),
        open,
        urgent,
        page,
        pages,
        signed_out_elsewhere: q.signed_out_elsewhere.is_some(),
    };
    Ok(html(StatusCode::OK, &page_view))
}
