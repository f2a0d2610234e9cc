//! Holds cleared with a note, the serious events after which a motor
//! threshold is determined again, and the structured adverse-event record
//! (issue 19 §2). Every write carries its audit entry in the same
//! transaction.

use super::audit::{self, AuditEntry};
use super::tms::{HoldRecord, NewHold, insert_hold, list};
use super::{Millis, Result, Storage, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// A cleared hold, as the course page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearedHold {
    pub id: i64,
    pub reason: String,
    pub checklist: Vec<String>,
    pub opened_at: Timestamp,
    pub cleared_at: Timestamp,
    /// The address of the account that cleared it.
    pub cleared_by: Option<String>,
    /// Sealed; `None` for holds cleared before a note was asked for.
    pub note_sealed: Option<Vec<u8>>,
}

/// An adverse event to store: the description sealed by the caller.
#[derive(Debug, Clone)]
pub struct NewAdverseEvent {
    pub uid: String,
    pub course_id: i64,
    pub session_id: Option<i64>,
    pub kind: &'static str,
    pub onset_at: Timestamp,
    pub duration_s: Option<i64>,
    pub description_sealed: Vec<u8>,
    pub actions: Vec<&'static str>,
    pub outcome: &'static str,
    pub reported_to_manufacturer_at: Option<Timestamp>,
    pub reported_to_medwatch_at: Option<Timestamp>,
    pub recorded_by: Option<i64>,
    pub created_at: Timestamp,
}

/// An adverse event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdverseEventRecord {
    pub id: i64,
    pub uid: String,
    pub course_id: i64,
    pub patient_id: i64,
    pub session_id: Option<i64>,
    pub hold_id: Option<i64>,
    pub kind: String,
    pub onset_at: Timestamp,
    pub duration_s: Option<i64>,
    pub description_sealed: Vec<u8>,
    pub actions: Vec<String>,
    pub outcome: String,
    pub reported_to_manufacturer_at: Option<Timestamp>,
    pub reported_to_medwatch_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const EVENT_COLUMNS: &str = "e.id, e.uid, e.course_id, c.patient_id, e.session_id, e.hold_id, \
     e.kind, e.onset_at, e.duration_s, e.description, e.actions, e.outcome, \
     e.reported_to_manufacturer_at, e.reported_to_medwatch_at, e.created_at";

impl AdverseEventRecord {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(AdverseEventRecord {
            id: r.try_get("id")?,
            uid: r.try_get("uid")?,
            course_id: r.try_get("course_id")?,
            patient_id: r.try_get("patient_id")?,
            session_id: r.try_get("session_id")?,
            hold_id: r.try_get("hold_id")?,
            kind: r.try_get("kind")?,
            onset_at: get::<Millis>(r, "onset_at")?.0,
            duration_s: r.try_get("duration_s")?,
            description_sealed: r.try_get("description")?,
            actions: list(r.try_get("actions")?),
            outcome: r.try_get("outcome")?,
            reported_to_manufacturer_at: get::<Option<Millis>>(r, "reported_to_manufacturer_at")?
                .map(|m| m.0),
            reported_to_medwatch_at: get::<Option<Millis>>(r, "reported_to_medwatch_at")?
                .map(|m| m.0),
            created_at: get::<Millis>(r, "created_at")?.0,
        })
    }
}

/// What recording an adverse event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdverseEventStored {
    pub id: i64,
    /// The adverse-event hold it joined or opened.
    pub hold_id: i64,
    /// Whether that hold was opened by this record (and its urgent case
    /// with it).
    pub opened_hold: bool,
}

impl Storage {
    /// The open hold `hold_id` of course `course_id`.
    pub async fn open_hold(&self, course_id: i64, hold_id: i64) -> Result<Option<HoldRecord>> {
        Ok(self
            .open_holds(course_id)
            .await?
            .into_iter()
            .find(|h| h.id == hold_id))
    }

