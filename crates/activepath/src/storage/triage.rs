//! Triage cases: what the clinic's staff act on, highest priority first.

use super::outbox::{self, NewMail};
use super::{Constraint, Millis, Result, Storage, StorageError, Text, TextEnum, get};
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

#[derive(Debug, Clone)]
pub struct NewTriageCase {
    /// A stable identifier, made by the application; the sealed contact
    /// details are bound to it.
    pub uid: String,
    pub result_id: i64,
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
    pub result_id: i64,
    pub priority: Priority,
    pub created_at: Timestamp,
}

impl Storage {
    /// Creates the triage case and queues the clinic's notification in one
    /// transaction: both are stored, or neither.
    #[tracing::instrument(skip_all)]
    pub async fn share_result(&self, case: NewTriageCase, mail: NewMail) -> Result<ShareOutcome> {
        let outcome = self
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO triage_cases (uid, result_id, priority, contact, consent_version, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(case.uid)
                    .bind(case.result_id)
                    .bind(Text(case.priority))
                    .bind(case.contact_sealed)
                    .bind(case.consent_version)
                    .bind(Millis(case.created_at))
                    .execute(&mut *conn)
                    .await?;
                    outbox::queue(conn, mail, case.created_at).await
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

    /// The open triage cases, highest priority first, then oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn triage_queue(&self) -> Result<Vec<TriageSummary>> {
        let rows = sqlx::query(
            "SELECT uid, result_id, priority, created_at FROM triage_cases WHERE status <> 'closed' \
             ORDER BY CASE priority WHEN 'urgent' THEN 0 ELSE 1 END, created_at, id",
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
