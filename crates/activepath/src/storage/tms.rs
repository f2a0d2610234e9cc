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

const COURSE_COLUMNS: &str = "id, uid, patient_id, protocol, planned_sessions, start_date, \
     status, stop_reason, target, localization, created_at, version";

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
    /// Where the coil is aimed (`left-dlpfc`, …) and how it was found.
    pub target: Option<String>,
    pub localization: Option<String>,
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
            target: r.try_get("target")?,
            localization: r.try_get("localization")?,
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
    pub target: Option<&'static str>,
    pub localization: Option<&'static str>,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
}

/// A motor threshold to store.
#[derive(Debug, Clone)]
pub struct NewMotorThreshold {
    pub course_id: i64,
    pub determined_at: Timestamp,
    pub percent_output: i64,
    /// `emg` or `visual`.
    pub method: &'static str,
    pub device: Option<String>,
    pub coil: Option<String>,
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
    /// `emg` or `visual`; `None` for thresholds recorded before it was asked.
    pub method: Option<String>,
    pub device: Option<String>,
    pub coil: Option<String>,
}

/// Inserts a course in status `planned` (inside a transaction).
pub(super) async fn insert_course(conn: &mut sqlx::AnyConnection, new: NewCourse) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO tms_courses (uid, patient_id, protocol, planned_sessions, start_date, status, target, localization, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'planned', $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(new.uid)
    .bind(new.patient_id)
    .bind(new.protocol)
    .bind(new.planned_sessions)
    .bind(new.start_date)
    .bind(new.target)
    .bind(new.localization)
    .bind(new.created_by)
    .bind(Millis(new.created_at))
    .fetch_one(&mut *conn)
    .await?)
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
                let id = insert_course(conn, new).await?;
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COURSE_COLUMNS} FROM tms_courses WHERE id = $1"
        )))
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
                change_course_status(
                    conn,
                    backend,
                    &chain,
                    id,
                    from,
                    to,
                    stop_reason,
                    &audit_entry,
                )
                .await
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
                    "INSERT INTO tms_motor_thresholds (course_id, determined_at, percent_output, recorded_by, created_at, method, device, coil) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(new.course_id)
                .bind(Millis(new.determined_at))
                .bind(new.percent_output)
                .bind(new.recorded_by)
                .bind(Millis(new.created_at))
                .bind(new.method)
                .bind(new.device)
                .bind(new.coil)
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
        Ok(only(self.motor_thresholds_of(&[course_id]).await?))
    }

    /// The motor thresholds of several courses, each course's oldest first.
    pub async fn motor_thresholds_of(&self, courses: &[i64]) -> Result<Vec<(i64, MotorThreshold)>> {
        self.per_course(
            "SELECT course_id, id, determined_at, percent_output, method, device, coil FROM tms_motor_thresholds \
             WHERE course_id IN ({courses}) ORDER BY determined_at, id",
            courses,
            |r| {
                Ok(MotorThreshold {
                    id: r.try_get("id")?,
                    determined_at: get::<Millis>(r, "determined_at")?.0,
                    percent_output: r.try_get("percent_output")?,
                    method: r.try_get("method")?,
                    device: r.try_get("device")?,
                    coil: r.try_get("coil")?,
                })
            },
        )
        .await
    }

    /// Rows of `sql` for these courses, each with its course's id: `sql`
    /// selects `course_id` and filters `course_id IN ({courses})`. A list
    /// page loads every course's rows of a table in one query.
    pub(super) async fn per_course<T>(
        &self,
        sql: &str,
        courses: &[i64],
        row: impl Fn(&AnyRow) -> sqlx::Result<T>,
    ) -> Result<Vec<(i64, T)>> {
        if courses.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sql.replace("{courses}", &super::params(1, courses.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in courses {
            query = query.bind(*id);
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("course_id")?, row(r)?)))
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }
}

