//! What the course page shows for issue 19 §2: holds cleared (who, when,
//! and the note for clinicians), each motor threshold's method, device and
//! coil (and the fields to record them), and the course's adverse events.

use super::pages::{Field, Typed, label, value};
use crate::app::AppState;
use crate::i18n::Tr;
use crate::staff::Permission;
use crate::storage::tms::MotorThreshold;
use crate::time::format_date_time;
use crate::tms;
use crate::web::staff::SignedIn;
use crate::web::{AppError, Result};

pub struct ThresholdRow {
    pub when: String,
    pub percent: i64,
    /// `EMG`, `Visual`, or "not recorded".
    pub method: String,
    /// Device and coil, as recorded ("" for neither).
    pub equipment: String,
}

pub struct ClearedHoldRow {
    pub reason: String,
    pub opened: String,
    pub cleared: String,
    pub by: String,
    /// The note, for a clinician.
    pub note: Option<String>,
    /// A note was recorded, and the reader is not a clinician.
    pub note_withheld: bool,
}

pub struct AdverseEventRow {
    pub id: i64,
    pub kind: String,
    pub onset: String,
    pub duration: String,
    pub actions: String,
    pub outcome: String,
    pub manufacturer: String,
    pub medwatch: String,
    /// The description, for a clinician.
    pub description: Option<String>,
}

/// The threshold form's fields beyond when and how much: method (required),
/// device and coil.
pub fn threshold_fields(tr: &Tr, t: &Typed) -> Vec<Field> {
    let mut methods: Vec<(String, String)> = tms::THRESHOLD_METHODS
        .iter()
        .map(|m| (m.to_string(), label(tr, "threshold-method", m)))
        .collect();
    methods.insert(0, (String::new(), tr.t("threshold-method-choose")));
    vec![
        Field::new(
            "method",
            tr.t("threshold-method"),
            "select",
            value(t, "method"),
        )
        .options(methods)
        .required(),
        Field::new(
            "device",
            tr.t("threshold-device"),
            "text",
            value(t, "device"),
        ),
        Field::new("coil", tr.t("threshold-coil"), "text", value(t, "coil")),
    ]
}

/// The course's thresholds, newest first.
pub fn threshold_rows(
    tr: &Tr,
    tz: &jiff::tz::TimeZone,
    thresholds: &[MotorThreshold],
) -> Vec<ThresholdRow> {
    thresholds
        .iter()
        .rev()
        .map(|m| ThresholdRow {
            when: format_date_time(m.determined_at, tz),
            percent: m.percent_output,
            method: match m.method.as_deref() {
                Some(method) => label(tr, "threshold-method", method),
                None => tr.t("threshold-method-none"),
            },
            equipment: [m.device.as_deref(), m.coil.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
        })
        .collect()
}

/// The course's cleared holds, newest first; notes opened for clinicians.
pub async fn cleared_hold_rows(
    state: &AppState,
    who: &SignedIn,
    course_id: i64,
) -> Result<Vec<ClearedHoldRow>> {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let may_read = who.can(Permission::ClinicalNotes);
    Ok(tms::holds::cleared_holds(state, course_id, may_read)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|h| ClearedHoldRow {
            reason: label(&tr, "course-hold", &h.record.reason),
            opened: format_date_time(h.record.opened_at, tz),
            cleared: format_date_time(h.record.cleared_at, tz),
            by: h.record.cleared_by.clone().unwrap_or_default(),
            note_withheld: h.withheld,
            note: h.note,
        })
        .collect())
}

/// The course's adverse events; descriptions opened for clinicians.
pub async fn adverse_event_rows(
    state: &AppState,
    who: &SignedIn,
    course_id: i64,
) -> Result<Vec<AdverseEventRow>> {
    let may_read = who.can(Permission::ClinicalNotes);
    let events = tms::adverse_events::of_course(state, course_id, may_read)
        .await
        .map_err(AppError::from)?;
    Ok(events.iter().map(|e| row(state, e)).collect())
}

/// One adverse event as the pages show it.
pub fn row(state: &AppState, e: &tms::adverse_events::AdverseEvent) -> AdverseEventRow {
    let tr = Tr::default();
    let tz = state.config.clinic.time_zone.tz();
    let r = &e.record;
    let when = |at: Option<jiff::Timestamp>| {
        at.map_or_else(|| tr.t("adverse-not-reported"), |t| format_date_time(t, tz))
    };
    AdverseEventRow {
        id: r.id,
        kind: label(&tr, "adverse-kind", &r.kind),
        onset: format_date_time(r.onset_at, tz),
        duration: r
            .duration_s
            .map(|d| tr.t1("adverse-seconds", "count", d))
            .unwrap_or_default(),
        actions: r
            .actions
            .iter()
            .map(|a| label(&tr, "adverse-action", a))
            .collect::<Vec<_>>()
            .join(", "),
        outcome: label(&tr, "adverse-outcome", &r.outcome),
        manufacturer: when(r.reported_to_manufacturer_at),
        medwatch: when(r.reported_to_medwatch_at),
        description: e.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The labels these pages build from values, each one there to find.
    #[test]
    fn every_label_built_from_a_value_exists() {
        let tr = Tr::default();
        let mut keys: Vec<String> = Vec::new();
        let mut add = |prefix: &str, values: &[&str]| {
            keys.extend(values.iter().map(|v| format!("{prefix}-{v}")));
        };
        add("threshold-method", &tms::THRESHOLD_METHODS);
        add("adverse-kind", &tms::adverse_events::KINDS);
        add("adverse-action", &tms::adverse_events::ACTIONS);
        add("adverse-outcome", &tms::adverse_events::OUTCOMES);
        add("course-done", &["adverse-event", "reports"]);
        for k in keys {
            assert!(tr.has(&k), "{k} is missing from the locale");
        }
    }
}
