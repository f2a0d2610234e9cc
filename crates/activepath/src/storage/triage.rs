//! Triage cases: what the clinic's staff act on, highest priority first.

use super::audit::{self, AuditEntry};
use super::outbox::{self, NewMail};
use super::{Constraint, Millis, Result, Storage, StorageError, Text, TextEnum, get};
use crate::crypto::AuditChain;
use jiff::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Question 9 above "Not at all": same-day review.
    Urgent,
    Routine,
}

impl TextEnum for Priority {
    fn as_text(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::Routine => "routine",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        match text {
            "urgent" => Some(Priority::Urgent),
            "routine" => Some(Priority::Routine),
            _ => None,
        }
    }
}

/// What brought a case to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    /// A self-assessment result sent to the clinic.
    Assessment,
    /// A message through the contact form.
    Message,
    /// A request to be called back.
    Callback,
    /// A first consultation booked on the site or through the API.
    Booking,
    /// An urgent matter in a TMS course: a check-in with question 9 above 0.
    Course,
}

impl TextEnum for CaseKind {
    fn as_text(self) -> &'static str {
        match self {
            CaseKind::Assessment => "assessment",
            CaseKind::Message => "message",
            CaseKind::Callback => "callback",
            CaseKind::Booking => "booking",
            CaseKind::Course => "course",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        [
            CaseKind::Assessment,
            CaseKind::Message,
            CaseKind::Callback,
            CaseKind::Booking,
            CaseKind::Course,
        ]
        .into_iter()
        .find(|k| k.as_text() == text)
    }
}

