//! TMS treatment courses: their plans and the motor thresholds determined
//! for them. Every write carries its audit entry in the same transaction.

use super::audit::{self, AuditEntry};
use super::outbox::{self, NewMail};
use super::triage::NewTriageCase;
use super::{Millis, Result, Storage, Text, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A course as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseRecord {
    pub id: i64,
    pub uid: String,
    pub patient_id: i64,
    pub protocol: String,
    pub planned_sessions: i64,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `planned`, `active`, `paused`, `completed` or `stopped`.
    pub status: String,
    /// Why it stopped early (`stopped` only).
    pub stop_reason: Option<String>,
    pub created_at: Timestamp,
    pub version: i64,
}

impl CourseRecord {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(CourseRecord {
            id: r.try_get("id")?,
            uid: r.try_get("uid")?,
            patient_id: r.try_get("patient_id")?,
            protocol: r.try_get("protocol")?,
            planned_sessions: r.try_get("planned_sessions")?,
            start_date: r.try_get("start_date")?,
            status: r.try_get("status")?,
            stop_reason: r.try_get("stop_reason")?,
            created_at: get::<Millis>(r, "created_at")?.0,
            version: r.try_get("version")?,
        })
    }
}

/// A course to store.
#[derive(Debug, Clone)]
pub struct NewCourse {
    pub uid: String,
    pub patient_id: i64,
    pub protocol: String,
    pub planned_sessions: i64,
    pub start_date: String,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
}

/// A motor threshold to store.
#[derive(Debug, Clone)]
pub struct NewMotorThreshold {
    pub course_id: i64,
    pub determined_at: Timestamp,
    pub percent_output: i64,
    pub recorded_by: Option<i64>,
    pub created_at: Timestamp,
}

/// A motor threshold: the device output (percent) that evokes a motor
/// response, determined on a date; session intensities are a percentage of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MotorThreshold {
    pub id: i64,
    pub determined_at: Timestamp,
    pub percent_output: i64,
}

impl Storage {
    /// Stores a course in status `planned`, with its audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_course(
        &self,
        new: NewCourse,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_courses (uid, patient_id, protocol, planned_sessions, start_date, status, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7, $7) RETURNING id",
                )
                .bind(new.uid)
                .bind(new.patient_id)
                .bind(new.protocol)
                .bind(new.planned_sessions)
                .bind(new.start_date)
                .bind(new.created_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                let entry = AuditEntry {
                    record_id: id.to_string(),
                    ..audit_entry
                };
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(id)
            })
        })
        .await
    }

    pub async fn course(&self, id: i64) -> Result<Option<CourseRecord>> {
        let row = sqlx::query(
            "SELECT id, uid, patient_id, protocol, planned_sessions, start_date, status, stop_reason, created_at, version \
             FROM tms_courses WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| CourseRecord::from_row(&r)).transpose()?)
    }

    /// Moves a course from status `from` to `to` (with `stop_reason` when
    /// stopped), with its audit entry. `Ok(false)`: its status was no longer
    /// `from` (someone changed it meanwhile); nothing changed.
    #[tracing::instrument(skip_all)]
    pub async fn set_course_status(
        &self,
        id: i64,
        from: &'static str,
        to: &'static str,
        stop_reason: Option<&'static str>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let changed = sqlx::query(
                    "UPDATE tms_courses SET status = $1, stop_reason = $2, updated_at = $3, version = version + 1 \
                     WHERE id = $4 AND status = $5",
                )
                .bind(to)
                .bind(stop_reason)
                .bind(Millis(audit_entry.at))
                .bind(id)
                .bind(from)
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

    /// Records a motor threshold for a course, with its audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_motor_threshold(
        &self,
        new: NewMotorThreshold,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_motor_thresholds (course_id, determined_at, percent_output, recorded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(new.course_id)
                .bind(Millis(new.determined_at))
                .bind(new.percent_output)
                .bind(new.recorded_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// A course's motor thresholds, oldest first.
    pub async fn motor_thresholds(&self, course_id: i64) -> Result<Vec<MotorThreshold>> {
        let rows = sqlx::query(
            "SELECT id, determined_at, percent_output FROM tms_motor_thresholds \
             WHERE course_id = $1 ORDER BY determined_at, id",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MotorThreshold {
                    id: r.try_get("id")?,
                    determined_at: get::<Millis>(r, "determined_at")?.0,
                    percent_output: r.try_get("percent_output")?,
                })
            })
            .collect()
    }
}