/// [`Storage::set_course_status`] on the caller's transaction (a safety
/// review pauses courses this way too).
#[allow(clippy::too_many_arguments)]
pub(super) async fn change_course_status(
    conn: &mut sqlx::AnyConnection,
    backend: super::Backend,
    chain: &AuditChain,
    id: i64,
    from: &'static str,
    to: &'static str,
    stop_reason: Option<&'static str>,
    audit_entry: &AuditEntry,
) -> Result<bool> {
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
        audit::append(conn, backend, chain, audit_entry).await?;
    }
    Ok(changed == 1)
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
    /// `staff`, `link` or `kiosk`.
    pub source: &'static str,
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
    /// `staff`, `link` or `kiosk`.
    pub source: String,
}

impl Storage {
    /// Stores a check-in; with `urgent`, opens the course's urgent case and
    /// queues the clinic's notification; with `link`, uses up that check-in
    /// link (`Error::Conflict`, and nothing stored, if it was used or
    /// expired meanwhile); all in one transaction with the audit entry.
    /// Returns the check-in's id and the case's.
    #[tracing::instrument(skip_all)]
    pub async fn add_check_in(
        &self,
        new: NewCheckIn,
        urgent: Option<UrgentCase>,
        link: Option<i64>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<(i64, Option<i64>)> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let flagged = urgent.as_ref().map(|u| u.patient_id).filter(|_| new.self_harm_flag);
                let (taken_at, course_id) = (new.taken_at, new.course_id);
                let case_id = match urgent {
                    None => None,
                    Some(u) => Some(open_course_case(conn, new.course_id, u).await?),
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_check_ins (uid, course_id, instrument, taken_at, total, self_harm_flag, answers, case_id, recorded_by, created_at, source) \
                     VALUES ($1, $2, 'phq9', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
                .bind(new.source)
                .fetch_one(&mut *conn)
                .await?;
                if let Some(link) = link {
                    let used = sqlx::query(
                        "UPDATE tms_check_in_links SET used_at = $1 \
                         WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
                    )
                    .bind(Millis(new.created_at))
                    .bind(link)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    if used != 1 {
                        // Used or expired meanwhile: nothing is kept.
                        return Err(super::StorageError::Conflict(super::Constraint::LinkSpent));
                    }
                }
                if let Some(patient_id) = flagged {
                    let signal = super::safety::NewSignal {
                        patient_id,
                        course_id,
                        source: "check-in",
                        at: taken_at,
                        urgent: None,
                    };
                    let origin = super::safety::Origin {
                        check_in_id: Some(id),
                        case_id,
                        session_id: None,
                    };
                    super::safety::raise(conn, backend, &chain, &audit_entry, signal, origin).await?;
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok((id, case_id))
            })
        })
        .await
    }

    /// A course's check-ins in the order taken.
    pub async fn check_ins(&self, course_id: i64) -> Result<Vec<CheckInRecord>> {
        Ok(only(self.check_ins_of(&[course_id]).await?))
    }

    /// The check-ins of several courses, each course's in the order taken.
    pub async fn check_ins_of(&self, courses: &[i64]) -> Result<Vec<(i64, CheckInRecord)>> {
        self.per_course(
            "SELECT course_id, id, taken_at, total, self_harm_flag, case_id, source \
             FROM tms_check_ins WHERE course_id IN ({courses}) ORDER BY taken_at, id",
            courses,
            |r| {
                Ok(CheckInRecord {
                    id: r.try_get("id")?,
                    taken_at: get::<Millis>(r, "taken_at")?.0,
                    total: r.try_get("total")?,
                    self_harm_flag: r.try_get::<i64, _>("self_harm_flag")? != 0,
                    case_id: r.try_get("case_id")?,
                    source: r.try_get("source")?,
                })
            },
        )
        .await
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
    pub details: SessionDetails,
    pub recorded_by: Option<i64>,
    pub created_at: Timestamp,
    /// The order's spacing, checked again inside the transaction.
    pub spacing: Option<super::tms_orders::Spacing>,
    /// Suicidal thoughts reported as a side effect: the patient's safety
    /// flag, with an urgent case of its own.
    pub safety_signal: Option<super::safety::NewSignal>,
}