#[derive(Debug, Clone)]
pub struct NewTriageCase {
    /// A stable identifier, made by the application; the sealed contact
    /// details are bound to it.
    pub uid: String,
    pub kind: CaseKind,
    /// The result, for an assessment case.
    pub result_id: Option<i64>,
    pub priority: Priority,
    pub contact_sealed: Vec<u8>,
    /// Which consent wording the person agreed to.
    pub consent_version: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareOutcome {
    Created,
    /// The result was shared before; nothing was written.
    AlreadyShared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageSummary {
    pub uid: String,
    pub result_id: Option<i64>,
    pub priority: Priority,
    pub created_at: Timestamp,
}

/// Inserts a case on `conn`; `appointment_id` for a booking case.
pub(super) async fn insert_case(
    conn: &mut sqlx::AnyConnection,
    case: NewTriageCase,
    appointment_id: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO triage_cases (uid, kind, result_id, appointment_id, priority, contact, \
         consent_version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(case.uid)
    .bind(Text(case.kind))
    .bind(case.result_id)
    .bind(appointment_id)
    .bind(Text(case.priority))
    .bind(case.contact_sealed)
    .bind(case.consent_version)
    .bind(Millis(case.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Storage {
    /// Creates the triage case and queues the clinic's notification in one
    /// transaction: both are stored, or neither.
    #[tracing::instrument(skip_all)]
    pub async fn share_result(&self, case: NewTriageCase, mail: NewMail) -> Result<ShareOutcome> {
        let outcome = self
            .write(move |conn| {
                Box::pin(async move {
                    let at = case.created_at;
                    insert_case(conn, case, None).await?;
                    outbox::queue(conn, mail, at).await
                })
            })
            .await;
        match outcome {
            Ok(()) => Ok(ShareOutcome::Created),
            Err(StorageError::Conflict(Constraint::TriageResult)) => {
                Ok(ShareOutcome::AlreadyShared)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens a case that is not about a result (a message, a call-back
    /// request) with the clinic's notification, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn open_case(&self, case: NewTriageCase, mail: NewMail) -> Result<()> {
        self.write(move |conn| {
            Box::pin(async move {
                let at = case.created_at;
                insert_case(conn, case, None).await?;
                outbox::queue(conn, mail, at).await
            })
        })
        .await
    }

    /// The open triage cases, highest priority first, then oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn triage_queue(&self) -> Result<Vec<TriageSummary>> {
        let rows = sqlx::query(
            "SELECT uid, result_id, priority, created_at FROM triage_cases WHERE status <> 'closed' \
             ORDER BY priority DESC, created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TriageSummary {
                    uid: row.try_get("uid")?,
                    result_id: row.try_get("result_id")?,
                    priority: get::<Text<Priority>>(row, "priority")?.0,
                    created_at: get::<Millis>(row, "created_at")?.0,
                })
            })
            .collect()
    }

    /// The sealed contact details of the case made from a result, with the
    /// case's uid they are bound to.
    #[tracing::instrument(skip_all)]
    pub async fn triage_contact(&self, result_id: i64) -> Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query("SELECT uid, contact FROM triage_cases WHERE result_id = $1")
            .bind(result_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| Ok::<_, sqlx::Error>((r.try_get("uid")?, r.try_get("contact")?)))
            .transpose()?)
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    New,
    InProgress,
    Closed,
}

impl TextEnum for CaseStatus {
    fn as_text(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::Closed => "closed",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        [CaseStatus::New, CaseStatus::InProgress, CaseStatus::Closed]
            .into_iter()
            .find(|s| s.as_text() == text)
    }
}

/// Why a case was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Reached, and the next step agreed.
    Contacted,
    /// A first consultation is booked.
    Booked,
    /// No answer after several attempts.
    NoResponse,
    /// The person did not want to go on.
    Declined,
    /// Better served elsewhere, and told where.
    Referred,
    /// The same person's case is open elsewhere in the queue.
    Duplicate,
    /// A clinician recorded the safety review of the patient's flag (set
    /// by the review, never chosen in the case's form).
    SafetyReview,
}

impl CloseReason {
    /// The reasons staff choose from when closing a case by hand.
    pub const ALL: [CloseReason; 6] = [
        CloseReason::Contacted,
        CloseReason::Booked,
        CloseReason::NoResponse,
        CloseReason::Declined,
        CloseReason::Referred,
        CloseReason::Duplicate,
    ];
}

impl TextEnum for CloseReason {
    fn as_text(self) -> &'static str {
        match self {
            CloseReason::Contacted => "contacted",
            CloseReason::Booked => "booked",
            CloseReason::NoResponse => "no_response",
            CloseReason::Declined => "declined",
            CloseReason::Referred => "referred",
            CloseReason::Duplicate => "duplicate",
            CloseReason::SafetyReview => "safety_review",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        CloseReason::ALL
            .into_iter()
            .chain([CloseReason::SafetyReview])
            .find(|r| r.as_text() == text)
    }
}

/// One line of the queue: the case and the score that made it.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub id: i64,
    pub priority: Priority,
    pub status: CaseStatus,
    pub created_at: Timestamp,
    pub assigned_to: Option<String>,
    pub kind: CaseKind,
    /// The score, for an assessment case.
    pub screening: Option<Screening>,
}

/// The score behind an assessment case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screening {
    pub instrument: clinical::InstrumentId,
    pub total: i64,
    pub severity: clinical::Severity,
    pub self_harm_flag: bool,
}

/// A case, as stored.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    pub id: i64,
    pub uid: String,
    pub kind: CaseKind,
    pub result_id: Option<i64>,
    pub appointment_id: Option<i64>,
    pub priority: Priority,
    pub status: CaseStatus,
    pub contact_sealed: Vec<u8>,
    pub consent_version: String,
    pub created_at: Timestamp,
    pub assigned_to: Option<(i64, String)>,
    pub version: i64,
    pub closed_reason: Option<CloseReason>,
    pub patient_id: Option<i64>,
}

/// What happened on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Taken,
    Note,
    ContactAttempt,
    Closed,
    Reopened,
    PatientLinked,
}

impl TextEnum for EventKind {
    fn as_text(self) -> &'static str {
        match self {
            EventKind::Taken => "taken",
            EventKind::Note => "note",
            EventKind::ContactAttempt => "contact_attempt",
            EventKind::Closed => "closed",
            EventKind::Reopened => "reopened",
            EventKind::PatientLinked => "patient_linked",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        [
            EventKind::Taken,
            EventKind::Note,
            EventKind::ContactAttempt,
            EventKind::Closed,
            EventKind::Reopened,
            EventKind::PatientLinked,
        ]
        .into_iter()
        .find(|k| k.as_text() == text)
    }
}