    /// The cleared holds of a course, newest first.
    pub async fn cleared_holds(&self, course_id: i64) -> Result<Vec<ClearedHold>> {
        let rows = sqlx::query(
            "SELECT h.id, h.reason, h.checklist, h.opened_at, h.cleared_at, h.clear_note, u.email \
             FROM tms_holds h LEFT JOIN staff_users u ON u.id = h.cleared_by \
             WHERE h.course_id = $1 AND h.cleared_at IS NOT NULL ORDER BY h.cleared_at DESC, h.id DESC",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClearedHold {
                    id: r.try_get("id")?,
                    reason: r.try_get("reason")?,
                    checklist: list(r.try_get("checklist")?),
                    opened_at: get::<Millis>(r, "opened_at")?.0,
                    cleared_at: get::<Millis>(r, "cleared_at")?.0,
                    cleared_by: r.try_get("email")?,
                    note_sealed: r.try_get("clear_note")?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// When each of these courses last had a seizure or fainting: a session
    /// that recorded one as a side effect (its start), an adverse event of
    /// either kind (its onset), or a "yes" to the checklist's seizure
    /// question (when it held the course). A course with none is not there.
    pub async fn last_seizures_or_faintings(
        &self,
        courses: &[i64],
    ) -> Result<HashMap<i64, Timestamp>> {
        let mut out: HashMap<i64, Timestamp> = HashMap::new();
        let mut keep = |course: i64, at: Timestamp| {
            let e = out.entry(course).or_insert(at);
            if at > *e {
                *e = at;
            }
        };
        let sessions = self
            .per_course(
                "SELECT course_id, started_at, side_effects FROM tms_sessions \
                 WHERE course_id IN ({courses}) \
                 AND (side_effects LIKE '%seizure%' OR side_effects LIKE '%fainting%')",
                courses,
                |r| {
                    Ok((
                        get::<Millis>(r, "started_at")?.0,
                        list(r.try_get("side_effects")?),
                    ))
                },
            )
            .await?;
        for (course, (at, effects)) in sessions {
            if effects.iter().any(|e| e == "seizure" || e == "fainting") {
                keep(course, at);
            }
        }
        let events = self
            .per_course(
                "SELECT course_id, onset_at FROM tms_adverse_events \
                 WHERE course_id IN ({courses}) AND kind IN ('seizure', 'fainting')",
                courses,
                |r| Ok(get::<Millis>(r, "onset_at")?.0),
            )
            .await?;
        for (course, at) in events {
            keep(course, at);
        }
        let holds = self
            .per_course(
                "SELECT course_id, opened_at, checklist FROM tms_holds \
                 WHERE course_id IN ({courses}) AND reason = 'checklist'",
                courses,
                |r| {
                    Ok((
                        get::<Millis>(r, "opened_at")?.0,
                        list(r.try_get("checklist")?),
                    ))
                },
            )
            .await?;
        for (course, (at, checklist)) in holds {
            if checklist.iter().any(|q| q == "seizure") {
                keep(course, at);
            }
        }
        Ok(out)
    }

    /// When each of these patients last had a seizure or fainting, on any
    /// of their courses (as [`Self::last_seizures_or_faintings`] finds
    /// them). A patient with none is not there.
    pub async fn last_seizures_or_faintings_of_patients(
        &self,
        patients: &[i64],
    ) -> Result<HashMap<i64, Timestamp>> {
        // `per_course` keys rows by `course_id`: here, the patient's id.
        let courses = self
            .per_course(
                "SELECT patient_id AS course_id, id FROM tms_courses WHERE patient_id IN ({courses})",
                patients,
                |r| r.try_get::<i64, _>("id"),
            )
            .await?;
        let ids: Vec<i64> = courses.iter().map(|(_, id)| *id).collect();
        let by_course = self.last_seizures_or_faintings(&ids).await?;
        let mut out: HashMap<i64, Timestamp> = HashMap::new();
        for (patient, course) in courses {
            if let Some(at) = by_course.get(&course) {
                let e = out.entry(patient).or_insert(*at);
                if *at > *e {
                    *e = *at;
                }
            }
        }
        Ok(out)
    }

    /// Stores an adverse event; it joins the course's open adverse-event
    /// hold, or opens one with `hold`'s urgent case (and its notification),
    /// all in one transaction with the audit entry. A session named must be
    /// of the same course (`Ok(None)` if not: nothing stored).
    #[tracing::instrument(skip_all)]
    pub async fn add_adverse_event(
        &self,
        new: NewAdverseEvent,
        hold: NewHold,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<Option<AdverseEventStored>> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(session) = new.session_id {
                    let of_course: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM tms_sessions WHERE id = $1 AND course_id = $2",
                    )
                    .bind(session)
                    .bind(new.course_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                    if of_course.is_none() {
                        return Ok(None);
                    }
                }
                let open: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM tms_holds WHERE course_id = $1 AND reason = 'adverse-event' \
                     AND cleared_at IS NULL ORDER BY opened_at, id LIMIT 1",
                )
                .bind(new.course_id)
                .fetch_optional(&mut *conn)
                .await?;
                let (hold_id, opened_hold) = match open {
                    Some(id) => (id, false),
                    None => (insert_hold(conn, new.course_id, hold).await?, true),
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_adverse_events (uid, course_id, session_id, hold_id, kind, onset_at, \
                     duration_s, description, actions, outcome, reported_to_manufacturer_at, \
                     reported_to_medwatch_at, recorded_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
                )
                .bind(new.uid)
                .bind(new.course_id)
                .bind(new.session_id)
                .bind(hold_id)
                .bind(new.kind)
                .bind(Millis(new.onset_at))
                .bind(new.duration_s)
                .bind(new.description_sealed)
                .bind(new.actions.join(","))
                .bind(new.outcome)
                .bind(new.reported_to_manufacturer_at.map(Millis))
                .bind(new.reported_to_medwatch_at.map(Millis))
                .bind(new.recorded_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                let entry = AuditEntry {
                    record_id: new.course_id.to_string(),
                    ..audit_entry
                };
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(Some(AdverseEventStored {
                    id,
                    hold_id,
                    opened_hold,
                }))
            })
        })
        .await
    }