/// A session's parameters beyond intensity and pulses, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDetails {
    pub device: Option<String>,
    pub coil: Option<String>,
    pub trains: Option<i64>,
    /// Tenths of a second.
    pub intertrain_interval_ds: Option<i64>,
    pub duration_s: Option<i64>,
    /// Sealed by the caller (free text).
    pub deviations_sealed: Option<Vec<u8>>,
    pub operator: Option<String>,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: i64,
    pub uid: String,
    pub started_at: Timestamp,
    pub intensity_percent_mt: i64,
    pub pulses: i64,
    pub side_effects: Vec<String>,
    /// The motor threshold it was given at: device output (%) and when it
    /// was determined.
    pub motor_threshold: i64,
    pub motor_threshold_at: Timestamp,
    pub details: SessionDetails,
}

/// A hold to open, with the urgent case that tells the clinicians.
#[derive(Debug, Clone)]
pub struct NewHold {
    /// `checklist` or `adverse-event`.
    pub reason: &'static str,
    /// The checklist questions answered "yes" (checklist holds).
    pub checklist: Vec<&'static str>,
    pub urgent: UrgentCase,
}

/// An open hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRecord {
    pub id: i64,
    pub reason: String,
    pub case_id: Option<i64>,
    pub opened_at: Timestamp,
    /// The checklist questions answered "yes" (checklist holds).
    pub checklist: Vec<String>,
}