#[derive(Debug, Clone)]
pub struct CaseEvent {
    pub uid: String,
    pub kind: EventKind,
    /// Sealed, bound to the event's uid.
    pub detail_sealed: Option<Vec<u8>>,
    pub at: Timestamp,
    pub by: Option<String>,
}

/// A change to a case, made only if the case is still at `expected_version`.
#[derive(Debug, Clone)]
pub struct CaseChange {
    pub case_id: i64,
    pub expected_version: i64,
    pub user_id: i64,
    pub kind: EventKind,
    pub close_reason: Option<CloseReason>,
    pub event_uid: String,
    pub detail_sealed: Option<Vec<u8>>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    Done,
    /// Someone else changed the case first; nothing was written.
    Stale,
    Missing,
}

/// A page of the open cases ($1 rows from $2), urgent first, then oldest.
pub(super) const QUEUE_SQL: &str = "\
    SELECT c.id, c.kind, c.priority, c.status, c.created_at, u.email AS assigned_email, \
           r.instrument, r.total, r.severity, r.self_harm_flag \
    FROM triage_cases c \
    LEFT JOIN assessment_results r ON r.id = c.result_id \
    LEFT JOIN staff_users u ON u.id = c.assigned_to \
    WHERE c.status <> 'closed' \
    ORDER BY c.priority DESC, c.created_at, c.id LIMIT $1 OFFSET $2";

/// The number of open cases and of urgent ones among them. The statuses are
/// named (the schema allows only these and 'closed') so that both databases
/// count from the index on status rather than reading every case.
pub(super) const OPEN_CASES_SQL: &str = "\
    SELECT COUNT(*) AS open, \
           COALESCE(SUM(CASE WHEN priority = 'urgent' THEN 1 ELSE 0 END), 0) AS urgent \
    FROM triage_cases WHERE status IN ('new', 'in_progress')";

/// One case ($1) with the e-mail of whoever holds it.
pub(super) const CASE_SQL: &str = "\
    SELECT c.id, c.uid, c.kind, c.result_id, c.appointment_id, c.priority, c.status, c.contact, c.consent_version, \
           c.created_at, c.assigned_to, u.email AS assigned_email, c.version, c.closed_reason, \
           c.patient_id \
    FROM triage_cases c LEFT JOIN staff_users u ON u.id = c.assigned_to WHERE c.id = $1";

/// A case's ($1) timeline, oldest first.
pub(super) const CASE_EVENTS_SQL: &str = "\
    SELECT e.uid, e.kind, e.detail, e.at, u.email FROM case_events e \
    LEFT JOIN staff_users u ON u.id = e.user_id WHERE e.case_id = $1 ORDER BY e.at, e.id";

