//! Outbox delivery over real SMTP, to a minimal SMTP server in the test, and
//! retries after a failed delivery.

use crate::helpers::{fresh_database_url, test_config};
use activepath::config::{Smtp, SmtpSecurity};
use activepath::jobs::OutboxWorker;
use activepath::mail::Transport;
use activepath::storage::Storage;
use activepath::storage::assessments::{NewResult, Source};
use activepath::storage::outbox::NewMail;
use activepath::storage::triage::{NewTriageCase, Priority};
use jiff::Timestamp;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Accepts SMTP sessions; the first `reject` messages get a temporary
/// failure at DATA, later ones are kept.
async fn smtp_sink(reject: usize) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let rejected = Arc::new(AtomicUsize::new(0));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (store, rejected) = (store.clone(), rejected.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" if rejected.fetch_add(1, Ordering::SeqCst) < reject => {
                            b"451 try again later\r\n"
                        }
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut message = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                message.push_str(&l);
                                message.push('\n');
                            }
                            store.lock().unwrap().push(message);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

fn smtp(port: u16) -> Smtp {
    Smtp {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        password_file: None,
        security: SmtpSecurity::None,
    }
}

/// A migrated database with no app running, so no other worker competes.
async fn bare_storage(dir: &std::path::Path) -> Storage {
    let url = fresh_database_url()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("mail.db").display()));
    let storage = Storage::connect(&url).await.unwrap();
    storage.migrate().await.unwrap();
    storage
}

/// Queues one clinic notification the way sharing a result does.
async fn queue_notification(storage: &Storage, key: &str, now: Timestamp) {
    let result_id = storage
        .insert_result(NewResult {
            token_hash: key.into(),
            submission_key: key.into(),
            instrument: clinical::InstrumentId::Phq9,
            instrument_version: "phq9/en-US/1".into(),
            answers_sealed: vec![0],
            total: 0,
            severity: clinical::Severity::NoneMinimal,
            self_harm_flag: false,
            source: Source::Api,
            created_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(1),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None);
    let mail = activepath::mail::new_share_notification(&config, false);
    storage
        .share_result(
            NewTriageCase {
                uid: key.into(),
                kind: activepath::storage::triage::CaseKind::Assessment,
                result_id: Some(result_id),
                priority: Priority::Routine,
                contact_sealed: vec![1],
                consent_version: "test".into(),
                created_at: now,
            },
            NewMail {
                recipient: "care@riverbend.example".into(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: mail.html,
                sealed: None,
            },
        )
        .await
        .unwrap();
}

fn smtp_worker(storage: &Storage, port: u16) -> OutboxWorker {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.mail.smtp = Some(smtp(port));
    OutboxWorker {
        storage: storage.clone(),
        transport: Transport::from_config(&config).unwrap(),
        from: config.mail.from,
        cipher: std::sync::Arc::new(activepath::crypto::FieldCipher::new(
            &activepath::crypto::MasterKey::generate(),
        )),
    }
}

#[tokio::test]
async fn the_outbox_delivers_over_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let storage = bare_storage(dir.path()).await;
    let now = Timestamp::now();
    queue_notification(&storage, "smtp-1", now).await;
    let (port, received) = smtp_sink(0).await;
    assert_eq!(smtp_worker(&storage, port).run_once(now).await.unwrap(), 1);
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("To: care@riverbend.example"));
    assert!(messages[0].contains("A new self-assessment was shared"));
    let counts = storage.counts().await.unwrap();
    assert_eq!((counts.outbox, counts.outbox_sent), (1, 1));
    // Nothing is sent twice.
    assert_eq!(smtp_worker(&storage, port).run_once(now).await.unwrap(), 0);
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_delivery_is_kept_and_retried_by_the_worker_after_a_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let storage = bare_storage(dir.path()).await;
    let start = Timestamp::now();
    queue_notification(&storage, "smtp-2", start).await;
    let (port, received) = smtp_sink(1).await;
    let worker = smtp_worker(&storage, port);
    assert_eq!(
        worker.run_once(start).await.unwrap(),
        0,
        "the server refuses the first attempt"
    );
    let counts = storage.counts().await.unwrap();
    assert_eq!(
        (counts.outbox, counts.outbox_sent),
        (1, 0),
        "the message is kept, unsent"
    );
    let at = |secs| start + jiff::SignedDuration::from_secs(secs);
    assert_eq!(
        worker.run_once(at(29)).await.unwrap(),
        0,
        "not due again before the 30 s backoff"
    );
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(worker.run_once(at(31)).await.unwrap(), 1, "due after 30 s");
    assert_eq!(received.lock().unwrap().len(), 1);
    assert_eq!(storage.counts().await.unwrap().outbox_sent, 1);
    assert_eq!(
        worker.run_once(at(3600)).await.unwrap(),
        0,
        "sent once only"
    );
}

#[tokio::test]
async fn a_backlog_is_delivered_a_batch_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let storage = bare_storage(dir.path()).await;
    let now = Timestamp::now();
    for key in ["batch-1", "batch-2", "batch-3"] {
        queue_notification(&storage, key, now).await;
    }
    let (port, received) = smtp_sink(0).await;
    let worker = smtp_worker(&storage, port);
    assert_eq!(worker.deliver(now, 2).await.unwrap(), (2, 2));
    assert_eq!(received.lock().unwrap().len(), 2, "no more than asked for");
    assert_eq!(worker.deliver(now, 2).await.unwrap(), (1, 1));
    assert_eq!(worker.deliver(now, 2).await.unwrap(), (0, 0));
    assert_eq!(received.lock().unwrap().len(), 3);
}