pub(super) fn list(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Opens the case of `u` for `course_id` (inside a transaction).
pub(super) async fn open_course_case(
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

pub(super) async fn insert_hold(
    conn: &mut sqlx::AnyConnection,
    course_id: i64,
    hold: NewHold,
) -> Result<i64> {
    Ok(insert_hold_and_case(conn, course_id, hold).await?.0)
}

/// Opens a hold and its case; returns both ids.
pub(super) async fn insert_hold_and_case(
    conn: &mut sqlx::AnyConnection,
    course_id: i64,
    hold: NewHold,
) -> Result<(i64, i64)> {
    let at = hold.urgent.case.created_at;
    let case_id = open_course_case(conn, course_id, hold.urgent).await?;
    let id = sqlx::query_scalar(
        "INSERT INTO tms_holds (course_id, reason, case_id, opened_at, checklist) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(course_id)
    .bind(hold.reason)
    .bind(case_id)
    .bind(Millis(at))
    .bind(hold.checklist.join(","))
    .fetch_one(&mut *conn)
    .await?;
    Ok((id, case_id))
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
                super::tms_orders::guard_spacing(conn, backend, new.spacing).await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_sessions (uid, course_id, started_at, motor_threshold_id, intensity_percent_mt, pulses, side_effects, recorded_by, created_at, \
                     device, coil, trains, intertrain_interval_ds, duration_s, deviations, operator) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
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
                .bind(new.details.device)
                .bind(new.details.coil)
                .bind(new.details.trains)
                .bind(new.details.intertrain_interval_ds)
                .bind(new.details.duration_s)
                .bind(new.details.deviations_sealed)
                .bind(new.details.operator)
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
                if let Some(signal) = new.safety_signal {
                    let origin = super::safety::Origin {
                        session_id: Some(id),
                        ..Default::default()
                    };
                    super::safety::raise(conn, backend, &chain, &audit_entry, signal, origin).await?;
                }
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

    /// Clears an open hold of a course with the clinician's note (sealed by
    /// the caller). `Ok(false)`: no such open hold.
    #[tracing::instrument(skip_all)]
    pub async fn clear_hold(
        &self,
        course_id: i64,
        hold_id: i64,
        by: Option<i64>,
        note_sealed: Vec<u8>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let changed = sqlx::query(
                    "UPDATE tms_holds SET cleared_at = $1, cleared_by = $2, clear_note = $5 \
                     WHERE id = $3 AND course_id = $4 AND cleared_at IS NULL",
                )
                .bind(Millis(audit_entry.at))
                .bind(by)
                .bind(hold_id)
                .bind(course_id)
                .bind(note_sealed)
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
        Ok(only(self.open_holds_of(&[course_id]).await?))
    }

    /// The open holds of several courses, each course's oldest first.
    pub async fn open_holds_of(&self, courses: &[i64]) -> Result<Vec<(i64, HoldRecord)>> {
        self.per_course(
            "SELECT course_id, id, reason, case_id, opened_at, checklist FROM tms_holds \
             WHERE course_id IN ({courses}) AND cleared_at IS NULL ORDER BY opened_at, id",
            courses,
            |r| {
                Ok(HoldRecord {
                    id: r.try_get("id")?,
                    reason: r.try_get("reason")?,
                    case_id: r.try_get("case_id")?,
                    opened_at: get::<Millis>(r, "opened_at")?.0,
                    checklist: list(r.try_get("checklist")?),
                })
            },
        )
        .await
    }

    /// How many sessions each of these courses has been given, by course id
    /// (a course with none is not there): a count, not the sessions.
    pub async fn sessions_given(
        &self,
        courses: &[i64],
    ) -> Result<std::collections::HashMap<i64, i64>> {
        Ok(self
            .per_course(
                "SELECT course_id, COUNT(*) AS n FROM tms_sessions \
                 WHERE course_id IN ({courses}) GROUP BY course_id",
                courses,
                |r| r.try_get::<i64, _>("n"),
            )
            .await?
            .into_iter()
            .collect())
    }

    /// The sessions of several courses, each course's in the order given.
    pub async fn sessions_of(&self, courses: &[i64]) -> Result<Vec<(i64, SessionRecord)>> {
        self.per_course(
            "SELECT s.course_id, s.id, s.uid, s.started_at, s.intensity_percent_mt, s.pulses, \
             s.side_effects, m.percent_output, m.determined_at, s.device, s.coil, s.trains, \
             s.intertrain_interval_ds, s.duration_s, s.deviations, s.operator \
             FROM tms_sessions s JOIN tms_motor_thresholds m ON m.id = s.motor_threshold_id \
             WHERE s.course_id IN ({courses}) ORDER BY s.started_at, s.id",
            courses,
            |r| {
                Ok(SessionRecord {
                    id: r.try_get("id")?,
                    uid: r.try_get("uid")?,
                    started_at: get::<Millis>(r, "started_at")?.0,
                    intensity_percent_mt: r.try_get("intensity_percent_mt")?,
                    pulses: r.try_get("pulses")?,
                    side_effects: list(r.try_get("side_effects")?),
                    motor_threshold: r.try_get("percent_output")?,
                    motor_threshold_at: get::<Millis>(r, "determined_at")?.0,
                    details: SessionDetails {
                        device: r.try_get("device")?,
                        coil: r.try_get("coil")?,
                        trains: r.try_get("trains")?,
                        intertrain_interval_ds: r.try_get("intertrain_interval_ds")?,
                        duration_s: r.try_get("duration_s")?,
                        deviations_sealed: r.try_get("deviations")?,
                        operator: r.try_get("operator")?,
                    },
                })
            },
        )
        .await
    }

    /// When a "yes" to a medication change on the checklist last held each
    /// of these courses (the motor threshold is to be determined again after
    /// it), by course id; a course without one is not there.
    pub async fn last_medication_changes(
        &self,
        courses: &[i64],
    ) -> Result<std::collections::HashMap<i64, Timestamp>> {
        let holds = self
            .per_course(
                "SELECT course_id, opened_at, checklist FROM tms_holds \
                 WHERE course_id IN ({courses}) AND reason = 'checklist' ORDER BY opened_at, id",
                courses,
                |r| {
                    Ok((
                        get::<Millis>(r, "opened_at")?.0,
                        list(r.try_get("checklist")?),
                    ))
                },
            )
            .await?;
        // Oldest first: the last one written for a course is its latest.
        Ok(holds
            .into_iter()
            .filter(|(_, (_, checklist))| checklist.iter().any(|q| q == "medication_change"))
            .map(|(course, (at, _))| (course, at))
            .collect())
    }
}

/// An insurance authorization to store: the number sealed by the caller.
#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub uid: String,
    pub course_id: i64,
    pub payer: String,
    pub number_sealed: Vec<u8>,
    pub sessions_authorized: i64,
    pub valid_from: String,
    pub valid_to: String,
    pub extends_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
}

/// An authorization as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRecord {
    pub id: i64,
    pub uid: String,
    pub payer: String,
    pub number_sealed: Vec<u8>,
    pub sessions_authorized: i64,
    /// `YYYY-MM-DD`, both days included.
    pub valid_from: String,
    pub valid_to: String,
    pub extends_id: Option<i64>,
}

/// A check-in link as stored (found by its token's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInLink {
    pub id: i64,
    pub course_id: i64,
    /// `link` (e-mailed) or `kiosk` (the clinic's tablet).
    pub kind: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    /// The clinic tablet it waits on.
    pub kiosk_id: Option<i64>,
}