impl Storage {
    /// A page of the open cases, urgent first, then oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn queue(&self, limit: i64, offset: i64) -> Result<Vec<QueueItem>> {
        let rows = sqlx::query(QUEUE_SQL)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueItem {
                    id: r.try_get("id")?,
                    priority: get::<Text<Priority>>(r, "priority")?.0,
                    status: get::<Text<CaseStatus>>(r, "status")?.0,
                    created_at: get::<Millis>(r, "created_at")?.0,
                    assigned_to: r.try_get("assigned_email")?,
                    kind: get::<Text<CaseKind>>(r, "kind")?.0,
                    screening: match get::<Option<Text<clinical::InstrumentId>>>(r, "instrument")? {
                        None => None,
                        Some(Text(instrument)) => Some(Screening {
                            instrument,
                            total: r.try_get("total")?,
                            severity: get::<Text<clinical::Severity>>(r, "severity")?.0,
                            self_harm_flag: get::<super::Flag>(r, "self_harm_flag")?.0,
                        }),
                    },
                })
            })
            .collect()
    }

    /// How many cases are open, and how many of those are urgent.
    pub async fn open_cases(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(OPEN_CASES_SQL).fetch_one(self.pool()).await?;
        // PostgreSQL's SUM of integers is BIGINT here, COUNT too.
        Ok((row.try_get("open")?, row.try_get("urgent")?))
    }

    #[tracing::instrument(skip_all)]
    pub async fn case(&self, id: i64) -> Result<Option<CaseRecord>> {
        let row = sqlx::query(CASE_SQL)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            let assigned: Option<i64> = r.try_get("assigned_to")?;
            let email: Option<String> = r.try_get("assigned_email")?;
            Ok(CaseRecord {
                id: r.try_get("id")?,
                uid: r.try_get("uid")?,
                kind: get::<Text<CaseKind>>(&r, "kind")?.0,
                result_id: r.try_get("result_id")?,
                appointment_id: r.try_get("appointment_id")?,
                priority: get::<Text<Priority>>(&r, "priority")?.0,
                status: get::<Text<CaseStatus>>(&r, "status")?.0,
                contact_sealed: r.try_get("contact")?,
                consent_version: r.try_get("consent_version")?,
                created_at: get::<Millis>(&r, "created_at")?.0,
                assigned_to: assigned.zip(email),
                version: r.try_get("version")?,
                closed_reason: get::<Option<Text<CloseReason>>>(&r, "closed_reason")?.map(|t| t.0),
                patient_id: r.try_get("patient_id")?,
            })
        })
        .transpose()
    }

    /// A case's timeline, oldest first.
    pub async fn case_events(&self, case_id: i64) -> Result<Vec<CaseEvent>> {
        let rows = sqlx::query(CASE_EVENTS_SQL)
            .bind(case_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseEvent {
                    uid: r.try_get("uid")?,
                    kind: get::<Text<EventKind>>(r, "kind")?.0,
                    detail_sealed: r.try_get("detail")?,
                    at: get::<Millis>(r, "at")?.0,
                    by: r.try_get("email")?,
                })
            })
            .collect()
    }

    /// Applies `change` if nobody changed the case since `expected_version`,
    /// with its timeline event and audit entry, all in one transaction.
    #[tracing::instrument(skip_all, fields(case_id = change.case_id))]
    pub async fn change_case(
        &self,
        change: CaseChange,
        chain: &AuditChain,
        audit_entry: AuditEntry,
    ) -> Result<ChangeOutcome> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                // $1 the time, $2 the case, $3 the version it must still be at.
                let set = match change.kind {
                    EventKind::Taken => "status = 'in_progress', assigned_to = $4",
                    EventKind::Note => "status = status",
                    EventKind::ContactAttempt => {
                        "status = CASE status WHEN 'new' THEN 'in_progress' ELSE status END"
                    }
                    EventKind::Closed => "status = 'closed', closed_reason = $4",
                    EventKind::Reopened => "status = 'in_progress', closed_reason = NULL",
                    EventKind::PatientLinked => "status = status",
                };
                let sql = format!(
                    "UPDATE triage_cases SET {set}, version = version + 1, updated_at = $1 \
                     WHERE id = $2 AND version = $3"
                );
                let query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(Millis(change.at))
                    .bind(change.case_id)
                    .bind(change.expected_version);
                let query = match change.kind {
                    EventKind::Taken => query.bind(change.user_id),
                    EventKind::Closed => query.bind(change.close_reason.map(Text)),
                    _ => query,
                };
                let done = query.execute(&mut *conn).await?;
                if done.rows_affected() == 0 {
                    let exists: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM triage_cases WHERE id = $1")
                            .bind(change.case_id)
                            .fetch_optional(&mut *conn)
                            .await?;
                    return Ok(if exists.is_some() {
                        ChangeOutcome::Stale
                    } else {
                        ChangeOutcome::Missing
                    });
                }
                sqlx::query(
                    "INSERT INTO case_events (uid, case_id, user_id, kind, detail, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(change.event_uid)
                .bind(change.case_id)
                .bind(change.user_id)
                .bind(Text(change.kind))
                .bind(change.detail_sealed)
                .bind(Millis(change.at))
                .execute(&mut *conn)
                .await?;
                audit::append(conn, backend, &chain, &audit_entry).await?;
                Ok(ChangeOutcome::Done)
            })
        })
        .await
    }
}
