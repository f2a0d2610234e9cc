//! Background work: outbox delivery and purging expired results. Each job
//! has a `run_once` for tests; `spawn` runs them until shutdown.

use crate::mail::{Envelope, Transport};
use crate::storage::Storage;
use crate::time::now_ms;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long a claimed message is reserved for the worker that claimed it.
const LEASE_MS: i64 = 120_000;

#[derive(Clone, Debug)]
pub struct OutboxWorker {
    pub storage: Storage,
    pub transport: Transport,
    pub from: String,
}

impl OutboxWorker {
    /// Delivers every message that is due. Returns how many were sent.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let mut sent = 0;
        while let Some(mail) = self.storage.claim_mail(now_ms(), LEASE_MS).await? {
            let envelope = Envelope {
                to: mail.recipient.clone(),
                subject: mail.subject.clone(),
                text: mail.body_text.clone(),
                html: mail.body_html.clone(),
            };
            match self.transport.send(&self.from, &envelope).await {
                Ok(()) => {
                    self.storage.mail_sent(mail.id, now_ms()).await?;
                    sent += 1;
                }
                Err(e) => {
                    let retry_at = now_ms() + backoff_ms(mail.attempts);
                    tracing::warn!(
                        mail_id = mail.id,
                        attempts = mail.attempts,
                        "mail delivery failed, will retry: {e:#}"
                    );
                    self.storage
                        .mail_failed(mail.id, &format!("{e:#}"), retry_at)
                        .await?;
                }
            }
        }
        Ok(sent)
    }
}

/// 30 s, 1 min, 2 min … capped at one hour; delivery is never abandoned.
fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 8) - 1;
    (30_000i64 << exp).min(3_600_000)
}

/// Runs the outbox worker (woken at once when mail is queued, otherwise every
/// few seconds) and the hourly purge until `shutdown` changes.
pub fn spawn(
    worker: OutboxWorker,
    wake: std::sync::Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_purge = 0i64;
        loop {
            if let Err(e) = worker.run_once().await {
                tracing::error!("outbox run failed: {e:#}");
            }
            let now = now_ms();
            if now - last_purge > 3_600_000 {
                last_purge = now;
                match worker.storage.purge(now, now - 30 * 86_400_000).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "purged expired results"),
                    Err(e) => tracing::error!("purge failed: {e:#}"),
                }
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
    use super::backoff_ms;

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(3), 120_000);
        assert_eq!(backoff_ms(50), 3_600_000);
    }
}
