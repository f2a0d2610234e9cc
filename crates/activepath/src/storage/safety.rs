//! A patient's safety flag, the signals that raised it, and the safety
//! review that clears it. A flag is raised inside the transaction of what
//! raises it (a check-in, a checklist hold, a session); the review clears
//! it, pauses courses and closes the queue's cases in one transaction with
//! its audit entries.

use super::audit::{self, AuditEntry};
use super::tms::UrgentCase;
use super::{Backend, Millis, Result, Storage, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

/// What raised a flag: `check-in` (question 9 above 0), `checklist` (a
/// "yes" to thoughts of suicide) or `side-effect` (suicidal thoughts
/// reported at a session).
pub const SOURCES: [&str; 3] = ["check-in", "checklist", "side-effect"];

/// A signal to add to the patient's flag (raising it if none is up).
#[derive(Debug, Clone)]
pub struct NewSignal {
    pub patient_id: i64,
    pub course_id: i64,
    /// One of [`SOURCES`].
    pub source: &'static str,
    /// When it happened: the check-in's time, or the session's.
    pub at: Timestamp,
    /// An urgent case to open for it (when none is opened otherwise).
    pub urgent: Option<UrgentCase>,
}

/// Where a signal came from in the database.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Origin {
    pub check_in_id: Option<i64>,
    pub session_id: Option<i64>,
    /// The urgent case already opened for it.
    pub case_id: Option<i64>,
}

/// Adds `signal` to its patient's flag, raising one if none is up, on the
/// caller's transaction, with an audit entry made from `template`.
/// Returns the flag's id.
pub(super) async fn raise(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    chain: &AuditChain,
    template: &AuditEntry,
    signal: NewSignal,
    origin: Origin,
) -> Result<i64> {
    let at = template.at;
    let case_id = match signal.urgent {
        Some(u) => Some(super::tms::open_course_case(conn, signal.course_id, u).await?),
        None => origin.case_id,
    };
    // One flag up per patient (a partial unique index): a second signal
    // joins the flag that is up.
    sqlx::query(
        "INSERT INTO safety_flags (patient_id, raised_at, case_id) VALUES ($1, $2, $3) \
         ON CONFLICT (patient_id) WHERE cleared_at IS NULL DO NOTHING",
    )
    .bind(signal.patient_id)
    .bind(Millis(at))
    .bind(case_id)
    .execute(&mut *conn)
    .await?;
    let flag_id: i64 = sqlx::query_scalar(
        "SELECT id FROM safety_flags WHERE patient_id = $1 AND cleared_at IS NULL",
    )
    .bind(signal.patient_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO safety_signals (flag_id, course_id, source, at, check_in_id, session_id, case_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(flag_id)
    .bind(signal.course_id)
    .bind(signal.source)
    .bind(Millis(signal.at))
    .bind(origin.check_in_id)
    .bind(origin.session_id)
    .bind(case_id)
    .bind(Millis(at))
    .execute(&mut *conn)
    .await?;
    let entry = AuditEntry {
        action: format!("safety flag: {}", signal.source),
        record_type: "patient".into(),
        record_id: signal.patient_id.to_string(),
        ..template.clone()
    };
    audit::append(conn, backend, chain, &entry).await?;
    Ok(flag_id)
}

/// A signal as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRecord {
    /// Signals are numbered in the order they were stored: a review names
    /// the newest one its reader saw.
    pub id: i64,
    pub course_id: i64,
    pub source: String,
    pub at: Timestamp,
    pub case_id: Option<i64>,
    pub check_in_id: Option<i64>,
    pub session_id: Option<i64>,
}

/// A flag that is up, with its signals in the order they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRecord {
    pub id: i64,
    pub patient_id: i64,
    pub raised_at: Timestamp,
    /// The urgent case opened when it was raised.
    pub case_id: Option<i64>,
    pub signals: Vec<SignalRecord>,
}

