//! Storage: the only module that knows SQL or driver types.
//!
//! One interface, two real backends chosen from the URL scheme: SQLite (the
//! default, a single file) and PostgreSQL (for several app instances). Queries
//! are written once in portable SQL through sqlx's `Any` driver, with `$n`
//! placeholders (both backends accept them); where the dialects differ the
//! code branches on [`Backend`] explicitly.

mod migrations;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{Executor, Row};
use std::time::Duration;

pub use migrations::MIGRATIONS;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Storage {
    pool: AnyPool,
    backend: Backend,
}

/// A result to store. Times are UTC milliseconds since the epoch.
#[derive(Debug)]
pub struct NewResult<'a> {
    pub token_hash: &'a str,
    pub submission_key: &'a str,
    pub instrument: &'a str,
    pub instrument_version: &'a str,
    pub answers_sealed: &'a [u8],
    pub total: i64,
    pub severity: &'a str,
    pub self_harm_flag: bool,
    pub source: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The same submission was stored before; nothing was written.
    Existing,
}

#[derive(Debug, Clone)]
pub struct StoredResult {
    pub id: i64,
    pub instrument: String,
    pub instrument_version: String,
    pub answers_sealed: Vec<u8>,
    pub total: i64,
    pub severity: String,
    pub self_harm_flag: bool,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the person shared it with the clinic, if they did.
    pub shared_at: Option<i64>,
}

#[derive(Debug)]
pub struct NewTriageCase<'a> {
    pub result_id: i64,
    pub urgent: bool,
    pub contact_sealed: &'a [u8],
    pub consent_version: &'a str,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    Created,
    AlreadyShared,
}

#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// Attempts so far, including this one.
    pub attempts: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub results: i64,
    pub triage_cases: i64,
    pub outbox: i64,
    pub outbox_sent: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriageSummary {
    pub result_id: i64,
    pub urgent: bool,
}

