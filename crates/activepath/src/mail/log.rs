//! The delivery log as staff who watch mail use it: each message's kind,
//! masked recipient and how delivery went, never what it said. Every look
//! at the log, and every retry and dismissal, goes into the audit trail.

use crate::app::Services;
use crate::staff::{Actor, Error};
use crate::storage::outbox::MailLogEntry;

/// The newest `limit` messages older than the message `before` (all when
/// `None`), the look recorded first.
pub async fn entries(
    s: &Services,
    actor: &Actor,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<MailLogEntry>, Error> {
    let page = before.map(|id| id.to_string()).unwrap_or_default();
    crate::staff::audit::seen(s, actor.did("view", "mail_log", page, s.clock.now())).await?;
    Ok(s.storage
        .mail_log(before.unwrap_or(i64::MAX), limit)
        .await?)
}

/// Sends a message that failed for good again, from now, with fresh
/// retries; recorded with the change. False when there is no such failed
/// message, or its content is gone (dismissed, or older than
/// [`RETRY_WINDOW`](crate::storage::outbox::RETRY_WINDOW)).
pub async fn retry(s: &Services, actor: &Actor, id: i64) -> Result<bool, Error> {
    let now = s.clock.now();
    let done = s
        .storage
        .retry_mail(
            id,
            now,
            &s.cipher.audit_chain(),
            actor.did("retry", "mail_outbox", id, now),
        )
        .await?;
    if done {
        s.mail_wake.notify_one();
    }
    Ok(done)
}

/// Gives up on a message that failed for good: off the portal's alert, its
/// content deleted, its log entry kept; recorded with the change. False
/// when there is no such message still on the alert.
pub async fn dismiss(s: &Services, actor: &Actor, id: i64) -> Result<bool, Error> {
    let now = s.clock.now();
    Ok(s.storage
        .dismiss_mail(
            id,
            now,
            &s.cipher.audit_chain(),
            actor.did("dismiss", "mail_outbox", id, now),
        )
        .await?)
}