/// A review to store: the note and the screener's not-done reason sealed
/// by the caller.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub uid: String,
    pub flag_id: i64,
    pub patient_id: i64,
    pub reviewed_at: Timestamp,
    /// `continue`, `pause-course` or `refer-urgent`.
    pub outcome: &'static str,
    /// The C-SSRS screener's six answers, sealed by the caller; `None`
    /// when it was not done.
    pub cssrs_sealed: Option<Vec<u8>>,
    pub not_done_sealed: Option<Vec<u8>>,
    pub note_sealed: Vec<u8>,
    pub reviewed_by: Option<i64>,
    /// The newest signal the reviewer saw: refused when the flag has a
    /// newer one. `None`: refused when a signal happened after
    /// `reviewed_at`.
    pub last_signal_id: Option<i64>,
    pub created_at: Timestamp,
    /// Pause the patient's courses that take sessions.
    pub pause: bool,
    /// Close the queue's open cases of the flag (reason `safety_review`).
    pub close_cases: bool,
}

/// A review as stored (sealed parts still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub id: i64,
    pub uid: String,
    pub reviewed_at: Timestamp,
    pub outcome: String,
    /// The screener was done: its answers are in `cssrs_sealed`.
    pub screener_done: bool,
    pub cssrs_sealed: Option<Vec<u8>>,
    pub not_done_sealed: Option<Vec<u8>>,
    pub note_sealed: Vec<u8>,
    /// The reviewer's e-mail.
    pub reviewed_by: Option<String>,
    /// When the flag it cleared was raised.
    pub flag_raised_at: Timestamp,
}

/// What storing a review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewStored {
    Done(ReviewDone),
    /// The flag is no longer up; nothing written.
    NoFlag,
    /// The flag has a signal the reviewer did not see (newer than
    /// `last_signal_id`, or after `reviewed_at`); nothing written.
    NewSignal,
    /// `last_signal_id` is not a signal of the flag; nothing written.
    UnknownSignal,
}

/// What recording a review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDone {
    pub id: i64,
    pub paused: Vec<i64>,
    pub closed_cases: Vec<i64>,
}

fn signal_of(r: &AnyRow) -> sqlx::Result<(i64, SignalRecord)> {
    Ok((
        r.try_get("flag_id")?,
        SignalRecord {
            id: r.try_get("id")?,
            course_id: r.try_get("course_id")?,
            source: r.try_get("source")?,
            at: get::<Millis>(r, "at")?.0,
            case_id: r.try_get("case_id")?,
            check_in_id: r.try_get("check_in_id")?,
            session_id: r.try_get("session_id")?,
        },
    ))
}