    /// Sets when an adverse event was reported to the device's maker and to
    /// FDA MedWatch (a date left `None` is kept as it was). `Ok(false)`: no
    /// such adverse event on that course.
    #[tracing::instrument(skip_all)]
    pub async fn set_adverse_event_reports(
        &self,
        course_id: i64,
        event_id: i64,
        manufacturer: Option<Timestamp>,
        medwatch: Option<Timestamp>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let changed = sqlx::query(
                    "UPDATE tms_adverse_events SET \
                     reported_to_manufacturer_at = COALESCE($1, reported_to_manufacturer_at), \
                     reported_to_medwatch_at = COALESCE($2, reported_to_medwatch_at), updated_at = $3 \
                     WHERE id = $4 AND course_id = $5",
                )
                .bind(manufacturer.map(Millis))
                .bind(medwatch.map(Millis))
                .bind(Millis(audit_entry.at))
                .bind(event_id)
                .bind(course_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if changed == 1 {
                    audit::append(conn, backend, &chain, &audit_entry).await?;
                }
                Ok(changed == 1)
            })
        })
        .await
    }

    /// A course's adverse events, by onset.
    pub async fn course_adverse_events(&self, course_id: i64) -> Result<Vec<AdverseEventRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM tms_adverse_events e JOIN tms_courses c ON c.id = e.course_id \
             WHERE e.course_id = $1 ORDER BY e.onset_at, e.id"
        )))
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(AdverseEventRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    /// Every course's adverse events, newest onset first, up to `limit`.
    pub async fn adverse_events(&self, limit: i64) -> Result<Vec<AdverseEventRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM tms_adverse_events e JOIN tms_courses c ON c.id = e.course_id \
             ORDER BY e.onset_at DESC, e.id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(AdverseEventRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }
}

impl Storage {
    /// Marks a clinician the medical director, or not, with the notices to
    /// the clinic's administrators and medical directors, in one
    /// transaction with the audit entry. `Ok(false)`: the account is not a
    /// clinician's; nothing changed or was sent.
    #[tracing::instrument(skip_all)]
    pub async fn set_medical_director_noticed(
        &self,
        user_id: i64,
        on: bool,
        notices: Vec<super::outbox::NewMail>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE staff_users SET medical_director = $1 WHERE id = $2 AND role = $3",
                )
                .bind(super::Flag(on))
                .bind(user_id)
                .bind(super::Text(crate::storage::staff::Role::Clinician))
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                for mail in notices {
                    super::outbox::queue(conn, mail, audit_entry.at).await?;
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(true)
            })
        })
        .await
    }
}