impl CheckInLink {
    fn from_row(r: &AnyRow) -> sqlx::Result<Self> {
        Ok(CheckInLink {
            id: r.try_get("id")?,
            course_id: r.try_get("course_id")?,
            kind: r.try_get("kind")?,
            expires_at: get::<Millis>(r, "expires_at")?.0,
            used_at: get::<Option<Millis>>(r, "used_at")?.map(|m| m.0),
            kiosk_id: r.try_get("kiosk_id")?,
        })
    }
}

/// A check-in link to store.
#[derive(Debug, Clone)]
pub struct NewCheckInLink {
    pub course_id: i64,
    pub token_hash: String,
    /// `link` or `kiosk`.
    pub kind: &'static str,
    pub expires_at: Timestamp,
    /// The clinic tablet it is sent to.
    pub kiosk_id: Option<i64>,
    /// The e-mail that carries it.
    pub mail: Option<NewMail>,
    pub created_by: Option<i64>,
}

/// A clinic tablet for check-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kiosk {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
}

impl Storage {
    /// Stores an authorization for a course, with its audit entry. An
    /// extension must name an authorization of the same course.
    #[tracing::instrument(skip_all)]
    pub async fn add_authorization(
        &self,
        new: NewAuthorization,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_authorizations (uid, course_id, payer, number, sessions_authorized, valid_from, valid_to, extends_id, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                )
                .bind(new.uid)
                .bind(new.course_id)
                .bind(new.payer)
                .bind(new.number_sealed)
                .bind(new.sessions_authorized)
                .bind(new.valid_from)
                .bind(new.valid_to)
                .bind(new.extends_id)
                .bind(new.created_by)
                .bind(Millis(new.created_at))
                .fetch_one(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// A course's authorizations, in the order recorded.
    pub async fn authorizations(&self, course_id: i64) -> Result<Vec<AuthorizationRecord>> {
        Ok(only(self.authorizations_of(&[course_id]).await?))
    }

    /// The authorizations of several courses, each course's in the order
    /// recorded.
    pub async fn authorizations_of(
        &self,
        courses: &[i64],
    ) -> Result<Vec<(i64, AuthorizationRecord)>> {
        self.per_course(
            "SELECT course_id, id, uid, payer, number, sessions_authorized, valid_from, valid_to, \
             extends_id FROM tms_authorizations WHERE course_id IN ({courses}) ORDER BY id",
            courses,
            |r| {
                Ok(AuthorizationRecord {
                    id: r.try_get("id")?,
                    uid: r.try_get("uid")?,
                    payer: r.try_get("payer")?,
                    number_sealed: r.try_get("number")?,
                    sessions_authorized: r.try_get("sessions_authorized")?,
                    valid_from: r.try_get("valid_from")?,
                    valid_to: r.try_get("valid_to")?,
                    extends_id: r.try_get("extends_id")?,
                })
            },
        )
        .await
    }

    /// Stores a check-in link (its token's hash), with its audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_check_in_link(
        &self,
        new: NewCheckInLink,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let at = audit_entry.at;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_check_in_links (course_id, token_hash, kind, created_by, created_at, expires_at, kiosk_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(new.course_id)
                .bind(new.token_hash)
                .bind(new.kind)
                .bind(new.created_by)
                .bind(Millis(at))
                .bind(Millis(new.expires_at))
                .bind(new.kiosk_id)
                .fetch_one(&mut *conn)
                .await?;
                if let Some(mail) = new.mail {
                    outbox::queue(conn, mail, at).await?;
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// The check-in link whose token has this hash.
    pub async fn check_in_link(&self, token_hash: &str) -> Result<Option<CheckInLink>> {
        let row = sqlx::query(
            "SELECT id, course_id, kind, expires_at, used_at, kiosk_id FROM tms_check_in_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| CheckInLink::from_row(&r)).transpose()?)
    }

    /// The oldest check-in waiting on kiosk `kiosk_id` (not used, not
    /// expired at `now`).
    pub async fn waiting_on_kiosk(
        &self,
        kiosk_id: i64,
        now: Timestamp,
    ) -> Result<Option<CheckInLink>> {
        let row = sqlx::query(
            "SELECT id, course_id, kind, expires_at, used_at, kiosk_id FROM tms_check_in_links \
             WHERE kiosk_id = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY created_at, id LIMIT 1",
        )
        .bind(kiosk_id)
        .bind(Millis(now))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| CheckInLink::from_row(&r)).transpose()?)
    }

    /// Stores a tablet for check-ins, with its audit entry.
    #[tracing::instrument(skip_all)]
    pub async fn add_kiosk(
        &self,
        name: String,
        token_hash: String,
        created_by: Option<i64>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<i64> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tms_kiosks (name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(name)
                .bind(token_hash)
                .bind(created_by)
                .bind(Millis(audit_entry.at))
                .fetch_one(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(id)
            })
        })
        .await
    }

    /// Stops a tablet's address from working. `Ok(false)`: no such tablet
    /// in use.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_kiosk(
        &self,
        id: i64,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let changed = sqlx::query(
                    "UPDATE tms_kiosks SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(Millis(audit_entry.at))
                .bind(id)
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

    /// The tablets in use, oldest first.
    pub async fn kiosks(&self) -> Result<Vec<Kiosk>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at FROM tms_kiosks WHERE revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Kiosk {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: get::<Millis>(r, "created_at")?.0,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// The tablet in use whose token has this hash.
    pub async fn kiosk_by_hash(&self, token_hash: &str) -> Result<Option<Kiosk>> {
        let row = sqlx::query(
            "SELECT id, name, created_at FROM tms_kiosks WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| -> sqlx::Result<Kiosk> {
                Ok(Kiosk {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: get::<Millis>(&r, "created_at")?.0,
                })
            })
            .transpose()?)
    }

    /// The courses that take sessions or ended recently, newest first, for
    /// the portal's list: (course, patient id).
    pub async fn recent_courses(&self, limit: i64) -> Result<Vec<CourseRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COURSE_COLUMNS} FROM tms_courses \
                 ORDER BY CASE WHEN status IN ('planned', 'active', 'paused') THEN 0 ELSE 1 END, \
                 start_date DESC, id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(CourseRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }

