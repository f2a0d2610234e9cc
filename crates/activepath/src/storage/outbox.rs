//! The mail outbox: messages written in the same transaction as the change
//! they announce, then claimed and delivered by a worker.
//!
//! Every message is sealed whole (recipient, subject, bodies, calendar),
//! bound to its row's uid: a copy of the database holds no working link and
//! no address. What stays readable is what the delivery log needs: the
//! message's [`MailKind`], a masked recipient, its state and times. The
//! sealed content is deleted as soon as the message is delivered or
//! dismissed, and [`RETRY_WINDOW`] after it failed for good.

use super::audit::{self, AuditEntry};
use super::{Millis, Result, Storage, Text, TextEnum, get};
use crate::crypto::AuditChain;
use jiff::{SignedDuration, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

/// How long a message that failed for good keeps its sealed content, so that
/// staff can send it again once the cause is fixed (a mail server down over
/// a long weekend, a wrong setting). After that only its log entry is left.
pub const RETRY_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// What a message is, from a fixed set: all the delivery log says about
/// what it was, since subjects and bodies are sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A link to join the staff portal.
    StaffInvite,
    /// A link to choose a new staff password.
    PasswordReset,
    /// A patient's check-in link.
    CheckIn,
    /// To a person who booked on the site or through the API: the link that
    /// confirms the booking, which holds its time until then.
    BookingHold,
    /// To a person who booked: booked, with the invitation.
    BookingConfirmation,
    /// To a person who booked: their appointment moved.
    BookingChange,
    /// To a person who booked: their appointment was cancelled.
    BookingCancellation,
    /// To a person who booked: the reminder before the appointment.
    BookingReminder,
    /// To the clinic's own address: something arrived (a shared result, a
    /// message, a booking, a course alert), naming no one.
    ClinicNotification,
    /// To administrators and medical directors: a staff account asked for
    /// or approved.
    StaffAccess,
    /// Queued before kinds were recorded (migration 0017).
    Unrecorded,
}

impl MailKind {
    pub const ALL: [MailKind; 11] = [
        MailKind::StaffInvite,
        MailKind::PasswordReset,
        MailKind::CheckIn,
        MailKind::BookingHold,
        MailKind::BookingConfirmation,
        MailKind::BookingChange,
        MailKind::BookingCancellation,
        MailKind::BookingReminder,
        MailKind::ClinicNotification,
        MailKind::StaffAccess,
        MailKind::Unrecorded,
    ];
}

impl TextEnum for MailKind {
    fn as_text(self) -> &'static str {
        match self {
            MailKind::StaffInvite => "staff-invite",
            MailKind::PasswordReset => "password-reset",
            MailKind::CheckIn => "check-in",
            MailKind::BookingHold => "booking-hold",
            MailKind::BookingConfirmation => "booking-confirmation",
            MailKind::BookingChange => "booking-change",
            MailKind::BookingCancellation => "booking-cancellation",
            MailKind::BookingReminder => "booking-reminder",
            MailKind::ClinicNotification => "clinic-notification",
            MailKind::StaffAccess => "staff-access",
            MailKind::Unrecorded => "unrecorded",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        MailKind::ALL.into_iter().find(|k| k.as_text() == text)
    }
}

/// A message ready to be queued. Only `mail::seal` makes one, so nothing
/// can be queued in the clear.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub(crate) kind: MailKind,
    /// The recipient as the log shows it, e.g. `j…@e….com`.
    pub(crate) recipient_hint: String,
    pub(crate) sealed: SealedMail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMail {
    pub uid: String,
    pub sealed: Vec<u8>,
}

/// A message claimed for delivery.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub id: i64,
    /// `None` when its content is gone (it should not have been claimable).
    pub sealed: Option<SealedMail>,
    /// Attempts so far, including this one.
    pub attempts: i64,
}

impl<'r> FromRow<'r, AnyRow> for OutboxMail {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(OutboxMail {
            id: row.try_get("id")?,
            sealed: match (row.try_get("uid")?, row.try_get("sealed")?) {
                (Some(uid), Some(sealed)) => Some(SealedMail { uid, sealed }),
                _ => None,
            },
            attempts: row.try_get("attempts")?,
        })
    }
}

