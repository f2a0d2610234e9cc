//! The booking set-up page: locations, resources (clinicians, rooms, TMS
//! chairs), appointment types, each resource's weekly hours and the
//! exceptions (holidays, time off, extra hours). Every form is checked
//! field by field; a form with a mistake is shown again with what was
//! typed and a message at each bad field, and nothing is stored.

use super::{Allowed, SetUpBooking, SignedIn, StaffLayout};
use crate::app::AppState;
use crate::booking::FieldProblem;
use crate::booking::setup::{self, Posted};
use crate::booking::slots::ResourceKind;
use crate::i18n::Tr;
use crate::staff::appointments::change_setup;
use crate::storage::booking::{LocationRow, Setup, SetupChange, TypeRow};
use crate::storage::{Constraint, StorageError};
use crate::web::assessment::ErrorLink;
use crate::web::layout::html;
use crate::web::{AppError, Result};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::borrow::Borrow;
use std::collections::HashMap;

fn clock(minute: i64) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

struct HoursLine {
    id: i64,
    resource: String,
    location: String,
    day: String,
    from: String,
    to: String,
}

struct ExceptionLine {
    id: i64,
    day: String,
    location: String,
    who: String,
    when: String,
    kind: String,
    note: String,
}

#[derive(Template)]
#[template(path = "staff/setup.html")]
struct SetupPage {
    l: StaffLayout,
    setup: Setup,
    hours: Vec<HoursLine>,
    exceptions: Vec<ExceptionLine>,
    kinds: Vec<(&'static str, String)>,
    weekdays: Vec<(i64, String)>,
    /// The form that was sent with mistakes ("location", "type-3", …), its
    /// values, and the messages.
    form: String,
    posted: Posted,
    errors: Vec<ErrorLink>,
    err: HashMap<&'static str, String>,
    saved: bool,
}

/// The name of a form on the page: "type" to add one, "type-3" to change
/// type 3; also the start of its fields' ids.
fn form_key(what: &str, id: i64) -> String {
    if id == 0 {
        what.to_string()
    } else {
        format!("{what}-{id}")
    }
}

impl SetupPage {
    /// The value to show in `field` of a form: what was sent, if that form
    /// is the one shown again; otherwise `default`.
    fn val(
        &self,
        what: &str,
        id: impl Borrow<i64>,
        field: &str,
        default: impl AsRef<str>,
    ) -> String {
        if self.form == form_key(what, *id.borrow()) {
            self.posted.get(field).to_string()
        } else {
            default.as_ref().to_string()
        }
    }

    /// A message for `field`, when the form is the one with mistakes.
    fn error(&self, what: &str, id: impl Borrow<i64>, field: &str) -> Option<&String> {
        (self.form == form_key(what, *id.borrow()))
            .then(|| self.err.get(field))
            .flatten()
    }

    /// Whether a checkbox is ticked: as sent, or as stored.
    fn ticked(
        &self,
        what: &str,
        id: impl Borrow<i64>,
        field: &str,
        stored: impl Borrow<bool>,
    ) -> bool {
        if self.form == form_key(what, *id.borrow()) {
            self.posted.get(field) == "yes"
        } else {
            *stored.borrow()
        }
    }

    fn kind_label(&self, kind: &str) -> String {
        Tr::default().t(&format!("setup-kind-{kind}"))
    }

    fn needs(&self, id: impl Borrow<i64>, needs: &[String], kind: &str) -> bool {
        if self.form == form_key("type", *id.borrow()) {
            self.posted.all("needs").iter().any(|k| k == kind)
        } else {
            needs.iter().any(|k| k == kind)
        }
    }

    /// An appointment type's stored value of `field`.
    fn type_value(&self, t: &TypeRow, field: &str) -> String {
        match field {
            "name" => t.name.clone(),
            "description" => t.description.clone(),
            "duration_minutes" => t.duration_minutes.to_string(),
            "buffer_before_minutes" => t.buffer_before_minutes.to_string(),
            "buffer_after_minutes" => t.buffer_after_minutes.to_string(),
            "step_minutes" => t.step_minutes.to_string(),
            "min_notice_minutes" => t.min_notice_minutes.to_string(),
            "horizon_days" => t.horizon_days.to_string(),
            _ => String::new(),
        }
    }

