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
             WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
                         AND (locked_until IS NULL OR locked_until < $2) \
                         ORDER BY next_attempt_at, id LIMIT 1) \
             RETURNING id, recipient, subject, body_text, body_html, uid, sealed, attempts"
        }
        // SKIP LOCKED: instances claiming at once each get another message.
        super::Backend::Postgres => {
            "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 \
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

    /// Deletes delivered mail sent before `sent_before`. Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn purge_sent_mail(&self, sent_before: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM mail_outbox WHERE sent_at IS NOT NULL AND sent_at < $1",
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
