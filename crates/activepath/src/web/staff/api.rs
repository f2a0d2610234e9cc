//! The staff API: the queue and a case, as JSON, for integrations with an
//! API token. The same permissions and the same audit trail as the portal.

use super::{Allowed, SeeCase, SeeQueue};
use crate::app::AppState;
use crate::staff::cases;
use crate::storage::TextEnum;
use crate::time::rfc3339;
use crate::web::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Paging {
    limit: Option<i64>,
    offset: Option<i64>,
}

fn failed(e: crate::staff::Error) -> ApiError {
    tracing::error!("the staff API failed: {e:#}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The request could not be answered",
    )
}

pub async fn cases(
    Allowed(who, _): Allowed<SeeQueue>,
    State(state): State<AppState>,
    Query(p): Query<Paging>,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let offset = p.offset.unwrap_or(0).max(0);
    let items = cases::queue(&state, &who.actor, limit, offset)
        .await
        .map_err(failed)?;
    let list: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "priority": i.priority.as_text(),
                "status": i.status.as_text(),
                "created_at": rfc3339(i.created_at),
                "respond_by": rfc3339(cases::respond_by(&state, i.priority, i.created_at)),
                "kind": i.kind.as_text(),
                // Null for cases that are not a self-assessment.
                "instrument": i.screening.map(|x| x.instrument.slug()),
                "total": i.screening.map(|x| x.total),
                "severity": i.screening.map(|x| x.severity.slug()),
                "self_harm_flag": i.screening.map(|x| x.self_harm_flag),
                "assigned_to": i.assigned_to,
            })
        })
        .collect();
    Ok(Json(
        json!({ "cases": list, "limit": limit, "offset": offset }),
    ))
}

pub async fn case(
    Allowed(who, _): Allowed<SeeCase>,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let view = cases::open(&state, &who.actor, id)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "No case with that id"))?;
    let c = &view.contact;
    let timeline: Vec<Value> = view
        .timeline
        .iter()
        .map(|e| json!({ "kind": e.kind.as_text(), "at": rfc3339(e.at), "by": e.by, "detail": e.detail }))
        .collect();
    let mut body = json!({
        "id": view.record.id,
        "kind": view.record.kind.as_text(),
        "priority": view.record.priority.as_text(),
        "status": view.record.status.as_text(),
        "version": view.record.version,
        "created_at": rfc3339(view.record.created_at),
        "respond_by": rfc3339(view.respond_by),
        "assigned_to": view.record.assigned_to.as_ref().map(|(_, email)| email),
        "closed_reason": view.record.closed_reason.map(|r| r.as_text()),
        "consent_version": view.record.consent_version,
        "contact": {
            "name": c.name,
            "email": c.email,
            "phone": c.phone,
            "contact_method": c.contact_method.slug(),
            "contact_time": c.contact_time.slug(),
            "message": c.message,
            "preferred_days": c.days,
        },
        "timeline": timeline,
        // Null unless the case is a self-assessment.
        "instrument": null,
        "total": null,
        "severity": null,
        "self_harm_flag": null,
    });
    if let Some(result) = &view.result {
        let def = result.instrument.definition();
        let answers: Vec<Value> = def
            .items
            .iter()
            .zip(result.responses.answers())
            .map(|(item, &value)| {
                json!({
                    "item": item.number,
                    "loinc": item.loinc,
                    "value": value,
                    "answer": item.options[usize::from(value)].label,
                })
            })
            .collect();
        body["instrument"] = json!(result.instrument.slug());
        body["instrument_version"] = json!(def.version);
        body["total"] = json!(result.score.total);
        body["severity"] = json!(result.score.severity.slug());
        body["self_harm_flag"] = json!(result.score.self_harm_flag);
        body["answers"] = json!(answers);
        body["difficulty"] = json!(result.responses.difficulty());
        body["taken_at"] = json!(rfc3339(result.created_at));
    }
    if let Some(a) = &view.appointment {
        body["appointment"] = json!({
            "id": a.row.uid,
            "start": rfc3339(a.row.starts_at),
            "end": rfc3339(a.row.ends_at),
            "status": a.row.status,
        });
    }
    Ok(Json(body))
}