    /// A location's stored value of `field`.
    fn location_value<'a>(&self, l: &'a LocationRow, field: &str) -> &'a str {
        match field {
            "name" => &l.name,
            "address" => &l.address,
            "phone" => &l.phone,
            "map_url" => &l.map_url,
            "time_zone" => &l.time_zone,
            _ => "",
        }
    }

    /// Whether the add-a-type form that was sent ticked `kind`.
    fn new_needs(&self, kind: &str) -> bool {
        self.posted.all("needs").iter().any(|k| k == kind)
    }

    /// Whether option `id` of a list in an add form was the one sent.
    fn selected(&self, what: &str, field: &str, id: impl ToString) -> bool {
        self.form == what && self.posted.get(field) == id.to_string()
    }

    fn key(&self, what: &str, id: impl Borrow<i64>) -> String {
        form_key(what, *id.borrow())
    }
}

/// The fields of a location's form that can change, with their labels.
const LOCATION_FIELDS: [(&str, &str); 5] = [
    ("name", "setup-name"),
    ("address", "setup-address"),
    ("phone", "setup-phone"),
    ("map_url", "setup-map"),
    ("time_zone", "setup-zone"),
];

/// The fields of an appointment type's form, with their labels.
const TYPE_FIELDS: [(&str, &str); 8] = [
    ("name", "setup-name"),
    ("description", "setup-description"),
    ("duration_minutes", "setup-duration"),
    ("buffer_before_minutes", "setup-buffer-before"),
    ("buffer_after_minutes", "setup-buffer-after"),
    ("step_minutes", "setup-step"),
    ("min_notice_minutes", "setup-notice"),
    ("horizon_days", "setup-horizon"),
];

fn weekday_name(tr: &Tr, iso: i64) -> String {
    tr.t(&format!("setup-weekday-{iso}"))
}