/// A PHQ-9 check-in to store: answers sealed by the caller.
#[derive(Debug, Clone)]
pub struct NewCheckIn {
    pub uid: String,
    pub course_id: i64,
    pub taken_at: Timestamp,
    pub total: i64,
    pub self_harm_flag: bool,
    pub answers_sealed: Vec<u8>,
    pub recorded_by: Option<i64>,
    pub created_at: Timestamp,
}

/// The urgent case a check-in opens, with the clinic's notification.
#[derive(Debug, Clone)]
pub struct UrgentCase {
    pub case: NewTriageCase,
    pub patient_id: i64,
    pub mail: NewMail,
}

/// A check-in as stored (without its answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRecord {
    pub id: i64,
    pub taken_at: Timestamp,
    pub total: i64,
    pub self_harm_flag: bool,
    pub case_id: Option<i64>,
}

impl Storage {
    /// Stores a check-in; with `urgent`, opens the course's urgent case and
    /// queues the clinic's notification, all in one transaction with the
    /// audit entry. Returns the check-in's id and the case's.
    #[tracing::instrument(skip_all)]
    pub async fn add_check_in(
        &self,
        new: NewCheckIn,
        urgent: Option<UrgentCase>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<(i64, Option<i64>)> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let case_id = match urgent {
                    None => None,
                    Some(u) => Some(open_course_case(conn, new.course_id, u).await?),
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_check_ins (uid, course_id, instrument, taken_at, total, self_harm_flag, answers, case_id, recorded_by, created_at) \
                     VALUES ($1, $2, 'phq9', $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(new.uid)
                .bind(new.course_id)
                .bind(Millis(new.taken_at))
                .bind(new.total)
                .bind(i64::from(new.self_harm_flag))
                .bind(new.answers_sealed)
                .bind(case_id)
                .bind(new.recorded_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok((id, case_id))
            })
        })
        .await
    }

    /// A course's check-ins in the order taken.
    pub async fn check_ins(&self, course_id: i64) -> Result<Vec<CheckInRecord>> {
        let rows = sqlx::query(
            "SELECT id, taken_at, total, self_harm_flag, case_id FROM tms_check_ins \
             WHERE course_id = $1 ORDER BY taken_at, id",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CheckInRecord {
                    id: r.try_get("id")?,
                    taken_at: get::<Millis>(r, "taken_at")?.0,
                    total: r.try_get("total")?,
                    self_harm_flag: r.try_get::<i64, _>("self_harm_flag")? != 0,
                    case_id: r.try_get("case_id")?,
                })
            })
            .collect()
    }
}

/// A session to store, with the hold it opens (a seizure or other serious
/// event) if any.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub uid: String,
    pub course_id: i64,
    pub started_at: Timestamp,
    pub motor_threshold_id: i64,
    pub intensity_percent_mt: i64,
    pub pulses: i64,
    pub side_effects: Vec<String>,
    pub recorded_by: Option<i64>,
    pub created_at: Timestamp,
}

/// A hold to open, with the urgent case that tells the clinicians.
#[derive(Debug, Clone)]
pub struct NewHold {
    /// `checklist` or `adverse-event`.
    pub reason: &'static str,
    pub urgent: UrgentCase,
}

/// An open hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
    pub id: i64,
    pub reason: String,
    pub case_id: Option<i64>,
    pub opened_at: Timestamp,
}