impl Storage {
    /// The flags up for these patients, by patient id (one query for the
    /// flags, one for their signals, however many patients).
    pub async fn safety_flags_of(
        &self,
        patients: &[i64],
    ) -> Result<std::collections::HashMap<i64, FlagRecord>> {
        let mut out = std::collections::HashMap::new();
        if patients.is_empty() {
            return Ok(out);
        }
        let mut unique = patients.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let sql = format!(
            "SELECT id, patient_id, raised_at, case_id FROM safety_flags \
             WHERE cleared_at IS NULL AND patient_id IN ({})",
            super::params(1, unique.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &unique {
            query = query.bind(*id);
        }
        let flags = query.fetch_all(self.pool()).await?;
        let mut by_id = std::collections::HashMap::new();
        for r in &flags {
            let flag = FlagRecord {
                id: r.try_get("id")?,
                patient_id: r.try_get("patient_id")?,
                raised_at: get::<Millis>(r, "raised_at")?.0,
                case_id: r.try_get("case_id")?,
                signals: Vec::new(),
            };
            by_id.insert(flag.id, flag);
        }
        if !by_id.is_empty() {
            let ids: Vec<i64> = by_id.keys().copied().collect();
            let sql = format!(
                "SELECT id, flag_id, course_id, source, at, case_id, check_in_id, session_id \
                 FROM safety_signals WHERE flag_id IN ({}) ORDER BY at, id",
                super::params(1, ids.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                query = query.bind(*id);
            }
            for r in query.fetch_all(self.pool()).await? {
                let (flag_id, signal) = signal_of(&r)?;
                if let Some(f) = by_id.get_mut(&flag_id) {
                    f.signals.push(signal);
                }
            }
        }
        for (_, flag) in by_id {
            out.insert(flag.patient_id, flag);
        }
        Ok(out)
    }

    /// Which of these appointments are TMS sessions of a patient whose
    /// flag is up.
    pub async fn flagged_appointments(
        &self,
        appointments: &[i64],
    ) -> Result<std::collections::HashSet<i64>> {
        if appointments.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!(
            "SELECT t.appointment_id FROM tms_course_appointments t \
             JOIN tms_courses c ON c.id = t.course_id \
             JOIN safety_flags f ON f.patient_id = c.patient_id AND f.cleared_at IS NULL \
             WHERE t.appointment_id IN ({})",
            super::params(1, appointments.len())
        );
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for id in appointments {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?.into_iter().collect())
    }

    /// The flag up for a patient, if one is.
    pub async fn safety_flag(&self, patient_id: i64) -> Result<Option<FlagRecord>> {
        Ok(self
            .safety_flags_of(&[patient_id])
            .await?
            .remove(&patient_id))
    }

    /// A patient's safety reviews, oldest first.
    pub async fn safety_reviews(&self, patient_id: i64) -> Result<Vec<ReviewRecord>> {
        let rows = sqlx::query(
            "SELECT r.id, r.uid, r.reviewed_at, r.outcome, r.screener_done, r.cssrs_sealed, \
             r.not_done_reason, r.note, u.email, f.raised_at FROM safety_reviews r \
             JOIN safety_flags f ON f.id = r.flag_id \
             LEFT JOIN staff_users u ON u.id = r.reviewed_by \
             WHERE r.patient_id = $1 ORDER BY r.reviewed_at, r.id",
        )
        .bind(patient_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReviewRecord {
                    id: r.try_get("id")?,
                    uid: r.try_get("uid")?,
                    reviewed_at: get::<Millis>(r, "reviewed_at")?.0,
                    outcome: r.try_get("outcome")?,
                    screener_done: r.try_get::<i64, _>("screener_done")? != 0,
                    cssrs_sealed: r.try_get("cssrs_sealed")?,
                    not_done_sealed: r.try_get("not_done_reason")?,
                    note_sealed: r.try_get("note")?,
                    reviewed_by: r.try_get("email")?,
                    flag_raised_at: get::<Millis>(r, "raised_at")?.0,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// Records a safety review: clears its flag (`Ok(None)`, and nothing
    /// written, when the flag is no longer up), pauses the patient's
    /// courses that take sessions and closes the flag's open cases when
    /// asked, each with its own audit entry made from `audit_entry`, all in
    /// one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn add_safety_review(
        &self,
        new: NewReview,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<ReviewStored> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let at = audit_entry.at;
                // The signals the flag has now, in this transaction: one
                // the reviewer did not see refuses the review.
                let signals: Vec<(i64, Millis)> = sqlx::query(
                    "SELECT s.id, s.at FROM safety_signals s JOIN safety_flags f ON f.id = s.flag_id \
                     WHERE s.flag_id = $1 AND f.patient_id = $2 AND f.cleared_at IS NULL",
                )
                .bind(new.flag_id)
                .bind(new.patient_id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, get::<Millis>(r, "at")?)))
                .collect::<sqlx::Result<_>>()?;
                match new.last_signal_id {
                    Some(last) => {
                        if !signals.is_empty() && !signals.iter().any(|(id, _)| *id == last) {
                            return Ok(ReviewStored::UnknownSignal);
                        }
                        if signals.iter().any(|(id, _)| *id > last) {
                            return Ok(ReviewStored::NewSignal);
                        }
                    }
                    None => {
                        if signals.iter().any(|(_, t)| t.0 > new.reviewed_at) {
                            return Ok(ReviewStored::NewSignal);
                        }
                    }
                }
                let cleared = sqlx::query(
                    "UPDATE safety_flags SET cleared_at = $1 WHERE id = $2 AND patient_id = $3 \
                     AND cleared_at IS NULL",
                )
                .bind(Millis(at))
                .bind(new.flag_id)
                .bind(new.patient_id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if cleared != 1 {
                    return Ok(ReviewStored::NoFlag);
                }
                let done = i64::from(new.cssrs_sealed.is_some());
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO safety_reviews (uid, flag_id, patient_id, reviewed_at, outcome, \
                     screener_done, cssrs_sealed, not_done_reason, note, reviewed_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     RETURNING id",
                )
                .bind(new.uid.clone())
                .bind(new.flag_id)
                .bind(new.patient_id)
                .bind(Millis(new.reviewed_at))
                .bind(new.outcome)
                .bind(done)
                .bind(new.cssrs_sealed)
                .bind(new.not_done_sealed)
                .bind(new.note_sealed)
                .bind(new.reviewed_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                let entry = AuditEntry {
                    record_id: new.patient_id.to_string(),
                    ..audit_entry.clone()
                };
                audit::append(conn, backend, &chain, &entry).await?;
                let mut paused = Vec::new();
                if new.pause {
                    let courses: Vec<(i64, String)> = sqlx::query(
                        "SELECT id, status FROM tms_courses WHERE patient_id = $1 \
                         AND status IN ('planned', 'active') ORDER BY id",
                    )
                    .bind(new.patient_id)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("status")?)))
                    .collect::<sqlx::Result<_>>()?;
                    for (course, from) in courses {
                        let from: &'static str = if from == "planned" {
                            "planned"
                        } else {
                            "active"
                        };
                        let entry = AuditEntry {
                            action: "status paused (safety review)".into(),
                            record_type: "tms_course".into(),
                            record_id: course.to_string(),
                            ..audit_entry.clone()
                        };
                        if super::tms::change_course_status(
                            conn, backend, &chain, course, from, "paused", None, &entry,
                        )
                        .await?
                        {
                            paused.push(course);
                        }
                    }
                }
                let mut closed_cases = Vec::new();
                if new.close_cases {
                    let cases: Vec<i64> = sqlx::query_scalar(
                        "SELECT DISTINCT c.id FROM triage_cases c \
                         WHERE c.status <> 'closed' AND (c.id IN (SELECT case_id FROM safety_signals \
                         WHERE flag_id = $1) OR c.id IN (SELECT case_id FROM safety_flags WHERE id = $1)) \
                         ORDER BY c.id",
                    )
                    .bind(new.flag_id)
                    .fetch_all(&mut *conn)
                    .await?;
                    for case in cases {
                        sqlx::query(
                            "UPDATE triage_cases SET status = 'closed', closed_reason = 'safety_review', \
                             version = version + 1, updated_at = $1 WHERE id = $2 AND status <> 'closed'",
                        )
                        .bind(Millis(at))
                        .bind(case)
                        .execute(&mut *conn)
                        .await?;
                        sqlx::query(
                            "INSERT INTO case_events (uid, case_id, user_id, kind, detail, at) \
                             VALUES ($1, $2, $3, 'closed', NULL, $4)",
                        )
                        .bind(format!("{}-{case}", new.uid))
                        .bind(case)
                        .bind(new.reviewed_by)
                        .bind(Millis(at))
                        .execute(&mut *conn)
                        .await?;
                        let entry = AuditEntry {
                            action: "close (safety review)".into(),
                            record_type: "case".into(),
                            record_id: case.to_string(),
                            ..audit_entry.clone()
                        };
                        audit::append(conn, backend, &chain, &entry).await?;
                        closed_cases.push(case);
                    }
                }
                Ok(ReviewStored::Done(ReviewDone {
                    id,
                    paused,
                    closed_cases,
                }))
            })
        })
        .await
    }

    /// Opens a hold on a course (a "yes" on the checklist) and, with
    /// `signal`, adds it to the patient's safety flag with the hold's case,
    /// with the audit entries, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn add_hold_raising_flag(
        &self,
        course_id: i64,
        hold: super::tms::NewHold,
        signal: Option<NewSignal>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let (id, case_id) = super::tms::insert_hold_and_case(conn, course_id, hold).await?;
                if let Some(signal) = signal {
                    let origin = Origin {
                        case_id: Some(case_id),
                        ..Origin::default()
                    };
                    raise(conn, backend, &chain, &audit_entry, signal, origin).await?;
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// Raises the patient's flag with `signal` (its urgent case opened) on
    /// its own, with its audit entry, in one transaction: a check-in with
    /// question 9 above 0 refused for its date still raises the flag.
    #[tracing::instrument(skip_all)]
    pub async fn raise_safety_flag(
        &self,
        signal: NewSignal,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                raise(
                    conn,
                    backend,
                    &chain,
                    &audit_entry,
                    signal,
                    Origin::default(),
                )
                .await
            })
        })
        .await
    }
}