async fn render(
    state: &AppState,
    who: &SignedIn,
    form: String,
    posted: Posted,
    problems: &[FieldProblem],
    saved: bool,
) -> Result<Response> {
    let tr = Tr::default();
    let setup = state.storage.booking_setup().await?;
    let today = crate::time::date_in(state.clock.now(), state.config.clinic.time_zone.tz());
    let exceptions = state
        .storage
        .upcoming_exceptions(&today.to_string())
        .await?;
    let resource = |id: i64| {
        setup
            .resources
            .iter()
            .find(|r| r.id == id)
            .map_or_else(String::new, |r| r.name.clone())
    };
    let location = |id: i64| {
        setup
            .locations
            .iter()
            .find(|l| l.id == id)
            .map_or_else(String::new, |l| l.name.clone())
    };
    let page = SetupPage {
        l: StaffLayout::new(state, tr.t("setup-title"), Some(who), "setup"),
        hours: setup
            .hours
            .iter()
            .map(|h| HoursLine {
                id: h.id,
                resource: resource(h.resource_id),
                location: location(h.location_id),
                day: weekday_name(&tr, h.weekday),
                from: clock(h.start_minute),
                to: clock(h.end_minute),
            })
            .collect(),
        exceptions: exceptions
            .iter()
            .map(|e| ExceptionLine {
                id: e.id,
                day: e.day.clone(),
                location: location(e.location_id),
                who: e
                    .resource_id
                    .map_or_else(|| tr.t("setup-everyone"), resource),
                when: match (e.start_minute, e.end_minute) {
                    (Some(a), Some(b)) => format!("{}–{}", clock(a), clock(b)),
                    _ => tr.t("setup-all-day"),
                },
                kind: tr.t(&format!("setup-exception-{}", e.kind)),
                note: e.note.clone(),
            })
            .collect(),
        kinds: ResourceKind::ALL
            .iter()
            .map(|k| (k.slug(), tr.t(&format!("setup-kind-{}", k.slug()))))
            .collect(),
        weekdays: (1..=7).map(|d| (d, weekday_name(&tr, d))).collect(),
        errors: problems
            .iter()
            .map(|(f, k)| ErrorLink {
                anchor: format!("{form}-{f}"),
                message: tr.t(k),
            })
            .collect(),
        err: problems.iter().map(|(f, k)| (*f, tr.t(k))).collect(),
        setup,
        form,
        posted,
        saved,
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(html(status, &page))
}

pub async fn page(
    Allowed(who, _): Allowed<SetUpBooking>,
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Result<Response> {
    render(
        &state,
        &who,
        String::new(),
        Posted::default(),
        &[],
        q.contains_key("saved"),
    )
    .await
}

fn posted(body: &Bytes) -> Posted {
    Posted::from_pairs(serde_urlencoded::from_bytes(body).unwrap_or_default())
}

/// Stores `change`, or shows the page again with the problems.
async fn save(
    state: &AppState,
    who: &SignedIn,
    form: String,
    p: Posted,
    change: std::result::Result<SetupChange, Vec<FieldProblem>>,
) -> Result<Response> {
    let change = match change {
        Ok(c) => c,
        Err(problems) => return render(state, who, form, p, &problems, false).await,
    };
    match change_setup(state, &who.actor, change).await {
        Ok(_) => {
            // The footer and the contact page list the locations.
            crate::web::publish_site(state, None).await;
            Ok(Redirect::to("/staff/booking-setup?saved").into_response())
        }
        Err(crate::staff::Error::Storage(StorageError::Conflict(
            Constraint::Other | Constraint::StaffEmail,
        ))) => {
            render(
                state,
                who,
                form,
                p,
                &[("slug", "setup-error-slug-taken")],
                false,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /staff/booking-setup/{what}`: adds a location, resource, type,
/// weekly hours or an exception.
pub async fn add(
    Allowed(who, _): Allowed<SetUpBooking>,
    State(state): State<AppState>,
    Path(what): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let p = posted(&body);
    let setup = state.storage.booking_setup().await?;
    let resources: Vec<i64> = setup.resources.iter().map(|r| r.id).collect();
    let locations: Vec<i64> = setup.locations.iter().map(|l| l.id).collect();
    let change = match what.as_str() {
        "location" => setup::location(&p, 0).map(SetupChange::Location),
        "resource" => setup::resource(&p, 0).map(SetupChange::Resource),
        "type" => setup::appointment_type(&p, 0).map(SetupChange::Type),
        "hours" => setup::hours(&p, &resources, &locations).map(SetupChange::Hours),
        "exception" => setup::exception(&p, &resources, &locations).map(SetupChange::Exception),
        _ => return Err(AppError::NotFound),
    };
    save(&state, &who, what, p, change).await
}

/// `POST /staff/booking-setup/{what}/{id}`: changes a location, resource or
/// type, or removes weekly hours or an exception.
pub async fn change(
    Allowed(who, _): Allowed<SetUpBooking>,
    State(state): State<AppState>,
    Path((what, id)): Path<(String, i64)>,
    body: Bytes,
) -> Result<Response> {
    let p = posted(&body);
    let setup = state.storage.booking_setup().await?;
    let exists = match what.as_str() {
        "location" => setup.locations.iter().any(|l| l.id == id),
        "resource" => setup.resources.iter().any(|r| r.id == id),
        "type" => setup.types.iter().any(|t| t.id == id),
        "hours" => setup.hours.iter().any(|h| h.id == id),
        "exception" => true,
        _ => false,
    };
    if !exists {
        return Err(AppError::NotFound);
    }
    let change = match what.as_str() {
        "location" => setup::location(&p, id).map(SetupChange::Location),
        "resource" => setup::resource(&p, id).map(SetupChange::Resource),
        "type" => setup::appointment_type(&p, id).map(SetupChange::Type),
        "hours" => Ok(SetupChange::RemoveHours(id)),
        _ => Ok(SetupChange::RemoveException(id)),
    };
    save(&state, &who, form_key(&what, id), p, change).await
}