/// Opens the case of `u` for `course_id` (inside a transaction).
async fn open_course_case(
    conn: &mut sqlx::AnyConnection,
    course_id: i64,
    u: UrgentCase,
) -> Result<i64> {
    let at = u.case.created_at;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO triage_cases (uid, kind, course_id, patient_id, priority, contact, \
         consent_version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(u.case.uid)
    .bind(Text(u.case.kind))
    .bind(course_id)
    .bind(u.patient_id)
    .bind(Text(u.case.priority))
    .bind(u.case.contact_sealed)
    .bind(u.case.consent_version)
    .bind(Millis(at))
    .fetch_one(&mut *conn)
    .await?;
    outbox::queue(conn, u.mail, at).await?;
    Ok(id)
}

async fn insert_hold(conn: &mut sqlx::AnyConnection, course_id: i64, hold: NewHold) -> Result<i64> {
    let at = hold.urgent.case.created_at;
    let case_id = open_course_case(conn, course_id, hold.urgent).await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO tms_holds (course_id, reason, case_id, opened_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(course_id)
    .bind(hold.reason)
    .bind(case_id)
    .bind(Millis(at))
    .fetch_one(&mut *conn)
    .await?)
}

impl Storage {
    /// Stores a session (a planned course becomes active with its first),
    /// and the hold it opens, with its audit entry, in one transaction.
    /// Returns the session's id and the hold's.
    #[tracing::instrument(skip_all)]
    pub async fn add_session(
        &self,
        new: NewSession,
        hold: Option<NewHold>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<(i64, Option<i64>)> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_sessions (uid, course_id, started_at, motor_threshold_id, intensity_percent_mt, pulses, side_effects, recorded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(new.uid)
                .bind(new.course_id)
                .bind(Millis(new.started_at))
                .bind(new.motor_threshold_id)
                .bind(new.intensity_percent_mt)
                .bind(new.pulses)
                .bind(new.side_effects.join(","))
                .bind(new.recorded_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                sqlx::query(
                    "UPDATE tms_courses SET status = 'active', updated_at = $1, version = version + 1 \
                     WHERE id = $2 AND status = 'planned'",
                )
                .bind(Millis(new.created_at))
                .bind(new.course_id)
                .execute(&mut *conn)
                .await?;
                let hold_id = match hold {
                    Some(h) => Some(insert_hold(conn, new.course_id, h).await?),
                    None => None,
                };
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok((id, hold_id))
            })
        })
        .await
    }

    /// Opens a hold on a course without a session (a "yes" on the
    /// pre-session checklist), with its audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_hold(
        &self,
        course_id: i64,
        hold: NewHold,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id = insert_hold(conn, course_id, hold).await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// Clears an open hold of a course. `Ok(false)`: no such open hold.
    #[tracing::instrument(skip_all)]
    pub async fn clear_hold(
        &self,
        course_id: i64,
        hold_id: i64,
        by: Option<i64>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let changed = sqlx::query(
                    "UPDATE tms_holds SET cleared_at = $1, cleared_by = $2 \
                     WHERE id = $3 AND course_id = $4 AND cleared_at IS NULL",
                )
                .bind(Millis(audit_entry.at))
                .bind(by)
                .bind(hold_id)
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

    /// A course's open holds, oldest first.
    pub async fn open_holds(&self, course_id: i64) -> Result<Vec<HoldRecord>> {
        let rows = sqlx::query(
            "SELECT id, reason, case_id, opened_at FROM tms_holds \
             WHERE course_id = $1 AND cleared_at IS NULL ORDER BY opened_at, id",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HoldRecord {
                    id: r.try_get("id")?,
                    reason: r.try_get("reason")?,
                    case_id: r.try_get("case_id")?,
                    opened_at: get::<Millis>(r, "opened_at")?.0,
                })
            })
            .collect()
    }

    /// When each of a course's sessions started, in order.
    pub async fn session_times(&self, course_id: i64) -> Result<Vec<Timestamp>> {
        let rows = sqlx::query(
            "SELECT started_at FROM tms_sessions WHERE course_id = $1 ORDER BY started_at, id",
        )
        .bind(course_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(get::<Millis>(r, "started_at")?.0))
            .collect()
    }
}
