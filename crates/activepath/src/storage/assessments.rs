//! Anonymous self-assessment results.

use super::{Flag, Millis, Result, Storage, Text, TextEnum, get};
use clinical::{InstrumentId, Severity};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

/// Where a result was submitted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Web,
    Api,
}

impl TextEnum for Source {
    fn as_text(self) -> &'static str {
        match self {
            Source::Web => "web",
            Source::Api => "api",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        match text {
            "web" => Some(Source::Web),
            "api" => Some(Source::Api),
            _ => None,
        }
    }
}

/// A result to store.
#[derive(Debug, Clone)]
pub struct NewResult {
    /// Keyed digest of the result's token.
    pub token_hash: String,
    /// Keyed digest of the submission, unique: the same submission twice
    /// finds the first result.
    pub submission_key: String,
    pub instrument: InstrumentId,
    pub instrument_version: String,
    /// The answers, sealed and bound to `token_hash`.
    pub answers_sealed: Vec<u8>,
    pub total: u8,
    pub severity: Severity,
    pub self_harm_flag: bool,
    pub source: Source,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct StoredResult {
    pub id: i64,
    pub token_hash: String,
    pub instrument: InstrumentId,
    pub instrument_version: String,
    pub answers_sealed: Vec<u8>,
    pub total: i64,
    pub severity: Severity,
    pub self_harm_flag: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// When the person shared it with the clinic, if they did.
    pub shared_at: Option<Timestamp>,
}

impl<'r> FromRow<'r, AnyRow> for StoredResult {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(StoredResult {
            id: row.try_get("id")?,
            token_hash: row.try_get("token_hash")?,
            instrument: get::<Text<InstrumentId>>(row, "instrument")?.0,
            instrument_version: row.try_get("instrument_version")?,
            answers_sealed: row.try_get("answers")?,
            total: row.try_get("total")?,
            severity: get::<Text<Severity>>(row, "severity")?.0,
            self_harm_flag: get::<Flag>(row, "self_harm_flag")?.0,
            created_at: get::<Millis>(row, "created_at")?.0,
            expires_at: get::<Millis>(row, "expires_at")?.0,
            shared_at: get::<Option<Millis>>(row, "shared_at")?.map(|m| m.0),
        })
    }
}

/// The columns of a [`StoredResult`]; a macro so that `concat!` can add the
/// condition.
macro_rules! select_result {
    () => {
        "SELECT r.id, r.token_hash, r.instrument, r.instrument_version, r.answers, r.total, \
         r.severity, r.self_harm_flag, r.created_at, r.expires_at, t.created_at AS shared_at \
         FROM assessment_results r LEFT JOIN triage_cases t ON t.result_id = r.id"
    };
}

/// Inserts `r` on `conn`, returning its id. A submission stored before is
/// `Err(Conflict(ResultSubmission))`.
pub(super) async fn insert(conn: &mut AnyConnection, r: NewResult) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO assessment_results \
         (token_hash, submission_key, instrument, instrument_version, answers, total, \
          severity, self_harm_flag, source, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(r.token_hash)
    .bind(r.submission_key)
    .bind(Text(r.instrument))
    .bind(r.instrument_version)
    .bind(r.answers_sealed)
    .bind(i64::from(r.total))
    .bind(Text(r.severity))
    .bind(Flag(r.self_harm_flag))
    .bind(Text(r.source))
    .bind(Millis(r.created_at))
    .bind(Millis(r.expires_at))
    .fetch_one(conn)
    .await?;
    Ok(id)
}

impl Storage {
    /// Stores a result durably and returns its id. The same submission
    /// stored before is `Err(StorageError::Conflict(Constraint::ResultSubmission))`.
    #[tracing::instrument(skip_all)]
    pub async fn insert_result(&self, r: NewResult) -> Result<i64> {
        self.write_statement(move |conn| Box::pin(insert(conn, r)))
            .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn result_by_token_hash(&self, token_hash: &str) -> Result<Option<StoredResult>> {
        Ok(
            sqlx::query_as(concat!(select_result!(), " WHERE r.token_hash = $1"))
                .bind(token_hash.to_string())
                .fetch_optional(self.pool())
                .await?,
        )
    }

    #[tracing::instrument(skip_all)]
    pub async fn result_by_id(&self, id: i64) -> Result<Option<StoredResult>> {
        Ok(
            sqlx::query_as(concat!(select_result!(), " WHERE r.id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Deletes anonymous results past their expiry that nobody shared (a
    /// shared result belongs to the clinic's record). Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_results(&self, now: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM assessment_results WHERE expires_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM triage_cases t WHERE t.result_id = assessment_results.id)",
                )
                .bind(Millis(now))
                .execute(conn)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