/// A message as the delivery log shows it: what kind, to whom (masked),
/// and how delivery went. Its subject and content are not readable here.
#[derive(Debug, Clone)]
pub struct MailLogEntry {
    pub id: i64,
    pub kind: MailKind,
    pub recipient_hint: String,
    pub created_at: Timestamp,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub dismissed_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Whether it still has its content, so it can be sent again.
    pub has_content: bool,
}

/// A message queued before migration 0017 in plain columns, for the
/// one-time upgrade that seals it.
#[derive(Debug, Clone)]
pub struct PlainMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
}

/// Queues `mail` on `conn`, due at once. Called inside the transaction of
/// the change the mail is about. The plain columns of the first outbox
/// (recipient, subject, bodies) stay empty.
pub(super) async fn queue(conn: &mut AnyConnection, mail: NewMail, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, created_at, \
         next_attempt_at, uid, sealed, kind, recipient_hint) \
         VALUES ('', '', '', '', $1, $1, $2, $3, $4, $5)",
    )
    .bind(Millis(now))
    .bind(mail.sealed.uid)
    .bind(mail.sealed.sealed)
    .bind(Text(mail.kind))
    .bind(mail.recipient_hint)
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
             RETURNING id, uid, sealed, attempts"
        }
        // SKIP LOCKED: instances claiming at once each get another message.
        super::Backend::Postgres => {
            "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
                         AND (locked_until IS NULL OR locked_until < $2) \
                         ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
               AND (locked_until IS NULL OR locked_until < $2) \
             RETURNING id, uid, sealed, attempts"
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

    /// Marks a message delivered and deletes its sealed content: what was
    /// sent is the recipient's now, and the log keeps only kind, masked
    /// recipient and times.
    #[tracing::instrument(skip_all, fields(mail_id = id))]
    pub async fn mail_sent(&self, id: i64, now: Timestamp) -> Result<()> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE mail_outbox SET sent_at = $1, locked_until = NULL, last_error = NULL, \
                     uid = NULL, sealed = NULL WHERE id = $2",
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
    /// someone retries or dismisses it; its content for [`RETRY_WINDOW`].
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
            "SELECT id, kind, recipient_hint, \
             CAST(CASE WHEN sealed IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_content, \
             created_at, attempts, next_attempt_at, sent_at, failed_at, dismissed_at, last_error \
             FROM mail_outbox WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailLogEntry {
                    id: r.try_get("id")?,
                    kind: get::<Text<MailKind>>(r, "kind")?.0,
                    recipient_hint: r.try_get("recipient_hint")?,
                    created_at: get::<Millis>(r, "created_at")?.0,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: get::<Millis>(r, "next_attempt_at")?.0,
                    sent_at: get::<Option<Millis>>(r, "sent_at")?.map(|m| m.0),
                    failed_at: get::<Option<Millis>>(r, "failed_at")?.map(|m| m.0),
                    dismissed_at: get::<Option<Millis>>(r, "dismissed_at")?.map(|m| m.0),
                    last_error: r.try_get("last_error")?,
                    has_content: get::<super::Flag>(r, "has_content")?.0,
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

    /// Sends a failed message again from now, with fresh retries, and
    /// records who did, in one transaction. False when there is no such
    /// failed message or its content is gone.
    pub async fn retry_mail(
        &self,
        id: i64,
        now: Timestamp,
        chain: &AuditChain,
        entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET failed_at = NULL, dismissed_at = NULL, attempts = 0, \
                     next_attempt_at = $1 WHERE id = $2 AND failed_at IS NOT NULL AND sealed IS NOT NULL",
                )
                .bind(Millis(now))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Gives up on a failed message for good: it leaves the portal's alert,
    /// its content is deleted, its log entry stays. Recorded with who did it,
    /// in one transaction.
    pub async fn dismiss_mail(
        &self,
        id: i64,
        now: Timestamp,
        chain: &AuditChain,
        entry: AuditEntry,
    ) -> Result<bool> {
        let (backend, chain) = (self.backend(), chain.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET dismissed_at = $1, uid = NULL, sealed = NULL \
                     WHERE id = $2 AND failed_at IS NOT NULL AND dismissed_at IS NULL",
                )
                .bind(Millis(now))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                audit::append(conn, backend, &chain, &entry).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Deletes the content of messages that failed for good before
    /// `failed_before` (they can no longer be sent again). Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn forget_failed_mail(&self, failed_before: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE mail_outbox SET uid = NULL, sealed = NULL \
                     WHERE failed_at IS NOT NULL AND failed_at < $1 AND dismissed_at IS NULL \
                     AND sealed IS NOT NULL",
                )
                .bind(Millis(failed_before))
                .execute(conn)
                .await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// Deletes the log entries of mail delivered or dismissed before
    /// `sent_before`. Returns how many.
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

    /// The one-time upgrade of migration 0017, recorded as `name`: every
    /// message still held in the plain columns is handed to `seal` (which
    /// holds the key) and stored as it returns it, sealed with its masked
    /// recipient, the plain columns emptied. Returns how many were sealed,
    /// or `None` when the upgrade ran before.
    ///
    /// Old values linger in pages the database has freed; when the outbox
    /// held anything, the database is compacted afterwards so that a copy
    /// of the file does not carry them.
    #[tracing::instrument(skip_all, fields(upgrade = name))]
    pub async fn seal_plain_mail(
        &self,
        name: &'static str,
        seal: impl Fn(&PlainMail) -> (String, SealedMail) + Send + 'static,
    ) -> Result<Option<usize>> {
        let now = Millis(Timestamp::now());
        let ran = self
            .write(move |conn| {
                Box::pin(async move {
                    if !super::data_migrations::claim(conn, name, now).await? {
                        return Ok(None);
                    }
                    let rows = sqlx::query(
                        "SELECT id, recipient, subject, body_text, body_html FROM mail_outbox \
                         WHERE sealed IS NULL AND (recipient <> '' OR subject <> '' \
                         OR body_text <> '' OR body_html <> '') ORDER BY id",
                    )
                    .fetch_all(&mut *conn)
                    .await?;
                    let plain = rows
                        .iter()
                        .map(|r| {
                            Ok(PlainMail {
                                id: r.try_get("id")?,
                                recipient: r.try_get("recipient")?,
                                subject: r.try_get("subject")?,
                                body_text: r.try_get("body_text")?,
                                body_html: r.try_get("body_html")?,
                            })
                        })
                        .collect::<sqlx::Result<Vec<_>>>()?;
                    for mail in &plain {
                        let (hint, sealed) = seal(mail);
                        sqlx::query(
                            "UPDATE mail_outbox SET recipient = '', subject = '', body_text = '', \
                             body_html = '', recipient_hint = $1, uid = $2, sealed = $3 WHERE id = $4",
                        )
                        .bind(hint)
                        .bind(sealed.uid)
                        .bind(sealed.sealed)
                        .bind(mail.id)
                        .execute(&mut *conn)
                        .await?;
                    }
                    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox")
                        .fetch_one(&mut *conn)
                        .await?;
                    Ok(Some((plain.len(), held > 0)))
                })
            })
            .await?;
        let Some((sealed, held)) = ran else {
            return Ok(None);
        };
        if held {
            self.compact_outbox().await?;
        }
        Ok(Some(sealed))
    }

    /// Rewrites the outbox's storage so that no freed page keeps an old
    /// value: SQLite's whole file (then its write-ahead log emptied),
    /// PostgreSQL's table.
    async fn compact_outbox(&self) -> Result<()> {
        let sql = match self.backend() {
            super::Backend::Sqlite => "VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
            super::Backend::Postgres => "VACUUM FULL mail_outbox",
        };
        sqlx::raw_sql(sql).execute(self.pool()).await?;
        Ok(())
    }
}