    /// A patient's courses, newest first.
    pub async fn patient_courses(&self, patient_id: i64) -> Result<Vec<CourseRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COURSE_COLUMNS} FROM tms_courses WHERE patient_id = $1 \
                 ORDER BY start_date DESC, id DESC"
        )))
        .bind(patient_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(CourseRecord::from_row)
            .collect::<sqlx::Result<_>>()?)
    }
}

/// A course's booked session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRow {
    pub appointment: super::booking::AppointmentRow,
    /// The patient did not come.
    pub missed_at: Option<Timestamp>,
    /// The missed session this one makes up for.
    pub makeup_of: Option<i64>,
}

impl Storage {
    /// Books a course's sessions in one transaction with the audit entry:
    /// all of them or, when one would overlap another booking
    /// (`Conflict(ResourceBusy)`), none. With `missed`, first marks that
    /// session missed (`Conflict(Changed)` if it was already); each new one
    /// then makes up for it.
    #[tracing::instrument(skip_all)]
    pub async fn insert_series(
        &self,
        course_id: i64,
        appointments: Vec<super::booking::NewAppointment>,
        missed: Option<i64>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<Vec<i64>> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(missed) = missed {
                    let marked = sqlx::query(
                        "UPDATE tms_course_appointments SET missed_at = $1 \
                         WHERE appointment_id = $2 AND course_id = $3 AND missed_at IS NULL",
                    )
                    .bind(Millis(audit_entry.at))
                    .bind(missed)
                    .bind(course_id)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    if marked != 1 {
                        return Err(super::StorageError::Conflict(super::Constraint::Changed));
                    }
                }
                let mut ids = Vec::new();
                for new in appointments {
                    let id = super::booking::insert_appointment_row(conn, new).await?;
                    sqlx::query(
                        "INSERT INTO tms_course_appointments (appointment_id, course_id, makeup_of) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(id)
                    .bind(course_id)
                    .bind(missed)
                    .execute(&mut *conn)
                    .await?;
                    ids.push(id);
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(ids)
            })
        })
        .await
    }

    /// Moves or cancels several of a course's sessions in one transaction
    /// with the audit entry: all of them, or none when one changed since it
    /// was read (`Conflict(Changed)`) or would overlap another booking
    /// (`Conflict(ResourceBusy)`).
    #[tracing::instrument(skip_all)]
    pub async fn change_series(
        &self,
        changes: Vec<super::booking::AppointmentChange>,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<()> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                // Every old time is released before any new one is taken,
                // so sessions may move into each other's former times.
                for c in &changes {
                    if !super::booking::update_appointment(
                        conn,
                        c.id,
                        c.expected_sequence,
                        c.at,
                        &c.what,
                    )
                    .await?
                    {
                        return Err(super::StorageError::Conflict(super::Constraint::Changed));
                    }
                }
                for c in &changes {
                    if let super::booking::ChangeKind::Move { blocks, .. } = &c.what {
                        super::booking::insert_blocks(conn, c.id, blocks).await?;
                    }
                }
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(())
            })
        })
        .await
    }

    /// A course's booked sessions (cancelled ones too), in time order.
    pub async fn series(&self, course_id: i64) -> Result<Vec<SeriesRow>> {
        Ok(only(self.series_of(&[course_id]).await?))
    }

    /// The booked sessions of several courses, each course's in time order.
    pub async fn series_of(&self, courses: &[i64]) -> Result<Vec<(i64, SeriesRow)>> {
        let sql = format!(
            "SELECT t.course_id, {}, t.missed_at, t.makeup_of FROM appointments a \
             JOIN tms_course_appointments t ON t.appointment_id = a.id \
             WHERE t.course_id IN ({{courses}}) ORDER BY a.starts_at, a.id",
            super::booking::APPOINTMENT_COLUMNS
                .split(", ")
                .map(|c| format!("a.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.per_course(&sql, courses, |r| {
            Ok(SeriesRow {
                appointment: sqlx::FromRow::from_row(r)?,
                missed_at: get::<Option<Millis>>(r, "missed_at")?.map(|m| m.0),
                makeup_of: r.try_get("makeup_of")?,
            })
        })
        .await
    }

    /// The course a booked session belongs to.
    pub async fn course_of_appointment(&self, appointment_id: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT course_id FROM tms_course_appointments WHERE appointment_id = $1",
        )
        .bind(appointment_id)
        .fetch_optional(self.pool())
        .await?)
    }
}

/// The rows of one course, without its id.
fn only<T>(rows: Vec<(i64, T)>) -> Vec<T> {
    rows.into_iter().map(|(_, row)| row).collect()
}