impl Storage {
    /// Connects to `url` (`sqlite:…` or `postgres://…`).
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    // One file, one writer at a time: a small pool avoids
                    // lock contention; WAL lets readers run beside the writer.
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // FULL: a commit is on disk before we answer, so an
                            // acknowledged result survives a crash or power cut.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(url).await?,
        };
        Ok(Storage { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<()> {
        migrations::migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The value sealed with the master key when this database was first
    /// used; `None` on a new database.
    pub async fn key_check(&self) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT sealed FROM key_check WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("sealed")).transpose()?)
    }

    /// Records the key check value unless another instance did first.
    pub async fn set_key_check(&self, sealed: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a result unless the same submission is already stored.
    pub async fn insert_result(&self, r: &NewResult<'_>) -> Result<Inserted> {
        let done = sqlx::query(
            "INSERT INTO assessment_results \
             (token_hash, submission_key, instrument, instrument_version, answers, total, \
              severity, self_harm_flag, source, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (submission_key) DO NOTHING",
        )
        .bind(r.token_hash)
        .bind(r.submission_key)
        .bind(r.instrument)
        .bind(r.instrument_version)
        .bind(r.answers_sealed)
        .bind(r.total)
        .bind(r.severity)
        .bind(i64::from(r.self_harm_flag))
        .bind(r.source)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(if done.rows_affected() == 1 {
            Inserted::New
        } else {
            Inserted::Existing
        })
    }

    pub async fn result_by_token_hash(&self, token_hash: &str) -> Result<Option<StoredResult>> {
        let row = sqlx::query(
            "SELECT r.id, r.instrument, r.instrument_version, r.answers, r.total, r.severity, \
                    r.self_harm_flag, r.created_at, r.expires_at, t.created_at AS shared_at \
             FROM assessment_results r LEFT JOIN triage_cases t ON t.result_id = r.id \
             WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(StoredResult {
                id: row.try_get("id")?,
                instrument: row.try_get("instrument")?,
                instrument_version: row.try_get("instrument_version")?,
                answers_sealed: row.try_get("answers")?,
                total: row.try_get("total")?,
                severity: row.try_get("severity")?,
                self_harm_flag: row.try_get::<i64, _>("self_harm_flag")? != 0,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                shared_at: row.try_get("shared_at")?,
            })
        })
        .transpose()
    }

    /// Creates the triage case and queues the clinic's notification in one
    /// transaction: both are stored, or neither.
    pub async fn share_result(
        &self,
        case: &NewTriageCase<'_>,
        mail: &NewMail<'_>,
    ) -> Result<Shared> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO triage_cases (result_id, priority, contact, consent_version, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (result_id) DO NOTHING",
        )
        .bind(case.result_id)
        .bind(if case.urgent { "urgent" } else { "routine" })
        .bind(case.contact_sealed)
        .bind(case.consent_version)
        .bind(case.created_at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(Shared::AlreadyShared);
        }
        sqlx::query(
            "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(mail.recipient)
        .bind(mail.subject)
        .bind(mail.body_text)
        .bind(mail.body_html)
        .bind(case.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Shared::Created)
    }

    /// The triage cases, highest priority first, then oldest first.
    pub async fn triage_queue(&self) -> Result<Vec<TriageSummary>> {
        let rows = sqlx::query(
            "SELECT result_id, priority FROM triage_cases WHERE status <> 'closed' \
             ORDER BY CASE priority WHEN 'urgent' THEN 0 ELSE 1 END, created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(TriageSummary {
                    result_id: row.try_get("result_id")?,
                    urgent: row.try_get::<String, _>("priority")? == "urgent",
                })
            })
            .collect()
    }

    /// The sealed contact details of the case made from a result.
    pub async fn triage_contact(&self, result_id: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT contact FROM triage_cases WHERE result_id = $1")
            .bind(result_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("contact")).transpose()?)
    }

    /// Claims the oldest due message for `lease_ms`. Another worker (in this
    /// or another instance) will not take it until the lease runs out.
    pub async fn claim_mail(&self, now: i64, lease_ms: i64) -> Result<Option<OutboxMail>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
                             AND (locked_until IS NULL OR locked_until < $2) ORDER BY id LIMIT 1) \
                 RETURNING id, recipient, subject, body_text, body_html, attempts"
            }
            Backend::Postgres => {
                "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
                             AND (locked_until IS NULL OR locked_until < $2) ORDER BY id LIMIT 1 \
                             FOR UPDATE SKIP LOCKED) \
                   AND (locked_until IS NULL OR locked_until < $2) \
                 RETURNING id, recipient, subject, body_text, body_html, attempts"
            }
        };
        let row = sqlx::query(sql)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(OutboxMail {
                id: row.try_get("id")?,
                recipient: row.try_get("recipient")?,
                subject: row.try_get("subject")?,
                body_text: row.try_get("body_text")?,
                body_html: row.try_get("body_html")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .transpose()
    }

    pub async fn mail_sent(&self, id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE mail_outbox SET sent_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mail_failed(&self, id: i64, error: &str, retry_at: i64) -> Result<()> {
        sqlx::query("UPDATE mail_outbox SET locked_until = NULL, last_error = $1, next_attempt_at = $2 WHERE id = $3")
            .bind(error)
            .bind(retry_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes anonymous results past their expiry that nobody shared (a
    /// shared result belongs to the clinic's record), and delivered mail
    /// older than `sent_before`. Returns the number of results deleted.
    pub async fn purge(&self, now: i64, sent_before: i64) -> Result<u64> {
        let results = sqlx::query(
            "DELETE FROM assessment_results WHERE expires_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM triage_cases t WHERE t.result_id = assessment_results.id)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM mail_outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(sent_before)
            .execute(&self.pool)
            .await?;
        Ok(results.rows_affected())
    }

    pub async fn counts(&self) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM assessment_results) AS results, \
                    (SELECT COUNT(*) FROM triage_cases) AS cases, \
                    (SELECT COUNT(*) FROM mail_outbox) AS outbox, \
                    (SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NOT NULL) AS sent",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Counts {
            results: row.try_get("results")?,
            triage_cases: row.try_get("cases")?,
            outbox: row.try_get("outbox")?,
            outbox_sent: row.try_get("sent")?,
        })
    }
}
