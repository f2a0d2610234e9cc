//! Background work: outbox delivery, releasing the time of bookings nobody
//! confirmed, and purges of what has expired. Each job has a
//! `run_once(now)`-style function that tests drive with the time they
//! choose; `spawn` runs them with the app's clock until shutdown.

use crate::crypto::FieldCipher;
use crate::mail::Transport;
use crate::storage::Storage;
use crate::time::{Clock, after, before, days};
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long a claimed message is reserved for the worker that claimed it.
const LEASE: SignedDuration = SignedDuration::from_mins(2);
/// Messages tried per turn of the worker, so that shutdown is never held up
/// for long by a backlog.
const BATCH: usize = 50;
/// The delivery log keeps delivered and dismissed mail this long, then
/// deletes its entry. (Its content is deleted at once: see
/// `storage::outbox`.)
const KEEP_SENT_MAIL_DAYS: u32 = 30;

#[derive(Clone, Debug)]
pub struct OutboxWorker {
    pub storage: Storage,
    pub transport: Transport,
    pub from: String,
    /// Opens sealed (personal) messages.
    pub cipher: Arc<FieldCipher>,
}

impl OutboxWorker {
    /// Delivers every message due at `now`. Returns how many were sent.
    #[tracing::instrument(skip_all)]
    pub async fn run_once(&self, now: Timestamp) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let (tried, sent) = self.deliver(now, BATCH).await?;
            total += sent;
            if tried < BATCH {
                return Ok(total);
            }
        }
    }

    /// Tries at most `max` of the messages due at `now`. Returns how many
    /// were tried and how many of those were sent; a failed one is put back
    /// with a later due time.
    pub async fn deliver(&self, now: Timestamp, max: usize) -> anyhow::Result<(usize, usize)> {
        let (mut tried, mut sent) = (0, 0);
        while tried < max {
            let Some(mail) = self.storage.claim_mail(now, LEASE).await? else {
                break;
            };
            tried += 1;
            // A message that does not open never will: `is_permanent` says so.
            let sent_now = match crate::mail::open(&self.cipher, &mail) {
                Ok(envelope) => self.transport.send(&self.from, &envelope).await,
                Err(e) => Err(e.into()),
            };
            match sent_now {
                Ok(()) => {
                    self.storage.mail_sent(mail.id, now).await?;
                    sent += 1;
                }
                Err(e) => {
                    let error = crate::mail::redact_addresses(&format!("{e:#}"));
                    if crate::mail::is_permanent(&e) || mail.attempts >= MAX_ATTEMPTS {
                        tracing::error!(
                            mail_id = mail.id,
                            attempts = mail.attempts,
                            "mail delivery failed for good: {error}"
                        );
                        self.storage
                            .mail_failed_for_good(mail.id, error, now)
                            .await?;
                    } else {
                        tracing::warn!(
                            mail_id = mail.id,
                            attempts = mail.attempts,
                            "mail delivery failed, will retry: {error}"
                        );
                        self.storage
                            .mail_failed(mail.id, error, after(now, backoff(mail.attempts)))
                            .await?;
                    }
                }
            }
        }
        Ok((tried, sent))
    }
}

/// Attempts before a message is given up on: with the backoff below, about
/// a day of trying. A message given up on is shown to staff, who can retry.
const MAX_ATTEMPTS: i64 = 24;

/// 30 s, 1 min, 2 min … capped at one hour.
fn backoff(attempts: i64) -> SignedDuration {
    let exp = (attempts.clamp(1, 8) - 1) as u32;
    SignedDuration::from_secs(30 * 2i64.pow(exp)).min(SignedDuration::from_hours(1))
}

/// Releases the time of every booking held but not confirmed by `now`
/// (`booking.confirm_within` after it was made): the hold lapses, nobody is
/// mailed, no case is made. Several instances may run this at once. Returns
/// how many lapsed.
#[tracing::instrument(skip_all)]
pub async fn lapse_holds(storage: &Storage, now: Timestamp) -> anyhow::Result<u64> {
    Ok(storage.lapse_holds(now).await?)
}

/// Deletes what has expired at `now`: anonymous results nobody shared,
/// Idempotency-Keys, holds that lapsed more than a day ago (details and
/// all), the content of mail that failed for good longer ago than it can be
/// retried, and the log entries of delivered mail past their keeping time.
/// Returns how many results were deleted.
#[tracing::instrument(skip_all)]
pub async fn purge(storage: &Storage, now: Timestamp) -> anyhow::Result<u64> {
    let results = storage.purge_expired_results(now).await?;
    storage.purge_expired_idempotency_keys(now).await?;
    storage.purge_lapsed_holds(before(now, days(1))).await?;
    storage
        .forget_failed_mail(before(now, crate::storage::outbox::RETRY_WINDOW))
        .await?;
    storage
        .purge_sent_mail(before(now, days(KEEP_SENT_MAIL_DAYS)))
        .await?;
    Ok(results)
}

/// Runs the outbox worker (woken at once when mail is queued, otherwise every
/// few seconds), the release of lapsed holds on each turn (a read, unless
/// one is due) and the hourly purge until `shutdown` changes.
pub fn spawn(
    worker: OutboxWorker,
    clock: Clock,
    wake: std::sync::Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_purge: Option<Timestamp> = None;
        loop {
            let now = clock.now();
            // A batch at a time, so that a long backlog does not hold up
            // shutdown: the message in hand is finished, the rest wait.
            let more = match worker.deliver(now, BATCH).await {
                Ok((tried, _)) => tried == BATCH,
                Err(e) => {
                    tracing::error!("outbox run failed: {e:#}");
                    false
                }
            };
            if *shutdown.borrow() {
                break;
            }
            match lapse_holds(&worker.storage, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(lapsed = n, "released unconfirmed bookings"),
                Err(e) => tracing::error!("releasing unconfirmed bookings failed: {e:#}"),
            }
            if last_purge.is_none_or(|at| now.duration_since(at) > SignedDuration::from_hours(1)) {
                last_purge = Some(now);
                match purge(&worker.storage, now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "purged expired results"),
                    Err(e) => tracing::error!("purge failed: {e:#}"),
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => break,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use jiff::SignedDuration;

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff(1), SignedDuration::from_secs(30));
        assert_eq!(backoff(2), SignedDuration::from_secs(60));
        assert_eq!(backoff(3), SignedDuration::from_secs(120));
        assert_eq!(backoff(50), SignedDuration::from_hours(1));
    }
}
