//! The mail outbox: messages written in the same transaction as the change
//! they announce, then claimed and delivered by a worker.

use super::{Millis, Result, Storage};
use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

#[derive(Debug, Clone)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// A personal message, sealed whole (recipient included) and bound to
    /// its uid; the plain fields above are then empty.
    pub sealed: Option<SealedMail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMail {
    pub uid: String,
    pub sealed: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub sealed: Option<SealedMail>,
    /// Attempts so far, including this one.
    pub attempts: i64,
}

impl<'r> FromRow<'r, AnyRow> for OutboxMail {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(OutboxMail {
            id: row.try_get("id")?,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            body_text: row.try_get("body_text")?,
            body_html: row.try_get("body_html")?,
            sealed: match (row.try_get("uid")?, row.try_get("sealed")?) {
                (Some(uid), Some(sealed)) => Some(SealedMail { uid, sealed }),
                _ => None,
            },
            attempts: row.try_get("attempts")?,
        })
    }
}

/// A message as the delivery log shows it. A personal (sealed) message's
/// recipient and subject are not readable here, by design.
#[derive(Debug, Clone)]
pub struct MailLogEntry {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub personal: bool,
    pub created_at: Timestamp,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub dismissed_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// Queues `mail` on `conn`, due at once. Called inside the transaction of
/// the change the mail is about.
pub(super) async fn queue(conn: &mut AnyConnection, mail: NewMail, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, created_at, \
         next_attempt_at, uid, sealed) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
    )
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.body_text)
    .bind(mail.body_html)
    .bind(Millis(now))
    .bind(mail.sealed.as_ref().map(|s| s.uid.clone()))
    .bind(mail.sealed.map(|s| s.sealed))
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims the message due longest ago ($2 now) that nobody holds, until $1.
pub(super) fn claim_sql(backend: super::Backend) -> &'static str {
    match backend {
        super::Backend::Sqlite => {
            "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
                         AND (locked_until IS NULL OR locked_until < $2) \
                         ORDER BY next_attempt_at, id LIMIT 1) \
             RETURNING id, recipient, subject, body_text, body_html, uid, sealed, attempts"
        }
        // SKIP LOCKED: instances claiming at once each get another message.
        super::Backend::Postgres => {
            "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
                         AND (locked_until IS NULL OR locked_until < $2) \
                         ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
               AND (locked_until IS NULL OR locked_until < $2) \
             RETURNING id, recipient, subject, body_text, body_html, uid, sealed, attempts"
        }
    }
}

impl Storage {
    /// Claims the oldest message due at `now` for `lease`. Another worker (in
    /// this or another instance) will not take it until the lease runs out.
    #[tracing::instrument(skip_all)]
    pub async fn claim_mail(
        &self,
        now: Timestamp,
        lease: SignedDuration,
    ) -> Result<Option<OutboxMail>> {
        let sql = claim_sql(self.backend());
        let until = crate::time::after(now, lease);
        self.write_statement(move |conn| {
            Box::pin(async move {
                Ok(sqlx::query_as(sql)
                    .bind(Millis(until))
                    .bind(Millis(now))
                    .fetch_optional(conn)
                    .await?)
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(mail_id = id))]
    pub async fn mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE mail_outbox SET sent_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2",
                )
                .bind(Millis(now))
                .bind(id)
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(mail_id = id))]
    pub async fn mail_failed(&self, id: i64, error: String, retry_at: Timestamp) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE mail_outbox SET locked_until = NULL, last_error = $1, next_attempt_at = $2 WHERE id = $3",
                )
                .bind(error)
                .bind(Millis(retry_at))
                .bind(id)
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Gives up on a message: the server refused it for good, or retries
    /// ran out. It stays (for the delivery log and the portal's alert) until
    /// someone retries or dismisses it.
    #[tracing::instrument(skip_all, fields(mail_id = id))]
    pub async fn mail_failed_for_good(&self, id: i64, error: String, now: Timestamp) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE mail_outbox SET locked_until = NULL, last_error = $1, failed_at = $2 WHERE id = $3",
                )
                .bind(error)
                .bind(Millis(now))
                .bind(id)
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// The newest `limit` messages from `before_id` down, for the delivery
    /// log.
    pub async fn mail_log(&self, before_id: i64, limit: i64) -> Result<Vec<MailLogEntry>> {
        let rows = sqlx::query(
            "SELECT id, recipient, subject, CAST(CASE WHEN sealed IS NULL THEN 0 ELSE 1 END AS BIGINT) AS personal, created_at, attempts, \
             next_attempt_at, sent_at, failed_at, dismissed_at, last_error FROM mail_outbox \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailLogEntry {
                    id: r.try_get("id")?,
                    recipient: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    personal: super::get::<super::Flag>(r, "personal")?.0,
                    created_at: super::get::<Millis>(r, "created_at")?.0,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: super::get::<Millis>(r, "next_attempt_at")?.0,
                    sent_at: super::get::<Option<Millis>>(r, "sent_at")?.map(|m| m.0),
                    failed_at: super::get::<Option<Millis>>(r, "failed_at")?.map(|m| m.0),
                    dismissed_at: super::get::<Option<Millis>>(r, "dismissed_at")?.map(|m| m.0),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// How many messages failed for good and are not dismissed.
    pub async fn failed_mail(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM mail_outbox WHERE failed_at IS NOT NULL AND dismissed_at IS NULL",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Sends a failed message again from now, with fresh retries.
    pub async fn retry_mail(&self, id: i64, now: Timestamp) -> Result<bool> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET failed_at = NULL, dismissed_at = NULL, attempts = 0, \
                     next_attempt_at = $1 WHERE id = $2 AND failed_at IS NOT NULL",
                )
                .bind(Millis(now))
                .bind(id)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    /// Takes a failed message off the portal's alert (it stays in the log).
    pub async fn dismiss_mail(&self, id: i64, now: Timestamp) -> Result<bool> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET dismissed_at = $1 WHERE id = $2 AND failed_at IS NOT NULL \
                     AND dismissed_at IS NULL",
                )
                .bind(Millis(now))
                .bind(id)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    /// Deletes delivered mail sent before `sent_before`. Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_sent_mail(&self, sent_before: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM mail_outbox WHERE (sent_at IS NOT NULL AND sent_at < $1) \
                     OR (dismissed_at IS NOT NULL AND dismissed_at < $1)",
                )
                .bind(Millis(sent_before))
                .execute(conn)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
